#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The kind of a socket: a byte stream, datagrams, or ordered packets. Never switches; any thread.
public enum SocketType: Hashable, Sendable, CustomStringConvertible {
    /// A connected byte stream (`SOCK_STREAM`): TCP, or a Unix stream socket.
    case stream
    /// Datagrams (`SOCK_DGRAM`): UDP, or a Unix datagram socket.
    case datagram
    /// Ordered, reliable packets with boundaries (`SOCK_SEQPACKET`, Unix only on Linux).
    case seqPacket
    /// Raw packets (`SOCK_RAW`); needs privileges.
    case raw

    /// The `SOCK_*` value.
    public var rawValue: CInt {
        switch self {
        case .stream: return CInt(SOCK_STREAM.rawValue)
        case .datagram: return CInt(SOCK_DGRAM.rawValue)
        case .seqPacket: return CInt(SOCK_SEQPACKET.rawValue)
        case .raw: return CInt(SOCK_RAW.rawValue)
        }
    }

    /// The type for a `SOCK_*` value (flags such as `SOCK_NONBLOCK` ignored), or `nil` for others.
    public init?(rawValue: CInt) {
        switch rawValue & 0xF {
        case CInt(SOCK_STREAM.rawValue): self = .stream
        case CInt(SOCK_DGRAM.rawValue): self = .datagram
        case CInt(SOCK_SEQPACKET.rawValue): self = .seqPacket
        case CInt(SOCK_RAW.rawValue): self = .raw
        default: return nil
        }
    }

    /// "SOCK_STREAM", "SOCK_DGRAM", ...
    public var description: String {
        switch self {
        case .stream: return "SOCK_STREAM"
        case .datagram: return "SOCK_DGRAM"
        case .seqPacket: return "SOCK_SEQPACKET"
        case .raw: return "SOCK_RAW"
        }
    }
}
