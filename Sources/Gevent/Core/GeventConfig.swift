import CGeventShim
import CGreenlet
import CLibev
@_exported import GeventSettings
import Synchronization

/// Process-wide settings, read once from the `GEVENT_*` environment variables.
///
/// gevent's `gevent.config`, and the one reader of every `GEVENT_*` variable the runtime uses: the
/// variables, the values they accept and their defaults are the table of `Setting` (the Settings
/// article and INSTALL.md show it), parsed with `SettingParser`, which `gevent-run` uses as well. Each
/// hub reads the configuration when it is created, so change it before the first greenlet runs on a
/// thread.
///
/// A value that cannot be parsed is reported once with the accepted forms, and the default is used: a
/// typo never stops a program.
///
/// The preload library's constructor reads `GEVENT_PATCH` itself, in C, before `main` and before the
/// Swift runtime runs; every other setting of the shim (how interposed lookups resolve) comes from here
/// when the first hub starts, the first moment an interposer can make a call cooperative.
///
/// Reading and writing ``current`` never switches and is safe from any thread.
public struct GeventConfig: Sendable {
    /// The libev backend a hub's loop uses.
    public typealias Backend = LoopBackend

    /// How the guard region below each greenlet stack is made (`GEVENT_STACK_GUARD`).
    public typealias StackGuard = StackGuardKind

    /// Usable bytes of each greenlet stack (a guard region comes on top). Rounded up to whole pages,
    /// at least 16 KiB.
    public var stackSize: Int
    /// How stacks' guard regions are made. Applies to stacks carved after the change.
    public var stackGuard: StackGuard
    /// The loop backend, or `nil` for libev's automatic choice.
    public var backend: Backend?
    /// How long the hub may run queued callbacks (started greenlets, `sleep(.zero)` wake-ups) before it
    /// polls for I/O and timers again.
    public var switchInterval: Duration
    /// Start the ``Monitor`` thread with the first hub.
    public var monitorThread: Bool
    /// How long a hub may run without switching before the ``Monitor`` reports it.
    public var maxBlockingTime: Duration
    /// How hubs resolve names (``Hub/resolver``) and how interposed lookups run: `ResolverKind.block`
    /// calls libc directly; the others run on a thread while the greenlet waits.
    public var resolver: ResolverKind
    /// The name servers of ``AresResolver`` (`1.2.3.4`, `1.2.3.4:5353`, `[::1]:53`); `nil`:
    /// `/etc/resolv.conf`'s.
    public var resolverNameservers: [String]?
    /// How long ``AresResolver`` waits for a server before it tries again; `nil`: c-ares's default.
    public var resolverTimeout: Duration?
    /// The most threads of ``Hub/threadPool``.
    public var threadPoolSize: Int
    /// How long an idle thread of ``Hub/threadPool`` waits for work before it exits.
    public var threadPoolIdleTimeout: Duration

    /// The built-in defaults, ignoring the environment.
    public static let defaults = GeventConfig(
        stackSize: 256 * 1024,
        backend: nil,
        switchInterval: .milliseconds(5),
        monitorThread: false,
        maxBlockingTime: .milliseconds(100),
        stackGuard: .auto
    )

    /// Creates a configuration. Never switches; any thread.
    public init(
        stackSize: Int,
        backend: Backend?,
        switchInterval: Duration,
        monitorThread: Bool = false,
        maxBlockingTime: Duration = .milliseconds(100),
        resolver: ResolverKind = .thread,
        resolverNameservers: [String]? = nil,
        resolverTimeout: Duration? = nil,
        threadPoolSize: Int = 10,
        threadPoolIdleTimeout: Duration = .seconds(5),
        stackGuard: StackGuard = .auto
    ) {
        self.stackSize = stackSize
        self.backend = backend
        self.switchInterval = switchInterval
        self.monitorThread = monitorThread
        self.maxBlockingTime = maxBlockingTime
        self.resolver = resolver
        self.resolverNameservers = resolverNameservers
        self.resolverTimeout = resolverTimeout
        self.threadPoolSize = threadPoolSize
        self.threadPoolIdleTimeout = threadPoolIdleTimeout
        self.stackGuard = stackGuard
    }

