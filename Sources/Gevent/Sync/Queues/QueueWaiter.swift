/// The order in which items leave a queue.
enum QueueOrder {
    /// First in, first out (``Queue``, ``JoinableQueue``).
    case fifo
    /// Last in, first out (``LifoQueue``).
    case lifo
    /// Smallest first by the queue's comparator (``PriorityQueue``): a binary heap.
    case priority
}

/// A greenlet blocked in a queue's get, peek or put (a putter's item waits in a parallel buffer).
struct QueueWaiter {
    let greenlet: AnyGreenlet
    let sequence: UInt64
}
