/// A buffered reader over a ``Socket``: lines, exact byte counts, everything to the end of the stream.
///
/// Created by ``Socket/makeReader(bufferSize:)``; gevent's `socket.makefile('rb')`. It reads from the socket
/// in chunks of its buffer size and hands out what is asked for, so reading a line byte by byte costs no
/// system call per byte. It keeps the socket's descriptor open until ``close()``, even when the socket is
/// closed first.
///
/// Hub thread only. The reading methods may switch greenlets while they wait for data; they follow the
/// socket's ``Socket/timeout`` and throw what the socket throws (``SocketTimeoutError``, ``SocketError``).
/// Data that arrived before an error or a timeout stays in the buffer for the next call.
public final class SocketReader {
    /// The socket read from.
    public let socket: Socket
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var reachedEnd = false
    private var closed = false

    init(socket: Socket, bufferSize: Int) {
        self.socket = socket
        buffer = [UInt8](repeating: 0, count: max(bufferSize, 64))
    }

    deinit {
        close()
    }

    /// Reads one line: the bytes up to and including the next `\n`, or up to the end of the stream.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Parameter maxLength: the most bytes to return; a longer line is returned in pieces.
    /// - Returns: the line with its `\n`; the last line of a stream may lack it; empty at the end of the
    ///   stream.
    /// - Throws: what ``Socket/recv(into:flags:)`` throws; ``SocketError`` with ``Errno/badFileDescriptor``
    ///   after ``close()``.
    @available(*, noasync, message: "readLine blocks the thread's greenlets; it is for greenlet code")
    public func readLine(maxLength: Int = .max) throws -> [UInt8] {
        // Bytes after `start` already searched; counted from `start` because fill() may move the data.
        var scanned = 0
        while true {
            let limit = min(end - start, maxLength)
            if let newline = buffer[(start + scanned)..<(start + limit)].firstIndex(of: UInt8(ascii: "\n")) {
                return take(newline + 1 - start)
            }
            if limit >= maxLength {
                return take(limit)
            }
            scanned = limit
            if try !fill() {
                return take(end - start)
            }
        }
    }

    /// Reads exactly `count` bytes, or fewer if the stream ends first.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Returns: `count` bytes; fewer only at the end of the stream.
    /// - Throws: what ``Socket/recv(into:flags:)`` throws.
    @available(*, noasync, message: "read blocks the thread's greenlets; it is for greenlet code")
    public func read(count: Int) throws -> [UInt8] {
        while end - start < count {
            if try !fill() { break }
        }
        return take(min(count, end - start))
    }

    /// Reads everything until the peer closes its side.
    ///
    /// May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Throws: what ``Socket/recv(into:flags:)`` throws.
    @available(*, noasync, message: "readToEnd blocks the thread's greenlets; it is for greenlet code")
    public func readToEnd() throws -> [UInt8] {
        while try fill() {}
        return take(end - start)
    }

    /// Closes the reader; the socket's descriptor is released if the socket was closed too. Buffered data
    /// is discarded. Never switches; hub thread only.
    public func close() {
        guard !closed else { return }
        closed = true
        start = 0
        end = 0
        socket.readerClosed()
    }

    /// Reads more from the socket into the buffer; `false` at the end of the stream.
    private func fill() throws -> Bool {
        guard !closed else {
            throw SocketError(code: .badFileDescriptor, operation: "read from a closed SocketReader")
        }
        if reachedEnd { return false }
        if start > 0 && start == end {
            start = 0
            end = 0
        }
        if end == buffer.count {
            if start > 0 {
                buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
                end -= start
                start = 0
            } else {
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
        }
        let received = try buffer.withUnsafeMutableBytes { raw in
            try socket.recv(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if received == 0 {
            reachedEnd = true
            return false
        }
        end += received
        return true
    }

    private func take(_ count: Int) -> [UInt8] {
        let bytes = Array(buffer[start..<(start + count)])
        start += count
        return bytes
    }
}
