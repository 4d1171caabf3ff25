/* test_leader_parse.c - PD/etcd leader answers (captured from real servers),
 * broken answers, URL -> member mapping and the choice among answers. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "leader_parse.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must name tests/unit/data (set by Makefile.am)"
#endif

static char *load_file(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/leader/%s", TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *grown = realloc(buf, cap);
            if (!grown)
                break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (buf)
        buf[n] = '\0';
    *len = n;
    return buf;
}

/* ---- PD ---------------------------------------------------------------- */

static void test_pd_leader_big_member_id(void)
{
    size_t len;
    char *body = load_file("pd_leader.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_parse_pd(body, len, &li, err, sizeof(err)), 1);
    /* > 2^53 and > INT64_MAX: exact, not rounded through a double */
    CU_ASSERT_STRING_EQUAL(li.id, "13834845658713698395");
    CU_ASSERT_STRING_EQUAL(li.name, "pd2");
    CU_ASSERT_EQUAL_FATAL(li.n_urls, 2);
    CU_ASSERT_STRING_EQUAL(li.urls[0], "http://127.0.0.12:2379");
    CU_ASSERT_STRING_EQUAL(li.urls[1], "http://127.0.0.12:2380");
    leader_info_free(&li);
    free(body);
}

static void test_pd_no_leader(void)
{
    size_t len;
    char *body = load_file("pd_leader_null.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_parse_pd(body, len, &li, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NULL(li.name);
    free(body);
}

static void expect_pd_error(const char *body, size_t len, const char *needle)
{
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL(leader_parse_pd(body, len, &li, err, sizeof(err)), -1);
    if (!strstr(err, needle))
        fprintf(stderr, "\nerror '%s' lacks '%s'\n", err, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
    CU_ASSERT_PTR_NULL(li.name);
    CU_ASSERT_EQUAL(li.n_urls, 0);
}

static void expect_pd_error_str(const char *body, const char *needle)
{
    expect_pd_error(body, strlen(body), needle);
}

static void test_pd_malformed(void)
{
    size_t len;
    char *body = load_file("pd_leader_missing_id.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    expect_pd_error(body, len, "no 'member_id'");
    free(body);
    body = load_file("pd_leader_truncated.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    expect_pd_error(body, len, "invalid JSON");
    free(body);

    expect_pd_error(NULL, 0, "empty answer");
    expect_pd_error_str("", "empty answer");
    expect_pd_error_str("not json", "invalid JSON");
    expect_pd_error_str("[1,2]", "not a JSON object");
    expect_pd_error_str("{\"member_id\":1}", "no 'name'");
    expect_pd_error_str("{\"name\":1,\"member_id\":1}", "'name' is not a string");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":-1}", "unsigned 64-bit");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":1.5}", "unsigned 64-bit");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":1e3}", "unsigned 64-bit");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":18446744073709551616}", "unsigned 64-bit");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":\"12a\"}", "unsigned 64-bit");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":1,\"client_urls\":\"http://x\"}",
                        "'client_urls' is not an array");
    expect_pd_error_str("{\"name\":\"p\",\"member_id\":1,\"peer_urls\":[\"http://x:1\",7]}",
                        "'peer_urls'[1] is not a string");
    /* a NUL byte inside the body is not silently cut off */
    expect_pd_error("{\"name\":\"p\"\0,\"member_id\":1}", 27, "invalid JSON");
}

static void test_pd_tolerant_forms(void)
{
    struct leader_info li;
    char err[256] = "";
    /* largest uint64, as a string, with digits and quotes inside the name */
    const char *body = "{\"name\":\"a\\\"1,2\\\"b\",\"member_id\":\"18446744073709551615\"}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "18446744073709551615");
    CU_ASSERT_STRING_EQUAL(li.name, "a\"1,2\"b");
    CU_ASSERT_EQUAL(li.n_urls, 0);
    leader_info_free(&li);

    body = "{\"name\":\"p\",\"member_id\":007,\"client_urls\":null}";
    /* a leading zero is not JSON: jansson must still reject it */
    CU_ASSERT_EQUAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), -1);

    body = "{\"name\":\"p\",\"member_id\":\"007\",\"client_urls\":null}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "7");
    leader_info_free(&li);

    /* ids on both sides of INT64_MAX, with huge numbers elsewhere in the answer */
    body = "{\"name\":\"p\",\"member_id\":9223372036854775807,"
           "\"extra\":[-99999999999999999999,{\"n\":99999999999999999999999}]}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "9223372036854775807");
    leader_info_free(&li);
    body = "{\"name\":\"p\",\"member_id\":9223372036854775808}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "9223372036854775808");
    leader_info_free(&li);
    body = "{\"name\":\"p\",\"member_id\":-9223372036854775809}";
    CU_ASSERT_EQUAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), -1);
    /* a big number inside a string stays text */
    body = "{\"name\":\"99999999999999999999\",\"member_id\":1}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, strlen(body), &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.name, "99999999999999999999");
    leader_info_free(&li);
}

