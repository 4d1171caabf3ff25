/* test_admin_metrics.c - Prometheus text rendering of the stats and
 * endpoint JSON served on 'GET /metrics'. */
#include "admin_metrics.h"

#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static char *render(const char *stats_text, const char *endpoints_text)
{
    json_t *stats = stats_text ? json_loads(stats_text, 0, NULL) : NULL;
    json_t *endpoints = endpoints_text ? json_loads(endpoints_text, 0, NULL) : NULL;
    char *out = admin_metrics_render(stats, endpoints);
    json_decref(stats);
    json_decref(endpoints);
    return out;
}

/* True if text has exactly this line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_stats_flattened(void)
{
    char *t = render("{\"uptime_s\":12,\"version\":\"0.1.0\",\"sessions\":{\"open\":3,\"total\":10},"
                     "\"ddl\":{\"active\":1,\"by kind\":{\"add index\":2}},\"load\":0.5,"
                     "\"tls\":true,\"note\":\"text is skipped\",\"list\":[1,2]}", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_uptime_s 12"));
    CU_ASSERT_TRUE(has_line(t, "# TYPE ddlproxy_uptime_s untyped"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_sessions_open 3"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_sessions_total 10"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_ddl_active 1"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_ddl_by_kind_add_index 2"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_load 0.5"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_tls 1"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_build_info{version=\"0.1.0\"} 1"));
    CU_ASSERT_PTR_NULL(strstr(t, "note"));
    CU_ASSERT_PTR_NULL(strstr(t, "list"));
    free(t);
}

static void test_endpoints_labelled(void)
{
    char *t = render(NULL,
                     "[{\"name\":\"pd1\",\"group\":\"pd\",\"member\":\"pd1\",\"role\":\"client\","
                     "\"conns_open\":2,\"bytes_up\":100,\"faults\":[\"f1\"]},"
                     "{\"name\":\"we\\\"ird\",\"group\":\"g\\\\x\",\"member\":\"m\\n\",\"role\":\"peer\","
                     "\"conns_open\":0,\"bytes_up\":7}]");
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_TRUE(has_line(t, "# TYPE ddlproxy_endpoint_conns_open gauge"));
    CU_ASSERT_TRUE(has_line(t, "# TYPE ddlproxy_endpoint_bytes_up counter"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_endpoint_conns_open{endpoint=\"pd1\",group=\"pd\",member=\"pd1\",role=\"client\"} 2"));
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_endpoint_bytes_up{endpoint=\"we\\\"ird\",group=\"g\\\\x\",member=\"m\\n\",role=\"peer\"} 7"));
    /* one TYPE line per metric, with its series right after it */
    CU_ASSERT_EQUAL(count(t, "# TYPE ddlproxy_endpoint_bytes_up "), 1);
    const char *type = strstr(t, "# TYPE ddlproxy_endpoint_conns_open");
    const char *next_type = strstr(type + 1, "# TYPE");
    CU_ASSERT_PTR_NOT_NULL_FATAL(next_type);
    CU_ASSERT_EQUAL(count(type, "ddlproxy_endpoint_conns_open{") - count(next_type, "ddlproxy_endpoint_conns_open{"), 2);
    CU_ASSERT_PTR_NULL(strstr(t, "faults"));
    free(t);
}

static void test_no_duplicate_names(void)
{
    /* "a b" and "a_b" map to the same name: the second is dropped, not repeated */
    char *t = render("{\"a b\":1,\"a_b\":2}", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(count(t, "# TYPE ddlproxy_a_b "), 1);
    CU_ASSERT_TRUE(has_line(t, "ddlproxy_a_b 1"));
    CU_ASSERT_FALSE(has_line(t, "ddlproxy_a_b 2"));
    free(t);
}

static void test_empty_inputs(void)
{
    char *t = render(NULL, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(t, "");
    free(t);
    t = render("[1]", "{\"x\":1}");     /* wrong shapes are ignored, not trusted */
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_STRING_EQUAL(t, "");
    free(t);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite s = CU_add_suite("admin_metrics", NULL, NULL);
    CU_add_test(s, "stats flattened", test_stats_flattened);
    CU_add_test(s, "endpoints labelled", test_endpoints_labelled);
    CU_add_test(s, "no duplicate names", test_no_duplicate_names);
    CU_add_test(s, "empty inputs", test_empty_inputs);

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
