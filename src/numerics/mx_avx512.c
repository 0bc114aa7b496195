/* MX quantize, dequantize and the MXINT8 matrix product with AVX-512 (this translation unit is
 * compiled with -mavx512f -mavx512bw -mavx512vl; the VNNI instructions are enabled per function).
 *
 * Quantize: a block is two registers. The largest magnitude is an unsigned integer maximum of
 * the sign-cleared bits (it also flags NaN and Inf: bits >= 0x7F800000); the shared exponent
 * comes from the rule of numerics_int.h, 16 blocks at a time; elements are scaled by an exact
 * multiplication and encoded lane by lane with integer arithmetic equivalent to the formula of
 * mx.c (encode_fp16x). Dequantize builds the 8-bit
 * formats' values from their bits (no fp32 subnormal is formed: it would
 * cost a microcode assist per instruction) and looks the FP6/FP4 values up in a 32-entry table
 * (vpermt2ps), then applies the scale with vscalefps, which rounds exactly like ldexpf. Both
 * equal the _ref code bit for bit.
 *
 * MXINT8 product: per block of 32, the exact int32 sum of code products, by vpdpbusd (VNNI: u8 x
 * s8 in 4-byte groups; the B codes are stored +128 as u8 and the excess 128 sum(a) is
 * subtracted by starting the accumulator at -128 sum(a)) or by vpmaddwd on int16 codes
 * otherwise; then cvtdq2ps (exact, |sum| <= 2^19), vscalefps by s_a + s_b - 266 and an fp32
 * add, block after block: the order and roundings of the _ref definition. Register tile: 6
 * rows of A x 32 columns of B (12 int32 and 12 fp32 accumulators; 4 rows without VNNI). */
#include <math.h>
#include <string.h>

#include "numerics_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>

int fg_num_avx512_built(void)
{
    return 1;
}

/* ---- quantize ---------------------------------------------------------------------------- */

/* 16 FP elements (already divided by X) -> codes, equal to encode_elem of mx.c: for
 * |y| >= 2^emin the fp32 bits minus the bias difference, shifted right by 23 - M with round to
 * nearest even (the carry into the exponent is the carry into the next binade); below 2^emin
 * the fixed quantum 2^(emin - M): adding C = 2^(emin - M + 23) rounds |y| to a multiple of it
 * (RNE, in [C, 2C) the spacing is exactly that quantum) and the low bits of the sum are the
 * code. Then saturation and the sign. Integer operations only, apart from one addition. */
static inline __m512i encode_fp16x(__m512 y, int bits, int M, int bias, int max_code)
{
    const int emin = 1 - bias, sh = 23 - M;
    __m512i u = _mm512_castps_si512(y);
    __m512i sign =
        _mm512_srli_epi32(_mm512_and_si512(u, _mm512_set1_epi32((int)0x80000000u)), 32 - bits);
    __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
    __m512i t = _mm512_sub_epi32(a, _mm512_set1_epi32((127 - bias) << 23));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(t, (unsigned)sh), _mm512_set1_epi32(1));
    __m512i norm = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(t, _mm512_set1_epi32((1 << (sh - 1)) - 1)), lsb),
        (unsigned)sh);
    __m512 c = _mm512_set1_ps(fg_pow2f(emin - M + 23));
    __m512i subn = _mm512_sub_epi32(_mm512_castps_si512(_mm512_add_ps(_mm512_castsi512_ps(a), c)),
                                    _mm512_castps_si512(c));
    __mmask16 is_sub = _mm512_cmplt_epi32_mask(a, _mm512_set1_epi32((emin + 127) << 23));
    __m512i code = _mm512_mask_mov_epi32(norm, is_sub, subn);
    code = _mm512_min_epi32(code, _mm512_set1_epi32(max_code));
    return _mm512_or_si512(code, sign);
}