/* ---- etcd -------------------------------------------------------------- */

static void parse_status_file(const char *name, struct etcd_status *st)
{
    size_t len;
    char *body = load_file(name, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    char err[256] = "";
    int rc = leader_parse_etcd_status(body, len, st, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "\n%s: %s\n", name, err);
    CU_ASSERT_EQUAL(rc, 0);
    free(body);
}

static void test_etcd_status(void)
{
    struct etcd_status st;
    parse_status_file("etcd_status_leader.json", &st);
    CU_ASSERT_STRING_EQUAL(st.member_id, "17984064926751884140");
    CU_ASSERT_STRING_EQUAL(st.leader_id, "17984064926751884140");
    CU_ASSERT_EQUAL(st.raft_term, 2);
    CU_ASSERT_STRING_EQUAL(st.error, "");

    parse_status_file("etcd_status_follower.json", &st);
    CU_ASSERT_STRING_EQUAL(st.member_id, "306822227883393831");
    CU_ASSERT_STRING_EQUAL(st.leader_id, "17984064926751884140");

    parse_status_file("etcd_status_no_leader.json", &st);
    CU_ASSERT_STRING_EQUAL(st.member_id, "306822227883393831");
    CU_ASSERT_STRING_EQUAL(st.leader_id, "");
    CU_ASSERT_EQUAL(st.raft_term, 3);
    CU_ASSERT_STRING_EQUAL(st.error, "etcdserver: no leader");
}

static void test_etcd_status_numbers_and_errors(void)
{
    struct etcd_status st;
    char err[256] = "";
    /* uint64 rendered as JSON numbers instead of strings */
    const char *body = "{\"header\":{\"member_id\":17984064926751884140,\"raft_term\":9},"
                       "\"leader\":17984064926751884140}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(st.leader_id, "17984064926751884140");
    CU_ASSERT_EQUAL(st.raft_term, 9);

    body = "{\"header\":{\"member_id\":\"5\"},\"leader\":\"0\"}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(st.leader_id, "");

    body = "{\"leader\":\"5\"}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "header.member_id"));

    body = "{\"header\":{\"member_id\":\"5\"},\"leader\":true}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'leader'"));

    body = "{\"header\":{\"member_id\":\"5\"},\"raftTerm\":\"x\"}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), -1);

    /* what the gateway sends for an unknown path */
    body = "{\"error\":\"Not Found\",\"code\":5,\"message\":\"Not Found\"}";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), -1);

    body = "\"header\"";
    CU_ASSERT_EQUAL(leader_parse_etcd_status(body, strlen(body), &st, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a JSON object"));
}

static void test_etcd_member_list(void)
{
    size_t len;
    char *body = load_file("etcd_member_list.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(leader_parse_etcd_members(body, len, "17984064926751884140", &li,
                                                    err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "17984064926751884140");
    CU_ASSERT_STRING_EQUAL(li.name, "etcd1");
    CU_ASSERT_EQUAL_FATAL(li.n_urls, 2);
    CU_ASSERT_STRING_EQUAL(li.urls[0], "http://127.0.0.1:33417");   /* client first */
    CU_ASSERT_STRING_EQUAL(li.urls[1], "http://127.0.0.1:45973");
    leader_info_free(&li);

    /* a leader id that is not in the list (member removed meanwhile) */
    CU_ASSERT_EQUAL(leader_parse_etcd_members(body, len, "42", &li, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NULL(li.name);
    free(body);

    const char *bad = "{\"members\":[{\"ID\":\"1\",\"name\":\"a\"},{\"name\":\"b\"}]}";
    CU_ASSERT_EQUAL(leader_parse_etcd_members(bad, strlen(bad), "2", &li, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "members[1]"));
    bad = "{\"header\":{}}";
    CU_ASSERT_EQUAL(leader_parse_etcd_members(bad, strlen(bad), "2", &li, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'members'"));
    bad = "{\"members\":[{\"ID\":\"2\",\"clientURLs\":[{}]}]}";
    CU_ASSERT_EQUAL(leader_parse_etcd_members(bad, strlen(bad), "2", &li, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NULL(li.name);
    /* a member added but never started has no name and no client URLs */
    const char *unstarted = "{\"members\":[{\"ID\":\"2\",\"peerURLs\":[\"http://h:1\"]}]}";
    CU_ASSERT_EQUAL_FATAL(leader_parse_etcd_members(unstarted, strlen(unstarted), "2", &li,
                                                    err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.name, "");
    CU_ASSERT_EQUAL(li.n_urls, 1);
    leader_info_free(&li);
}

/* ---- URLs and mapping ---------------------------------------------------- */

static void test_url_hostport(void)
{
    char host[64];
    unsigned port = 0;
    CU_ASSERT_EQUAL(leader_url_hostport("http://127.0.0.11:2379", host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "127.0.0.11");
    CU_ASSERT_EQUAL(port, 2379);
    CU_ASSERT_EQUAL(leader_url_hostport("https://pd1", host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "pd1");
    CU_ASSERT_EQUAL(port, 443);
    CU_ASSERT_EQUAL(leader_url_hostport("http://[::1]:2380/", host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(port, 2380);
    CU_ASSERT_EQUAL(leader_url_hostport("http://", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_url_hostport("http://a-very-long-host-name.example:1", host, 8,
                                        &port), -1);

    CU_ASSERT_EQUAL(leader_split_hostport("0.0.0.0:12379", host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "0.0.0.0");
    CU_ASSERT_EQUAL(port, 12379);
    CU_ASSERT_EQUAL(leader_split_hostport("[::1]:2379", host, sizeof(host), &port), 0);
    CU_ASSERT_STRING_EQUAL(host, "::1");
    CU_ASSERT_EQUAL(leader_split_hostport("pd1", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_split_hostport("pd1:", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_split_hostport("pd1:70000", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_split_hostport("pd1:12x", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_split_hostport("pd1:-1", host, sizeof(host), &port), -1);
    CU_ASSERT_EQUAL(leader_split_hostport(NULL, host, sizeof(host), &port), -1);
}

/* Members named differently from etcd's names: only the URLs can map them. */
static const struct leader_endpoint proxied_eps[] = {
    { "m1", "127.0.0.11:2379", "127.0.0.1:40001" },
    { "m1", "127.0.0.11:2380", "127.0.0.1:40002" },
    { "m2", "127.0.0.12:2379", "127.0.0.1:40003" },
    { "m2", "127.0.0.12:2380", "127.0.0.1:40004" },
    { "m3", "127.0.0.13:2379", "127.0.0.1:40005" },
    { "m3", "127.0.0.13:2380", "127.0.0.1:40006" },
};
#define N_PROXIED (sizeof(proxied_eps) / sizeof(proxied_eps[0]))

static void test_map_proxied_etcd(void)
{
    struct etcd_status st;
    parse_status_file("etcd_status_proxied.json", &st);
    size_t len;
    char *body = load_file("etcd_member_list_proxied.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(leader_parse_etcd_members(body, len, st.leader_id, &li, err,
                                                    sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.name, "etcd2");
    const char *member = leader_map_member(&li, proxied_eps, N_PROXIED);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    CU_ASSERT_STRING_EQUAL(member, "m2");
    leader_info_free(&li);
    free(body);
}

static void test_map_upstream_and_name(void)
{
    /* unproxied cluster: URLs equal the endpoints' upstream */
    size_t len;
    char *body = load_file("etcd_member_list.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(leader_parse_etcd_members(body, len, "17090568081249619200", &li,
                                                    err, sizeof(err)), 1);
    const struct leader_endpoint eps[] = {
        { "a", "127.0.0.21:2379", "127.0.0.1:33417" },
        { "c", "127.0.0.23:2379", "127.0.0.1:59115" },
    };
    const char *member = leader_map_member(&li, eps, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    CU_ASSERT_STRING_EQUAL(member, "c");

    /* no URL matches: the name decides */
    const struct leader_endpoint by_name[] = {
        { "etcd1", "127.0.0.21:2379", "127.0.0.1:1" },
        { "etcd3", "127.0.0.23:2379", "127.0.0.1:3" },
    };
    member = leader_map_member(&li, by_name, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    CU_ASSERT_STRING_EQUAL(member, "etcd3");

    /* neither: not fronted by any configured endpoint */
    CU_ASSERT_PTR_NULL(leader_map_member(&li, proxied_eps, N_PROXIED));
    leader_info_free(&li);
    free(body);
}

static void test_map_wildcard_listen(void)
{
    size_t len;
    char *body = load_file("pd_leader_wildcard.json", &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(body);
    struct leader_info li;
    char err[256] = "";
    CU_ASSERT_EQUAL_FATAL(leader_parse_pd(body, len, &li, err, sizeof(err)), 1);
    CU_ASSERT_STRING_EQUAL(li.id, "9573946012353117");
    const struct leader_endpoint eps[] = {
        { "pd1", "0.0.0.0:12379", "pd1:2379" },
        { "pd2", "0.0.0.0:12380", "pd2:2379" },
        { "pd3", "0.0.0.0:12381", "pd3:2379" },
    };
    const char *member = leader_map_member(&li, eps, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    CU_ASSERT_STRING_EQUAL(member, "pd3");

    /* an exact listen match beats a wildcard one on the same port */
    const struct leader_endpoint mixed[] = {
        { "any", "0.0.0.0:12381", "pdx:2379" },
        { "exact", "DDLPROXY:12381", "pdy:2379" },
    };
    member = leader_map_member(&li, mixed, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(member);
    CU_ASSERT_STRING_EQUAL(member, "exact");
    leader_info_free(&li);
    free(body);
}

/* ---- choosing among answers -------------------------------------------- */

static void test_pick(void)
{
    /* the deposed leader still names itself, in an older term */
    const struct leader_vote deposed[] = { { "e1", 2 }, { "e2", 3 }, { NULL, 0 } };
    CU_ASSERT_EQUAL(leader_pick(deposed, 3, "e1"), 1);

    /* PD gives no term: the majority wins */
    const struct leader_vote pd[] = { { "p1", 0 }, { "p2", 0 }, { "p2", 0 } };
    CU_ASSERT_EQUAL(leader_pick(pd, 3, "p1"), 1);

    /* a tie keeps the previous leader, else the first answer */
    const struct leader_vote tie[] = { { "p1", 0 }, { "p2", 0 } };
    CU_ASSERT_EQUAL(leader_pick(tie, 2, "p2"), 1);
    CU_ASSERT_EQUAL(leader_pick(tie, 2, NULL), 0);
    CU_ASSERT_EQUAL(leader_pick(tie, 2, "p9"), 0);

    const struct leader_vote none[] = { { NULL, 5 }, { NULL, 0 } };
    CU_ASSERT_EQUAL(leader_pick(none, 2, "p1"), -1);
    CU_ASSERT_EQUAL(leader_pick(NULL, 0, NULL), -1);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("leader_parse", NULL, NULL);
    if (!s ||
        !CU_add_test(s, "pd leader with member_id > INT64_MAX", test_pd_leader_big_member_id) ||
        !CU_add_test(s, "pd no leader (null)", test_pd_no_leader) ||
        !CU_add_test(s, "pd malformed and missing fields", test_pd_malformed) ||
        !CU_add_test(s, "pd ids as strings, escapes", test_pd_tolerant_forms) ||
        !CU_add_test(s, "etcd status leader/follower/no leader", test_etcd_status) ||
        !CU_add_test(s, "etcd status numbers and errors", test_etcd_status_numbers_and_errors) ||
        !CU_add_test(s, "etcd member list", test_etcd_member_list) ||
        !CU_add_test(s, "url and host:port splitting", test_url_hostport) ||
        !CU_add_test(s, "map proxied etcd leader by listen URL", test_map_proxied_etcd) ||
        !CU_add_test(s, "map by upstream, then by name", test_map_upstream_and_name) ||
        !CU_add_test(s, "map through a wildcard listener", test_map_wildcard_listen) ||
        !CU_add_test(s, "pick among answers", test_pick)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
