/* test_fault.c - the fault table without sockets: spec parsing, lifecycle on a
 * real libev loop, effect merging, partition, probability, client=CIDR.
 * Endpoints are fakes given to the table through struct fault_env. */
#include "conf.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include <ev.h>

#include "../proxy/conf.h"
#include "clock.h"
#include "endpoint.h"
#include "fault.h"
#include "fault_spec.h"
#include "log.h"

/* ---- fake topology: pd x3 (client + peer), etcd x1, tikv x1, mysql ---- */

struct fake_ep {
    const char *name, *group, *member, *addr;
    enum endpoint_role role;
};

static const struct fake_ep fake_eps[] = {
    {"pd1", "pd", "pd1", "127.0.0.11", ROLE_CLIENT},
    {"pd1-peer", "pd", "pd1", "127.0.0.11", ROLE_PEER},
    {"pd2", "pd", "pd2", "127.0.0.12", ROLE_CLIENT},
    {"pd2-peer", "pd", "pd2", "127.0.0.12", ROLE_PEER},
    {"pd3", "pd", "pd3", "127.0.0.13", ROLE_CLIENT},
    {"pd3-peer", "pd", "pd3", "127.0.0.13", ROLE_PEER},
    {"etcd1", "etcd", "etcd1", "127.0.0.21", ROLE_CLIENT},
    {"tikv1", "tikv", "tikv1", "127.0.0.31", ROLE_CLIENT},
    {"mysql", "mysql", "mysql", NULL, ROLE_CLIENT},
};
#define N_EPS (sizeof fake_eps / sizeof fake_eps[0])

static struct endpoint eps[N_EPS];
static struct ev_loop *loop;
static struct config cfg;
static struct group_conf groups[3];

static void set_ipv4(struct sockaddr_storage *ss, socklen_t *len, const char *ip, int port)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    memset(ss, 0, sizeof *ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
        abort();   /* a typo in the test itself */
    *len = sizeof *sin;
}

static void set_ipv6(struct sockaddr_storage *ss, socklen_t *len, const char *ip, int port)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
        abort();
    *len = sizeof *sin6;
}

static struct endpoint *fake_find(const char *name)
{
    for (size_t i = 0; i < N_EPS; i++)
        if (strcmp(eps[i].name, name) == 0)
            return &eps[i];
    return NULL;
}

static struct endpoint *fake_first(void)
{
    return &eps[0];
}

static bool fake_group_exists(const char *group)
{
    for (size_t i = 0; i < N_EPS; i++)
        if (strcmp(eps[i].group, group) == 0)
            return true;
    return false;
}

static bool fake_member_exists(const char *member)
{
    for (size_t i = 0; i < N_EPS; i++)
        if (strcmp(eps[i].member, member) == 0)
            return true;
    return false;
}

static void make_topology(void)
{
    for (size_t i = 0; i < N_EPS; i++) {
        struct endpoint *e = &eps[i];
        memset(e, 0, sizeof *e);
        e->name = (char *)fake_eps[i].name;
        e->group = (char *)fake_eps[i].group;
        e->member = (char *)fake_eps[i].member;
        e->role = fake_eps[i].role;
        e->is_mysql = strcmp(e->name, "mysql") == 0;
        if (fake_eps[i].addr)
            set_ipv4(&e->member_addr, &e->member_addr_len, fake_eps[i].addr, 0);
        e->next = i + 1 < N_EPS ? &eps[i + 1] : NULL;
    }
    groups[0] = (struct group_conf){"pd", LEADER_PD, 10};
    groups[1] = (struct group_conf){"etcd", LEADER_ETCD, 12};
    groups[2] = (struct group_conf){"tikv", LEADER_NONE, 14};
    memset(&cfg, 0, sizeof cfg);
    cfg.path = "test.conf";
    cfg.groups = groups;
    cfg.n_groups = 3;
}

/* ---- fake connections ---- */

struct conn {
    struct fault_subject s;
    struct fault_conn_effect e;
    int applies;
};

static void conn_apply(struct fault_subject *s, const struct fault_conn_effect *e)
{
    struct conn *c = (struct conn *)s;
    c->e = *e;
    c->applies++;
}

static uint64_t next_serial = 1;

static void conn_open(struct conn *c, const char *ep, const char *client_ip)
{
    memset(c, 0, sizeof *c);
    c->s.endpoint = fake_find(ep);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c->s.endpoint);
    if (strchr(client_ip, ':'))
        set_ipv6(&c->s.client, &c->s.client_len, client_ip, 40000);
    else
        set_ipv4(&c->s.client, &c->s.client_len, client_ip, 40000);
    c->s.serial = next_serial++;
    c->s.opened_us = clock_mono_us();
    c->s.apply = conn_apply;
    fault_subject_attach(&c->s);
}

static enum accept_verdict accept_from(const char *ep, const char *client_ip)
{
    struct sockaddr_storage ss;
    socklen_t len;
    set_ipv4(&ss, &len, client_ip, 40001);
    return fault_on_accept(fake_find(ep), (struct sockaddr *)&ss, len, next_serial++);
}

/* ---- helpers ---- */

static int split(char *line, char **argv, int max)
{
    int argc = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " ", &save); w && argc < max; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return argc;
}

static char last_err[512];
static char last_id[FAULT_ID_MAX];