static inline __m512i encode_int8x(__m512 y)
{
    __m512i u = _mm512_castps_si512(y);
    __mmask16 neg = _mm512_test_epi32_mask(u, _mm512_set1_epi32((int)0x80000000u));
    __m512 a = _mm512_castsi512_ps(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)));
    __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(a, _mm512_set1_ps(64.0f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512i c = _mm512_cvtps_epi32(_mm512_min_ps(r, _mm512_set1_ps(127.0f)));
    return _mm512_mask_sub_epi32(c, neg, _mm512_setzero_si512(), c);
}

/* 32 codes (two registers of dwords) -> the packed bytes of one block */
static inline void store_codes(int bits, __m512i c0, __m512i c1, uint8_t *dst)
{
    if (bits == 8) {
        _mm_storeu_si128((__m128i *)(void *)dst, _mm512_cvtepi32_epi8(c0));
        _mm_storeu_si128((__m128i *)(void *)(dst + 16), _mm512_cvtepi32_epi8(c1));
    } else if (bits == 4) {
        /* qword lanes hold (c_2j, c_2j+1): low nibble c_2j, high nibble c_2j+1 */
        __m512i lo = _mm512_set1_epi64(0xF);
        __m512i p0 = _mm512_or_si512(_mm512_and_si512(c0, lo),
                                     _mm512_slli_epi64(_mm512_srli_epi64(c0, 32), 4));
        __m512i p1 = _mm512_or_si512(_mm512_and_si512(c1, lo),
                                     _mm512_slli_epi64(_mm512_srli_epi64(c1, 32), 4));
        _mm_storel_epi64((__m128i *)(void *)dst, _mm512_cvtepi64_epi8(p0));
        _mm_storel_epi64((__m128i *)(void *)(dst + 8), _mm512_cvtepi64_epi8(p1));
    } else {
        /* 32 codes as bytes; each qword's 8 six-bit codes are squeezed into its low 48 bits
         * (pairs into 12 bits, then 24, then 48), then the 6-byte groups are made contiguous */
        __m256i t = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm512_cvtepi32_epi8(c0)),
                                            _mm512_cvtepi32_epi8(c1), 1);
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x003F003F003F003FLL)),
            _mm256_and_si256(_mm256_srli_epi64(t, 2), _mm256_set1_epi64x(0x0FC00FC00FC00FC0LL)));
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x00000FFF00000FFFLL)),
            _mm256_and_si256(_mm256_srli_epi64(t, 4), _mm256_set1_epi64x(0x00FFF00000FFF000LL)));
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x0000000000FFFFFFLL)),
            _mm256_and_si256(_mm256_srli_epi64(t, 8), _mm256_set1_epi64x(0x0000FFFFFF000000LL)));
        const __m256i shuf =
            _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, -1, -1, -1, -1, 0, 1, 2, 3, 4,
                             5, 8, 9, 10, 11, 12, 13, -1, -1, -1, -1);
        t = _mm256_shuffle_epi8(t, shuf);
        t = _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7));
        _mm256_mask_storeu_epi8(dst, (__mmask32)0x00FFFFFFu, t);
    }
}

static inline __m512i load_flushed(const float *x, int flush)
{
    __m512i u = _mm512_loadu_si512(x);
    if (flush) /* exponent field 0: keep only the sign */
        u = _mm512_mask_and_epi32(u, _mm512_testn_epi32_mask(u, _mm512_set1_epi32(0x7F800000)), u,
                                  _mm512_set1_epi32((int)0x80000000u));
    return u;
}

/* floor(log2 a) of 16 positive finite fp32 bit patterns (subnormals included: their integer
 * value, below 2^23, converts to fp32 exactly, and its exponent is the top bit's position). */
static inline __m512i floor_log2_16(__m512i a)
{
    __m512i e = _mm512_srli_epi32(a, 23);
    __mmask16 sub = _mm512_cmpeq_epi32_mask(e, _mm512_setzero_si512());
    __m512i es = _mm512_srli_epi32(_mm512_castps_si512(_mm512_cvtepi32_ps(a)), 23);
    e = _mm512_mask_sub_epi32(e, sub, es, _mm512_set1_epi32(149));
    return _mm512_sub_epi32(e, _mm512_set1_epi32(127));
}

/* ceil(log2 a): plus one unless a is a power of two */
static inline __m512i ceil_log2_16(__m512i a)
{
    __mmask16 sub = _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32(0x00800000));
    __mmask16 up = _mm512_mask_test_epi32_mask((__mmask16)~sub, a, _mm512_set1_epi32(0x7FFFFF)) |
                   _mm512_mask_test_epi32_mask(sub, a, _mm512_sub_epi32(a, _mm512_set1_epi32(1)));
    __m512i fl = floor_log2_16(a);
    return _mm512_mask_add_epi32(fl, up, fl, _mm512_set1_epi32(1));
}

/* fg_mx_shared_exp on 16 blocks at once (lanes of NaN/Inf blocks are don't-care) */
static inline __m512i shared_exp16(__m512i amax, enum fg_mx_scale_rule rule,
                                   const struct fg_mx_format_info *fi)
{
    __m512i se;
    if (rule == FG_MX_SCALE_RULE_CEIL) {
        se = _mm512_sub_epi32(ceil_log2_16(amax), _mm512_set1_epi32(fi->emax));
    } else if (rule == FG_MX_SCALE_RULE_RCEIL) {
        __m512i q = _mm512_castps_si512(
            _mm512_div_ps(_mm512_castsi512_ps(amax), _mm512_set1_ps(fi->max_normal)));
        se = _mm512_mask_mov_epi32(ceil_log2_16(q),
                                   _mm512_cmpeq_epi32_mask(q, _mm512_setzero_si512()),
                                   _mm512_set1_epi32(-127));
    } else {
        se = _mm512_sub_epi32(floor_log2_16(amax), _mm512_set1_epi32(fi->emax));
    }
    se = _mm512_mask_mov_epi32(se, _mm512_cmpeq_epi32_mask(amax, _mm512_setzero_si512()),
                               _mm512_set1_epi32(-127));
    se = _mm512_max_epi32(se, _mm512_set1_epi32(-127));
    return _mm512_min_epi32(se, _mm512_set1_epi32(127 - fi->emax));
}

