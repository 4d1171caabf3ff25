/* fault_spec.h - parsing and validating the words of 'fault add TARGET ACTION
 * k=v ...' into a struct fault_spec. Pure syntax and value checks: whether the
 * target exists is the fault table's business (fault.c). */
#ifndef DDLP_FAULT_SPEC_H
#define DDLP_FAULT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>

#include "shaper.h"

#define FAULT_ID_MAX 64          /* ids and name= values, NUL included */
#define FAULT_NAME_MAX 128       /* endpoint / member / group names */
#define FAULT_PARAMS_TEXT_MAX 512

enum fault_action {
    FAULT_DELAY = 0,
    FAULT_BANDWIDTH,
    FAULT_STALL,
    FAULT_BLACKHOLE,
    FAULT_REFUSE,
    FAULT_RESET,
    FAULT_HANG_CONNECT,
    FAULT_CLOSE_AFTER,
    FAULT_SLOW_CLOSE,
    FAULT_SLICE,
    FAULT_PARTITION,
};

enum fault_target_kind {
    TARGET_ENDPOINT = 0,         /* NAME */
    TARGET_MEMBER,               /* member:NAME */
    TARGET_GROUP,                /* group:NAME */
    TARGET_LEADER,               /* leader:GROUP */
    TARGET_ALL,                  /* all */
};

struct fault_cidr {
    int family;                  /* AF_INET or AF_INET6 */
    uint8_t addr[16];            /* network byte order, host bits cleared */
    unsigned prefix;
};

struct fault_spec {
    char name[FAULT_ID_MAX];             /* name=, "" when not given */
    enum fault_target_kind target_kind;
    char target[FAULT_NAME_MAX + 8];     /* as written: "leader:pd" */
    char target_name[FAULT_NAME_MAX];    /* without the prefix: "pd" ("" for all) */
    enum fault_action action;
    bool dir[2];                         /* indexed by enum fault_dir */

    /* Common parameters. */
    double probability;                  /* 1: every connection */
    int64_t duration_us;                 /* 0: until deleted */
    int64_t after_us;                    /* 0: start now */
    bool new_only;
    bool follow;                         /* leader targets: move with re-elections */
    bool has_client;
    struct fault_cidr client;

    /* Action parameters (only those of the action are set). */
    int64_t delay_us, jitter_us;
    enum delay_dist distribution;
    double correlation;
    uint64_t rate_bps;
    bool scope_endpoint;
    int64_t close_after_bytes;           /* -1: not given */
    int64_t close_after_us;              /* -1: not given */
    int64_t slow_close_us;
    uint32_t slice_size, slice_delay_us;

    /* The k=v words as given (name= left out), for logs and 'fault list'. */
    char params_text[FAULT_PARAMS_TEXT_MAX];
    json_t *params;                      /* owned: normalised values, see faults.md */
};

/* argv: TARGET ACTION [k=v ...]. Returns 0, or -1 with a message in err (and
 * nothing to free). On success release with fault_spec_free. */
int fault_spec_parse(int argc, char **argv, struct fault_spec *spec, char *err, size_t errlen);
void fault_spec_free(struct fault_spec *spec);

const char *fault_action_name(enum fault_action a);
/* Actions that decide at accept time rather than acting on open connections. */
bool fault_action_is_accept_only(enum fault_action a);

/* "10.0.0.0/8", "127.0.0.2", "::1/128", "fd00::/8". Returns 0 or -1. */
int fault_cidr_parse(const char *s, struct fault_cidr *out);
/* IPv4-mapped IPv6 peers (::ffff:a.b.c.d) match IPv4 networks. */
bool fault_cidr_match(const struct fault_cidr *c, const struct sockaddr *sa, socklen_t len);
/* Same IP (ports ignored; IPv4-mapped IPv6 equals its IPv4 address). */
bool fault_same_ip(const struct sockaddr *a, socklen_t alen,
                   const struct sockaddr *b, socklen_t blen);

#endif
