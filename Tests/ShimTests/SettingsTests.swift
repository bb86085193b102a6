import CGeventShim
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// One owner of the settings: gevent-run reads its options as the library reads the variables, the
/// shim's C code agrees with MonkeyArea, and the documented table is the table of `Setting`.
@Suite("Settings", .serialized, .timeLimit(.minutes(1)))
struct SettingsTests {
    /// The gevent-run this test build made (no preload library needed for --help and --print-env).
    private var geventRun: String { testBinaryDirectory + "/gevent-run" }

    /// What --print-env needs to find: any readable file.
    private let printEnvironment = ["GEVENT_PRELOAD_PATH": "/dev/null", "LD_PRELOAD": "", "COLUMNS": "100"]

    @Test func gEventRunHelpShowsTheSettingsTable() throws {
        let help = try runProcess([geventRun, "--help"], environment: printEnvironment)
        #expect(help.status == 0)
        #expect(help.standardOutput.contains(Setting.helpText()), "\(help.standardOutput)")
    }

    @Test func installAndTheSettingsArticleHoldTheTableOfSetting() throws {
        for document in ["INSTALL.md", "Sources/Gevent/Gevent.docc/Settings.md"] {
            let text = try readFile(packageRoot + "/" + document)
            #expect(
                text.contains(Setting.markdownTable),
                "\(document) differs from Setting.markdownTable:\n\(Setting.markdownTable)"
            )
        }
    }

    @Test func noCodeButGeventConfigAndThePreloadConstructorReadsAGeventVariable() throws {
        var readers: [String] = []
        for directory in ["Sources", "preload"] {
            let listing = try runProcess(["grep", "-rnE", "getenv\\(\"GEVENT_", packageRoot + "/" + directory])
            readers += listing.standardOutput.split(separator: "\n").map {
                String($0.dropFirst(packageRoot.count + 1))
            }
        }
        #expect(readers.count == 1, "\(readers)")
        #expect(readers.first?.hasPrefix("preload/shim_core.c:") == true, "\(readers)")
        #expect(readers.first?.contains("getenv(\"GEVENT_PATCH\")") == true, "\(readers)")
    }

    @Test(arguments: [
        "262144", "512K", "512k", "1M", "1m", "1MiB", "1mib", "64KiB", "2G", " 256K ", "0016K", "16384",
        "abc", "-5", "0", "1.5M", "1KB", "1 M", "1e6", "8K", "16383", "99999999999999999999",
    ])
    func gEventRunReadsAStackSizeAsTheLibraryDoes(text: String) throws {
        let library: Result<Int, SettingError>
        do {
            library = .success(try SettingParser.size(text, atLeast: Setting.minimumStackSize, for: "--stack-size"))
        } catch {
            library = .failure(error)
        }
        let launched = try runProcess(
            [geventRun, "--print-env", "--stack-size=\(text)"],
            environment: printEnvironment
        )
        switch library {
        case .success:
            #expect(launched.status == 0, "\(launched.standardError)")
            #expect(launched.standardOutput.contains("\nGEVENT_STACK_SIZE=\(text)\n"))
        case .failure(let error):
            #expect(launched.status != 0)
            #expect(launched.standardError.contains(error.description), "\(launched.standardError)")
        }
        let previous = getenv("GEVENT_STACK_SIZE").map { String(cString: $0) }
        setenv("GEVENT_STACK_SIZE", text, 1)
        defer {
            if let previous { setenv("GEVENT_STACK_SIZE", previous, 1) } else { unsetenv("GEVENT_STACK_SIZE") }
        }
        let configured = GeventConfig.fromEnvironment().stackSize
        #expect(configured == ((try? library.get()) ?? GeventConfig.defaults.stackSize))
    }

    @Test func theResolverOptionSetsSwiftGeventsVariableNotTheOnePythonGeventReads() throws {
        let printed = try runProcess(
            [geventRun, "--print-env", "--resolver", "block"],
            environment: printEnvironment
        )
        #expect(printed.status == 0, "\(printed.standardError)")
        #expect(printed.standardOutput.contains("\nGEVENT_SWIFT_RESOLVER=block\n"))
        #expect(!printed.standardOutput.contains("GEVENT_RESOLVER="))
    }

    @Test func aListThatStartsWithARemovalIsAValueNotAnOption() throws {
        for arguments in [["--patch", "-dns"], ["--patch=-dns"]] {
            let printed = try runProcess(
                [geventRun, "--print-env"] + arguments + ["--", "true"],
                environment: printEnvironment
            )
            #expect(printed.status == 0, "\(arguments): \(printed.standardError)")
            #expect(printed.standardOutput.contains("\nGEVENT_PATCH=-dns\n"), "\(arguments)")
        }
    }

    @Test func anUnknownAreaGetsTheOneMessageEverywhere() throws {
        let launched = try runProcess(
            [geventRun, "--patch", "socket,sockets", "--", "true"],
            environment: printEnvironment
        )
        #expect(launched.status != 0)
        #expect(launched.standardError.contains(MonkeyArea.unknownAreaMessage("sockets", in: "--patch")))
        guard let library = preloadLibrary() else { return }
        let preloaded = try runProcess(["true"], environment: ["LD_PRELOAD": library, "GEVENT_PATCH": "time, sockets"])
        #expect(
            preloaded.standardError == "swift-gevent: " + MonkeyArea.unknownAreaMessage("sockets", in: "GEVENT_PATCH")
                + "\n"
        )
    }

    @Test func theShimsAreaNamesAreMonkeyAreas() {
        for area in MonkeyArea.allCases {
            #expect(gevent_shim_parse_areas(area.rawValue) == area.mask, "\(area)")
            #expect(gevent_shim_parse_areas(" \(area.rawValue.uppercased())\t") == area.mask, "\(area)")
        }
        let implemented = MonkeyArea.implemented.reduce(UInt32(0)) { $0 | $1.mask }
        #expect(gevent_shim_parse_areas("all") & ~MonkeyArea.thread.mask == implemented)
        #expect(gevent_shim_parse_areas("none") == 0)
        #expect(gevent_shim_parse_areas("socket,,time") == MonkeyArea.socket.mask | MonkeyArea.time.mask)
    }

    /// The constructor's parser and MonkeyArea.parseList read removals alike (the C side's `all` also
    /// carries the thread bit, which the constructor drops).
    @Test func theShimReadsRemovalsAsMonkeyAreaDoes() {
        for list in [
            "all,-dns", "-dns", " - Socket , -TIME", "socket,-socket,dns", "-dns,dns", "thread,socket,-all",
            "socket,-thread", "all,-sockets,-none,-", "none,-select",
        ] {
            let swift = MonkeyArea.parseList(list).areas.reduce(UInt32(0)) { $0 | $1.mask }
            #expect(gevent_shim_parse_areas(list) & ~MonkeyArea.thread.mask == swift, "\(list)")
        }
    }

    /// The configuration is read once per process, so each case runs in a child process of its own.
    @Test func theConfiguredResolverDecidesHowInterposedLookupsRun() async {
        await #expect(processExitsWith: .success) {
            setenv("GEVENT_RESOLVER", "block", 1)
            exit(cooperativeLookups() == 0 ? 0 : 1)
        }
        await #expect(processExitsWith: .success) {
            setenv("GEVENT_RESOLVER", "block", 1)
            setenv("GEVENT_SWIFT_RESOLVER", "thread", 1)
            exit(cooperativeLookups() == 3 ? 0 : 1)
        }
    }
}

/// How many of three interposed lookups from greenlets went to a thread.
private func cooperativeLookups() -> UInt64 {
    Monkey.patch(areas: [.dns], warnAboutThreads: false)
    let hub = Hub.current
    let before = gevent_shim_cooperative_calls()
    let lookups = (0..<3).map { _ in
        spawn { () -> Int32 in
            var result: UnsafeMutablePointer<addrinfo>?
            let status = getaddrinfo("localhost", "80", nil, &result)
            freeaddrinfo(result)
            return status
        }
    }
    _ = try? joinAll(lookups)
    let count = gevent_shim_cooperative_calls() - before
    try? hub.destroy()
    return count
}
