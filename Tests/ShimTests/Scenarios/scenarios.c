// swift-gevent: differential scenarios for the shim. Each scenario makes blocking libc calls the way
// unaware code does and prints one line per result: the return value, errno's name and what was read.
// The same file runs three ways and the outputs must be identical:
//   plain      cc scenarios.c -DSCENARIO_MAIN && ./a.out                    (libc alone)
//   preloaded  LD_PRELOAD=libGeventPreload.so ./a.out                      (main() runs them in a greenlet)
//   linked     cc -shared scenarios.c, dlopen'ed by the Swift tests, run in a greenlet with Monkey.patchAll()
// built plain, with -O2 -D_FORTIFY_SOURCE=2 (the __read_chk family) and with -D_FILE_OFFSET_BITS=64
// (fcntl64). Another thread (no hub: plain libc) provides the data "later", so that the calls really wait.
// Lines never contain timings: "elapsed_ok" says a wait lasted at least as long as asked.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int out_fd = 1;
// Sizes through a volatile so that fortified builds call the _chk variants.
static volatile size_t runtime_size = 100;

static void emit(const char *format, ...) {
    char line[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(line, sizeof(line), format, args);
    va_end(args);
    (void)!write(out_fd, line, (size_t)n);
}

static void result(const char *name, long value, int error, const char *detail) {
    emit("%s: r=%ld errno=%s %s\n", name, value, value < 0 ? strerrorname_np(error) : "-", detail ? detail : "");
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// MARK: - "Later": another thread acts after a delay

enum action {
    WRITE,
    CLOSE,
    SEND_TWICE,
    CONNECT,
    DRAIN,
    SEND_FD,
    SENDTO,
    SIGNAL,
    SIGNAL_THEN_WRITE,
    SIGNAL_THEN_CONNECT
};

struct later {
    pthread_t thread;
    enum action action;
    int delay_ms;
    int fd;
    const char *data;
    struct sockaddr_in address;
    size_t expected; // DRAIN: bytes to read
    size_t got;
    int extra_fd;
    pthread_t target; // SIGNAL*: the thread that gets SIGUSR1
};

static void *later_run(void *argument) {
    struct later *l = argument;
    usleep((useconds_t)l->delay_ms * 1000);
    switch (l->action) {
    case WRITE:
        (void)!write(l->fd, l->data, strlen(l->data));
        break;
    case CLOSE:
        close(l->fd);
        break;
    case SEND_TWICE:
        send(l->fd, l->data, 5, 0);
        usleep(30000);
        send(l->fd, l->data + 5, strlen(l->data) - 5, 0);
        break;
    case CONNECT: {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        connect(fd, (struct sockaddr *)&l->address, sizeof(l->address));
        l->extra_fd = fd;
        break;
    }
    case DRAIN: {
        char buffer[65536];
        while (l->got < l->expected) {
            ssize_t n = read(l->fd, buffer, sizeof(buffer));
            if (n <= 0) {
                break;
            }
            l->got += (size_t)n;
            usleep(1000);
        }
        break;
    }
    case SEND_FD: {
        char byte = 'f';
        struct iovec iov = {&byte, 1};
        char control[CMSG_SPACE(sizeof(int))];
        memset(control, 0, sizeof(control));
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &l->extra_fd, sizeof(int));
        sendmsg(l->fd, &msg, 0);
        break;
    }
    case SENDTO:
        sendto(l->fd, l->data, strlen(l->data), 0, (struct sockaddr *)&l->address, sizeof(l->address));
        break;
    case SIGNAL:
        pthread_kill(l->target, SIGUSR1);
        break;
    case SIGNAL_THEN_WRITE:
        pthread_kill(l->target, SIGUSR1);
        usleep(100000);
        (void)!write(l->fd, l->data, strlen(l->data));
        break;
    case SIGNAL_THEN_CONNECT: {
        pthread_kill(l->target, SIGUSR1);
        usleep(100000);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        connect(fd, (struct sockaddr *)&l->address, sizeof(l->address));
        l->extra_fd = fd;
        break;
    }
    }
    return NULL;
}

static void later_start(struct later *l) {
    pthread_create(&l->thread, NULL, later_run, l);
}

static void later_join(struct later *l) {
    pthread_join(l->thread, NULL);
}

static int listener(struct sockaddr_in *address, int backlog) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(address, 0, sizeof(*address));
    address->sin_family = AF_INET;
    address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(*address);
    bind(fd, (struct sockaddr *)address, sizeof(*address));
    listen(fd, backlog);
    getsockname(fd, (struct sockaddr *)address, &length);
    return fd;
}

static const char *nonblock_view(int fd) {
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) ? "nonblock=1" : "nonblock=0";
}

// MARK: - Scenarios

