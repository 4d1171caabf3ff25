/* fuzz_fault_spec.c - libFuzzer target for the 'fault add' spec parser and
 * CIDR parsing. The input is split on spaces like an admin command line.
 * Build (from the source tree):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -std=c11 \
 *     -I<builddir> -Iproxy -Ifaults tests/fuzz/fuzz_fault_spec.c \
 *     faults/fault_spec.c proxy/config.c proxy/errbuf.c -ljansson -lm -o fuzz_fault_spec
 *   ./fuzz_fault_spec -max_total_time=60 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fault_spec.h"

#define MAX_WORDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (!line)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';

    char *argv[MAX_WORDS];
    int argc = 0;
    char *save = NULL;
    for (char *w = strtok_r(line, " \t\n", &save); w && argc < MAX_WORDS;
         w = strtok_r(NULL, " \t\n", &save))
        argv[argc++] = w;

    struct fault_spec spec;
    char err[256];
    if (fault_spec_parse(argc, argv, &spec, err, sizeof err) == 0) {
        /* Invariants of an accepted spec. */
        if (spec.probability < 0.0 || spec.probability > 1.0 || spec.duration_us < 0 ||
            spec.after_us < 0 || spec.delay_us < 0 || spec.jitter_us < 0 ||
            (spec.action == FAULT_BANDWIDTH && spec.rate_bps == 0) ||
            (spec.action == FAULT_SLICE && spec.slice_size == 0) ||
            (!spec.dir[0] && !spec.dir[1]) || !spec.params)
            abort();
        fault_spec_free(&spec);
    } else if (err[0] == '\0') {
        abort();   /* every refusal must say why */
    }
    for (int i = 0; i < argc; i++) {
        struct fault_cidr c;
        if (fault_cidr_parse(argv[i], &c) == 0 &&
            ((c.family == AF_INET && c.prefix > 32) || c.prefix > 128))
            abort();
    }
    free(line);
    return 0;
}
