/* Private helpers shared by the kernel translation units. */
#ifndef FRUGAL_KERNELS_INT_H
#define FRUGAL_KERNELS_INT_H

#include <stdint.h>
#include <string.h>

/* Hot elementwise loops are compiled for several ISAs and picked at load time by the
 * compiler's ifunc dispatch. With -std=c11 GCC does not contract a*b+c into FMA
 * (-ffp-contract=off), so every clone computes bit-identical results; only speed differs. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(FG_NO_CLONES)
#    define FG_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#    define FG_CLONES
#endif

/* expf for x in [-88, 88] without libm calls, so loops vectorize: exp(x) = 2^k * e^r with
 * |r| <= ln2/2, e^r by a degree-6 Taylor polynomial (max rel. error about 2e-7, i.e. a few ulp).
 * Below -87.3 it returns 0 (like expf's subnormal range, flushed), above 88 it saturates. */
static inline float fg_fast_expf(float x)
{
    if (x < -87.3f)
        x = -87.3f;
    if (x > 88.0f)
        x = 88.0f;
    float kf = __builtin_roundf(x * 1.44269504f);
    float r = x - kf * 0.693145752f; /* ln2 split hi/lo for an exact reduction */
    r = r - kf * 1.42860677e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t k = (int32_t)kf;
    uint32_t bits = (uint32_t)(k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh through exp: tanh(u) = sign(u) (1 - e) / (1 + e), e = exp(-2|u|). */
static inline float fg_fast_tanhf(float u)
{
    float a = u < 0 ? -u : u;
    float e = fg_fast_expf(-2.0f * a);
    float t = (1.0f - e) / (1.0f + e);
    return u < 0 ? -t : t;
}

#endif
