import GeventHTTPParser
import HTTPTypes
import Testing

/// Parses `text` as one complete head with `limits`; `nil` if the parser wants more bytes.
func parseHead(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) throws -> HTTPRequestHead? {
    try parseHead(Array(text.utf8), limits: limits)?.head
}

func parseHead(
    _ bytes: [UInt8],
    limits: HTTPParserLimits = HTTPParserLimits()
) throws -> (head: HTTPRequestHead, consumed: Int)? {
    var parser = HTTPRequestHeadParser(limits: limits)
    return try bytes.withUnsafeBytes { raw in try parser.parse(raw) }
}

/// The kind of error parsing `text` throws, or `nil` if it parses (or is incomplete).
func rejection(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseError.Kind? {
    do {
        _ = try parseHead(text, limits: limits)
        return nil
    } catch {
        return (error as? HTTPParseError)?.kind
    }
}

/// Decodes a whole chunked body fed in pieces of `pieceSize` bytes; the data and the trailers, or `nil` if
/// the input ends before the body does.
func decodeChunked(
    _ text: String,
    pieceSize: Int = .max
) throws -> (body: [UInt8], trailers: HTTPFields)? {
    let input = Array(text.utf8)
    var decoder = ChunkedBodyDecoder()
    var buffered: [UInt8] = []
    var body: [UInt8] = []
    var fed = 0
    while true {
        let (consumed, found) = try buffered.withUnsafeBytes { raw in try decoder.decode(raw) }
        switch found {
        case .needMore:
            guard fed < input.count else { return nil }
            let next = fed + min(pieceSize, input.count - fed)
            buffered += input[fed..<next]
            fed = next
        case .framing:
            break
        case .data(let count):
            body += buffered[..<count]
        case .end(let trailers):
            return (body, trailers)
        }
        buffered.removeFirst(consumed)
    }
}
