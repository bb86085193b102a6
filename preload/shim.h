// swift-gevent: private declarations shared by the interposers (not installed, not seen by Swift).
#ifndef GEVENT_SHIM_PRIVATE_H
#define GEVENT_SHIM_PRIVATE_H

#ifndef _GNU_SOURCE
#error You must define _GNU_SOURCE
#endif

#include "include/gevent_shim.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "CGreenlet.h"

#define SHIM_HIDDEN __attribute__((visibility("hidden")))
#define SHIM_EXPORT __attribute__((visibility("default")))
#define SHIM_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHIM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHIM_TLS __thread __attribute__((tls_model("initial-exec"), visibility("hidden")))

// MARK: - The real functions, resolved once in the constructor (shim_core.c)

struct shim_real {
    int (*socket)(int, int, int);
    int (*socketpair)(int, int, int, int[2]);
    int (*pipe)(int[2]);
    int (*pipe2)(int[2], int);
    int (*accept)(int, struct sockaddr *, socklen_t *);
    int (*accept4)(int, struct sockaddr *, socklen_t *, int);
    int (*connect)(int, const struct sockaddr *, socklen_t);
    ssize_t (*read)(int, void *, size_t);
    ssize_t (*readv)(int, const struct iovec *, int);
    ssize_t (*recv)(int, void *, size_t, int);
    ssize_t (*recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*recvmsg)(int, struct msghdr *, int);
    ssize_t (*read_chk)(int, void *, size_t, size_t);
    ssize_t (*recv_chk)(int, void *, size_t, size_t, int);
    ssize_t (*recvfrom_chk)(int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *);
    ssize_t (*write)(int, const void *, size_t);
    ssize_t (*writev)(int, const struct iovec *, int);
    ssize_t (*send)(int, const void *, size_t, int);
    ssize_t (*sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
    ssize_t (*sendmsg)(int, const struct msghdr *, int);
    ssize_t (*pread)(int, void *, size_t, off_t);
    ssize_t (*preadv)(int, const struct iovec *, int, off_t);
    ssize_t (*pread_chk)(int, void *, size_t, off_t, size_t);
    ssize_t (*preadv2)(int, const struct iovec *, int, off_t, int);
    ssize_t (*pwritev2)(int, const struct iovec *, int, off_t, int);
    int (*poll)(struct pollfd *, nfds_t, int);
    int (*ppoll)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
    int (*poll_chk)(struct pollfd *, nfds_t, int, size_t);
    int (*ppoll_chk)(struct pollfd *, nfds_t, const struct timespec *, const sigset_t *, size_t);
    int (*select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
    int (*pselect)(int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
    unsigned (*sleep)(unsigned);
    int (*usleep)(useconds_t);
    int (*nanosleep)(const struct timespec *, struct timespec *);
    int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
    int (*close)(int);
    int (*dup)(int);
    int (*dup2)(int, int);
    int (*dup3)(int, int, int);
    int (*fcntl)(int, int, ...);
    int (*fcntl64)(int, int, ...);
    int (*ioctl)(int, unsigned long, ...);
    int (*setsockopt)(int, int, int, const void *, socklen_t);
    int (*fclose)(FILE *);
    int (*getaddrinfo)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    int (*getnameinfo)(const struct sockaddr *, socklen_t, char *, socklen_t, char *, socklen_t, int);
    int (*gethostbyname_r)(const char *, struct hostent *, char *, size_t, struct hostent **, int *);
    int (*gethostbyname2_r)(const char *, int, struct hostent *, char *, size_t, struct hostent **, int *);
    int (*gethostbyaddr_r)(const void *, socklen_t, int, struct hostent *, char *, size_t, struct hostent **, int *);
    struct hostent *(*gethostbyname)(const char *);
    struct hostent *(*gethostbyname2)(const char *, int);
    struct hostent *(*gethostbyaddr)(const void *, socklen_t, int);
    int (*sigaction)(int, const struct sigaction *, struct sigaction *);
};

SHIM_HIDDEN extern struct shim_real shim_real;

/// Defines `real_NAME()`, the next definition of libc function NAME, resolved on first use: for functions
/// that libraries call from their own constructors, which can run before ours. In a program built with a
/// sanitizer, that is the sanitizer's interceptor (`__interceptor_NAME`), which our definition displaces in
/// the executable: a thread or a lock the sanitizer never saw would make it report leaks and races that are
/// not there.
#define SHIM_REAL(name)                                                                                                \
    static __typeof__(name) *real_##name(void) {                                                                       \
        static __typeof__(name) *_Atomic resolved;                                                                     \
        __typeof__(name) *function = atomic_load_explicit(&resolved, memory_order_relaxed);                            \
        if (SHIM_UNLIKELY(function == NULL)) {                                                                         \
            function = (__typeof__(name) *)shim_resolve_intercepted(#name);                                            \
            atomic_store_explicit(&resolved, function, memory_order_relaxed);                                          \
        }                                                                                                              \
        return function;                                                                                               \
    }

/// Resolves a function the constructor could not have resolved yet (a hook called from another library's
/// constructor before ours ran). Only for functions with no syscall equivalent (the resolver's), which
/// allocate anyway.
SHIM_HIDDEN void *shim_resolve_late(const char *name);

/// A sanitizer's interceptor of `name` when the program has one, else shim_resolve_late(name). A lookup that
/// fails allocates its error message; a malloc that locks through one of our hooks (jemalloc) comes back
/// here, and that nested call takes shim_resolve_late's lookup, which succeeds without allocating.
SHIM_HIDDEN void *shim_resolve_intercepted(const char *name);

// MARK: - The pass-through decision

SHIM_HIDDEN extern _Atomic unsigned shim_patched_mask;
SHIM_HIDDEN extern _Atomic bool shim_tracking;
SHIM_HIDDEN extern _Atomic int shim_resolver_mode;
SHIM_HIDDEN extern _Atomic uint64_t shim_cooperative_count;

SHIM_HIDDEN extern SHIM_TLS void *shim_tls_cached_hub;
SHIM_HIDDEN extern SHIM_TLS void *shim_tls_cached_hub_context;

/// CGreenlet's thread-locals (greenlet.c), read directly: a function call per interposed call would be
/// most of the pass-through cost.
extern SHIM_TLS cgreenlet_t *cgreenlet_tls_current;
extern SHIM_TLS void *cgreenlet_tls_hub;

/// Implemented in Swift: the hub greenlet's context of `hub` (a Hub object, unretained).
void *gevent_shim_hub_context(void *hub);

/// `true` when a call of `area` may become cooperative: the area is patched, this thread has a hub and the
/// running greenlet is not the hub. One global load when nothing is patched; two thread-local loads more
/// when something is.
static inline bool shim_enabled(unsigned area) {
    if (SHIM_LIKELY(!(atomic_load_explicit(&shim_patched_mask, memory_order_relaxed) & area))) {
        return false;
    }
    void *hub = cgreenlet_tls_hub;
    if (hub == NULL) {
        return false;
    }
    void *current = cgreenlet_tls_current;
    if (SHIM_UNLIKELY(hub != shim_tls_cached_hub || current == shim_tls_cached_hub_context)) {
        // A new hub, or apparently the hub itself: ask Swift. A destroyed hub's memory may be reused by the
        // next one and its greenlets, so a cached "this is the hub" is never trusted without asking again
        // (calls made from inside the hub are few: libev's own are on non-blocking fds).
        shim_tls_cached_hub_context = gevent_shim_hub_context(hub);
        shim_tls_cached_hub = hub;
    }
    return current != shim_tls_cached_hub_context;
}

// MARK: - The shadow fd table (shim_fd.c)

enum {
    SHIM_FD_KNOWN = 1u << 0,    ///< classified (the other bits mean something)
    SHIM_FD_POLLABLE = 1u << 1, ///< socket, pipe, FIFO, character device, anonymous inode
    SHIM_FD_SOCKET = 1u << 2,
    SHIM_FD_STREAM = 1u << 3,    ///< writes loop until done: stream sockets and every pollable non-socket
    SHIM_FD_NONBLOCK = 1u << 4,  ///< the user's O_NONBLOCK view (the kernel flag: we never change it)
    SHIM_FD_SHARED = 1u << 5,    ///< may share its open file description with another fd (dup, inherited)
    SHIM_FD_NO_NOWAIT = 1u << 6, ///< preadv2/pwritev2 with RWF_NOWAIT is not supported: poll first
    SHIM_FD_FILE = 1u << 7,      ///< a regular file or block device on a filesystem that may wait for a disk
    /// A hint, not a kind: the socket's last blocking read found nothing and waited, so the next one waits for
    /// readability before it tries (a request/response peer rarely has the next request there already).
    SHIM_FD_READ_WAITS = 1u << 8,
};

typedef struct shim_fd {
    _Atomic uint32_t generation;        ///< bumped whenever the fd is closed or replaced
    _Atomic uint32_t flags;             ///< SHIM_FD_*
    _Atomic uint32_t epoch;             ///< shim_epoch when a SHARED entry was last read from the kernel
    _Atomic uint32_t waiters;           ///< greenlets (of any hub) waiting on this fd now
    _Atomic int64_t receive_timeout_ns; ///< SO_RCVTIMEO in ns, 0 = none, -1 = expires at once
    _Atomic int64_t send_timeout_ns;    ///< SO_SNDTIMEO, the same way
} shim_fd_t;

/// The entry for `fd`, created (zeroed) on demand; NULL for fds outside the table's range.
SHIM_HIDDEN shim_fd_t *shim_fd_entry(int fd, bool create);

/// The entry of an fd on which a blocking call may wait: classifies it on first use; NULL when the call
/// must pass through (not pollable, the user's view is non-blocking, out of range, not an fd).
SHIM_HIDDEN shim_fd_t *shim_fd_prepare(int fd);

/// Records a new fd we saw created (socket, pipe, accept...), if the table is being kept.
SHIM_HIDDEN void shim_fd_created(int fd, uint32_t flags, int64_t receive_timeout_ns, int64_t send_timeout_ns);

/// Wakes greenlets waiting on `fd` (they fail with EBADF) and forgets the entry: call before closing it.
SHIM_HIDDEN void shim_fd_closing(int fd);

/// `newfd` now refers to the same open file description as `oldfd`.
SHIM_HIDDEN void shim_fd_duplicated(int oldfd, int newfd);

/// The user changed O_NONBLOCK on `fd`.
SHIM_HIDDEN void shim_fd_set_nonblocking(int fd, bool nonblocking);

/// The user set SO_RCVTIMEO (receive) or SO_SNDTIMEO on `fd`.
SHIM_HIDDEN void shim_fd_set_timeout(int fd, bool receive, int64_t timeout_ns);

// MARK: - Waiting (shim_wait.c)

/// Implemented in Swift (ShimEntryPoints.swift).
int gevent_shim_wait_fds(const gevent_shim_wait_item *items, int count, int64_t timeout_ns);
int gevent_shim_sleep(int64_t nanoseconds);
int gevent_shim_offload(void (*function)(void *), void *argument);
void gevent_shim_fd_closing(int fd);
void *gevent_shim_greenlet_buffer(size_t size);
/// Lookups through the hub's c-ares resolver: GEVENT_SHIM_READY with *status the EAI_* result (and errno
/// set for EAI_SYSTEM), GEVENT_SHIM_NOT_HANDLED when c-ares cannot give libc's answer (the thread path
/// must), or the codes of an interrupted wait.
int gevent_shim_ares_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                                 struct addrinfo **result, int *status);
int gevent_shim_ares_getnameinfo(const struct sockaddr *address, socklen_t address_length, char *host,
                                 socklen_t host_length, char *service, socklen_t service_length, int flags,
                                 int *status);
int gevent_shim_ares_host_query(const char *name, const void *address, socklen_t address_length, int family,
                                struct hostent *storage, char *buffer, size_t length, struct hostent **result,
                                int *h_error, int *status);

/// A wait ended by a signal handler that had SA_RESTART (as did every other handler that ran meanwhile): the
/// calls the kernel restarts wait again, the others (poll, select, sleeps, sockets with a timeout) fail with
/// EINTR. Only between the interposers, never returned by Swift.
enum { SHIM_WAIT_RESTART = 100 };

/// The calling thread's signal-handler count, taken before a wait (shim_signal.c).
SHIM_HIDDEN uint64_t shim_signal_mark(void);

/// Refines a wait's outcome: GEVENT_SHIM_INTERRUPTED becomes SHIM_WAIT_RESTART when every handler that
/// ran since `mark` had SA_RESTART.
SHIM_HIDDEN int shim_signal_outcome(int code, uint64_t mark);

/// Monotonic time in nanoseconds.
SHIM_HIDDEN int64_t shim_now_ns(void);

/// Waits until `fd` is ready for `events` or until `deadline_ns` (monotonic, 0 = none), or until fd is
/// closed or replaced after the caller read `generation`. Returns a GEVENT_SHIM_* code.
SHIM_HIDDEN int shim_wait_fd(int fd, uint32_t generation, int events, int64_t deadline_ns);

/// The errno a failed wait turns into for an I/O call (EAGAIN for a socket timeout, EBADF, ECANCELED,
/// ETIMEDOUT, EINTR for a signal), or 0 for GEVENT_SHIM_READY.
SHIM_HIDDEN int shim_wait_errno(int code);

/// A socket timeout (SO_RCVTIMEO/SO_SNDTIMEO) in nanoseconds: 0 means none (a zero timeval), -1 "expires at
/// once" (Linux treats a negative tv_sec so).
static inline int64_t shim_timeval_ns(const struct timeval *tv) {
    if (tv->tv_sec < 0) {
        return -1;
    }
    if (tv->tv_sec == 0 && tv->tv_usec <= 0) {
        return 0;
    }
    // Saturated: ~292 years of nanoseconds fit in int64, a timeval's seconds need not.
    if (tv->tv_sec >= INT64_MAX / 1000000000LL - 1) {
        return INT64_MAX;
    }
    return (int64_t)tv->tv_sec * 1000000000LL + (int64_t)tv->tv_usec * 1000LL;
}

/// A valid (non-negative) timespec in nanoseconds, saturated at INT64_MAX.
static inline int64_t shim_timespec_ns(const struct timespec *ts) {
    if (ts->tv_sec >= INT64_MAX / 1000000000LL - 1) {
        return INT64_MAX;
    }
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/// A deadline `timeout_ns` from now (0 = none; negative = now), saturated at INT64_MAX.
static inline int64_t shim_deadline(int64_t timeout_ns) {
    if (timeout_ns == 0) {
        return 0;
    }
    int64_t now = shim_now_ns();
    if (timeout_ns < 0) {
        return now;
    }
    return timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
}

/// The nanoseconds left until `deadline_ns` (-1 = no deadline, 0 = passed).
static inline int64_t shim_remaining(int64_t deadline_ns) {
    if (deadline_ns == 0) {
        return -1;
    }
    int64_t left = deadline_ns - shim_now_ns();
    return left > 0 ? left : 0;
}

// MARK: - Pass-through calls with a syscall fallback (for hooks run before our constructor)

static inline ssize_t shim_sys_read(int fd, void *buf, size_t n) {
    return shim_real.read ? shim_real.read(fd, buf, n) : syscall(SYS_read, fd, buf, n);
}
static inline ssize_t shim_sys_write(int fd, const void *buf, size_t n) {
    return shim_real.write ? shim_real.write(fd, buf, n) : syscall(SYS_write, fd, buf, n);
}
static inline ssize_t shim_sys_readv(int fd, const struct iovec *iov, int n) {
    return shim_real.readv ? shim_real.readv(fd, iov, n) : syscall(SYS_readv, fd, iov, n);
}
static inline ssize_t shim_sys_writev(int fd, const struct iovec *iov, int n) {
    return shim_real.writev ? shim_real.writev(fd, iov, n) : syscall(SYS_writev, fd, iov, n);
}
static inline ssize_t shim_sys_recvmsg(int fd, struct msghdr *msg, int flags) {
    return shim_real.recvmsg ? shim_real.recvmsg(fd, msg, flags) : syscall(SYS_recvmsg, fd, msg, flags);
}
static inline ssize_t shim_sys_sendmsg(int fd, const struct msghdr *msg, int flags) {
    return shim_real.sendmsg ? shim_real.sendmsg(fd, msg, flags) : syscall(SYS_sendmsg, fd, msg, flags);
}
static inline ssize_t shim_sys_recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *len) {
    return shim_real.recvfrom ? shim_real.recvfrom(fd, buf, n, flags, addr, len)
                              : syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
}
static inline ssize_t shim_sys_sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                                      socklen_t len) {
    return shim_real.sendto ? shim_real.sendto(fd, buf, n, flags, addr, len)
                            : syscall(SYS_sendto, fd, buf, n, flags, addr, len);
}
static inline int shim_sys_ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *mask) {
    return shim_real.ppoll ? shim_real.ppoll(fds, n, timeout, mask)
                           : (int)syscall(SYS_ppoll, fds, n, timeout, mask, _NSIG / 8);
}
/// poll(2) with a millisecond timeout through ppoll (which exists on every architecture).
static inline int shim_sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms) {
    if (shim_real.poll) {
        return shim_real.poll(fds, n, timeout_ms);
    }
    struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
    return shim_sys_ppoll(fds, n, timeout_ms < 0 ? NULL : &ts, NULL);
}
static inline int shim_sys_close(int fd) {
    return shim_real.close ? shim_real.close(fd) : (int)syscall(SYS_close, fd);
}
static inline int shim_sys_fcntl(int fd, int cmd, void *arg) {
    return shim_real.fcntl ? shim_real.fcntl(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
}
static inline int shim_sys_nanosleep(const struct timespec *req, struct timespec *rem) {
    return shim_real.nanosleep ? shim_real.nanosleep(req, rem)
                               : (int)syscall(SYS_clock_nanosleep, CLOCK_REALTIME, 0, req, rem);
}

// MARK: - Area thread (shim_thread.c)

/// Waits while `*word == expected`: with `cooperative`, a greenlet parks on its hub (woken by
/// shim_word_wake); every other caller futex-waits. Returns 0 when woken or when the word changed (or
/// spuriously), ETIMEDOUT at `deadline_ns` (monotonic, 0 = none).
SHIM_HIDDEN int shim_word_wait(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns, bool cooperative);

/// shim_word_wait's park alone: -1 at once when the caller is no greenlet that can park (or `thread` is not
/// patched), for a caller that waits some other way then.
SHIM_HIDDEN int shim_word_park(_Atomic uint32_t *word, uint32_t expected, int64_t deadline_ns);

/// Wakes up to `count` greenlets parked on `word`, and as many futex waiters.
SHIM_HIDDEN void shim_word_wake(_Atomic uint32_t *word, int count);

/// A monotonic deadline for an absolute time on `clock` (CLOCK_REALTIME or CLOCK_MONOTONIC); 0 with *error
/// EINVAL for another clock or a bad time.
SHIM_HIDDEN int64_t shim_deadline_on_clock(clockid_t clock, const struct timespec *when, int *error);

/// From a greenlet: calls `attempt(context)` until it returns something other than EBUSY, sleeping
/// cooperatively between tries (1 ms, doubling up to `longest_pause_ns`), for what offers nothing to wait
/// on. Returns what `attempt` returned, ETIMEDOUT at `deadline_ns` (monotonic, 0 = none), or -1 when no
/// greenlet can wait here.
SHIM_HIDDEN int shim_poll_cooperatively(int (*attempt)(void *), void *context, int64_t deadline_ns,
                                        int64_t longest_pause_ns);

/// The calling OS thread's kernel id, cached.
SHIM_HIDDEN pid_t shim_os_thread_id(void);

/// Kernel thread ids stay below 2^22 (PID_MAX_LIMIT); greenlet-thread identities start here.
enum { SHIM_IDENTITY_BASE = 1 << 30 };

/// Who is running, as a lock records its owner: a greenlet-thread's own identity, else the OS thread's id
/// (every other greenlet of the thread shares it, as under glibc).
SHIM_HIDDEN int shim_thread_identity(void);

/// Whether `identity` (from shim_thread_identity) runs on the calling OS thread: then waiting for it as an
/// OS thread would wait forever.
SHIM_HIDDEN bool shim_identity_runs_here(int identity);

/// Forgets the cached thread id (a forked child's thread has a new one).
SHIM_HIDDEN void shim_thread_after_fork_in_child(void);

// MARK: - Regular files (shim_file.c)

/// `true` when fd's filesystem lives in memory (tmpfs, procfs, sysfs...): its reads never wait for a device.
SHIM_HIDDEN bool shim_file_in_memory(int fd);

/// A read of a regular file at `offset` (-1: the file offset) as a blocking preadv/readv would do it,
/// through the thread pool when the data is not in the page cache and a greenlet can wait; plain for every
/// other fd. Sets errno like the plain call.
SHIM_HIDDEN ssize_t shim_file_read(int fd, const struct iovec *iov, int count, off_t offset);

// MARK: - Pointers from the caller, checked the way the kernel checks them

/// Whether `size` bytes at `address` can be read, asked of the kernel (process_vm_readv on ourselves reads
/// one byte per page into a scratch byte), so that a bad pointer becomes the real call's EFAULT instead of a
/// crash in the interposer. Where the kernel refuses the probe (seccomp), assumes readable: the interposer
/// then behaves as it always did. Leaves errno alone.
static inline bool shim_readable(const void *address, size_t size) {
    if (size == 0) {
        return true;
    }
    if (address == NULL) {
        return false;
    }
    int saved = errno;
    const char *start = address;
    const char *last = start + size - 1;
    bool readable = true;
    for (const char *at = start;; at = (const char *)(((uintptr_t)at | 4095) + 1)) {
        if (at > last) {
            at = last;
        }
        char scratch;
        struct iovec local = {&scratch, 1}, remote = {(void *)at, 1};
        if (syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL) != 1) {
            readable = errno != EFAULT;
            break;
        }
        if (at == last) {
            break;
        }
    }
    errno = saved;
    return readable;
}

// MARK: - I/O helpers shared by the families (shim_io.c)

/// Reads into `iov` the way a blocking readv/recvmsg would, waiting cooperatively. `msg` carries the
/// recvmsg/recvfrom extras (name, control) or is NULL; `flags` are recv flags (MSG_WAITALL, MSG_PEEK...).
/// Returns the byte count or -1 with `*error` set.
SHIM_HIDDEN ssize_t shim_read_common(int fd, shim_fd_t *entry, struct msghdr *msg, const struct iovec *iov, int iovcnt,
                                     int flags, int *error);

/// Writes `iov` the way a blocking writev/sendmsg would: on streams, until everything is written or an
/// error or timeout ends it after progress (then the partial count).
SHIM_HIDDEN ssize_t shim_write_common(int fd, shim_fd_t *entry, const struct msghdr *msg, const struct iovec *iov,
                                      int iovcnt, int flags, int *error);

/// Waits cooperatively for "any of these fds is ready" or the deadline. Used by poll and select.
/// Returns a GEVENT_SHIM_* code.
SHIM_HIDDEN int shim_wait_pollfds(const struct pollfd *fds, nfds_t n, int64_t deadline_ns);

#endif
