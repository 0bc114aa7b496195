/* The tiled attention kernels compiled with AVX-512 code generation (the body and its notes:
 * attention_tiled_impl.h, attention_tiled.c). */
#include "attention_tiled_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    define TILED_NAME(x) fg_attention_tiled_##x##_avx512
#    include "attention_tiled_impl.h"
#else /* not built for AVX-512 (another architecture): never selected */
void fg_attention_tiled_forward_avx512(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                       size_t C, size_t NH, int n_threads)
{
    (void)out, (void)lse, (void)qkv, (void)B, (void)T, (void)C, (void)NH, (void)n_threads;
}

void fg_attention_tiled_backward_avx512(float *dqkv, float *scratch, const float *dout,
                                        const float *qkv, const float *out, const float *lse,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads)
{
    (void)dqkv, (void)scratch, (void)dout, (void)qkv, (void)out, (void)lse, (void)B, (void)T;
    (void)C, (void)NH, (void)n_threads;
}
#endif
