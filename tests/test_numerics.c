/* Tests of the number-format library (include/frugal/numerics.h); the bf16/fp16 conversions
 * against a straightforward reference, exhaustively under `make test-slow`, are in
 * test_numerics_slow.c.
 *
 * References, all independent of the code under test:
 *   - the test vectors of the MX spec notes: §B.7 (bf16) and §B.6 (MX elements and blocks),
 *     bit for bit;
 *   - a brute-force MX quantizer written here from the format table of the spec: the scale from
 *     frexp, each element the nearest grid value by binary search over the decoded codes (ties to
 *     the even code), in double precision;
 *   - MXINT8 products recomputed from the codes with exact integers and double scaling;
 *   - for the floating-point MX products, the a-priori error bound of docs/numerics.md 10.5
 *     against the exact (double) product of the unquantized inputs.
 * Every fast path (generic, AVX-512, AVX-512 + BF16/VNNI) is forced in turn and compared with
 * _ref bit for bit, on random and adversarial inputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/numerics.h"
#include "test.h"

/* FP MX dot and matrix product, fast against _ref: each has a summation error of at most
 * gamma_K sum |a_k b_k| (any order, Higham 2002, eq. 3.5), so they differ by at most twice that;
 * the factor 2 of slack covers the bias term. Checked per element with the exact sum of
 * magnitudes (TOL_FP_DOT_GAMMAS = 4 gammas). */
#define TOL_FP_DOT_GAMMAS 4.0

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
        fprintf(stderr, "test_numerics: out of memory\n");
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

/* ---- the format table, written here from the spec (§B.1), not taken from the library ---- */

struct tfmt {
    enum fg_mx_format f;
    int bits, ebits, mbits, bias, emax, max_code, nan_kind; /* 1: E4M3, 2: E5M2-style */
    double max_normal;
};

static const struct tfmt TF[6] = {
    { FG_MX_FORMAT_E4M3, 8, 4, 3, 7, 8, 0x7E, 1, 448.0 },
    { FG_MX_FORMAT_E5M2, 8, 5, 2, 15, 15, 0x7B, 2, 57344.0 },
    { FG_MX_FORMAT_E3M2, 6, 3, 2, 3, 4, 0x1F, 0, 28.0 },
    { FG_MX_FORMAT_E2M3, 6, 2, 3, 1, 2, 0x1F, 0, 7.5 },
    { FG_MX_FORMAT_E2M1, 4, 2, 1, 1, 2, 0x07, 0, 6.0 },
    { FG_MX_FORMAT_INT8, 8, 0, 0, 0, 0, 0x7F, 0, 127.0 / 64.0 },
};

/* magnitude of code em (sign bit clear), in units of X */
static double tval(const struct tfmt *t, int em)
{
    if (t->ebits == 0)
        return em / 64.0;
    int e = em >> t->mbits, m = em & ((1 << t->mbits) - 1);
    if (e == 0)
        return ldexp(m, 1 - t->bias - t->mbits);
    return ldexp((1 << t->mbits) + m, e - t->bias - t->mbits);
}

/* the full decoded value of a code with scale byte s (NaN codes and scales give NaN) */
static double tdecode(const struct tfmt *t, int code, int s)
{
    if (s == 0xFF)
        return NAN;
    if (t->ebits == 0)
        return ldexp((int8_t)code, s - 127 - 6);
    int sign = (code >> (t->bits - 1)) & 1, em = code & ((1 << (t->bits - 1)) - 1);
    if (t->nan_kind == 1 && em == 0x7F)
        return NAN;
    if (t->nan_kind == 2 && (em >> 2) == 31)
        return (em & 3) ? NAN : (sign ? -INFINITY : INFINITY);
    double v = ldexp(tval(t, em), s - 127);
    return sign ? -v : v;
}

/* brute force: the code nearest to x (x already divided by X), ties to the even code */
static int tencode(const struct tfmt *t, double x)
{
    int neg = signbit(x) != 0;
    double a = fabs(x);
    int lo = 0, hi = t->max_code; /* nearest among 0..max_code: binary search on the grid */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (tval(t, mid) <= a)
            lo = mid;
        else
            hi = mid;
    }
    int c;
    double dl = a - tval(t, lo), dh = tval(t, hi) - a;
    if (a >= tval(t, t->max_code))
        c = t->max_code;
    else if (dl < dh)
        c = lo;
    else if (dh < dl)
        c = hi;
    else
        c = (lo & 1) ? hi : lo;
    if (t->ebits == 0)
        return (uint8_t)(neg ? -c : c);
    return (neg ? 1 << (t->bits - 1) : 0) | c;
}

static int tfloor_log2(double a)
{
    int e;
    frexp(a, &e);
    return e - 1;
}

static int tceil_log2(double a)
{
    int e;
    double m = frexp(a, &e);
    return m == 0.5 ? e - 1 : e;
}

/* brute-force quantization of one block (32 fp32 values) to scale + 32 unpacked codes */
static void tquant_block(const struct tfmt *t, int rule, int flush, const float *x, int *scale,
                         int codes[32])
{
    double amax = 0;
    float v[32];
    for (int i = 0; i < 32; i++) {
        v[i] = x[i];
        if (flush && fpclassify(v[i]) == FP_SUBNORMAL)
            v[i] = copysignf(0.0f, v[i]);
        if (!isfinite(v[i])) {
            *scale = 0xFF;
            for (int k = 0; k < 32; k++)
                codes[k] = 0;
            return;
        }
        amax = fabs((double)v[i]) > amax ? fabs((double)v[i]) : amax;
    }
    int se;
    if (amax == 0)
        se = -127;
    else if (rule == FG_MX_SCALE_RULE_FLOOR)
        se = tfloor_log2(amax) - t->emax;
    else if (rule == FG_MX_SCALE_RULE_CEIL)
        se = tceil_log2(amax) - t->emax;
    else {
        float q = (float)amax / (float)t->max_normal; /* the fp32 quotient */
        se = q == 0.0f ? -127 : tceil_log2(q);
    }
    /* the spec clamps to [-127, 127]; frugal also caps se at 127 - emax, so that no decoded
     * value can overflow fp32 under CEIL and RCEIL (FLOOR never reaches the cap) */
    se = se < -127 ? -127 : se > 127 - t->emax ? 127 - t->emax : se;
    *scale = se + 127;
    for (int i = 0; i < 32; i++) {
        /* x * 2^-se in double is exact; the library scales in fp32, where results below 2^-126
         * can round, but such values encode to 0 in every format (checked by the spec) */
        codes[i] = tencode(t, ldexp((double)v[i], -se));
    }
}

static void tunpack(const struct tfmt *t, const uint8_t *src, int codes[32])
{
    for (int i = 0; i < 32; i++) {
        if (t->bits == 8) {
            codes[i] = src[i];
        } else if (t->bits == 4) {
            codes[i] = (src[i / 2] >> (4 * (i % 2))) & 0xF;
        } else {
            int g = i / 4, k = i % 4;
            uint32_t w =
                src[3 * g] | (uint32_t)src[3 * g + 1] << 8 | (uint32_t)src[3 * g + 2] << 16;
            codes[i] = (int)((w >> (6 * k)) & 0x3F);
        }
    }
}

/* ---- bf16 and fp16 ------------------------------------------------------------------------ */

/* §B.7, FP32 bits -> bf16 bits */
static const uint32_t BF16_VEC[][2] = {
    { 0x3F800000, 0x3F80 }, { 0x3F808000, 0x3F80 }, { 0x3F818000, 0x3F82 }, { 0x3F808001, 0x3F81 },
    { 0x3F807FFF, 0x3F80 }, { 0x40490FDB, 0x4049 }, { 0x3DCCCCCD, 0x3DCD }, { 0xC2F6E979, 0xC2F7 },
    { 0x7F7FFFFF, 0x7F80 }, { 0x7F7F7FFF, 0x7F7F }, { 0x7F7F8000, 0x7F80 }, { 0x7F800000, 0x7F80 },
    { 0xFF800000, 0xFF80 }, { 0x7FC00000, 0x7FC0 }, { 0xFFC00000, 0xFFC0 }, { 0x7F800001, 0x7FC0 },
    { 0x7FBFFFFF, 0x7FFF }, { 0x00000001, 0x0000 }, { 0x00008000, 0x0000 }, { 0x00018000, 0x0002 },
    { 0x00010000, 0x0001 }, { 0x80000000, 0x8000 }, { 0x80008001, 0x8001 },
};

