// pthread mutex rules as POSIX and glibc define them, where the holder sleeps inside the critical section
// (under gevent-run, a switch to another greenlet-thread of the same OS thread). stdout does not depend on
// scheduling: run plain and with `thread` patched, the outputs must be equal.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pthread_fixture.h"

// A counter whose increment sleeps while the mutex is held: lost updates unless the mutex excludes.
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static void *increment(void *argument) {
    (void)argument;
    for (int i = 0; i < 5; i++) {
        CHECK(pthread_mutex_lock(&counter_lock) == 0);
        int seen = counter;
        sleep_ms(1);
        counter = seen + 1;
        CHECK(pthread_mutex_unlock(&counter_lock) == 0);
    }
    return NULL;
}

// A recursive mutex excludes other threads while its owner holds it any number of times.
static pthread_mutex_t recursive = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int recursive_trylock_while_held = -1;
static int recursive_unlock_by_other = -1;

static void *holds_recursive(void *argument) {
    (void)argument;
    CHECK(pthread_mutex_lock(&recursive) == 0);
    CHECK(pthread_mutex_lock(&recursive) == 0);
    CHECK(pthread_mutex_trylock(&recursive) == 0);
    hand_over(turn_a);
    wait_for(turn_b);
    for (int i = 0; i < 3; i++) {
        CHECK(pthread_mutex_unlock(&recursive) == 0);
    }
    return NULL;
}

static void *tries_recursive(void *argument) {
    (void)argument;
    wait_for(turn_a);
    recursive_trylock_while_held = pthread_mutex_trylock(&recursive);
    recursive_unlock_by_other = pthread_mutex_unlock(&recursive);
    hand_over(turn_b);
    CHECK(pthread_mutex_lock(&recursive) == 0);
    CHECK(pthread_mutex_unlock(&recursive) == 0);
    return NULL;
}

// An errorcheck mutex: its owner relocking gets EDEADLK, another thread waits, a non-owner's unlock EPERM.
static pthread_mutex_t errorcheck = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static int errorcheck_relock = -1;
static int errorcheck_unlock_by_other = -1;
static int errorcheck_lock_by_other = -1;

static void *holds_errorcheck(void *argument) {
    (void)argument;
    CHECK(pthread_mutex_lock(&errorcheck) == 0);
    errorcheck_relock = pthread_mutex_lock(&errorcheck);
    hand_over(turn_a);
    sleep_ms(20);
    CHECK(pthread_mutex_unlock(&errorcheck) == 0);
    return NULL;
}

static void *waits_for_errorcheck(void *argument) {
    (void)argument;
    wait_for(turn_a);
    errorcheck_unlock_by_other = pthread_mutex_unlock(&errorcheck);
    errorcheck_lock_by_other = pthread_mutex_lock(&errorcheck);
    CHECK(pthread_mutex_unlock(&errorcheck) == 0);
    CHECK(pthread_mutex_unlock(&errorcheck) == EPERM);
    return NULL;
}

// Timed locks: a short wait for a held mutex times out, a long one gets it once released.
static pthread_mutex_t timed;
static int timed_short = -1, timed_long = -1, clock_short = -1, trylock_held = -1;

static void *holds_timed(void *argument) {
    (void)argument;
    CHECK(pthread_mutex_lock(&timed) == 0);
    hand_over(turn_a);
    wait_for(turn_b);
    CHECK(pthread_mutex_unlock(&timed) == 0);
    return NULL;
}

static void *waits_timed(void *argument) {
    (void)argument;
    wait_for(turn_a);
    trylock_held = pthread_mutex_trylock(&timed);
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    timed_short = pthread_mutex_timedlock(&timed, &soon);
    struct timespec soon_monotonic = in_ms(CLOCK_MONOTONIC, 10);
    clock_short = pthread_mutex_clocklock(&timed, CLOCK_MONOTONIC, &soon_monotonic);
    hand_over(turn_b);
    struct timespec later = in_ms(CLOCK_REALTIME, 5000);
    timed_long = pthread_mutex_timedlock(&timed, &later);
    if (timed_long == 0) {
        CHECK(pthread_mutex_unlock(&timed) == 0);
    }
    return NULL;
}

