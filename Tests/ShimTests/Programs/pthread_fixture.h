// What the pthread fixtures share: a check that fails the program with its line, a sleep in milliseconds,
// a deadline in milliseconds, turns between two threads, and the process's OS-thread count.
#ifndef PTHREAD_FIXTURE_H
#define PTHREAD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CHECK(condition)                                                                                               \
    do {                                                                                                               \
        if (!(condition)) {                                                                                            \
            printf("FAILED line %d: %s\n", __LINE__, #condition);                                                      \
            fflush(stdout);                                                                                            \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

static inline void sleep_ms(int ms) {
    usleep((useconds_t)ms * 1000);
}

/// An absolute time `ms` milliseconds from now on `clock`.
static inline struct timespec in_ms(clockid_t clock, int ms) {
    struct timespec when;
    clock_gettime(clock, &when);
    when.tv_nsec += (long)ms * 1000000L;
    while (when.tv_nsec >= 1000000000L) {
        when.tv_sec++;
        when.tv_nsec -= 1000000000L;
    }
    return when;
}

// Two threads take turns through pipes (blocking reads: cooperative under gevent-run), so what each sees
// does not depend on how long the other took to get there. main creates the pipes.
__attribute__((unused)) static int turn_a[2], turn_b[2];

static inline void hand_over(int *turn) {
    CHECK(write(turn[1], "x", 1) == 1);
}

static inline void wait_for(int *turn) {
    char byte;
    CHECK(read(turn[0], &byte, 1) == 1);
}

/// The Threads: line of /proc/self/status, -1 if unreadable.
static inline int os_threads(void) {
    FILE *status = fopen("/proc/self/status", "r");
    char line[256];
    int threads = -1;
    while (status != NULL && fgets(line, sizeof(line), status) != NULL) {
        if (sscanf(line, "Threads: %d", &threads) == 1) {
            break;
        }
    }
    if (status != NULL) {
        fclose(status);
    }
    return threads;
}

#endif
