import CGreenlet

/// A greenlet of any result type: what ``joinAll(_:timeout:raiseError:count:)``, ``killAll(_:error:block:timeout:)``,
/// ``wait(_:timeout:count:)`` and links take, and what ``getCurrent()`` returns.
///
/// A greenlet is a function running on its own stack, scheduled cooperatively by its thread's ``Hub``: it
/// runs until it blocks (sleeps, joins, waits for I/O), then the hub runs something else. ``Greenlet`` is the
/// typed subclass you create with ``spawn(file:line:_:)`` or `Greenlet { }`; the main greenlet (the thread's
/// own stack) is also an `AnyGreenlet`.
///
/// Lifecycle, as in gevent: created → started (``hasStarted``) → running → finished (``isReady``,
/// ``isDead``). A greenlet that ends by throwing ``GreenletExit`` (the default ``kill(_:block:timeout:)``)
/// counts as successful. A greenlet killed before it first ran never runs its body.
///
/// Greenlets are bound to their hub's thread: every method must be called on that thread, and reports an
/// ``InvalidThreadUseError`` (or, for properties, stops the program with that message) otherwise. Only the
/// methods marked so may switch greenlets.
public class AnyGreenlet {
    enum Kind: UInt8 {
        case main
        case hub
        case user
    }

    enum State: UInt8 {
        case new
        case scheduled
        case running
        case finished
    }

    struct LinkEntry {
        enum Filter {
            case always
            case onSuccess
            case onFailure
        }
        let id: UInt64
        let filter: Filter
        /// Raw links run in the hub; others run in a new greenlet and may block.
        let raw: Bool
        let callback: (AnyGreenlet) throws -> Void
    }

    /// The hub this greenlet belongs to.
    public let hub: Hub
    let kind: Kind
    let context: UnsafeMutablePointer<cgreenlet_t>
    var state: State = .new

    // Blocking protocol (see Hub.block): a wake-up must carry the sequence number of the current block.
    var blocked = false
    var blockSeq: UInt64 = 0
    /// The wait (a ``blockSeq``) for which a queue has claimed this greenlet as the getter of an item it
    /// just stored: woken, it takes that item (Queue's direct hand-off).
    var claimedSeq: UInt64 = 0
    var resumeError: (any Error)?
    var waitingFor: StaticString = "nothing"

    /// The error the greenlet ended with, GreenletExit included.
    var failure: (any Error)?
    /// When it finished, relative to the hub's other greenlets (joinAll reports them in this order).
    var finishOrder: UInt64 = 0
    // Unchecked: every join and wait links and unlinks here, and a dynamic exclusivity check costs a call
    // into the runtime and a thread-local lookup per access. No access can overlap another: appends,
    // removals and reads call no user code (notifyLinks runs each callback after removing its entry).
    @exclusivity(unchecked) var links: [LinkEntry] = []
    var notifyScheduled = false

    var explicitName: String?
    var ident: Int?
    let spawnFile: StaticString
    let spawnLine: UInt
    let requestedStackSize: Int?
    var startTimer: TimerWatcher?
    var sleepTimer: TimerWatcher?
    /// Values of ``GreenletLocal``s for this greenlet (Sync/), created on first use, freed when it finishes.
    var localStorage: GreenletLocalStorage?

    // The hub's intrusive list of greenlets that are running (started and not finished); it also keeps
    // them alive when the caller dropped its reference.
    var liveNext: AnyGreenlet?
    unowned(unsafe) var livePrevious: AnyGreenlet?

    /// Set once ``Hub/mapStack(of:)`` gave the greenlet its stack before it started.
    var stackMapped = false

    init(hub: Hub, kind: Kind, name: String?, stackSize: Int?, file: StaticString, line: UInt) {
        self.hub = hub
        self.kind = kind
        self.explicitName = name
        self.requestedStackSize = stackSize
        self.spawnFile = file
        self.spawnLine = line
        context = .allocate(capacity: 1)
        context.initialize(to: cgreenlet_t())
    }

    deinit {
        cgreenlet_release_stack(context)
        context.deallocate()
        if let ident {
            hub.idents.release(ident)
        }
    }

    /// Runs the greenlet's function on its own stack (overridden by ``Greenlet``).
    func runBody() throws {}

    // MARK: - State

    /// `true` once the greenlet has finished: returned, thrown, or been killed (also before it ran).
    ///
    /// gevent's `ready()`. Never switches; hub thread only.
    public var isReady: Bool {
        hub.preconditionOnHubThread("AnyGreenlet.isReady")
        return state == .finished
    }

