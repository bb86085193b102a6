/// A put found the queue full: the queue was full and the call did not block (`block: false`, or a call
/// from inside the hub), or its timeout passed before a slot became free.
///
/// gevent's `queue.Full`. Retry later, raise the queue's `maxSize`, or put with `block: true`.
public struct QueueFull: Error, CustomStringConvertible, Sendable {
    /// Creates the error. Never switches; any thread.
    public init() {}

    /// The message.
    public var description: String {
        "the queue is full (no free slot and no waiting getter); put with block: true or a longer "
            + "timeout, or get items out first"
    }
}
