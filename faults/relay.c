/* relay.c - a proxied TCP connection and its faults. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "netutil.h"

static struct ev_loop *relay_loop;
static size_t relay_buffer_size = 64 * 1024;
static struct relay *live_head;
static struct relay *dead_head;
static uint64_t next_relay_id = 1;
static ev_check reaper;

static void reaper_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    relay_reap();
}

void relays_init(struct ev_loop *loop, size_t buffer_size)
{
    relay_loop = loop;
    relay_buffer_size = buffer_size;
    ev_check_init(&reaper, reaper_cb);
    ev_check_start(loop, &reaper);
    ev_unref(loop);          /* the reaper alone does not keep the loop alive */
}

struct relay *relay_first(void) { return live_head; }

void relay_rearm(struct relay *r)
{
    if (r->state == RELAY_CLOSED || r->state == RELAY_HUNG)
        return;
    if (r->state == RELAY_CONNECTING) {
        stream_want(&r->server, false, true);
        stream_want(&r->client, false, false);
        return;
    }
    if (!r->client.handshaking)
        stream_want(&r->client, flow_wants_read(&r->up), flow_wants_write(&r->down));
    if (!r->server.handshaking)
        stream_want(&r->server, flow_wants_read(&r->down), flow_wants_write(&r->up));
}

static void flow_rearm_cb(void *owner)
{
    relay_rearm(owner);
}

static void flow_failed_cb(void *owner, struct flow *f, struct stream *at, const char *why)
{
    struct relay *r = owner;
    if (r->state == RELAY_CLOSED)
        return;
    if (r->hooks->failed)
        r->hooks->failed(r, at, why);
    else
        relay_close(r, why, false);
}

/* Propagates each drained direction as a half-close; closes when both are done. */
static void propagate_eof(struct relay *r)
{
    int rc = 0;
    if (r->up.eof_reported && !r->up_shut) {
        r->up_shut = true;
        rc = shutdown(r->server.fd, SHUT_WR);
    }
    if (rc == 0 && r->down.eof_reported && !r->down_shut) {
        r->down_shut = true;
        rc = shutdown(r->client.fd, SHUT_WR);
    }
    if (rc < 0 && errno != ENOTCONN)
        relay_close(r, strerror(errno), false);
    else if (r->up_shut && r->down_shut)
        relay_close(r, "closed by both sides", false);
}

static void flow_drained_cb(void *owner, struct flow *f)
{
    struct relay *r = owner;
    if (r->hooks->drained_eof) {
        r->hooks->drained_eof(r, f);
    } else if (r->slow_close_us > 0) {
        if (!r->slow_closing) {      /* slow_close: hold the close back */
            r->slow_closing = true;
            ev_timer_stop(r->loop, &r->close_timer);
            ev_timer_set(&r->close_timer, (double)r->slow_close_us / 1e6, 0.);
            ev_timer_start(r->loop, &r->close_timer);
        }
    } else {
        propagate_eof(r);
    }
}

static const struct flow_owner_ops relay_flow_ops = {
    .rearm = flow_rearm_cb,
    .failed = flow_failed_cb,
    .drained_eof = flow_drained_cb,
};

static void client_event(struct stream *s, bool can_read, bool can_write)
{
    struct relay *r = s->owner;
    if (s->handshaking) {
        if (r->hooks->tls_event)
            r->hooks->tls_event(r, s);
        return;
    }
    if (r->state == RELAY_HUNG) {
        char sink[4096];
        ssize_t n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            relay_close(r, "client closed while held by hang_connect", false);
        return;
    }
    if (can_read)
        flow_on_readable(&r->up);
    if (can_write && r->state != RELAY_CLOSED)
        flow_on_writable(&r->down);
}

