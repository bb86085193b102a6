/// A first-in, first-out queue for passing items between greenlets, optionally bounded.
///
/// ```swift
/// let jobs = Queue<Job>(maxSize: 100)
/// spawn { for job in source { try jobs.put(job) }; jobs.shutdown() }
/// while let job = try jobs.next() { try handle(job) }     // ends once shut down and drained
/// ```
///
/// - ``put(_:block:timeout:)`` into a queue with room and ``get(block:timeout:)`` from a queue with items
///   never switch greenlets; when the other side has waiters, they are woken on the hub's next callback
///   round.
/// - Blocked putters and getters are served in the order they arrived. A put hands its item to the first
///   waiting getter, whose wake-up is queued as one hub callback. If a get that does not wait takes the item
///   before that getter runs, the getter goes on waiting, still first in line. A getter that gives up
///   (timeout, kill) never loses an item: it stays queued for the next one.
/// - Calls from inside the hub (raw links, `Hub.runCallback`) never block: a put into a full queue hands
///   items to waiting getters or throws ``QueueFull``; a get from an empty queue takes from waiting putters
///   or throws ``QueueEmpty``.
/// - Iterate with ``next()``, which returns `nil` once the queue is shut down (``shutdown(immediate:)``) and
///   drained.
///
/// gevent's `SimpleQueue` (formerly `Queue`). ``JoinableQueue`` adds `taskDone`/`join`; ``LifoQueue`` and
/// ``PriorityQueue`` change the order; ``Channel`` is the unbuffered rendezvous.
///
/// Threads: a queue belongs to the hub of the thread that created it. Methods that can block throw
/// ``InvalidThreadUseError`` on other threads; the others stop the program with that message. To feed a
/// queue from another OS thread, hand the item to its hub with `Hub.runThreadsafe`.
public class Queue<T> {
    /// The hub the queue belongs to.
    public final let hub: Hub
    /// The most items the queue holds, or `nil` for no limit.
    public final let maxSize: Int?
    private final let limit: Int
    private final let order: QueueOrder
    // Items, and the items of blocked putters (parallel to `putters`), in buffers that stay cheap when
    // the queue is used from unspecialized generic code (see ItemBuffer).
    private final let items: ItemBuffer<T>
    private final let putterItems = ItemBuffer<T>()
    // Stored properties marked @exclusivity(unchecked) are only touched on the hub's thread, and no access
    // to them spans a switch, so they cannot overlap; the run-time check cost several percent of a hand-off.
    @exclusivity(unchecked)
    private final var getters = Ring<QueueWaiter>()
    @exclusivity(unchecked)
    private final var putters = Ring<QueueWaiter>()
    @exclusivity(unchecked)
    private final var unlockScheduled = false
    // The putter a hand-off just woke, so that it can tell that from a timeout (getters use claimedSeq).
    @exclusivity(unchecked)
    private final var handedOffTo: ObjectIdentifier?
    @exclusivity(unchecked)
    private final var handedOffSequence: UInt64 = 0
    @exclusivity(unchecked)
    private final var shutDown = false
    // Getters that a put took off `getters` for the item it stored, woken by a `.resume` callback and not
    // yet run: that many items are spoken for.
    @exclusivity(unchecked)
    private final var pendingClaims = 0
    // JoinableQueue's task count; `allTasksDone` is nil for a plain queue.
    @exclusivity(unchecked)
    final var unfinishedTaskCount = 0
    final let allTasksDone: Event?
    // Made once, so that scheduling an unlock allocates nothing. It holds the queue unowned (a weak
    // reference would give every queue a side table and slow all its retains); `unlockKeepAlive` holds it
    // strongly while an unlock is scheduled, as gevent's queued callback does.
    private final lazy var unlockCallback: () -> Void = { [unowned(unsafe) self] in self.unlock() }
    // AnyObject, not Queue<T>: extending the lifetime of a generic type's optional needs its metadata, which an
    // unspecialized generic instance looks up at run time (a quarter of a queue hand-over's cost).
    private final var unlockKeepAlive: AnyObject?

