import Gevent
import Testing

/// The four buffered queue types, for tests that hold for each (gevent runs its queue tests per class).
enum QueueKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case queue
    case joinable
    case lifo
    case priority

    func make(maxSize: Int? = nil) -> Queue<Int> {
        switch self {
        case .queue: return Queue(maxSize: maxSize)
        case .joinable: return JoinableQueue(maxSize: maxSize)
        case .lifo: return LifoQueue(maxSize: maxSize)
        case .priority: return PriorityQueue(maxSize: maxSize)
        }
    }

    var testDescription: String { rawValue }
}

/// Runs `body` as a hub callback (inside the hub) and returns its result or error after one yield.
func resultInsideTheHub<T>(_ body: @escaping () throws -> T) throws -> Result<T, any Error>? {
    var outcome: Result<T, any Error>?
    Hub.current.runCallback { outcome = Result { try body() } }
    try sleep(.zero)
    return outcome
}

/// gevent's test__queue.py (§3.2 item 3) for Queue/SimpleQueue and the joinable, LIFO and priority queues.
@Suite("Queue", .serialized, .timeLimit(.minutes(1)))
struct QueueTests {
    @Test func putIntoAFullQueueInsideTheHubThrowsQueueFull() throws {
        try withHub {
            let queue = Queue<Int>(maxSize: 1)
            let first = try resultInsideTheHub { try queue.tryPut(2) }
            let second = try resultInsideTheHub { try queue.tryPut(3) }
            #expect((try? first?.get()) != nil)
            #expect(throws: QueueFull.self) { try second?.get() }
        }
    }

    @Test func getFromAnEmptyQueueInsideTheHubThrowsQueueEmpty() throws {
        try withHub {
            let queue = Queue<Int>(maxSize: 1)
            try queue.put(4)
            let first = try resultInsideTheHub { try queue.tryGet() }
            let second = try resultInsideTheHub { try queue.tryGet() }
            #expect(try first?.get() == 4)
            #expect(throws: QueueEmpty.self) { try second?.get() }
        }
    }

    @Test func putInsideTheHubHandsTheItemToAWaitingGetter() throws {
        try withHub {
            let queue = Queue<Int>()
            let getter = spawn { try queue.get() }
            try sleep(.milliseconds(1))
            #expect(queue.isEmpty && !queue.isFull)
            var putResult: Result<Void, any Error>?
            Hub.current.runCallback { putResult = Result { try queue.tryPut(10) } }
            #expect(!getter.isReady)
            try sleep(.milliseconds(1))
            #expect(putResult != nil && (try? putResult?.get()) != nil)
            #expect(getter.isReady)
            #expect(getter.value == 10)
            #expect(queue.isEmpty)
        }
    }

    @Test func getInsideTheHubTakesFromAWaitingPutter() throws {
        try withHub {
            let queue = Queue<Int>(maxSize: 1)
            let putter = spawn { try queue.put(5) }
            #expect(queue.isEmpty)
            try sleep(.zero)
            #expect(queue.isFull)
            let taken = try resultInsideTheHub { try queue.tryGet() }
            try sleep(.zero)
            #expect(try taken?.get() == 5)
            #expect(queue.isEmpty)
            #expect(putter.isDead)
        }
    }

    @Test func putThenPeekThenGetNeverSwitch() throws {
        try withHub {
            let queue = Queue<String>()
            var otherRan = false
            spawn { otherRan = true }
            try queue.put("hi")
            let peeked = try queue.peek()
            let got = try queue.get()
            #expect(peeked == "hi" && got == "hi")
            #expect(!otherRan)
        }
    }

    @Test func peekOnAnEmptyQueueWithNothingElseToRunIsLoopExit() throws {
        try withHub {
            _ = ErrorLog()
            let queue = Queue<Int>()
            #expect(throws: LoopExit.self) { try queue.peek() }
            let waiter = spawn { () throws -> Int in try queue.peek(timeout: .milliseconds(10)) }
            #expect(throws: QueueEmpty.self) { try waiter.get() }
        }
    }

    @Test func peekWaitsForAnItemAndLeavesItInTheQueue() throws {
        try withHub {
            let queue = Queue<Int>()
            let peeker = spawn { try queue.peek() }
            try sleep(.zero)
            try queue.put(1)
            let peeked = try peeker.get()
            #expect(peeked == 1)
            #expect(queue.count == 1)
            let again = try queue.peek()
            #expect(again == 1)
        }
    }

