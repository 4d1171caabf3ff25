/* leader_parse.c - parsing PD/etcd leader answers and mapping them to members. */
#include "leader_parse.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void leader_info_free(struct leader_info *li)
{
    if (!li)
        return;
    free(li->name);
    for (size_t i = 0; i < li->n_urls; i++)
        free(li->urls[i]);
    free(li->urls);
    memset(li, 0, sizeof(*li));
}

/* A JSON integer token (no leading zeros) too large for jansson's int64. */
static bool beyond_int64(const char *tok, size_t n)
{
    static const char int64_max[] = "9223372036854775807";
    if (n > 0 && tok[0] == '-') {
        tok++;
        n--;
    }
    if (n == 0 || (tok[0] == '0' && n > 1))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)tok[i]))
            return false;
    size_t max_len = sizeof(int64_max) - 1;
    return n > max_len || (n == max_len && memcmp(tok, int64_max, n) > 0);
}

/* jansson rejects integers above INT64_MAX ("too big integer") or, asked to,
 * rounds them as reals, but PD and etcd member ids are uint64. So before
 * parsing, such integer tokens outside strings are wrapped in quotes: they
 * then arrive as exact decimal strings, the shape etcd's gateway already
 * uses. Everything else, and every syntax error, is left to jansson. */
static char *quote_big_integers(const char *text, size_t len, size_t *out_len)
{
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(len * 3 + 1);    /* bound: every token could gain two quotes */
    if (!out)
        return NULL;
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (c == '"') {
            out[o++] = text[i++];
            while (i < len && text[i] != '"') {
                if (text[i] == '\\' && i + 1 < len)
                    out[o++] = text[i++];
                out[o++] = text[i++];
            }
            if (i < len)
                out[o++] = text[i++];
        } else if (c == '-' || isdigit((unsigned char)c)) {
            size_t start = i++;
            while (i < len && (isdigit((unsigned char)text[i]) || text[i] == '.' ||
                               text[i] == 'e' || text[i] == 'E' || text[i] == '+' ||
                               text[i] == '-'))
                i++;
            bool quote = beyond_int64(text + start, i - start);
            if (quote)
                out[o++] = '"';
            memcpy(out + o, text + start, i - start);
            o += i - start;
            if (quote)
                out[o++] = '"';
        } else {
            out[o++] = text[i++];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

static json_t *load(const char *body, size_t len, char *err, size_t errlen)
{
    if (!body || len == 0) {
        set_err(err, errlen, "empty answer");
        return NULL;
    }
    size_t qlen;
    char *quoted = quote_big_integers(body, len, &qlen);
    if (!quoted) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb(quoted, qlen, JSON_DECODE_ANY, &jerr);
    free(quoted);
    if (!root)
        set_err(err, errlen, "invalid JSON (line %d): %s", jerr.line, jerr.text);
    return root;
}

/* A uint64 given as a JSON integer, or as decimal text (etcd's gateway, and
 * integers beyond int64 after quote_big_integers). */
static int get_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n < 0)
            return -1;
        *out = (uint64_t)n;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 20)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    errno = 0;
    unsigned long long n = strtoull(s, NULL, 10);
    if (errno == ERANGE)
        return -1;
    *out = n;
    return 0;
}

/* Reads an id; the canonical decimal form goes to out (leading zeros dropped). */
static int get_id(const json_t *v, char out[LEADER_ID_LEN])
{
    uint64_t n;
    if (get_u64(v, &n) < 0)
        return -1;
    snprintf(out, LEADER_ID_LEN, "%" PRIu64, n);
    return 0;
}

static int append_urls(struct leader_info *li, const json_t *arr, const char *key,
                       char *err, size_t errlen)
{
    if (!arr || json_is_null(arr))
        return 0;
    if (!json_is_array(arr)) {
        set_err(err, errlen, "'%s' is not an array", key);
        return -1;
    }
    size_t n = json_array_size(arr);
    if (n == 0)
        return 0;
    char **grown = realloc(li->urls, (li->n_urls + n) * sizeof(*grown));
    if (!grown) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    li->urls = grown;
    for (size_t i = 0; i < n; i++) {
        const char *url = json_string_value(json_array_get(arr, i));
        if (!url) {
            set_err(err, errlen, "'%s'[%zu] is not a string", key, i);
            return -1;
        }
        li->urls[li->n_urls] = strdup(url);
        if (!li->urls[li->n_urls]) {
            set_err(err, errlen, "out of memory");
            return -1;
        }
        li->n_urls++;
    }
    return 0;
}

