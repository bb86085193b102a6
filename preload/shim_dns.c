// swift-gevent: name resolution. Since glibc 2.34 the stub resolver lives inside libc.so and uses its own
// sockets and poll, out of reach of every other hook, so lookups are hooked at the entry points. With the
// thread resolver (the default) they run on the hub's thread pool while the greenlet waits (gevent's
// default; full NSS fidelity). With the ares resolver, lookups go to the hub's c-ares channel on its own
// loop, no thread per lookup; what glibc answers without the network (numeric addresses, no node) runs
// inline, and what c-ares cannot answer as glibc does (scope ids, flags it does not know) takes the
// thread path. Non-reentrant functions (gethostbyname...)
// return per-greenlet storage, as each greenlet is a thread to its caller.
#include "shim.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/// How lookups run now: GEVENT_SHIM_RESOLVER_BLOCK (the real call) when the DNS area is off.
static int lookup_mode(void) {
    if (!shim_enabled(GEVENT_SHIM_AREA_DNS)) {
        return GEVENT_SHIM_RESOLVER_BLOCK;
    }
    return atomic_load_explicit(&shim_resolver_mode, memory_order_relaxed);
}

static bool offloading(void) {
    return lookup_mode() != GEVENT_SHIM_RESOLVER_BLOCK;
}

#define REAL(name) (shim_real.name ? shim_real.name : (__typeof__(shim_real.name))shim_resolve_late(#name))

enum offload_outcome { OFFLOAD_RAN, OFFLOAD_INLINE, OFFLOAD_NOT_RUN };

/// Runs `function(argument)` on the hub's thread pool while the greenlet waits. OFFLOAD_INLINE: the caller
/// must run it itself (no greenlet can wait here); OFFLOAD_NOT_RUN: the greenlet was killed or timed out
/// before a pool thread took the call, which fails with *error (ECANCELED, ETIMEDOUT).
static enum offload_outcome offload(void (*function)(void *), void *argument, int *error) {
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    int code = gevent_shim_offload(function, argument);
    if (code == GEVENT_SHIM_CANNOT_WAIT) {
        return OFFLOAD_INLINE;
    }
    if (code != GEVENT_SHIM_READY) {
        *error = shim_wait_errno(code);
        return OFFLOAD_NOT_RUN;
    }
    return OFFLOAD_RAN;
}

// MARK: - getaddrinfo, getnameinfo

struct addrinfo_call {
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo **result;
    int status, error;
};

static void run_getaddrinfo(void *argument) {
    struct addrinfo_call *call = argument;
    call->status = REAL(getaddrinfo)(call->node, call->service, call->hints, call->result);
    call->error = errno;
}

/// Whether glibc answers without asking anyone: no node, AI_NUMERICHOST, or a numeric address in any form
/// glibc takes (inet_aton's "127.1" and "0x7f000001" too, which c-ares would send to a server).
static bool answered_locally(const char *node, const struct addrinfo *hints) {
    if (node == NULL || (hints != NULL && (hints->ai_flags & AI_NUMERICHOST))) {
        return true;
    }
    struct in_addr v4;
    struct in6_addr v6;
    return inet_aton(node, &v4) != 0 || inet_pton(AF_INET6, node, &v6) == 1;
}

enum ares_outcome { ARES_ANSWERED, ARES_REAL_CALL, ARES_THREAD_PATH };

/// What a c-ares entry point's code means for the interposer; on ARES_ANSWERED *status is the result. Puts
/// back the caller's errno (`saved`) unless the answer reports through it (EAI_SYSTEM).
static enum ares_outcome ares_outcome(int code, int *status, int saved) {
    switch (code) {
    case GEVENT_SHIM_READY:
        if (*status != EAI_SYSTEM) {
            errno = saved;
        }
        return ARES_ANSWERED;
    case GEVENT_SHIM_NOT_HANDLED:
        errno = saved;
        return ARES_THREAD_PATH;
    case GEVENT_SHIM_CANNOT_WAIT:
        errno = saved;
        return ARES_REAL_CALL;
    default:
        // Interrupted before an answer: as glibc reports a failure outside the lookup itself.
        *status = EAI_SYSTEM;
        errno = shim_wait_errno(code);
        return ARES_ANSWERED;
    }
}

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **result) {
    struct addrinfo_call call = {node, service, hints, result, 0, 0};
    int mode = lookup_mode();
    if (SHIM_LIKELY(mode == GEVENT_SHIM_RESOLVER_BLOCK)) {
        return REAL(getaddrinfo)(node, service, hints, result);
    }
    if (mode == GEVENT_SHIM_RESOLVER_ARES) {
        if (answered_locally(node, hints)) {
            return REAL(getaddrinfo)(node, service, hints, result);
        }
        if (strchr(node, '%') == NULL) {
            atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
            int status = 0;
            int saved = errno;
            errno = 0;
            int code = gevent_shim_ares_getaddrinfo(node, service, hints, result, &status);
            switch (ares_outcome(code, &status, saved)) {
            case ARES_ANSWERED:
                return status;
            case ARES_REAL_CALL:
                return REAL(getaddrinfo)(node, service, hints, result);
            case ARES_THREAD_PATH:
                break;
            }
        }
    }
    switch (offload(run_getaddrinfo, &call, &call.error)) {
    case OFFLOAD_INLINE:
        return REAL(getaddrinfo)(node, service, hints, result);
    case OFFLOAD_NOT_RUN:
        call.status = EAI_SYSTEM;
        break;
    case OFFLOAD_RAN:
        break;
    }
    errno = call.error; // EAI_SYSTEM reports through errno
    return call.status;
}

