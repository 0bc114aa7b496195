/* Flash optimizers: master-weight split/join against an independent ldexpf/frexpf
 * implementation and the spec's bounds (docs/flashoptim.md), the group quantizers against hand
 * test vectors and the reference's round-trip thresholds, and the fused step against the fp32
 * reference (bitwise with fp32 storage), against double-precision optimizers written here, and
 * against its fp32 twin with compressed storage. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/flashoptim.h"
#include "frugal/numerics.h"
#include "test.h"

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

static float f_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

static uint32_t u_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

/* ---- split / join ---------------------------------------------------------------------- */

/* Independent split: the nearer of the two bf16 neighbours (by double arithmetic; a tie goes to
 * the one toward zero), half a ULP from frexpf of it, ldexpf for the scaling, the code by C's
 * round (half away from zero) of the exact product in double. Finite theta only. */
static void split_indep(float theta, int bits, uint16_t *w, int32_t *rho)
{
    float nmax = bits == 16 ? 32767.0f : 127.0f;
    uint16_t lo = (uint16_t)(u_of(theta) >> 16), hi = (uint16_t)(lo + 1);
    double dlo = fabs((double)theta - (double)fg_bf16_decode(lo));
    double dhi = fabs((double)theta - (double)fg_bf16_decode(hi));
    uint16_t h = dhi < dlo ? hi : lo;
    float tq = fg_bf16_decode(h);
    int ex;
    if (tq == 0.0f || fabsf(tq) < 0x1p-126f)
        ex = -125; /* frexp exponent of the smallest normal binade */
    else
        (void)frexpf(tq, &ex); /* tq = f * 2^ex, f in [0.5, 1): ULP = 2^(ex - 1 - 7) */
    int l = ex - 1 - 7 - 1;
    float en = ldexpf(theta - tq, -l);
    en = fminf(fmaxf(en, -1.0f), 1.0f);
    *w = h;
    *rho = (int32_t)round((double)en * (double)nmax); /* exact product, then half away */
}

static float join_indep(uint16_t h, int32_t rho, int bits)
{
    float nmax = bits == 16 ? 32767.0f : 127.0f, tq = fg_bf16_decode(h);
    int ex;
    if (tq == 0.0f || fabsf(tq) < 0x1p-126f)
        ex = -125;
    else
        (void)frexpf(tq, &ex);
    return tq + ldexpf((float)rho * (1.0f / nmax), ex - 1 - 7 - 1);
}

/* Every fp32 with exponent -30..30 (a stride of mantissas; FG_TEST_SLOW=1: all of them), both
 * signs: the library equals the independent split and join, and the errors keep the spec's
 * bounds: 24-bit max relative error <= 2^-7/508 (1 + 2^-20), 32-bit bit-exact >= 99.7%. */
TEST(split_join_sweep)
{
    uint32_t stride = getenv("FG_TEST_SLOW") ? 1u : 97u;
    double max_rel8 = 0, max_rel16 = 0;
    size_t n = 0, exact16 = 0, mism = 0, inv = 0;
    for (int e = -30; e <= 30; e++)
        for (uint32_t mant = 0; mant < (1u << 23); mant += stride)
            for (int sgn = 0; sgn < 2; sgn++) {
                uint32_t u = ((uint32_t)sgn << 31) | ((uint32_t)(e + 127) << 23) | mant;
                float x = f_of(u);
                uint16_t w8, w16, wi;
                int32_t r8, r16, ri;
                fg_flash_split(x, 8, &w8, &r8);
                fg_flash_split(x, 16, &w16, &r16);
                split_indep(x, 8, &wi, &ri);
                if (wi != w8 || ri != r8)
                    mism++;
                split_indep(x, 16, &wi, &ri);
                if (wi != w16 || ri != r16)
                    mism++;
                float j8 = fg_flash_join(w8, r8, 8), j16 = fg_flash_join(w16, r16, 16);
                if (u_of(j8) != u_of(join_indep(w8, r8, 8)) ||
                    u_of(j16) != u_of(join_indep(w16, r16, 16)))
                    mism++;
                double e0 = fabs((double)fg_bf16_decode(w8) - (double)x),
                       e8 = fabs((double)j8 - (double)x), e16 = fabs((double)j16 - (double)x);
                /* the reference's invariants: corrections never hurt */
                if ((e0 == 0 && e8 != 0) || (e0 == 0 && e16 != 0) || (e8 == 0 && e16 != 0) ||
                    e16 > e8)
                    inv++;
                max_rel8 = fmax(max_rel8, e8 / fabs((double)x));
                max_rel16 = fmax(max_rel16, e16 / fabs((double)x));
                exact16 += j16 == x;
                n++;
            }
    CHECK_EQ_I64(t, mism, 0);
    CHECK_EQ_I64(t, inv, 0);
    /* 2^-7/508 relative to the bf16 value's binade; a theta just under a power of two that
     * rounds up to it is on the upper binade's grid but up to 2^-9 smaller: (1 + 2^-8) */
    double bound8 = ldexp(1.0, -7) / 508.0 * (1.0 + ldexp(1.0, -8));
    if (!(max_rel8 <= bound8))
        fg_test_fail(t, __FILE__, __LINE__, "24-bit max relative error %.4g > bound %.4g", max_rel8,
                     bound8);
    CHECK(t, max_rel8 > 0.9 * bound8); /* the bound is reached: the grid is what we think */
    double frac16 = (double)exact16 / (double)n;
    if (!(frac16 >= 0.997))
        fg_test_fail(t, __FILE__, __LINE__, "32-bit bit-exact %.4f%% < 99.7%%", 100 * frac16);
    CHECK(t, max_rel16 < 2e-7);
}

