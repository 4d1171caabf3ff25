/* fault_spec.c - 'fault add' words to a validated struct fault_spec.
 * One table of parameters and one table of actions decide what is accepted,
 * so the error messages can list exactly what is valid. */
#include "conf.h"
#include "errbuf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proxy/conf.h"
#include "fault.h"
#include "fault_spec.h"

/* Bounds on values: beyond these a value is a typo, not a test. */
#define MAX_DELAY_US (600LL * 1000000)          /* delay, jitter, slice delay: 10 min */
#define MAX_CLOSE_AFTER_US (86400LL * 1000000)  /* close_after ms: 1 day */
#define MAX_SLOW_CLOSE_US (600LL * 1000000)     /* 10 min */
#define MAX_LIFETIME_US (30LL * 86400 * 1000000) /* duration, after: 30 days */
#define MAX_RATE_BPS (100ULL << 30)             /* 100 GiB/s */
#define MAX_SLICE_SIZE (16 << 20)               /* 16 MiB */
#define MAX_CLOSE_BYTES (1LL << 40)             /* 1 TiB */

enum param_id {
    P_MS = 0, P_JITTER, P_DISTRIBUTION, P_CORRELATION, P_RATE, P_SCOPE,
    P_BYTES, P_SIZE, P_DELAY_US, P_DIRECTION,
    P_PROBABILITY, P_DURATION, P_AFTER, P_NEW_ONLY, P_CLIENT, P_NAME, P_FOLLOW,
    P_COUNT
};

#define BIT(p) (1u << (p))
/* Accepted by every action (follow is further limited to leader: targets). */
#define COMMON_PARAMS (BIT(P_PROBABILITY) | BIT(P_DURATION) | BIT(P_AFTER) | \
                       BIT(P_NEW_ONLY) | BIT(P_CLIENT) | BIT(P_NAME) | BIT(P_FOLLOW))

static const char *const param_names[P_COUNT] = {
    [P_MS] = "ms", [P_JITTER] = "jitter", [P_DISTRIBUTION] = "distribution",
    [P_CORRELATION] = "correlation", [P_RATE] = "rate", [P_SCOPE] = "scope",
    [P_BYTES] = "bytes", [P_SIZE] = "size", [P_DELAY_US] = "delay_us",
    [P_DIRECTION] = "direction", [P_PROBABILITY] = "probability",
    [P_DURATION] = "duration", [P_AFTER] = "after", [P_NEW_ONLY] = "new_only",
    [P_CLIENT] = "client", [P_NAME] = "name", [P_FOLLOW] = "follow",
};

struct action_def {
    const char *name;
    unsigned allowed;     /* besides COMMON_PARAMS */
    unsigned required;
    bool accept_only;     /* decides at accept time only */
};

static const struct action_def actions[] = {
    [FAULT_DELAY] = {"delay", BIT(P_MS) | BIT(P_JITTER) | BIT(P_DISTRIBUTION) |
                     BIT(P_CORRELATION) | BIT(P_DIRECTION), BIT(P_MS), false},
    [FAULT_BANDWIDTH] = {"bandwidth", BIT(P_RATE) | BIT(P_SCOPE) | BIT(P_DIRECTION),
                         BIT(P_RATE), false},
    [FAULT_STALL] = {"stall", BIT(P_DIRECTION), 0, false},
    [FAULT_BLACKHOLE] = {"blackhole", BIT(P_DIRECTION), 0, false},
    [FAULT_REFUSE] = {"refuse", 0, 0, true},
    [FAULT_RESET] = {"reset", 0, 0, false},
    [FAULT_HANG_CONNECT] = {"hang_connect", 0, 0, true},
    [FAULT_CLOSE_AFTER] = {"close_after", BIT(P_BYTES) | BIT(P_MS) | BIT(P_DIRECTION), 0, false},
    [FAULT_SLOW_CLOSE] = {"slow_close", BIT(P_MS), BIT(P_MS), false},
    [FAULT_SLICE] = {"slice", BIT(P_SIZE) | BIT(P_DELAY_US) | BIT(P_DIRECTION),
                     BIT(P_SIZE), false},
    [FAULT_PARTITION] = {"partition", 0, 0, false},
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

const char *fault_action_name(enum fault_action a)
{
    return (size_t)a < N_ACTIONS ? actions[a].name : "?";
}

bool fault_action_is_accept_only(enum fault_action a)
{
    return (size_t)a < N_ACTIONS && actions[a].accept_only;
}



/* "ms, jitter, ..." for the parameters in mask, into buf. */
static const char *list_params(unsigned mask, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int p = 0; p < P_COUNT; p++) {
        if (!(mask & BIT(p)))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", param_names[p]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static const char *list_actions(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t a = 0; a < N_ACTIONS; a++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", actions[a].name);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
    return buf;
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_-.", *s))
            return false;
    return true;
}

