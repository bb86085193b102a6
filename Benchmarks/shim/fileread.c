// swift-gevent benchmark: regular-file reads under the shim.
//   fileread cached FILE N      mean ns of a 4 KiB pread at pseudo-random cached offsets (from a greenlet
//                               when the preload library is loaded: the RWF_NOWAIT path)
//   fileread stall FILE         reads FILE cold (after POSIX_FADV_DONTNEED) in 1 MiB preads from a greenlet
//                               while a ticker greenlet sleeps 1 ms at a time; prints the read's duration
//                               and the ticker's longest gap (the hub's stall), both in ms
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct gevent_greenlet gevent_greenlet_t;
static gevent_greenlet_t *(*spawn)(void *(*)(void *), void *);
static int (*join)(gevent_greenlet_t *, void **);
static int (*green_sleep)(double);

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *path;
static long count;
static volatile int finished;
static int64_t longest_gap;
static int64_t read_took;

static void *cached(void *unused) {
    (void)unused;
    int fd = open(path, O_RDONLY);
    off_t size = lseek(fd, 0, SEEK_END);
    char buffer[4096];
    for (long i = 0; i < 2000; i++) { // warm the cache
        pread(fd, buffer, sizeof(buffer), (off_t)(i * 4096) % size);
    }
    uint64_t x = 88172645463325252ULL;
    int64_t start = now_ns();
    for (long i = 0; i < count; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (pread(fd, buffer, sizeof(buffer), (off_t)(x % (uint64_t)(size / 4096)) * 4096) != 4096) {
            abort();
        }
    }
    printf("%.1f\n", (double)(now_ns() - start) / (double)count);
    close(fd);
    return NULL;
}

static void *ticker(void *unused) {
    (void)unused;
    int64_t last = now_ns();
    do {
        green_sleep(0.001);
        int64_t t = now_ns();
        if (t - last > longest_gap) {
            longest_gap = t - last;
        }
        last = t;
    } while (!finished);
    return NULL;
}

static void *stall(void *unused) {
    (void)unused;
    int fd = open(path, O_RDONLY);
    char *buffer = malloc(1 << 20);
    int64_t start = now_ns();
    while (read(fd, buffer, 1 << 20) > 0) {
    }
    int64_t took = now_ns() - start;
    finished = 1;
    read_took = took;
    free(buffer);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: fileread cached FILE N | fileread stall FILE\n");
        return 2;
    }
    path = argv[2];
    count = argc > 3 ? atol(argv[3]) : 100000;
    spawn = dlsym(RTLD_DEFAULT, "gevent_spawn");
    join = dlsym(RTLD_DEFAULT, "gevent_join");
    green_sleep = dlsym(RTLD_DEFAULT, "gevent_sleep");
    void *(*body)(void *) = strcmp(argv[1], "stall") == 0 ? stall : cached;
    if (body == stall) {
        // Evicting takes a while itself: before the clock starts, outside the greenlets.
        int fd = open(path, O_RDONLY);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    if (spawn == NULL) {
        body(NULL);
        return 0;
    }
    gevent_greenlet_t *tick = body == stall ? spawn(ticker, NULL) : NULL;
    join(spawn(body, NULL), NULL);
    if (tick != NULL) {
        join(tick, NULL);
        printf("read %.1f ms, longest hub stall %.1f ms\n", read_took / 1e6, longest_gap / 1e6);
    }
    return 0;
}
