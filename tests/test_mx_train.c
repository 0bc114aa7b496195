/* MX training tests (the emulation of model.h, docs/numerics.md section 11):
 *  - every format none: the same bits as a model without MX settings, sizes unchanged;
 *  - with MX on, each linear layer's product against an independent reference: the operands
 *    quantized and dequantized with fg_mx_quantize_ref / fg_mx_dequantize_ref along the stated
 *    axes (gathered here element by element, not by the model's transposes), then a triple loop
 *    in double; forward for all four layer kinds, dX and dW and the bias gradient backward;
 *  - a 30-step run with e4m3 weights and activations learns and stays close to fp32;
 *  - no allocation in the step loop, clean failures of every allocation, exact resume, the
 *    MX settings in the checkpoint metadata, the ledger arithmetic and bad settings;
 *  - the CLI's flags (tests/cli_mx_train_test.sh, run here when FRUGAL names the binary).
 * Data: the first 64 KiB of the bundled Austen corpus, byte-level. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/ckpt.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "frugal/numerics.h"
#include "frugal/train.h"
#include "test.h"

#define CORPUS "data/austen/emma.txt"
/* A product of K fp32 terms summed in any order by sgemm is within gamma_K = K u / (1 - K u)
 * of the exact sum of |terms| (u = 2^-24; Higham, Accuracy and Stability, section 3.1); the
 * reference is computed in double from the same quantized operands. TOL_GEMM_SLACK terms cover
 * the bias or residual add. */
#define TOL_GEMM_SLACK 4.0
/* 30 steps, e4m3 weights + activations vs fp32: |val loss difference| <= 1%, the bound
 * for the full benchmark (measured here: 0.002%, 3.69740 vs 3.69733 nats per byte) */
#define TOL_MXFP8_REL 0.01

static char g_dir[256], g_train[300], g_val[300];

static int make_data(void)
{
    if (g_dir[0])
        return 1;
    snprintf(g_dir, sizeof g_dir, "/tmp/frugal_test_mx_train_XXXXXX");
    if (!mkdtemp(g_dir))
        return 0;
    void *buf;
    size_t len;
    char err[512];
    if (fg_read_file(NULL, CORPUS, &buf, &len, err, sizeof err) != FG_OK)
        return 0;
    size_t n = len < 65536 ? len : 65536, nv = 8192;
    uint16_t *tok = malloc(n * sizeof *tok);
    for (size_t i = 0; tok && i < n; i++)
        tok[i] = ((unsigned char *)buf)[i];
    snprintf(g_train, sizeof g_train, "%s/train.bin", g_dir);
    snprintf(g_val, sizeof g_val, "%s/val.bin", g_dir);
    int ok = tok && fg_shard_write(g_train, tok, n - nv, err, sizeof err) == FG_OK &&
             fg_shard_write(g_val, tok + n - nv, nv, err, sizeof err) == FG_OK;
    free(tok);
    fg_free(NULL, buf);
    return ok;
}

static struct fg_model_mx mx_of(int w, int a, int g, enum fg_mx_scale_rule rule)
{
    struct fg_model_mx mx = fg_model_mx_default();
    mx.weights = w;
    mx.activations = a;
    mx.grads = g;
    mx.scale_rule = rule;
    return mx;
}

static struct fg_model *make_model(size_t B, size_t T, int use_ref, struct fg_model_mx mx)
{
    struct fg_model_params p = fg_model_params_default();
    struct fg_model_config c = { 2, 2, 64, 64, 256 };
    p.cfg = c;
    p.B = B;
    p.T = T;
    p.n_threads = 2;
    p.use_ref = use_ref;
    p.mx = mx;
    struct fg_model *m = NULL;
    if (fg_model_init(&m, &p) != FG_OK)
        return NULL;
    fg_model_init_weights(m, 7);
    return m;
}

static void random_tokens(int32_t *x, size_t n, uint64_t seed)
{
    struct fg_rng r;
    fg_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)fg_rng_below(&r, 256);
}

/* ---- (a) every format none: unchanged ---------------------------------------------------- */

