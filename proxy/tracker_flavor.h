/* tracker_flavor.h - internal contract between the registry (loop thread), the
 * tracker thread (ddl_tracker.c) and the per-server flavors (tracker_tidb.c,
 * tracker_mysql.c). Snapshots go loop -> tracker under the tracker's lock;
 * reports go tracker -> loop through the msgqueue. */
#ifndef DDLP_TRACKER_FLAVOR_H
#define DDLP_TRACKER_FLAVOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <mysql.h>

#include "ddl_log.h"

struct config;

/* One active DDL as the tracker sees it (a copy: the tracker owns it). */
struct tracked_ddl {
    uint64_t id;
    uint32_t backend_conn_id;
    int64_t sent_at_us;
    bool finished;               /* the client has its reply: only the job is still wanted */
    char db[256], table[256];
    char *query;                 /* the statement as sent (for job matching), may be NULL */
};

/* What one poll saw about one DDL (ddl_id != 0) or one server-side job
 * (ddl_id == 0, track = all). */
struct ddl_observation {
    uint64_t ddl_id;
    int64_t at_us;
    char state[DDL_STATE_LEN];
    char schema_state[DDL_SCHEMA_STATE_LEN];
    bool has_job;
    int64_t job_id;
    struct ddl_job_info job;
    struct ddl_child *children;
    size_t n_children;
    bool has_progress;
    int stage, max_stage;
    double progress;
    /* server-side jobs only */
    char db[256], table[256];
    char *query;
};

struct tracker_report {
    int64_t started_us, finished_us;   /* wall clock of the poll (or connect attempt) */
    double latency_ms;
    unsigned queries;
    bool ok;
    int64_t gap_from_us;               /* !ok: when the current failing period began */
    char error[160];
    bool connected;
    bool partial;                      /* a job may have been outside the window */
    enum ddl_flavor flavor;
    char server_version[64];
    struct ddl_observation *obs;
    size_t n_obs, cap_obs;
};

struct tracker_settings {
    int64_t poll_interval_ms;
    int64_t timeout_ms;
    int64_t history_jobs;
    bool track_all;
};

/* A server flavor: state kept across polls, reset when the monitor reconnects. */
struct flavor_ops {
    enum ddl_flavor flavor;
    void *(*create)(const struct tracker_settings *set);
    void (*destroy)(void *st);
    void (*on_connect)(void *st);
    /* One batched poll for all ddls. Returns 0, or -1 after a failed query
     * (the caller turns the connection error into a poll gap). */
    int (*poll)(void *st, MYSQL *m, const struct tracked_ddl *ddls, size_t n,
                struct tracker_report *rep);
};

extern const struct flavor_ops tracker_mysql_ops;
extern const struct flavor_ops tracker_tidb_ops;

/* Runs one query on the monitor connection, counting it. NULL on error (the
 * error stays on m) and for statements without a result set (mysql_errno 0). */
MYSQL_RES *tracker_query(MYSQL *m, struct tracker_report *rep, const char *sql);
/* Appends an empty observation; NULL on ENOMEM. */
struct ddl_observation *tracker_report_add(struct tracker_report *rep);
void tracker_report_free(struct tracker_report *rep);

/* ---- TiDB helpers, pure (unit-tested) ---- */
struct tidb_columns {
    int job_id, db_name, table_name, job_type, schema_state, row_count;
    int create_time, start_time, end_time, state, comments;
};

struct tidb_job {
    int64_t job_id;
    char db[256], table[256];
    char job_type[96];
    char schema_state[DDL_SCHEMA_STATE_LEN];
    char state[DDL_STATE_LEN];
    int64_t row_count;
    int64_t create_us, start_us, end_us;   /* 0 = NULL */
    bool precise;
    char comments[128];
    bool subjob;
    struct ddl_child *children;            /* main rows of a multi-schema change */
    size_t n_children;
};

/* Maps result columns by name. -1 with a message when a required one is missing. */
int tidb_columns_map(struct tidb_columns *c, const char *const *names, unsigned n,
                     char *err, size_t errlen);
/* One row of ADMIN SHOW DDL JOBS (NULL cells are NULL pointers). */
void tidb_job_from_row(const struct tidb_columns *c, char **row, struct tidb_job *out);
/* Parses "YYYY-MM-DD HH:MM:SS[.ffffff]" as UTC. 0 ok (NULL/"" gives *us = 0). */
int tidb_parse_time(const char *s, int64_t *us, bool *precise);
/* The job type without TiDB's comment annotations (ingest, subjob), lower case. */
void tidb_job_type_base(const char *job_type, char *out, size_t outlen);
/* Does JOB_TYPE name the type kind, ignoring annotations ("add index" matches
 * the 7.5 form with an ingest comment appended)? */
bool tidb_job_type_is(const char *job_type, const char *kind);
/* Lower-cased outside literals, comments dropped (executable comments kept as
 * SQL), whitespace collapsed, trailing ';' removed. malloc'd. */
char *sql_normalize(const char *s, size_t len);
/* Cheap checks before comparing texts: id above the floor, same db/table,
 * created no earlier than the DDL was sent (with precision slack). */
bool tidb_job_may_belong(const struct tracked_ddl *d, const struct tidb_job *j, int64_t floor_id);
bool tidb_state_is_final(const char *state);

/* ---- registry entry points for the tracker-less mode (unit tests) ---- */
/* The registry without a tracker thread: observations only arrive through
 * ddl_registry_apply_report(). */
int ddl_registry_init_detached(struct ev_loop *loop, const struct config *cfg, char *err,
                               size_t errlen);
void ddl_registry_apply_report(struct tracker_report *rep);

#endif
