/// An ``RLock`` was released by a greenlet that does not hold it.
///
/// Only the greenlet that acquired a re-entrant lock may release it, once per acquire. gevent raises
/// `RuntimeError("cannot release un-acquired lock")`.
public struct LockNotOwnedError: Error, CustomStringConvertible, Sendable {
    /// The greenlet that tried to release, as described by ``AnyGreenlet``.
    public let releaser: String

    /// Creates the error. Never switches; any thread.
    public init(releaser: String) {
        self.releaser = releaser
    }

    /// What happened and what to check.
    public var description: String {
        "cannot release an RLock that \(releaser) does not hold; release it from the greenlet that acquired it, "
            + "once per acquire (withLock { } pairs them for you)"
    }
}
