/* tracker_tidb.c - TiDB flavor: ADMIN SHOW DDL JOBS <n> once per poll (all
 * active DDLs at once), ADMIN SHOW DDL JOB QUERIES <id> once per new candidate
 * job, and the rules that tie a proxied statement to its job: a job id above
 * the largest id seen before the statement was sent, the same db/table, and
 * the same normalized query text. Columns are read by name (7.5 and 8.5
 * differ), times are parsed as UTC (the monitor session is pinned to +00:00). */
#include "conf.h"
#include "tracker_flavor.h"
#include "clock.h"
#include "log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uthash.h>

#define HISTORY_MAX 1024
#define FLOOR_RING 32
/* Clock slack when comparing a job's CREATE_TIME with the proxy's sent_at. */
#define CREATE_SLACK_US 1000000

/* ---- pure helpers ------------------------------------------------------ */

bool tidb_state_is_final(const char *state)
{
    return !strcmp(state, "synced") || !strcmp(state, "cancelled")
        || !strcmp(state, "rollback done");
}

int tidb_columns_map(struct tidb_columns *c, const char *const *names, unsigned n,
                     char *err, size_t errlen)
{
    struct { const char *name; int *slot; bool required; } want[] = {
        { "JOB_ID", &c->job_id, true },
        { "DB_NAME", &c->db_name, false },
        { "TABLE_NAME", &c->table_name, false },
        { "JOB_TYPE", &c->job_type, true },
        { "SCHEMA_STATE", &c->schema_state, true },
        { "ROW_COUNT", &c->row_count, false },
        { "CREATE_TIME", &c->create_time, false },
        { "START_TIME", &c->start_time, false },
        { "END_TIME", &c->end_time, false },
        { "STATE", &c->state, true },
        { "COMMENTS", &c->comments, false },
    };
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        *want[w].slot = -1;
        for (unsigned i = 0; i < n; i++) {
            if (names[i] && strcasecmp(names[i], want[w].name) == 0) {
                *want[w].slot = (int)i;
                break;
            }
        }
        if (*want[w].slot < 0 && want[w].required) {
            snprintf(err, errlen, "ADMIN SHOW DDL JOBS: no column %s in the result", want[w].name);
            return -1;
        }
    }
    return 0;
}

int tidb_parse_time(const char *s, int64_t *us, bool *precise)
{
    *us = 0;
    if (precise)
        *precise = false;
    if (!s || !*s)
        return 0;
    struct tm tm = { 0 };
    int consumed = 0;
    if (sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31
        || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    int64_t frac = 0;
    const char *p = s + consumed;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char)*p); p++) {
            if (digits < 6) {
                frac = frac * 10 + (*p - '0');
                digits++;
            }
        }
        if (!digits)
            return -1;
        for (; digits < 6; digits++)
            frac *= 10;
        if (precise)
            *precise = true;
    }
    if (*p)
        return -1;
    time_t t = timegm(&tm);
    *us = (int64_t)t * 1000000 + frac;
    return 0;
}

void tidb_job_type_base(const char *job_type, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = job_type; *p && o + 1 < outlen;) {
        if (p[0] == '/' && p[1] == '*') {
            const char *end = strstr(p + 2, "*/");
            p = end ? end + 2 : p + strlen(p);
            continue;
        }
        out[o++] = (char)tolower((unsigned char)*p++);
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

bool tidb_job_type_is(const char *job_type, const char *kind)
{
    char base[96];
    tidb_job_type_base(job_type, base, sizeof(base));
    return strcasecmp(base, kind) == 0;
}

static void trim_right(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == ';'))
        s[--n] = '\0';
}

