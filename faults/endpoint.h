/* endpoint.h - the TCP endpoints the proxy relays (PD/etcd members and the
 * MySQL leg), their listeners and live counters. */
#ifndef DDLP_ENDPOINT_H
#define DDLP_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ev.h>

#include "../proxy/conf.h"

#define ENDPOINT_MYSQL "mysql"   /* the MySQL leg's endpoint name, group and member */

struct endpoint_stats {
    uint64_t conns_open, conns_total, conns_refused, connect_errors;
    uint64_t bytes_up, bytes_down;        /* up: client -> upstream */
    uint64_t fault_hits;                  /* connections a fault acted on */
};

struct endpoint {
    char *name, *group, *member;
    enum endpoint_role role;
    char *listen, *upstream;
    struct sockaddr_storage member_addr;  /* member's own source address, for partition */
    socklen_t member_addr_len;
    struct sockaddr_storage upstream_addr;   /* resolved once at start-up */
    socklen_t upstream_addr_len;
    int64_t connect_timeout_ms;
    int64_t max_inspect;                  /* MySQL leg: largest statement looked at */
    struct endpoint_stats stats;
    int64_t last_connect_error_log_us;    /* rate limit of the upstream-failure log line */
    bool is_mysql;
    struct endpoint *next;
    void *runtime;                        /* endpoint.c's listener and relays */
};

/* Creates endpoints from the config plus the implicit "mysql" one (listen/backend).
 * Listening starts with endpoint_start_all. */
int endpoints_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen);
int endpoints_start_all(char *err, size_t errlen);
void endpoints_stop_accepting(void);
void endpoints_shutdown(void);

/* Accepted connections of the MySQL endpoint go here (the session layer). */
typedef void (*endpoint_accept_fn)(struct endpoint *ep, int fd, const struct sockaddr *client,
                                   socklen_t len, uint64_t serial);
void endpoints_set_mysql_acceptor(endpoint_accept_fn fn);

struct endpoint *endpoint_find(const char *name);
struct endpoint *endpoint_first(void);    /* iterate with ->next */
bool endpoint_group_exists(const char *group);
bool endpoint_member_exists(const char *member);

#endif
