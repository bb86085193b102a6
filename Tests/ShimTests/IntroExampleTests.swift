import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// The README's first command: `swift run IntroExample` fetches the same URLs one after another, then
/// concurrently with gevent's Socket and with libcurl after Monkey.patchAll(), and the concurrent runs are
/// much faster.
@Suite("IntroExample", .serialized, .timeLimit(.minutes(1)))
struct IntroExampleTests {
    @Test func concurrentFetchesTakeAFractionOfTheSequentialTime() throws {
        // From the package's folder, where the demo looks for the preload library's gevent-run.
        let output = try runProcess(
            ["sh", "-c", "cd \"$0\" && exec \"$@\"", packageRoot, testBinaryDirectory + "/IntroExample", "8", "250"]
        )
        #expect(output.status == 0, "stderr: \(output.standardError)")
        let lines = output.standardOutput.split(separator: "\n").map(String.init)
        func milliseconds(_ label: String) -> Int? {
            guard let line = lines.first(where: { $0.contains(label) }),
                let match = line.firstMatch(of: /(\d+) responses in +(\d+) ms/),
                Int(match.1) == 8
            else { return nil }
            return Int(match.2)
        }
        let sequential = try #require(milliseconds("sequential"), "\(lines)")
        let socket = try #require(milliseconds("gevent Socket"), "\(lines)")
        let curl = try #require(milliseconds("libcurl after Monkey.patchAll()"), "\(lines)")
        #expect(sequential >= 8 * 250)
        // Concurrently the eight answers arrive after about one delay; a third of the sequential time leaves
        // room for a slow, shared machine.
        #expect(socket < sequential / 3)
        #expect(curl < sequential / 3)
        #expect(lines.contains { $0.contains("localhost resolves to 127.0.0.1") })
        if access(packageRoot + "/.build-preload/release/gevent-run", X_OK) == 0 {
            #expect(
                lines.contains { $0.contains("gevent-run") && $0.contains("8 fetches") && $0.contains("(greenlets)") }
            )
        }
    }
}
