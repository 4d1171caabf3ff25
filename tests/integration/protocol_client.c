/* protocol_client.c - drives the binary protocol through ddlproxy with
 * MariaDB Connector/C: what Python's MySQLdb cannot send. Server-side prepared
 * statements with a read-only cursor and COM_STMT_FETCH, COM_STMT_SEND_LONG_DATA,
 * COM_STMT_RESET, COM_STMT_CLOSE, COM_CHANGE_USER, COM_RESET_CONNECTION,
 * COM_STATISTICS, COM_SET_OPTION toggling multi-statements, COM_PING,
 * COM_INIT_DB, COM_FIELD_LIST and pipelined statements after a stmt close.
 *
 *   protocol_client HOST PORT USER PASSWORD DB
 * Prints "ok NAME" / "FAIL NAME: why" per check and "N passed, N failed". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mysql.h>

static int passed, failed;
static MYSQL *conn;
static const char *host, *user, *password, *db;
static unsigned port;

static void result(const char *name, int ok, const char *fmt, ...)
{
    if (ok) {
        printf("ok %s\n", name);
        passed++;
        return;
    }
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    printf("FAIL %s: %s\n", name, why);
    failed++;
}

static MYSQL *connect_db(unsigned long flags)
{
    MYSQL *m = mysql_init(NULL);
    unsigned timeout = 20;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    my_bool off = 0;
    mysql_options(m, MYSQL_OPT_SSL_ENFORCE, &off);
    if (!mysql_real_connect(m, host, user, password, db, port, NULL, flags)) {
        fprintf(stderr, "connect: %s\n", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

static int query(const char *sql)
{
    if (mysql_query(conn, sql) != 0) {
        fprintf(stderr, "%s: %s\n", sql, mysql_error(conn));
        return -1;
    }
    MYSQL_RES *r = mysql_store_result(conn);
    if (r)
        mysql_free_result(r);
    return 0;
}

static void test_cursor_fetch(void)
{
    query("DROP TABLE IF EXISTS pc_rows");
    query("CREATE TABLE pc_rows (id INT PRIMARY KEY, v VARCHAR(64))");
    char sql[128];
    for (int i = 1; i <= 100; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO pc_rows VALUES (%d, 'row-%d')", i, i);
        query(sql);
    }
    MYSQL_STMT *st = mysql_stmt_init(conn);
    const char *q = "SELECT id, v FROM pc_rows WHERE id > ? ORDER BY id";
    if (mysql_stmt_prepare(st, q, strlen(q)) != 0) {
        result("cursor fetch", 0, "prepare: %s", mysql_stmt_error(st));
        return;
    }
    unsigned long cursor = CURSOR_TYPE_READ_ONLY, prefetch = 7;
    mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &cursor);
    mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);
    int lower = 10;
    MYSQL_BIND param = { 0 };
    param.buffer_type = MYSQL_TYPE_LONG;
    param.buffer = &lower;
    mysql_stmt_bind_param(st, &param);
    int id = 0;
    char v[65];
    unsigned long vlen = 0;
    MYSQL_BIND out[2];
    memset(out, 0, sizeof(out));
    out[0].buffer_type = MYSQL_TYPE_LONG;
    out[0].buffer = &id;
    out[1].buffer_type = MYSQL_TYPE_STRING;
    out[1].buffer = v;
    out[1].buffer_length = sizeof(v) - 1;
    out[1].length = &vlen;
    if (mysql_stmt_execute(st) != 0 || mysql_stmt_bind_result(st, out) != 0) {
        result("cursor fetch", 0, "execute: %s", mysql_stmt_error(st));
        mysql_stmt_close(st);
        return;
    }
    int rows = 0, expect = 11, order_ok = 1;
    while (mysql_stmt_fetch(st) == 0) {
        v[vlen] = '\0';
        char want[32];
        snprintf(want, sizeof(want), "row-%d", expect);
        if (id != expect || strcmp(v, want) != 0)
            order_ok = 0;
        expect++;
        rows++;
    }
    result("cursor fetch (COM_STMT_EXECUTE with cursor + COM_STMT_FETCH x13)", rows == 90 && order_ok,
           "%d rows, order %s", rows, order_ok ? "ok" : "wrong");
    /* execute again on the same statement after a reset */
    int reset_ok = mysql_stmt_reset(st) == 0;
    lower = 95;
    int again = mysql_stmt_execute(st) == 0 && mysql_stmt_store_result(st) == 0
                && mysql_stmt_num_rows(st) == 5;
    result("COM_STMT_RESET then re-execute", reset_ok && again, "%s", mysql_stmt_error(st));
    mysql_stmt_close(st);
    /* COM_STMT_CLOSE has no reply: the next command must get its own answer */
    result("command after COM_STMT_CLOSE", query("SELECT 1") == 0, "%s", mysql_error(conn));
}

