import CGeventIO
import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// One end of a pipe, with blocking-style reads or writes that let other greenlets run while they wait:
/// the standard input, output and error of a ``Subprocess`` created with ``Subprocess/Redirect/pipe``.
///
/// ```swift
/// let child = try Subprocess(["tr", "a-z", "A-Z"], standardInput: .pipe, standardOutput: .pipe)
/// try child.standardInput!.writeAll(Array("pear".utf8))
/// child.standardInput!.close()
/// let upper = try child.standardOutput!.readToEnd()       // "PEAR"
/// ```
///
/// The descriptor is non-blocking and close-on-exec; every call tries the system call first and waits on
/// the hub only when the kernel says it would block, like ``Socket``. Waiting is bounded by ``timeout``.
/// Writing to a pipe whose reader has gone throws ``SocketError`` with ``Errno/brokenPipe`` and never raises
/// `SIGPIPE`. ``close()`` wakes a greenlet blocked on the end with ``Errno/badFileDescriptor`` first. The
/// end is closed when the object goes away. gevent's `FileObjectPosix` for a pipe.
///
/// A pipe end is bound to the hub of the thread that created it (the type is not `Sendable`). Methods that
/// wait may switch greenlets and must not be called from inside the hub.
public final class PipeEnd {
    /// The hub this end waits on.
    public let hub: Hub
    /// `true` for the reading end, `false` for the writing end.
    public let isReadable: Bool
    /// How long one read or write may wait: `nil` (the default) as long as it takes, `.zero` never. Never
    /// switches; hub thread only.
    public var timeout: Duration?
    private(set) var fd: CInt
    private var watcher: IOWatcher?

    /// Takes a descriptor this package created non-blocking and close-on-exec.
    init(ownedNonBlocking fd: CInt, readable: Bool, hub: Hub) {
        self.fd = fd
        self.isReadable = readable
        self.hub = hub
    }

    deinit {
        if fd >= 0 {
            watcher?.stopIfLoopAlive()
            Glibc.close(fd)
        }
    }

    /// The descriptor; -1 once closed. Never switches; any thread.
    public var fileDescriptor: FileDescriptor { FileDescriptor(fd) }

    /// `true` once ``close()`` was called. Never switches; hub thread only.
    public var isClosed: Bool { fd < 0 }

    // MARK: - Reading