TEST(split_join_edges)
{
    /* boundary values of the reference's tests, zero, subnormals, huge values */
    const float xs[] = { 1.0f,           2.0f - 0x1p-23f, 2.0f,      0.5f,        -1.0f,
                         -2.0f,          -0.5f,           0.0f,      -0.0f,       0x1p-149f,
                         -0x1p-140f,     0x1p-127f,       0x1p-126f, 1e-30f,      3.0e38f,
                         -3.4028235e38f, 1.0f + 0x1p-23f, 65504.0f,  1.00390625f, 1.0f - 0x1p-24f };
    for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++)
        for (int bits = 8; bits <= 16; bits += 8) {
            uint16_t w, wi;
            int32_t r, ri;
            fg_flash_split(xs[i], bits, &w, &r);
            if (fabsf(xs[i]) < 0x1.FEp127f) { /* above, bf16 rounds to Inf */
                split_indep(xs[i], bits, &wi, &ri);
                CHECK_EQ_I64(t, w, wi);
                CHECK_EQ_I64(t, r, ri);
            } else {
                CHECK(t, isinf(fg_bf16_decode(w)));
            }
            CHECK(t, r >= -(bits == 16 ? 32767 : 127) && r <= (bits == 16 ? 32767 : 127));
            float j = fg_flash_join(w, r, bits);
            double err = fabs((double)j - (double)xs[i]);
            double tq_err = fabs((double)fg_bf16_decode(w) - (double)xs[i]);
            CHECK(t, err <= tq_err);
            if (bits == 16 && fabsf(xs[i]) >= 0x1p-100f && !isinf(fg_bf16_decode(w)))
                CHECK(t, err <= fabs((double)xs[i]) * 2e-7);
        }
    /* exact bf16 values have rho 0 and join back exactly, -0 keeps its sign */
    uint16_t w;
    int32_t r;
    fg_flash_split(-0.0f, 8, &w, &r);
    CHECK_EQ_I64(t, w, 0x8000);
    CHECK_EQ_I64(t, r, 0);
    CHECK(t, signbit(fg_flash_join(w, r, 8)));
    /* Inf and NaN: no undefined behaviour (UBSan), rho 0, join gives them back */
    fg_flash_split(INFINITY, 8, &w, &r);
    CHECK_EQ_I64(t, r, 0);
    CHECK(t, isinf(fg_flash_join(w, r, 8)));
    fg_flash_split(NAN, 16, &w, &r);
    CHECK_EQ_I64(t, r, 0);
    CHECK(t, isnan(fg_flash_join(w, r, 16)));
    /* array forms equal the scalar ones */
    float a[5] = { 1.1f, -2.7e-3f, 123.456f, 0.0f, 1e-20f }, b[5];
    uint16_t w16[5];
    int8_t r8[5];
    fg_flash_split_n(a, 5, 8, w16, r8);
    fg_flash_join_n(w16, r8, 5, 8, b);
    for (int i = 0; i < 5; i++) {
        fg_flash_split(a[i], 8, &w, &r);
        CHECK_EQ_I64(t, w16[i], w);
        CHECK_EQ_I64(t, r8[i], r);
        CHECK(t, u_of(b[i]) == u_of(fg_flash_join(w, r, 8)));
    }
}

/* split(join(h, rho)) gives (h, rho) back (or the same value): every finite bf16 value with
 * every int8 code, and a sample of the int16 codes. A step that changes nothing leaves the
 * weights' bits alone. */
TEST(split_join_fixed_points)
{
    size_t bad = 0, n = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7F80u) == 0x7F80u)
            continue; /* Inf, NaN */
        for (int bits = 8; bits <= 16; bits += 8) {
            int nmax = bits == 16 ? 32767 : 127, stride = bits == 16 ? 1021 : 1;
            for (int r = -nmax; r <= nmax; r += (r < nmax - stride ? stride : 1)) {
                float x = fg_flash_join((uint16_t)h, r, bits);
                uint16_t w;
                int32_t r2;
                fg_flash_split(x, bits, &w, &r2);
                float y = fg_flash_join(w, r2, bits);
                bad += u_of(x) != u_of(y);
                n++;
            }
        }
    }
    if (bad)
        fg_test_fail(t, __FILE__, __LINE__, "%zu of %zu (h, rho) pairs move under split(join)", bad,
                     n);
}

/* ---- quantizers -------------------------------------------------------------------------- */

TEST(quant_test_vectors)
{
    /* m: absmax 1 (an exact scale in both formats); z = 0.5 -> y = 2/3, 127 y + 0.5 = 85.17 ->
     * 85; z = -0.25 -> y = -0.4 -> -50.3 -> -51; z = 1 -> 127; 0 -> 0 */
    float m[4] = { 1.0f, 0.5f, -0.25f, 0.0f }, back[4];
    int8_t q[4];
    uint16_t s;
    for (int f = 0; f < 2; f++) {
        enum fg_flash_scale fmt = (enum fg_flash_scale)f;
        fg_flash_quant_m(m, 4, fmt, q, &s);
        CHECK_EQ_I64(t, q[0], 127);
        CHECK_EQ_I64(t, q[1], 85);
        CHECK_EQ_I64(t, q[2], -51);
        CHECK_EQ_I64(t, q[3], 0);
        CHECK_EQ_I64(t, s, fmt == FG_FLASH_SCALE_FP16 ? 0x3C00 : 0x3F80);
        fg_flash_dequant_m(q, &s, 4, fmt, back);
        /* 85/127 / (2 - 85/127) = 85/169 */
        CHECK(t, back[0] == 1.0f && back[3] == 0.0f);
        CHECK(t, fabsf(back[1] - 85.0f / 169.0f) < 1e-7f);
        CHECK(t, fabsf(back[2] - (-51.0f / 203.0f)) < 1e-7f);
    }
    /* v: sqrt = 2, 1, 0.5, 0; scale 2; codes floor(255 r / 2 + 0.5) = 255, 128, 64, 0 */
    float v[4] = { 4.0f, 1.0f, 0.25f, 0.0f }, vb[4];
    uint8_t qv[4];
    fg_flash_quant_v(v, 4, FG_FLASH_SCALE_BF16, qv, &s);
    CHECK_EQ_I64(t, qv[0], 255);
    CHECK_EQ_I64(t, qv[1], 128);
    CHECK_EQ_I64(t, qv[2], 64);
    CHECK_EQ_I64(t, qv[3], 0);
    CHECK_EQ_I64(t, s, 0x4000);
    fg_flash_dequant_v(qv, &s, 4, FG_FLASH_SCALE_BF16, 0, vb);
    CHECK(t, vb[0] == 4.0f && vb[3] == 0.0f);
    CHECK(t, fabsf(vb[1] - (256.0f / 255.0f) * (256.0f / 255.0f)) < 1e-6f);
    fg_flash_dequant_v(qv, &s, 4, FG_FLASH_SCALE_BF16, 1, vb); /* code 0 as half a step */
    CHECK(t, fabsf(vb[3] - (1.0f / 255.0f) * (1.0f / 255.0f)) < 1e-10f);
    /* a bf16 scale is rounded up: codes against it stay in range, the max code may be 126 */
    float m2[2] = { 1.0f + 0x1p-10f, -0.3f };
    fg_flash_quant_m(m2, 2, FG_FLASH_SCALE_BF16, q, &s);
    CHECK_EQ_I64(t, s, 0x3F81); /* 1 + 2^-7 */
    CHECK(t, q[0] == 126 || q[0] == 127);
}

