/* ddl_classify.c - split query text into statements, classify DDL, redact secrets.
 *
 * Three layers, bottom up:
 *   lexer      tokens of MySQL text: comments skipped, executable comments
 *              (slash-star-bang, MariaDB's M-bang, TiDB's T-bang) opened
 *              so their content is lexed as SQL, strings with both escape
 *              styles, backtick identifiers.
 *   splitter   statements separated by ';' (compound bodies of CREATE
 *              PROCEDURE/FUNCTION/TRIGGER/EVENT keep their inner ';').
 *   classifier first keywords of a statement -> class, kind, target.
 * Redaction is a token filter over the same lexer, so what the classifier
 * sees as a string is exactly what gets masked. */

#include "ddl_classify.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ kinds */

#define KIND_LIST(X) \
    X(K_NONE, "") \
    X(K_USE, "use") \
    X(K_ACCOUNT, "account") \
    X(K_ADMIN_DDL, "admin ddl") \
    X(K_CREATE_TEMPORARY_TABLE, "create temporary table") \
    X(K_DROP_TEMPORARY_TABLE, "drop temporary table") \
    X(K_CREATE_TABLE, "create table") \
    X(K_CREATE_TABLE_LIKE, "create table like") \
    X(K_CREATE_TABLE_SELECT, "create table select") \
    X(K_DROP_TABLE, "drop table") \
    X(K_TRUNCATE_TABLE, "truncate table") \
    X(K_RENAME_TABLE, "rename table") \
    X(K_CREATE_DATABASE, "create database") \
    X(K_ALTER_DATABASE, "alter database") \
    X(K_DROP_DATABASE, "drop database") \
    X(K_CREATE_INDEX, "create index") \
    X(K_CREATE_VIEW, "create view") \
    X(K_ALTER_VIEW, "alter view") \
    X(K_DROP_VIEW, "drop view") \
    X(K_CREATE_SEQUENCE, "create sequence") \
    X(K_ALTER_SEQUENCE, "alter sequence") \
    X(K_DROP_SEQUENCE, "drop sequence") \
    X(K_CREATE_PLACEMENT_POLICY, "create placement policy") \
    X(K_ALTER_PLACEMENT_POLICY, "alter placement policy") \
    X(K_DROP_PLACEMENT_POLICY, "drop placement policy") \
    X(K_CREATE_RESOURCE_GROUP, "create resource group") \
    X(K_ALTER_RESOURCE_GROUP, "alter resource group") \
    X(K_DROP_RESOURCE_GROUP, "drop resource group") \
    X(K_FLASHBACK, "flashback") \
    X(K_RECOVER_TABLE, "recover table") \
    X(K_ALTER_TABLE, "alter table") \
    X(K_MULTI_SCHEMA_CHANGE, "alter table multi-schema change") \
    X(K_ADD_COLUMN, "add column") \
    X(K_DROP_COLUMN, "drop column") \
    X(K_MODIFY_COLUMN, "modify column") \
    X(K_CHANGE_COLUMN, "change column") \
    X(K_RENAME_COLUMN, "rename column") \
    X(K_SET_DEFAULT_VALUE, "set default value") \
    X(K_ALTER_COLUMN, "alter column") \
    X(K_ADD_INDEX, "add index") \
    X(K_ADD_PRIMARY_KEY, "add primary key") \
    X(K_DROP_INDEX, "drop index") \
    X(K_DROP_PRIMARY_KEY, "drop primary key") \
    X(K_RENAME_INDEX, "rename index") \
    X(K_ALTER_INDEX_VISIBILITY, "alter index visibility") \
    X(K_ADD_FOREIGN_KEY, "add foreign key") \
    X(K_DROP_FOREIGN_KEY, "drop foreign key") \
    X(K_ADD_CHECK_CONSTRAINT, "add check constraint") \
    X(K_DROP_CHECK_CONSTRAINT, "drop check constraint") \
    X(K_ALTER_CHECK_CONSTRAINT, "alter check constraint") \
    X(K_DROP_CONSTRAINT, "drop constraint") \
    X(K_ADD_PARTITION, "add partition") \
    X(K_DROP_PARTITION, "drop partition") \
    X(K_TRUNCATE_PARTITION, "truncate partition") \
    X(K_REORGANIZE_PARTITION, "reorganize partition") \
    X(K_EXCHANGE_PARTITION, "exchange partition") \
    X(K_COALESCE_PARTITION, "coalesce partition") \
    X(K_ALTER_TABLE_PARTITION, "alter table partition") \
    X(K_ALTER_TABLE_PARTITIONING, "alter table partitioning") \
    X(K_REMOVE_PARTITIONING, "remove partitioning") \
    X(K_ALTER_TABLE_OPTIONS, "alter table options") \
    X(K_ALTER_TABLE_CACHE, "alter table cache") \
    X(K_ALTER_TABLE_NOCACHE, "alter table nocache") \
    X(K_ALTER_TABLE_PLACEMENT, "alter table placement") \
    X(K_ALTER_TABLE_TTL, "alter table ttl") \
    X(K_REMOVE_TTL, "remove ttl") \
    X(K_SET_TIFLASH_REPLICA, "set tiflash replica")

enum kind_id {
#define KIND_ENUM(id, name) id,
    KIND_LIST(KIND_ENUM)
#undef KIND_ENUM
    K_COUNT,
    K_COMPACT /* ALTER TABLE ... COMPACT: TiFlash maintenance, runs no DDL job */
};

static const char *const kind_names[K_COUNT] = {
#define KIND_NAME(id, name) [id] = name,
    KIND_LIST(KIND_NAME)
#undef KIND_NAME
};

size_t ddl_kind_count(void)
{
    return K_COUNT;
}

const char *ddl_kind_at(size_t i)
{
    return i < K_COUNT ? kind_names[i] : NULL;
}

const char *stmt_class_name(enum stmt_class cls)
{
    switch (cls) {
    case STMT_DDL: return "ddl";
    case STMT_ACCOUNT: return "account";
    case STMT_ADMIN_DDL: return "admin ddl";
    case STMT_USE: return "use";
    case STMT_OTHER: break;
    }
    return "other";
}

/* ------------------------------------------------------------------ lexer */

#define NO_POS SIZE_MAX

enum tok_type { TOK_EOF = 0, TOK_WORD, TOK_STRING, TOK_DQUOTE, TOK_BACKTICK, TOK_PUNCT };

struct token {
    enum tok_type type;
    size_t start, end;   /* byte span in the text */
    size_t exec_open;    /* start of the executable comment holding the token, or NO_POS */
};

struct lexer {
    const char *s;
    size_t len;            /* lexing stops here (a statement's ';' or the text's end) */
    size_t pos;
    size_t exec_open;      /* start of the open executable comment, or NO_POS */
    size_t exec_closed_at; /* end of the last star-slash that closed one */
};

static void lexer_init(struct lexer *lx, const char *s, size_t len)
{
    lx->s = s;
    lx->len = len;
    lx->pos = 0;
    lx->exec_open = NO_POS;
    lx->exec_closed_at = NO_POS;
}

static bool is_word_byte(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
        || ch == '_' || ch == '$' || ch >= 0x80;
}

