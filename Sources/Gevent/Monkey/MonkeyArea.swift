import CGeventShim

extension Monkey {
    /// A family of libc calls that ``Monkey/patch(_:)`` can make cooperative.
    ///
    /// gevent patches Python modules by name (`socket`, `dns`, `time`, `select`, `thread`); these are the
    /// same families, at the libc level. The names are also what `GEVENT_PATCH` (preload mode) accepts.
    public enum Area: String, CaseIterable, Hashable, Sendable {
        /// Sockets, pipes and other pollable fds: `read`/`write` and `recv`/`send` families (fortified
        /// variants included), `accept`, `accept4`, `connect`, honouring `O_NONBLOCK`, `MSG_DONTWAIT`,
        /// `MSG_WAITALL`, `SO_RCVTIMEO` and `SO_SNDTIMEO` exactly as libc does.
        case socket
        /// `getaddrinfo`, `getnameinfo`, `gethostbyname*`, `gethostbyaddr*`: run on a native thread while
        /// the greenlet waits (`GEVENT_RESOLVER=block` keeps them blocking).
        case dns
        /// `sleep`, `usleep`, `nanosleep`, `clock_nanosleep`: hub timers.
        case time
        /// `poll`, `ppoll`, `select`, `pselect`.
        case select
        /// Reserved for pthreads as greenlets; not implemented yet: patching it changes nothing and says so.
        case thread

        var mask: UInt32 {
            switch self {
            case .socket: return UInt32(GEVENT_SHIM_AREA_SOCKET)
            case .dns: return UInt32(GEVENT_SHIM_AREA_DNS)
            case .time: return UInt32(GEVENT_SHIM_AREA_TIME)
            case .select: return UInt32(GEVENT_SHIM_AREA_SELECT)
            case .thread: return UInt32(GEVENT_SHIM_AREA_THREAD)
            }
        }
    }
}
