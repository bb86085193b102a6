// swift-gevent: greenlet switching with errno, Swift exclusivity and sanitizer bookkeeping.
#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "include/CGreenlet.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Swift's runtime keeps one list of open exclusive accesses per thread, with nodes on the stack. Greenlets
// sharing a thread would share (and corrupt) it, so every greenlet carries its own part of the list and
// the switch pushes and pops it, exactly as Swift concurrency does for tasks. Both functions are exported
// by libswiftCore (they are ABI: libswift_Concurrency imports them).
extern void swift_task_enterThreadLocalContext(char *state);
extern void swift_task_exitThreadLocalContext(char *state);

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CGREENLET_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define CGREENLET_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CGREENLET_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define CGREENLET_TSAN 1
#endif

#ifdef CGREENLET_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old, size_t *size_old);
#endif
#ifdef CGREENLET_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

// Not static, and initial-exec: the preload shim reads both on every interposed libc call (preload/shim.h
// declares them), and inside a shared library the default TLS model would cost a __tls_get_addr call each.
__attribute__((tls_model("initial-exec"), visibility("hidden"))) _Thread_local cgreenlet_t *cgreenlet_tls_current;
__attribute__((tls_model("initial-exec"), visibility("hidden"))) _Thread_local void *cgreenlet_tls_hub;
#define tls_current cgreenlet_tls_current
#define tls_hub cgreenlet_tls_hub
// This thread's errno, whose address never changes for the thread's life: cached so that a switch reads and
// writes it without calling __errno_location through the PLT.
static __attribute__((tls_model("initial-exec"))) _Thread_local int *tls_errno;

static inline int *thread_errno(void) {
    int *location = tls_errno;
    if (__builtin_expect(location == NULL, 0)) {
        location = tls_errno = &errno;
    }
    return location;
}
static atomic_bool exclusivity_swap = true;

// Implemented in stack.c.
int cgreenlet_stack_acquire(size_t usable, void **base, size_t *size, size_t *guard, void **slab);
void cgreenlet_stack_release(void *base, size_t size, size_t guard, void *slab);

void cgreenlet_set_current(cgreenlet_t *g) {
    tls_current = g;
}

// A thread that ends while it still has a hub gets it destroyed by a pthread key destructor, so its loop's
// file descriptors and its greenlets' stacks are not leaked.
static pthread_key_t hub_key;
static pthread_once_t hub_key_once = PTHREAD_ONCE_INIT;
static void (*_Atomic thread_exit_hook)(void *);

static void hub_key_destructor(void *hub) {
    void (*hook)(void *) = atomic_load(&thread_exit_hook);
    if (hook != NULL && hub != NULL && tls_hub == hub) {
        hook(hub);
    }
}

static void make_hub_key(void) {
    (void)pthread_key_create(&hub_key, hub_key_destructor);
}

void cgreenlet_set_thread_hub(void *hub) {
    tls_hub = hub;
    pthread_once(&hub_key_once, make_hub_key);
    (void)pthread_setspecific(hub_key, hub);
}

void cgreenlet_set_thread_exit_hook(void (*hook)(void *hub)) {
    atomic_store(&thread_exit_hook, hook);
}

int cgreenlet_thread_id(void) {
    return (int)gettid();
}

void cgreenlet_set_exclusivity_swap(bool enabled) {
    atomic_store_explicit(&exclusivity_swap, enabled, memory_order_relaxed);
}

void cgreenlet_set_name(cgreenlet_t *g, const char *name) {
    size_t n = strlen(name);
    if (n >= sizeof(g->name)) {
        n = sizeof(g->name) - 1;
    }
    memcpy(g->name, name, n);
    g->name[n] = 0;
}

void cgreenlet_set_spawn_site_name(cgreenlet_t *g, const uint8_t *file, size_t file_length, unsigned long line) {
    static const char prefix[] = "spawned at ";
    static const char ellipsis[] = "...";
    const size_t cap = sizeof(g->name) - 1;
    char digits[24];
    size_t ndigits = 0;
    do {
        digits[ndigits++] = (char)('0' + line % 10);
        line /= 10;
    } while (line != 0);
    size_t n = sizeof(prefix) - 1;
    memcpy(g->name, prefix, n);
    // A long path loses its beginning, not the file name and line that say where the greenlet came from.
    size_t room = cap - n - 1 - ndigits;
    if (file_length > room) {
        memcpy(g->name + n, ellipsis, sizeof(ellipsis) - 1);
        n += sizeof(ellipsis) - 1;
        size_t keep = room - (sizeof(ellipsis) - 1);
        memcpy(g->name + n, file + file_length - keep, keep);
        n += keep;
    } else {
        memcpy(g->name + n, file, file_length);
        n += file_length;
    }
    g->name[n++] = ':';
    while (ndigits > 0) {
        g->name[n++] = digits[--ndigits];
    }
    g->name[n] = 0;
}

void cgreenlet_init_main(cgreenlet_t *g) {
    memset(g, 0, sizeof(*g));
    cgreenlet_set_name(g, "main");
    // Accesses the thread already has open stay visible to every greenlet (they enclose the hub's whole
    // life); what main opens from now on is main's own.
    swift_task_enterThreadLocalContext((char *)g->exclusivity);
#ifdef CGREENLET_TSAN
    g->tsan_fiber = __tsan_get_current_fiber();
#endif
}

