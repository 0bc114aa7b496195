/* Flash optimizers (see flashoptim.h and docs/flashoptim.md): split master weights, companded
 * 8-bit states, and the fused step of SGD, Adam(W) and Lion over them.
 *
 * The step works one group of 32 elements at a time: decode the group's weights, gradients and
 * states into fp32 locals, apply the optimizer's update (one inline function per optimizer,
 * shared with the `_ref` path, so both compute the same bits), encode the group back. Blocks of
 * FLASH_BLOCK_GROUPS groups are the unit of parallel work: the result does not depend on the
 * thread count. All arithmetic is fp32, no contraction (ISO C mode: -ffp-contract=off). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../kernels/kernels_int.h"
#include "flash_int.h"
#include "frugal/core.h"
#include "frugal/flashoptim.h"
#include "frugal/numerics.h"

#define G                  FG_FLASH_GROUP
#define FLASH_BLOCK_GROUPS 256

/* ---- bits (f2u, bf16_rne, ... are in flash_int.h) ---------------------------------------- */

/* 2^k for k in [-126, 127] */
static inline float pow2i(int k)
{
    return u2f((uint32_t)(k + 127) << 23);
}

/* x * 2^k for k in [-268, 254], as two exact power-of-two products (one rounding at most, in
 * the subnormal range, as ldexpf would round) */
static inline float scale2(float x, int k)
{
    int h = k / 2;
    return (x * pow2i(h)) * pow2i(k - h);
}

/* log2 of half a ULP of the bf16 value h: (E - 127) - 7 - 1, with E = 1 for zero and the
 * subnormals (their spacing is that of the smallest normal binade) */
static inline int log2_half_ulp(uint16_t h)
{
    int e = (h >> 7) & 0xFF;
    return (e ? e : 1) - 135;
}

/* split: theta's low 16 bits are its distance from the bf16 value toward zero, in units of
 * 2^-16 ULP. Rounding to the nearest bf16 (exact ties toward zero, so that every tie is
 * tq +- N and split(join(x)) = x: RNE would send the tie 2^k - ULP/2 up to 2^k, whose ULP is
 * twice as large) and the correction are then integer arithmetic, exact: rho = round half
 * away from zero(e / (ULP/2) * N) with e = theta - tq in those units, and ULP/2 = 2^15 units,
 * or 2^16 when rounding up carried into the next binade (not from the subnormals, whose
 * spacing is the smallest normal binade's). Inf and NaN give rho 0 (NaN kept quiet); a value
 * that rounds up to Inf gives rho = -N (toward theta). */
static inline int32_t split1(float theta, int32_t n_max, uint16_t *w)
{
    uint32_t u = f2u(theta), ex = (u >> 23) & 0xFFu;
    if (ex == 0xFFu) {
        *w = bf16_rne(theta);
        return 0;
    }
    uint32_t low = u & 0xFFFFu, h = u >> 16, shift = 15;
    int32_t lp = (int32_t)low; /* theta - tq in units, |theta| - |tq| sense */
    if (low > 0x8000u) {
        h += 1;
        lp -= 65536;
        uint32_t nex = (h >> 7) & 0xFFu;
        if (nex == 0xFFu) { /* rounded up to Inf */
            *w = (uint16_t)h;
            return (u >> 31) ? n_max : -n_max;
        }
        if (nex != ex && ex != 0)
            shift = 16;
    }
    uint32_t alp = (uint32_t)(lp < 0 ? -lp : lp);
    int32_t mag = (int32_t)((alp * (uint32_t)n_max + (1u << (shift - 1))) >> shift);
    int32_t rho = lp < 0 ? -mag : mag;
    *w = (uint16_t)h;
    return (u >> 31) ? -rho : rho;
}

static inline float join1(uint16_t h, int32_t rho, float n_max)
{
    float tq = bf16_f32(h);
    /* (rho * (1/N)) * 2^l; -0 stays -0 */
    return rho ? tq + scale2((float)rho * (1.0f / n_max), log2_half_ulp(h)) : tq;
}

