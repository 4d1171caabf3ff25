/* test_config.c - the configuration table, the INI loader and its errors. */
#include "conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>

static char tmpl[] = "/tmp/ddlp-test-config-XXXXXX";

static const char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "%s", tmpl);
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static int load(const char *text, struct config *cfg, char *err, size_t errlen)
{
    const char *path = write_conf(text);
    config_init(cfg);
    int rc = config_load(cfg, path, err, errlen);
    if (rc == 0)
        rc = config_validate(cfg, err, errlen);
    unlink(path);
    return rc;
}

static void test_defaults(void)
{
    struct config cfg;
    config_init(&cfg);
    CU_ASSERT_STRING_EQUAL(cfg.listen, "0.0.0.0:4000");
    CU_ASSERT_STRING_EQUAL(cfg.backend, "127.0.0.1:4001");
    CU_ASSERT_EQUAL(cfg.backend_tls, BACKEND_TLS_PREFER);
    CU_ASSERT_EQUAL(cfg.poll_interval_ms, 100);
    CU_ASSERT_EQUAL(cfg.stuck_after_ms, 30000);
    CU_ASSERT_EQUAL(cfg.max_connections, 10000);
    CU_ASSERT_EQUAL(cfg.buffer_size, 65536);
    CU_ASSERT_EQUAL(cfg.track, TRACK_PROXIED);
    CU_ASSERT_PTR_NULL(cfg.tls_cert);
    config_free(&cfg);
}

static void test_full_file(void)
{
    struct config cfg;
    char err[512];
    int rc = load("; comment\n# another\n[proxy]\nlisten = 127.0.0.1:4000 ; inline\n"
                  "backend = 127.0.0.1:3306\nflavor = TiDB\nbackend_tls = require\n"
                  "ddl_log = \"/tmp/a b.jsonl\"\nbuffer_size = 128KiB\n"
                  "[tracker]\npoll_interval_ms = 50ms\nstuck_after_ms = 2s\ntrack = all\n"
                  "[group pd]\nleader = pd\n"
                  "[endpoint pd1]\ngroup = pd\nmember = pd1\nrole = peer\nlisten = 127.0.0.1:12380\n"
                  "upstream = 127.0.0.1:2380\n"
                  "[endpoint pd1c]\ngroup = pd\nmember = pd1\nlisten = 127.0.0.1:12379\nupstream = 127.0.0.1:2379\n"
                  "[fault slow]\ntarget = pd1\naction = delay\nms = 50\ndirection = up\n",
                  &cfg, err, sizeof(err));
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(cfg.listen, "127.0.0.1:4000");
    CU_ASSERT_EQUAL(cfg.flavor, FLAVOR_TIDB);
    CU_ASSERT_EQUAL(cfg.backend_tls, BACKEND_TLS_REQUIRE);
    CU_ASSERT_STRING_EQUAL(cfg.ddl_log, "/tmp/a b.jsonl");
    CU_ASSERT_EQUAL(cfg.buffer_size, 131072);
    CU_ASSERT_EQUAL(cfg.poll_interval_ms, 50);
    CU_ASSERT_EQUAL(cfg.stuck_after_ms, 2000);
    CU_ASSERT_EQUAL(cfg.track, TRACK_ALL);
    CU_ASSERT_EQUAL_FATAL(cfg.n_groups, 1);
    CU_ASSERT_EQUAL(cfg.groups[0].leader, LEADER_PD);
    CU_ASSERT_EQUAL_FATAL(cfg.n_endpoints, 2);
    CU_ASSERT_EQUAL(cfg.endpoints[0].role, ROLE_PEER);
    CU_ASSERT_EQUAL(cfg.endpoints[1].role, ROLE_CLIENT);
    CU_ASSERT_STRING_EQUAL(cfg.endpoints[1].upstream, "127.0.0.1:2379");
    CU_ASSERT_EQUAL_FATAL(cfg.n_faults, 1);
    CU_ASSERT_STRING_EQUAL(cfg.faults[0].target, "pd1");
    CU_ASSERT_STRING_EQUAL(cfg.faults[0].action, "delay");
    CU_ASSERT_STRING_EQUAL(cfg.faults[0].params, "ms=50 direction=up");
    CU_ASSERT_PTR_NOT_NULL(config_group(&cfg, "pd"));
    CU_ASSERT_PTR_NULL(config_group(&cfg, "etcd"));
    config_free(&cfg);
}

