import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// What ``StreamServer`` and ``DatagramServer`` share: the listening socket, the readiness watcher that
/// accepts (or receives) inside the hub, pausing while the handlers are at their limit, backing off after
/// accept errors, and the start / serve / stop life cycle (gevent's `BaseServer`).
///
/// Accepting runs in the hub, not in a greenlet of its own: on readiness the watcher's callback calls
/// ``readOne`` up to ``maxAccept`` times, and each call spawns a handler greenlet. Hub thread only.
final class ServerEngine {
    let hub: Hub
    /// "StreamServer" or "DatagramServer", for reports.
    let kind: String
    let handlers: HandlerGroup
    private(set) var listener: Socket?
    /// The address given, for reports and ``address`` before the socket exists.
    let configuredAddress: SocketAddress?

    /// Accepts one connection (or receives one datagram) and spawns its handler; `false` when nothing was
    /// waiting. Runs inside the hub.
    var readOne: (() throws(SocketError) -> Bool)?

    var maxAccept = 100
    var stopTimeout: Duration = .seconds(1)
    var minimumDelay: Duration = .milliseconds(10)
    var maximumDelay: Duration = .seconds(1)

    private(set) var isStarted = false
    private(set) var isClosed = false
    private var accepting = false
    private var watcher: IOWatcher?
    private var backoff: TimerWatcher?
    private var delay: Duration?
    private var errorReported = false
    private var serveWaiters: [(greenlet: AnyGreenlet, sequence: UInt64)] = []

    init(hub: Hub, kind: String, policy: SpawnPolicy, listener: Socket?, configuredAddress: SocketAddress?) throws {
        self.hub = hub
        self.kind = kind
        self.listener = listener
        self.configuredAddress = configuredAddress
        handlers = try HandlerGroup(hub: hub, policy: policy, spawnSite: "(server handler)")
        handlers.slotFreed = { [weak self] in
            self?.resumeIfPossible()
        }
    }

    deinit {
        watcher?.stopIfLoopAlive()
        if hub.isOnHubThread {
            backoff?.stop()
        }
    }

    /// The bound address (with the real port after binding port 0), else the configured one.
    var address: SocketAddress? {
        if let listener, !listener.isClosed, let bound = try? listener.localAddress {
            return bound
        }
        return configuredAddress
    }

    var reportName: String {
        "\(kind) on \(address.map { "\($0)" } ?? "(no address)")"
    }

    // MARK: - Life cycle

    /// Creates the listening socket if needed (`makeListener`) and starts accepting. Never switches.
    func start(makeListener: () throws -> Socket) throws {
        try hub.checkThread("server start")
        guard !isClosed else {
            throw ServerError(
                message: "\(reportName) was stopped; a stopped server cannot start again, create a new one"
            )
        }
        guard !isStarted else { return }
        if listener == nil {
            listener = try makeListener()
        }
        isStarted = true
        startAccepting()
    }

    func startAccepting() {
        guard let listener, !isClosed else { return }
        accepting = true
        if watcher == nil {
            watcher = IOWatcher(hub: hub, fd: listener.fd, events: gevent_EV_READ) { [unowned self] _ in
                self.readReady()
            }
        }
        resumeIfPossible()
    }

    func stopAccepting() {
        accepting = false
        watcher?.stop()
        backoff?.stop()
    }

    private func resumeIfPossible() {
        guard accepting, !isClosed, !handlers.isFull, backoff?.isActive != true else { return }
        watcher?.start()
    }

    /// Starts if needed, then waits until ``stop(timeout:)`` (or ``close()``) is called; if the waiting
    /// greenlet is interrupted, stops the server before the error propagates. May switch greenlets.
    func serveForever(stopTimeout: Duration?, makeListener: () throws -> Socket) throws {
        try start(makeListener: makeListener)
        let greenlet = try hub.blockableGreenlet("serveForever")
        let sequence = greenlet.beginBlock(waitingFor: "serveForever")
        serveWaiters.append((greenlet, sequence))
        defer { serveWaiters.removeAll { $0.greenlet === greenlet } }
        do {
            try hub.block(greenlet)
        } catch {
            if !isClosed {
                try? stop(timeout: stopTimeout)
            }
            throw error
        }
    }

    /// Stops accepting and closes the listener, then waits up to `timeout` (default ``stopTimeout``) for
    /// running handlers and kills the rest. May switch greenlets.
    func stop(timeout: Duration?) throws {
        close()
        if try handlers.join(timeout: timeout ?? stopTimeout) {
            return
        }
        try handlers.kill(timeout: .seconds(1))
    }

    /// Stops accepting, closes the listener and wakes ``serveForever(stopTimeout:makeListener:)``. Never
    /// switches.
    func close() {
        guard !isClosed else { return }
        isClosed = true
        isStarted = false
        stopAccepting()
        watcher = nil
        listener?.close()
        for waiter in serveWaiters {
            hub.enqueue(.resume(waiter.greenlet, waiter.sequence))
        }
    }

    // MARK: - Accepting

    private func readReady() {
        guard let readOne else { return }
        for _ in 0..<max(maxAccept, 1) {
            if handlers.isFull {
                // Level-triggered: a watcher left active would fire on every iteration while connections wait.
                watcher?.stop()
                return
            }
            do {
                guard try readOne() else { return }
                if delay != nil {
                    delay = nil
                    errorReported = false
                }
            } catch {
                if !readFailed(error) { return }
            }
        }
    }

    /// Handles an accept (or receive) error; `true` to go on reading in this round.
    private func readFailed(_ error: SocketError) -> Bool {
        switch error.code.rawValue {
        case ECONNABORTED, EPROTO, EPERM, ECONNRESET, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EMSGSIZE:
            // One client went away before we got to it, or (datagrams) an ICMP error for an earlier send:
            // nothing wrong with the listener.
            return true
        case EBADF, EINVAL, ENOTSOCK:
            hub.reportError(error, in: nil, context: "\(reportName) (fatal listener error; the server was closed)")
            close()
            return false
        default:
            // Out of descriptors, buffers or memory: accepting again at once would fail again and spin the
            // loop. Pause, retry after a delay that doubles up to maximumDelay; report once per episode.
            watcher?.stop()
            let next = delay.map { min($0 * 2, maximumDelay) } ?? minimumDelay
            delay = next
            if !errorReported {
                errorReported = true
                hub.reportError(
                    error,
                    in: nil,
                    context: "\(reportName) (accepting paused; retrying after \(minimumDelay), backing off to "
                        + "\(maximumDelay))"
                )
            }
            let timer =
                backoff
                ?? TimerWatcher(hub: hub, label: "server accept backoff") { [unowned self] in
                    self.resumeIfPossible()
                }
            backoff = timer
            timer.start(after: next)
            return false
        }
    }
}
