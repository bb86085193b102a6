import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Blocks the calling OS thread (not its greenlets) until `condition` holds; `false` after `seconds`.
func spinUntil(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        usleep(500)
    }
    return true
}

/// How the waiting thread waits in the cross-thread tests (gevent's test_cross_thread_use variants).
struct CrossThreadWait: Sendable, CustomTestStringConvertible {
    var timed: Bool
    var inSpawnedGreenlet: Bool

    static let all = [false, true].flatMap { timed in
        [false, true].map { CrossThreadWait(timed: timed, inSpawnedGreenlet: $0) }
    }

    var testDescription: String {
        "\(timed ? "timed" : "untimed") wait in \(inSpawnedGreenlet ? "a spawned greenlet" : "the main greenlet")"
    }

    /// Runs `body` on the calling thread's hub as described, then destroys that hub.
    func run(_ body: @escaping () throws -> String) -> String {
        let hub = Hub.current
        defer { try? hub.destroy() }
        do {
            if inSpawnedGreenlet {
                return try spawn(body).get()
            }
            return try body()
        } catch {
            return "error: \(error)"
        }
    }

    var timeout: Duration? { timed ? .seconds(30) : nil }
}

/// Events, results and semaphores used across OS threads, each with its own hub (gevent's
/// TestAsyncResultCrossThread, TestEventCrossThread, TestSemaphoreMultiThread). `#expect` runs only on the
/// test's thread: the other thread passes its outcome back.
@Suite("CrossThreadSync", .serialized, .timeLimit(.minutes(1)))
struct CrossThreadSyncTests {
    @Test(arguments: CrossThreadWait.all)
    func aThreadWithItsOwnHubWaitsForAnAsyncResultSetHere(mode: CrossThreadWait) throws {
        try withHub {
            let result = AsyncResult<String>()
            let outcome = Mutex<String?>(nil)
            let thread = try NativeThread {
                let text = mode.run { try result.wait(timeout: mode.timeout) ?? "nil" }
                outcome.withLock { $0 = text }
            }
            #expect(spinUntil { result.linkCount == 1 })
            result.set("from main")
            thread.join()
            #expect(outcome.withLock { $0 } == "from main")
        }
    }

    @Test(arguments: CrossThreadWait.all)
    func aThreadWithItsOwnHubWaitsForAnEventSetHere(mode: CrossThreadWait) throws {
        try withHub {
            let event = Event()
            let outcome = Mutex<String?>(nil)
            let thread = try NativeThread {
                let text = mode.run { "\(try event.wait(timeout: mode.timeout))" }
                outcome.withLock { $0 = text }
            }
            #expect(spinUntil { event.linkCount == 1 })
            event.set()
            thread.join()
            #expect(outcome.withLock { $0 } == "true")
        }
    }

    @Test func aResultSetByAnotherThreadWakesAGreenletHere() throws {
        try withHub {
            let result = AsyncResult<String>()
            let thread = try NativeThread {
                usleep(20_000)
                result.set("from thread")
            }
            let value = try result.get(timeout: .seconds(30))
            thread.join()
            #expect(value == "from thread")
        }
    }

    @Test func anUntimedWaitOnAnObjectAnotherThreadUsedKeepsTheLoopAlive() throws {
        // Once a second thread has touched the event, a wait here must not end in LoopExit while that
        // thread is still to set it.
        try withHub {
            let event = Event()
            let touched = Atomic<Bool>(false)
            let thread = try NativeThread {
                _ = event.isSet
                touched.store(true, ordering: .releasing)
                usleep(30_000)
                event.set()
            }
            #expect(spinUntil { touched.load(ordering: .acquiring) })
            let woke = try event.wait()
            thread.join()
            #expect(woke)
        }
    }

    @Test func aThreadWithoutAHubWaitsNativelyWithoutGettingOne() throws {
        try withHub {
            let event = Event()
            let outcome = Mutex<String?>(nil)
            let thread = try NativeThread {
                let woke = (try? event.wait(timeout: .seconds(30))) ?? false
                let gotAHub = Hub.currentIfExists != nil
                outcome.withLock { $0 = "woke=\(woke) hub=\(gotAHub)" }
            }
            #expect(spinUntil { event.linkCount == 1 })
            event.set()
            thread.join()
            #expect(outcome.withLock { $0 } == "woke=true hub=false")
        }
    }

