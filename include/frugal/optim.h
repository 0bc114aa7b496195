/* frugal optimizers over flat parameter buffers, and learning-rate schedules.
 *
 * AdamW (Loshchilov & Hutter 2019, decoupled weight decay), in fp32:
 *   p -= lr * wd * p            (only on segments with decay)
 *   m  = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
 *   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * which is PyTorch's torch.optim.AdamW. The gradient may be scaled first (global-norm
 * clipping) inside the same fused pass. The optimizer sees segments of a flat buffer, never
 * the model. Reductions (the gradient norm) use fixed chunks of FG_OPTIM_CHUNK elements summed
 * in double and combined in index order: the same bits for any thread count.
 */
#ifndef FRUGAL_OPTIM_H
#define FRUGAL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FG_OPTIM_CHUNK 16384

/* A contiguous range of the flat buffer and whether weight decay applies to it. */
struct fg_optim_segment {
    size_t offset, n;
    int decay;
};

struct fg_adamw_params {
    float beta1, beta2, eps, weight_decay;
};

FG_API struct fg_adamw_params fg_adamw_params_default(void); /* 0.9, 0.95, 1e-8, 0.1 */

/* One AdamW step (t = 1, 2, ... counts completed steps including this one) on the segments.
 * grad_scale multiplies every gradient first (1 = none). Elements outside the segments are
 * untouched. Parallel over elements; no allocation. */
FG_API void fg_adamw_step(float *params, const float *grads, float *m, float *v,
                          const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                          float grad_scale, const struct fg_adamw_params *hp, int n_threads);
/* The same step, and every gradient inside the segments is set to 0 in the same sweep, ready
 * for the next accumulation: saves the separate zeroing pass over the gradient buffer (the
 * optimizer is memory-bound, so that pass costs as much as a third of the update). */
FG_API void fg_adamw_step_zero_grad(float *params, float *grads, float *m, float *v,
                                    const struct fg_optim_segment *seg, size_t n_seg, int64_t t,
                                    float lr, float grad_scale, const struct fg_adamw_params *hp,
                                    int n_threads);
FG_API void fg_adamw_step_ref(float *params, const float *grads, float *m, float *v,
                              const struct fg_optim_segment *seg, size_t n_seg, int64_t t, float lr,
                              float grad_scale, const struct fg_adamw_params *hp);

/* Squared L2 norm of x (n elements) in double, chunked as above. `partial` is caller scratch
 * of fg_optim_n_chunks(n) doubles. */
FG_API size_t fg_optim_n_chunks(size_t n);
FG_API double fg_sumsq(const float *x, size_t n, double *partial, int n_threads);
/* The same over bf16 values (exactly as over their fp32 decodings, chunk by chunk). */
FG_API double fg_sumsq_bf16(const uint16_t *x, size_t n, double *partial, int n_threads);

/* Whether every element is finite (chunked, parallel). */
FG_API int fg_all_finite(const float *x, size_t n, int n_threads);

/* Learning rate at 0-based step `step`: linear warmup from lr_max/warmup to lr_max over
 * `warmup` steps, then cosine decay to lr_min at step `total` (constant lr_min after). */
FG_API float fg_lr_cosine(int64_t step, int64_t warmup, int64_t total, float lr_max, float lr_min);

#ifdef __cplusplus
}
#endif
#endif
