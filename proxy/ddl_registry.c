/* ddl_registry.c - the life of a DDL record.
 *
 * created   on_command (COM_QUERY statement 0, COM_STMT_EXECUTE of a prepared
 *           DDL) or when the previous statement of a multi-statement text
 *           succeeded (statement k starts when result k-1 arrives; after an
 *           ERR the server runs nothing more, so no record is made for it);
 * observed  tracker reports: transitions, job, poll gaps; stuck timer;
 * finished  on the statement's result or the session's close;
 * lingering (TiDB) until one poll that began after the client's answer, so
 *           a short job still gets its id and server times;
 * written   to the latency log, then kept in a bounded finished list.
 * Lists: active (created .. written) and finished; ids in one hash. */
#include "conf.h"
#include "ddl_registry.h"
#include "ddl_log.h"
#include "ddl_tracker.h"
#include "tracker_flavor.h"
#include "ddl_classify.h"
#include "session_events.h"
#include "clock.h"
#include "fault.h"
#include "log.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FINISHED_KEEP 1000

struct list {
    struct ddl_record *head, *tail;
    size_t n;
};

/* A prepared statement whose text is DDL/account/admin DDL. */
struct prepared {
    uint32_t stmt_id;
    struct ddl_stmt stmt;        /* redacted owned here */
    char *text;                  /* the statement's raw text */
    UT_hash_handle hh;
};

/* The observer's state per session. */
struct sess_state {
    struct mysql_session *session;
    char *db;                    /* default db: from the session, updated by USE */
    char *info_db;               /* the session's own idea last time we looked */
    /* the command in flight */
    uint8_t command;
    struct ddl_stmt *stmts;
    int n_stmts;
    char *text;                  /* copy of the COM_QUERY text */
    size_t text_len;
    struct ddl_record *cur;      /* the record of the statement running now */
    /* a COM_STMT_PREPARE in flight */
    struct prepared *prep_pending;
    struct prepared *prepared;
    struct sess_state *prev, *next;
};

static struct {
    bool up;
    struct ev_loop *loop;
    const struct config *cfg;
    bool tracked;                /* a tracker thread feeds us */
    uint64_t next_id;
    struct ddl_record *by_id;    /* hash over both lists */
    struct list active, finished;
    struct sess_state *sessions;
    uint64_t total, by_result[DDL_RES_SHUTDOWN + 1], stuck_events;
    uint64_t polls, poll_errors, queries;
    double last_poll_ms;
    bool tracker_connected;
    enum ddl_flavor tracker_flavor;
    char server_version[64];
    char last_poll_error[160];
} reg;

static void push_snapshot(void);

/* ---- lists --------------------------------------------------------------- */

