import Gevent
import Testing

/// gevent's test__semaphore.py (§3.2 item 6) for Semaphore, BoundedSemaphore and DummySemaphore.
@Suite("Semaphore", .serialized, .timeLimit(.minutes(1)))
struct SemaphoreTests {
    @Test func acquireWithATimeoutOnAnEmptySemaphoreReturnsFalse() throws {
        try withHub {
            let semaphore = Semaphore(0)
            let start = ContinuousClock.now
            let acquired = try semaphore.acquire(timeout: .milliseconds(10))
            #expect(acquired == false)
            #expect(elapsedMilliseconds(since: start) >= 8)
            #expect(semaphore.linkCount == 0)
        }
    }

    @Test func nonBlockingAcquireNeverWaits() throws {
        try withHub {
            let semaphore = Semaphore(1)
            let first = try semaphore.acquire(block: false)
            let second = try semaphore.acquire(block: false)
            #expect(first && !second)
            #expect(semaphore.isLocked)
        }
    }

    @Test func releaseBeyondTheInitialValueRaisesTheCounter() throws {
        try withHub {
            let semaphore = Semaphore(1)
            #expect(semaphore.release() == 2)
            #expect(semaphore.value == 2)
        }
    }

    @Test func twoRawLinksAndTwoReleasesCallBoth() throws {
        try withHub {
            let semaphore = Semaphore()
            var calls: [String] = []
            _ = semaphore.rawLinkReady { calls.append("a") }
            semaphore.release()
            _ = semaphore.rawLinkReady { calls.append("b") }
            semaphore.release()
            try sleep(.milliseconds(1))
            #expect(calls.sorted() == ["a", "b"])
        }
    }

    @Test func geventWaitOnAnUnacquiredSemaphoreReturnsAtOnce() throws {
        try withHub {
            let semaphore = Semaphore()
            let ready = try wait([semaphore])
            #expect(ready.count == 1 && ready.first === semaphore)
        }
    }

    @Test func iwaitYieldsTheReleasedSemaphoreFirstAndUnlinksTheOther() throws {
        try withHub {
            let first = Semaphore(0)
            let second = Semaphore(0)
            spawn { second.release() }
            let iterator = iwait([first, second])
            let ready = try iterator.next()
            #expect(ready === second)
            #expect(first.linkCount == 1)
            iterator.close()
            #expect(first.linkCount == 0)
        }
    }

    @Test func waitersAcquireInTheOrderTheyArrived() throws {
        try withHub {
            let semaphore = Semaphore(0)
            var order: [Int] = []
            let waiters = (1...5).map { n in
                spawn {
                    try semaphore.acquire()
                    order.append(n)
                }
            }
            try sleep(.zero)
            for _ in 1...5 { semaphore.release() }
            try joinAll(waiters)
            #expect(order == [1, 2, 3, 4, 5])
            #expect(semaphore.value == 0)
        }
    }

    @Test func aReleaseWakesOnlyOneWaiter() throws {
        try withHub {
            let semaphore = Semaphore(0)
            var acquired = 0
            for _ in 0..<3 {
                spawn {
                    try semaphore.acquire()
                    acquired += 1
                }
            }
            try sleep(.zero)
            semaphore.release()
            try sleep(.milliseconds(1))
            #expect(acquired == 1)
            #expect(semaphore.linkCount == 2)
            semaphore.release()
            semaphore.release()
            try sleep(.milliseconds(1))
            #expect(acquired == 3)
        }
    }

    @Test func waitReportsTheCounterWithoutTakingAUnit() throws {
        try withHub {
            let semaphore = Semaphore(0)
            spawn { semaphore.release() }
            let available = try semaphore.wait()
            #expect(available == 1)
            #expect(semaphore.value == 1)
            let afterTimeout = try Semaphore(0).wait(timeout: .milliseconds(5))
            #expect(afterTimeout == 0)
        }
    }

