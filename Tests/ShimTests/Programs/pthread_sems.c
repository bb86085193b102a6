// Unnamed process-private semaphores as POSIX defines them, between threads that sleep while they hold a
// token: a semaphore as a lock, as a counter of items, and timed waits on both clocks. stdout does not
// depend on scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "pthread_fixture.h"

// A semaphore of one as a lock held across a sleep: lost updates unless it excludes.
static sem_t lock;
static int counter;

static void *increment(void *argument) {
    (void)argument;
    for (int i = 0; i < 5; i++) {
        CHECK(sem_wait(&lock) == 0);
        int seen = counter;
        sleep_ms(1);
        counter = seen + 1;
        CHECK(sem_post(&lock) == 0);
    }
    return NULL;
}

// Items counted by a semaphore: each consumer waits for the producer's posts.
static sem_t items;
static int taken;
static sem_t taken_lock;

static void *consume(void *argument) {
    (void)argument;
    for (int i = 0; i < 10; i++) {
        CHECK(sem_wait(&items) == 0);
        CHECK(sem_wait(&taken_lock) == 0);
        taken++;
        CHECK(sem_post(&taken_lock) == 0);
    }
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);

    CHECK(sem_init(&lock, 0, 1) == 0);
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, increment, NULL) == 0);
    }
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    printf("8 threads x 5 increments that sleep holding the semaphore: %d\n", counter);

    CHECK(sem_init(&items, 0, 0) == 0);
    CHECK(sem_init(&taken_lock, 0, 1) == 0);
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_create(&threads[i], NULL, consume, NULL) == 0);
    }
    for (int i = 0; i < 40; i++) {
        CHECK(sem_post(&items) == 0);
        if (i % 8 == 0) {
            sleep_ms(1);
        }
    }
    for (int i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    int left = -1;
    CHECK(sem_getvalue(&items, &left) == 0);
    printf("4 consumers took %d of 40 posted items, %d left\n", taken, left);

    int result = sem_trywait(&items);
    printf("trywait on an empty semaphore: %d %s\n", result, strerror(errno));
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    result = sem_timedwait(&items, &soon);
    printf("timedwait 10 ms: %d %s\n", result, strerror(errno));
    struct timespec soon_monotonic = in_ms(CLOCK_MONOTONIC, 10);
    result = sem_clockwait(&items, CLOCK_MONOTONIC, &soon_monotonic);
    printf("clockwait 10 ms on CLOCK_MONOTONIC: %d %s\n", result, strerror(errno));
    struct timespec bad = {0, 2000000000L};
    result = sem_timedwait(&items, &bad);
    printf("timedwait with a bad time: %d %s\n", result, strerror(errno));
    CHECK(sem_post(&items) == 0);
    soon = in_ms(CLOCK_REALTIME, 10);
    printf("timedwait with a token there: %d\n", sem_timedwait(&items, &soon));
    CHECK(sem_destroy(&items) == 0);
    return 0;
}
