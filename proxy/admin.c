/* admin.c - the admin listeners and connections on the event loop: socket
 * setup (stale socket detection, 0600, loopback-or-token), the line protocol
 * with pipelining and back-pressure, token authentication, and 'GET /metrics'.
 * What a command does is admin_commands.c's business. */
#include "conf.h"
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "admin_commands.h"
#include "admin_line.h"
#include "log.h"
#include "netutil.h"

#define READ_CHUNK          16384
#define OUT_HIGH_WATER      (256 * 1024)   /* stop taking commands while this much reply is unsent */
#define MAX_HTTP_HEADERS    100
#define LISTEN_BACKLOG      64
#define ACCEPT_RETRY_S      0.5            /* pause accepting after EMFILE */
#define LOGIN_TIMEOUT_S     10.0           /* to authenticate, or to finish an HTTP request */

struct admin_listener {
    int fd;
    ev_io io;
    bool tcp;
    bool need_auth;          /* TCP with a token: first line must be 'auth TOKEN' */
    char name[192];          /* for logs: "unix:/path" or "tcp:127.0.0.1:6033" */
};

enum conn_mode {
    MODE_AUTH,               /* waiting for 'auth TOKEN' */
    MODE_COMMANDS,
    MODE_HTTP_HEADERS,       /* after an HTTP request line, until the blank line */
    MODE_CLOSING,            /* flush what is queued, then close */
};

struct admin_conn {
    int fd;
    ev_io rio, wio;
    ev_timer login_timer;    /* unauthenticated connections must not hold a slot forever */
    struct admin_listener *listener;
    char peer[80];
    enum conn_mode mode;
    bool seen_line;          /* a request line can only be the first one */
    bool peer_eof;
    bool broken;             /* write failed: close without flushing */

    char *in;
    size_t in_len, in_cap;
    char *out;
    size_t out_len, out_off, out_cap;

    char http_method[16];
    char http_target[256];
    bool http_authorized;
    int http_headers;

    struct admin_conn *prev, *next;
};

static struct {
    struct ev_loop *loop;
    bool started;
    struct admin_listener unix_l, tcp_l;
    char *socket_path;
    dev_t socket_dev;        /* identity of the socket file we created, so */
    ino_t socket_ino;        /* admin_stop never unlinks somebody else's */
    bool has_token;
    unsigned char token_digest[EVP_MAX_MD_SIZE];
    unsigned int token_digest_len;
    struct admin_conn *conns;
    int n_conns;
    ev_timer accept_retry;
} admin = { .unix_l.fd = -1, .tcp_l.fd = -1 };

/* ---- output ---- */

static size_t out_pending(const struct admin_conn *c)
{
    return c->out_len - c->out_off;
}

