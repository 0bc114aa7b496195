/* Activation recomputation (fg_model_params.recompute): backward re-runs what the forward did
 * not keep, with the same kernels on the same inputs, so logits, loss and every gradient equal
 * those of a model that keeps everything, bit for bit, for each attention kernel, weight
 * storage, product dtype, MX emulation and gradient release; sizing says what is dropped to the
 * byte; the profile and the FLOP count name the recomputation. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "test.h"

#define NL 3 /* three blocks: the last (kept), and two that backward recomputes */

static struct fg_model_params params_of(int recompute, int attention, size_t T)
{
    struct fg_model_params p = fg_model_params_default();
    struct fg_model_config c = { NL, 4, 64, (int)T, 300 };
    p.cfg = c;
    p.B = 2;
    p.T = T;
    p.training = 1;
    p.n_threads = 2;
    p.attention = attention;
    p.recompute = recompute;
    return p;
}

static const char *const rc_names[] = { "none", "attn", "block" };

/* the gradient stream a release callback receives, in order: a checksum of (id, offset, bits) */
struct stream {
    uint32_t crc;
    size_t calls;
};

static fg_status record(void *user, int id, size_t offset, float *g, size_t n)
{
    struct stream *s = user;
    uint64_t head[2] = { (uint64_t)id, offset };
    s->crc = fg_crc32c(s->crc, head, sizeof head);
    s->crc = fg_crc32c(s->crc, g, n * sizeof *g);
    s->calls++;
    return FG_OK;
}

/* Two models, recompute NONE and rc, otherwise p: two micro-batches accumulated (the second
 * shorter), logits and loss of each forward and the gradients after both compared bitwise. */
static void compare(struct fg_test *t, struct fg_model_params p, int rc, const char *what)
{
    struct fg_model *a = NULL, *b = NULL;
    float *logits = NULL;
    struct stream sa = { 0, 0 }, sb = { 0, 0 };
    p.recompute = FG_MODEL_RECOMPUTE_NONE;
    CHECK_OK(t, fg_model_init(&a, &p));
    p.recompute = rc;
    CHECK_OK(t, fg_model_init(&b, &p));
    if (!a || !b)
        goto done;
    if (p.grad_release) {
        fg_model_set_release(a, record, &sa);
        fg_model_set_release(b, record, &sb);
    }
    fg_model_init_weights(a, 11);
    fg_model_init_weights(b, 11);
    int32_t x[2 * 96], y[2 * 96];
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < 2 * 96; i++) {
        x[i] = (int32_t)fg_rng_below(&r, 300);
        y[i] = (int32_t)fg_rng_below(&r, 300);
    }
    fg_model_zero_grad(a);
    fg_model_zero_grad(b);
    for (int pass = 0; pass < 2; pass++) {
        size_t B = pass ? 1 : p.B, T = pass ? p.T - 13 : p.T, n = B * T * a->Vp;
        CHECK_OK(t, fg_model_forward(a, x, y, B, T));
        CHECK_OK(t, fg_model_forward(b, x, y, B, T));
        free(logits);
        logits = malloc(n * sizeof(float));
        if (!logits)
            goto done;
        memcpy(logits, a->a.logits, n * sizeof(float));
        if (memcmp(b->a.logits, logits, n * sizeof(float)) != 0 || a->loss != b->loss)
            fg_test_fail(t, __FILE__, __LINE__, "%s, recompute %s: forward differs", what,
                         rc_names[rc]);
        CHECK_OK(t, fg_model_backward(a, 1.0f));
        CHECK_OK(t, fg_model_backward(b, 1.0f));
        if (p.grad_release)
            break; /* one micro-batch per step */
    }
    int same;
    if (p.grad_release)
        same = sa.calls > 0 && sa.calls == sb.calls && sa.crc == sb.crc;
    else if (p.weights == FG_MODEL_WEIGHTS_BF16)
        same = memcmp(a->g16, b->g16, a->n_flat * sizeof(uint16_t)) == 0;
    else
        same = memcmp(a->grads, b->grads, a->n_flat * sizeof(float)) == 0;
    if (!same)
        fg_test_fail(t, __FILE__, __LINE__, "%s, recompute %s: gradients differ", what,
                     rc_names[rc]);
