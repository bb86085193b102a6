import CCares
import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A resolver built on c-ares and driven by the hub's event loop: no threads, many queries in flight.
///
/// c-ares tells the resolver which of its sockets it wants to read or write (`ARES_OPT_SOCK_STATE_CB`);
/// each gets an io watcher on the hub's loop, and a timer follows `ares_timeout`. Readiness and timeouts
/// call `ares_process_fd`, whose callbacks wake the waiting greenlets. gevent's
/// `gevent.resolver.ares.Resolver`; `GEVENT_RESOLVER=ares`.
///
/// Name servers and the per-try timeout come from the initializer, else from `GEVENT_RESOLVER_NAMESERVERS`
/// and `GEVENT_RESOLVER_TIMEOUT`, else from `/etc/resolv.conf` and c-ares's defaults. Answers differ from
/// libc's where gevent documents it: c-ares reads `/etc/hosts` and DNS only (no other NSS sources), sorts
/// IPv6 and IPv4 answers its own way, and reports no aliases from `/etc/hosts`. Failures are reported with
/// libc's `EAI_*` codes and texts (c-ares's own reason appended).
///
/// Hub-bound: create and use it on its hub's thread, from greenlets. Queries may switch greenlets. An
/// interrupted query (a ``Timeout``) returns at once; c-ares finishes or times it out in the background.
public final class AresResolver: Resolver {
    /// The hub whose loop drives c-ares.
    public let hub: Hub
    /// The name servers given (or from `GEVENT_RESOLVER_NAMESERVERS`); `nil`: `/etc/resolv.conf`'s.
    public let servers: [String]?
    /// How long c-ares waits for a server per try; `nil`: c-ares's default.
    public let timeout: Duration?

    private var channel: ares_channel?
    private var watchers: [CInt: IOWatcher] = [:]
    private var timer: TimerWatcher?
    private var closing = false

    /// Creates a c-ares channel driven by the calling thread's hub.
    ///
    /// Never switches.
    ///
    /// - Parameters:
    ///   - servers: name servers as "1.2.3.4", "1.2.3.4:5353" or "[::1]:53"; `nil` reads
    ///     `GEVENT_RESOLVER_NAMESERVERS`, then `/etc/resolv.conf`.
    ///   - timeout: how long to wait for a server before the next try; `nil` reads `GEVENT_RESOLVER_TIMEOUT`,
    ///     then uses c-ares's default.
    ///   - tries: how many times each server is tried; `nil` for c-ares's default (3... depending on
    ///     `resolv.conf`).
    /// - Throws: ``ResolverError`` when c-ares cannot be initialised or a server is not a numeric address.
    public init(servers: [String]? = nil, timeout: Duration? = nil, tries: Int? = nil) throws {
        let config = GeventConfig.current
        hub = Hub.current
        self.servers = servers ?? config.resolverNameservers
        self.timeout = timeout ?? config.resolverTimeout
        let libraryStatus = AresResolver.libraryStatus
        guard libraryStatus == gevent_ARES_SUCCESS else {
            throw AresResolver.error(libraryStatus, operation: "ares_library_init", name: "")
        }
        var options = ares_options()
        var mask = gevent_ARES_OPT_SOCK_STATE_CB
        options.sock_state_cb = aresSocketStateChanged
        options.sock_state_cb_data = Unmanaged.passUnretained(self).toOpaque()
        if let timeout = self.timeout {
            options.timeout = CInt(clamping: Int64(timeout.seconds * 1000))
            mask |= gevent_ARES_OPT_TIMEOUTMS
        }
        if let tries {
            options.tries = CInt(clamping: tries)
            mask |= gevent_ARES_OPT_TRIES
        }
        var channel: ares_channel?
        let status = ares_init_options(&channel, &options, mask)
        guard status == gevent_ARES_SUCCESS, let channel else {
            throw AresResolver.error(status, operation: "ares_init_options", name: "")
        }
        self.channel = channel
        if let servers = self.servers {
            let list = servers.joined(separator: ",")
            let status = ares_set_servers_ports_csv(channel, list)
            guard status == gevent_ARES_SUCCESS else {
                ares_destroy(channel)
                self.channel = nil
                throw ResolverError(
                    code: .badFlags,
                    operation: "AresResolver",
                    name: list,
                    message: "name servers must be numeric addresses with optional ports, as in "
                        + "127.0.0.1:5353,[::1]:53 (c-ares: \(String(cString: ares_strerror(status))))"
                )
            }
        }
    }

