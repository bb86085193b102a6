import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Preload mode: gevent-run and libGeventPreload.so (built by scripts/build-preload.sh) around programs
/// that know nothing of them.
@Suite("Preload", .serialized, .timeLimit(.minutes(1)))
struct PreloadTests {
    private var geventRun: String? { geventRunNextToLibrary() }

    @Test func printEnvShowsThePreloadAndTheSettings() throws {
        guard let geventRun, let library = preloadLibrary() else { return }
        let output = try runProcess(
            [geventRun, "--print-env", "--patch", "socket,time", "--resolver", "block", "--stack-size", "512K"],
            environment: ["LD_PRELOAD": ""]
        )
        #expect(output.status == 0)
        #expect(
            output.standardOutput
                == "LD_PRELOAD=\(realPath(library))\nGEVENT_PATCH=socket,time\nGEVENT_SWIFT_RESOLVER=block\nGEVENT_STACK_SIZE=512K\n"
        )
    }

    @Test func refusesAStaticallyLinkedProgramAndSaysWhy() throws {
        guard let geventRun else { return }
        let directory = try TemporaryDirectory()
        try writeFile(directory.path + "/main.c", "int main(void) { return 0; }\n")
        let compiled = try runProcess(["cc", "-static", "-o", directory.path + "/static", directory.path + "/main.c"])
        try #require(compiled.status == 0, "cc -static failed: \(compiled.standardError)")
        let output = try runProcess([geventRun, "--", directory.path + "/static"])
        #expect(output.status != 0)
        #expect(output.standardError.contains("is statically linked"))
        #expect(output.standardError.contains("LD_PRELOAD cannot interpose"))
    }

    @Test func reportsAMissingLibraryAndAnUnknownProgram() throws {
        guard let geventRun else { return }
        let missing = try runProcess(
            [geventRun, "--", "true"],
            environment: ["GEVENT_PRELOAD_PATH": "/nonexistent.so"]
        )
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("GEVENT_PRELOAD_PATH=/nonexistent.so: no readable file there"))
        let unknown = try runProcess([geventRun, "--", "no-such-program-here"])
        #expect(unknown.standardError == "gevent-run: no-such-program-here: command not found\n")
        #expect(unknown.status == 127)
        let badArea = try runProcess([geventRun, "--patch", "sockets", "--", "true"])
        #expect(badArea.standardError.contains("unknown area 'sockets'"))
    }

    @Test func aSwiftProgramRunsGreenletsThroughThePreloadedLibrary() throws {
        guard let geventRun else { return }
        let probe = testBinaryDirectory + "/ShimSwiftProbe"
        let foundation = "foundation {\"sum\":285} 0.0\n"
        #expect(try runProcess([probe]).standardOutput == foundation + "no shim\n")
        let output = try runProcess([geventRun, "--", probe])
        #expect(output.status == 0, "\(output.standardError)")
        #expect(output.standardOutput == foundation + "concurrent\n")
        // --patch decides: with the sleeps not patched, usleep blocks the thread as usual.
        let unpatched = try runProcess([geventRun, "--patch", "socket,dns", "--", probe])
        #expect(unpatched.standardOutput.hasPrefix(foundation + "sequential"))
    }

    @Test(arguments: [
        // stdio on pipes, and a shell that forks and execs children (which inherit LD_PRELOAD)
        ["sh", "-c", "seq 1 20000 | sort -rn | head -n 3"],
        ["sh", "-c", "for i in 1 2 3; do sh -c 'echo child $0' $i; done | cat"],
        ["sh", "-c", "printf 'line one\\nline two\\n' | while read -r line; do echo \"got $line\"; done"],
        [
            "python3", "-c",
            "import subprocess, sys; print(subprocess.run(['echo', 'nested'], capture_output=True).stdout)",
        ],
    ])
    func ordinaryProgramsBehaveAsWithoutIt(_ command: [String]) throws {
        guard let geventRun else { return }
        let plain = try runProcess(command)
        let preloaded = try runProcess([geventRun, "--"] + command)
        #expect(preloaded.status == plain.status)
        #expect(preloaded.standardOutput == plain.standardOutput)
        #expect(preloaded.standardError == plain.standardError)
    }

    @Test func childrenInheritThePreloadAndStayInert() throws {
        guard let geventRun, let library = preloadLibrary() else { return }
        let output = try runProcess([geventRun, "--", "sh", "-c", "sh -c 'echo $LD_PRELOAD $GEVENT_PATCH'"])
        #expect(output.standardOutput == "\(realPath(library)) all\n")
    }

    @Test func curlAndPythonFetchFromALocalHTTPServer() throws {
        guard let geventRun else { return }
        let directory = try TemporaryDirectory()
        try writeFile(directory.path + "/hello.txt", "hello from the shim tests\n")
        let port = try freePort()
        let server = try BackgroundProcess(
            ["python3", "-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory.path]
        )
        defer { server.stop() }
        try waitUntilListening(port: port)
        let url = "http://127.0.0.1:\(port)/hello.txt"
        let commands = [
            ["curl", "-s", url],
            [
                "python3", "-c",
                "import urllib.request; print(urllib.request.urlopen('\(url)').read().decode(), end='')",
            ],
        ]
        for command in commands {
            let plain = try runProcess(command)
            let preloaded = try runProcess([geventRun, "--"] + command)
            #expect(plain.standardOutput == "hello from the shim tests\n", "\(command[0]): \(plain.standardError)")
            #expect(preloaded.standardOutput == plain.standardOutput, "\(command[0]): \(preloaded.standardError)")
            #expect(preloaded.status == 0)
        }
    }
}

