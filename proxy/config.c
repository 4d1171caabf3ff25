/* config.c - the INI configuration. Every key lives in one table below
 * (section kind, name, type, target field, default, bounds); the file loader,
 * command-line overrides, defaults and the documentation check all use it. */
#include "conf.h"
#include "errbuf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum key_type { KT_STRING, KT_INT, KT_DURATION_MS, KT_SIZE, KT_ENUM, KT_ADDR };

struct key_def {
    const char *section;          /* proxy, admin, tracker, group, endpoint */
    const char *name;
    enum key_type type;
    size_t offset;                /* into struct config, group_conf or endpoint_conf */
    const char *def;              /* NULL: unset */
    const char *const *choices;   /* KT_ENUM: names in enum order */
    int64_t min, max;
};

static const char *const flavor_names[] = { "auto", "tidb", "mysql", NULL };
static const char *const backend_tls_names[] = { "disable", "prefer", "require", NULL };
static const char *const track_names[] = { "proxied", "all", NULL };
static const char *const leader_names[] = { "none", "pd", "etcd", NULL };
static const char *const role_names[] = { "client", "peer", NULL };

#define C(f) offsetof(struct config, f)
#define G(f) offsetof(struct group_conf, f)
#define E(f) offsetof(struct endpoint_conf, f)
#define BIG INT64_MAX

static const struct key_def key_table[] = {
    { "proxy", "listen", KT_ADDR, C(listen), "0.0.0.0:4000", NULL, 0, 0 },
    { "proxy", "backend", KT_ADDR, C(backend), "127.0.0.1:4001", NULL, 0, 0 },
    { "proxy", "flavor", KT_ENUM, C(flavor), "auto", flavor_names, 0, 0 },
    { "proxy", "tls_cert", KT_STRING, C(tls_cert), NULL, NULL, 0, 0 },
    { "proxy", "tls_key", KT_STRING, C(tls_key), NULL, NULL, 0, 0 },
    { "proxy", "backend_tls", KT_ENUM, C(backend_tls), "prefer", backend_tls_names, 0, 0 },
    { "proxy", "backend_ca", KT_STRING, C(backend_ca), NULL, NULL, 0, 0 },
    { "proxy", "max_connections", KT_INT, C(max_connections), "10000", NULL, 1, 1000000 },
    { "proxy", "connect_timeout_ms", KT_DURATION_MS, C(connect_timeout_ms), "5000", NULL, 1, 3600000 },
    { "proxy", "buffer_size", KT_SIZE, C(buffer_size), "64KiB", NULL, 4096, 64 << 20 },
    { "proxy", "max_inspect", KT_SIZE, C(max_inspect), "1MiB", NULL, 1024, 16 << 20 },
    { "proxy", "shutdown_timeout_ms", KT_DURATION_MS, C(shutdown_timeout_ms), "10000", NULL, 0, 3600000 },
    { "proxy", "log", KT_STRING, C(log), "stderr", NULL, 0, 0 },
    { "proxy", "log_level", KT_STRING, C(log_level), "info", NULL, 0, 0 },
    { "proxy", "ddl_log", KT_STRING, C(ddl_log), "ddl.jsonl", NULL, 0, 0 },

    { "admin", "socket", KT_STRING, C(admin_socket), NULL, NULL, 0, 0 },
    { "admin", "listen", KT_ADDR, C(admin_listen), NULL, NULL, 0, 0 },
    { "admin", "token", KT_STRING, C(admin_token), NULL, NULL, 0, 0 },

    { "tracker", "user", KT_STRING, C(tracker_user), "root", NULL, 0, 0 },
    { "tracker", "password", KT_STRING, C(tracker_password), NULL, NULL, 0, 0 },
    { "tracker", "poll_interval_ms", KT_DURATION_MS, C(poll_interval_ms), "100", NULL, 1, 600000 },
    { "tracker", "stuck_after_ms", KT_DURATION_MS, C(stuck_after_ms), "30000", NULL, 1, BIG / 1000 },
    { "tracker", "timeout_ms", KT_DURATION_MS, C(tracker_timeout_ms), "2000", NULL, 100, 600000 },
    { "tracker", "track", KT_ENUM, C(track), "proxied", track_names, 0, 0 },
    { "tracker", "history_jobs", KT_INT, C(history_jobs), "32", NULL, 1, 10000 },

    { "group", "leader", KT_ENUM, G(leader), "none", leader_names, 0, 0 },

    { "endpoint", "group", KT_STRING, E(group), NULL, NULL, 0, 0 },
    { "endpoint", "member", KT_STRING, E(member), NULL, NULL, 0, 0 },
    { "endpoint", "role", KT_ENUM, E(role), "client", role_names, 0, 0 },
    { "endpoint", "listen", KT_ADDR, E(listen), NULL, NULL, 0, 0 },
    { "endpoint", "upstream", KT_ADDR, E(upstream), NULL, NULL, 0, 0 },
    { "endpoint", "address", KT_STRING, E(address), NULL, NULL, 0, 0 },
    { "endpoint", "connect_timeout_ms", KT_DURATION_MS, E(connect_timeout_ms), "3000", NULL, 1, 3600000 },
};
#define N_KEYS (sizeof(key_table) / sizeof(key_table[0]))

