/* The bf16 product (kernels.h: fg_gemm_bf16): every code path equals the definition
 * fg_gemm_bf16_ref bit for bit on every operand layout and type, edge shapes, special values
 * and thread counts; the definition is the AVX512_BF16 instruction itself (checked lane by lane
 * where the CPU has it) and stays within its rounding-error bound of the exact product. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/numerics.h"
#include "test.h"

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* values for operands: mostly normal with varied magnitude and sign; with specials, also
 * zeros of both signs, fp32 and bf16 subnormals, values that round to bf16 ties */
static float draw(struct fg_rng *r, int specials)
{
    if (specials) {
        switch (fg_rng_below(r, 16)) {
        case 0:
            return 0.0f;
        case 1:
            return -0.0f;
        case 2: /* a bf16 subnormal (DAZ reads it as zero) */
            return bits_f32((uint32_t)fg_rng_below(r, 2) << 31 |
                            (uint32_t)(1 + fg_rng_below(r, 0x7F)) << 16);
        case 3: /* an fp32 subnormal */
            return bits_f32((uint32_t)fg_rng_below(r, 2) << 31 |
                            (uint32_t)(1 + fg_rng_below(r, 0x7FFFFF)));
        case 4: /* a tie between two bf16 values */
            return bits_f32((uint32_t)(0x3F800000 + (fg_rng_below(r, 256) << 16)) | 0x8000u);
        case 5: /* tiny normals: products and sums near FLT_MIN, where FTZ acts */
            return bits_f32((uint32_t)fg_rng_below(r, 2) << 31 |
                            (uint32_t)(1 + fg_rng_below(r, 40)) << 23 |
                            (uint32_t)fg_rng_below(r, 0x800000));
        default:
            break;
        }
    }
    return (float)(fg_rng_normal(r) * ldexp(1.0, (int)fg_rng_below(r, 9) - 4));
}

struct mat {
    float *f;
    uint16_t *h;
};

/* a rows x cols stored matrix with row stride ld, as fp32 and as its bf16 rounding */
static struct mat make_mat(struct fg_rng *r, size_t rows, size_t ld, int specials)
{
    struct mat m;
    m.f = malloc(rows * ld * sizeof(float) + 4);
    m.h = malloc(rows * ld * sizeof(uint16_t) + 2);
    for (size_t i = 0; i < rows * ld; i++)
        m.f[i] = draw(r, specials);
    fg_fp32_to_bf16_ref(m.h, m.f, rows * ld);
    return m;
}

static void free_mat(struct mat *m)
{
    free(m->f);
    free(m->h);
}

/* The stored operands of one shape, each plain and transposed, as fp32 and bf16, with row
 * strides pad above the row length */
struct operands {
    struct mat an, at, bn, bt;
    size_t M, N, K, pad;
};

static struct operands make_operands(struct fg_rng *r, size_t M, size_t N, size_t K, int specials)
{
    struct operands o;
    o.M = M, o.N = N, o.K = K, o.pad = 3;
    o.an = make_mat(r, M, K + o.pad, specials);
    o.at = make_mat(r, K, M + o.pad, specials);
    o.bn = make_mat(r, K, N + o.pad, specials);
    o.bt = make_mat(r, N, K + o.pad, specials);
    return o;
}

static void free_operands(struct operands *o)
{
    free_mat(&o->an);
    free_mat(&o->at);
    free_mat(&o->bn);
    free_mat(&o->bt);
}

/* op(A) and op(B) transposed (ta, tb) or not, bf16 (ha, hb) or fp32 */
static void layout(const struct operands *o, int ta, int tb, int ha, int hb, struct fg_gemm_op *A,
                   struct fg_gemm_op *B)
{
    const struct mat *a = ta ? &o->at : &o->an, *b = tb ? &o->bt : &o->bn;
    *A = (struct fg_gemm_op){ ha ? (const void *)a->h : a->f, ha, ta, (ta ? o->M : o->K) + o->pad };
    *B = (struct fg_gemm_op){ hb ? (const void *)b->h : b->f, hb, tb, (tb ? o->K : o->N) + o->pad };
}

