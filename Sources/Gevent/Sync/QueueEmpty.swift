/// A get found the queue empty: nothing was there and the call did not block (`block: false`, or a call
/// from inside the hub), or its timeout passed before an item arrived.
///
/// gevent's `queue.Empty`.
public struct QueueEmpty: Error, CustomStringConvertible, Sendable {
    /// Creates the error. Never switches; any thread.
    public init() {}

    /// The message.
    public var description: String {
        "the queue has no item (and no waiting putter); get with block: true or a longer timeout"
    }
}
