/* stats.h - live counters for 'stats', 'conn list' and 'endpoint list'
 * (built on the loop thread from the sessions and endpoints themselves). */
#ifndef DDLP_STATS_H
#define DDLP_STATS_H

#include <jansson.h>

/* {"uptime_s","version","sessions":{...},"endpoints":{...},"ddl":{...},"faults":{...}} */
json_t *stats_json(void);
void stats_mark_start(void);
/* [{"id","kind":"mysql|relay","endpoint","client","upstream","state","since",
 *   "bytes_up","bytes_down", mysql: "user","db","backend_conn_id","command","tls"}] */
json_t *conn_list_json(void);
/* [{"name","group","member","role","listen","upstream","conns_open","conns_total",
 *   "bytes_up","bytes_down","fault_hits","faults":[ids]}] */
json_t *endpoint_list_json(void);

#endif
