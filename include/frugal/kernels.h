/* frugal kernels: the math of one GPT-2 training step.
 *
 * Each kernel has a scalar fp32 `_ref` version, written for reading and free of SIMD and
 * threads: the _ref version is the specification. The unsuffixed version is the fast path
 * (OpenBLAS sgemm for matrix products, OpenMP over disjoint outputs elsewhere) and is tested
 * against _ref with the tolerances named in tests/test_kernels.c.
 *
 * Conventions (docs/numerics.md): N = rows (B*T), C = channels, OC/IC = output/input features,
 * NH = heads, HS = C/NH, V = real vocabulary, Vp = padded vocabulary. Every array is row-major
 * fp32. Weight matrices are (OC, IC) as in torch.nn.Linear: out = inp @ w^T + bias.
 * Gradient semantics: parameter gradients (dw, dbias, ...) ACCUMULATE (+=) so micro-batches
 * add up; activation gradients are written (=) unless the comment says +=.
 * Determinism: for a given input every fast kernel of frugal's own returns the same bits for
 * any n_threads (reductions run in a fixed order that does not depend on the thread count);
 * the matmul kernels inherit OpenBLAS's behaviour, see fg_kernels_blas_thread_invariant.
 * None of these functions allocates; all are thread-safe on disjoint outputs.
 */
#ifndef FRUGAL_KERNELS_H
#define FRUGAL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set the thread count of the BLAS library (OpenBLAS) once, outside any parallel region.
 * Our own OpenMP loops take n_threads per call. */
FG_API void fg_kernels_set_blas_threads(int n_threads);
/* A short description of the BLAS in use, e.g. "OpenBLAS 0.3.21 (openmp)". */
FG_API const char *fg_kernels_blas_info(void);
/* Whether the BLAS returns the same bits for 1 and 2 threads, probed now on a small sgemm
 * whose partition differs between the two (about 1 ms; allocates and frees a few KiB;
 * restores the thread count given). frugal's own kernels are thread-count invariant by
 * construction; OpenBLAS's AVX-512 (SkylakeX) kernels are too, its AVX2 (Haswell) kernels are
 * not. So `1 thread == N threads` holds bit for bit only where this returns 1; a fixed thread
 * count always reproduces. Returns -1 if the probe could not allocate. Not thread-safe with
 * concurrent BLAS use (it changes the BLAS thread count). */
FG_API int fg_kernels_blas_thread_invariant(int restore_threads);

/* ---- matmul: out (N,OC) = inp (N,IC) @ w^T (IC,OC) + bias (OC) [bias may be NULL] ---------- */
FG_API void fg_matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias,
                                  size_t N, size_t IC, size_t OC);
FG_API void fg_matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                              size_t N, size_t IC, size_t OC, int n_threads);
/* dinp (N,IC) = dout @ w (written; may be NULL to skip); dw (OC,IC) += dout^T @ inp;
 * dbias (OC) += column sums of dout (may be NULL). */
FG_API void fg_matmul_backward_ref(float *dinp, float *dw, float *dbias, const float *dout,
                                   const float *inp, const float *w, size_t N, size_t IC,
                                   size_t OC);
FG_API void fg_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout,
                               const float *inp, const float *w, size_t N, size_t IC, size_t OC,
                               int n_threads);

/* ---- general product, row-major as BLAS sgemm: C (M,N) = alpha op(A) op(B) + beta C --------
 * op(X) is X, or X^T when ta / tb is nonzero; op(A) is (M,K), op(B) is (K,N); lda, ldb, ldc are
 * the row strides of A, B and C as stored. beta = 0 ignores C's old contents (NaN included).
 * For products over blocks of a larger matrix (the chunked LM head of a bf16 model). */
FG_API void fg_sgemm_ref(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                         size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
FG_API void fg_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                     size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);

/* ---- bf16 product: C (M,N) [+]= op(A) op(B) on bf16 operands, fp32 accumulation -------------
 * The product of AVX-512 BF16's VDPBF16PS: each operand element is a bf16 value (fp32 operands
 * are rounded to nearest even first, as fg_fp32_to_bf16), k runs in pairs (2p, 2p+1) in
 * ascending p, and each pair updates the fp32 accumulator as the instruction does:
 *     acc = ftz(fma(a[2p+1], b[2p+1], acc));  acc = ftz(fma(a[2p], b[2p], acc))
 * with bf16 subnormal inputs and the incoming accumulator read as zero (DAZ), each step one
 * rounding to nearest even of the exact acc + a b, and results below FLT_MIN flushed to a zero
 * of their sign (FTZ); an odd K adds a zero element. (Measured on AMD Zen 4: a tiny negative
 * product turns +0 into -0, so the product is not flushed before the add.) C starts at +0
 * (accumulate = 0) or at its old value (accumulate = 1). fg_gemm_bf16_ref is that definition
 * as a loop; fg_gemm_bf16 returns the same bits on the AVX512_BF16 path (the instruction
 * itself) and the portable one (an emulation of it), for any thread count and blocking. On a CPU
 * with AMX-BF16 (FG_ISA_AMX) the tile unit runs the product instead: its rounding inside each
 * 32-product instruction is its own, so its bits are not the definition's, but they are within
 * twice the definition's error bound of it and the same for any thread count.
 * Operands are fp32 or bf16 (raw bits), stored row-major with a row stride `ld`; op(X) is X or
 * X^T (trans != 0): op(A) is (M,K), op(B) is (K,N). */
