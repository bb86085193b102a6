/// A ``Semaphore`` whose value may never exceed its initial value: an extra ``release()`` throws.
///
/// Use it to guard a resource of fixed capacity: a release without a matching acquire is then caught at
/// once instead of silently raising the capacity. gevent's `BoundedSemaphore`; same waiting rules and
/// threads as ``Semaphore`` (every method may be called from any thread; only the waiting ones switch).
public final class BoundedSemaphore: SemaphoreCounting {
    let linkage = Linkage(notifiesAll: false)
    // @exclusivity(unchecked): only touched with `linkage.lock` held.
    @exclusivity(unchecked)
    var counter: Int
    /// The initial value, which the counter may not exceed.
    public let limit: Int

    /// Creates a semaphore with `value` free units, which is also the most it may ever have. Never
    /// switches; any thread.
    ///
    /// - Parameter value: at least 0; a negative value stops the program (a bug in the caller).
    public init(_ value: Int = 1) {
        precondition(value >= 0, "BoundedSemaphore(\(value)): the initial value must be 0 or more")
        counter = value
        limit = value
    }

    /// The number of units free now. Never switches; any thread.
    public var value: Int {
        readState { counter }
    }

    /// `true` when an acquire would have to wait. Never switches; any thread.
    public var isLocked: Bool {
        readState { counter <= 0 }
    }

    /// Takes one unit, waiting for a release if none is free; see ``Semaphore/acquire(block:timeout:)``.
    ///
    /// May switch greenlets when it waits; any thread.
    ///
    /// - Returns: `true` if a unit was taken, `false` if none was free (`block: false`) or the timeout passed.
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit``; ``BlockingSwitchOutError``.
    @available(*, noasync, message: "acquire blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func acquire(block: Bool = true, timeout: Duration? = nil) throws -> Bool {
        try acquireUnit(block: block, timeout: timeout, operation: "BoundedSemaphore.acquire")
    }

    /// Gives back one unit and wakes the first waiter.
    ///
    /// Never switches; any thread.
    ///
    /// - Returns: the number of free units after the release.
    /// - Throws: ``SemaphoreOverReleaseError`` if every unit is already free; the counter is unchanged.
    @discardableResult
    public func release() throws -> Int {
        try updateState {
            guard counter < limit else {
                throw SemaphoreOverReleaseError(kind: "BoundedSemaphore", limit: limit)
            }
            counter += 1
            return counter
        }
    }

    /// Waits until a unit is free, without taking it; see ``Semaphore/wait(timeout:)``.
    ///
    /// May switch greenlets; any thread.
    ///
    /// - Returns: the number of free units when the wait ended (0 after a timeout).
    @available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> Int {
        try waitForUnit(timeout: timeout, operation: "BoundedSemaphore.wait")
    }

    /// Runs `body` holding one unit, released afterwards even when `body` throws.
    ///
    /// May switch greenlets while acquiring; any thread.
    ///
    /// - Throws: errors thrown into the greenlet while it waits; whatever `body` throws.
    @available(*, noasync, message: "withLock blocks the thread's greenlets; it is for greenlet code, not async code")
    public func withLock<R>(_ body: () throws -> R) throws -> R {
        try acquire()
        // Cannot over-release: this call took the unit it gives back.
        defer { _ = releaseUnit() }
        return try body()
    }
}

extension BoundedSemaphore: Waitable {
    /// `true` when a unit is free. Never switches; any thread.
    public var isReady: Bool {
        readState { counter > 0 }
    }

    /// Calls `callback` inside the calling thread's hub once a unit is free. The callback must not block.
    /// Never switches; a thread with a hub (created if needed).
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        addRawLink(callback)
    }

    /// Removes a callback added with ``rawLinkReady(_:)``. Never switches; any thread.
    public func unlink(_ token: LinkToken) {
        removeLink(token)
    }
}

extension BoundedSemaphore: @unchecked Sendable {
    // `counter` and `linkage`'s lists are only touched with `linkage.lock` held; `limit` is immutable.
}