static void connect_finished(struct relay *r, int err)
{
    ev_timer_stop(r->loop, &r->connect_timer);
    if (err) {
        char why[256];
        snprintf(why, sizeof(why), "cannot connect to %s: %s", r->ep->upstream, strerror(err));
        r->ep->stats.connect_errors++;
        /* once a second per endpoint: a dead upstream must not flood the log */
        int64_t now = clock_wall_us();
        if (now - r->ep->last_connect_error_log_us >= 1000000) {
            r->ep->last_connect_error_log_us = now;
            log_warn("endpoint %s: %s%s (%llu failed so far)", r->ep->name, why,
                     err == EMFILE || err == ENFILE ? " (raise ulimit -n)" : "",
                     (unsigned long long)r->ep->stats.connect_errors);
        }
        r->state = RELAY_OPEN;            /* client side only: the owner may still answer it */
        if (r->hooks->connect_failed)
            r->hooks->connect_failed(r, why);
        else
            relay_close(r, why, false);
        return;
    }
    r->state = RELAY_OPEN;
    net_set_nodelay(r->server.fd);
    if (r->hooks->connected)
        r->hooks->connected(r);
    else
        relay_rearm(r);
}

static void server_event(struct stream *s, bool can_read, bool can_write)
{
    struct relay *r = s->owner;
    if (r->state == RELAY_CONNECTING) {
        connect_finished(r, net_connect_result(s->fd));
        return;
    }
    if (s->handshaking) {
        if (r->hooks->tls_event)
            r->hooks->tls_event(r, s);
        return;
    }
    if (can_read)
        flow_on_readable(&r->down);
    if (can_write && r->state != RELAY_CLOSED)
        flow_on_writable(&r->up);
}

static void connect_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay *r = w->data;
    if (r->state == RELAY_CONNECTING)
        connect_finished(r, ETIMEDOUT);
}

static void close_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct relay *r = w->data;
    if (r->slow_closing) {
        r->slow_closing = false;
        propagate_eof(r);
    } else {
        relay_close(r, "closed by fault close_after", false);
    }
}

/* The fault table's verdict on this connection changed. */
static void apply_effect(struct fault_subject *subj, const struct fault_conn_effect *e)
{
    struct relay *r = (struct relay *)((char *)subj - offsetof(struct relay, subject));
    if (r->state == RELAY_CLOSED)
        return;
    if (e->reset) {
        relay_close(r, "reset by fault", true);
        return;
    }
    bool blackholed_now = e->dir[DIR_UP].blackhole || e->dir[DIR_DOWN].blackhole;
    if (r->blackholed && !blackholed_now) {
        relay_close(r, "blackhole ended: the stream lost bytes", false);
        return;
    }
    r->blackholed = blackholed_now;
    r->slow_close_us = e->slow_close_us;
    if (r->state == RELAY_HUNG)
        return;
    flow_set_effect(&r->up, &e->dir[DIR_UP]);
    if (r->state == RELAY_CLOSED)
        return;
    flow_set_effect(&r->down, &e->dir[DIR_DOWN]);
    if (r->state == RELAY_CLOSED)
        return;
    ev_timer_stop(r->loop, &r->close_timer);
    if (e->close_at_us > 0) {
        int64_t now = (int64_t)clock_mono_us();
        double after = e->close_at_us > now ? (double)(e->close_at_us - now) / 1e6 : 0.;
        ev_timer_set(&r->close_timer, after, 0.);
        ev_timer_start(r->loop, &r->close_timer);
    }
}

static void relay_setup(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                        const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                        const struct relay_hooks *hooks)
{
    memset(r, 0, sizeof(*r));
    r->id = next_relay_id++;
    r->loop = loop;
    r->ep = ep;
    r->hooks = hooks;
    r->opened_wall_us = clock_wall_us();
    net_format_addr(client, r->client_addr, sizeof(r->client_addr));
    stream_init(&r->client, loop, fd, client_event, r);
    stream_init(&r->server, loop, -1, server_event, r);
    size_t max_cap = ep->max_inspect ? (size_t)ep->max_inspect + 65536 : relay_buffer_size;
    flow_init(&r->up, loop, &r->client, &r->server, relay_buffer_size, max_cap, &relay_flow_ops, r);
    flow_init(&r->down, loop, &r->server, &r->client, relay_buffer_size, max_cap, &relay_flow_ops, r);
    r->up.stat_bytes = &ep->stats.bytes_up;
    r->down.stat_bytes = &ep->stats.bytes_down;
    ev_timer_init(&r->connect_timer, connect_timeout_cb, 0, 0);
    r->connect_timer.data = r;
    ev_timer_init(&r->close_timer, close_timer_cb, 0, 0);
    r->close_timer.data = r;

    memcpy(&r->subject.client, client, client_len);
    r->subject.client_len = client_len;
    r->subject.endpoint = ep;
    r->subject.serial = serial;
    r->subject.opened_us = clock_mono_us();
    r->subject.apply = apply_effect;

    r->next = live_head;
    if (live_head)
        live_head->prev = r;
    live_head = r;
    ep->stats.conns_open++;
    ep->stats.conns_total++;
    net_set_nodelay(fd);
}

