/// Connects to `host` at `port`, trying every address the name resolves to, in order, until one accepts.
///
/// ```swift
/// let socket = try createConnection(host: "localhost", port: 8080, timeout: .seconds(2))
/// ```
///
/// Each failed attempt's socket is closed before the next. An error that is not a connection failure (a
/// ``Timeout`` of the caller, a kill) closes the socket being tried and propagates at once. gevent's
/// `socket.create_connection`. May switch greenlets (resolving, connecting). Hub thread only; not from inside
/// the hub.
///
/// - Parameters:
///   - host: a name or numeric address.
///   - port: the port.
///   - timeout: the ``Socket/timeout`` of each attempt and of the returned socket; by default
///     ``Socket/defaultTimeout``.
///   - sourceAddress: a local address to bind each socket to before connecting; port 0 picks any.
///   - allErrors: throw a ``ConnectionAttemptsError`` with every address's error instead of the last one.
/// - Returns: the connected socket.
/// - Throws: ``ResolverError`` when the name does not resolve; the last attempt's ``SocketError`` or
///   ``SocketTimeoutError`` ("connect to 127.0.0.1:5432: Connection refused (errno 111)"), or
///   ``ConnectionAttemptsError`` with `allErrors`; what is thrown into the greenlet.
@available(*, noasync, message: "createConnection blocks the thread's greenlets; it is for greenlet code")
public func createConnection(
    host: String,
    port: Int,
    timeout: Duration? = Socket.defaultTimeout,
    sourceAddress: SocketAddress? = nil,
    allErrors: Bool = false
) throws -> Socket {
    let answers = try getaddrinfo(host: host, port: port, family: .unspecified, type: .stream)
    var attempts: [(address: SocketAddress, error: any Error)] = []
    for answer in answers {
        let socket = try Socket(family: answer.family, type: .stream, protocol: answer.protocolNumber)
        socket.timeout = timeout
        do {
            if let sourceAddress {
                try socket.bind(to: sourceAddress)
            }
            try socket.connect(to: answer.address)
            return socket
        } catch let error as SocketError {
            socket.close()
            attempts.append((answer.address, error))
        } catch let error as SocketTimeoutError {
            socket.close()
            attempts.append((answer.address, error))
        } catch {
            socket.close()
            throw error
        }
    }
    if allErrors || attempts.isEmpty {
        throw ConnectionAttemptsError(target: "\(host):\(port)", attempts: attempts)
    }
    throw attempts[attempts.count - 1].error
}
