/* Causal attention with AVX-512 (this translation unit alone is compiled with -mavx512f
 * -mavx512bw -mavx512vl -mfma; the model picks it at run time from cpuid, see fg_cpu_isa).
 *
 * Work is split over (batch, head) units with OpenMP; each unit runs two register-blocked
 * micro-kernels that only visit the causal triangle:
 *   scores:  S[t][j] = alpha * sum_d A[t][d] Bt[d][j]   for j <= t  (4 rows x 32 columns)
 *   rowcomb: Y[r][:] = alpha * sum_j W(r, j) B[j][:]    over the band where W is nonzero
 * Backward reuses them, reading P and dS by columns where a transposed product is needed.
 * Operands are first copied into a contiguous per-unit block (K^T for scores; V, K, dY or Q for
 * rowcomb), which keeps the loads streaming. Nothing here calls BLAS, and no part of a T x T
 * product outside the causal triangle is computed.
 * Supports HS a multiple of 16 up to 128; fg_attention_avx512_supported() tells the caller.
 * Results differ from _ref only by summation order (FMA, blocked dot products); each unit is
 * computed by one thread in a fixed order, so the bits do not depend on the thread count. */
#include "frugal/kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>
#    include <math.h>
#    include <string.h>

#    include "kernels_int.h"
#    include "simd_avx512.h"

int fg_attention_avx512_supported(size_t C, size_t NH)
{
    size_t HS = NH ? C / NH : 0;
    return NH > 0 && C % NH == 0 && HS % 16 == 0 && HS >= 16 && HS <= 128;
}

size_t fg_attention_avx512_scratch_floats(size_t B, size_t T, size_t C)
{
    return B * C * ((T + 31) / 32 * 32);
}

/* S (ldS) rows [0, T): S[t][j] = alpha * A[t] . B[j] for j <= t; entries right of the
 * diagonal inside the last 32-column block may be written too (callers overwrite them).
 * A rows have stride lda and HS elements. Bp holds B^T packed in panels of 32 columns: panel p
 * is (HS, 32) contiguous, zero-padded past T (see pack_panels), so the inner loop streams
 * 128 contiguous bytes per step. Blocks are a fixed 8 rows x 32 columns: 16 accumulators in
 * registers (enough independent FMAs to hide their latency) against 2 loads and 8 broadcasts
 * per step. Rows past T in the last block repeat row t0 and are not stored. */
#    define SR 8 /* rows per block of scores */

static void scores(float *S, size_t ldS, const float *A, size_t lda, const float *Bp, size_t T,
                   size_t HS, float alpha)
{
    __m512 va = _mm512_set1_ps(alpha);
    for (size_t t0 = 0; t0 < T; t0 += SR) {
        size_t nr = T - t0 < SR ? T - t0 : SR;
        size_t jend = t0 + nr; /* columns [0, jend) are needed by some row of the block */
        const float *a[SR];
        for (size_t r = 0; r < SR; r++)
            a[r] = A + (t0 + (r < nr ? r : 0)) * lda;
        for (size_t j0 = 0; j0 < jend; j0 += 32) {
            __mmask16 m0 = tail_mask(jend - j0);
            __mmask16 m1 = jend > j0 + 16 ? tail_mask(jend - j0 - 16) : 0;
            __m512 c[SR][2];
            for (size_t r = 0; r < SR; r++)
                c[r][0] = c[r][1] = _mm512_setzero_ps();
            const float *brow = Bp + (j0 / 32) * HS * 32;
            for (size_t d = 0; d < HS; d++, brow += 32) {
                __m512 b0 = _mm512_loadu_ps(brow);
                __m512 b1 = _mm512_loadu_ps(brow + 16);
                for (size_t r = 0; r < SR; r++) {
                    __m512 x = _mm512_set1_ps(a[r][d]);
                    c[r][0] = _mm512_fmadd_ps(x, b0, c[r][0]);
                    c[r][1] = _mm512_fmadd_ps(x, b1, c[r][1]);
                }
            }
            for (size_t r = 0; r < nr; r++) {
                float *srow = S + (t0 + r) * ldS + j0;
                _mm512_mask_storeu_ps(srow, m0, _mm512_mul_ps(c[r][0], va));
                _mm512_mask_storeu_ps(srow + 16, m1, _mm512_mul_ps(c[r][1], va));
            }
        }
    }
}

/* R output rows of rowcomb with NV vectors each (R and NV are compile-time constants after
 * inlining, so the R x NV accumulators live in registers). The weight of output row i and
 * input row j is P[(r0 + i) * prow + j * pcol]: prow = T, pcol = 1 reads rows of P; prow = 1,
 * pcol = T reads its columns (P^T) without transposing. Rows past nr repeat row r0 and are not
 * stored. */
