/* GELU with the tanh approximation (Hendrycks & Gimpel 2016), as GPT-2 uses it.
 * _ref calls libm tanhf/coshf; the fast path uses a vectorizable exp-based tanh (kernels_int.h)
 * and is tested against _ref within FG_TOL_GELU. On AVX-512 CPUs the blocks run
 * elementwise_avx512.c instead (FMA, logistic form; same tolerances). */
#include <math.h>

#include "frugal/kernels.h"
#include "kernels_int.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void fg_gelu_forward_ref(float *out, const float *inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}

void fg_gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float local =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = local * dout[i];
    }
}

FG_CLONES static void gelu_fwd_block(float *restrict out, const float *restrict inp, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        out[i] = 0.5f * x * (1.0f + fg_fast_tanhf(u));
    }
}

FG_CLONES static void gelu_bwd_block(float *dinp, const float *restrict inp, const float *dout,
                                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = fg_fast_tanhf(u);
        float sech2 = 1.0f - th * th;
        float local =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = local * dout[i];
    }
}

#define GELU_BLOCK 4096

void fg_gelu_forward(float *out, const float *inp, size_t n, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_blocks = (long)((n + GELU_BLOCK - 1) / GELU_BLOCK);
    int avx512 = fg_kernels_avx512();
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(out, inp, n, n_blocks, avx512)
    for (long blk = 0; blk < n_blocks; blk++) {
        size_t i0 = (size_t)blk * GELU_BLOCK;
        size_t len = n - i0 < GELU_BLOCK ? n - i0 : GELU_BLOCK;
        if (avx512)
            fg_gelu_forward_avx512(out + i0, inp + i0, len);
        else
            gelu_fwd_block(out + i0, inp + i0, len);
    }
}

void fg_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_blocks = (long)((n + GELU_BLOCK - 1) / GELU_BLOCK);
    int avx512 = fg_kernels_avx512();
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(dinp, inp, dout, n, n_blocks, avx512)
    for (long blk = 0; blk < n_blocks; blk++) {
        size_t i0 = (size_t)blk * GELU_BLOCK;
        size_t len = n - i0 < GELU_BLOCK ? n - i0 : GELU_BLOCK;
        if (avx512)
            fg_gelu_backward_avx512(dinp + i0, inp + i0, dout + i0, len);
        else
            gelu_bwd_block(dinp + i0, inp + i0, dout + i0, len);
    }
}
