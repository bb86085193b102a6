/// The order in which items leave a queue.
enum QueueOrder<T> {
    /// First in, first out (``Queue``, ``JoinableQueue``).
    case fifo
    /// Last in, first out (``LifoQueue``).
    case lifo
    /// Smallest first by the comparator (``PriorityQueue``): a binary heap.
    case priority((T, T) -> Bool)
}

/// The items of a queue, in a ring buffer (FIFO, LIFO) or a binary heap (priority).
struct QueueStorage<T> {
    private var ring = Ring<T>()
    private var heap: [T] = []
    let order: QueueOrder<T>

    init(order: QueueOrder<T>) {
        self.order = order
    }

    var count: Int {
        if case .priority = order { return heap.count }
        return ring.count
    }

    @inline(__always)
    mutating func push(_ item: T) {
        switch order {
        case .fifo, .lifo:
            ring.append(item)
        case .priority(let areInIncreasingOrder):
            heap.append(item)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard areInIncreasingOrder(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
        }
    }

    /// Removes the next item. The queue must not be empty.
    @inline(__always)
    mutating func pop() -> T {
        switch order {
        case .fifo:
            return ring.popFirst()!
        case .lifo:
            return ring.popLast()!
        case .priority(let areInIncreasingOrder):
            if heap.count == 1 { return heap.removeLast() }
            let top = heap[0]
            heap[0] = heap.removeLast()
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var first = parent
                if left < heap.count && areInIncreasingOrder(heap[left], heap[first]) { first = left }
                if right < heap.count && areInIncreasingOrder(heap[right], heap[first]) { first = right }
                if first == parent { break }
                heap.swapAt(parent, first)
                parent = first
            }
            return top
        }
    }

    /// The item ``pop()`` would return. The queue must not be empty.
    func peek() -> T {
        switch order {
        case .fifo: return ring.first!
        case .lifo: return ring.last!
        case .priority: return heap[0]
        }
    }
}

/// A greenlet blocked in a queue's get (or peek).
struct QueueWaiter {
    let greenlet: AnyGreenlet
    let sequence: UInt64
}

/// A greenlet blocked in a queue's put, with the item it brings.
struct QueuePutter<T> {
    let greenlet: AnyGreenlet
    let sequence: UInt64
    let item: T
}
