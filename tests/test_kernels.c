/* Kernel tests: every fast kernel against its scalar _ref (tolerances named below), 1 vs 2
 * threads bit for bit, the _ref forwards against their formulas in double, finite-difference
 * gradient checks of every _ref backward, AdamW (fast vs _ref over several steps and one step
 * by hand), the chunked reductions and the cosine schedule.
 * Shapes are tiny (N=7, IC=24/64, OC=40; B=2, T=9, NH=3, C=24 so HS=8; T=1) plus a second set
 * that crosses the kernels' 64-channel and 4096-element blocks so that two threads split work.
 * Parameter gradients accumulate, so they are always pre-filled with random values. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/optim.h"
#include "test.h"

/* ---- tolerances: |got - ref| <= atol + rtol |ref| ----------------------------------------- */
/* matmul: sgemm sums the IC (or OC, N) products in another order than the triple loop; for
 * unit-normal data and lengths <= 64 that is a few ulp of sums of magnitude <= ~10. */
#define TOL_MATMUL_ATOL 3e-5
#define TOL_MATMUL_RTOL 1e-5
/* layernorm: the fast path may sum mean, variance and the backward's row sums in another
 * order (lanes); a few ulp of the row's magnitude (the test rows have |mean| up to 8, ulp
 * ~1e-6), amplified by rstd |w| in out and dinp. Observed worst over 300 seeds: 8e-6. */
#define TOL_LN_ATOL 2e-5
#define TOL_LN_RTOL 1e-5
/* GELU: exp-based tanh (kernels_int.h) against libm tanhf, a few ulp of tanh. In backward,
 * sech^2 = 1 - tanh^2 cancels for |x| >~ 3, so both versions carry an absolute error of
 * ~2 ulp(1) * 0.5 |x| sqrt(2/pi) (1 + 0.134 x^2) ~ 2e-6 per unit of dout at |x| = 5 (the true
 * derivative there is ~1e-6, so relative error is meaningless in that tail); with |dout| up
 * to ~4 that is ~8e-6 (observed worst over 300 seeds: 4.6e-6). */
#define TOL_GELU_ATOL     1e-6
#define TOL_GELU_RTOL     1e-5
#define TOL_GELU_BWD_ATOL 2e-5
#define TOL_GELU_BWD_RTOL 1e-5
/* attention: sgemm dot products plus the polynomial exp in the softmax. */
#define TOL_ATT_ATOL 2e-6
#define TOL_ATT_RTOL 1e-4
/* tiled attention against the standard _ref: the backward forms D = rowsum(dO * O) in one dot
 * and cancels it against dP = dO . v summed in another order (for the first query exactly:
 * dS = 1 * (dP - D) is 0 in exact arithmetic), an absolute residual of a few ulp of |dP| ~
 * sqrt(HS); the forward's exp arguments at large scores likewise. */
#define TOL_ATT_TILED_ATOL 1e-5
/* attention probabilities: each row sums to 1 up to fp32 rounding of <= T terms. */
#define TOL_ATT_ROWSUM 1e-5
/* cross-entropy: losses carry ulp(max logit) (one row is shifted by +100, ulp 7.6e-6) and
 * the polynomial exp; gradients are dscale * probabilities, relative error ~1e-6. */
#define TOL_CE_LOSS_ATOL 3e-5
#define TOL_CE_LOSS_RTOL 1e-6
#define TOL_CE_GRAD_ATOL 1e-7
#define TOL_CE_GRAD_RTOL 1e-4
/* encoder backward: additions of the same terms; allow reordering of a scatter-add. */
#define TOL_ENC_ATOL 1e-6
#define TOL_ENC_RTOL 1e-6
/* pure copies and single additions (encoder forward, fg_add): exact. */
#define TOL_EXACT 0.0
/* a _ref forward against its formula evaluated in double (fp32 accumulation error). */
#define TOL_SPEC_ATOL 3e-5
#define TOL_SPEC_RTOL 1e-5
/* AdamW fast vs _ref: the bias corrections are applied in fp32 (fast) or double (_ref), a
 * relative difference ~1e-7 of an update of size lr; params and moments are O(1) or smaller. */
#define TOL_ADAM_ATOL 1e-6
#define TOL_ADAM_RTOL 1e-6
/* one AdamW step in fp32 against the same formula in double */
#define TOL_ADAM_HAND_ATOL 1e-7
#define TOL_ADAM_HAND_RTOL 1e-5
/* fg_sumsq against a plain double loop (both sum exact squares in double) */
#define TOL_SUMSQ_RTOL 1e-12
/* fg_lr_cosine computes in double and rounds to float once */
#define TOL_LR_RTOL 1e-6

/* Finite differences. J = sum_i r_i out_i is evaluated in double from the fp32 forward. A
 * difference quotient then carries the fp32 rounding of the outputs that moved (~1e-7 |out|
 * each, summed over at most a few dozen outputs) divided by 2h = 2e-2: ~1e-5..1e-4 absolute.
 * The O(h^2) truncation error of central differences is ~1e-5 for these smooth functions.
 * atol 1e-3 keeps a 10x margin over both, while a wrong term, sign or factor in a backward
 * shows up as an error of order 1e-1 on gradients of order 1; rtol 2e-2 covers the largest
 * entries (|grad| up to ~10, where fp32 noise scales with the values). */
#define FD_H        1e-2
#define FD_ATOL     1e-3
#define FD_RTOL     2e-2
#define FD_N_COORDS 32

/* ---- helpers ------------------------------------------------------------------------------ */
#define POOL_MAX 96

/* Every buffer of a test comes from a pool freed at its end. */
struct pool {
    void *p[POOL_MAX];
    int n;
};

static void *pool_get(struct pool *pl, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p || pl->n == POOL_MAX) {
        fprintf(stderr, "test_kernels: out of memory (or pool full)\n");
        exit(2);
    }
    pl->p[pl->n++] = p;
    return p;
}

static void pool_free(struct pool *pl)
{
    for (int i = 0; i < pl->n; i++)
        free(pl->p[i]);
    pl->n = 0;
}

static float *pool_f32(struct pool *pl, size_t n)
{
    return pool_get(pl, n * sizeof(float));
}

static float *pool_randn(struct pool *pl, struct fg_rng *r, size_t n, float scale)
{
    float *x = pool_f32(pl, n);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (float)fg_rng_normal(r);
    return x;
}

static float *pool_copy(struct pool *pl, const float *x, size_t n)
{
    float *y = pool_f32(pl, n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

static int32_t *pool_tokens(struct pool *pl, struct fg_rng *r, size_t n, size_t V)
{
    int32_t *x = pool_get(pl, n * sizeof(int32_t));
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)fg_rng_below(r, V);
    return x;
}

/* Outputs that a kernel must write are pre-filled with NaN: a skipped element shows. */
static void fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = NAN;
}

static int same_bits(const void *a, const void *b, size_t bytes)
{
    return memcmp(a, b, bytes) == 0;
}

static double weighted_sum(const float *r, const float *x, size_t n)
{
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += (double)r[i] * (double)x[i];
    return acc;
}

static void set_threads(int n_threads)
{
    fg_kernels_set_blas_threads(n_threads);
}

/* ---- 1. fast vs _ref (and _ref vs its formula) ------------------------------------------- */
static void check_matmul(struct fg_test *t, struct fg_rng *r, size_t N, size_t IC, size_t OC)
{
    struct pool pl = { 0 };
    float *inp = pool_randn(&pl, r, N * IC, 1.0f), *w = pool_randn(&pl, r, OC * IC, 1.0f);
    float *bias = pool_randn(&pl, r, OC, 1.0f);
    float *out_ref = pool_f32(&pl, N * OC), *out_fast = pool_f32(&pl, N * OC);
    float *spec = pool_f32(&pl, N * OC);
    set_threads(2);
    for (int with_bias = 0; with_bias < 2; with_bias++) {
        const float *bb = with_bias ? bias : NULL;
        fill_nan(out_ref, N * OC);
        fill_nan(out_fast, N * OC);
        fg_matmul_forward_ref(out_ref, inp, w, bb, N, IC, OC);
        fg_matmul_forward(out_fast, inp, w, bb, N, IC, OC, 2);
        CHECK_CLOSE(t, out_fast, out_ref, N * OC, TOL_MATMUL_ATOL, TOL_MATMUL_RTOL);
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < OC; o++) {
                double acc = bb ? (double)bb[o] : 0.0;
                for (size_t i = 0; i < IC; i++)
                    acc += (double)inp[n * IC + i] * (double)w[o * IC + i];
                spec[n * OC + o] = (float)acc;
            }
        CHECK_CLOSE(t, out_ref, spec, N * OC, TOL_SPEC_ATOL, TOL_SPEC_RTOL);
    }

    /* backward: dinp is written (NaN before), dw and dbias accumulate onto random values */
    float *dout = pool_randn(&pl, r, N * OC, 1.0f);
    float *dw0 = pool_randn(&pl, r, OC * IC, 1.0f), *db0 = pool_randn(&pl, r, OC, 1.0f);
    float *dinp_ref = pool_f32(&pl, N * IC), *dinp_fast = pool_f32(&pl, N * IC);
    float *dw_ref = pool_copy(&pl, dw0, OC * IC), *dw_fast = pool_copy(&pl, dw0, OC * IC);
    float *db_ref = pool_copy(&pl, db0, OC), *db_fast = pool_copy(&pl, db0, OC);
    fill_nan(dinp_ref, N * IC);
    fill_nan(dinp_fast, N * IC);
    fg_matmul_backward_ref(dinp_ref, dw_ref, db_ref, dout, inp, w, N, IC, OC);
    fg_matmul_backward(dinp_fast, dw_fast, db_fast, dout, inp, w, N, IC, OC, 2);
    CHECK_CLOSE(t, dinp_fast, dinp_ref, N * IC, TOL_MATMUL_ATOL, TOL_MATMUL_RTOL);
    CHECK_CLOSE(t, dw_fast, dw_ref, OC * IC, TOL_MATMUL_ATOL, TOL_MATMUL_RTOL);
    CHECK_CLOSE(t, db_fast, db_ref, OC, TOL_MATMUL_ATOL, TOL_MATMUL_RTOL);

    /* accumulation: result(pre-filled) == pre + result(zero-filled) */
    float *dw_z = pool_f32(&pl, OC * IC), *db_z = pool_f32(&pl, OC);
    fg_matmul_backward_ref(NULL, dw_z, db_z, dout, inp, w, N, IC, OC);
    for (size_t i = 0; i < OC * IC; i++)
        dw_z[i] += dw0[i];
    for (size_t i = 0; i < OC; i++)
        db_z[i] += db0[i];
    CHECK_CLOSE(t, dw_ref, dw_z, OC * IC, TOL_EXACT, TOL_EXACT);
    CHECK_CLOSE(t, db_ref, db_z, OC, TOL_EXACT, TOL_EXACT);

    /* optional outputs: dinp = NULL and dbias = NULL give the same dw */
    float *dw_fast2 = pool_copy(&pl, dw0, OC * IC), *dw_ref2 = pool_copy(&pl, dw0, OC * IC);
    fg_matmul_backward(NULL, dw_fast2, NULL, dout, inp, w, N, IC, OC, 2);
    fg_matmul_backward_ref(NULL, dw_ref2, NULL, dout, inp, w, N, IC, OC);
    CHECK(t, same_bits(dw_fast2, dw_fast, OC * IC * sizeof(float)));
    CHECK(t, same_bits(dw_ref2, dw_ref, OC * IC * sizeof(float)));
    pool_free(&pl);
}

