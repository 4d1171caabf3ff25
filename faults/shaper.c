/* shaper.c - delay, bandwidth and slicing between "bytes read" and "bytes
 * written" of one relay direction. Bytes are copied into a FIFO of chunks,
 * each stamped with the time it may leave; a token bucket and a slice gate
 * then limit how much of the head may leave at once. Order is never changed. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "shaper.h"

/* Room kept in an undelayed chunk so that consecutive reads coalesce. */
#define CHUNK_COALESCE_ROOM (16 * 1024)
/* Bandwidth: never wake up for less than this (or the bucket's burst, or
 * what is queued), so slow rates don't turn into one write per byte. */
#define RATE_MIN_RELEASE 1024
/* Pareto jitter: shape 3 (finite variance, heavy right tail), normalised to
 * mean 0 and sigma 1; the tail is cut at this many sigmas. */
#define PARETO_ALPHA 3.0
#define PARETO_MAX_SIGMAS 50.0
/* A sample never exceeds this (one hour), whatever the distribution. */
#define DELAY_SAMPLE_MAX_US 3600e6

struct token_bucket {
    uint64_t rate_bps;
    double burst;
    double tokens;          /* may dip below 0 when shapers sharing it raced */
    uint64_t last_us;       /* time of the last refill */
    bool started;           /* the first refill fills it up */
    unsigned refs;
};

struct chunk {
    struct chunk *next;
    uint64_t release_us;    /* not before this */
    size_t len, off, cap;
    uint8_t data[];
};

struct shaper {
    struct shape_params p;
    size_t max_queued, queued;
    struct chunk *head, *tail;
    uint64_t last_release_us;     /* releases never go backwards: order is kept */
    struct rng rng;
    bool have_prev_noise;
    double prev_noise_us;         /* last jitter sample, for correlation */
    struct token_bucket *bucket;  /* referenced; private or shared */
    bool private_bucket;
    uint32_t slice_left;          /* bytes left in the current slice, 0: between slices */
    uint64_t slice_ready_us;      /* the next slice may start at this time */
};

uint64_t token_bucket_default_burst(uint64_t rate_bps)
{
    /* 20 ms worth of traffic, at least 4 KiB unless that is more than one
     * second of traffic for very slow rates. */
    uint64_t burst = rate_bps / 50;
    uint64_t floor_bytes = rate_bps < 4096 ? rate_bps : 4096;
    if (burst < floor_bytes)
        burst = floor_bytes;
    return burst ? burst : 1;
}

struct token_bucket *token_bucket_new(uint64_t rate_bps, uint64_t burst)
{
    struct token_bucket *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->rate_bps = rate_bps ? rate_bps : 1;
    b->burst = (double)(burst ? burst : token_bucket_default_burst(b->rate_bps));
    b->refs = 1;
    return b;
}

static struct token_bucket *bucket_ref(struct token_bucket *b)
{
    b->refs++;
    return b;
}

