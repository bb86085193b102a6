// swift-gevent: the shadow fd table. One entry per fd number: what the fd is (classified once), the
// user's O_NONBLOCK view, SO_RCVTIMEO/SO_SNDTIMEO, a generation that changes when the number is closed or
// replaced, and how many greenlets wait on it. Entries live in pages mapped on demand and never freed, so
// a hook running during exit or in a signal handler never touches freed memory.
#include "shim.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define SHIM_FD_PAGE_BITS 12
#define SHIM_FD_PAGE_SIZE (1 << SHIM_FD_PAGE_BITS)
#define SHIM_FD_PAGES 4096 // fds below 16 Mi; larger numbers pass through

static _Atomic(shim_fd_t *) pages[SHIM_FD_PAGES];

/// Bumped when O_NONBLOCK or a socket timeout changes on an fd that may share its open file description
/// (or socket) with others: SHARED entries re-read the kernel's state when their epoch is older.
static _Atomic uint32_t shim_epoch = 1;

SHIM_HIDDEN shim_fd_t *shim_fd_entry(int fd, bool create) {
    if (fd < 0 || fd >= SHIM_FD_PAGES * SHIM_FD_PAGE_SIZE) {
        return NULL;
    }
    _Atomic(shim_fd_t *) *slot = &pages[fd >> SHIM_FD_PAGE_BITS];
    shim_fd_t *page = atomic_load_explicit(slot, memory_order_acquire);
    if (page == NULL) {
        if (!create) {
            return NULL;
        }
        void *mapped = mmap(NULL, sizeof(shim_fd_t) * SHIM_FD_PAGE_SIZE, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapped == MAP_FAILED) {
            return NULL;
        }
        shim_fd_t *expected = NULL;
        if (atomic_compare_exchange_strong(slot, &expected, (shim_fd_t *)mapped)) {
            page = mapped;
        } else {
            munmap(mapped, sizeof(shim_fd_t) * SHIM_FD_PAGE_SIZE);
            page = expected;
        }
    }
    return &page[fd & (SHIM_FD_PAGE_SIZE - 1)];
}

static int64_t socket_timeout(int fd, int option) {
    struct timeval tv = {0, 0};
    socklen_t length = sizeof(tv);
    if (getsockopt(fd, SOL_SOCKET, option, &tv, &length) != 0) {
        return 0;
    }
    return shim_timeval_ns(&tv);
}

/// Asks the kernel what `fd` is. Called on first use of an fd we did not see created (inherited, opened
/// by libc internally or before patching) and when a SHARED entry's epoch is stale.
static uint32_t classify(int fd, shim_fd_t *entry) {
    uint32_t epoch = atomic_load(&shim_epoch);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return 0; // not an open fd: the real call reports EBADF
    }
    uint32_t flags = SHIM_FD_KNOWN | SHIM_FD_SHARED;
    int64_t receive = 0, send = 0;
    switch (st.st_mode & S_IFMT) {
    case S_IFSOCK: {
        flags |= SHIM_FD_POLLABLE | SHIM_FD_SOCKET;
        int type = 0;
        socklen_t length = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM) {
            flags |= SHIM_FD_STREAM;
        }
        receive = socket_timeout(fd, SO_RCVTIMEO);
        send = socket_timeout(fd, SO_SNDTIMEO);
        break;
    }
    case S_IFIFO:
    case S_IFCHR:
    case 0: // anonymous inodes: eventfd, timerfd, signalfd, epoll, inotify
        flags |= SHIM_FD_POLLABLE | SHIM_FD_STREAM;
        break;
    case S_IFREG:
    case S_IFBLK:
        // Always "ready" to poll, but a read may wait for the device: shim_file.c.
        if (!shim_file_in_memory(fd)) {
            flags |= SHIM_FD_FILE;
        }
        break;
    default: // directories
        break;
    }
    int status = shim_sys_fcntl(fd, F_GETFL, NULL);
    if (status < 0) {
        return 0;
    }
    if (status & O_NONBLOCK) {
        flags |= SHIM_FD_NONBLOCK;
    }
    uint32_t kept = atomic_load(&entry->flags) & SHIM_FD_NO_NOWAIT;
    atomic_store(&entry->receive_timeout_ns, receive);
    atomic_store(&entry->send_timeout_ns, send);
    atomic_store(&entry->epoch, epoch);
    atomic_store(&entry->flags, flags | kept);
    return flags | kept;
}