static void cgreenlet_boot(void *arg) {
    cgreenlet_t *g = arg;
#ifdef CGREENLET_ASAN
    __sanitizer_finish_switch_fiber(NULL, &g->asan_from_bottom, &g->asan_from_size);
#endif
    errno = 0;
    g->entry(g->arg);
    // The Swift entry ends with cgreenlet_switch_final; reaching this line is a bug in the runtime.
    static const char msg[] = "swift-gevent: BUG DETECTED: a greenlet's entry function returned\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    abort();
}

int cgreenlet_init(cgreenlet_t *g, size_t stack_size, void (*entry)(void *), void *arg) {
    memset(g, 0, sizeof(*g));
    int err = cgreenlet_stack_acquire(stack_size, &g->stack_base, &g->stack_size, &g->guard_size, &g->stack_slab);
    if (err != 0) {
        return err;
    }
    g->entry = entry;
    g->arg = arg;
    void *top = (char *)g->stack_base + g->guard_size + g->stack_size;
    g->sp = gevent_ctx_make(top, cgreenlet_boot, g);
    // The TSan fiber is created on the first switch into the greenlet (cgreenlet_switch): destroying a
    // fiber that never ran, while other threads churn fibers, crashes TSan's runtime in
    // ThreadContext::OnFinished (a corrupted trace-part list), and a hub's greenlet often never runs.
    return 0;
}

void cgreenlet_release_stack(cgreenlet_t *g) {
    if (g->stack_base != NULL) {
        cgreenlet_stack_release(g->stack_base, g->stack_size, g->guard_size, g->stack_slab);
        g->stack_base = NULL;
    }
#ifdef CGREENLET_TSAN
    if (g->tsan_fiber != NULL && g->stack_size != 0) {
        __tsan_destroy_fiber(g->tsan_fiber);
    }
    g->tsan_fiber = NULL;
#endif
}

static inline void swap_exclusivity(cgreenlet_t *from, cgreenlet_t *to) {
    if (atomic_load_explicit(&exclusivity_swap, memory_order_relaxed)) {
        // While a context runs, word 0 of its state holds the thread's list as it was when the context
        // entered (null: empty), and exit leaves exactly that list in the thread. Enter is a no-op when the
        // thread's list is empty and `to` saved no accesses of its own (its word 0 is null), which is nearly
        // every switch: skipping the call then saves a call into the runtime and a thread-local lookup.
        // (Algorithm: swift/stdlib/public/runtime/ConcurrencyExclusivity.inc, push cases 1-2.)
        bool outer_list_empty = from->exclusivity[0] == 0;
        swift_task_exitThreadLocalContext((char *)from->exclusivity);
        if (!outer_list_empty || to->exclusivity[0] != 0) {
            swift_task_enterThreadLocalContext((char *)to->exclusivity);
        }
    }
}

// errno belongs to the thread, and the context we jump to resumes on this thread: so the switch restores
// the errno of `to` just before the jump instead of `from` restoring its own after it. Nothing then runs
// after gevent_ctx_jump, which the compiler turns into a tail call (a jump). That matters: the switch
// returns into a different call chain than the one that called it, so a `ret` out of this function
// would be mispredicted on every switch (measured: 37 ns instead of 15 ns per switch on x86_64).
void cgreenlet_switch(cgreenlet_t *from, cgreenlet_t *to) {
    int *error = thread_errno();
    from->saved_errno = *error;
    swap_exclusivity(from, to);
    tls_current = to;
#ifdef CGREENLET_ASAN
    void *fake_stack = NULL;
    const void *to_bottom = to->stack_base ? (const char *)to->stack_base + to->guard_size : to->asan_from_bottom;
    __sanitizer_start_switch_fiber(&fake_stack, to_bottom, to->stack_base ? to->stack_size : to->asan_from_size);
#endif
#ifdef CGREENLET_TSAN
    if (to->tsan_fiber == NULL) {
        to->tsan_fiber = __tsan_create_fiber(0);
    }
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    *error = to->saved_errno;
    gevent_ctx_jump(&from->sp, to->sp);
#ifdef CGREENLET_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &from->asan_from_bottom, &from->asan_from_size);
    errno = from->saved_errno; // in case the sanitizer's bookkeeping changed it
#endif
}

void cgreenlet_switch_final(cgreenlet_t *from, cgreenlet_t *to) {
    from->dead = 1;
    swap_exclusivity(from, to);
    tls_current = to;
#ifdef CGREENLET_ASAN
    const void *to_bottom = to->stack_base ? (const char *)to->stack_base + to->guard_size : to->asan_from_bottom;
    __sanitizer_start_switch_fiber(NULL, to_bottom, to->stack_base ? to->stack_size : to->asan_from_size);
#endif
#ifdef CGREENLET_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    *thread_errno() = to->saved_errno; // see cgreenlet_switch
    // The saved stack pointer of a dead greenlet is never used; it must still go somewhere that is not
    // this stack frame (under ASan, locals whose address is taken live on a fake stack that the switch
    // above has just released).
    gevent_ctx_jump(&from->sp, to->sp);
    abort();
}
