// gevent's portforwarder.py: accept connections on one address and forward each to another, copying
// bytes both ways with two greenlets per connection until either side closes. With --max N it stops
// after N connections have been forwarded and closed (for scripts and tests); otherwise it serves until
// SIGTERM.
//
//     swift run EchoServer 9000 &
//     swift run PortForwarder 127.0.0.1:8000 127.0.0.1:9000 &
//     nc 127.0.0.1 8000                                 # talks to the echo server through the forwarder
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
let usage = "usage: PortForwarder LISTEN_HOST:PORT DESTINATION_HOST:PORT [--max CONNECTIONS]"
guard arguments.count == 2 || (arguments.count == 4 && arguments[2] == "--max"),
    let colon = arguments[1].lastIndex(of: ":"),
    let destinationPort = Int(arguments[1][arguments[1].index(after: colon)...])
else {
    print(usage)
    exit(2)
}
let destinationHost = String(arguments[1][..<colon])
let maxConnections = arguments.count == 4 ? Int(arguments[3]) : nil
if arguments.count == 4 && (maxConnections ?? 0) < 1 {
    print(usage)
    exit(2)
}

/// Copies from `source` to `destination` until `source` ends, then closes `destination`'s writing side.
func pipe(from source: Socket, to destination: Socket) throws {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let count = try source.recv(into: buffer)
        if count == 0 { break }
        try destination.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
    }
    try? destination.shutdown(.write)
}

var finished = 0
let allDone = Event()
let server = try StreamServer(listener: arguments[0]) { client, peer in
    defer {
        finished += 1
        if let maxConnections, finished >= maxConnections { allDone.set() }
    }
    let upstream = try createConnection(host: destinationHost, port: destinationPort, timeout: .seconds(10))
    defer { upstream.close() }
    print("\(peer) -> \(arguments[0]) -> \(try upstream.remoteAddress)")
    let back = spawn { try pipe(from: upstream, to: client) }
    try pipe(from: client, to: upstream)
    try back.join()
    print("\(peer): closed")
}
try server.start()
print("forwarding \(server.address) to \(destinationHost):\(destinationPort)")
if maxConnections != nil {
    try allDone.wait()
    try server.stop()
} else {
    try server.serveForever()
}