/* bit for bit, NaN matching any NaN */
static int same_bits(struct fg_test *t, const char *what, const float *got, const float *ref,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f32_bits(got[i]) == f32_bits(ref[i]) || (isnan(got[i]) && isnan(ref[i])))
            continue;
        fg_test_fail(t, __FILE__, __LINE__, "%s: element %zu: %a (0x%08x), ref %a (0x%08x)", what,
                     i, (double)got[i], (unsigned)f32_bits(got[i]), (double)ref[i],
                     (unsigned)f32_bits(ref[i]));
        return 0;
    }
    return 1;
}

/* Code path 0 is the environment's capped at AVX512_BF16 (on such a CPU: the instruction and
 * AVX-512 packing; the AMX path, whose bits are its own, is checked by amx_* below), 1 is
 * FG_ISA=avx512 (the portable kernel, AVX-512 packing), 2 is FG_ISA=generic (portable kernel
 * and packing); -1 restores the FG_ISA the process started with. */
static void set_path(struct fg_test *t, int path)
{
    static int saved_once;
    static char saved[32];
    static int had;
    if (!saved_once) {
        const char *prev = getenv("FG_ISA");
        had = prev != NULL;
        if (prev)
            snprintf(saved, sizeof saved, "%s", prev);
        saved_once = 1;
    }
    int rc;
    if (path == 1)
        rc = setenv("FG_ISA", "avx512", 1);
    else if (path == 2)
        rc = setenv("FG_ISA", "generic", 1);
    else if (path == 0 && (!had || !strcmp(saved, "amx")))
        rc = setenv("FG_ISA", "avx512bf16", 1);
    else
        rc = had ? setenv("FG_ISA", saved, 1) : unsetenv("FG_ISA");
    CHECK(t, rc == 0);
}

/* One shape on every layout (A, B each plain or transposed, fp32 or bf16), accumulate 0 and 1,
 * every code path (set_path) and thread counts 1, 2 and 3, against the definition. */
static void check_shape(struct fg_test *t, struct fg_rng *r, size_t M, size_t N, size_t K,
                        int specials, int full)
{
    struct operands o = make_operands(r, M, N, K, specials);
    size_t ldc = N + 2;
    float *c0 = malloc(M * ldc * sizeof(float)), *c_ref = malloc(M * ldc * sizeof(float));
    float *c = malloc(M * ldc * sizeof(float));
    void *work = NULL;
    if (posix_memalign(&work, 64, fg_gemm_bf16_work_size(3)))
        work = NULL;
    for (size_t i = 0; i < M * ldc; i++)
        c0[i] = draw(r, specials);
    int n_layouts = full ? 16 : 4;
    for (int lay = 0; lay < n_layouts && !t->failed; lay++) {
        int ta = lay & 1, tb = (lay >> 1) & 1, ha = full ? (lay >> 2) & 1 : ta,
            hb = full ? (lay >> 3) & 1 : !tb;
        struct fg_gemm_op A, B;
        layout(&o, ta, tb, ha, hb, &A, &B);
        for (int accumulate = 0; accumulate < 2 && !t->failed; accumulate++) {
            memcpy(c_ref, c0, M * ldc * sizeof(float));
            fg_gemm_bf16_ref(M, N, K, A, B, c_ref, ldc, accumulate);
            for (int path = 0; path < 3 && !t->failed; path++) {
                set_path(t, path);
                for (int nt = 1; nt <= 3 && !t->failed; nt++) {
                    memcpy(c, c0, M * ldc * sizeof(float));
                    CHECK_OK(t, fg_gemm_bf16(M, N, K, A, B, c, ldc, accumulate, work, nt));
                    char what[200];
                    snprintf(what, sizeof what,
                             "%zux%zux%zu %s A%s %s B%s accumulate %d, %d threads, path %s "
                             "(FG_ISA=%s)",
                             M, N, K, ha ? "bf16" : "fp32", ta ? "^T" : "", hb ? "bf16" : "fp32",
                             tb ? "^T" : "", accumulate, nt, fg_gemm_bf16_path(),
                             getenv("FG_ISA") ? getenv("FG_ISA") : "unset");
                    same_bits(t, what, c, c_ref, M * ldc); /* the padding columns stay too */
                }
            }
            set_path(t, -1);
        }
    }
    free(work);
    free(c0);
    free(c_ref);
    free(c);
    free_operands(&o);
}

