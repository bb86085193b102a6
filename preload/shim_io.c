// swift-gevent: the read and write families. A call that may block is tried without blocking first (one
// syscall when data is ready), and only on EAGAIN does the greenlet wait on the hub, then retry. We never
// change O_NONBLOCK: sockets get MSG_DONTWAIT, other fds preadv2/pwritev2 with RWF_NOWAIT where the kernel
// supports it, else a poll(…, 0) before the real call.
#include "shim.h"

#include <limits.h>
#include <string.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

/// Drops `n` transferred bytes from the front of a (mutable copy of an) iovec array.
static void iov_advance(struct iovec **iov, int *count, size_t n) {
    while (*count > 0 && (n > 0 || (*iov)->iov_len == 0)) {
        if (n >= (*iov)->iov_len) {
            n -= (*iov)->iov_len;
            (*iov)++;
            (*count)--;
        } else {
            (*iov)->iov_base = (char *)(*iov)->iov_base + n;
            (*iov)->iov_len -= n;
            n = 0;
        }
    }
}

static size_t iov_total(const struct iovec *iov, int count) {
    size_t total = 0;
    for (int i = 0; i < count; i++) {
        total += iov[i].iov_len;
    }
    return total;
}

/// One attempt that never blocks on a non-socket fd. Returns the count, or -1 with *error (EAGAIN when it
/// would have blocked).
static ssize_t nonsocket_attempt(int fd, shim_fd_t *entry, const struct iovec *iov, int count, bool write, int *error) {
    if (!(atomic_load_explicit(&entry->flags, memory_order_relaxed) & SHIM_FD_NO_NOWAIT) &&
        (write ? shim_real.pwritev2 != NULL : shim_real.preadv2 != NULL)) {
        ssize_t n = write ? shim_real.pwritev2(fd, iov, count, -1, RWF_NOWAIT)
                          : shim_real.preadv2(fd, iov, count, -1, RWF_NOWAIT);
        if (n >= 0) {
            return n;
        }
        int e = errno;
        if (e == EOPNOTSUPP) {
            // This kind of fd (a tty, an older kernel's pipe) has no per-call non-blocking mode.
            atomic_fetch_or(&entry->flags, SHIM_FD_NO_NOWAIT);
        } else if (e != EINVAL) {
            // EINVAL may mean "no RWF_NOWAIT here" or a real error; the real call below tells which.
            *error = e;
            return -1;
        }
    }
    struct pollfd probe = {fd, write ? POLLOUT : POLLIN, 0};
    if (shim_sys_poll(&probe, 1, 0) == 0) {
        *error = EAGAIN;
        return -1;
    }
    // Ready, or an error condition the real call will report.
    ssize_t n = write ? shim_sys_writev(fd, iov, count) : shim_sys_readv(fd, iov, count);
    if (n < 0) {
        *error = errno;
    }
    return n;
}

/// The real, blocking read, for when no greenlet can wait (the hub itself) or the entry was stale.
static ssize_t blocking_read(int fd, bool socket, struct msghdr *msg, struct iovec *iov, int count, int flags,
                             int *error) {
    ssize_t n;
    if (socket) {
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        if (msg != NULL) {
            m = *msg;
        }
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)count;
        n = shim_sys_recvmsg(fd, &m, flags);
        if (n >= 0 && msg != NULL) {
            msg->msg_namelen = m.msg_namelen;
            msg->msg_controllen = m.msg_controllen;
            msg->msg_flags = m.msg_flags;
        }
    } else {
        n = shim_sys_readv(fd, iov, count);
    }
    if (n < 0) {
        *error = errno;
    }
    return n;
}

/// What follows an attempt that failed with `e`: retry, fall back to the real blocking call (no greenlet can
/// wait here), or end with what was transferred (`total`) or -1 and *error.
enum { SHIM_STEP_RETRY = -2, SHIM_STEP_BLOCKING = -3 };