TEST(bf16_spec_vectors)
{
    enum fg_num_path ps[4];
    int np = paths(ps);
    size_t nv = sizeof BF16_VEC / sizeof BF16_VEC[0];
    float in[64];
    uint16_t out[64];
    for (size_t i = 0; i < nv; i++) {
        in[i] = u2f(BF16_VEC[i][0]);
        CHECK_EQ_I64(t, fg_bf16_encode(in[i]), BF16_VEC[i][1]);
    }
    for (int k = 0; k < np; k++) {
        memset(out, 0xAB, sizeof out);
        fg_fp32_to_bf16(out, in, nv, ps[k]);
        for (size_t i = 0; i < nv; i++)
            if (out[i] != BF16_VEC[i][1])
                fg_test_fail(t, __FILE__, __LINE__, "path %s: %08x -> %04x, want %04x",
                             fg_num_path_name(ps[k]), (unsigned)BF16_VEC[i][0], out[i],
                             (unsigned)BF16_VEC[i][1]);
        CHECK_EQ_I64(t, out[nv], 0xABAB); /* nothing written past n */
    }
    /* bf16 -> fp32 is exact: the bits shifted */
    CHECK_EQ_I64(t, f2u(fg_bf16_decode(0x3F80)), 0x3F800000);
    CHECK_EQ_I64(t, f2u(fg_bf16_decode(0x8001)), 0x80010000);
}

/* ---- MX elements: §B.6 ------------------------------------------------------------------- */

struct evec {
    float in;
    int code;
};

static const struct evec V_E4M3[] = {
    { 0.0f, 0x00 },          { -0.0f, 0x80 },          { 0.001953125f, 0x01 },
    { 0.0009765625f, 0x00 }, { 0.00146484375f, 0x01 }, { 0.013671875f, 0x07 },
    { 0.015625f, 0x08 },     { 1.0f, 0x38 },           { 1.0625f, 0x38 },
    { 1.1875f, 0x3A },       { -1.5f, 0xBC },          { 3.14159012f, 0x45 },
    { 0.1f, 0x1D },          { 240.0f, 0x77 },         { 448.0f, 0x7E },
    { 464.0f, 0x7E },        { 500.0f, 0x7E },         { 1e6f, 0x7E },
    { -1e6f, 0xFE },
};
static const struct evec V_E5M2[] = {
    { 0.0f, 0x00 },
    { -0.0f, 0x80 },
    { 0x1p-16f, 0x01 },
    { 0x1p-17f, 0x00 },
    { 1.1444091796875e-05f, 0x01 },
    { 4.57763671875e-05f, 0x03 },
    { 0x1p-14f, 0x04 },
    { 1.0f, 0x3C },
    { 1.125f, 0x3C },
    { 1.375f, 0x3E },
    { -1.5f, 0xBE },
    { 3.14159f, 0x42 },
    { 0.1f, 0x2E },
    { 57344.0f, 0x7B },
    { 61440.0f, 0x7B },
    { 1e9f, 0x7B },
    { -1e9f, 0xFB },
};
static const struct evec V_E3M2[] = {
    { 0.0f, 0x00 },     { -0.0f, 0x20 },   { 0.0625f, 0x01 }, { 0.03125f, 0x00 },
    { 0.09375f, 0x02 }, { 0.1875f, 0x03 }, { 0.25f, 0x04 },   { 1.0f, 0x0C },
    { 1.125f, 0x0C },   { 1.375f, 0x0E },  { -1.5f, 0x2E },   { 3.14159f, 0x12 },
    { 0.1f, 0x02 },     { 28.0f, 0x1F },   { 30.0f, 0x1F },   { 100.0f, 0x1F },
    { -100.0f, 0x3F },
};
static const struct evec V_E2M3[] = {
    { 0.0f, 0x00 },    { -0.0f, 0x20 },  { 0.125f, 0x01 },   { 0.0625f, 0x00 },
    { 0.1875f, 0x02 }, { 0.875f, 0x07 }, { 1.0f, 0x08 },     { 1.0625f, 0x08 },
    { 1.1875f, 0x0A }, { -1.5f, 0x2C },  { 3.14159f, 0x15 }, { 0.1f, 0x01 },
    { 7.5f, 0x1F },    { 7.75f, 0x1F },  { 100.0f, 0x1F },   { -100.0f, 0x3F },
};
static const struct evec V_E2M1[] = {
    { 0.0f, 0x0 },  { -0.0f, 0x8 }, { 0.25f, 0x0 }, { 0.26f, 0x1 },  { 0.5f, 0x1 },  { 0.75f, 0x2 },
    { 1.25f, 0x2 }, { 1.75f, 0x4 }, { 2.5f, 0x4 },  { 3.5f, 0x6 },   { 5.0f, 0x6 },  { -5.0f, 0xE },
    { 5.5f, 0x7 },  { 6.0f, 0x7 },  { 7.0f, 0x7 },  { 100.0f, 0x7 }, { -0.3f, 0x9 }, { -2.9f, 0xD },
};
static const struct evec V_INT8[] = {
    { 0.0f, 0x00 },       { -0.0f, 0x00 },       { 1.0f / 64, 0x01 },  { 1.0f / 128, 0x00 },
    { 3.0f / 128, 0x02 }, { 0.5f, 0x20 },        { -0.5f, 0xE0 },      { 1.0f, 0x40 },
    { -1.0f, 0xC0 },      { 1.984375f, 0x7F },   { 1.9921875f, 0x7F }, { 2.0f, 0x7F },
    { -2.0f, 0x81 },      { -1.9921875f, 0x81 }, { 100.0f, 0x7F },     { 0.1f, 0x06 },
    { -0.1f, 0xFA },
};

static const struct {
    const struct evec *v;
    size_t n;
} VECS[6] = {
    { V_E4M3, sizeof V_E4M3 / sizeof V_E4M3[0] }, { V_E5M2, sizeof V_E5M2 / sizeof V_E5M2[0] },
    { V_E3M2, sizeof V_E3M2 / sizeof V_E3M2[0] }, { V_E2M3, sizeof V_E2M3 / sizeof V_E2M3[0] },
    { V_E2M1, sizeof V_E2M1 / sizeof V_E2M1[0] }, { V_INT8, sizeof V_INT8 / sizeof V_INT8[0] },
};

TEST(mx_element_spec_vectors)
{
    enum fg_num_path ps[4];
    int np = paths(ps);
    for (int fi = 0; fi < 6; fi++) {
        const struct tfmt *tf = &TF[fi];
        for (size_t i = 0; i < VECS[fi].n; i++) {
            float x = VECS[fi].v[i].in;
            int want = VECS[fi].v[i].code;
            int got = fg_mx_encode_element(tf->f, x);
            if (got != want)
                fg_test_fail(t, __FILE__, __LINE__, "%s: enc(%.9g) = 0x%02X, want 0x%02X",
                             fg_mx_format_name(tf->f), (double)x, got, want);
            CHECK_EQ_I64(t, tencode(tf, x), want); /* the test's own encoder agrees */
            /* through a whole block with X = 1: an anchor element 2^emax fixes the scale;
             * only inputs below 2^(emax+1) keep it */
            if (fabsf(x) >= ldexpf(1.0f, tf->emax + 1))
                continue;
            float blk[32] = { 0 };
            blk[0] = ldexpf(1.0f, tf->emax);
            blk[7] = x;
            for (int k = 0; k < np; k++) {
                struct fg_mx_params p = fg_mx_params_default();
                p.path = ps[k];
                uint8_t s = 0, codes[32];
                CHECK_OK(t, fg_mx_quantize(tf->f, &p, blk, 32, &s, codes, NULL, 0));
                int c[32];
                tunpack(tf, codes, c);
                if (s != 127 || c[7] != want)
                    fg_test_fail(t, __FILE__, __LINE__,
                                 "%s path %s: block with %.9g: scale 0x%02X code 0x%02X, want "
                                 "0x7F 0x%02X",
                                 fg_mx_format_name(tf->f), fg_num_path_name(ps[k]), (double)x, s,
                                 c[7], want);
            }
        }
    }
}

