/* mysql_response.c - following results packet by packet. */
#include "mysql_response.h"

#include <string.h>

#include "mysql_proto.h"

void resp_init(struct resp_machine *m, uint32_t caps)
{
    memset(m, 0, sizeof(*m));
    m->caps = caps;
}

int resp_current_command(const struct resp_machine *m)
{
    return m->q_len ? m->queue[m->q_head] : -1;
}

static bool deprecate_eof(const struct resp_machine *m)
{
    return m->caps & CLIENT_DEPRECATE_EOF;
}

static void begin_command(struct resp_machine *m)
{
    m->index = 0;
    m->auth_turn = false;
    if (!m->q_len) {
        m->state = RS_IDLE;
        return;
    }
    switch (m->queue[m->q_head]) {
    case COM_STMT_FETCH:
        m->state = RS_ROWS;
        break;
    case COM_FIELD_LIST:
        m->state = RS_FIELD_LIST;
        break;
    case COM_CHANGE_USER:
        m->state = RS_AUTH;
        break;
    case COM_STATISTICS:
        m->state = RS_SINGLE_RAW;
        break;
    case COM_BINLOG_DUMP:
    case COM_BINLOG_DUMP_GTID:
        m->state = RS_RAW;
        break;
    default:
        m->state = RS_FIRST;
    }
}

static void end_command(struct resp_machine *m)
{
    if (m->q_len) {
        m->q_head = (m->q_head + 1) % RESP_QUEUE;
        m->q_len--;
    }
    begin_command(m);
}

static bool has_reply(uint8_t cmd)
{
    return cmd != COM_QUIT && cmd != COM_STMT_CLOSE && cmd != COM_STMT_SEND_LONG_DATA;
}

enum client_packet_kind resp_client_packet(struct resp_machine *m, const uint8_t *p,
                                           size_t avail, uint32_t len)
{
    bool cont = m->client_cont;
    m->client_cont = len == MYSQL_MAX_PAYLOAD;
    if (m->state == RS_RAW)
        return CP_RAW;
    if (cont)
        return CP_DATA;
    if (m->state == RS_INFILE_DATA) {
        if (len == 0)
            m->state = RS_FIRST;      /* upload done: the server answers OK or ERR */
        return CP_DATA;
    }
    if (m->state == RS_AUTH && m->auth_turn)
        return CP_DATA;               /* the client answers an auth switch / more-data */
    if (len == 0 || avail < 1)
        return CP_DATA;
    uint8_t cmd = p[0];
    if (!has_reply(cmd))
        return CP_COMMAND;
    if (m->q_len == RESP_QUEUE) {
        m->overflow = true;
        return CP_COMMAND;
    }
    unsigned slot = (m->q_head + m->q_len) % RESP_QUEUE;
    m->queue[slot] = cmd;
    m->q_len++;
    if (m->q_len == 1)
        begin_command(m);
    return CP_COMMAND;
}

static void result_ok(struct resp_machine *m, struct resp_event *ev, uint16_t status, uint64_t affected)
{
    ev->result = true;
    ev->ok = true;
    ev->index = m->index;
    ev->command = (uint8_t)resp_current_command(m);
    ev->affected_rows = affected;
    if (status & SERVER_MORE_RESULTS_EXISTS) {
        m->index++;
        m->state = RS_FIRST;
    } else {
        ev->final = true;
        end_command(m);
    }
}

static void result_err(struct resp_machine *m, struct resp_event *ev, const uint8_t *p, size_t avail)
{
    ev->result = true;
    ev->ok = false;
    ev->final = true;
    ev->index = m->index;
    ev->command = (uint8_t)resp_current_command(m);
    mysql_parse_err(p, avail, &ev->err);
    end_command(m);
}

/* MariaDB progress reports look like ERR packets with code 0xffff; they end nothing. */
static bool is_progress(const uint8_t *p, size_t avail)
{
    return avail >= 3 && p[0] == PKT_ERR && p[1] == 0xff && p[2] == 0xff;
}

static bool is_terminator(const uint8_t *p, size_t avail, uint32_t len)
{
    return avail >= 1 && p[0] == PKT_EOF && len < MYSQL_MAX_PAYLOAD;
}

static uint16_t terminator_status(const struct resp_machine *m, const uint8_t *p, size_t avail,
                                  uint32_t len, uint64_t *affected)
{
    struct mysql_ok ok;
    *affected = 0;
    if (deprecate_eof(m) && len > 5 && mysql_parse_ok(p, avail, &ok) == 0) {
        *affected = ok.affected_rows;
        return ok.status;
    }
    mysql_parse_eof(p, avail, &ok);
    return ok.status;
}

