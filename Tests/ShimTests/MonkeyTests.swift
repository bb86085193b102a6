import CGeventShim
import CShimTestSupport
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Linked mode: the interposers linked into this test binary, patched with Monkey.patch.
@Suite("Monkey", .serialized, .timeLimit(.minutes(1)))
struct MonkeyTests {
    @Test func patchingIsVisibleThroughIsPatched() throws {
        try withPatchedHub([.socket, .time]) { _ in
            #expect(Monkey.isPatched(.socket))
            #expect(Monkey.isPatched(.time))
            #expect(!Monkey.isPatched(.dns))
            #expect(!Monkey.isPatched(.thread))
        }
        #expect(!Monkey.isPatched(.socket))
    }

    @Test func unpatchedCallsNeverReachTheHub() throws {
        let pipe = try Pipe()
        defer { pipe.closeBoth() }
        let hub = Hub.current
        defer { try? hub.destroy() }
        let before = gevent_shim_cooperative_calls()
        #expect(write(pipe.writeEnd, "abc", 3) == 3)
        #expect(try readBytes(pipe.readEnd, 10).get() == Array("abc".utf8))
        usleep(1000)
        #expect(gevent_shim_cooperative_calls() == before)
    }

    @Test func aBlockingReadLetsOtherGreenletsRun() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { pipe.closeBoth() }
            let ticker = Ticker()
            let writer = spawn {
                try sleep(.milliseconds(60))
                #expect(write(pipe.writeEnd, "late", 4) == 4)
            }
            let before = gevent_shim_cooperative_calls()
            // Called from C code compiled into the test binary: the interposer is in front of it too.
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = shim_test_read(pipe.readEnd, &buffer, 16)
            #expect(n == 4)
            #expect(Array(buffer[..<4]) == Array("late".utf8))
            #expect(ticker.ticks >= 3, "the hub ran the ticker while the read waited")
            #expect(gevent_shim_cooperative_calls() > before)
            try ticker.stop()
            try writer.join()
        }
    }

    @Test func sleepsFromLibcAreCooperative() throws {
        try withPatchedHub([.time]) { _ in
            let start = ContinuousClock.now
            let sleepers = (0..<20).map { index in
                spawn {
                    switch index % 3 {
                    case 0: usleep(200_000)
                    case 1:
                        var request = timespec(tv_sec: 0, tv_nsec: 200_000_000)
                        nanosleep(&request, nil)
                    default:
                        var request = timespec(tv_sec: 0, tv_nsec: 200_000_000)
                        clock_nanosleep(CLOCK_MONOTONIC, 0, &request, nil)
                    }
                }
            }
            try joinAll(sleepers)
            let elapsed = millisecondsSince(start)
            #expect(elapsed >= 190)
            #expect(elapsed < 20 * 200 / 2, "20 sleeps of 200 ms ran one after another")
        }
    }

    @Test func closingAWaitedFdWakesTheWaiterWithEBADF() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { close(pipe.writeEnd) }
            let reader = spawn { readBytes(pipe.readEnd, 8) }
            try sleep(.milliseconds(20))
            close(pipe.readEnd)
            let result = try reader.get()
            #expect(result == .failure(Errno(code: EBADF)))
        }
    }

    @Test func dup2OverAWaitedFdWakesTheWaiterWithEBADFAndTheNumberReadsTheNewFile() throws {
        try withPatchedHub { _ in
            let waited = try Pipe()
            let other = try Pipe()
            defer {
                waited.closeBoth()
                other.closeBoth()
            }
            let reader = spawn { readBytes(waited.readEnd, 8) }
            try sleep(.milliseconds(20))
            #expect(dup2(other.readEnd, waited.readEnd) == waited.readEnd)
            #expect(try reader.get() == .failure(Errno(code: EBADF)))
            #expect(write(other.writeEnd, "new", 3) == 3)
            #expect(try readBytes(waited.readEnd, 8).get() == Array("new".utf8))
        }
    }

    @Test func aTimeoutInterruptsAnUnawareCallAndRunUnawareRethrowsIt() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { pipe.closeBoth() }
            var readResult: Result<[UInt8], Errno>?
            let timeout = Timeout(.milliseconds(50))
            do {
                try timeout.start()
                defer { timeout.cancel() }
                try Monkey.runUnaware {
                    readResult = readBytes(pipe.readEnd, 8)
                }
                Issue.record("runUnaware returned instead of throwing the timeout")
            } catch let fired as Timeout where fired === timeout {
                #expect(readResult == .failure(Errno(code: ETIMEDOUT)))
            }
        }
    }

    @Test func aKilledGreenletsUnawareCallFailsWithECANCELED() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { pipe.closeBoth() }
            let reader = spawn { readBytes(pipe.readEnd, 8) }
            try sleep(.milliseconds(20))
            try reader.kill(block: false)
            try reader.join()
            #expect(reader.value == .failure(Errno(code: ECANCELED)))
        }
    }

    @Test func hundredGreenletsRunUnawareClientsConcurrently() throws {
        var port: Int32 = 0
        #expect(shim_test_delay_server_start(200, &port) == 0)
        defer { shim_test_delay_server_stop() }
        try withPatchedHub { _ in
            let start = ContinuousClock.now
            let clients = (0..<100).map { index in
                spawn { () -> String in
                    var reply = [UInt8](repeating: 0, count: 128)
                    let n = reply.withUnsafeMutableBytes { buffer in
                        shim_test_unaware_request(port, "client \(index)\n", buffer.baseAddress, buffer.count)
                    }
                    return n < 0 ? "error \(-n)" : String(decoding: reply[..<Int(n)], as: UTF8.self)
                }
            }
            try joinAll(clients)
            let elapsed = millisecondsSince(start)
            for (index, client) in clients.enumerated() {
                #expect(client.value == "echo: client \(index)\n")
            }
            #expect(elapsed >= 190)
            #expect(elapsed < 100 * 200 / 4, "100 requests answered after 200 ms each were not concurrent")
        }
    }

    @Test func lookupsRunOnNativeThreadsWhileOthersRun() throws {
        try withPatchedHub { _ in
            let ticker = Ticker(every: .milliseconds(1))
            let lookups = (0..<20).map { _ in spawn { lookUpLocalhost(service: "80") } }
            let before = gevent_shim_cooperative_calls()
            try joinAll(lookups)
            #expect(lookups.allSatisfy { $0.value == 0 })
            #expect(gevent_shim_cooperative_calls() >= before + 20, "every lookup went to a native thread")
            try ticker.stop()
        }
    }
}