SHIM_HIDDEN shim_fd_t *shim_fd_prepare(int fd) {
    if (SHIM_UNLIKELY(!atomic_load_explicit(&shim_tracking, memory_order_relaxed))) {
        atomic_store(&shim_tracking, true);
    }
    shim_fd_t *entry = shim_fd_entry(fd, true);
    if (entry == NULL) {
        return NULL;
    }
    uint32_t flags = atomic_load_explicit(&entry->flags, memory_order_acquire);
    if (!(flags & SHIM_FD_KNOWN) ||
        ((flags & SHIM_FD_SHARED) && atomic_load(&entry->epoch) != atomic_load(&shim_epoch))) {
        flags = classify(fd, entry);
    }
    if ((flags & (SHIM_FD_POLLABLE | SHIM_FD_NONBLOCK)) != SHIM_FD_POLLABLE) {
        return NULL;
    }
    return entry;
}

SHIM_HIDDEN void shim_fd_created(int fd, uint32_t flags, int64_t receive_timeout_ns, int64_t send_timeout_ns) {
    if (!atomic_load_explicit(&shim_tracking, memory_order_relaxed)) {
        return;
    }
    shim_fd_t *entry = shim_fd_entry(fd, true);
    if (entry == NULL) {
        return;
    }
    atomic_fetch_add(&entry->generation, 1);
    atomic_store(&entry->receive_timeout_ns, receive_timeout_ns);
    atomic_store(&entry->send_timeout_ns, send_timeout_ns);
    atomic_store(&entry->epoch, atomic_load(&shim_epoch));
    atomic_store_explicit(&entry->flags, flags | SHIM_FD_KNOWN, memory_order_release);
}

SHIM_HIDDEN void shim_fd_closing(int fd) {
    if (!atomic_load_explicit(&shim_tracking, memory_order_relaxed)) {
        return;
    }
    shim_fd_t *entry = shim_fd_entry(fd, false);
    if (entry == NULL) {
        return;
    }
    // Sequentially consistent on both sides (here and in shim_wait_fd/Swift's registration): either this
    // close sees the waiter, or the waiter sees the new generation and never waits.
    atomic_fetch_add(&entry->generation, 1);
    atomic_store(&entry->flags, 0);
    if (atomic_load(&entry->waiters) != 0) {
        gevent_shim_fd_closing(fd);
    }
}

SHIM_HIDDEN void shim_fd_duplicated(int oldfd, int newfd) {
    if (!atomic_load_explicit(&shim_tracking, memory_order_relaxed)) {
        return;
    }
    shim_fd_t *old_entry = shim_fd_entry(oldfd, false);
    shim_fd_t *new_entry = shim_fd_entry(newfd, true);
    if (new_entry == NULL) {
        return;
    }
    atomic_fetch_add(&new_entry->generation, 1);
    uint32_t flags = old_entry ? atomic_load(&old_entry->flags) : 0;
    if (!(flags & SHIM_FD_KNOWN)) {
        atomic_store(&new_entry->flags, 0); // classified on first use
        return;
    }
    // Both numbers now share one open file description (O_NONBLOCK) and one socket (timeouts).
    atomic_fetch_or(&old_entry->flags, SHIM_FD_SHARED);
    atomic_store(&new_entry->receive_timeout_ns, atomic_load(&old_entry->receive_timeout_ns));
    atomic_store(&new_entry->send_timeout_ns, atomic_load(&old_entry->send_timeout_ns));
    atomic_store(&new_entry->epoch, atomic_load(&old_entry->epoch));
    atomic_store(&new_entry->flags, flags | SHIM_FD_SHARED);
}

/// The entry of a classified fd whose state the user changes, or NULL when there is nothing to update.
static shim_fd_t *known_entry(int fd, uint32_t *flags) {
    if (!atomic_load_explicit(&shim_tracking, memory_order_relaxed)) {
        return NULL;
    }
    shim_fd_t *entry = shim_fd_entry(fd, false);
    if (entry == NULL) {
        return NULL;
    }
    *flags = atomic_load(&entry->flags);
    return (*flags & SHIM_FD_KNOWN) ? entry : NULL;
}

