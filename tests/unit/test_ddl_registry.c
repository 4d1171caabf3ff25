/* test_ddl_registry.c - the record lifecycle driven through the session
 * observer exactly as a MySQL session would drive it, with tracker reports
 * injected directly (the registry runs detached: no tracker thread). The
 * session side and the fault table are replaced by small fakes here. */
#include "conf.h"
#include "ddl_registry.h"
#include "ddl_log.h"
#include "tracker_flavor.h"
#include "session_events.h"
#include "fault.h"
#include "clock.h"
#include "log.h"

#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COM_QUERY_ 0x03
#define COM_STMT_PREPARE_ 0x16
#define COM_STMT_EXECUTE_ 0x17

/* ---- fakes: the session layer and the fault table ---------------------- */

struct mysql_session {
    struct session_info info;
    void *data;
};

static const struct session_observer *obs;

void session_set_observer(const struct session_observer *o)
{
    obs = o;
}

const struct session_info *session_get_info(const struct mysql_session *s)
{
    return &s->info;
}

void *session_observer_data(const struct mysql_session *s)
{
    return s->data;
}

void session_set_observer_data(struct mysql_session *s, void *data)
{
    s->data = data;
}

json_t *fault_windows_json(int64_t from_wall_us, int64_t to_wall_us)
{
    return json_pack("[{s:s,s:s,s:s}]", "id", "f3", "action", "partition", "target", "leader:pd");
}

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64], logpath[128];
static struct config cfg;
static struct ev_loop *loop;

static void open_session(struct mysql_session *s, uint64_t id, const char *version)
{
    memset(s, 0, sizeof(*s));
    s->info.id = id;
    s->info.backend_conn_id = (uint32_t)(100 + id);
    s->info.client_addr = "127.0.0.1:50000";
    s->info.user = "app";
    s->info.db = "shop";
    s->info.server_version = version;
    obs->on_open(s, &s->info);
}

static void query(struct mysql_session *s, const char *sql, int64_t at)
{
    struct cmd_info c = { .command = COM_QUERY_, .text = sql, .text_len = strlen(sql), .wall_us = at };
    obs->on_command(s, &c);
}

static void result_ok(struct mysql_session *s, uint8_t cmd, unsigned index, bool final, int64_t at)
{
    struct cmd_result r = { .command = cmd, .index = index, .ok = true, .final = final, .wall_us = at };
    obs->on_result(s, &r);
}

static void result_err(struct mysql_session *s, unsigned index, uint16_t code, const char *state,
                       const char *msg, int64_t at)
{
    struct cmd_result r = { .command = COM_QUERY_, .index = index, .ok = false, .final = true,
                            .err_code = code, .err_msg = msg, .wall_us = at };
    snprintf(r.sqlstate, sizeof(r.sqlstate), "%s", state);
    obs->on_result(s, &r);
}

/* The log's lines as JSON objects. */
static json_t *log_lines(void)
{
    json_t *arr = json_array();
    FILE *f = fopen(logpath, "r");
    if (!f)
        return arr;
    char line[1 << 16];
    while (fgets(line, sizeof(line), f)) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        CU_ASSERT_PTR_NOT_NULL(o);
        if (o)
            json_array_append_new(arr, o);
    }
    fclose(f);
    return arr;
}

static json_t *find_line(json_t *lines, const char *type, json_int_t id)
{
    size_t i;
    json_t *o;
    json_array_foreach(lines, i, o) {
        if (!strcmp(json_string_value(json_object_get(o, "type")), type)
            && json_integer_value(json_object_get(o, "id")) == id)
            return o;
    }
    return NULL;
}

static json_int_t newest_id(void)
{
    json_t *l = ddl_registry_list_json(false, 1);
    json_int_t id = json_integer_value(json_object_get(json_array_get(l, 0), "id"));
    json_decref(l);
    return id;
}

