// swift-gevent: the sleeps. glibc's sleep and usleep call its internal nanosleep, out of reach of a
// nanosleep hook, so each is interposed itself. A cooperative sleep that is interrupted (the greenlet is
// killed, a Timeout fires) ends early and reports success: the caller's loop goes on, and the kill or
// timeout reaches it at its next blocking call.
#include "shim.h"

/// Sleeps cooperatively for `ns`. Returns GEVENT_SHIM_CANNOT_WAIT when the caller must do the real sleep (no
/// greenlet can wait here), GEVENT_SHIM_INTERRUPTED with the nanoseconds not slept in *left when a signal
/// handler ran (sleeps never restart, SA_RESTART or not), GEVENT_SHIM_READY otherwise.
static int cooperative_sleep(int64_t ns, int64_t *left) {
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    if (ns <= 0) {
        return gevent_shim_sleep(0) == GEVENT_SHIM_CANNOT_WAIT ? GEVENT_SHIM_CANNOT_WAIT : GEVENT_SHIM_READY;
    }
    int64_t deadline = shim_deadline(ns);
    uint64_t mark = shim_signal_mark();
    int code = shim_signal_outcome(gevent_shim_wait_fds(NULL, 0, ns), mark);
    if (code == GEVENT_SHIM_CANNOT_WAIT) {
        return code;
    }
    if (code == GEVENT_SHIM_INTERRUPTED || code == SHIM_WAIT_RESTART) {
        *left = shim_remaining(deadline);
        return GEVENT_SHIM_INTERRUPTED;
    }
    return GEVENT_SHIM_READY;
}

static int real_nanosleep_full(const struct timespec *req, struct timespec *rem) {
    return shim_sys_nanosleep(req, rem);
}

static struct timespec timespec_from_ns(int64_t ns) {
    return (struct timespec){(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
}

SHIM_EXPORT unsigned sleep(unsigned seconds) {
    int saved = errno;
    int64_t left = 0;
    int code = GEVENT_SHIM_CANNOT_WAIT;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) ||
        (code = cooperative_sleep((int64_t)seconds * 1000000000LL, &left)) == GEVENT_SHIM_CANNOT_WAIT) {
        if (shim_real.sleep) {
            return shim_real.sleep(seconds);
        }
        struct timespec req = {seconds, 0}, rem = {0, 0};
        return real_nanosleep_full(&req, &rem) == 0 ? 0 : (unsigned)rem.tv_sec;
    }
    if (code == GEVENT_SHIM_INTERRUPTED) {
        // glibc's sleep: the whole seconds not slept, errno EINTR from its nanosleep.
        errno = EINTR;
        return (unsigned)(left / 1000000000LL);
    }
    errno = saved;
    return 0;
}

SHIM_EXPORT int usleep(useconds_t microseconds) {
    int saved = errno;
    int64_t left = 0;
    int code = GEVENT_SHIM_CANNOT_WAIT;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) ||
        (code = cooperative_sleep((int64_t)microseconds * 1000LL, &left)) == GEVENT_SHIM_CANNOT_WAIT) {
        if (shim_real.usleep) {
            return shim_real.usleep(microseconds);
        }
        struct timespec req = {microseconds / 1000000, (long)(microseconds % 1000000) * 1000L};
        return real_nanosleep_full(&req, NULL);
    }
    if (code == GEVENT_SHIM_INTERRUPTED) {
        errno = EINTR;
        return -1;
    }
    errno = saved;
    return 0;
}

/// A request the shim can sleep for; anything else (a bad pointer included) gets the real call's EINVAL or
/// EFAULT.
static bool valid(const struct timespec *ts) {
    return shim_readable(ts, sizeof(*ts)) && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

SHIM_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
    // Invalid arguments get the real call's EINVAL/EFAULT.
    int saved = errno;
    int64_t left = 0;
    int code = GEVENT_SHIM_CANNOT_WAIT;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) || !valid(req) ||
        (code = cooperative_sleep(shim_timespec_ns(req), &left)) == GEVENT_SHIM_CANNOT_WAIT) {
        return real_nanosleep_full(req, rem);
    }
    if (code == GEVENT_SHIM_INTERRUPTED) {
        if (rem != NULL) {
            *rem = timespec_from_ns(left);
        }
        errno = EINTR;
        return -1;
    }
    errno = saved;
    return 0;
}

SHIM_EXPORT int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    bool supported =
        clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME || clock == CLOCK_TAI;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) || !supported || !valid(req)) {
        if (shim_real.clock_nanosleep) {
            return shim_real.clock_nanosleep(clock, flags, req, rem);
        }
        long result = syscall(SYS_clock_nanosleep, clock, flags, req, rem);
        return result < 0 ? errno : 0;
    }
    int64_t ns = shim_timespec_ns(req);
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        clock_gettime(clock, &now);
        int64_t now_ns = shim_timespec_ns(&now);
        if (ns <= now_ns) {
            return 0;
        }
        ns -= now_ns;
    }
    int64_t left = 0;
    int saved = errno;
    int code = cooperative_sleep(ns, &left);
    errno = saved;
    if (code == GEVENT_SHIM_CANNOT_WAIT) {
        return shim_real.clock_nanosleep ? shim_real.clock_nanosleep(clock, flags, req, rem) : EINTR;
    }
    if (code == GEVENT_SHIM_INTERRUPTED) {
        // An absolute sleep leaves *rem alone (the caller sleeps again until the same time).
        if (rem != NULL && !(flags & TIMER_ABSTIME)) {
            *rem = timespec_from_ns(left);
        }
        return EINTR;
    }
    return 0;
}
