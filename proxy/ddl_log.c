/* ddl_log.c - DDL record fields, phase arithmetic and the JSON Lines writer.
 * A line is written with one write(2) on an O_APPEND descriptor; a failed or
 * short write is undone (ftruncate) and the line waits in a bounded queue that
 * a timer retries, so a full disk delays records instead of losing them. */
#include "conf.h"
#include "ddl_log.h"
#include "clock.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RETRY_MAX_LINES 10000
#define RETRY_MAX_BYTES (16u << 20)
#define RETRY_INTERVAL_S 1.0
/* %.15g keeps 3 decimals exact for any duration below ~30 years. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ---- record helpers ---------------------------------------------------- */

static const char *const result_names[] = {
    [DDL_RES_ACTIVE] = "active",
    [DDL_RES_OK] = "ok",
    [DDL_RES_ERROR] = "error",
    [DDL_RES_CLIENT_GONE] = "client_gone",
    [DDL_RES_BACKEND_GONE] = "backend_gone",
    [DDL_RES_SHUTDOWN] = "shutdown",
};

const char *ddl_result_name(enum ddl_result res)
{
    return (unsigned)res < sizeof(result_names) / sizeof(result_names[0])
        ? result_names[res] : "unknown";
}

const char *ddl_flavor_name(enum ddl_flavor f)
{
    return f == DDL_FLAVOR_TIDB ? "tidb" : "mysql";
}

const char *ddl_record_state(const struct ddl_record *r)
{
    return r->n_transitions ? r->transitions[r->n_transitions - 1].state : NULL;
}

const char *ddl_record_schema_state(const struct ddl_record *r)
{
    return r->n_transitions ? r->transitions[r->n_transitions - 1].schema_state : NULL;
}

int ddl_record_add_transition(struct ddl_record *r, int64_t at_us, const char *state,
                              const char *schema_state)
{
    if (!schema_state)
        schema_state = "";
    const char *cur = ddl_record_state(r);
    if (cur && strcmp(cur, state) == 0 && strcmp(ddl_record_schema_state(r), schema_state) == 0)
        return 0;
    if (r->n_transitions == r->cap_transitions) {
        size_t cap = r->cap_transitions ? r->cap_transitions * 2 : 8;
        struct ddl_transition *t = realloc(r->transitions, cap * sizeof(*t));
        if (!t)
            return -1;
        r->transitions = t;
        r->cap_transitions = cap;
    }
    struct ddl_transition *t = &r->transitions[r->n_transitions++];
    t->at_us = at_us;
    snprintf(t->state, sizeof(t->state), "%s", state);
    snprintf(t->schema_state, sizeof(t->schema_state), "%s", schema_state);
    r->state_since_us = at_us;
    return 1;
}

int ddl_record_note_gap(struct ddl_record *r, int64_t from_us, int64_t to_us, const char *error)
{
    /* A gap that began before the DDL was sent only concerns it from sent_at. */
    if (from_us < r->sent_at_us)
        from_us = r->sent_at_us;
    if (to_us < from_us)
        to_us = from_us;
    struct ddl_gap *last = r->n_gaps ? &r->gaps[r->n_gaps - 1] : NULL;
    if (last && last->from_us == from_us) {
        last->to_us = to_us;
        snprintf(last->error, sizeof(last->error), "%s", error);
        return 0;
    }
    if (r->n_gaps == r->cap_gaps) {
        size_t cap = r->cap_gaps ? r->cap_gaps * 2 : 4;
        struct ddl_gap *g = realloc(r->gaps, cap * sizeof(*g));
        if (!g)
            return -1;
        r->gaps = g;
        r->cap_gaps = cap;
    }
    struct ddl_gap *g = &r->gaps[r->n_gaps++];
    g->from_us = from_us;
    g->to_us = to_us;
    snprintf(g->error, sizeof(g->error), "%s", error);
    return 0;
}

