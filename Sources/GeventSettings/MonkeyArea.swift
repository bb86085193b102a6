/// A family of libc calls that `Monkey.patch` (and `GEVENT_PATCH`, `gevent-run --patch`, `gevent_patch`)
/// can make cooperative.
///
/// gevent patches Python modules by name (`socket`, `dns`, `time`, `select`, `thread`); these are the
/// same families, at the libc level. This enum is the one list of their names: every parser of an area
/// list uses ``parseList(_:)`` and reports an unknown name with ``unknownAreaMessage(_:in:)``. The
/// preload library's constructor, which runs before `main` without the Swift runtime, keeps the same
/// names in C (`preload/shim_core.c`); a test checks that the two agree.
public enum MonkeyArea: String, CaseIterable, Hashable, Sendable {
    /// Sockets, pipes and other pollable fds: `read`/`write` and `recv`/`send` families (fortified
    /// variants included), `accept`, `accept4`, `connect`, honouring `O_NONBLOCK`, `MSG_DONTWAIT`,
    /// `MSG_WAITALL`, `SO_RCVTIMEO` and `SO_SNDTIMEO` exactly as libc does; reads of regular files
    /// (`read`, `pread`, `preadv`) that would wait for the disk run on the hub's thread pool.
    case socket
    /// `getaddrinfo`, `getnameinfo`, `gethostbyname*`, `gethostbyaddr*`: run on the hub's thread pool
    /// while the greenlet waits (`GEVENT_RESOLVER=block` keeps them blocking).
    case dns
    /// `sleep`, `usleep`, `nanosleep`, `clock_nanosleep`: hub timers.
    case time
    /// `poll`, `ppoll`, `select`, `pselect`, `epoll_wait`, `epoll_pwait`, `epoll_pwait2` (an event loop of the
    /// program's own waits on its epoll fd through the hub).
    case select
    /// pthreads as greenlets: `pthread_create` from a greenlet (or from the main thread of a program
    /// without a hub, which then gets one) starts a greenlet of that hub; joins, keys, `pthread_exit`,
    /// `sched_yield`, mutexes, condition variables, semaphores, read-write locks, barriers, `pthread_once`,
    /// spin locks, C++ static guards, `flockfile` and every function that takes a `pthread_t` know those
    /// threads. Thread-locals (`__thread`, `thread_local`) stay per OS thread, shared by its greenlet-threads,
    /// which breaks libraries that keep per-thread state across a switch, so `all` leaves it out.
    case thread
    /// `waitpid`, `wait`, `wait3`, `wait4`, `waitid` without `WNOHANG`: the greenlet waits on the hub (for a
    /// pidfd of the child, or with short cooperative sleeps for any child, a process group, stops).
    /// `system()` and `pclose()` wait inside glibc, out of reach.
    case subprocess

    /// The areas `all` stands for: every area but ``thread``, which a program opts into.
    public static let implemented: [MonkeyArea] = [.socket, .dns, .time, .select, .subprocess]

    /// The accepted spellings of an area list, for messages, help and the settings table.
    public static var listForms: String {
        "all, none or a comma-separated list of " + allCases.map(\.rawValue).joined(separator: ", ")
            + " (-name removes one: all,-dns)"
    }

    /// Parses an area list: `all` (every ``implemented`` area), `none`, or names separated by commas, in any
    /// case, with spaces around them ignored. A name after `-` removes that area (or, `-all`, every area)
    /// from what the items to its left gave; a list that starts with a removal starts from `all`, so `-dns`
    /// is every area but `dns`, as gevent's `patch_all(dns=False)`. Never switches; any thread.
    ///
    /// - Parameter text: the list.
    /// - Returns: the areas named, in the order first named, and the names that are not areas (as given,
    ///   trimmed, with their `-`), for the caller to report with ``unknownAreaMessage(_:in:)``.
    public static func parseList(_ text: String) -> (areas: [MonkeyArea], unknown: [String]) {
        var areas: [MonkeyArea] = []
        var unknown: [String] = []
        var first = true
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let given = String(item).trimmingBlanks()
            guard !given.isEmpty else { continue }
            let removes = given.hasPrefix("-")
            let name = removes ? String(given.dropFirst()).trimmingBlanks().lowercased() : given.lowercased()
            if removes && first {
                areas = implemented
            }
            first = false
            let named: [MonkeyArea]
            switch name {
            // Removing `all` removes every area, the reserved one too.
            case "all": named = removes ? allCases : implemented
            case "none" where !removes: named = []
            default:
                guard let area = MonkeyArea(rawValue: name) else {
                    unknown.append(given)
                    continue
                }
                named = [area]
            }
            if removes {
                areas.removeAll { named.contains($0) }
            } else {
                for area in named where !areas.contains(area) {
                    areas.append(area)
                }
            }
        }
        return (areas, unknown)
    }

    /// The one message for a name that is not an area: `unknown area 'sockets' in GEVENT_PATCH; use all,
    /// none or a comma-separated list of socket, dns, time, select, thread, subprocess (-name removes one:
    /// all,-dns)`.
    /// Never switches; any thread.
    ///
    /// - Parameters:
    ///   - name: the name as given.
    ///   - source: where it was given: `GEVENT_PATCH`, `--patch`, `gevent_patch`.
    public static func unknownAreaMessage(_ name: String, in source: String) -> String {
        "unknown area '\(name)' in \(source); use \(listForms)"
    }
}
