/* admin_commands.h - the admin command table and its handlers: the one place
 * where admin commands meet the rest of the proxy (faults, DDL registry,
 * stats, logs). Runs on the event loop thread. */
#ifndef DDLP_ADMIN_COMMANDS_H
#define DDLP_ADMIN_COMMANDS_H

#include <stddef.h>
#include <jansson.h>

#include "admin_line.h"

/* Runs one command split into words (argc >= 1). Returns the reply object,
 * {"ok":true,...} or {"ok":false,"error":...}; NULL only when out of memory. */
json_t *admin_commands_run(int argc, char **argv);

/* The Prometheus text for 'GET /metrics' (malloc'd), NULL when out of memory. */
char *admin_commands_metrics(void);

/* The command table (for 'help' and the documentation check). */
const struct admin_command *admin_commands_table(size_t *n);

#endif
