// swift-gevent preload tests: a libevent program. Built three ways: linked with -levent; reaching
// libevent through a library of its own (-DLIBEVENT_VIA_LIBRARY, the way libunbound users do); or loading
// libevent-2.1.so.7 itself (-DLIBEVENT_DLOPEN). Debian's libev exports libevent's names too, so a libev in
// the global scope would take over libevent's calls to itself. The output must be the same with and
// without gevent-run.
#include <dlfcn.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef LIBEVENT_DLOPEN
static struct event_base *(*base_new)(void);
static struct event *(*event_make)(struct event_base *, evutil_socket_t, short, event_callback_fn, void *);
static int (*add)(struct event *, const struct timeval *);
static int (*dispatch)(struct event_base *);
static void (*event_release)(struct event *);
static void (*base_release)(struct event_base *);
static const char *(*method)(const struct event_base *);

static void *need(void *handle, const char *name) {
    void *address = dlsym(handle, name);
    if (address == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(2);
    }
    return address;
}

static void load(void) {
    void *handle = dlopen("libevent-2.1.so.7", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        exit(2);
    }
    base_new = need(handle, "event_base_new");
    event_make = need(handle, "event_new");
    add = need(handle, "event_add");
    dispatch = need(handle, "event_base_dispatch");
    event_release = need(handle, "event_free");
    base_release = need(handle, "event_base_free");
    method = need(handle, "event_base_get_method");
}
#else
#define base_new event_base_new
#define event_make event_new
#define add event_add
#define dispatch event_base_dispatch
#define event_release event_free
#define base_release event_base_free
#define method event_base_get_method
static void load(void) {}
#endif

#ifdef LIBEVENT_LIBRARY
// The library half of -DLIBEVENT_VIA_LIBRARY: all of libevent's use is in here.
int run_events(void);
#elif defined(LIBEVENT_VIA_LIBRARY)
int run_events(void);
int main(void) {
    return run_events();
}
#endif

#ifndef LIBEVENT_VIA_LIBRARY
static int pipe_fds[2];
static int ticks;
static struct event *ticker;

static void on_readable(evutil_socket_t fd, short what, void *argument) {
    (void)argument;
    char buffer[16] = {0};
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    printf("readable %d: %zd '%s'\n", (what & EV_READ) != 0, n, buffer);
}

static void on_tick(evutil_socket_t fd, short what, void *argument) {
    (void)fd;
    (void)argument;
    printf("tick %d %d\n", ++ticks, (what & EV_TIMEOUT) != 0);
    if (ticks < 3) {
        struct timeval again = {0, 5000};
        add(ticker, &again);
    } else {
        ssize_t n = write(pipe_fds[1], "pong", 4);
        (void)n;
    }
}

#ifdef LIBEVENT_LIBRARY
int run_events(void) {
#else
int main(void) {
#endif
    load();
    struct event_base *base = base_new();
    if (base == NULL || pipe(pipe_fds) != 0) {
        return 3;
    }
    printf("backend %s\n", method(base));
    struct event *reader = event_make(base, pipe_fds[0], EV_READ, on_readable, NULL);
    ticker = event_make(base, -1, 0, on_tick, NULL);
    struct timeval first = {0, 5000};
    add(reader, NULL);
    add(ticker, &first);
    int status = dispatch(base);
    printf("done %d\n", status);
    event_release(reader);
    event_release(ticker);
    base_release(base);
    return 0;
}
#endif
