// swift-gevent example: an "unaware" C program. fetch() is plain blocking code (getaddrinfo, connect,
// write, read, usleep) that knows nothing of greenlets. main() runs the jobs in greenlets when the
// gevent.h functions are there (weak symbols: present under gevent-run, absent otherwise), else one
// after another. The same binary, unchanged, becomes concurrent under gevent-run. See README.md.
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../preload/include/gevent.h"

#pragma weak gevent_spawn
#pragma weak gevent_join

/// Fetches http://host:port/ with plain blocking calls, after 200 ms of "think time". Returns the number
/// of bytes received, or -1.
static long fetch(const char *host, const char *port) {
    usleep(200000);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *address = NULL;
    if (getaddrinfo(host, port, &hints, &address) != 0) {
        return -1;
    }
    int fd = socket(address->ai_family, address->ai_socktype, 0);
    if (fd < 0 || connect(fd, address->ai_addr, address->ai_addrlen) != 0) {
        freeaddrinfo(address);
        return -1;
    }
    freeaddrinfo(address);
    const char request[] = "GET / HTTP/1.0\r\n\r\n";
    if (write(fd, request, sizeof(request) - 1) < 0) {
        close(fd);
        return -1;
    }
    long total = 0;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        total += n;
    }
    close(fd);
    return total;
}

static const char *host, *port;

static void *job(void *index) {
    return (void *)fetch(host, port);
    (void)index;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [JOBS]\n", argv[0]);
        return 2;
    }
    host = argv[1];
    port = argv[2];
    int jobs = argc > 3 ? atoi(argv[3]) : 10;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long total = 0;
    if (gevent_spawn != NULL) {
        gevent_greenlet_t *greenlets[jobs];
        for (int i = 0; i < jobs; i++) {
            greenlets[i] = gevent_spawn(job, (void *)(long)i);
        }
        for (int i = 0; i < jobs; i++) {
            void *result = NULL;
            gevent_join(greenlets[i], &result);
            total += (long)result;
        }
    } else {
        for (int i = 0; i < jobs; i++) {
            total += (long)job((void *)(long)i);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
    printf("%d fetches, %ld bytes, %.0f ms (%s)\n", jobs, total, ms, gevent_spawn ? "greenlets" : "one by one");
    return 0;
}