TEST(matmul_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    check_matmul(t, &r, 7, 24, 40);
    check_matmul(t, &r, 7, 64, 40);
    check_matmul(t, &r, 37, 64, 72); /* dbias: two 64-channel blocks */
    check_matmul(t, &r, 1, 24, 1);
}

static void check_layernorm(struct fg_test *t, struct fg_rng *r, size_t N, size_t C)
{
    struct pool pl = { 0 };
    /* rows with non-zero means and different spreads, so mean and rstd both matter */
    float *inp = pool_randn(&pl, r, N * C, 1.0f);
    for (size_t n = 0; n < N; n++)
        for (size_t i = 0; i < C; i++)
            inp[n * C + i] = inp[n * C + i] * (0.5f + 0.25f * (float)n) + 1.5f - 0.5f * (float)n;
    float *w = pool_randn(&pl, r, C, 1.0f), *b = pool_randn(&pl, r, C, 1.0f);
    float *out_ref = pool_f32(&pl, N * C), *out_fast = pool_f32(&pl, N * C);
    float *mean_ref = pool_f32(&pl, N), *mean_fast = pool_f32(&pl, N);
    float *rstd_ref = pool_f32(&pl, N), *rstd_fast = pool_f32(&pl, N);
    fill_nan(out_ref, N * C);
    fill_nan(out_fast, N * C);
    fill_nan(mean_fast, N);
    fill_nan(rstd_fast, N);
    fg_layernorm_forward_ref(out_ref, mean_ref, rstd_ref, inp, w, b, N, C);
    fg_layernorm_forward(out_fast, mean_fast, rstd_fast, inp, w, b, N, C, 2);
    CHECK_CLOSE(t, out_fast, out_ref, N * C, TOL_LN_ATOL, TOL_LN_RTOL);
    CHECK_CLOSE(t, mean_fast, mean_ref, N, TOL_LN_ATOL, TOL_LN_RTOL);
    CHECK_CLOSE(t, rstd_fast, rstd_ref, N, TOL_LN_ATOL, TOL_LN_RTOL);

    /* _ref against the definition in double (biased variance, eps inside the sqrt) */
    float *spec = pool_f32(&pl, N * C), *spec_mean = pool_f32(&pl, N);
    float *spec_rstd = pool_f32(&pl, N);
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        double m = 0, v = 0;
        for (size_t i = 0; i < C; i++)
            m += (double)x[i];
        m /= (double)C;
        for (size_t i = 0; i < C; i++)
            v += ((double)x[i] - m) * ((double)x[i] - m);
        v /= (double)C;
        double s = 1.0 / sqrt(v + (double)FG_LAYERNORM_EPS);
        for (size_t i = 0; i < C; i++)
            spec[n * C + i] = (float)(((double)x[i] - m) * s * (double)w[i] + (double)b[i]);
        spec_mean[n] = (float)m;
        spec_rstd[n] = (float)s;
    }
    CHECK_CLOSE(t, out_ref, spec, N * C, TOL_SPEC_ATOL, TOL_SPEC_RTOL);
    CHECK_CLOSE(t, mean_ref, spec_mean, N, TOL_SPEC_ATOL, TOL_SPEC_RTOL);
    CHECK_CLOSE(t, rstd_ref, spec_rstd, N, TOL_SPEC_ATOL, TOL_SPEC_RTOL);

    /* backward: dinp, dw and db all accumulate onto random values */
    float *dout = pool_randn(&pl, r, N * C, 1.0f);
    float *dinp0 = pool_randn(&pl, r, N * C, 1.0f), *dw0 = pool_randn(&pl, r, C, 1.0f);
    float *db0 = pool_randn(&pl, r, C, 1.0f);
    float *dinp_ref = pool_copy(&pl, dinp0, N * C), *dinp_fast = pool_copy(&pl, dinp0, N * C);
    float *dw_ref = pool_copy(&pl, dw0, C), *dw_fast = pool_copy(&pl, dw0, C);
    float *db_ref = pool_copy(&pl, db0, C), *db_fast = pool_copy(&pl, db0, C);
    fg_layernorm_backward_ref(dinp_ref, dw_ref, db_ref, dout, inp, w, mean_ref, rstd_ref, N, C);
    fg_layernorm_backward(dinp_fast, dw_fast, db_fast, dout, inp, w, mean_ref, rstd_ref, N, C, 2);
    CHECK_CLOSE(t, dinp_fast, dinp_ref, N * C, TOL_LN_ATOL, TOL_LN_RTOL);
    CHECK_CLOSE(t, dw_fast, dw_ref, C, TOL_LN_ATOL, TOL_LN_RTOL);
    CHECK_CLOSE(t, db_fast, db_ref, C, TOL_LN_ATOL, TOL_LN_RTOL);

    /* the _ref accumulates: pre-filled minus pre equals the zero-filled result */
    float *dinp_z = pool_f32(&pl, N * C), *dw_z = pool_f32(&pl, C), *db_z = pool_f32(&pl, C);
    fg_layernorm_backward_ref(dinp_z, dw_z, db_z, dout, inp, w, mean_ref, rstd_ref, N, C);
    for (size_t i = 0; i < N * C; i++)
        dinp_z[i] += dinp0[i];
    CHECK_CLOSE(t, dinp_ref, dinp_z, N * C, TOL_LN_ATOL, TOL_LN_RTOL);
    float *db_spec = pool_copy(&pl, db0, C);
    for (size_t n = 0; n < N; n++) /* db is the column sum of dout: exact to check */
        for (size_t i = 0; i < C; i++)
            db_spec[i] += dout[n * C + i];
    CHECK_CLOSE(t, db_ref, db_spec, C, TOL_EXACT, TOL_EXACT);
    pool_free(&pl);
}

TEST(layernorm_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    check_layernorm(t, &r, 7, 24);
    check_layernorm(t, &r, 7, 64);
    check_layernorm(t, &r, 37, 80); /* dw/db: two 64-channel blocks */
}

/* the fused residual + layernorm: the same bits as fg_add then fg_layernorm_forward, for the
 * fast and the _ref pair, writing res over a (the model's in-place use) and to a fresh buffer */
TEST(residual_layernorm_is_add_then_layernorm)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    const size_t shapes[][2] = { { 7, 24 }, { 37, 80 }, { 64, 256 } };
    for (size_t k = 0; k < 3; k++) {
        size_t N = shapes[k][0], C = shapes[k][1], NC = N * C;
        struct pool pl = { 0 };
        float *a = pool_randn(&pl, &r, NC, 2.0f), *b = pool_randn(&pl, &r, NC, 1.0f);
        float *w = pool_randn(&pl, &r, C, 1.0f), *bias = pool_randn(&pl, &r, C, 1.0f);
        for (int ref = 0; ref < 2; ref++) {
            float *res0 = pool_f32(&pl, NC), *out0 = pool_f32(&pl, NC);
            float *m0 = pool_f32(&pl, N), *s0 = pool_f32(&pl, N);
            float *res1 = pool_copy(&pl, a, NC), *out1 = pool_f32(&pl, NC);
            float *m1 = pool_f32(&pl, N), *s1 = pool_f32(&pl, N);
            float *res2 = pool_f32(&pl, NC), *out2 = pool_f32(&pl, NC);
            float *m2 = pool_f32(&pl, N), *s2 = pool_f32(&pl, N);
            if (ref) {
                for (size_t i = 0; i < NC; i++)
                    res0[i] = a[i] + b[i];
                fg_layernorm_forward_ref(out0, m0, s0, res0, w, bias, N, C);
                fg_residual_layernorm_forward_ref(res1, out1, m1, s1, res1, b, w, bias, N, C);
                fg_residual_layernorm_forward_ref(res2, out2, m2, s2, a, b, w, bias, N, C);
            } else {
                fg_add(res0, a, b, NC, 2);
                fg_layernorm_forward(out0, m0, s0, res0, w, bias, N, C, 2);
                fg_residual_layernorm_forward(res1, out1, m1, s1, res1, b, w, bias, N, C, 2);
                fg_residual_layernorm_forward(res2, out2, m2, s2, a, b, w, bias, N, C, 1);
            }
            CHECK(t, memcmp(res1, res0, NC * 4) == 0 && memcmp(res2, res0, NC * 4) == 0);
            CHECK(t, memcmp(out1, out0, NC * 4) == 0 && memcmp(out2, out0, NC * 4) == 0);
            CHECK(t, memcmp(m1, m0, N * 4) == 0 && memcmp(m2, m0, N * 4) == 0);
            CHECK(t, memcmp(s1, s0, N * 4) == 0 && memcmp(s2, s0, N * 4) == 0);
        }
        pool_free(&pl);
    }
}

