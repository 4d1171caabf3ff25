/* main.c - command line, start-up order, signals and shutdown. */
#include "conf.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ev.h>
#include <curl/curl.h>

#include "admin.h"
#include "ddl_registry.h"
#include "endpoint.h"
#include "flow.h"
#include "fault.h"
#include "leader.h"
#include "log.h"
#include "mysql_session.h"
#include "relay.h"
#include "stats.h"

#define LEADER_INTERVAL_MS 1000

static struct config cfg;
static ev_timer drain_timer;
static ev_tstamp drain_deadline;
static bool stopping;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ddlproxy -c FILE [-f] [--check] [--seed N] [--listen ADDR] [--backend ADDR]\n"
            "                [--log-level LEVEL] [--set SECTION.KEY=VALUE]...\n"
            "  -c, --config FILE   configuration file (INI; see ddlproxy.conf(5))\n"
            "  -f, --foreground    stay in the foreground (default: detach)\n"
            "      --check         validate the configuration and exit 0 (valid) or 1\n"
            "      --seed N        seed for every random choice (probability, jitter)\n"
            "      --listen ADDR   override [proxy] listen\n"
            "      --backend ADDR  override [proxy] backend\n"
            "      --log-level L   override [proxy] log_level (error|warn|info|debug)\n"
            "      --set K=V       override any [proxy]/[admin]/[tracker] key, e.g. tracker.stuck_after_ms=1000\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this text\n");
}

static void finish_shutdown(struct ev_loop *loop)
{
    mysql_sessions_close_all("shutdown");
    for (struct relay *r = relay_first(), *next; r; r = next) {
        next = r->next;
        relay_close(r, "shutdown", false);
    }
    ddl_registry_shutdown();
    leader_stop();
    admin_stop();
    ev_break(loop, EVBREAK_ALL);
}

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    unsigned left = mysql_session_count();
    if (left == 0 || ev_now(loop) >= drain_deadline) {
        if (left)
            log_warn("shutdown: %u session(s) still busy after %lld ms; closing them",
                     left, (long long)cfg.shutdown_timeout_ms);
        ev_timer_stop(loop, w);
        finish_shutdown(loop);
    }
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    if (w->signum == SIGHUP) {
        log_info("SIGHUP: reopening logs");
        if (log_reopen() != 0)
            log_error("cannot reopen log %s: %s", cfg.log, strerror(errno));
        ddl_log_reopen();
        return;
    }
    if (stopping) {
        log_warn("second %s: exiting now", strsignal(w->signum));
        ev_timer_stop(loop, &drain_timer);
        finish_shutdown(loop);
        return;
    }
    stopping = true;
    log_info("%s: no new connections; waiting up to %lld ms for in-flight commands",
             strsignal(w->signum), (long long)cfg.shutdown_timeout_ms);
    endpoints_stop_accepting();
    unsigned busy = mysql_sessions_drain();
    drain_deadline = ev_now(loop) + (double)cfg.shutdown_timeout_ms / 1000.;
    ev_timer_init(&drain_timer, drain_cb, 0., 0.05);
    ev_timer_start(loop, &drain_timer);
    if (busy == 0)
        drain_cb(loop, &drain_timer, 0);
}

