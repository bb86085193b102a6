// Barriers and stream locks as POSIX defines them, between threads that sleep in between: rounds of a
// barrier where each thread sleeps a different time before it arrives, a barrier destroyed right after its
// last round, and lines written in pieces, with sleeps between the pieces, under flockfile. stdout does not
// depend on scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "pthread_fixture.h"

enum { THREADS = 6, ROUNDS = 4 };

static pthread_barrier_t barrier;
static atomic_int arrived[ROUNDS];
static atomic_int serial_threads;
static atomic_int early_leavers;

static void *cross_rounds(void *argument) {
    int index = (int)(long)argument;
    for (int round = 0; round < ROUNDS; round++) {
        // A different sleep per thread and round: the last to arrive changes from round to round.
        sleep_ms(1 + (index * 7 + round * 3) % 11);
        atomic_fetch_add(&arrived[round], 1);
        int status = pthread_barrier_wait(&barrier);
        CHECK(status == 0 || status == PTHREAD_BARRIER_SERIAL_THREAD);
        if (status == PTHREAD_BARRIER_SERIAL_THREAD) {
            atomic_fetch_add(&serial_threads, 1);
        }
        // Nobody leaves a round before everybody arrived at it.
        if (atomic_load(&arrived[round]) != THREADS) {
            atomic_fetch_add(&early_leavers, 1);
        }
    }
    return NULL;
}

// A barrier of two that main destroys as soon as its own wait returns: destroy waits for the other
// thread to have left.
static pthread_barrier_t short_lived;

static void *meet_once(void *argument) {
    (void)argument;
    sleep_ms(5);
    int status = pthread_barrier_wait(&short_lived);
    CHECK(status == 0 || status == PTHREAD_BARRIER_SERIAL_THREAD);
    return NULL;
}

// Lines written in pieces under flockfile into one stream: a line mixes only if another thread writes
// while its writer holds the stream.
enum { WRITERS = 4, LINES = 3, PIECES = 5 };
static FILE *stream;

static void *write_lines(void *argument) {
    int index = (int)(long)argument;
    for (int line = 0; line < LINES; line++) {
        flockfile(stream);
        for (int piece = 0; piece < PIECES; piece++) {
            fputc('a' + index, stream);
            sleep_ms(1);
        }
        fputc('\n', stream);
        funlockfile(stream);
    }
    return NULL;
}

// Holds stdout while main tries it.
static void *hold_stdout(void *argument) {
    (void)argument;
    flockfile(stdout);
    hand_over(turn_a);
    wait_for(turn_b);
    funlockfile(stdout);
    return NULL;
}

int main(void) {
    pthread_t threads[THREADS];
    CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0);
    for (long i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&threads[i], NULL, cross_rounds, (void *)i) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
    }
    CHECK(pthread_barrier_destroy(&barrier) == 0);
    printf("%d threads x %d rounds of a barrier: %d serial thread(s), %d left a round early\n", THREADS, ROUNDS,
           atomic_load(&serial_threads), atomic_load(&early_leavers));

    CHECK(pthread_barrier_init(&short_lived, NULL, 2) == 0);
    pthread_t other;
    CHECK(pthread_create(&other, NULL, meet_once, NULL) == 0);
    int status = pthread_barrier_wait(&short_lived);
    CHECK(status == 0 || status == PTHREAD_BARRIER_SERIAL_THREAD);
    CHECK(pthread_barrier_destroy(&short_lived) == 0);
    CHECK(pthread_join(other, NULL) == 0);
    printf("a barrier destroyed after its last round: ok\n");
    CHECK(pthread_barrier_init(&short_lived, NULL, 0) == EINVAL);
    printf("a barrier of 0: EINVAL\n");

    char *text = NULL;
    size_t size = 0;
    stream = open_memstream(&text, &size);
    CHECK(stream != NULL);
    pthread_t writers[WRITERS];
    for (long i = 0; i < WRITERS; i++) {
        CHECK(pthread_create(&writers[i], NULL, write_lines, (void *)i) == 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        CHECK(pthread_join(writers[i], NULL) == 0);
    }
    CHECK(fclose(stream) == 0);
    int lines = 0, mixed = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        if (strlen(line) != PIECES || strspn(line, (char[]){line[0], 0}) != PIECES) {
            mixed++;
        }
    }
    free(text);
    printf("%d threads x %d lines in %d pieces under flockfile: %d lines, %d mixed\n", WRITERS, LINES, PIECES, lines,
           mixed);

    CHECK(pipe(turn_a) == 0 && pipe(turn_b) == 0);
    CHECK(pthread_create(&other, NULL, hold_stdout, NULL) == 0);
    wait_for(turn_a);
    int busy = ftrylockfile(stdout);
    hand_over(turn_b);
    if (busy == 0) {
        funlockfile(stdout);
    }
    CHECK(pthread_join(other, NULL) == 0);
    int free_again = ftrylockfile(stdout);
    if (free_again == 0) {
        funlockfile(stdout);
    }
    printf("ftrylockfile while another thread holds stdout: %s; after its funlockfile: %s\n",
           busy != 0 ? "busy" : "taken", free_again == 0 ? "taken" : "busy");
    return 0;
}
