// swift-gevent: area `thread`. A pthread_create made from a greenlet (or from the main thread of a program
// that has no hub yet: it gets one) starts a greenlet of the caller's hub instead of an OS thread, and
// every function that takes a pthread_t knows those handles, so none ever reaches glibc, which would read
// it as its own `struct pthread`. Threads created by other threads, by the hub itself, and by the runtime
// (gevent_shim_real_pthread_create) stay OS threads.
//
// A greenlet-thread's handle is the address of its record, carved from one reserved region so that "is this
// handle ours" is a range check. Its per-thread data (pthread keys, cleanup handlers) lives in the record;
// glibc keeps them per OS thread, which every greenlet of the thread shares.
#include "shim.h"

// Not instrumented by ThreadSanitizer, which calls some of these hooks (pthread_key_create,
// pthread_getattr_np, the mutexes) from its own initialisation, before instrumented code may run.
#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <dlfcn.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

// MARK: - Waiting on a word: greenlets park on their hub, every other thread futex-waits

// Parked greenlets, hashed by the word they wait on. A bucket's lock is a spin lock that yields the CPU
// through the raw syscall: the pthread functions are interposed here, and every holder only links a node.
enum { PARK_BUCKETS = 256 };

typedef struct parked {
    const _Atomic uint32_t *word;
    struct parked *next;
    gevent_shim_park_token token;
    bool woken;
} parked_t;

static struct {
    atomic_flag lock;
    parked_t *head;
} park_buckets[PARK_BUCKETS];

static size_t bucket_of(const void *word) {
    uintptr_t bits = (uintptr_t)word;
    return (size_t)((bits >> 2) ^ (bits >> 11)) % PARK_BUCKETS;
}

static void bucket_lock(size_t bucket) {
    while (atomic_flag_test_and_set_explicit(&park_buckets[bucket].lock, memory_order_acquire)) {
        syscall(SYS_sched_yield);
    }
}

static void bucket_unlock(size_t bucket) {
    atomic_flag_clear_explicit(&park_buckets[bucket].lock, memory_order_release);
}

static long futex_call(const _Atomic uint32_t *word, int operation, uint32_t value, const struct timespec *timeout) {
    return syscall(SYS_futex, word, operation, value, timeout, NULL, FUTEX_BITSET_MATCH_ANY);
}

/// Implemented in Swift (ShimThreads.swift).
int gevent_shim_park_prepare(gevent_shim_park_token *token);
int gevent_shim_park(gevent_shim_park_token *token, int64_t timeout_ns);
void gevent_shim_unpark(const gevent_shim_park_token *token);

SHIM_HIDDEN int shim_word_park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns) {
    parked_t node = {.word = word};
    if (shim_enabled(GEVENT_SHIM_AREA_THREAD) && gevent_shim_park_prepare(&node.token) == GEVENT_SHIM_READY) {
        size_t bucket = bucket_of(word);
        bucket_lock(bucket);
        // Checked under the lock a waker takes before it looks for parked greenlets: a change made after
        // this load comes with a wake that finds the node.
        if (atomic_load_explicit(word, memory_order_acquire) != expected) {
            bucket_unlock(bucket);
            return 0;
        }
        node.next = park_buckets[bucket].head;
        park_buckets[bucket].head = &node;
        bucket_unlock(bucket);
        atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
        int64_t timeout = deadline_ns == 0 ? -1 : shim_remaining(deadline_ns);
        gevent_shim_park(&node.token, timeout);
        bucket_lock(bucket);
        bool woken = node.woken;
        if (!woken) {
            for (parked_t **link = &park_buckets[bucket].head; *link != NULL; link = &(*link)->next) {
                if (*link == &node) {
                    *link = node.next;
                    break;
                }
            }
        }
        bucket_unlock(bucket);
        return (!woken && deadline_ns != 0 && shim_remaining(deadline_ns) == 0) ? ETIMEDOUT : 0;
    }
    return -1;
}

SHIM_HIDDEN int shim_word_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns, bool cooperative) {
    if (cooperative) {
        int status = shim_word_park(word, expected, deadline_ns);
        if (status >= 0) {
            return status;
        }
    }
    struct timespec until;
    if (deadline_ns != 0) {
        until.tv_sec = deadline_ns / 1000000000LL;
        until.tv_nsec = deadline_ns % 1000000000LL;
    }
    // An absolute CLOCK_MONOTONIC deadline (FUTEX_WAIT_BITSET's clock without FUTEX_CLOCK_REALTIME).
    long status = futex_call(word, FUTEX_WAIT_BITSET_PRIVATE, expected, deadline_ns == 0 ? NULL : &until);
    return (status != 0 && errno == ETIMEDOUT) ? ETIMEDOUT : 0;
}

