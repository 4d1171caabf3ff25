/* mysql_handshake.c - connection-phase packets. */
#include "mysql_handshake.h"

#include <string.h>

#include "mysql_packet.h"
#include "mysql_proto.h"

/* Copies a NUL-terminated field starting at *pos; fails if unterminated. */
static int take_cstr(const uint8_t *p, size_t len, size_t *pos, char *out, size_t outlen)
{
    const uint8_t *nul = memchr(p + *pos, 0, len - *pos);
    if (!nul)
        return -1;
    size_t n = (size_t)(nul - (p + *pos));
    if (out) {
        size_t c = n < outlen - 1 ? n : outlen - 1;
        memcpy(out, p + *pos, c);
        out[c] = '\0';
    }
    *pos += n + 1;
    return 0;
}

int mysql_parse_greeting(const uint8_t *p, size_t len, struct mysql_greeting *g, const char **why)
{
    memset(g, 0, sizeof(*g));
    if (len < 1) {
        *why = "empty greeting";
        return -1;
    }
    g->protocol = p[0];
    if (p[0] == 0xff) {
        *why = "server refused the connection";
        return -1;
    }
    if (p[0] != 10) {
        *why = "unsupported protocol version in greeting (want 10)";
        return -1;
    }
    size_t pos = 1;
    if (take_cstr(p, len, &pos, g->server_version, sizeof(g->server_version)) != 0) {
        *why = "greeting: unterminated server version";
        return -1;
    }
    if (len < pos + 4 + 8 + 1 + 2) {
        *why = "greeting truncated";
        return -1;
    }
    g->conn_id = get_u32(p + pos);
    pos += 4 + 8 + 1;                /* auth data part 1 and filler */
    g->caps_lo_off = pos;
    g->caps = get_u16(p + pos);
    pos += 2;
    if (len >= pos + 1 + 2 + 2 + 1 + 10) {
        g->charset = p[pos];
        g->status = get_u16(p + pos + 1);
        g->caps_hi_off = pos + 3;
        g->caps |= (uint32_t)get_u16(p + pos + 3) << 16;
        uint8_t auth_len = p[pos + 5];
        pos += 6;
        if (!(g->caps & CLIENT_LONG_PASSWORD)) {   /* MariaDB: not "CLIENT_MYSQL" */
            g->has_mariadb_caps = true;
            g->mariadb_caps_off = pos + 6;
            g->mariadb_caps = get_u32(p + pos + 6);
        }
        pos += 10;
        if (g->caps & CLIENT_SECURE_CONNECTION) {
            size_t part2 = auth_len > 8 ? (size_t)auth_len - 8 : 13;
            if (part2 < 13)
                part2 = 13;
            if (len < pos + part2) {
                *why = "greeting truncated in auth data";
                return -1;
            }
            pos += part2;
        }
        if (g->caps & CLIENT_PLUGIN_AUTH && pos < len) {
            /* some servers omit the terminating NUL at the end of the packet */
            size_t n = len - pos;
            const uint8_t *nul = memchr(p + pos, 0, n);
            if (nul)
                n = (size_t)(nul - (p + pos));
            if (n >= sizeof(g->auth_plugin))
                n = sizeof(g->auth_plugin) - 1;
            memcpy(g->auth_plugin, p + pos, n);
        }
    }
    return 0;
}

void mysql_rewrite_greeting(uint8_t *p, const struct mysql_greeting *g, bool offer_tls)
{
    uint32_t caps = g->caps & ~PROXY_UNSUPPORTED_CAPS;
    if (offer_tls)
        caps |= CLIENT_SSL;
    else
        caps &= ~CLIENT_SSL;
    put_u16(p + g->caps_lo_off, (uint16_t)caps);
    if (g->caps_hi_off)
        put_u16(p + g->caps_hi_off, (uint16_t)(caps >> 16));
    if (g->has_mariadb_caps)
        put_u32(p + g->mariadb_caps_off, g->mariadb_caps & ~PROXY_UNSUPPORTED_MARIADB_CAPS);
}