/* 'fault add' with a one-line spec; returns 0 or -1 (message in last_err). */
static int add(const char *spec)
{
    char line[512], *argv[32];
    snprintf(line, sizeof line, "%s", spec);
    int argc = split(line, argv, 32);
    last_err[0] = last_id[0] = '\0';
    return fault_add(argc, argv, last_id, sizeof last_id, last_err, sizeof last_err);
}

static size_t fault_count(void)
{
    json_t *l = fault_list_json();
    size_t n = json_array_size(l);
    json_decref(l);
    return n;
}

static json_t *find_listed(json_t *list, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
            return v;
    return NULL;
}

static void tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
    ev_break(l, EVBREAK_ONE);
}

/* Runs the loop for about ms milliseconds. */
static void run_for_ms(int ms)
{
    uint64_t until = clock_mono_us() + (uint64_t)ms * 1000;
    while (clock_mono_us() < until) {
        ev_timer tick;
        ev_timer_init(&tick, tick_cb, 0.002, 0);
        ev_timer_start(loop, &tick);
        ev_run(loop, EVRUN_ONCE);
        ev_timer_stop(loop, &tick);
    }
}

static int setup(void)
{
    make_topology();
    struct fault_env env = {fake_find, fake_first, fake_group_exists, fake_member_exists};
    faults_set_env(&env);
    faults_set_config(&cfg);
    faults_init(loop, 42);
    return 0;
}

static int teardown(void)
{
    faults_shutdown();
    return 0;
}

/* Every test starts from an empty table with seed 42. */
static void reset_table(void)
{
    faults_shutdown();
    setup();
}

/* ---- parsing ---- */

static void test_parse_good(void)
{
    static const char *const good[] = {
        "pd1 delay ms=100",
        "pd1 delay ms=1.5s jitter=10 distribution=normal correlation=0.25",
        "pd1 delay ms=0 jitter=500us distribution=pareto correlation=25%",
        "member:pd1 bandwidth rate=1MiB/s",
        "group:pd bandwidth rate=512KB/s scope=endpoint direction=up",
        "all bandwidth rate=1000/s scope=connection",
        "pd2 stall direction=down",
        "pd2 blackhole",
        "pd3 refuse probability=0.5",
        "pd3 reset new_only=true",
        "etcd1 hang_connect client=10.0.0.0/8",
        "pd1 close_after bytes=64k direction=up",
        "pd1 close_after ms=2s",
        "pd1 slow_close ms=500",
        "pd1 slice size=100 delay_us=1000",
        "member:pd2 partition duration=30s after=5s",
        "pd1 stall client=fd00::/8 probability=50%",
        "endpoint:pd1 stall name=my-fault.1",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        reset_table();
        int rc = add(good[i]);
        if (rc != 0)
            fprintf(stderr, "\n  unexpected error for '%s': %s\n", good[i], last_err);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(fault_count(), 1);
    }
    reset_table();
}

static void test_parse_values(void)
{
    char line[] = "pd1 delay ms=1.5s jitter=10 distribution=normal correlation=25% "
                  "direction=up probability=0.5 duration=2m after=100us name=x";
    char *argv[16], err[256];
    int argc = split(line, argv, 16);
    struct fault_spec sp;
    CU_ASSERT_EQUAL_FATAL(fault_spec_parse(argc, argv, &sp, err, sizeof err), 0);
    CU_ASSERT_EQUAL(sp.target_kind, TARGET_ENDPOINT);
    CU_ASSERT_STRING_EQUAL(sp.target, "pd1");
    CU_ASSERT_EQUAL(sp.action, FAULT_DELAY);
    CU_ASSERT_EQUAL(sp.delay_us, 1500000);
    CU_ASSERT_EQUAL(sp.jitter_us, 10000);
    CU_ASSERT_EQUAL(sp.distribution, DIST_NORMAL);
    CU_ASSERT_DOUBLE_EQUAL(sp.correlation, 0.25, 1e-9);
    CU_ASSERT(sp.dir[DIR_UP] && !sp.dir[DIR_DOWN]);
    CU_ASSERT_DOUBLE_EQUAL(sp.probability, 0.5, 1e-9);
    CU_ASSERT_EQUAL(sp.duration_us, 120000000);
    CU_ASSERT_EQUAL(sp.after_us, 100);
    CU_ASSERT_STRING_EQUAL(sp.name, "x");
    CU_ASSERT_DOUBLE_EQUAL(json_real_value(json_object_get(sp.params, "ms")), 1500.0, 1e-9);
    CU_ASSERT_STRING_EQUAL(sp.params_text, "ms=1.5s jitter=10 distribution=normal correlation=25% "
                           "direction=up probability=0.5 duration=2m after=100us");
    fault_spec_free(&sp);

    char line2[] = "leader:pd bandwidth rate=1MiB/s follow=true";
    argc = split(line2, argv, 16);
    CU_ASSERT_EQUAL_FATAL(fault_spec_parse(argc, argv, &sp, err, sizeof err), 0);
    CU_ASSERT_EQUAL(sp.target_kind, TARGET_LEADER);
    CU_ASSERT_STRING_EQUAL(sp.target_name, "pd");
    CU_ASSERT_STRING_EQUAL(sp.target, "leader:pd");
    CU_ASSERT_EQUAL(sp.rate_bps, 1048576);
    CU_ASSERT(sp.follow);
    fault_spec_free(&sp);

    char line3[] = "pd1 bandwidth rate=512KB/s";
    argc = split(line3, argv, 16);
    CU_ASSERT_EQUAL_FATAL(fault_spec_parse(argc, argv, &sp, err, sizeof err), 0);
    CU_ASSERT_EQUAL(sp.rate_bps, 512000);
    fault_spec_free(&sp);
}

