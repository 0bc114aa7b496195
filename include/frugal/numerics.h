/* frugal numerics: number formats. bf16 and fp16 conversion, and OCP Microscaling (MX v1.0)
 * block formats: MXFP8 (E4M3, E5M2), MXFP6 (E3M2, E2M3), MXFP4 (E2M1) and MXINT8, with
 * quantize, dequantize, dot products and a matrix product on MX operands.
 *
 * Every array function has a scalar `_ref` version, the specification, and a fast version that
 * takes a code path (`enum fg_num_path`): portable C with OpenMP, AVX-512, and AVX-512 with
 * the BF16 conversion and VNNI int8 dot-product instructions. Each fast path returns the same
 * bits as `_ref` (quantize, dequantize, bf16/fp16 conversion, the MXINT8 dot product and
 * matrix product, NaN payloads of the latter two aside); only the floating-point MX dot and
 * matrix products (summation order, see below) differ from `_ref`, within the bound of
 * docs/numerics.md, section 10.
 *
 * Byte layouts, rounding rules and the derivation of the error bound: docs/numerics.md,
 * section 10. The conversion procedure and test vectors: the MX spec notes (§B.3, §B.6, §B.7).
 * Nothing here allocates except where a function says so; everything is thread-safe on
 * disjoint outputs and keeps no global state besides a CPU-feature probe done once.
 */
#ifndef FRUGAL_NUMERICS_H
#define FRUGAL_NUMERICS_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- code paths -----------------------------------------------------------------------------
 * A requested path is an upper bound: a function runs the best path the CPU supports that is
 * not above it. FG_NUM_PATH_AUTO means the best the CPU supports, capped by the FG_ISA
 * environment variable (ref|generic|avx2|avx512, see fg_cpu_isa in core.h; with "avx2" the
 * numerics use the generic path). Tests force each path in turn on one machine. */
enum fg_num_path {
    FG_NUM_PATH_AUTO = -1,
    FG_NUM_PATH_REF = 0,     /* the scalar _ref code, one thread */
    FG_NUM_PATH_GENERIC = 1, /* portable C, OpenMP over blocks, compiler vectorization */
    FG_NUM_PATH_AVX512 = 2,  /* AVX-512 F/BW/VL intrinsics */
    FG_NUM_PATH_AVX512X = 3  /* AVX-512 plus AVX512_BF16 (vcvtne2ps2bf16) and AVX512_VNNI
                                (vpdpbusd), each used only if the CPU has it */
};

/* The best path this CPU supports (FG_ISA respected; probed once, thread-safe). */
FG_API enum fg_num_path fg_num_path_best(void);
/* The path a request resolves to on this CPU: min(request, best); AUTO gives the best. */
FG_API enum fg_num_path fg_num_path_resolve(enum fg_num_path request);
/* "ref", "generic", "avx512", "avx512x" ("auto" for AUTO); never NULL. */
FG_API const char *fg_num_path_name(enum fg_num_path p);
/* Whether this CPU has AVX512_BF16 / AVX512_VNNI (with the AVX-512 state enabled by the OS);
 * the AVX512X path uses each only when present. Not capped by FG_ISA. */
FG_API int fg_num_cpu_has_bf16(void);
FG_API int fg_num_cpu_has_vnni(void);

/* ---- bf16 and fp16 --------------------------------------------------------------------------
 * fp32 -> bf16 (1 sign, 8 exponent, 7 mantissa bits; the top half of an fp32): round to
 * nearest, ties to even, on the bits: (u + 0x7FFF + ((u >> 16) & 1)) >> 16. Overflow gives
 * +-Inf (FLT_MAX rounds to Inf); subnormals are rounded, not flushed; -0 stays -0. A NaN stays
 * a NaN and is made quiet: (u >> 16) | 0x0040 (sign and the top payload bits kept), so the
 * signaling NaN 0x7F800001 gives 0x7FC0 and never Inf. This is the project's one fp32 -> bf16
 * rounding function (STYLE.md, section 6).
 * bf16 -> fp32 is exact: the bits shifted left by 16 (a NaN keeps its payload as it is).
 *
 * fp32 -> fp16 (IEEE binary16: 1, 5, 10 bits, bias 15): round to nearest even; values from
 * 65520 up give +-Inf; results below 2^-14 are fp16 subnormals (multiples of 2^-24), values up
 * to 2^-25 (inclusive, a tie) give +-0. A NaN gives sign | 0x7E00 | (payload bits 22..13),
 * i.e. quiet with the top payload bits kept (what vcvtps2ph does).
 * fp16 -> fp32 is exact; a NaN keeps its payload, shifted, and is made quiet (bit 22 set).
 *
 * The scalar functions: */
