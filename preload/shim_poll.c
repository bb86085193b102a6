// swift-gevent: poll, ppoll, select, pselect, epoll_wait, epoll_pwait, epoll_pwait2. The real call with a
// zero timeout answers first (so results, revents and errors are libc's own); only when nothing is ready
// does the greenlet wait on the hub for any of the fds (for epoll: the epoll fd, readable while it has
// events to report), then asks the real call again. Event loops of their own (libev, libevent, asyncio,
// Python gevent) wait in epoll: waiting cooperatively there lets greenlet-threads run meanwhile.
#include "shim.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

/// How long one wait may last when some fd asks only for conditions libev cannot watch (POLLPRI alone, or
/// no events: only POLLHUP/POLLERR): those are re-polled at this interval instead.
#define SHIM_POLL_SLICE_NS (10 * 1000000LL)

static int events_for(short requested) {
    int events = 0;
    if (requested & (POLLIN | POLLRDNORM | POLLRDBAND)) {
        events |= GEVENT_SHIM_READABLE;
    }
    if (requested & (POLLOUT | POLLWRNORM | POLLWRBAND)) {
        events |= GEVENT_SHIM_WRITABLE;
    }
    return events;
}

SHIM_HIDDEN int shim_wait_pollfds(const struct pollfd *fds, nfds_t n, int64_t deadline_ns) {
    gevent_shim_wait_item stack_items[16];
    gevent_shim_wait_item *items = stack_items;
    if (n > 16) {
        items = malloc(sizeof(gevent_shim_wait_item) * n);
        if (items == NULL) {
            return GEVENT_SHIM_CANNOT_WAIT;
        }
    }
    int count = 0;
    bool sliced = false;
    for (nfds_t i = 0; i < n; i++) {
        int fd = fds[i].fd;
        if (fd < 0) {
            continue; // poll ignores negative fds
        }
        int events = events_for(fds[i].events);
        if (events == 0) {
            sliced = true;
            continue;
        }
        int existing = -1;
        for (int j = 0; n <= 64 && j < count; j++) { // merge duplicates (curl polls one fd twice)
            if (items[j].fd == fd) {
                existing = j;
                break;
            }
        }
        if (existing >= 0) {
            items[existing].events |= events;
            continue;
        }
        shim_fd_t *entry = shim_fd_entry(fd, true);
        items[count].fd = fd;
        items[count].events = events;
        items[count].generation = entry ? atomic_load(&entry->generation) : 0;
        count++;
    }
    int64_t timeout = shim_remaining(deadline_ns);
    if (sliced && (timeout < 0 || timeout > SHIM_POLL_SLICE_NS)) {
        timeout = SHIM_POLL_SLICE_NS;
    }
    uint64_t mark = shim_signal_mark();
    // poll and select never restart (signal(7)): SHIM_WAIT_RESTART ends them with EINTR too.
    int code =
        timeout == 0 ? GEVENT_SHIM_TIMED_OUT : shim_signal_outcome(gevent_shim_wait_fds(items, count, timeout), mark);
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    if (items != stack_items) {
        free(items);
    }
    return code;
}

/// The cooperative poll: probe, wait, probe again, until something is ready or the deadline passes.
/// `sigmask` applies to the probes only (a parked greenlet cannot block signals atomically).
static int cooperative_poll(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *sigmask) {
    const struct timespec zero = {0, 0};
    int64_t deadline = timeout_ns < 0 ? 0 : shim_deadline(timeout_ns > 0 ? timeout_ns : -1);
    for (;;) {
        int ready = shim_sys_ppoll(fds, n, &zero, sigmask);
        if (ready != 0) {
            return ready; // ready fds, or the real call's error with its errno
        }
        if (deadline != 0 && shim_remaining(deadline) == 0) {
            return 0;
        }
        int code = shim_wait_pollfds(fds, n, deadline);
        switch (code) {
        case GEVENT_SHIM_READY:
        case GEVENT_SHIM_CLOSED: // the probe reports POLLNVAL for a closed fd
        case GEVENT_SHIM_TIMED_OUT:
            continue;
        case GEVENT_SHIM_CANNOT_WAIT: {
            int64_t left = shim_remaining(deadline);
            struct timespec ts = {left / 1000000000LL, left % 1000000000LL};
            return shim_sys_ppoll(fds, n, left < 0 ? NULL : &ts, sigmask);
        }
        default: {
            int error = shim_wait_errno(code);
            errno = error;
            return -1;
        }
        }
    }
}

