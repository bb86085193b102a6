// swift-gevent: creating, accepting, connecting, duplicating and closing fds, and the calls that change
// what the shadow table knows (O_NONBLOCK, socket timeouts). These keep the table right from every thread
// once it is in use; only accept and connect may wait.
#include "shim.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>

#ifndef SO_RCVTIMEO_NEW
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67
#endif
#ifndef SO_RCVTIMEO_OLD
#define SO_RCVTIMEO_OLD 20
#define SO_SNDTIMEO_OLD 21
#endif

static uint32_t socket_flags(int type) {
    uint32_t flags = SHIM_FD_POLLABLE | SHIM_FD_SOCKET;
    if ((type & 0xf) == SOCK_STREAM) {
        flags |= SHIM_FD_STREAM;
    }
    if (type & SOCK_NONBLOCK) {
        flags |= SHIM_FD_NONBLOCK;
    }
    return flags;
}

SHIM_EXPORT int socket(int domain, int type, int protocol) {
    int fd =
        shim_real.socket ? shim_real.socket(domain, type, protocol) : (int)syscall(SYS_socket, domain, type, protocol);
    if (fd >= 0) {
        shim_fd_created(fd, socket_flags(type), 0, 0);
    }
    return fd;
}

SHIM_EXPORT int socketpair(int domain, int type, int protocol, int fds[2]) {
    int result = shim_real.socketpair ? shim_real.socketpair(domain, type, protocol, fds)
                                      : (int)syscall(SYS_socketpair, domain, type, protocol, fds);
    if (result == 0) {
        shim_fd_created(fds[0], socket_flags(type), 0, 0);
        shim_fd_created(fds[1], socket_flags(type), 0, 0);
    }
    return result;
}

SHIM_EXPORT int pipe2(int fds[2], int flags) {
    int result = shim_real.pipe2 ? shim_real.pipe2(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);
    if (result == 0) {
        uint32_t kind = SHIM_FD_POLLABLE | SHIM_FD_STREAM | ((flags & O_NONBLOCK) ? SHIM_FD_NONBLOCK : 0);
        shim_fd_created(fds[0], kind, 0, 0);
        shim_fd_created(fds[1], kind, 0, 0);
    }
    return result;
}

SHIM_EXPORT int pipe(int fds[2]) {
    int result = shim_real.pipe ? shim_real.pipe(fds) : (int)syscall(SYS_pipe2, fds, 0);
    if (result == 0) {
        shim_fd_created(fds[0], SHIM_FD_POLLABLE | SHIM_FD_STREAM, 0, 0);
        shim_fd_created(fds[1], SHIM_FD_POLLABLE | SHIM_FD_STREAM, 0, 0);
    }
    return result;
}

static int real_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    if (flags == 0 && shim_real.accept) {
        return shim_real.accept(fd, addr, len);
    }
    return shim_real.accept4 ? shim_real.accept4(fd, addr, len, flags)
                             : (int)syscall(SYS_accept4, fd, addr, len, flags);
}

/// Records an accepted socket: the listener's kind and timeouts (Linux copies socket options to accepted
/// sockets) but not its O_NONBLOCK (a file flag, which accept does not inherit).
static void record_accepted(int listener, shim_fd_t *entry, int fd, int flags) {
    if (entry == NULL) {
        entry = shim_fd_entry(listener, false);
    }
    uint32_t kind = entry ? atomic_load(&entry->flags) : 0;
    if (!(kind & SHIM_FD_KNOWN)) {
        shim_fd_t *accepted = shim_fd_entry(fd, false);
        if (accepted != NULL) {
            atomic_fetch_add(&accepted->generation, 1);
            atomic_store(&accepted->flags, 0); // classified on first use
        }
        return;
    }
    uint32_t accepted_kind = SHIM_FD_POLLABLE | SHIM_FD_SOCKET | (kind & SHIM_FD_STREAM);
    if (flags & SOCK_NONBLOCK) {
        accepted_kind |= SHIM_FD_NONBLOCK;
    }
    shim_fd_created(fd, accepted_kind, atomic_load(&entry->receive_timeout_ns), atomic_load(&entry->send_timeout_ns));
}