SHIM_HIDDEN void shim_word_wake(_Atomic uint32_t *word, int count) {
    size_t bucket = bucket_of(word);
    int woken = 0;
    bucket_lock(bucket);
    parked_t **link = &park_buckets[bucket].head;
    while (*link != NULL && woken < count) {
        parked_t *node = *link;
        if (node->word != word) {
            link = &node->next;
            continue;
        }
        *link = node->next;
        node->woken = true;
        // Under the lock: the node (on the parked greenlet's stack) and its greenlet live until the greenlet
        // takes this lock again, and the wake retains what it needs.
        gevent_shim_unpark(&node->token);
        woken++;
    }
    bucket_unlock(bucket);
    futex_call(word, FUTEX_WAKE_PRIVATE, count == INT_MAX ? INT_MAX : (uint32_t)count, NULL);
}

// MARK: - Records

enum {
    RECORD_LIVE = 0x74687264,
    RECORD_FREE = 0x66726565,
    KEYS_MAX = PTHREAD_KEYS_MAX,
};

/// Bits of a record's state word, which joiners wait on.
enum {
    STATE_FINISHED = 1u << 0,
    STATE_DETACHED = 1u << 1,
    STATE_JOINING = 1u << 2,
};

typedef struct thread_specific {
    void *value;
    uint32_t sequence;
} thread_specific_t;

typedef struct shim_thread {
    uint32_t magic;
    _Atomic uint32_t state;
    void *(*start)(void *);
    void *argument;
    void *result;
    cgreenlet_t *context;
    struct shim_thread *next_free;
    /// Innermost cleanup handler of pthread_cleanup_push (glibc's buffer; its __pad[0] links the next).
    __pthread_unwind_buf_t *cleanup;
    thread_specific_t *specific; ///< KEYS_MAX entries once a key is set
    size_t stack_size;
    int identity;    ///< what a mutex records as its owner: above every possible kernel thread id
    pid_t os_thread; ///< the kernel id of the OS thread (the hub's) that runs it
    jmp_buf exit;
    char name[16];
} shim_thread_t;

// Records are slots of one reserved region (address space only until touched): a handle is ours exactly
// when it is the address of a slot.
enum { RECORD_SIZE = (sizeof(shim_thread_t) + 63) / 64 * 64, RECORD_REGION = 1u << 28 };

static char *record_region;
static size_t record_used;
static shim_thread_t *record_free_list;
static atomic_flag record_lock;
static _Atomic uint32_t live_threads;

static void record_list_lock(void) {
    while (atomic_flag_test_and_set_explicit(&record_lock, memory_order_acquire)) {
        syscall(SYS_sched_yield);
    }
}

static void record_list_unlock(void) {
    atomic_flag_clear_explicit(&record_lock, memory_order_release);
}

