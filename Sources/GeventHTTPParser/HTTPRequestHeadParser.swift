import HTTPTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The strict HTTP/1.1 request-head parser (RFC 9110, RFC 9112), incremental over a connection's buffer.
///
/// Give it the buffered bytes from the start of a request each time more arrive; it remembers how far it
/// has scanned, so a head split over many reads is scanned once, and it parses the head in one pass when the
/// empty line arrives. It reads the buffer in place: the only copies are the strings swift-http-types
/// stores (method, target, each field's name and value).
///
/// It rejects rather than repairs: a bare CR or bare LF, obs-fold, whitespace before a colon or before the
/// first field, NUL and other controls, invalid tokens, `Content-Length` with `Transfer-Encoding`,
/// differing lengths, a coding list not ending in `chunked`, `Transfer-Encoding` on HTTP/1.0, HTTP/1.1
/// without exactly one `Host`, a target form the method does not allow. Each rejection is an
/// ``HTTPParseError`` whose ``HTTPParseError/status`` the server sends before closing. Empty lines before
/// the request line are skipped (RFC 9112 §2.2).
///
/// A value type without I/O: never switches greenlets; use one per connection, from one thread at a time.
public struct HTTPRequestHeadParser: Sendable {
    /// The limits applied.
    public var limits: HTTPParserLimits

    /// Bytes of the input already scanned for line ends.
    private var scanned = 0
    /// Start of the line being scanned.
    private var lineStart = 0
    /// Start of the request line (after skipped empty lines).
    private var headStart = 0
    /// End of the request line (its CR), once found.
    private var requestLineEnd: Int?
    private var fieldLineCount = 0
    /// Start of the first complete line not checked yet (lines are checked early only while the head is
    /// incomplete, so a client cannot park invalid bytes in a connection until a limit or timeout).
    private var checkedUpTo = 0
    private var skippedEmptyLine = false

    /// A parser with `limits`. Never switches; any thread.
    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Forgets a partly scanned head, for a new request or a new buffer. Never switches.
    public mutating func reset() {
        scanned = 0
        lineStart = 0
        headStart = 0
        requestLineEnd = nil
        fieldLineCount = 0
        checkedUpTo = 0
        skippedEmptyLine = false
    }

    /// Parses the request head at the start of `input`, if it is complete.
    ///
    /// Call again with the same bytes and more appended until it returns a head; then the parser is reset
    /// for the next request, whose bytes start at `consumed`. Never switches.
    ///
    /// - Returns: the head and the number of bytes it took (empty lines before it included), or `nil`
    ///   when the head is not complete yet.
    /// - Throws: ``HTTPParseError`` as soon as the bytes so far break a rule or a limit.
    public mutating func parse(
        _ input: UnsafeRawBufferPointer
    ) throws(HTTPParseError) -> (
        head: HTTPRequestHead, consumed: Int
    )? {
        guard let base = input.baseAddress else { return nil }
        while true {
            let remaining = input.count - scanned
            guard remaining > 0, let found = memchr(base + scanned, CInt(ByteClass.lf), remaining) else {
                scanned = input.count
                try checkPartialLine(length: input.count - lineStart, headLength: input.count - headStart)
                try checkEarly(input)
                return nil
            }
            let lineFeed = UnsafeRawPointer(found) - UnsafeRawPointer(base)
            guard lineFeed > lineStart, input[lineFeed - 1] == ByteClass.cr else {
                throw HTTPParseError(.invalidLineEnding, "a line ends with a bare LF")
            }
            let contentEnd = lineFeed - 1
            scanned = lineFeed + 1
            if requestLineEnd == nil {
                if contentEnd == lineStart {
                    // RFC 9112 §2.2: ignore at least one empty line before the request line (a CRLF some
                    // clients send after a body); more than one is not a request.
                    guard !skippedEmptyLine else {
                        throw HTTPParseError(.malformedRequestLine, "more than one empty line before the request line")
                    }
                    skippedEmptyLine = true
                    headStart = scanned
                } else {
                    if contentEnd - lineStart > limits.maxRequestLineLength {
                        throw HTTPParseError(
                            .requestLineTooLong,
                            "request line of \(contentEnd - lineStart) bytes; the limit is "
                                + "\(limits.maxRequestLineLength)"
                        )
                    }
                    requestLineEnd = contentEnd
                }
                // Empty lines before the request line count against the head's limit too.
                if scanned > limits.maxHeadSize {
                    throw HTTPParseError(.headTooLarge, "more than \(limits.maxHeadSize) bytes before the head ended")
                }
            } else if contentEnd == lineStart {
                let consumed = scanned
                let head = try parseHead(input, start: headStart, requestLineEnd: requestLineEnd!, end: consumed)
                reset()
                return (head, consumed)
            } else {
                fieldLineCount += 1
                if fieldLineCount > limits.maxFieldCount {
                    throw HTTPParseError(.tooManyFields, "more than \(limits.maxFieldCount) fields")
                }
            }
            if scanned - headStart > limits.maxHeadSize {
                throw HTTPParseError(.headTooLarge, "a head longer than \(limits.maxHeadSize) bytes")
            }
            lineStart = scanned
        }
    }

