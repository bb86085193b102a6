import Gevent
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A TCP listener on 127.0.0.1 with a kernel-chosen port.
func makeListener(backlog: Int = 128, host: String = "127.0.0.1") throws -> (Socket, SocketAddress) {
    let family: AddressFamily = host.contains(":") ? .inet6 : .inet
    let listener = try Socket(family: family, type: .stream)
    try listener.setOption(.reuseAddress, to: true)
    try listener.bind(to: SocketAddress(ip: host, port: 0))
    try listener.listen(backlog: backlog)
    return (listener, try listener.localAddress)
}

/// A connected TCP pair over loopback (the kernel completes the handshake before accept).
func makeConnectedPair() throws -> (client: Socket, server: Socket) {
    let (listener, address) = try makeListener()
    defer { listener.close() }
    let client = try Socket(family: .inet, type: .stream)
    try client.connect(to: address)
    let (server, _) = try listener.accept()
    return (client, server)
}

/// A port on 127.0.0.1 nothing listens on (bound and released, so the kernel just handed it out).
func unusedPort() throws -> Int {
    let probe = try Socket(family: .inet, type: .stream)
    try probe.bind(to: SocketAddress("127.0.0.1:0"))
    let port = try probe.localAddress.port!
    probe.close()
    return port
}

/// `count` bytes of a repeating, position-dependent pattern, so reordering or loss shows.
func patternBytes(_ count: Int, seed: Int = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ ($0 >> 8) &+ seed) }
}

/// Reads until the peer closes.
func readAll(_ socket: Socket) throws -> [UInt8] {
    var result: [UInt8] = []
    while true {
        let chunk = try socket.recv(maxBytes: 65536)
        if chunk.isEmpty { return result }
        result += chunk
    }
}

/// Counts the open descriptors of this process.
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while readdir(directory) != nil { count += 1 }
    return count - 3  // ".", ".." and the directory's own descriptor
}

/// The open descriptors of this process with what they point at ("5 -> socket:[1234]"), for messages.
func openDescriptorList() -> [String] {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    var entries: [String] = []
    while let entry = readdir(directory) {
        let name = direntName(entry)
        guard name != ".", name != ".." else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        entries.append("\(name) -> \(length > 0 ? text(target) : "?")")
    }
    return entries.sorted()
}

/// A child process started with `posix_spawnp`, killed and reaped by ``stop()``.
final class ChildProcess {
    let pid: pid_t
    private var reaped = false
    /// The exit code once reaped (128 + the signal for a killed process); `nil` while running.
    private(set) var exitCode: CInt?

