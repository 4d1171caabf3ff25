/* fuzz_leader_parse.c - libFuzzer target for the PD/etcd answer parsers and
 * the leader -> member mapping. Build and run in a configured build directory
 * (any dir: no generated header is needed), SRC being the source tree:
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -I$SRC/faults \
 *       $SRC/tests/fuzz/fuzz_leader_parse.c $SRC/faults/leader_parse.c \
 *       -ljansson -lcurl -o fuzz_leader_parse
 *   cp -r $SRC/tests/unit/data/leader corpus
 *   ./fuzz_leader_parse -max_total_time=60 corpus
 *
 * Every parser gets the whole input; its first byte picks the id looked up
 * in a member list. Give a scratch corpus directory first: libFuzzer writes
 * new inputs into it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "leader_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct leader_endpoint fuzz_eps[] = {
    { "pd1", "0.0.0.0:12379", "pd1:2379" },
    { "pd2", "127.0.0.12:2379", "127.0.0.1:40002" },
    { "etcd1", "[::1]:2379", "127.0.0.1:33417" },
};

static void check_info(const struct leader_info *li)
{
    /* ids are canonical decimal text */
    size_t n = strlen(li->id);
    if (n == 0 || n >= LEADER_ID_LEN || (li->id[0] == '0' && n > 1))
        __builtin_trap();
    leader_map_member(li, fuzz_eps, sizeof(fuzz_eps) / sizeof(fuzz_eps[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* The whole input also goes in unchanged: the seed corpus is real answers. */
    const char *body = (const char *)data;
    size_t len = size;
    uint8_t selector = data[0];
    char err[256];
    struct leader_info li;

    if (leader_parse_pd(body, len, &li, err, sizeof(err)) == 1) {
        check_info(&li);
        leader_info_free(&li);
    }
    struct etcd_status st;
    if (leader_parse_etcd_status(body, len, &st, err, sizeof(err)) == 0 && st.leader_id[0]) {
        if (leader_parse_etcd_members(body, len, st.leader_id, &li, err, sizeof(err)) == 1) {
            check_info(&li);
            leader_info_free(&li);
        }
    }
    const char *ids[] = { "17984064926751884140", "1", "18446744073709551615" };
    if (leader_parse_etcd_members(body, len, ids[selector % 3], &li, err, sizeof(err)) == 1) {
        check_info(&li);
        leader_info_free(&li);
    }

    /* URLs and host:port from arbitrary text (NUL-terminated copy). */
    char text[512];
    size_t tl = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
    memcpy(text, body, tl);
    text[tl] = '\0';
    char host[256];
    unsigned port;
    leader_url_hostport(text, host, sizeof(host), &port);
    leader_split_hostport(text, host, sizeof(host), &port);
    return 0;
}
