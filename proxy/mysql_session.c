/* mysql_session.c - the MySQL leg: connection phase and command observation.
 *
 * Bytes are forwarded as they came. The session only rewrites what it must:
 * capability bits of the greeting and the HandshakeResponse, and sequence ids
 * while the two legs differ by an SSLRequest. Everything else is inspected in
 * place (headers, first bytes, statement text) and released unchanged. */
#include "conf.h"
#include "mysql_session.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "mysql_handshake.h"
#include "mysql_packet.h"
#include "mysql_proto.h"
#include "mysql_response.h"
#include "relay.h"
#include "session_events.h"
#include "tls.h"

#define HANDSHAKE_MAX_PACKET (64 * 1024)
#define REFUSING_MAX 256         /* over-limit clients answered with a greeting and ERR at once */

enum phase {
    PH_CONNECTING,       /* upstream connect in progress */
    PH_GREETING,         /* waiting for the server's greeting */
    PH_HANDSHAKE,        /* waiting for the client's SSLRequest / HandshakeResponse */
    PH_CLIENT_TLS,       /* TLS handshake with the client */
    PH_SERVER_TLS,       /* TLS handshake with the server */
    PH_RESPONSE_READY,   /* server TLS done: forward the held HandshakeResponse */
    PH_AUTH,             /* auth exchange until the server's OK or ERR */
    PH_COMMAND,
    PH_RAW,              /* after COM_BINLOG_DUMP: untracked bytes */
    PH_REFUSING,         /* sent the proxy's own greeting: the ERR follows the client's reply */
};

static const char *const phase_names[] = {
    "connecting", "greeting", "handshake", "client_tls", "server_tls", "handshake",
    "auth", "command", "raw", "refusing",
};

struct mysql_session {
    struct relay relay;              /* first: the relay hooks cast back */
    enum phase phase;
    struct resp_machine resp;
    uint32_t up_left, down_left;     /* payload bytes of the current packet still to release */
    int seq_delta;                   /* server-leg seq = client-leg seq + delta during auth */
    struct mysql_greeting greeting;
    bool server_is_mariadb;
    bool quitting;                   /* the client sent COM_QUIT */
    bool draining;                   /* shutdown: close once the current command is done */
    bool opened;                     /* observer saw on_open */
    bool over_limit;                 /* beyond max_connections: only refused */
    uint8_t next_seq;                /* the sequence id the client expects next */
    uint32_t client_caps;
    char user[256];
    char db[256];
    bool db_pending, user_pending;   /* USE / COM_INIT_DB / COM_CHANGE_USER until its OK */
    struct session_info info;
    void *observer_data;
    struct session_extra *extra;     /* rarely needed state, allocated on first use */
};

/* What only some sessions ever need: kept out of the session so that an idle
 * session stays small (10 000 of them are a normal load). */
struct session_extra {
    char pending_db[256];
    char pending_user[256];
    char close_detail[560];          /* "backend_gone: <message>" for the observer */
    /* PH_REFUSING: the error to send once the client answered our greeting */
    uint16_t refuse_code;
    char refuse_msg[400];
    const char *refuse_reason;
    ev_timer refuse_timer;
};

static struct session_extra *session_extra(struct mysql_session *s)
{
    if (!s->extra)
        s->extra = calloc(1, sizeof(*s->extra));
    return s->extra;
}

static struct {
    struct ev_loop *loop;
    const struct config *cfg;
    SSL_CTX *client_leg_ctx;         /* the proxy as TLS server */
    SSL_CTX *server_leg_ctx;         /* the proxy as TLS client */
    const struct session_observer *observer;
    unsigned count;
    unsigned refusing;               /* over-limit clients being refused */
    uint64_t total, refused_max, auth_ok, auth_failed, backend_errors, protocol_errors;
    uint64_t next_id;
} sessions;

static const struct session_observer no_observer;

void session_set_observer(const struct session_observer *obs)
{
    sessions.observer = obs ? obs : &no_observer;
}

const struct session_info *session_get_info(const struct mysql_session *s) { return &s->info; }
void *session_observer_data(const struct mysql_session *s) { return s->observer_data; }
void session_set_observer_data(struct mysql_session *s, void *data) { s->observer_data = data; }

static struct mysql_session *session_of(struct relay *r)
{
    return (struct mysql_session *)r;
}

/* ---- errors to the client ---- */

