/* admin_metrics.c - renders the stats and endpoint JSON as Prometheus text. */
#include "admin_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define METRIC_PREFIX "ddlproxy"

/* Names already given a TYPE line: a name must appear in one block only. */
struct seen_name {
    char *name;
    UT_hash_handle hh;
};

struct render {
    FILE *out;
    struct seen_name *seen;
    bool failed;
};

/* Returns true the first time a name is claimed. */
static bool claim_name(struct render *r, const char *name)
{
    struct seen_name *s;
    HASH_FIND_STR(r->seen, name, s);
    if (s)
        return false;
    s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(name))) {
        free(s);
        r->failed = true;
        return false;
    }
    HASH_ADD_KEYPTR(hh, r->seen, s->name, strlen(s->name), s);
    return true;
}

static void free_seen(struct render *r)
{
    struct seen_name *s, *tmp;
    HASH_ITER(hh, r->seen, s, tmp) {
        HASH_DEL(r->seen, s);
        free(s->name);
        free(s);
    }
}

/* Appends key to a metric name, mapping what Prometheus does not allow to '_'. */
static void append_name_part(char *name, size_t size, const char *key)
{
    size_t used = strlen(name);
    if (used + 1 < size)
        name[used++] = '_';
    for (const char *p = key; *p && used + 1 < size; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        name[used++] = ok ? c : '_';
    }
    name[used] = '\0';
}

static bool json_number_text(const json_t *v, char *buf, size_t size)
{
    if (json_is_integer(v))
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, size, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, size, "%d", json_is_true(v) ? 1 : 0);
    else
        return false;
    return true;
}

static void write_label_value(FILE *out, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\n') {
            fputs("\\n", out);
            continue;
        }
        if (*p == '\\' || *p == '"')
            fputc('\\', out);
        fputc(*p, out);
    }
}

static void render_object(struct render *r, const json_t *obj, const char *prefix)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v) {
        char name[256];
        char value[64];
        snprintf(name, sizeof(name), "%s", prefix);
        append_name_part(name, sizeof(name), key);
        if (json_is_object(v)) {
            render_object(r, v, name);
        } else if (json_number_text(v, value, sizeof(value)) && claim_name(r, name)) {
            fprintf(r->out, "# TYPE %s untyped\n%s %s\n", name, name, value);
        }
    }
}

static void render_build_info(struct render *r, const json_t *stats)
{
    const char *version = json_string_value(json_object_get(stats, "version"));
    if (!version || !claim_name(r, METRIC_PREFIX "_build_info"))
        return;
    fputs("# TYPE " METRIC_PREFIX "_build_info gauge\n" METRIC_PREFIX "_build_info{version=\"", r->out);
    write_label_value(r->out, version);
    fputs("\"} 1\n", r->out);
}

static void write_endpoint_labels(FILE *out, const json_t *ep)
{
    static const char *const labels[][2] = {
        { "endpoint", "name" }, { "group", "group" }, { "member", "member" }, { "role", "role" },
    };
    bool first = true;

    fputc('{', out);
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        const char *v = json_string_value(json_object_get(ep, labels[i][1]));
        if (!v)
            continue;
        fprintf(out, "%s%s=\"", first ? "" : ",", labels[i][0]);
        write_label_value(out, v);
        fputc('"', out);
        first = false;
    }
    fputc('}', out);
}

/* One block per field (all endpoints together), as the format requires. */
static void render_endpoints(struct render *r, const json_t *endpoints)
{
    size_t i;
    json_t *ep;

    json_array_foreach((json_t *)endpoints, i, ep) {
        const char *field;
        json_t *v;
        json_object_foreach(ep, field, v) {
            char name[256] = METRIC_PREFIX "_endpoint";
            char value[64];
            if (!json_is_number(v))
                continue;
            append_name_part(name, sizeof(name), field);
            if (!claim_name(r, name))
                continue;
            fprintf(r->out, "# TYPE %s %s\n", name, strcmp(field, "conns_open") == 0 ? "gauge" : "counter");
            size_t j;
            json_t *other;
            json_array_foreach((json_t *)endpoints, j, other) {
                json_t *ov = json_object_get(other, field);
                if (!json_number_text(ov, value, sizeof(value)))
                    continue;
                fputs(name, r->out);
                write_endpoint_labels(r->out, other);
                fprintf(r->out, " %s\n", value);
            }
        }
    }
}

char *admin_metrics_render(const json_t *stats, const json_t *endpoints)
{
    struct render r = { 0 };
    char *text = NULL;
    size_t len = 0;

    r.out = open_memstream(&text, &len);
    if (!r.out)
        return NULL;
    if (json_is_object(stats)) {
        render_build_info(&r, stats);
        render_object(&r, stats, METRIC_PREFIX);
    }
    if (json_is_array(endpoints))
        render_endpoints(&r, endpoints);
    free_seen(&r);
    if (fclose(r.out) != 0 || r.failed) {
        free(text);
        return NULL;
    }
    return text;
}