static int parse_target(const char *word, struct fault_spec *spec, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        enum fault_target_kind kind;
    } prefixes[] = {
        {"member:", TARGET_MEMBER}, {"group:", TARGET_GROUP},
        {"leader:", TARGET_LEADER}, {"endpoint:", TARGET_ENDPOINT},
    };
    const char *name = word;

    if (strcmp(word, "all") == 0) {
        spec->target_kind = TARGET_ALL;
        snprintf(spec->target, sizeof spec->target, "all");
        spec->target_name[0] = '\0';
        return 0;
    }
    spec->target_kind = TARGET_ENDPOINT;
    const char *colon = strchr(word, ':');
    if (colon) {
        size_t i;
        for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t plen = strlen(prefixes[i].prefix);
            if (strncmp(word, prefixes[i].prefix, plen) == 0) {
                spec->target_kind = prefixes[i].kind;
                name = word + plen;
                break;
            }
        }
        if (i == sizeof prefixes / sizeof prefixes[0])
            return errorf(err, errlen, "unknown target '%s' (use NAME, member:NAME, "
                        "group:NAME, leader:GROUP or all)", word);
    }
    if (!valid_name(name, sizeof spec->target_name))
        return errorf(err, errlen, "bad target '%s': expected a name of letters, digits, "
                    "'_', '-' or '.' (at most %zu characters)", word,
                    sizeof spec->target_name - 1);
    snprintf(spec->target_name, sizeof spec->target_name, "%s", name);
    if (spec->target_kind == TARGET_ENDPOINT)
        snprintf(spec->target, sizeof spec->target, "%s", name);
    else
        snprintf(spec->target, sizeof spec->target, "%.*s%s",
                 (int)(name - word), word, name);
    return 0;
}

/* A plain decimal number or a percentage ("25%"), in [0, 1]. */
static int parse_fraction(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || errno || !isfinite(d))
        return -1;
    if (*end == '%') {
        d /= 100.0;
        end++;
    }
    if (*end)
        return -1;
    *out = d;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* A duration within [min_us, max_us]; plain numbers are milliseconds. */
static int parse_bounded_duration(const char *key, const char *v, int64_t min_us,
                                  int64_t max_us, int64_t *out, char *err, size_t errlen)
{
    int64_t us;
    if (v[0] == '-')
        return errorf(err, errlen, "%s=%s: must not be negative", key, v);
    if (parse_duration_us(v, &us) != 0)
        return errorf(err, errlen, "%s=%s: not a duration (e.g. 250, 250ms, 1.5s, 2m, 100us)",
                    key, v);
    if (us < min_us)
        return errorf(err, errlen, "%s=%s: must be at least %lld us", key, v, (long long)min_us);
    if (us > max_us)
        return errorf(err, errlen, "%s=%s: too large (at most %lld s)", key, v,
                    (long long)(max_us / 1000000));
    *out = us;
    return 0;
}

static int parse_bounded_size(const char *key, const char *v, int64_t min, int64_t max,
                              int64_t *out, char *err, size_t errlen)
{
    int64_t n;
    if (v[0] == '-')
        return errorf(err, errlen, "%s=%s: must not be negative", key, v);
    if (parse_size(v, &n) != 0)
        return errorf(err, errlen, "%s=%s: not a size (e.g. 1024, 64k, 1MiB)", key, v);
    if (n < min)
        return errorf(err, errlen, "%s=%s: must be at least %lld", key, v, (long long)min);
    if (n > max)
        return errorf(err, errlen, "%s=%s: too large (at most %lld)", key, v, (long long)max);
    *out = n;
    return 0;
}

static double us_to_ms(int64_t us)
{
    return (double)us / 1000.0;
}

/* Parses one k=v into spec and its normalised value into spec->params. */
static int parse_param(enum param_id p, const char *key, const char *v,
                       struct fault_spec *spec, char *err, size_t errlen)
{
    json_t *params = spec->params;
    int64_t n;
    double d;

