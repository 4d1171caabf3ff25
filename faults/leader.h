/* leader.h - leader discovery for PD and etcd groups.
 *
 * One helper thread per group whose [group] says `leader = pd | etcd` asks
 * every member DIRECTLY at its client endpoint's upstream address (never
 * through the proxy's faulted relays) who leads, every interval and at once
 * when poked. Results reach the loop only through a msgqueue; on a change the
 * loop calls fault_leader_changed(group, member). Everything declared here
 * runs on the loop thread, except leader_poke (any thread). */
#ifndef DDLP_LEADER_H
#define DDLP_LEADER_H

#include <ev.h>
#include <jansson.h>

#include "../proxy/conf.h"

#define LEADER_DEFAULT_INTERVAL_MS 1000

/* Starts the discovery threads (interval_ms 0: the default). Returns 0, or -1
 * after logging why (a group with discovery but no client endpoint to ask,
 * out of memory, thread creation failure); nothing is left running on error. */
int leader_start(struct ev_loop *loop, const struct config *cfg, unsigned interval_ms);

/* Stops and joins the threads promptly, even in the middle of a request. */
void leader_stop(void);

/* Asks GROUP's members again now (a fault on the group changed). Thread-safe;
 * unknown groups and groups without discovery are ignored. */
void leader_poke(const char *group);

/* Last known leader member of GROUP (possibly stale), or NULL. */
const char *leader_member(const char *group);

/* For the admin command `leader GROUP`: {"group","kind","leader","member_id",
 * "since","checked_at","stale","error","members":[...]}. NULL for an unknown
 * group; an object with "error" for a group without discovery. The caller
 * owns the reference. */
json_t *leader_status_json(const char *group);

#endif
