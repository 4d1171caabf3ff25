/* stats.c - live counters for the admin socket, gathered from their owners. */
#include "conf.h"
#include "stats.h"

#include <time.h>

#include "clock.h"
#include "ddl_registry.h"
#include "endpoint.h"
#include "fault.h"
#include "mysql_session.h"
#include "relay.h"

static int64_t started_wall_us;

void stats_mark_start(void)
{
    started_wall_us = clock_wall_us();
}

static json_t *endpoint_json(const struct endpoint *ep)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                     "name", ep->name, "group", ep->group, "member", ep->member,
                     "role", ep->role == ROLE_PEER ? "peer" : "client",
                     "listen", ep->listen, "upstream", ep->upstream,
                     "conns_open", (json_int_t)ep->stats.conns_open,
                     "conns_total", (json_int_t)ep->stats.conns_total,
                     "conns_refused", (json_int_t)ep->stats.conns_refused,
                     "connect_errors", (json_int_t)ep->stats.connect_errors,
                     "bytes_up", (json_int_t)ep->stats.bytes_up,
                     "bytes_down", (json_int_t)ep->stats.bytes_down,
                     "fault_hits", (json_int_t)ep->stats.fault_hits);
}

json_t *endpoint_list_json(void)
{
    json_t *arr = json_array();
    for (struct endpoint *ep = endpoint_first(); ep; ep = ep->next)
        json_array_append_new(arr, endpoint_json(ep));
    return arr;
}

json_t *conn_list_json(void)
{
    json_t *arr = json_array();
    for (struct relay *r = relay_first(); r; r = r->next)
        json_array_append_new(arr, relay_describe(r));
    return arr;
}

json_t *stats_json(void)
{
    uint64_t up = 0, down = 0, open = 0, total = 0, hits = 0;
    for (struct endpoint *ep = endpoint_first(); ep; ep = ep->next) {
        if (ep->is_mysql)
            continue;
        up += ep->stats.bytes_up;
        down += ep->stats.bytes_down;
        open += ep->stats.conns_open;
        total += ep->stats.conns_total;
        hits += ep->stats.fault_hits;
    }
    struct endpoint *m = endpoint_find(ENDPOINT_MYSQL);
    json_t *mysql = mysql_sessions_stats_json();
    if (m) {
        json_object_set_new(mysql, "bytes_up", json_integer((json_int_t)m->stats.bytes_up));
        json_object_set_new(mysql, "bytes_down", json_integer((json_int_t)m->stats.bytes_down));
        json_object_set_new(mysql, "fault_hits", json_integer((json_int_t)m->stats.fault_hits));
    }
    char since[40];
    json_t *faults = fault_list_json();
    json_t *o = json_pack("{s:s, s:s, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:I}",
                          "version", PACKAGE_VERSION,
                          "started_at", clock_format_rfc3339(started_wall_us, since, sizeof(since)),
                          "uptime_s", (json_int_t)((clock_wall_us() - started_wall_us) / 1000000),
                          "sessions", mysql,
                          "relays", "conns_open", (json_int_t)open, "conns_total", (json_int_t)total,
                          "bytes_up", (json_int_t)up, "bytes_down", (json_int_t)down,
                          "fault_hits", (json_int_t)hits,
                          "ddl", ddl_registry_stats_json(),
                          "faults_active", (json_int_t)json_array_size(faults));
    json_decref(faults);
    return o;
}
