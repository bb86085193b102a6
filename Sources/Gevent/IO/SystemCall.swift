#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The one path every socket system call takes (STYLE rule 1).
///
/// Runs `call` and reads `errno` at once, before anything can allocate or switch:
/// - a result other than -1 is returned;
/// - `EINTR` retries the call;
/// - `EAGAIN`/`EWOULDBLOCK` (and `alsoWouldBlock`, for example `EINPROGRESS` for connect) returns `nil`:
///   the caller then waits on the hub and tries again;
/// - any other errno throws a ``SocketError`` carrying it and `operation`, which is only evaluated then, so
///   the success path builds no strings.
///
/// Never switches; any thread.
@inline(__always)
func systemCall<T: FixedWidthInteger>(
    _ operation: @autoclosure () -> String,
    alsoWouldBlock: CInt = EAGAIN,
    _ call: () -> T
) throws(SocketError) -> T? {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK || code == alsoWouldBlock { return nil }
        throw SocketError(code: Errno(rawValue: code), operation: operation())
    }
}

/// Like ``systemCall(_:alsoWouldBlock:_:)`` for calls that cannot block (bind, listen, setsockopt): any
/// failure, `EAGAIN` included, is thrown. Never switches; any thread.
@inline(__always)
func nonBlockingSystemCall<T: FixedWidthInteger>(
    _ operation: @autoclosure () -> String,
    _ call: () -> T
) throws(SocketError) -> T {
    while true {
        let result = call()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SocketError(code: Errno(rawValue: code), operation: operation())
    }
}
