// swift-gevent: OpenSSL 3 from Debian's libssl-dev (pkg-config "openssl"). The macros Swift cannot call are
// wrapped as functions in CGeventOpenSSL.
#ifndef COPENSSL_H
#define COPENSSL_H

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#endif
