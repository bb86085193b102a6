import GeventHTTPParser
import HTTPTypes
import Testing

@Suite struct HTTPRequestHeadParserTests {
    // MARK: - Valid requests

    @Test func parsesAnOriginFormRequest() throws {
        let head = try #require(
            try parseHead("GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \r\n\r\n")
        )
        #expect(head.request.method == .get)
        #expect(head.request.path == "/a/b?c=d")
        #expect(head.request.authority == "example.com")
        #expect(head.request.scheme == nil)
        #expect(head.version == .http1_1)
        #expect(head.target == "/a/b?c=d")
        #expect(head.request.headerFields[HTTPField.Name("x-thing")!] == "spaced value")
        #expect(head.request.headerFields.count == 2)
        #expect(head.framing == .none)
        #expect(head.keepAlive)
    }

    @Test func reportsTheBytesTheHeadTookSoPipelinedRequestsFollow() throws {
        let first = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
        let bytes = Array((first + "GET /2 HTTP/1.1\r\nHost: h\r\n\r\n").utf8)
        let parsed = try #require(try parseHead(bytes))
        #expect(parsed.consumed == first.utf8.count)
        let second = try #require(try parseHead(Array(bytes[parsed.consumed...])))
        #expect(second.head.target == "/2")
    }

    @Test func rejectsAPartialRequestLineWhoseMethodCannotBeAToken() {
        #expect(rejection(" :GET http://x") == .malformedRequestLine)
        #expect(rejection("GE(T / HTTP/1.1") == .malformedRequestLine)
        #expect(rejection("GET /partial") == nil, "still incomplete, not invalid")
    }

    @Test func waitsForTheEmptyLineAcrossManyReads() throws {
        let text = Array("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n".utf8)
        var parser = HTTPRequestHeadParser()
        for end in 1..<text.count {
            let result = try Array(text[..<end]).withUnsafeBytes { raw in try parser.parse(raw) }
            #expect(result == nil, "complete after \(end) of \(text.count) bytes")
        }
        let result = try text.withUnsafeBytes { raw in try parser.parse(raw) }
        #expect(result?.head.framing == .length(3))
        #expect(result?.consumed == text.count)
    }

    @Test func skipsOneEmptyLineBeforeTheRequestLine() throws {
        let head = try #require(try parseHead("\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(head.target == "/")
        #expect(rejection("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == .malformedRequestLine)
    }

    @Test func rejectsAnIncompleteHeadAsSoonAsItCannotBecomeValid() {
        #expect(rejection("\u{0}\u{14}") == .malformedRequestLine)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX\u{1}") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb") == .invalidLineEnding)
        #expect(rejection("GET / HTTP/1.1\r\nHost : h\r\nX: 1") == .malformedField)
        #expect(rejection("GET / HTTP/9.1\r\nHost: h\r\n") == .unsupportedVersion)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\t") == nil)
    }

    @Test func acceptsAbsoluteFormAndTakesTheAuthorityFromIt() throws {
        let head = try #require(try parseHead("GET http://Example.org:8080?q HTTP/1.1\r\nHost: other\r\n\r\n"))
        #expect(head.request.scheme == "http")
        #expect(head.request.authority == "Example.org:8080")
        #expect(head.request.path == "/?q")
    }

    @Test func acceptsAuthorityFormForConnectAndAsteriskForOptions() throws {
        let connect = try #require(try parseHead("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n"))
        #expect(connect.request.authority == "example.org:443")
        #expect(connect.request.path == nil)
        #expect(connect.wantsUpgrade)
        let options = try #require(try parseHead("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(options.request.path == "*")
    }

    @Test func rejectsTargetFormsTheMethodDoesNotAllow() {
        #expect(rejection("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET example.org:443 HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET ftp://h/x HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET http://user@h/x HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET ! HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
        #expect(rejection("GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n") == .invalidTarget)
    }

    // MARK: - Request line

    @Test func rejectsMalformedRequestLines() {
        for line in [
            "GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /  HTTP/1.1", "G(T / HTTP/1.1", " GET / HTTP/1.1",
            "GET / HTTP/1.32", "GET / http/1.1", "GET / HTTP/1.1x", "GET /", "GET / HTTP/1", "GET\t/ HTTP/1.1",
            "GET /\u{7F} HTTP/1.1",
        ] {
            #expect(rejection(line + "\r\nHost: h\r\n\r\n") == .malformedRequestLine, "\(line.debugDescription)")
        }
    }

    @Test func rejectsVersionsOtherThanOneWith505() throws {
        #expect(rejection("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == .unsupportedVersion)
        #expect(rejection("GET / HTTP/0.9\r\nHost: h\r\n\r\n") == .unsupportedVersion)
        #expect(HTTPParseError(.unsupportedVersion, "").status == .httpVersionNotSupported)
    }

    @Test func rejectsARequestLineOverTheLimitWith414EvenBeforeItEnds() {
        let limits = HTTPParserLimits(maxRequestLineLength: 64)
        let long = "GET /" + String(repeating: "a", count: 80)
        #expect(rejection(long, limits: limits) == .requestLineTooLong)
        #expect(rejection(long + " HTTP/1.1\r\nHost: h\r\n\r\n", limits: limits) == .requestLineTooLong)
        let fits = "GET /" + String(repeating: "a", count: 50) + " HTTP/1.1"
        #expect(fits.utf8.count == 64)
        #expect(rejection(fits + "\r\nHost: h\r\n\r\n", limits: limits) == nil)
        #expect(HTTPParseError(.requestLineTooLong, "").status == .uriTooLong)
    }

    // MARK: - Line endings

    @Test func rejectsBareLineFeeds() {
        #expect(rejection("GET / HTTP/1.1\nHost: h\r\n\r\n") == .invalidLineEnding)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\n\r\n") == .invalidLineEnding)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\n\n") == .invalidLineEnding)
    }

    @Test func rejectsABareCarriageReturnThatWouldSmuggleAField() {
        // CVE-2023-30589: a parser that ends a line at a bare CR sees a second field here.
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: \rTransfer-Encoding: chunked\r\n\r\n") == .invalidLineEnding)
        #expect(rejection("GET / HTTP/1.1\rHost: h\r\n\r\n") == .invalidLineEnding)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\r\n\r\n") == .invalidLineEnding)
    }

    // MARK: - Field lines

    @Test func rejectsObsFoldAndWhitespaceBeforeTheFirstField() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n") == .malformedField)
    }

    @Test func rejectsWhitespaceBetweenTheNameAndTheColon() {
        #expect(rejection("GET / HTTP/1.1\r\nHost : h\r\n\r\n") == .malformedField)
        #expect(rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 2\r\n\r\n") == .malformedField)
    }

    @Test func rejectsInvalidNamesAndMissingColons() {
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nBad(Name): v\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nN\u{0}me: v\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nNäme: v\r\n\r\n") == .malformedField)
    }

    @Test func rejectsControlBytesInValuesButKeepsObsText() throws {
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{7F}b\r\n\r\n") == .malformedField)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\nX: a\u{1}b\r\n\r\n") == .malformedField)
        let head = try #require(try parseHead("GET / HTTP/1.1\r\nHost: h\r\nX: caf\u{E9}\tau lait\r\n\r\n"))
        #expect(head.request.headerFields[HTTPField.Name("x")!] == "caf\u{E9}\tau lait")
        // A Latin-1 byte is not UTF-8: it must reach the handler as the same byte, not as U+FFFD.
        let bytes = Array("GET / HTTP/1.1\r\nHost: h\r\nX: caf".utf8) + [0xE9] + Array("\r\n\r\n".utf8)
        let latin1 = try #require(
            try parseHead(bytes)?.head.request.headerFields.first { $0.name.canonicalName == "x" }
        )
        var value: [UInt8] = []
        latin1.withUnsafeBytesOfValue { value = Array($0) }
        #expect(value == Array("caf".utf8) + [0xE9])
    }

    @Test func rejectsMoreFieldsThanTheLimitWith431() {
        let limits = HTTPParserLimits(maxFieldCount: 3)
        let fields = (0..<3).map { "X-\($0): v\r\n" }.joined()
        #expect(rejection("GET / HTTP/1.1\r\n" + fields + "\r\n", limits: limits) == .invalidHost)
        #expect(rejection("GET / HTTP/1.1\r\nHost: h\r\n" + fields + "\r\n", limits: limits) == .tooManyFields)
        #expect(HTTPParseError(.tooManyFields, "").status == .requestHeaderFieldsTooLarge)
    }

    @Test func rejectsAHeadOverTheSizeLimitWith431EvenBeforeItEnds() {
        let limits = HTTPParserLimits(maxHeadSize: 256)
        let big = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 300)
        #expect(rejection(big, limits: limits) == .headTooLarge)
        #expect(rejection(big + "\r\n\r\n", limits: limits) == .headTooLarge)
        #expect(HTTPParseError(.headTooLarge, "").status == .requestHeaderFieldsTooLarge)
    }

    // MARK: - Host

    @Test func requiresExactlyOneValidHostOnHTTP11() throws {
        #expect(rejection("GET / HTTP/1.1\r\n\r\n") == .invalidHost)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == .invalidHost)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a b\r\n\r\n") == .invalidHost)
        #expect(rejection("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n") == .invalidHost)
        #expect(try parseHead("GET / HTTP/1.0\r\n\r\n") != nil)
        #expect(try parseHead("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")?.request.authority == "[::1]:80")
    }

    // MARK: - Framing

    @Test func readsContentLengthIncludingAListOfIdenticalValues() throws {
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 42\r\n\r\n")?.framing == .length(42))
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n")?.framing == .length(5))
        #expect(
            try parseHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")?.framing
                == .length(5)
        )
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n")?.framing == .length(7))
    }

    @Test func rejectsContentLengthsThatAreNotOneDecimalNumber() {
        for value in ["+5", "-1", "0x10", "1_000", "", "5 5", "5, 6", "1e3", "99999999999999999999", "5,"] {
            #expect(
                rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n") == .invalidContentLength,
                "Content-Length: \(value)"
            )
        }
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
                == .invalidContentLength
        )
    }

    @Test func acceptsChunkedInAnyCase() throws {
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")?.framing == .chunked)
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")?.framing == .chunked)
    }

    @Test func rejectsContentLengthWithTransferEncodingInEitherOrder() {
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .invalidFraming
        )
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                == .invalidFraming
        )
    }

    @Test func rejectsCodingListsThatDoNotEndInOneChunked() {
        for value in ["chunked, identity", "identity", "xchunked", "chunked\u{B}", "chunked, chunked", "", ","] {
            #expect(
                rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \(value)\r\n\r\n") != nil,
                "Transfer-Encoding: \(value.debugDescription)"
            )
        }
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n") == .invalidFraming
        )
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .invalidFraming
        )
    }

    @Test func answersOtherCodingsBeforeChunkedWith501() {
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
                == .unsupportedTransferCoding
        )
        #expect(
            rejection("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .unsupportedTransferCoding
        )
        #expect(HTTPParseError(.unsupportedTransferCoding, "").status == .notImplemented)
    }

    @Test func rejectsTransferEncodingOnHTTP10() {
        #expect(rejection("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == .invalidFraming)
    }

    // MARK: - Connection handling

    @Test func appliesTheKeepAliveRulesOfEachVersion() throws {
        #expect(try parseHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")?.keepAlive == true)
        #expect(try parseHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")?.keepAlive == false)
        #expect(try parseHead("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, CLOSE\r\n\r\n")?.keepAlive == false)
        #expect(try parseHead("GET / HTTP/1.0\r\n\r\n")?.keepAlive == false)
        #expect(try parseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")?.keepAlive == true)
        #expect(try parseHead("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")?.keepAlive == false)
    }

    @Test func notesExpectContinueOnHTTP11Only() throws {
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n")?.expectsContinue == true)
        #expect(try parseHead("POST / HTTP/1.1\r\nHost: h\r\n\r\n")?.expectsContinue == false)
        #expect(try parseHead("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")?.expectsContinue == false)
    }

    @Test func notesUpgradeRequests() throws {
        let upgrade = "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
        #expect(try parseHead(upgrade)?.wantsUpgrade == true)
        #expect(try parseHead("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n")?.wantsUpgrade == false)
    }
}
