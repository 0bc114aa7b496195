/* bf16 and fp16 conversions (scalar, _ref arrays, portable and AVX-512 dispatch) and the
 * choice of code path for the whole numerics library.
 *
 * fp32 -> bf16 rounds to nearest even on the bit pattern: adding 0x7FFF plus the lowest kept
 * bit and truncating is exactly RNE, carries included (a carry out of the mantissa increments
 * the exponent, and out of the largest finite binade gives Inf). NaNs are caught first, since
 * the same addition would turn a NaN with a small payload into Inf (ggml's fp32_to_bf16).
 * fp32 -> fp16 does the same on 13 dropped bits for normal results, and shifts in the hidden bit
 * for subnormal results (IEEE 754-2008, section 4.3.1). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "numerics_int.h"

/* ---- code paths ------------------------------------------------------------------------- */

static enum fg_num_path best_path = FG_NUM_PATH_REF;
static int cpu_bf16, cpu_vnni;
static pthread_once_t path_once = PTHREAD_ONCE_INIT;

static void path_detect(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    int avx512_os = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl");
    cpu_bf16 = avx512_os && __builtin_cpu_supports("avx512bf16");
    cpu_vnni = avx512_os && __builtin_cpu_supports("avx512vnni");
#endif
    enum fg_isa isa = fg_cpu_isa();
    enum fg_num_path p = isa == FG_ISA_REF ? FG_NUM_PATH_REF : FG_NUM_PATH_GENERIC;
    if (isa >= FG_ISA_AVX512 && fg_num_avx512_built()) {
        p = FG_NUM_PATH_AVX512;
        /* FG_ISA=avx512 asks for plain AVX-512: no BF16 or VNNI instructions */
        const char *env = getenv("FG_ISA");
        int capped = env && !strcmp(env, "avx512");
        if (!capped && (cpu_bf16 || cpu_vnni))
            p = FG_NUM_PATH_AVX512X;
    }
    best_path = p;
}

enum fg_num_path fg_num_path_best(void)
{
    pthread_once(&path_once, path_detect);
    return best_path;
}

enum fg_num_path fg_num_path_resolve(enum fg_num_path request)
{
    enum fg_num_path best = fg_num_path_best();
    if (request == FG_NUM_PATH_AUTO || request > best)
        return best;
    return request < FG_NUM_PATH_REF ? FG_NUM_PATH_REF : request;
}

const char *fg_num_path_name(enum fg_num_path p)
{
    switch (p) {
    case FG_NUM_PATH_AUTO:
        return "auto";
    case FG_NUM_PATH_REF:
        return "ref";
    case FG_NUM_PATH_GENERIC:
        return "generic";
    case FG_NUM_PATH_AVX512:
        return "avx512";
    case FG_NUM_PATH_AVX512X:
        return "avx512x";
    }
    return "unknown";
}

int fg_num_cpu_has_bf16(void)
{
    pthread_once(&path_once, path_detect);
    return cpu_bf16;
}

int fg_num_cpu_has_vnni(void)
{
    pthread_once(&path_once, path_detect);
    return cpu_vnni;
}

/* ---- scalar conversions ----------------------------------------------------------------- */

uint16_t fg_bf16_encode(float x)
{
    uint32_t u = fg_f32_bits(x);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
        return (uint16_t)((u >> 16) | 0x0040u); /* NaN: keep it a NaN, make it quiet */
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

float fg_bf16_decode(uint16_t h)
{
    return fg_bits_f32((uint32_t)h << 16);
}

uint16_t fg_fp16_encode(float x)
{
    uint32_t u = fg_f32_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7FFFFFFFu;
    if (a > 0x7F800000u) /* NaN: quiet, top 10 payload bits kept */
        return (uint16_t)(sign | 0x7E00u | ((a >> 13) & 0x3FFu));
    if (a >= 0x477FF000u) /* >= 65520 = 65504 + half an ulp: rounds to Inf (Inf included) */
        return (uint16_t)(sign | 0x7C00u);
    if (a >= 0x38800000u) { /* >= 2^-14: a normal fp16; RNE on the 13 dropped bits */
        uint32_t r = a + 0x0FFFu + ((a >> 13) & 1u);
        return (uint16_t)(sign | ((r >> 13) - ((127u - 15u) << 10)));
    }
    uint32_t e = a >> 23;
    if (e < 102) /* below 2^-25: rounds to 0 (2^-25 itself is a tie, also 0) */
        return (uint16_t)sign;
    /* a subnormal fp16: value / 2^-24 = m * 2^(e - 126), m with its hidden bit; RNE shift */
    uint32_t m = (a & 0x7FFFFFu) | 0x800000u, shift = 126u - e;
    uint32_t r = (m + (1u << (shift - 1)) - 1u + ((m >> shift) & 1u)) >> shift;
    return (uint16_t)(sign | r); /* r = 0x400 (rounded up to 2^-14) is the right code too */
}

float fg_fp16_decode(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0) {
        float v = ldexpf((float)m, -24); /* zero or subnormal: m * 2^-24, exact */
        return sign ? -v : v;
    }
    if (e == 31) /* Inf, or a NaN made quiet */
        return fg_bits_f32(sign | 0x7F800000u | (m << 13) | (m ? 0x400000u : 0u));
    return fg_bits_f32(sign | ((e + 127u - 15u) << 23) | (m << 13));
}

