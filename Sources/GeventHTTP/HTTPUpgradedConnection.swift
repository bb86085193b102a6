public import Gevent
public import GeventTLS

/// A connection a handler took over with ``HTTPResponseWriter/upgrade(_:)`` (WebSocket, CONNECT tunnels):
/// the raw socket (and, on an HTTPS server, the TLS session over it, which is what the conversation must use)
/// and the bytes the client sent after the request head that were already read.
///
/// The handler owns the conversation from here; the server closes the socket when the handler returns.
/// Hub-bound: the handler's greenlet only.
public struct HTTPUpgradedConnection {
    /// The client's socket.
    public let socket: Socket
    /// The TLS session of an HTTPS connection (read and write through it, not ``socket``); `nil` for plain
    /// HTTP.
    public let tls: TLSSocket?
    /// Bytes that arrived after the request head (the first frames of the new protocol), to be read first.
    public let bufferedBytes: [UInt8]
}
