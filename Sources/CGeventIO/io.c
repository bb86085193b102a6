#include "CGeventIO.h"

#include <sys/socket.h>
#include <sys/uio.h>

_Static_assert(sizeof(socklen_t) == sizeof(unsigned int), "socklen_t must be unsigned int");

unsigned long gevent_cmsg_space(unsigned long length) {
    return CMSG_SPACE(length);
}

unsigned long gevent_cmsg_len(unsigned long length) {
    return CMSG_LEN(length);
}

void *gevent_cmsg_first(void *message) {
    return CMSG_FIRSTHDR((struct msghdr *)message);
}

void *gevent_cmsg_next(void *message, void *header) {
    return CMSG_NXTHDR((struct msghdr *)message, (struct cmsghdr *)header);
}

unsigned char *gevent_cmsg_data(void *header) {
    return CMSG_DATA((struct cmsghdr *)header);
}

int gevent_accept4(int fd, void *address, unsigned int *length, int flags) {
    return accept4(fd, (struct sockaddr *)address, (socklen_t *)length, flags);
}

long gevent_read_cached(int fd, void *bytes, unsigned long count) {
    struct iovec vector = {bytes, count};
    return preadv2(fd, &vector, 1, -1, RWF_NOWAIT);
}