    switch (p) {
    case P_MS:
        if (spec->action == FAULT_DELAY) {
            if (parse_bounded_duration(key, v, 0, MAX_DELAY_US, &spec->delay_us, err, errlen))
                return -1;
            n = spec->delay_us;
        } else if (spec->action == FAULT_SLOW_CLOSE) {
            if (parse_bounded_duration(key, v, 1, MAX_SLOW_CLOSE_US, &spec->slow_close_us,
                                       err, errlen))
                return -1;
            n = spec->slow_close_us;
        } else {
            if (parse_bounded_duration(key, v, 0, MAX_CLOSE_AFTER_US, &spec->close_after_us,
                                       err, errlen))
                return -1;
            n = spec->close_after_us;
        }
        json_object_set_new(params, key, json_real(us_to_ms(n)));
        return 0;
    case P_JITTER:
        if (parse_bounded_duration(key, v, 0, MAX_DELAY_US, &spec->jitter_us, err, errlen))
            return -1;
        json_object_set_new(params, key, json_real(us_to_ms(spec->jitter_us)));
        return 0;
    case P_DISTRIBUTION:
        if (strcmp(v, "uniform") == 0)
            spec->distribution = DIST_UNIFORM;
        else if (strcmp(v, "normal") == 0)
            spec->distribution = DIST_NORMAL;
        else if (strcmp(v, "pareto") == 0)
            spec->distribution = DIST_PARETO;
        else
            return errorf(err, errlen, "distribution=%s: use uniform, normal or pareto", v);
        json_object_set_new(params, key, json_string(v));
        return 0;
    case P_CORRELATION:
        if (parse_fraction(v, &d) != 0 || d < 0.0 || d > 1.0)
            return errorf(err, errlen, "correlation=%s: must be between 0 and 1 (or 0%%..100%%)", v);
        spec->correlation = d;
        json_object_set_new(params, key, json_real(d));
        return 0;
    case P_PROBABILITY:
        if (parse_fraction(v, &d) != 0 || d < 0.0 || d > 1.0)
            return errorf(err, errlen, "probability=%s: must be between 0 and 1 (or 0%%..100%%)", v);
        spec->probability = d;
        json_object_set_new(params, key, json_real(d));
        return 0;
    case P_RATE: {
        char buf[64];
        size_t len = strlen(v);
        if (len >= sizeof buf)
            return errorf(err, errlen, "rate=%s: too long", v);
        memcpy(buf, v, len + 1);
        if (len > 2 && strcmp(buf + len - 2, "/s") == 0)
            buf[len - 2] = '\0';
        if (parse_bounded_size(key, buf, 1, (int64_t)MAX_RATE_BPS, &n, err, errlen))
            return -1;
        spec->rate_bps = (uint64_t)n;
        json_object_set_new(params, key, json_integer(n));
        return 0;
    }
    case P_SCOPE:
        if (strcmp(v, "connection") == 0)
            spec->scope_endpoint = false;
        else if (strcmp(v, "endpoint") == 0)
            spec->scope_endpoint = true;
        else
            return errorf(err, errlen, "scope=%s: use connection or endpoint", v);
        json_object_set_new(params, key, json_string(v));
        return 0;
    case P_BYTES:
        if (parse_bounded_size(key, v, 0, MAX_CLOSE_BYTES, &spec->close_after_bytes, err, errlen))
            return -1;
        json_object_set_new(params, key, json_integer(spec->close_after_bytes));
        return 0;
    case P_SIZE:
        if (parse_bounded_size(key, v, 1, MAX_SLICE_SIZE, &n, err, errlen))
            return -1;
        spec->slice_size = (uint32_t)n;
        json_object_set_new(params, key, json_integer(n));
        return 0;
    case P_DELAY_US: {
        /* Microseconds when plain, any duration with a unit. */
        char *end;
        if (v[0] == '-')
            return errorf(err, errlen, "delay_us=%s: must not be negative", v);
        errno = 0;
        long long plain = strtoll(v, &end, 10);
        if (end != v && *end == '\0' && !errno) {
            n = plain;
        } else if (parse_duration_us(v, &n) != 0) {
            return errorf(err, errlen, "delay_us=%s: not a number of microseconds", v);
        }
        if (n > MAX_DELAY_US)
            return errorf(err, errlen, "delay_us=%s: too large (at most %lld s)", v,
                        MAX_DELAY_US / 1000000);
        spec->slice_delay_us = (uint32_t)n;
        json_object_set_new(params, key, json_integer(n));
        return 0;
    }
    case P_DIRECTION:
        if (strcmp(v, "up") == 0) {
            spec->dir[DIR_UP] = true;
            spec->dir[DIR_DOWN] = false;
        } else if (strcmp(v, "down") == 0) {
            spec->dir[DIR_UP] = false;
            spec->dir[DIR_DOWN] = true;
        } else if (strcmp(v, "both") == 0) {
            spec->dir[DIR_UP] = spec->dir[DIR_DOWN] = true;
        } else {
            return errorf(err, errlen, "direction=%s: use up, down or both", v);
        }
        return 0;
    case P_DURATION:
        if (parse_bounded_duration(key, v, 1, MAX_LIFETIME_US, &spec->duration_us, err, errlen))
            return -1;
        json_object_set_new(params, key, json_real(us_to_ms(spec->duration_us)));
        return 0;
    case P_AFTER:
        if (parse_bounded_duration(key, v, 0, MAX_LIFETIME_US, &spec->after_us, err, errlen))
            return -1;
        json_object_set_new(params, key, json_real(us_to_ms(spec->after_us)));
        return 0;
    case P_NEW_ONLY:
    case P_FOLLOW: {
        bool b;
        if (parse_bool(v, &b) != 0)
            return errorf(err, errlen, "%s=%s: use true or false", key, v);
        if (p == P_NEW_ONLY)
            spec->new_only = b;
        else
            spec->follow = b;
        json_object_set_new(params, key, json_boolean(b));
        return 0;
    }
    case P_CLIENT:
        if (fault_cidr_parse(v, &spec->client) != 0)
            return errorf(err, errlen, "client=%s: not an address or CIDR "
                        "(e.g. 10.0.0.0/8, 127.0.0.2, fd00::/8)", v);
        spec->has_client = true;
        json_object_set_new(params, key, json_string(v));
        return 0;
    case P_NAME:
        if (!valid_name(v, sizeof spec->name))
            return errorf(err, errlen, "name=%s: use letters, digits, '_', '-' or '.' "
                        "(at most %zu characters)", v, sizeof spec->name - 1);
        snprintf(spec->name, sizeof spec->name, "%s", v);
        return 0;
    case P_COUNT:
        break;
    }
    return errorf(err, errlen, "internal error: parameter %s", key);
}

