import CGeventShim
import CShimTestSupport
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Subprocess and signal handlers with the interposers patched in: the pipes' non-blocking reads and
/// writes pass through the hooks, and libev's signal handling is not disturbed by patched calls. Part of
/// the serialized Monkey suite: patching is process-wide, so no other patched test may run meanwhile.
extension MonkeyTests {
    @Test func aSignalHandlerRunsWhileAnUnawareReadWaits() throws {
        try withPatchedHub { _ in
            let pipe = try Pipe()
            defer { pipe.closeBoth() }
            var handled = false
            let handler = try signalHandler(.user1) {
                handled = true
                // Wakes the unaware reader below: the handler runs as a greenlet while it waits.
                _ = write(pipe.writeEnd, "sig", 3)
            }
            defer { handler.cancel() }
            let sender = spawn {
                try sleep(.milliseconds(30))
                kill(getpid(), SIGUSR1)
            }
            var buffer = [UInt8](repeating: 0, count: 16)
            let n = shim_test_read(pipe.readEnd, &buffer, 16)
            #expect(n == 3)
            #expect(Array(buffer[..<3]) == Array("sig".utf8))
            #expect(handled)
            try sender.join()
        }
    }

    @Test func subprocessPipesWorkWithEveryAreaPatched() throws {
        try withPatchedHub { _ in
            let input = [UInt8](repeating: UInt8(ascii: "z"), count: 3 << 20)
            let child = try Subprocess(
                ["/bin/sh", "-c", "cat; echo done >&2"],
                standardInput: .pipe,
                standardOutput: .pipe,
                standardError: .pipe
            )
            let (output, errorOutput) = try child.communicate(input: input, timeout: .seconds(30))
            #expect(output == input)
            #expect(String(decoding: errorOutput, as: UTF8.self) == "done\n")
            #expect(try child.wait() == .exited(code: 0))
        }
    }
}