void ddl_record_free(struct ddl_record *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->db);
    free(r->table);
    free(r->statement);
    free(r->client);
    free(r->user);
    free(r->err_msg);
    free(r->transitions);
    free(r->gaps);
    free(r->children);
    free(r->match_text);
    json_decref(r->faults);
    free(r);
}

/* ---- phases ------------------------------------------------------------ */

static double us_to_ms(int64_t us)
{
    return (double)us / 1000.0;
}

static bool state_is_final(const char *state)
{
    return strcmp(state, "synced") == 0 || strcmp(state, "done") == 0
        || strcmp(state, "cancelled") == 0 || strcmp(state, "rollback done") == 0;
}

static void add_by_state(struct ddl_latency *out, const char *name, double ms)
{
    for (size_t i = 0; i < out->n_by_state; i++) {
        if (strcmp(out->by_state[i].name, name) == 0) {
            out->by_state[i].ms += ms;
            return;
        }
    }
    size_t cap = sizeof(out->by_state) / sizeof(out->by_state[0]);
    if (out->n_by_state == cap)
        return;
    snprintf(out->by_state[out->n_by_state].name, sizeof(out->by_state[0].name), "%s", name);
    out->by_state[out->n_by_state++].ms = ms;
}

/* Observed durations: each transition lasts until the next one (the last until
 * end_us). A statement first seen waiting for a metadata lock waited since it
 * was sent, so that first interval counts from sent_at. (MariaDB may also do
 * its work first and wait for the exclusive lock at the end: such a wait is
 * queueing too, and the work before it running.) */
static double observed_phases(const struct ddl_record *r, int64_t end_us, struct ddl_latency *out)
{
    double queueing = 0;
    for (size_t i = 0; i < r->n_transitions; i++) {
        const struct ddl_transition *t = &r->transitions[i];
        int64_t from = t->at_us;
        int64_t to = i + 1 < r->n_transitions ? r->transitions[i + 1].at_us : end_us;
        bool queued = strcmp(t->state, "queueing") == 0;
        if (i == 0 && queued && r->flavor == DDL_FLAVOR_MYSQL)
            from = r->sent_at_us;
        if (to < from)
            to = from;
        if (queued)
            queueing += us_to_ms(to - from);
        else if (!state_is_final(t->state) && t->schema_state[0])
            add_by_state(out, t->schema_state, us_to_ms(to - from));
    }
    return queueing;
}

void ddl_record_latency(const struct ddl_record *r, int64_t end_us, struct ddl_latency *out)
{
    memset(out, 0, sizeof(*out));
    out->to_job = out->queueing = out->running = -1;
    out->total = us_to_ms(end_us - r->sent_at_us);
    if (r->cls != DDL_REC_DDL)
        return;
    double observed_queueing = observed_phases(r, end_us, out);

    if (r->flavor == DDL_FLAVOR_MYSQL) {
        /* No job: queueing is the metadata-lock wait, running the rest. */
        out->queueing = observed_queueing;
        out->running = out->total - observed_queueing;
        if (out->running < 0)
            out->running = 0;
        return;
    }

    const struct ddl_job_info *j = &r->job;
    if (r->has_job && j->create_us) {
        if (!r->from_server) {
            /* Second-precision CREATE_TIME (7.x) can precede sent_at: then the
             * first observation of the job is the better bound. */
            int64_t seen = j->precise ? j->create_us
                         : r->n_transitions ? r->transitions[0].at_us : 0;
            if (seen)
                out->to_job = seen > r->sent_at_us ? us_to_ms(seen - r->sent_at_us) : 0;
        }
        if (j->start_us)
            out->queueing = us_to_ms(j->start_us - j->create_us);
        else if (j->end_us)
            out->queueing = us_to_ms(j->end_us - j->create_us);   /* never started */
        else
            out->queueing = us_to_ms(end_us - j->create_us);      /* still queued */
        if (j->start_us)
            out->running = us_to_ms((j->end_us ? j->end_us : end_us) - j->start_us);
        else
            out->running = 0;
        if (out->queueing < 0)
            out->queueing = 0;
        if (out->running < 0)
            out->running = 0;
    } else if (r->n_transitions) {
        out->queueing = observed_queueing;
        double running = 0;
        for (size_t i = 0; i < out->n_by_state; i++)
            running += out->by_state[i].ms;
        out->running = running;
    }
}

