/* test_mysql_packet.c - wire primitives: headers, length-encoded integers,
 * OK/EOF/ERR parsing and proxy-made ERR packets. Every input is copied into a
 * buffer of exactly its length, so an over-read shows up under ASan. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "mysql_packet.h"
#include "mysql_proto.h"

/* A heap copy of exactly len bytes (at least one byte is allocated). */
static uint8_t *exact_copy(const void *src, size_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    if (len)
        memcpy(p, src, len);
    return p;
}

/* a string literal and its length, NULs included */
#define S(lit) lit, sizeof(lit) - 1

/* ---- header ---- */

static void test_header(void)
{
    static const struct { uint32_t len; uint8_t seq; uint8_t wire[4]; } cases[] = {
        { 0, 0, { 0x00, 0x00, 0x00, 0x00 } },
        { 1, 1, { 0x01, 0x00, 0x00, 0x01 } },
        { 0x1234, 7, { 0x34, 0x12, 0x00, 0x07 } },
        { 0xabcdef, 255, { 0xef, 0xcd, 0xab, 0xff } },
        { MYSQL_MAX_PAYLOAD, 3, { 0xff, 0xff, 0xff, 0x03 } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t h[4];
        mysql_put_header(h, cases[i].len, cases[i].seq);
        CU_ASSERT_EQUAL(memcmp(h, cases[i].wire, 4), 0);
        CU_ASSERT_EQUAL(mysql_payload_len(cases[i].wire), cases[i].len);
    }
    uint8_t b[4];
    put_u16(b, 0xbeef);
    CU_ASSERT_EQUAL(get_u16(b), 0xbeef);
    put_u32(b, 0xdeadbeef);
    CU_ASSERT_EQUAL(get_u32(b), 0xdeadbeefu);
    CU_ASSERT_EQUAL(b[0], 0xef);
}

/* ---- length-encoded integers ---- */

static const struct lenenc_case {
    const char *bytes;
    size_t len;
    size_t used;                 /* 0: invalid */
    uint64_t value;
} lenenc_cases[] = {
    { S("\x00"), 1, 0 },
    { S("\x01"), 1, 1 },
    { S("\xfa"), 1, 250 },
    { S("\xfc\xfb\x00"), 3, 251 },
    { S("\xfc\x01\x00"), 3, 1 },                 /* non-minimal encodings are still read */
    { S("\xfc\xff\xff"), 3, 0xffff },
    { S("\xfd\x00\x00\x01"), 4, 0x10000 },
    { S("\xfd\xff\xff\xff"), 4, 0xffffff },
    { S("\xfe\x00\x00\x00\x01\x00\x00\x00\x00"), 9, 0x1000000 },
    { S("\xfe\x08\x07\x06\x05\x04\x03\x02\x01"), 9, 0x0102030405060708ull },
    { S("\xfe\xff\xff\xff\xff\xff\xff\xff\xff"), 9, UINT64_MAX },
    { S("\xfb"), 0, 0 },                         /* NULL marker, not a number */
    { S("\xff"), 0, 0 },                         /* ERR marker */
    { S("\xfb\x00\x00\x00\x00\x00\x00\x00\x00"), 0, 0 },
    { S("\xff\x00\x00\x00\x00\x00\x00\x00\x00"), 0, 0 },
};

static void test_lenenc(void)
{
    for (size_t i = 0; i < sizeof(lenenc_cases) / sizeof(lenenc_cases[0]); i++) {
        const struct lenenc_case *c = &lenenc_cases[i];
        uint8_t *p = exact_copy(c->bytes, c->len);
        uint64_t v = 12345;
        size_t used = mysql_lenenc_get(p, c->len, &v);
        if (used != c->used || (used && v != c->value))
            fprintf(stderr, "\nlenenc case %zu: used %zu value %llu\n", i, used, (unsigned long long)v);
        CU_ASSERT_EQUAL(used, c->used);
        if (c->used)
            CU_ASSERT_EQUAL(v, c->value);
        free(p);
    }
}

static void test_lenenc_truncated(void)
{
    /* every valid encoding cut short at every length is refused, reading only what is there */
    for (size_t i = 0; i < sizeof(lenenc_cases) / sizeof(lenenc_cases[0]); i++) {
        const struct lenenc_case *c = &lenenc_cases[i];
        for (size_t cut = 0; cut < c->used; cut++) {
            uint8_t *p = exact_copy(c->bytes, cut);
            uint64_t v = 0;
            CU_ASSERT_EQUAL(mysql_lenenc_get(p, cut, &v), 0);
            free(p);
        }
        /* trailing bytes after the integer are not consumed */
        if (c->used) {
            uint8_t buf[16];
            memcpy(buf, c->bytes, c->len);
            memset(buf + c->len, 0x77, sizeof(buf) - c->len);
            uint64_t v = 0;
            CU_ASSERT_EQUAL(mysql_lenenc_get(buf, sizeof(buf), &v), c->used);
            CU_ASSERT_EQUAL(v, c->value);
        }
    }
}

/* ---- OK / EOF ---- */

static const struct ok_case {
    const char *bytes;
    size_t len;
    int rc;
    uint64_t affected, insert_id;
    uint16_t status, warnings;
    size_t min_len;              /* shortest prefix that still parses */
} ok_cases[] = {
    { S("\x00\x00\x00\x02\x00\x00\x00"), 0, 0, 0, 0x0002, 0, 5 },
    { S("\x00\x03\x00\x22\x00\x01\x00"), 0, 3, 0, 0x0022, 1, 5 },
    /* MariaDB 10.11 answer to a LOAD DATA: status 0x0002, info text follows */
    { S("\x00\x02\x00\x01\x00\x00\x00/Records: 2  Deleted: 0"), 0, 2, 0, 0x0001, 0, 5 },
    /* large counters: 2-byte, 3-byte and 8-byte encodings */
    { S("\x00\xfc\x00\x01\xfd\x00\x00\x01\x08\x00\x05\x00"), 0, 256, 65536, 0x0008, 5, 10 },
    { S("\x00\xfe\x01\x00\x00\x00\x01\x00\x00\x00\x07\x02\x00\x00\x00"), 0,
      0x100000001ull, 7, 0x0002, 0, 13 },
    /* OK with the 0xfe header (CLIENT_DEPRECATE_EOF end of rows) */
    { S("\xfe\x00\x00\x0a\x00\x00\x00"), 0, 0, 0, 0x000a, 0, 5 },
    /* MariaDB session-track OK (SERVER_SESSION_STATE_CHANGED) */
    { S("\x00\x00\x00\x02\x40\x00\x00\x00\x08\x01\x06\x05mysql"), 0, 0, 0, 0x4002, 0, 5 },
    /* not OK packets */
    { S("\xff\x15\x04"), -1, 0, 0, 0, 0, 0 },
    { S("\x01\x00\x00\x02\x00"), -1, 0, 0, 0, 0, 0 },
    { S("\xfb\x00\x00\x02\x00"), -1, 0, 0, 0, 0, 0 },
    /* invalid length-encoded counters */
    { S("\x00\xfb\x00\x02\x00"), -1, 0, 0, 0, 0, 0 },
    { S("\x00\x00\xff\x02\x00"), -1, 0, 0, 0, 0, 0 },
};

static void test_parse_ok(void)
{
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const struct ok_case *c = &ok_cases[i];
        uint8_t *p = exact_copy(c->bytes, c->len);
        struct mysql_ok ok;
        int rc = mysql_parse_ok(p, c->len, &ok);
        if (rc != c->rc)
            fprintf(stderr, "\nok case %zu: rc %d\n", i, rc);
        CU_ASSERT_EQUAL(rc, c->rc);
        if (c->rc == 0) {
            CU_ASSERT_EQUAL(ok.affected_rows, c->affected);
            CU_ASSERT_EQUAL(ok.last_insert_id, c->insert_id);
            CU_ASSERT_EQUAL(ok.status, c->status);
            CU_ASSERT_EQUAL(ok.warnings, c->warnings);
        }
        free(p);
        /* every prefix: refused below the status field, never read past len */
        for (size_t cut = 0; c->rc == 0 && cut < c->len; cut++) {
            p = exact_copy(c->bytes, cut);
            rc = mysql_parse_ok(p, cut, &ok);
            CU_ASSERT_EQUAL(rc, cut >= c->min_len ? 0 : -1);
            if (rc == 0) {
                CU_ASSERT_EQUAL(ok.affected_rows, c->affected);
                CU_ASSERT_EQUAL(ok.status, c->status);
            }
            free(p);
        }
    }
}

