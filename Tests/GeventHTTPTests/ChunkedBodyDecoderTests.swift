import GeventHTTPParser
import HTTPTypes
import Testing

@Suite struct ChunkedBodyDecoderTests {
    private func rejection(_ text: String) -> HTTPParseError.Kind? {
        do {
            _ = try decodeChunked(text)
            return nil
        } catch {
            return (error as? HTTPParseError)?.kind
        }
    }

    @Test func decodesChunksWhetherFedWholeOrByteByByte() throws {
        let body = "5\r\nhello\r\n7;name=value;flag\r\n, world\r\nA\r\n0123456789\r\n0\r\n\r\n"
        for pieceSize in [1, 2, 3, 7, .max] {
            let decoded = try #require(try decodeChunked(body, pieceSize: pieceSize))
            #expect(String(decoding: decoded.body, as: UTF8.self) == "hello, world0123456789", "pieces of \(pieceSize)")
            #expect(decoded.trailers.isEmpty)
        }
    }

    @Test func keepsTrailerFields() throws {
        let decoded = try #require(try decodeChunked("3\r\nabc\r\n0\r\nX-Sum: 1\r\nX-Other: 2\r\n\r\n", pieceSize: 1))
        #expect(decoded.trailers[HTTPField.Name("x-sum")!] == "1")
        #expect(decoded.trailers.count == 2)
    }

    @Test func rejectsFramingFieldsInTheTrailerSection() {
        #expect(rejection("3\r\nabc\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n") == .malformedChunk)
        #expect(rejection("3\r\nabc\r\n0\r\nX-Sum: 1\r\ncontent-length: 3\r\n\r\n") == .malformedChunk)
    }

    @Test func acceptsQuotedExtensionsAndSpaceAfterTheSemicolon() throws {
        let decoded = try #require(try decodeChunked("3; a = \"q\\\"x\";b \r\nabc\r\n0\r\n\r\n"))
        #expect(decoded.body == Array("abc".utf8))
    }

    /// RFC 9112 allows BWS before ";", h11 and others do not: two readings of one chunk line are a
    /// smuggling risk, so the line is rejected.
    @Test func rejectsWhitespaceBeforeAnExtensionsSemicolon() {
        for line in ["3 ;a", "3\t;a", "3;a ;b", "3;a=\"v\"\t;b"] {
            #expect(rejection("\(line)\r\nabc\r\n0\r\n\r\n") == .malformedChunk, "size line \(line.debugDescription)")
        }
    }

    @Test func waitsForTheRestOfAnIncompleteBody() throws {
        #expect(try decodeChunked("5\r\nhel") == nil)
        #expect(try decodeChunked("5\r\nhello\r\n0\r\n") == nil)
    }

    @Test func rejectsInvalidChunkSizes() {
        for line in ["0x1", "Z", "", " 1", "-1", "1_0", "1 0", "1234567890ABCDEF"] {
            #expect(rejection("\(line)\r\nx\r\n0\r\n\r\n") == .malformedChunk, "size line \(line.debugDescription)")
        }
    }

    @Test func rejectsDataThatDoesNotEndWhereItsSizeSays() {
        #expect(rejection("3\r\nabcd\r\n0\r\n\r\n") == .malformedChunk)
        #expect(rejection("3\r\nabc0\r\n\r\n") == .malformedChunk)
        #expect(rejection("3\r\nabc\n0\r\n\r\n") == .malformedChunk)
    }

    @Test func rejectsBareLineFeedsAndCarriageReturnsInSizeLines() {
        #expect(rejection("3\nabc\r\n0\r\n\r\n") == .malformedChunk)
        #expect(rejection("3;a=\rb\r\nabc\r\n0\r\n\r\n") == .malformedChunk)
        #expect(rejection("3\r\nabc\r\n0\n\r\n") == .malformedChunk)
        #expect(rejection("3\r\nabc\r\n0\r\n\n") == .malformedChunk)
    }

    @Test func rejectsMalformedExtensions() {
        for ext in [";", "; =v", ";a=", ";a=\"open", "x", ";a=b c"] {
            #expect(rejection("3\(ext)\r\nabc\r\n0\r\n\r\n") == .malformedChunk, "extension \(ext.debugDescription)")
        }
    }

    @Test func rejectsAnOverlongSizeLine() {
        let ext = ";" + String(repeating: "a", count: 5000)
        #expect(rejection("3\(ext)\r\nabc\r\n0\r\n\r\n") == .malformedChunk)
    }

    @Test func rejectsMalformedAndOversizedTrailers() {
        #expect(rejection("0\r\nX : v\r\n\r\n") == .malformedField)
        #expect(rejection("0\r\n folded\r\n\r\n") == .malformedField)
        let many = (0..<101).map { "X-\($0): v\r\n" }.joined()
        #expect(rejection("0\r\n" + many + "\r\n") == .tooManyFields)
        let big = "X: " + String(repeating: "v", count: 70_000) + "\r\n"
        #expect(rejection("0\r\n" + big + "\r\n") != nil)
    }
}
