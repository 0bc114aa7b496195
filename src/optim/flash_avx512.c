/* The flash step on whole groups of 32 with AVX-512 (two 16-lane registers per group): the
 * same operations as the scalar code of flash.c in the same order, so the same bits (tested).
 * Compiled with -mavx512f -mavx512bw -mavx512vl -mfma; no FMA is used (the scalar code has
 * none: ISO C mode keeps contraction off). */
#include "flash_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>
#    include <string.h>

#    include "frugal/numerics.h"

#    define G FG_FLASH_GROUP

static inline __m512i i32(int v)
{
    return _mm512_set1_epi32(v);
}

static inline __m512 f32(float v)
{
    return _mm512_set1_ps(v);
}

static inline __m512 absv(__m512 x)
{
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), i32(0x7FFFFFFF)));
}

/* bf16 (16 values) to fp32 */
static inline __m512 bf16_load(const uint16_t *p)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

/* join(h, rho): rho as int32 lanes, nmax 127 or 32767. The scalar join1 adds
 * (rho (1/N)) 2^(e - 8) to tq, e = max(E, 1) - 127 the exponent of tq's binade (E its field):
 * here the 2^-8 is folded into the constant (exact: rho (1/N) is a normal number), e is tq's
 * VGETEXPPS clamped to [-126, 128] (zero and the subnormals give -126 as E = 1 does, Inf 128
 * as E = 255 does, NaN -126, harmless: NaN + x is the NaN), and x 2^e is one VSCALEFPS, which
 * rounds once, as the scalar code's two power-of-two products do (only a subnormal result
 * rounds at all). rho = 0 keeps tq as it is (-0 stays -0). */
static inline __m512 join_v(const uint16_t *w16, __m512i rho, float nmax)
{
    __m512 tq = bf16_load(w16);
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(rho), f32((1.0f / nmax) * 0x1p-8f));
    __m512 e = _mm512_min_ps(_mm512_max_ps(_mm512_getexp_ps(tq), f32(-126.0f)), f32(128.0f));
    return _mm512_mask_add_ps(tq, _mm512_test_epi32_mask(rho, rho), tq, _mm512_scalef_ps(x, e));
}

/* plain bf16 weights (no correction): round to nearest even, NaN kept quiet */
static inline __m512i bf16_rne_v(__m512 theta)
{
    __m512i u = _mm512_castps_si512(theta);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), i32(1));
    __m512i rne = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, i32(0x7FFF)), lsb), 16);
    __mmask16 nan = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, i32(0x7F800000)), i32(0x7F800000)) &
                    _mm512_test_epi32_mask(u, i32(0x007FFFFF));
    return _mm512_mask_blend_epi32(nan, rne,
                                   _mm512_or_si512(_mm512_srli_epi32(u, 16), i32(0x0040)));
}