static double gelu_spec(double x)
{
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / 3.141592653589793) * (x + 0.044715 * x * x * x)));
}

TEST(gelu_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    size_t n = 4096 + 905; /* two blocks of the fast path */
    float *inp = pool_randn(&pl, &r, n, 2.5f);
    const float special[] = { 0.0f, -10.0f, 10.0f, -5.0f,  5.0f,   1e-4f,  -1e-4f,
                              3.0f, -3.0f,  30.0f, -30.0f, 100.0f, -100.0f };
    memcpy(inp, special, sizeof special);
    float *out_ref = pool_f32(&pl, n), *out_fast = pool_f32(&pl, n), *spec = pool_f32(&pl, n);
    fill_nan(out_ref, n);
    fill_nan(out_fast, n);
    fg_gelu_forward_ref(out_ref, inp, n);
    fg_gelu_forward(out_fast, inp, n, 2);
    CHECK_CLOSE(t, out_fast, out_ref, n, TOL_GELU_ATOL, TOL_GELU_RTOL);
    for (size_t i = 0; i < n; i++)
        spec[i] = (float)gelu_spec((double)inp[i]);
    CHECK_CLOSE(t, out_ref, spec, n, TOL_SPEC_ATOL, TOL_SPEC_RTOL);

    float *dout = pool_randn(&pl, &r, n, 1.0f);
    float *dinp_ref = pool_f32(&pl, n), *dinp_fast = pool_f32(&pl, n);
    fill_nan(dinp_ref, n);
    fill_nan(dinp_fast, n);
    fg_gelu_backward_ref(dinp_ref, inp, dout, n);
    fg_gelu_backward(dinp_fast, inp, dout, n, 2);
    CHECK_CLOSE(t, dinp_fast, dinp_ref, n, TOL_GELU_BWD_ATOL, TOL_GELU_BWD_RTOL);
    /* dinp may alias dout */
    float *inplace_ref = pool_copy(&pl, dout, n), *inplace_fast = pool_copy(&pl, dout, n);
    fg_gelu_backward_ref(inplace_ref, inp, inplace_ref, n);
    fg_gelu_backward(inplace_fast, inp, inplace_fast, n, 2);
    CHECK(t, same_bits(inplace_ref, dinp_ref, n * sizeof(float)));
    CHECK(t, same_bits(inplace_fast, dinp_fast, n * sizeof(float)));
    pool_free(&pl);
}

/* out (B,T,C) of causal attention computed in double from the definition */
static void attention_spec(float *out, const float *qkv, size_t B, size_t T, size_t C, size_t NH)
{
    size_t HS = C / NH, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)HS), w[64]; /* T <= 64 here */
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++)
            for (size_t i = 0; i < T; i++) {
                const float *q = qkv + (b * T + i) * C3 + h * HS;
                double maxv = -HUGE_VAL, sum = 0;
                for (size_t s = 0; s <= i; s++) {
                    const float *k = qkv + (b * T + s) * C3 + C + h * HS;
                    double dot = 0;
                    for (size_t c = 0; c < HS; c++)
                        dot += (double)q[c] * (double)k[c];
                    w[s] = dot * scale;
                    maxv = w[s] > maxv ? w[s] : maxv;
                }
                for (size_t s = 0; s <= i; s++) {
                    w[s] = exp(w[s] - maxv);
                    sum += w[s];
                }
                for (size_t c = 0; c < HS; c++) {
                    double acc = 0;
                    for (size_t s = 0; s <= i; s++)
                        acc += w[s] / sum * (double)qkv[(b * T + s) * C3 + 2 * C + h * HS + c];
                    out[(b * T + i) * C + h * HS + c] = (float)acc;
                }
            }
}

/* rows of att sum to 1, entries are >= 0 and exactly 0 above the diagonal */
static void check_att_rows(struct fg_test *t, const char *what, const float *att, size_t B,
                           size_t NH, size_t T)
{
    int upper_zero = 1, nonneg = 1;
    double worst = 0;
    for (size_t row = 0; row < B * NH * T; row++) {
        const float *p = att + row * T;
        size_t i = row % T;
        double sum = 0;
        for (size_t s = 0; s < T; s++) {
            if (s > i)
                upper_zero &= p[s] == 0.0f;
            nonneg &= p[s] >= 0.0f;
            sum += (double)p[s];
        }
        if (!(fabs(sum - 1.0) <= worst))
            worst = fabs(sum - 1.0);
    }
    if (!upper_zero || !nonneg || !(worst <= TOL_ATT_ROWSUM))
        fg_test_fail(t, __FILE__, __LINE__,
                     "%s: upper triangle zero %d, non-negative %d, worst |rowsum - 1| %.3e", what,
                     upper_zero, nonneg, worst);
}

static void check_attention(struct fg_test *t, struct fg_rng *r, size_t B, size_t T, size_t C,
                            size_t NH)
{
    struct pool pl = { 0 };
    size_t n_qkv = B * T * 3 * C, n_out = B * T * C, n_att = B * NH * T * T;
    float *qkv = pool_randn(&pl, r, n_qkv, 1.0f);
    float *out_ref = pool_f32(&pl, n_out), *out_fast = pool_f32(&pl, n_out);
    float *att_ref = pool_f32(&pl, n_att), *att_fast = pool_f32(&pl, n_att);
    float *spec = pool_f32(&pl, n_out);
    fill_nan(out_ref, n_out);
    fill_nan(out_fast, n_out);
    fill_nan(att_ref, n_att);
    fill_nan(att_fast, n_att);
    set_threads(2);
    fg_attention_forward_ref(out_ref, att_ref, qkv, B, T, C, NH);
    fg_attention_forward(out_fast, att_fast, qkv, B, T, C, NH, 2);
    CHECK_CLOSE(t, out_fast, out_ref, n_out, TOL_ATT_ATOL, TOL_ATT_RTOL);
    CHECK_CLOSE(t, att_fast, att_ref, n_att, TOL_ATT_ATOL, TOL_ATT_RTOL);
    check_att_rows(t, "att_ref", att_ref, B, NH, T);
    check_att_rows(t, "att_fast", att_fast, B, NH, T);
    attention_spec(spec, qkv, B, T, C, NH);
    CHECK_CLOSE(t, out_ref, spec, n_out, TOL_SPEC_ATOL, TOL_SPEC_RTOL);

    float *dout = pool_randn(&pl, r, n_out, 1.0f);
    float *dqkv_ref = pool_f32(&pl, n_qkv), *dqkv_fast = pool_f32(&pl, n_qkv);
    float *scratch = pool_f32(&pl, n_att);
    fill_nan(dqkv_ref, n_qkv);
    fill_nan(dqkv_fast, n_qkv);
    fill_nan(scratch, n_att);
    fg_attention_backward_ref(dqkv_ref, dout, qkv, att_ref, B, T, C, NH);
    fg_attention_backward(dqkv_fast, scratch, dout, qkv, att_ref, B, T, C, NH, 2);
    CHECK_CLOSE(t, dqkv_fast, dqkv_ref, n_qkv, TOL_ATT_ATOL, TOL_ATT_RTOL);
    pool_free(&pl);
}

TEST(attention_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    check_attention(t, &r, 2, 9, 24, 3);
    check_attention(t, &r, 1, 1, 24, 3);
    check_attention(t, &r, 3, 1, 24, 3);
    check_attention(t, &r, 2, 17, 64, 4);
}

/* Tiled attention (no T x T matrix) against the standard _ref: outputs and gradients within the
 * attention tolerance, each row's log-sum-exp against the definition in double, and the same
 * bits for 1 and 3 threads. scale multiplies qkv (large scores test the online softmax's
 * rescaling). */
static void check_attention_tiled(struct fg_test *t, struct fg_rng *r, size_t B, size_t T, size_t C,
                                  size_t NH, float scale)
{
    struct pool pl = { 0 };
    size_t n_qkv = B * T * 3 * C, n_out = B * T * C, n_att = B * NH * T * T, n_lse = B * NH * T;
    size_t HS = C / NH, C3 = 3 * C;
    float *qkv = pool_randn(&pl, r, n_qkv, scale);
    float *out_ref = pool_f32(&pl, n_out), *att_ref = pool_f32(&pl, n_att);
    float *out = pool_f32(&pl, n_out), *lse = pool_f32(&pl, n_lse);
    float *out3 = pool_f32(&pl, n_out), *lse3 = pool_f32(&pl, n_lse),
          *lse_spec = pool_f32(&pl, n_lse);
    fill_nan(out, n_out);
    fill_nan(lse, n_lse);
    fg_attention_forward_ref(out_ref, att_ref, qkv, B, T, C, NH);
    fg_attention_tiled_forward(out, lse, qkv, B, T, C, NH, 1);
    fg_attention_tiled_forward(out3, lse3, qkv, B, T, C, NH, 3);
    /* with scores up to a few hundred (scale 3) each exp's argument carries a rounding of about
     * |s| 2^-23, 5e-5 relative in P, in this kernel's order and in the standard one's */
    CHECK_CLOSE(t, out, out_ref, n_out, scale > 1.0f ? TOL_ATT_TILED_ATOL : TOL_ATT_ATOL,
                TOL_ATT_RTOL);
    CHECK(t, same_bits(out, out3, n_out * sizeof(float)) &&
                 same_bits(lse, lse3, n_lse * sizeof(float)));
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < NH; h++)
            for (size_t i = 0; i < T; i++) {
                double mx = -HUGE_VAL, sum = 0, hs = 1.0 / sqrt((double)HS);
                for (int pass = 0; pass < 2; pass++)
                    for (size_t k = 0; k <= i; k++) {
                        double dot = 0;
                        for (size_t c = 0; c < HS; c++)
                            dot += (double)qkv[(b * T + i) * C3 + h * HS + c] *
                                   (double)qkv[(b * T + k) * C3 + C + h * HS + c];
                        if (pass == 0)
                            mx = dot * hs > mx ? dot * hs : mx;
                        else
                            sum += exp(dot * hs - mx);
                    }
                lse_spec[(b * NH + h) * T + i] = (float)(mx + log(sum));
            }
    CHECK_CLOSE(t, lse, lse_spec, n_lse, 1e-5, 1e-5);

    float *dout = pool_randn(&pl, r, n_out, 1.0f);
    float *dqkv_ref = pool_f32(&pl, n_qkv), *dqkv = pool_f32(&pl, n_qkv),
          *dqkv3 = pool_f32(&pl, n_qkv);
    float *scratch = pool_f32(&pl, n_lse);
    fill_nan(dqkv, n_qkv);
    fill_nan(scratch, n_lse);
    fg_attention_backward_ref(dqkv_ref, dout, qkv, att_ref, B, T, C, NH);
    fg_attention_tiled_backward(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH, 1);
    fg_attention_tiled_backward(dqkv3, scratch, dout, qkv, out, lse, B, T, C, NH, 3);
    CHECK_CLOSE(t, dqkv, dqkv_ref, n_qkv, TOL_ATT_TILED_ATOL * (double)(scale * scale),
                TOL_ATT_RTOL);
    CHECK(t, same_bits(dqkv, dqkv3, n_qkv * sizeof(float)));
    pool_free(&pl);
}