    init(maxSize: Int?, order: QueueOrder, isBefore: ((T, T) -> Bool)? = nil, joinable: Bool) {
        if let maxSize {
            precondition(
                maxSize > 0,
                "Queue(maxSize: \(maxSize)): the size must be at least 1; use nil for an unbounded queue, or Channel "
                    + "for a rendezvous without buffer"
            )
        }
        hub = Hub.current
        self.maxSize = maxSize
        limit = maxSize ?? Int.max
        self.order = order
        items = ItemBuffer(isBefore: isBefore)
        if joinable {
            let event = Event()
            event.set()
            allTasksDone = event
        } else {
            allTasksDone = nil
        }
    }

    /// Creates an empty queue bound to the calling thread's hub (created if needed). Never switches.
    ///
    /// - Parameter maxSize: the most items it holds (puts then block), or `nil` for no limit. Must be at
    ///   least 1: a smaller value stops the program, since it is a bug in the caller (gevent's `Queue(0)`
    ///   meant unbounded; use `nil`, or ``Channel`` for a rendezvous).
    public convenience init(maxSize: Int? = nil) {
        self.init(maxSize: maxSize, order: .fifo, joinable: false)
    }

    // MARK: - State

    /// The number of items in the queue. gevent's `qsize()`. Never switches; hub thread only.
    public final var count: Int {
        hub.preconditionOnHubThread("Queue.count")
        return items.count
    }

    /// `true` when the queue has no item. Never switches; hub thread only.
    public final var isEmpty: Bool {
        hub.preconditionOnHubThread("Queue.isEmpty")
        return items.count == 0
    }

    /// `true` when a put would block: the queue is bounded and holds `maxSize` items. Never switches; hub
    /// thread only.
    public final var isFull: Bool {
        hub.preconditionOnHubThread("Queue.isFull")
        return items.count >= limit
    }

    /// `true` once ``shutdown(immediate:)`` was called. Never switches; hub thread only.
    public final var isShutDown: Bool {
        hub.preconditionOnHubThread("Queue.isShutDown")
        return shutDown
    }

    /// The number of greenlets blocked in a get or peek. Never switches; hub thread only.
    public final var waitingGetters: Int {
        hub.preconditionOnHubThread("Queue.waitingGetters")
        return getters.count
    }

    /// The number of greenlets blocked in a put. Never switches; hub thread only.
    public final var waitingPutters: Int {
        hub.preconditionOnHubThread("Queue.waitingPutters")
        return putters.count
    }

    // MARK: - Putting

    /// Adds `item` to the queue, waiting for room if it is full.
    ///
    /// A queue with room takes the item without switching (and wakes a waiting getter on the hub's next
    /// callback round). gevent's `put(item, block, timeout)`. May switch greenlets when the queue is full.
    /// Hub thread only; inside the hub it never blocks (see the type's discussion).
    ///
    /// - Parameters:
    ///   - item: the item.
    ///   - block: `false` throws ``QueueFull`` at once instead of waiting.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes. Negative counts as zero.
    /// - Throws: ``QueueFull`` when there was no room in time; ``QueueShutDown`` when the queue is (or gets)
    ///   shut down; errors thrown into the waiting greenlet; ``InvalidThreadUseError`` on another thread.
    @available(*, noasync, message: "put blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func put(_ item: T, block: Bool = true, timeout: Duration? = nil) throws {
        try hub.checkThread("Queue.put")
        if shutDown { throw QueueShutDown() }
        if items.count < limit {
            store(item)
            claimGetter()
            return
        }
        if hub.isInHub {
            // Nobody can wait inside the hub: let the waiting getters take items to make room.
            while !getters.isEmpty && items.count > 0 && items.count >= limit {
                wakeGetterNow(getters.popFirst()!)
            }
            guard items.count < limit else { throw QueueFull() }
            store(item)
            return
        }
        guard block else { throw QueueFull() }
        let greenlet = try hub.blockableGreenlet("Queue.put")
        let sequence = greenlet.beginBlock(waitingFor: "Queue.put")
        putters.append(QueueWaiter(greenlet: greenlet, sequence: sequence))
        putterItems.append(item)
        if !getters.isEmpty { scheduleUnlock() }
        do {
            try hub.block(greenlet, timeout: timeout)
        } catch {
            removePutter(greenlet, sequence)
            throw error
        }
        if wasHandedOff(greenlet, sequence) { return }  // the unlock pass stored the item
        removePutter(greenlet, sequence)
        if shutDown { throw QueueShutDown() }
        throw QueueFull()
    }

