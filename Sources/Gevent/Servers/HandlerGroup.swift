/// The greenlets running a server's handlers, optionally bounded: the seam between the servers and the
/// way handlers are spawned.
///
/// Today it counts and tracks plain greenlets itself (``SpawnPolicy``). When issue 3's `Pool` lands, a
/// `SpawnPolicy.pool(Pool)` case maps onto the same four operations: `isFull` is the pool's `freeCount ==
/// 0`, `spawn` is `pool.spawn`, `slotFreed` is a raw link on the pool's semaphore, `join`/`kill` are the
/// pool's. Hub thread only.
final class HandlerGroup {
    let hub: Hub
    let limit: Int?
    private var running: [ObjectIdentifier: AnyGreenlet] = [:]
    /// Called when a handler finishes (the server resumes accepting if it paused because it was full).
    var slotFreed: (() -> Void)?
    private let spawnSite: StaticString

    init(hub: Hub, policy: SpawnPolicy, spawnSite: StaticString) throws {
        self.hub = hub
        self.spawnSite = spawnSite
        switch policy {
        case .unlimited:
            limit = nil
        case .limit(let size):
            guard size >= 1 else {
                throw ServerError(message: "SpawnPolicy.limit(\(size)): the limit must be at least 1")
            }
            limit = size
        }
    }

    var count: Int { running.count }

    var isFull: Bool {
        guard let limit else { return false }
        return running.count >= limit
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
        greenlet.start()
    }

    private func finished(_ id: ObjectIdentifier) {
        running[id] = nil
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
