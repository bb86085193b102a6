#include "CGeventIO.h"

#include <sys/socket.h>

_Static_assert(sizeof(socklen_t) == sizeof(unsigned int), "socklen_t must be unsigned int");

int gevent_accept4(int fd, void *address, unsigned int *length, int flags) {
    return accept4(fd, (struct sockaddr *)address, (socklen_t *)length, flags);
}
