import Gevent
import Testing

/// The pool sizes gevent runs its mapping tests with (TestPool, TestPool2, 3, 10, TestPoolUnlimit).
let poolSizes: [Int?] = [1, 2, 3, 10, nil]

func square(_ x: Int, wait: Duration = .zero) throws -> Int {
    try sleep(wait)
    return x * x
}

/// gevent's test__pool.py (§3.2 item 5).
@Suite("Pool", .serialized, .timeLimit(.minutes(1)))
struct PoolTests {
    @Test func freeCountFollowsSpawnsAndCompletions() throws {
        try withHub {
            let pool = Pool(size: 2)
            #expect(pool.freeCount == 2)
            var log: [Int] = []
            let first = try pool.spawn { log.append(1) }
            #expect(pool.freeCount == 1)
            try first.get()
            #expect(log == [1])
            try sleep(.zero)
            #expect(pool.freeCount == 2)
        }
    }

    @Test func applyAsyncNeverBlocksAndRunsNothingUntilTheCallerYields() throws {
        try withHub {
            let pool = Pool(size: 2)
            var log: [Int] = []
            pool.applyAsync { log.append(2) }
            #expect(pool.freeCount == 1)
            pool.applyAsync { log.append(3) }
            #expect(pool.freeCount == 0)
            pool.applyAsync { log.append(4) }  // the pool is full: an outside greenlet waits for a slot
            #expect(log.isEmpty)
            try sleep(.milliseconds(10))
            #expect(log.sorted() == [2, 3, 4])
        }
    }

    @Test func discardFreesTheSlot() throws {
        try withHub {
            let pool = Pool(size: 1)
            let first = try pool.spawn { try sleep(.seconds(1000)) }
            pool.discard(first)
            try first.kill()
            #expect(!first.hasStarted)
            #expect(pool.count == 0)
            #expect(pool.freeCount == 1)
            try sleep(.milliseconds(1))
            #expect(pool.freeCount == 1)
            let second = try pool.spawn(timeoutFree: true)
            #expect(second.isReady)
        }
    }

    @Test func addWaitsWhileFullAndThrowsPoolFullWithoutBlockingOrAfterTheTimeout() throws {
        try withHub {
            let pool = Pool(size: 1)
            let first = spawn { try sleep(.seconds(1000)) }
            let second = spawn { try sleep(.seconds(1000)) }
            let third = Greenlet { try sleep(.seconds(1000)) }
            defer { try? killAll([first, second, third]) }
            #expect(pool.freeCount == 1 && pool.count == 0)
            try pool.add(first)
            #expect(pool.freeCount == 0 && pool.count == 1)
            let outer = Timeout(.milliseconds(20))
            try outer.start()
            #expect(throws: Timeout.self) { try pool.add(second) }
            outer.cancel()
            #expect(throws: PoolFull.self) { try pool.add(second, block: false) }
            #expect(throws: PoolFull.self) { try pool.add(second, timeout: .milliseconds(20)) }
            #expect(throws: PoolFull.self) { try pool.start(third, timeout: .milliseconds(20)) }
            #expect(pool.freeCount == 0 && pool.count == 1)
        }
    }

    @Test func aPoolOfSizeZeroIsAlwaysFull() throws {
        try withHub {
            let pool = Pool(size: 0)
            #expect(pool.freeCount == 0)
            #expect(pool.isFull)
            let available = try pool.waitAvailable(timeout: .milliseconds(10))
            #expect(available == 0)
        }
    }

    @Test func spawnIntoAFullPoolWaitsUntilAMemberFinishes() throws {
        try withHub {
            let pool = Pool(size: 1)
            #expect(pool.count == 0)
            try pool.spawn { try sleep(.milliseconds(50)) }
            #expect(pool.count == 1)
            let start = ContinuousClock.now
            try pool.spawn { try sleep(.milliseconds(50)) }
            #expect(elapsedMilliseconds(since: start) >= 40)
            #expect(pool.count == 1)
            try sleep(.milliseconds(100))
            #expect(pool.count == 0)
        }
    }

    @Test func joinWithATimeoutOnABusyPoolReturnsFalseThenTrueOnceEmpty() throws {
        try withHub {
            let pool = Pool(size: 1)
            try pool.spawn { try sleep(.milliseconds(50)) }
            let early = try pool.join(timeout: .milliseconds(10))
            #expect(!early)
            let finished = try pool.join()
            #expect(finished)
            #expect(pool.count == 0)
        }
    }

