/* fault.c - the fault table: faults move pending -> active -> ended (after=,
 * duration=, del/clear) on libev timers; every change recomputes the effect
 * on the attached connections and tells each one whose effect changed.
 * Parsing lives in fault_spec.c, shaping in shaper.c. */
#include "conf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "clock.h"
#include "endpoint.h"
#include "fault.h"
#include "fault_spec.h"
#include "leader.h"
#include "errbuf.h"
#include "log.h"
#include "rng.h"

#define FAULT_HISTORY_MAX 1000   /* ended faults kept for DDL records */
#define DESC_MAX (2 * FAULT_ID_MAX + 3 * FAULT_NAME_MAX)   /* describe() output */

enum fault_state { FAULT_PENDING = 0, FAULT_ACTIVE };

/* scope=endpoint bandwidth: one bucket per endpoint and direction. */
struct endpoint_buckets {
    const struct endpoint *ep;
    struct token_bucket *dir[2];
    UT_hash_handle hh;
};

struct fault {
    char id[FAULT_ID_MAX];
    struct fault_spec spec;
    uint64_t id_hash;                   /* probability draws */
    enum fault_state state;
    int64_t start_wall_us;              /* pending: when it will start */
    uint64_t start_mono_us;
    ev_timer timer;                     /* pending: start; active: end (duration=) */
    char member[FAULT_NAME_MAX];        /* leader: targets, the member acted on ("": unknown) */
    uint64_t hits;
    struct endpoint_buckets *buckets;
    struct fault *prev, *next;          /* in the order they were added */
    UT_hash_handle hh;                  /* by id */
};

struct fault_record {
    char id[FAULT_ID_MAX];
    char action[16];
    char target[FAULT_NAME_MAX + 8];
    char member[FAULT_NAME_MAX];
    int64_t from_us, to_us;             /* wall clock */
};

struct leader_entry {
    char *group;
    char *member;
    UT_hash_handle hh;
};

static struct {
    struct ev_loop *loop;
    bool ready;
    uint64_t seed;
    struct fault_env env;
    bool have_env;
    const struct config *cfg;
    struct fault *by_id;
    struct fault *first, *last;
    unsigned next_auto_id;
    struct fault_subject *subjects;
    struct leader_entry *leaders;
    struct fault_record history[FAULT_HISTORY_MAX];
    size_t history_next, history_len;
} T;

/* subject_update: which fault's hits to count. */
#define COUNT_NONE NULL
static const struct fault count_all_marker;
#define COUNT_ALL (&count_all_marker)



/* ---- leaders, as reported by discovery ---- */

static const char *current_leader(const char *group)
{
    struct leader_entry *e;
    HASH_FIND_STR(T.leaders, group, e);
    return e ? e->member : NULL;
}

static void free_leaders(void)
{
    struct leader_entry *e, *tmp;
    HASH_ITER(hh, T.leaders, e, tmp) {
        HASH_DEL(T.leaders, e);
        free(e->group);
        free(e->member);
        free(e);
    }
}

/* ---- matching ---- */

static bool str_eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static bool targets_endpoint(const struct fault *f, const struct endpoint *ep)
{
    const char *name = f->spec.target_name;
    switch (f->spec.target_kind) {
    case TARGET_ENDPOINT:
        return str_eq(ep->name, name);
    case TARGET_MEMBER:
        return str_eq(ep->member, name);
    case TARGET_GROUP:
        return str_eq(ep->group, name);
    case TARGET_LEADER:
        return f->member[0] && str_eq(ep->member, f->member);
    case TARGET_ALL:
        return true;
    }
    return false;
}

/* partition also cuts what the partitioned member sends out through other
 * endpoints: connections whose source IP is the member's own address. */
static bool from_partitioned_member(const struct fault *f, const struct sockaddr *client,
                                    socklen_t len)
{
    if (f->spec.action != FAULT_PARTITION || !client || !T.have_env)
        return false;
    for (struct endpoint *e = T.env.first(); e; e = e->next)
        if (e->member_addr_len && targets_endpoint(f, e) &&
            fault_same_ip((const struct sockaddr *)&e->member_addr, e->member_addr_len,
                          client, len))
            return true;
    return false;
}