FG_API uint16_t fg_bf16_encode(float x);
FG_API float fg_bf16_decode(uint16_t h);
FG_API uint16_t fg_fp16_encode(float x);
FG_API float fg_fp16_decode(uint16_t h);

/* Arrays: out[i] = convert(in[i]) for i < n. in and out must not overlap. Single-threaded (call
 * them per chunk from your own threads). The fast versions give the same bits as _ref on every
 * input (checked over all 2^32 fp32 patterns by `make test-slow`). The AVX512X path uses
 * vcvtne2ps2bf16, which flushes fp32 subnormal inputs to zero; lanes holding subnormals are
 * redone with the integer rule, so the result is still the one above. */
FG_API void fg_fp32_to_bf16_ref(uint16_t *out, const float *in, size_t n);
FG_API void fg_fp32_to_bf16(uint16_t *out, const float *in, size_t n, enum fg_num_path path);
FG_API void fg_bf16_to_fp32_ref(float *out, const uint16_t *in, size_t n);
FG_API void fg_bf16_to_fp32(float *out, const uint16_t *in, size_t n, enum fg_num_path path);
FG_API void fg_fp32_to_fp16_ref(uint16_t *out, const float *in, size_t n);
FG_API void fg_fp32_to_fp16(uint16_t *out, const float *in, size_t n, enum fg_num_path path);
FG_API void fg_fp16_to_fp32_ref(float *out, const uint16_t *in, size_t n);
FG_API void fg_fp16_to_fp32(float *out, const uint16_t *in, size_t n, enum fg_num_path path);

/* ---- MX formats -----------------------------------------------------------------------------
 * An MX block is 32 elements sharing one E8M0 scale byte s: X = 2^(s - 127) for s = 0..254,
 * s = 0xFF is NaN (the whole block decodes to NaN). Element i decodes to X * P_i.
 *
 * | format | bits | exp bias | emax | max normal | packed code bytes per block |
 * | E4M3   | 8    | 7        | 8    | 448        | 32 (no Inf; S.1111.111 is NaN)   |
 * | E5M2   | 8    | 15       | 15   | 57344      | 32 (S.11111.00 Inf, .01-.11 NaN) |
 * | E3M2   | 6    | 3        | 4    | 28         | 24 (4 codes in 3 bytes)          |
 * | E2M3   | 6    | 1        | 2    | 7.5        | 24                               |
 * | E2M1   | 4    | 1        | 2    | 6          | 16 (2 codes per byte)            |
 * | INT8   | 8    | -        | 0    | 127/64     | 32 (two's complement, x 2^-6)    |
 *
 * Storage of n elements (a tensor row, flattened): n_blocks = ceil(n / 32) scale bytes, and
 * n_blocks * fg_mx_block_bytes(fmt) code bytes; block b holds elements 32b .. 32b+31.
 * Packing inside a block (codes c_0 .. c_31, each bits wide, sign in the top bit):
 *   8-bit formats: byte i = c_i.
 *   E2M1: byte j = c_{2j} | c_{2j+1} << 4 (element 2j in the low nibble).
 *   E3M2, E2M3: group g of four codes is the 24-bit little-endian value
 *     c_{4g} | c_{4g+1} << 6 | c_{4g+2} << 12 | c_{4g+3} << 18 in bytes 3g, 3g+1, 3g+2.
 * A length that is not a multiple of 32 is padded, not rejected: the last block is quantized as
 * if the missing elements were +0 (they do not change its scale), their codes are written as 0,
 * and dequantize writes only the n real elements. The one exception is the byte-buffer decoder
 * fg_mx_decode_buffer, whose input must be whole blocks (it rejects anything else). */
enum fg_mx_format {
    FG_MX_FORMAT_E4M3 = 0, /* MXFP8 */
    FG_MX_FORMAT_E5M2 = 1, /* MXFP8 */
    FG_MX_FORMAT_E3M2 = 2, /* MXFP6 */
    FG_MX_FORMAT_E2M3 = 3, /* MXFP6 */
    FG_MX_FORMAT_E2M1 = 4, /* MXFP4 */
    FG_MX_FORMAT_INT8 = 5, /* MXINT8 */
    FG_MX_FORMAT_COUNT = 6
};