TEST(mx_decode_every_code)
{
    /* enc(dec(c)) = c for every code except NaNs (and INT8 0x80, which decodes to -2 and
     * re-encodes as -127/64 by the symmetric clamp); every value equals the spec's formula */
    enum fg_num_path ps[4];
    int np = paths(ps);
    static const int scales[] = { 0, 1, 100, 127, 128, 200, 254 };
    for (int fi = 0; fi < 6; fi++) {
        const struct tfmt *tf = &TF[fi];
        int ncodes = 1 << tf->bits;
        for (int c = 0; c < ncodes; c++) {
            double want = tdecode(tf, c, 127);
            float v = fg_mx_decode_element(tf->f, (uint8_t)c, 127);
            int nan = isnan(want);
            if (nan != isnan(v) || (!nan && (double)v != want) ||
                (!nan && !signbit(v) != !signbit(want)))
                fg_test_fail(t, __FILE__, __LINE__, "%s: dec(0x%02X) = %.9g, want %.9g",
                             fg_mx_format_name(tf->f), c, (double)v, want);
            if (nan || (tf->ebits == 0 && c == 0x80) || isinf(want))
                continue;
            int back = fg_mx_encode_element(tf->f, v);
            if (back != c)
                fg_test_fail(t, __FILE__, __LINE__, "%s: enc(dec(0x%02X)) = 0x%02X",
                             fg_mx_format_name(tf->f), c, back);
        }
        /* whole blocks: all codes in blocks, several scales, every path against the formula */
        size_t bb = fg_mx_block_bytes(tf->f), nblk = (size_t)ncodes / 32 + 1;
        uint8_t *codes = xmalloc(nblk * bb);
        uint8_t sc[16];
        float *out = xmalloc(nblk * 32 * 4);
        for (size_t si = 0; si < sizeof scales / sizeof scales[0]; si++) {
            for (size_t b = 0; b < nblk; b++) {
                sc[b] = (uint8_t)scales[si];
                for (size_t k = 0; k < bb; k++) { /* pack codes 32b .. 32b+31 (wrapping) */
                    int cc[32];
                    for (int i = 0; i < 32; i++)
                        cc[i] = (int)((b * 32 + (size_t)i) % (size_t)ncodes);
                    if (tf->bits == 8)
                        codes[b * bb + k] = (uint8_t)cc[k];
                    else if (tf->bits == 4)
                        codes[b * bb + k] = (uint8_t)(cc[2 * k] | cc[2 * k + 1] << 4);
                    else {
                        size_t g = k / 3;
                        uint32_t w = (uint32_t)cc[4 * g] | (uint32_t)cc[4 * g + 1] << 6 |
                                     (uint32_t)cc[4 * g + 2] << 12 | (uint32_t)cc[4 * g + 3] << 18;
                        codes[b * bb + k] = (uint8_t)(w >> (8 * (k % 3)));
                    }
                }
            }
            for (int k = 0; k < np; k++) {
                struct fg_mx_params p = fg_mx_params_default();
                p.path = ps[k];
                CHECK_OK(t, fg_mx_dequantize(tf->f, &p, sc, codes, nblk * 32, out, NULL, 0));
                for (size_t i = 0; i < nblk * 32; i++) {
                    double want = tdecode(tf, (int)(i % (size_t)ncodes), scales[si]);
                    float v = out[i];
                    /* the decoded value is exact unless it overflows fp32 */
                    int ok = isnan(want)
                                 ? isnan(v)
                                 : (fabs(want) >= 0x1p128
                                        ? isinf(v) && !signbit(v) == !signbit(want)
                                        : (double)v == want && !signbit(v) == !signbit(want));
                    if (!ok) {
                        fg_test_fail(t, __FILE__, __LINE__,
                                     "%s path %s scale %d code 0x%02X: %.9g, want %.9g",
                                     fg_mx_format_name(tf->f), fg_num_path_name(ps[k]), scales[si],
                                     (int)(i % (size_t)ncodes), (double)v, want);
                        break;
                    }
                }
            }
        }
        free(codes);
        free(out);
    }
    /* the specials of §B.6 */
    CHECK(t, isinf(fg_mx_decode_element(FG_MX_FORMAT_E5M2, 0x7C, 127)));
    CHECK(t, fg_mx_decode_element(FG_MX_FORMAT_E5M2, 0x7C, 127) > 0);
    CHECK(t, isnan(fg_mx_decode_element(FG_MX_FORMAT_E4M3, 0x7F, 127)));
    for (int fi = 0; fi < 6; fi++)
        CHECK(t, isnan(fg_mx_decode_element(TF[fi].f, 0x01, 0xFF)));
}

/* ---- MX blocks: §B.6 ---------------------------------------------------------------------- */

struct bvec {
    enum fg_mx_format f;
    int block;     /* which input block */
    int scale;     /* expected scale byte */
    int n;         /* codes given */
    int codes[32]; /* expected codes (unpacked) */
};

static const struct bvec BV[] = {
    { FG_MX_FORMAT_E4M3, 1, 0x7A, 32, { 0xF2, 0xF1, 0xF0, 0xEE, 0xEC, 0xEA, 0xE8, 0xE4,
                                        0xE0, 0xD8, 0x00, 0x58, 0x60, 0x64, 0x68, 0x6A,
                                        0x6C, 0x6E, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75,
                                        0x76, 0x77, 0x78, 0x78, 0x79, 0x7A, 0x7A, 0x7A } },
    { FG_MX_FORMAT_E5M2, 1, 0x73, 32, { 0xF5, 0xF4, 0xF4, 0xF3, 0xF2, 0xF1, 0xF0, 0xEE,
                                        0xEC, 0xE8, 0x00, 0x68, 0x6C, 0x6E, 0x70, 0x71,
                                        0x72, 0x73, 0x74, 0x74, 0x75, 0x76, 0x76, 0x76,
                                        0x77, 0x78, 0x78, 0x78, 0x78, 0x79, 0x79, 0x79 } },
    { FG_MX_FORMAT_E3M2, 1, 0x7E, 32, { 0x39, 0x38, 0x38, 0x37, 0x36, 0x35, 0x34, 0x32,
                                        0x30, 0x2C, 0x00, 0x0C, 0x10, 0x12, 0x14, 0x15,
                                        0x16, 0x17, 0x18, 0x18, 0x19, 0x1A, 0x1A, 0x1A,
                                        0x1B, 0x1C, 0x1C, 0x1C, 0x1C, 0x1D, 0x1D, 0x1D } },
    { FG_MX_FORMAT_E2M3, 1, 0x80, 32, { 0x32, 0x31, 0x30, 0x2E, 0x2C, 0x2A, 0x28, 0x26,
                                        0x24, 0x22, 0x00, 0x02, 0x04, 0x06, 0x08, 0x0A,
                                        0x0C, 0x0E, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                        0x16, 0x17, 0x18, 0x18, 0x19, 0x1A, 0x1A, 0x1A } },
    { FG_MX_FORMAT_E2M1, 1, 0x80, 32, { 0xC, 0xC, 0xC, 0xC, 0xB, 0xA, 0xA, 0xA, 0x9, 0x8, 0x0,
                                        0x0, 0x1, 0x2, 0x2, 0x2, 0x3, 0x4, 0x4, 0x4, 0x4, 0x5,
                                        0x5, 0x5, 0x6, 0x6, 0x6, 0x6, 0x6, 0x6, 0x6, 0x7 } },
    { FG_MX_FORMAT_INT8, 1, 0x82, 32, { 0xD8, 0xDC, 0xE0, 0xE4, 0xE8, 0xEC, 0xF0, 0xF4,
                                        0xF8, 0xFC, 0x00, 0x04, 0x08, 0x0C, 0x10, 0x14,
                                        0x18, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x30, 0x34,
                                        0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54 } },
    { FG_MX_FORMAT_E2M1, 2, 0x7F, 4, { 0x7, 0x5, 0x1, 0xA } },
    { FG_MX_FORMAT_E4M3, 2, 0x79, 4, { 0x7E, 0x74, 0x5A, 0xE9 } },
    { FG_MX_FORMAT_INT8, 2, 0x81, 4, { 0x70, 0x30, 0x05, 0xEE } },
    { FG_MX_FORMAT_E4M3, 3, 0x00, 3, { 0x09, 0x83, 0x2E } },
    { FG_MX_FORMAT_E2M1, 3, 0x00, 3, { 0x0, 0x8, 0x1 } },
    { FG_MX_FORMAT_E4M3, 4, 0xF6, 4, { 0x7E, 0x00, 0xF9, 0x00 } },
    { FG_MX_FORMAT_E5M2, 4, 0xEF, 4, { 0x7B, 0x00, 0xF9, 0x0A } },
    { FG_MX_FORMAT_E4M3, 5, 0xFF, 0, { 0 } },
    { FG_MX_FORMAT_E5M2, 6, 0xFF, 0, { 0 } },
    { FG_MX_FORMAT_E2M1, 8, 0x7E, 8, { 0x0, 0x9, 0x1, 0xA, 0x2, 0xA, 0x3, 0xB } },
    { FG_MX_FORMAT_E4M3, 8, 0x78, 8, { 0x55, 0xDD, 0x62, 0xE5, 0x68, 0xEA, 0x6B, 0xED } },
    { FG_MX_FORMAT_E4M3, 9, 0x8A, 1, { 0x7E } },
};

