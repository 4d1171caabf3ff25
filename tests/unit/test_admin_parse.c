/* test_admin_parse.c - the admin protocol's text layer: line framing, text
 * checks, tokenizer, word joining, argument parsing, command lookup, HTTP
 * request detection. */
#include "admin_line.h"

#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

/* ---- admin_line_next ---- */

static void test_line_next_basic(void)
{
    size_t len, used;
    const char buf[] = "stats\nversion\r\npartial";

    CU_ASSERT_EQUAL(admin_line_next(buf, strlen(buf), 64, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 5);
    CU_ASSERT_EQUAL(used, 6);
    CU_ASSERT_EQUAL(admin_line_next(buf + 6, strlen(buf + 6), 64, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 7);         /* the \r is not part of the text */
    CU_ASSERT_EQUAL(used, 9);
    CU_ASSERT_EQUAL(admin_line_next(buf + 15, strlen(buf + 15), 64, &len, &used), ADMIN_LINE_NEED_MORE);
    CU_ASSERT_EQUAL(admin_line_next("", 0, 64, &len, &used), ADMIN_LINE_NEED_MORE);
    CU_ASSERT_EQUAL(admin_line_next("\n", 1, 64, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(used, 1);
    CU_ASSERT_EQUAL(admin_line_next("\r\n", 2, 64, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 0);
    CU_ASSERT_EQUAL(used, 2);
}

static void test_line_next_limits(void)
{
    enum { MAX = 8 };
    size_t len, used;

    CU_ASSERT_EQUAL(admin_line_next("12345678\n", 9, MAX, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 8);
    CU_ASSERT_EQUAL(admin_line_next("12345678\r\n", 10, MAX, &len, &used), ADMIN_LINE_OK);
    CU_ASSERT_EQUAL(len, 8);
    CU_ASSERT_EQUAL(used, 10);
    CU_ASSERT_EQUAL(admin_line_next("123456789\n", 10, MAX, &len, &used), ADMIN_LINE_TOO_LONG);
    /* max bytes then \r: the \n may still come */
    CU_ASSERT_EQUAL(admin_line_next("12345678\r", 9, MAX, &len, &used), ADMIN_LINE_NEED_MORE);
    /* no newline long past the limit */
    CU_ASSERT_EQUAL(admin_line_next("1234567890abc", 13, MAX, &len, &used), ADMIN_LINE_TOO_LONG);
    /* a newline far away does not rescue an overlong line */
    CU_ASSERT_EQUAL(admin_line_next("1234567890abc\n", 14, MAX, &len, &used), ADMIN_LINE_TOO_LONG);
}

/* ---- admin_line_check_text ---- */

static void test_check_text(void)
{
    static const struct {
        const char *s;
        size_t len;
        int ok;
    } cases[] = {
        { "fault add pd1 delay ms=10", 25, 1 },
        { "tab\tseparated", 13, 1 },
        { "caf\xc3\xa9", 5, 1 },                    /* é */
        { "\xe4\xb8\xad", 3, 1 },                   /* 中 */
        { "\xf0\x9f\x98\x80", 4, 1 },               /* emoji */
        { "a\0b", 3, 0 },                           /* NUL */
        { "a\x01", 2, 0 },                          /* control character */
        { "a\x7f", 2, 0 },                          /* DEL */
        { "a\rb", 3, 0 },                           /* stray CR */
        { "\xc0\x80", 2, 0 },                       /* overlong NUL */
        { "\xe0\x80\xaf", 3, 0 },                   /* overlong '/' */
        { "\xed\xa0\x80", 3, 0 },                   /* surrogate */
        { "\xf4\x90\x80\x80", 4, 0 },               /* above U+10FFFF */
        { "\xf5\x80\x80\x80", 4, 0 },
        { "\xc3", 1, 0 },                           /* truncated */
        { "\xe4\xb8", 2, 0 },
        { "\x80", 1, 0 },                           /* lone continuation */
        { "\xff", 1, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *msg = admin_line_check_text(cases[i].s, cases[i].len);
        CU_ASSERT_EQUAL(msg == NULL, cases[i].ok);
    }
    CU_ASSERT_PTR_NULL(admin_line_check_text("", 0));
}

/* ---- admin_tokenize ---- */

/* Tokenizes a copy of line and compares with the expected words (NULL-terminated). */
static void expect_words(const char *line, const char *const *want)
{
    char buf[512];
    char *argv[16];
    char err[128];
    int n = 0;

    while (want[n])
        n++;
    snprintf(buf, sizeof(buf), "%s", line);
    int argc = admin_tokenize(buf, argv, 16, err, sizeof(err));
    CU_ASSERT_EQUAL(argc, n);
    if (argc != n)
        return;
    for (int i = 0; i < n; i++)
        CU_ASSERT_STRING_EQUAL(argv[i], want[i]);
}

static void expect_tokenize_error(const char *line, int max_args, const char *needle)
{
    char buf[512];
    char *argv[16];
    char err[128] = "";

    snprintf(buf, sizeof(buf), "%s", line);
    CU_ASSERT_EQUAL(admin_tokenize(buf, argv, max_args, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void test_tokenize(void)
{
    expect_words("fault list", (const char *const[]){ "fault", "list", NULL });
    expect_words("  fault \t add   pd1  ", (const char *const[]){ "fault", "add", "pd1", NULL });
    expect_words("", (const char *const[]){ NULL });
    expect_words("   \t ", (const char *const[]){ NULL });
    expect_words("a \"b c\" d", (const char *const[]){ "a", "b c", "d", NULL });
    expect_words("a 'b \"c\"' d", (const char *const[]){ "a", "b \"c\"", "d", NULL });
    expect_words("name=\"my fault\" x", (const char *const[]){ "name=my fault", "x", NULL });
    expect_words("\"a\"'b'c", (const char *const[]){ "abc", NULL });
    expect_words("\"\" ''", (const char *const[]){ "", "", NULL });
    expect_words("\"say \\\"hi\\\"\"", (const char *const[]){ "say \"hi\"", NULL });
    expect_words("\"back\\\\slash\"", (const char *const[]){ "back\\slash", NULL });
    /* backslash outside double quotes, or before other characters, is literal */
    expect_words("a\\b \"c\\d\"", (const char *const[]){ "a\\b", "c\\d", NULL });
    expect_words("'it''s'", (const char *const[]){ "its", NULL });
    expect_words("caf\xc3\xa9 \"\xe4\xb8\xad \xe6\x96\x87\"", (const char *const[]){ "caf\xc3\xa9", "\xe4\xb8\xad \xe6\x96\x87", NULL });

    expect_tokenize_error("a \"b c", 16, "unterminated \"");
    expect_tokenize_error("a 'b c", 16, "unterminated '");
    expect_tokenize_error("a \"b\\\"", 16, "unterminated \"");
    expect_tokenize_error("a b c d", 3, "too many words");
}

static void test_tokenize_exact_max(void)
{
    char buf[] = "a b c";
    char *argv[3];
    char err[64];
    CU_ASSERT_EQUAL(admin_tokenize(buf, argv, 3, err, sizeof(err)), 3);
    CU_ASSERT_STRING_EQUAL(argv[2], "c");
}

/* ---- admin_join_words: what tokenize splits back into the same words ---- */

static void check_roundtrip(int argc, char *const *words)
{
    char *line = admin_join_words(argc, words);
    char *argv[16];
    char err[128];

    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    int n = admin_tokenize(line, argv, 16, err, sizeof(err));
    CU_ASSERT_EQUAL(n, argc);
    for (int i = 0; i < argc && i < n; i++)
        CU_ASSERT_STRING_EQUAL(argv[i], words[i]);
    free(line);
}

static void test_join_roundtrip(void)
{
    char *plain[] = { "fault", "add", "pd1", "delay", "ms=100" };
    char *spaced[] = { "fault", "add", "all", "stall", "name=my fault" };
    char *quotes[] = { "a\"b", "it's", "back\\slash", "\\\"", "" };
    char *blanks[] = { " ", "\t", "a\tb", "trailing\\" };

    check_roundtrip(5, plain);
    check_roundtrip(5, spaced);
    check_roundtrip(5, quotes);
    check_roundtrip(4, blanks);
    check_roundtrip(0, plain);

    char *line = admin_join_words(5, plain);
    CU_ASSERT_STRING_EQUAL(line, "fault add pd1 delay ms=100");   /* no needless quotes */
    free(line);
    line = admin_join_words(2, (char *[]){ "x", "a b" });
    CU_ASSERT_STRING_EQUAL(line, "x \"a b\"");
    free(line);
}

/* ---- numbers and 'ddl list' arguments ---- */

static void test_parse_u64(void)
{
    uint64_t v = 99;

    CU_ASSERT_EQUAL(admin_parse_u64("0", 10, &v), 0);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(admin_parse_u64("42", 100, &v), 0);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(admin_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
    CU_ASSERT_EQUAL(v, UINT64_MAX);
    CU_ASSERT_EQUAL(admin_parse_u64("18446744073709551616", UINT64_MAX, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("101", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("100", 100, &v), 0);
    CU_ASSERT_EQUAL(admin_parse_u64("", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("-1", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("+1", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64(" 1", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("1x", 100, &v), -1);
    CU_ASSERT_EQUAL(admin_parse_u64("0x10", 100, &v), -1);
}

static void test_ddl_list_args(void)
{
    bool active;
    int last;
    char err[256];

    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(0, NULL, &active, &last, err, sizeof(err)), 0);
    CU_ASSERT_FALSE(active);
    CU_ASSERT_EQUAL(last, 0);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "active" }, &active, &last, err, sizeof(err)), 0);
    CU_ASSERT_TRUE(active);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(2, (char *[]){ "last=5", "active" }, &active, &last, err,
                                              sizeof(err)), 0);
    CU_ASSERT_TRUE(active);
    CU_ASSERT_EQUAL(last, 5);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "last=1000000" }, &active, &last, err,
                                              sizeof(err)), 0);
    CU_ASSERT_FALSE(active);
    CU_ASSERT_EQUAL(last, 1000000);

    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "last=0" }, &active, &last, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "last=N"));
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "last=" }, &active, &last, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "last=-3" }, &active, &last, err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "last=1000001" }, &active, &last, err,
                                              sizeof(err)), -1);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(2, (char *[]){ "active", "active" }, &active, &last, err,
                                              sizeof(err)), -1);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(2, (char *[]){ "last=1", "last=2" }, &active, &last, err,
                                              sizeof(err)), -1);
    CU_ASSERT_EQUAL(admin_parse_ddl_list_args(1, (char *[]){ "all" }, &active, &last, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'all'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "usage: ddl list"));
}

