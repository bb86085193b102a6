// swift-gevent: area `thread`: unnamed process-private semaphores (sem_init with pshared 0) a
// greenlet-thread waits on by parking, with glibc's own layout and protocol (the value in the low 32 bits
// of one 64-bit word, the count of waiters in the high ones), so a semaphore glibc used before patching, or
// one an OS thread posts, keeps working. glibc's waiter futex-waits the OS thread, so a greenlet-thread
// waiting for another greenlet-thread of its thread to post waited for ever (CPython's locks are
// semaphores). Process-shared and named semaphores stay glibc's; a greenlet polls for them with
// cooperative sleeps between sem_trywait calls.
#include "shim.h"

// Not instrumented by ThreadSanitizer, which calls some of these hooks (pthread_key_create,
// pthread_getattr_np, the mutexes) from its own initialisation, before instrumented code may run.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <limits.h>
#include <semaphore.h>

// glibc's struct new_sem (nptl/semaphoreP.h, 64-bit atomics): the value is the low half of `data`.
typedef struct glibc_semaphore {
    _Atomic uint64_t data;
    int private_flag;
    int pad;
} glibc_semaphore_t;

enum { NWAITERS_SHIFT = 32 };

SHIM_REAL(sem_wait)
SHIM_REAL(sem_timedwait)
SHIM_REAL(sem_clockwait)
SHIM_REAL(sem_post)
SHIM_REAL(sem_trywait)

_Static_assert(sizeof(glibc_semaphore_t) <= sizeof(sem_t), "glibc's semaphore layout");

static inline glibc_semaphore_t *layout_of(sem_t *semaphore) {
    return (glibc_semaphore_t *)(void *)semaphore;
}

/// The value's half of `data`, which waiters wait on (little-endian: the low half comes first).
static inline _Atomic uint32_t *value_word(glibc_semaphore_t *semaphore) {
    return (_Atomic uint32_t *)(void *)&semaphore->data;
}

/// Whether this call is ours: `thread` is patched and the semaphore is process-private. glibc stores its
/// FUTEX_PRIVATE (0) in `private_flag` for those and FUTEX_SHARED (FUTEX_PRIVATE_FLAG, 128) for
/// process-shared ones, the value it XORs into the futex operation.
static inline bool handled_here(sem_t *semaphore) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return false;
    }
    return layout_of(semaphore)->private_flag == 0;
}

/// Takes a token, waiting until `deadline_ns` (monotonic, 0 = none). Returns 0 or an errno value.
static int take(sem_t *handle, int64_t deadline_ns) {
    glibc_semaphore_t *semaphore = layout_of(handle);
    uint64_t data = atomic_load_explicit(&semaphore->data, memory_order_relaxed);
    while ((uint32_t)data > 0) {
        if (atomic_compare_exchange_weak_explicit(&semaphore->data, &data, data - 1, memory_order_acquire,
                                                  memory_order_relaxed)) {
            return 0;
        }
    }
    data = atomic_fetch_add_explicit(&semaphore->data, (uint64_t)1 << NWAITERS_SHIFT, memory_order_relaxed) +
           ((uint64_t)1 << NWAITERS_SHIFT);
    int status = 0;
    for (;;) {
        if ((uint32_t)data == 0) {
            if (deadline_ns > 0 && shim_remaining(deadline_ns) == 0) {
                status = ETIMEDOUT;
                break;
            }
            // Any greenlet parks: the poster may be another greenlet of this OS thread.
            shim_word_wait(value_word(semaphore), 0, deadline_ns, true);
            data = atomic_load_explicit(&semaphore->data, memory_order_relaxed);
            continue;
        }
        // Take a token and stop counting as a waiter in one step.
        if (atomic_compare_exchange_weak_explicit(&semaphore->data, &data, data - 1 - ((uint64_t)1 << NWAITERS_SHIFT),
                                                  memory_order_acquire, memory_order_relaxed)) {
            return 0;
        }
    }
    atomic_fetch_sub_explicit(&semaphore->data, (uint64_t)1 << NWAITERS_SHIFT, memory_order_relaxed);
    return status;
}

static int try_semaphore(void *semaphore) {
    return real_sem_trywait()(semaphore) == 0 ? 0 : errno == EAGAIN ? EBUSY : errno;
}

/// For a semaphore glibc keeps, from a greenlet: -1 when no greenlet can wait here (then the real call).
static int poll_for_kept_semaphore(sem_t *semaphore, int64_t deadline_ns) {
    if (!shim_enabled(GEVENT_SHIM_AREA_THREAD)) {
        return -1;
    }
    return shim_poll_cooperatively(try_semaphore, semaphore, deadline_ns, 16000000);
}

static int report(int status) {
    if (status == 0) {
        return 0;
    }
    errno = status;
    return -1;
}

SHIM_EXPORT int sem_wait(sem_t *semaphore) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return real_sem_wait()(semaphore);
    }
    if (handled_here(semaphore)) {
        return report(take(semaphore, 0));
    }
    int status = poll_for_kept_semaphore(semaphore, 0);
    return status >= 0 ? report(status) : real_sem_wait()(semaphore);
}

SHIM_EXPORT int sem_clockwait(sem_t *semaphore, clockid_t clock, const struct timespec *when) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return real_sem_clockwait()(semaphore, clock, when);
    }
    int error = 0;
    int64_t deadline = shim_deadline_on_clock(clock, when, &error);
    if (error != 0) {
        return report(error);
    }
    if (handled_here(semaphore)) {
        return report(take(semaphore, deadline));
    }
    int status = poll_for_kept_semaphore(semaphore, deadline);
    return status >= 0 ? report(status) : real_sem_clockwait()(semaphore, clock, when);
}

SHIM_EXPORT int sem_timedwait(sem_t *semaphore, const struct timespec *when) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return real_sem_timedwait()(semaphore, when);
    }
    return sem_clockwait(semaphore, CLOCK_REALTIME, when);
}

SHIM_EXPORT int sem_post(sem_t *handle) {
    if (SHIM_LIKELY(!handled_here(handle))) {
        return real_sem_post()(handle);
    }
    glibc_semaphore_t *semaphore = layout_of(handle);
    uint64_t data = atomic_load_explicit(&semaphore->data, memory_order_relaxed);
    do {
        if ((uint32_t)data == SEM_VALUE_MAX) {
            return report(EOVERFLOW);
        }
    } while (!atomic_compare_exchange_weak_explicit(&semaphore->data, &data, data + 1, memory_order_release,
                                                    memory_order_relaxed));
    if ((data >> NWAITERS_SHIFT) > 0) {
        shim_word_wake(value_word(semaphore), 1);
    }
    return 0;
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
