// swift-gevent: area `thread`: read-write locks a greenlet-thread waits on by parking. glibc's waiters
// futex-wait the OS thread, and its writer is the kernel thread id, so a greenlet-thread waiting for a
// lock another greenlet-thread of its OS thread holds across a switch waited for ever. While `thread` is
// patched, every caller (OS threads too) locks process-private read-write locks here, in glibc's object:
// its __readers word keeps glibc's layout (readers from bit 3, bit 1 a writer; glibc's phase bits 0 and 2,
// which an unlocked lock glibc used may still carry, are left alone), __cur_writer is the writer's
// identity, and two words glibc leaves unused count the writers waiting (for
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) and every waiter, so that an unlock with nobody waiting
// makes no syscall. Process-shared locks stay glibc's.
#include "shim.h"

// Not instrumented by ThreadSanitizer, which calls some of these hooks (pthread_key_create,
// pthread_getattr_np, the mutexes) from its own initialisation, before instrumented code may run.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <limits.h>
#include <pthread.h>

// glibc's __readers bits (nptl/pthread_rwlock_common.c).
enum {
    WRITER = 1u << 1,
    READER_SHIFT = 3,
    READER_ONE = 1u << READER_SHIFT,
    PHASE_BITS = 1u | (1u << 2),
    READERS_MAX = UINT32_MAX >> READER_SHIFT,
};

static inline uint32_t readers_in(uint32_t state) {
    return state >> READER_SHIFT;
}

SHIM_REAL(pthread_rwlock_rdlock)
SHIM_REAL(pthread_rwlock_tryrdlock)
SHIM_REAL(pthread_rwlock_timedrdlock)
SHIM_REAL(pthread_rwlock_clockrdlock)
SHIM_REAL(pthread_rwlock_wrlock)
SHIM_REAL(pthread_rwlock_trywrlock)
SHIM_REAL(pthread_rwlock_timedwrlock)
SHIM_REAL(pthread_rwlock_clockwrlock)
SHIM_REAL(pthread_rwlock_unlock)

static inline _Atomic uint32_t *state_of(pthread_rwlock_t *lock) {
    return (_Atomic uint32_t *)(void *)&lock->__data.__readers;
}

static inline _Atomic uint32_t *waiting_writers_of(pthread_rwlock_t *lock) {
    return (_Atomic uint32_t *)(void *)&lock->__data.__pad3;
}

static inline _Atomic uint32_t *waiters_of(pthread_rwlock_t *lock) {
    return (_Atomic uint32_t *)(void *)&lock->__data.__pad4;
}

static inline _Atomic int *writer_of(pthread_rwlock_t *lock) {
    return (_Atomic int *)(void *)&lock->__data.__cur_writer;
}

static inline bool patched(void) {
    return atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD;
}

/// Whether this call is ours: `thread` is patched and the lock is process-private.
static inline bool handled_here(pthread_rwlock_t *lock) {
    return SHIM_UNLIKELY(patched()) && lock->__data.__shared == 0;
}

/// Waits while the state is `seen`. A greenlet parks unless a writer that runs on another OS thread holds
/// the lock (then it futex-waits, as glibc would: the writer needs nothing from this thread); readers are
/// not recorded, and one may be another greenlet-thread of this thread.
static void wait_for_change(pthread_rwlock_t *lock, uint32_t seen, int64_t deadline_ns) {
    bool cooperative = !(seen & WRITER) || shim_identity_runs_here(atomic_load(writer_of(lock)));
    // Sequentially consistent with the unlock's store and load: a waiter counted after an unlock looked
    // sees that unlock's state and does not wait.
    atomic_fetch_add(waiters_of(lock), 1);
    shim_word_wait(state_of(lock), seen, deadline_ns, cooperative);
    atomic_fetch_sub(waiters_of(lock), 1);
}

static void wake_waiters(pthread_rwlock_t *lock) {
    if (atomic_load(waiters_of(lock)) > 0) {
        shim_word_wake(state_of(lock), INT_MAX);
    }
}

