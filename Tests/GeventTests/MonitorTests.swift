import CGreenlet
import Gevent
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// gevent's test___monitor.py: a greenlet that blocks the thread is reported; one that waits cooperatively
/// is not.
@Suite("Monitor", .serialized, .timeLimit(.minutes(1)))
struct MonitorTests {
    /// Runs `body` with the monitor on and returns the reports about this thread's hub (suites that run
    /// meanwhile have hubs on other threads).
    private func collectReports(_ body: () throws -> Void) throws -> [Monitor.Report] {
        let reports = Mutex<[Monitor.Report]>([])
        let thread = cgreenlet_thread_id()
        Monitor.reportHandler = { report in
            if report.threadID == thread {
                reports.withLock { $0.append(report) }
            }
        }
        Monitor.start(maxBlockingTime: .milliseconds(50))
        defer {
            Monitor.stop()
            Monitor.reportHandler = nil
        }
        try body()
        return reports.withLock { $0 }
    }

    @Test func aGreenletThatBlocksTheThreadIsReportedWithItsSpawnSite() throws {
        try withHub {
            let reports = try collectReports {
                let blocker = spawn { spin(milliseconds: 300) }  // CPU work that never yields
                try blocker.join()
            }
            let report = try #require(reports.first { $0.spawnSite?.contains("MonitorTests.swift:") == true })
            #expect(report.blockedFor >= .milliseconds(50))
            #expect(report.description.contains("appears to be blocked"))
            #expect(report.description.contains("a greenlet spawned at GeventTests/MonitorTests.swift:"))
        }
    }

    @Test func withoutAReportHandlerReportsGoToTheApplicationsLogHandler() throws {
        Monitor.reportHandler = nil
        let entries = try withRecordedLogs {
            Monitor.start(maxBlockingTime: .milliseconds(50))
            defer { Monitor.stop() }
            try withHub {
                let blocker = spawn { spin(milliseconds: 300) }
                try blocker.join()
            }
        }
        let entry = try #require(entries.first { $0.metadata["spawn-site"]?.contains("MonitorTests.swift:") == true })
        #expect(entry.level == .warning)
        #expect(entry.metadata["gevent-report"] == "monitor")
        #expect(entry.message.contains("appears to be blocked"))
        #expect(!entry.message.hasPrefix("swift-gevent:"), "the label is the handler's business")
        #expect(Double(entry.metadata["blocked-seconds"] ?? "") ?? 0 >= 0.05)
    }

    @Test func blockedTimeBeyondTheThresholdIsAddedToTheHubsStatistics() throws {
        try withHub {
            #expect(Hub.current.statistics.blockedBeyondThreshold == .zero)
            _ = try collectReports {
                let blocker = spawn { spin(milliseconds: 300) }
                try blocker.join()
                try sleep(.milliseconds(120))  // the monitor sees the episode end
            }
            let blocked = Hub.current.statistics.blockedBeyondThreshold
            #expect(blocked >= .milliseconds(200) && blocked <= .seconds(2), "\(blocked)")
        }
    }

    /// During the wait the hub polls and the sleeper is parked: a report naming either (the hub shows as no
    /// spawn site) means the wait counted as blocking. The main greenlet's few steps before and after the
    /// wait are left out: on a loaded machine they can take a threshold (a sandbox whose host preempts a
    /// thread shows that as CPU time, not run-queue time), and the tests above cover its reports.
    @Test func aGreenletThatWaitsCooperativelyIsNotReported() throws {
        try withHub {
            let reports = try collectReports {
                let sleeper = spawn { try sleep(.milliseconds(300)) }
                try sleeper.join()
            }
            let aboutTheWait = reports.filter { $0.spawnSite != "(the main greenlet)" }
            #expect(aboutTheWait.isEmpty, "cooperative waits are not blocking: \(reports)")
        }
    }

    /// A child process of its own: it loads every core on purpose, and the monitor is process-wide.
    @Test func aHubThreadThatOnlyWaitsForACoreIsNotReported() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            runStarvedHubScenario()
        }
        expectScenarioPassed(result)
    }

    @Test func theMainGreenletBlockingIsReportedToo() throws {
        try withHub {
            let reports = try collectReports {
                try sleep(.zero)  // the hub has run, then main blocks the thread
                spin(milliseconds: 300)
                try sleep(.zero)
            }
            #expect(reports.contains { $0.spawnSite == "(the main greenlet)" })
        }
    }
}

private let spinnersMustStop = Atomic<Bool>(false)

/// The main greenlet runs for 450 ms of wall time without switching while six spinning threads per core
/// take most of the CPU from it: its own code held the thread for well under the 150 ms threshold, so no
/// report. Then it spins 300 ms of its own CPU time alone, which must be reported: the monitor was watching.
private func runStarvedHubScenario() {
    let reports = Mutex<[Monitor.Report]>([])
    Monitor.reportHandler = { report in reports.withLock { $0.append(report) } }
    let hub = Hub.current
    Monitor.start(maxBlockingTime: .milliseconds(150))
    do {
        try sleep(.milliseconds(20))
    } catch {
        require(false, "sleep: \(error)")
    }

    let spinnerCount = 6 * max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    var spinners: [pthread_t] = []
    for _ in 0..<spinnerCount {
        var thread = pthread_t()
        let status = pthread_create(
            &thread,
            nil,
            { _ in
                while !spinnersMustStop.load(ordering: .relaxed) {}
                return nil
            },
            nil
        )
        require(status == 0, "pthread_create: \(status)")
        spinners.append(thread)
    }
    let cpuBefore = threadCPUNanoseconds()
    let end = ContinuousClock.now + .milliseconds(450)
    while ContinuousClock.now < end {}
    let cpuUsed = (threadCPUNanoseconds() - cpuBefore) / 1_000_000
    spinnersMustStop.store(true, ordering: .relaxed)
    for thread in spinners {
        pthread_join(thread, nil)
    }
    do {
        try sleep(.milliseconds(400))  // the monitor looks at least twice more with the cores free
    } catch {
        require(false, "sleep: \(error)")
    }
    require(cpuUsed < 130, "the spinners left the main greenlet \(cpuUsed) ms of CPU in 450 ms: no contention")
    let starved = reports.withLock { $0 }
    require(starved.isEmpty, "a hub that waited for a core was reported: \(starved)")

    spin(milliseconds: 300)
    do {
        try sleep(.milliseconds(400))
    } catch {
        require(false, "sleep: \(error)")
    }
    Monitor.stop()
    let blocked = reports.withLock { $0 }
    require(
        blocked.contains { $0.spawnSite == "(the main greenlet)" },
        "300 ms of the main greenlet's own CPU time was not reported: \(blocked)"
    )
    do {
        try hub.destroy()
    } catch {
        require(false, "destroy: \(error)")
    }
    scenarioPassed()
}

/// Keeps the thread busy for `milliseconds` of its own CPU time, without any system call the shim could
/// make cooperative (other suites in this process may have patched `usleep`). CPU time, not wall time: on
/// a loaded machine the monitor leaves out the time the thread waited for a core, and the blocking it
/// must see is the thread's own.
func spin(milliseconds: Int) {
    let end = threadCPUNanoseconds() + milliseconds * 1_000_000
    var counter = 0
    while threadCPUNanoseconds() < end {
        counter &+= 1
    }
    precondition(counter > 0)
}
