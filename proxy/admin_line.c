/* admin_line.c - line framing, text checks, tokenizer and argument parsing
 * for the admin protocol (see admin_line.h). No sockets, no global state. */
#include "admin_line.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum admin_line_status admin_line_next(const char *buf, size_t len, size_t max,
                                       size_t *line_len, size_t *consumed)
{
    /* Look one byte past the limit so "max bytes + \r\n" is still found. */
    size_t scan = len < max + 2 ? len : max + 2;
    const char *nl = memchr(buf, '\n', scan);

    if (!nl)
        return len > max + 1 ? ADMIN_LINE_TOO_LONG : ADMIN_LINE_NEED_MORE;

    size_t n = (size_t)(nl - buf);
    size_t text = n;
    if (text > 0 && buf[text - 1] == '\r')
        text--;
    if (text > max)
        return ADMIN_LINE_TOO_LONG;
    *line_len = text;
    *consumed = n + 1;
    return ADMIN_LINE_OK;
}

/* Length of the UTF-8 sequence starting at s (at most avail bytes), or 0 if
 * it is not well-formed (overlong forms, surrogates and > U+10FFFF rejected). */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail)
{
    unsigned char c = s[0];
    size_t n;
    unsigned int cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
        return 0;
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp > 0x10FFFF)
        return 0;
    return n;
}

const char *admin_line_check_text(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        if (p[i] == 0)
            return "line contains a NUL byte (binary data is not a command)";
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7F)
            return "line contains control characters (binary data is not a command)";
        size_t n = utf8_sequence_length(p + i, len - i);
        if (n == 0)
            return "line is not valid UTF-8";
        i += n;
    }
    return NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int admin_tokenize(char *line, char **argv, int max_args, char *err, size_t errlen)
{
    char *in = line;
    int argc = 0;

    for (;;) {
        while (is_blank(*in))
            in++;
        if (*in == '\0')
            return argc;
        if (argc >= max_args) {
            snprintf(err, errlen, "too many words (at most %d)", max_args);
            return -1;
        }

        /* Unquoting only ever shortens the text, so the word is written in
         * place right behind the read position. */
        char *out = in;
        argv[argc++] = out;
        while (*in != '\0' && !is_blank(*in)) {
            if (*in == '\'') {
                char *close = strchr(in + 1, '\'');
                if (!close) {
                    snprintf(err, errlen, "unterminated ' quote");
                    return -1;
                }
                size_t n = (size_t)(close - in - 1);
                memmove(out, in + 1, n);
                out += n;
                in = close + 1;
            } else if (*in == '"') {
                in++;
                while (*in != '"') {
                    if (*in == '\0') {
                        snprintf(err, errlen, "unterminated \" quote");
                        return -1;
                    }
                    if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
                        in++;
                    *out++ = *in++;
                }
                in++;
            } else {
                *out++ = *in++;
            }
        }
        bool at_end = *in == '\0';
        *out = '\0';
        if (at_end)
            return argc;
        in++;    /* past the blank that ended the word (it may have been overwritten by the NUL) */
    }
}

static bool word_needs_quotes(const char *w)
{
    if (*w == '\0')
        return true;
    for (const char *p = w; *p; p++) {
        if (is_blank(*p) || *p == '"' || *p == '\'' || *p == '\\')
            return true;
    }
    return false;
}

char *admin_join_words(int argc, char *const *argv)
{
    size_t size = 1;
    for (int i = 0; i < argc; i++)
        size += 2 * strlen(argv[i]) + 3;    /* worst case: every byte escaped, two quotes, a blank */

    char *line = malloc(size);
    if (!line)
        return NULL;
    char *out = line;
    for (int i = 0; i < argc; i++) {
        if (i > 0)
            *out++ = ' ';
        if (!word_needs_quotes(argv[i])) {
            size_t n = strlen(argv[i]);
            memcpy(out, argv[i], n);
            out += n;
            continue;
        }
        *out++ = '"';
        for (const char *p = argv[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *out++ = '\\';
            *out++ = *p;
        }
        *out++ = '"';
    }
    *out = '\0';
    return line;
}

int admin_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;

    if (*s == '\0')
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned digit = (unsigned)(*p - '0');
        if (v > (max - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

int admin_parse_ddl_list_args(int argc, char *const *argv, bool *active_only, int *last,
                              char *err, size_t errlen)
{
    bool seen_active = false, seen_last = false;

    *active_only = false;
    *last = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "active") == 0 && !seen_active) {
            seen_active = true;
            *active_only = true;
        } else if (strncmp(argv[i], "last=", 5) == 0 && !seen_last) {
            uint64_t n;
            if (admin_parse_u64(argv[i] + 5, 1000000, &n) != 0 || n == 0) {
                snprintf(err, errlen, "last=N needs a whole number from 1 to 1000000, not '%.64s'",
                         argv[i] + 5);
                return -1;
            }
            seen_last = true;
            *last = (int)n;
        } else {
            snprintf(err, errlen, "unexpected argument '%.64s' (usage: ddl list [active] [last=N])",
                     argv[i]);
            return -1;
        }
    }
    return 0;
}

