/* mysql_packet.h - MySQL wire primitives: headers, length-encoded integers,
 * OK/ERR/EOF decoding and proxy-made ERR packets. Pure functions. */
#ifndef DDLP_MYSQL_PACKET_H
#define DDLP_MYSQL_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint32_t mysql_payload_len(const uint8_t *h)
{
    return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
}

static inline void mysql_put_header(uint8_t *h, uint32_t len, uint8_t seq)
{
    h[0] = (uint8_t)len;
    h[1] = (uint8_t)(len >> 8);
    h[2] = (uint8_t)(len >> 16);
    h[3] = seq;
}

static inline uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* Length-encoded integer at p (avail bytes). Returns bytes used, 0 if truncated
 * or invalid (0xfb NULL / 0xff). */
size_t mysql_lenenc_get(const uint8_t *p, size_t avail, uint64_t *out);

/* OK packet (first byte 0x00 or 0xfe with CLIENT_DEPRECATE_EOF) or EOF packet. */
struct mysql_ok {
    uint64_t affected_rows, last_insert_id;
    uint16_t status, warnings;
};
/* payload starts at the 0x00/0xfe byte; is_eof: a classic 5-byte EOF packet. */
int mysql_parse_ok(const uint8_t *payload, size_t len, struct mysql_ok *ok);
int mysql_parse_eof(const uint8_t *payload, size_t len, struct mysql_ok *ok);

struct mysql_err {
    uint16_t code;
    char sqlstate[6];
    char message[512];
};
int mysql_parse_err(const uint8_t *payload, size_t len, struct mysql_err *err);

/* A complete ERR packet (header included) into out; returns its length. */
size_t mysql_build_err(uint8_t *out, size_t outlen, uint8_t seq, uint16_t code,
                       const char *sqlstate, const char *message);

#endif