void fg_flash_split(float theta, int bits, uint16_t *w16, int32_t *rho)
{
    *rho = split1(theta, bits == 16 ? 32767 : 127, w16);
}

float fg_flash_join(uint16_t w16, int32_t rho, int bits)
{
    return join1(w16, rho, bits == 16 ? 32767.0f : 127.0f);
}

void fg_flash_split_n(const float *theta, size_t n, int bits, uint16_t *w16, void *rho)
{
    for (size_t i = 0; i < n; i++) {
        if (bits == 16)
            ((int16_t *)rho)[i] = (int16_t)split1(theta[i], 32767, &w16[i]);
        else
            ((int8_t *)rho)[i] = (int8_t)split1(theta[i], 127, &w16[i]);
    }
}

void fg_flash_join_n(const uint16_t *w16, const void *rho, size_t n, int bits, float *theta)
{
    for (size_t i = 0; i < n; i++)
        theta[i] = bits == 16 ? join1(w16[i], ((const int16_t *)rho)[i], 32767.0f)
                              : join1(w16[i], ((const int8_t *)rho)[i], 127.0f);
}

/* ---- companded group quantizers ------------------------------------------------------------ */

/* a code from c = floor(k*y + 0.5) clamped to [lo, hi]; NaN gives 0 */
static inline float code_clamp(float c, float lo, float hi)
{
    if (!(c == c))
        return 0.0f;
    return c < lo ? lo : (c > hi ? hi : c);
}

/* One group of len <= 32 elements. The scale is stored in *s; the codes are computed against
 * the stored scale (bf16, rounded up) or against the unrounded max (fp16, as the reference). */
static inline void quant_m_group(const float *x, size_t len, enum fg_flash_scale fmt, int8_t *q,
                                 uint16_t *s)
{
    float a = 0.0f;
    for (size_t i = 0; i < len; i++)
        a = fmaxf(a, fabsf(x[i]));
    float inv = 1.0f / flash_scale_encode(a, fmt, s);
    for (size_t i = 0; i < len; i++) {
        float z = x[i] * inv;
        float y = 2.0f * z / (1.0f + fabsf(z));
        q[i] = (int8_t)code_clamp(floorf(127.0f * y + 0.5f), -127.0f, 127.0f);
    }
}

static inline void dequant_m_group(const int8_t *q, uint16_t s, size_t len, enum fg_flash_scale fmt,
                                   float *x)
{
    float d = flash_scale_decode(s, fmt);
    for (size_t i = 0; i < len; i++) { /* y = q/127, z = y / (2 - |y|) = q / (254 - |q|) */
        float qf = (float)q[i];
        x[i] = (qf / (254.0f - fabsf(qf))) * d;
    }
}

static inline void quant_v_group(const float *v, size_t len, enum fg_flash_scale fmt, uint8_t *q,
                                 uint16_t *s)
{
    float r[G];
    float a = 0.0f;
    for (size_t i = 0; i < len; i++) {
        r[i] = sqrtf(v[i]);
        a = fmaxf(a, r[i]);
    }
    float k = 255.0f / flash_scale_encode(a, fmt, s);
    for (size_t i = 0; i < len; i++)
        q[i] = (uint8_t)code_clamp(floorf(r[i] * k + 0.5f), 0.0f, 255.0f);
}

static inline void dequant_v_group(const uint8_t *q, uint16_t s, size_t len,
                                   enum fg_flash_scale fmt, int zero_half, float *v)
{
    float step = flash_scale_decode(s, fmt) / 255.0f;
    for (size_t i = 0; i < len; i++) {
        float c = (q[i] == 0 && zero_half) ? 0.5f : (float)q[i];
        float r = c * step;
        v[i] = r * r;
    }
}