/// After a change on a SHARED fd, every other SHARED entry re-reads the kernel's state on next use.
static void changed(shim_fd_t *entry, uint32_t flags) {
    if (flags & SHIM_FD_SHARED) {
        atomic_fetch_add(&shim_epoch, 1);
        atomic_store(&entry->epoch, atomic_load(&shim_epoch));
    }
}

SHIM_HIDDEN void shim_fd_set_nonblocking(int fd, bool nonblocking) {
    uint32_t flags;
    shim_fd_t *entry = known_entry(fd, &flags);
    if (entry == NULL) {
        return;
    }
    if (nonblocking) {
        atomic_fetch_or(&entry->flags, SHIM_FD_NONBLOCK);
    } else {
        atomic_fetch_and(&entry->flags, ~(uint32_t)SHIM_FD_NONBLOCK);
    }
    changed(entry, flags);
}

SHIM_HIDDEN void shim_fd_set_timeout(int fd, bool receive, int64_t timeout_ns) {
    uint32_t flags;
    shim_fd_t *entry = known_entry(fd, &flags);
    if (entry == NULL) {
        return;
    }
    atomic_store(receive ? &entry->receive_timeout_ns : &entry->send_timeout_ns, timeout_ns);
    changed(entry, flags);
}

SHIM_EXPORT uint32_t gevent_shim_fd_wait_begin(int fd) {
    if (SHIM_UNLIKELY(!atomic_load_explicit(&shim_tracking, memory_order_relaxed))) {
        atomic_store(&shim_tracking, true); // from now on every close looks for waiters
    }
    shim_fd_t *entry = shim_fd_entry(fd, true);
    if (entry == NULL) {
        return 0;
    }
    // Sequentially consistent, paired with shim_fd_closing: the close bumps the generation, then reads
    // the count; the waiter counts itself, then reads the generation.
    atomic_fetch_add(&entry->waiters, 1);
    return atomic_load(&entry->generation);
}

SHIM_EXPORT void gevent_shim_fd_wait_end(int fd) {
    shim_fd_t *entry = shim_fd_entry(fd, false);
    if (entry != NULL) {
        atomic_fetch_sub(&entry->waiters, 1);
    }
}

SHIM_EXPORT void gevent_shim_reset_fd_table(void) {
    for (int page = 0; page < SHIM_FD_PAGES; page++) {
        shim_fd_t *entries = atomic_load(&pages[page]);
        if (entries == NULL) {
            continue;
        }
        for (int i = 0; i < SHIM_FD_PAGE_SIZE; i++) {
            atomic_fetch_add(&entries[i].generation, 1);
            atomic_store(&entries[i].flags, 0);
        }
    }
    atomic_store(&shim_tracking, false);
}

// MARK: - Waiting

SHIM_HIDDEN int shim_wait_fd(int fd, uint32_t generation, int events, int64_t deadline_ns) {
    int64_t timeout = shim_remaining(deadline_ns);
    if (timeout == 0) {
        return GEVENT_SHIM_TIMED_OUT;
    }
    gevent_shim_wait_item item = {fd, events, generation};
    atomic_fetch_add_explicit(&shim_cooperative_count, 1, memory_order_relaxed);
    uint64_t mark = shim_signal_mark();
    int code = gevent_shim_wait_fds(&item, 1, timeout);
    return shim_signal_outcome(code, mark);
}

SHIM_HIDDEN int shim_wait_errno(int code) {
    switch (code) {
    case GEVENT_SHIM_READY:
        return 0;
    case GEVENT_SHIM_TIMED_OUT:
        return EAGAIN;
    case GEVENT_SHIM_CLOSED:
        return EBADF;
    case GEVENT_SHIM_TIMEOUT_ERROR:
        return ETIMEDOUT;
    case GEVENT_SHIM_INTERRUPTED:
    case SHIM_WAIT_RESTART:
        return EINTR;
    default:
        return ECANCELED;
    }
}
