import CGreenlet
import CLibev
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Process-wide settings, read once from the `GEVENT_*` environment variables.
///
/// gevent's `gevent.config`. Each hub reads the configuration when it is created, so change it before
/// the first greenlet runs on a thread. Settings:
///
/// | property | variable | default |
/// |---|---|---|
/// | ``stackSize`` | `GEVENT_STACK_SIZE` (bytes, or with a `K`/`M` suffix: `256K`, `1M`) | 256 KiB |
/// | ``backend`` | `GEVENT_BACKEND` (`epoll`, `poll`, `select`, `io_uring`, `linuxaio`) | libev's choice (epoll) |
/// | ``switchInterval`` | `GEVENT_SWITCH_INTERVAL` (seconds, e.g. `0.005`) | 5 ms |
/// | ``monitorThread`` | `GEVENT_MONITOR_THREAD_ENABLE` (`1`, `true`, `yes`, `on`) | off |
/// | ``maxBlockingTime`` | `GEVENT_MAX_BLOCKING_TIME` (seconds) | 0.1 s |
///
/// A value that cannot be parsed is reported once on stderr with the accepted form, and the default is
/// used: a typo never stops a program.
///
/// Reading and writing ``current`` never switches and is safe from any thread.
public struct GeventConfig: Sendable {
    /// The libev backend a hub's loop uses.
    public enum Backend: String, Sendable, CaseIterable {
        /// `epoll(7)`, libev's default on Linux.
        case epoll
        /// `poll(2)`.
        case poll
        /// `select(2)`.
        case select
        /// Linux `io_uring` (libev 4.33 marks it experimental).
        case ioUring = "io_uring"
        /// Linux AIO (experimental in libev).
        case linuxAIO = "linuxaio"

        var flag: UInt32 {
            switch self {
            case .epoll: return gevent_EVBACKEND_EPOLL
            case .poll: return gevent_EVBACKEND_POLL
            case .select: return gevent_EVBACKEND_SELECT
            case .ioUring: return gevent_EVBACKEND_IOURING
            case .linuxAIO: return gevent_EVBACKEND_LINUXAIO
            }
        }
    }

    /// Usable bytes of each greenlet stack (a guard region comes on top). Rounded up to whole pages,
    /// at least 16 KiB.
    public var stackSize: Int
    /// The loop backend, or `nil` for libev's automatic choice.
    public var backend: Backend?
    /// How long the hub may run queued callbacks (started greenlets, `sleep(.zero)` wake-ups) before it
    /// polls for I/O and timers again.
    public var switchInterval: Duration
    /// Start the ``Monitor`` thread with the first hub.
    public var monitorThread: Bool
    /// How long a hub may run without switching before the ``Monitor`` reports it.
    public var maxBlockingTime: Duration

    /// The built-in defaults, ignoring the environment.
    public static let defaults = GeventConfig(
        stackSize: 256 * 1024,
        backend: nil,
        switchInterval: .milliseconds(5),
        monitorThread: false,
        maxBlockingTime: .milliseconds(100)
    )

    /// Creates a configuration. Never switches; any thread.
    public init(
        stackSize: Int,
        backend: Backend?,
        switchInterval: Duration,
        monitorThread: Bool = false,
        maxBlockingTime: Duration = .milliseconds(100)
    ) {
        self.stackSize = stackSize
        self.backend = backend
        self.switchInterval = switchInterval
        self.monitorThread = monitorThread
        self.maxBlockingTime = maxBlockingTime
    }

    /// Reads the `GEVENT_*` variables on top of ``defaults``; unparseable values are reported on stderr
    /// and ignored. Never switches; any thread.
    public static func fromEnvironment() -> GeventConfig {
        var config = GeventConfig.defaults
        if let text = environment("GEVENT_STACK_SIZE") {
            if let size = parseSize(text), size >= 16 * 1024 {
                config.stackSize = size
            } else {
                warn(
                    "GEVENT_STACK_SIZE=\(text) is not a stack size of at least 16K; give bytes or a K/M suffix "
                        + "(for example 512K or 1M); using \(config.stackSize / 1024)K"
                )
            }
        }
        if let text = environment("GEVENT_BACKEND") {
            if let backend = Backend(rawValue: text.lowercased()) {
                config.backend = backend
            } else {
                let names = Backend.allCases.map(\.rawValue).joined(separator: ", ")
                warn("GEVENT_BACKEND=\(text) is not a libev backend (\(names)); using libev's default")
            }
        }
        if let text = environment("GEVENT_SWITCH_INTERVAL") {
            if let seconds = Double(text), seconds > 0, seconds < 10 {
                config.switchInterval = .nanoseconds(Int64(seconds * 1e9))
            } else {
                warn("GEVENT_SWITCH_INTERVAL=\(text) is not a number of seconds in (0, 10); using 0.005")
            }
        }
        if let text = environment("GEVENT_MONITOR_THREAD_ENABLE") {
            switch text.lowercased() {
            case "1", "true", "yes", "on": config.monitorThread = true
            case "0", "false", "no", "off": config.monitorThread = false
            default: warn("GEVENT_MONITOR_THREAD_ENABLE=\(text) is not a boolean (1/0, true/false); monitor stays off")
            }
        }
        if let text = environment("GEVENT_MAX_BLOCKING_TIME") {
            if let seconds = Double(text), seconds >= 0.001, seconds <= 3600 {
                config.maxBlockingTime = .nanoseconds(Int64(seconds * 1e9))
            } else {
                warn("GEVENT_MAX_BLOCKING_TIME=\(text) is not a number of seconds in [0.001, 3600]; using 0.1")
            }
        }
        return config
    }

    /// The configuration new hubs use. Initially ``fromEnvironment()``. Any thread; never switches.
    public static var current: GeventConfig {
        get { storage.withLock { $0 } }
        set {
            storage.withLock { $0 = newValue }
            cgreenlet_set_default_stack_size(newValue.stackSize)
        }
    }

    private static let storage: Mutex<GeventConfig> = {
        let config = GeventConfig.fromEnvironment()
        cgreenlet_set_default_stack_size(config.stackSize)
        return Mutex(config)
    }()

    /// Parses "262144", "256K", "256k", "1M", "1MiB" into bytes.
    static func parseSize(_ text: String) -> Int? {
        var digits = Substring(text.trimmingSpaces())
        var multiplier = 1
        for (suffix, factor) in [("KiB", 1024), ("MiB", 1_048_576), ("K", 1024), ("M", 1_048_576), ("k", 1024)]
        where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            multiplier = factor
            break
        }
        guard let value = Int(digits), value > 0, value <= Int.max / multiplier else { return nil }
        return value * multiplier
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }

    private static func warn(_ message: String) {
        writeToStandardError("swift-gevent: \(message)\n")
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
