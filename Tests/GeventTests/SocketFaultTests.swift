import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__socket_close.py and the close/concurrency rules of test__socket.py.
@Suite("SocketClose", .serialized, .timeLimit(.minutes(1)))
struct SocketCloseTests {
    @Test func closingWakesAGreenletBlockedInRecvWithEBADF() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let (client, server) = try makeConnectedPair()
            let started = ContinuousClock.now
            let reader = spawn { _ = try server.recv(maxBytes: 10) }
            try sleep(.milliseconds(20))
            server.close()
            #expect(throws: SocketError.self) { try reader.get() }
            let error = reader.error as? SocketError
            #expect(error?.code == .badFileDescriptor)
            #expect("\(error.map { "\($0)" } ?? "")".contains("closed in another greenlet"))
            #expect(elapsedMilliseconds(since: started) < 1000)
            client.close()
        }
    }

    @Test func closingWakesReaderAndWriterBeforeTheDescriptorIsReleased() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let (client, server) = try makeConnectedPair()
            let descriptor = server.fileDescriptor.rawValue
            var before = stat()
            #expect(fstat(descriptor, &before) == 0)
            var stillOpenWhenWoken: [Bool] = []
            func observingWakeUp(_ body: () throws -> Void) throws {
                do {
                    try body()
                } catch {
                    stillOpenWhenWoken.append(fcntl(descriptor, F_GETFD) != -1)
                    throw error
                }
            }
            let reader = spawn { try observingWakeUp { _ = try server.recv(maxBytes: 10) } }
            let writer = spawn {
                try observingWakeUp {
                    let chunk = patternBytes(1 << 20)
                    while true { try server.sendAll(chunk) }
                }
            }
            try sleep(.milliseconds(50))
            server.close()
            #expect(throws: SocketError.self) { try reader.get() }
            #expect(throws: SocketError.self) { try writer.get() }
            #expect((writer.error as? SocketError)?.code == .badFileDescriptor)
            // Both were woken while the number was still ours; it is released right after.
            #expect(stillOpenWhenWoken == [true, true])
            try sleep(.milliseconds(10))
            // Released: the number is closed, or (tests run in parallel) already reused for another file.
            var after = stat()
            let reused = fstat(descriptor, &after) == 0
            #expect(!reused || after.st_ino != before.st_ino || after.st_dev != before.st_dev)
            client.close()
        }
    }

    @Test func aSecondReaderOnTheSameSocketGetsConcurrentObjectUseError() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let first = spawn { try server.recv(maxBytes: 10) }
            try sleep(.milliseconds(10))
            #expect {
                _ = try server.recv(maxBytes: 10)
            } throws: { error in
                guard let error = error as? ConcurrentObjectUseError else { return false }
                return "\(error)".contains("already used by another greenlet")
            }
            try client.sendAll(Array("data".utf8))
            #expect(try first.get() == Array("data".utf8))
            client.close()
            server.close()
        }
    }

    @Test func aReaderAndAWriterMayWaitAtTheSameTime() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let reader = spawn { try server.recv(maxBytes: 10) }
            let writer = spawn { try server.sendAll(patternBytes(4 << 20)) }
            try sleep(.milliseconds(20))
            let drained = spawn { () throws -> Int in
                var total = 0
                while total < 4 << 20 {
                    total += try client.recv(maxBytes: 1 << 20).count
                }
                return total
            }
            try client.sendAll(Array("x".utf8))
            #expect(try reader.get() == Array("x".utf8))
            try writer.get()
            #expect(try drained.get() == 4 << 20)
            client.close()
            server.close()
        }
    }

    @Test func closingASocketThatIsConnectingWakesTheConnector() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let (listener, address) = try makeListener(backlog: 0)
            // Fill the backlog so the next handshake cannot complete.
            var fillers: [Socket] = []
            for _ in 0..<3 {
                let filler = try Socket(family: .inet, type: .stream)
                filler.timeout = .milliseconds(200)
                try? filler.connect(to: address)
                fillers.append(filler)
            }
            let socket = try Socket(family: .inet, type: .stream)
            let connector = spawn { try socket.connect(to: address) }
            try sleep(.milliseconds(50))
            socket.close()
            #expect(throws: SocketError.self) { try connector.get() }
            #expect((connector.error as? SocketError)?.code == .badFileDescriptor)
            for filler in fillers { filler.close() }
            listener.close()
        }
    }

    @Test func aReadAfterCloseNeverWaitsOnTheOldDescriptor() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            try client.sendAll(Array("short".utf8))
            _ = try server.recv(maxBytes: 100)  // a short read: the next one would wait for readiness first
            server.close()
            #expect {
                _ = try server.recv(maxBytes: 100)
            } throws: { error in
                (error as? SocketError)?.code == .badFileDescriptor
            }
            client.close()
        }
    }

    @Test func operationsOnAClosedSocketThrowEBADF() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            client.close()
            client.close()  // harmless twice
            #expect(client.isClosed)
            for operation in [
                { try client.shutdown(.both) }, { _ = try client.recv(maxBytes: 1) }, { try client.sendAll([1]) },
            ] {
                #expect {
                    try operation()
                } throws: { error in
                    (error as? SocketError)?.code == .badFileDescriptor
                }
            }
            server.close()
        }
    }
}