static double cosine(const float *a, const float *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)a[i] * (double)b[i];
        aa += (double)a[i] * (double)a[i];
        bb += (double)b[i] * (double)b[i];
    }
    return aa == 0 && bb == 0 ? 1.0 : ab / sqrt(aa * bb);
}

/* The reference's round-trip thresholds, over its shapes and inputs: cosine > 0.9999 (m, on
 * random inputs), MAE <= 1.6 absmax / 255, zeros stay zero, the tail group's max error at most
 * 2x the interior's and its scale within one bf16 step (2^-7) above its true max (bf16
 * rounded up; fp16: 0.3%). */
TEST(quant_round_trip_thresholds)
{
    const size_t shapes[] = { 5, 12, 16, 17, 32, 17 * 32, 1024 * 16 + 7 };
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
        for (int kind = 0; kind < 5; kind++)
            for (int f = 0; f < 2; f++) {
                size_t n = shapes[si], ng = fg_flash_n_groups(n);
                enum fg_flash_scale fmt = (enum fg_flash_scale)f;
                float *x = xcalloc(n, 4), *y = xcalloc(n, 4), *v = xcalloc(n, 4),
                      *vy = xcalloc(n, 4);
                int8_t *q = xcalloc(n, 1);
                uint8_t *qv = xcalloc(n, 1);
                uint16_t *s = xcalloc(ng, 2), *sv = xcalloc(ng, 2);
                for (size_t i = 0; i < n; i++) {
                    double g = fg_rng_normal(&r);
                    switch (kind) {
                    case 0:
                        x[i] = 0.0f;
                        break; /* zeros */
                    case 1:
                        x[i] = i % 2 ? 3.0f : -3.0f;
                        break; /* constant max */
                    case 2:
                        x[i] = (float)(1e-3 * g);
                        break; /* small */
                    case 3:
                        x[i] = (float)(g * pow(10.0, (double)(i % 7) - 3));
                        break; /* mixed */
                    default:
                        x[i] = (float)g;
                        break; /* random */
                    }
                    v[i] = x[i] * x[i];
                }
                fg_flash_quant_m(x, n, fmt, q, s);
                fg_flash_dequant_m(q, s, n, fmt, y);
                fg_flash_quant_v(v, n, fmt, qv, sv);
                fg_flash_dequant_v(qv, sv, n, fmt, 0, vy);
                double mae = 0, amax = 0;
                for (size_t i = 0; i < n; i++) {
                    mae += fabs((double)y[i] - (double)x[i]);
                    amax = fmax(amax, fabs((double)x[i]));
                    if (x[i] == 0.0f && (y[i] != 0.0f || vy[i] != 0.0f))
                        fg_test_fail(t, __FILE__, __LINE__, "zero not kept (n %zu kind %d)", n,
                                     kind);
                }
                mae /= (double)n;
                if (mae > 1.6 * amax / 255.0)
                    fg_test_fail(t, __FILE__, __LINE__, "m MAE %.3g > 1.6 absmax/255 (n %zu)", mae,
                                 n);
                if (kind == 4 && n >= 32) {
                    double c = cosine(x, y, n);
                    if (!(c > 0.9999))
                        fg_test_fail(t, __FILE__, __LINE__, "m cosine %.6f (n %zu)", c, n);
                    /* sqrt(v) is linear in its group: its error is at most half a code */
                    for (size_t i = 0; i < n; i++) {
                        double sc = fmt == FG_FLASH_SCALE_FP16 ? fg_fp16_decode(sv[i / 32])
                                                               : fg_bf16_decode(sv[i / 32]);
                        double err = fabs(sqrt((double)vy[i]) - fabs((double)x[i]));
                        if (err > sc * (0.5 / 255.0 + ldexp(1.0, -10))) {
                            fg_test_fail(t, __FILE__, __LINE__, "v error %.3g at %zu", err, i);
                            break;
                        }
                    }
                }
                /* the tail group: scale close to (and for bf16 not under) its true max */
                if (n % 32 && kind >= 1) {
                    size_t g0 = (ng - 1) * 32;
                    double tmax = 0, terr = 0, ierr = 0;
                    for (size_t i = g0; i < n; i++) {
                        tmax = fmax(tmax, fabs((double)x[i]));
                        terr = fmax(terr, fabs((double)y[i] - (double)x[i]) / amax);
                    }
                    for (size_t i = 0; i < g0; i++)
                        ierr = fmax(ierr, fabs((double)y[i] - (double)x[i]) / amax);
                    double sc = fmt == FG_FLASH_SCALE_FP16 ? fg_fp16_decode(s[ng - 1])
                                                           : fg_bf16_decode(s[ng - 1]);
                    if (tmax > 1e-4) {
                        if (fmt == FG_FLASH_SCALE_BF16)
                            CHECK(t, sc >= tmax && sc <= tmax * (1 + ldexp(1, -7)));
                        else
                            CHECK(t, fabs(sc - tmax) <= 0.003 * tmax);
                    }
                    if (ng > 1 && kind == 4 && ierr > 0)
                        CHECK(t, terr <= 2 * ierr);
                }
                free(x), free(y), free(v), free(vy), free(q), free(qv), free(s), free(sv);
            }
}

/* Decision 1 (docs/flashoptim.md): fp16 scales flush groups whose max is under ~3e-8 to zero
 * and lose precision under ~6e-5; bf16 scales keep every group's codes at any magnitude. */
TEST(quant_tiny_groups_need_bf16_scales)
{
    float x[32], y[32];
    int8_t q[32];
    uint16_t s;
    for (int e = -40; e <= 0; e += 5) {
        for (int i = 0; i < 32; i++)
            x[i] = (float)(ldexp(1.0, e) * sin(1.0 + i));
        fg_flash_quant_m(x, 32, FG_FLASH_SCALE_BF16, q, &s);
        fg_flash_dequant_m(q, &s, 32, FG_FLASH_SCALE_BF16, y);
        double c = cosine(x, y, 32);
        if (!(c > 0.9999))
            fg_test_fail(t, __FILE__, __LINE__, "bf16 scale at 2^%d: cosine %.6f", e, c);
        fg_flash_quant_m(x, 32, FG_FLASH_SCALE_FP16, q, &s);
        fg_flash_dequant_m(q, &s, 32, FG_FLASH_SCALE_FP16, y);
        if (e <= -30) { /* under 2^-25: the fp16 scale is 0 and the group decodes as zeros */
            int all0 = 1;
            for (int i = 0; i < 32; i++)
                all0 &= y[i] == 0.0f;
            CHECK(t, all0);
        }
    }
}