TEST(none_is_bit_identical)
{
    /* A model whose formats are all none (with a scale rule that would matter if anything were
     * quantized) against one built from the defaults: logits, gradients and the weights after
     * 3 AdamW steps, the same bits, on the fast and the _ref kernels; and the same sizes. The
     * "none" path calls the very kernels the model called before MX existed (checked once
     * against the previous build: identical bytes). */
    size_t B = 3, T = 40, BT = B * T;
    int32_t x[3 * 40 + 1];
    for (int ref = 0; ref < 2; ref++) {
        struct fg_model *a = make_model(B, T, ref, fg_model_mx_default());
        struct fg_model_mx none =
            mx_of(FG_MODEL_MX_NONE, FG_MODEL_MX_NONE, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_RCEIL);
        struct fg_model *b = make_model(B, T, ref, none);
        CHECK(t, a && b);
        if (!a || !b) {
            fg_model_free(a);
            fg_model_free(b);
            return;
        }
        CHECK_EQ_I64(t, b->mem.mx_bytes, 0);
        CHECK_EQ_I64(t, a->mem.total_bytes, b->mem.total_bytes);
        CHECK(t, b->a.mx_a == NULL && b->a.mx_b == NULL && b->a.mx_w == NULL);
        size_t n = a->n_flat;
        float *mo[2], *ve[2];
        for (int k = 0; k < 2; k++) {
            mo[k] = calloc(n, sizeof(float));
            ve[k] = calloc(n, sizeof(float));
        }
        struct fg_optim_segment seg[FG_MODEL_N_TENSORS];
        for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
            seg[id].offset = a->offset[id];
            seg[id].n = a->numel[id];
            seg[id].decay = fg_model_tensor_decays(id);
        }
        struct fg_adamw_params hp = fg_adamw_params_default();
        fg_kernels_set_blas_threads(2);
        for (int s = 0; s < 3; s++) {
            random_tokens(x, BT + 1, 100 + (uint64_t)s);
            CHECK_OK(t, fg_model_forward(a, x, x + 1, B, T));
            CHECK_OK(t, fg_model_forward(b, x, x + 1, B, T));
            CHECK(t, memcmp(a->a.logits, b->a.logits, BT * a->Vp * sizeof(float)) == 0);
            CHECK(t, a->loss == b->loss);
            CHECK_OK(t, fg_model_backward(a, 1.0f));
            CHECK_OK(t, fg_model_backward(b, 1.0f));
            CHECK(t, memcmp(a->grads, b->grads, n * sizeof(float)) == 0);
            struct fg_model *mm[2] = { a, b };
            for (int k = 0; k < 2; k++)
                fg_adamw_step_zero_grad(mm[k]->params, mm[k]->grads, mo[k], ve[k], seg,
                                        FG_MODEL_N_TENSORS, s + 1, 1e-3f, 1.0f, &hp, 2);
            CHECK(t, memcmp(a->params, b->params, n * sizeof(float)) == 0);
        }
        for (int k = 0; k < 2; k++) {
            free(mo[k]);
            free(ve[k]);
        }
        fg_model_free(a);
        fg_model_free(b);
    }
    /* the sizing function without MX and with MX all none agree field by field */
    struct fg_model_config c = { 2, 2, 64, 64, 256 };
    struct fg_model_mem m0, m1;
    struct fg_model_mx none = fg_model_mx_default();
    CHECK_OK(t, fg_model_mem_size(&c, 3, 40, 1, &m0));
    CHECK_OK(t, fg_model_mem_size_mx(&c, 3, 40, 1, &none, &m1));
    CHECK(t, memcmp(&m0, &m1, sizeof m0) == 0);
}

/* ---- (b) each product against an independent reference ----------------------------------- */

/* qdq of one contiguous vector with the _ref functions (n need not be a multiple of 32: the
 * numerics pad the last block with zeros) */
static void ref_qdq(int fmt, enum fg_mx_scale_rule rule, float *v, size_t n)
{
    if (fmt == FG_MODEL_MX_NONE)
        return;
    struct fg_mx_params p = fg_mx_params_default();
    p.scale_rule = rule;
    uint8_t *sc = malloc(fg_mx_n_blocks(n)), *co = malloc(fg_mx_n_blocks(n) * 32);
    fg_mx_quantize_ref((enum fg_mx_format)fmt, &p, v, n, sc, co, NULL, 0);
    fg_mx_dequantize_ref((enum fg_mx_format)fmt, sc, co, n, v, NULL, 0);
    free(sc);
    free(co);
}

/* out (R, Cc) = src quantized along its rows (each row of Cc elements is a vector) */
static float *qdq_rows(int fmt, enum fg_mx_scale_rule rule, const float *src, size_t R, size_t Cc)
{
    float *out = malloc(R * Cc * sizeof(float));
    memcpy(out, src, R * Cc * sizeof(float));
    for (size_t r = 0; r < R; r++)
        ref_qdq(fmt, rule, out + r * Cc, Cc);
    return out;
}

