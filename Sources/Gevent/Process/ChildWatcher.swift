import CGeventIO
import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Waits for one child process to end and reaps it, on the loop of the hub that started it.
///
/// One mechanism on every hub: a pidfd (`pidfd_open(2)`) becomes readable when the process exits, so the
/// hub's ordinary ``IOWatcher`` sees it, and `waitid(P_PIDFD)` (Linux 5.4+) reaps exactly that child. No
/// SIGCHLD handler is installed and nothing calls `waitpid(-1)`, so children started by other hubs, other
/// threads or code that knows nothing of us keep their exit status. (libev's `ev_child` needs its default
/// loop, whose SIGCHLD handler reaps every child of the process.)
///
/// While the child runs, the watcher's callback keeps this object alive (a deliberate cycle, broken when the
/// child is reaped), so a ``Subprocess`` that is dropped early still has its child reaped, as gevent's loop
/// keeps its child watchers. The watcher is referenced: a running child keeps ``Hub/join(timeout:)``
/// waiting, as in gevent. Hub thread only.
final class ChildWatcher {
    let hub: Hub
    let processID: pid_t
    /// Set once the child has been reaped (or found lost).
    let exited = Event()
    private(set) var status: TerminationStatus?
    /// Why the status can never be known: another `waitpid` in this process reaped the child first, or this
    /// is a forked copy of the process that started it.
    private(set) var lost: SubprocessError?
    private var pidfd: CInt
    private var watcher: IOWatcher?

    init(hub: Hub, processID: pid_t) throws(SubprocessError) {
        let pidfd = gevent_pidfd_open(processID)
        guard pidfd >= 0 else {
            throw SubprocessError(operation: "pidfd_open for pid \(processID)", code: Errno(rawValue: errno))
        }
        self.hub = hub
        self.processID = processID
        self.pidfd = pidfd
        let watcher = IOWatcher(hub: hub, fd: pidfd, events: gevent_EV_READ) { _ in
            self.reap()
        }
        self.watcher = watcher
        watcher.start()
        hub.beforeDestroyHooks[ObjectIdentifier(self)] = { [unowned self] in
            self.stopWatching()
        }
    }

    deinit {
        if pidfd >= 0 { Glibc.close(pidfd) }
    }

    /// Reaps the child if it has exited; never blocks. Returns `true` once the outcome is known.
    @discardableResult
    func reap() -> Bool {
        guard status == nil, lost == nil, pidfd >= 0 else { return true }
        var kind: CInt = 0
        var value: CInt = 0
        var result: CInt
        repeat {
            result = gevent_wait_pidfd(pidfd, 1, &kind, &value)
        } while result < 0 && errno == EINTR
        switch result {
        case 0:
            return false
        case 1:
            status = kind == 0 ? .exited(code: value) : .signaled(Signal(rawValue: value), coreDumped: kind == 2)
        default:
            let code = errno
            lost = SubprocessError(
                operation: "wait for pid \(processID)",
                code: Errno(rawValue: code),
                reason: code == ECHILD
                    ? "not a child of this process any more: another waitpid reaped it, or this is a forked copy "
                        + "of the process that started it"
                    : nil
            )
        }
        stopWatching()
        exited.set()
        return true
    }

    /// Sends `signal` through the pidfd, which cannot hit another process that reused the number. Does
    /// nothing once the child has been reaped.
    func send(_ signal: Signal) throws(SubprocessError) {
        guard status == nil, lost == nil, pidfd >= 0 else { return }
        guard gevent_pidfd_send_signal(pidfd, signal.rawValue) == 0 else {
            let code = errno
            // The child has exited and waits to be reaped: signalling a zombie is not an error.
            if code == ESRCH { return }
            throw SubprocessError(operation: "send \(signal) to pid \(processID)", code: Errno(rawValue: code))
        }
    }

    /// Stops the watcher (breaking the cycle that keeps this object alive) and closes the pidfd.
    private func stopWatching() {
        hub.beforeDestroyHooks[ObjectIdentifier(self)] = nil
        if let retired = watcher {
            retired.stopIfLoopAlive()
            retired.handler = nil
            watcher = nil
            // Usually called from the watcher's own callback: it is freed on the next callback round, not
            // while libev is still inside it.
            if hub.isOnHubThread && !hub.isDestroyed { hub.enqueue(.closure { _ = retired }) }
        }
        if pidfd >= 0 {
            Glibc.close(pidfd)
            pidfd = -1
        }
    }
}
