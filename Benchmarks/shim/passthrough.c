// swift-gevent: cost of a pass-through read(2) on a pipe. Run the same binary with and without
// LD_PRELOAD=libGeventPreload.so (see run-passthrough.sh); the difference per call is the shim's cost.
// read(fd, buf, 0) on a pipe returns 0 at once: the least work a real read syscall does.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long iterations = 2000000;
static int rounds = 7;

static void *measure(void *unused) {
    (void)unused;
    int fds[2];
    if (pipe(fds) != 0) {
        exit(1);
    }
    char buffer[1];
    double best = 1e18;
    for (int round = 0; round < rounds; round++) {
        double start = now_ns();
        for (long i = 0; i < iterations; i++) {
            if (read(fds[0], buffer, 0) != 0) {
                exit(2);
            }
        }
        double per_call = (now_ns() - start) / iterations;
        if (per_call < best) {
            best = per_call;
        }
    }
    printf("%.2f\n", best);
    return NULL;
}

// With "greenlet" as the third argument and the preload library loaded, the loop runs in a greenlet:
// then every read takes the cooperative path (the fd is ready, so it never waits).
typedef struct gevent_greenlet gevent_greenlet_t;
#pragma weak gevent_spawn
#pragma weak gevent_join
gevent_greenlet_t *gevent_spawn(void *(*)(void *), void *);
int gevent_join(gevent_greenlet_t *, void **);

int main(int argc, char **argv) {
    iterations = argc > 1 ? atol(argv[1]) : iterations;
    rounds = argc > 2 ? atoi(argv[2]) : rounds;
    if (argc > 3 && strcmp(argv[3], "greenlet") == 0 && gevent_spawn != NULL) {
        return gevent_join(gevent_spawn(measure, NULL), NULL);
    }
    measure(NULL);
    return 0;
}
