/* session_events.h - what a MySQL session tells its observer (the DDL registry).
 * All callbacks run on the event loop thread, in protocol order. */
#ifndef DDLP_SESSION_EVENTS_H
#define DDLP_SESSION_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mysql_session;

/* Read-only facts about a session (valid for the session's lifetime). */
struct session_info {
    uint64_t id;                 /* proxy-wide session number */
    uint32_t backend_conn_id;    /* the server's connection id, from its greeting */
    const char *client_addr;     /* "ip:port" */
    const char *user;            /* from HandshakeResponse / COM_CHANGE_USER */
    const char *db;              /* default schema as far as the proxy knows ("" if none) */
    const char *server_version;  /* from the greeting, e.g. "8.0.11-TiDB-v8.5.0" */
    bool client_tls, backend_tls;
};

struct cmd_info {
    uint8_t command;             /* COM_QUERY, COM_STMT_PREPARE, COM_STMT_EXECUTE, ... */
    const char *text;            /* COM_QUERY / COM_STMT_PREPARE text (not NUL-terminated), else NULL */
    size_t text_len;
    bool text_truncated;         /* longer than max_inspect: only a prefix is given */
    uint32_t stmt_id;            /* COM_STMT_EXECUTE / CLOSE / RESET / FETCH */
    int64_t wall_us;             /* when it was forwarded to the server */
};

/* One statement's outcome. A multi-statement COM_QUERY gives one result per
 * statement (index 0, 1, ...); an ERR ends the command. */
struct cmd_result {
    uint8_t command;
    unsigned index;
    bool ok;                     /* OK or a complete result set */
    bool final;                  /* no further result follows for this command */
    uint16_t err_code;           /* when !ok */
    char sqlstate[6];
    const char *err_msg;         /* NUL-terminated, when !ok */
    uint64_t affected_rows;
    uint32_t prepared_stmt_id;   /* COM_STMT_PREPARE OK: the new statement id */
    int64_t wall_us;             /* when the result reached the proxy */
};

struct session_observer {
    void (*on_open)(struct mysql_session *s, const struct session_info *info);
    void (*on_command)(struct mysql_session *s, const struct cmd_info *cmd);
    void (*on_result)(struct mysql_session *s, const struct cmd_result *res);
    /* reason: "client_gone", "backend_gone", "shutdown", "protocol_error", ... */
    void (*on_close)(struct mysql_session *s, const char *reason);
};

/* Installed once at start-up (NULL: nobody listens). */
void session_set_observer(const struct session_observer *obs);
const struct session_info *session_get_info(const struct mysql_session *s);
/* One pointer of observer-owned state per session. */
void *session_observer_data(const struct mysql_session *s);
void session_set_observer_data(struct mysql_session *s, void *data);

#endif
