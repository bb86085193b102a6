// alarm(1), then read from an empty pipe: the SIGALRM handler (no SA_RESTART) ends the read with EINTR.
// Under gevent-run the read runs in a greenlet (through gevent.h, when the library is there), where it
// waits cooperatively: it must end the same way, not wait forever.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct gevent_greenlet gevent_greenlet_t;
static volatile sig_atomic_t handled;

static void on_alarm(int sig) {
    (void)sig;
    handled++;
}

static void *reader(void *unused) {
    (void)unused;
    int p[2];
    char buffer[8];
    if (pipe(p) != 0) {
        return NULL;
    }
    alarm(1);
    ssize_t n = read(p[0], buffer, sizeof(buffer));
    printf("read: r=%zd errno=%s handled=%d\n", n, n < 0 ? strerrorname_np(errno) : "-", (int)handled);
    return NULL;
}

int main(void) {
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_alarm;
    sigemptyset(&act.sa_mask);
    sigaction(SIGALRM, &act, NULL);
    gevent_greenlet_t *(*spawn)(void *(*)(void *), void *) = dlsym(RTLD_DEFAULT, "gevent_spawn");
    int (*join)(gevent_greenlet_t *, void **) = dlsym(RTLD_DEFAULT, "gevent_join");
    if (spawn != NULL && join != NULL) {
        join(spawn(reader, NULL), NULL);
    } else {
        reader(NULL);
    }
    return 0;
}