static void make_block(int which, float x[32])
{
    memset(x, 0, 32 * sizeof(float));
    switch (which) {
    case 1:
        for (int i = 0; i < 32; i++)
            x[i] = (float)i / 2 - 5;
        break;
    case 2:
        x[0] = 7, x[1] = 3, x[2] = 0.3f, x[3] = -1.1f;
        break;
    case 3:
        x[0] = 1e-40f, x[1] = -3e-41f, x[2] = 2.5e-39f;
        break;
    case 4:
        x[0] = 3e38f, x[1] = 1, x[2] = -2e38f, x[3] = 1e30f;
        break;
    case 5:
        x[0] = 1, x[1] = NAN;
        break;
    case 6:
        x[0] = 1, x[1] = INFINITY;
        break;
    case 8:
        for (int k = 0; k < 32; k++)
            x[k] = 0.1f * (float)(k + 1) * (k % 2 ? -1.0f : 1.0f);
        break;
    case 9:
        x[0] = 1048575.9375f;
        break;
    default:
        break;
    }
}

TEST(mx_block_spec_vectors)
{
    enum fg_num_path ps[4];
    int np = paths(ps);
    for (size_t v = 0; v < sizeof BV / sizeof BV[0]; v++) {
        const struct bvec *b = &BV[v];
        const struct tfmt *tf = &TF[b->f];
        float x[32], out[32];
        make_block(b->block, x);
        for (int k = 0; k < np; k++) {
            struct fg_mx_params p = fg_mx_params_default();
            p.path = ps[k];
            uint8_t s, codes[32];
            int c[32];
            CHECK_OK(t, fg_mx_quantize(b->f, &p, x, 32, &s, codes, NULL, 0));
            tunpack(tf, codes, c);
            int bad = s != b->scale;
            for (int i = 0; i < b->n; i++)
                bad |= c[i] != b->codes[i];
            if (bad)
                fg_test_fail(
                    t, __FILE__, __LINE__,
                    "block B%d %s path %s: scale 0x%02X (want 0x%02X), code[0..3] %02X %02X "
                    "%02X %02X",
                    b->block, fg_mx_format_name(b->f), fg_num_path_name(ps[k]), s, b->scale, c[0],
                    c[1], c[2], c[3]);
            CHECK_OK(t, fg_mx_dequantize(b->f, &p, &s, codes, 32, out, NULL, 0));
            for (int i = 0; i < 32; i++) {
                double want = tdecode(tf, c[i], s);
                if (isnan(want) ? !isnan(out[i]) : (double)out[i] != want)
                    fg_test_fail(t, __FILE__, __LINE__, "block B%d %s: decoded[%d] %.9g, want %.9g",
                                 b->block, fg_mx_format_name(b->f), i, (double)out[i], want);
            }
        }
    }
    /* some decoded values stated by the spec */
    float x[32], out[32];
    uint8_t s, codes[32];
    make_block(3, x);
    CHECK_OK(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, NULL, x, 32, &s, codes, NULL, 0));
    CHECK_OK(t, fg_mx_dequantize(FG_MX_FORMAT_E4M3, NULL, &s, codes, 32, out, NULL, 0));
    CHECK(t, out[0] == 1.0331493e-40f && out[1] == -3.4438311e-41f && out[2] == 2.5713939e-39f);
    make_block(4, x);
    CHECK_OK(t, fg_mx_quantize(FG_MX_FORMAT_E5M2, NULL, x, 32, &s, codes, NULL, 0));
    CHECK_OK(t, fg_mx_dequantize(FG_MX_FORMAT_E5M2, NULL, &s, codes, 32, out, NULL, 0));
    CHECK(t, out[0] == 2.9774707e38f && out[2] == -2.1267648e38f && out[3] == 9.5073795e29f);
    make_block(9, x);
    CHECK_OK(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, NULL, x, 32, &s, codes, NULL, 0));
    CHECK_OK(t, fg_mx_dequantize(FG_MX_FORMAT_E4M3, NULL, &s, codes, 32, out, NULL, 0));
    CHECK(t, out[0] == 917504.0f);
    /* B7: all zeros -> scale 0x00, codes 0, for every format; -0 is kept by the FP formats */
    for (int fi = 0; fi < 6; fi++) {
        memset(x, 0, sizeof x);
        x[5] = -0.0f;
        memset(codes, 0xAA, sizeof codes);
        CHECK_OK(t, fg_mx_quantize(TF[fi].f, NULL, x, 32, &s, codes, NULL, 0));
        CHECK_EQ_I64(t, s, 0);
        int c[32];
        tunpack(&TF[fi], codes, c);
        for (int i = 0; i < 32; i++)
            CHECK_EQ_I64(t, c[i], i == 5 && TF[fi].ebits ? 1 << (TF[fi].bits - 1) : 0);
    }
    /* B5, B6: a NaN block decodes to NaN everywhere */
    make_block(6, x);
    CHECK_OK(t, fg_mx_quantize(FG_MX_FORMAT_E5M2, NULL, x, 32, &s, codes, NULL, 0));
    CHECK_OK(t, fg_mx_dequantize(FG_MX_FORMAT_E5M2, NULL, &s, codes, 32, out, NULL, 0));
    for (int i = 0; i < 32; i++)
        CHECK(t, isnan(out[i]));
}

/* ---- random and adversarial blocks against the brute-force quantizer --------------------- */

/* Blocks of many kinds: wide random magnitudes (fp32 subnormal to near FLT_MAX), exact grid
 * midpoints (ties) and points just around them, saturation-range values, amax just below a power
 * of two (the log2f trap), signed zeros, NaN and Inf. n_blocks * 32 floats. */