static bool fault_matches(const struct fault *f, const struct endpoint *ep,
                          const struct sockaddr *client, socklen_t len,
                          uint64_t serial, uint64_t opened_us)
{
    if (f->state != FAULT_ACTIVE)
        return false;
    if (!targets_endpoint(f, ep) && !from_partitioned_member(f, client, len))
        return false;
    if (f->spec.has_client && !fault_cidr_match(&f->spec.client, client, len))
        return false;
    if (f->spec.new_only && opened_us < f->start_mono_us)
        return false;
    if (f->spec.probability < 1.0) {
        /* A pure function of (seed, fault, endpoint, connection): the same
         * connections are picked in every run with the same --seed. */
        uint64_t conn = rng_hash_str(ep->name) ^ rng_mix(serial);
        if (rng_draw(T.seed, f->id_hash, conn) >= f->spec.probability)
            return false;
    }
    return true;
}

static bool fault_matches_subject(const struct fault *f, const struct fault_subject *s)
{
    return fault_matches(f, s->endpoint, (const struct sockaddr *)&s->client, s->client_len,
                         s->serial, s->opened_us);
}

/* ---- effects ---- */

static void effect_init(struct fault_conn_effect *e)
{
    memset(e, 0, sizeof *e);
    for (int d = 0; d < 2; d++)
        e->dir[d].close_after_bytes = -1;
}

static bool shape_equal(const struct shape_params *a, const struct shape_params *b)
{
    return a->delay_us == b->delay_us && a->jitter_us == b->jitter_us &&
           a->distribution == b->distribution && a->correlation == b->correlation &&
           a->rate_bps == b->rate_bps && a->bucket == b->bucket &&
           a->slice_size == b->slice_size && a->slice_delay_us == b->slice_delay_us &&
           a->seed == b->seed;
}

static bool effect_equal(const struct fault_conn_effect *a, const struct fault_conn_effect *b)
{
    for (int d = 0; d < 2; d++) {
        const struct fault_dir_effect *x = &a->dir[d], *y = &b->dir[d];
        if (x->stall != y->stall || x->blackhole != y->blackhole ||
            x->close_after_bytes != y->close_after_bytes || !shape_equal(&x->shape, &y->shape))
            return false;
    }
    return a->reset == b->reset && a->close_at_us == b->close_at_us &&
           a->slow_close_us == b->slow_close_us && a->close_when_healed == b->close_when_healed;
}

static struct token_bucket *endpoint_bucket(struct fault *f, const struct endpoint *ep, int d)
{
    struct endpoint_buckets *eb;
    HASH_FIND_PTR(f->buckets, &ep, eb);
    if (!eb) {
        eb = calloc(1, sizeof *eb);
        if (!eb)
            return NULL;
        eb->ep = ep;
        HASH_ADD_PTR(f->buckets, ep, eb);
    }
    if (!eb->dir[d])
        eb->dir[d] = token_bucket_new(f->spec.rate_bps, 0);
    return eb->dir[d];   /* NULL (out of memory): a private bucket, same rate */
}

static void free_buckets(struct fault *f)
{
    struct endpoint_buckets *eb, *tmp;
    HASH_ITER(hh, f->buckets, eb, tmp) {
        HASH_DEL(f->buckets, eb);
        token_bucket_free(eb->dir[0]);
        token_bucket_free(eb->dir[1]);
        free(eb);
    }
}