static shim_thread_t *record_allocate(void) {
    record_list_lock();
    shim_thread_t *record = record_free_list;
    if (record != NULL) {
        record_free_list = record->next_free;
    } else {
        if (record_region == NULL) {
            void *region =
                mmap(NULL, RECORD_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (region != MAP_FAILED) {
                record_region = region;
            }
        }
        if (record_region != NULL && record_used + RECORD_SIZE <= RECORD_REGION) {
            record = (shim_thread_t *)(record_region + record_used);
            record_used += RECORD_SIZE;
        }
    }
    record_list_unlock();
    if (record != NULL) {
        memset(record, 0, sizeof(*record));
        record->magic = RECORD_LIVE;
        record->identity = SHIM_IDENTITY_BASE + (int)(((char *)record - record_region) / RECORD_SIZE);
        record->os_thread = shim_os_thread_id();
    }
    return record;
}

static void record_free(shim_thread_t *record) {
    free(record->specific);
    record->specific = NULL;
    record->magic = RECORD_FREE;
    record_list_lock();
    record->next_free = record_free_list;
    record_free_list = record;
    record_list_unlock();
}

/// The live record `handle` is, or NULL for a handle of glibc's.
static shim_thread_t *record_of(pthread_t handle) {
    char *region = record_region;
    uintptr_t offset = (uintptr_t)handle - (uintptr_t)region;
    if (region == NULL || (uintptr_t)handle < (uintptr_t)region || offset >= record_used || offset % RECORD_SIZE != 0) {
        return NULL;
    }
    shim_thread_t *record = (shim_thread_t *)handle;
    return record->magic == RECORD_LIVE ? record : NULL;
}

/// Whether `handle` is a slot of the region, live or not: such a handle must never reach glibc.
static bool is_record_handle(pthread_t handle) {
    char *region = record_region;
    return region != NULL && (uintptr_t)handle >= (uintptr_t)region &&
           (uintptr_t)handle - (uintptr_t)region < RECORD_REGION;
}

/// The greenlet-thread running now, or NULL (an OS thread, or a greenlet that is not a patched pthread).
static inline shim_thread_t *current_thread(void) {
    cgreenlet_t *greenlet = cgreenlet_tls_current;
    return SHIM_UNLIKELY(greenlet != NULL) ? (shim_thread_t *)greenlet->thread_record : NULL;
}

static SHIM_TLS pid_t cached_os_thread_id;

SHIM_HIDDEN pid_t shim_os_thread_id(void) {
    pid_t id = cached_os_thread_id;
    if (SHIM_UNLIKELY(id == 0)) {
        id = (pid_t)syscall(SYS_gettid);
        cached_os_thread_id = id;
    }
    return id;
}

SHIM_HIDDEN void shim_thread_after_fork_in_child(void) {
    cached_os_thread_id = 0;
}

SHIM_HIDDEN int shim_thread_identity(void) {
    shim_thread_t *thread = current_thread();
    return SHIM_UNLIKELY(thread != NULL) ? thread->identity : shim_os_thread_id();
}

SHIM_HIDDEN bool shim_identity_runs_here(int identity) {
    pid_t here = shim_os_thread_id();
    if (identity < SHIM_IDENTITY_BASE) {
        return identity == here;
    }
    size_t offset = (size_t)(identity - SHIM_IDENTITY_BASE) * RECORD_SIZE;
    if (record_region == NULL || offset >= record_used) {
        return false;
    }
    shim_thread_t *record = (shim_thread_t *)(record_region + offset);
    return record->magic == RECORD_LIVE && record->os_thread == here;
}

// MARK: - The real functions

SHIM_REAL(pthread_create)
SHIM_REAL(pthread_join)
SHIM_REAL(pthread_tryjoin_np)
SHIM_REAL(pthread_timedjoin_np)
SHIM_REAL(pthread_clockjoin_np)
SHIM_REAL(pthread_detach)
SHIM_REAL(pthread_exit)
SHIM_REAL(pthread_self)
SHIM_REAL(pthread_getattr_np)
SHIM_REAL(pthread_setname_np)
SHIM_REAL(pthread_getname_np)
SHIM_REAL(pthread_kill)
SHIM_REAL(pthread_sigqueue)
SHIM_REAL(pthread_cancel)
SHIM_REAL(pthread_setschedparam)
SHIM_REAL(pthread_getschedparam)
SHIM_REAL(pthread_setschedprio)
SHIM_REAL(pthread_getcpuclockid)
SHIM_REAL(pthread_key_create)
SHIM_REAL(pthread_key_delete)
SHIM_REAL(pthread_getspecific)
SHIM_REAL(pthread_setspecific)
SHIM_REAL(__pthread_register_cancel)
SHIM_REAL(__pthread_unregister_cancel)
SHIM_REAL(__pthread_unwind_next)

/// The OS thread a greenlet-thread runs on: its hub's thread, which is the caller's (a greenlet-thread is
/// only ever asked about from its own hub, or its handle is passed to another thread that means the
/// process). For signals and scheduling, the OS-level functions act on that thread.
static pthread_t os_thread_of(shim_thread_t *record) {
    (void)record;
    return real_pthread_self()();
}

// MARK: - Keys

// The destructor and generation of every key, kept here because glibc's table is private. A key is in use
// while its generation is odd; a value set under an older generation belongs to a deleted key.
static void (*_Atomic key_destructors[KEYS_MAX])(void *);
static _Atomic uint32_t key_generations[KEYS_MAX];

SHIM_EXPORT int pthread_key_create(pthread_key_t *key, void (*destructor)(void *)) {
    int status = real_pthread_key_create()(key, destructor);
    if (status == 0 && *key < KEYS_MAX) {
        atomic_store(&key_destructors[*key], destructor);
        uint32_t generation = atomic_load(&key_generations[*key]);
        atomic_store(&key_generations[*key], generation | 1u);
    }
    return status;
}

SHIM_EXPORT int pthread_key_delete(pthread_key_t key) {
    int status = real_pthread_key_delete()(key);
    if (status == 0 && key < KEYS_MAX) {
        atomic_store(&key_destructors[key], NULL);
        uint32_t generation = atomic_load(&key_generations[key]);
        atomic_store(&key_generations[key], (generation | 1u) + 1u);
    }
    return status;
}

SHIM_EXPORT void *pthread_getspecific(pthread_key_t key) {
    shim_thread_t *thread = current_thread();
    if (SHIM_LIKELY(thread == NULL)) {
        return real_pthread_getspecific()(key);
    }
    if (key >= KEYS_MAX || thread->specific == NULL) {
        return NULL;
    }
    thread_specific_t *entry = &thread->specific[key];
    return entry->sequence == atomic_load_explicit(&key_generations[key], memory_order_relaxed) ? entry->value : NULL;
}

SHIM_EXPORT int pthread_setspecific(pthread_key_t key, const void *value) {
    shim_thread_t *thread = current_thread();
    if (SHIM_LIKELY(thread == NULL)) {
        return real_pthread_setspecific()(key, value);
    }
    if (key >= KEYS_MAX) {
        return EINVAL;
    }
    uint32_t generation = atomic_load_explicit(&key_generations[key], memory_order_relaxed);
    // A key we saw deleted (even, not zero); one created before the shim could see it has generation 0.
    if (generation != 0 && (generation & 1u) == 0) {
        return EINVAL;
    }
    if (thread->specific == NULL) {
        thread->specific = calloc(KEYS_MAX, sizeof(thread_specific_t));
        if (thread->specific == NULL) {
            return ENOMEM;
        }
    }
    thread->specific[key] = (thread_specific_t){(void *)value, generation};
    return 0;
}

/// POSIX: rounds of destructors for the non-NULL values of keys with one, each value cleared before its
/// destructor runs, until none is left or PTHREAD_DESTRUCTOR_ITERATIONS rounds ran.
static void run_key_destructors(shim_thread_t *thread) {
    if (thread->specific == NULL) {
        return;
    }
    for (int round = 0; round < PTHREAD_DESTRUCTOR_ITERATIONS; round++) {
        bool ran = false;
        for (size_t key = 0; key < KEYS_MAX; key++) {
            thread_specific_t *entry = &thread->specific[key];
            void (*destructor)(void *) = atomic_load_explicit(&key_destructors[key], memory_order_relaxed);
            if (entry->value == NULL || destructor == NULL ||
                entry->sequence != atomic_load_explicit(&key_generations[key], memory_order_relaxed)) {
                continue;
            }
            void *value = entry->value;
            entry->value = NULL;
            destructor(value);
            ran = true;
        }
        if (!ran) {
            break;
        }
    }
}

// MARK: - Creating, ending and joining

/// Implemented in Swift (ShimThreads.swift): a greenlet of the calling thread's hub (created if the thread
/// has none) with a stack of `stack_size` bytes, already mapped, that runs gevent_shim_thread_main(record).
int gevent_shim_thread_spawn(void *record, size_t stack_size, const char *name, cgreenlet_t **context);

static bool is_main_thread(void) {
    return getpid() == shim_os_thread_id();
}

/// Whether a pthread_create made now starts a greenlet: `thread` is patched and the caller is a greenlet (not
/// the hub), or the main thread of a program that has no hub yet.
static bool creates_greenlet(void) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & GEVENT_SHIM_AREA_THREAD))) {
        return false;
    }
    if (cgreenlet_tls_hub == NULL) {
        return is_main_thread();
    }
    return shim_enabled(GEVENT_SHIM_AREA_THREAD);
}