TEST(attention_tiled_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    /* tiles of 32 queries and keys: ragged, exact and several blocks; head sizes 8 to 128 */
    check_attention_tiled(t, &r, 2, 9, 24, 3, 1.0f);
    check_attention_tiled(t, &r, 1, 1, 24, 3, 1.0f);
    check_attention_tiled(t, &r, 2, 33, 64, 4, 1.0f);
    check_attention_tiled(t, &r, 2, 64, 48, 2, 1.0f);
    check_attention_tiled(t, &r, 1, 70, 128, 1, 1.0f);
    check_attention_tiled(t, &r, 1, 100, 64, 2, 3.0f); /* scores in the hundreds */
    CHECK(t, fg_attention_tiled_supported(768, 12) && fg_attention_tiled_supported(128, 1));
    CHECK(t, !fg_attention_tiled_supported(258, 2) && !fg_attention_tiled_supported(64, 0) &&
                 !fg_attention_tiled_supported(64, 3));
}

TEST(attention_t1_is_value)
{
    /* T = 1: the only probability is exactly 1 and the output is the value vector */
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    size_t B = 2, C = 24, NH = 3;
    float *qkv = pool_randn(&pl, &r, B * 3 * C, 1.0f);
    float *out = pool_f32(&pl, B * C), *att = pool_f32(&pl, B * NH), *val = pool_f32(&pl, B * C);
    float *ones = pool_f32(&pl, B * NH);
    for (size_t b = 0; b < B; b++)
        memcpy(val + b * C, qkv + b * 3 * C + 2 * C, C * sizeof(float));
    for (size_t i = 0; i < B * NH; i++)
        ones[i] = 1.0f;
    fg_attention_forward_ref(out, att, qkv, B, 1, C, NH);
    CHECK_CLOSE(t, att, ones, B * NH, TOL_EXACT, TOL_EXACT);
    CHECK_CLOSE(t, out, val, B * C, TOL_EXACT, TOL_EXACT);
    set_threads(2);
    fg_attention_forward(out, att, qkv, B, 1, C, NH, 2);
    CHECK_CLOSE(t, att, ones, B * NH, TOL_EXACT, TOL_EXACT);
    CHECK_CLOSE(t, out, val, B * C, TOL_ATT_ATOL, TOL_ATT_RTOL);
    pool_free(&pl);
}

TEST(crossentropy_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    size_t N = 7, V = 50, Vp = 64;
    float *logits = pool_randn(&pl, &r, N * Vp, 2.0f);
    for (size_t n = 0; n < N; n++)
        for (size_t i = V; i < Vp; i++)
            logits[n * Vp + i] = 5.0f; /* padding garbage that must be ignored */
    for (size_t i = 0; i < V; i++)
        logits[3 * Vp + i] += 100.0f; /* exp overflows unless the max is subtracted */
    int32_t *tgt = pool_tokens(&pl, &r, N, V);
    tgt[0] = 0;
    tgt[N - 1] = (int32_t)(V - 1);

    /* dscale = 0: losses only, logits untouched */
    float *l_ref = pool_copy(&pl, logits, N * Vp), *l_fast = pool_copy(&pl, logits, N * Vp);
    float *loss_ref = pool_f32(&pl, N), *loss_fast = pool_f32(&pl, N), *spec = pool_f32(&pl, N);
    fill_nan(loss_ref, N);
    fill_nan(loss_fast, N);
    fg_crossentropy_ref(loss_ref, l_ref, tgt, N, V, Vp, 0.0f);
    fg_crossentropy(loss_fast, l_fast, tgt, N, V, Vp, 0.0f, 2);
    CHECK_CLOSE(t, loss_fast, loss_ref, N, TOL_CE_LOSS_ATOL, TOL_CE_LOSS_RTOL);
    CHECK(t, same_bits(l_ref, logits, N * Vp * sizeof(float)));
    CHECK(t, same_bits(l_fast, logits, N * Vp * sizeof(float)));
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * Vp;
        double maxv = -HUGE_VAL, sum = 0;
        for (size_t i = 0; i < V; i++)
            maxv = (double)z[i] > maxv ? (double)z[i] : maxv;
        for (size_t i = 0; i < V; i++)
            sum += exp((double)z[i] - maxv);
        spec[n] = (float)(log(sum) + maxv - (double)z[tgt[n]]);
    }
    CHECK_CLOSE(t, loss_ref, spec, N, TOL_CE_LOSS_ATOL, TOL_CE_LOSS_RTOL);

    /* dscale != 0: gradient in place, padding zeroed, same losses */
    float dscale = 0.37f;
    float *g_ref = pool_copy(&pl, logits, N * Vp), *g_fast = pool_copy(&pl, logits, N * Vp);
    float *loss2_ref = pool_f32(&pl, N), *loss2_fast = pool_f32(&pl, N);
    float *g_spec = pool_f32(&pl, N * Vp);
    fg_crossentropy_ref(loss2_ref, g_ref, tgt, N, V, Vp, dscale);
    fg_crossentropy(loss2_fast, g_fast, tgt, N, V, Vp, dscale, 2);
    CHECK_CLOSE(t, loss2_ref, loss_ref, N, TOL_EXACT, TOL_EXACT);
    CHECK_CLOSE(t, loss2_fast, loss_ref, N, TOL_CE_LOSS_ATOL, TOL_CE_LOSS_RTOL);
    CHECK_CLOSE(t, g_fast, g_ref, N * Vp, TOL_CE_GRAD_ATOL, TOL_CE_GRAD_RTOL);
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * Vp;
        double maxv = -HUGE_VAL, sum = 0;
        for (size_t i = 0; i < V; i++)
            maxv = (double)z[i] > maxv ? (double)z[i] : maxv;
        for (size_t i = 0; i < V; i++)
            sum += exp((double)z[i] - maxv);
        for (size_t i = 0; i < Vp; i++) {
            double p = i < V ? exp((double)z[i] - maxv) / sum : 0.0;
            double onehot = i == (size_t)tgt[n] ? 1.0 : 0.0;
            g_spec[n * Vp + i] = (float)((double)dscale * (p - onehot));
        }
    }
    /* the padded columns are exactly 0 in both, through the spec with atol 0 there */
    CHECK_CLOSE(t, g_ref, g_spec, N * Vp, TOL_CE_GRAD_ATOL, TOL_CE_GRAD_RTOL);
    int pad_zero = 1;
    for (size_t n = 0; n < N; n++)
        for (size_t i = V; i < Vp; i++)
            pad_zero &= g_ref[n * Vp + i] == 0.0f && g_fast[n * Vp + i] == 0.0f;
    CHECK(t, pad_zero);
    pool_free(&pl);
}

static void check_encoder(struct fg_test *t, struct fg_rng *r, size_t B, size_t T, size_t C)
{
    struct pool pl = { 0 };
    size_t V = 11, Vp = 16; /* B*T > V: repeated tokens; rows [V, Vp) and unused rows stay */
    int32_t *tok = pool_tokens(&pl, r, B * T, V);
    tok[0] = 0;
    tok[B * T - 1] = (int32_t)(V - 1);
    if (B * T >= 3)
        tok[1] = tok[2];
    float *wte = pool_randn(&pl, r, Vp * C, 1.0f), *wpe = pool_randn(&pl, r, T * C, 1.0f);
    float *out_ref = pool_f32(&pl, B * T * C), *out_fast = pool_f32(&pl, B * T * C);
    float *spec = pool_f32(&pl, B * T * C);
    fill_nan(out_ref, B * T * C);
    fill_nan(out_fast, B * T * C);
    fg_encoder_forward_ref(out_ref, tok, wte, wpe, B, T, C);
    fg_encoder_forward(out_fast, tok, wte, wpe, B, T, C, 2);
    CHECK_CLOSE(t, out_fast, out_ref, B * T * C, TOL_EXACT, TOL_EXACT);
    for (size_t b = 0; b < B; b++)
        for (size_t i = 0; i < T; i++)
            for (size_t c = 0; c < C; c++)
                spec[(b * T + i) * C + c] = wte[(size_t)tok[b * T + i] * C + c] + wpe[i * C + c];
    CHECK_CLOSE(t, out_ref, spec, B * T * C, TOL_EXACT, TOL_EXACT);

    float *dout = pool_randn(&pl, r, B * T * C, 1.0f);
    float *dwte0 = pool_randn(&pl, r, Vp * C, 1.0f), *dwpe0 = pool_randn(&pl, r, T * C, 1.0f);
    float *dwte_ref = pool_copy(&pl, dwte0, Vp * C), *dwte_fast = pool_copy(&pl, dwte0, Vp * C);
    float *dwpe_ref = pool_copy(&pl, dwpe0, T * C), *dwpe_fast = pool_copy(&pl, dwpe0, T * C);
    fg_encoder_backward_ref(dwte_ref, dwpe_ref, dout, tok, B, T, C);
    fg_encoder_backward(dwte_fast, dwpe_fast, dout, tok, B, T, C, 2);
    CHECK_CLOSE(t, dwte_fast, dwte_ref, Vp * C, TOL_ENC_ATOL, TOL_ENC_RTOL);
    CHECK_CLOSE(t, dwpe_fast, dwpe_ref, T * C, TOL_ENC_ATOL, TOL_ENC_RTOL);
    /* rows of tokens that do not occur keep their previous gradient bit for bit */
    int untouched = 1;
    for (size_t v = 0; v < Vp; v++) {
        int used = 0;
        for (size_t i = 0; i < B * T; i++)
            used |= (size_t)tok[i] == v;
        if (!used)
            untouched &= same_bits(dwte_ref + v * C, dwte0 + v * C, C * sizeof(float)) &&
                         same_bits(dwte_fast + v * C, dwte0 + v * C, C * sizeof(float));
    }
    CHECK(t, untouched);
    pool_free(&pl);
}