static void shapes_body(struct fg_test *t, struct fg_rng *r)
{
    /* tiles and blocks: MR 12, NR 32, KC 256, MC 96, NC 768 (gemm_bf16_int.h) */
    static const size_t shapes[][3] = {
        { 1, 1, 1 },     { 1, 1, 2 },     { 12, 32, 2 }, { 13, 33, 3 }, { 11, 31, 7 },
        { 24, 64, 256 }, { 25, 65, 257 }, { 97, 40, 5 }, { 7, 800, 9 }, { 3, 17, 600 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !t->failed; s++)
        check_shape(t, r, shapes[s][0], shapes[s][1], shapes[s][2], 0, 1);
}

TEST(every_layout_and_path_equals_definition)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    shapes_body(t, &r);
}

static void specials_body(struct fg_test *t, struct fg_rng *r)
{
    check_shape(t, r, 13, 35, 41, 1, 1);
    check_shape(t, r, 30, 70, 300, 1, 0);
}

/* zeros of both signs, subnormals (DAZ/FTZ), ties, tiny normals, in operands and in C */
TEST(special_values_equal_definition)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    specials_body(t, &r);
}

static void large_body(struct fg_test *t, struct fg_rng *r)
{
    /* more than one block in every direction: M > MC, N > NC, K > KC */
    check_shape(t, r, 100, 800, 520, 0, 0);
}

TEST(several_blocks_equal_definition)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    large_body(t, &r);
}

/* The definition is the instruction: a lane-by-lane check of the emulated step against
 * VDPBF16PS through the whole product (1 x 16 x 2 products exercise one instruction each). */
TEST(definition_is_the_instruction)
{
    if (fg_cpu_isa() < FG_ISA_AVX512BF16) {
        fg_test_skip(t, "this CPU has no AVX512_BF16");
        return;
    }
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    void *work = NULL;
    CHECK(t, posix_memalign(&work, 64, fg_gemm_bf16_work_size(1)) == 0);
    set_path(t, 0); /* VDPBF16PS, not the tile unit */
    float a[2], b[2 * 16], c[16], c_ref[16];
    for (int it = 0; it < 20000 && !t->failed; it++) {
        for (int i = 0; i < 2; i++)
            a[i] = draw(&r, 1);
        for (int i = 0; i < 32; i++)
            b[i] = draw(&r, 1);
        for (int i = 0; i < 16; i++)
            c[i] = c_ref[i] = draw(&r, 1);
        struct fg_gemm_op A = { a, 0, 0, 2 }, B = { b, 0, 0, 16 };
        CHECK_OK(t, fg_gemm_bf16(1, 16, 2, A, B, c, 16, 1, work, 1));
        fg_gemm_bf16_ref(1, 16, 2, A, B, c_ref, 16, 1);
        same_bits(t, "one VDPBF16PS", c, c_ref, 16);
    }
    set_path(t, -1);
    free(work);
}

/* Accuracy: against the exact (double) product of the bf16-rounded operands the only error is
 * the fp32 rounding of each of the K additions: |C - exact| <= K 2^-24 sum |a b| (plus the
 * first-order remainder, covered by the factor 1.01); against the exact product of the fp32
 * operands add the two bf16 roundings, each relative 2^-9: (2^-8 + 2^-18 + K 2^-24) sum|a b|. */
