// swift-gevent: a read(2) that makes no syscall and returns 0. Preloaded after libGeventPreload.so it is
// the "real" read the shim passes through to, so timing read() with and without the shim in front of it
// measures the shim's pass-through cost alone, free of the syscall's noise (run-passthrough.sh).
#include <unistd.h>

ssize_t read(int fd, void *buffer, size_t count) {
    (void)fd;
    (void)buffer;
    (void)count;
    return 0;
}
