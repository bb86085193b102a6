/// The default resolver: libc's functions on native threads, while the calling greenlet waits
/// cooperatively.
///
/// Answers are exactly libc's (NSS, `/etc/hosts`, `resolv.conf` options, ordering), because libc computes
/// them. Each query occupies one worker thread of the hub's ``Hub/threadPool`` for its duration (10 by
/// default, `GEVENT_THREADPOOL_SIZE`). gevent's `gevent.resolver.thread.Resolver`; `GEVENT_RESOLVER=thread`.
///
/// Hub-bound: create and use it on its hub's thread, from greenlets. Queries may switch greenlets; an
/// interrupted query (a ``Timeout``) returns at once while its thread finishes in the background.
public final class ThreadResolver: Resolver {
    /// The hub whose greenlets wait for answers.
    public let hub: Hub

    /// Creates a resolver for the calling thread's hub. Never switches.
    public init() {
        hub = Hub.current
    }

    /// libc's `getaddrinfo` on a worker thread. See ``Resolver/getaddrinfo(host:service:family:type:protocol:flags:)``.
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
        try hub.threadPool.apply {
            LibcResolution.getaddrinfo(
                host: host,
                service: service,
                family: family,
                type: type,
                protocol: `protocol`,
                flags: flags
            )
        }.get()
    }

    /// The first IPv4 address of `name`, by libc on a worker thread. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbyname blocks the thread's greenlets; it is for greenlet code")
    public func gethostbyname(_ name: String) throws -> String {
        try hub.threadPool.apply {
            LibcResolution.gethostbyname(name)
        }.get()
    }

    /// libc's `gethostbyname_r` on a worker thread. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbynameEx blocks the thread's greenlets; it is for greenlet code")
    public func gethostbynameEx(_ name: String) throws -> HostEntry {
        try hub.threadPool.apply {
            LibcResolution.gethostbynameEx(name)
        }.get()
    }

    /// libc's `gethostbyaddr_r` on a worker thread. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "gethostbyaddr blocks the thread's greenlets; it is for greenlet code")
    public func gethostbyaddr(_ address: String) throws -> HostEntry {
        try hub.threadPool.apply {
            LibcResolution.gethostbyaddr(address)
        }.get()
    }

    /// libc's `getnameinfo` on a worker thread. May switch greenlets. Hub thread only.
    @available(*, noasync, message: "getnameinfo blocks the thread's greenlets; it is for greenlet code")
    public func getnameinfo(_ address: SocketAddress, flags: NameInfoFlags) throws -> (host: String, service: String) {
        try hub.threadPool.apply {
            LibcResolution.getnameinfo(address, flags: flags)
        }.get()
    }

    /// Nothing to release: the worker threads are shared and retire when idle. Never switches.
    public func close() {}
}