void token_bucket_free(struct token_bucket *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static double bucket_tokens_at(const struct token_bucket *b, uint64_t now_us)
{
    if (!b->started)
        return b->burst;
    if (now_us <= b->last_us)
        return b->tokens;
    double t = b->tokens + (double)(now_us - b->last_us) * (double)b->rate_bps / 1e6;
    return t > b->burst ? b->burst : t;
}

static void bucket_refill(struct token_bucket *b, uint64_t now_us)
{
    b->tokens = bucket_tokens_at(b, now_us);
    if (!b->started || now_us > b->last_us)
        b->last_us = now_us;
    b->started = true;
}

static double bucket_release_unit(const struct token_bucket *b)
{
    double unit = (double)b->rate_bps / 200.0;   /* 5 ms worth */
    if (unit < RATE_MIN_RELEASE)
        unit = RATE_MIN_RELEASE;
    return unit < b->burst ? unit : b->burst;
}

static void drop_bucket(struct shaper *sh)
{
    token_bucket_free(sh->bucket);
    sh->bucket = NULL;
    sh->private_bucket = false;
}

static void set_bucket(struct shaper *sh, const struct shape_params *p, uint64_t now_us)
{
    if (p->rate_bps == 0) {
        drop_bucket(sh);
        return;
    }
    if (p->bucket) {
        if (sh->bucket != p->bucket) {
            drop_bucket(sh);
            sh->bucket = bucket_ref(p->bucket);
        }
        return;
    }
    if (sh->private_bucket) {
        if (sh->bucket->rate_bps != p->rate_bps) {
            /* Tokens earned at the old rate stay; the cap follows the new one. */
            bucket_refill(sh->bucket, now_us);
            sh->bucket->rate_bps = p->rate_bps;
            sh->bucket->burst = (double)token_bucket_default_burst(p->rate_bps);
            if (sh->bucket->tokens > sh->bucket->burst)
                sh->bucket->tokens = sh->bucket->burst;
        }
        return;
    }
    drop_bucket(sh);
    sh->bucket = token_bucket_new(p->rate_bps, 0);
    /* Out of memory: run unshaped rather than stall the stream forever. */
    sh->private_bucket = sh->bucket != NULL;
}

struct shaper *shaper_new(const struct shape_params *p, size_t max_queued)
{
    struct shaper *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    sh->max_queued = max_queued;
    sh->p.seed = ~p->seed;          /* force the first seeding */
    shaper_set_params(sh, p, 0);
    return sh;
}

void shaper_free(struct shaper *sh)
{
    if (!sh)
        return;
    struct chunk *c = sh->head;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    drop_bucket(sh);
    free(sh);
}

void shaper_set_params(struct shaper *sh, const struct shape_params *p, uint64_t now_us)
{
    if (p->seed != sh->p.seed) {
        rng_seed(&sh->rng, p->seed);
        sh->have_prev_noise = false;
    }
    set_bucket(sh, p, now_us);
    if (p->slice_size == 0) {
        sh->slice_left = 0;
        sh->slice_ready_us = 0;
    } else if (sh->slice_left > p->slice_size) {
        sh->slice_left = p->slice_size;
    }
    sh->p = *p;
}

/* One jitter draw in microseconds, before correlation. */
static double fresh_noise(struct shaper *sh)
{
    double j = (double)sh->p.jitter_us;
    switch (sh->p.distribution) {
    case DIST_NORMAL:
        return rng_normal(&sh->rng) * j;
    case DIST_PARETO: {
        /* X = (1-u)^(-1/a) has mean a/(a-1) and variance a/((a-1)^2 (a-2)). */
        double a = PARETO_ALPHA;
        double mean = a / (a - 1.0);
        double sigma = sqrt(a / ((a - 1.0) * (a - 1.0) * (a - 2.0)));
        double x = pow(1.0 - rng_uniform(&sh->rng), -1.0 / a);
        double z = (x - mean) / sigma;
        if (z > PARETO_MAX_SIGMAS)
            z = PARETO_MAX_SIGMAS;
        return z * j;
    }
    case DIST_UNIFORM:
    default:
        return (2.0 * rng_uniform(&sh->rng) - 1.0) * j;
    }
}

static uint64_t delay_sample_us(struct shaper *sh)
{
    double noise = 0.0;
    if (sh->p.jitter_us) {
        noise = fresh_noise(sh);
        double c = sh->p.correlation;
        if (c > 0.0 && sh->have_prev_noise)
            noise = c * sh->prev_noise_us + (1.0 - c) * noise;
        sh->prev_noise_us = noise;
        sh->have_prev_noise = true;
    }
    double sample = (double)sh->p.delay_us + noise;
    if (sample < 0.0)
        sample = 0.0;
    if (sample > DELAY_SAMPLE_MAX_US)
        sample = DELAY_SAMPLE_MAX_US;
    return (uint64_t)llround(sample);
}

size_t shaper_put(struct shaper *sh, const void *data, size_t len, uint64_t now_us)
{
    size_t room = len;
    if (sh->max_queued) {
        room = sh->queued >= sh->max_queued ? 0 : sh->max_queued - sh->queued;
        if (room > len)
            room = len;
    }
    if (room == 0)
        return 0;

    uint64_t release = now_us;
    if (sh->p.delay_us || sh->p.jitter_us)
        release = now_us + delay_sample_us(sh);
    if (release < sh->last_release_us)
        release = sh->last_release_us;

    struct chunk *t = sh->tail;
    if (t && release <= now_us && t->release_us <= release && t->cap - t->len >= room) {
        /* Both are releasable now: merging changes no release time. */
        memcpy(t->data + t->len, data, room);
        t->len += room;
    } else {
        size_t cap = room;
        if (release <= now_us && cap < CHUNK_COALESCE_ROOM)
            cap = CHUNK_COALESCE_ROOM;
        struct chunk *c = malloc(sizeof *c + cap);
        if (!c)
            return 0;   /* the caller stops reading and retries later */
        c->next = NULL;
        c->release_us = release;
        c->len = room;
        c->off = 0;
        c->cap = cap;
        memcpy(c->data, data, room);
        if (t)
            t->next = c;
        else
            sh->head = c;
        sh->tail = c;
    }
    sh->last_release_us = release;
    sh->queued += room;
    return room;
}

/* The head run, limited by the current slice (ignores time and tokens). */
static size_t head_run(const struct shaper *sh)
{
    size_t run = sh->head->len - sh->head->off;
    if (sh->p.slice_size) {
        size_t left = sh->slice_left ? sh->slice_left : sh->p.slice_size;
        if (run > left)
            run = left;
    }
    return run;
}

size_t shaper_peek(struct shaper *sh, uint64_t now_us, const uint8_t **data)
{
    *data = NULL;
    if (!sh->head || sh->head->release_us > now_us)
        return 0;
    if (sh->p.slice_size && sh->slice_left == 0 && now_us < sh->slice_ready_us)
        return 0;
    size_t run = head_run(sh);
    if (sh->bucket) {
        bucket_refill(sh->bucket, now_us);
        double need = bucket_release_unit(sh->bucket);
        if (need > (double)run)
            need = (double)run;
        /* The epsilon absorbs rounding in shaper_next_release's arithmetic. */
        if (sh->bucket->tokens + 1e-6 < need)
            return 0;
        double avail = floor(sh->bucket->tokens + 1e-6);
        if (avail < (double)run)
            run = (size_t)avail;
        if (run == 0)
            return 0;
    }
    *data = sh->head->data + sh->head->off;
    return run;
}

void shaper_consume(struct shaper *sh, size_t n, uint64_t now_us)
{
    if (n > sh->queued)
        n = sh->queued;
    size_t done = n;
    while (n && sh->head) {
        struct chunk *c = sh->head;
        size_t k = c->len - c->off;
        if (k > n)
            k = n;
        c->off += k;
        n -= k;
        if (c->off == c->len) {
            sh->head = c->next;
            if (!sh->head)
                sh->tail = NULL;
            free(c);
        }
    }
    sh->queued -= done;
    if (sh->bucket) {
        bucket_refill(sh->bucket, now_us);
        sh->bucket->tokens -= (double)done;
    }
    if (sh->p.slice_size && done) {
        if (sh->slice_left == 0)
            sh->slice_left = sh->p.slice_size;
        sh->slice_left = done >= sh->slice_left ? 0 : sh->slice_left - (uint32_t)done;
        /* A slice ends when it is full or nothing more is queued. */
        if (sh->slice_left == 0 || sh->queued == 0) {
            sh->slice_left = 0;
            sh->slice_ready_us = now_us + sh->p.slice_delay_us;
        }
    }
}

uint64_t shaper_next_release(const struct shaper *sh, uint64_t now_us)
{
    if (!sh->head)
        return UINT64_MAX;
    uint64_t t = sh->head->release_us;
    if (sh->p.slice_size && sh->slice_left == 0 && sh->slice_ready_us > t)
        t = sh->slice_ready_us;
    if (sh->bucket) {
        uint64_t from = t > now_us ? t : now_us;
        double need = bucket_release_unit(sh->bucket);
        double run = (double)head_run(sh);
        if (need > run)
            need = run;
        double have = bucket_tokens_at(sh->bucket, from);
        if (have + 1e-6 < need) {
            double wait = ceil((need - have) * 1e6 / (double)sh->bucket->rate_bps);
            return from + (uint64_t)wait;
        }
    }
    return t;
}

size_t shaper_queued(const struct shaper *sh)
{
    return sh->queued;
}
