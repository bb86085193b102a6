/// A ``BoundedSemaphore`` or ``Lock`` was released more times than it was acquired.
///
/// Releasing a unit nobody took would let one more greenlet in than the limit allows; it is almost always
/// a bug (a release on a path that did not acquire, or twice on one path). The release is refused and
/// the counter is left as it was. gevent raises `ValueError("Semaphore released too many times")`.
public struct SemaphoreOverReleaseError: Error, CustomStringConvertible, Sendable {
    /// The type that was over-released, "BoundedSemaphore" or "Lock".
    public let kind: String
    /// The initial (and highest allowed) value.
    public let limit: Int

    /// Creates the error. Never switches; any thread.
    public init(kind: String, limit: Int) {
        self.kind = kind
        self.limit = limit
    }

    /// What happened and what to check.
    public var description: String {
        if kind == "Lock" {
            return "Lock released while it was not locked; release a lock only after acquiring it (withLock { } "
                + "pairs them for you)"
        }
        return "\(kind) released too many times: its value would exceed its initial value \(limit); release "
            + "only units you acquired (withLock { } pairs them for you)"
    }
}
