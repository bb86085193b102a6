// swift-gevent: Redis's C client (Debian's libhiredis-dev), for the shim's tests: another unaware C
// library with blocking calls.
#include <hiredis/hiredis.h>

// redisCommand is variadic, which Swift cannot call: one fixed-argument form is enough for the tests.
static inline redisReply *gevent_redis_command(redisContext *context, const char *command) {
    return (redisReply *)redisCommand(context, command);
}