static void test_parse_eof(void)
{
    struct mysql_ok ok;
    uint8_t *p = exact_copy("\xfe\x01\x00\x0a\x00", 5);
    CU_ASSERT_EQUAL(mysql_parse_eof(p, 5, &ok), 0);
    CU_ASSERT_EQUAL(ok.warnings, 1);
    CU_ASSERT_EQUAL(ok.status, SERVER_MORE_RESULTS_EXISTS | SERVER_STATUS_AUTOCOMMIT);
    for (size_t cut = 1; cut < 5; cut++) {
        /* a short EOF (pre-4.1 servers send just 0xfe) is an EOF without status */
        CU_ASSERT_EQUAL(mysql_parse_eof(p, cut, &ok), 0);
        CU_ASSERT_EQUAL(ok.status, 0);
        CU_ASSERT_EQUAL(ok.warnings, 0);
    }
    CU_ASSERT_EQUAL(mysql_parse_eof(p, 0, &ok), -1);
    free(p);

    p = exact_copy("\xfe\x00\x00\x42\x00", 5);
    CU_ASSERT_EQUAL(mysql_parse_eof(p, 5, &ok), 0);
    CU_ASSERT_EQUAL(ok.status, SERVER_STATUS_CURSOR_EXISTS | SERVER_STATUS_AUTOCOMMIT);
    free(p);

    p = exact_copy("\x00\x00\x00\x02\x00", 5);
    CU_ASSERT_EQUAL(mysql_parse_eof(p, 5, &ok), -1);
    free(p);
}

