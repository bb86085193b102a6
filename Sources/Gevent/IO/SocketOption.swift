#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A socket option: a `setsockopt(2)` level and name, for ``Socket/setOption(_:to:)-(_,CInt)`` and
/// ``Socket/option(_:)``.
///
/// The common integer and boolean options are named; any other is `SocketOption(level:name:)`. Never
/// switches; any thread.
public struct SocketOption: Hashable, Sendable, CustomStringConvertible {
    /// The protocol level (`SOL_SOCKET`, `IPPROTO_TCP`, ...).
    public let level: CInt
    /// The option name (`SO_REUSEADDR`, `TCP_NODELAY`, ...).
    public let name: CInt

    /// An option by level and name. Never switches; any thread.
    public init(level: CInt, name: CInt) {
        self.level = level
        self.name = name
    }

    /// `SO_REUSEADDR`: bind a listening port again while old connections linger in `TIME_WAIT`.
    public static let reuseAddress = SocketOption(level: SOL_SOCKET, name: SO_REUSEADDR)
    /// `SO_REUSEPORT`: let several sockets bind the same port (the kernel spreads connections).
    public static let reusePort = SocketOption(level: SOL_SOCKET, name: SO_REUSEPORT)
    /// `SO_KEEPALIVE`: probe idle TCP connections.
    public static let keepAlive = SocketOption(level: SOL_SOCKET, name: SO_KEEPALIVE)
    /// `SO_BROADCAST`: allow datagrams to broadcast addresses.
    public static let broadcast = SocketOption(level: SOL_SOCKET, name: SO_BROADCAST)
    /// `SO_RCVBUF`: the kernel's receive buffer size in bytes.
    public static let receiveBufferSize = SocketOption(level: SOL_SOCKET, name: SO_RCVBUF)
    /// `SO_SNDBUF`: the kernel's send buffer size in bytes.
    public static let sendBufferSize = SocketOption(level: SOL_SOCKET, name: SO_SNDBUF)
    /// `SO_ERROR`: the pending socket error (reading clears it).
    public static let error = SocketOption(level: SOL_SOCKET, name: SO_ERROR)
    /// `TCP_NODELAY`: send small segments at once instead of coalescing them (Nagle's algorithm off).
    public static let noDelay = SocketOption(level: SOL_TCP, name: TCP_NODELAY)
    /// `IPV6_V6ONLY`: an IPv6 socket that does not also accept IPv4-mapped connections.
    public static let ipv6Only = SocketOption(level: CInt(IPPROTO_IPV6), name: IPV6_V6ONLY)

    /// "SOL_SOCKET/2" style: level and name numbers.
    public var description: String { "socket option (level \(level), name \(name))" }
}
