/// Suspends the calling greenlet for `duration`, letting the hub run others.
///
/// `sleep(.zero)` (or a negative duration) yields without waiting: the greenlet goes to the back of the
/// hub's callback queue and runs again in the same loop iteration, after what was already queued, before
/// any I/O is polled. A loop of `sleep(.zero)` still lets timers and I/O run every
/// ``GeventConfig/switchInterval``. A positive duration starts a libev timer. gevent's `sleep`.
///
/// May switch greenlets. Call it from a greenlet (the main greenlet included) on a thread with a hub
/// (created if needed), not from inside the hub.
///
/// - Throws: whatever is thrown into the greenlet while it sleeps (a ``Timeout``, a kill),
///   ``LoopExit`` is impossible here (the timer keeps the loop alive), ``BlockingSwitchOutError`` on the hub.
@available(*, noasync, message: "sleep blocks the thread's greenlets; in async code use Task.sleep")
public func sleep(_ duration: Duration) throws {
    let hub = Hub.current
    let greenlet = try hub.blockableGreenlet("sleep")
    let sequence = greenlet.beginBlock(waitingFor: "sleep")
    // attoseconds is inlined; `duration <= .zero` would call into the runtime twice per sleep(.zero).
    if duration.attoseconds <= 0 {
        hub.enqueue(.resume(greenlet, sequence))
        try hub.block(greenlet)
        return
    }
    try hub.block(greenlet, timeout: duration)
}

/// Suspends the calling greenlet until the loop has nothing else to do (no pending events or callbacks).
///
/// gevent's `idle()`. May switch greenlets; from a greenlet on a hub thread, not from inside the hub.
///
/// - Throws: what is thrown into the greenlet while it waits; ``BlockingSwitchOutError`` on the hub.
@available(*, noasync, message: "idle blocks the thread's greenlets; it is for greenlet code, not async code")
public func idle() throws {
    let hub = Hub.current
    let greenlet = try hub.blockableGreenlet("idle")
    let sequence = greenlet.beginBlock(waitingFor: "idle")
    let watcher = IdleWatcher(hub: hub) { [unowned hub, unowned greenlet] in
        hub.resume(greenlet, sequence: sequence)
    }
    watcher.start()
    defer { watcher.stop() }
    try hub.block(greenlet)
}
