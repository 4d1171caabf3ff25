/* admin_line.h - the admin protocol's text layer: finding lines in a byte
 * stream, checking them, splitting them into words (with quotes), parsing
 * command arguments, and finding a command in a {name, args, usage} table.
 * Pure functions, no sockets: shared by the daemon (admin.c), the command
 * handlers (admin_commands.c) and ddlproxyctl, and unit-tested on their own. */
#ifndef DDLP_ADMIN_LINE_H
#define DDLP_ADMIN_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define ADMIN_MAX_LINE   (64 * 1024)   /* bytes per command line, without the newline */
#define ADMIN_MAX_ARGS   64            /* words per command line */

enum admin_line_status {
    ADMIN_LINE_OK = 0,       /* a complete line was found */
    ADMIN_LINE_NEED_MORE,    /* no newline yet; keep reading */
    ADMIN_LINE_TOO_LONG,     /* no newline within the limit: the stream cannot be resynchronised */
};

/* Looks for the first line in buf[0..len). On ADMIN_LINE_OK, *line_len is
 * the length of the text (without "\n" or "\r\n") and *consumed the bytes to
 * drop from the buffer (including the newline). A line longer than max bytes
 * is ADMIN_LINE_TOO_LONG whether or not its newline has arrived. */
enum admin_line_status admin_line_next(const char *buf, size_t len, size_t max,
                                       size_t *line_len, size_t *consumed);

/* NULL if s[0..len) is valid UTF-8 with no NUL byte and no other control
 * character than tab; else a static message saying what is wrong. */
const char *admin_line_check_text(const char *s, size_t len);

/* Splits a NUL-terminated line into words, in place: words are separated by
 * blanks; "double quotes" (with \" and \\ escapes) and 'single quotes'
 * (literal) group blanks into a word and may touch other text (name="a b").
 * Returns the word count (0 for a blank line), or -1 with a message in err
 * (unterminated quote, more than max_args words). */
int admin_tokenize(char *line, char **argv, int max_args, char *err, size_t errlen);

/* Joins words into one command line that admin_tokenize splits back into the
 * same words (words with blanks, quotes, backslashes or nothing are quoted).
 * Returns a malloc'd string, or NULL when out of memory. */
char *admin_join_words(int argc, char *const *argv);

/* Strict unsigned decimal: digits only, no sign, no blanks, value <= max. */
int admin_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* 'ddl list' arguments: [active] [last=N] in any order, each at most once.
 * last defaults to 0 (the registry's own default). */
int admin_parse_ddl_list_args(int argc, char *const *argv, bool *active_only, int *last,
                              char *err, size_t errlen);

/* A command table row. name may be two words ("fault add"); min_args and
 * max_args count the words after the name (max_args -1: no limit). */
typedef json_t *(*admin_handler_fn)(int argc, char **argv);

struct admin_command {
    const char *name;
    int min_args;
    int max_args;
    const char *usage;
    const char *help;
    admin_handler_fn handler;
};

/* Finds the row for argv (argc >= 1) and checks its argument count.
 * On success returns the row and sets *name_words (1 or 2). On failure
 * returns NULL with a message ready to send: unknown command, unknown
 * subcommand (listing the valid ones), or "usage: ...". */
const struct admin_command *admin_command_find(const struct admin_command *table, size_t n,
                                               int argc, char *const *argv, int *name_words,
                                               char *err, size_t errlen);

/* {"ok":false,"error":"..."} */
json_t *admin_reply_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* {"ok":true}, or {"ok":true, key: value} when key is not NULL (steals value). */
json_t *admin_reply_ok(const char *key, json_t *value);

/* Recognises an HTTP request line ("GET /metrics HTTP/1.1"). Returns true
 * and copies the method and the target (truncated to their sizes) if line
 * has the shape METHOD SP TARGET SP HTTP/1.x. */
bool admin_http_request_line(const char *line, char *method, size_t method_size,
                             char *target, size_t target_size);

/* For an "Authorization: Bearer TOKEN" header line returns a pointer to
 * TOKEN (inside line) and its length; NULL for any other header line. */
const char *admin_http_bearer(const char *line, size_t *token_len);

/* The admin socket path used when [admin] socket is not set:
 * $XDG_RUNTIME_DIR/ddlproxy/admin.sock, else /run/ddlproxy/admin.sock.
 * Returns -1 if it does not fit in buf. */
int admin_default_socket_path(char *buf, size_t size);

#endif
