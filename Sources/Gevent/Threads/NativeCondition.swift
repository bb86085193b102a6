import CGeventShim
import CLibev

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// A pthread mutex with one condition variable on the monotonic clock: how OS threads without a hub wait
/// (ThreadPool workers, and threads without a hub that wait on an Event, AsyncResult or Semaphore).
///
/// The pthread objects live in their own allocations because pthreads forbids moving them. They are locked
/// and waited on through glibc's own functions, past the `thread` area's hooks: a greenlet must never park
/// inside the runtime.
final class NativeCondition {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        var status = pthread_mutex_init(mutex, nil)
        precondition(status == 0, "swift-gevent: pthread_mutex_init failed: \(errnoDescription(status))")
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Timed waits use CLOCK_MONOTONIC so a wall-clock change cannot stretch or cut them.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        status = pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
        precondition(status == 0, "swift-gevent: pthread_cond_init failed: \(errnoDescription(status))")
    }

    /// Re-creates the mutex and condition in a child process after `fork()`, where a thread that no longer
    /// exists may have held the mutex. Only the forking thread exists then, so nothing can race this.
    func reinitializeAfterFork() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() {
        gevent_shim_real_mutex_lock(mutex)
    }

    func unlock() {
        gevent_shim_real_mutex_unlock(mutex)
    }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Waits (with the mutex held) for a signal, or until the monotonic clock reaches `deadline`
    /// (nanoseconds; `nil` waits without a limit). Returns `false` when the deadline passed.
    /// Spurious wake-ups return `true`: callers re-check their condition.
    func wait(until deadline: Int64?) -> Bool {
        guard let deadline else {
            gevent_shim_real_cond_wait(condition, mutex)
            return true
        }
        var time = timespec()
        time.tv_sec = Int(deadline / 1_000_000_000)
        time.tv_nsec = Int(deadline % 1_000_000_000)
        return gevent_shim_real_cond_timedwait(condition, mutex, &time) != ETIMEDOUT
    }

    func signal() {
        gevent_shim_real_cond_signal(condition)
    }

    func broadcast() {
        gevent_shim_real_cond_broadcast(condition)
    }
}

extension NativeCondition: @unchecked Sendable {
    // The pthread mutex and condition are made for use from any thread; the pointers never change.
}

/// Parks an OS thread that has no hub until a linked object wakes it.
final class ThreadParker: Sendable {
    private let condition = NativeCondition()
    private nonisolated(unsafe) var unparked = false  // guarded by `condition`'s mutex

    /// Wakes the parked thread (or makes its next ``park(until:)`` return at once). Any thread.
    func unpark() {
        condition.withLock {
            unparked = true
            condition.signal()
        }
    }

    /// Blocks the calling thread until ``unpark()`` or the monotonic `deadline` (nanoseconds).
    /// - Returns: `true` if unparked, `false` if the deadline passed first.
    func park(until deadline: Int64?) -> Bool {
        condition.withLock {
            while !unparked {
                if !condition.wait(until: deadline) {
                    return unparked
                }
            }
            return true
        }
    }
}