/* ---- value parsers ---- */

struct unit {
    const char *suffix;
    double mult;
};

/* A non-negative number followed by one of the units (case-insensitive),
 * scaled and rounded; the first unit is the default for a bare number. */
static int parse_scaled(const char *s, const struct unit *units, size_t n_units, int64_t *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || !isfinite(v) || v < 0)
        return -1;
    while (isspace((unsigned char)*end))
        end++;
    for (size_t i = 0; i < n_units; i++) {
        if (strcasecmp(end, units[i].suffix) == 0) {
            double r = v * units[i].mult;
            if (r > 9.2e18)
                return -1;
            *out = (int64_t)llround(r);
            return 0;
        }
    }
    return -1;
}

int parse_duration_us(const char *s, int64_t *us)
{
    static const struct unit units[] = {
        { "", 1e3 }, { "ms", 1e3 }, { "us", 1 }, { "s", 1e6 },
        { "m", 60e6 }, { "min", 60e6 }, { "h", 3600e6 },
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), us);
}

int parse_size(const char *s, int64_t *bytes)
{
    static const struct unit units[] = {
        { "", 1 }, { "b", 1 }, { "k", 1024 }, { "kb", 1e3 }, { "kib", 1024 },
        { "m", 1048576 }, { "mb", 1e6 }, { "mib", 1048576 },
        { "g", 1073741824 }, { "gb", 1e9 }, { "gib", 1073741824 },
    };
    return parse_scaled(s, units, sizeof(units) / sizeof(units[0]), bytes);
}

/* host:port, [v6]:port or *:port; the port must be 1..65535. */
static int check_addr(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    if (s[0] == '[' && colon[-1] != ']')
        return -1;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || port < 1 || port > 65535)
        return -1;
    return 0;
}


/* Parses value into base+def->offset. why gets the reason on failure. */
static int set_value(void *base, const struct key_def *def, const char *value,
                     char *why, size_t whylen)
{
    void *field = (char *)base + def->offset;
    int64_t n = 0;
    switch (def->type) {
    case KT_ADDR:
        if (*value && check_addr(value) != 0) {
            errorf(why, whylen, "'%s' is not HOST:PORT with a port 1-65535", value);
            return -1;
        }
        /* fall through */
    case KT_STRING: {
        char **slot = field;
        free(*slot);
        *slot = *value ? strdup(value) : NULL;
        return 0;
    }
    case KT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            errorf(why, whylen, "'%s' is not a whole number", value);
            return -1;
        }
        n = v;
        break;
    }
    case KT_DURATION_MS: {
        int64_t us;
        if (parse_duration_us(value, &us) != 0) {
            errorf(why, whylen, "'%s' is not a duration (e.g. 250, 250ms, 1.5s, 2m)", value);
            return -1;
        }
        n = us / 1000;
        break;
    }
    case KT_SIZE:
        if (parse_size(value, &n) != 0) {
            errorf(why, whylen, "'%s' is not a size (e.g. 4096, 64KiB, 1MiB)", value);
            return -1;
        }
        break;
    case KT_ENUM:
        for (int i = 0; def->choices[i]; i++) {
            if (strcasecmp(value, def->choices[i]) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        {
            char list[128] = "";
            for (int i = 0; def->choices[i]; i++) {
                strncat(list, i ? " | " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, def->choices[i], sizeof(list) - strlen(list) - 1);
            }
            errorf(why, whylen, "'%s' is not one of %s", value, list);
        }
        return -1;
    }
    if (n < def->min || n > def->max) {
        errorf(why, whylen, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, n, def->min, def->max);
        return -1;
    }
    *(int64_t *)field = n;
    return 0;
}

