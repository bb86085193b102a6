/// A UDP (or Unix datagram) server that runs a handler in a greenlet for every datagram.
///
/// ```swift
/// let server = try DatagramServer(listener: "127.0.0.1:9000") { [unowned server] datagram, sender in
///     try server.sendTo(datagram, address: sender)      // echo
/// }
/// try server.serveForever()
/// ```
///
/// When the socket is readable the server receives up to ``maxAccept`` datagrams (each up to
/// ``maxDatagramSize`` bytes; longer ones are truncated) and spawns a handler greenlet for each. Replies go
/// through ``sendTo(_:address:)``, which serialises senders so two handlers never wait on the socket at
/// once. Errors a handler throws are reported like any greenlet's and the server keeps serving; the
/// spawn policy and life cycle are ``StreamServer``'s. gevent's `gevent.server.DatagramServer`.
///
/// Hub-bound: create and use it on one thread. ``serveForever(stopTimeout:)``, ``stop(timeout:)`` and
/// ``sendTo(_:address:)`` may switch greenlets; the rest never does.
public final class DatagramServer {
    /// The handler: the datagram's bytes and its sender. Runs in its own greenlet.
    public typealias Handler = (_ datagram: [UInt8], _ sender: SocketAddress) throws -> Void

    private let engine: ServerEngine
    private var handler: Handler?
    private let listenerAddress: ListenerAddress?
    /// Reused for every datagram; each handler gets a copy of its bytes.
    private var receiveBuffer: UnsafeMutableRawBufferPointer
    private var sending = false
    private var sendWaiters: [(greenlet: AnyGreenlet, sequence: UInt64)] = []

    /// The largest datagram received whole; longer ones are truncated (default 65,536 bytes, the most UDP
    /// carries). Never switches; hub thread only.
    public var maxDatagramSize: Int {
        didSet {
            receiveBuffer.deallocate()
            receiveBuffer = .allocate(byteCount: max(maxDatagramSize, 1), alignment: 16)
        }
    }

    /// A server that will receive on `listener` once started (forms as ``StreamServer``'s). Never switches,
    /// except to resolve a host name.
    ///
    /// - Parameters:
    ///   - listener: where to receive, e.g. "127.0.0.1:9000" or ":9000".
    ///   - spawn: ``SpawnPolicy/unlimited`` (default), ``SpawnPolicy/limit(_:)`` or ``SpawnPolicy/pool(_:)``
    ///     (datagrams wait in the kernel's buffer while the limit is reached, and are dropped by the kernel
    ///     when it fills).
    ///   - handler: called in a new greenlet for every datagram; `nil` to set it later with ``setHandler(_:)``
    ///     (for handlers that reply through the server itself).
    /// - Throws: ``ServerError`` for a listener text that cannot be parsed or a limit below 1;
    ///   ``ResolverError`` for a host name that does not resolve.
    public init(listener: String, spawn: SpawnPolicy = .unlimited, handler: Handler? = nil) throws {
        let parsed = try ListenerAddress.parse(listener, type: .datagram)
        listenerAddress = parsed
        self.handler = handler
        maxDatagramSize = 65536
        receiveBuffer = .allocate(byteCount: 65536, alignment: 16)
        engine = try ServerEngine(
            hub: Hub.current,
            kind: "DatagramServer",
            policy: spawn,
            listener: nil,
            configuredAddress: parsed.address
        )
        engine.readOne = makeReadOne()
    }

    /// A server receiving on a bound datagram socket; the server closes it when stopped. Never switches.
    ///
    /// - Throws: ``ServerError`` for a limit below 1 or a socket that is not a datagram socket.
    public init(socket: Socket, spawn: SpawnPolicy = .unlimited, handler: Handler? = nil) throws {
        guard socket.type == .datagram else {
            throw ServerError(
                message: "DatagramServer needs a datagram socket, got \(socket); use StreamServer for TCP"
            )
        }
        listenerAddress = nil
        self.handler = handler
        maxDatagramSize = 65536
        receiveBuffer = .allocate(byteCount: 65536, alignment: 16)
        engine = try ServerEngine(
            hub: socket.hub,
            kind: "DatagramServer",
            policy: spawn,
            listener: socket,
            configuredAddress: try? socket.localAddress
        )
        engine.readOne = makeReadOne()
    }

    deinit {
        receiveBuffer.deallocate()
    }

    /// Sets (or replaces) the handler, for handlers that need the server (to reply). Never switches; hub
    /// thread only.
    public func setHandler(_ handler: @escaping Handler) {
        self.handler = handler
    }