static int out_append(struct admin_conn *c, const char *data, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + len > c->out_cap) {
        /* Compact before growing: the sent prefix is dead weight. */
        if (c->out_off > 0) {
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        size_t cap = c->out_cap ? c->out_cap : 4096;
        while (cap < c->out_len + len)
            cap *= 2;
        char *p = realloc(c->out, cap);
        if (!p)
            return -1;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

/* Queues one reply line and releases the reply. */
static void send_reply(struct admin_conn *c, json_t *reply)
{
    static const char oom[] = "{\"ok\":false,\"error\":\"out of memory\"}\n";
    char *text = reply ? json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(reply);

    int rc = text ? out_append(c, text, strlen(text)) : out_append(c, oom, sizeof(oom) - 1);
    if (rc == 0 && text)
        rc = out_append(c, "\n", 1);
    free(text);
    if (rc != 0) {
        log_error("admin: %s: out of memory queueing a reply; closing", c->peer);
        c->broken = true;
    }
}

static void send_error_and_close(struct admin_conn *c, const char *msg)
{
    send_reply(c, admin_reply_error("%s", msg));
    c->mode = MODE_CLOSING;
}

/* ---- connection lifecycle ---- */

static void conn_close(struct admin_conn *c)
{
    ev_io_stop(admin.loop, &c->rio);
    ev_io_stop(admin.loop, &c->wio);
    ev_timer_stop(admin.loop, &c->login_timer);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        admin.conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    admin.n_conns--;
    log_debug("admin: %s: closed", c->peer);
    free(c->in);
    free(c->out);
    free(c);
}

/* Writes what it can. Returns -1 when the peer is gone. */
static int conn_flush(struct admin_conn *c)
{
    while (out_pending(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, out_pending(c), MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        log_debug("admin: %s: write failed: %s", c->peer, strerror(errno));
        return -1;
    }
    c->out_off = c->out_len = 0;
    if (c->out_cap > OUT_HIGH_WATER) {
        /* One big reply (a long 'ddl list') must not pin its buffer for the
         * rest of the connection's life. */
        free(c->out);
        c->out = NULL;
        c->out_cap = 0;
    }
    return 0;
}

/* ---- authentication ---- */

static void token_digest(const char *token, size_t len, unsigned char *md, unsigned int *md_len)
{
    if (!EVP_Digest(token, len, md, md_len, EVP_sha256(), NULL))
        *md_len = 0;
}

/* Compares digests, so neither the content nor the length of the token
 * leaks through timing. */
static bool token_matches(const char *given)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    token_digest(given, strlen(given), md, &md_len);
    return md_len != 0 && md_len == admin.token_digest_len
           && CRYPTO_memcmp(md, admin.token_digest, md_len) == 0;
}

static bool token_matches_n(const char *given, size_t len)
{
    char buf[1024];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, given, len);
    buf[len] = '\0';
    bool ok = token_matches(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return ok;
}

/* ---- HTTP (GET /metrics) ---- */

static void http_respond(struct admin_conn *c, int status, const char *reason,
                         const char *extra_headers, const char *body)
{
    char head[512];
    size_t body_len = strlen(body);
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Connection: close\r\n\r\n",
                     status, reason,
                     status == 200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
                     body_len, extra_headers);
    if (out_append(c, head, (size_t)n) != 0
        || (strcmp(c->http_method, "HEAD") != 0 && out_append(c, body, body_len) != 0))
        c->broken = true;
    c->mode = MODE_CLOSING;
}

static void http_finish(struct admin_conn *c)
{
    char *query = strchr(c->http_target, '?');
    if (query)
        *query = '\0';

    if (c->listener->need_auth && !c->http_authorized) {
        log_warn("admin: %s: GET %s without a valid bearer token", c->peer, c->http_target);
        http_respond(c, 401, "Unauthorized", "WWW-Authenticate: Bearer realm=\"ddlproxy\"\r\n",
                     "authentication required: send 'Authorization: Bearer TOKEN'\n");
        return;
    }
    if (strcmp(c->http_method, "GET") != 0 && strcmp(c->http_method, "HEAD") != 0) {
        http_respond(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "only GET /metrics is served here\n");
        return;
    }
    if (strcmp(c->http_target, "/metrics") != 0) {
        http_respond(c, 404, "Not Found", "", "only GET /metrics is served here\n");
        return;
    }
    char *text = admin_commands_metrics();
    if (!text) {
        http_respond(c, 500, "Internal Server Error", "", "out of memory\n");
        return;
    }
    http_respond(c, 200, "OK", "", text);
    free(text);
}

static void http_header_line(struct admin_conn *c, const char *line)
{
    if (*line == '\0') {
        http_finish(c);
        return;
    }
    if (++c->http_headers > MAX_HTTP_HEADERS) {
        http_respond(c, 431, "Request Header Fields Too Large", "", "too many header lines\n");
        return;
    }
    size_t len;
    const char *token = admin_http_bearer(line, &len);
    if (token && admin.has_token && token_matches_n(token, len))
        c->http_authorized = true;
}

/* ---- the line protocol ---- */

static void handle_auth(struct admin_conn *c, int argc, char **argv)
{
    if (c->mode != MODE_AUTH) {
        /* Nothing to prove here (Unix socket, no token, or done already):
         * accepted so one script works against every listener. */
        send_reply(c, admin_reply_ok(NULL, NULL));
        return;
    }
    if (argc != 2) {
        send_error_and_close(c, "usage: auth TOKEN");
        return;
    }
    if (!token_matches(argv[1])) {
        log_warn("admin: %s: authentication failed", c->peer);
        send_error_and_close(c, "authentication failed");
        return;
    }
    c->mode = MODE_COMMANDS;
    ev_timer_stop(admin.loop, &c->login_timer);
    send_reply(c, admin_reply_ok(NULL, NULL));
}

static bool is_blank_line(const char *line, size_t len)
{
    return strspn(line, " \t") == len;
}

static void handle_line(struct admin_conn *c, char *line, size_t len)
{
    line[len] = '\0';
    if (c->mode == MODE_HTTP_HEADERS) {
        http_header_line(c, line);
        return;
    }

    const char *bad = admin_line_check_text(line, len);
    if (bad) {
        c->seen_line = true;
        if (c->mode == MODE_AUTH)
            send_error_and_close(c, "authentication required");
        else
            send_reply(c, admin_reply_error("%s", bad));
        return;
    }
    if (is_blank_line(line, len))
        return;    /* ignored, and answered by nothing: handy when typing into socat */

    bool first = !c->seen_line;
    c->seen_line = true;
    if (first && admin_http_request_line(line, c->http_method, sizeof(c->http_method),
                                         c->http_target, sizeof(c->http_target))) {
        c->mode = MODE_HTTP_HEADERS;
        ev_timer_stop(admin.loop, &c->login_timer);
        ev_timer_set(&c->login_timer, LOGIN_TIMEOUT_S, 0.);
        ev_timer_start(admin.loop, &c->login_timer);
        return;
    }

    char *argv[ADMIN_MAX_ARGS];
    char err[128];
    int argc = admin_tokenize(line, argv, ADMIN_MAX_ARGS, err, sizeof(err));
    if (argc > 0 && strcmp(argv[0], "auth") == 0) {
        handle_auth(c, argc, argv);
        return;
    }
    if (c->mode == MODE_AUTH) {
        send_error_and_close(c, "authentication required");
        return;
    }
    if (argc < 0) {
        send_reply(c, admin_reply_error("%s", err));
        return;
    }
    log_debug("admin: %s: %s", c->peer, argv[0]);
    send_reply(c, admin_commands_run(argc, argv));
}

/* Runs the complete lines in the input buffer, in order, until the output
 * backs up or the connection is to be closed. Returns true if it consumed
 * anything or changed the connection's mode. */
static bool process_input(struct admin_conn *c)
{
    size_t off = 0;
    enum conn_mode mode_before = c->mode;

    while (c->mode != MODE_CLOSING && !c->broken && out_pending(c) < OUT_HIGH_WATER) {
        size_t line_len, consumed;
        enum admin_line_status st = admin_line_next(c->in + off, c->in_len - off, ADMIN_MAX_LINE,
                                                    &line_len, &consumed);
        if (st == ADMIN_LINE_NEED_MORE)
            break;
        if (st == ADMIN_LINE_TOO_LONG) {
            log_warn("admin: %s: line longer than %d bytes; closing", c->peer, ADMIN_MAX_LINE);
            if (c->mode == MODE_HTTP_HEADERS)
                http_respond(c, 431, "Request Header Fields Too Large", "", "header line too long\n");
            else
                send_error_and_close(c, "line too long (the limit is 65536 bytes); closing the connection");
            off = c->in_len;
            break;
        }
        handle_line(c, c->in + off, line_len);
        off += consumed;
    }
    if (off > 0) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    /* A half line at disconnect is dropped: there is nobody to run it for. */
    if (c->peer_eof && c->mode != MODE_CLOSING && out_pending(c) < OUT_HIGH_WATER)
        c->mode = MODE_CLOSING;
    return off > 0 || c->mode != mode_before;
}

static int conn_read(struct admin_conn *c)
{
    /* The buffer only needs to hold one line too many to tell it is too long. */
    size_t limit = ADMIN_MAX_LINE + READ_CHUNK;
    if (c->in_cap - c->in_len < READ_CHUNK && c->in_cap < limit) {
        size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK;
        if (cap > limit)
            cap = limit;
        char *p = realloc(c->in, cap);
        if (!p)
            return -1;
        c->in = p;
        c->in_cap = cap;
    }
    if (c->in_len == c->in_cap)
        return 0;     /* full of unprocessed lines; process_input makes room */

    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        return 0;
    }
    if (n == 0) {
        c->peer_eof = true;
        return 0;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return 0;
    log_debug("admin: %s: read failed: %s", c->peer, strerror(errno));
    return -1;
}

/* The one place a connection's watchers are set or the connection closed,
 * after every event. Runs buffered lines whenever replies have drained
 * below the high-water mark: the peer may have sent everything already and
 * will not wake us by sending more. Returns false if c was freed. */
static bool conn_settle(struct admin_conn *c)
{
    for (;;) {
        if (c->broken || conn_flush(c) != 0) {
            conn_close(c);
            return false;
        }
        if (out_pending(c) >= OUT_HIGH_WATER || !process_input(c))
            break;
    }
    if (c->mode == MODE_CLOSING && out_pending(c) == 0) {
        conn_close(c);
        return false;
    }
    if (out_pending(c) > 0)
        ev_io_start(admin.loop, &c->wio);
    else
        ev_io_stop(admin.loop, &c->wio);

    /* Back-pressure: a client that does not read its replies gets no more
     * commands run for it until it does. */
    bool want_read = c->mode != MODE_CLOSING && !c->peer_eof && out_pending(c) < OUT_HIGH_WATER;
    if (want_read)
        ev_io_start(admin.loop, &c->rio);
    else
        ev_io_stop(admin.loop, &c->rio);
    return true;
}

static void on_conn_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct admin_conn *c = w->data;
    if (conn_read(c) != 0) {
        conn_close(c);
        return;
    }
    conn_settle(c);
}

