/* Private helpers shared by the numerics translation units: the format table, the exact
 * floor/ceil log2 from fp32 bits, the shared-exponent rule, and the AVX-512 entry points
 * (defined in *_avx512.c, the only files compiled with AVX-512 code generation). */
#ifndef FRUGAL_NUMERICS_INT_H
#define FRUGAL_NUMERICS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "frugal/numerics.h"

extern const struct fg_mx_format_info fg_mx_formats[FG_MX_FORMAT_COUNT];

static inline uint32_t fg_f32_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline float fg_bits_f32(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* 2^e as an fp32, for -149 <= e <= 127 (a subnormal below -126): multiplying by it scales
 * exactly, with the single rounding of ldexpf when the product underflows or overflows. */
static inline float fg_pow2f(int e)
{
    return e >= -126 ? fg_bits_f32((uint32_t)(e + 127) << 23) : fg_bits_f32(1u << (e + 149));
}

/* floor(log2 a) of a positive finite fp32 given by its bits (subnormals included): the
 * exponent field, or for a subnormal the position of its top mantissa bit minus 149. */
static inline int fg_floor_log2_bits(uint32_t a)
{
    uint32_t e = a >> 23;
    if (e)
        return (int)e - 127;
    return (31 - __builtin_clz(a)) - 149;
}

/* ceil(log2 a): floor, plus one unless a is a power of two. */
static inline int fg_ceil_log2_bits(uint32_t a)
{
    int up = (a >> 23) ? (a & 0x7FFFFFu) != 0 : (a & (a - 1)) != 0;
    return fg_floor_log2_bits(a) + up;
}

/* The shared exponent se of a finite block whose largest magnitude has the bits amax
 * (sign cleared), under rule; clamped to [-127, 127 - emax]. Scale byte = se + 127. The upper
 * cap (the spec's is 127) keeps every decoded value below 2^128 under CEIL and RCEIL, whose
 * elements may round up to 2^emax X; FLOOR never reaches it (floor(log2 amax) <= 127). */
static inline int fg_mx_shared_exp(uint32_t amax, enum fg_mx_scale_rule rule,
                                   const struct fg_mx_format_info *fi)
{
    int se;
    if (amax == 0)
        return -127;
    if (rule == FG_MX_SCALE_RULE_CEIL) {
        se = fg_ceil_log2_bits(amax) - fi->emax;
    } else if (rule == FG_MX_SCALE_RULE_RCEIL) {
        uint32_t q = fg_f32_bits(fg_bits_f32(amax) / fi->max_normal);
        se = q ? fg_ceil_log2_bits(q) : -127;
    } else {
        se = fg_floor_log2_bits(amax) - fi->emax;
    }
    return se < -127 ? -127 : se > 127 - fi->emax ? 127 - fi->emax : se;
}

/* Flat chunks of blocks for OpenMP: 256 blocks (8192 elements) per unit of work. */
#define FG_MX_CHUNK_BLOCKS 256

/* Scalar per-block kernels of mx.c (the _ref code), also used by the generic path and for
 * partial last blocks. in32: 32 floats (a partial block is padded by the caller). */
void fg_mx_quantize_block_ref(const struct fg_mx_format_info *fi, enum fg_mx_scale_rule rule,
                              int flush, const float *in32, uint8_t *scale, uint8_t *codes);
void fg_mx_dequantize_block_ref(const struct fg_mx_format_info *fi, uint8_t scale,
                                const uint8_t *codes, float *out32);

/* ---- AVX-512 (mx_avx512.c, convert_avx512.c). Each returns without doing anything when the
 * library was built without AVX-512 support (fg_num_avx512_built() == 0); callers check the
 * resolved path first. */
int fg_num_avx512_built(void);
void fg_fp32_to_bf16_avx512(uint16_t *out, const float *in, size_t n);
void fg_fp32_to_bf16_avx512bf16(uint16_t *out, const float *in, size_t n);
void fg_bf16_to_fp32_avx512(float *out, const uint16_t *in, size_t n);
void fg_fp32_to_fp16_avx512(uint16_t *out, const float *in, size_t n);
void fg_fp16_to_fp32_avx512(float *out, const uint16_t *in, size_t n);

/* Quantize / dequantize n_blocks whole blocks (in: 32 * n_blocks floats). */
void fg_mx_quantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                  enum fg_mx_scale_rule rule, int flush, const float *in,
                                  size_t n_blocks, uint8_t *scales, uint8_t *codes);
void fg_mx_dequantize_blocks_avx512(const struct fg_mx_format_info *fi, enum fg_mx_format f,
                                    const uint8_t *scales, const uint8_t *codes, size_t n_blocks,
                                    float *out);
/* sum_i a_i b_i of 32 int8 codes each, exactly (vnni: vpdpbusd; else vpmaddwd). */
int32_t fg_mx_block_dot_i8_avx512(const int8_t *a, const int8_t *b, int vnni);
/* The floating-point MX dot product (formats fa, fb, any but both INT8 is allowed too): the
 * blocks dequantized in registers, products accumulated by FMA in 2 x 16 lanes, folded in a
 * fixed order at the end. */
float fg_mx_dot_fp_avx512(enum fg_mx_format fa, const uint8_t *a_scales, const uint8_t *a_codes,
                          enum fg_mx_format fb, const uint8_t *b_scales, const uint8_t *b_codes,
                          size_t n_blocks);

/* The MXINT8 matrix product on prepared operands (mx_avx512.c). Layout of the workspace
 * pieces, produced by fg_mx_i8_pack_* below for one path:
 *   vnni:  bpack (Np, nbk, 8, 32, 4) uint8 = B code + 128 (padding columns 128);
 *          acorr (M, nbk) int32 = -128 * sum of the A codes of the block.
 *   plain: bpack (Np, nbk, 16, 32, 2) int16 = B codes; a16 (M, K) int16 = A codes.
 *   both:  bexp (Np, nbk, 32) float = s_b - 133 (NaN for a 0xFF scale, 0 for padding);
 *          aexp (M, nbk) float = s_a - 133 (NaN for 0xFF).
 * Np = ceil(N / 32) panels of 32 columns. Rows m0..m1 and panels p0..p1 are computed. */
struct fg_mx_i8_operands {
    size_t M, N, K, nbk, Np;
    int vnni;
    const int8_t *a;    /* (M, K) A codes */
    const int16_t *a16; /* plain path */
    const int32_t *acorr;
    const float *aexp;
    const void *bpack;
    const float *bexp;
    const float *bias; /* (N) or NULL */
};

void fg_mx_i8_pack_b_avx512(const struct fg_mx_matrix *B, int vnni, size_t p0, size_t p1,
                            void *bpack, float *bexp);
void fg_mx_i8_matmul_avx512(float *C, const struct fg_mx_i8_operands *op, size_t m0, size_t m1,
                            size_t p0, size_t p1);

#endif
