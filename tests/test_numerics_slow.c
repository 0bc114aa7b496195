/* bf16 and fp16 conversions (include/frugal/numerics.h) against a straightforward reference:
 * the nearer of the two neighbouring 16-bit values, computed in double precision, ties to the
 * even code, NaNs quiet with their sign and top payload bits. On adversarial and random fp32
 * patterns, and on every one of the 2^32 fp32 patterns when FG_TEST_SLOW=1 (`make test-slow`,
 * which CI runs; about 1-2 minutes on 2 cores); otherwise on a sample of about 5 million patterns
 * (every 1021st chunk of 2^16 plus the chunks around zero, the subnormal, overflow and NaN
 * boundaries). Every code path is forced in turn; fp32 -> 16 bits -> fp32 must give the reference
 * bits both ways. All 65536 16-bit patterns are decoded and re-encoded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/numerics.h"
#include "test.h"

static uint32_t f2u(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float u2f(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "test_numerics_slow: out of memory\n");
        exit(1);
    }
    return p;
}

/* the distinct paths this machine can run */
static int paths(enum fg_num_path out[4])
{
    int n = 0;
    for (int p = FG_NUM_PATH_REF; p <= FG_NUM_PATH_AVX512X; p++)
        if (fg_num_path_resolve((enum fg_num_path)p) == (enum fg_num_path)p)
            out[n++] = (enum fg_num_path)p;
    return n;
}

/* nearest-even rounding of fp32 x to a grid given by its two neighbours lo <= |x| <= hi (as
 * doubles) whose codes are clo and chi: the straightforward reference */
static uint32_t nearest(double a, double lo, double hi, uint32_t clo, uint32_t chi)
{
    double dl = a - lo, dh = hi - a;
    if (dl < dh)
        return clo;
    if (dh < dl)
        return chi;
    return (clo & 1) ? chi : clo;
}

/* bf16 of fp32 bits u by the reference: truncation and the next value up, nearest, ties even */
static uint16_t bf16_straight(uint32_t u)
{
    if ((u & 0x7FFFFFFF) > 0x7F800000)
        return (uint16_t)((u >> 16) | 0x40);
    uint32_t s = u & 0x80000000u, a = u & 0x7FFFFFFFu;
    uint32_t lo = a & 0xFFFF0000u, hi = lo + 0x10000u; /* hi = 0x7F800000: Inf, as 2^128 */
    double dlo = u2f(lo), dhi = hi >= 0x7F800000u ? ldexp(1.0, 128) : (double)u2f(hi);
    if (a == 0x7F800000u)
        return (uint16_t)((s | a) >> 16);
    return (uint16_t)((s >> 16) | nearest(u2f(a), dlo, dhi, lo >> 16, hi >> 16));
}

/* fp16 of fp32 bits u by the reference: the two fp16 grid points around |x| (spacing 2^(e-10)
 * in binade e, 2^-24 below 2^-14), computed in double, the nearer one, ties to even */
static uint16_t fp16_straight(uint32_t u)
{
    uint16_t s = (uint16_t)((u >> 16) & 0x8000);
    if ((u & 0x7FFFFFFF) > 0x7F800000)
        return (uint16_t)(s | 0x7E00 | ((u >> 13) & 0x3FF));
    double a = fabs((double)u2f(u));
    if (a >= 65520.0)
        return (uint16_t)(s | 0x7C00);
    int e = (int)((u >> 23) & 0xFF) - 127; /* floor(log2 a) for normal fp32; less otherwise */
    if (e < -14)
        e = -14;
    uint64_t ub = (uint64_t)(e - 10 + 1023) << 52; /* 2^(e-10) as a double */
    double ulp;
    memcpy(&ulp, &ub, 8);
    double k = (double)(uint32_t)(a / ulp), lo = k * ulp, hi = lo + ulp; /* a / ulp < 2048 */
    /* code of lo: in binade -14 (and below, subnormal) value / 2^-24; otherwise the exponent
     * field e + 15 and the mantissa k - 1024 */
    uint32_t clo = e == -14 ? (uint32_t)k : ((uint32_t)(e + 15) << 10) + (uint32_t)k - 1024u;
    return (uint16_t)(s | nearest(a, lo, hi, clo, clo + 1));
}

