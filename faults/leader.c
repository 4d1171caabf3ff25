/* leader.c - the discovery threads (libcurl) and the loop-side leader state.
 *
 * Each round a group's thread asks all members in parallel (one curl multi
 * handle), so a partitioned or hung member costs one timeout, not one per
 * member. The members' answers are weighed with leader_pick (the highest
 * raft term wins, then the majority), because a deposed leader cut off by a
 * partition goes on naming itself for a while. */
#include "conf.h"
#include "leader.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <uthash.h>

#include "clock.h"
#include "fault.h"
#include "leader_parse.h"
#include "log.h"
#include "msgqueue.h"

#define CONNECT_TIMEOUT_MS 500L
#define REQUEST_TIMEOUT_MS 1000L
#define MAX_ANSWER_BYTES (1024 * 1024)
#define POLL_SLICE_MS 200          /* the stop flag is checked at least this often */

#define PD_LEADER_PATH "/pd/api/v1/leader"
#define ETCD_STATUS_PATH "/v3/maintenance/status"
#define ETCD_MEMBERS_PATH "/v3/cluster/member/list"
/* Without it a PD follower forwards the request to the leader through the
 * leader's advertised URL - through the proxy's faulted relay. */
#define PD_FOLLOWER_HEADER "PD-Allow-follower-handle: true"

enum { MSG_ROUND = 1 };

/* Why a round found no usable leader; a warning is logged when this changes. */
enum failure {
    FAIL_NONE = 0,
    FAIL_UNREACHABLE,       /* no member answered */
    FAIL_NO_LEADER,         /* members answered, none knows a leader */
    FAIL_BAD_ANSWER,        /* answers could not be used */
    FAIL_UNMAPPED,          /* the leader is not fronted by any configured endpoint */
};

struct member_target {
    char *member;
    char *base_url;         /* "http://" + upstream of the member's client endpoint */
};

/* Loop-owned view of a group's leader. */
struct leader_state {
    char *leader;
    char member_id[LEADER_ID_LEN];
    int64_t since_us;       /* wall clock, when this leader was first seen */
    int64_t checked_at_us;  /* wall clock of the last round, 0: none yet */
    bool stale;
    enum failure failure;
    char *error;
    json_t *members;
};

struct discovery {
    char *group;
    enum leader_kind kind;
    struct member_target *targets;
    size_t n_targets;
    struct leader_endpoint *eps;   /* strings owned here, for leader_map_member */
    size_t n_eps;
    unsigned interval_ms;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;          /* guards poked, stop */
    pthread_cond_t cond;
    bool poked, stop;
    CURLM *multi;                  /* exists while the thread runs: poke wakes it */
    char last_winner[LEADER_ID_LEN];   /* thread-private tie-breaker */

    struct leader_state st;        /* loop-private */
    UT_hash_handle hh;
};

/* What a round found, posted to the loop. */
struct round_result {
    struct discovery *d;
    char *leader;                  /* configured member, NULL on failure */
    char member_id[LEADER_ID_LEN];
    enum failure failure;
    char *error;
    int64_t checked_at_us;
    json_t *members;
};

/* One HTTP request of a round. */
struct probe {
    CURL *easy;
    char *url;
    char *body;
    size_t len;
    bool too_big;
    bool done;
    CURLcode rc;
    long http_status;
    char errbuf[CURL_ERROR_SIZE];
};

static struct discovery *discoveries;   /* every known group, by name */
static struct msgqueue *results;
static bool curl_ready;

static const char *kind_name(enum leader_kind kind)
{
    switch (kind) {
    case LEADER_PD: return "pd";
    case LEADER_ETCD: return "etcd";
    default: return "none";
    }
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* ---- the thread: HTTP ------------------------------------------------- */

static bool should_stop(struct discovery *d)
{
    pthread_mutex_lock(&d->lock);
    bool stop = d->stop;
    pthread_mutex_unlock(&d->lock);
    return stop;
}

static size_t probe_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct probe *p = arg;
    size_t n = size * nmemb;
    if (p->len + n > MAX_ANSWER_BYTES) {
        p->too_big = true;
        return 0;                       /* aborts the transfer */
    }
    char *grown = realloc(p->body, p->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + p->len, data, n);
    p->body = grown;
    p->len += n;
    p->body[p->len] = '\0';
    return n;
}

