// The pthread lifecycle as POSIX and glibc define it, in a program whose stdout does not depend on how its
// threads are scheduled: run plain and under gevent-run with `thread` patched, the outputs must be equal.
// stderr carries what differs on purpose: how many OS threads the process had while 16 of its threads slept
// (and one detached thread before them).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pthread_fixture.h"

// Joinable threads with values: they sleep different times and finish out of order.
static void *square(void *argument) {
    intptr_t n = (intptr_t)argument;
    sleep_ms((int)(n % 3) * 5);
    return (void *)(n * n);
}

// Keys: each thread's value is its own across sleeps, destructors run at exit, once per value.
static pthread_key_t key;
static atomic_int destructed;

static void destroy_value(void *value) {
    atomic_fetch_add(&destructed, 1);
    free(value);
}

static void *keeps_its_value(void *argument) {
    int *mine = malloc(sizeof(int));
    *mine = (int)(intptr_t)argument;
    CHECK(pthread_getspecific(key) == NULL);
    CHECK(pthread_setspecific(key, mine) == 0);
    sleep_ms(5);
    int *seen = pthread_getspecific(key);
    return (void *)(intptr_t)(seen == mine && *seen == (int)(intptr_t)argument);
}

// pthread_exit from a nested call runs the cleanup handlers, innermost first, then ends the thread.
static char cleanup_order[8];
static int cleanup_count;

static void note_cleanup(void *argument) {
    cleanup_order[cleanup_count++] = *(const char *)argument;
}

static void exit_from_deep_inside(void) {
    sleep_ms(2);
    pthread_exit((void *)42);
}