/* Sends a proxy-made ERR to the client (best effort) and closes the session. */
static void session_fail(struct mysql_session *s, uint16_t code, const char *sqlstate,
                         const char *message, const char *reason)
{
    uint8_t pkt[600];
    char text[512];
    snprintf(text, sizeof(text), "ddlproxy: %s", message);
    size_t n = mysql_build_err(pkt, sizeof(pkt), s->next_seq, code, sqlstate, text);
    struct flow *down = &s->relay.down;
    /* Only at a packet boundary: a half-forwarded packet cannot be followed by
     * an ERR. Bytes of a packet not yet released are dropped in its favour. */
    if (s->down_left == 0 && s->relay.client.fd >= 0) {
        down->tail = down->scanned;
        if (flow_inject(down, pkt, n) == 0)
            flow_flush(down);
    }
    log_info("session %llu %s: %s", (unsigned long long)s->relay.id, s->relay.client_addr, message);
    struct session_extra *x = session_extra(s);
    if (x) {
        snprintf(x->close_detail, sizeof(x->close_detail), "%s: %s", reason, message);
        reason = x->close_detail;
    }
    relay_close(&s->relay, reason, false);
}

/* A greeting of the proxy's own, for errors before the server greeted us:
 * clients (libmariadb among them) do not all accept an ERR in place of the
 * greeting, but every client reports an ERR that answers its handshake. */
static size_t build_own_greeting(uint8_t *out, size_t outlen)
{
    static const char version[] = "8.0.0-ddlproxy";
    static const char plugin[] = "mysql_native_password";
    uint32_t caps = CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
                    | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB | CLIENT_TRANSACTIONS;
    uint8_t *p = out + 4;
    if (outlen < 128)
        return 0;
    *p++ = 10;
    memcpy(p, version, sizeof(version));
    p += sizeof(version);
    put_u32(p, 0);                        /* connection id */
    p += 4;
    memcpy(p, "ddlproxy", 8);             /* auth data part 1: never used */
    p += 8;
    *p++ = 0;
    put_u16(p, (uint16_t)caps);
    p += 2;
    *p++ = 45;                            /* utf8mb4 */
    put_u16(p, SERVER_STATUS_AUTOCOMMIT);
    p += 2;
    put_u16(p, (uint16_t)(caps >> 16));
    p += 2;
    *p++ = 21;
    memset(p, 0, 10);
    p += 10;
    memcpy(p, "refuses-all\0", 12);       /* auth data part 2 (13 bytes with NUL) */
    p += 12;
    *p++ = 0;
    memcpy(p, plugin, sizeof(plugin));
    p += sizeof(plugin);
    mysql_put_header(out, (uint32_t)(p - out - 4), 0);
    return (size_t)(p - out);
}

static void refuse_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct mysql_session *s = w->data;
    relay_close(&s->relay, s->extra->refuse_reason, false);
}

/* Before the client got a greeting: greet it ourselves, then answer its
 * handshake with the error. */
static void session_refuse(struct mysql_session *s, uint16_t code, const char *message, const char *reason)
{
    uint8_t greeting[128];
    size_t n = build_own_greeting(greeting, sizeof(greeting));
    struct flow *down = &s->relay.down;
    struct session_extra *x = session_extra(s);
    if (s->relay.client.fd < 0 || n == 0 || !x) {
        relay_close(&s->relay, reason, false);
        return;
    }
    log_info("session %llu %s: %s", (unsigned long long)s->relay.id, s->relay.client_addr, message);
    stream_close(&s->relay.server, false);
    s->phase = PH_REFUSING;
    x->refuse_code = code;
    x->refuse_reason = reason;
    snprintf(x->refuse_msg, sizeof(x->refuse_msg), "%s", message);
    down->tail = down->scanned;
    s->down_left = 0;
    if (flow_inject(down, greeting, n) != 0) {
        relay_close(&s->relay, reason, false);
        return;
    }
    ev_timer_init(&x->refuse_timer, refuse_timeout_cb, 10., 0.);
    x->refuse_timer.data = s;
    ev_timer_start(s->relay.loop, &x->refuse_timer);
    flow_flush(down);
    flow_resume(&s->relay.up);
}

static void backend_lost(struct mysql_session *s, const char *why)
{
    char msg[400];
    sessions.backend_errors++;
    if (s->phase <= PH_GREETING) {
        snprintf(msg, sizeof(msg), "cannot reach backend %s: %s", s->relay.ep->upstream, why);
        session_refuse(s, DDLP_ER_BACKEND_UNREACHABLE, msg, "backend_gone");
    } else if (s->phase == PH_COMMAND && resp_current_command(&s->resp) >= 0) {
        snprintf(msg, sizeof(msg), "Lost connection to backend %s during query: %s",
                 s->relay.ep->upstream, why);
        session_fail(s, DDLP_ER_BACKEND_LOST, SQLSTATE_LINK_FAILURE, msg, "backend_gone");
    } else if (s->phase == PH_COMMAND || s->phase == PH_RAW) {
        log_info("session %llu %s: backend %s closed the connection: %s", (unsigned long long)s->relay.id,
                 s->relay.client_addr, s->relay.ep->upstream, why);
        relay_close(&s->relay, "backend_gone", false);
    } else {
        snprintf(msg, sizeof(msg), "Lost connection to backend %s during authentication: %s",
                 s->relay.ep->upstream, why);
        session_fail(s, DDLP_ER_BACKEND_LOST, SQLSTATE_LINK_FAILURE, msg, "backend_gone");
    }
}

