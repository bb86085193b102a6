import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// What a child process printed and how it ended.
struct ProcessOutput {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// Runs `arguments[0]` (searched in PATH) with `environment` added to ours, stdin from /dev/null or
/// `input`, and collects its output through temporary files. Called outside any patched hub.
func runProcess(
    _ arguments: [String],
    environment: [String: String] = [:],
    input: String? = nil
) throws
    -> ProcessOutput
{
    let directory = try TemporaryDirectory()
    let outPath = directory.path + "/out"
    let errPath = directory.path + "/err"
    let inPath = directory.path + "/in"
    try writeFile(inPath, input ?? "")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, inPath, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    var merged: [String: String] = [:]
    var cursor = environ
    while let entry = cursor.pointee {
        let text = String(cString: entry)
        if let equals = text.firstIndex(of: "=") {
            merged[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        cursor += 1
    }
    for (key, value) in environment {
        merged[key] = value
    }
    let environmentStrings = merged.map { "\($0.key)=\($0.value)" }
    var attributes = SpawnAttributes()
    defer { attributes.destroy() }
    var pid: pid_t = 0
    let status = withCStrings(arguments) { argv in
        withCStrings(environmentStrings) { envp in
            posix_spawnp(&pid, arguments[0], &actions, &attributes.value, argv, envp)
        }
    }
    guard status == 0 else { throw SpawnError(program: arguments[0], errno: status) }
    var exitStatus: Int32 = 0
    while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
    let code = (exitStatus & 0x7f) == 0 ? (exitStatus >> 8) & 0xff : 128 + (exitStatus & 0x7f)
    return ProcessOutput(status: code, standardOutput: try readFile(outPath), standardError: try readFile(errPath))
}

/// Spawn attributes that give the child an empty signal mask and default handlers: posix_spawn copies the
/// calling thread's mask, and test worker threads may block signals (a child that blocks SIGTERM cannot be
/// stopped).
struct SpawnAttributes {
    var value = posix_spawnattr_t()

    init() {
        posix_spawnattr_init(&value)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&value, &empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigdefault(&value, &all)
        posix_spawnattr_setflags(&value, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    }

    mutating func destroy() {
        posix_spawnattr_destroy(&value)
    }
}

struct SpawnError: Error, CustomStringConvertible {
    let program: String
    let errno: Int32
    var description: String { "could not start \(program): \(String(cString: strerror(errno)))" }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer {
        for pointer in pointers { free(pointer) }
    }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// A directory under /tmp, removed (with what is in it) when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/gevent-shim-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SpawnError(program: "mkdtemp", errno: errno) }
        path = String(cString: made)
    }

    deinit {
        // Not runProcess: it makes a TemporaryDirectory of its own.
        var pid: pid_t = 0
        let spawned = withCStrings(["rm", "-rf", path]) { argv in posix_spawnp(&pid, "rm", nil, nil, argv, environ) }
        if spawned == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}

func writeFile(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw SpawnError(program: "open \(path)", errno: errno) }
    defer { close(fd) }
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n <= 0 { break }
            offset += n
        }
    }
}

func readFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw SpawnError(program: "open \(path)", errno: errno) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n <= 0 { break }
        bytes += chunk[..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The package's root directory (this file is Tests/ShimTests/ProcessSupport.swift).
let packageRoot: String = {
    var path = #filePath
    for _ in 0..<3 {
        path = String(path[..<path.lastIndex(of: "/")!])
    }
    return path
}()

/// The preload library the preload tests use: GEVENT_PRELOAD_PATH, or what scripts/build-preload.sh built.
/// Records a failure that says how to build it when there is none.
func preloadLibrary() -> String? {
    if let given = getenv("GEVENT_PRELOAD_PATH") {
        return String(cString: given)
    }
    let built = packageRoot + "/.build-preload/release/libGeventPreload.so"
    if access(built, R_OK) == 0 {
        return built
    }
    Issue.record(
        "no preload library at \(built): build it with scripts/build-preload.sh (or set GEVENT_PRELOAD_PATH)"
    )
    return nil
}
