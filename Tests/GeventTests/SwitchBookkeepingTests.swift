import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A global that the tests below hold an `inout` access to while a hub runs.
nonisolated(unsafe) var counterOutsideTheHub = 0

/// Runs `body` while a modify access to `value` is open.
func insideAnAccess<T>(to value: inout Int, _ body: () throws -> T) rethrows -> T {
    value += 1
    return try body()
}

/// Overflows a greenlet that has no name of its own: the report names its spawn site.
func overflowAnUnnamedGreenletStack() {
    let greenlet = Greenlet(stackSize: 64 * 1024) { recurseForever(0) }
    greenlet.start()
    _ = try? greenlet.join()
}

/// What every switch carries besides the registers (DESIGN §3): errno per greenlet, and Swift's
/// exclusivity access set per greenlet, also when the thread had accesses open before its hub existed.
@Suite("SwitchBookkeeping", .serialized, .timeLimit(.minutes(1)))
struct SwitchBookkeepingTests {
    @Test func errnoIsSavedAndRestoredPerGreenlet() throws {
        try withHub {
            func keepErrno(_ value: Int32) -> Greenlet<[Int32]> {
                spawn {
                    var seen: [Int32] = []
                    for _ in 0..<3 {
                        errno = value
                        try sleep(.zero)
                        seen.append(errno)
                        errno = value
                        try sleep(.milliseconds(1))
                        seen.append(errno)
                    }
                    return seen
                }
            }
            let first = keepErrno(EAGAIN)
            let second = keepErrno(EINTR)
            errno = ENOENT
            try joinAll([first, second])
            let mainErrno = errno
            #expect(mainErrno == ENOENT)
            #expect(first.value == Array(repeating: EAGAIN, count: 6))
            #expect(second.value == Array(repeating: EINTR, count: 6))
        }
    }

    @Test func greenletsStayIsolatedWhenTheThreadHadAnAccessOpenBeforeItsHub() throws {
        // The switch skips the runtime's "enter" call when there is nothing to splice; with an access open
        // outside the hub there always is. Getting that wrong hides the outer access inside a greenlet's
        // set, and ending it then traps ("access not found").
        let pair = try insideAnAccess(to: &counterOutsideTheHub) {
            var result = Pair()
            try withHub {
                result = try touchNeighbourWhileAnotherGreenletHoldsAnAccess()
            }
            return result
        }
        #expect(pair == Pair(left: 2, right: 10))
    }

    @Test func joinAllReportsGreenletsInTheOrderTheyFinished() throws {
        try withHub {
            let greenlets = [30, 10, 20].map { delay in
                spawn { () throws -> Int in
                    try sleep(.milliseconds(delay))
                    return delay
                }
            }
            let finished = try joinAll(greenlets)
            #expect(finished.map { ($0 as! Greenlet<Int>).value } == [10, 20, 30])
        }
    }

    @Test func anUnnamedGreenletIsReportedByItsSpawnSiteWhenItOverflows() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            overflowAnUnnamedGreenletStack()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            // The name keeps the end of a long path: file name and line.
            let pattern = #/greenlet spawned at \S*BookkeepingTests\.swift:\d+ overflowed its 64 KiB stack/#
            #expect(stderr.contains(pattern), "stderr was: \(stderr)")
        }
    }
}
