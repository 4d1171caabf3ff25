/* conf.h - the configuration: one table of keys per section kind (config.c),
 * used by file load, --check, command-line overrides and the docs check. */
#ifndef DDLP_CONF_H
#define DDLP_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum flavor { FLAVOR_AUTO = 0, FLAVOR_TIDB, FLAVOR_MYSQL };
enum backend_tls { BACKEND_TLS_DISABLE = 0, BACKEND_TLS_PREFER, BACKEND_TLS_REQUIRE };
enum track_mode { TRACK_PROXIED = 0, TRACK_ALL };
enum leader_kind { LEADER_NONE = 0, LEADER_PD, LEADER_ETCD };
enum endpoint_role { ROLE_CLIENT = 0, ROLE_PEER };

struct group_conf {
    char *name;
    enum leader_kind leader;
    int line;
};

struct endpoint_conf {
    char *name;
    char *group;
    char *member;
    enum endpoint_role role;
    char *listen;             /* host:port */
    char *upstream;           /* host:port */
    char *address;            /* the member's own source address (partition); default: upstream host */
    int64_t connect_timeout_ms;
    int line;
};

/* A [fault NAME] section: its keys are the words of 'fault add' (target, action, k=v). */
struct fault_conf {
    char *name;
    char *target;
    char *action;
    char *params;             /* "k=v k=v" built from the other keys, in file order */
    int line;
};

struct config {
    char *path;

    /* [proxy] */
    char *listen;
    char *backend;
    enum flavor flavor;
    char *tls_cert;
    char *tls_key;
    enum backend_tls backend_tls;
    char *backend_ca;
    int64_t max_connections;
    int64_t connect_timeout_ms;
    int64_t buffer_size;
    int64_t max_inspect;
    int64_t shutdown_timeout_ms;
    char *log;
    char *log_level;
    char *ddl_log;

    /* [admin] */
    char *admin_socket;
    char *admin_listen;
    char *admin_token;

    /* [tracker] */
    char *tracker_user;
    char *tracker_password;
    int64_t poll_interval_ms;
    int64_t stuck_after_ms;
    int64_t tracker_timeout_ms;
    enum track_mode track;
    int64_t history_jobs;

    struct group_conf *groups;
    size_t n_groups;
    struct endpoint_conf *endpoints;
    size_t n_endpoints;
    struct fault_conf *faults;
    size_t n_faults;

    uint64_t seed;
    bool seed_set;
};

/* Fills defaults. */
void config_init(struct config *cfg);
/* Loads FILE over the defaults. On error writes "FILE:LINE: key 'k': why" into err. */
int config_load(struct config *cfg, const char *path, char *err, size_t errlen);
/* Sets one key of [proxy]/[admin]/[tracker] ("proxy.listen" or "listen"): command-line overrides. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen);
/* Cross-key checks after load and overrides (TLS pairs, admin exposure, endpoint references). */
int config_validate(const struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

const struct group_conf *config_group(const struct config *cfg, const char *name);

/* Durations: "250" (ms), "250ms", "1.5s", "2m", "100us". Returns 0 and sets *us. */
int parse_duration_us(const char *s, int64_t *us);
/* Sizes: "1024", "64k", "1KiB", "1MiB", "1MB", "2g". */
int parse_size(const char *s, int64_t *bytes);

/* The documented key names of a section kind, NULL-terminated (for the docs check). */
const char *const *config_key_names(const char *section_kind);

#endif
