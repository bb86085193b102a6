import CGeventShim
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Patches `areas`, runs `body` as the main greenlet of a fresh hub, then destroys the hub and unpatches,
/// so that no other test runs patched because of this one for longer than it takes.
func withPatchedHub(_ areas: [Monkey.Area] = [.socket, .dns, .time, .select], _ body: (Hub) throws -> Void) throws {
    #expect(Hub.currentIfExists == nil, "a previous test left a hub on this thread")
    Monkey.patch(areas: areas, warnAboutThreads: false)
    defer { Monkey.restoreForTesting() }
    let hub = Hub.current
    defer { try? hub.destroy() }
    try body(hub)
}

/// A greenlet that counts how often it ran while others waited in unaware calls: proof that the hub
/// kept switching.
final class Ticker {
    private(set) var ticks = 0
    private var greenlet: Greenlet<Void>?

    init(every interval: Duration = .milliseconds(5)) {
        greenlet = spawn { [unowned self] in
            while true {
                try sleep(interval)
                self.ticks += 1
            }
        }
    }

    func stop() throws {
        try greenlet?.kill()
        greenlet = nil
    }
}

/// A pipe, closed at the end of the test unless a test closed an end itself.
final class Pipe {
    let readEnd: Int32
    let writeEnd: Int32

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw PipeError(errno: errno) }
        readEnd = fds[0]
        writeEnd = fds[1]
    }

    func closeBoth() {
        close(readEnd)
        close(writeEnd)
    }
}

struct PipeError: Error {
    let errno: Int32
}

/// Milliseconds since `start` (a monotonic reading from `monotonicNow()`).
func millisecondsSince(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

/// Reads up to `count` bytes with read(2); returns the bytes or the errno.
func readBytes(_ fd: Int32, _ count: Int) -> Result<[UInt8], Errno> {
    var buffer = [UInt8](repeating: 0, count: count)
    let n = read(fd, &buffer, count)
    if n < 0 { return .failure(Errno(code: errno)) }
    return .success(Array(buffer[..<n]))
}

struct Errno: Error, Equatable, CustomStringConvertible {
    let code: Int32
    var description: String { String(cString: strerror(code)) + " (\(code))" }
}
