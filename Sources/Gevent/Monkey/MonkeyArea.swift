import CGeventShim

extension Monkey {
    /// A family of libc calls that ``Monkey/patch(_:)`` can make cooperative: `MonkeyArea` (module
    /// `GeventSettings`, re-exported by `Gevent`), the one list of areas that `GEVENT_PATCH`,
    /// `gevent-run --patch` and `gevent_patch` also accept.
    ///
    /// - `socket`: sockets, pipes and other pollable fds (`read`/`write`, `recv`/`send` families, `accept`,
    ///   `connect`), honouring `O_NONBLOCK`, `MSG_DONTWAIT`, `SO_RCVTIMEO` as libc does; reads of regular
    ///   files (`read`, `pread`, `preadv`) that would wait for the disk run on the hub's thread pool.
    /// - `dns`: `getaddrinfo`, `getnameinfo`, `gethostbyname*`, `gethostbyaddr*` on the hub's thread pool
    ///   while the greenlet waits (resolver `block`: directly).
    /// - `time`: `sleep`, `usleep`, `nanosleep`, `clock_nanosleep` as hub timers.
    /// - `select`: `poll`, `ppoll`, `select`, `pselect`, `epoll_wait` and its `pwait` forms.
    /// - `thread`: `pthread_create` from a greenlet starts a greenlet of its hub (joins, keys,
    ///   `pthread_exit`, `sched_yield`, mutexes, condition variables, semaphores, read-write locks, barriers,
    ///   `pthread_once`, C++ static guards and `flockfile` follow); thread-locals stay per OS thread, so `all`
    ///   leaves it out. Threads the runtime starts (the thread pool's, the monitor's) stay OS threads.
    /// - `subprocess`: `waitpid`, `wait`, `wait3`, `wait4`, `waitid` wait on the hub.
    public typealias Area = MonkeyArea
}

extension MonkeyArea {
    /// The shim's `GEVENT_SHIM_AREA_*` bit of this area.
    var mask: UInt32 {
        switch self {
        case .socket: return UInt32(GEVENT_SHIM_AREA_SOCKET)
        case .dns: return UInt32(GEVENT_SHIM_AREA_DNS)
        case .time: return UInt32(GEVENT_SHIM_AREA_TIME)
        case .select: return UInt32(GEVENT_SHIM_AREA_SELECT)
        case .thread: return UInt32(GEVENT_SHIM_AREA_THREAD)
        case .subprocess: return UInt32(GEVENT_SHIM_AREA_SUBPROCESS)
        }
    }
}
