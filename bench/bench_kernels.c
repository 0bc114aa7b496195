/* bench_kernels: every variant of the hot kernels validated against its _ref, then timed, at
 * the shapes of configs S (B=8 T=256 C=256 NH=4) and M (B=4 T=64 C=768 NH=12).
 *
 *   bench_kernels [--threads N] [--reps N]
 *
 * Attention: OpenBLAS path (fg_attention_*) vs the AVX-512 causal kernel (when the CPU has
 * AVX-512) vs the tiled kernel (fg_attention_tiled_*, no T x T matrix), forward and backward,
 * ms per call (best of reps), also at T = 2,048 (config S, "S2k"). AdamW: GPT-2 124M parameters,
 * ms per step and effective bandwidth at 28 bytes per parameter (read p, g, m, v; write p, m,
 * v, and g cleared). Global-norm sum of squares: ms and GB/s. A variant that disagrees with
 * _ref beyond its tolerance is reported as FAILED and the program exits 1. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/optim.h"

static float *randn(size_t n, struct fg_rng *r)
{
    float *p = malloc(n * sizeof(float));
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (float)fg_rng_normal(r);
    return p;
}

/* the worst |a - ref| / (floor + |ref|) */
static double max_rel_err_floor(const float *a, const float *ref, size_t n, double floor)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)ref[i]) / (floor + fabs((double)ref[i]));
        if (!(e <= worst))
            worst = e;
    }
    return worst;
}

static double max_rel_err(const float *a, const float *ref, size_t n)
{
    return max_rel_err_floor(a, ref, n, 1e-5);
}

static int attention(const char *name, size_t B, size_t T, size_t C, size_t NH, int nt, int reps)
{
    struct fg_rng r;
    fg_rng_seed(&r, 7);
    size_t nq = B * T * 3 * C, no = B * T * C, na = B * NH * T * T;
    float *qkv = randn(nq, &r), *dout = randn(no, &r);
    float *o_ref = malloc(no * 4), *a_ref = malloc(na * 4), *d_ref = malloc(nq * 4);
    float *o = malloc(no * 4), *a = malloc(na * 4), *d = malloc(nq * 4), *sc = malloc(na * 4);
    float *sc2 = malloc(fg_attention_avx512_scratch_floats(B, T, C) * 4);
    fg_attention_forward_ref(o_ref, a_ref, qkv, B, T, C, NH);
    fg_attention_backward_ref(d_ref, dout, qkv, a_ref, B, T, C, NH);
    int ok = 1;
    double best[3][2] = { { 1e9, 1e9 }, { 1e9, 1e9 }, { 1e9, 1e9 } };
    int have_avx = fg_cpu_isa() >= FG_ISA_AVX512 && fg_attention_avx512_supported(C, NH);
    int have_tiled = fg_attention_tiled_supported(C, NH);
    float *lse = malloc(B * NH * T * 4);
    for (int v = 0; v < 3; v++) {
        if ((v == 1 && !have_avx) || (v == 2 && !have_tiled))
            continue;
        for (int k = 0; k < reps; k++) {
            double t0 = fg_time_now();
            if (v == 0)
                fg_attention_forward(o, a, qkv, B, T, C, NH, nt);
            else if (v == 1)
                fg_attention_forward_avx512(o, a, sc2, qkv, B, T, C, NH, nt);
            else
                fg_attention_tiled_forward(o, lse, qkv, B, T, C, NH, nt);
            double t1 = fg_time_now();
            if (v == 0)
                fg_attention_backward(d, sc, dout, qkv, a, B, T, C, NH, nt);
            else if (v == 1)
                fg_attention_backward_avx512(d, sc, sc2, dout, qkv, a, B, T, C, NH, nt);
            else
                fg_attention_tiled_backward(d, sc, dout, qkv, o, lse, B, T, C, NH, nt);
            double t2 = fg_time_now();
            best[v][0] = t1 - t0 < best[v][0] ? t1 - t0 : best[v][0];
            best[v][1] = t2 - t1 < best[v][1] ? t2 - t1 : best[v][1];
        }
        /* gross disagreement only: relative error with a floor of 1e-5 (the tiled kernels' fast
         * exp is within 1e-5 absolute of the reference, tests/test_kernels.c: floor 1e-4) */
        double fl = v == 2 ? 1e-4 : 1e-5;
        double e = max_rel_err_floor(o, o_ref, no, fl), eb = max_rel_err_floor(d, d_ref, nq, fl);
        if (!(e < 1e-2 && eb < 1e-1)) {
            printf("attention %s variant %d FAILED validation (rel err %.2e / %.2e)\n", name, v, e,
                   eb);
            ok = 0;
        }
    }
    printf("attention %-2s B=%zu T=%zu C=%zu NH=%zu | openblas fwd %.2f ms bwd %.2f ms", name, B, T,
           C, NH, best[0][0] * 1e3, best[0][1] * 1e3);
    if (have_avx)
        printf(" | avx512 fwd %.2f ms bwd %.2f ms (%.1fx, %.1fx)", best[1][0] * 1e3,
               best[1][1] * 1e3, best[0][0] / best[1][0], best[0][1] / best[1][1]);
    if (have_tiled)
        printf(" | tiled fwd %.2f ms bwd %.2f ms", best[2][0] * 1e3, best[2][1] * 1e3);
    printf("\n");
    free(qkv), free(dout), free(o_ref), free(a_ref), free(d_ref), free(o), free(a), free(d);
    free(sc), free(sc2), free(lse);
    return ok;
}