    /// Adds `item` only if there is room now: ``put(_:block:timeout:)`` with `block: false`.
    ///
    /// gevent's `put_nowait`. Never switches; hub thread only.
    ///
    /// - Throws: ``QueueFull``, ``QueueShutDown``, ``InvalidThreadUseError``.
    public final func tryPut(_ item: T) throws {
        try put(item, block: false)
    }

    // MARK: - Getting

    /// Removes and returns the next item, waiting for one if the queue is empty.
    ///
    /// A queue with items returns one without switching (and wakes a waiting putter on the hub's next
    /// callback round). gevent's `get(block, timeout)`. May switch greenlets when the queue is empty. Hub
    /// thread only; inside the hub it never blocks.
    ///
    /// - Parameters:
    ///   - block: `false` throws ``QueueEmpty`` at once instead of waiting.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes. Negative counts as zero.
    /// - Returns: the item.
    /// - Throws: ``QueueEmpty`` when no item came in time; ``QueueShutDown`` when the queue is shut down
    ///   and drained; errors thrown into the waiting greenlet; ``LoopExit`` when nothing can ever put;
    ///   ``InvalidThreadUseError`` on another thread.
    @available(*, noasync, message: "get blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func get(block: Bool = true, timeout: Duration? = nil) throws -> T {
        try hub.checkThread("Queue.get")
        if items.count > 0 {
            if !putters.isEmpty { scheduleUnlock() }
            return take()
        }
        return try waitForItem(removing: true, block: block, timeout: timeout, operation: "Queue.get")
    }

    /// Removes and returns the next item only if there is one now: ``get(block:timeout:)`` with
    /// `block: false`.
    ///
    /// gevent's `get_nowait`. Never switches; hub thread only.
    ///
    /// - Throws: ``QueueEmpty``, ``QueueShutDown``, ``InvalidThreadUseError``.
    public final func tryGet() throws -> T {
        try get(block: false)
    }

    /// Returns the next item without removing it, waiting for one if the queue is empty.
    ///
    /// gevent's `peek(block, timeout)`. Never switches when an item is there; otherwise may switch greenlets.
    /// Hub thread only.
    ///
    /// - Throws: as ``get(block:timeout:)``.
    @available(*, noasync, message: "peek blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func peek(block: Bool = true, timeout: Duration? = nil) throws -> T {
        try hub.checkThread("Queue.peek")
        if items.count > 0 { return first() }
        return try waitForItem(removing: false, block: block, timeout: timeout, operation: "Queue.peek")
    }

    /// The next item for iteration: waits for one, and returns `nil` once the queue is shut down and
    /// drained.
    ///
    /// ```swift
    /// while let item = try queue.next() { … }
    /// ```
    ///
    /// gevent iterates until it gets the `StopIteration` item; here ``shutdown(immediate:)`` ends the
    /// iteration. May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: errors thrown into the waiting greenlet (a ``Timeout``, a kill); ``LoopExit``;
    ///   ``InvalidThreadUseError``.
    @available(*, noasync, message: "next blocks the thread's greenlets; it is for greenlet code, not async code")
    public final func next() throws -> T? {
        do {
            return try get()
        } catch is QueueShutDown {
            return nil
        }
    }