static bool is_space_byte(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static size_t skip_to_eol(const struct lexer *lx, size_t p)
{
    const char *nl = memchr(lx->s + p, '\n', lx->len - p);
    return nl ? (size_t)(nl - lx->s) + 1 : lx->len;
}

/* Past the version of an executable comment: 5 digits (MySQL), 6 (MySQL 8.0.34+, MariaDB). */
static size_t skip_version(const struct lexer *lx, size_t p)
{
    size_t n = 0;
    while (p + n < lx->len && lx->s[p + n] >= '0' && lx->s[p + n] <= '9')
        n++;
    if (n == 6)
        return p + 6;
    return n >= 5 ? p + 5 : p;
}

/* Handles a slash-star at lx->pos: opens an executable comment or skips a plain one. */
static void lex_comment(struct lexer *lx)
{
    size_t p = lx->pos + 2;
    const char *s = lx->s;
    size_t body = NO_POS;

    if (p < lx->len && s[p] == '!') {
        body = skip_version(lx, p + 1);
    } else if (p + 1 < lx->len && s[p] == 'M' && s[p + 1] == '!') {
        body = skip_version(lx, p + 2);
    } else if (p + 1 < lx->len && s[p] == 'T' && s[p + 1] == '!') {
        body = p + 2;
        if (body < lx->len && s[body] == '[') {
            /* TiDB feature list: T-bang[feature,...]; stop at the comment's end if unclosed */
            size_t q = body + 1;
            while (q < lx->len && s[q] != ']' && !(s[q] == '*' && q + 1 < lx->len && s[q + 1] == '/'))
                q++;
            body = (q < lx->len && s[q] == ']') ? q + 1 : q;
        }
    }
    if (body != NO_POS) {
        if (lx->exec_open == NO_POS)
            lx->exec_open = lx->pos;
        lx->pos = body;
        return;
    }
    /* Plain comment (hints included); unterminated runs to the end, as in MySQL. */
    for (; p + 1 < lx->len; p++) {
        if (s[p] == '*' && s[p + 1] == '/') {
            lx->pos = p + 2;
            return;
        }
    }
    lx->pos = lx->len;
}

static size_t lex_quoted(const struct lexer *lx, size_t p, char quote)
{
    /* p is just past the opening quote. Unterminated: the token runs to the end. */
    while (p < lx->len) {
        char ch = lx->s[p];
        if (ch == '\\' && quote != '`') {
            p += 2;
            continue;
        }
        if (ch == quote) {
            if (p + 1 < lx->len && lx->s[p + 1] == quote) {
                p += 2;
                continue;
            }
            return p + 1;
        }
        p++;
    }
    return lx->len;
}

/* Next token, or false at the end. Comments and whitespace are skipped. */
static bool lex_next(struct lexer *lx, struct token *t)
{
    const char *s = lx->s;

    for (;;) {
        while (lx->pos < lx->len && is_space_byte((unsigned char)s[lx->pos]))
            lx->pos++;
        if (lx->pos >= lx->len) {
            t->type = TOK_EOF;
            t->start = t->end = lx->len;
            t->exec_open = lx->exec_open;
            return false;
        }
        size_t p = lx->pos;
        char ch = s[p];
        char next = p + 1 < lx->len ? s[p + 1] : '\0';
        if (ch == '#') {
            lx->pos = skip_to_eol(lx, p);
            continue;
        }
        /* "--" is a comment only when followed by whitespace/control or the end:
         * "1--1" is 1 minus minus 1. */
        if (ch == '-' && next == '-'
            && (p + 2 >= lx->len || (unsigned char)s[p + 2] <= 0x20 || s[p + 2] == 0x7f)) {
            lx->pos = skip_to_eol(lx, p);
            continue;
        }
        if (ch == '/' && next == '*') {
            lex_comment(lx);
            continue;
        }
        if (ch == '*' && next == '/' && lx->exec_open != NO_POS) {
            lx->exec_open = NO_POS;
            lx->pos = p + 2;
            lx->exec_closed_at = lx->pos;
            continue;
        }

        t->start = p;
        t->exec_open = lx->exec_open;
        if (ch == '\'' || ch == '"' || ch == '`') {
            t->type = ch == '\'' ? TOK_STRING : ch == '"' ? TOK_DQUOTE : TOK_BACKTICK;
            t->end = lex_quoted(lx, p + 1, ch);
        } else if (is_word_byte((unsigned char)ch)) {
            size_t q = p + 1;
            while (q < lx->len && is_word_byte((unsigned char)s[q]))
                q++;
            t->type = TOK_WORD;
            t->end = q;
        } else {
            t->type = TOK_PUNCT;
            t->end = p + 1;
        }
        if (t->end > lx->len)
            t->end = lx->len;
        lx->pos = t->end;
        return true;
    }
}

/* ASCII-only case folding: keywords must not depend on the locale. */
static bool ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'a' && x <= 'z')
            x = (unsigned char)(x - 'a' + 'A');
        if (y >= 'a' && y <= 'z')
            y = (unsigned char)(y - 'a' + 'A');
        if (x != y)
            return false;
    }
    return true;
}

static bool tok_kw(const char *s, const struct token *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->type == TOK_WORD && t->end - t->start == n && ascii_ieq(s + t->start, kw, n);
}

static bool tok_punct(const char *s, const struct token *t, char ch)
{
    return t->type == TOK_PUNCT && s[t->start] == ch;
}

static bool tok_kw_any(const char *s, const struct token *t, const char *const *kws)
{
    for (; *kws; kws++)
        if (tok_kw(s, t, *kws))
            return true;
    return false;
}

/* ----------------------------------------------------------------- cursor */

struct cursor {
    struct lexer lx;   /* positioned after cur */
    struct token cur;  /* TOK_EOF at the statement's end */
};

static void cur_advance(struct cursor *c)
{
    lex_next(&c->lx, &c->cur);
}

static void cur_init(struct cursor *c, const struct lexer *at)
{
    c->lx = *at;
    cur_advance(c);
}

static struct token cur_peek(const struct cursor *c)
{
    struct lexer copy = c->lx;
    struct token t;
    lex_next(&copy, &t);
    return t;
}

static bool at_kw(const struct cursor *c, const char *kw)
{
    return tok_kw(c->lx.s, &c->cur, kw);
}

static bool at_punct(const struct cursor *c, char ch)
{
    return tok_punct(c->lx.s, &c->cur, ch);
}

static bool accept_kw(struct cursor *c, const char *kw)
{
    if (!at_kw(c, kw))
        return false;
    cur_advance(c);
    return true;
}

static bool accept_punct(struct cursor *c, char ch)
{
    if (!at_punct(c, ch))
        return false;
    cur_advance(c);
    return true;
}

static bool peek_kw(const struct cursor *c, const char *kw)
{
    struct token t = cur_peek(c);
    return tok_kw(c->lx.s, &t, kw);
}

static void skip_if_exists(struct cursor *c)
{
    if (at_kw(c, "IF") && (peek_kw(c, "EXISTS") || peek_kw(c, "NOT"))) {
        cur_advance(c);
        accept_kw(c, "NOT");
        accept_kw(c, "EXISTS");
    }
}

/* Length of p[0..n) without a trailing, incomplete UTF-8 sequence (left by truncation). */
static size_t utf8_whole_prefix(const char *p, size_t n)
{
    size_t i = n, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)p[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0)
        return n;
    unsigned char lead = (unsigned char)p[i - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    return need > 1 && cont + 1 < need ? i - 1 : n;
}

