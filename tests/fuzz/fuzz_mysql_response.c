/* fuzz_mysql_response.c - libFuzzer target for the command/response state
 * machine (proxy/mysql_response.c). The input is a script of packets seen by
 * the proxy, both directions interleaved:
 *
 *   byte 0            capabilities: bit 0 = CLIENT_DEPRECATE_EOF
 *   then items        [h][n][n bytes]
 *     h bit 0         0 = client packet, 1 = server packet
 *     h bits 1-2      declared payload length: 0 = n, 1 = 0xffffff (continues),
 *                     2 = n + (h >> 3) * 4096 (longer than what is looked at), 3 = 0
 *
 * Server packets are handed over like the session does: a buffer of exactly
 * min(len, RESP_INSPECT) bytes (zero-padded past n), so any read beyond what
 * the caller guarantees trips ASan. After every packet the machine's
 * invariants are checked (queue bounds, state vs queue, events consistent
 * with the command in flight); a violation aborts.
 *
 * fuzz-sources: proxy/mysql_response.c proxy/mysql_packet.c
 * Run through tests/fuzz/run.sh (see tests/fuzz/README.md). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_proto.h"
#include "mysql_response.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

static void check_machine(const struct resp_machine *m)
{
    check(m->q_len <= RESP_QUEUE, "queue length within the ring");
    check(m->q_head < RESP_QUEUE, "queue head within the ring");
    check(m->state <= RS_RAW, "state is a known state");
    check((m->q_len == 0) == (resp_current_command(m) < 0), "current command iff queue not empty");
    check((m->q_len == 0) == (m->state == RS_IDLE), "idle iff nothing in flight");
}

static void check_event(const struct resp_machine *m, const struct resp_event *ev, int before,
                        unsigned q_before)
{
    check(memchr(ev->err.message, '\0', sizeof(ev->err.message)) != NULL, "error message terminated");
    check(memchr(ev->err.sqlstate, '\0', sizeof(ev->err.sqlstate)) != NULL, "sqlstate terminated");
    if (!ev->result) {
        check(!ev->final && !ev->ok, "no final/ok without a result");
        check(m->q_len == q_before, "queue unchanged without a result");
        return;
    }
    check(!ev->infile_request, "INFILE request is not a result");
    check(before >= 0, "a result only for a command in flight");
    check(ev->command == (uint8_t)before, "result belongs to the command in flight");
    check(ev->ok || ev->final, "an ERR always ends the command");
    if (ev->final)
        check(m->q_len == q_before - 1, "a final result dequeues exactly one command");
    else
        check(m->q_len == q_before && resp_current_command(m) == before,
              "a non-final result keeps the command in flight");
    if (ev->prepared_stmt_id)
        check(ev->command == COM_STMT_PREPARE, "statement id only for COM_STMT_PREPARE");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct resp_machine m;
    resp_init(&m, CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS
                  | (data[0] & 1 ? CLIENT_DEPRECATE_EOF : 0));
    check_machine(&m);
    size_t pos = 1;
    while (pos + 2 <= size) {
        uint8_t h = data[pos];
        size_t n = data[pos + 1];
        pos += 2;
        if (n > size - pos)
            n = size - pos;
        const uint8_t *bytes = data + pos;
        pos += n;

        uint32_t len;
        switch ((h >> 1) & 3) {
        case 0: len = (uint32_t)n; break;
        case 1: len = MYSQL_MAX_PAYLOAD; break;
        case 2: len = (uint32_t)n + (uint32_t)(h >> 3) * 4096; break;
        default: len = 0; n = 0; break;
        }
        bool server = h & 1;
        size_t avail = server ? (len < RESP_INSPECT ? len : RESP_INSPECT) : (n < len ? n : len);
        uint8_t *buf = malloc(avail ? avail : 1);
        if (!buf)
            return 0;
        memset(buf, 0, avail);
        memcpy(buf, bytes, n < avail ? n : avail);

        int before = resp_current_command(&m);
        unsigned q_before = m.q_len;
        if (server) {
            struct resp_event ev;
            resp_server_packet(&m, buf, avail, len, &ev);
            check_event(&m, &ev, before, q_before);
        } else {
            enum client_packet_kind k = resp_client_packet(&m, buf, avail, len);
            check(k == CP_COMMAND || k == CP_DATA || k == CP_RAW, "client packet kind");
            check(k == CP_COMMAND || m.q_len == q_before, "data packets queue nothing");
            check(m.q_len >= q_before, "client packets never dequeue");
        }
        check_machine(&m);
        free(buf);
    }
    return 0;
}