#define FG_MX_BLOCK     32   /* elements per block (OCP MX v1.0); the only size supported */
#define FG_MX_SCALE_NAN 0xFF /* the E8M0 NaN scale byte */

/* Facts about one element format (a static table). rho and tau are the constants of the
 * per-element error bound |dequantize(quantize(x)) - x| <= rho |x| + tau X for any finite block,
 * X the block's scale (docs/numerics.md, section 10.4). */
struct fg_mx_format_info {
    const char *name;   /* "e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8" */
    int bits;           /* 8, 8, 6, 6, 4, 8 */
    int ebits, mbits;   /* exponent and mantissa bits (INT8: 0 and 6 fraction bits) */
    int bias;           /* exponent bias (INT8: 0) */
    int emax;           /* exponent of the largest power of two representable */
    float max_normal;   /* largest finite element value */
    uint8_t max_code;   /* its code, without the sign bit */
    size_t block_bytes; /* packed code bytes per block of 32 */
    double rho, tau;    /* error-bound constants, see above */
};

/* The table entry of f, or NULL if f is not a format. */
FG_API const struct fg_mx_format_info *fg_mx_format_info(enum fg_mx_format f);
/* Canonical name of f ("e4m3" ...), or "unknown". */
FG_API const char *fg_mx_format_name(enum fg_mx_format f);
/* Parse a format name, case-insensitively: e4m3, e5m2, e3m2, e2m3, e2m1, int8, and the aliases
 * mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxfp4_e2m1, mxint8, fp8_e4m3, fp8_e5m2,
 * fp6_e3m2, fp6_e2m3, fp4_e2m1. Unknown or NULL -> FG_ERR_INVALID_ARG with a message listing the
 * names. errmsg may be NULL. */
FG_API fg_status fg_mx_format_from_name(const char *name, enum fg_mx_format *out, char *errmsg,
                                        size_t errmsg_len);
/* Element bits of f (0 if f is invalid). */
FG_API int fg_mx_element_bits(enum fg_mx_format f);
/* Packed code bytes per block of 32 (0 if f is invalid). */
FG_API size_t fg_mx_block_bytes(enum fg_mx_format f);
/* Blocks that hold n elements: ceil(n / 32). */
FG_API size_t fg_mx_n_blocks(size_t n);
/* Bytes of the scale and code arrays for n elements, overflow-checked (FG_ERR_INVALID_ARG on
 * overflow or an invalid format). Either output pointer may be NULL. */
FG_API fg_status fg_mx_sizes(enum fg_mx_format f, size_t n, size_t *scale_bytes,
                             size_t *code_bytes);

/* How the shared scale X = 2^se is chosen from amax = max |V_i| of a block (amax = 0 gives
 * se = -127, scale byte 0x00, under every rule; se is clamped to [-127, 127 - emax]: the spec's
 * lower clamp, and an upper one that keeps decoded values finite under CEIL and RCEIL when
 * amax > 2^127; FLOOR never reaches it):
 *   FLOOR: se = floor(log2 amax) - emax (the OCP rule; amax/X in [2^emax, 2^(emax+1)), so
 *          elements above max_normal saturate).
 *   CEIL:  se = ceil(log2 amax) - emax (never saturates; one binade less resolution).
 *   RCEIL: se = ceil(log2 q), q = amax / max_normal rounded to fp32 (the NVIDIA/cuBLAS rule,
 *          "round the quotient's exponent up if any mantissa bit is set").
 * The logarithms are taken exactly from the fp32 exponent bits, never with log2f. */
enum fg_mx_scale_rule {
    FG_MX_SCALE_RULE_FLOOR = 0,
    FG_MX_SCALE_RULE_CEIL = 1,
    FG_MX_SCALE_RULE_RCEIL = 2
};

/* "floor", "ceil", "rceil" (case-insensitive) -> rule; anything else FG_ERR_INVALID_ARG. */
FG_API fg_status fg_mx_scale_rule_from_name(const char *name, enum fg_mx_scale_rule *out,
                                            char *errmsg, size_t errmsg_len);

