/* ddl_classify.h - find the DDL, account and ADMIN DDL statements in query text.
 *
 * A hand-written lexer (MySQL/TiDB/MariaDB comment and quoting rules, with the
 * content of executable comments treated as SQL) splits a COM_QUERY or
 * COM_STMT_PREPARE text into statements and classifies each one. Nothing here
 * touches the network or the event loop; every function is re-entrant. */
#ifndef DDLP_DDL_CLASSIFY_H
#define DDLP_DDL_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

enum stmt_class {
    STMT_OTHER = 0,    /* not tracked (SELECT, DML, CREATE TEMPORARY TABLE, ...) */
    STMT_DDL,          /* a schema change: TiDB runs a DDL job for it */
    STMT_ACCOUNT,      /* CREATE/ALTER/DROP/RENAME USER, SET PASSWORD, GRANT, REVOKE, roles */
    STMT_ADMIN_DDL,    /* TiDB ADMIN CANCEL/PAUSE/RESUME DDL JOBS */
    STMT_USE           /* USE db: the session's default database changes */
};

#define DDL_NAME_MAX 256   /* identifier buffers, NUL included (truncated at a UTF-8 boundary) */
#define DDL_MAX_SPECS 16   /* spec kinds kept per ALTER TABLE (n_specs counts them all) */
#define DDL_MAX_JOB_IDS 16 /* job ids kept per ADMIN ... DDL JOBS / RECOVER TABLE BY JOB */

struct ddl_stmt {
    enum stmt_class cls;
    const char *kind;          /* static string, see ddl_kind_at(); "" for most STMT_OTHER */
    char db[DDL_NAME_MAX];     /* unquoted; default_db when the name is unqualified; "" when none */
    char table[DDL_NAME_MAX];  /* unquoted; "" for database-level and global objects */
    unsigned index;            /* 0-based position among all statements of the text */
    size_t offset, length;     /* span in the input (first to last token, whole exec comments) */
    char *redacted;            /* malloc'd redacted statement text, NUL-terminated */
    unsigned n_specs;          /* ALTER TABLE: number of alter specs (>1 => multi-schema change) */
    /* Additions: */
    const char *spec_kinds[DDL_MAX_SPECS]; /* ALTER TABLE: kind of each of the first specs */
    char object[DDL_NAME_MAX]; /* second name: index (CREATE/DROP INDEX), new name (RENAME,
                                * FLASHBACK ... TO), policy / resource group name, source table
                                * (CREATE TABLE ... LIKE), operation (ADMIN: cancel/pause/resume) */
    long long job_ids[DDL_MAX_JOB_IDS]; /* ADMIN ... DDL JOBS n,m / RECOVER TABLE BY JOB n */
    unsigned n_job_ids;        /* how many ids the statement named (may exceed DDL_MAX_JOB_IDS) */
};

/* Classifies every statement of a (multi-)statement text. Returns the number of statements
 * found; *out (malloc'd array, free with ddl_stmts_free) has one entry per statement, DDL or not.
 * Empty statements (";;", only comments) are not counted. *out is NULL when 0 is returned.
 * Never fails on malformed input (best effort); returns -1 only on ENOMEM. */
int ddl_classify(const char *text, size_t len, const char *default_db, struct ddl_stmt **out);
void ddl_stmts_free(struct ddl_stmt *stmts, int n);

/* Redacts secrets in any statement text; returns malloc'd NUL-terminated copy (NULL on ENOMEM). */
char *sql_redact(const char *text, size_t len);

/* True if some statement of the text may be DDL/account/admin-ddl/USE, without allocating.
 * Never false when ddl_classify() would report such a statement (false positives are fine).
 * Cost: the first keyword or two when the text holds no ';' at all, else one byte scan that
 * looks at the keyword after each ';' outside strings and comments. */
bool ddl_maybe(const char *text, size_t len);

/* Every kind string the classifier can report (for docs, tests and metrics labels). */
size_t ddl_kind_count(void);
const char *ddl_kind_at(size_t i);

const char *stmt_class_name(enum stmt_class cls);

#endif