    private final func waitForItem(
        removing: Bool,
        block: Bool,
        timeout: Duration?,
        operation: StaticString
    ) throws -> T {
        if shutDown { throw QueueShutDown() }
        if hub.isInHub {
            // Nobody can wait inside the hub: take from the waiting putters.
            while let putter = putters.popFirst() {
                store(putterItems.removeFirst())
                wakePutter(putter.greenlet, putter.sequence)
                if items.count > 0 { return removing ? take() : first() }
            }
            throw QueueEmpty()
        }
        guard block else { throw QueueEmpty() }
        let greenlet = try hub.blockableGreenlet(operation)
        let start = timeout == nil ? 0 : monotonicNanoseconds()
        var remaining = timeout
        var atFront = false
        while true {
            let sequence = greenlet.beginBlock(waitingFor: operation)
            let waiter = QueueWaiter(greenlet: greenlet, sequence: sequence)
            if atFront {
                getters.prepend(waiter)
            } else {
                getters.append(waiter)
            }
            if !putters.isEmpty { scheduleUnlock() }
            do {
                try hub.block(greenlet, timeout: remaining)
            } catch {
                if greenlet.claimedSeq == sequence {
                    // Claimed for an item, then interrupted: the item goes to the next getter.
                    pendingClaims -= 1
                    claimGetter()
                } else {
                    removeGetter(greenlet, sequence)
                }
                throw error
            }
            if greenlet.claimedSeq == sequence {
                pendingClaims -= 1
                if items.count > 0 {
                    if removing { return take() }
                    // A peek leaves the item: the next getter may have it.
                    claimGetter()
                    return first()
                }
                // Taken meanwhile by a get that did not wait: wait again, first in line.
                if shutDown { throw QueueShutDown() }
                atFront = true
            } else {
                removeGetter(greenlet, sequence)
                if shutDown {
                    if items.count > 0 { return removing ? take() : first() }
                    throw QueueShutDown()
                }
                throw QueueEmpty()
            }
            if let timeout {
                let left = timeout.nanoseconds - (monotonicNanoseconds() - start)
                if left <= 0 { throw QueueEmpty() }
                remaining = .nanoseconds(left)
            }
        }
    }

    // MARK: - Shutting down

    /// Shuts the queue down: later puts throw ``QueueShutDown``; gets return the remaining items, then throw
    /// it (at once with `immediate`). Greenlets blocked in a put or get get ``QueueShutDown`` on the hub's
    /// next callback round; a blocked putter's item is dropped.
    ///
    /// gevent's (Python 3.13's) `shutdown(immediate)`. Ends ``next()`` iteration. Never switches; hub thread
    /// only.
    ///
    /// - Parameter immediate: drop the remaining items too (for a ``JoinableQueue``, each counts as a
    ///   ``JoinableQueue/taskDone()``, which may release ``JoinableQueue/join(timeout:)``).
    public final func shutdown(immediate: Bool = false) {
        hub.preconditionOnHubThread("Queue.shutdown")
        shutDown = true
        if immediate {
            while items.count > 0 {
                _ = take()
                if allTasksDone != nil { try? finishTask() }
            }
        }
        while let getter = getters.popFirst() {
            hub.enqueue(.resume(getter.greenlet, getter.sequence))
        }
        while let putter = putters.popFirst() {
            hub.enqueue(.resume(putter.greenlet, putter.sequence))
        }
        putterItems.removeAll()
    }

    // MARK: - Internals

    @inline(__always)
    private final func store(_ item: T) {
        if order == .priority {
            items.heapPush(item)
        } else {
            items.append(item)
        }
        if let allTasksDone {
            unfinishedTaskCount += 1
            if unfinishedTaskCount == 1 { allTasksDone.clear() }
        }
    }

    /// Removes the next item. The queue must not be empty.
    @inline(__always)
    private final func take() -> T {
        switch order {
        case .fifo: return items.removeFirst()
        case .lifo: return items.removeLast()
        case .priority: return items.heapPop()
        }
    }

    /// The item ``take()`` would remove. The queue must not be empty.
    @inline(__always)
    private final func first() -> T {
        order == .lifo ? items[items.count - 1] : items[0]
    }

