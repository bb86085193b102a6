import Gevent
import GeventMetrics
import Testing

/// Runs `body` with a fresh hub on this thread and destroys it afterwards.
private func withHub(_ body: (Hub) throws -> Void) throws {
    #expect(Hub.currentIfExists == nil, "a previous test left a hub on this thread")
    let hub = Hub.current
    defer { try? hub.destroy() }
    try body(hub)
}

/// HubMetrics publishes a hub's statistics to whatever swift-metrics backend it is given.
@Suite("HubMetrics", .serialized, .timeLimit(.minutes(1)))
struct HubMetricsTests {
    @Test func countersAndGaugesFollowTheHubsWork() throws {
        let backend = RecordingMetricsFactory()
        try withHub { hub in
            let metrics = HubMetrics(name: "under-test", factory: backend)
            metrics.publish()
            let switches = try #require(backend.handler("gevent_switches_total"))
            let switchesAtStart = switches.total
            #expect(switches.dimensions.map { "\($0.0)=\($0.1)" } == ["hub=under-test"])

            let server = try StreamServer(listener: "127.0.0.1:0") { client, _ in
                _ = try client.recv(maxBytes: 16)  // held open until the client closes
            }
            try server.start()
            let port = try #require(server.address.port)
            let clients = try (0..<3).map { _ in try createConnection(host: "127.0.0.1", port: port) }
            let sleepers = (0..<10).map { _ in spawn { try sleep(.milliseconds(50)) } }
            while server.activeHandlers < 3 { try sleep(.milliseconds(1)) }
            metrics.publish()

            #expect(backend.handler("gevent_greenlets")?.recorded.last ?? 0 >= 13)  // 10 sleepers + 3 handlers
            // The listener, three clients and the three accepted sockets.
            #expect(backend.handler("gevent_sockets_open")?.recorded.last == 7)
            #expect(backend.handler("gevent_server_handlers")?.recorded.last == 3)
            #expect(backend.handler("gevent_server_connections_total")?.total == 3)
            #expect(backend.handler("gevent_server_requests_total")?.total == 3)
            #expect(switches.total > switchesAtStart)
            #expect(backend.handler("gevent_loop_iterations_total")?.total ?? 0 > 0)

            try joinAll(sleepers)
            for client in clients { client.close() }
            try server.stop()
            _ = try hub.threadPool.apply { 42 }
            metrics.publish()
            #expect(backend.handler("gevent_greenlets")?.recorded.last == 0)
            #expect(backend.handler("gevent_sockets_open")?.recorded.last == 0)
            #expect(backend.handler("gevent_server_handlers")?.recorded.last == 0)
            #expect(backend.handler("gevent_threadpool_workers")?.recorded.last ?? 0 >= 1)
            #expect(backend.handler("gevent_threadpool_queue_depth")?.recorded.last == 0)
            // Counters report growth only: a reading with nothing new adds nothing.
            let connections = backend.handler("gevent_server_connections_total")?.total
            metrics.publish()
            #expect(backend.handler("gevent_server_connections_total")?.total == connections)
        }
    }

    @Test func startPublishesEveryIntervalWithoutKeepingTheLoopAlive() throws {
        let backend = RecordingMetricsFactory()
        try withHub { hub in
            let metrics = HubMetrics(interval: .milliseconds(10), factory: backend)
            metrics.start()
            defer { metrics.stop() }
            try sleep(.milliseconds(200))
            let readings = backend.handler("gevent_greenlets")?.recorded.count ?? 0
            #expect(readings >= 3, "\(readings) readings in 200 ms at a 10 ms interval")
            #expect(try hub.join(timeout: .seconds(2)), "the timer thread must not keep the loop alive")
        }
    }
}
