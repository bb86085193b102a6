/// One answer of ``getaddrinfo(host:port:family:type:protocol:flags:)``: an address to connect or bind to,
/// with the socket family, type and protocol to use. A value type; any thread.
public struct AddressInfo: Hashable, Sendable, CustomStringConvertible {
    /// The address family (``AddressFamily/inet`` or ``AddressFamily/inet6``).
    public var family: AddressFamily
    /// The socket type the address is for; `nil` when the resolver reported a type this package does not
    /// model.
    public var type: SocketType?
    /// The protocol number (`IPPROTO_TCP`, `IPPROTO_UDP`, or 0).
    public var protocolNumber: CInt
    /// The canonical name, when ``AddressInfoFlags/canonicalName`` was asked for (first answer only).
    public var canonicalName: String?
    /// The address, with the port filled in.
    public var address: SocketAddress

    /// Creates an answer. Never switches; any thread.
    public init(
        family: AddressFamily,
        type: SocketType?,
        protocolNumber: CInt,
        canonicalName: String? = nil,
        address: SocketAddress
    ) {
        self.family = family
        self.type = type
        self.protocolNumber = protocolNumber
        self.canonicalName = canonicalName
        self.address = address
    }

    /// "AF_INET SOCK_STREAM proto 6 127.0.0.1:80".
    public var description: String {
        let type = type.map { "\($0)" } ?? "(any type)"
        let name = canonicalName.map { " canonical \($0)" } ?? ""
        return "\(family) \(type) proto \(protocolNumber) \(address)\(name)"
    }
}
