/* The tiled attention kernels' body (see attention_tiled.c), compiled twice: portable in
 * attention_tiled.c and with AVX-512 code generation in attention_tiled_avx512.c. Without
 * -ffast-math the compiler keeps every sum in source order, so both give the same bits.
 * The includer defines TILED_NAME(x) to name the two entry points. */
#include <math.h>
#include <string.h>

#include "frugal/kernels.h"
#include "kernels_int.h"

#define TQ 32 /* queries per block */
#define TK 32 /* keys per block */

/* t (HS, n) = rows [s0, s0 + n) of one head's K (or V) columns, transposed; the rest of its TK
 * columns zero */
static inline void load_transposed(float *t, const float *base, size_t C3, size_t s0, size_t n,
                                   size_t HS)
{
    for (size_t d = 0; d < HS; d++) {
        for (size_t j = 0; j < n; j++)
            t[d * TK + j] = base[(s0 + j) * C3 + d];
        for (size_t j = n; j < TK; j++)
            t[d * TK + j] = 0.0f;
    }
}

/* s (TK) = scale * q . kt[:, j] for the TK columns of kt (HS, TK) */
static inline void row_scores(float *s, const float *q, const float *kt, size_t HS, float scale)
{
    for (size_t j = 0; j < TK; j++)
        s[j] = 0.0f;
    for (size_t d = 0; d < HS; d++) {
        float qd = q[d];
        const float *k = kt + d * TK;
        for (size_t j = 0; j < TK; j++)
            s[j] += qd * k[j];
    }
    for (size_t j = 0; j < TK; j++)
        s[j] *= scale;
}

/* y (n) += a * x (n) */
static inline void axpy(float *y, float a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* dot product with 16 partial sums folded in a fixed order */
static inline float dot(const float *a, const float *b, size_t n)
{
    float acc[16] = { 0 };
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t k = 0; k < 16; k++)
            acc[k] += a[i + k] * b[i + k];
    for (; i < n; i++)
        acc[0] += a[i] * b[i];
    for (size_t w = 8; w >= 1; w /= 2)
        for (size_t k = 0; k < w; k++)
            acc[k] += acc[k + w];
    return acc[0];
}

/* p (TK) = exp(s - shift) for the first n columns allowed by the causal mask (key s0 + j <=
 * query t), 0 elsewhere */
static inline void probs(float *p, const float *s, float shift, size_t n, size_t s0, size_t t)
{
    for (size_t j = 0; j < TK; j++) {
        int keep = j < n && s0 + j <= t;
        float e = fg_fast_expf(s[j] - shift);
        p[j] = keep ? e : 0.0f;
    }
}

void TILED_NAME(forward)(float *out, float *lse, const float *qkv, size_t B, size_t T, size_t C,
                         size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, nqb = (T + TQ - 1) / TQ;
    float scale = 1.0f / sqrtf((float)HS);
    long n_tasks = (long)(B * NH * nqb);
#pragma omp parallel for schedule(dynamic, 1)               \
    num_threads(n_threads) if (n_threads > 1) default(none) \
        shared(out, lse, qkv, B, T, C, NH, HS, C3, nqb, scale, n_tasks)
    for (long task = 0; task < n_tasks; task++) {
        size_t qb = (size_t)task % nqb, bh = (size_t)task / nqb, b = bh / NH, h = bh % NH;
        size_t q0 = qb * TQ, nq = T - q0 < TQ ? T - q0 : TQ;
        float kt[FG_ATTENTION_TILED_MAX_HS * TK], acc[TQ * FG_ATTENTION_TILED_MAX_HS];
        float s[TK], p[TK], m[TQ], l[TQ];
        const float *qbase = qkv + b * T * C3 + h * HS;
        for (size_t i = 0; i < nq; i++) {
            m[i] = -INFINITY;
            l[i] = 0.0f;
            memset(acc + i * HS, 0, HS * sizeof(float));
        }
        for (size_t kb = 0; kb <= qb; kb++) {
            size_t k0 = kb * TK, nk = T - k0 < TK ? T - k0 : TK;
            load_transposed(kt, qbase + C, C3, k0, nk, HS);
            for (size_t i = 0; i < nq; i++) {
                size_t t = q0 + i;
                row_scores(s, qbase + t * C3, kt, HS, scale);
                float mx = m[i];
                for (size_t j = 0; j < nk && k0 + j <= t; j++)
                    mx = s[j] > mx ? s[j] : mx;
                probs(p, s, mx, nk, k0, t);
                float alpha = m[i] == -INFINITY ? 0.0f : fg_fast_expf(m[i] - mx);
                float sum = 0.0f;
                for (size_t j = 0; j < TK; j++)
                    sum += p[j];
                l[i] = l[i] * alpha + sum;
                m[i] = mx;
                float *a = acc + i * HS;
                if (alpha != 1.0f)
                    for (size_t d = 0; d < HS; d++)
                        a[d] *= alpha;
                for (size_t j = 0; j < nk && k0 + j <= t; j++)
                    axpy(a, p[j], qbase + 2 * C + (k0 + j) * C3, HS);
            }
        }
        for (size_t i = 0; i < nq; i++) {
            size_t t = q0 + i;
            float inv = 1.0f / l[i], *o = out + (b * T + t) * C + h * HS;
            for (size_t d = 0; d < HS; d++)
                o[d] = acc[i * HS + d] * inv;
            lse[(b * NH + h) * T + t] = m[i] + logf(l[i]);
        }
    }
}