static const struct key_def *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(key_table[i].section, section) == 0 && strcmp(key_table[i].name, name) == 0)
            return &key_table[i];
    return NULL;
}

static void apply_defaults(void *base, const char *section)
{
    char why[128];
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(key_table[i].section, section) == 0 && key_table[i].def)
            set_value(base, &key_table[i], key_table[i].def, why, sizeof(why));
}

void config_init(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    apply_defaults(cfg, "proxy");
    apply_defaults(cfg, "admin");
    apply_defaults(cfg, "tracker");
}

const char *const *config_key_names(const char *section_kind)
{
    static const char *names[N_KEYS + 1];
    size_t n = 0;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(key_table[i].section, section_kind) == 0)
            names[n++] = key_table[i].name;
    names[n] = NULL;
    return names;
}

/* ---- the file ---- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Inline comments start at whitespace followed by ';' or '#', outside quotes. */
static void strip_inline_comment(char *s)
{
    int quoted = 0;
    for (char *p = s; *p; p++) {
        if (*p == '"')
            quoted = !quoted;
        else if (!quoted && (*p == ';' || *p == '#') && p > s && isspace((unsigned char)p[-1])) {
            *p = '\0';
            return;
        }
    }
}

static char *unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
            return 0;
    return 1;
}

#define GROW(arr, n) do { \
        void *grown_ = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
        if (!grown_) return -1; \
        (arr) = grown_; \
        memset(&(arr)[(n)], 0, sizeof(*(arr))); \
    } while (0)

enum section_kind { SEC_NONE, SEC_PROXY, SEC_ADMIN, SEC_TRACKER, SEC_GROUP, SEC_ENDPOINT, SEC_FAULT };

static int open_section(struct config *cfg, char *header, enum section_kind *kind,
                        int line, char *why, size_t whylen)
{
    char *name = strchr(header, ' ');
    if (name) {
        *name++ = '\0';
        name = trim(name);
    }
    if (!name && strcmp(header, "proxy") == 0) { *kind = SEC_PROXY; return 0; }
    if (!name && strcmp(header, "admin") == 0) { *kind = SEC_ADMIN; return 0; }
    if (!name && strcmp(header, "tracker") == 0) { *kind = SEC_TRACKER; return 0; }
    int named = strcmp(header, "group") == 0 || strcmp(header, "endpoint") == 0
                || strcmp(header, "fault") == 0;
    if (!named) {
        errorf(why, whylen, "unknown section [%s%s%s] (known: proxy, admin, tracker, group NAME, endpoint NAME, fault NAME)",
             header, name ? " " : "", name ? name : "");
        return -1;
    }
    if (!name || !valid_name(name)) {
        errorf(why, whylen, "section [%s] needs a NAME of letters, digits, '-', '_' or '.'", header);
        return -1;
    }
    if (strcmp(header, "group") == 0) {
        for (size_t i = 0; i < cfg->n_groups; i++)
            if (strcmp(cfg->groups[i].name, name) == 0) {
                errorf(why, whylen, "[group %s] is defined twice (first at line %d)", name, cfg->groups[i].line);
                return -1;
            }
        GROW(cfg->groups, cfg->n_groups);
        struct group_conf *g = &cfg->groups[cfg->n_groups++];
        g->name = strdup(name);
        g->line = line;
        apply_defaults(g, "group");
        *kind = SEC_GROUP;
    } else if (strcmp(header, "endpoint") == 0) {
        for (size_t i = 0; i < cfg->n_endpoints; i++)
            if (strcmp(cfg->endpoints[i].name, name) == 0) {
                errorf(why, whylen, "[endpoint %s] is defined twice (first at line %d)", name, cfg->endpoints[i].line);
                return -1;
            }
        if (strcmp(name, "mysql") == 0) {
            errorf(why, whylen, "endpoint name 'mysql' is reserved for the MySQL leg ([proxy] listen/backend)");
            return -1;
        }
        GROW(cfg->endpoints, cfg->n_endpoints);
        struct endpoint_conf *e = &cfg->endpoints[cfg->n_endpoints++];
        e->name = strdup(name);
        e->line = line;
        apply_defaults(e, "endpoint");
        *kind = SEC_ENDPOINT;
    } else {
        for (size_t i = 0; i < cfg->n_faults; i++)
            if (strcmp(cfg->faults[i].name, name) == 0) {
                errorf(why, whylen, "[fault %s] is defined twice (first at line %d)", name, cfg->faults[i].line);
                return -1;
            }
        GROW(cfg->faults, cfg->n_faults);
        struct fault_conf *f = &cfg->faults[cfg->n_faults++];
        f->name = strdup(name);
        f->line = line;
        f->params = strdup("");
        *kind = SEC_FAULT;
    }
    return 0;
}

