/* MX dot products and the matrix product on MX operands (C = bias + A B^T, both quantized
 * along K), as the linear layers need it.
 *
 * MXINT8 x MXINT8 is exact integer arithmetic per block: 32 products of int8 codes sum to at
 * most 32 * 128 * 128 = 2^19 in magnitude, so int32 holds them and cvtdq2ps converts them
 * exactly; the block value S 2^(s_a + s_b - 266) is rounded once, and blocks are added in fp32
 * in block order (OCP MX v1.0, section 6: "multi-block dot products accumulate in FP32"). Every
 * path performs exactly these operations, so all give the same bits. The floating-point formats
 * have no integer trick worth having on a CPU: they are dequantized to fp32 (exact) and
 * multiplied by OpenBLAS sgemm (the "via conversion" path); the error bound is derived in
 * docs/numerics.md, section 10.5. */
#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "frugal/core.h"
#include "numerics_int.h"

static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...)
{
    if (!errmsg || errmsg_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, errmsg_len, fmt, ap);
    va_end(ap);
}

/* ---- the definition: one block pair ------------------------------------------------------ */

/* S 2^(s_a + s_b - 266): the exact block sum, scaled and rounded once; NaN for a NaN scale. */
static inline float i8_block_value(int32_t S, uint8_t sa, uint8_t sb)
{
    if (sa == FG_MX_SCALE_NAN || sb == FG_MX_SCALE_NAN)
        return NAN;
    return ldexpf((float)S, (int)sa + (int)sb - 266);
}

static int32_t i8_block_sum(const uint8_t *a, const uint8_t *b)
{
    int32_t s = 0;
    for (int i = 0; i < FG_MX_BLOCK; i++)
        s += (int32_t)(int8_t)a[i] * (int32_t)(int8_t)b[i];
    return s;
}

static float dot_i8_ref(float acc, const uint8_t *sa, const uint8_t *ca, const uint8_t *sb,
                        const uint8_t *cb, size_t n_blocks)
{
    for (size_t j = 0; j < n_blocks; j++)
        acc += i8_block_value(i8_block_sum(ca + j * 32, cb + j * 32), sa[j], sb[j]);
    return acc;
}

/* Floating point (or mixed) via conversion: dequantized elements, fp32 products, ascending. */
static float dot_fp_ref(float acc, enum fg_mx_format fa, const uint8_t *sa, const uint8_t *ca,
                        enum fg_mx_format fb, const uint8_t *sb, const uint8_t *cb, size_t n_blocks)
{
    const struct fg_mx_format_info *ia = &fg_mx_formats[fa], *ib = &fg_mx_formats[fb];
    float va[FG_MX_BLOCK], vb[FG_MX_BLOCK];
    for (size_t j = 0; j < n_blocks; j++) {
        fg_mx_dequantize_block_ref(ia, sa[j], ca + j * ia->block_bytes, va);
        fg_mx_dequantize_block_ref(ib, sb[j], cb + j * ib->block_bytes, vb);
        for (int i = 0; i < FG_MX_BLOCK; i++)
            acc += va[i] * vb[i];
    }
    return acc;
}

fg_status fg_mx_dot_ref(enum fg_mx_format f, const uint8_t *a_scales, const uint8_t *a_codes,
                        const uint8_t *b_scales, const uint8_t *b_codes, size_t n_blocks,
                        float *out)
{
    if (!fg_mx_format_info(f) || !out ||
        (n_blocks && (!a_scales || !a_codes || !b_scales || !b_codes)))
        return FG_ERR_INVALID_ARG;
    if (f == FG_MX_FORMAT_INT8)
        *out = dot_i8_ref(0.0f, a_scales, a_codes, b_scales, b_codes, n_blocks);
    else
        *out = dot_fp_ref(0.0f, f, a_scales, a_codes, f, b_scales, b_codes, n_blocks);
    return FG_OK;
}

fg_status fg_mx_dot(enum fg_mx_format f, const uint8_t *a_scales, const uint8_t *a_codes,
                    const uint8_t *b_scales, const uint8_t *b_codes, size_t n_blocks,
                    enum fg_num_path path, float *out)
{
    enum fg_num_path p = fg_num_path_resolve(path);
    if (p < FG_NUM_PATH_AVX512 || !fg_mx_format_info(f))
        return fg_mx_dot_ref(f, a_scales, a_codes, b_scales, b_codes, n_blocks, out);
    if (!out || (n_blocks && (!a_scales || !a_codes || !b_scales || !b_codes)))
        return FG_ERR_INVALID_ARG;
    if (f != FG_MX_FORMAT_INT8) {
        *out = fg_mx_dot_fp_avx512(f, a_scales, a_codes, f, b_scales, b_codes, n_blocks);
        return FG_OK;
    }
    int vnni = p == FG_NUM_PATH_AVX512X && fg_num_cpu_has_vnni();
    float acc = 0.0f;
    for (size_t j = 0; j < n_blocks; j++) {
        int32_t S = fg_mx_block_dot_i8_avx512((const int8_t *)(a_codes + j * 32),
                                              (const int8_t *)(b_codes + j * 32), vnni);
        acc += i8_block_value(S, a_scales[j], b_scales[j]);
    }
    *out = acc;
    return FG_OK;
}

