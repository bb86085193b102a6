// A TCP echo server: one greenlet per connection, each reading and writing back what it receives.
//
//     swift run -c release EchoServer 8080        # listens on 127.0.0.1:8080 (port 0 or none: any free port)
//
// It plugs into the peer benchmark (`../shared/bench/echo.sh '.build/release/EchoServer'`): the port is the
// first argument, it listens on 127.0.0.1, and SIGTERM ends it (the default action).
import Gevent

#if canImport(Glibc)
import Glibc
#endif

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) : 0
guard let port else {
    print("usage: EchoServer [port]")
    exit(2)
}

let server = try StreamServer(listener: "127.0.0.1:\(port)", backlog: 4096) { client, _ in
    try client.setOption(.noDelay, to: true)
    // One buffer per connection, reused for every read: the loop allocates nothing.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
    defer { buffer.deallocate() }
    do {
        while true {
            let count = try client.recv(into: buffer)
            if count == 0 { return }  // the client closed its side
            try client.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    } catch let error as SocketError where error.code == .connectionReset || error.code == .brokenPipe {
        return  // the client went away mid-conversation: nothing to report
    }
}
try server.start()
print("echo server listening on \(server.address)")
try server.serveForever()