    private func checkPartialLine(length: Int, headLength: Int) throws(HTTPParseError) {
        // +1: the CR of a line whose LF has not arrived yet.
        if requestLineEnd == nil && headStart == lineStart && length > limits.maxRequestLineLength + 1 {
            throw HTTPParseError(
                .requestLineTooLong,
                "request line longer than \(limits.maxRequestLineLength) bytes"
            )
        }
        if headLength > limits.maxHeadSize {
            throw HTTPParseError(.headTooLarge, "a head longer than \(limits.maxHeadSize) bytes")
        }
    }

    /// Checks the lines of an incomplete head that are complete, and the partial line's bytes so far.
    private mutating func checkEarly(_ input: UnsafeRawBufferPointer) throws(HTTPParseError) {
        guard let requestLineEnd else {
            if skippedEmptyLine && input.count > lineStart && input[lineStart] == ByteClass.cr {
                throw HTTPParseError(.malformedRequestLine, "more than one empty line before the request line")
            }
            try checkPartialBytes(input[lineStart...], inRequestLine: true)
            try checkPartialMethod(input[lineStart...])
            return
        }
        if checkedUpTo <= headStart {
            _ = try RequestLine(input[headStart..<requestLineEnd])
            checkedUpTo = requestLineEnd + 2
        }
        while checkedUpTo < lineStart {
            var lineEnd = checkedUpTo
            while input[lineEnd] != ByteClass.cr { lineEnd += 1 }
            if input[lineEnd + 1] != ByteClass.lf {
                throw HTTPParseError(.invalidLineEnding, "a bare CR inside a field line")
            }
            _ = try FieldLine.parse(input[checkedUpTo..<lineEnd])
            checkedUpTo = lineEnd + 2
        }
        try checkPartialBytes(input[lineStart...], inRequestLine: false)
    }

    /// The method so far: a request line starts with a token and the token ends at a space, so any other
    /// byte before the first space (or a space first) can never become valid.
    private func checkPartialMethod(_ bytes: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) {
        for index in bytes.indices {
            let byte = bytes[index]
            if byte == ByteClass.space && index != bytes.startIndex { return }
            if byte == ByteClass.cr && index == bytes.endIndex - 1 { return }
            if !ByteClass.isToken(byte) {
                throw HTTPParseError(.malformedRequestLine, "a method that is not a token")
            }
        }
    }

    /// A line without its end yet: a control byte (other than HTAB in a field line) or a CR that is not its
    /// last byte can never become valid.
    private func checkPartialBytes(
        _ bytes: UnsafeRawBufferPointer.SubSequence,
        inRequestLine: Bool
    ) throws(HTTPParseError) {
        for index in bytes.indices {
            let byte = bytes[index]
            if byte == ByteClass.cr {
                if index != bytes.endIndex - 1 {
                    throw HTTPParseError(.invalidLineEnding, "a bare CR")
                }
            } else if byte < 0x20 && (inRequestLine || byte != ByteClass.tab) || byte == 0x7F {
                throw HTTPParseError(
                    inRequestLine ? .malformedRequestLine : .malformedField,
                    "control byte 0x\(String(byte, radix: 16))"
                )
            }
        }
    }

    // MARK: - The complete head

