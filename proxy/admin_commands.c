/* admin_commands.c - one row per admin command ({name, args, usage, help,
 * handler}) and the handlers, which turn the proxy's own JSON views into
 * replies. Parsing of the words is in admin_line.c; sockets in admin.c. */
#include "admin_commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin_metrics.h"
#include "ddl_log.h"
#include "ddl_registry.h"
#include "fault.h"
#include "leader.h"
#include "log.h"
#include "stats.h"

static json_t *cmd_help(int argc, char **argv);

static json_t *cmd_version(int argc, char **argv)
{
    return admin_reply_ok("version", json_string(PACKAGE_VERSION));
}

/* Wraps a module's JSON view in a reply; NULL from the module means it has
 * nothing to report (e.g. not started), which the user should hear about. */
static json_t *reply_view(const char *key, json_t *view, const char *what)
{
    if (!view)
        return admin_reply_error("%s unavailable (out of memory or not started)", what);
    return admin_reply_ok(key, view);
}

static json_t *cmd_stats(int argc, char **argv)
{
    return reply_view("stats", stats_json(), "stats");
}

static json_t *cmd_conn_list(int argc, char **argv)
{
    return reply_view("conns", conn_list_json(), "connection list");
}

static json_t *cmd_endpoint_list(int argc, char **argv)
{
    return reply_view("endpoints", endpoint_list_json(), "endpoint list");
}

static json_t *cmd_leader(int argc, char **argv)
{
    json_t *status = leader_status_json(argv[0]);
    if (!status)
        return admin_reply_error("unknown group '%.64s' (groups are the [group NAME] sections of the config)",
                                 argv[0]);
    return admin_reply_ok("leader", status);
}

static json_t *cmd_fault_add(int argc, char **argv)
{
    char id[128];
    char err[512];

    /* Joined before fault_add, which may rewrite the words it parses. */
    char *spec = admin_join_words(argc, argv);
    if (fault_add(argc, argv, id, sizeof(id), err, sizeof(err)) != 0) {
        free(spec);
        return admin_reply_error("%s", err);
    }
    log_info("admin: fault %s added: %s", id, spec ? spec : "(out of memory)");
    free(spec);
    return admin_reply_ok("id", json_string(id));
}

static json_t *cmd_fault_list(int argc, char **argv)
{
    return reply_view("faults", fault_list_json(), "fault list");
}

static json_t *cmd_fault_del(int argc, char **argv)
{
    char err[512];

    if (fault_del(argv[0], err, sizeof(err)) != 0)
        return admin_reply_error("%s", err);
    log_info("admin: fault %s removed", argv[0]);
    return admin_reply_ok("removed", json_integer(1));
}

static json_t *cmd_fault_clear(int argc, char **argv)
{
    int removed = fault_clear(argc > 0 ? argv[0] : NULL);
    log_info("admin: fault clear%s%s: %d removed", argc > 0 ? " " : "", argc > 0 ? argv[0] : "", removed);
    return admin_reply_ok("removed", json_integer(removed));
}

static json_t *cmd_ddl_list(int argc, char **argv)
{
    bool active_only;
    int last;
    char err[256];

    if (admin_parse_ddl_list_args(argc, argv, &active_only, &last, err, sizeof(err)) != 0)
        return admin_reply_error("%s", err);
    return reply_view("ddls", ddl_registry_list_json(active_only, last), "DDL list");
}

static json_t *cmd_ddl_show(int argc, char **argv)
{
    uint64_t id;

    if (admin_parse_u64(argv[0], UINT64_MAX, &id) != 0)
        return admin_reply_error("a DDL id is a whole number (see 'ddl list'), not '%.64s'", argv[0]);
    json_t *ddl = ddl_registry_show_json(id);
    if (!ddl)
        return admin_reply_error("no DDL with id %" PRIu64 " (see 'ddl list')", id);
    return admin_reply_ok("ddl", ddl);
}

static json_t *cmd_log_reopen(int argc, char **argv)
{
    /* Reopen both even if the first fails, so one bad path does not keep
     * the other log on a rotated-away file. */
    int main_rc = log_reopen();
    int main_errno = errno;
    int ddl_rc = ddl_log_reopen();
    int ddl_errno = errno;

    if (main_rc != 0)
        return admin_reply_error("cannot reopen the main log: %s", strerror(main_errno));
    if (ddl_rc != 0)
        return admin_reply_error("cannot reopen the DDL latency log: %s", strerror(ddl_errno));
    log_info("admin: logs reopened");
    return admin_reply_ok(NULL, NULL);
}

static const struct admin_command commands[] = {
    { "help", 0, 0, "help", "list the commands", cmd_help },
    { "version", 0, 0, "version", "the proxy's version", cmd_version },
    { "stats", 0, 0, "stats", "live counters: sessions, endpoints, DDLs, faults", cmd_stats },
    { "conn list", 0, 0, "conn list", "open client and relay connections", cmd_conn_list },
    { "endpoint list", 0, 0, "endpoint list", "endpoints with their live counters and faults",
      cmd_endpoint_list },
    { "leader", 1, 1, "leader GROUP", "who leads GROUP now, as leader discovery sees it", cmd_leader },
    { "fault add", 2, ADMIN_MAX_ARGS, "fault add TARGET ACTION [k=v ...]",
      "inject a fault; replies with its id", cmd_fault_add },
    { "fault list", 0, 0, "fault list", "faults: pending, active and expired", cmd_fault_list },
    { "fault del", 1, 1, "fault del ID", "remove one fault (its effect ends now)", cmd_fault_del },
    { "fault clear", 0, 1, "fault clear [TARGET]", "remove all faults, or those on TARGET",
      cmd_fault_clear },
    { "ddl list", 0, 2, "ddl list [active] [last=N]", "tracked DDL statements, newest first",
      cmd_ddl_list },
    { "ddl show", 1, 1, "ddl show ID", "one DDL with its transitions and faults", cmd_ddl_show },
    { "log reopen", 0, 0, "log reopen", "reopen the main log and the DDL latency log (after rotation)",
      cmd_log_reopen },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct admin_command *admin_commands_table(size_t *n)
{
    *n = N_COMMANDS;
    return commands;
}

static json_t *cmd_help(int argc, char **argv)
{
    json_t *list = json_array();
    if (!list)
        return NULL;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        json_array_append_new(list, json_pack("{s:s, s:s}", "usage", commands[i].usage,
                                              "help", commands[i].help));
    }
    return admin_reply_ok("commands", list);
}

json_t *admin_commands_run(int argc, char **argv)
{
    char err[512];
    int name_words;
    const struct admin_command *cmd = admin_command_find(commands, N_COMMANDS, argc, argv,
                                                         &name_words, err, sizeof(err));
    if (!cmd)
        return admin_reply_error("%s", err);
    return cmd->handler(argc - name_words, argv + name_words);
}

char *admin_commands_metrics(void)
{
    json_t *stats = stats_json();
    json_t *endpoints = endpoint_list_json();
    char *text = admin_metrics_render(stats, endpoints);
    json_decref(stats);
    json_decref(endpoints);
    return text;
}
