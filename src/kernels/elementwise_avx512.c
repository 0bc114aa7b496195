/* Elementwise and row kernels with AVX-512 (this translation unit is compiled with -mavx512f
 * -mavx512bw -mavx512vl -mfma): GELU forward and backward, and the cross-entropy rows.
 *
 * These loops are bound by arithmetic, not memory: the portable versions (FG_CLONES, no FMA
 * contraction so that every clone gives the same bits) spend most of their time in exp and a
 * division. Here exp uses FMA and vscalefps, and GELU is computed through the logistic
 * function, 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), with one reciprocal (vrcp14ps and a
 * Newton step) instead of a division. Results differ from the portable path by rounding only
 * and are checked against the _ref kernels with the same tolerances. Each element or row is
 * computed by one thread, so the bits do not depend on the thread count. */
#include <pthread.h>

#include "frugal/core.h"
#include "kernels_int.h"

static int have_avx512;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;

static void avx512_detect(void)
{
#if defined(__x86_64__) && defined(__AVX512F__)
    have_avx512 = fg_cpu_isa() >= FG_ISA_AVX512;
#endif
}

int fg_kernels_avx512(void)
{
    pthread_once(&avx512_once, avx512_detect);
    return have_avx512;
}

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <math.h>

#    include "simd_avx512.h"

#    define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* s = 1 / (1 + exp(-2u)) with u = K (x + 0.044715 x^3), i.e. (1 + tanh(u)) / 2 */
static inline __m512 gelu_sigmoid(__m512 x)
{
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 m2u = _mm512_mul_ps(x, _mm512_fmadd_ps(x2, _mm512_set1_ps(-2.0f * GELU_K * 0.044715f),
                                                  _mm512_set1_ps(-2.0f * GELU_K)));
    return recip512(_mm512_add_ps(_mm512_set1_ps(1.0f), exp512(m2u)));
}

void fg_gelu_forward_avx512(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(k, inp + i);
        _mm512_mask_storeu_ps(out + i, k, _mm512_mul_ps(x, gelu_sigmoid(x)));
    }
}

/* d/dx [x s] = s + x s (1 - s) 2 K (1 + 3 * 0.044715 x^2) */
void fg_gelu_backward_avx512(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 x = _mm512_maskz_loadu_ps(k, inp + i);
        __m512 g = _mm512_maskz_loadu_ps(k, dout + i);
        __m512 s = gelu_sigmoid(x);
        __m512 s1 = _mm512_fnmadd_ps(s, s, s); /* s (1 - s) */
        __m512 du =
            _mm512_fmadd_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(2.0f * GELU_K * 3.0f * 0.044715f),
                            _mm512_set1_ps(2.0f * GELU_K));
        __m512 local = _mm512_fmadd_ps(_mm512_mul_ps(x, du), s1, s);
        _mm512_mask_storeu_ps(dinp + i, k, _mm512_mul_ps(local, g));
    }
}

/* log(sum_i exp(z_i)) over z[0..V), V >= 1: a max pass, then a sum of exp(z - max) in four
 * independent accumulators (combined in a fixed order). */
float fg_lse_row_avx512(const float *z, size_t V)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < V; i += 16) {
        __mmask16 k = tail_mask(V - i);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, z + i));
    }
    float maxv = _mm512_reduce_max_ps(mx);
    __m512 m = _mm512_set1_ps(maxv);
    __m512 acc[4] = { _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                      _mm512_setzero_ps() };
    size_t i = 0;
    for (; i + 64 <= V; i += 64)
        for (int a = 0; a < 4; a++)
            acc[a] = _mm512_add_ps(
                acc[a], exp512(_mm512_sub_ps(_mm512_loadu_ps(z + i + 16 * (size_t)a), m)));
    for (int a = 0; i < V; i += 16, a++) {
        __mmask16 k = tail_mask(V - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, z + i), m));
        acc[a] = _mm512_add_ps(acc[a], _mm512_maskz_mov_ps(k, e));
    }
    __m512 sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    return logf(_mm512_reduce_add_ps(sum)) + maxv;
}

/* z <- dscale * (exp(z - lse) - onehot(tgt)) over [0, V), zeros over [V, Vp) */
void fg_ce_row_backward_avx512(float *z, float lse, int32_t tgt, size_t V, size_t Vp, float dscale)
{
    __m512 l = _mm512_set1_ps(lse), d = _mm512_set1_ps(dscale);
    for (size_t i = 0; i < V; i += 16) {
        __mmask16 k = tail_mask(V - i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, z + i), l));
        _mm512_mask_storeu_ps(z + i, k, _mm512_mul_ps(d, e));
    }
    z[tgt] -= dscale;
    for (size_t i = V; i < Vp; i++)
        z[i] = 0.0f;
}