    /// `true` when the greenlet finished without an error, or with ``GreenletExit`` (a kill).
    ///
    /// gevent's `successful()`. Never switches; hub thread only.
    public var isSuccessful: Bool {
        hub.preconditionOnHubThread("AnyGreenlet.isSuccessful")
        return state == .finished && (failure == nil || failure is GreenletExit)
    }

    /// `true` when the greenlet has finished or was killed before it ran. The running greenlet is never dead.
    ///
    /// gevent's `dead`. Never switches; hub thread only.
    public var isDead: Bool {
        hub.preconditionOnHubThread("AnyGreenlet.isDead")
        return state == .finished
    }

    /// `true` from ``start()`` until the greenlet finishes; `false` before start and again after it ends.
    ///
    /// gevent's `started` (and `bool(greenlet)`). Never switches; hub thread only.
    public var hasStarted: Bool {
        hub.preconditionOnHubThread("AnyGreenlet.hasStarted")
        return state == .scheduled || state == .running
    }

    /// The error the greenlet failed with, or `nil` if it is running, succeeded, or was killed with
    /// ``GreenletExit``.
    ///
    /// gevent's `exception`. Never switches; hub thread only.
    public var error: (any Error)? {
        hub.preconditionOnHubThread("AnyGreenlet.error")
        return failure is GreenletExit ? nil : failure
    }

    /// The ``GreenletExit`` that ended the greenlet when it was killed, else `nil`. Never switches; hub thread only.
    public var greenletExit: GreenletExit? {
        hub.preconditionOnHubThread("AnyGreenlet.greenletExit")
        return failure as? GreenletExit
    }

    /// A small number unique among this hub's live greenlets, allocated on first use; the smallest free
    /// number is reused after a greenlet is gone. The first is 1 (0 is the hub's main greenlet).
    ///
    /// gevent's `minimal_ident`. Never switches; hub thread only.
    public var minimalIdent: Int {
        hub.preconditionOnHubThread("AnyGreenlet.minimalIdent")
        if kind == .main { return 0 }
        if let ident { return ident }
        let new = hub.idents.allocate()
        ident = new
        return new
    }

    /// The greenlet's name: the one given, or `"Greenlet-<minimalIdent>"` (`"main"` for the main greenlet,
    /// `"hub"` for the hub). Assignable. Never switches; hub thread only.
    public var name: String {
        get {
            if let explicitName { return explicitName }
            switch kind {
            case .main: return "main"
            case .hub: return "hub"
            case .user: return "Greenlet-\(minimalIdent)"
            }
        }
        set {
            hub.preconditionOnHubThread("AnyGreenlet.name")
            explicitName = newValue
            cgreenlet_set_name(context, newValue)
        }
    }

    /// Where the greenlet was created, as `"Module/File.swift:12"`. Never switches; any thread.
    public var spawnSite: String {
        "\(spawnFile):\(spawnLine)"
    }

    /// The name and the spawn site, as used in error reports.
    var reportName: String {
        kind == .user ? "\(name) (spawned at \(spawnSite))" : name
    }

    // MARK: - Starting

    /// Schedules the greenlet to run when the hub next runs its callbacks, after those already queued.
    ///
    /// Does nothing if it was already started, has finished, or was killed. gevent's `start()`. Never
    /// switches: the greenlet first runs when the caller blocks or yields (e.g. ``sleep(_:)`` with `.zero`).
    /// Hub thread only.
    public func start() {
        hub.preconditionOnHubThread("AnyGreenlet.start")
        guard state == .new else { return }
        state = .scheduled
        hub.enqueue(.start(self))
    }

    /// Schedules the greenlet to run after `delay`.
    ///
    /// Does nothing if it was already started, has finished, or was killed. gevent's `start_later`. Never
    /// switches. Hub thread only.
    public func start(after delay: Duration) {
        hub.preconditionOnHubThread("AnyGreenlet.start(after:)")
        guard state == .new else { return }
        state = .scheduled
        // The timer's callback holds the greenlet strongly: a greenlet scheduled for later must run even if
        // the caller dropped it. The cycle ends when the timer fires or the greenlet is killed.
        let timer = TimerWatcher(hub: hub, label: "Greenlet.start(after:)") {
            self.startTimer = nil
            self.hub.startGreenlet(self)
        }
        startTimer = timer
        timer.start(after: delay)
    }

    // MARK: - Waiting