struct fg_gemm_op {
    const void *data; /* float, or uint16_t bf16 bits when bf16 != 0 */
    int bf16;
    int trans;
    size_t ld; /* row stride of the matrix as stored, in elements */
};

/* Bytes of workspace fg_gemm_bf16 needs for n_threads threads (packed operand panels; the
 * same for every shape). */
FG_API size_t fg_gemm_bf16_work_size(int n_threads);
FG_API void fg_gemm_bf16_ref(size_t M, size_t N, size_t K, struct fg_gemm_op A, struct fg_gemm_op B,
                             float *C, size_t ldc, int accumulate);
/* work: fg_gemm_bf16_work_size(n_threads) bytes, 64-byte aligned. FG_ERR_INVALID_ARG for a
 * NULL pointer, a stride below the row length, or unaligned work. Does not allocate. */
FG_API fg_status fg_gemm_bf16(size_t M, size_t N, size_t K, struct fg_gemm_op A,
                              struct fg_gemm_op B, float *C, size_t ldc, int accumulate, void *work,
                              int n_threads);
/* The code path fg_gemm_bf16 takes on this CPU: "amx", "avx512bf16" or "generic". */
FG_API const char *fg_gemm_bf16_path(void);
/* The sustained peak FLOP/s of the unit fg_gemm_bf16 runs on, for the MFU of bf16 products: every
 * thread runs independent TDPBF16PS (amx) or VDPBF16PS (avx512bf16) with no memory traffic, best
 * of three short runs (under a second in all). *unit (may be NULL) names the unit. 0 on the
 * generic path, which runs on fp32 FMAs (fg_cpu_peak_flops is its peak). */
FG_API double fg_gemm_bf16_peak_flops(int n_threads, const char **unit);

/* ---- layernorm over the last axis, eps = 1e-5 -----------------------------------------------
 * out (N,C), mean (N), rstd (N) saved for backward. */
#define FG_LAYERNORM_EPS 1e-5f
FG_API void fg_layernorm_forward_ref(float *out, float *mean, float *rstd, const float *inp,
                                     const float *w, const float *b, size_t N, size_t C);
FG_API void fg_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                                 const float *w, const float *b, size_t N, size_t C, int n_threads);
/* Residual add fused with the layernorm that follows it, one pass over each row:
 * res = a + b (res may alias a or b), then out, mean, rstd = layernorm(res) as above. The same
 * bits as fg_add followed by fg_layernorm_forward (each row's sum is computed while the row is
 * in cache instead of in a second pass over memory). */
FG_API void fg_residual_layernorm_forward_ref(float *res, float *out, float *mean, float *rstd,
                                              const float *a, const float *b, const float *w,
                                              const float *bias, size_t N, size_t C);
FG_API void fg_residual_layernorm_forward(float *res, float *out, float *mean, float *rstd,
                                          const float *a, const float *b, const float *w,
                                          const float *bias, size_t N, size_t C, int n_threads);
/* dinp (N,C) += ...; dw, db (C) += ... */
FG_API void fg_layernorm_backward_ref(float *dinp, float *dw, float *db, const float *dout,
                                      const float *inp, const float *w, const float *mean,
                                      const float *rstd, size_t N, size_t C);
FG_API void fg_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                                  const float *inp, const float *w, const float *mean,
                                  const float *rstd, size_t N, size_t C, int n_threads);

/* ---- GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) -------------- */
FG_API void fg_gelu_forward_ref(float *out, const float *inp, size_t n);
FG_API void fg_gelu_forward(float *out, const float *inp, size_t n, int n_threads);
/* dinp = gelu'(inp) * dout (written; dinp may alias dout). */
FG_API void fg_gelu_backward_ref(float *dinp, const float *inp, const float *dout, size_t n);
FG_API void fg_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n,
                             int n_threads);

/* ---- causal self-attention ------------------------------------------------------------------
 * qkv (B,T,3C): per position, Q then K then V, head h in channels [h*HS, (h+1)*HS) of each.
 * out (B,T,C); att (B,NH,T,T): softmax probabilities (row t has zeros after column t), saved
 * for backward. Scale 1/sqrt(HS). */
FG_API void fg_attention_forward_ref(float *out, float *att, const float *qkv, size_t B, size_t T,
                                     size_t C, size_t NH);
FG_API void fg_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T,
                                 size_t C, size_t NH, int n_threads);
/* dqkv (B,T,3C) is written. scratch holds B*NH*T*T floats (fast path only). */
FG_API void fg_attention_backward_ref(float *dqkv, const float *dout, const float *qkv,
                                      const float *att, size_t B, size_t T, size_t C, size_t NH);
