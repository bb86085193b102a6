import CGreenlet
import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct Pair: Equatable {
    var left = 0
    var right = 0
}

/// A global, so Swift checks exclusive access to it at run time.
nonisolated(unsafe) var sharedPair = Pair()

/// Holds a modify access to `value` open across a switch to other greenlets.
func bumpAcrossASwitch(_ value: inout Int) throws {
    value += 1
    try sleep(.zero)
    value += 1
}

/// Two greenlets: one parks inside an `inout` access to `sharedPair.left`, the other touches
/// `sharedPair.right`. Swift tracks the whole global, so without a per-greenlet access set the second
/// access looks simultaneous with the first and traps.
func touchNeighbourWhileAnotherGreenletHoldsAnAccess() throws -> Pair {
    sharedPair = Pair()
    let holder = spawn { try bumpAcrossASwitch(&sharedPair.left) }
    let neighbour = spawn { sharedPair.right += 10 }
    try joinAll([holder, neighbour], raiseError: true)
    return sharedPair
}

@inline(never)
func recurseForever(_ depth: Int) -> Int {
    var frame = (depth, depth, depth, depth, depth, depth, depth, depth)
    withUnsafeMutablePointer(to: &frame) { pointer in
        pointer.pointee.0 &+= 1  // keeps the frame from being optimized away
    }
    return recurseForever(depth + 1) &+ frame.0
}

func overflowAGreenletStack() {
    let greenlet = Greenlet(name: "deep-recursion", stackSize: 64 * 1024) { recurseForever(0) }
    greenlet.start()
    _ = try? greenlet.join()
}

func readGreenletStateFromAnotherThread() {
    let greenlet = Greenlet {}
    let box = UncheckedBox(greenlet)
    let thread = try! NativeThread { _ = box.value.isReady }
    thread.join()
}

/// Exclusivity, stack overflow and misuse that must abort (DESIGN §3). Crashes run as exit tests.
@Suite("ExclusivityAndCrashes", .serialized, .timeLimit(.minutes(2)))
struct CrashTests {
    @Test func greenletsHaveTheirOwnExclusivityAccessSets() throws {
        try withHub {
            let result = try touchNeighbourWhileAnotherGreenletHoldsAnAccess()
            #expect(result == Pair(left: 2, right: 10))
        }
    }

    @Test func withoutTheAccessSetSwapTheSameCodeTraps() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            cgreenlet_set_exclusivity_swap(false)
            _ = try? touchNeighbourWhileAnotherGreenletHoldsAnAccess()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(stderr.contains("Simultaneous accesses"))
        }
    }

    @Test func stackOverflowNamesTheGreenletAndTheSettingThenAborts() async {
        let result = await #expect(processExitsWith: .signal(SIGABRT), observing: [\.standardErrorContent]) {
            overflowAGreenletStack()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(stderr.contains("greenlet deep-recursion overflowed its 64 KiB stack; set GEVENT_STACK_SIZE"))
        }
    }

    @Test func readingAGreenletFromAnotherThreadStopsWithAClearMessage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            readGreenletStateFromAnotherThread()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            #expect(stderr.contains("AnyGreenlet.isReady was called from a thread that does not own this object's hub"))
        }
    }

    /// Printing is not reading state: a logger or a failed expectation on another thread prints greenlets.
    @Test func describingAGreenletFromAnotherThreadShowsWhatNeverChanges() throws {
        try withHub {
            let greenlet = Greenlet {}
            let box = UncheckedBox(greenlet)
            let printed = Mutex("")
            let thread = try NativeThread { printed.withLock { $0 = box.value.description } }
            thread.join()
            let text = printed.withLock { $0 }
            #expect(text.hasPrefix("<Greenlet spawned at GeventTests/CrashTests.swift:"), "\(text)")
            #expect(text.hasSuffix(" (of another thread's hub)>"), "\(text)")
            #expect(greenlet.description.contains(", not started>"), "on its own thread: \(greenlet)")
        }
    }

    @Test func defaultErrorReportHasTimestampNameSpawnSiteAndError() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            reportAnErrorWithTheDefaultHandler()
        }
        if let result {
            let stderr = String(decoding: result.standardErrorContent, as: UTF8.self)
            let pattern =
                #/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ Greenlet-1 \(spawned at GeventTests/CrashTests.swift:\d+\) failed with ExpectedError: ExpectedError\(tag: "reported"\)/#
            #expect(stderr.contains(pattern), "stderr was: \(stderr)")
            #expect(stderr.contains("program went on"))
        }
    }
}

func reportAnErrorWithTheDefaultHandler() {
    let failing = spawn { () throws in throw ExpectedError(tag: "reported") }
    _ = try? failing.join()
    let message = "program went on\n"
    _ = message.withCString { write(2, $0, strlen($0)) }
}
