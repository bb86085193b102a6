// gevent's unixsocket_server.py: a server on a Unix socket that answers each connection's first message
// with "hello, <message>" from its own greenlet. It removes a stale socket file first, serves until
// SIGTERM (or, with --once, until it has answered one client), and removes the file when it ends.
//
//     swift run UnixSocketServer /tmp/gevent-example.sock &
//     swift run UnixSocketClient /tmp/gevent-example.sock world
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first, arguments.count <= 2, arguments.count == 1 || arguments[1] == "--once" else {
    print("usage: UnixSocketServer PATH [--once]")
    exit(2)
}
let once = arguments.count == 2

unlink(path)  // a file left by a server that did not end cleanly
let answered = Event()
let server = try StreamServer(listener: path) { client, _ in
    let message = try client.recv(maxBytes: 4096)
    try client.sendAll(Array("hello, ".utf8) + message)
    answered.set()
}
try server.start()
defer { unlink(path) }
print("listening on \(path)")
if once {
    try answered.wait()
    try server.stop()
} else {
    try server.serveForever()
}
