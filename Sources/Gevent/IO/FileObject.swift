import CGeventIO

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A file whose reads and writes do not block the hub: gevent's `FileObjectThread`.
///
/// ```swift
/// let log = try FileObject(path: "/var/log/app.log")
/// try log.forEachLine { line in handle(line) }
/// try log.close()
/// ```
///
/// A regular file is always "ready" to `epoll`, so waiting for readiness cannot help; instead:
/// - a **read** first asks the kernel for what the page cache holds (`preadv2` with `RWF_NOWAIT`, about
///   the cost of a plain `read`), and only when the data would come from the device (`EAGAIN`) runs the read
///   on the hub's ``ThreadPool`` while the greenlet waits. Filesystems and kernels without `RWF_NOWAIT`
///   read on the pool every time.
/// - **Writes**, opening (``init(path:mode:permissions:)``), ``sync()`` and ``close()`` run on the pool
///   (dirty-page throttling, journal commits and network filesystems can stall any of them).
///
/// Operations of one file object are serialized (one at a time, in the order greenlets asked), as
/// gevent's lock in `FileObjectThread` does, so the file offset is never raced. Reads are buffered for
/// ``readLine()``; ``seek(to:from:)`` and writes account for what the buffer holds, so the offset the
/// caller sees is the one it would see without the buffer.
///
/// Threads: a file object belongs to the hub of the thread that created it; every method throws
/// ``InvalidThreadUseError`` on another thread. Errors are ``SocketError``s carrying the errno and what
/// was being done ("read from /etc/hosts: Is a directory (errno 21)").
public final class FileObject {
    /// How ``init(path:mode:permissions:)`` opens the file (Python's `"r"`, `"w"`, `"a"`, `"r+"`).
    public enum Mode: Sendable {
        /// Reading; the file must exist.
        case read
        /// Writing from the start: created if missing, truncated if present.
        case write
        /// Writing at the end: created if missing; every write appends.
        case append
        /// Reading and writing from the start; the file must exist.
        case readWrite

        var flags: CInt {
            switch self {
            case .read: O_RDONLY
            case .write: O_WRONLY | O_CREAT | O_TRUNC
            case .append: O_WRONLY | O_CREAT | O_APPEND
            case .readWrite: O_RDWR
            }
        }
    }

    /// Where ``seek(to:from:)`` counts from.
    public enum Origin: Sendable {
        /// The start of the file (`SEEK_SET`).
        case start
        /// The current offset (`SEEK_CUR`).
        case current
        /// The end of the file (`SEEK_END`).
        case end
    }

    /// The hub the file object belongs to.
    public let hub: Hub
    /// What error messages call the file: its path, or the descriptor it was made from.
    public let name: String
    private var fd: CInt
    private let ownsDescriptor: Bool
    private let turn = Semaphore(1)
    /// Bytes read ahead for readLine; `bufferStart` is the first one not handed out yet.
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// Set when preadv2(RWF_NOWAIT) is not supported for this file: every read goes to the pool.
    private var noNowait = false
    /// Bytes read from the page cache since this file object last let other greenlets run.
    private var cachedBytes = 0