void TILED_NAME(backward)(float *dqkv, float *scratch, const float *dout, const float *qkv,
                          const float *out, const float *lse, size_t B, size_t T, size_t C,
                          size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, nb = (T + TQ - 1) / TQ;
    float scale = 1.0f / sqrtf((float)HS);
    float *Dr = scratch; /* (B, NH, T): rowsum(dO * O) */
    long n_rows = (long)(B * NH * T), n_tasks = (long)(B * NH * nb);
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1) default(none) \
    shared(Dr, dout, out, B, T, C, NH, HS, n_rows)
    for (long r = 0; r < n_rows; r++) {
        size_t t = (size_t)r % T, bh = (size_t)r / T, b = bh / NH, h = bh % NH;
        size_t o = (b * T + t) * C + h * HS;
        Dr[r] = dot(dout + o, out + o, HS);
    }
    /* pass 1: dK and dV, one key block per task */
#pragma omp parallel for schedule(dynamic, 1)               \
    num_threads(n_threads) if (n_threads > 1) default(none) \
        shared(dqkv, dout, qkv, lse, Dr, B, T, C, NH, HS, C3, nb, scale, n_tasks)
    for (long task = 0; task < n_tasks; task++) {
        size_t kb = (size_t)task % nb, bh = (size_t)task / nb, b = bh / NH, h = bh % NH;
        size_t k0 = kb * TK, nk = T - k0 < TK ? T - k0 : TK;
        float kt[FG_ATTENTION_TILED_MAX_HS * TK], vt[FG_ATTENTION_TILED_MAX_HS * TK];
        float dk[TK * FG_ATTENTION_TILED_MAX_HS], dv[TK * FG_ATTENTION_TILED_MAX_HS];
        float s[TK], p[TK], dp[TK];
        const float *base = qkv + b * T * C3 + h * HS;
        const float *dyb = dout + b * T * C + h * HS;
        memset(dk, 0, nk * HS * sizeof(float));
        memset(dv, 0, nk * HS * sizeof(float));
        load_transposed(kt, base + C, C3, k0, nk, HS);
        load_transposed(vt, base + 2 * C, C3, k0, nk, HS);
        for (size_t t = k0; t < T; t++) { /* every query at or after the block's first key */
            const float *q = base + t * C3, *dy = dyb + t * C;
            size_t row = bh * T + t;
            row_scores(s, q, kt, HS, scale);
            probs(p, s, lse[row], nk, k0, t);
            row_scores(dp, dy, vt, HS, 1.0f);
            for (size_t j = 0; j < nk && k0 + j <= t; j++) {
                float ds = p[j] * (dp[j] - Dr[row]);
                axpy(dv + j * HS, p[j], dy, HS);
                axpy(dk + j * HS, ds, q, HS);
            }
        }
        for (size_t j = 0; j < nk; j++) {
            float *dkr = dqkv + (b * T + k0 + j) * C3 + C + h * HS;
            float *dvr = dqkv + (b * T + k0 + j) * C3 + 2 * C + h * HS;
            for (size_t d = 0; d < HS; d++) {
                dkr[d] = scale * dk[j * HS + d];
                dvr[d] = dv[j * HS + d];
            }
        }
    }
    /* pass 2: dQ, one query block per task */
#pragma omp parallel for schedule(dynamic, 1)               \
    num_threads(n_threads) if (n_threads > 1) default(none) \
        shared(dqkv, dout, qkv, lse, Dr, B, T, C, NH, HS, C3, nb, scale, n_tasks)
    for (long task = 0; task < n_tasks; task++) {
        size_t qb = (size_t)task % nb, bh = (size_t)task / nb, b = bh / NH, h = bh % NH;
        size_t q0 = qb * TQ, nq = T - q0 < TQ ? T - q0 : TQ;
        float kt[FG_ATTENTION_TILED_MAX_HS * TK], vt[FG_ATTENTION_TILED_MAX_HS * TK];
        float dq[TQ * FG_ATTENTION_TILED_MAX_HS], s[TK], p[TK], dp[TK];
        const float *base = qkv + b * T * C3 + h * HS;
        const float *dyb = dout + b * T * C + h * HS;
        memset(dq, 0, nq * HS * sizeof(float));
        for (size_t kb = 0; kb <= qb; kb++) {
            size_t k0 = kb * TK, nk = T - k0 < TK ? T - k0 : TK;
            load_transposed(kt, base + C, C3, k0, nk, HS);
            load_transposed(vt, base + 2 * C, C3, k0, nk, HS);
            for (size_t i = 0; i < nq; i++) {
                size_t t = q0 + i, row = bh * T + t;
                row_scores(s, base + t * C3, kt, HS, scale);
                probs(p, s, lse[row], nk, k0, t);
                row_scores(dp, dyb + t * C, vt, HS, 1.0f);
                for (size_t j = 0; j < nk && k0 + j <= t; j++)
                    axpy(dq + i * HS, p[j] * (dp[j] - Dr[row]), base + C + (k0 + j) * C3, HS);
            }
        }
        for (size_t i = 0; i < nq; i++) {
            float *dqr = dqkv + (b * T + q0 + i) * C3 + h * HS;
            for (size_t d = 0; d < HS; d++)
                dqr[d] = scale * dq[i * HS + d];
        }
    }
}