static void reads_and_eof(void) {
    int p[2];
    char buffer[100];
    pipe(p);
    struct later l = {.action = WRITE, .delay_ms = 30, .fd = p[1], .data = "0123456789"};
    later_start(&l);
    ssize_t n = read(p[0], buffer, runtime_size);
    int e = errno;
    later_join(&l);
    char detail[128];
    snprintf(detail, sizeof(detail), "data=%.*s", n > 0 ? (int)n : 0, buffer);
    result("pipe_partial_read", n, e, detail);

    struct later closer = {.action = CLOSE, .delay_ms = 30, .fd = p[1]};
    later_start(&closer);
    n = read(p[0], buffer, runtime_size);
    e = errno;
    later_join(&closer);
    result("pipe_eof", n, e, NULL);
    close(p[0]);

    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    struct later sender = {.action = WRITE, .delay_ms = 30, .fd = s[1], .data = "seven!!"};
    later_start(&sender);
    n = recv(s[0], buffer, runtime_size, 0);
    e = errno;
    later_join(&sender);
    result("socket_partial_recv", n, e, NULL);

    struct later twice = {.action = SEND_TWICE, .delay_ms = 20, .fd = s[1], .data = "0123456789"};
    later_start(&twice);
    n = recv(s[0], buffer, 10, MSG_WAITALL);
    e = errno;
    later_join(&twice);
    snprintf(detail, sizeof(detail), "data=%.*s", n > 0 ? (int)n : 0, buffer);
    result("msg_waitall", n, e, detail);

    n = recv(s[0], buffer, runtime_size, MSG_DONTWAIT);
    result("msg_dontwait_empty", n, errno, NULL);

    struct iovec parts[2] = {{buffer, 3}, {buffer + 3, 50}};
    struct later vector = {.action = WRITE, .delay_ms = 20, .fd = s[1], .data = "abcdefgh"};
    later_start(&vector);
    n = readv(s[0], parts, 2);
    e = errno;
    later_join(&vector);
    snprintf(detail, sizeof(detail), "data=%.*s", n > 0 ? (int)n : 0, buffer);
    result("readv", n, e, detail);
    close(s[0]);
    close(s[1]);
}

static void nonblocking_views(void) {
    int p[2];
    char buffer[100];
    pipe2(p, O_NONBLOCK);
    ssize_t n = read(p[0], buffer, runtime_size);
    result("pipe2_nonblock_read", n, errno, nonblock_view(p[0]));
    int flags = fcntl(p[0], F_GETFL);
    fcntl(p[0], F_SETFL, flags & ~O_NONBLOCK);
    result("pipe_setfl_blocking", 0, 0, nonblock_view(p[0]));
    struct later l = {.action = WRITE, .delay_ms = 20, .fd = p[1], .data = "now blocking"};
    later_start(&l);
    n = read(p[0], buffer, runtime_size);
    int e = errno;
    later_join(&l);
    result("pipe_read_after_clearing_nonblock", n, e, NULL);
    close(p[0]);
    close(p[1]);

    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    int on = 1, off = 0;
    ioctl(s[0], FIONBIO, &on);
    n = recv(s[0], buffer, runtime_size, 0);
    result("fionbio_recv", n, errno, nonblock_view(s[0]));
    ioctl(s[0], FIONBIO, &off);
    result("fionbio_off", 0, 0, nonblock_view(s[0]));
    close(s[0]);
    close(s[1]);

    int fd = socket(AF_INET, SOCK_STREAM, 0);
    result("socket_view", 0, 0, nonblock_view(fd));
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    result("socket_setfl_nonblock", 0, 0, nonblock_view(fd));
    close(fd);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    result("sock_nonblock_view", 0, 0, nonblock_view(fd));
    close(fd);
}

