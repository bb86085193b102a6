// swift-gevent: greenlet stacks (slabs per size class, guard regions, a few kept warm per thread) and the
// overflow report.
#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "include/CGreenlet.h"

#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CGREENLET_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CGREENLET_ASAN 1
#endif
#ifdef CGREENLET_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
#endif

#ifndef MADV_GUARD_INSTALL
// Linux 6.13's guard regions (glibc 2.36's headers predate them).
#define MADV_GUARD_INSTALL 102
#endif

// Stacks of the default size a thread keeps warm (not returned to the kernel) for the next spawn: enough
// for spawn/join churn, small enough that a burst of deep stacks does not stay resident.
#define CGREENLET_WARM_MAX 64
// Address space per slab; a slab is one mapping however many stacks it holds.
#define CGREENLET_SLAB_BYTES ((size_t)256 << 20)
#define CGREENLET_SLAB_MAX_STACKS 4096
// Slabs of one size with no stack in use that stay mapped for the next burst.
#define CGREENLET_EMPTY_SLABS_KEPT 4
#define CGREENLET_GUARD_MIN ((size_t)64 << 10)
#define CGREENLET_GUARD_MAX ((size_t)1 << 20)

static atomic_size_t default_stack_size = 256 * 1024;
static atomic_int guard_setting = CGREENLET_STACK_GUARD_AUTO;
// What the kernel answered to MADV_GUARD_INSTALL: -1 not asked yet, 0 unsupported (EINVAL), 1 supported.
static atomic_int madvise_guards = -1;

size_t cgreenlet_page_size(void) {
    static size_t page;
    if (page == 0) {
        page = (size_t)sysconf(_SC_PAGESIZE);
    }
    return page;
}

size_t cgreenlet_round_to_pages(size_t n) {
    size_t page = cgreenlet_page_size();
    return (n + page - 1) & ~(page - 1);
}

void cgreenlet_set_default_stack_size(size_t bytes) {
    atomic_store(&default_stack_size, cgreenlet_round_to_pages(bytes));
}

size_t cgreenlet_default_stack_size(void) {
    return atomic_load(&default_stack_size);
}

void cgreenlet_set_stack_guard(cgreenlet_stack_guard_t guard) {
    atomic_store(&guard_setting, (int)guard);
}

size_t cgreenlet_stack_guard_size(size_t usable) {
    // Half the stack: a frame that skips the guard lands in the stack below it in the slab (silently, unless
    // the code was built with -fstack-clash-protection), and frames approaching the stack's own size are the
    // ones that do that (a 300 KiB buffer on a 256 KiB stack). A guard region costs no memory and, with
    // MADV_GUARD_INSTALL, no mapping; with mprotect it is one mapping whatever its size. Either way it is
    // only address space, of which a 64-bit process has terabytes.
    size_t guard = cgreenlet_round_to_pages(usable / 2);
    if (guard < CGREENLET_GUARD_MIN) {
        guard = CGREENLET_GUARD_MIN;
    }
    if (guard > CGREENLET_GUARD_MAX) {
        guard = CGREENLET_GUARD_MAX;
    }
    return guard;
}

// MARK: - Executable stacks

// glibc gives thread stacks PROT_EXEC when the program's PT_GNU_STACK asks for it (GCC's nested-function
// trampolines live on the stack), and when the program has no PT_GNU_STACK at all (DEFAULT_STACK_PERMS).
static int stack_protection(void) {
    static atomic_int prot = -1;
    int known = atomic_load_explicit(&prot, memory_order_relaxed);
    if (known >= 0) {
        return known;
    }
    int exec = 1;
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    size_t count = (size_t)getauxval(AT_PHNUM);
    for (size_t i = 0; phdr != NULL && i < count; i++) {
        if (phdr[i].p_type == PT_GNU_STACK) {
            exec = (phdr[i].p_flags & PF_X) != 0;
            break;
        }
    }
    int value = PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0);
    atomic_store_explicit(&prot, value, memory_order_relaxed);
    return value;
}

