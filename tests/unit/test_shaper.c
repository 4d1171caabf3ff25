/* test_shaper.c - the shaper on a simulated clock: what is released when. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#include "shaper.h"

#define MS 1000ULL
#define SEC 1000000ULL

/* Byte n of every test stream, so order and content can be checked. */
static uint8_t pattern(uint64_t n)
{
    return (uint8_t)(n % 251);
}

static void fill(uint8_t *buf, size_t len, uint64_t first)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern(first + i);
}

/* Releases everything releasable at now; checks the pattern from *next_byte. */
static size_t drain(struct shaper *sh, uint64_t now, uint64_t *next_byte)
{
    size_t total = 0;
    for (;;) {
        const uint8_t *data;
        size_t n = shaper_peek(sh, now, &data);
        if (n == 0)
            return total;
        for (size_t i = 0; i < n; i++) {
            if (data[i] != pattern(*next_byte + i)) {
                CU_FAIL("byte out of order");
                return total;
            }
        }
        *next_byte += n;
        total += n;
        shaper_consume(sh, n, now);
    }
}

static struct shape_params delay_params(uint32_t delay_us, uint32_t jitter_us,
                                        enum delay_dist dist, double corr, uint64_t seed)
{
    struct shape_params p = {0};
    p.delay_us = delay_us;
    p.jitter_us = jitter_us;
    p.distribution = dist;
    p.correlation = corr;
    p.seed = seed;
    return p;
}

static void test_delay_exact(void)
{
    struct shape_params p = delay_params(10 * MS, 0, DIST_UNIFORM, 0, 1);
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[150];
    uint64_t next = 0;
    const uint8_t *data;

    CU_ASSERT_EQUAL(shaper_next_release(sh, 0), UINT64_MAX);
    fill(buf, sizeof buf, 0);
    CU_ASSERT_EQUAL(shaper_put(sh, buf, 100, 0), 100);
    CU_ASSERT_EQUAL(shaper_put(sh, buf + 100, 50, 1000), 50);
    CU_ASSERT_EQUAL(shaper_queued(sh), 150);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 0), 10 * MS);
    CU_ASSERT_EQUAL(shaper_peek(sh, 10 * MS - 1, &data), 0);
    CU_ASSERT_EQUAL(drain(sh, 10 * MS, &next), 100);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 10 * MS), 11 * MS);
    CU_ASSERT_EQUAL(drain(sh, 11 * MS - 1, &next), 0);
    CU_ASSERT_EQUAL(drain(sh, 11 * MS, &next), 50);
    CU_ASSERT_EQUAL(shaper_queued(sh), 0);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 11 * MS), UINT64_MAX);
    shaper_free(sh);
}

static void test_no_shaping_passes_at_once(void)
{
    struct shape_params p = {0};
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[5000];
    uint64_t next = 0;

    fill(buf, sizeof buf, 0);
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(shaper_put(sh, buf + i * 1000, 1000, 7), 1000);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 7), 7);
    CU_ASSERT_EQUAL(drain(sh, 7, &next), 5000);
    shaper_free(sh);
}

/* Puts one byte every 1 s (far apart, so ordering never holds a chunk back)
 * and records how long each one was held. */
static void sample_delays(const struct shape_params *p, int n, double *out)
{
    struct shaper *sh = shaper_new(p, 0);
    uint64_t next = 0;
    for (int i = 0; i < n; i++) {
        uint64_t t = (uint64_t)i * SEC;
        uint8_t b = pattern(next);
        shaper_put(sh, &b, 1, t);
        uint64_t rel = shaper_next_release(sh, t);
        out[i] = (double)(rel - t);
        CU_ASSERT_EQUAL(drain(sh, rel > t ? rel - 1 : t, &next), rel > t ? 0 : 1);
        if (rel > t)
            CU_ASSERT_EQUAL(drain(sh, rel, &next), 1);
    }
    shaper_free(sh);
}

static void stats(const double *v, int n, double *mean, double *sd, double *min, double *max)
{
    double sum = 0, sq = 0;
    *min = v[0];
    *max = v[0];
    for (int i = 0; i < n; i++) {
        sum += v[i];
        if (v[i] < *min)
            *min = v[i];
        if (v[i] > *max)
            *max = v[i];
    }
    *mean = sum / n;
    for (int i = 0; i < n; i++)
        sq += (v[i] - *mean) * (v[i] - *mean);
    *sd = sqrt(sq / n);
}