/* Largest of the 16 lanes of each of 16 registers m[g] -> lane g: a transposing reduction
 * (halves, quarters, pairs, lanes), then one permutation puts block g in lane g. */
static inline __m512i pair_max(__m512i a, __m512i b)
{
    return _mm512_max_epu32(_mm512_shuffle_i32x4(a, b, 0x44), _mm512_shuffle_i32x4(a, b, 0xEE));
}

static inline __m512i reduce_max16(const __m512i r[8])
{
    __m512i s[4], t[2];
    for (int k = 0; k < 4; k++)
        s[k] = _mm512_max_epu32(_mm512_shuffle_i32x4(r[2 * k], r[2 * k + 1], 0x88),
                                _mm512_shuffle_i32x4(r[2 * k], r[2 * k + 1], 0xDD));
    for (int k = 0; k < 2; k++)
        t[k] = _mm512_max_epu32(_mm512_unpacklo_epi64(s[2 * k], s[2 * k + 1]),
                                _mm512_unpackhi_epi64(s[2 * k], s[2 * k + 1]));
    __m512 t0 = _mm512_castsi512_ps(t[0]), t1 = _mm512_castsi512_ps(t[1]);
    __m512i f = _mm512_max_epu32(_mm512_castps_si512(_mm512_shuffle_ps(t0, t1, 0x88)),
                                 _mm512_castps_si512(_mm512_shuffle_ps(t0, t1, 0xDD)));
    /* lane i now holds block 0, 4, 8, 12, 1, 5, ... (i % 4 * 4 + i / 4) */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(order, f);
}

static inline void encode_block(const struct fg_mx_format_info *fi, enum fg_mx_format f, __m512i u0,
                                __m512i u1, float inv_x, uint8_t *dst)
{
    /* x / X: an exact multiplication by 2^-se (rounded like ldexpf if it underflows) */
    const __m512 s = _mm512_set1_ps(inv_x);
    __m512 y0 = _mm512_mul_ps(_mm512_castsi512_ps(u0), s);
    __m512 y1 = _mm512_mul_ps(_mm512_castsi512_ps(u1), s);
    __m512i c0, c1;
    if (f == FG_MX_FORMAT_INT8) {
        c0 = encode_int8x(y0);
        c1 = encode_int8x(y1);
    } else {
        c0 = encode_fp16x(y0, fi->bits, fi->mbits, fi->bias, fi->max_code);
        c1 = encode_fp16x(y1, fi->bits, fi->mbits, fi->bias, fi->max_code);
    }
    store_codes(fi->bits, c0, c1, dst);
}

