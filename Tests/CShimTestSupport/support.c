// swift-gevent tests: see CShimTestSupport.h.
#include "CShimTestSupport.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 512

struct client {
    int fd;
    int64_t due_ns; // 0 until the request line arrived
    char line[128];
    size_t length;
};

static struct {
    pthread_t thread;
    int listener;
    int wake[2];
    int delay_ms;
    struct client clients[MAX_CLIENTS];
} server;

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// An event loop on plain poll: the thread has no hub, so every call passes through the shim.
static void *serve(void *unused) {
    (void)unused;
    for (;;) {
        struct pollfd fds[MAX_CLIENTS + 2];
        int map[MAX_CLIENTS + 2];
        int n = 0;
        fds[n++] = (struct pollfd){server.wake[0], POLLIN, 0};
        fds[n++] = (struct pollfd){server.listener, POLLIN, 0};
        int64_t now = now_ns(), next = -1;
        for (int i = 0; i < MAX_CLIENTS; i++) {
            struct client *c = &server.clients[i];
            if (c->fd < 0) {
                continue;
            }
            if (c->due_ns == 0) {
                map[n] = i;
                fds[n++] = (struct pollfd){c->fd, POLLIN, 0};
            } else if (next < 0 || c->due_ns < next) {
                next = c->due_ns;
            }
        }
        int timeout = next < 0 ? -1 : (int)((next - now) / 1000000 + 1);
        if (timeout < -1) {
            timeout = 0;
        }
        poll(fds, (nfds_t)n, timeout);
        if (fds[0].revents) {
            return NULL;
        }
        if (fds[1].revents & POLLIN) {
            int fd = accept(server.listener, NULL, NULL);
            for (int i = 0; fd >= 0 && i < MAX_CLIENTS; i++) {
                if (server.clients[i].fd < 0) {
                    server.clients[i] = (struct client){fd, 0, {0}, 0};
                    fd = -1;
                }
            }
            if (fd >= 0) {
                close(fd);
            }
        }
        for (int k = 2; k < n; k++) {
            if (!fds[k].revents) {
                continue;
            }
            struct client *c = &server.clients[map[k]];
            ssize_t got = read(c->fd, c->line + c->length, sizeof(c->line) - 1 - c->length);
            if (got <= 0) {
                close(c->fd);
                c->fd = -1;
                continue;
            }
            c->length += (size_t)got;
            if (memchr(c->line, '\n', c->length) || c->length == sizeof(c->line) - 1) {
                c->line[c->length] = 0;
                c->due_ns = now_ns() + (int64_t)server.delay_ms * 1000000LL;
            }
        }
        now = now_ns();
        for (int i = 0; i < MAX_CLIENTS; i++) {
            struct client *c = &server.clients[i];
            if (c->fd >= 0 && c->due_ns != 0 && c->due_ns <= now) {
                char reply[160];
                int length = snprintf(reply, sizeof(reply), "echo: %s", c->line);
                (void)!write(c->fd, reply, (size_t)length);
                close(c->fd);
                c->fd = -1;
            }
        }
    }
}

int shim_test_delay_server_start(int delay_ms, int *port) {
    for (int i = 0; i < MAX_CLIENTS; i++) {
        server.clients[i].fd = -1;
    }
    server.delay_ms = delay_ms;
    if (pipe(server.wake) != 0) {
        return errno;
    }
    server.listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    if (server.listener < 0 || bind(server.listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        listen(server.listener, 256) != 0 || getsockname(server.listener, (struct sockaddr *)&address, &length) != 0) {
        return errno;
    }
    *port = ntohs(address.sin_port);
    return pthread_create(&server.thread, NULL, serve, NULL);
}

void shim_test_delay_server_stop(void) {
    (void)!write(server.wake[1], "x", 1);
    pthread_join(server.thread, NULL);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (server.clients[i].fd >= 0) {
            close(server.clients[i].fd);
        }
    }
    close(server.listener);
    close(server.wake[0]);
    close(server.wake[1]);
}

int shim_test_unaware_request(int port, const char *line, char *reply, size_t capacity) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -errno;
    }
    struct sockaddr_in address = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    if (write(fd, line, strlen(line)) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, reply + total, capacity - 1 - total);
        if (n < 0) {
            int error = errno;
            close(fd);
            return -error;
        }
        if (n == 0 || total + (size_t)n >= capacity - 1) {
            total += (size_t)n;
            break;
        }
        total += (size_t)n;
    }
    reply[total] = 0;
    close(fd);
    return (int)total;
}

long shim_test_read(int fd, void *buffer, size_t count) {
    return (long)read(fd, buffer, count);
}

const char *shim_test_image_of(const void *address) {
    Dl_info info;
    return dladdr(address, &info) != 0 ? info.dli_fname : NULL;
}

static void *sleep_and_note_thread(void *argument) {
    int sleep_ms = *(const int *)argument;
    usleep((useconds_t)sleep_ms * 1000);
    return (void *)(intptr_t)syscall(SYS_gettid);
}

int shim_test_sleeping_pthreads(int count, int sleep_ms, double *elapsed_ms) {
    pthread_t threads[64];
    if (count > 64) {
        return -1;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < count; i++) {
        if (pthread_create(&threads[i], NULL, sleep_and_note_thread, &sleep_ms) != 0) {
            return -1;
        }
    }
    pid_t here = (pid_t)syscall(SYS_gettid);
    int on_this_thread = 0;
    for (int i = 0; i < count; i++) {
        void *thread_id = NULL;
        if (pthread_join(threads[i], &thread_id) != 0) {
            return -1;
        }
        on_this_thread += (pid_t)(intptr_t)thread_id == here;
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    *elapsed_ms = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    return on_this_thread;
}
