import ArgumentParser
import GeventSettings

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// `gevent-run [--patch LIST] [--resolver thread|ares|block] [--stack-size N] [--print-env] -- PROGRAM ARGS…`
///
/// Finds libGeventPreload.so (next to this executable, or GEVENT_PRELOAD_PATH), sets LD_PRELOAD and the
/// GEVENT_* variables of its options, and replaces itself with PROGRAM. Every child PROGRAM starts
/// inherits them. The options are checked with the library's own parsers (GeventSettings), so a value
/// gevent-run accepts is one the library reads the same way.
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

            SETTINGS (environment variables; INSTALL.md has the same table):

            """ + Setting.helpText()
    )

    // Unconditional: a list may start with a removal (`--patch -dns`), which is not an option.
    @Option(parsing: .unconditional, help: "Areas to patch (GEVENT_PATCH): \(MonkeyArea.listForms).")
    var patch = "all"

    @Option(
        help:
            "How DNS lookups run (GEVENT_SWIFT_RESOLVER): \(SettingParser.namesList(ResolverKind.self)); default thread."
    )
    var resolver: ResolverKind?

    @Option(help: "Greenlet stack size (GEVENT_STACK_SIZE): \(Setting.stackSize.values).")
    var stackSize: String?

    @Flag(help: "Print the environment gevent-run would set, and exit.")
    var printEnv = false

    @Argument(parsing: .remaining, help: "The program to run and its arguments (after --).")
    var command: [String] = []

    func validate() throws {
        if let name = MonkeyArea.parseList(patch).unknown.first {
            throw ValidationError(MonkeyArea.unknownAreaMessage(name, in: "--patch"))
        }
        if let stackSize {
            do {
                _ = try SettingParser.size(stackSize, atLeast: Setting.minimumStackSize, for: "--stack-size")
            } catch {
                throw ValidationError(error.description)
            }
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
        let library = try preloadablePath(try findLibrary())
        var settings: [(String, String)] = []
        var preload = library
        if let existing = getenv("LD_PRELOAD"), existing.pointee != 0 {
            preload += " " + String(cString: existing)
        }
        settings.append(("LD_PRELOAD", preload))
        settings.append((Setting.patch.variable, patch))
        if let resolver {
            // Not GEVENT_RESOLVER: Python gevent reads that one too, and would switch resolvers with ours.
            settings.append((Setting.swiftResolver.variable, resolver.rawValue))
        }
        if let stackSize {
            settings.append((Setting.stackSize.variable, stackSize))
        }
        if printEnv {
            for (name, value) in settings {
                print("\(name)=\(value)")
            }
            return
        }
        for (name, value) in settings {
            setenv(name, value, 1)
        }
        // The program and its arguments as the bytes this process received: ArgumentParser works on
        // Strings, which would rewrite bytes that are not UTF-8. `command` holds everything from the
        // program on, so the last program.count entries of argv are the program's.
        let arguments = CommandLine.unsafeArgv
        let first = Int(CommandLine.argc) - program.count
        let programArguments = (first..<Int(CommandLine.argc)).map { arguments[$0] }
        let error = try execute(programArguments)
        let name = programArguments[0]!
        let reason =
            error == ENOENT && strchr(name, Int32(UInt8(ascii: "/"))) == nil
            ? "command not found" : String(cString: strerror(error))
        warn(bytes: Array("gevent-run: ".utf8) + bytes(of: name) + Array(": \(reason)".utf8))
        // What a shell and env(1) exit with: 127 when nothing was found, 126 when it could not be run.
        exitProcess(error == ENOENT ? 127 : 126)
    }

    /// Replaces this process with the program the way execvp(3) finds and starts it: a name without a slash
    /// is looked for in PATH (default /bin:/usr/bin), skipping entries that cannot be executed
    /// (directories, files without permission) as execvp does; a file the kernel cannot execute (a script
    /// without `#!`) is run by /bin/sh. Statically linked programs are refused first. Returns only on
    /// failure, with the errno execvp would have left.
    private func execute(_ arguments: [UnsafeMutablePointer<CChar>?]) throws -> Int32 {
        let name = arguments[0]!
        if strchr(name, Int32(UInt8(ascii: "/"))) != nil {
            return try attempt(bytes(of: name), arguments)
        }
        guard name.pointee != 0 else { return ENOENT }
        let search = getenv("PATH").map { bytes(of: $0) } ?? Array("/bin:/usr/bin".utf8)
        var deniedSomewhere = false
        for directory in search.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false) {
            // An empty entry is the current directory.
            let candidate =
                directory.isEmpty ? bytes(of: name) : Array(directory) + [UInt8(ascii: "/")] + bytes(of: name)
            let error = try attempt(candidate, arguments)
            switch error {
            case EACCES:
                deniedSomewhere = true
            case ENOENT, ESTALE, ENOTDIR, ENODEV, ETIMEDOUT:
                continue
            default:
                return error
            }
        }
        return deniedSomewhere ? EACCES : ENOENT
    }

    /// One execv of `path`, with /bin/sh for what the kernel does not recognize (execvp's ENOEXEC rule).
    private func attempt(_ path: [UInt8], _ arguments: [UnsafeMutablePointer<CChar>?]) throws -> Int32 {
        let cPath = path.map { CChar(bitPattern: $0) } + [0]
        var info = stat()
        if stat(cPath, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(cPath, X_OK) == 0 {
            try checkInterposable(cPath)
        }
        var argv = arguments + [nil]
        execv(cPath, &argv)
        let error = errno
        guard error == ENOEXEC else { return error }
        return cPath.withUnsafeBufferPointer { pathBuffer in
            var shell: [UnsafeMutablePointer<CChar>?] =
                [strdup("/bin/sh"), UnsafeMutablePointer(mutating: pathBuffer.baseAddress!)]
                + arguments.dropFirst() + [nil]
            execv("/bin/sh", &shell)
            return errno
        }
    }

    /// GEVENT_PRELOAD_PATH, else libGeventPreload.so in the directory of this executable.
    private func findLibrary() throws -> String {
        if let path = Setting.preloadPath.environmentValue() {
            guard access(path, R_OK) == 0 else {
                throw RunError("\(Setting.preloadPath.variable)=\(path): no readable file there")
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

    /// `library` as LD_PRELOAD can carry it. The loader splits that list at spaces and colons, with no
    /// escape, so a path containing either is replaced by a symbolic link to it in a directory only this
    /// user can write to (/tmp/gevent-run-UID), named after the path so that every install gets its own
    /// and later runs reuse it.
    private func preloadablePath(_ library: String) throws -> String {
        guard library.contains(where: { $0 == " " || $0 == ":" }) else { return library }
        let user = getuid()
        let directory = "/tmp/gevent-run-\(user)"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw RunError("cannot make \(directory) for a link to \(library): \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == user,
            info.st_mode & 0o022 == 0
        else {
            throw RunError(
                "\(directory) is not a directory of this user that only it can write to; remove it, or install "
                    + "gevent-run and libGeventPreload.so in a directory without spaces or colons"
            )
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for byte in library.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let link = directory + "/libGeventPreload-" + String(hash, radix: 16) + ".so"
        var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink(link, &target, target.count - 1)
        if length >= 0 && String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) == library {
            return link
        }
        // Made under a name of its own and renamed into place, so a concurrent run never sees a partial link.
        let temporary = link + ".\(getpid())"
        unlink(temporary)
        guard symlink(library, temporary) == 0, rename(temporary, link) == 0 else {
            throw RunError("cannot link \(link) to \(library): \(String(cString: strerror(errno)))")
        }
        return link
    }

    /// Refuses statically linked ELF programs (no dynamic loader, so nothing reads LD_PRELOAD) and warns
    /// about set-user-ID programs (the loader ignores LD_PRELOAD for them). Scripts pass: their
    /// interpreter is what gets preloaded.
    private func checkInterposable(_ cPath: [CChar]) throws {
        let path = String(decoding: cPath.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fd = open(cPath, O_RDONLY | O_CLOEXEC)
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
    warn(bytes: Array(text.utf8))
}

/// Writes a line of raw bytes (a program name need not be UTF-8) to stderr.
func warn(bytes: [UInt8]) {
    let line = bytes + [UInt8(ascii: "\n")]
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Ends the process with `status` (libc's exit; inside the command, `exit` is ArgumentParser's).
func exitProcess(_ status: Int32) -> Never {
    exit(status)
}

/// The bytes of a C string, without its terminator.
func bytes(of string: UnsafePointer<CChar>) -> [UInt8] {
    Array(
        UnsafeBufferPointer(start: UnsafeRawPointer(string).assumingMemoryBound(to: UInt8.self), count: strlen(string))
    )
}

extension ResolverKind: ExpressibleByArgument {}