/* split 16 weights as the scalar split1 (flash.c): bf16 bits (int32 lanes) out, rho returned */
static inline __m512i split_v(__m512 theta, int nmax, __m512i *h_out)
{
    __m512i u = _mm512_castps_si512(theta);
    __m512i ex = _mm512_and_si512(_mm512_srli_epi32(u, 23), i32(0xFF));
    __m512i low = _mm512_and_si512(u, i32(0xFFFF));
    __mmask16 up = _mm512_cmpgt_epi32_mask(low, i32(0x8000));
    __m512i h =
        _mm512_mask_add_epi32(_mm512_srli_epi32(u, 16), up, _mm512_srli_epi32(u, 16), i32(1));
    __m512i lp = _mm512_mask_sub_epi32(low, up, low, i32(65536));
    __m512i nex = _mm512_and_si512(_mm512_srli_epi32(h, 7), i32(0xFF));
    __mmask16 carry = up & _mm512_cmpneq_epi32_mask(nex, ex) & _mm512_test_epi32_mask(ex, ex);
    __m512i prod = _mm512_mullo_epi32(_mm512_abs_epi32(lp), i32(nmax));
    __m512i m15 = _mm512_srli_epi32(_mm512_add_epi32(prod, i32(1 << 14)), 15);
    __m512i m16 = _mm512_srli_epi32(_mm512_add_epi32(prod, i32(1 << 15)), 16);
    __m512i mag = _mm512_mask_blend_epi32(carry, m15, m16);
    /* negative when exactly one of (rounded up, theta negative) holds */
    __mmask16 neg = _mm512_cmplt_epi32_mask(u, _mm512_setzero_si512());
    __m512i rho = _mm512_mask_sub_epi32(mag, (__mmask16)(up ^ neg), _mm512_setzero_si512(), mag);
    __mmask16 toinf = up & _mm512_cmpeq_epi32_mask(nex, i32(0xFF));
    __mmask16 special = _mm512_cmpeq_epi32_mask(ex, i32(0xFF));
    if (__builtin_expect((toinf | special) != 0, 0)) {
        /* rounded up to Inf: rho = -N, toward theta (+N for a negative theta) */
        rho = _mm512_mask_mov_epi32(rho, toinf & (__mmask16)~neg, i32(-nmax));
        rho = _mm512_mask_mov_epi32(rho, toinf & neg, i32(nmax));
        /* Inf and NaN: bf16 by RNE (NaN made quiet), rho 0 */
        h = _mm512_mask_blend_epi32(special, h, bf16_rne_v(theta));
        rho = _mm512_mask_mov_epi32(rho, special, _mm512_setzero_si512());
    }
    *h_out = _mm512_and_si512(h, i32(0xFFFF));
    return rho;
}

/* split_v for N = 127 in fewer instructions, same bits. tq = theta rounded to bf16 with exact
 * ties toward zero is (u + 0x7FFF) with the low 16 bits cleared; d = theta - tq is exact (both
 * lie in one binade of tq or theta, d a multiple of theta's ULP); d / (ULP/2) (ULP/2 =
 * 2^(e - 8), e tq's binade exponent clamped at -126 as in join_v, which is the scalar code's
 * shift of 16 after a carry into the next binade and 15 from the subnormals) times 127 needs
 * at most 16 + 7 bits, so x = d 127 2^(8 - e) is exact, and so is x + 0.5 sign(x): its
 * truncation is the scalar code's magnitude (alp N + 2^(s-1)) >> s with theta's sign. Lanes
 * that round to Inf or are Inf or NaN (|u| > 0x7F7F8000) go to split_v, as rare as they are. */
static inline __m512i split8_v(__m512 theta, __m512i *h_out)
{
    __m512i u = _mm512_castps_si512(theta);
    __mmask16 rare = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, i32(0x7FFFFFFF)), i32(0x7F7F8000));
    if (__builtin_expect(rare != 0, 0))
        return split_v(theta, 127, h_out);
    __m512i r = _mm512_add_epi32(u, i32(0x7FFF));
    __m512 tq = _mm512_castsi512_ps(_mm512_and_si512(r, i32((int)0xFFFF0000u)));
    __m512 e = _mm512_max_ps(_mm512_getexp_ps(tq), f32(-126.0f));
    __m512 x = _mm512_scalef_ps(_mm512_mul_ps(_mm512_sub_ps(theta, tq), f32(127.0f)),
                                _mm512_sub_ps(f32(8.0f), e));
    __m512i half = _mm512_ternarylogic_epi32(_mm512_castps_si512(x), i32((int)0x80000000u),
                                             i32(0x3F000000), 0xEA); /* (x & sign) | 0.5 */
    *h_out = _mm512_srli_epi32(r, 16);
    return _mm512_cvttps_epi32(_mm512_add_ps(x, _mm512_castsi512_ps(half)));
}

