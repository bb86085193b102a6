#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A re-entrant lock owned by a greenlet: the owner may acquire it again without blocking, and must
/// release it as many times.
///
/// ```swift
/// let lock = RLock()
/// try lock.withLock {
///     try lock.withLock { … }     // the same greenlet: no deadlock
/// }
/// ```
///
/// The owner is the greenlet that acquired it (on a thread without a hub, the thread itself, which then
/// waits natively without getting a hub). Other greenlets wait in FIFO order. Releasing from a greenlet that does not own it throws
/// ``LockNotOwnedError``. gevent's `RLock`.
///
/// Threads: every method may be called from any thread (each thread's greenlets are distinct owners);
/// only the waiting ones switch greenlets.
public final class RLock {
    /// Who holds the lock: a greenlet, or an OS thread without a hub.
    fileprivate enum Owner {
        case greenlet(AnyGreenlet)
        case thread(pthread_t)

        static var current: Owner {
            if let hub = Hub.currentIfExists { return .greenlet(hub.currentGreenlet) }
            return .thread(pthread_self())
        }

        func isSame(as other: Owner?) -> Bool {
            switch (self, other) {
            case (.greenlet(let mine), .greenlet(let theirs)?): return mine === theirs
            case (.thread(let mine), .thread(let theirs)?): return pthread_equal(mine, theirs) != 0
            default: return false
            }
        }
    }

    private let block = Lock()
    private let state = SpinLock()
    private var owner: Owner?  // guarded by `state`
    private var depth = 0  // guarded by `state`

    /// Creates an unlocked lock. Never switches; any thread.
    public init() {}

    /// `true` while some greenlet holds the lock. gevent's `locked()`. Never switches; any thread.
    public var isLocked: Bool {
        state.withLock { owner != nil }
    }

    /// `true` when the calling greenlet (or hub-less thread) holds the lock. gevent's `_is_owned()`. Never
    /// switches; any thread.
    public var isOwnedByCurrentGreenlet: Bool {
        let me = Owner.current
        return state.withLock { me.isSame(as: owner) }
    }

    /// Takes the lock, or takes it once more if the calling greenlet holds it already.
    ///
    /// gevent's `acquire(blocking, timeout)`. Never switches for the owner; otherwise may switch greenlets
    /// while it waits. Any thread (one without a hub waits natively).
    ///
    /// - Parameters:
    ///   - block: `false` returns at once instead of waiting.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` if the calling greenlet now holds the lock.
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit``; ``BlockingSwitchOutError``.
    @available(*, noasync, message: "acquire blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func acquire(block: Bool = true, timeout: Duration? = nil) throws -> Bool {
        let me = Owner.current
        let reentered = state.withLock {
            guard me.isSame(as: owner) else { return false }
            depth += 1
            return true
        }
        if reentered { return true }
        guard try self.block.acquire(block: block, timeout: timeout) else { return false }
        state.withLock {
            owner = me
            depth = 1
        }
        return true
    }

    /// Releases one level; the last release frees the lock and wakes the first waiter.
    ///
    /// gevent's `release()`. Never switches; any thread.
    ///
    /// - Throws: ``LockNotOwnedError`` if the calling greenlet does not hold the lock.
    public func release() throws {
        let me = Owner.current
        let freed = try state.withLock { () throws -> Bool in
            guard me.isSame(as: owner) else { throw LockNotOwnedError(releaser: me.description) }
            depth -= 1
            guard depth == 0 else { return false }
            owner = nil
            return true
        }
        if freed {
            try block.release()
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
        // Cannot fail: this greenlet acquired it just now.
        defer { try? release() }
        return try body()
    }
}

extension RLock.Owner: CustomStringConvertible {
    var description: String {
        switch self {
        case .greenlet(let greenlet): return "\(greenlet)"
        case .thread: return "a thread without a hub"
        }
    }
}

extension RLock: @unchecked Sendable {
    // `owner` and `depth` are only touched with `state` held; `block` is itself thread-safe. The owner
    // greenlet is only compared by identity on other threads, never used.
}
