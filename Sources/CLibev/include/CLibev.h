// swift-gevent: libev from Debian's libev4, loaded privately at the first hub (gevent_libev_load) and called
// through a table, so libev's names never enter a process's global scope: a program (or Python gevent)
// with its own libev, or a libevent user (Debian's libev exports libevent's names too), must never bind
// to the copy the hub uses. The watcher macros of ev.h only fill in structs and stay as they are; the
// functions are reached through the gevent_ev_* wrappers below (ev.h's prototypes are switched off, so
// Swift cannot call libev directly by mistake).
#ifndef CLIBEV_H
#define CLIBEV_H

#ifndef EV_PROTOTYPES
#define EV_PROTOTYPES 0
#endif
#include <ev.h>

typedef void (*gevent_ev_loop_cb)(struct ev_loop *);

/// The libev functions the hub calls, resolved by gevent_libev_load.
struct gevent_libev_functions {
    struct ev_loop *(*loop_new)(unsigned int flags);
    void (*loop_destroy)(struct ev_loop *loop);
    int (*run)(struct ev_loop *loop, int flags);
    void (*break_loop)(struct ev_loop *loop, int how);
    void (*ref)(struct ev_loop *loop);
    void (*unref)(struct ev_loop *loop);
    void (*now_update)(struct ev_loop *loop);
    void (*set_userdata)(struct ev_loop *loop, void *data);
    void *(*userdata)(struct ev_loop *loop);
    void (*set_loop_release_cb)(struct ev_loop *loop, gevent_ev_loop_cb release, gevent_ev_loop_cb acquire);
    void (*io_start)(struct ev_loop *loop, ev_io *w);
    void (*io_stop)(struct ev_loop *loop, ev_io *w);
    void (*timer_start)(struct ev_loop *loop, ev_timer *w);
    void (*timer_stop)(struct ev_loop *loop, ev_timer *w);
    void (*idle_start)(struct ev_loop *loop, ev_idle *w);
    void (*idle_stop)(struct ev_loop *loop, ev_idle *w);
    void (*prepare_start)(struct ev_loop *loop, ev_prepare *w);
    void (*prepare_stop)(struct ev_loop *loop, ev_prepare *w);
    void (*async_start)(struct ev_loop *loop, ev_async *w);
    void (*async_stop)(struct ev_loop *loop, ev_async *w);
    void (*async_send)(struct ev_loop *loop, ev_async *w);
    void (*signal_start)(struct ev_loop *loop, ev_signal *w);
    void (*signal_stop)(struct ev_loop *loop, ev_signal *w);
    void (*loop_fork)(struct ev_loop *loop);
    unsigned int (*iteration)(struct ev_loop *loop);
};

/// Filled in once by gevent_libev_load; read-only afterwards (hidden: one load, no GOT, per call).
__attribute__((visibility("hidden"))) extern struct gevent_libev_functions gevent_libev;

/// Loads libev.so.4 with RTLD_LOCAL and fills `gevent_libev`, once per process (later calls return the
/// first call's result). Any thread; every hub calls it before its first libev call. Returns NULL, or a
/// message that says what is missing.
const char *gevent_libev_load(void);

static inline struct ev_loop *gevent_ev_loop_new(unsigned int flags) {
    return gevent_libev.loop_new(flags);
}
static inline void gevent_ev_loop_destroy(struct ev_loop *loop) {
    gevent_libev.loop_destroy(loop);
}
static inline int gevent_ev_run(struct ev_loop *loop, int flags) {
    return gevent_libev.run(loop, flags);
}
static inline void gevent_ev_break(struct ev_loop *loop, int how) {
    gevent_libev.break_loop(loop, how);
}
static inline void gevent_ev_ref(struct ev_loop *loop) {
    gevent_libev.ref(loop);
}
static inline void gevent_ev_unref(struct ev_loop *loop) {
    gevent_libev.unref(loop);
}
static inline void gevent_ev_now_update(struct ev_loop *loop) {
    gevent_libev.now_update(loop);
}
static inline void gevent_ev_set_userdata(struct ev_loop *loop, void *data) {
    gevent_libev.set_userdata(loop, data);
}
static inline void *gevent_ev_userdata(struct ev_loop *loop) {
    return gevent_libev.userdata(loop);
}
static inline void gevent_ev_set_loop_release_cb(struct ev_loop *loop, gevent_ev_loop_cb release,
                                                 gevent_ev_loop_cb acquire) {
    gevent_libev.set_loop_release_cb(loop, release, acquire);
}
static inline void gevent_ev_io_start(struct ev_loop *loop, ev_io *w) {
    gevent_libev.io_start(loop, w);
}
static inline void gevent_ev_io_stop(struct ev_loop *loop, ev_io *w) {
    gevent_libev.io_stop(loop, w);
}
static inline void gevent_ev_timer_start(struct ev_loop *loop, ev_timer *w) {
    gevent_libev.timer_start(loop, w);
}
static inline void gevent_ev_timer_stop(struct ev_loop *loop, ev_timer *w) {
    gevent_libev.timer_stop(loop, w);
}
static inline void gevent_ev_idle_start(struct ev_loop *loop, ev_idle *w) {
    gevent_libev.idle_start(loop, w);
}
static inline void gevent_ev_idle_stop(struct ev_loop *loop, ev_idle *w) {
    gevent_libev.idle_stop(loop, w);
}
static inline void gevent_ev_prepare_start(struct ev_loop *loop, ev_prepare *w) {
    gevent_libev.prepare_start(loop, w);
}
static inline void gevent_ev_prepare_stop(struct ev_loop *loop, ev_prepare *w) {
    gevent_libev.prepare_stop(loop, w);
}
static inline void gevent_ev_async_start(struct ev_loop *loop, ev_async *w) {
    gevent_libev.async_start(loop, w);
}
static inline void gevent_ev_async_stop(struct ev_loop *loop, ev_async *w) {
    gevent_libev.async_stop(loop, w);
}
static inline void gevent_ev_async_send(struct ev_loop *loop, ev_async *w) {
    gevent_libev.async_send(loop, w);
}
static inline void gevent_ev_signal_start(struct ev_loop *loop, ev_signal *w) {
    gevent_libev.signal_start(loop, w);
}
static inline void gevent_ev_signal_stop(struct ev_loop *loop, ev_signal *w) {
    gevent_libev.signal_stop(loop, w);
}
static inline void gevent_ev_loop_fork(struct ev_loop *loop) {
    gevent_libev.loop_fork(loop);
}
static inline unsigned int gevent_ev_iteration(struct ev_loop *loop) {
    return gevent_libev.iteration(loop);
}