char *sql_normalize(const char *s, size_t len)
{
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool space = false;
    size_t i = 0;
    while (i < len) {
        char c = s[i];
        if (c == '/' && i + 1 < len && s[i + 1] == '*') {
            /* Executable comments hold SQL: drop only their markers. */
            size_t j = i + 2;
            bool exec = false;
            if (j < len && s[j] == '!') {
                exec = true;
                j++;
                while (j < len && isdigit((unsigned char)s[j]))
                    j++;
            } else if (j + 1 < len && s[j] == 'T' && s[j + 1] == '!') {
                exec = true;
                j += 2;
                if (j < len && s[j] == '[') {
                    while (j < len && s[j] != ']')
                        j++;
                    if (j < len)
                        j++;
                }
            }
            if (exec) {
                i = j;
                space = true;
                continue;
            }
            const char *end = NULL;
            for (size_t k = j; k + 1 < len; k++) {
                if (s[k] == '*' && s[k + 1] == '/') {
                    end = s + k;
                    break;
                }
            }
            i = end ? (size_t)(end - s) + 2 : len;
            space = true;
            continue;
        }
        if (c == '*' && i + 1 < len && s[i + 1] == '/') {
            i += 2;          /* the end of an executable comment */
            space = true;
            continue;
        }
        if (c == '#' || (c == '-' && i + 2 < len + 1 && i + 1 < len && s[i + 1] == '-'
                         && (i + 2 == len || isspace((unsigned char)s[i + 2])))) {
            while (i < len && s[i] != '\n')
                i++;
            space = true;
            continue;
        }
        if (isspace((unsigned char)c)) {
            space = true;
            i++;
            continue;
        }
        if (space && o > 0)
            out[o++] = ' ';
        space = false;
        if (c == '\'' || c == '"' || c == '`') {
            /* Literals and quoted identifiers are kept as written. */
            char q = c;
            out[o++] = s[i++];
            while (i < len) {
                char d = s[i];
                out[o++] = s[i++];
                if (d == '\\' && q != '`' && i < len) {
                    out[o++] = s[i++];
                } else if (d == q) {
                    if (i < len && s[i] == q) {
                        out[o++] = s[i++];
                        continue;
                    }
                    break;
                }
            }
            continue;
        }
        out[o++] = (char)tolower((unsigned char)c);
        i++;
    }
    out[o] = '\0';
    trim_right(out);
    return out;
}

static bool name_compatible(const char *want, const char *have)
{
    /* An empty side (CREATE DATABASE has no table) does not constrain. */
    return !want[0] || !have[0] || strcasecmp(want, have) == 0;
}

bool tidb_job_may_belong(const struct tracked_ddl *d, const struct tidb_job *j, int64_t floor_id)
{
    if (j->subjob || j->job_id <= floor_id)
        return false;
    if (!name_compatible(d->db, j->db) || !name_compatible(d->table, j->table))
        return false;
    if (j->create_us) {
        int64_t slack = CREATE_SLACK_US + (j->precise ? 0 : 1000000);
        if (j->create_us + slack < d->sent_at_us)
            return false;
    }
    return true;
}

static void copy_cell(char *dst, size_t dstlen, char **row, int col)
{
    snprintf(dst, dstlen, "%s", col >= 0 && row[col] ? row[col] : "");
}

void tidb_job_from_row(const struct tidb_columns *c, char **row, struct tidb_job *out)
{
    memset(out, 0, sizeof(*out));
    out->job_id = row[c->job_id] ? strtoll(row[c->job_id], NULL, 10) : -1;
    copy_cell(out->db, sizeof(out->db), row, c->db_name);
    copy_cell(out->table, sizeof(out->table), row, c->table_name);
    copy_cell(out->job_type, sizeof(out->job_type), row, c->job_type);
    copy_cell(out->schema_state, sizeof(out->schema_state), row, c->schema_state);
    copy_cell(out->state, sizeof(out->state), row, c->state);
    copy_cell(out->comments, sizeof(out->comments), row, c->comments);
    out->row_count = c->row_count >= 0 && row[c->row_count] ? strtoll(row[c->row_count], NULL, 10) : 0;
    bool p1 = false, p2 = false, p3 = false;
    if (c->create_time >= 0 && tidb_parse_time(row[c->create_time], &out->create_us, &p1) != 0)
        out->create_us = 0;
    if (c->start_time >= 0 && tidb_parse_time(row[c->start_time], &out->start_us, &p2) != 0)
        out->start_us = 0;
    if (c->end_time >= 0 && tidb_parse_time(row[c->end_time], &out->end_us, &p3) != 0)
        out->end_us = 0;
    out->precise = p1 || p2 || p3;
    out->subjob = strstr(out->job_type, "/* subjob */") != NULL;
}

/* ---- per-connection poll state ---------------------------------------- */

struct known_job {
    int64_t job_id;
    char *query;              /* normalized, once fetched */
    bool query_fetched;
    uint64_t claimed_by;      /* ddl id, 0: none */
    unsigned unmatched_polls;
    bool reported_final;      /* track=all: final state already reported */
    UT_hash_handle hh;
};

struct claim {
    uint64_t ddl_id;
    int64_t job_id;           /* -1 until matched */
    int64_t floor_id;
    char *norm_query;
    bool seen;                /* still in the snapshot (for pruning) */
    UT_hash_handle hh;
};

