/* fuzz_ddl_classify.c - libFuzzer target for the DDL classifier and the redactor.
 *
 * Checks, for any input:
 *  - ddl_classify() terminates, its spans lie inside the text, in order, without overlap,
 *    indexes count 0, 1, 2, ... and every field is a valid string;
 *  - ddl_maybe() is true whenever a statement is classified as anything but STMT_OTHER;
 *  - sql_redact() returns a string;
 *  - a password placed after IDENTIFIED BY, followed by the input, never survives
 *    redaction (whatever the input does to the quoting after it).
 * Build: clang -g -O1 -fsanitize=fuzzer,address,undefined -Iproxy \
 *            tests/fuzz/fuzz_ddl_classify.c proxy/ddl_classify.c -o fuzz_ddl_classify */

#include "ddl_classify.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "Zq7SeCrEt"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "property violated: %s\n", what);
        abort();
    }
}

static size_t count_occurrences(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = 0, nlen = strlen(needle);
    for (size_t i = 0; i + nlen <= hay_len; i++)
        if (memcmp(hay + i, needle, nlen) == 0)
            n++;
    return n;
}

static void check_statements(const char *text, size_t len)
{
    struct ddl_stmt *st = NULL;
    int n = ddl_classify(text, len, "fuzzdb", &st);
    if (n < 0)
        return;   /* ENOMEM */
    size_t prev_end = 0;
    int tracked = 0;
    for (int i = 0; i < n; i++) {
        check(st[i].index == (unsigned)i, "index sequence");
        check(st[i].offset >= prev_end, "spans in order, no overlap");
        check(st[i].offset + st[i].length <= len, "span inside the text");
        check(st[i].length > 0, "non-empty span");
        prev_end = st[i].offset + st[i].length;
        check(st[i].redacted != NULL, "redacted text");
        check(st[i].kind != NULL, "kind");
        check(memchr(st[i].db, '\0', sizeof st[i].db) != NULL, "db terminated");
        check(memchr(st[i].table, '\0', sizeof st[i].table) != NULL, "table terminated");
        check(memchr(st[i].object, '\0', sizeof st[i].object) != NULL, "object terminated");
        check(st[i].cls == STMT_DDL || st[i].n_specs == 0, "specs only on ALTER TABLE DDL");
        if (st[i].cls != STMT_OTHER)
            tracked = 1;
    }
    check(!tracked || ddl_maybe(text, len), "ddl_maybe missed a tracked statement");
    ddl_stmts_free(st, n);
}

static void check_secret_hidden(const char *prefix, const uint8_t *data, size_t size)
{
    size_t plen = strlen(prefix);
    char *buf = malloc(plen + size);
    if (!buf)
        return;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, data, size);
    size_t len = plen + size;
    size_t in_input = count_occurrences((const char *)data, size, SECRET);

    char *r = sql_redact(buf, len);
    if (r) {
        check(count_occurrences(r, strlen(r), SECRET) <= in_input, "secret leaked by sql_redact");
        free(r);
    }
    struct ddl_stmt *st = NULL;
    int n = ddl_classify(buf, len, NULL, &st);
    if (n > 0) {
        check(st[0].cls == STMT_ACCOUNT, "CREATE USER is an account statement");
        check(count_occurrences(st[0].redacted, strlen(st[0].redacted), SECRET) <= in_input,
              "secret leaked by ddl_classify");
    }
    ddl_stmts_free(st, n);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    check_statements(text, size);
    (void)ddl_maybe(text, size);
    char *r = sql_redact(text, size);
    check(r != NULL, "sql_redact result");
    free(r);

    check_secret_hidden("CREATE USER u IDENTIFIED BY '" SECRET, data, size);
    check_secret_hidden("CREATE USER u IDENTIFIED BY '" SECRET "'", data, size);
    check_secret_hidden("CREATE USER u IDENTIFIED WITH p AS " SECRET, data, size);
    return 0;
}
