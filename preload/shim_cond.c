// swift-gevent: area `thread`: condition variables a greenlet-thread waits on by parking. glibc's waiter
// futex-waits the OS thread, so a greenlet-thread waiting for another greenlet-thread of its thread to
// signal waits for ever. While `thread` is patched, every caller (OS threads too) waits and signals here,
// with a sequence counter in glibc's object: a waiter notes the sequence, releases the mutex and waits
// until a signal or broadcast moves it on (a greenlet parks on its hub, any other thread futex-waits),
// then locks the mutex again. Wake-ups may be spurious, as POSIX allows. The clock of
// pthread_condattr_setclock is the one glibc's pthread_cond_init recorded; process-shared condition
// variables stay glibc's.
//
// glibc has two ABIs for these functions on x86_64 (GLIBC_2.2.5, before NPTL, and GLIBC_2.3.2). An
// unversioned hook receives the calls of both, so every one of them (init and destroy too) is hooked and
// goes to the current implementation: a binary bound to the old names works as long as its objects have
// today's size (true of every binary built with NPTL's headers), and never has half its calls in glibc's
// compatibility code, which reads the object differently.
#include "shim.h"

// Not instrumented by ThreadSanitizer, which calls some of these hooks (pthread_key_create,
// pthread_getattr_np, the mutexes) from its own initialisation, before instrumented code may run.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <limits.h>
#include <pthread.h>

// __wrefs bits pthread_cond_init sets (nptl/pthread_cond_common.c).
enum {
    WREFS_CLOCK_MONOTONIC = 1,
    WREFS_PROCESS_SHARED = 2,
};

SHIM_REAL(pthread_cond_init)
SHIM_REAL(pthread_cond_destroy)
SHIM_REAL(pthread_cond_wait)
SHIM_REAL(pthread_cond_timedwait)
SHIM_REAL(pthread_cond_clockwait)
SHIM_REAL(pthread_cond_signal)
SHIM_REAL(pthread_cond_broadcast)

/// The sequence a waiter waits to see move, and the count of waiters (so that a signal with nobody
/// waiting makes no syscall): glibc's __g_signals, which only glibc's own waits use.
static inline _Atomic uint32_t *sequence_of(pthread_cond_t *condition) {
    return (_Atomic uint32_t *)(void *)&condition->__data.__g_signals[0];
}

static inline _Atomic uint32_t *waiters_of(pthread_cond_t *condition) {
    return (_Atomic uint32_t *)(void *)&condition->__data.__g_signals[1];
}

static inline unsigned wrefs_of(pthread_cond_t *condition) {
    return atomic_load_explicit((_Atomic unsigned *)(void *)&condition->__data.__wrefs, memory_order_relaxed);
}

/// Whether this call is ours: `thread` is patched and the condition variable is process-private.
static inline bool handled_here(pthread_cond_t *condition) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return false;
    }
    return !(wrefs_of(condition) & WREFS_PROCESS_SHARED);
}

/// Waits on `condition` with `mutex` held, until signalled or `deadline_ns` (monotonic, 0 = none).
static int wait_on(pthread_cond_t *condition, pthread_mutex_t *mutex, int64_t deadline_ns) {
    _Atomic uint32_t *sequence = sequence_of(condition);
    uint32_t seen = atomic_load_explicit(sequence, memory_order_acquire);
    atomic_fetch_add_explicit(waiters_of(condition), 1, memory_order_acq_rel);
    int status = pthread_mutex_unlock(mutex);
    if (status != 0) {
        atomic_fetch_sub_explicit(waiters_of(condition), 1, memory_order_acq_rel);
        return status;
    }
    // Any greenlet parks: the signaller may be another greenlet of this OS thread, which a futex wait
    // would never let run; an OS thread's signal wakes the parked greenlet through its hub.
    int outcome = shim_word_wait(sequence, seen, deadline_ns, true);
    atomic_fetch_sub_explicit(waiters_of(condition), 1, memory_order_acq_rel);
    status = pthread_mutex_lock(mutex);
    if (status != 0) {
        return status;
    }
    return outcome == ETIMEDOUT && atomic_load_explicit(sequence, memory_order_acquire) == seen ? ETIMEDOUT : 0;
}

static void signal_waiters(pthread_cond_t *condition, int count) {
    if (atomic_load_explicit(waiters_of(condition), memory_order_acquire) == 0) {
        return;
    }
    atomic_fetch_add_explicit(sequence_of(condition), 1, memory_order_acq_rel);
    shim_word_wake(sequence_of(condition), count);
}

SHIM_EXPORT int pthread_cond_init(pthread_cond_t *condition, const pthread_condattr_t *attributes) {
    return real_pthread_cond_init()(condition, attributes);
}

SHIM_EXPORT int pthread_cond_destroy(pthread_cond_t *condition) {
    return real_pthread_cond_destroy()(condition);
}

SHIM_EXPORT int pthread_cond_wait(pthread_cond_t *condition, pthread_mutex_t *mutex) {
    if (SHIM_LIKELY(!handled_here(condition))) {
        return real_pthread_cond_wait()(condition, mutex);
    }
    return wait_on(condition, mutex, 0);
}

SHIM_EXPORT int pthread_cond_clockwait(pthread_cond_t *condition, pthread_mutex_t *mutex, clockid_t clock,
                                       const struct timespec *when) {
    if (SHIM_LIKELY(!handled_here(condition))) {
        return real_pthread_cond_clockwait()(condition, mutex, clock, when);
    }
    int error = 0;
    int64_t deadline = shim_deadline_on_clock(clock, when, &error);
    return error != 0 ? error : wait_on(condition, mutex, deadline);
}

SHIM_EXPORT int pthread_cond_timedwait(pthread_cond_t *condition, pthread_mutex_t *mutex, const struct timespec *when) {
    if (SHIM_LIKELY(!handled_here(condition))) {
        return real_pthread_cond_timedwait()(condition, mutex, when);
    }
    clockid_t clock = (wrefs_of(condition) & WREFS_CLOCK_MONOTONIC) ? CLOCK_MONOTONIC : CLOCK_REALTIME;
    return pthread_cond_clockwait(condition, mutex, clock, when);
}

SHIM_EXPORT int pthread_cond_signal(pthread_cond_t *condition) {
    if (SHIM_LIKELY(!handled_here(condition))) {
        return real_pthread_cond_signal()(condition);
    }
    signal_waiters(condition, 1);
    return 0;
}

SHIM_EXPORT int pthread_cond_broadcast(pthread_cond_t *condition) {
    if (SHIM_LIKELY(!handled_here(condition))) {
        return real_pthread_cond_broadcast()(condition);
    }
    signal_waiters(condition, INT_MAX);
    return 0;
}

SHIM_EXPORT int gevent_shim_real_cond_wait(pthread_cond_t *condition, pthread_mutex_t *mutex) {
    return real_pthread_cond_wait()(condition, mutex);
}

SHIM_EXPORT int gevent_shim_real_cond_timedwait(pthread_cond_t *condition, pthread_mutex_t *mutex,
                                                const struct timespec *when) {
    return real_pthread_cond_timedwait()(condition, mutex, when);
}

SHIM_EXPORT int gevent_shim_real_cond_signal(pthread_cond_t *condition) {
    return real_pthread_cond_signal()(condition);
}

SHIM_EXPORT int gevent_shim_real_cond_broadcast(pthread_cond_t *condition) {
    return real_pthread_cond_broadcast()(condition);
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
