/* Private helpers shared by the kernel translation units. */
#ifndef FRUGAL_KERNELS_INT_H
#define FRUGAL_KERNELS_INT_H

#include <stddef.h>
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

/* AVX-512 elementwise and row kernels (elementwise_avx512.c). Call them only when
 * fg_kernels_avx512() is 1: the CPU has AVX-512 (cpuid, checked once) and FG_ISA allows it. */
int fg_kernels_avx512(void);
void fg_gelu_forward_avx512(float *out, const float *inp, size_t n);
void fg_gelu_backward_avx512(float *dinp, const float *inp, const float *dout, size_t n);
float fg_lse_row_avx512(const float *z, size_t V);
void fg_ce_row_backward_avx512(float *z, float lse, int32_t tgt, size_t V, size_t Vp, float dscale);
void fg_ln_row_backward_avx512(float *dx, const float *dy, const float *x, const float *w, float m,
                               float s, size_t C);
void fg_ln_cols_backward_avx512(float *dw, float *db, const float *dout, const float *inp,
                                const float *mean, const float *rstd, size_t N, size_t C, size_t c0,
                                size_t c1);

/* expf for x in [-88, 88] without libm calls, so loops vectorize: exp(x) = 2^k * e^r with
 * |r| <= ln2/2, e^r by a degree-6 Taylor polynomial (max rel. error about 2e-7, i.e. a few ulp).
 * Inputs below -87.3 are clamped (result about 1.2e-38, the smallest normal range), above 88 it saturates. */
static inline float fg_fast_expf(float x)
{
    if (x < -87.3f)
        x = -87.3f;
    if (x > 88.0f)
        x = 88.0f;
    /* Round to nearest (even) by adding and subtracting 1.5 * 2^23: plain adds, so the loop
     * vectorizes (roundf is a libm call). Exact for |x * log2 e| < 2^22. */
    float kf = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
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

/* Reductions with 16 independent accumulators. Strict IEEE order (no -ffast-math) forbids the
 * compiler from reordering `sum += x[i]`, so a plain loop stays scalar; spelling out 16 lanes
 * fixes a (different, still deterministic) order that maps onto one 512-bit register, and the
 * lanes are combined in a fixed tree. Results do not depend on the thread count. */
#define FG_LANES 16

static inline float fg_lanes_sum(const float acc[FG_LANES])
{
    float t[8];
    for (int k = 0; k < 8; k++)
        t[k] = acc[k] + acc[k + 8];
    for (int k = 0; k < 4; k++)
        t[k] = t[k] + t[k + 4];
    return (t[0] + t[2]) + (t[1] + t[3]);
}

static inline float fg_vsum(const float *x, size_t n)
{
    float acc[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++)
            acc[k] += x[i + (size_t)k];
    for (int k = 0; i < n; i++, k++)
        acc[k] += x[i];
    return fg_lanes_sum(acc);
}

/* sum of (x[i] - m)^2 */
static inline float fg_vsumsq_centered(const float *x, size_t n, float m)
{
    float acc[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++) {
            float d = x[i + (size_t)k] - m;
            acc[k] += d * d;
        }
    for (int k = 0; i < n; i++, k++)
        acc[k] += (x[i] - m) * (x[i] - m);
    return fg_lanes_sum(acc);
}

static inline float fg_vdot(const float *x, const float *y, size_t n)
{
    float acc[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++)
            acc[k] += x[i + (size_t)k] * y[i + (size_t)k];
    for (int k = 0; i < n; i++, k++)
        acc[k] += x[i] * y[i];
    return fg_lanes_sum(acc);
}

/* max of x[0..n), n >= 1 (a NaN anywhere may or may not propagate; callers check losses) */
static inline float fg_vmax(const float *x, size_t n)
{
    float acc[FG_LANES];
    for (int k = 0; k < FG_LANES; k++)
        acc[k] = x[0];
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++)
            acc[k] = x[i + (size_t)k] > acc[k] ? x[i + (size_t)k] : acc[k];
    for (int k = 0; i < n; i++, k++)
        acc[k] = x[i] > acc[k] ? x[i] : acc[k];
    float m = acc[0];
    for (int k = 1; k < FG_LANES; k++)
        m = acc[k] > m ? acc[k] : m;
    return m;
}

/* x[i] = exp(x[i] - m) in place; returns the sum */
static inline float fg_vexp_sum(float *x, size_t n, float m)
{
    float acc[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++) {
            float e = fg_fast_expf(x[i + (size_t)k] - m);
            x[i + (size_t)k] = e;
            acc[k] += e;
        }
    for (int k = 0; i < n; i++, k++) {
        x[i] = fg_fast_expf(x[i] - m);
        acc[k] += x[i];
    }
    return fg_lanes_sum(acc);
}

/* sum of exp(x[i] - m), x unchanged */
static inline float fg_vexp_sum_ro(const float *x, size_t n, float m)
{
    float acc[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= n; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++)
            acc[k] += fg_fast_expf(x[i + (size_t)k] - m);
    for (int k = 0; i < n; i++, k++)
        acc[k] += fg_fast_expf(x[i] - m);
    return fg_lanes_sum(acc);
}

/* Causal softmax of row t of a T x T score matrix, in place: p[0..t] <- softmax, p[t+1..T) <- 0.
 * Shared by the portable and the AVX-512 attention; inlined into each ISA's code. */
static inline void fg_softmax_causal_row(float *p, size_t t, size_t T)
{
    float maxv = fg_vmax(p, t + 1);
    float inv = 1.0f / fg_vexp_sum(p, t + 1, maxv);
    for (size_t s = 0; s <= t; s++)
        p[s] *= inv;
    for (size_t s = t + 1; s < T; s++)
        p[s] = 0.0f;
}

/* Its backward for row t: ds holds dP on entry and dS = p * (dP - dot(dP, p)) on exit. */
static inline void fg_softmax_causal_row_backward(float *ds, const float *p, size_t t, size_t T)
{
    float dot = fg_vdot(ds, p, t + 1);
    for (size_t s = 0; s <= t; s++)
        ds[s] = p[s] * (ds[s] - dot);
    for (size_t s = t + 1; s < T; s++)
        ds[s] = 0.0f;
}

#endif
