/* The bf16 product's micro-kernel on AVX512_BF16: a 12 x 32 tile of C in 24 registers, one
 * VDPBF16PS per row and half-tile per pair of k, the op(A) word broadcast from memory. The
 * instruction is the definition fg_gemm_bf16_ref spells out (kernels.h), so this kernel and the
 * portable one in gemm_bf16.c return the same bits. */
#include "gemm_bf16_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>

#    define MR FG_GEMM_MR
#    define NR FG_GEMM_NR

__attribute__((target("avx512bf16"))) void
fg_gemm_bf16_kern_avx512bf16(size_t kp, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                             int rows, int cols, int load)
{
    __mmask16 m0 = cols >= 16 ? 0xFFFF : (__mmask16)((1u << cols) - 1);
    __mmask16 m1 = cols >= 32 ? 0xFFFF : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
    __m512 acc0[MR], acc1[MR];
#    pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (load && r < rows) {
            acc0[r] = _mm512_maskz_loadu_ps(m0, c + (size_t)r * ldc);
            acc1[r] = _mm512_maskz_loadu_ps(m1, c + (size_t)r * ldc + 16);
        } else {
            acc0[r] = _mm512_setzero_ps();
            acc1[r] = _mm512_setzero_ps();
        }
    }
    for (size_t p = 0; p < kp; p++) {
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR + 16);
        const uint32_t *ap = a + p * MR;
#    pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r]);
            acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
            acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
        }
    }
#    pragma GCC unroll 12
    for (int r = 0; r < MR; r++) {
        if (r < rows) {
            _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc0[r]);
            _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc1[r]);
        }
    }
}

#else /* not built for AVX-512 (another architecture): never selected */
void fg_gemm_bf16_kern_avx512bf16(size_t kp, const uint32_t *a, const uint32_t *b, float *c,
                                  size_t ldc, int rows, int cols, int load)
{
    (void)kp, (void)a, (void)b, (void)c, (void)ldc, (void)rows, (void)cols, (void)load;
}
#endif
