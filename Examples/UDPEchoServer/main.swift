// A UDP echo server: every datagram is answered, from its own greenlet, with the same bytes.
//
//     swift run UDPEchoServer 9000          # listens on 127.0.0.1:9000 (port 0 or none: any free port)
//
// Try it with `nc -u 127.0.0.1 9000`. SIGTERM or Ctrl-C ends it (the default actions).
import Gevent

#if canImport(Glibc)
import Glibc
#endif

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) : 0
guard let port else {
    print("usage: UDPEchoServer [port]")
    exit(2)
}

let server = try DatagramServer(listener: "127.0.0.1:\(port)")
server.setHandler { [unowned server] datagram, sender in
    try server.sendTo(datagram, address: sender)
}
try server.start()
print("UDP echo server listening on \(server.address)")
try server.serveForever()
