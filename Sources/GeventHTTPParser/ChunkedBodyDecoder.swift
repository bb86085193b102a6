public import HTTPTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The decoder of a `Transfer-Encoding: chunked` body (RFC 9112 §7.1), in place over a buffer.
///
/// Each ``decode(_:)`` call looks at the start of the unread bytes and either consumes framing (a size
/// line, the CRLF after data, a trailer line), or points at chunk data the caller takes, or reports the
/// end of the body with its trailer fields. Chunk-size lines are `1*HEXDIG` (at most 15 digits) with
/// optional `;name[=value]` extensions, which are checked and ignored; data must be followed by CRLF;
/// bare CR and bare LF are rejected; trailers follow the field-line rules of the head and are kept apart
/// from the head's fields (never merged).
///
/// A value type without I/O: never switches greenlets; one per body, from one thread at a time.
public struct ChunkedBodyDecoder: Sendable {
    /// What one ``decode(_:)`` step found.
    public enum Step: Equatable, Sendable {
        /// The input holds no complete framing element; read more and call again with the same bytes
        /// at the start.
        case needMore
        /// This many bytes at the start of the input are chunk data (consumed is the same count).
        case data(Int)
        /// Framing was consumed (a size line, a data terminator, trailer lines); call again.
        case framing
        /// The body ended; the trailer fields (usually none).
        case end(trailers: HTTPFields)
    }