/* Every error names the file, the line and the key. */
static void test_errors(void)
{
    static const struct { const char *text; const char *expect[2]; } cases[] = {
        { "[proxy]\nlisten = nowhere\n", { ":2: key 'listen'", "HOST:PORT" } },
        { "[proxy]\nlisten = 1.2.3.4:70000\n", { ":2: key 'listen'", "1-65535" } },
        { "[proxy]\nflavor = oracle\n", { ":2: key 'flavor'", "auto | tidb | mysql" } },
        { "[proxy]\nmax_connections = -5\n", { ":2: key 'max_connections'", "out of range" } },
        { "[proxy]\nmax_connections = 12abc\n", { ":2: key 'max_connections'", "whole number" } },
        { "[proxy]\nbogus = 1\n", { ":2: key 'bogus'", "unknown in [proxy]" } },
        { "\n\n[tracker]\npoll_interval_ms = soon\n", { ":4: key 'poll_interval_ms'", "duration" } },
        { "[proxi]\n", { ":1:", "unknown section" } },
        { "[proxy\n", { ":1:", "malformed section" } },
        { "listen = 1.2.3.4:1\n", { ":1: key 'listen'", "outside any section" } },
        { "[proxy]\njust words\n", { ":2:", "key = value" } },
        { "[endpoint]\n", { ":1:", "needs a NAME" } },
        { "[endpoint mysql]\n", { ":1:", "reserved" } },
        { "[endpoint a]\ngroup=g\nlisten=127.0.0.1:1\n", { "[endpoint a] key 'upstream'", "required" } },
        { "[endpoint a]\ngroup=g\nlisten=127.0.0.1:1\nupstream=127.0.0.1:2\n[endpoint b]\ngroup=g\n"
          "listen=127.0.0.1:1\nupstream=127.0.0.1:3\n", { "[endpoint b] key 'listen'", "also used by" } },
        { "[group g]\nleader = pd\n", { "[group g] key 'leader'", "no client-role endpoint" } },
        { "[endpoint a]\nrole = leader\n", { ":2: key 'role'", "client | peer" } },
        { "[fault f]\naction = delay\n", { "[fault f] key 'target'", "required" } },
        { "[fault f]\ntarget = a b\n", { ":2: key 'target'", "one word" } },
        { "[proxy]\ntls_cert = /x.pem\n", { "tls_cert and tls_key", "together" } },
        { "[group g]\n[group g]\n", { ":2:", "defined twice" } },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct config cfg;
        char err[512] = "";
        int rc = load(cases[i].text, &cfg, err, sizeof(err));
        CU_ASSERT_EQUAL(rc, -1);
        for (int j = 0; j < 2; j++) {
            if (!strstr(err, cases[i].expect[j])) {
                fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err, cases[i].expect[j]);
                CU_FAIL("error message");
            }
        }
        config_free(&cfg);
    }
}

static void test_overrides(void)
{
    struct config cfg;
    char err[256];
    config_init(&cfg);
    CU_ASSERT_EQUAL(config_set(&cfg, "listen", "127.0.0.1:5000", err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(cfg.listen, "127.0.0.1:5000");
    CU_ASSERT_EQUAL(config_set(&cfg, "tracker.stuck_after_ms", "1500", err, sizeof(err)), 0);
    CU_ASSERT_EQUAL(cfg.stuck_after_ms, 1500);
    CU_ASSERT_EQUAL(config_set(&cfg, "tracker.nope", "1", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "endpoint.listen", "1.2.3.4:5", err, sizeof(err)), -1);
    CU_ASSERT_EQUAL(config_set(&cfg, "backend", "bad", err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "--backend"));
    config_free(&cfg);
}

static void test_units(void)
{
    int64_t v;
    CU_ASSERT(parse_duration_us("250", &v) == 0 && v == 250000);
    CU_ASSERT(parse_duration_us("250ms", &v) == 0 && v == 250000);
    CU_ASSERT(parse_duration_us("1.5s", &v) == 0 && v == 1500000);
    CU_ASSERT(parse_duration_us("2m", &v) == 0 && v == 120000000);
    CU_ASSERT(parse_duration_us("100us", &v) == 0 && v == 100);
    CU_ASSERT(parse_duration_us("-1", &v) == -1);
    CU_ASSERT(parse_duration_us("5 days", &v) == -1);
    CU_ASSERT(parse_duration_us("", &v) == -1);
    CU_ASSERT(parse_duration_us("1e300s", &v) == -1);
    CU_ASSERT(parse_size("1MiB", &v) == 0 && v == 1048576);
    CU_ASSERT(parse_size("1MB", &v) == 0 && v == 1000000);
    CU_ASSERT(parse_size("64k", &v) == 0 && v == 65536);
    CU_ASSERT(parse_size("10", &v) == 0 && v == 10);
    CU_ASSERT(parse_size("1.5KiB", &v) == 0 && v == 1536);
    CU_ASSERT(parse_size("lots", &v) == -1);
    CU_ASSERT(parse_size("-4k", &v) == -1);
}

/* Every key in the table is documented in the annotated example config. */
static void test_keys_documented(void)
{
    const char *path = getenv("DDLP_EXAMPLE_CONF");
    if (!path)
        path = EXAMPLE_CONF;
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    const char *kinds[] = { "proxy", "admin", "tracker", "group", "endpoint" };
    for (size_t k = 0; k < 5; k++) {
        for (const char *const *key = config_key_names(kinds[k]); *key; key++) {
            char needle[80];
            snprintf(needle, sizeof(needle), "\n%s =", *key);
            char commented[80];
            snprintf(commented, sizeof(commented), "\n;%s =", *key);
            if (!strstr(text, needle) && !strstr(text, commented)) {
                fprintf(stderr, "[%s] %s is not documented in %s\n", kinds[k], *key, path);
                CU_FAIL("undocumented key");
            }
        }
    }
}

int main(void)
{
    CU_initialize_registry();
    CU_pSuite s = CU_add_suite("config", NULL, NULL);
    CU_add_test(s, "defaults", test_defaults);
    CU_add_test(s, "full file", test_full_file);
    CU_add_test(s, "errors name file, line and key", test_errors);
    CU_add_test(s, "command-line overrides", test_overrides);
    CU_add_test(s, "durations and sizes", test_units);
    CU_add_test(s, "every key documented in etc/ddlproxy.conf", test_keys_documented);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
