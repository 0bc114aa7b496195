/* Internal to src/optim: the flash step's per-step constants and the AVX-512 group kernel. */
#ifndef FRUGAL_FLASH_INT_H
#define FRUGAL_FLASH_INT_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/flashoptim.h"

/* Per-step constants, computed once (the same in the fused and the `_ref` path). */
struct coef {
    enum fg_flash_kind kind;
    float lr, gscale, wd, keep; /* keep = 1 - wd_eff (decoupled decay) */
    int coupled, decoupled;
    float b1, b2, one_b1, one_b2, eps; /* Adam, Lion */
    float bc1, bc2;                    /* Adam: 1 / (1 - b1^t), 1 / sqrt(1 - b2^t) */
    float mu, one_damp;                /* SGD */
    int nesterov, has_m;
};

/* n_groups whole groups of 32 from element i0 (a multiple of 32): the same bits as the scalar
 * step_block. Callable only when fg_cpu_isa() >= FG_ISA_AVX512. */
void fg_flash_groups_avx512(const struct fg_flash_tensor *x, const float *g32, const uint16_t *g16,
                            size_t i0, size_t n_groups, const struct coef *c);

#endif