struct bad_case {
    const char *spec;
    const char *error_contains;
};

static void test_parse_bad(void)
{
    static const struct bad_case bad[] = {
        {"", "usage"},
        {"pd1", "usage"},
        {"pd1 explode", "unknown action 'explode'"},
        {"nosuch delay ms=1", "no endpoint named 'nosuch'"},
        {"member:nosuch stall", "no member named 'nosuch'"},
        {"group:nosuch stall", "no group named 'nosuch'"},
        {"leader:nosuch stall", "no group named 'nosuch'"},
        {"leader:tikv stall", "needs leader discovery"},
        {"leader:pd partition", "leader of pd unknown yet (discovery: pd)"},
        {"planet:pd stall", "unknown target 'planet:pd'"},
        {"member: stall", "bad target"},
        {"pd1 delay", "delay needs ms"},
        {"pd1 delay ms=-1", "must not be negative"},
        {"pd1 delay ms=abc", "not a duration"},
        {"pd1 delay ms=11m", "too large"},
        {"pd1 delay ms=10 jitter=11m", "too large"},
        {"pd1 delay ms=10 distribution=gamma jitter=1", "use uniform, normal or pareto"},
        {"pd1 delay ms=10 distribution=normal", "need jitter"},
        {"pd1 delay ms=10 jitter=1 correlation=1.5", "between 0 and 1"},
        {"pd1 delay ms=10 color=red", "unknown parameter 'color'"},
        {"pd1 delay ms=10 rate=1/s", "parameter 'rate' does not apply"},
        {"pd1 delay ms=10 ms=20", "given twice"},
        {"pd1 delay ms=10 oops", "expected key=value"},
        {"pd1 delay ms=", "empty value"},
        {"pd1 bandwidth", "bandwidth needs rate"},
        {"pd1 bandwidth rate=0", "must be at least 1"},
        {"pd1 bandwidth rate=fast", "not a size"},
        {"pd1 bandwidth rate=1MiB/s scope=world", "use connection or endpoint"},
        {"pd1 stall probability=2", "between 0 and 1"},
        {"pd1 stall probability=-0.1", "between 0 and 1"},
        {"pd1 stall direction=sideways", "use up, down or both"},
        {"pd1 refuse direction=up", "parameter 'direction' does not apply"},
        {"pd1 partition direction=up", "parameter 'direction' does not apply"},
        {"pd1 stall duration=0", "must be at least"},
        {"pd1 stall duration=31d", "not a duration"},
        {"pd1 stall duration=1000h", "too large"},
        {"pd1 stall after=-5s", "must not be negative"},
        {"pd1 stall new_only=maybe", "use true or false"},
        {"pd1 stall follow=true", "follow applies to leader"},
        {"pd1 stall client=10.0.0.0/33", "not an address or CIDR"},
        {"pd1 stall client=banana", "not an address or CIDR"},
        {"pd1 stall name=has/slash", "name=has/slash"},
        {"pd1 close_after", "exactly one of bytes=N or ms=N"},
        {"pd1 close_after bytes=10 ms=10", "exactly one of bytes=N or ms=N"},
        {"pd1 close_after ms=10 direction=up", "direction applies to bytes=N only"},
        {"pd1 slow_close", "slow_close needs ms"},
        {"pd1 slow_close ms=0", "must be at least"},
        {"pd1 slice", "slice needs size"},
        {"pd1 slice size=0", "must be at least 1"},
        {"pd1 slice size=100 delay_us=-3", "must not be negative"},
        {"pd1 slice size=100 delay_us=999999999", "too large"},
    };
    reset_table();
    CU_ASSERT_EQUAL(add("pd2 stall name=taken"), 0);
    size_t before = fault_count();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = add(bad[i].spec);
        CU_ASSERT_EQUAL(rc, -1);
        if (rc != -1 || !strstr(last_err, bad[i].error_contains)) {
            fprintf(stderr, "\n  '%s': got \"%s\", want \"%s\"\n", bad[i].spec, last_err,
                    bad[i].error_contains);
            CU_FAIL("error message");
        }
        CU_ASSERT_EQUAL(fault_count(), before);   /* nothing changed */
    }
    CU_ASSERT_EQUAL(add("pd1 stall name=taken"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_err, "exists already"));
    CU_ASSERT_EQUAL(fault_count(), before);
}

static void test_auto_ids(void)
{
    reset_table();
    CU_ASSERT_EQUAL(add("pd1 stall"), 0);
    CU_ASSERT_STRING_EQUAL(last_id, "f1");
    CU_ASSERT_EQUAL(add("pd1 stall name=f2"), 0);
    CU_ASSERT_EQUAL(add("pd1 stall"), 0);
    CU_ASSERT_STRING_EQUAL(last_id, "f3");   /* f2 was taken by name */
    char err[128];
    CU_ASSERT_EQUAL(fault_del("f2", err, sizeof err), 0);
    CU_ASSERT_EQUAL(fault_del("f2", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "no fault with id 'f2'"));
    CU_ASSERT_EQUAL(fault_count(), 2);
}