static uint32_t add_sat_u32(uint32_t a, int64_t b)
{
    int64_t sum = (int64_t)a + b;
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

/* Adds fault f's contribution to e. Several faults combine: delays add,
 * the lowest rate and the smallest slice win, stall/blackhole/reset OR,
 * the earliest close wins. */
static void effect_merge(struct fault *f, const struct fault_subject *s,
                         struct fault_conn_effect *e, uint32_t max_jitter[2])
{
    const struct fault_spec *sp = &f->spec;

    for (int d = 0; d < 2; d++) {
        struct fault_dir_effect *de = &e->dir[d];
        struct shape_params *sh = &de->shape;
        bool on = sp->dir[d] || sp->action == FAULT_PARTITION;
        if (!on)
            continue;
        switch (sp->action) {
        case FAULT_DELAY:
            sh->delay_us = add_sat_u32(sh->delay_us, sp->delay_us);
            sh->jitter_us = add_sat_u32(sh->jitter_us, sp->jitter_us);
            /* The widest jitter decides the distribution's shape. */
            if (sp->jitter_us && (uint64_t)sp->jitter_us >= max_jitter[d]) {
                max_jitter[d] = (uint32_t)sp->jitter_us;
                sh->distribution = sp->distribution;
                sh->correlation = sp->correlation;
            }
            break;
        case FAULT_BANDWIDTH:
            if (sh->rate_bps == 0 || sp->rate_bps < sh->rate_bps) {
                sh->rate_bps = sp->rate_bps;
                sh->bucket = sp->scope_endpoint ? endpoint_bucket(f, s->endpoint, d) : NULL;
            }
            break;
        case FAULT_SLICE:
            if (sh->slice_size == 0 || sp->slice_size < sh->slice_size)
                sh->slice_size = sp->slice_size;
            if (sp->slice_delay_us > sh->slice_delay_us)
                sh->slice_delay_us = sp->slice_delay_us;
            break;
        case FAULT_STALL:
        case FAULT_PARTITION:
            de->stall = true;
            break;
        case FAULT_BLACKHOLE:
            de->blackhole = true;
            e->close_when_healed = true;
            break;
        case FAULT_CLOSE_AFTER:
            if (sp->close_after_bytes >= 0 &&
                (de->close_after_bytes < 0 || sp->close_after_bytes < de->close_after_bytes))
                de->close_after_bytes = sp->close_after_bytes;
            break;
        default:
            break;
        }
    }
    if (sp->action == FAULT_RESET)
        e->reset = true;
    if (sp->action == FAULT_SLOW_CLOSE && sp->slow_close_us > e->slow_close_us)
        e->slow_close_us = sp->slow_close_us;
    if (sp->action == FAULT_CLOSE_AFTER && sp->close_after_us >= 0) {
        uint64_t from = s->opened_us > f->start_mono_us ? s->opened_us : f->start_mono_us;
        int64_t at = (int64_t)from + sp->close_after_us;
        if (e->close_at_us == 0 || at < e->close_at_us)
            e->close_at_us = at;
    }
}

/* Recomputes s's effect from the active faults; calls apply when it changed
 * (or always with force). counted: COUNT_ALL, one fault or COUNT_NONE, whose
 * hit counters a match increments. */
static void subject_update(struct fault_subject *s, const struct fault *counted, bool force)
{
    struct fault_conn_effect e;
    uint32_t max_jitter[2] = {0, 0};
    bool acted = false;

    effect_init(&e);
    for (struct fault *f = T.first; f; f = f->next) {
        if (fault_action_is_accept_only(f->spec.action) || !fault_matches_subject(f, s))
            continue;
        effect_merge(f, s, &e, max_jitter);
        acted = true;
        if (counted == COUNT_ALL || counted == f)
            f->hits++;
    }
    /* Jitter draws differ per connection and direction, yet replay with --seed. */
    for (int d = 0; d < 2; d++)
        e.dir[d].shape.seed = rng_mix(T.seed ^ rng_hash_str(s->endpoint->name) ^
                                      rng_mix(s->serial * 2 + (uint64_t)d));
    if (acted && !s->hit) {
        s->hit = true;
        s->endpoint->stats.fault_hits++;
    }
    if (force || !effect_equal(&e, &s->effect)) {
        s->effect = e;
        /* A copy: apply may close the connection and free s. */
        if (s->apply)
            s->apply(s, &e);
    }
}

static void update_all_subjects(const struct fault *counted)
{
    struct fault_subject *s = T.subjects;
    while (s) {
        struct fault_subject *next = s->next;   /* apply may detach s */
        subject_update(s, counted, false);
        s = next;
    }
}

/* ---- lifecycle ---- */

/* "f3 partition leader:etcd (member etcd2)" */
static const char *describe(const struct fault *f, char *buf, size_t size)
{
    if (f->spec.target_kind == TARGET_LEADER)
        snprintf(buf, size, "%s %s %s (member %s)", f->id, fault_action_name(f->spec.action),
                 f->spec.target, f->member[0] ? f->member : "unknown yet");
    else
        snprintf(buf, size, "%s %s %s", f->id, fault_action_name(f->spec.action),
                 f->spec.target);
    return buf;
}

static void start_timer(struct fault *f, int64_t after_us,
                        void (*cb)(struct ev_loop *, ev_timer *, int))
{
    ev_timer_init(&f->timer, cb, (double)after_us / 1e6, 0.0);
    f->timer.data = f;
    /* Commands arrive between loop iterations: count from now, not from
     * the loop's cached time. */
    ev_now_update(T.loop);
    ev_timer_start(T.loop, &f->timer);
}

static void end_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

static void resolve_leader(struct fault *f)
{
    const char *leader = current_leader(f->spec.target_name);
    snprintf(f->member, sizeof f->member, "%s", leader ? leader : "");
    if (!leader)
        log_warn("fault %s: leader of %s unknown yet; it acts once discovery reports one",
                 f->id, f->spec.target_name);
}

/* A fault starting or ending may move a leader: let discovery look again now
 * rather than at its next interval. Fault changes are rare: poke every group. */
static void poke_discovery(void)
{
    if (!T.env.first)
        return;
    for (struct endpoint *e = T.env.first(); e; e = e->next)
        leader_poke(e->group);
}

static void activate(struct fault *f)
{
    char desc[DESC_MAX];

    f->state = FAULT_ACTIVE;
    f->start_mono_us = clock_mono_us();
    f->start_wall_us = clock_wall_us();
    if (f->spec.target_kind == TARGET_LEADER)
        resolve_leader(f);
    if (f->spec.params_text[0])
        log_info("fault %s started: %s", describe(f, desc, sizeof desc), f->spec.params_text);
    else
        log_info("fault %s started", describe(f, desc, sizeof desc));
    if (f->spec.duration_us)
        start_timer(f, f->spec.duration_us, end_timer_cb);
    update_all_subjects(f);
    poke_discovery();
}

static void start_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct fault *f = w->data;
    ev_timer_stop(loop, w);
    activate(f);
}

