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