/* ---- lifecycle ---- */

static void test_lifecycle_after_duration(void)
{
    struct conn c;
    reset_table();
    conn_open(&c, "pd1", "127.0.0.99");
    CU_ASSERT_EQUAL(c.applies, 1);               /* attach always applies */
    CU_ASSERT_FALSE(c.e.dir[DIR_UP].stall);

    int64_t t0 = clock_wall_us();
    CU_ASSERT_EQUAL_FATAL(add("pd1 stall after=50ms duration=250ms"), 0);
    json_t *l = fault_list_json();
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(l, 0), "state")),
                           "pending");
    CU_ASSERT(json_is_string(json_object_get(json_array_get(l, 0), "until")));
    json_decref(l);
    CU_ASSERT_FALSE(c.e.dir[DIR_UP].stall);

    run_for_ms(150);   /* active from 50 ms to 300 ms: wide margins on a busy host */
    l = fault_list_json();
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(l, 0), "state")),
                           "active");
    json_decref(l);
    CU_ASSERT(c.e.dir[DIR_UP].stall && c.e.dir[DIR_DOWN].stall);
    CU_ASSERT_EQUAL(c.applies, 2);

    /* Active now: it shows in a window with "to": null. */
    json_t *w = fault_windows_json(t0, clock_wall_us());
    CU_ASSERT_EQUAL(json_array_size(w), 1);
    CU_ASSERT(json_is_null(json_object_get(json_array_get(w, 0), "to")));
    json_decref(w);

    run_for_ms(300);
    CU_ASSERT_EQUAL(fault_count(), 0);
    CU_ASSERT_FALSE(c.e.dir[DIR_UP].stall);
    CU_ASSERT_EQUAL(c.applies, 3);
    CU_ASSERT_EQUAL(c.s.endpoint->stats.fault_hits, 1);

    int64_t t1 = clock_wall_us();
    w = fault_windows_json(t0, t1);
    CU_ASSERT_EQUAL_FATAL(json_array_size(w), 1);
    json_t *rec = json_array_get(w, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rec, "id")), "f1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rec, "action")), "stall");
    CU_ASSERT(json_is_string(json_object_get(rec, "from")));
    CU_ASSERT(json_is_string(json_object_get(rec, "to")));
    json_decref(w);
    /* A window entirely before the fault does not list it. */
    w = fault_windows_json(t0 - 10000000, t0 - 5000000);
    CU_ASSERT_EQUAL(json_array_size(w), 0);
    json_decref(w);
    fault_subject_detach(&c.s);
}

static void test_del_pending_and_clear(void)
{
    struct conn c;
    reset_table();
    conn_open(&c, "pd2", "127.0.0.99");
    CU_ASSERT_EQUAL(add("pd2 stall after=50ms"), 0);
    char err[128];
    CU_ASSERT_EQUAL(fault_del("f1", err, sizeof err), 0);
    run_for_ms(80);
    CU_ASSERT_FALSE(c.e.dir[DIR_UP].stall);      /* a deleted pending fault never starts */

    CU_ASSERT_EQUAL(add("pd2 stall"), 0);
    CU_ASSERT_EQUAL(add("pd2 delay ms=5"), 0);
    CU_ASSERT_EQUAL(add("member:pd1 stall"), 0);
    CU_ASSERT_EQUAL(add("all delay ms=1"), 0);
    int applies = c.applies;
    CU_ASSERT_EQUAL(fault_clear("endpoint:pd2"), 2);
    CU_ASSERT_EQUAL(c.applies, applies + 1);     /* one update for the whole clear */
    CU_ASSERT_FALSE(c.e.dir[DIR_UP].stall);
    CU_ASSERT_EQUAL(c.e.dir[DIR_UP].shape.delay_us, 1000);
    CU_ASSERT_EQUAL(fault_clear("member:pd1"), 1);
    CU_ASSERT_EQUAL(fault_clear("pd3"), 0);
    CU_ASSERT_EQUAL(add("pd3 stall"), 0);
    CU_ASSERT_EQUAL(fault_clear("all"), 2);      /* 'all' clears everything */
    CU_ASSERT_EQUAL(fault_clear(NULL), 0);
    CU_ASSERT_EQUAL(fault_count(), 0);
    CU_ASSERT_EQUAL(c.e.dir[DIR_UP].shape.delay_us, 0);
    fault_subject_detach(&c.s);
}

/* ---- effects ---- */