/// gevent's test__socket_timeout.py and the timeout rules of test__socket.py.
@Suite("SocketTimeout", .serialized, .timeLimit(.minutes(1)))
struct SocketTimeoutTests {
    @Test func recvTimesOutWithASocketTimeoutError() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            server.timeout = .milliseconds(200)
            let started = ContinuousClock.now
            #expect {
                _ = try server.recv(maxBytes: 10)
            } throws: { error in
                guard let timeout = error as? SocketTimeoutError else { return false }
                return "\(timeout)".contains("timed out") && timeout.timeout == .milliseconds(200)
            }
            let elapsed = elapsedMilliseconds(since: started)
            #expect(elapsed >= 150 && elapsed < 2000)
            // The socket is still usable after a timeout.
            try client.sendAll(Array("late".utf8))
            #expect(try server.recv(maxBytes: 10) == Array("late".utf8))
            client.close()
            server.close()
        }
    }

    @Test func sendAllTimeoutCoversTheWholeCall() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            client.timeout = .milliseconds(100)
            let big = [UInt8](repeating: 7, count: 50 << 20)
            let started = ContinuousClock.now
            #expect(throws: SocketTimeoutError.self) { try client.sendAll(big) }
            let elapsed = elapsedMilliseconds(since: started)
            #expect(elapsed >= 90 && elapsed < 2000)
            client.close()
            server.close()
        }
    }

    @Test func anOuterTimeoutPropagatesAsItselfNotAsASocketTimeout() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            server.timeout = .seconds(10)
            let outer = Timeout(.milliseconds(50))
            try outer.start()
            defer { outer.cancel() }
            #expect {
                _ = try server.recv(maxBytes: 10)
            } throws: { error in
                (error as? Timeout) === outer
            }
            client.close()
            server.close()
        }
    }

    @Test func waitReadableTimesOutOnARawDescriptor() throws {
        try withHub {
            let (client, server) = try makeConnectedPair()
            let started = ContinuousClock.now
            #expect(throws: SocketTimeoutError.self) {
                try waitReadable(server.fileDescriptor, timeout: .milliseconds(10))
            }
            #expect(elapsedMilliseconds(since: started) < 1000)
            try waitWritable(server.fileDescriptor, timeout: .milliseconds(10))
            let waiter = spawn { try waitReadable(server.fileDescriptor) }
            try sleep(.milliseconds(5))
            try client.sendAll([42])
            try waiter.get()
            client.close()
            server.close()
        }
    }
}

