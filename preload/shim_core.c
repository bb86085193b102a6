// swift-gevent: the shim's process-wide state: the real libc functions, what is patched, configuration.
#include "shim.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

SHIM_HIDDEN struct shim_real shim_real;
SHIM_HIDDEN _Atomic unsigned shim_patched_mask;
SHIM_HIDDEN _Atomic bool shim_tracking;
SHIM_HIDDEN _Atomic int shim_resolver_mode;
SHIM_HIDDEN _Atomic uint64_t shim_cooperative_count;
SHIM_HIDDEN SHIM_TLS void *shim_tls_cached_hub;
SHIM_HIDDEN SHIM_TLS void *shim_tls_cached_hub_context;

// Not instrumented by sanitizers: the thread area's hooks resolve through these from ThreadSanitizer's own
// initialisation.
__attribute__((disable_sanitizer_instrumentation)) static void *next_symbol(const char *name) {
    return dlsym(RTLD_NEXT, name);
}

static void *next_versioned_symbol(const char *name, const char *version) {
    void *symbol = dlvsym(RTLD_NEXT, name, version);
    return symbol ? symbol : dlsym(RTLD_NEXT, name);
}

__attribute__((disable_sanitizer_instrumentation)) SHIM_HIDDEN void *shim_resolve_late(const char *name) {
    return next_symbol(name);
}

static SHIM_TLS bool resolving_interceptor;

__attribute__((disable_sanitizer_instrumentation)) SHIM_HIDDEN void *shim_resolve_intercepted(const char *name) {
    if (resolving_interceptor) {
        return next_symbol(name);
    }
    resolving_interceptor = true;
    char interceptor[96];
    void *function = NULL;
    if (snprintf(interceptor, sizeof(interceptor), "__interceptor_%s", name) < (int)sizeof(interceptor)) {
        function = dlsym(RTLD_DEFAULT, interceptor);
    }
    resolving_interceptor = false;
    return function != NULL ? function : next_symbol(name);
}

// A forked child shares its parent's event loop (the epoll instance) until something re-initialises the
// hub, so the child must not wait through it: it stops patching, and its calls pass through.
static void shim_after_fork_in_child(void) {
    shim_thread_after_fork_in_child();
    atomic_store(&shim_patched_mask, 0);
}

// Resolved before main and before any greenlet exists, so no hook ever calls dlsym (which may allocate
// and take the loader lock). A hook that runs before this (from another library's constructor) uses the
// syscall fallbacks in shim.h.
__attribute__((constructor(101))) static void shim_resolve_real_functions(void) {
#define RESOLVE(field, name) shim_real.field = next_symbol(name)
    RESOLVE(socket, "socket");
    RESOLVE(socketpair, "socketpair");
    RESOLVE(pipe, "pipe");
    RESOLVE(pipe2, "pipe2");
    RESOLVE(accept, "accept");
    RESOLVE(accept4, "accept4");
    RESOLVE(connect, "connect");
    RESOLVE(read, "read");
    RESOLVE(readv, "readv");
    RESOLVE(recv, "recv");
    RESOLVE(recvfrom, "recvfrom");
    RESOLVE(recvmsg, "recvmsg");
    RESOLVE(read_chk, "__read_chk");
    RESOLVE(recv_chk, "__recv_chk");
    RESOLVE(recvfrom_chk, "__recvfrom_chk");
    RESOLVE(write, "write");
    RESOLVE(writev, "writev");
    RESOLVE(send, "send");
    RESOLVE(sendto, "sendto");
    RESOLVE(sendmsg, "sendmsg");
    RESOLVE(pread, "pread");
    RESOLVE(preadv, "preadv");
    RESOLVE(pread_chk, "__pread_chk");
    RESOLVE(preadv2, "preadv2");
    RESOLVE(pwritev2, "pwritev2");
    RESOLVE(poll, "poll");
    RESOLVE(ppoll, "ppoll");
    RESOLVE(poll_chk, "__poll_chk");
    RESOLVE(ppoll_chk, "__ppoll_chk");
    RESOLVE(select, "select");
    RESOLVE(pselect, "pselect");
    RESOLVE(sleep, "sleep");
    RESOLVE(usleep, "usleep");
    RESOLVE(nanosleep, "nanosleep");
    RESOLVE(close, "close");
    RESOLVE(dup, "dup");
    RESOLVE(dup2, "dup2");
    RESOLVE(dup3, "dup3");
    RESOLVE(fcntl, "fcntl");
    RESOLVE(fcntl64, "fcntl64");
    RESOLVE(ioctl, "ioctl");
    RESOLVE(setsockopt, "setsockopt");
    RESOLVE(fclose, "fclose");
    RESOLVE(getaddrinfo, "getaddrinfo");
    RESOLVE(getnameinfo, "getnameinfo");
    RESOLVE(gethostbyname_r, "gethostbyname_r");
    RESOLVE(gethostbyname2_r, "gethostbyname2_r");
    RESOLVE(gethostbyaddr_r, "gethostbyaddr_r");
    RESOLVE(gethostbyname, "gethostbyname");
    RESOLVE(gethostbyname2, "gethostbyname2");
    RESOLVE(gethostbyaddr, "gethostbyaddr");
    RESOLVE(sigaction, "sigaction");
#undef RESOLVE
    // glibc has two clock_nanosleep versions on x86_64 (2.2.5 from librt's days, 2.17); binaries built
    // today use 2.17, which is also aarch64's only one.
    shim_real.clock_nanosleep = next_versioned_symbol("clock_nanosleep", "GLIBC_2.17");
    pthread_atfork(NULL, NULL, shim_after_fork_in_child);
}

