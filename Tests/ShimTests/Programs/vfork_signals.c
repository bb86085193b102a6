// swift-gevent test program: a vfork child that resets the handlers before it execs (what posix_spawn with
// POSIX_SPAWN_SETSIGDEF and Python's subprocess do) must not take the parent's handlers with it, though it
// runs in the parent's memory.
#define _GNU_SOURCE
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got;

static void on_hangup(int sig) {
    got = sig;
}

int main(void) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = on_hangup;
    sigaction(SIGHUP, &action, NULL);

    pid_t child = vfork();
    if (child == 0) {
        struct sigaction reset;
        memset(&reset, 0, sizeof(reset));
        reset.sa_handler = SIG_DFL;
        sigaction(SIGHUP, &reset, NULL);
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(child, &status, 0);

    sigset_t hangup;
    sigemptyset(&hangup);
    sigaddset(&hangup, SIGHUP);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setsigdefault(&attributes, &hangup);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"true", NULL};
    if (posix_spawn(&child, "/bin/true", NULL, &attributes, argv, NULL) == 0) {
        waitpid(child, &status, 0);
    }
    posix_spawnattr_destroy(&attributes);

    struct sigaction current;
    sigaction(SIGHUP, NULL, &current);
    kill(getpid(), SIGHUP);
    printf("handler kept=%d ran=%d\n", current.sa_handler == on_hangup, got == SIGHUP);
    return 0;
}