// The watcher macros, as functions Swift can call.
typedef void (*gevent_ev_timer_cb)(struct ev_loop *, ev_timer *, int);
typedef void (*gevent_ev_io_cb)(struct ev_loop *, ev_io *, int);
typedef void (*gevent_ev_prepare_cb)(struct ev_loop *, ev_prepare *, int);
typedef void (*gevent_ev_check_cb)(struct ev_loop *, ev_check *, int);
typedef void (*gevent_ev_idle_cb)(struct ev_loop *, ev_idle *, int);
typedef void (*gevent_ev_async_cb)(struct ev_loop *, ev_async *, int);
typedef void (*gevent_ev_signal_cb)(struct ev_loop *, ev_signal *, int);
typedef void (*gevent_ev_child_cb)(struct ev_loop *, ev_child *, int);

static inline void gevent_ev_timer_init(ev_timer *w, gevent_ev_timer_cb cb, ev_tstamp after, ev_tstamp repeat) {
    ev_timer_init(w, cb, after, repeat);
}
static inline void gevent_ev_timer_set(ev_timer *w, ev_tstamp after, ev_tstamp repeat) {
    ev_timer_set(w, after, repeat);
}
static inline void gevent_ev_io_init(ev_io *w, gevent_ev_io_cb cb, int fd, int events) {
    ev_io_init(w, cb, fd, events);
}
static inline void gevent_ev_io_set(ev_io *w, int fd, int events) {
    ev_io_set(w, fd, events);
}
static inline void gevent_ev_prepare_init(ev_prepare *w, gevent_ev_prepare_cb cb) {
    ev_prepare_init(w, cb);
}
static inline void gevent_ev_check_init(ev_check *w, gevent_ev_check_cb cb) {
    ev_check_init(w, cb);
}
static inline void gevent_ev_idle_init(ev_idle *w, gevent_ev_idle_cb cb) {
    ev_idle_init(w, cb);
}
static inline void gevent_ev_async_init(ev_async *w, gevent_ev_async_cb cb) {
    ev_async_init(w, cb);
}
static inline void gevent_ev_signal_init(ev_signal *w, gevent_ev_signal_cb cb, int signum) {
    ev_signal_init(w, cb, signum);
}
static inline void gevent_ev_child_init(ev_child *w, gevent_ev_child_cb cb, int pid, int trace) {
    ev_child_init(w, cb, pid, trace);
}
static inline int gevent_ev_is_active(const void *w) {
    return ev_is_active((const ev_watcher *)w);
}
static inline int gevent_ev_is_pending(const void *w) {
    return ev_is_pending((const ev_watcher *)w);
}
static inline void gevent_ev_set_priority(void *w, int priority) {
    ev_set_priority((ev_watcher *)w, priority);
}
static inline int gevent_ev_async_pending(ev_async *w) {
    return ev_async_pending(w);
}

// The EV_* flags Swift sees as enum constants or not at all, re-exported with plain types.
static const int gevent_EV_READ = EV_READ;
static const int gevent_EV_WRITE = EV_WRITE;
static const int gevent_EV_TIMER = EV_TIMER;
static const int gevent_EV_ERROR = EV_ERROR;
static const int gevent_EVRUN_NOWAIT = EVRUN_NOWAIT;
static const int gevent_EVRUN_ONCE = EVRUN_ONCE;
static const int gevent_EVBREAK_ALL = EVBREAK_ALL;
static const int gevent_EVBREAK_ONE = EVBREAK_ONE;
static const unsigned int gevent_EVFLAG_AUTO = EVFLAG_AUTO;
static const unsigned int gevent_EVFLAG_NOENV = EVFLAG_NOENV;
static const unsigned int gevent_EVBACKEND_SELECT = EVBACKEND_SELECT;
static const unsigned int gevent_EVBACKEND_POLL = EVBACKEND_POLL;
static const unsigned int gevent_EVBACKEND_EPOLL = EVBACKEND_EPOLL;
static const unsigned int gevent_EVBACKEND_LINUXAIO = EVBACKEND_LINUXAIO;
static const unsigned int gevent_EVBACKEND_IOURING = EVBACKEND_IOURING;
static const int gevent_EV_MINPRI = EV_MINPRI;
static const int gevent_EV_MAXPRI = EV_MAXPRI;

#endif
