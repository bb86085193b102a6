/// A flag that greenlets wait for: ``set()`` wakes every greenlet blocked in ``wait(timeout:)``.
///
/// ```swift
/// let ready = Event()
/// spawn { try prepare(); ready.set() }
/// try ready.wait()            // blocks this greenlet until set() was called
/// ```
///
/// Waiters are woken in the order they started waiting, inside the hub, each running until it blocks
/// again before the next one is woken. A greenlet that calls ``wait(timeout:)`` while the event is set but
/// its waiters have not all been woken yet waits behind them (gevent 20.5.1, issue #1520). ``set()``
/// followed at once by ``clear()`` still wakes every greenlet that was blocked. gevent's `Event`.
///
/// Threads: ``set()``, ``clear()`` and ``isSet`` may be called from any thread. A wait from another thread
/// than the one that set it is woken through that thread's hub (`Hub.runThreadsafe`); a thread without a
/// hub waits natively, without creating one. While a greenlet waits on an event that another thread has
/// used, its hub keeps running (no ``LoopExit``). Nothing here switches greenlets except
/// ``wait(timeout:)``.
public final class Event: LinkableObject {
    let linkage = Linkage(notifiesAll: true)
    // @exclusivity(unchecked): only touched with `linkage.lock` held.
    @exclusivity(unchecked)
    private var flag = false

    /// Creates an event that is not set. Never switches; any thread.
    public init() {}

    var isReadyLocked: Bool { flag }

    /// `true` while the flag is set. gevent's `is_set()`. Never switches; any thread.
    public var isSet: Bool {
        readState { flag }
    }

    /// Sets the flag and wakes every waiting greenlet (on the hub's next callback round, in the order they
    /// started waiting). Later waits return at once until ``clear()``.
    ///
    /// gevent's `set()`. Never switches; any thread (waiters of other threads are woken through their hubs).
    public func set() {
        updateState { flag = true }
    }

    /// Clears the flag: later waits block until the next ``set()``. Greenlets already being woken by an
    /// earlier ``set()`` still wake.
    ///
    /// gevent's `clear()`. Never switches; any thread.
    public func clear() {
        updateState { flag = false }
    }

    /// Blocks until the event is set, or until `timeout` passes.
    ///
    /// Returns at once if the flag is set (unless waiters are still being woken: then it waits behind
    /// them). gevent's `wait(timeout)`. May switch greenlets. Call it from a greenlet (not from inside the
    /// hub), or from a thread without a hub (which then blocks natively).
    ///
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes. A negative timeout counts
    ///   as zero.
    /// - Returns: `true` if the flag was set at some point during the wait (even if it was cleared again
    ///   since), `false` if the timeout passed first.
    /// - Throws: errors thrown into the waiting greenlet (an enclosing ``Timeout``, a kill), ``LoopExit``
    ///   when nothing can ever set it, ``BlockingSwitchOutError`` inside the hub.
    @available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> Bool {
        try waitUntilReady(timeout: timeout, queueBehind: true, operation: "Event.wait")
    }

    /// The number of waiters and callbacks that have not been notified yet. gevent's `linkcount()`.
    /// Never switches; any thread.
    public var linkCount: Int {
        readState { linkage.linkCountLocked }
    }
}

extension Event: Waitable {
    /// `true` while the flag is set (``isSet``). Never switches; any thread.
    public var isReady: Bool { isSet }

    /// Calls `callback` inside the calling thread's hub once the event is set (on the next callback round
    /// if it is set already). The callback must not block. gevent's `rawlink`. Never switches; a thread
    /// with a hub (created if needed).
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        addRawLink(callback)
    }

    /// Removes a callback added with ``rawLinkReady(_:)``; unknown tokens are ignored. Never switches; any
    /// thread.
    public func unlink(_ token: LinkToken) {
        removeLink(token)
    }
}

extension Event: CustomStringConvertible {
    /// `"<Event set, 2 links>"`.
    public var description: String {
        readState { "<Event \(flag ? "set" : "clear"), \(linkage.linkCountLocked) links>" }
    }
}

extension Event: @unchecked Sendable {
    // `flag` and `linkage`'s lists are only read or written with `linkage.lock` held; links run on the hub
    // that registered them.
}
