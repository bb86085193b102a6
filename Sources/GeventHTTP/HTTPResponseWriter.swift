import Gevent
public import HTTPTypes

/// Writes the response to one request: whole (``respond(_:body:)-([UInt8])``), or head first and then the
/// body in pieces (``writeHead(_:contentLength:)``, ``write(_:)-([UInt8])``, ``finish(trailers:)``).
///
/// The server owns the framing and connection fields: it sets `Content-Length` (a known length) or
/// `Transfer-Encoding: chunked` (a streamed body on HTTP/1.1; on HTTP/1.0 the body ends when the
/// connection closes), `Connection` (`close` when the connection ends after this response, `keep-alive`
/// for a persistent HTTP/1.0 client) and `Date` if the handler gave none; those fields given by the
/// handler are replaced, except that a handler's `Connection: close` is honoured. A response to `HEAD`
/// carries the head only; 1xx, 204 and 304 responses carry no body. A handler that returns without
/// responding sends an empty 200; one that returns mid-stream has its body finished for it.
///
/// Hub-bound: the handler's greenlet only. The writing methods may switch greenlets while the client's
/// receive window is full (each wait bounded by ``HTTPServerConfiguration/ioTimeout``).
public final class HTTPResponseWriter {
    private enum BodyMode {
        case length(remaining: Int)
        case chunked
        case untilClose
        /// HEAD, 1xx, 204, 304: the head only; writes are dropped (HEAD) or refused.
        case none(refuseWrites: Bool)
    }

    private enum State {
        case idle
        case streaming(BodyMode)
        case finished
        case upgraded
    }

    private let connection: HTTPConnection
    private let isHeadRequest: Bool
    private var state = State.idle
    /// Whether the connection may serve another request after this response (decided with the head).
    private(set) var keepAlive: Bool
    /// The status sent, for the access log.
    private(set) var statusCode = 0
    /// Body bytes sent, for the access log.
    private(set) var bodyBytesSent = 0

    init(connection: HTTPConnection, isHeadRequest: Bool, keepAlive: Bool) {
        self.connection = connection
        self.isHeadRequest = isHeadRequest
        self.keepAlive = keepAlive
    }

    /// `true` once the head was written. Never switches.
    public var isHeadSent: Bool {
        if case .idle = state { return false }
        return true
    }

    var isUpgraded: Bool {
        if case .upgraded = state { return true }
        return false
    }

    var isFinished: Bool {
        switch state {
        case .finished, .upgraded: return true
        default: return false
        }
    }

    // MARK: - Whole responses

    /// Sends `response` with `body` as its whole body (`Content-Length`), in one write when small.
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Throws: ``HTTPResponseError`` if a head was sent already or a 204/304 gets a body;
    ///   ``SocketError`` or ``SocketTimeoutError`` when the client does not take it.
    @available(*, noasync, message: "respond blocks the thread's greenlets; it is for greenlet code")
    public func respond(_ response: HTTPResponse, body: [UInt8] = []) throws {
        try body.withUnsafeBytes { try respond(response, bytes: $0) }
    }

    /// Sends `response` with the UTF-8 of `body` as its whole body. See ``respond(_:body:)-([UInt8])``.
    @available(*, noasync, message: "respond blocks the thread's greenlets; it is for greenlet code")
    public func respond(_ response: HTTPResponse, body: String) throws {
        var body = body
        try body.withUTF8 { try respond(response, bytes: UnsafeRawBufferPointer($0)) }
    }

    private func respond(_ response: HTTPResponse, bytes: UnsafeRawBufferPointer) throws {
        let mode = try openBody(response, contentLength: bytes.count)
        if case .none = mode {
            try connection.sendHead(appending: UnsafeRawBufferPointer(start: nil, count: 0))
        } else {
            try connection.sendHead(appending: bytes)
            bodyBytesSent = bytes.count
        }
        state = .finished
    }

    // MARK: - Streamed responses

