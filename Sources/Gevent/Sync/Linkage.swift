#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// What a link does when the object it is linked to becomes ready.
enum LinkAction {
    /// Wake a greenlet blocked in the wait numbered `sequence` (run on the greenlet's hub).
    case resume(AnyGreenlet, UInt64)
    /// A raw callback (``Waitable/rawLinkReady(_:)``), run inside the hub that registered it.
    case call(() -> Void)
    /// Wake an OS thread without a hub that parks natively.
    case unpark(ThreadParker)
}

struct LinkRecord {
    let id: UInt64
    let action: LinkAction
}

/// Where a notification pass runs: on a hub, or (for threads without a hub) right on the thread that made
/// the object ready.
enum PassTarget {
    case hub(Hub)
    case threads
}

/// The hubs that need a notification pass, collected under the lock and started after it is released.
struct PassPlan {
    var first: PassTarget?
    var more: [PassTarget] = []

    mutating func add(_ target: PassTarget) {
        if first == nil {
            first = target
        } else {
            more.append(target)
        }
    }
}

/// The links one hub (or, with `hub == nil`, the threads without a hub) has on one object.
struct HubLinks {
    let hub: Hub?
    var links = Ring<LinkRecord>()
    /// Waiters that found the object ready while a pass was pending on this hub: they wait behind the
    /// ones that had to block (gevent issue #1520).
    var arrivals = Ring<LinkRecord>()
    var passPending = false
    /// The hub callback that runs this group's pass, made once: scheduling a pass then allocates nothing.
    /// It holds the object unowned (it is stored in the object); `passOwner` keeps the object alive while
    /// a pass is pending, as gevent's queued callback does.
    var passCallback: (() -> Void)?
    var passOwner: AnyObject?

    var isIdle: Bool { links.isEmpty && arrivals.isEmpty && !passPending }
}

/// The waiters and callbacks of one Event, AsyncResult or Semaphore, and the lock that guards them together
/// with the owner's own state (gevent's `AbstractLinkable`).
///
/// Links are grouped by the hub they belong to, and a link only ever runs on its own hub's thread: when
/// the object becomes ready, every hub with links gets one notification pass (a hub callback, posted with
/// `runThreadsafe` when the hub belongs to another thread), which wakes that hub's waiters in the order they
/// arrived. Within a hub this is gevent's ordering exactly: FIFO, a woken greenlet runs before the next
/// link is looked at, and for semaphores the pass stops as soon as the object is no longer ready.
final class Linkage {
    let lock = SpinLock()
    /// `false` for semaphores: a pass stops once the object is no longer ready (gevent's `_notify_all`).
    let notifiesAll: Bool
    // @exclusivity(unchecked): only touched with `lock` held, never across a switch or a call out.
    @exclusivity(unchecked)
    private var groups: [HubLinks] = []
    @exclusivity(unchecked)
    private var nextID: UInt64 = 0
    private let creatorThread = pthread_self()
    /// Set once a second OS thread has used the object (gevent's `_multithreaded`).
    @exclusivity(unchecked)
    private(set) var isMultithreaded = false

    init(notifiesAll: Bool) {
        self.notifiesAll = notifiesAll
    }

    // MARK: - With the lock held

    @inline(__always)
    func noteThreadLocked() {
        if !isMultithreaded && pthread_equal(pthread_self(), creatorThread) == 0 {
            isMultithreaded = true
        }
    }

    @inline(__always)
    private func groupIndexLocked(_ hub: Hub?) -> Int? {
        var index = 0
        while index < groups.count {
            if groups[index].hub === hub { return index }
            index += 1
        }
        return nil
    }

    func passPendingLocked(for hub: Hub?) -> Bool {
        guard let index = groupIndexLocked(hub) else { return false }
        return groups[index].passPending
    }

