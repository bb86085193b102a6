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
    /// Runs `body` with the monitor on and returns the reports that name this file.
    private func collectReports(_ body: () throws -> Void) throws -> [Monitor.Report] {
        let reports = Mutex<[Monitor.Report]>([])
        Monitor.reportHandler = { report in
            if report.spawnSite?.contains("MonitorTests.swift") == true || report.spawnSite == "(the main greenlet)" {
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

    @Test func aGreenletThatWaitsCooperativelyIsNotReported() throws {
        try withHub {
            let reports = try collectReports {
                let sleeper = spawn { try sleep(.milliseconds(300)) }
                try sleeper.join()
            }
            #expect(reports.isEmpty, "cooperative waits are not blocking: \(reports)")
        }
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

/// Keeps the thread busy without any system call the shim could make cooperative (other suites in this
/// process may have patched `usleep`).
func spin(milliseconds: Int) {
    let end = ContinuousClock.now + .milliseconds(milliseconds)
    var counter = 0
    while ContinuousClock.now < end {
        counter &+= 1
    }
    precondition(counter > 0)
}
