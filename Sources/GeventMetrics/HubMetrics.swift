import CGeventShim
import CoreMetrics
import Gevent
import Logging
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Publishes a hub's `Hub.Statistics` through swift-metrics, every `interval`.
///
/// ```swift
/// MetricsSystem.bootstrap(PrometheusMetricsFactory())   // the application's backend, first
/// let metrics = HubMetrics()                            // for the calling thread's hub
/// metrics.start()
/// ```
///
/// The hub itself only keeps plain integers (one addition per switch, nothing allocated); this object
/// reads them on the hub's thread and reports the change since its last reading. Each metric carries the
/// dimension `hub` (by default `thread-<Linux thread id>`):
///
/// | metric | kind |
/// |---|---|
/// | `gevent_greenlets` | gauge: greenlets started and not finished |
/// | `gevent_switches_total` | counter: switches from the hub into a greenlet |
/// | `gevent_loop_iterations_total` | counter: event-loop iterations |
/// | `gevent_blocked_seconds_total` | floating-point counter: time blocked beyond the `Monitor`'s threshold |
/// | `gevent_threadpool_queue_depth` | gauge: thread-pool tasks no worker has picked up |
/// | `gevent_threadpool_workers` | gauge: thread-pool worker threads |
/// | `gevent_sockets_open` | gauge: open `Socket`s |
/// | `gevent_server_handlers` | gauge: server handler greenlets running |
/// | `gevent_server_connections_total` | counter: connections accepted by stream servers |
/// | `gevent_server_requests_total` | counter: server handlers started (connections and datagrams) |
///
/// The metric objects are made when this object is created, from `factory` (by default
/// `MetricsSystem.factory`): create it after bootstrapping. Without a backend swift-metrics hands out
/// no-op handlers, and nothing is read until ``start()`` or ``publish()``.
///
/// Hub-bound: create and use it on its hub's thread. Nothing here switches greenlets. The readings are
/// taken by a small native timer thread that asks the hub to run them (`Hub.runThreadsafe`), so
/// they do not keep the hub's loop alive.
public final class HubMetrics {
    /// The hub whose statistics are published.
    public let hub: Hub
    /// How often ``start()`` publishes.
    public let interval: Duration
    private let greenlets: Gauge
    private let switches: Counter
    private let loopIterations: Counter
    private let blockedSeconds: FloatingPointCounter
    private let queueDepth: Gauge
    private let workers: Gauge
    private let sockets: Gauge
    private let handlers: Gauge
    private let connections: Counter
    private let requests: Counter
    private var last: Hub.Statistics?
    private var ticker: Ticker?

    /// Makes the metric objects for `hub`.
    ///
    /// Never switches; on `hub`'s thread.
    ///
    /// - Parameters:
    ///   - hub: the hub to publish; by default the calling thread's.
    ///   - interval: how often ``start()`` publishes (at least 1 ms).
    ///   - name: the value of the `hub` dimension; by default `thread-<Linux thread id>`.
    ///   - factory: where the metrics come from; by default `MetricsSystem.factory`.
    public init(
        hub: Hub = .current,
        interval: Duration = .seconds(1),
        name: String? = nil,
        factory: any MetricsFactory = MetricsSystem.factory
    ) {
        precondition(interval >= .milliseconds(1), "HubMetrics interval \(interval): it must be at least 1 ms")
        self.hub = hub
        self.interval = interval
        let dimensions = [("hub", name ?? "thread-\(hub.threadID)")]
        greenlets = Gauge(label: "gevent_greenlets", dimensions: dimensions, factory: factory)
        switches = Counter(label: "gevent_switches_total", dimensions: dimensions, factory: factory)
        loopIterations = Counter(label: "gevent_loop_iterations_total", dimensions: dimensions, factory: factory)
        blockedSeconds = FloatingPointCounter(
            label: "gevent_blocked_seconds_total",
            dimensions: dimensions,
            factory: factory
        )
        queueDepth = Gauge(label: "gevent_threadpool_queue_depth", dimensions: dimensions, factory: factory)
        workers = Gauge(label: "gevent_threadpool_workers", dimensions: dimensions, factory: factory)
        sockets = Gauge(label: "gevent_sockets_open", dimensions: dimensions, factory: factory)
        handlers = Gauge(label: "gevent_server_handlers", dimensions: dimensions, factory: factory)
        connections = Counter(label: "gevent_server_connections_total", dimensions: dimensions, factory: factory)
        requests = Counter(label: "gevent_server_requests_total", dimensions: dimensions, factory: factory)
    }

