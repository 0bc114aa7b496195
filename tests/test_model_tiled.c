/* The model with tiled attention (FG_MODEL_ATTN_TILED): the same loss, logits and gradients
 * as standard attention within the attention kernels' reordering, without the (L,B,NH,T,T)
 * probabilities: sizing says so to the byte, and a head size the kernel cannot take is
 * refused. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "test.h"

static struct fg_model_params params_of(int attention, int C, int NH, size_t T)
{
    struct fg_model_params p = fg_model_params_default();
    struct fg_model_config c = { 2, NH, C, (int)T, 300 };
    p.cfg = c;
    p.B = 2;
    p.T = T;
    p.training = 1;
    p.n_threads = 2;
    p.attention = attention;
    return p;
}

TEST(same_function_as_standard_attention)
{
    /* T = 70: three query blocks of the tiled kernel, a ragged last one */
    struct fg_model_params ps = params_of(FG_MODEL_ATTN_STANDARD, 64, 4, 70);
    struct fg_model_params pt = params_of(FG_MODEL_ATTN_TILED, 64, 4, 70);
    struct fg_model *a = NULL, *b = NULL;
    float *logits = NULL;
    CHECK_OK(t, fg_model_init(&a, &ps));
    CHECK_OK(t, fg_model_init(&b, &pt));
    if (!a || !b)
        goto done;
    CHECK(t, a->a.att != NULL && a->a.att_lse == NULL && b->a.att == NULL && b->a.att_lse != NULL);
    fg_model_init_weights(a, 3);
    fg_model_init_weights(b, 3);
    int32_t x[140], y[140];
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < 140; i++) {
        x[i] = (int32_t)fg_rng_below(&r, 300);
        y[i] = (int32_t)fg_rng_below(&r, 300);
    }
    for (int pass = 0; pass < 2; pass++) { /* full length, then a shorter micro-batch */
        size_t B = pass ? 1 : 2, T = pass ? 45 : 70, n = B * T * a->Vp;
        fg_model_zero_grad(a);
        fg_model_zero_grad(b);
        CHECK_OK(t, fg_model_forward(a, x, y, B, T));
        CHECK_OK(t, fg_model_forward(b, x, y, B, T));
        free(logits);
        logits = malloc(n * sizeof(float));
        if (!logits)
            goto done;
        memcpy(logits, a->a.logits, n * sizeof(float));
        CHECK_CLOSE(t, b->a.logits, logits, n, 1e-5, 1e-4);
        CHECK(t, fabs(a->loss - b->loss) <= 1e-5 * a->loss);
        CHECK_OK(t, fg_model_backward(a, 1.0f));
        CHECK_OK(t, fg_model_backward(b, 1.0f));
        float gmax = 0;
        for (size_t i = 0; i < a->n_flat; i++)
            gmax = fmaxf(gmax, fabsf(a->grads[i]));
        CHECK(t, gmax > 0);
        CHECK_CLOSE(t, b->grads, a->grads, a->n_flat, 1e-5 * (double)gmax, 1e-3);
    }
done:
    free(logits);
    fg_model_free(a);
    fg_model_free(b);
}

TEST(sizing_drops_the_probabilities)
{
    size_t T = 96, B = 2, L = 2, NH = 4, C = 64;
    for (int training = 0; training < 2; training++) {
        struct fg_model_mem ms, mt;
        struct fg_model_params ps = params_of(FG_MODEL_ATTN_STANDARD, (int)C, (int)NH, T);
        struct fg_model_params pt = params_of(FG_MODEL_ATTN_TILED, (int)C, (int)NH, T);
        ps.training = pt.training = training;
        CHECK_OK(t, fg_model_mem_size_params(&ps, &ms));
        CHECK_OK(t, fg_model_mem_size_params(&pt, &mt));
        /* standard: L B NH T^2 probabilities, a (B,NH,T,T) backward scratch and the AVX-512
         * kernel's packed operands; tiled: L B NH T log-sum-exps and a (B,NH,T) scratch */
        size_t std_only = (L * B * NH * T * T + (training ? B * NH * T * T : 0) + B * C * T) * 4;
        size_t tiled_only = (L * B * NH * T + (training ? B * NH * T : 0)) * 4;
        CHECK_EQ_I64(t, ms.total_bytes - mt.total_bytes, std_only - tiled_only);
        struct fg_test_alloc cnt = { 0 };
        struct fg_allocator al = fg_test_allocator(&cnt);
        pt.allocator = &al;
        struct fg_model *m = NULL;
        CHECK_OK(t, fg_model_init(&m, &pt));
        CHECK_EQ_I64(t, cnt.bytes, mt.total_bytes + sizeof(struct fg_model));
        fg_model_free(m);
    }
    /* a head of 256 channels: more than the tiled kernel takes */
    struct fg_model_params big = params_of(FG_MODEL_ATTN_TILED, 256, 1, 16);
    struct fg_model *m = NULL;
    CHECK(t, fg_model_init(&m, &big) == FG_ERR_INVALID_ARG && m == NULL);
    big.attention = 5;
    big.cfg.n_head = 4;
    CHECK(t, fg_model_init(&m, &big) == FG_ERR_INVALID_ARG && m == NULL);
}

TEST(auto_choice)
{
    /* tiled from T = FG_MODEL_ATTN_TILED_FROM when the head fits, standard otherwise */
    struct fg_model_config c = {
        .n_layer = 1, .n_head = 4, .n_embd = 256, .block_size = 4096, .vocab_size = 64
    };
    CHECK(t, fg_model_attention_auto(&c, FG_MODEL_ATTN_TILED_FROM) == FG_MODEL_ATTN_TILED);
    CHECK(t, fg_model_attention_auto(&c, 4096) == FG_MODEL_ATTN_TILED);
    CHECK(t, fg_model_attention_auto(&c, FG_MODEL_ATTN_TILED_FROM - 1) == FG_MODEL_ATTN_STANDARD);
    CHECK(t, fg_model_attention_auto(&c, 256) == FG_MODEL_ATTN_STANDARD);
    c.n_head = 1; /* heads of 256 channels */
    CHECK(t, fg_model_attention_auto(&c, 4096) == FG_MODEL_ATTN_STANDARD);
    c.n_head = 0;
    CHECK(t, fg_model_attention_auto(&c, 4096) == FG_MODEL_ATTN_STANDARD);
    CHECK(t, fg_model_attention_auto(NULL, 4096) == FG_MODEL_ATTN_STANDARD);
}

static const struct fg_test_case cases[] = {
    { "auto_choice", test_auto_choice },
    { "same_function_as_standard_attention", test_same_function_as_standard_attention },
    { "sizing_drops_the_probabilities", test_sizing_drops_the_probabilities },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
