import CGeventShim
import CLibev
import Synchronization

/// One greenlet's wait until any of several raw descriptors is ready, a deadline passes, or one of them is
/// closed: the engine of ``select(readable:writable:timeout:)``, ``poll(_:timeout:)`` and every interposed
/// libc call of the shim.
///
/// Owners of a descriptor (``Socket``, ``PipeEnd``) wait on their own reusable ``IOWatcher`` and wake it
/// themselves when they close. A raw descriptor has no owner to do that, so these waits are found through
/// one registry: the shim's descriptor table (`preload/shim_fd.c`) counts the waiters of each descriptor and
/// bumps a generation on every close, `dup2` and `dup3` over it, wherever the close comes from (an unaware
/// C library, a ``Socket``, another thread); when a descriptor with waiters closes, the table calls
/// ``closing(_:)``, which ends every wait here on that descriptor with ``Outcome/closed`` before the
/// real `close` runs. `docs/architecture.md` explains the protocol.
///
/// Hub thread only; ``wait(for:timeout:operation:)`` may switch greenlets.
final class DescriptorWait {
    /// How a wait ended.
    enum Outcome {
        /// A descriptor became ready (or the caller should probe again).
        case ready
        /// The timeout passed first.
        case timedOut
        /// A descriptor was closed or replaced.
        case closed
        /// A signal handler of the program ran on this thread (waits that asked for it only).
        case interrupted
    }

    let hub: Hub
    private unowned(unsafe) let greenlet: AnyGreenlet
    private let sequence: UInt64
    private var watchers: [IOWatcher] = []
    private var timer: TimerWatcher?
    private var finished = false
    private var outcome = Outcome.timedOut

    private init(hub: Hub, greenlet: AnyGreenlet, sequence: UInt64) {
        self.hub = hub
        self.greenlet = greenlet
        self.sequence = sequence
    }

    /// Blocks the current greenlet until one of `interests` is ready, `timeout` passes, or one of them is
    /// closed. Readiness is a hint: callers probe again (a non-blocking call or a zero-timeout `poll`).
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameters:
    ///   - interests: descriptors with `gevent_EV_READ`/`gevent_EV_WRITE` bits. With `checkGenerations`,
    ///     each item's `generation` is the one its caller saw before it decided to wait: a descriptor closed
    ///     or replaced since then ends the wait as ``Outcome/closed`` at once.
    ///   - timeout: the longest to wait; `nil` waits until a descriptor is ready or closed (with no
    ///     descriptors, until an error is thrown into the greenlet).
    ///   - operation: names the wait in LoopExit and monitor reports.
    ///   - interruptibleBySignals: `true` for the shim's waits, which a program's signal handler ends
    ///     (``Outcome/interrupted``) as it ends a plain thread's blocking call.
    /// - Throws: what is thrown into the greenlet while it waits; ``BlockingSwitchOutError`` from inside the
    ///   hub.
    static func wait(
        for interests: UnsafeBufferPointer<gevent_shim_wait_item>,
        checkGenerations: Bool,
        timeout: Duration?,
        operation: StaticString,
        interruptibleBySignals: Bool = false
    ) throws -> Outcome {
        let hub = Hub.current
        let greenlet = try hub.blockableGreenlet(operation)
        let wait = DescriptorWait(hub: hub, greenlet: greenlet, sequence: greenlet.beginBlock(waitingFor: operation))
        registry.register(wait, interests)
        let interruption =
            interruptibleBySignals ? hub.shimInterruptibleWaits.register { wait.finish(.interrupted) } : nil
        defer {
            if let interruption {
                hub.shimInterruptibleWaits.unregister(interruption)
            }
            wait.stopWatching()
            registry.unregister(wait, interests)
        }
        // Counted in the table after registering here, then the generation compared: a close on another
        // thread either finds this wait in the registry or has changed the generation already.
        var replaced = false
        for item in interests {
            let generation = gevent_shim_fd_wait_begin(item.fd)
            replaced = replaced || (checkGenerations && generation != item.generation)
        }
        if replaced {
            return .closed
        }
        for item in interests {
            let watcher = IOWatcher(hub: hub, fd: item.fd, events: item.events) { [unowned wait] _ in
                wait.finish(.ready)
            }
            watcher.start()
            wait.watchers.append(watcher)
        }
        if let timeout {
            wait.expire(after: timeout)
        } else if interests.isEmpty {
            // select(0, NULL, NULL, NULL, NULL) and friends: only an error thrown in ends it; keep the loop
            // alive meanwhile, as the caller would stay blocked.
            wait.expire(after: .seconds(Int64(Int32.max)))
        }
        try hub.block(greenlet)
        return wait.outcome
    }

    /// Ends the wait of every greenlet waiting on `fd`, on any hub, with ``Outcome/closed``: those of
    /// the calling thread's hub at once (their watchers leave the loop before the descriptor closes), the
    /// others through their hub's threadsafe queue. Never switches; any thread.
    static func closing(_ fd: CInt) {
        let waits = registry.remove(fd)
        for wait in waits {
            if wait.hub.isOnHubThread {
                wait.finish(.closed)
            } else {
                wait.hub.runThreadsafe { wait.finish(.closed) }
            }
        }
    }

    private func expire(after timeout: Duration) {
        let timer = TimerWatcher(hub: hub, label: "descriptor wait timeout") { [unowned self] in
            self.finish(.timedOut)
        }
        timer.start(after: max(timeout, .zero))
        self.timer = timer
    }

    /// Hub thread: stops watching now and wakes the greenlet (directly from inside the hub, through the
    /// callback queue from another greenlet, such as one closing the descriptor).
    private func finish(_ outcome: Outcome) {
        guard !finished else { return }
        finished = true
        self.outcome = outcome
        stopWatching()
        if hub.isInHub {
            hub.resume(greenlet, sequence: sequence)
        } else {
            hub.enqueue(.resume(greenlet, sequence))
        }
    }

    private func stopWatching() {
        for watcher in watchers {
            watcher.stop()
        }
        watchers.removeAll()
        timer?.stop()
        timer = nil
    }

    private static let registry = Registry()

    /// The waits in progress by descriptor, process-wide: a close on any thread must find them wherever
    /// their hub runs.
    private final class Registry: Sendable {
        private let waits = Mutex<[CInt: [DescriptorWait]]>([:])

        func register(_ wait: DescriptorWait, _ interests: UnsafeBufferPointer<gevent_shim_wait_item>) {
            waits.withLock { table in
                for item in interests {
                    table[item.fd, default: []].append(wait)
                }
            }
        }

        /// Forgets `wait` and uncounts it in the shim's table.
        func unregister(_ wait: DescriptorWait, _ interests: UnsafeBufferPointer<gevent_shim_wait_item>) {
            waits.withLock { table in
                for item in interests {
                    table[item.fd]?.removeAll { $0 === wait }
                    if table[item.fd]?.isEmpty == true {
                        table[item.fd] = nil
                    }
                }
            }
            for item in interests {
                gevent_shim_fd_wait_end(item.fd)
            }
        }

        func remove(_ fd: CInt) -> [DescriptorWait] {
            waits.withLock { table in table.removeValue(forKey: fd) ?? [] }
        }
    }
}

extension DescriptorWait: @unchecked Sendable {
    // Every stored property is used on the hub's thread only. Other threads only hold a reference to hand
    // the wait back to that thread through hub.runThreadsafe (a close on another thread); `hub`, `greenlet`
    // and `sequence` are immutable.
}
