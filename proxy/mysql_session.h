/* mysql_session.h - a MySQL client session relayed to the backend: the
 * connection phase (greeting, TLS on either leg, pass-through auth), then the
 * command phase observed packet by packet. Built on faults/relay.h, so the
 * MySQL leg takes the same faults as any endpoint. */
#ifndef DDLP_MYSQL_SESSION_H
#define DDLP_MYSQL_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ev.h>
#include <jansson.h>

#include "conf.h"
#include "endpoint.h"

int mysql_sessions_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen);
/* Accept path of the "mysql" endpoint. */
void mysql_session_accept(struct endpoint *ep, int fd, const struct sockaddr *client,
                          socklen_t len, uint64_t serial);
/* SIGTERM: idle sessions close now, busy ones after their command; returns how many remain. */
unsigned mysql_sessions_drain(void);
/* Closes every session (result "shutdown" for their DDLs). */
void mysql_sessions_close_all(const char *reason);
unsigned mysql_session_count(void);
json_t *mysql_sessions_stats_json(void);
void mysql_sessions_free(void);

#endif
