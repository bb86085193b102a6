import CGeventIO

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

extension Socket {
    // MARK: - connect_ex

    /// Connects to `address` and returns the connection's failure instead of throwing it: `nil` once
    /// connected, the errno (``Errno/connectionRefused``, ...) when the connection failed.
    ///
    /// gevent's `socket.connect_ex`. A timeout or an error thrown into the greenlet still throws, as in
    /// gevent. May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Throws: ``SocketTimeoutError`` when ``timeout`` passes; ``ConcurrentObjectUseError``; what is
    ///   thrown into the greenlet while it waits.
    @available(*, noasync, message: "connectEx blocks the thread's greenlets; it is for greenlet code")
    public func connectEx(to address: SocketAddress) throws -> Errno? {
        do {
            try connect(to: address)
            return nil
        } catch let error as SocketError {
            return error.code
        }
    }

    // MARK: - sendfile

    /// Sends `count` bytes of `file` from `offset` (or up to its end), with `sendfile(2)`: the kernel
    /// copies from the file to the socket without passing the bytes through this process.
    ///
    /// gevent's `socket.sendfile`. The file's own position is not used or moved. When the file cannot be
    /// sent that way (`EINVAL`, `ENOSYS`, `ESPIPE`: a pipe, a socket, some file systems), it is read with `pread`
    /// (with `read` for a pipe or socket from offset 0) and sent with
    /// ``sendAll(_:flags:)-(UnsafeRawBufferPointer,_)``, as gevent falls back to `send`.
    /// ``timeout`` applies to each wait. May switch greenlets (whenever the send buffer is full). Hub
    /// thread only; not from inside the hub.
    ///
    /// - Parameters:
    ///   - file: an open, readable descriptor; this call does not close it.
    ///   - offset: where to start in the file (at least 0).
    ///   - count: the most bytes to send; `nil` sends to the end of the file.
    /// - Returns: the bytes sent; less than `count` only when the file ended first.
    /// - Throws: ``SocketError`` for a negative `offset` or `count` (``Errno/invalidArgument``), for the
    ///   file (``Errno/badFileDescriptor``) or the connection (``Errno/brokenPipe``, ...);
    ///   ``SocketTimeoutError``; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "sendfile blocks the thread's greenlets; it is for greenlet code")
    @discardableResult
    public func sendfile(_ file: FileDescriptor, offset: Int = 0, count: Int? = nil) throws -> Int {
        guard offset >= 0, (count ?? 0) >= 0 else {
            throw SocketError(
                code: .invalidArgument,
                operation: describe("sendfile"),
                reason: "offset \(offset) and count \(count.map(String.init) ?? "nil") must not be negative"
            )
        }
        var position = off_t(offset)
        var sent = 0
        while count.map({ sent < $0 }) ?? true {
            let chunk = min(count.map { $0 - sent } ?? Int.max, 1 << 30)
            let result: Int?
            do {
                result = try systemCall(describe("sendfile")) { Glibc.sendfile(fd, file.rawValue, &position, chunk) }
            } catch {
                // Not a regular file (a pipe: ESPIPE), or a file system without sendfile support.
                let unsupported = [EINVAL, ENOSYS, ESPIPE].contains(error.code.rawValue)
                guard sent == 0, unsupported else { throw error }
                return try sendWithReads(file, offset: offset, count: count)
            }
            guard let result else {
                try waitForWrite("sendfile")
                continue
            }
            if result == 0 { break }  // the end of the file
            sent += result
        }
        return sent
    }

