/* Token + position embeddings and elementwise helpers.
 * The embedding backward is a scatter-add; the fast path splits channels (not rows) across
 * threads so that no two threads touch the same gradient element and every element sums its
 * contributions in row order: deterministic for any thread count, no atomics. */
#include "frugal/kernels.h"
#include "kernels_int.h"

void fg_encoder_forward_ref(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                            size_t B, size_t T, size_t C)
{
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            const float *e = wte + (size_t)tokens[b * T + t] * C, *p = wpe + t * C;
            float *o = out + (b * T + t) * C;
            for (size_t i = 0; i < C; i++)
                o[i] = e[i] + p[i];
        }
}

void fg_encoder_backward_ref(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                             size_t B, size_t T, size_t C)
{
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < T; t++) {
            const float *d = dout + (b * T + t) * C;
            float *de = dwte + (size_t)tokens[b * T + t] * C, *dp = dwpe + t * C;
            for (size_t i = 0; i < C; i++) {
                de[i] += d[i];
                dp[i] += d[i];
            }
        }
}

void fg_encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                        size_t B, size_t T, size_t C, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_rows = (long)(B * T);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(out, tokens, wte, wpe, n_rows, T, C)
    for (long r = 0; r < n_rows; r++) {
        const float *e = wte + (size_t)tokens[r] * C, *p = wpe + ((size_t)r % T) * C;
        float *o = out + (size_t)r * C;
        for (size_t i = 0; i < C; i++)
            o[i] = e[i] + p[i];
    }
}

void fg_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens,
                         size_t B, size_t T, size_t C, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_blocks = (long)((C + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(dwte, dwpe, dout, tokens, n_blocks, B, T, C)
    for (long blk = 0; blk < n_blocks; blk++) {
        size_t c0 = (size_t)blk * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
        for (size_t r = 0; r < B * T; r++) {
            const float *d = dout + r * C;
            float *de = dwte + (size_t)tokens[r] * C, *dp = dwpe + (r % T) * C;
            for (size_t i = c0; i < c1; i++) {
                de[i] += d[i];
                dp[i] += d[i];
            }
        }
    }
}

FG_CLONES static void add_block(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void fg_add(float *out, const float *a, const float *b, size_t n, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_blocks = (long)((n + 4095) / 4096);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(out, a, b, n, n_blocks)
    for (long blk = 0; blk < n_blocks; blk++) {
        size_t i0 = (size_t)blk * 4096, len = n - i0 < 4096 ? n - i0 : 4096;
        add_block(out + i0, a + i0, b + i0, len);
    }
}

void fg_accumulate(float *y, const float *x, size_t n, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    fg_add(y, y, x, n, n_threads);
}
