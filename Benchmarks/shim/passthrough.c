// swift-gevent: cost of a pass-through read(2) on a pipe. Run the same binary with and without
// LD_PRELOAD=libGeventPreload.so (see run-passthrough.sh); the difference per call is the shim's cost.
// read(fd, buf, 0) on a pipe returns 0 at once: the least work a real read syscall does.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
    long iterations = argc > 1 ? atol(argv[1]) : 2000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    int fds[2];
    if (pipe(fds) != 0) {
        return 1;
    }
    char buffer[1];
    double best = 1e18;
    for (int round = 0; round < rounds; round++) {
        double start = now_ns();
        for (long i = 0; i < iterations; i++) {
            if (read(fds[0], buffer, 0) != 0) {
                return 2;
            }
        }
        double per_call = (now_ns() - start) / iterations;
        if (per_call < best) {
            best = per_call;
        }
    }
    printf("%.2f\n", best);
    return 0;
}