/* ---- arrays: _ref ----------------------------------------------------------------------- */

void fg_fp32_to_bf16_ref(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fg_bf16_encode(in[i]);
}

void fg_bf16_to_fp32_ref(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fg_bf16_decode(in[i]);
}

void fg_fp32_to_fp16_ref(uint16_t *out, const float *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fg_fp16_encode(in[i]);
}

void fg_fp16_to_fp32_ref(float *out, const uint16_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = fg_fp16_decode(in[i]);
}

/* ---- arrays: portable fast path (branch-free bodies, so the loops vectorize) ------------ */

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#    define FG_NUM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#    define FG_NUM_CLONES
#endif

FG_NUM_CLONES
static void fp32_to_bf16_generic(uint16_t *restrict out, const float *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        memcpy(&x, in + i, sizeof x);
        uint32_t rne = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16;
        uint32_t nan = (x >> 16) | 0x0040u;
        out[i] = (uint16_t)((x & 0x7FFFFFFFu) > 0x7F800000u ? nan : rne);
    }
}

FG_NUM_CLONES
static void bf16_to_fp32_generic(float *restrict out, const uint16_t *restrict in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x = (uint32_t)in[i] << 16;
        memcpy(out + i, &x, sizeof x);
    }
}

void fg_fp32_to_bf16(uint16_t *out, const float *in, size_t n, enum fg_num_path path)
{
    enum fg_num_path p = fg_num_path_resolve(path);
    if (p == FG_NUM_PATH_AVX512X && fg_num_cpu_has_bf16())
        fg_fp32_to_bf16_avx512bf16(out, in, n);
    else if (p >= FG_NUM_PATH_AVX512)
        fg_fp32_to_bf16_avx512(out, in, n);
    else if (p == FG_NUM_PATH_GENERIC)
        fp32_to_bf16_generic(out, in, n);
    else
        fg_fp32_to_bf16_ref(out, in, n);
}

void fg_bf16_to_fp32(float *out, const uint16_t *in, size_t n, enum fg_num_path path)
{
    enum fg_num_path p = fg_num_path_resolve(path);
    if (p >= FG_NUM_PATH_AVX512)
        fg_bf16_to_fp32_avx512(out, in, n);
    else if (p == FG_NUM_PATH_GENERIC)
        bf16_to_fp32_generic(out, in, n);
    else
        fg_bf16_to_fp32_ref(out, in, n);
}

/* fp16 has no cheap branch-free portable form worth keeping apart from the scalar one: the
 * generic path is the scalar code (still exact); AVX-512F has vcvtps2ph / vcvtph2ps. */
void fg_fp32_to_fp16(uint16_t *out, const float *in, size_t n, enum fg_num_path path)
{
    if (fg_num_path_resolve(path) >= FG_NUM_PATH_AVX512)
        fg_fp32_to_fp16_avx512(out, in, n);
    else
        fg_fp32_to_fp16_ref(out, in, n);
}

void fg_fp16_to_fp32(float *out, const uint16_t *in, size_t n, enum fg_num_path path)
{
    if (fg_num_path_resolve(path) >= FG_NUM_PATH_AVX512)
        fg_fp16_to_fp32_avx512(out, in, n);
    else
        fg_fp16_to_fp32_ref(out, in, n);
}