    /// Sends the head of `response`; the body follows with ``write(_:)-([UInt8])`` and ends with
    /// ``finish(trailers:)``.
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Parameter contentLength: the body's length if known (`Content-Length`); `nil` streams it chunked on
    ///   HTTP/1.1, or until the connection closes on HTTP/1.0.
    /// - Throws: ``HTTPResponseError`` if a head was sent already; ``SocketError``, ``SocketTimeoutError``.
    @available(*, noasync, message: "writeHead blocks the thread's greenlets; it is for greenlet code")
    public func writeHead(_ response: HTTPResponse, contentLength: Int? = nil) throws {
        state = .streaming(try openBody(response, contentLength: contentLength))
        try connection.sendHead(appending: UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Writes the next piece of a streamed body (one chunk when chunked; empty writes are skipped).
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Throws: ``HTTPResponseError`` before ``writeHead(_:contentLength:)``, after ``finish(trailers:)``,
    ///   past the announced length, or on a 204/304; ``SocketError``, ``SocketTimeoutError``.
    @available(*, noasync, message: "write blocks the thread's greenlets; it is for greenlet code")
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard case .streaming(let mode) = state else {
            throw HTTPResponseError(
                message: isHeadSent
                    ? "write after the response was finished or taken over"
                    : "write before writeHead; call writeHead(_:contentLength:) first, or use respond(_:body:)"
            )
        }
        guard !bytes.isEmpty else { return }
        switch mode {
        case .length(let remaining):
            guard bytes.count <= remaining else {
                keepAlive = false
                throw HTTPResponseError(
                    message: "a write of \(bytes.count) bytes with \(remaining) left of the announced Content-Length"
                )
            }
            state = .streaming(.length(remaining: remaining - bytes.count))
            try connection.send(bytes)
        case .chunked:
            try connection.sendChunk(bytes)
        case .untilClose:
            try connection.send(bytes)
        case .none(let refuseWrites):
            if refuseWrites {
                throw HTTPResponseError(message: "a \(statusCode) response cannot have a body")
            }
            return
        }
        bodyBytesSent += bytes.count
    }

    /// Writes `bytes` as the next piece of the body. See ``write(_:)-(UnsafeRawBufferPointer)``.
    @available(*, noasync, message: "write blocks the thread's greenlets; it is for greenlet code")
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes the UTF-8 of `text` as the next piece of the body. See ``write(_:)-(UnsafeRawBufferPointer)``.
    @available(*, noasync, message: "write blocks the thread's greenlets; it is for greenlet code")
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Ends a streamed body: the last chunk and `trailers` when chunked (trailers are dropped otherwise).
    /// Harmless after a whole response.
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Throws: ``HTTPResponseError`` if fewer bytes than the announced `Content-Length` were written (the
    ///   connection is closed: the client cannot find the end); ``SocketError``, ``SocketTimeoutError``.
    @available(*, noasync, message: "finish blocks the thread's greenlets; it is for greenlet code")
    public func finish(trailers: HTTPFields = HTTPFields()) throws {
        switch state {
        case .idle:
            try respond(HTTPResponse(status: .ok))
        case .streaming(let mode):
            state = .finished
            switch mode {
            case .length(let remaining) where remaining > 0:
                keepAlive = false
                throw HTTPResponseError(message: "the body ended \(remaining) bytes short of its Content-Length")
            case .chunked:
                try connection.sendLastChunk(trailers: trailers)
            default:
                break
            }
        case .finished, .upgraded:
            return
        }
    }

    // MARK: - Taking over

    /// Sends `response` (usually `101 Switching Protocols` with its `Upgrade` and `Connection` fields, or a
    /// 2xx to a CONNECT) as is, without framing fields, and hands the connection to the handler.
    ///
    /// The server reads no further requests on it and closes it when the handler returns. May switch
    /// greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Throws: ``HTTPResponseError`` if a head was sent already; ``SocketError``, ``SocketTimeoutError``.
    @available(*, noasync, message: "upgrade blocks the thread's greenlets; it is for greenlet code")
    public func upgrade(_ response: HTTPResponse) throws -> HTTPUpgradedConnection {
        guard case .idle = state else {
            throw HTTPResponseError(message: "upgrade after the response head was sent")
        }
        statusCode = response.status.code
        keepAlive = false
        state = .upgraded
        try connection.sendRawHead(response)
        return connection.takeOver()
    }

    // MARK: - Framing

    /// A `Connection` value with the `close` option.
    private static func listsClose(_ value: String) -> Bool {
        value.utf8.split(separator: UInt8(ascii: ",")).contains { option in
            let trimmed = option.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
            return trimmed.count >= 5 && trimmed.prefix(5).map { $0 | 0x20 }.elementsEqual("close".utf8)
                && trimmed.dropFirst(5).allSatisfy { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        }
    }

    /// Decides the body mode and connection handling for `response` and stages its head.
    private func openBody(_ response: HTTPResponse, contentLength: Int?) throws -> BodyMode {
        guard case .idle = state else {
            throw HTTPResponseError(message: "a second response head; a request gets one response")
        }
        let status = response.status.code
        statusCode = status
        var fields = response.headerFields
        if fields[values: .connection].contains(where: HTTPResponseWriter.listsClose) {
            keepAlive = false
        }
        fields[.connection] = nil
        fields[.contentLength] = nil
        fields[.transferEncoding] = nil

        let mode: BodyMode
        var framingField: HTTPField?
        if (100..<200).contains(status) || status == 204 || status == 304 {
            if let contentLength, contentLength > 0 {
                throw HTTPResponseError(
                    message: "a \(status) response cannot have a body (\(contentLength) bytes given)"
                )
            }
            mode = .none(refuseWrites: true)
        } else if let contentLength {
            framingField = HTTPField(name: .contentLength, value: String(contentLength))
            mode = isHeadRequest ? .none(refuseWrites: false) : .length(remaining: contentLength)
        } else if isHeadRequest {
            mode = .none(refuseWrites: false)
        } else if connection.requestVersion.isAtLeast1_1 {
            framingField = HTTPField(name: .transferEncoding, value: "chunked")
            mode = .chunked
        } else {
            keepAlive = false
            mode = .untilClose
        }
        if keepAlive && connection.mustCloseAfterResponse {
            keepAlive = false
        }
        connection.stageHead(
            status: response.status,
            fields: fields,
            framing: framingField,
            keepAlive: keepAlive
        )
        return mode
    }
}