static void test_long_data(void)
{
    query("DROP TABLE IF EXISTS pc_long");
    query("CREATE TABLE pc_long (id INT, b LONGBLOB)");
    MYSQL_STMT *st = mysql_stmt_init(conn);
    const char *q = "INSERT INTO pc_long VALUES (1, ?)";
    if (mysql_stmt_prepare(st, q, strlen(q)) != 0) {
        result("send long data", 0, "prepare: %s", mysql_stmt_error(st));
        return;
    }
    MYSQL_BIND b = { 0 };
    b.buffer_type = MYSQL_TYPE_LONG_BLOB;
    mysql_stmt_bind_param(st, &b);
    size_t chunk = 1 << 20, total = 0;
    char *data = malloc(chunk);
    for (int i = 0; i < 5; i++) {
        memset(data, 'a' + i, chunk);
        if (mysql_stmt_send_long_data(st, 0, data, chunk) != 0)
            break;
        total += chunk;
    }
    free(data);
    int ok = mysql_stmt_execute(st) == 0;
    mysql_stmt_close(st);
    int len_ok = 0;
    if (ok && mysql_query(conn, "SELECT LENGTH(b), MD5(b) FROM pc_long WHERE id = 1") == 0) {
        MYSQL_RES *r = mysql_store_result(conn);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        len_ok = row && strtoull(row[0], NULL, 10) == total;
        if (r)
            mysql_free_result(r);
    }
    result("COM_STMT_SEND_LONG_DATA x5 (5 MiB) then execute", ok && len_ok, "%s", mysql_error(conn));
}

static void test_session_commands(void)
{
    result("COM_PING", mysql_ping(conn) == 0, "%s", mysql_error(conn));
    const char *stat = mysql_stat(conn);
    result("COM_STATISTICS", stat && strstr(stat, "Uptime"), "%s", stat ? stat : mysql_error(conn));
    result("COM_INIT_DB", mysql_select_db(conn, db) == 0, "%s", mysql_error(conn));

    /* COM_SET_OPTION toggles multi-statements mid-session */
    int on = mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_ON) == 0;
    int multi = 0;
    if (on && mysql_query(conn, "SELECT 1; SELECT 2, 3") == 0) {
        int sets = 0;
        do {
            MYSQL_RES *r = mysql_store_result(conn);
            if (r) {
                sets++;
                mysql_free_result(r);
            }
        } while (mysql_next_result(conn) == 0);
        multi = sets == 2;
    }
    int off = mysql_set_server_option(conn, MYSQL_OPTION_MULTI_STATEMENTS_OFF) == 0;
    int refused = mysql_query(conn, "SELECT 1; SELECT 2") != 0;
    result("COM_SET_OPTION on/off", on && multi && off && refused, "on=%d multi=%d off=%d refused=%d (%s)",
           on, multi, off, refused, mysql_error(conn));
    result("query after a refused multi-statement", query("SELECT 1") == 0, "%s", mysql_error(conn));

    query("SET @marker = 42");
    int reset = mysql_reset_connection(conn) == 0;
    int cleared = 0;
    if (reset && mysql_query(conn, "SELECT @marker IS NULL") == 0) {
        MYSQL_RES *r = mysql_store_result(conn);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        cleared = row && strcmp(row[0], "1") == 0;
        if (r)
            mysql_free_result(r);
    }
    result("COM_RESET_CONNECTION", reset && cleared, "%s", mysql_error(conn));

    int changed = mysql_change_user(conn, user, password, db) == 0;
    int who = 0;
    if (changed && mysql_query(conn, "SELECT CURRENT_USER()") == 0) {
        MYSQL_RES *r = mysql_store_result(conn);
        MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
        who = row && strncmp(row[0], user, strlen(user)) == 0;
        if (r)
            mysql_free_result(r);
    }
    result("COM_CHANGE_USER", changed && who, "%s", mysql_error(conn));
    int bad = mysql_change_user(conn, user, "wrong-password", db) != 0;
    result("COM_CHANGE_USER with a wrong password gets the server's ERR", bad && mysql_errno(conn) == 1045,
           "errno %u %s", mysql_errno(conn), mysql_error(conn));
}

static void test_field_list(void)
{
    MYSQL *m = connect_db(0);
    if (!m) {
        result("COM_FIELD_LIST", 0, "connect failed");
        return;
    }
    MYSQL_RES *r = mysql_list_fields(m, "pc_rows", NULL);
    unsigned n = r ? mysql_num_fields(r) : 0;
    if (r)
        mysql_free_result(r);
    int after = mysql_query(m, "SELECT 1") == 0;
    if (after)
        mysql_free_result(mysql_store_result(m));
    result("COM_FIELD_LIST", n == 2 && after, "%u fields: %s", n, mysql_error(m));
    mysql_close(m);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: protocol_client HOST PORT USER PASSWORD DB\n");
        return 2;
    }
    host = argv[1];
    port = (unsigned)atoi(argv[2]);
    user = argv[3];
    password = argv[4];
    db = argv[5];
    conn = connect_db(CLIENT_MULTI_RESULTS);
    if (!conn) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    test_cursor_fetch();
    test_long_data();
    test_field_list();
    test_session_commands();
    /* The proxy must still attribute results right after all of the above:
     * the test around this program checks the DDL log for these two. */
    result("DDL after the protocol tour", query("ALTER TABLE pc_rows ADD COLUMN extra INT") == 0,
           "%s", mysql_error(conn));
    result("failing DDL after the protocol tour", mysql_query(conn, "ALTER TABLE pc_rows ADD COLUMN extra INT") != 0
           && mysql_errno(conn) == 1060, "errno %u", mysql_errno(conn));
    mysql_close(conn);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