/* ---- command table lookup ---- */

static json_t *handler_a(int argc, char **argv) { return NULL; }
static json_t *handler_b(int argc, char **argv) { return NULL; }

static const struct admin_command test_table[] = {
    { "help", 0, 0, "help", "", handler_a },
    { "leader", 1, 1, "leader GROUP", "", handler_a },
    { "fault add", 2, -1, "fault add TARGET ACTION [k=v ...]", "", handler_b },
    { "fault list", 0, 0, "fault list", "", handler_a },
    { "fault clear", 0, 1, "fault clear [TARGET]", "", handler_a },
};
#define TEST_TABLE_N (sizeof(test_table) / sizeof(test_table[0]))

static const struct admin_command *find(int argc, char **argv, int *words, char *err, size_t errlen)
{
    return admin_command_find(test_table, TEST_TABLE_N, argc, argv, words, err, errlen);
}

static void test_command_find(void)
{
    int words = 0;
    char err[256];
    const struct admin_command *c;

    c = find(1, (char *[]){ "help" }, &words, err, sizeof(err));
    CU_ASSERT_PTR_EQUAL(c, &test_table[0]);
    CU_ASSERT_EQUAL(words, 1);

    c = find(2, (char *[]){ "leader", "pd" }, &words, err, sizeof(err));
    CU_ASSERT_PTR_EQUAL(c, &test_table[1]);

    c = find(6, (char *[]){ "fault", "add", "pd1", "delay", "ms=1", "x=y" }, &words, err, sizeof(err));
    CU_ASSERT_PTR_EQUAL(c, &test_table[2]);
    CU_ASSERT_EQUAL(words, 2);

    c = find(3, (char *[]){ "fault", "clear", "pd1" }, &words, err, sizeof(err));
    CU_ASSERT_PTR_EQUAL(c, &test_table[4]);
    c = find(2, (char *[]){ "fault", "clear" }, &words, err, sizeof(err));
    CU_ASSERT_PTR_EQUAL(c, &test_table[4]);
}

