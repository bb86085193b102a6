import Gevent
import GeventTLS

/// What a connection of an ``HTTPServer`` reads and writes: the accepted socket, or a TLS session over it.
/// An enum, not a protocol, so the plain path costs one predictable branch per call and no witness table.
/// Hub thread only.
enum HTTPTransport {
    case plain(Socket)
    case tls(TLSSocket)

    /// The TCP (or Unix) socket underneath.
    var socket: Socket {
        switch self {
        case .plain(let socket): socket
        case .tls(let tls): tls.socket
        }
    }

    /// The wait limit of each read and write that follows.
    var timeout: Duration? {
        get { socket.timeout }
        nonmutating set { socket.timeout = newValue }
    }

    func recv(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        switch self {
        case .plain(let socket): try socket.recv(into: buffer)
        case .tls(let tls): try tls.recv(into: buffer)
        }
    }

    func sendAll(_ bytes: UnsafeRawBufferPointer) throws {
        switch self {
        case .plain(let socket): try socket.sendAll(bytes)
        case .tls(let tls): try tls.sendAll(bytes)
        }
    }

    /// Ends the response stream: a TCP half-close, or TLS's `close_notify` and then the half-close.
    func shutdownWrite() throws {
        if case .tls(let tls) = self {
            try tls.shutdown()
        }
        try socket.shutdown(.write)
    }
}
