/* endpoint.c - endpoints, their listeners and the accept path (where
 * refuse / reset / hang_connect faults and connection limits act). */
#include "conf.h"
#include "endpoint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"
#include "netutil.h"
#include "relay.h"

#define ACCEPTS_PER_EVENT 64

struct endpoint_runtime {
    struct endpoint *ep;
    int fd;
    ev_io accept_io;
    ev_timer accept_retry;       /* out of descriptors: accept again after a pause */
    uint64_t serial;
};

static struct ev_loop *ep_loop;
static struct endpoint *ep_head;
static endpoint_accept_fn mysql_acceptor;

void endpoints_set_mysql_acceptor(endpoint_accept_fn fn) { mysql_acceptor = fn; }
struct endpoint *endpoint_first(void) { return ep_head; }

struct endpoint *endpoint_find(const char *name)
{
    for (struct endpoint *e = ep_head; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

bool endpoint_group_exists(const char *group)
{
    for (struct endpoint *e = ep_head; e; e = e->next)
        if (strcmp(e->group, group) == 0)
            return true;
    return false;
}

bool endpoint_member_exists(const char *member)
{
    for (struct endpoint *e = ep_head; e; e = e->next)
        if (strcmp(e->member, member) == 0)
            return true;
    return false;
}

static void relay_release(struct relay *r) { free(r); }

static const struct relay_hooks plain_relay_hooks = {
    .release = relay_release,
};

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct endpoint_runtime *rt = w->data;
    if (rt->fd >= 0)
        ev_io_start(loop, &rt->accept_io);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct endpoint_runtime *rt = w->data;
    struct endpoint *ep = rt->ep;
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(rt->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                /* The pending connection keeps the listener readable: pause
                 * accepting rather than spin until descriptors are free. */
                log_error("endpoint %s: cannot accept: %s (raise ulimit -n); retrying in 100 ms",
                          ep->name, strerror(errno));
                ev_io_stop(loop, &rt->accept_io);
                ev_timer_start(loop, &rt->accept_retry);
            } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
                log_warn("endpoint %s: accept: %s", ep->name, strerror(errno));
            }
            return;
        }
        uint64_t serial = ++rt->serial;
        enum accept_verdict v = fault_on_accept(ep, (struct sockaddr *)&ss, len, serial);
        if (v == ACCEPT_REFUSE || v == ACCEPT_RESET) {
            ep->stats.conns_refused++;
            net_set_linger_rst(fd);
            close(fd);
            continue;
        }
        if (v == ACCEPT_HANG) {
            struct relay *r = calloc(1, sizeof(*r));
            if (!r) {
                close(fd);
                continue;
            }
            relay_hold(r, loop, ep, fd, (struct sockaddr *)&ss, len, serial, &plain_relay_hooks);
            continue;
        }
        if (ep->is_mysql) {
            mysql_acceptor(ep, fd, (struct sockaddr *)&ss, len, serial);
            continue;
        }
        struct relay *r = calloc(1, sizeof(*r));
        if (!r) {
            log_error("endpoint %s: out of memory", ep->name);
            close(fd);
            continue;
        }
        relay_start(r, loop, ep, fd, (struct sockaddr *)&ss, len, serial, &plain_relay_hooks);
    }
}

