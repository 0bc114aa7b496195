/* OCP Microscaling (MX v1.0) block formats: the format table, names, quantize and dequantize
 * (_ref, the portable path, and the dispatch to AVX-512), and the byte-buffer decoder.
 *
 * The conversion is the spec's (OCP MX v1.0, section 6.3; the procedure of the MX notes,
 * §B.3): the shared scale is a power of two taken from the exponent bits of the block's
 * largest magnitude (never from log2f, which rounds 2^k (1 - 2^-24) up to k), each element is
 * scaled exactly by 2^-se and rounded to the element format with one formula that covers
 * normals, subnormals and the carry into the next binade:
 *   e = max(floor(log2 a), 1 - bias);  r = rint(a * 2^(M - e));  code = r + ((e + bias - 1) << M)
 * then saturated to the largest finite code. Scaling multiplies by an exact power of two
 * (fg_pow2f), which rounds like ldexpf; rintf rounds to nearest even in the default rounding
 * mode, which nothing in frugal changes. Reference: Rouhani et al., "Microscaling Data
 * Formats for Deep Learning", arXiv 2310.10537. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "frugal/core.h"
#include "numerics_int.h"

const struct fg_mx_format_info fg_mx_formats[FG_MX_FORMAT_COUNT] = {
    { "e4m3", 8, 4, 3, 7, 8, 448.0f, 0x7E, 32, 0.125, 0x1p-10 },
    { "e5m2", 8, 5, 2, 15, 15, 57344.0f, 0x7B, 32, 0.125, 0x1p-17 },
    { "e3m2", 6, 3, 2, 3, 4, 28.0f, 0x1F, 24, 0.125, 0x1p-5 },
    { "e2m3", 6, 2, 3, 1, 2, 7.5f, 0x1F, 24, 0.0625, 0x1p-4 },
    { "e2m1", 4, 2, 1, 1, 2, 6.0f, 0x07, 16, 0.25, 0x1p-2 },
    { "int8", 8, 0, 6, 0, 0, 1.984375f, 0x7F, 32, 0.0, 0x1p-6 },
};

static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *errmsg, size_t errmsg_len, const char *fmt, ...)
{
    if (!errmsg || errmsg_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, errmsg_len, fmt, ap);
    va_end(ap);
}

const struct fg_mx_format_info *fg_mx_format_info(enum fg_mx_format f)
{
    if ((int)f < 0 || f >= FG_MX_FORMAT_COUNT)
        return NULL;
    return &fg_mx_formats[f];
}

const char *fg_mx_format_name(enum fg_mx_format f)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    return fi ? fi->name : "unknown";
}

int fg_mx_element_bits(enum fg_mx_format f)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    return fi ? fi->bits : 0;
}

size_t fg_mx_block_bytes(enum fg_mx_format f)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    return fi ? fi->block_bytes : 0;
}

size_t fg_mx_n_blocks(size_t n)
{
    return n / FG_MX_BLOCK + (n % FG_MX_BLOCK != 0);
}

fg_status fg_mx_sizes(enum fg_mx_format f, size_t n, size_t *scale_bytes, size_t *code_bytes)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    if (!fi)
        return FG_ERR_INVALID_ARG;
    size_t nb = fg_mx_n_blocks(n), cb;
    FG_TRY(fg_size_mul(nb, fi->block_bytes, &cb));
    if (scale_bytes)
        *scale_bytes = nb;
    if (code_bytes)
        *code_bytes = cb;
    return FG_OK;
}

static const struct {
    const char *name;
    enum fg_mx_format f;
} format_names[] = {
    { "e4m3", FG_MX_FORMAT_E4M3 },       { "e5m2", FG_MX_FORMAT_E5M2 },
    { "e3m2", FG_MX_FORMAT_E3M2 },       { "e2m3", FG_MX_FORMAT_E2M3 },
    { "e2m1", FG_MX_FORMAT_E2M1 },       { "int8", FG_MX_FORMAT_INT8 },
    { "mxfp8_e4m3", FG_MX_FORMAT_E4M3 }, { "mxfp8_e5m2", FG_MX_FORMAT_E5M2 },
    { "mxfp6_e3m2", FG_MX_FORMAT_E3M2 }, { "mxfp6_e2m3", FG_MX_FORMAT_E2M3 },
    { "mxfp4", FG_MX_FORMAT_E2M1 },      { "mxfp4_e2m1", FG_MX_FORMAT_E2M1 },
    { "mxint8", FG_MX_FORMAT_INT8 },     { "fp8_e4m3", FG_MX_FORMAT_E4M3 },
    { "fp8_e5m2", FG_MX_FORMAT_E5M2 },   { "fp6_e3m2", FG_MX_FORMAT_E3M2 },
    { "fp6_e2m3", FG_MX_FORMAT_E2M3 },   { "fp4_e2m1", FG_MX_FORMAT_E2M1 },
};

fg_status fg_mx_format_from_name(const char *name, enum fg_mx_format *out, char *errmsg,
                                 size_t errmsg_len)
{
    for (size_t i = 0; name && i < sizeof format_names / sizeof format_names[0]; i++)
        if (!strcasecmp(name, format_names[i].name)) {
            *out = format_names[i].f;
            return FG_OK;
        }
    set_err(errmsg, errmsg_len,
            "unknown MX format '%.64s': use one of e4m3, e5m2 (MXFP8), e3m2, e2m3 (MXFP6), "
            "e2m1 (MXFP4), int8 (MXINT8)",
            name ? name : "(null)");
    return FG_ERR_INVALID_ARG;
}

fg_status fg_mx_scale_rule_from_name(const char *name, enum fg_mx_scale_rule *out, char *errmsg,
                                     size_t errmsg_len)
{
    static const char *const names[] = { "floor", "ceil", "rceil" };
    for (int i = 0; name && i < 3; i++)
        if (!strcasecmp(name, names[i])) {
            *out = (enum fg_mx_scale_rule)i;
            return FG_OK;
        }
    set_err(errmsg, errmsg_len, "unknown MX scale rule '%.64s': use floor, ceil or rceil",
            name ? name : "(null)");
    return FG_ERR_INVALID_ARG;
}

struct fg_mx_params fg_mx_params_default(void)
{
    struct fg_mx_params p;
    p.block_size = FG_MX_BLOCK;
    p.scale_rule = FG_MX_SCALE_RULE_FLOOR;
    p.flush_subnormals = 0;
    p.n_threads = 1;
    p.path = FG_NUM_PATH_AUTO;
    return p;
}

/* ---- one element, one block: the specification ------------------------------------------ */

