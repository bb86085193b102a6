#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Flags for ``getaddrinfo(host:port:family:type:protocol:flags:)`` (`AI_*`). Never switches; any thread.
public struct AddressInfoFlags: OptionSet, Hashable, Sendable {
    /// The `AI_*` bits.
    public let rawValue: CInt

    /// Wraps `AI_*` bits. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// `AI_PASSIVE`: with no host, answer the wildcard address (for binding) instead of loopback.
    public static let passive = AddressInfoFlags(rawValue: AI_PASSIVE)
    /// `AI_CANONNAME`: report the canonical name in the first answer.
    public static let canonicalName = AddressInfoFlags(rawValue: AI_CANONNAME)
    /// `AI_NUMERICHOST`: the host must be a numeric address; never ask DNS.
    public static let numericHost = AddressInfoFlags(rawValue: AI_NUMERICHOST)
    /// `AI_NUMERICSERV`: the service must be a port number.
    public static let numericService = AddressInfoFlags(rawValue: AI_NUMERICSERV)
    /// `AI_V4MAPPED`: for IPv6 queries, map IPv4 answers when there are no IPv6 ones.
    public static let v4Mapped = AddressInfoFlags(rawValue: AI_V4MAPPED)
    /// `AI_ALL`: with ``v4Mapped``, return both IPv6 and mapped IPv4 answers.
    public static let all = AddressInfoFlags(rawValue: AI_ALL)
    /// `AI_ADDRCONFIG`: only families the host has a configured address for.
    public static let addressConfig = AddressInfoFlags(rawValue: AI_ADDRCONFIG)
}
