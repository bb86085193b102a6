import Gevent
import GeventTLS
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A TLS server that answers every request with a fixed HTTP/1.1 response and closes.
private func startHTTPSServer(_ context: TLSContext) throws -> StreamServer {
    let server = try StreamServer(listener: "127.0.0.1:0", tls: context) { client, _ in
        var request: [UInt8] = []
        while !request.ends(with: Array("\r\n\r\n".utf8)) {
            let chunk = try client.recv(maxBytes: 4096)
            if chunk.isEmpty { return }
            request += chunk
        }
        let body = "hello over \(client.protocolVersion!) alpn=\(client.alpnProtocol ?? "none")\n"
        try client.sendAll(
            Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)".utf8)
        )
    }
    try server.start()
    return server
}

/// A TLS server that answers one line with "pong: LINE" and closes.
private func startLineServer(_ context: TLSContext) throws -> StreamServer {
    let server = try StreamServer(listener: "127.0.0.1:0", tls: context) { client, _ in
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = try client.recv(maxBytes: 100)
            if chunk.isEmpty { return }
            line += chunk
        }
        try client.sendAll(Array("pong: ".utf8) + line)
        try client.shutdown()
    }
    try server.start()
    return server
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool {
        count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix
    }
}

/// Peers nobody here wrote: openssl s_client and s_server, curl, Python's ssl module.
@Suite("TLS interoperability", .serialized, .timeLimit(.minutes(3)))
struct TLSInteropTests {
    @Test(arguments: ["-tls1_2", "-tls1_3"])
    func opensslSClientTalksToOurServer(version: String) throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let server = try startLineServer(try makeServerContext())
            defer { server.close() }
            let port = server.address.port!
            // s_client sends the line, reads until our server closes, and exits; the sleep keeps its stdin
            // open meanwhile.
            let result = try runPeer(
                "(echo ping; sleep 2) | openssl s_client -connect 127.0.0.1:\(port) -servername localhost "
                    + "\(version) -CAfile \(fixtures.caCertificate) -verify_return_error -verify_hostname localhost "
                    + "-brief"
            )
            #expect(result.output.contains("pong: ping"), "\(result.output)")
            #expect(result.output.contains("Verification: OK"), "\(result.output)")
            let expected = version == "-tls1_2" ? "Protocol version: TLSv1.2" : "Protocol version: TLSv1.3"
            #expect(result.output.contains(expected), "\(result.output)")
        }
    }

    @Test func curlWithCACertGetsAResponseOverHTTP11ALPN() throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let server = try startHTTPSServer(try makeServerContext(alpn: ["http/1.1"]))
            defer { server.close() }
            let result = try runPeer(
                "curl -sS --http1.1 --cacert \(fixtures.caCertificate) https://localhost:\(server.address.port!)/"
            )
            #expect(result.code == 0, "\(result.output)")
            #expect(result.output.contains("hello over TLSv1.3 alpn=http/1.1"), "\(result.output)")
        }
    }

    @Test func curlWithoutOurCARefusesTheServerAndTheServerGoesOn() throws {
        try withHub {
            let log = ErrorLog()
            let fixtures = try TLSFixtures.get()
            let server = try startHTTPSServer(try makeServerContext())
            defer { server.close() }
            let refused = try runPeer("curl -sS https://localhost:\(server.address.port!)/")
            #expect(refused.code == 60, "curl's 'peer certificate cannot be authenticated': \(refused.output)")
            let accepted = try runPeer(
                "curl -sS --cacert \(fixtures.caCertificate) https://localhost:\(server.address.port!)/"
            )
            #expect(accepted.code == 0, "\(accepted.output)")
            #expect(log.entries.contains { ($0.error as? TLSError)?.kind == .rejectedByPeer })
        }
    }

    @Test func pythonsSSLModuleTalksToOurServer() throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let server = try startLineServer(try makeServerContext())
            defer { server.close() }
            let script = """
                import socket, ssl
                context = ssl.create_default_context(cafile='\(fixtures.caCertificate)')
                with socket.create_connection(('127.0.0.1', \(server.address.port!))) as raw:
                    with context.wrap_socket(raw, server_hostname='localhost') as tls:
                        tls.sendall(b'from python\\n')
                        reply = b''
                        while True:
                            chunk = tls.recv(100)
                            if not chunk: break
                            reply += chunk
                        print(tls.version(), reply.decode().strip())
                """
            try writeText("\(fixtures.directory)/client.py", script)
            let result = try runPeer("python3 \(fixtures.directory)/client.py")
            #expect(result.code == 0, "\(result.output)")
            #expect(result.output.contains("TLSv1.3 pong: from python"), "\(result.output)")
        }
    }

    @Test(arguments: ["-tls1_2", "-tls1_3"])
    func ourClientTalksToOpensslSServer(version: String) throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let peer = try PeerServer { port in
                "exec openssl s_server -accept \(port) -cert \(fixtures.serverCertificate) "
                    + "-key \(fixtures.serverKey) \(version) -www -quiet"
            }
            defer { peer.stop() }
            let tls = try connectToLocalhost(port: peer.port)
            defer { tls.close() }
            #expect(tls.protocolVersion == (version == "-tls1_2" ? .tls12 : .tls13))
            try tls.sendAll(Array("GET / HTTP/1.0\r\n\r\n".utf8))
            let response = try receiveToEnd(tls)
            let text = String(decoding: response, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.0 200 ok"), "\(text.prefix(200))")
            #expect(text.contains(version == "-tls1_2" ? "TLSv1.2" : "TLSv1.3"))
        }
    }

    @Test func ourClientTalksToPythonsSSLServerAndVerifiesIt() throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let script = """
                import socket, ssl, sys
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                context.load_cert_chain('\(fixtures.rsaCertificate)', '\(fixtures.rsaKey)')
                context.set_alpn_protocols(['http/1.1'])
                listener = socket.create_server(('127.0.0.1', int(sys.argv[1])))
                while True:
                    raw, _ = listener.accept()
                    try:
                        with context.wrap_socket(raw, server_side=True) as tls:
                            line = tls.recv(100)
                            tls.sendall(b'python says ' + line + tls.version().encode())
                    except (ssl.SSLError, OSError):
                        pass
                """
            try writeText("\(fixtures.directory)/server.py", script)
            let peer = try PeerServer { port in "exec python3 \(fixtures.directory)/server.py \(port)" }
            defer { peer.stop() }
            let tls = try createTLSConnection(
                host: "localhost",
                port: peer.port,
                context: try makeClientContext(alpn: ["http/1.1"]),
                timeout: .seconds(10)
            )
            defer { tls.close() }
            #expect(tls.alpnProtocol == "http/1.1")
            try tls.sendAll(Array("hi ".utf8))
            let reply = try receiveToEnd(tls)
            #expect(String(decoding: reply, as: UTF8.self) == "python says hi TLSv1.3")
            // And the same server fails verification when we do not know its CA.
            let error = try #require(throws: TLSError.self) {
                try createTLSConnection(
                    host: "localhost",
                    port: peer.port,
                    context: try .client(),
                    timeout: .seconds(10)
                )
            }
            #expect(error.kind == .certificateVerificationFailed(.unknownAuthority))
        }
    }
}

