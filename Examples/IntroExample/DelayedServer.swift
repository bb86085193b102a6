import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The demo's HTTP server: a ``StreamServer`` on 127.0.0.1 that answers every request after `delay`.
///
/// It runs on a native thread with a hub of its own, so it keeps answering whatever the main thread does,
/// as a remote service would.
final class DelayedServer: Sendable {
    let port: Int

    /// Starts the server thread and waits until it listens.
    init(delay: Duration) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw DemoError("pipe: \(String(cString: strerror(errno)))") }
        defer {
            close(fds[0])
        }
        let start = Unmanaged.passRetained(ServerStart(delay: delay, reportFD: fds[1])).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { serve($0) }, start)
        guard status == 0 else {
            Unmanaged<ServerStart>.fromOpaque(start).release()
            close(fds[1])
            throw DemoError("pthread_create: \(String(cString: strerror(status)))")
        }
        pthread_detach(thread)
        var port: Int32 = -1
        while read(fds[0], &port, 4) < 0 && errno == EINTR {}
        guard port > 0 else { throw DemoError("the server thread could not listen on 127.0.0.1") }
        self.port = Int(port)
    }
}

/// What the server thread needs: the delay and where to write the port (or -1).
private final class ServerStart {
    let delay: Duration
    let reportFD: Int32

    init(delay: Duration, reportFD: Int32) {
        self.delay = delay
        self.reportFD = reportFD
    }

    func report(_ port: Int32) {
        var port = port
        _ = write(reportFD, &port, 4)
        close(reportFD)
    }
}

private func serve(_ argument: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let start = Unmanaged<ServerStart>.fromOpaque(argument!).takeRetainedValue()
    do {
        let delay = start.delay
        let server = try StreamServer(listener: "127.0.0.1:0", backlog: 1024) { client, _ in
            try answer(client, after: delay)
        }
        try server.start()
        start.report(Int32(server.address.port ?? -1))
        try server.serveForever()
    } catch {
        print("the demo server failed: \(error)")
        start.report(-1)
    }
    return nil
}

/// Reads one request (up to its blank line), waits `delay`, answers with a short text naming the path.
private func answer(_ client: Socket, after delay: Duration) throws {
    let reader = client.makeReader()
    let requestLine = String(decoding: try reader.readLine(maxLength: 8192), as: UTF8.self)
    while true {
        let header = try reader.readLine(maxLength: 8192)
        if header.isEmpty || header == Array("\r\n".utf8) || header == [UInt8(ascii: "\n")] { break }
    }
    let parts = requestLine.split(separator: " ")
    let path = parts.count > 1 ? String(parts[1]) : "/"
    try sleep(delay)
    let body = "answer to \(path)\n"
    let response =
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
        + "Connection: close\r\n\r\n\(body)"
    try client.sendAll(Array(response.utf8))
}
