/// A ``Pool`` had no free slot for a greenlet added without blocking, or its timeout passed first.
///
/// gevent's `PoolFull` (a `queue.Full`). Add with `block: true`, wait with
/// ``Group/waitAvailable(timeout:)``, or make the pool bigger.
public struct PoolFull: Error, CustomStringConvertible, Sendable {
    /// The pool's size.
    public let size: Int

    /// Creates the error. Never switches; any thread.
    public init(size: Int) {
        self.size = size
    }

    /// The message.
    public var description: String {
        "all \(size) slots of the pool are taken; add with block: true, wait with waitAvailable(), or "
            + "use a bigger pool"
    }
}
