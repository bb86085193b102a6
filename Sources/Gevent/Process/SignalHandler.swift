import CLibev
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A handler for a POSIX signal that runs as a greenlet on the hub that installed it: gevent's
/// `signal_handler` object. Create one with ``signalHandler(_:_:)``.
///
/// Each delivery starts a new greenlet running the handler, so it may sleep, do I/O or wait like any other
/// greenlet, and runs while the hub's other greenlets keep working. An error the handler throws is reported
/// (``Hub/errorHandler``) and then thrown into the hub's main greenlet, wherever it waits (gevent's
/// `handle_error` with no context). The handler stays installed until ``cancel()``; then the signal's
/// disposition returns to the default (libev does not restore an earlier handler). Signals that arrive
/// close together may be delivered once, as with any POSIX signal handler.
///
/// One hub at a time may handle a given signal (libev attaches each signal to one loop); several handlers
/// on that hub may share it. Unless ``keepsLoopAlive`` is set, an installed handler does not keep
/// ``Hub/join(timeout:)`` waiting and does not prevent ``LoopExit`` (gevent's `ref=False` default).
///
/// Threads: the handler belongs to the hub that installed it (the type is not `Sendable`); the signal
/// itself may arrive on any thread of the process.
public final class SignalHandler {
    /// The hub the handler runs on.
    public let hub: Hub
    /// The signal it handles.
    public let signal: Signal
    private let watcher: SignalWatcher

    init(hub: Hub, signal: Signal, handler: @escaping () throws -> Void) throws {
        self.hub = hub
        self.signal = signal
        watcher = try SignalWatcher(hub: hub, signal: signal, label: "signal handler") { [unowned hub] in
            let greenlet = spawn {
                try handler()
            }
            greenlet.name = "signal handler for \(signal)"
            _ = greenlet.linkError { failed in
                if let error = failed.error { hub.enqueue(.throwInto(hub.main, error)) }
            }
        }
        watcher.keepsLoopAlive = false
        try watcher.start()
    }

    deinit {
        watcher.stop()
    }

    /// `true` until ``cancel()``. Never switches; hub thread only.
    public var isActive: Bool { watcher.isActive }

    /// Whether the installed handler keeps the hub's loop alive (gevent's `ref`); `false` by default.
    /// Never switches; hub thread only.
    public var keepsLoopAlive: Bool {
        get { watcher.keepsLoopAlive }
        set {
            hub.preconditionOnHubThread("SignalHandler.keepsLoopAlive")
            watcher.keepsLoopAlive = newValue
        }
    }

    /// Removes the handler; harmless if already cancelled. When it was the last handler of the signal in
    /// the process, the signal's disposition returns to the default. Handler greenlets already started keep
    /// running. Never switches; hub thread only.
    public func cancel() {
        hub.preconditionOnHubThread("SignalHandler.cancel")
        watcher.stop()
    }
}

/// Installs `handler` for `signal` on the calling thread's hub: each delivery runs it in a new greenlet.
///
/// ```swift
/// let reload = try signalHandler(.hangup) { try reloadConfiguration() }
/// defer { reload.cancel() }
/// ```
///
/// gevent's `gevent.signal_handler`. Never switches; the handler belongs to the calling thread's hub
/// (created if needed).
///
/// - Returns: the installed handler; keep it to ``SignalHandler/cancel()`` it. Dropping it uninstalls it.
/// - Throws: ``SubprocessError`` for a signal that cannot be caught (`SIGKILL`, `SIGSTOP`), a number out of
///   range, or a signal another hub handles already (errno `EBUSY`).
@discardableResult
public func signalHandler(_ signal: Signal, _ handler: @escaping () throws -> Void) throws -> SignalHandler {
    try SignalHandler(hub: Hub.current, signal: signal, handler: handler)
}

/// Blocks the calling greenlet until `signal` arrives, or until `timeout` passes; the hub runs other
/// greenlets meanwhile.
///
/// The signal is caught only for the wait (its disposition is the default again afterwards); one that
/// arrived before the call is not seen. May switch greenlets. Hub thread only (the calling thread's hub),
/// not from inside the hub.
///
/// - Returns: `true` when the signal arrived, `false` when `timeout` passed first.
/// - Throws: as ``signalHandler(_:_:)`` for a signal that cannot be waited for; errors thrown into the
///   waiting greenlet. The wait keeps the hub's loop alive, so it never ends in ``LoopExit``.
@available(*, noasync, message: "waitForSignal blocks the thread's greenlets; it is for greenlet code")
@discardableResult
public func waitForSignal(_ signal: Signal, timeout: Duration? = nil) throws -> Bool {
    let arrived = Event()
    let watcher = try SignalWatcher(hub: Hub.current, signal: signal, label: "waitForSignal") {
        arrived.set()
    }
    try watcher.start()
    defer { watcher.stop() }
    return try arrived.wait(timeout: timeout)
}

