// swift-gevent preload tests: a program that runs greenlets on its main thread (when the preload library's
// gevent.h API is present) and then waits for its own children with waitpid and system(). Nothing of the
// hub may reap them first.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void *nap(void *argument) {
    usleep(1000);
    return argument;
}

int main(void) {
    void *(*spawn)(void *(*)(void *), void *) = dlsym(RTLD_DEFAULT, "gevent_spawn");
    int (*join)(void *, void **) = dlsym(RTLD_DEFAULT, "gevent_join");
    if (spawn != NULL && join != NULL) {
        join(spawn(nap, NULL), NULL);
    } else {
        nap(NULL);
    }
    pid_t child = fork();
    if (child == 0) {
        _exit(7);
    }
    usleep(100000); // the child has exited and SIGCHLD has been delivered
    int status = 0;
    pid_t reaped = waitpid(child, &status, 0);
    printf("waitpid: %s, exit status %d\n", reaped == child ? "the child" : "nothing", WEXITSTATUS(status));
    printf("system: exit status %d\n", WEXITSTATUS(system("exit 3")));
    return 0;
}
