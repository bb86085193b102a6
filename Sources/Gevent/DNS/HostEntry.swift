/// A host's names and addresses, as ``gethostbynameEx(_:)`` and ``gethostbyaddr(_:)`` report them
/// (gevent's `(hostname, aliaslist, ipaddrlist)` triple). A value type; any thread.
public struct HostEntry: Hashable, Sendable, CustomStringConvertible {
    /// The official (canonical) name.
    public var name: String
    /// Other names of the host.
    public var aliases: [String]
    /// The addresses, as numeric text ("127.0.0.1", "::1").
    public var addresses: [String]

    /// Creates an entry. Never switches; any thread.
    public init(name: String, aliases: [String], addresses: [String]) {
        self.name = name
        self.aliases = aliases
        self.addresses = addresses
    }

    /// "name (aliases: a, b) [1.2.3.4, 5.6.7.8]".
    public var description: String {
        let aliases = aliases.isEmpty ? "" : " (aliases: \(aliases.joined(separator: ", ")))"
        return "\(name)\(aliases) [\(addresses.joined(separator: ", "))]"
    }
}
