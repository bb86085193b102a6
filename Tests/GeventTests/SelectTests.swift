import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__select.py: cooperative select and poll on descriptors the caller holds.
@Suite("Select", .serialized, .timeLimit(.minutes(1)))
struct SelectTests {
    @Test func selectWithNothingReadyReturnsEmptyAfterTheTimeout() throws {
        try withHub {
            var fds: [CInt] = [-1, -1]
            #expect(pipe(&fds) == 0)
            defer {
                close(fds[0])
                close(fds[1])
            }
            let started = ContinuousClock.now
            let result = try select(readable: [FileDescriptor(fds[0])], writable: [], timeout: .milliseconds(100))
            let elapsed = elapsedMilliseconds(since: started)
            #expect(result.readable.isEmpty && result.writable.isEmpty)
            #expect(elapsed >= 80 && elapsed < 2000)
        }
    }

    @Test func selectReportsAPipeThatBecomesReadableWhileOthersRun() throws {
        try withHub {
            var fds: [CInt] = [-1, -1]
            #expect(pipe(&fds) == 0)
            defer {
                close(fds[0])
                close(fds[1])
            }
            let writer = spawn {
                try sleep(.milliseconds(20))
                _ = write(fds[1], "x", 1)
            }
            let result = try select(
                readable: [FileDescriptor(fds[0])],
                writable: [],
                timeout: .seconds(5)
            )
            #expect(result.readable == [FileDescriptor(fds[0])])
            try writer.join()
        }
    }

    @Test func selectReturnsReadyDescriptorsAtOnceInTheOrderGiven() throws {
        try withHub {
            let (a, b) = try socketPair()
            let (c, d) = try socketPair()
            try a.sendAll([1])
            try c.sendAll([1])
            let result = try select(
                readable: [d.fileDescriptor, b.fileDescriptor],
                writable: [a.fileDescriptor],
                timeout: .zero
            )
            #expect(result.readable == [d.fileDescriptor, b.fileDescriptor])
            #expect(result.writable == [a.fileDescriptor])
            for socket in [a, b, c, d] { socket.close() }
        }
    }

    @Test func selectWithAZeroTimeoutYieldsOnce() throws {
        try withHub {
            var ran = false
            let other = spawn { ran = true }
            _ = try select(readable: [], writable: [], timeout: .zero)
            #expect(ran)
            try other.join()
        }
    }

    @Test func selectOnADescriptorThatIsNotOpenThrowsEBADF() throws {
        try withHub {
            #expect {
                _ = try select(readable: [FileDescriptor(9999)], writable: [], timeout: .seconds(1))
            } throws: { error in
                (error as? SocketError)?.code == .badFileDescriptor
            }
        }
    }

    // A closed descriptor's number is free for the next open, and other suites open descriptors on other
    // threads all the time: in this process the select could wake on a stranger's pipe. So each closing
    // scenario runs in a child process of its own, where nothing else opens a descriptor.
    @Test func closingADescriptorAnotherGreenletSelectsOnWakesItWithEBADF() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runSelectClosedDescriptorScenario(closingFromAnotherThread: false)
        }
        expectScenarioPassed(result)
    }

    @Test func closingADescriptorOnAnotherThreadWakesASelectOnIt() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runSelectClosedDescriptorScenario(closingFromAnotherThread: true)
        }
        expectScenarioPassed(result)
    }

    @Test func selectRejectsANegativeTimeout() throws {
        try withHub {
            #expect {
                _ = try select(readable: [], writable: [], timeout: .milliseconds(-1))
            } throws: { error in
                (error as? SocketError)?.code == .invalidArgument
            }
        }
    }

    @Test func pollReportsEventsAndInvalidDescriptors() throws {
        try withHub {
            let (a, b) = try socketPair()
            let waiter = spawn { try poll([b.fileDescriptor: .readable], timeout: .seconds(5)) }
            try sleep(.milliseconds(10))
            try a.sendAll([1])
            let ready = try waiter.get()
            #expect(ready[b.fileDescriptor]?.contains(.readable) == true)
            let invalid = try poll([FileDescriptor(9999): .readable], timeout: .zero)
            #expect(invalid[FileDescriptor(9999)] == .invalid)
            a.close()
            let hangUp = try poll([b.fileDescriptor: .readable], timeout: .seconds(1))
            #expect(hangUp[b.fileDescriptor]?.isEmpty == false)
            b.close()
        }
    }

    @Test func pollTimesOutWithNothingReady() throws {
        try withHub {
            let (a, b) = try socketPair()
            let ready = try poll([b.fileDescriptor: .readable], timeout: .milliseconds(50))
            #expect(ready.isEmpty)
            a.close()
            b.close()
        }
    }
}

/// A select on a pipe's read end while a greenlet of the same hub, or another thread, closes it: the select
/// ends with EBADF long before its 20 s timeout.
private func runSelectClosedDescriptorScenario(closingFromAnotherThread: Bool) {
    var fds: [CInt] = [-1, -1]
    require(pipe(&fds) == 0, "pipe: errno \(errno)")
    let reader = fds[0]
    let started = ContinuousClock.now
    var outcome = "select returned without an error"
    do {
        try withHub {
            var thread: NativeThread?
            var closer: Greenlet<Void>?
            if closingFromAnotherThread {
                thread = try NativeThread {
                    usleep(50_000)
                    close(reader)
                }
            } else {
                closer = spawn {
                    try sleep(.milliseconds(20))
                    close(reader)
                }
            }
            do {
                let ready = try select(readable: [FileDescriptor(reader)], writable: [], timeout: .seconds(20))
                outcome = "select returned \(ready) without an error"
            } catch let error as SocketError where error.code == .badFileDescriptor {
                outcome = "EBADF"
            }
            thread?.join()
            try closer?.join()
        }
    } catch {
        require(false, "\(error)")
    }
    close(fds[1])
    require(outcome == "EBADF", outcome)
    let elapsed = ContinuousClock.now - started
    require(elapsed < .seconds(10), "select woke only after \(elapsed)")
    scenarioPassed()
}