/// A libev `ev_signal` owned by Swift code on the hub's thread, plus the process-wide rule that a signal is
/// watched by one loop at a time.
final class SignalWatcher {
    let hub: Hub
    let signal: Signal
    let label: StaticString
    private let pointer: UnsafeMutablePointer<ev_signal>
    private let callback: () -> Void
    private var unreferenced = false
    /// Whether the watcher keeps the loop alive while active.
    var keepsLoopAlive = true {
        didSet {
            guard isActive, oldValue != keepsLoopAlive else { return }
            if keepsLoopAlive { restoreReference() } else { dropReference() }
        }
    }

    init(hub: Hub, signal: Signal, label: StaticString, callback: @escaping () -> Void) throws {
        try hub.checkThread("install a signal handler")
        // 65 is NSIG on Linux: signals 1–64.
        guard signal.rawValue > 0, signal.rawValue < 65 else {
            throw SubprocessError(
                operation: "handle signal \(signal.rawValue)",
                code: .invalidArgument,
                reason: "no such signal"
            )
        }
        guard signal != .kill, signal != .stop else {
            throw SubprocessError(
                operation: "handle \(signal)",
                code: .invalidArgument,
                reason: "SIGKILL and SIGSTOP cannot be caught"
            )
        }
        self.hub = hub
        self.signal = signal
        self.label = label
        self.callback = callback
        pointer = .allocate(capacity: 1)
        gevent_ev_signal_init(pointer, signalFired, signal.rawValue)
        pointer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        stop()
        pointer.deallocate()
    }

    var isActive: Bool { gevent_ev_is_active(pointer) != 0 }

    func start() throws(SubprocessError) {
        guard !isActive else { return }
        try SignalOwners.claim(signal, for: hub)
        gevent_ev_signal_start(hub.loop, pointer)
        if !keepsLoopAlive { dropReference() }
        hub.beforeDestroyHooks[ObjectIdentifier(self)] = { [unowned self] in self.stop() }
    }

    func stop() {
        guard isActive, !hub.isDestroyed, hub.isOnHubThread else { return }
        restoreReference()
        gevent_ev_signal_stop(hub.loop, pointer)
        SignalOwners.release(signal)
        hub.beforeDestroyHooks[ObjectIdentifier(self)] = nil
    }

    fileprivate func fire() {
        callback()
    }

    private func dropReference() {
        guard !unreferenced else { return }
        hub.unreferenceLoop(for: label)
        unreferenced = true
    }

    private func restoreReference() {
        guard unreferenced else { return }
        hub.referenceLoop(for: label)
        unreferenced = false
    }
}

private func signalFired(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_signal>?, _ events: CInt) {
    let unmanaged = Unmanaged<SignalWatcher>.fromOpaque(watcher!.pointee.data).retain()
    unmanaged.takeUnretainedValue().fire()
    unmanaged.release()
}

/// Which hub watches each signal, and with how many watchers: libev allows one loop per signal.
private enum SignalOwners {
    private static let owners = Mutex<[CInt: (hub: ObjectIdentifier, watchers: Int)]>([:])

    static func claim(_ signal: Signal, for hub: Hub) throws(SubprocessError) {
        let claimed = owners.withLock { owners -> Bool in
            if let owner = owners[signal.rawValue] {
                guard owner.hub == ObjectIdentifier(hub) else { return false }
                owners[signal.rawValue] = (owner.hub, owner.watchers + 1)
            } else {
                owners[signal.rawValue] = (ObjectIdentifier(hub), 1)
            }
            return true
        }
        guard claimed else {
            throw SubprocessError(
                operation: "handle \(signal)",
                code: Errno(rawValue: EBUSY),
                reason: "the hub of another thread handles this signal already (one hub per signal); "
                    + "cancel its handlers first, or handle the signal there and hand work over with runThreadsafe"
            )
        }
    }

    static func release(_ signal: Signal) {
        owners.withLock { owners in
            guard let owner = owners[signal.rawValue] else { return }
            owners[signal.rawValue] = owner.watchers > 1 ? (owner.hub, owner.watchers - 1) : nil
        }
    }
}