int mysql_parse_response(const uint8_t *p, size_t len, bool server_is_mariadb,
                         struct mysql_response *r, const char **why)
{
    memset(r, 0, sizeof(*r));
    if (len < 4) {
        *why = "handshake response truncated";
        return -1;
    }
    r->caps = get_u32(p);
    if (!(r->caps & CLIENT_PROTOCOL_41)) {
        *why = "client uses the pre-4.1 handshake, which is not supported";
        return -1;
    }
    if (len < 32) {
        *why = "handshake response truncated";
        return -1;
    }
    r->max_packet = get_u32(p + 4);
    r->charset = p[8];
    if (server_is_mariadb && !(r->caps & CLIENT_LONG_PASSWORD))
        r->mariadb_caps = get_u32(p + 28);
    if (len == 32) {
        r->ssl_request = true;
        if (!(r->caps & CLIENT_SSL)) {
            *why = "32-byte handshake response without CLIENT_SSL";
            return -1;
        }
        return 0;
    }
    size_t pos = 32;
    if (take_cstr(p, len, &pos, r->user, sizeof(r->user)) != 0) {
        *why = "handshake response: unterminated user name";
        return -1;
    }
    if (r->caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
        uint64_t n;
        size_t used = mysql_lenenc_get(p + pos, len - pos, &n);
        if (!used || n > len - pos - used) {
            *why = "handshake response: bad auth data length";
            return -1;
        }
        pos += used + (size_t)n;
    } else if (r->caps & CLIENT_SECURE_CONNECTION) {
        if (pos >= len || p[pos] > len - pos - 1) {
            *why = "handshake response: bad auth data length";
            return -1;
        }
        pos += 1 + p[pos];
    } else if (take_cstr(p, len, &pos, NULL, 0) != 0) {
        *why = "handshake response: unterminated auth data";
        return -1;
    }
    if (r->caps & CLIENT_CONNECT_WITH_DB && pos < len) {
        if (take_cstr(p, len, &pos, r->db, sizeof(r->db)) != 0) {
            *why = "handshake response: unterminated database name";
            return -1;
        }
    }
    if (r->caps & CLIENT_PLUGIN_AUTH && pos < len)
        take_cstr(p, len, &pos, r->auth_plugin, sizeof(r->auth_plugin));
    return 0;
}

void mysql_rewrite_response(uint8_t *p, size_t len, bool server_is_mariadb, bool backend_tls)
{
    if (len < 4)
        return;                 /* no capability field to rewrite: the server refuses it */
    uint32_t caps = get_u32(p) & ~PROXY_UNSUPPORTED_CAPS;
    if (backend_tls)
        caps |= CLIENT_SSL;
    else
        caps &= ~CLIENT_SSL;
    put_u32(p, caps);
    if (server_is_mariadb && !(caps & CLIENT_LONG_PASSWORD) && len >= 32)
        put_u32(p + 28, get_u32(p + 28) & ~PROXY_UNSUPPORTED_MARIADB_CAPS);
}

void mysql_build_ssl_request(uint8_t out[32], const struct mysql_response *r, bool server_is_mariadb)
{
    memset(out, 0, 32);
    put_u32(out, (r->caps & ~PROXY_UNSUPPORTED_CAPS) | CLIENT_SSL);
    put_u32(out + 4, r->max_packet);
    out[8] = r->charset;
    if (server_is_mariadb && !(r->caps & CLIENT_LONG_PASSWORD))
        put_u32(out + 28, r->mariadb_caps & ~PROXY_UNSUPPORTED_MARIADB_CAPS);
}

int mysql_parse_change_user(const uint8_t *p, size_t len, uint32_t client_caps,
                            char *user, size_t userlen, char *db, size_t dblen)
{
    if (len < 1 || p[0] != COM_CHANGE_USER)
        return -1;
    size_t pos = 1;
    if (take_cstr(p, len, &pos, user, userlen) != 0)
        return -1;
    if (client_caps & CLIENT_SECURE_CONNECTION) {
        if (pos >= len || p[pos] > len - pos - 1)
            return -1;
        pos += 1 + p[pos];
    } else if (take_cstr(p, len, &pos, NULL, 0) != 0) {
        return -1;
    }
    db[0] = '\0';
    if (pos < len && take_cstr(p, len, &pos, db, dblen) != 0)
        return -1;
    return 0;
}