int cgreenlet_stacks_are_executable(void) {
    return (stack_protection() & PROT_EXEC) != 0;
}

// MARK: - Slabs

// Stacks come from large MAP_NORESERVE slabs, one list of slabs per size class. A stack is `guard` bytes of
// guard region followed by `usable` bytes; the stack grows down towards its guard. Guards are installed when
// a slot is first handed out and stay for the slab's life (MADV_DONTNEED keeps guard regions), so a slot
// given back and handed out again costs one madvise to return its memory and nothing to reuse.
typedef struct stack_slab {
    struct stack_slab *next;
    struct stack_slab *prev;
    struct stack_class *owner;
    char *base;
    size_t capacity; ///< slots in the slab
    size_t carved;   ///< slots handed out at least once (their guards exist); higher slots are untouched
    size_t in_use;
    size_t free_count; ///< entries in free_slots: carved slots given back, their memory returned
    uint32_t free_slots[];
} stack_slab_t;

typedef struct stack_class {
    struct stack_class *next;
    size_t usable;
    size_t guard;
    size_t stride;
    size_t per_slab;
    stack_slab_t *with_room; ///< slabs with a free or uncarved slot
    stack_slab_t *full;
    size_t empty_slabs; ///< slabs with no stack in use, kept for reuse (CGREENLET_EMPTY_SLABS_KEPT at most)
} stack_class_t;

static pthread_mutex_t slabs_lock = PTHREAD_MUTEX_INITIALIZER;
static stack_class_t *classes; // guarded by slabs_lock, as is everything reachable from it
static pthread_once_t slabs_once = PTHREAD_ONCE_INIT;

// A child forked while another thread held the lock must not inherit it held.
static void slabs_prefork(void) {
    pthread_mutex_lock(&slabs_lock);
}

static void slabs_postfork(void) {
    pthread_mutex_unlock(&slabs_lock);
}

static void slabs_init(void) {
    (void)pthread_atfork(slabs_prefork, slabs_postfork, slabs_postfork);
}

static void list_remove(stack_slab_t **head, stack_slab_t *slab) {
    if (slab->prev != NULL) {
        slab->prev->next = slab->next;
    } else {
        *head = slab->next;
    }
    if (slab->next != NULL) {
        slab->next->prev = slab->prev;
    }
    slab->next = slab->prev = NULL;
}

static void list_push(stack_slab_t **head, stack_slab_t *slab) {
    slab->prev = NULL;
    slab->next = *head;
    if (*head != NULL) {
        (*head)->prev = slab;
    }
    *head = slab;
}

static stack_class_t *find_class(size_t usable) {
    for (stack_class_t *c = classes; c != NULL; c = c->next) {
        if (c->usable == usable) {
            return c;
        }
    }
    size_t guard = cgreenlet_stack_guard_size(usable);
    if (usable > SIZE_MAX / 2 - guard) {
        return NULL;
    }
    stack_class_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    c->usable = usable;
    c->guard = guard;
    c->stride = usable + guard;
    size_t per_slab = CGREENLET_SLAB_BYTES / c->stride;
    c->per_slab = per_slab < 1 ? 1 : per_slab > CGREENLET_SLAB_MAX_STACKS ? CGREENLET_SLAB_MAX_STACKS : per_slab;
    c->next = classes;
    classes = c;
    return c;
}

static int new_slab(stack_class_t *c, stack_slab_t **out) {
    if (c->per_slab > (SIZE_MAX - sizeof(stack_slab_t)) / sizeof(uint32_t) || c->stride > SIZE_MAX / c->per_slab) {
        return ENOMEM;
    }
    stack_slab_t *slab = calloc(1, sizeof(stack_slab_t) + c->per_slab * sizeof(uint32_t));
    if (slab == NULL) {
        return ENOMEM;
    }
    size_t bytes = c->stride * c->per_slab;
    // MAP_NORESERVE: stacks are address space until touched. MAP_STACK documents intent (and lets the
    // kernel apply stack policies).
    void *mem = mmap(NULL, bytes, stack_protection(), MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        int err = errno;
        free(slab);
        return err;
    }
    // Transparent huge pages would turn each touched stack into 2 MiB of resident memory. Whole slab at once:
    // advice on part of a mapping splits it.
    (void)madvise(mem, bytes, MADV_NOHUGEPAGE);
    slab->owner = c;
    slab->base = mem;
    slab->capacity = c->per_slab;
    *out = slab;
    return 0;
}

