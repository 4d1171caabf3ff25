/* ddlproxyctl.c - command-line client of the ddlproxy admin socket: sends a
 * command (or one per stdin line), prints the JSON reply as a table or as
 * "key: value" lines (or raw with --json).
 * Exit status: 0 ok, 1 an error reply, 2 cannot connect / no reply / usage. */

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "admin_line.h"
#include "netutil.h"

#define EXIT_ERROR_REPLY 1
#define EXIT_TROUBLE     2
#define DEFAULT_TIMEOUT_S 10.0

struct options {
    const char *socket_path;
    const char *hostport;
    const char *token;
    bool json;
    double timeout_s;
};

struct conn {
    int fd;
    const char *where;       /* what we connected to, for messages */
    char *buf;               /* bytes received and not yet returned as lines */
    size_t len, cap;
    int timeout_ms;
};

static void usage(FILE *out)
{
    fputs("usage: ddlproxyctl [-s SOCKET | -H HOST:PORT [-t TOKEN]] [--json] [--timeout SEC] COMMAND [ARG ...]\n"
          "       ddlproxyctl [options] -        read commands from stdin, one per line\n"
          "\n"
          "  -s, --socket PATH     admin Unix socket (env DDLPROXY_SOCKET; default\n"
          "                        $XDG_RUNTIME_DIR/ddlproxy/admin.sock or /run/ddlproxy/admin.sock)\n"
          "  -H, --host HOST:PORT  admin TCP listener ([admin] listen)\n"
          "  -t, --token TOKEN     admin token for TCP (env DDLPROXY_TOKEN)\n"
          "      --json            print the raw JSON reply\n"
          "      --timeout SEC     connect and reply timeout (default 10)\n"
          "  -h, --help            this text; 'ddlproxyctl help' lists the commands\n"
          "\n"
          "exit status: 0 ok, 1 the proxy answered with an error, 2 no answer (connection, timeout, usage)\n",
          out);
}

/* ---- connection ---- */

static int wait_for(int fd, short events, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    for (;;) {
        int rc = poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            errno = ETIMEDOUT;
        return rc > 0 ? 0 : -1;
    }
}

static int connect_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "path too long (at most %zu bytes)", sizeof(sun.sun_path) - 1);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Tries each address of HOST:PORT with a bounded non-blocking connect. */
static int connect_tcp(const char *hostport, int timeout_ms, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    const char *node = net_split_hostport(hostport, host, sizeof(host), &port);
    if (!node || !*node) {
        snprintf(err, errlen, "not HOST:PORT");
        return -1;
    }

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    int rc = getaddrinfo(node, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "%s", gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int soerr = 0;
        socklen_t slen = sizeof(soerr);
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS && wait_for(fd, POLLOUT, timeout_ms) == 0
            && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0) {
            if (soerr == 0)
                break;
            errno = soerr;
        }
        snprintf(err, errlen, "%s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(struct conn *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n > 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_for(c->fd, POLLOUT, c->timeout_ms) == 0)
                continue;
        }
        return -1;
    }
    return 0;
}

static int send_line(struct conn *c, const char *line)
{
    if (send_all(c, line, strlen(line)) != 0 || send_all(c, "\n", 1) != 0) {
        fprintf(stderr, "ddlproxyctl: cannot send to %s: %s\n", c->where, strerror(errno));
        return -1;
    }
    return 0;
}

/* Returns a malloc'd reply line, or NULL after printing why there is none. */
static char *read_line(struct conn *c)
{
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            char *line = strndup(c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return line;
        }
        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *p = realloc(c->buf, cap);
            if (!p) {
                fprintf(stderr, "ddlproxyctl: out of memory reading a reply\n");
                return NULL;
            }
            c->buf = p;
            c->cap = cap;
        }
        if (wait_for(c->fd, POLLIN, c->timeout_ms) != 0) {
            fprintf(stderr, "ddlproxyctl: no reply from %s within %d ms (see --timeout)\n",
                    c->where, c->timeout_ms);
            return NULL;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
        } else if (n == 0) {
            fprintf(stderr, "ddlproxyctl: %s closed the connection before replying\n", c->where);
            return NULL;
        } else if (errno != EINTR && errno != EAGAIN) {
            fprintf(stderr, "ddlproxyctl: reading from %s: %s\n", c->where, strerror(errno));
            return NULL;
        }
    }
}

