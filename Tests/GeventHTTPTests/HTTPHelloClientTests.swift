import Testing

#if canImport(Glibc)
import Glibc
#endif

/// HTTPHello (the example) against real clients nobody here wrote: curl and Python's http.client and
/// urllib. Plain blocking processes, no hub.
@Suite("HTTPHello with curl and Python", .serialized, .timeLimit(.minutes(2)))
struct HTTPHelloClientTests {
    @Test func printsOneListeningLineAndServesHello() throws {
        let server = try HelloServer()
        defer { server.stop() }
        #expect(server.firstLine.hasPrefix("listening on http://127.0.0.1:"))
        let result = run("curl -s -i http://127.0.0.1:\(server.port)/")
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(result.output.contains("Content-Type: text/plain; charset=utf-8\r\n"))
        #expect(result.output.hasSuffix("\r\n\r\nHello, World!"))
    }

    @Test func curlReusesTheConnectionAndGetsHeadRightAnd404() throws {
        let server = try HelloServer()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let verbose = run("curl -sv \(base)/ \(base)/ 2>&1")
        #expect(verbose.output.contains("Re-using existing connection"))
        #expect(verbose.output.components("Hello, World!") == 2)
        let head = run("curl -sI \(base)/")
        #expect(head.output.contains("Content-Length: 13"))
        #expect(!head.output.contains("Hello"))
        #expect(run("curl -s -o /dev/null -w '%{http_code}' \(base)/missing").output == "404")
        #expect(run("curl -s -o /dev/null -w '%{http_code}' -X DELETE \(base)/").output == "404")
    }

    @Test func curlParallelSlowRequestsOverlap() throws {
        let server = try HelloServer()
        defer { server.stop() }
        let urls = (0..<8).map { _ in "http://127.0.0.1:\(server.port)/slow?ms=300" }.joined(separator: " ")
        let start = ContinuousClock.now
        let result = run("curl -s -Z --parallel-max 8 \(urls)")
        let elapsed = ContinuousClock.now - start
        #expect(result.output.components("slept 300 ms") == 8)
        // One after another they would take 2.4 s; served concurrently, about 0.3 s.
        #expect(elapsed < .milliseconds(1800))
    }

    @Test func curlUploadsChunkedAndStreamsChunksBack() throws {
        let server = try HelloServer()
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let file = "/tmp/gevent-http-upload-\(getpid())"
        defer { unlink(file) }
        #expect(run("head -c 300000 /dev/urandom > \(file)").status == 0)
        let echoed = run(
            "curl -s -H 'Transfer-Encoding: chunked' --data-binary @\(file) \(base)/echo | cmp - \(file) && echo same"
        )
        #expect(echoed.output == "same\n")
        let put = run("curl -s -T \(file) \(base)/echo | cmp - \(file) && echo same")
        #expect(put.output == "same\n")
        let stream = run("curl -s -D - '\(base)/stream?chunks=3'")
        #expect(stream.output.contains("Transfer-Encoding: chunked"))
        #expect(stream.output.hasSuffix("\r\n\r\nchunk 0\nchunk 1\nchunk 2\n"))
    }

    @Test func pythonHTTPClientAndURLLib() throws {
        let server = try HelloServer()
        defer { server.stop() }
        let script = """
            import http.client, urllib.request, urllib.error
            c = http.client.HTTPConnection("127.0.0.1", \(server.port))
            socks = set()
            for i in range(3):
                c.request("GET", "/")
                r = c.getresponse()
                assert r.status == 200 and r.read() == b"Hello, World!", i
                socks.add(id(c.sock))
            assert len(socks) == 1, "no keep-alive"
            body = bytes(range(256)) * 1000
            c.request("POST", "/echo", body=body)
            r = c.getresponse()
            assert r.read() == body
            c.request("PUT", "/echo", body=iter([b"ab", b"cd"]), encode_chunked=True,
                      headers={"Transfer-Encoding": "chunked"})
            assert c.getresponse().read() == b"abcd"
            c.request("GET", "/stream?chunks=4")
            r = c.getresponse()
            assert r.getheader("Transfer-Encoding") == "chunked"
            assert r.read() == b"".join(b"chunk %d\\n" % i for i in range(4))
            assert urllib.request.urlopen("http://127.0.0.1:\(server.port)/slow?ms=10").read() == b"slept 10 ms"
            try:
                urllib.request.urlopen("http://127.0.0.1:\(server.port)/nothing")
                raise SystemExit("no 404")
            except urllib.error.HTTPError as e:
                assert e.code == 404
            print("ok")
            """
        let result = run("python3 - <<'PYTHON'\n\(script)\nPYTHON\n 2>&1")
        #expect(result.output == "ok\n", "\(result.output)")
    }