/* out (R, Cc) = src quantized along its columns, each column cut into segments of seg rows
 * (seg = R: whole columns; seg = T: the tokens of one sequence) */
static float *qdq_cols(int fmt, enum fg_mx_scale_rule rule, const float *src, size_t R, size_t Cc,
                       size_t seg)
{
    float *out = malloc(R * Cc * sizeof(float)), *v = malloc(seg * sizeof(float));
    for (size_t c = 0; c < Cc; c++)
        for (size_t r0 = 0; r0 < R; r0 += seg) {
            for (size_t i = 0; i < seg; i++)
                v[i] = src[(r0 + i) * Cc + c];
            ref_qdq(fmt, rule, v, seg);
            for (size_t i = 0; i < seg; i++)
                out[(r0 + i) * Cc + c] = v[i];
        }
    free(v);
    return out;
}

/* Check got (M, Nn) = add + A B in double, where A[m][k] = a[m*sam + k*sak] and
 * B[k][n] = b[k*sbk + n*sbn] (strides express the transposes); |got - ref| <=
 * gamma_{K + slack} * (sum |A B| + |add|), element by element. Reports the worst element. */
static void check_product(struct fg_test *t, const char *what, const float *got, const float *add,
                          const float *a, size_t sam, size_t sak, const float *b, size_t sbk,
                          size_t sbn, size_t M, size_t Nn, size_t K)
{
    double u = ldexp(1.0, -24), worst = 0;
    size_t bad = 0, worst_i = 0;
    double worst_ref = 0;
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < Nn; n++) {
            double ref = add ? (double)add[m * Nn + n] : 0.0, mag = fabs(ref);
            for (size_t k = 0; k < K; k++) {
                double p = (double)a[m * sam + k * sak] * (double)b[k * sbk + n * sbn];
                ref += p;
                mag += fabs(p);
            }
            double kk = (double)K + TOL_GEMM_SLACK, tol = kk * u / (1 - kk * u) * mag + 1e-30;
            double err = fabs((double)got[m * Nn + n] - ref);
            if (!(err <= tol))
                bad++;
            if (!(err / tol <= worst)) {
                worst = err / tol;
                worst_i = m * Nn + n;
                worst_ref = ref;
            }
        }
    if (bad)
        fg_test_fail(t, __FILE__, __LINE__,
                     "%s: %zu of %zu elements beyond the fp32 summation bound; worst [%zu] got "
                     "%.9g ref %.9g (%.3g x the bound)",
                     what, bad, M * Nn, worst_i, (double)got[worst_i], worst_ref, worst);
}

/* Forward of layer 0's four products and backward of its qkv (dX, dW, bias) and fc (dW, bias)
 * products, for one setting. B x T is the model's capacity, so layer 0's slots start at 0. */