    private func parseHead(
        _ input: UnsafeRawBufferPointer,
        start: Int,
        requestLineEnd: Int,
        end: Int
    ) throws(HTTPParseError) -> HTTPRequestHead {
        let line = try RequestLine(input[start..<requestLineEnd])
        var fields = HTTPFields()
        fields.reserveCapacity(fieldLineCount)
        var framing = FramingFields()
        var lineStart = requestLineEnd + 2
        let headEnd = end - 2
        while lineStart < headEnd {
            var lineEnd = lineStart
            while input[lineEnd] != ByteClass.cr { lineEnd += 1 }
            if input[lineEnd + 1] != ByteClass.lf {
                throw HTTPParseError(.invalidLineEnding, "a bare CR inside a field line")
            }
            let field = try FieldLine.parse(input[lineStart..<lineEnd])
            framing.note(field)
            fields.append(field.makeField())
            lineStart = lineEnd + 2
        }
        return try framing.makeHead(line: line, fields: fields)
    }
}

/// `method SP request-target SP HTTP-version`, checked.
struct RequestLine {
    let method: HTTPRequest.Method
    let target: UnsafeRawBufferPointer.SubSequence
    let version: HTTPVersion

    init(_ line: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) {
        var index = line.startIndex
        while index < line.endIndex && ByteClass.isToken(line[index]) { index += 1 }
        guard index > line.startIndex, index < line.endIndex, line[index] == ByteClass.space else {
            throw RequestLine.malformed(line, at: index, "the method is not a token followed by one space")
        }
        method = RequestLine.method(line[line.startIndex..<index])
        index += 1
        let targetStart = index
        while index < line.endIndex && ByteClass.isVisible(line[index]) { index += 1 }
        guard index > targetStart, index < line.endIndex, line[index] == ByteClass.space else {
            throw RequestLine.malformed(line, at: index, "the target is not visible ASCII followed by one space")
        }
        target = line[targetStart..<index]
        index += 1
        let versionBytes = line[index...]
        guard versionBytes.count == 8, versionBytes.starts(with: "HTTP/".utf8),
            ByteClass.isDigit(versionBytes[index + 5]), versionBytes[index + 6] == UInt8(ascii: "."),
            ByteClass.isDigit(versionBytes[index + 7])
        else {
            throw RequestLine.malformed(line, at: index, "the version is not HTTP/DIGIT.DIGIT at the end of the line")
        }
        version = HTTPVersion(
            major: Int(versionBytes[index + 5] - UInt8(ascii: "0")),
            minor: Int(versionBytes[index + 7] - UInt8(ascii: "0"))
        )
        guard version.major == 1 else {
            throw HTTPParseError(.unsupportedVersion, "\(version) (this server speaks HTTP/1.0 and HTTP/1.1)")
        }
    }

    private static func malformed(
        _ line: UnsafeRawBufferPointer.SubSequence,
        at index: Int,
        _ what: String
    ) -> HTTPParseError {
        if line[line.startIndex..<line.endIndex].contains(ByteClass.cr) {
            return HTTPParseError(.invalidLineEnding, "a bare CR in the request line")
        }
        return HTTPParseError(.malformedRequestLine, "\(what) (byte \(index - line.startIndex))")
    }

    private static func method(_ bytes: UnsafeRawBufferPointer.SubSequence) -> HTTPRequest.Method {
        if bytes.elementsEqual("GET".utf8) { return .get }
        if bytes.elementsEqual("POST".utf8) { return .post }
        if bytes.elementsEqual("HEAD".utf8) { return .head }
        // Already checked to be a token, which is what Method's initializer requires.
        return HTTPRequest.Method(String(decoding: bytes, as: UTF8.self))!
    }
}

/// One `field-name ":" OWS field-value OWS` line, checked, as ranges of the buffer.
struct FieldLine {
    let name: UnsafeRawBufferPointer.SubSequence
    let value: UnsafeRawBufferPointer.SubSequence
    /// No obs-text (bytes ≥ 0x80) in the value.
    let valueIsASCII: Bool

