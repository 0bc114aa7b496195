/* Internal to src/optim: the flash step's per-step constants and the AVX-512 group kernel. */
#ifndef FRUGAL_FLASH_INT_H
#define FRUGAL_FLASH_INT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "frugal/flashoptim.h"
#include "frugal/numerics.h"

/* ---- bits, shared by the scalar and the AVX-512 code ---------------------------------------- */

static inline uint32_t f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static inline float u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* fp32 -> bf16, round to nearest even, NaN kept quiet: the bits of fg_bf16_encode, inline */
static inline uint16_t bf16_rne(float x)
{
    uint32_t u = f2u(x);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

static inline float bf16_f32(uint16_t h)
{
    return u2f((uint32_t)h << 16);
}

/* A positive finite (or +Inf) scale rounded up to bf16: never below the value it stores. */
static inline uint16_t bf16_up(float a)
{
    uint32_t u = f2u(a);
    if (u & 0xFFFFu)
        u += 0x10000u;
    return (uint16_t)(u >> 16);
}

static inline float flash_scale_decode(uint16_t s, enum fg_flash_scale fmt)
{
    return fmt == FG_FLASH_SCALE_FP16 ? fg_fp16_decode(s) : bf16_f32(s);
}

/* A group's scale from its max a (NaN elements already ignored): *s gets the stored bits; the
 * return value is what the codes are computed against (bf16: the stored scale, rounded up;
 * fp16: the unrounded max, as the reference). */
static inline float flash_scale_encode(float a, enum fg_flash_scale fmt, uint16_t *s)
{
    a = a > 1e-12f ? a : 1e-12f; /* a is never NaN here */
    if (fmt == FG_FLASH_SCALE_FP16) {
        *s = fg_fp16_encode(a);
        return a;
    }
    *s = bf16_up(a);
    return bf16_f32(*s);
}

/* Per-step constants, computed once (the same in the fused and the `_ref` path). */
struct coef {
    enum fg_flash_kind kind;
    float lr, gscale, wd, keep; /* keep = 1 - wd_eff (decoupled decay) */
    int coupled, decoupled;
    float b1, b2, one_b1, one_b2, eps; /* Adam, Lion */
    float bc1, bc2;                    /* Adam: 1 / (1 - b1^t), 1 / sqrt(1 - b2^t) */
    float mu, one_damp;                /* SGD */
    int nesterov, has_m;
};

/* n_groups whole groups of 32 from element i0 (a multiple of 32): the same bits as the scalar
 * step_block. Callable only when fg_cpu_isa() >= FG_ISA_AVX512. */
void fg_flash_groups_avx512(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                            size_t i0, size_t n_groups, const struct coef *c);

#endif