#define NSAMPLES 5000

static void test_jitter_uniform(void)
{
    static double v[NSAMPLES];
    struct shape_params p = delay_params(10 * MS, 5 * MS, DIST_UNIFORM, 0, 42);
    double mean, sd, min, max;
    sample_delays(&p, NSAMPLES, v);
    stats(v, NSAMPLES, &mean, &sd, &min, &max);
    CU_ASSERT(min >= 5000 && max <= 15000);
    CU_ASSERT(min < 5200 && max > 14800);             /* the whole range is used */
    CU_ASSERT(fabs(mean - 10000) < 200);
    CU_ASSERT(fabs(sd - 5000 / sqrt(3)) < 150);       /* sigma of U(-j, j) */
}

static void test_jitter_normal(void)
{
    static double v[NSAMPLES];
    struct shape_params p = delay_params(50 * MS, 5 * MS, DIST_NORMAL, 0, 42);
    double mean, sd, min, max;
    int outside = 0;
    sample_delays(&p, NSAMPLES, v);
    stats(v, NSAMPLES, &mean, &sd, &min, &max);
    for (int i = 0; i < NSAMPLES; i++)
        outside += fabs(v[i] - 50000) > 5000;
    CU_ASSERT(fabs(mean - 50000) < 300);
    CU_ASSERT(fabs(sd - 5000) < 300);
    /* About 32 % fall beyond one sigma. */
    CU_ASSERT(outside > NSAMPLES * 0.27 && outside < NSAMPLES * 0.37);
}

static void test_jitter_pareto(void)
{
    static double v[NSAMPLES];
    struct shape_params p = delay_params(50 * MS, 5 * MS, DIST_PARETO, 0, 42);
    double mean, sd, min, max;
    int above_median_of_mean = 0, far_tail = 0;
    sample_delays(&p, NSAMPLES, v);
    stats(v, NSAMPLES, &mean, &sd, &min, &max);
    for (int i = 0; i < NSAMPLES; i++) {
        above_median_of_mean += v[i] > mean;
        far_tail += v[i] > 50000 + 3 * 5000;
    }
    CU_ASSERT(fabs(mean - 50000) < 500);          /* scaled so the mean is the delay */
    CU_ASSERT(min >= 50000 - 0.578 * 5000);        /* short left tail */
    CU_ASSERT(above_median_of_mean < NSAMPLES * 0.45); /* right-skewed */
    CU_ASSERT(far_tail > 20);                      /* heavy right tail (~1.4 %) */
    CU_ASSERT(max <= 50000 + 50 * 5000 + 1);       /* tail cut at 50 sigma */
}

static void test_jitter_clamped_at_zero(void)
{
    static double v[1000];
    struct shape_params p = delay_params(1 * MS, 5 * MS, DIST_NORMAL, 0, 7);
    double mean, sd, min, max;
    sample_delays(&p, 1000, v);
    stats(v, 1000, &mean, &sd, &min, &max);
    CU_ASSERT_EQUAL(min, 0);
}

