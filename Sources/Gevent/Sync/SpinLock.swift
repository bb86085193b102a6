import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A test-and-test-and-set lock for the few instructions that update an Event's, AsyncResult's or
/// Semaphore's state together with its waiter lists.
///
/// Why not `Synchronization.Mutex`: its `withLock` hands state across a `sending` boundary, which rejects
/// the non-Sendable waiter records (greenlets, callbacks) these objects keep. Why not a pthread mutex: it
/// would cost an allocation per object. Critical sections here never switch greenlets, never call user
/// code and never make a system call, so a spin that backs off to `sched_yield` is enough; contention only
/// happens when two OS threads touch the same object at once, which is rare.
struct SpinLock: ~Copyable {
    private let held = Atomic<Bool>(false)

    init() {}

    @inline(__always)
    borrowing func lock() {
        if held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            return
        }
        lockContended()
    }

    @inline(never)
    private borrowing func lockContended() {
        var spins = 0
        while true {
            while held.load(ordering: .relaxed) {
                spins += 1
                if spins > 64 {
                    // The holder may have been preempted: give it the CPU.
                    sched_yield()
                    spins = 0
                }
            }
            if held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
                return
            }
        }
    }

    @inline(__always)
    borrowing func unlock() {
        held.store(false, ordering: .releasing)
    }

    @inline(__always)
    borrowing func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }
}