static void list_append(struct list *l, struct ddl_record *r)
{
    r->prev = l->tail;
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

/* Lingering records finish out of order: keep the finished list by id so
 * 'ddl list' stays newest first. Out-of-order ones are near the tail. */
static void list_insert_by_id(struct list *l, struct ddl_record *r)
{
    struct ddl_record *after = l->tail;
    while (after && after->id > r->id)
        after = after->prev;
    if (after == l->tail) {
        list_append(l, r);
        return;
    }
    r->prev = after;
    r->next = after ? after->next : l->head;
    if (after)
        after->next = r;
    else
        l->head = r;
    r->next->prev = r;
    l->n++;
}

static void list_remove(struct list *l, struct ddl_record *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* ---- stuck detection and finishing ------------------------------------- */

static void finalize(struct ddl_record *r)
{
    ev_timer_stop(reg.loop, &r->stuck_timer);
    json_decref(r->faults);
    r->faults = fault_windows_json(r->sent_at_us, r->finished_at_us);
    ddl_log_finished(r);
    r->logged = true;
    reg.by_result[r->result]++;
    list_remove(&reg.active, r);
    list_insert_by_id(&reg.finished, r);
    while (reg.finished.n > FINISHED_KEEP) {
        struct ddl_record *old = reg.finished.head;
        list_remove(&reg.finished, old);
        HASH_DEL(reg.by_id, old);
        ddl_record_free(old);
    }
}

static void record_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct ddl_record *r = w->data;
    if (r->finished_at_us) {
        /* The linger deadline: no poll came in time, write what we have. */
        finalize(r);
        push_snapshot();
        return;
    }
    int64_t now = clock_wall_us();
    r->stuck = true;
    r->stuck_events++;
    reg.stuck_events++;
    json_decref(r->faults);
    r->faults = fault_windows_json(r->sent_at_us, now);
    ddl_log_stuck(r, now);
    json_decref(r->faults);
    r->faults = NULL;
}

static void arm_stuck_timer(struct ddl_record *r)
{
    double after = (double)reg.cfg->stuck_after_ms / 1000.0;
    /* Calls may come long after the loop last looked at the clock. */
    ev_now_update(reg.loop);
    ev_timer_stop(reg.loop, &r->stuck_timer);
    ev_timer_set(&r->stuck_timer, after, after);
    ev_timer_start(reg.loop, &r->stuck_timer);
}

static bool wants_final_poll(const struct ddl_record *r)
{
    if (!reg.tracked || r->flavor != DDL_FLAVOR_TIDB || r->cls != DDL_REC_DDL || r->from_server)
        return false;
    const char *state = ddl_record_state(r);
    return !(r->has_job && state && tidb_state_is_final(state));
}

static void finish(struct ddl_record *r, enum ddl_result res, int code, const char *sqlstate,
                   const char *msg, int64_t at_us)
{
    if (r->finished_at_us)
        return;
    r->finished_at_us = at_us > r->sent_at_us ? at_us : r->sent_at_us;
    r->result = res;
    r->err_code = code;
    snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate ? sqlstate : "");
    free(r->err_msg);
    r->err_msg = msg ? strdup(msg) : NULL;
    r->session_ref = NULL;
    ev_timer_stop(reg.loop, &r->stuck_timer);
    if (wants_final_poll(r) && res != DDL_RES_SHUTDOWN) {
        int64_t ms = reg.cfg->poll_interval_ms * 3;
        if (ms < reg.cfg->tracker_timeout_ms + 2 * reg.cfg->poll_interval_ms)
            ms = reg.cfg->tracker_timeout_ms + 2 * reg.cfg->poll_interval_ms;
        ev_timer_set(&r->stuck_timer, (double)ms / 1000.0, 0.0);
        ev_timer_start(reg.loop, &r->stuck_timer);
    } else {
        finalize(r);
    }
    push_snapshot();
}

/* ---- records ----------------------------------------------------------- */

static enum ddl_flavor session_flavor(const struct session_info *info)
{
    if (reg.cfg->flavor == FLAVOR_TIDB)
        return DDL_FLAVOR_TIDB;
    if (reg.cfg->flavor == FLAVOR_MYSQL)
        return DDL_FLAVOR_MYSQL;
    return info && info->server_version && strstr(info->server_version, "TiDB")
        ? DDL_FLAVOR_TIDB : DDL_FLAVOR_MYSQL;
}

static struct ddl_record *record_new(void)
{
    struct ddl_record *r = calloc(1, sizeof(*r));
    if (!r) {
        log_error("ddl registry: out of memory, a DDL is not recorded");
        return NULL;
    }
    r->id = ++reg.next_id;
    r->job_id = -1;
    ev_init(&r->stuck_timer, record_timer_cb);
    r->stuck_timer.data = r;
    return r;
}

static void record_register(struct ddl_record *r)
{
    HASH_ADD(hh, reg.by_id, id, sizeof(r->id), r);
    list_append(&reg.active, r);
    reg.total++;
    arm_stuck_timer(r);
}

static struct ddl_record *record_from_stmt(struct sess_state *st, const struct session_info *info,
                                           const struct ddl_stmt *s, const char *text,
                                           int64_t at_us)
{
    struct ddl_record *r = record_new();
    if (!r)
        return NULL;
    r->flavor = session_flavor(info);
    r->cls = s->cls == STMT_ACCOUNT ? DDL_REC_ACCOUNT
           : s->cls == STMT_ADMIN_DDL ? DDL_REC_ADMIN : DDL_REC_DDL;
    /* Account statements show only their class: their text is redacted. */
    r->kind = strdup(r->cls == DDL_REC_ACCOUNT ? "account" : s->kind && *s->kind ? s->kind : "ddl");
    r->db = dup_or_null(s->db);
    r->table = dup_or_null(s->table);
    r->statement = s->redacted ? strdup(s->redacted) : NULL;
    if (r->cls == DDL_REC_DDL && text)
        r->match_text = strndup(text + s->offset, s->length);
    r->client = dup_or_null(info ? info->client_addr : NULL);
    r->user = dup_or_null(info ? info->user : NULL);
    r->session = info ? info->id : 0;
    r->backend_conn_id = info ? info->backend_conn_id : 0;
    r->sent_at_us = at_us;
    r->state_since_us = at_us;
    r->session_ref = st;
    record_register(r);
    if (r->cls == DDL_REC_DDL)
        push_snapshot();
    log_debug("ddl %llu started on session %llu: %s", (unsigned long long)r->id,
              (unsigned long long)r->session, r->statement ? r->statement : "");
    return r;
}