/// Whether `caller` (a return address) is in a runtime whose threads must stay OS threads: this library
/// itself, and Swift's runtime, Dispatch and Foundation, whose worker threads wait on futexes the hub never
/// sees and would stop every greenlet of the thread.
static bool caller_is_a_runtime(void *caller) {
    static const char *const runtimes[] = {"libswift", "libdispatch", "libFoundation", "lib_Foundation",
                                           "libBlocksRuntime"};
    Dl_info at_caller, ours;
    if (dladdr(caller, &at_caller) == 0 || at_caller.dli_fname == NULL) {
        return false;
    }
    if (dladdr((void *)caller_is_a_runtime, &ours) != 0 && ours.dli_fbase == at_caller.dli_fbase &&
        ours.dli_fbase != NULL && strstr(at_caller.dli_fname, ".so") != NULL) {
        return true;
    }
    const char *base = strrchr(at_caller.dli_fname, '/');
    base = base != NULL ? base + 1 : at_caller.dli_fname;
    for (size_t i = 0; i < sizeof(runtimes) / sizeof(runtimes[0]); i++) {
        if (strncmp(base, runtimes[i], strlen(runtimes[i])) == 0) {
            return true;
        }
    }
    return false;
}

/// The stack a greenlet-thread gets: the attribute's size, or glibc's default for new threads (the soft
/// RLIMIT_STACK, usually 8 MiB); only touched pages cost memory. 0 when the attribute names a stack of its
/// own, which only an OS thread can use.
static size_t requested_stack_size(const pthread_attr_t *attributes, bool *detached) {
    pthread_attr_t defaults;
    const pthread_attr_t *source = attributes;
    if (source == NULL) {
        if (pthread_getattr_default_np(&defaults) != 0) {
            return 8u << 20;
        }
        source = &defaults;
    }
    void *address = NULL;
    size_t raw_size = 0, size = 0;
    int state = PTHREAD_CREATE_JOINABLE;
    // glibc's getstack gives the lowest address, the set address less the set size; with no address set that
    // is 0 less the size.
    pthread_attr_getstack(source, &address, &raw_size);
    if ((uintptr_t)address == (uintptr_t)0 - raw_size) {
        address = NULL;
    }
    pthread_attr_getstacksize(source, &size);
    pthread_attr_getdetachstate(source, &state);
    if (source == &defaults) {
        pthread_attr_destroy(&defaults);
    }
    *detached = state == PTHREAD_CREATE_DETACHED;
    return address != NULL ? 0 : size;
}

