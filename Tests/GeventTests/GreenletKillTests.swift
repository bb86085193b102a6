import Gevent
import Testing

/// gevent's kill matrix (TestKill, TestKillAfterStart, TestKillAfterStartLater, TestKillWhileRunning) and
/// test__GreenletExit.py.
@Suite("GreenletKill", .serialized, .timeLimit(.minutes(1)))
struct GreenletKillTests {
    enum Start: CaseIterable {
        case never
        case started
        case startedLater
        case running
    }

    enum Killer: CaseIterable {
        case method
        case killAll
    }

    enum Kind: CaseIterable {
        case greenletExit
        case otherError
    }

    @Test(arguments: Start.allCases, Killer.allCases)
    func killedGreenletEndsAndItsBodyDoesNotFinish(start: Start, killer: Killer) throws {
        for kind in Kind.allCases {
            for block in [true, false] {
                try withHub {
                    try checkKill(start: start, killer: killer, kind: kind, block: block)
                }
            }
        }
    }

    private func checkKill(start: Start, killer: Killer, kind: Kind, block: Bool) throws {
        let log = ErrorLog()
        var bodyRan: [String] = []
        var linkFired: [AnyGreenlet] = []
        let g = Greenlet {
            if start == .running {
                try sleep(.seconds(10))
            }
            bodyRan.append("finished")
        }
        g.link { linkFired.append($0) }
        switch start {
        case .never: break
        case .started: g.start()
        case .startedLater: g.start(after: .milliseconds(200))
        case .running:
            g.start()
            try sleep(.milliseconds(1))
            #expect(g.hasStarted && !g.isReady)
        }
        let error: any Error = kind == .greenletExit ? GreenletExit() : ExpectedError()
        switch killer {
        case .method: try g.kill(error, block: block)
        case .killAll: try killAll([g], error: error, block: block)
        }
        if !block {
            try sleep(.milliseconds(1))
        }
        for _ in 0..<2 {
            #expect(bodyRan.isEmpty, "the body must never finish: \(start) \(killer) \(kind) block=\(block)")
            #expect(!g.hasStarted && g.isDead && g.isReady)
            switch kind {
            case .greenletExit:
                #expect(g.isSuccessful)
                #expect(g.error == nil)
                #expect(g.greenletExit != nil)
                #expect(throws: GreenletExit.self) { try g.get() }
            case .otherError:
                #expect(!g.isSuccessful)
                #expect(g.error is ExpectedError)
                #expect(g.greenletExit == nil)
            }
            try g.kill()  // a second kill is harmless
            try sleep(.milliseconds(10))
        }
        #expect(linkFired.count == 1 && linkFired.first === g)
        #expect(log.entries.count == (kind == .otherError ? 1 : 0))
    }

    @Test func blockingKillRunsTheVictimsCleanupBeforeReturning() throws {
        try withHub {
            var log: [String] = []
            let g = spawn {
                log.append("start")
                do {
                    try sleep(.seconds(10))
                } catch is GreenletExit {
                    log.append("except")
                }
                log.append("finished")
            }
            try sleep(.milliseconds(1))
            try g.kill()
            #expect(log == ["start", "except", "finished"])
        }
    }

    @Test func killingTheCurrentGreenletThrowsAtOnce() throws {
        try withHub {
            var caught = false
            let g = spawn {
                do {
                    try getCurrent().kill()
                } catch is GreenletExit {
                    caught = true
                }
            }
            try g.join()
            #expect(caught)
        }
    }

    @Test func undeadGreenletOutlivesABlockingKillWithTimeout() throws {
        try withHub {
            var shots = 0
            let g = spawn {
                while true {
                    do {
                        try sleep(.seconds(10))
                    } catch is GreenletExit {
                        shots += 1
                    }
                }
            }
            try sleep(.milliseconds(1))
            try g.kill(timeout: .milliseconds(50))
            #expect(shots == 1)
            #expect(!g.isDead)
            try g.kill(ExpectedError(), block: false)
            try sleep(.milliseconds(5))
            #expect(g.isDead)
            #expect(g.error is ExpectedError)
        }
    }

    @Test func killAllWithTimeoutThrowsWhenVictimsSurvive() throws {
        try withHub {
            let survivors = (0..<2).map { _ in
                spawn {
                    do { try sleep(.seconds(10)) } catch is GreenletExit { try sleep(.seconds(1)) }
                }
            }
            try sleep(.milliseconds(1))
            #expect(throws: Timeout.self) { try killAll(survivors, timeout: .milliseconds(50)) }
            #expect(survivors.allSatisfy { !$0.isDead })
            try killAll(survivors, error: ExpectedError())
        }
    }

    @Test func killAllOfNotYetRunGreenletsNeverRunsThem() throws {
        try withHub {
            var ran = 0
            let greenlets = (0..<5).map { _ in spawn { ran += 1 } }
            try killAll(greenlets, timeout: .milliseconds(500))
            #expect(greenlets.allSatisfy { $0.isDead })
            try sleep(.milliseconds(5))
            #expect(ran == 0)
        }
    }

    @Test func asyncKillFunctionDeliversAtTheNextSwitch() throws {
        try withHub {
            let g = spawn { try sleep(.seconds(10)) }
            try sleep(.milliseconds(1))
            kill(g)
            #expect(!g.isDead)
            try sleep(.milliseconds(1))
            #expect(g.isDead && g.isSuccessful)
        }
    }
}
