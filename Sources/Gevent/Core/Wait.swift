/// Something a greenlet can wait for with ``wait(_:timeout:count:)`` and ``iwait(_:timeout:count:)``:
/// greenlets, and (in `Sync/`) events, async results and semaphores.
///
/// gevent's "objects with `rawlink`/`unlink`". Conforming types are hub-bound: call these on the hub's
/// thread.
public protocol Waitable: AnyObject {
    /// `true` once waiting for the object would return at once. Never switches.
    var isReady: Bool { get }
    /// Calls `callback` inside the hub once the object is ready (on the next callback round if it already
    /// is). The callback must not block. Never switches.
    func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken
    /// Cancels a callback registered with ``rawLinkReady(_:)``; unknown tokens are ignored. Never switches.
    func unlink(_ token: LinkToken)
}

/// Yields waitable objects in the order they become ready: gevent's `iwait`.
///
/// ```swift
/// let ready = iwait(jobs, timeout: .seconds(5))
/// defer { ready.close() }
/// while let job = try ready.next() { … }
/// ```
///
/// Hub thread only. ``next()`` may switch greenlets.
public final class WaitIterator {
    private let hub: Hub
    private let objects: [any Waitable]
    // Unchecked: joinAll and wait touch these once or twice per object, and a dynamic exclusivity check
    // costs a call into the runtime and a thread-local lookup per access. No access can overlap another:
    // appends, removals and reads call no user code.
    @exclusivity(unchecked) private var tokens: [LinkToken] = []
    @exclusivity(unchecked) private var readyQueue: [Int] = []
    private var limit: Int
    private var waiter: AnyGreenlet?
    private var waiterSequence: UInt64 = 0
    private var timer: TimerWatcher?
    private var timedOut = false

    init(hub: Hub, objects: [any Waitable], timeout: Duration?, count: Int?) {
        self.hub = hub
        self.objects = objects
        self.limit = min(count ?? objects.count, objects.count)
        for index in objects.indices {
            tokens.append(
                objects[index].rawLinkReady { [unowned self] in
                    self.objectBecameReady(index)
                }
            )
        }
        if let timeout {
            // Priority over the objects: a timer armed now fires at the deadline even when objects keep
            // becoming ready.
            let timer = TimerWatcher(hub: hub, label: "iwait timeout") { [unowned self] in
                self.timedOut = true
                self.wakeWaiter()
            }
            timer.start(after: timeout)
            self.timer = timer
        }
    }

    deinit {
        close()
    }

    private func objectBecameReady(_ index: Int) {
        readyQueue.append(index)
        wakeWaiter()
    }

    private func wakeWaiter() {
        if let waiter {
            self.waiter = nil
            hub.resume(waiter, sequence: waiterSequence)
        }
    }

    /// The next object to become ready, waiting for it if needed; `nil` after `count` objects, after every
    /// object, or once the timeout passed.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: errors thrown into the waiting greenlet; ``BlockingSwitchOutError`` on the hub.
    @available(*, noasync, message: "next blocks the thread's greenlets; it is for greenlet code, not async code")
    public func next() throws -> (any Waitable)? {
        try hub.checkThread("WaitIterator.next")
        while true {
            if limit == 0 || timedOut {
                close()
                return nil
            }
            if !readyQueue.isEmpty {
                limit -= 1
                return objects[readyQueue.removeFirst()]
            }
            let greenlet = try hub.blockableGreenlet("iwait")
            waiterSequence = greenlet.beginBlock(waitingFor: "iwait")
            waiter = greenlet
            defer { waiter = nil }
            try hub.block(greenlet)
        }
    }

    /// Unlinks from the objects that have not become ready and stops the timer. Called by ``next()`` at the
    /// end and on deinit; call it when you stop iterating early. Never switches; hub thread only.
    public func close() {
        timer?.stop()
        timer = nil
        for (object, token) in zip(objects, tokens) {
            object.unlink(token)
        }
        tokens.removeAll()
    }
}

/// Iterates over `objects` in the order they become ready (gevent's `iwait`).
///
/// Never switches by itself; ``WaitIterator/next()`` does. Hub thread only.
///
/// - Parameters:
///   - objects: greenlets, events, async results, semaphores (anything ``Waitable``); duplicates are fine.
///   - timeout: stop yielding after this long; `nil` for no limit.
///   - count: stop after this many objects; `nil` for all of them.
public func iwait(_ objects: [any Waitable], timeout: Duration? = nil, count: Int? = nil) -> WaitIterator {
    WaitIterator(hub: Hub.current, objects: objects, timeout: timeout, count: count)
}

/// Waits until `count` of `objects` (all by default) are ready, or `timeout` passes.
///
/// gevent's `wait(objects, timeout, count)`. May switch greenlets; hub thread only, not from inside the hub.
///
/// - Returns: the objects that became ready, in the order they did.
/// - Throws: errors thrown into the waiting greenlet; ``BlockingSwitchOutError`` on the hub.
@available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
@discardableResult
public func wait(_ objects: [any Waitable], timeout: Duration? = nil, count: Int? = nil) throws -> [any Waitable] {
    let iterator = iwait(objects, timeout: timeout, count: count)
    defer { iterator.close() }
    var ready: [any Waitable] = []
    while let object = try iterator.next() {
        ready.append(object)
    }
    return ready
}

/// Waits until the hub has nothing left to do (gevent's `wait()` without objects): see ``Hub/join(timeout:)``.
///
/// May switch greenlets; from the main greenlet.
///
/// - Returns: `true` when everything finished, `false` if `timeout` passed first.
@available(*, noasync, message: "wait blocks the thread's greenlets; it is for greenlet code, not async code")
@discardableResult
public func wait(timeout: Duration? = nil) throws -> Bool {
    try Hub.current.join(timeout: timeout)
}

