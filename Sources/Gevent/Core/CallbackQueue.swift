/// One unit of work for the hub's callback phase.
///
/// An enum rather than closures so that the hot cases (start a greenlet, wake a blocked one) allocate
/// nothing beyond the queue slot.
enum HubCallback {
    /// First switch into a greenlet that ``AnyGreenlet/start()`` scheduled.
    case start(AnyGreenlet)
    /// Wake a greenlet blocked with this block sequence number (stale numbers are ignored).
    case resume(AnyGreenlet, UInt64)
    /// Throw an error into a blocked greenlet at its switch point (kill, killAll).
    case throwInto(AnyGreenlet, any Error)
    /// Run a greenlet's links, in the order they were added.
    case notifyLinks(AnyGreenlet)
    /// Anything else.
    case closure(() -> Void)
}

/// A FIFO ring buffer of hub callbacks that grows by doubling and never shrinks below its peak.
///
/// Every greenlet hand-over goes through it (an append, then a pop), so it manages its own storage: no
/// copy-on-write uniqueness check and no optional wrapper per slot, as an array of `HubCallback?` needs.
/// Noncopyable, so the storage has exactly one owner (the hub) and is freed with it.
struct CallbackQueue: ~Copyable {
    private var slots: UnsafeMutablePointer<HubCallback>
    private var capacity: Int  // a power of two
    private var head = 0
    private(set) var count = 0

    init(capacity: Int = 64) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "capacity must be a power of two")
        self.capacity = capacity
        slots = .allocate(capacity: capacity)
    }

    deinit {
        for i in 0..<count {
            (slots + ((head + i) & (capacity - 1))).deinitialize(count: 1)
        }
        slots.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Consuming: the caller's callback (and the references in it) moves into the slot, uncopied.
    mutating func append(_ callback: consuming HubCallback) {
        if count == capacity {
            grow()
        }
        (slots + ((head + count) & (capacity - 1))).initialize(to: callback)
        count += 1
    }

    mutating func popFirst() -> HubCallback? {
        guard count > 0 else { return nil }
        let callback = (slots + head).move()
        head = (head + 1) & (capacity - 1)
        count -= 1
        return callback
    }

    /// Drops every entry (hub destruction).
    mutating func removeAll() {
        while popFirst() != nil {}
    }

    private mutating func grow() {
        let bigger = UnsafeMutablePointer<HubCallback>.allocate(capacity: capacity * 2)
        for i in 0..<count {
            (bigger + i).moveInitialize(from: slots + ((head + i) & (capacity - 1)), count: 1)
        }
        slots.deallocate()
        slots = bigger
        capacity *= 2
        head = 0
    }
}
