import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__hub.py, test__sleep0.py, test__order.py and the hub parts of test__api.py.
@Suite("Hub", .serialized, .timeLimit(.minutes(1)))
struct HubTests {
    @Test func sleepWaitsAboutAsLongAsAsked() throws {
        try withHub {
            let start = ContinuousClock.now
            try sleep(.milliseconds(100))
            let elapsed = elapsedMilliseconds(since: start)
            #expect(elapsed >= 95 && elapsed < 2000)
        }
    }

    @Test func sleepZeroInterleavesGreenletsInOrder() throws {
        try withHub {
            var log: [String] = []
            let a = spawn {
                log.append("1A")
                try sleep(.zero)
                log.append("1B")
            }
            let b = spawn {
                log.append("2A")
                try sleep(.zero)
                log.append("2B")
            }
            try joinAll([a, b])
            #expect(log.joined(separator: " ") == "1A 2A 1B 2B")
        }
    }

    @Test func callbacksRunInFifoOrderWithStartedGreenlets() throws {
        try withHub {
            var log: [Int] = []
            let hub = Hub.current
            hub.runCallback { log.append(1) }
            spawn { log.append(2) }
            hub.runCallback { log.append(3) }
            try sleep(.zero)
            #expect(log == [1, 2, 3])
        }
    }

    @Test func loopExitIsThrownIntoMainWithTheBlockedGreenlets() throws {
        try withHub {
            let stuck = Greenlet {}  // never started: nothing will ever finish it
            let waiter = spawn { try stuck.join() }
            do {
                try waiter.join()
                Issue.record("join should have thrown LoopExit")
            } catch let exit as LoopExit {
                #expect(exit.description.contains("This operation would block forever"))
                #expect(exit.blockedGreenlets.contains { $0.hasPrefix("main") })
                #expect(exit.blockedGreenlets.contains { $0.contains(waiter.name) && $0.contains("join") })
            }
            try waiter.kill()
        }
    }

    @Test func unreferencedTimersDoNotKeepTheLoopAlive() throws {
        try withHub {
            let hub = Hub.current
            let start = ContinuousClock.now
            // Hub.join's own timer is unreferenced: with nothing else, join returns at once.
            let outcome1 = try hub.join(timeout: .seconds(10))
            #expect(outcome1)
            #expect(elapsedMilliseconds(since: start) < 1000)
        }
    }

    @Test func hubJoinCanBeCalledRepeatedly() throws {
        try withHub {
            let outcome2 = try Hub.current.join()
            #expect(outcome2)
            let outcome3 = try Hub.current.join()
            #expect(outcome3)
        }
    }

    @Test func hubJoinFromAGreenletOtherThanMainIsRejected() throws {
        try withHub {
            let g = spawn { () throws -> Bool in try Hub.current.join() }
            #expect(throws: InvalidThreadUseError.self) { try g.get() }
        }
    }

    @Test func runThreadsafeWakesTheHubFromAnotherThread() throws {
        try withHub {
            let hub = Hub.current
            let sleeper = spawn { try sleep(.seconds(30)) }
            let box = UncheckedBox(sleeper)
            let thread = try NativeThread {
                usleep(20_000)
                hub.runThreadsafe { kill(box.value) }
            }
            let finished = try sleeper.join(timeout: .seconds(10))
            thread.join()
            #expect(finished)
            #expect(sleeper.isSuccessful && sleeper.greenletExit != nil)
        }
    }

    @Test func usingAGreenletFromAnotherThreadThrowsInvalidThreadUse() throws {
        try withHub {
            let g = spawn { try sleep(.seconds(30)) }
            let box = UncheckedBox(g)
            let outcome = Mutex<String>("not run")
            let thread = try NativeThread {
                do {
                    try box.value.join()
                    outcome.withLock { $0 = "joined" }
                } catch let error as InvalidThreadUseError {
                    outcome.withLock { $0 = error.description }
                } catch {
                    outcome.withLock { $0 = "other: \(error)" }
                }
            }
            thread.join()
            let text = outcome.withLock { $0 }
            #expect(text.contains("AnyGreenlet.join was called from a thread that does not own this object's hub"))
            try g.kill()
        }
    }

    @Test func eachThreadHasItsOwnHub() throws {
        try withHub {
            let mine = ObjectIdentifier(Hub.current)
            let other = Mutex<ObjectIdentifier?>(nil)
            let thread = try NativeThread {
                let hub = Hub.current
                other.withLock { $0 = ObjectIdentifier(hub) }
                try? sleep(.milliseconds(5))  // that thread's hub really runs
                try? hub.destroy()
            }
            thread.join()
            let theirs = other.withLock { $0 }
            #expect(theirs != nil && theirs != mine)
        }
    }

