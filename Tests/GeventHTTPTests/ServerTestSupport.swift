import Gevent
import GeventHTTP
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` as the main greenlet of a fresh hub and destroys the hub afterwards.
func withHub(_ body: () throws -> Void) throws {
    #expect(Hub.currentIfExists == nil, "a previous test left a hub on this thread")
    let hub = Hub.current
    defer { try? hub.destroy() }
    try body()
}

/// Runs `body` with a started server on 127.0.0.1 (kernel-chosen port) in a fresh hub, then stops it.
func withServer(
    _ configuration: HTTPServerConfiguration = HTTPServerConfiguration(),
    handler: @escaping HTTPServer.Handler,
    _ body: (HTTPServer) throws -> Void
) throws {
    try withHub {
        let server = try HTTPServer(listener: "127.0.0.1:0", configuration: configuration, handler: handler)
        try server.start()
        defer { try? server.stop(timeout: .seconds(2)) }
        try body(server)
    }
}

/// A response as a test client reads it.
struct RawResponse {
    var status: Int
    var fields: [(name: String, value: String)]
    var body: [UInt8]

    func field(_ name: String) -> String? {
        fields.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A raw HTTP/1.1 client over a cooperative socket, with a response reader independent of the server's
/// parser (Content-Length, chunked, or until close).
final class TestClient {
    let socket: Socket
    private var buffered: [UInt8] = []

    init(_ server: HTTPServer) throws {
        socket = try Socket(family: .inet, type: .stream)
        socket.timeout = .seconds(10)
        try socket.connect(to: server.address)
    }

    func send(_ text: String) throws {
        try socket.sendAll(Array(text.utf8))
    }

    /// Bytes read past the last response (an upgraded protocol's first bytes).
    func takeBuffered() -> [UInt8] {
        defer { buffered = [] }
        return buffered
    }

    /// Reads until the peer closes; `true` if it closed without sending more (a reset counts as closed).
    func isClosedByPeer() throws -> Bool {
        do {
            while true {
                let chunk = try socket.recv(maxBytes: 65536)
                if chunk.isEmpty { return buffered.isEmpty }
                buffered += chunk
            }
        } catch let error as SocketError where error.code == .connectionReset {
            return true
        }
    }

    /// Reads one response; `nil` if the connection closed before one began. `head` for a HEAD request.
    func readResponse(head: Bool = false) throws -> RawResponse? {
        guard let headEnd = try readUntil("\r\n\r\n") else { return nil }
        let headText = String(decoding: buffered[..<headEnd], as: UTF8.self)
        buffered.removeFirst(headEnd + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
        let statusLine = lines.removeFirst().split(separator: " ")
        var response = RawResponse(status: Int(statusLine[1])!, fields: [], body: [])
        for line in lines {
            let colon = line.firstIndex(of: ":")!
            let value = line[line.index(after: colon)...].drop { $0 == " " }
            response.fields.append((String(line[..<colon]), String(value)))
        }
        if head || response.status < 200 || response.status == 204 || response.status == 304 {
            return response
        }
        if let length = response.field("content-length").flatMap({ Int($0) }) {
            try fill(atLeast: length)
            response.body = Array(buffered[..<length])
            buffered.removeFirst(length)
        } else if response.field("transfer-encoding") == "chunked" {
            while true {
                let lineEnd = try #require(try readUntil("\r\n"))
                let size = Int(String(decoding: buffered[..<lineEnd], as: UTF8.self), radix: 16)!
                buffered.removeFirst(lineEnd + 2)
                if size == 0 {
                    let trailerEnd = try #require(try readUntil("\r\n"))
                    buffered.removeFirst(trailerEnd + 2)
                    break
                }
                try fill(atLeast: size + 2)
                response.body += buffered[..<size]
                buffered.removeFirst(size + 2)
            }
        } else {
            _ = try isClosedByPeer()
            response.body = buffered
            buffered = []
        }
        return response
    }

    private func readUntil(_ marker: String) throws -> Int? {
        let pattern = Array(marker.utf8)
        var searchFrom = 0
        while true {
            if buffered.count >= pattern.count {
                for index in searchFrom...(buffered.count - pattern.count)
                where buffered[index..<(index + pattern.count)].elementsEqual(pattern) {
                    return index
                }
                searchFrom = buffered.count - pattern.count + 1
            }
            let chunk = try socket.recv(maxBytes: 65536)
            if chunk.isEmpty { return nil }
            buffered += chunk
        }
    }

    private func fill(atLeast count: Int) throws {
        while buffered.count < count {
            let chunk = try socket.recv(maxBytes: 65536)
            if chunk.isEmpty { throw SocketError(code: .connectionReset, operation: "read a response body") }
            buffered += chunk
        }
    }
}

/// The TCP sockets this process holds open whose local or remote port is `port` (both ends of loopback
/// connections to a server on it), from /proc/net/tcp matched against /proc/self/fd. Sockets of other
/// suites running at the same time have other ports.
func openSockets(port: Int) -> Int {
    var ours = Set<String>()
    if let directory = opendir("/proc/self/fd") {
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = direntName(entry)
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
            let text = String(decoding: target[..<max(length, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("socket:[") {
                ours.insert(String(text.dropFirst(8).dropLast()))
            }
        }
    }
    let hex = String(port, radix: 16, uppercase: true)
    let hexPort = ":" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    var count = 0
    for line in run("cat /proc/net/tcp").output.split(separator: "\n").dropFirst() {
        let columns = line.split(separator: " ")
        guard columns.count > 9, ours.contains(String(columns[9])) else { continue }
        if columns[1].hasSuffix(hexPort) || columns[2].hasSuffix(hexPort) {
            count += 1
        }
    }
    return count
}

/// Answers "hello PATH".
func hello(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws {
    try response.respond(HTTPResponse(status: .ok), body: "hello \(request.path ?? "")")
}

/// Answers with the request body.
func echo(_ request: HTTPServerRequest, _ response: HTTPResponseWriter) throws {
    let body = try request.body.collect(upTo: 1 << 24)
    try response.respond(HTTPResponse(status: .ok), body: body)
}

/// The name of a directory entry, read in place: glibc sizes the last entry of its buffer by the name's
/// length, so copying a whole `dirent` (as `entry.pointee.d_name` does) can read past the allocation.
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}