    private enum State: Sendable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers
        case done
    }

    /// The limits for size lines and the trailer section.
    public let limits: HTTPParserLimits
    private var state = State.size
    private var trailers = HTTPFields()
    private var trailerBytes = 0

    /// A decoder for one body. Never switches; any thread.
    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// `true` once the last chunk and the trailer section were decoded.
    public var isFinished: Bool {
        if case .done = state { return true }
        return false
    }

    /// Decodes one step at the start of `input`. Never switches.
    ///
    /// - Returns: how many bytes of `input` the step consumed (drop them before the next call) and what
    ///   it found. `.data(n)` consumes `n` bytes, which are the chunk data.
    /// - Throws: ``HTTPParseError`` (``HTTPParseError/Kind/malformedChunk``, or
    ///   ``HTTPParseError/Kind/headTooLarge`` / ``HTTPParseError/Kind/tooManyFields`` for the trailers).
    public mutating func decode(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) -> (consumed: Int, step: Step) {
        while true {
            switch state {
            case .done:
                return (0, .end(trailers: trailers))
            case .data(let remaining):
                guard !input.isEmpty else { return (0, .needMore) }
                let count = min(remaining, input.count)
                state = count == remaining ? .dataEnd : .data(remaining: remaining - count)
                return (count, .data(count))
            case .dataEnd:
                guard input.count >= 2 else {
                    if input.count == 1 && input[0] != ByteClass.cr {
                        throw HTTPParseError(.malformedChunk, "chunk data longer than its size")
                    }
                    return (0, .needMore)
                }
                guard input[0] == ByteClass.cr, input[1] == ByteClass.lf else {
                    throw HTTPParseError(.malformedChunk, "chunk data not followed by CRLF")
                }
                state = .size
                return (2, .framing)
            case .size:
                guard let lineEnd = try line(in: input, limit: limits.maxChunkLineLength, what: "chunk-size line")
                else {
                    return (0, .needMore)
                }
                let size = try ChunkedBodyDecoder.chunkSize(input[0..<lineEnd])
                state = size == 0 ? .trailers : .data(remaining: size)
                if size == 0 {
                    // The last chunk's line; go on into the trailer section in this call.
                    let (consumed, step) = try decodeTrailers(UnsafeRawBufferPointer(rebasing: input[(lineEnd + 2)...]))
                    if case .end = step {
                        return (lineEnd + 2 + consumed, step)
                    }
                    return (lineEnd + 2 + consumed, .framing)
                }
                return (lineEnd + 2, .framing)
            case .trailers:
                return try decodeTrailers(input)
            }
        }
    }

    private mutating func decodeTrailers(
        _ input: UnsafeRawBufferPointer
    ) throws(HTTPParseError) -> (
        consumed: Int, step: Step
    ) {
        var offset = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            guard let lineEnd = try line(in: rest, limit: limits.maxHeadSize - trailerBytes, what: "trailer section")
            else {
                return (offset, offset > 0 ? .framing : .needMore)
            }
            trailerBytes += lineEnd + 2
            if trailerBytes > limits.maxHeadSize {
                throw HTTPParseError(.headTooLarge, "a trailer section longer than \(limits.maxHeadSize) bytes")
            }
            if lineEnd == 0 {
                state = .done
                return (offset + 2, .end(trailers: trailers))
            }
            if trailers.count >= limits.maxFieldCount {
                throw HTTPParseError(.tooManyFields, "more than \(limits.maxFieldCount) trailer fields")
            }
            let field = try FieldLine.parse(rest[0..<lineEnd]).makeField()
            // RFC 9110 §6.5.1: framing cannot change after the body. A trailer that claims to is an attempt to
            // confuse an intermediary that merges trailers into the head, so the message is refused.
            if field.name == .transferEncoding || field.name == .contentLength {
                throw HTTPParseError(
                    .malformedChunk,
                    "a \(field.name) field in the trailer section (framing fields are not allowed there)"
                )
            }
            trailers.append(field)
            offset += lineEnd + 2
        }
    }

    /// The offset of the CR ending the first line of `input`, checked to be CRLF with no other CR;
    /// `nil` if the line is not complete yet.
    private func line(in input: UnsafeRawBufferPointer, limit: Int, what: StaticString) throws(HTTPParseError) -> Int? {
        guard let base = input.baseAddress, !input.isEmpty else { return nil }
        let searched = min(input.count, limit + 2)
        guard let found = memchr(base, CInt(ByteClass.lf), searched) else {
            if input.count > limit + 1 {
                throw HTTPParseError(.malformedChunk, "a \(what) longer than \(limit) bytes")
            }
            if let cr = memchr(base, CInt(ByteClass.cr), max(input.count - 1, 0)), cr != base + input.count - 1 {
                throw HTTPParseError(.malformedChunk, "a bare CR in a \(what)")
            }
            return nil
        }
        let lineFeed = UnsafeRawPointer(found) - UnsafeRawPointer(base)
        guard lineFeed > 0, input[lineFeed - 1] == ByteClass.cr else {
            throw HTTPParseError(.malformedChunk, "a bare LF in a \(what)")
        }
        if lineFeed > 1, memchr(base, CInt(ByteClass.cr), lineFeed - 1) != nil {
            throw HTTPParseError(.malformedChunk, "a bare CR in a \(what)")
        }
        return lineFeed - 1
    }

    /// `chunk-size [ chunk-ext ]`: hex digits, then `*( ";" BWS ext-name [ BWS "=" BWS ext-val ] )` and
    /// optional trailing whitespace: RFC 9112's grammar without the BWS before each ";".
    private static func chunkSize(_ line: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) -> Int {
        var size = 0
        var index = line.startIndex
        while index < line.endIndex, let digit = ByteClass.hexValue(line[index]) {
            guard index - line.startIndex < 15 else {
                throw HTTPParseError(.malformedChunk, "a chunk size of more than 15 hex digits")
            }
            size = size << 4 | digit
            index += 1
        }
        guard index > line.startIndex else {
            throw HTTPParseError(.malformedChunk, "a chunk-size line that does not start with a hex digit")
        }
        try checkExtensions(line[index...])
        return size
    }

    private static func checkExtensions(_ bytes: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) {
        var index = bytes.startIndex
        func skipWhitespace() {
            while index < bytes.endIndex && ByteClass.isWhitespace(bytes[index]) { index += 1 }
        }
        func token() -> Bool {
            let start = index
            while index < bytes.endIndex && ByteClass.isToken(bytes[index]) { index += 1 }
            return index > start
        }
        while true {
            skipWhitespace()
            if index == bytes.endIndex { return }
            // RFC 9112 lets BWS precede the ";", but parsers disagree on it (h11 and others reject it): a
            // front end and a back end reading the same chunk line differently is how requests get
            // smuggled, so the stricter reading is the safe one.
            guard
                bytes[index] != ByteClass.semicolon || index == bytes.startIndex
                    || !ByteClass.isWhitespace(bytes[index - 1])
            else {
                throw HTTPParseError(.malformedChunk, "whitespace before a chunk extension's ';'")
            }
            guard bytes[index] == ByteClass.semicolon else {
                throw HTTPParseError(.malformedChunk, "a chunk size followed by something other than ;extension")
            }
            index += 1
            skipWhitespace()
            guard token() else {
                throw HTTPParseError(.malformedChunk, "a chunk extension without a name")
            }
            skipWhitespace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "=") else { continue }
            index += 1
            skipWhitespace()
            if index < bytes.endIndex && bytes[index] == UInt8(ascii: "\"") {
                try quotedString()
            } else if !token() {
                throw HTTPParseError(.malformedChunk, "a chunk extension value that is neither token nor quoted")
            }
        }

        func quotedString() throws(HTTPParseError) {
            index += 1
            while index < bytes.endIndex {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return
                }
                if byte == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.endIndex, ByteClass.isFieldValue(bytes[index]) else { break }
                } else if !ByteClass.isFieldValue(byte) {
                    break
                }
                index += 1
            }
            throw HTTPParseError(.malformedChunk, "an unterminated or invalid quoted chunk extension value")
        }
    }
}