/// What a TLS server does with clients that do not complete a handshake.
@Suite("TLS server hostility", .serialized, .timeLimit(.minutes(1)))
struct TLSServerHostilityTests {
    @Test func plainHTTPGarbageAndHangUpsCloseOnlyTheirConnections() throws {
        try withHub {
            let log = ErrorLog()
            let server = try startEchoServer(try makeServerContext())
            defer { server.close() }
            let garbage: [[UInt8]] = [
                Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
                [0x16, 0x03, 0x01, 0xff, 0xff] + [UInt8](repeating: 0x41, count: 64),
                Array("\u{0}\u{1}\u{2} hello".utf8),
                [0x16, 0x03, 0x01],
                [],
            ]
            for bytes in garbage {
                let client = try Socket(family: .inet, type: .stream)
                client.timeout = .seconds(5)
                try client.connect(to: server.address)
                if !bytes.isEmpty {
                    try client.sendAll(bytes)
                }
                if bytes.count <= 3 {
                    // A client that hangs up mid-handshake (the count below sees at least this connection).
                    #expect(openConnections(port: server.address.port!) >= 1)
                    client.close()
                    continue
                }
                // The server answers with an alert (or nothing) and closes; with our bytes unread, the kernel
                // may reset the connection instead.
                do {
                    while try !client.recv(maxBytes: 4096).isEmpty {}
                } catch let error as SocketError where error.code == .connectionReset {}
                client.close()
            }
            try sleep(.milliseconds(100))
            let kinds = log.entries.compactMap { ($0.error as? TLSError)?.kind }
            #expect(kinds.filter { $0 == .notTLS }.count >= 2, "\(log.entries.map(\.error))")
            #expect(kinds.filter { $0 == .closedDuringHandshake }.count == 2, "\(log.entries.map(\.error))")
            let plainHTTP = log.entries.compactMap { $0.error as? TLSError }.first
            #expect(plainHTTP?.description.contains("plain HTTP request") == true)
            #expect(server.activeHandlers == 0)
            #expect(openConnections(port: server.address.port!) == 0, "\(openDescriptorList())")
            // And it still serves a real client.
            let tls = try connectToLocalhost(port: server.address.port!)
            defer { tls.close() }
            try tls.sendAll(Array("ok".utf8))
            #expect(try receive(tls, count: 2) == Array("ok".utf8))
        }
    }

    @Test func ourClientAgainstAPlainTextServerSaysItIsNotTLS() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0") { client, _ in
                _ = try client.recv(maxBytes: 4096)
                try client.sendAll(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8))
            }
            try server.start()
            defer { server.close() }
            let error = try #require(throws: TLSError.self) {
                try connectToLocalhost(port: server.address.port!)
            }
            #expect(error.kind == .notTLS, "\(error)")
        }
    }
}