static void timeouts_and_writes(void) {
    int s[2];
    char buffer[100];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    struct timeval tv = {0, 100000};
    setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int64_t start = now_ms();
    ssize_t n = recv(s[0], buffer, runtime_size, 0);
    int e = errno;
    result("so_rcvtimeo", n, e, now_ms() - start >= 90 ? "elapsed_ok=1" : "elapsed_ok=0");

    struct timeval negative = {-1, 0};
    setsockopt(s[0], SOL_SOCKET, SO_RCVTIMEO, &negative, sizeof(negative));
    n = recv(s[0], buffer, runtime_size, 0);
    result("so_rcvtimeo_negative_expires_at_once", n, errno, NULL);

    size_t big = 1 << 20;
    char *data = malloc(big);
    memset(data, 'x', big);
    setsockopt(s[1], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    n = write(s[1], data, big);
    e = errno;
    result("so_sndtimeo_partial_write", n > 0 && (size_t)n < big ? 1 : n, e, NULL);
    close(s[0]);
    close(s[1]);

    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    struct later drain = {.action = DRAIN, .delay_ms = 10, .fd = s[0], .expected = big};
    later_start(&drain);
    n = write(s[1], data, big);
    e = errno;
    later_join(&drain);
    char detail[64];
    snprintf(detail, sizeof(detail), "drained=%zu", drain.got);
    result("blocking_write_all", n, e, detail);
    close(s[0]);
    close(s[1]);
    free(data);
}

static void accepting_and_connecting(void) {
    struct sockaddr_in address;
    char buffer[100];
    int server = listener(&address, 16);
    struct later client = {.action = CONNECT, .delay_ms = 30, .address = address};
    later_start(&client);
    int fd = accept4(server, NULL, NULL, SOCK_NONBLOCK);
    int e = errno;
    later_join(&client);
    result("accept4_sock_nonblock", fd >= 0 ? 1 : fd, e, nonblock_view(fd));
    ssize_t n = recv(fd, buffer, runtime_size, 0);
    result("accepted_nonblock_recv", n, errno, NULL);
    close(fd);
    close(client.extra_fd);

    struct later second = {.action = CONNECT, .delay_ms = 30, .address = address};
    later_start(&second);
    fd = accept(server, NULL, NULL);
    e = errno;
    later_join(&second);
    result("accept", fd >= 0 ? 1 : fd, e, nonblock_view(fd));
    close(fd);
    close(second.extra_fd);

    int c = socket(AF_INET, SOCK_STREAM, 0);
    int r = connect(c, (struct sockaddr *)&address, sizeof(address));
    result("connect_ok", r, errno, nonblock_view(c));
    close(c);
    close(server);

    // A port nobody listens on any more.
    int probe = listener(&address, 1);
    close(probe);
    c = socket(AF_INET, SOCK_STREAM, 0);
    r = connect(c, (struct sockaddr *)&address, sizeof(address));
    result("connect_refused", r, errno, NULL);
    close(c);

    // A listener whose accept queue is full drops new SYNs: a blocking connect with SO_SNDTIMEO times out
    // with EINPROGRESS (socket(7)).
    server = listener(&address, 0);
    int fillers[3];
    for (int i = 0; i < 3; i++) {
        fillers[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fillers[i], (struct sockaddr *)&address, sizeof(address));
    }
    usleep(50000);
    c = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {0, 150000};
    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    r = connect(c, (struct sockaddr *)&address, sizeof(address));
    result("connect_timeout", r, errno, NULL);
    close(c);
    for (int i = 0; i < 3; i++) {
        close(fillers[i]);
    }
    close(server);
}

static void polling(void) {
    int p[2];
    pipe(p);
    struct pollfd fds[3] = {{p[0], POLLIN, 0}, {p[0], POLLIN, 0}, {-1, POLLIN, 0}};
    struct later l = {.action = WRITE, .delay_ms = 30, .fd = p[1], .data = "x"};
    later_start(&l);
    int n = poll(fds, 3, 2000);
    int e = errno;
    later_join(&l);
    char detail[96];
    snprintf(detail, sizeof(detail), "revents=%x,%x,%x", fds[0].revents, fds[1].revents, fds[2].revents);
    result("poll_duplicate_and_negative", n, e, detail);
    char byte;
    (void)!read(p[0], &byte, 1);

    // A high number, closed: the kernel hands out the lowest free number, so no other thread of the test
    // process reuses it meanwhile.
    int unused = dup2(p[1], 900);
    close(unused);
    struct pollfd closed[2] = {{unused, POLLIN, 0}, {p[0], POLLIN, 0}};
    n = poll(closed, 2, 1000);
    snprintf(detail, sizeof(detail), "revents=%x,%x", closed[0].revents, closed[1].revents);
    result("poll_closed_fd", n, errno, detail);

    struct pollfd one = {p[0], POLLIN, 0};
    int64_t start = now_ms();
    n = poll(&one, 1, 50);
    result("poll_timeout", n, errno, now_ms() - start >= 45 ? "elapsed_ok=1" : "elapsed_ok=0");

    struct timespec ts = {0, 50000000};
    start = now_ms();
    n = ppoll(&one, 1, &ts, NULL);
    result("ppoll_timeout", n, errno, now_ms() - start >= 45 ? "elapsed_ok=1" : "elapsed_ok=0");

    struct later closer = {.action = CLOSE, .delay_ms = 30, .fd = p[1]};
    later_start(&closer);
    n = poll(&one, 1, 2000);
    e = errno;
    later_join(&closer);
    snprintf(detail, sizeof(detail), "revents=%x", one.revents);
    result("poll_hangup", n, e, detail);
    close(p[0]);

    pipe(p);
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(p[0], &readable);
    struct timeval tv = {1, 0};
    struct later writer = {.action = WRITE, .delay_ms = 30, .fd = p[1], .data = "y"};
    later_start(&writer);
    n = select(p[0] + 1, &readable, NULL, NULL, &tv);
    e = errno;
    later_join(&writer);
    snprintf(detail, sizeof(detail), "isset=%d time_left_ok=%d", FD_ISSET(p[0], &readable) ? 1 : 0,
             (tv.tv_sec == 0 && tv.tv_usec > 0) ? 1 : 0);
    result("select_ready", n, e, detail);
    (void)!read(p[0], &byte, 1);

    FD_ZERO(&readable);
    FD_SET(p[0], &readable);
    tv = (struct timeval){0, 50000};
    n = select(p[0] + 1, &readable, NULL, NULL, &tv);
    snprintf(detail, sizeof(detail), "isset=%d time_left=%ld.%06ld", FD_ISSET(p[0], &readable) ? 1 : 0, (long)tv.tv_sec,
             (long)tv.tv_usec);
    result("select_timeout", n, errno, detail);

    FD_ZERO(&readable);
    FD_SET(p[0], &readable);
    struct timespec pts = {1, 0};
    struct later again = {.action = WRITE, .delay_ms = 30, .fd = p[1], .data = "z"};
    later_start(&again);
    n = pselect(p[0] + 1, &readable, NULL, NULL, &pts, NULL);
    e = errno;
    later_join(&again);
    snprintf(detail, sizeof(detail), "isset=%d timeout_unchanged=%d", FD_ISSET(p[0], &readable) ? 1 : 0,
             pts.tv_sec == 1 && pts.tv_nsec == 0);
    result("pselect_ready", n, e, detail);
    close(p[0]);
    close(p[1]);
}

static void duplicating(void) {
    int a[2], b[2];
    char buffer[100];
    pipe(a);
    pipe(b);
    int r = dup2(b[0], a[0]);
    struct later l = {.action = WRITE, .delay_ms = 20, .fd = b[1], .data = "from b"};
    later_start(&l);
    ssize_t n = read(a[0], buffer, runtime_size);
    int e = errno;
    later_join(&l);
    char detail[64];
    snprintf(detail, sizeof(detail), "dup2=%d data=%.*s", r == a[0], n > 0 ? (int)n : 0, buffer);
    result("dup2_then_read", n, e, detail);
    int copy = dup(b[1]);
    struct later w = {.action = WRITE, .delay_ms = 20, .fd = copy, .data = "via dup"};
    later_start(&w);
    n = read(b[0], buffer, runtime_size);
    e = errno;
    later_join(&w);
    result("read_data_written_through_dup", n, e, NULL);
    int fcntl_copy = fcntl(b[0], F_DUPFD_CLOEXEC, 100);
    result("f_dupfd_cloexec", fcntl_copy >= 100 ? 1 : fcntl_copy, errno, nonblock_view(fcntl_copy));
    close(fcntl_copy);
    close(copy);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    int gone = dup2(b[1], 901);
    close(b[1]);
    close(gone);
    n = read(gone, buffer, runtime_size);
    result("read_closed_fd", n, errno, NULL);
    n = read(12345, buffer, runtime_size);
    result("read_never_opened_fd", n, errno, NULL);
}

static void messages(void) {
    int s[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, s);
    int carried[2];
    pipe(carried);
    struct later l = {.action = SEND_FD, .delay_ms = 20, .fd = s[1], .extra_fd = carried[1]};
    later_start(&l);
    char byte = 0;
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    ssize_t n = recvmsg(s[0], &msg, 0);
    int e = errno;
    later_join(&l);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    int received = -1;
    if (cmsg != NULL && cmsg->cmsg_type == SCM_RIGHTS) {
        memcpy(&received, CMSG_DATA(cmsg), sizeof(int));
    }
    char detail[64];
    snprintf(detail, sizeof(detail), "byte=%c got_fd=%d", byte, received >= 0);
    result("recvmsg_scm_rights", n, e, detail);
    if (received >= 0) {
        close(received);
    }
    close(carried[0]);
    close(carried[1]);
    close(s[0]);
    close(s[1]);

    int u = socket(AF_INET, SOCK_DGRAM, 0);
    int v = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof(address);
    bind(u, (struct sockaddr *)&address, sizeof(address));
    getsockname(u, (struct sockaddr *)&address, &length);
    struct later datagram = {.action = SENDTO, .delay_ms = 20, .fd = v, .data = "datagram", .address = address};
    later_start(&datagram);
    char buffer[100];
    struct sockaddr_in from;
    socklen_t from_length = sizeof(from);
    n = recvfrom(u, buffer, runtime_size, 0, (struct sockaddr *)&from, &from_length);
    e = errno;
    later_join(&datagram);
    snprintf(detail, sizeof(detail), "from_length=%u family=%d", (unsigned)from_length, from.sin_family);
    result("udp_recvfrom", n, e, detail);
    n = sendto(v, "x", 1, 0, (struct sockaddr *)&address, sizeof(address));
    result("udp_sendto", n, errno, NULL);
    close(u);
    close(v);
}

static void sleeping_and_resolving(void) {
    int64_t start = now_ms();
    struct timespec request = {0, 30000000};
    int r = nanosleep(&request, NULL);
    result("nanosleep", r, errno, now_ms() - start >= 28 ? "elapsed_ok=1" : "elapsed_ok=0");
    start = now_ms();
    r = usleep(30000);
    result("usleep", r, errno, now_ms() - start >= 28 ? "elapsed_ok=1" : "elapsed_ok=0");
    result("sleep_zero", (long)sleep(0), 0, NULL);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += 30000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    start = now_ms();
    r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);
    result("clock_nanosleep_abstime", r, 0, now_ms() - start >= 28 ? "elapsed_ok=1" : "elapsed_ok=0");
    struct timespec invalid = {0, 2000000000};
    r = nanosleep(&invalid, NULL);
    result("nanosleep_invalid", r, errno, NULL);

    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *list = NULL;
    r = getaddrinfo("127.0.0.1", "80", &hints, &list);
    char detail[128];
    snprintf(detail, sizeof(detail), "family=%d", list ? list->ai_family : -1);
    result("getaddrinfo_numeric", r, 0, detail);
    freeaddrinfo(list);
    list = NULL;
    hints.ai_flags = 0;
    r = getaddrinfo("localhost", "80", &hints, &list);
    result("getaddrinfo_localhost", r, 0, list ? "found=1" : "found=0");
    freeaddrinfo(list);
    r = getaddrinfo("no-such-host.invalid", NULL, &hints, &list);
    result("getaddrinfo_unknown", r == 0 ? 0 : 1, 0, NULL);
    struct sockaddr_in loopback = {
        .sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char host[64], service[32];
    r = getnameinfo((struct sockaddr *)&loopback, sizeof(loopback), host, sizeof(host), service, sizeof(service),
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(detail, sizeof(detail), "host=%s service=%s", host, service);
    result("getnameinfo_numeric", r, 0, detail);
    struct hostent *entry = gethostbyname("localhost");
    snprintf(detail, sizeof(detail), "found=%d type=%d", entry != NULL, entry ? entry->h_addrtype : -1);
    result("gethostbyname_localhost", 0, 0, detail);
    struct hostent storage, *found = NULL;
    char scratch[1024];
    int h_error = 0;
    r = gethostbyname_r("localhost", &storage, scratch, sizeof(scratch), &found, &h_error);
    snprintf(detail, sizeof(detail), "found=%d", found != NULL);
    result("gethostbyname_r_localhost", r, 0, detail);
}

static void reading_files(void) {
    char path[] = "/var/tmp/gevent-scenario-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        result("file_create", -1, errno, NULL);
        return;
    }
    unlink(path);
    ssize_t n;
    char block[10000];
    for (size_t i = 0; i < sizeof(block); i++) {
        block[i] = (char)('a' + i % 26);
    }
    n = write(fd, block, sizeof(block));
    result("file_write", n, errno, NULL);
    fsync(fd);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED); // cold: the first read waits for the disk
    lseek(fd, 0, SEEK_SET);
    char buffer[128];
    n = read(fd, buffer, runtime_size);
    char detail[160];
    snprintf(detail, sizeof(detail), "data=%.*s offset=%ld", n > 0 ? 8 : 0, buffer, (long)lseek(fd, 0, SEEK_CUR));
    result("file_read", n, errno, detail);
    n = pread(fd, buffer, 10, 5000);
    snprintf(detail, sizeof(detail), "data=%.*s offset=%ld", n > 0 ? (int)n : 0, buffer, (long)lseek(fd, 0, SEEK_CUR));
    result("file_pread", n, errno, detail);
    struct iovec parts[2] = {{buffer, 2}, {buffer + 2, 20}};
    n = preadv(fd, parts, 2, 9995);
    snprintf(detail, sizeof(detail), "data=%.*s", n > 0 ? (int)n : 0, buffer);
    result("file_preadv_to_eof", n, errno, detail);
    lseek(fd, 9990, SEEK_SET);
    n = readv(fd, parts, 2);
    snprintf(detail, sizeof(detail), "data=%.*s offset=%ld", n > 0 ? (int)n : 0, buffer, (long)lseek(fd, 0, SEEK_CUR));
    result("file_readv_to_eof", n, errno, detail);
    n = read(fd, buffer, runtime_size);
    result("file_read_at_eof", n, errno, NULL);
    n = pread(fd, buffer, runtime_size, 20000);
    result("file_pread_past_eof", n, errno, NULL);
    n = pread(fd, buffer, 10, -1);
    result("file_pread_negative_offset", n, errno, NULL);
    close(fd);
    n = read(fd, buffer, runtime_size);
    result("file_read_closed", n, errno, NULL);
    int p[2];
    pipe(p);
    n = pread(p[0], buffer, 10, 0);
    result("pipe_pread", n, errno, NULL);
    close(p[0]);
    close(p[1]);
    int directory = open("/", O_RDONLY | O_DIRECTORY);
    n = read(directory, buffer, runtime_size);
    result("directory_read", n, errno, NULL);
    close(directory);
}