// pthread_once whose initialiser sleeps: every caller returns only once it has run, and it runs once.
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs, once_value;

static void initialize_once(void) {
    once_runs++;
    sleep_ms(20);
    once_value = 42;
}

static void *calls_once(void *argument) {
    (void)argument;
    CHECK(pthread_once(&once, initialize_once) == 0);
    return (void *)(intptr_t)(once_value == 42);
}

// A spin lock held across a sleep: the other thread spins until it is released.
static pthread_spinlock_t spin;
static int spin_order[2], spin_next;

static void *holds_spin(void *argument) {
    (void)argument;
    CHECK(pthread_spin_lock(&spin) == 0);
    hand_over(turn_a);
    wait_for(turn_b);
    sleep_ms(5);
    spin_order[spin_next++] = 1;
    CHECK(pthread_spin_unlock(&spin) == 0);
    return NULL;
}

static void *spins(void *argument) {
    (void)argument;
    wait_for(turn_a);
    CHECK(pthread_spin_trylock(&spin) == EBUSY);
    hand_over(turn_b);
    CHECK(pthread_spin_lock(&spin) == 0);
    spin_order[spin_next++] = 2;
    CHECK(pthread_spin_unlock(&spin) == 0);
    return NULL;
}

static void run_pair(void *(*first)(void *), void *(*second)(void *)) {
    pthread_t a, b;
    CHECK(pthread_create(&a, NULL, first, NULL) == 0);
    CHECK(pthread_create(&b, NULL, second, NULL) == 0);
    CHECK(pthread_join(a, NULL) == 0);
    CHECK(pthread_join(b, NULL) == 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    CHECK(pipe(turn_a) == 0 && pipe(turn_b) == 0);
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, increment, NULL) == 0);
    }
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    printf("8 threads x 5 increments that sleep under the mutex: %d\n", counter);

    run_pair(holds_recursive, tries_recursive);
    printf("recursive held 3 times by another thread: trylock %s, unlock %s\n", strerror(recursive_trylock_while_held),
           strerror(recursive_unlock_by_other));

    run_pair(holds_errorcheck, waits_for_errorcheck);
    printf("errorcheck: owner relocks %s; other thread unlocks %s, then locks %s\n", strerror(errorcheck_relock),
           strerror(errorcheck_unlock_by_other), strerror(errorcheck_lock_by_other));

    int saw_it = 0;
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, calls_once, NULL) == 0);
    }
    for (int i = 0; i < 8; i++) {
        void *value = NULL;
        CHECK(pthread_join(threads[i], &value) == 0);
        saw_it += (int)(intptr_t)value;
    }
    printf("pthread_once from 8 threads: the initialiser ran %d time(s), %d callers saw its result\n", once_runs,
           saw_it);

    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    pthread_mutexattr_settype(&attributes, PTHREAD_MUTEX_NORMAL);
    CHECK(pthread_mutex_init(&timed, &attributes) == 0);
    pthread_mutexattr_destroy(&attributes);
    run_pair(holds_timed, waits_timed);
    printf("held by another thread: trylock %s, timedlock 10 ms %s, clocklock 10 ms %s, timedlock 5 s %s\n",
           strerror(trylock_held), strerror(timed_short), strerror(clock_short), strerror(timed_long));
    CHECK(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE) == 0);
    run_pair(holds_spin, spins);
    printf("spin lock held across a sleep: taken by %d, then %d\n", spin_order[0], spin_order[1]);
    struct timespec bad = {0, -1};
    printf("timedlock of a free mutex with a bad time: %s\n", strerror(pthread_mutex_timedlock(&timed, &bad)));
    CHECK(pthread_mutex_unlock(&timed) == 0);
    CHECK(pthread_mutex_destroy(&timed) == 0);
    return 0;
}