    /// Waits until the greenlet has finished, or until `timeout` passes.
    ///
    /// gevent's `join`. May switch greenlets. Call it from a greenlet on the hub's thread, not from inside
    /// the hub (a raw link). Joining a greenlet from itself waits forever (the hub then throws ``LoopExit``
    /// into the main greenlet if nothing else can happen).
    ///
    /// - Parameter timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: `true` if the greenlet has finished, `false` if the timeout passed first.
    /// - Throws: an error thrown into the waiting greenlet (a ``Timeout`` of an enclosing scope, a kill),
    ///   ``LoopExit``, ``BlockingSwitchOutError`` on the hub, ``InvalidThreadUseError`` on another thread.
    @available(*, noasync, message: "join blocks the thread's greenlets; it is for greenlet code, not async code")
    @discardableResult
    public func join(timeout: Duration? = nil) throws -> Bool {
        try hub.checkThread("AnyGreenlet.join")
        if state == .finished { return true }
        _ = try Timeout.run(timeout, silent: true) {
            try hub.waitUntilReady(self, operation: "join")
        }
        return state == .finished
    }

    // MARK: - Killing

    /// Ends the greenlet by throwing `error` into it at its current switch point.
    ///
    /// - A greenlet that has not run yet is finished at once with `error` and its body never runs; its
    ///   links still fire.
    /// - A finished greenlet is left alone.
    /// - A running greenlet gets `error` thrown from the blocking call it is in, on the hub's next
    ///   callback round. With `block`, the caller then waits (up to `timeout`) for it to finish; a greenlet
    ///   that catches the error and goes on may outlive the wait.
    /// - Killing the calling greenlet itself throws `error` from this call.
    ///
    /// gevent's `kill(exception, block, timeout)`. ``GreenletExit`` (the default) counts as success. May
    /// switch greenlets when `block` is `true`; hub thread only.
    ///
    /// - Throws: `error` when killing the current greenlet; errors thrown into the waiting caller while it
    ///   waits (an enclosing ``Timeout``, its own kill); ``BlockingSwitchOutError`` when blocking on the hub;
    ///   ``InvalidThreadUseError`` from another thread.
    @available(*, noasync, message: "kill may block the thread's greenlets; it is for greenlet code, not async code")
    public func kill(_ error: any Error = GreenletExit(), block: Bool = true, timeout: Duration? = nil) throws {
        try hub.checkThread("AnyGreenlet.kill")
        switch state {
        case .finished:
            return
        case .new, .scheduled:
            killBeforeStart(error)
            return
        case .running:
            if self === hub.currentGreenlet {
                throw error
            }
            hub.enqueue(.throwInto(self, error))
            if block {
                try join(timeout: timeout)
            }
        }
    }

    /// Finishes a greenlet that has not run: its body never runs, its links fire.
    func killBeforeStart(_ error: any Error) {
        startTimer?.stop()
        startTimer = nil
        finish(with: error)
    }

    // MARK: - Links

    /// Calls `callback` with this greenlet once it has finished, in a new greenlet (so it may block).
    ///
    /// Links fire in the order they were added, also when added after the greenlet finished. gevent's
    /// `link`. Never switches; hub thread only.
    ///
    /// - Returns: a token for ``unlink(_:)``.
    @discardableResult
    public func link(_ callback: @escaping (AnyGreenlet) throws -> Void) -> LinkToken {
        addLink(filter: .always, raw: false, callback)
    }

    /// Like ``link(_:)``, but only when the greenlet succeeded (a ``GreenletExit`` kill included).
    ///
    /// gevent's `link_value`. Never switches; hub thread only.
    @discardableResult
    public func linkValue(_ callback: @escaping (AnyGreenlet) throws -> Void) -> LinkToken {
        addLink(filter: .onSuccess, raw: false, callback)
    }

    /// Like ``link(_:)``, but only when the greenlet failed with an error other than ``GreenletExit``.
    ///
    /// gevent's `link_exception`. Never switches; hub thread only.
    @discardableResult
    public func linkError(_ callback: @escaping (AnyGreenlet) throws -> Void) -> LinkToken {
        addLink(filter: .onFailure, raw: false, callback)
    }

    /// Calls `callback` with this greenlet once it has finished, inside the hub.
    ///
    /// The callback runs in the event loop: it must be quick and must not block (a blocking call there
    /// throws ``BlockingSwitchOutError``). gevent's `rawlink`. Never switches; hub thread only.
    @discardableResult
    public func rawLink(_ callback: @escaping (AnyGreenlet) -> Void) -> LinkToken {
        addLink(filter: .always, raw: true, callback)
    }

