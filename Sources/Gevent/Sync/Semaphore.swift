/// A counter of free units: ``acquire(block:timeout:)`` takes one (waiting while none is free),
/// ``release()`` gives one back.
///
/// ```swift
/// let connections = Semaphore(3)
/// try connections.withLock { try talkToTheServer() }   // at most 3 greenlets at once
/// ```
///
/// Any greenlet may release, whether or not it acquired, and releasing more than was acquired raises the
/// counter (use ``BoundedSemaphore`` to catch that bug). Waiters get units in the order they started
/// waiting: each release wakes the first waiter of its hub, which takes the unit before anyone else runs.
/// An acquire that finds a free unit takes it without switching. gevent's `Semaphore`.
///
/// Threads: every method may be called from any thread. A greenlet waits on its own hub (woken through
/// `Hub.runThreadsafe` when another thread releases); a thread without a hub waits natively, without
/// creating one. Fairness is FIFO per hub; between hubs, whichever wakes first takes the unit.
///
/// Glibc also exports a `Semaphore` type: in a file that imports both, write `Gevent.Semaphore`.
public final class Semaphore: SemaphoreCounting {
    let linkage = Linkage(notifiesAll: false)
    // @exclusivity(unchecked): only touched with `linkage.lock` held.
    @exclusivity(unchecked)
    var counter: Int

    /// Creates a semaphore with `value` free units. Never switches; any thread.
    ///
    /// - Parameter value: the initial number of free units, at least 0 (0 makes every acquire wait for a
    ///   release). A negative value stops the program: it is a bug in the caller.
    public init(_ value: Int = 1) {
        precondition(value >= 0, "Semaphore(\(value)): the initial value must be 0 or more")
        counter = value
    }

    /// The number of units free now (gevent's `counter`). Never switches; any thread.
    public var value: Int {
        readState { counter }
    }

    /// `true` when an acquire would have to wait. gevent's `locked()`. Never switches; any thread.
    public var isLocked: Bool {
        readState { counter <= 0 }
    }

    /// Takes one unit, waiting for a release if none is free.
    ///
    /// gevent's `acquire(blocking, timeout)`. Never switches when a unit is free or `block` is `false`;
    /// otherwise may switch greenlets. Any thread: a greenlet blocks on its hub, a thread without a hub
    /// blocks natively.
    ///
    /// - Parameters:
    ///   - block: `false` returns at once instead of waiting.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes. Negative counts as zero.
    /// - Returns: `true` if a unit was taken, `false` if none was free (`block: false`) or the timeout passed.
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit`` when nothing can ever release it;
    ///   ``BlockingSwitchOutError`` when it would have to wait inside the hub.
    @available(*, noasync, message: "acquire blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func acquire(block: Bool = true, timeout: Duration? = nil) throws -> Bool {
        try acquireUnit(block: block, timeout: timeout, operation: "Semaphore.acquire")
    }

    /// Gives back one unit and wakes the first waiter (on its hub's next callback round).
    ///
    /// gevent's `release()`. Never switches; any thread.
    ///
    /// - Returns: the number of free units after the release.
    @discardableResult
    public func release() -> Int {
        releaseUnit()
    }

    /// Waits until a unit is free, without taking it.
    ///
    /// gevent's `wait(timeout)`. May switch greenlets; any thread, like ``acquire(block:timeout:)``.
    ///
    /// - Returns: the number of free units when the wait ended; may be 0 if the timeout passed or other
    ///   waiters took the units first.
    @available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> Int {
        try waitForUnit(timeout: timeout, operation: "Semaphore.wait")
    }

    /// Runs `body` holding one unit, released afterwards even when `body` throws.
    ///
    /// May switch greenlets while acquiring (and whatever `body` does). Any thread.
    ///
    /// - Throws: errors thrown into the greenlet while it waits; whatever `body` throws.
    @available(*, noasync, message: "withLock blocks the thread's greenlets; it is for greenlet code, not async code")
    public func withLock<R>(_ body: () throws -> R) throws -> R {
        try acquire()
        defer { release() }
        return try body()
    }

    /// Changes the number of free units by `delta` (which may make it negative: acquires then wait until
    /// enough releases came back) and wakes waiters if units became free. For ``ThreadPool/maxSize``.
    func adjust(by delta: Int) {
        updateState { counter += delta }
    }

    /// The number of waiters and callbacks not notified yet. gevent's `linkcount()`. Never switches; any
    /// thread.
    public var linkCount: Int {
        readState { linkage.linkCountLocked }
    }
}

extension Semaphore: Waitable {
    /// `true` when a unit is free. gevent's `ready()`. Never switches; any thread.
    public var isReady: Bool {
        readState { counter > 0 }
    }

    /// Calls `callback` inside the calling thread's hub once a unit is free (on the next callback round if
    /// one is free now). The callback must not block. gevent's `rawlink`. Never switches; a thread with a
    /// hub (created if needed).
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        addRawLink(callback)
    }

    /// Removes a callback added with ``rawLinkReady(_:)``; unknown tokens are ignored. Never switches; any
    /// thread.
    public func unlink(_ token: LinkToken) {
        removeLink(token)
    }
}

extension Semaphore: CustomStringConvertible {
    /// `"<Semaphore value=1, 0 links>"`.
    public var description: String {
        readState { "<Semaphore value=\(counter), \(linkage.linkCountLocked) links>" }
    }
}

extension Semaphore: @unchecked Sendable {
    // `counter` and `linkage`'s lists are only touched with `linkage.lock` held; links run on the hub that
    // registered them.
}
