import CGeventShim
import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Waits until at least one of `readable` can be read or one of `writable` can be written, cooperatively.
///
/// gevent's `select.select` without the exceptional list: a native non-blocking check first; if something
/// is ready already, or `timeout` is zero, the greenlet yields once (like ``sleep(_:)`` with `.zero`) and
/// returns what was ready; otherwise it waits on the hub with one watcher per descriptor. May switch
/// greenlets. Hub thread only; not from inside the hub.
///
/// - Parameters:
///   - readable: descriptors to watch for reading.
///   - writable: descriptors to watch for writing.
///   - timeout: the longest to wait; `nil` waits as long as it takes; `.zero` only checks.
/// - Returns: the ready descriptors of each list, in the order given; both empty when `timeout` passed.
/// - Throws: ``SocketError`` with ``Errno/badFileDescriptor`` naming a descriptor that is not open;
///   ``SocketError`` with ``Errno/invalidArgument`` for a negative timeout; what is thrown into the greenlet
///   while it waits; ``BlockingSwitchOutError`` from inside the hub.
@available(*, noasync, message: "select blocks the thread's greenlets; it is for greenlet code")
public func select(
    readable: [FileDescriptor],
    writable: [FileDescriptor],
    timeout: Duration? = nil
) throws
    -> (readable: [FileDescriptor], writable: [FileDescriptor])
{
    var interests: [pollfd] = []
    interests.reserveCapacity(readable.count + writable.count)
    for fd in readable {
        interests.append(pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0))
    }
    for fd in writable {
        interests.append(pollfd(fd: fd.rawValue, events: Int16(POLLOUT), revents: 0))
    }
    let results = try pollCooperatively(&interests, timeout: timeout, operation: "select")
    var readyToRead: [FileDescriptor] = []
    var readyToWrite: [FileDescriptor] = []
    for (index, entry) in results.enumerated() where entry.revents != 0 {
        if entry.revents & Int16(POLLNVAL) != 0 {
            throw SocketError(code: .badFileDescriptor, operation: "select on fd \(entry.fd)")
        }
        // POLLERR/POLLHUP count as ready: the read or write that follows reports the condition, as select(2)
        // does.
        if index < readable.count {
            readyToRead.append(FileDescriptor(entry.fd))
        } else {
            readyToWrite.append(FileDescriptor(entry.fd))
        }
    }
    return (readyToRead, readyToWrite)
}

/// Waits until at least one descriptor reports one of the events asked for, cooperatively.
///
/// gevent's `select.poll().poll()`: like ``select(readable:writable:timeout:)``, but a descriptor that is
/// not open is reported with ``PollEvents/invalid`` instead of throwing, and errors and hang-ups are
/// reported as such. May switch greenlets. Hub thread only; not from inside the hub.
///
/// - Parameters:
///   - interests: each descriptor with the events to wait for (``PollEvents/readable``,
///     ``PollEvents/writable``).
///   - timeout: the longest to wait; `nil` waits as long as it takes; `.zero` only checks.
/// - Returns: the descriptors with something to report, and what; empty when `timeout` passed.
/// - Throws: ``SocketError`` with ``Errno/invalidArgument`` for a negative timeout; what is thrown into the
///   greenlet while it waits; ``BlockingSwitchOutError`` from inside the hub.
@available(*, noasync, message: "poll blocks the thread's greenlets; it is for greenlet code")
public func poll(
    _ interests: [FileDescriptor: PollEvents],
    timeout: Duration? = nil
) throws
    -> [FileDescriptor: PollEvents]
{
    var entries = interests.map { fd, events in
        pollfd(fd: fd.rawValue, events: events.intersection([.readable, .writable]).rawValue, revents: 0)
    }
    let results = try pollCooperatively(&entries, timeout: timeout, operation: "poll")
    var ready: [FileDescriptor: PollEvents] = [:]
    for entry in results where entry.revents != 0 {
        ready[FileDescriptor(entry.fd)] = PollEvents(rawValue: entry.revents)
    }
    return ready
}

/// The engine of select and poll: a native zero-timeout `poll(2)`, then, if nothing is ready, a
/// ``DescriptorWait`` on every descriptor until one fires, one is closed, or the timeout passes, then a
/// native check again for exact results (a closed descriptor shows as `POLLNVAL`).
private func pollCooperatively(
    _ entries: inout [pollfd],
    timeout: Duration?,
    operation: StaticString
) throws
    -> [pollfd]
{
    let hub = Hub.current
    try hub.checkThread(operation)
    if let timeout, timeout < .zero {
        throw SocketError(
            code: .invalidArgument,
            operation: "\(operation) with timeout \(timeout)",
            reason: "timeout must be zero or positive"
        )
    }
    if try pollNow(&entries, operation: operation) || timeout == .zero {
        try sleep(.zero)
        return entries
    }
    var interests: [gevent_shim_wait_item] = []
    interests.reserveCapacity(entries.count)
    for entry in entries {
        var events: CInt = 0
        if entry.events & Int16(POLLIN) != 0 { events |= gevent_EV_READ }
        if entry.events & Int16(POLLOUT) != 0 { events |= gevent_EV_WRITE }
        if events != 0 {
            interests.append(gevent_shim_wait_item(fd: entry.fd, events: events, generation: 0))
        }
    }
    let deadline = timeout.map { ContinuousClock.now + $0 }
    while true {
        let outcome = try interests.withUnsafeBufferPointer { buffer in
            try DescriptorWait.wait(
                for: buffer,
                checkGenerations: false,
                timeout: deadline.map { $0 - ContinuousClock.now },
                operation: operation
            )
        }
        if try pollNow(&entries, operation: operation) || outcome == .timedOut {
            return entries
        }
        // Woken without anything to report (the condition went away again): wait for the rest of the time.
        if let deadline, ContinuousClock.now >= deadline {
            return entries
        }
    }
}

/// One native `poll(2)` with a zero timeout; `true` if anything was reported.
private func pollNow(_ entries: inout [pollfd], operation: StaticString) throws -> Bool {
    for index in entries.indices { entries[index].revents = 0 }
    let count = try entries.withUnsafeMutableBufferPointer { buffer in
        try nonBlockingSystemCall("\(operation)") {
            Glibc.poll(buffer.baseAddress, nfds_t(buffer.count), 0)
        }
    }
    return count > 0
}