void relay_start(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                 const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                 const struct relay_hooks *hooks)
{
    relay_setup(r, loop, ep, fd, client, client_len, serial, hooks);
    r->state = RELAY_CONNECTING;
    char why[256];
    int sfd = net_connect_start(&ep->upstream_addr, ep->upstream_addr_len, why, sizeof(why));
    fault_subject_attach(&r->subject);
    if (r->state == RELAY_CLOSED)
        return;
    if (sfd < 0) {
        connect_finished(r, errno ? errno : ECONNREFUSED);
        return;
    }
    stream_init(&r->server, loop, sfd, server_event, r);
    ev_timer_set(&r->connect_timer, (double)ep->connect_timeout_ms / 1000., 0.);
    ev_timer_start(loop, &r->connect_timer);
    relay_rearm(r);
}

void relay_start_local(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                       const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                       const struct relay_hooks *hooks)
{
    relay_setup(r, loop, ep, fd, client, client_len, serial, hooks);
    r->state = RELAY_OPEN;
    fault_subject_attach(&r->subject);
    relay_rearm(r);
}

void relay_hold(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                const struct relay_hooks *hooks)
{
    relay_setup(r, loop, ep, fd, client, client_len, serial, hooks);
    r->state = RELAY_HUNG;
    stream_want(&r->client, true, false);
}

void relay_close(struct relay *r, const char *reason, bool rst)
{
    if (r->state == RELAY_CLOSED)
        return;
    fault_subject_detach(&r->subject);
    r->state = RELAY_CLOSED;
    r->close_reason = reason;
    ev_timer_stop(r->loop, &r->connect_timer);
    ev_timer_stop(r->loop, &r->close_timer);
    flow_stop(&r->up);
    flow_stop(&r->down);
    stream_close(&r->client, rst);
    stream_close(&r->server, rst);
    r->ep->stats.conns_open--;
    if (r->prev)
        r->prev->next = r->next;
    else
        live_head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    log_debug("conn %llu %s %s closed: %s", (unsigned long long)r->id, r->ep->name,
              r->client_addr, reason);
    if (r->hooks->closed)
        r->hooks->closed(r, reason);
    r->next_dead = dead_head;
    dead_head = r;
}

void relay_reap(void)
{
    while (dead_head) {
        struct relay *r = dead_head;
        dead_head = r->next_dead;
        flow_free(&r->up);
        flow_free(&r->down);
        r->hooks->release(r);
    }
}

json_t *relay_describe(struct relay *r)
{
    static const char *const states[] = { "connecting", "open", "held", "closed" };
    char since[40];
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:I}",
                          "id", (json_int_t)r->id,
                          "kind", r->ep->is_mysql ? "mysql" : "relay",
                          "endpoint", r->ep->name,
                          "client", r->client_addr,
                          "upstream", r->ep->upstream,
                          "state", states[r->state],
                          "bytes_up", (json_int_t)r->up.bytes_out,
                          "bytes_down", (json_int_t)r->down.bytes_out);
    if (!o)
        return NULL;
    json_object_set_new(o, "since", json_string(clock_format_rfc3339(r->opened_wall_us, since, sizeof(since))));
    json_object_set_new(o, "stalled", json_boolean(r->up.effect.stall || r->down.effect.stall));
    if (r->hooks->describe)
        r->hooks->describe(r, o);
    return o;
}
