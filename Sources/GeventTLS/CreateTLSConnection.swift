import Gevent

/// Connects to `host` at `port` and performs the TLS handshake, verifying the server as `context` says.
///
/// ```swift
/// let tls = try createTLSConnection(host: "localhost", port: 8443, context: try .client(), timeout: .seconds(5))
/// ```
///
/// Resolves and tries each address as ``createConnection(host:port:timeout:sourceAddress:allErrors:)`` does,
/// then wraps the socket with `host` as the server name (SNI and host-name verification) and completes the
/// handshake within `timeout`. On any failure the socket is closed. Python's
/// `ssl.create_default_context().wrap_socket(socket.create_connection(...), server_hostname=host)`. May switch
/// greenlets. Hub thread only; not from inside the hub.
///
/// - Parameters:
///   - host: a name or numeric address; also the name the certificate must be for.
///   - port: the port.
///   - context: a client context (``TLSContext/client(trustRoots:verifyPeer:verifyHostName:certificateChain:privateKey:minimumVersion:maximumVersion:alpnProtocols:ciphers:tls13CipherSuites:)``).
///   - timeout: the ``Socket/timeout`` of each connection attempt and of the returned socket, and the bound
///     of the whole handshake; by default ``Socket/defaultTimeout``.
/// - Returns: the connected TLS socket, handshake done.
/// - Throws: what ``createConnection(host:port:timeout:sourceAddress:allErrors:)`` throws; ``TLSError`` from
///   the handshake (a certificate that does not verify names the reason); ``SocketTimeoutError``.
@available(*, noasync, message: "createTLSConnection blocks the thread's greenlets; it is for greenlet code")
public func createTLSConnection(
    host: String,
    port: Int,
    context: TLSContext,
    timeout: Duration? = Socket.defaultTimeout
) throws -> TLSSocket {
    guard context.role == .client else {
        throw TLSError(
            kind: .configuration,
            operation: "createTLSConnection to \(host):\(port)",
            reason: "the context is a server context",
            hint: "make the context with TLSContext.client"
        )
    }
    let socket = try createConnection(host: host, port: port, timeout: timeout)
    let tls: TLSSocket
    do {
        tls = try context.wrap(socket, serverHostName: host)
    } catch {
        socket.close()
        throw error
    }
    do {
        try tls.handshake(timeout: timeout)
    } catch {
        tls.close()
        throw error
    }
    return tls
}