TEST(error_within_the_stated_bound)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    size_t M = 40, N = 70, K = 777;
    struct mat a = make_mat(&r, M, K, 0), b = make_mat(&r, K, N, 0);
    float *c = malloc(M * N * sizeof(float));
    void *work = NULL;
    CHECK(t, posix_memalign(&work, 64, fg_gemm_bf16_work_size(2)) == 0);
    struct fg_gemm_op A = { a.f, 0, 0, K }, B = { b.f, 0, 0, N };
    /* the environment's path (the tile unit where there is one), then VDPBF16PS or below */
    for (int pass = 0; pass < 2 && !t->failed; pass++) {
        set_path(t, pass ? 0 : -1);
        CHECK_OK(t, fg_gemm_bf16(M, N, K, A, B, c, N, 0, work, 2));
        double worst_h = 0, worst_f = 0, mean_rel = 0;
        for (size_t i = 0; i < M; i++) {
            for (size_t j = 0; j < N; j++) {
                double eh = 0, ef = 0, mag = 0;
                for (size_t k = 0; k < K; k++) {
                    float ah, bh;
                    fg_bf16_to_fp32_ref(&ah, &a.h[i * K + k], 1);
                    fg_bf16_to_fp32_ref(&bh, &b.h[k * N + j], 1);
                    eh += (double)ah * (double)bh;
                    ef += (double)a.f[i * K + k] * (double)b.f[k * N + j];
                    mag += fabs((double)a.f[i * K + k] * (double)b.f[k * N + j]);
                }
                double got = c[i * N + j];
                worst_h = fmax(worst_h, fabs(got - eh) / (mag * K * ldexp(1, -24) * 1.01));
                worst_f = fmax(
                    worst_f, fabs(got - ef) /
                                 (mag * (ldexp(1, -8) + ldexp(1, -18) + K * ldexp(1, -24)) * 1.01));
                mean_rel += fabs(got - ef) / mag;
            }
        }
        /* the bounds hold, and are not vacuous: the error against the fp32 product is a visible
     * fraction of the bf16 rounding (a kernel that skipped the rounding would sit far below) */
        CHECK(t, worst_h <= 1.0);
        CHECK(t, worst_f <= 1.0);
        mean_rel /= (double)(M * N);
        CHECK(t, mean_rel > ldexp(1, -16) && mean_rel < ldexp(1, -9));
    }
    set_path(t, -1);
    free(work);
    free(c);
    free_mat(&a);
    free_mat(&b);
}

/* The tile unit (AMX): its own rounding inside each instruction, so not the definition's bits,
 * but within twice the definition's error bound of it (each is within K 2^-24 (|c| + sum |a b|)
 * of the exact sum), plus a few FLT_MIN for the flushes, on every layout, edge shape and block
 * count; and the same bits for 1, 2 and 3 threads. A packing or tiling mistake moves an element
 * by the size of a term, orders of magnitude above the bound. */
static void check_shape_amx(struct fg_test *t, struct fg_rng *r, size_t M, size_t N, size_t K,
                            int specials)
{
    struct operands o = make_operands(r, M, N, K, specials);
    size_t ldc = N + 2, pad = o.pad;
    float *c0 = malloc(M * ldc * sizeof(float)), *c_ref = malloc(M * ldc * sizeof(float));
    float *c = malloc(M * ldc * sizeof(float)), *c1 = malloc(M * ldc * sizeof(float));
    void *work = NULL;
    if (posix_memalign(&work, 64, fg_gemm_bf16_work_size(3)))
        work = NULL;
    for (size_t i = 0; i < M * ldc; i++)
        c0[i] = draw(r, specials);
    double worst = 0;
    for (int lay = 0; lay < 16 && !t->failed; lay++) {
        int ta = lay & 1, tb = (lay >> 1) & 1, ha = (lay >> 2) & 1, hb = (lay >> 3) & 1;
        struct fg_gemm_op A, B;
        layout(&o, ta, tb, ha, hb, &A, &B);
        for (int accumulate = 0; accumulate < 2 && !t->failed; accumulate++) {
            memcpy(c_ref, c0, M * ldc * sizeof(float));
            fg_gemm_bf16_ref(M, N, K, A, B, c_ref, ldc, accumulate);
            for (int nt = 1; nt <= 3 && !t->failed; nt++) {
                memcpy(c, c0, M * ldc * sizeof(float));
                CHECK_OK(t, fg_gemm_bf16(M, N, K, A, B, c, ldc, accumulate, work, nt));
                char what[160];
                snprintf(what, sizeof what, "%zux%zux%zu %s A%s %s B%s accumulate %d, %d threads",
                         M, N, K, ha ? "bf16" : "fp32", ta ? "^T" : "", hb ? "bf16" : "fp32",
                         tb ? "^T" : "", accumulate, nt);
                if (nt == 1) {
                    memcpy(c1, c, M * ldc * sizeof(float));
                } else if (!same_bits(t, what, c, c1, M * ldc)) {
                    break;
                }
                for (size_t i = 0; i < M && nt == 1; i++) {
                    for (size_t j = 0; j < ldc; j++) {
                        float got = c[i * ldc + j], want = c_ref[i * ldc + j];
                        if (j >= N) { /* padding: untouched */
                            CHECK(t, f32_bits(got) == f32_bits(c0[i * ldc + j]));
                            continue;
                        }
                        double mag = accumulate ? fabs((double)c0[i * ldc + j]) : 0.0;
                        for (size_t k = 0; k < K; k++) {
                            float x = ta ? o.at.f[k * (M + pad) + i] : o.an.f[i * (K + pad) + k];
                            float y = tb ? o.bt.f[j * (K + pad) + k] : o.bn.f[k * (N + pad) + j];
                            mag += fabs((double)x * (double)y) * 1.01; /* bf16 rounding */
                        }
                        double bound = 2.0 * (double)(K + 1) * ldexp(1, -24) * mag * 1.01 +
                                       8.0 * (double)FLT_MIN;
                        double err = fabs((double)got - (double)want);
                        if (!(err <= bound)) {
                            fg_test_fail(t, __FILE__, __LINE__,
                                         "%s: C[%zu][%zu] = %a, definition %a, bound %.3g", what, i,
                                         j, (double)got, (double)want, bound);
                            i = M;
                            break;
                        }
                        if (bound > 8.0 * (double)FLT_MIN)
                            worst = fmax(worst, err / bound);
                    }
                }
            }
        }
    }
    printf("  %zux%zux%zu: worst error %.3f of the bound\n", M, N, K, worst);
    free(work);
    free(c0);
    free(c_ref);
    free(c);
    free(c1);
    free_operands(&o);
}

