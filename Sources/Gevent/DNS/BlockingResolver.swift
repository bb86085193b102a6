/// libc's resolver functions called directly, on the calling thread.
///
/// The cheapest resolver, and the only one that is not cooperative: while libc waits for a name server,
/// the whole thread (the hub and every greenlet on it) waits too. Use it where lookups are known to be
/// answered locally (`/etc/hosts`, numeric addresses) or when nothing else runs. gevent's
/// `gevent.resolver.blocking.Resolver`; `GEVENT_RESOLVER=block`.
///
/// Never switches greenlets; any thread.
public final class BlockingResolver: Resolver {
    /// Creates the resolver. Never switches; any thread.
    public init() {}

    /// libc's `getaddrinfo`, blocking the thread. See
    /// ``Resolver/getaddrinfo(host:service:family:type:protocol:flags:)``. Never switches; any thread.
    public func getaddrinfo(
        host: String?,
        service: String?,
        family: AddressFamily,
        type: SocketType?,
        protocol: CInt,
        flags: AddressInfoFlags
    ) throws -> [AddressInfo] {
        try LibcResolution.getaddrinfo(
            host: host,
            service: service,
            family: family,
            type: type,
            protocol: `protocol`,
            flags: flags
        ).get()
    }

    /// The first IPv4 address of `name`, blocking the thread. Never switches; any thread.
    public func gethostbyname(_ name: String) throws -> String {
        try LibcResolution.gethostbyname(name).get()
    }

    /// libc's `gethostbyname_r`, blocking the thread. Never switches; any thread.
    public func gethostbynameEx(_ name: String) throws -> HostEntry {
        try LibcResolution.gethostbynameEx(name).get()
    }

    /// libc's `gethostbyaddr_r`, blocking the thread. Never switches; any thread.
    public func gethostbyaddr(_ address: String) throws -> HostEntry {
        try LibcResolution.gethostbyaddr(address).get()
    }

    /// libc's `getnameinfo`, blocking the thread. Never switches; any thread.
    public func getnameinfo(_ address: SocketAddress, flags: NameInfoFlags) throws -> (host: String, service: String) {
        try LibcResolution.getnameinfo(address, flags: flags).get()
    }

    /// Nothing to release. Never switches; any thread.
    public func close() {}
}