/* 16 codes floor(pre) (NaN -> 0) as signed bytes clamped to [-127, 127] at dst. The scalar
 * code_clamp clamps too, but pre never leaves [-126.5, 127.5] by much: |z| <= 1 (1 + 2^-23)^2
 * since the group's scale is at least its largest |m| (bf16 rounded up, or fp16's unrounded
 * max), so y = 2z / (1 + |z|) is within a rounding of [-1, 1] and the floor never needs the
 * clamp; it stays, in one VPMAXSD and the saturating VPMOVSDB, for any finite pre below 2^31. */
static inline void store_codes_m(int8_t *dst, __m512 pre)
{
    __mmask16 ok = _mm512_cmp_ps_mask(pre, pre, _CMP_ORD_Q);
    __m512i c = _mm512_maskz_cvt_roundps_epi32(ok, pre, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i *)dst, _mm512_cvtsepi32_epi8(_mm512_max_epi32(c, i32(-127))));
}

/* 16 codes floor(pre) (NaN -> 0) as bytes clamped to [0, 255] at dst: pre = r k + 0.5 with
 * r = sqrt(v) >= 0 and r <= the scale, so pre is NaN or in [0.5, 255.5 (1 + 2^-22)]; the
 * unsigned saturation of VPMOVUSDB is the upper clamp for any pre below 2^31. */
static inline void store_codes_v(uint8_t *dst, __m512 pre)
{
    __mmask16 ok = _mm512_cmp_ps_mask(pre, pre, _CMP_ORD_Q);
    __m512i c = _mm512_maskz_cvt_roundps_epi32(ok, pre, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i *)dst, _mm512_cvtusepi32_epi8(c));
}

/* The first moment's decoded codes z(q) = q / (254 - |q|) for |q| = 0..127, divided once by the
 * compiler (a constant quotient is rounded as the scalar code's division rounds): z(-q) = -z(q)
 * exactly, so a table of 128 serves, and four VPERMT2PS lookups with three blends replace the
 * division (the divider is the step's busiest unit: Adam has three divisions and a square root
 * per 16 elements). */
#    define ZQ(a)   ((float)(a) / (254.0f - (float)(a)))
#    define ZQ4(a)  ZQ(a), ZQ(a + 1), ZQ(a + 2), ZQ(a + 3)
#    define ZQ16(a) ZQ4(a), ZQ4(a + 4), ZQ4(a + 8), ZQ4(a + 12)
static const _Alignas(64) float m_decoded[128] = { ZQ16(0),  ZQ16(16), ZQ16(32), ZQ16(48),
                                                   ZQ16(64), ZQ16(80), ZQ16(96), ZQ16(112) };

/* z(q) for 16 codes q in [-128, 127] (int32 lanes). The encoder writes [-127, 127], but the
 * codes are the caller's (a checkpoint's), and the scalar code decodes -128 as -128 / 126. */
static inline __m512 m_lookup(__m512i q, const __m512 zt[8])
{
    __m512i a = _mm512_abs_epi32(q); /* VPERMT2PS reads the low 5 bits of each index */
    __m512 p0 = _mm512_permutex2var_ps(zt[0], a, zt[1]),
           p1 = _mm512_permutex2var_ps(zt[2], a, zt[3]);
    __m512 p2 = _mm512_permutex2var_ps(zt[4], a, zt[5]),
           p3 = _mm512_permutex2var_ps(zt[6], a, zt[7]);
    __mmask16 b5 = _mm512_test_epi32_mask(a, i32(32)), b6 = _mm512_test_epi32_mask(a, i32(64));
    __m512 r = _mm512_mask_blend_ps(b6, _mm512_mask_blend_ps(b5, p0, p1),
                                    _mm512_mask_blend_ps(b5, p2, p3));
    r = _mm512_mask_mov_ps(r, _mm512_test_epi32_mask(a, i32(128)), f32(128.0f / 126.0f));
    __mmask16 neg = _mm512_cmplt_epi32_mask(q, _mm512_setzero_si512());
    return _mm512_mask_sub_ps(r, neg, _mm512_setzero_ps(), r);
}

