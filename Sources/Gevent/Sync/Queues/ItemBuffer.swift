/// The items of a queue: a ring buffer over raw memory, also usable as a binary heap.
///
/// Why not ``Ring``: queues are generic, and code that calls them from another module runs unspecialized.
/// There, every use of a type built from `T` (`Optional<T>`, `ContiguousArray<Optional<T>>`, a generic
/// struct field) costs a lookup in the runtime's generic-metadata cache, which made a queue hand-off ten
/// times slower than a greenlet switch. A final class over `UnsafeMutablePointer<T>` needs nothing but `T`'s
/// own value witnesses, which come with the instance.
final class ItemBuffer<T> {
    // @exclusivity(unchecked): the owning queue touches these on its hub's thread only, never across a
    // switch; the run-time check is measurable on the hand-off path.
    @exclusivity(unchecked)
    private var base: UnsafeMutablePointer<T>
    @exclusivity(unchecked)
    private var capacity: Int
    @exclusivity(unchecked)
    private var head = 0
    @exclusivity(unchecked)
    private(set) var count = 0
    /// For a priority queue: `true` when the first argument must leave before the second.
    private let isBefore: ((T, T) -> Bool)?

    init(isBefore: ((T, T) -> Bool)? = nil) {
        self.isBefore = isBefore
        capacity = 4
        base = .allocate(capacity: capacity)
    }

    deinit {
        removeAll()
        base.deallocate()
    }

    @inline(__always)
    private func slot(_ logical: Int) -> UnsafeMutablePointer<T> {
        base + ((head &+ logical) & (capacity &- 1))
    }

    var isEmpty: Bool { count == 0 }

    /// The element at logical `index` (0 is the first).
    subscript(index: Int) -> T {
        slot(index).pointee
    }

    @inline(__always)
    func append(_ item: T) {
        if count == capacity { grow() }
        slot(count).initialize(to: item)
        count &+= 1
    }

    func prepend(_ item: T) {
        if count == capacity { grow() }
        head = (head &- 1) & (capacity &- 1)
        base.advanced(by: head).initialize(to: item)
        count &+= 1
    }

    /// Removes the first element. The buffer must not be empty.
    @inline(__always)
    func removeFirst() -> T {
        let item = base.advanced(by: head).move()
        head = (head &+ 1) & (capacity &- 1)
        count &-= 1
        return item
    }

    /// Removes the last element. The buffer must not be empty.
    @inline(__always)
    func removeLast() -> T {
        count &-= 1
        return slot(count).move()
    }

    /// Removes the element at logical `index`, keeping the order of the others.
    func remove(at index: Int) -> T {
        precondition(index >= 0 && index < count, "ItemBuffer index out of range")
        let item = slot(index).move()
        var i = index
        while i < count - 1 {
            slot(i).moveInitialize(from: slot(i + 1), count: 1)
            i += 1
        }
        count &-= 1
        return item
    }

    func removeAll() {
        while count > 0 {
            _ = removeFirst()
        }
        head = 0
    }

    private func grow() {
        let newCapacity = capacity * 2
        let bigger = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
        for i in 0..<count {
            (bigger + i).moveInitialize(from: slot(i), count: 1)
        }
        base.deallocate()
        base = bigger
        capacity = newCapacity
        head = 0
    }

    // MARK: - Heap (priority order)

    /// Adds `item` to the heap ordered by `isBefore`.
    func heapPush(_ item: T) {
        append(item)
        let isBefore = self.isBefore!
        var child = count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard isBefore(slot(child).pointee, slot(parent).pointee) else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    /// Removes the heap's first item. The buffer must not be empty.
    func heapPop() -> T {
        if count == 1 { return removeLast() }
        swapAt(0, count - 1)
        let top = removeLast()
        let isBefore = self.isBefore!
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var first = parent
            if left < count && isBefore(slot(left).pointee, slot(first).pointee) { first = left }
            if right < count && isBefore(slot(right).pointee, slot(first).pointee) { first = right }
            if first == parent { break }
            swapAt(parent, first)
            parent = first
        }
        return top
    }

    private func swapAt(_ i: Int, _ j: Int) {
        let a = slot(i)
        let b = slot(j)
        let held = a.move()
        a.moveInitialize(from: b, count: 1)
        b.initialize(to: held)
    }
}
