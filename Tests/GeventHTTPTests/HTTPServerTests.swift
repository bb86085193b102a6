import Gevent
import GeventHTTP
import Testing

@Suite("HTTPServer", .serialized, .timeLimit(.minutes(1)))
struct HTTPServerTests {
    // MARK: - Connections

    @Test func keepAliveServesSeveralRequestsOnOneConnection() throws {
        var peers: [Int] = []
        let handler: HTTPServer.Handler = { request, response in
            peers.append(request.peer.port ?? -1)
            try response.respond(HTTPResponse(status: .ok), body: "n\(peers.count)")
        }
        try withServer(handler: handler) { server in
            let client = try TestClient(server)
            for index in 1...3 {
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try #require(try client.readResponse())
                #expect(response.status == 200)
                #expect(response.text == "n\(index)")
                #expect(response.field("connection") == nil)
                #expect(response.field("date")?.hasSuffix(" GMT") == true)
            }
            #expect(Set(peers).count == 1)
            #expect(server.connectionCount == 1)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let handler: HTTPServer.Handler = { request, response in
            // The first request is the slowest: answering in arrival order must still hold.
            let delay = request.path == "/1" ? 60 : request.path == "/2" ? 20 : 0
            try sleep(.milliseconds(delay))
            try response.respond(HTTPResponse(status: .ok), body: request.path ?? "")
        }
        try withServer(handler: handler) { server in
            let client = try TestClient(server)
            try client.send(
                "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                    + "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            #expect(try client.readResponse()?.text == "/1")
            #expect(try client.readResponse()?.text == "/2")
            let last = try #require(try client.readResponse())
            #expect(last.text == "/3")
            #expect(last.field("connection") == "close")
            #expect(try client.isClosedByPeer())
        }
    }

    @Test func http10ClosesUnlessTheClientAsksForKeepAlive() throws {
        try withServer(handler: hello) { server in
            let plain = try TestClient(server)
            try plain.send("GET /a HTTP/1.0\r\n\r\n")
            let first = try #require(try plain.readResponse())
            #expect(first.text == "hello /a")
            #expect(first.field("connection") == "close")
            #expect(try plain.isClosedByPeer())

            let kept = try TestClient(server)
            for _ in 0..<2 {
                try kept.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let response = try #require(try kept.readResponse())
                #expect(response.field("connection") == "keep-alive")
                #expect(response.text == "hello /b")
            }
        }
    }

    @Test func aStreamedResponseToHTTP10EndsWithTheConnection() throws {
        let handler: HTTPServer.Handler = { _, response in
            try response.writeHead(HTTPResponse(status: .ok))
            try response.write("one,")
            try response.write("two")
        }
        try withServer(handler: handler) { server in
            let client = try TestClient(server)
            try client.send("GET / HTTP/1.0\r\n\r\n")
            let response = try #require(try client.readResponse())
            #expect(response.field("transfer-encoding") == nil)
            #expect(response.text == "one,two")
        }
    }

    // MARK: - Bodies

    @Test func chunkedRequestBodiesAndChunkedResponses() throws {
        var trailers: HTTPFields?
        let handler: HTTPServer.Handler = { request, response in
            try response.writeHead(HTTPResponse(status: .ok))
            while let piece = try request.body.nextChunk() {
                try response.write(piece)
            }
            trailers = request.body.trailers
            try response.finish()
        }
        try withServer(handler: handler) { server in
            let client = try TestClient(server)
            try client.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try client.send("5;ext=1\r\nhello\r\n")
            try client.send("6\r\n world\r\n0\r\nX-Check: yes\r\n\r\n")
            let response = try #require(try client.readResponse())
            #expect(response.field("transfer-encoding") == "chunked")
            #expect(response.text == "hello world")
            #expect(trailers?[HTTPField.Name("x-check")!] == "yes")
            // The connection is still usable.
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse()?.status == 200)
        }
    }

