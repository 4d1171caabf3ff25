/* fuzz_admin_parse.c - libFuzzer target for the admin protocol's text layer:
 * the input is a byte stream as a client would send it. Every line goes
 * through the same steps as in the daemon (framing, text check, HTTP
 * detection, tokenizer, command lookup, argument parsing), and the tokenizer
 * must agree with admin_join_words (join then split gives the same words).
 *
 * Build and run (not part of 'make check'):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c11 \
 *     -Iproxy tests/fuzz/fuzz_admin_parse.c proxy/admin_line.c -ljansson \
 *     -o fuzz_admin_parse
 *   ./fuzz_admin_parse -max_total_time=60 */
#include "admin_line.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *no_handler(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return NULL;
}

static const struct admin_command table[] = {
    { "help", 0, 0, "help", "", no_handler },
    { "leader", 1, 1, "leader GROUP", "", no_handler },
    { "fault add", 2, ADMIN_MAX_ARGS, "fault add TARGET ACTION [k=v ...]", "", no_handler },
    { "fault del", 1, 1, "fault del ID", "", no_handler },
    { "ddl list", 0, 2, "ddl list [active] [last=N]", "", no_handler },
};

static void check_roundtrip(int argc, char **argv)
{
    char *joined = admin_join_words(argc, argv);
    if (!joined)
        return;
    char *again[ADMIN_MAX_ARGS];
    char err[128];
    int n = admin_tokenize(joined, again, ADMIN_MAX_ARGS, err, sizeof(err));
    if (n != argc)
        abort();
    for (int i = 0; i < n; i++)
        if (strcmp(again[i], argv[i]) != 0)
            abort();
    free(joined);
}

static void one_line(const char *text, size_t len)
{
    if (admin_line_check_text(text, len) != NULL)
        return;

    char *line = malloc(len + 1);
    if (!line)
        return;
    memcpy(line, text, len);
    line[len] = '\0';

    char method[16], target[256];
    size_t token_len;
    (void)admin_http_request_line(line, method, sizeof(method), target, sizeof(target));
    const char *token = admin_http_bearer(line, &token_len);
    if (token && (token < line || token + token_len > line + len))
        abort();

    json_t *reply = admin_reply_error("unknown command '%.64s'", line);
    if (!reply)
        abort();
    json_decref(reply);

    char *argv[ADMIN_MAX_ARGS];
    char err[128];
    int argc = admin_tokenize(line, argv, ADMIN_MAX_ARGS, err, sizeof(err));
    if (argc > 0) {
        /* words are copies of line's bytes: still valid, NUL-free text */
        for (int i = 0; i < argc; i++)
            if (admin_line_check_text(argv[i], strlen(argv[i])) != NULL)
                abort();
        check_roundtrip(argc, argv);

        int words;
        char msg[512];
        (void)admin_command_find(table, sizeof(table) / sizeof(table[0]), argc, argv, &words,
                                 msg, sizeof(msg));
        bool active;
        int last;
        if (admin_parse_ddl_list_args(argc, argv, &active, &last, msg, sizeof(msg)) == 0
            && (last < 0 || last > 1000000))
            abort();
        uint64_t v;
        (void)admin_parse_u64(argv[0], UINT64_MAX, &v);
    }
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t off = 0;

    /* A small limit, so the fuzzer reaches the too-long path cheaply. */
    const size_t max = 512;
    while (off < size) {
        size_t line_len, consumed;
        enum admin_line_status st = admin_line_next(buf + off, size - off, max, &line_len, &consumed);
        if (st != ADMIN_LINE_OK)
            break;
        if (consumed == 0 || consumed > size - off || line_len > max)
            abort();
        one_line(buf + off, line_len);
        off += consumed;
    }
    return 0;
}