struct tidb_flavor {
    struct tracker_settings set;
    int64_t history_n;
    bool cols_known;
    struct tidb_columns cols;
    struct known_job *jobs;
    struct claim *claims;
    struct { int64_t at_us, max_id; } floors[FLOOR_RING];
    size_t n_floors, floor_head;
    int64_t baseline_id;      /* track=all: jobs at or below existed before we started */
};

static void *tidb_create(const struct tracker_settings *set)
{
    struct tidb_flavor *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->set = *set;
    f->history_n = set->history_jobs;
    f->baseline_id = -1;
    return f;
}

static void tidb_destroy(void *st)
{
    struct tidb_flavor *f = st;
    if (!f)
        return;
    struct known_job *j, *jt;
    HASH_ITER(hh, f->jobs, j, jt) {
        HASH_DEL(f->jobs, j);
        free(j->query);
        free(j);
    }
    struct claim *c, *ct;
    HASH_ITER(hh, f->claims, c, ct) {
        HASH_DEL(f->claims, c);
        free(c->norm_query);
        free(c);
    }
    free(f);
}

static void tidb_on_connect(void *st)
{
    struct tidb_flavor *f = st;
    f->cols_known = false;
}

/* The largest job id seen by a poll that completed before t0. */
static int64_t floor_before(const struct tidb_flavor *f, int64_t t0)
{
    int64_t best = 0;
    for (size_t i = 0; i < f->n_floors; i++)
        if (f->floors[i].at_us < t0 && f->floors[i].max_id > best)
            best = f->floors[i].max_id;
    return best;
}

static void remember_floor(struct tidb_flavor *f, int64_t at_us, int64_t max_id)
{
    f->floors[f->floor_head].at_us = at_us;
    f->floors[f->floor_head].max_id = max_id;
    f->floor_head = (f->floor_head + 1) % FLOOR_RING;
    if (f->n_floors < FLOOR_RING)
        f->n_floors++;
}

static struct known_job *known(struct tidb_flavor *f, int64_t id)
{
    struct known_job *k;
    HASH_FIND(hh, f->jobs, &id, sizeof(id), k);
    if (k)
        return k;
    k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->job_id = id;
    HASH_ADD(hh, f->jobs, job_id, sizeof(k->job_id), k);
    return k;
}

/* ADMIN SHOW DDL JOB QUERIES with one id: the reply does not say which id a
 * row belongs to, so a batch could not be attributed. Once per job. */
static int fetch_query(MYSQL *m, struct tracker_report *rep, struct known_job *k)
{
    if (k->query_fetched)
        return 0;
    char sql[64];
    snprintf(sql, sizeof(sql), "ADMIN SHOW DDL JOB QUERIES %lld", (long long)k->job_id);
    MYSQL_RES *res = tracker_query(m, rep, sql);
    if (!res)
        return mysql_errno(m) ? -1 : 0;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row && row[0]) {
        unsigned long *lens = mysql_fetch_lengths(res);
        k->query = sql_normalize(row[0], lens ? lens[0] : strlen(row[0]));
    }
    k->query_fetched = true;
    mysql_free_result(res);
    return 0;
}

static void fill_observation(struct ddl_observation *o, const struct tidb_job *j, int64_t at)
{
    o->at_us = at;
    o->has_job = true;
    o->job_id = j->job_id;
    snprintf(o->state, sizeof(o->state), "%s", j->state);
    snprintf(o->schema_state, sizeof(o->schema_state), "%s", j->schema_state);
    o->job.create_us = j->create_us;
    o->job.start_us = j->start_us;
    o->job.end_us = j->end_us;
    o->job.precise = j->precise;
    o->job.row_count = j->row_count;
    snprintf(o->job.job_type, sizeof(o->job.job_type), "%s", j->job_type);
    snprintf(o->job.comments, sizeof(o->job.comments), "%s", j->comments);
    if (j->n_children) {
        o->children = malloc(j->n_children * sizeof(*o->children));
        if (o->children) {
            memcpy(o->children, j->children, j->n_children * sizeof(*o->children));
            o->n_children = j->n_children;
        }
    }
}