/* ---- matmul: arguments and workspace ------------------------------------------------------ */

static fg_status check_matmul(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                              const struct fg_mx_params *p, char *errmsg, size_t errmsg_len)
{
    if (!A || !B || !C) {
        set_err(errmsg, errmsg_len, "MX matmul: NULL matrix or output");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_mx_format_info(A->format) || !fg_mx_format_info(B->format)) {
        set_err(errmsg, errmsg_len, "MX matmul: unknown format (A %d, B %d)", (int)A->format,
                (int)B->format);
        return FG_ERR_INVALID_ARG;
    }
    if (p && p->block_size != FG_MX_BLOCK) {
        set_err(errmsg, errmsg_len,
                "MX block size %d is not supported: OCP MX v1.0 blocks hold 32 elements (set "
                "block_size = 32)",
                p->block_size);
        return FG_ERR_UNSUPPORTED;
    }
    if (A->cols != B->cols) {
        set_err(errmsg, errmsg_len,
                "MX matmul: A has %zu columns but B has %zu; both must be K (C = A B^T)", A->cols,
                B->cols);
        return FG_ERR_INVALID_ARG;
    }
    if (A->cols % FG_MX_BLOCK) {
        set_err(errmsg, errmsg_len,
                "MX matmul: K = %zu is not a multiple of the MX block (32): pad the reduction "
                "axis to %zu",
                A->cols, (A->cols / FG_MX_BLOCK + 1) * FG_MX_BLOCK);
        return FG_ERR_INVALID_ARG;
    }
    if ((A->rows && A->cols && (!A->scales || !A->codes)) ||
        (B->rows && B->cols && (!B->scales || !B->codes))) {
        set_err(errmsg, errmsg_len, "MX matmul: NULL scales or codes");
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

/* The workspace pieces, 64-byte aligned within the caller's buffer. */
struct mm_layout {
    size_t bpack, bexp, a16, acorr, aexp, total; /* byte offsets, total size */
    size_t fa, fb;                               /* FP path: dequantized A and B */
};

static size_t up64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

/* Returns 0 on overflow. */
static int mm_layout_of(int int8, size_t M, size_t N, size_t K, struct mm_layout *L)
{
    memset(L, 0, sizeof *L);
    size_t nbk = K / FG_MX_BLOCK, Np = N / 32 + (N % 32 != 0), t, u, v;
    if (int8) {
        /* the larger of the two layouts: int16 B panels and A codes (plain) */
        if (fg_size_mul(Np, nbk, &t) || fg_size_mul(t, 2048, &u) || fg_size_mul(t, 128, &v))
            return 0;
        L->bpack = 0;
        L->bexp = up64(u);
        if (fg_size_add(L->bexp, up64(v), &L->a16))
            return 0;
        if (fg_size_mul(M, K, &t) || fg_size_mul(t, 2, &u) ||
            fg_size_add(L->a16, up64(u), &L->acorr))
            return 0;
        if (fg_size_mul(M, nbk, &t) || fg_size_mul(t, 4, &u) ||
            fg_size_add(L->acorr, up64(u), &L->aexp) || fg_size_add(L->aexp, up64(u), &L->total))
            return 0;
        return 1;
    }
    if (fg_size_mul(M, K, &t) || fg_size_mul(t, 4, &u) || fg_size_mul(N, K, &t) ||
        fg_size_mul(t, 4, &v))
        return 0;
    L->fa = 0;
    L->fb = up64(u);
    return !fg_size_add(L->fb, up64(v), &L->total);
}

size_t fg_mx_matmul_work_bytes(enum fg_mx_format fa, enum fg_mx_format fb, size_t M, size_t N,
                               size_t K)
{
    struct mm_layout L;
    int int8 = fa == FG_MX_FORMAT_INT8 && fb == FG_MX_FORMAT_INT8;
    if (!mm_layout_of(int8, M, N, K, &L))
        return SIZE_MAX;
    return L.total ? L.total + 64 : 0; /* + 64: room to align the caller's pointer */
}

/* ---- matmul: _ref ------------------------------------------------------------------------- */

fg_status fg_mx_matmul_ref(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                           const float *bias, char *errmsg, size_t errmsg_len)
{
    FG_TRY(check_matmul(C, A, B, NULL, errmsg, errmsg_len));
    size_t M = A->rows, N = B->rows, nbk = A->cols / FG_MX_BLOCK;
    size_t ba = fg_mx_formats[A->format].block_bytes, bb = fg_mx_formats[B->format].block_bytes;
    int int8 = A->format == FG_MX_FORMAT_INT8 && B->format == FG_MX_FORMAT_INT8;
    for (size_t m = 0; m < M; m++) {
        const uint8_t *sa = A->scales + m * nbk, *ca = A->codes + m * nbk * ba;
        for (size_t n = 0; n < N; n++) {
            const uint8_t *sb = B->scales + n * nbk, *cb = B->codes + n * nbk * bb;
            float acc = bias ? bias[n] : 0.0f;
            C[m * N + n] = int8 ? dot_i8_ref(acc, sa, ca, sb, cb, nbk)
                                : dot_fp_ref(acc, A->format, sa, ca, B->format, sb, cb, nbk);
        }
    }
    return FG_OK;
}

/* ---- matmul: fast paths ------------------------------------------------------------------ */

/* Portable MXINT8: the _ref loops, rows in parallel (integer sums; same bits). */
static void i8_generic(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                       const float *bias, int nt)
{
    (void)nt; /* unused when built without OpenMP */
    size_t M = A->rows, N = B->rows, K = A->cols, nbk = K / FG_MX_BLOCK;
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(C, A, B, bias, M, N, K, nbk)
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++)
            C[m * N + n] = dot_i8_ref(bias ? bias[n] : 0.0f, A->scales + m * nbk, A->codes + m * K,
                                      B->scales + n * nbk, B->codes + n * K, nbk);
}

/* Rows per unit of work in the AVX-512 MXINT8 product (a multiple of the 6-row tile). */
#define MM_ROW_CHUNK 60

static void i8_avx512(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                      const float *bias, int nt, int vnni, uint8_t *w, const struct mm_layout *L)
{
    (void)nt; /* unused when built without OpenMP */
    size_t M = A->rows, N = B->rows, K = A->cols, nbk = K / FG_MX_BLOCK;
    size_t Np = N / 32 + (N % 32 != 0), n_mch = (M + MM_ROW_CHUNK - 1) / MM_ROW_CHUNK;
    struct fg_mx_i8_operands op;
    op.M = M;
    op.N = N;
    op.K = K;
    op.nbk = nbk;
    op.Np = Np;
    op.vnni = vnni;
    op.a = (const int8_t *)A->codes;
    op.a16 = (int16_t *)(void *)(w + L->a16);
    op.acorr = (int32_t *)(void *)(w + L->acorr);
    op.aexp = (float *)(void *)(w + L->aexp);
    op.bpack = w + L->bpack;
    op.bexp = (float *)(void *)(w + L->bexp);
    op.bias = bias;
    int16_t *a16 = (int16_t *)(void *)(w + L->a16);
    int32_t *acorr = (int32_t *)(void *)(w + L->acorr);
    float *aexp = (float *)(void *)(w + L->aexp);
    void *bpack = w + L->bpack;
    float *bexp = (float *)(void *)(w + L->bexp);
    size_t n_units = Np * n_mch;
#pragma omp parallel num_threads(nt) default(none) \
    shared(C, A, B, M, K, nbk, Np, n_mch, n_units, vnni, op, a16, acorr, aexp, bpack, bexp)
    {
#pragma omp for schedule(static)
        for (size_t p = 0; p < Np; p++)
            fg_mx_i8_pack_b_avx512(B, vnni, p, p + 1, bpack, bexp);
#pragma omp for schedule(static)
        for (size_t m = 0; m < M; m++) {
            const int8_t *a = (const int8_t *)A->codes + m * K;
            for (size_t j = 0; j < nbk; j++) {
                uint8_t s = A->scales[m * nbk + j];
                aexp[m * nbk + j] = s == FG_MX_SCALE_NAN ? NAN : (float)((int)s - 133);
                int32_t sum = 0;
                for (size_t i = 0; i < FG_MX_BLOCK; i++)
                    sum += a[j * 32 + i];
                if (vnni)
                    acorr[m * nbk + j] = -128 * sum;
            }
            if (!vnni)
                for (size_t k = 0; k < K; k++)
                    a16[m * K + k] = a[k];
        }
        /* implicit barrier: the operands are ready */
#pragma omp for schedule(static)
        for (size_t u = 0; u < n_units; u++) {
            size_t p = u / n_mch, m0 = u % n_mch * MM_ROW_CHUNK;
            size_t m1 = m0 + MM_ROW_CHUNK < M ? m0 + MM_ROW_CHUNK : M;
            fg_mx_i8_matmul_avx512(C, &op, m0, m1, p, p + 1);
        }
    }
}

/* Floating point via conversion: dequantize both operands, then one sgemm (beta = 1 onto the
 * bias rows), called outside the parallel region. */
static void fp_convert(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                       const float *bias, int nt, enum fg_num_path path, uint8_t *w,
                       const struct mm_layout *L)
{
    (void)nt; /* unused when built without OpenMP */
    size_t M = A->rows, N = B->rows, K = A->cols, nbk = K / FG_MX_BLOCK;
    float *fa = (float *)(void *)(w + L->fa), *fb = (float *)(void *)(w + L->fb);
    const struct fg_mx_matrix *mats[2] = { A, B };
    float *outs[2] = { fa, fb };
    int avx = path >= FG_NUM_PATH_AVX512;
    for (int t = 0; t < 2; t++) {
        const struct fg_mx_matrix *X = mats[t];
        const struct fg_mx_format_info *fi = &fg_mx_formats[X->format];
        size_t rows = X->rows, bb = fi->block_bytes;
        enum fg_mx_format f = X->format;
        float *o = outs[t];
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(X, fi, f, rows, bb, nbk, K, o, avx)
        for (size_t r = 0; r < rows; r++) {
            if (avx)
                fg_mx_dequantize_blocks_avx512(fi, f, X->scales + r * nbk, X->codes + r * nbk * bb,
                                               nbk, o + r * K);
            else
                for (size_t j = 0; j < nbk; j++)
                    fg_mx_dequantize_block_ref(fi, X->scales[r * nbk + j],
                                               X->codes + (r * nbk + j) * bb,
                                               o + r * K + j * FG_MX_BLOCK);
        }
    }
    if (bias) /* sgemm adds onto the bias rows (beta = 1), as fg_matmul_forward does */
        for (size_t m = 0; m < M; m++)
            memcpy(C + m * N, bias, N * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)M, (blasint)N, (blasint)K, 1.0f,
                fa, (blasint)K, fb, (blasint)K, bias ? 1.0f : 0.0f, C, (blasint)N);
}

