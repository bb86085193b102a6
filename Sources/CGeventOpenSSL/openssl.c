#include "CGeventOpenSSL.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

static int socket_bio_fd(BIO *bio) {
    return (int)(intptr_t)BIO_get_data(bio);
}

static int is_retryable(int code) {
    return code == EAGAIN || code == EWOULDBLOCK || code == EINTR;
}

static int socket_bio_write(BIO *bio, const char *data, int length) {
    BIO_clear_retry_flags(bio);
    ssize_t sent = send(socket_bio_fd(bio), data, (size_t)length, MSG_NOSIGNAL);
    if (sent < 0 && is_retryable(errno)) {
        BIO_set_retry_write(bio);
    }
    return (int)sent;
}

static int socket_bio_read(BIO *bio, char *buffer, int length) {
    BIO_clear_retry_flags(bio);
    ssize_t received = recv(socket_bio_fd(bio), buffer, (size_t)length, 0);
    if (received < 0 && is_retryable(errno)) {
        BIO_set_retry_read(bio);
    }
    return (int)received;
}

static int socket_bio_puts(BIO *bio, const char *text) {
    return socket_bio_write(bio, text, (int)strlen(text));
}

static long socket_bio_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    switch (command) {
    case BIO_CTRL_FLUSH:
    case BIO_CTRL_DUP:
        return 1;
    case BIO_C_GET_FD:
        if (pointer != NULL) {
            *(int *)pointer = socket_bio_fd(bio);
        }
        return socket_bio_fd(bio);
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    default:
        return 0;
    }
}

static int socket_bio_create(BIO *bio) {
    BIO_set_data(bio, (void *)(intptr_t)-1);
    return 1;
}

static BIO_METHOD *socket_bio_method;
static pthread_once_t socket_bio_once = PTHREAD_ONCE_INIT;

static void make_socket_bio_method(void) {
    BIO_METHOD *method =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "swift-gevent socket");
    if (method == NULL) {
        return;
    }
    BIO_meth_set_write(method, socket_bio_write);
    BIO_meth_set_read(method, socket_bio_read);
    BIO_meth_set_puts(method, socket_bio_puts);
    BIO_meth_set_ctrl(method, socket_bio_ctrl);
    BIO_meth_set_create(method, socket_bio_create);
    socket_bio_method = method;
}

BIO *gevent_tls_socket_bio_new(int fd) {
    pthread_once(&socket_bio_once, make_socket_bio_method);
    if (socket_bio_method == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(socket_bio_method);
    if (bio == NULL) {
        return NULL;
    }
    BIO_set_data(bio, (void *)(intptr_t)fd);
    BIO_set_init(bio, 1);
    return bio;
}

void gevent_tls_ctx_set_defaults(SSL_CTX *ctx) {
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    static const unsigned char session_id_context[] = "swift-gevent";
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
}

int gevent_tls_ctx_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

int gevent_tls_ctx_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

int gevent_tls_ctx_add1_chain_cert(SSL_CTX *ctx, X509 *certificate) {
    return (int)SSL_CTX_add1_chain_cert(ctx, certificate);
}

struct alpn_list {
    const unsigned char *protocols;
    unsigned int length;
};

static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *out_length, const unsigned char *offered,
                       unsigned int offered_length, void *argument) {
    (void)ssl;
    const struct alpn_list *ours = argument;
    unsigned char *chosen = NULL;
    if (SSL_select_next_proto(&chosen, out_length, ours->protocols, ours->length, offered, offered_length) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

static int alpn_list_index = -1;
static pthread_once_t alpn_list_once = PTHREAD_ONCE_INIT;

static void free_alpn_list(void *parent, void *pointer, CRYPTO_EX_DATA *data, int index, long number, void *argument) {
    (void)parent, (void)data, (void)index, (void)number, (void)argument;
    free(pointer);
}

static void make_alpn_list_index(void) {
    alpn_list_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_alpn_list);
}

void gevent_tls_ctx_set_alpn_server(SSL_CTX *ctx, const unsigned char *protocols, unsigned int length) {
    pthread_once(&alpn_list_once, make_alpn_list_index);
    struct alpn_list *list = malloc(sizeof *list);
    if (list == NULL) {
        return;
    }
    list->protocols = protocols;
    list->length = length;
    free(SSL_CTX_get_ex_data(ctx, alpn_list_index));
    SSL_CTX_set_ex_data(ctx, alpn_list_index, list);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, list);
}

int gevent_tls_set_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

int gevent_tls_error_reason(unsigned long code) {
    return ERR_GET_REASON(code);
}

int gevent_tls_error_library(unsigned long code) {
    return ERR_GET_LIB(code);
}

/// The text a memory BIO collected, as a malloc'd C string.
static char *take_text(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    char *text = NULL;
    if (length >= 0) {
        text = malloc((size_t)length + 1);
        if (text != NULL) {
            memcpy(text, data, (size_t)length);
            text[length] = 0;
        }
    }
    BIO_free(bio);
    return text;
}

static char *name_text(const X509_NAME *name) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
    return take_text(bio);
}

char *gevent_tls_x509_subject(X509 *certificate) {
    return name_text(X509_get_subject_name(certificate));
}

char *gevent_tls_x509_issuer(X509 *certificate) {
    return name_text(X509_get_issuer_name(certificate));
}

char *gevent_tls_x509_alt_names(X509 *certificate) {
    GENERAL_NAMES *names = X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
    if (names == NULL) {
        return NULL;
    }
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio != NULL) {
        for (int index = 0; index < sk_GENERAL_NAME_num(names); index++) {
            if (index > 0) {
                BIO_write(bio, "\n", 1);
            }
            GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, index));
        }
    }
    GENERAL_NAMES_free(names);
    return bio == NULL ? NULL : take_text(bio);
}

static char *time_text(const ASN1_TIME *time) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NULL;
    }
    ASN1_TIME_print(bio, time);
    return take_text(bio);
}

char *gevent_tls_x509_not_before(X509 *certificate) {
    return time_text(X509_get0_notBefore(certificate));
}

char *gevent_tls_x509_not_after(X509 *certificate) {
    return time_text(X509_get0_notAfter(certificate));
}

char *gevent_tls_x509_serial(X509 *certificate) {
    BIGNUM *number = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), NULL);
    if (number == NULL) {
        return NULL;
    }
    char *hex = BN_bn2hex(number);
    BN_free(number);
    if (hex == NULL) {
        return NULL;
    }
    char *text = strdup(hex);
    OPENSSL_free(hex);
    return text;
}

void gevent_tls_free(void *pointer) {
    free(pointer);
}
