import CLibev

/// A libev timer owned by Swift code on the hub's thread.
///
/// The `ev_timer` lives in its own allocation (libev keeps pointers to it while it is active) and its
/// `data` field points back at this object, unretained: the owner keeps the watcher alive, and `deinit`
/// stops it first. An unreferenced timer (`ref: false`) does not keep the loop alive, like gevent's
/// `ref=False` watchers; libev's rule for those is "unref after start, ref before stop", and a one-shot
/// timer that fires has already been stopped by libev, so the reference is restored there too.
final class TimerWatcher {
    let hub: Hub
    let pointer: UnsafeMutablePointer<ev_timer>
    let keepsLoopAlive: Bool
    var callback: () -> Void
    private var unreferenced = false
    /// A short description for LoopExit reports ("Timeout(0.5s)").
    let label: StaticString

    init(hub: Hub, ref: Bool = true, label: StaticString, callback: @escaping () -> Void) {
        self.hub = hub
        self.keepsLoopAlive = ref
        self.callback = callback
        self.label = label
        pointer = .allocate(capacity: 1)
        gevent_ev_timer_init(pointer, timerFired, 0, 0)
        pointer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        stop()
        pointer.deallocate()
    }

    var isActive: Bool { gevent_ev_is_active(pointer) != 0 }

    /// Starts (or restarts) the timer `delay` from now. `ev_now_update` first, as gevent does, so that
    /// time spent running callbacks since the loop last polled does not shorten the delay.
    func start(after delay: Duration) {
        stop()
        gevent_ev_now_update(hub.loop)
        gevent_ev_timer_set(pointer, max(delay.seconds, 0), 0)
        gevent_ev_timer_start(hub.loop, pointer)
        if !keepsLoopAlive {
            hub.unreferenceLoop(for: label)
            unreferenced = true
        }
    }

    func stop() {
        // After Hub.destroy the loop is gone; the watcher's memory is all that is left to free.
        guard isActive, !hub.isDestroyed else { return }
        restoreReference()
        gevent_ev_timer_stop(hub.loop, pointer)
    }

    fileprivate func fire() {
        restoreReference()
        // The callback may drop the last reference to this watcher (a greenlet's start timer does): call a
        // retained copy, and touch nothing of `self` afterwards.
        let callback = self.callback
        callback()
    }

    private func restoreReference() {
        if unreferenced {
            hub.referenceLoop(for: label)
            unreferenced = false
        }
    }
}

extension Hub {
    /// An active watcher stops keeping the loop alive (gevent's `ref=False`): libev's `ev_unref` after the
    /// start, counted under `label` for LoopExit reports. Undo with ``referenceLoop(for:)`` before the stop.
    func unreferenceLoop(for label: StaticString) {
        gevent_ev_unref(loop)
        unreferencedWatchers[label.description, default: 0] += 1
    }

    /// Undoes ``unreferenceLoop(for:)``: libev's `ev_ref`, before the watcher stops (or after libev stopped
    /// a one-shot watcher that fired).
    func referenceLoop(for label: StaticString) {
        gevent_ev_ref(loop)
        unreferencedWatchers[label.description, default: 1] -= 1
        if unreferencedWatchers[label.description] == 0 {
            unreferencedWatchers[label.description] = nil
        }
    }
}

private func timerFired(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_timer>?, _ events: Int32) {
    // Keep the watcher alive for the duration of its callback, which may release its owner.
    let unmanaged = Unmanaged<TimerWatcher>.fromOpaque(watcher!.pointee.data).retain()
    unmanaged.takeUnretainedValue().fire()
    unmanaged.release()
}

/// A libev idle watcher owned by Swift code: runs its callback when the loop has nothing else to do.
final class IdleWatcher {
    let hub: Hub
    let pointer: UnsafeMutablePointer<ev_idle>
    var callback: () -> Void

    init(hub: Hub, callback: @escaping () -> Void) {
        self.hub = hub
        self.callback = callback
        pointer = .allocate(capacity: 1)
        gevent_ev_idle_init(pointer, idleFired)
        pointer.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        stop()
        pointer.deallocate()
    }

    func start() {
        gevent_ev_idle_start(hub.loop, pointer)
    }

    func stop() {
        guard !hub.isDestroyed else { return }
        gevent_ev_idle_stop(hub.loop, pointer)
    }
}

private func idleFired(_ loop: OpaquePointer?, _ watcher: UnsafeMutablePointer<ev_idle>?, _ events: Int32) {
    Unmanaged<IdleWatcher>.fromOpaque(watcher!.pointee.data).takeUnretainedValue().callback()
}
