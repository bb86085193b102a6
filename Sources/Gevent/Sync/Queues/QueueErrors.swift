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

/// ``JoinableQueue/taskDone()`` was called more times than items were put into the queue.
///
/// Each item taken with `get` should be matched by exactly one `taskDone()` once it is processed.
/// gevent raises `ValueError("task_done() called too many times")`.
public struct UnmatchedTaskDoneError: Error, CustomStringConvertible, Sendable {
    /// Creates the error. Never switches; any thread.
    public init() {}

    /// The message.
    public var description: String {
        "taskDone() called more times than items were put; call it once per item taken with get"
    }
}