static void *exits_with_handlers(void *argument) {
    (void)argument;
    pthread_cleanup_push(note_cleanup, "a");
    pthread_cleanup_push(note_cleanup, "b");
    pthread_cleanup_push(note_cleanup, "c");
    pthread_cleanup_pop(1); // runs "c" now
    exit_from_deep_inside();
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

// Identity, attributes, names.
static pthread_t seen_self;

static void *reports_itself(void *argument) {
    size_t requested = (size_t)(uintptr_t)argument;
    seen_self = pthread_self();
    pthread_attr_t attributes;
    CHECK(pthread_getattr_np(pthread_self(), &attributes) == 0);
    void *address = NULL;
    size_t size = 0;
    CHECK(pthread_attr_getstack(&attributes, &address, &size) == 0);
    int local = 0;
    int detach_state = -1;
    pthread_attr_getdetachstate(&attributes, &detach_state);
    pthread_attr_destroy(&attributes);
    CHECK(size >= requested);
    CHECK((char *)&local >= (char *)address && (char *)&local < (char *)address + size);
    CHECK(detach_state == PTHREAD_CREATE_JOINABLE);
    CHECK(pthread_setname_np(pthread_self(), "worker-7") == 0);
    char name[16];
    CHECK(pthread_getname_np(pthread_self(), name, sizeof(name)) == 0);
    CHECK(strcmp(name, "worker-7") == 0);
    CHECK(pthread_getname_np(pthread_self(), name, 4) == ERANGE);
    CHECK(pthread_setname_np(pthread_self(), "a name longer than 15") == ERANGE);
    CHECK(pthread_join(pthread_self(), NULL) == EDEADLK);
    CHECK(pthread_kill(pthread_self(), 0) == 0);
    CHECK(sched_yield() == 0);
    return NULL;
}

static void *sleeps(void *argument) {
    sleep_ms((int)(intptr_t)argument);
    return argument;
}

// Detached threads report through a pipe; the last one outlives main, which ends with pthread_exit.
static int report_pipe[2];

static void *reports_through_pipe(void *argument) {
    char byte = (char)(intptr_t)argument;
    sleep_ms(3);
    CHECK(write(report_pipe[1], &byte, 1) == 1);
    return NULL;
}

static void *outlives_main(void *argument) {
    (void)argument;
    sleep_ms(30);
    printf("the last thread ends after main called pthread_exit\n");
    fflush(stdout);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    pthread_t threads[16];
    for (intptr_t i = 0; i < 16; i++) {
        CHECK(pthread_create(&threads[i], NULL, square, (void *)i) == 0);
    }
    long sum = 0;
    for (int i = 15; i >= 0; i--) {
        void *value = NULL;
        CHECK(pthread_join(threads[i], &value) == 0);
        sum += (long)(intptr_t)value;
    }
    printf("joined 16 values, sum of squares %ld\n", sum);

    CHECK(pthread_key_create(&key, destroy_value) == 0);
    for (intptr_t i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, keeps_its_value, (void *)(i + 100)) == 0);
    }
    int kept = 0;
    for (int i = 0; i < 8; i++) {
        void *value = NULL;
        CHECK(pthread_join(threads[i], &value) == 0);
        kept += (int)(intptr_t)value;
    }
    printf("8 threads kept their own key value: %d, destructors run: %d\n", kept, atomic_load(&destructed));
    CHECK(pthread_key_delete(key) == 0);

    pthread_t exiting;
    CHECK(pthread_create(&exiting, NULL, exits_with_handlers, NULL) == 0);
    void *exit_value = NULL;
    CHECK(pthread_join(exiting, &exit_value) == 0);
    printf("pthread_exit value %ld, cleanup handlers %.*s\n", (long)(intptr_t)exit_value, cleanup_count, cleanup_order);

    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    CHECK(pthread_attr_setstacksize(&attributes, 1u << 20) == 0);
    pthread_t reporter;
    CHECK(pthread_create(&reporter, &attributes, reports_itself, (void *)(uintptr_t)(1u << 20)) == 0);
    pthread_attr_destroy(&attributes);
    CHECK(pthread_join(reporter, NULL) == 0);
    printf("pthread_self in the thread is its handle: %s\n", pthread_equal(seen_self, reporter) ? "yes" : "no");
    printf("main is not that thread: %s\n", pthread_equal(pthread_self(), reporter) ? "no" : "yes");

    pthread_t slow;
    CHECK(pthread_create(&slow, NULL, sleeps, (void *)(intptr_t)500) == 0);
    printf("tryjoin of a running thread: %s\n", strerror(pthread_tryjoin_np(slow, NULL)));
    struct timespec soon;
    clock_gettime(CLOCK_REALTIME, &soon);
    soon.tv_nsec += 10 * 1000000L;
    if (soon.tv_nsec >= 1000000000L) {
        soon.tv_sec++;
        soon.tv_nsec -= 1000000000L;
    }
    printf("timedjoin for 10 ms: %s\n", strerror(pthread_timedjoin_np(slow, NULL, &soon)));
    printf("clockjoin on a clock it cannot use: %s\n",
           strerror(pthread_clockjoin_np(slow, NULL, CLOCK_PROCESS_CPUTIME_ID, &soon)));
    void *slow_value = NULL;
    CHECK(pthread_join(slow, &slow_value) == 0);
    printf("then join: %ld\n", (long)(intptr_t)slow_value);

    pthread_t detached;
    CHECK(pthread_create(&detached, NULL, sleeps, (void *)(intptr_t)300) == 0);
    CHECK(pthread_detach(detached) == 0);
    printf("detach twice: %s; join a detached thread: %s\n", strerror(pthread_detach(detached)),
           strerror(pthread_join(detached, NULL)));

    pthread_t sleepers[16];
    for (int i = 0; i < 16; i++) {
        CHECK(pthread_create(&sleepers[i], NULL, sleeps, (void *)(intptr_t)400) == 0);
    }
    sleep_ms(100);
    fprintf(stderr, "os-threads-while-16-sleep: %d\n", os_threads());
    for (int i = 0; i < 16; i++) {
        CHECK(pthread_join(sleepers[i], NULL) == 0);
    }
    printf("16 threads slept together\n");

    CHECK(pipe(report_pipe) == 0);
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    for (intptr_t i = 0; i < 10; i++) {
        pthread_t ignored;
        CHECK(pthread_create(&ignored, &attributes, reports_through_pipe, (void *)('a' + i)) == 0);
    }
    int letters = 0;
    char byte;
    while (letters < 10 && read(report_pipe[0], &byte, 1) == 1) {
        letters++;
    }
    printf("10 detached threads reported\n");

    pthread_t last;
    CHECK(pthread_create(&last, &attributes, outlives_main, NULL) == 0);
    pthread_attr_destroy(&attributes);
    printf("main calls pthread_exit\n");
    pthread_exit(NULL);
}
