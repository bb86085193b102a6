// The libFuzzer target over the request parser (scripts/fuzz-http.sh builds it with
// -sanitize=fuzzer,address). Each input is parsed whole and again fed in two pieces split where its first
// byte says: both must agree (incremental parsing must not change the verdict), and a head that parses
// has its body decoded by the chunked decoder. Small limits make the limit paths reachable.
import GeventHTTPParser

let limits = HTTPParserLimits(maxRequestLineLength: 512, maxHeadSize: 2048, maxFieldCount: 16, maxChunkLineLength: 128)

enum Result: Equatable {
    case head(consumed: Int, target: String, fields: Int, framing: HTTPBodyFraming)
    case rejected(HTTPParseError.Kind)
    case incomplete
}

func parseWhole(_ input: UnsafeRawBufferPointer) -> Result {
    var parser = HTTPRequestHeadParser(limits: limits)
    return outcome { () throws(HTTPParseError) in try parser.parse(input) }
}

func parseSplit(_ input: UnsafeRawBufferPointer, at split: Int) -> Result {
    var parser = HTTPRequestHeadParser(limits: limits)
    let first = outcome { () throws(HTTPParseError) in
        try parser.parse(UnsafeRawBufferPointer(rebasing: input[..<split]))
    }
    guard first == .incomplete else { return first }
    return outcome { () throws(HTTPParseError) in try parser.parse(input) }
}

func outcome(_ parse: () throws(HTTPParseError) -> (head: HTTPRequestHead, consumed: Int)?) -> Result {
    do {
        guard let (head, consumed) = try parse() else { return .incomplete }
        return .head(
            consumed: consumed,
            target: head.target,
            fields: head.request.headerFields.count,
            framing: head.framing
        )
    } catch {
        return .rejected(error.kind)
    }
}

func decodeBody(_ input: UnsafeRawBufferPointer) {
    var decoder = ChunkedBodyDecoder(limits: limits)
    var offset = 0
    while offset <= input.count {
        guard let (consumed, step) = try? decoder.decode(UnsafeRawBufferPointer(rebasing: input[offset...])) else {
            return
        }
        precondition(consumed <= input.count - offset, "the decoder consumed more than it was given")
        switch step {
        case .needMore, .end: return
        case .framing: precondition(consumed > 0, "a framing step that consumed nothing")
        case .data(let count): precondition(count == consumed && count > 0, "a data step of \(count)/\(consumed)")
        }
        offset += consumed
    }
}

/// libFuzzer's callback. Its own `main` (linked in by `-sanitize=fuzzer`, though unused) refers to it by
/// this name.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = parseWhole(input)
    if size > 1 {
        let split = Int(input[0]) % size
        let pieces = parseSplit(input, at: split)
        // Fed in pieces, invalid bytes may be caught by an earlier rule than when the head is whole: the
        // kind may differ, the verdict may not.
        switch (whole, pieces) {
        case (.rejected, .rejected): break
        default: precondition(whole == pieces, "split at \(split) gave \(pieces), whole input \(whole)")
        }
    }
    if case .head(let consumed, _, _, let framing) = whole, framing == .chunked {
        decodeBody(UnsafeRawBufferPointer(rebasing: input[consumed...]))
    }
    decodeBody(input)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The entry point: SwiftPM links executables with `main` defined as `<module>_main`, and libFuzzer's own
/// `main` is not used, so the driver is started from here.
@_cdecl("HTTPParserFuzzer_main")
func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}