struct fg_mx_params {
    int block_size;                   /* must be FG_MX_BLOCK (32); anything else is rejected */
    enum fg_mx_scale_rule scale_rule; /* default FLOOR */
    int flush_subnormals;             /* 1: fp32 subnormal inputs count as zero of the same
                                         sign (the paper's setting); default 0, keep them */
    int n_threads;                    /* OpenMP threads for the fast paths (>= 1; default 1) */
    enum fg_num_path path;            /* default FG_NUM_PATH_AUTO */
};

/* block_size 32, FLOOR, no flushing, 1 thread, AUTO. */
FG_API struct fg_mx_params fg_mx_params_default(void);

/* The element codec alone (what quantize applies after dividing by X, and dequantize before
 * multiplying by it): encode x (an fp32 value already divided by the scale) to a code of f
 * (round to nearest even, saturating; for E2M1 and the FP6 formats the code is in the low 4 or 6
 * bits); decode a code with the scale byte. Invalid f: code 0 / NaN. */
FG_API uint8_t fg_mx_encode_element(enum fg_mx_format f, float x);
FG_API float fg_mx_decode_element(enum fg_mx_format f, uint8_t code, uint8_t scale);

/* Quantize x[0..n) to MX format f: scales[ceil(n/32)] and codes[ceil(n/32) * block_bytes]
 * (layout above). Per block (the spec's conversion, §B.3 of the MX notes):
 *   - any NaN or +-Inf in the block: scale 0xFF and all codes 0;
 *   - otherwise se from the scale rule, scale byte se + 127, and each element is x * 2^-se
 *     (exact scaling) rounded to the element format: round to nearest, ties to even; values
 *     beyond max_normal saturate to +-max_normal (never Inf or NaN); element subnormals are
 *     used; -0 is kept (FP formats; INT8 has no -0); INT8 clamps to +-127 (never emits 0x80).
 * p may be NULL (defaults). Errors (nothing is written): invalid format, block_size != 32
 * (FG_ERR_UNSUPPORTED), unknown scale rule, NULL buffers with n > 0 (FG_ERR_INVALID_ARG); the
 * message goes to errmsg (may be NULL). The fast version uses p->path and p->n_threads and
 * gives the same bytes as _ref; _ref ignores both. Neither allocates. */
FG_API fg_status fg_mx_quantize_ref(enum fg_mx_format f, const struct fg_mx_params *p,
                                    const float *x, size_t n, uint8_t *scales, uint8_t *codes,
                                    char *errmsg, size_t errmsg_len);
FG_API fg_status fg_mx_quantize(enum fg_mx_format f, const struct fg_mx_params *p, const float *x,
                                size_t n, uint8_t *scales, uint8_t *codes, char *errmsg,
                                size_t errmsg_len);

/* Dequantize n elements: out[i] = X_b * P_i, computed exactly (rounded once, which only matters
 * when arbitrary bytes overflow fp32 and give +-Inf). A block with scale 0xFF gives NaN
 * (0x7FC00000) for all its elements; an E4M3 NaN code or an E5M2 NaN code gives a quiet NaN of
 * the code's sign (0x7FC00000 | sign); E5M2 Inf codes give +-Inf. Every byte pattern is valid
 * input. p may be NULL; errors as for quantize. Same bits on every path. */
FG_API fg_status fg_mx_dequantize_ref(enum fg_mx_format f, const uint8_t *scales,
                                      const uint8_t *codes, size_t n, float *out, char *errmsg,
                                      size_t errmsg_len);
FG_API fg_status fg_mx_dequantize(enum fg_mx_format f, const struct fg_mx_params *p,
                                  const uint8_t *scales, const uint8_t *codes, size_t n, float *out,
                                  char *errmsg, size_t errmsg_len);

/* Decode a byte buffer holding whole MX blocks of format f, stored as the two arrays above
 * concatenated: n_blocks scale bytes, then n_blocks * block_bytes code bytes, so
 * len = n_blocks * (1 + block_bytes). The entry point for bytes from outside (files,
 * network; the fuzz target). out must hold out_cap floats; *n_out receives 32 * n_blocks.
 * Errors: len not a whole number of blocks -> FG_ERR_FORMAT (the message gives the block size
 * and the nearest valid lengths); out_cap too small -> FG_ERR_INVALID_ARG; invalid format ->
 * FG_ERR_INVALID_ARG. Decodes like fg_mx_dequantize with p's path (p may be NULL). */