    /// Appends a link for `hub`, behind the blocked waiters if `asArrival`.
    func addLinkLocked(hub: Hub?, action: LinkAction, asArrival: Bool) -> UInt64 {
        nextID &+= 1
        let record = LinkRecord(id: nextID, action: action)
        let index: Int
        if let existing = groupIndexLocked(hub) {
            index = existing
        } else {
            // A hub's own group stays when idle (its buffers are reused by the next wait); idle groups of
            // other hubs are dropped here, so hubs that are gone are not kept alive forever.
            groups.removeAll { $0.isIdle }
            groups.append(HubLinks(hub: hub))
            index = groups.count - 1
        }
        if asArrival {
            groups[index].arrivals.append(record)
        } else {
            groups[index].links.append(record)
        }
        return record.id
    }

    /// Removes the link `id` if it has not fired; returns whether it was still there.
    @discardableResult
    func removeLinkLocked(_ id: UInt64) -> Bool {
        for index in groups.indices {
            if let position = groups[index].links.firstIndex(where: { $0.id == id }) {
                groups[index].links.remove(at: position)
                return true
            }
            if let position = groups[index].arrivals.firstIndex(where: { $0.id == id }) {
                groups[index].arrivals.remove(at: position)
                return true
            }
        }
        return false
    }

    var linkCountLocked: Int {
        groups.reduce(0) { $0 + $1.links.count + $1.arrivals.count }
    }

    /// Marks a pass pending on every hub that has links and none pending; returns where to start them.
    func markPassesLocked() -> PassPlan {
        var plan = PassPlan()
        for index in groups.indices where !groups[index].passPending {
            guard !groups[index].links.isEmpty || !groups[index].arrivals.isEmpty else { continue }
            groups[index].passPending = true
            if let hub = groups[index].hub {
                plan.add(.hub(hub))
            } else {
                plan.add(.threads)
            }
        }
        return plan
    }

    /// Pops the next link a pass on `hub` should run: links up to `lastLinkID`, then arrivals up to
    /// `lastArrivalID` (both fixed when the pass starts its phase, as gevent's `final_link`).
    func nextForPassLocked(
        hub: Hub?,
        ready: Bool,
        lastLinkID: inout UInt64?,
        lastArrivalID: inout UInt64?
    ) -> LinkAction? {
        guard let index = groupIndexLocked(hub) else { return nil }
        if !notifiesAll && !ready { return nil }
        if lastLinkID == nil {
            lastLinkID = groups[index].links.last?.id ?? 0
        }
        if let first = groups[index].links.first, first.id <= lastLinkID! {
            return groups[index].links.popFirst()!.action
        }
        if lastArrivalID == nil {
            lastArrivalID = groups[index].arrivals.last?.id ?? 0
        }
        if let first = groups[index].arrivals.first, first.id <= lastArrivalID! {
            return groups[index].arrivals.popFirst()!.action
        }
        return nil
    }

    /// Ends `hub`'s pass; returns the reference that kept the object alive, for the caller to release
    /// after it unlocked (releasing it here could free the object while its lock is held).
    func endPassLocked(hub: Hub?) -> AnyObject? {
        guard let index = groupIndexLocked(hub) else { return nil }
        groups[index].passPending = false
        defer { groups[index].passOwner = nil }
        return groups[index].passOwner
    }

    /// The callback that runs `hub`'s pass, made by `make` the first time; keeps `owner` alive until the
    /// pass ends. The group must exist (a pass is pending for it).
    func passCallbackLocked(for hub: Hub, owner: AnyObject, make: () -> (() -> Void)) -> () -> Void {
        let index = groupIndexLocked(hub)!
        groups[index].passOwner = owner
        if let callback = groups[index].passCallback {
            return callback
        }
        let callback = make()
        groups[index].passCallback = callback
        return callback
    }

    /// Forgets every link of a hub that has been destroyed.
    func dropHubLocked(_ hub: Hub) {
        groups.removeAll { $0.hub === hub }
    }
}

