// A Swift program that does not link Gevent, for the preload tests: it first uses Foundation and
// Dispatch (its own libdispatch and Swift runtime, which must never bind to the preload library's static
// copies); then, under gevent-run, it finds the C API of the preloaded library and runs ten 200 ms usleep
// calls in greenlets; without it, it says so.
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

let squares = Mutex(0)
DispatchQueue.concurrentPerform(iterations: 10) { index in
    squares.withLock { $0 += index * index }
}
let encoded = try JSONEncoder().encode(["sum": squares.withLock { $0 }])
print("foundation \(String(decoding: encoded, as: UTF8.self)) \(Date(timeIntervalSince1970: 0).timeIntervalSince1970)")

typealias Spawn =
    @convention(c) (
        @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
    ) -> OpaquePointer?
typealias Join = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32

guard let spawnSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gevent_spawn"),
    let joinSymbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gevent_join")
else {
    print("no shim")
    exit(0)
}
let spawnGreenlet = unsafeBitCast(spawnSymbol, to: Spawn.self)
let joinGreenlet = unsafeBitCast(joinSymbol, to: Join.self)
var start = timespec()
clock_gettime(CLOCK_MONOTONIC, &start)
let greenlets = (0..<10).map { _ in
    spawnGreenlet(
        { _ in
            usleep(200_000)
            return nil
        },
        nil
    )
}
for greenlet in greenlets {
    _ = joinGreenlet(greenlet, nil)
}
var end = timespec()
clock_gettime(CLOCK_MONOTONIC, &end)
let elapsed = (end.tv_sec - start.tv_sec) * 1000 + (end.tv_nsec - start.tv_nsec) / 1_000_000
print(elapsed < 1000 ? "concurrent" : "sequential (\(elapsed) ms)")