/* ---- printing ---- */

/* Printed width of a UTF-8 string (code points; good enough for alignment). */
static size_t text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            w++;
    return w;
}

static char *scalar_text(const json_t *v)
{
    if (!v || json_is_null(v))
        return strdup("-");
    if (json_is_string(v)) {
        char *s = strdup(json_string_value(v));
        /* one cell, one line: a statement with newlines would break the table */
        for (char *p = s; p && *p; p++)
            if ((unsigned char)*p < 0x20)
                *p = ' ';
        return s;
    }
    if (json_is_real(v)) {
        /* durations in ms: 60000 reads better than 60000.0 */
        double d = json_real_value(v);
        char buf[64];
        if (d == (double)(long long)d && d > -1e15 && d < 1e15)
            snprintf(buf, sizeof(buf), "%lld", (long long)d);
        else
            snprintf(buf, sizeof(buf), "%.12g", d);
        return strdup(buf);
    }
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(12));
}

static bool is_scalar(const json_t *v)
{
    return !json_is_object(v) && !json_is_array(v);
}

/* A cell: scalars as they are, arrays of scalars joined with ',', objects
 * of scalars as "k=v k=v" (fault params), anything deeper as JSON. */
static char *cell_text(const json_t *v)
{
    if (is_scalar(v))
        return scalar_text(v);

    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (!out)
        return NULL;
    bool first = true;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!is_scalar(e)) {
                fclose(out);
                free(buf);
                return json_dumps(v, JSON_COMPACT);
            }
            char *t = scalar_text(e);
            fprintf(out, "%s%s", first ? "" : ",", t ? t : "?");
            free(t);
            first = false;
        }
    } else {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            if (!is_scalar(e)) {
                fclose(out);
                free(buf);
                return json_dumps(v, JSON_COMPACT);
            }
            char *t = scalar_text(e);
            fprintf(out, "%s%s=%s", first ? "" : " ", k, t ? t : "?");
            free(t);
            first = false;
        }
    }
    fclose(out);
    if (first) {
        free(buf);
        return strdup("-");
    }
    return buf;
}

/* Looks up "a.b" inside an object. */
static json_t *get_path(json_t *obj, const char *path)
{
    char key[64];
    const char *dot;
    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        obj = json_object_get(obj, key);
        path = dot + 1;
    }
    return json_object_get(obj, path);
}

struct column {
    const char *path;
    const char *header;
};

/* The columns worth a terminal's width for the lists the proxy returns;
 * other lists show every field. */
static const struct {
    const char *list;
    struct column cols[14];
} list_columns[] = {
    { "faults", { { "id", "ID" }, { "state", "STATE" }, { "target", "TARGET" }, { "action", "ACTION" },
                  { "direction", "DIR" }, { "params", "PARAMS" }, { "since", "SINCE" },
                  { "until", "UNTIL" }, { "hits", "HITS" } } },
    { "ddls", { { "id", "ID" }, { "job_id", "JOB" }, { "kind", "KIND" }, { "db", "DB" },
                { "table", "TABLE" }, { "state", "STATE" }, { "schema_state", "SCHEMA_STATE" },
                { "since", "SINCE" }, { "result", "RESULT" }, { "stuck", "STUCK" },
                { "total_ms", "TOTAL_MS" } } },
    { "endpoints", { { "name", "NAME" }, { "group", "GROUP" }, { "member", "MEMBER" }, { "role", "ROLE" },
                     { "listen", "LISTEN" }, { "upstream", "UPSTREAM" }, { "conns_open", "OPEN" },
                     { "conns_total", "TOTAL" }, { "bytes_up", "BYTES_UP" },
                     { "bytes_down", "BYTES_DOWN" }, { "fault_hits", "FAULT_HITS" },
                     { "faults", "FAULTS" } } },
    { "conns", { { "id", "ID" }, { "kind", "KIND" }, { "endpoint", "ENDPOINT" }, { "client", "CLIENT" },
                 { "upstream", "UPSTREAM" }, { "state", "STATE" }, { "since", "SINCE" },
                 { "bytes_up", "BYTES_UP" }, { "bytes_down", "BYTES_DOWN" }, { "user", "USER" },
                 { "db", "DB" }, { "command", "COMMAND" } } },
    { "commands", { { "usage", "COMMAND" }, { "help", "DESCRIPTION" } } },
};

