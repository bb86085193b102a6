import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// gevent-run starts a program exactly as `env PROGRAM ARGS` does: the same search, the same fallbacks, the
/// same exit statuses, the same argument bytes, wherever it is installed.
@Suite("gevent-run as a launcher", .serialized, .timeLimit(.minutes(1)))
struct LauncherTests {
    @Test func exitsLikeEnvWhenTheProgramCannotBeRun() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        try writeFile(directory.path + "/not-executable", "echo never\n")
        let path = directory.path + ":/usr/bin:/bin"
        for (program, status, message) in [
            ("no-such-program-here", 127, "command not found"),
            (directory.path + "/no-such-file", 127, "No such file or directory"),
            (directory.path + "/not-executable", 126, "Permission denied"),
            ("not-executable", 126, "Permission denied"),
        ] {
            let plain = try runProcess(["env", program], environment: ["PATH": path])
            let launched = try runProcess([geventRun, "--", program], environment: ["PATH": path])
            #expect(plain.status == status, "env \(program)")
            #expect(launched.status == status, "gevent-run \(program): \(launched.standardError)")
            #expect(launched.standardError == "gevent-run: \(program): \(message)\n")
        }
    }

    @Test func runsAScriptWithoutAnInterpreterLineWithSh() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        try writeFile(directory.path + "/script", "echo \"script ran with $# arguments: $*\"\nexit 3\n")
        chmod(directory.path + "/script", 0o755)
        for command in [[directory.path + "/script", "a", "b c"], ["script", "d"]] {
            let environment = ["PATH": directory.path + ":/usr/bin:/bin"]
            let plain = try runProcess(["env"] + command, environment: environment)
            let launched = try runProcess([geventRun, "--"] + command, environment: environment)
            #expect(plain.standardOutput.hasPrefix("script ran with"))
            #expect(launched.standardOutput == plain.standardOutput, "\(launched.standardError)")
            #expect(launched.status == plain.status)
        }
    }

    @Test func skipsADirectoryOfTheProgramsNameEarlierInPath() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        mkdir(directory.path + "/early", 0o755)
        mkdir(directory.path + "/early/echo", 0o755)
        let environment = ["PATH": directory.path + "/early:/usr/bin:/bin"]
        let plain = try runProcess(["env", "echo", "found"], environment: environment)
        let launched = try runProcess([geventRun, "--", "echo", "found"], environment: environment)
        #expect(plain.standardOutput == "found\n")
        #expect(launched.standardOutput == plain.standardOutput, "\(launched.standardError)")
        #expect(launched.status == 0)
    }

    @Test func passesArgumentsThatAreNotUTF8ByteForByte() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        // The shell makes the bytes (a Swift String cannot hold them); od shows what the program received.
        let program = "sh -c 'printf \"%s|\" \"$@\" | od -An -tx1' sh \"$(printf 'caf\\351 \\377\\376')\" -- x"
        let plain = try runProcess(["sh", "-c", "env " + program])
        let launched = try runProcess(["sh", "-c", "'\(geventRun)' -- " + program])
        #expect(plain.standardOutput.contains("63 61 66 e9 20 ff fe 7c 2d 2d 7c 78 7c"), "\(plain.standardOutput)")
        #expect(launched.standardOutput == plain.standardOutput, "\(launched.standardError)")
    }

    @Test func preloadsFromAnInstallPathWithASpaceOrAColon() throws {
        guard let library = preloadLibrary(), let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        for name in ["with space", "with:colon"] {
            let install = directory.path + "/" + name
            let copied = try runProcess([
                "sh", "-c", "mkdir -p \"$1\" && cp \"$2\" \"$3\" \"$1/\"", "sh", install, geventRun, library,
            ])
            try #require(copied.status == 0, "\(copied.standardError)")
            let environment = ["LD_PRELOAD": "", "GEVENT_PRELOAD_PATH": ""]
            let printed = try runProcess([install + "/gevent-run", "--print-env"], environment: environment)
            let preload = printed.standardOutput.split(separator: "\n").first { $0.hasPrefix("LD_PRELOAD=") }
            #expect(
                preload.map { !$0.contains(" ") && !$0.dropFirst(11).contains(":") } == true,
                "\(printed.standardOutput)"
            )
            // The probe finds gevent_spawn only if the loader really preloaded the copied library.
            let probe = try runProcess(
                [install + "/gevent-run", "--", testBinaryDirectory + "/ShimSwiftProbe"],
                environment: environment
            )
            #expect(probe.standardOutput.hasSuffix("concurrent\n"), "\(name): \(probe.standardOutput)")
            #expect(probe.standardError == "", "\(name)")
        }
    }
}
