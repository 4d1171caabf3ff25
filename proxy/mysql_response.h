/* mysql_response.h - the command/response state machine of the command phase.
 * It only observes: the bytes are relayed as they came whatever it concludes.
 * Fed with each packet's first bytes, it tells which command is in flight,
 * which client packets are data rather than commands (LOCAL INFILE uploads,
 * COM_CHANGE_USER auth exchanges) and when each result ends, OK or ERR.
 * Pure: no I/O, tested by table-driven unit tests. */
#ifndef DDLP_MYSQL_RESPONSE_H
#define DDLP_MYSQL_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mysql_packet.h"

#define RESP_QUEUE 64            /* pipelined commands followed at once */
#define RESP_MAX_COLUMNS 65535   /* more columns than any server allows: a broken packet */

enum resp_state {
    RS_IDLE = 0,
    RS_FIRST,                    /* waiting for the first packet of a result */
    RS_COLDEFS,                  /* column definitions */
    RS_COLDEFS_EOF,              /* EOF after column definitions (no DEPRECATE_EOF) */
    RS_ROWS,
    RS_PREP_PARAMS, RS_PREP_PARAMS_EOF, RS_PREP_COLS, RS_PREP_COLS_EOF,
    RS_FIELD_LIST,               /* COM_FIELD_LIST: definitions until EOF */
    RS_INFILE_DATA,              /* client uploads a LOCAL INFILE */
    RS_AUTH,                     /* COM_CHANGE_USER exchange */
    RS_SINGLE_RAW,               /* COM_STATISTICS: one packet of text */
    RS_RAW,                      /* COM_BINLOG_DUMP: untracked stream from here on */
};

enum client_packet_kind {
    CP_COMMAND,                  /* first packet of a new command */
    CP_DATA,                     /* INFILE data, auth data or a continuation */
    CP_RAW,
};

struct resp_event {
    bool result;                 /* a result ended */
    bool ok;
    bool final;                  /* the command is complete */
    unsigned index;              /* which result of the command */
    uint8_t command;
    uint64_t affected_rows;
    uint32_t prepared_stmt_id;
    struct mysql_err err;
    bool infile_request;         /* the server asked for a LOCAL INFILE */
    const char *protocol_error;  /* the packet cannot be valid here (static text) */
};

struct resp_machine {
    uint32_t caps;               /* negotiated: client's & server's */
    uint8_t queue[RESP_QUEUE];   /* commands awaiting a response, oldest first */
    unsigned q_head, q_len;
    bool overflow;               /* lost track after too many pipelined commands */
    enum resp_state state;
    uint64_t left;               /* definitions left in this state */
    uint64_t prep_cols;
    uint32_t prep_stmt_id;
    unsigned index;
    bool auth_turn;              /* COM_CHANGE_USER: the client's next packet is auth data */
    bool server_cont, client_cont;   /* previous packet was 0xffffff long */
};

void resp_init(struct resp_machine *m, uint32_t caps);
/* The command in flight (oldest unanswered), or -1. */
int resp_current_command(const struct resp_machine *m);

/* A client packet of len payload bytes whose first bytes are p[0..avail).
 * Returns what it is; for CP_COMMAND the command is queued (or not, for
 * commands without a reply). */
enum client_packet_kind resp_client_packet(struct resp_machine *m, const uint8_t *p,
                                           size_t avail, uint32_t len);
/* A server packet; avail >= min(len, RESP_INSPECT) bytes. Fills ev. */
#define RESP_INSPECT 600
void resp_server_packet(struct resp_machine *m, const uint8_t *p, size_t avail, uint32_t len,
                        struct resp_event *ev);

#endif