/// `deadline_ns`: -1 try once, 0 wait as long as it takes, else a monotonic deadline.
static int read_lock(pthread_rwlock_t *lock, int64_t deadline_ns) {
    bool prefer_writers = lock->__data.__flags != 0;
    for (;;) {
        uint32_t state = atomic_load_explicit(state_of(lock), memory_order_relaxed);
        bool writers_first = prefer_writers && atomic_load(waiting_writers_of(lock)) > 0;
        if (!(state & WRITER) && !writers_first) {
            if (readers_in(state) == READERS_MAX) {
                return EAGAIN;
            }
            if (atomic_compare_exchange_weak_explicit(state_of(lock), &state, state + READER_ONE, memory_order_acquire,
                                                      memory_order_relaxed)) {
                return 0;
            }
            continue;
        }
        if ((state & WRITER) && atomic_load(writer_of(lock)) == shim_thread_identity()) {
            return EDEADLK;
        }
        if (deadline_ns < 0) {
            return EBUSY;
        }
        if (deadline_ns > 0 && shim_remaining(deadline_ns) == 0) {
            return ETIMEDOUT;
        }
        wait_for_change(lock, state, deadline_ns);
    }
}

static int write_lock(pthread_rwlock_t *lock, int64_t deadline_ns) {
    int me = shim_thread_identity();
    bool counted = false;
    int status = 0;
    for (;;) {
        uint32_t state = atomic_load_explicit(state_of(lock), memory_order_relaxed);
        if ((state & ~PHASE_BITS) == 0) {
            if (atomic_compare_exchange_weak_explicit(state_of(lock), &state, state | WRITER, memory_order_acquire,
                                                      memory_order_relaxed)) {
                atomic_store(writer_of(lock), me);
                break;
            }
            continue;
        }
        if ((state & WRITER) && atomic_load(writer_of(lock)) == me) {
            status = EDEADLK;
            break;
        }
        if (deadline_ns < 0) {
            status = EBUSY;
            break;
        }
        if (deadline_ns > 0 && shim_remaining(deadline_ns) == 0) {
            status = ETIMEDOUT;
            break;
        }
        if (!counted) {
            atomic_fetch_add_explicit(waiting_writers_of(lock), 1, memory_order_acq_rel);
            counted = true;
        }
        wait_for_change(lock, state, deadline_ns);
    }
    if (counted && atomic_fetch_sub_explicit(waiting_writers_of(lock), 1, memory_order_acq_rel) == 1 && status != 0) {
        // Readers that let this writer go first wait for the count to drop.
        wake_waiters(lock);
    }
    return status;
}

static int timed(pthread_rwlock_t *lock, clockid_t clock, const struct timespec *when,
                 int (*locker)(pthread_rwlock_t *, int64_t)) {
    int status = locker(lock, -1);
    if (status != EBUSY) {
        return status;
    }
    int error = 0;
    int64_t deadline = shim_deadline_on_clock(clock, when, &error);
    return error != 0 ? error : locker(lock, deadline);
}

SHIM_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *lock) {
    return handled_here(lock) ? read_lock(lock, 0) : real_pthread_rwlock_rdlock()(lock);
}

SHIM_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *lock) {
    return handled_here(lock) ? read_lock(lock, -1) : real_pthread_rwlock_tryrdlock()(lock);
}

SHIM_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *lock, clockid_t clock, const struct timespec *when) {
    return handled_here(lock) ? timed(lock, clock, when, read_lock)
                              : real_pthread_rwlock_clockrdlock()(lock, clock, when);
}

SHIM_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *lock, const struct timespec *when) {
    return handled_here(lock) ? timed(lock, CLOCK_REALTIME, when, read_lock)
                              : real_pthread_rwlock_timedrdlock()(lock, when);
}

SHIM_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *lock) {
    return handled_here(lock) ? write_lock(lock, 0) : real_pthread_rwlock_wrlock()(lock);
}

SHIM_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *lock) {
    return handled_here(lock) ? write_lock(lock, -1) : real_pthread_rwlock_trywrlock()(lock);
}

SHIM_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *lock, clockid_t clock, const struct timespec *when) {
    return handled_here(lock) ? timed(lock, clock, when, write_lock)
                              : real_pthread_rwlock_clockwrlock()(lock, clock, when);
}

SHIM_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *lock, const struct timespec *when) {
    return handled_here(lock) ? timed(lock, CLOCK_REALTIME, when, write_lock)
                              : real_pthread_rwlock_timedwrlock()(lock, when);
}

SHIM_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *lock) {
    if (!handled_here(lock)) {
        return real_pthread_rwlock_unlock()(lock);
    }
    uint32_t state = atomic_load_explicit(state_of(lock), memory_order_relaxed);
    if (state & WRITER) {
        atomic_store(writer_of(lock), 0);
        atomic_fetch_and(state_of(lock), ~(uint32_t)WRITER);
        wake_waiters(lock);
        return 0;
    }
    if (readers_in(state) == 0) {
        return EPERM;
    }
    if (readers_in(atomic_fetch_sub(state_of(lock), READER_ONE)) == 1) {
        wake_waiters(lock);
    }
    return 0;
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