static void check_layer_products(struct fg_test *t, struct fg_model_mx mx, size_t B, size_t T,
                                 int use_ref)
{
    struct fg_model *m = make_model(B, T, use_ref, mx);
    CHECK(t, m != NULL);
    if (!m)
        return;
    size_t C = (size_t)m->cfg.n_embd, N = B * T;
    int32_t *x = malloc((N + 1) * sizeof(int32_t));
    random_tokens(x, N + 1, 11);
    fg_kernels_set_blas_threads(2);
    CHECK_OK(t, fg_model_forward(m, x, x + 1, B, T));
    struct fg_model_acts *a = &m->a;
    enum fg_mx_scale_rule r = mx.scale_rule;

    const struct {
        const char *name;
        const float *in, *out, *residual;
        int w, b;
        size_t IC, OC;
    } lay[4] = {
        { "qkv forward", a->ln1, a->qkv, NULL, FG_PARAM_QKVW, FG_PARAM_QKVB, C, 3 * C },
        { "attn proj forward", a->atty, a->res2, a->encoded, FG_PARAM_ATTPROJW, FG_PARAM_ATTPROJB,
          C, C },
        { "fc forward", a->ln2, a->fch, NULL, FG_PARAM_FCW, FG_PARAM_FCB, C, 4 * C },
        { "fc proj forward", a->fch_gelu, a->res3, a->res2, FG_PARAM_FCPROJW, FG_PARAM_FCPROJB,
          4 * C, C },
    };

    for (int i = 0; i < 4; i++) {
        size_t IC = lay[i].IC, OC = lay[i].OC;
        /* forward: X and W in blocks along IC */
        float *xq = qdq_rows(mx.activations, r, lay[i].in, N, IC);
        float *wq = qdq_rows(mx.weights, r, fg_model_param(m, lay[i].w), OC, IC);
        float *add = malloc(N * OC * sizeof(float));
        const float *bias = fg_model_param(m, lay[i].b);
        for (size_t n = 0; n < N; n++)
            for (size_t o = 0; o < OC; o++)
                add[n * OC + o] = bias[o] + (lay[i].residual ? lay[i].residual[n * OC + o] : 0.0f);
        /* (a residual add after the product rounds once more: it is inside the slack) */
        check_product(t, lay[i].name, lay[i].out, add, xq, IC, 1, wq, 1, IC, N, OC, IC);
        free(xq);
        free(wq);
        free(add);
    }
    fg_model_zero_grad(m);
    CHECK_OK(t, fg_model_backward(m, 1.0f));
    /* qkv of layer 0: dY = dqkv, X = ln1, dX = dln (the last one written) */
    {
        size_t IC = C, OC = 3 * C;
        const float *W = fg_model_param(m, FG_PARAM_QKVW);
        float *gq = qdq_rows(mx.grads, r, a->dqkv, N, OC);  /* along OC */
        float *wq = qdq_cols(mx.weights, r, W, OC, IC, OC); /* along OC */
        check_product(t, "qkv dX", a->dln, NULL, gq, OC, 1, wq, IC, 1, N, IC, OC);
        float *gt = qdq_cols(mx.grads, r, a->dqkv, N, OC, T);      /* along tokens */
        float *xt = qdq_cols(mx.activations, r, a->ln1, N, IC, T); /* along tokens */
        check_product(t, "qkv dW", fg_model_grad(m, FG_PARAM_QKVW), NULL, gt, 1, OC, xt, IC, 1, OC,
                      IC, N);
        /* bias: the unquantized dY, summed over tokens */
        float *ones = malloc(N * sizeof(float));
        for (size_t n = 0; n < N; n++)
            ones[n] = 1.0f;
        check_product(t, "qkv dbias", fg_model_grad(m, FG_PARAM_QKVB), NULL, a->dqkv, 1, OC, ones,
                      1, 0, OC, 1, N);
        free(gq);
        free(wq);
        free(gt);
        free(xt);
        /* fc of layer 0: dY = dfch, X = ln2 */
        size_t OC4 = 4 * C;
        gt = qdq_cols(mx.grads, r, a->dfch, N, OC4, T);
        xt = qdq_cols(mx.activations, r, a->ln2, N, IC, T);
        check_product(t, "fc dW", fg_model_grad(m, FG_PARAM_FCW), NULL, gt, 1, OC4, xt, IC, 1, OC4,
                      IC, N);
        check_product(t, "fc dbias", fg_model_grad(m, FG_PARAM_FCB), NULL, a->dfch, 1, OC4, ones, 1,
                      0, OC4, 1, N);
        free(gt);
        free(xt);
        free(ones);
    }
    free(x);
    fg_model_free(m);
}

TEST(products_match_reference_mxfp8)
{
    /* e4m3 weights and activations, e5m2 gradients; T = 40: each sequence's tokens end in a
     * short block of 8 (zero-padded) */
    check_layer_products(
        t, mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_FLOOR),
        3, 40, 0);
}

TEST(products_match_reference_mixed)
{
    check_layer_products(
        t, mx_of(FG_MX_FORMAT_E2M1, FG_MX_FORMAT_E3M2, FG_MX_FORMAT_INT8, FG_MX_SCALE_RULE_RCEIL),
        2, 32, 0);
    check_layer_products(
        t, mx_of(FG_MODEL_MX_NONE, FG_MX_FORMAT_E2M3, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_CEIL), 2,
        64, 0);
    check_layer_products(
        t, mx_of(FG_MX_FORMAT_E5M2, FG_MODEL_MX_NONE, FG_MX_FORMAT_E4M3, FG_MX_SCALE_RULE_FLOOR), 1,
        48, 0);
}

TEST(products_match_reference_ref_kernels)
{
    check_layer_products(
        t, mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E2M1, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_FLOOR),
        2, 40, 1);
}