static int setup(void)
{
    log_open(NULL, LOG_ERROR);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ddl_registry.XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(logpath, sizeof(logpath), "%s/ddl.jsonl", tmpdir);
    config_init(&cfg);
    free(cfg.ddl_log);
    cfg.ddl_log = strdup(logpath);
    cfg.stuck_after_ms = 60;
    loop = EV_DEFAULT;
    char err[256];
    if (ddl_registry_init_detached(loop, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "init: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void)
{
    ddl_registry_shutdown();
    unlink(logpath);
    rmdir(tmpdir);
    config_free(&cfg);
    return 0;
}

static struct tracker_report *report(bool ok, int64_t started, int64_t finished)
{
    struct tracker_report *rep = calloc(1, sizeof(*rep));
    rep->ok = ok;
    rep->started_us = started;
    rep->finished_us = finished;
    rep->connected = ok;
    return rep;
}

static void observe(struct tracker_report *rep, json_int_t id, int64_t at, const char *state,
                    const char *schema_state)
{
    struct ddl_observation *o = tracker_report_add(rep);
    o->ddl_id = (uint64_t)id;
    o->at_us = at;
    snprintf(o->state, sizeof(o->state), "%s", state);
    snprintf(o->schema_state, sizeof(o->schema_state), "%s", schema_state);
}

/* ---- tests -------------------------------------------------------------- */

static void test_mysql_lifecycle(void)
{
    struct mysql_session s;
    open_session(&s, 1, "10.11.6-MariaDB");
    int64_t t0 = clock_wall_us();
    query(&s, "ALTER TABLE t ADD INDEX i1 (c)", t0);
    json_int_t id = newest_id();
    json_t *active = ddl_registry_list_json(true, 0);
    CU_ASSERT_EQUAL(json_array_size(active), 1);
    json_decref(active);

    struct tracker_report *rep = report(true, t0 + 1000, t0 + 2000);
    observe(rep, id, t0 + 1500, "queueing", "");
    ddl_registry_apply_report(rep);
    rep = report(true, t0 + 3000000, t0 + 3001000);
    observe(rep, id, t0 + 3000500, "running", "altering table");
    ddl_registry_apply_report(rep);

    json_t *show = ddl_registry_show_json((uint64_t)id);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(show, "state")), "running");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(show, "schema_state")), "altering table");
    CU_ASSERT(json_is_true(json_object_get(show, "active")));
    json_decref(show);

    result_ok(&s, COM_QUERY_, 0, true, t0 + 3500000);
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "kind")), "add index");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "db")), "shop");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "table")), "t");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "flavor")), "mysql");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "ok");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "client")), "127.0.0.1:50000");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "session")), 1);
    CU_ASSERT(json_is_null(json_object_get(r, "job_id")));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "transitions")), 2);
    json_t *lat = json_object_get(r, "latency_ms");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(lat, "total")), 3500.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(lat, "queueing")), 3000.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(lat, "running")), 499.5, 1e-6);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "faults")), 1);
    json_decref(lines);
    obs->on_close(&s, "client_gone");
}

static void test_multi_statement(void)
{
    struct mysql_session s;
    open_session(&s, 2, "10.11.6-MariaDB");
    int64_t t0 = clock_wall_us();
    json_int_t before = newest_id();
    query(&s, "SELECT 1; /* note */ ALTER TABLE a ADD COLUMN x INT; -- c\nCREATE TABLE b (i INT); "
              "ALTER TABLE c ADD COLUMN y INT", t0);
    CU_ASSERT_EQUAL(newest_id(), before);           /* statement 0 is a SELECT */
    result_ok(&s, COM_QUERY_, 0, false, t0 + 1000);
    json_int_t id_a = newest_id();
    CU_ASSERT_EQUAL(id_a, before + 1);
    result_ok(&s, COM_QUERY_, 1, false, t0 + 5000);
    json_int_t id_b = newest_id();
    CU_ASSERT_EQUAL(id_b, before + 2);
    /* CREATE TABLE b fails: ALTER TABLE c never runs and gets no record. */
    result_err(&s, 2, 1050, "42S01", "Table 'b' already exists", t0 + 9000);
    CU_ASSERT_EQUAL(newest_id(), id_b);

    json_t *lines = log_lines();
    json_t *a = find_line(lines, "ddl", id_a);
    json_t *b = find_line(lines, "ddl", id_b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "kind")), "add column");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "result")), "ok");
    /* Statement 1 started when statement 0's result arrived. */
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(a, "latency_ms"), "total")),
                           4.0, 1e-6);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(b, "kind")), "create table");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(b, "result")), "error");
    json_t *e = json_object_get(b, "error");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "code")), 1050);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "sqlstate")), "42S01");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "message")), "Table 'b' already exists");
    json_decref(lines);
    obs->on_close(&s, "client_gone");
}

