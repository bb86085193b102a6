// A small HTTP/1.0 server written the classic threaded way: an acceptor thread that main joins at exit, a
// detached thread per connection with blocking reads and writes, a table built once (pthread_once, with an
// initialiser that sleeps), a key per connection whose destructor counts, counters under a mutex, and a
// condition variable main waits on for the last request. Each handler sleeps 100 ms, as if it waited for a
// database, and samples the process's OS threads meanwhile.
//
//   threaded_http REQUESTS   prints "port N", answers REQUESTS requests (GET /PATH: "slept for /PATH\n"),
//                            prints what it saw, exits
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "pthread_fixture.h"

static int requests_expected;
static int listener;

static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_answered = PTHREAD_COND_INITIALIZER;
static int answered, bad_requests, destructors_run, most_threads;

// The status lines, built once by whichever handler comes first.
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static const char *status_lines[2];
static int table_builds;

static void build_table(void) {
    sleep_ms(20);
    status_lines[0] = "HTTP/1.0 200 OK\r\n";
    status_lines[1] = "HTTP/1.0 400 Bad Request\r\n";
    table_builds++;
}

// Each connection's state lives under a key; its destructor runs when the handler ends.
static pthread_key_t connection_key;

typedef struct connection {
    int fd;
    char request[2048];
    size_t length;
} connection_t;

static void forget_connection(void *value) {
    connection_t *connection = value;
    close(connection->fd);
    free(connection);
    pthread_mutex_lock(&counters_lock);
    destructors_run++;
    pthread_mutex_unlock(&counters_lock);
}

static bool write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, data, length);
        if (written < 0 && errno == EINTR) {
            continue;
        }
        if (written <= 0) {
            return false;
        }
        data += written;
        length -= (size_t)written;
    }
    return true;
}

/// Reads until the blank line that ends the request head; false on EOF or an error first.
static bool read_head(connection_t *connection) {
    while (memmem(connection->request, connection->length, "\r\n\r\n", 4) == NULL) {
        if (connection->length == sizeof(connection->request) - 1) {
            return false;
        }
        ssize_t n = read(connection->fd, connection->request + connection->length,
                         sizeof(connection->request) - 1 - connection->length);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        connection->length += (size_t)n;
    }
    connection->request[connection->length] = 0;
    return true;
}

static void *handle(void *argument) {
    connection_t *connection = argument;
    CHECK(pthread_setspecific(connection_key, connection) == 0);
    pthread_once(&table_once, build_table);
    char path[256];
    bool good = read_head(connection) && sscanf(connection->request, "GET %255s HTTP/1.", path) == 1;
    sleep_ms(100);
    int threads = os_threads();
    char reply[512];
    int length;
    if (good) {
        char body[300];
        int body_length = snprintf(body, sizeof(body), "slept for %s\n", path);
        length = snprintf(reply, sizeof(reply), "%sContent-Length: %d\r\n\r\n%s", status_lines[0], body_length, body);
    } else {
        length = snprintf(reply, sizeof(reply), "%sContent-Length: 0\r\n\r\n", status_lines[1]);
    }
    write_all(connection->fd, reply, (size_t)length);
    pthread_mutex_lock(&counters_lock);
    answered++;
    bad_requests += !good;
    if (threads > most_threads) {
        most_threads = threads;
    }
    if (answered == requests_expected) {
        pthread_cond_signal(&all_answered);
    }
    pthread_mutex_unlock(&counters_lock);
    return NULL;
}

static void *accept_connections(void *argument) {
    (void)argument;
    pthread_attr_t detached;
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
    for (int accepted = 0; accepted < requests_expected;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            CHECK(errno == EINTR || errno == ECONNABORTED);
            continue;
        }
        connection_t *connection = calloc(1, sizeof(*connection));
        CHECK(connection != NULL);
        connection->fd = fd;
        pthread_t thread;
        int status = pthread_create(&thread, &detached, handle, connection);
        if (status != 0) {
            fprintf(stderr, "threaded_http: pthread_create: %s\n", strerror(status));
            exit(1);
        }
        accepted++;
    }
    pthread_attr_destroy(&detached);
    return (void *)(intptr_t)requests_expected;
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    requests_expected = atoi(argv[1]);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    signal(SIGPIPE, SIG_IGN);
    CHECK(pthread_key_create(&connection_key, forget_connection) == 0);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    CHECK(bind(listener, (struct sockaddr *)&address, sizeof(address)) == 0 && listen(listener, 4096) == 0 &&
          getsockname(listener, (struct sockaddr *)&address, &length) == 0);
    printf("port %d\n", ntohs(address.sin_port));
    fflush(stdout);

    pthread_t acceptor;
    CHECK(pthread_create(&acceptor, NULL, accept_connections, NULL) == 0);
    pthread_mutex_lock(&counters_lock);
    while (answered < requests_expected) {
        pthread_cond_wait(&all_answered, &counters_lock);
    }
    pthread_mutex_unlock(&counters_lock);
    void *accepted;
    CHECK(pthread_join(acceptor, &accepted) == 0);
    // The last handlers may still be running their key destructor.
    for (int waited = 0; waited < 5000; waited++) {
        pthread_mutex_lock(&counters_lock);
        int done = destructors_run;
        pthread_mutex_unlock(&counters_lock);
        if (done == requests_expected) {
            break;
        }
        sleep_ms(1);
    }
    pthread_mutex_lock(&counters_lock);
    printf("accepted %d, answered %d (%d bad), table built %d time(s), key destructors %d\n", (int)(intptr_t)accepted,
           answered, bad_requests, table_builds, destructors_run);
    printf("most OS threads while serving: %d\n", most_threads);
    pthread_mutex_unlock(&counters_lock);
    return 0;
}
