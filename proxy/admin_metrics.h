/* admin_metrics.h - Prometheus text exposition (format 0.0.4) of the live
 * counters, for 'GET /metrics' on the admin port. Pure: renders the JSON that
 * stats_json() and endpoint_list_json() produce, so it is tested without a
 * running proxy. */
#ifndef DDLP_ADMIN_METRICS_H
#define DDLP_ADMIN_METRICS_H

#include <jansson.h>

/* Every number (and boolean, as 0/1) in stats becomes ddlproxy_<path>
 * (object keys joined with '_', other characters mapped to '_'); a top-level
 * "version" string becomes ddlproxy_build_info{version="..."} 1. Each numeric
 * field of each endpoint becomes ddlproxy_endpoint_<field>{endpoint,group,
 * member,role}. Either argument may be NULL. Returns a malloc'd text, or NULL
 * when out of memory. */
char *admin_metrics_render(const json_t *stats, const json_t *endpoints);

#endif