static void test_prepared_and_use(void)
{
    struct mysql_session s;
    open_session(&s, 3, "10.11.6-MariaDB");
    int64_t t0 = clock_wall_us();
    query(&s, "USE other", t0);
    result_ok(&s, COM_QUERY_, 0, true, t0 + 10);
    const char *ps = "ALTER TABLE t DROP COLUMN z";
    struct cmd_info prep = { .command = COM_STMT_PREPARE_, .text = ps, .text_len = strlen(ps),
                             .wall_us = t0 + 20 };
    obs->on_command(&s, &prep);
    struct cmd_result pok = { .command = COM_STMT_PREPARE_, .ok = true, .final = true,
                              .prepared_stmt_id = 7, .wall_us = t0 + 30 };
    json_int_t before = newest_id();
    obs->on_result(&s, &pok);
    CU_ASSERT_EQUAL(newest_id(), before);           /* preparing runs nothing */
    struct cmd_info exec = { .command = COM_STMT_EXECUTE_, .stmt_id = 7, .wall_us = t0 + 40 };
    obs->on_command(&s, &exec);
    json_int_t id = newest_id();
    CU_ASSERT_EQUAL(id, before + 1);
    result_ok(&s, COM_STMT_EXECUTE_, 0, true, t0 + 1040);
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "kind")), "drop column");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "db")), "other");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "ok");
    json_decref(lines);
    /* An unknown statement id creates nothing. */
    struct cmd_info exec2 = { .command = COM_STMT_EXECUTE_, .stmt_id = 8, .wall_us = t0 + 50 };
    obs->on_command(&s, &exec2);
    CU_ASSERT_EQUAL(newest_id(), id);
    obs->on_close(&s, "client_gone");
}

static void test_account_redacted(void)
{
    struct mysql_session s;
    open_session(&s, 4, "10.11.6-MariaDB");
    int64_t t0 = clock_wall_us();
    query(&s, "CREATE USER u IDENTIFIED BY 'secret'", t0);
    json_int_t id = newest_id();
    json_t *l = ddl_registry_list_json(false, 1);
    char *text = json_dumps(l, 0);
    CU_ASSERT_PTR_NULL(strstr(text, "secret"));
    free(text);
    json_decref(l);
    result_ok(&s, COM_QUERY_, 0, true, t0 + 100);
    json_t *show = ddl_registry_show_json((uint64_t)id);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(show, "kind")), "account");
    text = json_dumps(show, 0);
    CU_ASSERT_PTR_NULL(strstr(text, "secret"));
    free(text);
    json_decref(show);
    FILE *f = fopen(logpath, "r");
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    CU_ASSERT_PTR_NULL(strstr(buf, "secret"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "'***'"));
    obs->on_close(&s, "client_gone");
}

