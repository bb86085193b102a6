import Testing

/// Signal handlers reach cooperative waits as they reach blocking calls (signal(7)): programs under
/// gevent-run whose handlers must end a wait in a greenlet. `timeout` bounds each run, so that a wait the
/// handler fails to end shows as a failure, not a hang.
@Suite("Signals in cooperative waits", .serialized, .timeLimit(.minutes(2)))
struct SignalTests {
    @Test func alarmEndsAReadOfAnEmptyPipeInAGreenletWithEINTR() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("alarm_read.c", into: directory)
        let plain = try runProcess(["timeout", "20", executable])
        #expect(plain.standardOutput == "read: r=-1 errno=EINTR handled=1\n")
        let preloaded = try runProcess(["timeout", "20", geventRun, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
    }

    /// The handler ends every wait of the hub, so the accept loop stops even though it runs in a greenlet
    /// (not the main one), and a connection greenlet's read ends too, as an idle thread's would on a
    /// signal of its own.
    @Test func aGreenletPerConnectionServerStopsOnSIGTERMThroughEINTRInAccept() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("sigterm_server.c", into: directory)
        let plain = try runProcess(["timeout", "20", executable])
        #expect(plain.standardOutput == "accept: errno=EINTR stopping=1\n")
        let preloaded = try runProcess(["timeout", "20", geventRun, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        let lines = Set(preloaded.standardOutput.split(separator: "\n").map(String.init))
        #expect(lines == ["accept: errno=EINTR stopping=1", "connection: r=-1 errno=EINTR"])
    }

    /// The overflow reporter keeps SIGSEGV and its alternate stack, but the program sees neither: it sees
    /// what it installed, and its own handler gets the faults that are not greenlet-stack overflows.
    @Test func aProgramThatOwnsSIGSEGVSeesOnlyItsOwnHandlerAndGetsItsFaults() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("segv_handler.c", into: directory)
        let plain = try runProcess(["timeout", "20", executable])
        #expect(plain.standardOutput.contains("fault chained: address=0x10"))
        let preloaded = try runProcess(["timeout", "20", geventRun, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
    }

    /// A vfork child shares the parent's memory, where the shim keeps the program's handlers: the child's
    /// reset before exec must change only its own (Python's subprocess does this for every handler).
    @Test func aVforkChildThatResetsHandlersLeavesTheParentsInPlace() throws {
        guard let geventRun = geventRunNextToLibrary() else { return }
        let directory = try TemporaryDirectory()
        let executable = try compileProgram("vfork_signals.c", into: directory)
        let plain = try runProcess(["timeout", "20", executable])
        #expect(plain.standardOutput == "handler kept=1 ran=1\n")
        let preloaded = try runProcess(["timeout", "20", geventRun, "--", executable])
        #expect(preloaded.status == 0, "under gevent-run: \(preloaded.standardError)")
        #expect(preloaded.standardOutput == plain.standardOutput)
    }
}