// MARK: - Signals: a handler that runs while a call waits ends it as signal(7) says

static volatile sig_atomic_t handled;
static volatile sig_atomic_t handled_signo;

static void on_signal(int sig) {
    (void)sig;
    handled++;
}

static void on_signal_info(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    handled++;
    handled_signo = info->si_signo;
}

static void install(int flags) {
    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    act.sa_flags = flags;
    sigemptyset(&act.sa_mask);
    sigaction(SIGUSR1, &act, NULL);
}

/// SIGUSR1 for this thread 50 ms from now (then `action`'s second step 100 ms later).
static void signal_later(struct later *l, enum action action, int fd) {
    memset(l, 0, sizeof(*l));
    l->action = action;
    l->delay_ms = 50;
    l->fd = fd;
    l->data = "x";
    l->target = pthread_self();
    handled = 0;
    later_start(l);
}

static void signal_result(const char *name, long value, int error, const char *more) {
    char detail[160];
    snprintf(detail, sizeof(detail), "handled=%d %s", (int)handled, more ? more : "");
    result(name, value, error, detail);
}

static const char *describe_action(const struct sigaction *a) {
    static char text[128];
    void *handler = (a->sa_flags & SA_SIGINFO) ? (void *)a->sa_sigaction : (void *)a->sa_handler;
    const char *name = handler == (void *)SIG_DFL          ? "dfl"
                       : handler == (void *)SIG_IGN        ? "ign"
                       : handler == (void *)on_signal      ? "on_signal"
                       : handler == (void *)on_signal_info ? "on_signal_info"
                                                           : "other";
    snprintf(text, sizeof(text), "handler=%s siginfo=%d restart=%d resethand=%d nodefer=%d", name,
             !!(a->sa_flags & SA_SIGINFO), !!(a->sa_flags & SA_RESTART), !!(a->sa_flags & SA_RESETHAND),
             !!(a->sa_flags & SA_NODEFER));
    return text;
}