static ssize_t after_failed_attempt(int fd, uint32_t generation, int events, _Atomic int64_t *timeout_ns, int e,
                                    size_t total, int64_t *deadline, int *error) {
    if (e == EINTR) {
        return SHIM_STEP_RETRY;
    }
    if (e == EAGAIN || e == EWOULDBLOCK) {
        if (*deadline < 0) {
            // The socket timeout counts from the first wait of the call, as the kernel's does.
            *deadline = shim_deadline(atomic_load(timeout_ns));
        }
        int code = shim_wait_fd(fd, generation, events, *deadline);
        // SA_RESTART restarts a read or write, unless the socket has a timeout (signal(7)).
        if (code == GEVENT_SHIM_READY || (code == SHIM_WAIT_RESTART && atomic_load(timeout_ns) == 0)) {
            return SHIM_STEP_RETRY;
        }
        if (code == GEVENT_SHIM_CANNOT_WAIT) {
            return SHIM_STEP_BLOCKING;
        }
        e = shim_wait_errno(code);
    }
    // An error or a timeout after progress reports the progress, as the kernel does.
    if (total > 0) {
        return (ssize_t)total;
    }
    *error = e;
    return -1;
}

SHIM_HIDDEN ssize_t shim_read_common(int fd, shim_fd_t *entry, struct msghdr *msg, const struct iovec *iov, int iovcnt,
                                     int flags, int *error) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) {
        *error = EINVAL;
        return -1;
    }
    uint32_t generation = atomic_load(&entry->generation);
    uint32_t kind = atomic_load(&entry->flags);
    bool socket = kind & SHIM_FD_SOCKET;
    // MSG_WAITALL makes a blocking stream read wait for the whole buffer; with MSG_PEEK the kernel would
    // keep peeking at the same bytes, which a retry loop cannot imitate, so that pair reads what is there.
    bool wait_all = socket && (kind & SHIM_FD_STREAM) && (flags & MSG_WAITALL) && !(flags & MSG_PEEK);
    struct iovec copy[iovcnt > 0 ? iovcnt : 1];
    memcpy(copy, iov, sizeof(struct iovec) * (size_t)iovcnt);
    struct iovec *cursor = copy;
    int remaining_count = iovcnt;
    size_t wanted = iov_total(iov, iovcnt);
    size_t total = 0;
    int64_t deadline = -1; // not yet computed
    // Saves the attempt that would fail with EAGAIN, a syscall per request on a request/response socket.
    // Not with a receive timeout, whose expiry the wait would count from before any attempt.
    bool wait_first = socket && (kind & SHIM_FD_READ_WAITS) && atomic_load(&entry->receive_timeout_ns) == 0;
    bool waited_first = wait_first;
    bool first_attempt = true;
    for (;;) {
        ssize_t n;
        int e = 0;
        bool skipped = wait_first;
        if (wait_first) {
            wait_first = false;
            n = -1;
            e = EAGAIN;
        } else if (socket) {
            struct msghdr m;
            memset(&m, 0, sizeof(m));
            if (msg != NULL && total == 0) {
                m = *msg;
            }
            m.msg_iov = cursor;
            m.msg_iovlen = (size_t)remaining_count;
            n = shim_sys_recvmsg(fd, &m, (flags & ~MSG_WAITALL) | MSG_DONTWAIT);
            if (n < 0) {
                e = errno;
                if (e == ENOTSOCK && total == 0) {
                    // The number was reused behind our back (closed by libc itself): forget and pass through.
                    atomic_store(&entry->flags, 0);
                    return blocking_read(fd, msg != NULL, msg, cursor, remaining_count, flags, error);
                }
            } else if (msg != NULL) {
                if (total == 0) {
                    msg->msg_namelen = m.msg_namelen;
                    msg->msg_controllen = m.msg_controllen;
                    msg->msg_flags = m.msg_flags;
                } else {
                    msg->msg_flags |= m.msg_flags;
                }
            }
        } else {
            n = nonsocket_attempt(fd, entry, cursor, remaining_count, false, &e);
        }
        if (socket && first_attempt && !skipped) {
            // The hint follows the first attempt: set when it found nothing, cleared when it found data, or
            // when a read after a wait filled the whole buffer (a stream with more to come).
            first_attempt = false;
            bool found_nothing = n < 0 && (e == EAGAIN || e == EWOULDBLOCK);
            bool more_to_come = n > 0 && (size_t)n == wanted;
            if (found_nothing && !(kind & SHIM_FD_READ_WAITS)) {
                atomic_fetch_or_explicit(&entry->flags, SHIM_FD_READ_WAITS, memory_order_relaxed);
            } else if (!found_nothing && (kind & SHIM_FD_READ_WAITS) && (!waited_first || more_to_come)) {
                atomic_fetch_and_explicit(&entry->flags, ~(uint32_t)SHIM_FD_READ_WAITS, memory_order_relaxed);
            }
        }
        if (n > 0) {
            total += (size_t)n;
            if (!wait_all || total >= wanted) {
                return (ssize_t)total;
            }
            iov_advance(&cursor, &remaining_count, (size_t)n);
            continue;
        }
        if (n == 0) {
            return (ssize_t)total; // end of file, or an empty buffer
        }
        ssize_t step = after_failed_attempt(fd, generation, GEVENT_SHIM_READABLE, &entry->receive_timeout_ns, e, total,
                                            &deadline, error);
        if (step == SHIM_STEP_RETRY) {
            continue;
        }
        if (step == SHIM_STEP_BLOCKING) {
            return total > 0 ? (ssize_t)total : blocking_read(fd, socket, msg, cursor, remaining_count, flags, error);
        }
        return step;
    }
}

