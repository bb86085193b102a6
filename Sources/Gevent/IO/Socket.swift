import CGeventIO
import CLibev
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A cooperative socket: TCP, UDP or Unix-domain, IPv4 or IPv6, with blocking-style calls that let other
/// greenlets run while they wait.
///
/// ```swift
/// let socket = try Socket(family: .inet, type: .stream)
/// try socket.connect(to: SocketAddress("127.0.0.1:8080"))
/// try socket.sendAll(Array("ping\n".utf8))
/// let reply = try socket.recv(maxBytes: 4096)
/// ```
///
/// Underneath, the descriptor is non-blocking. Every call tries the system call first; only when the kernel
/// says it would block does the greenlet register the socket's watcher with the hub and switch away, so data
/// that is already there costs one system call and no switch. Waiting is bounded by ``timeout`` (by default
/// ``defaultTimeout``): `nil` waits as long as it takes, `.zero` never waits (the call throws
/// ``Errno/wouldBlock``), anything else throws ``SocketTimeoutError`` when it passes. gevent's
/// `gevent.socket.socket`.
///
/// Rules, as in gevent:
/// - One greenlet may wait to read and one to write at a time; a second waiter in the same direction gets
///   ``ConcurrentObjectUseError``.
/// - ``close()`` wakes every greenlet blocked on the socket with a ``SocketError`` (``Errno/badFileDescriptor``,
///   "File descriptor was closed in another greenlet") before the descriptor is released, so no greenlet is
///   left waiting on a number the kernel may hand out again.
/// - The socket is closed when the object goes away.
///
/// Sockets are bound to the hub of the thread that created them: use them on that thread only (the type is
/// not `Sendable`). The methods that wait say so; they may switch greenlets and must not be called from
/// inside the hub.
public final class Socket {
    /// The hub this socket waits on.
    public let hub: Hub
    /// The descriptor, or -1 once closed or detached.
    private(set) var fd: CInt
    /// The socket's address family.
    public let family: AddressFamily
    /// The socket's type.
    public let type: SocketType
    /// The protocol number given at creation (0: the family's default).
    public let protocolNumber: CInt
    /// How long a call may wait: `nil` forever, `.zero` never (non-blocking), else a limit per wait
    /// (``sendAll(_:flags:)-(UnsafeRawBufferPointer,_)`` applies it to the whole call). Starts as ``defaultTimeout``. Never switches;
    /// hub thread only.
    public var timeout: Duration?

    private var readWatcher: IOWatcher?
    /// The last stream receive returned less than it asked for, so the kernel's buffer is most likely
    /// empty: the next receive waits for readiness first instead of spending a system call on `EAGAIN`.
    /// The watcher is level-triggered, so data that is already there is reported on the next loop
    /// iteration; the hint never loses a wake-up, it only saves the failing `recv(2)` of a request/response
    /// loop.
    private var receiveProbablyDrained = false
    private var writeWatcher: IOWatcher?
    /// The peer from connect or accept, for error messages; no system call needed.
    private var knownPeer: SocketAddress?
    /// Open ``SocketReader``s; the descriptor is closed when the last one and the socket are closed.
    private var readerCount = 0
    private var closeRequested = false

    private static let defaultTimeoutStorage = Mutex<Duration?>(nil)

    /// The ``timeout`` new sockets start with; `nil` (wait as long as it takes) unless changed. gevent's
    /// `socket.setdefaulttimeout`/`getdefaulttimeout`. Never switches; any thread.
    public static var defaultTimeout: Duration? {
        get { defaultTimeoutStorage.withLock { $0 } }
        set { defaultTimeoutStorage.withLock { $0 = newValue } }
    }

    // MARK: - Creating