TEST(amx_within_bound_of_definition_and_thread_invariant)
{
    if (fg_cpu_isa() < FG_ISA_AMX) {
        fg_test_skip(t, "no AMX-BF16 tile unit here (or FG_ISA caps it)");
        return;
    }
    CHECK(t, !strcmp(fg_gemm_bf16_path(), "amx"));
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    /* tiles 32 x 32, 16 pairs per instruction; blocks KC 256, MC 96, NC 3072 (6,500 columns:
     * three column blocks on one thread, two on each of two or three threads) */
    static const size_t shapes[][3] = {
        { 1, 1, 1 },       { 1, 1, 2 },      { 32, 32, 32 },  { 33, 33, 33 },  { 31, 17, 7 },
        { 64, 64, 256 },   { 65, 65, 257 },  { 97, 40, 5 },   { 7, 800, 9 },   { 3, 17, 600 },
        { 100, 800, 520 }, { 32, 768, 256 }, { 96, 64, 512 }, { 9, 6500, 37 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && !t->failed; s++)
        check_shape_amx(t, &r, shapes[s][0], shapes[s][1], shapes[s][2], 0);
    check_shape_amx(t, &r, 13, 35, 41, 1);
    check_shape_amx(t, &r, 30, 70, 300, 1);
}

TEST(bad_arguments_and_empty_shapes)
{
    void *work = NULL;
    CHECK(t, posix_memalign(&work, 64, fg_gemm_bf16_work_size(2)) == 0);
    float a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 1, 1, 1, 1, 1, 1 }, c[4] = { 7, 7, 7, 7 };
    struct fg_gemm_op A = { a, 0, 0, 3 }, B = { b, 0, 0, 2 };
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, A, B, NULL, 2, 0, work, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, A, B, c, 1, 0, work, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, A, B, c, 2, 0, NULL, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, A, B, c, 2, 0, (char *)work + 4, 1), FG_ERR_INVALID_ARG);
    struct fg_gemm_op short_ld = { a, 0, 0, 2 }, no_data = { NULL, 0, 0, 3 };
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, short_ld, B, c, 2, 0, work, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, no_data, B, c, 2, 0, work, 1), FG_ERR_INVALID_ARG);
    struct fg_gemm_op at_short = { a, 0, 1, 1 }; /* A^T stored (3, 2) needs ld >= 2 */
    CHECK_EQ_I64(t, fg_gemm_bf16(2, 2, 3, at_short, B, c, 2, 0, work, 1), FG_ERR_INVALID_ARG);
    CHECK(t, c[0] == 7 && c[3] == 7); /* nothing written on a refusal */
    /* the product itself: [1 2 3; 4 5 6] times ones = row sums */
    CHECK_OK(t, fg_gemm_bf16(2, 2, 3, A, B, c, 2, 0, work, 2));
    CHECK(t, c[0] == 6 && c[1] == 6 && c[2] == 15 && c[3] == 15);
    CHECK_OK(t, fg_gemm_bf16(2, 2, 3, A, B, c, 2, 1, work, 2));
    CHECK(t, c[0] == 12 && c[3] == 30);
    /* K = 0: C = 0, or unchanged when accumulating; M or N = 0: nothing to do */
    CHECK_OK(t, fg_gemm_bf16(2, 2, 0, A, B, c, 2, 1, work, 1));
    CHECK(t, c[0] == 12 && c[3] == 30);
    CHECK_OK(t, fg_gemm_bf16(2, 2, 0, A, B, c, 2, 0, work, 1));
    CHECK(t, c[0] == 0 && c[3] == 0 && !signbit(c[0]));
    CHECK_OK(t, fg_gemm_bf16(0, 2, 3, A, B, c, 2, 0, work, 1));
    CHECK_OK(t, fg_gemm_bf16(2, 0, 3, A, B, c, 2, 0, work, 1));
    CHECK(t, fg_gemm_bf16_work_size(2) == 2 * fg_gemm_bf16_work_size(1));
    CHECK(t, !strcmp(fg_gemm_bf16_path(), fg_cpu_isa() >= FG_ISA_AMX          ? "amx"
                                          : fg_cpu_isa() >= FG_ISA_AVX512BF16 ? "avx512bf16"
                                                                              : "generic"));
    free(work);
}