static void test_effect_merge(void)
{
    struct conn c;
    reset_table();
    conn_open(&c, "pd1", "127.0.0.99");
    CU_ASSERT_EQUAL(add("pd1 delay ms=10 jitter=2"), 0);
    CU_ASSERT_EQUAL(add("member:pd1 delay ms=5 jitter=4 distribution=normal direction=up"), 0);
    CU_ASSERT_EQUAL(add("pd1 bandwidth rate=1MiB/s"), 0);
    CU_ASSERT_EQUAL(add("group:pd bandwidth rate=64KiB/s direction=down"), 0);
    CU_ASSERT_EQUAL(add("pd1 slice size=500 delay_us=100"), 0);
    CU_ASSERT_EQUAL(add("pd1 slice size=200 delay_us=50"), 0);
    CU_ASSERT_EQUAL(add("pd1 close_after bytes=1000 direction=down"), 0);
    CU_ASSERT_EQUAL(add("pd1 close_after bytes=5000"), 0);
    CU_ASSERT_EQUAL(add("pd1 slow_close ms=300"), 0);

    const struct fault_dir_effect *up = &c.e.dir[DIR_UP], *down = &c.e.dir[DIR_DOWN];
    CU_ASSERT_EQUAL(up->shape.delay_us, 15000);
    CU_ASSERT_EQUAL(up->shape.jitter_us, 6000);
    CU_ASSERT_EQUAL(up->shape.distribution, DIST_NORMAL);   /* widest jitter's */
    CU_ASSERT_EQUAL(down->shape.delay_us, 10000);
    CU_ASSERT_EQUAL(down->shape.jitter_us, 2000);
    CU_ASSERT_EQUAL(down->shape.distribution, DIST_UNIFORM);
    CU_ASSERT_EQUAL(up->shape.rate_bps, 1048576);
    CU_ASSERT_EQUAL(down->shape.rate_bps, 65536);
    CU_ASSERT_PTR_NULL(up->shape.bucket);
    CU_ASSERT_EQUAL(up->shape.slice_size, 200);
    CU_ASSERT_EQUAL(up->shape.slice_delay_us, 100);
    CU_ASSERT_EQUAL(up->close_after_bytes, 5000);
    CU_ASSERT_EQUAL(down->close_after_bytes, 1000);
    CU_ASSERT_EQUAL(c.e.slow_close_us, 300000);
    CU_ASSERT_NOT_EQUAL(up->shape.seed, down->shape.seed);
    CU_ASSERT_FALSE(up->stall || down->stall || c.e.reset || c.e.close_when_healed);
    CU_ASSERT_EQUAL(c.s.endpoint->stats.fault_hits, 1);      /* counted once */

    /* close_after ms: from the later of connection open and fault start. */
    uint64_t before = clock_mono_us();
    CU_ASSERT_EQUAL(add("pd1 close_after ms=2s"), 0);
    CU_ASSERT(c.e.close_at_us >= (int64_t)(before + 2000000));
    CU_ASSERT(c.e.close_at_us <= (int64_t)(clock_mono_us() + 2000000));
    int64_t at = c.e.close_at_us;
    CU_ASSERT_EQUAL(add("pd1 close_after ms=5s"), 0);
    CU_ASSERT_EQUAL(c.e.close_at_us, at);                    /* the earliest wins */

    /* A fault on another endpoint changes nothing here. */
    int applies = c.applies;
    CU_ASSERT_EQUAL(add("pd2 stall"), 0);
    CU_ASSERT_EQUAL(c.applies, applies);

    CU_ASSERT_EQUAL(add("pd1 blackhole direction=up"), 0);
    CU_ASSERT(up->blackhole && !down->blackhole && c.e.close_when_healed);
    CU_ASSERT_EQUAL(add("pd1 reset"), 0);
    CU_ASSERT(c.e.reset);
    fault_subject_detach(&c.s);
}

static void test_bandwidth_scope(void)
{
    struct conn a, b, other;
    reset_table();
    conn_open(&a, "pd1", "127.0.0.99");
    conn_open(&b, "pd1", "127.0.0.98");
    conn_open(&other, "pd2", "127.0.0.99");
    CU_ASSERT_EQUAL(add("group:pd bandwidth rate=1MiB/s scope=endpoint"), 0);
    CU_ASSERT_PTR_NOT_NULL(a.e.dir[DIR_UP].shape.bucket);
    CU_ASSERT_PTR_EQUAL(a.e.dir[DIR_UP].shape.bucket, b.e.dir[DIR_UP].shape.bucket);
    CU_ASSERT_PTR_NOT_EQUAL(a.e.dir[DIR_UP].shape.bucket, a.e.dir[DIR_DOWN].shape.bucket);
    CU_ASSERT_PTR_NOT_EQUAL(a.e.dir[DIR_UP].shape.bucket, other.e.dir[DIR_UP].shape.bucket);
    CU_ASSERT_EQUAL(a.e.dir[DIR_UP].shape.rate_bps, 1048576);
    /* A tighter per-connection limit wins over the shared one. */
    CU_ASSERT_EQUAL(add("pd1 bandwidth rate=1000/s"), 0);
    CU_ASSERT_EQUAL(a.e.dir[DIR_UP].shape.rate_bps, 1000);
    CU_ASSERT_PTR_NULL(a.e.dir[DIR_UP].shape.bucket);
    CU_ASSERT_PTR_NOT_NULL(other.e.dir[DIR_UP].shape.bucket);
    fault_clear(NULL);
    CU_ASSERT_EQUAL(other.e.dir[DIR_UP].shape.rate_bps, 0);
    CU_ASSERT_PTR_NULL(other.e.dir[DIR_UP].shape.bucket);
    fault_subject_detach(&a.s);
    fault_subject_detach(&b.s);
    fault_subject_detach(&other.s);
}

