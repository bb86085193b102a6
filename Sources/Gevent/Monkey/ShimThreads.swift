import CGeventShim
import CGreenlet
import GeventSettings

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The Swift half of the `thread` area (preload/shim_thread.c): greenlets for patched pthreads, and the
// parking of a greenlet that waits on a word (a join; the locks built on the same wait).

/// Starts a greenlet of the calling thread's hub, creating the hub if the thread has none (the main thread
/// of an unaware program, at its first pthread_create), that runs `gevent_shim_thread_main(record)` on a
/// stack of `stackSize` bytes mapped now. Returns 0, or the errno of a stack that could not be mapped.
@_cdecl("gevent_shim_thread_spawn")
func shimThreadSpawn(
    _ record: UnsafeMutableRawPointer?,
    _ stackSize: Int,
    _ name: UnsafePointer<CChar>?,
    _ context: UnsafeMutablePointer<UnsafeMutablePointer<cgreenlet_t>?>?
) -> Int32 {
    let hub = Hub.current
    let recordBits = UInt(bitPattern: record)
    let greenlet = Greenlet<Void>(
        name: name.map { String(cString: $0) },
        stackSize: max(stackSize, Setting.minimumStackSize)
    ) {
        gevent_shim_thread_main(UnsafeMutableRawPointer(bitPattern: recordBits))
    }
    let status = hub.mapStack(of: greenlet)
    guard status == 0 else { return status }
    greenlet.context.pointee.thread_record = record
    context?.pointee = greenlet.context
    greenlet.start()
    return 0
}

/// Fills in what wakes the calling greenlet from a park it is about to begin: READY, or CANNOT_WAIT where
/// no greenlet can wait (the hub itself), and the caller waits as an OS thread.
@_cdecl("gevent_shim_park_prepare")
func shimParkPrepare(_ token: UnsafeMutablePointer<gevent_shim_park_token>?) -> Int32 {
    guard let token, let (hub, greenlet) = waitingGreenlet() else { return Int32(GEVENT_SHIM_CANNOT_WAIT) }
    token.pointee.hub = Unmanaged.passUnretained(hub).toOpaque()
    token.pointee.greenlet = Unmanaged.passUnretained(greenlet).toOpaque()
    token.pointee.sequence = greenlet.beginBlock(waitingFor: "a pthread wait")
    return Int32(GEVENT_SHIM_READY)
}

/// Parks the greenlet that prepared `token` until ``shimUnpark(_:)`` or `timeoutNanoseconds` (negative:
/// none). A park ends only so: what waits on a word (a join, a lock) cannot fail, so an error thrown into
/// the greenlet (a kill, a Timeout) is kept for ``Monkey/runUnaware(_:)`` and the park ends as if woken,
/// for the caller to check its word and park again. The loop is held open meanwhile: the waker may be an
/// OS thread.
@_cdecl("gevent_shim_park")
func shimPark(_ token: UnsafeMutablePointer<gevent_shim_park_token>?, _ timeoutNanoseconds: Int64) -> Int32 {
    guard let token, let hubPointer = token.pointee.hub, let greenletPointer = token.pointee.greenlet else {
        return Int32(GEVENT_SHIM_CANNOT_WAIT)
    }
    let hub = Unmanaged<Hub>.fromOpaque(hubPointer).takeUnretainedValue()
    let greenlet = Unmanaged<AnyGreenlet>.fromOpaque(greenletPointer).takeUnretainedValue()
    hub.holdLoopOpen()
    defer { hub.releaseLoopHold() }
    do {
        try hub.block(greenlet, timeout: timeoutNanoseconds >= 0 ? .nanoseconds(timeoutNanoseconds) : nil)
    } catch {
        ShimGreenletStates.recordInterruption(error, in: greenlet)
    }
    return Int32(GEVENT_SHIM_READY)
}

/// Wakes the greenlet parked with `token`, from any thread: on its hub's next loop iteration. Called under
/// the lock that keeps the parked greenlet in its park, so both objects are alive here; the wake retains
/// them.
@_cdecl("gevent_shim_unpark")
func shimUnpark(_ token: UnsafePointer<gevent_shim_park_token>?) {
    guard let token, let hubPointer = token.pointee.hub, let greenletPointer = token.pointee.greenlet else { return }
    let hub = Unmanaged<Hub>.fromOpaque(hubPointer).takeUnretainedValue()
    let greenlet = Unmanaged<AnyGreenlet>.fromOpaque(greenletPointer).takeUnretainedValue()
    let sequence = token.pointee.sequence
    if hub.isOnHubThread {
        hub.runCallback { hub.resume(greenlet, sequence: sequence) }
    } else {
        let parked = UnsafeTransfer(value: (hub, greenlet))
        hub.runThreadsafe { parked.value.0.resume(parked.value.1, sequence: sequence) }
    }
}