static void on_conn_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    conn_settle(w->data);
}

static void on_login_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct admin_conn *c = w->data;
    if (c->mode != MODE_AUTH && c->mode != MODE_HTTP_HEADERS)
        return;
    log_warn("admin: %s: no %s within %.0f s; closing", c->peer,
             c->mode == MODE_AUTH ? "'auth TOKEN'" : "complete HTTP request", LOGIN_TIMEOUT_S);
    if (c->mode == MODE_AUTH)
        send_error_and_close(c, "authentication timed out");
    else
        c->mode = MODE_CLOSING;
    conn_settle(c);
}

/* ---- listeners ---- */

static void listeners_pause(bool pause)
{
    struct admin_listener *ls[] = { &admin.unix_l, &admin.tcp_l };
    for (size_t i = 0; i < 2; i++) {
        if (ls[i]->fd < 0)
            continue;
        if (pause)
            ev_io_stop(admin.loop, &ls[i]->io);
        else
            ev_io_start(admin.loop, &ls[i]->io);
    }
}

static void on_accept_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    listeners_pause(false);
}

static void reject_connection(int fd, const char *msg)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", msg);
    /* Best effort: the socket buffer of a fresh connection has room for one line. */
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        log_debug("admin: rejecting a connection: %s", strerror(errno));
    close(fd);
}