static int cooperative_accept(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (entry = shim_fd_prepare(fd)) == NULL ||
        !(atomic_load(&entry->flags) & SHIM_FD_SOCKET)) {
        int accepted = real_accept4(fd, addr, len, flags);
        if (accepted >= 0) {
            record_accepted(fd, NULL, accepted, flags);
        }
        return accepted;
    }
    uint32_t generation = atomic_load(&entry->generation);
    int64_t deadline = shim_deadline(atomic_load(&entry->receive_timeout_ns));
    int saved = errno;
    for (;;) {
        // accept has no per-call non-blocking flag: ask poll first (a listener shared with another process
        // may still lose the race and block once, as it would have without us).
        struct pollfd probe = {fd, POLLIN, 0};
        if (shim_sys_poll(&probe, 1, 0) != 0) {
            int accepted = real_accept4(fd, addr, len, flags);
            if (accepted >= 0) {
                record_accepted(fd, entry, accepted, flags);
                errno = saved;
            }
            return accepted;
        }
        int code = shim_wait_fd(fd, generation, GEVENT_SHIM_READABLE, deadline);
        if (code == GEVENT_SHIM_CANNOT_WAIT) {
            return real_accept4(fd, addr, len, flags);
        }
        if (code == SHIM_WAIT_RESTART && atomic_load(&entry->receive_timeout_ns) == 0) {
            continue;
        }
        if (code != GEVENT_SHIM_READY) {
            errno = shim_wait_errno(code);
            return -1;
        }
    }
}

SHIM_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return cooperative_accept(fd, addr, len, 0);
}

SHIM_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    return cooperative_accept(fd, addr, len, flags);
}

static int real_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    return shim_real.connect ? shim_real.connect(fd, addr, len) : (int)syscall(SYS_connect, fd, addr, len);
}

/// One connect attempt that cannot block: O_NONBLOCK is set only for the duration of the call (connect has
/// no per-call flag; nothing else uses a socket that is being connected).
static int nonblocking_connect(int fd, const struct sockaddr *addr, socklen_t len, int *error) {
    int status = shim_sys_fcntl(fd, F_GETFL, NULL);
    if (status < 0) {
        *error = errno;
        return -1;
    }
    shim_sys_fcntl(fd, F_SETFL, (void *)(long)(status | O_NONBLOCK));
    int result = real_connect(fd, addr, len);
    *error = errno;
    shim_sys_fcntl(fd, F_SETFL, (void *)(long)status);
    return result;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (entry = shim_fd_prepare(fd)) == NULL ||
        !(atomic_load(&entry->flags) & SHIM_FD_SOCKET) || addr == NULL) {
        return real_connect(fd, addr, len);
    }
    uint32_t generation = atomic_load(&entry->generation);
    int64_t deadline = shim_deadline(atomic_load(&entry->send_timeout_ns));
    int64_t backoff_ns = 1000000;
    int saved = errno; // a connect that works leaves errno alone, EINPROGRESS on the way included
    for (;;) {
        int error = 0;
        if (nonblocking_connect(fd, addr, len, &error) == 0) {
            errno = saved;
            return 0;
        }
        if (error == EINPROGRESS) {
            int code;
            do {
                // A restarted connect goes on waiting for the same attempt.
                code = shim_wait_fd(fd, generation, GEVENT_SHIM_WRITABLE, deadline);
            } while (code == SHIM_WAIT_RESTART && atomic_load(&entry->send_timeout_ns) == 0);
            if (code == GEVENT_SHIM_CANNOT_WAIT) {
                struct pollfd wait_out = {fd, POLLOUT, 0};
                shim_sys_poll(&wait_out, 1, -1);
                code = GEVENT_SHIM_READY;
            }
            if (code == GEVENT_SHIM_READY) {
                int failure = 0;
                socklen_t length = sizeof(failure);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) != 0) {
                    return -1;
                }
                if (failure == 0) {
                    // The kernel marks the socket connected only when connect is called again after the
                    // handshake (it returns 0 then): without it, the program's next connect would also
                    // return 0 instead of EISCONN.
                    int ignored;
                    nonblocking_connect(fd, addr, len, &ignored);
                    errno = saved;
                    return 0;
                }
                errno = failure;
                return -1;
            }
            // socket(7): a connect that times out fails with EINPROGRESS (the attempt goes on).
            errno = code == GEVENT_SHIM_TIMED_OUT ? EINPROGRESS : shim_wait_errno(code);
            return -1;
        }
        if (error == EAGAIN && addr->sa_family == AF_UNIX) {
            // A full AF_UNIX backlog: nothing to poll for, so retry with a growing pause.
            int64_t left = shim_remaining(deadline);
            if (left == 0) {
                errno = EAGAIN;
                return -1;
            }
            int64_t pause = left > 0 && left < backoff_ns ? left : backoff_ns;
            if (gevent_shim_sleep(pause) == GEVENT_SHIM_CANNOT_WAIT) {
                return real_connect(fd, addr, len);
            }
            backoff_ns = backoff_ns < 50000000 ? backoff_ns * 2 : backoff_ns;
            continue;
        }
        errno = error;
        return -1;
    }
}

