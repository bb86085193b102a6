import CGeventIO

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Turns a ``Subprocess`` request into `posix_spawn`'s arguments and starts the child.
enum Spawn {
    struct Started {
        let processID: pid_t
        /// This process's ends of the pipes for stdin, stdout, stderr (-1 where the stream is no pipe);
        /// non-blocking and close-on-exec.
        let parentEnds: [CInt]
    }

    static func start(
        _ arguments: [String],
        environment: [String: String]?,
        workingDirectory: String?,
        redirects: [Subprocess.Redirect],
        passedDescriptors: [FileDescriptor],
        closeOtherDescriptors: Bool
    ) throws(SubprocessError) -> Started {
        guard let program = arguments.first, !program.isEmpty else {
            throw SubprocessError(
                operation: "spawn",
                code: nil,
                reason: "the argument list is empty; give the program first"
            )
        }
        let operation = "spawn \(program)"
        let texts =
            arguments + (environment.map { $0.map { "\($0.key)=\($0.value)" } } ?? []) + [workingDirectory ?? ""]
        if let bad = texts.first(where: { $0.utf8.contains(0) }) {
            throw SubprocessError(
                operation: operation,
                code: nil,
                reason: "\(bad.debugDescription) contains a NUL byte"
            )
        }
        if redirects[0] == .standardOutput || redirects[1] == .standardOutput {
            throw SubprocessError(
                operation: operation,
                code: nil,
                reason: ".standardOutput is only for standardError (it merges error into output)"
            )
        }
        if let bad = passedDescriptors.first(where: { $0.rawValue < 0 }) {
            throw SubprocessError(operation: operation, code: .badFileDescriptor, reason: "cannot pass \(bad)")
        }
        let path = try resolve(program, environment: environment, operation: operation)

        var childEnds: [CInt] = [-1, -1, -1]
        var parentEnds: [CInt] = [-1, -1, -1]
        var temporaries: [CInt] = []
        defer {
            for fd in childEnds + temporaries where fd >= 0 { Glibc.close(fd) }
        }
        func fail(_ what: String) -> SubprocessError {
            let error = SubprocessError(operation: "\(operation): \(what)", code: Errno(rawValue: errno))
            for fd in parentEnds where fd >= 0 { Glibc.close(fd) }
            return error
        }
        var sources: [CInt] = [-1, -1, -1]
        for (target, redirect) in redirects.enumerated() {
            switch redirect {
            case .inherit:
                break
            case .pipe:
                var fds: [CInt] = [-1, -1]
                guard gevent_pipe_cloexec(&fds) == 0 else { throw fail("pipe2") }
                let (childEnd, parentEnd) = target == 0 ? (fds[0], fds[1]) : (fds[1], fds[0])
                childEnds[target] = childEnd
                parentEnds[target] = parentEnd
                guard fcntl(parentEnd, F_SETFL, O_NONBLOCK) == 0 else { throw fail("fcntl(O_NONBLOCK)") }
                sources[target] = childEnd
            case .nullDevice:
                let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
                guard fd >= 0 else { throw fail("open /dev/null") }
                temporaries.append(fd)
                sources[target] = fd
            case .fileDescriptor(let descriptor):
                var fd = descriptor.rawValue
                guard fd >= 0 else {
                    for fd in parentEnds where fd >= 0 { Glibc.close(fd) }
                    throw SubprocessError(
                        operation: operation,
                        code: .badFileDescriptor,
                        reason: "cannot redirect to \(descriptor)"
                    )
                }
                if fd < 3 && fd != CInt(target) {
                    // The child's 0–2 are replaced one after another: a source among them is copied out of
                    // the way first, so that swapping stdout and stderr works.
                    fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)
                    guard fd >= 0 else { throw fail("dup \(descriptor)") }
                    temporaries.append(fd)
                }
                sources[target] = fd
            case .standardOutput:
                sources[target] = 1
            }
        }

        var processID: pid_t = 0
        let keep = passedDescriptors.map(\.rawValue).filter { $0 > 2 }
        let status = withCStrings(arguments) { argv in
            withEnvironment(environment) { envp in
                sources.withUnsafeBufferPointer { redirect in
                    keep.withUnsafeBufferPointer { keep in
                        gevent_posix_spawn(
                            &processID,
                            path,
                            argv,
                            envp,
                            workingDirectory,
                            redirect.baseAddress,
                            keep.baseAddress,
                            CInt(keep.count),
                            closeOtherDescriptors ? 1 : 0
                        )
                    }
                }
            }
        }
        guard status == 0 else {
            for fd in parentEnds where fd >= 0 { Glibc.close(fd) }
            throw SubprocessError(operation: operation, code: Errno(rawValue: status))
        }
        return Started(processID: processID, parentEnds: parentEnds)
    }

    /// The path to execute: `program` itself if it has a `/`, else the first executable file of that name in
    /// the `PATH` of `environment` (or of this process; glibc's default if neither has one).
    private static func resolve(
        _ program: String,
        environment: [String: String]?,
        operation: String
    ) throws(SubprocessError) -> String {
        if program.contains("/") { return program }
        let searchPath =
            environment?["PATH"] ?? getenv("PATH").map { String(cString: $0) } ?? "/bin:/usr/bin"
        var firstError: CInt?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = directory.isEmpty ? program : "\(directory)/\(program)"
            var info = stat()
            guard stat(candidate, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 else {
                firstError = firstError ?? EACCES
                continue
            }
            return candidate
        }
        throw SubprocessError(
            operation: operation,
            code: Errno(rawValue: firstError ?? ENOENT),
            reason: firstError == nil ? "not found in PATH (\(searchPath))" : nil
        )
    }
}

/// Calls `body` with a NULL-terminated `char *[]` of `strings`, valid for the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Calls `body` with `environment` as an `envp` array, or with this process's `environ` for `nil`.
private func withEnvironment<R>(
    _ environment: [String: String]?,
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
) -> R {
    guard let environment else { return body(environ) }
    return withCStrings(environment.map { "\($0.key)=\($0.value)" }.sorted(), body)
}