    final func finishTask() throws {
        guard unfinishedTaskCount > 0 else { throw UnmatchedTaskDoneError() }
        unfinishedTaskCount -= 1
        if unfinishedTaskCount == 0 { allTasksDone?.set() }
    }

    /// Direct hand-off: when an item was just stored and more items than claims are queued, takes the first
    /// waiting getter off the list and queues its resumption (a hub callback, in the order gevent's unlock
    /// pass would have woken it); woken, it takes an item. Never switches.
    @inline(__always)
    private final func claimGetter() {
        guard items.count > pendingClaims, let getter = getters.popFirst() else { return }
        claim(getter)
        hub.enqueue(.resume(getter.greenlet, getter.sequence))
    }

    /// Claims `getter`, just taken off the list, for an item and switches into it now (from the hub): it
    /// takes an item and runs until it blocks again.
    @inline(__always)
    private final func wakeGetterNow(_ getter: QueueWaiter) {
        claim(getter)
        hub.resume(getter.greenlet, sequence: getter.sequence)
    }

    @inline(__always)
    private final func claim(_ getter: QueueWaiter) {
        pendingClaims += 1
        getter.greenlet.claimedSeq = getter.sequence
    }

    @inline(__always)
    private final func scheduleUnlock() {
        guard !unlockScheduled else { return }
        unlockScheduled = true
        unlockKeepAlive = self
        hub.enqueue(.closure(unlockCallback))
    }

    /// gevent's `_unlock`: alternately admits waiting putters while there is room and wakes waiting getters
    /// while there are items, until neither can proceed. Runs inside the hub.
    private final func unlock() {
        unlockScheduled = false
        // Released at the end of this pass, not now: this call may hold the last reference.
        let keepAlive = unlockKeepAlive
        unlockKeepAlive = nil
        defer { withExtendedLifetime(keepAlive) {} }
        while true {
            var progressed = false
            if !putters.isEmpty && items.count < limit {
                progressed = true
                let putter = putters.popFirst()!
                store(putterItems.removeFirst())
                wakePutter(putter.greenlet, putter.sequence)
            }
            if !getters.isEmpty && items.count > pendingClaims {
                progressed = true
                wakeGetterNow(getters.popFirst()!)
            }
            if !progressed { return }
        }
    }

    /// Switches into a putter that was just taken off the list (from the hub), its item stored; it runs until
    /// it blocks again.
    @inline(__always)
    private final func wakePutter(_ greenlet: AnyGreenlet, _ sequence: UInt64) {
        handedOffTo = ObjectIdentifier(greenlet)
        handedOffSequence = sequence
        hub.resume(greenlet, sequence: sequence)
        handedOffTo = nil
    }

    @inline(__always)
    private final func wasHandedOff(_ greenlet: AnyGreenlet, _ sequence: UInt64) -> Bool {
        guard handedOffTo == ObjectIdentifier(greenlet) && handedOffSequence == sequence else { return false }
        handedOffTo = nil
        return true
    }

    private final func removeGetter(_ greenlet: AnyGreenlet, _ sequence: UInt64) {
        if let index = getters.firstIndex(where: { $0.greenlet === greenlet && $0.sequence == sequence }) {
            getters.remove(at: index)
        }
    }

    private final func removePutter(_ greenlet: AnyGreenlet, _ sequence: UInt64) {
        if let index = putters.firstIndex(where: { $0.greenlet === greenlet && $0.sequence == sequence }) {
            putters.remove(at: index)
            _ = putterItems.remove(at: index)
        }
    }
}

extension Queue: CustomStringConvertible {
    /// `"<Queue maxSize=10 count=3 getters=0 putters=0>"`.
    public var description: String {
        let size = maxSize.map { "maxSize=\($0) " } ?? ""
        return "<\(type(of: self)) \(size)count=\(items.count) getters=\(getters.count) putters=\(putters.count)"
            + (shutDown ? " shut down>" : ">")
    }
}
