// swift-gevent: c-ares from Debian's libc-ares-dev (pkg-config "libcares"), with the macros Swift cannot
// import re-exported as constants.
#ifndef CCARES_H
#define CCARES_H

#include <ares.h>
#include <netdb.h>
#include <sys/time.h>

static const int gevent_ARES_SOCKET_BAD = ARES_SOCKET_BAD;
static const int gevent_ARES_OPT_FLAGS = ARES_OPT_FLAGS;
static const int gevent_ARES_OPT_TIMEOUTMS = ARES_OPT_TIMEOUTMS;
static const int gevent_ARES_OPT_TRIES = ARES_OPT_TRIES;
static const int gevent_ARES_OPT_SOCK_STATE_CB = ARES_OPT_SOCK_STATE_CB;
static const int gevent_ARES_OPT_LOOKUPS = ARES_OPT_LOOKUPS;
static const int gevent_ARES_OPT_RESOLVCONF = ARES_OPT_RESOLVCONF;
static const int gevent_ARES_LIB_INIT_ALL = ARES_LIB_INIT_ALL;
static const int gevent_ARES_AI_CANONNAME = ARES_AI_CANONNAME;
static const int gevent_ARES_AI_NUMERICHOST = ARES_AI_NUMERICHOST;
static const int gevent_ARES_AI_PASSIVE = ARES_AI_PASSIVE;
static const int gevent_ARES_AI_NUMERICSERV = ARES_AI_NUMERICSERV;
static const int gevent_ARES_AI_V4MAPPED = ARES_AI_V4MAPPED;
static const int gevent_ARES_AI_ALL = ARES_AI_ALL;
static const int gevent_ARES_AI_ADDRCONFIG = ARES_AI_ADDRCONFIG;
static const int gevent_ARES_AI_NOSORT = ARES_AI_NOSORT;
static const int gevent_ARES_NI_NOFQDN = ARES_NI_NOFQDN;
static const int gevent_ARES_NI_NUMERICHOST = ARES_NI_NUMERICHOST;
static const int gevent_ARES_NI_NAMEREQD = ARES_NI_NAMEREQD;
static const int gevent_ARES_NI_NUMERICSERV = ARES_NI_NUMERICSERV;
static const int gevent_ARES_NI_DGRAM = ARES_NI_DGRAM;
static const int gevent_ARES_NI_LOOKUPHOST = ARES_NI_LOOKUPHOST;
static const int gevent_ARES_NI_LOOKUPSERVICE = ARES_NI_LOOKUPSERVICE;

// Status codes.
static const int gevent_ARES_SUCCESS = ARES_SUCCESS;
static const int gevent_ARES_ENODATA = ARES_ENODATA;
static const int gevent_ARES_EFORMERR = ARES_EFORMERR;
static const int gevent_ARES_ESERVFAIL = ARES_ESERVFAIL;
static const int gevent_ARES_ENOTFOUND = ARES_ENOTFOUND;
static const int gevent_ARES_ENOTIMP = ARES_ENOTIMP;
static const int gevent_ARES_EREFUSED = ARES_EREFUSED;
static const int gevent_ARES_EBADQUERY = ARES_EBADQUERY;
static const int gevent_ARES_EBADNAME = ARES_EBADNAME;
static const int gevent_ARES_EBADFAMILY = ARES_EBADFAMILY;
static const int gevent_ARES_EBADRESP = ARES_EBADRESP;
static const int gevent_ARES_ECONNREFUSED = ARES_ECONNREFUSED;
static const int gevent_ARES_ETIMEOUT = ARES_ETIMEOUT;
static const int gevent_ARES_EOF = ARES_EOF;
static const int gevent_ARES_EFILE = ARES_EFILE;
static const int gevent_ARES_ENOMEM = ARES_ENOMEM;
static const int gevent_ARES_EDESTRUCTION = ARES_EDESTRUCTION;
static const int gevent_ARES_EBADSTR = ARES_EBADSTR;
static const int gevent_ARES_EBADFLAGS = ARES_EBADFLAGS;
static const int gevent_ARES_ENONAME = ARES_ENONAME;
static const int gevent_ARES_EBADHINTS = ARES_EBADHINTS;
static const int gevent_ARES_ENOTINITIALIZED = ARES_ENOTINITIALIZED;
static const int gevent_ARES_ECANCELLED = ARES_ECANCELLED;
static const int gevent_ARES_ESERVICE = ARES_ESERVICE;

#endif
