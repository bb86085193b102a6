import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sends `request` on a new connection to `address` and returns everything the server sends back until
/// it closes (or `timeout` passes: then the partial answer with `timedOut`).
private func exchange(
    _ address: SocketAddress,
    _ request: String,
    timeout: Duration = .seconds(5)
) throws -> (reply: String, timedOut: Bool) {
    let host = address.family == .inet6 ? "[::1]" : "127.0.0.1"
    let client = try createConnection(host: host == "[::1]" ? "::1" : host, port: address.port!, timeout: timeout)
    defer { client.close() }
    try client.sendAll(Array(request.utf8))
    var reply: [UInt8] = []
    do {
        while true {
            let chunk = try client.recv(maxBytes: 4096)
            if chunk.isEmpty { break }
            reply += chunk
        }
    } catch is SocketTimeoutError {
        return (String(decoding: reply, as: UTF8.self), true)
    }
    return (String(decoding: reply, as: UTF8.self), false)
}

/// A handler that answers gevent's test request: reads one line, answers "PONG", closes.
private func pingHandler(_ client: Socket, _ peer: SocketAddress) throws {
    let reader = client.makeReader()
    defer { reader.close() }
    let line = try reader.readLine()
    if line == Array("PING\n".utf8) {
        try client.sendAll(Array("PONG".utf8))
    }
}

private func isRefused(_ address: SocketAddress) throws -> Bool {
    do {
        let client = try createConnection(host: "127.0.0.1", port: address.port!, timeout: .seconds(2))
        client.close()
        return false
    } catch let error as SocketError where error.code == .connectionRefused {
        return true
    }
}

/// gevent's test__server.py.
@Suite("StreamServer", .serialized, .timeLimit(.minutes(1)))
struct StreamServerTests {
    @Test func refusesBeforeStartServesAfterAndRefusesAfterStop() throws {
        try withHub {
            let port = try unusedPort()
            let server = try StreamServer(listener: "127.0.0.1:\(port)", handler: pingHandler)
            let address = try SocketAddress("127.0.0.1:\(port)")
            #expect(try isRefused(address))
            #expect(!server.isStarted)
            try server.start()
            #expect(server.isStarted)
            for _ in 0..<2 {
                #expect(try exchange(address, "PING\n").reply == "PONG")
            }
            try server.stop()
            #expect(!server.isStarted)
            #expect(server.isClosed)
            #expect(try isRefused(address))
        }
    }

