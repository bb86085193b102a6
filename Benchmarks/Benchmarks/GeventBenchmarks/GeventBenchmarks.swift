// Allocation counts and wall-clock per operation of swift-gevent's hot paths, with package-benchmark:
//
//   cd Benchmarks && swift package benchmark
//
// Timings against the peers (Go, gevent, boost.context) come from GeventMicro via run-core.sh, which runs
// them in the same session; this target answers "does the hot path allocate?" (mallocCountTotal per
// iteration: a hand-over between greenlets should allocate nothing).
import Benchmark
import Gevent

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // Two greenlets, each calling sleep(.zero) once per scaled iteration: 2 hand-overs per iteration.
    Benchmark("sleep(.zero) ping-pong") { benchmark in
        let rounds = benchmark.scaledIterations.count
        let player = { () throws -> Void in
            for _ in 0..<rounds { try sleep(.zero) }
        }
        benchmark.startMeasurement()
        let players = [spawn(player), spawn(player)]
        _ = try joinAll(players, raiseError: true)
        benchmark.stopMeasurement()
    }

    // One item through a Queue and back per scaled iteration (2 hand-overs).
    Benchmark("Queue ping-pong") { benchmark in
        let rounds = benchmark.scaledIterations.count
        let ping = Queue<Int>()
        let pong = Queue<Int>()
        benchmark.startMeasurement()
        let first = spawn {
            for i in 0..<rounds {
                try ping.put(i)
                _ = try pong.get()
            }
        }
        let second = spawn {
            for _ in 0..<rounds { try pong.put(try ping.get()) }
        }
        _ = try joinAll([first, second], raiseError: true)
        benchmark.stopMeasurement()
    }

    // Spawn, run and join an empty greenlet, one at a time.
    Benchmark("spawn + join") { benchmark in
        for _ in benchmark.scaledIterations {
            _ = try spawn {}.join()
        }
    }

    // Event set by one greenlet while another waits on it.
    Benchmark("Event wait + set") { benchmark in
        let rounds = benchmark.scaledIterations.count
        let ready = Event()
        let done = Event()
        benchmark.startMeasurement()
        let waiter = spawn {
            for _ in 0..<rounds {
                _ = try ready.wait()
                ready.clear()
                done.set()
            }
        }
        for _ in 0..<rounds {
            ready.set()
            _ = try done.wait()
            done.clear()
        }
        _ = try waiter.join()
        benchmark.stopMeasurement()
    }

    Benchmark(
        "ThreadPool.apply",
        configuration: .init(scalingFactor: .one, maxDuration: .seconds(2), maxIterations: 2_000)
    ) { benchmark in
        let pool = Hub.current.threadPool
        for i in benchmark.scaledIterations {
            blackHole(try pool.apply { i })
        }
    }
}
