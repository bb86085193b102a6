import Gevent
import GeventTLS
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Certificates made once per test run with `openssl req`/`x509`/`ca` in a temporary directory: a test CA,
/// server certificates for `localhost` and 127.0.0.1 (ECDSA P-256 and RSA-2048), an expired one, one from
/// another CA, and a client certificate.
final class TLSFixtures: Sendable {
    let directory: String

    static let shared: Result<TLSFixtures, TestFailure> = Result { try TLSFixtures() }.mapError {
        $0 as? TestFailure ?? TestFailure("\($0)")
    }

    /// The shared fixtures; a test that needs them fails with openssl's output when they cannot be made.
    static func get() throws -> TLSFixtures {
        try shared.get()
    }

    var caCertificate: String { "\(directory)/ca.pem" }
    var serverCertificate: String { "\(directory)/server.pem" }
    var serverKey: String { "\(directory)/server.key" }
    var rsaCertificate: String { "\(directory)/rsa.pem" }
    var rsaKey: String { "\(directory)/rsa.key" }
    var expiredCertificate: String { "\(directory)/expired.pem" }
    var expiredKey: String { "\(directory)/expired.key" }
    var otherCACertificate: String { "\(directory)/other.pem" }
    var otherCAKey: String { "\(directory)/other.key" }
    var clientCertificate: String { "\(directory)/client.pem" }
    var clientKey: String { "\(directory)/client.key" }