done:
    free(logits);
    fg_model_free(a);
    fg_model_free(b);
}

TEST(gradients_bit_for_bit)
{
    for (int rc = FG_MODEL_RECOMPUTE_ATTN; rc <= FG_MODEL_RECOMPUTE_BLOCK; rc++) {
        /* T = 70: ragged blocks for the tiled kernel and the AVX-512 attention */
        compare(t, params_of(rc, FG_MODEL_ATTN_STANDARD, 70), rc, "standard attention");
        compare(t, params_of(rc, FG_MODEL_ATTN_TILED, 70), rc, "tiled attention");
        struct fg_model_params p = params_of(rc, FG_MODEL_ATTN_STANDARD, 40);
        p.use_ref = 1;
        compare(t, p, rc, "_ref kernels");
        p = params_of(rc, FG_MODEL_ATTN_TILED, 64);
        p.weights = FG_MODEL_WEIGHTS_BF16;
        compare(t, p, rc, "bf16 weights");
        p.matmul = FG_MODEL_MATMUL_BF16;
        compare(t, p, rc, "bf16 weights and products");
        p.grad_release = 1;
        compare(t, p, rc, "bf16 weights, gradient release");
        p = params_of(rc, FG_MODEL_ATTN_STANDARD, 64);
        p.mx.weights = p.mx.activations = p.mx.grads = FG_MX_FORMAT_E4M3;
        compare(t, p, rc, "MX emulation");
    }
}

TEST(sizing_drops_the_recomputed)
{
    size_t T = 96, B = 2, L = NL, C = 64, NH = 4, BT = B * T;
    for (int attention = 0; attention < 2; attention++) {
        struct fg_model_mem mem[3];
        for (int rc = 0; rc < 3; rc++) {
            struct fg_model_params p = params_of(rc, attention, T);
            CHECK_OK(t, fg_model_mem_size_params(&p, &mem[rc]));
            struct fg_test_alloc cnt = { 0 };
            struct fg_allocator al = fg_test_allocator(&cnt);
            p.allocator = &al;
            struct fg_model *m = NULL;
            CHECK_OK(t, fg_model_init(&m, &p));
            CHECK_EQ_I64(t, cnt.bytes, mem[rc].total_bytes + sizeof(struct fg_model));
            fg_model_free(m);
            /* an inference model has no backward to recompute for */
            struct fg_model_mem inf, inf0;
            p.training = 0;
            CHECK_OK(t, fg_model_mem_size_params(&p, &inf));
            p.recompute = FG_MODEL_RECOMPUTE_NONE;
            CHECK_OK(t, fg_model_mem_size_params(&p, &inf0));
            CHECK_EQ_I64(t, inf.total_bytes, inf0.total_bytes);
        }
        /* attention's output and internals, per layer: atty, and the probabilities (standard)
         * or the row log-sum-exps (tiled) */
        size_t attn = BT * C + (attention == FG_MODEL_ATTN_TILED ? B * NH * T : B * NH * T * T);
        /* a block's: ln1, its mean and rstd, qkv, res2, ln2, its mean and rstd, fch, fch_gelu */
        size_t block = attn + BT * (C + 2 + 3 * C + C + C + 2 + 4 * C + 4 * C);
        CHECK_EQ_I64(t, mem[0].act_bytes - mem[1].act_bytes, (L - 1) * attn * 4);
        CHECK_EQ_I64(t, mem[0].act_bytes - mem[2].act_bytes, (L - 1) * block * 4);
        CHECK_EQ_I64(t, mem[0].scratch_bytes, mem[2].scratch_bytes);
    }
    struct fg_model_params bad = params_of(3, FG_MODEL_ATTN_STANDARD, 16);
    struct fg_model *m = NULL;
    CHECK(t, fg_model_init(&m, &bad) == FG_ERR_INVALID_ARG && m == NULL);
}

