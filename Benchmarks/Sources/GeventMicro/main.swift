// GeventMicro: swift-gevent's costs, printed in the format of ../shared/bench/micro (one line of
// `key=value` pairs per benchmark; timings are the median and the best of REPS repetitions), so that
// run-core.sh can put them next to boost.context, Go and gevent measured in the same run.
//
//   GeventMicro switch   [ROUND_TRIPS=10000000] [REPS=5]  cgreenlet_switch between two contexts
//   GeventMicro jump     [ROUND_TRIPS=10000000] [REPS=5]  the bare assembly switch, for comparison
//   GeventMicro pingpong [ROUND_TRIPS=2000000]  [REPS=5]  two greenlets handing over with sleep(.zero)
//   GeventMicro spawn    [N=1000000]            [REPS=5]  spawn N empty greenlets, then joinAll
//   GeventMicro spawn1   [N=1000000]            [REPS=5]  spawn one empty greenlet and join it, N times
//   GeventMicro mem      [N=100000]                       N greenlets asleep in sleep(3600 s): RSS per greenlet
//   GeventMicro queue    [ROUND_TRIPS=1000000]  [REPS=5]  ping-pong between two greenlets over two Queue<Int>
//   GeventMicro channel  [ROUND_TRIPS=1000000]  [REPS=5]  the same over two Channel<Int> (rendezvous)
//   GeventMicro tpapply  [N=20000]              [REPS=5]  hub.threadPool.apply { } round trips, one after another
//   GeventMicro poolmap  [N=100000]             [REPS=5]  Pool(size: 100).map over N items
//   GeventMicro subprocess [N=2000]             [REPS=3]  Subprocess(["/bin/true"]).wait(), one after another
//   GeventMicro children [N=100]                [REPS=3]  N greenlets each run `sleep 0.2` at once: wall time
//
// Pin it to one CPU (`taskset -c 0`) as the peers are. Each mode runs in its own process: run-core.sh
// starts one per line.
import CGreenlet
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

// MARK: - Helpers

func argument(_ index: Int, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard arguments.count > index, let parsed = Int(arguments[index]), parsed > 0 else { return value }
    return parsed
}

func nanoseconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) * 1e9 + Double(now.tv_nsec)
}

/// Median and minimum, as the peers report them (the median of an even count is the upper middle).
func medianAndBest(_ values: [Double]) -> (median: Double, best: Double) {
    let sorted = values.sorted()
    return (sorted[sorted.count / 2], sorted[0])
}

/// Runs `prepare` then `run` `reps` times, timing only `run`, and returns the median and the best of its
/// duration divided by `units` (nanoseconds per unit).
func timed<Prepared>(
    reps: Int,
    units: Int,
    prepare: () throws -> Prepared,
    run: (Prepared) throws -> Void
) rethrows -> (median: Double, best: Double) {
    var results: [Double] = []
    for _ in 0..<reps {
        let prepared = try prepare()
        let start = nanoseconds()
        try run(prepared)
        results.append((nanoseconds() - start) / Double(units))
    }
    return medianAndBest(results)
}

func timed(reps: Int, units: Int, _ run: () throws -> Void) rethrows -> (median: Double, best: Double) {
    try timed(reps: reps, units: units, prepare: {}, run: run)
}

/// Prints one line in the format of ../shared/bench/micro: `bench=… impl=… n=… reps=… UNIT=median UNIT_min=best`.
func report(
    _ bench: String,
    impl: String,
    n: Int,
    reps: Int,
    unit: String,
    decimals: Int,
    _ result: (median: Double, best: Double)
) {
    print(
        "bench=\(bench) impl=\(impl) n=\(n) reps=\(reps) \(unit)=\(format(result.median, decimals: decimals)) "
            + "\(unit)_min=\(format(result.best, decimals: decimals))"
    )
}

func format(_ value: Double, decimals: Int) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.\(decimals)f", $0) }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// A field of /proc/self/status in KiB (VmRSS, VmPTE), or -1.
func procStatusKiB(_ field: String) -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return -1 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    let prefix = field + ":"
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(prefix) {
            // "VmRSS:\t  123456 kB": the number is the first field after the colon, past tabs and spaces.
            let fields = text.dropFirst(prefix.count).split { $0 == " " || $0 == "\t" || $0 == "\n" }
            return Int(fields.first ?? "") ?? -1
        }
    }
    return -1
}