static void test_close_and_gaps(void)
{
    struct mysql_session s;
    open_session(&s, 5, "10.11.6-MariaDB");
    int64_t t0 = clock_wall_us();
    query(&s, "ALTER TABLE t ADD INDEX i2 (d)", t0);
    json_int_t id = newest_id();
    /* Two failed polls of one failing period and then a recovery. */
    ddl_registry_apply_report(report(false, t0 + 100000, t0 + 2100000));
    struct tracker_report *rep = report(false, t0 + 2200000, t0 + 2300000);
    rep->gap_from_us = t0 + 100000;
    snprintf(rep->error, sizeof(rep->error), "lost connection: gone");
    ddl_registry_apply_report(rep);
    obs->on_close(&s, "backend_gone: Lost connection to backend 127.0.0.1:3306");
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "backend_gone");
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                                  "Lost connection"));
    json_t *gaps = json_object_get(r, "poll_gaps");
    CU_ASSERT_EQUAL(json_array_size(gaps), 2);     /* the first report had gap_from 0 */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(gaps, 1), "error")),
                           "lost connection: gone");
    json_decref(lines);
}

static void break_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    ev_break(l, EVBREAK_ALL);
}

static void run_loop_ms(double ms)
{
    ev_timer t;
    ev_timer_init(&t, break_cb, ms / 1000.0, 0);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static void test_stuck(void)
{
    struct mysql_session s;
    open_session(&s, 6, "10.11.6-MariaDB");
    query(&s, "ALTER TABLE t ADD INDEX i3 (e)", clock_wall_us());
    json_int_t id = newest_id();
    run_loop_ms(150);                               /* stuck_after_ms = 60: two events */
    json_t *lines = log_lines();
    json_t *st = find_line(lines, "stuck", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT(json_is_null(json_object_get(st, "state")));
    CU_ASSERT(json_real_value(json_object_get(st, "stuck_for_ms")) >= 55.0);
    json_decref(lines);
    json_t *l = ddl_registry_list_json(true, 0);
    CU_ASSERT(json_is_true(json_object_get(json_array_get(l, 0), "stuck")));
    json_decref(l);
    /* A state change restarts the clock. */
    struct tracker_report *rep = report(true, clock_wall_us(), clock_wall_us());
    observe(rep, id, clock_wall_us(), "running", "altering table");
    ddl_registry_apply_report(rep);
    result_ok(&s, COM_QUERY_, 0, true, clock_wall_us());
    lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT(json_is_true(json_object_get(r, "stuck")));
    size_t stuck_count = 0, i;
    json_t *o;
    json_array_foreach(lines, i, o)
        if (!strcmp(json_string_value(json_object_get(o, "type")), "stuck")
            && json_integer_value(json_object_get(o, "id")) == id)
            stuck_count++;
    CU_ASSERT(stuck_count >= 2);
    json_decref(lines);
    obs->on_close(&s, "client_gone");
}

static void test_tidb_job_and_linger(void)
{
    struct mysql_session s;
    open_session(&s, 7, "8.0.11-TiDB-v8.5.0");
    int64_t t0 = clock_wall_us();
    query(&s, "ALTER TABLE t ADD INDEX i4 (f)", t0);
    json_int_t id = newest_id();
    struct tracker_report *rep = report(true, t0 + 1000, t0 + 2000);
    struct ddl_observation *o = tracker_report_add(rep);
    o->ddl_id = (uint64_t)id;
    o->at_us = t0 + 1500;
    o->has_job = true;
    o->job_id = 99;
    o->job.create_us = t0 + 800;
    o->job.start_us = t0 + 1200;
    o->job.precise = true;
    snprintf(o->job.job_type, sizeof(o->job.job_type), "add index /* txn-merge */");
    snprintf(o->state, sizeof(o->state), "running");
    snprintf(o->schema_state, sizeof(o->schema_state), "write reorganization");
    ddl_registry_apply_report(rep);
    result_ok(&s, COM_QUERY_, 0, true, t0 + 500000);
    /* Detached registry: no tracker, so no lingering; the record is written now. */
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "job_id")), 99);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "flavor")), "tidb");
    json_t *lat = json_object_get(r, "latency_ms");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(lat, "to_job")), 0.8, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(lat, "queueing")), 0.4, 1e-6);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r, "job"), "job_type")),
                           "add index /* txn-merge */");
    json_decref(lines);
    obs->on_close(&s, "client_gone");
}

