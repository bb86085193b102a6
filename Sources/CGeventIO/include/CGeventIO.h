// swift-gevent: the few socket calls Swift cannot see through Glibc's module (glibc declares them only
// under _GNU_SOURCE, which this target defines), wrapped with prefixed names. The header includes no
// system header, so the C types Swift sees keep coming from Glibc.
#ifndef CGEVENTIO_H
#define CGEVENTIO_H

/// accept4(2): accept a connection and set SOCK_NONBLOCK / SOCK_CLOEXEC on it in the same system call.
/// `address` is a `struct sockaddr *`, `length` a `socklen_t *`.
int gevent_accept4(int fd, void *address, unsigned int *length, int flags);

#endif