static void query(const char *name) {
    struct sigaction current;
    int r = sigaction(SIGUSR1, NULL, &current);
    result(name, r, errno, describe_action(&current));
}

static sigset_t mask_before_signals;

static void signals_interrupting(void) {
    // The linked run's thread may block SIGUSR1 (libdispatch's workers block most signals).
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_UNBLOCK, &usr1, &mask_before_signals);
    struct sigaction act, old;
    memset(&act, 0, sizeof(act));
    act.sa_handler = on_signal;
    sigemptyset(&act.sa_mask);
    int r = sigaction(SIGUSR1, &act, &old);
    // Only the old handler: the flags of a default action depend on what this process did before.
    result("sigaction_install", r, errno, old.sa_handler == SIG_DFL ? "old=dfl" : "old=other");
    query("sigaction_query");

    struct later l;
    int p[2];
    char buffer[16] = {0};
    pipe(p);
    signal_later(&l, SIGNAL, -1);
    ssize_t n = read(p[0], buffer, sizeof(buffer));
    signal_result("read_interrupted", n, errno, NULL);
    later_join(&l);

    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    signal_later(&l, SIGNAL, -1);
    n = recv(pair[0], buffer, sizeof(buffer), 0);
    signal_result("recv_interrupted", n, errno, NULL);
    later_join(&l);

    struct sockaddr_in address;
    int server = listener(&address, 4);
    signal_later(&l, SIGNAL, -1);
    r = accept(server, NULL, NULL);
    signal_result("accept_interrupted", r, errno, NULL);
    later_join(&l);

    struct pollfd pfd = {p[0], POLLIN, 0};
    signal_later(&l, SIGNAL, -1);
    r = poll(&pfd, 1, 5000);
    signal_result("poll_interrupted", r, errno, NULL);
    later_join(&l);

    fd_set set;
    FD_ZERO(&set);
    FD_SET(p[0], &set);
    struct timeval tv = {5, 0};
    signal_later(&l, SIGNAL, -1);
    r = select(p[0] + 1, &set, NULL, NULL, &tv);
    signal_result("select_interrupted", r, errno, NULL);
    later_join(&l);

    struct timespec request = {5, 0}, left = {0, 0};
    signal_later(&l, SIGNAL, -1);
    r = nanosleep(&request, &left);
    signal_result("nanosleep_interrupted", r, errno, left.tv_sec == 4 ? "left_ok=1" : "left_ok=0");
    later_join(&l);

    left.tv_sec = 0;
    signal_later(&l, SIGNAL, -1);
    r = clock_nanosleep(CLOCK_MONOTONIC, 0, &request, &left);
    signal_result("clock_nanosleep_interrupted", r, 0, left.tv_sec == 4 ? "left_ok=1" : "left_ok=0");
    later_join(&l);

    signal_later(&l, SIGNAL, -1);
    unsigned seconds = sleep(5);
    signal_result("sleep_interrupted", (long)seconds, 0, NULL);
    later_join(&l);

    signal_later(&l, SIGNAL, -1);
    r = usleep(5000000);
    signal_result("usleep_interrupted", r, errno, NULL);
    later_join(&l);

    // Timeouts near 1e10 s are "forever", not an overflow that expires at once.
    // (Linux caps a sleep at KTIME_MAX, ~9.2e9 s, which is also where the shim saturates.)
    struct timespec huge = {10000000000LL, 0};
    signal_later(&l, SIGNAL, -1);
    r = nanosleep(&huge, &left);
    signal_result("nanosleep_huge", r, errno, left.tv_sec > 9000000000LL ? "left_ok=1" : "left_ok=0");
    later_join(&l);

    struct timeval huge_timeout = {10000000000LL, 0};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &huge_timeout, sizeof(huge_timeout));
    signal_later(&l, SIGNAL, -1);
    n = recv(pair[0], buffer, sizeof(buffer), 0);
    signal_result("recv_huge_timeout", n, errno, NULL);
    later_join(&l);

    FD_ZERO(&set);
    FD_SET(p[0], &set);
    struct timeval huge_select = {10000000000LL, 0};
    signal_later(&l, SIGNAL, -1);
    r = select(p[0] + 1, &set, NULL, NULL, &huge_select);
    signal_result("select_huge", r, errno, NULL);
    later_join(&l);

    close(server);
    close(pair[0]);
    close(pair[1]);
    close(p[0]);
    close(p[1]);
}

