/* Fused AdamW over flat fp32 buffers (see optim.h for the update). One pass reads p, g, m, v
 * and writes p, m, v: the optimizer is memory-bound, so fusing clip + decay + moments + update
 * into a single sweep is the whole optimization. Parallel over fixed blocks of elements. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../kernels/kernels_int.h"
#include "frugal/numerics.h"
#include "frugal/optim.h"

struct fg_adamw_params fg_adamw_params_default(void)
{
    struct fg_adamw_params p = { 0.9f, 0.95f, 1e-8f, 0.1f };
    return p;
}

struct adam_coef {
    float lr, decay, b1, b2, one_b1, one_b2, bc1, bc2_rsqrt_inv, eps, gscale;
};

/* bc1 = 1/(1-b1^t); the second-moment correction is folded as sqrt(v) * c2 with
 * c2 = 1/sqrt(1-b2^t), i.e. sqrt(v/(1-b2^t)) = sqrt(v) * c2. */
static struct adam_coef coef(int64_t t, float lr, float gscale, const struct fg_adamw_params *hp)
{
    struct adam_coef c;
    c.lr = lr;
    c.decay = lr * hp->weight_decay;
    c.b1 = hp->beta1;
    c.b2 = hp->beta2;
    c.one_b1 = 1.0f - hp->beta1;
    c.one_b2 = 1.0f - hp->beta2;
    c.bc1 = (float)(1.0 / (1.0 - pow((double)hp->beta1, (double)t)));
    c.bc2_rsqrt_inv = (float)(1.0 / sqrt(1.0 - pow((double)hp->beta2, (double)t)));
    c.eps = hp->eps;
    c.gscale = gscale;
    return c;
}

FG_CLONES static void adam_block(float *restrict p, float *restrict g, float *restrict m,
                                 float *restrict v, size_t n, int decay, int zero,
                                 struct adam_coef c)
{
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * c.gscale;
        float pi = p[i];
        if (decay)
            pi -= c.decay * pi;
        float mi = c.b1 * m[i] + c.one_b1 * gi;
        float vi = c.b2 * v[i] + c.one_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - c.lr * (mi * c.bc1) / (sqrtf(vi) * c.bc2_rsqrt_inv + c.eps);
    }
    if (zero)
        memset(g, 0, n * sizeof(float));
}

void fg_adamw_step_ref(float *params, const float *grads, float *m, float *v,
                       const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                       float grad_scale, const struct fg_adamw_params *hp)
{
    double bc1 = 1.0 - pow((double)hp->beta1, (double)t);
    double bc2 = 1.0 - pow((double)hp->beta2, (double)t);
    for (size_t s = 0; s < n_seg; s++)
        for (size_t i = seg[s].offset; i < seg[s].offset + seg[s].n; i++) {
            float g = grads[i] * grad_scale;
            if (seg[s].decay)
                params[i] -= lr * hp->weight_decay * params[i];
            m[i] = hp->beta1 * m[i] + (1.0f - hp->beta1) * g;
            v[i] = hp->beta2 * v[i] + (1.0f - hp->beta2) * g * g;
            float mhat = (float)((double)m[i] / bc1), vhat = (float)((double)v[i] / bc2);
            params[i] -= lr * mhat / (sqrtf(vhat) + hp->eps);
        }
}

#define ADAM_BLOCK 8192

static void adamw_sweep(float *params, float *grads, float *m, float *v,
                        const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                        float grad_scale, const struct fg_adamw_params *hp, int zero, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    struct adam_coef c = coef(t, lr, grad_scale, hp);
    for (size_t s = 0; s < n_seg; s++) {
        size_t off = seg[s].offset, n = seg[s].n;
        int decay = seg[s].decay;
        long n_blocks = (long)((n + ADAM_BLOCK - 1) / ADAM_BLOCK);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(params, grads, m, v, off, n, decay, zero, c, n_blocks)
        for (long b = 0; b < n_blocks; b++) {
            size_t i0 = off + (size_t)b * ADAM_BLOCK;
            size_t len = off + n - i0 < ADAM_BLOCK ? off + n - i0 : ADAM_BLOCK;
            adam_block(params + i0, grads + i0, m + i0, v + i0, len, decay, zero, c);
        }
    }
}