static int set_name(struct leader_info *li, const json_t *v, const char *key,
                    char *err, size_t errlen)
{
    const char *name = "";
    if (v && !json_is_null(v)) {
        name = json_string_value(v);
        if (!name) {
            set_err(err, errlen, "'%s' is not a string", key);
            return -1;
        }
    }
    li->name = strdup(name);
    if (!li->name) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

int leader_parse_pd(const char *body, size_t len, struct leader_info *out,
                    char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(body, len, err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    if (json_is_null(root)) {
        rc = 0;                       /* PD renders "no leader" as null */
        goto done;
    }
    if (!json_is_object(root)) {
        set_err(err, errlen, "answer is not a JSON object");
        goto done;
    }
    json_t *id = json_object_get(root, "member_id");
    if (!id) {
        set_err(err, errlen, "answer has no 'member_id'");
        goto done;
    }
    if (get_id(id, out->id) < 0) {
        set_err(err, errlen, "'member_id' is not an unsigned 64-bit integer");
        goto done;
    }
    json_t *name = json_object_get(root, "name");
    if (!name) {
        set_err(err, errlen, "answer has no 'name'");
        goto done;
    }
    if (set_name(out, name, "name", err, errlen) < 0 ||
        append_urls(out, json_object_get(root, "client_urls"), "client_urls", err, errlen) < 0 ||
        append_urls(out, json_object_get(root, "peer_urls"), "peer_urls", err, errlen) < 0)
        goto done;
    rc = 1;
done:
    json_decref(root);
    if (rc != 1)
        leader_info_free(out);
    return rc;
}

int leader_parse_etcd_status(const char *body, size_t len, struct etcd_status *out,
                             char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(body, len, err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    if (!json_is_object(root)) {
        set_err(err, errlen, "answer is not a JSON object");
        goto done;
    }
    json_t *header = json_object_get(root, "header");
    json_t *member_id = json_object_get(header, "member_id");
    if (!json_is_object(header) || !member_id) {
        set_err(err, errlen, "answer has no 'header.member_id'");
        goto done;
    }
    if (get_id(member_id, out->member_id) < 0) {
        set_err(err, errlen, "'header.member_id' is not an unsigned 64-bit integer");
        goto done;
    }
    /* The gateway omits zero values: no "leader" means no leader. */
    json_t *leader = json_object_get(root, "leader");
    if (leader && get_id(leader, out->leader_id) < 0) {
        set_err(err, errlen, "'leader' is not an unsigned 64-bit integer");
        goto done;
    }
    if (strcmp(out->leader_id, "0") == 0)
        out->leader_id[0] = '\0';
    json_t *term = json_object_get(root, "raftTerm");
    if (!term)
        term = json_object_get(header, "raft_term");
    if (term && get_u64(term, &out->raft_term) < 0) {
        set_err(err, errlen, "'raftTerm' is not an unsigned 64-bit integer");
        goto done;
    }
    json_t *errors = json_object_get(root, "errors");
    const char *first = json_string_value(json_array_get(errors, 0));
    if (first)
        snprintf(out->error, sizeof(out->error), "%s", first);
    rc = 0;
done:
    json_decref(root);
    return rc;
}

int leader_parse_etcd_members(const char *body, size_t len, const char *id,
                              struct leader_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load(body, len, err, errlen);
    if (!root)
        return -1;
    int rc = -1;
    json_t *members = json_object_get(root, "members");
    if (!json_is_array(members)) {
        set_err(err, errlen, "answer has no 'members' array");
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        char mid[LEADER_ID_LEN];
        if (!json_is_object(m) || get_id(json_object_get(m, "ID"), mid) < 0) {
            set_err(err, errlen, "members[%zu] has no valid 'ID'", i);
            goto done;
        }
        if (strcmp(mid, id) != 0)
            continue;
        memcpy(out->id, mid, sizeof(mid));
        if (set_name(out, json_object_get(m, "name"), "name", err, errlen) < 0 ||
            append_urls(out, json_object_get(m, "clientURLs"), "clientURLs", err, errlen) < 0 ||
            append_urls(out, json_object_get(m, "peerURLs"), "peerURLs", err, errlen) < 0)
            goto done;
        rc = 1;
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc != 1)
        leader_info_free(out);
    return rc;
}

static void strip_brackets(char *host)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
}

int leader_url_hostport(const char *url, char *host, size_t hostlen, unsigned *port)
{
    CURLU *u = curl_url();
    if (!u)
        return -1;
    int rc = -1;
    char *h = NULL, *p = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto done;
    if (strlen(h) >= hostlen)
        goto done;
    snprintf(host, hostlen, "%s", h);
    strip_brackets(host);
    *port = (unsigned)strtoul(p, NULL, 10);
    rc = 0;
done:
    curl_free(h);
    curl_free(p);
    curl_url_cleanup(u);
    return rc;
}

int leader_split_hostport(const char *hostport, char *host, size_t hostlen, unsigned *port)
{
    if (!hostport)
        return -1;
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon[1] == '\0')
        return -1;
    size_t hl = (size_t)(colon - hostport);
    if (hl >= hostlen)
        return -1;
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno || p > 65535 || !isdigit((unsigned char)colon[1]))
        return -1;
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    strip_brackets(host);
    *port = (unsigned)p;
    return 0;
}