static void test_command_find_errors(void)
{
    int words;
    char err[256];

    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "x" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "unknown command 'x' (try 'help')");

    CU_ASSERT_PTR_NULL(find(2, (char *[]){ "help", "me" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "usage: help");
    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "leader" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "usage: leader GROUP");
    CU_ASSERT_PTR_NULL(find(3, (char *[]){ "fault", "add", "pd1" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "usage: fault add TARGET ACTION [k=v ...]");
    CU_ASSERT_PTR_NULL(find(4, (char *[]){ "fault", "clear", "a", "b" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "usage: fault clear [TARGET]");

    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "fault" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "'fault' needs a subcommand: add, list, clear (try 'help')");
    CU_ASSERT_PTR_NULL(find(2, (char *[]){ "fault", "nuke" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "unknown command 'fault nuke' ('fault' takes: add, list, clear)");

    /* a one-word command is not found by a prefix, nor a group by its subcommand */
    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "hel" }, &words, err, sizeof(err)));
    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "add" }, &words, err, sizeof(err)));
    CU_ASSERT_PTR_NULL(find(1, (char *[]){ "faul" }, &words, err, sizeof(err)));
    CU_ASSERT_STRING_EQUAL(err, "unknown command 'faul' (try 'help')");
}

/* ---- replies ---- */