void resp_server_packet(struct resp_machine *m, const uint8_t *p, size_t avail, uint32_t len,
                        struct resp_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    bool cont = m->server_cont;
    m->server_cont = len == MYSQL_MAX_PAYLOAD;
    if (cont || m->state == RS_RAW || m->state == RS_IDLE || m->overflow)
        return;                       /* continuation, raw stream, unsolicited, or lost */
    if (avail > len)
        avail = len;
    if (is_progress(p, avail))
        return;
    uint8_t first = avail ? p[0] : 0;
    uint64_t affected;
    struct mysql_ok ok;

    switch (m->state) {
    case RS_FIRST:
        if (len == 0)
            return;
        if (first == PKT_ERR) {
            result_err(m, ev, p, avail);
        } else if (first == PKT_OK && resp_current_command(m) == COM_STMT_PREPARE) {
            if (avail < 9) {
                ev->protocol_error = "COM_STMT_PREPARE_OK shorter than 9 bytes";
                return;
            }
            m->prep_stmt_id = get_u32(p + 1);
            m->prep_cols = get_u16(p + 5);
            m->left = get_u16(p + 7);
            if (m->left) {
                m->state = RS_PREP_PARAMS;
            } else if (m->prep_cols) {
                m->left = m->prep_cols;
                m->state = RS_PREP_COLS;
            } else {
                goto prepared;
            }
        } else if (first == PKT_OK || (first == PKT_EOF && len < 9)) {
            if (first == PKT_OK)
                mysql_parse_ok(p, avail, &ok);
            else
                mysql_parse_eof(p, avail, &ok);
            result_ok(m, ev, ok.status, ok.affected_rows);
        } else if (first == PKT_INFILE) {
            /* only a query asks for a file, and always names one */
            if (len < 2 || resp_current_command(m) != COM_QUERY) {
                ev->protocol_error = "0xFB (NULL) where a result set or LOCAL INFILE request belongs";
                return;
            }
            m->state = RS_INFILE_DATA;
            ev->infile_request = true;
        } else {
            uint64_t cols;
            if (!mysql_lenenc_get(p, avail, &cols) || cols == 0 || cols > RESP_MAX_COLUMNS) {
                ev->protocol_error = "impossible column count";
                return;
            }
            m->left = cols;
            m->state = RS_COLDEFS;
        }
        return;
    case RS_COLDEFS:
        if (first == PKT_ERR) {
            result_err(m, ev, p, avail);
            return;
        }
        if (--m->left == 0)
            m->state = deprecate_eof(m) ? RS_ROWS : RS_COLDEFS_EOF;
        return;
    case RS_COLDEFS_EOF: {
        if (first == PKT_ERR) {
            result_err(m, ev, p, avail);
            return;
        }
        uint16_t status = terminator_status(m, p, avail, len, &affected);
        if (status & SERVER_STATUS_CURSOR_EXISTS)
            result_ok(m, ev, status, 0);     /* rows come with COM_STMT_FETCH */
        else
            m->state = RS_ROWS;
        return;
    }
    case RS_ROWS:
        if (first == PKT_ERR) {
            result_err(m, ev, p, avail);
        } else if (is_terminator(p, avail, len)) {
            uint16_t status = terminator_status(m, p, avail, len, &affected);
            result_ok(m, ev, status, affected);
        }
        return;
    case RS_PREP_PARAMS:
        if (--m->left > 0)
            return;
        if (!deprecate_eof(m)) {
            m->state = RS_PREP_PARAMS_EOF;
            return;
        }
        m->left = m->prep_cols;
        m->state = RS_PREP_COLS;
        if (!m->left)
            goto prepared;
        return;
    case RS_PREP_PARAMS_EOF:
        m->left = m->prep_cols;
        m->state = RS_PREP_COLS;
        if (!m->left)
            goto prepared;
        return;
    case RS_PREP_COLS:
        if (--m->left == 0) {
            if (deprecate_eof(m))
                goto prepared;
            m->state = RS_PREP_COLS_EOF;
        }
        return;
    case RS_PREP_COLS_EOF:
        goto prepared;
    case RS_FIELD_LIST:
        if (first == PKT_ERR)
            result_err(m, ev, p, avail);
        else if (is_terminator(p, avail, len))
            result_ok(m, ev, 0, 0);
        return;
    case RS_AUTH:
        if (first == PKT_ERR) {
            result_err(m, ev, p, avail);
        } else if (first == PKT_OK) {
            mysql_parse_ok(p, avail, &ok);
            result_ok(m, ev, 0, 0);
        } else {
            m->auth_turn = true;         /* auth switch or more data: the client answers */
        }
        return;
    case RS_SINGLE_RAW:
        result_ok(m, ev, 0, 0);
        return;
    case RS_INFILE_DATA:
        /* the server gave up on the upload (ERR) before the client finished */
        if (first == PKT_ERR)
            result_err(m, ev, p, avail);
        return;
    default:
        return;
    }
prepared:
    ev->prepared_stmt_id = m->prep_stmt_id;
    result_ok(m, ev, 0, 0);
}