static void finish(shim_thread_t *thread) {
    cgreenlet_tls_current->thread_record = NULL;
    uint32_t before = atomic_fetch_or_explicit(&thread->state, STATE_FINISHED, memory_order_acq_rel);
    if (before & STATE_DETACHED) {
        record_free(thread);
    } else {
        shim_word_wake(&thread->state, INT_MAX);
    }
    if (atomic_fetch_sub_explicit(&live_threads, 1, memory_order_acq_rel) == 1) {
        shim_word_wake(&live_threads, INT_MAX);
    }
}

SHIM_EXPORT void gevent_shim_thread_main(void *argument) {
    shim_thread_t *thread = argument;
    if (_setjmp(thread->exit) == 0) {
        thread->result = thread->start(thread->argument);
    }
    run_key_destructors(thread);
    finish(thread);
}

SHIM_EXPORT void *gevent_shim_thread_start_routine(const void *record) {
    return (void *)((const shim_thread_t *)record)->start;
}

SHIM_EXPORT void gevent_shim_describe_code(const void *address, char *buffer, size_t length) {
    Dl_info info;
    if (length == 0) {
        return;
    }
    if (dladdr(address, &info) == 0) {
        snprintf(buffer, length, "%p", address);
    } else if (info.dli_sname == NULL) {
        // The offset in the file, as addr2line -e FILE takes it.
        snprintf(buffer, length, "0x%lx in %s", (unsigned long)((const char *)address - (const char *)info.dli_fbase),
                 info.dli_fname ? info.dli_fname : "?");
    } else {
        snprintf(buffer, length, "%s in %s", info.dli_sname, info.dli_fname ? info.dli_fname : "?");
    }
}

SHIM_EXPORT int gevent_shim_real_pthread_create(void *thread, const void *attributes, void *(*start)(void *),
                                                void *argument) {
    return real_pthread_create()(thread, attributes, start, argument);
}

SHIM_EXPORT int pthread_create(pthread_t *thread, const pthread_attr_t *attributes, void *(*start)(void *),
                               void *argument) {
    bool detached = false;
    size_t stack_size = 0;
    if (SHIM_LIKELY(!creates_greenlet()) || caller_is_a_runtime(__builtin_return_address(0)) ||
        (stack_size = requested_stack_size(attributes, &detached)) == 0) {
        return real_pthread_create()(thread, attributes, start, argument);
    }
    shim_thread_t *record = record_allocate();
    if (record == NULL) {
        return EAGAIN;
    }
    record->start = start;
    record->argument = argument;
    record->stack_size = stack_size;
    if (detached) {
        atomic_store(&record->state, STATE_DETACHED);
    }
    // The name the monitor and the overflow report give: the start routine's symbol, when it has one.
    char name[48] = "pthread";
    Dl_info info;
    if (dladdr((void *)start, &info) != 0 && info.dli_sname != NULL) {
        snprintf(name, sizeof(name), "pthread %s", info.dli_sname);
    }
    atomic_fetch_add_explicit(&live_threads, 1, memory_order_acq_rel);
    // Written before the greenlet can run (it runs at the caller's next switch at the earliest).
    *thread = (pthread_t)record;
    int status = gevent_shim_thread_spawn(record, stack_size, name, &record->context);
    if (status != 0) {
        atomic_fetch_sub_explicit(&live_threads, 1, memory_order_acq_rel);
        record_free(record);
        return EAGAIN;
    }
    return 0;
}

