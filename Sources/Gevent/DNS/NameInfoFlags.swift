#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Flags for ``getnameinfo(_:flags:)`` (`NI_*`). Never switches; any thread.
public struct NameInfoFlags: OptionSet, Hashable, Sendable {
    /// The `NI_*` bits.
    public let rawValue: CInt

    /// Wraps `NI_*` bits. Never switches; any thread.
    public init(rawValue: CInt) {
        self.rawValue = rawValue
    }

    /// `NI_NUMERICHOST`: the host as a number, no reverse lookup.
    public static let numericHost = NameInfoFlags(rawValue: NI_NUMERICHOST)
    /// `NI_NUMERICSERV`: the port as a number, no service name.
    public static let numericService = NameInfoFlags(rawValue: NI_NUMERICSERV)
    /// `NI_NAMEREQD`: fail if the host has no name (instead of answering the number).
    public static let nameRequired = NameInfoFlags(rawValue: NI_NAMEREQD)
    /// `NI_NOFQDN`: only the host part of local names.
    public static let noFullyQualifiedDomain = NameInfoFlags(rawValue: NI_NOFQDN)
    /// `NI_DGRAM`: look the service up as UDP rather than TCP.
    public static let datagram = NameInfoFlags(rawValue: NI_DGRAM)
}
