/// An unbuffered queue: a put waits until a getter takes the item, a get waits until a putter brings one.
///
/// ```swift
/// let answers = Channel<Int>()
/// spawn { try answers.put(42) }      // returns once the item was taken
/// let answer = try answers.get()
/// ```
///
/// Putters and getters are paired in arrival order on the hub's next callback round; the getter runs with
/// its item first, then the putter resumes. A non-blocking put (or get) waits one loop iteration for a
/// partner already waiting, then throws. Inside the hub, calls never block: a put hands the item to a
/// waiting getter or throws ``QueueFull``; a get takes from a waiting putter or throws ``QueueEmpty``.
/// ``next()`` iterates until ``shutdown()``. gevent's `Channel` (its `qsize()` is always 0, and `empty()`
/// and `full()` are both true).
///
/// Threads: a channel belongs to the hub of the thread that created it; the blocking methods throw
/// ``InvalidThreadUseError`` elsewhere, the others stop the program with that message.
public final class Channel<T> {
    /// The hub the channel belongs to.
    public let hub: Hub
    // @exclusivity(unchecked): only touched on the hub's thread, never across a switch, so accesses cannot
    // overlap; the run-time check is measurable on the hand-off path.
    @exclusivity(unchecked)
    private var getters = Ring<QueueWaiter>()
    @exclusivity(unchecked)
    private var putters = Ring<QueueWaiter>()
    // The items of blocked putters, parallel to `putters`; raw buffers stay cheap in unspecialized code
    // (see ItemBuffer).
    private let putterItems = ItemBuffer<T>()
    @exclusivity(unchecked)
    private var unlockScheduled = false
    // The item being handed to a woken getter (0 or 1 element), and who it is for.
    private let handoff = ItemBuffer<T>()
    @exclusivity(unchecked)
    private var handoffTo: ObjectIdentifier?
    @exclusivity(unchecked)
    private var handoffSequence: UInt64 = 0
    @exclusivity(unchecked)
    private var shutDown = false
    // Made once, so that scheduling an unlock allocates nothing. It holds the queue unowned (a weak
    // reference would give every queue a side table and slow all its retains); `unlockKeepAlive` holds it
    // strongly while an unlock is scheduled, as gevent's queued callback does.
    private lazy var unlockCallback: () -> Void = { [unowned(unsafe) self] in self.unlock() }
    // AnyObject: see Queue.unlockKeepAlive.
    private var unlockKeepAlive: AnyObject?

    /// Creates a channel bound to the calling thread's hub (created if needed). Never switches.
    public init() {
        hub = Hub.current
    }

    /// Blocked putters minus blocked getters. gevent's `balance`. Never switches; hub thread only.
    public var balance: Int {
        hub.preconditionOnHubThread("Channel.balance")
        return putters.count - getters.count
    }

    /// `true` once ``shutdown()`` was called. Never switches; hub thread only.
    public var isShutDown: Bool {
        hub.preconditionOnHubThread("Channel.isShutDown")
        return shutDown
    }

