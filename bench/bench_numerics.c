/* bench_numerics: the number-format library, every fast path validated against _ref, then timed.
 *
 *   bench_numerics [--threads N] [--reps N] [--mb N] [--part all|conv|mx|matmul]
 *
 * 1. Memory bandwidth of this machine for reference: memcpy of the same buffer (read + write),
 *    with 1 thread and with --threads threads.
 * 2. bf16 / fp16 conversion and MX quantize / dequantize of --mb MiB of fp32 (default 64, larger
 *    than the caches), per format and path, best of --reps: GB/s of fp32 data (4 bytes per
 *    element), and the memory traffic (fp32 + codes + scales, read + written) as a share of the
 *    memcpy rate.
 * 3. Matrix products on the linear-layer shapes of configs S and M (out = x W^T, x (tokens, IC),
 *    W (OC, IC)): MXINT8 (operands already quantized) and MXFP8 E4M3 (via conversion) against
 *    OpenBLAS sgemm on fp32 operands (fg_matmul_forward without bias), in GFLOP/s counting
 *    2 M N K operations; MXINT8 also with the quantization of x included.
 * A fast path that differs from _ref (bits, or beyond the bound for MXFP8) is reported as FAILED
 * and the program exits 1. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/numerics.h"

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_numerics: out of memory\n");
        exit(1);
    }
    return p;
}

static double best_of(double best, double t)
{
    return t < best ? t : best;
}

/* memcpy of the buffer split into nt pieces copied by nt threads */
static double copy_bandwidth(size_t bytes, int nt, int reps)
{
    char *a = xmalloc(bytes), *b = xmalloc(bytes);
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double best = 1e9;
    size_t piece = bytes / (size_t)nt;
    for (int k = 0; k < reps; k++) {
        double t0 = fg_time_now();
#pragma omp parallel for schedule(static) num_threads(nt) default(none) shared(a, b, piece, nt)
        for (int t = 0; t < nt; t++)
            memcpy(b + (size_t)t * piece, a + (size_t)t * piece, piece);
        best = best_of(best, fg_time_now() - t0);
    }
    if (b[bytes / 2] != 1)
        printf(" ");
    free(a);
    free(b);
    return 2.0 * (double)bytes / best / 1e9; /* read + write */
}

/* ---- conversions and quantization ---------------------------------------------------------- */

static int conversions(const float *x, size_t n, int reps, double bw)
{
    uint16_t *h0 = xmalloc(n * 2), *h1 = xmalloc(n * 2);
    float *y = xmalloc(n * 4);
    int ok = 1;
    for (int which = 0; which < 2; which++) {
        const char *name = which ? "fp16" : "bf16";
        if (which)
            fg_fp32_to_fp16_ref(h0, x, n);
        else
            fg_fp32_to_bf16_ref(h0, x, n);
        for (int p = FG_NUM_PATH_REF; p <= FG_NUM_PATH_AVX512X; p++) {
            enum fg_num_path path = (enum fg_num_path)p;
            if (fg_num_path_resolve(path) != path)
                continue;
            double te = 1e9, td = 1e9;
            for (int k = 0; k < reps; k++) {
                double t0 = fg_time_now();
                if (which)
                    fg_fp32_to_fp16(h1, x, n, path);
                else
                    fg_fp32_to_bf16(h1, x, n, path);
                double t1 = fg_time_now();
                if (which)
                    fg_fp16_to_fp32(y, h1, n, path);
                else
                    fg_bf16_to_fp32(y, h1, n, path);
                te = best_of(te, t1 - t0);
                td = best_of(td, fg_time_now() - t1);
            }
            if (memcmp(h0, h1, n * 2)) {
                printf("%s path %s FAILED validation against _ref\n", name, fg_num_path_name(path));
                ok = 0;
            }
            double traffic = 6.0 * (double)n; /* 4 read + 2 written (or the reverse) */
            printf(
                "  %-5s %-8s encode %6.2f GB/s (%3.0f%% of copy)   decode %6.2f GB/s (%3.0f%%)\n",
                name, fg_num_path_name(path), 4.0 * (double)n / te / 1e9,
                100.0 * traffic / te / 1e9 / bw, 4.0 * (double)n / td / 1e9,
                100.0 * traffic / td / 1e9 / bw);
        }
    }
    free(h0);
    free(h1);
    free(y);
    return ok;
}

