/// A semaphore that never blocks: every acquire succeeds at once.
///
/// Stands in where code expects a semaphore but no limit is wanted (an unbounded ``Pool`` uses one in
/// gevent). gevent's `DummySemaphore`. Never switches; any thread.
public final class DummySemaphore: Sendable {
    /// Creates the semaphore. Never switches; any thread.
    public init() {}

    /// Always 1: a unit is always free. Never switches; any thread.
    public var value: Int { 1 }

    /// Always `false`. Never switches; any thread.
    public var isLocked: Bool { false }

    /// Returns `true` at once. Never switches; any thread.
    @discardableResult
    public func acquire(block: Bool = true, timeout: Duration? = nil) -> Bool { true }

    /// Does nothing. Never switches; any thread.
    /// - Returns: 1.
    @discardableResult
    public func release() -> Int { 1 }

    /// Returns 1 at once. Never switches; any thread.
    @discardableResult
    public func wait(timeout: Duration? = nil) -> Int { 1 }

    /// Runs `body`. Switches only if `body` does; any thread.
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        try body()
    }
}
