/* The machine's sustained peak FP32 FLOP/s, for MFU: every thread runs a loop of independent
 * vector FMAs (12 accumulators, no memory traffic) on the widest unit the hardware has
 * (AVX-512, else AVX2 + FMA), so the figure is the FMA throughput the cores really sustain
 * (clock limits included), not a datasheet number. Independent of FG_ISA: MFU is measured
 * against the hardware, whatever path the kernels were told to take. */
#include <stdio.h>

#include "frugal/core.h"

#ifdef _OPENMP
#    include <omp.h>
#endif

#if defined(__x86_64__) && defined(__GNUC__)
#    include <immintrin.h>

__attribute__((target("avx512f"))) static float fma_loop_avx512(long iters)
{
    __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < 12; k++)
        a[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 12; k++)
            a[k] = _mm512_fmadd_ps(a[k], b, c);
    float out[16];
    __m512 s = a[0];
    for (int k = 1; k < 12; k++)
        s = _mm512_add_ps(s, a[k]);
    _mm512_storeu_ps(out, s);
    return out[0];
}

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(long iters)
{
    __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < 12; k++)
        a[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 12; k++)
            a[k] = _mm256_fmadd_ps(a[k], b, c);
    float out[8];
    __m256 s = a[0];
    for (int k = 1; k < 12; k++)
        s = _mm256_add_ps(s, a[k]);
    _mm256_storeu_ps(out, s);
    return out[0];
}
#endif

double fg_cpu_best_rate(int n_threads, float (*body)(void *user), void *user, double work)
{
    if (n_threads < 1 || !body)
        return 0.0;
    double best = 0.0;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < 3; rep++) {
        float s = 0.0f;
        int ran = 1; /* threads the runtime granted (it may give fewer than asked) */
        double t0 = fg_time_now();
#pragma omp parallel num_threads(n_threads) default(none) shared(body, user, ran) reduction(+ : s)
        {
#ifdef _OPENMP
#    pragma omp single nowait
            ran = omp_get_num_threads();
#endif
            s += body(user);
        }
        double dt = fg_time_now() - t0;
        sink += s;
        double rate = (double)ran * work / dt;
        if (rate > best)
            best = rate;
    }
    (void)sink;
    return best;
}

#define PEAK_ITERS 20000000L

#if defined(__x86_64__) && defined(__GNUC__)
static float fma_body_avx512(void *user)
{
    (void)user;
    return fma_loop_avx512(PEAK_ITERS);
}

static float fma_body_avx2(void *user)
{
    (void)user;
    return fma_loop_avx2(PEAK_ITERS);
}
#endif

double fg_cpu_peak_flops(int n_threads, const char **unit)
{
    int width = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        width = 16;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        width = 8;
#endif
    if (unit)
        *unit = width == 16 ? "avx512 fma" : width == 8 ? "avx2 fma" : "none";
    if (!width || n_threads < 1)
        return 0.0;
#if defined(__x86_64__) && defined(__GNUC__)
    double work = (double)PEAK_ITERS * 12.0 * width * 2.0; /* 12 FMAs of width lanes a turn */
    return fg_cpu_best_rate(n_threads, width == 16 ? fma_body_avx512 : fma_body_avx2, NULL, work);
#else
    return 0.0;
#endif
}
