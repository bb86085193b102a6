import Gevent
import Testing

/// gevent's test__event.py for AsyncResult (§3.2 item 2) and AsyncResult as a link target (item 1).
@Suite("AsyncResult", .serialized, .timeLimit(.minutes(1)))
struct AsyncResultTests {
    @Test func waitWithATimeoutReturnsNilAfterAboutThatLong() throws {
        try withHub {
            let start = ContinuousClock.now
            let value = try AsyncResult<Int>().wait(timeout: .milliseconds(50))
            #expect(value == nil)
            #expect(elapsedMilliseconds(since: start) >= 40)
        }
    }

    @Test func getWithATimeoutThrowsATimeout() throws {
        try withHub {
            let start = ContinuousClock.now
            #expect(throws: Timeout.self) { try AsyncResult<Int>().get(timeout: .milliseconds(20)) }
            #expect(elapsedMilliseconds(since: start) >= 15)
        }
    }

    @Test func getWithoutBlockingOnAnEmptyResultThrowsATimeout() throws {
        try withHub {
            let result = AsyncResult<Int>()
            #expect(throws: Timeout.self) { try result.get(block: false) }
        }
    }

    @Test func aFreshResultIsEmpty() throws {
        try withHub {
            let result = AsyncResult<Int>()
            #expect(!result.isReady)
            #expect(!result.isSuccessful)
            #expect(result.value == nil)
            #expect(result.error == nil)
        }
    }

    @Test func setErrorWakesABlockedGetWhichThrowsIt() throws {
        try withHub {
            let result = AsyncResult<Int>()
            var caught: ExpectedError?
            spawn {
                do { _ = try result.get() } catch let error as ExpectedError { caught = error }
            }
            try sleep(.zero)
            result.setError(ExpectedError(tag: "set"))
            try sleep(.zero)
            try sleep(.zero)
            #expect(caught == ExpectedError(tag: "set"))
            #expect(result.isReady && !result.isSuccessful)
        }
    }

    @Test func aZeroTimeoutWithAnErrorInterruptsGetWithThatError() throws {
        try withHub {
            let result = AsyncResult<String>()
            let setter = spawn(after: .milliseconds(50)) { result.set("late") }
            let timeout = Timeout(.zero, error: ExpectedError(tag: "interrupted"))
            try timeout.start()
            defer { timeout.cancel() }
            #expect(throws: ExpectedError(tag: "interrupted")) { try result.get() }
            try setter.kill()
        }
    }

    @Test func withTimeoutReturnsTheDefaultWhenNothingIsSet() throws {
        try withHub {
            let result = AsyncResult<Int>()
            let value = try withTimeout(.milliseconds(20), default: -1) { try result.get() }
            #expect(value == -1)
        }
    }

    @Test func getAfterSetReturnsAtOnceWithoutSwitching() throws {
        try withHub {
            let result = AsyncResult<Int>()
            result.set(7)
            var otherRan = false
            spawn { otherRan = true }
            let value = try result.get()
            #expect(value == 7)
            #expect(!otherRan)
        }
    }

    @Test func linkedResultsReceiveTheValueAndErrorLinksDoNotFire() throws {
        try withHub {
            let g = spawn { 1 }
            let always = AsyncResult<Int>()
            let onValue = AsyncResult<Int>()
            let onError = AsyncResult<Int>()
            g.link(always)
            g.linkValue(onValue)
            g.linkError(onError)
            let first = try always.get()
            let second = try onValue.get()
            #expect(first == 1 && second == 1)
            let third = try withTimeout(.milliseconds(20), default: -1) { try onError.get() }
            #expect(third == -1)
        }
    }

    @Test func linkedResultsReceiveTheErrorAndValueLinksDoNotFire() throws {
        try withHub {
            _ = ErrorLog()
            let g = spawn { () throws -> Int in throw ExpectedError(tag: "link") }
            let always = AsyncResult<Int>()
            let onValue = AsyncResult<Int>()
            let onError = AsyncResult<Int>()
            g.link(always)
            g.linkValue(onValue)
            g.linkError(onError)
            #expect(throws: ExpectedError(tag: "link")) { try always.get() }
            #expect(throws: ExpectedError(tag: "link")) { try onError.get() }
            let value = try withTimeout(.milliseconds(20), default: -1) { try onValue.get() }
            #expect(value == -1)
        }
    }

    @Test func resultsLinkedAfterTheGreenletFinishedStillReceiveItsValue() throws {
        try withHub {
            let g = spawn { 100 }
            try g.join()
            let results = (0..<3).map { _ in AsyncResult<Int>() }
            for result in results { g.link(result) }
            let values = try results.map { try $0.get() }
            #expect(values == [100, 100, 100])
        }
    }

    @Test func aKilledGreenletDeliversGreenletExit() throws {
        try withHub {
            let g = spawn { () throws -> Int in
                try sleep(.seconds(10))
                return 1
            }
            let result = AsyncResult<Int>()
            g.link(result)
            try sleep(.zero)
            try g.kill()
            #expect(throws: GreenletExit.self) { try result.get() }
        }
    }

    @Test func waitersWakeInOrderAndLateWaitersQueueBehind() throws {
        try withHub {
            let result = AsyncResult<Int>()
            var log: [Int] = []
            for n in 1...3 {
                spawn {
                    _ = try result.wait()
                    log.append(n)
                }
            }
            try sleep(.zero)
            result.set(5)
            let value = try result.wait()
            log.append(4)
            #expect(value == 5)
            #expect(log == [1, 2, 3, 4])
        }
    }

    @Test func aRawLinkThatUnlinksALaterOnePreventsIt() throws {
        try withHub {
            let result = AsyncResult<Int>()
            var fired: [Int] = []
            var later: LinkToken?
            _ = result.rawLinkReady {
                fired.append(5)
                if let later { result.unlink(later) }
            }
            later = result.rawLinkReady { fired.append(6) }
            result.set(1)
            try sleep(.milliseconds(1))
            #expect(fired == [5])
        }
    }
}