TEST(quant_nan_inf_no_ub)
{
    float x[32] = { 0 }, y[32];
    int8_t q[32];
    uint8_t qv[32];
    uint16_t s;
    x[3] = NAN;
    x[5] = 2.0f;
    fg_flash_quant_m(x, 32, FG_FLASH_SCALE_BF16, q, &s);
    CHECK_EQ_I64(t, q[3], 0);
    CHECK_EQ_I64(t, q[5], 127);
    x[7] = INFINITY;
    fg_flash_quant_m(x, 32, FG_FLASH_SCALE_FP16, q, &s);
    fg_flash_quant_v(x, 32, FG_FLASH_SCALE_BF16, qv, &s);
    x[7] = -1.0f; /* sqrt of a negative: NaN, code 0 */
    fg_flash_quant_v(x, 32, FG_FLASH_SCALE_BF16, qv, &s);
    CHECK_EQ_I64(t, qv[7], 0);
    fg_flash_dequant_m(q, &s, 32, FG_FLASH_SCALE_BF16, y);
}

/* ---- the step ------------------------------------------------------------------------------ */

struct store {
    size_t n;
    float *w32, *m32, *v32;
    uint16_t *w16, *ms, *vs;
    int8_t *rho8, *mq;
    int16_t *rho16;
    uint8_t *vq;
    struct fg_flash_tensor x;
};

/* master: 0 fp32 weights, 8 bf16+int8, 16 bf16+int16, -1 bf16 alone; quant: states quantized */
static void store_init(struct store *s, const float *w0, size_t n, int master, int quant,
                       enum fg_flash_scale fmt)
{
    memset(s, 0, sizeof *s);
    size_t ng = fg_flash_n_groups(n);
    s->n = n;
    s->x.n = n;
    s->x.scale_fmt = fmt;
    if (master == 0) {
        s->w32 = xcalloc(n, 4);
        memcpy(s->w32, w0, n * 4);
        s->x.w32 = s->w32;
    } else {
        s->w16 = xcalloc(n, 2);
        s->x.w16 = s->w16;
        if (master == 8) {
            s->rho8 = xcalloc(n, 1);
            fg_flash_split_n(w0, n, 8, s->w16, s->rho8);
            s->x.rho8 = s->rho8;
        } else if (master == 16) {
            s->rho16 = xcalloc(n, 2);
            fg_flash_split_n(w0, n, 16, s->w16, s->rho16);
            s->x.rho16 = s->rho16;
        } else {
            fg_fp32_to_bf16_ref(s->w16, w0, n);
        }
    }
    if (quant) {
        s->mq = xcalloc(n, 1);
        s->vq = xcalloc(n, 1);
        s->ms = xcalloc(ng, 2);
        s->vs = xcalloc(ng, 2);
        s->x.mq = s->mq, s->x.vq = s->vq, s->x.ms = s->ms, s->x.vs = s->vs;
    } else {
        s->m32 = xcalloc(n, 4);
        s->v32 = xcalloc(n, 4);
        s->x.m32 = s->m32, s->x.v32 = s->v32;
    }
}

static void store_weights(const struct store *s, float *w)
{
    if (s->w32)
        memcpy(w, s->w32, s->n * 4);
    else if (s->rho8)
        fg_flash_join_n(s->w16, s->rho8, s->n, 8, w);
    else if (s->rho16)
        fg_flash_join_n(s->w16, s->rho16, s->n, 16, w);
    else
        fg_bf16_to_fp32_ref(w, s->w16, s->n);
}

static void store_free(struct store *s)
{
    free(s->w32), free(s->m32), free(s->v32), free(s->w16), free(s->ms), free(s->vs);
    free(s->rho8), free(s->mq), free(s->rho16), free(s->vq);
}

static struct fg_flash_hparams variant(int k)
{
    /* 0 AdamW, 1 Adam + L2, 2 SGD Nesterov, 3 SGDW + dampening + lr0, 4 Lion + wd, 5 SGD mu 0 */
    static const enum fg_flash_kind kinds[] = { FG_FLASH_ADAM, FG_FLASH_ADAM, FG_FLASH_SGD,
                                                FG_FLASH_SGD,  FG_FLASH_LION, FG_FLASH_SGD };
    struct fg_flash_hparams h = fg_flash_hparams_default(kinds[k]);
    switch (k) {
    case 1:
        h.decoupled = 0, h.weight_decay = 0.05f, h.beta2 = 0.95f;
        break;
    case 2:
        h.nesterov = 1, h.weight_decay = 1e-3f;
        break;
    case 3:
        h.decoupled = 1, h.weight_decay = 0.1f, h.dampening = 0.1f, h.lr0 = 0.02f;
        break;
    case 4:
        h.weight_decay = 0.1f;
        break;
    case 5:
        h.momentum = 0.0f;
        break;
    default:
        break;
    }
    return h;
}

#define N_VARIANTS 6

static float variant_lr(int k)
{
    return k == 2 || k == 3 || k == 5 ? 0.02f : (k == 4 ? 1e-3f : 3e-3f);
}

/* With fp32 weights and fp32 states the fused step is the reference, bit for bit, for every
 * optimizer variant, with 1 and 2 threads, on a length over one block and not a multiple of
 * 32, with a gradient scale. */
TEST(step_fp32_storage_equals_ref_bitwise)
{
    size_t n = 3 * 8192 + 77;
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    float *w0 = xcalloc(n, 4), *g = xcalloc(n, 4), *wr = xcalloc(n, 4), *mr = xcalloc(n, 4),
          *vr = xcalloc(n, 4);
    for (size_t i = 0; i < n; i++)
        w0[i] = (float)(0.1 * fg_rng_normal(&r));
    for (int k = 0; k < N_VARIANTS; k++)
        for (int nt = 1; nt <= 2; nt++) {
            struct fg_flash_hparams h = variant(k);
            struct store s;
            store_init(&s, w0, n, 0, 0, FG_FLASH_SCALE_BF16);
            memcpy(wr, w0, n * 4);
            memset(mr, 0, n * 4);
            memset(vr, 0, n * 4);
            for (int step = 1; step <= 5; step++) {
                for (size_t i = 0; i < n; i++)
                    g[i] = (float)fg_rng_normal(&r) * (i % 3 ? 1.0f : 1e-3f);
                CHECK_OK(t, fg_flash_step(&s.x, g, NULL, 0.75f, step, variant_lr(k), &h, nt));
                fg_flash_step_ref(wr, mr, vr, g, n, 0.75f, step, variant_lr(k), &h);
            }
            CHECK(t, memcmp(s.w32, wr, n * 4) == 0);
            if (fg_flash_n_states(&h) >= 1)
                CHECK(t, memcmp(s.m32, mr, n * 4) == 0);
            if (fg_flash_n_states(&h) >= 2)
                CHECK(t, memcmp(s.v32, vr, n * 4) == 0);
            store_free(&s);
        }
    free(w0), free(g), free(wr), free(mr), free(vr);
}