static int quantization(const float *x, size_t n, int nt, int reps, double bw)
{
    size_t nb = fg_mx_n_blocks(n);
    uint8_t *s0 = xmalloc(nb), *s1 = xmalloc(nb), *c0 = xmalloc(nb * 32), *c1 = xmalloc(nb * 32);
    float *y0 = xmalloc(n * 4), *y1 = xmalloc(n * 4);
    int ok = 1;
    for (int f = 0; f < FG_MX_FORMAT_COUNT; f++) {
        enum fg_mx_format fmt = (enum fg_mx_format)f;
        size_t bb = fg_mx_block_bytes(fmt);
        struct fg_mx_params p = fg_mx_params_default();
        fg_mx_quantize_ref(fmt, &p, x, n, s0, c0, NULL, 0);
        fg_mx_dequantize_ref(fmt, s0, c0, n, y0, NULL, 0);
        for (int pp = FG_NUM_PATH_GENERIC; pp <= FG_NUM_PATH_AVX512X; pp++) {
            enum fg_num_path path = (enum fg_num_path)pp;
            if (fg_num_path_resolve(path) != path)
                continue;
            if (path == FG_NUM_PATH_AVX512X) /* quantize/dequantize use no BF16/VNNI code */
                continue;
            p.path = path;
            p.n_threads = nt;
            double tq = 1e9, td = 1e9;
            for (int k = 0; k < reps; k++) {
                double t0 = fg_time_now();
                fg_mx_quantize(fmt, &p, x, n, s1, c1, NULL, 0);
                double t1 = fg_time_now();
                fg_mx_dequantize(fmt, &p, s1, c1, n, y1, NULL, 0);
                tq = best_of(tq, t1 - t0);
                td = best_of(td, fg_time_now() - t1);
            }
            if (memcmp(s0, s1, nb) || memcmp(c0, c1, nb * bb) || memcmp(y0, y1, n * 4)) {
                printf("%s path %s FAILED validation against _ref\n", fg_mx_format_name(fmt),
                       fg_num_path_name(path));
                ok = 0;
            }
            double traffic = 4.0 * (double)n + (double)(nb * bb + nb);
            printf("  %-5s %-8s quantize %6.2f GB/s (%3.0f%% of copy)   dequantize %6.2f GB/s "
                   "(%3.0f%%)\n",
                   fg_mx_format_name(fmt), fg_num_path_name(path), 4.0 * (double)n / tq / 1e9,
                   100.0 * traffic / tq / 1e9 / bw, 4.0 * (double)n / td / 1e9,
                   100.0 * traffic / td / 1e9 / bw);
        }
    }
    free(s0);
    free(s1);
    free(c0);
    free(c1);
    free(y0);
    free(y1);
    return ok;
}

/* ---- matrix products ------------------------------------------------------------------------ */

struct shape {
    const char *name;
    size_t M, N, K; /* tokens, OC, IC */
};

static int matmul_shape(const struct shape *s, int nt, int reps)
{
    size_t M = s->M, N = s->N, K = s->K, nbk = K / 32;
    struct fg_rng r;
    fg_rng_seed(&r, 11);
    float *a = xmalloc(M * K * 4), *b = xmalloc(N * K * 4);
    float *c = xmalloc(M * N * 4), *c2 = xmalloc(M * N * 4);
    for (size_t i = 0; i < M * K; i++)
        a[i] = (float)fg_rng_normal(&r);
    for (size_t i = 0; i < N * K; i++)
        b[i] = (float)(0.02 * fg_rng_normal(&r));
    uint8_t *as = xmalloc(M * nbk), *ac = xmalloc(M * K), *bs = xmalloc(N * nbk);
    uint8_t *bc = xmalloc(N * K);
    struct fg_mx_params p = fg_mx_params_default();
    p.n_threads = nt;
    double flop = 2.0 * (double)M * (double)N * (double)K;
    int ok = 1;

    /* sgemm */
    double ts = 1e9;
    for (int k = 0; k < reps; k++) {
        double t0 = fg_time_now();
        fg_matmul_forward(c, a, b, NULL, M, K, N, nt);
        ts = best_of(ts, fg_time_now() - t0);
    }
    printf("  %-14s %5zu x %5zu x %5zu  sgemm %6.1f GFLOP/s", s->name, M, N, K, flop / ts / 1e9);

    for (int fi = 0; fi < 2; fi++) {
        enum fg_mx_format f = fi ? FG_MX_FORMAT_E4M3 : FG_MX_FORMAT_INT8;
        fg_mx_quantize(f, &p, a, M * K, as, ac, NULL, 0);
        fg_mx_quantize(f, &p, b, N * K, bs, bc, NULL, 0);
        struct fg_mx_matrix A = { f, M, K, as, ac }, B = { f, N, K, bs, bc };
        size_t wb = fg_mx_matmul_work_bytes(f, f, M, N, K);
        void *work = xmalloc(wb);
        double tm = 1e9, tq = 1e9;
        for (int k = 0; k < reps; k++) {
            double t0 = fg_time_now();
            fg_mx_matmul(c, &A, &B, NULL, &p, work, wb, NULL, 0);
            double t1 = fg_time_now();
            if (fi == 0) { /* the activation quantized on the fly, as a forward pass would */
                fg_mx_quantize(f, &p, a, M * K, as, ac, NULL, 0);
                fg_mx_matmul(c, &A, &B, NULL, &p, work, wb, NULL, 0);
                tq = best_of(tq, fg_time_now() - t1);
            }
            tm = best_of(tm, t1 - t0);
        }
        /* validate the first rows against _ref: MXINT8 bit for bit, MXFP8 by summation order */
        size_t mv = M < 16 ? M : 16;
        struct fg_mx_matrix Av = { f, mv, K, as, ac };
        fg_mx_matmul_ref(c2, &Av, &B, NULL, NULL, 0);
        for (size_t i = 0; i < mv * N; i++) {
            double d = fabs((double)c[i] - (double)c2[i]);
            if (fi == 0 ? memcmp(&c[i], &c2[i], 4) != 0
                        : !(d <= 1e-4 * (1.0 + fabs((double)c2[i])))) {
                printf("\n  %s matmul FAILED validation at %zu: %.9g vs _ref %.9g\n",
                       fg_mx_format_name(f), i, (double)c[i], (double)c2[i]);
                ok = 0;
                break;
            }
        }
        if (fi == 0)
            printf(" | mxint8 %6.1f (%.2fx), with quantize %6.1f", flop / tm / 1e9, ts / tm,
                   flop / tq / 1e9);
        else
            printf(" | mxfp8 e4m3 %6.1f (%.2fx)", flop / tm / 1e9, ts / tm);
        free(work);
    }
    printf("\n");
    free(a);
    free(b);
    free(c);
    free(c2);
    free(as);
    free(ac);
    free(bs);
    free(bc);
    return ok;
}