    deinit {
        close()
    }

    private static let libraryStatus: CInt = ares_library_init(gevent_ARES_LIB_INIT_ALL)

    // MARK: - Queries

    /// c-ares's `ares_getaddrinfo`, with libc's result shape: when `type` is `nil`, each address is
    /// reported once per socket type (stream/TCP, datagram/UDP, raw), as glibc does. See
    /// ``Resolver/getaddrinfo(host:service:family:type:protocol:flags:)``.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    @available(*, noasync, message: "getaddrinfo blocks the thread's greenlets; it is for greenlet code")
    public func getaddrinfo(
        host: String?,
        service: String?,
        family: AddressFamily,
        type: SocketType?,
        protocol: CInt,
        flags: AddressInfoFlags
    ) throws -> [AddressInfo] {
        let name = host ?? service ?? ""
        if let host, let error = AresResolver.libcOnlyFailure(host: host, family: family, flags: flags) {
            throw error
        }
        let query = try startQuery("getaddrinfo", name: name)
        var hints = ares_addrinfo_hints()
        hints.ai_flags = AresResolver.aresFlags(flags)
        hints.ai_family = family.rawValue
        hints.ai_socktype = type?.rawValue ?? 0
        hints.ai_protocol = `protocol`
        query.expandTypes = type == nil
        query.wantsCanonicalName = flags.contains(.canonicalName)
        ares_getaddrinfo(channel, host, service, &hints, aresAddrinfoDone, query.retainedContext())
        try finish(query)
        return query.addresses
    }

    /// The answers glibc gives without looking anything up, where c-ares 1.18 differs: a non-numeric host
    /// with ``AddressInfoFlags/numericHost`` (c-ares sends it to the server) and a numeric address of the
    /// other family (c-ares answers it in its own family).
    private static func libcOnlyFailure(
        host: String,
        family: AddressFamily,
        flags: AddressInfoFlags
    )
        -> ResolverError?
    {
        var bytes = in6_addr()
        let isIPv4 = inet_pton(AF_INET, host, &bytes) == 1
        let isIPv6 = !isIPv4 && inet_pton(AF_INET6, host, &bytes) == 1
        if flags.contains(.numericHost) && !isIPv4 && !isIPv6 {
            return ResolverError(code: .nameNotFound, operation: "getaddrinfo", name: host)
        }
        if (isIPv4 && family == .inet6 && !flags.contains(.v4Mapped)) || (isIPv6 && family == .inet) {
            return ResolverError(code: .noAddressInFamily, operation: "getaddrinfo", name: host)
        }
        return nil
    }

    /// The first IPv4 address of `name`, through c-ares. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbyname blocks the thread's greenlets; it is for greenlet code")
    public func gethostbyname(_ name: String) throws -> String {
        let entry = try hostQuery("gethostbyname", name: name) { query in
            ares_gethostbyname(channel, name, AF_INET, aresHostDone, query.retainedContext())
        }
        guard let first = entry.addresses.first else {
            throw ResolverError(code: .noData, operation: "gethostbyname", name: name)
        }
        return first
    }

    /// `ares_gethostbyname` for IPv4: official name, aliases, addresses. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbynameEx blocks the thread's greenlets; it is for greenlet code")
    public func gethostbynameEx(_ name: String) throws -> HostEntry {
        try hostQuery("gethostbyname", name: name) { query in
            ares_gethostbyname(channel, name, AF_INET, aresHostDone, query.retainedContext())
        }
    }

    /// `ares_gethostbyaddr` (a name is resolved first). May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbyaddr blocks the thread's greenlets; it is for greenlet code")
    public func gethostbyaddr(_ address: String) throws -> HostEntry {
        var bytes = in6_addr()
        var family = AF_INET6
        var length = MemoryLayout<in6_addr>.size
        if inet_pton(AF_INET, address, &bytes) == 1 {
            family = AF_INET
            length = MemoryLayout<in_addr>.size
        } else if inet_pton(AF_INET6, address, &bytes) != 1 {
            let answers = try getaddrinfo(
                host: address,
                service: nil,
                family: .unspecified,
                type: .stream,
                protocol: 0,
                flags: []
            )
            guard let host = answers.first?.address.host else {
                throw ResolverError(code: .noData, operation: "gethostbyaddr", name: address)
            }
            return try gethostbyaddr(host)
        }
        return try hostQuery("gethostbyaddr", name: address) { query in
            ares_gethostbyaddr(channel, &bytes, CInt(length), family, aresHostDone, query.retainedContext())
        }
    }

