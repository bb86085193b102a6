// swift-gevent tests: "unaware" C code (plain blocking libc calls, no knowledge of greenlets) and a
// delaying server on a native thread, for the shim's concurrency tests.
#ifndef CSHIM_TEST_SUPPORT_H
#define CSHIM_TEST_SUPPORT_H

#include <stddef.h>

/// Starts a TCP server on 127.0.0.1 (ephemeral port, stored in *port) on its own native thread. Each
/// connection sends one line; the server answers "echo: <line>" after `delay_ms` and closes. Returns 0 or
/// an errno value.
int shim_test_delay_server_start(int delay_ms, int *port);

/// Stops the server started last and waits for its thread.
void shim_test_delay_server_stop(void);

/// A client written as if greenlets did not exist: socket, connect, write, read until EOF, close.
/// Returns the reply length (NUL-terminated in `reply`), or -errno.
int shim_test_unaware_request(int port, const char *line, char *reply, size_t capacity);

/// read(2) called from C code compiled into the test binary.
long shim_test_read(int fd, void *buffer, size_t count);

/// Starts `count` pthreads that each sleep `sleep_ms` (usleep) and note their OS thread id, then joins them.
/// Returns how many ran on the caller's OS thread, or -1 when one could not be created or joined; the wall
/// time from the first create to the last join goes to *elapsed_ms.
int shim_test_sleeping_pthreads(int count, int sleep_ms, double *elapsed_ms);

/// The path of the loaded image (executable or shared library) that contains `address`, or NULL.
const char *shim_test_image_of(const void *address);
#endif
