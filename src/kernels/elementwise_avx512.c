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
#    include <immintrin.h>
#    include <math.h>

#    define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

/* exp(x) for x clamped to [-87.3, 88]: x = k ln2 + r, |r| <= ln2/2 (ln2 split in two so the
 * reduction is exact), e^r by its degree-6 Taylor polynomial (relative error about 2e-7), and
 * 2^k applied by vscalefps. */
static inline __m512 exp512(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

/* 1 / d for d >= 1: vrcp14ps (relative error < 2^-14) and one Newton step (about 2^-28). */
static inline __m512 recip512(__m512 d)
{
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(2.0f)));
}

static inline __mmask16 tail_mask(size_t remaining)
{
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1u);
}

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

#endif
