/* Private to the tiled attention kernels: the portable and AVX-512 builds of one body. */
#ifndef FRUGAL_ATTENTION_TILED_INT_H
#define FRUGAL_ATTENTION_TILED_INT_H

#include <stddef.h>

void fg_attention_tiled_forward_generic(float *out, float *lse, const float *qkv, size_t B,
                                        size_t T, size_t C, size_t NH, int n_threads);
void fg_attention_tiled_backward_generic(float *dqkv, float *scratch, const float *dout,
                                         const float *qkv, const float *out, const float *lse,
                                         size_t B, size_t T, size_t C, size_t NH, int n_threads);
/* call only when fg_cpu_isa() >= FG_ISA_AVX512 */
void fg_attention_tiled_forward_avx512(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                       size_t C, size_t NH, int n_threads);
void fg_attention_tiled_backward_avx512(float *dqkv, float *scratch, const float *dout,
                                        const float *qkv, const float *out, const float *lse,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads);

#endif
