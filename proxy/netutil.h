/* netutil.h - stateless socket helpers. They never touch the event loop and
 * report errors into the caller's buffer (like Redis' anet.c). */
#ifndef DDLP_NETUTIL_H
#define DDLP_NETUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Splits "host:port" / "[v6]:port" into host (brackets removed; the returned
 * pointer is within host) and *port. NULL if it is not of that form. */
const char *net_split_hostport(const char *hostport, char *host, size_t hostlen, const char **port);
/* Resolves "host:port", "[v6]:port" or "*:port" (numeric or names; blocking:
 * start-up only). passive: for bind. */
int net_resolve(const char *hostport, bool passive, struct sockaddr_storage *out,
                socklen_t *outlen, char *err, size_t errlen);
/* Non-blocking listening socket with SO_REUSEADDR. Returns fd or -1. */
int net_listen(const char *hostport, int backlog, char *err, size_t errlen);
/* Starts a non-blocking connect; returns fd (connection in progress) or -1. */
int net_connect_start(const struct sockaddr_storage *addr, socklen_t len, char *err, size_t errlen);
/* After the socket became writable: 0 connected, else the errno of the failure. */
int net_connect_result(int fd);
void net_set_nodelay(int fd);
void net_set_keepalive(int fd);
/* Makes the next close() send RST instead of FIN. */
void net_set_linger_rst(int fd);
/* "1.2.3.4:5678" / "[::1]:5678" */
char *net_format_addr(const struct sockaddr *sa, char *buf, size_t size);
bool net_is_loopback(const struct sockaddr *sa);
/* Same IP (port ignored). */
bool net_same_host(const struct sockaddr *a, const struct sockaddr *b);

#endif
