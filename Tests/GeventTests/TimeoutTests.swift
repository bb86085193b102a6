import Gevent
import Testing

/// gevent's test__timeout.py and test__api_timeout.py.
@Suite("Timeout", .serialized, .timeLimit(.minutes(1)))
struct TimeoutTests {
    @Test func firingTimeoutIsThrownIntoTheStarterAndCanBeRestarted() throws {
        try withHub {
            let timeout = Timeout(.milliseconds(10))
            for _ in 0..<2 {
                try timeout.start()
                #expect(timeout.isPending)
                do {
                    try sleep(.seconds(5))
                    Issue.record("the sleep should have been interrupted")
                } catch let fired as Timeout {
                    #expect(fired === timeout)
                }
                #expect(!timeout.isPending)
            }
        }
    }

    @Test func startingAPendingTimeoutIsAnError() throws {
        try withHub {
            let timeout = Timeout(.seconds(1))
            try timeout.start()
            defer { timeout.cancel() }
            #expect(throws: TimeoutAlreadyPending.self) { try timeout.start() }
        }
    }

    @Test func customErrorIsThrownInstead() throws {
        try withHub {
            let timeout = Timeout(.milliseconds(5), error: ExpectedError(tag: "io"))
            try timeout.start()
            #expect(throws: ExpectedError(tag: "io")) { try sleep(.seconds(5)) }
        }
    }

    @Test func cancelledTimeoutNeverFires() throws {
        try withHub {
            let timeout = Timeout(.milliseconds(5))
            try timeout.start()
            timeout.cancel()
            #expect(!timeout.isPending)
            try sleep(.milliseconds(20))
        }
    }

    @Test func nilTimeoutNeverFires() throws {
        try withHub {
            let value = try Timeout.run(nil) { () throws -> Int in
                try sleep(.milliseconds(5))
                return 7
            }
            #expect(value == 7)
        }
    }

    @Test func silentRunReturnsNilWhenItsTimeoutFires() throws {
        try withHub {
            let start = ContinuousClock.now
            let value = try Timeout.run(.milliseconds(20), silent: true) { () throws -> Int in
                try sleep(.seconds(5))
                return 1
            }
            #expect(value == nil)
            #expect(elapsedMilliseconds(since: start) < 2000)
        }
    }

    @Test func withTimeoutReturnsTheDefaultOnlyForItsOwnTimeout() throws {
        try withHub {
            let fallback = try withTimeout(.milliseconds(10), default: "fallback") { () throws -> String in
                try sleep(.seconds(5))
                return "body"
            }
            #expect(fallback == "fallback")
            let body = try withTimeout(.milliseconds(200), default: "fallback") { () throws -> String in
                try sleep(.milliseconds(5))
                return "body"
            }
            #expect(body == "body")
            #expect(throws: Timeout.self) {
                try withTimeout(.milliseconds(10)) { try sleep(.seconds(5)) }
            }
        }
    }

    @Test func nestedTimeoutsAreToldApart() throws {
        try withHub {
            let outer = Timeout(.milliseconds(10))
            let inner = Timeout(.milliseconds(500))
            try outer.start()
            do {
                try inner.start()
                defer { inner.cancel() }
                try sleep(.seconds(5))
            } catch let fired as Timeout {
                #expect(fired === outer)
                #expect(!outer.isPending)
            }
            #expect(!inner.isPending)

            let outer2 = Timeout(.milliseconds(500))
            let inner2 = Timeout(.milliseconds(10))
            try outer2.start()
            defer { outer2.cancel() }
            do {
                try inner2.start()
                try sleep(.seconds(5))
            } catch let fired as Timeout {
                #expect(fired === inner2)
                #expect(outer2.isPending)
            }
        }
    }

    @Test func outerWithTimeoutWinsOverAnInnerDefault() throws {
        try withHub {
            #expect(throws: Timeout.self) {
                try withTimeout(.milliseconds(20)) {
                    try withTimeout(.milliseconds(500), default: 1) { () throws -> Int in
                        try sleep(.seconds(2))
                        return 2
                    }
                }
            }
        }
    }

    @Test func timeoutInterruptsASleepZeroLoop() throws {
        try withHub {
            var spins = 0
            _ = try Timeout.run(.milliseconds(20), silent: true) {
                while true {
                    try sleep(.zero)
                    spins += 1
                }
            }
            #expect(spins > 0)
        }
    }

    @Test func timeoutInterruptsAJoinInAnotherGreenlet() throws {
        try withHub {
            let sleeper = spawn { try sleep(.seconds(10)) }
            let waiter = spawn { () throws -> Bool in
                try withTimeout(.milliseconds(10), default: false) { try sleeper.join() }
            }
            let joined = try waiter.get()
            #expect(!joined)
            try sleeper.kill()
        }
    }
}