TEST(fast_and_ref_agree)
{
    /* the fast quantizer gives the _ref quantizer's bytes; only sgemm vs the triple loop
     * differs, so the two models' losses agree closely */
    struct fg_model_mx mx =
        mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_FLOOR);
    struct fg_model *f = make_model(2, 40, 0, mx), *r = make_model(2, 40, 1, mx);
    CHECK(t, f && r);
    int32_t x[81];
    random_tokens(x, 81, 3);
    if (f && r) {
        CHECK_OK(t, fg_model_forward(f, x, x + 1, 2, 40));
        CHECK_OK(t, fg_model_forward(r, x, x + 1, 2, 40));
        CHECK(t, fabs(f->loss - r->loss) < 1e-4 * r->loss);
    }
    fg_model_free(f);
    fg_model_free(r);
}

TEST(mx_changes_the_result)
{
    /* the emulation is not a no-op: e2m1 weights move the loss visibly */
    struct fg_model *a = make_model(2, 32, 0, fg_model_mx_default());
    struct fg_model *b = make_model(
        2, 32, 0,
        mx_of(FG_MX_FORMAT_E2M1, FG_MODEL_MX_NONE, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR));
    CHECK(t, a && b);
    int32_t x[65];
    random_tokens(x, 65, 5);
    if (a && b) {
        CHECK_OK(t, fg_model_forward(a, x, x + 1, 2, 32));
        CHECK_OK(t, fg_model_forward(b, x, x + 1, 2, 32));
        CHECK(t, a->loss != b->loss);
    }
    fg_model_free(a);
    fg_model_free(b);
}

/* ---- (c), (d): training ------------------------------------------------------------------ */

struct losses {
    double loss[64];
};

static void record(void *user, const struct fg_train_progress *p)
{
    struct losses *l = user;
    if (p->step < 64)
        l->loss[p->step] = p->loss;
}

static char g_note[1400];

static void keep_note(void *user, const char *msg)
{
    (void)user;
    snprintf(g_note, sizeof g_note, "%s", msg);
}

static struct fg_train_params tiny_params(struct losses *l, struct fg_model_mx mx)
{
    struct fg_train_params p = fg_train_params_default();
    struct fg_model_config c = { 2, 2, 32, 32, 256 };
    p.cfg = c;
    p.B = 4;
    p.T = 32;
    p.accum = 2;
    p.steps = 8;
    p.warmup = 2;
    p.lr = 3e-3f;
    p.eval_every = 0;
    p.eval_batches = 4;
    p.n_threads = 2;
    p.train_path = g_train;
    p.val_path = g_val;
    p.mx = mx;
    p.on_progress = record;
    p.on_log = keep_note;
    p.user = l;
    return p;
}

TEST(mxfp8_trains_close_to_fp32)
{
    CHECK(t, make_data());
    struct losses l32, l8;
    memset(&l32, 0, sizeof l32);
    memset(&l8, 0, sizeof l8);
    struct fg_train_params p32 = tiny_params(&l32, fg_model_mx_default());
    struct fg_train_params p8 = tiny_params(
        &l8, mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E4M3, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR));
    p32.steps = p8.steps = 30;
    struct fg_train_result r32, r8;
    char err[1024];
    CHECK_OK(t, fg_train(&p32, &r32, err, sizeof err));
    CHECK_OK(t, fg_train(&p8, &r8, err, sizeof err));
    /* it learns: from about ln 256 = 5.55 to well under 4 nats per byte */
    CHECK(t, l8.loss[1] > 5.0 && l8.loss[1] < 6.0);
    CHECK(t, l8.loss[30] < l8.loss[1] - 1.5);
    CHECK(t, r8.final_val_loss < 4.0);
    double rel = fabs(r8.final_val_loss - r32.final_val_loss) / r32.final_val_loss;
    if (!(rel <= TOL_MXFP8_REL))
        fg_test_fail(t, __FILE__, __LINE__, "MXFP8 val loss %.5f vs fp32 %.5f: %.2f%% apart",
                     r8.final_val_loss, r32.final_val_loss, 100 * rel);
    CHECK(t, r8.final_val_loss != r32.final_val_loss); /* it did quantize */
    CHECK(t, r8.mem.mx_bytes > 0 && r32.mem.mx_bytes == 0);
}

