// Condition variables as POSIX defines them, in a program whose stdout does not depend on scheduling:
// producers and consumers on a one-slot buffer, a broadcast to eight waiters, main waiting for its workers,
// timed waits on both clocks. Built with -DOLD_ABI (x86_64), every pthread_cond_* call binds to glibc's
// GLIBC_2.2.5 versions, as a binary linked before NPTL would.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "pthread_fixture.h"

#ifdef OLD_ABI
__asm__(".symver pthread_cond_init,pthread_cond_init@GLIBC_2.2.5");
__asm__(".symver pthread_cond_destroy,pthread_cond_destroy@GLIBC_2.2.5");
__asm__(".symver pthread_cond_wait,pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_timedwait,pthread_cond_timedwait@GLIBC_2.2.5");
__asm__(".symver pthread_cond_signal,pthread_cond_signal@GLIBC_2.2.5");
__asm__(".symver pthread_cond_broadcast,pthread_cond_broadcast@GLIBC_2.2.5");
#endif

// A one-slot buffer: producers wait for it to empty, consumers for it to fill.
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t slot_full;
static int slot, slot_used, consumed_sum, consumed_count;

static void *produce(void *argument) {
    int base = (int)(intptr_t)argument * 100;
    for (int i = 1; i <= 25; i++) {
        CHECK(pthread_mutex_lock(&slot_lock) == 0);
        while (slot_used) {
            CHECK(pthread_cond_wait(&slot_empty, &slot_lock) == 0);
        }
        slot = base + i;
        slot_used = 1;
        CHECK(pthread_cond_signal(&slot_full) == 0);
        CHECK(pthread_mutex_unlock(&slot_lock) == 0);
        if (i % 5 == 0) {
            sleep_ms(1);
        }
    }
    return NULL;
}

static void *consume(void *argument) {
    (void)argument;
    for (int i = 0; i < 25; i++) {
        CHECK(pthread_mutex_lock(&slot_lock) == 0);
        while (!slot_used) {
            CHECK(pthread_cond_wait(&slot_full, &slot_lock) == 0);
        }
        consumed_sum += slot;
        consumed_count++;
        slot_used = 0;
        CHECK(pthread_cond_signal(&slot_empty) == 0);
        CHECK(pthread_mutex_unlock(&slot_lock) == 0);
    }
    return NULL;
}

// Eight waiters for one broadcast; main then waits, on a condition variable, for all of them to finish.
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate = PTHREAD_COND_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static int gate_open, waiting, finished;

static void *wait_at_gate(void *argument) {
    (void)argument;
    CHECK(pthread_mutex_lock(&gate_lock) == 0);
    waiting++;
    while (!gate_open) {
        CHECK(pthread_cond_wait(&gate, &gate_lock) == 0);
    }
    finished++;
    CHECK(pthread_cond_signal(&all_done) == 0);
    CHECK(pthread_mutex_unlock(&gate_lock) == 0);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    pthread_condattr_t attributes;
    CHECK(pthread_condattr_init(&attributes) == 0);
    CHECK(pthread_cond_init(&slot_full, &attributes) == 0);
    pthread_condattr_destroy(&attributes);
    pthread_t threads[8];
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&threads[i], NULL, produce, (void *)(intptr_t)(i + 1)) == 0);
        CHECK(pthread_create(&threads[4 + i], NULL, consume, NULL) == 0);
    }
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    printf("4 producers, 4 consumers, one slot: %d items, sum %d\n", consumed_count, consumed_sum);

    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 8; i++) {
        pthread_t ignored;
        CHECK(pthread_create(&ignored, &detached, wait_at_gate, NULL) == 0);
    }
    pthread_attr_destroy(&detached);
    CHECK(pthread_mutex_lock(&gate_lock) == 0);
    while (waiting < 8) {
        CHECK(pthread_mutex_unlock(&gate_lock) == 0);
        sleep_ms(2);
        CHECK(pthread_mutex_lock(&gate_lock) == 0);
    }
    gate_open = 1;
    CHECK(pthread_cond_broadcast(&gate) == 0);
    while (finished < 8) {
        CHECK(pthread_cond_wait(&all_done, &gate_lock) == 0);
    }
    CHECK(pthread_mutex_unlock(&gate_lock) == 0);
    printf("one broadcast released %d waiters; main waited for them on a condition variable\n", finished);

    pthread_mutex_t lone_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t lone = PTHREAD_COND_INITIALIZER;
    CHECK(pthread_mutex_lock(&lone_lock) == 0);
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    printf("timedwait 10 ms, nobody signals: %s\n", strerror(pthread_cond_timedwait(&lone, &lone_lock, &soon)));
    CHECK(pthread_mutex_unlock(&lone_lock) == 0);
    CHECK(pthread_cond_destroy(&lone) == 0);

#ifndef OLD_ABI
    pthread_cond_t monotonic;
    CHECK(pthread_condattr_init(&attributes) == 0);
    CHECK(pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC) == 0);
    CHECK(pthread_cond_init(&monotonic, &attributes) == 0);
    pthread_condattr_destroy(&attributes);
    CHECK(pthread_mutex_lock(&lone_lock) == 0);
    struct timespec soon_monotonic = in_ms(CLOCK_MONOTONIC, 10);
    printf("timedwait on a CLOCK_MONOTONIC condition variable: %s\n",
           strerror(pthread_cond_timedwait(&monotonic, &lone_lock, &soon_monotonic)));
    soon_monotonic = in_ms(CLOCK_MONOTONIC, 10);
    printf("clockwait on CLOCK_MONOTONIC: %s\n",
           strerror(pthread_cond_clockwait(&monotonic, &lone_lock, CLOCK_MONOTONIC, &soon_monotonic)));
    printf("clockwait on a clock it cannot use: %s\n",
           strerror(pthread_cond_clockwait(&monotonic, &lone_lock, CLOCK_PROCESS_CPUTIME_ID, &soon_monotonic)));
    CHECK(pthread_mutex_unlock(&lone_lock) == 0);
    CHECK(pthread_cond_destroy(&monotonic) == 0);
#endif
    return 0;
}
