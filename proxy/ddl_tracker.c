/* ddl_tracker.c - the tracker thread: its own monitor connection to the
 * backend (MariaDB Connector/C, with connect/read/write timeouts), one batched
 * poll per poll_interval_ms while some DDL is active, reconnects with bounded
 * backoff, and poll failures reported as gaps. It never touches loop-owned
 * objects: the loop hands it a snapshot under tr.lock, it answers through
 * the msgqueue. */
#include "conf.h"
#include "ddl_tracker.h"
#include "tracker_flavor.h"
#include "clock.h"
#include "log.h"
#include "msgqueue.h"

#include <errno.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define MSG_REPORT 1

static struct {
    bool running;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct tracked_ddl *ddls;        /* protected by lock */
    size_t n_ddls;
    struct msgqueue *queue;
    tracker_report_fn deliver;
    /* settings, read-only once the thread runs */
    char host[256];
    unsigned port;
    char *user, *password;
    enum flavor forced;
    struct tracker_settings set;
} tr = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void free_ddls(struct tracked_ddl *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(d[i].query);
    free(d);
}

void tracker_report_free(struct tracker_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n_obs; i++) {
        free(rep->obs[i].children);
        free(rep->obs[i].query);
    }
    free(rep->obs);
    free(rep);
}

struct ddl_observation *tracker_report_add(struct tracker_report *rep)
{
    if (rep->n_obs == rep->cap_obs) {
        size_t cap = rep->cap_obs ? rep->cap_obs * 2 : 8;
        struct ddl_observation *o = realloc(rep->obs, cap * sizeof(*o));
        if (!o)
            return NULL;
        rep->obs = o;
        rep->cap_obs = cap;
    }
    struct ddl_observation *o = &rep->obs[rep->n_obs++];
    memset(o, 0, sizeof(*o));
    o->job_id = -1;
    return o;
}

MYSQL_RES *tracker_query(MYSQL *m, struct tracker_report *rep, const char *sql)
{
    rep->queries++;
    if (mysql_query(m, sql) != 0)
        return NULL;
    MYSQL_RES *res = mysql_store_result(m);
    if (!res && mysql_errno(m) == 0) {
        /* A statement without a result set: hand back an empty marker. */
        return NULL;
    }
    return res;
}

int tracker_split_hostport(const char *hp, char *host, size_t hostlen, unsigned *port,
                           char *err, size_t errlen)
{
    if (!hp || !*hp) {
        snprintf(err, errlen, "backend address is empty");
        return -1;
    }
    const char *colon;
    const char *h = hp;
    size_t hl;
    if (hp[0] == '[') {
        const char *close = strchr(hp, ']');
        if (!close || close[1] != ':') {
            snprintf(err, errlen, "backend '%s': expected [ipv6]:port", hp);
            return -1;
        }
        h = hp + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(hp, ':');
        if (!colon) {
            snprintf(err, errlen, "backend '%s': expected host:port", hp);
            return -1;
        }
        hl = (size_t)(colon - hp);
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno || *end || p == 0 || p > 65535 || hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "backend '%s': bad host or port", hp);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

void tracker_describe_error(unsigned err_no, const char *msg, int64_t elapsed_ms,
                            int64_t timeout_ms, char *out, size_t outlen)
{
    bool lost = err_no == CR_SERVER_LOST || err_no == CR_SERVER_GONE_ERROR
        || err_no == CR_CONN_HOST_ERROR || err_no == CR_CONNECTION_ERROR;
    if (lost && elapsed_ms >= timeout_ms * 9 / 10)
        snprintf(out, outlen, "timeout after %lld ms", (long long)elapsed_ms);
    else if (err_no == CR_SERVER_LOST || err_no == CR_SERVER_GONE_ERROR)
        snprintf(out, outlen, "lost connection: %s", msg);
    else
        snprintf(out, outlen, "%s (errno %u)", msg, err_no);
}

/* ---- the thread -------------------------------------------------------- */

static unsigned timeout_seconds(int64_t ms)
{
    /* Connector/C takes whole seconds: round up, never 0 (= no timeout). */
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : (unsigned)s;
}

static MYSQL *monitor_connect(struct tracker_report *rep)
{
    MYSQL *m = mysql_init(NULL);
    if (!m) {
        snprintf(rep->error, sizeof(rep->error), "connect: out of memory");
        return NULL;
    }
    unsigned t = timeout_seconds(tr.set.timeout_ms);
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &t);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    uint64_t t0 = clock_mono_us();
    if (!mysql_real_connect(m, tr.host, tr.user, tr.password, NULL, tr.port, NULL, 0)) {
        char why[128];
        tracker_describe_error(mysql_errno(m), mysql_error(m),
                               (int64_t)(clock_mono_us() - t0) / 1000, tr.set.timeout_ms,
                               why, sizeof(why));
        snprintf(rep->error, sizeof(rep->error), "connect to %.60s:%u: %.80s", tr.host, tr.port, why);
        mysql_close(m);
        return NULL;
    }
    /* TiDB renders job times in the session time zone: compare in UTC. */
    rep->queries++;
    if (mysql_query(m, "SET time_zone = '+00:00'") != 0) {
        snprintf(rep->error, sizeof(rep->error), "SET time_zone: %.120s", mysql_error(m));
        mysql_close(m);
        return NULL;
    }
    return m;
}