    @Test func joinOnAnEmptyPoolReturnsTrueWithoutSwitching() throws {
        try withHub {
            let pool = Pool(size: nil)
            var otherRan = false
            spawn { otherRan = true }
            let result = try pool.join()
            #expect(result)
            #expect(!otherRan)
        }
    }

    @Test func joinWithATimeoutWaitsAboutThatLong() throws {
        try withHub {
            let pool = Pool(size: nil)
            let member = try pool.spawn { try sleep(.seconds(10)) }
            let start = ContinuousClock.now
            let result = try pool.join(timeout: .milliseconds(50), raiseError: true)
            #expect(!result)
            #expect(elapsedMilliseconds(since: start) >= 40)
            try member.kill()
        }
    }

    @Test func applyInsideAMemberRunsInlineInsteadOfDeadlocking() throws {
        try withHub {
            let pool = Pool(size: 1)
            let result = try pool.apply { try pool.apply { 5 + 1 } }
            #expect(result == 6)
            let event = Event()
            pool.applyAsync { event.set() }
            try event.wait()
        }
    }

    @Test func applyRethrowsTheBodysError() throws {
        try withHub {
            _ = ErrorLog()
            let pool = Pool(size: 1)
            #expect(throws: ExpectedError.self) { try pool.apply { () throws -> Int in throw ExpectedError() } }
        }
    }

    @Test func aProducerAndAConsumerInOnePoolInterleave() throws {
        try withHub {
            let pool = Pool(size: 2)
            let event = Event()
            var results: [String] = []
            let consumer = try pool.spawn {
                results.append("cons1")
                try event.wait()
                results.append("cons2")
            }
            pool.applyAsync {
                try sleep(.milliseconds(1))
                results.append("prod")
                event.set()
            }
            try consumer.get()
            #expect(results == ["cons1", "prod", "cons2"])
        }
    }

