import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test__fork.py and test__core_fork.py: after fork() the child's hub keeps serving. A child
/// never returns into the test runner: it ends with _exit, its status telling the parent what happened.
@Suite("Fork", .serialized, .timeLimit(.minutes(1)))
struct ForkTests {
    @Test func theChildsHubServesASocketRoundTripWithTheParent() throws {
        try withHub {
            let (listener, address) = try makeListener()
            // The pool has a worker thread before the fork; the child must get a new one on demand. (Not
            // inside #expect: Swift 6.3 gave a closure in that macro and a later one in this function the
            // same symbol, so the child ran this closure in place of its own.)
            let warm = try Hub.current.threadPool.apply { 1 }
            #expect(warm == 1)
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(2))
                    ticks += 1
                }
            }
            guard let child = try fork() else {
                var code: Int32 = 1
                do {
                    let (connection, _) = try listener.accept()
                    let request = try connection.recv(maxBytes: 64)
                    let fromPool = try Hub.current.threadPool.apply { 41 + 1 }
                    let before = ticks
                    try sleep(.milliseconds(50))
                    // The parent's greenlets keep running in the child (gevent's documented behaviour).
                    let tickerRan = ticks > before
                    let reply = "\(String(decoding: request, as: UTF8.self)) pong \(fromPool) \(tickerRan)"
                    try connection.sendAll(Array(reply.utf8))
                    connection.close()
                    code = 0
                } catch {
                    code = 2
                }
                _exit(code)
            }
            let client = try Socket(family: .inet, type: .stream)
            client.timeout = .seconds(10)
            try client.connect(to: address)
            try client.sendAll(Array("ping".utf8))
            let reply = try readAll(client)
            #expect(String(decoding: reply, as: UTF8.self) == "ping pong 42 true")
            #expect(try child.wait(timeout: .seconds(10)) == .exited(code: 0))
            client.close()
            listener.close()
            try ticker.kill()
        }
    }

    @Test func theParentSeesTheForkedChildsStatus() throws {
        try withHub {
            guard let child = try fork() else {
                // A timer on the child's re-initialised loop.
                let fired =
                    (try? withTimeout(.seconds(5), default: false) {
                        try sleep(.milliseconds(20))
                        return true
                    }) ?? false
                _exit(fired ? 7 : 1)
            }
            #expect(try child.wait(timeout: .seconds(10)) == .exited(code: 7))
            #expect(child.processID > 0)
        }
    }

    @Test func theParentsChildrenAreNotTheForkedChilds() throws {
        try withHub {
            let sibling = try Subprocess(["/bin/sleep", "0.2"])
            guard let child = try fork() else {
                do {
                    try sibling.wait(timeout: .seconds(5))
                    _exit(1)
                } catch let error as SubprocessError where error.code == Errno(rawValue: ECHILD) {
                    _exit(0)
                } catch {
                    _exit(2)
                }
            }
            #expect(try child.wait(timeout: .seconds(10)) == .exited(code: 0))
            #expect(try sibling.wait(timeout: .seconds(10)) == .exited(code: 0))
        }
    }

    @Test func reinitWithoutAForkIsHarmless() throws {
        try withHub {
            reinit()
            try sleep(.milliseconds(5))
            #expect(try Hub.current.threadPool.apply { 3 } == 3)
        }
    }
}