void fg_mx_quantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                  enum fg_mx_scale_rule rule, int flush, const float *in,
                                  size_t n_blocks, uint8_t *scales, uint8_t *codes)
{
    const size_t bb = fi->block_bytes;
    const __m512i absm = _mm512_set1_epi32(0x7FFFFFFF);
    size_t b = 0;
    /* groups of 16 blocks: the 16 shared exponents are computed in one register */
    for (; b + 16 <= n_blocks; b += 16) {
        const float *x = in + b * FG_MX_BLOCK;
        __m512i r[8];
        for (int k = 0; k < 8; k++) {
            const float *xk = x + 2 * k * FG_MX_BLOCK;
            __m512i m0 = _mm512_max_epu32(_mm512_and_si512(load_flushed(xk, flush), absm),
                                          _mm512_and_si512(load_flushed(xk + 16, flush), absm));
            __m512i m1 = _mm512_max_epu32(_mm512_and_si512(load_flushed(xk + 32, flush), absm),
                                          _mm512_and_si512(load_flushed(xk + 48, flush), absm));
            r[k] = pair_max(m0, m1);
        }
        __m512i amax = reduce_max16(r);
        __mmask16 special = _mm512_cmpge_epu32_mask(amax, _mm512_set1_epi32(0x7F800000));
        __m512i se = shared_exp16(amax, rule, fi);
        __m512i sbyte = _mm512_mask_mov_epi32(_mm512_add_epi32(se, _mm512_set1_epi32(127)), special,
                                              _mm512_set1_epi32(FG_MX_SCALE_NAN));
        _mm_storeu_si128((__m128i *)(void *)(scales + b), _mm512_cvtepi32_epi8(sbyte));
        /* 1/X = 2^-se as fp32 bits: (127 - se) << 23; -se = -127 is the subnormal 2^-127 */
        float inv_x[16];
        __m512i ib = _mm512_slli_epi32(_mm512_sub_epi32(_mm512_set1_epi32(127), se), 23);
        ib = _mm512_mask_mov_epi32(ib, _mm512_cmpeq_epi32_mask(se, _mm512_set1_epi32(127)),
                                   _mm512_set1_epi32(0x00400000));
        _mm512_storeu_si512(inv_x, ib);
        for (int g = 0; g < 16; g++) {
            uint8_t *dst = codes + (b + (size_t)g) * bb;
            if ((special >> g) & 1) { /* NaN or Inf in the block */
                memset(dst, 0, bb);
                continue;
            }
            const float *xg = x + (size_t)g * FG_MX_BLOCK;
            encode_block(fi, f, load_flushed(xg, flush), load_flushed(xg + 16, flush), inv_x[g],
                         dst);
        }
    }
    for (; b < n_blocks; b++) { /* the rest one by one, the shared exponent in scalar code */
        const float *x = in + b * FG_MX_BLOCK;
        __m512i u0 = load_flushed(x, flush), u1 = load_flushed(x + 16, flush);
        uint32_t amax = (uint32_t)_mm512_reduce_max_epu32(
            _mm512_max_epu32(_mm512_and_si512(u0, absm), _mm512_and_si512(u1, absm)));
        uint8_t *dst = codes + b * bb;
        if (amax >= 0x7F800000u) {
            scales[b] = FG_MX_SCALE_NAN;
            memset(dst, 0, bb);
            continue;
        }
        int se = fg_mx_shared_exp(amax, rule, fi);
        scales[b] = (uint8_t)(se + 127);
        encode_block(fi, f, u0, u1, fg_pow2f(-se), dst);
    }
}

/* ---- dequantize -------------------------------------------------------------------------- */

/* The codes of one block as two registers of dwords (elements 0-15, 16-31). */
static inline void load_codes(int bits, const uint8_t *src, __m512i *c0, __m512i *c1)
{
    if (bits == 8) {
        *c0 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)src));
        *c1 = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(src + 16)));
        return;
    }
    __m256i t;
    if (bits == 4) { /* byte j -> bytes 2j (low nibble), 2j+1 (high nibble) */
        __m256i w = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(const void *)src));
        t = _mm256_or_si256(_mm256_and_si256(w, _mm256_set1_epi16(0x0F)),
                            _mm256_slli_epi16(_mm256_and_si256(w, _mm256_set1_epi16(0xF0)), 4));
    } else { /* the packing of store_codes, undone */
        t = _mm256_maskz_loadu_epi8((__mmask32)0x00FFFFFFu, src);
        t = _mm256_permutevar8x32_epi32(t, _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6));
        const __m256i shuf = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1,
                                              0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1);
        t = _mm256_shuffle_epi8(t, shuf);
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x0000000000FFFFFFLL)),
            _mm256_and_si256(_mm256_slli_epi64(t, 8), _mm256_set1_epi64x(0x00FFFFFF00000000LL)));
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x00000FFF00000FFFLL)),
            _mm256_and_si256(_mm256_slli_epi64(t, 4), _mm256_set1_epi64x(0x0FFF00000FFF0000LL)));
        t = _mm256_or_si256(
            _mm256_and_si256(t, _mm256_set1_epi64x(0x003F003F003F003FLL)),
            _mm256_and_si256(_mm256_slli_epi64(t, 2), _mm256_set1_epi64x(0x3F003F003F003F00LL)));
    }
    *c0 = _mm512_cvtepu8_epi32(_mm256_castsi256_si128(t));
    *c1 = _mm512_cvtepu8_epi32(_mm256_extracti128_si256(t, 1));
}

/* Element values P (before the scale) of 16 FP codes, for the 8-bit formats: exponent and
 * mantissa moved into an fp32 with the bias changed, (1 + m/2^M) 2^(e - bias). A subnormal
 * code (e = 0) is built with e = 1 and then 2^(1 - bias) is subtracted, exactly, leaving
 * m/2^M 2^(1 - bias); no fp32 subnormal is ever formed (they cost a microcode assist on
 * x86). The small formats use a table instead (decode_fp_lut). */