TEST(no_allocation_in_step_loop)
{
    CHECK(t, make_data());
    struct fg_test_alloc c2 = { 0 }, c6 = { 0 };
    struct fg_allocator a2 = fg_test_allocator(&c2), a6 = fg_test_allocator(&c6);
    struct losses l;
    struct fg_train_params p = tiny_params(
        &l, mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E2M1, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_FLOOR));
    struct fg_train_result r;
    char err[1024];
    p.eval_every = 1; /* evaluations run the MX forward too */
    p.allocator = &a2;
    p.steps = 2;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    p.allocator = &a6;
    p.steps = 6;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    CHECK(t, c2.n_alloc > 0);
    CHECK_EQ_I64(t, c2.n_alloc, c6.n_alloc);
    CHECK_EQ_I64(t, c6.n_alloc, c6.n_free);
}

TEST(failing_allocations_are_clean)
{
    CHECK(t, make_data());
    struct losses l;
    struct fg_train_params p = tiny_params(
        &l, mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E4M3, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR));
    p.steps = 1;
    struct fg_train_result r;
    char err[1024];
    struct fg_test_alloc probe = { 0 };
    struct fg_allocator ap = fg_test_allocator(&probe);
    p.allocator = &ap;
    CHECK_OK(t, fg_train(&p, &r, err, sizeof err));
    for (size_t k = 1; k <= probe.n_alloc; k++) {
        struct fg_test_alloc f = { .fail_at = k };
        struct fg_allocator a = fg_test_allocator(&f);
        p.allocator = &a;
        fg_status st = fg_train(&p, &r, err, sizeof err);
        if (st != FG_ERR_NOMEM)
            fg_test_fail(t, __FILE__, __LINE__, "allocation %zu failing gave status %d", k,
                         (int)st);
        CHECK_EQ_I64(t, f.live, 0);
    }
}

TEST(resume_is_exact_and_mx_is_recorded)
{
    CHECK(t, make_data());
    char da[300], db[300], mid[400], ca[400], cb[400], js[1024], err[1024];
    snprintf(da, sizeof da, "%s/straight", g_dir);
    snprintf(db, sizeof db, "%s/resumed", g_dir);
    (void)mkdir(da, 0755);
    (void)mkdir(db, 0755);
    struct fg_model_mx mx =
        mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E3M2, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_RCEIL);
    struct losses la, lb;
    memset(&la, 0, sizeof la);
    memset(&lb, 0, sizeof lb);
    struct fg_train_params pa = tiny_params(&la, mx), pb = tiny_params(&lb, mx);
    pa.ckpt_dir = da;
    pb.ckpt_dir = db;
    pb.stop_at = 4;
    struct fg_train_result r;
    CHECK_OK(t, fg_train(&pa, &r, err, sizeof err));
    CHECK_OK(t, fg_train(&pb, &r, err, sizeof err));
    snprintf(mid, sizeof mid, "%s/ckpt_00000004.safetensors", db);
    CHECK_OK(t, fg_ckpt_read_meta(mid, "train", js, sizeof js, err, sizeof err));
    CHECK(t, strstr(js, "\"mx_weights\":\"e4m3\"") && strstr(js, "\"mx_activations\":\"e3m2\"") &&
                 strstr(js, "\"mx_grads\":\"e5m2\"") && strstr(js, "\"mx_scale\":\"rceil\""));
    /* same settings: the resumed run continues with the same bits */
    struct fg_train_params pc = tiny_params(&lb, mx);
    pc.ckpt_dir = db;
    pc.resume_path = mid;
    g_note[0] = '\0';
    CHECK_OK(t, fg_train(&pc, &r, err, sizeof err));
    CHECK(t, g_note[0] == '\0');
    CHECK(t, memcmp(la.loss, lb.loss, sizeof la.loss) == 0);
    snprintf(ca, sizeof ca, "%s/ckpt_00000008.safetensors", da);
    snprintf(cb, sizeof cb, "%s/ckpt_00000008.safetensors", db);
    struct fg_st_file *fa = NULL, *fb = NULL;
    CHECK_OK(t, fg_st_load(ca, NULL, &fa, err, sizeof err));
    CHECK_OK(t, fg_st_load(cb, NULL, &fb, err, sizeof err));
    const struct fg_st_tensor *wa = fa ? fg_st_find(fa, "qkvw") : NULL;
    const struct fg_st_tensor *wb = fb ? fg_st_find(fb, "qkvw") : NULL;
    CHECK(t, wa && wb && wa->nbytes == wb->nbytes && !memcmp(wa->data, wb->data, wa->nbytes));
    fg_st_free(fa);
    fg_st_free(fb);
    /* changed settings are honoured and named in one note */
    char dc[300];
    snprintf(dc, sizeof dc, "%s/changed", g_dir);
    (void)mkdir(dc, 0755);
    struct fg_train_params pd = tiny_params(
        &lb, mx_of(FG_MODEL_MX_NONE, FG_MX_FORMAT_E3M2, FG_MX_FORMAT_E5M2, FG_MX_SCALE_RULE_FLOOR));
    pd.ckpt_dir = dc;
    pd.resume_path = mid;
    g_note[0] = '\0';
    CHECK_OK(t, fg_train(&pd, &r, err, sizeof err));
    CHECK(t, strstr(g_note, "--mx-weights none (checkpoint: e4m3)") != NULL);
    CHECK(t, strstr(g_note, "--mx-scale floor (checkpoint: rceil)") != NULL);
    CHECK(t, strstr(g_note, "--mx-activations") == NULL);
}

