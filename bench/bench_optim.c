/* bench_optim: time of one optimizer step over N parameters, fp32 AdamW (the trainer's fused
 * fg_adamw_step_zero_grad) against the flash step in its storage modes (fg_flash_step), side by
 * side in one process, alternating, best and median of REPS.
 *
 *   bench_optim [--params N] [--threads N] [--reps N]     (default 124.5M params, GPT-2 small)
 *
 * Bytes moved per parameter are counted from the formats (read + written), and GB/s is that
 * traffic over the best time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/flashoptim.h"
#include "frugal/numerics.h"
#include "frugal/optim.h"

static void *xalloc(size_t n)
{
    void *p = fg_alloc(NULL, n ? n : 1, 64);
    if (!p) {
        fprintf(stderr, "bench_optim: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    memset(p, 0, n);
    return p;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { MODE_FP32, MODE_FLASH32, MODE_FLASH24, MODE_FLASH24_FP32STATES, N_MODES };

static const char *const mode_name[N_MODES] = { "fp32 AdamW (fg_adamw_step_zero_grad)",
                                                "flash step, fp32 storage",
                                                "flash AdamW: bf16 + int8, int8/uint8 states",
                                                "flash: bf16 + int8 weights, fp32 states" };
/* bytes read + written per parameter */
static const double mode_bytes[N_MODES] = { 16 + 16, 16 + 12, 7.125 + 5.125, 13 + 11 };

int main(int argc, char **argv)
{
    long n_params = 124475904, threads = 2, reps = 7;
    for (int i = 1; i < argc; i++) {
        long *dst = NULL;
        if (!strcmp(argv[i], "--params"))
            dst = &n_params;
        else if (!strcmp(argv[i], "--threads"))
            dst = &threads;
        else if (!strcmp(argv[i], "--reps"))
            dst = &reps;
        if (!dst || i + 1 >= argc) {
            fprintf(stderr, "usage: bench_optim [--params N] [--threads N] [--reps N]\n");
            return 2;
        }
        char *end;
        errno = 0;
        *dst = strtol(argv[++i], &end, 10);
        if (errno || *end || *dst < 1) {
            fprintf(stderr, "bench_optim: %s needs a positive integer, got '%s'\n", argv[i - 1],
                    argv[i]);
            return 2;
        }
    }
    size_t n = (size_t)n_params, ng = fg_flash_n_groups(n);
    struct fg_rng r;
    fg_rng_seed(&r, 1);
    float *w = xalloc(n * 4), *g = xalloc(n * 4), *m = xalloc(n * 4), *v = xalloc(n * 4);
    float *gsrc = xalloc(n * 4);
    uint16_t *w16 = xalloc(n * 2), *g16 = xalloc(n * 2), *ms = xalloc(ng * 2), *vs = xalloc(ng * 2);
    int8_t *rho = xalloc(n), *mq = xalloc(n);
    uint8_t *vq = xalloc(n);
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)(0.02 * fg_rng_normal(&r));
        gsrc[i] = (float)(1e-3 * fg_rng_normal(&r));
    }
    fg_flash_split_n(w, n, 8, w16, rho);
    fg_fp32_to_bf16_ref(g16, gsrc, n);
    struct fg_adamw_params hp = fg_adamw_params_default();
    struct fg_optim_segment seg = { 0, n, 1 };
    struct fg_flash_hparams fh = fg_flash_hparams_default(FG_FLASH_ADAM);
    fh.beta2 = 0.95f;
    fh.weight_decay = 0.1f;
    struct fg_flash_tensor t32, t24, t24f;
    memset(&t32, 0, sizeof t32);
    t32.n = n, t32.w32 = w, t32.m32 = m, t32.v32 = v;
    t24 = t32;
    t24.w32 = NULL, t24.m32 = NULL, t24.v32 = NULL;
    t24.w16 = w16, t24.rho8 = rho, t24.mq = mq, t24.ms = ms, t24.vq = vq, t24.vs = vs;
    t24f = t24;
    t24f.mq = NULL, t24f.ms = NULL, t24f.vq = NULL, t24f.vs = NULL;
    t24f.m32 = m, t24f.v32 = v;
    double *times = xalloc(sizeof(double) * (size_t)reps * N_MODES);
    printf("optimizer step over %zu parameters, %ld threads, %ld alternating repetitions\n", n,
           threads, reps);
    for (long k = 0; k < reps; k++)
        for (int md = 0; md < N_MODES; md++) {
            int64_t step = k + 1;
            if (md == MODE_FP32)
                memcpy(g, gsrc, n * 4); /* the fused step clears it */
            double t0 = fg_time_now();
            switch (md) {
            case MODE_FP32:
                fg_adamw_step_zero_grad(w, g, m, v, &seg, 1, step, 1e-4f, 1.0f, &hp, (int)threads);
                break;
            case MODE_FLASH32:
                (void)fg_flash_step(&t32, gsrc, NULL, 1.0f, step, 1e-4f, &fh, (int)threads);
                break;
            case MODE_FLASH24:
                (void)fg_flash_step(&t24, NULL, g16, 1.0f, step, 1e-4f, &fh, (int)threads);
                break;
            default:
                (void)fg_flash_step(&t24f, NULL, g16, 1.0f, step, 1e-4f, &fh, (int)threads);
                break;
            }
            times[md * reps + k] = fg_time_now() - t0;
        }
    double base = 0;
    for (int md = 0; md < N_MODES; md++) {
        double *tt = times + md * reps;
        qsort(tt, (size_t)reps, sizeof(double), cmp_d);
        double best = tt[0], med = tt[reps / 2];
        if (md == 0)
            base = med;
        printf("  %-46s best %7.1f ms  median %7.1f ms  (%.2fx fp32)  %5.1f bytes/param moved, "
               "%5.1f GB/s\n",
               mode_name[md], 1e3 * best, 1e3 * med, med / base, mode_bytes[md],
               mode_bytes[md] * (double)n / best / 1e9);
    }
    return 0;
}