FG_API fg_status fg_mx_decode_buffer(enum fg_mx_format f, const struct fg_mx_params *p,
                                     const void *buf, size_t len, float *out, size_t out_cap,
                                     size_t *n_out, char *errmsg, size_t errmsg_len);

/* ---- MX dot products and matrix products ----------------------------------------------------
 * Dot product of two MX vectors of n_blocks blocks each (same format), the definition shared by
 * fg_mx_matmul:
 *   MXINT8 x MXINT8: per block, the exact int32 sum S = sum_i c_a,i c_b,i (|S| <= 2^19); the
 *     block's value is S * 2^(s_a + s_b - 254 - 12) rounded once to fp32 (exact unless it
 *     underflows or overflows fp32); block values are added in fp32 in block order, starting
 *     from 0 (or the bias). A block with a 0xFF scale contributes NaN. Every path gives the same
 *     bits (VNNI vpdpbusd, AVX-512 vpmaddwd, or portable C).
 *   Floating-point formats ("via conversion"): the elements are dequantized to fp32 (exact) and
 *     the products summed in fp32: _ref in ascending element order, the fast path in 16 lanes
 *     (dot) or by OpenBLAS sgemm (matmul), so results differ from _ref by summation order only;
 *     both stay within the bound of docs/numerics.md, section 10.5.
 * fg_mx_dot returns FG_ERR_INVALID_ARG for an invalid format or NULL pointers (n_blocks > 0). */
FG_API fg_status fg_mx_dot_ref(enum fg_mx_format f, const uint8_t *a_scales, const uint8_t *a_codes,
                               const uint8_t *b_scales, const uint8_t *b_codes, size_t n_blocks,
                               float *out);
FG_API fg_status fg_mx_dot(enum fg_mx_format f, const uint8_t *a_scales, const uint8_t *a_codes,
                           const uint8_t *b_scales, const uint8_t *b_codes, size_t n_blocks,
                           enum fg_num_path path, float *out);

/* A matrix quantized along its rows: rows x cols elements, each row its own ceil(cols/32)
 * blocks: scales (rows, cols/32) and codes (rows, cols/32 * block_bytes), row-major. Borrowed. */
struct fg_mx_matrix {
    enum fg_mx_format format;
    size_t rows, cols;
    const uint8_t *scales; /* (rows, cols/32) */
    const uint8_t *codes;  /* (rows, cols/32 * block_bytes) */
};

/* C (M,N) = bias (N) + A (M,K) . B (N,K)^T, with A and B quantized along K (the reduction axis),
 * as a linear layer needs: out = x W^T + b with x (tokens, IC) and W (OC, IC). bias may be NULL.
 * K must be a multiple of 32 (pad the reduction axis). Element (m, n) is the dot product above of
 * row m of A and row n of B, plus the bias added first; both INT8 -> the exact integer path;
 * any other pair of formats (floating point, or INT8 with an FP format) -> via conversion.
 * The fast version needs a workspace of fg_mx_matmul_work_bytes(...) bytes (64-byte aligned
 * is best; it allocates nothing itself) and runs p->n_threads OpenMP threads; the FP path calls
 * cblas_sgemm once, outside any parallel region (set the BLAS thread count beforehand,
 * kernels.h). Errors: formats invalid, A.cols != B.cols, K % 32 != 0, NULL pointers, workspace
 * too small (FG_ERR_INVALID_ARG), block_size != 32 (FG_ERR_UNSUPPORTED). */
/* Workspace bytes fg_mx_matmul needs for these formats and sizes (the most any path needs; 0 if
 * none), or SIZE_MAX if the sizes overflow size_t. MXINT8: about 2 N K + 2 M K bytes; via
 * conversion: 4 (M + N) K bytes (both operands dequantized to fp32). */
FG_API size_t fg_mx_matmul_work_bytes(enum fg_mx_format fa, enum fg_mx_format fb, size_t M,
                                      size_t N, size_t K);
FG_API fg_status fg_mx_matmul_ref(float *C, const struct fg_mx_matrix *A,
                                  const struct fg_mx_matrix *B, const float *bias, char *errmsg,
                                  size_t errmsg_len);
FG_API fg_status fg_mx_matmul(float *C, const struct fg_mx_matrix *A, const struct fg_mx_matrix *B,
                              const float *bias, const struct fg_mx_params *p, void *work,
                              size_t work_bytes, char *errmsg, size_t errmsg_len);

#ifdef __cplusplus
}
#endif
#endif
