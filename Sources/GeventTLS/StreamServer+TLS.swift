import Gevent

extension TLSContext {
    /// A ``StreamServer`` handler that serves each connection over TLS: it wraps the accepted socket, does the
    /// handshake within `handshakeTimeout`, and calls `handler` with the ``TLSSocket``.
    ///
    /// Everything runs in the connection's own greenlet, so a slow or hostile handshake blocks nobody else. A
    /// handshake that fails (plain HTTP, garbage, a client hanging up, a certificate that does not verify, the
    /// timeout) ends only its connection: the error is reported like any handler's (``Hub/errorHandler`` or
    /// stderr) and the server goes on. The TLS socket is closed (with a `close_notify` if it can be sent at
    /// once) when `handler` returns or throws. This is the seam any server built on ``StreamServer`` uses to
    /// offer TLS. Never switches (the returned handler does); hub thread only.
    ///
    /// - Parameters:
    ///   - handshakeTimeout: the longest a client may take to complete the handshake; `nil` uses the
    ///     accepted socket's ``Socket/timeout``.
    ///   - handler: called in the connection's greenlet after a successful handshake.
    /// - Returns: a handler for ``StreamServer/init(listener:backlog:spawn:handler:)``.
    /// - Throws: ``TLSError`` with ``TLSError/Kind/configuration`` for a client context.
    public func streamHandler(
        handshakeTimeout: Duration? = .seconds(10),
        _ handler: @escaping (_ client: TLSSocket, _ peer: SocketAddress) throws -> Void
    ) throws -> StreamServer.Handler {
        guard role == .server else {
            throw TLSError(
                kind: .configuration,
                operation: "serve TLS",
                reason: "the context is a client context",
                hint: "make the context with TLSContext.server"
            )
        }
        return { [self] socket, peer in
            let tls = try self.wrap(socket)
            defer { tls.close() }
            try tls.handshake(timeout: handshakeTimeout)
            try handler(tls, peer)
        }
    }
}

extension StreamServer {
    /// A TLS server that will listen on `listener` once started: each connection's handshake and `handler` run
    /// in its own greenlet.
    ///
    /// ```swift
    /// let context = try TLSContext.server(certificateChain: .file("cert.pem"), privateKey: .file("key.pem"))
    /// let server = try StreamServer(listener: ":8443", tls: context) { client, peer in
    ///     try client.sendAll(Array("hello over TLS\n".utf8))
    /// }
    /// try server.serveForever()
    /// ```
    ///
    /// See ``TLSContext/streamHandler(handshakeTimeout:_:)`` for what happens to a failed handshake, and
    /// ``init(listener:backlog:spawn:handler:)`` for the other parameters. Never switches, except to resolve
    /// a host name.
    ///
    /// - Parameters:
    ///   - tls: a server context.
    ///   - handshakeTimeout: the longest a client may take to complete the handshake.
    ///   - handler: called in a new greenlet for every connection, after its handshake.
    /// - Throws: as ``init(listener:backlog:spawn:handler:)``; ``TLSError`` for a client context.
    public convenience init(
        listener: String,
        backlog: Int = 128,
        spawn: SpawnPolicy = .unlimited,
        tls: TLSContext,
        handshakeTimeout: Duration? = .seconds(10),
        handler: @escaping (_ client: TLSSocket, _ peer: SocketAddress) throws -> Void
    ) throws {
        try self.init(
            listener: listener,
            backlog: backlog,
            spawn: spawn,
            handler: tls.streamHandler(handshakeTimeout: handshakeTimeout, handler)
        )
    }

    /// A TLS server accepting on a socket that is already bound. See
    /// ``init(listener:backlog:spawn:tls:handshakeTimeout:handler:)`` and ``init(socket:spawn:handler:)``.
    /// Never switches.
    ///
    /// - Throws: as ``init(socket:spawn:handler:)``; ``TLSError`` for a client context.
    public convenience init(
        socket: Socket,
        spawn: SpawnPolicy = .unlimited,
        tls: TLSContext,
        handshakeTimeout: Duration? = .seconds(10),
        handler: @escaping (_ client: TLSSocket, _ peer: SocketAddress) throws -> Void
    ) throws {
        try self.init(
            socket: socket,
            spawn: spawn,
            handler: tls.streamHandler(handshakeTimeout: handshakeTimeout, handler)
        )
    }
}
