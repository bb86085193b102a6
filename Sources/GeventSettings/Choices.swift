/// How a hub resolves names (gevent's `GEVENT_RESOLVER` short names).
public enum ResolverKind: String, CaseIterable, Hashable, Sendable {
    /// libc's `getaddrinfo` on the hub's thread pool while the greenlet waits (the default).
    case thread
    /// c-ares driven by the hub's loop.
    case ares
    /// libc's `getaddrinfo` on the hub's thread, blocking every greenlet of that thread.
    case block

    /// Parses gevent's form: a comma-separated list whose first known name wins (`dnspython,ares` is
    /// `ares`), in any case. Never switches; any thread.
    ///
    /// - Throws: ``SettingError`` naming `source` when no name is known.
    public static func parseList(_ text: String, for source: String) throws(SettingError) -> ResolverKind {
        for item in text.split(separator: ",") {
            if let kind = ResolverKind(rawValue: String(item).trimmingBlanks().lowercased()) {
                return kind
            }
        }
        throw SettingError(
            source: source,
            value: text,
            expected: "a resolver: give \(SettingParser.namesList(ResolverKind.self)) (a comma-separated list: the "
                + "first known name wins)"
        )
    }
}

/// The libev backend a hub's loop uses.
public enum LoopBackend: String, CaseIterable, Hashable, Sendable {
    /// `epoll(7)`, libev's default on Linux.
    case epoll
    /// `poll(2)`.
    case poll
    /// `select(2)`.
    case select
    /// Linux `io_uring` (libev 4.33 marks it experimental).
    case ioUring = "io_uring"
    /// Linux AIO (experimental in libev).
    case linuxAIO = "linuxaio"
}

/// How the guard region below each greenlet stack is made (`GEVENT_STACK_GUARD`).
public enum StackGuardKind: String, CaseIterable, Hashable, Sendable {
    /// `madvise(MADV_GUARD_INSTALL)` where the kernel has it (Linux 6.13 and later), else `mprotect`.
    case auto
    /// `MADV_GUARD_INSTALL` only: guard regions that cost no mapping; on an older kernel no greenlet gets a
    /// stack (`GreenletStackError` with `EINVAL`).
    case madvise
    /// A `PROT_NONE` range per stack, which costs a mapping of its own: each live greenlet takes two of the
    /// process's `vm.max_map_count`.
    case mprotect
}