SHIM_EXPORT int close(int fd) {
    shim_fd_closing(fd);
    return shim_sys_close(fd);
}

SHIM_EXPORT int fclose(FILE *stream) {
    if (stream != NULL && atomic_load_explicit(&shim_tracking, memory_order_relaxed)) {
        int fd = fileno(stream);
        if (fd >= 0) {
            shim_fd_closing(fd);
        }
    }
    int (*real)(FILE *) = shim_real.fclose ? shim_real.fclose : (int (*)(FILE *))shim_resolve_late("fclose");
    return real(stream);
}

SHIM_EXPORT int dup(int fd) {
    int result = shim_real.dup ? shim_real.dup(fd) : (int)syscall(SYS_dup, fd);
    if (result >= 0) {
        shim_fd_duplicated(fd, result);
    }
    return result;
}

/// dup2/dup3 close `newfd` first: its waiters are woken with EBADF, but only if the call can succeed.
static void before_replacing(int oldfd, int newfd) {
    if (oldfd != newfd && atomic_load_explicit(&shim_tracking, memory_order_relaxed) &&
        shim_sys_fcntl(oldfd, F_GETFD, NULL) >= 0) {
        shim_fd_closing(newfd);
    }
}

SHIM_EXPORT int dup2(int oldfd, int newfd) {
    before_replacing(oldfd, newfd);
    int result = shim_real.dup2 ? shim_real.dup2(oldfd, newfd) : (int)syscall(SYS_dup3, oldfd, newfd, 0);
    if (result >= 0 && oldfd != newfd) {
        shim_fd_duplicated(oldfd, newfd);
    }
    return result;
}

SHIM_EXPORT int dup3(int oldfd, int newfd, int flags) {
    before_replacing(oldfd, newfd);
    int result = shim_real.dup3 ? shim_real.dup3(oldfd, newfd, flags) : (int)syscall(SYS_dup3, oldfd, newfd, flags);
    if (result >= 0) {
        shim_fd_duplicated(oldfd, newfd);
    }
    return result;
}

static int after_fcntl(int fd, int cmd, void *arg, int result) {
    if (result >= 0) {
        switch (cmd) {
        case F_SETFL:
            shim_fd_set_nonblocking(fd, ((long)arg & O_NONBLOCK) != 0);
            break;
        case F_DUPFD:
        case F_DUPFD_CLOEXEC:
            shim_fd_duplicated(fd, result);
            break;
        default:
            break;
        }
    }
    return result;
}

// The third argument's type depends on `cmd`; like glibc, pass it on as a pointer-sized value, which
// carries an int or a pointer alike on every ABI we support.
SHIM_EXPORT int fcntl(int fd, int cmd, ...) {
    va_list args;
    va_start(args, cmd);
    void *arg = va_arg(args, void *);
    va_end(args);
    return after_fcntl(fd, cmd, arg, shim_sys_fcntl(fd, cmd, arg));
}

SHIM_EXPORT int fcntl64(int fd, int cmd, ...) {
    va_list args;
    va_start(args, cmd);
    void *arg = va_arg(args, void *);
    va_end(args);
    int result = shim_real.fcntl64 ? shim_real.fcntl64(fd, cmd, arg) : shim_sys_fcntl(fd, cmd, arg);
    return after_fcntl(fd, cmd, arg, result);
}

SHIM_EXPORT int ioctl(int fd, unsigned long request, ...) {
    va_list args;
    va_start(args, request);
    void *arg = va_arg(args, void *);
    va_end(args);
    int result = shim_real.ioctl ? shim_real.ioctl(fd, request, arg) : (int)syscall(SYS_ioctl, fd, request, arg);
    if (result == 0 && request == FIONBIO && arg != NULL) {
        shim_fd_set_nonblocking(fd, *(const int *)arg != 0);
    }
    return result;
}

SHIM_EXPORT int setsockopt(int fd, int level, int option, const void *value, socklen_t length) {
    int result = shim_real.setsockopt ? shim_real.setsockopt(fd, level, option, value, length)
                                      : (int)syscall(SYS_setsockopt, fd, level, option, value, length);
    if (result == 0 && level == SOL_SOCKET && value != NULL && length >= sizeof(struct timeval) &&
        (option == SO_RCVTIMEO_OLD || option == SO_RCVTIMEO_NEW || option == SO_SNDTIMEO_OLD ||
         option == SO_SNDTIMEO_NEW)) {
        // On 64-bit Linux the _NEW option's struct has the same layout as struct timeval.
        int64_t ns = shim_timeval_ns(value);
        shim_fd_set_timeout(fd, option == SO_RCVTIMEO_OLD || option == SO_RCVTIMEO_NEW, ns);
    }
    return result;
}
