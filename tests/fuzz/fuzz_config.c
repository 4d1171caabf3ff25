/* fuzz_config.c - libFuzzer target for the INI configuration loader
 * (proxy/config.c). The input is written to an in-memory file (memfd, or a
 * temporary file where memfd is not available) and loaded with config_load,
 * then checked with config_validate, as 'ddlproxy --check' does. Every error
 * must be a clean one: a non-empty message naming the file, no crash, and
 * config_free must release everything (LeakSanitizer checks each input).
 *
 * fuzz-sources: proxy/config.c proxy/errbuf.c
 * Run through tests/fuzz/run.sh (see tests/fuzz/README.md). */
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int conf_fd = -1;
static char conf_path[64];

static void check(int cond, const char *what, const char *err)
{
    if (!cond) {
        fprintf(stderr, "property violated: %s (error text: '%s')\n", what, err);
        abort();
    }
}

static int open_conf_file(void)
{
    conf_fd = memfd_create("fuzz_config", 0);
    if (conf_fd >= 0) {
        snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
        return 0;
    }
    snprintf(conf_path, sizeof(conf_path), "/tmp/fuzz_config_XXXXXX");
    conf_fd = mkstemp(conf_path);
    if (conf_fd < 0)
        return -1;
    unlink(conf_path);           /* reached again through /proc/self/fd */
    snprintf(conf_path, sizeof(conf_path), "/proc/self/fd/%d", conf_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (conf_fd < 0 && open_conf_file() != 0)
        abort();
    if (ftruncate(conf_fd, 0) != 0 || pwrite(conf_fd, data, size, 0) != (ssize_t)size)
        abort();

    struct config cfg;
    char err[512];
    err[0] = '\0';
    config_init(&cfg);
    int rc = config_load(&cfg, conf_path, err, sizeof(err));
    if (rc == 0) {
        rc = config_validate(&cfg, err, sizeof(err));
    }
    if (rc != 0) {
        check(rc == -1, "errors return -1", err);
        check(memchr(err, '\0', sizeof(err)) != NULL, "error text terminated", err);
        check(err[0] != '\0', "an error has a message", err);
        check(strncmp(err, conf_path, strlen(conf_path)) == 0, "the message names the file", err);
    } else {
        /* a valid file: what it declares is complete */
        for (size_t i = 0; i < cfg.n_endpoints; i++)
            check(cfg.endpoints[i].name && cfg.endpoints[i].listen && cfg.endpoints[i].upstream
                  && cfg.endpoints[i].group, "validated endpoint is complete", "");
        for (size_t i = 0; i < cfg.n_faults; i++)
            check(cfg.faults[i].target && cfg.faults[i].action, "validated fault is complete", "");
        check(cfg.listen && cfg.backend, "listen and backend set", "");
    }
    config_free(&cfg);
    return 0;
}
