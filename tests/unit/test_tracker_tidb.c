/* test_tracker_tidb.c - TiDB flavor parsing and matching without a server:
 * column layouts of 7.5 and 8.5, time parsing (UTC, both precisions), job
 * type annotations, sub-jobs, query normalization and the match rules. */
#include "tracker_flavor.h"
#include "ddl_tracker.h"
#include "log.h"

#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

static const char *const cols_75[] = {
    "JOB_ID", "DB_NAME", "TABLE_NAME", "JOB_TYPE", "SCHEMA_STATE", "SCHEMA_ID", "TABLE_ID",
    "ROW_COUNT", "CREATE_TIME", "START_TIME", "END_TIME", "STATE"
};
static const char *const cols_85[] = {
    "JOB_ID", "DB_NAME", "TABLE_NAME", "JOB_TYPE", "SCHEMA_STATE", "SCHEMA_ID", "TABLE_ID",
    "ROW_COUNT", "CREATE_TIME", "START_TIME", "END_TIME", "STATE", "COMMENTS"
};

static void test_parse_time(void)
{
    int64_t us;
    bool precise;
    CU_ASSERT_EQUAL(tidb_parse_time("2026-11-27 13:08:00", &us, &precise), 0);
    CU_ASSERT_EQUAL(us, 1795784880LL * 1000000);
    CU_ASSERT_FALSE(precise);
    CU_ASSERT_EQUAL(tidb_parse_time("2026-11-27 13:08:00.755123", &us, &precise), 0);
    CU_ASSERT_EQUAL(us, 1795784880LL * 1000000 + 755123);
    CU_ASSERT_TRUE(precise);
    CU_ASSERT_EQUAL(tidb_parse_time("2026-11-27 13:08:00.5", &us, &precise), 0);
    CU_ASSERT_EQUAL(us % 1000000, 500000);
    CU_ASSERT_EQUAL(tidb_parse_time(NULL, &us, &precise), 0);
    CU_ASSERT_EQUAL(us, 0);
    CU_ASSERT_EQUAL(tidb_parse_time("", &us, &precise), 0);
    CU_ASSERT_EQUAL(us, 0);
    CU_ASSERT_EQUAL(tidb_parse_time("yesterday", &us, &precise), -1);
    CU_ASSERT_EQUAL(tidb_parse_time("2026-13-01 00:00:00", &us, &precise), -1);
    CU_ASSERT_EQUAL(tidb_parse_time("2026-11-27 13:08:00.", &us, &precise), -1);
    CU_ASSERT_EQUAL(tidb_parse_time("2026-11-27 13:08:00 +08:00", &us, &precise), -1);
}

static void test_job_type(void)
{
    char base[96];
    tidb_job_type_base("add index /* ingest */", base, sizeof(base));
    CU_ASSERT_STRING_EQUAL(base, "add index");
    tidb_job_type_base("add column /* subjob */ /* txn */", base, sizeof(base));
    CU_ASSERT_STRING_EQUAL(base, "add column");
    CU_ASSERT_TRUE(tidb_job_type_is("add index /* ingest */", "add index"));
    CU_ASSERT_TRUE(tidb_job_type_is("ADD INDEX", "add index"));
    CU_ASSERT_FALSE(tidb_job_type_is("add index /* ingest */", "add column"));
    CU_ASSERT_FALSE(tidb_job_type_is("add indexes", "add index"));
}