    @Test func aBoundedQueueBlocksThePutterUntilAGetMakesRoom() throws {
        try withHub {
            let queue = Queue<String>(maxSize: 2)
            var results: [String] = []
            let putter = spawn {
                for item in ["a", "b", "c"] {
                    try queue.put(item)
                    results.append(item)
                }
                return "OK"
            }
            try sleep(.zero)
            #expect(results == ["a", "b"])
            let first = try queue.get()
            #expect(first == "a")
            try sleep(.zero)
            #expect(results == ["a", "b", "c"])
            let rest = [try queue.get(), try queue.get()]
            #expect(rest == ["b", "c"])
            let status = try putter.get(block: false)
            #expect(status == "OK")
        }
    }

    @Test func eachPutSatisfiesExactlyOneWaitingGetterInArrivalOrder() throws {
        try withHub {
            let queue = Queue<Int>()
            let results = (0..<4).map { _ in AsyncResult<Int>() }
            for result in results {
                spawn { result.set(try queue.get()) }
            }
            try sleep(.milliseconds(1))
            try queue.put(1)
            try sleep(.zero)
            #expect(results.map(\.value) == [1, nil, nil, nil])
            try queue.put(2)
            try sleep(.zero)
            #expect(results.map(\.value) == [1, 2, nil, nil])
            try queue.put(3)
            try queue.put(4)
            try sleep(.zero)
            #expect(results.map(\.value) == [1, 2, 3, 4])
        }
    }

    @Test func aGetterCancelledByATimeoutLeavesTheQueueWorking() throws {
        try withHub {
            let queue = Queue<String>()
            let outcome = spawn { () throws -> String in
                let timeout = Timeout(.zero, error: ExpectedError(tag: "cancel"))
                try timeout.start()
                defer { timeout.cancel() }
                do {
                    return try queue.get()
                } catch let error as ExpectedError where error.tag == "cancel" {
                    return "timed out"
                }
            }
            let status = try outcome.get()
            #expect(status == "timed out")
            try queue.put("hi")
            let item = try queue.get()
            #expect(item == "hi")
        }
    }

    @Test func whenOneOfTwoGettersDiesTheOtherGetsTheItem() throws {
        try withHub {
            let queue = Queue<String>()
            let dying = spawn { () throws -> String in
                try withTimeout(.zero, default: "timed out") { try queue.get() }
            }
            let living = spawn { try queue.get() }
            try sleep(.milliseconds(20))
            try queue.put("hi")
            let first = try dying.get()
            let second = try living.get()
            #expect(first == "timed out")
            #expect(second == "hi")
        }
    }

    @Test func anItemPutAfterEveryGetterDiedIsNotLost() throws {
        try withHub {
            let queue = Queue<String>()
            let getters = (0..<2).map { _ in
                spawn { () throws -> String in
                    try withTimeout(.zero, default: "timed out") { try queue.get() }
                }
            }
            try sleep(.milliseconds(20))
            try queue.put("sent")
            for getter in getters {
                let status = try getter.get()
                #expect(status == "timed out")
            }
            let item = try queue.get()
            #expect(item == "sent")
        }
    }

    @Test func aGetterWokenByAPutRunsBeforeAKillQueuedAfterIt() throws {
        // As in gevent: the put queues the getter's wake-up (gevent: the unlock pass) before the kill's
        // callback, so the getter takes its item and finishes; the kill then finds nothing to do.
        try withHub {
            let queue = Queue<Int>()
            let first = spawn { try queue.get() }
            let second = spawn { try queue.get() }
            try sleep(.zero)
            try queue.put(1)
            try first.kill(block: false)
            #expect(try first.get(timeout: .seconds(1)) == 1)
            #expect(!second.isReady)
            try queue.put(2)
            #expect(try second.get(timeout: .seconds(1)) == 2)
            #expect(queue.isEmpty)
        }
    }

    @Test func aGetterWhoseItemWasTakenMeanwhileKeepsItsPlaceInLine() throws {
        try withHub {
            let queue = Queue<Int>()
            var order: [String] = []
            let first = spawn {
                let item = try queue.get()
                order.append("first:\(item)")
            }
            let second = spawn {
                let item = try queue.get()
                order.append("second:\(item)")
            }
            try sleep(.zero)
            try queue.put(1)
            // Taken by a get that does not wait, before the woken getter runs.
            let stolen = try queue.tryGet()
            #expect(stolen == 1)
            try sleep(.zero)
            try queue.put(2)
            try queue.put(3)
            try joinAll([first, second], raiseError: true)
            #expect(order == ["first:2", "second:3"])
        }
    }