/// An object with a ``Linkage``: Event, AsyncResult, Semaphore.
protocol LinkableObject: AnyObject {
    var linkage: Linkage { get }
    /// Whether a wait would return at once. Called with `linkage.lock` held.
    var isReadyLocked: Bool { get }
}

/// Carries a hub-bound value through `Hub.runThreadsafe` to the hub that owns it.
struct UnsafeTransfer<Value>: @unchecked Sendable {
    // Only the receiving hub's thread touches `value`: the sender hands it over and forgets it.
    let value: Value
}

extension LinkableObject {
    /// Runs `mutation` under the lock, then notifies the waiters if the object is ready. Never switches;
    /// any thread.
    @inline(__always)
    func updateState<R>(_ mutation: () throws -> R) rethrows -> R {
        let linkage = self.linkage
        linkage.lock.lock()
        linkage.noteThreadLocked()
        let result: R
        do {
            result = try mutation()
        } catch {
            linkage.lock.unlock()
            throw error
        }
        let plan = isReadyLocked ? linkage.markPassesLocked() : PassPlan()
        linkage.lock.unlock()
        if plan.first != nil {
            start(plan)
        }
        return result
    }

    /// Reads state under the lock. Never switches; any thread.
    @inline(__always)
    func readState<R>(_ read: () throws -> R) rethrows -> R {
        linkage.lock.lock()
        defer { linkage.lock.unlock() }
        // A thread that looks at the object is likely to act on it: count it as a user.
        linkage.noteThreadLocked()
        return try read()
    }

    func start(_ plan: PassPlan) {
        if let first = plan.first {
            start(first)
        }
        for target in plan.more {
            start(target)
        }
    }

    private func start(_ target: PassTarget) {
        switch target {
        case .threads:
            runPass(hub: nil)
        case .hub(let hub):
            if Hub.currentIfExists === hub {
                linkage.lock.lock()
                // `passOwner` keeps the object alive while the pass is pending, so the callback may hold it
                // unowned (a weak reference would slow every retain of the object).
                let callback = linkage.passCallbackLocked(for: hub, owner: self) {
                    { [unowned(unsafe) self] in self.runPass(hub: hub) }
                }
                linkage.lock.unlock()
                hub.enqueue(.closure(callback))
                return
            }
            let transfer = UnsafeTransfer<any LinkableObject>(value: self)
            let sent = hub.runThreadsafe { transfer.value.runPass(hub: hub) }
            if !sent {
                linkage.lock.withLock { linkage.dropHubLocked(hub) }
            }
        }
    }

    /// One notification pass: wakes `hub`'s links in order (inside that hub), or unparks the threads
    /// without a hub (on the calling thread) when `hub` is `nil`.
    func runPass(hub: Hub?) {
        let linkage = self.linkage
        var lastLinkID: UInt64?
        var lastArrivalID: UInt64?
        while true {
            linkage.lock.lock()
            let action = linkage.nextForPassLocked(
                hub: hub,
                ready: isReadyLocked,
                lastLinkID: &lastLinkID,
                lastArrivalID: &lastArrivalID
            )
            linkage.lock.unlock()
            guard let action else { break }
            switch action {
            case .resume(let greenlet, let sequence):
                // Switches into the waiter now; it runs until it blocks again, then the pass goes on.
                hub!.resume(greenlet, sequence: sequence)
            case .call(let callback):
                callback()
            case .unpark(let parker):
                parker.unpark()
            }
        }
        linkage.lock.lock()
        let keepAlive = linkage.endPassLocked(hub: hub)
        // Links added while the pass ran (by the greenlets it woke) get a pass of their own if the object
        // is still ready: gevent's `_check_and_notify` after `_notify_links`.
        let plan = isReadyLocked ? linkage.markPassesLocked() : PassPlan()
        linkage.lock.unlock()
        if plan.first != nil {
            start(plan)
        }
        withExtendedLifetime(keepAlive) {}
    }