/* x is the element after division by the scale (an fp32 value). */
static uint8_t encode_elem(const struct fg_mx_format_info *fi, float x)
{
    uint32_t sbit = signbit(x) ? 1u << (fi->bits - 1) : 0u;
    float a = fabsf(x);
    if (fi->ebits == 0) {           /* INT8: two's complement of round(|x| * 64), clamped to 127 */
        float r = rintf(a * 64.0f); /* round to nearest even (the default mode, never changed) */
        int c = r > 127.0f ? 127 : (int)r;
        return (uint8_t)(sbit ? -c : c);
    }
    if (a == 0.0f)
        return (uint8_t)sbit; /* keeps -0 */
    int emin = 1 - fi->bias, M = fi->mbits;
    int e = fg_floor_log2_bits(fg_f32_bits(a));
    if (e < emin)
        e = emin;                         /* the subnormal binade: fixed quantum 2^(emin - M) */
    float r = rintf(a * fg_pow2f(M - e)); /* exact scaling, then RNE; r <= 2^(M+1) */
    int code = (int)r + ((e + fi->bias - 1) << M);
    if (code > fi->max_code)
        code = fi->max_code; /* saturate: never Inf or NaN */
    return (uint8_t)(sbit | (uint32_t)code);
}

static float decode_elem(const struct fg_mx_format_info *fi, uint8_t c, uint8_t scale)
{
    float X = fg_pow2f((int)scale - 127);
    if (fi->ebits == 0) /* INT8: c 2^-6 (exact), times X (rounded once: only overflow can) */
        return (float)(int8_t)c * 0.015625f * X;
    int M = fi->mbits;
    uint32_t sign = (c >> (fi->bits - 1)) & 1u, em = c & ((1u << (fi->bits - 1)) - 1u);
    uint32_t e = em >> M, m = em & ((1u << M) - 1u);
    if (fi == &fg_mx_formats[FG_MX_FORMAT_E4M3] && em == 0x7F)
        return fg_bits_f32((sign << 31) | 0x7FC00000u);
    if (fi == &fg_mx_formats[FG_MX_FORMAT_E5M2] && e == 31)
        return fg_bits_f32((sign << 31) | (m ? 0x7FC00000u : 0x7F800000u));
    /* normal: (2^M + m) 2^(e - bias - M); subnormal: m 2^(1 - bias - M); both exact in fp32;
     * times X, rounded once (only arbitrary bytes can overflow to Inf) */
    uint32_t sig = e ? (1u << M) | m : m;
    float P = (float)sig * fg_pow2f((e ? (int)e : 1) - fi->bias - M);
    float v = P * X;
    return sign ? -v : v;
}