static int optimizer(int nt, int reps)
{
    size_t n = 124475904; /* GPT-2 124M */
    struct fg_rng r;
    fg_rng_seed(&r, 3);
    float *p = malloc(n * 4), *g = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    double *part = malloc(fg_optim_n_chunks(n) * sizeof(double));
    if (!p || !g || !m || !v || !part) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.02f * (float)((int)(i % 2001) - 1000) / 1000.0f;
        g[i] = 1e-3f * (float)((int)((i * 7) % 2001) - 1000) / 1000.0f;
    }
    /* validate one step on a prefix against _ref */
    size_t nv = 100000;
    float *p2 = malloc(nv * 4), *m2 = calloc(nv, 4), *v2 = calloc(nv, 4);
    memcpy(p2, p, nv * 4);
    struct fg_optim_segment sv = { 0, nv, 1 }, seg = { 0, n, 1 };
    struct fg_adamw_params hp = fg_adamw_params_default();
    fg_adamw_step_ref(p2, g, m2, v2, &sv, 1, 1, 1e-3f, 1.0f, &hp);
    float *p3 = malloc(nv * 4), *m3 = calloc(nv, 4), *v3 = calloc(nv, 4);
    memcpy(p3, p, nv * 4);
    fg_adamw_step(p3, g, m3, v3, &sv, 1, 1, 1e-3f, 1.0f, &hp, nt);
    double err = max_rel_err(p3, p2, nv);
    int ok = err < 1e-4;
    if (!ok)
        printf("adamw FAILED validation (max rel err %.2e)\n", err);
    double best_a = 1e9, best_s = 1e9;
    for (int k = 0; k < reps; k++) {
        double t0 = fg_time_now();
        double s = fg_sumsq(g, n, part, nt);
        double t1 = fg_time_now();
        fg_adamw_step(p, g, m, v, &seg, 1, k + 1, 1e-4f, 1.0f, &hp, nt);
        double t2 = fg_time_now();
        best_s = t1 - t0 < best_s ? t1 - t0 : best_s;
        best_a = t2 - t1 < best_a ? t2 - t1 : best_a;
        if (s < 0)
            printf(" ");
    }
    printf("adamw 124M params: %.1f ms per step (%.1f GB/s at 28 B/param) | grad sumsq %.1f ms "
           "(%.1f GB/s)\n",
           best_a * 1e3, 28.0 * (double)n / best_a / 1e9, best_s * 1e3,
           4.0 * (double)n / best_s / 1e9);
    free(p), free(g), free(m), free(v), free(part), free(p2), free(m2), free(v2), free(p3);
    free(m3), free(v3);
    return ok;
}

int main(int argc, char **argv)
{
    int nt = fg_cpu_count(), reps = 10;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc || (strcmp(argv[i], "--threads") && strcmp(argv[i], "--reps"))) {
            fprintf(stderr, "usage: bench_kernels [--threads N] [--reps N]\n");
            return 2;
        }
        int v = (int)strtol(argv[i + 1], NULL, 10);
        if (v < 1) {
            fprintf(stderr, "bench_kernels: %s must be positive\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--threads"))
            nt = v;
        else
            reps = v;
    }
    fg_kernels_set_blas_threads(nt);
    printf("threads %d, cpu path %s, blas %s\n", nt, fg_isa_name(fg_cpu_isa()),
           fg_kernels_blas_info());
    int ok = attention("S", 8, 256, 256, 4, nt, reps);
    ok &= attention("M", 4, 64, 768, 12, nt, reps);
    ok &= attention("S2k", 8, 2048, 256, 4, nt, reps);
    ok &= optimizer(nt, reps < 4 ? reps : 4);
    return ok ? 0 : 1;
}
