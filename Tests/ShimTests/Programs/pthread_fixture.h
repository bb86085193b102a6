// What the pthread fixtures share: a check that fails the program with its line, a sleep in milliseconds,
// and the process's OS-thread count.
#ifndef PTHREAD_FIXTURE_H
#define PTHREAD_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
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