static int parse_args(int argc, char **argv, bool *foreground, bool *check)
{
    enum { OPT_CHECK = 256, OPT_SEED, OPT_LISTEN, OPT_BACKEND, OPT_LOG_LEVEL, OPT_SET };
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "foreground", no_argument, NULL, 'f' },
        { "check", no_argument, NULL, OPT_CHECK },
        { "seed", required_argument, NULL, OPT_SEED },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "backend", required_argument, NULL, OPT_BACKEND },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "set", required_argument, NULL, OPT_SET },
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    struct { const char *key; const char *value; } overrides[64];
    size_t n_over = 0;
    char err[512];
    int c;
    while ((c = getopt_long(argc, argv, "c:fVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'f': *foreground = true; break;
        case OPT_CHECK: *check = true; break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end || end == optarg) {
                fprintf(stderr, "ddlproxy: --seed: '%s' is not a whole number\n", optarg);
                return -1;
            }
            cfg.seed = v;
            cfg.seed_set = true;
            break;
        }
        case OPT_LISTEN:
        case OPT_BACKEND:
        case OPT_LOG_LEVEL:
        case OPT_SET:
            if (n_over == sizeof(overrides) / sizeof(overrides[0])) {
                fprintf(stderr, "ddlproxy: too many overrides\n");
                return -1;
            }
            overrides[n_over].key = c == OPT_LISTEN ? "proxy.listen" : c == OPT_BACKEND ? "proxy.backend"
                                  : c == OPT_LOG_LEVEL ? "proxy.log_level" : NULL;
            overrides[n_over++].value = optarg;
            break;
        case 'V': printf("ddlproxy %s\n", PACKAGE_VERSION); exit(0);
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ddlproxy: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (path && config_load(&cfg, path, err, sizeof(err)) != 0) {
        fprintf(stderr, "ddlproxy: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < n_over; i++) {
        char key[128];
        const char *value = overrides[i].value;
        if (!overrides[i].key) {           /* --set SECTION.KEY=VALUE */
            const char *eq = strchr(value, '=');
            if (!eq || (size_t)(eq - value) >= sizeof(key)) {
                fprintf(stderr, "ddlproxy: --set needs SECTION.KEY=VALUE, got '%s'\n", value);
                return -1;
            }
            memcpy(key, value, (size_t)(eq - value));
            key[eq - value] = '\0';
            value = eq + 1;
        } else {
            snprintf(key, sizeof(key), "%s", overrides[i].key);
        }
        if (config_set(&cfg, key, value, err, sizeof(err)) != 0) {
            fprintf(stderr, "ddlproxy: %s\n", err);
            return -1;
        }
    }
    if (!path && n_over == 0) {
        fprintf(stderr, "ddlproxy: no configuration: use -c FILE (or --listen/--backend)\n");
        usage(stderr);
        return -1;
    }
    if (config_validate(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "ddlproxy: %s\n", err);
        return -1;
    }
    enum log_level lvl;
    if (log_level_parse(cfg.log_level, &lvl) != 0) {
        fprintf(stderr, "ddlproxy: %s: [proxy] key 'log_level': '%s' is not error|warn|info|debug\n",
                cfg.path ? cfg.path : "command line", cfg.log_level);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bool foreground = false, check = false;
    char err[512] = "";
    config_init(&cfg);
    if (parse_args(argc, argv, &foreground, &check) != 0)
        return 1;

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct ev_loop *loop = EV_DEFAULT;

    /* Everything that can be checked without binding a port, for --check too. */
    relays_init(loop, (size_t)cfg.buffer_size);
    if (endpoints_init(loop, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "ddlproxy: %s\n", err);
        return 1;
    }
    struct fault_env env = fault_env_endpoints();
    faults_set_env(&env);
    faults_set_config(&cfg);
    if (faults_init(loop, cfg.seed_set ? cfg.seed : 0) != 0) {
        fprintf(stderr, "ddlproxy: cannot initialise the fault table\n");
        return 1;
    }
    if (faults_add_from_config(&cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "ddlproxy: %s\n", err);
        return 1;
    }
    if (check) {
        printf("%s: configuration OK (%zu endpoint(s), %zu fault(s))\n",
               cfg.path ? cfg.path : "command line", cfg.n_endpoints, cfg.n_faults);
        return 0;
    }

    enum log_level lvl;
    log_level_parse(cfg.log_level, &lvl);
    if (log_open(cfg.log, lvl) != 0) {
        fprintf(stderr, "ddlproxy: cannot open log %s: %s\n", cfg.log, strerror(errno));
        return 1;
    }
    if (!foreground) {
        if (!cfg.log || strcmp(cfg.log, "stderr") == 0)
            fprintf(stderr, "ddlproxy: detaching with log = stderr: messages will be lost (use -f or set log)\n");
        if (daemon(1, 0) != 0) {
            fprintf(stderr, "ddlproxy: cannot detach: %s\n", strerror(errno));
            return 1;
        }
        ev_loop_fork(loop);
    }

    if (mysql_sessions_init(loop, &cfg, err, sizeof(err)) != 0
        || ddl_registry_init(loop, &cfg, err, sizeof(err)) != 0
        || admin_start(loop, &cfg, err, sizeof(err)) != 0
        || endpoints_start_all(err, sizeof(err)) != 0
        || leader_start(loop, &cfg, LEADER_INTERVAL_MS) != 0) {
        log_error("%s", err[0] ? err : "start-up failed");
        if (!foreground || (cfg.log && strcmp(cfg.log, "stderr") != 0))
            fprintf(stderr, "ddlproxy: %s\n", err[0] ? err : "start-up failed");
        admin_stop();
        return 1;
    }
    stats_mark_start();

    ev_signal sig_term, sig_int, sig_hup;
    ev_signal_init(&sig_term, signal_cb, SIGTERM);
    ev_signal_init(&sig_int, signal_cb, SIGINT);
    ev_signal_init(&sig_hup, signal_cb, SIGHUP);
    ev_signal_start(loop, &sig_term);
    ev_signal_start(loop, &sig_int);
    ev_signal_start(loop, &sig_hup);
    log_info("ddlproxy %s started: MySQL %s -> %s, %zu endpoint(s), seed %" PRIu64,
             PACKAGE_VERSION, cfg.listen, cfg.backend, cfg.n_endpoints, faults_seed());

    ev_run(loop, 0);

    relay_reap();
    flow_pool_drain();
    faults_shutdown();
    endpoints_shutdown();
    mysql_sessions_free();
    log_info("ddlproxy stopped");
    log_close();
    config_free(&cfg);
    curl_global_cleanup();
    return 0;
}