// Makes the lowest `guard` bytes at `at` fault on access.
static int install_guard(char *at, size_t guard) {
    int setting = atomic_load_explicit(&guard_setting, memory_order_relaxed);
    if (setting != CGREENLET_STACK_GUARD_MPROTECT && atomic_load_explicit(&madvise_guards, memory_order_relaxed) != 0) {
        int rc;
        do {
            rc = madvise(at, guard, MADV_GUARD_INSTALL);
        } while (rc != 0 && (errno == EINTR || errno == EAGAIN));
        if (rc == 0) {
            atomic_store_explicit(&madvise_guards, 1, memory_order_relaxed);
            return 0;
        }
        int err = errno;
        // EINVAL: a kernel before 6.13, or a mapping it refuses guards in (mlockall'd memory).
        if (err != EINVAL || setting == CGREENLET_STACK_GUARD_MADVISE) {
            return err;
        }
        atomic_store_explicit(&madvise_guards, 0, memory_order_relaxed);
    }
    // A PROT_NONE range of its own: the mapping splits around it, two mappings per stack.
    return mprotect(at, guard, PROT_NONE) == 0 ? 0 : errno;
}

static int slab_take(size_t usable, void **base, size_t *guard, void **slab_out) {
    pthread_once(&slabs_once, slabs_init);
    pthread_mutex_lock(&slabs_lock);
    int err = 0;
    stack_class_t *c = find_class(usable);
    if (c == NULL) {
        err = ENOMEM;
        goto out;
    }
    stack_slab_t *slab = c->with_room;
    if (slab == NULL) {
        err = new_slab(c, &slab);
        if (err != 0) {
            goto out;
        }
        list_push(&c->with_room, slab);
        c->empty_slabs++;
    }
    size_t slot;
    if (slab->free_count > 0) {
        slot = slab->free_slots[--slab->free_count];
    } else {
        slot = slab->carved;
        err = install_guard(slab->base + slot * c->stride, c->guard);
        if (err != 0) {
            goto out;
        }
        slab->carved++;
    }
    if (slab->in_use++ == 0) {
        c->empty_slabs--;
    }
    if (slab->free_count == 0 && slab->carved == slab->capacity) {
        list_remove(&c->with_room, slab);
        list_push(&c->full, slab);
    }
    *base = slab->base + slot * c->stride;
    *guard = c->guard;
    *slab_out = slab;
out:
    pthread_mutex_unlock(&slabs_lock);
    return err;
}

static void slab_give_back(void *base, size_t size, size_t guard, stack_slab_t *slab) {
    // Return the memory before taking the lock; the guard region stays.
    (void)madvise((char *)base + guard, size, MADV_DONTNEED);
    void *unmap = NULL;
    size_t unmap_bytes = 0;
    pthread_mutex_lock(&slabs_lock);
    stack_class_t *c = slab->owner;
    bool was_full = slab->free_count == 0 && slab->carved == slab->capacity;
    slab->free_slots[slab->free_count++] = (uint32_t)(((char *)base - slab->base) / c->stride);
    if (was_full) {
        list_remove(&c->full, slab);
        list_push(&c->with_room, slab);
    }
    if (--slab->in_use == 0) {
        if (c->empty_slabs >= CGREENLET_EMPTY_SLABS_KEPT) {
            // A few empty slabs per size stay for the next burst (their guards are installed already); the
            // others give back their address space and page tables.
            list_remove(&c->with_room, slab);
            unmap = slab->base;
            unmap_bytes = c->stride * slab->capacity;
            free(slab);
        } else {
            c->empty_slabs++;
        }
    }
    pthread_mutex_unlock(&slabs_lock);
    if (unmap != NULL) {
        munmap(unmap, unmap_bytes);
    }
}