static void pack_codes(const struct fg_mx_format_info *fi, const uint8_t c[32], uint8_t *out)
{
    if (fi->bits == 8) {
        memcpy(out, c, 32);
    } else if (fi->bits == 4) {
        for (int j = 0; j < 16; j++)
            out[j] = (uint8_t)(c[2 * j] | c[2 * j + 1] << 4);
    } else {
        for (int g = 0; g < 8; g++) {
            uint32_t w = (uint32_t)c[4 * g] | (uint32_t)c[4 * g + 1] << 6 |
                         (uint32_t)c[4 * g + 2] << 12 | (uint32_t)c[4 * g + 3] << 18;
            out[3 * g] = (uint8_t)w;
            out[3 * g + 1] = (uint8_t)(w >> 8);
            out[3 * g + 2] = (uint8_t)(w >> 16);
        }
    }
}

static void unpack_codes(const struct fg_mx_format_info *fi, const uint8_t *in, uint8_t c[32])
{
    if (fi->bits == 8) {
        memcpy(c, in, 32);
    } else if (fi->bits == 4) {
        for (int j = 0; j < 16; j++) {
            c[2 * j] = in[j] & 0x0F;
            c[2 * j + 1] = in[j] >> 4;
        }
    } else {
        for (int g = 0; g < 8; g++) {
            uint32_t w =
                (uint32_t)in[3 * g] | (uint32_t)in[3 * g + 1] << 8 | (uint32_t)in[3 * g + 2] << 16;
            for (int k = 0; k < 4; k++)
                c[4 * g + k] = (uint8_t)((w >> (6 * k)) & 0x3F);
        }
    }
}

void fg_mx_quantize_block_ref(const struct fg_mx_format_info *fi, enum fg_mx_scale_rule rule,
                              int flush, const float *in32, uint8_t *scale, uint8_t *codes)
{
    float v[FG_MX_BLOCK];
    uint32_t amax = 0;
    int special = 0;
    for (int i = 0; i < FG_MX_BLOCK; i++) {
        uint32_t u = fg_f32_bits(in32[i]);
        if (flush && (u & 0x7F800000u) == 0)
            u &= 0x80000000u; /* an fp32 subnormal counts as a zero of its sign */
        v[i] = fg_bits_f32(u);
        uint32_t a = u & 0x7FFFFFFFu;
        special |= a >= 0x7F800000u;
        amax = a > amax ? a : amax;
    }
    if (special) { /* NaN or Inf anywhere: a NaN block */
        *scale = FG_MX_SCALE_NAN;
        memset(codes, 0, fi->block_bytes);
        return;
    }
    int se = fg_mx_shared_exp(amax, rule, fi);
    *scale = (uint8_t)(se + 127);
    uint8_t c[FG_MX_BLOCK];
    float inv_x = fg_pow2f(-se); /* 1/X: exact scaling, as ldexpf(v, -se) */
    for (int i = 0; i < FG_MX_BLOCK; i++)
        c[i] = encode_elem(fi, v[i] * inv_x);
    pack_codes(fi, c, codes);
}

