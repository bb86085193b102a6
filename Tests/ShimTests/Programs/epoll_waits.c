// epoll as the kernel defines it, for a program with an event loop of its own: a wait for a pipe another
// thread writes after a sleep, timeouts in all three forms, the errors (a bad epoll fd, maxevents 0, an
// unwritable event array), level-triggered readiness seen again, and a signal, which ends a wait with EINTR
// even under SA_RESTART. stdout does not depend on scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include "pthread_fixture.h"

static int pipe_fds[2];

static void *write_later(void *argument) {
    (void)argument;
    sleep_ms(50);
    CHECK(write(pipe_fds[1], "x", 1) == 1);
    return NULL;
}

static volatile sig_atomic_t alarms;

static void on_alarm(int signal_number) {
    (void)signal_number;
    alarms++;
}

int main(void) {
    CHECK(pipe(pipe_fds) == 0);
    int epfd = epoll_create1(EPOLL_CLOEXEC);
    CHECK(epfd >= 0);
    struct epoll_event watched = {.events = EPOLLIN, .data.u64 = 7};
    CHECK(epoll_ctl(epfd, EPOLL_CTL_ADD, pipe_fds[0], &watched) == 0);

    struct epoll_event events[4];
    CHECK(epoll_wait(epfd, events, 4, 30) == 0);
    CHECK(epoll_pwait(epfd, events, 4, 30, NULL) == 0);
    struct timespec short_wait = {0, 30 * 1000000L};
    CHECK(epoll_pwait2(epfd, events, 4, &short_wait, NULL) == 0);
    printf("nothing ready: 0 from epoll_wait, epoll_pwait and epoll_pwait2 after their timeouts\n");

    // The writer is another thread: under gevent-run with `thread`, a greenlet of this OS thread, which runs
    // only while this wait yields.
    pthread_t writer;
    CHECK(pthread_create(&writer, NULL, write_later, NULL) == 0);
    int ready = epoll_wait(epfd, events, 4, -1);
    printf("a pipe another thread writes: %d event(s), data %llu, EPOLLIN %s\n", ready,
           (unsigned long long)events[0].data.u64, (events[0].events & EPOLLIN) ? "set" : "clear");
    CHECK(pthread_join(writer, NULL) == 0);
    // Level-triggered: still readable until read.
    printf("before the read, seen again: %d; ", epoll_wait(epfd, events, 4, 1000));
    char byte;
    CHECK(read(pipe_fds[0], &byte, 1) == 1);
    printf("after it: %d\n", epoll_wait(epfd, events, 4, 20));

    errno = 0;
    int status = epoll_wait(pipe_fds[0], events, 4, 100);
    printf("a pipe as the epoll fd: %d %s\n", status, strerror(errno));
    status = epoll_wait(epfd, events, 0, 100);
    printf("maxevents 0: %d %s\n", status, strerror(errno));
    CHECK(write(pipe_fds[1], "y", 1) == 1);
    struct epoll_event *volatile nowhere = NULL;
    status = epoll_wait(epfd, nowhere, 4, 100);
    printf("an event array at NULL with an event ready: %d %s\n", status, strerror(errno));
    CHECK(read(pipe_fds[0], &byte, 1) == 1);

    struct sigaction action = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigemptyset(&action.sa_mask);
    CHECK(sigaction(SIGALRM, &action, NULL) == 0);
    struct itimerval once = {.it_value = {0, 50 * 1000}};
    CHECK(setitimer(ITIMER_REAL, &once, NULL) == 0);
    errno = 0;
    status = epoll_wait(epfd, events, 4, 5000);
    printf("a signal during the wait (SA_RESTART): %d %s, %d handler call(s)\n", status, strerror(errno), (int)alarms);
    return 0;
}
