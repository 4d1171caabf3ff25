/* tls.h - the two OpenSSL contexts: one to serve clients, one to reach the backend. */
#ifndef DDLP_TLS_H
#define DDLP_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* Client leg: the proxy is the TLS server (certificate + key). */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char *err, size_t errlen);
/* Server leg: the proxy is the TLS client; ca NULL: no verification. */
SSL_CTX *tls_client_ctx(const char *ca, char *err, size_t errlen);

#endif