TEST(scratch_shares_the_logits)
{
    /* fp32 weights: dres, dqkv, datty, dfch and datt live in the logits' memory (dead after
     * the LM head's backward); only dln (the head's own output) is extra, plus what of the
     * shared scratch the logits cannot hold. bf16 weights read dlogits again at the end of
     * backward: nothing shared. */
    size_t T = 32, B = 2, C = 64, BT = B * T;
    for (int attention = 0; attention < 2; attention++) {
        struct fg_model_params p = params_of(FG_MODEL_RECOMPUTE_NONE, attention, T);
        size_t datt = attention == FG_MODEL_ATTN_TILED ? B * 4 * T : B * 4 * T * T;
        size_t shared = (BT * C + BT * 3 * C + BT * C + BT * 4 * C + datt) * 4;
        size_t logits = BT * fg_model_padded_vocab(300) * 4;
        struct fg_model_mem m32, m16;
        CHECK_OK(t, fg_model_mem_size_params(&p, &m32));
        CHECK_EQ_I64(t, m32.scratch_bytes, BT * C * 4 + (shared > logits ? shared - logits : 0));
        p.weights = FG_MODEL_WEIGHTS_BF16;
        CHECK_OK(t, fg_model_mem_size_params(&p, &m16));
        CHECK_EQ_I64(t, m16.scratch_bytes, BT * C * 4 + shared);
        p.weights = FG_MODEL_WEIGHTS_FP32;
        struct fg_model *m = NULL;
        CHECK_OK(t, fg_model_init(&m, &p));
        if (!m)
            continue;
        const char *lo = (const char *)m->a.logits, *hi = lo + (logits > shared ? logits : shared);
        const float *in[] = { m->a.dres, m->a.dqkv, m->a.datty, m->a.dfch, m->a.datt };
        for (size_t i = 0; i < 5; i++)
            CHECK(t, (const char *)in[i] >= lo && (const char *)in[i] < hi);
        CHECK(t, (const char *)m->a.dln >= hi || (const char *)m->a.dln + BT * C * 4 <= lo);
        fg_model_free(m);
    }
}

TEST(profile_and_flops)
{
    struct fg_model_config c = { NL, 4, 64, 96, 300 };
    double L1 = NL - 1, C = 64, T = 96;
    CHECK(t, fg_model_recompute_flops_per_token(&c, 96, FG_MODEL_RECOMPUTE_NONE) == 0.0);
    CHECK(t, fg_model_recompute_flops_per_token(&c, 96, FG_MODEL_RECOMPUTE_ATTN) == L1 * 4 * T * C);
    /* qkv 6 C^2, projection 2 C^2, fc 8 C^2 (2 per multiply-add), attention 4 T C */
    CHECK(t, fg_model_recompute_flops_per_token(&c, 96, FG_MODEL_RECOMPUTE_BLOCK) ==
                 L1 * (6 * C * C + 2 * C * C + 8 * C * C + 4 * T * C));
    c.n_layer = 1; /* the only block is the last: nothing is recomputed */
    CHECK(t, fg_model_recompute_flops_per_token(&c, 96, FG_MODEL_RECOMPUTE_BLOCK) == 0.0);

    for (int rc = 0; rc < 3; rc++) {
        struct fg_model *m = NULL;
        struct fg_model_params p = params_of(rc, FG_MODEL_ATTN_TILED, 64);
        CHECK_OK(t, fg_model_init(&m, &p));
        if (!m)
            continue;
        fg_model_init_weights(m, 1);
        int32_t x[128];
        for (int i = 0; i < 128; i++)
            x[i] = (i * 37) % 300;
        double prof[FG_MODEL_N_OPS] = { 0 };
        fg_model_set_profile(m, prof);
        CHECK_OK(t, fg_model_forward(m, x, x, 2, 64));
        double fwd_attn = prof[FG_OP_ATTENTION];
        CHECK_OK(t, fg_model_backward(m, 1.0f));
        CHECK(t, rc ? prof[FG_OP_RECOMPUTE] > 0 : prof[FG_OP_RECOMPUTE] == 0);
        /* recomputed kernels are not counted again as forward's */
        CHECK(t, prof[FG_OP_ATTENTION] == fwd_attn);
        CHECK(t, !strcmp(fg_model_op_name(FG_OP_RECOMPUTE), "recompute"));
        fg_model_free(m);
    }
}

static const struct fg_test_case cases[] = {
    { "gradients_bit_for_bit", test_gradients_bit_for_bit },
    { "sizing_drops_the_recomputed", test_sizing_drops_the_recomputed },
    { "scratch_shares_the_logits", test_scratch_shares_the_logits },
    { "profile_and_flops", test_profile_and_flops },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
