/* The model with bf16 products (FG_MODEL_MATMUL_BF16): its linear layers and LM head run
 * fg_gemm_bf16. Against the fp32 model it agrees within bf16's rounding and not closer (the
 * rounding really happens); the portable kernel gives the same bits as AVX512_BF16; on bf16
 * weights (the flash optimizer's storage) it gives the bits of the fp32-weight model holding
 * the same values, chunked LM head included; sizing counts the workspace; MX is refused. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "frugal/numerics.h"
#include "test.h"

static struct fg_model_params params_of(int V, int matmul, int weights, int threads)
{
    struct fg_model_params p = fg_model_params_default();
    struct fg_model_config c = { 2, 4, 64, 32, V };
    p.cfg = c;
    p.B = 2;
    p.T = 32;
    p.training = 1;
    p.n_threads = threads;
    p.matmul = matmul;
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
}

/* forward + backward of one micro-batch of 2 x 32; the logits (which backward overwrites with
 * their gradient) copied into a new *keep first when keep is not NULL */
static int step(struct fg_test *t, struct fg_model *m, const int32_t *x, const int32_t *y,
                float **keep)
{
    fg_model_zero_grad(m);
    fg_status a = fg_model_forward(m, x, y, 2, 32);
    if (a == FG_OK && keep) {
        *keep = malloc(64 * m->Vp * sizeof(float));
        if (*keep)
            memcpy(*keep, m->a.logits, 64 * m->Vp * sizeof(float));
    }
    fg_status b = a == FG_OK ? fg_model_backward(m, 1.0f) : a;
    CHECK_OK(t, a);
    CHECK_OK(t, b);
    return a == FG_OK && b == FG_OK;
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * (double)b[i];
        aa += (double)a[i] * (double)a[i];
        bb += (double)b[i] * (double)b[i];
    }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

TEST(close_to_fp32_within_bf16_rounding)
{
    struct fg_model_params pa = params_of(300, FG_MODEL_MATMUL_FP32, FG_MODEL_WEIGHTS_FP32, 2);
    struct fg_model_params pb = params_of(300, FG_MODEL_MATMUL_BF16, FG_MODEL_WEIGHTS_FP32, 2);
    struct fg_model *a = NULL, *b = NULL;
    float *la = NULL, *lb = NULL;
    CHECK_OK(t, fg_model_init(&a, &pa));
    CHECK_OK(t, fg_model_init(&b, &pb));
    int32_t x[64], y[64];
    tokens(x, y, 64, 300, 3);
    if (!a || !b)
        goto done;
    fg_model_init_weights(a, 9);
    fg_model_init_weights(b, 9);
    if (!step(t, a, x, y, &la) || !step(t, b, x, y, &lb) || !la || !lb)
        goto done;
    /* loss: the products' inputs rounded to 8 significant bits move it by far less than 1% */
    CHECK(t, fabs(a->loss - b->loss) < 1e-2 * a->loss);
    size_t n = 64 * a->Vp;
    double max_abs = 0, max_diff = 0;
    for (size_t i = 0; i < n; i++) {
        max_abs = fmax(max_abs, fabs((double)la[i]));
        max_diff = fmax(max_diff, fabs((double)la[i] - (double)lb[i]));
    }
    /* within a few bf16 roundings of the largest logit, and further than sgemm's reordering
     * (1e-5): the products did run on bf16 operands */
    CHECK(t, max_diff < 0.05 * max_abs);
    CHECK(t, max_diff > 1e-5 * max_abs);
    /* every gradient tensor points the same way */
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        size_t k = a->numel[id];
        double c = cosine(fg_model_grad(a, id), fg_model_grad(b, id), k);
        if (!(c > 0.999))
            fg_test_fail(t, __FILE__, __LINE__, "gradient of %s: cosine %.6f to fp32's",
                         fg_model_tensor_name(id), c);
    }
done:
    free(la);
    free(lb);
    fg_model_free(a);
    fg_model_free(b);
}