/* The fp32 reference against the optimizers written out in double here (torch's formulas):
 * 10 steps, relative 2e-5 of the weights' change. */
TEST(step_ref_matches_double_optimizers)
{
    size_t n = 1000;
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    float *w = xcalloc(n, 4), *m = xcalloc(n, 4), *v = xcalloc(n, 4), *g = xcalloc(n, 4);
    double *wd = xcalloc(n, 8), *md = xcalloc(n, 8), *vd = xcalloc(n, 8);
    float *w0 = xcalloc(n, 4), *dw = xcalloc(n, 4), *dwd = xcalloc(n, 4);
    for (int k = 0; k < N_VARIANTS; k++) {
        struct fg_flash_hparams h = variant(k);
        float lr = variant_lr(k), gs = 0.5f;
        for (size_t i = 0; i < n; i++) {
            w0[i] = w[i] = (float)fg_rng_normal(&r);
            wd[i] = w[i];
            m[i] = v[i] = 0.0f;
            md[i] = vd[i] = 0.0;
        }
        for (int step = 1; step <= 10; step++) {
            for (size_t i = 0; i < n; i++)
                g[i] = (float)(fg_rng_normal(&r) + 0.3);
            fg_flash_step_ref(w, m, v, g, n, gs, step, lr, &h);
            double b1 = h.beta1, b2 = h.beta2, eps = h.eps, wdc = h.weight_decay, mu = h.momentum,
                   damp = h.dampening, lrd = lr;
            double wdeff = h.lr0 > 0 ? wdc * lrd / (double)h.lr0 : lrd * wdc;
            for (size_t i = 0; i < n; i++) {
                double gi = (double)g[i] * (double)gs;
                if (h.kind == FG_FLASH_ADAM) {
                    if (!h.decoupled)
                        gi += wdc * wd[i];
                    md[i] = b1 * md[i] + (1.0 - b1) * gi;
                    vd[i] = b2 * vd[i] + (1.0 - b2) * gi * gi;
                    if (h.decoupled)
                        wd[i] *= 1.0 - wdeff;
                    double mh = md[i] / (1.0 - pow(b1, step)), vh = vd[i] / (1.0 - pow(b2, step));
                    wd[i] -= lrd * mh / (sqrt(vh) + eps);
                } else if (h.kind == FG_FLASH_SGD) {
                    if (!h.decoupled)
                        gi += wdc * wd[i];
                    double d = gi;
                    if (mu != 0.0) {
                        md[i] = mu * md[i] + (1.0 - damp) * gi;
                        d = h.nesterov ? gi + mu * md[i] : md[i];
                    }
                    if (h.decoupled)
                        wd[i] *= 1.0 - wdeff;
                    wd[i] -= lrd * d;
                } else {
                    double c = b1 * md[i] + (1.0 - b1) * gi;
                    md[i] = b2 * md[i] + (1.0 - b2) * gi;
                    wd[i] *= 1.0 - wdeff;
                    wd[i] -= lrd * (c > 0 ? 1.0 : (c < 0 ? -1.0 : 0.0));
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            dw[i] = w[i] - w0[i];
            dwd[i] = (float)(wd[i] - (double)w0[i]);
        }
        /* each of the 10 steps rounds the fp32 weight once: allow 12 of its ULPs */
        size_t bad = 0, worst = 0;
        double worst_r = 0;
        for (size_t i = 0; i < n; i++) {
            double ulp = ldexp(1.0, ilogb(fmax(fabs((double)w0[i]), fabs((double)w[i]))) - 23);
            double tol = 12.0 * ulp + 1e-4 * fabs((double)dwd[i]);
            double err = fabs((double)dw[i] - (double)dwd[i]);
            if (err > tol) {
                bad++;
                if (err / tol > worst_r)
                    worst_r = err / tol, worst = i;
            }
        }
        if (bad)
            fg_test_fail(t, __FILE__, __LINE__,
                         "variant %d: %zu of %zu changes off; [%zu] %.9g "
                         "vs %.9g (w0 %.6g)",
                         k, bad, n, worst, (double)dw[worst], (double)dwd[worst],
                         (double)w0[worst]);
    }
    free(w), free(m), free(v), free(g), free(wd), free(md), free(vd), free(w0), free(dw), free(dwd);
}

/* Least squares y = A w* (A 64 x 269): a flash run (bf16 + int8 master, quantized states, bf16
 * gradients) against its fp32 twin over 100 steps. The weights agree (cosine >= 0.99, the
 * issue's fidelity point) and so do the weight changes (cosine > 0.975, NMSE < 0.05: the
 * reference's thresholds for bf16 parameters), while a different optimizer's changes do not
 * (the check can fail). */
static void lsq_grad(const float *A, const float *y, const float *w, float *g, size_t rows,
                     size_t cols)
{
    memset(g, 0, cols * 4);
    for (size_t i = 0; i < rows; i++) {
        double p = 0;
        for (size_t j = 0; j < cols; j++)
            p += (double)A[i * cols + j] * (double)w[j];
        float e = (float)((p - (double)y[i]) / (double)rows);
        for (size_t j = 0; j < cols; j++)
            g[j] += 2.0f * e * A[i * cols + j];
    }
}

static double lsq_loss(const float *A, const float *y, const float *w, size_t rows, size_t cols)
{
    double l = 0;
    for (size_t i = 0; i < rows; i++) {
        double p = 0;
        for (size_t j = 0; j < cols; j++)
            p += (double)A[i * cols + j] * (double)w[j];
        l += (p - (double)y[i]) * (p - (double)y[i]);
    }
    return l / (double)rows;
}

static void run_lsq(const float *A, const float *y, const float *w0, size_t rows, size_t cols,
                    int master, int quant, const struct fg_flash_hparams *h, float lr, int steps,
                    int nt, float *w_out, double *loss_first, double *loss_last)
{
    struct store s;
    store_init(&s, w0, cols, master, quant, FG_FLASH_SCALE_BF16);
    float *w = xcalloc(cols, 4), *g = xcalloc(cols, 4);
    uint16_t *g16 = xcalloc(cols, 2);
    for (int step = 1; step <= steps; step++) {
        store_weights(&s, w);
        if (step == 1 && loss_first)
            *loss_first = lsq_loss(A, y, w, rows, cols);
        lsq_grad(A, y, w, g, rows, cols);
        if (master != 0) { /* flash: bf16 gradients */
            fg_fp32_to_bf16_ref(g16, g, cols);
            (void)fg_flash_step(&s.x, NULL, g16, 1.0f, step, lr, h, nt);
        } else {
            (void)fg_flash_step(&s.x, g, NULL, 1.0f, step, lr, h, nt);
        }
    }
    store_weights(&s, w_out);
    if (loss_last)
        *loss_last = lsq_loss(A, y, w_out, rows, cols);
    free(w), free(g), free(g16);
    store_free(&s);
}

static double nmse(const float *a, const float *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - (double)ref[i]) * ((double)a[i] - (double)ref[i]);
        den += (double)ref[i] * (double)ref[i];
    }
    return num / den;
}

