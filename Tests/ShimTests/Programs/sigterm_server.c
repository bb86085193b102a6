// A server that stops on SIGTERM by seeing EINTR in accept, the way unaware servers do. Plain, the accept
// loop runs in the main thread; under gevent-run it runs in a greenlet of its own and each connection gets a
// greenlet, one of which waits in read when the signal comes: both waits must end with EINTR. A child
// process connects, then sends the SIGTERM.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct gevent_greenlet gevent_greenlet_t;
static gevent_greenlet_t *(*spawn)(void *(*)(void *), void *);
static int (*join)(gevent_greenlet_t *, void **);

static volatile sig_atomic_t stopping;
static int listener;
static gevent_greenlet_t *connections[8];
static int connection_count;

static void on_term(int sig) {
    (void)sig;
    stopping = 1;
}

static void *connection(void *argument) {
    int fd = (int)(long)argument;
    char buffer[16];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    dprintf(1, "connection: r=%zd errno=%s\n", n, n < 0 ? strerrorname_np(errno) : "-");
    close(fd);
    return NULL;
}

static void *serve(void *unused) {
    (void)unused;
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            dprintf(1, "accept: errno=%s stopping=%d\n", strerrorname_np(errno), (int)stopping);
            return NULL;
        }
        if (spawn != NULL && connection_count < 8) {
            connections[connection_count++] = spawn(connection, (void *)(long)fd);
        }
    }
}

int main(void) {
    spawn = dlsym(RTLD_DEFAULT, "gevent_spawn");
    join = dlsym(RTLD_DEFAULT, "gevent_join");
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_term;
    sigemptyset(&act.sa_mask);
    sigaction(SIGTERM, &act, NULL);

    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    bind(listener, (struct sockaddr *)&address, sizeof(address));
    listen(listener, 8);
    getsockname(listener, (struct sockaddr *)&address, &length);

    pid_t child = fork();
    if (child == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        connect(fd, (struct sockaddr *)&address, sizeof(address));
        usleep(300000);
        kill(getppid(), SIGTERM);
        usleep(2000000);
        _exit(0);
    }
    if (spawn != NULL && join != NULL) {
        join(spawn(serve, NULL), NULL);
        for (int i = 0; i < connection_count; i++) {
            join(connections[i], NULL);
        }
    } else {
        serve(NULL);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return 0;
}
