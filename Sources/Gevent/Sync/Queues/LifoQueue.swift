/// A ``JoinableQueue`` that hands out the most recently added item first (a stack).
///
/// gevent's `LifoQueue`. Same rules for putting, getting, threads and switching as ``Queue``.
public final class LifoQueue<T>: JoinableQueue<T> {
    /// Creates an empty LIFO queue bound to the calling thread's hub (created if needed). Never switches.
    ///
    /// - Parameter maxSize: the most items it holds, or `nil` for no limit (at least 1).
    public convenience init(maxSize: Int? = nil) {
        self.init(maxSize: maxSize, order: .lifo, joinable: true)
    }
}
