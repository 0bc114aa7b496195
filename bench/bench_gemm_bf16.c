/* bench_gemm_bf16: frugal's bf16 product (fg_gemm_bf16: AMX or AVX512_BF16 where the CPU has them)
 * against OpenBLAS sgemm on the linear layers of GPT-2 124M (config M), side by side in one
 * process, alternating, best of reps.
 *
 *   bench_gemm_bf16 [--threads N] [--reps N] [--tokens N]
 *
 * For each layer (qkv 768 -> 2304, attention projection 768 -> 768, MLP 768 -> 3072 and
 * 3072 -> 768, LM head 768 -> 50304) and tokens rows (default 256 = config M's 4 x 64), the
 * three products of a training step: forward Y = X W^T, input gradient dX = dY W, weight
 * gradient dW += dY^T X. Columns: sgemm GFLOP/s; fg_gemm_bf16 on the same fp32 operands
 * (rounded to bf16 while packing) and with W already bf16 (the flash optimizer's weights); the
 * speedup of each over sgemm. Every bf16 result is first checked against the definition
 * (fg_gemm_bf16_ref) on a corner of the output (bit for bit; on the AMX path, whose rounding
 * is its own, within 1e-4 of the corner's largest element); a mismatch exits 1. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/numerics.h"

static void *xalloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64)) {
        fprintf(stderr, "bench_gemm_bf16: out of memory\n");
        exit(1);
    }
    return p;
}

static float *randn(size_t n, struct fg_rng *r, double scale)
{
    float *p = xalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(fg_rng_normal(r) * scale);
    return p;
}

enum form { FWD, DINP, DW };

static const char *form_name[] = { "forward", "input grad", "weight grad" };

struct job {
    enum form f;
    size_t T, IC, OC;
    const float *x, *w, *dy; /* fp32 */
    const uint16_t *w16;     /* bf16 copy of w */
    float *out;
    void *work;
    int threads;
};

/* the product as M, N, K and operands; bf16w: take W from w16 */
static void shape(const struct job *j, int bf16w, size_t *M, size_t *N, size_t *K,
                  struct fg_gemm_op *A, struct fg_gemm_op *B)
{
    const void *w = bf16w ? (const void *)j->w16 : (const void *)j->w;
    switch (j->f) {
    case FWD: /* (T, OC) = X (T, IC) W^T */
        *M = j->T, *N = j->OC, *K = j->IC;
        *A = (struct fg_gemm_op){ j->x, 0, 0, j->IC };
        *B = (struct fg_gemm_op){ w, bf16w, 1, j->IC };
        break;
    case DINP: /* (T, IC) = dY (T, OC) W (OC, IC) */
        *M = j->T, *N = j->IC, *K = j->OC;
        *A = (struct fg_gemm_op){ j->dy, 0, 0, j->OC };
        *B = (struct fg_gemm_op){ w, bf16w, 0, j->IC };
        break;
    default: /* (OC, IC) += dY^T X */
        *M = j->OC, *N = j->IC, *K = j->T;
        *A = (struct fg_gemm_op){ j->dy, 0, 1, j->OC };
        *B = (struct fg_gemm_op){ j->x, 0, 0, j->IC };
        break;
    }
}

static double run_sgemm(const struct job *j)
{
    double t0 = fg_time_now();
    switch (j->f) {
    case FWD:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)j->T, (blasint)j->OC,
                    (blasint)j->IC, 1.0f, j->x, (blasint)j->IC, j->w, (blasint)j->IC, 0.0f, j->out,
                    (blasint)j->OC);
        break;
    case DINP:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)j->T, (blasint)j->IC,
                    (blasint)j->OC, 1.0f, j->dy, (blasint)j->OC, j->w, (blasint)j->IC, 0.0f, j->out,
                    (blasint)j->IC);
        break;
    default:
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (blasint)j->OC, (blasint)j->IC,
                    (blasint)j->T, 1.0f, j->dy, (blasint)j->OC, j->x, (blasint)j->IC, 1.0f, j->out,
                    (blasint)j->IC);
        break;
    }
    return fg_time_now() - t0;
}

static double run_bf16(const struct job *j, int bf16w)
{
    size_t M, N, K;
    struct fg_gemm_op A, B;
    shape(j, bf16w, &M, &N, &K, &A, &B);
    double t0 = fg_time_now();
    if (fg_gemm_bf16(M, N, K, A, B, j->out, N, j->f == DW, j->work, j->threads)) {
        fprintf(stderr, "bench_gemm_bf16: fg_gemm_bf16 refused its arguments\n");
        exit(1);
    }
    return fg_time_now() - t0;
}

