import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The preload library keeps to itself: only the interposers and gevent.h leave it, it pulls no library a
/// program could have its own copy of into the global scope, and programs with their own libev, libevent,
/// c-ares, libdispatch or child processes run under gevent-run exactly as without it.
@Suite("Preload isolation", .serialized, .timeLimit(.minutes(2)))
struct PreloadIsolationTests {
    @Test func exportsOnlyTheInterposersAndTheGeventAPI() throws {
        guard let library = preloadLibrary() else { return }
        let exported = try globalDefinitions(library)
        let allowed = try versionScriptNames()
        #expect(
            exported == allowed,
            "exported but not in the version script: \(exported.subtracting(allowed).sorted())"
        )

        // Every allowed name is a libc function, a C++ static-guard function of libstdc++'s (the Itanium ABI's
        // `__cxa_guard_*`) or part of gevent.h: nothing else may leave the library.
        let libcNames = try globalDefinitions(try libcPath())
            .union(try globalDefinitions(try libraryPath("libstdc++.so.6")).filter { $0.hasPrefix("__cxa_guard_") })
        // gevent.h's declarations: its lines outside the comments.
        let declarations = try readFile(packageRoot + "/preload/include/gevent.h").split(separator: "\n").filter {
            !$0.hasPrefix(" *") && !$0.hasPrefix("/*")
        }
        for name in allowed {
            let declared = declarations.contains { $0.contains(" \(name)(") || $0.contains("*\(name)(") }
            #expect(libcNames.contains(name) || declared, "\(name) is neither libc's nor gevent.h's")
        }
        // And every interposer the sources define is exported (a name missing from the script would
        // silently stop being interposed).
        for name in try interposersInSources() {
            #expect(exported.contains(name), "the interposer \(name) is not exported")
        }
    }

    @Test func needsNoLibraryAProgramCouldHaveItsOwnCopyOf() throws {
        guard let library = preloadLibrary() else { return }
        let dynamic = try runProcess(["readelf", "-d", library])
        try #require(dynamic.status == 0, "readelf: \(dynamic.standardError)")
        let needed = dynamic.standardOutput.split(separator: "\n").filter { $0.contains("(NEEDED)") }.compactMap {
            line -> String? in
            guard let open = line.firstIndex(of: "["), let close = line.lastIndex(of: "]") else { return nil }
            return String(line[line.index(after: open)..<close])
        }
        let glibc: Set<String> = ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"]
        #expect(Set(needed).subtracting(glibc).subtracting(["libgcc_s.so.1"]).isEmpty, "NEEDED: \(needed)")
        // libev is loaded privately and c-ares is inside: neither may be left for the loader to bind.
        let undefined = try runProcess(["nm", "-D", "--undefined-only", library]).standardOutput
        let foreign = undefined.split(separator: "\n").compactMap { $0.split(separator: " ").last }.filter {
            $0.hasPrefix("ev_") || $0.hasPrefix("ares_")
        }
        #expect(foreign.isEmpty, "undefined libev/c-ares names: \(foreign)")
    }

    @Test(arguments: EventProgram.allCases)
    func aProgramWithItsOwnEventLibraryRunsUnchanged(_ program: EventProgram) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try program.compile(into: directory)
        try expectUnchanged([executable], geventRun: geventRun)
    }

    @Test func theProgramReapsItsOwnChildren() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("children.c", into: directory)
        try expectUnchanged([executable], geventRun: geventRun)
    }

    @Test(arguments: ["gevent_sleep.py", "pycares_lookup.py"])
    func pythonPackagesWithTheirOwnLibevAndCaresRunUnchanged(_ script: String) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let python = try testVirtualEnvironment()
        try expectUnchanged([python, packageRoot + "/Tests/ShimTests/Programs/" + script], geventRun: geventRun)
    }

    /// Runs `command` plain and under gevent-run: same status, output and errors, and a plain run that worked.
    private func expectUnchanged(_ command: [String], geventRun: String) throws {
        let plain = try runProcess(command)
        #expect(plain.status == 0, "plain run failed: \(plain.standardError)")
        #expect(!plain.standardOutput.isEmpty)
        let preloaded = try runProcess([geventRun, "--"] + command)
        #expect(preloaded.status == plain.status, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
        #expect(preloaded.standardError == plain.standardError)
    }
}

/// The C programs of Tests/ShimTests/Programs that use an event or DNS library of their own.
enum EventProgram: String, CaseIterable, CustomTestStringConvertible {
    case libevLinked
    case libevLoadedAfterTheHub
    case libeventLinked
    case libeventThroughALibrary
    case libeventLoaded
    case caresLinked

    var testDescription: String { rawValue }