static void accept_one(struct admin_listener *l, int fd, const struct sockaddr *sa)
{
    if (admin.n_conns >= ADMIN_MAX_CONNECTIONS) {
        log_warn("admin: %s: too many admin connections (%d); refusing one", l->name, admin.n_conns);
        reject_connection(fd, "too many admin connections (the limit is 128)");
        return;
    }
    struct admin_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        reject_connection(fd, "out of memory");
        return;
    }
    c->fd = fd;
    c->listener = l;
    c->mode = l->need_auth ? MODE_AUTH : MODE_COMMANDS;
    if (l->tcp)
        net_format_addr(sa, c->peer, sizeof(c->peer));
    else
        snprintf(c->peer, sizeof(c->peer), "unix");
    ev_io_init(&c->rio, on_conn_readable, fd, EV_READ);
    ev_io_init(&c->wio, on_conn_writable, fd, EV_WRITE);
    ev_timer_init(&c->login_timer, on_login_timeout, LOGIN_TIMEOUT_S, 0.);
    c->rio.data = c->wio.data = c->login_timer.data = c;
    c->next = admin.conns;
    if (admin.conns)
        admin.conns->prev = c;
    admin.conns = c;
    admin.n_conns++;
    ev_io_start(admin.loop, &c->rio);
    if (c->mode == MODE_AUTH)
        ev_timer_start(admin.loop, &c->login_timer);
    log_debug("admin: %s: connected on %s", c->peer, l->name);
}