static void record_history(const struct fault *f, int64_t end_wall_us)
{
    struct fault_record *r = &T.history[T.history_next];
    snprintf(r->id, sizeof r->id, "%s", f->id);
    snprintf(r->action, sizeof r->action, "%s", fault_action_name(f->spec.action));
    snprintf(r->target, sizeof r->target, "%s", f->spec.target);
    snprintf(r->member, sizeof r->member, "%s", f->member);
    r->from_us = f->start_wall_us;
    r->to_us = end_wall_us;
    T.history_next = (T.history_next + 1) % FAULT_HISTORY_MAX;
    if (T.history_len < FAULT_HISTORY_MAX)
        T.history_len++;
}

/* Takes f out of the table (logged, recorded); the caller updates the
 * subjects and then frees f, so buckets outlive the last apply. */
static void unlink_fault(struct fault *f, const char *why)
{
    char desc[DESC_MAX];

    ev_timer_stop(T.loop, &f->timer);
    if (f->state == FAULT_ACTIVE) {
        record_history(f, clock_wall_us());
        log_info("fault %s ended: %s, %llu connection(s) hit", describe(f, desc, sizeof desc),
                 why, (unsigned long long)f->hits);
        poke_discovery();
    } else {
        log_info("fault %s removed before it started: %s", describe(f, desc, sizeof desc), why);
    }
    if (f->prev)
        f->prev->next = f->next;
    else
        T.first = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        T.last = f->prev;
    HASH_DEL(T.by_id, f);
}

static void free_fault(struct fault *f)
{
    free_buckets(f);
    fault_spec_free(&f->spec);
    free(f);
}

static void end_fault(struct fault *f, const char *why)
{
    bool was_active = f->state == FAULT_ACTIVE;
    unlink_fault(f, why);
    if (was_active)
        update_all_subjects(COUNT_NONE);
    free_fault(f);
}

