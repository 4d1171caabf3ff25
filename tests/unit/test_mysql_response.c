/* test_mysql_response.c - the command/response state machine, table-driven.
 * Each scenario is the packet sequence of one conversation (client and server
 * packets in wire order) with, for every packet, what the machine must say:
 * the client packet kind, the event of a server packet (result index, OK/ERR,
 * final, error code and message, prepared statement id, affected rows) and the
 * command in flight afterwards. Two scenarios are sessions captured from
 * MariaDB 10.11 and libmariadb; the others are built per the protocol docs.
 * Server packets are handed over the way the session does it: a heap buffer of
 * exactly min(len, RESP_INSPECT) bytes, so an over-read fails under ASan. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "mysql_proto.h"
#include "mysql_response.h"

#define NONE (-1)                 /* resp_current_command() when nothing is in flight */

enum dir { CLI = 1, SRV };
enum expect { E_NONE = 0, E_OK, E_ERR, E_INFILE, E_PREPARED };

struct step {
    enum dir dir;
    const uint8_t *pay;          /* the packet's first bytes */
    size_t paylen;
    uint32_t len;                /* declared payload length (may exceed paylen) */
    uint8_t fill;                /* payload bytes past paylen */
    enum client_packet_kind kind;   /* client packets */
    enum expect ev;              /* server packets */
    unsigned index;
    bool final;
    uint16_t code;               /* E_ERR */
    const char *msg;             /* E_ERR */
    uint32_t stmt_id;            /* E_PREPARED */
    uint64_t affected;           /* E_OK */
    int cur;                     /* resp_current_command() afterwards */
};

#define PAY(lit) .pay = (const uint8_t *)(lit), .paylen = sizeof(lit) - 1
#define PAYLEN(lit) PAY(lit), .len = sizeof(lit) - 1

#define C_CMD(lit, c)  { .dir = CLI, PAYLEN(lit), .kind = CP_COMMAND, .cur = (c) }
#define C_DATA(lit, c) { .dir = CLI, PAYLEN(lit), .kind = CP_DATA, .cur = (c) }
#define C_RAW(lit, c)  { .dir = CLI, PAYLEN(lit), .kind = CP_RAW, .cur = (c) }
/* a client packet of declared length l: its first bytes lit, then f */
#define C_LONG(lit, l, f, k, c) { .dir = CLI, PAY(lit), .len = (l), .fill = (f), .kind = (k), .cur = (c) }

#define S_PKT(lit, c)  { .dir = SRV, PAYLEN(lit), .ev = E_NONE, .cur = (c) }
#define S_LONG(lit, l, f, c) { .dir = SRV, PAY(lit), .len = (l), .fill = (f), .ev = E_NONE, .cur = (c) }
#define S_INFILE(lit, c) { .dir = SRV, PAYLEN(lit), .ev = E_INFILE, .cur = (c) }
#define S_OK(lit, i, fin, c) { .dir = SRV, PAYLEN(lit), .ev = E_OK, .index = (i), .final = (fin), .cur = (c) }
#define S_OKA(lit, i, fin, aff, c) { .dir = SRV, PAYLEN(lit), .ev = E_OK, .index = (i), .final = (fin), \
                                     .affected = (aff), .cur = (c) }
#define S_ERR(lit, i, code_, msg_, c) { .dir = SRV, PAYLEN(lit), .ev = E_ERR, .index = (i), .final = true, \
                                        .code = (code_), .msg = (msg_), .cur = (c) }
#define S_PREP(lit, id, c) { .dir = SRV, PAYLEN(lit), .ev = E_PREPARED, .final = true, .stmt_id = (id), \
                             .cur = (c) }

struct scenario {
    const char *name;
    uint32_t caps;
    const struct step *steps;
    size_t n;
};
#define SCENARIO(name, caps, steps) { name, caps, steps, sizeof(steps) / sizeof(steps[0]) }

#define DEPRECATE_EOF_CAPS (CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | CLIENT_MULTI_RESULTS)
#define EOF_CAPS (CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS)

/* ---- packets ---- */

#define P_OK          "\x00\x00\x00\x02\x00\x00\x00"
#define P_OK_AFF3     "\x00\x03\x00\x02\x00\x00\x00"
#define P_OK_MORE     "\x00\x00\x00\x0a\x00\x00\x00"
#define P_EOF         "\xfe\x00\x00\x02\x00"
#define P_EOF_MORE    "\xfe\x00\x00\x0a\x00"
#define P_EOF_CURSOR  "\xfe\x00\x00\x42\x00"          /* SERVER_STATUS_CURSOR_EXISTS */
#define P_EOF_LAST    "\xfe\x00\x00\xc2\x00"          /* ... and SERVER_STATUS_LAST_ROW_SENT */
#define P_EOF_OUT     "\xfe\x00\x00\x0a\x10"          /* SERVER_PS_OUT_PARAMS | MORE_RESULTS */
/* CLIENT_DEPRECATE_EOF: rows end with an OK packet whose header is 0xfe */
#define P_OKEOF       "\xfe\x00\x00\x02\x00\x00\x00"
#define P_OKEOF_AFF5  "\xfe\x05\x00\x02\x00\x00\x00"
#define P_OKEOF_MORE  "\xfe\x00\x00\x0a\x00\x00\x00"
#define P_OKEOF_CURSOR "\xfe\x00\x00\x42\x00\x00\x00"
#define P_ERR_1146    "\xff\x7a\x04#42S02Table 'test.t' doesn't exist"
#define M_1146        "Table 'test.t' doesn't exist"
#define P_ERR_1317    "\xff\x25\x05#70100Query execution was interrupted"
#define M_1317        "Query execution was interrupted"
#define P_ERR_1243    "\xff\xdb\x04#HY000Unknown prepared statement handler (7) given to mysqld_stmt_fetch"
#define M_1243        "Unknown prepared statement handler (7) given to mysqld_stmt_fetch"
#define P_COLDEF      "\x03" "def\x04" "test\x01t\x01t\x01" "a\x01" "a\x0c\x3f\x00\x0b\x00\x00\x00\x03\x00\x00\x00\x00\x00"
#define P_PARAMDEF    "\x03" "def\x00\x00\x00\x01?\x00\x0c\x3f\x00\x00\x00\x00\x00\xfd\x80\x00\x00\x00\x00"
#define P_ROW1        "\x01" "1"
#define P_ROW_NULL    "\xfb\x01" "x"                   /* first column NULL: 0xfb, not INFILE */
#define P_BINROW      "\x00\x00\x01\x00\x00\x00"       /* binary rows start with 0x00 */
/* MariaDB progress report (code 0xffff): stage 1 of 3, 10.000% */
#define P_PROGRESS    "\xff\xff\xff\x01\x01\x03\x10\x27\x00\x0a" "copy table"

