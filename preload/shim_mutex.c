// swift-gevent: area `thread`: pthread mutexes and pthread_once owned by greenlet-threads, spin locks that
// yield. glibc records a mutex's
// owner as the kernel thread id, so two greenlets of one OS thread break every mutex: a recursive one stops excluding,
// an errorcheck one says EDEADLK, and a normal one held across a switch futex-waits the whole thread, for ever, since
// its holder can only run on that thread. While `thread` is patched, every caller (OS threads too) locks ordinary
// mutexes here, inside glibc's object and with glibc's protocol on its lock word (0 free, 1 locked, 2 locked with
// waiters), so objects glibc locked before patching, static initialisers and pthread_mutex_init's kinds all keep
// working. The owner is shim_thread_identity().
//
// A caller that finds the mutex held waits on the lock word: a greenlet parks when the holder runs on its
// own OS thread (the only way it can ever be released); otherwise, and for OS threads, it futex-waits as
// glibc would. Robust, priority-inheritance, priority-protect and process-shared mutexes keep glibc's
// implementation: the kernel reads their lock word as a thread id. A greenlet polls for those with
// cooperative sleeps between real trylocks.
#include "shim.h"

// Not instrumented by ThreadSanitizer, which calls some of these hooks (pthread_key_create,
// pthread_getattr_np, the mutexes) from its own initialisation, before instrumented code may run.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <limits.h>
#include <pthread.h>

// glibc's kind bits (nptl/pthreadP.h); the type is the low two bits.
enum {
    KIND_TYPE_MASK = 3,
    KIND_ROBUST = 16,
    KIND_PRIORITY_INHERIT = 32,
    KIND_PRIORITY_PROTECT = 64,
    KIND_PROCESS_SHARED = 128,
    KIND_KEPT_BY_GLIBC = KIND_ROBUST | KIND_PRIORITY_INHERIT | KIND_PRIORITY_PROTECT | KIND_PROCESS_SHARED,
};

SHIM_REAL(pthread_mutex_lock)
SHIM_REAL(pthread_mutex_trylock)
SHIM_REAL(pthread_mutex_timedlock)
SHIM_REAL(pthread_mutex_clocklock)
SHIM_REAL(pthread_mutex_unlock)
SHIM_REAL(pthread_once)
SHIM_REAL(pthread_spin_lock)
SHIM_REAL(pthread_spin_trylock)

static inline _Atomic uint32_t *lock_word(pthread_mutex_t *mutex) {
    return (_Atomic uint32_t *)(void *)&mutex->__data.__lock;
}

/// Whether this call locks here: `thread` is patched and the mutex is one glibc does not keep.
static inline bool owned_here(const pthread_mutex_t *mutex) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return false;
    }
    int kind = atomic_load_explicit((_Atomic int *)(void *)&mutex->__data.__kind, memory_order_relaxed);
    return !(kind & KIND_KEPT_BY_GLIBC);
}

/// Locks `mutex` for `me`: at once or EBUSY (`deadline_ns` -1), waiting as long as it takes (0), or until a
/// monotonic deadline (ETIMEDOUT).
static int lock(pthread_mutex_t *mutex, int64_t deadline_ns) {
    int type = mutex->__data.__kind & KIND_TYPE_MASK;
    int me = shim_thread_identity();
    if (mutex->__data.__owner == me && atomic_load_explicit(lock_word(mutex), memory_order_relaxed) != 0) {
        if (type == PTHREAD_MUTEX_RECURSIVE) {
            if (mutex->__data.__count == UINT_MAX) {
                return EAGAIN;
            }
            mutex->__data.__count++;
            return 0;
        }
        if (type == PTHREAD_MUTEX_ERRORCHECK) {
            return deadline_ns < 0 ? EBUSY : EDEADLK;
        }
    }
    uint32_t expected = 0;
    if (!atomic_compare_exchange_strong_explicit(lock_word(mutex), &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed)) {
        if (deadline_ns < 0) {
            return EBUSY;
        }
        while (atomic_exchange_explicit(lock_word(mutex), 2, memory_order_acquire) != 0) {
            if (deadline_ns > 0 && shim_remaining(deadline_ns) == 0) {
                return ETIMEDOUT;
            }
            bool cooperative = shim_identity_runs_here(mutex->__data.__owner);
            shim_word_wait(lock_word(mutex), 2, deadline_ns, cooperative);
        }
    }
    mutex->__data.__owner = me;
    mutex->__data.__count = type == PTHREAD_MUTEX_RECURSIVE ? 1 : 0;
    mutex->__data.__nusers++;
    return 0;
}

/// For a mutex glibc keeps, from a greenlet: real trylocks with cooperative sleeps between them (1 ms,
/// doubling to 16 ms). Returns -1 when no greenlet can wait here, so the caller makes the real call.
static int try_kept_mutex(void *mutex) {
    return real_pthread_mutex_trylock()(mutex);
}

static int poll_for_kept_mutex(pthread_mutex_t *mutex, int64_t deadline_ns) {
    if (!shim_enabled(GEVENT_SHIM_AREA_THREAD)) {
        return -1;
    }
    return shim_poll_cooperatively(try_kept_mutex, mutex, deadline_ns, 16000000);
}

SHIM_EXPORT int pthread_mutex_lock(pthread_mutex_t *mutex) {
    if (SHIM_LIKELY(!owned_here(mutex))) {
        if (SHIM_UNLIKELY(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD)) {
            int status = poll_for_kept_mutex(mutex, 0);
            if (status >= 0) {
                return status;
            }
        }
        return real_pthread_mutex_lock()(mutex);
    }
    return lock(mutex, 0);
}