int main(int argc, char **argv)
{
    int nt = fg_cpu_count(), reps = 5, mb = 64;
    const char *part = "all";
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 < argc && !strcmp(argv[i], "--part") &&
            (!strcmp(argv[i + 1], "all") || !strcmp(argv[i + 1], "conv") ||
             !strcmp(argv[i + 1], "mx") || !strcmp(argv[i + 1], "matmul"))) {
            part = argv[i + 1];
            continue;
        }
        if (i + 1 >= argc || (strcmp(argv[i], "--threads") && strcmp(argv[i], "--reps") &&
                              strcmp(argv[i], "--mb"))) {
            fprintf(stderr, "usage: bench_numerics [--threads N] [--reps N] [--mb N] "
                            "[--part all|conv|mx|matmul]\n");
            return 2;
        }
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (*end || v < 1 || v > 65536) {
            fprintf(stderr, "bench_numerics: %s wants a positive integer, got '%s'\n", argv[i],
                    argv[i + 1]);
            return 2;
        }
        if (!strcmp(argv[i], "--threads"))
            nt = (int)v;
        else if (!strcmp(argv[i], "--reps"))
            reps = (int)v;
        else
            mb = (int)v;
    }
    fg_kernels_set_blas_threads(nt);
    printf("threads %d, numerics path %s (cpu bf16 %d, vnni %d), blas %s\n", nt,
           fg_num_path_name(fg_num_path_best()), fg_num_cpu_has_bf16(), fg_num_cpu_has_vnni(),
           fg_kernels_blas_info());
    size_t n = (size_t)mb * 1024 * 1024 / 4;
    double bw1 = copy_bandwidth(n * 4, 1, reps), bw = copy_bandwidth(n * 4, nt, reps);
    printf("memcpy of %d MiB: %.1f GB/s with 1 thread, %.1f GB/s with %d (read + write)\n", mb, bw1,
           bw, nt);
    float *x = xmalloc(n * 4);
    struct fg_rng r;
    fg_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(fg_rng_normal(&r) * exp(2.0 * fg_rng_normal(&r)));
    int ok = 1, all = !strcmp(part, "all");
    if (all || !strcmp(part, "conv")) {
        printf("conversions (one thread; %% of the 1-thread copy rate):\n");
        ok &= conversions(x, n, reps, bw1);
    }
    if (all || !strcmp(part, "mx")) {
        printf("MX quantize / dequantize (%d threads):\n", nt);
        ok &= quantization(x, n, nt, reps, bw);
    }
    free(x);
    if (!all && strcmp(part, "matmul"))
        return ok ? 0 : 1;
    static const struct shape shapes[] = {
        { "S qkv", 2048, 768, 256 },         { "S fc", 2048, 1024, 256 },
        { "S fcproj", 2048, 256, 1024 },     { "M qkv", 256, 2304, 768 },
        { "M fc", 256, 3072, 768 },          { "M fcproj", 256, 768, 3072 },
        { "square 1024", 1024, 1024, 1024 },
    };
    printf("matrix products (%d threads; GFLOP/s = 2 M N K / time; ratio against sgemm):\n", nt);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        ok &= matmul_shape(&shapes[i], nt, reps);
    return ok ? 0 : 1;
}