/* Every key of the rows, in first-seen order, for lists without a preset. */
static size_t generic_columns(json_t *rows, struct column *cols, size_t max)
{
    size_t n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row) {
        const char *k;
        json_t *v;
        json_object_foreach(row, k, v) {
            bool known = false;
            for (size_t j = 0; j < n && !known; j++)
                known = strcmp(cols[j].path, k) == 0;
            if (!known && n < max) {
                cols[n].path = k;
                cols[n].header = k;
                n++;
            }
        }
    }
    return n;
}

static void print_padded(const char *s, size_t width, bool last, const char *indent, bool first)
{
    if (first)
        fputs(indent, stdout);
    fputs(s, stdout);
    if (!last)
        printf("%*s", (int)(width - text_width(s) + 2), "");
}

static void print_table(const char *list, json_t *rows, const char *indent)
{
    struct column cols[32];
    size_t ncols = 0;

    if (json_array_size(rows) == 0) {
        printf("%s(no %s)\n", indent, list);
        return;
    }
    for (size_t i = 0; i < sizeof(list_columns) / sizeof(list_columns[0]); i++) {
        if (strcmp(list_columns[i].list, list) != 0)
            continue;
        for (size_t c = 0; c < 14 && list_columns[i].cols[c].path; c++) {
            /* only the columns some row actually has */
            size_t r;
            json_t *row;
            json_array_foreach(rows, r, row) {
                if (get_path(row, list_columns[i].cols[c].path)) {
                    cols[ncols++] = list_columns[i].cols[c];
                    break;
                }
            }
        }
    }
    if (ncols == 0)
        ncols = generic_columns(rows, cols, 32);

    size_t nrows = json_array_size(rows);
    char **cells = calloc((nrows + 1) * ncols, sizeof(char *));
    size_t *width = calloc(ncols, sizeof(size_t));
    if (!cells || !width) {
        free(cells);
        free(width);
        fprintf(stderr, "ddlproxyctl: out of memory\n");
        return;
    }
    for (size_t c = 0; c < ncols; c++) {
        char *h = strdup(cols[c].header);
        for (char *p = h; p && *p; p++)
            *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 32 : *p);
        cells[c] = h;
    }
    for (size_t r = 0; r < nrows; r++)
        for (size_t c = 0; c < ncols; c++)
            cells[(r + 1) * ncols + c] = cell_text(get_path(json_array_get(rows, r), cols[c].path));
    for (size_t i = 0; i < (nrows + 1) * ncols; i++) {
        if (!cells[i])
            cells[i] = strdup("?");
        size_t w = cells[i] ? text_width(cells[i]) : 1;
        if (w > width[i % ncols])
            width[i % ncols] = w;
    }
    for (size_t r = 0; r <= nrows; r++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *s = cells[r * ncols + c] ? cells[r * ncols + c] : "?";
            print_padded(s, width[c], c + 1 == ncols, indent, c == 0);
        }
        putchar('\n');
    }
    for (size_t i = 0; i < (nrows + 1) * ncols; i++)
        free(cells[i]);
    free(cells);
    free(width);
}

static bool is_list_of_objects(const json_t *v)
{
    if (!json_is_array(v))
        return false;
    size_t i;
    json_t *e;
    json_array_foreach((json_t *)v, i, e)
        if (!json_is_object(e))
            return false;
    return true;
}

/* "key: value" lines for an object, nested keys joined with '.'; lists of
 * objects inside are printed as tables after the lines. */
struct kv {
    char *key;
    char *value;
    json_t *table;     /* borrowed: a list of objects to print as a table */
};

static void collect_kv(json_t *obj, const char *prefix, struct kv **kvs, size_t *n, size_t *cap)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        char *key = NULL;
        if (asprintf(&key, "%s%s%s", prefix, *prefix ? "." : "", k) < 0)
            return;
        if (json_is_object(v) && json_object_size(v) > 0) {
            collect_kv(v, key, kvs, n, cap);
            free(key);
            continue;
        }
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 32;
            struct kv *p = realloc(*kvs, ncap * sizeof(**kvs));
            if (!p) {
                free(key);
                return;
            }
            *kvs = p;
            *cap = ncap;
        }
        struct kv *e = &(*kvs)[(*n)++];
        e->key = key;
        e->table = is_list_of_objects(v) && json_array_size(v) > 0 ? v : NULL;
        e->value = e->table ? NULL : cell_text(v);
    }
}