/* The largest element (absolute value if asked) of each of the nc <= 8 groups of 32 at buf,
 * NaN ignored, into out[0..7] (0 past nc): the scalar fmaxf loop from 0. Each group's two
 * halves meet in max(v1, max(v0, 0)) (VMAXPS returns its second operand when either is NaN,
 * so NaN lanes fall away and every value left is >= +0); then a tree of 128-bit and in-lane
 * shuffles reduces the eight registers together, 23 instructions for eight groups where a
 * reduction per group takes eight. */
static inline void group_max8(const float *buf, size_t nc, int absolute, float out[8])
{
    __m512 a[8], b[4], c[2];
    for (size_t g = 0; g < 8; g++) {
        __m512 v0 = _mm512_setzero_ps(), v1 = _mm512_setzero_ps();
        if (g < nc) {
            v0 = _mm512_load_ps(buf + g * G), v1 = _mm512_load_ps(buf + g * G + 16);
            if (absolute)
                v0 = absv(v0), v1 = absv(v1);
        }
        a[g] = _mm512_max_ps(v1, _mm512_max_ps(v0, _mm512_setzero_ps()));
    }
    for (int i = 0; i < 4; i++) /* [g 02, g 13, g' 02, g' 13] in 128-bit chunks */
        b[i] = _mm512_max_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
    for (int i = 0; i < 2; i++) /* chunk k: group 4i + k */
        c[i] = _mm512_max_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
    __m512 d =
        _mm512_max_ps(_mm512_shuffle_ps(c[0], c[1], 0x44), _mm512_shuffle_ps(c[0], c[1], 0xEE));
    d = _mm512_max_ps(d, _mm512_permute_ps(d, 0xB1)); /* chunk k: lane 0 group k, lane 2 k + 4 */
    _Alignas(64) float t[16];
    _mm512_store_ps(t, d);
    for (int k = 0; k < 4; k++)
        out[k] = t[4 * k], out[k + 4] = t[4 * k + 2];
}

/* The update of 16 elements, the scalar upd_* operation for operation; *sq gets sqrt(new v)
 * (Adam), which the second-moment quantizer reuses. */
static inline void update16(const struct coef *c, __m512 *th, __m512 *m, __m512 *v, __m512 *sq,
                            __m512 g)
{
    __m512 xw = *th, gg = _mm512_mul_ps(g, f32(c->gscale));
    if (c->kind == FG_FLASH_ADAM) {
        if (c->coupled)
            gg = _mm512_add_ps(gg, _mm512_mul_ps(f32(c->wd), xw));
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(f32(c->b1), *m), _mm512_mul_ps(f32(c->one_b1), gg));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(f32(c->b2), *v),
                                  _mm512_mul_ps(_mm512_mul_ps(f32(c->one_b2), gg), gg));
        if (c->decoupled)
            xw = _mm512_mul_ps(xw, f32(c->keep));
        *sq = _mm512_sqrt_ps(vi);
        __m512 num = _mm512_mul_ps(f32(c->lr), _mm512_mul_ps(mi, f32(c->bc1)));
        __m512 den = _mm512_add_ps(_mm512_mul_ps(*sq, f32(c->bc2)), f32(c->eps));
        xw = _mm512_sub_ps(xw, _mm512_div_ps(num, den));
        *m = mi;
        *v = vi;
    } else if (c->kind == FG_FLASH_LION) {
        __m512 s = _mm512_add_ps(_mm512_mul_ps(f32(c->b1), *m), _mm512_mul_ps(f32(c->one_b1), gg));
        __m512 u = _mm512_mask_mov_ps(
            _mm512_setzero_ps(), _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_GT_OQ), f32(1.0f));
        u = _mm512_mask_mov_ps(u, _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_LT_OQ),
                               f32(-1.0f));
        *m = _mm512_add_ps(_mm512_mul_ps(f32(c->b2), *m), _mm512_mul_ps(f32(c->one_b2), gg));
        if (c->decoupled)
            xw = _mm512_mul_ps(xw, f32(c->keep));
        xw = _mm512_sub_ps(xw, _mm512_mul_ps(f32(c->lr), u));
    } else {
        if (c->coupled)
            gg = _mm512_add_ps(gg, _mm512_mul_ps(f32(c->wd), xw));
        __m512 d = gg;
        if (c->has_m) {
            __m512 mi =
                _mm512_add_ps(_mm512_mul_ps(f32(c->mu), *m), _mm512_mul_ps(f32(c->one_damp), gg));
            *m = mi;
            d = c->nesterov ? _mm512_add_ps(gg, _mm512_mul_ps(f32(c->mu), mi)) : mi;
        }
        if (c->decoupled)
            xw = _mm512_mul_ps(xw, f32(c->keep));
        xw = _mm512_sub_ps(xw, _mm512_mul_ps(f32(c->lr), d));
    }
    *th = xw;
}