/// Lines of /proc/self/maps: the process's memory mappings, which vm.max_map_count limits.
func mappingCount() -> Int {
    guard let file = fopen("/proc/self/maps", "r") else { return -1 }
    defer { fclose(file) }
    var count = 0
    while true {
        let c = getc(file)
        if c == EOF { break }
        if c == 10 { count += 1 }
    }
    return count
}

func readSysctl(_ path: String) -> Int {
    guard let file = fopen(path, "r") else { return -1 }
    defer { fclose(file) }
    var value = 0
    _ = withVaList([withUnsafeMutablePointer(to: &value) { $0 }]) { vfscanf(file, "%ld", $0) }
    return value
}

// MARK: - Raw switch

func partnerEntry(_ argument: UnsafeMutableRawPointer?) {
    let pair = argument!.assumingMemoryBound(to: cgreenlet_t.self)
    while true {
        cgreenlet_switch(pair + 1, pair)
    }
}

func partnerJump(_ argument: UnsafeMutableRawPointer?) {
    let pair = argument!.assumingMemoryBound(to: cgreenlet_t.self)
    while true {
        gevent_ctx_jump(&pair[1].sp, pair[0].sp)
    }
}

/// cgreenlet_switch (errno saved and restored, Swift's exclusivity access set swapped, the thread's current
/// greenlet updated, then the assembly switch), or with `bare` only gevent_ctx_jump. One round trip = 2
/// switches.
func benchSwitch(bare: Bool, impl: String) {
    let roundTrips = argument(2, default: 10_000_000)
    let reps = argument(3, default: 5)
    // [0] the thread's own stack, [1] a greenlet stack that switches straight back, forever.
    let contexts = UnsafeMutablePointer<cgreenlet_t>.allocate(capacity: 2)
    contexts.initialize(repeating: cgreenlet_t(), count: 2)
    cgreenlet_init_main(contexts)
    cgreenlet_set_current(contexts)
    let status =
        bare
        ? cgreenlet_init(contexts + 1, 64 * 1024, partnerJump, contexts)
        : cgreenlet_init(contexts + 1, 64 * 1024, partnerEntry, contexts)
    precondition(status == 0, "could not map a stack: errno \(status)")
    let result: (median: Double, best: Double)
    if bare {
        gevent_ctx_jump(&contexts[0].sp, contexts[1].sp)  // the first entry runs cgreenlet's boot code
        result = timed(reps: reps, units: 2 * roundTrips) {
            for _ in 0..<roundTrips {
                gevent_ctx_jump(&contexts[0].sp, contexts[1].sp)
            }
        }
    } else {
        cgreenlet_switch(contexts, contexts + 1)
        result = timed(reps: reps, units: 2 * roundTrips) {
            for _ in 0..<roundTrips {
                cgreenlet_switch(contexts, contexts + 1)
            }
        }
    }
    report("ctx_switch", impl: impl, n: roundTrips, reps: reps, unit: "ns_per_switch", decimals: 1, result)
}

// MARK: - Greenlet ping-pong through the hub

/// Two greenlets each call sleep(.zero) ROUND_TRIPS times: every call hands control to the other through
/// the hub's callback queue (greenlet → hub → other greenlet). A round trip is two hand-overs, like Go's
/// ping-pong over unbuffered channels is two goroutine switches; ns_per_switch is per hand-over.
func benchPingPong() throws {
    let roundTrips = argument(2, default: 2_000_000)
    let reps = argument(3, default: 5)
    let player = { () throws -> Void in
        for _ in 0..<roundTrips {
            try sleep(.zero)
        }
    }
    // Both start in the hub's next callback round, inside the measurement, as Go's goroutine start is not
    // (a few hundred ns: negligible at this N).
    let result = try timed(
        reps: reps,
        units: 2 * roundTrips,
        prepare: { [spawn(player), spawn(player)] },
        run: { _ = try joinAll($0) }
    )
    report(
        "pingpong",
        impl: "swift-gevent.sleep0",
        n: roundTrips,
        reps: reps,
        unit: "ns_per_switch",
        decimals: 1,
        result
    )
}

// MARK: - Spawn and join

/// N empty greenlets spawned, then joinAll (Go: N goroutines + WaitGroup; gevent: spawn + joinall).
func benchSpawn() throws {
    let count = argument(2, default: 1_000_000)
    let reps = argument(3, default: 5)
    let result = try timed(reps: reps, units: count) {
        var greenlets: [AnyGreenlet] = []
        greenlets.reserveCapacity(count)
        for _ in 0..<count {
            greenlets.append(spawn {})
        }
        try joinAll(greenlets)
    }
    report("spawn_join", impl: "swift-gevent", n: count, reps: reps, unit: "ns_per_task", decimals: 0, result)
}

