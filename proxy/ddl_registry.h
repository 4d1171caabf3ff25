/* ddl_registry.h - DDL records: created when a DDL, account or ADMIN DDL
 * statement is forwarded, completed when the client gets its answer, fed by
 * the tracker thread in between, written to the latency log when done.
 * Loop thread only. */
#ifndef DDLP_DDL_REGISTRY_H
#define DDLP_DDL_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ev.h>
#include <jansson.h>

struct config;

/* Installs the session observer, opens cfg->ddl_log, starts the tracker thread.
 * cfg must outlive the registry. */
int ddl_registry_init(struct ev_loop *loop, const struct config *cfg, char *err, size_t errlen);
/* Finishes every active record with result "shutdown", writes them, stops the tracker. */
void ddl_registry_shutdown(void);

/* Newest first: at most last records (<= 0: all kept), only unfinished ones if active_only. */
json_t *ddl_registry_list_json(bool active_only, int last);
/* The record as logged, plus "state", "schema_state", "since", "active". NULL if unknown. */
json_t *ddl_registry_show_json(uint64_t id);
/* {"active","finished_kept","total","by_result":{..},"stuck_events","polls","poll_errors",
 *  "queries","last_poll_ms","tracker":{"connected","flavor","server_version"},"log":{..}} */
json_t *ddl_registry_stats_json(void);

/* Reopens the latency log (logrotate). 0 or -1 (logged). */
int ddl_log_reopen(void);

#endif