static int probe_init(struct probe *p, const char *base_url, const char *path,
                      bool post, struct curl_slist *headers)
{
    memset(p, 0, sizeof(*p));
    p->url = xasprintf("%s%s", base_url, path);
    p->easy = p->url ? curl_easy_init() : NULL;
    if (!p->easy)
        return -1;                      /* probe_ok reports it */
    CURL *e = p->easy;
    curl_easy_setopt(e, CURLOPT_URL, p->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, p);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);            /* threads: no SIGALRM */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(e, CURLOPT_PROXY, "");               /* never via $http_proxy */
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, probe_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, p);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, p->errbuf);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (post)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, "{}");
    return 0;
}

static void probe_free(struct probe *p)
{
    if (p->easy)
        curl_easy_cleanup(p->easy);
    free(p->url);
    free(p->body);
}

/* Runs all probes in parallel; false if stopped meanwhile. */
static bool run_probes(struct discovery *d, struct probe *probes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (probes[i].easy)
            curl_multi_add_handle(d->multi, probes[i].easy);
    int running = 1;
    bool stopped = false;
    while (running > 0) {
        if (should_stop(d)) {
            stopped = true;
            break;
        }
        if (curl_multi_perform(d->multi, &running) != CURLM_OK)
            break;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(d->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            struct probe *p = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
            p->done = true;
            p->rc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &p->http_status);
        }
        if (running > 0)
            curl_multi_poll(d->multi, NULL, 0, POLL_SLICE_MS, NULL);
    }
    for (size_t i = 0; i < n; i++)
        if (probes[i].easy)
            curl_multi_remove_handle(d->multi, probes[i].easy);
    return !stopped;
}

/* Fills err with why a probe gave no usable body; returns whether it did. */
static bool probe_ok(const struct probe *p, bool *reachable, char *err, size_t errlen)
{
    *reachable = false;
    if (!p->easy) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (!p->done) {
        snprintf(err, errlen, "no answer");
        return false;
    }
    if (p->too_big) {
        *reachable = true;
        snprintf(err, errlen, "answer larger than %d bytes", MAX_ANSWER_BYTES);
        return false;
    }
    if (p->rc != CURLE_OK) {
        snprintf(err, errlen, "%s", p->errbuf[0] ? p->errbuf : curl_easy_strerror(p->rc));
        return false;
    }
    *reachable = true;
    if (p->http_status != 200) {
        /* The first line of the body usually says why (PD: "no leader"). */
        const char *body = p->body ? p->body : "";
        int line = (int)strcspn(body, "\r\n");
        if (line > 160)
            line = 160;
        snprintf(err, errlen, "HTTP %ld: %.*s", p->http_status, line, body);
        return false;
    }
    return true;
}

/* One member's part of a round. */
struct answer {
    bool reachable;
    char error[256];
    struct leader_info info;       /* the leader it names (PD), or its member list entry (etcd) */
    bool has_info;
    char leader_id[LEADER_ID_LEN]; /* "" if it names none */
    uint64_t term;
};

static void answers_free(struct answer *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        leader_info_free(&a[i].info);
    free(a);
}

static void read_pd_answer(const struct probe *p, struct answer *a)
{
    if (!probe_ok(p, &a->reachable, a->error, sizeof(a->error)))
        return;
    int rc = leader_parse_pd(p->body, p->len, &a->info, a->error, sizeof(a->error));
    if (rc == 0)
        snprintf(a->error, sizeof(a->error), "knows no leader");
    if (rc == 1) {
        a->has_info = true;
        memcpy(a->leader_id, a->info.id, LEADER_ID_LEN);
    }
}

