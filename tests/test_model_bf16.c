/* The model on bf16 weights (FG_MODEL_WEIGHTS_BF16): against an fp32 model holding the same
 * bf16-rounded values. With the _ref kernels and one chunk of LM-head rows the two compute the
 * same sums in the same order, so logits, loss and the bf16 gradient (= bf16 of the fp32
 * gradient) are bit for bit equal; with the fast kernels and several chunks they agree within
 * sgemm's reordering. Also: sizing equals what init allocates, micro-batch accumulation,
 * failing allocations. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/model.h"
#include "frugal/numerics.h"
#include "test.h"

static struct fg_model_params params_of(int L, int C, int NH, int maxT, int V, size_t B, size_t T,
                                        int weights, int use_ref)
{
    struct fg_model_params p = fg_model_params_default();
    struct fg_model_config c = { L, NH, C, maxT, V };
    p.cfg = c;
    p.B = B;
    p.T = T;
    p.training = 1;
    p.n_threads = 2;
    p.use_ref = use_ref;
    p.weights = weights;
    return p;
}

static void tokens(int32_t *x, int32_t *y, size_t n, int V, uint64_t seed)
{
    struct fg_rng r;
    fg_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        x[i] = (int32_t)(fg_rng_u64(&r) % (uint64_t)V);
        y[i] = (int32_t)(fg_rng_u64(&r) % (uint64_t)V);
    }
    x[0] = x[n - 1] = 3; /* a repeated token: two embedding contributions to one row */
}

/* a = the fp32 model, b = the bf16 one, both from init_weights(seed); a's weights are then
 * rounded to bf16 so that both hold the same values. Returns 1 if b's weights are a's bits. */
static int same_start(struct fg_test *t, struct fg_model *a, struct fg_model *b, uint64_t seed)
{
    fg_model_init_weights(a, seed);
    fg_model_init_weights(b, seed);
    size_t bad = 0;
    for (size_t i = 0; i < a->n_flat; i++) {
        uint16_t h = fg_bf16_encode(a->params[i]);
        bad += h != b->w16[i];
        a->params[i] = fg_bf16_decode(h);
    }
    CHECK_EQ_I64(t, bad, 0);
    return bad == 0;
}

/* gradient of b (bf16) against bf16(gradient of a): count of differing elements */
static size_t grad_mismatches(const struct fg_model *a, const struct fg_model *b)
{
    size_t bad = 0;
    for (size_t i = 0; i < a->n_flat; i++)
        bad += fg_bf16_encode(a->grads[i]) != b->g16[i];
    return bad;
}

TEST(ref_kernels_bitwise_equal_to_fp32_on_rounded_weights)
{
    /* Vp = 256 <= one chunk of rows: the LM head is one product, as in the fp32 model */
    struct fg_model_params pa = params_of(2, 64, 4, 32, 200, 3, 16, FG_MODEL_WEIGHTS_FP32, 1);
    struct fg_model_params pb = pa;
    pb.weights = FG_MODEL_WEIGHTS_BF16;
    struct fg_model *a = NULL, *b = NULL;
    CHECK_OK(t, fg_model_init(&a, &pa));
    CHECK_OK(t, fg_model_init(&b, &pb));
    if (!a || !b)
        goto done;
    CHECK(t,
          fg_model_param(b, FG_PARAM_QKVW) == NULL && fg_model_param16(a, FG_PARAM_QKVW) == NULL);
    if (!same_start(t, a, b, 7))
        goto done;
    int32_t x[48], y[48];
    tokens(x, y, 48, 200, 11);
    CHECK_OK(t, fg_model_forward(a, x, y, 3, 16));
    CHECK_OK(t, fg_model_forward(b, x, y, 3, 16));
    CHECK(t, a->loss == b->loss);
    CHECK(t, memcmp(a->a.logits, b->a.logits, 48 * a->Vp * sizeof(float)) == 0);
    CHECK_OK(t, fg_model_backward(a, 1.0f));
    CHECK_OK(t, fg_model_backward(b, 1.0f));
    CHECK_EQ_I64(t, grad_mismatches(a, b), 0);
    /* a second, shorter micro-batch (the front of every buffer) accumulates: the bf16 model
     * adds its fp32 contribution d to the bf16 gradient g0 and rounds once, bf16(g0 + d).
     * d is the fp32 model's gradient of that micro-batch alone (from zero), summed in the
     * same order */
    uint16_t *g0 = malloc(a->n_flat * sizeof(uint16_t));
    if (!g0)
        goto done;
    memcpy(g0, b->g16, a->n_flat * sizeof(uint16_t));
    fg_model_zero_grad(a);
    CHECK_OK(t, fg_model_forward(a, x, y, 2, 9));
    CHECK_OK(t, fg_model_forward(b, x, y, 2, 9));
    CHECK(t, a->loss == b->loss);
    CHECK_OK(t, fg_model_backward(a, 0.5f));
    CHECK_OK(t, fg_model_backward(b, 0.5f));
    size_t bad = 0, changed = 0;
    for (size_t i = 0; i < a->n_flat; i++) {
        uint16_t e = fg_bf16_encode(fg_bf16_decode(g0[i]) + a->grads[i]);
        bad += e != b->g16[i];
        changed += e != fg_bf16_encode(a->grads[i]) && a->grads[i] != 0.0f;
    }
    CHECK_EQ_I64(t, bad, 0);
    CHECK(t, changed > a->n_flat / 4); /* the first micro-batch's gradient was kept */
    free(g0);
    /* after zero_grad the next backward writes the gradients (the arena still holds the old
     * ones): bf16 of that micro-batch's gradient alone */
    fg_model_zero_grad(a);
    fg_model_zero_grad(b);
    CHECK_OK(t, fg_model_forward(a, x + 5, y, 2, 12));
    CHECK_OK(t, fg_model_forward(b, x + 5, y, 2, 12));
    CHECK_OK(t, fg_model_backward(a, 1.0f));
    CHECK_OK(t, fg_model_backward(b, 1.0f));
    CHECK_EQ_I64(t, grad_mismatches(a, b), 0);
done:
    fg_model_free(a);
    fg_model_free(b);
}