    /// `ares_gethostbyname` in `family` (AF_INET or AF_INET6): the shim's `gethostbyname2_r`. May switch
    /// greenlets. Hub thread only.
    func hostEntry(name: String, family: CInt) throws -> HostEntry {
        try hostQuery("gethostbyname", name: name) { query in
            ares_gethostbyname(channel, name, family, aresHostDone, query.retainedContext())
        }
    }

    /// `ares_gethostbyaddr` of an address's bytes: the shim's `gethostbyaddr_r`. May switch greenlets. Hub
    /// thread only.
    func hostEntry(address: UnsafeRawPointer, length: Int, family: CInt) throws -> HostEntry {
        try hostQuery("gethostbyaddr", name: "") { query in
            ares_gethostbyaddr(channel, address, CInt(length), family, aresHostDone, query.retainedContext())
        }
    }

    /// `ares_getnameinfo`. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "getnameinfo blocks the thread's greenlets; it is for greenlet code")
    public func getnameinfo(_ address: SocketAddress, flags: NameInfoFlags) throws -> (host: String, service: String) {
        let query = try startQuery("getnameinfo", name: address.description)
        address.withSockaddr { pointer, length in
            ares_getnameinfo(
                channel,
                pointer,
                ares_socklen_t(length),
                AresResolver.aresFlags(flags),
                aresNameInfoDone,
                query.retainedContext()
            )
        }
        try finish(query)
        return query.nameInfo ?? ("", "")
    }

    /// Destroys the c-ares channel: queries in flight fail with ``ResolverError/Code/temporaryFailure``
    /// ("the resolver was closed"); later queries throw the same. Harmless if already closed. Never
    /// switches; hub thread only.
    public func close() {
        guard let channel, !closing else { return }
        closing = true
        let loopAlive = hub.isOnHubThread
        for watcher in watchers.values where loopAlive {
            watcher.stop()
        }
        watchers.removeAll()
        if loopAlive {
            timer?.stop()
        }
        ares_destroy(channel)
        self.channel = nil
        closing = false
    }

    // MARK: - Driving c-ares

    private func hostQuery(_ operation: String, name: String, _ start: (AresQuery) -> Void) throws -> HostEntry {
        let query = try startQuery(operation, name: name)
        start(query)
        try finish(query)
        return query.hostEntry ?? HostEntry(name: name, aliases: [], addresses: [])
    }

    private func startQuery(_ operation: String, name: String) throws -> AresQuery {
        try hub.checkThread("AresResolver query")
        guard channel != nil else {
            throw ResolverError(
                code: .temporaryFailure,
                operation: operation,
                name: name,
                message: "the resolver was closed; create a new AresResolver"
            )
        }
        return AresQuery(hub: hub, operation: operation, name: name)
    }

    /// Arms the timer for the new query, waits for the answer unless c-ares answered already (numbers,
    /// `/etc/hosts`), and throws a failed query's error.
    private func finish(_ query: AresQuery) throws {
        updateTimer()
        if !query.finished {
            let greenlet = try hub.blockableGreenlet("AresResolver query")
            query.sequence = greenlet.beginBlock(waitingFor: "AresResolver query")
            query.waiter = greenlet
            defer { query.waiter = nil }
            try hub.block(greenlet)
        }
        if let error = query.error {
            throw error
        }
    }

    fileprivate func socketStateChanged(_ fd: CInt, readable: Bool, writable: Bool) {
        guard !closing else { return }
        guard readable || writable else {
            watchers.removeValue(forKey: fd)?.stop()
            return
        }
        var events: CInt = 0
        if readable { events |= gevent_EV_READ }
        if writable { events |= gevent_EV_WRITE }
        if let watcher = watchers[fd] {
            if watcher.pointer.pointee.events & (gevent_EV_READ | gevent_EV_WRITE) != events {
                watcher.set(fd: fd, events: events)
            }
            watcher.start()
            return
        }
        let watcher = IOWatcher(hub: hub, fd: fd, events: events) { [unowned self] fired in
            self.process(fd, fired)
        }
        watchers[fd] = watcher
        watcher.start()
    }