/// One empty greenlet at a time: spawn, join, repeat (the latency of the whole life cycle).
func benchSpawnOne() throws {
    let count = argument(2, default: 1_000_000)
    let reps = argument(3, default: 5)
    let result = try timed(reps: reps, units: count) {
        for _ in 0..<count {
            try spawn {}.join()
        }
    }
    report("spawn_join_one", impl: "swift-gevent", n: count, reps: reps, unit: "ns_per_task", decimals: 0, result)
}

// MARK: - Idle memory

/// N greenlets asleep in sleep(3600 s): growth of VmRSS once all have started, per greenlet. Page tables
/// (VmPTE) are not part of RSS and are reported separately, as are the process's mappings (a few per slab of
/// stacks with MADV_GUARD_INSTALL guard regions, two per stack with mprotect ones).
func benchMemory() throws {
    let count = argument(2, default: 100_000)
    let hub = Hub.current
    try sleep(.zero)  // the hub's loop and its greenlet's stack exist before the baseline
    let mapLimit = readSysctl("/proc/sys/vm/max_map_count")
    let mapsBefore = mappingCount()
    let rssBefore = procStatusKiB("VmRSS")
    let pteBefore = procStatusKiB("VmPTE")
    var started = 0
    var greenlets: [AnyGreenlet] = []
    greenlets.reserveCapacity(count)
    for _ in 0..<count {
        greenlets.append(
            spawn {
                started += 1
                try sleep(.seconds(3600))
            }
        )
    }
    // Every start is queued before this sleep's wake-up, so all have run (and blocked, or failed to get a
    // stack) when it returns.
    try sleep(.zero)
    let rssAfter = procStatusKiB("VmRSS")
    let pteAfter = procStatusKiB("VmPTE")
    let mapsAfter = mappingCount()
    let failed = greenlets.count { $0.isReady }
    let perTask = Double(rssAfter - rssBefore) * 1024 / Double(count)
    let ptePerTask = Double(pteAfter - pteBefore) * 1024 / Double(count)
    print(
        "bench=idle_mem impl=swift-gevent n=\(count) started=\(started) failed=\(failed) "
            + "rss_delta_kib=\(rssAfter - rssBefore) bytes_per_task=\(format(perTask, decimals: 0)) "
            + "rss_mib_per_100k=\(format(perTask * 100_000 / 1_048_576, decimals: 1)) scaled=0 "
            + "pte_bytes_per_task=\(format(ptePerTask, decimals: 0)) mappings=\(mapsAfter) "
            + "mappings_per_task=\(format(Double(mapsAfter - mapsBefore) / Double(count), decimals: 2)) "
            + "max_map_count=\(mapLimit) live=\(hub.liveCount)"
    )
    fflush(stdout)
    // Skip tearing down N greenlets (as the gevent peer does with os._exit).
    _exit(started == count && failed == 0 ? 0 : 1)
}

// MARK: - Coordination (issue 3)

/// Greenlet A puts into `ping` and gets from `pong`; B gets from `ping` and puts into `pong`. Every item is a
/// hand-over from one greenlet to the other, like Go's ping-pong over two unbuffered channels (two
/// goroutine switches per round trip); ns_per_switch is per hand-over.
func benchQueuePingPong(channel: Bool) throws {
    let roundTrips = argument(2, default: 1_000_000)
    let reps = argument(3, default: 5)
    let result = try timed(
        reps: reps,
        units: 2 * roundTrips,
        prepare: {
            channel
                ? players(Channel<Int>(), Channel<Int>(), roundTrips) : players(Queue<Int>(), Queue<Int>(), roundTrips)
        },
        run: { players in
            let finished = try joinAll(players, raiseError: true)
            precondition(finished.count == 2, "a player did not finish")
        }
    )
    let impl = channel ? "swift-gevent.channel" : "swift-gevent.queue"
    report("queue_pingpong", impl: impl, n: roundTrips, reps: reps, unit: "ns_per_switch", decimals: 1, result)
}

/// The two players of a ping-pong over `ping` and `pong`, spawned (they start on the hub's next round).
func players<Q: PingPongQueue>(_ ping: Q, _ pong: Q, _ roundTrips: Int) -> [AnyGreenlet] {
    let first = spawn {
        for i in 0..<roundTrips {
            try ping.put(i)
            _ = try pong.get()
        }
    }
    let second = spawn {
        for _ in 0..<roundTrips {
            try pong.put(try ping.get())
        }
    }
    return [first, second]
}

