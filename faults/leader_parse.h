/* leader_parse.h - pure functions of leader discovery: parsing PD and etcd
 * answers (jansson), mapping an advertised leader to a configured member, and
 * choosing among the members' answers. No I/O, no globals: unit-tested and fuzzed. */
#ifndef DDLP_LEADER_PARSE_H
#define DDLP_LEADER_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A member id as decimal text: uint64 ids exceed 2^53 (and INT64_MAX), so
 * they are never held as double or int64. "18446744073709551615" + NUL. */
#define LEADER_ID_LEN 21

/* What an answer says about the leader. */
struct leader_info {
    char id[LEADER_ID_LEN];     /* decimal member id */
    char *name;                 /* advertised member name ("" if the member has none) */
    char **urls;                /* client URLs, then peer URLs */
    size_t n_urls;
};

void leader_info_free(struct leader_info *li);

/* PD: body of GET /pd/api/v1/leader ({"name","member_id","client_urls","peer_urls"}).
 * Returns 1 with *out filled, 0 if the member knows no leader (JSON null),
 * -1 with a message in err. */
int leader_parse_pd(const char *body, size_t len, struct leader_info *out,
                    char *err, size_t errlen);

/* etcd: body of POST /v3/maintenance/status. */
struct etcd_status {
    char member_id[LEADER_ID_LEN];   /* the member that answered */
    char leader_id[LEADER_ID_LEN];   /* "" while it knows no leader */
    uint64_t raft_term;
    char error[128];                 /* first of "errors" ("etcdserver: no leader"), or "" */
};

/* Returns 0, or -1 with a message in err. */
int leader_parse_etcd_status(const char *body, size_t len, struct etcd_status *out,
                             char *err, size_t errlen);

/* etcd: body of POST /v3/cluster/member/list; fills *out with the member whose
 * ID is id. Returns 1 if found, 0 if id is not in the list, -1 with err. */
int leader_parse_etcd_members(const char *body, size_t len, const char *id,
                              struct leader_info *out, char *err, size_t errlen);

/* A configured endpoint of the group, as the mapping sees it. */
struct leader_endpoint {
    const char *member;
    const char *listen;      /* host:port */
    const char *upstream;    /* host:port */
};

/* The configured member that fronts the leader: the member of an endpoint
 * whose listen (any host if the listen host is a wildcard) or upstream
 * host:port equals one of the leader's URLs; failing that, the member named
 * like the leader. NULL if none. The result points into eps. */
const char *leader_map_member(const struct leader_info *li,
                              const struct leader_endpoint *eps, size_t n_eps);

/* Splits a URL ("http://[::1]:2379/x") into host (no brackets) and port (the
 * scheme's default if absent). Returns 0, or -1 if it is not such a URL. */
int leader_url_hostport(const char *url, char *host, size_t hostlen, unsigned *port);

/* Splits config "host:port" / "[v6]:port". Returns 0 or -1. */
int leader_split_hostport(const char *hostport, char *host, size_t hostlen, unsigned *port);

/* One member's answer: who it says leads, in which raft term (0 if unknown). */
struct leader_vote {
    const char *leader;      /* NULL: this member gave no usable answer */
    uint64_t term;
};

/* Chooses among the answers: the highest term wins (a deposed, partitioned
 * leader still believes in itself, in an older term); within it the leader
 * most members name; a tie keeps `previous`, else the earliest answer.
 * Returns the index of a winning vote, or -1 if no vote names a leader. */
int leader_pick(const struct leader_vote *votes, size_t n, const char *previous);

#endif
