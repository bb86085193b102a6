// swift-gevent: libev from Debian's libev-dev, with its function-like macros wrapped as functions
// Swift can call. Debian ships no pkg-config file for libev, so the module map links it by name.
#ifndef CLIBEV_H
#define CLIBEV_H

#include <ev.h>

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
static inline struct ev_loop *gevent_ev_default_loop(unsigned int flags) {
    return ev_default_loop(flags);
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
