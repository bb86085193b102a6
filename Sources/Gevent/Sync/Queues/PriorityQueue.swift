/// A ``JoinableQueue`` that hands out the smallest item first (a binary heap).
///
/// ```swift
/// let urgent = PriorityQueue<(Int, String)>(by: { $0.0 < $1.0 })
/// ```
///
/// Items that compare equal leave in no particular order. gevent's `PriorityQueue`. Same rules for
/// putting, getting, threads and switching as ``Queue``.
public final class PriorityQueue<T>: JoinableQueue<T> {
    /// Creates an empty priority queue ordered by `<`, bound to the calling thread's hub (created if
    /// needed). Never switches.
    ///
    /// - Parameter maxSize: the most items it holds, or `nil` for no limit (at least 1).
    public convenience init(maxSize: Int? = nil) where T: Comparable {
        self.init(maxSize: maxSize, order: .priority, isBefore: (<), joinable: true)
    }

    /// Creates an empty priority queue ordered by `areInIncreasingOrder` (`true` when the first argument
    /// must leave before the second), bound to the calling thread's hub. Never switches.
    ///
    /// - Parameters:
    ///   - maxSize: the most items it holds, or `nil` for no limit (at least 1).
    ///   - areInIncreasingOrder: a strict weak ordering.
    public convenience init(maxSize: Int? = nil, by areInIncreasingOrder: @escaping (T, T) -> Bool) {
        self.init(maxSize: maxSize, order: .priority, isBefore: areInIncreasingOrder, joinable: true)
    }
}