static void adversarial_blocks(float *x, size_t n_blocks, const struct tfmt *tf, struct fg_rng *r)
{
    for (size_t b = 0; b < n_blocks; b++) {
        float *v = x + b * 32;
        int kind = (int)fg_rng_below(r, 9);
        int e0 = (int)fg_rng_below(r, 270) - 145; /* block exponent */
        if (e0 > 120)
            e0 = 120;
        for (int i = 0; i < 32; i++) {
            double y;
            int em = (int)fg_rng_below(r, (uint64_t)tf->max_code + 1);
            int em2 = em < tf->max_code ? em + 1 : em;
            switch (kind) {
            case 0: /* normal values spread over 2^-24 .. 1 relative to the block */
                y = fg_rng_normal(r) * ldexp(1.0, e0 - (int)fg_rng_below(r, 24));
                break;
            case 1: /* exact midpoints between adjacent codes, X = 2^e0: ties */
                y = ldexp((tval(tf, em) + tval(tf, em2)) / 2, e0);
                break;
            case 2: /* one fp32 ulp around a midpoint */
                y = ldexp((tval(tf, em) + tval(tf, em2)) / 2, e0);
                y = nextafterf((float)y, fg_rng_below(r, 2) ? INFINITY : 0.0f);
                break;
            case 3: /* the saturation range (max_normal, 2^(emax+1)) times X */
                y = ldexp(tf->max_normal +
                              (ldexp(1.0, tf->emax + 1) - tf->max_normal) * fg_rng_uniform(r),
                          e0);
                break;
            case 4: /* fp32 subnormals */
                y = ldexp((double)fg_rng_below(r, 1u << 23), -149);
                break;
            case 5: /* amax 2^k (1 - 2^-24) */
                y = i == 0 ? ldexp(1.0 - 0x1p-24, e0) : fg_rng_normal(r) * ldexp(1.0, e0 - 3);
                break;
            case 6: /* zeros of both signs, a few values */
                y = fg_rng_below(r, 4) ? 0.0 : fg_rng_normal(r) * ldexp(1.0, e0);
                break;
            case 7: /* a NaN or an Inf somewhere */
                y = i == 13 ? (fg_rng_below(r, 2) ? (double)NAN : -(double)INFINITY)
                            : fg_rng_normal(r);
                break;
            default: /* grid points exactly */
                y = ldexp(tval(tf, em), e0);
                break;
            }
            if (y > 3e38 || y < -3e38)
                y = y > 0 ? 3e38 : -3e38;
            float f = (float)y;
            if (fg_rng_below(r, 2) && kind != 7)
                f = -f;
            if (kind == 6 && f == 0.0f && fg_rng_below(r, 2))
                f = -0.0f;
            v[i] = f;
        }
    }
}

TEST(mx_quantize_brute_force)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    enum fg_num_path ps[4];
    int np = paths(ps);
    const size_t nb = 600;
    float *x = xmalloc(nb * 32 * 4);
    uint8_t *sc = xmalloc(nb), *codes = xmalloc(nb * 32);
    for (int fi = 0; fi < 6; fi++) {
        const struct tfmt *tf = &TF[fi];
        adversarial_blocks(x, nb, tf, &r);
        for (int rule = 0; rule < 3; rule++) {
            for (int flush = 0; flush < 2; flush++) {
                size_t bad = 0, first = (size_t)-1;
                for (int k = 0; k < np; k++) {
                    struct fg_mx_params p = fg_mx_params_default();
                    p.path = ps[k];
                    p.scale_rule = (enum fg_mx_scale_rule)rule;
                    p.flush_subnormals = flush;
                    CHECK_OK(t, fg_mx_quantize(tf->f, &p, x, nb * 32, sc, codes, NULL, 0));
                    for (size_t b = 0; b < nb; b++) {
                        int ws, wc[32], gc[32];
                        tquant_block(tf, rule, flush, x + b * 32, &ws, wc);
                        tunpack(tf, codes + b * (size_t)fg_mx_block_bytes(tf->f), gc);
                        int diff = ws != sc[b];
                        for (int i = 0; i < 32; i++)
                            diff |= wc[i] != gc[i];
                        if (diff && first == (size_t)-1)
                            first = b;
                        bad += (size_t)diff;
                    }
                }
                if (bad) {
                    const float *v = x + first * 32;
                    fg_test_fail(t, __FILE__, __LINE__,
                                 "%s rule %d flush %d: %zu blocks differ from brute force; first "
                                 "block %zu: %.9g %.9g %.9g ...",
                                 fg_mx_format_name(tf->f), rule, flush, bad, first, (double)v[0],
                                 (double)v[1], (double)v[2]);
                }
            }
        }
    }
    free(x);
    free(sc);
    free(codes);
}

/* |deq(q(x)) - x| <= rho |x| + tau X for every element of every finite block */
TEST(mx_error_bound_per_element)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed + 1);
    const size_t nb = 2000;
    float *x = xmalloc(nb * 32 * 4), *y = xmalloc(nb * 32 * 4);
    uint8_t *sc = xmalloc(nb), *codes = xmalloc(nb * 32);
    for (int fi = 0; fi < 6; fi++) {
        const struct tfmt *tf = &TF[fi];
        const struct fg_mx_format_info *info = fg_mx_format_info(tf->f);
        adversarial_blocks(x, nb, tf, &r);
        for (int rule = 0; rule < 3; rule++) {
            struct fg_mx_params p = fg_mx_params_default();
            p.scale_rule = (enum fg_mx_scale_rule)rule;
            CHECK_OK(t, fg_mx_quantize(tf->f, &p, x, nb * 32, sc, codes, NULL, 0));
            CHECK_OK(t, fg_mx_dequantize(tf->f, &p, sc, codes, nb * 32, y, NULL, 0));
            double worst = 0;
            for (size_t i = 0; i < nb * 32; i++) {
                if (sc[i / 32] == 0xFF)
                    continue;
                double X = ldexp(1.0, sc[i / 32] - 127);
                double err = fabs((double)y[i] - (double)x[i]);
                double bound = info->rho * fabs((double)x[i]) + info->tau * X;
                double ratio = err / bound;
                if (err > bound) {
                    fg_test_fail(t, __FILE__, __LINE__,
                                 "%s rule %d: x %.9g -> %.9g, err %.3g > %.3g",
                                 tf->f == FG_MX_FORMAT_INT8 ? "int8" : fg_mx_format_name(tf->f),
                                 rule, (double)x[i], (double)y[i], err, bound);
                    break;
                }
                worst = ratio > worst ? ratio : worst;
            }
            (void)worst;
        }
    }
    free(x);
    free(y);
    free(sc);
    free(codes);
}

TEST(mx_fast_equals_ref_bitwise)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed + 2);
    enum fg_num_path ps[4];
    int np = paths(ps);
    const size_t n = 32 * 3001 + 17; /* several OpenMP chunks and a partial block */
    size_t nb = fg_mx_n_blocks(n);
    float *x = xmalloc(nb * 32 * 4), *y0 = xmalloc(n * 4), *y1 = xmalloc(n * 4);
    uint8_t *s0 = xmalloc(nb), *s1 = xmalloc(nb), *c0 = xmalloc(nb * 32), *c1 = xmalloc(nb * 32);
    for (int fi = 0; fi < 6; fi++) {
        const struct tfmt *tf = &TF[fi];
        size_t bb = fg_mx_block_bytes(tf->f);
        adversarial_blocks(x, nb, tf, &r);
        for (int rule = 0; rule < 3; rule++) {
            for (int flush = 0; flush < 2; flush++) {
                struct fg_mx_params p = fg_mx_params_default();
                p.scale_rule = (enum fg_mx_scale_rule)rule;
                p.flush_subnormals = flush;
                CHECK_OK(t, fg_mx_quantize_ref(tf->f, &p, x, n, s0, c0, NULL, 0));
                CHECK_OK(t, fg_mx_dequantize_ref(tf->f, s0, c0, n, y0, NULL, 0));
                for (int k = 0; k < np; k++) {
                    for (int nt = 1; nt <= 2; nt++) {
                        p.path = ps[k];
                        p.n_threads = nt;
                        memset(c1, 0x5A, nb * bb);
                        CHECK_OK(t, fg_mx_quantize(tf->f, &p, x, n, s1, c1, NULL, 0));
                        CHECK_OK(t, fg_mx_dequantize(tf->f, &p, s0, c0, n, y1, NULL, 0));
                        if (memcmp(s0, s1, nb) || memcmp(c0, c1, nb * bb) || memcmp(y0, y1, n * 4))
                            fg_test_fail(t, __FILE__, __LINE__,
                                         "%s rule %d flush %d path %s threads %d differs from _ref",
                                         fg_mx_format_name(tf->f), rule, flush,
                                         fg_num_path_name(ps[k]), nt);
                    }
                }
            }
        }
        /* arbitrary bytes: every scale (NaN and huge ones too) and code pattern */
        for (size_t i = 0; i < nb; i++)
            s0[i] = (uint8_t)fg_rng_u64(&r);
        for (size_t i = 0; i < nb * bb; i++)
            c0[i] = (uint8_t)fg_rng_u64(&r);
        CHECK_OK(t, fg_mx_dequantize_ref(tf->f, s0, c0, n, y0, NULL, 0));
        for (int k = 0; k < np; k++) {
            struct fg_mx_params p = fg_mx_params_default();
            p.path = ps[k];
            p.n_threads = 2;
            CHECK_OK(t, fg_mx_dequantize(tf->f, &p, s0, c0, n, y1, NULL, 0));
            if (memcmp(y0, y1, n * 4))
                fg_test_fail(t, __FILE__, __LINE__, "%s random bytes: path %s differs from _ref",
                             fg_mx_format_name(tf->f), fg_num_path_name(ps[k]));
        }
    }
    free(x);
    free(y0);
    free(y1);
    free(s0);
    free(s1);
    free(c0);
    free(c1);
}

