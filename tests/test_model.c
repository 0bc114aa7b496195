/* Model tests: parity with the PyTorch reference (tests/data/gpt_ref.safetensors, written by
 * scripts/reference_gpt.py), fast vs _ref kernels on the whole model, 1 vs N threads,
 * micro-batch accumulation, and the pure sizing function. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/ckpt.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "frugal/optim.h"
#include "test.h"

#define FIXTURE "tests/data/gpt_ref.safetensors"
/* Issue tolerances: logits and gradients |diff| <= 1e-5 + 1e-4 |ref|; losses 1e-5 relative. */
#define TOL_PARITY_ATOL 1e-5
#define TOL_PARITY_RTOL 1e-4
#define TOL_LOSSES_RTOL 1e-5
/* fast kernels vs _ref over a whole forward/backward (different summation order, fast exp) */
#define TOL_FAST_ATOL 2e-6
#define TOL_FAST_RTOL 2e-3
/* k micro-batches of b vs one batch of k*b (issue: within 1e-6) */
#define TOL_ACCUM_ATOL 1e-6

/* integer metadata of the fixture; -1 if absent or malformed (the checks below then fail) */
static int meta_int(const struct fg_st_file *f, const char *key)
{
    const char *v = fg_st_meta(f, key);
    char *end;
    long x = v ? strtol(v, &end, 10) : -1;
    return v && *end == '\0' && x >= 0 && x < 1000000 ? (int)x : -1;
}

static struct fg_model_config fixture_cfg(const struct fg_st_file *f, size_t *B, size_t *T)
{
    struct fg_model_config c;
    c.n_layer = meta_int(f, "L");
    c.n_embd = meta_int(f, "C");
    c.n_head = meta_int(f, "NH");
    c.block_size = meta_int(f, "maxT");
    c.vocab_size = meta_int(f, "V");
    *B = (size_t)meta_int(f, "B");
    *T = (size_t)meta_int(f, "T");
    return c;
}

static int load_params(struct fg_test *t, struct fg_model *m, const struct fg_st_file *f,
                       const char *prefix, float *dst_flat)
{
    char name[64];
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        snprintf(name, sizeof name, "%s%s", prefix, fg_model_tensor_name(id));
        const struct fg_st_tensor *ts = fg_st_find(f, name);
        if (!ts || ts->dtype != FG_DTYPE_F32 || ts->nbytes != m->numel[id] * 4) {
            fg_test_fail(t, __FILE__, __LINE__, "fixture tensor %s missing or wrong size", name);
            return 0;
        }
        memcpy(dst_flat + m->offset[id], ts->data, ts->nbytes);
    }
    return 1;
}

static struct fg_model *make_model(struct fg_model_config cfg, size_t B, size_t T, int threads,
                                   int use_ref)
{
    struct fg_model_params p = fg_model_params_default();
    p.cfg = cfg;
    p.B = B;
    p.T = T;
    p.n_threads = threads;
    p.use_ref = use_ref;
    struct fg_model *m = NULL;
    if (fg_model_init(&m, &p) != FG_OK)
        return NULL;
    fg_kernels_set_blas_threads(threads);
    return m;
}