/* ---- JSON -------------------------------------------------------------- */

static json_t *json_ms(double ms)
{
    if (ms < 0)
        return json_null();
    return json_real(round(ms * 1000.0) / 1000.0);
}

static json_t *json_time(int64_t wall_us)
{
    if (!wall_us)
        return json_null();
    char buf[40];
    return json_string(clock_format_rfc3339(wall_us, buf, sizeof(buf)));
}

/* Length of the valid UTF-8 sequence at p (0 if invalid). */
static size_t utf8_seq_len(const unsigned char *p)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
             : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 2 && p[0] < 0xc2)
        return 0;                          /* overlong */
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Statement text and names are the client's bytes, not always UTF-8 (a latin1
 * client, binary literals): jansson refuses those, so invalid bytes become
 * U+FFFD rather than the field going missing. */
static json_t *json_str_or_null(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s);
    char *clean = malloc(len * 3 + 1);
    if (!clean)
        return json_null();
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = utf8_seq_len(p);
        if (n) {
            memcpy(clean + o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(clean + o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    clean[o] = '\0';
    j = json_string(clean);
    free(clean);
    return j ? j : json_null();
}

static json_t *latency_json(const struct ddl_record *r, int64_t end_us)
{
    struct ddl_latency lat;
    ddl_record_latency(r, end_us, &lat);
    json_t *by = json_object();
    for (size_t i = 0; i < lat.n_by_state; i++)
        json_object_set_new(by, lat.by_state[i].name, json_ms(lat.by_state[i].ms));
    return json_pack("{s:o,s:o,s:o,s:o,s:o}",
                     "total", json_ms(lat.total), "to_job", json_ms(lat.to_job),
                     "queueing", json_ms(lat.queueing), "running", json_ms(lat.running),
                     "by_schema_state", by);
}

static json_t *error_json(const struct ddl_record *r)
{
    if (r->result == DDL_RES_OK || r->result == DDL_RES_ACTIVE || (!r->err_code && !r->err_msg))
        return json_null();
    return json_pack("{s:o,s:o,s:o}",
                     "code", r->err_code ? json_integer(r->err_code) : json_null(),
                     "sqlstate", r->sqlstate[0] ? json_string(r->sqlstate) : json_null(),
                     "message", json_str_or_null(r->err_msg));
}

static json_t *job_json(const struct ddl_record *r)
{
    if (!r->has_job)
        return json_null();
    const struct ddl_job_info *j = &r->job;
    json_t *o = json_pack("{s:s,s:o,s:o,s:o,s:I}",
                          "job_type", j->job_type,
                          "create_time", json_time(j->create_us),
                          "start_time", json_time(j->start_us),
                          "end_time", json_time(j->end_us),
                          "row_count", (json_int_t)j->row_count);
    json_object_set_new(o, "comments", j->comments[0] ? json_string(j->comments) : json_null());
    return o;
}

json_t *ddl_record_json(const struct ddl_record *r, int64_t now_us)
{
    int64_t end_us = r->finished_at_us ? r->finished_at_us : now_us;
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "type", json_string("ddl"));
    json_object_set_new(o, "id", json_integer((json_int_t)r->id));
    json_object_set_new(o, "job_id", r->job_id >= 0 ? json_integer(r->job_id) : json_null());
    json_object_set_new(o, "flavor", json_string(ddl_flavor_name(r->flavor)));
    json_object_set_new(o, "kind", json_str_or_null(r->kind));
    json_object_set_new(o, "db", json_str_or_null(r->db));
    json_object_set_new(o, "table", json_str_or_null(r->table));
    json_object_set_new(o, "statement", json_str_or_null(r->statement));
    json_object_set_new(o, "source", json_string(r->from_server ? "server" : "client"));
    json_object_set_new(o, "client", json_str_or_null(r->client));
    json_object_set_new(o, "user", json_str_or_null(r->user));
    json_object_set_new(o, "session", r->from_server ? json_null()
                                                     : json_integer((json_int_t)r->session));
    json_object_set_new(o, "sent_at", json_time(r->sent_at_us));
    json_object_set_new(o, "finished_at", json_time(r->finished_at_us));
    json_object_set_new(o, "result", r->result == DDL_RES_ACTIVE ? json_null()
                                                                : json_string(ddl_result_name(r->result)));
    json_object_set_new(o, "error", error_json(r));
    json_object_set_new(o, "latency_ms", latency_json(r, end_us));

    json_t *tr = json_array();
    for (size_t i = 0; i < r->n_transitions; i++)
        json_array_append_new(tr, json_pack("{s:o,s:s,s:s}",
                                            "at", json_time(r->transitions[i].at_us),
                                            "state", r->transitions[i].state,
                                            "schema_state", r->transitions[i].schema_state));
    json_object_set_new(o, "transitions", tr);

    json_t *gaps = json_array();
    for (size_t i = 0; i < r->n_gaps; i++)
        json_array_append_new(gaps, json_pack("{s:o,s:o,s:s}",
                                              "from", json_time(r->gaps[i].from_us),
                                              "to", json_time(r->gaps[i].to_us),
                                              "error", r->gaps[i].error));
    json_object_set_new(o, "poll_gaps", gaps);
    json_object_set_new(o, "faults", r->faults ? json_incref(r->faults) : json_array());
    json_object_set_new(o, "stuck", json_boolean(r->stuck));

    json_object_set_new(o, "job", job_json(r));
    if (r->n_children) {
        json_t *ch = json_array();
        for (size_t i = 0; i < r->n_children; i++)
            json_array_append_new(ch, json_pack("{s:s,s:s,s:s,s:I}",
                                                "job_type", r->children[i].job_type,
                                                "state", r->children[i].state,
                                                "schema_state", r->children[i].schema_state,
                                                "row_count", (json_int_t)r->children[i].row_count));
        json_object_set_new(o, "children", ch);
    }
    if (r->has_progress)
        json_object_set_new(o, "progress", json_pack("{s:i,s:i,s:o}",
                                                     "stage", r->stage, "max_stage", r->max_stage,
                                                     "percent", json_ms(r->progress)));
    return o;
}

json_t *ddl_stuck_json(const struct ddl_record *r, int64_t at_us)
{
    const char *state = ddl_record_state(r);
    const char *schema_state = ddl_record_schema_state(r);
    int64_t since = r->n_transitions ? r->state_since_us : r->sent_at_us;
    return json_pack("{s:s,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:i,s:o}",
                     "type", "stuck",
                     "id", (json_int_t)r->id,
                     "job_id", r->job_id >= 0 ? json_integer(r->job_id) : json_null(),
                     "kind", json_str_or_null(r->kind),
                     "db", json_str_or_null(r->db),
                     "table", json_str_or_null(r->table),
                     "state", json_str_or_null(state),
                     "schema_state", json_str_or_null(schema_state),
                     "since", json_time(since),
                     "at", json_time(at_us),
                     "stuck_for_ms", json_ms(us_to_ms(at_us - since)),
                     "count", (int)r->stuck_events,
                     "faults", r->faults ? json_incref(r->faults) : json_array());
}

/* ---- writer ------------------------------------------------------------ */

struct pending_line {
    struct pending_line *next;
    size_t len;
    char text[];
};

static struct {
    struct ev_loop *loop;
    char *path;
    int fd;
    ev_timer retry;
    struct pending_line *head, *tail;
    size_t n_pending, pending_bytes;
    uint64_t written, write_errors, dropped;
    int last_errno;
} dl = { .fd = -1 };

static int open_path(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* One write(2) per line. A short write is cut back off so the file never holds
 * half a line. Returns 0 or an errno. */
static int write_line(const char *text, size_t len)
{
    if (dl.fd < 0)
        return dl.last_errno ? dl.last_errno : EBADF;
    struct stat st;
    off_t before = fstat(dl.fd, &st) == 0 ? st.st_size : -1;
    ssize_t n;
    do {
        n = write(dl.fd, text, len);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len)
        return 0;
    int err = n < 0 ? errno : ENOSPC;
    if (n > 0 && before >= 0 && ftruncate(dl.fd, before) != 0)
        log_error("ddl log %s: cannot undo a partial line: %s", dl.path, strerror(errno));
    return err;
}

static void report_error(int err)
{
    dl.write_errors++;
    if (err != dl.last_errno)
        log_error("ddl log %s: write failed: %s; %zu record(s) kept for retry",
                  dl.path, strerror(err), dl.n_pending);
    dl.last_errno = err;
}

static void flush_pending(void)
{
    while (dl.head) {
        struct pending_line *p = dl.head;
        int err = write_line(p->text, p->len);
        if (err) {
            report_error(err);
            return;
        }
        dl.written++;
        dl.head = p->next;
        if (!dl.head)
            dl.tail = NULL;
        dl.n_pending--;
        dl.pending_bytes -= p->len;
        free(p);
    }
    if (dl.last_errno) {
        log_info("ddl log %s: writable again, pending records written", dl.path);
        dl.last_errno = 0;
    }
    if (dl.loop)
        ev_timer_stop(dl.loop, &dl.retry);
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    flush_pending();
}

static int enqueue(char *text, size_t len)
{
    while (dl.n_pending >= RETRY_MAX_LINES || (dl.n_pending && dl.pending_bytes + len > RETRY_MAX_BYTES)) {
        struct pending_line *old = dl.head;
        dl.head = old->next;
        if (!dl.head)
            dl.tail = NULL;
        dl.n_pending--;
        dl.pending_bytes -= old->len;
        dl.dropped++;
        log_error("ddl log %s: retry queue full, dropped the oldest record: %.*s",
                  dl.path, (int)(old->len > 400 ? 400 : old->len - 1), old->text);
        free(old);
    }
    struct pending_line *p = malloc(sizeof(*p) + len);
    if (!p) {
        dl.dropped++;
        log_error("ddl log: out of memory, record lost: %.*s", (int)len - 1, text);
        return -1;
    }
    memcpy(p->text, text, len);
    p->len = len;
    p->next = NULL;
    if (dl.tail)
        dl.tail->next = p;
    else
        dl.head = p;
    dl.tail = p;
    dl.n_pending++;
    dl.pending_bytes += len;
    return 0;
}

int ddl_log_write(json_t *obj)
{
    if (!obj)
        return -1;
    char *s = json_dumps(obj, DUMP_FLAGS);
    json_decref(obj);
    if (!s) {
        log_error("ddl log: cannot encode a record");
        return -1;
    }
    if (!dl.path) {
        free(s);
        return 0;
    }
    size_t len = strlen(s);
    char *line = realloc(s, len + 2);
    if (!line) {
        free(s);
        return -1;
    }
    line[len++] = '\n';
    line[len] = '\0';
    /* Keep order: nothing overtakes a pending line. */
    int rc = 0;
    if (!dl.head) {
        int err = write_line(line, len);
        if (!err) {
            dl.written++;
            free(line);
            return 0;
        }
        rc = enqueue(line, len);
        report_error(err);
    } else {
        rc = enqueue(line, len);
        flush_pending();
    }
    free(line);
    if (dl.head && dl.loop && !ev_is_active(&dl.retry)) {
        ev_timer_set(&dl.retry, RETRY_INTERVAL_S, RETRY_INTERVAL_S);
        ev_timer_start(dl.loop, &dl.retry);
    }
    return rc;
}

int ddl_log_finished(const struct ddl_record *r)
{
    struct ddl_latency lat;
    ddl_record_latency(r, r->finished_at_us, &lat);
    char job[32] = "-";
    if (r->job_id >= 0)
        snprintf(job, sizeof(job), "%lld", (long long)r->job_id);
    const char *stmt = r->statement ? r->statement : "";
    log_info("ddl %llu %s %s%s%s job=%s result=%s total=%.3fms queueing=%.3fms running=%.3fms "
             "gaps=%zu%s: %.200s",
             (unsigned long long)r->id, r->kind ? r->kind : "?",
             r->db && r->db[0] ? r->db : "", r->db && r->db[0] ? "." : "",
             r->table ? r->table : "", job, ddl_result_name(r->result),
             lat.total, lat.queueing < 0 ? 0 : lat.queueing, lat.running < 0 ? 0 : lat.running,
             r->n_gaps, r->stuck ? " STUCK" : "", stmt);
    return ddl_log_write(ddl_record_json(r, r->finished_at_us));
}

int ddl_log_stuck(const struct ddl_record *r, int64_t at_us)
{
    const char *state = ddl_record_state(r);
    int64_t since = r->n_transitions ? r->state_since_us : r->sent_at_us;
    log_warn("ddl %llu stuck: %s%s%s for %.3f ms (job %lld): %.200s",
             (unsigned long long)r->id, state ? state : "no state observed",
             state ? " / " : "", state ? ddl_record_schema_state(r) : "",
             us_to_ms(at_us - since), (long long)r->job_id, r->statement ? r->statement : "");
    return ddl_log_write(ddl_stuck_json(r, at_us));
}

int ddl_log_open(struct ev_loop *loop, const char *path, char *err, size_t errlen)
{
    dl.loop = loop;
    dl.written = dl.write_errors = dl.dropped = 0;
    ev_timer_init(&dl.retry, retry_cb, RETRY_INTERVAL_S, RETRY_INTERVAL_S);
    if (!path || !path[0])
        return 0;
    int fd = open_path(path);
    if (fd < 0) {
        snprintf(err, errlen, "ddl_log %s: %s", path, strerror(errno));
        return -1;
    }
    free(dl.path);
    dl.path = strdup(path);
    if (!dl.path) {
        close(fd);
        snprintf(err, errlen, "ddl_log: out of memory");
        return -1;
    }
    dl.fd = fd;
    return 0;
}

int ddl_log_reopen(void)
{
    if (!dl.path)
        return 0;
    int fd = open_path(dl.path);
    if (fd < 0) {
        int e = errno;
        log_error("ddl log %s: reopen failed: %s (still writing to the old file)",
                  dl.path, strerror(e));
        errno = e;
        return -1;
    }
    if (dl.fd >= 0)
        close(dl.fd);
    dl.fd = fd;
    flush_pending();
    return 0;
}

void ddl_log_close(void)
{
    flush_pending();
    if (dl.n_pending)
        log_error("ddl log %s: %zu record(s) could not be written at exit", dl.path, dl.n_pending);
    while (dl.head) {
        struct pending_line *p = dl.head;
        dl.head = p->next;
        free(p);
    }
    dl.tail = NULL;
    dl.n_pending = dl.pending_bytes = 0;
    if (dl.loop)
        ev_timer_stop(dl.loop, &dl.retry);
    if (dl.fd >= 0)
        close(dl.fd);
    dl.fd = -1;
    free(dl.path);
    dl.path = NULL;
    dl.loop = NULL;
    dl.last_errno = 0;
}

json_t *ddl_log_stats_json(void)
{
    return json_pack("{s:o,s:I,s:I,s:I,s:I}",
                     "path", json_str_or_null(dl.path),
                     "written", (json_int_t)dl.written,
                     "write_errors", (json_int_t)dl.write_errors,
                     "dropped", (json_int_t)dl.dropped,
                     "pending", (json_int_t)dl.n_pending);
}