static inline __attribute__((always_inline)) void
comb_block(float *Y, size_t ldy, const float *P, size_t prow, size_t pcol, size_t r0, size_t nr,
           size_t lo, size_t hi, const float *B, size_t ldb, const size_t R, const size_t NV,
           __m512 va)
{
    __m512 acc[6][8];
    const float *pr[6];
    for (size_t i = 0; i < R; i++) {
        pr[i] = P + (r0 + (i < nr ? i : 0)) * prow;
        for (size_t k = 0; k < NV; k++)
            acc[i][k] = _mm512_setzero_ps();
    }
    for (size_t j = lo; j < hi; j++) {
        const float *brow = B + j * ldb;
        __m512 b[8];
        for (size_t k = 0; k < NV; k++)
            b[k] = _mm512_loadu_ps(brow + 16 * k);
        for (size_t i = 0; i < R; i++) {
            __m512 x = _mm512_set1_ps(pr[i][j * pcol]);
            for (size_t k = 0; k < NV; k++)
                acc[i][k] = _mm512_fmadd_ps(x, b[k], acc[i][k]);
        }
    }
    for (size_t i = 0; i < R; i++)
        if (i < nr)
            for (size_t k = 0; k < NV; k++)
                _mm512_storeu_ps(Y + (r0 + i) * ldy + 16 * k, _mm512_mul_ps(acc[i][k], va));
}

/* Y[r][0..HS) (row stride ldy) = alpha * sum_{j in band(r)} W(r, j) B[j][0..HS) for r in
 * [0, T), with W(r, j) = P[r * prow + j * pcol] (see comb_block) and B rows with stride ldb.
 * lower != 0: band(r) = [0, r]; else band(r) = [r, T). W must be zero outside the band (it may
 * be read there). */
static void rowcomb(float *Y, size_t ldy, const float *P, size_t prow, size_t pcol, size_t T,
                    const float *B, size_t ldb, size_t HS, int lower, float alpha)
{
    __m512 va = _mm512_set1_ps(alpha);
    size_t NV = HS / 16, R = NV <= 2 ? 4 : NV <= 4 ? 6 : 2;
    for (size_t r0 = 0; r0 < T; r0 += R) {
        size_t nr = T - r0 < R ? T - r0 : R;
        size_t lo = lower ? 0 : r0, hi = lower ? r0 + nr : T;
        switch (NV) {
        case 1:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 4, 1, va);
            break;
        case 2:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 4, 2, va);
            break;
        case 3:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 6, 3, va);
            break;
        case 4:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 6, 4, va);
            break;
        case 5:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 2, 5, va);
            break;
        case 6:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 2, 6, va);
            break;
        case 7:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 2, 7, va);
            break;
        default:
            comb_block(Y, ldy, P, prow, pcol, r0, nr, lo, hi, B, ldb, 2, 8, va);
            break;
        }
    }
}

/* Pack the transpose of src rows [0, T) x [0, HS) (row stride lds) into panels of 32
 * columns: panel p = dst + p * HS * 32 holds columns [32p, 32p + 32) as (HS, 32), zero past
 * T. Tiles of 16 x 16 go through a stack tile and gathers. dst holds HS * round_up(T, 32). */
static void pack_panels(float *dst, const float *src, size_t lds, size_t T, size_t HS)
{
    float tile[16][16];
    __m512i idx =
        _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                           _mm512_set1_epi32(16));
    size_t Tp = (T + 31) / 32 * 32;
    for (size_t j0 = 0; j0 < Tp; j0 += 16) {
        size_t nj = j0 >= T ? 0 : (T - j0 < 16 ? T - j0 : 16);
        float *panel = dst + (j0 / 32) * HS * 32 + (j0 % 32);
        __mmask16 m = tail_mask(nj);
        for (size_t d0 = 0; d0 < HS; d0 += 16) {
            for (size_t j = 0; j < nj; j++)
                _mm512_storeu_ps(tile[j], _mm512_loadu_ps(src + (j0 + j) * lds + d0));
            for (size_t d = 0; d < 16; d++) {
                __m512 col =
                    nj ? _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, &tile[0][d], 4)
                       : _mm512_setzero_ps();
                _mm512_storeu_ps(panel + (d0 + d) * 32, col);
            }
        }
    }
}

/* dst (T, HS) contiguous = rows of src with stride lds: streams well in rowcomb */
/* HS is a multiple of 16 */
static void copy_rows(float *dst, const float *src, size_t lds, size_t T, size_t HS)
{
    for (size_t j = 0; j < T; j++)
        for (size_t d = 0; d < HS; d += 16)
            _mm512_storeu_ps(dst + j * HS + d, _mm512_loadu_ps(src + j * lds + d));
}

