// gevent's threadpool.py: run blocking calls on native threads so greenlets keep going. A pool of three
// threads runs four calls that each block their thread for one second (`usleep`, not patched); the first
// three run at once and the fourth when a thread frees up, so the batch takes about two seconds instead
// of four, and the main greenlet is never blocked meanwhile.
//
//     swift run ThreadPoolExample          # 4 calls of 1 s on 3 threads
//     swift run ThreadPoolExample 6 0.2    # 6 calls of 0.2 s
import Gevent

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let arguments = CommandLine.arguments.dropFirst()
guard let calls = Int(arguments.first ?? "4"), calls >= 1,
    let seconds = Double(arguments.dropFirst().first ?? "1"), seconds >= 0, seconds <= 60
else {
    print("usage: ThreadPoolExample [CALLS (>= 1, default 4)] [SECONDS (0-60, default 1)]")
    exit(2)
}

let pool = ThreadPool(maxSize: 3)
let started = ContinuousClock.now
let microseconds = UInt32(seconds * 1_000_000)
let results = try (0..<calls).map { _ in try pool.spawn { _ = usleep(microseconds) } }
var ticks = 0
let ticker = spawn {
    while true {
        try sleep(.milliseconds(100))  // the hub keeps running greenlets while the threads block
        ticks += 1
    }
}
for result in results { try result.get() }
try ticker.kill()
let elapsed = ContinuousClock.now - started
print(
    "\(calls) calls of \(seconds) s on 3 threads took \(elapsed); the main thread's greenlets ran \(ticks) ticks meanwhile"
)