/// cooperative_poll, leaving errno as the caller had it when it succeeds (as libc does).
static int cooperative_poll_keeping_errno(struct pollfd *fds, nfds_t n, int64_t timeout_ns, const sigset_t *sigmask) {
    int saved = errno;
    int result = cooperative_poll(fds, n, timeout_ns, sigmask);
    if (result >= 0) {
        errno = saved;
    }
    return result;
}

SHIM_EXPORT int poll(struct pollfd *fds, nfds_t n, int timeout) {
    if (SHIM_LIKELY(timeout == 0 || !shim_enabled(GEVENT_SHIM_AREA_SELECT))) {
        return shim_sys_poll(fds, n, timeout);
    }
    return cooperative_poll_keeping_errno(fds, n, timeout < 0 ? -1 : (int64_t)timeout * 1000000LL, NULL);
}

SHIM_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen) {
    if (fdslen / sizeof(*fds) < n && shim_real.poll_chk != NULL) {
        return shim_real.poll_chk(fds, n, timeout, fdslen); // reports the overflow and aborts
    }
    return poll(fds, n, timeout);
}

static bool valid_timespec(const struct timespec *ts) {
    return ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

SHIM_EXPORT int ppoll(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *sigmask) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SELECT)) ||
        (timeout != NULL && (!shim_readable(timeout, sizeof(*timeout)) || !valid_timespec(timeout) ||
                             (timeout->tv_sec == 0 && timeout->tv_nsec == 0)))) {
        return shim_sys_ppoll(fds, n, timeout, sigmask);
    }
    int64_t ns = timeout ? shim_timespec_ns(timeout) : -1;
    return cooperative_poll_keeping_errno(fds, n, ns, sigmask);
}

SHIM_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *timeout, const sigset_t *sigmask,
                            size_t fdslen) {
    if (fdslen / sizeof(*fds) < n && shim_real.ppoll_chk != NULL) {
        return shim_real.ppoll_chk(fds, n, timeout, sigmask, fdslen);
    }
    return ppoll(fds, n, timeout, sigmask);
}

// MARK: - select

typedef int (*select_probe)(int nfds, fd_set *r, fd_set *w, fd_set *e, const sigset_t *sigmask);

static int probe_select(int nfds, fd_set *r, fd_set *w, fd_set *e, const sigset_t *sigmask) {
    (void)sigmask;
    struct timeval zero = {0, 0};
    return shim_real.select ? shim_real.select(nfds, r, w, e, &zero)
                            : (int)syscall(SYS_pselect6, nfds, r, w, e, &(struct timespec){0, 0}, NULL);
}

/// pselect through the real function, or the raw syscall (which may change a copy of the timeout).
static int real_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const struct timespec *timeout,
                        const sigset_t *sigmask) {
    if (shim_real.pselect) {
        return shim_real.pselect(nfds, r, w, e, timeout, sigmask);
    }
    struct timespec copy = timeout ? *timeout : (struct timespec){0, 0};
    struct {
        const sigset_t *mask;
        size_t size;
    } data = {sigmask, _NSIG / 8};
    return (int)syscall(SYS_pselect6, nfds, r, w, e, timeout ? &copy : NULL, sigmask ? &data : NULL);
}

static int probe_pselect(int nfds, fd_set *r, fd_set *w, fd_set *e, const sigset_t *sigmask) {
    const struct timespec zero = {0, 0};
    return real_pselect(nfds, r, w, e, &zero, sigmask);
}

/// Whether the sets' first nfds bits can be read (the kernel reads that much, in whole longs): a bad
/// pointer gets the real call's EFAULT.
static bool sets_readable(int nfds, fd_set *r, fd_set *w, fd_set *e) {
    size_t bytes = (size_t)((nfds + 63) / 64) * 8;
    return (r == NULL || shim_readable(r, bytes)) && (w == NULL || shim_readable(w, bytes)) &&
           (e == NULL || shim_readable(e, bytes));
}

