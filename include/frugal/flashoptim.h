/* frugal flash optimizers: SGD, AdamW/Adam and Lion that store less per parameter
 * (FlashOptim, Gonzalez Ortiz et al. 2026; docs/flashoptim.md has the formats and decisions).
 *
 * Storage, chosen per tensor, each part independently:
 *   weights   fp32, or bf16 (the tensor forward and backward use) plus a correction rho that
 *             places the fp32 master weight inside half a bf16 ULP: int8 ("24-bit master",
 *             grid of ULP/254) or int16 ("32-bit", ULP/65534). Split: bf16 by round to nearest
 *             (even; exact ties toward zero, so that split(join(x)) = x everywhere), rho = round
 *             half away from zero((theta - bf16) / (ULP/2) * N), N = 127 or 32767, computed
 *             exactly; join: bf16 + (rho * (1/N)) * ULP/2.
 *   states    fp32, or quantized in groups of 32 elements with one 2-byte scale per group
 *             (bf16 rounded up by default; fp16 as the reference): momentum / first moment as
 *             int8 through the compander y = 2z / (1 + |z|) of z = x * (1/scale), code
 *             floor(127 y + 0.5), decoded as scale * q / (254 - |q|); second moment as uint8
 *             codes floor(sqrt(v) * (255/scale) + 0.5), scale = the group's max sqrt(v),
 *             decoded as (q * (scale/255))^2.
 *   gradients fp32 or bf16, read only (the step never writes them).
 *
 * The update is the fp32 maths of the reference optimizer, per element, in this order
 * (docs/flashoptim.md, section "step"): prologue join / dequantize, the update, epilogue split /
 * requantize from the new values; one pass over each tensor, in blocks of whole groups, so the
 * result does not depend on the thread count. With fp32 weights and fp32 states the step equals
 * the `_ref` functions below bit for bit (tested).
 *
 * Non-finite values: the step assumes finite gradients (the trainer checks the gradient norm
 * before it steps; with gradient release, each slice's sum of squares before that slice's
 * step). A NaN reaching a quantizer gives code 0 and a NaN master weight gives
 * rho 0; nothing is undefined behaviour.
 */
#ifndef FRUGAL_FLASHOPTIM_H
#define FRUGAL_FLASHOPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FG_FLASH_GROUP 32

enum fg_flash_kind {
    FG_FLASH_SGD = 0,  /* SGD with momentum (mu > 0 keeps a momentum state), Nesterov option */
    FG_FLASH_ADAM = 1, /* Adam, or AdamW with decoupled weight decay */
    FG_FLASH_LION = 2  /* Lion (always decoupled) */
};

/* How a group's scale is stored (2 bytes either way). */
enum fg_flash_scale {
    FG_FLASH_SCALE_BF16 = 0, /* default: bf16 rounded up, codes computed against the stored
                                scale; fp32's exponent range, so tiny states keep their codes */
    FG_FLASH_SCALE_FP16 = 1  /* the reference's fp16 (round to nearest even; codes against the
                                unrounded max): groups under ~6e-5 lose precision, under ~3e-8
                                decode as 0 */
};

struct fg_flash_hparams {
    enum fg_flash_kind kind;
    float beta1, beta2, eps;   /* Adam: b1, b2, eps; Lion: b1 (interpolation), b2 (momentum) */
    float momentum, dampening; /* SGD */
    int nesterov;              /* SGD */
    float weight_decay;
    int decoupled; /* 1: theta *= 1 - lr * wd (AdamW, SGDW; Lion always); 0: g += wd * theta */
    float lr0;     /* > 0: decoupled decay uses lr * wd / lr0 ("decouple_lr"); 0: lr * wd */
};

/* Defaults of the reference implementation: AdamW lr 1e-3 (0.9, 0.999), eps 1e-8, wd 1e-2,
 * decoupled; SGD momentum 0.9 (the reference's default 0 has no state), dampening 0, wd 0;
 * Lion (0.9, 0.99), wd 0. */
FG_API struct fg_flash_hparams fg_flash_hparams_default(enum fg_flash_kind kind);

/* Number of optimizer states per element: SGD 1 (0 if momentum == 0), Adam 2, Lion 1. */
FG_API int fg_flash_n_states(const struct fg_flash_hparams *hp);

/* One parameter tensor's storage. Exactly one of w32 / w16 is set; rho8 or rho16 goes with
 * w16 (neither: plain bf16 weights, no master correction). States: for each of m (momentum or
 * first moment) and v (Adam's second moment), either the fp32 array (m32, v32) or the codes and
 * scales (mq + ms, vq + vs); ms and vs hold fg_flash_n_groups(n) scales. */
struct fg_flash_tensor {
    size_t n;
    float *w32;
    uint16_t *w16;
    int8_t *rho8;
    int16_t *rho16;
    float *m32, *v32;
    int8_t *mq;
    uint8_t *vq;
    uint16_t *ms, *vs;
    enum fg_flash_scale scale_fmt;
    int v_zero_half; /* 1: second-moment code 0 decodes as half a step, not 0 (off: reference) */
};

FG_API size_t fg_flash_n_groups(size_t n);

/* The fused step on one tensor. t (1, 2, ...) counts this tensor's steps including this one
 * (Adam's bias correction). The gradient is g32 or g16 (bf16), multiplied by grad_scale first
 * (clipping; 1 = none). Checks the tensor (a missing array, w32 with rho, n = 0) and returns
 * FG_ERR_INVALID_ARG on a bad one, FG_OK otherwise. Parallel over blocks of groups; no
 * allocation. */
FG_API fg_status fg_flash_step(const struct fg_flash_tensor *x, const float *g32,
                               const uint16_t *g16, float grad_scale, int64_t t, float lr,
                               const struct fg_flash_hparams *hp, int n_threads);

/* Plain fp32 reference optimizers with the same operation order (weights w, states m and v
 * in fp32; v unused by SGD and Lion). */
FG_API void fg_flash_step_ref(float *w, float *m, float *v, const float *g, size_t n,
                              float grad_scale, int64_t t, float lr,
                              const struct fg_flash_hparams *hp);

/* ---- the parts, exposed for tests and checkpoints ------------------------------------------ */

/* Master weight split / join; bits = 8 (N = 127) or 16 (N = 32767). */
FG_API void fg_flash_split(float theta, int bits, uint16_t *w16, int32_t *rho);
FG_API float fg_flash_join(uint16_t w16, int32_t rho, int bits);
/* Arrays of n; rho is int8_t * (bits 8) or int16_t * (bits 16). */
FG_API void fg_flash_split_n(const float *theta, size_t n, int bits, uint16_t *w16, void *rho);
FG_API void fg_flash_join_n(const uint16_t *w16, const void *rho, size_t n, int bits, float *theta);

/* Group quantizers over n elements (the last group may be partial). */
FG_API void fg_flash_quant_m(const float *x, size_t n, enum fg_flash_scale fmt, int8_t *q,
                             uint16_t *scales);
FG_API void fg_flash_dequant_m(const int8_t *q, const uint16_t *scales, size_t n,
                               enum fg_flash_scale fmt, float *x);
FG_API void fg_flash_quant_v(const float *v, size_t n, enum fg_flash_scale fmt, uint8_t *q,
                             uint16_t *scales);
FG_API void fg_flash_dequant_v(const uint8_t *q, const uint16_t *scales, size_t n,
                               enum fg_flash_scale fmt, int zero_half, float *v);

#ifdef __cplusplus
}
#endif
#endif