/* ---- the ledger, sizes and bad settings -------------------------------------------------- */

TEST(ledger_arithmetic)
{
    /* L=2, C=64, B=3, T=40 (N=120): weights e4m3 (8.25 bits), activations e2m1 (4.25 bits),
     * grads none (32 bits), by hand */
    struct fg_model_config c = { 2, 2, 64, 64, 256 };
    struct fg_model_mx mx =
        mx_of(FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E2M1, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR);
    struct fg_model_mx_ledger g;
    CHECK_OK(t, fg_model_mx_ledger(&c, 3, 40, &mx, &g));
    double L = 2, C = 64, N = 120;
    double w = 12 * C * C, in = N * (C + C + C + 4 * C), dy = N * (3 * C + C + 4 * C + C);
    CHECK_EQ_I64(t, g.weight_fp32, (int64_t)(L * 4 * w));
    CHECK_EQ_I64(t, g.weight_mx, (int64_t)(L * w * 8.25 / 8));
    CHECK_EQ_I64(t, g.act_fp32, (int64_t)(L * 4 * in));
    CHECK_EQ_I64(t, g.act_mx, (int64_t)(L * in * 4.25 / 8));
    CHECK_EQ_I64(t, g.moved_fp32, (int64_t)(L * 4 * 2 * (w + in + dy)));
    CHECK_EQ_I64(t, g.moved_mx, (int64_t)(L * 2 * (w * 8.25 / 8 + in * 4.25 / 8 + dy * 4)));
    /* nothing quantized: the MX columns equal the fp32 ones */
    CHECK_OK(t, fg_model_mx_ledger(&c, 3, 40, NULL, &g));
    CHECK(t, g.weight_mx == g.weight_fp32 && g.act_mx == g.act_fp32 && g.moved_mx == g.moved_fp32);
}

TEST(sizes_with_mx)
{
    struct fg_model_config c = { 2, 2, 64, 64, 256 };
    struct fg_model_mx mx =
        mx_of(FG_MX_FORMAT_E4M3, FG_MODEL_MX_NONE, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR);
    struct fg_model_mem m0, tr, inf;
    CHECK_OK(t, fg_model_mem_size(&c, 3, 40, 1, &m0));
    CHECK_OK(t, fg_model_mem_size_mx(&c, 3, 40, 1, &mx, &tr));
    CHECK_OK(t, fg_model_mem_size_mx(&c, 3, 40, 0, &mx, &inf));
    CHECK_EQ_I64(t, tr.act_bytes, m0.act_bytes);
    CHECK_EQ_I64(t, tr.scratch_bytes, m0.scratch_bytes);
    CHECK_EQ_I64(t, tr.total_bytes, m0.total_bytes + tr.mx_bytes);
    /* two (4C, B, 64) fp32 buffers, one (4C, C), codes and scales of the largest, 64-aligned */
    size_t big = 4 * 64 * 3 * 64, w = 4 * 64 * 64;
    size_t want = 2 * big * 4 + w * 4 + big + fg_align_up(big / 32 + 4, 64);
    CHECK_EQ_I64(t, tr.mx_bytes, want);
    CHECK_EQ_I64(t, inf.mx_bytes, want - big * 4); /* no transposed-X buffer without training */
    /* the allocation holds what the sizing promises: the arenas' pointers lie inside */
    struct fg_model *m = make_model(3, 40, 0, mx);
    CHECK(t, m != NULL);
    if (m) {
        char *lo = m->act_arena, *hi = lo + m->mem.act_bytes + m->mem.scratch_bytes + tr.mx_bytes;
        CHECK(t, (char *)m->a.mx_scales + big / 32 <= hi && (char *)m->a.mx_a >= lo);
        fg_model_free(m);
    }
}