TEST(encoder_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    check_encoder(t, &r, 2, 9, 24);
    check_encoder(t, &r, 2, 9, 80); /* two 64-channel blocks */
    check_encoder(t, &r, 1, 1, 24);
}

TEST(add_and_accumulate)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    size_t n = 4096 * 2 + 77;
    float *a = pool_randn(&pl, &r, n, 1.0f), *b = pool_randn(&pl, &r, n, 1.0f);
    float *out = pool_f32(&pl, n), *want = pool_f32(&pl, n);
    for (size_t i = 0; i < n; i++)
        want[i] = a[i] + b[i];
    fill_nan(out, n);
    fg_add(out, a, b, n, 2);
    CHECK_CLOSE(t, out, want, n, TOL_EXACT, TOL_EXACT);
    float *alias = pool_copy(&pl, a, n);
    fg_add(alias, alias, b, n, 2); /* out may alias a */
    CHECK_CLOSE(t, alias, want, n, TOL_EXACT, TOL_EXACT);
    float *y = pool_copy(&pl, b, n);
    fg_accumulate(y, a, n, 2); /* y += x */
    CHECK_CLOSE(t, y, want, n, TOL_EXACT, TOL_EXACT);
    pool_free(&pl);
}

/* ---- 2. 1 thread vs 2 threads, bit for bit --------------------------------------------- */
TEST(threads_bitwise_equal)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    /* big enough that every parallel loop has work for both threads */
    size_t N = 37, IC = 64, OC = 72, C = 80, ng = 4096 * 2 + 300;
    size_t B = 2, T = 17, CA = 64, NH = 4, V = 200, Vp = 256, NA = 20000;
    float *inp = pool_randn(&pl, &r, N * IC, 1.0f), *w = pool_randn(&pl, &r, OC * IC, 1.0f);
    float *bias = pool_randn(&pl, &r, OC, 1.0f), *dout_mm = pool_randn(&pl, &r, N * OC, 1.0f);
    float *dw0 = pool_randn(&pl, &r, OC * IC, 1.0f), *db0 = pool_randn(&pl, &r, OC, 1.0f);
    float *ln_x = pool_randn(&pl, &r, N * C, 1.0f), *ln_w = pool_randn(&pl, &r, C, 1.0f);
    float *ln_b = pool_randn(&pl, &r, C, 1.0f), *dout_ln = pool_randn(&pl, &r, N * C, 1.0f);
    float *ln_dx0 = pool_randn(&pl, &r, N * C, 1.0f), *ln_dw0 = pool_randn(&pl, &r, C, 1.0f);
    float *g_x = pool_randn(&pl, &r, ng, 2.0f), *g_dout = pool_randn(&pl, &r, ng, 1.0f);
    float *qkv = pool_randn(&pl, &r, B * T * 3 * CA, 1.0f);
    float *dout_at = pool_randn(&pl, &r, B * T * CA, 1.0f);
    float *logits = pool_randn(&pl, &r, N * Vp, 3.0f);
    int32_t *tgt = pool_tokens(&pl, &r, N, V), *tok = pool_tokens(&pl, &r, B * T, V);
    float *wte = pool_randn(&pl, &r, Vp * C, 1.0f), *wpe = pool_randn(&pl, &r, T * C, 1.0f);
    float *dout_en = pool_randn(&pl, &r, B * T * C, 1.0f);
    float *p0 = pool_randn(&pl, &r, NA, 1.0f), *adam_g = pool_randn(&pl, &r, NA, 1.0f);
    struct fg_optim_segment seg[2] = { { 3, 9000, 1 }, { 9003, 10990, 0 } };
    struct fg_adamw_params hp = fg_adamw_params_default();

    float *mm_outb[2], *mm_out[2], *mm_dinp[2], *mm_dw[2], *mm_db[2];
    float *ln_out[2], *ln_mean[2], *ln_rstd[2], *ln_dx[2], *ln_dw[2], *ln_db[2];
    float *ge_out[2], *ge_dx[2], *at_out[2], *at_att[2], *at_dqkv[2], *at_scr[2];
    float *ce_loss0[2], *ce_loss[2], *ce_grad[2], *en_out[2], *en_dwte[2], *en_dwpe[2];
    float *add_out[2], *acc_y[2], *ad_p[2], *ad_m[2], *ad_v[2];
    for (int k = 0; k < 2; k++) {
        int nt = k + 1;
        set_threads(nt);
        mm_outb[k] = pool_f32(&pl, N * OC);
        mm_out[k] = pool_f32(&pl, N * OC);
        mm_dinp[k] = pool_f32(&pl, N * IC);
        mm_dw[k] = pool_copy(&pl, dw0, OC * IC);
        mm_db[k] = pool_copy(&pl, db0, OC);
        fg_matmul_forward(mm_outb[k], inp, w, bias, N, IC, OC, nt);
        fg_matmul_forward(mm_out[k], inp, w, NULL, N, IC, OC, nt);
        fg_matmul_backward(mm_dinp[k], mm_dw[k], mm_db[k], dout_mm, inp, w, N, IC, OC, nt);

        ln_out[k] = pool_f32(&pl, N * C);
        ln_mean[k] = pool_f32(&pl, N);
        ln_rstd[k] = pool_f32(&pl, N);
        ln_dx[k] = pool_copy(&pl, ln_dx0, N * C);
        ln_dw[k] = pool_copy(&pl, ln_dw0, C);
        ln_db[k] = pool_copy(&pl, ln_dw0, C);
        fg_layernorm_forward(ln_out[k], ln_mean[k], ln_rstd[k], ln_x, ln_w, ln_b, N, C, nt);
        fg_layernorm_backward(ln_dx[k], ln_dw[k], ln_db[k], dout_ln, ln_x, ln_w, ln_mean[k],
                              ln_rstd[k], N, C, nt);

        ge_out[k] = pool_f32(&pl, ng);
        ge_dx[k] = pool_f32(&pl, ng);
        fg_gelu_forward(ge_out[k], g_x, ng, nt);
        fg_gelu_backward(ge_dx[k], g_x, g_dout, ng, nt);

        at_out[k] = pool_f32(&pl, B * T * CA);
        at_att[k] = pool_f32(&pl, B * NH * T * T);
        at_dqkv[k] = pool_f32(&pl, B * T * 3 * CA);
        at_scr[k] = pool_f32(&pl, B * NH * T * T);
        fg_attention_forward(at_out[k], at_att[k], qkv, B, T, CA, NH, nt);
        fg_attention_backward(at_dqkv[k], at_scr[k], dout_at, qkv, at_att[k], B, T, CA, NH, nt);

        ce_loss0[k] = pool_f32(&pl, N);
        ce_loss[k] = pool_f32(&pl, N);
        ce_grad[k] = pool_copy(&pl, logits, N * Vp);
        fg_crossentropy(ce_loss0[k], ce_grad[k], tgt, N, V, Vp, 0.0f, nt);
        fg_crossentropy(ce_loss[k], ce_grad[k], tgt, N, V, Vp, 1.0f / (float)N, nt);

        en_out[k] = pool_f32(&pl, B * T * C);
        en_dwte[k] = pool_copy(&pl, wte, Vp * C);
        en_dwpe[k] = pool_copy(&pl, wpe, T * C);
        fg_encoder_forward(en_out[k], tok, wte, wpe, B, T, C, nt);
        fg_encoder_backward(en_dwte[k], en_dwpe[k], dout_en, tok, B, T, C, nt);

        add_out[k] = pool_f32(&pl, ng);
        acc_y[k] = pool_copy(&pl, g_x, ng);
        fg_add(add_out[k], g_x, g_dout, ng, nt);
        fg_accumulate(acc_y[k], g_dout, ng, nt);

        ad_p[k] = pool_copy(&pl, p0, NA);
        ad_m[k] = pool_f32(&pl, NA);
        ad_v[k] = pool_f32(&pl, NA);
        for (int64_t step = 1; step <= 3; step++)
            fg_adamw_step(ad_p[k], adam_g, ad_m[k], ad_v[k], seg, 2, step, 1e-2f, 0.5f, &hp, nt);
    }
    size_t f = sizeof(float);
    CHECK(t, same_bits(mm_outb[0], mm_outb[1], N * OC * f));
    CHECK(t, same_bits(mm_out[0], mm_out[1], N * OC * f));
    CHECK(t, same_bits(mm_dinp[0], mm_dinp[1], N * IC * f));
    CHECK(t, same_bits(mm_dw[0], mm_dw[1], OC * IC * f));
    CHECK(t, same_bits(mm_db[0], mm_db[1], OC * f));
    CHECK(t, same_bits(ln_out[0], ln_out[1], N * C * f));
    CHECK(t, same_bits(ln_mean[0], ln_mean[1], N * f));
    CHECK(t, same_bits(ln_rstd[0], ln_rstd[1], N * f));
    CHECK(t, same_bits(ln_dx[0], ln_dx[1], N * C * f));
    CHECK(t, same_bits(ln_dw[0], ln_dw[1], C * f));
    CHECK(t, same_bits(ln_db[0], ln_db[1], C * f));
    CHECK(t, same_bits(ge_out[0], ge_out[1], ng * f));
    CHECK(t, same_bits(ge_dx[0], ge_dx[1], ng * f));
    CHECK(t, same_bits(at_out[0], at_out[1], B * T * CA * f));
    CHECK(t, same_bits(at_att[0], at_att[1], B * NH * T * T * f));
    CHECK(t, same_bits(at_dqkv[0], at_dqkv[1], B * T * 3 * CA * f));
    CHECK(t, same_bits(ce_loss0[0], ce_loss0[1], N * f));
    CHECK(t, same_bits(ce_loss[0], ce_loss[1], N * f));
    CHECK(t, same_bits(ce_grad[0], ce_grad[1], N * Vp * f));
    CHECK(t, same_bits(en_out[0], en_out[1], B * T * C * f));
    CHECK(t, same_bits(en_dwte[0], en_dwte[1], Vp * C * f));
    CHECK(t, same_bits(en_dwpe[0], en_dwpe[1], T * C * f));
    CHECK(t, same_bits(add_out[0], add_out[1], ng * f));
    CHECK(t, same_bits(acc_y[0], acc_y[1], ng * f));
    CHECK(t, same_bits(ad_p[0], ad_p[1], NA * f));
    CHECK(t, same_bits(ad_m[0], ad_m[1], NA * f));
    CHECK(t, same_bits(ad_v[0], ad_v[1], NA * f));
    set_threads(2);
    pool_free(&pl);
}