/// Waits for greenlets to finish.
///
/// gevent's `joinall`. May switch greenlets; hub thread only, not from inside the hub.
///
/// - Parameters:
///   - greenlets: the greenlets; duplicates are fine.
///   - timeout: the longest to wait; the greenlets that finished by then are returned.
///   - raiseError: `true` rethrows the error of the first greenlet *to finish* with one (``GreenletExit``
///     does not count) and stops waiting.
///   - count: return after this many have finished.
/// - Returns: the greenlets that finished, in the order they did.
/// - Throws: with `raiseError`, the first failure; errors thrown into the caller while it waits.
@available(*, noasync, message: "joinAll blocks the thread's greenlets; it is for greenlet code, not async code")
@discardableResult
public func joinAll(
    _ greenlets: [AnyGreenlet],
    timeout: Duration? = nil,
    raiseError: Bool = false,
    count: Int? = nil
) throws -> [AnyGreenlet] {
    if !raiseError && count == nil {
        return try joinEvery(greenlets, timeout: timeout)
    }
    let iterator = iwait(greenlets, timeout: timeout, count: count)
    defer { iterator.close() }
    var finished: [AnyGreenlet] = []
    while let object = try iterator.next() {
        let greenlet = object as! AnyGreenlet
        if raiseError, let error = greenlet.error {
            throw error
        }
        finished.append(greenlet)
    }
    return finished
}

/// ``joinAll(_:timeout:raiseError:count:)`` without `raiseError` or `count`: nothing to react to before all
/// have finished, so instead of linking to every greenlet (two allocations each) and being woken once per
/// greenlet, it waits for the unfinished ones one after another (a finished greenlet costs nothing, so after
/// the first wait most are usually done), then sorts what finished into the order it finished in.
@available(*, noasync, message: "joinAll blocks the thread's greenlets; it is for greenlet code, not async code")
private func joinEvery(_ greenlets: [AnyGreenlet], timeout: Duration?) throws -> [AnyGreenlet] {
    let hub = Hub.current
    for greenlet in greenlets {
        try greenlet.hub.checkThread("joinAll")
    }
    let timer = Timeout(timeout)
    try timer.start()
    defer { timer.cancel() }
    do {
        for greenlet in greenlets where greenlet.state != .finished {
            try hub.waitUntilReady(greenlet, operation: "joinAll")
        }
        // As with iwait, links queued before ours have run when joinAll returns: a greenlet that finished
        // while its link notification is still queued gets it run first (this resume queues behind it).
        // Group.kill relies on that: it loops until the group's own links have removed its members.
        if greenlets.contains(where: { $0.notifyScheduled }) {
            try sleep(.zero)
        }
    } catch let fired as Timeout where fired === timer {
        // The partial list: those that finished in time.
    }
    var finished = greenlets.filter { $0.state == .finished }
    let inOrder = zip(finished, finished.dropFirst()).allSatisfy { $0.finishOrder <= $1.finishOrder }
    if !inOrder {
        finished.sort { $0.finishOrder < $1.finishOrder }
    }
    return finished
}

/// Kills greenlets: those that have not run are finished at once (their bodies never run); the others get
/// `error` thrown at their switch points, all in one hub callback.
///
/// gevent's `killall`. May switch greenlets when `block` is `true`; hub thread only, not from inside the
/// hub when blocking.
///
/// - Parameters:
///   - greenlets: the greenlets to kill; finished ones are skipped.
///   - error: what to throw into them (default ``GreenletExit``, which counts as success).
///   - block: wait for them to finish.
///   - timeout: with `block`, the longest to wait.
/// - Throws: a ``Timeout`` if some were still running when `timeout` passed; errors thrown into the caller.
@available(*, noasync, message: "killAll may block the thread's greenlets; it is for greenlet code, not async code")
public func killAll(
    _ greenlets: [AnyGreenlet],
    error: any Error = GreenletExit(),
    block: Bool = true,
    timeout: Duration? = nil
) throws {
    let hub = Hub.current
    var running: [AnyGreenlet] = []
    for greenlet in greenlets {
        try greenlet.hub.checkThread("killAll")
        switch greenlet.state {
        case .new, .scheduled:
            greenlet.killBeforeStart(error)
        case .running:
            running.append(greenlet)
        case .finished:
            break
        }
    }
    guard !running.isEmpty else { return }
    let current = hub.currentGreenlet
    let targets = running
    hub.enqueue(
        .closure { [unowned hub] in
            for greenlet in targets where greenlet !== current {
                hub.throwInto(greenlet, error)
            }
        }
    )
    if running.contains(where: { $0 === current }) {
        throw error
    }
    guard block else { return }
    let timer = Timeout(timeout)
    try timer.start()
    defer { timer.cancel() }
    for greenlet in running {
        try hub.waitUntilReady(greenlet, operation: "killAll")
    }
}

/// Kills one greenlet without waiting (gevent's `gevent.kill`): ``AnyGreenlet/kill(_:block:timeout:)``
/// with `block: false`.
///
/// Never switches; hub thread only. Killing the current greenlet this way is delivered at its next switch.
public func kill(_ greenlet: AnyGreenlet, error: any Error = GreenletExit()) {
    greenlet.hub.preconditionOnHubThread("kill")
    switch greenlet.state {
    case .new, .scheduled:
        greenlet.killBeforeStart(error)
    case .running:
        greenlet.hub.enqueue(.throwInto(greenlet, error))
    case .finished:
        break
    }
}
