/* mysql_handshake.h - the connection phase: the server greeting
 * (Protocol::HandshakeV10), the client's SSLRequest / HandshakeResponse41 and
 * COM_CHANGE_USER. Parsing and in-place capability rewriting; pure functions. */
#ifndef DDLP_MYSQL_HANDSHAKE_H
#define DDLP_MYSQL_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* MariaDB extended capabilities (greeting/response bytes the MySQL spec calls reserved). */
#define MARIADB_CLIENT_PROGRESS        (1u << 0)
#define MARIADB_CLIENT_COM_MULTI       (1u << 1)
#define MARIADB_CLIENT_STMT_BULK       (1u << 2)
#define MARIADB_CLIENT_EXTENDED_META   (1u << 3)
#define MARIADB_CLIENT_CACHE_METADATA  (1u << 4)
/* COM_MULTI batches and cached metadata change the framing the proxy follows. */
#define PROXY_UNSUPPORTED_MARIADB_CAPS (MARIADB_CLIENT_COM_MULTI | MARIADB_CLIENT_CACHE_METADATA)

struct mysql_greeting {
    uint8_t protocol;
    char server_version[128];
    uint32_t conn_id;
    uint32_t caps;                  /* lower | upper << 16 */
    uint32_t mariadb_caps;          /* valid if has_mariadb_caps */
    bool has_mariadb_caps;
    uint8_t charset;
    uint16_t status;
    char auth_plugin[64];
    /* offsets within the payload, for rewriting */
    size_t caps_lo_off, caps_hi_off, mariadb_caps_off;
};

/* payload: the greeting packet's payload. Returns 0, or -1 with why. */
int mysql_parse_greeting(const uint8_t *payload, size_t len, struct mysql_greeting *g,
                         const char **why);
/* Clears what the proxy does not implement and sets/clears CLIENT_SSL as the
 * proxy offers TLS to clients. Modifies payload in place. */
void mysql_rewrite_greeting(uint8_t *payload, const struct mysql_greeting *g, bool offer_tls);

struct mysql_response {
    uint32_t caps;
    uint32_t max_packet;
    uint8_t charset;
    uint32_t mariadb_caps;
    bool ssl_request;               /* 32-byte SSLRequest: nothing follows the filler */
    char user[256];
    char db[256];
    char auth_plugin[64];
};

/* HandshakeResponse41 or SSLRequest. Returns 0, or -1 with why. */
int mysql_parse_response(const uint8_t *payload, size_t len, bool server_is_mariadb,
                         struct mysql_response *r, const char **why);
/* Clears unsupported capabilities; sets CLIENT_SSL when the server leg is TLS. */
void mysql_rewrite_response(uint8_t *payload, size_t len, bool server_is_mariadb, bool backend_tls);
/* The 32-byte SSLRequest payload the proxy sends on the server leg. */
void mysql_build_ssl_request(uint8_t out[32], const struct mysql_response *r, bool server_is_mariadb);

/* COM_CHANGE_USER payload (command byte included): user and schema. */
int mysql_parse_change_user(const uint8_t *payload, size_t len, uint32_t client_caps,
                            char *user, size_t userlen, char *db, size_t dblen);

#endif