static void protocol_error(struct mysql_session *s, const char *who, const char *why)
{
    sessions.protocol_errors++;
    log_warn("session %llu %s: protocol error from %s: %s; closing the session",
             (unsigned long long)s->relay.id, s->relay.client_addr, who, why);
}

/* ---- observer glue ---- */

static void fill_info(struct mysql_session *s)
{
    s->info.id = s->relay.id;
    s->info.backend_conn_id = s->greeting.conn_id;
    s->info.client_addr = s->relay.client_addr;
    s->info.user = s->user;
    s->info.db = s->db;
    s->info.server_version = s->greeting.server_version;
    s->info.client_tls = s->relay.client.ssl != NULL;
    s->info.backend_tls = s->relay.server.ssl != NULL;
}

/* Cheap test on every query: does the text start with USE? */
static bool looks_like_use(const uint8_t *p, size_t len)
{
    size_t i = 0;
    while (i < len && isspace(p[i]))
        i++;
    return len - i >= 4 && strncasecmp((const char *)p + i, "use", 3) == 0;
}

/* "USE db" (alone in the text): the session's default schema after its OK. */
static bool parse_use(const uint8_t *p, size_t len, char *db, size_t dblen)
{
    size_t i = 0;
    while (i < len && isspace(p[i]))
        i++;
    if (len - i < 4 || strncasecmp((const char *)p + i, "use", 3) != 0
        || !(isspace(p[i + 3]) || p[i + 3] == '`'))
        return false;
    i += 3;
    while (i < len && isspace(p[i]))
        i++;
    size_t n = 0;
    bool quoted = i < len && p[i] == '`';
    if (quoted)
        i++;
    while (i < len && n + 1 < dblen) {
        if (quoted && p[i] == '`') {
            if (i + 1 < len && p[i + 1] == '`') {
                db[n++] = '`';
                i += 2;
                continue;
            }
            break;
        }
        if (!quoted && (isspace(p[i]) || p[i] == ';'))
            break;
        db[n++] = (char)p[i++];
    }
    db[n] = '\0';
    return n > 0;
}

static void on_client_command(struct mysql_session *s, const uint8_t *payload, size_t avail, uint32_t len)
{
    uint8_t cmd = payload[0];
    switch (cmd) {
    case COM_QUIT:
        s->quitting = true;
        break;
    case COM_INIT_DB: {
        struct session_extra *x = session_extra(s);
        if (!x)
            break;
        size_t n = avail - 1 < sizeof(x->pending_db) - 1 ? avail - 1 : sizeof(x->pending_db) - 1;
        memcpy(x->pending_db, payload + 1, n);
        x->pending_db[n] = '\0';
        s->db_pending = true;
        break;
    }
    case COM_QUERY:
        s->db_pending = false;
        if (looks_like_use(payload + 1, avail - 1) && session_extra(s))
            s->db_pending = parse_use(payload + 1, avail - 1, s->extra->pending_db,
                                      sizeof(s->extra->pending_db));
        break;
    case COM_CHANGE_USER:
        s->user_pending = session_extra(s)
                          && mysql_parse_change_user(payload, avail, s->client_caps, s->extra->pending_user,
                                                     sizeof(s->extra->pending_user), s->extra->pending_db,
                                                     sizeof(s->extra->pending_db)) == 0;
        s->db_pending = s->user_pending;
        break;
    case COM_BINLOG_DUMP:
    case COM_BINLOG_DUMP_GTID:
        s->phase = PH_RAW;
        break;
    default:
        break;
    }
    if (sessions.observer->on_command) {
        struct cmd_info ci = { .command = cmd, .wall_us = clock_wall_us() };
        if (cmd == COM_QUERY || cmd == COM_STMT_PREPARE) {
            ci.text = (const char *)payload + 1;
            ci.text_len = avail - 1;
            ci.text_truncated = avail < len;
        } else if (avail >= 5 && (cmd == COM_STMT_EXECUTE || cmd == COM_STMT_CLOSE
                                  || cmd == COM_STMT_RESET || cmd == COM_STMT_FETCH)) {
            ci.stmt_id = get_u32(payload + 1);
        }
        fill_info(s);
        sessions.observer->on_command((struct mysql_session *)s, &ci);
    }
}