    static func parse(_ line: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) -> FieldLine {
        var index = line.startIndex
        if ByteClass.isWhitespace(line[index]) {
            throw HTTPParseError(.malformedField, "a line starts with whitespace (obs-fold or indented field)")
        }
        while index < line.endIndex && ByteClass.isToken(line[index]) { index += 1 }
        guard index < line.endIndex, line[index] == ByteClass.colon else {
            if index == line.endIndex {
                throw HTTPParseError(.malformedField, "a field line without a colon")
            }
            if ByteClass.isWhitespace(line[index]) {
                throw HTTPParseError(.malformedField, "whitespace between the field name and the colon")
            }
            throw HTTPParseError(.malformedField, "byte 0x\(String(line[index], radix: 16)) in a field name")
        }
        guard index > line.startIndex else {
            throw HTTPParseError(.malformedField, "an empty field name")
        }
        let name = line[line.startIndex..<index]
        let value = ByteClass.trimmed(line[(index + 1)...])
        var high: UInt8 = 0
        for byte in value {
            high |= byte
            if !ByteClass.isFieldValue(byte) {
                if byte == ByteClass.cr {
                    throw HTTPParseError(.invalidLineEnding, "a bare CR in a field value")
                }
                throw HTTPParseError(.malformedField, "control byte 0x\(String(byte, radix: 16)) in a field value")
            }
        }
        return FieldLine(name: name, value: value, valueIsASCII: high < 0x80)
    }

    func makeField() -> HTTPField {
        // The value was checked to hold no CR, LF or NUL, so legalizing changes nothing. ASCII goes through
        // the String initializer (specialized, unlike the generic byte one); obs-text must stay bytes, as
        // decoding it as UTF-8 would replace invalid sequences.
        if valueIsASCII {
            return HTTPField(name: FieldLine.name(name), value: String(decoding: value, as: UTF8.self))
        }
        return HTTPField(name: FieldLine.name(name), value: value)
    }

    /// The field name; the common ones (spelled as clients send them) without building, validating and
    /// lowercasing a string.
    private static func name(_ bytes: UnsafeRawBufferPointer.SubSequence) -> HTTPField.Name {
        switch bytes.count {
        case 6 where bytes.elementsEqual("Accept".utf8):
            return .accept
        case 6 where bytes.elementsEqual("Cookie".utf8):
            return .cookie
        case 10 where bytes.elementsEqual("User-Agent".utf8):
            return .userAgent
        case 10 where bytes.elementsEqual("Connection".utf8):
            return .connection
        case 12 where bytes.elementsEqual("Content-Type".utf8):
            return .contentType
        case 14 where bytes.elementsEqual("Content-Length".utf8):
            return .contentLength
        case 15 where bytes.elementsEqual("Accept-Encoding".utf8):
            return .acceptEncoding
        case 15 where bytes.elementsEqual("Accept-Language".utf8):
            return .acceptLanguage
        default:
            // Checked to be a token, which is what Name's initializer requires.
            return HTTPField.Name(String(decoding: bytes, as: UTF8.self))!
        }
    }
}

/// What the framing and connection fields say, collected while the fields are parsed.
private struct FramingFields {
    var contentLength: UnsafeRawBufferPointer.SubSequence?
    var contentLengthConflict = false
    var transferEncodings: [UnsafeRawBufferPointer.SubSequence] = []
    var hostCount = 0
    var host: UnsafeRawBufferPointer.SubSequence?
    var connectionClose = false
    var connectionKeepAlive = false
    var connectionUpgrade = false
    var hasUpgradeField = false
    var expectsContinue = false

    mutating func note(_ field: FieldLine) {
        let name = field.name
        // Dispatch on length first: most fields are none of these and cost one comparison.
        switch name.count {
        case 4 where ByteClass.equalsIgnoringCase(name, "host"):
            hostCount += 1
            host = field.value
        case 6 where ByteClass.equalsIgnoringCase(name, "expect"):
            expectsContinue = ByteClass.equalsIgnoringCase(field.value, "100-continue")
        case 7 where ByteClass.equalsIgnoringCase(name, "upgrade"):
            hasUpgradeField = true
        case 10 where ByteClass.equalsIgnoringCase(name, "connection"):
            noteConnection(field.value)
        case 14 where ByteClass.equalsIgnoringCase(name, "content-length"):
            if let previous = contentLength, !previous.elementsEqual(field.value) {
                contentLengthConflict = true
            }
            contentLength = field.value
        case 17 where ByteClass.equalsIgnoringCase(name, "transfer-encoding"):
            transferEncodings.append(field.value)
        default:
            break
        }
    }