SHIM_HIDDEN ssize_t shim_write_common(int fd, shim_fd_t *entry, const struct msghdr *msg, const struct iovec *iov,
                                      int iovcnt, int flags, int *error) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) {
        *error = EINVAL;
        return -1;
    }
    uint32_t generation = atomic_load(&entry->generation);
    uint32_t kind = atomic_load(&entry->flags);
    bool socket = kind & SHIM_FD_SOCKET;
    bool stream = kind & SHIM_FD_STREAM;
    struct iovec copy[iovcnt > 0 ? iovcnt : 1];
    memcpy(copy, iov, sizeof(struct iovec) * (size_t)iovcnt);
    struct iovec *cursor = copy;
    int remaining_count = iovcnt;
    size_t wanted = iov_total(iov, iovcnt);
    size_t total = 0;
    int64_t deadline = -1; // not yet computed
    for (;;) {
        ssize_t n;
        int e = 0;
        if (socket) {
            struct msghdr m;
            memset(&m, 0, sizeof(m));
            if (msg != NULL) {
                m.msg_name = msg->msg_name;
                m.msg_namelen = msg->msg_namelen;
                if (total == 0) {
                    // Ancillary data (SCM_RIGHTS...) goes with the first bytes only.
                    m.msg_control = msg->msg_control;
                    m.msg_controllen = msg->msg_controllen;
                }
            }
            m.msg_iov = cursor;
            m.msg_iovlen = (size_t)remaining_count;
            n = shim_sys_sendmsg(fd, &m, flags | MSG_DONTWAIT);
            if (n < 0) {
                e = errno;
                if (e == ENOTSOCK && total == 0) {
                    atomic_store(&entry->flags, 0);
                    n = msg != NULL ? shim_sys_sendmsg(fd, msg, flags) : shim_sys_writev(fd, iov, iovcnt);
                    if (n < 0) {
                        *error = errno;
                    }
                    return n;
                }
            }
        } else {
            n = nonsocket_attempt(fd, entry, cursor, remaining_count, true, &e);
        }
        if (n >= 0) {
            total += (size_t)n;
            if (!stream || total >= wanted) {
                return (ssize_t)total;
            }
            iov_advance(&cursor, &remaining_count, (size_t)n);
            continue;
        }
        ssize_t step = after_failed_attempt(fd, generation, GEVENT_SHIM_WRITABLE, &entry->send_timeout_ns, e, total,
                                            &deadline, error);
        if (step == SHIM_STEP_RETRY) {
            continue;
        }
        if (step == SHIM_STEP_BLOCKING) {
            // No greenlet can wait here: the rest goes out the way libc would send it, blocking.
            struct msghdr m;
            memset(&m, 0, sizeof(m));
            if (msg != NULL) {
                m = *msg;
            }
            m.msg_iov = cursor;
            m.msg_iovlen = (size_t)remaining_count;
            n = socket ? shim_sys_sendmsg(fd, &m, flags) : shim_sys_writev(fd, cursor, remaining_count);
            if (n >= 0) {
                return (ssize_t)(total + (size_t)n);
            }
            if (total > 0) {
                return (ssize_t)total;
            }
            *error = errno;
            return -1;
        }
        return step;
    }
}