    /// Opens `path` on the hub's thread pool.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Parameters:
    ///   - path: the file.
    ///   - mode: how to open it.
    ///   - permissions: the mode bits of a file that ``Mode/write`` or ``Mode/append`` creates (before the
    ///     umask).
    /// - Throws: ``SocketError`` with the errno of `open` (`ENOENT` for a missing file...);
    ///   what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public convenience init(path: String, mode: Mode = .read, permissions: mode_t = 0o644) throws {
        let hub = Hub.current
        try hub.checkThread("FileObject.init")
        let flags = mode.flags | O_CLOEXEC
        let fd = try hub.threadPool.apply { () throws -> CInt in
            try nonBlockingSystemCall("open \(path)") { open(path, flags, permissions) }
        }
        self.init(hub: hub, fd: fd, name: path, ownsDescriptor: true)
    }

    /// Wraps a descriptor that is open already (a file, or anything `read(2)` works on).
    ///
    /// Never switches; hub thread only.
    ///
    /// - Parameters:
    ///   - descriptor: the descriptor, which should not be in non-blocking mode.
    ///   - closeWhenDone: `true` lets ``close()`` (or the object's end) close it; `false` leaves it open.
    public convenience init(descriptor: FileDescriptor, closeWhenDone: Bool = true) {
        let hub = Hub.current
        hub.preconditionOnHubThread("FileObject.init(descriptor:)")
        self.init(hub: hub, fd: descriptor.rawValue, name: descriptor.description, ownsDescriptor: closeWhenDone)
    }

    private init(hub: Hub, fd: CInt, name: String, ownsDescriptor: Bool) {
        self.hub = hub
        self.fd = fd
        self.name = name
        self.ownsDescriptor = ownsDescriptor
    }

    deinit {
        if fd >= 0 && ownsDescriptor {
            Glibc.close(fd)
        }
    }

    /// The descriptor, or `nil` after ``close()``. Never switches; hub thread only.
    public var descriptor: FileDescriptor? {
        fd >= 0 ? FileDescriptor(fd) : nil
    }

    // MARK: - Reading

    /// Reads up to `maxBytes` bytes from the current offset; an empty array means end of file.
    ///
    /// May switch greenlets (only when the data is not in the page cache, or another greenlet is using the
    /// file); hub thread only, not from inside the hub.
    ///
    /// - Throws: ``SocketError`` (``Errno/badFileDescriptor`` after ``close()``, `EISDIR`...); what is
    ///   thrown into the greenlet while it waits.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func read(maxBytes: Int) throws -> [UInt8] {
        try exclusively("read") {
            if bufferStart < buffer.count {
                let end = min(buffer.count, bufferStart + maxBytes)
                defer { bufferStart = end }
                return Array(buffer[bufferStart..<end])
            }
            return try readFromFile(maxBytes)
        }
    }

    /// Reads from the current offset to the end of the file.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: as ``read(maxBytes:)``.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func readToEnd() throws -> [UInt8] {
        try exclusively("read") {
            var result = Array(buffer[bufferStart...])
            buffer = []
            bufferStart = 0
            while true {
                let chunk = try readFromFile(Self.chunkSize)
                if chunk.isEmpty { return result }
                result += chunk
            }
        }
    }

    /// Reads one line, with its `\n` (the last line of a file may have none); `nil` at end of file.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: as ``read(maxBytes:)``.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func readLine() throws -> [UInt8]? {
        try exclusively("readLine") {
            var searchFrom = bufferStart
            while true {
                if let newline = buffer[searchFrom...].firstIndex(of: UInt8(ascii: "\n")) {
                    defer { bufferStart = newline + 1 }
                    return Array(buffer[bufferStart...newline])
                }
                let chunk = try readFromFile(Self.chunkSize)
                if chunk.isEmpty {
                    guard bufferStart < buffer.count else { return nil }
                    defer {
                        buffer = []
                        bufferStart = 0
                    }
                    return Array(buffer[bufferStart...])
                }
                // Drop what was handed out before growing the buffer, so a long file costs no more memory
                // than its longest line.
                buffer.removeSubrange(0..<bufferStart)
                bufferStart = 0
                searchFrom = buffer.count
                buffer += chunk
            }
        }
    }

    /// Calls `body` with every line from the current offset to the end of the file, in order (each with
    /// its `\n`, as ``readLine()`` returns them).
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: as ``read(maxBytes:)``, and what `body` throws (which stops the iteration).
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func forEachLine(_ body: ([UInt8]) throws -> Void) throws {
        while let line = try readLine() {
            try body(line)
        }
    }

    // MARK: - Writing, seeking, closing

    /// Writes all of `bytes` at the current offset (at the end in ``Mode/append``), on the thread pool.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: ``SocketError`` (`ENOSPC`, `EBADF` for a file opened for reading...); what is thrown into
    ///   the greenlet while it waits. After an error, what was written before it stays written.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func write(_ bytes: [UInt8]) throws {
        try exclusively("write") {
            try dropReadAhead()
            let fd = fd
            let name = name
            try hub.threadPool.apply { () throws in
                var written = 0
                while written < bytes.count {
                    written += try bytes.withUnsafeBytes { raw in
                        try nonBlockingSystemCall("write to \(name)") {
                            Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                        }
                    }
                }
            }
        }
    }

    /// Moves the file offset and returns the new one, counted from the start.
    ///
    /// Never waits for the device; may switch greenlets only while another greenlet uses the file. Hub
    /// thread only.
    ///
    /// - Throws: ``SocketError`` (``Errno/invalidArgument`` for an offset before the start, `ESPIPE` for a
    ///   pipe).
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    @discardableResult
    public func seek(to offset: Int64, from origin: Origin = .start) throws -> Int64 {
        try exclusively("seek") {
            let whence: CInt
            var target = offset
            switch origin {
            case .start: whence = SEEK_SET
            case .current:
                whence = SEEK_CUR
                target -= Int64(buffer.count - bufferStart)
            case .end: whence = SEEK_END
            }
            let position = try nonBlockingSystemCall("seek in \(name)") { lseek(fd, off_t(target), whence) }
            buffer = []
            bufferStart = 0
            return Int64(position)
        }
    }

    /// Flushes the file's data and metadata to the device (`fsync`), on the thread pool.
    ///
    /// May switch greenlets; hub thread only, not from inside the hub.
    ///
    /// - Throws: ``SocketError`` (`EIO`...); what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func sync() throws {
        try exclusively("sync") {
            let fd = fd
            let name = name
            try hub.threadPool.apply { () throws in
                _ = try nonBlockingSystemCall("fsync \(name)") { fsync(fd) }
            }
        }
    }

    /// Closes the file (unless it was made with `closeWhenDone: false`); later calls throw
    /// ``Errno/badFileDescriptor``. Closing twice does nothing.
    ///
    /// May switch greenlets (the close runs on the thread pool: a network filesystem flushes on close);
    /// hub thread only, not from inside the hub.
    ///
    /// - Throws: ``SocketError`` with the errno of `close` (`EIO` from a deferred write error); the
    ///   descriptor is released either way.
    @available(*, noasync, message: "FileObject blocks the thread's greenlets; it is for greenlet code")
    public func close() throws {
        try hub.checkThread("FileObject.close")
        guard fd >= 0 else { return }
        _ = try turn.acquire()
        defer { _ = turn.release() }
        let closing = fd
        fd = -1
        buffer = []
        bufferStart = 0
        guard ownsDescriptor else { return }
        let name = name
        try hub.threadPool.apply { () throws in
            // Not retried on EINTR: Linux releases the descriptor before it reports the error.
            if Glibc.close(closing) != 0 {
                throw SocketError(code: Errno(rawValue: errno), operation: "close \(name)")
            }
        }
    }

    // MARK: - Internals

    private static let chunkSize = 64 * 1024
    private static let yieldEvery = 2 << 20

    /// Runs `body` once no other greenlet is inside an operation of this file.
    private func exclusively<T>(_ operation: StaticString, _ body: () throws -> T) throws -> T {
        try hub.checkThread(operation)
        _ = try turn.acquire()
        defer { _ = turn.release() }
        guard fd >= 0 else {
            throw SocketError(code: .badFileDescriptor, operation: "\(operation) on \(name)", reason: "file is closed")
        }
        return try body()
    }

    /// One read from the file at its offset: from the page cache on this thread when it can, on the pool
    /// otherwise.
    private func readFromFile(_ maxBytes: Int) throws -> [UInt8] {
        let count = max(0, maxBytes)
        let fd = fd
        let name = name
        if !noNowait {
            var bytes = [UInt8](repeating: 0, count: count)
            let n = bytes.withUnsafeMutableBytes { raw in
                gevent_read_cached(fd, raw.baseAddress, UInt(raw.count))
            }
            let code = errno
            if n >= 0 {
                bytes.removeSubrange(Int(n)...)
                // A reader the page cache keeps up with (readahead) never waits: let the others run every
                // few MiB, through the loop so expired timers come first.
                cachedBytes += Int(n)
                if cachedBytes >= Self.yieldEvery {
                    cachedBytes = 0
                    _ = try DescriptorWait.wait(
                        for: UnsafeBufferPointer(start: nil, count: 0),
                        checkGenerations: false,
                        timeout: .zero,
                        operation: "FileObject read"
                    )
                }
                return bytes
            }
            switch code {
            case EAGAIN, EINTR:
                break
            case EOPNOTSUPP, EINVAL:
                // No RWF_NOWAIT here (tmpfs, a pipe, an older kernel); a real EINVAL comes back from the pool.
                noNowait = true
            default:
                throw SocketError(code: Errno(rawValue: code), operation: "read from \(name)")
            }
        }
        return try hub.threadPool.apply { () throws -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            let n = try bytes.withUnsafeMutableBytes { raw in
                try nonBlockingSystemCall("read from \(name)") { Glibc.read(fd, raw.baseAddress, raw.count) }
            }
            bytes.removeSubrange(n...)
            return bytes
        }
    }

    /// Moves the offset back over read-ahead bytes nobody consumed, so a write lands where the caller
    /// expects.
    private func dropReadAhead() throws {
        let unread = buffer.count - bufferStart
        buffer = []
        bufferStart = 0
        if unread > 0 {
            _ = try nonBlockingSystemCall("seek in \(name)") { lseek(fd, off_t(-unread), SEEK_CUR) }
        }
    }
}