static void post_report(struct tracker_report *rep)
{
    if (msgqueue_post(tr.queue, MSG_REPORT, rep) != 0)
        tracker_report_free(rep);
}

/* Waits until stop, or (if deadline) until the monotonic deadline passes. */
static bool wait_until(const struct timespec *deadline)
{
    pthread_mutex_lock(&tr.lock);
    while (!tr.stop) {
        if (pthread_cond_timedwait(&tr.wake, &tr.lock, deadline) == ETIMEDOUT)
            break;
    }
    bool stop = tr.stop;
    pthread_mutex_unlock(&tr.lock);
    return stop;
}

static struct timespec mono_deadline(uint64_t at_us)
{
    struct timespec ts = { .tv_sec = (time_t)(at_us / 1000000),
                           .tv_nsec = (long)(at_us % 1000000) * 1000 };
    return ts;
}

static struct tracked_ddl *take_snapshot(size_t *n, bool *stop)
{
    pthread_mutex_lock(&tr.lock);
    while (!tr.stop && tr.n_ddls == 0 && !tr.set.track_all)
        pthread_cond_wait(&tr.wake, &tr.lock);
    *stop = tr.stop;
    struct tracked_ddl *copy = NULL;
    *n = 0;
    if (!tr.stop && tr.n_ddls) {
        copy = calloc(tr.n_ddls, sizeof(*copy));
        if (copy) {
            for (size_t i = 0; i < tr.n_ddls; i++) {
                copy[i] = tr.ddls[i];
                copy[i].query = tr.ddls[i].query ? strdup(tr.ddls[i].query) : NULL;
            }
            *n = tr.n_ddls;
        }
    }
    pthread_mutex_unlock(&tr.lock);
    return copy;
}

static void *tracker_main(void *arg)
{
    MYSQL *m = NULL;
    const struct flavor_ops *ops = NULL;
    void *fstate = NULL;
    int64_t gap_from = 0;            /* wall time the current failing period began */
    int64_t backoff_ms = 0;
    char version[64] = "";
    mysql_thread_init();

    for (;;) {
        size_t n;
        bool stop;
        struct tracked_ddl *ddls = take_snapshot(&n, &stop);
        if (stop) {
            free_ddls(ddls, n);
            break;
        }
        uint64_t start_mono = clock_mono_us();
        struct tracker_report *rep = calloc(1, sizeof(*rep));
        if (!rep) {
            free_ddls(ddls, n);
            struct timespec d = mono_deadline(start_mono + (uint64_t)tr.set.poll_interval_ms * 1000);
            if (wait_until(&d))
                break;
            continue;
        }
        rep->started_us = clock_wall_us();
        rep->ok = true;
        if (!m) {
            m = monitor_connect(rep);
            if (m) {
                snprintf(version, sizeof(version), "%s", mysql_get_server_info(m));
                enum ddl_flavor f = tr.forced == FLAVOR_TIDB ? DDL_FLAVOR_TIDB
                    : tr.forced == FLAVOR_MYSQL ? DDL_FLAVOR_MYSQL
                    : strstr(version, "TiDB") ? DDL_FLAVOR_TIDB : DDL_FLAVOR_MYSQL;
                if (!ops || ops->flavor != f) {
                    if (ops)
                        ops->destroy(fstate);
                    ops = f == DDL_FLAVOR_TIDB ? &tracker_tidb_ops : &tracker_mysql_ops;
                    fstate = ops->create(&tr.set);
                }
                if (fstate)
                    ops->on_connect(fstate);
                /* Reconnects during a failing period would repeat this every poll. */
                if (!gap_from)
                    log_info("tracker: connected to %s:%u (%s, flavor %s)", tr.host, tr.port,
                             version, ddl_flavor_name(f));
                else
                    log_debug("tracker: reconnected to %s:%u", tr.host, tr.port);
            } else {
                rep->ok = false;
            }
        }
        if (m && fstate) {
            uint64_t q0 = clock_mono_us();
            if (ops->poll(fstate, m, ddls, n, rep) != 0) {
                char why[128];
                tracker_describe_error(mysql_errno(m), mysql_error(m),
                                       (int64_t)(clock_mono_us() - q0) / 1000,
                                       tr.set.timeout_ms, why, sizeof(why));
                snprintf(rep->error, sizeof(rep->error), "%s", why);
                rep->ok = false;
                mysql_close(m);
                m = NULL;
            }
        } else if (m && !fstate) {
            snprintf(rep->error, sizeof(rep->error), "tracker: out of memory");
            rep->ok = false;
        }
        free_ddls(ddls, n);
        rep->finished_us = clock_wall_us();
        rep->latency_ms = (double)(clock_mono_us() - start_mono) / 1000.0;
        rep->connected = m != NULL;
        rep->flavor = ops ? ops->flavor : DDL_FLAVOR_MYSQL;
        snprintf(rep->server_version, sizeof(rep->server_version), "%s", version);

        uint64_t next = start_mono + (uint64_t)tr.set.poll_interval_ms * 1000;
        if (rep->ok) {
            if (gap_from)
                log_info("tracker: polling works again");
            gap_from = 0;
            backoff_ms = 0;
        } else {
            if (!gap_from) {
                gap_from = rep->started_us;
                log_warn("tracker: poll failed: %s", rep->error);
            }
            rep->gap_from_us = gap_from;
            if (!m) {
                /* Reconnect at once after a failed poll, then back off. */
                backoff_ms = backoff_ms ? backoff_ms * 2 : BACKOFF_MIN_MS;
                if (backoff_ms > BACKOFF_MAX_MS)
                    backoff_ms = BACKOFF_MAX_MS;
                if (backoff_ms > tr.set.poll_interval_ms)
                    next = clock_mono_us() + (uint64_t)backoff_ms * 1000;
            }
        }
        post_report(rep);
        struct timespec d = mono_deadline(next);
        if (wait_until(&d))
            break;
    }
    if (m)
        mysql_close(m);
    if (ops)
        ops->destroy(fstate);
    mysql_thread_end();
    return NULL;
}