SHIM_EXPORT pthread_t pthread_self(void) {
    shim_thread_t *thread = current_thread();
    if (SHIM_UNLIKELY(thread != NULL)) {
        return (pthread_t)thread;
    }
    return real_pthread_self()();
}

SHIM_EXPORT void pthread_exit(void *value) {
    shim_thread_t *thread = current_thread();
    if (thread != NULL) {
        thread->result = value;
        __pthread_unwind_buf_t *handler = thread->cleanup;
        if (handler != NULL) {
            // Into the handler's pthread_cleanup_push frame, which runs it and continues with the next
            // one through __pthread_unwind_next.
            thread->cleanup = handler->__pad[0];
            longjmp((struct __jmp_buf_tag *)(void *)handler->__cancel_jmp_buf, 1);
        }
        longjmp(thread->exit, 1);
    }
    // POSIX: when main calls pthread_exit the process lives on until its last thread ends, then exits with
    // status 0. glibc would end the hub's own OS thread, and with it every greenlet-thread.
    if (cgreenlet_tls_hub != NULL && is_main_thread() && atomic_load(&live_threads) > 0) {
        uint32_t live;
        while ((live = atomic_load_explicit(&live_threads, memory_order_acquire)) > 0) {
            shim_word_wait(&live_threads, live, 0, true);
        }
        exit(0);
    }
    real_pthread_exit()(value);
    __builtin_unreachable();
}

SHIM_EXPORT void __pthread_register_cancel(__pthread_unwind_buf_t *buffer) {
    shim_thread_t *thread = current_thread();
    if (SHIM_LIKELY(thread == NULL)) {
        real___pthread_register_cancel()(buffer);
        return;
    }
    buffer->__pad[0] = thread->cleanup;
    thread->cleanup = buffer;
}

SHIM_EXPORT void __pthread_unregister_cancel(__pthread_unwind_buf_t *buffer) {
    shim_thread_t *thread = current_thread();
    if (SHIM_LIKELY(thread == NULL)) {
        real___pthread_unregister_cancel()(buffer);
        return;
    }
    thread->cleanup = buffer->__pad[0];
}

SHIM_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *buffer) {
    shim_thread_t *thread = current_thread();
    if (SHIM_LIKELY(thread == NULL)) {
        real___pthread_unwind_next()(buffer);
        __builtin_unreachable();
    }
    __pthread_unwind_buf_t *handler = thread->cleanup;
    if (handler != NULL) {
        thread->cleanup = handler->__pad[0];
        longjmp((struct __jmp_buf_tag *)(void *)handler->__cancel_jmp_buf, 1);
    }
    longjmp(thread->exit, 1);
}

/// Joins greenlet-thread `record`: waits until it finished or `deadline_ns` (monotonic, 0 = none; -1 = do not
/// wait), then takes its value and frees it.
static int join_record(shim_thread_t *record, void **value, int64_t deadline_ns) {
    if (record == current_thread()) {
        return EDEADLK;
    }
    uint32_t state = atomic_load(&record->state);
    do {
        if (state & (STATE_DETACHED | STATE_JOINING)) {
            return EINVAL;
        }
    } while (!atomic_compare_exchange_weak(&record->state, &state, state | STATE_JOINING));
    state |= STATE_JOINING;
    while (!(state & STATE_FINISHED)) {
        if (deadline_ns < 0 || (deadline_ns > 0 && shim_remaining(deadline_ns) == 0)) {
            atomic_fetch_and(&record->state, ~(uint32_t)STATE_JOINING);
            return deadline_ns < 0 ? EBUSY : ETIMEDOUT;
        }
        shim_word_wait(&record->state, state, deadline_ns < 0 ? 0 : deadline_ns, true);
        state = atomic_load_explicit(&record->state, memory_order_acquire);
    }
    if (value != NULL) {
        *value = record->result;
    }
    record_free(record);
    return 0;
}

