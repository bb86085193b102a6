// swift-gevent: the preload library's constructor (nothing to call: loading the library runs it).
#ifndef CGEVENT_PRELOAD_INIT_H
#define CGEVENT_PRELOAD_INIT_H

/// `true` once the constructor has configured the shim from GEVENT_PATCH.
int gevent_preload_configured(void);

#endif
