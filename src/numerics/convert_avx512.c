/* bf16 and fp16 array conversions with AVX-512 (this translation unit is compiled with
 * -mavx512f -mavx512bw -mavx512vl; the BF16 instructions are enabled per function).
 *
 * fp32 -> bf16 without AVX512_BF16: the integer rounding of convert.c on 16 lanes. With it:
 * vcvtne2ps2bf16 rounds to nearest even and quiets NaNs exactly like the scalar rule, but it
 * treats subnormal inputs as zero (it ignores MXCSR.DAZ), so vectors that hold an fp32
 * subnormal are redone with the integer rule in those lanes. fp16: vcvtps2ph with
 * round-to-nearest-even and vcvtph2ps, whose NaN handling (quiet, payload kept) is the one
 * specified in numerics.h. Each function equals its _ref bit for bit on every input. */
#include "numerics_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>

static inline __mmask16 tail16(size_t rem)
{
    return rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
}

static inline __mmask32 tail32(size_t rem)
{
    return rem >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << rem) - 1u);
}

/* The scalar rule on 16 lanes: (u + 0x7FFF + lsb) >> 16, NaN -> (u >> 16) | 0x40. */
static inline __m256i bf16_round16(__m512i u)
{
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                            _mm512_set1_epi32(0x7F800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_mov_epi32(r, nan, q));
}

void fg_fp32_to_bf16_avx512(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail16(n - i);
        __m512i u = _mm512_maskz_loadu_epi32(k, in + i);
        _mm256_mask_storeu_epi16(out + i, k, bf16_round16(u));
    }
}

/* lanes holding an fp32 subnormal (exponent 0, mantissa not 0) */
static inline __mmask16 subnormal16(__m512i u)
{
    __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
    return _mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, _mm512_set1_epi32(1)),
                                   _mm512_set1_epi32(0x007FFFFF));
}

__attribute__((target("avx512bf16"))) void fg_fp32_to_bf16_avx512bf16(uint16_t *out,
                                                                      const float *in, size_t n)
{
    for (size_t i = 0; i < n; i += 32) {
        __mmask32 k = tail32(n - i);
        __m512i u0 = _mm512_maskz_loadu_epi32((__mmask16)k, in + i);
        __m512i u1 = _mm512_maskz_loadu_epi32((__mmask16)(k >> 16), in + i + 16);
        __m512bh h = _mm512_cvtne2ps_pbh(_mm512_castsi512_ps(u1), _mm512_castsi512_ps(u0));
        __m512i r = (__m512i)h;
        __mmask32 sub = (__mmask32)subnormal16(u0) | (__mmask32)subnormal16(u1) << 16;
        if (sub) { /* rare: vcvtne2ps2bf16 flushed these lanes to zero */
            __m512i fix =
                _mm512_inserti64x4(_mm512_castsi256_si512(bf16_round16(u0)), bf16_round16(u1), 1);
            r = _mm512_mask_mov_epi16(r, sub, fix);
        }
        _mm512_mask_storeu_epi16(out + i, k, r);
    }
}

void fg_bf16_to_fp32_avx512(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail16(n - i);
        __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(k, in + i));
        _mm512_mask_storeu_epi32(out + i, k, _mm512_slli_epi32(h, 16));
    }
}

void fg_fp32_to_fp16_avx512(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail16(n - i);
        __m512 x = _mm512_maskz_loadu_ps(k, in + i);
        __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_mask_storeu_epi16(out + i, k, h);
    }
}

void fg_fp16_to_fp32_avx512(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 k = tail16(n - i);
        __m512 x = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(k, in + i));
        _mm512_mask_storeu_ps(out + i, k, x);
    }
}

#else /* built without AVX-512: never selected (fg_num_avx512_built() == 0); fall back */

void fg_fp32_to_bf16_avx512(uint16_t *out, const float *in, size_t n)
{
    fg_fp32_to_bf16_ref(out, in, n);
}

void fg_fp32_to_bf16_avx512bf16(uint16_t *out, const float *in, size_t n)
{
    fg_fp32_to_bf16_ref(out, in, n);
}

void fg_bf16_to_fp32_avx512(float *out, const uint16_t *in, size_t n)
{
    fg_bf16_to_fp32_ref(out, in, n);
}

void fg_fp32_to_fp16_avx512(uint16_t *out, const float *in, size_t n)
{
    fg_fp32_to_fp16_ref(out, in, n);
}

void fg_fp16_to_fp32_avx512(float *out, const uint16_t *in, size_t n)
{
    fg_fp16_to_fp32_ref(out, in, n);
}

#endif