static void test_columns(void)
{
    struct tidb_columns c;
    char err[160];
    CU_ASSERT_EQUAL(tidb_columns_map(&c, cols_75, 12, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.job_id, 0);
    CU_ASSERT_EQUAL(c.state, 11);
    CU_ASSERT_EQUAL(c.comments, -1);
    CU_ASSERT_EQUAL(tidb_columns_map(&c, cols_85, 13, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.comments, 12);
    /* A reordered layout still maps by name. */
    const char *const shuffled[] = { "STATE", "JOB_TYPE", "SCHEMA_STATE", "JOB_ID" };
    CU_ASSERT_EQUAL(tidb_columns_map(&c, shuffled, 4, err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(c.job_id, 3);
    CU_ASSERT_EQUAL(c.create_time, -1);
    const char *const broken[] = { "JOB_ID", "JOB_TYPE", "SCHEMA_STATE" };
    CU_ASSERT_EQUAL(tidb_columns_map(&c, broken, 3, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "STATE"));
}

static void test_rows(void)
{
    struct tidb_columns c;
    char err[160];
    struct tidb_job j;
    tidb_columns_map(&c, cols_75, 12, err, sizeof(err));
    char *row75[] = { "471", "sbtest", "sbtest1", "add index /* ingest */", "write reorganization",
                      "2", "104", "1000", "2026-11-27 13:08:00", "2026-11-27 13:08:35", NULL,
                      "running" };
    tidb_job_from_row(&c, row75, &j);
    CU_ASSERT_EQUAL(j.job_id, 471);
    CU_ASSERT_STRING_EQUAL(j.db, "sbtest");
    CU_ASSERT_STRING_EQUAL(j.schema_state, "write reorganization");
    CU_ASSERT_STRING_EQUAL(j.state, "running");
    CU_ASSERT_EQUAL(j.row_count, 1000);
    CU_ASSERT_EQUAL(j.start_us - j.create_us, 35LL * 1000000);
    CU_ASSERT_EQUAL(j.end_us, 0);
    CU_ASSERT_FALSE(j.precise);
    CU_ASSERT_FALSE(j.subjob);

    tidb_columns_map(&c, cols_85, 13, err, sizeof(err));
    char *row85[] = { "472", "sbtest", "sbtest1", "add column /* subjob */", "public", "2", "104",
                      "0", "2026-11-27 13:08:00.100000", "2026-11-27 13:08:00.200000",
                      "2026-11-27 13:08:01.300000", "done", "ingest, DXF" };
    tidb_job_from_row(&c, row85, &j);
    CU_ASSERT_TRUE(j.subjob);
    CU_ASSERT_TRUE(j.precise);
    CU_ASSERT_EQUAL(j.end_us - j.start_us, 1100000);
    CU_ASSERT_STRING_EQUAL(j.comments, "ingest, DXF");
}

static void test_normalize(void)
{
    struct { const char *in, *want; } cases[] = {
        { "ALTER TABLE t ADD INDEX i1 (c);", "alter table t add index i1 (c)" },
        { "  /* leading */ alter   table t\n\tadd index i1(c) ; ", "alter table t add index i1(c)" },
        { "-- note\nALTER TABLE t COMMENT 'Keep CASE  here'", "alter table t comment 'Keep CASE  here'" },
        { "# hash\nDROP TABLE `My Table`", "drop table `My Table`" },
        { "/*T![clustered_index] CLUSTERED */", "clustered" },
        { "CREATE TABLE t (a INT) /*!50100 ENGINE=InnoDB */", "create table t (a int) engine=innodb" },
        { "ALTER TABLE t ADD c INT DEFAULT 'it''s'", "alter table t add c int default 'it''s'" },
        { "SELECT 1--2", "select 1--2" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *n = sql_normalize(cases[i].in, strlen(cases[i].in));
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        if (strcmp(n, cases[i].want) != 0)
            fprintf(stderr, "normalize(%s) = '%s', want '%s'\n", cases[i].in, n, cases[i].want);
        CU_ASSERT_STRING_EQUAL(n, cases[i].want);
        free(n);
    }
    /* An unterminated comment or literal ends the text, no overrun. */
    char *n = sql_normalize("alter table t /* open", 21);
    CU_ASSERT_STRING_EQUAL(n, "alter table t");
    free(n);
    n = sql_normalize("alter table t comment 'open", 27);
    CU_ASSERT_STRING_EQUAL(n, "alter table t comment 'open");
    free(n);
}

static void test_may_belong(void)
{
    struct tracked_ddl d = { .id = 1, .sent_at_us = 1795784880LL * 1000000 + 500000 };
    snprintf(d.db, sizeof(d.db), "sbtest");
    snprintf(d.table, sizeof(d.table), "sbtest1");
    struct tidb_job j = { .job_id = 471, .create_us = d.sent_at_us + 12000, .precise = true };
    snprintf(j.db, sizeof(j.db), "SBTEST");
    snprintf(j.table, sizeof(j.table), "sbtest1");
    CU_ASSERT_TRUE(tidb_job_may_belong(&d, &j, 470));
    CU_ASSERT_FALSE(tidb_job_may_belong(&d, &j, 471));     /* not above the floor */
    snprintf(j.table, sizeof(j.table), "sbtest2");
    CU_ASSERT_FALSE(tidb_job_may_belong(&d, &j, 0));
    snprintf(j.table, sizeof(j.table), "sbtest1");
    j.subjob = true;
    CU_ASSERT_FALSE(tidb_job_may_belong(&d, &j, 0));
    j.subjob = false;
    /* Created well before the statement was sent: an older job with the same text. */
    j.create_us = d.sent_at_us - 5000000;
    CU_ASSERT_FALSE(tidb_job_may_belong(&d, &j, 0));
    /* 7.5 truncates CREATE_TIME to the second: that is not "before". */
    j.create_us = 1795784880LL * 1000000;
    j.precise = false;
    CU_ASSERT_TRUE(tidb_job_may_belong(&d, &j, 0));
    /* CREATE DATABASE: no table on either side. */
    d.table[0] = '\0';
    j.table[0] = '\0';
    CU_ASSERT_TRUE(tidb_job_may_belong(&d, &j, 0));
}

static void test_final_states(void)
{
    CU_ASSERT_TRUE(tidb_state_is_final("synced"));
    CU_ASSERT_TRUE(tidb_state_is_final("cancelled"));
    CU_ASSERT_TRUE(tidb_state_is_final("rollback done"));
    CU_ASSERT_FALSE(tidb_state_is_final("done"));        /* not yet synced to all servers */
    CU_ASSERT_FALSE(tidb_state_is_final("queueing"));
}

static void test_hostport_and_errors(void)
{
    char host[64], err[160];
    unsigned port;
    CU_ASSERT_EQUAL(tracker_split_hostport("127.0.0.1:4000", host, sizeof(host), &port, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
    CU_ASSERT_EQUAL(port, 4000);
    CU_ASSERT_EQUAL(tracker_split_hostport("[::1]:3306", host, sizeof(host), &port, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(tracker_split_hostport("tidb", host, sizeof(host), &port, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "tidb"));
    CU_ASSERT_EQUAL(tracker_split_hostport("tidb:99999", host, sizeof(host), &port, err, sizeof(err)), -1);

    char out[160];
    tracker_describe_error(2013, "Lost connection to server during query", 2003, 2000, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "timeout after 2003 ms");
    tracker_describe_error(2013, "Lost connection to server during query", 5, 2000, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "lost connection: Lost connection to server during query");
    tracker_describe_error(1045, "Access denied", 5, 2000, out, sizeof(out));
    CU_ASSERT_STRING_EQUAL(out, "Access denied (errno 1045)");
}

int main(void)
{
    log_open(NULL, LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("tracker_tidb", NULL, NULL);
    CU_add_test(s, "parse time", test_parse_time);
    CU_add_test(s, "job type", test_job_type);
    CU_add_test(s, "columns by name", test_columns);
    CU_add_test(s, "rows 7.5 and 8.5", test_rows);
    CU_add_test(s, "normalize", test_normalize);
    CU_add_test(s, "may belong", test_may_belong);
    CU_add_test(s, "final states", test_final_states);
    CU_add_test(s, "host:port and errors", test_hostport_and_errors);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
