import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Builds Examples/UnawareC/fetch_all.c with `cc` and runs it under gevent-run against the demo server,
/// returning the line to print; when the preload library is not built, a line saying how to build it.
///
/// fetch_all is a plain C program (blocking getaddrinfo, connect, read, usleep) that uses greenlets only
/// when gevent.h's functions are present, as they are under gevent-run.
func runUnmodifiedProgram(port: Int, count: Int) -> String {
    let label = "  gevent-run, unmodified C program".padding(toLength: 46)
    let launcher = ".build-preload/release/gevent-run"
    let source = "Examples/UnawareC/fetch_all.c"
    guard access(launcher, X_OK) == 0, access(source, R_OK) == 0 else {
        return label + "skipped: run scripts/build-preload.sh in the package's folder, then run this from there"
    }
    var template = Array("/tmp/gevent-intro-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
    guard let directory = made else { return label + "skipped: mkdtemp: \(String(cString: strerror(errno)))" }
    let program = directory + "/fetch_all"
    let output = directory + "/output"
    defer {
        unlink(program)
        unlink(output)
        rmdir(directory)
    }
    guard runChild(["cc", "-O2", "-o", program, source], output: output) == 0 else {
        return label + "skipped: cc could not build \(source): \(readText(output))"
    }
    let status = runChild([launcher, "--", program, "127.0.0.1", "\(port)", "\(count)"], output: output)
    guard status == 0 else { return label + "failed (exit status \(status)): \(readText(output))" }
    return label + "\(readText(output)); Examples/UnawareC/fetch_all.c, each fetch after 200 ms of think time"
}

/// Runs `arguments` (searched in PATH) with stdout and stderr into `output`; returns its exit status, or
/// -1 when it could not start or died of a signal.
private func runChild(_ arguments: [String], output: String) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    guard posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { return -1 }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
}

/// The file's text without its trailing newline ("" when unreadable).
private func readText(_ path: String) -> String {
    guard let file = fopen(path, "r") else { return "" }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        bytes += buffer[..<n]
    }
    while bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
    return String(decoding: bytes, as: UTF8.self)
}