static inline __m512 decode_fp8x(__m512i c, enum fg_mx_format f, int M, int bias)
{
    __m512i sign = _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(0x80)), 24);
    __m512i em = _mm512_and_si512(c, _mm512_set1_epi32(0x7F));
    __mmask16 sub = _mm512_testn_epi32_mask(em, _mm512_set1_epi32(0x7F & ~((1 << M) - 1)));
    em = _mm512_mask_add_epi32(em, sub, em, _mm512_set1_epi32(1 << M));
    __m512i bits = _mm512_add_epi32(_mm512_slli_epi32(em, (unsigned)(23 - M)),
                                    _mm512_set1_epi32((127 - bias) << 23));
    __m512 p = _mm512_castsi512_ps(bits);
    p = _mm512_mask_sub_ps(p, sub, p, _mm512_set1_ps(fg_pow2f(1 - bias)));
    if (f == FG_MX_FORMAT_E4M3) {
        __mmask16 nan = _mm512_cmpeq_epi32_mask(em, _mm512_set1_epi32(0x7F));
        p = _mm512_mask_mov_ps(p, nan, _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
    } else {
        __mmask16 inf = _mm512_cmpeq_epi32_mask(em, _mm512_set1_epi32(0x7C));
        __mmask16 nan = _mm512_cmpgt_epi32_mask(em, _mm512_set1_epi32(0x7C));
        p = _mm512_mask_mov_ps(p, inf, _mm512_castsi512_ps(_mm512_set1_epi32(0x7F800000)));
        p = _mm512_mask_mov_ps(p, nan, _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
    }
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(p), sign));
}

/* FP6 and FP4: the magnitude (5 or 3 bits) indexes a table of the 32 (8) element values,
 * lo = entries 0-15, hi = 16-31; the sign bit is put back on top. */
static inline __m512 decode_fp_lut(__m512i c, int bits, __m512 lo, __m512 hi)
{
    __m512i sign =
        _mm512_slli_epi32(_mm512_and_si512(c, _mm512_set1_epi32(1 << (bits - 1))), 32 - bits);
    __m512 p;
    if (bits == 4) /* vpermps reads index bits 0-3; bit 3 is the sign: entries 8-15 repeat 0-7 */
        p = _mm512_permutexvar_ps(c, lo);
    else /* vpermt2ps reads index bits 0-4; bit 5 (the FP6 sign) is ignored */
        p = _mm512_permutex2var_ps(lo, c, hi);
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(p), sign));
}

/* The 32 values of one block, scale applied (NaN block included), in two registers. lut: the
 * element values of the format's magnitudes (FP6/FP4 only), 32 floats. */
static inline void decode_block(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                const float *lut, uint8_t scale, const uint8_t *src, __m512 *v0,
                                __m512 *v1)
{
    if (scale == FG_MX_SCALE_NAN) {
        *v0 = *v1 = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000));
        return;
    }
    __m512 p0, p1, s;
    if (f == FG_MX_FORMAT_INT8) {
        p0 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)src)));
        p1 = _mm512_cvtepi32_ps(
            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(src + 16))));
        s = _mm512_set1_ps((float)((int)scale - 133));
    } else {
        __m512i c0, c1;
        load_codes(fi->bits, src, &c0, &c1);
        if (fi->bits == 8) {
            p0 = decode_fp8x(c0, f, fi->mbits, fi->bias);
            p1 = decode_fp8x(c1, f, fi->mbits, fi->bias);
        } else {
            __m512 lo = _mm512_loadu_ps(lut), hi = _mm512_loadu_ps(lut + 16);
            p0 = decode_fp_lut(c0, fi->bits, lo, hi);
            p1 = decode_fp_lut(c1, fi->bits, lo, hi);
        }
        s = _mm512_set1_ps((float)((int)scale - 127));
    }
    *v0 = _mm512_scalef_ps(p0, s); /* X P rounded once, as ldexpf */
    *v1 = _mm512_scalef_ps(p1, s);
}

/* the element values of magnitudes 0-31 with X = 1 (FP4: 0-7, repeated for 8-15) */
static void small_lut(enum fg_mx_format f, float lut[32])
{
    const struct fg_mx_format_info *fi = &fg_mx_formats[f];
    for (int i = 0; i < 32; i++)
        lut[i] = fi->bits < 8
                     ? fg_mx_decode_element(f, (uint8_t)(i & ((1 << (fi->bits - 1)) - 1)), 127)
                     : 0.0f;
}

void fg_mx_dequantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                    const uint8_t *scales, const uint8_t *codes, size_t n_blocks,
                                    float *out)
{
    float lut[32];
    small_lut(f, lut);
    for (size_t b = 0; b < n_blocks; b++) {
        __m512 v0, v1;
        decode_block(fi, f, lut, scales[b], codes + b * fi->block_bytes, &v0, &v1);
        _mm512_storeu_ps(out + b * FG_MX_BLOCK, v0);
        _mm512_storeu_ps(out + b * FG_MX_BLOCK + 16, v1);
    }
}

/* ---- dot products ------------------------------------------------------------------------ */