TEST(fast_kernels_chunked_head_close_to_fp32)
{
    /* V = 2500: Vp = 2560, three chunks of wte rows (1024, 1024, 512) */
    struct fg_model_params pa = params_of(2, 64, 4, 32, 2500, 2, 32, FG_MODEL_WEIGHTS_FP32, 0);
    struct fg_model_params pb = pa;
    pb.weights = FG_MODEL_WEIGHTS_BF16;
    struct fg_model *a = NULL, *b = NULL;
    float *g = NULL, *g0 = NULL;
    CHECK_OK(t, fg_model_init(&a, &pa));
    CHECK_OK(t, fg_model_init(&b, &pb));
    if (!a || !b || !same_start(t, a, b, 5))
        goto done;
    CHECK(t, b->chunk_rows == 1024);
    int32_t x[64], y[64];
    tokens(x, y, 64, 2500, 13);
    g = malloc(a->n_flat * sizeof(float));
    g0 = malloc(a->n_flat * sizeof(float));
    if (!g || !g0)
        goto done;
    for (int mb = 0; mb < 2; mb++) { /* two micro-batches: the second adds into bf16 */
        if (mb == 1)
            memcpy(g0, a->grads, a->n_flat * sizeof(float));
        CHECK_OK(t, fg_model_forward(a, x + 32 * mb, y, 1 + mb, 32 - 16 * mb));
        CHECK_OK(t, fg_model_forward(b, x + 32 * mb, y, 1 + mb, 32 - 16 * mb));
        CHECK(t, fabs(a->loss - b->loss) <= 1e-5 * fabs(a->loss));
        CHECK_CLOSE(t, b->a.logits, a->a.logits, (size_t)(32 * a->Vp), 1e-5, 1e-4);
        CHECK_OK(t, fg_model_backward(a, 0.5f));
        CHECK_OK(t, fg_model_backward(b, 0.5f));
    }
    /* the bf16 gradient is rounded once per micro-batch: expect e = bf16(bf16(g0) + (g - g0))
     * of the fp32 model's gradients after the first (g0) and second (g) micro-batch, within
     * one bf16 ULP of each rounding (ULP(x) <= 2^-7 |x|), and sgemm's reordering (amplified on
     * sums that cancel): 1e-5 of the largest gradient */
    float gmax = 0;
    for (size_t i = 0; i < a->n_flat; i++)
        gmax = fmaxf(gmax, fabsf(a->grads[i]));
    CHECK(t, gmax > 0);
    fg_bf16_to_fp32_ref(g, b->g16, a->n_flat);
    size_t worst = 0, outside = 0, far = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < a->n_flat; i++) {
        float first = fg_bf16_decode(fg_bf16_encode(g0[i]));
        float e = fg_bf16_decode(fg_bf16_encode(first + (a->grads[i] - g0[i])));
        double bound = (fabs((double)g0[i]) + fabs((double)e)) / 128.0 + 1e-5 * (double)gmax;
        double ratio = fabs((double)g[i] - (double)e) / bound;
        outside += !(ratio <= 1.0);
        if (!(ratio <= worst_ratio))
            worst_ratio = ratio, worst = i;
        far += fabsf(g[i] - a->grads[i]) > fabsf(a->grads[i]) / 64 + 1e-4f * gmax;
    }
    if (outside)
        fg_test_fail(t, __FILE__, __LINE__,
                     "%zu gradients outside the bound; worst [%zu] got %g, "
                     "fp32 %g after the first micro-batch %g",
                     outside, worst, (double)g[worst], (double)a->grads[worst], (double)g0[worst]);
    /* the two roundings are visible: some elements are further from the fp32 sum than two
     * ULPs of it */
    CHECK(t, far > 0);