/* ---- ERR ---- */

static void test_parse_err(void)
{
    static const struct {
        const char *bytes;
        size_t len;
        int rc;
        uint16_t code;
        const char *sqlstate, *message;
    } cases[] = {
        /* captured from MariaDB 10.11 */
        { S("\xff\x7a\x04#42S02Table 'fz.nonexistent' doesn't exist"), 0, 1146, "42S02",
          "Table 'fz.nonexistent' doesn't exist" },
        /* no '#': a pre-4.1 style ERR, as servers send before the handshake */
        { S("\xff\x10\x04Too many connections"), 0, 1040, "HY000", "Too many connections" },
        /* code only */
        { S("\xff\x15\x04"), 0, 1045, "HY000", "" },
        /* sqlstate without message */
        { S("\xff\x15\x04#28000"), 0, 1045, "28000", "" },
        /* too short for a sqlstate: the bytes are message text */
        { S("\xff\x15\x04#2800"), 0, 1045, "HY000", "#2800" },
        /* MariaDB progress report (code 0xffff): parses, callers must not treat it as an error */
        { S("\xff\xff\xff\x01\x02\x02\x00\x00\x00\x0f" "End bulk insert"), 0, 0xffff, "HY000",
          "\x01\x02\x02" },
        { S(""), -1, 0, NULL, NULL },
        { S("\xff"), -1, 0, NULL, NULL },
        { S("\xff\x15"), -1, 0, NULL, NULL },
        { S("\x00\x15\x04#28000x"), -1, 0, NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *p = exact_copy(cases[i].bytes, cases[i].len);
        struct mysql_err e;
        int rc = mysql_parse_err(p, cases[i].len, &e);
        if (rc != cases[i].rc)
            fprintf(stderr, "\nerr case %zu: rc %d\n", i, rc);
        CU_ASSERT_EQUAL(rc, cases[i].rc);
        if (cases[i].rc == 0) {
            CU_ASSERT_EQUAL(e.code, cases[i].code);
            CU_ASSERT_STRING_EQUAL(e.sqlstate, cases[i].sqlstate);
            CU_ASSERT_STRING_EQUAL(e.message, cases[i].message);
        }
        free(p);
    }
}

static void test_parse_err_long_message(void)
{
    /* a message longer than the struct holds is cut, NUL-terminated, nothing overflows */
    size_t mlen = 3000;
    size_t len = 9 + mlen;
    uint8_t *p = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    memcpy(p, "\xff\x28\x04#HY000", 9);
    for (size_t i = 0; i < mlen; i++)
        p[9 + i] = (uint8_t)('a' + i % 26);
    struct mysql_err e;
    CU_ASSERT_EQUAL(mysql_parse_err(p, len, &e), 0);
    CU_ASSERT_EQUAL(e.code, 1064);
    CU_ASSERT_EQUAL(strlen(e.message), sizeof(e.message) - 1);
    CU_ASSERT_EQUAL(memcmp(e.message, p + 9, sizeof(e.message) - 1), 0);
    /* exactly as long as fits */
    CU_ASSERT_EQUAL(mysql_parse_err(p, 9 + sizeof(e.message) - 1, &e), 0);
    CU_ASSERT_EQUAL(strlen(e.message), sizeof(e.message) - 1);
    free(p);
}

static void test_build_err_round_trip(void)
{
    static const struct {
        uint8_t seq;
        uint16_t code;
        const char *sqlstate, *message;
    } cases[] = {
        { 1, DDLP_ER_BACKEND_UNREACHABLE, "08001", "backend 127.0.0.1:4001 is unreachable: Connection refused" },
        { 0, ER_CON_COUNT_ERROR, "08004", "Too many connections" },
        { 2, ER_SECURE_TRANSPORT, NULL, "" },
        { 255, 0xffff, "XY123", "x" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[600];
        size_t n = mysql_build_err(out, sizeof(out), cases[i].seq, cases[i].code, cases[i].sqlstate,
                                   cases[i].message);
        size_t mlen = strlen(cases[i].message);
        CU_ASSERT_EQUAL(n, 4 + 9 + mlen);
        CU_ASSERT_EQUAL(mysql_payload_len(out), n - 4);
        CU_ASSERT_EQUAL(out[3], cases[i].seq);
        uint8_t *p = exact_copy(out + 4, n - 4);
        struct mysql_err e;
        CU_ASSERT_EQUAL(mysql_parse_err(p, n - 4, &e), 0);
        CU_ASSERT_EQUAL(e.code, cases[i].code);
        CU_ASSERT_STRING_EQUAL(e.sqlstate, cases[i].sqlstate ? cases[i].sqlstate : "HY000");
        CU_ASSERT_STRING_EQUAL(e.message, cases[i].message);
        free(p);
    }
}

static void test_build_err_small_buffer(void)
{
    const char *msg = "a message that does not fit";
    uint8_t out[64];
    for (size_t outlen = 0; outlen <= sizeof(out); outlen++) {
        memset(out, 0xee, sizeof(out));
        size_t n = mysql_build_err(out, outlen, 1, 2013, "HY000", msg);
        if (outlen < 13) {
            CU_ASSERT_EQUAL(n, 0);
            continue;
        }
        size_t want_m = strlen(msg) < outlen - 13 ? strlen(msg) : outlen - 13;
        CU_ASSERT_EQUAL(n, 13 + want_m);
        CU_ASSERT(n <= outlen);
        /* nothing written past the packet */
        for (size_t k = n; k < sizeof(out); k++)
            CU_ASSERT_EQUAL(out[k], 0xee);
        struct mysql_err e;
        CU_ASSERT_EQUAL(mysql_parse_err(out + 4, n - 4, &e), 0);
        CU_ASSERT_EQUAL(e.code, 2013);
        CU_ASSERT_EQUAL(strlen(e.message), want_m);
        CU_ASSERT_EQUAL(strncmp(e.message, msg, want_m), 0);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("mysql_packet", NULL, NULL);
    CU_add_test(s, "header and little-endian helpers", test_header);
    CU_add_test(s, "lenenc: 1/3/4/9-byte encodings, 0xfb/0xff invalid", test_lenenc);
    CU_add_test(s, "lenenc: truncated at every length", test_lenenc_truncated);
    CU_add_test(s, "OK packets and every prefix", test_parse_ok);
    CU_add_test(s, "EOF packets", test_parse_eof);
    CU_add_test(s, "ERR packets with and without sqlstate", test_parse_err);
    CU_add_test(s, "ERR message longer than the buffer", test_parse_err_long_message);
    CU_add_test(s, "mysql_build_err round trip", test_build_err_round_trip);
    CU_add_test(s, "mysql_build_err into small buffers", test_build_err_small_buffer);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
