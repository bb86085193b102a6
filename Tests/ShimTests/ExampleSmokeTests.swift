import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Runs `script` with sh in the package's folder, with `$B` the directory of the built examples; every
/// command is bounded by `timeout` so a broken example fails instead of hanging.
private func runScript(_ script: String) throws -> ProcessOutput {
    try runProcess(
        ["sh", "-c", "cd \"$1\" || exit 1; B=\"$2\"\n\(script)", "sh", packageRoot, testBinaryDirectory]
    )
}

/// gevent's examples, one for one: each runs with small arguments and prints what it should.
@Suite("Examples", .serialized, .timeLimit(.minutes(1)))
struct ExampleSmokeTests {
    @Test func concurrentDownloadFetchesThreeURLsAtOnce() throws {
        let output = try runScript("timeout 20 \"$B/ConcurrentDownload\"")
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.contains("3 of 3 downloads in"))
        #expect(output.standardOutput.contains("/gevent: 20 bytes: \"the text of /gevent\\n\""))
    }

    @Test func threadPoolRunsFourBlockingCallsOnThreeThreadsInTwoRounds() throws {
        let output = try runScript("timeout 20 \"$B/ThreadPoolExample\" 4 0.3")
        #expect(output.status == 0, "\(output.standardError)")
        let match = try #require(output.standardOutput.firstMatch(of: /took ([0-9.]+) seconds.* ran (\d+) ticks/))
        let seconds = try #require(Double(match.1))
        #expect(seconds >= 0.59 && seconds < 1.2, "two rounds of 0.3 s: \(seconds) s")
        #expect(Int(match.2) ?? 0 >= 3, "the hub kept running greenlets")
    }

    @Test func udpClientGetsItsMessageBackFromUDPEchoServer() throws {
        let port = try freePort()
        let output = try runScript(
            """
            timeout 20 "$B/UDPEchoServer" \(port) >/dev/null & server=$!
            sleep 0.3; timeout 10 "$B/UDPClient" \(port) hello gevent; status=$?; kill $server; exit $status
            """
        )
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.contains("Received 12 bytes from 127.0.0.1:\(port): \"hello gevent\""))
    }

    @Test func unixSocketClientAndServerTalk() throws {
        let directory = try TemporaryDirectory()
        let output = try runScript(
            """
            timeout 20 "$B/UnixSocketServer" \(directory.path)/s --once & server=$!
            timeout 10 "$B/UnixSocketClient" \(directory.path)/s world && wait $server && test ! -e \(directory.path)/s
            """
        )
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.contains("received: \"hello, world\""))
    }

    @Test func processesRunThreeCommandsConcurrently() throws {
        let output = try runScript("timeout 20 \"$B/Processes\"")
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput.contains("stderr: the third one, on stderr too"))
        let match = try #require(output.standardOutput.firstMatch(of: /concurrently in ([0-9.]+) seconds/))
        let seconds = try #require(Double(match.1))
        #expect(seconds >= 0.5 && seconds < 1.15, "the slowest sleeps 0.5 s of 1.2 s in all: \(seconds) s")
    }

    @Test func webProxyFetchesThroughLibcurlAndRewritesLinks() throws {
        let directory = try TemporaryDirectory()
        let upstream = try freePort()
        let output = try runScript(
            """
            cd \(directory.path) && printf '<a href="http://127.0.0.1:\(upstream)/b.html">b</a>' > a.html \\
                && printf 'hello b' > b.html || exit 1
            timeout 30 python3 -m http.server \(upstream) --bind 127.0.0.1 >/dev/null 2>&1 & site=$!
            timeout 30 "$B/WebProxy" 0 > proxy.out & proxy=$!
            for i in $(seq 50); do grep -q listening proxy.out 2>/dev/null && break; sleep 0.1; done
            port=$(sed -n 's/.*://p' proxy.out); base=http://127.0.0.1:$port
            for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:\(upstream)/ && break; sleep 0.1; done
            curl -s $base/http://127.0.0.1:\(upstream)/a.html; echo
            curl -s $base/http://127.0.0.1:\(upstream)/b.html; echo
            curl -s -o /dev/null -w '%{http_code}\\n' $base/file:///etc/passwd
            curl -s -o /dev/null -w '%{http_code}\\n' $base/http://127.0.0.1:1/
            kill $proxy $site
            """
        )
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        #expect(
            lines == ["<a href=\"/http://127.0.0.1:\(upstream)/b.html\">b</a>", "hello b", "400", "502"],
            "\(output.standardOutput)"
        )
    }

    @Test func portForwarderCarriesASendfileDownloadByteForByte() throws {
        let (served, forwarded) = (try freePort(), try freePort())
        let output = try runScript(
            """
            timeout 20 "$B/GeventSendfile" Package.swift \(served) --once & server=$!
            timeout 20 "$B/PortForwarder" 127.0.0.1:\(forwarded) 127.0.0.1:\(served) --max 1 & forwarder=$!
            sleep 0.5
            curl -s --max-time 10 http://127.0.0.1:\(forwarded)/ | cmp - Package.swift && echo identical
            wait $server && wait $forwarder
            """
        )
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.contains("identical"))
        #expect(
            output.standardOutput.contains(
                "sent \(try fileSize(packageRoot + "/Package.swift")) bytes of Package.swift"
            )
        )
        #expect(output.standardOutput.contains(": closed"))
    }

    @Test func echoServerAnswersThroughThePortForwarder() throws {
        let (echo, forwarded) = (try freePort(), try freePort())
        let output = try runScript(
            """
            timeout 20 "$B/EchoServer" \(echo) >/dev/null & server=$!
            timeout 20 "$B/PortForwarder" 127.0.0.1:\(forwarded) 127.0.0.1:\(echo) --max 1 >/dev/null & forwarder=$!
            sleep 0.5
            python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1])));
            s.sendall(b"round trip"); s.shutdown(socket.SHUT_WR); print(s.makefile("rb").read().decode())' \(forwarded)
            status=$?; wait $forwarder; kill $server; exit $status
            """
        )
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.contains("round trip"))
    }
}

private func fileSize(_ path: String) throws -> Int {
    var status = stat()
    try #require(stat(path, &status) == 0)
    return Int(status.st_size)
}
