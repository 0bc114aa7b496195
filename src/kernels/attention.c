/* Causal multi-head self-attention (Vaswani et al. 2017), forward and backward.
 *
 * _ref follows the definition row by row. The fast path works per (batch, head) on strided
 * views of the packed qkv tensor, so no Q/K/V copies are made:
 *   S = scale * Q K^T  (sgemm)  ->  P = causal softmax(S), row-parallel  ->  Y = P V  (sgemm)
 * and backward
 *   dP = dY V^T, dV = P^T dY  (sgemm)  ->  dS = P * (dP - rowsum(dP * P))  ->
 *   dQ = scale * dS K, dK = scale * dS^T Q  (sgemm).
 * The masked upper triangle is computed by sgemm and then zeroed: about 2x the minimum FLOPs
 * on the T x T products, paid for by BLAS speed. A tiled kernel that never stores the T x T
 * matrix is a separate, later kernel. BLAS is always called outside OpenMP regions. */
#include <cblas.h>
#include <math.h>

#include "frugal/kernels.h"
#include "kernels_int.h"

void fg_attention_forward_ref(float *out, float *att, const float *qkv, size_t B, size_t T,
                              size_t C, size_t NH)
{
    size_t HS = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)HS);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++)
            for (size_t t = 0; t < T; t++) {
                const float *q = qkv + (b * T + t) * C3 + h * HS;
                float *p = att + ((b * NH + h) * T + t) * T;
                float maxv = -INFINITY;
                for (size_t s = 0; s <= t; s++) {
                    const float *k = qkv + (b * T + s) * C3 + C + h * HS;
                    float dot = 0.0f;
                    for (size_t i = 0; i < HS; i++)
                        dot += q[i] * k[i];
                    dot *= scale;
                    p[s] = dot;
                    if (dot > maxv)
                        maxv = dot;
                }
                float sum = 0.0f;
                for (size_t s = 0; s <= t; s++) {
                    p[s] = expf(p[s] - maxv);
                    sum += p[s];
                }
                float inv = 1.0f / sum;
                for (size_t s = 0; s < T; s++)
                    p[s] = s <= t ? p[s] * inv : 0.0f;
                float *o = out + (b * T + t) * C + h * HS;
                for (size_t i = 0; i < HS; i++)
                    o[i] = 0.0f;
                for (size_t s = 0; s <= t; s++) {
                    const float *v = qkv + (b * T + s) * C3 + 2 * C + h * HS;
                    for (size_t i = 0; i < HS; i++)
                        o[i] += p[s] * v[i];
                }
            }
}

void fg_attention_backward_ref(float *dqkv, const float *dout, const float *qkv, const float *att,
                               size_t B, size_t T, size_t C, size_t NH)
{
    size_t HS = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)HS);
    for (size_t i = 0; i < B * T * C3; i++)
        dqkv[i] = 0.0f;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++)
            for (size_t t = 0; t < T; t++) {
                const float *p = att + ((b * NH + h) * T + t) * T;
                const float *dy = dout + (b * T + t) * C + h * HS;
                const float *q = qkv + (b * T + t) * C3 + h * HS;
                float *dq = dqkv + (b * T + t) * C3 + h * HS;
                /* dP[s] = dy . v_s, and dV_s += p[s] dy */
                float dot_pdp = 0.0f;
                for (size_t s = 0; s <= t; s++) {
                    const float *v = qkv + (b * T + s) * C3 + 2 * C + h * HS;
                    float *dv = dqkv + (b * T + s) * C3 + 2 * C + h * HS;
                    float dp = 0.0f;
                    for (size_t i = 0; i < HS; i++) {
                        dp += dy[i] * v[i];
                        dv[i] += p[s] * dy[i];
                    }
                    dot_pdp += dp * p[s];
                }
                for (size_t s = 0; s <= t; s++) {
                    const float *v = qkv + (b * T + s) * C3 + 2 * C + h * HS;
                    const float *k = qkv + (b * T + s) * C3 + C + h * HS;
                    float *dk = dqkv + (b * T + s) * C3 + C + h * HS;
                    float dp = 0.0f;
                    for (size_t i = 0; i < HS; i++)
                        dp += dy[i] * v[i];
                    float ds = p[s] * (dp - dot_pdp) * scale;
                    for (size_t i = 0; i < HS; i++) {
                        dq[i] += ds * k[i];
                        dk[i] += ds * q[i];
                    }
                }
            }
}

FG_CLONES static void softmax_causal_row(float *restrict p, size_t t, size_t T)
{
    fg_softmax_causal_row(p, t, T);
}

FG_CLONES static void softmax_backward_row(float *restrict ds, const float *restrict p, size_t t,
                                           size_t T)
{
    fg_softmax_causal_row_backward(ds, p, t, T);
}

void fg_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T, size_t C,
                          size_t NH, int n_threads)
{
    (void)n_threads;
    size_t HS = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)HS);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            const float *q = qkv + b * T * C3 + h * HS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)T, (blasint)T,
                        (blasint)HS, scale, q, (blasint)C3, q + C, (blasint)C3, 0.0f,
                        att + (b * NH + h) * T * T, (blasint)T);
        }
    long n_rows = (long)(B * NH * T);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(att, n_rows, T)
    for (long r = 0; r < n_rows; r++)
        softmax_causal_row(att + (size_t)r * T, (size_t)r % T, T);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)HS,
                        (blasint)T, 1.0f, att + (b * NH + h) * T * T, (blasint)T,
                        qkv + b * T * C3 + 2 * C + h * HS, (blasint)C3, 0.0f,
                        out + b * T * C + h * HS, (blasint)C);
}

void fg_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                           const float *att, size_t B, size_t T, size_t C, size_t NH, int n_threads)
{
    (void)n_threads;
    size_t HS = C / NH, C3 = 3 * C;
    float scale = 1.0f / sqrtf((float)HS);
    /* dP = dY V^T and dV = P^T dY, per (b, h); scratch holds all dP (B, NH, T, T). */
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            const float *dy = dout + b * T * C + h * HS;
            const float *v = qkv + b * T * C3 + 2 * C + h * HS;
            const float *p = att + (b * NH + h) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)T, (blasint)T,
                        (blasint)HS, 1.0f, dy, (blasint)C, v, (blasint)C3, 0.0f,
                        scratch + (b * NH + h) * T * T, (blasint)T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)T, (blasint)HS,
                        (blasint)T, 1.0f, p, (blasint)T, dy, (blasint)C, 0.0f,
                        dqkv + b * T * C3 + 2 * C + h * HS, (blasint)C3);
        }
    long n_rows = (long)(B * NH * T);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(scratch, att, n_rows, T)
    for (long r = 0; r < n_rows; r++)
        softmax_backward_row(scratch + (size_t)r * T, att + (size_t)r * T, (size_t)r % T, T);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++) {
            const float *ds = scratch + (b * NH + h) * T * T;
            const float *q = qkv + b * T * C3 + h * HS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)T, (blasint)HS,
                        (blasint)T, scale, ds, (blasint)T, q + C, (blasint)C3, 0.0f,
                        dqkv + b * T * C3 + h * HS, (blasint)C3);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)T, (blasint)HS,
                        (blasint)T, scale, ds, (blasint)T, q, (blasint)C3, 0.0f,
                        dqkv + b * T * C3 + C + h * HS, (blasint)C3);
        }
}