static void parity(struct fg_test *t, int use_ref)
{
    struct fg_st_file *f = NULL;
    char err[256];
    CHECK_OK(t, fg_st_load(FIXTURE, NULL, &f, err, sizeof err));
    if (!f) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        return;
    }
    size_t B, T;
    struct fg_model_config cfg = fixture_cfg(f, &B, &T);
    struct fg_model *m = make_model(cfg, B, T, 2, use_ref);
    CHECK(t, m != NULL);
    if (!m || !load_params(t, m, f, "param.", m->params)) {
        fg_model_free(m);
        fg_st_free(f);
        return;
    }
    const int32_t *x = fg_st_find(f, "x")->data, *y = fg_st_find(f, "y")->data;
    const float *ref_logits = fg_st_find(f, "logits")->data;
    const double *ref_loss = fg_st_find(f, "loss")->data;
    const double *ref_losses = fg_st_find(f, "losses")->data;
    size_t BT = B * T, Vp = m->Vp;

    /* logits without targets (they are overwritten by backward later) */
    CHECK_OK(t, fg_model_forward(m, x, NULL, B, T));
    CHECK_CLOSE(t, fg_model_logits(m), ref_logits, BT * Vp, TOL_PARITY_ATOL, TOL_PARITY_RTOL);
    CHECK_OK(t, fg_model_forward(m, x, y, B, T));
    CHECK_CLOSE64(t, &m->loss, ref_loss, 1, 0, TOL_LOSSES_RTOL);
    fg_model_zero_grad(m);
    CHECK_OK(t, fg_model_backward(m, 1.0f));
    float *ref_grads = calloc(m->n_flat, sizeof(float));
    if (load_params(t, m, f, "grad.", ref_grads)) {
        for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
            if (!fg_test_close_f32(t, __FILE__, __LINE__, fg_model_tensor_name(id),
                                   fg_model_grad(m, id), ref_grads + m->offset[id], m->numel[id],
                                   TOL_PARITY_ATOL, TOL_PARITY_RTOL))
                break;
        }
    }
    /* 10 AdamW steps on the same batch, hyperparameters from the fixture */
    struct fg_adamw_params hp;
    hp.beta1 = strtof(fg_st_meta(f, "beta1"), NULL);
    hp.beta2 = strtof(fg_st_meta(f, "beta2"), NULL);
    hp.eps = strtof(fg_st_meta(f, "eps"), NULL);
    hp.weight_decay = strtof(fg_st_meta(f, "weight_decay"), NULL);
    float lr = strtof(fg_st_meta(f, "lr"), NULL);
    struct fg_optim_segment seg[FG_MODEL_N_TENSORS];
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        seg[id].offset = m->offset[id];
        seg[id].n = m->numel[id];
        seg[id].decay = fg_model_tensor_decays(id);
    }
    float *mom = calloc(m->n_flat, sizeof(float)), *vel = calloc(m->n_flat, sizeof(float));
    double losses[10];
    for (int k = 0; k < 10; k++) {
        CHECK_OK(t, fg_model_forward(m, x, y, B, T));
        losses[k] = m->loss;
        fg_model_zero_grad(m);
        CHECK_OK(t, fg_model_backward(m, 1.0f));
        if (use_ref)
            fg_adamw_step_ref(m->params, m->grads, mom, vel, seg, FG_MODEL_N_TENSORS, k + 1, lr,
                              1.0f, &hp);
        else
            fg_adamw_step(m->params, m->grads, mom, vel, seg, FG_MODEL_N_TENSORS, k + 1, lr, 1.0f,
                          &hp, 2);
    }
    CHECK_CLOSE64(t, losses, ref_losses, 10, 0, TOL_LOSSES_RTOL);
    free(mom);
    free(vel);
    free(ref_grads);
    fg_model_free(m);
    fg_st_free(f);
}

TEST(pytorch_parity_fast)
{
    parity(t, 0);
}

TEST(pytorch_parity_ref)
{
    parity(t, 1);
}

static struct fg_model_config tiny_cfg(void)
{
    struct fg_model_config c = { 2, 4, 64, 32, 200 }; /* V=200 -> Vp=256: padding exercised */
    return c;
}

static void random_tokens(int32_t *x, size_t n, int V, uint64_t seed)
{
    struct fg_rng r;
    fg_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (int32_t)fg_rng_below(&r, (uint64_t)V);
}

/* loss and flat gradients of one forward/backward */
static double run_grad(struct fg_model *m, const int32_t *x, const int32_t *y, size_t B, size_t T)
{
    fg_model_zero_grad(m);
    if (fg_model_forward(m, x, y, B, T) != FG_OK || fg_model_backward(m, 1.0f) != FG_OK)
        return NAN;
    return m->loss;
}

TEST(fast_matches_ref_model)
{
    struct fg_model_config cfg = tiny_cfg();
    size_t B = 3, T = 32;
    int32_t x[96], y[96];
    random_tokens(x, 96, cfg.vocab_size, 1);
    random_tokens(y, 96, cfg.vocab_size, 2);
    struct fg_model *a = make_model(cfg, B, T, 2, 0), *b = make_model(cfg, B, T, 1, 1);
    CHECK(t, a && b);
    if (!a || !b)
        goto done;
    fg_model_init_weights(a, 7);
    fg_model_init_weights(b, 7);
    double la = run_grad(a, x, y, B, T), lb = run_grad(b, x, y, B, T);
    CHECK_CLOSE64(t, &la, &lb, 1, 0, 1e-6);
    CHECK_CLOSE(t, a->grads, b->grads, a->n_flat, TOL_FAST_ATOL, TOL_FAST_RTOL);
    /* padded vocabulary rows get no gradient */
    const float *gw = fg_model_grad(a, FG_PARAM_WTE) + (size_t)cfg.vocab_size * 64;
    int pad_zero = 1;
    for (size_t i = 0; i < (a->Vp - (size_t)cfg.vocab_size) * 64; i++)
        pad_zero &= gw[i] == 0.0f;
    CHECK(t, pad_zero);
done:
    fg_model_free(a);
    fg_model_free(b);
}