static void read_etcd_answer(const struct probe *status, const struct probe *members,
                             struct answer *a)
{
    if (!probe_ok(status, &a->reachable, a->error, sizeof(a->error)))
        return;
    struct etcd_status st;
    if (leader_parse_etcd_status(status->body, status->len, &st, a->error,
                                 sizeof(a->error)) < 0)
        return;
    if (!st.leader_id[0]) {
        snprintf(a->error, sizeof(a->error), "knows no leader%s%s",
                 st.error[0] ? ": " : "", st.error);
        return;
    }
    memcpy(a->leader_id, st.leader_id, LEADER_ID_LEN);
    a->term = st.raft_term;
    bool reachable;
    if (!probe_ok(members, &reachable, a->error, sizeof(a->error)))
        return;
    int rc = leader_parse_etcd_members(members->body, members->len, st.leader_id, &a->info,
                                       a->error, sizeof(a->error));
    if (rc == 0)
        snprintf(a->error, sizeof(a->error), "leader id %s is not in its member list",
                 st.leader_id);
    if (rc == 1) {
        a->has_info = true;
        a->error[0] = '\0';
    }
}

static json_t *member_json(const struct member_target *t, const struct answer *a,
                           const char *names_leader)
{
    return json_pack("{s:s, s:s, s:b, s:s?, s:s?}",
                     "member", t->member,
                     "url", t->base_url,
                     "reachable", a->reachable,
                     "leader", names_leader,
                     "error", a->error[0] ? a->error : NULL);
}