    @Test(arguments: [false, true])
    func aThreadBlockedOnASemaphoreHeldHereAcquiresItOnRelease(threadHasAHub: Bool) throws {
        try withHub {
            let semaphore = Gevent.Semaphore(1)
            try semaphore.acquire()
            let outcome = Mutex<String?>(nil)
            let thread = try NativeThread {
                let hub = threadHasAHub ? Hub.current : nil
                let acquired = (try? semaphore.acquire()) ?? false
                try? hub?.destroy()
                outcome.withLock { $0 = "\(acquired)" }
            }
            #expect(spinUntil { semaphore.linkCount == 1 })
            semaphore.release()
            thread.join()
            #expect(outcome.withLock { $0 } == "true")
            #expect(semaphore.value == 0)
        }
    }

    @Test(arguments: [false, true])
    func aTimedAcquireInAnotherThreadGivesUpAndLeavesNoLink(threadHasAHub: Bool) throws {
        try withHub {
            let semaphore = Gevent.Semaphore(1)
            try semaphore.acquire()
            let outcome = Mutex<String?>(nil)
            let thread = try NativeThread {
                let hub = threadHasAHub ? Hub.current : nil
                let acquired = (try? semaphore.acquire(timeout: .milliseconds(1))) ?? true
                try? hub?.destroy()
                outcome.withLock { $0 = "\(acquired)" }
            }
            thread.join()
            #expect(outcome.withLock { $0 } == "false")
            #expect(semaphore.linkCount == 0)
            semaphore.release()
            #expect(semaphore.value == 1)
        }
    }

    @Test(arguments: LockKind.allCases, [false, true])
    func twoThreadsDuelingOverOneLockBothFinish(kind: LockKind, withHubs: Bool) throws {
        let lock = kind.make()
        let count = 2000
        let progress = DuelProgress()
        let threads = try (0..<2).map { index in
            try NativeThread {
                let hub = withHubs ? Hub.current : nil
                for i in 0..<count {
                    do {
                        try lock.acquire()
                        try lock.release()
                    } catch {
                        break
                    }
                    progress.record(i, for: index)
                    if withHubs && i % 10 == 0 {
                        try? sleep(.microseconds(100))
                    } else if i % 100 == 0 {
                        usleep(100)
                    }
                }
                try? hub?.destroy()
            }
        }
        for thread in threads { thread.join() }
        #expect(progress.values == [count - 1, count - 1])
    }
}

/// How far each dueling thread got. Atomics rather than a Mutex: ThreadSanitizer does not see
/// Synchronization.Mutex's ordering and would report the two writers as a race.
final class DuelProgress: Sendable {
    private let first = Atomic<Int>(-1)
    private let second = Atomic<Int>(-1)

    func record(_ iteration: Int, for thread: Int) {
        if thread == 0 {
            first.store(iteration, ordering: .relaxed)
        } else {
            second.store(iteration, ordering: .relaxed)
        }
    }

    var values: [Int] { [first.load(ordering: .relaxed), second.load(ordering: .relaxed)] }
}

/// The lock types gevent runs its multi-thread tests for.
enum LockKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case semaphore
    case boundedSemaphore
    case rlock

    func make() -> AnyTestLock {
        switch self {
        case .semaphore:
            let semaphore = Gevent.Semaphore(1)
            return AnyTestLock(acquire: { try semaphore.acquire() }, release: { semaphore.release() })
        case .boundedSemaphore:
            let semaphore = BoundedSemaphore(1)
            return AnyTestLock(acquire: { try semaphore.acquire() }, release: { try semaphore.release() })
        case .rlock:
            let lock = RLock()
            return AnyTestLock(acquire: { try lock.acquire() }, release: { try lock.release() })
        }
    }

    var testDescription: String { rawValue }
}

/// A lock of any kind, shared by the dueling threads.
struct AnyTestLock: Sendable {
    let acquireBody: @Sendable () throws -> Bool
    let releaseBody: @Sendable () throws -> Void

    init(acquire: @escaping @Sendable () throws -> Bool, release: @escaping @Sendable () throws -> Void) {
        acquireBody = acquire
        releaseBody = release
    }

    func acquire() throws {
        guard try acquireBody() else { throw ExpectedError(tag: "not acquired") }
    }

    func release() throws {
        try releaseBody()
    }
}
