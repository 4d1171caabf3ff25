/* test_ddl_log.c - record fields, phase arithmetic and the JSONL writer
 * (order, one object per line, retry after a write error, reopen). */
#include "conf.h"
#include "ddl_log.h"
#include "log.h"

#include <CUnit/Basic.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0 1795000000000000LL      /* a wall-clock origin in us */
#define MS 1000LL

static char tmpdir[64];

static struct ddl_record *new_record(enum ddl_flavor flavor)
{
    struct ddl_record *r = calloc(1, sizeof(*r));
    r->id = 17;
    r->job_id = -1;
    r->flavor = flavor;
    r->cls = DDL_REC_DDL;
    r->kind = strdup("add index");
    r->db = strdup("sbtest");
    r->table = strdup("sbtest1");
    r->statement = strdup("alter table sbtest1 add index i1 (c)");
    r->client = strdup("172.18.0.9:53122");
    r->user = strdup("root");
    r->session = 88;
    r->sent_at_us = T0;
    return r;
}

static void test_transitions_dedup(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_MYSQL);
    CU_ASSERT_PTR_NULL(ddl_record_state(r));
    CU_ASSERT_EQUAL(ddl_record_add_transition(r, T0 + 10 * MS, "queueing", ""), 1);
    CU_ASSERT_EQUAL(ddl_record_add_transition(r, T0 + 20 * MS, "queueing", ""), 0);
    CU_ASSERT_EQUAL(ddl_record_add_transition(r, T0 + 30 * MS, "running", "altering table"), 1);
    CU_ASSERT_EQUAL(r->n_transitions, 2);
    CU_ASSERT_STRING_EQUAL(ddl_record_state(r), "running");
    CU_ASSERT_STRING_EQUAL(ddl_record_schema_state(r), "altering table");
    CU_ASSERT_EQUAL(r->state_since_us, T0 + 30 * MS);
    ddl_record_free(r);
}

static void test_gaps_merge(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_TIDB);
    /* A failing period that began before the DDL starts at sent_at for it. */
    ddl_record_note_gap(r, T0 - 500 * MS, T0 + 100 * MS, "timeout after 2000 ms");
    ddl_record_note_gap(r, T0 - 500 * MS, T0 + 2100 * MS, "lost connection: x");
    ddl_record_note_gap(r, T0 + 5000 * MS, T0 + 5100 * MS, "timeout after 2000 ms");
    CU_ASSERT_EQUAL(r->n_gaps, 2);
    CU_ASSERT_EQUAL(r->gaps[0].from_us, T0);
    CU_ASSERT_EQUAL(r->gaps[0].to_us, T0 + 2100 * MS);
    CU_ASSERT_STRING_EQUAL(r->gaps[0].error, "lost connection: x");
    CU_ASSERT_EQUAL(r->gaps[1].from_us, T0 + 5000 * MS);
    ddl_record_free(r);
}