    private init() throws {
        var template = Array("/tmp/gevent-tls-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw TestFailure("mkdtemp failed") }
        directory = String(cString: made)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        try writeText("\(directory)/san.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        try writeText("\(directory)/client.cnf", "extendedKeyUsage=clientAuth\n")
        try openssl(
            ["req", "-x509"] + ec
                + ["-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", "/CN=gevent test CA"]
        )
        try openssl(
            ["req", "-x509"] + ec
                + ["-nodes", "-keyout", "otherca.key", "-out", "otherca.pem", "-days", "3650", "-subj", "/CN=other CA"]
        )
        try leaf("server", keyOptions: ec, ca: "ca", subject: "/CN=localhost", extensions: "san.cnf")
        try leaf(
            "rsa",
            keyOptions: ["-newkey", "rsa:2048"],
            ca: "ca",
            subject: "/CN=localhost",
            extensions: "san.cnf"
        )
        try leaf("other", keyOptions: ec, ca: "otherca", subject: "/CN=localhost", extensions: "san.cnf")
        try leaf("client", keyOptions: ec, ca: "ca", subject: "/CN=gevent test client", extensions: "client.cnf")
        // An expired certificate needs dates in the past, which only `openssl ca` sets.
        try writeText("\(directory)/index.txt", "")
        try writeText("\(directory)/serial", "1000\n")
        try writeText(
            "\(directory)/ca.cnf",
            """
            [ca]
            default_ca = test
            [test]
            database = \(directory)/index.txt
            new_certs_dir = \(directory)
            serial = \(directory)/serial
            default_md = sha256
            policy = anything
            [anything]
            commonName = supplied

            """
        )
        try openssl(
            ["req"] + ec + ["-nodes", "-keyout", "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost"]
        )
        try openssl([
            "ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key", "-in", "expired.csr",
            "-out", "expired.pem", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extfile",
            "san.cnf", "-notext",
        ])
    }

    private func leaf(_ name: String, keyOptions: [String], ca: String, subject: String, extensions: String) throws {
        try openssl(
            ["req"] + keyOptions + ["-nodes", "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", subject]
        )
        try openssl([
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
            "-out", "\(name).pem", "-days", "365", "-extfile", extensions,
        ])
    }

    private func openssl(_ arguments: [String]) throws {
        let log = "\(directory)/openssl.log"
        let process = try ChildProcess(
            ["sh", "-c", "cd \"$0\" && exec openssl \"$@\"", directory] + arguments,
            logPath: log
        )
        let code = process.waitForExit()
        if code != 0 {
            throw TestFailure("openssl \(arguments.joined(separator: " ")) exited \(code): \(readTextFile(log) ?? "")")
        }
    }
}

/// Writes `text` to `path`, replacing it.
func writeText(_ path: String, _ text: String) throws {
    guard let file = fopen(path, "w") else { throw TestFailure("cannot write \(path)") }
    fputs(text, file)
    fclose(file)
}

/// A TLS server context for `localhost` with the fixtures' ECDSA certificate (or the given pair).
func makeServerContext(
    certificate: String? = nil,
    key: String? = nil,
    clientVerification: TLSClientVerification = .none,
    minimumVersion: TLSVersion = .tls12,
    maximumVersion: TLSVersion? = nil,
    alpn: [String] = []
) throws -> TLSContext {
    let fixtures = try TLSFixtures.get()
    return try TLSContext.server(
        certificateChain: .file(certificate ?? fixtures.serverCertificate),
        privateKey: .file(key ?? fixtures.serverKey),
        clientVerification: clientVerification,
        minimumVersion: minimumVersion,
        maximumVersion: maximumVersion,
        alpnProtocols: alpn
    )
}

/// A client context trusting the fixtures' CA.
func makeClientContext(alpn: [String] = [], maximumVersion: TLSVersion? = nil) throws -> TLSContext {
    try TLSContext.client(
        trustRoots: .certificates(.file(TLSFixtures.get().caCertificate)),
        maximumVersion: maximumVersion,
        alpnProtocols: alpn
    )
}

/// Runs a command line through `sh -c` while the hub keeps running: the calling greenlet polls the child
/// every 10 ms. Returns the exit code and what it printed (stdout and stderr together).
func runPeer(_ command: String, timeout: Duration = .seconds(20)) throws -> (code: CInt, output: String) {
    let log = "\(try TLSFixtures.get().directory)/peer-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
    defer { unlink(log) }
    let process = try ChildProcess(["sh", "-c", command], logPath: log)
    let start = ContinuousClock.now
    while process.isRunning {
        if ContinuousClock.now - start > timeout {
            process.stop()
            throw TestFailure("\(command) did not finish within \(timeout): \(readTextFile(log) ?? "")")
        }
        try sleep(.milliseconds(10))
    }
    return (process.exitCode ?? -1, readTextFile(log) ?? "")
}

/// A peer server (openssl s_server, a Python script) started with `sh -c`, and the port it listens on once
/// it accepts connections.
final class PeerServer {
    let port: Int
    private let process: ChildProcess
    let log: String

    /// Starts `command(port)` and waits (cooperatively) until it accepts TCP connections, up to 10 s.
    init(_ command: (Int) -> String) throws {
        let port = try unusedPort()
        self.port = port
        log = "\(try TLSFixtures.get().directory)/server-\(port).log"
        process = try ChildProcess(["sh", "-c", command(port)], logPath: log)
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(10) {
            guard process.isRunning else {
                throw TestFailure("the peer server exited: \(readTextFile(log) ?? "")")
            }
            let probe = try Socket(family: .inet, type: .stream)
            defer { probe.close() }
            if (try? probe.connect(to: SocketAddress(ip: "127.0.0.1", port: port))) != nil {
                return
            }
            try sleep(.milliseconds(20))
        }
        throw TestFailure("the peer server did not listen on \(port): \(readTextFile(log) ?? "")")
    }

    var output: String { readTextFile(log) ?? "" }

    func stop() {
        process.stop()
    }

    deinit {
        process.stop()
        unlink(log)
    }
}

/// A TLS connection to `localhost:port`, verified against the fixtures' CA.
func connectToLocalhost(port: Int) throws -> TLSSocket {
    try createTLSConnection(host: "localhost", port: port, context: try makeClientContext(), timeout: .seconds(10))
}

/// Reads exactly `count` bytes (fewer at the end of the stream).
func receive(_ tls: TLSSocket, count: Int) throws -> [UInt8] {
    var received: [UInt8] = []
    while received.count < count {
        let chunk = try tls.recv(maxBytes: min(65536, count - received.count))
        if chunk.isEmpty { break }
        received += chunk
    }
    return received
}

/// Reads until the peer ends the stream.
func receiveToEnd(_ tls: TLSSocket) throws -> [UInt8] {
    try receive(tls, count: .max)
}

/// How many TCP connections (not listeners) to or from `port` this process still holds a descriptor for:
/// the socket inodes of /proc/self/fd matched against /proc/net/tcp. Unlike a count of all descriptors, other
/// suites running at the same time do not disturb it.
func openConnections(port: Int) -> Int {
    let ours = Set(
        openDescriptorList().compactMap { entry -> String? in
            guard entry.contains("socket:["), let inode = entry.split(separator: "[").last else { return nil }
            return String(inode.dropLast())
        }
    )
    let hexPort = procPortText(port)
    var count = 0
    for line in (readTextFile("/proc/net/tcp") ?? "").split(separator: "\n").dropFirst() {
        let fields = line.split(separator: " ")
        guard fields.count > 9, fields[3] != "0A" else { continue }
        let local = fields[1].split(separator: ":").last.map(String.init)
        let remote = fields[2].split(separator: ":").last.map(String.init)
        if (local == hexPort || remote == hexPort) && ours.contains(String(fields[9])) {
            count += 1
        }
    }
    return count
}

/// A port as /proc/net/tcp writes it: four upper-case hexadecimal digits.
private func procPortText(_ port: Int) -> String {
    let digits = String(port, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
