import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__threadpool.py (§3.2 item 10).
@Suite("ThreadPool", .serialized, .timeLimit(.minutes(1)))
struct ThreadPoolTests {
    @Test func spawnRunsTheTaskOnAnotherThreadAndGetReturnsItsValue() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 2)
            defer { pool.kill() }
            let caller = pthread_self()
            let result = try pool.spawn { pthread_equal(pthread_self(), caller) == 0 }
            let ranElsewhere = try result.get()
            #expect(ranElsewhere)
        }
    }

    @Test func applyReturnsTheValueAndRethrowsTheError() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            defer { pool.kill() }
            let value = try pool.apply { 6 * 7 }
            #expect(value == 42)
            #expect(throws: ExpectedError(tag: "task")) {
                try pool.apply { () throws -> Int in throw ExpectedError(tag: "task") }
            }
        }
    }

    @Test(arguments: [1, 2, 3, 10])
    func mapReturnsResultsInItemOrder(size: Int) throws {
        try withHub {
            let pool = ThreadPool(maxSize: size)
            defer { pool.kill() }
            let squares = try pool.map(0..<100) { (x: Int) -> Int in
                if x % 10 == 0 { usleep(1000) }
                return x * x
            }
            #expect(squares == (0..<100).map { $0 * $0 })
            let empty = try pool.map([Int]()) { $0 }
            #expect(empty.isEmpty)
        }
    }

    @Test func theHubRunsOtherGreenletsWhileACallerWaits() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            defer { pool.kill() }
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(2))
                    ticks += 1
                }
            }
            _ = try pool.apply { usleep(100_000) }
            #expect(ticks >= 5)
            try ticker.kill()
        }
    }

    @Test func tasksRunConcurrentlyUpToMaxSize() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 4)
            defer { pool.kill() }
            let start = ContinuousClock.now
            let results = try (0..<4).map { _ in try pool.spawn { usleep(200_000) } }
            for result in results { _ = try result.get() }
            // One after another this takes 800 ms.
            #expect(elapsedMilliseconds(since: start) < 700)
            #expect(pool.threadCount <= 4)
        }
    }

    @Test func countCountsTasksWhoseResultsHaveNotComeBack() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            defer { pool.kill() }
            let log = Mutex<[String]>([])
            let first = try pool.spawn {
                usleep(50_000)
                log.withLock { $0.append("a") }
            }
            #expect(pool.count == 1)
            // One task may wait in the queue while maxSize run (gevent's "+1 for better throughput").
            let second = try pool.spawn {
                usleep(50_000)
                log.withLock { $0.append("b") }
            }
            #expect(pool.count == 2)
            _ = try first.get()
            #expect(log.withLock { $0 } == ["a"])
            #expect(pool.count == 1)
            _ = try second.get()
            #expect(log.withLock { $0 } == ["a", "b"])
            #expect(pool.count == 0)
        }
    }

    @Test func joinWaitsForEveryTaskAndReturnsAtOnceWhenIdle() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 2)
            defer { pool.kill() }
            var otherRan = false
            spawn { otherRan = true }
            let idle = try pool.join()
            #expect(idle && !otherRan)
            let done = Atomic<Int>(0)
            for _ in 0..<4 {
                _ = try pool.spawn {
                    usleep(10_000)
                    done.add(1, ordering: .relaxed)
                }
            }
            try pool.join()
            #expect(done.load(ordering: .relaxed) == 4)
        }
    }

    @Test func aTaskMayApplyASubtaskOnItsOwnPoolAndUseGreenlets() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            defer { pool.kill() }
            let box = UncheckedBox(pool)
            let value = try pool.apply { () throws -> String in
                try box.value.apply { () throws -> String in
                    try sleep(.milliseconds(1))  // greenlets on the worker thread get a hub of their own
                    return "B"
                }
            }
            #expect(value == "B")
        }
    }

    @Test func spawningOntoAnotherPoolFromAWorkerThreadFailsWithInvalidThreadUse() throws {
        try withHub {
            let first = ThreadPool(maxSize: 1)
            let second = ThreadPool(maxSize: 1)
            defer {
                first.kill()
                second.kill()
            }
            let box = UncheckedBox(second)
            let result = try first.spawn { () throws -> Int in
                try box.value.spawn { 1 }.get()
            }
            #expect(throws: InvalidThreadUseError.self) { try result.get() }
        }
    }

    @Test func usingAPoolFromAThreadWithoutItsHubThrowsInvalidThreadUse() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            let box = UncheckedBox(pool)
            let outcome = Mutex<String>("")
            let thread = try NativeThread {
                do {
                    _ = try box.value.spawn { 1 }
                    outcome.withLock { $0 = "spawned" }
                } catch {
                    outcome.withLock { $0 = "\(error)" }
                }
            }
            thread.join()
            #expect(outcome.withLock { $0 }.contains("ThreadPool.spawn was called from a thread that does not own"))
        }
    }

    @Test func maxSizeZeroHoldsSpawnsUntilItIsRaisedAndLoweringItRetiresThreads() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 0)
            let log = Mutex<[Int]>([])
            var spawned: [AsyncResult<Void>] = []
            let spawner = spawn {
                for n in 1...2 {
                    spawned.append(try pool.spawn { log.withLock { $0.append(n) } })
                }
            }
            try sleep(.milliseconds(10))
            // The first task waits in the queue (the "+1"); the second spawn waits for a slot.
            #expect(spawned.count == 1)
            #expect(log.withLock { $0 }.isEmpty)
            pool.maxSize = 1
            try spawner.join()
            for result in spawned { _ = try result.get() }
            #expect(log.withLock { $0 } == [1, 2])
            pool.maxSize = 0
            let start = ContinuousClock.now
            while pool.threadCount > 0 && elapsedMilliseconds(since: start) < 5000 {
                try sleep(.milliseconds(1))
            }
            #expect(pool.threadCount == 0)
        }
    }

    @Test func idleWorkersRetireAfterTheIdleTimeout() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 2, idleTimeout: .milliseconds(20))
            let results = try (0..<2).map { _ in try pool.spawn { usleep(5_000) } }
            for result in results { _ = try result.get() }
            #expect(pool.threadCount >= 1)
            let start = ContinuousClock.now
            while pool.threadCount > 0 && elapsedMilliseconds(since: start) < 5000 {
                try sleep(.milliseconds(5))
            }
            #expect(pool.threadCount == 0)
            let again = try pool.apply { 1 }
            #expect(again == 1)
        }
    }

    @Test func killCancelsQueuedTasksWithGreenletExitAndRetiresTheThreads() throws {
        try withHub {
            let pool = ThreadPool(maxSize: 1)
            let started = Atomic<Bool>(false)
            let running = try pool.spawn { () -> Int in
                started.store(true, ordering: .releasing)
                usleep(50_000)
                return 1
            }
            #expect(spinUntil { started.load(ordering: .acquiring) })
            let queued = try pool.spawn { 2 }
            pool.kill()
            let finished = try running.get()
            #expect(finished == 1)
            #expect(throws: GreenletExit.self) { try queued.get() }
            let start = ContinuousClock.now
            while pool.threadCount > 0 && elapsedMilliseconds(since: start) < 5000 {
                try sleep(.milliseconds(1))
            }
            #expect(pool.threadCount == 0)
            #expect(pool.count == 0)
        }
    }

    @Test func theHubHasOneDefaultPoolSizedByTheEnvironment() throws {
        try withHub {
            let pool = Hub.current.threadPool
            #expect(pool === Hub.current.threadPool)
            #expect(pool.maxSize == ThreadPool.defaultMaxSize)
            let value = try pool.apply { 3 }
            #expect(value == 3)
        }
    }

    @Test func aNegativeMaxSizeStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            _ = ThreadPool(maxSize: -1)
        }
    }
}
