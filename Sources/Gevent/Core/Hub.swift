import CGeventShim
import CGreenlet
import CLibev
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The scheduler of one OS thread: a libev loop, run by a greenlet of its own, that switches into greenlets
/// when what they wait for happens.
///
/// Every thread that uses greenlets gets its hub lazily, on first use (``current``). Blocking calls
/// (``sleep(_:)``, ``AnyGreenlet/join(timeout:)``, socket reads) register a watcher and switch to the hub;
/// the hub runs the loop and switches back when the watcher fires. Between polls the hub runs a FIFO of
/// callbacks (greenlets to start, wake-ups from ``sleep(_:)`` with `.zero`, link notifications), for at
/// most ``GeventConfig/switchInterval`` at a time so timers and I/O are never starved.
///
/// When nothing is left that could wake a waiting greenlet, the hub throws ``LoopExit`` into the main
/// greenlet.
///
/// Threads: a hub and its greenlets belong to one thread. Only ``runThreadsafe(_:)`` may be called from
/// other threads; everything else reports ``InvalidThreadUseError``.
public final class Hub {
    let loop: OpaquePointer
    /// The configuration this hub was created with.
    public let config: GeventConfig
    private(set) var main: AnyGreenlet!
    private(set) var hubGreenlet: AnyGreenlet!
    // Unchecked: every greenlet hand-over appends and pops here, and a dynamic exclusivity check (a call
    // into the runtime and a thread-local lookup per access) cost a quarter of a sleep(.zero) round trip.
    // No access can overlap another: only append/popFirst/removeAll touch the queue, on the hub's thread,
    // and none of them calls out (a popped callback is run after the access has ended).
    @exclusivity(unchecked) private var callbacks = CallbackQueue()
    private let prepare: UnsafeMutablePointer<ev_prepare>
    private let idle: UnsafeMutablePointer<ev_idle>
    private let async: UnsafeMutablePointer<ev_async>
    private var idleActive = false
    private var destroying = false
    private var joinSequence: UInt64?
    private var joinFinished = false
    private var linkCounter: UInt64 = 0
    private var finishCounter: UInt64 = 0
    private let switchIntervalNanoseconds: Int64

    private var liveHead: AnyGreenlet?
    /// Greenlets started and not yet finished on this hub (the main greenlet not included).
    public private(set) var liveCount = 0

    var idents = IdentRegistry()
    /// The default ``ThreadPool`` (Threads/), created by ``threadPool`` on first use.
    var threadPoolStorage: ThreadPool?
    /// Unreferenced watchers that are active, by label (for LoopExit reports).
    var unreferencedWatchers: [String: Int] = [:]
    /// What this hub publishes for the ``Monitor`` thread.
    let activity = HubActivity(threadID: cgreenlet_thread_id())
    // Unchecked for the same reason as `callbacks`: bumped on every switch, only by plain additions on the
    // hub's thread that call nothing.
    /// What ``statistics`` reports (HubStatistics.swift).
    @exclusivity(unchecked) var counters = HubCounters()
    /// The resolver behind `Hub.resolver` (DNS/HubResolver.swift), created on first use; closed by destroy().
    var resolverStorage: (any Resolver)?
    /// The shim's waits in progress on this hub, which a program's signal handler interrupts.
    var shimInterruptibleWaits = ShimInterruptibleWaits()
    // A pthread mutex rather than Synchronization.Mutex: ThreadSanitizer does not see the latter's
    // synchronization and reports every cross-thread runThreadsafe as a race.
    private let threadsafeLock = NativeCondition()
    private var threadsafe = ThreadsafeQueue()  // guarded by threadsafeLock

    /// Receives every error a greenlet (or a raw link) ended with, except ``GreenletExit``.
    ///
    /// `nil` (the default) logs through ``GeventLogging/logger``: UTC timestamp, greenlet name, spawn site,
    /// error, on stderr unless the application replaced the logger. Assign a handler to treat this hub's
    /// errors otherwise or to collect them in tests; `nil` restores the default. The handler runs on the
    /// failing greenlet or in the hub and must not block. gevent's `hub.handle_error`. Hub thread only.
    public var errorHandler: ((_ greenlet: AnyGreenlet?, _ error: any Error) -> Void)?