/// Faults: resets, refusals, timeouts, exhausted descriptors.
@Suite("SocketFaults", .serialized, .timeLimit(.minutes(1)))
struct SocketFaultTests {
    @Test func connectToAnUnusedPortIsRefusedWithAClearMessage() throws {
        try withHub {
            let port = try unusedPort()
            let socket = try Socket(family: .inet, type: .stream)
            #expect {
                try socket.connect(to: SocketAddress("127.0.0.1:\(port)"))
            } throws: { error in
                guard let error = error as? SocketError else { return false }
                return error.code == .connectionRefused
                    && "\(error)" == "connect to 127.0.0.1:\(port): Connection refused (errno 111)"
            }
            socket.close()
        }
    }

    @Test func createConnectionToAnUnusedPortIsRefusedAlsoWithASourceAddress() throws {
        try withHub {
            let port = try unusedPort()
            for source in [nil, try SocketAddress("127.0.0.1:0")] {
                #expect {
                    _ = try createConnection(host: "127.0.0.1", port: port, sourceAddress: source)
                } throws: { error in
                    (error as? SocketError)?.code == .connectionRefused
                }
            }
            #expect {
                _ = try createConnection(host: "127.0.0.1", port: port, allErrors: true)
            } throws: { error in
                (error as? ConnectionAttemptsError)?.attempts.count == 1
            }
        }
    }

    @Test func connectTimesOutAgainstAFullBacklog() throws {
        try withHub {
            let (listener, address) = try makeListener(backlog: 0)
            var fillers: [Socket] = []
            for _ in 0..<3 {
                let filler = try Socket(family: .inet, type: .stream)
                filler.timeout = .milliseconds(200)
                try? filler.connect(to: address)
                fillers.append(filler)
            }
            let socket = try Socket(family: .inet, type: .stream)
            socket.timeout = .milliseconds(200)
            let started = ContinuousClock.now
            #expect {
                try socket.connect(to: address)
            } throws: { error in
                "\(error)".contains("connect") && error is SocketTimeoutError
            }
            #expect(elapsedMilliseconds(since: started) >= 150)
            socket.close()
            for filler in fillers { filler.close() }
            listener.close()
        }
    }

    /// Counting descriptors is process-wide and other suites run in parallel, so the leak checks run in a
    /// child process of their own.
    @Test func descriptorsAreReleasedByCloseDeinitAndFailedConnects() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runDescriptorLeakScenario()
        }
        expectScenarioPassed(result)
    }

    @Test func peerResetMidReadThrowsConnectionReset() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let (client, server) = try makeConnectedPair()
            let reader = spawn { () throws -> [UInt8] in
                var got: [UInt8] = []
                while true {
                    let chunk = try client.recv(maxBytes: 100)
                    if chunk.isEmpty { return got }
                    got += chunk
                }
            }
            try server.sendAll(Array("partial".utf8))
            try sleep(.milliseconds(20))
            try server.setLinger(seconds: 0)  // close sends RST
            server.close()
            #expect {
                _ = try reader.get()
            } throws: { error in
                (error as? SocketError)?.code == .connectionReset
            }
        }
    }

    @Test func peerClosingDuringSendAllThrowsBrokenPipeOrReset() throws {
        try withHub {
            let errors = ErrorLog()
            defer { withExtendedLifetime(errors) {} }
            let (client, server) = try makeConnectedPair()
            let sender = spawn { try client.sendAll([UInt8](repeating: 1, count: 64 << 20)) }
            _ = try server.recv(maxBytes: 1000)
            server.close()  // unread data pending: the kernel answers further segments with RST
            #expect {
                try sender.get()
            } throws: { error in
                guard let code = (error as? SocketError)?.code else { return false }
                return code == .brokenPipe || code == .connectionReset
            }
            client.close()
        }
    }

    /// Lowering RLIMIT_NOFILE is process-wide, so this runs in a child process of its own.
    @Test func acceptBacksOffOnDescriptorExhaustionAndRecovers() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runDescriptorExhaustionScenario()
        }
        expectScenarioPassed(result)
    }
}

/// The process's open sockets (other descriptors come and go with the test machinery's own threads:
/// libdispatch opens a timerfd when it likes).
private func openSockets() -> [String] {
    openDescriptorList().filter { $0.contains("socket:") }
}

/// `true` once every socket open now was open in `before` too, polling for up to half a second.
private func socketsSettle(to before: [String]) -> Bool {
    for _ in 0..<50 {
        if Set(openSockets()).isSubset(of: before) { return true }
        usleep(10000)
    }
    return false
}

