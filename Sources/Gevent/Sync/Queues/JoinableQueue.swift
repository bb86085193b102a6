/// A ``Queue`` that counts unfinished tasks: every item put is a task, finished by one ``taskDone()``, and
/// ``join(timeout:)`` waits until all are finished.
///
/// ```swift
/// let work = JoinableQueue<URL>()
/// for _ in 0..<10 {
///     spawn { while let url = try work.next() { try fetch(url); try work.taskDone() } }
/// }
/// for url in urls { try work.put(url) }
/// try work.join()                 // every URL fetched
/// ```
///
/// gevent's `Queue` (formerly `JoinableQueue`; gevent 25.4.1 renamed it). Same rules for putting, getting,
/// threads and switching as ``Queue``.
public class JoinableQueue<T>: Queue<T> {
    /// Creates an empty joinable queue bound to the calling thread's hub (created if needed). Never
    /// switches.
    ///
    /// - Parameter maxSize: the most items it holds, or `nil` for no limit (at least 1; see
    ///   ``Queue/init(maxSize:)``).
    public convenience init(maxSize: Int? = nil) {
        self.init(maxSize: maxSize, order: .fifo, joinable: true)
    }

    /// The number of items put and not yet matched by a ``taskDone()``. gevent's `unfinished_tasks`.
    /// Never switches; hub thread only.
    public final var unfinishedTasks: Int {
        hub.preconditionOnHubThread("JoinableQueue.unfinishedTasks")
        return unfinishedTaskCount
    }

    /// Marks one task (an item taken from the queue) as finished; the last one releases ``join(timeout:)``.
    ///
    /// gevent's `task_done()`. Never switches; hub thread only.
    ///
    /// - Throws: ``UnmatchedTaskDoneError`` when every item put has already been marked done;
    ///   ``InvalidThreadUseError`` on another thread.
    public final func taskDone() throws {
        try hub.checkThread("JoinableQueue.taskDone")
        try finishTask()
    }

    /// Waits until every item put has been marked done with ``taskDone()``.
    ///
    /// Returns at once, without switching, when nothing is unfinished. gevent's `join(timeout)`. May switch
    /// greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` if every task finished, `false` if the timeout passed first.
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit``; ``InvalidThreadUseError``.
    @available(*, noasync, message: "join blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public final func join(timeout: Duration? = nil) throws -> Bool {
        try hub.checkThread("JoinableQueue.join")
        return try allTasksDone!.wait(timeout: timeout)
    }
}