fg_status fg_mx_matmul(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                       const float *bias, const struct fg_mx_params *p, void *work,
                       size_t work_bytes, char *errmsg, size_t errmsg_len)
{
    FG_TRY(check_matmul(C, A, B, p, errmsg, errmsg_len));
    enum fg_num_path path = fg_num_path_resolve(p ? p->path : FG_NUM_PATH_AUTO);
    if (path == FG_NUM_PATH_REF)
        return fg_mx_matmul_ref(C, A, B, bias, errmsg, errmsg_len);
    size_t M = A->rows, N = B->rows, K = A->cols;
    if (M == 0 || N == 0)
        return FG_OK;
    int nt = p && p->n_threads > 1 ? p->n_threads : 1;
    int int8 = A->format == FG_MX_FORMAT_INT8 && B->format == FG_MX_FORMAT_INT8;
    if (int8 && path < FG_NUM_PATH_AVX512) {
        i8_generic(C, A, B, bias, nt);
        return FG_OK;
    }
    if (K == 0) { /* empty reduction: the bias (or zeros) */
        for (size_t m = 0; m < M; m++)
            for (size_t n = 0; n < N; n++)
                C[m * N + n] = bias ? bias[n] : 0.0f;
        return FG_OK;
    }
    struct mm_layout L;
    size_t need = fg_mx_matmul_work_bytes(A->format, B->format, M, N, K);
    if (!mm_layout_of(int8, M, N, K, &L) || !work || work_bytes < need) {
        set_err(errmsg, errmsg_len,
                "MX matmul (%zu x %zu x %zu): workspace of %zu bytes given, %zu needed "
                "(fg_mx_matmul_work_bytes)",
                M, N, K, work ? work_bytes : 0, need);
        return FG_ERR_INVALID_ARG;
    }
    if (M > (size_t)INT32_MAX || N > (size_t)INT32_MAX || K > (size_t)INT32_MAX) {
        set_err(errmsg, errmsg_len, "MX matmul: dimensions above 2^31 - 1 are not supported");
        return FG_ERR_UNSUPPORTED;
    }
    uint8_t *w = (uint8_t *)work;
    w += (64 - ((uintptr_t)w & 63)) & 63;
    if (int8)
        i8_avx512(C, A, B, bias, nt, path == FG_NUM_PATH_AVX512X && fg_num_cpu_has_vnni(), w, &L);
    else
        fp_convert(C, A, B, bias, nt, path, w, &L);
    return FG_OK;
}