/* Joins the members' errors into one line: "pd1: timeout; pd2: ...". */
static char *joined_errors(const struct discovery *d, const struct answer *a, const char *intro)
{
    size_t cap = 256;
    for (size_t i = 0; i < d->n_targets; i++)
        cap += strlen(d->targets[i].member) + strlen(a[i].error) + 4;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    size_t n = (size_t)snprintf(s, cap, "%s", intro);
    for (size_t i = 0; i < d->n_targets && n < cap; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s%s: %s", i ? "; " : " (",
                              d->targets[i].member, a[i].error[0] ? a[i].error : "ok");
    if (n < cap)
        snprintf(s + n, cap - n, ")");
    return s;
}

/* Asks every member once; NULL if stopped meanwhile or out of memory. */
static struct round_result *run_round(struct discovery *d)
{
    bool etcd = d->kind == LEADER_ETCD;
    size_t per_member = etcd ? 2 : 1;
    size_t n_probes = d->n_targets * per_member;
    struct round_result *r = calloc(1, sizeof(*r));
    struct probe *probes = calloc(n_probes, sizeof(*probes));
    struct answer *answers = calloc(d->n_targets, sizeof(*answers));
    struct leader_vote *votes = calloc(d->n_targets, sizeof(*votes));
    struct curl_slist *headers = curl_slist_append(NULL, etcd ? "Content-Type: application/json"
                                                              : PD_FOLLOWER_HEADER);
    bool completed = false;
    if (!r || !probes || !answers || !votes || !headers)
        goto out;
    r->d = d;
    for (size_t i = 0; i < d->n_targets; i++) {
        const char *base = d->targets[i].base_url;
        if (etcd) {
            probe_init(&probes[2 * i], base, ETCD_STATUS_PATH, true, headers);
            probe_init(&probes[2 * i + 1], base, ETCD_MEMBERS_PATH, true, headers);
        } else {
            probe_init(&probes[i], base, PD_LEADER_PATH, false, headers);
        }
    }
    if (!run_probes(d, probes, n_probes))
        goto out;
    r->checked_at_us = clock_wall_us();

    size_t reachable = 0;
    for (size_t i = 0; i < d->n_targets; i++) {
        if (etcd)
            read_etcd_answer(&probes[2 * i], &probes[2 * i + 1], &answers[i]);
        else
            read_pd_answer(&probes[i], &answers[i]);
        reachable += answers[i].reachable;
        votes[i].leader = answers[i].leader_id[0] ? answers[i].leader_id : NULL;
        votes[i].term = answers[i].term;
    }
    int win = leader_pick(votes, d->n_targets, d->last_winner[0] ? d->last_winner : NULL);
    const struct leader_info *info = NULL;
    if (win >= 0) {
        /* Any member's description of the winner will do (its own may have failed). */
        for (size_t i = 0; i < d->n_targets && !info; i++) {
            size_t k = ((size_t)win + i) % d->n_targets;
            if (answers[k].has_info && strcmp(answers[k].leader_id, votes[win].leader) == 0)
                info = &answers[k].info;
        }
        memcpy(r->member_id, votes[win].leader, LEADER_ID_LEN);
        memcpy(d->last_winner, votes[win].leader, LEADER_ID_LEN);
    }
    if (win < 0 && reachable == 0) {
        r->failure = FAIL_UNREACHABLE;
        r->error = joined_errors(d, answers, "no member reachable");
    } else if (win < 0) {
        r->failure = FAIL_NO_LEADER;
        r->error = joined_errors(d, answers, "no member knows a leader");
    } else if (!info) {
        r->failure = FAIL_BAD_ANSWER;
        r->error = joined_errors(d, answers, "the leader's member entry could not be read");
    } else {
        const char *member = leader_map_member(info, d->eps, d->n_eps);
        if (member) {
            r->leader = strdup(member);
            if (!r->leader)
                r->failure = FAIL_BAD_ANSWER;     /* error NULL: out of memory */
        } else {
            r->failure = FAIL_UNMAPPED;
            r->error = xasprintf("leader %s (id %s, %s) is not fronted by any endpoint of "
                                 "group %s", info->name && *info->name ? info->name : "?",
                                 info->id, info->n_urls ? info->urls[0] : "no URLs", d->group);
        }
    }

    r->members = json_array();
    for (size_t i = 0; i < d->n_targets && r->members; i++) {
        /* Name the member each answer points at in config terms when possible. */
        const char *says = NULL;
        if (answers[i].has_info)
            says = leader_map_member(&answers[i].info, d->eps, d->n_eps);
        if (!says && answers[i].has_info && answers[i].info.name && *answers[i].info.name)
            says = answers[i].info.name;
        if (!says && answers[i].leader_id[0])
            says = answers[i].leader_id;
        json_array_append_new(r->members, member_json(&d->targets[i], &answers[i], says));
    }
    completed = true;
out:
    for (size_t i = 0; probes && i < n_probes; i++)
        probe_free(&probes[i]);
    free(probes);
    if (answers)
        answers_free(answers, d->n_targets);
    free(votes);
    curl_slist_free_all(headers);
    if (!completed && r) {
        free(r->leader);
        free(r->error);
        json_decref(r->members);
        free(r);
        r = NULL;
    }
    return r;
}

static void round_result_free(struct round_result *r)
{
    free(r->leader);
    free(r->error);
    json_decref(r->members);
    free(r);
}

static void *discovery_main(void *arg)
{
    struct discovery *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        d->poked = false;
        bool stop = d->stop;
        pthread_mutex_unlock(&d->lock);
        if (stop)
            break;

        struct round_result *r = run_round(d);
        if (r && msgqueue_post(results, MSG_ROUND, r) < 0)
            round_result_free(r);

        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += d->interval_ms / 1000;
        deadline.tv_nsec += (long)(d->interval_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock(&d->lock);
        while (!d->stop && !d->poked)
            if (pthread_cond_timedwait(&d->cond, &d->lock, &deadline) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

/* ---- the loop: applying results ---------------------------------------- */

static void apply_result(struct round_result *r)
{
    struct discovery *d = r->d;
    struct leader_state *st = &d->st;
    st->checked_at_us = r->checked_at_us;
    json_decref(st->members);
    st->members = r->members;
    r->members = NULL;

    if (r->failure == FAIL_NONE) {
        if (st->failure != FAIL_NONE)
            log_info("leader discovery for %s works again", d->group);
        st->failure = FAIL_NONE;
        st->stale = false;
        free(st->error);
        st->error = NULL;
        memcpy(st->member_id, r->member_id, LEADER_ID_LEN);
        if (!st->leader || strcmp(st->leader, r->leader) != 0) {
            log_info("leader of %s is now %s (was %s)", d->group, r->leader,
                     st->leader ? st->leader : "unknown");
            free(st->leader);
            st->leader = r->leader;
            r->leader = NULL;
            st->since_us = r->checked_at_us;
            fault_leader_changed(d->group, st->leader);
        }
        return;
    }
    if (st->failure != r->failure)
        log_warn("leader discovery for %s: %s; %s%s%s", d->group,
                 r->error ? r->error : "out of memory",
                 st->leader ? "keeping last known leader " : "no leader known",
                 st->leader ? st->leader : "", st->leader ? " (stale)" : "");
    else
        log_debug("leader discovery for %s: %s", d->group, r->error ? r->error : "out of memory");
    st->failure = r->failure;
    st->stale = true;
    free(st->error);
    st->error = r->error;
    r->error = NULL;
}

static void on_message(int type, void *payload, void *arg)
{
    if (type == MSG_ROUND) {
        apply_result(payload);
        round_result_free(payload);
    }
}

static void dispose_message(int type, void *payload)
{
    if (type == MSG_ROUND)
        round_result_free(payload);
}

/* ---- setup and teardown ------------------------------------------------- */

static void discovery_free(struct discovery *d)
{
    for (size_t i = 0; i < d->n_targets; i++) {
        free(d->targets[i].member);
        free(d->targets[i].base_url);
    }
    free(d->targets);
    for (size_t i = 0; i < d->n_eps; i++) {
        free((char *)d->eps[i].member);
        free((char *)d->eps[i].listen);
        free((char *)d->eps[i].upstream);
    }
    free(d->eps);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d->st.leader);
    free(d->st.error);
    json_decref(d->st.members);
    free(d->group);
    free(d);
}

static struct discovery *discovery_new(const char *group, enum leader_kind kind,
                                       unsigned interval_ms)
{
    struct discovery *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->group = strdup(group);
    d->kind = kind;
    d->interval_ms = interval_ms;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&d->lock, NULL);
    if (!d->group) {
        discovery_free(d);
        return NULL;
    }
    return d;
}

static struct discovery *find(const char *group)
{
    struct discovery *d = NULL;
    if (group)
        HASH_FIND_STR(discoveries, group, d);
    return d;
}

/* Adds group (if new) to the table. */
static int ensure_group(const char *group, enum leader_kind kind, unsigned interval_ms)
{
    if (find(group))
        return 0;
    struct discovery *d = discovery_new(group, kind, interval_ms);
    if (!d)
        return -1;
    HASH_ADD_KEYPTR(hh, discoveries, d->group, strlen(d->group), d);
    return 0;
}

static bool has_target(const struct discovery *d, const char *member)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if (strcmp(d->targets[i].member, member) == 0)
            return true;
    return false;
}

/* Copies the group's endpoints: all of them for mapping, the first client
 * endpoint of each member as the address to ask. */
static int collect_endpoints(struct discovery *d, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_endpoints; i++) {
        const struct endpoint_conf *ec = &cfg->endpoints[i];
        if (!ec->group || strcmp(ec->group, d->group) != 0 || !ec->member)
            continue;
        struct leader_endpoint *eps = realloc(d->eps, (d->n_eps + 1) * sizeof(*eps));
        if (!eps)
            return -1;
        d->eps = eps;
        struct leader_endpoint *ep = &d->eps[d->n_eps++];
        ep->member = strdup(ec->member);
        ep->listen = ec->listen ? strdup(ec->listen) : NULL;
        ep->upstream = ec->upstream ? strdup(ec->upstream) : NULL;
        if (!ep->member || (ec->listen && !ep->listen) || (ec->upstream && !ep->upstream))
            return -1;
        if (ec->role != ROLE_CLIENT || !ec->upstream || has_target(d, ec->member))
            continue;
        struct member_target *t = realloc(d->targets, (d->n_targets + 1) * sizeof(*t));
        if (!t)
            return -1;
        d->targets = t;
        t = &d->targets[d->n_targets];
        t->member = strdup(ec->member);
        t->base_url = xasprintf("http://%s", ec->upstream);
        if (!t->member || !t->base_url) {
            free(t->member);
            free(t->base_url);
            return -1;
        }
        d->n_targets++;
    }
    return 0;
}