/* One bf16 step with FG_ISA set to isa (NULL: the environment's) for its duration. */
static struct fg_model *run_on(struct fg_test *t, const char *isa, int threads, const int32_t *x,
                               const int32_t *y, float **lg)
{
    const char *prev = getenv("FG_ISA");
    char saved[32] = "";
    if (prev)
        snprintf(saved, sizeof saved, "%s", prev);
    if (isa)
        setenv("FG_ISA", isa, 1);
    struct fg_model_params p = params_of(300, FG_MODEL_MATMUL_BF16, FG_MODEL_WEIGHTS_FP32, threads);
    struct fg_model *m = NULL;
    CHECK_OK(t, fg_model_init(&m, &p));
    if (m) { /* the kernel is chosen per call: keep the setting through the step */
        fg_model_init_weights(m, 21);
        step(t, m, x, y, lg);
    }
    if (prev)
        setenv("FG_ISA", saved, 1);
    else
        unsetenv("FG_ISA");
    return m;
}

/* The same model on the instruction's kernel and on the portable one, and on one thread and
 * two: the same bits. FG_ISA=avx512bf16 takes VDPBF16PS (not the tile unit, whose rounding is
 * its own) and FG_ISA=avx512 the portable kernel, which changes the bf16 product's kernel and
 * nothing else; where the CPU (or the environment's FG_ISA) is already below AVX512_BF16, both
 * take the portable kernel and that comparison is moot. One thread against two runs on the
 * environment's path (the tile unit where there is one) and is compared when every other
 * kernel of the step is thread-count invariant: frugal's own are, OpenBLAS's attention
 * products only with its AVX-512 kernels (fg_kernels_blas_thread_invariant). */
TEST(same_bits_on_every_path_and_thread_count)
{
    int32_t x[64], y[64];
    tokens(x, y, 64, 300, 4);
    int paths = fg_cpu_isa() >= FG_ISA_AVX512BF16;
    const char *env = getenv("FG_ISA");
    /* the instruction's path: the environment's, capped at AVX512_BF16 */
    const char *cap = !env || !strcmp(env, "amx") ? "avx512bf16" : NULL;
    struct fg_model *m[4] = { NULL, NULL, NULL, NULL };
    float *lg[4] = { NULL, NULL, NULL, NULL };
    if (paths) {
        m[0] = run_on(t, cap, 2, x, y, &lg[0]);
        m[1] = run_on(t, "avx512", 2, x, y, &lg[1]);
    }
    m[2] = run_on(t, NULL, 2, x, y, &lg[2]);
    m[3] = run_on(t, NULL, 1, x, y, &lg[3]);
    int threads_comparable =
        m[2] && (m[2]->attn_avx512 || fg_kernels_blas_thread_invariant(2) == 1);
    for (int k = 0; k < 4; k += 2) {
        int a = k, b = k + 1;
        if ((k == 0 && !paths) || (k == 2 && !threads_comparable) || !lg[a] || !lg[b])
            continue;
        CHECK(t, m[b]->loss == m[a]->loss);
        CHECK(t, !memcmp(lg[b], lg[a], 64 * m[a]->Vp * sizeof(float)));
        CHECK(t, !memcmp(m[b]->grads, m[a]->grads, m[a]->n_flat * sizeof(float)));
    }
    CHECK(t, (!paths || (lg[0] && lg[1])) && lg[2] && lg[3]);
    for (int k = 0; k < 4; k++) {
        free(lg[k]);
        fg_model_free(m[k]);
    }
}

/* bf16 weights (decoded per block, LM head in chunks of 1,024 wte rows) and fp32 weights with
 * the same values compute the same bf16 products: equal logits and loss, and the bf16
 * gradient is the bf16 rounding of the fp32 one */