SHIM_EXPORT int pthread_mutex_trylock(pthread_mutex_t *mutex) {
    if (SHIM_LIKELY(!owned_here(mutex))) {
        return real_pthread_mutex_trylock()(mutex);
    }
    return lock(mutex, -1);
}

SHIM_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *mutex, clockid_t clock, const struct timespec *when) {
    bool here = owned_here(mutex);
    if (SHIM_LIKELY(!here) &&
        !(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD)) {
        return real_pthread_mutex_clocklock()(mutex, clock, when);
    }
    // POSIX: a mutex that can be locked at once is, whatever the time says.
    int status = here ? lock(mutex, -1) : real_pthread_mutex_trylock()(mutex);
    if (status != EBUSY) {
        return status;
    }
    int error = 0;
    int64_t deadline = shim_deadline_on_clock(clock, when, &error);
    if (error != 0) {
        return error;
    }
    if (here) {
        return lock(mutex, deadline);
    }
    status = poll_for_kept_mutex(mutex, deadline);
    return status >= 0 ? status : real_pthread_mutex_clocklock()(mutex, clock, when);
}

SHIM_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *mutex, const struct timespec *when) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return real_pthread_mutex_timedlock()(mutex, when);
    }
    return pthread_mutex_clocklock(mutex, CLOCK_REALTIME, when);
}

SHIM_EXPORT int pthread_mutex_unlock(pthread_mutex_t *mutex) {
    if (SHIM_LIKELY(!owned_here(mutex))) {
        return real_pthread_mutex_unlock()(mutex);
    }
    int type = mutex->__data.__kind & KIND_TYPE_MASK;
    if (type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) {
        if (mutex->__data.__owner != shim_thread_identity() ||
            atomic_load_explicit(lock_word(mutex), memory_order_relaxed) == 0) {
            return EPERM;
        }
        if (type == PTHREAD_MUTEX_RECURSIVE && --mutex->__data.__count != 0) {
            return 0;
        }
    }
    mutex->__data.__owner = 0;
    mutex->__data.__nusers--;
    if (atomic_exchange_explicit(lock_word(mutex), 0, memory_order_release) > 1) {
        shim_word_wake(lock_word(mutex), 1);
    }
    return 0;
}

SHIM_EXPORT int gevent_shim_real_mutex_lock(pthread_mutex_t *mutex) {
    return real_pthread_mutex_lock()(mutex);
}

SHIM_EXPORT int gevent_shim_real_mutex_unlock(pthread_mutex_t *mutex) {
    return real_pthread_mutex_unlock()(mutex);
}

// MARK: - pthread_once

// glibc's states (0 never run, 1 in progress, 2 done); while patched, an initialiser in progress also names
// its runner in the bits above, so that a caller can tell whether the runner shares its OS thread (then it
// parks: waiting for it as an OS thread would wait for ever) or not (then it futex-waits, as in glibc).
enum {
    ONCE_IN_PROGRESS = 1,
    ONCE_DONE = 2,
    ONCE_RUNNER_SHIFT = 2,
    ONCE_GREENLET_RUNNERS = 1 << 22, ///< runner codes from here are greenlet-threads, below kernel thread ids
};

static uint32_t once_runner_code(int identity) {
    return identity < SHIM_IDENTITY_BASE ? (uint32_t)identity
                                         : ONCE_GREENLET_RUNNERS + (uint32_t)(identity - SHIM_IDENTITY_BASE);
}

static int once_runner_identity(uint32_t code) {
    return code < ONCE_GREENLET_RUNNERS ? (int)code : SHIM_IDENTITY_BASE + (int)(code - ONCE_GREENLET_RUNNERS);
}

SHIM_EXPORT int pthread_once(pthread_once_t *control, void (*initialize)(void)) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return real_pthread_once()(control, initialize);
    }
    _Atomic uint32_t *word = (_Atomic uint32_t *)(void *)control;
    for (;;) {
        uint32_t value = atomic_load_explicit(word, memory_order_acquire);
        if (value & ONCE_DONE) {
            return 0;
        }
        if (!(value & ONCE_IN_PROGRESS)) {
            uint32_t mine = ONCE_IN_PROGRESS | (once_runner_code(shim_thread_identity()) << ONCE_RUNNER_SHIFT);
            if (!atomic_compare_exchange_strong_explicit(word, &value, mine, memory_order_acquire,
                                                         memory_order_acquire)) {
                continue;
            }
            initialize();
            atomic_store_explicit(word, ONCE_DONE, memory_order_release);
            shim_word_wake(word, INT_MAX);
            return 0;
        }
        bool cooperative = shim_identity_runs_here(once_runner_identity(value >> ONCE_RUNNER_SHIFT));
        shim_word_wait(word, value, 0, cooperative);
    }
}

// MARK: - Spin locks

/// A greenlet that finds a spin lock held yields to the hub between tries: its holder may be another
/// greenlet of the same OS thread, which cannot release it while this one spins (gevent does the same for
/// a failed non-blocking acquire).
SHIM_EXPORT int pthread_spin_lock(pthread_spinlock_t *lock) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_THREAD))) {
        return real_pthread_spin_lock()(lock);
    }
    int status;
    while ((status = real_pthread_spin_trylock()(lock)) == EBUSY) {
        if (gevent_shim_sleep(0) == GEVENT_SHIM_CANNOT_WAIT) {
            return real_pthread_spin_lock()(lock);
        }
    }
    return status;
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