static double lag1_autocorrelation(const double *v, int n)
{
    double mean = 0, num = 0, den = 0;
    for (int i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (int i = 0; i < n; i++) {
        den += (v[i] - mean) * (v[i] - mean);
        if (i)
            num += (v[i] - mean) * (v[i - 1] - mean);
    }
    return num / den;
}

static void test_jitter_correlation(void)
{
    static double v[NSAMPLES];
    struct shape_params p = delay_params(50 * MS, 10 * MS, DIST_UNIFORM, 0.0, 3);
    sample_delays(&p, NSAMPLES, v);
    CU_ASSERT(fabs(lag1_autocorrelation(v, NSAMPLES)) < 0.05);

    p.correlation = 0.9;
    sample_delays(&p, NSAMPLES, v);
    CU_ASSERT(lag1_autocorrelation(v, NSAMPLES) > 0.8);
}

static void test_jitter_deterministic(void)
{
    static double a[500], b[500], c[500];
    struct shape_params p = delay_params(20 * MS, 10 * MS, DIST_NORMAL, 0.3, 99);
    sample_delays(&p, 500, a);
    sample_delays(&p, 500, b);
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    p.seed = 100;
    sample_delays(&p, 500, c);
    CU_ASSERT(memcmp(a, c, sizeof a) != 0);
}

static void test_jitter_keeps_order(void)
{
    /* Chunks 100 us apart with +-5 ms jitter: draws would reorder them. */
    struct shape_params p = delay_params(10 * MS, 5 * MS, DIST_UNIFORM, 0, 5);
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[10];
    uint64_t put_bytes = 0, next = 0, t = 0, last_release = 0;
    int held_longer = 0;

    for (int i = 0; i < 2000; i++, t += 100) {
        drain(sh, t, &next);
        fill(buf, sizeof buf, put_bytes);
        shaper_put(sh, buf, sizeof buf, t);
        put_bytes += sizeof buf;
        uint64_t rel = shaper_next_release(sh, t);
        CU_ASSERT(rel >= last_release);
        last_release = rel;
    }
    while (shaper_queued(sh)) {
        t = shaper_next_release(sh, t);
        drain(sh, t, &next);
        held_longer++;
    }
    CU_ASSERT_EQUAL(next, put_bytes);
    CU_ASSERT(held_longer > 0);
    shaper_free(sh);
}

/* Keeps n shapers saturated (each refilled to 256 KiB every ms) for dur_us;
 * returns the bytes each released in out[]. */
static void run_saturated(struct shaper **sh, int n, uint64_t dur_us, uint64_t *out)
{
    static uint8_t buf[64 * 1024];
    uint64_t put[8] = {0}, next[8] = {0};
    uint64_t t = 0, next_put = 0;

    unsigned round = 0;

    while (t <= dur_us) {
        /* Serve in turn, as timers due together fire in no fixed order. */
        round++;
        for (int k = 0; k < n; k++) {
            int i = (int)((round + (unsigned)k) % (unsigned)n);
            out[i] += drain(sh[i], t, &next[i]);
        }
        if (t >= next_put) {
            for (int i = 0; i < n; i++) {
                while (shaper_queued(sh[i]) < 256 * 1024) {
                    fill(buf, sizeof buf, put[i]);
                    put[i] += shaper_put(sh[i], buf, sizeof buf, t);
                }
            }
            next_put = t + MS;
        }
        uint64_t nt = next_put;
        for (int i = 0; i < n; i++) {
            uint64_t r = shaper_next_release(sh[i], t);
            if (r < nt)
                nt = r;
        }
        t = nt > t ? nt : t + 1;
    }
}

static void test_rate_accuracy(void)
{
    uint64_t rates[] = {1000, 64 * 1024, 1024 * 1024, 16ULL * 1024 * 1024};
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        struct shape_params p = {0};
        p.rate_bps = rates[k];
        struct shaper *sh = shaper_new(&p, 0);
        uint64_t got = 0;
        run_saturated(&sh, 1, 10 * SEC, &got);
        double expect = (double)rates[k] * 10.0;
        CU_ASSERT(fabs((double)got - expect) / expect < 0.01);
        shaper_free(sh);
    }
}

static void test_shared_bucket_splits_rate(void)
{
    uint64_t rate = 1024 * 1024;
    struct token_bucket *b = token_bucket_new(rate, 0);
    struct shape_params p = {0};
    p.rate_bps = rate;
    p.bucket = b;
    struct shaper *sh[2] = {shaper_new(&p, 0), shaper_new(&p, 0)};
    token_bucket_free(b);   /* the shapers keep it alive */
    uint64_t got[2] = {0, 0};

    run_saturated(sh, 2, 10 * SEC, got);
    double expect = (double)rate * 10.0;
    CU_ASSERT(fabs((double)(got[0] + got[1]) - expect) / expect < 0.01);
    CU_ASSERT(fabs((double)got[0] - expect / 2) / (expect / 2) < 0.05);
    CU_ASSERT(fabs((double)got[1] - expect / 2) / (expect / 2) < 0.05);
    shaper_free(sh[0]);
    shaper_free(sh[1]);
}

