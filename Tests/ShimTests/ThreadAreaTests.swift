import CShimTestSupport
import Testing

@testable import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Area `thread` under gevent-run: an unmodified program's pthreads run as greenlets of its main thread's
/// hub. Each program runs plain and preloaded; what it prints must be the same, and what differs on
/// purpose (the OS-thread count) is checked apart. `timeout` bounds every run, so that a thread the shim
/// fails to wake shows as a failure, not a hang.
@Suite("pthreads as greenlets", .serialized, .timeLimit(.minutes(3)))
struct ThreadAreaTests {
    /// Join values, keys with destructors, pthread_exit with cleanup handlers, identity, attributes, names,
    /// tryjoin/timedjoin/clockjoin, detach rules, and main's pthread_exit while a thread still runs.
    @Test(arguments: [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]])
    func theLifecycleBehavesAsOnOSThreads(_ flags: [String]) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("pthread_lifecycle.c", into: directory, flags: flags)
        let plain = try runProcess(["timeout", "30", executable])
        try #require(plain.status == 0, "plain: \(plain.standardOutput) \(plain.standardError)")
        #expect(plain.standardOutput.hasSuffix("the last thread ends after main called pthread_exit\n"))
        #expect(plain.standardError.contains("os-threads-while-16-sleep: 18"))
        let preloaded = try runProcess(["timeout", "30", geventRun, "--patch", "all,thread", "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
        #expect(preloaded.standardError == "os-threads-while-16-sleep: 1\n")
    }

    /// Mutexes held across a switch: a counter whose increment sleeps under the lock, recursive and
    /// errorcheck ownership between two threads of one OS thread, trylock, timed and clock locks; a
    /// pthread_once whose initialiser sleeps while seven other threads call it. Under
    /// glibc's ownership (the kernel thread id) the recursive and errorcheck rules would not hold.
    @Test(arguments: [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]])
    func mutexesAreOwnedByTheGreenletThreadThatLockedThem(_ flags: [String]) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("pthread_mutexes.c", into: directory, flags: flags)
        let plain = try runProcess(["timeout", "30", executable])
        try #require(plain.status == 0, "plain: \(plain.standardOutput) \(plain.standardError)")
        #expect(plain.standardOutput.contains("sleep under the mutex: 40\n"))
        #expect(plain.standardOutput.contains("the initialiser ran 1 time(s), 8 callers saw its result\n"))
        let preloaded = try runProcess(["timeout", "30", geventRun, "--patch", "all,thread", "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
    }

    /// The first line each wait program prints when the waits exclude as they should.
    static let firstLines = [
        "pthread_conds.c": "4 producers, 4 consumers, one slot: 100 items, sum 26300\n",
        "pthread_sems.c": "8 threads x 5 increments that sleep holding the semaphore: 40\n",
        "pthread_rwlocks.c":
            "4 writers x 5 increments that sleep under the write lock: 20; moves seen under a read lock: 0\n",
    ]

    /// Condition variables (producers and consumers on a one-slot buffer, a broadcast to eight waiters,
    /// main waiting on a condition variable for its workers, timed waits on both clocks), semaphores (as a
    /// lock held across a sleep, as an item count, timed waits) and read-write locks (held across sleeps,
    /// sharing, exclusion, EDEADLK, timed locks). Under glibc's waits, the first greenlet-thread to wait
    /// would stop its whole OS thread.
    @Test(
        arguments: ["pthread_conds.c", "pthread_sems.c", "pthread_rwlocks.c"],
        [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]]
    )
    func waitsParkTheGreenletThreadThatWaits(_ program: String, _ flags: [String]) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram(program, into: directory, flags: flags)
        let plain = try runProcess(["timeout", "30", executable])
        try #require(plain.status == 0, "plain: \(plain.standardOutput) \(plain.standardError)")
        #expect(plain.standardOutput.hasPrefix(Self.firstLines[program]!))
        let preloaded = try runProcess(["timeout", "30", geventRun, "--patch", "all,thread", "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
    }

    /// A binary bound to glibc's pre-NPTL condition-variable versions (`pthread_cond_*@GLIBC_2.2.5`, x86_64)
    /// runs unchanged under gevent-run, with `thread` patched or not: every one of its calls reaches the
    /// same implementation, none glibc's compatibility code.
    @Test func aBinaryBoundToTheOldConditionVariableABIRunsUnchanged() throws {
        #if arch(x86_64)
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("pthread_conds.c", into: directory, flags: ["-DOLD_ABI"])
        let symbols = try runProcess(["objdump", "-T", executable])
        #expect(symbols.standardOutput.contains("(GLIBC_2.2.5) pthread_cond_wait"), "\(symbols.standardOutput)")
        let plain = try runProcess(["timeout", "30", executable])
        try #require(plain.status == 0, "plain: \(plain.standardOutput) \(plain.standardError)")
        for areas in ["all", "all,thread"] {
            let preloaded = try runProcess(["timeout", "30", geventRun, "--patch", areas, "--", executable])
            #expect(preloaded.status == 0, "--patch \(areas): \(preloaded.standardError)")
            #expect(preloaded.standardOutput == plain.standardOutput, "--patch \(areas)")
        }
        #endif
    }

    /// CPython's `http.server.ThreadingHTTPServer`, unmodified, with a handler that sleeps 300 ms: a thread
    /// per request, its GIL a mutex and a condition variable, its locks semaphores, its sleeps
    /// `clock_nanosleep`. 500 clients at once (a client that is not preloaded) are all answered while the
    /// process has one OS thread.
    @Test func cpythonsThreadingHTTPServerServesFiveHundredClientsOnOneOSThread() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let programs = packageRoot + "/Tests/ShimTests/Programs/"
        let directory = try TemporaryDirectory()
        let script = """
            timeout 120 "$1" --patch all,thread -- python3 "$2/threading_http_server.py" 500 > "$3" &
            server=$!
            port=
            for attempt in $(seq 200); do
                port=$(sed -n 's/^port //p' "$3")
                [ -n "$port" ] && break
                sleep 0.05
            done
            [ -n "$port" ] || { echo "the server printed no port" >&2; exit 1; }
            timeout 120 python3 "$2/threading_http_client.py" "$port" 500 || exit 1
            wait "$server"
            """
        let output = directory.path + "/server.out"
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, programs, output])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "500 of 500 replies correct\n")
        let served = try readFile(output)
        #expect(served.hasSuffix("answered 500 requests; most OS threads while serving: 1\n"), "server: \(served)")
    }

    /// A pure spin on an atomic flag is out of the shim's reach (it makes no call): the monitor thread
    /// reports it and names the spinning thread's start routine. The run is ended by `timeout`.
    @Test func theMonitorNamesAPthreadThatSpins() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("pthread_spin.c", into: directory, flags: ["-rdynamic"])
        let plain = try runProcess(["timeout", "30", executable])
        #expect(plain.standardOutput == "the flag was set\n")
        let preloaded = try runProcess(
            ["timeout", "2", geventRun, "--patch", "all,thread", "--", executable],
            environment: ["GEVENT_MONITOR_THREAD_ENABLE": "1", "GEVENT_MAX_BLOCKING_TIME": "0.2"]
        )
        #expect(preloaded.status == 124, "the spin ended: \(preloaded.standardOutput)")
        #expect(
            preloaded.standardError.contains(
                "the pthread started at spin_until_the_flag_is_set in \(executable) (a greenlet under GEVENT_PATCH "
                    + "thread) appears to be blocked"
            ),
            "stderr: \(preloaded.standardError)"
        )
    }

    /// Without `thread` in the list (and `all` does not hold it yet), the same program gets OS threads.
    @Test func withoutTheAreaThreadsStayOSThreads() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("pthread_lifecycle.c", into: directory)
        let preloaded = try runProcess(["timeout", "30", geventRun, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardError.contains("os-threads-while-16-sleep: 18"))
    }

    /// A thread-per-connection server with 2,000 clients connected at once, driven by a client that is not
    /// preloaded: every echo right, and one OS thread serves them all.
    @Test func aThreadPerConnectionServerServesTwoThousandClientsOnOneOSThread() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("threaded_echo.c", into: directory)
        let output = directory.path + "/server.out"
        let script = """
            timeout 60 "$1" --patch all,thread -- "$2" server 2000 > "$3" &
            server=$!
            port=
            for attempt in $(seq 200); do
                port=$(sed -n 's/^port //p' "$3")
                [ -n "$port" ] && break
                sleep 0.05
            done
            [ -n "$port" ] || { echo "the server printed no port" >&2; exit 1; }
            timeout 60 "$2" client "$port" 2000 || exit 1
            wait "$server"
            """
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, executable, output])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "2000 echoes correct; server OS threads with every connection open: 1\n")
        let served = try readFile(output)
        #expect(served.contains("served 2000 connections, echoed "), "server: \(served)")
    }

    /// `Monkey.patch(.thread)` in a Swift program: pthreads that C code creates from a greenlet become
    /// greenlets of its hub, so eight threads sleeping 300 ms each finish together on one OS thread. In a
    /// child process: patching is process-wide.
    @Test func monkeyPatchThreadMakesTheThreadsCCodeCreatesFromAGreenletGreenlets() async {
        await #expect(processExitsWith: .success) {
            ThreadAreaTests.sleepInPatchedPthreads()
        }
    }

    private static func sleepInPatchedPthreads() -> Never {
        Monkey.patch(areas: [.time, .thread], warnAboutThreads: false)
        var elapsed = 0.0
        let job = spawn { shim_test_sleeping_pthreads(8, 300, &elapsed) }
        let onThisThread = (try? job.get()) ?? -1
        // Generous: serial sleeps would take 2.4 s.
        exit(onThisThread == 8 && elapsed < 1_800 ? 0 : 1)
    }
}
