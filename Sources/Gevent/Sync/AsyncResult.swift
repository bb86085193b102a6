/// A one-time result that greenlets (or other threads) wait for: a value or an error, set once.
///
/// ```swift
/// let answer = AsyncResult<Int>()
/// spawn { answer.set(try compute()) }
/// let value = try answer.get(timeout: .seconds(2))
/// ```
///
/// Like ``Event``, setting it wakes every waiter in the order they started waiting. It cannot be cleared:
/// a later ``set(_:)`` or ``setError(_:)`` replaces the outcome (as in gevent) and wakes new waiters only.
/// It is a natural link target: `greenlet.link(result)` delivers the greenlet's value or error (see
/// ``Greenlet/link(_:)``). gevent's `AsyncResult`.
///
/// Threads: ``set(_:)``, ``setError(_:)`` and the state properties may be used from any thread; that is
/// how a ``ThreadPool`` or any other OS thread hands a result to a greenlet. The waiting greenlet is woken
/// through its hub's `ev_async` (`Hub.runThreadsafe`); a thread without a hub waits natively. The type is
/// `Sendable` when `T` is, which is what lets you pass it to another thread at all. Only ``get(block:timeout:)``
/// and ``wait(timeout:)`` switch greenlets.
public final class AsyncResult<T>: LinkableObject {
    let linkage = Linkage(notifiesAll: true)
    // @exclusivity(unchecked): only touched with `linkage.lock` held.
    @exclusivity(unchecked)
    private var outcome: Result<T, any Error>?

    /// Creates an empty result. Never switches; any thread.
    public init() {}

    var isReadyLocked: Bool { outcome != nil }

    /// Stores `value` and wakes every waiter. gevent's `set(value)`. Never switches; any thread.
    public func set(_ value: T) {
        updateState { outcome = .success(value) }
    }

    /// Stores `error`, which ``get(block:timeout:)`` then throws, and wakes every waiter.
    ///
    /// gevent's `set_exception`. Never switches; any thread.
    public func setError(_ error: any Error) {
        updateState { outcome = .failure(error) }
    }

    /// Stores how `greenlet` ended: its value, or the error it failed or was killed with (a kill stores
    /// ``GreenletExit``, since a killed greenlet has no value).
    ///
    /// gevent's `AsyncResult.__call__(source)`, what makes it a link target. Never switches; the greenlet's
    /// hub thread, after it finished.
    public func set(from greenlet: Greenlet<T>) {
        if let failure = greenlet.failure {
            setError(failure)
        } else {
            set(greenlet.value!)
        }
    }

    /// Returns the value, waiting for it if needed; throws the stored error.
    ///
    /// A result that is already set returns (or throws) at once, without switching. gevent's
    /// `get(block, timeout)`. May switch greenlets. From a greenlet (not from inside the hub when it has to
    /// wait), or from a thread without a hub (which then blocks natively).
    ///
    /// - Parameters:
    ///   - block: `false` never waits: an empty result throws a ``Timeout`` (gevent's `get_nowait`).
    ///   - timeout: the longest to wait; `nil` waits as long as it takes. Negative counts as zero.
    /// - Returns: the stored value.
    /// - Throws: the stored error; a ``Timeout`` when nothing was set in time; errors thrown into the waiting
    ///   greenlet; ``LoopExit`` when nothing can ever set it; ``BlockingSwitchOutError`` inside the hub.
    @available(*, noasync, message: "get blocks the thread's greenlets; it is for greenlet code, not async code")
    public func get(block: Bool = true, timeout: Duration? = nil) throws -> T {
        if let outcome = readState({ outcome }) {
            return try outcome.get()
        }
        guard block else { throw Timeout(nil) }
        let notified = try waitUntilReady(timeout: timeout, queueBehind: false, operation: "AsyncResult.get")
        guard notified, let outcome = readState({ outcome }) else {
            throw Timeout(timeout)
        }
        return try outcome.get()
    }