    /// Creates a socket.
    ///
    /// Never switches. The socket belongs to the calling thread's hub (created if needed).
    ///
    /// - Parameters:
    ///   - family: ``AddressFamily/inet`` (default), ``AddressFamily/inet6`` or ``AddressFamily/unix``.
    ///   - type: ``SocketType/stream`` (default, TCP), ``SocketType/datagram`` (UDP), ...
    ///   - protocol: the protocol number; 0 (default) picks the family's usual one.
    /// - Throws: ``SocketError`` from `socket(2)`: ``Errno/tooManyOpenFiles``,
    ///   ``Errno/addressFamilyNotSupported``, ...
    public init(family: AddressFamily = .inet, type: SocketType = .stream, protocol: CInt = 0) throws {
        let flags = CInt(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        fd = try nonBlockingSystemCall("create a \(family) \(type) socket") {
            Glibc.socket(family.rawValue, type.rawValue | flags, `protocol`)
        }
        hub = Hub.current
        self.family = family
        self.type = type
        protocolNumber = `protocol`
        timeout = Socket.defaultTimeout
        hub.counters.openSockets += 1
    }

    /// Takes ownership of an open socket descriptor (gevent's `socket(fileno=...)` and `fromfd` without
    /// the dup).
    ///
    /// The descriptor is made non-blocking (other holders of the same open file description see that too)
    /// and is closed by ``close()`` or when this object goes away. Never switches; the socket belongs to the
    /// calling thread's hub.
    ///
    /// - Throws: ``SocketError`` if `fd` is not an open socket (``Errno/notASocket``,
    ///   ``Errno/badFileDescriptor``) or its family or type is not supported.
    public init(adopting descriptor: FileDescriptor) throws {
        let fd = descriptor.rawValue
        let what = "adopt \(descriptor)"
        let domain = try Socket.integerOption(fd, SOL_SOCKET, SO_DOMAIN, what)
        let rawType = try Socket.integerOption(fd, SOL_SOCKET, SO_TYPE, what)
        let rawProtocol = try Socket.integerOption(fd, SOL_SOCKET, SO_PROTOCOL, what)
        guard let family = AddressFamily(rawValue: domain), let type = SocketType(rawValue: rawType) else {
            throw SocketError(
                code: .addressFamilyNotSupported,
                operation: what,
                reason: "socket family \(domain) / type \(rawType) is not supported (only inet, inet6, unix)"
            )
        }
        let flags = try nonBlockingSystemCall(what) { fcntl(fd, F_GETFL) }
        _ = try nonBlockingSystemCall(what) { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
        self.fd = fd
        hub = Hub.current
        self.family = family
        self.type = type
        protocolNumber = rawProtocol
        timeout = Socket.defaultTimeout
        hub.counters.openSockets += 1
    }

    /// A socket for a descriptor `accept4` just returned (already non-blocking and close-on-exec).
    init(accepted fd: CInt, from listener: Socket, peer: SocketAddress?) {
        self.fd = fd
        hub = listener.hub
        family = listener.family
        type = listener.type
        protocolNumber = listener.protocolNumber
        knownPeer = peer
        timeout = Socket.defaultTimeout
        hub.counters.openSockets += 1
    }

    /// A socket for a descriptor this package created non-blocking (socketPair).
    init(ownedNonBlocking fd: CInt, family: AddressFamily, type: SocketType) {
        self.fd = fd
        hub = Hub.current
        self.family = family
        self.type = type
        protocolNumber = 0
        timeout = Socket.defaultTimeout
        hub.counters.openSockets += 1
    }

    deinit {
        if fd >= 0 {
            hub.counters.openSockets -= 1
            readWatcher?.stopIfLoopAlive()
            writeWatcher?.stopIfLoopAlive()
            Glibc.close(fd)
        }
    }

    // MARK: - State

    /// The descriptor; -1 once the socket is closed or detached. Never switches; any thread.
    public var fileDescriptor: FileDescriptor { FileDescriptor(fd) }

    /// `true` once ``close()`` or ``detach()`` was called. Never switches; hub thread only.
    public var isClosed: Bool { fd < 0 }

    /// The address the socket is bound to (`getsockname(2)`); after binding port 0 it has the real port.
    /// Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` on a closed socket.
    public var localAddress: SocketAddress {
        get throws {
            try Socket.address(of: fd, "getsockname on \(fileDescriptor)") { fd, pointer, length in
                getsockname(fd, pointer, length)
            }
        }
    }

    /// The address of the connected peer (`getpeername(2)`). Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` with ``Errno/notConnected`` when not connected, or on a closed socket.
    public var remoteAddress: SocketAddress {
        get throws {
            try Socket.address(of: fd, "getpeername on \(fileDescriptor)") { fd, pointer, length in
                getpeername(fd, pointer, length)
            }
        }
    }

    // MARK: - Setting up

    /// Binds the socket to a local address (`bind(2)`). Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError``: ``Errno/addressInUse``, ``Errno/addressNotAvailable``, ...
    public func bind(to address: SocketAddress) throws {
        _ = try address.withSockaddr { pointer, length throws(SocketError) in
            try nonBlockingSystemCall("bind to \(address)") { Glibc.bind(fd, pointer, length) }
        }
    }

    /// Marks the socket as accepting connections (`listen(2)`). Never switches; hub thread only.
    ///
    /// - Parameter backlog: how many connections the kernel queues before ``accept()`` takes them
    ///   (capped by `net.core.somaxconn`).
    /// - Throws: ``SocketError``.
    public func listen(backlog: Int = 128) throws {
        _ = try nonBlockingSystemCall(describe("listen")) { Glibc.listen(fd, CInt(clamping: backlog)) }
    }

    /// Sets an integer option (`setsockopt(2)`). Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` for an option the socket does not support, or on a closed socket.
    public func setOption(_ option: SocketOption, to value: CInt) throws {
        var value = value
        _ = try nonBlockingSystemCall(describe("set \(option)")) {
            setsockopt(fd, option.level, option.name, &value, socklen_t(MemoryLayout<CInt>.size))
        }
    }

    /// Sets a boolean option (`setsockopt(2)` with 1 or 0). Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` for an option the socket does not support, or on a closed socket.
    public func setOption(_ option: SocketOption, to value: Bool) throws {
        try setOption(option, to: value ? 1 : 0)
    }

    /// Reads an integer option (`getsockopt(2)`). Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` for an option the socket does not support, or on a closed socket.
    public func option(_ option: SocketOption) throws -> CInt {
        try Socket.integerOption(fd, option.level, option.name, describe("get \(option)"))
    }

    /// Sets `SO_LINGER`: `nil` turns lingering off (the default); a number of seconds makes ``close()``
    /// wait for unsent data; `0` makes ``close()`` reset the connection (`RST`) instead of closing it
    /// gracefully. Never switches (the socket is non-blocking, so a linger never blocks the thread); hub
    /// thread only.
    ///
    /// - Throws: ``SocketError`` on a closed socket.
    public func setLinger(seconds: Int?) throws {
        var value = linger(l_onoff: seconds == nil ? 0 : 1, l_linger: CInt(clamping: seconds ?? 0))
        _ = try nonBlockingSystemCall(describe("set SO_LINGER")) {
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &value, socklen_t(MemoryLayout<linger>.size))
        }
    }

    // MARK: - Connecting

    /// Connects to `address`, waiting cooperatively for the handshake.
    ///
    /// May switch greenlets (while the connection is being set up). Hub thread only; not from inside the
    /// hub.
    ///
    /// - Throws: ``SocketError`` ("connect to 127.0.0.1:5432: Connection refused (errno 111)");
    ///   ``SocketTimeoutError`` when ``timeout`` passes; ``ConcurrentObjectUseError`` when another greenlet
    ///   is writing to this socket; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "connect blocks the thread's greenlets; it is for greenlet code")
    public func connect(to address: SocketAddress) throws {
        knownPeer = address
        while true {
            let started = try address.withSockaddr { pointer, length throws(SocketError) in
                try systemCall("connect to \(address)", alsoWouldBlock: EINPROGRESS) {
                    Glibc.connect(fd, pointer, length)
                }
            }
            if started != nil { return }
            try waitForWrite("connect")
            let pending = try Socket.integerOption(fd, SOL_SOCKET, SO_ERROR, "connect to \(address)")
            if pending != 0 {
                throw SocketError(code: Errno(rawValue: pending), operation: "connect to \(address)")
            }
            // After EINPROGRESS a writable socket is connected; after EAGAIN (a full Unix backlog) the
            // connect has not happened yet, and the loop tries again. A second connect on a connected TCP
            // socket reports EISCONN, which means success.
            var peer = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let connected = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
            }
            if connected { return }
        }
    }

