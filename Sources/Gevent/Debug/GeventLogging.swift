import Logging

/// Where swift-gevent's reports go: one swift-log `Logger` for the whole process, which the application
/// may replace.
///
/// Reports are rare and always worth reading: an error a greenlet, a raw link or a server ended with
/// (when the hub has no ``Hub/errorHandler``), ``Monitor`` reports (when there is no
/// ``Monitor/reportHandler``), and warnings about the set-up (a bad `GEVENT_*` value, `Monkey.patch`
/// while other threads run, c-ares failing to start). By default they go to stderr in gevent's format,
/// through ``GeventLogHandler``. To send them to the application's own logging, assign a logger:
///
/// ```swift
/// LoggingSystem.bootstrap(MyLogHandler.init)
/// GeventLogging.logger = Logger(label: "swift-gevent")
/// ```
///
/// Errors are logged at `.error`, monitor reports and warnings at `.warning`. Every report carries the
/// metadata key `gevent-report` (`error`, `monitor` or `warning`); errors add `greenlet` and
/// `error-type`, monitor reports `thread-id`, `blocked-seconds`, `max-blocking-seconds` and, when a
/// greenlet was running, `spawn-site`.
///
/// Preloaded C code reports problems found before `main` (an unknown `GEVENT_PATCH` area) on stderr
/// directly: they happen before the application could replace the logger.
///
/// Everything here may be called from any thread and never switches greenlets; the handler is called on
/// the thread that reports (the hub's, or the monitor thread), outside any lock of swift-gevent.
public enum GeventLogging {
    private static let storage = LockedLogger(
        Logger(label: "swift-gevent", factory: { GeventLogHandler(label: $0) })
    )

    /// The logger every report goes through; by default a ``GeventLogHandler`` labelled `swift-gevent`.
    public static var logger: Logger {
        get { storage.value }
        set { storage.value = newValue }
    }
}

/// gevent's report format on stderr: `<label>: <message>` for warnings, and for errors the UTC time
/// first, as gevent prints an uncaught greenlet error (`2026-11-22T07:40:38Z <greenlet …> failed with
/// …`). One `write(2)` per report, unbuffered, so reports interleave correctly with C code writing to
/// stderr. Metadata is not printed: the message says everything.
///
/// A value type, as swift-log requires; ``log(event:)`` may be called from any thread and never switches
/// greenlets.
public struct GeventLogHandler: LogHandler {
    /// The prefix of warnings ("swift-gevent").
    public let label: String
    /// The lowest level written; `.info` by default.
    public var logLevel: Logger.Level = .info
    /// Metadata of this handler (kept, not printed).
    public var metadata: Logger.Metadata = [:]

    /// A handler writing reports labelled `label`; usable as a `LoggingSystem.bootstrap` factory.
    public init(label: String) {
        self.label = label
    }

    /// Metadata of this handler by key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes `event` to stderr in gevent's format.
    public func log(event: LogEvent) {
        if event.level >= .error {
            writeToStandardError("\(utcTimestamp()) \(event.message)\n")
        } else {
            writeToStandardError("\(label): \(event.message)\n")
        }
    }
}

/// Reports a problem with the set-up (a bad setting, a fallback) through ``GeventLogging/logger``.
func reportWarning(_ message: String) {
    GeventLogging.logger.warning("\(message)", metadata: ["gevent-report": "warning"])
}

/// The process-wide logger behind a pthread mutex (ThreadSanitizer does not see Synchronization.Mutex).
private final class LockedLogger {
    private let lock = NativeCondition()
    private var stored: Logger  // guarded by `lock`

    init(_ logger: Logger) {
        stored = logger
    }

    var value: Logger {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

extension LockedLogger: @unchecked Sendable {
    // `stored` is only read or written with `lock` held.
}
