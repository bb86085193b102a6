#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A TCP (or Unix stream) server that runs a handler in a greenlet for every connection.
///
/// ```swift
/// let server = try StreamServer(listener: "127.0.0.1:8080") { client, peer in
///     var buffer = [UInt8](repeating: 0, count: 16384)
///     while true {
///         let count = try buffer.withUnsafeMutableBytes { try client.recv(into: $0) }
///         if count == 0 { return }
///         try client.sendAll(buffer[..<count])
///     }
/// }
/// try server.serveForever()
/// ```
///
/// Accepting happens inside the hub: when the listening socket is readable the server accepts up to
/// ``maxAccept`` connections and spawns a handler greenlet for each; the connection is closed when the
/// handler returns or throws. An error a handler throws is reported like any greenlet's (to
/// ``Hub/errorHandler`` or stderr) and the server keeps serving. With ``SpawnPolicy/limit(_:)`` the server
/// stops accepting while that many handlers run, so further clients wait in the kernel's backlog. Accept
/// errors such as ``Errno/tooManyOpenFiles`` pause accepting and retry after 10 ms, doubling up to 1 s,
/// instead of spinning, and are reported once per episode. gevent's `gevent.server.StreamServer`.
///
/// Hub-bound: create and use it on one thread. ``serveForever(stopTimeout:)`` and ``stop(timeout:)`` may
/// switch greenlets; the rest never does.
public final class StreamServer {
    /// The handler: the connected socket and the client's address. Runs in its own greenlet.
    public typealias Handler = (_ client: Socket, _ peer: SocketAddress) throws -> Void

    private let engine: ServerEngine
    private let handler: Handler
    private let backlog: Int
    private let listenerAddress: ListenerAddress?

    /// A server that will listen on `listener` once started.
    ///
    /// Listener forms: `"127.0.0.1:8080"`, `"[::1]:8080"`, `"localhost:8080"` (resolved now, with the hub's
    /// resolver), `":8080"` / `"*:8080"` (every interface; IPv6 and IPv4 on one socket when the host has
    /// IPv6), `"/run/app.sock"` (Unix). Port 0 picks a free port; ``address`` has it after ``start()``.
    /// Never switches, except to resolve a host name.
    ///
    /// - Parameters:
    ///   - listener: where to listen.
    ///   - backlog: the kernel's queue of connections not yet accepted.
    ///   - spawn: ``SpawnPolicy/unlimited`` (default), ``SpawnPolicy/limit(_:)`` or ``SpawnPolicy/pool(_:)``.
    ///   - handler: called in a new greenlet for every connection.
    /// - Throws: ``ServerError`` for a listener text that cannot be parsed or a limit below 1;
    ///   ``ResolverError`` for a host name that does not resolve.
    public init(
        listener: String,
        backlog: Int = 128,
        spawn: SpawnPolicy = .unlimited,
        handler: @escaping Handler
    ) throws {
        let parsed = try ListenerAddress.parse(listener, type: .stream)
        listenerAddress = parsed
        self.backlog = backlog
        self.handler = handler
        engine = try ServerEngine(
            hub: Hub.current,
            kind: "StreamServer",
            policy: spawn,
            listener: nil,
            configuredAddress: parsed.address
        )
        engine.readOne = makeReadOne()
    }

    /// A server accepting on a socket that is already bound (and possibly listening; it is put into
    /// listening state with a backlog of 128 otherwise). The server closes it when stopped.
    ///
    /// There is no backlog parameter: the socket's own applies (gevent raises `TypeError` for one). Never
    /// switches.
    ///
    /// - Throws: ``ServerError`` for a limit below 1 or a socket that is not a stream socket; ``SocketError``
    ///   if it cannot listen (not bound, closed).
    public init(socket: Socket, spawn: SpawnPolicy = .unlimited, handler: @escaping Handler) throws {
        guard socket.type == .stream else {
            throw ServerError(message: "StreamServer needs a stream socket, got \(socket); use DatagramServer for UDP")
        }
        if try socket.option(SocketOption(level: SOL_SOCKET, name: SO_ACCEPTCONN)) == 0 {
            try socket.listen(backlog: 128)
        }
        listenerAddress = nil
        backlog = 128
        self.handler = handler
        engine = try ServerEngine(
            hub: socket.hub,
            kind: "StreamServer",
            policy: spawn,
            listener: socket,
            configuredAddress: try? socket.localAddress
        )
        engine.readOne = makeReadOne()
    }