__attribute__((target("avx512vnni"))) static int32_t block_dot_vnni(const int8_t *a,
                                                                    const int8_t *b)
{
    /* vpdpbusd multiplies unsigned by signed bytes: sum a b = sum (a + 128) b - 128 sum b */
    __m256i va = _mm256_loadu_si256((const __m256i *)(const void *)a);
    __m256i vb = _mm256_loadu_si256((const __m256i *)(const void *)b);
    __m256i au = _mm256_xor_si256(va, _mm256_set1_epi8((char)0x80));
    __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), au, vb);
    __m256i sb = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), vb);
    __m256i d = _mm256_sub_epi32(p, _mm256_slli_epi32(sb, 7));
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
    return _mm_cvtsi128_si32(h);
}

int32_t fg_mx_block_dot_i8_avx512(const int8_t *a, const int8_t *b, int vnni)
{
    if (vnni)
        return block_dot_vnni(a, b);
    __m512i a16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)a));
    __m512i b16 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)b));
    return _mm512_reduce_add_epi32(_mm512_madd_epi16(a16, b16));
}

float fg_mx_dot_fp_avx512(enum fg_mx_format fa, const uint8_t *a_scales, const uint8_t *a_codes,
                          enum fg_mx_format fb, const uint8_t *b_scales, const uint8_t *b_codes,
                          size_t n_blocks)
{
    const struct fg_mx_format_info *ia = &fg_mx_formats[fa], *ib = &fg_mx_formats[fb];
    float lut_a[32], lut_b[32];
    small_lut(fa, lut_a);
    small_lut(fb, lut_b);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (size_t j = 0; j < n_blocks; j++) {
        __m512 a0, a1, b0, b1;
        decode_block(ia, fa, lut_a, a_scales[j], a_codes + j * ia->block_bytes, &a0, &a1);
        decode_block(ib, fb, lut_b, b_scales[j], b_codes + j * ib->block_bytes, &b0, &b1);
        acc0 = _mm512_fmadd_ps(a0, b0, acc0);
        acc1 = _mm512_fmadd_ps(a1, b1, acc1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* ---- MXINT8 matrix product --------------------------------------------------------------- */

void fg_mx_i8_pack_b_avx512(const struct fg_mx_matrix *B, int vnni, size_t p0, size_t p1,
                            void *bpack, float *bexp)
{
    const size_t N = B->rows, K = B->cols, nbk = K / FG_MX_BLOCK;
    for (size_t p = p0; p < p1; p++) {
        for (size_t j = 0; j < nbk; j++) {
            float *be = bexp + (p * nbk + j) * 32;
            for (size_t c = 0; c < 32; c++) {
                size_t n = p * 32 + c;
                uint8_t s = n < N ? B->scales[n * nbk + j] : 127;
                be[c] = s == FG_MX_SCALE_NAN ? NAN : (float)((int)s - 133);
            }
            if (vnni) { /* (8 quads, 32 columns, 4 bytes): B + 128 as u8; padding = 128 (0) */
                uint32_t *dst = (uint32_t *)bpack + (p * nbk + j) * 256;
                for (size_t c = 0; c < 32; c++) {
                    size_t n = p * 32 + c;
                    const uint8_t *src = n < N ? B->codes + n * K + j * 32 : NULL;
                    for (size_t q = 0; q < 8; q++) {
                        uint32_t w = 0;
                        if (src)
                            memcpy(&w, src + 4 * q, 4);
                        dst[q * 32 + c] = w ^ 0x80808080u;
                    }
                }
            } else { /* (16 pairs, 32 columns, 2 int16) */
                uint32_t *dst = (uint32_t *)bpack + (p * nbk + j) * 512;
                for (size_t c = 0; c < 32; c++) {
                    size_t n = p * 32 + c;
                    const uint8_t *src = n < N ? B->codes + n * K + j * 32 : NULL;
                    for (size_t q = 0; q < 16; q++) {
                        uint32_t lo = src ? (uint16_t)(int16_t)(int8_t)src[2 * q] : 0;
                        uint32_t hi = src ? (uint16_t)(int16_t)(int8_t)src[2 * q + 1] : 0;
                        dst[q * 32 + c] = lo | hi << 16;
                    }
                }
            }
        }
    }
}

/* One tile of MR rows x 32 columns over all of K, VNNI. MR is a constant after inlining, so
 * the accumulator arrays live in registers. */
__attribute__((always_inline, target("avx512vnni"))) static inline void
tile_vnni(const int MR, float *C, size_t ldc, const struct fg_mx_i8_operands *op, size_t m,
          size_t p, __m512 bias0, __m512 bias1, __mmask16 k0, __mmask16 k1)
{
    const size_t nbk = op->nbk, K = op->K;
    const uint8_t *bp = (const uint8_t *)op->bpack + p * nbk * 1024;
    const float *be = op->bexp + p * nbk * 32;
    const int8_t *a = op->a + m * K;
    const int32_t *corr = op->acorr + m * nbk;
    const float *ae = op->aexp + m * nbk;
    __m512 f0[6], f1[6];
    for (int r = 0; r < MR; r++) {
        f0[r] = bias0;
        f1[r] = bias1;
    }
    for (size_t j = 0; j < nbk; j++) {
        __m512i s0[6], s1[6];
        for (int r = 0; r < MR; r++)
            s0[r] = s1[r] = _mm512_set1_epi32(corr[(size_t)r * nbk + j]);
        const uint8_t *bq = bp + j * 1024;
        const int8_t *aj = a + j * 32;
        for (int q = 0; q < 8; q++) {
            __m512i b0 = _mm512_loadu_si512(bq + q * 128);
            __m512i b1 = _mm512_loadu_si512(bq + q * 128 + 64);
            for (int r = 0; r < MR; r++) {
                int32_t av;
                memcpy(&av, aj + (size_t)r * K + 4 * q, 4);
                __m512i va = _mm512_set1_epi32(av);
                s0[r] = _mm512_dpbusd_epi32(s0[r], b0, va);
                s1[r] = _mm512_dpbusd_epi32(s1[r], b1, va);
            }
        }
        __m512 e0 = _mm512_loadu_ps(be + j * 32), e1 = _mm512_loadu_ps(be + j * 32 + 16);
        for (int r = 0; r < MR; r++) {
            __m512 ea = _mm512_set1_ps(ae[(size_t)r * nbk + j]);
            f0[r] = _mm512_add_ps(
                f0[r], _mm512_scalef_ps(_mm512_cvtepi32_ps(s0[r]), _mm512_add_ps(ea, e0)));
            f1[r] = _mm512_add_ps(
                f1[r], _mm512_scalef_ps(_mm512_cvtepi32_ps(s1[r]), _mm512_add_ps(ea, e1)));
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(C + (m + (size_t)r) * ldc + p * 32, k0, f0[r]);
        _mm512_mask_storeu_ps(C + (m + (size_t)r) * ldc + p * 32 + 16, k1, f1[r]);
    }
}

/* The same with vpmaddwd on int16 codes (AVX-512 without VNNI). */
__attribute__((always_inline)) static inline void
tile_plain(const int MR, float *C, size_t ldc, const struct fg_mx_i8_operands *op, size_t m,
           size_t p, __m512 bias0, __m512 bias1, __mmask16 k0, __mmask16 k1)
{
    const size_t nbk = op->nbk, K = op->K;
    const int16_t *bp = (const int16_t *)op->bpack + p * nbk * 1024;
    const float *be = op->bexp + p * nbk * 32;
    const int16_t *a = op->a16 + m * K;
    const float *ae = op->aexp + m * nbk;
    __m512 f0[6], f1[6];
    for (int r = 0; r < MR; r++) {
        f0[r] = bias0;
        f1[r] = bias1;
    }
    for (size_t j = 0; j < nbk; j++) {
        __m512i s0[6], s1[6];
        for (int r = 0; r < MR; r++)
            s0[r] = s1[r] = _mm512_setzero_si512();
        const int16_t *bq = bp + j * 1024;
        const int16_t *aj = a + j * 32;
        for (int q = 0; q < 16; q++) {
            __m512i b0 = _mm512_loadu_si512(bq + q * 64);
            __m512i b1 = _mm512_loadu_si512(bq + q * 64 + 32);
            for (int r = 0; r < MR; r++) {
                int32_t av;
                memcpy(&av, aj + (size_t)r * K + 2 * q, 4);
                __m512i va = _mm512_set1_epi32(av);
                s0[r] = _mm512_add_epi32(s0[r], _mm512_madd_epi16(b0, va));
                s1[r] = _mm512_add_epi32(s1[r], _mm512_madd_epi16(b1, va));
            }
        }
        __m512 e0 = _mm512_loadu_ps(be + j * 32), e1 = _mm512_loadu_ps(be + j * 32 + 16);
        for (int r = 0; r < MR; r++) {
            __m512 ea = _mm512_set1_ps(ae[(size_t)r * nbk + j]);
            f0[r] = _mm512_add_ps(
                f0[r], _mm512_scalef_ps(_mm512_cvtepi32_ps(s0[r]), _mm512_add_ps(ea, e0)));
            f1[r] = _mm512_add_ps(
                f1[r], _mm512_scalef_ps(_mm512_cvtepi32_ps(s1[r]), _mm512_add_ps(ea, e1)));
        }
    }
    for (int r = 0; r < MR; r++) {
        _mm512_mask_storeu_ps(C + (m + (size_t)r) * ldc + p * 32, k0, f0[r]);
        _mm512_mask_storeu_ps(C + (m + (size_t)r) * ldc + p * 32 + 16, k1, f1[r]);
    }
}

__attribute__((target("avx512vnni"))) static void
rows_vnni(float *C, const struct fg_mx_i8_operands *op, size_t m0, size_t m1, size_t p,
          __m512 bias0, __m512 bias1, __mmask16 k0, __mmask16 k1)
{
    size_t m = m0;
    for (; m + 6 <= m1; m += 6)
        tile_vnni(6, C, op->N, op, m, p, bias0, bias1, k0, k1);
    switch (m1 - m) {
    case 5:
        tile_vnni(5, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 4:
        tile_vnni(4, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 3:
        tile_vnni(3, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 2:
        tile_vnni(2, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 1:
        tile_vnni(1, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    default:
        break;
    }
}

static void rows_plain(float *C, const struct fg_mx_i8_operands *op, size_t m0, size_t m1, size_t p,
                       __m512 bias0, __m512 bias1, __mmask16 k0, __mmask16 k1)
{
    size_t m = m0;
    for (; m + 4 <= m1; m += 4)
        tile_plain(4, C, op->N, op, m, p, bias0, bias1, k0, k1);
    switch (m1 - m) {
    case 3:
        tile_plain(3, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 2:
        tile_plain(2, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    case 1:
        tile_plain(1, C, op->N, op, m, p, bias0, bias1, k0, k1);
        break;
    default:
        break;
    }
}

void fg_mx_i8_matmul_avx512(float *C, const struct fg_mx_i8_operands *op, size_t m0, size_t m1,
                            size_t p0, size_t p1)
{
    for (size_t p = p0; p < p1; p++) {
        size_t n0 = p * 32, left = op->N - n0;
        __mmask16 k0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u);
        __mmask16 k1 = left >= 32   ? (__mmask16)0xFFFF
                       : left <= 16 ? (__mmask16)0
                                    : (__mmask16)((1u << (left - 16)) - 1u);
        __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
        if (op->bias) {
            bias0 = _mm512_maskz_loadu_ps(k0, op->bias + n0);
            bias1 = _mm512_maskz_loadu_ps(k1, op->bias + n0 + 16);
        }
        if (op->vnni)
            rows_vnni(C, op, m0, m1, p, bias0, bias1, k0, k1);
        else
            rows_plain(C, op, m0, m1, p, bias0, bias1, k0, k1);
    }
}

#else /* built without AVX-512: the dispatch never selects these (fg_num_avx512_built() == 0) */

int fg_num_avx512_built(void)
{
    return 0;
}

void fg_mx_quantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                  enum fg_mx_scale_rule rule, int flush, const float *in,
                                  size_t n_blocks, uint8_t *scales, uint8_t *codes)
{
    (void)f;
    for (size_t b = 0; b < n_blocks; b++)
        fg_mx_quantize_block_ref(fi, rule, flush, in + b * FG_MX_BLOCK, scales + b,
                                 codes + b * fi->block_bytes);
}

void fg_mx_dequantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                    const uint8_t *scales, const uint8_t *codes, size_t n_blocks,
                                    float *out)
{
    (void)f;
    for (size_t b = 0; b < n_blocks; b++)
        fg_mx_dequantize_block_ref(fi, scales[b], codes + b * fi->block_bytes,
                                   out + b * FG_MX_BLOCK);
}

int32_t fg_mx_block_dot_i8_avx512(const int8_t *a, const int8_t *b, int vnni)
{
    (void)vnni;
    int32_t s = 0;
    for (int i = 0; i < FG_MX_BLOCK; i++)
        s += (int32_t)a[i] * b[i];
    return s;
}

float fg_mx_dot_fp_avx512(enum fg_mx_format fa, const uint8_t *a_scales, const uint8_t *a_codes,
                          enum fg_mx_format fb, const uint8_t *b_scales, const uint8_t *b_codes,
                          size_t n_blocks)
{
    (void)fa, (void)a_scales, (void)a_codes, (void)fb, (void)b_scales, (void)b_codes;
    (void)n_blocks;
    return NAN;
}

void fg_mx_i8_pack_b_avx512(const struct fg_mx_matrix *B, int vnni, size_t p0, size_t p1,
                            void *bpack, float *bexp)
{
    (void)B, (void)vnni, (void)p0, (void)p1, (void)bpack, (void)bexp;
}

void fg_mx_i8_matmul_avx512(float *C, const struct fg_mx_i8_operands *op, size_t m0, size_t m1,
                            size_t p0, size_t p1)
{
    (void)C, (void)op, (void)m0, (void)m1, (void)p0, (void)p1;
}

#endif
