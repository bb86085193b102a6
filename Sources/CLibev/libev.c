// swift-gevent: loads libev privately. dlopen with RTLD_LOCAL keeps libev's names (ev_*, and the
// libevent-compatible event_* of Debian's build) out of the global scope, so neither a program's own libev
// (linked, dlopened, or bundled like Python gevent's) nor a libevent user can bind to ours; when the
// program has loaded libev.so.4 itself, dlopen returns that same library, and the hubs' loops (always
// ev_loop_new: libev's default loop, and its SIGCHLD handler, stay the program's) do not touch its own.
#include <ev.h>

#include "CLibev.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

// The table's types must be libev's own: a mismatch is a compile error, not a crash.
#define GEVENT_LIBEV_CHECK(field, function)                                                                            \
    _Static_assert(__builtin_types_compatible_p(__typeof__(gevent_libev.field), __typeof__(&function)),                \
                   #function " does not match gevent_libev." #field)

__attribute__((visibility("hidden"))) struct gevent_libev_functions gevent_libev;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_error;
static char load_message[512];

static void *resolve(void *handle, const char *name, int *missing) {
    void *address = dlsym(handle, name);
    if (address == NULL && *missing == 0) {
        *missing = 1;
        snprintf(load_message, sizeof load_message,
                 "swift-gevent: libev.so.4 has no %s: install Debian's libev4 (libev 4.x)", name);
    }
    return address;
}

static void load(void) {
    // RTLD_NOW: a missing function fails here, at the first hub, not in the middle of a run.
    void *handle = dlopen("libev.so.4", RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        snprintf(load_message, sizeof load_message,
                 "swift-gevent: cannot load libev.so.4 (%s): install Debian's libev4", dlerror());
        load_error = load_message;
        return;
    }
    int missing = 0;
    int (*version_major)(void) = (int (*)(void))resolve(handle, "ev_version_major", &missing);
    if (version_major != NULL && version_major() != EV_VERSION_MAJOR) {
        snprintf(load_message, sizeof load_message,
                 "swift-gevent: libev.so.4 is libev %d.x, built against %d.x: install Debian's libev4", version_major(),
                 EV_VERSION_MAJOR);
        load_error = load_message;
        return;
    }
    struct gevent_libev_functions table;
#define GEVENT_LIBEV_RESOLVE(field, function)                                                                          \
    GEVENT_LIBEV_CHECK(field, function);                                                                               \
    table.field = (__typeof__(table.field))resolve(handle, #function, &missing)
    GEVENT_LIBEV_RESOLVE(loop_new, ev_loop_new);
    GEVENT_LIBEV_RESOLVE(loop_destroy, ev_loop_destroy);
    GEVENT_LIBEV_RESOLVE(run, ev_run);
    GEVENT_LIBEV_RESOLVE(break_loop, ev_break);
    GEVENT_LIBEV_RESOLVE(ref, ev_ref);
    GEVENT_LIBEV_RESOLVE(unref, ev_unref);
    GEVENT_LIBEV_RESOLVE(now_update, ev_now_update);
    GEVENT_LIBEV_RESOLVE(set_userdata, ev_set_userdata);
    GEVENT_LIBEV_RESOLVE(userdata, ev_userdata);
    GEVENT_LIBEV_RESOLVE(set_loop_release_cb, ev_set_loop_release_cb);
    GEVENT_LIBEV_RESOLVE(io_start, ev_io_start);
    GEVENT_LIBEV_RESOLVE(io_stop, ev_io_stop);
    GEVENT_LIBEV_RESOLVE(timer_start, ev_timer_start);
    GEVENT_LIBEV_RESOLVE(timer_stop, ev_timer_stop);
    GEVENT_LIBEV_RESOLVE(idle_start, ev_idle_start);
    GEVENT_LIBEV_RESOLVE(idle_stop, ev_idle_stop);
    GEVENT_LIBEV_RESOLVE(prepare_start, ev_prepare_start);
    GEVENT_LIBEV_RESOLVE(prepare_stop, ev_prepare_stop);
    GEVENT_LIBEV_RESOLVE(async_start, ev_async_start);
    GEVENT_LIBEV_RESOLVE(async_stop, ev_async_stop);
    GEVENT_LIBEV_RESOLVE(async_send, ev_async_send);
    GEVENT_LIBEV_RESOLVE(signal_start, ev_signal_start);
    GEVENT_LIBEV_RESOLVE(signal_stop, ev_signal_stop);
    GEVENT_LIBEV_RESOLVE(loop_fork, ev_loop_fork);
    GEVENT_LIBEV_RESOLVE(iteration, ev_iteration);
#undef GEVENT_LIBEV_RESOLVE
    if (missing) {
        load_error = load_message;
        return;
    }
    gevent_libev = table;
}

const char *gevent_libev_load(void) {
    pthread_once(&load_once, load);
    return load_error;
}