    // MARK: - Finding the hub

    /// The calling thread's hub, created on first use.
    ///
    /// Creating a hub makes the calling code the thread's main greenlet. gevent's `get_hub()`. Never
    /// switches; any thread (each gets its own hub).
    public static var current: Hub {
        if let pointer = cgreenlet_thread_hub() {
            return Unmanaged<Hub>.fromOpaque(pointer).takeUnretainedValue()
        }
        return Hub()
    }

    /// The calling thread's hub if it has one; never creates one. Never switches; any thread.
    public static var currentIfExists: Hub? {
        guard let pointer = cgreenlet_thread_hub() else { return nil }
        return Unmanaged<Hub>.fromOpaque(pointer).takeUnretainedValue()
    }

    private init() {
        config = GeventConfig.current
        if let failure = gevent_libev_load() {
            fatalError(String(cString: failure))
        }
        var flags = gevent_EVFLAG_AUTO | gevent_EVFLAG_NOENV
        if let backend = config.backend {
            flags |= backend.flag
        }
        // Never libev's default loop, on the main thread either: creating it installs a SIGCHLD handler that
        // reaps every child of the process (waitpid(-1)), which would steal the exit status of children that
        // other hubs, or code that knows nothing of us, wait for; and a program that uses libev itself owns
        // that loop. Children are waited for through a pidfd per child (Process/ChildWatcher.swift).
        guard let loop = gevent_ev_loop_new(flags) else {
            fatalError(
                "swift-gevent: libev could not create an event loop (backend \(config.backend?.rawValue ?? "auto")); "
                    + "check GEVENT_BACKEND and the process's file-descriptor limit"
            )
        }
        self.loop = loop
        switchIntervalNanoseconds = Int64(config.switchInterval.seconds * 1e9)
        prepare = .allocate(capacity: 1)
        idle = .allocate(capacity: 1)
        async = .allocate(capacity: 1)

        let retained = Unmanaged.passRetained(self).toOpaque()
        cgreenlet_set_thread_exit_hook(hubThreadExit)
        cgreenlet_set_thread_hub(retained)
        let overflowHandler = cgreenlet_install_overflow_handler()
        if overflowHandler != 0 {
            reportWarning(
                "could not install the stack-overflow reporter: \(errnoDescription(overflowHandler))"
            )
        }

        let main = AnyGreenlet(hub: self, kind: .main, name: nil, stackSize: nil, file: #fileID, line: #line)
        cgreenlet_init_main(main.context)
        main.context.pointee.arg = Unmanaged.passUnretained(main).toOpaque()
        main.state = .running
        self.main = main
        cgreenlet_set_current(main.context)

        let hubGreenlet = AnyGreenlet(hub: self, kind: .hub, name: nil, stackSize: nil, file: #fileID, line: #line)
        self.hubGreenlet = hubGreenlet
        // The hub runs user callbacks (raw links), so it gets at least a generous stack.
        let hubStack = max(config.stackSize, 512 * 1024)
        let status = cgreenlet_init(hubGreenlet.context, hubStack, greenletEntry, unretainedArgument(hubGreenlet))
        guard status == 0 else {
            fatalError("swift-gevent: could not map the hub's stack: \(errnoDescription(status))")
        }
        cgreenlet_set_name(hubGreenlet.context, "hub")
        hubGreenlet.state = .running

        let selfPointer = Unmanaged.passUnretained(self).toOpaque()
        gevent_ev_prepare_init(prepare, hubPrepare)
        prepare.pointee.data = selfPointer
        gevent_ev_prepare_start(loop, prepare)
        gevent_ev_unref(loop)  // the callback phase must not keep the loop alive by itself
        gevent_ev_idle_init(idle, hubIdle)
        idle.pointee.data = selfPointer
        gevent_ev_async_init(async, hubAsync)
        async.pointee.data = selfPointer
        gevent_ev_async_start(loop, async)
        gevent_ev_unref(loop)  // nor must the cross-thread wake-up
        // The same wake-up tells the hub that a program's signal handler ran (ev_async_send is
        // async-signal-safe), so that the shim's waits end as blocking calls would.
        gevent_shim_signal_attach(UnsafeMutableRawPointer(loop), async)
        gevent_ev_set_userdata(loop, selfPointer)
        gevent_ev_set_loop_release_cb(loop, hubWillPoll, hubDidPoll)
        Monitor.register(activity)
        if config.monitorThread {
            Monitor.start(maxBlockingTime: config.maxBlockingTime)
        }
        if Monitor.enabled.load(ordering: .relaxed) {
            activity.publish(running: main)
        }
    }

    /// The hub greenlet as the C context's argument, unretained: the hub owns it for the context's life.
    private func unretainedArgument(_ greenlet: AnyGreenlet) -> UnsafeMutableRawPointer {
        Unmanaged.passUnretained(greenlet).toOpaque()
    }

    // MARK: - Threads

    var isOnHubThread: Bool {
        cgreenlet_thread_hub() == Unmanaged.passUnretained(self).toOpaque()
    }

    /// Throws ``InvalidThreadUseError`` unless called on this hub's thread.
    @inline(__always)
    func checkThread(_ operation: StaticString) throws {
        guard isOnHubThread else { throw InvalidThreadUseError(operation: operation.description) }
    }

    /// Stops the program with a clear message unless called on this hub's thread (for accessors that
    /// cannot throw).
    @inline(__always)
    func preconditionOnHubThread(_ operation: StaticString) {
        guard isOnHubThread else {
            fatalError(InvalidThreadUseError(operation: operation.description).description)
        }
    }

    /// The greenlet running on this hub's thread now. Never switches; hub thread only.
    public var currentGreenlet: AnyGreenlet {
        preconditionOnHubThread("Hub.currentGreenlet")
        return Unmanaged<AnyGreenlet>.fromOpaque(cgreenlet_current()!.pointee.arg).takeUnretainedValue()
    }

    /// The thread's main greenlet (the code that created the hub). Never switches; hub thread only.
    public var mainGreenlet: AnyGreenlet {
        preconditionOnHubThread("Hub.mainGreenlet")
        return main
    }

    /// `true` when the calling code runs inside the hub (an event-loop callback such as a raw link).
    /// Never switches; hub thread only.
    public var isInHub: Bool {
        cgreenlet_current() == hubGreenlet.context
    }

    // MARK: - Blocking and waking

    /// The current greenlet, which is about to block; throws if that is the hub itself.
    @inline(__always)
    func blockableGreenlet(_ operation: StaticString) throws -> AnyGreenlet {
        let current = Unmanaged<AnyGreenlet>.fromOpaque(cgreenlet_current()!.pointee.arg).takeUnretainedValue()
        guard current.kind != .hub else { throw BlockingSwitchOutError(operation: operation.description) }
        return current
    }

    /// Switches from the current greenlet `greenlet` to the hub until something wakes it with the
    /// sequence number from ``AnyGreenlet/beginBlock(waitingFor:)``; throws what was thrown into it.
    @inline(__always)
    func block(_ greenlet: AnyGreenlet) throws {
        greenlet.blocked = true
        cgreenlet_switch(greenlet.context, hubGreenlet.context)
        if let error = greenlet.resumeError {
            greenlet.resumeError = nil
            throw error
        }
    }

    /// Blocks `greenlet` (after ``AnyGreenlet/beginBlock(waitingFor:)``) until it is resumed, or until
    /// `timeout` passes; in both cases it simply returns, and the caller tells them apart from its own
    /// bookkeeping. Uses the greenlet's reusable sleep timer, so a timed wait allocates nothing after the
    /// greenlet's first.
    @inline(__always)
    func block(_ greenlet: AnyGreenlet, timeout: Duration?) throws {
        guard let timeout else {
            try block(greenlet)
            return
        }
        let timer: TimerWatcher
        if let existing = greenlet.sleepTimer {
            timer = existing
        } else {
            // One timer per greenlet, reused by every timed block. It resumes whatever block the greenlet
            // is in, and every block stops it on the way out, so when it fires the greenlet is still in
            // the block that started it.
            timer = TimerWatcher(hub: self, label: "sleep") { [unowned self, unowned greenlet] in
                self.resume(greenlet, sequence: greenlet.blockSeq)
            }
            greenlet.sleepTimer = timer
        }
        timer.start(after: timeout)
        defer { timer.stop() }
        try block(greenlet)
    }

    /// From the hub: switches into `greenlet` if it is still blocked in the wait numbered `sequence`.
    func resume(_ greenlet: AnyGreenlet, sequence: UInt64) {
        guard greenlet.blocked, greenlet.blockSeq == sequence else { return }
        greenlet.blocked = false
        switchInto(greenlet)
    }

    /// From the hub: throws `error` into `greenlet` at the call where it is blocked.
    func throwInto(_ greenlet: AnyGreenlet, _ error: any Error) {
        guard greenlet.state == .running, greenlet.blocked else { return }
        greenlet.blocked = false
        greenlet.resumeError = error
        switchInto(greenlet)
    }

    /// Waits (in the current greenlet) until `object` is ready.
    func waitUntilReady(_ object: any Waitable, operation: StaticString) throws {
        let greenlet = try blockableGreenlet(operation)
        let sequence = greenlet.beginBlock(waitingFor: operation)
        let token = object.rawLinkReady { [unowned self, unowned greenlet] in
            self.resume(greenlet, sequence: sequence)
        }
        defer { object.unlink(token) }
        try block(greenlet)
    }

    private func switchInto(_ greenlet: AnyGreenlet) {
        if destroying && greenlet.kind == .user { return }
        let monitored = Monitor.enabled.load(ordering: .relaxed)
        if monitored { activity.publish(running: greenlet) }
        counters.switches &+= 1
        cgreenlet_switch(hubGreenlet.context, greenlet.context)
        if monitored { activity.publish(running: nil) }
        // Only `greenlet` can have switched back: greenlets switch to the hub and nowhere else.
        if greenlet.context.pointee.dead != 0 {
            reap(greenlet)
        }
    }

    func startGreenlet(_ greenlet: AnyGreenlet) {
        guard greenlet.state == .scheduled else { return }  // killed before it ran
        greenlet.state = .running
        if !greenlet.stackMapped {
            let status = mapStack(of: greenlet)
            guard status == 0 else {
                let size = greenlet.requestedStackSize ?? config.stackSize
                greenlet.finish(with: GreenletStackError(errno: status, requestedSize: size))
                return
            }
        }
        if let explicitName = greenlet.explicitName {
            cgreenlet_set_name(greenlet.context, explicitName)
        } else if greenlet.spawnFile.hasPointerRepresentation {
            // Formatted in C: building the String cost two allocations per started greenlet.
            cgreenlet_set_spawn_site_name(
                greenlet.context,
                greenlet.spawnFile.utf8Start,
                greenlet.spawnFile.utf8CodeUnitCount,
                greenlet.spawnLine
            )
        } else {
            cgreenlet_set_name(greenlet.context, "spawned at \(greenlet.spawnSite)")
        }
        addLive(greenlet)
        switchInto(greenlet)
    }

    /// Gives a greenlet that has not started its stack now rather than when it starts, so that a caller
    /// that must report a failure at once (a patched `pthread_create`) can. Returns 0 or an errno value.
    func mapStack(of greenlet: AnyGreenlet) -> Int32 {
        let status = cgreenlet_init(
            greenlet.context,
            greenlet.requestedStackSize ?? config.stackSize,
            greenletEntry,
            Unmanaged.passUnretained(greenlet).toOpaque()
        )
        greenlet.stackMapped = status == 0
        return status
    }

    private func reap(_ greenlet: AnyGreenlet) {
        cgreenlet_release_stack(greenlet.context)
        greenlet.context.pointee.dead = 0
        removeLive(greenlet)
    }

    /// The hub greenlet's body: run the loop; when it runs dry, wake whoever can be told.
    func runLoop() {
        while !destroying {
            gevent_ev_run(loop, 0)
            if destroying { break }
            loopRanDry()
        }
    }

    private func loopRanDry() {
        if let sequence = joinSequence {
            joinFinished = true
            resume(main, sequence: sequence)
            return
        }
        if main.blocked {
            throwInto(main, makeLoopExit())
            return
        }
        fatalError("swift-gevent: BUG DETECTED: the hub's loop ran dry while the main greenlet was not waiting")
    }

    private func makeLoopExit() -> LoopExit {
        var blocked: [String] = []
        if main.blocked { blocked.append("main: \(main.waitingFor)") }
        var node = liveHead
        while let greenlet = node {
            if greenlet.blocked { blocked.append("\(greenlet.reportName): \(greenlet.waitingFor)") }
            node = greenlet.liveNext
        }
        let watchers = unreferencedWatchers.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key) (unreferenced)" }
        return LoopExit(blockedGreenlets: blocked, unreferencedWatchers: watchers)
    }

    // MARK: - Callbacks

    /// Queues `callback` for the hub's next callback round (FIFO). Never switches; hub thread only.
    func enqueue(_ callback: consuming HubCallback) {
        callbacks.append(callback)
        if !idleActive {
            // An active idle watcher keeps the loop from blocking in its poll (and from running dry)
            // while callbacks wait.
            idleActive = true
            gevent_ev_idle_start(loop, idle)
        }
    }

    /// Runs `body` in the hub on its next callback round. Never switches; hub thread only.
    ///
    /// gevent's `loop.run_callback`. The callback runs inside the event loop: it must not block.
    public func runCallback(_ body: @escaping () -> Void) {
        preconditionOnHubThread("Hub.runCallback")
        enqueue(.closure(body))
    }

    fileprivate func runCallbacks() {
        guard !callbacks.isEmpty else {
            stopIdle()
            return
        }
        let deadline = monotonicNanoseconds() + switchIntervalNanoseconds
        var count = 0
        while let callback = callbacks.popFirst() {
            run(callback)
            if destroying { return }
            count &+= 1
            if count & 63 == 0 && monotonicNanoseconds() >= deadline { break }
        }
        if callbacks.isEmpty { stopIdle() }
    }

    private func stopIdle() {
        if idleActive {
            idleActive = false
            gevent_ev_idle_stop(loop, idle)
        }
    }

    private func run(_ callback: HubCallback) {
        switch callback {
        case .start(let greenlet):
            startGreenlet(greenlet)
        case .resume(let greenlet, let sequence):
            resume(greenlet, sequence: sequence)
        case .throwInto(let greenlet, let error):
            throwInto(greenlet, error)
        case .notifyLinks(let greenlet):
            greenlet.notifyLinks()
        case .closure(let body):
            body()
        }
    }

    fileprivate func runThreadsafeCallbacks() {
        let pending = threadsafeLock.withLock {
            defer { threadsafe.pending.removeAll() }
            return threadsafe.pending
        }
        for body in pending {
            body()
        }
    }

    /// Runs `body` in this hub, on its thread, on the next loop iteration; callable from any thread.
    ///
    /// The hub is woken through libev's `ev_async`. `body` runs inside the event loop, so it must not block;
    /// it may spawn greenlets, set events, start greenlets. gevent's `run_callback_threadsafe`. Never
    /// switches.
    ///
    /// - Returns: `false` if the hub has been destroyed and `body` will never run.
    @discardableResult
    public func runThreadsafe(_ body: @escaping @Sendable () -> Void) -> Bool {
        let accepted = threadsafeLock.withLock {
            guard !threadsafe.closed else { return false }
            threadsafe.pending.append(body)
            threadsafe.sendersInFlight += 1
            return true
        }
        guard accepted else { return false }
        // Sent outside the lock: the wake-up can preempt this thread at once (always when both share one
        // CPU), and a hub that then blocked on the lock this thread still held would cost two more context
        // switches per call. destroy() waits for senders in flight before it frees the loop.
        gevent_ev_async_send(loop, async)
        threadsafeLock.withLock {
            threadsafe.sendersInFlight -= 1
            if threadsafe.closed && threadsafe.sendersInFlight == 0 {
                threadsafeLock.broadcast()
            }
        }
        return true
    }

    /// Keeps the loop alive while cross-thread work the hub waits for is in flight (ThreadPool results).
    func holdLoopOpen() {
        gevent_ev_ref(loop)
    }

    func releaseLoopHold() {
        gevent_ev_unref(loop)
    }

    // MARK: - Live greenlets

    private func addLive(_ greenlet: AnyGreenlet) {
        greenlet.liveNext = liveHead
        liveHead?.livePrevious = greenlet
        greenlet.livePrevious = nil
        liveHead = greenlet
        liveCount += 1
    }

    private func removeLive(_ greenlet: AnyGreenlet) {
        if let previous = greenlet.livePrevious {
            previous.liveNext = greenlet.liveNext
        } else {
            liveHead = greenlet.liveNext
        }
        greenlet.liveNext?.livePrevious = greenlet.livePrevious
        greenlet.livePrevious = nil
        greenlet.liveNext = nil
        liveCount -= 1
    }

    /// The greenlets that have started running and not finished, newest first. Never switches; hub thread only.
    public var liveGreenlets: [AnyGreenlet] {
        preconditionOnHubThread("Hub.liveGreenlets")
        var result: [AnyGreenlet] = []
        var node = liveHead
        while let greenlet = node {
            result.append(greenlet)
            node = greenlet.liveNext
        }
        return result
    }

    func nextLinkID() -> UInt64 {
        linkCounter &+= 1
        return linkCounter
    }

    func nextFinishOrder() -> UInt64 {
        finishCounter &+= 1
        return finishCounter
    }

    func spawnLinkGreenlet(_ body: @escaping () throws -> Void) {
        let greenlet = Greenlet(file: "(link)", line: 0, body)
        greenlet.start()
    }

    // MARK: - Errors

    /// Reports an error a greenlet ended with (or a raw link threw, or a server's handler failed with):
    /// to ``errorHandler`` if set, else
    /// through ``GeventLogging/logger`` (by default a line on stderr). gevent's `hub.handle_error`.
    ///
    /// Servers built on the hub (``StreamServer``, `HTTPServer`) report their handlers' errors here and go
    /// on serving. Never switches (unless ``errorHandler`` does); hub thread only.
    ///
    /// - Parameters:
    ///   - error: what failed.
    ///   - greenlet: the greenlet it failed in, if any.
    ///   - context: names the failing work when there is no greenlet to name it ("a hub callback").
    public func reportError(_ error: any Error, in greenlet: AnyGreenlet?, context: String?) {
        if let errorHandler {
            errorHandler(greenlet, error)
            return
        }
        let who = greenlet?.reportName ?? context ?? "a hub callback"
        GeventLogging.logger.error(
            "\(who) failed with \(type(of: error)): \(error)",
            metadata: ["gevent-report": "error", "greenlet": "\(who)", "error-type": "\(type(of: error))"]
        )
    }

    // MARK: - Joining and destroying

    /// Waits until the hub has nothing left to do: no greenlet can run and no referenced watcher is active.
    ///
    /// gevent's `hub.join()` and `gevent.wait()` without objects. May switch greenlets. Call it from the
    /// main greenlet on the hub's thread.
    ///
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` when the loop ran out of work, `false` when `timeout` passed first.
    /// - Throws: errors thrown into the main greenlet while it waits; ``InvalidThreadUseError`` from another
    ///   thread or another greenlet than main.
    @available(*, noasync, message: "join blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Bool {
        try checkThread("Hub.join")
        guard cgreenlet_current() == main.context else {
            throw InvalidThreadUseError(operation: "Hub.join from a greenlet other than the main greenlet")
        }
        let sequence = main.beginBlock(waitingFor: "Hub.join")
        joinSequence = sequence
        joinFinished = false
        var timer: TimerWatcher?
        if let timeout {
            let watcher = TimerWatcher(hub: self, ref: false, label: "Hub.join timeout") { [unowned self] in
                self.resume(self.main, sequence: sequence)
            }
            watcher.start(after: timeout)
            timer = watcher
        }
        defer {
            joinSequence = nil
            timer?.stop()
        }
        try block(main)
        return joinFinished
    }

    /// Kills the hub's greenlets, unwinds the hub, and frees its loop and stacks; the thread has no hub
    /// afterwards (the next use creates a new one).
    ///
    /// Live greenlets get ``GreenletExit`` and up to one second to finish; one that is still running then is
    /// abandoned (its stack stays mapped). It ends by dropping ``errorHandler``, which often holds what it
    /// collected (greenlets, which hold the hub). gevent's `hub.destroy()`. Switches greenlets while killing.
    /// Call it from the main greenlet on the hub's thread.
    ///
    /// - Throws: ``InvalidThreadUseError`` from another thread or greenlet.
    @available(*, noasync, message: "destroy switches greenlets; it is for greenlet code, not async code")
    public func destroy() throws {
        try checkThread("Hub.destroy")
        guard cgreenlet_current() == main.context else {
            throw InvalidThreadUseError(operation: "Hub.destroy from a greenlet other than the main greenlet")
        }
        let survivors = liveGreenlets
        if !survivors.isEmpty {
            _ = try? killAll(survivors, timeout: .seconds(1))
        }
        let abandoned = liveCount
        // Signal and child watchers registered here must leave libev (and close their pidfds) while the
        // loop still exists: libev keeps a process-wide pointer to the loop that watches each signal.
        let beforeDestroy = beforeDestroyHooks
        beforeDestroyHooks.removeAll()
        for hook in beforeDestroy.values { hook() }
        // The resolver may own watchers on this loop (c-ares): release them while the loop exists.
        resolverStorage?.close()
        resolverStorage = nil
        // Queued thread-pool tasks can no longer report back: cancel them and let the workers retire.
        threadPoolStorage?.kill()
        threadPoolStorage = nil
        destroying = true
        if hubGreenlet.context.pointee.sp != nil && hubStarted {
            // Let the hub unwind its own stack: it returns out of ev_run and ends with a final switch here.
            gevent_ev_break(loop, gevent_EVBREAK_ALL)
            cgreenlet_switch(main.context, hubGreenlet.context)
        }
        cgreenlet_release_stack(hubGreenlet.context)
        threadsafeLock.withLock {
            threadsafe.closed = true
            while threadsafe.sendersInFlight > 0 {
                _ = threadsafeLock.wait(until: nil)
            }
        }
        callbacks.removeAll()
        // The handler often captures what it collects (greenlets, which hold this hub): a cycle that would
        // keep the hub and everything it owns alive after its thread is done with it.
        errorHandler = nil
        if idleActive { gevent_ev_idle_stop(loop, idle) }
        gevent_ev_ref(loop)
        gevent_ev_prepare_stop(loop, prepare)
        gevent_shim_signal_detach()
        gevent_ev_ref(loop)
        gevent_ev_async_stop(loop, async)
        isDestroyed = true
        gevent_ev_loop_destroy(loop)
        prepare.deallocate()
        idle.deallocate()
        async.deallocate()
        cgreenlet_drain_stack_pool()
        Monitor.unregister(activity)
        cgreenlet_set_current(nil)
        cgreenlet_set_thread_hub(nil)
        if abandoned > 0 {
            reportWarning(
                "Hub.destroy abandoned \(abandoned) greenlet(s) that did not finish within 1 s of "
                    + "GreenletExit"
            )
        }
        liveHead = nil
        main = nil
        hubGreenlet = nil
        Unmanaged.passUnretained(self).release()
    }

    /// Work for ``destroy()`` to do before the loop is freed, by owner (signal handlers, child watchers).
    var beforeDestroyHooks: [ObjectIdentifier: () -> Void] = [:]

    /// Makes the hub usable in a child process after `fork()`: libev re-creates its kernel state (the epoll
    /// descriptor, shared with the parent until then) on the next iteration, the cross-thread queue's lock
    /// (which a thread that does not exist in the child may have held) is re-initialised, and the thread
    /// pool drops the workers it had in the parent. Never switches; the forking thread, in the child.
    func reinitializeAfterFork() {
        gevent_ev_loop_fork(loop)
        threadsafeLock.reinitializeAfterFork()
        threadsafe.sendersInFlight = 0
        threadPoolStorage?.reinitializeAfterFork()
    }

    /// Set when destroy() frees the loop: watchers that outlive it must not call libev any more.
    private(set) var isDestroyed = false

    /// Set once the hub greenlet has first run.
    var hubStarted = false
}

extension Hub: @unchecked Sendable {
    // Everything but `threadsafe` (guarded by `threadsafeLock`, a pthread mutex) and `loop`/`async` (used only through ev_async_send, which
    // libev documents as callable from any thread) is confined to the hub's thread; every entry point other
    // than runThreadsafe checks the thread first.
}

struct ThreadsafeQueue {
    var pending: [@Sendable () -> Void] = []
    var closed = false
    /// runThreadsafe calls between queueing and the end of their ev_async_send.
    var sendersInFlight = 0
}

/// The smallest-free-number allocator behind ``AnyGreenlet/minimalIdent``.
struct IdentRegistry {
    private var next = 1
    private var free: [Int] = []  // a min-heap

    mutating func allocate() -> Int {
        guard !free.isEmpty else {
            defer { next += 1 }
            return next
        }
        let smallest = free[0]
        let last = free.removeLast()
        if !free.isEmpty {
            free[0] = last
            var i = 0
            while true {
                let left = 2 * i + 1
                let right = left + 1
                var smallestChild = i
                if left < free.count && free[left] < free[smallestChild] { smallestChild = left }
                if right < free.count && free[right] < free[smallestChild] { smallestChild = right }
                if smallestChild == i { break }
                free.swapAt(i, smallestChild)
                i = smallestChild
            }
        }
        return smallest
    }

    mutating func release(_ ident: Int) {
        free.append(ident)
        var i = free.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if free[parent] <= free[i] { break }
            free.swapAt(i, parent)
            i = parent
        }
    }
}

// MARK: - C entry points

/// First function on every greenlet's own stack.
private func greenletEntry(_ argument: UnsafeMutableRawPointer?) {
    let (from, to) = runGreenlet(argument!)
    cgreenlet_switch_final(from, to)
}

/// Runs the greenlet and returns the contexts for the final switch. A separate function so that every
/// reference it holds is released before the stack is abandoned.
@inline(never)
private func runGreenlet(
    _ argument: UnsafeMutableRawPointer
) -> (UnsafeMutablePointer<cgreenlet_t>, UnsafeMutablePointer<cgreenlet_t>) {
    let greenlet = Unmanaged<AnyGreenlet>.fromOpaque(argument).takeUnretainedValue()
    let hub = greenlet.hub
    if greenlet.kind == .hub {
        hub.hubStarted = true
        hub.runLoop()
        return (greenlet.context, hub.main.context)
    }
    greenlet.execute()
    return (greenlet.context, hub.hubGreenlet.context)
}

/// A thread ended with its hub still alive: destroy it there (its greenlets get GreenletExit), unless the
/// thread ended inside a greenlet, where unwinding is impossible.
private func hubThreadExit(_ pointer: UnsafeMutableRawPointer?) {
    let hub = Unmanaged<Hub>.fromOpaque(pointer!).takeUnretainedValue()
    guard cgreenlet_current() == hub.main.context else { return }
    try? hub.destroy()
}

private func hubWillPoll(_ loop: OpaquePointer?) {
    Unmanaged<Hub>.fromOpaque(gevent_ev_userdata(loop)!).takeUnretainedValue().activity.setPolling(true)
}

private func hubDidPoll(_ loop: OpaquePointer?) {
    Unmanaged<Hub>.fromOpaque(gevent_ev_userdata(loop)!).takeUnretainedValue().activity.setPolling(false)
}

private func hubPrepare(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_prepare>?, _ events: Int32) {
    Unmanaged<Hub>.fromOpaque(watcher!.pointee.data).takeUnretainedValue().runCallbacks()
}

private func hubIdle(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_idle>?, _ events: Int32) {
    Unmanaged<Hub>.fromOpaque(watcher!.pointee.data).takeUnretainedValue().runCallbacks()
}

private func hubAsync(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_async>?, _ events: Int32) {
    let hub = Unmanaged<Hub>.fromOpaque(watcher!.pointee.data).takeUnretainedValue()
    if gevent_shim_signal_take_pending() {
        hub.interruptShimWaits()
    }
    hub.runThreadsafeCallbacks()
}
