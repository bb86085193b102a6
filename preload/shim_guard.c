// swift-gevent: C++ static-local guards (`__cxa_guard_acquire/release/abort`, the Itanium C++ ABI) that a
// greenlet-thread waits on by parking. libstdc++'s waiter futex-waits the OS thread, so when the thread that
// runs a static's constructor switches inside it (a constructor that reads a socket or takes a lock) and
// another greenlet-thread of the same OS thread reaches the same static, both wait for ever.
//
// This is the only implementation in a process under the preload library: the copy of libstdc++ linked into
// the library (for the Swift runtime) takes these definitions, and a program's libstdc++ is interposed. It
// keeps libstdc++'s protocol on the guard's first 32-bit word (bit 0, in the byte the compiler's inline check
// reads: initialised; 0x100: an initialisation is running; 0x200: someone waits) and its process-wide futex,
// so a guard a copy of libstdc++ that is not interposed works on (its calls inside itself) stays consistent.
// Without `thread` patched, and for callers that are not greenlets, the waits are libstdc++'s futex waits.
#include "shim.h"

// Not built under ThreadSanitizer, whose runtime defines these to model static initialisation itself.
#if !(defined(__has_feature) && __has_feature(thread_sanitizer))

#include <limits.h>
#include <linux/futex.h>

enum {
    GUARD_DONE = 1,
    GUARD_PENDING = 0x100,
    GUARD_WAITING = 0x200,
};

/// A greenlet that waits re-reads the guard this often, for a release by a copy of libstdc++ that wakes
/// only futex waiters.
static const int64_t greenlet_recheck_ns = 20000000;

static inline _Atomic uint32_t *guard_word(void *guard) {
    return (_Atomic uint32_t *)guard;
}

/// Waits while the guard reads `seen` (an initialisation with a waiter runs).
static void wait_for_initialiser(_Atomic uint32_t *word, uint32_t seen) {
    if (shim_word_park(word, seen, shim_deadline(greenlet_recheck_ns)) >= 0) {
        return;
    }
    // Not a greenlet: libstdc++'s own wait, on the process-wide futex its release wakes.
    syscall(SYS_futex, word, FUTEX_WAIT, seen, NULL, NULL, 0);
}

static void wake_waiters(_Atomic uint32_t *word) {
    shim_word_wake(word, INT_MAX);
    syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

SHIM_EXPORT int __cxa_guard_acquire(int64_t *guard) {
    _Atomic uint32_t *word = guard_word(guard);
    if (atomic_load_explicit((_Atomic uint8_t *)(void *)guard, memory_order_acquire) != 0) {
        return 0;
    }
    for (;;) {
        uint32_t seen = 0;
        if (atomic_compare_exchange_strong_explicit(word, &seen, GUARD_PENDING, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            return 1;
        }
        if (seen == GUARD_DONE) {
            return 0;
        }
        if (seen == GUARD_PENDING) {
            if (!atomic_compare_exchange_strong_explicit(word, &seen, GUARD_PENDING | GUARD_WAITING,
                                                         memory_order_acq_rel, memory_order_acquire)) {
                if (seen == GUARD_DONE) {
                    return 0;
                }
                if (seen == 0) {
                    continue;
                }
            }
            seen = GUARD_PENDING | GUARD_WAITING;
        }
        wait_for_initialiser(word, seen);
    }
}

SHIM_EXPORT void __cxa_guard_release(int64_t *guard) {
    _Atomic uint32_t *word = guard_word(guard);
    if (atomic_exchange_explicit(word, GUARD_DONE, memory_order_acq_rel) & GUARD_WAITING) {
        wake_waiters(word);
    }
}

SHIM_EXPORT void __cxa_guard_abort(int64_t *guard) {
    _Atomic uint32_t *word = guard_word(guard);
    if (atomic_exchange_explicit(word, 0, memory_order_acq_rel) & GUARD_WAITING) {
        wake_waiters(word);
    }
}

#endif