/* ---- 3. finite-difference gradient checks of the _ref backwards -------------------------- */
typedef double (*objective_fn)(void *ctx);

/* Compare grad[idx] with (J(x + h) - J(x - h)) / (x+h - (x-h)) at FD_N_COORDS random
 * coordinates of x (all of them if x is smaller). The actual fp32 step is the denominator. */
static void grad_check(struct fg_test *t, const char *what, float *x, size_t n, const float *grad,
                       objective_fn J, void *ctx, struct fg_rng *r)
{
    double analytic[FD_N_COORDS], numeric[FD_N_COORDS];
    size_t m = n < FD_N_COORDS ? n : FD_N_COORDS;
    for (size_t k = 0; k < m; k++) {
        size_t idx = n <= FD_N_COORDS ? k : (size_t)fg_rng_below(r, n);
        float x0 = x[idx];
        float xp = (float)((double)x0 + FD_H), xm = (float)((double)x0 - FD_H);
        x[idx] = xp;
        double jp = J(ctx);
        x[idx] = xm;
        double jm = J(ctx);
        x[idx] = x0;
        numeric[k] = (jp - jm) / ((double)xp - (double)xm);
        analytic[k] = (double)grad[idx];
    }
    fg_test_close_f64(t, __FILE__, __LINE__, what, analytic, numeric, m, FD_ATOL, FD_RTOL);
}

struct mm_ctx {
    float *out, *inp, *w, *bias;
    const float *r;
    size_t N, IC, OC;
};

static double mm_objective(void *p)
{
    struct mm_ctx *c = p;
    fg_matmul_forward_ref(c->out, c->inp, c->w, c->bias, c->N, c->IC, c->OC);
    return weighted_sum(c->r, c->out, c->N * c->OC);
}

TEST(matmul_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    struct mm_ctx c = { 0 };
    c.N = 7;
    c.IC = 24;
    c.OC = 40;
    c.inp = pool_randn(&pl, &r, c.N * c.IC, 1.0f);
    c.w = pool_randn(&pl, &r, c.OC * c.IC, 1.0f);
    c.bias = pool_randn(&pl, &r, c.OC, 1.0f);
    c.out = pool_f32(&pl, c.N * c.OC);
    float *rr = pool_randn(&pl, &r, c.N * c.OC, 1.0f);
    c.r = rr;
    float *dinp = pool_f32(&pl, c.N * c.IC), *dw = pool_f32(&pl, c.OC * c.IC);
    float *db = pool_f32(&pl, c.OC);
    fg_matmul_backward_ref(dinp, dw, db, rr, c.inp, c.w, c.N, c.IC, c.OC);
    grad_check(t, "matmul dinp", c.inp, c.N * c.IC, dinp, mm_objective, &c, &r);
    grad_check(t, "matmul dw", c.w, c.OC * c.IC, dw, mm_objective, &c, &r);
    grad_check(t, "matmul dbias", c.bias, c.OC, db, mm_objective, &c, &r);
    pool_free(&pl);
}

struct ln_ctx {
    float *out, *mean, *rstd, *inp, *w, *b;
    const float *r;
    size_t N, C;
};

static double ln_objective(void *p)
{
    struct ln_ctx *c = p;
    fg_layernorm_forward_ref(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return weighted_sum(c->r, c->out, c->N * c->C);
}

TEST(layernorm_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    struct ln_ctx c = { 0 };
    c.N = 7;
    c.C = 24;
    c.inp = pool_randn(&pl, &r, c.N * c.C, 1.0f);
    for (size_t i = 0; i < c.N * c.C; i++)
        c.inp[i] += 0.5f; /* non-zero mean */
    c.w = pool_randn(&pl, &r, c.C, 1.0f);
    c.b = pool_randn(&pl, &r, c.C, 1.0f);
    c.out = pool_f32(&pl, c.N * c.C);
    c.mean = pool_f32(&pl, c.N);
    c.rstd = pool_f32(&pl, c.N);
    float *rr = pool_randn(&pl, &r, c.N * c.C, 1.0f);
    c.r = rr;
    ln_objective(&c); /* mean and rstd of the unperturbed input */
    float *mean = pool_copy(&pl, c.mean, c.N), *rstd = pool_copy(&pl, c.rstd, c.N);
    float *dinp = pool_f32(&pl, c.N * c.C), *dw = pool_f32(&pl, c.C), *db = pool_f32(&pl, c.C);
    fg_layernorm_backward_ref(dinp, dw, db, rr, c.inp, c.w, mean, rstd, c.N, c.C);
    grad_check(t, "layernorm dinp", c.inp, c.N * c.C, dinp, ln_objective, &c, &r);
    grad_check(t, "layernorm dw", c.w, c.C, dw, ln_objective, &c, &r);
    grad_check(t, "layernorm db", c.b, c.C, db, ln_objective, &c, &r);
    pool_free(&pl);
}

struct gelu_ctx {
    float *out, *inp;
    const float *r;
    size_t n;
};

static double gelu_objective(void *p)
{
    struct gelu_ctx *c = p;
    fg_gelu_forward_ref(c->out, c->inp, c->n);
    return weighted_sum(c->r, c->out, c->n);
}

TEST(gelu_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    struct gelu_ctx c = { 0 };
    c.n = 64;
    c.inp = pool_randn(&pl, &r, c.n, 2.0f);
    c.out = pool_f32(&pl, c.n);
    float *rr = pool_randn(&pl, &r, c.n, 1.0f), *dinp = pool_f32(&pl, c.n);
    c.r = rr;
    fg_gelu_backward_ref(dinp, c.inp, rr, c.n);
    grad_check(t, "gelu dinp", c.inp, c.n, dinp, gelu_objective, &c, &r);
    pool_free(&pl);
}

struct att_ctx {
    float *out, *att, *qkv;
    const float *r;
    size_t B, T, C, NH;
};

static double att_objective(void *p)
{
    struct att_ctx *c = p;
    fg_attention_forward_ref(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH);
    return weighted_sum(c->r, c->out, c->B * c->T * c->C);
}

static void att_grad_case(struct fg_test *t, struct fg_rng *r, size_t B, size_t T, size_t C,
                          size_t NH)
{
    struct pool pl = { 0 };
    struct att_ctx c = { 0 };
    c.B = B;
    c.T = T;
    c.C = C;
    c.NH = NH;
    size_t n_qkv = B * T * 3 * C, n_out = B * T * C;
    c.qkv = pool_randn(&pl, r, n_qkv, 1.0f);
    c.out = pool_f32(&pl, n_out);
    c.att = pool_f32(&pl, B * NH * T * T);
    float *rr = pool_randn(&pl, r, n_out, 1.0f), *dqkv = pool_f32(&pl, n_qkv);
    c.r = rr;
    att_objective(&c);
    float *att = pool_copy(&pl, c.att, B * NH * T * T);
    fg_attention_backward_ref(dqkv, rr, c.qkv, att, B, T, C, NH);
    grad_check(t, "attention dqkv", c.qkv, n_qkv, dqkv, att_objective, &c, r);
    /* and coordinates of each of Q, K and V of the last position of batch 0 */
    float *last = c.qkv + (T - 1) * 3 * C;
    const float *dlast = dqkv + (T - 1) * 3 * C;
    grad_check(t, "attention dq (last row)", last, C, dlast, att_objective, &c, r);
    grad_check(t, "attention dk (last row)", last + C, C, dlast + C, att_objective, &c, r);
    grad_check(t, "attention dv (last row)", last + 2 * C, C, dlast + 2 * C, att_objective, &c, r);
    pool_free(&pl);
}

TEST(attention_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    att_grad_case(t, &r, 2, 9, 24, 3);
    att_grad_case(t, &r, 2, 1, 24, 3);
}

struct ce_ctx {
    float *losses, *logits;
    const int32_t *targets;
    size_t N, V, Vp;
    float dscale;
};

static double ce_objective(void *p)
{
    struct ce_ctx *c = p;
    fg_crossentropy_ref(c->losses, c->logits, c->targets, c->N, c->V, c->Vp, 0.0f);
    double s = 0;
    for (size_t n = 0; n < c->N; n++)
        s += (double)c->losses[n];
    return (double)c->dscale * s;
}

TEST(crossentropy_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    struct ce_ctx c = { 0 };
    c.N = 7;
    c.V = 50;
    c.Vp = 64;
    c.dscale = 0.75f;
    c.logits = pool_randn(&pl, &r, c.N * c.Vp, 1.5f);
    c.losses = pool_f32(&pl, c.N);
    int32_t *tgt = pool_tokens(&pl, &r, c.N, c.V);
    c.targets = tgt;
    float *grad = pool_copy(&pl, c.logits, c.N * c.Vp);
    fg_crossentropy_ref(c.losses, grad, tgt, c.N, c.V, c.Vp, c.dscale);
    grad_check(t, "crossentropy dlogits", c.logits, c.N * c.Vp, grad, ce_objective, &c, &r);
    /* the target logit of each row, where the gradient is negative */
    for (size_t n = 0; n < c.N; n++) {
        size_t idx = n * c.Vp + (size_t)tgt[n];
        grad_check(t, "crossentropy dlogits (target)", c.logits + idx, 1, grad + idx, ce_objective,
                   &c, &r);
    }
    pool_free(&pl);
}

struct enc_ctx {
    float *out, *wte, *wpe;
    const int32_t *tokens;
    const float *r;
    size_t B, T, C;
};

static double enc_objective(void *p)
{
    struct enc_ctx *c = p;
    fg_encoder_forward_ref(c->out, c->tokens, c->wte, c->wpe, c->B, c->T, c->C);
    return weighted_sum(c->r, c->out, c->B * c->T * c->C);
}

TEST(encoder_grad_fd)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    struct enc_ctx c = { 0 };
    size_t V = 11, Vp = 16;
    c.B = 2;
    c.T = 9;
    c.C = 24;
    int32_t *tok = pool_tokens(&pl, &r, c.B * c.T, V);
    tok[3] = tok[5]; /* a repeated token sums two contributions */
    c.tokens = tok;
    c.wte = pool_randn(&pl, &r, Vp * c.C, 1.0f);
    c.wpe = pool_randn(&pl, &r, c.T * c.C, 1.0f);
    c.out = pool_f32(&pl, c.B * c.T * c.C);
    float *rr = pool_randn(&pl, &r, c.B * c.T * c.C, 1.0f);
    c.r = rr;
    float *dwte = pool_f32(&pl, Vp * c.C), *dwpe = pool_f32(&pl, c.T * c.C);
    fg_encoder_backward_ref(dwte, dwpe, rr, tok, c.B, c.T, c.C);
    grad_check(t, "encoder dwte", c.wte, Vp * c.C, dwte, enc_objective, &c, &r);
    size_t row = (size_t)tok[3] * c.C;
    grad_check(t, "encoder dwte (repeated token)", c.wte + row, c.C, dwte + row, enc_objective, &c,
               &r);
    grad_check(t, "encoder dwpe", c.wpe, c.T * c.C, dwpe, enc_objective, &c, &r);
    pool_free(&pl);
}