    /// Resolves `host` with the hub's resolver and connects to its first address of this socket's family.
    ///
    /// gevent's `socket.connect((host, port))`. May switch greenlets (resolving and connecting). Hub thread
    /// only; not from inside the hub.
    ///
    /// - Throws: ``ResolverError`` when the name does not resolve; otherwise as ``connect(to:)``.
    @available(*, noasync, message: "connect blocks the thread's greenlets; it is for greenlet code")
    public func connect(host: String, port: Int) throws {
        let results = try getaddrinfo(host: host, port: port, family: family, type: type)
        try connect(to: results[0].address)
    }

    /// Waits for and accepts one connection.
    ///
    /// The new socket has the listener's family and type and ``defaultTimeout``. May switch greenlets. Hub
    /// thread only; not from inside the hub.
    ///
    /// - Returns: the connected socket and the peer's address.
    /// - Throws: ``SocketError`` (``Errno/tooManyOpenFiles`` when out of descriptors, ...);
    ///   ``SocketTimeoutError``; ``ConcurrentObjectUseError`` when another greenlet is accepting on it;
    ///   what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "accept blocks the thread's greenlets; it is for greenlet code")
    public func accept() throws -> (Socket, SocketAddress) {
        while true {
            if let accepted = try acceptNow() {
                return accepted
            }
            try waitForRead("accept")
        }
    }

