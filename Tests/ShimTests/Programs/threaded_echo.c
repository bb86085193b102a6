// A thread-per-connection echo server written the classic way (blocking sockets, a detached pthread per
// connection, a mutex-protected counter), and the client that drives it with many connections at once from
// one thread (poll, non-blocking sockets): the client is never preloaded.
//
//   threaded_echo server CONNECTIONS   prints "port N", serves CONNECTIONS connections, prints what it saw
//   threaded_echo client PORT CONNECTIONS
//
// Every connection sends one line and reads it back; then the first connection asks "threads?" and the
// server answers with its OS-thread count (/proc/self/status) while every connection is still open.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pthread_fixture.h"

static void raise_fd_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// MARK: - Server

static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static long bytes_echoed;
static int connections_done;

static void *serve(void *argument) {
    int fd = (int)(intptr_t)argument;
    char buffer[4096];
    long echoed = 0;
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (n == 9 && memcmp(buffer, "threads?\n", 9) == 0) {
            n = snprintf(buffer, sizeof(buffer), "%d\n", os_threads());
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t written = write(fd, buffer + done, (size_t)(n - done));
            if (written < 0 && errno == EINTR) {
                continue;
            }
            if (written <= 0) {
                goto finished;
            }
            done += written;
        }
        echoed += n;
    }
finished:
    close(fd);
    pthread_mutex_lock(&counters_lock);
    bytes_echoed += echoed;
    connections_done++;
    pthread_mutex_unlock(&counters_lock);
    return NULL;
}

static int run_server(int connections) {
    signal(SIGPIPE, SIG_IGN);
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 4096) != 0 ||
        getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
        perror("threaded_echo: listen");
        return 1;
    }
    printf("port %d\n", ntohs(address.sin_port));
    fflush(stdout);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    for (int accepted = 0; accepted < connections;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            perror("threaded_echo: accept");
            return 1;
        }
        pthread_t thread;
        int status = pthread_create(&thread, &attributes, serve, (void *)(intptr_t)fd);
        if (status != 0) {
            fprintf(stderr, "threaded_echo: pthread_create: %s\n", strerror(status));
            return 1;
        }
        accepted++;
    }
    for (;;) {
        pthread_mutex_lock(&counters_lock);
        int done = connections_done;
        long bytes = bytes_echoed;
        pthread_mutex_unlock(&counters_lock);
        if (done == connections) {
            printf("served %d connections, echoed %ld bytes\n", done, bytes);
            return 0;
        }
        usleep(2000);
    }
}

// MARK: - Client

static int run_client(int port, int connections) {
    struct sockaddr_in address = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int *fds = calloc((size_t)connections, sizeof(int));
    struct pollfd *polled = calloc((size_t)connections, sizeof(struct pollfd));
    for (int i = 0; i < connections; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&address, sizeof(address)) != 0) {
            fprintf(stderr, "client: connection %d: %s\n", i, strerror(errno));
            return 1;
        }
        char line[32];
        int n = snprintf(line, sizeof(line), "hello %d\n", i);
        if (write(fds[i], line, (size_t)n) != n) {
            fprintf(stderr, "client: write %d: %s\n", i, strerror(errno));
            return 1;
        }
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    // Every echo, each connection's line exactly.
    int pending = connections;
    char **received = calloc((size_t)connections, sizeof(char *));
    size_t *used = calloc((size_t)connections, sizeof(size_t));
    while (pending > 0) {
        int count = 0;
        for (int i = 0; i < connections; i++) {
            if (received[i] == NULL || used[i] == 0 || received[i][used[i] - 1] != '\n') {
                polled[count++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
            }
        }
        if (poll(polled, (nfds_t)count, 20000) <= 0) {
            fprintf(stderr, "client: no echo for 20 s with %d connections waiting\n", pending);
            return 1;
        }
        for (int p = 0; p < count; p++) {
            if (!(polled[p].revents & (POLLIN | POLLHUP | POLLERR))) {
                continue;
            }
            int i = 0;
            while (fds[i] != polled[p].fd) {
                i++;
            }
            if (received[i] == NULL) {
                received[i] = calloc(1, 32);
            }
            ssize_t n = read(fds[i], received[i] + used[i], 31 - used[i]);
            if (n <= 0) {
                fprintf(stderr, "client: connection %d ended before its echo\n", i);
                return 1;
            }
            used[i] += (size_t)n;
            if (received[i][used[i] - 1] == '\n') {
                char expected[32];
                snprintf(expected, sizeof(expected), "hello %d\n", i);
                if (strcmp(received[i], expected) != 0) {
                    fprintf(stderr, "client: connection %d got '%s'\n", i, received[i]);
                    return 1;
                }
                pending--;
            }
        }
    }
    fcntl(fds[0], F_SETFL, 0);
    char answer[32] = {0};
    ssize_t n = 0;
    if (write(fds[0], "threads?\n", 9) != 9 || (n = read(fds[0], answer, sizeof(answer) - 1)) <= 0) {
        fprintf(stderr, "client: no answer to threads?\n");
        return 1;
    }
    printf("%d echoes correct; server OS threads with every connection open: %s", connections, answer);
    for (int i = 0; i < connections; i++) {
        close(fds[i]);
    }
    return 0;
}

int main(int argc, char **argv) {
    raise_fd_limit();
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        return run_server(atoi(argv[2]));
    }
    if (argc == 4 && strcmp(argv[1], "client") == 0) {
        return run_client(atoi(argv[2]), atoi(argv[3]));
    }
    fprintf(stderr, "usage: threaded_echo server CONNECTIONS | client PORT CONNECTIONS\n");
    return 2;
}