/* Copies at most cap-1 bytes, cutting at a UTF-8 character boundary. */
static void copy_name(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = utf8_whole_prefix(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static bool is_ident_token(const struct token *t)
{
    return t->type == TOK_WORD || t->type == TOK_BACKTICK || t->type == TOK_DQUOTE;
}

/* Unquoted text of an identifier token: `a``b` -> a`b, "a""b" -> a"b. */
static void decode_ident(const char *s, const struct token *t, char *out, size_t cap)
{
    if (t->type == TOK_WORD) {
        copy_name(out, cap, s + t->start, t->end - t->start);
        return;
    }
    char quote = s[t->start];
    size_t p = t->start + 1;
    size_t end = t->end;
    if (end > p && s[end - 1] == quote && end - 1 > t->start)
        end--;   /* closing quote (absent when unterminated) */
    size_t n = 0;
    while (p < end && n + 1 < cap) {
        if (s[p] == quote && p + 1 < end && s[p + 1] == quote)
            p++;
        out[n++] = s[p++];
    }
    if (p < end)
        n = utf8_whole_prefix(out, n);   /* truncated */
    out[n] = '\0';
}

static bool cur_ident(struct cursor *c, char *out, size_t cap)
{
    if (!is_ident_token(&c->cur))
        return false;
    decode_ident(c->lx.s, &c->cur, out, cap);
    cur_advance(c);
    return true;
}

/* [db.]name; an unqualified name takes the session's default database. */
static bool cur_qualified_name(struct cursor *c, const char *default_db, char *db, char *table)
{
    char first[DDL_NAME_MAX];
    if (!cur_ident(c, first, sizeof first))
        return false;
    if (at_punct(c, '.')) {
        struct token t = cur_peek(c);
        if (is_ident_token(&t)) {
            cur_advance(c);
            strcpy(db, first);
            cur_ident(c, table, DDL_NAME_MAX);
            return true;
        }
    }
    copy_name(db, DDL_NAME_MAX, default_db ? default_db : "", default_db ? strlen(default_db) : 0);
    strcpy(table, first);
    return true;
}

/* user, 'user'@'host', user@host.name, CURRENT_USER[()] */
static void skip_user(struct cursor *c)
{
    if (accept_kw(c, "CURRENT_USER")) {
        if (accept_punct(c, '('))
            accept_punct(c, ')');
        return;
    }
    if (c->cur.type == TOK_EOF)
        return;
    cur_advance(c);
    if (accept_punct(c, '@')) {
        if (c->cur.type != TOK_EOF && c->cur.type != TOK_PUNCT)
            cur_advance(c);
        while ((at_punct(c, '.') || at_punct(c, '%')) && cur_peek(c).type == TOK_WORD) {
            cur_advance(c);
            cur_advance(c);
        }
    }
}

/* Skips to the next ',' at parenthesis depth 0 (left on it) or to the end. */
static void skip_to_comma(struct cursor *c)
{
    int depth = 0;
    for (; c->cur.type != TOK_EOF; cur_advance(c)) {
        if (at_punct(c, '('))
            depth++;
        else if (at_punct(c, ')') && depth > 0)
            depth--;
        else if (at_punct(c, ',') && depth == 0)
            return;
    }
}

/* ----------------------------------------------------------- statements */

struct stmt_span {
    struct lexer start;    /* lexer state before the first token, limited to the statement */
    size_t offset, end;    /* reported span */
};

/* CREATE [OR REPLACE] [DEFINER=u] [AGGREGATE] PROCEDURE|FUNCTION|TRIGGER|EVENT|PACKAGE,
 * ALTER [DEFINER=u] EVENT, MariaDB's BEGIN NOT ATOMIC: bodies whose ';' do not end the
 * statement. */
static bool stmt_has_compound_body(const struct lexer *at)
{
    static const char *const bodies[] = {
        "PROCEDURE", "FUNCTION", "TRIGGER", "EVENT", "PACKAGE", NULL
    };
    struct cursor c;
    cur_init(&c, at);
    if (accept_kw(&c, "BEGIN"))
        return accept_kw(&c, "NOT") && at_kw(&c, "ATOMIC");
    bool create = accept_kw(&c, "CREATE");
    if (!create && !accept_kw(&c, "ALTER"))
        return false;
    if (create && accept_kw(&c, "OR"))
        accept_kw(&c, "REPLACE");
    if (accept_kw(&c, "DEFINER")) {
        accept_punct(&c, '=');
        skip_user(&c);
    }
    accept_kw(&c, "AGGREGATE");
    return create ? tok_kw_any(c.lx.s, &c.cur, bodies) : at_kw(&c, "EVENT");
}

/* Block nesting inside a compound body: BEGIN and CASE open, END closes; END IF/LOOP/
 * WHILE/REPEAT close blocks that were never counted. */
static int block_depth_step(const struct lexer *after, const struct token *t, int depth)
{
    static const char *const loops[] = { "IF", "LOOP", "WHILE", "REPEAT", NULL };
    const char *s = after->s;
    if (tok_kw(s, t, "BEGIN") || tok_kw(s, t, "CASE"))
        return depth + 1;
    if (tok_kw(s, t, "END")) {
        struct lexer copy = *after;
        struct token next;
        lex_next(&copy, &next);
        if (!tok_kw_any(s, &next, loops) && depth > 0)
            return depth - 1;
    }
    return depth;
}

/* Finds the next non-empty statement; false at the end of the text. */
static bool stmt_next(struct lexer *lx, struct stmt_span *sp)
{
    const char *s = lx->s;
    struct token first, last, t;
    struct lexer before;

    do {
        before = *lx;
        if (!lex_next(lx, &first))
            return false;
    } while (tok_punct(s, &first, ';'));

    bool compound = stmt_has_compound_body(&before);
    int depth = compound ? block_depth_step(lx, &first, 0) : 0;
    size_t stop = lx->len;
    bool closed_exec = false;
    last = first;
    while (lex_next(lx, &t)) {
        if (tok_punct(s, &t, ';') && depth == 0) {
            stop = t.start;
            closed_exec = t.exec_open != last.exec_open;
            break;
        }
        if (compound)
            depth = block_depth_step(lx, &t, depth);
        last = t;
    }
    if (t.type == TOK_EOF)
        closed_exec = lx->exec_open == NO_POS;

    sp->start = before;
    sp->start.len = stop;
    sp->offset = first.start;
    sp->end = last.end;
    /* Executable comments opened within the statement are reported whole, so the text
     * stays balanced: the bang-comment around "ALTER ...", or a trailing T-bang GLOBAL. */
    if (first.exec_open != NO_POS && first.exec_open >= before.pos)
        sp->offset = first.exec_open;
    if (last.exec_open != NO_POS && last.exec_open >= sp->offset && closed_exec
        && lx->exec_closed_at != NO_POS && lx->exec_closed_at <= stop)
        sp->end = lx->exec_closed_at;
    return true;
}

/* ------------------------------------------------------------- classify */

struct classify_ctx {
    struct cursor c;
    const char *default_db;
    struct ddl_stmt *out;
};

static void set_kind(struct ddl_stmt *out, enum stmt_class cls, enum kind_id kind)
{
    out->cls = cls;
    out->kind = kind_names[kind];
}

/* PLACEMENT POLICY name / RESOURCE GROUP name after CREATE, ALTER or DROP
 * (TiDB); false if neither follows. */
static bool placement_or_resource(struct cursor *c, struct ddl_stmt *out,
                                  enum kind_id policy_kind, enum kind_id group_kind)
{
    enum kind_id kind;
    if (at_kw(c, "PLACEMENT") && peek_kw(c, "POLICY"))
        kind = policy_kind;
    else if (at_kw(c, "RESOURCE") && peek_kw(c, "GROUP"))
        kind = group_kind;
    else
        return false;
    cur_advance(c);
    cur_advance(c);
    set_kind(out, STMT_DDL, kind);
    skip_if_exists(c);
    cur_ident(c, out->object, sizeof out->object);
    return true;
}

static void set_default_db(struct classify_ctx *x)
{
    const char *db = x->default_db ? x->default_db : "";
    copy_name(x->out->db, sizeof x->out->db, db, strlen(db));
}

static void target_name(struct classify_ctx *x)
{
    cur_qualified_name(&x->c, x->default_db, x->out->db, x->out->table);
}

static void database_name(struct classify_ctx *x)
{
    cur_ident(&x->c, x->out->db, sizeof x->out->db);
}

static bool is_number_token(const char *s, const struct token *t)
{
    if (t->type != TOK_WORD)
        return false;
    for (size_t i = t->start; i < t->end; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* n[, m ...] -> out->job_ids */
static void job_id_list(struct classify_ctx *x)
{
    struct ddl_stmt *out = x->out;
    const char *s = x->c.lx.s;
    while (is_number_token(s, &x->c.cur)) {
        if (out->n_job_ids < DDL_MAX_JOB_IDS) {
            long long v = 0;
            for (size_t i = x->c.cur.start; i < x->c.cur.end && v < (LLONG_MAX - 9) / 10; i++)
                v = v * 10 + (s[i] - '0');
            out->job_ids[out->n_job_ids] = v;
        }
        out->n_job_ids++;
        cur_advance(&x->c);
        if (!accept_punct(&x->c, ','))
            break;
    }
}

/* ---- CREATE */

static bool query_follows(const struct cursor *c)
{
    struct token t = cur_peek(c);
    return tok_kw(c->lx.s, &t, "SELECT") || tok_kw(c->lx.s, &t, "WITH") || tok_punct(c->lx.s, &t, '(');
}

/* After CREATE TABLE name: plain, LIKE, or filled from a query. */
static enum kind_id create_table_variant(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    if (accept_kw(c, "LIKE") || (at_punct(c, '(') && peek_kw(c, "LIKE"))) {
        if (accept_punct(c, '('))
            accept_kw(c, "LIKE");
        cur_ident(c, x->out->object, sizeof x->out->object);
        if (accept_punct(c, '.'))
            cur_ident(c, x->out->object, sizeof x->out->object);
        return K_CREATE_TABLE_LIKE;
    }
    int depth = 0;
    for (; c->cur.type != TOK_EOF; cur_advance(c)) {
        if (at_punct(c, '(')) {
            if (depth == 0 && query_follows(c))
                return K_CREATE_TABLE_SELECT;
            depth++;
        } else if (at_punct(c, ')')) {
            if (depth > 0)
                depth--;
        } else if (depth == 0) {
            if (at_kw(c, "SELECT") || at_kw(c, "AS")
                || (at_kw(c, "WITH") && !peek_kw(c, "SYSTEM")))
                return K_CREATE_TABLE_SELECT;
        }
    }
    return K_CREATE_TABLE;
}

static void classify_create(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    bool temporary = false, global = false;

    /* modifiers before the object keyword, in any order */
    for (;;) {
        if (accept_kw(c, "OR")) {
            accept_kw(c, "REPLACE");
        } else if (at_kw(c, "ALGORITHM") || at_kw(c, "DEFINER")) {
            bool definer = at_kw(c, "DEFINER");
            cur_advance(c);
            accept_punct(c, '=');
            if (definer)
                skip_user(c);
            else if (c->cur.type == TOK_WORD)
                cur_advance(c);
        } else if (at_kw(c, "SQL") && peek_kw(c, "SECURITY")) {
            cur_advance(c);
            cur_advance(c);
            if (c->cur.type == TOK_WORD)
                cur_advance(c);
        } else if (accept_kw(c, "TEMPORARY")) {
            temporary = true;
        } else if (at_kw(c, "GLOBAL") && peek_kw(c, "TEMPORARY")) {
            cur_advance(c);
            global = true;
        } else if (accept_kw(c, "ONLINE") || accept_kw(c, "OFFLINE")) {
            continue;
        } else {
            break;
        }
    }

    if (accept_kw(c, "TABLE")) {
        skip_if_exists(c);
        target_name(x);
        if (temporary && !global) {
            /* session-local: TiDB runs no DDL job, MySQL takes no metadata lock for others */
            set_kind(out, STMT_OTHER, K_CREATE_TEMPORARY_TABLE);
            return;
        }
        set_kind(out, STMT_DDL, create_table_variant(x));
        return;
    }
    bool index_type = accept_kw(c, "UNIQUE") || accept_kw(c, "FULLTEXT") || accept_kw(c, "SPATIAL");
    if (!index_type && (at_kw(c, "VECTOR") || at_kw(c, "COLUMNAR")) && peek_kw(c, "INDEX"))
        cur_advance(c);
    if (accept_kw(c, "INDEX") || (index_type && accept_kw(c, "KEY"))) {
        set_kind(out, STMT_DDL, K_CREATE_INDEX);
        skip_if_exists(c);
        cur_ident(c, out->object, sizeof out->object);
        while (c->cur.type != TOK_EOF && !at_kw(c, "ON") && !at_punct(c, '('))
            cur_advance(c);   /* USING BTREE / TYPE HASH */
        if (accept_kw(c, "ON"))
            target_name(x);
        return;
    }
    if (index_type)
        return;
    if (accept_kw(c, "DATABASE") || accept_kw(c, "SCHEMA")) {
        set_kind(out, STMT_DDL, K_CREATE_DATABASE);
        skip_if_exists(c);
        database_name(x);
    } else if (accept_kw(c, "VIEW")) {
        set_kind(out, STMT_DDL, K_CREATE_VIEW);
        skip_if_exists(c);
        target_name(x);
    } else if (accept_kw(c, "SEQUENCE")) {
        if (temporary)
            return;   /* MariaDB's session-local sequence */
        set_kind(out, STMT_DDL, K_CREATE_SEQUENCE);
        skip_if_exists(c);
        target_name(x);
    } else if (placement_or_resource(c, out, K_CREATE_PLACEMENT_POLICY, K_CREATE_RESOURCE_GROUP)) {
        return;
    } else if (at_kw(c, "USER") || at_kw(c, "ROLE")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    }
}

/* ---- ALTER TABLE specs */

static const char *const table_option_words[] = {
    "ENGINE", "AUTO_INCREMENT", "AUTO_ID_CACHE", "AUTO_RANDOM_BASE", "AVG_ROW_LENGTH",
    "CHARSET", "CHARACTER", "CHECKSUM", "TABLE_CHECKSUM", "PAGE_CHECKSUM", "COLLATE",
    "COMMENT", "COMPRESSION", "CONNECTION", "DATA", "DEFAULT", "DELAY_KEY_WRITE",
    "ENCRYPTION", "INSERT_METHOD", "KEY_BLOCK_SIZE", "MAX_ROWS", "MIN_ROWS", "PACK_KEYS",
    "PASSWORD", "ROW_FORMAT", "SECONDARY_ENGINE", "SECONDARY_ENGINE_ATTRIBUTE",
    "ENGINE_ATTRIBUTE", "AUTOEXTEND_SIZE", "SHARD_ROW_ID_BITS", "PRE_SPLIT_REGIONS",
    "STATS_AUTO_RECALC", "STATS_PERSISTENT", "STATS_SAMPLE_PAGES", "STATS_BUCKETS",
    "STATS_TOPN", "STATS_COL_CHOICE", "STATS_COL_LIST", "STATS_SAMPLE_RATE", "TABLESPACE",
    "UNION", "CONVERT", "TRANSACTIONAL", "SEQUENCE", "INDEX", NULL
};

static const char *const partition_verbs[] = {
    "TRUNCATE", "COALESCE", "REORGANIZE", "EXCHANGE",
    "ANALYZE", "CHECK", "OPTIMIZE", "REBUILD", "REPAIR", "DISCARD", "IMPORT", NULL
};

/* TRUNCATE/COALESCE/REORGANIZE/EXCHANGE PARTITION have their own kinds; maintenance
 * (ANALYZE, REBUILD, ...) shares one. */
static enum kind_id partition_verb_kind(const char *s, const struct token *verb)
{
    if (tok_kw(s, verb, "TRUNCATE"))
        return K_TRUNCATE_PARTITION;
    if (tok_kw(s, verb, "COALESCE"))
        return K_COALESCE_PARTITION;
    if (tok_kw(s, verb, "REORGANIZE"))
        return K_REORGANIZE_PARTITION;
    if (tok_kw(s, verb, "EXCHANGE"))
        return K_EXCHANGE_PARTITION;
    return K_ALTER_TABLE_PARTITION;
}

struct spec_result {
    enum kind_id kind;
    bool counts;        /* ALGORITHM=, LOCK=, WITH VALIDATION only tune the others */
    bool takes_rest;    /* partition operations: their name lists have top-level commas */
};

static struct spec_result spec_add(struct cursor *c)
{
    struct spec_result r = { K_ADD_COLUMN, true, false };
    if (accept_kw(c, "CONSTRAINT")) {
        static const char *const after[] = { "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", NULL };
        if (!tok_kw_any(c->lx.s, &c->cur, after) && is_ident_token(&c->cur))
            cur_advance(c);   /* the constraint's symbol */
        if (at_kw(c, "PRIMARY"))
            r.kind = K_ADD_PRIMARY_KEY;
        else if (at_kw(c, "UNIQUE"))
            r.kind = K_ADD_INDEX;
        else if (at_kw(c, "FOREIGN"))
            r.kind = K_ADD_FOREIGN_KEY;
        else
            r.kind = K_ADD_CHECK_CONSTRAINT;
    } else if (at_kw(c, "PRIMARY")) {
        r.kind = K_ADD_PRIMARY_KEY;
    } else if (at_kw(c, "INDEX") || at_kw(c, "KEY") || at_kw(c, "UNIQUE") || at_kw(c, "FULLTEXT")
               || at_kw(c, "SPATIAL")) {
        r.kind = K_ADD_INDEX;
    } else if ((at_kw(c, "VECTOR") || at_kw(c, "COLUMNAR")) && (peek_kw(c, "INDEX") || peek_kw(c, "KEY"))) {
        r.kind = K_ADD_INDEX;
    } else if (at_kw(c, "FOREIGN")) {
        r.kind = K_ADD_FOREIGN_KEY;
    } else if (at_kw(c, "CHECK")) {
        r.kind = K_ADD_CHECK_CONSTRAINT;
    } else if (at_kw(c, "PARTITION")) {
        r.kind = K_ADD_PARTITION;
        r.takes_rest = true;
    }
    return r;
}

static struct spec_result spec_drop(struct cursor *c)
{
    struct spec_result r = { K_DROP_COLUMN, true, false };
    if (at_kw(c, "INDEX") || at_kw(c, "KEY"))
        r.kind = K_DROP_INDEX;
    else if (at_kw(c, "PRIMARY"))
        r.kind = K_DROP_PRIMARY_KEY;
    else if (at_kw(c, "FOREIGN"))
        r.kind = K_DROP_FOREIGN_KEY;
    else if (at_kw(c, "CHECK"))
        r.kind = K_DROP_CHECK_CONSTRAINT;
    else if (at_kw(c, "CONSTRAINT"))
        r.kind = K_DROP_CONSTRAINT;
    else if (at_kw(c, "PARTITION")) {
        r.kind = K_DROP_PARTITION;
        r.takes_rest = true;
    }
    return r;
}

static struct spec_result spec_alter(struct cursor *c)
{
    struct spec_result r = { K_ALTER_COLUMN, true, false };
    if (at_kw(c, "INDEX") || at_kw(c, "KEY")) {
        r.kind = K_ALTER_INDEX_VISIBILITY;
        return r;
    }
    if (at_kw(c, "CHECK") || at_kw(c, "CONSTRAINT")) {
        r.kind = K_ALTER_CHECK_CONSTRAINT;
        return r;
    }
    accept_kw(c, "COLUMN");
    if (is_ident_token(&c->cur))
        cur_advance(c);
    if ((at_kw(c, "SET") || at_kw(c, "DROP")) && peek_kw(c, "DEFAULT"))
        r.kind = K_SET_DEFAULT_VALUE;
    return r;
}

static struct spec_result spec_rename(struct cursor *c, struct ddl_stmt *out)
{
    struct spec_result r = { K_RENAME_TABLE, true, false };
    if (at_kw(c, "COLUMN")) {
        r.kind = K_RENAME_COLUMN;
        return r;
    }
    if (at_kw(c, "INDEX") || at_kw(c, "KEY")) {
        r.kind = K_RENAME_INDEX;
        return r;
    }
    if (!accept_kw(c, "TO") && !accept_kw(c, "AS"))
        accept_punct(c, '=');
    if (!out->object[0]) {
        char db[DDL_NAME_MAX];
        cur_qualified_name(c, "", db, out->object);
    }
    return r;
}

/* Classifies one spec; the cursor is on its first token. */
static struct spec_result classify_spec(struct cursor *c, struct ddl_stmt *out)
{
    const char *s = c->lx.s;
    struct spec_result r = { K_ALTER_TABLE, true, false };

    if (at_kw(c, "ALGORITHM") || at_kw(c, "LOCK")
        || ((at_kw(c, "WITH") || at_kw(c, "WITHOUT")) && peek_kw(c, "VALIDATION"))) {
        r.counts = false;
    } else if (accept_kw(c, "ADD")) {
        r = spec_add(c);
    } else if (accept_kw(c, "DROP")) {
        r = spec_drop(c);
    } else if (accept_kw(c, "MODIFY")) {
        r.kind = K_MODIFY_COLUMN;
    } else if (accept_kw(c, "CHANGE")) {
        r.kind = K_CHANGE_COLUMN;
    } else if (accept_kw(c, "RENAME")) {
        r = spec_rename(c, out);
    } else if (accept_kw(c, "ALTER")) {
        r = spec_alter(c);
    } else if (at_kw(c, "PARTITION") && peek_kw(c, "BY")) {
        r.kind = K_ALTER_TABLE_PARTITIONING;
        r.takes_rest = true;
    } else if (at_kw(c, "PARTITION")) {
        r.kind = K_ALTER_TABLE_PARTITION;   /* TiDB: PARTITION p PLACEMENT POLICY = x */
    } else if (at_kw(c, "REMOVE") && peek_kw(c, "PARTITIONING")) {
        r.kind = K_REMOVE_PARTITIONING;
    } else if (at_kw(c, "REMOVE") && peek_kw(c, "TTL")) {
        r.kind = K_REMOVE_TTL;
    } else if (tok_kw_any(s, &c->cur, partition_verbs) && peek_kw(c, "PARTITION")) {
        r.kind = partition_verb_kind(s, &c->cur);
        r.takes_rest = true;
    } else if (at_kw(c, "CACHE")) {
        r.kind = K_ALTER_TABLE_CACHE;
    } else if (at_kw(c, "NOCACHE")) {
        r.kind = K_ALTER_TABLE_NOCACHE;
    } else if (at_kw(c, "SET") && peek_kw(c, "TIFLASH")) {
        r.kind = K_SET_TIFLASH_REPLICA;
    } else if (at_kw(c, "COMPACT")) {
        r.kind = K_COMPACT;
    } else if (at_kw(c, "PLACEMENT") || (at_kw(c, "DEFAULT") && peek_kw(c, "PLACEMENT"))) {
        r.kind = K_ALTER_TABLE_PLACEMENT;
    } else if (at_kw(c, "TTL") || at_kw(c, "TTL_ENABLE") || at_kw(c, "TTL_JOB_INTERVAL")) {
        r.kind = K_ALTER_TABLE_TTL;
    } else if (tok_kw_any(s, &c->cur, table_option_words)) {
        r.kind = K_ALTER_TABLE_OPTIONS;
    }
    return r;
}

static void classify_alter_table(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    enum kind_id single = K_ALTER_TABLE;

    skip_if_exists(c);
    target_name(x);
    while (c->cur.type != TOK_EOF) {
        struct spec_result r = classify_spec(c, out);
        if (r.counts) {
            if (out->n_specs < DDL_MAX_SPECS)
                out->spec_kinds[out->n_specs] = r.kind == K_COMPACT ? "compact" : kind_names[r.kind];
            out->n_specs++;
            single = r.kind;
        }
        if (r.takes_rest)
            break;
        skip_to_comma(c);
        accept_punct(c, ',');
    }
    if (out->n_specs == 1 && single == K_COMPACT) {
        out->spec_kinds[0] = NULL;
        out->n_specs = 0;
        set_kind(out, STMT_OTHER, K_NONE);   /* TiFlash compaction: no schema change, no job */
        return;
    }
    set_kind(out, STMT_DDL, out->n_specs > 1 ? K_MULTI_SCHEMA_CHANGE
                            : out->n_specs == 1 ? single : K_ALTER_TABLE);
}

static void classify_alter(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    static const char *const db_option_words[] = {
        "DEFAULT", "CHARACTER", "CHARSET", "COLLATE", "ENCRYPTION", "READ", "PLACEMENT",
        "SET", "UPGRADE", "COMMENT", NULL
    };

    for (;;) {
        if (accept_kw(c, "ONLINE") || accept_kw(c, "OFFLINE") || accept_kw(c, "IGNORE")) {
            continue;
        } else if (at_kw(c, "ALGORITHM") || at_kw(c, "DEFINER")) {
            bool definer = at_kw(c, "DEFINER");
            cur_advance(c);
            accept_punct(c, '=');
            if (definer)
                skip_user(c);
            else if (c->cur.type == TOK_WORD)
                cur_advance(c);
        } else if (at_kw(c, "SQL") && peek_kw(c, "SECURITY")) {
            cur_advance(c);
            cur_advance(c);
            if (c->cur.type == TOK_WORD)
                cur_advance(c);
        } else {
            break;
        }
    }
    if (accept_kw(c, "TABLE")) {
        classify_alter_table(x);
    } else if (accept_kw(c, "DATABASE") || accept_kw(c, "SCHEMA")) {
        set_kind(out, STMT_DDL, K_ALTER_DATABASE);
        if (c->cur.type == TOK_EOF || tok_kw_any(c->lx.s, &c->cur, db_option_words))
            set_default_db(x);   /* ALTER DATABASE CHARACTER SET ...: the current one */
        else
            database_name(x);
    } else if (accept_kw(c, "VIEW")) {
        set_kind(out, STMT_DDL, K_ALTER_VIEW);
        target_name(x);
    } else if (accept_kw(c, "SEQUENCE")) {
        set_kind(out, STMT_DDL, K_ALTER_SEQUENCE);
        skip_if_exists(c);
        target_name(x);
    } else if (placement_or_resource(c, out, K_ALTER_PLACEMENT_POLICY, K_ALTER_RESOURCE_GROUP)) {
        return;
    } else if (at_kw(c, "USER")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    }
}

/* ---- DROP / TRUNCATE / RENAME */

static void classify_drop(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    bool temporary = false;

    if (at_kw(c, "GLOBAL") && peek_kw(c, "TEMPORARY")) {
        cur_advance(c);
        cur_advance(c);
    } else if (accept_kw(c, "TEMPORARY")) {
        temporary = true;
    }
    while (accept_kw(c, "ONLINE") || accept_kw(c, "OFFLINE"))
        ;
    if (accept_kw(c, "TABLE") || accept_kw(c, "TABLES")) {
        set_kind(out, temporary ? STMT_OTHER : STMT_DDL,
                 temporary ? K_DROP_TEMPORARY_TABLE : K_DROP_TABLE);
        skip_if_exists(c);
        target_name(x);
    } else if (accept_kw(c, "INDEX")) {
        set_kind(out, STMT_DDL, K_DROP_INDEX);
        skip_if_exists(c);
        cur_ident(c, out->object, sizeof out->object);
        if (strlen(out->object) == 7 && ascii_ieq(out->object, "PRIMARY", 7))
            set_kind(out, STMT_DDL, K_DROP_PRIMARY_KEY);
        if (accept_kw(c, "ON"))
            target_name(x);
    } else if (temporary) {
        return;   /* MariaDB's DROP TEMPORARY SEQUENCE */
    } else if (accept_kw(c, "DATABASE") || accept_kw(c, "SCHEMA")) {
        set_kind(out, STMT_DDL, K_DROP_DATABASE);
        skip_if_exists(c);
        database_name(x);
    } else if (accept_kw(c, "VIEW")) {
        set_kind(out, STMT_DDL, K_DROP_VIEW);
        skip_if_exists(c);
        target_name(x);
    } else if (accept_kw(c, "SEQUENCE")) {
        set_kind(out, STMT_DDL, K_DROP_SEQUENCE);
        skip_if_exists(c);
        target_name(x);
    } else if (placement_or_resource(c, out, K_DROP_PLACEMENT_POLICY, K_DROP_RESOURCE_GROUP)) {
        return;
    } else if (at_kw(c, "USER") || at_kw(c, "ROLE")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    }
}

static void classify_rename(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    if (accept_kw(c, "TABLE") || accept_kw(c, "TABLES")) {
        set_kind(out, STMT_DDL, K_RENAME_TABLE);
        target_name(x);
        if (accept_kw(c, "TO")) {
            char db[DDL_NAME_MAX];
            cur_qualified_name(c, "", db, out->object);
        }
    } else if (at_kw(c, "USER")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    }
}

/* ---- TiDB: FLASHBACK, RECOVER, ADMIN */

static void classify_flashback(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;
    if (accept_kw(c, "TABLE")) {
        set_kind(out, STMT_DDL, K_FLASHBACK);
        target_name(x);
        if (accept_kw(c, "TO"))
            cur_ident(c, out->object, sizeof out->object);
    } else if (accept_kw(c, "DATABASE") || accept_kw(c, "SCHEMA")) {
        set_kind(out, STMT_DDL, K_FLASHBACK);
        database_name(x);
        if (accept_kw(c, "TO"))
            cur_ident(c, out->object, sizeof out->object);
    } else if (accept_kw(c, "CLUSTER")) {
        set_kind(out, STMT_DDL, K_FLASHBACK);
    }
}

static void classify_recover(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    if (!accept_kw(c, "TABLE"))
        return;
    set_kind(x->out, STMT_DDL, K_RECOVER_TABLE);
    if (accept_kw(c, "BY")) {
        accept_kw(c, "JOB");
        job_id_list(x);
    } else {
        target_name(x);
    }
}

static void classify_admin(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    if (!at_kw(c, "CANCEL") && !at_kw(c, "PAUSE") && !at_kw(c, "RESUME"))
        return;
    if (!peek_kw(c, "DDL"))
        return;
    decode_ident(c->lx.s, &c->cur, x->out->object, sizeof x->out->object);
    for (char *p = x->out->object; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    cur_advance(c);
    cur_advance(c);
    if (!accept_kw(c, "JOBS") && !accept_kw(c, "JOB")) {
        x->out->object[0] = '\0';
        return;
    }
    set_kind(x->out, STMT_ADMIN_DDL, K_ADMIN_DDL);
    job_id_list(x);
}

/* ---- dispatch */

static const char *const first_keywords[] = {
    "CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "FLASHBACK", "RECOVER", "ADMIN",
    "GRANT", "REVOKE", "USE", "SET", NULL
};

/* The cheap test shared by ddl_maybe() and the classifier: only statements starting with
 * one of these can be anything but STMT_OTHER. */
static bool starts_like_ddl(const struct lexer *after_first, const struct token *first)
{
    const char *s = after_first->s;
    if (!tok_kw_any(s, first, first_keywords))
        return false;
    if (!tok_kw(s, first, "SET"))
        return true;
    struct lexer copy = *after_first;
    struct token second;
    lex_next(&copy, &second);
    return tok_kw(s, &second, "PASSWORD") || tok_kw(s, &second, "STATEMENT");
}

static void classify_dispatch(struct classify_ctx *x)
{
    struct cursor *c = &x->c;
    struct ddl_stmt *out = x->out;

    /* MariaDB: SET STATEMENT var=value[, ...] FOR <statement> */
    while (at_kw(c, "SET") && peek_kw(c, "STATEMENT")) {
        int depth = 0;
        for (cur_advance(c); c->cur.type != TOK_EOF; cur_advance(c)) {
            if (at_punct(c, '('))
                depth++;
            else if (at_punct(c, ')') && depth > 0)
                depth--;
            else if (depth == 0 && at_kw(c, "FOR"))
                break;
        }
        if (!accept_kw(c, "FOR"))
            return;
    }

    if (accept_kw(c, "CREATE")) {
        classify_create(x);
    } else if (accept_kw(c, "ALTER")) {
        classify_alter(x);
    } else if (accept_kw(c, "DROP")) {
        classify_drop(x);
    } else if (accept_kw(c, "TRUNCATE")) {
        set_kind(out, STMT_DDL, K_TRUNCATE_TABLE);
        accept_kw(c, "TABLE");
        target_name(x);
    } else if (accept_kw(c, "RENAME")) {
        classify_rename(x);
    } else if (accept_kw(c, "FLASHBACK")) {
        classify_flashback(x);
    } else if (accept_kw(c, "RECOVER")) {
        classify_recover(x);
    } else if (accept_kw(c, "ADMIN")) {
        classify_admin(x);
    } else if (accept_kw(c, "GRANT") || accept_kw(c, "REVOKE")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    } else if (at_kw(c, "SET") && peek_kw(c, "PASSWORD")) {
        set_kind(out, STMT_ACCOUNT, K_ACCOUNT);
    } else if (accept_kw(c, "USE")) {
        set_kind(out, STMT_USE, K_USE);
        database_name(x);
    }
}

/* ------------------------------------------------------------- redaction */

struct outbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

static void out_append(struct outbuf *b, const char *p, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

struct redactor {
    unsigned tok_index;    /* tokens seen in this statement */
    bool first_is_set;
    bool set_password;     /* SET PASSWORD statement ... */
    bool after_eq;         /* ... past its '=': every literal is a secret */
    bool identified;       /* IDENTIFIED seen: BY/AS/USING/REPLACE introduce a secret */
    bool pending;          /* the next literal is a secret */
    bool chain;            /* last token was a masked string: adjacent strings concatenate */
    bool open_paren;       /* PASSWORD( is next */
    int paren_depth;       /* inside PASSWORD(...): every literal is a secret */
};

static bool next_is(const struct lexer *after, const struct token *t, enum tok_type type, char punct,
                    bool adjacent)
{
    struct lexer copy = *after;
    struct token next;
    if (!lex_next(&copy, &next) || next.type != type)
        return false;
    if (adjacent && next.start != t->end)
        return false;
    return type != TOK_PUNCT || after->s[next.start] == punct;
}

/* Charset introducer (_utf8mb4'x') or literal prefix (X'41', N'x'): the string follows. */
static bool is_introducer(const struct lexer *after, const struct token *t)
{
    const char *s = after->s;
    size_t n = t->end - t->start;
    if (t->type != TOK_WORD)
        return false;
    if (s[t->start] == '_')
        return next_is(after, t, TOK_STRING, 0, false);
    return n == 1 && strchr("nNxXbB", s[t->start]) && next_is(after, t, TOK_STRING, 0, true);
}

/* Decides whether token t is a secret. `after` is the lexer just past t (for lookahead). */
static bool redact_token(struct redactor *r, const struct lexer *after, const struct token *t)
{
    static const char *const set_password_words[] = {
        "PASSWORD", "OLD_PASSWORD", "REPLACE", "RETAIN", "CURRENT", "TO", "RANDOM", NULL
    };
    static const char *const secret_after_identified[] = { "BY", "AS", "USING", "REPLACE", NULL };
    static const char *const password_options[] = {
        "PASSWORD", "MASTER_PASSWORD", "SOURCE_PASSWORD", NULL
    };
    const char *s = after->s;
    unsigned index = r->tok_index++;

    if (tok_punct(s, t, ';')) {
        memset(r, 0, sizeof *r);
        return false;
    }
    if (r->paren_depth > 0) {
        if (tok_punct(s, t, '('))
            r->paren_depth++;
        else if (tok_punct(s, t, ')'))
            r->paren_depth--;
        return t->type != TOK_PUNCT;
    }
    if (r->open_paren) {
        r->open_paren = false;
        if (tok_punct(s, t, '(')) {
            r->paren_depth = 1;
            return false;
        }
    }
    if (r->chain && (t->type == TOK_STRING || t->type == TOK_DQUOTE))
        return true;
    r->chain = false;

    if (index == 0)
        r->first_is_set = tok_kw(s, t, "SET");
    if (index == 1 && r->first_is_set && tok_kw(s, t, "PASSWORD"))
        r->set_password = true;
    if (r->set_password && !r->after_eq && tok_punct(s, t, '=')) {
        r->after_eq = true;
        return false;
    }
    if ((tok_kw(s, t, "PASSWORD") || tok_kw(s, t, "OLD_PASSWORD"))
        && next_is(after, t, TOK_PUNCT, '(', false)) {
        r->open_paren = true;
        r->pending = false;
        return false;
    }
    if (r->after_eq) {
        if (t->type == TOK_PUNCT || tok_kw_any(s, t, set_password_words) || is_introducer(after, t))
            return false;
        r->chain = true;
        return true;
    }
    if (tok_kw(s, t, "IDENTIFIED")) {
        r->identified = true;
        return false;
    }
    if (r->pending) {
        if (tok_kw(s, t, "PASSWORD") || tok_punct(s, t, '=') || is_introducer(after, t))
            return false;
        r->pending = false;
        if (tok_punct(s, t, '(')) {
            r->paren_depth = 1;   /* malformed BY ('x'): mask what is inside */
            return false;
        }
        if (tok_kw(s, t, "RANDOM") || t->type == TOK_PUNCT)
            return false;
        r->chain = true;
        return true;
    }
    if (r->identified && tok_kw_any(s, t, secret_after_identified)) {
        r->pending = true;
        return false;
    }
    if (tok_kw_any(s, t, password_options)
        && (next_is(after, t, TOK_PUNCT, '=', false) || next_is(after, t, TOK_STRING, 0, false)
            || next_is(after, t, TOK_DQUOTE, 0, false))) {
        r->pending = true;
        return false;
    }
    return false;
}

static const char redacted_literal[] = "'***'";

/* Copies [from, to) of the text the lexer walks, with secret tokens masked. */
static char *redact_span(struct lexer lx, size_t from, size_t to)
{
    struct outbuf b = { 0 };
    struct redactor r = { 0 };
    struct token t;
    size_t copied = from;

    out_append(&b, "", 0);
    while (lex_next(&lx, &t)) {
        if (!redact_token(&r, &lx, &t))
            continue;
        size_t start = t.start < copied ? copied : t.start;
        size_t end = t.end > to ? to : t.end;
        if (start >= end)
            continue;
        out_append(&b, lx.s + copied, start - copied);
        out_append(&b, redacted_literal, sizeof redacted_literal - 1);
        copied = end;
    }
    if (copied < to)
        out_append(&b, lx.s + copied, to - copied);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    return b.data;
}

char *sql_redact(const char *text, size_t len)
{
    struct lexer lx;
    if (!text)
        len = 0;
    lexer_init(&lx, text ? text : "", len);
    return redact_span(lx, 0, len);
}

/* ---------------------------------------------------------------- public */

/* Moves past the next ';' outside strings, identifiers and comments; false at the end.
 * Same rules as lex_next(), byte by byte: the hot path must not build tokens for a
 * multi-megabyte INSERT. Stopping at every such ';' (even inside a compound body)
 * visits a superset of the statement starts stmt_next() finds. */
static bool skip_past_semicolon(struct lexer *lx)
{
    static const bool special[256] = {
        ['\''] = true, ['"'] = true, ['`'] = true, ['#'] = true, ['-'] = true,
        ['/'] = true, ['*'] = true, [';'] = true,
    };
    const char *s = lx->s;
    while (lx->pos < lx->len) {
        size_t p = lx->pos;
        unsigned char ch = (unsigned char)s[p];
        if (!special[ch]) {
            lx->pos++;
            continue;
        }
        char next = p + 1 < lx->len ? s[p + 1] : '\0';
        if (ch == ';') {
            lx->pos = p + 1;
            return true;
        } else if (ch == '\'' || ch == '"' || ch == '`') {
            lx->pos = lex_quoted(lx, p + 1, (char)ch);
        } else if (ch == '#') {
            lx->pos = skip_to_eol(lx, p);
        } else if (ch == '-' && next == '-'
                   && (p + 2 >= lx->len || (unsigned char)s[p + 2] <= 0x20 || s[p + 2] == 0x7f)) {
            lx->pos = skip_to_eol(lx, p);
        } else if (ch == '/' && next == '*') {
            lex_comment(lx);
        } else if (ch == '*' && next == '/' && lx->exec_open != NO_POS) {
            lx->exec_open = NO_POS;
            lx->pos = p + 2;
        } else {
            lx->pos = p + 1;
        }
    }
    return false;
}

bool ddl_maybe(const char *text, size_t len)
{
    struct lexer lx;
    if (!text)
        return false;
    lexer_init(&lx, text, len);
    bool several = memchr(text, ';', len) != NULL;   /* else only one statement to look at */
    for (;;) {
        struct token first;
        if (!lex_next(&lx, &first))
            return false;
        if (tok_punct(text, &first, ';'))
            continue;
        if (starts_like_ddl(&lx, &first))
            return true;
        if (!several || !skip_past_semicolon(&lx))
            return false;
    }
}

void ddl_stmts_free(struct ddl_stmt *stmts, int n)
{
    if (!stmts)
        return;
    for (int i = 0; i < n; i++)
        free(stmts[i].redacted);
    free(stmts);
}

int ddl_classify(const char *text, size_t len, const char *default_db, struct ddl_stmt **out)
{
    struct ddl_stmt *stmts = NULL;
    size_t n = 0, cap = 0;
    struct lexer lx;
    struct stmt_span sp;

    *out = NULL;
    if (!text)
        return 0;
    lexer_init(&lx, text, len);
    while (stmt_next(&lx, &sp)) {
        if (n == (size_t)INT32_MAX)
            break;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct ddl_stmt *grown = realloc(stmts, ncap * sizeof *grown);
            if (!grown)
                goto nomem;
            stmts = grown;
            cap = ncap;
        }
        struct ddl_stmt *st = &stmts[n];
        memset(st, 0, sizeof *st);
        st->cls = STMT_OTHER;
        st->kind = kind_names[K_NONE];
        st->index = (unsigned)n;
        st->offset = sp.offset;
        st->length = sp.end - sp.offset;
        n++;   /* counted now so the cleanup frees its redacted text */

        struct classify_ctx x = { .default_db = default_db, .out = st };
        cur_init(&x.c, &sp.start);
        if (starts_like_ddl(&x.c.lx, &x.c.cur))
            classify_dispatch(&x);
        st->redacted = redact_span(sp.start, sp.offset, sp.end);
        if (!st->redacted)
            goto nomem;
    }
    *out = stmts;
    return (int)n;

nomem:
    ddl_stmts_free(stmts, (int)n);
    errno = ENOMEM;
    return -1;
}