static int read_jobs(struct tidb_flavor *f, MYSQL *m, struct tracker_report *rep,
                     struct tidb_job **out, size_t *n_out)
{
    char sql[64];
    snprintf(sql, sizeof(sql), "ADMIN SHOW DDL JOBS %lld", (long long)f->history_n);
    MYSQL_RES *res = tracker_query(m, rep, sql);
    if (!res) {
        if (!mysql_errno(m))
            snprintf(rep->error, sizeof(rep->error), "ADMIN SHOW DDL JOBS returned no result set");
        return -1;
    }
    if (!f->cols_known) {
        unsigned nf = mysql_num_fields(res);
        MYSQL_FIELD *fields = mysql_fetch_fields(res);
        const char *names[64];
        unsigned k = nf < 64 ? nf : 64;
        for (unsigned i = 0; i < k; i++)
            names[i] = fields[i].name;
        char err[160];
        if (tidb_columns_map(&f->cols, names, k, err, sizeof(err)) != 0) {
            log_error("tracker: %s", err);
            mysql_free_result(res);
            return -1;
        }
        f->cols_known = true;
    }
    size_t rows = (size_t)mysql_num_rows(res);
    struct tidb_job *jobs = calloc(rows ? rows : 1, sizeof(*jobs));
    if (!jobs) {
        mysql_free_result(res);
        return -1;
    }
    size_t n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) && n < rows) {
        tidb_job_from_row(&f->cols, row, &jobs[n]);
        struct tidb_job *j = &jobs[n];
        if (j->subjob) {
            /* Sub-jobs follow their multi-schema-change parent row. */
            struct tidb_job *parent = NULL;
            for (size_t p = n; p-- > 0;) {
                if (!jobs[p].subjob && jobs[p].job_id == j->job_id) {
                    parent = &jobs[p];
                    break;
                }
            }
            if (parent) {
                struct ddl_child *c = realloc(parent->children,
                                              (parent->n_children + 1) * sizeof(*c));
                if (c) {
                    parent->children = c;
                    struct ddl_child *ch = &c[parent->n_children++];
                    snprintf(ch->job_type, sizeof(ch->job_type), "%s", j->job_type);
                    snprintf(ch->state, sizeof(ch->state), "%s", j->state);
                    snprintf(ch->schema_state, sizeof(ch->schema_state), "%s", j->schema_state);
                    ch->row_count = j->row_count;
                }
            }
        }
        n++;
    }
    mysql_free_result(res);
    *out = jobs;
    *n_out = n;
    return 0;
}

static void free_jobs(struct tidb_job *jobs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(jobs[i].children);
    free(jobs);
}

static const struct tidb_job *find_job(const struct tidb_job *jobs, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].subjob && jobs[i].job_id == id)
            return &jobs[i];
    return NULL;
}

static int match_ddl(struct tidb_flavor *f, MYSQL *m, struct tracker_report *rep,
                     struct claim *c, const struct tracked_ddl *d,
                     const struct tidb_job *jobs, size_t n)
{
    /* Oldest candidate first: statements on one session run in order. */
    for (;;) {
        const struct tidb_job *best = NULL;
        for (size_t i = 0; i < n; i++) {
            const struct tidb_job *j = &jobs[i];
            if (!tidb_job_may_belong(d, j, c->floor_id))
                continue;
            struct known_job *k;
            HASH_FIND(hh, f->jobs, &j->job_id, sizeof(j->job_id), k);
            if (k && (k->claimed_by || (k->query_fetched && (!k->query || !c->norm_query
                                                             || strcmp(k->query, c->norm_query)))))
                continue;
            if (!best || j->job_id < best->job_id)
                best = j;
        }
        if (!best)
            return 0;
        struct known_job *k = known(f, best->job_id);
        if (!k)
            return 0;
        if (fetch_query(m, rep, k) != 0)
            return -1;
        if (k->query && c->norm_query && strcmp(k->query, c->norm_query) == 0) {
            k->claimed_by = d->id;
            c->job_id = best->job_id;
            return 0;
        }
        if (!k->query_fetched)
            return 0;
    }
}

static void report_server_jobs(struct tidb_flavor *f, MYSQL *m, struct tracker_report *rep,
                               const struct tidb_job *jobs, size_t n, int64_t at)
{
    for (size_t i = 0; i < n; i++) {
        const struct tidb_job *j = &jobs[i];
        if (j->subjob || j->job_id <= f->baseline_id)
            continue;
        struct known_job *k = known(f, j->job_id);
        if (!k || k->claimed_by || k->reported_final)
            continue;
        /* A proxied statement may not be in the snapshot yet: give it one poll. */
        if (++k->unmatched_polls < 2)
            continue;
        if (fetch_query(m, rep, k) != 0)
            return;
        struct ddl_observation *o = tracker_report_add(rep);
        if (!o)
            return;
        fill_observation(o, j, at);
        snprintf(o->db, sizeof(o->db), "%s", j->db);
        snprintf(o->table, sizeof(o->table), "%s", j->table);
        o->query = k->query ? strdup(k->query) : NULL;
        if (tidb_state_is_final(j->state))
            k->reported_final = true;
    }
}