    /// Hands `item` to a getter, waiting until one takes it.
    ///
    /// gevent's `put(item, block, timeout)`. May switch greenlets (a put always waits at least for the hub's
    /// next callback round). Hub thread only; inside the hub it never blocks.
    ///
    /// - Parameters:
    ///   - item: the item.
    ///   - block: `false` waits only for a getter that is already waiting (one loop iteration).
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Throws: ``QueueFull`` when no getter took it in time (or, inside the hub, none was waiting);
    ///   ``QueueShutDown`` after ``shutdown()``; errors thrown into the waiting greenlet; ``LoopExit``;
    ///   ``InvalidThreadUseError`` on another thread.
    @available(*, noasync, message: "put blocks the thread's greenlets; it is for greenlet code, not async code")
    public func put(_ item: T, block: Bool = true, timeout: Duration? = nil) throws {
        try hub.checkThread("Channel.put")
        if shutDown { throw QueueShutDown() }
        if hub.isInHub {
            guard let getter = getters.popFirst() else { throw QueueFull() }
            if !give(item, to: getter) {
                _ = handoff.removeFirst()
                throw QueueFull()
            }
            return
        }
        let greenlet = try hub.blockableGreenlet("Channel.put")
        let sequence = greenlet.beginBlock(waitingFor: "Channel.put")
        putters.append(QueueWaiter(greenlet: greenlet, sequence: sequence))
        putterItems.append(item)
        if !getters.isEmpty { scheduleUnlock() }
        do {
            try hub.block(greenlet, timeout: block ? timeout : .zero)
        } catch {
            removePutter(greenlet, sequence)
            throw error
        }
        if handoffTo == ObjectIdentifier(greenlet) && handoffSequence == sequence {
            handoffTo = nil
            return
        }
        let stillWaiting = removePutter(greenlet, sequence)
        if shutDown { throw QueueShutDown() }
        // Not on the list any more: a get inside the hub took the item and our wake-up is still queued
        // behind the timer that woke us.
        if !stillWaiting { return }
        throw QueueFull()
    }

    /// Hands `item` to a getter that is already waiting: ``put(_:block:timeout:)`` with `block: false`.
    ///
    /// gevent's `put_nowait`. May switch greenlets (for one loop iteration); hub thread only.
    ///
    /// - Throws: ``QueueFull`` when no getter was waiting; as ``put(_:block:timeout:)`` otherwise.
    @available(*, noasync, message: "tryPut switches greenlets; it is for greenlet code, not async code")
    public func tryPut(_ item: T) throws {
        try put(item, block: false)
    }

    /// Takes an item from a putter, waiting until one brings it.
    ///
    /// gevent's `get(block, timeout)`. May switch greenlets (a get always waits at least for the hub's next
    /// callback round). Hub thread only; inside the hub it never blocks.
    ///
    /// - Parameters:
    ///   - block: `false` waits only for a putter that is already waiting (one loop iteration).
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: the item.
    /// - Throws: ``QueueEmpty`` when no putter came in time (or, inside the hub, none was waiting);
    ///   ``QueueShutDown`` after ``shutdown()``; errors thrown into the waiting greenlet; ``LoopExit``;
    ///   ``InvalidThreadUseError`` on another thread.
    @available(*, noasync, message: "get blocks the thread's greenlets; it is for greenlet code, not async code")
    public func get(block: Bool = true, timeout: Duration? = nil) throws -> T {
        try hub.checkThread("Channel.get")
        if hub.isInHub {
            guard let putter = putters.popFirst() else { throw QueueEmpty() }
            let item = putterItems.removeFirst()
            // The putter resumes on the next callback round, as in gevent.
            hub.enqueue(.closure { [self] in wakePutter(putter.greenlet, putter.sequence) })
            return item
        }
        if shutDown { throw QueueShutDown() }
        let greenlet = try hub.blockableGreenlet("Channel.get")
        let sequence = greenlet.beginBlock(waitingFor: "Channel.get")
        getters.append(QueueWaiter(greenlet: greenlet, sequence: sequence))
        if !putters.isEmpty { scheduleUnlock() }
        do {
            try hub.block(greenlet, timeout: block ? timeout : .zero)
        } catch {
            removeGetter(greenlet, sequence)
            throw error
        }
        if handoffTo == ObjectIdentifier(greenlet) && handoffSequence == sequence && !handoff.isEmpty {
            handoffTo = nil
            return handoff.removeFirst()
        }
        removeGetter(greenlet, sequence)
        if shutDown { throw QueueShutDown() }
        throw QueueEmpty()
    }

    /// Takes an item from a putter that is already waiting: ``get(block:timeout:)`` with `block: false`.
    ///
    /// gevent's `get_nowait`. May switch greenlets (for one loop iteration); hub thread only.
    ///
    /// - Throws: ``QueueEmpty`` when no putter was waiting; as ``get(block:timeout:)`` otherwise.
    @available(*, noasync, message: "tryGet switches greenlets; it is for greenlet code, not async code")
    public func tryGet() throws -> T {
        try get(block: false)
    }

