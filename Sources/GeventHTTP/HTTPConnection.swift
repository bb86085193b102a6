import Gevent
import GeventHTTPParser
import GeventTLS
import HTTPTypes

/// One client connection of an ``HTTPServer``: reads heads, runs the handler for each request in turn
/// (so pipelined requests are answered in order), writes the responses, and enforces the limits and
/// timeouts. Runs in the connection's handler greenlet; hub thread only.
final class HTTPConnection {
    let transport: HTTPTransport
    var socket: Socket { transport.socket }
    let peer: SocketAddress
    let core: HTTPServerCore
    var configuration: HTTPServerConfiguration { core.configuration }
    let buffer: ConnectionBuffer
    private var parser: HTTPRequestHeadParser
    private let acceptedAt = ContinuousClock.now

    /// Waiting for the first byte of a request: the server may close it when stopping.
    private(set) var isIdle = false
    private var takenOver = false

    // The request being served.
    private(set) var requestVersion = HTTPVersion.http1_1
    private var expectsContinue = false
    private var continueSent = false
    private var requestsServed = 0
    private var headBytes: [UInt8] = []

    init(transport: HTTPTransport, peer: SocketAddress, core: HTTPServerCore) {
        self.transport = transport
        self.peer = peer
        self.core = core
        let limits = core.configuration.parserLimits
        buffer = ConnectionBuffer(initialCapacity: 16 * 1024, maxCapacity: limits.maxHeadSize + 16 * 1024)
        parser = HTTPRequestHeadParser(limits: limits)
        headBytes.reserveCapacity(512)
    }

    /// The response must say `Connection: close`: the server is stopping, the connection reached its
    /// request limit, or the client still waits for a `100 Continue` nobody sent (its body may or may not
    /// follow, so the stream cannot be split into requests any more).
    var mustCloseAfterResponse: Bool {
        core.isStopping || requestsServed >= configuration.maxRequestsPerConnection
            || (expectsContinue && !continueSent)
    }

    // MARK: - The request loop

    /// Serves requests until the client or a limit ends the connection. May switch greenlets.
    func serve() {
        if socket.family != .unix {
            try? socket.setOption(.noDelay, to: true)
        }
        while !takenOver {
            let head: HTTPRequestHead
            do {
                guard let next = try readHead() else { return }
                head = next
            } catch let error as HTTPParseError {
                rejectAndClose(status: error.status)
                return
            } catch is SocketTimeoutError {
                // A head that did not complete in time (slowloris): answer 408 if it had started.
                if !buffer.isEmpty {
                    rejectAndClose(status: .requestTimeout)
                }
                return
            } catch {
                return
            }
            guard serveOne(head) else { return }
        }
    }

    /// Reads the next head; `nil` when the client closed or stayed idle too long between requests.
    private func readHead() throws -> HTTPRequestHead? {
        var deadline: ContinuousClock.Instant? =
            requestsServed == 0 ? acceptedAt + configuration.headerTimeout : nil
        parser.reset()
        while true {
            if !buffer.isEmpty {
                if deadline == nil {
                    deadline = .now + configuration.headerTimeout
                }
                if let (head, consumed) = try parser.parse(buffer.bytes) {
                    buffer.consume(consumed)
                    return head
                }
            }
            if let deadline {
                let remaining = deadline - .now
                guard remaining > .zero else {
                    throw SocketTimeoutError(operation: "read the request head", timeout: configuration.headerTimeout)
                }
                transport.timeout = remaining
            } else {
                transport.timeout = configuration.idleTimeout
                isIdle = buffer.isEmpty
                if core.isStopping { return nil }
            }
            let received: Bool
            do {
                defer { isIdle = false }
                received = try buffer.fill(from: transport)
            } catch is SocketTimeoutError where deadline == nil {
                return nil
            } catch let error as SocketError where buffer.isEmpty && core.isStopping {
                _ = error
                return nil
            }
            if !received {
                if buffer.isEmpty { return nil }
                throw HTTPParseError(.truncatedMessage, "the connection ended inside a request head")
            }
        }
    }

