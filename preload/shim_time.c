// swift-gevent: the sleeps. glibc's sleep and usleep call its internal nanosleep, out of reach of a
// nanosleep hook, so each is interposed itself. A cooperative sleep that is interrupted (the greenlet is
// killed, a Timeout fires) ends early and reports success: the caller's loop goes on, and the kill or
// timeout reaches it at its next blocking call.
#include "shim.h"

/// Sleeps cooperatively; returns false when the caller must do the real sleep (no greenlet can wait here).
static bool cooperative_sleep(int64_t ns) {
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    return gevent_shim_sleep(ns) != GEVENT_SHIM_CANNOT_WAIT;
}

static int real_nanosleep_full(const struct timespec *req, struct timespec *rem) {
    return shim_sys_nanosleep(req, rem);
}

SHIM_EXPORT unsigned sleep(unsigned seconds) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) || !cooperative_sleep((int64_t)seconds * 1000000000LL)) {
        if (shim_real.sleep) {
            return shim_real.sleep(seconds);
        }
        struct timespec req = {seconds, 0}, rem = {0, 0};
        return real_nanosleep_full(&req, &rem) == 0 ? 0 : (unsigned)rem.tv_sec;
    }
    return 0;
}

SHIM_EXPORT int usleep(useconds_t microseconds) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) || !cooperative_sleep((int64_t)microseconds * 1000LL)) {
        if (shim_real.usleep) {
            return shim_real.usleep(microseconds);
        }
        struct timespec req = {microseconds / 1000000, (long)(microseconds % 1000000) * 1000L};
        return real_nanosleep_full(&req, NULL);
    }
    return 0;
}

static bool valid(const struct timespec *ts) {
    return ts != NULL && ts->tv_sec >= 0 && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L;
}

SHIM_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
    // Invalid arguments get the real call's EINVAL/EFAULT.
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_TIME)) || !valid(req) ||
        !cooperative_sleep((int64_t)req->tv_sec * 1000000000LL + req->tv_nsec)) {
        return real_nanosleep_full(req, rem);
    }
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
    int64_t ns = (int64_t)req->tv_sec * 1000000000LL + req->tv_nsec;
    if (flags & TIMER_ABSTIME) {
        struct timespec now;
        clock_gettime(clock, &now);
        ns -= (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
        if (ns <= 0) {
            return 0;
        }
    }
    if (!cooperative_sleep(ns)) {
        return shim_real.clock_nanosleep ? shim_real.clock_nanosleep(clock, flags, req, rem) : EINTR;
    }
    return 0;
}
