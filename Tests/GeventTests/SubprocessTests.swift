import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// gevent's test__subprocess.py and test__subprocess_poll.py: exit statuses, pipes, timeouts, helpers.
@Suite("Subprocess", .serialized, .timeLimit(.minutes(1)))
struct SubprocessTests {
    @Test func waitReturnsTheExitCode() throws {
        try withHub {
            let child = try Subprocess(["/bin/sh", "-c", "exit 10"])
            #expect(try child.wait() == .exited(code: 10))
            #expect(child.returnCode == 10)
            #expect(child.status == .exited(code: 10))
        }
    }

    @Test func aSubprocessIsWaitableAndPollSeesTheStatusAfterwards() throws {
        try withHub {
            let child = try Subprocess(["/bin/sh", "-c", "exit 11"])
            #expect(try child.poll() == nil || child.returnCode == 11)
            let ready = try wait([child], timeout: .seconds(10))
            #expect(ready.count == 1)
            #expect(try child.poll() == .exited(code: 11))
        }
    }

    @Test func pollReapsAnExitedChildWithoutTheLoopRunning() throws {
        try withHub {
            let child = try Subprocess(["/bin/true"])
            // Block the whole thread (no hub iteration) until the child is surely a zombie.
            usleep(200_000)
            #expect(try child.poll() == .exited(code: 0))
        }
    }

    @Test func deathBySignalIsReportedAsANegativeReturnCode() throws {
        try withHub {
            let killed = try Subprocess(["/bin/sh", "-c", "kill -9 $$"])
            #expect(try killed.wait() == .signaled(.kill, coreDumped: false))
            #expect(killed.returnCode == -9)

            let sleeper = try Subprocess(["/bin/sleep", "30"])
            try sleeper.terminate()
            #expect(try sleeper.wait(timeout: .seconds(10)) == .signaled(.terminate, coreDumped: false))
            // Signalling a reaped child does nothing (its number may be someone else's now).
            try sleeper.kill()
        }
    }