size_t fg_flash_n_groups(size_t n)
{
    return (n + G - 1) / G;
}

void fg_flash_quant_m(const float *x, size_t n, enum fg_flash_scale fmt, int8_t *q,
                      uint16_t *scales)
{
    for (size_t g = 0, i = 0; i < n; g++, i += G)
        quant_m_group(x + i, n - i < G ? n - i : G, fmt, q + i, &scales[g]);
}

void fg_flash_dequant_m(const int8_t *q, const uint16_t *scales, size_t n, enum fg_flash_scale fmt,
                        float *x)
{
    for (size_t g = 0, i = 0; i < n; g++, i += G)
        dequant_m_group(q + i, scales[g], n - i < G ? n - i : G, fmt, x + i);
}

void fg_flash_quant_v(const float *v, size_t n, enum fg_flash_scale fmt, uint8_t *q,
                      uint16_t *scales)
{
    for (size_t g = 0, i = 0; i < n; g++, i += G)
        quant_v_group(v + i, n - i < G ? n - i : G, fmt, q + i, &scales[g]);
}

void fg_flash_dequant_v(const uint8_t *q, const uint16_t *scales, size_t n, enum fg_flash_scale fmt,
                        int zero_half, float *v)
{
    for (size_t g = 0, i = 0; i < n; g++, i += G)
        dequant_v_group(q + i, scales[g], n - i < G ? n - i : G, fmt, zero_half, v + i);
}

/* ---- the updates ------------------------------------------------------------------------- */

struct fg_flash_hparams fg_flash_hparams_default(enum fg_flash_kind kind)
{
    struct fg_flash_hparams h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    switch (kind) {
    case FG_FLASH_ADAM:
        h.beta1 = 0.9f;
        h.beta2 = 0.999f;
        h.eps = 1e-8f;
        h.weight_decay = 1e-2f;
        h.decoupled = 1;
        break;
    case FG_FLASH_LION:
        h.beta1 = 0.9f;
        h.beta2 = 0.99f;
        h.decoupled = 1;
        break;
    case FG_FLASH_SGD:
    default:
        h.momentum = 0.9f;
        break;
    }
    return h;
}

int fg_flash_n_states(const struct fg_flash_hparams *hp)
{
    switch (hp->kind) {
    case FG_FLASH_ADAM:
        return 2;
    case FG_FLASH_LION:
        return 1;
    case FG_FLASH_SGD:
    default:
        return hp->momentum != 0.0f ? 1 : 0;
    }
}

static struct coef make_coef(const struct fg_flash_hparams *hp, int64_t t, float lr, float gscale)
{
    struct coef c;
    memset(&c, 0, sizeof c);
    c.kind = hp->kind;
    c.lr = lr;
    c.gscale = gscale;
    c.wd = hp->weight_decay;
    int dec = hp->kind == FG_FLASH_LION || hp->decoupled;
    c.decoupled = dec && hp->weight_decay != 0.0f;
    c.coupled = !dec && hp->weight_decay != 0.0f;
    float wd_eff = hp->lr0 > 0.0f ? hp->weight_decay * lr / hp->lr0 : lr * hp->weight_decay;
    c.keep = 1.0f - wd_eff;
    c.b1 = hp->beta1;
    c.b2 = hp->beta2;
    c.one_b1 = 1.0f - hp->beta1;
    c.one_b2 = 1.0f - hp->beta2;
    /* 1 / (1 - b1^t) and 1 / sqrt(1 - b2^t), in double, rounded once */
    c.bc1 = (float)(1.0 / (1.0 - pow((double)hp->beta1, (double)(t > 0 ? t : 1))));
    c.bc2 = (float)(1.0 / sqrt(1.0 - pow((double)hp->beta2, (double)(t > 0 ? t : 1))));
    c.eps = hp->eps;
    c.mu = hp->momentum;
    c.one_damp = 1.0f - hp->dampening;
    c.nesterov = hp->nesterov;
    c.has_m = fg_flash_n_states(hp) > 0;
    return c;
}

