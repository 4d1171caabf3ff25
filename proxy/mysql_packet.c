/* mysql_packet.c - wire primitives. */
#include "mysql_packet.h"

#include <stdio.h>
#include <string.h>

size_t mysql_lenenc_get(const uint8_t *p, size_t avail, uint64_t *out)
{
    if (avail < 1)
        return 0;
    uint8_t b = p[0];
    if (b < 0xfb) {
        *out = b;
        return 1;
    }
    size_t n = b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : 0;
    if (n == 0 || avail < n + 1)
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[1 + i] << (8 * i);
    *out = v;
    return n + 1;
}

int mysql_parse_ok(const uint8_t *payload, size_t len, struct mysql_ok *ok)
{
    memset(ok, 0, sizeof(*ok));
    if (len < 1 || (payload[0] != 0x00 && payload[0] != 0xfe))
        return -1;
    size_t pos = 1, n;
    if (!(n = mysql_lenenc_get(payload + pos, len - pos, &ok->affected_rows)))
        return -1;
    pos += n;
    if (!(n = mysql_lenenc_get(payload + pos, len - pos, &ok->last_insert_id)))
        return -1;
    pos += n;
    if (len - pos < 2)
        return -1;
    ok->status = get_u16(payload + pos);
    if (len - pos >= 4)
        ok->warnings = get_u16(payload + pos + 2);
    return 0;
}

int mysql_parse_eof(const uint8_t *payload, size_t len, struct mysql_ok *ok)
{
    memset(ok, 0, sizeof(*ok));
    if (len < 1 || payload[0] != 0xfe)
        return -1;
    if (len >= 5) {
        ok->warnings = get_u16(payload + 1);
        ok->status = get_u16(payload + 3);
    }
    return 0;
}

int mysql_parse_err(const uint8_t *payload, size_t len, struct mysql_err *err)
{
    memset(err, 0, sizeof(*err));
    if (len < 3 || payload[0] != 0xff)
        return -1;
    err->code = get_u16(payload + 1);
    size_t pos = 3;
    if (len >= 9 && payload[3] == '#') {
        memcpy(err->sqlstate, payload + 4, 5);
        pos = 9;
    } else {
        memcpy(err->sqlstate, "HY000", 5);
    }
    size_t mlen = len - pos;
    if (mlen >= sizeof(err->message))
        mlen = sizeof(err->message) - 1;
    memcpy(err->message, payload + pos, mlen);
    err->message[mlen] = '\0';
    return 0;
}

size_t mysql_build_err(uint8_t *out, size_t outlen, uint8_t seq, uint16_t code,
                       const char *sqlstate, const char *message)
{
    size_t mlen = strlen(message);
    if (outlen < 13)
        return 0;
    if (mlen > outlen - 13)
        mlen = outlen - 13;
    uint32_t plen = (uint32_t)(9 + mlen);
    mysql_put_header(out, plen, seq);
    out[4] = 0xff;
    put_u16(out + 5, code);
    out[7] = '#';
    memcpy(out + 8, sqlstate ? sqlstate : "HY000", 5);
    memcpy(out + 13, message, mlen);
    return 4 + plen;
}