    @Test func withLockReleasesWhenTheBodyThrows() throws {
        try withHub {
            let semaphore = Semaphore(1)
            #expect(throws: ExpectedError.self) {
                try semaphore.withLock { throw ExpectedError() }
            }
            #expect(semaphore.value == 1)
        }
    }

    @Test func aLaterWaiterIsNotStarvedByGreenletsThatKeepReacquiring() throws {
        // gevent's TestSemaphoreFair (issue #1487): with FIFO wake-ups the exiting greenlet gets its turn,
        // and everything then blocks, which ends in LoopExit.
        try withHub {
            let semaphore = Semaphore()
            let shouldQuit = Flag()
            let keepGoing1 = spawn { try acquireThenSpawn(semaphore, shouldQuit) }
            let keepGoing2 = spawn { try acquireThenSpawn(semaphore, shouldQuit) }
            let exiting = spawn {
                try semaphore.acquire()
                shouldQuit.isSet = true
            }
            #expect(throws: LoopExit.self) { try joinAll([keepGoing1, keepGoing2, exiting]) }
            #expect(exiting.isDead)
            #expect(keepGoing2.isDead)
            #expect(!keepGoing1.isDead)
            semaphore.release()
        }
    }

    @Test func boundedSemaphoreRefusesAnOverRelease() throws {
        try withHub {
            let semaphore = BoundedSemaphore(2)
            try semaphore.acquire()
            let afterRelease = try semaphore.release()
            #expect(afterRelease == 2)
            #expect(throws: SemaphoreOverReleaseError.self) { try semaphore.release() }
            #expect(semaphore.value == 2)
        }
    }

    @Test func dummySemaphoreNeverBlocks() {
        let semaphore = DummySemaphore()
        #expect(semaphore.acquire() && semaphore.acquire())
        #expect(semaphore.wait() == 1)
        #expect(!semaphore.isLocked)
    }
}

final class Flag {
    var isSet = false
}

private func acquireThenSpawn(_ semaphore: Semaphore, _ shouldQuit: Flag) throws {
    if shouldQuit.isSet { return }
    try semaphore.acquire()
    try spawn { try releaseThenSpawn(semaphore, shouldQuit) }.join()
}

private func releaseThenSpawn(_ semaphore: Semaphore, _ shouldQuit: Flag) throws {
    semaphore.release()
    if shouldQuit.isSet { return }
    try spawn { try acquireThenSpawn(semaphore, shouldQuit) }.join()
}

/// gevent's lock tests: Lock, RLock.
@Suite("Lock", .serialized, .timeLimit(.minutes(1)))
struct LockTests {
    @Test func lockExcludesAndReleasingAnUnlockedLockThrows() throws {
        try withHub {
            let lock = Lock()
            #expect(throws: SemaphoreOverReleaseError.self) { try lock.release() }
            var inside = 0
            var maxInside = 0
            let workers = (0..<5).map { _ in
                spawn {
                    try lock.withLock {
                        inside += 1
                        maxInside = max(maxInside, inside)
                        try sleep(.milliseconds(1))
                        inside -= 1
                    }
                }
            }
            try joinAll(workers, raiseError: true)
            #expect(maxInside == 1)
            #expect(!lock.isLocked)
        }
    }

    @Test func rlockIsReentrantForItsOwner() throws {
        try withHub {
            let lock = RLock()
            try lock.acquire()
            try lock.acquire()
            #expect(lock.isOwnedByCurrentGreenlet)
            let other = spawn { () throws -> Bool in try lock.acquire(block: false) }
            let otherGotIt = try other.get()
            #expect(!otherGotIt)
            try lock.release()
            #expect(lock.isLocked)
            try lock.release()
            #expect(!lock.isLocked)
            #expect(throws: LockNotOwnedError.self) { try lock.release() }
        }
    }

    @Test func rlockReleaseByAnotherGreenletThrowsLockNotOwned() throws {
        try withHub {
            let lock = RLock()
            try lock.acquire()
            let intruder = spawn { try lock.release() }
            _ = ErrorLog()
            #expect(throws: LockNotOwnedError.self) { try intruder.get() }
            #expect(lock.isLocked)
            try lock.release()
        }
    }

    @Test func rlockWaitersGetItInArrivalOrder() throws {
        try withHub {
            let lock = RLock()
            try lock.acquire()
            var order: [Int] = []
            let waiters = (1...3).map { n in
                spawn {
                    try lock.withLock { order.append(n) }
                }
            }
            try sleep(.zero)
            try lock.release()
            try joinAll(waiters, raiseError: true)
            #expect(order == [1, 2, 3])
        }
    }
}
