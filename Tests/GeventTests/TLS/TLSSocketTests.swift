import Gevent
import GeventTLS
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A TLS server on 127.0.0.1 that echoes what it receives until the client closes.
func startEchoServer(_ context: TLSContext, handshakeTimeout: Duration? = .seconds(10)) throws -> StreamServer {
    let server = try StreamServer(listener: "127.0.0.1:0", tls: context, handshakeTimeout: handshakeTimeout) {
        client,
        _ in
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try client.recv(into: $0) }
            if count == 0 { return }
            try client.sendAll(buffer[..<count])
        }
    }
    try server.start()
    return server
}

@Suite("TLSSocket", .serialized, .timeLimit(.minutes(2)))
struct TLSSocketTests {
    @Test func clientAndServerOnOneHubNegotiateTLS13WithALPNAndEchoAMebibyte() throws {
        try withHub {
            let server = try startEchoServer(try makeServerContext(alpn: ["h2", "http/1.1"]))
            defer { server.close() }
            let tls = try createTLSConnection(
                host: "localhost",
                port: server.address.port!,
                context: try makeClientContext(alpn: ["http/1.1"]),
                timeout: .seconds(10)
            )
            defer { tls.close() }
            #expect(tls.protocolVersion == .tls13)
            #expect(tls.alpnProtocol == "http/1.1")
            #expect(tls.cipher?.hasPrefix("TLS_") == true)
            let peer = try #require(tls.peerCertificate)
            #expect(peer.subject == "CN=localhost")
            #expect(peer.issuer == "CN=gevent test CA")
            #expect(peer.subjectAlternativeNames.contains("DNS:localhost"))
            let payload = patternBytes(1 << 20)
            // The writer and the reader are separate greenlets: a mebibyte does not fit in the socket buffers.
            let writer = spawn { try tls.sendAll(payload) }
            let echoed = try receive(tls, count: payload.count)
            try writer.get()
            #expect(echoed == payload)
        }
    }