    /// Starts `arguments[0]` (looked up in PATH) with stdout and stderr sent to `logPath`.
    init(_ arguments: [String], logPath: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // Test threads (Swift concurrency's workers) block most signals, and a spawned child inherits the
        // mask: unblock everything and restore default dispositions, or SIGTERM would never reach it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        var defaultSet = sigset_t()
        sigemptyset(&defaultSet)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] {
            sigaddset(&defaultSet, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaultSet)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid = pid_t()
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes, &argv, environ)
        guard status == 0 else {
            throw TestFailure("could not start \(arguments[0]): \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    /// `true` while the process has not exited.
    var isRunning: Bool {
        guard !reaped else { return false }
        var status: CInt = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            reap(status)
            return false
        }
        return true
    }

    /// Blocks the thread until the process exits; its exit code.
    func waitForExit() -> CInt {
        if !reaped {
            var status: CInt = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            reap(status)
        }
        return exitCode ?? -1
    }

    private func reap(_ status: CInt) {
        reaped = true
        exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// SIGTERM, then SIGKILL if the process has not exited within 2 s: a test never hangs on a child.
    func stop() {
        guard !reaped else { return }
        kill(pid, SIGTERM)
        var status: CInt = 0
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid {
                reaped = true
                return
            }
            usleep(10000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        reaped = true
    }

    deinit {
        stop()
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) {
        self.description = description
    }
}

/// Looks `name` up in PATH (and /usr/sbin, where Debian puts dnsmasq).
func findExecutable(_ name: String) -> String? {
    let path = (getenv("PATH").map { String(cString: $0) } ?? "") + ":/usr/sbin:/sbin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// A real DNS server for the resolver tests: dnsmasq on 127.0.0.1 on a free high port, answering from a
/// generated hosts file of a few thousand names under `gevent.test` (and NXDOMAIN for the rest of that
/// domain), with no upstream servers, so nothing leaves the machine.
final class DNSMasq {
    /// name → IPv4 addresses, as served.
    let ipv4: [String: [String]]
    /// name → IPv6 addresses, as served.
    let ipv6: [String: [String]]
    let port: Int
    let directory: String
    private let process: ChildProcess

    static let domain = "gevent.test"

    init(names: Int = 3000) throws {
        guard let dnsmasq = findExecutable("dnsmasq") else {
            throw TestFailure(
                "dnsmasq is not installed; the DNS tests run a real server: apt-get install -y dnsmasq"
            )
        }
        var template = Array("/tmp/gevent-dns-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TestFailure("mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        var ipv4: [String: [String]] = [:]
        var ipv6: [String: [String]] = [:]
        var lines: [String] = []
        for index in 0..<names {
            let name = "host-\(index).\(DNSMasq.domain)"
            let address = "10.\((index >> 8) & 255).\(index & 255).\(1 + index % 250)"
            ipv4[name] = [address]
            lines.append("\(address) \(name)")
        }
        for index in 0..<20 {
            let name = "dual-\(index).\(DNSMasq.domain)"
            let v4 = "10.200.0.\(index + 1)"
            let v6 = "fd00::\(String(index + 1, radix: 16))"
            ipv4[name] = [v4]
            ipv6[name] = [v6]
            lines.append("\(v4) \(name)")
            lines.append("\(v6) \(name)")
        }
        ipv4["multi.\(DNSMasq.domain)"] = ["10.201.0.1", "10.201.0.2", "10.201.0.3"]
        for address in ipv4["multi.\(DNSMasq.domain)"]! {
            lines.append("\(address) multi.\(DNSMasq.domain)")
        }
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        let hostsPath = "\(directory)/hosts"
        let text = lines.joined(separator: "\n") + "\n"
        guard let file = fopen(hostsPath, "w") else {
            throw TestFailure("cannot write \(hostsPath)")
        }
        fputs(text, file)
        fclose(file)
        chmod(directory, 0o755)
        chmod(hostsPath, 0o644)

        var lastError = ""
        for _ in 0..<5 {
            let port = try DNSMasq.freeUDPPort()
            let process = try ChildProcess(
                [
                    dnsmasq, "--no-daemon", "--port=\(port)", "--listen-address=127.0.0.1", "--bind-interfaces",
                    "--no-resolv", "--no-hosts", "--addn-hosts=\(hostsPath)", "--local=/\(DNSMasq.domain)/",
                    "--pid-file=\(directory)/dnsmasq.pid", "--cache-size=10000", "--user=root",
                ],
                logPath: "\(directory)/dnsmasq.log"
            )
            if DNSMasq.waitUntilAnswering(port: port, process: process) {
                self.port = port
                self.process = process
                return
            }
            process.stop()
            lastError = DNSMasq.readFile("\(directory)/dnsmasq.log")
        }
        throw TestFailure("dnsmasq did not start on 127.0.0.1; its log: \(lastError)")
    }

    /// "127.0.0.1:PORT", for AresResolver's server list.
    var server: String { "127.0.0.1:\(port)" }

    func stop() {
        process.stop()
        unlink("\(directory)/hosts")
        unlink("\(directory)/dnsmasq.log")
        unlink("\(directory)/dnsmasq.pid")
        rmdir(directory)
    }

    deinit {
        stop()
    }

    private static func freeUDPPort() throws -> Int {
        let fd = socket(AF_INET, CInt(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw TestFailure("no free UDP port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Polls the TCP side of the server (dnsmasq listens on both) for up to 5 s.
    private static func waitUntilAnswering(port: Int, process: ChildProcess) -> Bool {
        for _ in 0..<250 {
            guard process.isRunning else { return false }
            let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            close(fd)
            if connected { return true }
            usleep(20000)
        }
        return false
    }

    private static func readFile(_ path: String) -> String {
        readTextFile(path) ?? "(no log)"
    }
}

/// The contents of a text file; `nil` if it cannot be opened.
func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var text = ""
    var buffer = [CChar](repeating: 0, count: 1024)
    while fgets(&buffer, CInt(buffer.count), file) != nil {
        text += GeventTests.text(buffer)
    }
    return text
}

/// The text of a NUL-terminated C buffer.
func text(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// The names of /etc/hosts with the address families listed for each: libc answers these (in those
/// families, or unspecified) from the file, without asking a name server.
func hostsFileEntries() -> [String: Set<AddressFamily>] {
    guard let file = fopen("/etc/hosts", "r") else { return [:] }
    defer { fclose(file) }
    var entries: [String: Set<AddressFamily>] = [:]
    var buffer = [CChar](repeating: 0, count: 1024)
    while fgets(&buffer, CInt(buffer.count), file) != nil {
        let line = text(buffer).split(separator: "#", omittingEmptySubsequences: false).first ?? ""
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard let address = fields.first else { continue }
        let family: AddressFamily = address.contains(":") ? .inet6 : .inet
        for name in fields.dropFirst() {
            entries[String(name), default: []].insert(family)
        }
    }
    return entries
}

// MARK: - Exit-test scenarios

/// Expects the exit test's child to have reported "scenario passed" on stderr; a failure's message
/// ("scenario failed: ...") becomes the issue. Children always exit 0, because Swift Testing hands back
/// the child's output only for an exit test whose status was as expected.
func expectScenarioPassed(_ result: ExitTest.Result?) {
    guard let result else { return }
    let output = String(decoding: result.standardErrorContent, as: UTF8.self)
    var exitedCleanly = false
    if case .exitCode(0) = result.exitStatus { exitedCleanly = true }
    // Both, so that a child that passed but failed at exit (a sanitizer's report) shows what it printed.
    #expect(output.contains("scenario passed") && exitedCleanly, "child stderr: \(output)")
}

/// Ends the child process with `message` on stderr unless `condition` holds (for exit tests).
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition {
        let text = "scenario failed: \(message())\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
        exit(0)
    }
}

func scenarioPassed() -> Never {
    _ = "scenario passed\n".withCString { write(2, $0, strlen($0)) }
    exit(0)
}

/// The name of a directory entry, read in place: glibc sizes the last entry of its buffer by the name's
/// length, so copying a whole `dirent` (as `entry.pointee.d_name` does) can read past the allocation.
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}