/* ---- tracker boundary --------------------------------------------------- */

static void push_snapshot(void)
{
    if (!reg.tracked)
        return;
    size_t n = 0;
    for (struct ddl_record *r = reg.active.head; r; r = r->next)
        if (r->cls == DDL_REC_DDL && !r->from_server)
            n++;
    struct tracked_ddl *d = n ? calloc(n, sizeof(*d)) : NULL;
    if (n && !d)
        return;
    size_t i = 0;
    for (struct ddl_record *r = reg.active.head; r && i < n; r = r->next) {
        if (r->cls != DDL_REC_DDL || r->from_server)
            continue;
        d[i].id = r->id;
        d[i].backend_conn_id = r->backend_conn_id;
        d[i].sent_at_us = r->sent_at_us;
        d[i].finished = r->finished_at_us != 0;
        snprintf(d[i].db, sizeof(d[i].db), "%s", r->db ? r->db : "");
        snprintf(d[i].table, sizeof(d[i].table), "%s", r->table ? r->table : "");
        d[i].query = r->match_text ? strdup(r->match_text) : NULL;
        i++;
    }
    ddl_tracker_set_active(d, i);
}

static struct ddl_record *find_record(uint64_t id)
{
    struct ddl_record *r;
    HASH_FIND(hh, reg.by_id, &id, sizeof(id), r);
    return r;
}

static void apply_observation(struct ddl_record *r, const struct ddl_observation *o)
{
    if (o->has_job) {
        r->job_id = o->job_id;
        r->has_job = true;
        r->job = o->job;
        free(r->children);
        r->children = NULL;
        r->n_children = 0;
        if (o->n_children) {
            r->children = malloc(o->n_children * sizeof(*r->children));
            if (r->children) {
                memcpy(r->children, o->children, o->n_children * sizeof(*r->children));
                r->n_children = o->n_children;
            }
        }
    }
    if (o->has_progress) {
        r->has_progress = true;
        r->stage = o->stage;
        r->max_stage = o->max_stage;
        r->progress = o->progress;
    }
    if (ddl_record_add_transition(r, o->at_us, o->state, o->schema_state) == 1
        && !r->finished_at_us)
        arm_stuck_timer(r);
}

static struct ddl_record *server_record(const struct ddl_observation *o)
{
    for (struct ddl_record *r = reg.active.head; r; r = r->next)
        if (r->from_server && r->job_id == o->job_id)
            return r;
    struct ddl_record *r = record_new();
    if (!r)
        return NULL;
    char base[96];
    tidb_job_type_base(o->job.job_type, base, sizeof(base));
    r->flavor = DDL_FLAVOR_TIDB;
    r->cls = DDL_REC_DDL;
    r->from_server = true;
    r->kind = strdup(base);
    r->db = dup_or_null(o->db);
    r->table = dup_or_null(o->table);
    r->statement = o->query ? sql_redact(o->query, strlen(o->query)) : NULL;
    r->sent_at_us = o->job.create_us ? o->job.create_us : o->at_us;
    r->state_since_us = r->sent_at_us;
    record_register(r);
    return r;
}