/* fp32 patterns that stress the conversions: around every rounding boundary of bf16 and fp16,
 * subnormals, NaN payloads, overflow thresholds, plus random bits */
static void adversarial_f32(uint32_t *u, size_t n, struct fg_rng *r)
{
    static const uint32_t fixed[] = {
        0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000, 0x00008000, 0x00018000,
        0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x7F800000, 0xFF800000, 0x7F800001, 0xFF800001,
        0x7FBFFFFF, 0x7FC00000, 0xFFFFFFFF, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x33000000,
        0x33000001, 0x337FFFFF, 0x33800000, 0x387FE000, 0x387FF000, 0x38800000, 0x3F808000,
    };
    size_t nf = sizeof fixed / sizeof fixed[0];
    for (size_t i = 0; i < n; i++) {
        uint64_t z = fg_rng_u64(r);
        uint32_t x = (uint32_t)z;
        switch (i < nf ? 9 : (z >> 32) % 8) {
        case 0: /* a bf16 tie or one off */
            x = (x & 0xFFFF0000u) | 0x8000u;
            x += (uint32_t)((z >> 40) % 3) - 1u;
            break;
        case 1: /* an fp16 tie (13 dropped bits) in the normal fp16 range, or one off */
            x = (x & 0x8FFFE000u) | 0x38000000u | 0x1000u;
            x += (uint32_t)((z >> 40) % 3) - 1u;
            break;
        case 2: /* fp32 subnormal */
            x &= 0x807FFFFFu;
            break;
        case 3: /* fp16 subnormal range and below */
            x = (x & 0x807FFFFFu) | ((uint32_t)(101 + (z >> 40) % 13) << 23);
            break;
        case 4: /* NaN with a random payload */
            x |= 0x7F800001u;
            break;
        case 5: /* near the fp16 / bf16 overflow thresholds */
            x = (x & 0x80000000u) | (((z >> 40) & 1) ? 0x477FF000u : 0x7F7F8000u);
            x += (uint32_t)((z >> 42) % 5) - 2u;
            break;
        case 9:
            x = fixed[i];
            break;
        default:
            break;
        }
        u[i] = x;
    }
}

