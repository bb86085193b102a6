/// A ``ThreadPool`` could not start a worker thread and had none left to run a task.
///
/// `pthread_create` failed, usually because the process reached its thread limit (`ulimit -u`,
/// `kernel.threads-max`) or ran out of memory for thread stacks. The tasks waiting in the pool fail with
/// this error instead of waiting forever.
public struct ThreadPoolStartError: Error, CustomStringConvertible, Sendable {
    /// The error number `pthread_create` returned.
    public let errno: Int32

    /// Creates the error. Never switches; any thread.
    public init(errno: Int32) {
        self.errno = errno
    }

    /// The message, with what to check.
    public var description: String {
        "ThreadPool could not start a worker thread: \(errnoDescription(errno)); the process may have reached its "
            + "thread limit (ulimit -u, kernel.threads-max): use a smaller maxSize or fewer pools"
    }
}
