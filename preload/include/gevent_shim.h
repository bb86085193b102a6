// swift-gevent: the interface between the libc interposers (preload/*.c) and the Swift side of the shim
// (Sources/Gevent/Monkey). Swift imports this header; C programs use gevent.h instead.
//
// The interposers decide in C whether a call may become cooperative and do every syscall themselves; they
// enter Swift only to wait (for fds, a timer, a native thread), through the few `gevent_shim_*` functions
// declared in preload/shim.h and implemented with @_cdecl in Sources/Gevent/Monkey/ShimEntryPoints.swift.
#ifndef GEVENT_SHIM_H
#define GEVENT_SHIM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The areas a program can patch (Monkey.Area in Swift, GEVENT_PATCH in preload mode), as bits.
enum {
    GEVENT_SHIM_AREA_SOCKET = 1u << 0,     ///< sockets, pipes and other pollable fds: I/O, accept, connect
    GEVENT_SHIM_AREA_DNS = 1u << 1,        ///< getaddrinfo, getnameinfo, gethostbyname*, gethostbyaddr*
    GEVENT_SHIM_AREA_TIME = 1u << 2,       ///< sleep, usleep, nanosleep, clock_nanosleep
    GEVENT_SHIM_AREA_SELECT = 1u << 3,     ///< poll, ppoll, select, pselect, epoll_wait, epoll_pwait(2)
    GEVENT_SHIM_AREA_THREAD = 1u << 4,     ///< pthread_create from a greenlet starts a greenlet (opt-in)
    GEVENT_SHIM_AREA_SUBPROCESS = 1u << 5, ///< waitpid, wait, wait3, wait4, waitid
    /// What `all` stands for: every area but `thread`, which a program opts into (thread-locals stay per OS
    /// thread under it).
    GEVENT_SHIM_AREA_ALL = GEVENT_SHIM_AREA_SOCKET | GEVENT_SHIM_AREA_DNS | GEVENT_SHIM_AREA_TIME |
                           GEVENT_SHIM_AREA_SELECT | GEVENT_SHIM_AREA_SUBPROCESS,
    GEVENT_SHIM_AREA_EVERY = (1u << 6) - 1, ///< every area there is
};

/// How a cooperative wait ended (what the Swift entry points return to the interposers).
enum {
    GEVENT_SHIM_READY = 0,         ///< an fd became ready, the sleep or the offloaded call finished
    GEVENT_SHIM_TIMED_OUT = 1,     ///< the deadline passed first
    GEVENT_SHIM_CLOSED = 2,        ///< a waited fd was closed (close, dup2, dup3) by someone else
    GEVENT_SHIM_CANCELLED = 3,     ///< an error (a kill) was thrown into the greenlet: fail with ECANCELED
    GEVENT_SHIM_TIMEOUT_ERROR = 4, ///< a gevent Timeout was thrown into the greenlet: fail with ETIMEDOUT
    GEVENT_SHIM_CANNOT_WAIT = 5,   ///< no greenlet could wait here (the hub itself): do the real blocking call
    GEVENT_SHIM_INTERRUPTED = 6,   ///< a signal handler ran on the hub's thread: fail with EINTR, or restart
    GEVENT_SHIM_NOT_HANDLED = 7,   ///< the hub's c-ares resolver cannot answer this lookup: use the thread path
};

/// Readiness a wait is for (the libev bits, so Swift passes them straight to ev_io).
enum {
    GEVENT_SHIM_READABLE = 0x01,
    GEVENT_SHIM_WRITABLE = 0x02,
};

/// One fd a greenlet waits for: what it waits for and the generation of the fd's shadow entry when the
/// interposer last looked at it (a different generation at wait time means the fd was closed meanwhile).
typedef struct gevent_shim_wait_item {
    int fd;
    int events;
    uint32_t generation;
} gevent_shim_wait_item;

/// How the DNS area runs lookups.
enum {
    GEVENT_SHIM_RESOLVER_THREAD = 0, ///< on a native thread while the greenlet waits (default)
    GEVENT_SHIM_RESOLVER_BLOCK = 1,  ///< call libc directly, blocking the hub (resolver `block`)
    GEVENT_SHIM_RESOLVER_ARES = 2,   ///< the hub's c-ares channel on its loop, no thread (resolver `ares`)
};

/// Sets the patched areas (a GEVENT_SHIM_AREA_* mask). Any thread.
void gevent_shim_set_patched(unsigned mask);