static int append_text(struct fault_spec *spec, const char *word, char *err, size_t errlen)
{
    size_t used = strlen(spec->params_text);
    int n = snprintf(spec->params_text + used, sizeof spec->params_text - used, "%s%s",
                     used ? " " : "", word);
    if (n < 0 || (size_t)n >= sizeof spec->params_text - used)
        return errorf(err, errlen, "parameters too long (at most %zu characters)",
                    sizeof spec->params_text - 1);
    return 0;
}

static int parse_words(int argc, char **argv, struct fault_spec *spec, char *err, size_t errlen)
{
    char list[256];

    if (argc < 2)
        return errorf(err, errlen, "usage: fault add TARGET ACTION [key=value ...]");
    if (parse_target(argv[0], spec, err, errlen) != 0)
        return -1;

    size_t a;
    for (a = 0; a < N_ACTIONS; a++)
        if (strcmp(argv[1], actions[a].name) == 0)
            break;
    if (a == N_ACTIONS)
        return errorf(err, errlen, "unknown action '%s' (valid: %s)", argv[1],
                    list_actions(list, sizeof list));
    spec->action = (enum fault_action)a;
    const struct action_def *def = &actions[a];
    unsigned allowed = def->allowed | COMMON_PARAMS;
    unsigned given = 0;
    /* What the error messages list as valid. */
    unsigned shown = allowed;
    if (spec->target_kind != TARGET_LEADER)
        shown &= ~BIT(P_FOLLOW);

    for (int i = 2; i < argc; i++) {
        const char *word = argv[i];
        const char *eq = strchr(word, '=');
        if (!eq || eq == word)
            return errorf(err, errlen, "expected key=value, got '%s'", word);
        size_t klen = (size_t)(eq - word);
        const char *value = eq + 1;
        int p;
        for (p = 0; p < P_COUNT; p++)
            if (strlen(param_names[p]) == klen && strncmp(word, param_names[p], klen) == 0)
                break;
        if (p == P_COUNT)
            return errorf(err, errlen, "%s: unknown parameter '%.*s' (valid: %s)", def->name,
                        (int)klen, word, list_params(shown, list, sizeof list));
        if (!(allowed & BIT(p)))
            return errorf(err, errlen, "%s: parameter '%s' does not apply (valid: %s)",
                        def->name, param_names[p], list_params(shown, list, sizeof list));
        if (given & BIT(p))
            return errorf(err, errlen, "parameter '%s' given twice", param_names[p]);
        if (*value == '\0')
            return errorf(err, errlen, "%s: empty value", param_names[p]);
        given |= BIT(p);
        if (parse_param((enum param_id)p, param_names[p], value, spec, err, errlen) != 0)
            return -1;
        if (p != P_NAME && append_text(spec, word, err, errlen) != 0)
            return -1;
    }

    unsigned missing = def->required & ~given;
    if (missing)
        return errorf(err, errlen, "%s needs %s", def->name,
                    list_params(missing, list, sizeof list));
    if (spec->action == FAULT_CLOSE_AFTER) {
        bool bytes = given & BIT(P_BYTES), ms = given & BIT(P_MS);
        if (bytes == ms)
            return errorf(err, errlen, "close_after needs exactly one of bytes=N or ms=N");
        if (ms && (given & BIT(P_DIRECTION)))
            return errorf(err, errlen, "close_after: direction applies to bytes=N only");
    }
    if ((given & (BIT(P_DISTRIBUTION) | BIT(P_CORRELATION))) && spec->jitter_us == 0)
        return errorf(err, errlen, "delay: distribution and correlation need jitter=N");
    if ((given & BIT(P_FOLLOW)) && spec->target_kind != TARGET_LEADER)
        return errorf(err, errlen, "follow applies to leader:GROUP targets only");
    if (given & BIT(P_DIRECTION)) {
        const char *d = spec->dir[DIR_UP] ? (spec->dir[DIR_DOWN] ? "both" : "up") : "down";
        json_object_set_new(spec->params, "direction", json_string(d));
    }
    return 0;
}