// MARK: - The thread's warm stacks

typedef struct warm_stack {
    struct warm_stack *next;
    stack_slab_t *slab;
} warm_stack_t;

// Only stacks of the default size are kept warm; each thread has its own (one hub per thread).
static _Thread_local warm_stack_t *warm_head;
static _Thread_local size_t warm_count;
static _Thread_local size_t warm_stack_size;

// The link lives at the top of the usable stack, the first bytes a new greenlet overwrites.
static warm_stack_t *warm_node(void *base, size_t size, size_t guard) {
    return (warm_stack_t *)((char *)base + guard + size - sizeof(warm_stack_t));
}

static void *warm_base(warm_stack_t *node, size_t size, size_t guard) {
    return (char *)node + sizeof(warm_stack_t) - size - guard;
}

int cgreenlet_stack_acquire(size_t usable, void **base, size_t *size, size_t *guard, void **slab) {
    size_t page = cgreenlet_page_size();
    size_t s = cgreenlet_round_to_pages(usable < 4 * page ? 4 * page : usable);
    if (s < usable) {
        return ENOMEM;
    }
    if (warm_head != NULL && s == warm_stack_size) {
        warm_stack_t *node = warm_head;
        size_t g = cgreenlet_stack_guard_size(s);
        warm_head = node->next;
        warm_count--;
        *base = warm_base(node, s, g);
        *size = s;
        *guard = g;
        *slab = node->slab;
    } else {
        int err = slab_take(s, base, guard, slab);
        if (err != 0) {
            return err;
        }
        *size = s;
    }
#ifdef CGREENLET_ASAN
    // A reused stack still carries the shadow of the frames of the greenlet that died on it.
    __asan_unpoison_memory_region((char *)*base + *guard, s);
#endif
    return 0;
}

void cgreenlet_stack_release(void *base, size_t size, size_t guard, void *slab) {
    size_t want = cgreenlet_default_stack_size();
    if (warm_stack_size != want) {
        cgreenlet_drain_stack_pool();
        warm_stack_size = want;
    }
    if (size == warm_stack_size && warm_count < CGREENLET_WARM_MAX) {
        warm_stack_t *node = warm_node(base, size, guard);
        node->next = warm_head;
        node->slab = slab;
        warm_head = node;
        warm_count++;
        return;
    }
    slab_give_back(base, size, guard, slab);
}

size_t cgreenlet_drain_stack_pool(void) {
    size_t freed = 0;
    size_t g = cgreenlet_stack_guard_size(warm_stack_size);
    while (warm_head != NULL) {
        warm_stack_t *node = warm_head;
        warm_head = node->next;
        slab_give_back(warm_base(node, warm_stack_size, g), warm_stack_size, g, node->slab);
        freed++;
    }
    warm_count = 0;
    return freed;
}

size_t cgreenlet_pooled_stacks(void) {
    return warm_count;
}

// MARK: - Stack overflow report

// The program's SIGSEGV action while the reporter holds the signal: what it installed (or what the signal had
// before the reporter), reported to its sigaction queries by the shim and chained to for every fault that is
// not a greenlet-stack overflow. Two slots and an index, so that the handler reads a whole action while a
// writer fills the other slot (writers serialize on `program_segv_writing`).
static struct sigaction program_segv[2];
static _Atomic int program_segv_current;
static atomic_flag program_segv_writing = ATOMIC_FLAG_INIT;
static _Atomic bool reporter_installed;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_error;
static _Thread_local void *altstack;
static _Thread_local bool altstack_ours; // mapped here, not the thread's own

/// Sets the disposition of `sig` with the raw syscall: no restorer is needed for SIG_DFL, and the call must
/// not go through the shim's sigaction (which would only record it for the program).
static void raw_default_action(int sig) {
    struct {
        void *handler;
        unsigned long flags;
        void *restorer;
        uint64_t mask;
    } action = {SIG_DFL, 0, NULL, 0};
    syscall(SYS_rt_sigaction, sig, &action, NULL, sizeof(action.mask));
}

