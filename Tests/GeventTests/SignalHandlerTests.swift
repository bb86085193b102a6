import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__signal.py and the signal parts of test__hub.py. Signals go to this whole test process,
/// so each test sends one only while its own handler is installed (an uncaught SIGUSR1 would end the run).
@Suite("SignalHandler", .serialized, .timeLimit(.minutes(1)))
struct SignalHandlerTests {
    @Test func theHandlerRunsAsAGreenletWhileOtherGreenletsWork() throws {
        try withHub {
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(2))
                    ticks += 1
                }
            }
            let handled = Event()
            var ticksWhenHandled = -1
            let handler = try signalHandler(.user1) {
                // A handler may block like any greenlet: the ticker keeps running meanwhile.
                let before = ticks
                try sleep(.milliseconds(30))
                ticksWhenHandled = ticks - before
                handled.set()
            }
            defer { handler.cancel() }
            try sleep(.milliseconds(10))
            kill(getpid(), SIGUSR1)
            #expect(try handled.wait(timeout: .seconds(5)))
            #expect(ticksWhenHandled >= 3)
            try ticker.kill()
        }
    }

    @Test func anErrorFromTheHandlerIsThrownIntoTheMainGreenlet() throws {
        try withHub {
            let log = ErrorLog()
            for round in 0..<2 {
                let handler = try signalHandler(.alarm) { throw ExpectedError(tag: "TestSignal \(round)") }
                defer { handler.cancel() }
                alarm(1)
                #expect(throws: ExpectedError(tag: "TestSignal \(round)")) {
                    try sleep(.seconds(3))
                }
            }
            #expect(log.entries.count == 2)
        }
    }

    @Test func anInstalledHandlerDoesNotKeepTheLoopAliveUnlessAsked() throws {
        try withHub {
            let handler = try signalHandler(.user2) {}
            defer { handler.cancel() }
            #expect(!handler.keepsLoopAlive)
            #expect(try Hub.current.join(timeout: .seconds(5)))
            handler.keepsLoopAlive = true
            #expect(try !Hub.current.join(timeout: .milliseconds(50)))
            handler.keepsLoopAlive = false
            #expect(try Hub.current.join(timeout: .seconds(5)))
        }
    }

    @Test func cancelStopsTheHandler() throws {
        try withHub {
            var calls = 0
            let handler = try signalHandler(.user1) { calls += 1 }
            #expect(handler.isActive)
            kill(getpid(), SIGUSR1)
            try sleep(.milliseconds(50))
            #expect(calls == 1)
            handler.cancel()
            #expect(!handler.isActive)
            handler.cancel()
            // Caught again by a new handler, not the cancelled one.
            let replacement = try signalHandler(.user1) {}
            defer { replacement.cancel() }
            kill(getpid(), SIGUSR1)
            try sleep(.milliseconds(50))
            #expect(calls == 1)
        }
    }

    @Test func waitForSignalReturnsWhenTheSignalArrivesOrTheTimeoutPasses() throws {
        try withHub {
            #expect(try !waitForSignal(.user2, timeout: .milliseconds(30)))
            let sender = spawn {
                try sleep(.milliseconds(20))
                kill(getpid(), SIGUSR2)
            }
            #expect(try waitForSignal(.user2, timeout: .seconds(5)))
            try sender.join()
        }
    }

    @Test func signalsThatCannotBeCaughtAreRefused() throws {
        try withHub {
            for signal in [Signal.kill, .stop, Signal(rawValue: 0), Signal(rawValue: 99)] {
                #expect(throws: SubprocessError.self) { try signalHandler(signal) {} }
            }
        }
    }

    @Test func aSignalHandledOnOneHubIsRefusedOnAnotherThreadsHub() throws {
        try withHub {
            let handler = try signalHandler(.user1) {}
            defer { handler.cancel() }
            let refusal = Mutex<String?>(nil)
            let thread = try NativeThread {
                let hub = Hub.current
                defer { try? hub.destroy() }
                do {
                    _ = try signalHandler(.user1) {}
                    refusal.withLock { $0 = "accepted" }
                } catch let error as SubprocessError {
                    refusal.withLock { $0 = error.description }
                } catch {
                    refusal.withLock { $0 = "\(error)" }
                }
            }
            thread.join()
            let text = refusal.withLock { $0 } ?? ""
            #expect(text.contains("another thread"), "\(text)")
        }
    }

    @Test func aHandlerOnASecondThreadsHubRunsThere() throws {
        let ranOnThread = Mutex(false)
        let installed = Event()
        let thread = try NativeThread {
            let hub = Hub.current
            defer { try? hub.destroy() }
            let handled = Event()
            let me = pthread_self()
            guard
                let handler = try? signalHandler(
                    .user2,
                    {
                        ranOnThread.withLock { $0 = pthread_equal(pthread_self(), me) != 0 }
                        handled.set()
                    }
                )
            else { return }
            installed.set()
            _ = try? handled.wait(timeout: .seconds(5))
            handler.cancel()
        }
        try withHub {
            let isInstalled = try installed.wait(timeout: .seconds(5))
            #expect(isInstalled)
            if isInstalled { kill(getpid(), SIGUSR2) }
        }
        thread.join()
        #expect(ranOnThread.withLock { $0 })
    }
}