TEST(bad_settings)
{
    char err[256];
    int f = 0;
    CHECK_OK(t, fg_model_mx_parse("none", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MODEL_MX_NONE);
    CHECK_OK(t, fg_model_mx_parse("MXFP8_E4M3", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MX_FORMAT_E4M3);
    CHECK_OK(t, fg_model_mx_parse("mxfp4", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MX_FORMAT_E2M1);
    CHECK(t, fg_model_mx_parse("fp8", &f, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "'fp8'") && strstr(err, "e4m3") && strstr(err, "none"));
    CHECK(t, fg_model_mx_parse(NULL, &f, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, !strcmp(fg_model_mx_name(FG_MODEL_MX_NONE), "none"));
    CHECK(t, !strcmp(fg_model_mx_name(FG_MX_FORMAT_INT8), "int8"));
    CHECK(t, !strcmp(fg_model_mx_name(17), "unknown"));
    /* n_embd 48: refused with the reason and two widths that work */
    struct fg_model_config c48 = { 1, 2, 48, 32, 256 };
    struct fg_model_mx on =
        mx_of(FG_MX_FORMAT_E4M3, FG_MODEL_MX_NONE, FG_MODEL_MX_NONE, FG_MX_SCALE_RULE_FLOOR);
    CHECK(t, fg_model_mx_check(&c48, &on, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "n_embd is 48") && strstr(err, "32 or 64"));
    struct fg_model_mx off = fg_model_mx_default();
    CHECK_OK(t, fg_model_mx_check(&c48, &off, err, sizeof err));
    struct fg_model_params p = fg_model_params_default();
    p.cfg = c48;
    p.B = 1;
    p.T = 32;
    p.mx = on;
    struct fg_model *m = NULL;
    CHECK(t, fg_model_init(&m, &p) == FG_ERR_INVALID_ARG && m == NULL);
    /* out-of-range formats and rules */
    struct fg_model_config c = { 1, 2, 64, 32, 256 };
    struct fg_model_mx bad = on;
    bad.grads = FG_MX_FORMAT_COUNT;
    CHECK(t, fg_model_mx_check(&c, &bad, err, sizeof err) == FG_ERR_INVALID_ARG);
    bad = on;
    bad.scale_rule = (enum fg_mx_scale_rule)7;
    CHECK(t, fg_model_mx_check(&c, &bad, err, sizeof err) == FG_ERR_INVALID_ARG);
    /* the trainer reports the width problem before opening any data */
    struct losses l;
    struct fg_train_params tp = tiny_params(&l, on);
    tp.cfg.n_embd = 48;
    tp.train_path = "/nonexistent/train.bin";
    struct fg_train_result r;
    char terr[1024];
    CHECK(t, fg_train(&tp, &r, terr, sizeof terr) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(terr, "multiple of 32") != NULL);
}

/* (e) the CLI: tests/cli_mx_train_test.sh, run by tests/run_all.sh */

static const struct fg_test_case cases[] = {
    { "none_is_bit_identical", test_none_is_bit_identical },
    { "products_match_reference_mxfp8", test_products_match_reference_mxfp8 },
    { "products_match_reference_mixed", test_products_match_reference_mixed },
    { "products_match_reference_ref_kernels", test_products_match_reference_ref_kernels },
    { "fast_and_ref_agree", test_fast_and_ref_agree },
    { "mx_changes_the_result", test_mx_changes_the_result },
    { "mxfp8_trains_close_to_fp32", test_mxfp8_trains_close_to_fp32 },
    { "no_allocation_in_step_loop", test_no_allocation_in_step_loop },
    { "failing_allocations_are_clean", test_failing_allocations_are_clean },
    { "resume_is_exact_and_mx_is_recorded", test_resume_is_exact_and_mx_is_recorded },
    { "ledger_arithmetic", test_ledger_arithmetic },
    { "sizes_with_mx", test_sizes_with_mx },
    { "bad_settings", test_bad_settings },
};

int main(int argc, char **argv)
{
    int rc = fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
    if (g_dir[0]) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_dir);
    }
    return rc;
}
