// gevent's udp_client.py: send a message to a UDP server and print the reply. Pairs with UDPEchoServer
// (gevent's udp_server.py): start the server, then run this against its port. It waits at most two
// seconds for the answer, and says so when none comes (UDP drops silently).
//
//     swift run UDPEchoServer 9000 &
//     swift run UDPClient 9000 "Hello, world"
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard let port = arguments.first.flatMap({ Int($0) }), (1...65535).contains(port) else {
    print("usage: UDPClient PORT [MESSAGE]   (sends to 127.0.0.1:PORT)")
    exit(2)
}
let message = arguments.count > 1 ? arguments[1...].joined(separator: " ") : "Hello, world"

let socket = try Socket(family: .inet, type: .datagram)
defer { socket.close() }
socket.timeout = .seconds(2)
let server = try SocketAddress(ipv4: "127.0.0.1", port: port)
print("Sending \(message.utf8.count) bytes to \(server): \(message.debugDescription)")
try socket.sendTo(Array(message.utf8), address: server)
do {
    let (reply, sender) = try socket.recvFrom(maxBytes: 65536)
    print("Received \(reply.count) bytes from \(sender): \(String(decoding: reply, as: UTF8.self).debugDescription)")
} catch let error as SocketTimeoutError {
    print("no reply: \(error)")
    exit(1)
}