static bool wildcard_host(const char *host)
{
    return !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
           strcmp(host, "*") == 0;
}

/* How well a configured endpoint matches a URL's host:port. */
enum url_match { MATCH_NONE = 0, MATCH_WILDCARD_LISTEN, MATCH_EXACT };

static enum url_match endpoint_match(const struct leader_endpoint *ep, const char *url_host,
                                     unsigned url_port)
{
    char host[256];
    unsigned port;
    if (leader_split_hostport(ep->upstream, host, sizeof(host), &port) == 0 &&
        port == url_port && strcasecmp(host, url_host) == 0)
        return MATCH_EXACT;
    if (leader_split_hostport(ep->listen, host, sizeof(host), &port) == 0 && port == url_port) {
        if (strcasecmp(host, url_host) == 0)
            return MATCH_EXACT;
        /* A listener on all addresses is reached under any name of the proxy's host. */
        if (wildcard_host(host))
            return MATCH_WILDCARD_LISTEN;
    }
    return MATCH_NONE;
}

const char *leader_map_member(const struct leader_info *li,
                              const struct leader_endpoint *eps, size_t n_eps)
{
    const char *wildcard_member = NULL;
    for (size_t u = 0; u < li->n_urls; u++) {
        char host[256];
        unsigned port;
        if (leader_url_hostport(li->urls[u], host, sizeof(host), &port) < 0)
            continue;
        for (size_t e = 0; e < n_eps; e++) {
            if (!eps[e].member)
                continue;
            enum url_match m = endpoint_match(&eps[e], host, port);
            if (m == MATCH_EXACT)
                return eps[e].member;
            if (m == MATCH_WILDCARD_LISTEN && !wildcard_member)
                wildcard_member = eps[e].member;
        }
    }
    if (wildcard_member)
        return wildcard_member;
    if (li->name && *li->name)
        for (size_t e = 0; e < n_eps; e++)
            if (eps[e].member && strcmp(eps[e].member, li->name) == 0)
                return eps[e].member;
    return NULL;
}

int leader_pick(const struct leader_vote *votes, size_t n, const char *previous)
{
    uint64_t best_term = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (!votes[i].leader)
            continue;
        if (!any || votes[i].term > best_term)
            best_term = votes[i].term;
        any = true;
    }
    if (!any)
        return -1;
    int best = -1;
    size_t best_count = 0;
    for (size_t i = 0; i < n; i++) {
        if (!votes[i].leader || votes[i].term != best_term)
            continue;
        size_t count = 0;
        for (size_t j = 0; j < n; j++)
            if (votes[j].leader && votes[j].term == best_term &&
                strcmp(votes[j].leader, votes[i].leader) == 0)
                count++;
        bool is_previous = previous && strcmp(votes[i].leader, previous) == 0;
        bool best_is_previous = best >= 0 && previous && strcmp(votes[best].leader, previous) == 0;
        if (best < 0 || count > best_count ||
            (count == best_count && is_previous && !best_is_previous)) {
            best = (int)i;
            best_count = count;
        }
    }
    return best;
}