struct nameinfo_call {
    const struct sockaddr *address;
    socklen_t address_length;
    char *host;
    socklen_t host_length;
    char *service;
    socklen_t service_length;
    int flags, status, error;
};

static void run_getnameinfo(void *argument) {
    struct nameinfo_call *call = argument;
    call->status = REAL(getnameinfo)(call->address, call->address_length, call->host, call->host_length, call->service,
                                     call->service_length, call->flags);
    call->error = errno;
}

SHIM_EXPORT int getnameinfo(const struct sockaddr *address, socklen_t address_length, char *host, socklen_t host_length,
                            char *service, socklen_t service_length, int flags) {
    struct nameinfo_call call = {address, address_length, host, host_length, service, service_length, flags, 0, 0};
    int mode = lookup_mode();
    if (SHIM_LIKELY(mode == GEVENT_SHIM_RESOLVER_BLOCK)) {
        return REAL(getnameinfo)(address, address_length, host, host_length, service, service_length, flags);
    }
    if (mode == GEVENT_SHIM_RESOLVER_ARES) {
        // Without a host name to look up, glibc asks no server (a service name is in /etc/services).
        if (host == NULL || host_length == 0 || (flags & NI_NUMERICHOST)) {
            return REAL(getnameinfo)(address, address_length, host, host_length, service, service_length, flags);
        }
        atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
        int status = 0;
        int saved = errno;
        errno = 0;
        int code = gevent_shim_ares_getnameinfo(address, address_length, host, host_length, service, service_length,
                                                flags, &status);
        switch (ares_outcome(code, &status, saved)) {
        case ARES_ANSWERED:
            return status;
        case ARES_REAL_CALL:
            return REAL(getnameinfo)(address, address_length, host, host_length, service, service_length, flags);
        case ARES_THREAD_PATH:
            break;
        }
    }
    switch (offload(run_getnameinfo, &call, &call.error)) {
    case OFFLOAD_INLINE:
        return REAL(getnameinfo)(address, address_length, host, host_length, service, service_length, flags);
    case OFFLOAD_NOT_RUN:
        call.status = EAI_SYSTEM;
        break;
    case OFFLOAD_RAN:
        break;
    }
    errno = call.error;
    return call.status;
}

// MARK: - The reentrant hostent functions

enum host_query { BY_NAME, BY_NAME2, BY_ADDR };

struct host_call {
    enum host_query query;
    const char *name;
    const void *address;
    socklen_t address_length;
    int family;
    struct hostent *storage;
    char *buffer;
    size_t buffer_length;
    struct hostent **result;
    int *h_error;
    int status, error;
};

static int real_host_query(struct host_call *call) {
    switch (call->query) {
    case BY_NAME:
        return REAL(gethostbyname_r)(call->name, call->storage, call->buffer, call->buffer_length, call->result,
                                     call->h_error);
    case BY_NAME2:
        return REAL(gethostbyname2_r)(call->name, call->family, call->storage, call->buffer, call->buffer_length,
                                      call->result, call->h_error);
    default:
        return REAL(gethostbyaddr_r)(call->address, call->address_length, call->family, call->storage, call->buffer,
                                     call->buffer_length, call->result, call->h_error);
    }
}

static void run_host_query(void *argument) {
    struct host_call *call = argument;
    call->status = real_host_query(call);
    call->error = errno;
}