/* rows [0, 8) x columns [0, 40) of the product against the definition */
static int validate(const struct job *j, int bf16w)
{
    size_t M, N, K;
    struct fg_gemm_op A, B;
    shape(j, bf16w, &M, &N, &K, &A, &B);
    size_t m = M < 8 ? M : 8, n = N < 40 ? N : 40;
    float *full = xalloc(M * N * sizeof(float)), *ref = xalloc(m * n * sizeof(float));
    memset(full, 0, M * N * sizeof(float));
    memset(ref, 0, m * n * sizeof(float));
    struct job jj = *j;
    jj.out = full;
    run_bf16(&jj, bf16w);
    fg_gemm_bf16_ref(m, n, K, A, B, ref, n, 1);
    int ok = 1;
    if (!strcmp(fg_gemm_bf16_path(), "amx")) {
        /* the tile unit rounds in its own way: within 1e-4 of the corner's largest element
         * (a packing or tiling mistake is off by whole terms) */
        float big = 0;
        for (size_t i = 0; i < m * n; i++)
            big = fmaxf(big, fabsf(ref[i]));
        for (size_t r = 0; r < m && ok; r++)
            for (size_t c = 0; c < n && ok; c++)
                ok = fabsf(full[r * N + c] - ref[r * n + c]) <= 1e-4f * big;
    } else {
        for (size_t r = 0; r < m && ok; r++)
            ok = !memcmp(full + r * N, ref + r * n, n * sizeof(float));
    }
    free(full);
    free(ref);
    return ok;
}

int main(int argc, char **argv)
{
    int threads = fg_cpu_count(), reps = 5;
    size_t T = 256;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--threads"))
            threads = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--tokens"))
            T = (size_t)atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_gemm_bf16 [--threads N] [--reps N] [--tokens N]\n");
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || T < 1) {
        fprintf(stderr, "bench_gemm_bf16: --threads, --reps and --tokens must be positive\n");
        return 2;
    }
    fg_kernels_set_blas_threads(threads);
    static const size_t layers[][2] = {
        { 768, 2304 }, { 768, 768 }, { 768, 3072 }, { 3072, 768 }, { 768, 50304 }
    };
    static const char *layer_name[] = { "qkv", "attn proj", "mlp fc", "mlp proj", "lm head" };
    printf("bench_gemm_bf16: %zu tokens, %d threads, %d reps (best); bf16 path %s; %s\n", T,
           threads, reps, fg_gemm_bf16_path(), fg_kernels_blas_info());
    printf("| layer | product | M x N x K | sgemm GFLOP/s | bf16 (fp32 in) GFLOP/s | x sgemm | "
           "bf16 (bf16 W) GFLOP/s | x sgemm |\n|---|---|---|---|---|---|---|---|\n");
    struct fg_rng r;
    fg_rng_seed(&r, 1);
    void *work = xalloc(fg_gemm_bf16_work_size(threads));
    double tot[3] = { 0, 0, 0 };
    for (size_t l = 0; l < sizeof layers / sizeof layers[0]; l++) {
        size_t IC = layers[l][0], OC = layers[l][1];
        float *x = randn(T * IC, &r, 1.0), *w = randn(OC * IC, &r, 0.02),
              *dy = randn(T * OC, &r, 1.0);
        uint16_t *w16 = xalloc(OC * IC * sizeof(uint16_t));
        fg_fp32_to_bf16(w16, w, OC * IC, FG_NUM_PATH_AUTO);
        size_t out_n = T * OC > T * IC ? T * OC : T * IC;
        if (OC * IC > out_n)
            out_n = OC * IC;
        float *out = xalloc(out_n * sizeof(float));
        memset(out, 0, out_n * sizeof(float));
        for (int f = FWD; f <= DW; f++) {
            struct job j = { (enum form)f, T, IC, OC, x, w, dy, w16, out, work, threads };
            if (!validate(&j, 0) || !validate(&j, 1)) {
                printf("FAILED: %s %s differs from fg_gemm_bf16_ref\n", layer_name[l],
                       form_name[f]);
                return 1;
            }
            double best[3] = { 1e30, 1e30, 1e30 };
            for (int k = 0; k < reps + 1; k++) { /* the first round warms up */
                double s = run_sgemm(&j), b = run_bf16(&j, 0), h = f == DW ? b : run_bf16(&j, 1);
                if (k == 0)
                    continue;
                best[0] = fmin(best[0], s), best[1] = fmin(best[1], b), best[2] = fmin(best[2], h);
            }
            for (int v = 0; v < 3; v++)
                tot[v] += best[v];
            size_t M, N, K;
            struct fg_gemm_op A, B;
            shape(&j, 0, &M, &N, &K, &A, &B);
            double gf = 2.0 * (double)M * (double)N * (double)K * 1e-9;
            printf("| %s | %s | %zu x %zu x %zu | %.1f | %.1f | %.2f | ", layer_name[l],
                   form_name[f], M, N, K, gf / best[0], gf / best[1], best[0] / best[1]);
            if (f == DW)
                printf("(no weight operand) | |\n");
            else
                printf("%.1f | %.2f |\n", gf / best[2], best[0] / best[2]);
        }
        free(x), free(w), free(dy), free(w16), free(out);
    }
    printf("all layers, one of each product: sgemm %.2f ms, bf16 (fp32 in) %.2f ms (%.2fx), "
           "bf16 with bf16 W %.2f ms (%.2fx)\n",
           tot[0] * 1e3, tot[1] * 1e3, tot[0] / tot[1], tot[2] * 1e3, tot[0] / tot[2]);
    free(work);
    return 0;
}