/* One element of each optimizer, in the reference's order (docs/flashoptim.md). */
static inline void upd_adam(float *th, float *m, float *v, float g, const struct coef *c)
{
    float x = *th;
    g = g * c->gscale;
    if (c->coupled)
        g = g + c->wd * x;
    float mi = c->b1 * *m + c->one_b1 * g;
    float vi = c->b2 * *v + c->one_b2 * g * g;
    if (c->decoupled)
        x = x * c->keep;
    x = x - c->lr * (mi * c->bc1) / (sqrtf(vi) * c->bc2 + c->eps);
    *m = mi;
    *v = vi;
    *th = x;
}

static inline void upd_sgd(float *th, float *m, float g, const struct coef *c)
{
    float x = *th;
    g = g * c->gscale;
    if (c->coupled)
        g = g + c->wd * x;
    float d = g;
    if (c->has_m) {
        float mi = c->mu * *m + c->one_damp * g;
        *m = mi;
        d = c->nesterov ? g + c->mu * mi : mi;
    }
    if (c->decoupled)
        x = x * c->keep;
    *th = x - c->lr * d;
}

static inline void upd_lion(float *th, float *m, float g, const struct coef *c)
{
    float x = *th;
    g = g * c->gscale;
    float s = c->b1 * *m + c->one_b1 * g;
    float u = s > 0.0f ? 1.0f : (s < 0.0f ? -1.0f : 0.0f);
    *m = c->b2 * *m + c->one_b2 * g;
    if (c->decoupled)
        x = x * c->keep;
    *th = x - c->lr * u;
}

static inline void update(float *th, float *m, float *v, const float *g, size_t len,
                          const struct coef *c)
{
    switch (c->kind) {
    case FG_FLASH_ADAM:
        for (size_t i = 0; i < len; i++)
            upd_adam(&th[i], &m[i], &v[i], g[i], c);
        break;
    case FG_FLASH_LION:
        for (size_t i = 0; i < len; i++)
            upd_lion(&th[i], &m[i], g[i], c);
        break;
    case FG_FLASH_SGD:
    default:
        for (size_t i = 0; i < len; i++)
            upd_sgd(&th[i], &m[i], g[i], c);
        break;
    }
}

void fg_flash_step_ref(float *w, float *m, float *v, const float *g, size_t n, float grad_scale,
                       int64_t t, float lr, const struct fg_flash_hparams *hp)
{
    struct coef c = make_coef(hp, t, lr, grad_scale);
    float dummy = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float *mi = c.has_m ? &m[i] : &dummy, *vi = c.kind == FG_FLASH_ADAM ? &v[i] : &dummy;
        update(&w[i], mi, vi, &g[i], 1, &c);
    }
}

/* ---- the fused step ------------------------------------------------------------------------ */

