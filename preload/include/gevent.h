/*
 * swift-gevent for C programs: greenlets and cooperative sleeps, from libGeventPreload.so.
 *
 * Build:   cc prog.c $(pkg-config --cflags --libs gevent)
 * Run:     ./prog                       (linked: the interposers in libGeventPreload come before libc's)
 *     or   gevent-run -- ./prog          (preloaded into a program built without it)
 *
 * A greenlet is a function running on its own stack on the calling thread. Greenlets switch only when one
 * blocks: gevent_sleep, gevent_join, gevent_run, or a blocking libc call that the shim made cooperative
 * (read, connect, poll, sleep, getaddrinfo... see GEVENT_PATCH). The first call on a thread makes the
 * calling code that thread's main greenlet.
 *
 *     static void *fetch(void *url) { ... blocking socket code ...; return result; }
 *
 *     gevent_greenlet_t *a = gevent_spawn(fetch, "http://127.0.0.1:8000/a");
 *     gevent_greenlet_t *b = gevent_spawn(fetch, "http://127.0.0.1:8000/b");
 *     void *ra, *rb;
 *     gevent_join(a, &ra);     // both fetches run concurrently
 *     gevent_join(b, &rb);
 *
 * Every function must be called on the thread whose greenlets it concerns; handles are not shared between
 * threads. Errors are returned as errno values (no function sets errno unless it says so).
 */
#ifndef GEVENT_H
#define GEVENT_H

#ifdef __cplusplus
extern "C" {
#endif

/* A spawned greenlet, until gevent_join releases it. */
typedef struct gevent_greenlet gevent_greenlet_t;

/*
 * Spawns a greenlet that runs function(argument) once the caller blocks or yields. Never switches.
 * Returns a handle for gevent_join, or NULL with errno set (EINVAL when function is NULL).
 */
gevent_greenlet_t *gevent_spawn(void *(*function)(void *), void *argument);

/*
 * Waits until the greenlet has finished, stores its function's return value in *result (if result is not
 * NULL) and releases the handle (in every case: do not use it again). May switch greenlets.
 * Returns 0; EINVAL for a NULL handle; EDEADLK when a greenlet joins itself; ECANCELED when the caller was
 * killed while waiting; ETIMEDOUT when a gevent Timeout interrupted it.
 */
int gevent_join(gevent_greenlet_t *greenlet, void **result);

/*
 * Suspends the calling greenlet for `seconds` while others run; 0 (or less) yields to the greenlets that
 * are ready. May switch greenlets. Returns 0, or ECANCELED/ETIMEDOUT when interrupted.
 */
int gevent_sleep(double seconds);

/*
 * Runs the hub until every greenlet has finished and nothing is left to wait for. Call it from the main
 * greenlet (the code that spawned the first greenlets). May switch greenlets. Returns 0, or EPERM when
 * called from another greenlet.
 */
int gevent_run(void);

/*
 * Patches the areas in the comma-separated list (socket, dns, time, select; or "all"), in addition to
 * those GEVENT_PATCH set when the library was loaded. Never switches. Returns 0, or EINVAL when a name
 * is unknown (the known ones are patched all the same).
 */
int gevent_patch(const char *areas);

#ifdef __cplusplus
}
#endif

#endif
