/// The counter logic shared by ``Semaphore``, ``BoundedSemaphore`` and ``Lock`` (gevent's `Semaphore`).
protocol SemaphoreCounting: LinkableObject {
    /// The number of acquires that would not block. Guarded by `linkage.lock`.
    var counter: Int { get set }
}

extension SemaphoreCounting {
    var isReadyLocked: Bool { counter > 0 }

    /// Takes one unit if one is free. Never switches; any thread.
    @inline(__always)
    func tryAcquire() -> Bool {
        let linkage = self.linkage
        linkage.lock.lock()
        linkage.noteThreadLocked()
        defer { linkage.lock.unlock() }
        guard counter > 0 else { return false }
        counter -= 1
        return true
    }

    /// gevent's `acquire(blocking, timeout)`: the fast path never switches; otherwise the caller waits in
    /// FIFO order with the other waiters of its hub.
    func acquireUnit(block: Bool, timeout: Duration?, operation: StaticString) throws -> Bool {
        if tryAcquire() { return true }
        guard block else { return false }
        let deadline = timeout.map { monotonicNanoseconds() + max(0, $0.nanoseconds) }
        var remaining = timeout
        while true {
            let notified = try waitUntilReady(timeout: remaining, queueBehind: false, operation: operation)
            if tryAcquire() { return true }
            if !notified { return false }
            // Woken, but another thread's waiter (or a caller that did not have to wait) took the unit
            // first: wait again for what is left of the timeout.
            if let deadline {
                let left = deadline - monotonicNanoseconds()
                if left <= 0 { return false }
                remaining = .nanoseconds(left)
            }
        }
    }

    /// gevent's `Semaphore.wait(timeout)`: waits until a unit is free without taking it.
    func waitForUnit(timeout: Duration?, operation: StaticString) throws -> Int {
        let current = readState { counter }
        if current > 0 { return current }
        _ = try waitUntilReady(timeout: timeout, queueBehind: false, operation: operation)
        return readState { counter }
    }

    /// Adds one unit and wakes waiters; returns the new counter. Never switches; any thread.
    @inline(__always)
    func releaseUnit() -> Int {
        updateState {
            counter += 1
            return counter
        }
    }
}