SHIM_EXPORT void gevent_shim_set_patched(unsigned mask) {
    atomic_store(&shim_patched_mask, mask & GEVENT_SHIM_AREA_EVERY);
}

SHIM_EXPORT unsigned gevent_shim_patched(void) {
    return atomic_load(&shim_patched_mask);
}

SHIM_EXPORT void gevent_shim_set_resolver(int mode) {
    atomic_store(&shim_resolver_mode, mode);
}

SHIM_EXPORT uint64_t gevent_shim_cooperative_calls(void) {
    return atomic_load_explicit(&shim_cooperative_count, memory_order_relaxed);
}

static void report(const char *text) {
    size_t length = strlen(text);
    while (length > 0) {
        ssize_t n = shim_sys_write(2, text, length);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        text += n;
        length -= (size_t)n;
    }
}

// The area names of Swift's MonkeyArea, which parses every other area list. GEVENT_PATCH is read here
// because the preload constructor runs before main and must not start the Swift runtime in every process
// that inherits LD_PRELOAD; AreaNameTests checks that both lists and messages agree.
static const struct {
    const char *name;
    unsigned mask;
} area_names[] = {
    {"socket", GEVENT_SHIM_AREA_SOCKET}, {"dns", GEVENT_SHIM_AREA_DNS},
    {"time", GEVENT_SHIM_AREA_TIME},     {"select", GEVENT_SHIM_AREA_SELECT},
    {"thread", GEVENT_SHIM_AREA_THREAD}, {"subprocess", GEVENT_SHIM_AREA_SUBPROCESS},
    {"all", GEVENT_SHIM_AREA_ALL},       {"none", 0},
};

// The grammar of MonkeyArea.parseList, which a test compares: names separated by commas, any case, blanks
// around them ignored; "-name" removes an area from what the items to its left gave, and a list that
// starts with a removal starts from "all".
SHIM_EXPORT unsigned gevent_shim_parse_areas(const char *text) {
    unsigned mask = 0;
    bool first = true;
    const char *cursor = text;
    while (cursor != NULL && *cursor != 0) {
        const char *end = strchr(cursor, ',');
        size_t length = end ? (size_t)(end - cursor) : strlen(cursor);
        while (length > 0 && (*cursor == ' ' || *cursor == '\t')) {
            cursor++;
            length--;
        }
        while (length > 0 && (cursor[length - 1] == ' ' || cursor[length - 1] == '\t')) {
            length--;
        }
        if (length > 0) {
            const char *given = cursor;
            size_t given_length = length;
            bool removes = *cursor == '-';
            if (removes) {
                cursor++;
                length--;
                while (length > 0 && (*cursor == ' ' || *cursor == '\t')) {
                    cursor++;
                    length--;
                }
                if (first) {
                    mask = GEVENT_SHIM_AREA_ALL;
                }
            }
            first = false;
            bool known = false;
            for (size_t i = 0; i < sizeof(area_names) / sizeof(area_names[0]); i++) {
                bool is_none = area_names[i].mask == 0;
                if (strlen(area_names[i].name) == length && strncasecmp(area_names[i].name, cursor, length) == 0 &&
                    !(removes && is_none)) {
                    // Removing `all` removes every area, `thread` too (MonkeyArea.parseList does the same).
                    unsigned named = (removes && area_names[i].mask == GEVENT_SHIM_AREA_ALL) ? GEVENT_SHIM_AREA_EVERY
                                                                                             : area_names[i].mask;
                    mask = removes ? (mask & ~named) : (mask | named);
                    known = true;
                    break;
                }
            }
            if (!known) {
                char message[300];
                snprintf(message, sizeof(message),
                         "swift-gevent: unknown area '%.*s' in GEVENT_PATCH; use all, none or a "
                         "comma-separated list of socket, dns, time, select, thread, subprocess (-name removes one: "
                         "all,-dns)\n",
                         (int)(given_length > 64 ? 64 : given_length), given);
                report(message);
            }
        }
        cursor = end ? end + 1 : NULL;
    }
    return mask;
}

// Only GEVENT_PATCH: the other settings of the shim (how interposed lookups run) come from GeventConfig
// when the first hub starts, which is before any interposer can make a call cooperative.
SHIM_EXPORT unsigned gevent_shim_configure_from_environment(void) {
    const char *patch = getenv("GEVENT_PATCH");
    unsigned mask = (patch == NULL || *patch == 0) ? GEVENT_SHIM_AREA_ALL : gevent_shim_parse_areas(patch);
    gevent_shim_set_patched(mask);
    return mask;
}

SHIM_HIDDEN int64_t shim_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}