    @Test(arguments: poolSizes)
    func applyAndMapReturnTheResultsInOrder(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            let applied = try pool.apply { try square(5) }
            #expect(applied == 25)
            let small = try pool.map(0..<10) { try square($0) }
            let large = try pool.map(0..<100) { try square($0) }
            #expect(small == (0..<10).map { $0 * $0 })
            #expect(large == (0..<100).map { $0 * $0 })
            let empty = try pool.map([Int]()) { try square($0) }
            #expect(empty.isEmpty)
        }
    }

    @Test(arguments: poolSizes)
    func applyAsyncDeliversItsValueAndCallsTheCallback(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            var delivered: [Int] = []
            let start = ContinuousClock.now
            let greenlet = pool.applyAsync(
                { try square(7, wait: .milliseconds(40)) },
                callback: { delivered.append($0) }
            )
            let value = try greenlet.get()
            #expect(value == 49)
            #expect(elapsedMilliseconds(since: start) >= 30)
            try sleep(.zero)
            #expect(delivered == [49])
            let slow = pool.applyAsync { try square(6, wait: .milliseconds(200)) }
            #expect(throws: Timeout.self) { try slow.get(timeout: .milliseconds(20)) }
            try pool.kill()
        }
    }

    @Test(arguments: poolSizes)
    func imapYieldsResultsInItemOrderThenNil(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            let results = pool.imap(0..<100) { try square($0) }
            for i in 0..<100 {
                let value = try results.next()
                #expect(value == i * i)
            }
            let end = try results.next()
            #expect(end == nil)
            let again = try results.next()
            #expect(again == nil)
            let empty = pool.imap([Int]()) { try square($0) }
            let nothing = try empty.next()
            #expect(nothing == nil)
        }
    }

    @Test(arguments: poolSizes)
    func imapKeepsItemOrderWhenMembersFinishOutOfOrder(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            let results = pool.imap(0..<10) { try square($0, wait: .milliseconds(Int64((7 * $0) % 10))) }
            var collected: [Int] = []
            while let value = try results.next() { collected.append(value) }
            #expect(collected == (0..<10).map { $0 * $0 })
        }
    }

    @Test(arguments: poolSizes)
    func imapUnorderedYieldsEveryResult(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            let results = pool.imapUnordered(0..<100) { try square($0, wait: .milliseconds(Int64($0 % 3))) }
            var collected: [Int] = []
            while let value = try results.next() { collected.append(value) }
            #expect(collected.sorted() == (0..<100).map { $0 * $0 })
        }
    }

    @Test(arguments: poolSizes)
    func imapUnorderedYieldsInCompletionOrder(size: Int?) throws {
        try withHub {
            let pool = Pool(size: size)
            let results = pool.imapUnordered([10, 1, 2]) { x -> String in
                try sleep(.milliseconds(Int64(x) * 5))
                return "\(x)"
            }
            var collected: [String] = []
            while let value = try results.next() { collected.append(value) }
            #expect(collected == (size == 1 ? ["10", "1", "2"] : ["1", "2", "10"]))
        }
    }

    @Test(arguments: [1, 3])
    func anErrorSurfacesAtItsItemAndIterationGoesOn(size: Int) throws {
        try withHub {
            _ = ErrorLog()
            let pool = Pool(size: size)
            for ordered in [true, false] {
                let divide: (Int) throws -> Double = { x in
                    guard x != 0 else { throw ExpectedError(tag: "division by zero") }
                    return 1.0 / Double(x)
                }
                let results = ordered ? pool.imap([1, 0, 2], divide) : pool.imapUnordered([1, 0, 2], divide)
                var outcomes: [String] = []
                while true {
                    do {
                        guard let value = try results.next() else { break }
                        outcomes.append("\(value)")
                    } catch let error as ExpectedError {
                        outcomes.append(error.tag)
                    }
                }
                if ordered || size == 1 {
                    #expect(outcomes == ["1.0", "division by zero", "0.5"])
                } else {
                    #expect(outcomes.sorted() == ["0.5", "1.0", "division by zero"])
                }
            }
        }
    }

    @Test func mapThrowsTheFirstFailureInItemOrder() throws {
        try withHub {
            _ = ErrorLog()
            let pool = Pool(size: 3)
            #expect(throws: ExpectedError(tag: "0")) {
                try pool.map([1, 0, 2]) { x -> Int in
                    if x == 0 { throw ExpectedError(tag: "0") }
                    return x
                }
            }
        }
    }

    @Test func imapReadsALazyInputThatBlocks() throws {
        try withHub {
            let pool = Pool(size: 2)
            let input = Queue<Int>()
            try input.put(123)
            spawn(after: .milliseconds(20)) { input.shutdown() }
            let lazyInput = sequence(state: input) { queue in try? queue.next() }
            let ordered = pool.imap(lazyInput) { $0 }
            var collected: [Int] = []
            while let value = try ordered.next() { collected.append(value) }
            #expect(collected == [123])

            var produced = 0
            let sleepyInput = sequence(state: 0) { (count: inout Int) -> Int? in
                guard count < 3 else {
                    try? sleep(.milliseconds(20))
                    return nil
                }
                count += 1
                produced += 1
                return count - 1
            }
            let unordered = pool.imapUnordered(sleepyInput) { try square($0) }
            var squares: [Int] = []
            while let value = try unordered.next() { squares.append(value) }
            #expect(squares.sorted() == [0, 1, 4])
            #expect(produced == 3)
        }
    }

    @Test func imapWithMaxSizeRunsAtMostOneItemAheadOfTheReader() throws {
        try withHub {
            for ordered in [true, false] {
                let pool = Pool(size: 10)
                var running = 0
                let transform: (Int) -> Int = { item in
                    running += 1
                    return item
                }
                let results =
                    ordered
                    ? pool.imap(0..<20, maxSize: 1, transform) : pool.imapUnordered(0..<20, maxSize: 1, transform)
                var collected: [Int] = []
                var index = 0
                while let value = try results.next() {
                    #expect(running <= index + 2)
                    collected.append(value)
                    try sleep(.milliseconds(1))
                    index += 1
                }
                #expect(collected.sorted() == Array(0..<20))
            }
        }
    }

    @Test func killEndsEveryMemberQuickly() throws {
        try withHub {
            let pool = Pool(size: 4)
            for _ in 0..<4 { try pool.spawn { try sleep(.milliseconds(100)) } }
            try sleep(.milliseconds(10))
            let start = ContinuousClock.now
            try pool.kill()
            #expect(elapsedMilliseconds(since: start) < 50)
            #expect(pool.count == 0)
            #expect(pool.freeCount == 4)
        }
    }

    @Test func aNegativeSizeStopsTheProgram() async {
        await #expect(processExitsWith: .failure) {
            _ = Pool(size: -1)
        }
    }
}

extension Pool {
    /// Spawns a trivial member without waiting for a slot; for tests that check a slot is free.
    fileprivate func spawn(timeoutFree: Bool) throws -> Greenlet<Void> {
        let greenlet = Greenlet {}
        try start(greenlet, block: false)
        try greenlet.join()
        return greenlet
    }
}