void ddl_registry_apply_report(struct tracker_report *rep)
{
    if (!reg.up) {
        tracker_report_free(rep);
        return;
    }
    reg.polls++;
    reg.queries += rep->queries;
    reg.last_poll_ms = rep->latency_ms;
    reg.tracker_connected = rep->connected;
    reg.tracker_flavor = rep->flavor;
    snprintf(reg.server_version, sizeof(reg.server_version), "%s", rep->server_version);
    if (!rep->ok) {
        reg.poll_errors++;
        snprintf(reg.last_poll_error, sizeof(reg.last_poll_error), "%s", rep->error);
        for (struct ddl_record *r = reg.active.head; r; r = r->next) {
            if (r->cls != DDL_REC_DDL || r->sent_at_us > rep->finished_us)
                continue;
            int64_t to = rep->finished_us;
            if (r->finished_at_us) {
                if (rep->gap_from_us >= r->finished_at_us)
                    continue;
                if (to > r->finished_at_us)
                    to = r->finished_at_us;
            }
            ddl_record_note_gap(r, rep->gap_from_us, to, rep->error);
        }
    }
    for (size_t i = 0; i < rep->n_obs; i++) {
        const struct ddl_observation *o = &rep->obs[i];
        struct ddl_record *r = o->ddl_id ? find_record(o->ddl_id) : server_record(o);
        if (!r || r->logged)
            continue;
        apply_observation(r, o);
        if (r->from_server && tidb_state_is_final(o->state) && !r->finished_at_us) {
            bool ok = !strcmp(o->state, "synced");
            int64_t end = o->job.end_us ? o->job.end_us : o->at_us;
            finish(r, ok ? DDL_RES_OK : DDL_RES_ERROR, 0, NULL,
                   ok ? NULL : o->state, end);
        }
    }
    /* Lingering records are done once a poll began after the client's answer
     * (and saw a history window deep enough to hold their job). */
    if (rep->ok && !rep->partial) {
        struct ddl_record *r = reg.active.head;
        bool changed = false;
        while (r) {
            struct ddl_record *next = r->next;
            if (r->finished_at_us && !r->from_server && rep->started_us >= r->finished_at_us) {
                finalize(r);
                changed = true;
            }
            r = next;
        }
        if (changed)
            push_snapshot();
    }
    tracker_report_free(rep);
}

/* ---- session observer --------------------------------------------------- */

static void prepared_free(struct prepared *p)
{
    if (!p)
        return;
    free(p->stmt.redacted);
    free(p->text);
    free(p);
}

static void clear_command(struct sess_state *st)
{
    if (st->stmts)
        ddl_stmts_free(st->stmts, st->n_stmts);
    st->stmts = NULL;
    st->n_stmts = 0;
    free(st->text);
    st->text = NULL;
    st->text_len = 0;
}

static void clear_prepared(struct sess_state *st)
{
    struct prepared *p, *tmp;
    HASH_ITER(hh, st->prepared, p, tmp) {
        HASH_DEL(st->prepared, p);
        prepared_free(p);
    }
    prepared_free(st->prep_pending);
    st->prep_pending = NULL;
}

static struct sess_state *state_of(struct mysql_session *s)
{
    struct sess_state *st = session_observer_data(s);
    if (st)
        return st;
    st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->session = s;
    st->next = reg.sessions;
    if (reg.sessions)
        reg.sessions->prev = st;
    reg.sessions = st;
    session_set_observer_data(s, st);
    return st;
}

static void sync_db(struct sess_state *st, const struct session_info *info)
{
    const char *now = info && info->db ? info->db : "";
    if (st->info_db && strcmp(st->info_db, now) == 0)
        return;
    /* The session learned a new default db (handshake, COM_INIT_DB, CHANGE_USER). */
    free(st->info_db);
    st->info_db = strdup(now);
    free(st->db);
    st->db = strdup(now);
}

static void obs_open(struct mysql_session *s, const struct session_info *info)
{
    struct sess_state *st = state_of(s);
    if (st)
        sync_db(st, info);
}

static struct ddl_stmt *stmt_at(struct sess_state *st, unsigned index)
{
    for (int i = 0; i < st->n_stmts; i++)
        if (st->stmts[i].index == index)
            return &st->stmts[i];
    return NULL;
}

static bool is_recorded(enum stmt_class cls)
{
    return cls == STMT_DDL || cls == STMT_ACCOUNT || cls == STMT_ADMIN_DDL;
}

static void start_statement(struct sess_state *st, const struct session_info *info,
                            unsigned index, int64_t at_us)
{
    struct ddl_stmt *s = stmt_at(st, index);
    if (s && is_recorded(s->cls))
        st->cur = record_from_stmt(st, info, s, st->text, at_us);
}

static void abandon_current(struct sess_state *st, int64_t at_us)
{
    if (!st->cur)
        return;
    /* The session reported no result for it before the next command. */
    finish(st->cur, DDL_RES_ERROR, 0, NULL, "no result seen for this statement", at_us);
    st->cur = NULL;
}

