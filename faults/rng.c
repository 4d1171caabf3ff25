/* rng.c - xoshiro256** (Blackman and Vigna) seeded through splitmix64, and
 * hash-based draws for reproducible per-connection decisions. */

#include <math.h>
#include <stdint.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rng.h"

uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    /* splitmix64 sequence: never yields the all-zero state xoshiro must avoid
     * (four consecutive outputs of a bijection of distinct inputs). */
    for (int i = 0; i < 4; i++) {
        seed += 0x9e3779b97f4a7c15ULL;
        r->s[i] = rng_mix(seed);
    }
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The top 53 bits give every double in [0, 1) with spacing 2^-53. */
static double to_unit(uint64_t x)
{
    return (double)(x >> 11) * 0x1.0p-53;
}

double rng_uniform(struct rng *r)
{
    return to_unit(rng_next(r));
}

double rng_normal(struct rng *r)
{
    /* Box-Muller; 1 - u is in (0, 1] so log() stays finite. */
    double u1 = 1.0 - rng_uniform(r);
    double u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t rng_hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return rng_mix(h);
}

double rng_draw(uint64_t seed, uint64_t a, uint64_t b)
{
    /* Chained mixing, so (a, b) and (b, a) give unrelated draws. */
    uint64_t h = rng_mix(seed ^ 0x6a09e667f3bcc908ULL);
    h = rng_mix(h ^ a);
    h = rng_mix(h ^ rotl(b, 23));
    return to_unit(h);
}

uint64_t rng_seed_from_os(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        return seed;
    /* No entropy yet (early boot): still different between runs. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return rng_mix((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
           rng_mix((uint64_t)getpid());
}
