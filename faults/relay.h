/* relay.h - one proxied TCP connection: the accepted client socket, the
 * upstream socket, a flow each way, the faults acting on it and its life from
 * connect to close. Endpoint relays use it as is; a MySQL session embeds one
 * and adds packet inspection and the connection-phase logic through hooks. */
#ifndef DDLP_RELAY_H
#define DDLP_RELAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ev.h>

#include <jansson.h>

#include "endpoint.h"
#include "fault.h"
#include "flow.h"
#include "stream.h"

struct relay;

enum relay_state {
    RELAY_CONNECTING,        /* upstream connect in progress */
    RELAY_OPEN,
    RELAY_HUNG,              /* hang_connect: accepted, held silent */
    RELAY_CLOSED,
};

struct relay_hooks {
    /* Upstream connected: the owner decides what to read first. */
    void (*connected)(struct relay *r);
    /* Upstream connect failed or timed out: the owner may tell the client, then closes. */
    void (*connect_failed)(struct relay *r, const char *why);
    /* An I/O error, an EOF after which the owner cannot go on, or a fault's close. */
    void (*failed)(struct relay *r, struct stream *at, const char *why);
    /* One direction reached EOF with everything forwarded (NULL: propagate a half-close). */
    void (*drained_eof)(struct relay *r, struct flow *f);
    /* A stream in a TLS handshake has an event. */
    void (*tls_event)(struct relay *r, struct stream *s);
    /* Both sides were closed (reason says why). */
    void (*closed)(struct relay *r, const char *reason);
    /* After the loop iteration in which it closed: free the owner's memory. */
    void (*release)(struct relay *r);
    /* Extra fields for 'conn list' (may be NULL). */
    void (*describe)(struct relay *r, json_t *obj);
};

struct relay {
    uint64_t id;
    struct ev_loop *loop;
    struct endpoint *ep;
    enum relay_state state;
    struct stream client, server;
    struct flow up, down;            /* up: client -> upstream */
    struct fault_subject subject;
    ev_timer connect_timer;
    ev_timer close_timer;            /* close_after ms= / slow_close */
    bool blackholed;                 /* a blackhole broke the stream: close when healed */
    bool up_shut, down_shut;         /* half-close propagated */
    bool slow_closing;               /* close_timer holds a close back */
    int64_t slow_close_us;
    char client_addr[64];
    int64_t opened_wall_us;
    const char *close_reason;
    const struct relay_hooks *hooks;
    struct relay *prev, *next;       /* every live relay (conn list) */
    struct relay *next_dead;
};

/* Starts relaying an accepted client fd to the endpoint's upstream. */
void relay_start(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                 const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                 const struct relay_hooks *hooks);
/* A client-side-only relay: the owner answers the client itself (no upstream). */
void relay_start_local(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                       const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                       const struct relay_hooks *hooks);
/* Holds an accepted fd silent (hang_connect). */
void relay_hold(struct relay *r, struct ev_loop *loop, struct endpoint *ep, int fd,
                const struct sockaddr *client, socklen_t client_len, uint64_t serial,
                const struct relay_hooks *hooks);
/* Closes both sides (RST if rst) now; memory is released after this iteration. */
void relay_close(struct relay *r, const char *reason, bool rst);
/* Re-evaluates stream interest after a flow or phase change. */
void relay_rearm(struct relay *r);

struct relay *relay_first(void);
json_t *relay_describe(struct relay *r);

/* Frees closed relays; called by the loop once per iteration. */
void relay_reap(void);
void relays_init(struct ev_loop *loop, size_t buffer_size);

#endif