    @Test func oneItemWakesAWaitingPeekerAndTheGetterBehindIt() throws {
        try withHub {
            let queue = Queue<Int>()
            let peeker = spawn { try queue.peek() }
            let getter = spawn { try queue.get() }
            try sleep(.zero)
            try queue.put(7)
            #expect(try peeker.get(timeout: .seconds(1)) == 7)
            #expect(try getter.get(timeout: .seconds(1)) == 7)
            #expect(queue.isEmpty)
        }
    }

    @Test func anImmediateShutdownAfterAHandOffFailsTheClaimedGetter() throws {
        try withHub {
            let queue = Queue<Int>()
            let getter = spawn { try queue.get() }
            try sleep(.zero)
            try queue.put(1)
            queue.shutdown(immediate: true)
            #expect(throws: QueueShutDown.self) { try getter.get(timeout: .seconds(1)) }
        }
    }

    @Test func aGetterKilledInTheSameRoundAsAPutDoesNotSwallowTheItem() throws {
        try withHub {
            let queue = Queue<Int>()
            let victim = spawn { try queue.get() }
            let survivor = spawn { try queue.get() }
            try sleep(.zero)
            try victim.kill(block: false)
            try queue.put(1)
            try joinAll([victim], timeout: .seconds(1))
            let value = try survivor.get(timeout: .seconds(1))
            #expect(value == 1)
            #expect(victim.greenletExit != nil)
            #expect(queue.isEmpty)
        }
    }

    @Test(arguments: QueueKind.allCases)
    func getWithATimeoutOnAnEmptyQueueThrowsQueueEmpty(kind: QueueKind) throws {
        try withHub {
            let queue = kind.make()
            let start = ContinuousClock.now
            #expect(throws: QueueEmpty.self) { try queue.get(timeout: .milliseconds(20)) }
            #expect(elapsedMilliseconds(since: start) >= 15)
        }
    }

    @Test(arguments: QueueKind.allCases)
    func putWithATimeoutIntoAFullQueueThrowsQueueFull(kind: QueueKind) throws {
        try withHub {
            let queue = kind.make(maxSize: 1)
            try queue.put(1)
            let start = ContinuousClock.now
            #expect(throws: QueueFull.self) { try queue.put(2, timeout: .milliseconds(20)) }
            #expect(elapsedMilliseconds(since: start) >= 15)
            #expect(throws: QueueFull.self) { try queue.tryPut(2) }
        }
    }

    @Test(arguments: QueueKind.allCases)
    func anOuterTimeoutIsNotSwallowedByAGet(kind: QueueKind) throws {
        try withHub {
            let queue = kind.make()
            let outer = Timeout(.milliseconds(5))
            try outer.start()
            defer { outer.cancel() }
            do {
                _ = try queue.get(timeout: .seconds(1))
                Issue.record("the get was not interrupted")
            } catch let fired as Timeout {
                #expect(fired === outer)
            }
        }
    }

    @Test func lifoAndPriorityQueuesChangeTheOrder() throws {
        try withHub {
            let lifo = LifoQueue<Int>()
            let priority = PriorityQueue<Int>()
            let custom = PriorityQueue<Int>(by: >)
            for item in [3, 1, 4, 1, 5, 9, 2, 6] {
                try lifo.put(item)
                try priority.put(item)
                try custom.put(item)
            }
            var lifoOrder: [Int] = []
            var priorityOrder: [Int] = []
            var customOrder: [Int] = []
            while !lifo.isEmpty { lifoOrder.append(try lifo.get()) }
            while !priority.isEmpty { priorityOrder.append(try priority.get()) }
            while !custom.isEmpty { customOrder.append(try custom.get()) }
            #expect(lifoOrder == [6, 2, 9, 5, 1, 4, 1, 3])
            #expect(priorityOrder == [1, 1, 2, 3, 4, 5, 6, 9])
            #expect(customOrder == [9, 6, 5, 4, 3, 2, 1, 1])
        }
    }

    @Test func iterationEndsOnceTheQueueIsShutDownAndDrained() throws {
        try withHub {
            let queue = Queue<Int>(maxSize: 2)
            spawn {
                for item in 1...5 { try queue.put(item) }
                queue.shutdown()
            }
            var received: [Int] = []
            while let item = try queue.next() {
                received.append(item)
            }
            #expect(received == [1, 2, 3, 4, 5])
        }
    }