    /// Reads the `GEVENT_*` variables on top of ``defaults``; unparseable values are reported and ignored.
    /// Never switches; any thread.
    public static func fromEnvironment() -> GeventConfig {
        var config = GeventConfig.defaults
        read(.stackSize, into: &config.stackSize) { text, source throws(SettingError) in
            try SettingParser.size(text, atLeast: Setting.minimumStackSize, for: source)
        }
        read(.backend, into: &config.backend) { text, source throws(SettingError) in
            try SettingParser.name(text, of: Backend.self, for: source)
        }
        read(.stackGuard, into: &config.stackGuard) { text, source throws(SettingError) in
            try SettingParser.name(text, of: StackGuard.self, for: source)
        }
        readDuration(.switchInterval, into: &config.switchInterval)
        read(.monitorThread, into: &config.monitorThread) { text, source throws(SettingError) in
            try SettingParser.boolean(text, for: source)
        }
        readDuration(.maxBlockingTime, into: &config.maxBlockingTime)
        for setting in [Setting.resolver, .swiftResolver] {
            read(setting, into: &config.resolver) { text, source throws(SettingError) in
                try ResolverKind.parseList(text, for: source)
            }
        }
        read(.resolverNameservers, into: &config.resolverNameservers) { text, source throws(SettingError) in
            try SettingParser.list(text, expected: Setting.resolverNameservers.values, for: source)
        }
        read(.resolverTimeout, into: &config.resolverTimeout) { text, source throws(SettingError) in
            try SettingParser.duration(text, in: Setting.resolverTimeout.durationRange!, for: source)
        }
        read(.threadPoolSize, into: &config.threadPoolSize) { text, source throws(SettingError) in
            try SettingParser.count(text, atLeast: 1, for: source)
        }
        readDuration(.threadPoolIdleTimeout, into: &config.threadPoolIdleTimeout)
        return config
    }

    /// The configuration new hubs use. Initially ``fromEnvironment()``. Any thread; never switches.
    public static var current: GeventConfig {
        get { storage.withLock { $0 } }
        set {
            storage.withLock { $0 = newValue }
            newValue.applyToC()
        }
    }

    private static let storage: Mutex<GeventConfig> = {
        let config = GeventConfig.fromEnvironment()
        config.applyToC()
        return Mutex(config)
    }()

    /// Hands the C code its settings: the greenlet stack size, and how the shim's interposed lookups run.
    private func applyToC() {
        cgreenlet_set_default_stack_size(stackSize)
        cgreenlet_set_stack_guard(stackGuard.cValue)
        let mode: Int32
        switch resolver {
        case .thread: mode = Int32(GEVENT_SHIM_RESOLVER_THREAD)
        case .block: mode = Int32(GEVENT_SHIM_RESOLVER_BLOCK)
        case .ares: mode = Int32(GEVENT_SHIM_RESOLVER_ARES)
        }
        gevent_shim_set_resolver(mode)
    }

    /// Sets `value` from the variable of `setting` when it is set and parses; reports it otherwise.
    private static func read<Value>(
        _ setting: Setting,
        into value: inout Value,
        _ parse: (String, String) throws(SettingError) -> Value
    ) {
        guard let text = setting.environmentValue() else { return }
        do {
            value = try parse(text, setting.variable)
        } catch {
            reportWarning("\(error); using \(setting.defaultValue)")
        }
    }

    private static func readDuration(_ setting: Setting, into value: inout Duration) {
        read(setting, into: &value) { text, source throws(SettingError) in
            try SettingParser.duration(text, in: setting.durationRange!, for: source)
        }
    }
}

extension LoopBackend {
    /// The `EVBACKEND_*` flag of this backend.
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

extension StackGuardKind {
    var cValue: cgreenlet_stack_guard_t {
        switch self {
        case .auto: return CGREENLET_STACK_GUARD_AUTO
        case .madvise: return CGREENLET_STACK_GUARD_MADVISE
        case .mprotect: return CGREENLET_STACK_GUARD_MPROTECT
        }
    }
}
