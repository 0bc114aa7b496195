/* Private to the bf16 product (gemm_bf16.c, gemm_bf16_avx512.c): blocking and the micro-kernel. */
#ifndef FRUGAL_GEMM_BF16_INT_H
#define FRUGAL_GEMM_BF16_INT_H

#include <stddef.h>
#include <stdint.h>

/* Tile of C per micro-kernel call: MR rows x NR columns (24 of the 32 AVX-512 registers hold
 * it). Blocks: KC values of k per packed panel (L1 holds a KC x NR panel of op(B), 16 KiB),
 * MC rows of op(A) per packed block (L2), NC columns of op(B) per packed block. */
#define FG_GEMM_MR 12
#define FG_GEMM_NR 32
#define FG_GEMM_KC 256
#define FG_GEMM_MC 96
#define FG_GEMM_NC 768

/* C tile (rows x cols of it valid, at most MR x NR) [+]= the product of one packed panel of
 * op(A) (kp pairs x MR words) and one of op(B) (kp pairs x NR words); load = 0 starts from zero. */
typedef void (*fg_gemm_kern)(size_t kp, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                             int rows, int cols, int load);

struct fg_gemm_op;

/* Packs the panels of width w (MR for op(A), NR for op(B)) covering packed indices
 * [r0, r0 + nr) and k in [k0, k0 + kc) into out: panel q, pair p, lane c at
 * out[(q kp + p) w + c], kp = ceil(kc / 2), with zeros past nr and past kc. kcontig says
 * whether X as stored runs along k (row = packed index, column = k) or along the packed index
 * (row = k). w is at most 32. */
typedef void (*fg_gemm_pack)(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc);
/* The same with AVX-512F/BW; call only when fg_cpu_isa() >= FG_ISA_AVX512. */
void fg_gemm_bf16_pack_avx512(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                              size_t r0, size_t nr, size_t k0, size_t kc);

/* VDPBF16PS micro-kernel; call only when fg_cpu_isa() >= FG_ISA_AVX512BF16. */
void fg_gemm_bf16_kern_avx512bf16(size_t kp, const uint32_t *a, const uint32_t *b, float *c,
                                  size_t ldc, int rows, int cols, int load);

/* ---- AMX (fg_cpu_isa() >= FG_ISA_AMX only) ----
 * Tiles of C are 32 x 32 (FG_GEMM_AMX_MR x NR); panels hold kp16 pairs, ceil(kc / 2) rounded up
 * to 16, so the blocks above fit the same workspace. begin loads the tile configuration on the
 * calling thread and end releases it; the kernel and packs run between them. */
#define FG_GEMM_AMX_MR 32
#define FG_GEMM_AMX_NR 32
/* Columns of op(B) per packed block on the tile unit: four times FG_GEMM_NC. The tile unit is
 * so fast that re-packing the op(A) block for every column block costs more than the larger B
 * block's trips to L2 (1.5 MiB per thread): about 6% less time over GPT-2's products with bf16
 * weights (bench_gemm_bf16, alternated with 768 columns), most of it in the LM head. */
#define FG_GEMM_AMX_NC 3072
void fg_gemm_bf16_amx_begin(void);
void fg_gemm_bf16_amx_end(void);
void fg_gemm_bf16_kern_amx(size_t kp16, const uint32_t *a, const uint32_t *b, float *c, size_t ldc,
                           int rows, int cols, int load);
/* fg_gemm_pack's signature; w must be 32 (the A panels are row-major, padded to kp16 pairs) */
void fg_gemm_bf16_pack_a_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc);
void fg_gemm_bf16_pack_b_amx(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                             size_t r0, size_t nr, size_t k0, size_t kc);

/* The peak loops: iters x 12 VDPBF16PS (64 FLOPs each; FG_ISA_AVX512BF16 and up), iters x 6
 * TDPBF16PS (16,384 FLOPs each; between amx_begin and amx_end). The result only keeps the work. */
float fg_gemm_bf16_dp_loop(long iters);
float fg_gemm_bf16_amx_loop(long iters);

#endif
