// swift-gevent preload tests: a program with its own use of libev, linked with -lev or (with
// -DLIBEV_DLOPEN) loading libev.so.4 itself after the preload library has. It runs greenlets when the
// preload library's gevent.h API is present, then libev's default loop (an io watcher on a pipe, a timer,
// an async). Its output must be the same with and without gevent-run.
#include <dlfcn.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef LIBEV_DLOPEN
static struct ev_loop *(*default_loop)(unsigned int);
static void (*io_start)(struct ev_loop *, ev_io *);
static void (*io_stop)(struct ev_loop *, ev_io *);
static void (*timer_start)(struct ev_loop *, ev_timer *);
static void (*async_start)(struct ev_loop *, ev_async *);
static void (*async_stop)(struct ev_loop *, ev_async *);
static void (*async_send)(struct ev_loop *, ev_async *);
static int (*run)(struct ev_loop *, int);
static int (*version_major)(void);

static void *need(void *handle, const char *name) {
    void *address = dlsym(handle, name);
    if (address == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(2);
    }
    return address;
}

static void load(void) {
    void *handle = dlopen("libev.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        exit(2);
    }
    default_loop = need(handle, "ev_default_loop");
    io_start = need(handle, "ev_io_start");
    io_stop = need(handle, "ev_io_stop");
    timer_start = need(handle, "ev_timer_start");
    async_start = need(handle, "ev_async_start");
    async_stop = need(handle, "ev_async_stop");
    async_send = need(handle, "ev_async_send");
    run = need(handle, "ev_run");
    version_major = need(handle, "ev_version_major");
}
#else
#define default_loop ev_default_loop
#define io_start ev_io_start
#define io_stop ev_io_stop
#define timer_start ev_timer_start
#define async_start ev_async_start
#define async_stop ev_async_stop
#define async_send ev_async_send
#define run ev_run
#define version_major ev_version_major
static void load(void) {}
#endif

static int pipe_fds[2];
static ev_io reader;
static ev_timer timer;
static ev_async wakeup;

static void on_async(struct ev_loop *loop, ev_async *w, int revents) {
    (void)revents;
    printf("async\n");
    async_stop(loop, w);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents) {
    char buffer[16] = {0};
    ssize_t n = read(w->fd, buffer, sizeof buffer - 1);
    printf("readable %d: %zd '%s'\n", revents & EV_READ, n, buffer);
    io_stop(loop, w);
    async_send(loop, &wakeup);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)w;
    printf("timer %d\n", revents & EV_TIMER);
    ssize_t n = write(pipe_fds[1], "ping", 4);
    (void)n;
}

static void *nap(void *argument) {
    usleep(20000);
    return argument;
}

int main(void) {
    // Greenlets first when the preload library offers them, so its hub has loaded libev before this
    // program does (with -DLIBEV_DLOPEN) and both use the same libev.so.4.
    void *(*spawn)(void *(*)(void *), void *) = dlsym(RTLD_DEFAULT, "gevent_spawn");
    int (*join)(void *, void **) = dlsym(RTLD_DEFAULT, "gevent_join");
    long sum = 0;
    for (long i = 1; i <= 3; i++) {
        void *result = NULL;
        if (spawn != NULL && join != NULL) {
            join(spawn(nap, (void *)i), &result);
        } else {
            result = nap((void *)i);
        }
        sum += (long)result;
    }
    printf("greenlets %ld\n", sum);
    load();
    printf("libev %d\n", version_major());

    struct ev_loop *loop = default_loop(0);
    if (loop == NULL || pipe(pipe_fds) != 0) {
        return 3;
    }
    ev_io_init(&reader, on_readable, pipe_fds[0], EV_READ);
    io_start(loop, &reader);
    ev_timer_init(&timer, on_timer, 0.01, 0.);
    timer_start(loop, &timer);
    ev_async_init(&wakeup, on_async);
    async_start(loop, &wakeup);
    int left = run(loop, 0);
    printf("done %d\n", left);
    return 0;
}
