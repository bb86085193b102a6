// swift-gevent: the parts of OpenSSL Swift cannot reach (function-like macros, 64-bit option bits) and a
// socket BIO that sends with MSG_NOSIGNAL, so a peer that hangs up gives EPIPE instead of killing the process
// with SIGPIPE (OpenSSL's own socket BIO writes with write(2)).
#ifndef CGEVENT_OPENSSL_H
#define CGEVENT_OPENSSL_H

#include <openssl/ssl.h>
#include <openssl/x509.h>

/// A BIO over a non-blocking socket `fd` that it never closes: recv(2)/send(2) with MSG_NOSIGNAL, and
/// EAGAIN/EINTR reported as "retry" so SSL_get_error says SSL_ERROR_WANT_READ/WRITE. NULL when out of memory.
BIO *gevent_tls_socket_bio_new(int fd);

/// What every context gets: partial writes, moving write buffers (Swift arrays move between retries), no
/// renegotiation, no compression; and a session id context so servers that verify clients can resume
/// sessions.
void gevent_tls_ctx_set_defaults(SSL_CTX *ctx);

int gevent_tls_ctx_set_min_proto_version(SSL_CTX *ctx, int version);
int gevent_tls_ctx_set_max_proto_version(SSL_CTX *ctx, int version);
/// Adds one certificate of the chain sent after the leaf (takes its own reference).
int gevent_tls_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *certificate);
/// Server ALPN: picks the first of `protocols` (wire format, owned by the caller for the context's
/// lifetime) that the client offers; without a match the handshake goes on without ALPN.
void gevent_tls_ctx_set_alpn_server(SSL_CTX *ctx, const unsigned char *protocols, unsigned int length);
/// Client SNI.
int gevent_tls_set_host_name(SSL *ssl, const char *name);

/// The first entry of the error queue's reason (ERR_GET_REASON) and library (ERR_GET_LIB).
int gevent_tls_error_reason(unsigned long code);
int gevent_tls_error_library(unsigned long code);

/// The subject or issuer as one line in RFC 2253 form ("CN=localhost,O=Example"); malloc'd, free with
/// gevent_tls_free. NULL when out of memory.
char *gevent_tls_x509_subject(X509 *certificate);
char *gevent_tls_x509_issuer(X509 *certificate);
/// The subject alternative names, "DNS:example.com\nIP Address:127.0.0.1"; malloc'd, NULL without any.
char *gevent_tls_x509_alt_names(X509 *certificate);
/// notBefore / notAfter as "Dec  2 05:41:37 2026 GMT"; malloc'd.
char *gevent_tls_x509_not_before(X509 *certificate);
char *gevent_tls_x509_not_after(X509 *certificate);
/// The serial number in hexadecimal; malloc'd.
char *gevent_tls_x509_serial(X509 *certificate);
void gevent_tls_free(void *pointer);

#endif