FG_API void fg_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                                  const float *att, size_t B, size_t T, size_t C, size_t NH,
                                  int n_threads);

/* AVX-512 causal attention (callable only when fg_cpu_isa() >= FG_ISA_AVX512 and
 * fg_attention_avx512_supported(C, NH): HS a multiple of 16, at most 128). Only the causal
 * triangle is computed. scratch (forward) and scratch2 (backward) hold
 * fg_attention_avx512_scratch_floats(B, T, C) floats (B*C*T rounded up to 32 positions);
 * the backward's scratch holds B*NH*T*T floats. */
FG_API int fg_attention_avx512_supported(size_t C, size_t NH);
FG_API size_t fg_attention_avx512_scratch_floats(size_t B, size_t T, size_t C);
FG_API void fg_attention_forward_avx512(float *out, float *att, float *scratch, const float *qkv,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads);
FG_API void fg_attention_backward_avx512(float *dqkv, float *scratch, float *scratch2,
                                         const float *dout, const float *qkv, const float *att,
                                         size_t B, size_t T, size_t C, size_t NH, int n_threads);

/* ---- tiled causal self-attention: no T x T matrix ------------------------------------------
 * The function of fg_attention_forward / fg_attention_backward, computed block by block with an
 * online softmax (attention_tiled.c). Forward writes out and lse (B,NH,T), each row's
 * log-sum-exp of its scaled scores, instead of att; backward reads the forward's out and lse,
 * writes dqkv, and uses scratch of B*NH*T floats. Needs fg_attention_tiled_supported(C, NH):
 * a head size of at most FG_ATTENTION_TILED_MAX_HS. The same bits for any n_threads. */
#define FG_ATTENTION_TILED_MAX_HS 128
FG_API int fg_attention_tiled_supported(size_t C, size_t NH);
FG_API void fg_attention_tiled_forward(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                       size_t C, size_t NH, int n_threads);
FG_API void fg_attention_tiled_backward(float *dqkv, float *scratch, const float *dout,
                                        const float *qkv, const float *out, const float *lse,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads);

/* ---- fused softmax + cross-entropy over the first V of Vp logits ----------------------------
 * losses (N) = logsumexp(logits[n, :V]) - logits[n, targets[n]].
 * If `dscale` != 0, logits are overwritten with d(dscale * sum losses)/d logits, i.e.
 * dscale * (softmax - onehot), and the padded columns [V, Vp) are set to 0.
 * Targets must lie in [0, V) (checked by the data layer, asserted here). */
FG_API void fg_crossentropy_ref(float *losses, float *logits, const int32_t *targets, size_t N,
                                size_t V, size_t Vp, float dscale);
FG_API void fg_crossentropy(float *losses, float *logits, const int32_t *targets, size_t N,
                            size_t V, size_t Vp, float dscale, int n_threads);

/* The same forward split in two for training: fg_crossentropy_lse writes the losses and the
 * per-row log-sum-exp lse (N) without touching the logits; fg_crossentropy_backward then turns
 * the logits into dscale * (exp(z - lse) - onehot) in one pass, with no second max or sum
 * (exp(z - lse) <= 1 always, so the gradient stays bounded whatever the logits). Columns
 * [V, Vp) are set to 0. */
FG_API void fg_crossentropy_lse_ref(float *losses, float *lse, const float *logits,
                                    const int32_t *targets, size_t N, size_t V, size_t Vp);
FG_API void fg_crossentropy_lse(float *losses, float *lse, const float *logits,
                                const int32_t *targets, size_t N, size_t V, size_t Vp,
                                int n_threads);
FG_API void fg_crossentropy_backward_ref(float *logits, const float *lse, const int32_t *targets,
                                         size_t N, size_t V, size_t Vp, float dscale);
FG_API void fg_crossentropy_backward(float *logits, const float *lse, const int32_t *targets,
                                     size_t N, size_t V, size_t Vp, float dscale, int n_threads);

/* ---- token + position embedding -------------------------------------------------------------
 * out (B,T,C) = wte[tokens[b,t]] + wpe[t]. Backward accumulates into dwte (Vp,C), dwpe (T,C). */
FG_API void fg_encoder_forward_ref(float *out, const int32_t *tokens, const float *wte,
                                   const float *wpe, size_t B, size_t T, size_t C);
FG_API void fg_encoder_forward(float *out, const int32_t *tokens, const float *wte,
                               const float *wpe, size_t B, size_t T, size_t C, int n_threads);
FG_API void fg_encoder_backward_ref(float *dwte, float *dwpe, const float *dout,
                                    const int32_t *tokens, size_t B, size_t T, size_t C);
FG_API void fg_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                                size_t B, size_t T, size_t C, int n_threads);

/* ---- elementwise ------------------------------------------------------------------------- */
/* out = a + b (out may alias a or b). */
FG_API void fg_add(float *out, const float *a, const float *b, size_t n, int n_threads);
/* y += x */
FG_API void fg_accumulate(float *y, const float *x, size_t n, int n_threads);

#ifdef __cplusplus
}
#endif
#endif