#define Q_SELECT      "\x03SELECT a FROM t"
#define Q_INSERT      "\x03INSERT INTO t VALUES (1),(2),(3)"
#define Q_MULTI       "\x03SELECT a FROM t; INSERT INTO t VALUES (4)"
#define Q_PREPARE     "\x16SELECT ?, ? FROM t"
#define STMT_OK_7_1_2 "\x00\x07\x00\x00\x00\x01\x00\x02\x00\x00\x00\x00"     /* id 7, 1 column, 2 params */
#define STMT_OK_8_2_0 "\x00\x08\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00"
#define STMT_OK_9_0_3 "\x00\x09\x00\x00\x00\x00\x00\x03\x00\x00\x00\x00"
#define STMT_OK_BIG_0_0 "\x00\x04\x03\x02\x01\x00\x00\x00\x00\x00\x00\x00"   /* id 0x01020304 */
#define EXECUTE_7     "\x17\x07\x00\x00\x00\x00\x01\x00\x00\x00"
#define EXECUTE_7_CURSOR "\x17\x07\x00\x00\x00\x01\x01\x00\x00\x00"          /* CURSOR_TYPE_READ_ONLY */
#define FETCH_7       "\x1c\x07\x00\x00\x00\x02\x00\x00\x00"
#define CLOSE_7       "\x19\x07\x00\x00\x00"

/* ---- COM_QUERY ---- */

static const struct step text_rs_eof[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x02", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_PKT(P_ROW_NULL, COM_QUERY),
    S_OK(P_EOF, 0, true, NONE),
};

static const struct step text_rs_deprecate_eof[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x02", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_PKT(P_ROW_NULL, COM_QUERY),
    S_OKA(P_OKEOF_AFF5, 0, true, 5, NONE),
};

/* a column count in the 9-byte encoding starts with 0xfe too: not an EOF */
static const struct step column_count_9_bytes[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\xfe\x01\x00\x00\x00\x00\x00\x00\x00", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_EOF, 0, true, NONE),
};

static const struct step ok_only[] = {
    C_CMD(Q_INSERT, COM_QUERY),
    S_OKA(P_OK_AFF3, 0, true, 3, NONE),
};

static const struct step err_only[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_ERR(P_ERR_1146, 0, 1146, M_1146, NONE),
    /* the next command starts afresh */
    C_CMD(Q_INSERT, COM_QUERY),
    S_OKA(P_OK_AFF3, 0, true, 3, NONE),
};

static const struct step err_mid_rows[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_ERR(P_ERR_1317, 0, 1317, M_1317, NONE),
};

static const struct step err_mid_coldefs[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x02", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_ERR(P_ERR_1317, 0, 1317, M_1317, NONE),
};

static const struct step err_after_coldefs_deprecate[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_ERR(P_ERR_1317, 0, 1317, M_1317, NONE),
};

static const struct step multi_ok[] = {
    C_CMD("\x03INSERT INTO t VALUES (1); INSERT INTO t VALUES (2),(3),(4)", COM_QUERY),
    S_OK(P_OK_MORE, 0, false, COM_QUERY),
    S_OKA(P_OK_AFF3, 1, true, 3, NONE),
};

static const struct step multi_on_eof[] = {
    C_CMD(Q_MULTI, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_EOF_MORE, 0, false, COM_QUERY),
    S_OK(P_OK, 1, true, NONE),
};