    /// Registers `callback` to run inside the calling thread's hub once the object is ready.
    func addRawLink(_ callback: @escaping () -> Void) -> LinkToken {
        let hub = Hub.current
        let linkage = self.linkage
        linkage.lock.lock()
        linkage.noteThreadLocked()
        let id = linkage.addLinkLocked(hub: hub, action: .call(callback), asArrival: false)
        let plan = isReadyLocked ? linkage.markPassesLocked() : PassPlan()
        linkage.lock.unlock()
        if plan.first != nil {
            start(plan)
        }
        return LinkToken(id: id)
    }

    func removeLink(_ token: LinkToken) {
        linkage.lock.withLock { _ = linkage.removeLinkLocked(token.id) }
    }

    /// Waits until the object is ready, or `timeout` passes.
    ///
    /// A greenlet blocks on its hub; a thread without a hub parks natively. With `queueBehind`, a caller
    /// that finds the object ready while a notification pass is pending on its hub waits for that pass
    /// (Event and AsyncResult waits); without it, a ready object returns at once (acquire, get).
    ///
    /// - Returns: `true` if the object was ready or a notification woke the caller, `false` on timeout.
    /// - Throws: errors thrown into the waiting greenlet; ``BlockingSwitchOutError`` inside the hub.
    func waitUntilReady(timeout: Duration?, queueBehind: Bool, operation: StaticString) throws -> Bool {
        let linkage = self.linkage
        guard let hub = Hub.currentIfExists else {
            return waitNatively(timeout: timeout, queueBehind: queueBehind)
        }
        linkage.lock.lock()
        linkage.noteThreadLocked()
        if isReadyLocked && !(queueBehind && linkage.passPendingLocked(for: hub)) {
            linkage.lock.unlock()
            return true
        }
        linkage.lock.unlock()

        let greenlet = try hub.blockableGreenlet(operation)
        let sequence = greenlet.beginBlock(waitingFor: operation)
        linkage.lock.lock()
        let id: UInt64
        if isReadyLocked {
            guard queueBehind && linkage.passPendingLocked(for: hub) else {
                linkage.lock.unlock()
                return true
            }
            id = linkage.addLinkLocked(hub: hub, action: .resume(greenlet, sequence), asArrival: true)
        } else {
            id = linkage.addLinkLocked(hub: hub, action: .resume(greenlet, sequence), asArrival: false)
        }
        // Another OS thread may be the one to make the object ready: keep the loop from running dry (and
        // throwing LoopExit) while waiting for it.
        let holdsLoop = linkage.isMultithreaded
        linkage.lock.unlock()

        if holdsLoop { hub.holdLoopOpen() }
        defer { if holdsLoop { hub.releaseLoopHold() } }
        do {
            try hub.block(greenlet, timeout: timeout)
        } catch {
            linkage.lock.withLock { _ = linkage.removeLinkLocked(id) }
            throw error
        }
        // A pass removes the link before waking us; if it is still there, the timer woke us.
        let timedOut = linkage.lock.withLock { linkage.removeLinkLocked(id) }
        return !timedOut
    }

    private func waitNatively(timeout: Duration?, queueBehind: Bool) -> Bool {
        let linkage = self.linkage
        let parker = ThreadParker()
        linkage.lock.lock()
        linkage.noteThreadLocked()
        let pending = linkage.passPendingLocked(for: nil)
        if isReadyLocked && !(queueBehind && pending) {
            linkage.lock.unlock()
            return true
        }
        let id = linkage.addLinkLocked(hub: nil, action: .unpark(parker), asArrival: isReadyLocked)
        linkage.lock.unlock()
        let deadline = timeout.map { monotonicNanoseconds() + max(0, $0.nanoseconds) }
        _ = parker.park(until: deadline)
        let timedOut = linkage.lock.withLock { linkage.removeLinkLocked(id) }
        return !timedOut
    }
}
