import Gevent
import Testing

/// gevent's test__joinall.py, test__iwait.py, and the wait/joinall parts of test__greenlet.py.
@Suite("JoinAllAndWait", .serialized, .timeLimit(.minutes(1)))
struct WaitTests {
    @Test func joinAllReturnsEveryValue() throws {
        try withHub {
            let greenlets = [spawn { 1 }, spawn { 2 }, spawn { 3 }]
            let finished = try joinAll(greenlets, raiseError: true)
            #expect(finished.count == 3)
            #expect(greenlets.map(\.value) == [1, 2, 3])
        }
    }

    @Test func joinAllAcceptsDuplicates() throws {
        try withHub {
            let g = spawn { 1 }
            let finished = try joinAll([g, g])
            #expect(finished.count == 2)
        }
    }

    @Test func joinAllRaisesTheFirstErrorToHappen() throws {
        try withHub {
            _ = ErrorLog()
            let slow = spawn { () throws -> Int in
                try sleep(.milliseconds(100))
                throw ExpectedError(tag: "first")
            }
            let fast = spawn { () throws -> Int in throw ExpectedError(tag: "second") }
            #expect(throws: ExpectedError(tag: "second")) { try joinAll([slow, fast], raiseError: true) }
            try slow.kill()
        }
    }

    @Test func joinAllWithCountReturnsEarly() throws {
        try withHub {
            _ = ErrorLog()
            let sleeper = spawn { try sleep(.seconds(10)) }
            let raiser = spawn { () throws in throw ExpectedError() }
            let finished = try joinAll([sleeper, raiser], count: 1)
            #expect(finished.count == 1 && finished.first === raiser)
            #expect(!sleeper.isDead)
            try sleeper.kill()
        }
    }

    @Test func joinAllWithTimeoutReturnsThePartialList() throws {
        try withHub {
            let quick = spawn { try sleep(.milliseconds(5)) }
            let slow = spawn { try sleep(.seconds(10)) }
            let unstarted = Greenlet {}
            let start = ContinuousClock.now
            let finished = try joinAll([quick, slow, unstarted], timeout: .milliseconds(100))
            #expect(finished.count == 1 && finished.first === quick)
            #expect(elapsedMilliseconds(since: start) >= 80)
            try slow.kill()
        }
    }

    @Test func iwaitYieldsInCompletionOrder() throws {
        try withHub {
            let greenlets = [30, 10, 20].map { delay in
                spawn { () throws -> Int in
                    try sleep(.milliseconds(delay))
                    return delay
                }
            }
            let iterator = iwait(greenlets)
            var order: [Int] = []
            while let next = try iterator.next() {
                order.append((next as! Greenlet<Int>).value!)
            }
            #expect(order == [10, 20, 30])
        }
    }

    @Test func iwaitStopsAtTheTimeoutAndUnlinksTheRest() throws {
        try withHub {
            let slow = spawn { try sleep(.seconds(10)) }
            let iterator = iwait([slow], timeout: .milliseconds(20))
            let first = try iterator.next()
            #expect(first == nil)
            #expect(!slow.hasLinks)
            try slow.kill()
        }
    }

    @Test func waitWithoutObjectsReturnsWhenNothingIsLeft() throws {
        try withHub {
            var done = false
            spawn { done = true }
            let finished = try wait(timeout: .seconds(10))
            #expect(finished && done)

            let start = ContinuousClock.now
            spawn(after: .milliseconds(50)) {}
            let outcome1 = try wait()
            #expect(outcome1)
            #expect(elapsedMilliseconds(since: start) >= 40)
        }
    }

    @Test func waitWithoutObjectsTimesOutWhileAGreenletIsPending() throws {
        try withHub {
            let later = spawn(after: .seconds(10)) {}
            let finished = try wait(timeout: .milliseconds(50))
            #expect(!finished)
            #expect(later.hasStarted)
            try later.kill()
            let outcome2 = try wait()
            #expect(outcome2)
            let outcome3 = try Hub.current.join()
            #expect(outcome3)
        }
    }
}
