/* shaper.h - per-direction traffic shaping between "bytes read" and "bytes
 * written": delay (with jitter, distribution, correlation), bandwidth (token
 * bucket, per connection or shared per endpoint) and slicing.
 * Pure logic: no sockets, no event loop. The owner feeds bytes in with the
 * current time and asks what may leave, and when. Byte order is always kept. */
#ifndef DDLP_SHAPER_H
#define DDLP_SHAPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum delay_dist { DIST_UNIFORM = 0, DIST_NORMAL, DIST_PARETO };

struct token_bucket;   /* shared by the shapers of one endpoint for scope=endpoint */

struct shape_params {
    uint32_t delay_us;           /* 0: no delay */
    uint32_t jitter_us;
    enum delay_dist distribution;
    double correlation;          /* 0..1: weight of the previous jitter sample */
    uint64_t rate_bps;           /* bytes per second, 0: unlimited */
    struct token_bucket *bucket; /* non-NULL: share this bucket instead of a private one */
    uint32_t slice_size;         /* 0: no slicing */
    uint32_t slice_delay_us;
    uint64_t seed;               /* per connection and direction: jitter draws */
};

static inline bool shape_params_active(const struct shape_params *p)
{
    return p->delay_us || p->jitter_us || p->rate_bps || p->slice_size;
}

struct shaper;

/* max_queued 0: no bound. NULL when out of memory. */
struct shaper *shaper_new(const struct shape_params *p, size_t max_queued);
void shaper_free(struct shaper *sh);
/* New parameters apply to bytes put from now on; queued bytes keep their times. */
void shaper_set_params(struct shaper *sh, const struct shape_params *p, uint64_t now_us);

/* Queue bytes that arrived at now_us. Returns how many were accepted (less
 * than len when max_queued would be exceeded: the caller stops reading). */
size_t shaper_put(struct shaper *sh, const void *data, size_t len, uint64_t now_us);
/* The next contiguous run of bytes that may leave at now_us (0 if none yet). */
size_t shaper_peek(struct shaper *sh, uint64_t now_us, const uint8_t **data);
/* n bytes from the last peek were written. */
void shaper_consume(struct shaper *sh, size_t n, uint64_t now_us);
/* Earliest time something more becomes releasable; UINT64_MAX if nothing is queued. */
uint64_t shaper_next_release(const struct shaper *sh, uint64_t now_us);
size_t shaper_queued(const struct shaper *sh);

/* burst 0: token_bucket_default_burst(rate_bps). The bucket starts full.
 * Shapers using a bucket hold their own reference: token_bucket_free drops the
 * creator's, and the bucket goes away with its last user. */
struct token_bucket *token_bucket_new(uint64_t rate_bps, uint64_t burst);
void token_bucket_free(struct token_bucket *b);
/* 20 ms of traffic (rate / 50), at least min(rate, 4096) bytes. */
uint64_t token_bucket_default_burst(uint64_t rate_bps);

#endif