SHIM_HIDDEN int64_t shim_deadline_on_clock(clockid_t clock, const struct timespec *when, int *error) {
    if (clock != CLOCK_REALTIME && clock != CLOCK_MONOTONIC) {
        *error = EINVAL;
        return 0;
    }
    if (!shim_readable(when, sizeof(*when)) || when->tv_nsec < 0 || when->tv_nsec >= 1000000000L) {
        *error = EINVAL;
        return 0;
    }
    struct timespec now;
    clock_gettime(clock, &now);
    int64_t left = (when->tv_sec - now.tv_sec) * 1000000000LL + (when->tv_nsec - now.tv_nsec);
    int64_t mono = shim_now_ns();
    *error = 0;
    // A deadline that has passed is "now" (never 0, which means none).
    return left <= 0 ? mono : (left > INT64_MAX - mono ? INT64_MAX : mono + left);
}

SHIM_HIDDEN int shim_poll_cooperatively(int (*attempt)(void *), void *context, int64_t deadline_ns,
                                        int64_t longest_pause_ns) {
    int64_t pause_ns = 1000000;
    for (;;) {
        int status = attempt(context);
        if (status != EBUSY) {
            return status;
        }
        if (deadline_ns > 0 && shim_remaining(deadline_ns) == 0) {
            return ETIMEDOUT;
        }
        if (gevent_shim_sleep(pause_ns) == GEVENT_SHIM_CANNOT_WAIT) {
            return -1;
        }
        pause_ns = pause_ns < longest_pause_ns ? pause_ns * 2 : pause_ns;
    }
}

typedef struct os_thread_join {
    pthread_t handle;
    void **value;
} os_thread_join_t;

static int try_join_os_thread(void *context) {
    os_thread_join_t *join = context;
    return real_pthread_tryjoin_np()(join->handle, join->value);
}

/// Joins an OS thread from a greenlet without blocking the hub (glibc offers nothing to wait on).
static int join_os_thread(pthread_t handle, void **value, int64_t deadline_ns) {
    os_thread_join_t join = {handle, value};
    return shim_poll_cooperatively(try_join_os_thread, &join, deadline_ns, 50000000);
}

SHIM_EXPORT int pthread_join(pthread_t handle, void **value) {
    shim_thread_t *record = record_of(handle);
    if (record != NULL) {
        return join_record(record, value, 0);
    }
    if (is_record_handle(handle)) {
        return ESRCH;
    }
    if (shim_enabled(GEVENT_SHIM_AREA_THREAD)) {
        int status = join_os_thread(handle, value, 0);
        if (status >= 0) {
            return status;
        }
    }
    return real_pthread_join()(handle, value);
}

SHIM_EXPORT int pthread_tryjoin_np(pthread_t handle, void **value) {
    shim_thread_t *record = record_of(handle);
    if (record != NULL) {
        return join_record(record, value, -1);
    }
    return is_record_handle(handle) ? ESRCH : real_pthread_tryjoin_np()(handle, value);
}

SHIM_EXPORT int pthread_clockjoin_np(pthread_t handle, void **value, clockid_t clock, const struct timespec *when) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        if (is_record_handle(handle)) {
            return ESRCH;
        }
        if (when != NULL && shim_enabled(GEVENT_SHIM_AREA_THREAD)) {
            int error = 0;
            int64_t deadline = shim_deadline_on_clock(clock, when, &error);
            if (error != 0) {
                return error;
            }
            int status = join_os_thread(handle, value, deadline);
            if (status >= 0) {
                return status;
            }
        }
        return real_pthread_clockjoin_np()(handle, value, clock, when);
    }
    if (when == NULL) {
        return join_record(record, value, 0);
    }
    int error = 0;
    int64_t deadline = shim_deadline_on_clock(clock, when, &error);
    return error != 0 ? error : join_record(record, value, deadline);
}

SHIM_EXPORT int pthread_timedjoin_np(pthread_t handle, void **value, const struct timespec *when) {
    if (record_of(handle) == NULL && !is_record_handle(handle) && !shim_enabled(GEVENT_SHIM_AREA_THREAD)) {
        return real_pthread_timedjoin_np()(handle, value, when);
    }
    return pthread_clockjoin_np(handle, value, CLOCK_REALTIME, when);
}

SHIM_EXPORT int pthread_detach(pthread_t handle) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_detach()(handle);
    }
    uint32_t state = atomic_load(&record->state);
    do {
        if (state & (STATE_DETACHED | STATE_JOINING)) {
            return EINVAL;
        }
    } while (!atomic_compare_exchange_weak(&record->state, &state, state | STATE_DETACHED));
    if (state & STATE_FINISHED) {
        record_free(record);
    }
    return 0;
}

// MARK: - Functions that take a pthread_t and mean the OS thread

