/* The bf16 product's micro-kernel on AVX512_BF16: a 12 x 32 tile of C in 24 registers, one
 * VDPBF16PS per row and half-tile per pair of k, the op(A) word broadcast from memory. The
 * instruction is the definition fg_gemm_bf16_ref spells out (kernels.h), so this kernel and the
 * portable one in gemm_bf16.c return the same bits. */
#include "gemm_bf16_int.h"

#include <string.h>

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

/* ---- AMX: the same product on the tile unit ------------------------------------------------
 * A 32 x 32 tile of C in four 16 x 16 fp32 tiles (tmm0-3), op(A) as two 16-row tiles (tmm4-5),
 * op(B) as two 16-column tiles (tmm6-7), 16 pairs of k per TDPBF16PS. The B panels are the
 * pair-interleaved ones VDPBF16PS reads (row p: 32 words), which is the layout the tile unit
 * wants for its second operand; the A panels are row-major (row c: kp16 pair words), the
 * transpose of the VDPBF16PS panel. The tile unit sums each instruction's products with its own
 * internal rounding, so its bits are not the definition's; every element still sums its k
 * blocks in ascending order from the fp32 value the previous block stored, so the result does
 * not depend on the thread count. */

#    define AMX_MR 32
#    define AMX_NR 32

/* the inline-assembly tile loads and stores are invisible to the compiler: fence the packed
 * buffers and C around them */
#    define COMPILER_FENCE() __asm__ volatile("" ::: "memory")

struct tile_config {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
};

__attribute__((target("amx-tile"))) void fg_gemm_bf16_amx_begin(void)
{
    struct tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) {
        cfg.colsb[i] = 64;
        cfg.rows[i] = 16;
    }
    /* not _tile_loadconfig: its operand names only the first 8 bytes, so the compiler may
     * drop the stores to the rest of the configuration */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg));
}

__attribute__((target("amx-tile"))) void fg_gemm_bf16_amx_end(void)
{
    _tile_release();
}

/* C (rows x cols valid, at most 32 x 32) [+]= A panel (32 rows of kp16 pair words) times B
 * panel (kp16 rows of 32 pair words); kp16 a multiple of 16 */
__attribute__((target("amx-tile,amx-bf16"))) void
fg_gemm_bf16_kern_amx(size_t kp16, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                      int rows, int cols, int load)
{
    float buf[AMX_MR * AMX_NR] __attribute__((aligned(64)));
    int full = rows == AMX_MR && cols == AMX_NR;
    float *cp = full ? c : buf;
    size_t ld = full ? ldc : AMX_NR, stride = ld * sizeof(float);
    size_t sa = kp16 * sizeof(uint32_t), sb = AMX_NR * sizeof(uint32_t);
    if (load && !full) {
        memset(buf, 0, sizeof buf);
        for (int r = 0; r < rows; r++)
            memcpy(buf + r * AMX_NR, c + (size_t)r * ldc, (size_t)cols * sizeof(float));
    }
    COMPILER_FENCE();
    if (load) {
        _tile_loadd(0, cp, stride);
        _tile_loadd(1, cp + 16, stride);
        _tile_loadd(2, cp + 16 * ld, stride);
        _tile_loadd(3, cp + 16 * ld + 16, stride);
    } else {
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
    }
    for (size_t p = 0; p < kp16; p += 16) {
        _tile_loadd(4, a + p, sa);
        _tile_loadd(5, a + 16 * kp16 + p, sa);
        _tile_loadd(6, b + p * AMX_NR, sb);
        _tile_loadd(7, b + p * AMX_NR + 16, sb);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, cp, stride);
    _tile_stored(1, cp + 16, stride);
    _tile_stored(2, cp + 16 * ld, stride);
    _tile_stored(3, cp + 16 * ld + 16, stride);
    COMPILER_FENCE();
    if (!full)
        for (int r = 0; r < rows; r++)
            memcpy(c + (size_t)r * ldc, buf + r * AMX_NR, (size_t)cols * sizeof(float));
}

/* op(A) rows [r0, r0 + nr), k in [k0, k0 + kc), as panels of 32 rows: panel q, row c, pair p
 * at out[(q 32 + c) kp16 + p], kp16 = ceil(kc / 2) rounded up to 16; zeros past nr and kc */
