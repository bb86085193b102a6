import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The directory of the libswiftCore this test binary runs with (CGreenlet calls into it), from its mappings.
private func swiftRuntimeDirectory() -> String? {
    guard let file = fopen("/proc/self/maps", "r") else { return nil }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 4096)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasSuffix("/libswiftCore.so"), let start = text.firstIndex(of: "/") {
            let path = text[start...]
            return String(path[..<path.lastIndex(of: "/")!])
        }
    }
    return nil
}

/// Greenlet stacks are executable exactly when the program's PT_GNU_STACK asks for it, as glibc's thread
/// stacks are.
@Suite("Executable stacks", .serialized, .timeLimit(.minutes(1)))
struct ExecutableStackTests {
    @Test func aGCCNestedFunctionTrampolineRunsOnAGreenletStack() throws {
        let runtime = try #require(swiftRuntimeDirectory(), "where libswiftCore is")
        let directory = try TemporaryDirectory()
        let sources = packageRoot + "/Sources/CGreenlet"
        #if arch(x86_64)
        let switchSource = sources + "/switch_x86_64.S"
        #else
        let switchSource = sources + "/switch_aarch64.S"
        #endif
        let program = try compileProgram(
            "nested_trampoline.c",
            into: directory,
            flags: [
                "-D_GNU_SOURCE", "-I", sources + "/include", sources + "/stack.c", sources + "/greenlet.c",
                sources + "/context.c", switchSource, "-L" + runtime, "-lswiftCore", "-Wl,-rpath," + runtime,
            ]
        )
        let output = try runProcess([program])
        #expect(output.status == 0, "stderr: \(output.standardError)")
        #expect(output.standardOutput == "nested function: 42\nexecutable stacks: 1\n")
    }
}