// MARK: - The interposers

/// Returns `result`, with errno set to `error` when it failed and left as the caller had it when it worked
/// (the attempts and waits in between change it; libc's calls leave it alone on success).
#define SHIM_FINISH(result, error)                                                                                     \
    do {                                                                                                               \
        int shim_saved_errno_ = errno;                                                                                 \
        ssize_t shim_result_ = (result);                                                                               \
        errno = shim_result_ < 0 ? (error) : shim_saved_errno_;                                                        \
        return shim_result_;                                                                                           \
    } while (0)

SHIM_EXPORT ssize_t read(int fd, void *buf, size_t n) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET))) {
        return shim_sys_read(fd, buf, n);
    }
    struct iovec iov = {buf, n};
    if ((entry = shim_fd_prepare(fd)) == NULL) {
        return shim_file_read(fd, &iov, 1, -1);
    }
    int error = 0;
    SHIM_FINISH(shim_read_common(fd, entry, NULL, &iov, 1, 0, &error), error);
}

SHIM_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen) {
    if (n > buflen && shim_real.read_chk != NULL) {
        return shim_real.read_chk(fd, buf, n, buflen); // reports the overflow and aborts, as without us
    }
    return read(fd, buf, n);
}

SHIM_EXPORT ssize_t readv(int fd, const struct iovec *iov, int count) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) ||
        (count > 0 && count <= IOV_MAX && !shim_readable(iov, sizeof(*iov) * (size_t)count))) {
        // A bad iov array: the real call's EFAULT (the kernel copies it in before it would wait).
        return shim_sys_readv(fd, iov, count);
    }
    if ((entry = shim_fd_prepare(fd)) == NULL) {
        return shim_file_read(fd, iov, count, -1);
    }
    int error = 0;
    SHIM_FINISH(shim_read_common(fd, entry, NULL, iov, count, 0, &error), error);
}

/// The entry for a recv/send-family call, or NULL to pass through: MSG_DONTWAIT never waits, nor does a read
/// of the error queue (MSG_ERRQUEUE: EAGAIN at once when it is empty), and a non-socket gets ENOTSOCK from
/// the real call.
static shim_fd_t *socket_call_entry(int fd, int flags) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (flags & (MSG_DONTWAIT | MSG_ERRQUEUE))) {
        return NULL;
    }
    shim_fd_t *entry = shim_fd_prepare(fd);
    if (entry == NULL || !(atomic_load(&entry->flags) & SHIM_FD_SOCKET)) {
        return NULL;
    }
    return entry;
}

SHIM_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL) {
        return shim_real.recv ? shim_real.recv(fd, buf, n, flags) : shim_sys_recvfrom(fd, buf, n, flags, NULL, NULL);
    }
    struct iovec iov = {buf, n};
    int error = 0;
    SHIM_FINISH(shim_read_common(fd, entry, NULL, &iov, 1, flags, &error), error);
}