static void test_rate_small_writes_not_starved(void)
{
    /* Less than a release unit queued: it goes as soon as tokens cover it. */
    struct shape_params p = {0};
    p.rate_bps = 1000;
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[2000];
    uint64_t next = 0;
    fill(buf, sizeof buf, 0);
    shaper_put(sh, buf, 10, 0);
    CU_ASSERT_EQUAL(drain(sh, 0, &next), 10);
    /* Burst and release unit for 1000 B/s are 1000 bytes: 990 tokens are
     * left, so the next 1000 wait 10 ms rather than leave in dribbles. */
    shaper_put(sh, buf + 10, 1990, 0);
    CU_ASSERT_EQUAL(drain(sh, 0, &next), 0);
    uint64_t r = shaper_next_release(sh, 0);
    CU_ASSERT(r >= 9 * MS && r <= 11 * MS);
    CU_ASSERT_EQUAL(drain(sh, r, &next), 1000);
    /* The last 990 need only 990 tokens: 990 ms later. */
    uint64_t r2 = shaper_next_release(sh, r);
    CU_ASSERT(r2 - r >= 989 * MS && r2 - r <= 991 * MS);
    CU_ASSERT_EQUAL(drain(sh, r2, &next), 990);
    shaper_free(sh);
}

static void test_rate_change_midstream(void)
{
    struct shape_params p = {0};
    p.rate_bps = 10000;
    struct shaper *sh = shaper_new(&p, 0);
    uint64_t got = 0;
    run_saturated(&sh, 1, 2 * SEC, &got);
    CU_ASSERT(got >= 19000 && got <= 21000 + 10000);
    p.rate_bps = 100000;
    shaper_set_params(sh, &p, 2 * SEC);
    /* New rate from 2 s on: drain a further second by hand. */
    uint64_t next = got, released = 0, t = 2 * SEC;
    while (t <= 3 * SEC) {
        released += drain(sh, t, &next);
        uint64_t r = shaper_next_release(sh, t);
        t = r > t ? r : t + 1;
    }
    CU_ASSERT(released >= 95000 && released <= 105000 + 2000);
    shaper_free(sh);
}

static void test_slice(void)
{
    struct shape_params p = {0};
    p.slice_size = 100;
    p.slice_delay_us = 1000;
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[350];
    uint64_t next = 0;
    const uint8_t *data;

    fill(buf, sizeof buf, 0);
    shaper_put(sh, buf, sizeof buf, 0);
    CU_ASSERT_EQUAL(shaper_peek(sh, 0, &data), 100);
    shaper_consume(sh, 40, 0);                       /* a partial write ... */
    next = 40;
    CU_ASSERT_EQUAL(shaper_peek(sh, 0, &data), 60);  /* ... finishes the same slice */
    CU_ASSERT_EQUAL(drain(sh, 0, &next), 60);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 0), 1000);
    CU_ASSERT_EQUAL(drain(sh, 999, &next), 0);
    CU_ASSERT_EQUAL(drain(sh, 1000, &next), 100);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 1000), 2000);
    CU_ASSERT_EQUAL(drain(sh, 2000, &next), 100);
    CU_ASSERT_EQUAL(drain(sh, 3000, &next), 50);
    /* The queue ran empty: that ended a slice, the next one waits too. */
    shaper_put(sh, buf, 10, 3000);
    CU_ASSERT_EQUAL(shaper_next_release(sh, 3000), 4000);
    shaper_free(sh);
}

static void test_max_queued(void)
{
    struct shape_params p = delay_params(10 * MS, 0, DIST_UNIFORM, 0, 1);
    struct shaper *sh = shaper_new(&p, 1000);
    uint8_t buf[600];
    uint64_t next = 0;
    fill(buf, sizeof buf, 0);
    CU_ASSERT_EQUAL(shaper_put(sh, buf, 600, 0), 600);
    fill(buf, sizeof buf, 600);
    CU_ASSERT_EQUAL(shaper_put(sh, buf, 600, 0), 400);
    CU_ASSERT_EQUAL(shaper_put(sh, buf, 600, 0), 0);
    CU_ASSERT_EQUAL(shaper_queued(sh), 1000);
    CU_ASSERT_EQUAL(drain(sh, 10 * MS, &next), 1000);
    CU_ASSERT_EQUAL(shaper_put(sh, buf, 600, 10 * MS), 600);
    shaper_free(sh);
}