static void end_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    end_fault(w->data, "duration elapsed");
}

/* ---- public: setup ---- */

int faults_init(struct ev_loop *loop, uint64_t seed)
{
    if (T.ready)
        faults_shutdown();
    T.loop = loop;
    if (seed) {
        T.seed = seed;
        log_info("fault seed %llu", (unsigned long long)seed);
    } else {
        T.seed = rng_seed_from_os();
        if (T.seed == 0)
            T.seed = 1;
        log_info("fault seed %llu (random; run with --seed %llu to replay the same draws)",
                 (unsigned long long)T.seed, (unsigned long long)T.seed);
    }
    T.next_auto_id = 0;
    T.history_next = T.history_len = 0;
    T.ready = true;
    return 0;
}

void faults_shutdown(void)
{
    if (!T.ready)
        return;
    /* Connections are being torn down too: tell them nothing more. */
    while (T.subjects) {
        struct fault_subject *s = T.subjects;
        T.subjects = s->next;
        s->prev = s->next = NULL;
    }
    while (T.first)
        end_fault(T.first, "shutdown");
    free_leaders();
    T.ready = false;
}

uint64_t faults_seed(void)
{
    return T.seed;
}

void faults_set_env(const struct fault_env *env)
{
    T.env = *env;
    T.have_env = env->find && env->first && env->group_exists && env->member_exists;
}

void faults_set_config(const struct config *cfg)
{
    T.cfg = cfg;
}

/* ---- public: add / del / clear ---- */

static int check_target(const struct fault_spec *sp, bool allow_unknown_leader,
                        char *err, size_t errlen)
{
    const char *name = sp->target_name;
    switch (sp->target_kind) {
    case TARGET_ENDPOINT:
        if (!T.env.find(name))
            return errorf(err, errlen, "no endpoint named '%s' (see 'endpoint list')", name);
        return 0;
    case TARGET_MEMBER:
        if (!T.env.member_exists(name))
            return errorf(err, errlen, "no member named '%s' (no endpoint has member = %s)",
                        name, name);
        return 0;
    case TARGET_GROUP:
        if (!T.env.group_exists(name))
            return errorf(err, errlen, "no group named '%s' (no endpoint has group = %s)",
                        name, name);
        return 0;
    case TARGET_LEADER: {
        if (!T.env.group_exists(name))
            return errorf(err, errlen, "no group named '%s' (no endpoint has group = %s)",
                        name, name);
        const char *discovery = "?";
        if (T.cfg) {
            const struct group_conf *g = config_group(T.cfg, name);
            if (!g || g->leader == LEADER_NONE)
                return errorf(err, errlen, "leader:%s needs leader discovery: set 'leader = pd' "
                            "or 'leader = etcd' in [group %s]", name, name);
            discovery = g->leader == LEADER_PD ? "pd" : "etcd";
        }
        if (!allow_unknown_leader && !current_leader(name))
            return errorf(err, errlen, "leader of %s unknown yet (discovery: %s); retry when "
                        "'leader %s' shows one", name, discovery, name);
        return 0;
    }
    case TARGET_ALL:
        return 0;
    }
    return errorf(err, errlen, "bad target");
}

static struct fault *find_fault(const char *id)
{
    struct fault *f;
    HASH_FIND_STR(T.by_id, id, f);
    return f;
}

