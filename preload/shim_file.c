// swift-gevent: reads of regular files and block devices, off the hub when they would wait for the disk.
// A page-cache hit costs about what a plain read does through preadv2(RWF_NOWAIT); only a read that would
// wait for the device (EAGAIN) runs on the hub's thread pool while the greenlet waits. Memory-backed
// filesystems (tmpfs, procfs...) and kernels without RWF_NOWAIT read inline, as before. Writes stay
// inline: buffered writes land in the page cache (wave2-anchors §3 has the measurements).
#include "shim.h"

#include <linux/magic.h>
#include <sys/statfs.h>

/// The classified entry of a regular file or block device that may read through the pool, or NULL.
static shim_fd_t *file_entry(int fd) {
    shim_fd_t *entry = shim_fd_entry(fd, false);
    if (entry == NULL) {
        return NULL;
    }
    uint32_t flags = atomic_load_explicit(&entry->flags, memory_order_acquire);
    if ((flags & (SHIM_FD_KNOWN | SHIM_FD_FILE | SHIM_FD_NONBLOCK | SHIM_FD_NO_NOWAIT)) !=
        (SHIM_FD_KNOWN | SHIM_FD_FILE)) {
        return NULL;
    }
    return entry;
}

SHIM_HIDDEN bool shim_file_in_memory(int fd) {
    struct statfs fs;
    if (fstatfs(fd, &fs) != 0) {
        return false;
    }
    switch ((unsigned long)fs.f_type) {
    case TMPFS_MAGIC:
    case RAMFS_MAGIC:
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
        return true;
    default:
        return false;
    }
}

/// Bytes this thread read from the page cache without yielding since it last let others run.
static SHIM_TLS size_t inline_bytes;
enum { SHIM_FILE_YIELD_BYTES = 2 << 20 };

struct file_read {
    int fd;
    const struct iovec *iov;
    int count;
    off_t offset; // -1: the file offset, as read/readv use it
    ssize_t result;
    int error;
};

static ssize_t real_preadv(int fd, const struct iovec *iov, int count, off_t offset) {
    return shim_real.preadv ? shim_real.preadv(fd, iov, count, offset)
                            : syscall(SYS_preadv, fd, iov, count, (long)offset, (long)0);
}

static ssize_t real_read(int fd, const struct iovec *iov, int count, off_t offset) {
    if (offset >= 0) {
        return real_preadv(fd, iov, count, offset);
    }
    // read(2) itself for one buffer: some character devices answer read and readv differently.
    return count == 1 ? shim_sys_read(fd, iov[0].iov_base, iov[0].iov_len) : shim_sys_readv(fd, iov, count);
}

static void run_file_read(void *argument) {
    struct file_read *call = argument;
    call->result = real_read(call->fd, call->iov, call->count, call->offset);
    call->error = errno;
}

SHIM_HIDDEN ssize_t shim_file_read(int fd, const struct iovec *iov, int count, off_t offset) {
    shim_fd_t *entry;
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || (entry = file_entry(fd)) == NULL ||
        shim_real.preadv2 == NULL) {
        return real_read(fd, iov, count, offset);
    }
    int saved = errno;
    ssize_t n = shim_real.preadv2(fd, iov, count, offset, RWF_NOWAIT);
    if (n >= 0) {
        // Reads the page cache answers never wait, so a greenlet streaming a file that readahead keeps
        // ahead of it would hold the hub for the whole file: after every few MiB copied it lets the others
        // run once.
        inline_bytes += (size_t)n;
        if (SHIM_UNLIKELY(inline_bytes >= SHIM_FILE_YIELD_BYTES)) {
            inline_bytes = 0;
            // Through a zero timer, not the callback queue: the hub then polls and runs expired timers
            // first, even while a burst of queued callbacks would keep it draining.
            gevent_shim_wait_fds(NULL, 0, 0);
        }
        errno = saved;
        return n;
    }
    int e = errno;
    if (e == EOPNOTSUPP || e == EINVAL) {
        // No RWF_NOWAIT for this file (or a real EINVAL, which the plain call reports again).
        if (e == EOPNOTSUPP) {
            atomic_fetch_or(&entry->flags, SHIM_FD_NO_NOWAIT);
        }
        errno = saved;
        return real_read(fd, iov, count, offset);
    }
    if (e != EAGAIN) {
        return -1; // EBADF, EFAULT, EISDIR...: what the plain call would say
    }
    struct file_read call = {fd, iov, count, offset, 0, 0};
    inline_bytes = 0; // the greenlet waits below: the others run
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    int code = gevent_shim_offload(run_file_read, &call);
    if (code == GEVENT_SHIM_CANNOT_WAIT) {
        errno = saved;
        return real_read(fd, iov, count, offset);
    }
    if (code != GEVENT_SHIM_READY) {
        errno = shim_wait_errno(code);
        return -1;
    }
    errno = call.result < 0 ? call.error : saved;
    return call.result;
}

// MARK: - The positioned reads (read, readv and their _chk variant go through shim_io.c)

SHIM_EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t offset) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || offset < 0) {
        return shim_real.pread ? shim_real.pread(fd, buf, n, offset) : syscall(SYS_pread64, fd, buf, n, offset);
    }
    shim_fd_prepare(fd); // classifies fds seen for the first time
    struct iovec iov = {buf, n};
    return shim_file_read(fd, &iov, 1, offset);
}

SHIM_EXPORT ssize_t pread64(int fd, void *buf, size_t n, off_t offset) {
    return pread(fd, buf, n, offset);
}

SHIM_EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t offset, size_t buflen) {
    if (n > buflen && shim_real.pread_chk != NULL) {
        return shim_real.pread_chk(fd, buf, n, offset, buflen); // reports the overflow and aborts
    }
    return pread(fd, buf, n, offset);
}

SHIM_EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t offset, size_t buflen) {
    return __pread_chk(fd, buf, n, offset, buflen);
}

SHIM_EXPORT ssize_t preadv(int fd, const struct iovec *iov, int count, off_t offset) {
    if (SHIM_LIKELY(!shim_enabled(GEVENT_SHIM_AREA_SOCKET)) || offset < 0) {
        return real_preadv(fd, iov, count, offset);
    }
    shim_fd_prepare(fd);
    return shim_file_read(fd, iov, count, offset);
}

SHIM_EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int count, off_t offset) {
    return preadv(fd, iov, count, offset);
}
