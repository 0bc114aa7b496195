/* xoshiro256** (Blackman & Vigna 2018) seeded by splitmix64; Box-Muller normals in double.
 * Chosen because its state is four words that a checkpoint can store exactly. */
#include <math.h>

#include "frugal/core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void fg_rng_seed(struct fg_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t fg_rng_u64(struct fg_rng *r)
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

double fg_rng_uniform(struct fg_rng *r)
{
    return (double)(fg_rng_u64(r) >> 11) * 0x1.0p-53;
}

uint64_t fg_rng_below(struct fg_rng *r, uint64_t n)
{
    /* Rejection sampling on the top of the range: unbiased for every n. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do {
        x = fg_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

double fg_rng_normal(struct fg_rng *r)
{
    double u1 = fg_rng_uniform(r);
    double u2 = fg_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