    /// One `accept4(2)`: a connection, or `nil` when none is waiting. Never switches.
    func acceptNow() throws(SocketError) -> (Socket, SocketAddress)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let flags = CInt(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        let accepted = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SocketError) -> CInt? in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SocketError) -> CInt? in
                try systemCall(describe("accept")) { gevent_accept4(fd, address, &length, flags) }
            }
        }
        guard let accepted else { return nil }
        let peer = withUnsafePointer(to: &storage) { SocketAddress(UnsafeRawPointer($0), length: length) }
        let address = peer ?? SocketAddress(storage: .unix(sockaddr_un(), socklen_t(MemoryLayout<sa_family_t>.size)))
        return (Socket(accepted: accepted, from: self, peer: peer), address)
    }

    // MARK: - Sending

    /// Sends some of `bytes`, waiting until the kernel takes at least one byte.
    ///
    /// May switch greenlets (only when the send buffer is full). Hub thread only; not from inside the hub.
    ///
    /// - Returns: how many bytes were sent; fewer than `bytes.count` when the kernel's buffer filled up.
    /// - Throws: ``SocketError`` (``Errno/brokenPipe``, ``Errno/connectionReset``, ...);
    ///   ``SocketTimeoutError``; ``ConcurrentObjectUseError``; what is thrown into the greenlet while it
    ///   waits.
    @available(*, noasync, message: "send blocks the thread's greenlets; it is for greenlet code")
    public func send(_ bytes: UnsafeRawBufferPointer, flags: MessageFlags = []) throws -> Int {
        let allFlags = flags.rawValue | CInt(MSG_NOSIGNAL)
        while true {
            if let sent = try systemCall(describe("send"), { Glibc.send(fd, bytes.baseAddress, bytes.count, allFlags) })
            {
                return sent
            }
            try waitForWrite("send")
        }
    }

    /// Sends all of `bytes`, waiting as often as needed.
    ///
    /// ``timeout`` bounds the whole call, not each wait (gevent's `sendall`). If it passes, or an error
    /// occurs, some bytes may have been sent. May switch greenlets (only when the send buffer is full). Hub
    /// thread only; not from inside the hub.
    ///
    /// - Throws: ``SocketError`` (``Errno/brokenPipe`` or ``Errno/connectionReset`` when the peer went away);
    ///   ``SocketTimeoutError``; ``ConcurrentObjectUseError``; what is thrown into the greenlet while it
    ///   waits.
    @available(*, noasync, message: "sendAll blocks the thread's greenlets; it is for greenlet code")
    public func sendAll(_ bytes: UnsafeRawBufferPointer, flags: MessageFlags = []) throws {
        let allFlags = flags.rawValue | CInt(MSG_NOSIGNAL)
        // The common case: the kernel takes everything at once.
        let sent = try systemCall(describe("sendAll")) { Glibc.send(fd, bytes.baseAddress, bytes.count, allFlags) }
        if let sent, sent >= bytes.count {
            return
        }
        try sendRemaining(bytes, from: sent ?? 0, allFlags: allFlags)
    }

    /// The rest of ``sendAll(_:flags:)-(UnsafeRawBufferPointer,_)`` after a partial (or refused) first send:
    /// waits and sends until done, within one deadline for the whole call.
    @inline(never)
    private func sendRemaining(_ bytes: UnsafeRawBufferPointer, from start: Int, allFlags: CInt) throws {
        var offset = start
        var deadline: ContinuousClock.Instant?
        while true {
            let remaining = bytes.count - offset
            let pointer = bytes.baseAddress.map { $0 + offset }
            if let sent = try systemCall(describe("sendAll"), { Glibc.send(fd, pointer, remaining, allFlags) }) {
                offset += sent
                if offset >= bytes.count { return }
                continue
            }
            guard let timeout, timeout > .zero else {
                try waitForWrite("sendAll")
                continue
            }
            let end = deadline ?? ContinuousClock.now + timeout
            deadline = end
            let left = end - ContinuousClock.now
            guard left > .zero else {
                throw SocketTimeoutError(operation: describe("sendAll"), timeout: timeout)
            }
            try waitForWrite("sendAll", timeout: left, reportedTimeout: timeout)
        }
    }

    /// Sends some of `bytes` (any contiguous byte collection: `[UInt8]`, `ArraySlice<UInt8>`,
    /// `String.UTF8View`...). See ``send(_:flags:)-(UnsafeRawBufferPointer,_)``.
    @available(*, noasync, message: "send blocks the thread's greenlets; it is for greenlet code")
    @inlinable
    public func send<Bytes: Sequence<UInt8>>(_ bytes: Bytes, flags: MessageFlags = []) throws -> Int {
        if let sent = try bytes.withContiguousStorageIfAvailable({ try send(UnsafeRawBufferPointer($0), flags: flags) })
        {
            return sent
        }
        return try Array(bytes).withUnsafeBytes { try send($0, flags: flags) }
    }

    /// Sends all of `bytes` (any byte sequence: `[UInt8]`, `ArraySlice<UInt8>`, `String.UTF8View`...). See
    /// ``sendAll(_:flags:)-(UnsafeRawBufferPointer,_)``.
    @available(*, noasync, message: "sendAll blocks the thread's greenlets; it is for greenlet code")
    @inlinable
    public func sendAll<Bytes: Sequence<UInt8>>(_ bytes: Bytes, flags: MessageFlags = []) throws {
        if try bytes.withContiguousStorageIfAvailable({ try sendAll(UnsafeRawBufferPointer($0), flags: flags) }) != nil
        {
            return
        }
        try Array(bytes).withUnsafeBytes { try sendAll($0, flags: flags) }
    }

    /// Sends a datagram to `address` (`sendto(2)`), for unconnected datagram sockets.
    ///
    /// May switch greenlets (only when the send buffer is full). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the number of bytes sent.
    /// - Throws: ``SocketError`` (``Errno/messageTooLong`` for an oversized datagram, ...);
    ///   ``SocketTimeoutError``; what is thrown into the greenlet while it waits.
    @available(*, noasync, message: "sendTo blocks the thread's greenlets; it is for greenlet code")
    public func sendTo(
        _ bytes: UnsafeRawBufferPointer,
        address: SocketAddress,
        flags: MessageFlags = []
    ) throws
        -> Int
    {
        while true {
            if let sent = try sendToNow(bytes, address: address, flags: flags) {
                return sent
            }
            try waitForWrite("sendTo")
        }
    }

    /// One `sendto(2)`: the bytes sent, or `nil` when the send buffer is full. Never switches.
    func sendToNow(
        _ bytes: UnsafeRawBufferPointer,
        address: SocketAddress,
        flags: MessageFlags
    ) throws(SocketError)
        -> Int?
    {
        let allFlags = flags.rawValue | CInt(MSG_NOSIGNAL)
        return try address.withSockaddr { pointer, length throws(SocketError) in
            try systemCall("sendTo \(address)") {
                Glibc.sendto(fd, bytes.baseAddress, bytes.count, allFlags, pointer, length)
            }
        }
    }

    /// Sends a datagram to `address`; see ``sendTo(_:address:flags:)-(UnsafeRawBufferPointer,_,_)``.
    @available(*, noasync, message: "sendTo blocks the thread's greenlets; it is for greenlet code")
    @inlinable
    @discardableResult
    public func sendTo<Bytes: Sequence<UInt8>>(
        _ bytes: Bytes,
        address: SocketAddress,
        flags: MessageFlags = []
    )
        throws -> Int
    {
        if let sent = try bytes.withContiguousStorageIfAvailable({
            try sendTo(UnsafeRawBufferPointer($0), address: address, flags: flags)
        }) {
            return sent
        }
        return try Array(bytes).withUnsafeBytes { try sendTo($0, address: address, flags: flags) }
    }

    // MARK: - Receiving

    /// Receives up to `buffer.count` bytes into `buffer`, waiting until at least one byte (or the end of
    /// the stream) arrives.
    ///
    /// The allocation-free receive: one `recv(2)` when data is waiting. With ``MessageFlags/waitAll`` it
    /// keeps receiving until the buffer is full or the stream ends. May switch greenlets (only when no data
    /// is waiting). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the number of bytes received; 0 means the peer closed the connection (streams) or an empty
    ///   datagram.
    /// - Throws: ``SocketError`` (``Errno/connectionReset``, ...); ``SocketTimeoutError``;
    ///   ``ConcurrentObjectUseError`` when another greenlet is reading; what is thrown into the greenlet
    ///   while it waits.
    @available(*, noasync, message: "recv blocks the thread's greenlets; it is for greenlet code")
    public func recv(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags = []) throws -> Int {
        if flags.contains(.waitAll) {
            return try recvAll(into: buffer, flags: flags.subtracting(.waitAll))
        }
        if receiveProbablyDrained {
            receiveProbablyDrained = false
            if timeout != .zero && buffer.count > 0 {
                try waitForRead("recv")
            }
        }
        while true {
            if let received = try systemCall(
                describe("recv"),
                { Glibc.recv(fd, buffer.baseAddress, buffer.count, flags.rawValue) }
            ) {
                receiveProbablyDrained = received > 0 && received < buffer.count && type == .stream && flags.isEmpty
                return received
            }
            try waitForRead("recv")
        }
    }

    private func recvAll(into buffer: UnsafeMutableRawBufferPointer, flags: MessageFlags) throws -> Int {
        var filled = 0
        while filled < buffer.count {
            let received = try recv(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), flags: flags)
            if received == 0 { break }
            filled += received
        }
        return filled
    }

    /// Receives up to `maxBytes` bytes, waiting until at least one byte (or the end of the stream) arrives.
    ///
    /// May switch greenlets (only when no data is waiting). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the bytes; empty means the peer closed the connection (streams).
    /// - Throws: as ``recv(into:flags:)``.
    @available(*, noasync, message: "recv blocks the thread's greenlets; it is for greenlet code")
    public func recv(maxBytes: Int, flags: MessageFlags = []) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: max(maxBytes, 0)) { buffer, count in
            count = try recv(into: UnsafeMutableRawBufferPointer(buffer), flags: flags)
        }
    }

    /// Receives one datagram into `buffer` (`recvfrom(2)`), with its sender.
    ///
    /// A datagram longer than `buffer` is truncated (the rest is lost). May switch greenlets (only when
    /// nothing is waiting). Hub thread only; not from inside the hub.
    ///
    /// - Returns: the number of bytes stored and the sender's address.
    /// - Throws: as ``recv(into:flags:)``.
    @available(*, noasync, message: "recvFrom blocks the thread's greenlets; it is for greenlet code")
    public func recvFrom(
        into buffer: UnsafeMutableRawBufferPointer,
        flags: MessageFlags = []
    ) throws
        -> (count: Int, sender: SocketAddress)
    {
        while true {
            if let received = try recvFromNow(into: buffer, flags: flags) {
                return received
            }
            try waitForRead("recvFrom")
        }
    }

    /// One `recvfrom(2)`: a datagram and its sender, or `nil` when none is waiting. Never switches.
    func recvFromNow(
        into buffer: UnsafeMutableRawBufferPointer,
        flags: MessageFlags
    ) throws(SocketError)
        -> (count: Int, sender: SocketAddress)?
    {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let received = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SocketError) -> Int? in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SocketError) -> Int? in
                try systemCall(describe("recvFrom")) {
                    Glibc.recvfrom(fd, buffer.baseAddress, buffer.count, flags.rawValue, address, &length)
                }
            }
        }
        guard let received else { return nil }
        let sender = withUnsafePointer(to: &storage) { SocketAddress(UnsafeRawPointer($0), length: length) }
        return (received, sender ?? SocketAddress(storage: .unix(sockaddr_un(), 2)))
    }

    /// Receives one datagram of up to `maxBytes` bytes, with its sender. See
    /// ``recvFrom(into:flags:)``.
    @available(*, noasync, message: "recvFrom blocks the thread's greenlets; it is for greenlet code")
    public func recvFrom(maxBytes: Int, flags: MessageFlags = []) throws -> (bytes: [UInt8], sender: SocketAddress) {
        var sender: SocketAddress?
        let bytes = try [UInt8](unsafeUninitializedCapacity: max(maxBytes, 0)) { buffer, count in
            let result = try recvFrom(into: UnsafeMutableRawBufferPointer(buffer), flags: flags)
            count = result.count
            sender = result.sender
        }
        return (bytes, sender!)
    }

    /// A buffered reader over this socket, for lines and exact byte counts (gevent's `makefile('rb')`).
    ///
    /// While a reader is open, ``close()`` of the socket only marks it: the descriptor stays open until the
    /// reader is closed too (as in Python, where a file object keeps its socket alive). Never switches; hub
    /// thread only.
    public func makeReader(bufferSize: Int = 8192) -> SocketReader {
        readerCount += 1
        return SocketReader(socket: self, bufferSize: bufferSize)
    }

    func readerClosed() {
        readerCount -= 1
        if readerCount == 0 && closeRequested {
            closeNow()
        }
    }

    // MARK: - Ending

    /// What ``shutdown(_:)`` shuts down.
    public enum ShutdownDirection: Sendable {
        /// No more receiving (`SHUT_RD`).
        case read
        /// No more sending (`SHUT_WR`): the peer reads end of stream.
        case write
        /// Both (`SHUT_RDWR`).
        case both
    }

    /// Shuts down one or both directions of a connection (`shutdown(2)`); the descriptor stays open.
    ///
    /// Never switches; hub thread only.
    ///
    /// - Throws: ``SocketError`` (``Errno/notConnected``; ``Errno/badFileDescriptor`` on a closed socket).
    public func shutdown(_ direction: ShutdownDirection) throws {
        let how: CInt
        switch direction {
        case .read: how = CInt(SHUT_RD)
        case .write: how = CInt(SHUT_WR)
        case .both: how = CInt(SHUT_RDWR)
        }
        _ = try nonBlockingSystemCall(describe("shutdown")) { Glibc.shutdown(fd, how) }
    }

    /// Closes the socket. Harmless if already closed.
    ///
    /// Greenlets blocked on the socket are woken with a ``SocketError`` (``Errno/badFileDescriptor``, "File
    /// descriptor was closed in another greenlet"); the descriptor itself is released after they have been
    /// woken. If a ``SocketReader`` is still open, the descriptor is released when the last reader closes.
    /// Never switches; hub thread only.
    public func close() {
        guard fd >= 0 else { return }
        if readerCount > 0 {
            closeRequested = true
            return
        }
        closeNow()
    }

    private func closeNow() {
        let fd = self.fd
        guard fd >= 0 else { return }
        self.fd = -1
        hub.counters.openSockets -= 1
        let cancelledRead = readWatcher?.cancelWait() ?? false
        let cancelledWrite = writeWatcher?.cancelWait() ?? false
        if cancelledRead || cancelledWrite {
            // The woken greenlets run first (callbacks are FIFO); releasing the number only afterwards
            // means none of them can touch a descriptor the kernel has reused.
            hub.enqueue(.closure { Glibc.close(fd) })
        } else {
            Glibc.close(fd)
        }
    }

    /// Gives up ownership of the descriptor without closing it, and returns it; the socket is closed
    /// afterwards. Greenlets blocked on it are woken as by ``close()``. Never switches; hub thread only.
    public func detach() -> FileDescriptor {
        let fd = self.fd
        if fd >= 0 { hub.counters.openSockets -= 1 }
        self.fd = -1
        readWatcher?.cancelWait()
        writeWatcher?.cancelWait()
        return FileDescriptor(fd)
    }

    // MARK: - Waiting

    /// Waits until the socket is readable, on its own watcher (so ``close()`` wakes the waiter), within
    /// `timeout` (the socket's ``timeout`` when `nil`). For this package's protocol layers (GeventTLS waits
    /// here when OpenSSL wants to read). May switch greenlets; hub thread only.
    @inline(never)
    package func waitForRead(
        _ operation: StaticString,
        timeout: Duration? = nil,
        reportedTimeout: Duration? = nil
    ) throws {
        let watcher = try readWatcher ?? makeWatcher(events: gevent_EV_READ)
        readWatcher = watcher
        try wait(on: watcher, operation, timeout: timeout ?? self.timeout, reportedTimeout: reportedTimeout)
    }

    /// Waits until the socket is writable; see ``waitForRead(_:timeout:reportedTimeout:)``.
    @inline(never)
    package func waitForWrite(
        _ operation: StaticString,
        timeout: Duration? = nil,
        reportedTimeout: Duration? = nil
    ) throws {
        let watcher = try writeWatcher ?? makeWatcher(events: gevent_EV_WRITE)
        writeWatcher = watcher
        try wait(on: watcher, operation, timeout: timeout ?? self.timeout, reportedTimeout: reportedTimeout)
    }

    private func makeWatcher(events: CInt) throws -> IOWatcher {
        guard fd >= 0 else {
            throw SocketError(code: .badFileDescriptor, operation: "wait on a closed socket")
        }
        return IOWatcher(hub: hub, fd: fd, events: events)
    }

    private func wait(
        on watcher: IOWatcher,
        _ operation: StaticString,
        timeout: Duration?,
        reportedTimeout: Duration?
    )
        throws
    {
        guard fd >= 0 else {
            // Closed (or detached) since the watcher was made: it would watch a number that is not ours.
            throw SocketError(code: .badFileDescriptor, operation: describe(operation))
        }
        if let timeout, timeout <= .zero {
            throw SocketError(code: .wouldBlock, operation: describe(operation))
        }
        switch try watcher.wait(operation, subject: describe(operation), timeout: timeout) {
        case .ready:
            return
        case .timedOut:
            throw SocketTimeoutError(operation: describe(operation), timeout: reportedTimeout ?? timeout ?? .zero)
        case .closed:
            throw SocketError(
                code: .badFileDescriptor,
                operation: describe(operation),
                reason: SocketError.closedInAnotherGreenlet
            )
        }
    }

    // MARK: - Describing

    /// "recv from 127.0.0.1:80", "accept on 0.0.0.0:8080", "send on fd 7", "recv on a closed socket".
    package func describe(_ operation: StaticString) -> String {
        describe("\(operation)")
    }

    package func describe(_ operation: String) -> String {
        guard fd >= 0 else { return "\(operation) on a closed socket" }
        if let knownPeer {
            let preposition = operation.hasPrefix("recv") ? "from" : operation.hasPrefix("send") ? "to" : "with"
            return "\(operation) \(preposition) \(knownPeer)"
        }
        if let local = try? localAddress, local.port != 0 || local.path?.isEmpty == false {
            return "\(operation) on \(local)"
        }
        return "\(operation) on \(fileDescriptor)"
    }

    // MARK: - Helpers

    private static func integerOption(
        _ fd: CInt,
        _ level: CInt,
        _ name: CInt,
        _ operation: @autoclosure () -> String
    )
        throws(SocketError) -> CInt
    {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        _ = try nonBlockingSystemCall(operation()) { getsockopt(fd, level, name, &value, &length) }
        return value
    }

    private static func address(
        of fd: CInt,
        _ operation: @autoclosure () -> String,
        _ call: (CInt, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> CInt
    ) throws(SocketError) -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = try withUnsafeMutablePointer(to: &storage) { (pointer) throws(SocketError) -> CInt in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { (address) throws(SocketError) -> CInt in
                try nonBlockingSystemCall(operation()) { call(fd, address, &length) }
            }
        }
        let address = withUnsafePointer(to: &storage) { SocketAddress(UnsafeRawPointer($0), length: length) }
        guard let address else {
            throw SocketError(
                code: .addressFamilyNotSupported,
                operation: operation(),
                reason: "the address family is not supported"
            )
        }
        return address
    }
}

extension Socket: CustomStringConvertible {
    /// "<Socket fd 7 AF_INET SOCK_STREAM peer 127.0.0.1:80>", or "<Socket closed AF_INET SOCK_STREAM>".
    public var description: String {
        let state = fd >= 0 ? "fd \(fd)" : "closed"
        let peer = knownPeer.map { " peer \($0)" } ?? ""
        return "<Socket \(state) \(family) \(type)\(peer)>"
    }
}
