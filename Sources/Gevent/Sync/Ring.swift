/// A double-ended ring buffer: the waiter and link lists of the coordination objects.
///
/// FIFO with ``append(_:)``/``popFirst()``, LIFO with ``popLast()``. It allocates nothing until the first
/// element arrives, grows by doubling, and never shrinks below its peak, so a steady producer/consumer
/// pattern stops allocating once the buffer has reached its working size.
struct Ring<Element> {
    private var slots: ContiguousArray<Element?> = []
    private var head = 0
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    var first: Element? { count == 0 ? nil : slots[head] }

    var last: Element? { count == 0 ? nil : slots[physical(count - 1)] }

    @inline(__always)
    private func physical(_ logical: Int) -> Int {
        (head &+ logical) & (slots.count &- 1)
    }

    /// The element at `index` (0 is the first).
    subscript(index: Int) -> Element {
        get { slots[physical(index)]! }
        set { slots[physical(index)] = newValue }
    }

    mutating func append(_ element: Element) {
        if count == slots.count { grow() }
        slots[physical(count)] = element
        count &+= 1
    }

    mutating func prepend(_ element: Element) {
        if count == slots.count { grow() }
        head = (head &- 1) & (slots.count &- 1)
        slots[head] = element
        count &+= 1
    }

    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = slots[head].take()
        head = (head &+ 1) & (slots.count &- 1)
        count &-= 1
        return element
    }

    mutating func popLast() -> Element? {
        guard count > 0 else { return nil }
        count &-= 1
        return slots[physical(count)].take()
    }

    /// Removes and returns the element at `index`, keeping the order of the others.
    @discardableResult
    mutating func remove(at index: Int) -> Element {
        precondition(index >= 0 && index < count, "Ring index out of range")
        let element = slots[physical(index)].take()!
        if index < count / 2 {
            // Shift the front part one step back.
            var i = index
            while i > 0 {
                slots[physical(i)] = slots[physical(i - 1)].take()
                i -= 1
            }
            head = (head &+ 1) & (slots.count &- 1)
        } else {
            var i = index
            while i < count - 1 {
                slots[physical(i)] = slots[physical(i + 1)].take()
                i += 1
            }
        }
        count &-= 1
        return element
    }

    /// Index of the first element matching `predicate`.
    func firstIndex(where predicate: (Element) throws -> Bool) rethrows -> Int? {
        var i = 0
        while i < count {
            if try predicate(slots[physical(i)]!) { return i }
            i += 1
        }
        return nil
    }

    /// Removes every element, keeping the capacity.
    mutating func removeAll() {
        while popFirst() != nil {}
        head = 0
    }

    /// Moves every element out, in order, leaving the ring empty.
    mutating func drain() -> [Element] {
        var elements: [Element] = []
        elements.reserveCapacity(count)
        while let element = popFirst() {
            elements.append(element)
        }
        return elements
    }

    private mutating func grow() {
        let newCapacity = Swift.max(4, slots.count * 2)
        var bigger = ContiguousArray<Element?>(repeating: nil, count: newCapacity)
        for i in 0..<count {
            bigger[i] = slots[physical(i)].take()
        }
        slots = bigger
        head = 0
    }
}