    /// Reads up to `buffer.count` bytes, waiting until at least one byte or the end of the stream arrives.
    ///
    /// May switch greenlets (only when nothing is waiting in the pipe). Hub thread only; not from inside the
    /// hub.
    ///
    /// - Returns: the number of bytes read; 0 at the end of the stream (every writer has closed its end).
    /// - Throws: ``SocketError`` (``Errno/badFileDescriptor`` when closed, or on the writing end);
    ///   ``SocketTimeoutError``; ``ConcurrentObjectUseError`` when another greenlet is reading; what is
    ///   thrown into the greenlet while it waits.
    @available(*, noasync, message: "read blocks the thread's greenlets; it is for greenlet code")
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try requireDirection(readable: true, "read")
        while true {
            if let count = try systemCall(describe("read"), { Glibc.read(fd, buffer.baseAddress, buffer.count) }) {
                return count
            }
            try waitReady("read")
        }
    }

    /// Reads up to `maxBytes` bytes, waiting until at least one byte or the end of the stream arrives.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Returns: the bytes; empty at the end of the stream.
    /// - Throws: as ``read(into:)``.
    @available(*, noasync, message: "read blocks the thread's greenlets; it is for greenlet code")
    public func read(maxBytes: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: max(maxBytes, 0)) { buffer, count in
            count = try read(into: UnsafeMutableRawBufferPointer(buffer))
        }
    }

    /// Reads until the end of the stream and returns everything.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Throws: as ``read(into:)``; bytes read before an error are lost, use ``read(into:)`` to keep them.
    @available(*, noasync, message: "readToEnd blocks the thread's greenlets; it is for greenlet code")
    public func readToEnd() throws -> [UInt8] {
        var collected: [UInt8] = []
        try readToEnd { collected.append(contentsOf: $0) }
        return collected
    }

    /// Reads until the end of the stream, handing each chunk to `consume` as it arrives, so what was read
    /// before an error or a kill is kept (``Subprocess/communicate(input:timeout:)`` relies on it).
    @available(*, noasync, message: "readToEnd blocks the thread's greenlets; it is for greenlet code")
    func readToEnd(_ consume: (UnsafeMutableRawBufferPointer.SubSequence) -> Void) throws {
        // One 64 KiB buffer for the whole stream (a pipe holds 64 KiB by default), on the heap: greenlet
        // stacks are small.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let received = try read(into: buffer)
            if received == 0 { return }
            consume(buffer[..<received])
        }
    }

    // MARK: - Writing

    /// Writes some of `bytes`, waiting until the pipe has room for at least one byte.
    ///
    /// May switch greenlets (only when the pipe is full). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the number of bytes written.
    /// - Throws: ``SocketError`` (``Errno/brokenPipe`` when the reader has gone; ``Errno/badFileDescriptor``
    ///   when closed, or on the reading end); ``SocketTimeoutError``; ``ConcurrentObjectUseError``; what is
    ///   thrown into the greenlet while it waits.
    @available(*, noasync, message: "write blocks the thread's greenlets; it is for greenlet code")
    public func write(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        try requireDirection(readable: false, "write")
        while true {
            if let count = try systemCall(
                describe("write"),
                { gevent_write_without_sigpipe(fd, bytes.baseAddress, UInt(bytes.count)) }
            ) {
                return count
            }
            try waitReady("write")
        }
    }

    /// Writes all of `bytes`, waiting as often as the pipe fills up.
    ///
    /// ``timeout`` applies to each wait. May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Throws: as ``write(_:)``; how much was written before an error is not reported.
    @available(*, noasync, message: "writeAll blocks the thread's greenlets; it is for greenlet code")
    public func writeAll<Bytes: Sequence<UInt8>>(_ bytes: Bytes) throws {
        let array = Array(bytes)
        try array.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                offset += try write(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
            }
        }
    }

    // MARK: - Closing

    /// Closes this end. Harmless if already closed.
    ///
    /// Closing the writing end is how a child reading standard input sees its end. A greenlet blocked on the
    /// end is woken with a ``SocketError`` (``Errno/badFileDescriptor``, "File descriptor was closed in
    /// another greenlet") before the descriptor is released. Never switches; hub thread only.
    public func close() {
        let fd = self.fd
        guard fd >= 0 else { return }
        self.fd = -1
        if watcher?.cancelWait() == true {
            // The woken greenlet runs first (callbacks are FIFO), so it cannot touch a reused number.
            hub.enqueue(.closure { Glibc.close(fd) })
        } else {
            Glibc.close(fd)
        }
    }

    // MARK: - Helpers

    private func requireDirection(readable: Bool, _ operation: StaticString) throws {
        guard fd >= 0 else {
            throw SocketError(code: .badFileDescriptor, operation: "\(operation) on a closed pipe")
        }
        guard readable == isReadable else {
            throw SocketError(
                code: .badFileDescriptor,
                operation: describe(operation),
                reason: "this is the \(isReadable ? "reading" : "writing") end of the pipe"
            )
        }
    }

    private func waitReady(_ operation: StaticString) throws {
        if let timeout, timeout <= .zero {
            throw SocketError(code: .wouldBlock, operation: describe(operation))
        }
        let watcher =
            self.watcher ?? IOWatcher(hub: hub, fd: fd, events: isReadable ? gevent_EV_READ : gevent_EV_WRITE)
        self.watcher = watcher
        switch try watcher.wait(operation, subject: describe(operation), timeout: timeout) {
        case .ready:
            return
        case .timedOut:
            throw SocketTimeoutError(operation: describe(operation), timeout: timeout ?? .zero)
        case .closed:
            throw SocketError(
                code: .badFileDescriptor,
                operation: "\(operation) on a pipe",
                reason: SocketError.closedInAnotherGreenlet
            )
        }
    }

    private func describe(_ operation: StaticString) -> String {
        fd >= 0 ? "\(operation) on pipe \(fileDescriptor)" : "\(operation) on a closed pipe"
    }
}