TEST(bf16_weights_same_bits_as_fp32_weights)
{
    /* V = 2500: Vp = 2560, three chunks of rows (1024, 1024, 512), even boundaries */
    struct fg_model_params pa = params_of(2500, FG_MODEL_MATMUL_BF16, FG_MODEL_WEIGHTS_FP32, 2);
    struct fg_model_params pb = params_of(2500, FG_MODEL_MATMUL_BF16, FG_MODEL_WEIGHTS_BF16, 2);
    struct fg_model *a = NULL, *b = NULL;
    float *la = NULL, *lb = NULL;
    CHECK_OK(t, fg_model_init(&a, &pa));
    CHECK_OK(t, fg_model_init(&b, &pb));
    int32_t x[64], y[64];
    tokens(x, y, 64, 2500, 5);
    if (!a || !b)
        goto done;
    fg_model_init_weights(a, 17);
    fg_model_init_weights(b, 17);
    for (size_t i = 0; i < a->n_flat; i++)
        a->params[i] = fg_bf16_decode(fg_bf16_encode(a->params[i]));
    CHECK(t, b->chunk_rows == 1024 && b->Vp == 2560);
    if (!step(t, a, x, y, &la) || !step(t, b, x, y, &lb) || !la || !lb)
        goto done;
    CHECK(t, a->loss == b->loss);
    CHECK(t, !memcmp(la, lb, 64 * a->Vp * sizeof(float)));
    size_t bad = 0;
    for (size_t i = 0; i < a->n_flat; i++)
        bad += fg_bf16_encode(a->grads[i]) != b->g16[i];
    CHECK_EQ_I64(t, bad, 0);
done:
    free(la);
    free(lb);
    fg_model_free(a);
    fg_model_free(b);
}

TEST(sizing_counts_the_workspace_and_bad_settings_refused)
{
    for (int w = 0; w < 2; w++) {
        struct fg_model_params p = params_of(300, FG_MODEL_MATMUL_BF16, w, 2);
        struct fg_test_alloc cnt = { 0 };
        struct fg_allocator al = fg_test_allocator(&cnt);
        p.allocator = &al;
        struct fg_model_mem mem, m32;
        CHECK_OK(t, fg_model_mem_size_params(&p, &mem));
        CHECK(t, mem.gemm_bytes == fg_gemm_bf16_work_size(2) && mem.gemm_bytes > 0);
        struct fg_model *m = NULL;
        CHECK_OK(t, fg_model_init(&m, &p));
        CHECK_EQ_I64(t, cnt.bytes, mem.total_bytes + sizeof(struct fg_model));
        fg_model_free(m);
        p.matmul = FG_MODEL_MATMUL_FP32;
        CHECK_OK(t, fg_model_mem_size_params(&p, &m32));
        CHECK_EQ_I64(t, m32.gemm_bytes, 0);
        CHECK_EQ_I64(t, mem.total_bytes - m32.total_bytes, mem.gemm_bytes);
    }
    struct fg_model_params p = params_of(300, 2, FG_MODEL_WEIGHTS_FP32, 1);
    struct fg_model *m = NULL;
    CHECK(t, fg_model_init(&m, &p) == FG_ERR_INVALID_ARG && m == NULL);
    p.matmul = FG_MODEL_MATMUL_BF16;
    p.mx.weights = FG_MX_FORMAT_E4M3;
    CHECK(t, fg_model_init(&m, &p) == FG_ERR_INVALID_ARG && m == NULL);
}

TEST(failing_allocations_are_clean)
{
    struct fg_model_params p = params_of(100, FG_MODEL_MATMUL_BF16, FG_MODEL_WEIGHTS_BF16, 1);
    for (size_t k = 1; k <= 8; k++) {
        struct fg_test_alloc f = { .fail_at = k };
        struct fg_allocator a = fg_test_allocator(&f);
        p.allocator = &a;
        struct fg_model *m = NULL;
        fg_status st = fg_model_init(&m, &p);
        if (st == FG_OK) {
            CHECK(t, k > f.n_alloc);
            fg_model_free(m);
        } else {
            CHECK_EQ_I64(t, st, FG_ERR_NOMEM);
        }
        CHECK_EQ_I64(t, f.live, 0);
    }
}

static const struct fg_test_case cases[] = {
    { "close_to_fp32_within_bf16_rounding", test_close_to_fp32_within_bf16_rounding },
    { "same_bits_on_every_path_and_thread_count", test_same_bits_on_every_path_and_thread_count },
    { "bf16_weights_same_bits_as_fp32_weights", test_bf16_weights_same_bits_as_fp32_weights },
    { "sizing_counts_the_workspace_and_bad_settings_refused",
      test_sizing_counts_the_workspace_and_bad_settings_refused },
    { "failing_allocations_are_clean", test_failing_allocations_are_clean },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