static void test_partition(void)
{
    struct conn to_pd1, to_pd1_peer, raft_from_pd1, raft_from_pd3, mysql_from_pd1, v6_from_pd1;
    reset_table();
    conn_open(&to_pd1, "pd1", "127.0.0.50");              /* a PD client of pd1 */
    conn_open(&to_pd1_peer, "pd1-peer", "127.0.0.12");    /* pd2 -> pd1 raft */
    conn_open(&raft_from_pd1, "pd2-peer", "127.0.0.11");  /* pd1 -> pd2 raft */
    conn_open(&raft_from_pd3, "pd2-peer", "127.0.0.13");  /* pd3 -> pd2 raft */
    conn_open(&mysql_from_pd1, "mysql", "127.0.0.11");
    conn_open(&v6_from_pd1, "pd3-peer", "::ffff:127.0.0.11");

    CU_ASSERT_EQUAL_FATAL(add("member:pd1 partition"), 0);
    CU_ASSERT(to_pd1.e.dir[DIR_UP].stall && to_pd1.e.dir[DIR_DOWN].stall);
    CU_ASSERT(to_pd1_peer.e.dir[DIR_UP].stall && to_pd1_peer.e.dir[DIR_DOWN].stall);
    CU_ASSERT(raft_from_pd1.e.dir[DIR_UP].stall && raft_from_pd1.e.dir[DIR_DOWN].stall);
    CU_ASSERT(v6_from_pd1.e.dir[DIR_UP].stall);
    /* Source-address match is by IP alone: anything from 127.0.0.11 is cut. */
    CU_ASSERT(mysql_from_pd1.e.dir[DIR_UP].stall);
    CU_ASSERT_FALSE(raft_from_pd3.e.dir[DIR_UP].stall || raft_from_pd3.e.dir[DIR_DOWN].stall);

    CU_ASSERT_EQUAL(accept_from("pd1", "127.0.0.50"), ACCEPT_HANG);
    CU_ASSERT_EQUAL(accept_from("pd1-peer", "127.0.0.13"), ACCEPT_HANG);
    CU_ASSERT_EQUAL(accept_from("pd3-peer", "127.0.0.11"), ACCEPT_HANG);
    CU_ASSERT_EQUAL(accept_from("pd3-peer", "127.0.0.12"), ACCEPT_OK);

    json_t *l = fault_list_json();
    json_t *m = json_object_get(json_array_get(l, 0), "resolved_members");
    CU_ASSERT_EQUAL(json_array_size(m), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(m, 0)), "pd1");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_array_get(l, 0), "hits")), 5 + 3);
    json_decref(l);

    fault_clear(NULL);
    CU_ASSERT_FALSE(to_pd1.e.dir[DIR_UP].stall || raft_from_pd1.e.dir[DIR_UP].stall);
    fault_subject_detach(&to_pd1.s);
    fault_subject_detach(&to_pd1_peer.s);
    fault_subject_detach(&raft_from_pd1.s);
    fault_subject_detach(&raft_from_pd3.s);
    fault_subject_detach(&mysql_from_pd1.s);
    fault_subject_detach(&v6_from_pd1.s);
}

static void test_accept_verdicts(void)
{
    struct conn c;
    reset_table();
    conn_open(&c, "pd3", "127.0.0.99");
    CU_ASSERT_EQUAL(add("pd3 hang_connect"), 0);
    CU_ASSERT_EQUAL(c.applies, 1);                  /* accept-only: open ones untouched */
    CU_ASSERT_EQUAL(accept_from("pd3", "127.0.0.1"), ACCEPT_HANG);
    CU_ASSERT_EQUAL(add("pd3 reset"), 0);
    CU_ASSERT(c.e.reset);                           /* reset hits open connections too */
    CU_ASSERT_EQUAL(accept_from("pd3", "127.0.0.1"), ACCEPT_RESET);
    CU_ASSERT_EQUAL(add("pd3 refuse"), 0);
    CU_ASSERT_EQUAL(accept_from("pd3", "127.0.0.1"), ACCEPT_REFUSE);
    CU_ASSERT_EQUAL(accept_from("pd2", "127.0.0.1"), ACCEPT_OK);
    /* 1 open connection reset + 3 non-OK accepts; pd2 was never hit. */
    CU_ASSERT_EQUAL(fake_find("pd3")->stats.fault_hits, 4);
    CU_ASSERT_EQUAL(fake_find("pd2")->stats.fault_hits, 0);
    fault_subject_detach(&c.s);
}

static void test_client_cidr(void)
{
    struct conn in4, out4, in6, out6;
    reset_table();
    conn_open(&in4, "etcd1", "10.1.2.3");
    conn_open(&out4, "etcd1", "10.2.0.1");
    conn_open(&in6, "etcd1", "fd12::5");
    conn_open(&out6, "etcd1", "2001:db8::1");
    CU_ASSERT_EQUAL(add("etcd1 stall client=10.1.0.0/16"), 0);
    CU_ASSERT_EQUAL(add("etcd1 delay ms=3 client=fd00::/8"), 0);
    CU_ASSERT(in4.e.dir[DIR_UP].stall);
    CU_ASSERT_FALSE(out4.e.dir[DIR_UP].stall);
    CU_ASSERT_FALSE(in6.e.dir[DIR_UP].stall);
    CU_ASSERT_EQUAL(in6.e.dir[DIR_UP].shape.delay_us, 3000);
    CU_ASSERT_EQUAL(out6.e.dir[DIR_UP].shape.delay_us, 0);
    CU_ASSERT_EQUAL(in4.e.dir[DIR_UP].shape.delay_us, 0);
    CU_ASSERT_EQUAL(add("etcd1 refuse client=10.9.9.9"), 0);
    CU_ASSERT_EQUAL(accept_from("etcd1", "10.9.9.9"), ACCEPT_REFUSE);
    CU_ASSERT_EQUAL(accept_from("etcd1", "10.9.9.8"), ACCEPT_OK);
    fault_subject_detach(&in4.s);
    fault_subject_detach(&out4.s);
    fault_subject_detach(&in6.s);
    fault_subject_detach(&out6.s);
}