/// What the ping-pong needs of Queue and Channel (blocking put and get of an Int).
protocol PingPongQueue {
    func put(_ item: Int, block: Bool, timeout: Duration?) throws
    func get(block: Bool, timeout: Duration?) throws -> Int
}

extension PingPongQueue {
    func put(_ item: Int) throws { try put(item, block: true, timeout: nil) }
    func get() throws -> Int { try get(block: true, timeout: nil) }
}

extension Queue: PingPongQueue where T == Int {}
extension Channel: PingPongQueue where T == Int {}

/// `hub.threadPool.apply { }` N times in a row: submit to a native worker, block the greenlet, the worker's
/// result wakes the hub through its async watcher, the greenlet resumes (gevent: threadpool.apply).
func benchThreadPoolApply() throws {
    let count = argument(2, default: 20_000)
    let reps = argument(3, default: 5)
    let pool = Hub.current.threadPool
    _ = try pool.apply { 0 }  // the first worker exists before the clock starts
    var sum = 0
    let result = try timed(reps: reps, units: count) {
        for i in 0..<count {
            sum &+= try pool.apply { i }
        }
    }
    precondition(sum == reps * (count * (count - 1) / 2), "lost results")
    report("threadpool_apply", impl: "swift-gevent", n: count, reps: reps, unit: "ns_per_call", decimals: 0, result)
}

/// `Pool(size: 100).map` over N integers with a trivial transform: the pool's own cost per item (a
/// greenlet per item, at most 100 alive, results in order).
func benchPoolMap() throws {
    let count = argument(2, default: 100_000)
    let reps = argument(3, default: 5)
    let result = try timed(
        reps: reps,
        units: count,
        prepare: { Pool(size: 100) },
        run: { pool in
            let mapped = try pool.map(0..<count) { $0 &+ 1 }
            precondition(mapped.count == count && mapped.last == count, "map lost items")
        }
    )
    report("pool_map", impl: "swift-gevent.pool100", n: count, reps: reps, unit: "ns_per_item", decimals: 0, result)
}

// MARK: - Processes

func benchSubprocess() throws {
    let count = argument(2, default: 2000)
    let reps = argument(3, default: 3)
    let hub = Hub.current
    defer { try? hub.destroy() }
    let result = try timed(reps: reps, units: count) {
        for _ in 0..<count {
            try Subprocess(["/bin/true"]).wait()
        }
    }
    report("spawn_wait_true", impl: "swift-gevent", n: count, reps: reps, unit: "ns_per_spawn", decimals: 0, result)
}

func benchConcurrentChildren() throws {
    let count = argument(2, default: 100)
    let reps = argument(3, default: 3)
    let hub = Hub.current
    defer { try? hub.destroy() }
    let result = try timed(reps: reps, units: 1_000_000) {
        let jobs = (0..<count).map { _ in
            spawn { try Subprocess(["/bin/sleep", "0.2"]).wait() }
        }
        _ = try joinAll(jobs, raiseError: true)
    }
    report("children_sleep_0.2", impl: "swift-gevent", n: count, reps: reps, unit: "wall_ms", decimals: 1, result)
}

// MARK: - Main

let usage = "usage: GeventMicro switch|jump|pingpong|spawn|spawn1|mem|queue|channel|tpapply|poolmap|subprocess|children [N] [REPS]\n"
let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : ""
setvbuf(stdout, nil, _IOLBF, 0)
do {
    switch mode {
    case "switch": benchSwitch(bare: false, impl: "swift-gevent")
    case "jump": benchSwitch(bare: true, impl: "swift-gevent.ctx_jump")
    case "switch-noex":
        cgreenlet_set_exclusivity_swap(false)
        benchSwitch(bare: false, impl: "swift-gevent.no_exclusivity_swap")
    case "pingpong": try benchPingPong()
    case "spawn": try benchSpawn()
    case "spawn1": try benchSpawnOne()
    case "queue": try benchQueuePingPong(channel: false)
    case "channel": try benchQueuePingPong(channel: true)
    case "tpapply": try benchThreadPoolApply()
    case "poolmap": try benchPoolMap()
    case "mem": try benchMemory()
    case "subprocess": try benchSubprocess()
    case "children": try benchConcurrentChildren()
    default:
        fputs(usage, stderr)
        exit(2)
    }
} catch {
    fputs("GeventMicro \(mode): \(error)\n", stderr)
    exit(1)
}