    /// Runs the handler for one request and completes its response; `false` if the connection ends.
    private func serveOne(_ head: HTTPRequestHead) -> Bool {
        requestsServed += 1
        requestVersion = head.version
        expectsContinue = head.expectsContinue
        continueSent = false
        if case .length(let length) = head.framing, length > configuration.maxBodySize {
            log(head, status: 413, bytes: 0)
            rejectAndClose(status: .contentTooLarge)
            return false
        }
        let body = HTTPRequestBody(connection: self, framing: head.framing)
        let request = HTTPServerRequest(head: head, peer: peer, body: body)
        let writer = HTTPResponseWriter(
            connection: self,
            isHeadRequest: head.request.method == .head,
            keepAlive: head.keepAlive
        )
        do {
            try core.handler(request, writer)
            try writer.finish()
        } catch {
            return handlerFailed(error, head: head, writer: writer, body: body)
        }
        log(head, status: writer.statusCode, bytes: writer.bodyBytesSent)
        if writer.isUpgraded { return false }
        guard writer.keepAlive, !body.hasFailed else {
            closeGracefully()
            return false
        }
        if !body.isFinished {
            // The client is waiting for 100 Continue before it sends the body: it was never asked for.
            if expectsContinue && !continueSent {
                closeGracefully()
                return false
            }
            guard body.discardRest() else {
                closeGracefully()
                return false
            }
        }
        return !core.isStopping
    }

    private func handlerFailed(
        _ error: any Error,
        head: HTTPRequestHead,
        writer: HTTPResponseWriter,
        body: HTTPRequestBody
    ) -> Bool {
        if HTTPConnection.isClientGone(error) { return false }
        let status: HTTPResponse.Status
        if let parseError = error as? HTTPParseError {
            // The client's body broke a rule: its fault, answered with the rule's status, not reported.
            status = parseError.status
        } else {
            status = .internalServerError
            core.hub.reportError(
                error,
                in: core.hub.currentGreenlet,
                context: "HTTPServer handler for \(head.request.method) \(head.target)"
            )
        }
        if !writer.isHeadSent {
            log(head, status: status.code, bytes: 0)
            rejectAndClose(status: status)
        } else {
            log(head, status: writer.statusCode, bytes: writer.bodyBytesSent)
        }
        return false
    }

    private static func isClientGone(_ error: any Error) -> Bool {
        if let tlsError = error as? TLSError {
            return tlsError.kind == .unexpectedEOF
        }
        guard let socketError = error as? SocketError else { return error is SocketTimeoutError }
        return socketError.code == .brokenPipe || socketError.code == .connectionReset
            || socketError.code == .badFileDescriptor
    }

    // MARK: - Reading for the body

    /// Reads more body bytes into the buffer; `false` at the end of the stream. May switch greenlets.
    func fillForBody() throws -> Bool {
        transport.timeout = configuration.ioTimeout
        return try buffer.fill(from: transport)
    }

    /// Sends `100 Continue` before the first body read when the client asked for it. May switch greenlets.
    func sendContinueIfExpected() throws {
        guard expectsContinue, !continueSent else { return }
        continueSent = true
        let line: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
        try send(UnsafeRawBufferPointer(start: line.utf8Start, count: line.utf8CodeUnitCount))
    }

    // MARK: - Writing

    /// Serializes a response head into the head buffer (sent by ``sendHead(appending:)``).
    func stageHead(status: HTTPResponse.Status, fields: HTTPFields, framing: HTTPField?, keepAlive: Bool) {
        let connection: StaticString? =
            if !keepAlive { "Connection: close\r\n" } else if !requestVersion.isAtLeast1_1 {
                "Connection: keep-alive\r\n"
            } else { nil }
        let date = fields.contains(.date) ? nil : core.date.current()
        headBytes.removeAll(keepingCapacity: true)
        Self.serializeHead(
            into: &headBytes,
            status: status,
            fields: fields,
            framing: framing,
            connection: connection,
            date: date
        )
    }

    // Static and `inout`: the whole head is one access to `headBytes`. Appending through the stored
    // property of a class begins and ends a dynamic exclusivity access per append, which is a tenth of
    // the server's instructions per request in a callgrind profile of HTTPHello.
    private static func serializeHead(
        into head: inout [UInt8],
        status: HTTPResponse.Status,
        fields: HTTPFields,
        framing: HTTPField?,
        connection: StaticString?,
        date: [UInt8]?
    ) {
        appendStatusLine(status, to: &head)
        for field in fields {
            appendField(field, to: &head)
        }
        if let framing {
            appendField(framing, to: &head)
        }
        if let connection {
            head.append(connection)
        }
        if let date {
            head.append("Date: ")
            head.append(contentsOf: date)
            head.append("\r\n")
        }
        head.append("\r\n")
    }

    private static func appendStatusLine(_ status: HTTPResponse.Status, to head: inout [UInt8]) {
        head.append("HTTP/1.1 ")
        // swift-http-types keeps a status code in 0...999: three digits, as RFC 9110 writes them.
        let code = status.code
        head.append(UInt8(ascii: "0") + UInt8(code / 100 % 10))
        head.append(UInt8(ascii: "0") + UInt8(code / 10 % 10))
        head.append(UInt8(ascii: "0") + UInt8(code % 10))
        head.append(UInt8(ascii: " "))
        head.append(contentsOf: status.reasonPhrase.utf8)
        head.append("\r\n")
    }

