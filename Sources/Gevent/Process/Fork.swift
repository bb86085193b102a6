#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Forks the process and makes the calling thread's hub work in the child: gevent's `gevent.fork()`
/// (`fork_and_watch`).
///
/// ```swift
/// if let child = try fork() {
///     try child.wait(timeout: .seconds(5))        // the parent: the child is a Subprocess without pipes
/// } else {
///     try serveOneRequest(on: listener)           // the child: the hub is re-initialised
///     _exit(0)
/// }
/// ```
///
/// In the child, ``reinit()`` has already run. What carries over, as in gevent:
/// - Greenlets other than the caller exist in the child too and keep running whenever the child's hub
///   runs (gevent's documented behaviour; people fork on purpose with greenlets started). Kill the ones the
///   child must not run, or fork before starting them.
/// - Sockets, pipes, timers and watchers of the calling thread's hub are shared copies: the child's loop
///   re-registers them with a fresh epoll descriptor on its next iteration.
/// - Only the calling thread exists in the child. Other threads' hubs, and their greenlets, are gone; the
///   hub's ``ThreadPool`` starts new worker threads on demand, and tasks that were running on the
///   parent's workers fail with ``GreenletExit`` in the child.
/// - Children of the parent are not the child's children: waiting for a ``Subprocess`` the parent started
///   throws ``SubprocessError`` (`ECHILD`) in the child.
/// - The ``Monitor`` thread, if it ran, does not exist in the child.
///
/// The child should end with `_exit` (or `exit`) rather than return into code that expects the parent's
/// threads. Never switches. Call it from a greenlet of the thread whose hub the child should use.
///
/// - Returns: in the parent, the child as a ``Subprocess`` (wait for it, signal it); in the child, `nil`.
/// - Throws: ``SubprocessError`` if `fork(2)` fails (`EAGAIN`, `ENOMEM`) or the parent cannot watch the
///   child.
public func fork() throws -> Subprocess? {
    let hub = Hub.current
    let processID = Glibc.fork()
    if processID < 0 {
        throw SubprocessError(operation: "fork", code: Errno(rawValue: errno))
    }
    if processID == 0 {
        reinit()
        return nil
    }
    return try Subprocess(forkedChild: processID, hub: hub)
}

/// Prepares the calling thread's hub for use in a child process, after a `fork(2)` that did not go
/// through ``fork()`` (a C library's, or `forkpty`): gevent's `gevent.reinit()`.
///
/// The loop is told about the fork (`ev_loop_fork`: a fresh epoll descriptor and re-registered watchers on
/// the next iteration), locks that threads which do not exist in the child may have held are
/// re-initialised, and the ``ThreadPool`` forgets the parent's worker threads (new ones start on demand;
/// tasks that were running fail with ``GreenletExit``). Greenlets are left as they are (see ``fork()``).
/// Calling it without a fork, or on a thread without a hub, is harmless. Never switches; call it in the
/// child, on the thread that forked.
public func reinit() {
    Hub.currentIfExists?.reinitializeAfterFork()
}
