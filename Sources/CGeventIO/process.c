#include "CGeventIO.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

static int contains(const int *values, int count, int value) {
    for (int i = 0; i < count; i++) {
        if (values[i] == value)
            return 1;
    }
    return 0;
}

static int add_file_actions(posix_spawn_file_actions_t *actions, const int redirect[3], const int *keep, int keep_count,
                            int close_others, const char *directory) {
    int status = 0;
    for (int target = 0; target < 3 && status == 0; target++) {
        // dup2 onto the same number clears FD_CLOEXEC in the child (glibc 2.29+), so an inherited
        // standard descriptor survives the exec either way.
        if (redirect[target] >= 0)
            status = posix_spawn_file_actions_adddup2(actions, redirect[target], target);
    }
    int highest = 2;
    for (int i = 0; i < keep_count && status == 0; i++) {
        status = posix_spawn_file_actions_adddup2(actions, keep[i], keep[i]);
        if (keep[i] > highest)
            highest = keep[i];
    }
    if (close_others) {
        // closefrom only takes a lower bound: the numbers between the kept ones are closed one by one
        // (closing one that is not open is not an error in the child).
        for (int fd = 3; fd < highest && status == 0; fd++) {
            if (!contains(keep, keep_count, fd))
                status = posix_spawn_file_actions_addclose(actions, fd);
        }
        if (status == 0)
            status = posix_spawn_file_actions_addclosefrom_np(actions, highest + 1);
    }
    if (directory != NULL && status == 0)
        status = posix_spawn_file_actions_addchdir_np(actions, directory);
    return status;
}

int gevent_posix_spawn(int *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                       const int redirect[3], const int *keep, int keep_count, int close_others) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int status = posix_spawn_file_actions_init(&actions);
    if (status != 0)
        return status;
    status = posix_spawnattr_init(&attributes);
    if (status != 0) {
        posix_spawn_file_actions_destroy(&actions);
        return status;
    }
    status = add_file_actions(&actions, redirect, keep, keep_count, close_others, directory);
    if (status == 0) {
        // The child starts with no blocked signals (the parent's threads may block some) and with the
        // signals programs expect at their default (Python's restore_signals: a parent that ignores
        // SIGPIPE must not hand that to `yes | head`).
        sigset_t empty, defaults;
        sigemptyset(&empty);
        sigemptyset(&defaults);
        sigaddset(&defaults, SIGPIPE);
        sigaddset(&defaults, SIGXFSZ);
        status = posix_spawnattr_setsigmask(&attributes, &empty);
        if (status == 0)
            status = posix_spawnattr_setsigdefault(&attributes, &defaults);
        if (status == 0)
            status = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    }
    if (status == 0)
        status = posix_spawn(pid, path, &actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return status;
}

int gevent_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int gevent_pidfd_open(int pid) {
    return pidfd_open(pid, 0);
}

int gevent_pidfd_send_signal(int pidfd, int signal) {
    return pidfd_send_signal(pidfd, signal, NULL, 0);
}

int gevent_wait_pidfd(int pidfd, int no_hang, int *kind, int *value) {
    siginfo_t info;
    info.si_pid = 0;
    int result = waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED | (no_hang ? WNOHANG : 0));
    if (result != 0)
        return -1;
    if (info.si_pid == 0)
        return 0;
    *kind = info.si_code == CLD_EXITED ? 0 : info.si_code == CLD_DUMPED ? 2 : 1;
    *value = info.si_status;
    return 1;
}

long gevent_write_without_sigpipe(int fd, const void *bytes, unsigned long count) {
    sigset_t pipe_only, previous, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    int already_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    long written = write(fd, bytes, count);
    int saved = errno;
    if (written < 0 && saved == EPIPE && !already_pending) {
        // The SIGPIPE this write raised is pending on this thread, blocked: take it before unblocking.
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return written;
}