    /// The next item for iteration: waits for a putter, and returns `nil` once the channel is shut down.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: errors thrown into the waiting greenlet; ``LoopExit``; ``InvalidThreadUseError``.
    @available(*, noasync, message: "next blocks the thread's greenlets; it is for greenlet code, not async code")
    public func next() throws -> T? {
        do {
            return try get()
        } catch is QueueShutDown {
            return nil
        }
    }

    /// Shuts the channel down: later puts and gets throw ``QueueShutDown``, and so do the greenlets blocked
    /// in one (on the hub's next callback round; a blocked putter's item is dropped). Ends ``next()``
    /// iteration. Never switches; hub thread only.
    public func shutdown() {
        hub.preconditionOnHubThread("Channel.shutdown")
        shutDown = true
        while let getter = getters.popFirst() {
            hub.enqueue(.resume(getter.greenlet, getter.sequence))
        }
        while let putter = putters.popFirst() {
            hub.enqueue(.resume(putter.greenlet, putter.sequence))
        }
        putterItems.removeAll()
    }

    // MARK: - Internals

    private func scheduleUnlock() {
        guard !unlockScheduled else { return }
        unlockScheduled = true
        unlockKeepAlive = self
        hub.enqueue(.closure(unlockCallback))
    }

    /// Pairs waiting putters with waiting getters, oldest first (gevent's `_unlock`). Runs inside the hub.
    private func unlock() {
        unlockScheduled = false
        // Released at the end of this pass, not now: this call may hold the last reference.
        let keepAlive = unlockKeepAlive
        unlockKeepAlive = nil
        defer { withExtendedLifetime(keepAlive) {} }
        while !putters.isEmpty && !getters.isEmpty {
            let getter = getters.popFirst()!
            let putter = putters.popFirst()!
            if !give(putterItems.removeFirst(), to: getter) {
                putters.prepend(putter)
                putterItems.prepend(handoff.removeFirst())
            } else {
                wakePutter(putter.greenlet, putter.sequence)
            }
        }
    }

    /// Switches into `getter` with `item` (from the hub); `false` if the getter did not take it, which then
    /// stays in `handoff` for the caller. Returns no `T?`: in unspecialised code every `T?` costs a run-time
    /// metadata lookup (a quarter of a hand-over), so this path has none.
    private func give(_ item: T, to getter: QueueWaiter) -> Bool {
        handoff.append(item)
        handoffTo = ObjectIdentifier(getter.greenlet)
        handoffSequence = getter.sequence
        hub.resume(getter.greenlet, sequence: getter.sequence)
        handoffTo = nil
        return handoff.isEmpty
    }

    private func wakePutter(_ greenlet: AnyGreenlet, _ sequence: UInt64) {
        handoffTo = ObjectIdentifier(greenlet)
        handoffSequence = sequence
        hub.resume(greenlet, sequence: sequence)
        handoffTo = nil
    }

    private func removeGetter(_ greenlet: AnyGreenlet, _ sequence: UInt64) {
        if let index = getters.firstIndex(where: { $0.greenlet === greenlet && $0.sequence == sequence }) {
            getters.remove(at: index)
        }
    }

    @discardableResult
    private func removePutter(_ greenlet: AnyGreenlet, _ sequence: UInt64) -> Bool {
        guard let index = putters.firstIndex(where: { $0.greenlet === greenlet && $0.sequence == sequence }) else {
            return false
        }
        putters.remove(at: index)
        _ = putterItems.remove(at: index)
        return true
    }
}

extension Channel: CustomStringConvertible {
    /// `"<Channel getters=1 putters=0>"`.
    public var description: String {
        "<Channel getters=\(getters.count) putters=\(putters.count)\(shutDown ? " shut down" : "")>"
    }
}