static size_t append(char *buf, size_t at, size_t cap, const char *s) {
    while (*s != 0 && at + 1 < cap) {
        buf[at++] = *s++;
    }
    return at;
}

static size_t append_number(char *buf, size_t at, size_t cap, size_t n) {
    char digits[24];
    size_t len = 0;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n != 0);
    while (len > 0 && at + 1 < cap) {
        buf[at++] = digits[--len];
    }
    return at;
}

static void segv_handler(int sig, siginfo_t *info, void *context) {
    cgreenlet_t *g = cgreenlet_current();
    char *addr = info->si_addr;
    if (g != NULL && g->stack_base != NULL && addr >= (char *)g->stack_base &&
        addr < (char *)g->stack_base + g->guard_size) {
        // Only async-signal-safe calls from here on: format by hand, write(2), abort().
        char msg[256];
        size_t n = 0;
        n = append(msg, n, sizeof(msg), "swift-gevent: greenlet ");
        n = append(msg, n, sizeof(msg), g->name[0] != 0 ? g->name : "(unnamed)");
        n = append(msg, n, sizeof(msg), " overflowed its ");
        n = append_number(msg, n, sizeof(msg), g->stack_size / 1024);
        n = append(msg, n, sizeof(msg), " KiB stack; set GEVENT_STACK_SIZE to a larger size (now ");
        n = append_number(msg, n, sizeof(msg), g->stack_size / 1024);
        n = append(msg, n, sizeof(msg), "K, for example ");
        n = append_number(msg, n, sizeof(msg), g->stack_size / 512);
        n = append(msg, n, sizeof(msg), "K) or pass a larger stackSize when spawning\n");
        (void)!write(2, msg, n);
        raw_default_action(SIGABRT);
        abort();
    }
    // Not ours: hand the fault to the program's handler (a JVM's or a GC's, the Swift runtime's backtracer,
    // whatever the signal had before us) or take the default action.
    const struct sigaction *program = &program_segv[atomic_load_explicit(&program_segv_current, memory_order_acquire)];
    if (program->sa_flags & SA_SIGINFO) {
        if (program->sa_sigaction != NULL) {
            program->sa_sigaction(sig, info, context);
            return;
        }
    } else if (program->sa_handler != SIG_DFL && program->sa_handler != SIG_IGN) {
        program->sa_handler(sig);
        return;
    }
    // Default action: restore it and return; the faulting instruction runs again and the kernel kills us.
    raw_default_action(SIGSEGV);
}

static void install_once(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &program_segv[0]) != 0) {
        handler_error = errno;
        return;
    }
    atomic_store(&reporter_installed, true);
}

int cgreenlet_overflow_segv_action(const struct sigaction *act, struct sigaction *old) {
    if (!atomic_load(&reporter_installed)) {
        return -1;
    }
    while (atomic_flag_test_and_set_explicit(&program_segv_writing, memory_order_acquire)) {
    }
    int current = atomic_load_explicit(&program_segv_current, memory_order_relaxed);
    if (old != NULL) {
        *old = program_segv[current];
    }
    if (act != NULL) {
        program_segv[1 - current] = *act;
        atomic_store_explicit(&program_segv_current, 1 - current, memory_order_release);
    }
    atomic_flag_clear_explicit(&program_segv_writing, memory_order_release);
    return 0;
}

bool cgreenlet_overflow_altstack_is_ours(const void *stack) {
    return altstack_ours && stack != NULL && stack == altstack;
}

int cgreenlet_install_overflow_handler(void) {
    pthread_once(&handler_once, install_once);
    if (handler_error != 0) {
        return handler_error;
    }
    if (altstack == NULL) {
        stack_t current;
        if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE) && current.ss_size >= 16384) {
            altstack = current.ss_sp; // the thread already has one (the Swift runtime installs its own)
            return 0;
        }
        size_t size = 64 * 1024;
        void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            return errno;
        }
        stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) {
            int err = errno;
            munmap(mem, size);
            return err;
        }
        altstack = mem;
        altstack_ours = true;
    }
    return 0;
}