    private func makeReadOne() -> () throws(SocketError) -> Bool {
        { [unowned self] () throws(SocketError) -> Bool in
            guard let listener = self.engine.listener, let (client, peer) = try listener.acceptNow() else {
                return false
            }
            let handler = self.handler
            let hub = listener.hub
            hub.counters.serverConnections &+= 1
            self.engine.handlers.spawn {
                hub.counters.serverRequests &+= 1
                hub.counters.serverHandlersRunning += 1
                defer {
                    hub.counters.serverHandlersRunning -= 1
                    client.close()
                }
                try handler(client, peer)
            }
            return true
        }
    }

    // MARK: - State

    /// The listening address; after ``start()`` the bound one, so binding port 0 reports the real port.
    /// Never switches; hub thread only.
    public var address: SocketAddress {
        engine.address ?? listenerAddress!.address
    }

    /// The listening socket, once created (after ``start()``, or the one given). Never switches.
    public var socket: Socket? { engine.listener }

    /// `true` between ``start()`` and ``stop(timeout:)``. gevent's `started`. Never switches.
    public var isStarted: Bool { engine.isStarted }

    /// `true` once stopped (or closed after a fatal listener error). Never switches.
    public var isClosed: Bool { engine.isClosed }

    /// How many connections to accept per readiness of the listening socket (gevent's `max_accept`,
    /// default 100). Never switches; hub thread only.
    public var maxAccept: Int {
        get { engine.maxAccept }
        set { engine.maxAccept = newValue }
    }

    /// How long ``stop(timeout:)`` waits for handlers by default (gevent's `stop_timeout`, 1 s). Never
    /// switches; hub thread only.
    public var stopTimeout: Duration {
        get { engine.stopTimeout }
        set { engine.stopTimeout = newValue }
    }

    /// The number of handlers running now. Never switches; hub thread only.
    public var activeHandlers: Int { engine.handlers.count }

    // MARK: - Life cycle

    /// Creates, binds and listens on the socket (unless one was given) and starts accepting. Harmless if
    /// started already. Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` from bind or listen (``Errno/addressInUse``, ...); ``ServerError`` for a
    ///   server that was stopped.
    public func start() throws {
        try engine.start(makeListener: makeListener)
    }

    private func makeListener() throws -> Socket {
        let socket = try listenerAddress!.makeSocket(type: .stream)
        do {
            try socket.listen(backlog: backlog)
        } catch {
            socket.close()
            throw error
        }
        return socket
    }

    /// Starts if needed and serves until ``stop(timeout:)`` is called from another greenlet.
    ///
    /// If the greenlet running it is killed or interrupted, the server is stopped (waiting up to
    /// `stopTimeout` for handlers) before the error propagates. gevent's `serve_forever`. May switch
    /// greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameter stopTimeout: the handler wait when stopping because of an interruption; `nil` uses
    ///   ``stopTimeout``.
    /// - Throws: as ``start()``; what is thrown into the greenlet while it serves.
    @available(*, noasync, message: "serveForever blocks the thread's greenlets; it is for greenlet code")
    public func serveForever(stopTimeout: Duration? = nil) throws {
        try engine.serveForever(stopTimeout: stopTimeout, makeListener: makeListener)
    }

    /// Pauses accepting; connections queue in the kernel's backlog. Never switches; hub thread only.
    public func stopAccepting() {
        engine.stopAccepting()
    }

    /// Resumes accepting after ``stopAccepting()``. Never switches; hub thread only.
    public func startAccepting() {
        engine.startAccepting()
    }

    /// Stops the server: stops accepting and closes the listening socket (new clients are refused), waits up
    /// to `timeout` for running handlers to finish, then kills the rest (waiting up to 1 s for them).
    ///
    /// Wakes ``serveForever(stopTimeout:)``. Harmless if already stopped. gevent's `stop`. May switch
    /// greenlets (while waiting for handlers); hub thread only, not from inside the hub.
    ///
    /// - Parameter timeout: how long to let handlers finish; `nil` uses ``stopTimeout``.
    /// - Throws: what is thrown into the calling greenlet while it waits.
    @available(*, noasync, message: "stop blocks the thread's greenlets; it is for greenlet code")
    public func stop(timeout: Duration? = nil) throws {
        try engine.stop(timeout: timeout)
    }

    /// Stops accepting and closes the listening socket without waiting for handlers. Never switches.
    public func close() {
        engine.close()
    }
}
