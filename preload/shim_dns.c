// swift-gevent: name resolution. Since glibc 2.34 the stub resolver lives inside libc.so and uses its own
// sockets and poll, out of reach of every other hook, so lookups are hooked at the entry points and run on
// the hub's thread pool while the greenlet waits (gevent's default thread resolver; full NSS fidelity).
// Non-reentrant functions (gethostbyname...) return per-greenlet storage, as each greenlet is a thread to
// its caller.
#include "shim.h"

#include <stdlib.h>
#include <string.h>

static bool offloading(void) {
    return shim_enabled(GEVENT_SHIM_AREA_DNS) &&
           atomic_load_explicit(&shim_resolver_mode, memory_order_relaxed) == GEVENT_SHIM_RESOLVER_THREAD;
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

SHIM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                            struct addrinfo **result) {
    struct addrinfo_call call = {node, service, hints, result, 0, 0};
    if (SHIM_LIKELY(!offloading())) {
        return REAL(getaddrinfo)(node, service, hints, result);
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
    if (SHIM_LIKELY(!offloading())) {
        return REAL(getnameinfo)(address, address_length, host, host_length, service, service_length, flags);
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