TEST(mx_partial_block_is_zero_padded)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed + 3);
    float x[96] = { 0 }, y[100];
    for (int i = 0; i < 70; i++)
        x[i] = (float)fg_rng_normal(&r);
    for (int fi = 0; fi < 6; fi++) {
        enum fg_mx_format f = TF[fi].f;
        uint8_t s70[3], c70[96], s96[3], c96[96];
        memset(c70, 0x77, sizeof c70);
        CHECK_OK(t, fg_mx_quantize(f, NULL, x, 70, s70, c70, NULL, 0));
        CHECK_OK(t, fg_mx_quantize_ref(f, NULL, x, 96, s96, c96, NULL, 0));
        size_t cb = 0;
        CHECK_OK(t, fg_mx_sizes(f, 70, NULL, &cb));
        CHECK_EQ_I64(t, cb, 3 * fg_mx_block_bytes(f));
        CHECK(t, !memcmp(s70, s96, 3) && !memcmp(c70, c96, cb));
        for (int i = 0; i < 100; i++)
            y[i] = 12345.0f;
        CHECK_OK(t, fg_mx_dequantize(f, NULL, s70, c70, 70, y, NULL, 0));
        CHECK(t, y[69] != 12345.0f && y[70] == 12345.0f && y[95] == 12345.0f);
    }
    CHECK_EQ_I64(t, fg_mx_n_blocks(0), 0);
    CHECK_EQ_I64(t, fg_mx_n_blocks(1), 1);
    CHECK_EQ_I64(t, fg_mx_n_blocks(64), 2);
    CHECK_EQ_I64(t, fg_mx_n_blocks(65), 3);
}

TEST(mx_bad_input)
{
    char err[256];
    enum fg_mx_format f;
    enum fg_mx_scale_rule rule;
    CHECK_OK(t, fg_mx_format_from_name("E4M3", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MX_FORMAT_E4M3);
    CHECK_OK(t, fg_mx_format_from_name("mxfp4", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MX_FORMAT_E2M1);
    CHECK_OK(t, fg_mx_format_from_name("mxint8", &f, err, sizeof err));
    CHECK_EQ_I64(t, f, FG_MX_FORMAT_INT8);
    err[0] = 0;
    CHECK_EQ_I64(t, fg_mx_format_from_name("e4m4", &f, err, sizeof err), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "e4m4") && strstr(err, "e5m2"));
    CHECK_EQ_I64(t, fg_mx_format_from_name(NULL, &f, NULL, 0), FG_ERR_INVALID_ARG);
    CHECK_OK(t, fg_mx_scale_rule_from_name("RCEIL", &rule, err, sizeof err));
    CHECK_EQ_I64(t, rule, FG_MX_SCALE_RULE_RCEIL);
    CHECK_EQ_I64(t, fg_mx_scale_rule_from_name("round", &rule, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "round") != NULL);
    CHECK(t, fg_mx_format_info((enum fg_mx_format)6) == NULL);
    CHECK(t, !strcmp(fg_mx_format_name((enum fg_mx_format) - 1), "unknown"));

    float x[64] = { 1.0f };
    float y[64];
    uint8_t s[2], c[64];
    struct fg_mx_params p = fg_mx_params_default();
    p.block_size = 16;
    err[0] = 0;
    CHECK_EQ_I64(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, &p, x, 64, s, c, err, sizeof err),
                 FG_ERR_UNSUPPORTED);
    CHECK(t, strstr(err, "16") && strstr(err, "32"));
    CHECK_EQ_I64(t, fg_mx_quantize_ref(FG_MX_FORMAT_E4M3, &p, x, 64, s, c, err, sizeof err),
                 FG_ERR_UNSUPPORTED);
    CHECK_EQ_I64(t, fg_mx_dequantize(FG_MX_FORMAT_E4M3, &p, s, c, 64, y, err, sizeof err),
                 FG_ERR_UNSUPPORTED);
    p = fg_mx_params_default();
    p.scale_rule = (enum fg_mx_scale_rule)7;
    CHECK_EQ_I64(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, &p, x, 64, s, c, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_mx_quantize((enum fg_mx_format)9, NULL, x, 64, s, c, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "9") != NULL);
    CHECK_EQ_I64(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, NULL, NULL, 64, s, c, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK_OK(t, fg_mx_quantize(FG_MX_FORMAT_E4M3, NULL, NULL, 0, NULL, NULL, err, sizeof err));

    /* the byte buffer: whole blocks only */
    uint8_t buf[3 * 25];
    memset(buf, 0x3C, sizeof buf);
    size_t n_out = 0;
    err[0] = 0;
    CHECK_EQ_I64(
        t, fg_mx_decode_buffer(FG_MX_FORMAT_E3M2, NULL, buf, 60, y, 64, &n_out, err, sizeof err),
        FG_ERR_FORMAT);
    CHECK(t, strstr(err, "60") && strstr(err, "25-byte") && strstr(err, "75") && strstr(err, "50"));
    CHECK_OK(t,
             fg_mx_decode_buffer(FG_MX_FORMAT_E3M2, NULL, buf, 50, y, 64, &n_out, err, sizeof err));
    CHECK_EQ_I64(t, n_out, 64);
    CHECK_EQ_I64(
        t, fg_mx_decode_buffer(FG_MX_FORMAT_E3M2, NULL, buf, 75, y, 64, &n_out, err, sizeof err),
        FG_ERR_INVALID_ARG);
    CHECK_OK(
        t, fg_mx_decode_buffer(FG_MX_FORMAT_E2M1, NULL, NULL, 0, NULL, 0, &n_out, err, sizeof err));
    CHECK_EQ_I64(t, n_out, 0);
    CHECK_EQ_I64(
        t, fg_mx_decode_buffer((enum fg_mx_format)6, NULL, buf, 33, y, 64, &n_out, err, sizeof err),
        FG_ERR_INVALID_ARG);

    /* matmul shapes */
    uint8_t as[2] = { 127, 127 }, ac[64] = { 0 };
    struct fg_mx_matrix A = { FG_MX_FORMAT_INT8, 1, 64, as, ac };
    struct fg_mx_matrix B = { FG_MX_FORMAT_INT8, 1, 64, as, ac };
    float C[1];
    uint8_t work[16];
    err[0] = 0;
    B.cols = 32;
    CHECK_EQ_I64(t, fg_mx_matmul_ref(C, &A, &B, NULL, err, sizeof err), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "64") && strstr(err, "32"));
    A.cols = B.cols = 48;
    CHECK_EQ_I64(t, fg_mx_matmul_ref(C, &A, &B, NULL, err, sizeof err), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "48") && strstr(err, "64"));
    A.cols = B.cols = 64;
    A.format = (enum fg_mx_format)8;
    CHECK_EQ_I64(t, fg_mx_matmul_ref(C, &A, &B, NULL, err, sizeof err), FG_ERR_INVALID_ARG);
    A.format = FG_MX_FORMAT_INT8;
    p = fg_mx_params_default();
    p.path = FG_NUM_PATH_AVX512X;
    if (fg_num_path_resolve(FG_NUM_PATH_AVX512X) >= FG_NUM_PATH_AVX512) {
        err[0] = 0;
        CHECK_EQ_I64(t, fg_mx_matmul(C, &A, &B, NULL, &p, work, sizeof work, err, sizeof err),
                     FG_ERR_INVALID_ARG);
        CHECK(t, strstr(err, "workspace") != NULL);
    }
    p.block_size = 64;
    CHECK_EQ_I64(t, fg_mx_matmul(C, &A, &B, NULL, &p, NULL, 0, err, sizeof err),
                 FG_ERR_UNSUPPORTED);
    float d;
    CHECK_EQ_I64(t, fg_mx_dot(FG_MX_FORMAT_INT8, NULL, ac, as, ac, 2, FG_NUM_PATH_AUTO, &d),
                 FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_mx_dot((enum fg_mx_format)7, as, ac, as, ac, 2, FG_NUM_PATH_AUTO, &d),
                 FG_ERR_INVALID_ARG);
}