int fault_spec_parse(int argc, char **argv, struct fault_spec *spec, char *err, size_t errlen)
{
    memset(spec, 0, sizeof *spec);
    spec->dir[DIR_UP] = spec->dir[DIR_DOWN] = true;
    spec->probability = 1.0;
    spec->close_after_bytes = -1;
    spec->close_after_us = -1;
    spec->params = json_object();
    if (!spec->params)
        return errorf(err, errlen, "out of memory");
    if (parse_words(argc, argv, spec, err, errlen) != 0) {
        fault_spec_free(spec);
        return -1;
    }
    return 0;
}

void fault_spec_free(struct fault_spec *spec)
{
    json_decref(spec->params);
    spec->params = NULL;
}

int fault_cidr_parse(const char *s, struct fault_cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len + 1);

    long prefix = -1;
    char *slash = strchr(buf, '/');
    if (slash) {
        char *end;
        *slash = '\0';
        if (!isdigit((unsigned char)slash[1]))
            return -1;
        errno = 0;
        prefix = strtol(slash + 1, &end, 10);
        if (*end || errno)
            return -1;
    }
    memset(out, 0, sizeof *out);
    unsigned max;
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    if (prefix > (long)max)
        return -1;
    out->prefix = prefix < 0 ? max : (unsigned)prefix;
    /* Clear host bits so matching is a plain prefix compare. */
    for (unsigned bit = out->prefix; bit < max; bit++)
        out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    return 0;
}

/* The address bytes of sa as IPv4 (4 bytes) when it is IPv4 or IPv4-mapped,
 * else IPv6 (16 bytes). Returns the family, 0 if not an IP address. */
static int ip_bytes(const struct sockaddr *sa, socklen_t len, const uint8_t **bytes)
{
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!sa)
        return 0;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        *bytes = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
        return AF_INET;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, v4_mapped, sizeof v4_mapped) == 0) {
            *bytes = a + 12;
            return AF_INET;
        }
        *bytes = a;
        return AF_INET6;
    }
    return 0;
}

bool fault_cidr_match(const struct fault_cidr *c, const struct sockaddr *sa, socklen_t len)
{
    const uint8_t *a = NULL;
    if (ip_bytes(sa, len, &a) != c->family)
        return false;
    unsigned full = c->prefix / 8, rest = c->prefix % 8;
    if (memcmp(a, c->addr, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xffu << (8 - rest));
        if ((a[full] & mask) != c->addr[full])
            return false;
    }
    return true;
}

bool fault_same_ip(const struct sockaddr *a, socklen_t alen,
                   const struct sockaddr *b, socklen_t blen)
{
    const uint8_t *x = NULL, *y = NULL;
    int fa = ip_bytes(a, alen, &x);
    if (!fa || fa != ip_bytes(b, blen, &y))
        return false;
    return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}