static void obs_command(struct mysql_session *s, const struct cmd_info *cmd)
{
    if (!reg.up)
        return;
    struct sess_state *st = state_of(s);
    if (!st)
        return;
    const struct session_info *info = session_get_info(s);
    sync_db(st, info);
    abandon_current(st, cmd->wall_us);
    clear_command(st);
    st->command = cmd->command;

    switch (cmd->command) {
    case COM_QUERY: {
        if (!cmd->text || !ddl_maybe(cmd->text, cmd->text_len))
            return;
        int n = ddl_classify(cmd->text, cmd->text_len, st->db, &st->stmts);
        if (n <= 0) {
            if (n < 0)
                log_error("ddl registry: out of memory classifying a statement");
            st->stmts = NULL;
            return;
        }
        st->n_stmts = n;
        st->text = strndup(cmd->text, cmd->text_len);
        st->text_len = cmd->text_len;
        start_statement(st, info, 0, cmd->wall_us);
        break;
    }
    case COM_STMT_PREPARE: {
        prepared_free(st->prep_pending);
        st->prep_pending = NULL;
        if (!cmd->text || !ddl_maybe(cmd->text, cmd->text_len))
            return;
        struct ddl_stmt *stmts = NULL;
        int n = ddl_classify(cmd->text, cmd->text_len, st->db, &stmts);
        if (n == 1 && is_recorded(stmts[0].cls)) {
            struct prepared *p = calloc(1, sizeof(*p));
            if (p) {
                p->stmt = stmts[0];
                stmts[0].redacted = NULL;       /* moved into p */
                p->text = strndup(cmd->text, cmd->text_len);
                st->prep_pending = p;
            }
        }
        if (n > 0)
            ddl_stmts_free(stmts, n);
        break;
    }
    case COM_STMT_EXECUTE: {
        struct prepared *p;
        uint32_t id = cmd->stmt_id;
        HASH_FIND(hh, st->prepared, &id, sizeof(id), p);
        if (p)
            st->cur = record_from_stmt(st, info, &p->stmt, p->text, cmd->wall_us);
        break;
    }
    case COM_STMT_CLOSE: {
        struct prepared *p;
        uint32_t id = cmd->stmt_id;
        HASH_FIND(hh, st->prepared, &id, sizeof(id), p);
        if (p) {
            HASH_DEL(st->prepared, p);
            prepared_free(p);
        }
        break;
    }
    case COM_RESET_CONNECTION:
    case COM_CHANGE_USER:
        clear_prepared(st);
        break;
    default:
        break;
    }
}

static void obs_result(struct mysql_session *s, const struct cmd_result *res)
{
    if (!reg.up)
        return;
    struct sess_state *st = session_observer_data(s);
    if (!st)
        return;
    const struct session_info *info = session_get_info(s);

    if (res->command == COM_STMT_PREPARE) {
        if (st->prep_pending && res->ok) {
            struct prepared *p = st->prep_pending, *old;
            p->stmt_id = res->prepared_stmt_id;
            HASH_FIND(hh, st->prepared, &p->stmt_id, sizeof(p->stmt_id), old);
            if (old) {
                HASH_DEL(st->prepared, old);
                prepared_free(old);
            }
            HASH_ADD(hh, st->prepared, stmt_id, sizeof(p->stmt_id), p);
        } else {
            prepared_free(st->prep_pending);
        }
        st->prep_pending = NULL;
        return;
    }

    if (st->cur) {
        struct ddl_record *r = st->cur;
        st->cur = NULL;
        if (res->ok)
            finish(r, DDL_RES_OK, 0, NULL, NULL, res->wall_us);
        else
            finish(r, DDL_RES_ERROR, res->err_code, res->sqlstate, res->err_msg, res->wall_us);
    }
    if (res->command != COM_QUERY)
        return;
    struct ddl_stmt *done = stmt_at(st, res->index);
    if (res->ok && done && done->cls == STMT_USE) {
        free(st->db);
        st->db = strdup(done->db);
    }
    if (res->ok && !res->final)
        start_statement(st, info, res->index + 1, res->wall_us);
    else
        clear_command(st);
}