    @Test func anUnreadBodyIsDiscardedSoTheNextRequestParses() throws {
        try withServer(handler: hello) { server in
            let client = try TestClient(server)
            try client.send(
                "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcdeGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            #expect(try client.readResponse()?.text == "hello /a")
            #expect(try client.readResponse()?.text == "hello /b")
        }
    }

    @Test func sendsContinueOnlyWhenTheHandlerReadsTheBody() throws {
        let handler: HTTPServer.Handler = { request, response in
            if request.path == "/read" {
                try response.respond(HTTPResponse(status: .ok), body: try request.body.collect(upTo: 100))
            } else {
                try response.respond(HTTPResponse(status: .forbidden))
            }
        }
        try withServer(handler: handler) { server in
            let reader = try TestClient(server)
            try reader.send("POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let interim = try #require(try reader.readResponse())
            #expect(interim.status == 100)
            try reader.send("data")
            let final = try #require(try reader.readResponse())
            #expect(final.status == 200)
            #expect(final.text == "data")

            let refused = try TestClient(server)
            try refused.send("POST /no HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            let answer = try #require(try refused.readResponse())
            #expect(answer.status == 403)
            #expect(answer.field("connection") == "close")
        }
    }

    @Test func headGetsTheFieldsWithoutTheBody() throws {
        try withServer(handler: hello) { server in
            let client = try TestClient(server)
            try client.send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /g HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try #require(try client.readResponse(head: true))
            #expect(head.field("content-length") == "8")
            let next = try #require(try client.readResponse())
            #expect(next.text == "hello /g")
        }
    }

    // MARK: - Limits

    @Test func answersLimitBreachesWithTheirStatusAndCloses() throws {
        var configuration = HTTPServerConfiguration()
        configuration.parserLimits = HTTPParserLimits(maxRequestLineLength: 100, maxHeadSize: 1000, maxFieldCount: 5)
        configuration.maxBodySize = 10
        try withServer(configuration, handler: echo) { server in
            let cases: [(String, Int)] = [
                ("GET /" + String(repeating: "a", count: 200) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
                ("GET / HTTP/1.1\r\nHost: x\r\n" + (0..<6).map { "X-\($0): v\r\n" }.joined() + "\r\n", 431),
                ("GET / HTTP/1.1\r\nHost: x\r\nX: " + String(repeating: "v", count: 1200) + "\r\n\r\n", 431),
                ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", 413),
                (
                    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n",
                    413
                ),
                ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
                ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
                ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
                ("GET / HTTP/2.0\r\n\r\n", 505),
            ]
            for (request, status) in cases {
                let client = try TestClient(server)
                try client.send(request)
                let response = try #require(
                    try client.readResponse(),
                    "no answer to \(request.prefix(40).debugDescription)"
                )
                #expect(response.status == status, "\(request.prefix(40).debugDescription)")
                #expect(response.field("connection") == "close")
                #expect(try client.isClosedByPeer())
            }
        }
    }

    // MARK: - Timeouts

    @Test func aHeadDrippedByteByByteIsCutOffAtTheDeadlineWhileOthersAreServed() throws {
        var configuration = HTTPServerConfiguration()
        configuration.headerTimeout = .milliseconds(400)
        try withServer(configuration, handler: hello) { server in
            let slow = try TestClient(server)
            let start = ContinuousClock.now
            let dripper = spawn {
                for byte in "GET / HTTP/1.1\r\nHost: x\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8 {
                    try slow.socket.sendAll([byte])
                    try sleep(.milliseconds(50))
                }
            }
            // Other clients keep being served while the slow one drips.
            for _ in 0..<3 {
                let other = try TestClient(server)
                try other.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(try other.readResponse()?.text == "hello /ok")
            }
            let response = try slow.readResponse()
            let elapsed = ContinuousClock.now - start
            #expect(response?.status == 408)
            #expect(elapsed >= .milliseconds(350))
            #expect(elapsed < .seconds(3))
            try dripper.kill()
        }
    }

    @Test func anIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout() throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .milliseconds(200)
        try withServer(configuration, handler: hello) { server in
            let client = try TestClient(server)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse()?.status == 200)
            let start = ContinuousClock.now
            #expect(try client.isClosedByPeer())
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(server.connectionCount == 0)
        }
    }

