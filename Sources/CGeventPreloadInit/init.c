// swift-gevent: what loading libGeventPreload.so does, before main: read GEVENT_PATCH.
// Nothing else: no hub, no Swift, no threads, so every process that inherits LD_PRELOAD (every child of
// gevent-run) pays only for this and for the interposers' pass-through checks.
#include "CGeventPreloadInit.h"

#include <gevent_shim.h>

static int configured;

// After the interposers' own constructor (priority 101) has resolved the real functions.
__attribute__((constructor(200))) static void gevent_preload_init(void) {
    gevent_shim_configure_from_environment();
    configured = 1;
}

int gevent_preload_configured(void) {
    return configured;
}
