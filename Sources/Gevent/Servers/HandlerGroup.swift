/// The greenlets running a server's handlers, optionally bounded: the seam between the servers and the
/// way handlers are spawned (``SpawnPolicy``): plain greenlets counted here, or members of a user's
/// ``Pool``, whose freed slots (by any member) resume accepting. Hub thread only.
final class HandlerGroup {
    let hub: Hub
    private let bound: Bound
    private var running: [ObjectIdentifier: AnyGreenlet] = [:]
    /// Called when a handler finishes (the server resumes accepting if it paused because it was full).
    var slotFreed: (() -> Void)?
    private let spawnSite: StaticString

    init(hub: Hub, policy: SpawnPolicy, spawnSite: StaticString) throws {
        self.hub = hub
        self.spawnSite = spawnSite
        switch policy {
        case .unlimited:
            bound = .none
        case .limit(let size):
            guard size >= 1 else {
                throw ServerError(message: "SpawnPolicy.limit(\(size)): the limit must be at least 1")
            }
            bound = .count(size)
        case .pool(let pool):
            guard pool.hub === hub else {
                throw ServerError(
                    message: "SpawnPolicy.pool: the pool belongs to another thread's hub; create it on the "
                        + "server's thread"
                )
            }
            bound = .pool(pool)
            pool.slotFreedObservers[ObjectIdentifier(self)] = { [unowned self] in self.slotFreed?() }
        }
    }

    deinit {
        if case .pool(let pool) = bound {
            pool.slotFreedObservers[ObjectIdentifier(self)] = nil
        }
    }

    var count: Int { running.count }

    var isFull: Bool {
        switch bound {
        case .none: return false
        case .count(let limit): return running.count >= limit
        case .pool(let pool): return pool.freeCount == 0
        }
    }

    /// Starts `body` in a new greenlet (it runs on the hub's next callback round). Never switches.
    func spawn(_ body: @escaping () throws -> Void) {
        // Weak: a handler may outlive a server that was dropped without being stopped.
        let greenlet = Greenlet(file: spawnSite, line: 0) { [weak self, hub] in
            let me = ObjectIdentifier(hub.currentGreenlet)
            defer { self?.finished(me) }
            try body()
        }
        running[ObjectIdentifier(greenlet)] = greenlet
        if case .pool(let pool) = bound {
            // The server checks isFull inside the same hub callback before accepting, so a slot is free.
            // Should the add fail all the same, the connection is still served, outside the pool, rather
            // than dropped.
            try? pool.add(greenlet, block: false)
        }
        greenlet.start()
    }

    private func finished(_ id: ObjectIdentifier) {
        running[id] = nil
        // With a pool, its slot is freed after this (by the pool's link), and the pool tells slotFreed.
        if case .pool = bound { return }
        slotFreed?()
    }

    /// Waits up to `timeout` for every handler to finish; `true` if they did. May switch greenlets.
    func join(timeout: Duration?) throws -> Bool {
        let waiting = Array(running.values)
        guard !waiting.isEmpty else { return true }
        let finished = try joinAll(waiting, timeout: timeout)
        return finished.count == waiting.count
    }

    /// Kills the handlers still running and waits up to `timeout` for them. May switch greenlets.
    func kill(timeout: Duration) throws {
        let survivors = Array(running.values)
        guard !survivors.isEmpty else { return }
        try killAll(survivors, block: true, timeout: timeout)
        // Handlers killed before they first ran never reach their `defer`.
        for greenlet in survivors where greenlet.isDead {
            running[ObjectIdentifier(greenlet)] = nil
        }
    }
}

/// What bounds a ``HandlerGroup``: nothing, a count of its own handlers, or a user's pool.
private enum Bound {
    case none
    case count(Int)
    case pool(Pool)
}