static void on_server_result(struct mysql_session *s, const struct resp_event *ev)
{
    if (ev->ok && ev->final) {
        if (s->db_pending && (ev->command == COM_QUERY || ev->command == COM_INIT_DB
                              || ev->command == COM_CHANGE_USER))
            snprintf(s->db, sizeof(s->db), "%s", s->extra->pending_db);
        if (s->user_pending && ev->command == COM_CHANGE_USER)
            snprintf(s->user, sizeof(s->user), "%s", s->extra->pending_user);
    }
    if (ev->final)
        s->db_pending = s->user_pending = false;
    if (sessions.observer->on_result) {
        struct cmd_result r = {
            .command = ev->command, .index = ev->index, .ok = ev->ok, .final = ev->final,
            .err_code = ev->err.code, .err_msg = ev->err.message,
            .affected_rows = ev->affected_rows, .prepared_stmt_id = ev->prepared_stmt_id,
            .wall_us = clock_wall_us(),
        };
        memcpy(r.sqlstate, ev->err.sqlstate, sizeof(r.sqlstate));
        fill_info(s);
        sessions.observer->on_result((struct mysql_session *)s, &r);
    }
    if (ev->final && s->draining && resp_current_command(&s->resp) < 0)
        relay_close(&s->relay, "shutdown", false);
}

/* ---- the connection phase ---- */

static int start_server_tls(struct mysql_session *s, const struct mysql_response *hs)
{
    uint8_t pkt[4 + 32];
    mysql_put_header(pkt, 32, 1);
    mysql_build_ssl_request(pkt + 4, hs, s->server_is_mariadb);
    /* The server leg is idle (the greeting was read): a 36-byte send does not block. */
    ssize_t n = send(s->relay.server.fd, pkt, sizeof(pkt), MSG_NOSIGNAL);
    if (n != (ssize_t)sizeof(pkt))
        return -1;
    const char *sni = NULL;
    if (stream_tls_start(&s->relay.server, sessions.server_leg_ctx, false, sni) != 0)
        return -1;
    s->phase = PH_SERVER_TLS;
    return 0;
}

static void tls_step(struct mysql_session *s, struct stream *st);

/* The client's first packet(s): SSLRequest and/or HandshakeResponse41. */
static int handle_handshake_response(struct mysql_session *s, struct flow *f, uint8_t *h, uint32_t len)
{
    uint8_t *payload = h + 4;
    struct mysql_response hs;
    const char *why = NULL;
    if (mysql_parse_response(payload, len, s->server_is_mariadb, &hs, &why) != 0) {
        protocol_error(s, "client", why);
        session_fail(s, ER_HANDSHAKE_ERROR, "08S01", why, "protocol_error");
        return -1;
    }
    s->client_caps = hs.caps;
    if (hs.ssl_request) {
        if (!sessions.client_leg_ctx) {
            session_fail(s, ER_HANDSHAKE_ERROR, "08S01",
                         "client requested TLS, which this proxy does not offer (set tls_cert/tls_key)",
                         "protocol_error");
            return -1;
        }
        flow_replace(f, 4 + len, NULL, 0);      /* the SSLRequest ends at the proxy */
        if (stream_tls_start(&s->relay.client, sessions.client_leg_ctx, true, NULL) != 0) {
            relay_close(&s->relay, "cannot start TLS", false);
            return -1;
        }
        s->phase = PH_CLIENT_TLS;
        f->held = true;
        tls_step(s, &s->relay.client);
        return 1;
    }
    snprintf(s->user, sizeof(s->user), "%s", hs.user);
    snprintf(s->db, sizeof(s->db), "%s", hs.db);
    f->exact_reads = false;

    bool server_ssl = s->greeting.caps & CLIENT_SSL;
    enum backend_tls mode = sessions.cfg->backend_tls;
    bool client_tls = s->relay.client.ssl != NULL;
    char msg[400];
    if (mode == BACKEND_TLS_REQUIRE && !server_ssl) {
        snprintf(msg, sizeof(msg), "backend_tls = require, but backend %s does not offer TLS",
                 s->relay.ep->upstream);
        session_fail(s, ER_SECURE_TRANSPORT, "HY000", msg, "backend_tls");
        return -1;
    }
    bool use_tls = server_ssl && mode != BACKEND_TLS_DISABLE && sessions.server_leg_ctx;
    if (client_tls && !use_tls) {
        snprintf(msg, sizeof(msg), "the client connection uses TLS but the connection to backend %s "
                 "would not (%s); refusing to relay credentials in cleartext",
                 s->relay.ep->upstream, mode == BACKEND_TLS_DISABLE ? "backend_tls = disable"
                                                                    : "the backend offers no TLS");
        session_fail(s, ER_SECURE_TRANSPORT, "HY000", msg, "backend_tls");
        return -1;
    }
    if (use_tls) {
        if (start_server_tls(s, &hs) != 0) {
            snprintf(msg, sizeof(msg), "cannot start TLS with backend %s", s->relay.ep->upstream);
            session_fail(s, DDLP_ER_BACKEND_UNREACHABLE, SQLSTATE_CANNOT_CONNECT, msg, "backend_tls");
            return -1;
        }
        f->held = true;
        tls_step(s, &s->relay.server);
        return 1;
    }
    mysql_rewrite_response(payload, len, s->server_is_mariadb, false);
    s->seq_delta = 1 - h[3];
    h[3] = 1;
    s->phase = PH_AUTH;
    return 0;
}

