import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` as the main greenlet of a fresh hub on the calling thread and destroys the hub afterwards,
/// so no test sees another's hub (Swift Testing reuses worker threads).
func withHub(_ body: () throws -> Void) throws {
    #expect(Hub.currentIfExists == nil, "a previous test left a hub on this thread")
    let hub = Hub.current
    defer { try? hub.destroy() }
    try body()
}

/// Collects the errors greenlets end with instead of printing them.
final class ErrorLog {
    var entries: [(greenlet: AnyGreenlet?, error: any Error)] = []

    init(_ hub: Hub = .current) {
        hub.errorHandler = { greenlet, error in
            self.entries.append((greenlet, error))
        }
    }
}

struct ExpectedError: Error, Equatable {
    var tag: String = "expected"
}

/// The calling thread's CPU time, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
func threadCPUNanoseconds() -> Int {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return now.tv_sec * 1_000_000_000 + now.tv_nsec
}

/// Milliseconds since `start`.
func elapsedMilliseconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}
