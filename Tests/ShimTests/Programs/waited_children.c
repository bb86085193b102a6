// Waiting for children as POSIX defines it, from threads: 20 threads each fork a child that lives 300 ms and
// waitpid it (every exit code right; all done in about one child's life when the waits overlap), wait for
// any child while another thread runs, waitid by pid and by pidfd, wait4's rusage, stops reported with
// WUNTRACED, ECHILD, and a signal that ends a wait with EINTR or, under SA_RESTART, does not. stdout does
// not depend on scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "pthread_fixture.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum { CHILDREN = 20, CHILD_LIFE_MS = 300 };

static pid_t child_living(int ms, int code) {
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        usleep((useconds_t)ms * 1000);
        _exit(code);
    }
    return child;
}

static atomic_int right_codes;

static void *fork_and_wait(void *argument) {
    int index = (int)(long)argument;
    pid_t child = child_living(CHILD_LIFE_MS, 10 + index);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 10 + index) {
        atomic_fetch_add(&right_codes, 1);
    }
    return NULL;
}

static atomic_int ticks;

static void *tick(void *argument) {
    (void)argument;
    for (int i = 0; i < 5; i++) {
        sleep_ms(10);
        atomic_fetch_add(&ticks, 1);
    }
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int signal_number) {
    (void)signal_number;
    alarms++;
}

static void alarm_in_ms(int ms, int flags) {
    struct sigaction action = {.sa_handler = on_alarm, .sa_flags = flags};
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGALRM, &action, NULL) == 0);
    struct itimerval once = {.it_value = {0, ms * 1000}};
    CHECK(setitimer(ITIMER_REAL, &once, NULL) == 0);
}

int main(void) {
    struct timespec started, ended;
    clock_gettime(CLOCK_MONOTONIC, &started);
    pthread_t threads[CHILDREN];
    for (long i = 0; i < CHILDREN; i++) {
        CHECK(pthread_create(&threads[i], NULL, fork_and_wait, (void *)i) == 0);
    }
    for (int i = 0; i < CHILDREN; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &ended);
    long elapsed_ms = (ended.tv_sec - started.tv_sec) * 1000 + (ended.tv_nsec - started.tv_nsec) / 1000000;
    printf("%d threads each waiting for a child of %d ms: %d exit codes right\n", CHILDREN, CHILD_LIFE_MS,
           atomic_load(&right_codes));
    // Generous: waits one after another would take 20 lives.
    printf("the waits overlapped (under 5 lives): %s\n", elapsed_ms < 5 * CHILD_LIFE_MS ? "yes" : "no");
    fprintf(stderr, "elapsed %ld ms\n", elapsed_ms);

    pid_t any = child_living(300, 3);
    pthread_t ticker;
    CHECK(pthread_create(&ticker, NULL, tick, NULL) == 0);
    int status;
    pid_t reaped = wait(&status);
    int ticks_seen = atomic_load(&ticks);
    CHECK(pthread_join(ticker, NULL) == 0);
    printf("wait for any child: the child %s, status %d; another thread ticked %d of 5 times meanwhile\n",
           reaped == any ? "reaped" : "missed", WEXITSTATUS(status), ticks_seen);

    pid_t by_pid = child_living(30, 4);
    siginfo_t info;
    memset(&info, 0, sizeof(info));
    CHECK(waitid(P_PID, (id_t)by_pid, &info, WEXITED) == 0);
    printf("waitid P_PID: si_pid %s, si_code %s, si_status %d\n", info.si_pid == by_pid ? "right" : "wrong",
           info.si_code == CLD_EXITED ? "CLD_EXITED" : "other", info.si_status);
    pid_t by_pidfd = child_living(30, 5);
    int pidfd = (int)syscall(SYS_pidfd_open, by_pidfd, 0);
    CHECK(pidfd >= 0);
    memset(&info, 0, sizeof(info));
    CHECK(waitid(P_PIDFD, (id_t)pidfd, &info, WEXITED) == 0);
    close(pidfd);
    printf("waitid P_PIDFD: si_pid %s, si_status %d\n", info.si_pid == by_pidfd ? "right" : "wrong", info.si_status);

    pid_t busy = fork();
    CHECK(busy >= 0);
    if (busy == 0) {
        // Some CPU time for rusage to report.
        volatile unsigned long spin = 0;
        struct timespec begun, now;
        clock_gettime(CLOCK_MONOTONIC, &begun);
        do {
            for (int i = 0; i < 100000; i++) {
                spin += (unsigned long)i;
            }
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while ((now.tv_sec - begun.tv_sec) * 1000 + (now.tv_nsec - begun.tv_nsec) / 1000000 < 50);
        _exit(6);
    }
    struct rusage usage;
    CHECK(wait4(busy, &status, 0, &usage) == busy);
    printf("wait4: status %d, user CPU reported %s\n", WEXITSTATUS(status),
           usage.ru_utime.tv_sec > 0 || usage.ru_utime.tv_usec > 0 ? "yes" : "no");

    pid_t stopped = child_living(5000, 0);
    CHECK(kill(stopped, SIGSTOP) == 0);
    CHECK(waitpid(stopped, &status, WUNTRACED) == stopped);
    printf("WUNTRACED: stopped by %s\n", WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP ? "SIGSTOP" : "?");
    CHECK(kill(stopped, SIGKILL) == 0);
    CHECK(waitpid(stopped, &status, 0) == stopped);
    printf("then killed: %s\n", WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? "SIGKILL" : "?");

    errno = 0;
    pid_t none = waitpid(-1, &status, 0);
    printf("no children left: %d %s\n", (int)none, strerror(errno));

    pid_t slow = child_living(400, 7);
    alarm_in_ms(50, 0);
    errno = 0;
    pid_t interrupted = waitpid(slow, &status, 0);
    printf("a signal without SA_RESTART: %d %s, %d handler call(s)\n", (int)interrupted, strerror(errno), (int)alarms);
    alarm_in_ms(50, SA_RESTART);
    pid_t restarted = waitpid(slow, &status, 0);
    printf("with SA_RESTART: the wait went on to the exit (%s, status %d), %d handler call(s)\n",
           restarted == slow ? "reaped" : "failed", WEXITSTATUS(status), (int)alarms);
    return 0;
}