    @Test func capsRequestsPerConnection() throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxRequestsPerConnection = 2
        try withServer(configuration, handler: hello) { server in
            let client = try TestClient(server)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse()?.field("connection") == nil)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse()?.field("connection") == "close")
            #expect(try client.isClosedByPeer())
        }
    }

    // MARK: - Stopping and errors

    @Test func stopFinishesRequestsInFlightAndClosesIdleConnections() throws {
        try withHub {
            let server = try HTTPServer(listener: "127.0.0.1:0") { _, response in
                try sleep(.milliseconds(200))
                try response.respond(HTTPResponse(status: .ok), body: "done")
            }
            try server.start()
            let idle = try TestClient(server)
            try idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try idle.readResponse()?.text == "done")
            let busy = try TestClient(server)
            try busy.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            try sleep(.milliseconds(50))
            let stopper = spawn { try server.stop(timeout: .seconds(5)) }
            let response = try #require(try busy.readResponse())
            #expect(response.text == "done")
            #expect(response.field("connection") == "close")
            #expect(try idle.isClosedByPeer())
            try stopper.get()
            #expect(server.connectionCount == 0)
        }
    }

    @Test func aHandlerErrorBecomes500AndIsReported() throws {
        struct Broken: Error {}
        var reported: [any Error] = []
        let handler: HTTPServer.Handler = { request, response in
            if request.path == "/late" {
                try response.writeHead(HTTPResponse(status: .ok), contentLength: 10)
                try response.write("12345")
            }
            throw Broken()
        }
        try withServer(handler: handler) { server in
            Hub.current.errorHandler = { _, error in reported.append(error) }
            let client = try TestClient(server)
            try client.send("GET /early HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(try client.readResponse())
            #expect(response.status == 500)
            #expect(response.field("connection") == "close")

            let late = try TestClient(server)
            try late.send("GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
            // The head went out with a length the body never reaches: the connection is closed.
            #expect(throws: (any Error).self) { try late.readResponse() }
            #expect(reported.count == 2)
            #expect(reported.allSatisfy { $0 is Broken })
        }
    }

    @Test func upgradeHandsTheSocketAndTheBufferedBytesToTheHandler() throws {
        let handler: HTTPServer.Handler = { request, response in
            var head = HTTPResponse(status: .switchingProtocols)
            head.headerFields[.connection] = "Upgrade"
            head.headerFields[.upgrade] = "echo"
            let connection = try response.upgrade(head)
            try connection.socket.sendAll(connection.bufferedBytes)
            let more = try connection.socket.recv(maxBytes: 100)
            try connection.socket.sendAll(more)
        }
        try withServer(handler: handler) { server in
            let client = try TestClient(server)
            try client.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
            let response = try #require(try client.readResponse())
            #expect(response.status == 101)
            #expect(response.field("upgrade") == "echo")
            try client.send("-late")
            var received = client.takeBuffered()
            while received.count < 10 {
                let chunk = try client.socket.recv(maxBytes: 100)
                if chunk.isEmpty { break }
                received += chunk
            }
            #expect(String(decoding: received, as: UTF8.self) == "early-late")
        }
    }

    @Test func noDescriptorIsLeftBehindByGoodOrBadClients() throws {
        var port = 0
        try withServer(handler: echo) { server in
            port = server.address.port ?? 0
            let held = try TestClient(server)
            try held.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try held.readResponse()
            // The listener and both ends of the held connection: the count sees this server's sockets.
            #expect(openSockets(port: port) == 3)
            let requests = [
                "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", "\u{0}\u{1}garbage\r\n\r\n",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
            ]
            for round in 0..<10 {
                for request in requests {
                    let client = try TestClient(server)
                    try client.send(request)
                    // A body shorter than its length only ends when the client closes.
                    if round % 2 == 0 || request.contains("abc") {
                        client.socket.close()
                    } else {
                        _ = try? client.isClosedByPeer()
                    }
                }
            }
            try sleep(.milliseconds(100))
        }
        #expect(port > 0)
        #expect(openSockets(port: port) == 0)
    }

    @Test func writesAnAccessLogLinePerResponseWhenAsked() throws {
        var lines: [String] = []
        var configuration = HTTPServerConfiguration()
        configuration.accessLog = { lines.append($0) }
        try withServer(configuration, handler: hello) { server in
            let client = try TestClient(server)
            try client.send("GET /logged HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try client.readResponse()
        }
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("127.0.0.1 - - [") == true)
        #expect(lines.first?.hasSuffix("] \"GET /logged HTTP/1.1\" 200 13") == true)
    }
}