static void on_listener_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    struct admin_listener *l = w->data;

    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            accept_one(l, fd, (struct sockaddr *)&ss);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* The pending connection stays queued and would wake us at once
             * again: pause rather than spin. */
            log_warn("admin: %s: accept: %s; pausing admin accepts", l->name, strerror(errno));
            listeners_pause(true);
            ev_timer_set(&admin.accept_retry, ACCEPT_RETRY_S, 0.);
            ev_timer_start(admin.loop, &admin.accept_retry);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
            log_warn("admin: %s: accept: %s", l->name, strerror(errno));
        }
        return;
    }
}

static void listener_start(struct admin_listener *l, int fd)
{
    l->fd = fd;
    ev_io_init(&l->io, on_listener_readable, fd, EV_READ);
    l->io.data = l;
    ev_io_start(admin.loop, &l->io);
}

/* Creates the missing directories of path's parent, mode 0700. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(dir, sizeof(dir), "%s", path);

    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "cannot create directory %s for the admin socket: %s", dir, strerror(errno));
            return -1;
        }
        *p = '/';
    }
    return 0;
}

/* Decides what to do about something already at the socket path. */
static int clear_socket_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot check admin socket path %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "admin socket path %s exists and is not a socket; refusing to replace it "
                 "(remove it, or set [admin] socket to another path)", path);
        return -1;
    }

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    close(fd);

    if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
        snprintf(err, errlen, "another ddlproxy is running: %s answers (stop it, or set [admin] socket "
                 "to another path)", path);
        return -1;
    }
    if (e == ECONNREFUSED) {
        /* Nobody listens: left over from a run that crashed. */
        log_warn("admin: removing stale admin socket %s", path);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove stale admin socket %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    if (e == ENOENT)
        return 0;
    snprintf(err, errlen, "cannot check existing admin socket %s: %s", path, strerror(e));
    return -1;
}