/* ---- dot products and matrix products ----------------------------------------------------- */

/* The MXINT8 definition recomputed from the codes: exact integer block sums, the scaled value
 * in double (exact) rounded once to fp32, fp32 additions in block order. */
static float i8_dot_exact(float acc, const uint8_t *sa, const uint8_t *ca, const uint8_t *sb,
                          const uint8_t *cb, size_t nbk)
{
    for (size_t j = 0; j < nbk; j++) {
        long long S = 0;
        for (int i = 0; i < 32; i++)
            S += (long long)(int8_t)ca[j * 32 + (size_t)i] * (int8_t)cb[j * 32 + (size_t)i];
        float v = (sa[j] == 0xFF || sb[j] == 0xFF)
                      ? NAN
                      : (float)ldexp((double)S, (int)sa[j] + (int)sb[j] - 254 - 12);
        acc += v;
    }
    return acc;
}

/* random int8 operands: codes anywhere in -128..127, scales mostly moderate, some extreme
 * (products that overflow or underflow fp32) and some NaN */
static void random_i8(uint8_t *s, uint8_t *c, size_t rows, size_t K, struct fg_rng *r, int extreme)
{
    size_t nbk = K / 32;
    for (size_t i = 0; i < rows * nbk; i++) {
        uint64_t z = fg_rng_u64(r);
        s[i] = (uint8_t)(110 + z % 30);
        if (extreme && (z >> 8) % 17 == 0)
            s[i] = (uint8_t)((z >> 16) % 3 == 0 ? 0xFF : (z >> 16) % 3 == 1 ? 1 : 0xFE);
    }
    for (size_t i = 0; i < rows * K; i++)
        c[i] = (uint8_t)fg_rng_u64(r);
}

static int same_float(float a, float b)
{
    return (isnan(a) && isnan(b)) || f2u(a) == f2u(b);
}

TEST(mx_int8_dot_and_matmul_exact)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed + 4);
    enum fg_num_path ps[4];
    int np = paths(ps);
    static const size_t shapes[][3] = { { 1, 1, 32 },   { 7, 33, 96 },  { 64, 64, 256 },
                                        { 70, 45, 64 }, { 5, 100, 32 }, { 130, 31, 160 },
                                        { 62, 17, 64 }, { 3, 40, 32 },  { 9, 64, 64 },
                                        { 122, 2, 96 } };
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++) {
        size_t M = shapes[sh][0], N = shapes[sh][1], K = shapes[sh][2], nbk = K / 32;
        for (int extreme = 0; extreme < 2; extreme++) {
            uint8_t *as = xmalloc(M * nbk), *ac = xmalloc(M * K);
            uint8_t *bs = xmalloc(N * nbk), *bc = xmalloc(N * K);
            float *bias = xmalloc(N * 4), *want = xmalloc(M * N * 4), *got = xmalloc(M * N * 4);
            random_i8(as, ac, M, K, &r, extreme);
            random_i8(bs, bc, N, K, &r, extreme);
            for (size_t n = 0; n < N; n++)
                bias[n] = (float)fg_rng_normal(&r);
            for (size_t m = 0; m < M; m++)
                for (size_t n = 0; n < N; n++)
                    want[m * N + n] = i8_dot_exact(bias[n], as + m * nbk, ac + m * K, bs + n * nbk,
                                                   bc + n * K, nbk);
            struct fg_mx_matrix A = { FG_MX_FORMAT_INT8, M, K, as, ac };
            struct fg_mx_matrix B = { FG_MX_FORMAT_INT8, N, K, bs, bc };
            size_t wb = fg_mx_matmul_work_bytes(A.format, B.format, M, N, K);
            void *work = xmalloc(wb);
            CHECK_OK(t, fg_mx_matmul_ref(got, &A, &B, bias, NULL, 0));
            size_t bad = 0;
            for (size_t i = 0; i < M * N; i++)
                bad += !same_float(got[i], want[i]);
            for (int k = 0; k < np; k++) {
                for (int nt = 1; nt <= 2; nt++) {
                    struct fg_mx_params p = fg_mx_params_default();
                    p.path = ps[k];
                    p.n_threads = nt;
                    memset(got, 0, M * N * 4);
                    CHECK_OK(t, fg_mx_matmul(got, &A, &B, bias, &p, work, wb, NULL, 0));
                    for (size_t i = 0; i < M * N; i++)
                        bad += !same_float(got[i], want[i]);
                }
                /* single dot products: row 0 of A with every row of B, no bias */
                for (size_t n = 0; n < N; n++) {
                    float d = 0;
                    CHECK_OK(t, fg_mx_dot(FG_MX_FORMAT_INT8, as, ac, bs + n * nbk, bc + n * K, nbk,
                                          ps[k], &d));
                    bad +=
                        !same_float(d, i8_dot_exact(0.0f, as, ac, bs + n * nbk, bc + n * K, nbk));
                }
            }
            if (bad)
                fg_test_fail(t, __FILE__, __LINE__,
                             "MXINT8 %zu x %zu x %zu (extreme scales %d): %zu results differ from "
                             "the exact integer computation",
                             M, N, K, extreme, bad);
            free(as);
            free(ac);
            free(bs);
            free(bc);
            free(bias);
            free(want);
            free(got);
            free(work);
        }
    }
    /* with unit scales the product is the integer sum itself, exactly: sum c_a c_b 2^-12 */
    uint8_t s[4] = { 127, 127, 127, 127 }, a[128], b[128];
    long long S = 0;
    for (int i = 0; i < 128; i++) {
        a[i] = (uint8_t)(i % 2 ? -127 : 127);
        b[i] = (uint8_t)(i % 3 ? 127 : -128);
        S += (long long)(int8_t)a[i] * (int8_t)b[i];
    }
    for (int k = 0; k < np; k++) {
        float d = 0;
        CHECK_OK(t, fg_mx_dot(FG_MX_FORMAT_INT8, s, a, s, b, 4, ps[k], &d));
        CHECK(t, (double)d * 4096.0 == (double)S);
    }
}

/* The a-priori bound of docs/numerics.md 10.5 for C = bias + q(A) q(B)^T against the exact
 * bias + A B^T of the unquantized inputs, element (m, n). */
static double fp_bound(const struct fg_mx_format_info *ia, const struct fg_mx_format_info *ib,
                       const float *a, const uint8_t *sa, const float *b, const uint8_t *sb,
                       size_t K, float bias)
{
    double ra = ia->rho, rb = ib->rho, ta = ia->tau, tb = ib->tau;
    double u = 0x1p-24, gamma = (double)(K + 1) * u / (1.0 - (double)(K + 1) * u);
    double quant = 0, mag = fabs((double)bias);
    for (size_t k = 0; k < K; k++) {
        double Xa = ldexp(1.0, sa[k / 32] - 127), Xb = ldexp(1.0, sb[k / 32] - 127);
        double aa = fabs((double)a[k]), bb = fabs((double)b[k]);
        double da = ra * aa + ta * Xa, db = rb * bb + tb * Xb; /* per-element bounds */
        quant += da * bb + aa * db + da * db;
        mag += (aa + da) * (bb + db); /* >= |q(a) q(b)| */
    }
    return quant + gamma * mag + (double)(K + 1) * 0x1p-149;
}

