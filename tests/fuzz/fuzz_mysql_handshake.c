/* fuzz_mysql_handshake.c - libFuzzer target for the connection-phase parsers
 * and rewriters (proxy/mysql_handshake.c). The same input is tried as
 *  - a server greeting: parse, rewrite (offer TLS = size bit 0), and check that
 *    only the capability fields changed and that a re-parse sees exactly the
 *    expected capabilities;
 *  - a HandshakeResponse41 / SSLRequest, for a MySQL and a MariaDB server:
 *    parse, rewrite (server leg TLS = size bit 1) and re-parse (user, db and
 *    plugin unchanged), build the proxy's SSLRequest from it;
 *    the rewrite is also applied to the unparsed bytes, as the session does
 *    with the response that follows a TLS switch;
 *  - a COM_CHANGE_USER, with and without CLIENT_SECURE_CONNECTION, into small
 *    buffers guarded by canaries.
 * Every call gets a heap copy of exactly the input's size.
 *
 * fuzz-sources: proxy/mysql_handshake.c proxy/mysql_packet.c
 * Run through tests/fuzz/run.sh (see tests/fuzz/README.md). */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_handshake.h"
#include "mysql_packet.h"
#include "mysql_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "property violated: %s\n", what);
        abort();
    }
}

static uint8_t *copy_of(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

static int terminated(const char *s, size_t n)
{
    return memchr(s, '\0', n) != NULL;
}

/* Is byte i inside one of the capability fields the rewrite may change? */
static int in_caps_field(const struct mysql_greeting *g, size_t i)
{
    if (i >= g->caps_lo_off && i < g->caps_lo_off + 2)
        return 1;
    if (g->caps_hi_off && i >= g->caps_hi_off && i < g->caps_hi_off + 2)
        return 1;
    return g->has_mariadb_caps && i >= g->mariadb_caps_off && i < g->mariadb_caps_off + 4;
}

static void fuzz_greeting(const uint8_t *data, size_t size, bool offer_tls)
{
    uint8_t *p = copy_of(data, size);
    if (!p)
        return;
    struct mysql_greeting g;
    const char *why = NULL;
    if (mysql_parse_greeting(p, size, &g, &why) != 0) {
        check(why != NULL, "a refused greeting says why");
        free(p);
        return;
    }
    check(terminated(g.server_version, sizeof(g.server_version)), "server version terminated");
    check(terminated(g.auth_plugin, sizeof(g.auth_plugin)), "auth plugin terminated");
    check(g.caps_lo_off + 2 <= size, "lower caps inside the packet");
    check(!g.caps_hi_off || g.caps_hi_off + 2 <= size, "upper caps inside the packet");
    check(!g.has_mariadb_caps || g.mariadb_caps_off + 4 <= size, "MariaDB caps inside the packet");

    mysql_rewrite_greeting(p, &g, offer_tls);
    for (size_t i = 0; i < size; i++)
        if (!in_caps_field(&g, i))
            check(p[i] == data[i], "rewrite changes only capability fields");

    uint32_t want = g.caps & ~PROXY_UNSUPPORTED_CAPS;
    want = offer_tls ? want | CLIENT_SSL : want & ~CLIENT_SSL;
    if (!g.caps_hi_off)
        want = (want & 0xffffu) | (g.caps & 0xffff0000u);
    struct mysql_greeting g2;
    check(mysql_parse_greeting(p, size, &g2, &why) == 0, "rewritten greeting parses");
    check(g2.caps == want, "rewritten capabilities as expected");
    check(g2.caps_lo_off == g.caps_lo_off && g2.caps_hi_off == g.caps_hi_off, "same layout after rewrite");
    if (g.has_mariadb_caps)
        check(g2.mariadb_caps == (g.mariadb_caps & ~PROXY_UNSUPPORTED_MARIADB_CAPS),
              "rewritten MariaDB capabilities as expected");
    free(p);
}

static void fuzz_response(const uint8_t *data, size_t size, bool mariadb, bool backend_tls)
{
    uint8_t *p = copy_of(data, size);
    if (!p)
        return;
    /* as after a TLS switch: the rewrite runs on whatever the client sent */
    mysql_rewrite_response(p, size, mariadb, backend_tls);
    free(p);

    p = copy_of(data, size);
    if (!p)
        return;
    struct mysql_response r;
    const char *why = NULL;
    if (mysql_parse_response(p, size, mariadb, &r, &why) != 0) {
        check(why != NULL, "a refused response says why");
        free(p);
        return;
    }
    check(terminated(r.user, sizeof(r.user)) && terminated(r.db, sizeof(r.db))
          && terminated(r.auth_plugin, sizeof(r.auth_plugin)), "names terminated");
    check(r.ssl_request == (size == 32), "SSLRequest iff 32 bytes");

    uint8_t ssl[32];
    mysql_build_ssl_request(ssl, &r, mariadb);
    struct mysql_response rs;
    check(mysql_parse_response(ssl, sizeof(ssl), mariadb, &rs, &why) == 0 && rs.ssl_request,
          "the proxy's SSLRequest parses");
    check(!(rs.caps & PROXY_UNSUPPORTED_CAPS), "the proxy's SSLRequest drops unsupported caps");

    mysql_rewrite_response(p, size, mariadb, backend_tls);
    uint32_t want = r.caps & ~PROXY_UNSUPPORTED_CAPS;
    want = backend_tls ? want | CLIENT_SSL : want & ~CLIENT_SSL;
    check(get_u32(p) == want, "rewritten capabilities as expected");
    for (size_t i = 4; i < size; i++)
        if (!(i >= 28 && i < 32))
            check(p[i] == data[i], "rewrite changes only capability fields");
    struct mysql_response r2;
    int rc = mysql_parse_response(p, size, mariadb, &r2, &why);
    if (r.ssl_request) {
        check(rc == (backend_tls ? 0 : -1), "SSLRequest valid iff CLIENT_SSL kept");
    } else {
        check(rc == 0, "rewritten response parses");
        check(strcmp(r.user, r2.user) == 0 && strcmp(r.db, r2.db) == 0
              && strcmp(r.auth_plugin, r2.auth_plugin) == 0, "rewrite keeps user, db and plugin");
    }
    free(p);
}

static void fuzz_change_user(const uint8_t *data, size_t size, uint32_t caps)
{
    uint8_t *p = copy_of(data, size);
    if (!p)
        return;
    struct { char user[16]; char canary1[8]; char db[8]; char canary2[8]; } out;
    memset(&out, 0x5a, sizeof(out));
    int rc = mysql_parse_change_user(p, size, caps, out.user, sizeof(out.user), out.db, sizeof(out.db));
    static const char canary[8] = { 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a };
    check(memcmp(out.canary1, canary, 8) == 0 && memcmp(out.canary2, canary, 8) == 0,
          "change_user writes only into its buffers");
    if (rc == 0)
        check(terminated(out.user, sizeof(out.user)) && terminated(out.db, sizeof(out.db)),
              "change_user names terminated");
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_greeting(data, size, size & 1);
    fuzz_response(data, size, false, size & 2);
    fuzz_response(data, size, true, size & 2);
    fuzz_change_user(data, size, 0);
    fuzz_change_user(data, size, CLIENT_SECURE_CONNECTION);
    return 0;
}
