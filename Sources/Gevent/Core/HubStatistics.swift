import CLibev

/// What a hub counts as it runs: plain integers bumped on the hub's thread (no atomics, no allocation),
/// read by ``Hub/statistics``.
struct HubCounters {
    /// Switches from the hub into a greenlet (each is followed by one back).
    var switches: UInt64 = 0
    /// ``Socket``s of this hub that hold a descriptor.
    var openSockets = 0
    /// Server handler greenlets running now (``StreamServer`` connections, ``DatagramServer`` datagrams).
    var serverHandlersRunning = 0
    /// ``StreamServer`` connections accepted.
    var serverConnections: UInt64 = 0
    /// Server handlers started: one per ``StreamServer`` connection and per ``DatagramServer`` datagram.
    var serverRequests: UInt64 = 0
}

extension Hub {
    /// A snapshot of a hub's health: what it runs, how busy it is, what it holds open.
    ///
    /// Counters only ever grow (they wrap at `UInt64.max`); the rest are values at the moment of the
    /// snapshot. Keeping them costs one integer addition per switch; reading them is ``Hub/statistics``.
    /// The `GeventMetrics` module publishes them through swift-metrics.
    public struct Statistics: Sendable, Equatable {
        /// Greenlets started and not finished (``Hub/liveCount``).
        public var liveGreenlets: Int
        /// Switches from the hub into a greenlet since the hub was created.
        public var switches: UInt64
        /// Event-loop iterations (libev's `ev_iteration`).
        public var loopIterations: UInt64
        /// Time this hub's thread went without switching for longer than the ``Monitor``'s threshold,
        /// summed over the episodes the monitor saw (measured to its period; zero while it is off).
        public var blockedBeyondThreshold: Duration
        /// Tasks submitted to the hub's ``ThreadPool`` that no worker has picked up yet (0 without a pool).
        public var threadPoolQueueDepth: Int
        /// Worker threads of the hub's ``ThreadPool`` alive now, busy or idle (0 without a pool).
        public var threadPoolWorkers: Int
        /// ``Socket``s of this hub that hold an open descriptor.
        public var openSockets: Int
        /// Server handler greenlets running now, over every server of the hub.
        public var serverHandlersRunning: Int
        /// Connections ``StreamServer``s of this hub accepted.
        public var serverConnections: UInt64
        /// Server handlers started: one per ``StreamServer`` connection and one per ``DatagramServer``
        /// datagram.
        public var serverRequests: UInt64
    }

    /// The Linux thread id of the hub's thread (what ``Monitor/Report/threadID`` names). Never switches;
    /// any thread.
    public var threadID: Int32 { activity.threadID }

    /// This hub's counters and gauges now.
    ///
    /// Never switches; hub thread only.
    public var statistics: Statistics {
        preconditionOnHubThread("Hub.statistics")
        let pool = threadPoolStorage
        return Statistics(
            liveGreenlets: liveCount,
            switches: counters.switches,
            loopIterations: UInt64(gevent_ev_iteration(loop)),
            blockedBeyondThreshold: .nanoseconds(activity.blockedNanoseconds),
            threadPoolQueueDepth: pool?.queuedCount ?? 0,
            threadPoolWorkers: pool?.threadCount ?? 0,
            openSockets: counters.openSockets,
            serverHandlersRunning: counters.serverHandlersRunning,
            serverConnections: counters.serverConnections,
            serverRequests: counters.serverRequests
        )
    }
}