static struct endpoint *endpoint_new(const char *name, const char *group, const char *member,
                                     enum endpoint_role role, const char *listen,
                                     const char *upstream, const char *address,
                                     int64_t connect_timeout_ms, char *err, size_t errlen)
{
    struct endpoint *ep = calloc(1, sizeof(*ep));
    struct endpoint_runtime *rt = calloc(1, sizeof(*rt));
    if (!ep || !rt) {
        free(ep);
        free(rt);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ep->name = strdup(name);
    ep->group = strdup(group);
    ep->member = strdup(member);
    ep->role = role;
    ep->listen = strdup(listen);
    ep->upstream = strdup(upstream);
    ep->connect_timeout_ms = connect_timeout_ms;
    ep->runtime = rt;
    rt->ep = ep;
    rt->fd = -1;
    if (net_resolve(upstream, false, &ep->upstream_addr, &ep->upstream_addr_len, err, errlen) != 0)
        return ep;     /* caller reports err */
    err[0] = '\0';
    /* The member's own source address (partition): given, or the upstream's host. */
    char hostport[300];
    if (address) {
        bool bare_v6 = strchr(address, ':') && address[0] != '[';
        snprintf(hostport, sizeof(hostport), bare_v6 ? "[%s]:0" : "%s:0", address);
        if (net_resolve(hostport, false, &ep->member_addr, &ep->member_addr_len, err, errlen) != 0)
            return ep;
    } else {
        memcpy(&ep->member_addr, &ep->upstream_addr, ep->upstream_addr_len);
        ep->member_addr_len = ep->upstream_addr_len;
    }
    return ep;
}

static void endpoint_append(struct endpoint *ep)
{
    struct endpoint **tail = &ep_head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = ep;
}

int endpoints_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen)
{
    ep_loop = loop;
    struct endpoint *m = endpoint_new(ENDPOINT_MYSQL, ENDPOINT_MYSQL, ENDPOINT_MYSQL, ROLE_CLIENT,
                                      cfg->listen, cfg->backend, NULL, cfg->connect_timeout_ms,
                                      err, errlen);
    if (!m)
        return -1;
    m->is_mysql = true;
    m->max_inspect = cfg->max_inspect;
    endpoint_append(m);
    if (err[0]) {
        char why[300];
        snprintf(why, sizeof(why), "[proxy] backend: %s", err);
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_endpoints; i++) {
        const struct endpoint_conf *c = &cfg->endpoints[i];
        struct endpoint *ep = endpoint_new(c->name, c->group, c->member ? c->member : c->name,
                                           c->role, c->listen, c->upstream, c->address,
                                           c->connect_timeout_ms, err, errlen);
        if (!ep)
            return -1;
        endpoint_append(ep);
        if (err[0]) {
            char why[300];
            snprintf(why, sizeof(why), "%s:%d: [endpoint %s]: %s", cfg->path ? cfg->path : "config",
                     c->line, c->name, err);
            snprintf(err, errlen, "%s", why);
            return -1;
        }
    }
    return 0;
}

int endpoints_start_all(char *err, size_t errlen)
{
    for (struct endpoint *ep = ep_head; ep; ep = ep->next) {
        struct endpoint_runtime *rt = ep->runtime;
        char why[256];
        rt->fd = net_listen(ep->listen, 1024, why, sizeof(why));
        if (rt->fd < 0) {
            snprintf(err, errlen, "endpoint %s: %s", ep->name, why);
            return -1;
        }
        ev_io_init(&rt->accept_io, accept_cb, rt->fd, EV_READ);
        rt->accept_io.data = rt;
        ev_timer_init(&rt->accept_retry, accept_retry_cb, 0.1, 0.);
        rt->accept_retry.data = rt;
        ev_io_start(ep_loop, &rt->accept_io);
        log_info("endpoint %s (group %s, member %s, %s) listening on %s -> %s", ep->name,
                 ep->group, ep->member, ep->role == ROLE_PEER ? "peer" : "client",
                 ep->listen, ep->upstream);
    }
    return 0;
}

void endpoints_stop_accepting(void)
{
    for (struct endpoint *ep = ep_head; ep; ep = ep->next) {
        struct endpoint_runtime *rt = ep->runtime;
        if (rt->fd >= 0) {
            ev_io_stop(ep_loop, &rt->accept_io);
            ev_timer_stop(ep_loop, &rt->accept_retry);
            close(rt->fd);
            rt->fd = -1;
        }
    }
}

void endpoints_shutdown(void)
{
    endpoints_stop_accepting();
    while (ep_head) {
        struct endpoint *ep = ep_head;
        ep_head = ep->next;
        free(ep->name); free(ep->group); free(ep->member);
        free(ep->listen); free(ep->upstream);
        free(ep->runtime);
        free(ep);
    }
}
