import CGeventShim

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Makes code that knows nothing of greenlets cooperative: C libraries (libpq, hiredis, libcurl), other
/// Swift code, your own blocking libc calls.
///
/// Every executable that links `Gevent` carries interposers for the blocking libc calls (`read`,
/// `connect`, `poll`, `sleep`, `getaddrinfo`…), ahead of libc for its own calls and for every shared
/// library it loads. They pass straight through until you patch an ``Area``. Once patched, a call of that
/// area made from a greenlet (not from the hub, not from a thread without a hub) on a blocking, pollable fd
/// tries once without blocking; if it would block, the greenlet waits on the hub while others run, then
/// the call is retried. Results and `errno` are what libc would give.
///
/// ```swift
/// Monkey.patchAll()
/// let queries = (0..<50).map { _ in spawn { runQueryWithLibpq() } }   // blocking C calls, concurrently
/// try joinAll(queries)
/// ```
///
/// Patch once, at the start of `main`, before starting threads: patching is process-wide and there is no
/// unpatching (gevent's `monkey.patch_all()`). Programs that never patch see no change. Without linking
/// (any dynamically linked program), `gevent-run` preloads the same interposers with `GEVENT_PATCH`.
///
/// Limits: calls libc makes internally (stdio's buffered I/O, the resolver's own sockets) cannot be
/// interposed, which is why DNS is hooked at `getaddrinfo`; statically linked code and raw syscalls are out
/// of reach; a library that holds a pthread mutex across a blocking call can deadlock another greenlet
/// that takes the same mutex on the same thread.
public enum Monkey {
    /// Patches every implemented area (`MonkeyArea.implemented`): `Area.socket`, `Area.dns`,
    /// `Area.time`, `Area.select`, `Area.subprocess`.
    ///
    /// gevent's `monkey.patch_all()`, but for `Area.thread`, which a program opts into: thread-locals stay
    /// per OS thread under it (see `MonkeyArea.thread`). Prints a
    /// warning on stderr when other threads already run (see ``patch(_:)``). Never switches; any thread,
    /// best the main thread before any other starts.
    public static func patchAll() {
        patch(areas: MonkeyArea.implemented)
    }

    /// Patches the given areas, in addition to those already patched.
    ///
    /// When other threads already exist, prints one warning on stderr that says what may not be covered:
    /// calls those threads are blocked in right now stay blocked, and a thread only becomes cooperative
    /// once it has a hub. Patch `Area.thread` before the threads that should become greenlets start: those
    /// already running stay OS threads, as do the ones the Swift runtime, Dispatch and Foundation start.
    /// Never switches; any thread.
    ///
    /// - Parameter areas: the call families to make cooperative.
    public static func patch(_ areas: Area...) {
        patch(areas: areas)
    }

    /// `true` when `area` has been patched (gevent's `is_module_patched`). Never switches; any thread.
    public static func isPatched(_ area: Area) -> Bool {
        gevent_shim_patched() & area.mask != 0
    }

    /// Runs unaware code and rethrows the error that interrupted one of its blocking calls.
    ///
    /// A C function cannot be unwound by a Swift error. When a greenlet is killed, or a ``Timeout`` fires,
    /// while it waits inside an interposed call, that call fails instead: with `ETIMEDOUT` for a timeout,
    /// `ECANCELED` otherwise (errors no blocking libc call gives, so C libraries treat them as failures and
    /// return). The error itself is kept for the innermost `runUnaware` of the greenlet, which throws it
    /// when `body` returns, so `Timeout.run(.seconds(1)) { try Monkey.runUnaware { PQexec(...) } }` ends
    /// with the timeout, as in gevent. Outside `runUnaware` the error is dropped and the greenlet goes on.
    /// An interrupted DNS lookup finishes first (the worker thread writes into the caller's memory).
    ///
    /// May switch greenlets (whatever `body` does). Hub thread, from a greenlet.
    ///
    /// - Parameter body: code that calls blocking C functions.
    /// - Returns: what `body` returned.
    /// - Throws: the first error thrown into the greenlet during `body`'s interposed calls, else what
    ///   `body` throws.
    @available(*, noasync, message: "runUnaware runs blocking code in greenlets; it is not for async code")
    public static func runUnaware<T>(_ body: () throws -> T) throws -> T {
        let hub = Hub.current
        let state = ShimGreenletStates.state(for: hub.currentGreenlet)
        let sink = ShimInterruptionSink()
        state.sinks.append(sink)
        defer { state.sinks.removeLast() }
        let result = try body()
        if let error = sink.error {
            throw error
        }
        return result
    }

    /// Patches `areas`; `warnAboutThreads: false` is for tests, which always run beside other threads.
    static func patch(areas: [Area], warnAboutThreads: Bool = true) {
        var mask: UInt32 = 0
        for area in areas {
            mask |= area.mask
        }
        let before = gevent_shim_patched()
        let added = mask & ~before
        guard added != 0 else { return }
        let others = warnAboutThreads ? otherThreadCount() : 0
        if others > 0 && warnAboutThreads {
            let names = Area.allCases.filter { added & $0.mask != 0 }.map(\.rawValue).joined(separator: ", ")
            reportWarning(
                "Monkey.patch(\(names)) while \(others) other thread(s) run: calls they are blocked "
                    + "in now stay blocked, their calls become cooperative only once they run a hub, and fds "
                    + "they opened are classified on first use; patch at the start of main, before starting "
                    + "threads"
            )
        }
        gevent_shim_set_patched(before | mask)
    }

    /// Threads of this process other than the caller (from /proc/self/task), 0 if unknown.
    private static func otherThreadCount() -> Int {
        guard let directory = opendir("/proc/self/task") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") {
                count += 1
            }
        }
        return max(count - 1, 0)
    }

    /// Tests only: unpatches everything and forgets the shadow fd table. No greenlet may be waiting in the
    /// shim.
    static func restoreForTesting() {
        gevent_shim_set_patched(0)
        gevent_shim_reset_fd_table()
    }
}
