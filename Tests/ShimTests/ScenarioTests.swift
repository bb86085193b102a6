import CGeventShim
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The differential scenarios (Scenarios/scenarios.c) built three ways, each run on plain libc, preloaded
/// and linked: the outputs must be identical, and the shim runs must have waited cooperatively.
enum ScenarioBuild: String, CaseIterable, CustomTestStringConvertible {
    case plain
    case fortified
    case largeFiles

    var flags: [String] {
        switch self {
        case .plain: return ["-O0"]
        case .fortified: return ["-O2", "-D_FORTIFY_SOURCE=2"]
        case .largeFiles: return ["-O0", "-D_FILE_OFFSET_BITS=64"]
        }
    }

    var testDescription: String { rawValue }

    /// Compiles the executable and the shared library into `directory`.
    func compile(into directory: TemporaryDirectory) throws -> (executable: String, library: String) {
        let source = packageRoot + "/Tests/ShimTests/Scenarios/scenarios.c"
        let executable = directory.path + "/scenarios-\(rawValue)"
        let library = directory.path + "/libscenarios-\(rawValue).so"
        for (output, extra) in [(executable, ["-DSCENARIO_MAIN"]), (library, ["-shared", "-fPIC"])] {
            let result = try runProcess(
                ["cc", "-Wno-unused-result"] + flags + extra + ["-o", output, source, "-lpthread", "-ldl"]
            )
            #expect(result.status == 0, "cc failed: \(result.standardError)")
        }
        return (executable, library)
    }
}

extension MonkeyTests {
    @Test(arguments: ScenarioBuild.allCases)
    func scenariosGiveLibcsResultsPlainPreloadedAndLinked(_ build: ScenarioBuild) throws {
        let directory = try TemporaryDirectory()
        let (executable, library) = try build.compile(into: directory)
        if build == .fortified {
            let symbols = try runProcess(["nm", "-D", executable]).standardOutput
            #expect(symbols.contains("__read_chk"), "the fortified build must call the _chk variants")
        }
        let plain = try runProcess([executable])
        #expect(plain.status == 0)
        #expect(plain.standardOutput.split(separator: "\n").count >= 45)

        if let preload = preloadLibrary() {
            let preloaded = try runProcess([executable], environment: ["LD_PRELOAD": preload, "GEVENT_PATCH": "all"])
            #expect(
                preloaded.status == 0,
                "the ticker never ran while the scenarios waited: \(preloaded.standardError)"
            )
            #expect(preloaded.standardOutput == plain.standardOutput)
        }

        let linked = try runLinked(library: library, directory: directory)
        #expect(linked == plain.standardOutput)
    }

    /// dlopens the scenarios' shared library (the interposers of this test binary come before libc for
    /// it) and runs them in a patched hub's main greenlet next to a ticker.
    private func runLinked(library: String, directory: TemporaryDirectory) throws -> String {
        guard let handle = dlopen(library, RTLD_NOW) else {
            Issue.record("dlopen \(library): \(String(cString: dlerror()))")
            return ""
        }
        defer { dlclose(handle) }
        typealias Run = @convention(c) (Int32) -> Int32
        let run = unsafeBitCast(dlsym(handle, "gevent_scenarios_run"), to: Run.self)
        let outputPath = directory.path + "/linked.txt"
        let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try withPatchedHub { _ in
            let ticker = Ticker(every: .milliseconds(2))
            let before = gevent_shim_cooperative_calls()
            _ = run(fd)
            #expect(ticker.ticks > 50, "the hub did not run the ticker while the scenarios waited")
            #expect(gevent_shim_cooperative_calls() - before > 30)
            try ticker.stop()
        }
        close(fd)
        return try readFile(outputPath)
    }
}