    private mutating func noteConnection(_ value: UnsafeRawBufferPointer.SubSequence) {
        try? ByteClass.forEachListElement(value) { option in
            if ByteClass.equalsIgnoringCase(option, "close") {
                connectionClose = true
            } else if ByteClass.equalsIgnoringCase(option, "keep-alive") {
                connectionKeepAlive = true
            } else if ByteClass.equalsIgnoringCase(option, "upgrade") {
                connectionUpgrade = true
            }
        }
    }

    func makeHead(line: RequestLine, fields: HTTPFields) throws(HTTPParseError) -> HTTPRequestHead {
        let framing = try bodyFraming(version: line.version)
        if line.version.isAtLeast1_1 && hostCount != 1 {
            throw HTTPParseError(.invalidHost, hostCount == 0 ? "HTTP/1.1 without Host" : "\(hostCount) Host fields")
        }
        if hostCount > 1 {
            throw HTTPParseError(.invalidHost, "\(hostCount) Host fields")
        }
        if let host {
            try RequestTarget.checkHost(host)
        }
        let target = try RequestTarget.parse(line.target, method: line.method)
        let hostText = host.map { String(decoding: $0, as: UTF8.self) }
        let request = HTTPRequest(
            method: line.method,
            scheme: target.scheme,
            authority: target.authority ?? hostText,
            path: target.path,
            headerFields: fields
        )
        let keepAlive = !connectionClose && (line.version.isAtLeast1_1 || connectionKeepAlive)
        return HTTPRequestHead(
            request: request,
            version: line.version,
            target: String(decoding: line.target, as: UTF8.self),
            framing: framing,
            keepAlive: keepAlive,
            expectsContinue: expectsContinue && line.version.isAtLeast1_1,
            wantsUpgrade: (connectionUpgrade && hasUpgradeField) || line.method == .connect
        )
    }

    private func bodyFraming(version: HTTPVersion) throws(HTTPParseError) -> HTTPBodyFraming {
        if !transferEncodings.isEmpty {
            guard version.isAtLeast1_1 else {
                throw HTTPParseError(.invalidFraming, "Transfer-Encoding in an HTTP/1.0 request")
            }
            guard contentLength == nil else {
                throw HTTPParseError(.invalidFraming, "both Content-Length and Transfer-Encoding")
            }
            var codings: [UnsafeRawBufferPointer.SubSequence] = []
            for field in transferEncodings {
                try ByteClass.forEachListElement(field) { (coding) throws(HTTPParseError) in
                    guard !coding.isEmpty, coding.allSatisfy(ByteClass.isToken) else {
                        throw HTTPParseError(.invalidFraming, "a Transfer-Encoding element that is not a coding name")
                    }
                    codings.append(coding)
                }
            }
            let chunkedCount = codings.count { ByteClass.equalsIgnoringCase($0, "chunked") }
            guard let last = codings.last, ByteClass.equalsIgnoringCase(last, "chunked"), chunkedCount == 1 else {
                throw HTTPParseError(
                    .invalidFraming,
                    "Transfer-Encoding must end with a single chunked; the body length cannot be determined"
                )
            }
            guard codings.count == 1 else {
                throw HTTPParseError(.unsupportedTransferCoding, "transfer codings other than chunked")
            }
            return .chunked
        }
        guard let contentLength else { return .none }
        if contentLengthConflict {
            throw HTTPParseError(.invalidContentLength, "Content-Length fields that differ")
        }
        return .length(try FramingFields.length(contentLength))
    }

    /// `1*DIGIT`, or a list of identical ones (RFC 9110 §8.6).
    private static func length(_ value: UnsafeRawBufferPointer.SubSequence) throws(HTTPParseError) -> Int {
        var first: UnsafeRawBufferPointer.SubSequence?
        try ByteClass.forEachListElement(value) { (element) throws(HTTPParseError) in
            guard !element.isEmpty, element.allSatisfy(ByteClass.isDigit) else {
                throw HTTPParseError(.invalidContentLength, "Content-Length is not a decimal number")
            }
            if let first, !first.elementsEqual(element) {
                throw HTTPParseError(.invalidContentLength, "a Content-Length list with different values")
            }
            first = element
        }
        guard let digits = first, digits.count <= 18 else {
            throw HTTPParseError(.invalidContentLength, "Content-Length longer than 18 digits")
        }
        return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }
}