/* ---- 4. AdamW ------------------------------------------------------------------------------ */
TEST(adamw_fast_vs_ref)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    size_t n = 20000;
    /* two segments crossing the fast path's 8192-element blocks; gaps [0,7), [9007,9100)
     * and [19900, 20000) belong to no segment */
    struct fg_optim_segment seg[2] = { { 7, 9000, 1 }, { 9100, 10800, 0 } };
    struct fg_adamw_params hp = fg_adamw_params_default();
    float *p0 = pool_randn(&pl, &r, n, 1.0f), *mv0 = pool_f32(&pl, n);
    for (size_t i = 0; i < n; i++)
        mv0[i] = 7.0f; /* sentinel outside the segments; zeroed inside below */
    for (size_t s = 0; s < 2; s++)
        memset(mv0 + seg[s].offset, 0, seg[s].n * sizeof(float));
    float *p_ref = pool_copy(&pl, p0, n), *m_ref = pool_copy(&pl, mv0, n);
    float *v_ref = pool_copy(&pl, mv0, n), *p_fast = pool_copy(&pl, p0, n);
    float *m_fast = pool_copy(&pl, mv0, n), *v_fast = pool_copy(&pl, mv0, n);
    float *g = pool_f32(&pl, n);
    set_threads(2);
    for (int64_t step = 1; step <= 5; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = 0.1f * (float)fg_rng_normal(&r);
        g[0] = g[n - 1] = NAN; /* outside the segments: never read */
        float gscale = step % 2 ? 1.0f : 0.4f;
        float lr = 1e-2f / (float)step;
        fg_adamw_step_ref(p_ref, g, m_ref, v_ref, seg, 2, step, lr, gscale, &hp);
        fg_adamw_step(p_fast, g, m_fast, v_fast, seg, 2, step, lr, gscale, &hp, 2);
    }
    CHECK_CLOSE(t, p_fast, p_ref, n, TOL_ADAM_ATOL, TOL_ADAM_RTOL);
    CHECK_CLOSE(t, m_fast, m_ref, n, TOL_ADAM_ATOL, TOL_ADAM_RTOL);
    CHECK_CLOSE(t, v_fast, v_ref, n, TOL_ADAM_ATOL, TOL_ADAM_RTOL);
    /* elements outside the segments are untouched, bit for bit */
    size_t gaps[3][2] = { { 0, 7 }, { 9007, 9100 }, { 19900, 20000 } };
    for (int k = 0; k < 3; k++) {
        size_t off = gaps[k][0], len = gaps[k][1] - gaps[k][0];
        CHECK(t, same_bits(p_ref + off, p0 + off, len * sizeof(float)));
        CHECK(t, same_bits(p_fast + off, p0 + off, len * sizeof(float)));
        CHECK(t, same_bits(m_ref + off, mv0 + off, len * sizeof(float)));
        CHECK(t, same_bits(m_fast + off, mv0 + off, len * sizeof(float)));
        CHECK(t, same_bits(v_ref + off, mv0 + off, len * sizeof(float)));
        CHECK(t, same_bits(v_fast + off, mv0 + off, len * sizeof(float)));
    }
    /* every element inside a segment moved */
    int moved = 1;
    for (size_t s = 0; s < 2; s++)
        for (size_t i = seg[s].offset; i < seg[s].offset + seg[s].n; i++)
            moved &= p_ref[i] != p0[i] && p_fast[i] != p0[i];
    CHECK(t, moved);
    pool_free(&pl);
}

TEST(adamw_by_hand)
{
    /* 3 elements: 0 and 1 in a segment with decay, 2 in one without; step t = 3 with
     * non-zero moments, grad_scale 0.5. Expected values from optim.h's formula in double. */
    struct fg_adamw_params hp = { 0.9f, 0.95f, 1e-8f, 0.1f };
    struct fg_optim_segment seg[2] = { { 0, 2, 1 }, { 2, 1, 0 } };
    const float p0[3] = { 1.0f, -2.0f, 0.5f }, g[3] = { 0.5f, -0.25f, 0.75f };
    const float m0[3] = { 0.01f, -0.02f, 0.03f }, v0[3] = { 1e-4f, 4e-4f, 1e-6f };
    const int64_t step = 3;
    const float lr = 0.1f, gscale = 0.5f;
    double b1 = (double)hp.beta1, b2 = (double)hp.beta2;
    float want_p[3], want_m[3], want_v[3];
    for (int i = 0; i < 3; i++) {
        double gi = (double)g[i] * (double)gscale, p = (double)p0[i];
        if (i < 2)
            p -= (double)lr * (double)hp.weight_decay * p;
        double m = b1 * (double)m0[i] + (1.0 - b1) * gi;
        double v = b2 * (double)v0[i] + (1.0 - b2) * gi * gi;
        double mhat = m / (1.0 - pow(b1, (double)step)), vhat = v / (1.0 - pow(b2, (double)step));
        p -= (double)lr * mhat / (sqrt(vhat) + (double)hp.eps);
        want_p[i] = (float)p;
        want_m[i] = (float)m;
        want_v[i] = (float)v;
    }
    for (int fast = 0; fast < 2; fast++) {
        float p[3], m[3], v[3];
        memcpy(p, p0, sizeof p);
        memcpy(m, m0, sizeof m);
        memcpy(v, v0, sizeof v);
        if (fast)
            fg_adamw_step(p, g, m, v, seg, 2, step, lr, gscale, &hp, 2);
        else
            fg_adamw_step_ref(p, g, m, v, seg, 2, step, lr, gscale, &hp);
        CHECK_CLOSE(t, p, want_p, 3, TOL_ADAM_HAND_ATOL, TOL_ADAM_HAND_RTOL);
        CHECK_CLOSE(t, m, want_m, 3, TOL_ADAM_HAND_ATOL, TOL_ADAM_HAND_RTOL);
        CHECK_CLOSE(t, v, want_v, 3, TOL_ADAM_HAND_ATOL, TOL_ADAM_HAND_RTOL);
    }
    /* zero gradient and zero moments: only the decoupled decay moves the decayed segment */
    for (int fast = 0; fast < 2; fast++) {
        float p[3], m[3] = { 0 }, v[3] = { 0 }, zero[3] = { 0 };
        memcpy(p, p0, sizeof p);
        if (fast)
            fg_adamw_step(p, zero, m, v, seg, 2, 1, lr, 1.0f, &hp, 2);
        else
            fg_adamw_step_ref(p, zero, m, v, seg, 2, 1, lr, 1.0f, &hp);
        float want[3];
        for (int i = 0; i < 3; i++)
            want[i] = i < 2 ? (float)((double)p0[i] * (1.0 - (double)lr * (double)hp.weight_decay))
                            : p0[i];
        CHECK_CLOSE(t, p, want, 3, TOL_ADAM_HAND_ATOL, TOL_ADAM_HAND_RTOL);
    }
}

/* ---- 5. reductions ------------------------------------------------------------------------- */
/* fg_adamw_step_zero_grad: the same parameters and moments bit for bit as fg_adamw_step, the
 * gradients inside the segments cleared, the gap between segments untouched. */
