// swift-gevent: area `thread`: process-private pthread barriers that greenlet-threads wait at by parking.
// glibc's waiter futex-waits the OS thread, so the first greenlet-thread to reach a barrier that other
// greenlet-threads of its thread have not reached yet stopped them all for ever. The object and its
// protocol stay glibc's (nptl/pthread_barrier_wait.c: a count of threads in, the current round, a count of
// threads out, a reset before `in` can overflow), so pthread_barrier_init is glibc's, and a barrier shared
// between greenlet-threads and OS threads works: both wait on the same words, greenlets through their hub,
// OS threads through the futex. Process-shared barriers stay glibc's.
#include "shim.h"

// Not instrumented by ThreadSanitizer (see shim_mutex.c): these run inside hooks it may call early.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <limits.h>
#include <pthread.h>

// glibc's struct pthread_barrier (nptl/pthreadP.h). `shared` is FUTEX_PRIVATE (0) or FUTEX_SHARED (128).
typedef struct glibc_barrier {
    _Atomic uint32_t in;
    _Atomic uint32_t current_round;
    uint32_t count;
    int shared;
    _Atomic uint32_t out;
} glibc_barrier_t;

_Static_assert(sizeof(glibc_barrier_t) <= sizeof(pthread_barrier_t), "glibc's barrier layout");

/// glibc's BARRIER_IN_THRESHOLD: `in` is reset before it passes this, at the end of a round.
static const uint32_t in_threshold = UINT_MAX / 2;

SHIM_REAL(pthread_barrier_wait)
SHIM_REAL(pthread_barrier_destroy)

static inline glibc_barrier_t *layout_of(pthread_barrier_t *barrier) {
    return (glibc_barrier_t *)(void *)barrier;
}

/// Whether this call is ours: `thread` is patched and the barrier is process-private.
static inline bool handled_here(pthread_barrier_t *barrier) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return false;
    }
    return layout_of(barrier)->shared == 0;
}

/// Waits while `*word == seen`: any greenlet parks (the thread that ends the round may be another
/// greenlet-thread of its OS thread); an OS thread futex-waits.
static inline void wait_while(_Atomic uint32_t *word, uint32_t seen) {
    shim_word_wait(word, seen, 0, true);
}

SHIM_EXPORT int pthread_barrier_wait(pthread_barrier_t *handle) {
    if (SHIM_LIKELY(!handled_here(handle))) {
        return real_pthread_barrier_wait()(handle);
    }
    glibc_barrier_t *barrier = layout_of(handle);
    uint32_t entered;
    uint32_t count;
    uint32_t last_before_reset;
    for (;;) {
        entered = atomic_fetch_add_explicit(&barrier->in, 1, memory_order_acq_rel) + 1;
        count = barrier->count;
        last_before_reset = in_threshold - in_threshold % count;
        if (entered <= last_before_reset) {
            break;
        }
        // A reset is under way: wait for it without helping rounds that may be reset under us, then enter again.
        while (entered > last_before_reset) {
            wait_while(&barrier->in, entered);
            entered = atomic_load_explicit(&barrier->in, memory_order_relaxed);
        }
    }
    uint32_t round = atomic_load_explicit(&barrier->current_round, memory_order_relaxed);
    bool finished = false;
    // Complete our round (and any earlier one) when enough threads have entered for it.
    while (round + count <= entered) {
        uint32_t next = entered - entered % count;
        if (atomic_compare_exchange_weak_explicit(&barrier->current_round, &round, next, memory_order_release,
                                                  memory_order_relaxed)) {
            round = next;
            shim_word_wake(&barrier->current_round, INT_MAX);
            finished = entered <= round;
            break;
        }
    }
    if (!finished) {
        while (entered > round) {
            wait_while(&barrier->current_round, round);
            round = atomic_load_explicit(&barrier->current_round, memory_order_relaxed);
        }
        atomic_thread_fence(memory_order_acquire);
    }
    uint32_t left = atomic_fetch_add_explicit(&barrier->out, 1, memory_order_release) + 1;
    if (left == last_before_reset) {
        // The last thread of the rounds before the threshold to leave resets the barrier.
        atomic_store_explicit(&barrier->current_round, 0, memory_order_relaxed);
        atomic_store_explicit(&barrier->out, 0, memory_order_relaxed);
        atomic_store_explicit(&barrier->in, 0, memory_order_release);
        shim_word_wake(&barrier->in, INT_MAX);
    }
    return entered % count == 0 ? PTHREAD_BARRIER_SERIAL_THREAD : 0;
}

SHIM_EXPORT int pthread_barrier_destroy(pthread_barrier_t *handle) {
    if (SHIM_LIKELY(!handled_here(handle))) {
        return real_pthread_barrier_destroy()(handle);
    }
    // As glibc: pretend the threshold is reached, so that the last thread still leaving the latest round
    // resets the barrier, and wait for that reset; after it nobody touches the object.
    glibc_barrier_t *barrier = layout_of(handle);
    uint32_t last_before_reset = in_threshold - in_threshold % barrier->count;
    uint32_t in = atomic_load_explicit(&barrier->in, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&barrier->out, last_before_reset - in, memory_order_relaxed) < in) {
        while (in != 0) {
            wait_while(&barrier->in, in);
            in = atomic_load_explicit(&barrier->in, memory_order_relaxed);
        }
    }
    atomic_thread_fence(memory_order_acquire);
    return 0;
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