done:
    free(g);
    free(g0);
    fg_model_free(a);
    fg_model_free(b);
}

TEST(sizing_matches_allocation)
{
    for (int training = 0; training <= 1; training++) {
        struct fg_model_params p = params_of(2, 64, 4, 32, 2500, 2, 32, FG_MODEL_WEIGHTS_BF16, 0);
        p.training = training;
        struct fg_test_alloc cnt = { 0 };
        struct fg_allocator al = fg_test_allocator(&cnt);
        p.allocator = &al;
        struct fg_model_mem mem, m32;
        CHECK_OK(t, fg_model_mem_size_params(&p, &mem));
        struct fg_model *m = NULL;
        CHECK_OK(t, fg_model_init(&m, &p));
        /* the model struct itself is the only allocation the sizing does not count */
        CHECK_EQ_I64(t, cnt.bytes, mem.total_bytes + sizeof(struct fg_model));
        CHECK_EQ_I64(t, mem.param_bytes, mem.n_flat * 2);
        CHECK_EQ_I64(t, mem.grad_bytes, training ? mem.n_flat * 2 : 0);
        size_t C = 64, one_block = 12 * C * C + 13 * C, rows = 1024;
        size_t lower = (1 + (size_t)training) * (one_block + 32 * C + 2 * C + rows * C) * 4;
        CHECK(t, mem.decode_bytes >= lower && mem.decode_bytes <= lower + 40 * 64);
        p.weights = FG_MODEL_WEIGHTS_FP32;
        CHECK_OK(t, fg_model_mem_size_params(&p, &m32));
        CHECK_EQ_I64(t, m32.decode_bytes, 0);
        CHECK_EQ_I64(t, m32.param_bytes, 2 * mem.param_bytes);
        p.weights = 7;
        CHECK(t, fg_model_mem_size_params(&p, &m32) == FG_ERR_INVALID_ARG);
        fg_model_free(m);
    }
    /* GPT-2 124M on bf16: 2 + 2 bytes per parameter, and a decode scratch of one block */
    struct fg_model_params g2 =
        params_of(12, 768, 12, 1024, 50257, 4, 64, FG_MODEL_WEIGHTS_BF16, 0);
    struct fg_model_mem mem;
    CHECK_OK(t, fg_model_mem_size_params(&g2, &mem));
    CHECK_EQ_I64(t, mem.n_params, 124475904);
    CHECK(t, mem.decode_bytes < 70u << 20);
}

TEST(failing_allocations_are_clean)
{
    struct fg_model_params p = params_of(1, 32, 2, 16, 100, 1, 8, FG_MODEL_WEIGHTS_BF16, 0);
    for (size_t k = 1; k <= 8; k++) {
        struct fg_test_alloc f = { .fail_at = k };
        struct fg_allocator a = fg_test_allocator(&f);
        p.allocator = &a;
        struct fg_model *m = NULL;
        fg_status st = fg_model_init(&m, &p);
        if (st == FG_OK) {
            CHECK(t, k > f.n_alloc); /* every allocation succeeded */
            fg_model_free(m);
        } else {
            CHECK_EQ_I64(t, st, FG_ERR_NOMEM);
        }
        CHECK_EQ_I64(t, f.live, 0);
    }
}

static const struct fg_test_case cases[] = {
    { "ref_kernels_bitwise_equal_to_fp32_on_rounded_weights",
      test_ref_kernels_bitwise_equal_to_fp32_on_rounded_weights },
    { "fast_kernels_chunked_head_close_to_fp32", test_fast_kernels_chunked_head_close_to_fp32 },
    { "sizing_matches_allocation", test_sizing_matches_allocation },
    { "failing_allocations_are_clean", test_failing_allocations_are_clean },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