static int add_fault(int argc, char **argv, bool allow_unknown_leader,
                     char *id_out, size_t idlen, char *err, size_t errlen)
{
    struct fault_spec spec;

    if (!T.ready)
        return errorf(err, errlen, "the fault table is not running");
    if (!T.have_env)
        return errorf(err, errlen, "the fault table has no endpoints (faults_set_env not called)");
    if (fault_spec_parse(argc, argv, &spec, err, errlen) != 0)
        return -1;
    if (check_target(&spec, allow_unknown_leader, err, errlen) != 0)
        goto fail_spec;

    char id[FAULT_ID_MAX];
    if (spec.name[0]) {
        if (find_fault(spec.name)) {
            errorf(err, errlen, "a fault named '%s' exists already", spec.name);
            goto fail_spec;
        }
        snprintf(id, sizeof id, "%s", spec.name);
    } else {
        do
            snprintf(id, sizeof id, "f%u", ++T.next_auto_id);
        while (find_fault(id));
    }

    struct fault *f = calloc(1, sizeof *f);
    if (!f) {
        errorf(err, errlen, "out of memory");
        goto fail_spec;
    }
    snprintf(f->id, sizeof f->id, "%s", id);
    f->spec = spec;
    f->id_hash = rng_hash_str(f->id);
    f->prev = T.last;
    if (T.last)
        T.last->next = f;
    else
        T.first = f;
    T.last = f;
    HASH_ADD_STR(T.by_id, id, f);
    if (id_out && idlen)
        snprintf(id_out, idlen, "%s", f->id);

    if (spec.after_us > 0) {
        char desc[DESC_MAX];
        f->state = FAULT_PENDING;
        f->start_wall_us = clock_wall_us() + spec.after_us;
        start_timer(f, spec.after_us, start_timer_cb);
        log_info("fault %s added, starts in %.3f s", describe(f, desc, sizeof desc),
                 (double)spec.after_us / 1e6);
    } else {
        activate(f);
    }
    return 0;

fail_spec:
    fault_spec_free(&spec);
    return -1;
}

int fault_add(int argc, char **argv, char *id_out, size_t idlen, char *err, size_t errlen)
{
    return add_fault(argc, argv, false, id_out, idlen, err, errlen);
}

int fault_del(const char *id, char *err, size_t errlen)
{
    struct fault *f = find_fault(id);
    if (!f)
        return errorf(err, errlen, "no fault with id '%s' (see 'fault list')", id);
    end_fault(f, "deleted");
    return 0;
}

int fault_clear(const char *target)
{
    static const char prefix[] = "endpoint:";
    if (target && strncmp(target, prefix, sizeof prefix - 1) == 0)
        target += sizeof prefix - 1;
    /* 'fault clear all' means every fault, as anyone typing it expects. */
    if (target && strcmp(target, "all") == 0)
        target = NULL;

    /* Unlink all first: one update of the subjects, then free. */
    struct fault *removed = NULL;
    bool any_active = false;
    int n = 0;
    struct fault *f = T.first;
    while (f) {
        struct fault *next = f->next;
        if (!target || strcmp(f->spec.target, target) == 0) {
            any_active |= f->state == FAULT_ACTIVE;
            unlink_fault(f, "cleared");
            f->next = removed;
            removed = f;
            n++;
        }
        f = next;
    }
    if (any_active)
        update_all_subjects(COUNT_NONE);
    while (removed) {
        struct fault *next = removed->next;
        free_fault(removed);
        removed = next;
    }
    return n;
}