/// Sockets closed explicitly, dropped, or abandoned by an interrupted createConnection release their
/// descriptors.
private func runDescriptorLeakScenario() {
    do {
        let hub = Hub.current
        let before = openSockets()
        for _ in 0..<50 {
            let (client, server) = try makeConnectedPair()
            try client.sendAll([1, 2, 3])
            _ = try server.recv(maxBytes: 3)
            client.close()
            server.close()
        }
        var dropped: [Socket] = []
        for _ in 0..<20 { dropped.append(try Socket()) }
        dropped.removeAll()
        require(socketsSettle(to: before), "close/deinit leaked: \(openSockets()) vs \(before)")

        let (listener, address) = try makeListener(backlog: 0)
        var fillers: [Socket] = []
        for _ in 0..<3 {
            let filler = try Socket(family: .inet, type: .stream)
            filler.timeout = .milliseconds(200)
            try? filler.connect(to: address)
            fillers.append(filler)
        }
        let withFillers = openSockets()
        let timeout = Timeout(.milliseconds(100))
        try timeout.start()
        do {
            _ = try createConnection(host: "127.0.0.1", port: address.port!, timeout: nil)
            require(false, "createConnection to a full backlog returned")
        } catch let error as Timeout where error === timeout {
        }
        timeout.cancel()
        require(socketsSettle(to: withFillers), "an interrupted createConnection leaked: \(openSockets())")
        for filler in fillers { filler.close() }
        listener.close()
        try hub.destroy()
    } catch {
        require(false, "unexpected error: \(error)")
    }
    scenarioPassed()
}

/// The body of the exit test above (a synchronous function: greenlet code cannot run in async contexts).
/// Exits with a failure status and a message on stderr when an expectation does not hold.
private func runDescriptorExhaustionScenario() {
    do {
        let hub = Hub.current
        var reported: [String] = []
        hub.errorHandler = { _, error in reported.append("\(error)") }
        var served = 0
        let server = try StreamServer(listener: "127.0.0.1:0") { client, _ in
            served += 1
            try client.sendAll(Array("ok".utf8))
        }
        try server.start()
        var limit = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        let saved = limit
        // Leave no room for one more descriptor in this process.
        limit.rlim_cur = rlim_t(max(openDescriptorCount() + 1, 8))
        require(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, "setrlimit failed")
        var fillers: [CInt] = []
        while true {
            let fd = dup(0)
            if fd < 0 { break }
            fillers.append(fd)
        }
        // The client needs a descriptor of its own: release one filler for it, then take it again after.
        let spare = fillers.removeLast()
        close(spare)
        let client = try Socket(family: .inet, type: .stream)
        try client.connect(to: server.address)
        // The server now fails to accept (EMFILE). It must not spin: over 300 ms with backoff from 10 ms it
        // retries a handful of times, and reports the error once.
        let cpuBefore = clock()
        try sleep(.milliseconds(300))
        let cpuMilliseconds = Double(clock() - cpuBefore) * 1000 / Double(CLOCKS_PER_SEC)
        require(served == 0, "a connection was served while out of descriptors")
        require(reported.count == 1, "expected one report, got \(reported)")
        require(reported.first?.contains("Too many open files") == true, "report lacks the errno text: \(reported)")
        require(cpuMilliseconds < 150, "the accept loop spun: \(cpuMilliseconds) ms of CPU in 300 ms")
        // Give the descriptors back: the server recovers and serves the waiting client.
        for fd in fillers { close(fd) }
        var restored = saved
        require(setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &restored) == 0, "restoring the limit failed")
        client.timeout = .seconds(5)
        let reply = try client.recv(maxBytes: 10)
        require(reply == Array("ok".utf8), "the waiting client was not served after recovery: \(reply)")
        require(served == 1, "served \(served)")
        client.close()
        try server.stop()
        try hub.destroy()
    } catch {
        require(false, "unexpected error: \(error)")
    }
    scenarioPassed()
}