    /// Waits until the result is set, or until `timeout` passes; never throws the stored error.
    ///
    /// A caller that finds it set while its waiters are still being woken waits behind them, as for
    /// ``Event/wait(timeout:)``. gevent's `wait(timeout)`. May switch greenlets; from a greenlet or a thread
    /// without a hub.
    ///
    /// - Returns: the value; `nil` if an error was stored or the timeout passed.
    /// - Throws: only errors thrown into the waiting greenlet, ``LoopExit``, ``BlockingSwitchOutError``.
    @available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func wait(timeout: Duration? = nil) throws -> T? {
        _ = try waitUntilReady(timeout: timeout, queueBehind: true, operation: "AsyncResult.wait")
        return value
    }

    /// `true` when a value was stored (not an error). gevent's `successful()`. Never switches; any thread.
    public var isSuccessful: Bool {
        readState {
            if case .success = outcome { return true }
            return false
        }
    }

    /// The stored value, or `nil` when empty or holding an error. gevent's `value`. Never switches; any
    /// thread.
    public var value: T? {
        readState {
            if case .success(let value) = outcome { return value }
            return nil
        }
    }

    /// The stored error, or `nil` when empty or holding a value. gevent's `exception`. Never switches; any
    /// thread.
    public var error: (any Error)? {
        readState {
            if case .failure(let error) = outcome { return error }
            return nil
        }
    }

    /// The number of waiters and callbacks not notified yet. gevent's `linkcount()`. Never switches; any
    /// thread.
    public var linkCount: Int {
        readState { linkage.linkCountLocked }
    }
}

extension AsyncResult: Waitable {
    /// `true` once a value or an error is stored. gevent's `ready()`. Never switches; any thread.
    public var isReady: Bool {
        readState { outcome != nil }
    }

    /// Calls `callback` inside the calling thread's hub once the result is set (on the next callback round
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

extension AsyncResult: CustomStringConvertible {
    /// `"<AsyncResult value=42>"`, `"<AsyncResult error=...>"` or `"<AsyncResult unset>"`.
    public var description: String {
        readState {
            switch outcome {
            case .success(let value): return "<AsyncResult value=\(value)>"
            case .failure(let error): return "<AsyncResult error=\(error)>"
            case nil: return "<AsyncResult unset, \(linkage.linkCountLocked) links>"
            }
        }
    }
}

extension AsyncResult: @unchecked Sendable where T: Sendable {
    // `outcome` and `linkage`'s lists are only touched with `linkage.lock` held, and links run on the hub
    // that registered them. The stored value crosses threads, hence `T: Sendable`.
}

extension Greenlet {
    /// Delivers this greenlet's outcome to `result` when it finishes: its value, or the error it failed or
    /// was killed with.
    ///
    /// gevent's `greenlet.link(async_result)`. The delivery runs inside the hub (setting a result never
    /// blocks), so no extra greenlet is spawned. Never switches; hub thread only.
    ///
    /// - Returns: a token for ``AnyGreenlet/unlink(_:)``.
    @discardableResult
    public func link(_ result: AsyncResult<T>) -> LinkToken {
        addLink(filter: .always, raw: true) { [self] _ in result.set(from: self) }
    }

    /// Like ``link(_:)-(AsyncResult<T>)``, but only when the greenlet succeeded (a ``GreenletExit`` kill
    /// counts as success, and stores ``GreenletExit`` as the error). gevent's `link_value(async_result)`.
    /// Never switches; hub thread only.
    @discardableResult
    public func linkValue(_ result: AsyncResult<T>) -> LinkToken {
        addLink(filter: .onSuccess, raw: true) { [self] _ in result.set(from: self) }
    }

    /// Like ``link(_:)-(AsyncResult<T>)``, but only when the greenlet failed with an error other than
    /// ``GreenletExit``. gevent's `link_exception(async_result)`. Never switches; hub thread only.
    @discardableResult
    public func linkError(_ result: AsyncResult<T>) -> LinkToken {
        addLink(filter: .onFailure, raw: true) { [self] _ in result.set(from: self) }
    }
}
