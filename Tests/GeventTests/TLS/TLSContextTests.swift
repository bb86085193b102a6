import Gevent
import GeventTLS
import Testing

@Suite("TLSContext")
struct TLSContextTests {
    @Test func serverContextLoadsECDSAAndRSAPairsFromFilesAndMemory() throws {
        let fixtures = try TLSFixtures.get()
        _ = try makeServerContext()
        _ = try makeServerContext(certificate: fixtures.rsaCertificate, key: fixtures.rsaKey)
        let certificate = Array(try #require(readTextFile(fixtures.serverCertificate)).utf8)
        let key = Array(try #require(readTextFile(fixtures.serverKey)).utf8)
        let context = try TLSContext.server(certificateChain: .memory(certificate), privateKey: .memory(key))
        #expect(context.role == .server)
        #expect(!context.verifiesPeer)
    }

    @Test func clientContextVerifiesPeerAndHostNameByDefault() throws {
        let context = try TLSContext.client()
        #expect(context.role == .client)
        #expect(context.verifiesPeer)
        #expect(context.verifiesHostName)
    }

    @Test func aKeyThatDoesNotMatchItsCertificateIsAConfigurationErrorNamingBothFiles() throws {
        let fixtures = try TLSFixtures.get()
        let error = try #require(throws: TLSError.self) {
            try makeServerContext(certificate: fixtures.serverCertificate, key: fixtures.rsaKey)
        }
        #expect(error.kind == .configuration)
        #expect(error.operation.contains(fixtures.rsaKey))
        #expect(error.reason.contains("does not match the certificate in \(fixtures.serverCertificate)"))
    }

    @Test func anUnreadableFileSaysWhichFileAndWhy() throws {
        let error = try #require(throws: TLSError.self) {
            try TLSContext.server(
                certificateChain: .file("/nonexistent/cert.pem"),
                privateKey: .file("/nonexistent/key.pem")
            )
        }
        #expect(error.kind == .configuration)
        #expect(error.operation.contains("/nonexistent/cert.pem"))
        #expect(error.reason.contains("No such file or directory"))
    }

    @Test func textThatIsNotPEMIsRejected() throws {
        let error = try #require(throws: TLSError.self) {
            try TLSContext.client(trustRoots: .certificates(.memory(Array("not a certificate".utf8))))
        }
        #expect(error.kind == .configuration)
        #expect(error.reason.contains("no certificate found"))
        let keyError = try #require(throws: TLSError.self) {
            try TLSContext.server(
                certificateChain: .file(TLSFixtures.get().serverCertificate),
                privateKey: .memory(Array("garbage".utf8))
            )
        }
        #expect(keyError.kind == .configuration)
        #expect(keyError.hint?.contains("BEGIN PRIVATE KEY") == true)
    }

    @Test func badVersionRangesCipherListsAndALPNNamesAreRejected() throws {
        #expect(throws: TLSError.self) { try TLSContext.client(minimumVersion: .tls13, maximumVersion: .tls12) }
        let cipherError = try #require(throws: TLSError.self) { try TLSContext.client(ciphers: "NO-SUCH-CIPHER") }
        #expect(cipherError.operation.contains("NO-SUCH-CIPHER"))
        #expect(throws: TLSError.self) { try TLSContext.client(tls13CipherSuites: "TLS_NOPE") }
        #expect(throws: TLSError.self) { try TLSContext.client(alpnProtocols: [""]) }
        #expect(throws: TLSError.self) { try TLSContext.client(verifyPeer: false) }
        #expect(throws: TLSError.self) {
            try TLSContext.client(certificateChain: .file(TLSFixtures.get().clientCertificate))
        }
    }
}