    @Test func stopAcceptingQueuesClientsAndStartAcceptingServesThem() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            try server.start()
            server.stopAccepting()
            let (reply, timedOut) = try exchange(server.address, "PING\n", timeout: .milliseconds(100))
            #expect(timedOut && reply.isEmpty)
            let waiting = spawn { try exchange(server.address, "PING\n").reply }
            try sleep(.milliseconds(20))
            server.startAccepting()
            #expect(try waiting.get() == "PONG")
            #expect(try exchange(server.address, "PING\n").reply == "PONG")
            try server.stop()
        }
    }

    @Test func addressHasTheRealPortAfterBindingPortZero() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            #expect(server.address.port == 0)
            try server.start()
            #expect(server.address.port != 0)
            #expect(server.address.host == "127.0.0.1")
            try server.stop()
        }
    }

    @Test func serveForeverInAGreenletEndsWhenStopped() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            #expect(!server.isStarted)
            let serving = spawn { try server.serveForever() }
            try sleep(.milliseconds(10))
            #expect(server.isStarted)
            let address = server.address
            #expect(try exchange(address, "PING\n").reply == "PONG")
            try server.stop()
            #expect(!server.isStarted)
            #expect(try serving.join(timeout: .seconds(2)))
            #expect(serving.isSuccessful)
            #expect(try isRefused(address))
        }
    }

    @Test func killingTheServingGreenletStopsTheServer() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            let serving = spawn { try server.serveForever(stopTimeout: .milliseconds(100)) }
            try sleep(.milliseconds(10))
            let address = server.address
            try serving.kill()
            #expect(server.isClosed)
            #expect(try isRefused(address))
        }
    }

    @Test func everyWaitingClientIsServedWhateverMaxAccept() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            server.maxAccept = 1
            try server.start()
            server.stopAccepting()
            let clients = (0..<20).map { _ in spawn { try exchange(server.address, "PING\n").reply } }
            try sleep(.milliseconds(20))  // all twenty wait in the backlog
            server.startAccepting()
            for client in clients {
                #expect(try client.get() == "PONG")
            }
            try server.stop()
        }
    }

    @Test func aHandlerThatReturnsAtOnceClosesTheConnection() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0") { _, _ in }
            try server.start()
            // Nothing sent: closing a socket with unread data would reset the connection instead.
            let (reply, timedOut) = try exchange(server.address, "")
            #expect(reply.isEmpty && !timedOut)
            try server.stop()
        }
    }

    @Test func aHandlerThatThrowsIsReportedOnceAndTheServerKeepsServing() throws {
        try withHub {
            let errors = ErrorLog()
            var calls = 0
            let server = try StreamServer(listener: "127.0.0.1:0") { client, peer in
                calls += 1
                if calls == 1 {
                    _ = try client.recv(maxBytes: 100)  // read the request, so closing does not reset
                    throw ExpectedError(tag: "handler failed")
                }
                try pingHandler(client, peer)
            }
            try server.start()
            let (reply, timedOut) = try exchange(server.address, "PING\n")
            #expect(reply.isEmpty && !timedOut)  // the failing handler's connection was closed
            #expect(try exchange(server.address, "PING\n").reply == "PONG")
            #expect(errors.entries.count == 1)
            #expect((errors.entries.first?.error as? ExpectedError)?.tag == "handler failed")
            try server.stop()
        }
    }

    @Test func aLimitedServerStopsAcceptingWhileFullAndResumesAfterwards() throws {
        try withHub {
            var release = false
            let server = try StreamServer(listener: "127.0.0.1:0", spawn: .limit(2)) { client, peer in
                let reader = client.makeReader()
                defer { reader.close() }
                let line = try reader.readLine()
                if line == Array("LONG\n".utf8) {
                    while !release { try sleep(.milliseconds(5)) }
                    try client.sendAll(Array("DONE".utf8))
                } else {
                    try client.sendAll(Array("PONG".utf8))
                }
            }
            try server.start()
            let long = (0..<2).map { _ in spawn { try exchange(server.address, "LONG\n").reply } }
            try sleep(.milliseconds(30))
            #expect(server.activeHandlers == 2)
            for _ in 0..<3 {
                let (reply, timedOut) = try exchange(server.address, "PING\n", timeout: .milliseconds(30))
                #expect(timedOut && reply.isEmpty)
            }
            #expect(server.activeHandlers == 2)
            release = true
            for request in long {
                #expect(try request.get() == "DONE")
            }
            #expect(try exchange(server.address, "PING\n").reply == "PONG")
            try server.stop()
        }
    }

    @Test func aServerSpawningIntoAUserPoolSharesItsSlotsAndResumesWhenAnyMemberFinishes() throws {
        try withHub {
            let pool = Pool(size: 2)
            var releaseOther = false
            // A pool member that is not a handler holds one of the two slots.
            let other = try pool.spawn {
                while !releaseOther { try sleep(.milliseconds(5)) }
            }
            var releaseHandler = false
            let server = try StreamServer(listener: "127.0.0.1:0", spawn: .pool(pool)) { client, _ in
                let reader = client.makeReader()
                defer { reader.close() }
                let line = try reader.readLine()
                if line == Array("LONG\n".utf8) {
                    while !releaseHandler { try sleep(.milliseconds(5)) }
                    try client.sendAll(Array("DONE".utf8))
                } else {
                    try client.sendAll(Array("PONG".utf8))
                }
            }
            try server.start()
            let long = spawn { try exchange(server.address, "LONG\n").reply }
            try sleep(.milliseconds(30))
            #expect(server.activeHandlers == 1)
            #expect(pool.count == 2 && pool.freeCount == 0)
            // Full: the next connection waits in the backlog.
            let (reply, timedOut) = try exchange(server.address, "PING\n", timeout: .milliseconds(30))
            #expect(timedOut && reply.isEmpty)
            // The other member finishing frees a slot, and the server accepts again.
            releaseOther = true
            _ = try other.join()
            #expect(try exchange(server.address, "PING\n").reply == "PONG")
            releaseHandler = true
            #expect(try long.get() == "DONE")
            try server.stop()
            #expect(pool.count == 0)
        }
    }

    @Test func aPoolOfAnotherThreadIsRefused() throws {
        final class PoolBox: @unchecked Sendable { var pool: Pool? }
        let box = PoolBox()
        let thread = try NativeThread { box.pool = Pool(size: 1) }
        thread.join()
        try withHub {
            #expect(throws: ServerError.self) {
                _ = try StreamServer(listener: "127.0.0.1:0", spawn: .pool(box.pool!), handler: pingHandler)
            }
        }
    }

    @Test func stopWaitsForHandlersThenKillsTheRest() throws {
        try withHub {
            var finishedNormally = 0
            var killed = 0
            let server = try StreamServer(listener: "127.0.0.1:0") { client, _ in
                let long = try client.recv(maxBytes: 10) == Array("slow".utf8)
                do {
                    try sleep(long ? .seconds(30) : .milliseconds(30))
                    finishedNormally += 1
                } catch is GreenletExit {
                    killed += 1
                    throw GreenletExit()
                }
            }
            try server.start()
            let address = server.address
            let quick = try createConnection(host: "127.0.0.1", port: address.port!)
            let slow = try createConnection(host: "127.0.0.1", port: address.port!)
            try quick.sendAll(Array("fast".utf8))
            try slow.sendAll(Array("slow".utf8))
            try sleep(.milliseconds(10))
            #expect(server.activeHandlers == 2)
            let started = ContinuousClock.now
            try server.stop(timeout: .milliseconds(200))
            let elapsed = elapsedMilliseconds(since: started)
            #expect(finishedNormally == 1)
            #expect(killed == 1)
            #expect(server.activeHandlers == 0)
            #expect(elapsed >= 150 && elapsed < 3000)
            quick.close()
            slow.close()
        }
    }

    @Test func listensOnIPv6WildcardUnixAndResolvedNames() throws {
        try withHub {
            let v6 = try StreamServer(listener: "[::1]:0", handler: pingHandler)
            try v6.start()
            #expect(v6.address.family == .inet6)
            #expect(try exchange(v6.address, "PING\n").reply == "PONG")
            try v6.stop()

            let wildcard = try StreamServer(listener: ":0", handler: pingHandler)
            try wildcard.start()
            let port = wildcard.address.port!
            #expect(try exchange(SocketAddress("127.0.0.1:\(port)"), "PING\n").reply == "PONG")
            try wildcard.stop()

            let named = try StreamServer(listener: "localhost:0", handler: pingHandler)
            try named.start()
            #expect(try exchange(named.address, "PING\n").reply == "PONG")
            try named.stop()

            let path = "/tmp/gevent-server-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            defer { unlink(path) }
            let unix = try StreamServer(listener: path, handler: pingHandler)
            try unix.start()
            let client = try Socket(family: .unix, type: .stream)
            try client.connect(to: SocketAddress(unixPath: path))
            try client.sendAll(Array("PING\n".utf8))
            #expect(try readAll(client) == Array("PONG".utf8))
            client.close()
            try unix.stop()
        }
    }

    @Test func servesOnASocketItWasGiven() throws {
        try withHub {
            let socket = try Socket(family: .inet, type: .stream)
            try socket.bind(to: SocketAddress("127.0.0.1:0"))
            let server = try StreamServer(socket: socket, handler: pingHandler)
            try server.start()
            #expect(server.address == (try socket.localAddress))
            #expect(try exchange(server.address, "PING\n").reply == "PONG")
            try server.stop()
            #expect(socket.isClosed)
        }
    }

    @Test func misconfigurationIsReportedWithServerErrors() throws {
        try withHub {
            #expect(throws: ServerError.self) { _ = try StreamServer(listener: "127.0.0.1:http", handler: pingHandler) }
            #expect(throws: ServerError.self) {
                _ = try StreamServer(listener: "127.0.0.1:0", spawn: .limit(0), handler: pingHandler)
            }
            let udp = try Socket(family: .inet, type: .datagram)
            #expect(throws: ServerError.self) { _ = try StreamServer(socket: udp, handler: pingHandler) }
            udp.close()
            let server = try StreamServer(listener: "127.0.0.1:0", handler: pingHandler)
            try server.start()
            try server.stop()
            #expect(throws: ServerError.self) { try server.start() }
        }
    }

    @Test func oneThousandConcurrentClientsThroughOneServer() throws {
        try withHub {
            let server = try StreamServer(listener: "127.0.0.1:0", backlog: 1024) { client, _ in
                var buffer = [UInt8](repeating: 0, count: 256)
                while true {
                    let count = try buffer.withUnsafeMutableBytes { try client.recv(into: $0) }
                    if count == 0 { return }
                    try client.sendAll(buffer[..<count])
                }
            }
            try server.start()
            let address = server.address
            var inFlight = 0
            var peak = 0
            let clients = (0..<1000).map { index in
                spawn { () throws -> Bool in
                    let client = try Socket(family: .inet, type: .stream)
                    client.timeout = .seconds(20)
                    defer { client.close() }
                    try client.connect(to: address)
                    inFlight += 1
                    peak = max(peak, inFlight)
                    defer { inFlight -= 1 }
                    var ok = true
                    for round in 0..<3 {
                        let message = Array("client \(index) round \(round)\n".utf8)
                        try client.sendAll(message)
                        var echoed: [UInt8] = []
                        while echoed.count < message.count {
                            let chunk = try client.recv(maxBytes: message.count - echoed.count)
                            if chunk.isEmpty { break }
                            echoed += chunk
                        }
                        ok = ok && echoed == message
                        try sleep(.milliseconds(1))
                    }
                    return ok
                }
            }
            let results = try clients.map { try $0.get() }
            #expect(results.allSatisfy { $0 })
            #expect(peak > 500, "clients were not concurrent: at most \(peak) connected at once")
            try server.stop()
        }
    }
}