void fg_gemm_bf16_pack_a_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc)
{
    (void)w; /* always AMX_MR or AMX_NR, 32 */
    size_t kp = (kc + 1) / 2, kp16 = (kp + 15) & ~(size_t)15;
    size_t groups = (nr + AMX_MR - 1) / AMX_MR * (AMX_MR / 16);
    for (size_t g = 0; g < groups; g++) { /* 16 rows at a time */
        uint32_t *o = out + g * 16 * kp16;
        size_t c0 = g * 16, nl = nr > c0 ? (nr - c0 < 16 ? nr - c0 : 16) : 0;
        if (kcontig) { /* a row as stored is a row of the panel: pairs of it in order */
            for (size_t c = 0; c < 16; c++)
                for (size_t p0 = 0; p0 < kp16; p0 += 16) {
                    size_t nk = 2 * p0 < kc ? (kc - 2 * p0 < 32 ? kc - 2 * p0 : 32) : 0;
                    __m512i v = c < nl && nk ? load_pairs(x, r0 + c0 + c, k0 + 2 * p0, nk)
                                             : _mm512_setzero_si512();
                    _mm512_store_si512(o + c * kp16 + p0, v);
                }
        } else { /* a row per k: 16 pairs x 16 rows, interleaved, then transposed */
            for (size_t p0 = 0; p0 < kp16; p0 += 16) {
                __m512i r[16];
                for (size_t j = 0; j < 16; j++) {
                    size_t p = p0 + j;
                    __m512i v = _mm512_setzero_si512();
                    if (nl && p < kp) {
                        v = load16(x, k0 + 2 * p, r0 + c0, nl);
                        if (2 * p + 1 < kc)
                            v = _mm512_or_si512(
                                v, _mm512_slli_epi32(load16(x, k0 + 2 * p + 1, r0 + c0, nl), 16));
                    }
                    r[j] = v;
                }
                transpose16(r);
                for (size_t c = 0; c < 16; c++)
                    _mm512_store_si512(o + c * kp16 + p0, r[c]);
            }
        }
    }
}

/* op(B) columns [r0, r0 + nr) as the VDPBF16PS panels of 32 columns, each kp16 pairs long
 * (the pairs past ceil(kc / 2) zero) */
void fg_gemm_bf16_pack_b_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc)
{
    (void)w; /* always AMX_MR or AMX_NR, 32 */
    size_t kp = (kc + 1) / 2, kp16 = (kp + 15) & ~(size_t)15;
    for (size_t q = 0; q * AMX_NR < nr; q++) {
        uint32_t *o = out + q * kp16 * AMX_NR;
        size_t n = nr - q * AMX_NR < AMX_NR ? nr - q * AMX_NR : AMX_NR;
        fg_gemm_bf16_pack_avx512(o, x, kcontig, AMX_NR, r0 + q * AMX_NR, n, k0, kc);
        memset(o + kp * AMX_NR, 0, (kp16 - kp) * AMX_NR * sizeof(uint32_t));
    }
}

/* ---- peak loops (fg_gemm_bf16_peak_flops): the units' sustained rate, no memory traffic ---- */

/* iters x 12 independent VDPBF16PS (64 FLOPs each: 16 lanes x 2 pairs x multiply-add) */
__attribute__((target("avx512bf16"))) float fg_gemm_bf16_dp_loop(long iters)
{
    __m512 acc[12];
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3F803F80),
             y = (__m512bh)_mm512_set1_epi32(0x33803380);
    for (int k = 0; k < 12; k++)
        acc[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#    pragma GCC unroll 12
        for (int k = 0; k < 12; k++)
            acc[k] = _mm512_dpbf16_ps(acc[k], x, y);
    }
    __m512 s = acc[0];
    for (int k = 1; k < 12; k++)
        s = _mm512_add_ps(s, acc[k]);
    return _mm512_reduce_add_ps(s);
}

/* iters x 6 independent TDPBF16PS on 16 x 16 fp32 tiles, k = 32 (16 pairs): 16 x 16 x 32 x 2
 * = 16,384 FLOPs each; call between fg_gemm_bf16_amx_begin and _end */
__attribute__((target("amx-tile,amx-bf16"))) float fg_gemm_bf16_amx_loop(long iters)
{
    /* non-zero operands (zeros may draw less power and run at a higher clock than real data) */
    uint16_t x[16 * 32] __attribute__((aligned(64))), y[16 * 32] __attribute__((aligned(64)));
    float out[16 * 16] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++)
        x[i] = 0x3F80, y[i] = (uint16_t)(0x3380 + (i & 7)); /* 1 and about 6e-8 */
    COMPILER_FENCE();
    _tile_loadd(6, x, 64);
    _tile_loadd(7, y, 64);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    for (long i = 0; i < iters; i++) {
        _tile_dpbf16ps(0, 6, 7);
        _tile_dpbf16ps(1, 6, 7);
        _tile_dpbf16ps(2, 6, 7);
        _tile_dpbf16ps(3, 6, 7);
        _tile_dpbf16ps(4, 6, 7);
        _tile_dpbf16ps(5, 6, 7);
    }
    _tile_stored(0, out, 64);
    COMPILER_FENCE();
    return out[0];
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

float fg_gemm_bf16_dp_loop(long iters)
{
    (void)iters;
    return 0.0f;
}

float fg_gemm_bf16_amx_loop(long iters)
{
    (void)iters;
    return 0.0f;
}

void fg_gemm_bf16_amx_begin(void)
{
}

void fg_gemm_bf16_amx_end(void)
{
}

void fg_gemm_bf16_kern_amx(size_t kp16, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                           int rows, int cols, int load)
{
    (void)kp16, (void)a, (void)b, (void)c, (void)ldc, (void)rows, (void)cols, (void)load;
}

void fg_gemm_bf16_pack_a_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc)
{
    (void)out, (void)x, (void)kcontig, (void)w, (void)r0, (void)nr, (void)k0, (void)kc;
}

void fg_gemm_bf16_pack_b_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc)
{
    (void)out, (void)x, (void)kcontig, (void)w, (void)r0, (void)nr, (void)k0, (void)kc;
}
#endif