static int tidb_poll(void *st, MYSQL *m, const struct tracked_ddl *ddls, size_t n,
                     struct tracker_report *rep)
{
    struct tidb_flavor *f = st;
    struct tidb_job *jobs = NULL;
    size_t n_jobs = 0;
    int64_t sent = clock_wall_us();
    if (read_jobs(f, m, rep, &jobs, &n_jobs) != 0)
        return -1;
    int64_t done = clock_wall_us();
    int64_t at = sent + (done - sent) / 2;

    int64_t max_id = 0, min_final_id = 0;
    size_t n_final = 0;
    for (size_t i = 0; i < n_jobs; i++) {
        if (jobs[i].job_id > max_id)
            max_id = jobs[i].job_id;
        if (!jobs[i].subjob && (tidb_state_is_final(jobs[i].state) || !strcmp(jobs[i].state, "done"))) {
            n_final++;
            if (!min_final_id || jobs[i].job_id < min_final_id)
                min_final_id = jobs[i].job_id;
        }
    }
    if (f->baseline_id < 0)
        f->baseline_id = max_id;

    struct claim *c, *ct;
    HASH_ITER(hh, f->claims, c, ct)
        c->seen = false;

    int rc = 0;
    bool window_short = false;
    int64_t lowest_unmatched_floor = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct tracked_ddl *d = &ddls[i];
        HASH_FIND(hh, f->claims, &d->id, sizeof(d->id), c);
        if (!c) {
            c = calloc(1, sizeof(*c));
            if (!c)
                break;
            c->ddl_id = d->id;
            c->job_id = -1;
            c->floor_id = floor_before(f, d->sent_at_us);
            c->norm_query = d->query ? sql_normalize(d->query, strlen(d->query)) : NULL;
            HASH_ADD(hh, f->claims, ddl_id, sizeof(c->ddl_id), c);
        }
        c->seen = true;
        if (c->job_id < 0 && match_ddl(f, m, rep, c, d, jobs, n_jobs) != 0) {
            rc = -1;
            break;
        }
        if (c->job_id < 0) {
            if (lowest_unmatched_floor < 0 || c->floor_id < lowest_unmatched_floor)
                lowest_unmatched_floor = c->floor_id;
            continue;
        }
        const struct tidb_job *j = find_job(jobs, n_jobs, c->job_id);
        if (!j) {
            window_short = true;      /* our job fell out of the history window */
            continue;
        }
        struct ddl_observation *o = tracker_report_add(rep);
        if (!o)
            break;
        o->ddl_id = d->id;
        fill_observation(o, j, at);
    }
    /* A full history window that does not reach back to an unmatched
     * statement's floor may hide its job: look further next time. */
    if (lowest_unmatched_floor >= 0 && n_final >= (size_t)f->history_n
        && min_final_id > lowest_unmatched_floor + 1)
        window_short = true;
    rep->partial = window_short;
    if (window_short && f->history_n < HISTORY_MAX)
        f->history_n = f->history_n * 2 > HISTORY_MAX ? HISTORY_MAX : f->history_n * 2;
    else if (!window_short && lowest_unmatched_floor < 0)
        f->history_n = f->set.history_jobs;

    if (rc == 0 && f->set.track_all)
        report_server_jobs(f, m, rep, jobs, n_jobs, at);

    /* Forget statements that left the snapshot, and jobs that left the window. */
    HASH_ITER(hh, f->claims, c, ct) {
        if (!c->seen) {
            struct known_job *k;
            HASH_FIND(hh, f->jobs, &c->job_id, sizeof(c->job_id), k);
            if (k)
                k->reported_final = true;    /* never announce it as a server job */
            HASH_DEL(f->claims, c);
            free(c->norm_query);
            free(c);
        }
    }
    if (rc == 0) {
        struct known_job *k, *kt;
        HASH_ITER(hh, f->jobs, k, kt) {
            if (!find_job(jobs, n_jobs, k->job_id)) {
                HASH_DEL(f->jobs, k);
                free(k->query);
                free(k);
            }
        }
        remember_floor(f, done, max_id);
    }
    free_jobs(jobs, n_jobs);
    return rc;
}

const struct flavor_ops tracker_tidb_ops = {
    .flavor = DDL_FLAVOR_TIDB,
    .create = tidb_create,
    .destroy = tidb_destroy,
    .on_connect = tidb_on_connect,
    .poll = tidb_poll,
};