TEST(threads_bitwise_equal)
{
    if (fg_kernels_blas_thread_invariant(2) != 1) {
        fg_test_skip(t, "this BLAS's kernels give different bits for 1 and 2 threads");
        return;
    }
    struct fg_model_config cfg = tiny_cfg();
    size_t B = 4, T = 32;
    int32_t x[128], y[128];
    random_tokens(x, 128, cfg.vocab_size, 3);
    random_tokens(y, 128, cfg.vocab_size, 4);
    struct fg_model *a = make_model(cfg, B, T, 1, 0);
    struct fg_model *b = make_model(cfg, B, T, 2, 0);
    CHECK(t, a && b);
    if (!a || !b)
        goto done;
    fg_model_init_weights(a, 9);
    fg_model_init_weights(b, 9);
    fg_kernels_set_blas_threads(1);
    double la = run_grad(a, x, y, B, T);
    fg_kernels_set_blas_threads(2);
    double lb = run_grad(b, x, y, B, T);
    CHECK(t, memcmp(&la, &lb, sizeof la) == 0);
    CHECK(t, memcmp(a->grads, b->grads, a->n_flat * sizeof(float)) == 0);
done:
    fg_model_free(a);
    fg_model_free(b);
}

TEST(microbatch_accumulation)
{
    /* k = 4 micro-batches of b = 1, each with loss scale 1/k, equal one batch of 4 */
    struct fg_model_config cfg = tiny_cfg();
    size_t B = 4, T = 32, k = 4;
    int32_t x[128], y[128];
    random_tokens(x, 128, cfg.vocab_size, 5);
    random_tokens(y, 128, cfg.vocab_size, 6);
    struct fg_model *a = make_model(cfg, B, T, 2, 0), *b = make_model(cfg, 1, T, 2, 0);
    CHECK(t, a && b);
    if (!a || !b)
        goto done;
    fg_model_init_weights(a, 11);
    fg_model_init_weights(b, 11);
    double la = run_grad(a, x, y, B, T), lb = 0;
    fg_model_zero_grad(b);
    for (size_t i = 0; i < k; i++) {
        CHECK_OK(t, fg_model_forward(b, x + i * T, y + i * T, 1, T));
        lb += b->loss / (double)k;
        CHECK_OK(t, fg_model_backward(b, 1.0f / (float)k));
    }
    CHECK_CLOSE64(t, &lb, &la, 1, 1e-6, 0);
    CHECK_CLOSE(t, b->grads, a->grads, a->n_flat, TOL_ACCUM_ATOL, 1e-4);
done:
    fg_model_free(a);
    fg_model_free(b);
}

TEST(sizing_matches_allocation)
{
    struct fg_model_config cfg = tiny_cfg();
    struct fg_model_mem mem;
    CHECK_OK(t, fg_model_mem_size(&cfg, 4, 32, 1, &mem));
    /* parameter count by hand: V padded to 256 */
    size_t C = 64, L = 2, Vp = 256, maxT = 32;
    size_t n = Vp * C + maxT * C + L * (12 * C * C + 13 * C) + 2 * C;
    CHECK_EQ_I64(t, mem.n_params, n);
    CHECK(t, mem.n_flat >= mem.n_params && mem.n_flat < mem.n_params + 16 * FG_MODEL_ALIGN);
    CHECK_EQ_I64(t, mem.grad_bytes, mem.param_bytes);
    struct fg_model_mem inf;
    CHECK_OK(t, fg_model_mem_size(&cfg, 4, 32, 0, &inf));
    CHECK_EQ_I64(t, inf.grad_bytes, 0);
    CHECK_EQ_I64(t, inf.scratch_bytes, 0);
    /* GPT-2 124M: 124,475,904 parameters with the vocabulary padded to 50,304 (llm.c's count) */
    struct fg_model_config g2 = { 12, 12, 768, 1024, 50257 };
    CHECK_OK(t, fg_model_mem_size(&g2, 4, 64, 1, &mem));
    CHECK_EQ_I64(t, mem.n_params, 124475904);
    struct fg_model_config bad = { 2, 3, 64, 32, 256 };
    CHECK(t, fg_model_mem_size(&bad, 4, 32, 1, &mem) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_model_mem_size(&cfg, (size_t)1 << 40, (size_t)1 << 30, 1, &mem) != FG_OK);
    /* products that would wrap size_t are rejected, not returned wrapped */
    struct fg_model_config wide = { 1024, 1, 65536, 1, 2 };
    CHECK(t, fg_model_mem_size(&wide, (size_t)1 << 40, 1, 1, &mem) != FG_OK);
}