/* [fault NAME]: target and action are words of their own; every other key is a k=v parameter. */
static int set_fault_key(struct fault_conf *f, const char *key, const char *value,
                         char *why, size_t whylen)
{
    if (!*value) {
        errorf(why, whylen, "needs a value");
        return -1;
    }
    if (strchr(value, ' ') || strchr(value, '\t')) {
        errorf(why, whylen, "value '%s' must be one word", value);
        return -1;
    }
    if (strcmp(key, "target") == 0 || strcmp(key, "action") == 0) {
        char **slot = strcmp(key, "target") == 0 ? &f->target : &f->action;
        free(*slot);
        *slot = strdup(value);
        return 0;
    }
    if (strcmp(key, "name") == 0) {
        errorf(why, whylen, "the fault's name is the section's: [fault NAME]");
        return -1;
    }
    size_t need = strlen(f->params) + strlen(key) + strlen(value) + 3;
    char *p = malloc(need);
    if (!p)
        return -1;
    snprintf(p, need, "%s%s%s=%s", f->params, *f->params ? " " : "", key, value);
    free(f->params);
    f->params = p;
    return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        errorf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    free(cfg->path);
    cfg->path = strdup(path);

    char raw[4096], why[256];
    int line = 0, rc = 0;
    enum section_kind kind = SEC_NONE;
    const char *kind_name = "";

    while (fgets(raw, sizeof(raw), fp)) {
        line++;
        if (!strchr(raw, '\n') && !feof(fp)) {
            errorf(err, errlen, "%s:%d: line longer than %zu bytes", path, line, sizeof(raw) - 2);
            rc = -1;
            break;
        }
        char *s = trim(raw);
        if (*s == '\0' || *s == ';' || *s == '#')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close || trim(close + 1)[0] != '\0') {
                errorf(err, errlen, "%s:%d: malformed section header '%s'", path, line, s);
                rc = -1;
                break;
            }
            *close = '\0';
            if (open_section(cfg, trim(s + 1), &kind, line, why, sizeof(why)) != 0) {
                errorf(err, errlen, "%s:%d: %s", path, line, why);
                rc = -1;
                break;
            }
            static const char *const names[] = { "", "proxy", "admin", "tracker", "group", "endpoint", "fault" };
            kind_name = names[kind];
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            errorf(err, errlen, "%s:%d: expected 'key = value', got '%s'", path, line, s);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        strip_inline_comment(eq + 1);
        char *value = unquote(trim(eq + 1));
        if (kind == SEC_NONE) {
            errorf(err, errlen, "%s:%d: key '%s' outside any section", path, line, key);
            rc = -1;
            break;
        }
        if (kind == SEC_FAULT) {
            if (set_fault_key(&cfg->faults[cfg->n_faults - 1], key, value, why, sizeof(why)) != 0) {
                errorf(err, errlen, "%s:%d: key '%s': %s", path, line, key, why);
                rc = -1;
                break;
            }
            continue;
        }
        const struct key_def *def = find_key(kind_name, key);
        if (!def) {
            errorf(err, errlen, "%s:%d: key '%s': unknown in [%s]", path, line, key, kind_name);
            rc = -1;
            break;
        }
        void *base = cfg;
        if (kind == SEC_GROUP)
            base = &cfg->groups[cfg->n_groups - 1];
        else if (kind == SEC_ENDPOINT)
            base = &cfg->endpoints[cfg->n_endpoints - 1];
        if (set_value(base, def, value, why, sizeof(why)) != 0) {
            errorf(err, errlen, "%s:%d: key '%s': %s", path, line, key, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror(fp)) {
        errorf(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    fclose(fp);
    return rc;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    char section[16] = "proxy";
    const char *name = key;
    const char *dot = strchr(key, '.');
    if (dot) {
        size_t n = (size_t)(dot - key);
        if (n >= sizeof(section)) {
            errorf(err, errlen, "unknown key '%s'", key);
            return -1;
        }
        memcpy(section, key, n);
        section[n] = '\0';
        name = dot + 1;
    }
    const struct key_def *def = find_key(section, name);
    if (!def || strcmp(section, "group") == 0 || strcmp(section, "endpoint") == 0) {
        errorf(err, errlen, "unknown key '%s'", key);
        return -1;
    }
    char why[256];
    if (set_value(cfg, def, value, why, sizeof(why)) != 0) {
        errorf(err, errlen, "--%s: %s", name, why);
        return -1;
    }
    return 0;
}

const struct group_conf *config_group(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_groups; i++)
        if (strcmp(cfg->groups[i].name, name) == 0)
            return &cfg->groups[i];
    return NULL;
}

int config_validate(const struct config *cfg, char *err, size_t errlen)
{
    const char *file = cfg->path ? cfg->path : "(command line)";
    if (!cfg->listen || !cfg->backend) {
        errorf(err, errlen, "%s: [proxy] listen and backend are required", file);
        return -1;
    }
    if (!!cfg->tls_cert != !!cfg->tls_key) {
        errorf(err, errlen, "%s: [proxy] tls_cert and tls_key must be set together", file);
        return -1;
    }
    for (size_t i = 0; i < cfg->n_endpoints; i++) {
        const struct endpoint_conf *e = &cfg->endpoints[i];
        const char *missing = !e->listen ? "listen" : !e->upstream ? "upstream"
                              : !e->group ? "group" : NULL;
        if (missing) {
            errorf(err, errlen, "%s:%d: [endpoint %s] key '%s' is required", file, e->line, e->name, missing);
            return -1;
        }
        if (strcmp(e->listen, cfg->listen) == 0) {
            errorf(err, errlen, "%s:%d: [endpoint %s] key 'listen': %s is already the MySQL listener",
                 file, e->line, e->name, e->listen);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->endpoints[j].listen, e->listen) == 0) {
                errorf(err, errlen, "%s:%d: [endpoint %s] key 'listen': %s is also used by [endpoint %s]",
                     file, e->line, e->name, e->listen, cfg->endpoints[j].name);
                return -1;
            }
    }
    for (size_t i = 0; i < cfg->n_groups; i++) {
        const struct group_conf *g = &cfg->groups[i];
        int members = 0;
        for (size_t j = 0; j < cfg->n_endpoints; j++)
            if (strcmp(cfg->endpoints[j].group, g->name) == 0 && cfg->endpoints[j].role == ROLE_CLIENT)
                members++;
        if (g->leader != LEADER_NONE && members == 0) {
            errorf(err, errlen, "%s:%d: [group %s] key 'leader': the group has no client-role endpoint to ask",
                 file, g->line, g->name);
            return -1;
        }
    }
    for (size_t i = 0; i < cfg->n_faults; i++) {
        const struct fault_conf *f = &cfg->faults[i];
        if (!f->target || !f->action) {
            errorf(err, errlen, "%s:%d: [fault %s] key '%s' is required", file, f->line, f->name,
                 !f->target ? "target" : "action");
            return -1;
        }
    }
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct key_def *d = &key_table[i];
        if ((d->type == KT_STRING || d->type == KT_ADDR) && strcmp(d->section, "group") != 0
            && strcmp(d->section, "endpoint") != 0)
            free(*(char **)((char *)cfg + d->offset));
    }
    for (size_t i = 0; i < cfg->n_groups; i++)
        free(cfg->groups[i].name);
    for (size_t i = 0; i < cfg->n_endpoints; i++) {
        struct endpoint_conf *e = &cfg->endpoints[i];
        free(e->name); free(e->group); free(e->member);
        free(e->listen); free(e->upstream); free(e->address);
    }
    for (size_t i = 0; i < cfg->n_faults; i++) {
        struct fault_conf *f = &cfg->faults[i];
        free(f->name); free(f->target); free(f->action); free(f->params);
    }
    free(cfg->groups);
    free(cfg->endpoints);
    free(cfg->faults);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}