/* The bf16 peak (MFU of bf16 runs) names the unit of the path the products take and measures it
 * on that path only: 0 and "none" on the portable one, whose peak is the FMAs'. Not a timing
 * test: the bound only catches a loop the compiler removed (100 TFLOP/s a core is no CPU's). */
TEST(peak_is_the_products_unit)
{
    static const char *const want[3] = { "amx bf16", "avx512bf16 dot products", "none" };
    set_path(t, -1); /* saves the FG_ISA the process started with before this test sets one */
    for (int path = 0; path < 3; path++) {
        if (path == 0 && fg_cpu_isa() < FG_ISA_AMX)
            continue;
        if (path == 1) {
            if (fg_cpu_isa() < FG_ISA_AVX512BF16)
                continue;
            CHECK(t, setenv("FG_ISA", "avx512bf16", 1) == 0);
        }
        if (path == 2)
            CHECK(t, setenv("FG_ISA", "generic", 1) == 0);
        const char *unit = NULL;
        double peak = fg_gemm_bf16_peak_flops(2, &unit);
        CHECK(t, unit && !strcmp(unit, want[path]));
        if (path == 2)
            CHECK(t, peak == 0.0);
        else
            CHECK(t, peak > 0.0 && peak < 2 * 1e14);
        set_path(t, -1);
    }
    const char *unit = NULL;
    CHECK(t, fg_gemm_bf16_peak_flops(0, &unit) == 0.0 && unit != NULL);
}

int main(int argc, char **argv)
{
    static const struct fg_test_case cases[] = {
        { "every_layout_and_path_equals_definition", test_every_layout_and_path_equals_definition },
        { "special_values_equal_definition", test_special_values_equal_definition },
        { "several_blocks_equal_definition", test_several_blocks_equal_definition },
        { "definition_is_the_instruction", test_definition_is_the_instruction },
        { "error_within_the_stated_bound", test_error_within_the_stated_bound },
        { "amx_within_bound_of_definition_and_thread_invariant",
          test_amx_within_bound_of_definition_and_thread_invariant },
        { "bad_arguments_and_empty_shapes", test_bad_arguments_and_empty_shapes },
        { "peak_is_the_products_unit", test_peak_is_the_products_unit },
    };
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
