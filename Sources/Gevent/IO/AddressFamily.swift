#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The address family of a socket or an address. Never switches; any thread.
public enum AddressFamily: Hashable, Sendable, CustomStringConvertible {
    /// IPv4 (`AF_INET`).
    case inet
    /// IPv6 (`AF_INET6`).
    case inet6
    /// Unix-domain sockets (`AF_UNIX`): a path in the file system, or an abstract name.
    case unix
    /// Any family (`AF_UNSPEC`), for ``getaddrinfo(host:port:family:type:protocol:flags:)``.
    case unspecified

    /// The `AF_*` value.
    public var rawValue: CInt {
        switch self {
        case .inet: return AF_INET
        case .inet6: return AF_INET6
        case .unix: return AF_UNIX
        case .unspecified: return AF_UNSPEC
        }
    }

    /// The family for an `AF_*` value, or `nil` for families this package does not handle.
    public init?(rawValue: CInt) {
        switch rawValue {
        case AF_INET: self = .inet
        case AF_INET6: self = .inet6
        case AF_UNIX: self = .unix
        case AF_UNSPEC: self = .unspecified
        default: return nil
        }
    }

    /// "AF_INET", "AF_INET6", "AF_UNIX", "AF_UNSPEC".
    public var description: String {
        switch self {
        case .inet: return "AF_INET"
        case .inet6: return "AF_INET6"
        case .unix: return "AF_UNIX"
        case .unspecified: return "AF_UNSPEC"
        }
    }
}