    func compile(into directory: TemporaryDirectory) throws -> String {
        switch self {
        case .libevLinked: return try compileProgram("libev_user.c", into: directory, flags: ["-lev"])
        case .libevLoadedAfterTheHub:
            return try compileProgram("libev_user.c", into: directory, flags: ["-DLIBEV_DLOPEN", "-ldl"])
        case .libeventLinked: return try compileProgram("libevent_user.c", into: directory, flags: ["-levent"])
        case .libeventThroughALibrary:
            _ = try compileProgram(
                "libevent_user.c",
                into: directory,
                output: "libeventuser.so",
                flags: ["-shared", "-fPIC", "-DLIBEVENT_LIBRARY", "-levent"]
            )
            return try compileProgram(
                "libevent_user.c",
                into: directory,
                flags: ["-DLIBEVENT_VIA_LIBRARY", "-L" + directory.path, "-leventuser", "-Wl,-rpath," + directory.path]
            )
        case .libeventLoaded:
            return try compileProgram("libevent_user.c", into: directory, flags: ["-DLIBEVENT_DLOPEN", "-ldl"])
        case .caresLinked: return try compileProgram("cares_user.c", into: directory, flags: ["-lcares"])
        }
    }
}

/// Compiles Tests/ShimTests/Programs/`source` into `directory` and returns the output's path.
func compileProgram(
    _ source: String,
    into directory: TemporaryDirectory,
    output: String = "program",
    flags: [String] = []
) throws -> String {
    let path = directory.path + "/" + output
    let sourcePath = packageRoot + "/Tests/ShimTests/Programs/" + source
    let compiler = source.hasSuffix(".cc") ? "c++" : "cc"
    let compiled = try runProcess([compiler, "-Wall", "-O1", "-o", path, sourcePath] + flags)
    try #require(compiled.status == 0, "cc \(source) \(flags): \(compiled.standardError)")
    return path
}

/// gevent-run in the preload library's directory, or nil (with a recorded failure that says how to build both).
func geventRunNextToLibrary() -> String? {
    guard let library = preloadLibrary() else { return nil }
    let path = String(library[..<library.lastIndex(of: "/")!]) + "/gevent-run"
    guard access(path, X_OK) == 0 else {
        Issue.record("no gevent-run at \(path): build it with scripts/build-preload.sh")
        return nil
    }
    return path
}

/// The names a shared object defines with global or weak binding (nm's upper-case types; lower-case
/// entries of .dynsym are local and cannot be bound by anyone else).
private func globalDefinitions(_ path: String) throws -> Set<String> {
    let listing = try runProcess(["nm", "-D", "--defined-only", path])
    try #require(listing.status == 0, "nm \(path): \(listing.standardError)")
    var names: Set<String> = []
    for line in listing.standardOutput.split(separator: "\n") {
        let fields = line.split(separator: " ")
        guard fields.count == 3, let type = fields[1].first, type.isUppercase, type != "A" else { continue }
        names.insert(String(fields[2].split(separator: "@").first!))
    }
    return names
}

/// The `global:` names of preload/libGeventPreload.map.
private func versionScriptNames() throws -> Set<String> {
    // Without the /* */ comments, the words between "global:" and "local:".
    var text = try readFile(packageRoot + "/preload/libGeventPreload.map")
    while let open = text.firstRange(of: "/*"), let close = text[open.upperBound...].firstRange(of: "*/") {
        text.removeSubrange(open.lowerBound..<close.upperBound)
    }
    let words = text.split(whereSeparator: { ";{}\n ".contains($0) }).map(String.init)
    guard let global = words.firstIndex(of: "global:"), let local = words.firstIndex(of: "local:") else {
        Issue.record("preload/libGeventPreload.map has no global: and local: sections")
        return []
    }
    return Set(words[(global + 1)..<local])
}

/// The libc functions preload/*.c define (`SHIM_EXPORT type name(`), without the shim's own gevent_* API.
private func interposersInSources() throws -> Set<String> {
    var names: Set<String> = []
    let sources = [
        "shim_dns.c", "shim_fdops.c", "shim_io.c", "shim_poll.c", "shim_time.c", "shim_core.c", "shim_fd.c",
        "shim_signal.c",
    ]
    for source in sources {
        for line in try readFile(packageRoot + "/preload/" + source).split(separator: "\n")
        where line.hasPrefix("SHIM_EXPORT ") {
            guard let parenthesis = line.firstIndex(of: "(") else { continue }
            let name = line[..<parenthesis].split(whereSeparator: { $0 == " " || $0 == "*" }).last.map(String.init)
            if let name, !name.hasPrefix("gevent_") {
                names.insert(name)
            }
        }
    }
    return names
}

/// The libc.so.6 the C compiler links against.
private func libcPath() throws -> String {
    try libraryPath("libc.so.6")
}

/// Where the C compiler finds the shared library `name`, with links resolved.
private func libraryPath(_ name: String) throws -> String {
    let found = try runProcess(["cc", "-print-file-name=\(name)"])
    return realPath(found.standardOutput.trimmingCharacters(in: "\n"))
}

/// The Python of .build-venv, with gevent and pycares from PyPI (scripts/test-venv.sh makes it, as CI
/// does before the tests). Skips the test, saying why, when the environment cannot be made here.
func testVirtualEnvironment() throws -> String {
    let made = try runProcess([packageRoot + "/scripts/test-venv.sh"])
    guard made.status == 0 else {
        try Test.cancel(
            Comment(
                rawValue: "no Python virtual environment with gevent and pycares (scripts/test-venv.sh failed: "
                    + "\(made.standardError.suffix(400))); CI makes it"
            )
        )
    }
    return made.standardOutput.trimmingCharacters(in: "\n")
}

extension String {
    fileprivate func trimmingCharacters(in characters: String) -> String {
        String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