static void test_cidr_parse(void)
{
    struct fault_cidr c;
    struct sockaddr_storage ss;
    socklen_t len;
    CU_ASSERT_EQUAL(fault_cidr_parse("10.1.2.3/12", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 12);
    set_ipv4(&ss, &len, "10.15.255.255", 1);
    CU_ASSERT(fault_cidr_match(&c, (struct sockaddr *)&ss, len));
    set_ipv4(&ss, &len, "10.16.0.0", 1);
    CU_ASSERT_FALSE(fault_cidr_match(&c, (struct sockaddr *)&ss, len));
    CU_ASSERT_EQUAL(fault_cidr_parse("0.0.0.0/0", &c), 0);
    CU_ASSERT(fault_cidr_match(&c, (struct sockaddr *)&ss, len));
    set_ipv6(&ss, &len, "::1", 1);
    CU_ASSERT_FALSE(fault_cidr_match(&c, (struct sockaddr *)&ss, len));
    CU_ASSERT_EQUAL(fault_cidr_parse("::1", &c), 0);
    CU_ASSERT_EQUAL(c.prefix, 128);
    CU_ASSERT(fault_cidr_match(&c, (struct sockaddr *)&ss, len));
    CU_ASSERT_EQUAL(fault_cidr_parse("10.0.0.0/", &c), -1);
    CU_ASSERT_EQUAL(fault_cidr_parse("10.0.0.0/-1", &c), -1);
    CU_ASSERT_EQUAL(fault_cidr_parse("::/129", &c), -1);
    CU_ASSERT_EQUAL(fault_cidr_parse("", &c), -1);
}

static void test_new_only(void)
{
    struct conn old_conn, new_conn;
    reset_table();
    conn_open(&old_conn, "pd2", "127.0.0.99");
    old_conn.s.opened_us -= 1000;   /* clearly before the fault */
    CU_ASSERT_EQUAL(add("pd2 delay ms=7 new_only=true"), 0);
    conn_open(&new_conn, "pd2", "127.0.0.99");
    CU_ASSERT_EQUAL(old_conn.e.dir[DIR_UP].shape.delay_us, 0);
    CU_ASSERT_EQUAL(new_conn.e.dir[DIR_UP].shape.delay_us, 7000);
    fault_subject_detach(&old_conn.s);
    fault_subject_detach(&new_conn.s);
}

/* Which of 200 connections to pd1 a probability=0.5 stall catches. */
static void faulted_set(uint64_t seed, bool *out, int n)
{
    faults_shutdown();
    setup();
    faults_init(loop, seed);
    next_serial = 1;
    CU_ASSERT_EQUAL(add("pd1 stall probability=0.5"), 0);
    for (int i = 0; i < n; i++) {
        struct conn c;
        conn_open(&c, "pd1", "127.0.0.99");
        out[i] = c.e.dir[DIR_UP].stall;
        /* The accept-time draw agrees with the one for the open connection. */
        fault_subject_detach(&c.s);
    }
}

static void test_probability_deterministic(void)
{
    enum { N = 200 };
    bool a[N], b[N], c[N];
    faulted_set(42, a, N);
    faulted_set(42, b, N);
    faulted_set(43, c, N);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    CU_ASSERT(memcmp(a, c, sizeof a) != 0);
    int hit = 0;
    for (int i = 0; i < N; i++)
        hit += a[i];
    CU_ASSERT(hit > N * 0.35 && hit < N * 0.65);

    /* probability=0 never, 1 always; accept-time draws use the same serials. */
    reset_table();
    CU_ASSERT_EQUAL(add("pd2 refuse probability=0.5"), 0);
    int refused = 0;
    for (int i = 0; i < N; i++)
        refused += accept_from("pd2", "127.0.0.1") == ACCEPT_REFUSE;
    CU_ASSERT(refused > N * 0.35 && refused < N * 0.65);
    CU_ASSERT_EQUAL(add("pd3 refuse probability=0"), 0);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(accept_from("pd3", "127.0.0.1"), ACCEPT_OK);
}

static void test_leader_targets(void)
{
    struct conn on_pd1, on_pd2;
    reset_table();
    conn_open(&on_pd1, "pd1", "127.0.0.99");
    conn_open(&on_pd2, "pd2", "127.0.0.99");
    CU_ASSERT_EQUAL(add("leader:pd stall"), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(last_err, "leader of pd unknown yet"));

    fault_leader_changed("pd", "pd1");
    CU_ASSERT_EQUAL(add("leader:pd stall name=stick"), 0);
    CU_ASSERT_EQUAL(add("leader:pd delay ms=9 follow=true name=move"), 0);
    CU_ASSERT(on_pd1.e.dir[DIR_UP].stall);
    CU_ASSERT_EQUAL(on_pd1.e.dir[DIR_UP].shape.delay_us, 9000);
    CU_ASSERT_FALSE(on_pd2.e.dir[DIR_UP].stall);

    fault_leader_changed("pd", "pd2");
    CU_ASSERT(on_pd1.e.dir[DIR_UP].stall);               /* follow=false stays */
    CU_ASSERT_EQUAL(on_pd1.e.dir[DIR_UP].shape.delay_us, 0);
    CU_ASSERT_EQUAL(on_pd2.e.dir[DIR_UP].shape.delay_us, 9000);   /* follow=true moved */
    CU_ASSERT_FALSE(on_pd2.e.dir[DIR_UP].stall);

    json_t *l = fault_list_json();
    json_t *stick = find_listed(l, "stick"), *move = find_listed(l, "move");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
                               json_object_get(stick, "resolved_members"), 0)), "pd1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
                               json_object_get(move, "resolved_members"), 0)), "pd2");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(move, "hits")), 2);
    json_decref(l);

    /* Unknown leader for a while: faults keep their member. */
    fault_leader_changed("pd", NULL);
    CU_ASSERT_EQUAL(on_pd2.e.dir[DIR_UP].shape.delay_us, 9000);

    /* Window records name the member. */
    char err[64];
    CU_ASSERT_EQUAL(fault_del("stick", err, sizeof err), 0);
    json_t *w = fault_windows_json(0, clock_wall_us());
    json_t *rec = find_listed(w, "stick");
    CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rec, "member")), "pd1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(rec, "target")), "leader:pd");
    json_decref(w);
    fault_subject_detach(&on_pd1.s);
    fault_subject_detach(&on_pd2.s);
}

