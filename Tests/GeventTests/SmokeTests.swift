import Gevent
import Testing

@Suite("Smoke", .serialized, .timeLimit(.minutes(1)))
struct SmokeTests {
    @Test func spawnJoinGet() throws {
        try withHub {
            let g = spawn { 42 }
            let value = try g.get()
            #expect(value == 42)
            #expect(g.isReady)
            #expect(g.isSuccessful)
        }
    }

    @Test func orderOfSleepZero() throws {
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
            #expect(log == ["1A", "2A", "1B", "2B"])
        }
    }

    @Test func loopExit() throws {
        try withHub {
            let g = Greenlet { 1 }
            #expect(throws: LoopExit.self) { try g.join() }
        }
    }
}