    @Test func aMissingProgramThrowsENOENTEveryTime() throws {
        try withHub {
            for _ in 0..<7 {
                let error = #expect(throws: SubprocessError.self) {
                    try Subprocess(["this_name_must_not_exist"])
                }
                #expect(error?.code == Errno(rawValue: ENOENT))
                #expect(error?.description.contains("this_name_must_not_exist") == true)
            }
            let star = #expect(throws: SubprocessError.self) { try Subprocess(["*"]) }
            #expect(star?.code == Errno(rawValue: ENOENT))
            let path = #expect(throws: SubprocessError.self) { try Subprocess(["/nonexistent/program"]) }
            #expect(path?.code == Errno(rawValue: ENOENT))
            let viaEnvironment = #expect(throws: SubprocessError.self) {
                try Subprocess(["true"], environment: ["PATH": "/nonexistent"])
            }
            #expect(viaEnvironment?.code == Errno(rawValue: ENOENT))
        }
    }

    @Test func badRequestsGetSpecificErrors() throws {
        try withHub {
            let empty = #expect(throws: SubprocessError.self) { try Subprocess([]) }
            #expect(empty?.description.contains("empty") == true)
            let nul = #expect(throws: SubprocessError.self) { try Subprocess(["/bin/echo", "a\u{0}b"]) }
            #expect(nul?.description.contains("NUL") == true)
            let merged = #expect(throws: SubprocessError.self) {
                try Subprocess(["/bin/true"], standardOutput: .standardOutput)
            }
            #expect(merged?.description.contains("standardError") == true)
            let negative = #expect(throws: SubprocessError.self) {
                try Subprocess(["/bin/true"], standardOutput: .fileDescriptor(FileDescriptor(-1)))
            }
            #expect(negative?.code == .badFileDescriptor)
            let child = try Subprocess(["/bin/true"])
            let noPipe = #expect(throws: SubprocessError.self) { try child.communicate(input: bytes("x")) }
            #expect(noPipe?.description.contains("standardInput: .pipe") == true)
            try child.wait()
        }
    }

    @Test func communicateWritesInputAndReadsBothOutputs() throws {
        try withHub {
            let child = try Subprocess(
                ["/bin/sh", "-c", "cat; printf pineapple >&2"],
                standardInput: .pipe,
                standardOutput: .pipe,
                standardError: .pipe
            )
            let (output, errorOutput) = try child.communicate(input: bytes("banana"))
            #expect(text(output) == "banana")
            #expect(text(errorOutput) == "pineapple")
            #expect(child.returnCode == 0)
        }
    }

    @Test func communicateMovesSeveralMebibytesThroughBothPipesAtOnce() throws {
        try withHub {
            // cat echoes 6 MiB while 5 MiB go to stderr: with either pipe left unread, the child would block
            // and so would the writer of its input.
            let input = (0..<(6 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 11) }
            let child = try Subprocess(
                ["/bin/sh", "-c", "head -c 5242880 /dev/zero >&2 & cat; wait"],
                standardInput: .pipe,
                standardOutput: .pipe,
                standardError: .pipe
            )
            let (output, errorOutput) = try child.communicate(input: input, timeout: .seconds(30))
            #expect(output.count == input.count)
            #expect(output == input)
            #expect(errorOutput.count == 5 << 20)
            #expect(errorOutput.allSatisfy { $0 == 0 })
            #expect(child.returnCode == 0)
        }
    }

    @Test func closingStandardInputEndsTheChildsInput() throws {
        try withHub {
            let child = try Subprocess(["/bin/cat"], standardInput: .pipe, standardOutput: .pipe)
            try child.standardInput!.writeAll(bytes("abc"))
            child.standardInput!.close()
            #expect(text(try child.standardOutput!.readToEnd()) == "abc")
            #expect(try child.wait(timeout: .seconds(10)) == .exited(code: 0))
        }
    }

    @Test func aChildThatExitsWithoutReadingItsInputIsNotAnError() throws {
        try withHub {
            let child = try Subprocess(["/bin/true"], standardInput: .pipe, standardOutput: .pipe)
            let (output, _) = try child.communicate(input: [UInt8](repeating: 7, count: 1 << 20))
            #expect(output.isEmpty)
            #expect(child.returnCode == 0)
        }
    }

    @Test func waitTimesOutAndTheChildThatNeverExitsIsKilled() throws {
        try withHub {
            let child = try Subprocess(["/bin/sleep", "30"])
            let started = ContinuousClock.now
            let timedOut = #expect(throws: SubprocessTimeoutError.self) { try child.wait(timeout: .milliseconds(50)) }
            #expect(timedOut?.timeout == .milliseconds(50))
            #expect(try child.poll() == nil)
            try child.kill()
            #expect(try child.wait(timeout: .seconds(10)) == .signaled(.kill, coreDumped: false))
            #expect(elapsedMilliseconds(since: started) < 5000)
        }
    }

    @Test func communicateTimesOutWithThePartialOutputAndCanBeResumed() throws {
        try withHub {
            let child = try Subprocess(
                ["/bin/sh", "-c", "printf BDFL; sleep 0.5; printf ' forever'"],
                standardOutput: .pipe
            )
            let timedOut = #expect(throws: SubprocessTimeoutError.self) {
                try child.communicate(timeout: .milliseconds(200))
            }
            #expect(text(timedOut?.output ?? []) == "BDFL")
            let (output, _) = try child.communicate(timeout: .seconds(10))
            #expect(text(output) == "BDFL forever")
        }
    }

    @Test func runWithATimeoutKillsTheChildAndKeepsWhatItWrote() throws {
        try withHub {
            let started = ContinuousClock.now
            let timedOut = #expect(throws: SubprocessTimeoutError.self) {
                try Subprocess.run(["/bin/sh", "-c", "printf BDFL; exec sleep 30"], timeout: .milliseconds(200))
            }
            #expect(text(timedOut?.output ?? []) == "BDFL")
            // Far below the child's 30 s: it was killed, not waited for.
            #expect(elapsedMilliseconds(since: started) < 5000)
        }
    }

    @Test func runReportsTheStatusAndChecksIt() throws {
        try withHub {
            let result = try Subprocess.run(["/bin/sh", "-c", "exit 47"])
            #expect(result.returnCode == 47)
            let failed = #expect(throws: ProcessFailed.self) {
                try Subprocess.run(["/bin/sh", "-c", "echo oops >&2; exit 47"], check: true)
            }
            #expect(failed?.returnCode == 47)
            #expect(text(failed?.errorOutput ?? []) == "oops\n")
            #expect(failed?.description.contains("oops") == true)
            let upper = try Subprocess.run(["/usr/bin/tr", "a-z", "A-Z"], input: bytes("pear"))
            #expect(text(upper.output) == "PEAR")
        }
    }

    @Test func checkOutputReturnsOutputAndThrowsProcessFailedWithStandardError() throws {
        try withHub {
            try #expect(text(checkOutput(["/bin/echo", "hello"])) == "hello\n")
            let failed = #expect(throws: ProcessFailed.self) {
                try checkOutput(["/bin/sh", "-c", "echo partial; echo 'bad thing' >&2; exit 44"])
            }
            #expect(failed?.status == .exited(code: 44))
            #expect(text(failed?.output ?? []) == "partial\n")
            #expect(text(failed?.errorOutput ?? []) == "bad thing\n")
        }
    }

    @Test func environmentAndWorkingDirectoryReachTheChild() throws {
        try withHub {
            let environment = try checkOutput(["/bin/sh", "-c", "echo $FRUIT"], environment: ["FRUIT": "kiwi"])
            #expect(text(environment) == "kiwi\n")
            let directory = try checkOutput(["/bin/pwd"], workingDirectory: "/tmp")
            #expect(text(directory) == "/tmp\n")
            let found = try checkOutput(["echo", "via PATH"], environment: ["PATH": "/usr/bin:/bin"])
            #expect(text(found) == "via PATH\n")
        }
    }

    @Test func redirectsToNullDeviceDescriptorsAndStandardOutput() throws {
        try withHub {
            let fromNull = try Subprocess(["/bin/cat"], standardInput: .nullDevice, standardOutput: .pipe)
            #expect(try fromNull.communicate().output.isEmpty)

            let merged = try Subprocess.run(
                ["/bin/sh", "-c", "printf out; printf err >&2"],
                standardError: .standardOutput
            )
            #expect(text(merged.output) == "outerr")
            #expect(merged.errorOutput.isEmpty)

            var fds: [CInt] = [-1, -1]
            #expect(pipe(&fds) == 0)
            defer { close(fds[0]) }
            let toDescriptor = try Subprocess(
                ["/bin/sh", "-c", "printf one; printf two >&2"],
                standardOutput: .fileDescriptor(FileDescriptor(fds[1])),
                standardError: .fileDescriptor(FileDescriptor(fds[1]))
            )
            close(fds[1])
            try toDescriptor.wait()
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = read(fds[0], &buffer, 16)
            #expect(text(Array(buffer[..<max(count, 0)])) == "onetwo")
        }
    }

    @Test func onlyStandardAndPassedDescriptorsReachTheChild() throws {
        try withHub {
            // A descriptor without close-on-exec, as C libraries and older code leave them.
            let open = dup(2)
            #expect(open > 2)
            defer { close(open) }
            let probe = ["/bin/sh", "-c", "[ -e /dev/fd/\(open) ]"]
            #expect(try Subprocess(probe).wait() == .exited(code: 1))
            #expect(try Subprocess(probe, inheriting: [FileDescriptor(open)]).wait() == .exited(code: 0))
            #expect(try Subprocess(probe, closeOtherDescriptors: false).wait() == .exited(code: 0))

            // The parent's pipe ends and pidfds are close-on-exec: a child sees only 0, 1 and 2 (and the
            // descriptor `ls` opens for the directory itself).
            let listing = try checkOutput(["/bin/ls", "/proc/self/fd"])
            #expect(text(listing).split(separator: "\n").count <= 4)
        }
    }

    @Test func noDescriptorIsLeakedInTheParent() throws {
        try withHub {
            // Other suites open and close descriptors meanwhile, so this looks for ours by what they are:
            // the pipes by inode, the pidfds by the process they refer to (/proc/self/fdinfo's "Pid:").
            var pipeInodes: Set<UInt64> = []
            var processIDs: Set<pid_t> = []
            for index in 0..<20 {
                let child = try Subprocess(
                    ["/bin/sh", "-c", "cat; echo \(index) >&2"],
                    standardInput: .pipe,
                    standardOutput: .pipe,
                    standardError: .pipe
                )
                processIDs.insert(child.processID)
                for end in [child.standardInput, child.standardOutput, child.standardError] {
                    var info = stat()
                    #expect(fstat(end!.fileDescriptor.rawValue, &info) == 0)
                    pipeInodes.insert(UInt64(info.st_ino))
                }
                if index == 0 {
                    // The detector sees them while they are open: three pipe ends and the pidfd.
                    #expect(descriptors(referringTo: pipeInodes, orTo: processIDs).count == 4)
                }
                _ = try child.communicate(input: bytes("x"))
                #expect(throws: SubprocessError.self) {
                    try Subprocess(["this_name_must_not_exist"], standardOutput: .pipe)
                }
            }
            #expect(pipeInodes.count == 60)
            let leaked = descriptors(referringTo: pipeInodes, orTo: processIDs)
            #expect(leaked.isEmpty, "still open: \(leaked)")
        }
    }

    @Test func manyChildrenFromManyGreenletsRunConcurrently() throws {
        try withHub {
            let started = ContinuousClock.now
            let jobs = (0..<40).map { index in
                spawn { () throws -> TerminationStatus in
                    try Subprocess(["/bin/sh", "-c", "sleep 0.3; exit \(index % 50)"]).wait()
                }
            }
            for (index, job) in jobs.enumerated() {
                let expected = TerminationStatus.exited(code: Int32(index % 50))
                let status = try job.get()
                #expect(status == expected)
            }
            // One after another: 12 s. Generous for a shared machine.
            #expect(elapsedMilliseconds(since: started) < 6000)
        }
    }

    @Test func hubsOnOtherThreadsSpawnAndWaitForTheirOwnChildren() throws {
        let results = Mutex<[Int: Int32]>([:])
        let threads = try (0..<3).map { thread in
            try NativeThread {
                let hub = Hub.current
                defer { try? hub.destroy() }
                let jobs = (0..<5).map { index in
                    spawn { () throws -> Int32 in
                        let output = try checkOutput(["/bin/sh", "-c", "sleep 0.1; echo \(thread * 10 + index)"])
                        return Int32(text(output).dropLast())!
                    }
                }
                for (index, job) in jobs.enumerated() {
                    let value = (try? job.get()) ?? -1
                    results.withLock { $0[thread * 10 + index] = value }
                }
            }
        }
        try withHub {
            // The main test thread's hub waits for a child of its own meanwhile.
            let own = try Subprocess(["/bin/sh", "-c", "sleep 0.2; exit 3"])
            #expect(try own.wait() == .exited(code: 3))
        }
        for thread in threads { thread.join() }
        let collected = results.withLock { $0 }
        #expect(collected.count == 15)
        for (key, value) in collected {
            #expect(Int32(key) == value)
        }
    }

    @Test func otherThreadsGetInvalidThreadUse() throws {
        try withHub {
            let child = UncheckedBox(try Subprocess(["/bin/sleep", "0.1"]))
            let failed = Mutex(false)
            let thread = try NativeThread {
                do {
                    _ = try child.value.poll()
                } catch is InvalidThreadUseError {
                    failed.withLock { $0 = true }
                } catch {
                    failed.withLock { $0 = false }
                }
            }
            thread.join()
            #expect(failed.withLock { $0 })
            try child.value.wait()
        }
    }

    @Test func aDroppedSubprocessIsStillReaped() throws {
        try withHub {
            var pid: pid_t = 0
            do {
                let child = try Subprocess(["/bin/sh", "-c", "sleep 0.1"])
                pid = child.processID
            }
            try sleep(.milliseconds(500))
            // Reaped by its watcher: no such child any more (a zombie would still answer waitpid).
            var status: CInt = 0
            #expect(waitpid(pid, &status, WNOHANG) == -1 && errno == ECHILD)
        }
    }
}

/// The descriptors of this process that are one of the pipes in `pipeInodes` or a pidfd of one of
/// `processIDs`, as "fd -> target".
private func descriptors(referringTo pipeInodes: Set<UInt64>, orTo processIDs: Set<pid_t>) -> [String] {
    guard let directory = opendir("/proc/self/fd") else { return ["cannot read /proc/self/fd"] }
    defer { closedir(directory) }
    var found: [String] = []
    while let entry = readdir(directory) {
        let name = direntName(entry)
        guard let fd = Int32(name) else { continue }
        var buffer = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard length > 0 else { continue }
        let target = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if target.hasPrefix("pipe:["), let inode = UInt64(target.dropFirst(6).dropLast()), pipeInodes.contains(inode) {
            found.append("\(fd) -> \(target)")
        }
        if target.contains("pidfd"), let file = fopen("/proc/self/fdinfo/\(fd)", "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 256)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if text.hasPrefix("Pid:"),
                    let pid = pid_t(text.dropFirst(4).trimmingPrefix(while: \.isWhitespace).prefix { $0.isNumber }),
                    processIDs.contains(pid)
                {
                    found.append("\(fd) -> pidfd of \(pid)")
                }
            }
        }
    }
    return found
}
