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
    guard let (_, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let interests = UnsafeBufferPointer(start: items, count: items == nil ? 0 : Int(count))
    let outcome: DescriptorWait.Outcome
    do {
        outcome = try DescriptorWait.wait(
            for: interests,
            checkGenerations: true,
            timeout: timeoutNanoseconds >= 0 ? .nanoseconds(timeoutNanoseconds) : nil,
            operation: "a blocking libc call (fd)",
            interruptibleBySignals: true
        )
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    switch outcome {
    case .ready: return Int32(GEVENT_SHIM_READY)
    case .timedOut: return Int32(GEVENT_SHIM_TIMED_OUT)
    case .closed: return Int32(GEVENT_SHIM_CLOSED)
    case .interrupted: return Int32(GEVENT_SHIM_INTERRUPTED)
    }
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

/// Runs a C function on the hub's ``ThreadPool`` while the calling greenlet waits (the DNS area's
/// lookups): GEVENT_SHIM_READY once it ran; GEVENT_SHIM_CANCELLED or GEVENT_SHIM_TIMEOUT_ERROR when an error
/// was thrown into the greenlet before a pool thread took the call, which then never runs.
@_cdecl("gevent_shim_offload")
func shimOffload(
    _ function: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let function, let (hub, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    let call = UnsafeTransfer(value: argument)
    let result: AsyncResult<Void>
    do {
        result = try hub.threadPool.spawn { function(call.value) }
    } catch {
        return interrupted(by: error, in: greenlet)
    }
    // The pool thread writes into the caller's buffers, so the call cannot end before it does: an
    // interruption is kept for runUnaware and the wait goes on.
    var interruption: (any Error)?
    while !result.isReady {
        do {
            try result.wait()
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
    DescriptorWait.closing(fd)
}

@_cdecl("gevent_shim_greenlet_buffer")
func shimGreenletBuffer(_ size: Int) -> UnsafeMutableRawPointer? {
    guard let hub = Hub.currentIfExists else { return nil }
    return ShimGreenletStates.buffer(size, for: hub.currentGreenlet)
}
