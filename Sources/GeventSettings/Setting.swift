#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// Every `GEVENT_*` variable: its name, the `gevent-run` option that sets it, the values it accepts, its
/// default and what it does.
///
/// The one table of settings: `GeventConfig` reads the variables by these names with ``SettingParser``,
/// `gevent-run --help` prints ``helpText(width:)`` and INSTALL.md holds ``markdownTable``, which a test
/// compares. Nothing here switches greenlets; any thread.
public enum Setting: CaseIterable, Hashable, Sendable {
    /// `GEVENT_PATCH`: the areas the preload library patches when it loads.
    case patch
    /// `GEVENT_RESOLVER`: the hub's resolver (Python gevent reads it too).
    case resolver
    /// `GEVENT_SWIFT_RESOLVER`: swift-gevent's resolver only, over `GEVENT_RESOLVER`.
    case swiftResolver
    /// `GEVENT_RESOLVER_NAMESERVERS`: the c-ares resolver's name servers.
    case resolverNameservers
    /// `GEVENT_RESOLVER_TIMEOUT`: the c-ares resolver's wait per try.
    case resolverTimeout
    /// `GEVENT_THREADPOOL_SIZE`: the most threads of a hub's thread pool.
    case threadPoolSize
    /// `GEVENT_THREADPOOL_IDLE_TIMEOUT`: how long an idle pool thread waits for work before it exits.
    case threadPoolIdleTimeout
    /// `GEVENT_STACK_SIZE`: usable bytes per greenlet stack.
    case stackSize
    /// `GEVENT_STACK_GUARD`: how the guard region below each greenlet stack is made.
    case stackGuard
    /// `GEVENT_BACKEND`: the libev backend.
    case backend
    /// `GEVENT_SWITCH_INTERVAL`: how long the hub runs queued callbacks before it polls again.
    case switchInterval
    /// `GEVENT_MONITOR_THREAD_ENABLE`: start the monitor thread with the first hub.
    case monitorThread
    /// `GEVENT_MAX_BLOCKING_TIME`: how long a hub may run without switching before the monitor reports it.
    case maxBlockingTime
    /// `GEVENT_PRELOAD_PATH`: where `gevent-run` finds the preload library.
    case preloadPath

    /// The environment variable.
    public var variable: String {
        switch self {
        case .patch: return "GEVENT_PATCH"
        case .resolver: return "GEVENT_RESOLVER"
        case .swiftResolver: return "GEVENT_SWIFT_RESOLVER"
        case .resolverNameservers: return "GEVENT_RESOLVER_NAMESERVERS"
        case .resolverTimeout: return "GEVENT_RESOLVER_TIMEOUT"
        case .threadPoolSize: return "GEVENT_THREADPOOL_SIZE"
        case .threadPoolIdleTimeout: return "GEVENT_THREADPOOL_IDLE_TIMEOUT"
        case .stackSize: return "GEVENT_STACK_SIZE"
        case .stackGuard: return "GEVENT_STACK_GUARD"
        case .backend: return "GEVENT_BACKEND"
        case .switchInterval: return "GEVENT_SWITCH_INTERVAL"
        case .monitorThread: return "GEVENT_MONITOR_THREAD_ENABLE"
        case .maxBlockingTime: return "GEVENT_MAX_BLOCKING_TIME"
        case .preloadPath: return "GEVENT_PRELOAD_PATH"
        }
    }

    /// The `gevent-run` option that sets the variable for the program, if there is one.
    public var launcherOption: String? {
        switch self {
        case .patch: return "--patch"
        case .swiftResolver: return "--resolver"
        case .stackSize: return "--stack-size"
        default: return nil
        }
    }

    /// The smallest greenlet stack: smaller ones cannot hold a Swift call chain of a few frames.
    public static let minimumStackSize = 16 * 1024

    /// The durations a duration setting accepts (`nil` for the others).
    public var durationRange: ClosedRange<Duration>? {
        switch self {
        case .resolverTimeout: return .nanoseconds(1) ... .seconds(3600)
        case .threadPoolIdleTimeout: return .milliseconds(1) ... .seconds(86_400)
        case .switchInterval: return .nanoseconds(1) ... .seconds(10)
        case .maxBlockingTime: return .milliseconds(1) ... .seconds(3600)
        default: return nil
        }
    }