static void tls_step(struct mysql_session *s, struct stream *st)
{
    const char *why = NULL;
    enum tls_step step = stream_tls_handshake(st, &why);
    if (step == TLS_AGAIN)
        return;
    bool client_leg = st == &s->relay.client;
    if (step == TLS_FAILED) {
        char msg[400];
        if (client_leg) {
            log_info("session %llu %s: client TLS handshake failed: %s",
                     (unsigned long long)s->relay.id, s->relay.client_addr, why);
            relay_close(&s->relay, "client TLS handshake failed", false);
        } else {
            snprintf(msg, sizeof(msg), "TLS handshake with backend %s failed: %s",
                     s->relay.ep->upstream, why);
            /* the client leg may itself be TLS now: session_fail writes through it */
            session_fail(s, DDLP_ER_BACKEND_UNREACHABLE, SQLSTATE_CANNOT_CONNECT, msg, "backend_tls");
        }
        return;
    }
    s->phase = client_leg ? PH_HANDSHAKE : PH_RESPONSE_READY;
    flow_resume(&s->relay.up);
}

/* ---- inspectors: find packet boundaries, look, release ---- */

/* Advances over the rest of the current packet. Returns true when at a boundary. */
static bool pass_packet_rest(struct flow *f, uint32_t *left)
{
    if (*left == 0)
        return true;
    size_t avail = f->tail - f->scanned;
    size_t n = avail < *left ? avail : *left;
    f->scanned += n;
    *left -= (uint32_t)n;
    return *left == 0;
}

/* Moves past the rest of the current packet and returns the next packet's
 * header, or NULL when the flow must wait (f->need says for what) or stop. */
static uint8_t *next_packet(struct mysql_session *s, struct flow *f, uint32_t *left, uint32_t *len)
{
    if (f->held || s->relay.state == RELAY_CLOSED)
        return NULL;
    if (!pass_packet_rest(f, left))
        return NULL;
    if (s->phase == PH_RAW) {
        f->scanned = f->tail;
        return NULL;
    }
    if (f->tail - f->scanned < 4) {
        f->need = 4;
        return NULL;
    }
    uint8_t *h = f->buf + f->scanned;
    *len = mysql_payload_len(h);
    return h;
}

