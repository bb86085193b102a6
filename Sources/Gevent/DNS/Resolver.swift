/// A name resolver: what ``getaddrinfo(host:port:family:type:protocol:flags:)`` and the other
/// module-level DNS functions use, through ``Hub/resolver``.
///
/// Three implementations, as in gevent (`GEVENT_RESOLVER=thread|ares|block`):
/// - ``ThreadResolver`` (the default): libc's functions on native threads; full NSS and `/etc/hosts`
///   fidelity; the calling greenlet waits cooperatively.
/// - ``AresResolver``: c-ares driven by the hub's event loop; no threads; its answers differ from libc's
///   in the places gevent documents (ordering, aliases, NSS sources other than files and DNS).
/// - ``BlockingResolver``: libc's functions called directly; blocks the whole thread (every greenlet)
///   while a query runs; the least overhead.
///
/// All report failures as ``ResolverError`` with libc's `EAI_*` codes and texts. Resolvers are bound to
/// their hub: call them on its thread, from a greenlet (not from inside the hub). The query methods may
/// switch greenlets.
public protocol Resolver: AnyObject {
    /// Resolves a host and service into addresses to connect or bind to (`getaddrinfo(3)`).
    ///
    /// - Parameters:
    ///   - host: a name or numeric address; `nil` for the local wildcard (with ``AddressInfoFlags/passive``)
    ///     or loopback.
    ///   - service: a port number or service name ("80", "http"); `nil` leaves the port 0.
    ///   - family: ``AddressFamily/inet``, ``AddressFamily/inet6``, or ``AddressFamily/unspecified`` for both.
    ///   - type: the socket type; `nil` answers every type (libc's `0`).
    ///   - protocol: the protocol number; 0 for any.
    ///   - flags: `AI_*` flags.
    /// - Returns: the answers, in the resolver's order (libc's order for the libc resolvers).
    /// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
    func getaddrinfo(
        host: String?,
        service: String?,
        family: AddressFamily,
        type: SocketType?,
        protocol: CInt,
        flags: AddressInfoFlags
    ) throws -> [AddressInfo]

    /// The first IPv4 address of `name`, as text; a numeric IPv4 address is returned as it is.
    ///
    /// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
    func gethostbyname(_ name: String) throws -> String

    /// The official name, aliases and IPv4 addresses of `name` (`gethostbyname_r(3)`).
    ///
    /// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
    func gethostbynameEx(_ name: String) throws -> HostEntry

    /// The names of the host at `address` (numeric IPv4 or IPv6, or a name, which is resolved first)
    /// (`gethostbyaddr_r(3)`).
    ///
    /// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
    func gethostbyaddr(_ address: String) throws -> HostEntry

    /// The host name and service name of a socket address (`getnameinfo(3)`).
    ///
    /// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
    func getnameinfo(_ address: SocketAddress, flags: NameInfoFlags) throws -> (host: String, service: String)

    /// Releases the resolver's resources (threads stay shared; c-ares's channel is destroyed, and queries in
    /// flight fail). Never switches; hub thread only.
    func close()
}
