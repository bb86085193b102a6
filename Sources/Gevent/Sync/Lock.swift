/// A mutual-exclusion lock for greenlets: a ``BoundedSemaphore`` of one unit.
///
/// ```swift
/// let lock = Lock()
/// try lock.withLock { balance += amount }
/// ```
///
/// It does not remember who holds it (any greenlet may release it; see ``RLock`` for an owned, re-entrant
/// lock), but releasing it while it is not locked throws. Waiters get it in the order they started
/// waiting. gevent's `gevent.thread.LockType` (an `allocate_lock()` lock). Every method may be called from
/// any thread; only the waiting ones switch greenlets.
public final class Lock: SemaphoreCounting {
    let linkage = Linkage(notifiesAll: false)
    // @exclusivity(unchecked): only touched with `linkage.lock` held.
    @exclusivity(unchecked)
    var counter = 1

    /// Creates an unlocked lock. Never switches; any thread.
    public init() {}

    /// `true` while some greenlet holds the lock. Never switches; any thread.
    public var isLocked: Bool {
        readState { counter <= 0 }
    }

    /// Takes the lock, waiting for it if it is held.
    ///
    /// May switch greenlets when it waits; any thread (a thread without a hub waits natively).
    ///
    /// - Parameters:
    ///   - block: `false` returns at once instead of waiting.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` if the lock was taken.
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit`` when nothing can ever release it;
    ///   ``BlockingSwitchOutError`` when it would have to wait inside the hub.
    @available(*, noasync, message: "acquire blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func acquire(block: Bool = true, timeout: Duration? = nil) throws -> Bool {
        try acquireUnit(block: block, timeout: timeout, operation: "Lock.acquire")
    }

    /// Releases the lock and wakes the first waiter. Never switches; any thread.
    ///
    /// - Throws: ``SemaphoreOverReleaseError`` if the lock is not locked.
    public func release() throws {
        try updateState {
            guard counter < 1 else { throw SemaphoreOverReleaseError(kind: "Lock", limit: 1) }
            counter += 1
        }
    }

    /// Runs `body` holding the lock, released afterwards even when `body` throws.
    ///
    /// May switch greenlets while acquiring; any thread.
    ///
    /// - Throws: errors thrown into the greenlet while it waits; whatever `body` throws.
    @available(*, noasync, message: "withLock blocks the thread's greenlets; it is for greenlet code, not async code")
    public func withLock<R>(_ body: () throws -> R) throws -> R {
        try acquire()
        defer { _ = releaseUnit() }
        return try body()
    }
}

extension Lock: Waitable {
    /// `true` while the lock is free. Never switches; any thread.
    public var isReady: Bool {
        readState { counter > 0 }
    }

    /// Calls `callback` inside the calling thread's hub once the lock is free. The callback must not block.
    /// Never switches; a thread with a hub (created if needed).
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        addRawLink(callback)
    }

    /// Removes a callback added with ``rawLinkReady(_:)``. Never switches; any thread.
    public func unlink(_ token: LinkToken) {
        removeLink(token)
    }
}

extension Lock: @unchecked Sendable {
    // `counter` and `linkage`'s lists are only touched with `linkage.lock` held.
}
