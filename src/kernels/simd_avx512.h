/* AVX-512 helpers shared by the *_avx512.c translation units (the only ones compiled with
 * AVX-512 code generation). Include this header from nowhere else. */
#ifndef FRUGAL_SIMD_AVX512_H
#define FRUGAL_SIMD_AVX512_H

#include <immintrin.h>
#include <math.h>
#include <stddef.h>

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

/* max and sum of exp(x - max) over p[0..n): the softmax numerators are written back in place */
static inline float softmax_inplace512(float *p, size_t n)
{
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, p + i));
    }
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx));
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 e0 = exp512(_mm512_sub_ps(_mm512_loadu_ps(p + i), m));
        __m512 e1 = exp512(_mm512_sub_ps(_mm512_loadu_ps(p + i + 16), m));
        _mm512_storeu_ps(p + i, e0);
        _mm512_storeu_ps(p + i + 16, e1);
        acc0 = _mm512_add_ps(acc0, e0);
        acc1 = _mm512_add_ps(acc1, e1);
    }
    for (; i < n; i += 16) {
        __mmask16 k = tail_mask(n - i);
        __m512 e =
            _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, p + i), m)));
        _mm512_mask_storeu_ps(p + i, k, e);
        acc0 = _mm512_add_ps(acc0, e);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

#endif
