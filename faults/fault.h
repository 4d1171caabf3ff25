/* fault.h - the fault table: parsing 'fault add' specs, the pending / active /
 * expired lifecycle (after=, duration=), target resolution (endpoint, member:,
 * group:, leader:, all, client=CIDR, new_only, probability) and the effect the
 * active faults have on each live connection.
 * Everything here runs on the event loop thread. */
#ifndef DDLP_FAULT_H
#define DDLP_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ev.h>
#include <jansson.h>

#include "endpoint.h"
#include "shaper.h"

enum fault_dir { DIR_UP = 0, DIR_DOWN = 1 };   /* up: client -> upstream */

/* What a new connection gets at accept time. */
enum accept_verdict {
    ACCEPT_OK = 0,
    ACCEPT_REFUSE,        /* close at once (RST) */
    ACCEPT_RESET,         /* RST at once */
    ACCEPT_HANG,          /* accept and hold silent, never connect upstream */
};

struct fault_dir_effect {
    bool stall;                  /* stop reading and writing: nothing passes, nothing lost */
    bool blackhole;              /* read and discard */
    struct shape_params shape;   /* delay / bandwidth / slice; all zero: none */
    int64_t close_after_bytes;   /* -1: none; close once this many bytes passed (since the fault began) */
};

struct fault_conn_effect {
    struct fault_dir_effect dir[2];
    bool reset;                  /* RST and close now */
    int64_t close_at_us;         /* monotonic deadline to close the connection, 0: none */
    int64_t slow_close_us;       /* delay propagating a close by this much, 0: none */
    bool close_when_healed;      /* a blackhole broke the stream: close when it ends */
};

/* A live connection, as the fault table sees it. Owned by the connection;
 * the table links it in while attached. */
struct fault_subject {
    struct endpoint *endpoint;
    struct sockaddr_storage client;      /* peer address of the accepted socket */
    socklen_t client_len;
    uint64_t serial;                     /* ordinal of the connection on its endpoint */
    uint64_t opened_us;                  /* monotonic */
    /* Called whenever the effect on this connection changes (also from attach).
     * It may detach its own subject (e.g. to close on reset), no other one.
     * A bucket pointer in the effect stays valid until the next apply. */
    void (*apply)(struct fault_subject *s, const struct fault_conn_effect *e);
    /* table-private */
    struct fault_subject *prev, *next;
    bool hit;                            /* some fault acted on it (counted once) */
    struct fault_conn_effect effect;     /* the effect last given to apply */
};

/* seed 0: draw one from the kernel and log it, so the run can be replayed
 * with --seed. The seed makes probability= draws and jitter reproducible. */
int faults_init(struct ev_loop *loop, uint64_t seed);
void faults_shutdown(void);
uint64_t faults_seed(void);

/* How the table finds endpoints: the daemon passes fault_env_endpoints()
 * (endpoint.c), unit tests pass fakes. Must be set before the first fault_add;
 * kept across faults_shutdown/faults_init. */
struct fault_env {
    struct endpoint *(*find)(const char *name);
    struct endpoint *(*first)(void);          /* iterate with ->next */
    bool (*group_exists)(const char *group);
    bool (*member_exists)(const char *member);
};
void faults_set_env(const struct fault_env *env);

static inline struct fault_env fault_env_endpoints(void)
{
    struct fault_env env = {endpoint_find, endpoint_first, endpoint_group_exists,
                            endpoint_member_exists};
    return env;
}

/* The config, for leader:GROUP checks (the group must have leader discovery).
 * Without one, that check is skipped. The table keeps the pointer. */
void faults_set_config(const struct config *cfg);
/* Adds the [fault NAME] sections (NAME becomes the id). leader: targets may
 * name a group whose leader is not known yet: they resolve when discovery
 * reports. Errors read "FILE:LINE: [fault NAME]: why"; on error none of the
 * config faults stay. */
int faults_add_from_config(const struct config *cfg, char *err, size_t errlen);

enum accept_verdict fault_on_accept(struct endpoint *ep, const struct sockaddr *client,
                                    socklen_t len, uint64_t serial);
void fault_subject_attach(struct fault_subject *s);
void fault_subject_detach(struct fault_subject *s);

/* 'fault add TARGET ACTION k=v ...' split in words. Returns the new fault's id
 * ("f1", or name=) in *id_out, or -1 with a clear message in err; nothing is
 * changed on error. */
int fault_add(int argc, char **argv, char *id_out, size_t idlen, char *err, size_t errlen);
int fault_del(const char *id, char *err, size_t errlen);
/* Removes the faults whose target is written TARGET ("pd1", "member:pd1",
 * "leader:pd"); NULL or "all": every fault. Returns how many were removed. */
int fault_clear(const char *target);
json_t *fault_list_json(void);

/* For DDL records: faults active at any moment in [from_us, to_us] (wall clock),
 * as [{"id","action","target","from","to"}] (to null while still active). */
json_t *fault_windows_json(int64_t from_wall_us, int64_t to_wall_us);

/* Leader discovery tells the table that GROUP's leader is now MEMBER (NULL or
 * "": unknown; faults keep their member until a new leader is known). */
void fault_leader_changed(const char *group, const char *member);

#endif
