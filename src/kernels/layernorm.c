/* LayerNorm (Ba et al. 2016) forward and backward over the last axis.
 * Forward saves mean and 1/std per row. Backward (as in llm.c):
 *   dxhat = dout * w;  dinp += rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
 * The fast path runs rows in parallel for dinp and channel blocks in parallel for dw/db, each
 * block summing rows in ascending order, so the bits do not depend on the thread count. */
#include <math.h>

#include "frugal/kernels.h"
#include "kernels_int.h"

void fg_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, size_t N, size_t C)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float m = 0.0f;
        for (size_t i = 0; i < C; i++)
            m += x[i];
        m /= (float)C;
        float v = 0.0f;
        for (size_t i = 0; i < C; i++)
            v += (x[i] - m) * (x[i] - m);
        v /= (float)C;
        float s = 1.0f / sqrtf(v + FG_LAYERNORM_EPS);
        for (size_t i = 0; i < C; i++)
            out[n * C + i] = (x[i] - m) * s * w[i] + b[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

void fg_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, size_t N, size_t C)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C;
        float m = mean[n], s = rstd[n];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (size_t i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float dxhat = dy[i] * w[i];
            dnorm_mean += dxhat;
            dnorm_norm_mean += dxhat * xhat;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
        for (size_t i = 0; i < C; i++) {
            float xhat = (x[i] - m) * s;
            float dxhat = dy[i] * w[i];
            db[i] += dy[i];
            dw[i] += xhat * dy[i];
            dinp[n * C + i] += (dxhat - dnorm_mean - xhat * dnorm_norm_mean) * s;
        }
    }
}

FG_CLONES static void ln_row_forward(float *restrict o, const float *restrict x,
                                     const float *restrict w, const float *restrict b, size_t C,
                                     float *mean, float *rstd)
{
    float m = fg_vsum(x, C) / (float)C;
    float v = fg_vsumsq_centered(x, C, m) / (float)C;
    float s = 1.0f / sqrtf(v + FG_LAYERNORM_EPS);
    for (size_t i = 0; i < C; i++)
        o[i] = (x[i] - m) * s * w[i] + b[i];
    *mean = m;
    *rstd = s;
}

void fg_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, size_t N, size_t C, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N;
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(out, mean, rstd, inp, w, b, n_rows, C)
    for (long n = 0; n < n_rows; n++)
        ln_row_forward(out + (size_t)n * C, inp + (size_t)n * C, w, b, C, mean + n, rstd + n);
}

void fg_residual_layernorm_forward_ref(float *res, float *out, float *mean, float *rstd,
                                       const float *a, const float *b, const float *w,
                                       const float *bias, size_t N, size_t C)
{
    for (size_t i = 0; i < N * C; i++)
        res[i] = a[i] + b[i];
    fg_layernorm_forward_ref(out, mean, rstd, res, w, bias, N, C);
}

FG_CLONES static void add_row(float *res, const float *a, const float *b, size_t C)
{
    for (size_t i = 0; i < C; i++)
        res[i] = a[i] + b[i];
}

void fg_residual_layernorm_forward(float *res, float *out, float *mean, float *rstd, const float *a,
                                   const float *b, const float *w, const float *bias, size_t N,
                                   size_t C, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N;
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(res, out, mean, rstd, a, b, w, bias, n_rows, C)
    for (long n = 0; n < n_rows; n++) {
        size_t o = (size_t)n * C;
        add_row(res + o, a + o, b + o, C);
        ln_row_forward(out + o, res + o, w, bias, C, mean + n, rstd + n);
    }
}

FG_CLONES static void ln_row_backward(float *restrict dx, const float *restrict dy,
                                      const float *restrict x, const float *restrict w, float m,
                                      float s, size_t C)
{
    float a1[FG_LANES] = { 0 }, a2[FG_LANES] = { 0 };
    size_t i = 0;
    for (; i + FG_LANES <= C; i += FG_LANES)
        for (int k = 0; k < FG_LANES; k++) {
            size_t j = i + (size_t)k;
            float dxhat = dy[j] * w[j];
            a1[k] += dxhat;
            a2[k] += dxhat * ((x[j] - m) * s);
        }
    for (int k = 0; i < C; i++, k++) {
        float dxhat = dy[i] * w[i];
        a1[k] += dxhat;
        a2[k] += dxhat * ((x[i] - m) * s);
    }
    float dnorm_mean = fg_lanes_sum(a1) / (float)C;
    float dnorm_norm_mean = fg_lanes_sum(a2) / (float)C;
    for (size_t j = 0; j < C; j++) {
        float xhat = (x[j] - m) * s;
        float dxhat = dy[j] * w[j];
        dx[j] += (dxhat - dnorm_mean - xhat * dnorm_norm_mean) * s;
    }
}

FG_CLONES static void ln_cols_backward(float *restrict dw, float *restrict db,
                                       const float *restrict dout, const float *restrict inp,
                                       const float *mean, const float *rstd, size_t N, size_t C,
                                       size_t c0, size_t c1)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C, *dy = dout + n * C;
        float m = mean[n], s = rstd[n];
        for (size_t i = c0; i < c1; i++) {
            db[i] += dy[i];
            dw[i] += (x[i] - m) * s * dy[i];
        }
    }
}

void fg_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, size_t N, size_t C,
                           int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N, n_blocks = (long)((C + 63) / 64);
    int avx512 = fg_kernels_avx512();
#pragma omp parallel num_threads(n_threads) default(none) \
    shared(dinp, dw, db, dout, inp, w, mean, rstd, n_rows, n_blocks, N, C, avx512)
    {
#pragma omp for schedule(static)
        for (long n = 0; n < n_rows; n++) {
            size_t o = (size_t)n * C;
            if (avx512)
                fg_ln_row_backward_avx512(dinp + o, dout + o, inp + o, w, mean[n], rstd[n], C);
            else
                ln_row_backward(dinp + o, dout + o, inp + o, w, mean[n], rstd[n], C);
        }
#pragma omp for schedule(static)
        for (long blk = 0; blk < n_blocks; blk++) {
            size_t c0 = (size_t)blk * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
            if (avx512)
                fg_ln_cols_backward_avx512(dw, db, dout, inp, mean, rstd, N, C, c0, c1);
            else
                ln_cols_backward(dw, db, dout, inp, mean, rstd, N, C, c0, c1);
        }
    }
}
