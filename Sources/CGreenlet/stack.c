// swift-gevent: greenlet stacks (mmap + guard pages, pooled per thread) and the overflow report.
#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "include/CGreenlet.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// The guard is several pages: a frame larger than one page (a big local array in C code we run) would
// otherwise step over a single guard page into the neighbouring mapping.
#define CGREENLET_GUARD_PAGES 4
#define CGREENLET_POOL_MAX 1024

static atomic_size_t default_stack_size = 256 * 1024;

typedef struct pooled_stack {
    struct pooled_stack *next;
} pooled_stack_t;

// Only stacks of the default size are pooled; each thread has its own pool (one hub per thread).
static _Thread_local pooled_stack_t *pool_head;
static _Thread_local size_t pool_count;
static _Thread_local size_t pool_stack_size;

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

// The pool's link lives at the top of the usable stack, the first bytes a new greenlet overwrites.
static pooled_stack_t *pool_node(void *base, size_t size, size_t guard) {
    return (pooled_stack_t *)((char *)base + guard + size - sizeof(pooled_stack_t));
}

static void *pool_base(pooled_stack_t *node, size_t size, size_t guard) {
    return (char *)node + sizeof(pooled_stack_t) - size - guard;
}

int cgreenlet_stack_acquire(size_t usable, void **base, size_t *size, size_t *guard) {
    size_t page = cgreenlet_page_size();
    size_t g = CGREENLET_GUARD_PAGES * page;
    size_t s = cgreenlet_round_to_pages(usable < 4 * page ? 4 * page : usable);
    if (pool_head != NULL && s == pool_stack_size) {
        pooled_stack_t *node = pool_head;
        pool_head = node->next;
        pool_count--;
        *base = pool_base(node, s, g);
        *size = s;
        *guard = g;
        return 0;
    }
    // MAP_NORESERVE: a stack is address space until touched; MAP_STACK documents intent (and lets the
    // kernel apply stack policies). One mapping, then the low pages become the guard.
    void *mem = mmap(NULL, s + g, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                     -1, 0);
    if (mem == MAP_FAILED) {
        return errno;
    }
    if (mprotect(mem, g, PROT_NONE) != 0) {
        int err = errno;
        munmap(mem, s + g);
        return err;
    }
    // Transparent huge pages would turn each touched stack into 2 MiB of resident memory.
    (void)madvise((char *)mem + g, s, MADV_NOHUGEPAGE);
    *base = mem;
    *size = s;
    *guard = g;
    return 0;
}

void cgreenlet_stack_release(void *base, size_t size, size_t guard) {
    size_t want = cgreenlet_default_stack_size();
    if (pool_stack_size != want) {
        cgreenlet_drain_stack_pool();
        pool_stack_size = want;
    }
    if (size == pool_stack_size && pool_count < CGREENLET_POOL_MAX) {
        pooled_stack_t *node = pool_node(base, size, guard);
        node->next = pool_head;
        pool_head = node;
        pool_count++;
        return;
    }
    munmap(base, size + guard);
}

size_t cgreenlet_drain_stack_pool(void) {
    size_t freed = 0;
    size_t g = CGREENLET_GUARD_PAGES * cgreenlet_page_size();
    while (pool_head != NULL) {
        pooled_stack_t *node = pool_head;
        pool_head = node->next;
        munmap(pool_base(node, pool_stack_size, g), pool_stack_size + g);
        freed++;
    }
    pool_count = 0;
    return freed;
}

size_t cgreenlet_pooled_stacks(void) {
    return pool_count;
}

// MARK: - Stack overflow report

static struct sigaction previous_segv;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_error;
static _Thread_local void *altstack;

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
        signal(SIGABRT, SIG_DFL);
        abort();
    }
    // Not ours: hand the fault to whoever had the signal before us (the Swift runtime's backtracer,
    // a debugger's helper, or the default action).
    if (previous_segv.sa_flags & SA_SIGINFO) {
        if (previous_segv.sa_sigaction != NULL) {
            previous_segv.sa_sigaction(sig, info, context);
            return;
        }
    } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
        previous_segv.sa_handler(sig);
        return;
    }
    // Default action: restore it and return; the faulting instruction runs again and the kernel kills us.
    signal(SIGSEGV, SIG_DFL);
}

static void install_once(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &previous_segv) != 0) {
        handler_error = errno;
    }
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
    }
    return 0;
}
