/* admin.h - the admin server: a Unix socket (mode 0600) and an optional TCP
 * listener speaking the line protocol (one command per line, one JSON reply
 * per line) on the event loop, plus 'GET /metrics' on the same ports. */
#ifndef DDLP_ADMIN_H
#define DDLP_ADMIN_H

#include <stddef.h>
#include <ev.h>

#include "conf.h"

#define ADMIN_MAX_CONNECTIONS 128

/* Opens the listeners ([admin] socket, or the default path; [admin] listen
 * if set). Refuses, with a message in err: a TCP listen address that is not
 * loopback when no token is set, a socket path held by a running ddlproxy,
 * a path that exists and is not a socket. Returns 0 or -1. */
int admin_start(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen);

/* Closes every admin connection and listener and removes the socket file. */
void admin_stop(void);

/* The Unix socket path in use (NULL when not started). */
const char *admin_socket_path(void);

#endif
