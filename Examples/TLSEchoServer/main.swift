// A TLS echo server: one greenlet per connection does its handshake, then reads and writes back what it
// receives.
//
//     swift run -c release TLSEchoServer CERT.pem KEY.pem 8443    # listens on 127.0.0.1:8443 (0: any free port)
//     openssl s_client -connect 127.0.0.1:8443 -CAfile CERT.pem   # type lines, they come back
//     TLSEchoServer CERT.pem KEY.pem 8443 discard                 # reads and drops (Benchmarks/run-tls.sh)
//
// Handshakes that fail (plain text, wrong CA, a client hanging up) are reported on stderr and end only their
// connection. SIGTERM ends the server (the default action).
import Gevent
import GeventTLS

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let discard = arguments.count > 4 && arguments[4] == "discard"
guard arguments.count >= 3, let port = arguments.count > 3 ? Int(arguments[3]) : 0 else {
    print("usage: TLSEchoServer CERT.pem KEY.pem [port [discard]]")
    exit(2)
}

let context: TLSContext
do {
    context = try TLSContext.server(certificateChain: .file(arguments[1]), privateKey: .file(arguments[2]))
} catch {
    print("TLSEchoServer: \(error)")
    exit(1)
}
let server = try StreamServer(listener: "127.0.0.1:\(port)", backlog: 4096, tls: context) { client, _ in
    try client.socket.setOption(.noDelay, to: true)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 16384, alignment: 16)
    defer { buffer.deallocate() }
    do {
        while true {
            let count = try client.recv(into: buffer)
            if count == 0 { return }  // the client closed its side
            if discard { continue }
            try client.sendAll(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
        }
    } catch let error as SocketError where error.code == .connectionReset || error.code == .brokenPipe {
        return  // the client went away mid-conversation: nothing to report
    }
}
try server.start()
print("listening on tls://\(server.address)")
fflush(nil)  // stdout may be a pipe: the line must reach a script waiting for it
try server.serveForever()
