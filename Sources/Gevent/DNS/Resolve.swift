/// Resolves a host and port into addresses to connect or bind to, with the hub's resolver.
///
/// ```swift
/// for answer in try getaddrinfo(host: "localhost", port: 80, type: .stream) {
///     print(answer.address)          // 127.0.0.1:80, [::1]:80 ...
/// }
/// ```
///
/// gevent's `socket.getaddrinfo`; uses ``Hub/resolver`` (the thread resolver unless `GEVENT_RESOLVER`
/// says otherwise). May switch greenlets. Hub thread only (the calling thread's hub); not from inside the
/// hub.
///
/// - Parameters:
///   - host: a name or numeric address; `nil` for the wildcard (with ``AddressInfoFlags/passive``) or
///     loopback.
///   - port: the port to put in the addresses; `nil` leaves it 0.
///   - family: ``AddressFamily/unspecified`` (default) for IPv4 and IPv6, or one of them.
///   - type: the socket type; `nil` (default) answers every type, as libc does.
///   - protocol: the protocol number; 0 for any.
///   - flags: `AI_*` flags.
/// - Returns: the answers, in the resolver's order.
/// - Throws: ``ResolverError`` (with the name and libc's text); ``ResolverError/Code/serviceNotFound`` for a
///   port outside 0...65535; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "getaddrinfo blocks the thread's greenlets; it is for greenlet code")
public func getaddrinfo(
    host: String?,
    port: Int? = nil,
    family: AddressFamily = .unspecified,
    type: SocketType? = nil,
    protocol: CInt = 0,
    flags: AddressInfoFlags = []
) throws -> [AddressInfo] {
    if let port, !(0...65535).contains(port) {
        throw ResolverError(
            code: .serviceNotFound,
            operation: "getaddrinfo",
            name: host ?? "",
            message: "port \(port) is outside 0...65535"
        )
    }
    return try Hub.current.resolver.getaddrinfo(
        host: host,
        service: port.map { String($0) },
        family: family,
        type: type,
        protocol: `protocol`,
        flags: flags.union(port == nil ? [] : .numericService)
    )
}

/// Resolves a host and a service name or port text ("http", "8080") with the hub's resolver.
///
/// As ``getaddrinfo(host:port:family:type:protocol:flags:)``, for services given by name. May switch
/// greenlets. Hub thread only; not from inside the hub.
///
/// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "getaddrinfo blocks the thread's greenlets; it is for greenlet code")
public func getaddrinfo(
    host: String?,
    service: String?,
    family: AddressFamily = .unspecified,
    type: SocketType? = nil,
    protocol: CInt = 0,
    flags: AddressInfoFlags = []
) throws -> [AddressInfo] {
    try Hub.current.resolver.getaddrinfo(
        host: host,
        service: service,
        family: family,
        type: type,
        protocol: `protocol`,
        flags: flags
    )
}

/// The first IPv4 address of `name`, as text ("127.0.0.1"), with the hub's resolver.
///
/// gevent's `socket.gethostbyname`. May switch greenlets. Hub thread only; not from inside the hub.
///
/// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "gethostbyname blocks the thread's greenlets; it is for greenlet code")
public func gethostbyname(_ name: String) throws -> String {
    try Hub.current.resolver.gethostbyname(name)
}

/// The official name, aliases and IPv4 addresses of `name`, with the hub's resolver.
///
/// gevent's `socket.gethostbyname_ex`. May switch greenlets. Hub thread only; not from inside the hub.
///
/// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "gethostbynameEx blocks the thread's greenlets; it is for greenlet code")
public func gethostbynameEx(_ name: String) throws -> HostEntry {
    try Hub.current.resolver.gethostbynameEx(name)
}

/// The names of the host at `address` (numeric, or a name resolved first), with the hub's resolver.
///
/// gevent's `socket.gethostbyaddr`. May switch greenlets. Hub thread only; not from inside the hub.
///
/// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "gethostbyaddr blocks the thread's greenlets; it is for greenlet code")
public func gethostbyaddr(_ address: String) throws -> HostEntry {
    try Hub.current.resolver.gethostbyaddr(address)
}

/// The host and service names of a socket address, with the hub's resolver.
///
/// gevent's `socket.getnameinfo`. May switch greenlets. Hub thread only; not from inside the hub.
///
/// - Throws: ``ResolverError``; what is thrown into the greenlet while it waits.
@available(*, noasync, message: "getnameinfo blocks the thread's greenlets; it is for greenlet code")
public func getnameinfo(_ address: SocketAddress, flags: NameInfoFlags = []) throws -> (host: String, service: String) {
    try Hub.current.resolver.getnameinfo(address, flags: flags)
}