static int open_unix_listener(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "admin socket path is too long (at most %zu bytes): %s",
                 sizeof(sun.sun_path) - 1, path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (make_parent_dirs(path, err, errlen) != 0 || clear_socket_path(path, err, errlen) != 0)
        return -1;

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* The umask makes the socket 0600 from its first instant; the chmod
     * covers file systems that do not apply it to sockets. */
    mode_t old_mask = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    int e = errno;
    umask(old_mask);
    if (rc != 0) {
        snprintf(err, errlen, "cannot bind admin socket %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    struct stat st;
    if (chmod(path, 0600) != 0 || stat(path, &st) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        snprintf(err, errlen, "cannot set up admin socket %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    admin.socket_dev = st.st_dev;
    admin.socket_ino = st.st_ino;
    return fd;
}

static int open_tcp_listener(const char *hostport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char why[256];

    if (net_resolve(hostport, true, &ss, &len, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "[admin] listen: %s", why);
        return -1;
    }
    if (!admin.has_token && !net_is_loopback((struct sockaddr *)&ss)) {
        snprintf(err, errlen, "[admin] listen = %s is not a loopback address and [admin] token is not set: "
                 "anyone who can reach it could inject faults; set [admin] token, or listen on 127.0.0.1",
                 hostport);
        return -1;
    }
    int fd = net_listen(hostport, LISTEN_BACKLOG, why, sizeof(why));
    if (fd < 0)
        snprintf(err, errlen, "[admin] listen: %s", why);
    return fd;
}

int admin_start(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];

    if (admin.started) {
        snprintf(err, errlen, "admin server already started");
        return -1;
    }
    admin.loop = loop;
    admin.started = true;
    ev_timer_init(&admin.accept_retry, on_accept_retry, ACCEPT_RETRY_S, 0.);

    admin.has_token = cfg->admin_token && *cfg->admin_token;
    if (admin.has_token) {
        token_digest(cfg->admin_token, strlen(cfg->admin_token), admin.token_digest,
                     &admin.token_digest_len);
        if (admin.token_digest_len == 0) {
            snprintf(err, errlen, "cannot hash [admin] token (OpenSSL SHA-256 unavailable)");
            goto fail;
        }
    }

    /* TCP first: refusing an exposed port must not leave a socket file behind. */
    if (cfg->admin_listen && *cfg->admin_listen) {
        int fd = open_tcp_listener(cfg->admin_listen, err, errlen);
        if (fd < 0)
            goto fail;
        admin.tcp_l.tcp = true;
        admin.tcp_l.need_auth = admin.has_token;
        snprintf(admin.tcp_l.name, sizeof(admin.tcp_l.name), "tcp:%s", cfg->admin_listen);
        listener_start(&admin.tcp_l, fd);
    }

    if (cfg->admin_socket && *cfg->admin_socket) {
        snprintf(path, sizeof(path), "%s", cfg->admin_socket);
    } else if (admin_default_socket_path(path, sizeof(path)) != 0) {
        snprintf(err, errlen, "default admin socket path too long ($XDG_RUNTIME_DIR); set [admin] socket");
        goto fail;
    }
    int fd = open_unix_listener(path, err, errlen);
    if (fd < 0)
        goto fail;
    admin.socket_path = strdup(path);
    if (!admin.socket_path) {
        close(fd);
        unlink(path);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    snprintf(admin.unix_l.name, sizeof(admin.unix_l.name), "unix:%s", path);
    listener_start(&admin.unix_l, fd);

    log_info("admin: listening on %s", admin.socket_path);
    if (admin.tcp_l.fd >= 0)
        log_info("admin: listening on %s%s", admin.tcp_l.name,
                 admin.tcp_l.need_auth ? " (token required)" : "");
    return 0;

fail:
    admin_stop();
    return -1;
}

static void listener_close(struct admin_listener *l)
{
    if (l->fd < 0)
        return;
    ev_io_stop(admin.loop, &l->io);
    close(l->fd);
    l->fd = -1;
}

void admin_stop(void)
{
    if (!admin.started)
        return;
    while (admin.conns)
        conn_close(admin.conns);
    listener_close(&admin.unix_l);
    listener_close(&admin.tcp_l);
    ev_timer_stop(admin.loop, &admin.accept_retry);

    if (admin.socket_path) {
        struct stat st;
        /* Only our own socket: a newer instance may have replaced it. */
        if (lstat(admin.socket_path, &st) == 0 && st.st_dev == admin.socket_dev
            && st.st_ino == admin.socket_ino)
            unlink(admin.socket_path);
        free(admin.socket_path);
        admin.socket_path = NULL;
    }
    OPENSSL_cleanse(admin.token_digest, sizeof(admin.token_digest));
    admin.has_token = false;
    admin.tcp_l.tcp = admin.tcp_l.need_auth = false;
    admin.started = false;
}

const char *admin_socket_path(void)
{
    return admin.socket_path;
}