/// `path` with symbolic links resolved (gevent-run finds the library through /proc/self/exe).
func realPath(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return path }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// The directory of the running test binary (where SwiftPM puts the products it built for the tests).
let testBinaryDirectory: String = {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    let path = String(decoding: buffer[..<max(length, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
}()

/// A TCP port on 127.0.0.1 that nobody listened on a moment ago.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
        }
    }
    guard bound else { throw SpawnError(program: "bind", errno: errno) }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Waits (up to 10 s) until something accepts connections on 127.0.0.1:`port`.
func waitUntilListening(port: Int) throws {
    for _ in 0..<200 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
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
        if connected { return }
        usleep(50_000)
    }
    throw SpawnError(program: "a server on port \(port)", errno: ETIMEDOUT)
}

/// A child process that runs until stopped (SIGTERM, then reaped).
final class BackgroundProcess {
    let pid: pid_t

    init(_ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        pointers.append(nil)
        defer {
            for pointer in pointers { free(pointer) }
        }
        var attributes = SpawnAttributes()
        defer { attributes.destroy() }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, arguments[0], &actions, &attributes.value, pointers, environ)
        guard status == 0 else { throw SpawnError(program: arguments[0], errno: status) }
        self.pid = pid
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

extension PreloadTests {
    @Test func aCProgramLinkedThroughPkgConfigRunsGreenlets() throws {
        guard let library = preloadLibrary() else { return }
        let libraryDirectory = String(library[..<library.lastIndex(of: "/")!])
        let directory = try TemporaryDirectory()
        try writeFile(
            directory.path + "/main.c",
            """
            #include <gevent.h>
            #include <stdio.h>
            #include <unistd.h>
            static void *nap(void *argument) { usleep(200000); return argument; }
            int main(void) {
                gevent_greenlet_t *greenlets[10];
                for (long i = 0; i < 10; i++) greenlets[i] = gevent_spawn(nap, (void *)i);
                long sum = 0;
                for (int i = 0; i < 10; i++) { void *result; gevent_join(greenlets[i], &result); sum += (long)result; }
                printf("sum %ld\\n", sum);
                return gevent_run();
            }
            """
        )
        let flags = try runProcess(
            ["pkg-config", "--cflags", "--libs", "gevent"],
            environment: ["PKG_CONFIG_PATH": libraryDirectory]
        )
        try #require(flags.status == 0, "pkg-config gevent: \(flags.standardError)")
        let arguments = flags.standardOutput.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let compiled = try runProcess(["cc", "-o", directory.path + "/main", directory.path + "/main.c"] + arguments)
        try #require(compiled.status == 0, "cc: \(compiled.standardError)")
        let start = ContinuousClock.now
        let output = try runProcess([directory.path + "/main"])
        #expect(output.standardOutput == "sum 45\n")
        #expect(output.status == 0)
        #expect(millisecondsSince(start) < 10 * 200 / 2, "ten usleep(200 ms) in greenlets ran one after another")
    }
}
