/* Fused softmax + cross-entropy over the real vocabulary (the first V of Vp padded columns).
 * Fusing lets the gradient overwrite the logits in place: the (N, Vp) logits buffer is the
 * largest activation of a GPT-2 step, and no separate probability buffer is ever stored.
 * Per row: loss = log(sum exp(z - max)) + max - z[target]; dz = dscale * (softmax - onehot). */
#include <assert.h>
#include <math.h>

#include "frugal/kernels.h"
#include "kernels_int.h"

void fg_crossentropy_ref(float *losses, float *logits, const int32_t *targets, size_t N, size_t V,
                         size_t Vp, float dscale)
{
    for (size_t n = 0; n < N; n++) {
        float *z = logits + n * Vp;
        int32_t tgt = targets[n];
        assert(tgt >= 0 && (size_t)tgt < V);
        float maxv = -INFINITY;
        for (size_t i = 0; i < V; i++)
            maxv = z[i] > maxv ? z[i] : maxv;
        float sum = 0.0f;
        for (size_t i = 0; i < V; i++)
            sum += expf(z[i] - maxv);
        losses[n] = logf(sum) + maxv - z[tgt];
        if (dscale != 0.0f) {
            for (size_t i = 0; i < V; i++)
                z[i] = dscale * (expf(z[i] - maxv) / sum - (i == (size_t)tgt ? 1.0f : 0.0f));
            for (size_t i = V; i < Vp; i++)
                z[i] = 0.0f;
        }
    }
}

FG_CLONES static float ce_row(float *restrict z, int32_t tgt, size_t V, size_t Vp, float dscale)
{
    float maxv = fg_vmax(z, V);
    float zt = z[tgt];
    float sum;
    if (dscale != 0.0f) {
        /* Keep exp(z - max) in place, then scale: one exp per element. */
        sum = fg_vexp_sum(z, V, maxv);
        float k = dscale / sum;
        for (size_t i = 0; i < V; i++)
            z[i] *= k;
        z[tgt] -= dscale;
        for (size_t i = V; i < Vp; i++)
            z[i] = 0.0f;
    } else {
        sum = fg_vexp_sum_ro(z, V, maxv);
    }
    return logf(sum) + maxv - zt;
}

void fg_crossentropy(float *losses, float *logits, const int32_t *targets, size_t N, size_t V,
                     size_t Vp, float dscale, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N;
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(losses, logits, targets, n_rows, V, Vp, dscale)
    for (long n = 0; n < n_rows; n++) {
        assert(targets[n] >= 0 && (size_t)targets[n] < V);
        losses[n] = ce_row(logits + (size_t)n * Vp, targets[n], V, Vp, dscale);
    }
}

void fg_crossentropy_lse_ref(float *losses, float *lse, const float *logits, const int32_t *targets,
                             size_t N, size_t V, size_t Vp)
{
    for (size_t n = 0; n < N; n++) {
        const float *z = logits + n * Vp;
        float maxv = -INFINITY;
        for (size_t i = 0; i < V; i++)
            maxv = z[i] > maxv ? z[i] : maxv;
        float sum = 0.0f;
        for (size_t i = 0; i < V; i++)
            sum += expf(z[i] - maxv);
        lse[n] = logf(sum) + maxv;
        losses[n] = lse[n] - z[targets[n]];
    }
}

FG_CLONES static float lse_row(const float *restrict z, size_t V)
{
    float maxv = fg_vmax(z, V);
    return logf(fg_vexp_sum_ro(z, V, maxv)) + maxv;
}

void fg_crossentropy_lse(float *losses, float *lse, const float *logits, const int32_t *targets,
                         size_t N, size_t V, size_t Vp, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N;
    int avx512 = fg_kernels_avx512();
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(losses, lse, logits, targets, n_rows, V, Vp, avx512)
    for (long n = 0; n < n_rows; n++) {
        const float *z = logits + (size_t)n * Vp;
        lse[n] = avx512 ? fg_lse_row_avx512(z, V) : lse_row(z, V);
        losses[n] = lse[n] - z[targets[n]];
    }
}

void fg_crossentropy_backward_ref(float *logits, const float *lse, const int32_t *targets, size_t N,
                                  size_t V, size_t Vp, float dscale)
{
    for (size_t n = 0; n < N; n++) {
        float *z = logits + n * Vp;
        int32_t tgt = targets[n];
        for (size_t i = 0; i < V; i++)
            z[i] = dscale * (expf(z[i] - lse[n]) - (i == (size_t)tgt ? 1.0f : 0.0f));
        for (size_t i = V; i < Vp; i++)
            z[i] = 0.0f;
    }
}

FG_CLONES static void ce_row_backward(float *restrict z, float lse, int32_t tgt, size_t V,
                                      size_t Vp, float dscale)
{
    for (size_t i = 0; i < V; i++)
        z[i] = dscale * fg_fast_expf(z[i] - lse);
    z[tgt] -= dscale;
    for (size_t i = V; i < Vp; i++)
        z[i] = 0.0f;
}

void fg_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, size_t N,
                              size_t V, size_t Vp, float dscale, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)N;
    int avx512 = fg_kernels_avx512();
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(logits, lse, targets, n_rows, V, Vp, dscale, avx512)
    for (long n = 0; n < n_rows; n++) {
        if (avx512)
            fg_ce_row_backward_avx512(logits + (size_t)n * Vp, lse[n], targets[n], V, Vp, dscale);
        else
            ce_row_backward(logits + (size_t)n * Vp, lse[n], targets[n], V, Vp, dscale);
    }
}
