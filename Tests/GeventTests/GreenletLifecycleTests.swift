import Gevent
import Testing

/// gevent's test__greenlet.py: construction, start, completion, state flags, values and errors.
@Suite("GreenletLifecycle", .serialized, .timeLimit(.minutes(1)))
struct GreenletLifecycleTests {
    @Test func stateFlagsFollowTheLifecycle() throws {
        try withHub {
            var linked: [AnyGreenlet] = []
            let g = Greenlet { () throws -> Int in
                try sleep(.milliseconds(10))
                return 5
            }
            g.rawLink { linked.append($0) }
            #expect(!g.hasStarted && !g.isDead && !g.isReady && !g.isSuccessful)
            #expect(g.value == nil && g.error == nil)

            g.start()
            #expect(g.hasStarted && !g.isReady && !g.isDead)
            try sleep(.milliseconds(1))
            #expect(g.hasStarted && !g.isReady)
            #expect(linked.isEmpty)

            try sleep(.milliseconds(50))
            #expect(!g.hasStarted, "started turns false again after the greenlet finished")
            #expect(g.isDead && g.isReady && g.isSuccessful)
            #expect(g.value == 5 && g.error == nil)
            #expect(linked.count == 1 && linked.first === g)
        }
    }

    @Test func failingGreenletKeepsItsErrorAndIsReportedOnce() throws {
        try withHub {
            let log = ErrorLog()
            let g = spawn { () throws -> Int in throw ExpectedError(tag: "boom") }
            try sleep(.milliseconds(5))
            #expect(g.isDead && g.isReady && !g.isSuccessful)
            #expect(g.value == nil)
            #expect((g.error as? ExpectedError) == ExpectedError(tag: "boom"))
            #expect(log.entries.count == 1)
            #expect(log.entries.first?.greenlet === g)
            #expect(throws: ExpectedError(tag: "boom")) { try g.get() }
        }
    }

    @Test func getReturnsTheValueAndWaits() throws {
        try withHub {
            let g = spawn { () throws -> String in
                try sleep(.milliseconds(20))
                return "done"
            }
            let value = try g.get()
            #expect(value == "done")
        }
    }

    @Test func getWithoutBlockingOnARunningGreenletThrowsTimeout() throws {
        try withHub {
            let g = spawn { try sleep(.seconds(10)) }
            #expect(throws: Timeout.self) { try g.get(block: false) }
            try g.kill()
        }
    }

    @Test func getTimesOutWithATimeout() throws {
        try withHub {
            let g = spawn { try sleep(.seconds(10)) }
            #expect(throws: Timeout.self) { try g.get(timeout: .milliseconds(10)) }
            #expect(!g.isReady)
            try g.kill()
        }
    }

    @Test func joinWithTimeoutReturnsFalseWhileRunning() throws {
        try withHub {
            let g = spawn { try sleep(.seconds(10)) }
            let start = ContinuousClock.now
            let finished = try g.join(timeout: .milliseconds(200))
            let elapsed = elapsedMilliseconds(since: start)
            #expect(!finished)
            #expect(elapsed >= 150 && elapsed < 2000)
            try g.kill()
        }
    }

    @Test func startIsIdempotentAndDoesNothingAfterFinishing() throws {
        try withHub {
            var runs = 0
            let g = spawn { runs += 1 }
            g.start()
            #expect(g.hasStarted)
            try g.join()
            g.start()
            try sleep(.milliseconds(5))
            #expect(runs == 1)
            #expect(!g.hasStarted && g.isDead)
        }
    }

    @Test func startAfterDelaysTheFirstRun() throws {
        try withHub {
            var ran = false
            let start = ContinuousClock.now
            let g = spawn(after: .milliseconds(50)) { ran = true }
            try sleep(.milliseconds(5))
            #expect(!ran)
            #expect(g.hasStarted)
            try g.join()
            #expect(ran)
            #expect(elapsedMilliseconds(since: start) >= 40)
        }
    }

    @Test func namesAndIdentsAreSmallAndReused() throws {
        try withHub {
            #expect(getCurrent().minimalIdent == 0)
            #expect(getCurrent().name == "main")
            var a: Greenlet<Void>? = Greenlet {}
            let b = Greenlet {}
            #expect(a!.minimalIdent == 1)
            #expect(b.minimalIdent == 2)
            #expect(b.name == "Greenlet-2")
            a = nil
            let c = Greenlet {}
            #expect(c.minimalIdent == 1, "the smallest released ident is reused")
            c.name = "worker"
            #expect(c.name == "worker")
            #expect(c.description.contains("\"worker\""))
            #expect(c.spawnSite.hasPrefix("GeventTests/GreenletLifecycleTests.swift:"))
            _ = a
        }
    }

    @Test func spawnRawRunsTheFunction() throws {
        try withHub {
            var got: [Int] = []
            let g = spawnRaw { got.append(1) }
            try sleep(.milliseconds(1))
            #expect(got == [1])
            #expect(g.isDead)
        }
    }

    @Test func aGreenletSpawnedByAnExitingGreenletStillRuns() throws {
        try withHub {
            var ran = false
            let parent = spawn {
                spawn(after: .milliseconds(10)) { ran = true }
            }
            try parent.join()
            try sleep(.milliseconds(50))
            #expect(ran)
        }
    }

    @Test func getCurrentInsideAGreenletIsThatGreenlet() throws {
        try withHub {
            var inside: AnyGreenlet?
            let g = spawn { inside = getCurrent() }
            try g.join()
            #expect(inside === g)
            #expect(getCurrent() === Hub.current.mainGreenlet)
        }
    }
}
