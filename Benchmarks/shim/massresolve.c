// massresolve.c - COUNT getaddrinfo calls of generated names, all at once, from code that knows nothing of
// the resolver behind them (dns_mass_resolve.sh times it):
//   massresolve threads   PATTERN COUNT   one pthread per lookup, plain libc
//   massresolve greenlets PATTERN COUNT   one greenlet per lookup (gevent.h, found at run time, so the same
//                                         binary runs under gevent-run with either resolver)
// PATTERN has one %d for the index. Prints "names= resolved= failed= seconds= per_second=".
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *pattern;
static int resolved, failed;

static void *look_up(void *argument) {
    char name[256];
    snprintf(name, sizeof name, pattern, (int)(intptr_t)argument);
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
    struct addrinfo *result = NULL;
    int status = getaddrinfo(name, NULL, &hints, &result);
    if (status == 0) {
        freeaddrinfo(result);
    }
    __atomic_add_fetch(status == 0 ? &resolved : &failed, 1, __ATOMIC_RELAXED);
    return NULL;
}

static double now(void) {
    struct timespec time;
    clock_gettime(CLOCK_MONOTONIC, &time);
    return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s threads|greenlets PATTERN COUNT\n", argv[0]);
        return 2;
    }
    pattern = argv[2];
    int count = atoi(argv[3]);
    void **handles = calloc((size_t)count, sizeof *handles);
    double start = now();
    if (strcmp(argv[1], "threads") == 0) {
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setstacksize(&attributes, 256 * 1024);
        for (int i = 0; i < count; i++) {
            pthread_t *thread = malloc(sizeof *thread);
            if (pthread_create(thread, &attributes, look_up, (void *)(intptr_t)i) != 0) {
                perror("pthread_create");
                return 1;
            }
            handles[i] = thread;
        }
        for (int i = 0; i < count; i++) {
            pthread_join(*(pthread_t *)handles[i], NULL);
            free(handles[i]);
        }
    } else {
        void *(*spawn)(void *(*)(void *), void *) =
            (void *(*)(void *(*)(void *), void *))dlsym(RTLD_DEFAULT, "gevent_spawn");
        int (*join)(void *, void **) = (int (*)(void *, void **))dlsym(RTLD_DEFAULT, "gevent_join");
        if (spawn == NULL || join == NULL) {
            fprintf(stderr, "massresolve: gevent_spawn not found; run it under gevent-run\n");
            return 1;
        }
        for (int i = 0; i < count; i++) {
            handles[i] = spawn(look_up, (void *)(intptr_t)i);
        }
        for (int i = 0; i < count; i++) {
            join(handles[i], NULL);
        }
    }
    double seconds = now() - start;
    printf("names=%d resolved=%d failed=%d seconds=%.4f per_second=%d\n", count, resolved, failed, seconds,
           (int)(count / seconds));
    return failed == 0 ? 0 : 1;
}
