// gevent's unixsocket_client.py: connect to a Unix socket, send a message, print the answer. Pairs with
// UnixSocketServer; retries the connection for up to two seconds so it can be started right after the
// server.
//
//     swift run UnixSocketClient /tmp/gevent-example.sock world
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard let path = arguments.first else {
    print("usage: UnixSocketClient PATH [MESSAGE]")
    exit(2)
}
let message = arguments.count > 1 ? arguments[1...].joined(separator: " ") : "world"

let address = try SocketAddress(unixPath: path)
let deadline = ContinuousClock.now + .seconds(2)
let socket = try Socket(family: .unix, type: .stream)
defer { socket.close() }
while let failure = try socket.connectEx(to: address) {
    guard ContinuousClock.now < deadline, failure == .connectionRefused || failure.rawValue == ENOENT else {
        print("could not connect to \(path): \(failure)")
        exit(1)
    }
    try sleep(.milliseconds(50))
}
try socket.sendAll(Array(message.utf8))
try socket.shutdown(.write)
let answer = try socket.makeReader().readToEnd()
print("received: \(String(decoding: answer, as: UTF8.self).debugDescription)")
