import CLibev

/// How a wait on an ``IOWatcher`` ended.
enum IOWaitOutcome {
    /// The descriptor became ready.
    case ready
    /// The wait's timeout passed first.
    case timedOut
    /// The descriptor was closed by another greenlet (``IOWatcher/cancelWait()``).
    case closed
}

/// A libev `ev_io` watcher owned by Swift code on the hub's thread: readiness of one descriptor in one or
/// both directions.
///
/// Two ways to use it:
/// - **Waiting** (sockets, ``waitReadable(_:timeout:)``): ``wait(_:subject:timeout:)`` blocks the current
///   greenlet until the descriptor is ready, the timeout passes, or another greenlet closes it. Only one
///   greenlet may wait on a watcher at a time; a second gets ``ConcurrentObjectUseError``. The watcher is
///   started for the wait and stopped when it ends, but never re-initialised, so libev does not touch the
///   epoll set again (no `epoll_ctl` per wait: libev only re-registers a descriptor when the event mask
///   changes).
/// - **Callback** (server accept loops, c-ares): with a `handler`, the watcher stays active between
///   ``start()`` and ``stop()`` and calls the handler, inside the hub, on every readiness.
///
/// The `ev_io` lives in its own allocation (libev keeps pointers to it while active) and its `data` field
/// points back here, unretained; the owner keeps the watcher alive and `deinit` stops it. Hub thread only.
final class IOWatcher {
    let hub: Hub
    let pointer: UnsafeMutablePointer<ev_io>
    /// Called inside the hub with libev's event bits on every readiness (callback mode).
    var handler: ((_ events: CInt) -> Void)?

    // Unowned: a waiting greenlet is alive (its own frame in `wait` holds it), and the hot path then costs
    // no reference counting. Cleared before `wait` returns or throws.
    private unowned(unsafe) var waiter: AnyGreenlet?
    /// Set by `fire` for the greenlet it wakes: that greenlet leaves the watcher running, because a
    /// request/response loop waits on it again before it switches back, and stopping and restarting it
    /// would be wasted work. If nobody waits when it fires next, `fire` stops it then (one spurious wake-up
    /// per conversation at most).
    private var wokenByFire = false
    private var waitSequence: UInt64 = 0
    private var outcome = IOWaitOutcome.ready
    private var timer: TimerWatcher?

    /// Creates a stopped watcher for `fd`.
    ///
    /// - Parameters:
    ///   - events: `gevent_EV_READ`, `gevent_EV_WRITE` or both.
    ///   - handler: makes it a callback watcher; `nil` for waiting.
    init(hub: Hub, fd: CInt, events: CInt, handler: ((_ events: CInt) -> Void)? = nil) {
        self.hub = hub
        self.handler = handler
        pointer = .allocate(capacity: 1)
        gevent_ev_io_init(pointer, ioFired, fd, events)
        pointer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        stopIfLoopAlive()
        pointer.deallocate()
    }

    /// Stops the watcher unless its hub has been destroyed (then the loop, and libev's record of the
    /// watcher, are gone already). For owners' `deinit`s, which may run after `Hub.destroy()`.
    func stopIfLoopAlive() {
        guard hub.isOnHubThread else { return }
        stop()
        timer?.stop()
    }

    var fd: CInt { pointer.pointee.fd }

    var isActive: Bool { gevent_ev_is_active(pointer) != 0 }

    /// Points a stopped watcher at another descriptor or event mask.
    func set(fd: CInt, events: CInt) {
        stop()
        gevent_ev_io_set(pointer, fd, events)
    }

    @inline(__always)
    func start() {
        if !isActive {
            gevent_ev_io_start(hub.loop, pointer)
        }
    }

    @inline(__always)
    func stop() {
        if isActive {
            gevent_ev_io_stop(hub.loop, pointer)
        }
    }

    fileprivate func fire(_ events: CInt) {
        if let handler {
            handler(events)
            return
        }
        guard let waiter else {
            // Left running after a wake-up whose greenlet went on to other things: one-shot from here, as a
            // level-triggered descriptor that stays ready would otherwise fire on every iteration.
            stop()
            return
        }
        outcome = .ready
        wokenByFire = true
        // Nothing may touch `self` after this call: the woken greenlet may close and drop the socket.
        hub.resume(waiter, sequence: waitSequence)
    }

    /// Blocks the current greenlet until the descriptor is ready, `timeout` passes, or another greenlet
    /// cancels the wait by closing the descriptor.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameters:
    ///   - operation: names the wait in LoopExit reports.
    ///   - subject: what is being done ("recv on fd 7"), for the error when another greenlet already waits.
    ///   - timeout: the longest to wait; `nil` waits as long as it takes.
    /// - Returns: why the wait ended.
    /// - Throws: ``ConcurrentObjectUseError`` if another greenlet is waiting on this watcher; what is thrown
    ///   into the greenlet while it waits (a ``Timeout``, a kill); ``InvalidThreadUseError`` from another
    ///   thread; ``BlockingSwitchOutError`` from inside the hub.
    func wait(
        _ operation: StaticString,
        subject: @autoclosure () -> String,
        timeout: Duration?
    ) throws
        -> IOWaitOutcome
    {
        try hub.checkThread(operation)
        if let waiter {
            throw ConcurrentObjectUseError(operation: subject(), currentUser: waiter.description)
        }
        let greenlet = try hub.blockableGreenlet(operation)
        waitSequence = greenlet.beginBlock(waitingFor: operation)
        waiter = greenlet
        outcome = .ready
        start()
        if let timeout {
            armTimer(timeout)
        }
        defer {
            waiter = nil
            if wokenByFire {
                wokenByFire = false
            } else {
                stop()
            }
            if timeout != nil {
                timer?.stop()
            }
        }
        try hub.block(greenlet)
        return outcome
    }

    private func armTimer(_ timeout: Duration) {
        let timer =
            self.timer
            ?? TimerWatcher(hub: hub, label: "socket timeout") { [unowned self] in
                self.timedOut()
            }
        self.timer = timer
        timer.start(after: timeout)
    }

    private func timedOut() {
        guard let waiter else { return }
        stop()
        outcome = .timedOut
        hub.resume(waiter, sequence: waitSequence)
    }

    /// Wakes the waiting greenlet, if any, with ``IOWaitOutcome/closed`` on the hub's next callback round,
    /// and stops the watcher so the descriptor can be closed. Never switches; hub thread only.
    ///
    /// - Returns: `true` if a greenlet was waiting.
    @discardableResult
    func cancelWait() -> Bool {
        stop()
        timer?.stop()
        guard let waiter else { return false }
        outcome = .closed
        hub.enqueue(.resume(waiter, waitSequence))
        return true
    }
}

private func ioFired(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_io>?, _ events: CInt) {
    // No retain for the call: an active watcher's owner keeps it alive until `fire` switches away, and `fire`
    // touches nothing after that. With a thousand connections the object is usually not in cache, and an atomic increment on
    // it is the most expensive instruction of the wake-up.
    Unmanaged<IOWatcher>.fromOpaque(watcher!.pointee.data)._withUnsafeGuaranteedRef { $0.fire(events) }
}