static int inspect_up(struct flow *f, void *arg)
{
    struct mysql_session *s = arg;
    for (;;) {
        uint32_t len;
        uint8_t *h = next_packet(s, f, &s->up_left, &len);
        if (!h)
            return 0;
        size_t avail = f->tail - f->scanned;
        size_t look;                    /* payload bytes to look at before releasing */

        switch (s->phase) {
        case PH_REFUSING:
            /* the client answered our greeting: now the error it can report */
            s->next_seq = (uint8_t)(h[3] + 1);
            session_fail(s, s->extra->refuse_code,
                         s->extra->refuse_code == ER_CON_COUNT_ERROR ? "08004" : SQLSTATE_CANNOT_CONNECT,
                         s->extra->refuse_msg, s->extra->refuse_reason);
            return 0;
        case PH_HANDSHAKE:
        case PH_RESPONSE_READY:
            if (len > HANDSHAKE_MAX_PACKET) {
                protocol_error(s, "client", "handshake packet too large");
                relay_close(&s->relay, "protocol_error", false);
                return 0;
            }
            look = len;
            break;
        case PH_AUTH:
            look = 0;
            break;
        case PH_COMMAND:
            if (len > 0 && avail < 5) {
                f->need = 5;
                return 0;
            }
            if (len == 0 || s->resp.client_cont || s->resp.state == RS_INFILE_DATA
                || (s->resp.state == RS_AUTH && s->resp.auth_turn)) {
                look = 0;
            } else {
                uint8_t cmd = h[4];
                size_t want = cmd == COM_QUERY || cmd == COM_STMT_PREPARE ? (size_t)sessions.cfg->max_inspect
                            : cmd == COM_CHANGE_USER || cmd == COM_INIT_DB ? 4096
                            : cmd == COM_STMT_EXECUTE ? 16 : 1;
                look = len < want ? len : want;
            }
            break;
        default:
            /* nothing is expected from the client now (TLS switch in progress) */
            f->need = 4 + len;
            return 0;
        }
        if (avail < 4 + look) {
            f->need = 4 + look;
            return 0;
        }
        f->need = 0;
        h = f->buf + f->scanned;
        s->next_seq = (uint8_t)(h[3] + 1);

        if (s->phase == PH_HANDSHAKE) {
            int rc = handle_handshake_response(s, f, h, len);
            if (rc < 0 || s->relay.state == RELAY_CLOSED)
                return 0;
            if (rc > 0)
                continue;               /* held for TLS, or the SSLRequest was consumed */
        } else if (s->phase == PH_RESPONSE_READY) {
            mysql_rewrite_response(h + 4, len, s->server_is_mariadb, true);
            s->seq_delta = 2 - h[3];
            h[3] = 2;
            s->phase = PH_AUTH;
        } else if (s->phase == PH_AUTH) {
            h[3] = (uint8_t)(h[3] + s->seq_delta);
        } else {
            enum client_packet_kind kind = resp_client_packet(&s->resp, h + 4, look, len);
            if (kind == CP_COMMAND)
                on_client_command(s, h + 4, look, len);
        }
        f->scanned += 4 + look;
        s->up_left = len - (uint32_t)look;
    }
}

static int handle_greeting(struct mysql_session *s, uint8_t *h, uint32_t len)
{
    const char *why = NULL;
    if (len >= 1 && h[4] == PKT_ERR) {
        /* the server refused us (too many connections, host blocked): pass its ERR on */
        struct mysql_err e;
        mysql_parse_err(h + 4, len, &e);
        log_info("session %llu %s: backend %s refused the connection: %u %s",
                 (unsigned long long)s->relay.id, s->relay.client_addr, s->relay.ep->upstream,
                 e.code, e.message);
        s->phase = PH_AUTH;
        return 0;
    }
    if (mysql_parse_greeting(h + 4, len, &s->greeting, &why) != 0) {
        protocol_error(s, "server", why);
        char msg[300];
        snprintf(msg, sizeof(msg), "backend %s sent a malformed greeting: %s", s->relay.ep->upstream, why);
        session_refuse(s, DDLP_ER_BACKEND_UNREACHABLE, msg, "protocol_error");
        return -1;
    }
    s->server_is_mariadb = s->greeting.has_mariadb_caps;
    mysql_rewrite_greeting(h + 4, &s->greeting, sessions.client_leg_ctx != NULL);
    s->phase = PH_HANDSHAKE;
    s->relay.up.exact_reads = true;   /* the client may switch to TLS after its first packet */
    fill_info(s);
    return 0;
}

static void handle_auth_reply(struct mysql_session *s, uint8_t *h, uint32_t len)
{
    h[3] = (uint8_t)(h[3] - s->seq_delta);
    if (len == 0)
        return;
    if (h[4] == PKT_OK) {
        s->phase = PH_COMMAND;
        s->seq_delta = 0;
        resp_init(&s->resp, s->client_caps & (s->greeting.caps & ~PROXY_UNSUPPORTED_CAPS));
        sessions.auth_ok++;
        s->opened = true;
        fill_info(s);
        if (sessions.observer->on_open)
            sessions.observer->on_open((struct mysql_session *)s, &s->info);
    } else if (h[4] == PKT_ERR) {
        sessions.auth_failed++;
    }
}

