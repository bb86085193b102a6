// swift-gevent: PostgreSQL's client library (Debian's libpq-dev), for the shim's tests and examples: an
// unaware C library whose blocking calls the shim makes cooperative.
#include <libpq-fe.h>
