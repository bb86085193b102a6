import Gevent
import Testing

/// gevent's test__event.py for Event (§3.2 item 2), plus the ordering rules of issue #1520.
@Suite("Event", .serialized, .timeLimit(.minutes(1)))
struct EventTests {
    @Test func waitWithATimeoutReturnsFalseAfterAboutThatLong() throws {
        try withHub {
            let start = ContinuousClock.now
            let result = try Event().wait(timeout: .milliseconds(50))
            let elapsed = elapsedMilliseconds(since: start)
            #expect(!result)
            #expect(elapsed >= 40 && elapsed < 2000)
        }
    }

    @Test func geventWaitOnAnUnsetEventTimesOutWithNothingReady() throws {
        try withHub {
            let ready = try wait([Event()], timeout: .milliseconds(30))
            #expect(ready.isEmpty)
        }
    }

    @Test func waitReturnsTrueWhenASpawnedSetterSetsIt() throws {
        try withHub {
            let event = Event()
            spawn { event.set() }
            let result = try event.wait()
            #expect(result)
            #expect(event.isSet)
        }
    }

    @Test func aSetDuringTheWaitDoesNotLeakIntoAWaitAfterClear() throws {
        // gevent issue #771: a waiter woken inside the notification pass clears the event; a new wait then
        // must not be satisfied by the pass that is still running.
        try withHub {
            let event = Event()
            var outcome: (woke: Bool, readyAfterClear: Bool, laterWait: Int)?
            let waiter = spawn {
                let setter = spawn { event.set() }
                let woke = try event.wait()
                try setter.join()
                event.clear()
                let later = try wait([event], timeout: .milliseconds(10))
                outcome = (woke, event.isSet, later.count)
            }
            try waiter.get()
            #expect(outcome?.woke == true)
            #expect(outcome?.readyAfterClear == false)
            #expect(outcome?.laterWait == 0)
        }
    }

    @Test func waitersWakeInTheOrderTheyWaited() throws {
        try withHub {
            let event = Event()
            var log: [Int] = []
            let waiters = (1...5).map { n in
                spawn {
                    try event.wait()
                    log.append(n)
                }
            }
            try sleep(.zero)
            event.set()
            try joinAll(waiters)
            #expect(log == [1, 2, 3, 4, 5])
        }
    }

    @Test func aWaiterThatFindsItSetWhileWakingIsPendingQueuesBehindTheBlockedOnes() throws {
        // gevent test_wait_while_notifying (issue #1520): results are [1, 2, 3], all within one callback round.
        try withHub {
            let event = Event()
            var results: [Int] = []
            for n in 1...2 {
                spawn {
                    try event.wait()
                    results.append(n)
                }
            }
            try idle()
            #expect(event.linkCount == 2)
            event.set()
            try event.wait()
            results.append(3)
            #expect(results == [1, 2, 3])
        }
    }

    @Test(arguments: [1, 100, 1000])
    func setThenClearStillWakesEveryBlockedWaiter(count: Int) throws {
        try withHub {
            let event = Event()
            var woken = 0
            let waiters = (0..<count).map { _ in
                spawn {
                    if try event.wait() { woken += 1 }
                }
            }
            try sleep(.milliseconds(1))
            event.set()
            event.clear()
            try joinAll(waiters, timeout: .seconds(10))
            #expect(woken == count)
            #expect(!event.isSet)
        }
    }

    @Test func geventWaitOnASetEventTwiceReturnsItBothTimes() throws {
        try withHub {
            let event = Event()
            event.set()
            let first = try wait([event])
            let second = try wait([event])
            #expect(first.count == 1 && first.first === event)
            #expect(second.count == 1 && second.first === event)
        }
    }

    @Test(arguments: [nil, 1, 2] as [Int?])
    func geventWaitReturnsEventsAndResultsAsASenderSetsThem(count: Int?) throws {
        try withHub {
            var events = (0..<5).map { _ in Event() }
            var results = (0..<5).map { _ in AsyncResult<Int>() }
            let objects: [any Waitable] = events + results
            let sender = spawn {
                while !events.isEmpty || !results.isEmpty {
                    try sleep(.milliseconds(5))
                    events.popLast()?.set()
                    try sleep(.milliseconds(5))
                    results.popLast()?.set(1)
                }
            }
            let ready = try wait(objects, timeout: .seconds(5), count: count)
            #expect(ready.count == (count ?? 10))
            if count == nil {
                #expect(sender.isDead)
            } else {
                #expect(!sender.isDead)
                try sender.kill()
            }
        }
    }

    @Test func rawLinkCallbacksRunOnceSetAndCanBeUnlinked() throws {
        try withHub {
            let event = Event()
            var calls: [String] = []
            let kept = event.rawLinkReady { calls.append("kept") }
            let dropped = event.rawLinkReady { calls.append("dropped") }
            event.unlink(dropped)
            event.unlink(dropped)  // unknown tokens are ignored
            _ = kept
            #expect(event.linkCount == 1)
            event.set()
            try sleep(.zero)
            #expect(calls == ["kept"])
            #expect(event.linkCount == 0)
        }
    }

    @Test func setInsideTheHubWakesWaiters() throws {
        try withHub {
            let event = Event()
            Hub.current.runCallback { event.set() }
            let result = try event.wait(timeout: .seconds(5))
            #expect(result)
        }
    }

    @Test func waitingInsideTheHubOnAnUnsetEventThrowsBlockingSwitchOut() throws {
        try withHub {
            let event = Event()
            var caught: (any Error)?
            Hub.current.runCallback {
                do { try event.wait() } catch { caught = error }
            }
            try sleep(.milliseconds(1))
            #expect(caught is BlockingSwitchOutError)
        }
    }

    @Test func aWaitWithNothingThatCouldSetItEndsInLoopExit() throws {
        try withHub {
            #expect(throws: LoopExit.self) { try Event().wait() }
        }
    }

    @Test func anOuterTimeoutInterruptsAWaitWithItself() throws {
        try withHub {
            let outer = Timeout(.milliseconds(5))
            try outer.start()
            defer { outer.cancel() }
            do {
                try Event().wait(timeout: .seconds(1))
                Issue.record("the wait was not interrupted")
            } catch let fired as Timeout {
                #expect(fired === outer)
            }
        }
    }
}