/* Row t of P: softmax over [0, t], zeros over (t, T). */
static void softmax_rows(float *P, size_t T)
{
    for (size_t t = 0; t < T; t++) {
        float *p = P + t * T;
        __m512 inv = _mm512_set1_ps(1.0f / softmax_inplace512(p, t + 1));
        for (size_t s = 0; s < T; s += 16) {
            __mmask16 k = tail_mask(T - s);
            __m512 v = _mm512_maskz_loadu_ps(k, p + s);
            /* lanes at or left of t are scaled, the rest (and stale data there) become 0 */
            __mmask16 keep = s > t ? 0 : tail_mask(t + 1 - s);
            _mm512_mask_storeu_ps(p + s, k, _mm512_maskz_mul_ps(keep, v, inv));
        }
    }
}

void fg_attention_forward_avx512(float *out, float *att, float *scratch, const float *qkv, size_t B,
                                 size_t T, size_t C, size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, Tp = (T + 31) / 32 * 32;
    float scale = 1.0f / sqrtf((float)HS);
    long n_units = (long)(B * NH);
#    pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
        shared(out, att, scratch, qkv, n_units, T, Tp, C, NH, HS, C3, scale)
    for (long u = 0; u < n_units; u++) {
        size_t b = (size_t)u / NH, h = (size_t)u % NH;
        const float *Q = qkv + b * T * C3 + h * HS, *K = Q + C, *V = Q + 2 * C;
        float *W = scratch + (size_t)u * HS * Tp, *P = att + (size_t)u * T * T;
        pack_panels(W, K, C3, T, HS); /* K^T in panels */
        scores(P, T, Q, C3, W, T, HS, scale);
        softmax_rows(P, T);
        copy_rows(W, V, C3, T, HS); /* V, contiguous */
        rowcomb(out + b * T * C + h * HS, C, P, T, 1, T, W, HS, HS, 1, 1.0f);
    }
}

void fg_attention_backward_avx512(float *dqkv, float *scratch, float *scratch2, const float *dout,
                                  const float *qkv, const float *att, size_t B, size_t T, size_t C,
                                  size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, Tp = (T + 31) / 32 * 32;
    float scale = 1.0f / sqrtf((float)HS);
    long n_units = (long)(B * NH);
#    pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
        shared(dqkv, scratch, scratch2, dout, qkv, att, n_units, T, Tp, C, NH, HS, C3, scale)
    for (long u = 0; u < n_units; u++) {
        size_t b = (size_t)u / NH, h = (size_t)u % NH;
        const float *Q = qkv + b * T * C3 + h * HS, *K = Q + C, *V = Q + 2 * C;
        const float *dY = dout + b * T * C + h * HS;
        float *dQ = dqkv + b * T * C3 + h * HS, *dK = dQ + C, *dV = dQ + 2 * C;
        const float *P = att + (size_t)u * T * T;
        float *dS = scratch + (size_t)u * T * T, *W = scratch2 + (size_t)u * HS * Tp;
        /* dP = dY V^T on the lower triangle, then dS = P * (dP - rowsum(dP * P)) */
        pack_panels(W, V, C3, T, HS);
        scores(dS, T, dY, C, W, T, HS, 1.0f);
        for (size_t t = 0; t < T; t++)
            fg_softmax_causal_row_backward(dS + t * T, P + t * T, t, T);
        copy_rows(W, K, C3, T, HS);
        rowcomb(dQ, C3, dS, T, 1, T, W, HS, HS, 1, scale); /* dQ = scale dS K */
        copy_rows(W, dY, C, T, HS);
        rowcomb(dV, C3, P, 1, T, T, W, HS, HS, 0, 1.0f); /* dV = P^T dY (columns of P) */
        copy_rows(W, Q, C3, T, HS);
        rowcomb(dK, C3, dS, 1, T, T, W, HS, HS, 0, scale); /* dK = scale dS^T Q */
    }
}

#else /* not built for AVX-512 (another architecture): never selected */

int fg_attention_avx512_supported(size_t C, size_t NH)
{
    (void)C;
    (void)NH;
    return 0;
}

size_t fg_attention_avx512_scratch_floats(size_t B, size_t T, size_t C)
{
    return B * C * ((T + 31) / 32 * 32);
}

void fg_attention_forward_avx512(float *out, float *att, float *scratch, const float *qkv, size_t B,
                                 size_t T, size_t C, size_t NH, int n_threads)
{
    fg_attention_forward(out, att, qkv, B, T, C, NH, n_threads);
    (void)scratch;
}

void fg_attention_backward_avx512(float *dqkv, float *scratch, float *scratch2, const float *dout,
                                  const float *qkv, const float *att, size_t B, size_t T, size_t C,
                                  size_t NH, int n_threads)
{
    fg_attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH, n_threads);
    (void)scratch2;
}
#endif