TEST(step_flash_fidelity_vs_fp32_twin)
{
    const size_t rows = 64, cols = 256 + 13;
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    float *A = xcalloc(rows * cols, 4), *y = xcalloc(rows, 4), *w0 = xcalloc(cols, 4);
    for (size_t i = 0; i < rows * cols; i++)
        A[i] = (float)fg_rng_normal(&r);
    for (size_t i = 0; i < rows; i++)
        y[i] = (float)fg_rng_normal(&r);
    for (size_t j = 0; j < cols; j++)
        w0[j] = (float)(0.5 * fg_rng_normal(&r));
    float *wf = xcalloc(cols, 4), *wq = xcalloc(cols, 4), *wo = xcalloc(cols, 4);
    float *df = xcalloc(cols, 4), *dq = xcalloc(cols, 4), *dother = xcalloc(cols, 4);
    const int kinds[] = { 0, 2, 4 }; /* AdamW, SGD Nesterov, Lion */
    for (int ki = 0; ki < 3; ki++) {
        int k = kinds[ki];
        struct fg_flash_hparams h = variant(k);
        float lr = k == 2 ? 1e-3f : variant_lr(k);
        double l0, lf, lq;
        run_lsq(A, y, w0, rows, cols, 0, 0, &h, lr, 100, 2, wf, &l0, &lf);
        run_lsq(A, y, w0, rows, cols, 8, 1, &h, lr, 100, 2, wq, NULL, &lq);
        /* a different optimizer, same storage as the twin */
        struct fg_flash_hparams ho = variant(k == 0 ? 4 : 0);
        run_lsq(A, y, w0, rows, cols, 0, 0, &ho, variant_lr(k == 0 ? 4 : 0), 100, 2, wo, NULL,
                NULL);
        for (size_t j = 0; j < cols; j++) {
            df[j] = wf[j] - w0[j];
            dq[j] = wq[j] - w0[j];
            dother[j] = wo[j] - w0[j];
        }
        double c = cosine(dq, df, cols), e = nmse(dq, df, cols), cw = cosine(wq, wf, cols);
        double co = cosine(dother, df, cols), eo = nmse(dother, df, cols);
        if (!(cw >= 0.99 && c > 0.975 && e < 0.05))
            fg_test_fail(t, __FILE__, __LINE__,
                         "variant %d: flash vs fp32 weights cosine %.5f, changes cosine %.5f "
                         "NMSE %.3g",
                         k, cw, c, e);
        if (!(co < 0.975 || eo > 0.05))
            fg_test_fail(t, __FILE__, __LINE__, "variant %d: other optimizer too close (%.5f %.3g)",
                         k, co, eo);
        if (!(lq < l0 && lf < l0))
            fg_test_fail(t, __FILE__, __LINE__, "variant %d: loss %.4g -> %.4g (fp32 %.4g)", k, l0,
                         lq, lf);
    }
    free(A), free(y), free(w0), free(wf), free(wq), free(wo), free(df), free(dq), free(dother);
}

/* More master bits, closer to fp32: 100 fixed pseudo-gradient AdamW steps from boundary values;
 * mean |w - w_fp32|: 24-bit < bf16 alone, 32-bit < bf16 alone, 32-bit <= 24-bit + 1e-5. */
TEST(step_master_bits_help)
{
    size_t n = 4096;
    float *w0 = xcalloc(n, 4), *g = xcalloc(n, 4), *wf = xcalloc(n, 4), *w = xcalloc(n, 4);
    static const float bnd[] = { 1.0f, 2.0f - 0x1p-23f, 2.0f, 0.5f };
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < n; i++) {
        w0[i] = i % 4 == 0 ? bnd[(i / 4) % 4] * (i % 8 ? 1.0f : -1.0f)
                           : (float)(0.2 * fg_rng_normal(&r));
        g[i] = (float)fg_rng_normal(&r);
    }
    struct fg_flash_hparams h = variant(0);
    double err[3];
    const int masters[] = { -1, 8, 16 };
    struct store sf;
    store_init(&sf, w0, n, 0, 0, FG_FLASH_SCALE_BF16);
    for (int step = 1; step <= 100; step++)
        (void)fg_flash_step(&sf.x, g, NULL, 1.0f, step, 1e-4f, &h, 2);
    memcpy(wf, sf.w32, n * 4);
    for (int mi = 0; mi < 3; mi++) {
        struct store s;
        store_init(&s, w0, n, masters[mi], 0, FG_FLASH_SCALE_BF16);
        for (int step = 1; step <= 100; step++)
            (void)fg_flash_step(&s.x, g, NULL, 1.0f, step, 1e-4f, &h, 2);
        store_weights(&s, w);
        double e = 0;
        for (size_t i = 0; i < n; i++)
            e += fabs((double)w[i] - (double)wf[i]);
        err[mi] = e / (double)n;
        store_free(&s);
    }
    store_free(&sf);
    if (!(err[1] < err[0] && err[2] < err[0] && err[2] <= err[1] + 1e-5))
        fg_test_fail(t, __FILE__, __LINE__, "mean |error|: bf16 %.3g, 24-bit %.3g, 32-bit %.3g",
                     err[0], err[1], err[2]);
    free(w0), free(g), free(wf), free(w);
}

/* Flash storage: 1 and 2 threads give the same bits; a bf16 gradient equals its fp32 value;
 * zero gradients without decay leave weights and states exactly as they were. */