SHIM_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags) {
    if (n > buflen && shim_real.recv_chk != NULL) {
        return shim_real.recv_chk(fd, buf, n, buflen, flags);
    }
    return recv(fd, buf, n, flags);
}

SHIM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *addr, socklen_t *addrlen) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL || (addr != NULL && !shim_readable(addrlen, sizeof(*addrlen)))) {
        return shim_sys_recvfrom(fd, buf, n, flags, addr, addrlen);
    }
    struct iovec iov = {buf, n};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    if (addr != NULL && addrlen != NULL) {
        msg.msg_name = addr;
        msg.msg_namelen = *addrlen;
    }
    int error = 0;
    ssize_t result = shim_read_common(fd, entry, &msg, &iov, 1, flags, &error);
    if (result >= 0 && addr != NULL && addrlen != NULL) {
        *addrlen = msg.msg_namelen;
    }
    SHIM_FINISH(result, error);
}

SHIM_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags, struct sockaddr *addr,
                                   socklen_t *addrlen) {
    if (n > buflen && shim_real.recvfrom_chk != NULL) {
        return shim_real.recvfrom_chk(fd, buf, n, buflen, flags, addr, addrlen);
    }
    return recvfrom(fd, buf, n, flags, addr, addrlen);
}

SHIM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL || !shim_readable(msg, sizeof(*msg)) || msg->msg_iovlen > IOV_MAX ||
        !shim_readable(msg->msg_iov, sizeof(struct iovec) * msg->msg_iovlen)) {
        return shim_sys_recvmsg(fd, msg, flags);
    }
    int error = 0;
    SHIM_FINISH(shim_read_common(fd, entry, msg, msg->msg_iov, (int)msg->msg_iovlen, flags, &error), error);
}

SHIM_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (entry = shim_fd_prepare(fd)) == NULL) {
        return shim_sys_write(fd, buf, n);
    }
    struct iovec iov = {(void *)buf, n};
    int error = 0;
    SHIM_FINISH(shim_write_common(fd, entry, NULL, &iov, 1, 0, &error), error);
}

SHIM_EXPORT ssize_t writev(int fd, const struct iovec *iov, int count) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (entry = shim_fd_prepare(fd)) == NULL ||
        (count > 0 && count <= IOV_MAX && !shim_readable(iov, sizeof(*iov) * (size_t)count))) {
        return shim_sys_writev(fd, iov, count);
    }
    int error = 0;
    SHIM_FINISH(shim_write_common(fd, entry, NULL, iov, count, 0, &error), error);
}

SHIM_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL) {
        return shim_real.send ? shim_real.send(fd, buf, n, flags) : shim_sys_sendto(fd, buf, n, flags, NULL, 0);
    }
    struct iovec iov = {(void *)buf, n};
    int error = 0;
    SHIM_FINISH(shim_write_common(fd, entry, NULL, &iov, 1, flags, &error), error);
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *addr,
                           socklen_t addrlen) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL) {
        return shim_sys_sendto(fd, buf, n, flags, addr, addrlen);
    }
    struct iovec iov = {(void *)buf, n};
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = (void *)addr;
    msg.msg_namelen = addr ? addrlen : 0;
    int error = 0;
    SHIM_FINISH(shim_write_common(fd, entry, &msg, &iov, 1, flags, &error), error);
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
    shim_fd_t *entry = socket_call_entry(fd, flags);
    if (entry == NULL || !shim_readable(msg, sizeof(*msg)) || msg->msg_iovlen > IOV_MAX ||
        !shim_readable(msg->msg_iov, sizeof(struct iovec) * msg->msg_iovlen)) {
        return shim_sys_sendmsg(fd, msg, flags);
    }
    int error = 0;
    SHIM_FINISH(shim_write_common(fd, entry, msg, msg->msg_iov, (int)msg->msg_iovlen, flags, &error), error);
}