void fg_adamw_step(float *params, const float *grads, float *m, float *v,
                   const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                   float grad_scale, const struct fg_adamw_params *hp, int n_threads)
{
    /* zero = 0: grads are only read */
    adamw_sweep(params, (float *)(uintptr_t)grads, m, v, seg, n_seg, t, lr, grad_scale, hp, 0,
                n_threads);
}

void fg_adamw_step_zero_grad(float *params, float *grads, float *m, float *v,
                             const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                             float grad_scale, const struct fg_adamw_params *hp, int n_threads)
{
    adamw_sweep(params, grads, m, v, seg, n_seg, t, lr, grad_scale, hp, 1, n_threads);
}

size_t fg_optim_n_chunks(size_t n)
{
    return (n + FG_OPTIM_CHUNK - 1) / FG_OPTIM_CHUNK;
}

FG_CLONES static double sumsq_chunk(const float *x, size_t n)
{
    /* 32 lanes of partial sums in double (four 512-bit registers: enough independent adds to
     * hide their latency), folded in a fixed order. */
    double acc[32] = { 0 };
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 32; k++)
            acc[k] += (double)x[i + (size_t)k] * (double)x[i + (size_t)k];
    for (; i < n; i++)
        acc[0] += (double)x[i] * (double)x[i];
    for (int w = 16; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            acc[k] += acc[k + w];
    return acc[0];
}

/* The chunked sum of squares of fp32 (x32) or bf16 (x16) values: each chunk's in double into
 * partial, then the chunks in index order (the same bits for any thread count). */
static double sumsq_chunked(const float *x32, const uint16_t *x16, size_t n, double *partial,
                            int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_chunks = (long)fg_optim_n_chunks(n);
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_chunks > 1) default(none) \
    shared(x32, x16, n, partial, n_chunks)
    for (long c = 0; c < n_chunks; c++) {
        float tmp[FG_OPTIM_CHUNK];
        size_t i0 = (size_t)c * FG_OPTIM_CHUNK;
        size_t len = n - i0 < FG_OPTIM_CHUNK ? n - i0 : FG_OPTIM_CHUNK;
        if (x16)
            fg_bf16_to_fp32(tmp, x16 + i0, len, FG_NUM_PATH_AUTO);
        partial[c] = sumsq_chunk(x16 ? tmp : x32 + i0, len);
    }
    double s = 0;
    for (long c = 0; c < n_chunks; c++)
        s += partial[c];
    return s;
}

double fg_sumsq(const float *x, size_t n, double *partial, int n_threads)
{
    return sumsq_chunked(x, NULL, n, partial, n_threads);
}

double fg_sumsq_bf16(const uint16_t *x, size_t n, double *partial, int n_threads)
{
    return sumsq_chunked(NULL, x, n, partial, n_threads);
}

int fg_all_finite(const float *x, size_t n, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    int ok = 1;
    long n_chunks = (long)fg_optim_n_chunks(n);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none)                     \
    shared(x, n, n_chunks) reduction(&& : ok)
    for (long c = 0; c < n_chunks; c++) {
        size_t i0 = (size_t)c * FG_OPTIM_CHUNK;
        size_t len = n - i0 < FG_OPTIM_CHUNK ? n - i0 : FG_OPTIM_CHUNK;
        for (size_t i = i0; i < i0 + len; i++)
            ok = ok && isfinite(x[i]);
    }
    return ok;
}

float fg_lr_cosine(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min)
{
    if (step < warmup)
        return lr_max * (float)(step + 1) / (float)warmup;
    if (step >= total || total <= warmup)
        return lr_min;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    double c = 0.5 * (1.0 + cos(3.141592653589793 * progress));
    return (float)((double)lr_min + c * (double)(lr_max - lr_min));
}
