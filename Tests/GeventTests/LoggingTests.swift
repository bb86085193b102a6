import Gevent
import Logging
import Synchronization
import Testing

/// What a ``RecordingLogHandler`` received.
final class LogRecorder: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let storage = Mutex<[Entry]>([])

    var entries: [Entry] { storage.withLock { $0 } }

    func record(_ event: LogEvent) {
        let metadata = (event.metadata ?? [:]).mapValues { "\($0)" }
        storage.withLock { $0.append(Entry(level: event.level, message: "\(event.message)", metadata: metadata)) }
    }
}

/// An application's own LogHandler: keeps every event in a ``LogRecorder``.
struct RecordingLogHandler: LogHandler {
    let recorder: LogRecorder
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        recorder.record(event)
    }
}

/// Runs `body` with ``GeventLogging/logger`` sent to a recorder, then puts the previous logger back.
func withRecordedLogs(_ body: () throws -> Void) rethrows -> [LogRecorder.Entry] {
    let recorder = LogRecorder()
    let previous = GeventLogging.logger
    GeventLogging.logger = Logger(label: "application") { _ in RecordingLogHandler(recorder: recorder) }
    defer { GeventLogging.logger = previous }
    try body()
    return recorder.entries
}

/// swift-gevent's reports go through a swift-log Logger the application can replace.
@Suite("Logging", .serialized, .timeLimit(.minutes(1)))
struct LoggingTests {
    @Test func anUncaughtGreenletErrorReachesTheApplicationsLogHandler() throws {
        let entries = try withRecordedLogs {
            try withHub {
                let failing = spawn { () throws -> Void in throw ExpectedError(tag: "logged") }
                try failing.join()
                #expect(failing.error != nil)
            }
        }
        let entry = try #require(entries.first { $0.message.contains("ExpectedError(tag: \"logged\")") })
        #expect(entry.level == .error)
        #expect(entry.message.contains("failed with ExpectedError"))
        #expect(entry.metadata["gevent-report"] == "error")
        #expect(entry.metadata["error-type"] == "ExpectedError")
        #expect(entry.metadata["greenlet"]?.contains("LoggingTests.swift") == true)
    }

    // Other suites (Monitor) replace the logger while they run, in parallel with this one, so the default
    // is checked in a child process of its own.
    @Test func theDefaultLoggerWritesGeventsFormatThroughItsOwnHandler() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            require(GeventLogging.logger.label == "swift-gevent", "label: \(GeventLogging.logger.label)")
            require(GeventLogging.logger.handler is GeventLogHandler, "handler: \(GeventLogging.logger.handler)")
            scenarioPassed()
        }
        expectScenarioPassed(result)
    }
}