    private static func appendField(_ field: HTTPField, to head: inout [UInt8]) {
        // swift-http-types guarantees names are tokens and turns CR, LF and NUL in values into spaces, so
        // nothing a handler puts in a field can split the response.
        head.append(contentsOf: field.name.rawName.utf8)
        head.append(": ")
        field.withUnsafeBytesOfValue { head.append(contentsOf: $0) }
        head.append("\r\n")
    }

    /// Sends the staged head, with `body` in the same write when it is small. May switch greenlets.
    func sendHead(appending body: UnsafeRawBufferPointer) throws {
        if body.count <= 16 * 1024 {
            headBytes.append(contentsOf: body)
            try headBytes.withUnsafeBytes { try send($0) }
        } else {
            try headBytes.withUnsafeBytes { try send($0) }
            try send(body)
        }
    }

    /// Sends an upgrade response as given, with only `Date` added. May switch greenlets.
    func sendRawHead(_ response: HTTPResponse) throws {
        headBytes.removeAll(keepingCapacity: true)
        Self.serializeHead(
            into: &headBytes,
            status: response.status,
            fields: response.headerFields,
            framing: nil,
            connection: nil,
            date: nil
        )
        try headBytes.withUnsafeBytes { try send($0) }
    }

    /// Hands the socket and the unread bytes to an upgrading handler.
    func takeOver() -> HTTPUpgradedConnection {
        takenOver = true
        transport.timeout = nil
        let tls: TLSSocket? =
            if case .tls(let session) = transport { session } else { nil }
        return HTTPUpgradedConnection(socket: socket, tls: tls, bufferedBytes: buffer.take(buffer.count))
    }

    func sendChunk(_ bytes: UnsafeRawBufferPointer) throws {
        headBytes.removeAll(keepingCapacity: true)
        headBytes.append(contentsOf: String(bytes.count, radix: 16).utf8)
        headBytes.append("\r\n")
        if bytes.count <= 16 * 1024 {
            headBytes.append(contentsOf: bytes)
            headBytes.append("\r\n")
            try headBytes.withUnsafeBytes { try send($0) }
        } else {
            try headBytes.withUnsafeBytes { try send($0) }
            try send(bytes)
            let crlf: StaticString = "\r\n"
            try send(UnsafeRawBufferPointer(start: crlf.utf8Start, count: crlf.utf8CodeUnitCount))
        }
    }

    func sendLastChunk(trailers: HTTPFields) throws {
        headBytes.removeAll(keepingCapacity: true)
        headBytes.append("0\r\n")
        for field in trailers {
            Self.appendField(field, to: &headBytes)
        }
        headBytes.append("\r\n")
        try headBytes.withUnsafeBytes { try send($0) }
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        transport.timeout = configuration.ioTimeout
        try transport.sendAll(bytes)
    }

    // MARK: - Ending

    /// Answers a request the server refuses with an empty response of `status`, then closes gracefully.
    private func rejectAndClose(status: HTTPResponse.Status) {
        headBytes.removeAll(keepingCapacity: true)
        Self.appendStatusLine(status, to: &headBytes)
        headBytes.append("Content-Length: 0\r\nConnection: close\r\nDate: ")
        headBytes.append(contentsOf: core.date.current())
        headBytes.append("\r\n\r\n")
        do {
            try headBytes.withUnsafeBytes { try send($0) }
        } catch {
            return
        }
        closeGracefully()
    }

    /// Shuts the write side (the client reads the end of the response) and reads what the client still
    /// sends for a moment, so closing does not reset the connection before the client read the answer.
    private func closeGracefully() {
        do {
            try transport.shutdownWrite()
        } catch {
            return
        }
        let deadline = ContinuousClock.now + configuration.lingerTimeout
        var drained = 0
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while drained < 1024 * 1024 {
            let remaining = deadline - .now
            guard remaining > .zero else { return }
            transport.timeout = remaining
            guard let count = try? scratch.withUnsafeMutableBytes({ try transport.recv(into: $0) }), count > 0 else {
                return
            }
            drained += count
        }
    }

    private func log(_ head: HTTPRequestHead, status: Int, bytes: Int) {
        guard let accessLog = configuration.accessLog else { return }
        let host = peer.host ?? "-"
        let line =
            "\(host) - - [\(core.date.logTimestamp())] \"\(head.request.method) \(head.target) \(head.version)\" "
            + "\(status) \(bytes == 0 ? "-" : String(bytes))"
        accessLog(line)
    }
}

extension [UInt8] {
    /// Appends a literal's bytes with one copy (the generic `append(contentsOf: String.UTF8View)` walks
    /// the string).
    fileprivate mutating func append(_ literal: StaticString) {
        append(contentsOf: UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