    /// HTTPS with a certificate made here by openssl(1): curl verifies it against that certificate.
    @Test func servesHTTPSAndSurvivesPlainHTTPAndGarbageOnItsPort() throws {
        var template = Array("/tmp/gevent-hello-tls-XXXXXX".utf8CString)
        let directory = String(cString: try #require(mkdtemp(&template)))
        defer { _ = run("rm -rf '\(directory)'") }
        let made = run(
            "cd '\(directory)' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                + "-keyout key.pem -out cert.pem -days 2 -subj /CN=localhost "
                + "-addext subjectAltName=IP:127.0.0.1,DNS:localhost 2>&1 && "
                + "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                + "-keyout other.pem -out othercert.pem -days 2 -subj /CN=other 2>&1"
        )
        #expect(made.status == 0, "\(made.output)")
        let server = try HelloServer(arguments: "--tls-cert \(directory)/cert.pem --tls-key \(directory)/key.pem")
        defer { server.stop() }
        #expect(server.firstLine.hasPrefix("listening on https://127.0.0.1:"))
        let base = "https://127.0.0.1:\(server.port)"
        let hello = run("curl -s --cacert \(directory)/cert.pem \(base)/")
        #expect(hello.status == 0 && hello.output == "Hello, World!", "\(hello.output)")
        // Plain HTTP and garbage on the TLS port end only their own connections.
        #expect(run("curl -s -m 5 http://127.0.0.1:\(server.port)/").status != 0)
        let garbage = run(
            "python3 -c \"import socket; s = socket.create_connection(('127.0.0.1', \(server.port))); "
                + "s.sendall(b'garbage\\\\r\\\\n\\\\r\\\\n'); s.settimeout(10); print(len(s.recv(100)))\" 2>&1"
        )
        #expect(garbage.output.hasSuffix("\n"), "the server closes a connection that sends garbage: \(garbage.output)")
        let body = run(
            "head -c 1048576 /dev/urandom > \(directory)/body && curl -s --cacert \(directory)/cert.pem "
                + "--data-binary @\(directory)/body \(base)/echo | cmp - \(directory)/body && echo same"
        )
        #expect(body.output == "same\n", "a 1 MiB POST echoed over TLS: \(body.output)")
        let verbose = run("curl -sv --cacert \(directory)/cert.pem \(base)/ \(base)/ 2>&1")
        #expect(verbose.output.contains("Re-using existing connection"), "keep-alive over TLS")
        // A key that does not belong to the certificate: a clear error before anything listens.
        let mismatch = run(
            "\(HelloServer.binary) --port 0 --tls-cert \(directory)/cert.pem --tls-key \(directory)/other.pem 2>&1"
        )
        #expect(mismatch.status != 0)
        #expect(mismatch.output.lowercased().contains("key"), "\(mismatch.output)")
        #expect(!mismatch.output.contains("listening"))
    }

    @Test func tlsNeedsBothACertificateAndAKey() {
        let result = run("\(HelloServer.binary) --tls-cert c.pem 2>&1")
        #expect(result.status != 0)
        #expect(result.output.contains("needs both --tls-cert"))
    }
}

/// HTTPHello started on a free port, stopped with SIGTERM.
final class HelloServer {
    static let binary: String = {
        var path = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &path, path.count - 1)
        let exe = String(decoding: path[..<max(length, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)] + "/HTTPHello"
    }()

    let pid: pid_t
    let firstLine: String
    let port: Int

    init(arguments: String = "") throws {
        var fds: [CInt] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(what: "pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        defer { posix_spawn_file_actions_destroy(&actions) }
        // The test process may block signals on this thread; the child must die of SIGTERM.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var terminate = sigset_t()
        sigemptyset(&terminate)
        sigaddset(&terminate, SIGTERM)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &terminate)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = [HelloServer.binary, "--port", "0"] + arguments.split(separator: " ").map(String.init)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer {
            for argument in cArgs { free(argument) }
        }
        var child: pid_t = 0
        guard posix_spawn(&child, HelloServer.binary, &actions, &attributes, &cArgs, environ) == 0 else {
            throw SpawnError(what: HelloServer.binary)
        }
        close(fds[1])
        pid = child
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) == 1 && byte != UInt8(ascii: "\n") {
            line.append(byte)
        }
        close(fds[0])
        firstLine = String(decoding: line, as: UTF8.self)
        port = Int(firstLine.split(separator: ":").last ?? "") ?? 0
        guard port > 0 else { throw SpawnError(what: "HTTPHello printed \(firstLine.debugDescription)") }
    }

    func stop() {
        kill(pid, SIGTERM)
        var status: CInt = 0
        waitpid(pid, &status, 0)
    }
}

struct SpawnError: Error {
    let what: String
}

/// Runs `command` with /bin/sh; its stdout and exit status.
func run(_ command: String) -> (output: String, status: CInt) {
    guard let pipe = popen(command, "r") else { return ("", -1) }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, pipe)
        if count <= 0 { break }
        output += buffer[..<count]
    }
    let status = pclose(pipe)
    return (String(decoding: output, as: UTF8.self), status)
}

extension String {
    /// How many times `needle` occurs.
    func components(_ needle: String) -> Int {
        ranges(of: needle).count
    }
}