TEST(bf16_fp16_against_straightforward_reference)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    size_t n = 200003; /* odd: exercises the vector tails */
    uint32_t *u = xmalloc(n * 4);
    uint16_t *h = xmalloc(n * 2), *h2 = xmalloc(n * 2);
    float *x = xmalloc(n * 4);
    adversarial_f32(u, n, &r);
    memcpy(x, u, n * 4);
    size_t bad_bf = 0, bad_h = 0, bad_path = 0;
    enum fg_num_path ps[4];
    int np = paths(ps);
    for (size_t i = 0; i < n; i++) {
        bad_bf += fg_bf16_encode(x[i]) != bf16_straight(u[i]);
        bad_h += fg_fp16_encode(x[i]) != fp16_straight(u[i]);
    }
    for (int k = 0; k < np; k++) {
        fg_fp32_to_bf16_ref(h2, x, n);
        fg_fp32_to_bf16(h, x, n, ps[k]);
        bad_path += memcmp(h, h2, n * 2) != 0;
        fg_fp32_to_fp16_ref(h2, x, n);
        fg_fp32_to_fp16(h, x, n, ps[k]);
        bad_path += memcmp(h, h2, n * 2) != 0;
    }
    if (bad_bf || bad_h || bad_path)
        fg_test_fail(t, __FILE__, __LINE__, "bf16 %zu, fp16 %zu mismatches; %zu path mismatches",
                     bad_bf, bad_h, bad_path);
    /* decoding: every one of the 65536 patterns, all paths, and the round trip */
    uint16_t all[65536];
    float ref[65536], got[65536];
    for (int i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    size_t bad_rt = 0;
    for (int which = 0; which < 2; which++) {
        if (which == 0)
            fg_bf16_to_fp32_ref(ref, all, 65536);
        else
            fg_fp16_to_fp32_ref(ref, all, 65536);
        for (int k = 0; k < np; k++) {
            if (which == 0)
                fg_bf16_to_fp32(got, all, 65536, ps[k]);
            else
                fg_fp16_to_fp32(got, all, 65536, ps[k]);
            bad_path += memcmp(got, ref, sizeof got) != 0;
        }
        for (int i = 0; i < 65536; i++) {
            uint16_t again = which == 0 ? fg_bf16_encode(ref[i]) : fg_fp16_encode(ref[i]);
            int isnan16 = which == 0 ? (i & 0x7FFF) > 0x7F80 : (i & 0x7FFF) > 0x7C00;
            if (isnan16) { /* a NaN stays a NaN of the same sign; fp16 decoding makes it quiet */
                int quiet = which == 0 || (f2u(ref[i]) & 0x400000u) != 0;
                int still_nan = which == 0 ? (again & 0x7FFF) > 0x7F80 : (again & 0x7FFF) > 0x7C00;
                bad_rt +=
                    !isnan(ref[i]) || !quiet || !still_nan || (again & 0x8000) != (i & 0x8000);
            } else {
                bad_rt += again != i;
            }
        }
        /* the exact values, from the bit fields */
        for (int i = 0; i < 65536; i++) {
            if (which == 1 && (i & 0x7C00) != 0x7C00) {
                int e = (i >> 10) & 31, m = i & 1023;
                double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
                bad_rt +=
                    (double)ref[i] != ((i & 0x8000) ? -v : v) || !signbit(ref[i]) != !(i & 0x8000);
            }
        }
    }
    if (bad_rt || bad_path)
        fg_test_fail(t, __FILE__, __LINE__, "16-bit decode: %zu round-trip, %zu path mismatches",
                     bad_rt, bad_path);
    free(u);
    free(h);
    free(h2);
    free(x);
}

/* ---- every fp32 bit pattern ------------------------------------------------------------------
 * fp32 -> bf16 / fp16 -> fp32 on every path against the straightforward references above, in
 * chunks of 2^16 consecutive patterns over OpenMP threads. Under `make test-slow`
 * (FG_TEST_SLOW=1) all 2^32 patterns; otherwise every 1021st chunk plus the chunks around zero,
 * the subnormal/normal, overflow and NaN boundaries (about 5 million patterns). */

#define EXH_CHUNK 65536u

static int exh_special_chunk(uint32_t c)
{
    static const uint32_t sp[] = { 0x0000, 0x0001, 0x007F, 0x0080, 0x8000, 0x8001, 0x7F7F,
                                   0x7F80, 0x7FBF, 0x7FC0, 0xFF80, 0xFFFF, 0x477F, 0x4780,
                                   0x3300, 0x3380, 0x387F, 0x3880, 0xB87F, 0xC77F };
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
        if (sp[i] == c)
            return 1;
    return 0;
}

/* fp32 bits of a half-precision code decoded, from its fields: exact values; NaNs keep the
 * payload (bf16) or are made quiet (fp16), as numerics.h specifies */
static uint32_t half_bits(uint16_t h, int bf16)
{
    if (bf16)
        return (uint32_t)h << 16;
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    int e = (h >> 10) & 31, m = h & 1023;
    if (e == 31)
        return sign | 0x7F800000u | (uint32_t)m << 13 | (m ? 0x400000u : 0u);
    double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);
    return sign | f2u((float)v);
}