/* ---- loop side --------------------------------------------------------- */

static void on_message(int type, void *payload, void *arg)
{
    if (type == MSG_REPORT && tr.deliver)
        tr.deliver(payload);
    else
        tracker_report_free(payload);
}

static void dispose_message(int type, void *payload)
{
    tracker_report_free(payload);
}

int ddl_tracker_start(struct ev_loop *loop, const struct config *cfg, tracker_report_fn fn,
                      char *err, size_t errlen)
{
    if (tr.running) {
        snprintf(err, errlen, "tracker already running");
        return -1;
    }
    if (tracker_split_hostport(cfg->backend, tr.host, sizeof(tr.host), &tr.port, err, errlen) != 0)
        return -1;
    tr.user = strdup(cfg->tracker_user ? cfg->tracker_user : "root");
    tr.password = strdup(cfg->tracker_password ? cfg->tracker_password : "");
    if (!tr.user || !tr.password) {
        snprintf(err, errlen, "tracker: out of memory");
        return -1;
    }
    tr.forced = cfg->flavor;
    tr.set.poll_interval_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 100;
    tr.set.timeout_ms = cfg->tracker_timeout_ms > 0 ? cfg->tracker_timeout_ms : 2000;
    tr.set.history_jobs = cfg->history_jobs > 0 ? cfg->history_jobs : 32;
    tr.set.track_all = cfg->track == TRACK_ALL;
    tr.deliver = fn;
    tr.stop = false;
    tr.queue = msgqueue_new(loop, on_message, NULL);
    if (!tr.queue) {
        snprintf(err, errlen, "tracker: out of memory");
        return -1;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&tr.wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&tr.thread, NULL, tracker_main, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "tracker: cannot start thread: %s", strerror(rc));
        msgqueue_free(tr.queue, dispose_message);
        tr.queue = NULL;
        return -1;
    }
    tr.running = true;
    return 0;
}

bool ddl_tracker_running(void)
{
    return tr.running;
}

void ddl_tracker_set_active(struct tracked_ddl *ddls, size_t n)
{
    if (!tr.running) {
        free_ddls(ddls, n);
        return;
    }
    pthread_mutex_lock(&tr.lock);
    struct tracked_ddl *old = tr.ddls;
    size_t n_old = tr.n_ddls;
    tr.ddls = ddls;
    tr.n_ddls = n;
    /* Only an idle tracker needs waking: a busy one keeps its poll rhythm. */
    if (n_old == 0 && n > 0)
        pthread_cond_signal(&tr.wake);
    pthread_mutex_unlock(&tr.lock);
    free_ddls(old, n_old);
}

void ddl_tracker_stop(void)
{
    if (!tr.running)
        return;
    pthread_mutex_lock(&tr.lock);
    tr.stop = true;
    pthread_cond_signal(&tr.wake);
    pthread_mutex_unlock(&tr.lock);
    pthread_join(tr.thread, NULL);
    tr.running = false;
    msgqueue_free(tr.queue, dispose_message);
    tr.queue = NULL;
    pthread_cond_destroy(&tr.wake);
    free_ddls(tr.ddls, tr.n_ddls);
    tr.ddls = NULL;
    tr.n_ddls = 0;
    free(tr.user);
    free(tr.password);
    tr.user = tr.password = NULL;
    tr.deliver = NULL;
}