static enum ddl_result close_result(const char *reason)
{
    if (reason && strstr(reason, "shutdown"))
        return DDL_RES_SHUTDOWN;
    if (reason && strstr(reason, "backend"))
        return DDL_RES_BACKEND_GONE;
    return DDL_RES_CLIENT_GONE;
}

static void free_state(struct sess_state *st)
{
    clear_command(st);
    clear_prepared(st);
    free(st->db);
    free(st->info_db);
    if (st->prev)
        st->prev->next = st->next;
    else
        reg.sessions = st->next;
    if (st->next)
        st->next->prev = st->prev;
    free(st);
}

static void obs_close(struct mysql_session *s, const char *reason)
{
    struct sess_state *st = session_observer_data(s);
    if (!st)
        return;
    if (st->cur && reg.up) {
        enum ddl_result res = close_result(reason);
        /* The reason is the error when it says more than the result name. */
        const char *msg = reason && strcmp(reason, ddl_result_name(res)) ? reason
            : res == DDL_RES_BACKEND_GONE ? "connection to the backend lost before the result"
            : res == DDL_RES_SHUTDOWN ? "proxy shut down before the result"
            : "client disconnected before the result";
        finish(st->cur, res, 0, NULL, msg, clock_wall_us());
    }
    st->cur = NULL;
    session_set_observer_data(s, NULL);
    free_state(st);
}

static const struct session_observer observer = {
    .on_open = obs_open,
    .on_command = obs_command,
    .on_result = obs_result,
    .on_close = obs_close,
};

/* ---- public ------------------------------------------------------------- */

static int registry_start(struct ev_loop *loop, const struct config *cfg, char *err,
                          size_t errlen)
{
    if (reg.up) {
        snprintf(err, errlen, "ddl registry already started");
        return -1;
    }
    memset(&reg, 0, sizeof(reg));
    reg.loop = loop;
    reg.cfg = cfg;
    if (ddl_log_open(loop, cfg->ddl_log, err, errlen) != 0)
        return -1;
    reg.up = true;
    session_set_observer(&observer);
    return 0;
}

int ddl_registry_init_detached(struct ev_loop *loop, const struct config *cfg, char *err,
                               size_t errlen)
{
    return registry_start(loop, cfg, err, errlen);
}

int ddl_registry_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen)
{
    if (registry_start(loop, cfg, err, errlen) != 0)
        return -1;
    if (ddl_tracker_start(loop, cfg, ddl_registry_apply_report, err, errlen) != 0) {
        session_set_observer(NULL);
        ddl_log_close();
        reg.up = false;
        return -1;
    }
    reg.tracked = true;
    return 0;
}

void ddl_registry_shutdown(void)
{
    if (!reg.up)
        return;
    int64_t now = clock_wall_us();
    /* Sessions may outlive us: they keep their state but lose their records. */
    for (struct sess_state *st = reg.sessions; st; st = st->next)
        st->cur = NULL;
    reg.tracked = false;
    struct ddl_record *r = reg.active.head;
    while (r) {
        struct ddl_record *next = r->next;
        if (r->finished_at_us)
            finalize(r);
        else
            finish(r, DDL_RES_SHUTDOWN, 0, NULL, "proxy shut down before the result", now);
        r = next;
    }
    reg.up = false;
    ddl_tracker_stop();
    ddl_log_close();
    struct ddl_record *x, *tmp;
    HASH_ITER(hh, reg.by_id, x, tmp) {
        HASH_DEL(reg.by_id, x);
        ddl_record_free(x);
    }
    reg.active.head = reg.active.tail = NULL;
    reg.finished.head = reg.finished.tail = NULL;
    reg.active.n = reg.finished.n = 0;
}

