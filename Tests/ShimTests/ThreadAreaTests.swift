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

    /// Shell functions the scripts below share: `port_printed_in FILE` waits up to 10 s for the `port N` line
    /// a server prints and echoes N.
    static let shellHelpers = """
        port_printed_in() {
            for attempt in $(seq 200); do
                port=$(sed -n 's/^port //p' "$1")
                [ -n "$port" ] && { echo "$port"; return 0; }
                sleep 0.05
            done
            return 1
        }

        """

    /// Compiles `program` from Programs/, runs it plain (which must succeed) and under gevent-run with
    /// `areas` (which must succeed and print the same stdout), each bounded by `timeout`. nil, with a
    /// recorded issue, when gevent-run is not built.
    func runPlainAndPreloaded(
        _ program: String,
        flags: [String] = [],
        areas: String = "all,thread",
        seconds: Int = 30
    ) throws -> (plain: ProcessOutput, preloaded: ProcessOutput)? {
        guard let geventRun = geventRunNextToLibrary() else { return nil }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram(program, into: directory, flags: flags)
        let plain = try runProcess(["timeout", "\(seconds)", executable])
        try #require(plain.status == 0, "plain: \(plain.standardOutput) \(plain.standardError)")
        let preloaded = try runProcess(["timeout", "\(seconds)", geventRun, "--patch", areas, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
        return (plain, preloaded)
    }

    /// Join values, keys with destructors, pthread_exit with cleanup handlers, identity, attributes, names,
    /// tryjoin/timedjoin/clockjoin, detach rules, and main's pthread_exit while a thread still runs.
    @Test(arguments: [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]])
    func theLifecycleBehavesAsOnOSThreads(_ flags: [String]) throws {
        guard let (plain, preloaded) = try runPlainAndPreloaded("pthread_lifecycle.c", flags: flags) else { return }
        #expect(plain.standardOutput.hasSuffix("the last thread ends after main called pthread_exit\n"))
        #expect(plain.standardError.contains("os-threads-while-16-sleep: 18"))
        #expect(preloaded.standardError == "os-threads-while-16-sleep: 1\n")
    }

    /// Mutexes held across a switch: a counter whose increment sleeps under the lock, recursive and
    /// errorcheck ownership between two threads of one OS thread, trylock, timed and clock locks; a
    /// pthread_once whose initialiser sleeps while seven other threads call it. Under
    /// glibc's ownership (the kernel thread id) the recursive and errorcheck rules would not hold.
    @Test(arguments: [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]])
    func mutexesAreOwnedByTheGreenletThreadThatLockedThem(_ flags: [String]) throws {
        guard let (plain, _) = try runPlainAndPreloaded("pthread_mutexes.c", flags: flags) else { return }
        #expect(plain.standardOutput.contains("sleep under the mutex: 40\n"))
        #expect(plain.standardOutput.contains("the initialiser ran 1 time(s), 8 callers saw its result\n"))
    }

    /// The first line each wait program prints when the waits exclude as they should.
    static let firstLines = [
        "pthread_conds.c": "4 producers, 4 consumers, one slot: 100 items, sum 26300\n",
        "pthread_sems.c": "8 threads x 5 increments that sleep holding the semaphore: 40\n",
        "pthread_rwlocks.c":
            "4 writers x 5 increments that sleep under the write lock: 20; moves seen under a read lock: 0\n",
        "pthread_barriers.c": "6 threads x 4 rounds of a barrier: 4 serial thread(s), 0 left a round early\n",
        "static_guard.cc": "a static whose constructor sleeps: constructed 1 time(s), 8 of 8 callers saw it\n",
    ]

    /// Condition variables (producers and consumers on a one-slot buffer, a broadcast to eight waiters,
    /// main waiting on a condition variable for its workers, timed waits on both clocks), semaphores (as a
    /// lock held across a sleep, as an item count, timed waits), read-write locks (held across sleeps,
    /// sharing, exclusion, EDEADLK, timed locks), barriers (rounds, destroy right after the last one),
    /// flockfile held across sleeps, and C++ static locals whose constructor sleeps or throws. Under glibc's
    /// and libstdc++'s waits, the first greenlet-thread to wait would stop its whole OS thread.
    @Test(
        arguments: ["pthread_conds.c", "pthread_sems.c", "pthread_rwlocks.c", "pthread_barriers.c", "static_guard.cc"],
        [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]]
    )
    func waitsParkTheGreenletThreadThatWaits(_ program: String, _ flags: [String]) throws {
        guard let (plain, _) = try runPlainAndPreloaded(program, flags: flags) else { return }
        #expect(plain.standardOutput.hasPrefix(Self.firstLines[program]!))
    }

    /// An event loop of the program's own waits in epoll: with `thread`, the thread that makes its fd ready
    /// is a greenlet of the same OS thread, which runs only because the wait goes through the hub. Timeouts
    /// in the three forms, errors, level-triggered readiness and EINTR under SA_RESTART are the kernel's.
    @Test(arguments: ["all", "all,thread"])
    func epollWaitsAsTheKernelDoesAndLetsGreenletThreadsRun(_ areas: String) throws {
        guard let (plain, _) = try runPlainAndPreloaded("epoll_waits.c", areas: areas) else { return }
        #expect(plain.standardOutput.contains("a pipe another thread writes: 1 event(s), data 7, EPOLLIN set\n"))
        #expect(plain.standardOutput.hasSuffix("(SA_RESTART): -1 Interrupted system call, 1 handler call(s)\n"))
    }

    /// What stays glibc's and the kernel's keeps working: a process-shared mutex across fork, one a
    /// greenlet-thread waits for (polling, so another greenlet-thread of its OS thread runs meanwhile), a
    /// robust mutex whose owner process died (EOWNERDEAD), and `thrd_create`, which stays an OS thread.
    @Test func whatStaysGlibcsBehavesAsWithoutTheArea() throws {
        guard let (plain, _) = try runPlainAndPreloaded("pthread_kept.c") else { return }
        #expect(plain.standardOutput.contains("lock EOWNERDEAD, consistent 0, unlock 0, lock again 0\n"))
        #expect(plain.standardOutput.hasSuffix("thrd_create: 2 OS threads while it runs, result 7\n"))
    }

    /// Area `subprocess` with `thread`: 20 greenlet-threads each `waitpid` a child of 300 ms and all are
    /// reaped in about one child's life; `wait` for any child lets another thread run; `waitid` by pid and by
    /// pidfd, `wait4`'s rusage, `WUNTRACED`, `ECHILD`, and EINTR or SA_RESTART as the kernel has them.
    /// Without the area, the same waits block the OS thread, one after another.
    @Test func waitsForChildrenLetTheOtherThreadsRun() throws {
        guard let (plain, _) = try runPlainAndPreloaded("waited_children.c", seconds: 60) else { return }
        #expect(plain.standardOutput.hasPrefix("20 threads each waiting for a child of 300 ms: 20 exit codes right\n"))
        #expect(plain.standardOutput.contains("the waits overlapped (under 5 lives): yes\n"))
        #expect(plain.standardOutput.contains("no children left: -1 No child processes\n"))
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("waited_children.c", into: directory)
        let unpatched = try runProcess(
            ["timeout", "60", geventRun, "--patch", "all,thread,-subprocess", "--", executable]
        )
        #expect(
            unpatched.standardOutput.contains("the waits overlapped (under 5 lives): no\n"),
            "\(unpatched.standardOutput)"
        )
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
        let script =
            Self.shellHelpers + """
                timeout 120 "$1" --patch all,thread -- python3 "$2/threading_http_server.py" 500 > "$3" &
                server=$!
                port=$(port_printed_in "$3") || { echo "the server printed no port" >&2; exit 1; }
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

    /// tinyproxy (Debian's, unmodified: a thread per client since 1.11) under gevent-run in front of
    /// CPython's ThreadingHTTPServer (plain, its handler sleeps 300 ms): 500 requests at once from a client
    /// that samples tinyproxy's OS threads while they are in flight, then 100 from curl's parallel mode.
    /// Every body is the backend's, and tinyproxy serves them from its main thread and the thread pool.
    @Test func tinyproxyServesConcurrentClientsFromOneOSThread() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        guard access("/usr/bin/tinyproxy", X_OK) == 0 else {
            Issue.record("no /usr/bin/tinyproxy: install it with scripts/install-deps.sh --tests")
            return
        }
        let programs = packageRoot + "/Tests/ShimTests/Programs/"
        let directory = try TemporaryDirectory()
        let script =
            Self.shellHelpers + """
                timeout 120 python3 "$2/threading_http_server.py" 600 > "$3/backend.out" &
                backend=$!
                port=$(port_printed_in "$3/backend.out") || { echo "the backend printed no port" >&2; exit 1; }
                proxy_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
                printf 'Port %s\nListen 127.0.0.1\nMaxClients 2000\nTimeout 60\nLogLevel Error\nAllow 127.0.0.1\n' \
                    "$proxy_port" > "$3/tinyproxy.conf"
                GEVENT_THREADPOOL_SIZE=2 timeout 120 "$1" --patch all,thread -- /usr/bin/tinyproxy -d -c "$3/tinyproxy.conf" \
                    > "$3/proxy.out" 2>&1 &
                proxy=$!
                for attempt in $(seq 200); do
                    python3 -c "import socket; socket.create_connection(('127.0.0.1', $proxy_port)).close()" 2>/dev/null && break
                    sleep 0.05
                done
                proxy_pid=$(pgrep -P "$proxy" -x tinyproxy || echo "$proxy")
                timeout 120 python3 "$2/threading_http_client.py" "$port" 500 "$proxy_port" "$proxy_pid" || exit 1
                # --parallel-immediate: a connection per transfer, where curl would queue transfers to reuse a few.
                timeout 120 curl -s -Z --parallel-immediate --parallel-max 100 -x "http://127.0.0.1:$proxy_port" \
                    -o /dev/null -w '%{http_code} %{size_download} %{url}\n' "http://127.0.0.1:$port/[500-599]" \
                    > "$3/curl.out" 2> "$3/curl.err" || { cat "$3/curl.err" >&2; exit 1; }
                kill "$proxy"
                wait "$backend"
                """
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, programs, directory.path])
        #expect(run.status == 0, "\(run.standardError) proxy: \((try? readFile(directory.path + "/proxy.out")) ?? "")")
        #expect(run.standardOutput == "500 of 500 replies correct\n")
        let threads = run.standardError.split(separator: "\n").first { $0.hasPrefix("most proxy OS threads: ") }
        let most = threads.flatMap { Int($0.split(separator: " ").last!) }
        // Its main thread and at most the pool's two threads (DNS lookups); 500 OS threads unpatched.
        #expect(most.map { $0 >= 1 && $0 <= 3 } == true, "\(run.standardError)")
        let curled = try readFile(directory.path + "/curl.out").split(separator: "\n")
        #expect(curled.count == 100)
        for line in curled {
            let fields = line.split(separator: " ")
            let path = fields.last.flatMap { $0.split(separator: "/").last }.map(String.init) ?? ""
            #expect(
                fields.count == 3 && fields[0] == "200" && fields[1] == "\("slept for /\(path)\n".utf8.count)",
                "curl: \(line)"
            )
        }
        let served = try readFile(directory.path + "/backend.out")
        #expect(served.contains("answered 600 requests"), "backend: \(served)")
    }

    /// A Python program's `ThreadPoolExecutor` of 50 urllib fetches, unmodified, against
    /// ThreadingHTTPServer (plain, 300 ms per request): every body right, its 50 threads greenlets of one
    /// OS thread (plus the pool's two for lookups), where plain it has 51.
    @Test func aPythonThreadPoolOfURLFetchesRunsOnOneOSThread() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let programs = packageRoot + "/Tests/ShimTests/Programs/"
        let directory = try TemporaryDirectory()
        let script =
            Self.shellHelpers + """
                timeout 120 python3 "$2/threading_http_server.py" 200 > "$3" &
                backend=$!
                port=$(port_printed_in "$3") || { echo "the backend printed no port" >&2; exit 1; }
                GEVENT_THREADPOOL_SIZE=2 timeout 120 "$1" --patch all,thread -- python3 "$2/thread_pool_fetch.py" \
                    "$port" 200 50 || exit 1
                wait "$backend"
                """
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, programs, directory.path + "/backend.out"])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "200 of 200 fetches correct\n")
        let threads = run.standardError.split(separator: "\n").first {
            $0.hasPrefix("most OS threads while fetching: ")
        }
        let most = threads.flatMap { Int($0.split(separator: " ").last!) }
        #expect(most.map { $0 >= 1 && $0 <= 3 } == true, "\(run.standardError)")
    }

    /// CPython's `subprocess.run` and `check_output` from 50 threads at once, unmodified: each child closes
    /// its output and then lives 300 ms, so `run` waits in `waitpid` (area `subprocess`). Every output and
    /// exit code right, one OS thread, and the waits overlap: about 0.4 s here, 5 s without the area.
    @Test func pythonSubprocessesFromFiftyThreadsRunOnOneOSThread() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let program = packageRoot + "/Tests/ShimTests/Programs/thread_pool_subprocesses.py"
        let run = try runProcess(
            ["timeout", "120", geventRun, "--patch", "all,thread", "--", "python3", program, "50"],
            environment: ["GEVENT_THREADPOOL_SIZE": "2", "PYTHONDONTWRITEBYTECODE": "1"]
        )
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "50 of 50 subprocesses right\n")
        let lines = run.standardError.split(separator: "\n")
        let threads = lines.first { $0.hasPrefix("most OS threads: ") }.flatMap { Int($0.split(separator: " ").last!) }
        #expect(threads.map { $0 >= 1 && $0 <= 3 } == true, "\(run.standardError)")
        let seconds = lines.first { $0.hasPrefix("seconds: ") }.flatMap { Double($0.split(separator: " ").last!) }
        // Generous: one wait after another takes ten times as long.
        #expect(seconds.map { $0 < 3 } == true, "\(run.standardError)")
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

    /// Without `thread` in the list (`all` leaves it out), the same program gets OS threads.
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
        let script =
            Self.shellHelpers + """
                timeout 60 "$1" --patch all,thread -- "$2" server 2000 > "$3" &
                server=$!
                port=$(port_printed_in "$3") || { echo "the server printed no port" >&2; exit 1; }
                timeout 60 "$2" client "$port" 2000 || exit 1
                wait "$server"
                """
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, executable, output])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "2000 echoes correct; server OS threads with every connection open: 1\n")
        let served = try readFile(output)
        #expect(served.contains("served 2000 connections, echoed "), "server: \(served)")
    }

    /// A small threaded HTTP/1.0 server (an acceptor thread joined at exit, a detached thread per
    /// connection, pthread_once, a key per connection, counters under a mutex, a condition variable for
    /// shutdown; each handler sleeps 100 ms) answers 2,000 clients at once, from a client that is not
    /// preloaded, on one OS thread; built plain and fortified.
    @Test(arguments: [[], ["-O2", "-D_FORTIFY_SOURCE=2", "-D_FILE_OFFSET_BITS=64"]])
    func aThreadedHTTPServerAnswersTwoThousandClientsOnOneOSThread(_ flags: [String]) throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("threaded_http.c", into: directory, flags: flags)
        let output = directory.path + "/server.out"
        let script =
            Self.shellHelpers + """
                timeout 60 "$1" --patch all,thread -- "$2" 2000 > "$3" &
                server=$!
                port=$(port_printed_in "$3") || { echo "the server printed no port" >&2; exit 1; }
                timeout 60 python3 "$4" "$port" 2000 || exit 1
                wait "$server"
                """
        let client = packageRoot + "/Tests/ShimTests/Programs/threading_http_client.py"
        let run = try runProcess(["sh", "-c", script, "sh", geventRun, executable, output, client])
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput == "2000 of 2000 replies correct\n")
        let served = try readFile(output)
        #expect(
            served.hasSuffix(
                "accepted 2000, answered 2000 (0 bad), table built 1 time(s), key destructors 2000\n"
                    + "most OS threads while serving: 1\n"
            ),
            "server: \(served)"
        )
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
