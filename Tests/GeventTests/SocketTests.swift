import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__socket.py: data integrity, duplex transfers, families, socket pairs, options.
@Suite("Socket", .serialized, .timeLimit(.minutes(1)))
struct SocketTests {
    @Test func sendAllOfALargePayloadArrivesIntact() throws {
        try withHub {
            // gevent's `", ".join(str(x) for x in range(20000))`: about 129 KB.
            let payload = Array((0..<20000).map(String.init).joined(separator: ", ").utf8)
            let (listener, address) = try makeListener()
            let reader = spawn { () throws -> [UInt8] in
                let (connection, _) = try listener.accept()
                defer { connection.close() }
                return try readAll(connection)
            }
            let client = try Socket(family: .inet, type: .stream)
            try client.connect(to: address)
            try client.sendAll(payload)
            try client.shutdown(.write)
            let received = try reader.get()
            #expect(received.count == payload.count)
            #expect(received == payload)
            client.close()
            listener.close()
        }
    }

    @Test func sendAllWithATimeoutAndEmptySendsWork() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            client.timeout = .seconds(5)
            try client.sendAll([UInt8]())
            let sent = try client.send([UInt8]())
            #expect(sent == 0)
            try client.sendAll(Array("hi\n".utf8))
            let got = try server.recv(maxBytes: 10)
            #expect(got == Array("hi\n".utf8))
            client.close()
            server.close()
        }
    }

    @Test func fullDuplexTransfersOneHundredThousandBytesEachWay() throws {
        try withHub {
            let (a, b) = try makeConnectedPair()
            let fromA = patternBytes(100_000, seed: 1)
            let fromB = patternBytes(100_000, seed: 2)
            func receive(_ socket: Socket, _ count: Int) throws -> [UInt8] {
                var result: [UInt8] = []
                while result.count < count {
                    let chunk = try socket.recv(maxBytes: count - result.count)
                    if chunk.isEmpty { break }
                    result += chunk
                }
                return result
            }
            let sendA = spawn { try a.sendAll(fromA) }
            let sendB = spawn { try b.sendAll(fromB) }
            let receiveA = spawn { try receive(a, fromB.count) }
            let receiveB = spawn { try receive(b, fromA.count) }
            try sendA.get()
            try sendB.get()
            #expect(try receiveA.get() == fromB)
            #expect(try receiveB.get() == fromA)
            a.close()
            b.close()
        }
    }

    @Test func familyTypeAndProtocolArePreserved() throws {
        try withHub {
            let tcp6 = try Socket(family: .inet6, type: .stream)
            #expect(tcp6.family == .inet6)
            #expect(tcp6.type == .stream)
            tcp6.timeout = .zero
            tcp6.timeout = nil
            #expect(tcp6.type == .stream)
            let udp = try Socket(family: .inet, type: .datagram)
            #expect(udp.type == .datagram)
            let adopted = try Socket(adopting: FileDescriptor(dup(udp.fileDescriptor.rawValue)))
            #expect(adopted.family == .inet)
            #expect(adopted.type == .datagram)
            tcp6.close()
            udp.close()
            adopted.close()
        }
    }

    @Test func nonBlockingSocketThrowsWouldBlockInsteadOfWaiting() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            server.timeout = .zero
            #expect {
                _ = try server.recv(maxBytes: 10)
            } throws: { error in
                (error as? SocketError)?.code == .wouldBlock
            }
            client.close()
            server.close()
        }
    }

    @Test func localAddressHasTheRealPortAndRemoteAddressThePeer() throws {
        try withHub {
            let (listener, address) = try makeListener()
            #expect(address.port != 0)
            let client = try Socket(family: .inet, type: .stream)
            try client.connect(to: address)
            let (server, peer) = try listener.accept()
            #expect(try client.remoteAddress == address)
            #expect(try server.remoteAddress == peer)
            #expect(try client.localAddress == peer)
            #expect(throws: SocketError.self) { _ = try listener.remoteAddress }
            client.close()
            server.close()
            listener.close()
        }
    }

    @Test func socketOptionsRoundTrip() throws {
        try withHub {
            let socket = try Socket(family: .inet, type: .stream)
            try socket.setOption(.reuseAddress, to: true)
            #expect(try socket.option(.reuseAddress) != 0)
            try socket.setOption(.noDelay, to: true)
            #expect(try socket.option(.noDelay) != 0)
            try socket.setOption(.keepAlive, to: false)
            #expect(try socket.option(.keepAlive) == 0)
            try socket.setOption(.receiveBufferSize, to: 65536)
            #expect(try socket.option(.receiveBufferSize) >= 65536)
            socket.close()
            #expect(throws: SocketError.self) { try socket.setOption(.noDelay, to: true) }
        }
    }

    @Test func socketPairCarriesStreamsAndDatagrams() throws {
        try withHub {
            let (a, b) = try socketPair()
            try a.sendAll(Array("ping".utf8))
            #expect(try b.recv(maxBytes: 10) == Array("ping".utf8))
            try b.sendAll(Array("pong".utf8))
            #expect(try a.recv(maxBytes: 10) == Array("pong".utf8))
            let (x, y) = try socketPair(type: .datagram)
            _ = try x.send(Array("one".utf8))
            _ = try x.send(Array("two".utf8))
            #expect(try y.recv(maxBytes: 10) == Array("one".utf8))
            #expect(try y.recv(maxBytes: 10) == Array("two".utf8))
            for socket in [a, b, x, y] { socket.close() }
        }
    }

    @Test func udpSendToAndRecvFromOverIPv4AndIPv6() throws {
        try withHub {
            for host in ["127.0.0.1", "::1"] {
                let family: AddressFamily = host == "::1" ? .inet6 : .inet
                let server = try Socket(family: family, type: .datagram)
                try server.bind(to: SocketAddress(ip: host, port: 0))
                let address = try server.localAddress
                let echo = spawn {
                    let (datagram, sender) = try server.recvFrom(maxBytes: 2048)
                    try server.sendTo(datagram.reversed(), address: sender)
                }
                let client = try Socket(family: family, type: .datagram)
                try client.sendTo(Array("abc".utf8), address: address)
                let (reply, from) = try client.recvFrom(maxBytes: 2048)
                try echo.get()
                #expect(reply == Array("cba".utf8))
                #expect(from == address)
                client.close()
                server.close()
            }
        }
    }

    @Test func unixStreamSocketsConnectByPath() throws {
        try withHub {
            let path = "/tmp/gevent-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
            defer { unlink(path) }
            let listener = try Socket(family: .unix, type: .stream)
            try listener.bind(to: SocketAddress(unixPath: path))
            try listener.listen()
            #expect(try listener.localAddress.path == path)
            let server = spawn { () throws -> [UInt8] in
                let (connection, _) = try listener.accept()
                defer { connection.close() }
                return try readAll(connection)
            }
            let client = try Socket(family: .unix, type: .stream)
            try client.connect(to: SocketAddress(unixPath: path))
            try client.sendAll(Array("over unix".utf8))
            client.close()
            #expect(try server.get() == Array("over unix".utf8))
            listener.close()
        }
    }

    @Test func recvWithWaitAllFillsTheWholeBuffer() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let writer = spawn {
                for chunk in 0..<4 {
                    try client.sendAll(patternBytes(1000, seed: chunk))
                    try sleep(.milliseconds(5))
                }
            }
            var buffer = [UInt8](repeating: 0, count: 4000)
            let count = try buffer.withUnsafeMutableBytes { try server.recv(into: $0, flags: .waitAll) }
            try writer.get()
            #expect(count == 4000)
            #expect(Array(buffer[1000..<2000]) == patternBytes(1000, seed: 1))
            client.close()
            server.close()
        }
    }

    @Test func makeReaderReadsLinesEvenAfterTheSocketIsClosed() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let reader = server.makeReader()
            server.close()  // the reader keeps the descriptor open, as Python's makefile does
            #expect(!server.isClosed)
            try client.sendAll(Array("hello\nworld".utf8))
            client.close()
            #expect(try reader.readLine() == Array("hello\n".utf8))
            #expect(try reader.read(count: 3) == Array("wor".utf8))
            #expect(try reader.readToEnd() == Array("ld".utf8))
            #expect(try reader.readLine() == [])
            reader.close()
            #expect(server.isClosed)
        }
    }

    @Test func makeReaderReadLineFollowsTheSocketTimeout() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            server.timeout = .milliseconds(100)
            let reader = server.makeReader()
            try client.sendAll(Array("partial".utf8))
            #expect(throws: SocketTimeoutError.self) { _ = try reader.readLine() }
            try client.sendAll(Array(" line\n".utf8))
            #expect(try reader.readLine() == Array("partial line\n".utf8))
            reader.close()
            client.close()
            server.close()
        }
    }

    @Test func readLineSplitsLinesLongerThanMaxLength() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let reader = server.makeReader(bufferSize: 64)
            let line = Array(String(repeating: "x", count: 300).utf8) + [UInt8(ascii: "\n")]
            try client.sendAll(line + Array("next\n".utf8))
            client.close()
            #expect(try reader.readLine(maxLength: 100) == Array(line[0..<100]))
            #expect(try reader.readLine() == Array(line[100...]))
            #expect(try reader.readLine() == Array("next\n".utf8))
            reader.close()
            server.close()
        }
    }

    @Test func createConnectionConnectsAndAppliesTheTimeout() throws {
        try withHub {
            let (listener, address) = try makeListener()
            let socket = try createConnection(host: "127.0.0.1", port: address.port!, timeout: .seconds(3))
            #expect(socket.timeout == .seconds(3))
            let (server, _) = try listener.accept()
            try socket.sendAll(Array("x".utf8))
            #expect(try server.recv(maxBytes: 1) == Array("x".utf8))
            socket.close()
            server.close()
            listener.close()
        }
    }

    @Test func defaultTimeoutIsUsedByNewSockets() throws {
        try withHub {
            let before = Socket.defaultTimeout
            Socket.defaultTimeout = .milliseconds(750)
            let socket = try Socket()
            Socket.defaultTimeout = before
            #expect(socket.timeout == .milliseconds(750))
            let other = try Socket()
            #expect(other.timeout == before)
            socket.close()
            other.close()
        }
    }

    @Test func recvOnDataThatIsAlreadyThereDoesNotSwitch() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            try client.sendAll(patternBytes(100))
            try sleep(.milliseconds(20))
            var ranMeanwhile = false
            let other = spawn { ranMeanwhile = true }
            let data = try server.recv(maxBytes: 100)
            #expect(data.count == 100)
            #expect(!ranMeanwhile)
            try other.join()
            client.close()
            server.close()
        }
    }

    @Test func aReaderThatGoesOnToOtherWorkDoesNotMakeTheHubSpin() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let reader = spawn { () throws -> [UInt8] in
                var got = try server.recv(maxBytes: 100)  // woken by readiness: the watcher stays armed
                try sleep(.milliseconds(150))  // meanwhile more data arrives, and nobody is waiting
                got += try server.recv(maxBytes: 100)
                return got
            }
            try sleep(.milliseconds(10))
            try client.sendAll(Array("one".utf8))
            try sleep(.milliseconds(20))
            let before = threadCPUNanoseconds()
            try client.sendAll(Array("two".utf8))
            let received = try reader.get()
            let cpuMilliseconds = Double(threadCPUNanoseconds() - before) / 1e6
            #expect(received == Array("onetwo".utf8))
            #expect(cpuMilliseconds < 60, "the loop spun on a ready descriptor: \(cpuMilliseconds) ms of CPU")
            client.close()
            server.close()
        }
    }
}
