/* Tiled causal self-attention: forward and backward that never store the T x T matrix.
 *
 * The same function as fg_attention_forward_ref / fg_attention_backward_ref (kernels.h), summed
 * in another order (the online softmax of Milakov & Gimelshein 2018, as FlashAttention uses it,
 * Dao et al. 2022 / Dao 2023). Forward, per (batch, head, block of TQ queries): running row
 * maximum m, running sum l and an unnormalized output acc over the key blocks at or below the
 * diagonal,
 *     S = scale Q K_j^T;  m' = max(m, rowmax S);  P = exp(S - m');
 *     l = l exp(m - m') + rowsum P;  acc = acc exp(m - m') + P V_j;  m = m'
 * then out = acc / l and the row's log-sum-exp lse = m + log l, saved for backward (B NH T
 * floats instead of B NH T T). Backward recomputes P = exp(S - lse) block by block, with
 * D = rowsum(dO * O) (= rowsum(dP * P)):
 *     dV_j = sum_i P_ij dO_i;  dS = P * (dO V^T - D);  dK_j = scale sum_i dS_ij Q_i;
 *     dQ_i = scale sum_j dS_ij K_j
 * in two passes so that every output row has one owner: over key blocks (dK, dV), then over
 * query blocks (dQ). That recomputes S and dP once more than a single pass with atomic adds
 * would; in exchange each element is summed in a fixed order, the same for any thread count.
 * Blocks above the diagonal are skipped, and within the diagonal block the masked entries are
 * exact zeros.
 *
 * The products are written as rank-1 updates over contiguous rows (a block of K or V
 * transposed into a TK-wide buffer, so S's rows come out of axpy loops over keys), which
 * compilers vectorize without reassociating sums; exp is fg_fast_expf. The body is in
 * attention_tiled_impl.h, built here for any CPU; with AVX-512 and a head size that is a
 * multiple of 16, attention_tiled_avx512.c runs the same blocks with intrinsics (register
 * tiles, FMA). */
#include "attention_tiled_int.h"
#include "frugal/core.h"

#define TILED_NAME(x) fg_attention_tiled_##x##_generic
#include "attention_tiled_impl.h"

int fg_attention_tiled_supported(size_t C, size_t NH)
{
    return NH > 0 && C % NH == 0 && C / NH >= 1 && C / NH <= FG_ATTENTION_TILED_MAX_HS;
}

void fg_attention_tiled_forward(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                size_t C, size_t NH, int n_threads)
{
    if (fg_cpu_isa() >= FG_ISA_AVX512 && (C / NH) % 16 == 0)
        fg_attention_tiled_forward_avx512(out, lse, qkv, B, T, C, NH, n_threads);
    else
        fg_attention_tiled_forward_generic(out, lse, qkv, B, T, C, NH, n_threads);
}

void fg_attention_tiled_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                 const float *out, const float *lse, size_t B, size_t T, size_t C,
                                 size_t NH, int n_threads)
{
    if (fg_cpu_isa() >= FG_ISA_AVX512 && (C / NH) % 16 == 0)
        fg_attention_tiled_backward_avx512(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH,
                                           n_threads);
    else
        fg_attention_tiled_backward_generic(dqkv, scratch, dout, qkv, out, lse, B, T, C, NH,
                                            n_threads);
}