TEST(bad_tokens_rejected)
{
    struct fg_model_config cfg = tiny_cfg();
    struct fg_model *m = make_model(cfg, 1, 4, 1, 0);
    CHECK(t, m != NULL);
    if (!m)
        return;
    int32_t x[4] = { 1, 2, 200, 3 }, y[4] = { 1, 2, 3, 4 };
    CHECK(t, fg_model_forward(m, x, y, 1, 4) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(fg_model_errmsg(m), "200") != NULL);
    CHECK(t, fg_model_forward(m, y, y, 1, 5) == FG_ERR_INVALID_ARG);
    fg_model_free(m);
}

/* The AVX-512 attention kernel against _ref, forward and backward, on shapes with partial
 * blocks (T not a multiple of 4 or 32) and HS = 16 and 32. */
#define TOL_ATTN_ATOL 1e-5
#define TOL_ATTN_RTOL 1e-4

TEST(attention_avx512_matches_ref)
{
    if (fg_cpu_isa() < FG_ISA_AVX512) {
        fg_test_skip(t, "this CPU has no AVX-512");
        return;
    }
    const size_t shapes[][4] = { { 2, 37, 64, 4 }, { 1, 70, 64, 2 }, { 3, 5, 32, 2 } };
    for (size_t si = 0; si < 3; si++) {
        size_t B = shapes[si][0], T = shapes[si][1], C = shapes[si][2], NH = shapes[si][3];
        CHECK(t, fg_attention_avx512_supported(C, NH));
        size_t nq = B * T * 3 * C, no = B * T * C, na = B * NH * T * T;
        float *qkv = malloc(nq * 4), *dout = malloc(no * 4), *o1 = malloc(no * 4);
        float *o2 = malloc(no * 4), *a1 = malloc(na * 4), *a2 = malloc(na * 4);
        float *d1 = malloc(nq * 4), *d2 = malloc(nq * 4), *sc = malloc(na * 4);
        float *sc2 = malloc(fg_attention_avx512_scratch_floats(B, T, C) * 4);
        struct fg_rng r;
        fg_rng_seed(&r, t->seed + si);
        for (size_t i = 0; i < nq; i++)
            qkv[i] = (float)fg_rng_normal(&r);
        for (size_t i = 0; i < no; i++)
            dout[i] = (float)fg_rng_normal(&r);
        fg_attention_forward_ref(o1, a1, qkv, B, T, C, NH);
        fg_attention_forward_avx512(o2, a2, sc2, qkv, B, T, C, NH, 2);
        CHECK_CLOSE(t, o2, o1, no, TOL_ATTN_ATOL, TOL_ATTN_RTOL);
        CHECK_CLOSE(t, a2, a1, na, TOL_ATTN_ATOL, TOL_ATTN_RTOL);
        fg_attention_backward_ref(d1, dout, qkv, a1, B, T, C, NH);
        fg_attention_backward_avx512(d2, sc, sc2, dout, qkv, a2, B, T, C, NH, 2);
        CHECK_CLOSE(t, d2, d1, nq, TOL_ATTN_ATOL, TOL_ATTN_RTOL);
        /* 1 thread gives the same bits as 2 */
        float *o3 = malloc(no * 4), *a3 = malloc(na * 4);
        fg_attention_forward_avx512(o3, a3, sc2, qkv, B, T, C, NH, 1);
        CHECK(t, memcmp(o3, o2, no * 4) == 0);
        free(o3);
        free(a3);
        free(qkv), free(dout), free(o1), free(o2), free(a1), free(a2), free(d1), free(d2);
        free(sc), free(sc2);
    }
    CHECK(t, !fg_attention_avx512_supported(48, 4)); /* HS 12 */
}

static const struct fg_test_case cases[] = {
    { "attention_avx512_matches_ref", test_attention_avx512_matches_ref },
    { "pytorch_parity_fast", test_pytorch_parity_fast },
    { "pytorch_parity_ref", test_pytorch_parity_ref },
    { "fast_matches_ref_model", test_fast_matches_ref_model },
    { "threads_bitwise_equal", test_threads_bitwise_equal },
    { "microbatch_accumulation", test_microbatch_accumulation },
    { "sizing_matches_allocation", test_sizing_matches_allocation },
    { "bad_tokens_rejected", test_bad_tokens_rejected },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