static int inspect_down(struct flow *f, void *arg)
{
    struct mysql_session *s = arg;
    for (;;) {
        uint32_t len;
        uint8_t *h = next_packet(s, f, &s->down_left, &len);
        if (!h)
            return 0;
        size_t avail = f->tail - f->scanned;
        size_t look;
        if (s->phase == PH_GREETING) {
            if (len > HANDSHAKE_MAX_PACKET) {
                protocol_error(s, "server", "greeting too large");
                session_refuse(s, DDLP_ER_BACKEND_UNREACHABLE, "backend sent a malformed greeting (too large)",
                               "protocol_error");
                return 0;
            }
            look = len;
        } else if (s->phase == PH_COMMAND && s->resp.server_cont) {
            look = 0;
        } else {
            look = len < RESP_INSPECT ? len : RESP_INSPECT;
        }
        if (avail < 4 + look) {
            f->need = 4 + look;
            return 0;
        }
        f->need = 0;

        switch (s->phase) {
        case PH_GREETING:
            if (handle_greeting(s, h, len) < 0)
                return 0;
            s->next_seq = (uint8_t)(h[3] + 1);
            f->scanned += 4 + look;
            s->down_left = len - (uint32_t)look;
            flow_resume(&s->relay.up);      /* now the client may speak */
            continue;
        case PH_AUTH:
            handle_auth_reply(s, h, len);
            break;
        case PH_COMMAND: {
            struct resp_event ev;
            resp_server_packet(&s->resp, h + 4, look, len, &ev);
            if (ev.protocol_error) {
                char msg[300];
                protocol_error(s, "server", ev.protocol_error);
                snprintf(msg, sizeof(msg), "backend %s sent a malformed packet (%s)",
                         s->relay.ep->upstream, ev.protocol_error);
                session_fail(s, DDLP_ER_BACKEND_PROTOCOL, SQLSTATE_LINK_FAILURE, msg, "protocol_error");
                return 0;
            }
            s->next_seq = (uint8_t)(h[3] + 1);
            if (ev.result) {
                f->scanned += 4 + look;
                s->down_left = len - (uint32_t)look;
                on_server_result(s, &ev);
                continue;
            }
            break;
        }
        default:
            /* a server speaking out of turn (e.g. an ERR before our SSLRequest): relay it */
            break;
        }
        s->next_seq = (uint8_t)(h[3] + 1);
        f->scanned += 4 + look;
        s->down_left = len - (uint32_t)look;
    }
}

/* ---- relay hooks ---- */

static void hook_connected(struct relay *r)
{
    struct mysql_session *s = session_of(r);
    s->phase = PH_GREETING;
    relay_rearm(r);
}

static void hook_connect_failed(struct relay *r, const char *why)
{
    struct mysql_session *s = session_of(r);
    sessions.backend_errors++;
    char msg[400];
    snprintf(msg, sizeof(msg), "Can't connect to backend %s (%s)", r->ep->upstream, why);
    session_refuse(s, DDLP_ER_BACKEND_UNREACHABLE, msg, "backend_gone");
}

static void hook_failed(struct relay *r, struct stream *at, const char *why)
{
    struct mysql_session *s = session_of(r);
    if (at == &r->server && s->quitting) {
        relay_close(r, "client_gone", false);
    } else if (at == &r->server) {
        backend_lost(s, why);
    } else {
        log_debug("session %llu %s: client connection: %s", (unsigned long long)r->id,
                  r->client_addr, why);
        relay_close(r, "client_gone", false);
    }
}

static void hook_drained_eof(struct relay *r, struct flow *f)
{
    struct mysql_session *s = session_of(r);
    if (f == &r->up)
        relay_close(r, "client_gone", false);
    else if (s->quitting)
        relay_close(r, "client_gone", false);
    else
        backend_lost(s, "the server closed the connection");
}

static void hook_tls_event(struct relay *r, struct stream *st)
{
    tls_step(session_of(r), st);
}

static void hook_closed(struct relay *r, const char *reason)
{
    struct mysql_session *s = session_of(r);
    if (s->phase == PH_REFUSING)
        ev_timer_stop(r->loop, &s->extra->refuse_timer);
    if (s->over_limit)
        sessions.refusing--;
    else
        sessions.count--;
    if (s->opened && sessions.observer->on_close)
        sessions.observer->on_close((struct mysql_session *)s, reason);
}

static void hook_release(struct relay *r)
{
    struct mysql_session *s = session_of(r);
    free(s->extra);
    free(s);
}

static void hook_describe(struct relay *r, json_t *o)
{
    struct mysql_session *s = session_of(r);
    json_object_set_new(o, "user", json_string(s->user));
    json_object_set_new(o, "db", json_string(s->db));
    json_object_set_new(o, "backend_conn_id", json_integer(s->greeting.conn_id));
    json_object_set_new(o, "phase", json_string(phase_names[s->phase]));
    int cmd = s->phase == PH_COMMAND ? resp_current_command(&s->resp) : -1;
    json_object_set_new(o, "command", cmd >= 0 ? json_integer(cmd) : json_null());
    json_object_set_new(o, "client_tls", json_boolean(r->client.ssl != NULL));
    json_object_set_new(o, "backend_tls", json_boolean(r->server.ssl != NULL));
}

static const struct relay_hooks session_hooks = {
    .connected = hook_connected,
    .connect_failed = hook_connect_failed,
    .failed = hook_failed,
    .drained_eof = hook_drained_eof,
    .tls_event = hook_tls_event,
    .closed = hook_closed,
    .release = hook_release,
    .describe = hook_describe,
};