TEST(mx_fp_matmul_within_derived_bound)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed + 5);
    enum fg_num_path ps[4];
    int np = paths(ps);

    static const enum fg_mx_format pairs[][2] = {
        { FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E4M3 }, { FG_MX_FORMAT_E5M2, FG_MX_FORMAT_E5M2 },
        { FG_MX_FORMAT_E4M3, FG_MX_FORMAT_E5M2 }, { FG_MX_FORMAT_E3M2, FG_MX_FORMAT_E3M2 },
        { FG_MX_FORMAT_E2M3, FG_MX_FORMAT_E2M1 }, { FG_MX_FORMAT_INT8, FG_MX_FORMAT_E4M3 },
    };

    const size_t M = 37, N = 70, K = 192, nbk = K / 32;
    float *a = xmalloc(M * K * 4), *b = xmalloc(N * K * 4), *bias = xmalloc(N * 4);
    float *cref = xmalloc(M * N * 4), *cfast = xmalloc(M * N * 4);
    uint8_t *as = xmalloc(M * nbk), *ac = xmalloc(M * K), *bs = xmalloc(N * nbk),
            *bc = xmalloc(N * K);
    for (size_t pi = 0; pi < sizeof pairs / sizeof pairs[0]; pi++) {
        enum fg_mx_format fa = pairs[pi][0], fb = pairs[pi][1];
        /* inputs with an outlier per row (saturation, tiny elements) and varying row scales */
        for (size_t i = 0; i < M * K; i++)
            a[i] = (float)(fg_rng_normal(&r) * ldexp(1.0, (int)(i / K % 7) - 3));
        for (size_t i = 0; i < N * K; i++)
            b[i] = (float)(fg_rng_normal(&r) * ((i % 53) == 0 ? 100.0 : 1.0));
        for (size_t n = 0; n < N; n++)
            bias[n] = (float)fg_rng_normal(&r);
        CHECK_OK(t, fg_mx_quantize_ref(fa, NULL, a, M * K, as, ac, NULL, 0));
        CHECK_OK(t, fg_mx_quantize_ref(fb, NULL, b, N * K, bs, bc, NULL, 0));
        struct fg_mx_matrix A = { fa, M, K, as, ac }, B = { fb, N, K, bs, bc };
        size_t wb = fg_mx_matmul_work_bytes(fa, fb, M, N, K);
        void *work = xmalloc(wb);
        CHECK_OK(t, fg_mx_matmul_ref(cref, &A, &B, bias, NULL, 0));
        const struct fg_mx_format_info *ia = fg_mx_format_info(fa), *ib = fg_mx_format_info(fb);
        double worst_ref = 0, worst_fast = 0;
        for (int k = 0; k < np; k++) {
            struct fg_mx_params p = fg_mx_params_default();
            p.path = ps[k];
            p.n_threads = 2;
            CHECK_OK(t, fg_mx_matmul(cfast, &A, &B, bias, &p, work, wb, NULL, 0));
            for (size_t m = 0; m < M; m++) {
                for (size_t n = 0; n < N; n++) {
                    double exact = bias[n], mag = fabs((double)bias[n]);
                    for (size_t kk = 0; kk < K; kk++)
                        exact += (double)a[m * K + kk] * (double)b[n * K + kk];
                    double bound = fp_bound(ia, ib, a + m * K, as + m * nbk, b + n * K,
                                            bs + n * nbk, K, bias[n]);
                    double er = fabs((double)cref[m * N + n] - exact);
                    double ef = fabs((double)cfast[m * N + n] - exact);
                    worst_ref = er / bound > worst_ref ? er / bound : worst_ref;
                    worst_fast = ef / bound > worst_fast ? ef / bound : worst_fast;
                    /* fast against _ref: summation order only */
                    float da[32], db[32];
                    for (size_t j = 0; j < nbk; j++) {
                        fg_mx_dequantize_ref(fa, as + m * nbk + j,
                                             ac + (m * nbk + j) * ia->block_bytes, 32, da, NULL, 0);
                        fg_mx_dequantize_ref(fb, bs + n * nbk + j,
                                             bc + (n * nbk + j) * ib->block_bytes, 32, db, NULL, 0);
                        for (int i = 0; i < 32; i++)
                            mag += fabs((double)da[i] * (double)db[i]);
                    }
                    double u = 0x1p-24, g = (double)(K + 1) * u / (1.0 - (double)(K + 1) * u);
                    double dfr = fabs((double)cfast[m * N + n] - (double)cref[m * N + n]);
                    if (!(er <= bound && ef <= bound && dfr <= TOL_FP_DOT_GAMMAS * g * mag)) {
                        fg_test_fail(t, __FILE__, __LINE__,
                                     "%s x %s path %s [%zu,%zu]: ref %.9g fast %.9g exact %.9g "
                                     "bound %.3g",
                                     fg_mx_format_name(fa), fg_mx_format_name(fb),
                                     fg_num_path_name(ps[k]), m, n, (double)cref[m * N + n],
                                     (double)cfast[m * N + n], exact, bound);
                        m = M;
                        break;
                    }
                }
            }
        }
        printf("  %s x %s: max error / bound = %.3f (_ref), %.3f (fast paths)\n",
               fg_mx_format_name(fa), fg_mx_format_name(fb), worst_ref, worst_fast);
        /* the dot product: same definition as one matmul element without bias */
        float d0 = 0, d1 = 0;
        if (fa == fb) {
            CHECK_OK(t, fg_mx_dot_ref(fa, as, ac, bs, bc, nbk, &d0));
            for (int k = 0; k < np; k++) {
                CHECK_OK(t, fg_mx_dot(fa, as, ac, bs, bc, nbk, ps[k], &d1));
                double bound = fp_bound(ia, ib, a, as, b, bs, K, 0.0f);
                double exact = 0;
                for (size_t kk = 0; kk < K; kk++)
                    exact += (double)a[kk] * (double)b[kk];
                CHECK(t, fabs((double)d0 - exact) <= bound && fabs((double)d1 - exact) <= bound);
            }
        }
        free(work);
    }
    free(a);
    free(b);
    free(bias);
    free(cref);
    free(cfast);
    free(as);
    free(ac);
    free(bs);
    free(bc);
}

TEST(num_paths)
{
    enum fg_num_path best = fg_num_path_best();
    CHECK(t, best >= FG_NUM_PATH_REF && best <= FG_NUM_PATH_AVX512X);
    CHECK_EQ_I64(t, fg_num_path_resolve(FG_NUM_PATH_AUTO), best);
    CHECK_EQ_I64(t, fg_num_path_resolve(FG_NUM_PATH_REF), FG_NUM_PATH_REF);
    CHECK(t, fg_num_path_resolve(FG_NUM_PATH_AVX512X) == best);
    printf("  best path %s (cpu bf16 %d, vnni %d)\n", fg_num_path_name(best), fg_num_cpu_has_bf16(),
           fg_num_cpu_has_vnni());
}

static const struct fg_test_case cases[] = {
    { "num_paths", test_num_paths },
    { "bf16_spec_vectors", test_bf16_spec_vectors },
    { "mx_element_spec_vectors", test_mx_element_spec_vectors },
    { "mx_decode_every_code", test_mx_decode_every_code },
    { "mx_block_spec_vectors", test_mx_block_spec_vectors },
    { "mx_quantize_brute_force", test_mx_quantize_brute_force },
    { "mx_error_bound_per_element", test_mx_error_bound_per_element },
    { "mx_fast_equals_ref_bitwise", test_mx_fast_equals_ref_bitwise },
    { "mx_partial_block_is_zero_padded", test_mx_partial_block_is_zero_padded },
    { "mx_bad_input", test_mx_bad_input },
    { "mx_int8_dot_and_matmul_exact", test_mx_int8_dot_and_matmul_exact },
    { "mx_fp_matmul_within_derived_bound", test_mx_fp_matmul_within_derived_bound },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