    /// The values accepted, as the table shows them.
    public var values: String {
        switch self {
        case .patch: return MonkeyArea.listForms
        case .resolver, .swiftResolver:
            return SettingParser.namesList(ResolverKind.self)
                + ", or a comma-separated list whose first known name wins"
        case .resolverNameservers: return "a comma-separated list of servers: 1.2.3.4, 1.2.3.4:5353, [::1]:53"
        case .threadPoolSize: return "a whole number of at least 1"
        case .stackSize:
            return "at least \(SettingParser.formatSize(Self.minimumStackSize)): \(SettingParser.sizeForms)"
        case .stackGuard: return SettingParser.namesList(StackGuardKind.self)
        case .backend: return SettingParser.namesList(LoopBackend.self)
        case .monitorThread: return SettingParser.booleanForms
        case .preloadPath: return "a path to libGeventPreload.so"
        case .resolverTimeout, .threadPoolIdleTimeout, .switchInterval, .maxBlockingTime:
            let range = durationRange!
            return "a duration from \(SettingParser.formatDuration(range.lowerBound)) to "
                + "\(SettingParser.formatDuration(range.upperBound)): \(SettingParser.durationForms)"
        }
    }

    /// The value used when the variable is unset, empty or unusable, as the table shows it.
    public var defaultValue: String {
        switch self {
        case .patch: return "all"
        case .resolver: return "thread"
        case .swiftResolver: return "GEVENT_RESOLVER's"
        case .resolverNameservers: return "those of /etc/resolv.conf"
        case .resolverTimeout: return "c-ares's (2s per try)"
        case .threadPoolSize: return "10"
        case .threadPoolIdleTimeout: return "5s"
        case .stackSize: return "256K"
        case .stackGuard: return "auto"
        case .backend: return "libev's choice (epoll)"
        case .switchInterval: return "5ms"
        case .monitorThread: return "off"
        case .maxBlockingTime: return "100ms"
        case .preloadPath: return "next to gevent-run"
        }
    }

    /// What the setting does, as the table shows it.
    public var meaning: String {
        switch self {
        case .patch:
            return "the areas the preload library patches when it loads (programs that link Gevent call Monkey.patch)"
        case .resolver: return "how a hub resolves names; Python gevent reads it too"
        case .swiftResolver:
            return "how a hub resolves names, for swift-gevent only: gevent-run --resolver sets this, not "
                + "GEVENT_RESOLVER, so a Python gevent in the same program keeps its own"
        case .resolverNameservers: return "the name servers of the ares resolver"
        case .resolverTimeout: return "how long the ares resolver waits for a server before it tries again"
        case .threadPoolSize: return "the most threads of a hub's thread pool (thread resolver, offloaded calls)"
        case .threadPoolIdleTimeout: return "how long an idle thread of a hub's pool waits for work before it exits"
        case .stackSize: return "usable bytes per greenlet stack; a guard region comes on top"
        case .stackGuard:
            return "how the guard region below each stack is made: madvise(MADV_GUARD_INSTALL), which costs no "
                + "mapping (Linux 6.13 and later), or mprotect, a mapping per stack; auto picks madvise where the "
                + "kernel has it"
        case .backend: return "the libev backend of each hub's loop"
        case .switchInterval: return "how long a hub runs queued callbacks before it polls for I/O and timers again"
        case .monitorThread:
            return "start the monitor thread, which reports greenlets that block their thread, with the first hub"
        case .maxBlockingTime: return "how long a hub may run without switching before the monitor reports it"
        case .preloadPath: return "where gevent-run finds the preload library (gevent-run reads it, nothing else)"
        }
    }

    /// The variable's value, or `nil` when it is unset or empty (both mean "the default"). Never switches;
    /// any thread (as `getenv`: not while another thread changes the environment).
    public func environmentValue() -> String? {
        guard let value = getenv(variable), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    /// The settings table in Markdown (INSTALL.md and the DocC Settings article hold a copy; a test
    /// compares them).
    public static var markdownTable: String {
        var lines = ["| variable | gevent-run | values | default | meaning |", "|---|---|---|---|---|"]
        for setting in allCases {
            let option = setting.launcherOption.map { "`\($0)`" } ?? ""
            lines.append(
                "| `\(setting.variable)` | \(option) | \(setting.values) | \(setting.defaultValue) | \(setting.meaning) |"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The settings table as plain text, each line at most `width` columns (`gevent-run --help`).
    ///
    /// - Parameter width: the widest line; at least 40.
    public static func helpText(width: Int = 78) -> String {
        var lines: [String] = []
        for setting in allCases {
            let option = setting.launcherOption.map { " (\($0))" } ?? ""
            lines.append("  \(setting.variable)\(option), default: \(setting.defaultValue)")
            let body = "\(setting.meaning). Values: \(setting.values)."
            lines += wrap(body, width: max(width, 40), indent: 6)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func wrap(_ text: String, width: Int, indent: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && indent + line.count + 1 + word.count > width {
                lines.append(String(repeating: " ", count: indent) + line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " " + word
        }
        if !line.isEmpty {
            lines.append(String(repeating: " ", count: indent) + line)
        }
        return lines
    }
}
