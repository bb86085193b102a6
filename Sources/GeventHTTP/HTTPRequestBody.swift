import Gevent
import GeventHTTPParser
public import HTTPTypes

/// A request body, streamed from the connection as the handler reads it.
///
/// Three ways to read, which may be mixed: ``read(into:)`` and ``read(maxBytes:)`` fill a buffer,
/// ``nextChunk()`` returns pieces as they arrive, ``collect(upTo:)`` gathers the rest into one array.
/// Chunked bodies are decoded (extensions checked and dropped, ``trailers`` kept). A body longer than
/// ``HTTPServerConfiguration/maxBodySize`` fails with ``HTTPParseError/Kind/bodyTooLarge`` (the server
/// answers 413 if the handler lets it propagate); a malformed chunk or a connection that ends early fails
/// with the matching ``HTTPParseError``, and the connection is closed after the response.
///
/// Hub-bound: the handler's greenlet only. The reading methods may switch greenlets while they wait for the
/// client (each wait bounded by ``HTTPServerConfiguration/ioTimeout``).
public final class HTTPRequestBody {
    private let connection: HTTPConnection
    private let framing: HTTPBodyFraming
    private var remainingLength: Int
    private var decoder: ChunkedBodyDecoder
    /// Chunk data the decoder already accounted for that sits at the start of the buffer, not handed out.
    private var pendingChunkData = 0
    private var delivered = 0
    private var failure: HTTPParseError?

    /// The trailer fields of a chunked body, once it was read to the end; `nil` before. Never switches.
    public private(set) var trailers: HTTPFields?
    /// `true` once the whole body was read. Never switches.
    public private(set) var isFinished: Bool

    init(connection: HTTPConnection, framing: HTTPBodyFraming) {
        self.connection = connection
        self.framing = framing
        decoder = ChunkedBodyDecoder(limits: connection.configuration.parserLimits)
        switch framing {
        case .none:
            remainingLength = 0
            isFinished = true
            trailers = HTTPFields()
        case .length(let length):
            remainingLength = length
            isFinished = length == 0
            if isFinished { trailers = HTTPFields() }
        case .chunked:
            remainingLength = 0
            isFinished = false
        }
    }

    /// Reads up to `buffer.count` bytes of the body into `buffer`.
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Returns: the number of bytes stored; 0 at the end of the body.
    /// - Throws: ``HTTPParseError`` (malformed chunk, too large, truncated); ``SocketTimeoutError``;
    ///   ``SocketError``.
    @available(*, noasync, message: "read blocks the thread's greenlets; it is for greenlet code")
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try nextPiece(maxBytes: buffer.count) { piece in
            buffer.copyMemory(from: piece)
            return piece.count
        } ?? 0
    }

    /// Reads up to `maxBytes` bytes of the body; empty at the end. May switch greenlets. See
    /// ``read(into:)``.
    @available(*, noasync, message: "read blocks the thread's greenlets; it is for greenlet code")
    public func read(maxBytes: Int = 64 * 1024) throws -> [UInt8] {
        try nextPiece(maxBytes: maxBytes) { Array($0) } ?? []
    }

    /// The next piece of the body as it arrives (one chunk, or what one read brought); `nil` at the end.
    /// May switch greenlets. See ``read(into:)``.
    @available(*, noasync, message: "nextChunk blocks the thread's greenlets; it is for greenlet code")
    public func nextChunk() throws -> [UInt8]? {
        try nextPiece(maxBytes: 64 * 1024) { Array($0) }
    }

    /// Reads the rest of the body into one array.
    ///
    /// May switch greenlets. Hub thread only, from the handler's greenlet.
    ///
    /// - Parameter limit: the most bytes accepted (at most the server's ``HTTPServerConfiguration/maxBodySize``
    ///   applies anyway).
    /// - Throws: ``HTTPParseError`` with ``HTTPParseError/Kind/bodyTooLarge`` past `limit`; as ``read(into:)``.
    @available(*, noasync, message: "collect blocks the thread's greenlets; it is for greenlet code")
    public func collect(upTo limit: Int) throws -> [UInt8] {
        if case .length(let length) = framing, length - delivered > limit {
            throw HTTPParseError(.bodyTooLarge, "a body of \(length) bytes; the limit is \(limit)")
        }
        var collected: [UInt8] = []
        if case .length(let length) = framing {
            collected.reserveCapacity(length - delivered)
        }
        while true {
            let appended = try nextPiece(maxBytes: 256 * 1024) { piece -> Bool in
                guard collected.count + piece.count <= limit else { return false }
                collected.append(contentsOf: piece)
                return true
            }
            guard let appended else { return collected }
            guard appended else {
                throw HTTPParseError(.bodyTooLarge, "a body longer than \(limit) bytes")
            }
        }
    }

    /// Reads and discards the rest; `false` if that failed (the connection cannot be reused).
    func discardRest() -> Bool {
        do {
            while try nextPiece(maxBytes: .max, { _ in () }) != nil {}
            return true
        } catch {
            return false
        }
    }

    /// `true` if reading failed; the connection's framing is lost.
    var hasFailed: Bool { failure != nil }

    /// Hands the next piece (at most `maxBytes`) to `body` while it lies in the connection's buffer.
    private func nextPiece<Result>(
        maxBytes: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result? {
        if let failure { throw failure }
        guard !isFinished, maxBytes > 0 else { return nil }
        try connection.sendContinueIfExpected()
        do {
            switch framing {
            case .none:
                return nil
            case .length:
                let available = try availableBytes()
                let count = min(available, remainingLength, maxBytes)
                let result = try body(UnsafeRawBufferPointer(rebasing: connection.buffer.bytes[..<count]))
                connection.buffer.consume(count)
                remainingLength -= count
                delivered += count
                if remainingLength == 0 {
                    isFinished = true
                    trailers = HTTPFields()
                }
                return result
            case .chunked:
                return try nextChunkedPiece(maxBytes: maxBytes, body)
            }
        } catch let error as HTTPParseError {
            failure = error
            throw error
        }
    }

    private func nextChunkedPiece<Result>(
        maxBytes: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Result
    ) throws -> Result? {
        let buffer = connection.buffer
        while pendingChunkData == 0 {
            let (consumed, step) = try decoder.decode(buffer.bytes)
            if case .data = step {
                // The decoder counted the data as consumed; it stays in the buffer until handed out.
            } else {
                buffer.consume(consumed)
            }
            switch step {
            case .needMore:
                try fillOrFail()
            case .framing:
                continue
            case .data(let count):
                pendingChunkData = count
            case .end(let fields):
                trailers = fields
                isFinished = true
                return nil
            }
        }
        let count = min(pendingChunkData, maxBytes)
        guard delivered + count <= connection.configuration.maxBodySize else {
            throw HTTPParseError(
                .bodyTooLarge,
                "a chunked body longer than \(connection.configuration.maxBodySize) bytes"
            )
        }
        let result = try body(UnsafeRawBufferPointer(rebasing: buffer.bytes[..<count]))
        buffer.consume(count)
        pendingChunkData -= count
        delivered += count
        return result
    }

    private func availableBytes() throws -> Int {
        while connection.buffer.isEmpty {
            try fillOrFail()
        }
        return connection.buffer.count
    }

    private func fillOrFail() throws {
        guard try connection.fillForBody() else {
            throw HTTPParseError(.truncatedMessage, "the connection ended inside the request body")
        }
    }
}