static void signals_restarting(void) {
    install(SA_RESTART);
    query("sigaction_query_restart");
    struct later l;
    int p[2];
    char buffer[16] = {0};
    pipe(p);
    signal_later(&l, SIGNAL_THEN_WRITE, p[1]);
    ssize_t n = read(p[0], buffer, sizeof(buffer));
    signal_result("read_restarted", n, errno, buffer);
    later_join(&l);

    struct sockaddr_in address;
    int server = listener(&address, 4);
    signal_later(&l, SIGNAL_THEN_CONNECT, -1);
    l.address = address;
    int r = accept(server, NULL, NULL);
    signal_result("accept_restarted", r >= 0 ? 0 : r, errno, NULL);
    later_join(&l);
    if (r >= 0) {
        close(r);
    }
    close(l.extra_fd);

    struct pollfd pfd = {p[0], POLLIN, 0};
    signal_later(&l, SIGNAL, -1);
    r = poll(&pfd, 1, 5000);
    signal_result("poll_not_restarted", r, errno, NULL);
    later_join(&l);

    struct timespec request = {5, 0}, left = {0, 0};
    signal_later(&l, SIGNAL, -1);
    r = nanosleep(&request, &left);
    signal_result("nanosleep_not_restarted", r, errno, left.tv_sec == 4 ? "left_ok=1" : "left_ok=0");
    later_join(&l);

    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    struct timeval timeout = {5, 0};
    setsockopt(pair[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    signal_later(&l, SIGNAL, -1);
    n = recv(pair[0], buffer, sizeof(buffer), 0);
    signal_result("recv_timeout_not_restarted", n, errno, NULL);
    later_join(&l);

    struct sigaction act;
    memset(&act, 0, sizeof(act));
    act.sa_sigaction = on_signal_info;
    act.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&act.sa_mask);
    struct sigaction old;
    r = sigaction(SIGUSR1, &act, &old);
    result("sigaction_siginfo", r, errno, describe_action(&old));
    query("sigaction_query_siginfo");
    handled_signo = 0;
    signal_later(&l, SIGNAL_THEN_WRITE, p[1]);
    memset(buffer, 0, sizeof(buffer));
    n = read(p[0], buffer, sizeof(buffer));
    signal_result("read_restarted_siginfo", n, errno, handled_signo == SIGUSR1 ? "signo_ok=1" : "signo_ok=0");
    later_join(&l);

    close(server);
    close(pair[0]);
    close(pair[1]);
    close(p[0]);
    close(p[1]);
}

static void signals_older_interfaces(void) {
    sighandler_t previous = signal(SIGUSR1, on_signal);
    result("signal", 0, 0, previous == (sighandler_t)on_signal_info ? "old=on_signal_info" : "old=other");
    query("signal_query");
    struct later l;
    int p[2];
    char buffer[16] = {0};
    pipe(p);
    signal_later(&l, SIGNAL_THEN_WRITE, p[1]);
    ssize_t n = read(p[0], buffer, sizeof(buffer));
    signal_result("signal_read_restarted", n, errno, buffer);
    later_join(&l);

    int r = siginterrupt(SIGUSR1, 1);
    query("siginterrupt_query");
    signal_later(&l, SIGNAL, -1);
    n = read(p[0], buffer, sizeof(buffer));
    signal_result("siginterrupt_read", n, errno, NULL);
    later_join(&l);
    signal(SIGUSR1, on_signal);
    query("signal_after_siginterrupt");
    r = siginterrupt(SIGUSR1, 0);
    result("siginterrupt_off", r, errno, NULL);
    query("siginterrupt_off_query");

    previous = sysv_signal(SIGUSR1, on_signal);
    result("sysv_signal", 0, 0, previous == (sighandler_t)on_signal ? "old=on_signal" : "old=other");
    query("sysv_signal_query");
    struct pollfd pfd = {p[0], POLLIN, 0};
    signal_later(&l, SIGNAL, -1);
    r = poll(&pfd, 1, 5000);
    signal_result("sysv_signal_poll", r, errno, NULL);
    later_join(&l);
    query("sysv_signal_after_delivery");

    previous = sigset(SIGUSR1, on_signal);
    result("sigset", 0, 0, previous == SIG_DFL ? "old=dfl" : "old=other");
    query("sigset_query");
    previous = sigset(SIGUSR1, SIG_HOLD);
    result("sigset_hold", 0, 0, previous == (sighandler_t)on_signal ? "old=on_signal" : "old=other");
    previous = sigset(SIGUSR1, SIG_DFL);
    result("sigset_release", 0, 0, previous == SIG_HOLD ? "old=hold" : "old=other");
    query("sigset_release_query");
    close(p[0]);
    close(p[1]);
    pthread_sigmask(SIG_SETMASK, &mask_before_signals, NULL);
}

// MARK: - Error queues, bad pointers, errno after success, a second connect

static void fidelity(void) {
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    char buffer[64];
    ssize_t n = recv(udp, buffer, sizeof(buffer), MSG_ERRQUEUE);
    result("recv_errqueue_empty", n, errno, NULL);
    struct iovec iov = {buffer, sizeof(buffer)};
    char control[64];
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control)};
    n = recvmsg(udp, &msg, MSG_ERRQUEUE);
    result("recvmsg_errqueue_empty", n, errno, NULL);
    close(udp);

    int p[2];
    pipe(p);
    void *bad = (void *)16;
    n = readv(p[0], bad, 1);
    result("readv_bad_iov", n, errno, NULL);
    n = writev(p[1], bad, 1);
    result("writev_bad_iov", n, errno, NULL);
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    n = recvmsg(pair[0], bad, 0);
    result("recvmsg_bad_msghdr", n, errno, NULL);
    n = sendmsg(pair[0], bad, 0);
    result("sendmsg_bad_msghdr", n, errno, NULL);
    struct msghdr bad_iov_msg = {.msg_iov = bad, .msg_iovlen = 1};
    n = recvmsg(pair[0], &bad_iov_msg, 0);
    result("recvmsg_bad_iov", n, errno, NULL);
    struct sockaddr_storage from;
    // The kernel reads the length once data is there (without data, plain recvfrom blocks).
    send(pair[1], "z", 1, 0);
    n = recvfrom(pair[0], buffer, sizeof(buffer), 0, (struct sockaddr *)&from, bad);
    result("recvfrom_bad_addrlen", n, errno, NULL);
    struct timeval second = {1, 0};
    int r = select(p[0] + 1, bad, NULL, NULL, &second);
    result("select_bad_set", r, errno, NULL);
    struct timespec second_ts = {1, 0};
    r = pselect(p[0] + 1, bad, NULL, NULL, &second_ts, NULL);
    result("pselect_bad_set", r, errno, NULL);
    r = nanosleep(bad, NULL);
    result("nanosleep_bad_request", r, errno, NULL);
    r = clock_nanosleep(CLOCK_MONOTONIC, 0, bad, NULL);
    result("clock_nanosleep_bad_request", r, 0, NULL);

    // errno is the caller's after calls that worked, however they waited.
    struct later l = {.action = WRITE, .delay_ms = 30, .fd = p[1], .data = "e"};
    later_start(&l);
    errno = 0;
    n = read(p[0], buffer, sizeof(buffer));
    result("read_keeps_errno", n, errno, errno == 0 ? "errno_kept=1" : "errno_kept=0");
    later_join(&l);
    struct sockaddr_in address;
    int server = listener(&address, 4);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    errno = 0;
    r = connect(client, (struct sockaddr *)&address, sizeof(address));
    result("connect_keeps_errno", r, errno, errno == 0 ? "errno_kept=1" : "errno_kept=0");
    r = connect(client, (struct sockaddr *)&address, sizeof(address));
    result("connect_again", r, errno, NULL);
    errno = 0;
    int accepted = accept(server, NULL, NULL);
    result("accept_keeps_errno", accepted >= 0 ? 0 : accepted, errno, errno == 0 ? "errno_kept=1" : "errno_kept=0");
    struct pollfd pfd = {p[0], POLLIN, 0};
    memset(&l, 0, sizeof(l));
    l.action = WRITE;
    l.delay_ms = 30;
    l.fd = p[1];
    l.data = "e";
    later_start(&l);
    errno = 0;
    r = poll(&pfd, 1, 5000);
    result("poll_keeps_errno", r, errno, errno == 0 ? "errno_kept=1" : "errno_kept=0");
    later_join(&l);
    read(p[0], buffer, sizeof(buffer));
    errno = 0;
    struct timespec short_sleep = {0, 10000000};
    r = nanosleep(&short_sleep, NULL);
    result("nanosleep_keeps_errno", r, errno, errno == 0 ? "errno_kept=1" : "errno_kept=0");
    close(accepted);
    close(client);
    close(server);
    close(pair[0]);
    close(pair[1]);
    close(p[0]);
    close(p[1]);
}