    /// Removes a link added by ``link(_:)``, ``linkValue(_:)``, ``linkError(_:)`` or ``rawLink(_:)``; a link
    /// that has not fired yet then never fires. Unknown tokens are ignored. Never switches; hub thread only.
    public func unlink(_ token: LinkToken) {
        hub.preconditionOnHubThread("AnyGreenlet.unlink")
        links.removeAll { $0.id == token.id }
    }

    /// `true` while at least one link has not fired. Never switches; hub thread only.
    public var hasLinks: Bool {
        hub.preconditionOnHubThread("AnyGreenlet.hasLinks")
        return !links.isEmpty
    }

    func addLink(filter: LinkEntry.Filter, raw: Bool, _ callback: @escaping (AnyGreenlet) throws -> Void) -> LinkToken {
        hub.preconditionOnHubThread("AnyGreenlet.link")
        let token = LinkToken(id: hub.nextLinkID())
        links.append(LinkEntry(id: token.id, filter: filter, raw: raw, callback: callback))
        if state == .finished {
            scheduleLinkNotification()
        }
        return token
    }

    func scheduleLinkNotification() {
        guard !notifyScheduled else { return }
        notifyScheduled = true
        hub.enqueue(.notifyLinks(self))
    }

    /// Runs the links in the hub, oldest first. A link may unlink later ones (they then do not fire) or add
    /// new ones (they fire in this round).
    func notifyLinks() {
        notifyScheduled = false
        let succeeded = failure == nil || failure is GreenletExit
        while !links.isEmpty {
            let entry = links.removeFirst()
            switch entry.filter {
            case .onSuccess where !succeeded, .onFailure where succeeded:
                continue
            default:
                break
            }
            if entry.raw {
                do {
                    try entry.callback(self)
                } catch {
                    hub.reportError(error, in: nil, context: "a raw link of \(reportName)")
                }
            } else {
                let target = self
                let callback = entry.callback
                hub.spawnLinkGreenlet { try callback(target) }
            }
        }
    }

    // MARK: - Running and finishing

    /// Runs the body on the greenlet's own stack and records how it ended.
    func execute() {
        do {
            try runBody()
            finish(with: nil)
        } catch {
            finish(with: error)
        }
    }

    func finish(with error: (any Error)?) {
        state = .finished
        failure = error
        if let storage = localStorage {
            localStorage = nil
            storage.release(from: self)
        }
        finishOrder = hub.nextFinishOrder()
        if let error, !(error is GreenletExit) {
            hub.reportError(error, in: self, context: nil)
        }
        if !links.isEmpty {
            scheduleLinkNotification()
        }
    }

    /// Marks the start of a block: the next wake-up must carry the returned sequence number.
    @inline(__always)
    func beginBlock(waitingFor operation: StaticString) -> UInt64 {
        blockSeq &+= 1
        waitingFor = operation
        return blockSeq
    }
}

extension AnyGreenlet: CustomStringConvertible {
    /// `<Greenlet "name" spawned at File.swift:12, running>`.
    ///
    /// Never switches; any thread. Loggers, debuggers and test failures print from anywhere, and printing
    /// must not stop the program: on another thread than its hub's (or once its hub was destroyed) the name
    /// and state are not this thread's to read, and it shows only what never changes, as
    /// `<Greenlet spawned at File.swift:12 (of another thread's hub)>`.
    public var description: String {
        guard hub.isOnHubThread else {
            switch kind {
            case .user: return "<Greenlet spawned at \(spawnSite) (of another thread's hub)>"
            case .main: return "<Greenlet \"main\" (of another thread's hub)>"
            case .hub: return "<Greenlet \"hub\" (of another thread's hub)>"
            }
        }
        let status: String
        switch state {
        case .new: status = "not started"
        case .scheduled: status = "scheduled"
        case .running: status = blocked ? "blocked in \(waitingFor)" : "running"
        case .finished: status = failure == nil || failure is GreenletExit ? "finished" : "failed"
        }
        return kind == .user
            ? "<Greenlet \"\(name)\" spawned at \(spawnSite), \(status)>" : "<Greenlet \"\(name)\", \(status)>"
    }
}

extension AnyGreenlet: Waitable {
    /// Calls `callback` in the hub once the greenlet has finished (at once, on the next callback round, if
    /// it already has). Never switches; hub thread only.
    public func rawLinkReady(_ callback: @escaping () -> Void) -> LinkToken {
        addLink(filter: .always, raw: true) { _ in callback() }
    }
}

/// Identifies one link, for ``AnyGreenlet/unlink(_:)``.
public struct LinkToken: Hashable, Sendable {
    let id: UInt64
}
