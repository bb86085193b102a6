import CGeventShim

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The Swift functions the C interposers (preload/) call, by their C names. The C side has already decided
// that the call may become cooperative and has done the syscalls; these only wait. Each returns a
// GEVENT_SHIM_* code, and GEVENT_SHIM_CANNOT_WAIT whenever no greenlet can wait here (no hub, or the hub
// itself is running), so the interposer falls back to the real blocking call.

/// The hub and the greenlet that would wait, or nil when waiting is impossible.
private func waitingGreenlet() -> (Hub, AnyGreenlet)? {
    guard let hub = Hub.currentIfExists, !hub.isInHub,
        let greenlet = try? hub.blockableGreenlet("a blocking libc call")
    else { return nil }
    return (hub, greenlet)
}

/// What an interposed call reports when an error was thrown into its greenlet while it waited: a
/// ``Timeout`` becomes ETIMEDOUT, anything else (a kill) ECANCELED. The error itself goes to the innermost
/// ``Monkey/runUnaware(_:)`` of the greenlet, which rethrows it once the unaware code returns.
private func interrupted(by error: any Error, in greenlet: AnyGreenlet) -> Int32 {
    ShimGreenletStates.recordInterruption(error, in: greenlet)
    return error is Timeout ? Int32(GEVENT_SHIM_TIMEOUT_ERROR) : Int32(GEVENT_SHIM_CANCELLED)
}

@_cdecl("gevent_shim_hub_context")
func shimHubContext(_ hub: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let hub else { return nil }
    let object = Unmanaged<Hub>.fromOpaque(hub).takeUnretainedValue()
    return object.hubGreenlet.map { UnsafeMutableRawPointer($0.context) }
}

@_cdecl("gevent_shim_wait_fds")
func shimWaitFDs(_ items: UnsafePointer<gevent_shim_wait_item>?, _ count: Int32, _ timeoutNanoseconds: Int64) -> Int32 {
    guard let (hub, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let fds = UnsafeBufferPointer(start: items, count: items == nil ? 0 : Int(count))
    let sequence = greenlet.beginBlock(waitingFor: "a blocking libc call (fd)")
    let wait = ShimWait(hub: hub, greenlet: greenlet, sequence: sequence)
    ShimWaitRegistry.register(wait, fds: fds)
    defer {
        ShimWaitRegistry.unregister(wait, fds: fds)
        wait.stopWatching()
    }
    // Registered first, then the generation checked: a close on another thread either finds this wait in
    // the registry or has already changed the generation (see shim_fd_closing).
    for item in fds where gevent_shim_fd_generation(item.fd) != item.generation {
        return Int32(GEVENT_SHIM_CLOSED)
    }
    for item in fds {
        wait.watch(fd: item.fd, events: item.events)
    }
    if timeoutNanoseconds >= 0 {
        wait.expire(after: timeoutNanoseconds)
    } else if fds.isEmpty {
        // select(0, NULL, NULL, NULL, NULL) and friends: wait until interrupted, keeping the loop alive.
        wait.expire(after: Int64(Int32.max) * 1_000_000_000)
    }
    do {
        try hub.block(greenlet)
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    return wait.outcome
}

@_cdecl("gevent_shim_sleep")
func shimSleep(_ nanoseconds: Int64) -> Int32 {
    guard let (_, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    do {
        try sleep(.nanoseconds(nanoseconds))
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    return Int32(GEVENT_SHIM_READY)
}

@_cdecl("gevent_shim_offload")
func shimOffload(
    _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let function, let (hub, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let sequence = greenlet.beginBlock(waitingFor: "a DNS lookup on a native thread")
    let offload = ShimOffload(function: function, argument: argument, hub: hub, greenlet: greenlet, sequence: sequence)
    // The completion arrives through the hub's (unreferenced) ev_async: hold the loop open meanwhile.
    hub.holdLoopOpen()
    defer { hub.releaseLoopHold() }
    guard offload.start() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    // The worker writes into the caller's buffers, so the call cannot end before it does: an interruption
    // is kept for runUnaware and the wait goes on.
    var interruption: (any Error)?
    while !offload.done {
        do {
            try hub.block(greenlet)
        } catch {
            interruption = interruption ?? error
        }
    }
    if let interruption {
        ShimGreenletStates.recordInterruption(interruption, in: greenlet)
    }
    return Int32(GEVENT_SHIM_READY)
}

@_cdecl("gevent_shim_fd_closing")
func shimFDClosing(_ fd: Int32) {
    ShimWaitRegistry.closing(fd)
}

@_cdecl("gevent_shim_greenlet_buffer")
func shimGreenletBuffer(_ size: Int) -> UnsafeMutableRawPointer? {
    guard let hub = Hub.currentIfExists else { return nil }
    return ShimGreenletStates.buffer(size, for: hub.currentGreenlet)
}