int faults_add_from_config(const struct config *cfg, char *err, size_t errlen)
{
    const char *file = cfg->path ? cfg->path : "(config)";
    char msg[512];

    faults_set_config(cfg);
    for (size_t i = 0; i < cfg->n_faults; i++) {
        const struct fault_conf *fc = &cfg->faults[i];
        int rc = 0;

        if (!fc->target || !fc->action) {
            snprintf(msg, sizeof msg, "key '%s' is required", fc->target ? "action" : "target");
            rc = -1;
        }
        char *params = rc == 0 ? strdup(fc->params ? fc->params : "") : NULL;
        size_t cap = params ? strlen(params) / 2 + 4 : 0;
        char **argv = params ? calloc(cap, sizeof *argv) : NULL;
        char name_word[FAULT_ID_MAX + 8];
        if (rc == 0 && !argv) {
            snprintf(msg, sizeof msg, "out of memory");
            rc = -1;
        }
        if (rc == 0) {
            int argc = 0;
            bool named = false;
            char *save = NULL;
            argv[argc++] = fc->target;
            argv[argc++] = fc->action;
            for (char *w = strtok_r(params, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
                named |= strncmp(w, "name=", 5) == 0;
                argv[argc++] = w;
            }
            if (!named) {
                snprintf(name_word, sizeof name_word, "name=%s", fc->name);
                argv[argc++] = name_word;
            }
            rc = add_fault(argc, argv, true, NULL, 0, msg, sizeof msg);
        }
        free(argv);
        free(params);
        if (rc != 0) {
            errorf(err, errlen, "%s:%d: [fault %s]: %s", file, fc->line, fc->name, msg);
            /* All or nothing: drop the ones this call added. */
            for (size_t j = 0; j < i; j++) {
                struct fault *f = find_fault(cfg->faults[j].name);
                if (f)
                    end_fault(f, "config error");
            }
            return -1;
        }
    }
    return 0;
}

/* ---- public: connections ---- */

/* Closing at once beats holding open: REFUSE > RESET > HANG. */
static int verdict_rank(enum accept_verdict v)
{
    switch (v) {
    case ACCEPT_REFUSE:
        return 3;
    case ACCEPT_RESET:
        return 2;
    case ACCEPT_HANG:
        return 1;
    case ACCEPT_OK:
        break;
    }
    return 0;
}

enum accept_verdict fault_on_accept(struct endpoint *ep, const struct sockaddr *client,
                                    socklen_t len, uint64_t serial)
{
    enum accept_verdict verdict = ACCEPT_OK;
    struct fault *decider = NULL;
    uint64_t now = clock_mono_us();

    for (struct fault *f = T.first; f; f = f->next) {
        enum accept_verdict v;
        switch (f->spec.action) {
        case FAULT_REFUSE:
            v = ACCEPT_REFUSE;
            break;
        case FAULT_RESET:
            v = ACCEPT_RESET;
            break;
        case FAULT_HANG_CONNECT:
        case FAULT_PARTITION:
            v = ACCEPT_HANG;
            break;
        default:
            continue;
        }
        if (verdict_rank(v) <= verdict_rank(verdict) ||
            !fault_matches(f, ep, client, len, serial, now))
            continue;
        verdict = v;
        decider = f;
    }
    if (decider) {
        decider->hits++;
        ep->stats.fault_hits++;
    }
    return verdict;
}

void fault_subject_attach(struct fault_subject *s)
{
    s->prev = NULL;
    s->next = T.subjects;
    if (T.subjects)
        T.subjects->prev = s;
    T.subjects = s;
    s->hit = false;
    effect_init(&s->effect);
    subject_update(s, COUNT_ALL, true);
}

void fault_subject_detach(struct fault_subject *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else if (T.subjects == s)
        T.subjects = s->next;
    else
        return;   /* not attached */
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

/* ---- public: leaders ---- */

static void move_to_leader(struct fault *f, const char *member)
{
    char desc[DESC_MAX];
    size_t n = 0;
    for (struct fault_subject *s = T.subjects; s; s = s->next)
        n++;
    bool *before = n ? calloc(n, sizeof *before) : NULL;
    size_t i = 0;
    if (before)
        for (struct fault_subject *s = T.subjects; s; s = s->next)
            before[i++] = fault_matches_subject(f, s);

    log_info("fault %s moves to the new leader %s", describe(f, desc, sizeof desc), member);
    snprintf(f->member, sizeof f->member, "%s", member);

    /* Count only connections the move brings in. */
    i = 0;
    struct fault_subject *s = T.subjects;
    while (s) {
        struct fault_subject *next = s->next;
        bool was = before && i < n ? before[i] : true;
        i++;
        subject_update(s, was ? COUNT_NONE : f, false);
        s = next;
    }
    free(before);
}

void fault_leader_changed(const char *group, const char *member)
{
    if (!group)
        return;
    bool known = member && member[0];
    struct leader_entry *e;
    HASH_FIND_STR(T.leaders, group, e);
    if (!known) {
        if (e) {
            HASH_DEL(T.leaders, e);
            free(e->group);
            free(e->member);
            free(e);
        }
        return;
    }
    if (e && strcmp(e->member, member) == 0)
        return;
    char *copy = strdup(member);
    if (!copy) {
        log_error("fault table: out of memory recording the leader of %s", group);
        return;
    }
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e || !(e->group = strdup(group))) {
            free(e);
            free(copy);
            log_error("fault table: out of memory recording the leader of %s", group);
            return;
        }
        HASH_ADD_KEYPTR(hh, T.leaders, e->group, strlen(e->group), e);
    } else {
        free(e->member);
    }
    e->member = copy;

    for (struct fault *f = T.first; f; f = f->next) {
        if (f->state != FAULT_ACTIVE || f->spec.target_kind != TARGET_LEADER ||
            strcmp(f->spec.target_name, group) != 0 || strcmp(f->member, member) == 0)
            continue;
        /* follow=false sticks to the member that led when the fault began,
         * unless the leader was not known then. */
        if (f->spec.follow || !f->member[0])
            move_to_leader(f, member);
    }
}

