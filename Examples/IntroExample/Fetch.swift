import CCurl
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// A failed step of the demo, with what went wrong.
struct DemoError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Fetches `path` with gevent's cooperative ``Socket``: resolves `host` with the hub's resolver, sends a
/// GET, reads to the end. Returns the number of bytes received.
func fetchWithSocket(host: String, port: Int, path: String) throws -> Int {
    let socket = try createConnection(host: host, port: port, timeout: .seconds(30))
    defer { socket.close() }
    try socket.sendAll(Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n\r\n".utf8))
    let response = try socket.makeReader().readToEnd()
    guard response.starts(with: Array("HTTP/1.1 200 ".utf8)) else {
        throw DemoError("GET \(path): unexpected answer \(String(decoding: response.prefix(40), as: UTF8.self))")
    }
    return response.count
}

/// Fetches `url` with libcurl's easy API: plain blocking C, unaware of greenlets. Returns the number of
/// body bytes received.
func fetchWithCurl(_ url: String) throws -> Int {
    guard let handle = curl_easy_init() else { throw DemoError("curl_easy_init failed") }
    defer { curl_easy_cleanup(handle) }
    var received = 0
    ccurl_easy_setopt_string(handle, CURLOPT_URL, url)
    ccurl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
    ccurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, 30_000)
    ccurl_easy_setopt_write_function(handle) { _, size, count, counter in
        counter!.assumingMemoryBound(to: Int.self).pointee += size * count
        return size * count
    }
    let code = withUnsafeMutablePointer(to: &received) { counter in
        ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, counter)
        return curl_easy_perform(handle)
    }
    guard code == CURLE_OK else { throw DemoError("\(url): \(String(cString: curl_easy_strerror(code)))") }
    var status = 0
    ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    guard status == 200 else { throw DemoError("\(url): HTTP status \(status)") }
    return received
}

/// Runs `body`, checks it fetched something every time, and prints one line: what, how many, how long,
/// and how many times faster than `baseline`.
func measure(_ label: String, against baseline: Duration? = nil, _ body: () throws -> [Int]) throws -> Duration {
    let started = ContinuousClock.now
    let sizes = try body()
    let elapsed = ContinuousClock.now - started
    guard sizes.allSatisfy({ $0 > 0 }) else { throw DemoError("\(label): an empty response") }
    var line =
        "  \(label.padding(toLength: 44))\(sizes.count) responses in \(milliseconds(elapsed).leftPadded(toLength: 5)) ms"
    if let baseline {
        let ratio = baseline / elapsed
        line += ", \(Int(ratio.rounded()))x faster"
    }
    print(line)
    return elapsed
}

func milliseconds(_ duration: Duration) -> Int {
    Int(duration / .milliseconds(1))
}

/// This machine's host name (gethostname).
func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Int {
    func leftPadded(toLength length: Int) -> String {
        let text = "\(self)"
        return String(repeating: " ", count: Swift.max(0, length - text.count)) + text
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self + " " : self + String(repeating: " ", count: length - count)
    }
}
