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

/* 2^k per lane, k in [-126, 127] */
static inline __m512 pow2v(__m512i k)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(k, i32(127)), 23));
}

/* x * 2^k as two exact power-of-two products (floor halves; any split gives the same bits) */
static inline __m512 scale2v(__m512 x, __m512i k)
{
    __m512i h = _mm512_srai_epi32(k, 1);
    return _mm512_mul_ps(_mm512_mul_ps(x, pow2v(h)), pow2v(_mm512_sub_epi32(k, h)));
}

/* log2 of half a ULP of bf16 values held as the high halves of fp32 lanes */
static inline __m512i log2_half_ulp_v(__m512i bits)
{
    __m512i e = _mm512_and_si512(_mm512_srli_epi32(bits, 23), i32(0xFF));
    e = _mm512_max_epi32(e, i32(1));
    return _mm512_sub_epi32(e, i32(135));
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

/* join(h, rho): rho as int32 lanes, nmax 127 or 32767 */
static inline __m512 join_v(const uint16_t *w16, __m512i rho, float nmax)
{
    __m512 tq = bf16_load(w16);
    __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(rho), f32(1.0f / nmax));
    __m512 j = _mm512_add_ps(tq, scale2v(x, log2_half_ulp_v(_mm512_castps_si512(tq))));
    __mmask16 nz = _mm512_test_epi32_mask(rho, rho);
    return _mm512_mask_blend_ps(nz, tq, j);
}

/* the bf16 half of a split: round to nearest even, exact ties toward zero, NaN kept quiet;
 * the bf16 bits in the low half of each lane */
static inline __m512i split_bf16_v(__m512 theta)
{
    __m512i u = _mm512_castps_si512(theta);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), i32(1));
    __m512i rne = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, i32(0x7FFF)), lsb), 16);
    __m512i expo = _mm512_and_si512(u, i32(0x7F800000));
    __mmask16 naninf = _mm512_cmpeq_epi32_mask(expo, i32(0x7F800000));
    __mmask16 nan = naninf & _mm512_test_epi32_mask(u, i32(0x007FFFFF));
    __mmask16 tie = (__mmask16)(~naninf & _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, i32(0xFFFF)),
                                                                  i32(0x8000)));
    __m512i hi = _mm512_srli_epi32(u, 16);
    __m512i h = _mm512_mask_blend_epi32(tie, rne, hi);
    return _mm512_mask_blend_epi32(nan, h, _mm512_or_si512(hi, i32(0x0040)));
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

/* round half away from zero of finite lanes */
static inline __m512 round_away_v(__m512 x)
{
    __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(absv(_mm512_sub_ps(x, t)), f32(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(x), i32((int)0x80000000u)),
                        _mm512_castps_si512(f32(1.0f))));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* split 16 weights: bf16 bits out (as int32 lanes) and rho (int32 lanes) */
static inline __m512i split_v(__m512 theta, float nmax, __m512i *h_out)
{
    __m512i h = split_bf16_v(theta);
    __m512i tqb = _mm512_slli_epi32(h, 16);
    __m512 e = _mm512_sub_ps(theta, _mm512_castsi512_ps(tqb));
    __m512 en = scale2v(e, _mm512_sub_epi32(_mm512_setzero_si512(), log2_half_ulp_v(tqb)));
    __mmask16 ok = _mm512_cmp_ps_mask(en, en, _CMP_ORD_Q);
    en = _mm512_min_ps(_mm512_max_ps(en, f32(-1.0f)), f32(1.0f));
    en = _mm512_maskz_mov_ps(ok, en);
    *h_out = h;
    return _mm512_cvttps_epi32(round_away_v(_mm512_mul_ps(en, f32(nmax))));
}

/* a code floor(k y + 0.5) clamped to [lo, hi], NaN -> 0, as int32 lanes */
static inline __m512i code_v(__m512 c, float lo, float hi)
{
    __mmask16 ok = _mm512_cmp_ps_mask(c, c, _CMP_ORD_Q);
    c = _mm512_min_ps(_mm512_max_ps(c, f32(lo)), f32(hi));
    return _mm512_cvttps_epi32(_mm512_maskz_mov_ps(ok, c));
}