/* LayerNorm backward of one row: dx += (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) s,
 * dxhat = dy w, xhat = (x - m) s. */
void fg_ln_row_backward_avx512(float *dx, const float *dy, const float *x, const float *w, float m,
                               float s, size_t C)
{
    __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
    __m512 a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps();
    for (size_t i = 0; i < C; i += 16) {
        __mmask16 k = tail_mask(C - i);
        __m512 dxhat =
            _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + i), _mm512_maskz_loadu_ps(k, w + i));
        __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), sv);
        a1 = _mm512_add_ps(a1, dxhat);
        a2 = _mm512_fmadd_ps(dxhat, xhat, a2);
    }
    __m512 dnm = _mm512_set1_ps(_mm512_reduce_add_ps(a1) / (float)C);
    __m512 dnnm = _mm512_set1_ps(_mm512_reduce_add_ps(a2) / (float)C);
    for (size_t i = 0; i < C; i += 16) {
        __mmask16 k = tail_mask(C - i);
        __m512 dxhat =
            _mm512_mul_ps(_mm512_maskz_loadu_ps(k, dy + i), _mm512_maskz_loadu_ps(k, w + i));
        __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv), sv);
        __m512 g = _mm512_fnmadd_ps(xhat, dnnm, _mm512_sub_ps(dxhat, dnm));
        _mm512_mask_storeu_ps(dx + i, k, _mm512_fmadd_ps(g, sv, _mm512_maskz_loadu_ps(k, dx + i)));
    }
}

/* LayerNorm dw, db over columns [c0, c1), c1 - c0 <= 64: sums over all N rows in registers. */
void fg_ln_cols_backward_avx512(float *dw, float *db, const float *dout, const float *inp,
                                const float *mean, const float *rstd, size_t N, size_t C, size_t c0,
                                size_t c1)
{
    __m512 aw[4], ab[4];
    __mmask16 k[4];
    for (int j = 0; j < 4; j++) {
        size_t lo = c0 + 16 * (size_t)j;
        k[j] = lo < c1 ? tail_mask(c1 - lo) : 0;
        aw[j] = _mm512_setzero_ps();
        ab[j] = _mm512_setzero_ps();
    }
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C + c0, *dy = dout + n * C + c0;
        __m512 mv = _mm512_set1_ps(mean[n]), sv = _mm512_set1_ps(rstd[n]);
        for (int j = 0; j < 4; j++) {
            __m512 g = _mm512_maskz_loadu_ps(k[j], dy + 16 * j);
            __m512 xhat =
                _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k[j], x + 16 * j), mv), sv);
            ab[j] = _mm512_add_ps(ab[j], g);
            aw[j] = _mm512_fmadd_ps(xhat, g, aw[j]);
        }
    }
    for (int j = 0; j < 4; j++) {
        float *pw = dw + c0 + 16 * j, *pb = db + c0 + 16 * j;
        _mm512_mask_storeu_ps(pw, k[j], _mm512_add_ps(_mm512_maskz_loadu_ps(k[j], pw), aw[j]));
        _mm512_mask_storeu_ps(pb, k[j], _mm512_add_ps(_mm512_maskz_loadu_ps(k[j], pb), ab[j]));
    }
}

#else /* no AVX-512 code generation: never called (fg_kernels_avx512() is 0) */

void fg_gelu_forward_avx512(float *out, const float *inp, size_t n)
{
    (void)out, (void)inp, (void)n;
}

void fg_gelu_backward_avx512(float *dinp, const float *inp, const float *dout, size_t n)
{
    (void)dinp, (void)inp, (void)dout, (void)n;
}

float fg_lse_row_avx512(const float *z, size_t V)
{
    (void)z, (void)V;
    return 0.0f;
}

void fg_ce_row_backward_avx512(float *z, float lse, int32_t tgt, size_t V, size_t Vp, float dscale)
{
    (void)z, (void)lse, (void)tgt, (void)V, (void)Vp, (void)dscale;
}

void fg_ln_row_backward_avx512(float *dx, const float *dy, const float *x, const float *w, float m,
                               float s, size_t C)
{
    (void)dx, (void)dy, (void)x, (void)w, (void)m, (void)s, (void)C;
}

void fg_ln_cols_backward_avx512(float *dw, float *db, const float *dout, const float *inp,
                                const float *mean, const float *rstd, size_t N, size_t C, size_t c0,
                                size_t c1)
{
    (void)dw, (void)db, (void)dout, (void)inp, (void)mean, (void)rstd, (void)N, (void)C, (void)c0,
        (void)c1;
}

#endif
