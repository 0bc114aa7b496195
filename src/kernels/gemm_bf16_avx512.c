/* The bf16 product's micro-kernel on AVX512_BF16: a 12 x 32 tile of C in 24 registers, one
 * VDPBF16PS per row and half-tile per pair of k, the op(A) word broadcast from memory. The
 * instruction is the definition fg_gemm_bf16_ref spells out (kernels.h), so this kernel and the
 * portable one in gemm_bf16.c return the same bits. */
#include "gemm_bf16_int.h"

#include "frugal/kernels.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>

#    define MR FG_GEMM_MR
#    define NR FG_GEMM_NR

__attribute__((target("avx512bf16"))) void
fg_gemm_bf16_kern_avx512bf16(size_t kp, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                             int rows, int cols, int load)
{
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    __m512 acc0[MR], acc1[MR];
#    pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (load && r < rows) {
            acc0[r] = _mm512_maskz_loadu_ps(m0, c + (size_t)r * ldc);
            acc1[r] = _mm512_maskz_loadu_ps(m1, c + (size_t)r * ldc + 16);
        } else {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }
    }
    for (size_t p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR + 16);
        const uint32_t *ap = a + p * MR;
#    pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r]);
            acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
            acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
        }
    }
#    pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r < rows) {
            _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc0[r]);
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc1[r]);
        }
    }
}

/* ---- packing (AVX-512F/BW; no BF16 instruction, so it serves the portable kernel too) ---- */

static inline __m512i set1(int v)
{
    return _mm512_set1_epi32(v);
}

/* fp32 to bf16 bits (low half of each 32-bit lane), round to nearest even, NaN made quiet:
 * fg_bf16_encode lane by lane (it keeps subnormals, which vcvtneps2bf16 would flush) */
static inline __m512i rne16(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), set1(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, set1(0x7FFF)), lsb), 16);
    __mmask16 nan =
        _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, set1(0x7FFFFFFF)), set1(0x7F800000));
    return _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), set1(0x40));
}

static inline __mmask16 mask16(size_t n)
{
    return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
}

/* n (<= 16) values of row s of X as stored from column t, as bf16 bits in the low halves of
 * 32-bit lanes; lanes from n on are zero */
static inline __m512i load16(const struct fg_gemm_op *x, size_t s, size_t t, size_t n)
{
    __mmask16 k = mask16(n);
    if (x->bf16)
        return _mm512_cvtepu16_epi32(
            _mm256_maskz_loadu_epi16(k, (const uint16_t *)x->data + s * x->ld + t));
    return rne16(_mm512_maskz_loadu_ps(k, (const float *)x->data + s * x->ld + t));
}

/* n (<= 32) values of row s from column t as 16 pair words (k even low, odd high), zero past n */
static inline __m512i load_pairs(const struct fg_gemm_op *x, size_t s, size_t t, size_t n)
{
    if (x->bf16) {
        __mmask32 k = n >= 32 ? (__mmask32)0xFFFFFFFF : (__mmask32)((1u << n) - 1);
        return _mm512_maskz_loadu_epi16(k, (const uint16_t *)x->data + s * x->ld + t);
    }
    __m512i a = load16(x, s, t, n),
            b = n > 16 ? load16(x, s, t + 16, n - 16) : _mm512_setzero_si512();
    /* the low 16-bit half of each of the 32 words of a:b, in order */
    const __m512i even =
        _mm512_set_epi16(62, 60, 58, 56, 54, 52, 50, 48, 46, 44, 42, 40, 38, 36, 34, 32, 30, 28, 26,
                         24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    return _mm512_permutex2var_epi16(a, even, b);
}

/* r[i] word j -> r[j] word i */
static inline void transpose16(__m512i r[16])
{
    __m512i t[16], u[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* u[4i + j], 128-bit lane L: rows 4i .. 4i + 3 of column 4L + j */
    for (int j = 0; j < 4; j++) {
        __m512i v0 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88); /* L0 L2 | L0 L2 */
        __m512i v1 = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD); /* L1 L3 | L1 L3 */
        __m512i v2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
        __m512i v3 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_i32x4(v0, v2, 0x88);
        r[4 + j] = _mm512_shuffle_i32x4(v1, v3, 0x88);
        r[8 + j] = _mm512_shuffle_i32x4(v0, v2, 0xDD);
        r[12 + j] = _mm512_shuffle_i32x4(v1, v3, 0xDD);
    }
}

void fg_gemm_bf16_pack_avx512(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                              size_t r0, size_t nr, size_t k0, size_t kc)
{
    size_t kp = (kc + 1) / 2, n_panels = (nr + w - 1) / w;
    for (size_t q = 0; q < n_panels; q++) {
        uint32_t *o = out + q * kp * w;
        size_t lanes = nr - q * w < w ? nr - q * w : w, base = r0 + q * w;
        for (size_t c0 = 0; c0 < w; c0 += 16) {
            size_t nl = lanes > c0 ? lanes - c0 : 0; /* valid lanes in this group of 16 */
            __mmask16 st = mask16(w - c0);           /* lanes of the panel in this group */
            if (nl > 16)
                nl = 16;
            if (kcontig) { /* a row per lane: 16 pairs of 16 lanes at a time, transposed */
                for (size_t p0 = 0; p0 < kp; p0 += 16) {
                    __m512i r[16];
                    size_t nk = kc - 2 * p0 < 32 ? kc - 2 * p0 : 32;
                    for (size_t i = 0; i < 16; i++)
                        r[i] = i < nl ? load_pairs(x, base + c0 + i, k0 + 2 * p0, nk)
                                      : _mm512_setzero_si512();
                    transpose16(r);
                    size_t np = kp - p0 < 16 ? kp - p0 : 16;
                    for (size_t j = 0; j < np; j++)
                        _mm512_mask_storeu_epi32(o + (p0 + j) * w + c0, st, r[j]);
                }
            } else { /* a row per k: two rows interleaved */
                for (size_t p = 0; p < kp; p++) {
                    __m512i v = _mm512_setzero_si512();
                    if (nl) {
                        v = load16(x, k0 + 2 * p, base + c0, nl);
                        if (2 * p + 1 < kc)
                            v = _mm512_or_si512(
                                v, _mm512_slli_epi32(load16(x, k0 + 2 * p + 1, base + c0, nl), 16));
                    }
                    _mm512_mask_storeu_epi32(o + p * w + c0, st, v);
                }
            }
        }
    }
}

#else /* not built for AVX-512 (another architecture): never selected */
void fg_gemm_bf16_pack_avx512(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                              size_t r0, size_t nr, size_t k0, size_t kc)
{
    (void)out, (void)x, (void)kcontig, (void)w, (void)r0, (void)nr, (void)k0, (void)kc;
}

void fg_gemm_bf16_kern_avx512bf16(size_t kp, const uint32_t *a, const uint32_t *b, float *c,
                                  size_t ldc, int rows, int cols, int load)
{
    (void)kp, (void)a, (void)b, (void)c, (void)ldc, (void)rows, (void)cols, (void)load;
}
#endif