TEST(step_flash_threads_grads_and_zero)
{
    size_t n = 2 * 8192 + 45;
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    float *w0 = xcalloc(n, 4), *g = xcalloc(n, 4), *z = xcalloc(n, 4);
    uint16_t *g16 = xcalloc(n, 2);
    for (size_t i = 0; i < n; i++)
        w0[i] = (float)fg_rng_normal(&r);
    for (int k = 0; k < N_VARIANTS; k++) {
        struct fg_flash_hparams h = variant(k);
        struct store a, b;
        store_init(&a, w0, n, 8, 1, FG_FLASH_SCALE_BF16);
        store_init(&b, w0, n, 8, 1, FG_FLASH_SCALE_BF16);
        for (int step = 1; step <= 3; step++) {
            for (size_t i = 0; i < n; i++)
                g16[i] = fg_bf16_encode((float)fg_rng_normal(&r));
            fg_bf16_to_fp32_ref(g, g16, n);
            CHECK_OK(t, fg_flash_step(&a.x, NULL, g16, 1.0f, step, variant_lr(k), &h, 1));
            CHECK_OK(t, fg_flash_step(&b.x, g, NULL, 1.0f, step, variant_lr(k), &h, 2));
        }
        CHECK(t, memcmp(a.w16, b.w16, n * 2) == 0 && memcmp(a.rho8, b.rho8, n) == 0);
        CHECK(t, memcmp(a.mq, b.mq, n) == 0 && memcmp(a.vq, b.vq, n) == 0);
        CHECK(t, memcmp(a.ms, b.ms, fg_flash_n_groups(n) * 2) == 0);
        /* zero gradient, no decay: nothing moves (Adam's m stays 0 only if it was) */
        struct store c;
        store_init(&c, w0, n, 8, 1, FG_FLASH_SCALE_BF16);
        h.weight_decay = 0.0f;
        for (int step = 1; step <= 3; step++)
            CHECK_OK(t, fg_flash_step(&c.x, z, NULL, 1.0f, step, variant_lr(k), &h, 2));
        float *w = xcalloc(n, 4), *wr = xcalloc(n, 4);
        store_weights(&c, w);
        uint16_t *w16 = xcalloc(n, 2);
        int8_t *r8 = xcalloc(n, 1);
        fg_flash_split_n(w0, n, 8, w16, r8);
        fg_flash_join_n(w16, r8, n, 8, wr);
        CHECK(t, memcmp(w, wr, n * 4) == 0);
        int states0 = 1;
        for (size_t i = 0; i < n; i++)
            states0 &= c.mq[i] == 0 && c.vq[i] == 0;
        CHECK(t, states0);
        free(w), free(wr), free(w16), free(r8);
        store_free(&a), store_free(&b), store_free(&c);
    }
    free(w0), free(g), free(z), free(g16);
}

static int store_equal(const struct store *a, const struct store *b)
{
    size_t n = a->n, ng = fg_flash_n_groups(n);
#define SAME(f, bytes) (!a->f || memcmp(a->f, b->f, (bytes)) == 0)
    return SAME(w32, n * 4) && SAME(m32, n * 4) && SAME(v32, n * 4) && SAME(w16, n * 2) &&
           SAME(rho8, n) && SAME(rho16, n * 2) && SAME(mq, n) && SAME(vq, n) && SAME(ms, ng * 2) &&
           SAME(vs, ng * 2);
#undef SAME
}

/* The AVX-512 kernel against the scalar code (FG_ISA=generic), bit for bit: every optimizer
 * variant, every weight storage (fp32, bf16 + int8, bf16 + int16, bf16 alone), fp32 and
 * quantized states with both scale formats and both zero decodings, fp32 and bf16 gradients,
 * on weights that include ties, binade edges, zeros, -0 and subnormals, over a partial last
 * group and over several blocks. */
TEST(step_avx512_equals_scalar_bitwise)
{
    if (fg_cpu_isa() < FG_ISA_AVX512) {
        fg_test_skip(t, "no AVX-512 on this CPU");
        return;
    }
    const size_t sizes[] = { 5 * 32 + 13, 2 * 8192 + 45 };
    /* ties, binade edges, zeros, subnormals, and (rare lanes of the split) FLT_MAX, whose bf16
     * rounding carries to Inf, Inf and NaN */
    static const float special[] = { 1.0f + 0x1p-8f, 2.0f - 0x1p-9f, 2.0f,     0.0f,     -0.0f,
                                     0x1p-130f,      -1.00390625f,   0.5f,     3.0e-39f, 65536.0f,
                                     FLT_MAX,        -FLT_MAX,       INFINITY, NAN };
    const int masters[] = { 0, 8, 16, -1 };
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    size_t cases = 0, bad = 0;
    for (size_t si = 0; si < 2; si++) {
        size_t n = sizes[si];
        float *w0 = xcalloc(n, 4), *g = xcalloc(n, 4);
        uint16_t *g16 = xcalloc(n, 2);
        for (size_t i = 0; i < n; i++)
            w0[i] = i % 5 == 0 ? special[(i / 5) % 14] : (float)(0.3 * fg_rng_normal(&r));
        for (int k = 0; k < N_VARIANTS; k++)
            for (int mi = 0; mi < 4; mi++)
                for (int q = 0; q < 4; q++) { /* fp32 states; bf16; fp16; bf16 + zero half */
                    if (si == 1 && (q == 2 || mi == 3))
                        continue;
                    struct fg_flash_hparams h = variant(k);
                    struct store a, b;
                    enum fg_flash_scale fmt = q == 2 ? FG_FLASH_SCALE_FP16 : FG_FLASH_SCALE_BF16;
                    store_init(&a, w0, n, masters[mi], q > 0, fmt);
                    store_init(&b, w0, n, masters[mi], q > 0, fmt);
                    a.x.v_zero_half = b.x.v_zero_half = q == 3;
                    if (q > 0) /* states from codes of every value, -128 too (a caller's codes
                                  need not be the encoder's [-127, 127]) */
                        for (size_t i = 0; i < n; i++) {
                            a.mq[i] = b.mq[i] = (int8_t)(uint8_t)(i * 37u + 128u);
                            a.vq[i] = b.vq[i] = (uint8_t)(i * 53u);
                            if (i % 32 == 0)
                                a.ms[i / 32] = b.ms[i / 32] = a.vs[i / 32] = b.vs[i / 32] =
                                    (uint16_t)(0x3C00 + (i / 32) % 64);
                        }
                    int use16 = (k + mi) % 2, same = 1;
                    for (int step = 1; step <= 3 && same; step++) {
                        for (size_t i = 0; i < n; i++) {
                            g[i] = (float)fg_rng_normal(&r) * (i % 7 == 0 ? 1e-9f : 1.0f);
                            g16[i] = fg_bf16_encode(g[i]);
                        }
                        float lr = variant_lr(k);
                        (void)fg_flash_step(&a.x, use16 ? NULL : g, use16 ? g16 : NULL, 0.9f, step,
                                            lr, &h, 2);
                        setenv("FG_ISA", "generic", 1);
                        (void)fg_flash_step(&b.x, use16 ? NULL : g, use16 ? g16 : NULL, 0.9f, step,
                                            lr, &h, 2);
                        unsetenv("FG_ISA");
                        same = store_equal(&a, &b); /* after every step: a lane that turns
                                                       Inf or NaN hides earlier ones */
                    }
                    cases++;
                    if (!same) {
                        if (bad++ < 5)
                            fg_test_fail(t, __FILE__, __LINE__,
                                         "n %zu variant %d master %d states %d: AVX-512 != "
                                         "scalar",
                                         n, k, masters[mi], q);
                    }
                    store_free(&a), store_free(&b);
                }
        free(w0), free(g), free(g16);
    }
    CHECK_EQ_I64(t, bad, 0);
    CHECK(t, cases > 100);
}