static void test_latency_mysql(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_MYSQL);
    ddl_record_add_transition(r, T0 + 50 * MS, "queueing", "");
    ddl_record_add_transition(r, T0 + 3050 * MS, "running", "altering table");
    ddl_record_add_transition(r, T0 + 3250 * MS, "running", "committing alter table to storage engine");
    struct ddl_latency lat;
    ddl_record_latency(r, T0 + 3500 * MS, &lat);
    CU_ASSERT_DOUBLE_EQUAL(lat.total, 3500.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(lat.queueing, 3050.0, 1e-9);   /* counted from sent_at */
    CU_ASSERT_DOUBLE_EQUAL(lat.running, 450.0, 1e-9);
    CU_ASSERT(lat.to_job < 0);
    CU_ASSERT_EQUAL(lat.n_by_state, 2);
    CU_ASSERT_STRING_EQUAL(lat.by_state[0].name, "altering table");
    CU_ASSERT_DOUBLE_EQUAL(lat.by_state[0].ms, 200.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(lat.by_state[1].ms, 250.0, 1e-9);
    ddl_record_free(r);
}

static void test_latency_mysql_work_before_wait(void)
{
    /* ALGORITHM=COPY: MariaDB copies first, then waits for the exclusive
     * lock to swap the tables: only the wait is queueing. */
    struct ddl_record *r = new_record(DDL_FLAVOR_MYSQL);
    ddl_record_add_transition(r, T0 + 40 * MS, "running", "copy to tmp table");
    ddl_record_add_transition(r, T0 + 1540 * MS, "queueing", "");
    ddl_record_add_transition(r, T0 + 4540 * MS, "running", "rename result table");
    struct ddl_latency lat;
    ddl_record_latency(r, T0 + 4600 * MS, &lat);
    CU_ASSERT_DOUBLE_EQUAL(lat.queueing, 3000.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(lat.running, 1600.0, 1e-9);
    CU_ASSERT_EQUAL(lat.n_by_state, 2);
    CU_ASSERT_STRING_EQUAL(lat.by_state[0].name, "copy to tmp table");
    CU_ASSERT_DOUBLE_EQUAL(lat.by_state[0].ms, 1500.0, 1e-9);
    ddl_record_free(r);
}

static void test_latency_tidb_server_times(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_TIDB);
    r->has_job = true;
    r->job_id = 471;
    r->job.precise = true;
    r->job.create_us = T0 + 12004;                    /* 12.004 ms after sent_at */
    r->job.start_us = r->job.create_us + 35001220;
    r->job.end_us = r->job.start_us + 5101100;
    ddl_record_add_transition(r, T0 + 100 * MS, "queueing", "none");
    ddl_record_add_transition(r, T0 + 35100 * MS, "running", "delete only");
    ddl_record_add_transition(r, T0 + 36100 * MS, "running", "write only");
    ddl_record_add_transition(r, T0 + 37100 * MS, "running", "write reorganization");
    ddl_record_add_transition(r, T0 + 40200 * MS, "synced", "public");
    struct ddl_latency lat;
    ddl_record_latency(r, T0 + 40246878, &lat);
    CU_ASSERT_DOUBLE_EQUAL(lat.total, 40246.878, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(lat.to_job, 12.004, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(lat.queueing, 35001.220, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(lat.running, 5101.100, 1e-6);
    CU_ASSERT_EQUAL(lat.n_by_state, 3);
    CU_ASSERT_STRING_EQUAL(lat.by_state[2].name, "write reorganization");
    CU_ASSERT_DOUBLE_EQUAL(lat.by_state[2].ms, 3100.0, 1e-6);

    /* 7.5: second-precision CREATE_TIME: to_job comes from the first observation. */
    r->job.precise = false;
    r->job.create_us = T0 - 755123;                   /* truncated to the second */
    ddl_record_latency(r, T0 + 40246878, &lat);
    CU_ASSERT_DOUBLE_EQUAL(lat.to_job, 100.0, 1e-6);
    ddl_record_free(r);
}

static void test_latency_tidb_still_queued(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_TIDB);
    r->has_job = true;
    r->job_id = 9;
    r->job.precise = true;
    r->job.create_us = T0 + 5 * MS;
    ddl_record_add_transition(r, T0 + 50 * MS, "queueing", "none");
    struct ddl_latency lat;
    ddl_record_latency(r, T0 + 30005 * MS, &lat);
    CU_ASSERT_DOUBLE_EQUAL(lat.queueing, 30000.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(lat.running, 0.0, 1e-6);
    ddl_record_free(r);
}

static void test_record_json_fields(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_TIDB);
    r->has_job = true;
    r->job_id = 471;
    r->job.precise = true;
    r->job.create_us = T0 + 12004;
    r->job.start_us = r->job.create_us + 35001220;
    r->job.end_us = r->job.start_us + 5101100;
    snprintf(r->job.job_type, sizeof(r->job.job_type), "add index /* ingest */");
    ddl_record_add_transition(r, T0 + 100 * MS, "queueing", "none");
    ddl_record_note_gap(r, T0 + 1000 * MS, T0 + 3000 * MS, "timeout after 2000 ms");
    r->finished_at_us = T0 + 40246878;
    r->result = DDL_RES_OK;
    r->stuck = true;
    json_t *o = ddl_record_json(r, 0);
    const char *keys[] = { "type", "id", "job_id", "flavor", "kind", "db", "table", "statement",
                           "client", "user", "session", "sent_at", "finished_at", "result",
                           "error", "latency_ms", "transitions", "poll_gaps", "faults", "stuck" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        CU_ASSERT_PTR_NOT_NULL(json_object_get(o, keys[i]));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "type")), "ddl");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "job_id")), 471);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "result")), "ok");
    CU_ASSERT(json_is_null(json_object_get(o, "error")));
    CU_ASSERT(json_is_true(json_object_get(o, "stuck")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "sent_at")),
                           "2026-11-18T11:06:40.000000Z");
    json_t *gaps = json_object_get(o, "poll_gaps");
    CU_ASSERT_EQUAL(json_array_size(gaps), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(gaps, 0), "error")),
                           "timeout after 2000 ms");
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"total\":40246.878,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"to_job\":12.004,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "\"job_type\":\"add index /* ingest */\""));
    free(s);
    json_decref(o);

    r->result = DDL_RES_ERROR;
    r->err_code = 1060;
    snprintf(r->sqlstate, sizeof(r->sqlstate), "42S21");
    r->err_msg = strdup("Duplicate column name 'c'");
    o = ddl_record_json(r, 0);
    json_t *e = json_object_get(o, "error");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "code")), 1060);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "sqlstate")), "42S21");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "message")), "Duplicate column name 'c'");
    json_decref(o);
    ddl_record_free(r);
}