static const struct step multi_on_okeof[] = {
    C_CMD(Q_MULTI, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_OKEOF_MORE, 0, false, COM_QUERY),
    S_OK(P_OK_MORE, 1, false, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_OK(P_OKEOF, 2, true, NONE),
};

static const struct step multi_err_second[] = {
    C_CMD(Q_MULTI, COM_QUERY),
    S_OK(P_OK_MORE, 0, false, COM_QUERY),
    S_ERR(P_ERR_1146, 1, 1146, M_1146, NONE),
};

/* CALL of a procedure with a SELECT: the result set, then the CALL's own OK */
static const struct step call_procedure[] = {
    C_CMD("\x03" "CALL p()", COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_EOF_MORE, 0, false, COM_QUERY),
    S_OK(P_OK, 1, true, NONE),
};

/* ---- LOAD DATA LOCAL INFILE ---- */

static const struct step infile_ok[] = {
    C_CMD("\x03LOAD DATA LOCAL INFILE '/tmp/x.tsv' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/tmp/x.tsv", COM_QUERY),
    /* data packets whose first bytes look like commands are data */
    C_DATA("\x03" "1\tone\n", COM_QUERY),
    C_DATA("\x01" "2\ttwo\n", COM_QUERY),
    C_DATA("", COM_QUERY),
    S_PKT(P_PROGRESS, COM_QUERY),
    S_OKA("\x00\x02\x00\x02\x00\x00\x00", 0, true, 2, NONE),
    C_CMD("\x0e", COM_PING),
    S_OK(P_OK, 0, true, NONE),
};

static const struct step infile_refused_by_client[] = {
    C_CMD("\x03LOAD DATA LOCAL INFILE '/etc/shadow' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/etc/shadow", COM_QUERY),
    C_DATA("", COM_QUERY),
    S_ERR("\xff\x8c\x07#HY000LOAD DATA LOCAL INFILE file request rejected", 0, 1932,
          "LOAD DATA LOCAL INFILE file request rejected", NONE),
};

static const struct step infile_server_err_mid_upload[] = {
    C_CMD("\x03LOAD DATA LOCAL INFILE '/tmp/x.tsv' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/tmp/x.tsv", COM_QUERY),
    C_DATA("1\tone\n", COM_QUERY),
    S_ERR(P_ERR_1317, 0, 1317, M_1317, NONE),
};

/* a 16 MiB data packet is followed by a continuation; the empty packet after an
 * exact multiple is the trailer, not the end of the upload */
static const struct step infile_long_packet[] = {
    C_CMD("\x03LOAD DATA LOCAL INFILE '/tmp/big.tsv' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/tmp/big.tsv", COM_QUERY),
    C_LONG("1\t", MYSQL_MAX_PAYLOAD, 'x', CP_DATA, COM_QUERY),
    C_DATA("", COM_QUERY),
    C_DATA("\x03more rows\n", COM_QUERY),
    C_DATA("", COM_QUERY),
    S_OK(P_OK, 0, true, NONE),
};

/* ---- prepared statements ---- */

static const struct step prepare_eof[] = {
    C_CMD(Q_PREPARE, COM_STMT_PREPARE),
    S_PKT(STMT_OK_7_1_2, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_EOF, COM_STMT_PREPARE),
    S_PKT(P_COLDEF, COM_STMT_PREPARE),
    S_PREP(P_EOF, 7, NONE),
};

static const struct step prepare_deprecate_eof[] = {
    C_CMD(Q_PREPARE, COM_STMT_PREPARE),
    S_PKT(STMT_OK_7_1_2, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PREP(P_COLDEF, 7, NONE),
};

static const struct step prepare_no_params_eof[] = {
    C_CMD("\x16SELECT a, a FROM t", COM_STMT_PREPARE),
    S_PKT(STMT_OK_8_2_0, COM_STMT_PREPARE),
    S_PKT(P_COLDEF, COM_STMT_PREPARE),
    S_PKT(P_COLDEF, COM_STMT_PREPARE),
    S_PREP(P_EOF, 8, NONE),
};

static const struct step prepare_no_params_deprecate[] = {
    C_CMD("\x16SELECT a, a FROM t", COM_STMT_PREPARE),
    S_PKT(STMT_OK_8_2_0, COM_STMT_PREPARE),
    S_PKT(P_COLDEF, COM_STMT_PREPARE),
    S_PREP(P_COLDEF, 8, NONE),
};

static const struct step prepare_no_columns_eof[] = {
    C_CMD("\x16INSERT INTO t VALUES (?, ?, ?)", COM_STMT_PREPARE),
    S_PKT(STMT_OK_9_0_3, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PREP(P_EOF, 9, NONE),
};

static const struct step prepare_no_columns_deprecate[] = {
    C_CMD("\x16INSERT INTO t VALUES (?, ?, ?)", COM_STMT_PREPARE),
    S_PKT(STMT_OK_9_0_3, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PREP(P_PARAMDEF, 9, NONE),
};

static const struct step prepare_nothing[] = {
    C_CMD("\x16" "DO 1", COM_STMT_PREPARE),
    S_PREP(STMT_OK_BIG_0_0, 0x01020304, NONE),
    C_CMD("\x16" "bad sql", COM_STMT_PREPARE),
    S_ERR("\xff\x28\x04#42000You have an error in your SQL syntax", 0, 1064,
          "You have an error in your SQL syntax", NONE),
};

static const struct step execute_binary_rows_eof[] = {
    C_CMD(EXECUTE_7, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_PKT(P_EOF, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_OK(P_EOF, 0, true, NONE),
    C_CMD(CLOSE_7, NONE),
};

static const struct step execute_binary_rows_deprecate[] = {
    C_CMD(EXECUTE_7, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_OK(P_OKEOF, 0, true, NONE),
};

static const struct step execute_out_params[] = {
    C_CMD(EXECUTE_7, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_PKT(P_EOF, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_OK(P_EOF_OUT, 0, false, COM_STMT_EXECUTE),
    S_OK(P_OK, 1, true, NONE),
};

static const struct step execute_cursor_eof[] = {
    C_CMD(EXECUTE_7_CURSOR, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_OK(P_EOF_CURSOR, 0, true, NONE),
    C_CMD(FETCH_7, COM_STMT_FETCH),
    S_PKT(P_BINROW, COM_STMT_FETCH),
    S_PKT(P_BINROW, COM_STMT_FETCH),
    S_OK(P_EOF_CURSOR, 0, true, NONE),
    C_CMD(FETCH_7, COM_STMT_FETCH),
    S_PKT(P_BINROW, COM_STMT_FETCH),
    S_OK(P_EOF_LAST, 0, true, NONE),
    C_CMD(CLOSE_7, NONE),
    C_CMD(FETCH_7, COM_STMT_FETCH),
    S_ERR(P_ERR_1243, 0, 1243, M_1243, NONE),
};

static const struct step execute_cursor_deprecate[] = {
    C_CMD(EXECUTE_7_CURSOR, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_OK(P_OKEOF_CURSOR, 0, true, NONE),
    C_CMD(FETCH_7, COM_STMT_FETCH),
    S_PKT(P_BINROW, COM_STMT_FETCH),
    S_OK(P_OKEOF_CURSOR, 0, true, NONE),
};

/* cursor asked for, but the server sent the rows at once (no CURSOR_EXISTS) */
static const struct step execute_cursor_not_opened[] = {
    C_CMD(EXECUTE_7_CURSOR, COM_STMT_EXECUTE),
    S_PKT("\x01", COM_STMT_EXECUTE),
    S_PKT(P_COLDEF, COM_STMT_EXECUTE),
    S_PKT(P_EOF, COM_STMT_EXECUTE),
    S_PKT(P_BINROW, COM_STMT_EXECUTE),
    S_OK(P_EOF, 0, true, NONE),
};

static const struct step no_reply_commands[] = {
    C_CMD(CLOSE_7, NONE),
    C_CMD("\x18\x07\x00\x00\x00\x00\x00" "long data", NONE),
    C_CMD(EXECUTE_7, COM_STMT_EXECUTE),
    /* COM_STMT_CLOSE while a command is in flight changes nothing */
    C_CMD(CLOSE_7, COM_STMT_EXECUTE),
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x1a\x07\x00\x00\x00", COM_STMT_RESET),
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x01", NONE),
};

/* ---- other commands ---- */

static const struct step field_list_eof[] = {
    C_CMD("\x04t\x00", COM_FIELD_LIST),
    S_PKT(P_COLDEF, COM_FIELD_LIST),
    S_PKT(P_COLDEF, COM_FIELD_LIST),
    S_OK(P_EOF, 0, true, NONE),
    C_CMD("\x04nosuch\x00", COM_FIELD_LIST),
    S_ERR(P_ERR_1146, 0, 1146, M_1146, NONE),
};

static const struct step field_list_deprecate[] = {
    C_CMD("\x04t\x00", COM_FIELD_LIST),
    S_PKT(P_COLDEF, COM_FIELD_LIST),
    S_OK(P_OKEOF, 0, true, NONE),
};

static const struct step statistics[] = {
    C_CMD("\x09", COM_STATISTICS),
    S_OK("Uptime: 23  Threads: 1  Questions: 13  Slow queries: 0  Opens: 21", 0, true, NONE),
};

static const struct step simple_replies[] = {
    C_CMD("\x0e", COM_PING),
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x1b\x01\x00", COM_SET_OPTION),
    S_OK(P_EOF, 0, true, NONE),              /* COM_SET_OPTION answers with EOF */
    C_CMD("\x1f", COM_RESET_CONNECTION),
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x0d", COM_DEBUG),
    S_OK(P_EOF, 0, true, NONE),
    C_CMD("\x02" "nosuchdb", COM_INIT_DB),
    S_ERR("\xff\x19\x04#42000Unknown database 'nosuchdb'", 0, 1049, "Unknown database 'nosuchdb'", NONE),
    C_CMD("\xfa\x07\x00\x00\x00\x00\x00", COM_STMT_BULK_EXECUTE),
    S_OKA(P_OK_AFF3, 0, true, 3, NONE),
    /* a server packet nobody asked for reports nothing */
    S_PKT(P_OK, NONE),
};

/* caching_sha2_password through an auth switch: every client packet of the
 * exchange is data, even when it starts like a command (0x02 = COM_INIT_DB) */
static const struct step change_user_sha2[] = {
    C_CMD("\x11" "app\x00\x00" "sbtest\x00\xff\x00" "mysql_native_password\x00", COM_CHANGE_USER),
    S_PKT("\xfe" "caching_sha2_password\x00" "0123456789abcdefghij\x00", COM_CHANGE_USER),
    C_DATA("\x03\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff"
           "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", COM_CHANGE_USER),
    S_PKT("\x01\x04", COM_CHANGE_USER),              /* perform full authentication */
    C_DATA("\x02", COM_CHANGE_USER),                 /* request public key */
    S_PKT("\x01-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----\n", COM_CHANGE_USER),
    C_DATA("\x0e\x01\x02\x03 encrypted password", COM_CHANGE_USER),
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x02" "sbtest", COM_INIT_DB),
    S_OK(P_OK, 0, true, NONE),
};

static const struct step change_user_fast[] = {
    C_CMD("\x11" "app\x00\x00" "sbtest\x00\xff\x00" "caching_sha2_password\x00", COM_CHANGE_USER),
    S_PKT("\x01\x03", COM_CHANGE_USER),              /* fast auth success */
    S_OK(P_OK, 0, true, NONE),
    C_CMD("\x11" "app\x00\x00" "sbtest\x00\xff\x00", COM_CHANGE_USER),
    S_ERR("\xff\x15\x04#28000Access denied for user 'app'@'localhost'", 0, 1045,
          "Access denied for user 'app'@'localhost'", NONE),
};

static const struct step binlog_dump[] = {
    C_CMD("\x12\x04\x00\x00\x00\x00\x00\x01\x00\x00\x00" "mysql-bin.000001", COM_BINLOG_DUMP),
    S_PKT("\x00\x00\x00\x00\x00\x04\x01\x00\x00\x00\x2c\x00\x00\x00\x00\x00\x00\x00\x20\x00",
          COM_BINLOG_DUMP),
    S_PKT(P_EOF, COM_BINLOG_DUMP),                   /* raw: nothing is interpreted any more */
    S_PKT(P_ERR_1146, COM_BINLOG_DUMP),
    S_PKT(P_OK, COM_BINLOG_DUMP),
    C_RAW("\x03SELECT 1", COM_BINLOG_DUMP),
    C_RAW("\x01", COM_BINLOG_DUMP),
};

static const struct step binlog_dump_gtid[] = {
    C_CMD("\x1e\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", COM_BINLOG_DUMP_GTID),
    S_PKT(P_OK, COM_BINLOG_DUMP_GTID),
    C_RAW("\x0e", COM_BINLOG_DUMP_GTID),
};

/* ---- pipelining ---- */

static const struct step pipelined[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    C_CMD("\x0e", COM_QUERY),
    C_CMD(CLOSE_7, COM_QUERY),
    C_CMD(Q_INSERT, COM_QUERY),
    C_CMD(Q_PREPARE, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_EOF, 0, true, COM_PING),
    S_OK(P_OK, 0, true, COM_QUERY),
    S_ERR(P_ERR_1146, 0, 1146, M_1146, COM_STMT_PREPARE),
    S_PKT(STMT_OK_9_0_3, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PKT(P_PARAMDEF, COM_STMT_PREPARE),
    S_PREP(P_EOF, 9, NONE),
};

/* ---- 16 MiB packets and the 0xFE ambiguity ---- */

/* a row of 2^24 bytes: its first byte 0xfe (8-byte length) and len 0xffffff make
 * it a row, not an EOF; the continuation starts like an EOF and an ERR but is
 * payload; the empty trailer after an exact multiple is payload too */
static const struct step long_rows_eof[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_LONG("\xfe\x00\x00\x00\x01\x00\x00\x00\x00", MYSQL_MAX_PAYLOAD, 'x', COM_QUERY),
    S_PKT("\xfe\x00\x00\x02\x00xxxxx", COM_QUERY),
    S_LONG("\xfd\xfb\xff\xff", MYSQL_MAX_PAYLOAD, 'y', COM_QUERY),
    S_PKT("", COM_QUERY),
    S_LONG("\xfe\xff\xff\xff\x01\x00\x00\x00\x00", MYSQL_MAX_PAYLOAD, 0xfe, COM_QUERY),
    S_LONG("\xff\x15\x04#28000", MYSQL_MAX_PAYLOAD, 0xff, COM_QUERY),
    S_PKT("\xff\x15\x04#28000zz", COM_QUERY),
    S_PKT(P_ROW1, COM_QUERY),
    S_OK(P_EOF, 0, true, NONE),
};

static const struct step long_rows_deprecate[] = {
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_LONG("\xfe\x00\x00\x00\x01\x00\x00\x00\x00", MYSQL_MAX_PAYLOAD, 0xfe, COM_QUERY),
    S_PKT(P_OKEOF, COM_QUERY),                       /* continuation, though it looks like the end */
    S_OK(P_OKEOF, 0, true, NONE),
};

static const struct step long_client_query[] = {
    C_LONG("\x03SELECT '", MYSQL_MAX_PAYLOAD, 'x', CP_COMMAND, COM_QUERY),
    C_DATA("\x01xxxx'", COM_QUERY),                  /* continuation starting like COM_QUIT */
    S_OK(P_OK, 0, true, NONE),
    /* exact multiple of 0xffffff: the empty trailer belongs to the command */
    C_LONG("\x03INSERT INTO t VALUES ('", MYSQL_MAX_PAYLOAD, 'x', CP_COMMAND, COM_QUERY),
    C_LONG("\x0e", MYSQL_MAX_PAYLOAD, 'x', CP_DATA, COM_QUERY),
    C_DATA("", COM_QUERY),
    C_CMD("\x0e", COM_QUERY),
    S_OK(P_OK, 0, true, COM_PING),
    S_OK(P_OK, 0, true, NONE),
};

/* ---- MariaDB progress reports ---- */

static const struct step progress[] = {
    C_CMD("\x03" "ALTER TABLE t ADD INDEX i (a)", COM_QUERY),
    S_PKT(P_PROGRESS, COM_QUERY),
    S_PKT(P_PROGRESS, COM_QUERY),
    S_OK(P_OK, 0, true, NONE),
    C_CMD(Q_SELECT, COM_QUERY),
    S_PKT(P_PROGRESS, COM_QUERY),
    S_PKT("\x01", COM_QUERY),
    S_PKT(P_COLDEF, COM_QUERY),
    S_PKT(P_EOF, COM_QUERY),
    S_OK(P_EOF, 0, true, NONE),
};

/* ---- sessions captured between libmariadb 3.3 and MariaDB 10.11 (command phase) ----
 * The client had negotiated MARIADB_CLIENT_CACHE_METADATA (no proxy in between),
 * so column counts carry a "metadata follows" byte. */

static const struct step mariadb_session[] = {
    C_CMD("\x03SET autocommit=0", COM_QUERY),
    S_OK("\x00\x00\x00\x00@\x00\x00\x00\x11\x00\x0f\x0a" "autocommit\x03OFF", 0, true, NONE),
    C_CMD("\x03" "CREATE DATABASE IF NOT EXISTS fz", COM_QUERY),
    S_OKA("\x00\x01\x00\x00\x00\x00\x00", 0, true, 1, NONE),
    C_CMD("\x03USE fz", COM_QUERY),
    S_OK("\x00\x00\x00\x00@\x00\x00\x00\x05\x01\x03\x02" "fz", 0, true, NONE),
    C_CMD("\x03" "CREATE TABLE IF NOT EXISTS t (id INT PRIMARY KEY, v VARCHAR(20))", COM_QUERY),
    S_OK("\x00\x00\x00\x00\x00\x00\x00", 0, true, NONE),
    C_CMD("\x03LOAD DATA LOCAL INFILE '/tmp/protofuzz/infile.tsv' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/tmp/protofuzz/infile.tsv", COM_QUERY),
    C_DATA("1\x09one\x0a" "2\x09two\x0a", COM_QUERY),
    C_DATA("", COM_QUERY),
    S_PKT("\xff\xff\xff\x01\x02\x02\x00\x00\x00\x0f" "End bulk insert", COM_QUERY),
    S_OKA("\x00\x02\x00\x01\x00\x00\x00/Records: 2  Deleted: 0  Skipped: 0  Warnings: 0", 0, true, 2, NONE),
    C_CMD("\x03SELECT id, v, NULL FROM t ORDER BY id", COM_QUERY),
    S_PKT("\x03\x01", COM_QUERY),
    S_PKT("\x03" "def\x02" "fz\x01t\x01t\x02id\x02id\x00\x0c\x3f\x00\x0b\x00\x00\x00\x03\x03P\x00\x00\x00", COM_QUERY),
    S_PKT("\x03" "def\x02" "fz\x01t\x01t\x01v\x01v\x00\x0c-\x00P\x00\x00\x00\xfd\x00\x00\x00\x00\x00", COM_QUERY),
    S_PKT("\x03" "def\x00\x00\x00\x04NULL\x00\x00\x0c\x3f\x00\x00\x00\x00\x00\x06\x80\x00\x00\x00\x00", COM_QUERY),
    S_PKT("\xfe\x00\x00!\x00", COM_QUERY),
    S_PKT("\x01" "1\x03one\xfb", COM_QUERY),
    S_PKT("\x01" "2\x03two\xfb", COM_QUERY),
    S_OK("\xfe\x00\x00!\x00", 0, true, NONE),
    C_CMD("\x03SELECT 1; SELECT 2, 'x'; DO 1", COM_QUERY),
    S_PKT("\x01\x01", COM_QUERY),
    S_PKT("\x03" "def\x00\x00\x00\x01" "1\x00\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00", COM_QUERY),
    S_PKT("\xfe\x00\x00\x09\x00", COM_QUERY),
    S_PKT("\x01" "1", COM_QUERY),
    S_OK("\xfe\x00\x00\x09\x00", 0, false, COM_QUERY),
    S_PKT("\x02\x01", COM_QUERY),
    S_PKT("\x03" "def\x00\x00\x00\x01" "2\x00\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00", COM_QUERY),
    S_PKT("\x03" "def\x00\x00\x00\x01x\x00\x00\x0c-\x00\x04\x00\x00\x00\xfd\x01\x00'\x00\x00", COM_QUERY),
    S_PKT("\xfe\x00\x00\x09\x00", COM_QUERY),
    S_PKT("\x01" "2\x01x", COM_QUERY),
    S_OK("\xfe\x00\x00\x09\x00", 1, false, COM_QUERY),
    S_OK("\x00\x00\x00\x01\x00\x00\x00", 2, true, NONE),
    C_CMD("\x03SELECT * FROM nonexistent", COM_QUERY),
    S_ERR("\xffz\x04#42S02Table 'fz.nonexistent' doesn't exist", 0, 1146, "Table 'fz.nonexistent' doesn't exist", NONE),
    C_CMD("\x03LOAD DATA LOCAL INFILE '/nonexistent/file' INTO TABLE t", COM_QUERY),
    S_INFILE("\xfb/nonexistent/file", COM_QUERY),
    C_DATA("", COM_QUERY),
    S_PKT("\xff\xff\xff\x01\x02\x02\x00\x00\x00\x0f" "End bulk insert", COM_QUERY),
    S_OK("\x00\x00\x00\x01\x00\x00\x00/Records: 0  Deleted: 0  Skipped: 0  Warnings: 0", 0, true, NONE),
    C_CMD("\x03" "ALTER TABLE t ADD INDEX iv (v)", COM_QUERY),
    S_OK("\x00\x00\x00\x00\x00\x00\x00&Records: 0  Duplicates: 0  Warnings: 0", 0, true, NONE),
    C_CMD("\x0e", COM_PING),
    S_OK("\x00\x00\x00\x00\x00\x00\x00", 0, true, NONE),
    C_CMD("\x09", COM_STATISTICS),
    S_OK("Uptime: 23  Threads: 1  Questions: 13  Slow queries: 0  Opens: 21  Open tables: 13  Queries per second avg: 0.565", 0, true, NONE),
    C_CMD("\x02mysql", COM_INIT_DB),
    S_OK("\x00\x00\x00\x00@\x00\x00\x00\x08\x01\x06\x05mysql", 0, true, NONE),
    C_CMD("\x03" "DROP DATABASE fz", COM_QUERY),
    S_OKA("\x00\x01\x00\x00\x01\x00\x00", 0, true, 1, NONE),
    C_CMD("\x01", NONE),
};

static const struct step mariadb_change_user[] = {
    C_CMD("\x03SET autocommit=0", COM_QUERY),
    S_OK("\x00\x00\x00\x00@\x00\x00\x00\x11\x00\x0f\x0a" "autocommit\x03OFF", 0, true, NONE),
    C_CMD("\x03" "CREATE USER IF NOT EXISTS 'fz'@'%' IDENTIFIED BY 'fzpass'", COM_QUERY),
    S_OK("\x00\x00\x00\x00\x00\x00\x00", 0, true, NONE),
    C_CMD("\x03GRANT SELECT ON mysql.* TO 'fz'@'%'", COM_QUERY),
    S_OK("\x00\x00\x00\x00\x00\x00\x00", 0, true, NONE),
    C_CMD("\x11" "fz\x00\x14\x1c\x06\xe7.7\xe7\xc0\xb0\x8cT\xab\xcdt#JA\xce\x8c\x81\xd0mysql\x00-\x00mysql_native_password\x00l\x03_os\x05Linux\x0c_client_name\x0alibmariadb\x04_pid\x05" "27661\x0f_client_version\x06" "3.3.20\x09_platform\x06x86_64\x0c_server_host\x09" "127.0.0.1", COM_CHANGE_USER),
    S_PKT("\xfemysql_native_password\x00" "1--;~/g=7>qB1o_k{J=3\x00", COM_CHANGE_USER),
    C_DATA("\x1c\x06\xe7.7\xe7\xc0\xb0\x8cT\xab\xcdt#JA\xce\x8c\x81\xd0", COM_CHANGE_USER),
    S_OK("\x00\x00\x00\x02@\x00\x00\x00\x08\x01\x06\x05mysql", 0, true, NONE),
    C_CMD("\x03SELECT CURRENT_USER()", COM_QUERY),
    S_PKT("\x01\x01", COM_QUERY),
    S_PKT("\x03" "def\x00\x00\x00\x0e" "CURRENT_USER()\x00\x00\x0c-\x00\x00\x06\x00\x00\xfd\x00\x00'\x00\x00", COM_QUERY),
    S_PKT("\xfe\x00\x00\x02\x00", COM_QUERY),
    S_PKT("\x04" "fz@%", COM_QUERY),
    S_OK("\xfe\x00\x00\x02\x00", 0, true, NONE),
    C_CMD("\x11" "fz\x00\x14\xc9\x02i<Al4K}\x9d\x16\xab\xea" "aV=w\xe4\xbd\x80mysql\x00-\x00mysql_native_password\x00l\x03_os\x05Linux\x0c_client_name\x0alibmariadb\x04_pid\x05" "27661\x0f_client_version\x06" "3.3.20\x09_platform\x06x86_64\x0c_server_host\x09" "127.0.0.1", COM_CHANGE_USER),
    S_PKT("\xfemysql_native_password\x00" "1--;~/g=7>qB1o_k{J=3\x00", COM_CHANGE_USER),
    C_DATA("\xc9\x02i<Al4K}\x9d\x16\xab\xea" "aV=w\xe4\xbd\x80", COM_CHANGE_USER),
    S_ERR("\xff\x15\x04#28000Access denied for user 'fz'@'localhost' (using password: YES)", 0, 1045, "Access denied for user 'fz'@'localhost' (using password: YES)", NONE),
    C_CMD("\x01", NONE),
};

/* ---- the runner ---- */

static const struct scenario eof_scenarios[] = {
    SCENARIO("text result set", EOF_CAPS, text_rs_eof),
    SCENARIO("column count in 9 bytes", EOF_CAPS, column_count_9_bytes),
    SCENARIO("OK", EOF_CAPS, ok_only),
    SCENARIO("ERR", EOF_CAPS, err_only),
    SCENARIO("ERR mid-rows", EOF_CAPS, err_mid_rows),
    SCENARIO("ERR mid-column definitions", EOF_CAPS, err_mid_coldefs),
    SCENARIO("multi-results on OK", EOF_CAPS, multi_ok),
    SCENARIO("multi-results on EOF", EOF_CAPS, multi_on_eof),
    SCENARIO("multi-results, ERR in second", EOF_CAPS, multi_err_second),
    SCENARIO("CALL", EOF_CAPS, call_procedure),
    SCENARIO("progress reports", EOF_CAPS, progress),
};

static const struct scenario deprecate_eof_scenarios[] = {
    SCENARIO("text result set", DEPRECATE_EOF_CAPS, text_rs_deprecate_eof),
    SCENARIO("OK", DEPRECATE_EOF_CAPS, ok_only),
    SCENARIO("ERR", DEPRECATE_EOF_CAPS, err_only),
    SCENARIO("ERR after column definitions", DEPRECATE_EOF_CAPS, err_after_coldefs_deprecate),
    SCENARIO("multi-results on OK", DEPRECATE_EOF_CAPS, multi_ok),
    SCENARIO("multi-results on 0xfe OK", DEPRECATE_EOF_CAPS, multi_on_okeof),
    SCENARIO("multi-results, ERR in second", DEPRECATE_EOF_CAPS, multi_err_second),
};

static const struct scenario infile_scenarios[] = {
    SCENARIO("upload then OK", EOF_CAPS, infile_ok),
    SCENARIO("client refuses, server ERR", EOF_CAPS, infile_refused_by_client),
    SCENARIO("server ERR mid-upload", EOF_CAPS, infile_server_err_mid_upload),
    SCENARIO("16 MiB data packet and trailer", EOF_CAPS, infile_long_packet),
};

static const struct scenario stmt_scenarios[] = {
    SCENARIO("prepare, EOF", EOF_CAPS, prepare_eof),
    SCENARIO("prepare, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, prepare_deprecate_eof),
    SCENARIO("prepare without params, EOF", EOF_CAPS, prepare_no_params_eof),
    SCENARIO("prepare without params, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, prepare_no_params_deprecate),
    SCENARIO("prepare without columns, EOF", EOF_CAPS, prepare_no_columns_eof),
    SCENARIO("prepare without columns, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, prepare_no_columns_deprecate),
    SCENARIO("prepare without either, and ERR, EOF", EOF_CAPS, prepare_nothing),
    SCENARIO("prepare without either, and ERR, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, prepare_nothing),
    SCENARIO("execute, binary rows, EOF", EOF_CAPS, execute_binary_rows_eof),
    SCENARIO("execute, binary rows, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, execute_binary_rows_deprecate),
    SCENARIO("execute with OUT parameters", EOF_CAPS, execute_out_params),
    SCENARIO("execute with cursor, fetch, EOF", EOF_CAPS, execute_cursor_eof),
    SCENARIO("execute with cursor, fetch, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, execute_cursor_deprecate),
    SCENARIO("execute with cursor not opened", EOF_CAPS, execute_cursor_not_opened),
    SCENARIO("commands without reply", EOF_CAPS, no_reply_commands),
};

static const struct scenario command_scenarios[] = {
    SCENARIO("COM_FIELD_LIST, EOF", EOF_CAPS, field_list_eof),
    SCENARIO("COM_FIELD_LIST, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, field_list_deprecate),
    SCENARIO("COM_STATISTICS", EOF_CAPS, statistics),
    SCENARIO("simple replies", EOF_CAPS, simple_replies),
    SCENARIO("COM_CHANGE_USER, caching_sha2 full auth", DEPRECATE_EOF_CAPS, change_user_sha2),
    SCENARIO("COM_CHANGE_USER, fast auth and ERR", DEPRECATE_EOF_CAPS, change_user_fast),
    SCENARIO("COM_BINLOG_DUMP", EOF_CAPS, binlog_dump),
    SCENARIO("COM_BINLOG_DUMP_GTID", EOF_CAPS, binlog_dump_gtid),
    SCENARIO("pipelined commands", EOF_CAPS, pipelined),
};

static const struct scenario long_packet_scenarios[] = {
    SCENARIO("16 MiB rows, 0xFE ambiguity, EOF", EOF_CAPS, long_rows_eof),
    SCENARIO("16 MiB rows, 0xFE ambiguity, DEPRECATE_EOF", DEPRECATE_EOF_CAPS, long_rows_deprecate),
    SCENARIO("16 MiB client commands", EOF_CAPS, long_client_query),
};

#define CAPTURED_CAPS (0x00bfa28cu & 0x81fff7feu & ~PROXY_UNSUPPORTED_CAPS)
static const struct scenario captured_scenarios[] = {
    SCENARIO("MariaDB 10.11 session", CAPTURED_CAPS, mariadb_session),
    SCENARIO("MariaDB 10.11 COM_CHANGE_USER", CAPTURED_CAPS, mariadb_change_user),
};

static const char *kind_name(enum client_packet_kind k)
{
    return k == CP_COMMAND ? "command" : k == CP_DATA ? "data" : k == CP_RAW ? "raw" : "?";
}

/* Feeds one step; returns false (after saying why) if the machine disagrees. */
static bool run_step(struct resp_machine *m, const struct scenario *sc, size_t i)
{
    const struct step *s = &sc->steps[i];
    bool ok = true;
    int before = resp_current_command(m);
    size_t avail = s->len;
    if (s->dir == SRV && avail > RESP_INSPECT)
        avail = RESP_INSPECT;
    uint8_t *buf = malloc(avail ? avail : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    size_t head = s->paylen < avail ? s->paylen : avail;
    memcpy(buf, s->pay, head);
    memset(buf + head, s->fill, avail - head);

#define EXPECT(cond, ...) do { \
        if (!(cond)) { \
            fprintf(stderr, "\n  %s, step %zu: ", sc->name, i); \
            fprintf(stderr, __VA_ARGS__); \
            ok = false; \
        } \
    } while (0)

    if (s->dir == CLI) {
        enum client_packet_kind k = resp_client_packet(m, buf, avail, s->len);
        EXPECT(k == s->kind, "client packet is %s, expected %s", kind_name(k), kind_name(s->kind));
    } else {
        struct resp_event ev;
        resp_server_packet(m, buf, avail, s->len, &ev);
        switch (s->ev) {
        case E_NONE:
            EXPECT(!ev.result && !ev.infile_request, "unexpected event (result %d, ok %d, final %d)",
                   ev.result, ev.ok, ev.final);
            break;
        case E_INFILE:
            EXPECT(ev.infile_request && !ev.result, "expected an INFILE request");
            break;
        case E_OK:
        case E_PREPARED:
        case E_ERR:
            EXPECT(ev.result, "expected a result");
            EXPECT(ev.ok == (s->ev != E_ERR), "result ok=%d", ev.ok);
            EXPECT(ev.final == s->final, "final=%d", ev.final);
            EXPECT(ev.index == s->index, "index %u, expected %u", ev.index, s->index);
            EXPECT((int)ev.command == before, "event for command 0x%02x, 0x%02x was in flight",
                   ev.command, (unsigned)before);
            if (s->ev == E_OK)
                EXPECT(ev.affected_rows == s->affected, "affected rows %llu, expected %llu",
                       (unsigned long long)ev.affected_rows, (unsigned long long)s->affected);
            if (s->ev == E_PREPARED)
                EXPECT(ev.prepared_stmt_id == s->stmt_id, "statement id %u, expected %u",
                       ev.prepared_stmt_id, s->stmt_id);
            if (s->ev == E_ERR) {
                EXPECT(ev.err.code == s->code, "error code %u, expected %u", ev.err.code, s->code);
                EXPECT(strcmp(ev.err.message, s->msg) == 0, "error message '%s'", ev.err.message);
            }
            break;
        }
    }
    int cur = resp_current_command(m);
    EXPECT(cur == s->cur, "command in flight %d, expected %d", cur, s->cur);
#undef EXPECT
    free(buf);
    return ok;
}

static void run_scenarios(const struct scenario *list, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        struct resp_machine m;
        resp_init(&m, list[k].caps);
        CU_ASSERT_EQUAL(resp_current_command(&m), NONE);
        for (size_t i = 0; i < list[k].n; i++)
            CU_ASSERT(run_step(&m, &list[k], i));
        CU_ASSERT_FALSE(m.overflow);
    }
}

#define RUN(list) run_scenarios(list, sizeof(list) / sizeof(list[0]))

static void test_eof(void) { RUN(eof_scenarios); }
static void test_deprecate_eof(void) { RUN(deprecate_eof_scenarios); }
static void test_infile(void) { RUN(infile_scenarios); }
static void test_stmt(void) { RUN(stmt_scenarios); }
static void test_commands(void) { RUN(command_scenarios); }
static void test_long_packets(void) { RUN(long_packet_scenarios); }
static void test_captured(void) { RUN(captured_scenarios); }

/* RESP_QUEUE commands in flight are answered in order; one more and the
 * machine stops reporting rather than attributing results to the wrong command. */
static void test_pipeline_limit(void)
{
    static const uint8_t ping[] = { COM_PING };
    static const uint8_t ok[] = { 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00 };
    struct resp_machine m;
    struct resp_event ev;
    resp_init(&m, EOF_CAPS);
    for (unsigned round = 0; round < 2; round++) {      /* the second round wraps the ring */
        for (unsigned i = 0; i < RESP_QUEUE; i++)
            CU_ASSERT_EQUAL(resp_client_packet(&m, ping, 1, 1), CP_COMMAND);
        CU_ASSERT_FALSE(m.overflow);
        for (unsigned i = 0; i < RESP_QUEUE; i++) {
            CU_ASSERT_EQUAL(resp_current_command(&m), COM_PING);
            resp_server_packet(&m, ok, sizeof(ok), sizeof(ok), &ev);
            CU_ASSERT_TRUE(ev.result && ev.ok && ev.final);
        }
        CU_ASSERT_EQUAL(resp_current_command(&m), NONE);
        /* a few in flight before the next round, so the ring's head moves */
        CU_ASSERT_EQUAL(resp_client_packet(&m, ping, 1, 1), CP_COMMAND);
        resp_server_packet(&m, ok, sizeof(ok), sizeof(ok), &ev);
        CU_ASSERT_TRUE(ev.final);
    }
    for (unsigned i = 0; i < RESP_QUEUE + 1; i++)
        CU_ASSERT_EQUAL(resp_client_packet(&m, ping, 1, 1), CP_COMMAND);
    CU_ASSERT_TRUE(m.overflow);
    resp_server_packet(&m, ok, sizeof(ok), sizeof(ok), &ev);
    CU_ASSERT_FALSE(ev.result);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("mysql_response", NULL, NULL);
    CU_add_test(s, "COM_QUERY results with EOF packets", test_eof);
    CU_add_test(s, "COM_QUERY results with CLIENT_DEPRECATE_EOF", test_deprecate_eof);
    CU_add_test(s, "LOAD DATA LOCAL INFILE", test_infile);
    CU_add_test(s, "prepared statements, cursors, no-reply commands", test_stmt);
    CU_add_test(s, "other commands, auth exchanges, binlog, pipelining", test_commands);
    CU_add_test(s, "16 MiB packets and the 0xFE ambiguity", test_long_packets);
    CU_add_test(s, "sessions captured from MariaDB 10.11", test_captured);
    CU_add_test(s, "pipeline limit", test_pipeline_limit);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