static void test_params_change_keeps_order(void)
{
    struct shape_params p = delay_params(100 * MS, 0, DIST_UNIFORM, 0, 1);
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[200];
    uint64_t next = 0;
    fill(buf, sizeof buf, 0);
    shaper_put(sh, buf, 100, 0);
    p.delay_us = 0;
    shaper_set_params(sh, &p, 10 * MS);
    shaper_put(sh, buf + 100, 100, 10 * MS);
    CU_ASSERT_EQUAL(drain(sh, 10 * MS, &next), 0);   /* B may not overtake A */
    CU_ASSERT_EQUAL(shaper_next_release(sh, 10 * MS), 100 * MS);
    CU_ASSERT_EQUAL(drain(sh, 100 * MS, &next), 200);

    /* Raising the delay leaves queued bytes their times. */
    shaper_put(sh, buf, 100, 200 * MS);
    next = 0;
    p.delay_us = 50 * MS;
    shaper_set_params(sh, &p, 200 * MS);
    CU_ASSERT_EQUAL(drain(sh, 200 * MS, &next), 100);
    shaper_free(sh);
}

static void test_combined(void)
{
    /* 5 ms delay, 100 KB/s and 1000-byte slices every 2 ms, 200 KB in. */
    struct shape_params p = delay_params(5 * MS, 1 * MS, DIST_NORMAL, 0.5, 11);
    p.rate_bps = 100000;
    p.slice_size = 1000;
    p.slice_delay_us = 2000;
    struct shaper *sh = shaper_new(&p, 0);
    uint8_t buf[1000];
    uint64_t put = 0, next = 0, t = 0, first_out = 0, last_out = 0;
    while (put < 200000) {
        fill(buf, sizeof buf, put);
        put += shaper_put(sh, buf, sizeof buf, t);
        t += 100;
    }
    t = 0;
    while (shaper_queued(sh)) {
        const uint8_t *d;
        size_t n = shaper_peek(sh, t, &d);
        CU_ASSERT(n <= 1000);
        if (n && !first_out)
            first_out = t;
        if (drain(sh, t, &next))
            last_out = t;
        uint64_t r = shaper_next_release(sh, t);
        if (r == UINT64_MAX)
            break;
        t = r > t ? r : t + 1;
    }
    CU_ASSERT_EQUAL(next, 200000);
    CU_ASSERT(first_out >= 4 * MS);          /* 5 ms +- 4 sigma */
    /* 200 KB at 100 KB/s: about 2 s (the 4 KiB burst helps a little). */
    CU_ASSERT(last_out >= 1950 * MS && last_out <= 2050 * MS);
    shaper_free(sh);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("shaper", NULL, NULL);
    CU_add_test(s, "delay adds exactly delay_us and keeps order", test_delay_exact);
    CU_add_test(s, "no shaping passes at once", test_no_shaping_passes_at_once);
    CU_add_test(s, "uniform jitter bounds", test_jitter_uniform);
    CU_add_test(s, "normal jitter sigma", test_jitter_normal);
    CU_add_test(s, "pareto jitter mean and tail", test_jitter_pareto);
    CU_add_test(s, "samples clamped at zero", test_jitter_clamped_at_zero);
    CU_add_test(s, "jitter correlation", test_jitter_correlation);
    CU_add_test(s, "jitter deterministic per seed", test_jitter_deterministic);
    CU_add_test(s, "jitter never reorders", test_jitter_keeps_order);
    CU_add_test(s, "token bucket rate within 1% over 10 s", test_rate_accuracy);
    CU_add_test(s, "shared bucket splits the rate", test_shared_bucket_splits_rate);
    CU_add_test(s, "small writes under a slow rate", test_rate_small_writes_not_starved);
    CU_add_test(s, "rate change mid-stream", test_rate_change_midstream);
    CU_add_test(s, "slice sizes and gaps", test_slice);
    CU_add_test(s, "max_queued back-pressure", test_max_queued);
    CU_add_test(s, "params change keeps order", test_params_change_keeps_order);
    CU_add_test(s, "delay + rate + slice combined", test_combined);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
