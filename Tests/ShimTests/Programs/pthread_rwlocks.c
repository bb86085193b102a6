// Read-write locks as POSIX and glibc define them, held across sleeps (under gevent-run, switches to other
// greenlet-threads of the same OS thread). Threads take turns through pipes, so stdout does not depend on
// scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "pthread_fixture.h"

// Writers increment a counter with a sleep inside the write lock; readers check that it does not move
// while they hold the read lock across a sleep.
static pthread_rwlock_t counter_lock = PTHREAD_RWLOCK_INITIALIZER;
static int counter, moved_under_read_lock;

static void *write_counter(void *argument) {
    (void)argument;
    for (int i = 0; i < 5; i++) {
        CHECK(pthread_rwlock_wrlock(&counter_lock) == 0);
        int seen = counter;
        sleep_ms(1);
        counter = seen + 1;
        CHECK(pthread_rwlock_unlock(&counter_lock) == 0);
    }
    return NULL;
}

static void *read_counter(void *argument) {
    (void)argument;
    for (int i = 0; i < 5; i++) {
        CHECK(pthread_rwlock_rdlock(&counter_lock) == 0);
        int seen = counter;
        sleep_ms(1);
        moved_under_read_lock += counter != seen;
        CHECK(pthread_rwlock_unlock(&counter_lock) == 0);
    }
    return NULL;
}

// Sharing and exclusion between two threads, in turns.
static pthread_rwlock_t lock;
static int second_reader, writer_try, writer_timed, reader_try, reader_timed, clock_timed;

static void *first(void *argument) {
    (void)argument;
    CHECK(pthread_rwlock_rdlock(&lock) == 0);
    hand_over(turn_a);
    wait_for(turn_b);
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    hand_over(turn_a);
    wait_for(turn_b);
    reader_try = pthread_rwlock_tryrdlock(&lock);
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    reader_timed = pthread_rwlock_timedrdlock(&lock, &soon);
    struct timespec soon_monotonic = in_ms(CLOCK_MONOTONIC, 10);
    clock_timed = pthread_rwlock_clockwrlock(&lock, CLOCK_MONOTONIC, &soon_monotonic);
    hand_over(turn_a);
    CHECK(pthread_rwlock_rdlock(&lock) == 0);
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    return NULL;
}

static int own_read, own_write;

static void *second(void *argument) {
    (void)argument;
    wait_for(turn_a);
    second_reader = pthread_rwlock_tryrdlock(&lock);
    writer_try = pthread_rwlock_trywrlock(&lock);
    struct timespec soon = in_ms(CLOCK_REALTIME, 10);
    writer_timed = pthread_rwlock_timedwrlock(&lock, &soon);
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    hand_over(turn_b);
    wait_for(turn_a);
    CHECK(pthread_rwlock_wrlock(&lock) == 0);
    own_read = pthread_rwlock_rdlock(&lock);
    own_write = pthread_rwlock_wrlock(&lock);
    hand_over(turn_b);
    wait_for(turn_a);
    sleep_ms(5);
    CHECK(pthread_rwlock_unlock(&lock) == 0);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    CHECK(pipe(turn_a) == 0 && pipe(turn_b) == 0);

    pthread_t threads[8];
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_create(&threads[i], NULL, i % 2 ? read_counter : write_counter, NULL) == 0);
    }
    for (int i = 0; i < 8; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    printf("4 writers x 5 increments that sleep under the write lock: %d; moves seen under a read lock: %d\n", counter,
           moved_under_read_lock);

    CHECK(pthread_rwlock_init(&lock, NULL) == 0);
    CHECK(pthread_create(&threads[0], NULL, first, NULL) == 0);
    CHECK(pthread_create(&threads[1], NULL, second, NULL) == 0);
    CHECK(pthread_join(threads[0], NULL) == 0);
    CHECK(pthread_join(threads[1], NULL) == 0);
    printf("while another thread reads: tryrdlock %s, trywrlock %s, timedwrlock 10 ms %s\n", strerror(second_reader),
           strerror(writer_try), strerror(writer_timed));
    printf("the writer itself: rdlock %s, wrlock %s\n", strerror(own_read), strerror(own_write));
    printf("while another thread writes: tryrdlock %s, timedrdlock 10 ms %s, clockwrlock 10 ms %s\n",
           strerror(reader_try), strerror(reader_timed), strerror(clock_timed));
    CHECK(pthread_rwlock_destroy(&lock) == 0);
    return 0;
}
