#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The address of a socket endpoint: IPv4 or IPv6 with a port, or a Unix-domain path.
///
/// ```swift
/// let a = try SocketAddress("127.0.0.1:8080")
/// let b = try SocketAddress("[::1]:8080")
/// let c = try SocketAddress("/run/app.sock")      // "@name" is Linux's abstract namespace
/// ```
///
/// Parsing takes numeric addresses only: names are resolved with ``getaddrinfo(host:port:family:type:protocol:flags:)``
/// (or ``createConnection(host:port:timeout:sourceAddress:allErrors:)``), which may switch greenlets; building an
/// address never does. `description` gives the same text back ("[::1]:8080"). A value type, safe to pass
/// between threads.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    enum Storage {
        case inet(sockaddr_in)
        case inet6(sockaddr_in6)
        case unix(sockaddr_un, socklen_t)
    }

    var storage: Storage

    init(storage: Storage) {
        self.storage = storage
    }

    /// A text that is not a numeric socket address.
    public struct ParseError: Error, CustomStringConvertible, Sendable {
        /// The text that was given.
        public let text: String
        /// What is wrong with it and what to write instead.
        public let reason: String

        /// "cannot parse "x" as a socket address: reason".
        public var description: String {
            "cannot parse \"\(text)\" as a socket address: \(reason)"
        }
    }

    // MARK: - Creating

    /// Parses "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80", a Unix path ("/run/app.sock", "./app.sock")
    /// or an abstract Unix name ("@app").
    ///
    /// Never switches; any thread.
    ///
    /// - Throws: ``ParseError`` saying what is wrong: a host name instead of a number (resolve it with
    ///   ``getaddrinfo(host:port:family:type:protocol:flags:)``), an IPv6 address without brackets, a missing or invalid port,
    ///   a path that is too long.
    public init(_ text: String) throws(ParseError) {
        if text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../") || text.hasPrefix("@") {
            self = try SocketAddress(unixPath: text)
            return
        }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(text: text, reason: "an IPv6 address opened with '[' needs a closing ']'")
            }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()) else {
                throw ParseError(text: text, reason: "expected a port after the address, as in \"[::1]:8080\"")
            }
            self = try SocketAddress(ipv6: host, port: port, originalText: text)
            return
        }
        guard let colon = text.lastIndex(of: ":") else {
            throw ParseError(text: text, reason: "expected \"host:port\", \"[ipv6]:port\" or a Unix path")
        }
        let host = String(text[..<colon])
        if host.contains(":") {
            throw ParseError(text: text, reason: "put IPv6 addresses in brackets, as in \"[::1]:8080\"")
        }
        guard let port = Int(text[text.index(after: colon)...]) else {
            throw ParseError(text: text, reason: "the port after ':' is not a number")
        }
        self = try SocketAddress(ipv4: host, port: port, originalText: text)
    }

    /// An IPv4 address from its dotted-quad text and a port. Never switches; any thread.
    ///
    /// - Throws: ``ParseError`` for text that is not a dotted quad or a port outside 0...65535.
    public init(ipv4 host: String, port: Int) throws(ParseError) {
        try self.init(ipv4: host, port: port, originalText: "\(host):\(port)")
    }

    /// An IPv6 address from its text (scope as "%eth0" or "%2" allowed) and a port. Never switches; any
    /// thread.
    ///
    /// - Throws: ``ParseError`` for text that is not an IPv6 address, an unknown scope, or a port outside
    ///   0...65535.
    public init(ipv6 host: String, port: Int) throws(ParseError) {
        try self.init(ipv6: host, port: port, originalText: "[\(host)]:\(port)")
    }

    /// An IPv4 or IPv6 address from numeric text and a port. Never switches; any thread.
    ///
    /// - Throws: ``ParseError`` for text that is neither, or a port outside 0...65535.
    public init(ip host: String, port: Int) throws(ParseError) {
        if host.contains(":") {
            try self.init(ipv6: host, port: port)
        } else {
            try self.init(ipv4: host, port: port)
        }
    }

    /// A Unix-domain address: a file-system path, or "@name" for Linux's abstract namespace. Never
    /// switches; any thread.
    ///
    /// - Throws: ``ParseError`` for an empty path or one longer than `sun_path` (107 bytes).
    public init(unixPath path: String) throws(ParseError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        let abstract = bytes.first == UInt8(ascii: "@")
        if abstract {
            bytes[0] = 0
        }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty else {
            throw ParseError(text: path, reason: "a Unix socket path must not be empty")
        }
        // A path needs room for its terminating NUL; an abstract name does not have one.
        guard bytes.count < capacity || (abstract && bytes.count <= capacity) else {
            throw ParseError(
                text: path,
                reason: "Unix socket paths are limited to \(capacity - 1) bytes; use a shorter path"
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let length = socklen_t(pathOffset + bytes.count + (abstract ? 0 : 1))
        storage = .unix(address, length)
    }

    private init(ipv4 host: String, port: Int, originalText: String) throws(ParseError) {
        guard (0...65535).contains(port) else {
            throw ParseError(text: originalText, reason: "the port must be in 0...65535")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw ParseError(text: originalText, reason: Self.notNumericReason(host))
        }
        storage = .inet(address)
    }

    private init(ipv6 text: String, port: Int, originalText: String) throws(ParseError) {
        guard (0...65535).contains(port) else {
            throw ParseError(text: originalText, reason: "the port must be in 0...65535")
        }
        var host = text
        var scope: UInt32 = 0
        if let percent = text.firstIndex(of: "%") {
            host = String(text[..<percent])
            let name = String(text[text.index(after: percent)...])
            if let number = UInt32(name) {
                scope = number
            } else {
                scope = if_nametoindex(name)
                guard scope != 0 else {
                    throw ParseError(text: originalText, reason: "no network interface is named \"\(name)\"")
                }
            }
        }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        address.sin6_scope_id = scope
        guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
            throw ParseError(text: originalText, reason: "\"\(host)\" is not an IPv6 address")
        }
        storage = .inet6(address)
    }

    private static func notNumericReason(_ host: String) -> String {
        "\"\(host)\" is not a numeric IPv4 address; resolve host names with getaddrinfo(host:port:family:type:) "
            + "or connect with createConnection(host:port:timeout:sourceAddress:)"
    }

    /// Copies an address the kernel filled in; `nil` for families this package does not handle.
    init?(_ pointer: UnsafeRawPointer, length: socklen_t) {
        let family = CInt(pointer.load(as: sockaddr.self).sa_family)
        switch family {
        case AF_INET where length >= MemoryLayout<sockaddr_in>.size:
            storage = .inet(pointer.loadUnaligned(as: sockaddr_in.self))
        case AF_INET6 where length >= MemoryLayout<sockaddr_in6>.size:
            storage = .inet6(pointer.loadUnaligned(as: sockaddr_in6.self))
        case AF_UNIX:
            var address = sockaddr_un()
            let count = min(Int(length), MemoryLayout<sockaddr_un>.size)
            withUnsafeMutableBytes(of: &address) { raw in
                raw.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: count))
            }
            storage = .unix(address, socklen_t(count))
        default:
            return nil
        }
    }

    /// Calls `body` with a pointer to the C address and its length. Never switches; any thread.
    func withSockaddr<R, E: Error>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(E) -> R) throws(E) -> R {
        switch storage {
        case .inet(var address):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try body(
                    UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self),
                    socklen_t(MemoryLayout<sockaddr_in>.size)
                )
            }
        case .inet6(var address):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try body(
                    UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self),
                    socklen_t(MemoryLayout<sockaddr_in6>.size)
                )
            }
        case .unix(var address, let length):
            return try withUnsafePointer(to: &address) { (pointer) throws(E) -> R in
                try body(UnsafeRawPointer(pointer).assumingMemoryBound(to: sockaddr.self), length)
            }
        }
    }

    // MARK: - Reading

    /// The address family: ``AddressFamily/inet``, ``AddressFamily/inet6`` or ``AddressFamily/unix``.
    public var family: AddressFamily {
        switch storage {
        case .inet: return .inet
        case .inet6: return .inet6
        case .unix: return .unix
        }
    }

    /// The numeric host ("127.0.0.1", "::1", with "%scope" when set); `nil` for Unix addresses.
    public var host: String? {
        switch storage {
        case .inet(var address):
            return Self.numericText(AF_INET, &address.sin_addr, capacity: Int(INET_ADDRSTRLEN))
        case .inet6(var address):
            let text = Self.numericText(AF_INET6, &address.sin6_addr, capacity: Int(INET6_ADDRSTRLEN))
            return address.sin6_scope_id == 0 ? text : "\(text)%\(address.sin6_scope_id)"
        case .unix:
            return nil
        }
    }

    /// The port; `nil` for Unix addresses.
    public var port: Int? {
        switch storage {
        case .inet(let address): return Int(UInt16(bigEndian: address.sin_port))
        case .inet6(let address): return Int(UInt16(bigEndian: address.sin6_port))
        case .unix: return nil
        }
    }

    /// The Unix path ("@name" for an abstract name, "" for an unnamed socket); `nil` for IP addresses.
    public var path: String? {
        guard case .unix(var address, let length) = storage else { return nil }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        let count = max(Int(length) - pathOffset, 0)
        return withUnsafeBytes(of: &address.sun_path) { raw in
            let bytes = Array(raw.prefix(count))
            if bytes.first == 0 {
                return "@" + String(decoding: bytes.dropFirst(), as: UTF8.self)
            }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// "127.0.0.1:80", "[::1]:80", "/run/app.sock", "@name", or "(unnamed)" for an unbound Unix socket.
    public var description: String {
        switch storage {
        case .inet: return "\(host!):\(port!)"
        case .inet6: return "[\(host!)]:\(port!)"
        case .unix:
            let path = path!
            return path.isEmpty ? "(unnamed)" : path
        }
    }

    private static func numericText(_ family: CInt, _ address: UnsafeRawPointer, capacity: Int) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: capacity) { buffer in
            guard inet_ntop(family, address, buffer.baseAddress, socklen_t(capacity)) != nil else { return "?" }
            return String(cString: buffer.baseAddress!)
        }
    }

    // MARK: - Hashable

    /// Compares the addresses byte for byte (family, address, port, scope; path for Unix).
    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.withSockaddr { left, leftLength in
            rhs.withSockaddr { right, rightLength in
                leftLength == rightLength && memcmp(left, right, Int(leftLength)) == 0
            }
        }
    }

    /// Hashes the address bytes.
    public func hash(into hasher: inout Hasher) {
        withSockaddr { pointer, length in
            hasher.combine(bytes: UnsafeRawBufferPointer(start: pointer, count: Int(length)))
        }
    }
}