int gevent_scenarios_run(int fd) {
    out_fd = fd;
    reads_and_eof();
    nonblocking_views();
    timeouts_and_writes();
    accepting_and_connecting();
    polling();
    duplicating();
    messages();
    sleeping_and_resolving();
    reading_files();
    signals_interrupting();
    signals_restarting();
    signals_older_interfaces();
    fidelity();
    return 0;
}

#ifdef SCENARIO_MAIN
// Preloaded: run the scenarios in the main greenlet while a ticker greenlet proves the hub kept switching.
typedef struct gevent_greenlet gevent_greenlet_t;
static volatile int finished;
static volatile long ticks;
static int (*gevent_sleep_fn)(double);

static void *tick(void *unused) {
    (void)unused;
    while (!finished) {
        gevent_sleep_fn(0.002);
        ticks++;
    }
    return NULL;
}

int main(void) {
    gevent_greenlet_t *(*spawn)(void *(*)(void *), void *) = dlsym(RTLD_DEFAULT, "gevent_spawn");
    int (*join)(gevent_greenlet_t *, void **) = dlsym(RTLD_DEFAULT, "gevent_join");
    gevent_sleep_fn = dlsym(RTLD_DEFAULT, "gevent_sleep");
    if (spawn == NULL || join == NULL || gevent_sleep_fn == NULL) {
        return gevent_scenarios_run(1);
    }
    gevent_greenlet_t *ticker = spawn(tick, NULL);
    gevent_scenarios_run(1);
    finished = 1;
    join(ticker, NULL);
    fprintf(stderr, "ticks=%ld\n", ticks);
    return ticks > 0 ? 0 : 3;
}
#endif