    @Test func tls12CanBeForcedAndReportsItsVersionAndCipher() throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let server = try startEchoServer(
                try makeServerContext(
                    certificate: fixtures.rsaCertificate,
                    key: fixtures.rsaKey,
                    maximumVersion: .tls12
                )
            )
            defer { server.close() }
            let tls = try createTLSConnection(
                host: "127.0.0.1",
                port: server.address.port!,
                context: try makeClientContext(),
                timeout: .seconds(10)
            )
            defer { tls.close() }
            #expect(tls.protocolVersion == .tls12)
            #expect(tls.cipher?.contains("RSA") == true)
            try tls.sendAll(Array("ping".utf8))
            #expect(try receive(tls, count: 4) == Array("ping".utf8))
        }
    }

    @Test func anExpiredCertificateFailsAsExpired() throws {
        let fixtures = try TLSFixtures.get()
        let failure = try verificationFailure(
            server: try makeServerContext(certificate: fixtures.expiredCertificate, key: fixtures.expiredKey),
            client: try makeClientContext(),
            host: "localhost"
        )
        #expect(failure.kind == .certificateVerificationFailed(.expired))
        #expect(failure.description.contains("certificate has expired"))
        #expect(failure.hint?.contains("renew") == true)
    }

    @Test func aCertificateFromAnotherCAFailsAsUnknownAuthority() throws {
        let fixtures = try TLSFixtures.get()
        let failure = try verificationFailure(
            server: try makeServerContext(certificate: fixtures.otherCACertificate, key: fixtures.otherCAKey),
            client: try makeClientContext(),
            host: "localhost"
        )
        #expect(failure.kind == .certificateVerificationFailed(.unknownAuthority))
    }

    @Test func aCertificateForAnotherNameFailsAsHostNameMismatch() throws {
        let failure = try verificationFailure(
            server: try makeServerContext(),
            client: try makeClientContext(),
            host: "not-localhost.example"
        )
        #expect(failure.kind == .certificateVerificationFailed(.hostNameMismatch))
        #expect(failure.description.contains("does not match the host name"))
    }

    @Test func aCertificateForAnotherAddressFailsAsIPAddressMismatch() throws {
        let failure = try verificationFailure(
            server: try makeServerContext(),
            client: try makeClientContext(),
            host: "127.0.0.2"
        )
        #expect(failure.kind == .certificateVerificationFailed(.ipAddressMismatch))
    }

    /// Connects to a server with `server`'s certificate, verifying it as `host`, and returns the client's error;
    /// the server reports the client's alert, and still serves a good client afterwards.
    private func verificationFailure(
        server serverContext: TLSContext,
        client: TLSContext,
        host: String
    ) throws
        -> TLSError
    {
        var failure: TLSError?
        try withHub {
            let log = ErrorLog()
            let server = try startEchoServer(serverContext)
            defer { server.close() }
            let socket = try Socket(family: .inet, type: .stream)
            socket.timeout = .seconds(10)
            try socket.connect(to: server.address)
            let tls = try client.wrap(socket, serverHostName: host)
            defer { tls.close() }
            failure = try #require(throws: TLSError.self) { try tls.handshake() }
            try sleep(.milliseconds(50))
            let serverSide = log.entries.compactMap { $0.error as? TLSError }
            #expect(serverSide.first?.kind == .rejectedByPeer, "the server saw \(log.entries.map(\.error))")
        }
        return try #require(failure)
    }

    @Test func closeFromAnotherGreenletWakesAReaderWithBadFileDescriptor() throws {
        try withHub {
            _ = ErrorLog()
            let server = try startEchoServer(try makeServerContext())
            defer { server.close() }
            let tls = try connectToLocalhost(port: server.address.port!)
            let reader = spawn { () throws -> Int in
                var buffer = [UInt8](repeating: 0, count: 100)
                return try buffer.withUnsafeMutableBytes { try tls.recv(into: $0) }
            }
            try sleep(.milliseconds(20))
            tls.close()
            let error = try #require(throws: SocketError.self) { try reader.get() }
            #expect(error.code == .badFileDescriptor)
            #expect(tls.isClosed)
            #expect(throws: SocketError.self) { try tls.recv(maxBytes: 10) }
        }
    }

    @Test func aSocketClosedUnderneathIsNeverTouchedAgainEvenWhenItsNumberIsReused() throws {
        try withHub {
            let server = try startEchoServer(try makeServerContext())
            defer { server.close() }
            let tls = try connectToLocalhost(port: server.address.port!)
            defer { tls.close() }
            let number = tls.socket.fileDescriptor
            tls.socket.close()
            // The kernel hands out the lowest free number: the one just closed, to one of the pair.
            let (first, second) = try socketPair()
            defer {
                first.close()
                second.close()
            }
            #expect([first.fileDescriptor, second.fileDescriptor].contains(number), "the number was reused")
            let error = try #require(throws: SocketError.self) { try tls.sendAll(Array("secret".utf8)) }
            #expect(error.code == .badFileDescriptor)
            first.timeout = .zero
            second.timeout = .zero
            #expect(throws: SocketError.self, "nothing was written to the new owner") {
                try first.recv(maxBytes: 100)
            }
            #expect(throws: SocketError.self, "nothing was written to the new owner") {
                try second.recv(maxBytes: 100)
            }
        }
    }

    @Test func aHandshakeTimeoutFailsOnlyItsConnection() throws {
        try withHub {
            let log = ErrorLog()
            let server = try startEchoServer(try makeServerContext(), handshakeTimeout: .milliseconds(100))
            defer { server.close() }
            // A client that connects and never says anything.
            let silent = try Socket(family: .inet, type: .stream)
            defer { silent.close() }
            try silent.connect(to: server.address)
            // Our client's own handshake deadline, against a server that never answers.
            let (listener, address) = try makeListener()
            defer { listener.close() }
            let mute = try Socket(family: .inet, type: .stream)
            try mute.connect(to: address)
            let tls = try makeClientContext().wrap(mute, serverHostName: "localhost")
            defer { tls.close() }
            let start = ContinuousClock.now
            let timeout = try #require(throws: SocketTimeoutError.self) {
                try tls.handshake(timeout: .milliseconds(150))
            }
            #expect(timeout.timeout == .milliseconds(150))
            #expect(ContinuousClock.now - start < .seconds(5))
            // Meanwhile the server timed the silent client out and still serves others.
            let good = try connectToLocalhost(port: server.address.port!)
            defer { good.close() }
            try good.sendAll(Array("still here".utf8))
            #expect(try receive(good, count: 10) == Array("still here".utf8))
            #expect(log.entries.contains { $0.error is SocketTimeoutError }, "\(log.entries.map(\.error))")
            #expect(try silent.recv(maxBytes: 10).isEmpty, "the server closes a connection whose handshake timed out")
        }
    }

    @Test func aRaggedEOFReadsAsTheEndOrAsAnErrorOnRequest() throws {
        try withHub {
            let serverContext = try makeServerContext()
            let (listener, address) = try makeListener()
            defer { listener.close() }
            for suppress in [true, false] {
                let client = try Socket(family: .inet, type: .stream)
                try client.connect(to: address)
                let (accepted, _) = try listener.accept()
                let serverSide = try serverContext.wrap(accepted)
                let handshake = spawn { try serverSide.handshake(timeout: .seconds(10)) }
                let tls = try makeClientContext().wrap(client, serverHostName: "localhost")
                defer { tls.close() }
                tls.suppressRaggedEOFs = suppress
                try tls.handshake(timeout: .seconds(10))
                try handshake.get()
                // The server's TCP connection closes without a close_notify.
                serverSide.socket.close()
                if suppress {
                    #expect(try tls.recv(maxBytes: 10).isEmpty)
                } else {
                    let error = try #require(throws: TLSError.self) { try tls.recv(maxBytes: 10) }
                    #expect(error.kind == .unexpectedEOF)
                }
                #expect(try tls.recv(maxBytes: 10).isEmpty, "later reads return the end at once")
            }
        }
    }

    @Test func shutdownSendsCloseNotifyAndWaitsForThePeers() throws {
        try withHub {
            let server = try startEchoServer(try makeServerContext())
            defer { server.close() }
            let tls = try connectToLocalhost(port: server.address.port!)
            defer { tls.close() }
            try tls.sendAll(Array("bye".utf8))
            #expect(try receive(tls, count: 3) == Array("bye".utf8))
            // The echo server reads the close_notify as the end, returns, and its close sends its own.
            try tls.shutdown(waitForPeer: true, timeout: .seconds(5))
            #expect(try tls.recv(maxBytes: 10).isEmpty)
        }
    }

    @Test func mutualTLSRequiresAClientCertificateFromTheTrustedCA() throws {
        try withHub {
            let fixtures = try TLSFixtures.get()
            let log = ErrorLog()
            let server = try startEchoServer(
                try makeServerContext(clientVerification: .required(.certificates(.file(fixtures.caCertificate))))
            )
            defer { server.close() }
            let withCertificate = try TLSContext.client(
                trustRoots: .certificates(.file(fixtures.caCertificate)),
                certificateChain: .file(fixtures.clientCertificate),
                privateKey: .file(fixtures.clientKey)
            )
            let good = try createTLSConnection(
                host: "localhost",
                port: server.address.port!,
                context: withCertificate,
                timeout: .seconds(10)
            )
            defer { good.close() }
            try good.sendAll(Array("mtls".utf8))
            #expect(try receive(good, count: 4) == Array("mtls".utf8))
            // Without a certificate: in TLS 1.3 the client's handshake ends first, and the server's alert
            // arrives on the first read.
            let anonymous = try connectToLocalhost(port: server.address.port!)
            defer { anonymous.close() }
            let error = try #require(throws: TLSError.self) { _ = try anonymous.recv(maxBytes: 10) }
            #expect(error.kind == .rejectedByPeer)
            #expect(error.hint?.contains("client certificate") == true)
            try sleep(.milliseconds(50))
            let serverErrors = log.entries.compactMap { ($0.error as? TLSError)?.kind }
            #expect(serverErrors.contains(.peerCertificateMissing), "\(log.entries.map(\.error))")
        }
    }

    @Test func aThousandConcurrentConnectionsOnOneThread() throws {
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        // Each connection takes two descriptors here (client and server side).
        let connections = min(1000, (Int(limit.rlim_cur) - 100) / 2)
        try withHub {
            var open = 0
            var peak = 0
            let allConnected = Event()
            let context = try makeServerContext()
            let server = try StreamServer(listener: "127.0.0.1:0", backlog: 1024, tls: context) { client, _ in
                open += 1
                peak = max(peak, open)
                defer { open -= 1 }
                let request = try client.recv(maxBytes: 100)
                try client.sendAll(request)
                #expect(try client.recv(maxBytes: 100).isEmpty)
            }
            try server.start()
            let clientContext = try makeClientContext()
            var connected = 0
            let clients = (0..<connections).map { index in
                spawn { () throws -> Bool in
                    let tls = try createTLSConnection(
                        host: "localhost",
                        port: server.address.port!,
                        context: clientContext,
                        timeout: .seconds(60)
                    )
                    defer { tls.close() }
                    let message = Array("client \(index)".utf8)
                    try tls.sendAll(message)
                    let echoed = try receive(tls, count: message.count)
                    connected += 1
                    if connected == connections { allConnected.set() }
                    _ = try allConnected.wait(timeout: .seconds(60))
                    return echoed == message
                }
            }
            let results = try clients.map { try $0.get() }
            #expect(results.allSatisfy { $0 })
            #expect(peak == connections, "all \(connections) connections were open at once")
            let port = server.address.port!
            try server.stop(timeout: .seconds(5))
            #expect(openConnections(port: port) == 0, "every connection's descriptors were closed")
        }
    }
}
