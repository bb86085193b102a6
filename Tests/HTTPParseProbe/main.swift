// Prints how GeventHTTPParser reads each request file given as an argument, one line per file, for
// scripts/http-differential.py to compare with h11:
//
//     accept METHOD TARGET BODY NAME=VALUE NAME=VALUE ...     (every item hex-encoded)
//     reject KIND
//     incomplete
//
// `HTTPParseProbe --bench N` instead parses a typical browser request head N times and prints the time per
// head (build it with -c release for a meaningful figure).
import GeventHTTPParser
import HTTPTypes

#if canImport(Glibc)
import Glibc
#endif

func hex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 15)])
    }
    return text.isEmpty ? "-" : String(decoding: text, as: UTF8.self)
}

func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { return bytes }
        bytes += chunk[..<count]
    }
}

enum Outcome {
    case accept(HTTPRequestHead, body: [UInt8])
    case reject(HTTPParseError)
    case incomplete
}

func interpret(_ input: [UInt8]) -> Outcome {
    do {
        var parser = HTTPRequestHeadParser()
        guard let (head, consumed) = try input.withUnsafeBytes({ try parser.parse($0) }) else { return .incomplete }
        let rest = Array(input[consumed...])
        switch head.framing {
        case .none:
            return .accept(head, body: [])
        case .length(let length):
            guard rest.count >= length else { return .incomplete }
            return .accept(head, body: Array(rest[..<length]))
        case .chunked:
            var decoder = ChunkedBodyDecoder()
            var body: [UInt8] = []
            var offset = 0
            while true {
                let (consumed, step) = try rest[offset...].withUnsafeBytes { try decoder.decode($0) }
                switch step {
                case .needMore: return .incomplete
                case .framing: break
                case .data(let count): body += rest[offset..<(offset + count)]
                case .end: return .accept(head, body: body)
                }
                offset += consumed
            }
        }
    } catch let error as HTTPParseError {
        return .reject(error)
    } catch {
        fatalError("the parser threw \(error)")
    }
}

func benchmark(_ iterations: Int) {
    let head = Array(
        ("GET /index.html?query=1 HTTP/1.1\r\nHost: www.example.com\r\n"
            + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
            + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            + "Accept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate, br\r\n"
            + "Connection: keep-alive\r\nCookie: session=0123456789abcdef\r\n\r\n").utf8
    )
    var parser = HTTPRequestHeadParser()
    var checksum = 0
    let start = ContinuousClock.now
    head.withUnsafeBytes { raw in
        for _ in 0..<iterations {
            if let (parsed, consumed) = try? parser.parse(raw) {
                checksum &+= consumed &+ parsed.request.headerFields.count
            }
        }
    }
    let elapsed = ContinuousClock.now - start
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    print(
        "\(iterations) heads of \(head.count) bytes, 7 fields: \(Int(nanoseconds / Double(iterations))) ns per head "
            + "(checksum \(checksum))"
    )
}

if CommandLine.arguments.count == 3 && CommandLine.arguments[1] == "--bench" {
    benchmark(Int(CommandLine.arguments[2]) ?? 100_000)
    exit(0)
}

for path in CommandLine.arguments.dropFirst() {
    guard let input = readFile(path) else {
        print("error cannot-read")
        continue
    }
    switch interpret(input) {
    case .accept(let head, let body):
        var line = "accept \(hex(head.request.method.rawValue.utf8)) \(hex(head.target.utf8)) \(hex(body))"
        for field in head.request.headerFields {
            var value: [UInt8] = []
            field.withUnsafeBytesOfValue { value = Array($0) }
            line += " \(hex(field.name.canonicalName.utf8))=\(hex(value))"
        }
        print(line)
    case .reject(let error):
        print("reject \(error.kind.rawValue)")
    case .incomplete:
        print("incomplete")
    }
}