    private func process(_ fd: CInt, _ events: CInt) {
        guard let channel else { return }
        let bad = gevent_ARES_SOCKET_BAD
        ares_process_fd(
            channel,
            events & gevent_EV_READ != 0 ? fd : bad,
            events & gevent_EV_WRITE != 0 ? fd : bad
        )
        updateTimer()
    }

    private func updateTimer() {
        guard let channel else { return }
        var storage = timeval()
        guard let next = ares_timeout(channel, nil, &storage) else {
            timer?.stop()
            return
        }
        let delay = Duration.seconds(Int64(next.pointee.tv_sec)) + .microseconds(Int64(next.pointee.tv_usec))
        let timer =
            self.timer
            ?? TimerWatcher(hub: hub, label: "AresResolver timeout") { [unowned self] in
                self.process(gevent_ARES_SOCKET_BAD, 0)
            }
        self.timer = timer
        timer.start(after: delay)
    }

    // MARK: - Translating

    static func error(_ status: CInt, operation: String, name: String) -> ResolverError {
        let code: ResolverError.Code
        switch status {
        case gevent_ARES_ENOTFOUND, gevent_ARES_EBADNAME, gevent_ARES_ENONAME: code = .nameNotFound
        case gevent_ARES_ENODATA: code = .noData
        case gevent_ARES_ETIMEOUT, gevent_ARES_ECONNREFUSED, gevent_ARES_ESERVFAIL, gevent_ARES_EDESTRUCTION,
            gevent_ARES_ECANCELLED:
            code = .temporaryFailure
        case gevent_ARES_EBADFAMILY: code = .familyNotSupported
        case gevent_ARES_ESERVICE: code = .serviceNotFound
        case gevent_ARES_EBADFLAGS, gevent_ARES_EBADHINTS: code = .badFlags
        case gevent_ARES_ENOMEM: code = .outOfMemory
        default: code = .permanentFailure
        }
        let libcText = String(cString: gai_strerror(code.rawValue))
        let aresText = String(cString: ares_strerror(status))
        let detail = status == gevent_ARES_EDESTRUCTION ? "the resolver was closed while the query ran" : aresText
        return ResolverError(code: code, operation: operation, name: name, message: "\(libcText) [c-ares: \(detail)]")
    }

    private static func aresFlags(_ flags: AddressInfoFlags) -> CInt {
        var result: CInt = 0
        let pairs: [(AddressInfoFlags, CInt)] = [
            (.passive, gevent_ARES_AI_PASSIVE), (.canonicalName, gevent_ARES_AI_CANONNAME),
            (.numericHost, gevent_ARES_AI_NUMERICHOST), (.numericService, gevent_ARES_AI_NUMERICSERV),
            (.v4Mapped, gevent_ARES_AI_V4MAPPED), (.all, gevent_ARES_AI_ALL),
            (.addressConfig, gevent_ARES_AI_ADDRCONFIG),
        ]
        for (flag, value) in pairs where flags.contains(flag) {
            result |= value
        }
        return result
    }

    private static func aresFlags(_ flags: NameInfoFlags) -> CInt {
        var result = gevent_ARES_NI_LOOKUPHOST | gevent_ARES_NI_LOOKUPSERVICE
        let pairs: [(NameInfoFlags, CInt)] = [
            (.numericHost, gevent_ARES_NI_NUMERICHOST), (.numericService, gevent_ARES_NI_NUMERICSERV),
            (.nameRequired, gevent_ARES_NI_NAMEREQD), (.noFullyQualifiedDomain, gevent_ARES_NI_NOFQDN),
            (.datagram, gevent_ARES_NI_DGRAM),
        ]
        for (flag, value) in pairs where flags.contains(flag) {
            result |= value
        }
        return result
    }
}

/// One query in flight: c-ares holds a retained reference as the callback argument until it calls back.
private final class AresQuery {
    let hub: Hub
    let operation: String
    let name: String
    var waiter: AnyGreenlet?
    var sequence: UInt64 = 0
    var finished = false
    var expandTypes = false
    var wantsCanonicalName = false
    var addresses: [AddressInfo] = []
    var hostEntry: HostEntry?
    var nameInfo: (host: String, service: String)?
    var error: ResolverError?