    private func makeReadOne() -> () throws(SocketError) -> Bool {
        { [unowned self] () throws(SocketError) -> Bool in
            guard let listener = self.engine.listener else { return false }
            guard let (count, sender) = try listener.recvFromNow(into: self.receiveBuffer, flags: []) else {
                return false
            }
            guard let handler = self.handler else {
                return true  // no handler yet: the datagram is dropped, as a closed port would
            }
            let datagram = Array(UnsafeRawBufferPointer(rebasing: self.receiveBuffer[..<count]))
            let hub = listener.hub
            self.engine.handlers.spawn {
                hub.counters.serverRequests &+= 1
                hub.counters.serverHandlersRunning += 1
                defer { hub.counters.serverHandlersRunning -= 1 }
                try handler(datagram, sender)
            }
            return true
        }
    }

    // MARK: - Replying

    /// Sends a datagram from the server's socket to `address`.
    ///
    /// Senders are served one at a time, first come first served, so handlers replying at once never
    /// trip over each other on a full send buffer. May switch greenlets (only when the send buffer is full
    /// or another handler is sending). Hub thread only; not from inside the hub.
    ///
    /// - Throws: ``SocketError``; ``ServerError`` before ``start()``; what is thrown into the greenlet.
    @available(*, noasync, message: "sendTo blocks the thread's greenlets; it is for greenlet code")
    public func sendTo<Bytes: Sequence<UInt8>>(_ bytes: Bytes, address: SocketAddress) throws {
        guard let socket = engine.listener, !engine.isClosed else {
            throw ServerError(message: "DatagramServer.sendTo: the server is not started (or was stopped)")
        }
        let bytes = Array(bytes)
        if !sending && sendWaiters.isEmpty,
            try bytes.withUnsafeBytes({ try socket.sendToNow($0, address: address, flags: []) }) != nil
        {
            return
        }
        try acquireSend()
        defer { releaseSend() }
        _ = try bytes.withUnsafeBytes { try socket.sendTo($0, address: address) }
    }

    private func acquireSend() throws {
        guard sending || !sendWaiters.isEmpty else {
            sending = true
            return
        }
        let hub = engine.hub
        let greenlet = try hub.blockableGreenlet("DatagramServer.sendTo")
        let sequence = greenlet.beginBlock(waitingFor: "DatagramServer.sendTo")
        sendWaiters.append((greenlet, sequence))
        do {
            try hub.block(greenlet)
        } catch {
            // Interrupted: leave the queue; if the turn was handed over already, pass it on.
            if let index = sendWaiters.firstIndex(where: { $0.greenlet === greenlet }) {
                sendWaiters.remove(at: index)
            } else {
                releaseSend()
            }
            throw error
        }
    }

    private func releaseSend() {
        guard !sendWaiters.isEmpty else {
            sending = false
            return
        }
        // Hand the turn straight to the next sender: `sending` stays true.
        let next = sendWaiters.removeFirst()
        engine.hub.enqueue(.resume(next.greenlet, next.sequence))
    }

    // MARK: - State and life cycle

    /// The bound address; after ``start()`` it has the real port when port 0 was asked for. Never switches.
    public var address: SocketAddress {
        engine.address ?? listenerAddress!.address
    }

    /// The socket, once created (after ``start()``, or the one given). Never switches.
    public var socket: Socket? { engine.listener }

    /// `true` between ``start()`` and ``stop(timeout:)``. Never switches.
    public var isStarted: Bool { engine.isStarted }

    /// `true` once stopped. Never switches.
    public var isClosed: Bool { engine.isClosed }

    /// How many datagrams to receive per readiness (default 100). Never switches; hub thread only.
    public var maxAccept: Int {
        get { engine.maxAccept }
        set { engine.maxAccept = newValue }
    }

    /// How long ``stop(timeout:)`` waits for handlers by default (1 s). Never switches; hub thread only.
    public var stopTimeout: Duration {
        get { engine.stopTimeout }
        set { engine.stopTimeout = newValue }
    }

    /// Creates and binds the socket (unless one was given) and starts receiving. Never switches.
    ///
    /// - Throws: ``SocketError`` from bind; ``ServerError`` for a stopped server.
    public func start() throws {
        try engine.start(makeListener: makeListener)
    }

    private func makeListener() throws -> Socket {
        try listenerAddress!.makeSocket(type: .datagram)
    }

    /// Starts if needed and serves until ``stop(timeout:)``. May switch greenlets; hub thread only.
    ///
    /// - Throws: as ``start()``; what is thrown into the greenlet while it serves.
    @available(*, noasync, message: "serveForever blocks the thread's greenlets; it is for greenlet code")
    public func serveForever(stopTimeout: Duration? = nil) throws {
        try engine.serveForever(stopTimeout: stopTimeout, makeListener: makeListener)
    }

    /// Stops receiving and closes the socket, waits up to `timeout` for handlers, then kills the rest. May
    /// switch greenlets; hub thread only.
    ///
    /// - Throws: what is thrown into the calling greenlet while it waits.
    @available(*, noasync, message: "stop blocks the thread's greenlets; it is for greenlet code")
    public func stop(timeout: Duration? = nil) throws {
        try engine.stop(timeout: timeout)
    }

    /// Stops receiving and closes the socket without waiting for handlers. Never switches.
    public func close() {
        engine.close()
    }
}
