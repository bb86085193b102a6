import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's FileObjectThread: file reads and writes that leave the hub free.
@Suite("FileObject", .serialized, .timeLimit(.minutes(1)))
struct FileObjectTests {
    /// A fresh path under the package's .build (not /tmp, which may be a tmpfs that never waits).
    private func scratchPath(_ name: String) -> String {
        // swift test runs in the package's directory, which has .build.
        let directory =
            getcwd(nil, 0).map { cwd in
                defer { free(cwd) }
                return String(cString: cwd) + "/.build"
            } ?? "."
        return "\(directory)/fileobject-\(getpid())-\(name)"
    }

    @Test func writesThenReadsBackLinesChunksAndTheRest() throws {
        let path = scratchPath("lines")
        defer { unlink(path) }
        try withHub {
            let writer = try FileObject(path: path, mode: .write)
            let long = String(repeating: "x", count: 200_000)
            try writer.write(Array("first\nsecond\n\(long)\nlast without newline".utf8))
            try writer.sync()
            try writer.close()
            try writer.close()

            let reader = try FileObject(path: path)
            #expect(try reader.readLine() == Array("first\n".utf8))
            #expect(try reader.read(maxBytes: 3) == Array("sec".utf8))
            #expect(try reader.readLine() == Array("ond\n".utf8))
            #expect(try reader.readLine()?.count == 200_001, "a line longer than the read-ahead chunk")
            #expect(try reader.readLine() == Array("last without newline".utf8))
            #expect(try reader.readLine() == nil)
            #expect(try reader.read(maxBytes: 10) == [])
            try reader.seek(to: 0)
            var lines: [String] = []
            try reader.forEachLine { lines.append(String(decoding: $0, as: UTF8.self)) }
            #expect(lines.count == 4 && lines.first == "first\n")
            #expect(try reader.seek(to: -6, from: .end) == Int64(13 + 200_001 + 14))
            #expect(try reader.readToEnd() == Array("ewline".utf8))
        }
    }

    @Test func seekingAndWritingAccountForReadAhead() throws {
        let path = scratchPath("offsets")
        defer { unlink(path) }
        try withHub {
            let writer = try FileObject(path: path, mode: .write)
            try writer.write(Array("aaaa\nbbbb\ncccc\n".utf8))
            try writer.close()
            let file = try FileObject(path: path, mode: .readWrite)
            #expect(try file.readLine() == Array("aaaa\n".utf8))
            // The line came from a larger read-ahead; the caller's offset is still just after it.
            #expect(try file.seek(to: 0, from: .current) == 5)
            try file.write(Array("BBBB".utf8))
            try file.seek(to: 0)
            #expect(try file.readToEnd() == Array("aaaa\nBBBB\ncccc\n".utf8))
            try file.close()
            let appender = try FileObject(path: path, mode: .append)
            try appender.write(Array("dd".utf8))
            try appender.close()
            #expect(try FileObject(path: path).readToEnd() == Array("aaaa\nBBBB\ncccc\ndd".utf8))
        }
    }

    @Test func errorsNameTheFileAndTheErrno() throws {
        try withHub {
            #expect {
                _ = try FileObject(path: "/nonexistent/file")
            } throws: { error in
                let error = error as? SocketError
                return error?.code.rawValue == ENOENT && error?.description.contains("/nonexistent/file") == true
            }
            let directory = try FileObject(path: "/")
            #expect { _ = try directory.read(maxBytes: 10) } throws: { ($0 as? SocketError)?.code.rawValue == EISDIR }
            try directory.close()
            #expect { _ = try directory.read(maxBytes: 10) } throws: {
                ($0 as? SocketError)?.code == .badFileDescriptor
            }
            let readOnly = try FileObject(path: "/etc/hostname")
            #expect { try readOnly.write([1]) } throws: { ($0 as? SocketError)?.code == .badFileDescriptor }
        }
    }

    @Test func aColdReadRunsOnThePoolWhileOthersRunAndACachedOneStaysOnTheHub() throws {
        let path = scratchPath("cold")
        defer { unlink(path) }
        let size = 16 << 20
        var contents = [UInt8](repeating: 7, count: size)
        contents[size - 1] = 9
        try withHub {
            let writer = try FileObject(path: path, mode: .write)
            try writer.write(contents)
            try writer.sync()
            try writer.close()
            let file = try FileObject(path: path)
            #expect(posix_fadvise(file.descriptor!.rawValue, 0, 0, POSIX_FADV_DONTNEED) == 0)
            // The drop is advice: the kernel may keep pages (it did once under the ASan lane). Only a read
            // that meets an uncached page must go to the pool.
            let evicted = evictedPageCount(file.descriptor!.rawValue, size: size)
            var ticks = 0
            let ticker = spawn {
                while true {
                    try sleep(.milliseconds(1))
                    ticks += 1
                }
            }
            let pool = Hub.current.threadPool
            let before = pool.completedCount
            let started = ContinuousClock.now
            #expect(try file.readToEnd() == contents)
            let elapsed = ContinuousClock.now - started
            if evicted.map({ $0 > 0 }) ?? true {
                #expect(pool.completedCount > before, "the cold read went to the pool (\(evicted ?? -1) pages evicted)")
            }
            #expect(ticks > 0 || elapsed < .milliseconds(5), "no other greenlet ran in \(elapsed)")
            let afterCold = pool.completedCount
            try file.seek(to: 0)
            #expect(try file.read(maxBytes: 4096).count == 4096)
            #expect(pool.completedCount == afterCold, "a page-cache hit is read on the hub's thread")
            try ticker.kill()
            try file.close()
        }
    }

    @Test func greenletsSharingAFileTakeTurns() throws {
        let path = scratchPath("turns")
        defer { unlink(path) }
        try withHub {
            let file = try FileObject(path: path, mode: .write)
            let writers = (0..<8).map { index in
                spawn { try file.write(Array(repeating: UInt8(ascii: "a") + UInt8(index), count: 10_000)) }
            }
            try joinAll(writers)
            #expect(writers.allSatisfy { $0.isSuccessful })
            try file.close()
            let bytes = try FileObject(path: path).readToEnd()
            #expect(bytes.count == 80_000)
            // Each write landed whole: no run of one greenlet's byte is cut by another's.
            for start in stride(from: 0, to: 80_000, by: 10_000) {
                #expect(Set(bytes[start..<start + 10_000]).count == 1)
            }
        }
    }
}

/// How many pages of the file's first `size` bytes are not in the page cache (`mincore` of a mapping), or
/// `nil` when it cannot tell.
private func evictedPageCount(_ descriptor: CInt, size: Int) -> Int? {
    guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, descriptor, 0), mapping != MAP_FAILED else {
        return nil
    }
    defer { munmap(mapping, size) }
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    var residency = [UInt8](repeating: 0, count: (size + pageSize - 1) / pageSize)
    guard mincore(mapping, size, &residency) == 0 else { return nil }
    return residency.reduce(0) { $0 + ($1 & 1 == 0 ? 1 : 0) }
}