/// gevent's DatagramServer.
@Suite("DatagramServer", .serialized, .timeLimit(.minutes(1)))
struct DatagramServerTests {
    @Test func echoesDatagramsThroughSendTo() throws {
        try withHub {
            let server = try DatagramServer(listener: "127.0.0.1:0")
            server.setHandler { [unowned server] datagram, sender in
                try server.sendTo(datagram.reversed(), address: sender)
            }
            try server.start()
            #expect(server.address.port != 0)
            let client = try Socket(family: .inet, type: .datagram)
            client.timeout = .seconds(5)
            for message in ["abc", "hello", ""] {
                try client.sendTo(Array(message.utf8), address: server.address)
                let (reply, from) = try client.recvFrom(maxBytes: 100)
                #expect(reply == Array(message.utf8.reversed()))
                #expect(from == server.address)
            }
            client.close()
            try server.stop()
            #expect(server.isClosed)
        }
    }

    @Test func aHandlerThatThrowsDoesNotStopTheServer() throws {
        try withHub {
            let errors = ErrorLog()
            var received: [String] = []
            let server = try DatagramServer(listener: "127.0.0.1:0") { datagram, _ in
                let text = String(decoding: datagram, as: UTF8.self)
                if text == "bad" { throw ExpectedError(tag: text) }
                received.append(text)
            }
            try server.start()
            let client = try Socket(family: .inet, type: .datagram)
            for message in ["one", "bad", "two"] {
                try client.sendTo(Array(message.utf8), address: server.address)
            }
            for _ in 0..<100 where received.count < 2 {
                try sleep(.milliseconds(5))
            }
            #expect(received == ["one", "two"])
            #expect(errors.entries.count == 1)
            client.close()
            try server.stop()
        }
    }

    @Test func manyHandlersReplyingAtOnceAreSerialisedWithoutErrors() throws {
        try withHub {
            let errors = ErrorLog()
            let server = try DatagramServer(listener: "127.0.0.1:0")
            server.setHandler { [unowned server] datagram, sender in
                try server.sendTo(datagram, address: sender)
            }
            try server.start()
            let client = try Socket(family: .inet, type: .datagram)
            try client.setOption(.receiveBufferSize, to: 1 << 20)
            client.timeout = .seconds(5)
            for index in 0..<200 {
                try client.sendTo(Array("\(index)".utf8), address: server.address)
            }
            var replies = Set<String>()
            while replies.count < 200 {
                let (reply, _) = try client.recvFrom(maxBytes: 100)
                replies.insert(String(decoding: reply, as: UTF8.self))
            }
            #expect(replies.count == 200)
            #expect(errors.entries.isEmpty)
            client.close()
            try server.stop()
        }
    }
}