extension MonkeyTests {
    /// The lookups share the hub's bounded pool: a thousand at once never start more threads than it has.
    @Test func aThousandConcurrentLookupsUseOnlyTheHubsThreadPool() throws {
        try withPatchedHub { hub in
            hub.threadPool.maxSize = 4
            let baseline = threadCountOfThisProcess()
            var peak = baseline
            let sampler = spawn {
                while true {
                    peak = max(peak, threadCountOfThisProcess())
                    try sleep(.milliseconds(1))
                }
            }
            let lookups = (0..<1000).map { index in spawn { lookUpLocalhost(service: "\(1000 + index)") } }
            try joinAll(lookups)
            try sampler.kill()
            #expect(lookups.allSatisfy { $0.value == 0 })
            #expect(hub.threadPool.threadCount > 0, "the lookups ran on the hub's pool")
            #expect(hub.threadPool.threadCount <= 4)
            // Other suites of this process may start a few threads of their own meanwhile.
            #expect(peak <= baseline + 4 + 8, "\(peak) threads at the peak, \(baseline) before")
        }
    }

    /// A read that would wait for the disk runs on the pool while the others run; one the page cache can
    /// answer stays on the hub's thread.
    @Test func aColdFileReadRunsOnThePoolAndACachedOneDoesNot() throws {
        // Under .build: /tmp may be a tmpfs, whose reads never wait and are never offloaded.
        let path = packageRoot + "/.build/gevent-cold-read-\(getpid())"
        let size = 16 << 20
        var contents = [UInt8](repeating: 0, count: size)
        for index in stride(from: 0, to: size, by: 4096) { contents[index] = UInt8(truncatingIfNeeded: index >> 12) }
        let writer = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        #expect(writer >= 0)
        #expect(contents.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, size) } == size)
        fsync(writer)
        close(writer)
        defer { unlink(path) }
        try withPatchedHub { hub in
            let fd = open(path, O_RDONLY)
            defer { close(fd) }
            #expect(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0)
            let ticker = Ticker(every: .milliseconds(1))
            var buffer = [UInt8](repeating: 0, count: size)
            let pooledBefore = hub.threadPool.completedCount
            let started = ContinuousClock.now
            var total = 0
            while total < size {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, size - total) }
                #expect(n > 0, "read failed: errno \(errno)")
                if n <= 0 { break }
                total += n
            }
            let readTime = ContinuousClock.now - started
            let ticksDuringTheRead = ticker.ticks
            #expect(buffer == contents)
            #expect(hub.threadPool.completedCount > pooledBefore, "the cold read ran on the pool")
            // A disk read of 16 MiB takes milliseconds at least; the others ran meanwhile.
            #expect(ticksDuringTheRead > 0 || readTime < .milliseconds(5), "no tick in \(readTime)")
            let pooledAfterCold = hub.threadPool.completedCount
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, size, 0) }
            #expect(n == size)
            #expect(hub.threadPool.completedCount == pooledAfterCold, "a cached read is not offloaded")
            try ticker.stop()
        }
    }

    /// The linker exports an executable's definitions of symbols that a shared library of the link (libc)
    /// also defines, so the dynamic linker binds every library's calls to them: no -rdynamic needed.
    @Test func theInterposersInThisExecutableComeBeforeLibcForEveryLibrary() throws {
        let executable = realPath("/proc/self/exe")
        let names = [
            "read", "write", "recv", "send", "recvmsg", "sendmsg", "connect", "accept4", "poll", "select",
            "nanosleep", "usleep", "close", "dup2", "fcntl", "fcntl64", "getaddrinfo", "gethostbyname_r",
            "__read_chk", "__recv_chk", "__poll_chk",
        ]
        for name in names {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else {
                Issue.record("\(name) is not visible to dlsym")
                continue
            }
            let image = shim_test_image_of(symbol).map { realPath(String(cString: $0)) } ?? "?"
            #expect(image == executable, "\(name) resolves to \(image), not to the interposer in the executable")
        }
    }

    @Test func aCloseOnAnotherThreadWakesTheWaiterWithEBADF() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { close(pipe.writeEnd) }
            let reader = spawn { readBytes(pipe.readEnd, 8) }
            try sleep(.milliseconds(20))
            let fd = pipe.readEnd
            var thread = pthread_t()
            let box = Unmanaged.passRetained(FDBox(fd)).toOpaque()
            #expect(
                pthread_create(
                    &thread,
                    nil,
                    { argument in
                        let fd = Unmanaged<FDBox>.fromOpaque(argument!).takeRetainedValue().fd
                        close(fd)
                        return nil
                    },
                    box
                ) == 0
            )
            let result = try reader.get()
            pthread_join(thread, nil)
            #expect(result == .failure(Errno(code: EBADF)))
        }
    }
}

/// An fd handed to a native thread.
final class FDBox: @unchecked Sendable {
    // Immutable.
    let fd: Int32

    init(_ fd: Int32) {
        self.fd = fd
    }
}

/// The number of threads of this process now (entries of /proc/self/task).
private func threadCountOfThisProcess() -> Int {
    guard let directory = opendir("/proc/self/task") else { return 0 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
    }
    return count
}

/// An interposed getaddrinfo of localhost (IPv4, TCP) for `service`, as unaware code calls it: its status.
private func lookUpLocalhost(service: String) -> Int32 {
    var hints = addrinfo()
    hints.ai_family = AF_INET
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var result: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo("localhost", service, &hints, &result)
    freeaddrinfo(result)
    return status
}
