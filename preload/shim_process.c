// swift-gevent: area `subprocess`: waitpid, wait, wait3, wait4 and waitid from a greenlet wait on the hub.
// The real call with WNOHANG answers first, so statuses, rusage, siginfo and errors (ECHILD, EINVAL) are the
// kernel's own; while nothing has changed, a call that names one child and asks only for its exit waits for
// a pidfd of it to become readable; any other (any child, a process group, stops and continues, which a
// pidfd does not report) probes again after cooperative sleeps of 1 ms doubling to 16 ms. A signal handler
// ends the wait with EINTR, or restarts it under SA_RESTART, as signal(7) says of these calls.
#include "shim.h"

#include <sys/resource.h>
#include <sys/wait.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

SHIM_REAL(wait4)
SHIM_REAL(waitid)

enum {
    FIRST_PAUSE_NS = 1000000,
    LONGEST_PAUSE_NS = 16000000,
};

/// A pidfd for `pid`, or -1 where the kernel has none (before 5.3) or the child is gone.
static int open_pidfd(pid_t pid) {
    int saved = errno;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    errno = saved;
    return fd;
}

static void close_pidfd(int fd) {
    int saved = errno;
    shim_fd_closing(fd);
    shim_sys_close(fd);
    errno = saved;
}

/// Waits until a probe may answer: `pidfd` readable (the child exited), or the next pause without one.
/// Returns GEVENT_SHIM_READY to probe again, SHIM_WAIT_RESTART, or how the wait ended.
static int wait_for_change(int pidfd, int64_t *pause_ns) {
    uint64_t mark = shim_signal_mark();
    int code;
    if (pidfd >= 0) {
        shim_fd_t *entry = shim_fd_entry(pidfd, true);
        code = shim_wait_fd(pidfd, entry ? atomic_load(&entry->generation) : 0, GEVENT_SHIM_READABLE, 0);
    } else {
        code = gevent_shim_wait_fds(NULL, 0, *pause_ns);
        if (code == GEVENT_SHIM_TIMED_OUT) {
            code = GEVENT_SHIM_READY;
        }
        *pause_ns = *pause_ns < LONGEST_PAUSE_NS ? *pause_ns * 2 : *pause_ns;
    }
    return shim_signal_outcome(code, mark);
}

/// What a wait code means for the caller: probe again (1), call the real blocking function (0), or fail
/// with errno set (-1).
static int after_wait(int code) {
    if (code == GEVENT_SHIM_READY || code == SHIM_WAIT_RESTART || code == GEVENT_SHIM_CLOSED) {
        return 1;
    }
    if (code == GEVENT_SHIM_CANNOT_WAIT) {
        return 0;
    }
    errno = shim_wait_errno(code);
    return -1;
}

static pid_t cooperative_wait4(pid_t pid, int *status, int options, struct rusage *usage) {
    int saved = errno;
    // Only exits reach a pidfd.
    bool exits_only = !(options & (WUNTRACED | WCONTINUED));
    int pidfd = -1;
    int64_t pause_ns = FIRST_PAUSE_NS;
    pid_t result;
    for (;;) {
        result = real_wait4()(pid, status, options | WNOHANG, usage);
        if (result != 0) {
            break; // a child changed state, or the kernel's error (ECHILD, EINVAL, EFAULT)
        }
        if (pidfd < 0 && pid > 0 && exits_only) {
            pidfd = open_pidfd(pid);
        }
        int next = after_wait(wait_for_change(pidfd, &pause_ns));
        if (next == 1) {
            continue;
        }
        result = next == 0 ? real_wait4()(pid, status, options, usage) : -1;
        saved = errno;
        break;
    }
    if (pidfd >= 0) {
        close_pidfd(pidfd);
    }
    if (result >= 0) {
        errno = saved;
    }
    return result;
}

static inline bool cooperative(int options) {
    return !(options & WNOHANG) && shim_enabled(GEVENT_SHIM_AREA_SUBPROCESS);
}

SHIM_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *usage) {
    if (SHIM_LIKELY(!cooperative(options))) {
        return real_wait4()(pid, status, options, usage);
    }
    return cooperative_wait4(pid, status, options, usage);
}

SHIM_EXPORT pid_t waitpid(pid_t pid, int *status, int options) {
    return wait4(pid, status, options, NULL);
}

SHIM_EXPORT pid_t wait(int *status) {
    return wait4(-1, status, 0, NULL);
}

SHIM_EXPORT pid_t wait3(int *status, int options, struct rusage *usage) {
    return wait4(-1, status, options, usage);
}

SHIM_EXPORT int waitid(idtype_t type, id_t id, siginfo_t *info, int options) {
    if (SHIM_LIKELY(!cooperative(options))) {
        return real_waitid()(type, id, info, options);
    }
    int saved = errno;
    // The kernel leaves si_pid 0 when WNOHANG finds nothing: the probe needs a siginfo to tell.
    siginfo_t scratch;
    siginfo_t *probe_info = info != NULL ? info : &scratch;
    bool exits_only = !(options & (WSTOPPED | WCONTINUED));
    int pidfd = -1;
    bool own_pidfd = false;
    if (exits_only && type == P_PIDFD) {
        pidfd = (int)id;
    }
    int64_t pause_ns = FIRST_PAUSE_NS;
    int result;
    for (;;) {
        probe_info->si_pid = 0;
        result = real_waitid()(type, id, probe_info, options | WNOHANG);
        if (result != 0 || probe_info->si_pid != 0) {
            break;
        }
        if (pidfd < 0 && exits_only && type == P_PID && (pid_t)id > 0) {
            pidfd = open_pidfd((pid_t)id);
            own_pidfd = pidfd >= 0;
        }
        int next = after_wait(wait_for_change(pidfd, &pause_ns));
        if (next == 1) {
            continue;
        }
        result = next == 0 ? real_waitid()(type, id, info, options) : -1;
        saved = errno;
        break;
    }
    if (own_pidfd) {
        close_pidfd(pidfd);
    }
    if (result >= 0) {
        errno = saved;
    }
    return result;
}
