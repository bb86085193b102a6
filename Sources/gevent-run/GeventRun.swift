import ArgumentParser

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// `gevent-run [--patch LIST] [--resolver thread|ares|block] [--stack-size N] [--print-env] -- PROGRAM ARGS…`
///
/// Finds libGeventPreload.so (next to this executable, or GEVENT_PRELOAD_PATH), sets LD_PRELOAD and the
/// GEVENT_* variables, and replaces itself with PROGRAM. Every child PROGRAM starts inherits them.
@main
struct GeventRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gevent-run",
        abstract: "Run a program with the swift-gevent shim preloaded, so its blocking libc calls can cooperate.",
        discussion: """
            Put the program after --. The shim makes calls cooperative only in threads that run a hub: a \
            program that never uses greenlets (through gevent.h or Swift) behaves exactly as without it. \
            Statically linked programs cannot be interposed on. libGeventPreload.so is looked up next to \
            gevent-run, or at GEVENT_PRELOAD_PATH.
            """
    )

    enum Resolver: String, ExpressibleByArgument, CaseIterable {
        case thread
        case ares
        case block
    }

    @Option(help: "Areas to patch: all, none, or a comma-separated list of socket, dns, time, select.")
    var patch = "all"

    @Option(help: "How DNS lookups run: thread (native threads, default), ares, or block.")
    var resolver: Resolver?

    @Option(help: "Greenlet stack size in bytes, or with a K/M suffix (for example 512K).")
    var stackSize: String?

    @Flag(help: "Print the environment gevent-run would set, and exit.")
    var printEnv = false

    @Argument(parsing: .remaining, help: "The program to run and its arguments (after --).")
    var command: [String] = []

    func validate() throws {
        let known = ["all", "none", "socket", "dns", "time", "select", "thread"]
        for name in patch.split(separator: ",").map({ $0.trimmingSpaces().lowercased() }) where !known.contains(name) {
            throw ValidationError("unknown area '\(name)' in --patch; use all, none, or socket, dns, time, select")
        }
        if let stackSize, parseSize(stackSize) == nil {
            throw ValidationError("--stack-size \(stackSize) is not a size: give bytes or a K/M suffix (512K, 1M)")
        }
        if !printEnv && program.isEmpty {
            throw ValidationError("missing PROGRAM: gevent-run [options] -- PROGRAM [ARGS...]")
        }
    }

    /// The program and its arguments, without a leading `--`.
    var program: [String] {
        command.first == "--" ? Array(command.dropFirst()) : command
    }

    func run() throws {
        let library = try findLibrary()
        var settings: [(String, String)] = []
        var preload = library
        if let existing = getenv("LD_PRELOAD"), existing.pointee != 0 {
            preload += " " + String(cString: existing)
        }
        settings.append(("LD_PRELOAD", preload))
        settings.append(("GEVENT_PATCH", patch))
        if let resolver {
            settings.append(("GEVENT_RESOLVER", resolver.rawValue))
            if resolver == .ares && !printEnv {
                warn("gevent-run: note: the shim does not drive c-ares yet; lookups run on native threads instead")
            }
        }
        if let stackSize {
            settings.append(("GEVENT_STACK_SIZE", stackSize))
        }
        if printEnv {
            for (name, value) in settings {
                print("\(name)=\(value)")
            }
            return
        }
        let path = try resolve(program[0])
        try checkInterposable(path)
        for (name, value) in settings {
            setenv(name, value, 1)
        }
        var arguments: [UnsafeMutablePointer<CChar>?] = program.map { strdup($0) }
        arguments.append(nil)
        execv(path, &arguments)
        throw RunError("cannot run \(path): \(String(cString: strerror(errno)))")
    }

    /// GEVENT_PRELOAD_PATH, else libGeventPreload.so in the directory of this executable.
    private func findLibrary() throws -> String {
        if let given = getenv("GEVENT_PRELOAD_PATH"), given.pointee != 0 {
            let path = String(cString: given)
            guard access(path, R_OK) == 0 else {
                throw RunError("GEVENT_PRELOAD_PATH=\(path): no readable file there")
            }
            return absolute(path)
        }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            let executable = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let directory = executable[..<(executable.lastIndex(of: "/") ?? executable.startIndex)]
            let candidate = String(directory) + "/libGeventPreload.so"
            if access(candidate, R_OK) == 0 {
                return candidate
            }
            throw RunError(
                "libGeventPreload.so is not next to gevent-run (\(candidate)); build both with "
                    + "scripts/build-preload.sh, or set GEVENT_PRELOAD_PATH to the library"
            )
        }
        throw RunError("cannot find libGeventPreload.so: set GEVENT_PRELOAD_PATH to the library")
    }

    /// The program's path: as given when it contains a slash, else the first executable match in PATH.
    private func resolve(_ name: String) throws -> String {
        if name.contains("/") {
            guard access(name, X_OK) == 0 else {
                throw RunError("\(name): \(String(cString: strerror(errno)))")
            }
            return name
        }
        let search = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in search.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw RunError("\(name): command not found in PATH")
    }

    /// Refuses statically linked ELF programs (no dynamic loader, so nothing reads LD_PRELOAD) and warns
    /// about set-user-ID programs (the loader ignores LD_PRELOAD for them). Scripts pass: their
    /// interpreter is what gets preloaded.
    private func checkInterposable(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RunError("\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && info.st_mode & (S_ISUID | S_ISGID) != 0 {
            warn(
                "gevent-run: warning: \(path) is set-user-ID or set-group-ID: the loader ignores LD_PRELOAD for it"
            )
        }
        guard let header = readBytes(fd, offset: 0, count: 64), header.count == 64, header[0] == 0x7f,
            header[1] == UInt8(ascii: "E"), header[2] == UInt8(ascii: "L"), header[3] == UInt8(ascii: "F")
        else { return }
        let is64 = header[4] == 2
        let little = header[5] == 1
        func field(_ offset: Int, _ size: Int) -> Int {
            var value = 0
            for i in 0..<size {
                let byte = Int(header[offset + (little ? i : size - 1 - i)])
                value |= byte << (8 * i)
            }
            return value
        }
        let programHeaders = is64 ? field(32, 8) : field(28, 4)
        let entrySize = is64 ? field(54, 2) : field(42, 2)
        let count = is64 ? field(56, 2) : field(44, 2)
        guard let table = readBytes(fd, offset: programHeaders, count: entrySize * count) else { return }
        for index in 0..<count {
            let start = index * entrySize
            let type =
                Int(table[start]) | Int(table[start + 1]) << 8 | Int(table[start + 2]) << 16
                | Int(table[start + 3]) << 24
            if type == 3 {  // PT_INTERP: a dynamic loader will run, and read LD_PRELOAD
                return
            }
        }
        throw RunError(
            "\(path) is statically linked: it has no dynamic loader, so LD_PRELOAD cannot interpose on its libc "
                + "calls and gevent-run cannot make it cooperative (rebuild it dynamically linked)"
        )
    }

    private func readBytes(_ fd: Int32, offset: Int, count: Int) -> [UInt8]? {
        guard count > 0, count < 1 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        let n = pread(fd, &bytes, count, off_t(offset))
        return n == count ? bytes : nil
    }

    private func absolute(_ path: String) -> String {
        guard !path.hasPrefix("/"), let directory = getcwd(nil, 0) else { return path }
        defer { free(directory) }
        return String(cString: directory) + "/" + path
    }
}

/// A failure with its whole message; ArgumentParser prints it as "Error: message" and exits with 1.
struct RunError: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) {
        description = message
    }
}

/// Writes a line to stderr.
func warn(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in
        _ = write(2, bytes.baseAddress, bytes.count)
    }
}

/// Parses "262144", "256K", "1M" (GeventConfig accepts the same forms).
func parseSize(_ text: String) -> Int? {
    var digits = Substring(text)
    var multiplier = 1
    if let last = digits.last, "kKmM".contains(last) {
        multiplier = last == "k" || last == "K" ? 1024 : 1_048_576
        digits = digits.dropLast()
    }
    guard let value = Int(digits), value > 0 else { return nil }
    return value * multiplier
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