TEST(adamw_zero_grad_variant)
{
    size_t n = 50000;
    struct fg_optim_segment seg[2] = { { 0, 20000, 1 }, { 20064, 29936, 0 } };
    float *p1 = malloc(n * 4), *p2 = malloc(n * 4), *m1 = calloc(n, 4), *m2 = calloc(n, 4);
    float *v1 = calloc(n, 4), *v2 = calloc(n, 4), *g1 = malloc(n * 4), *g2 = malloc(n * 4);
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < n; i++) {
        p1[i] = p2[i] = (float)fg_rng_normal(&r);
        g1[i] = g2[i] = (float)fg_rng_normal(&r);
    }
    struct fg_adamw_params hp = fg_adamw_params_default();
    for (int step = 1; step <= 3; step++) {
        fg_adamw_step(p1, g1, m1, v1, seg, 2, step, 1e-3f, 0.7f, &hp, 2);
        fg_adamw_step_zero_grad(p2, g2, m2, v2, seg, 2, step, 1e-3f, 0.7f, &hp, 2);
        CHECK(t, memcmp(p1, p2, n * 4) == 0 && memcmp(m1, m2, n * 4) == 0);
        CHECK(t, memcmp(v1, v2, n * 4) == 0);
        int zero = 1, gap_kept = 1;
        for (size_t i = 0; i < n; i++) {
            int in_seg = i < 20000 || i >= 20064;
            if (in_seg)
                zero &= g2[i] == 0.0f;
            else
                gap_kept &= g2[i] == g1[i];
        }
        CHECK(t, zero && gap_kept);
        memcpy(g2, g1, n * 4); /* same gradients for the next step */
    }
    free(p1), free(p2), free(m1), free(m2), free(v1), free(v2), free(g1), free(g2);
}

/* The training split of cross-entropy (lse forward + one-pass backward) against _ref and
 * against the fused kernel; with logits near 1e6 the gradient must stay finite and bounded by
 * |dscale| (softmax <= 1), which a log-sum-exp rebuilt from the loss would not guarantee. */
#define TOL_CE_SPLIT_ATOL 1e-6
#define TOL_CE_SPLIT_RTOL 1e-4

TEST(crossentropy_split_matches)
{
    size_t N = 9, V = 100, Vp = 128;
    float dscale = 0.25f;
    float *z = malloc(N * Vp * 4), *z1 = malloc(N * Vp * 4), *z2 = malloc(N * Vp * 4);
    float *z3 = malloc(N * Vp * 4), l1[9], l2[9], l3[9], e1[9], e2[9];
    int32_t tgt[9];
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < N * Vp; i++)
        z[i] = (float)(3.0 * fg_rng_normal(&r));
    for (size_t n = 0; n < N; n++)
        tgt[n] = (int32_t)fg_rng_below(&r, V);
    memcpy(z1, z, N * Vp * 4);
    memcpy(z2, z, N * Vp * 4);
    memcpy(z3, z, N * Vp * 4);
    fg_crossentropy_lse_ref(l1, e1, z1, tgt, N, V, Vp);
    fg_crossentropy_lse(l2, e2, z2, tgt, N, V, Vp, 2);
    CHECK_CLOSE(t, l2, l1, N, TOL_CE_SPLIT_ATOL, TOL_CE_SPLIT_RTOL);
    CHECK_CLOSE(t, e2, e1, N, TOL_CE_SPLIT_ATOL, TOL_CE_SPLIT_RTOL);
    CHECK(t, memcmp(z2, z, N * Vp * 4) == 0); /* the forward leaves the logits alone */
    fg_crossentropy_backward_ref(z1, e1, tgt, N, V, Vp, dscale);
    fg_crossentropy_backward(z2, e2, tgt, N, V, Vp, dscale, 2);
    fg_crossentropy_ref(l3, z3, tgt, N, V, Vp, dscale); /* fused */
    CHECK_CLOSE(t, z1, z3, N * Vp, TOL_CE_SPLIT_ATOL, TOL_CE_SPLIT_RTOL);
    CHECK_CLOSE(t, z2, z3, N * Vp, TOL_CE_SPLIT_ATOL, TOL_CE_SPLIT_RTOL);
    /* huge logits: bounded gradients */
    for (size_t i = 0; i < N * Vp; i++)
        z[i] = (float)(1e6 * fg_rng_normal(&r));
    fg_crossentropy_lse(l2, e2, z, tgt, N, V, Vp, 2);
    fg_crossentropy_backward(z, e2, tgt, N, V, Vp, dscale, 2);
    int bounded = 1;
    for (size_t i = 0; i < N * Vp; i++)
        bounded &= isfinite(z[i]) && fabsf(z[i]) <= dscale * 1.0001f;
    CHECK(t, bounded);
    free(z), free(z1), free(z2), free(z3);
}

TEST(sumsq_and_all_finite)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct pool pl = { 0 };
    const size_t sizes[] = { 100000, 100003, 16384, 5, 0 };
    float *x = pool_randn(&pl, &r, 100003, 1.0f);
    double *partial = pool_get(&pl, fg_optim_n_chunks(100003) * sizeof(double));
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        double want = 0;
        for (size_t i = 0; i < n; i++)
            want += (double)x[i] * (double)x[i];
        double s1 = fg_sumsq(x, n, partial, 1), s2 = fg_sumsq(x, n, partial, 2);
        CHECK(t, same_bits(&s1, &s2, sizeof s1));
        CHECK_CLOSE64(t, &s1, &want, 1, 0.0, TOL_SUMSQ_RTOL);
    }
    size_t n = 100000;
    for (int nt = 1; nt <= 2; nt++) {
        CHECK(t, fg_all_finite(x, n, nt) == 1);
        x[n - 1] = NAN;
        CHECK(t, fg_all_finite(x, n, nt) == 0);
        x[n - 1] = INFINITY;
        CHECK(t, fg_all_finite(x, n, nt) == 0);
        x[n - 1] = -INFINITY;
        CHECK(t, fg_all_finite(x, n, nt) == 0);
        x[n - 1] = 1.0f;
        x[0] = NAN;
        CHECK(t, fg_all_finite(x, n, nt) == 0);
        x[0] = 1.0f;
        x[n - 1] = 3.0e38f; /* large but finite */
        CHECK(t, fg_all_finite(x, n, nt) == 1);
        x[n - 1] = 1.0f;
    }
    pool_free(&pl);
}

/* ---- 6. learning-rate schedule -------------------------------------------------------------- */
TEST(lr_cosine_schedule)
{
    const int64_t warmup = 10, total = 110;
    const float hi = 6e-4f, lo = 6e-5f;
    float got[8], want[8];
    got[0] = fg_lr_cosine(0, warmup, total, hi, lo);
    want[0] = hi / (float)warmup;
    got[1] = fg_lr_cosine(4, warmup, total, hi, lo);
    want[1] = hi * 5.0f / (float)warmup;
    got[2] = fg_lr_cosine(warmup, warmup, total, hi, lo);
    want[2] = hi;
    got[3] = fg_lr_cosine(total, warmup, total, hi, lo);
    want[3] = lo;
    got[4] = fg_lr_cosine(total + 50, warmup, total, hi, lo);
    want[4] = lo;
    got[5] = fg_lr_cosine((warmup + total) / 2, warmup, total, hi, lo);
    want[5] = (float)(((double)hi + (double)lo) / 2);
    /* a quarter of the way: lo + (hi - lo) (1 + cos(pi/4)) / 2 */
    got[6] = fg_lr_cosine(warmup + (total - warmup) / 4, warmup, total, hi, lo);
    want[6] = (float)((double)lo + ((double)hi - (double)lo) * 0.5 * (1.0 + sqrt(0.5)));
    got[7] = fg_lr_cosine(warmup - 1, warmup, total, hi, lo);
    want[7] = hi;
    CHECK_CLOSE(t, got, want, 8, 0.0, TOL_LR_RTOL);
    int warm_up = 1, decreasing = 1, bounded = 1;
    for (int64_t s = 0; s + 1 < warmup; s++)
        warm_up &=
            fg_lr_cosine(s + 1, warmup, total, hi, lo) > fg_lr_cosine(s, warmup, total, hi, lo);
    for (int64_t s = warmup; s < total + 5; s++) {
        float a = fg_lr_cosine(s, warmup, total, hi, lo);
        float b = fg_lr_cosine(s + 1, warmup, total, hi, lo);
        decreasing &= b <= a;
        bounded &= a >= lo && a <= hi;
    }
    /* strictly decreasing inside the cosine */
    decreasing &= fg_lr_cosine(warmup + 1, warmup, total, hi, lo) < hi;
    decreasing &= fg_lr_cosine(total - 1, warmup, total, hi, lo) > lo;
    CHECK(t, warm_up);
    CHECK(t, decreasing);
    CHECK(t, bounded);
}

static const struct fg_test_case cases[] = {
    { "matmul_fast_vs_ref", test_matmul_fast_vs_ref },
    { "layernorm_fast_vs_ref", test_layernorm_fast_vs_ref },
    { "residual_layernorm_is_add_then_layernorm", test_residual_layernorm_is_add_then_layernorm },
    { "gelu_fast_vs_ref", test_gelu_fast_vs_ref },
    { "attention_fast_vs_ref", test_attention_fast_vs_ref },
    { "attention_tiled_vs_ref", test_attention_tiled_vs_ref },
    { "attention_t1_is_value", test_attention_t1_is_value },
    { "crossentropy_fast_vs_ref", test_crossentropy_fast_vs_ref },
    { "encoder_fast_vs_ref", test_encoder_fast_vs_ref },
    { "add_and_accumulate", test_add_and_accumulate },
    { "threads_bitwise_equal", test_threads_bitwise_equal },
    { "matmul_grad_fd", test_matmul_grad_fd },
    { "layernorm_grad_fd", test_layernorm_grad_fd },
    { "gelu_grad_fd", test_gelu_grad_fd },
    { "attention_grad_fd", test_attention_grad_fd },
    { "crossentropy_grad_fd", test_crossentropy_grad_fd },
    { "encoder_grad_fd", test_encoder_grad_fd },
    { "adamw_fast_vs_ref", test_adamw_fast_vs_ref },
    { "adamw_by_hand", test_adamw_by_hand },
    { "crossentropy_split_matches", test_crossentropy_split_matches },
    { "adamw_zero_grad_variant", test_adamw_zero_grad_variant },
    { "sumsq_and_all_finite", test_sumsq_and_all_finite },
    { "lr_cosine_schedule", test_lr_cosine_schedule },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