    @Test func shutdownWakesBlockedGettersAndPuttersWithQueueShutDown() throws {
        try withHub {
            _ = ErrorLog()
            let empty = Queue<Int>()
            let full = Queue<Int>(maxSize: 1)
            try full.put(0)
            let getter = spawn { try empty.get() }
            let putter = spawn { try full.put(1) }
            try sleep(.zero)
            empty.shutdown()
            full.shutdown()
            #expect(throws: QueueShutDown.self) { try getter.get() }
            #expect(throws: QueueShutDown.self) { try putter.get() }
            let remaining = try full.get()
            #expect(remaining == 0)
        }
    }

    @Test func usingAQueueFromAnotherThreadThrowsInvalidThreadUse() throws {
        try withHub {
            let queue = Queue<Int>()
            let box = UncheckedBox(queue)
            let outcome = UncheckedBox(AsyncResultBox())
            let thread = try NativeThread {
                do {
                    try box.value.put(1)
                    outcome.value.text = "put"
                } catch {
                    outcome.value.text = "\(error)"
                }
            }
            thread.join()
            #expect(outcome.value.text.contains("Queue.put was called from a thread that does not own"))
        }
    }
}

/// A mutable slot another thread writes before the test thread joins it (pthread_join orders the accesses).
final class AsyncResultBox {
    var text = ""
}

/// gevent's test__queue.py for the joinable queue: task accounting and shutdown.
@Suite("JoinableQueue", .serialized, .timeLimit(.minutes(1)))
struct JoinableQueueTests {
    @Test func taskDoneCountsDownUnfinishedTasks() throws {
        try withHub {
            let queue = JoinableQueue<Int>()
            spawn { try queue.put(7) }
            let item = try queue.get()
            #expect(item == 7)
            #expect(queue.unfinishedTasks == 1)
            try queue.taskDone()
            #expect(queue.unfinishedTasks == 0)
            #expect(throws: UnmatchedTaskDoneError.self) { try queue.taskDone() }
        }
    }

    @Test func joinOnAFreshQueueReturnsWithoutSwitching() throws {
        try withHub {
            let queue = JoinableQueue<Int>()
            var otherRan = false
            spawn { otherRan = true }
            let done = try queue.join()
            #expect(done)
            #expect(!otherRan)
        }
    }

    @Test func joinWaitsUntilEveryItemIsMarkedDone() throws {
        try withHub {
            let queue = JoinableQueue<Int>()
            var processed: [Int] = []
            for _ in 0..<3 {
                spawn {
                    while let item = try queue.next() {
                        try sleep(.milliseconds(1))
                        processed.append(item)
                        try queue.taskDone()
                    }
                }
            }
            for item in 0..<10 { try queue.put(item) }
            let notYet = try queue.join(timeout: .zero)
            #expect(!notYet)
            try queue.join()
            #expect(processed.sorted() == Array(0..<10))
            queue.shutdown()
        }
    }

    @Test func shutdownRefusesPutsAndDrainsGetsBeforeFailingThem() throws {
        try withHub {
            let queue = JoinableQueue<String>()
            try queue.put("L")
            try queue.tryPut("O")
            queue.shutdown()
            #expect(throws: QueueShutDown.self) { try queue.put("E") }
            #expect(throws: QueueShutDown.self) { try queue.tryPut("W") }
            let first = try queue.get()
            try queue.taskDone()
            let second = try queue.get()
            try queue.taskDone()
            #expect([first, second] == ["L", "O"])
            try queue.join()
            #expect(throws: QueueShutDown.self) { try queue.get() }
            #expect(throws: QueueShutDown.self) { try queue.tryGet() }
            #expect(throws: QueueShutDown.self) { try queue.get(timeout: .seconds(1)) }
        }
    }

    @Test func immediateShutdownDropsTheItemsAndFinishesTheirTasks() throws {
        try withHub {
            let queue = JoinableQueue<String>()
            try queue.put("L")
            try queue.tryPut("O")
            queue.shutdown(immediate: true)
            #expect(throws: QueueShutDown.self) { try queue.put("E") }
            #expect(throws: QueueShutDown.self) { try queue.get() }
            #expect(throws: QueueShutDown.self) { try queue.tryGet() }
            #expect(throws: UnmatchedTaskDoneError.self) { try queue.taskDone() }
            let done = try queue.join()
            #expect(done)
        }
    }
}
