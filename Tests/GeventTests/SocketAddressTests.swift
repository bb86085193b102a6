import Gevent
import Testing

@Suite("SocketAddress")
struct SocketAddressTests {
    @Test func parsesIPv4WithPort() throws {
        let address = try SocketAddress("127.0.0.1:80")
        #expect(address.family == .inet)
        #expect(address.host == "127.0.0.1")
        #expect(address.port == 80)
        #expect(address.description == "127.0.0.1:80")
    }

    @Test func parsesBracketedIPv6WithPort() throws {
        let address = try SocketAddress("[::1]:8080")
        #expect(address.family == .inet6)
        #expect(address.host == "::1")
        #expect(address.port == 8080)
        #expect(address.description == "[::1]:8080")
    }

    @Test func parsesNumericScopeOfIPv6() throws {
        let address = try SocketAddress("[fe80::1%1]:9")
        #expect(address.host == "fe80::1%1")
    }

    @Test func parsesUnixPathsAndAbstractNames() throws {
        let path = try SocketAddress("/tmp/app.sock")
        #expect(path.family == .unix)
        #expect(path.path == "/tmp/app.sock")
        #expect(path.port == nil)
        #expect(path.description == "/tmp/app.sock")
        let abstract = try SocketAddress("@gevent-test")
        #expect(abstract.path == "@gevent-test")
    }

    @Test func equalAddressesAreEqualAndHashTheSame() throws {
        let a = try SocketAddress("10.0.0.1:5")
        let b = try SocketAddress(ipv4: "10.0.0.1", port: 5)
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a != (try SocketAddress("10.0.0.1:6")))
    }

    @Test func rejectsHostNamesWithAHintToResolve() {
        #expect {
            try SocketAddress("localhost:80")
        } throws: { error in
            "\(error)".contains("getaddrinfo")
        }
    }

    @Test func rejectsUnbracketedIPv6() {
        #expect {
            try SocketAddress("::1:80")
        } throws: { error in
            "\(error)".contains("brackets")
        }
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:70000", "[::1]", "[::1:80", "1.2.3:80"])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: SocketAddress.ParseError.self) { try SocketAddress(text) }
    }

    @Test func rejectsUnixPathsLongerThanSunPath() {
        let long = "/" + String(repeating: "x", count: 200)
        #expect {
            try SocketAddress(unixPath: long)
        } throws: { error in
            "\(error)".contains("limited to 107 bytes")
        }
    }
}