static size_t exhaustive(int bf16, int all, const enum fg_num_path *ps, int np, uint64_t *n_done)
{
    size_t bad = 0;
    uint64_t done = 0;
    uint32_t *dec = xmalloc(65536 * 4); /* expected decoded bits of every 16-bit code */
    for (uint32_t i = 0; i < 65536; i++)
        dec[i] = half_bits((uint16_t)i, bf16);
#pragma omp parallel default(none) shared(bf16, all, ps, np, dec) reduction(+ : bad, done)
    {
        float *x = xmalloc(EXH_CHUNK * 4), *back = xmalloc(EXH_CHUNK * 4);
        uint32_t *wantv = xmalloc(EXH_CHUNK * 4);
        uint16_t *h = xmalloc(EXH_CHUNK * 2), *want = xmalloc(EXH_CHUNK * 2);
#pragma omp for schedule(dynamic, 8)
        for (uint32_t c = 0; c < 65536u; c++) {
            if (!all && c % 1021u != 0 && !exh_special_chunk(c))
                continue;
            for (uint32_t i = 0; i < EXH_CHUNK; i++) {
                uint32_t u = c << 16 | i;
                memcpy(x + i, &u, 4);
                want[i] = bf16 ? bf16_straight(u) : fp16_straight(u);
                wantv[i] = dec[want[i]];
            }
            for (int k = 0; k < np; k++) {
                if (bf16) {
                    fg_fp32_to_bf16(h, x, EXH_CHUNK, ps[k]);
                    fg_bf16_to_fp32(back, h, EXH_CHUNK, ps[k]);
                } else {
                    fg_fp32_to_fp16(h, x, EXH_CHUNK, ps[k]);
                    fg_fp16_to_fp32(back, h, EXH_CHUNK, ps[k]);
                }
                if (memcmp(h, want, EXH_CHUNK * 2) || memcmp(back, wantv, EXH_CHUNK * 4))
                    for (uint32_t i = 0; i < EXH_CHUNK; i++)
                        bad += (size_t)(h[i] != want[i] || f2u(back[i]) != wantv[i]);
            }
            done += EXH_CHUNK;
        }
        free(x);
        free(back);
        free(wantv);
        free(h);
        free(want);
    }
    free(dec);
    *n_done = done;
    return bad;
}

static void exhaustive_test(struct fg_test *t, int bf16)
{
    const char *env = getenv("FG_TEST_SLOW");
    int all = env && env[0] == '1';
    enum fg_num_path ps[4];
    int np = paths(ps);
    if (!bf16) { /* fp16: the generic path is the _ref code, AVX512X is the AVX-512 code */
        int m = 0;
        for (int k = 0; k < np; k++)
            if (ps[k] == FG_NUM_PATH_REF || ps[k] == FG_NUM_PATH_AVX512)
                ps[m++] = ps[k];
        np = m;
    }
    uint64_t n = 0;
    double t0 = fg_time_now();
    size_t bad = exhaustive(bf16, all, ps, np, &n);
    printf("  %s: %llu fp32 patterns x %d paths in %.2f s%s\n", bf16 ? "bf16" : "fp16",
           (unsigned long long)n, np, fg_time_now() - t0,
           all ? " (all 2^32)" : "; FG_TEST_SLOW=1 (make test-slow) checks all 2^32");
    if (bad)
        fg_test_fail(t, __FILE__, __LINE__, "%s: %zu conversions differ from the reference",
                     bf16 ? "bf16" : "fp16", bad);
}

TEST(bf16_exhaustive)
{
    exhaustive_test(t, 1);
}

TEST(fp16_exhaustive)
{
    exhaustive_test(t, 0);
}

static const struct fg_test_case cases[] = {
    { "bf16_fp16_against_straightforward_reference",
      test_bf16_fp16_against_straightforward_reference },
    { "bf16_exhaustive", test_bf16_exhaustive },
    { "fp16_exhaustive", test_fp16_exhaustive },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
