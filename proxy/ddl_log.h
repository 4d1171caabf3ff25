/* ddl_log.h - the DDL record and its one writer: the JSON Lines latency log.
 * Every field of a "ddl" or "stuck" log record is produced here, so the log,
 * 'ddl show' and 'ddl list' cannot drift apart. Loop thread only. */
#ifndef DDLP_DDL_LOG_H
#define DDLP_DDL_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>
#include <uthash.h>

enum ddl_flavor { DDL_FLAVOR_MYSQL = 0, DDL_FLAVOR_TIDB };

enum ddl_record_class {
    DDL_REC_DDL = 0,        /* a schema change: tracked by the tracker */
    DDL_REC_ACCOUNT,        /* CREATE USER, GRANT, ...: redacted, never tracked */
    DDL_REC_ADMIN,          /* ADMIN CANCEL/PAUSE/RESUME DDL JOBS: no job of its own */
};

enum ddl_result {
    DDL_RES_ACTIVE = 0,     /* not finished yet */
    DDL_RES_OK,
    DDL_RES_ERROR,
    DDL_RES_CLIENT_GONE,
    DDL_RES_BACKEND_GONE,
    DDL_RES_SHUTDOWN,
};

#define DDL_STATE_LEN 32
#define DDL_SCHEMA_STATE_LEN 96

struct ddl_transition {
    int64_t at_us;                           /* wall clock: when the tracker saw it */
    char state[DDL_STATE_LEN];
    char schema_state[DDL_SCHEMA_STATE_LEN];
};

struct ddl_gap {
    int64_t from_us, to_us;                  /* wall clock */
    char error[160];
};

/* A multi-schema-change sub-job (TiDB). */
struct ddl_child {
    char job_type[96];
    char state[DDL_STATE_LEN];
    char schema_state[DDL_SCHEMA_STATE_LEN];
    int64_t row_count;
};

/* The server's own view of a job (TiDB). Times are wall-clock us, 0 = unknown. */
struct ddl_job_info {
    int64_t create_us, start_us, end_us;
    bool precise;                            /* times carry microseconds (8.x) */
    int64_t row_count;
    char job_type[96];
    char comments[128];
};

struct ddl_record {
    uint64_t id;
    int64_t job_id;                          /* -1: none */
    enum ddl_flavor flavor;
    enum ddl_record_class cls;
    bool from_server;                        /* track=all: seen on the server, not proxied */
    char *kind, *db, *table, *statement;     /* statement is redacted */
    char *client, *user;                     /* NULL for server-side records */
    uint64_t session;                        /* 0 with from_server */
    uint32_t backend_conn_id;
    int64_t sent_at_us, finished_at_us;      /* wall; finished_at 0 while active */
    enum ddl_result result;
    int err_code;                            /* 0: none (e.g. backend_gone) */
    char sqlstate[6];
    char *err_msg;

    struct ddl_transition *transitions;
    size_t n_transitions, cap_transitions;
    struct ddl_gap *gaps;
    size_t n_gaps, cap_gaps;
    struct ddl_child *children;
    size_t n_children;
    bool has_job;
    struct ddl_job_info job;
    bool has_progress;                       /* MariaDB STAGE/MAX_STAGE/PROGRESS */
    int stage, max_stage;
    double progress;

    int64_t state_since_us;                  /* wall: last change of (state, schema_state) */
    bool stuck;
    unsigned stuck_events;
    json_t *faults;                          /* set when the record finishes */

    /* owned by the registry */
    char *match_text;                        /* raw statement, for TiDB job matching */
    void *session_ref;                       /* the live session, NULL once detached */
    bool logged;                             /* written; on the finished list */
    ev_timer stuck_timer;
    struct ddl_record *prev, *next;          /* active or finished list */
    UT_hash_handle hh;
};

/* Phase durations in ms; negative = not known. */
struct ddl_latency {
    double total, to_job, queueing, running;
    size_t n_by_state;
    struct {
        char name[DDL_SCHEMA_STATE_LEN];
        double ms;
    } by_state[24];
};

/* Current (state, schema_state): the last transition, or NULL strings. */
const char *ddl_record_state(const struct ddl_record *r);
const char *ddl_record_schema_state(const struct ddl_record *r);
/* Appends a transition if (state, schema_state) differ from the last one.
 * Returns 1 if appended, 0 if unchanged, -1 on ENOMEM. */
int ddl_record_add_transition(struct ddl_record *r, int64_t at_us, const char *state,
                              const char *schema_state);
/* Opens or extends the gap that started at from_us. -1 on ENOMEM. */
int ddl_record_note_gap(struct ddl_record *r, int64_t from_us, int64_t to_us, const char *error);
/* Phases as of end_us (finished_at for finished records, now for active ones). */
void ddl_record_latency(const struct ddl_record *r, int64_t end_us, struct ddl_latency *out);
void ddl_record_free(struct ddl_record *r);

const char *ddl_result_name(enum ddl_result res);
const char *ddl_flavor_name(enum ddl_flavor f);

/* The "ddl" object (as logged); now_us is used for active records' latencies. */
json_t *ddl_record_json(const struct ddl_record *r, int64_t now_us);
/* A "stuck" event for r at at_us. */
json_t *ddl_stuck_json(const struct ddl_record *r, int64_t at_us);

/* Writes the finished record to the log and a one-line summary to the main log. */
int ddl_log_finished(const struct ddl_record *r);
/* Writes a "stuck" record at once and warns on the main log. */
int ddl_log_stuck(const struct ddl_record *r, int64_t at_us);

/* path NULL or "": log disabled (records are still kept for 'ddl show'). */
int ddl_log_open(struct ev_loop *loop, const char *path, char *err, size_t errlen);
/* Writes one JSON object as one line; on failure keeps it for retry. Steals obj. */
int ddl_log_write(json_t *obj);
int ddl_log_reopen(void);
/* Tries once more to write what is pending, then closes. */
void ddl_log_close(void);
/* {"path","written","write_errors","pending"} */
json_t *ddl_log_stats_json(void);

#endif