FG_CLONES static void step_block(const struct fg_flash_tensor *x, const float *g32,
                                 const uint16_t *g16, size_t i0, size_t n, const struct coef *c,
                                 int use_avx512)
{
    float th[G], gr[G], m[G], v[G];
    int adam = c->kind == FG_FLASH_ADAM;
    if (use_avx512 && n >= G) { /* whole groups vectorized; a partial last group below */
        size_t whole = n / G;
        fg_flash_groups_avx512(x, g32, g16, i0, whole, c);
        i0 += whole * G;
        n -= whole * G;
    }
    for (size_t i = i0; i < i0 + n; i += G) {
        size_t len = i0 + n - i < G ? i0 + n - i : G, grp = i / G;
        /* prologue: decode */
        if (x->w32)
            memcpy(th, x->w32 + i, len * 4);
        else if (x->rho8)
            for (size_t k = 0; k < len; k++)
                th[k] = join1(x->w16[i + k], x->rho8[i + k], 127.0f);
        else if (x->rho16)
            for (size_t k = 0; k < len; k++)
                th[k] = join1(x->w16[i + k], x->rho16[i + k], 32767.0f);
        else
            for (size_t k = 0; k < len; k++)
                th[k] = bf16_f32(x->w16[i + k]);
        if (g32)
            memcpy(gr, g32 + i, len * 4);
        else
            for (size_t k = 0; k < len; k++)
                gr[k] = bf16_f32(g16[i + k]);
        if (c->has_m) {
            if (x->m32)
                memcpy(m, x->m32 + i, len * 4);
            else
                dequant_m_group(x->mq + i, x->ms[grp], len, x->scale_fmt, m);
        }
        if (adam) {
            if (x->v32)
                memcpy(v, x->v32 + i, len * 4);
            else
                dequant_v_group(x->vq + i, x->vs[grp], len, x->scale_fmt, x->v_zero_half, v);
        }
        update(th, m, v, gr, len, c);
        /* epilogue: encode */
        if (x->w32)
            memcpy(x->w32 + i, th, len * 4);
        else if (x->rho8)
            for (size_t k = 0; k < len; k++)
                x->rho8[i + k] = (int8_t)split1(th[k], 127, &x->w16[i + k]);
        else if (x->rho16)
            for (size_t k = 0; k < len; k++)
                x->rho16[i + k] = (int16_t)split1(th[k], 32767, &x->w16[i + k]);
        else
            for (size_t k = 0; k < len; k++)
                x->w16[i + k] = bf16_rne(th[k]);
        if (c->has_m) {
            if (x->m32)
                memcpy(x->m32 + i, m, len * 4);
            else
                quant_m_group(m, len, x->scale_fmt, x->mq + i, &x->ms[grp]);
        }
        if (adam) {
            if (x->v32)
                memcpy(x->v32 + i, v, len * 4);
            else
                quant_v_group(v, len, x->scale_fmt, x->vq + i, &x->vs[grp]);
        }
    }
}

static int tensor_ok(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                     const struct fg_flash_hparams *hp)
{
    if (!x || !hp || x->n == 0 || (!g32) == (!g16))
        return 0;
    if (hp->kind != FG_FLASH_SGD && hp->kind != FG_FLASH_ADAM && hp->kind != FG_FLASH_LION)
        return 0;
    if ((!x->w32) == (!x->w16) || (x->w32 && (x->rho8 || x->rho16)) || (x->rho8 && x->rho16))
        return 0;
    if (x->scale_fmt != FG_FLASH_SCALE_BF16 && x->scale_fmt != FG_FLASH_SCALE_FP16)
        return 0;
    int ns = fg_flash_n_states(hp);
    if (ns >= 1 && (!x->m32) == (!(x->mq && x->ms)))
        return 0;
    if (ns >= 2 && (!x->v32) == (!(x->vq && x->vs)))
        return 0;
    return 1;
}

fg_status fg_flash_step(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                        float grad_scale, int64_t t, float lr, const struct fg_flash_hparams *hp,
                        int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    if (!tensor_ok(x, g32, g16, hp) || t < 1 || !isfinite(lr) || !isfinite(grad_scale))
        return FG_ERR_INVALID_ARG;
    struct coef c = make_coef(hp, t, lr, grad_scale);
    int use_avx512 = fg_cpu_isa() >= FG_ISA_AVX512;
    size_t n = x->n, blk = (size_t)FLASH_BLOCK_GROUPS * G;
    long n_blocks = (long)((n + blk - 1) / blk);
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_blocks > 1) default(none) \
    shared(x, g32, g16, c, n, blk, n_blocks, use_avx512)
    for (long b = 0; b < n_blocks; b++) {
        size_t i0 = (size_t)b * blk;
        step_block(x, g32, g16, i0, n - i0 < blk ? n - i0 : blk, &c, use_avx512);
    }
    return FG_OK;
}