/// select/pselect on top of the poll machinery: probe with the real call (on copies, so the caller's sets
/// change only once, as the kernel would change them), wait for the fds of the original sets, repeat.
static int cooperative_select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, int64_t timeout_ns,
                              const sigset_t *sigmask, select_probe probe, int64_t *left_ns) {
    int entry_errno = errno;
    fd_set original[3], working[3];
    fd_set *sets[3] = {readfds, writefds, exceptfds};
    // Only the bytes the kernel would touch: a caller's set may be shorter than an fd_set.
    size_t bytes = (size_t)((nfds + 63) / 64) * 8;
    for (int k = 0; k < 3; k++) {
        if (sets[k]) {
            FD_ZERO(&original[k]);
            memcpy(&original[k], sets[k], bytes);
        }
    }
    int64_t deadline = timeout_ns < 0 ? 0 : shim_deadline(timeout_ns > 0 ? timeout_ns : -1);
    struct pollfd stack_fds[64];
    struct pollfd *fds = nfds <= 64 ? stack_fds : malloc(sizeof(struct pollfd) * (size_t)nfds);
    if (fds == NULL) {
        errno = ENOMEM;
        return -1;
    }
    nfds_t count = 0;
    for (int fd = 0; fd < nfds; fd++) {
        short events = 0;
        if (readfds && FD_ISSET(fd, &original[0])) {
            events |= POLLIN;
        }
        if (writefds && FD_ISSET(fd, &original[1])) {
            events |= POLLOUT;
        }
        if (exceptfds && FD_ISSET(fd, &original[2])) {
            events |= POLLPRI;
        }
        if (events != 0) {
            fds[count].fd = fd;
            fds[count].events = events;
            fds[count].revents = 0;
            count++;
        }
    }
    int result;
    for (;;) {
        for (int k = 0; k < 3; k++) {
            if (sets[k]) {
                working[k] = original[k];
            }
        }
        result = probe(nfds, readfds ? &working[0] : NULL, writefds ? &working[1] : NULL,
                       exceptfds ? &working[2] : NULL, sigmask);
        if (result != 0 || (deadline != 0 && shim_remaining(deadline) == 0)) {
            break;
        }
        int code = shim_wait_pollfds(fds, count, deadline);
        if (code == GEVENT_SHIM_READY || code == GEVENT_SHIM_CLOSED || code == GEVENT_SHIM_TIMED_OUT) {
            continue;
        }
        if (code == GEVENT_SHIM_CANNOT_WAIT) {
            // Should not happen (shim_enabled checked we are not the hub); report rather than block.
            code = GEVENT_SHIM_CANCELLED;
        }
        if (fds != stack_fds) {
            free(fds);
        }
        errno = shim_wait_errno(code);
        return -1;
    }
    int saved = result >= 0 ? entry_errno : errno;
    if (fds != stack_fds) {
        free(fds);
    }
    if (result >= 0) {
        for (int k = 0; k < 3; k++) {
            if (sets[k]) {
                memcpy(sets[k], &working[k], bytes);
            }
        }
    }
    if (left_ns != NULL) {
        *left_ns = deadline == 0 ? -1 : shim_remaining(deadline);
    }
    errno = saved;
    return result;
}

SHIM_EXPORT int select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SELECT)) || nfds < 0 || nfds > FD_SETSIZE ||
        !sets_readable(nfds, readfds, writefds, exceptfds) ||
        (timeout != NULL && (!shim_readable(timeout, sizeof(*timeout)) || timeout->tv_sec < 0 || timeout->tv_usec < 0 ||
                             timeout->tv_usec >= 1000000 || (timeout->tv_sec == 0 && timeout->tv_usec == 0)))) {
        if (shim_real.select) {
            return shim_real.select(nfds, readfds, writefds, exceptfds, timeout);
        }
        // pselect6 exists on every architecture (select does not on aarch64); it does not report the
        // time left, which only this pre-constructor fallback loses.
        struct timespec ts =
            timeout ? (struct timespec){timeout->tv_sec, timeout->tv_usec * 1000L} : (struct timespec){0, 0};
        return (int)syscall(SYS_pselect6, nfds, readfds, writefds, exceptfds, timeout ? &ts : NULL, NULL);
    }
    int64_t ns = timeout ? shim_timeval_ns(timeout) : -1;
    int64_t left = -1;
    int result = cooperative_select(nfds, readfds, writefds, exceptfds, ns, NULL, probe_select, &left);
    if (timeout != NULL && result >= 0) {
        // Linux's select reports the time not slept.
        int saved = errno;
        timeout->tv_sec = left > 0 ? left / 1000000000LL : 0;
        timeout->tv_usec = left > 0 ? (left % 1000000000LL) / 1000 : 0;
        errno = saved;
    }
    return result;
}

