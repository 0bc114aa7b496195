/* Linear layers: out = inp @ w^T + bias and its backward.
 * _ref is the triple loop; the fast path is OpenBLAS sgemm (row-major, w used transposed in
 * place) with the bias and bias-gradient loops parallel over output channels, so each thread
 * owns disjoint columns and sums rows in ascending order (same bits for any thread count). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/kernels.h"

void fg_matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias,
                           size_t N, size_t IC, size_t OC)
{
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * IC;
        for (size_t o = 0; o < OC; o++) {
            const float *wr = w + o * IC;
            float acc = bias ? bias[o] : 0.0f;
            for (size_t i = 0; i < IC; i++)
                acc += x[i] * wr[i];
            out[n * OC + o] = acc;
        }
    }
}

void fg_matmul_backward_ref(float *dinp, float *dw, float *dbias, const float *dout,
                            const float *inp, const float *w, size_t N, size_t IC, size_t OC)
{
    if (dinp) {
        for (size_t n = 0; n < N; n++) {
            for (size_t i = 0; i < IC; i++) {
                float acc = 0.0f;
                for (size_t o = 0; o < OC; o++)
                    acc += dout[n * OC + o] * w[o * IC + i];
                dinp[n * IC + i] = acc;
            }
        }
    }
    for (size_t o = 0; o < OC; o++) {
        for (size_t i = 0; i < IC; i++) {
            float acc = 0.0f;
            for (size_t n = 0; n < N; n++)
                acc += dout[n * OC + o] * inp[n * IC + i];
            dw[o * IC + i] += acc;
        }
        if (dbias) {
            float acc = 0.0f;
            for (size_t n = 0; n < N; n++)
                acc += dout[n * OC + o];
            dbias[o] += acc;
        }
    }
}

void fg_matmul_forward(float *out, const float *inp, const float *w, const float *bias, size_t N,
                       size_t IC, size_t OC, int n_threads)
{
    (void)n_threads;
    if (bias) {
        /* Seed every row with the bias and let sgemm accumulate onto it (beta = 1). */
        long n_rows = (long)N;
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(out, bias, n_rows, OC)
        for (long n = 0; n < n_rows; n++)
            memcpy(out + (size_t)n * OC, bias, OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)N, (blasint)OC, (blasint)IC, 1.0f,
                inp, (blasint)IC, w, (blasint)IC, bias ? 1.0f : 0.0f, out, (blasint)OC);
}

void fg_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, size_t N, size_t IC, size_t OC, int n_threads)
{
    (void)n_threads;
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)N, (blasint)IC, (blasint)OC,
                    1.0f, dout, (blasint)OC, w, (blasint)IC, 0.0f, dinp, (blasint)IC);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)OC, (blasint)IC, (blasint)N, 1.0f,
                dout, (blasint)OC, inp, (blasint)IC, 1.0f, dw, (blasint)IC);
    if (dbias) {
        /* Column blocks of 64 channels: each thread owns whole blocks. */
        long n_blocks = (long)((OC + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(n_threads) default(none) \
    shared(dbias, dout, n_blocks, N, OC)
        for (long blk = 0; blk < n_blocks; blk++) {
            size_t o0 = (size_t)blk * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
            float acc[64] = { 0 };
            for (size_t n = 0; n < N; n++) {
                const float *row = dout + n * OC;
                for (size_t o = o0; o < o1; o++)
                    acc[o - o0] += row[o];
            }
            for (size_t o = o0; o < o1; o++)
                dbias[o] += acc[o - o0];
        }
    }
}

void fg_kernels_set_blas_threads(int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    openblas_set_num_threads(n_threads < 1 ? 1 : n_threads);
}

const char *fg_kernels_blas_info(void)
{
    return openblas_get_config();
}

int fg_kernels_blas_thread_invariant(int restore_threads)
{
    /* 128 x 96 x 32 is split differently by 1 and 2 threads, and differs on OpenBLAS's
     * Haswell kernels (measured); values are exact small fractions so only rounding differs. */
    const int M = 128, N = 96, K = 32;
    float *a = malloc((size_t)(M * K + K * N + 2 * M * N) * sizeof(float));
    if (!a)
        return -1;
    float *b = a + M * K, *c1 = b + K * N, *c2 = c1 + M * N;
    uint32_t x = 12345;
    for (int i = 0; i < M * K + K * N; i++) {
        x = x * 1664525u + 1013904223u;
        a[i] = (float)((int)(x >> 20) - 2048) / 1024.0f;
    }
    openblas_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c1, N);
    openblas_set_num_threads(2);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c2, N);
    openblas_set_num_threads(restore_threads < 1 ? 1 : restore_threads);
    int same = memcmp(c1, c2, (size_t)(M * N) * sizeof(float)) == 0;
    free(a);
    return same;
}

void fg_sgemm_ref(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            float acc = 0.0f;
            for (size_t k = 0; k < K; k++)
                acc +=
                    (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
            float *c = C + i * ldc + j;
            *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
        }
}

void fg_sgemm(int ta, int tb, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
              const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
                C, (blasint)ldc);
}
