// swift-gevent: the few socket and process calls Swift cannot see through Glibc's module (glibc declares
// them only under _GNU_SOURCE, which this target defines, or as macros), wrapped with prefixed names. The header
// includes no system header, so the C types Swift sees keep coming from Glibc.
#ifndef CGEVENTIO_H
#define CGEVENTIO_H

/// accept4(2): accept a connection and set SOCK_NONBLOCK / SOCK_CLOEXEC on it in the same system call.
/// `address` is a `struct sockaddr *`, `length` a `socklen_t *`.
int gevent_accept4(int fd, void *address, unsigned int *length, int flags);

/// posix_spawn(3) with close_fds semantics: `redirect[i]` (or -1 to inherit) becomes descriptor i; every
/// descriptor in `keep` is inherited under its own number; with `close_others`, every other descriptor from 3
/// up is closed in the child. `directory` (or NULL) is the child's working directory. The child starts with
/// an empty signal mask and SIGPIPE/SIGXFSZ at their defaults. Returns 0 and sets `*pid`, or an errno
/// value (exec failures such as ENOENT are reported here, synchronously).
int gevent_posix_spawn(int *pid, const char *path, char *const argv[], char *const envp[], const char *directory,
                       const int redirect[3], const int *keep, int keep_count, int close_others);

/// pipe2(2) with O_CLOEXEC: `fds[0]` reads, `fds[1]` writes. 0, or -1 and errno.
int gevent_pipe_cloexec(int fds[2]);

/// pidfd_open(2): a close-on-exec descriptor for process `pid`, readable once it has exited; -1 and errno.
int gevent_pidfd_open(int pid);

/// pidfd_send_signal(2) without siginfo: 0, or -1 and errno (ESRCH once the process has been reaped).
int gevent_pidfd_send_signal(int pidfd, int signal);

/// waitid(P_PIDFD, WEXITED): reaps the process. Returns 1 with `*kind` (0 exited, 1 killed by a signal,
/// 2 killed and dumped core) and `*value` (exit code or signal number), 0 if `no_hang` and it still runs,
/// -1 and errno.
int gevent_wait_pidfd(int pidfd, int no_hang, int *kind, int *value);

/// write(2) that never raises SIGPIPE: SIGPIPE is blocked on the calling thread for the call, and the one
/// an EPIPE raised is taken before it is unblocked. Returns write's result with its errno.
long gevent_write_without_sigpipe(int fd, const void *bytes, unsigned long count);

/// The CMSG_* macros over a `struct msghdr *` (`message`) and its `struct cmsghdr *` entries (`header`).
/// CMSG_SPACE: the bytes a control message with `length` bytes of data takes in the control buffer.
unsigned long gevent_cmsg_space(unsigned long length);
/// CMSG_LEN: the `cmsg_len` of a control message with `length` bytes of data.
unsigned long gevent_cmsg_len(unsigned long length);
/// CMSG_FIRSTHDR; NULL when the control buffer holds no message.
void *gevent_cmsg_first(void *message);
/// CMSG_NXTHDR; NULL after the last message.
void *gevent_cmsg_next(void *message, void *header);
/// CMSG_DATA: the first byte of the message's data.
unsigned char *gevent_cmsg_data(void *header);

/// One read at the file offset that takes only what the page cache holds: preadv2(..., RWF_NOWAIT).
/// -1 with errno EAGAIN when the data would come from the device, EOPNOTSUPP where unsupported.
long gevent_read_cached(int fd, void *bytes, unsigned long count);

#endif