SHIM_EXPORT int pthread_getattr_np(pthread_t handle, pthread_attr_t *attributes) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_getattr_np()(handle, attributes);
    }
    int status = pthread_attr_init(attributes);
    if (status != 0) {
        return status;
    }
    cgreenlet_t *context = record->context;
    if (context != NULL && context->stack_base != NULL) {
        pthread_attr_setstack(attributes, (char *)context->stack_base + context->guard_size, context->stack_size);
        pthread_attr_setguardsize(attributes, context->guard_size);
    } else {
        pthread_attr_setstacksize(attributes, record->stack_size);
    }
    pthread_attr_setdetachstate(attributes, (atomic_load(&record->state) & STATE_DETACHED) ? PTHREAD_CREATE_DETACHED
                                                                                           : PTHREAD_CREATE_JOINABLE);
    return 0;
}

SHIM_EXPORT int pthread_setname_np(pthread_t handle, const char *name) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_setname_np()(handle, name);
    }
    size_t length = strlen(name);
    if (length >= sizeof(record->name)) {
        return ERANGE;
    }
    memcpy(record->name, name, length + 1);
    if (record->context != NULL) {
        cgreenlet_set_name(record->context, name);
    }
    return 0;
}

SHIM_EXPORT int pthread_getname_np(pthread_t handle, char *name, size_t length) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_getname_np()(handle, name, length);
    }
    size_t used = strlen(record->name);
    if (length <= used) {
        return ERANGE;
    }
    memcpy(name, record->name, used + 1);
    return 0;
}

SHIM_EXPORT int pthread_kill(pthread_t handle, int signal) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_kill()(handle, signal);
    }
    if (atomic_load(&record->state) & STATE_FINISHED) {
        return ESRCH;
    }
    // Delivered to the OS thread at once: its handler runs on whichever greenlet runs there.
    return signal == 0 ? 0 : real_pthread_kill()(os_thread_of(record), signal);
}

SHIM_EXPORT int pthread_sigqueue(pthread_t handle, int signal, const union sigval value) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_sigqueue()(handle, signal, value);
    }
    if (atomic_load(&record->state) & STATE_FINISHED) {
        return ESRCH;
    }
    return signal == 0 ? 0 : real_pthread_sigqueue()(os_thread_of(record), signal, value);
}

static void report_once(_Atomic bool *reported, const char *text) {
    if (!atomic_exchange(reported, true)) {
        size_t length = strlen(text);
        while (length > 0) {
            ssize_t n = shim_sys_write(2, text, length);
            if (n <= 0) {
                return;
            }
            text += n;
            length -= (size_t)n;
        }
    }
}

SHIM_EXPORT int pthread_cancel(pthread_t handle) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL) {
        return is_record_handle(handle) ? ESRCH : real_pthread_cancel()(handle);
    }
    static _Atomic bool reported;
    report_once(&reported, "swift-gevent: pthread_cancel of a thread that runs as a greenlet (GEVENT_PATCH "
                           "thread) is not supported: the thread keeps running; patch without thread "
                           "(--patch all) if the program relies on cancellation\n");
    return ENOTSUP;
}

SHIM_EXPORT int pthread_setschedparam(pthread_t handle, int policy, const struct sched_param *parameters) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL && is_record_handle(handle)) {
        return ESRCH;
    }
    return real_pthread_setschedparam()(record ? os_thread_of(record) : handle, policy, parameters);
}

SHIM_EXPORT int pthread_getschedparam(pthread_t handle, int *policy, struct sched_param *parameters) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL && is_record_handle(handle)) {
        return ESRCH;
    }
    return real_pthread_getschedparam()(record ? os_thread_of(record) : handle, policy, parameters);
}

SHIM_EXPORT int pthread_setschedprio(pthread_t handle, int priority) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL && is_record_handle(handle)) {
        return ESRCH;
    }
    return real_pthread_setschedprio()(record ? os_thread_of(record) : handle, priority);
}

SHIM_EXPORT int pthread_getcpuclockid(pthread_t handle, clockid_t *clock) {
    shim_thread_t *record = record_of(handle);
    if (record == NULL && is_record_handle(handle)) {
        return ESRCH;
    }
    return real_pthread_getcpuclockid()(record ? os_thread_of(record) : handle, clock);
}

SHIM_EXPORT int sched_yield(void) {
    if (shim_enabled(GEVENT_SHIM_AREA_THREAD) && gevent_shim_sleep(0) != GEVENT_SHIM_CANNOT_WAIT) {
        return 0;
    }
    return (int)syscall(SYS_sched_yield);
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