static int start_thread(struct discovery *d)
{
    d->multi = curl_multi_init();
    if (!d->multi) {
        log_error("leader discovery for %s: cannot create a curl multi handle", d->group);
        return -1;
    }
    /* Signals belong to the loop (ev_signal): the thread must not take them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&d->thread, NULL, discovery_main, d);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("leader discovery for %s: cannot start a thread: %s", d->group, strerror(rc));
        return -1;
    }
    d->thread_started = true;
    return 0;
}

int leader_start(struct ev_loop *loop, const struct config *cfg, unsigned interval_ms)
{
    if (results) {
        log_error("leader discovery is already running");
        return -1;
    }
    if (interval_ms == 0)
        interval_ms = LEADER_DEFAULT_INTERVAL_MS;
    for (size_t i = 0; i < cfg->n_groups; i++)
        if (ensure_group(cfg->groups[i].name, cfg->groups[i].leader, interval_ms) < 0)
            goto oom;
    for (size_t i = 0; i < cfg->n_endpoints; i++)
        if (cfg->endpoints[i].group &&
            ensure_group(cfg->endpoints[i].group, LEADER_NONE, interval_ms) < 0)
            goto oom;

    bool any = false;
    struct discovery *d, *tmp;
    HASH_ITER(hh, discoveries, d, tmp) {
        if (d->kind == LEADER_NONE)
            continue;
        if (collect_endpoints(d, cfg) < 0)
            goto oom;
        if (d->n_targets == 0) {
            log_error("group %s: leader = %s needs at least one endpoint with role = client "
                      "and an upstream to ask", d->group, kind_name(d->kind));
            goto fail;
        }
        any = true;
    }
    if (!any)
        return 0;

    CURLcode crc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (crc != CURLE_OK) {
        log_error("leader discovery: curl_global_init: %s", curl_easy_strerror(crc));
        goto fail;
    }
    curl_ready = true;
    results = msgqueue_new(loop, on_message, NULL);
    if (!results)
        goto oom;
    HASH_ITER(hh, discoveries, d, tmp) {
        if (d->kind == LEADER_NONE)
            continue;
        if (start_thread(d) < 0)
            goto fail;
        log_info("leader discovery for %s (%s): asking %zu members every %u ms", d->group,
                 kind_name(d->kind), d->n_targets, d->interval_ms);
    }
    return 0;
oom:
    log_error("leader discovery: out of memory");
fail:
    leader_stop();
    return -1;
}

void leader_stop(void)
{
    struct discovery *d, *tmp;
    HASH_ITER(hh, discoveries, d, tmp) {
        if (!d->thread_started)
            continue;
        pthread_mutex_lock(&d->lock);
        d->stop = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        curl_multi_wakeup(d->multi);
    }
    HASH_ITER(hh, discoveries, d, tmp) {
        if (d->thread_started)
            pthread_join(d->thread, NULL);
        d->thread_started = false;
    }
    /* No thread posts any more: undelivered rounds are dropped. */
    if (results) {
        msgqueue_free(results, dispose_message);
        results = NULL;
    }
    HASH_ITER(hh, discoveries, d, tmp) {
        HASH_DEL(discoveries, d);
        discovery_free(d);
    }
    if (curl_ready) {
        curl_global_cleanup();
        curl_ready = false;
    }
}