SHIM_EXPORT int pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, const struct timespec *timeout,
                        const sigset_t *sigmask) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SELECT)) || nfds < 0 || nfds > FD_SETSIZE ||
        !sets_readable(nfds, readfds, writefds, exceptfds) ||
        (timeout != NULL && (!shim_readable(timeout, sizeof(*timeout)) || !valid_timespec(timeout) ||
                             (timeout->tv_sec == 0 && timeout->tv_nsec == 0)))) {
        return real_pselect(nfds, readfds, writefds, exceptfds, timeout, sigmask);
    }
    int64_t ns = timeout ? shim_timespec_ns(timeout) : -1;
    return cooperative_select(nfds, readfds, writefds, exceptfds, ns, sigmask, probe_pselect, NULL);
}

// MARK: - epoll

SHIM_REAL(epoll_pwait)
SHIM_REAL(epoll_pwait2)

/// epoll_pwait2 through libc (glibc 2.35) or the syscall, which has no libc wrapper before it.
static int call_epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *timeout,
                             const sigset_t *sigmask) {
    __typeof__(epoll_pwait2) *function = real_epoll_pwait2();
    if (function != NULL) {
        return function(epfd, events, maxevents, timeout, sigmask);
    }
    return (int)syscall(SYS_epoll_pwait2, epfd, events, maxevents, timeout, sigmask, (size_t)(_NSIG / 8));
}

/// The cooperative epoll wait: probe, wait for the epoll fd, probe again. `sigmask` applies to the probes
/// only, as for ppoll.
static int cooperative_epoll(int epfd, struct epoll_event *events, int maxevents, int64_t timeout_ns,
                             const sigset_t *sigmask) {
    const struct timespec zero = {0, 0};
    int saved = errno;
    int64_t deadline = timeout_ns < 0 ? 0 : shim_deadline(timeout_ns > 0 ? timeout_ns : -1);
    struct pollfd watched = {.fd = epfd, .events = POLLIN};
    for (;;) {
        int ready = call_epoll_pwait2(epfd, events, maxevents, &zero, sigmask);
        if (ready != 0) {
            if (ready > 0) {
                errno = saved;
            }
            return ready; // events, or the real call's error (EBADF, EINVAL, EFAULT) with its errno
        }
        if (deadline != 0 && shim_remaining(deadline) == 0) {
            errno = saved;
            return 0;
        }
        int code = shim_wait_pollfds(&watched, 1, deadline);
        switch (code) {
        case GEVENT_SHIM_READY:
        case GEVENT_SHIM_CLOSED:
        case GEVENT_SHIM_TIMED_OUT:
            continue;
        case GEVENT_SHIM_CANNOT_WAIT: {
            int64_t left = shim_remaining(deadline);
            struct timespec ts = {left / 1000000000LL, left % 1000000000LL};
            return call_epoll_pwait2(epfd, events, maxevents, left < 0 ? NULL : &ts, sigmask);
        }
        default:
            errno = shim_wait_errno(code);
            return -1;
        }
    }
}

SHIM_EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    if (SHIM_LIKELY(timeout == 0 || !shim_enabled(GEVENT_SHIM_AREA_SELECT))) {
        return real_epoll_pwait()(epfd, events, maxevents, timeout, NULL);
    }
    return cooperative_epoll(epfd, events, maxevents, timeout < 0 ? -1 : (int64_t)timeout * 1000000LL, NULL);
}

SHIM_EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout, const sigset_t *sigmask) {
    if (SHIM_LIKELY(timeout == 0 || !shim_enabled(GEVENT_SHIM_AREA_SELECT))) {
        return real_epoll_pwait()(epfd, events, maxevents, timeout, sigmask);
    }
    return cooperative_epoll(epfd, events, maxevents, timeout < 0 ? -1 : (int64_t)timeout * 1000000LL, sigmask);
}

SHIM_EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents, const struct timespec *timeout,
                             const sigset_t *sigmask) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SELECT)) ||
        (timeout != NULL && (!shim_readable(timeout, sizeof(*timeout)) || !valid_timespec(timeout) ||
                             (timeout->tv_sec == 0 && timeout->tv_nsec == 0)))) {
        return call_epoll_pwait2(epfd, events, maxevents, timeout, sigmask);
    }
    return cooperative_epoll(epfd, events, maxevents, timeout ? shim_timespec_ns(timeout) : -1, sigmask);
}