void fg_mx_dequantize_block_ref(const struct fg_mx_format_info *fi, uint8_t scale,
                                const uint8_t *codes, float *out32)
{
    if (scale == FG_MX_SCALE_NAN) {
        for (int i = 0; i < FG_MX_BLOCK; i++)
            out32[i] = fg_bits_f32(0x7FC00000u);
        return;
    }
    uint8_t c[FG_MX_BLOCK];
    unpack_codes(fi, codes, c);
    for (int i = 0; i < FG_MX_BLOCK; i++)
        out32[i] = decode_elem(fi, c[i], scale);
}

uint8_t fg_mx_encode_element(enum fg_mx_format f, float x)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    return fi ? encode_elem(fi, x) : 0;
}

float fg_mx_decode_element(enum fg_mx_format f, uint8_t code, uint8_t scale)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    if (!fi || scale == FG_MX_SCALE_NAN)
        return fg_bits_f32(0x7FC00000u);
    return decode_elem(fi, (uint8_t)(code & ((1u << fi->bits) - 1u)), scale);
}

/* ---- argument checks shared by every entry point ----------------------------------------- */

static fg_status check_common(enum fg_mx_format f, const struct fg_mx_params *p, size_t n,
                              const void *in, const void *scales, const void *codes,
                              const void *out, char *errmsg, size_t errmsg_len)
{
    if (!fg_mx_format_info(f)) {
        set_err(errmsg, errmsg_len, "unknown MX format %d: use a value of enum fg_mx_format",
                (int)f);
        return FG_ERR_INVALID_ARG;
    }
    if (p && p->block_size != FG_MX_BLOCK) {
        set_err(errmsg, errmsg_len,
                "MX block size %d is not supported: OCP MX v1.0 blocks hold 32 elements (set "
                "block_size = 32)",
                p->block_size);
        return FG_ERR_UNSUPPORTED;
    }
    if (p && ((int)p->scale_rule < 0 || p->scale_rule > FG_MX_SCALE_RULE_RCEIL)) {
        set_err(errmsg, errmsg_len, "unknown MX scale rule %d: use floor, ceil or rceil",
                (int)p->scale_rule);
        return FG_ERR_INVALID_ARG;
    }
    if (n > 0 && (!in || !scales || !codes || !out)) {
        set_err(errmsg, errmsg_len, "MX %s: NULL buffer for %zu elements", fg_mx_format_name(f), n);
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

static int threads_of(const struct fg_mx_params *p)
{
    return p && p->n_threads > 1 ? p->n_threads : 1;
}

/* ---- quantize --------------------------------------------------------------------------- */

/* The partial last block: padded with +0, which changes neither amax nor the other codes. */
static void quantize_tail(const struct fg_mx_format_info *fi, enum fg_mx_scale_rule rule, int flush,
                          const float *x, size_t n, uint8_t *scales, uint8_t *codes)
{
    size_t nb = n / FG_MX_BLOCK, rem = n % FG_MX_BLOCK;
    if (!rem)
        return;
    float pad[FG_MX_BLOCK] = { 0 };
    memcpy(pad, x + nb * FG_MX_BLOCK, rem * sizeof(float));
    fg_mx_quantize_block_ref(fi, rule, flush, pad, scales + nb, codes + nb * fi->block_bytes);
}

fg_status fg_mx_quantize_ref(enum fg_mx_format f, const struct fg_mx_params *p, const float *x,
                             size_t n, uint8_t *scales, uint8_t *codes, char *errmsg,
                             size_t errmsg_len)
{
    FG_TRY(check_common(f, p, n, x, scales, codes, codes, errmsg, errmsg_len));
    const struct fg_mx_format_info *fi = &fg_mx_formats[f];
    enum fg_mx_scale_rule rule = p ? p->scale_rule : FG_MX_SCALE_RULE_FLOOR;
    int flush = p ? p->flush_subnormals != 0 : 0;
    size_t nb = n / FG_MX_BLOCK;
    for (size_t b = 0; b < nb; b++)
        fg_mx_quantize_block_ref(fi, rule, flush, x + b * FG_MX_BLOCK, scales + b,
                                 codes + b * fi->block_bytes);
    quantize_tail(fi, rule, flush, x, n, scales, codes);
    return FG_OK;
}

fg_status fg_mx_quantize(enum fg_mx_format f, const struct fg_mx_params *p, const float *x,
                         size_t n, uint8_t *scales, uint8_t *codes, char *errmsg, size_t errmsg_len)
{
    FG_TRY(check_common(f, p, n, x, scales, codes, codes, errmsg, errmsg_len));
    enum fg_num_path path = fg_num_path_resolve(p ? p->path : FG_NUM_PATH_AUTO);
    if (path == FG_NUM_PATH_REF)
        return fg_mx_quantize_ref(f, p, x, n, scales, codes, errmsg, errmsg_len);
    const struct fg_mx_format_info *fi = &fg_mx_formats[f];
    enum fg_mx_scale_rule rule = p ? p->scale_rule : FG_MX_SCALE_RULE_FLOOR;
    int flush = p ? p->flush_subnormals != 0 : 0, nt = threads_of(p);
    (void)nt; /* unused when built without OpenMP */
    int avx = path >= FG_NUM_PATH_AVX512;
    size_t nb = n / FG_MX_BLOCK, bb = fi->block_bytes;
    size_t n_chunks = (nb + FG_MX_CHUNK_BLOCKS - 1) / FG_MX_CHUNK_BLOCKS;
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(n_chunks, nb, bb, fi, f, rule, flush, avx, x, scales, codes)
    for (size_t ch = 0; ch < n_chunks; ch++) {
        size_t b0 = ch * FG_MX_CHUNK_BLOCKS;
        size_t b1 = b0 + FG_MX_CHUNK_BLOCKS < nb ? b0 + FG_MX_CHUNK_BLOCKS : nb;
        if (avx) {
            fg_mx_quantize_blocks_avx512(fi, f, rule, flush, x + b0 * FG_MX_BLOCK, b1 - b0,
                                         scales + b0, codes + b0 * bb);
        } else {
            for (size_t b = b0; b < b1; b++)
                fg_mx_quantize_block_ref(fi, rule, flush, x + b * FG_MX_BLOCK, scales + b,
                                         codes + b * bb);
        }
    }
    quantize_tail(fi, rule, flush, x, n, scales, codes);
    return FG_OK;
}

/* ---- dequantize ------------------------------------------------------------------------- */

static void dequantize_tail(const struct fg_mx_format_info *fi, const uint8_t *scales,
                            const uint8_t *codes, size_t n, float *out)
{
    size_t nb = n / FG_MX_BLOCK, rem = n % FG_MX_BLOCK;
    if (!rem)
        return;
    float tmp[FG_MX_BLOCK];
    fg_mx_dequantize_block_ref(fi, scales[nb], codes + nb * fi->block_bytes, tmp);
    memcpy(out + nb * FG_MX_BLOCK, tmp, rem * sizeof(float));
}

fg_status fg_mx_dequantize_ref(enum fg_mx_format f, const uint8_t *scales, const uint8_t *codes,
                               size_t n, float *out, char *errmsg, size_t errmsg_len)
{
    FG_TRY(check_common(f, NULL, n, scales, scales, codes, out, errmsg, errmsg_len));
    const struct fg_mx_format_info *fi = &fg_mx_formats[f];
    size_t nb = n / FG_MX_BLOCK;
    for (size_t b = 0; b < nb; b++)
        fg_mx_dequantize_block_ref(fi, scales[b], codes + b * fi->block_bytes,
                                   out + b * FG_MX_BLOCK);
    dequantize_tail(fi, scales, codes, n, out);
    return FG_OK;
}

fg_status fg_mx_dequantize(enum fg_mx_format f, const struct fg_mx_params *p, const uint8_t *scales,
                           const uint8_t *codes, size_t n, float *out, char *errmsg,
                           size_t errmsg_len)
{
    FG_TRY(check_common(f, p, n, scales, scales, codes, out, errmsg, errmsg_len));
    enum fg_num_path path = fg_num_path_resolve(p ? p->path : FG_NUM_PATH_AUTO);
    if (path == FG_NUM_PATH_REF)
        return fg_mx_dequantize_ref(f, scales, codes, n, out, errmsg, errmsg_len);
    const struct fg_mx_format_info *fi = &fg_mx_formats[f];
    int nt = threads_of(p), avx = path >= FG_NUM_PATH_AVX512;
    (void)nt; /* unused when built without OpenMP */
    size_t nb = n / FG_MX_BLOCK, bb = fi->block_bytes;
    size_t n_chunks = (nb + FG_MX_CHUNK_BLOCKS - 1) / FG_MX_CHUNK_BLOCKS;
#pragma omp parallel for schedule(static) num_threads(nt) default(none) \
    shared(n_chunks, nb, bb, fi, f, avx, scales, codes, out)
    for (size_t ch = 0; ch < n_chunks; ch++) {
        size_t b0 = ch * FG_MX_CHUNK_BLOCKS;
        size_t b1 = b0 + FG_MX_CHUNK_BLOCKS < nb ? b0 + FG_MX_CHUNK_BLOCKS : nb;
        if (avx) {
            fg_mx_dequantize_blocks_avx512(fi, f, scales + b0, codes + b0 * bb, b1 - b0,
                                           out + b0 * FG_MX_BLOCK);
        } else {
            for (size_t b = b0; b < b1; b++)
                fg_mx_dequantize_block_ref(fi, scales[b], codes + b * bb, out + b * FG_MX_BLOCK);
        }
    }
    dequantize_tail(fi, scales, codes, n, out);
    return FG_OK;
}

fg_status fg_mx_decode_buffer(enum fg_mx_format f, const struct fg_mx_params *p, const void *buf,
                              size_t len, float *out, size_t out_cap, size_t *n_out, char *errmsg,
                              size_t errmsg_len)
{
    const struct fg_mx_format_info *fi = fg_mx_format_info(f);
    if (!fi) {
        set_err(errmsg, errmsg_len, "unknown MX format %d: use a value of enum fg_mx_format",
                (int)f);
        return FG_ERR_INVALID_ARG;
    }
    size_t rec = 1 + fi->block_bytes;
    if (len % rec) {
        size_t lo = len / rec * rec;
        set_err(errmsg, errmsg_len,
                "MX %s buffer of %zu bytes is not a whole number of %zu-byte blocks (1 scale "
                "byte + %zu code bytes each): pad it to %zu bytes or cut it to %zu",
                fi->name, len, rec, fi->block_bytes, lo + rec, lo);
        return FG_ERR_FORMAT;
    }
    size_t nb = len / rec, n = nb * FG_MX_BLOCK; /* n < 2 len: no overflow */
    if (n > out_cap || (n > 0 && (!buf || !out))) {
        set_err(errmsg, errmsg_len,
                "MX %s buffer: %zu blocks decode to %zu floats but the output holds %zu", fi->name,
                nb, n, out_cap);
        return FG_ERR_INVALID_ARG;
    }
    if (n_out)
        *n_out = n;
    if (n == 0)
        return FG_OK;
    const uint8_t *scales = buf, *codes = scales + nb;
    return fg_mx_dequantize(f, p, scales, codes, n, out, errmsg, errmsg_len);
}