/// The _r functions: the caller's buffers, filled on a native thread. h_errno is the caller's thread's,
/// so it is set here, after the wait.
static int host_query(struct host_call *call) {
    if (lookup_mode() == GEVENT_SHIM_RESOLVER_ARES) {
        struct in6_addr numeric;
        if (call->query != BY_ADDR && (inet_aton(call->name, (struct in_addr *)&numeric) != 0 ||
                                       inet_pton(AF_INET6, call->name, &numeric) == 1)) {
            return real_host_query(call); // glibc answers numeric names itself
        }
        atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
        int status = 0;
        int ares_h_error = 0;
        int saved = errno;
        int code = gevent_shim_ares_host_query(call->query == BY_ADDR ? NULL : call->name, call->address,
                                               call->address_length, call->family, call->storage, call->buffer,
                                               call->buffer_length, call->result, &ares_h_error, &status);
        switch (ares_outcome(code, &status, saved)) {
        case ARES_ANSWERED:
            if (code != GEVENT_SHIM_READY) {
                *call->result = NULL;
                ares_h_error = NETDB_INTERNAL;
                status = errno;
            } else if (status == ERANGE) {
                errno = ERANGE; // as glibc, for a buffer too small
            }
            if (call->h_error != NULL) {
                *call->h_error = ares_h_error;
            }
            return status;
        case ARES_REAL_CALL:
            return real_host_query(call);
        case ARES_THREAD_PATH:
            break;
        }
    }
    int thread_h_error = 0;
    int *caller_h_error = call->h_error;
    call->h_error = &thread_h_error;
    switch (offload(run_host_query, call, &call->error)) {
    case OFFLOAD_INLINE:
        call->h_error = caller_h_error;
        return real_host_query(call);
    case OFFLOAD_NOT_RUN:
        // As glibc reports a failure outside the lookup itself: no result, NETDB_INTERNAL, the errno returned.
        *call->result = NULL;
        thread_h_error = NETDB_INTERNAL;
        call->status = call->error;
        break;
    case OFFLOAD_RAN:
        break;
    }
    if (caller_h_error != NULL) {
        *caller_h_error = thread_h_error;
    }
    errno = call->error;
    return call->status;
}

SHIM_EXPORT int gethostbyname_r(const char *name, struct hostent *storage, char *buffer, size_t length,
                                struct hostent **result, int *h_error) {
    struct host_call call = {BY_NAME, name, NULL, 0, AF_INET, storage, buffer, length, result, h_error, 0, 0};
    return offloading() ? host_query(&call) : real_host_query(&call);
}

SHIM_EXPORT int gethostbyname2_r(const char *name, int family, struct hostent *storage, char *buffer, size_t length,
                                 struct hostent **result, int *h_error) {
    struct host_call call = {BY_NAME2, name, NULL, 0, family, storage, buffer, length, result, h_error, 0, 0};
    return offloading() ? host_query(&call) : real_host_query(&call);
}

SHIM_EXPORT int gethostbyaddr_r(const void *address, socklen_t address_length, int family, struct hostent *storage,
                                char *buffer, size_t length, struct hostent **result, int *h_error) {
    struct host_call call = {BY_ADDR, NULL,   address, address_length, family, storage,
                             buffer,  length, result,  h_error,        0,      0};
    return offloading() ? host_query(&call) : real_host_query(&call);
}

// MARK: - The non-reentrant ones, on per-greenlet storage

/// Runs `call` into the current greenlet's buffer, growing it on ERANGE like glibc does for its static
/// buffer. Returns the hostent or NULL with h_errno set.
static struct hostent *host_query_static(struct host_call *call) {
    size_t length = 1024;
    for (;;) {
        char *storage = gevent_shim_greenlet_buffer(sizeof(struct hostent) + length);
        if (storage == NULL) {
            h_errno = NETDB_INTERNAL;
            errno = ENOMEM;
            return NULL;
        }
        struct hostent *result = NULL;
        int h_error = 0;
        call->storage = (struct hostent *)storage;
        call->buffer = storage + sizeof(struct hostent);
        call->buffer_length = length;
        call->result = &result;
        call->h_error = &h_error;
        int status = host_query(call);
        if (status == ERANGE && length < (1u << 20)) {
            length *= 4;
            continue;
        }
        h_errno = h_error;
        return result;
    }
}

SHIM_EXPORT struct hostent *gethostbyname(const char *name) {
    if (SHIM_LIKELY(!offloading())) {
        return REAL(gethostbyname)(name);
    }
    struct host_call call = {BY_NAME, name, NULL, 0, AF_INET, NULL, NULL, 0, NULL, NULL, 0, 0};
    return host_query_static(&call);
}

SHIM_EXPORT struct hostent *gethostbyname2(const char *name, int family) {
    if (SHIM_LIKELY(!offloading())) {
        return REAL(gethostbyname2)(name, family);
    }
    struct host_call call = {BY_NAME2, name, NULL, 0, family, NULL, NULL, 0, NULL, NULL, 0, 0};
    return host_query_static(&call);
}

SHIM_EXPORT struct hostent *gethostbyaddr(const void *address, socklen_t length, int family) {
    if (SHIM_LIKELY(!offloading())) {
        return REAL(gethostbyaddr)(address, length, family);
    }
    struct host_call call = {BY_ADDR, NULL, address, length, family, NULL, NULL, 0, NULL, NULL, 0, 0};
    return host_query_static(&call);
}