static void print_object(json_t *obj, const char *prefix)
{
    struct kv *kvs = NULL;
    size_t n = 0, cap = 0, width = 0;

    collect_kv(obj, prefix, &kvs, &n, &cap);
    for (size_t i = 0; i < n; i++)
        if (!kvs[i].table && text_width(kvs[i].key) > width)
            width = text_width(kvs[i].key);
    for (size_t i = 0; i < n; i++) {
        if (!kvs[i].table)
            printf("%s:%*s%s\n", kvs[i].key, (int)(width - text_width(kvs[i].key) + 1), "",
                   kvs[i].value ? kvs[i].value : "?");
    }
    for (size_t i = 0; i < n; i++) {
        if (kvs[i].table) {
            printf("%s:\n", kvs[i].key);
            print_table(kvs[i].key, kvs[i].table, "  ");
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(kvs[i].key);
        free(kvs[i].value);
    }
    free(kvs);
}

/* Prints one reply; returns the exit status it stands for. */
static int print_reply(const char *raw, bool as_json, bool is_tcp_without_token)
{
    json_error_t jerr;
    json_t *reply = json_loads(raw, 0, &jerr);
    json_t *ok = json_object_get(reply, "ok");

    if (!json_is_boolean(ok)) {
        fprintf(stderr, "ddlproxyctl: not a ddlproxy reply: %.200s\n", raw);
        json_decref(reply);
        return EXIT_TROUBLE;
    }
    int status = json_is_true(ok) ? 0 : EXIT_ERROR_REPLY;
    if (as_json) {
        puts(raw);
    } else if (status != 0) {
        const char *msg = json_string_value(json_object_get(reply, "error"));
        fprintf(stderr, "ddlproxyctl: %s%s\n", msg ? msg : raw,
                msg && is_tcp_without_token && strcmp(msg, "authentication required") == 0
                    ? " (give the [admin] token with -t TOKEN or DDLPROXY_TOKEN)" : "");
    } else {
        json_object_del(reply, "ok");
        if (json_object_size(reply) == 0) {
            puts("ok");
        } else if (json_object_size(reply) == 1) {
            const char *key = json_object_iter_key(json_object_iter(reply));
            json_t *v = json_object_get(reply, key);
            if (is_list_of_objects(v))
                print_table(key, v, "");
            else if (json_is_object(v))
                print_object(v, "");
            else
                print_object(reply, "");
        } else {
            print_object(reply, "");
        }
    }
    fflush(stdout);
    json_decref(reply);
    return status;
}

/* ---- main ---- */

static int run_one(struct conn *c, const char *line, const struct options *o)
{
    if (strlen(line) > ADMIN_MAX_LINE) {
        fprintf(stderr, "ddlproxyctl: command too long (the limit is %d bytes)\n", ADMIN_MAX_LINE);
        return EXIT_ERROR_REPLY;
    }
    if (send_line(c, line) != 0)
        return EXIT_TROUBLE;
    char *reply = read_line(c);
    if (!reply)
        return EXIT_TROUBLE;
    int status = print_reply(reply, o->json, o->hostport && !o->token);
    free(reply);
    return status;
}

static int run_stdin(struct conn *c, const struct options *o)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int worst = 0;

    while ((n = getline(&line, &cap, stdin)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        const char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;    /* blank lines and comments get no reply, so send none */
        int status = run_one(c, line, o);
        if (status == EXIT_TROUBLE) {
            worst = status;
            break;
        }
        if (status > worst)
            worst = status;
    }
    free(line);
    return worst;
}

static int authenticate(struct conn *c, const char *token)
{
    char *words[] = { "auth", (char *)token };
    char *line = admin_join_words(2, words);
    if (!line || send_line(c, line) != 0) {
        free(line);
        return EXIT_TROUBLE;
    }
    free(line);
    char *reply = read_line(c);
    if (!reply)
        return EXIT_TROUBLE;
    json_t *r = json_loads(reply, 0, NULL);
    int status = 0;
    if (!json_is_true(json_object_get(r, "ok"))) {
        const char *msg = json_string_value(json_object_get(r, "error"));
        fprintf(stderr, "ddlproxyctl: %s: %s (check -t TOKEN / DDLPROXY_TOKEN against [admin] token)\n",
                c->where, msg ? msg : reply);
        status = EXIT_ERROR_REPLY;
    }
    json_decref(r);
    free(reply);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "socket", required_argument, NULL, 's' },
        { "host", required_argument, NULL, 'H' },
        { "token", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct options o = { .timeout_s = DEFAULT_TIMEOUT_S };
    int opt;

    /* '+': stop at the command, so its words are never taken for options. */
    while ((opt = getopt_long(argc, argv, "+s:H:t:jh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 's': o.socket_path = optarg; break;
        case 'H': o.hostport = optarg; break;
        case 't': o.token = optarg; break;
        case 'j': o.json = true; break;
        case 'T': {
            char *end;
            errno = 0;
            o.timeout_s = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(o.timeout_s > 0 && o.timeout_s <= 86400)) {
                fprintf(stderr, "ddlproxyctl: --timeout needs seconds (0 < SEC <= 86400), not '%s'\n", optarg);
                return EXIT_TROUBLE;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case 'V': printf("ddlproxyctl %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return EXIT_TROUBLE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return EXIT_TROUBLE;
    }
    if (o.socket_path && o.hostport) {
        fprintf(stderr, "ddlproxyctl: give either -s SOCKET or -H HOST:PORT, not both\n");
        return EXIT_TROUBLE;
    }
    if (!o.token && getenv("DDLPROXY_TOKEN") && *getenv("DDLPROXY_TOKEN"))
        o.token = getenv("DDLPROXY_TOKEN");
    char default_path[512];
    if (!o.hostport && !o.socket_path) {
        const char *env = getenv("DDLPROXY_SOCKET");
        if (env && *env) {
            o.socket_path = env;
        } else if (admin_default_socket_path(default_path, sizeof(default_path)) == 0) {
            o.socket_path = default_path;
        } else {
            fprintf(stderr, "ddlproxyctl: $XDG_RUNTIME_DIR is too long for a socket path; use -s PATH\n");
            return EXIT_TROUBLE;
        }
    }

    bool from_stdin = argc - optind == 1 && strcmp(argv[optind], "-") == 0;
    char *command = NULL;
    if (!from_stdin) {
        for (int i = optind; i < argc; i++) {
            if (strpbrk(argv[i], "\r\n")) {
                fprintf(stderr, "ddlproxyctl: a command word cannot contain a line break\n");
                return EXIT_TROUBLE;
            }
        }
        command = admin_join_words(argc - optind, argv + optind);
        if (!command) {
            fprintf(stderr, "ddlproxyctl: out of memory\n");
            return EXIT_TROUBLE;
        }
    }

    struct conn c = { .fd = -1, .timeout_ms = (int)(o.timeout_s * 1000) };
    char err[256];
    if (o.hostport) {
        c.where = o.hostport;
        c.fd = connect_tcp(o.hostport, c.timeout_ms, err, sizeof(err));
        if (c.fd < 0) {
            fprintf(stderr, "ddlproxyctl: cannot connect to %s: %s \xe2\x80\x94 is ddlproxy running with "
                    "[admin] listen = %s? use -H HOST:PORT\n", o.hostport, err, o.hostport);
            free(command);
            return EXIT_TROUBLE;
        }
    } else {
        c.where = o.socket_path;
        c.fd = connect_unix(o.socket_path, err, sizeof(err));
        if (c.fd < 0) {
            fprintf(stderr, "ddlproxyctl: cannot connect to %s: %s \xe2\x80\x94 is ddlproxy running? "
                    "is [admin] socket set to this path? use -s PATH\n", o.socket_path, err);
            free(command);
            return EXIT_TROUBLE;
        }
    }

    int status = 0;
    if (o.hostport && o.token)
        status = authenticate(&c, o.token);
    if (status == 0)
        status = from_stdin ? run_stdin(&c, &o) : run_one(&c, command, &o);

    close(c.fd);
    free(c.buf);
    free(command);
    return status;
}