/* The AVX-512 split (inside the step) against fg_flash_split on a million weights that sweep
 * every exponent with the low 16 bits at their rounding edges (0, 1, 0x7FFF, the tie 0x8000,
 * 0x8001, 0xFFFF, ...) and the top mantissa bits all ones (a carry into the next binade), both
 * signs, Inf among them: plain SGD with lr 1 from zero weights and gradient -theta
 * leaves 0 - (1 (-theta)), which is theta, to be split. */
TEST(split_avx512_sweep_equals_scalar)
{
    if (fg_cpu_isa() < FG_ISA_AVX512) {
        fg_test_skip(t, "no AVX-512 on this CPU");
        return;
    }
    static const uint32_t edges[12] = { 0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF,
                                        0x4000, 0xC000, 0x0101, 0x7F00, 0x8100, 0xFFFE };
    const size_t n = ((size_t)1 << 20) + 7; /* a partial last group */
    float *g = xcalloc(n, 4), *theta = xcalloc(n, 4), *zero = xcalloc(n, 4);
    uint16_t *h_ref = xcalloc(n, 2);
    int16_t *r_ref = xcalloc(n, 2);
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < n; i++) {
        uint32_t e = (uint32_t)(i >> 12) & 0xFFu, top = (uint32_t)(i >> 5) & 0x7Fu;
        uint32_t sel = (uint32_t)i & 31u;
        uint32_t low = sel < 24 ? edges[sel >> 1] : (uint32_t)fg_rng_u64(&r) & 0xFFFFu;
        if (e == 0xFFu) /* Inf; NaN lanes are the bitwise test's (a NaN gradient's payload is
                           the compiler's choice of operand order) */
            top = low = 0;
        uint32_t u = (sel & 1u) << 31 | e << 23 | top << 16 | low;
        memcpy(&g[i], &u, 4);
        g[i] = -g[i];
        theta[i] = 0.0f - 1.0f * g[i]; /* what the step computes */
    }
    struct fg_flash_hparams h = fg_flash_hparams_default(FG_FLASH_SGD);
    h.momentum = 0.0f;
    for (int bits = 8; bits <= 16; bits += 8) {
        struct store a;
        store_init(&a, zero, n, bits, 1, FG_FLASH_SCALE_BF16);
        CHECK_OK(t, fg_flash_step(&a.x, g, NULL, 1.0f, 1, 1.0f, &h, 2));
        fg_flash_split_n(theta, n, bits, h_ref, r_ref); /* int8 or int16 corrections */
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t rho = bits == 8 ? a.rho8[i] : a.rho16[i];
            int32_t ref = bits == 8 ? ((const int8_t *)r_ref)[i] : r_ref[i];
            if (a.w16[i] != h_ref[i] || rho != ref) {
                if (bad++ < 3)
                    fg_test_fail(t, __FILE__, __LINE__,
                                 "bits %d theta %a: AVX-512 %04x %d, scalar %04x %d", bits,
                                 (double)theta[i], a.w16[i], rho, h_ref[i], ref);
            }
        }
        CHECK_EQ_I64(t, bad, 0);
        store_free(&a);
    }
    free(g), free(theta), free(zero), free(h_ref), free(r_ref);
}

TEST(step_bad_arguments)
{
    float w[40] = { 0 }, g[40] = { 0 }, m[40] = { 0 }, v[40] = { 0 };
    uint16_t w16[40] = { 0 };
    int8_t r8[40] = { 0 };
    struct fg_flash_hparams h = fg_flash_hparams_default(FG_FLASH_ADAM);
    struct fg_flash_tensor x;
    memset(&x, 0, sizeof x);
    x.n = 40, x.w32 = w, x.m32 = m, x.v32 = v;
    CHECK_OK(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1));
    CHECK_EQ_I64(t, fg_flash_step(&x, NULL, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_flash_step(&x, g, w16, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 0, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, NAN, &h, 1), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, INFINITY, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    x.rho8 = r8; /* a correction without bf16 weights */
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    x.rho8 = NULL, x.v32 = NULL; /* Adam without a second moment */
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    h = fg_flash_hparams_default(FG_FLASH_LION); /* Lion needs no v */
    CHECK_OK(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1));
    x.w16 = w16; /* both weight forms */
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    x.w16 = NULL, x.n = 0;
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    x.n = 40;
    h.kind = (enum fg_flash_kind)7;
    CHECK_EQ_I64(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1), FG_ERR_INVALID_ARG);
    h = fg_flash_hparams_default(FG_FLASH_SGD);
    h.momentum = 0.0f; /* SGD without momentum has no state at all */
    x.m32 = NULL;
    CHECK_OK(t, fg_flash_step(&x, g, NULL, 1.0f, 1, 1e-3f, &h, 1));
    CHECK_EQ_I64(t, fg_flash_n_states(&h), 0);
}

static const struct fg_test_case cases[] = {
    { "split_join_sweep", test_split_join_sweep },
    { "split_join_edges", test_split_join_edges },
    { "split_join_fixed_points", test_split_join_fixed_points },
    { "quant_test_vectors", test_quant_test_vectors },
    { "quant_round_trip_thresholds", test_quant_round_trip_thresholds },
    { "quant_tiny_groups_need_bf16_scales", test_quant_tiny_groups_need_bf16_scales },
    { "quant_nan_inf_no_ub", test_quant_nan_inf_no_ub },
    { "step_fp32_storage_equals_ref_bitwise", test_step_fp32_storage_equals_ref_bitwise },
    { "step_ref_matches_double_optimizers", test_step_ref_matches_double_optimizers },
    { "step_flash_fidelity_vs_fp32_twin", test_step_flash_fidelity_vs_fp32_twin },
    { "step_master_bits_help", test_step_master_bits_help },
    { "step_flash_threads_grads_and_zero", test_step_flash_threads_grads_and_zero },
    { "step_avx512_equals_scalar_bitwise", test_step_avx512_equals_scalar_bitwise },
    { "split_avx512_sweep_equals_scalar", test_split_avx512_sweep_equals_scalar },
    { "step_bad_arguments", test_step_bad_arguments },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
