import CLibev

/// Waits until `fd` is readable (data, end of file, a pending connection, or an error to collect).
///
/// For code that holds a descriptor itself (a pipe, a C library's socket) and needs a cooperative wait:
/// the calling greenlet blocks and the hub runs others until the descriptor is ready. The descriptor should
/// be non-blocking so the read that follows cannot stall the thread. gevent's `wait_read`.
///
/// May switch greenlets. Hub thread only (the calling thread's hub, created if needed); not from inside the
/// hub.
///
/// - Parameters:
///   - fd: the descriptor; it is not closed or otherwise touched.
///   - timeout: the longest to wait; `nil` waits as long as it takes.
/// - Throws: ``SocketTimeoutError`` when `timeout` passes first; what is thrown into the greenlet while it
///   waits (a ``Timeout``, a kill); ``BlockingSwitchOutError`` from inside the hub.
@available(*, noasync, message: "waitReadable blocks the thread's greenlets; it is for greenlet code")
public func waitReadable(_ fd: FileDescriptor, timeout: Duration? = nil) throws {
    try waitForReadiness(fd, events: gevent_EV_READ, operation: "waitReadable", timeout: timeout)
}

/// Waits until `fd` is writable (buffer space, a completed connect, or an error to collect).
///
/// The counterpart of ``waitReadable(_:timeout:)``; gevent's `wait_write`. May switch greenlets. Hub thread
/// only; not from inside the hub.
///
/// - Parameters:
///   - fd: the descriptor; it is not closed or otherwise touched.
///   - timeout: the longest to wait; `nil` waits as long as it takes.
/// - Throws: ``SocketTimeoutError`` when `timeout` passes first; what is thrown into the greenlet while it
///   waits; ``BlockingSwitchOutError`` from inside the hub.
@available(*, noasync, message: "waitWritable blocks the thread's greenlets; it is for greenlet code")
public func waitWritable(_ fd: FileDescriptor, timeout: Duration? = nil) throws {
    try waitForReadiness(fd, events: gevent_EV_WRITE, operation: "waitWritable", timeout: timeout)
}

private func waitForReadiness(
    _ fd: FileDescriptor,
    events: CInt,
    operation: StaticString,
    timeout: Duration?
)
    throws
{
    guard fd.rawValue >= 0 else {
        throw SocketError(code: .badFileDescriptor, operation: "\(operation) on \(fd)")
    }
    let watcher = IOWatcher(hub: Hub.current, fd: fd.rawValue, events: events)
    let outcome = try watcher.wait(operation, subject: "\(operation) on \(fd)", timeout: timeout)
    if outcome == .timedOut, let timeout {
        throw SocketTimeoutError(operation: "\(operation) on \(fd)", timeout: timeout)
    }
}