void leader_poke(const char *group)
{
    /* The table is fixed while threads run, so reading it here is safe. */
    struct discovery *d = find(group);
    if (!d || !d->thread_started)
        return;
    pthread_mutex_lock(&d->lock);
    d->poked = true;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

const char *leader_member(const char *group)
{
    struct discovery *d = find(group);
    return d ? d->st.leader : NULL;
}

static json_t *time_or_null(int64_t wall_us)
{
    if (wall_us == 0)
        return json_null();
    char buf[40];
    return json_string(clock_format_rfc3339(wall_us, buf, sizeof(buf)));
}

json_t *leader_status_json(const char *group)
{
    struct discovery *d = find(group);
    if (!d)
        return NULL;
    if (d->kind == LEADER_NONE) {
        char *msg = xasprintf("group %s has no leader discovery (leader = none)", d->group);
        json_t *j = json_pack("{s:s, s:s, s:n, s:s?}", "group", d->group, "kind", "none",
                              "leader", "error", msg);
        free(msg);
        return j;
    }
    const struct leader_state *st = &d->st;
    const char *error = st->error;
    if (!error && st->checked_at_us == 0)
        error = "not checked yet";
    return json_pack("{s:s, s:s, s:s?, s:s?, s:o, s:o, s:b, s:s?, s:o}",
                     "group", d->group,
                     "kind", kind_name(d->kind),
                     "leader", st->leader,
                     "member_id", st->member_id[0] ? st->member_id : NULL,
                     "since", st->leader ? time_or_null(st->since_us) : json_null(),
                     "checked_at", time_or_null(st->checked_at_us),
                     "stale", st->stale,
                     "error", error,
                     "members", st->members ? json_incref(st->members) : json_array());
}
