public import Gevent
public import GeventTLS

/// An HTTP/1.1 server on greenlets: one greenlet per connection running synchronous handler code, as
/// gevent's `pywsgi.WSGIServer`.
///
/// ```swift
/// let server = try HTTPServer(listener: "127.0.0.1:8080") { request, response in
///     let body = try request.body.collect(upTo: 1 << 20)
///     try response.respond(HTTPResponse(status: .ok), body: body)
/// }
/// try server.serveForever()
/// ```
///
/// Built on ``StreamServer`` (same ``start()``, ``serveForever(stopTimeout:)``, ``stop(timeout:)``,
/// ``address`` and ``SpawnPolicy``). Each connection reads request heads with the strict parser
/// (``HTTPRequestHeadParser``), calls the handler once per request in order (pipelined requests are
/// answered in order) and keeps the connection alive as HTTP/1.0 and 1.1 say. A malformed request is
/// answered with its status (400, 413, 414, 431, 501, 505) and the connection closed after its write side
/// was shut and what the client still sends was drained for a moment. An error a handler throws becomes a
/// 500 (or a closed connection if the head was sent) and is reported through the hub's
/// ``Hub/errorHandler``; the server keeps serving. Limits and timeouts are in ``HTTPServerConfiguration``.
///
/// Hub-bound: create and use it on one thread. ``serveForever(stopTimeout:)`` and ``stop(timeout:)`` may
/// switch greenlets; the rest never does.
public final class HTTPServer {
    /// The handler: called in the connection's greenlet for every request, with the request (head and
    /// streamed body) and the writer of its response.
    public typealias Handler = (_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws -> Void

    private let core: HTTPServerCore
    private let server: StreamServer

    /// A server that will listen on `listener` once started.
    ///
    /// Listener forms as ``StreamServer/init(listener:backlog:spawn:handler:)``: `"127.0.0.1:8080"`,
    /// `"[::1]:8080"`, `":8080"`, a Unix path; port 0 picks a free port, which ``address`` reports after
    /// ``start()``. Never switches, except to resolve a host name.
    ///
    /// - Parameters:
    ///   - listener: where to listen.
    ///   - spawn: how connections get greenlets: ``SpawnPolicy/unlimited`` (default), ``SpawnPolicy/limit(_:)``,
    ///     ``SpawnPolicy/pool(_:)``.
    ///   - configuration: limits, timeouts, access log.
    ///   - handler: called for every request.
    ///   - tls: a server ``TLSContext`` makes it an HTTPS server: each connection's handshake runs in its own
    ///     greenlet within ``HTTPServerConfiguration/headerTimeout``, and a failed one (plain HTTP to the
    ///     TLS port, garbage, a client that hangs up) ends only that connection. `nil` serves plain HTTP.
    /// - Throws: ``ServerError`` for a listener text that cannot be parsed or a limit below 1;
    ///   ``ResolverError`` for a host name that does not resolve; ``TLSError`` for a client context.
    public init(
        listener: String,
        spawn: SpawnPolicy = .unlimited,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        tls: TLSContext? = nil,
        handler: @escaping Handler
    ) throws {
        let core = HTTPServerCore(hub: Hub.current, configuration: configuration, handler: handler)
        self.core = core
        isTLS = tls != nil
        server = try StreamServer(
            listener: listener,
            backlog: configuration.backlog,
            spawn: spawn,
            handler: Self.connectionHandler(core, tls: tls)
        )
    }

    /// A server accepting on a socket that is already bound (and listening, or put into listening state).
    /// The server closes it when stopped. Never switches.
    ///
    /// - Throws: as ``StreamServer/init(socket:spawn:handler:)``; ``TLSError`` for a client context.
    public init(
        socket: Socket,
        spawn: SpawnPolicy = .unlimited,
        configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
        tls: TLSContext? = nil,
        handler: @escaping Handler
    ) throws {
        let core = HTTPServerCore(hub: socket.hub, configuration: configuration, handler: handler)
        self.core = core
        isTLS = tls != nil
        server = try StreamServer(socket: socket, spawn: spawn, handler: Self.connectionHandler(core, tls: tls))
    }

    private static func connectionHandler(_ core: HTTPServerCore, tls: TLSContext?) throws -> StreamServer.Handler {
        guard let tls else {
            return { client, peer in core.serve(.plain(client), peer: peer) }
        }
        return try tls.streamHandler(handshakeTimeout: core.configuration.headerTimeout) { session, peer in
            core.serve(.tls(session), peer: peer)
        }
    }

    /// `true` for an HTTPS server (made with a TLS context). Never switches.
    public let isTLS: Bool

    /// The configuration in use. Never switches.
    public var configuration: HTTPServerConfiguration { core.configuration }

    /// The listening address; after ``start()`` the bound one, with the real port. Never switches; hub
    /// thread only.
    public var address: SocketAddress { server.address }

    /// `true` between ``start()`` and ``stop(timeout:)``. Never switches.
    public var isStarted: Bool { server.isStarted }

    /// The number of open connections. Never switches; hub thread only.
    public var connectionCount: Int { core.connections.count }

    /// Binds, listens and starts accepting. Harmless if started already. Never switches; hub thread only.
    ///
    /// - Throws: as ``StreamServer/start()``.
    public func start() throws {
        try server.start()
    }

    /// Starts if needed and serves until ``stop(timeout:)`` is called from another greenlet.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: as ``StreamServer/serveForever(stopTimeout:)``.
    @available(*, noasync, message: "serveForever blocks the thread's greenlets; it is for greenlet code")
    public func serveForever(stopTimeout: Duration? = nil) throws {
        do {
            try server.serveForever(stopTimeout: stopTimeout)
        } catch {
            core.beginStopping()
            throw error
        }
    }

    /// Stops gracefully: stops accepting, closes connections waiting between requests, lets requests in
    /// flight finish (their responses say `Connection: close`) for up to `timeout`, then kills what is left.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameter timeout: how long in-flight requests may take; `nil` uses the server's stop timeout (1 s).
    /// - Throws: what is thrown into the calling greenlet while it waits.
    @available(*, noasync, message: "stop blocks the thread's greenlets; it is for greenlet code")
    public func stop(timeout: Duration? = nil) throws {
        core.beginStopping()
        try server.stop(timeout: timeout)
    }
}

/// What the server's connections share: configuration, handler, the date cache, the open connections and
/// whether the server is stopping. Hub thread only.
final class HTTPServerCore {
    let hub: Hub
    let configuration: HTTPServerConfiguration
    let handler: HTTPServer.Handler
    let date = HTTPDate()
    private(set) var connections: [ObjectIdentifier: HTTPConnection] = [:]
    private(set) var isStopping = false

    init(hub: Hub, configuration: HTTPServerConfiguration, handler: @escaping HTTPServer.Handler) {
        self.hub = hub
        self.configuration = configuration
        self.handler = handler
    }

    func serve(_ client: HTTPTransport, peer: SocketAddress) {
        let connection = HTTPConnection(transport: client, peer: peer, core: self)
        let key = ObjectIdentifier(connection)
        connections[key] = connection
        defer { connections[key] = nil }
        connection.serve()
    }

    /// Marks the server stopping and ends the connections that wait for a request: shutting both
    /// directions wakes their read with the end of the stream.
    func beginStopping() {
        isStopping = true
        for connection in connections.values where connection.isIdle {
            try? connection.socket.shutdown(.both)
        }
    }
}