static void test_stuck_json(void)
{
    struct ddl_record *r = new_record(DDL_FLAVOR_TIDB);
    r->job_id = 5;
    ddl_record_add_transition(r, T0 + 100 * MS, "queueing", "none");
    r->stuck_events = 1;
    json_t *o = ddl_stuck_json(r, T0 + 30100 * MS);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "type")), "stuck");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "id")), 17);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "job_id")), 5);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "state")), "queueing");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(o, "stuck_for_ms")), 30000.0, 1e-9);
    CU_ASSERT_PTR_NOT_NULL(json_object_get(o, "since"));
    CU_ASSERT_PTR_NOT_NULL(json_object_get(o, "at"));
    json_decref(o);
    ddl_record_free(r);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int count_valid_lines(const char *text)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            return -1;                 /* a line without its newline */
        json_error_t e;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!o || !json_is_object(o))
            return -1;
        json_decref(o);
        n++;
        p = nl + 1;
    }
    return n;
}

static void test_writer_lines(void)
{
    struct ev_loop *loop = EV_DEFAULT;
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/ddl.jsonl", tmpdir);
    CU_ASSERT_EQUAL_FATAL(ddl_log_open(loop, path, err, sizeof(err)), 0);
    for (int i = 0; i < 3; i++) {
        struct ddl_record *r = new_record(DDL_FLAVOR_MYSQL);
        r->id = (uint64_t)i + 1;
        r->finished_at_us = T0 + 10 * MS;
        r->result = DDL_RES_OK;
        CU_ASSERT_EQUAL(ddl_log_finished(r), 0);
        ddl_record_free(r);
    }
    char *text = slurp(path);
    CU_ASSERT_EQUAL(count_valid_lines(text), 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "{\"type\":\"ddl\",\"id\":1,"));
    ddl_log_close();
    unlink(path);
}

static void test_writer_retry_and_reopen(void)
{
    struct ev_loop *loop = EV_DEFAULT;
    char path[128], real[128], err[256];
    snprintf(path, sizeof(path), "%s/full.jsonl", tmpdir);
    snprintf(real, sizeof(real), "%s/real.jsonl", tmpdir);
    /* The log path first points at a device that is always full (ENOSPC). */
    CU_ASSERT_EQUAL_FATAL(symlink("/dev/full", path), 0);
    CU_ASSERT_EQUAL_FATAL(ddl_log_open(loop, path, err, sizeof(err)), 0);
    for (int i = 0; i < 2; i++) {
        struct ddl_record *r = new_record(DDL_FLAVOR_MYSQL);
        r->id = (uint64_t)i + 1;
        r->finished_at_us = T0 + 10 * MS;
        r->result = DDL_RES_OK;
        ddl_log_finished(r);
        ddl_record_free(r);
    }
    json_t *st = ddl_log_stats_json();
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "pending")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "written")), 0);
    CU_ASSERT(json_integer_value(json_object_get(st, "write_errors")) >= 1);
    json_decref(st);
    /* logrotate-style: the path now leads to a writable file; reopen flushes in order. */
    unlink(path);
    CU_ASSERT_EQUAL_FATAL(symlink(real, path), 0);
    CU_ASSERT_EQUAL(ddl_log_reopen(), 0);
    st = ddl_log_stats_json();
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "pending")), 0);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(st, "written")), 2);
    json_decref(st);
    char *text = slurp(real);
    CU_ASSERT_EQUAL(count_valid_lines(text), 2);
    char *first = strstr(text, "\"id\":1,"), *second = strstr(text, "\"id\":2,");
    CU_ASSERT(first && second && first < second);
    ddl_log_close();
    unlink(path);
    unlink(real);
}

static void test_open_error_message(void)
{
    char err[256] = "";
    CU_ASSERT_EQUAL(ddl_log_open(EV_DEFAULT, "/nonexistent-dir/x/ddl.jsonl", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent-dir/x/ddl.jsonl"));
    ddl_log_close();
}

int main(void)
{
    log_open(NULL, LOG_ERROR);
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_ddl_log.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ddl_log", NULL, NULL);
    CU_add_test(s, "transitions dedup", test_transitions_dedup);
    CU_add_test(s, "gaps merge", test_gaps_merge);
    CU_add_test(s, "latency mysql", test_latency_mysql);
    CU_add_test(s, "latency mysql work before wait", test_latency_mysql_work_before_wait);
    CU_add_test(s, "latency tidb server times", test_latency_tidb_server_times);
    CU_add_test(s, "latency tidb still queued", test_latency_tidb_still_queued);
    CU_add_test(s, "record json fields", test_record_json_fields);
    CU_add_test(s, "stuck json", test_stuck_json);
    CU_add_test(s, "writer lines", test_writer_lines);
    CU_add_test(s, "writer retry and reopen", test_writer_retry_and_reopen);
    CU_add_test(s, "open error message", test_open_error_message);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    rmdir(tmpdir);
    return failed ? 1 : 0;
}
