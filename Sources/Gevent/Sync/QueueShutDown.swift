/// The queue was shut down: puts always fail, and gets fail once the remaining items are gone (at once
/// after `shutdown(immediate: true)`). Greenlets blocked in a put or get when it shut down get it too.
///
/// gevent's (and Python 3.13's) `queue.ShutDown`. ``Queue/next()`` turns it into the end of iteration.
public struct QueueShutDown: Error, CustomStringConvertible, Sendable {
    /// Creates the error. Never switches; any thread.
    public init() {}

    /// The message.
    public var description: String {
        "the queue was shut down; no more items can be put, and every item has been taken"
    }
}