/* ---- public: listing ---- */

static json_t *time_or_null(int64_t wall_us)
{
    char buf[40];
    return wall_us ? json_string(clock_format_rfc3339(wall_us, buf, sizeof buf)) : json_null();
}

static void add_member(json_t *arr, const char *member)
{
    size_t i;
    json_t *v;
    if (!member || !member[0])
        return;
    json_array_foreach(arr, i, v)
        if (strcmp(json_string_value(v), member) == 0)
            return;
    json_array_append_new(arr, json_string(member));
}

static json_t *resolved_members(const struct fault *f)
{
    json_t *arr = json_array();
    if (f->spec.target_kind == TARGET_LEADER) {
        add_member(arr, f->state == FAULT_ACTIVE ? f->member : current_leader(f->spec.target_name));
        return arr;
    }
    if (!T.have_env)
        return arr;
    for (struct endpoint *e = T.env.first(); e; e = e->next)
        if (targets_endpoint(f, e))
            add_member(arr, e->member);
    return arr;
}

static const char *direction_name(const struct fault_spec *sp)
{
    if (sp->dir[DIR_UP] && sp->dir[DIR_DOWN])
        return "both";
    return sp->dir[DIR_UP] ? "up" : "down";
}

json_t *fault_list_json(void)
{
    json_t *arr = json_array();
    for (struct fault *f = T.first; f; f = f->next) {
        int64_t until = f->spec.duration_us ? f->start_wall_us + f->spec.duration_us : 0;
        json_t *o = json_pack("{s:s, s:s, s:s, s:O, s:s, s:s, s:o, s:o, s:o, s:I}",
                              "id", f->id,
                              "target", f->spec.target,
                              "action", fault_action_name(f->spec.action),
                              "params", f->spec.params,
                              "direction", direction_name(&f->spec),
                              "state", f->state == FAULT_ACTIVE ? "active" : "pending",
                              "resolved_members", resolved_members(f),
                              "since", time_or_null(f->start_wall_us),
                              "until", time_or_null(until),
                              "hits", (json_int_t)f->hits);
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}

static json_t *window_json(const char *id, const char *action, const char *target,
                           const char *member, int64_t from_us, int64_t to_us)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", id, "action", action,
                          "target", target, "from", time_or_null(from_us),
                          "to", time_or_null(to_us));
    if (o && member && member[0])
        json_object_set_new(o, "member", json_string(member));
    return o;
}

json_t *fault_windows_json(int64_t from_wall_us, int64_t to_wall_us)
{
    json_t *arr = json_array();
    size_t oldest = (T.history_next + FAULT_HISTORY_MAX - T.history_len) % FAULT_HISTORY_MAX;
    for (size_t k = 0; k < T.history_len; k++) {
        const struct fault_record *r = &T.history[(oldest + k) % FAULT_HISTORY_MAX];
        if (r->from_us <= to_wall_us && r->to_us >= from_wall_us) {
            json_t *o = window_json(r->id, r->action, r->target, r->member, r->from_us, r->to_us);
            if (o)
                json_array_append_new(arr, o);
        }
    }
    for (struct fault *f = T.first; f; f = f->next) {
        if (f->state != FAULT_ACTIVE || f->start_wall_us > to_wall_us)
            continue;
        json_t *o = window_json(f->id, fault_action_name(f->spec.action), f->spec.target,
                                f->member, f->start_wall_us, 0);
        if (o)
            json_array_append_new(arr, o);
    }
    return arr;
}