/// The patched areas. Any thread.
unsigned gevent_shim_patched(void);

/// Parses an area list ("all", "socket,dns,time,select,thread", "none"; "-name" removes an area, and a
/// list that starts with one starts from "all": "-dns"); unknown names are reported on stderr with the
/// accepted names. Returns the mask.
unsigned gevent_shim_parse_areas(const char *text);

/// Sets how DNS lookups run (GEVENT_SHIM_RESOLVER_*); GeventConfig does, from its resolver. Any thread.
void gevent_shim_set_resolver(int mode);

/// For a wait about to start on fd: counts it as a waiter, so that a close of fd on any thread calls back
/// into the waits' registry (DescriptorWait) before the fd is gone, and returns the generation of fd's
/// shadow entry, which changes whenever the fd is closed or replaced (0 for fds outside the table). Any
/// thread.
uint32_t gevent_shim_fd_wait_begin(int fd);

/// Uncounts a waiter counted by gevent_shim_fd_wait_begin. Any thread.
void gevent_shim_fd_wait_end(int fd);

/// Forgets every shadow entry (tests that unpatch use it). Only when no greenlet waits in the shim.
void gevent_shim_reset_fd_table(void);

/// Reads GEVENT_PATCH and patches accordingly (what the preload library does once, in its constructor).
/// Returns the patched mask. GeventConfig sets everything else when the first hub starts.
unsigned gevent_shim_configure_from_environment(void);

/// Tells the signal trampoline (preload/shim_signal.c) which ev_loop and ev_async wake the calling thread's
/// hub (`struct ev_loop *`, `ev_async *`). The hub's thread, when the hub starts; detach before the loop is
/// freed.
void gevent_shim_signal_attach(void *loop, void *async);
void gevent_shim_signal_detach(void);

/// Whether a signal handler ran on this thread since the last call (which resets it). The hub's thread, in
/// its ev_async callback.
bool gevent_shim_signal_take_pending(void);

/// How many program signal handlers have run on the calling thread: a wait that began at a lower count was
/// in progress when one ran. Any thread (its own count).
uint64_t gevent_shim_signal_count(void);

/// A greenlet parked by the thread area's waits (preload/shim_thread.c): what wakes it, filled in by
/// gevent_shim_park_prepare. `hub` and `greenlet` are unretained Swift objects.
typedef struct gevent_shim_park_token {
    void *hub;
    void *greenlet;
    uint64_t sequence;
} gevent_shim_park_token;

/// Runs a patched pthread's start routine in the calling greenlet (the greenlet gevent_shim_thread_spawn
/// made), then ends the thread: its exit value, key destructors, joiners woken. Implemented in C.
void gevent_shim_thread_main(void *record);

/// The start routine of a patched pthread's record (for the monitor's report). The record's hub thread,
/// while its greenlet runs.
void *gevent_shim_thread_start_routine(const void *record);

/// Writes "SYMBOL in FILE" for the code at `address` (dladdr; the offset in FILE in hex, for addr2line,
/// where it names no symbol) into `buffer`, NUL-terminated. Any thread, not from a signal handler.
void gevent_shim_describe_code(const void *address, char *buffer, size_t length);

/// pthread_create as glibc implements it, past the thread area: for threads the runtime itself starts (the
/// thread pool's workers, the monitor), which must stay OS threads whoever starts them.
int gevent_shim_real_pthread_create(void *thread, const void *attributes, void *(*start)(void *), void *argument);

/// glibc's own mutex and condition-variable functions, past the thread area: for the runtime's locks
/// (NativeCondition), which OS threads wait on and which must never park a greenlet inside the runtime.
/// Any thread.
int gevent_shim_real_mutex_lock(pthread_mutex_t *mutex);
int gevent_shim_real_mutex_unlock(pthread_mutex_t *mutex);
int gevent_shim_real_cond_wait(pthread_cond_t *condition, pthread_mutex_t *mutex);
int gevent_shim_real_cond_timedwait(pthread_cond_t *condition, pthread_mutex_t *mutex, const struct timespec *when);
int gevent_shim_real_cond_signal(pthread_cond_t *condition);
int gevent_shim_real_cond_broadcast(pthread_cond_t *condition);

/// Counters for tests: how many times an interposer made a call cooperative (went to the hub), by area.
uint64_t gevent_shim_cooperative_calls(void);

#ifdef __cplusplus
}
#endif

#endif