static void test_replies(void)
{
    json_t *r = admin_reply_error("unknown command '%s'", "x");
    CU_ASSERT_TRUE(json_is_false(json_object_get(r, "ok")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "error")), "unknown command 'x'");
    json_decref(r);

    /* a message cut in the middle of a UTF-8 character still makes a reply */
    r = admin_reply_error("%.1s", "\xc3\xa9");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "error")), "?");
    json_decref(r);

    r = admin_reply_ok("removed", json_integer(3));
    CU_ASSERT_TRUE(json_is_true(json_object_get(r, "ok")));
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "removed")), 3);
    json_decref(r);

    r = admin_reply_ok(NULL, NULL);
    CU_ASSERT_EQUAL(json_object_size(r), 1);
    json_decref(r);

    r = admin_reply_ok("stats", NULL);     /* a module that returned nothing */
    CU_ASSERT_TRUE(json_is_false(json_object_get(r, "ok")));
    json_decref(r);
}

/* ---- HTTP ---- */

static void test_http_request_line(void)
{
    char m[16], t[64];

    CU_ASSERT_TRUE(admin_http_request_line("GET /metrics HTTP/1.1", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_STRING_EQUAL(m, "GET");
    CU_ASSERT_STRING_EQUAL(t, "/metrics");
    CU_ASSERT_TRUE(admin_http_request_line("POST /x?y=1 HTTP/1.0", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_STRING_EQUAL(m, "POST");
    CU_ASSERT_STRING_EQUAL(t, "/x?y=1");

    CU_ASSERT_FALSE(admin_http_request_line("GET /metrics", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("GET /metrics HTTP/2", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("get /metrics HTTP/1.1", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("GET  /metrics HTTP/1.1", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("GET /metrics HTTP/1.1 x", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("fault list", m, sizeof(m), t, sizeof(t)));
    CU_ASSERT_FALSE(admin_http_request_line("", m, sizeof(m), t, sizeof(t)));
}

static void test_http_bearer(void)
{
    size_t n = 0;
    const char *tok;

    tok = admin_http_bearer("Authorization: Bearer s3cret", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_EQUAL(n, 6);
    CU_ASSERT_NSTRING_EQUAL(tok, "s3cret", n);
    tok = admin_http_bearer("authorization:bearer   abc  ", &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok);
    CU_ASSERT_EQUAL(n, 3);

    CU_ASSERT_PTR_NULL(admin_http_bearer("Authorization: Basic YWxhZGRpbg==", &n));
    CU_ASSERT_PTR_NULL(admin_http_bearer("Authorization: Bearer", &n));
    CU_ASSERT_PTR_NULL(admin_http_bearer("Authorization: Bearer   ", &n));
    CU_ASSERT_PTR_NULL(admin_http_bearer("Authorization: Bearerabc", &n));
    CU_ASSERT_PTR_NULL(admin_http_bearer("X-Authorization: Bearer abc", &n));
    CU_ASSERT_PTR_NULL(admin_http_bearer("Host: localhost", &n));
}

static void test_default_socket_path(void)
{
    char buf[256];
    char tiny[8];

    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    CU_ASSERT_EQUAL(admin_default_socket_path(buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "/run/user/1000/ddlproxy/admin.sock");
    CU_ASSERT_EQUAL(admin_default_socket_path(tiny, sizeof(tiny)), -1);
    setenv("XDG_RUNTIME_DIR", "", 1);
    CU_ASSERT_EQUAL(admin_default_socket_path(buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "/run/ddlproxy/admin.sock");
    unsetenv("XDG_RUNTIME_DIR");
    CU_ASSERT_EQUAL(admin_default_socket_path(buf, sizeof(buf)), 0);
    CU_ASSERT_STRING_EQUAL(buf, "/run/ddlproxy/admin.sock");
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("admin_parse", NULL, NULL);
    CU_add_test(s, "line_next basic", test_line_next_basic);
    CU_add_test(s, "line_next limits", test_line_next_limits);
    CU_add_test(s, "check_text", test_check_text);
    CU_add_test(s, "tokenize", test_tokenize);
    CU_add_test(s, "tokenize exact max", test_tokenize_exact_max);
    CU_add_test(s, "join roundtrip", test_join_roundtrip);
    CU_add_test(s, "parse_u64", test_parse_u64);
    CU_add_test(s, "ddl list args", test_ddl_list_args);
    CU_add_test(s, "command find", test_command_find);
    CU_add_test(s, "command find errors", test_command_find_errors);
    CU_add_test(s, "replies", test_replies);
    CU_add_test(s, "http request line", test_http_request_line);
    CU_add_test(s, "http bearer", test_http_bearer);
    CU_add_test(s, "default socket path", test_default_socket_path);

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