static void test_server_job_track_all(void)
{
    int64_t t0 = clock_wall_us();
    struct tracker_report *rep = report(true, t0, t0 + 1000);
    struct ddl_observation *o = tracker_report_add(rep);
    o->at_us = t0 + 500;
    o->has_job = true;
    o->job_id = 120;
    o->job.create_us = t0 - 1000000;
    o->job.start_us = t0 - 900000;
    o->job.end_us = t0 - 100000;
    o->job.precise = true;
    snprintf(o->job.job_type, sizeof(o->job.job_type), "create table");
    snprintf(o->state, sizeof(o->state), "synced");
    snprintf(o->schema_state, sizeof(o->schema_state), "public");
    snprintf(o->db, sizeof(o->db), "shop");
    snprintf(o->table, sizeof(o->table), "other_clients");
    o->query = strdup("create table other_clients (a int)");
    ddl_registry_apply_report(rep);
    json_int_t id = newest_id();
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "source")), "server");
    CU_ASSERT(json_is_null(json_object_get(r, "client")));
    CU_ASSERT(json_is_null(json_object_get(r, "session")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "job_id")), 120);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "kind")), "create table");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "ok");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(json_object_get(r, "latency_ms"), "running")),
                           800.0, 1e-6);
    json_decref(lines);
}

static void test_show_unknown_and_stats(void)
{
    CU_ASSERT_PTR_NULL(ddl_registry_show_json(123456));
    json_t *st = ddl_registry_stats_json();
    CU_ASSERT(json_integer_value(json_object_get(st, "total")) >= 8);
    CU_ASSERT(json_integer_value(json_object_get(st, "polls")) >= 5);
    CU_ASSERT(json_integer_value(json_object_get(st, "poll_errors")) >= 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "active")), 0);
    json_decref(st);
    json_t *l = ddl_registry_list_json(false, 3);
    CU_ASSERT_EQUAL(json_array_size(l), 3);
    json_int_t a = json_integer_value(json_object_get(json_array_get(l, 0), "id"));
    json_int_t b = json_integer_value(json_object_get(json_array_get(l, 1), "id"));
    CU_ASSERT(a > b);                               /* newest first */
    json_decref(l);
}

static void test_shutdown_finishes_active(void)
{
    struct mysql_session s;
    open_session(&s, 8, "10.11.6-MariaDB");
    query(&s, "DROP TABLE big", clock_wall_us());
    json_int_t id = newest_id();
    ddl_registry_shutdown();
    json_t *lines = log_lines();
    json_t *r = find_line(lines, "ddl", id);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "result")), "shutdown");
    json_decref(lines);
    /* The session closing later must not touch the freed record. */
    obs->on_close(&s, "shutdown");
    char err[256];
    CU_ASSERT_EQUAL(ddl_registry_init_detached(loop, &cfg, err, sizeof(err)), 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ddl_registry", setup, teardown);
    CU_add_test(s, "mysql lifecycle", test_mysql_lifecycle);
    CU_add_test(s, "multi-statement", test_multi_statement);
    CU_add_test(s, "prepared and USE", test_prepared_and_use);
    CU_add_test(s, "account redacted", test_account_redacted);
    CU_add_test(s, "close and gaps", test_close_and_gaps);
    CU_add_test(s, "stuck", test_stuck);
    CU_add_test(s, "tidb job", test_tidb_job_and_linger);
    CU_add_test(s, "server job (track=all)", test_server_job_track_all);
    CU_add_test(s, "show unknown, stats, list", test_show_unknown_and_stats);
    CU_add_test(s, "shutdown finishes active", test_shutdown_finishes_active);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
