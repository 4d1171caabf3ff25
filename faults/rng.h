/* rng.h - small seeded random numbers for the fault engine: a xoshiro256**
 * generator (jitter draws, one per shaper) and a stateless hash draw for
 * decisions that must not depend on timing (probability=, drawn once per
 * fault and connection). */
#ifndef DDLP_RNG_H
#define DDLP_RNG_H

#include <stdint.h>

struct rng {
    uint64_t s[4];
};

/* Any seed is fine (0 included): the state is expanded with splitmix64. */
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* Uniform in [0, 1). */
double rng_uniform(struct rng *r);
/* Standard normal (mean 0, sigma 1). */
double rng_normal(struct rng *r);

/* splitmix64's finalizer: a well-mixed 64-bit hash of x. */
uint64_t rng_mix(uint64_t x);
/* 64-bit FNV-1a of a NUL-terminated string, then mixed. */
uint64_t rng_hash_str(const char *s);
/* Uniform in [0, 1), a pure function of its three inputs. */
double rng_draw(uint64_t seed, uint64_t a, uint64_t b);

/* A seed from the kernel (getrandom); falls back to time and pid. */
uint64_t rng_seed_from_os(void);

#endif