/// A greenlet that survives every kill except ``SpecialError``, counting the shots (test__greenletset.py).
final class Undead {
    var shotCount = 0

    func run() throws {
        while true {
            do {
                try sleep(.seconds(1))
            } catch is SpecialError {
                return
            } catch {
                shotCount += 1
            }
        }
    }
}

struct SpecialError: Error {}

/// gevent's test__greenletset.py (§3.2 item 5).
@Suite("Group", .serialized, .timeLimit(.minutes(1)))
struct GroupTests {
    @Test func countTracksTheLiveMembers() throws {
        try withHub {
            let group = Group()
            try group.spawn { try sleep(.milliseconds(20)) }
            #expect(group.count == 1)
            try group.spawn { try sleep(.milliseconds(100)) }
            #expect(group.count == 2)
            try sleep(.milliseconds(50))
            #expect(group.count == 1)
            try sleep(.milliseconds(100))
            #expect(group.count == 0)
        }
    }

    @Test func joinWaitsForTheSlowestAndEmptiesTheGroup() throws {
        try withHub {
            let group = Group()
            try group.spawn { try sleep(.milliseconds(40)) }
            try group.spawn { try sleep(.milliseconds(80)) }
            let start = ContinuousClock.now
            let emptied = try group.join(raiseError: true)
            #expect(emptied)
            #expect(group.count == 0)
            #expect(elapsedMilliseconds(since: start) >= 70)
        }
    }

    @Test func joinWithRaiseErrorRethrowsAMembersError() throws {
        try withHub {
            _ = ErrorLog()
            let group = Group()
            try group.spawn { () throws in throw ExpectedError(tag: "member") }
            try group.spawn { try sleep(.milliseconds(5)) }
            #expect(throws: ExpectedError(tag: "member")) { try group.join(raiseError: true) }
        }
    }

    @Test func killBlocksUntilEveryMemberIsGone() throws {
        try withHub {
            let group = Group()
            try group.spawn { try sleep(.milliseconds(200)) }
            try group.spawn { try sleep(.milliseconds(400)) }
            let start = ContinuousClock.now
            try group.kill()
            #expect(group.count == 0)
            #expect(elapsedMilliseconds(since: start) < 160)
        }
    }

    @Test func killWithoutBlockingEmptiesTheGroupOnTheNextLoopIteration() throws {
        try withHub {
            let group = Group()
            try group.spawn { try sleep(.milliseconds(200)) }
            try group.spawn { try sleep(.milliseconds(400)) }
            try group.kill(block: false)
            #expect(group.count == 2)
            try sleep(.milliseconds(1))
            #expect(group.count == 0)
        }
    }

    @Test func eachMemberIsShotAtMostOnce() throws {
        try withHub {
            let u1 = Undead()
            let u2 = Undead()
            let p1 = spawn { try u1.run() }
            let p2 = spawn { try u2.run() }
            func check(_ count1: Int, _ count2: Int, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(p1.hasStarted && p2.hasStarted, sourceLocation: sourceLocation)
                #expect(!p1.isDead && !p2.isDead, sourceLocation: sourceLocation)
                #expect(u1.shotCount == count1 && u2.shotCount == count2, sourceLocation: sourceLocation)
            }
            try sleep(.milliseconds(10))
            let group = Group([p1, p2])
            #expect(group.count == 2)
            check(0, 0)
            try group.killOne(p1, block: false)
            check(0, 0)
            try sleep(.zero)
            check(1, 0)
            try group.killOne(p1)
            check(1, 0)
            try group.killOne(p1)
            check(1, 0)
            try group.kill(block: false)
            try group.kill(block: false)
            try group.kill(block: false)
            check(1, 0)
            try sleep(.milliseconds(20))
            check(1, 1)
            let sentinel = -1
            let result = try withTimeout(.milliseconds(50), default: sentinel) {
                try group.kill(block: true)
                return 0
            }
            #expect(result == sentinel)
            #expect(group.count == 2)
            check(1, 1)
            try p1.kill(SpecialError())
            try p2.kill(SpecialError())
            #expect(group.count == 0)
        }
    }

    @Test func addingAnExistingGreenletTwiceKeepsOneMember() throws {
        try withHub {
            let group = Group()
            let g = spawn { try sleep(.milliseconds(5)) }
            try group.add(g)
            try group.add(g)
            #expect(group.count == 1 && group.contains(g))
            #expect(group.freeCount == Int.max && !group.isFull)
            try group.join()
            #expect(!group.contains(g))
        }
    }
}