    /// ``sendfile(_:offset:count:)`` for files `sendfile(2)` refuses: `pread` and send, 64 KiB at a time;
    /// a pipe or a socket (no positions) sent from offset 0 is read with `read` instead.
    private func sendWithReads(_ file: FileDescriptor, offset: Int, count: Int?) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var sent = 0
        var positional = true
        while count.map({ sent < $0 }) ?? true {
            let want = min(buffer.count, count.map { $0 - sent } ?? buffer.count)
            let read: Int
            do {
                read = try buffer.withUnsafeMutableBytes { bytes in
                    try nonBlockingSystemCall(describe("sendfile (read the file)")) {
                        positional
                            ? pread(file.rawValue, bytes.baseAddress, want, off_t(offset + sent))
                            : Glibc.read(file.rawValue, bytes.baseAddress, want)
                    }
                }
            } catch let error as SocketError {
                guard positional, offset == 0, sent == 0, error.code.rawValue == ESPIPE else { throw error }
                positional = false
                continue
            }
            if read == 0 { break }
            try buffer.withUnsafeBytes { try sendAll(UnsafeRawBufferPointer(rebasing: $0[..<read])) }
            sent += read
        }
        return sent
    }

    // MARK: - sendmsg / recvmsg

    /// Sends the bytes of `buffers` as one message (scatter-gather), with ancillary data, to the connected
    /// peer or to `address`.
    ///
    /// gevent's `socket.sendmsg(buffers, ancdata, flags, address)`; passing descriptors over a Unix socket
    /// is ``ControlMessage/fileDescriptors(_:)``. May switch greenlets (only when the send buffer is
    /// full). Hub thread only; not from inside the hub.
    ///
    /// - Parameters:
    ///   - buffers: the message's bytes, in order.
    ///   - ancillary: control messages sent with the first byte.
    ///   - flags: `MSG_*` flags; `MSG_NOSIGNAL` is always added.
    ///   - address: the destination of an unconnected datagram socket; `nil` for the connected peer.
    /// - Returns: how many bytes were sent (a stream socket may take fewer than all).
    /// - Throws: ``SocketError`` (``Errno/messageTooLong``, ``Errno/brokenPipe``, ...);
    ///   ``SocketTimeoutError``; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "sendMsg blocks the thread's greenlets; it is for greenlet code")
    public func sendMsg(
        _ buffers: [[UInt8]],
        ancillary: [ControlMessage] = [],
        flags: MessageFlags = [],
        to address: SocketAddress? = nil
    ) throws -> Int {
        let control = Self.encode(ancillary)
        let allFlags = flags.rawValue | CInt(MSG_NOSIGNAL)
        return try withIOVectors(buffers) { vectors in
            try control.withUnsafeBytes { controlBytes in
                try withOptionalSockaddr(address) { name, nameLength in
                    var message = msghdr()
                    message.msg_name = UnsafeMutableRawPointer(mutating: name)
                    message.msg_namelen = nameLength
                    message.msg_iov = vectors.baseAddress
                    message.msg_iovlen = vectors.count
                    message.msg_control =
                        controlBytes.isEmpty ? nil : UnsafeMutableRawPointer(mutating: controlBytes.baseAddress)
                    message.msg_controllen = controlBytes.count
                    while true {
                        if let sent = try systemCall(describe("sendmsg"), { Glibc.sendmsg(fd, &message, allFlags) }) {
                            return sent
                        }
                        try waitForWrite("sendmsg")
                    }
                }
            }
        }
    }

    /// Receives one message: up to `maxBytes` bytes, the ancillary data that came with them, the flags the
    /// kernel set and the sender's address.
    ///
    /// gevent's `socket.recvmsg(bufsize, ancbufsize, flags)`. Descriptors received in an `SCM_RIGHTS` item
    /// belong to the caller (close them). May switch greenlets. Hub thread only; not from inside the hub.
    ///
    /// - Parameters:
    ///   - maxBytes: the most bytes to return (at least 0).
    ///   - ancillaryBytes: room for ancillary data, in bytes of control buffer (`CMSG_SPACE` of each
    ///     expected item; 0 for none). Items that did not fit are cut, and `flags` has `MSG_CTRUNC`.
    ///   - flags: `MSG_*` flags.
    /// - Returns: the bytes (empty at the end of a stream), the ancillary items, the flags (`MSG_TRUNC`,
    ///   `MSG_CTRUNC`) and the sender (`nil` for a connected stream socket).
    /// - Throws: ``SocketError`` (``Errno/invalidArgument`` for negative sizes, ``Errno/connectionReset``,
    ///   ...); ``SocketTimeoutError``; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "recvMsg blocks the thread's greenlets; it is for greenlet code")
    public func recvMsg(
        maxBytes: Int,
        ancillaryBytes: Int = 0,
        flags: MessageFlags = []
    ) throws -> (
        bytes: [UInt8], ancillary: [ControlMessage], flags: MessageFlags, sender: SocketAddress?
    ) {
        guard maxBytes >= 0, ancillaryBytes >= 0 else {
            throw SocketError(
                code: .invalidArgument,
                operation: describe("recvmsg"),
                reason: "maxBytes \(maxBytes) and ancillaryBytes \(ancillaryBytes) must not be negative"
            )
        }
        let data = UnsafeMutableRawBufferPointer.allocate(byteCount: max(maxBytes, 1), alignment: 16)
        let control = UnsafeMutableRawBufferPointer.allocate(byteCount: max(ancillaryBytes, 1), alignment: 16)
        let sender = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
        let vector = UnsafeMutablePointer<iovec>.allocate(capacity: 1)
        let message = UnsafeMutablePointer<msghdr>.allocate(capacity: 1)
        defer {
            data.deallocate()
            control.deallocate()
            sender.deallocate()
            vector.deallocate()
            message.deallocate()
        }
        control.initializeMemory(as: UInt8.self, repeating: 0)
        vector.initialize(to: iovec(iov_base: data.baseAddress, iov_len: maxBytes))
        while true {
            message.initialize(to: msghdr())
            message.pointee.msg_name = UnsafeMutableRawPointer(sender)
            message.pointee.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            message.pointee.msg_iov = vector
            message.pointee.msg_iovlen = 1
            message.pointee.msg_control = ancillaryBytes > 0 ? control.baseAddress : nil
            message.pointee.msg_controllen = ancillaryBytes
            if let count = try systemCall(describe("recvmsg"), { Glibc.recvmsg(fd, message, flags.rawValue) }) {
                let bytes = Array(UnsafeRawBufferPointer(rebasing: data[..<min(count, maxBytes)]))
                let length = message.pointee.msg_namelen
                let address = length > 0 ? SocketAddress(UnsafeRawPointer(sender), length: length) : nil
                return (bytes, Self.decode(message), MessageFlags(rawValue: message.pointee.msg_flags), address)
            }
            try waitForRead("recvmsg")
        }
    }

    /// The control buffer for `items`, laid out as the CMSG macros say.
    private static func encode(_ items: [ControlMessage]) -> [UInt8] {
        let size = items.reduce(0) { $0 + Int(gevent_cmsg_space(UInt($1.data.count))) }
        guard size > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: size)
        buffer.withUnsafeMutableBytes { raw in
            var offset = 0
            for item in items {
                let header = raw.baseAddress! + offset
                header.withMemoryRebound(to: cmsghdr.self, capacity: 1) { cmsg in
                    cmsg.pointee.cmsg_len = Int(gevent_cmsg_len(UInt(item.data.count)))
                    cmsg.pointee.cmsg_level = item.level
                    cmsg.pointee.cmsg_type = item.type
                }
                let data = gevent_cmsg_data(header)!
                item.data.withUnsafeBytes { source in
                    UnsafeMutableRawPointer(data).copyMemory(from: source.baseAddress!, byteCount: source.count)
                }
                offset += Int(gevent_cmsg_space(UInt(item.data.count)))
            }
        }
        return buffer
    }

    /// The control messages `recvmsg` left in `message`'s control buffer.
    private static func decode(_ message: UnsafeMutablePointer<msghdr>) -> [ControlMessage] {
        var items: [ControlMessage] = []
        var header = gevent_cmsg_first(message)
        while let current = header {
            let cmsg = current.assumingMemoryBound(to: cmsghdr.self).pointee
            let data = gevent_cmsg_data(current)!
            let length = cmsg.cmsg_len - Int(gevent_cmsg_len(0))
            let bytes = Array(UnsafeRawBufferPointer(start: data, count: max(0, length)))
            items.append(ControlMessage(level: cmsg.cmsg_level, type: cmsg.cmsg_type, data: bytes))
            header = gevent_cmsg_next(message, current)
        }
        return items
    }
}

/// Calls `body` with an `iovec` for each of `buffers`, valid during the call.
private func withIOVectors<R>(
    _ buffers: [[UInt8]],
    _ body: (UnsafeMutableBufferPointer<iovec>) throws -> R
) rethrows -> R {
    var vectors = [iovec](repeating: iovec(), count: buffers.count)
    func fill(_ index: Int) throws -> R {
        if index == buffers.count {
            return try vectors.withUnsafeMutableBufferPointer { try body($0) }
        }
        return try buffers[index].withUnsafeBytes { bytes in
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return try fill(index + 1)
        }
    }
    return try fill(0)
}

/// Calls `body` with `address` as a `sockaddr` pointer and length, or with `nil` and 0.
private func withOptionalSockaddr<R>(
    _ address: SocketAddress?,
    _ body: (UnsafePointer<sockaddr>?, socklen_t) throws -> R
) throws -> R {
    guard let address else { return try body(nil, 0) }
    return try address.withSockaddr { pointer, length in try body(pointer, length) }
}