static json_t *summary_json(const struct ddl_record *r, int64_t now)
{
    struct ddl_latency lat;
    int64_t end = r->finished_at_us ? r->finished_at_us : now;
    ddl_record_latency(r, end, &lat);
    const char *state = ddl_record_state(r);
    char since[40];
    int64_t since_us = r->n_transitions ? r->state_since_us : r->sent_at_us;
    char sent[40];
    return json_pack("{s:I,s:o,s:s,s:o,s:o,s:o,s:o,s:o,s:s,s:o,s:o,s:o,s:o,s:f,s:b,s:o,s:o}",
                     "id", (json_int_t)r->id,
                     "job_id", r->job_id >= 0 ? json_integer(r->job_id) : json_null(),
                     "kind", r->kind ? r->kind : "",
                     "db", r->db ? json_string(r->db) : json_null(),
                     "table", r->table ? json_string(r->table) : json_null(),
                     "state", state ? json_string(state) : json_null(),
                     "schema_state", state ? json_string(ddl_record_schema_state(r)) : json_null(),
                     "since", json_string(clock_format_rfc3339(since_us, since, sizeof(since))),
                     "sent_at", clock_format_rfc3339(r->sent_at_us, sent, sizeof(sent)),
                     "result", r->result ? json_string(ddl_result_name(r->result)) : json_null(),
                     "session", r->from_server ? json_null() : json_integer((json_int_t)r->session),
                     "client", r->client ? json_string(r->client) : json_null(),
                     "statement", r->statement ? json_string(r->statement) : json_null(),
                     "total_ms", round(lat.total * 1000.0) / 1000.0,
                     "stuck", r->stuck,
                     "active", json_boolean(r->finished_at_us == 0),
                     "source", json_string(r->from_server ? "server" : "client"));
}

json_t *ddl_registry_list_json(bool active_only, int last)
{
    json_t *arr = json_array();
    if (!arr || !reg.up)
        return arr;
    int64_t now = clock_wall_us();
    int count = 0;
    /* Newest first: active records are newer than any finished one, mostly;
     * walk both lists from the tail and merge by id. */
    struct ddl_record *a = reg.active.tail, *f = active_only ? NULL : reg.finished.tail;
    while ((a || f) && (last <= 0 || count < last)) {
        struct ddl_record *pick;
        if (a && (!f || a->id > f->id)) {
            pick = a;
            a = a->prev;
        } else {
            pick = f;
            f = f->prev;
        }
        if (active_only && pick->finished_at_us)
            continue;
        json_array_append_new(arr, summary_json(pick, now));
        count++;
    }
    return arr;
}

json_t *ddl_registry_show_json(uint64_t id)
{
    if (!reg.up)
        return NULL;
    struct ddl_record *r = find_record(id);
    if (!r)
        return NULL;
    int64_t now = clock_wall_us();
    json_t *o = ddl_record_json(r, now);
    if (!o)
        return NULL;
    if (!r->faults)
        json_object_set_new(o, "faults", fault_windows_json(r->sent_at_us,
                                                            r->finished_at_us ? r->finished_at_us : now));
    const char *state = ddl_record_state(r);
    char since[40];
    int64_t since_us = r->n_transitions ? r->state_since_us : r->sent_at_us;
    json_object_set_new(o, "state", state ? json_string(state) : json_null());
    json_object_set_new(o, "schema_state", state ? json_string(ddl_record_schema_state(r)) : json_null());
    json_object_set_new(o, "since", json_string(clock_format_rfc3339(since_us, since, sizeof(since))));
    json_object_set_new(o, "active", json_boolean(r->finished_at_us == 0));
    return o;
}

json_t *ddl_registry_stats_json(void)
{
    json_t *by = json_object();
    for (int i = DDL_RES_OK; i <= DDL_RES_SHUTDOWN; i++)
        json_object_set_new(by, ddl_result_name((enum ddl_result)i),
                            json_integer((json_int_t)reg.by_result[i]));
    return json_pack("{s:I,s:I,s:I,s:o,s:I,s:I,s:I,s:I,s:f,s:o,s:{s:b,s:b,s:s,s:s},s:o}",
                     "active", (json_int_t)reg.active.n,
                     "finished_kept", (json_int_t)reg.finished.n,
                     "total", (json_int_t)reg.total,
                     "by_result", by,
                     "stuck_events", (json_int_t)reg.stuck_events,
                     "polls", (json_int_t)reg.polls,
                     "poll_errors", (json_int_t)reg.poll_errors,
                     "queries", (json_int_t)reg.queries,
                     "last_poll_ms", round(reg.last_poll_ms * 1000.0) / 1000.0,
                     "last_poll_error", reg.last_poll_error[0] ? json_string(reg.last_poll_error)
                                                               : json_null(),
                     "tracker", "running", reg.tracked, "connected", reg.tracker_connected,
                     "flavor", ddl_flavor_name(reg.tracker_flavor),
                     "server_version", reg.server_version,
                     "log", ddl_log_stats_json());
}
