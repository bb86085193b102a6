// What the thread area leaves to glibc and the kernel, and must leave working: a process-shared mutex
// across fork (the child finds it held, then takes it after the parent's unlock), one that a thread waits
// for while another thread still runs (under gevent-run, greenlets of one OS thread: the waiter polls
// instead of futex-waiting the thread), a robust mutex whose owner process dies (EOWNERDEAD, made
// consistent), and a C11 thread, which stays an OS thread. stdout does not depend on scheduling.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <threads.h>

#include "pthread_fixture.h"

static pthread_mutex_t *shared_mutex(int robust) {
    pthread_mutex_t *mutex = mmap(NULL, sizeof(*mutex), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(mutex != MAP_FAILED);
    pthread_mutexattr_t attributes;
    pthread_mutexattr_init(&attributes);
    CHECK(pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED) == 0);
    if (robust) {
        CHECK(pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST) == 0);
    }
    CHECK(pthread_mutex_init(mutex, &attributes) == 0);
    pthread_mutexattr_destroy(&attributes);
    return mutex;
}

static int child_status(pid_t child) {
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static int c11_thread(void *argument) {
    (void)argument;
    sleep_ms(200);
    return 7;
}

static pthread_mutex_t *kept;
static atomic_int main_unlocked, waiter_saw_unlock, sleeper_done;

static void *wait_for_kept(void *argument) {
    (void)argument;
    CHECK(pthread_mutex_lock(kept) == 0);
    atomic_store(&waiter_saw_unlock, atomic_load(&main_unlocked));
    CHECK(pthread_mutex_unlock(kept) == 0);
    return NULL;
}

static void *sleep_meanwhile(void *argument) {
    (void)argument;
    sleep_ms(30);
    atomic_store(&sleeper_done, 1);
    return NULL;
}

int main(void) {
    // The child reports with its exit status: 0 when trylock said EBUSY and lock then succeeded.
    pthread_mutex_t *mutex = shared_mutex(0);
    CHECK(pthread_mutex_lock(mutex) == 0);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        if (pthread_mutex_trylock(mutex) != EBUSY) {
            _exit(1);
        }
        if (pthread_mutex_lock(mutex) != 0 || pthread_mutex_unlock(mutex) != 0) {
            _exit(2);
        }
        _exit(0);
    }
    sleep_ms(50);
    CHECK(pthread_mutex_unlock(mutex) == 0);
    printf("a process-shared mutex across fork: child status %d (0: held, then taken after the unlock)\n",
           child_status(child));

    kept = shared_mutex(0);
    CHECK(pthread_mutex_lock(kept) == 0);
    pthread_t waiter, sleeper;
    CHECK(pthread_create(&waiter, NULL, wait_for_kept, NULL) == 0);
    CHECK(pthread_create(&sleeper, NULL, sleep_meanwhile, NULL) == 0);
    CHECK(pthread_join(sleeper, NULL) == 0);
    atomic_store(&main_unlocked, 1);
    CHECK(pthread_mutex_unlock(kept) == 0);
    CHECK(pthread_join(waiter, NULL) == 0);
    printf("a thread waiting for a process-shared mutex: another thread ran meanwhile %d, the waiter took it after "
           "the unlock %d\n",
           atomic_load(&sleeper_done), atomic_load(&waiter_saw_unlock));

    mutex = shared_mutex(1);
    child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        _exit(pthread_mutex_lock(mutex) == 0 ? 0 : 1);
    }
    int status = child_status(child);
    int locked = pthread_mutex_lock(mutex);
    int consistent = locked == EOWNERDEAD ? pthread_mutex_consistent(mutex) : -1;
    int unlocked = pthread_mutex_unlock(mutex);
    int again = pthread_mutex_lock(mutex);
    printf("a robust mutex whose owner died: child %d, lock %s, consistent %d, unlock %d, lock again %d\n", status,
           locked == EOWNERDEAD ? "EOWNERDEAD" : strerror(locked), consistent, unlocked, again);
    CHECK(pthread_mutex_unlock(mutex) == 0);

    thrd_t thread;
    CHECK(thrd_create(&thread, c11_thread, NULL) == thrd_success);
    sleep_ms(50);
    int threads = os_threads();
    int result;
    CHECK(thrd_join(thread, &result) == thrd_success);
    printf("thrd_create: %d OS threads while it runs, result %d\n", threads, result);
    return 0;
}