/* ---- life cycle ---- */

int mysql_sessions_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen)
{
    sessions.loop = loop;
    sessions.cfg = cfg;
    if (!sessions.observer)
        sessions.observer = &no_observer;
    if (cfg->tls_cert) {
        sessions.client_leg_ctx = tls_server_ctx(cfg->tls_cert, cfg->tls_key, err, errlen);
        if (!sessions.client_leg_ctx)
            return -1;
    }
    if (cfg->backend_tls != BACKEND_TLS_DISABLE) {
        sessions.server_leg_ctx = tls_client_ctx(cfg->backend_ca, err, errlen);
        if (!sessions.server_leg_ctx)
            return -1;
    }
    endpoints_set_mysql_acceptor(mysql_session_accept);
    return 0;
}

void mysql_session_accept(struct endpoint *ep, int fd, const struct sockaddr *client,
                          socklen_t len, uint64_t serial)
{
    bool over_limit = sessions.count >= (unsigned)sessions.cfg->max_connections;
    if (over_limit) {
        sessions.refused_max++;
        ep->stats.conns_refused++;
    }
    if (over_limit && sessions.refusing >= REFUSING_MAX) {
        /* a flood: no greeting dance for this one, a bare ERR and close */
        uint8_t pkt[200];
        size_t n = mysql_build_err(pkt, sizeof(pkt), 0, ER_CON_COUNT_ERROR, "08004", "Too many connections");
        if (send(fd, pkt, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            log_debug("max_connections: could not tell the client: %s", strerror(errno));
        close(fd);
        return;
    }
    struct mysql_session *s = calloc(1, sizeof(*s));
    if (!s) {
        log_error("out of memory accepting a MySQL client");
        close(fd);
        return;
    }
    s->over_limit = over_limit;
    if (over_limit) {
        sessions.refusing++;
        relay_start_local(&s->relay, sessions.loop, ep, fd, client, len, serial, &session_hooks);
    } else {
        sessions.count++;
        sessions.total++;
        s->phase = PH_CONNECTING;
        relay_start(&s->relay, sessions.loop, ep, fd, client, len, serial, &session_hooks);
    }
    if (s->relay.state == RELAY_CLOSED)
        return;
    s->relay.up.inspect = inspect_up;
    s->relay.up.inspect_arg = s;
    s->relay.down.inspect = inspect_down;
    s->relay.down.inspect_arg = s;
    if (s->phase == PH_REFUSING) {    /* the connect failed inside relay_start */
        flow_resume(&s->relay.up);
        return;
    }
    s->relay.up.held = true;          /* the client speaks after the greeting */
    if (over_limit) {
        char msg[128];
        snprintf(msg, sizeof(msg), "Too many connections (ddlproxy max_connections = %lld)",
                 (long long)sessions.cfg->max_connections);
        session_refuse(s, ER_CON_COUNT_ERROR, msg, "max_connections");
        return;
    }
    relay_rearm(&s->relay);
}

unsigned mysql_session_count(void) { return sessions.count; }

unsigned mysql_sessions_drain(void)
{
    for (struct relay *r = relay_first(), *next; r; r = next) {
        next = r->next;
        if (!r->ep->is_mysql || r->hooks != &session_hooks)
            continue;
        struct mysql_session *s = session_of(r);
        s->draining = true;
        bool busy = s->phase == PH_COMMAND && resp_current_command(&s->resp) >= 0;
        if (!busy)
            relay_close(r, "shutdown", false);
    }
    return sessions.count;
}

void mysql_sessions_close_all(const char *reason)
{
    for (struct relay *r = relay_first(), *next; r; r = next) {
        next = r->next;
        if (r->hooks == &session_hooks)
            relay_close(r, reason, false);
    }
}

json_t *mysql_sessions_stats_json(void)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "open", (json_int_t)sessions.count,
                     "total", (json_int_t)sessions.total,
                     "refused_max_connections", (json_int_t)sessions.refused_max,
                     "auth_ok", (json_int_t)sessions.auth_ok,
                     "auth_failed", (json_int_t)sessions.auth_failed,
                     "backend_errors", (json_int_t)sessions.backend_errors,
                     "protocol_errors", (json_int_t)sessions.protocol_errors);
}

void mysql_sessions_free(void)
{
    if (sessions.client_leg_ctx)
        SSL_CTX_free(sessions.client_leg_ctx);
    if (sessions.server_leg_ctx)
        SSL_CTX_free(sessions.server_leg_ctx);
    sessions.client_leg_ctx = sessions.server_leg_ctx = NULL;
}