/* max over both halves, NaN lanes ignored (vmaxps returns its second operand on NaN) */
static inline float max2_ignore_nan(__m512 a, __m512 b)
{
    __m512 acc = _mm512_max_ps(a, _mm512_setzero_ps());
    acc = _mm512_max_ps(b, acc);
    return _mm512_reduce_max_ps(acc);
}

void fg_flash_groups_avx512(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                            size_t i0, size_t n_groups, const struct coef *c)
{
    int adam = c->kind == FG_FLASH_ADAM, has_m = c->has_m;
    enum fg_flash_scale fmt = x->scale_fmt;
    const __m512 b1 = f32(c->b1), b2 = f32(c->b2), ob1 = f32(c->one_b1), ob2 = f32(c->one_b2);
    const __m512 bc1 = f32(c->bc1), bc2 = f32(c->bc2), eps = f32(c->eps), lr = f32(c->lr);
    const __m512 gs = f32(c->gscale), wd = f32(c->wd), keep = f32(c->keep);
    const __m512 mu = f32(c->mu), od = f32(c->one_damp);
    for (size_t gi = 0; gi < n_groups; gi++) {
        size_t i = i0 + gi * G, grp = i / G;
        __m512 sq[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() }; /* sqrt(new v), Adam */
        __m512 th[2], g[2], m[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() },
                            v[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() };
        float dm = 0.0f, dv = 0.0f;
        if (has_m && !x->m32)
            dm = flash_scale_decode(x->ms[grp], fmt);
        if (adam && !x->v32)
            dv = flash_scale_decode(x->vs[grp], fmt) / 255.0f;
        for (int h = 0; h < 2; h++) {
            size_t k = i + (size_t)h * 16;
            /* prologue */
            if (x->w32)
                th[h] = _mm512_loadu_ps(x->w32 + k);
            else if (x->rho8)
                th[h] = join_v(
                    x->w16 + k,
                    _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x->rho8 + k))), 127.0f);
            else if (x->rho16)
                th[h] = join_v(
                    x->w16 + k,
                    _mm512_cvtepi16_epi32(_mm256_loadu_si256((const __m256i *)(x->rho16 + k))),
                    32767.0f);
            else
                th[h] = bf16_load(x->w16 + k);
            g[h] = g32 ? _mm512_loadu_ps(g32 + k) : bf16_load(g16 + k);
            if (has_m) {
                if (x->m32) {
                    m[h] = _mm512_loadu_ps(x->m32 + k);
                } else {
                    __m512 qf = _mm512_cvtepi32_ps(
                        _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(x->mq + k))));
                    __m512 z = _mm512_div_ps(qf, _mm512_sub_ps(f32(254.0f), absv(qf)));
                    m[h] = _mm512_mul_ps(z, f32(dm));
                }
            }
            if (adam) {
                if (x->v32) {
                    v[h] = _mm512_loadu_ps(x->v32 + k);
                } else {
                    __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(x->vq + k)));
                    __m512 cq = _mm512_cvtepi32_ps(q);
                    if (x->v_zero_half)
                        cq = _mm512_mask_mov_ps(cq, _mm512_testn_epi32_mask(q, q), f32(0.5f));
                    __m512 r = _mm512_mul_ps(cq, f32(dv));
                    v[h] = _mm512_mul_ps(r, r);
                }
            }
            /* the update: the scalar upd_* operation for operation */
            __m512 xw = th[h], gg = _mm512_mul_ps(g[h], gs);
            if (adam) {
                if (c->coupled)
                    gg = _mm512_add_ps(gg, _mm512_mul_ps(wd, xw));
                __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, m[h]), _mm512_mul_ps(ob1, gg));
                __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, v[h]),
                                          _mm512_mul_ps(_mm512_mul_ps(ob2, gg), gg));
                if (c->decoupled)
                    xw = _mm512_mul_ps(xw, keep);
                __m512 num = _mm512_mul_ps(lr, _mm512_mul_ps(mi, bc1));
                sq[h] = _mm512_sqrt_ps(vi); /* also the quantizer's sqrt(v) below */
                __m512 den = _mm512_add_ps(_mm512_mul_ps(sq[h], bc2), eps);
                xw = _mm512_sub_ps(xw, _mm512_div_ps(num, den));
                m[h] = mi;
                v[h] = vi;
            } else if (c->kind == FG_FLASH_LION) {
                __m512 s = _mm512_add_ps(_mm512_mul_ps(b1, m[h]), _mm512_mul_ps(ob1, gg));
                __m512 u = _mm512_mask_mov_ps(
                    _mm512_setzero_ps(), _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_GT_OQ),
                    f32(1.0f));
                u = _mm512_mask_mov_ps(u, _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_LT_OQ),
                                       f32(-1.0f));
                m[h] = _mm512_add_ps(_mm512_mul_ps(b2, m[h]), _mm512_mul_ps(ob2, gg));
                if (c->decoupled)
                    xw = _mm512_mul_ps(xw, keep);
                xw = _mm512_sub_ps(xw, _mm512_mul_ps(lr, u));
            } else {
                if (c->coupled)
                    gg = _mm512_add_ps(gg, _mm512_mul_ps(wd, xw));
                __m512 d = gg;
                if (has_m) {
                    __m512 mi = _mm512_add_ps(_mm512_mul_ps(mu, m[h]), _mm512_mul_ps(od, gg));
                    m[h] = mi;
                    d = c->nesterov ? _mm512_add_ps(gg, _mm512_mul_ps(mu, mi)) : mi;
                }
                if (c->decoupled)
                    xw = _mm512_mul_ps(xw, keep);
                xw = _mm512_sub_ps(xw, _mm512_mul_ps(lr, d));
            }
            th[h] = xw;
            /* epilogue: the weights */
            if (x->w32) {
                _mm512_storeu_ps(x->w32 + k, xw);
            } else if (x->rho8 || x->rho16) {
                __m512i hb, rho = split_v(xw, x->rho8 ? 127.0f : 32767.0f, &hb);
                _mm256_storeu_si256((__m256i *)(x->w16 + k), _mm512_cvtepi32_epi16(hb));
                if (x->rho8)
                    _mm_storeu_si128((__m128i *)(x->rho8 + k), _mm512_cvtepi32_epi8(rho));
                else
                    _mm256_storeu_si256((__m256i *)(x->rho16 + k), _mm512_cvtepi32_epi16(rho));
            } else {
                _mm256_storeu_si256((__m256i *)(x->w16 + k), _mm512_cvtepi32_epi16(bf16_rne_v(xw)));
            }
        }
        /* epilogue: the states, requantized from their new values */
        if (has_m) {
            if (x->m32) {
                _mm512_storeu_ps(x->m32 + i, m[0]);
                _mm512_storeu_ps(x->m32 + i + 16, m[1]);
            } else {
                float a = max2_ignore_nan(absv(m[0]), absv(m[1]));
                __m512 inv = f32(1.0f / flash_scale_encode(a, fmt, &x->ms[grp]));
                for (int h = 0; h < 2; h++) {
                    __m512 z = _mm512_mul_ps(m[h], inv);
                    __m512 y = _mm512_div_ps(_mm512_mul_ps(f32(2.0f), z),
                                             _mm512_add_ps(f32(1.0f), absv(z)));
                    __m512 cf = _mm512_roundscale_ps(
                        _mm512_add_ps(_mm512_mul_ps(f32(127.0f), y), f32(0.5f)),
                        _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
                    _mm_storeu_si128((__m128i *)(x->mq + i + (size_t)h * 16),
                                     _mm512_cvtepi32_epi8(code_v(cf, -127.0f, 127.0f)));
                }
            }
        }
        if (adam) {
            if (x->v32) {
                _mm512_storeu_ps(x->v32 + i, v[0]);
                _mm512_storeu_ps(x->v32 + i + 16, v[1]);
            } else {
                __m512 r0 = sq[0], r1 = sq[1];
                float a = max2_ignore_nan(r0, r1);
                __m512 kk = f32(255.0f / flash_scale_encode(a, fmt, &x->vs[grp]));
                __m512 rr[2] = { r0, r1 };
                for (int h = 0; h < 2; h++) {
                    __m512 cf =
                        _mm512_roundscale_ps(_mm512_add_ps(_mm512_mul_ps(rr[h], kk), f32(0.5f)),
                                             _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
                    _mm_storeu_si128((__m128i *)(x->vq + i + (size_t)h * 16),
                                     _mm512_cvtepi32_epi8(code_v(cf, 0.0f, 255.0f)));
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
