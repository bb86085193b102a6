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
struct CallbackQueue {
    private var slots: ContiguousArray<HubCallback?>
    private var head = 0
    private(set) var count = 0

    init(capacity: Int = 64) {
        slots = ContiguousArray(repeating: nil, count: capacity)
    }

    var isEmpty: Bool { count == 0 }

    mutating func append(_ callback: HubCallback) {
        if count == slots.count {
            grow()
        }
        slots[(head + count) & (slots.count - 1)] = callback
        count += 1
    }

    mutating func popFirst() -> HubCallback? {
        guard count > 0 else { return nil }
        let callback = slots[head].take()
        head = (head + 1) & (slots.count - 1)
        count -= 1
        return callback
    }

    /// Drops every entry (hub destruction).
    mutating func removeAll() {
        while popFirst() != nil {}
    }

    private mutating func grow() {
        var bigger = ContiguousArray<HubCallback?>(repeating: nil, count: slots.count * 2)
        for i in 0..<count {
            bigger[i] = slots[(head + i) & (slots.count - 1)].take()
        }
        slots = bigger
        head = 0
    }
}