/* The first word of a command name, and its length. */
static size_t first_word_length(const char *name)
{
    const char *sp = strchr(name, ' ');
    return sp ? (size_t)(sp - name) : strlen(name);
}

static bool first_word_is(const char *name, const char *word)
{
    size_t n = first_word_length(name);
    return strlen(word) == n && strncmp(name, word, n) == 0;
}

static const struct admin_command *check_arg_count(const struct admin_command *cmd, int nargs,
                                                   char *err, size_t errlen)
{
    if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
        snprintf(err, errlen, "usage: %s", cmd->usage);
        return NULL;
    }
    return cmd;
}

const struct admin_command *admin_command_find(const struct admin_command *table, size_t n,
                                               int argc, char *const *argv, int *name_words,
                                               char *err, size_t errlen)
{
    bool group_known = false;

    for (size_t i = 0; i < n; i++) {
        if (!first_word_is(table[i].name, argv[0]))
            continue;
        group_known = true;
        if (table[i].name[first_word_length(table[i].name)] == '\0') {
            *name_words = 1;
            return check_arg_count(&table[i], argc - 1, err, errlen);
        }
        if (argc >= 2 && strcmp(table[i].name + first_word_length(table[i].name) + 1, argv[1]) == 0) {
            *name_words = 2;
            return check_arg_count(&table[i], argc - 2, err, errlen);
        }
    }
    if (!group_known) {
        snprintf(err, errlen, "unknown command '%.64s' (try 'help')", argv[0]);
        return NULL;
    }

    /* A known group word with a missing or unknown subcommand: list the valid ones. */
    char subs[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        if (!first_word_is(table[i].name, argv[0]))
            continue;
        int w = snprintf(subs + used, sizeof(subs) - used, "%s%s", used ? ", " : "",
                         table[i].name + first_word_length(table[i].name) + 1);
        if (w < 0 || (size_t)w >= sizeof(subs) - used)
            break;
        used += (size_t)w;
    }
    if (argc < 2)
        snprintf(err, errlen, "'%s' needs a subcommand: %s (try 'help')", argv[0], subs);
    else
        snprintf(err, errlen, "unknown command '%.64s %.64s' ('%s' takes: %s)",
                 argv[0], argv[1], argv[0], subs);
    return NULL;
}

json_t *admin_reply_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* json_string refuses invalid UTF-8, and a quoted word cut with %.64s
     * (or by the buffer size) may end mid-character: replace what is broken. */
    size_t len = strlen(msg);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_sequence_length((unsigned char *)msg + i, len - i);
        if (n == 0) {
            msg[i] = '?';
            n = 1;
        }
        i += n;
    }
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

json_t *admin_reply_ok(const char *key, json_t *value)
{
    if (!key)
        return json_pack("{s:b}", "ok", 1);
    if (!value)
        return admin_reply_error("internal error: no value for '%s'", key);
    return json_pack("{s:b, s:o}", "ok", 1, key, value);
}

bool admin_http_request_line(const char *line, char *method, size_t method_size,
                             char *target, size_t target_size)
{
    const char *p = line;
    const char *m = p;

    while (*p >= 'A' && *p <= 'Z')
        p++;
    size_t mlen = (size_t)(p - m);
    if (mlen == 0 || *p != ' ')
        return false;
    const char *t = ++p;
    while (*p && *p != ' ')
        p++;
    size_t tlen = (size_t)(p - t);
    if (tlen == 0 || *p != ' ')
        return false;
    p++;
    if (strncmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != '\0')
        return false;

    snprintf(method, method_size, "%.*s", (int)mlen, m);
    snprintf(target, target_size, "%.*s", (int)tlen, t);
    return true;
}

const char *admin_http_bearer(const char *line, size_t *token_len)
{
    static const char header[] = "authorization:";
    if (strncasecmp(line, header, sizeof(header) - 1) != 0)
        return NULL;
    const char *p = line + sizeof(header) - 1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return NULL;
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n == 0)
        return NULL;
    *token_len = n;
    return p;
}

int admin_default_socket_path(char *buf, size_t size)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    int n;

    if (runtime && *runtime)
        n = snprintf(buf, size, "%s/ddlproxy/admin.sock", runtime);
    else
        n = snprintf(buf, size, "/run/ddlproxy/admin.sock");
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}