    deinit {
        ticker?.stop()
    }

    /// Reads the hub's statistics now and reports them: gauges as they are, counters by how much they
    /// grew since the last reading (the first reading reports everything counted so far).
    ///
    /// Never switches; on the hub's thread.
    public func publish() {
        let now = hub.statistics
        let before = last
        last = now
        greenlets.record(now.liveGreenlets)
        queueDepth.record(now.threadPoolQueueDepth)
        workers.record(now.threadPoolWorkers)
        sockets.record(now.openSockets)
        handlers.record(now.serverHandlersRunning)
        switches.increment(by: Int64(truncatingIfNeeded: now.switches &- (before?.switches ?? 0)))
        loopIterations.increment(by: Int64(truncatingIfNeeded: now.loopIterations &- (before?.loopIterations ?? 0)))
        connections.increment(by: Int64(truncatingIfNeeded: now.serverConnections &- (before?.serverConnections ?? 0)))
        requests.increment(by: Int64(truncatingIfNeeded: now.serverRequests &- (before?.serverRequests ?? 0)))
        let blocked = now.blockedBeyondThreshold - (before?.blockedBeyondThreshold ?? .zero)
        if blocked > .zero {
            blockedSeconds.increment(by: Double(blocked / .nanoseconds(1)) / 1e9)
        }
    }

    /// Publishes every ``interval`` from now on, until ``stop()``, this object goes away, or the hub is
    /// destroyed. A second call does nothing.
    ///
    /// Starts one native thread. Never switches; on the hub's thread.
    public func start() {
        guard ticker == nil else { return }
        let target = HubBound(self)
        ticker = Ticker(interval: interval, hub: HubBound(hub)) { [target] in target.value?.publish() }
    }

    /// Stops publishing (the timer thread ends within one interval). Never switches; on the hub's thread.
    public func stop() {
        ticker?.stop()
        ticker = nil
    }
}

/// A hub-bound object carried across threads: only the hub's own thread touches `value`, in a body the
/// hub runs through `runThreadsafe`.
private struct HubBound<Value: AnyObject>: @unchecked Sendable {
    weak var value: Value?

    init(_ value: Value) {
        self.value = value
    }
}

/// The native thread behind ``HubMetrics/start()``: sleeps `interval`, asks the hub to run `tick`, until
/// stopped or the hub is gone.
private final class Ticker: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let interval: Duration
    private let hub: HubBound<Hub>
    private let tick: @Sendable () -> Void

    init(interval: Duration, hub: HubBound<Hub>, tick: @escaping @Sendable () -> Void) {
        self.interval = interval
        self.hub = hub
        self.tick = tick
        var thread = pthread_t()
        let retained = Unmanaged.passRetained(self).toOpaque()
        // An OS thread even when pthread_create is patched to start greenlets.
        let status = gevent_shim_real_pthread_create(
            &thread,
            nil,
            { argument in
                Unmanaged<Ticker>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            },
            retained
        )
        if status == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<Ticker>.fromOpaque(retained).release()
            GeventLogging.logger.warning(
                "HubMetrics: could not start its timer thread (\(String(cString: strerror(status)))); call publish() yourself",
                metadata: ["gevent-report": "warning"]
            )
        }
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func run() {
        let (seconds, attoseconds) = interval.components
        while !stopped.load(ordering: .relaxed) {
            var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&pause, &remaining) != 0 && errno == EINTR {
                pause = remaining
            }
            guard !stopped.load(ordering: .relaxed), let hub = hub.value, hub.runThreadsafe(tick) else { return }
        }
    }
}
