#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Creates a pair of connected Unix-domain sockets (`socketpair(2)`): what one sends, the other receives.
///
/// gevent's `socket.socketpair`. Never switches; both sockets belong to the calling thread's hub.
///
/// - Parameter type: ``SocketType/stream`` (default), ``SocketType/datagram`` or ``SocketType/seqPacket``.
/// - Returns: the two ends.
/// - Throws: ``SocketError`` (``Errno/tooManyOpenFiles``, ...).
public func socketPair(type: SocketType = .stream) throws -> (Socket, Socket) {
    var fds: [CInt] = [-1, -1]
    let flags = CInt(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
    _ = try nonBlockingSystemCall("socketpair(AF_UNIX, \(type))") {
        socketpair(AF_UNIX, type.rawValue | flags, 0, &fds)
    }
    return (
        Socket(ownedNonBlocking: fds[0], family: .unix, type: type),
        Socket(ownedNonBlocking: fds[1], family: .unix, type: type)
    )
}
