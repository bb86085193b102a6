// swift-gevent: area `thread`: flockfile/ftrylockfile/funlockfile between greenlets of one OS thread.
// glibc's stream lock is recursive and records its owner as the OS thread, so a greenlet-thread that holds
// a stream across a switch (flockfile, a write to a socket, funlockfile) shares it with every other greenlet
// of its thread: their flockfile returns at once and their output interleaves with the holder's. While
// `thread` is patched, a greenlet's flockfile also records which greenlet-thread holds the stream, and
// another greenlet of the thread waits, cooperatively, until the holder's last funlockfile. The lock itself
// stays glibc's, so stdio's own locking inside printf and fputs, and OS threads, see it as before. stdio's
// internal locking (printf without flockfile) still knows only OS threads: that is documented.
#include "shim.h"

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute push(__attribute__((disable_sanitizer_instrumentation)), apply_to = function)
#endif

#include <stdio.h>

SHIM_REAL(flockfile)
SHIM_REAL(ftrylockfile)
SHIM_REAL(funlockfile)

/// A stream a greenlet holds through flockfile, and how often it locked it.
typedef struct held_stream {
    FILE *stream;
    int holder;
    unsigned depth;
} held_stream_t;

/// Streams held by greenlets across the process: few at once (a stream is held for one burst of output).
/// When every slot is taken, a lock is glibc's alone (shared by the greenlets of its thread, as unpatched).
enum { HELD_STREAMS = 64 };
static held_stream_t held_streams[HELD_STREAMS];
static atomic_flag held_streams_lock = ATOMIC_FLAG_INIT;

static void lock_table(void) {
    while (atomic_flag_test_and_set_explicit(&held_streams_lock, memory_order_acquire)) {
        syscall(SYS_sched_yield);
    }
}

static void unlock_table(void) {
    atomic_flag_clear_explicit(&held_streams_lock, memory_order_release);
}

static held_stream_t *entry_of(FILE *stream) {
    for (int index = 0; index < HELD_STREAMS; index++) {
        if (held_streams[index].stream == stream) {
            return &held_streams[index];
        }
    }
    return NULL;
}

/// Takes `stream` for the running greenlet: 0, or EBUSY while another greenlet (of any thread) or another
/// OS thread holds it.
static int try_stream(void *context) {
    FILE *stream = context;
    int me = shim_thread_identity();
    lock_table();
    held_stream_t *entry = entry_of(stream);
    int status = EBUSY;
    if (entry != NULL && entry->holder == me) {
        entry->depth++;
        // Ours on this OS thread: glibc only counts.
        real_flockfile()(stream);
        status = 0;
    } else if (entry == NULL && real_ftrylockfile()(stream) == 0) {
        held_stream_t *free_entry = entry_of(NULL);
        if (free_entry != NULL) {
            *free_entry = (held_stream_t){.stream = stream, .holder = me, .depth = 1};
        }
        status = 0;
    }
    unlock_table();
    return status;
}

SHIM_EXPORT void flockfile(FILE *stream) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_THREAD))) {
        real_flockfile()(stream);
        return;
    }
    if (try_stream(stream) == 0) {
        return;
    }
    // Nothing signals a stream's release: poll, as for the locks glibc keeps.
    if (shim_poll_cooperatively(try_stream, stream, 0, 16000000) < 0) {
        real_flockfile()(stream);
    }
}

SHIM_EXPORT int ftrylockfile(FILE *stream) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_THREAD))) {
        return real_ftrylockfile()(stream);
    }
    return try_stream(stream) == 0 ? 0 : -1;
}

SHIM_EXPORT void funlockfile(FILE *stream) {
    if (SHIM_UNLIKELY(shim_enabled(GEVENT_SHIM_AREA_THREAD))) {
        int me = shim_thread_identity();
        lock_table();
        held_stream_t *entry = entry_of(stream);
        if (entry != NULL && entry->holder == me && --entry->depth == 0) {
            *entry = (held_stream_t){0};
        }
        unlock_table();
    }
    real_funlockfile()(stream);
}

#if defined(__has_feature) && __has_feature(thread_sanitizer)
#pragma clang attribute pop
#endif