/* Groups are processed in chunks of CHUNK: phase 1 decodes and updates every 16-lane vector of
 * the chunk into L1-resident buffers, phase 2 encodes the weights and, group by group, the
 * states. Each phase's iterations are independent, so the CPU overlaps the long division and
 * square-root chains of neighbouring vectors (one group at a time ran at about a third of
 * the speed). */
#    define CHUNK 8
_Static_assert(CHUNK == 8, "group_max8 reduces eight groups at a time");

void fg_flash_groups_avx512(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                            size_t i0, size_t n_groups, const struct coef *c)
{
    int adam = c->kind == FG_FLASH_ADAM, has_m = c->has_m;
    enum fg_flash_scale fmt = x->scale_fmt;
    _Alignas(64) float thb[CHUNK * G], mb[CHUNK * G], vb[CHUNK * G], sqb[CHUNK * G];
    __m512 zt[8];
    for (int r = 0; r < 8; r++)
        zt[r] = _mm512_load_ps(m_decoded + 16 * r);
    for (size_t c0 = 0; c0 < n_groups; c0 += CHUNK) {
        size_t nc = n_groups - c0 < CHUNK ? n_groups - c0 : CHUNK, base = i0 + c0 * G;
        /* phase 1: decode, update */
        for (size_t j = 0; j < nc * 2; j++) {
            size_t k = base + j * 16, grp = k / G;
            __m512 th, g, m = _mm512_setzero_ps(), v = _mm512_setzero_ps(),
                          sq = _mm512_setzero_ps();
            if (x->w32)
                th = _mm512_loadu_ps(x->w32 + k);
            else if (x->rho8)
                th = join_v(x->w16 + k,
                            _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x->rho8 + k))),
                            127.0f);
            else if (x->rho16)
                th = join_v(
                    x->w16 + k,
                    _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(x->rho16 + k))),
                    32767.0f);
            else
                th = bf16_load(x->w16 + k);
            g = g32 ? _mm512_loadu_ps(g32 + k) : bf16_load(g16 + k);
            if (has_m) {
                if (x->m32) {
                    m = _mm512_loadu_ps(x->m32 + k);
                } else { /* q / (254 - |q|) * scale */
                    __m512i q = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x->mq + k)));
                    m = _mm512_mul_ps(m_lookup(q, zt), f32(flash_scale_decode(x->ms[grp], fmt)));
                }
            }
            if (adam) {
                if (x->v32) {
                    v = _mm512_loadu_ps(x->v32 + k);
                } else { /* (q * (scale / 255))^2, code 0 as half a step if asked */
                    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x->vq + k)));
                    __m512 cq = _mm512_cvtepi32_ps(q);
                    if (x->v_zero_half)
                        cq = _mm512_mask_mov_ps(cq, _mm512_testn_epi32_mask(q, q), f32(0.5f));
                    __m512 r = _mm512_mul_ps(cq, f32(flash_scale_decode(x->vs[grp], fmt) / 255.0f));
                    v = _mm512_mul_ps(r, r);
                }
            }
            update16(c, &th, &m, &v, &sq, g);
            _mm512_store_ps(thb + j * 16, th);
            _mm512_store_ps(mb + j * 16, m);
            _mm512_store_ps(vb + j * 16, v);
            _mm512_store_ps(sqb + j * 16, sq);
        }
        /* phase 2: the weights */
        for (size_t j = 0; j < nc * 2; j++) {
            size_t k = base + j * 16;
            __m512 xw = _mm512_load_ps(thb + j * 16);
            if (x->w32) {
                _mm512_storeu_ps(x->w32 + k, xw);
            } else if (x->rho8 || x->rho16) {
                __m512i hb, rho = x->rho8 ? split8_v(xw, &hb) : split_v(xw, 32767, &hb);
                _mm256_storeu_si256((__m256i *)(x->w16 + k), _mm512_cvtepi32_epi16(hb));
                if (x->rho8)
                    _mm_storeu_si128((__m128i *)(x->rho8 + k), _mm512_cvtepi32_epi8(rho));
                else
                    _mm256_storeu_si256((__m256i *)(x->rho16 + k), _mm512_cvtepi32_epi16(rho));
            } else {
                _mm256_storeu_si256((__m256i *)(x->w16 + k), _mm512_cvtepi32_epi16(bf16_rne_v(xw)));
            }
        }
        /* phase 2: the states, requantized from their new values, group by group */
        if (has_m && x->m32) {
            memcpy(x->m32 + base, mb, nc * G * sizeof(float));
        } else if (has_m) {
            float amax[8];
            group_max8(mb, nc, 1, amax);
            for (size_t q = 0; q < nc; q++) {
                size_t grp = base / G + q;
                __m512 m0 = _mm512_load_ps(mb + q * G), m1 = _mm512_load_ps(mb + q * G + 16);
                __m512 inv = f32(1.0f / flash_scale_encode(amax[q], fmt, &x->ms[grp]));
                __m512 mm[2] = { m0, m1 };
                for (int h = 0; h < 2; h++) {
                    __m512 z = _mm512_mul_ps(mm[h], inv);
                    __m512 y = _mm512_div_ps(_mm512_mul_ps(f32(2.0f), z),
                                             _mm512_add_ps(f32(1.0f), absv(z)));
                    store_codes_m(x->mq + grp * G + (size_t)h * 16,
                                  _mm512_add_ps(_mm512_mul_ps(f32(127.0f), y), f32(0.5f)));
                }
            }
        }
        if (adam && x->v32) {
            memcpy(x->v32 + base, vb, nc * G * sizeof(float));
        } else if (adam) {
            float rmax[8];
            group_max8(sqb, nc, 0, rmax);
            for (size_t q = 0; q < nc; q++) {
                size_t grp = base / G + q;
                __m512 r0 = _mm512_load_ps(sqb + q * G), r1 = _mm512_load_ps(sqb + q * G + 16);
                __m512 kk = f32(255.0f / flash_scale_encode(rmax[q], fmt, &x->vs[grp]));
                __m512 rr[2] = { r0, r1 };
                for (int h = 0; h < 2; h++) {
                    store_codes_v(x->vq + grp * G + (size_t)h * 16,
                                  _mm512_add_ps(_mm512_mul_ps(rr[h], kk), f32(0.5f)));
                }
            }
        }
    }
}

#else /* not built for AVX-512 (another architecture): never selected */
void fg_flash_groups_avx512(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                            size_t i0, size_t n_groups, const struct coef *c)
{
    (void)x, (void)g32, (void)g16, (void)i0, (void)n_groups, (void)c;
}
#endif
