/* tracker_mysql.c - MariaDB/MySQL flavor: one query on
 * information_schema.PROCESSLIST for the backend connections of all active
 * DDLs. A metadata lock wait is "queueing"; any other non-empty STATE is
 * "running" with the STATE text as schema_state. MariaDB's STAGE/MAX_STAGE/
 * PROGRESS columns are used when the server has them (found once per
 * connection; MySQL 8 lacks them). */
#include "conf.h"
#include "tracker_flavor.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mysql_flavor {
    bool columns_known;
    bool has_stage;          /* STAGE, MAX_STAGE, PROGRESS (MariaDB) */
};

static void *mysql_create(const struct tracker_settings *set)
{
    return calloc(1, sizeof(struct mysql_flavor));
}

static void mysql_destroy(void *st)
{
    free(st);
}

static void mysql_on_connect(void *st)
{
    struct mysql_flavor *f = st;
    f->columns_known = false;
}

/* Every statement passes through these: they say nothing about the DDL, so
 * they neither start "running" nor end "queueing". */
static const char *const lifecycle_states[] = {
    "starting", "checking permissions", "Opening tables", "opening tables",
    "After opening tables", "init", "setup", "System lock", "closing tables",
    "query end", "end", "freeing items", "cleaning up", "Reset for next command",
    "Unlocking tables", "logging slow query", "Sending data", "Finished reading one binlog",
    NULL
};

static bool is_lifecycle_state(const char *state)
{
    for (const char *const *p = lifecycle_states; *p; p++)
        if (strcasecmp(state, *p) == 0)
            return true;
    return false;
}

static int detect_columns(struct mysql_flavor *f, MYSQL *m, struct tracker_report *rep)
{
    MYSQL_RES *res = tracker_query(m, rep,
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = 'information_schema' AND TABLE_NAME = 'PROCESSLIST'");
    if (!res)
        return -1;
    int stage_cols = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        if (!row[0])
            continue;
        if (!strcasecmp(row[0], "STAGE") || !strcasecmp(row[0], "MAX_STAGE")
            || !strcasecmp(row[0], "PROGRESS"))
            stage_cols++;
    }
    mysql_free_result(res);
    f->has_stage = stage_cols == 3;
    f->columns_known = true;
    return 0;
}

static int mysql_poll(void *st, MYSQL *m, const struct tracked_ddl *ddls, size_t n,
                      struct tracker_report *rep)
{
    struct mysql_flavor *f = st;
    if (!f->columns_known && detect_columns(f, m, rep) != 0)
        return -1;

    /* One IN list for every DDL still running on its connection. */
    size_t cap = 160 + n * 12;
    char *sql = malloc(cap);
    if (!sql)
        return 0;
    size_t len = (size_t)snprintf(sql, cap, "SELECT ID, COMMAND, STATE%s FROM "
                                  "information_schema.PROCESSLIST WHERE ID IN (",
                                  f->has_stage ? ", STAGE, MAX_STAGE, PROGRESS" : "");
    size_t ids = 0;
    for (size_t i = 0; i < n; i++) {
        if (ddls[i].finished || !ddls[i].backend_conn_id)
            continue;
        len += (size_t)snprintf(sql + len, cap - len, "%s%u", ids ? "," : "",
                                ddls[i].backend_conn_id);
        ids++;
    }
    snprintf(sql + len, cap - len, ")");
    if (!ids) {
        free(sql);
        return 0;
    }
    int64_t sent = clock_wall_us();
    MYSQL_RES *res = tracker_query(m, rep, sql);
    free(sql);
    if (!res)
        return -1;
    /* The server's snapshot was taken somewhere in the round trip. */
    int64_t at = sent + (clock_wall_us() - sent) / 2;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        if (!row[0] || !row[2] || !row[2][0] || is_lifecycle_state(row[2]))
            continue;
        unsigned long id = strtoul(row[0], NULL, 10);
        for (size_t i = 0; i < n; i++) {
            if (ddls[i].finished || ddls[i].backend_conn_id != id)
                continue;
            struct ddl_observation *o = tracker_report_add(rep);
            if (!o)
                break;
            o->ddl_id = ddls[i].id;
            o->at_us = at;
            if (strcasecmp(row[2], "Waiting for table metadata lock") == 0) {
                snprintf(o->state, sizeof(o->state), "queueing");
                snprintf(o->schema_state, sizeof(o->schema_state), "%s", "");
            } else if (strncasecmp(row[2], "Waiting for table", 17) == 0) {
                /* Table-level lock or flush waits: queueing too, named. */
                snprintf(o->state, sizeof(o->state), "queueing");
                snprintf(o->schema_state, sizeof(o->schema_state), "%s", row[2]);
            } else {
                snprintf(o->state, sizeof(o->state), "running");
                snprintf(o->schema_state, sizeof(o->schema_state), "%s", row[2]);
            }
            if (f->has_stage && row[3] && row[4] && row[5]) {
                o->stage = atoi(row[3]);
                o->max_stage = atoi(row[4]);
                o->progress = strtod(row[5], NULL);
                o->has_progress = o->max_stage > 0;
            }
        }
    }
    mysql_free_result(res);
    return 0;
}

const struct flavor_ops tracker_mysql_ops = {
    .flavor = DDL_FLAVOR_MYSQL,
    .create = mysql_create,
    .destroy = mysql_destroy,
    .on_connect = mysql_on_connect,
    .poll = mysql_poll,
};
