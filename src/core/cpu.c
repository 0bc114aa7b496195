/* CPU feature detection (cpuid + xgetbv so the OS really saves the AVX-512 state), process
 * facts (cores, peak RSS) and a monotonic clock. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "frugal/core.h"

#if defined(__x86_64__) || defined(__i386__)
#    include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Linux hands the tile data state (XFEATURE 18) only to processes that ask for it */
static int amx_permission(void)
{
#    if defined(__linux__) && defined(__x86_64__)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
#    else
    return 0;
#    endif
}

static enum fg_isa detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return FG_ISA_GENERIC;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx)
        return FG_ISA_GENERIC;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6)
        return FG_ISA_GENERIC;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return FG_ISA_GENERIC;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1;
    int avx512vl = (b >> 31) & 1;
    enum fg_isa best = (avx2 && fma) ? FG_ISA_AVX2 : FG_ISA_GENERIC;
    if (avx512f && avx512bw && avx512vl && (xcr0 & 0xE6) == 0xE6) {
        best = FG_ISA_AVX512;
        unsigned a1, b1, c1, d1;
        if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1) && ((a1 >> 5) & 1))
            best = FG_ISA_AVX512BF16;
    }
    /* AMX-BF16 and AMX-TILE (leaf 7 edx bits 22, 24), tile state enabled by the OS (XCR0 bits
     * 17-18), and this process granted the tile data state (Linux asks for it once) */
    int amx = best == FG_ISA_AVX512BF16 && ((d >> 22) & 1) && ((d >> 24) & 1) &&
              (xcr0 & 0x60000) == 0x60000;
    if (amx && amx_permission())
        best = FG_ISA_AMX;
    return best;
}
#else
static enum fg_isa detect(void)
{
    return FG_ISA_GENERIC;
}
#endif

enum fg_isa fg_cpu_isa(void)
{
    /* cpuid is cheap on bare metal but traps to the hypervisor in a VM (microseconds), so
     * the hardware answer is computed once; FG_ISA is still read on every call */
    static atomic_int detected = -1;
    int d = atomic_load_explicit(&detected, memory_order_relaxed);
    if (d < 0) {
        d = (int)detect();
        atomic_store_explicit(&detected, d, memory_order_relaxed);
    }
    enum fg_isa best = (enum fg_isa)d;
    const char *env = getenv("FG_ISA");
    if (env) {
        enum fg_isa want = best;
        if (!strcmp(env, "ref"))
            want = FG_ISA_REF;
        else if (!strcmp(env, "generic"))
            want = FG_ISA_GENERIC;
        else if (!strcmp(env, "avx2"))
            want = FG_ISA_AVX2;
        else if (!strcmp(env, "avx512"))
            want = FG_ISA_AVX512;
        else if (!strcmp(env, "avx512bf16"))
            want = FG_ISA_AVX512BF16;
        else if (!strcmp(env, "amx"))
            want = FG_ISA_AMX;
        if (want < best)
            best = want;
    }
    return best;
}

const char *fg_isa_name(enum fg_isa isa)
{
    switch (isa) {
    case FG_ISA_REF:
        return "ref";
    case FG_ISA_GENERIC:
        return "generic";
    case FG_ISA_AVX2:
        return "avx2";
    case FG_ISA_AVX512:
        return "avx512";
    case FG_ISA_AVX512BF16:
        return "avx512bf16";
    case FG_ISA_AMX:
        return "amx";
    }
    return "unknown";
}

int fg_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0)
            return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double fg_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double fg_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t fg_peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024u;
}
