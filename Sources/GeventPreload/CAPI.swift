import CGeventPreloadInit
import CGeventShim
import Gevent
import Logging

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// The C API of preload/include/gevent.h, exported by libGeventPreload.so. Each function documents its
// contract in gevent.h; these are the implementations.

/// What a C greenlet returns: the function's `void *` result, as a plain integer so it can cross the
/// greenlet boundary as a value.
typealias CGreenletResult = UInt

/// `gevent_spawn`: spawns `function(argument)` in a greenlet of the calling thread's hub.
///
/// Never switches; any thread (the greenlet belongs to that thread's hub).
///
/// - Parameters:
///   - function: the C function to run.
///   - argument: passed to `function`.
/// - Returns: a retained handle for ``geventJoin(_:_:)``, or nil with errno EINVAL for a NULL function.
@_cdecl("gevent_spawn")
public func geventSpawn(
    _ function: (@convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?)?,
    _ argument: UnsafeMutableRawPointer?
) -> OpaquePointer? {
    guard let function else {
        errno = EINVAL
        return nil
    }
    let argumentBits = UInt(bitPattern: argument)
    let greenlet = spawn { () -> CGreenletResult in
        UInt(bitPattern: function(UnsafeMutableRawPointer(bitPattern: argumentBits)))
    }
    return OpaquePointer(Unmanaged.passRetained(greenlet).toOpaque())
}

/// `gevent_join`: waits for a greenlet from ``geventSpawn(_:_:)`` and releases its handle.
///
/// May switch greenlets; the thread that spawned it.
///
/// - Parameters:
///   - handle: from `gevent_spawn`.
///   - result: receives the function's return value, if not NULL.
/// - Returns: 0, EINVAL, EDEADLK, ECANCELED or ETIMEDOUT (see gevent.h).
@_cdecl("gevent_join")
public func geventJoin(_ handle: OpaquePointer?, _ result: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32 {
    guard let handle else { return EINVAL }
    let greenlet = Unmanaged<Greenlet<CGreenletResult>>.fromOpaque(UnsafeRawPointer(handle)).takeRetainedValue()
    if greenlet === getCurrent() {
        return EDEADLK
    }
    do {
        try greenlet.join()
    } catch {
        return errorCode(error)
    }
    result?.pointee = UnsafeMutableRawPointer(bitPattern: greenlet.value ?? 0)
    return 0
}

/// `gevent_sleep`: a cooperative sleep of `seconds` (0 yields).
///
/// May switch greenlets; from a greenlet of any thread (not from inside the hub).
///
/// - Returns: 0, or ECANCELED/ETIMEDOUT when interrupted.
@_cdecl("gevent_sleep")
public func geventSleep(_ seconds: Double) -> Int32 {
    do {
        try sleep(seconds > 0 ? .nanoseconds(Int64(min(seconds, 1e9) * 1e9)) : .zero)
    } catch {
        return errorCode(error)
    }
    return 0
}

/// `gevent_run`: runs the hub until nothing is left to do.
///
/// May switch greenlets; from the main greenlet of any thread.
///
/// - Returns: 0, EPERM from another greenlet, or ECANCELED/ETIMEDOUT when interrupted.
@_cdecl("gevent_run")
public func geventRun() -> Int32 {
    let hub = Hub.current
    guard getCurrent() === hub.mainGreenlet else { return EPERM }
    do {
        try hub.join()
    } catch {
        return errorCode(error)
    }
    return 0
}

/// `gevent_patch`: patches the named areas.
///
/// Never switches; any thread.
///
/// - Parameter areas: an area list as ``MonkeyArea/parseList(_:)`` reads it: "all", "none" or names.
/// - Returns: 0, or EINVAL when a name is unknown (reported through GeventLogging.logger; the others are patched).
@_cdecl("gevent_patch")
public func geventPatch(_ areas: UnsafePointer<CChar>?) -> Int32 {
    guard let areas else { return EINVAL }
    let list = MonkeyArea.parseList(String(cString: areas))
    for area in list.areas {
        Monkey.patch(area)
    }
    for name in list.unknown {
        GeventLogging.logger.warning(
            "\(MonkeyArea.unknownAreaMessage(name, in: "gevent_patch"))",
            metadata: ["gevent-report": "warning"]
        )
    }
    return list.unknown.isEmpty ? 0 : EINVAL
}

private func errorCode(_ error: any Error) -> Int32 {
    error is Timeout ? ETIMEDOUT : ECANCELED
}

/// Keeps the constructor's object file in the library (nothing else refers to it).
@_cdecl("gevent_preload_is_configured")
public func geventPreloadIsConfigured() -> Int32 {
    Int32(gevent_preload_configured())
}