static void test_list_json(void)
{
    reset_table();
    CU_ASSERT_EQUAL(add("group:pd delay ms=100 jitter=10 direction=up duration=1m"), 0);
    CU_ASSERT_EQUAL(add("pd1 stall after=10s"), 0);
    json_t *l = fault_list_json();
    CU_ASSERT_EQUAL_FATAL(json_array_size(l), 2);
    json_t *f = json_array_get(l, 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "id")), "f1");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "target")), "group:pd");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "action")), "delay");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "direction")), "up");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "state")), "active");
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(json_object_get(f, "params"), "ms")),
                           100.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(json_object_get(f, "params"),
                                                             "duration")), 60000.0, 1e-9);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(f, "resolved_members")), 3);
    CU_ASSERT(json_is_string(json_object_get(f, "since")));
    CU_ASSERT(json_is_string(json_object_get(f, "until")));
    CU_ASSERT(json_is_integer(json_object_get(f, "hits")));
    f = json_array_get(l, 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f, "state")), "pending");
    CU_ASSERT(json_is_null(json_object_get(f, "until")));
    json_decref(l);
}

static void test_config_faults(void)
{
    struct fault_conf fcs[2] = {
        {"slow-pd", "member:pd2", "delay", "ms=100 jitter=5", 30},
        {"cut", "leader:pd", "partition", "after=1s", 33},
    };
    char err[512];
    reset_table();
    cfg.faults = fcs;
    cfg.n_faults = 2;
    /* leader:pd may be declared before discovery knows the leader. */
    CU_ASSERT_EQUAL(faults_add_from_config(&cfg, err, sizeof err), 0);
    json_t *l = fault_list_json();
    CU_ASSERT_PTR_NOT_NULL(find_listed(l, "slow-pd"));
    CU_ASSERT_PTR_NOT_NULL(find_listed(l, "cut"));
    json_decref(l);

    reset_table();   /* (also resets cfg) */
    cfg.faults = fcs;
    cfg.n_faults = 2;
    fcs[1].params = "after=1s bogus=1";
    CU_ASSERT_EQUAL(faults_add_from_config(&cfg, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.conf:33: [fault cut]: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown parameter 'bogus'"));
    CU_ASSERT_EQUAL(fault_count(), 0);           /* all or nothing */

    fcs[1] = (struct fault_conf){"bad", "tikv9", "stall", "", 40};
    CU_ASSERT_EQUAL(faults_add_from_config(&cfg, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.conf:40: [fault bad]: no endpoint named 'tikv9'"));
    cfg.faults = NULL;
    cfg.n_faults = 0;
}

int main(void)
{
    log_open(NULL, getenv("FAULT_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
    loop = ev_loop_new(EVFLAG_AUTO);
    if (!loop || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("fault", setup, teardown);
    CU_add_test(s, "good specs", test_parse_good);
    CU_add_test(s, "parsed values", test_parse_values);
    CU_add_test(s, "bad specs: clear errors, nothing changed", test_parse_bad);
    CU_add_test(s, "ids and del", test_auto_ids);
    CU_add_test(s, "lifecycle after= duration=", test_lifecycle_after_duration);
    CU_add_test(s, "del pending, clear by target", test_del_pending_and_clear);
    CU_add_test(s, "effect merging", test_effect_merge);
    CU_add_test(s, "bandwidth scope", test_bandwidth_scope);
    CU_add_test(s, "partition incl. source address", test_partition);
    CU_add_test(s, "accept verdicts", test_accept_verdicts);
    CU_add_test(s, "client=CIDR", test_client_cidr);
    CU_add_test(s, "CIDR parsing", test_cidr_parse);
    CU_add_test(s, "new_only", test_new_only);
    CU_add_test(s, "probability deterministic with a seed", test_probability_deterministic);
    CU_add_test(s, "leader targets and follow", test_leader_targets);
    CU_add_test(s, "fault list JSON", test_list_json);
    CU_add_test(s, "config-declared faults", test_config_faults);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    ev_loop_destroy(loop);
    log_close();
    return failed ? 1 : 0;
}