    /// A handler that keeps the failed greenlets (each holds its hub) would otherwise keep the destroyed
    /// hub, its loop's memory and everything it owned alive: a cycle.
    @Test func destroyDropsTheErrorHandlerAndWithItWhatItCollected() throws {
        weak var weakHub: Hub?
        weak var weakFailed: AnyGreenlet?
        do {
            let hub = Hub.current
            weakHub = hub
            var failed: [AnyGreenlet?] = []
            hub.errorHandler = { greenlet, _ in failed.append(greenlet) }
            let greenlet = spawn { throw ExpectedError() }
            weakFailed = greenlet
            _ = try? greenlet.join()
            try sleep(.zero)
            #expect(failed.count == 1)
            try hub.destroy()
        }
        let greenletIsGone = weakFailed == nil
        let hubIsGone = weakHub == nil
        #expect(greenletIsGone, "the failed greenlet outlived its hub: \(String(describing: weakFailed))")
        #expect(hubIsGone, "the hub outlived destroy()")
    }

    @Test func destroyKillsLiveGreenletsAndLeavesNoHub() throws {
        #expect(Hub.currentIfExists == nil)
        var cleanedUp = false
        let hub = Hub.current
        spawn {
            do { try sleep(.seconds(30)) } catch is GreenletExit { cleanedUp = true }
        }
        try sleep(.milliseconds(1))
        try hub.destroy()
        #expect(cleanedUp)
        #expect(Hub.currentIfExists == nil)
        // A new hub works after the old one is gone.
        try withHub {
            let value = try spawn { 1 }.get()
            #expect(value == 1)
        }
    }

    @Test func aTimeoutThatOutlivesItsHubIsHarmless() throws {
        var survivor: Timeout?
        try withHub {
            let timeout = Timeout(.seconds(30))
            try timeout.start()
            survivor = timeout
        }
        #expect(survivor?.isPending == true)
        survivor?.cancel()  // the hub and its loop are gone: this must not touch them
        survivor = nil
    }

    @Test func aThreadThatEndsWithAHubHasItDestroyed() throws {
        let cleanedUp = Mutex(false)
        let thread = try NativeThread {
            spawn {
                do { try sleep(.seconds(30)) } catch is GreenletExit { cleanedUp.withLock { $0 = true } }
            }
            try? sleep(.milliseconds(1))
            // The thread returns without Hub.destroy().
        }
        thread.join()
        #expect(cleanedUp.withLock { $0 })
    }

    @Test func tenThousandSleepingGreenletsRunConcurrently() throws {
        try withHub {
            let start = ContinuousClock.now
            let greenlets = (0..<10_000).map { _ in spawn { try sleep(.milliseconds(100)) } }
            try joinAll(greenlets, raiseError: true)
            let elapsed = elapsedMilliseconds(since: start)
            // Sequentially this would take 1,000 s; concurrently, about 0.1 s plus scheduling.
            #expect(elapsed < 5000)
            #expect(greenlets.allSatisfy { $0.isSuccessful })
        }
    }

    @Test func uncaughtErrorsGoToTheErrorHandlerAndTheProgramGoesOn() throws {
        try withHub {
            let log = ErrorLog()
            let bad = spawn { () throws in throw ExpectedError(tag: "handler") }
            let good = spawn { 2 }
            try joinAll([bad, good])
            #expect(log.entries.count == 1)
            #expect(log.entries.first?.greenlet === bad)
            #expect(good.value == 2)
        }
    }

    @Test func idleWaitsUntilTheLoopHasNothingElseToDo() throws {
        try withHub {
            var log: [String] = []
            spawn {
                try sleep(.zero)
                log.append("busy")
            }
            try idle()
            log.append("idle")
            #expect(log == ["busy", "idle"])
        }
    }
}

/// Carries a hub-bound value to another thread in tests that check what happens when it is misused there.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// A plain pthread for tests that need a second OS thread.
final class NativeThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: @Sendable () -> Void

    init(_ body: @escaping @Sendable () -> Void) throws {
        self.body = body
        let unmanaged = Unmanaged.passRetained(self)
        let status = pthread_create(
            &thread,
            nil,
            { argument in
                let me = Unmanaged<NativeThread>.fromOpaque(argument!).takeRetainedValue()
                me.body()
                return nil
            },
            unmanaged.toOpaque()
        )
        if status != 0 {
            unmanaged.release()
            throw ExpectedError(tag: "pthread_create failed: \(status)")
        }
    }

    func join() {
        pthread_join(thread, nil)
    }
}