    init(hub: Hub, operation: String, name: String) {
        self.hub = hub
        self.operation = operation
        self.name = name
    }

    func retainedContext() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }

    /// Records the outcome and wakes the waiter. Through the callback queue, never by switching from inside
    /// c-ares: the woken greenlet may call c-ares again, which must not happen inside `ares_process_fd`.
    func complete(status: CInt) {
        if status != gevent_ARES_SUCCESS {
            error = AresResolver.error(status, operation: operation, name: name)
        }
        finished = true
        if let waiter {
            hub.enqueue(.resume(waiter, sequence))
        }
    }

    /// The protocol glibc reports for a socket type asked for without one (c-ares leaves it 0).
    private static func libcProtocol(_ entry: ares_addrinfo_node) -> CInt {
        guard entry.ai_protocol == 0 else { return entry.ai_protocol }
        switch SocketType(rawValue: entry.ai_socktype) {
        case .stream: return CInt(IPPROTO_TCP)
        case .datagram: return CInt(IPPROTO_UDP)
        default: return 0
        }
    }

    func record(_ info: UnsafeMutablePointer<ares_addrinfo>?) {
        guard let info = info?.pointee else { return }
        let canonical = wantsCanonicalName ? info.name.map { String(cString: $0) } : nil
        var node = info.nodes
        while let entry = node?.pointee {
            node = entry.ai_next
            guard let family = AddressFamily(rawValue: entry.ai_family), let raw = entry.ai_addr,
                let address = SocketAddress(UnsafeRawPointer(raw), length: socklen_t(entry.ai_addrlen))
            else { continue }
            let types: [(SocketType?, CInt)] =
                expandTypes && entry.ai_socktype == 0
                ? [(.stream, CInt(IPPROTO_TCP)), (.datagram, CInt(IPPROTO_UDP)), (.raw, 0)]
                : [(SocketType(rawValue: entry.ai_socktype), AresQuery.libcProtocol(entry))]
            for (type, protocolNumber) in types {
                let name = addresses.isEmpty ? canonical : nil
                addresses.append(
                    AddressInfo(
                        family: family,
                        type: type,
                        protocolNumber: protocolNumber,
                        canonicalName: name,
                        address: address
                    )
                )
            }
        }
    }
}

private func aresSocketStateChanged(
    _ data: UnsafeMutableRawPointer?,
    _ fd: ares_socket_t,
    _ readable: CInt,
    _ writable: CInt
) {
    Unmanaged<AresResolver>.fromOpaque(data!).takeUnretainedValue()
        .socketStateChanged(fd, readable: readable != 0, writable: writable != 0)
}

private func aresAddrinfoDone(
    _ context: UnsafeMutableRawPointer?,
    _ status: CInt,
    _ timeouts: CInt,
    _ info: UnsafeMutablePointer<ares_addrinfo>?
) {
    let query = Unmanaged<AresQuery>.fromOpaque(context!).takeRetainedValue()
    if status == gevent_ARES_SUCCESS {
        query.record(info)
    }
    if let info {
        ares_freeaddrinfo(info)
    }
    query.complete(status: status)
}

private func aresHostDone(
    _ context: UnsafeMutableRawPointer?,
    _ status: CInt,
    _ timeouts: CInt,
    _ entry: UnsafeMutablePointer<hostent>?
) {
    let query = Unmanaged<AresQuery>.fromOpaque(context!).takeRetainedValue()
    if status == gevent_ARES_SUCCESS, let entry {
        query.hostEntry = LibcResolution.hostEntry(entry.pointee)
    }
    query.complete(status: status)
}

private func aresNameInfoDone(
    _ context: UnsafeMutableRawPointer?,
    _ status: CInt,
    _ timeouts: CInt,
    _ node: UnsafeMutablePointer<CChar>?,
    _ service: UnsafeMutablePointer<CChar>?
) {
    let query = Unmanaged<AresQuery>.fromOpaque(context!).takeRetainedValue()
    if status == gevent_ARES_SUCCESS {
        query.nameInfo = (node.map { String(cString: $0) } ?? "", service.map { String(cString: $0) } ?? "")
    }
    query.complete(status: status)
}
