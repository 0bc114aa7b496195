/* bf16 matrix products with fp32 accumulation (kernels.h: fg_gemm_bf16).
 *
 * The blocked product follows the usual three-level scheme: C is cut into column ranges, one
 * per thread; within a range, a block of op(B) (KC x NC) and of op(A) (MC x KC) is packed into
 * panels of bf16 pairs, and a micro-kernel computes an MR x NR tile of C from one A panel and
 * one B panel. A packed panel holds, for each pair p of k, the two bf16 values of one row of
 * op(A) (or one column of op(B)) as a 32-bit word: low half k = 2p, high half k = 2p + 1, the
 * layout VDPBF16PS reads. Every element of C sums its pairs in ascending p whatever the
 * blocking (a K block continues from the fp32 value the previous one stored), so the bits do
 * not depend on the blocking or the thread count; the micro-kernel is the instruction on CPUs
 * with AVX512_BF16 and a plain C emulation of it elsewhere. On CPUs with AMX-BF16 the tile unit
 * takes its place (a gemm_path of 32 x 32 tiles, the A panels row-major), with the same
 * blocking and column split, so its bits do not depend on the thread count either; they are
 * the tile unit's own, not the instruction's (kernels.h). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#    include <omp.h>
#endif

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/numerics.h"
#include "gemm_bf16_int.h"
#include "kernels_int.h"

/* ---- the definition ----------------------------------------------------------------------- */

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* a bf16 value as fp32, subnormals read as zero (DAZ) */
static inline float bf16_daz(uint32_t h)
{
    return (h & 0x7F80u) ? bits_f32(h << 16) : bits_f32((h & 0x8000u) << 16);
}

/* results below the smallest normal flushed to a zero of the same sign (FTZ) */
static inline float ftz(float x)
{
    return fabsf(x) < FLT_MIN ? copysignf(0.0f, x) : x;
}

/* acc + x y with one rounding (a fused multiply-add), then FTZ. x y is exact in double (two
 * 8-bit significands) and so is the sum unless the exponents lie more than 29 bits apart, when
 * the smaller term is far below half an fp32 ulp of the larger and the double rounding cannot
 * reach an fp32 tie: the conversion to float rounds as fmaf would, without needing an FMA. */
static inline float fma_ftz(float acc, float x, float y)
{
    return ftz((float)((double)acc + (double)x * (double)y));
}

/* one VDPBF16PS lane: a and b hold (k = 2p) in their low and (k = 2p + 1) in their high half */
static inline float dp_pair(float acc, uint32_t a, uint32_t b)
{
    acc = fma_ftz(acc, bf16_daz(a >> 16), bf16_daz(b >> 16));
    return fma_ftz(acc, bf16_daz(a & 0xFFFFu), bf16_daz(b & 0xFFFFu));
}

/* bf16 bits of op(X)(r, c): element (c, r) of X as stored when trans, else (r, c) */
static uint16_t op_at(const struct fg_gemm_op *x, size_t r, size_t c)
{
    size_t i = x->trans ? c * x->ld + r : r * x->ld + c;
    if (x->bf16)
        return ((const uint16_t *)x->data)[i];
    uint16_t h;
    fg_fp32_to_bf16_ref(&h, (const float *)x->data + i, 1);
    return h;
}

void fg_gemm_bf16_ref(size_t M, size_t N, size_t K, struct fg_gemm_op A, struct fg_gemm_op B,
                      float *C, size_t ldc, int accumulate)
{
    for (size_t i = 0; i < M; i++) {
        for (size_t j = 0; j < N; j++) {
            float acc = accumulate ? C[i * ldc + j] : 0.0f;
            if (K > 0)
                acc = ftz(acc); /* the incoming accumulator is read with DAZ too */
            for (size_t k = 0; k < K; k += 2) {
                uint32_t a = op_at(&A, i, k), b = op_at(&B, k, j);
                if (k + 1 < K) {
                    a |= (uint32_t)op_at(&A, i, k + 1) << 16;
                    b |= (uint32_t)op_at(&B, k + 1, j) << 16;
                }
                acc = dp_pair(acc, a, b);
            }
            C[i * ldc + j] = acc;
        }
    }
}

/* ---- packing ------------------------------------------------------------------------------ */

/* bf16 bits of element (s, t) of X as stored (fg_bf16_encode for fp32) */
static inline uint32_t stored16(const struct fg_gemm_op *x, size_t s, size_t t)
{
    size_t i = s * x->ld + t;
    if (x->bf16)
        return ((const uint16_t *)x->data)[i];
    uint32_t u;
    memcpy(&u, (const float *)x->data + i, sizeof u);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu))
        return (u >> 16) | 0x0040u; /* NaN: kept a NaN, made quiet */
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

/* fg_gemm_pack (gemm_bf16_int.h), element by element */
static void pack_generic(uint32_t *out, const struct fg_gemm_op *x, int kcontig, size_t w,
                         size_t r0, size_t nr, size_t k0, size_t kc)
{
    size_t kp = (kc + 1) / 2, n_panels = (nr + w - 1) / w;
    for (size_t q = 0; q < n_panels; q++) {
        uint32_t *o = out + q * kp * w;
        size_t lanes = nr - q * w < w ? nr - q * w : w, base = r0 + q * w;
        for (size_t p = 0; p < kp; p++) {
            size_t k = k0 + 2 * p;
            int odd = 2 * p + 1 < kc;
            for (size_t c = 0; c < w; c++) {
                uint32_t lo = 0, hi = 0;
                if (c < lanes && kcontig) {
                    lo = stored16(x, base + c, k);
                    hi = odd ? stored16(x, base + c, k + 1) : 0;
                } else if (c < lanes) {
                    lo = stored16(x, k, base + c);
                    hi = odd ? stored16(x, k + 1, base + c) : 0;
                }
                o[p * w + c] = lo | hi << 16;
            }
        }
    }
}

/* ---- micro-kernel, portable --------------------------------------------------------------- */

/* The emulation of the AVX512_BF16 micro-kernel (gemm_bf16_int.h), same bits. */
FG_CLONES static void kern_generic(size_t kp, const uint32_t *a, const uint32_t *b, float *c,
                                   size_t ldc, int rows, int cols, int load)
{
    float acc[FG_GEMM_MR][FG_GEMM_NR];
    for (int r = 0; r < FG_GEMM_MR; r++)
        for (int j = 0; j < FG_GEMM_NR; j++)
            acc[r][j] = load && r < rows && j < cols ? ftz(c[(size_t)r * ldc + j]) : 0.0f;
    for (size_t p = 0; p < kp; p++) {
        const uint32_t *bp = b + p * FG_GEMM_NR;
        float b_hi[FG_GEMM_NR], b_lo[FG_GEMM_NR];
        for (int j = 0; j < FG_GEMM_NR; j++) {
            b_hi[j] = bf16_daz(bp[j] >> 16);
            b_lo[j] = bf16_daz(bp[j] & 0xFFFFu);
        }
        for (int r = 0; r < FG_GEMM_MR; r++) {
            float a_hi = bf16_daz(a[p * FG_GEMM_MR + r] >> 16);
            float a_lo = bf16_daz(a[p * FG_GEMM_MR + r] & 0xFFFFu);
            for (int j = 0; j < FG_GEMM_NR; j++)
                acc[r][j] = fma_ftz(fma_ftz(acc[r][j], a_hi, b_hi[j]), a_lo, b_lo[j]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            c[(size_t)r * ldc + j] = acc[r][j];
}

/* ---- the driver --------------------------------------------------------------------------- */

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)
/* one thread's workspace: a packed block of op(A) (MC x KC) and one of op(B) (KC x NC) */
#define A_BYTES    ALIGN64((size_t)FG_GEMM_MC *(size_t)FG_GEMM_KC * sizeof(uint16_t))
#define MAX_NC     (FG_GEMM_AMX_NC > FG_GEMM_NC ? FG_GEMM_AMX_NC : FG_GEMM_NC)
#define B_BYTES    ALIGN64((size_t)FG_GEMM_KC *(size_t)MAX_NC * sizeof(uint16_t))
#define PER_THREAD (A_BYTES + B_BYTES)

size_t fg_gemm_bf16_work_size(int n_threads)
{
    return (size_t)(n_threads > 0 ? n_threads : 1) * PER_THREAD;
}

static int use_avx512bf16(void)
{
    return fg_cpu_isa() >= FG_ISA_AVX512BF16;
}

/* the AMX blocks are the VDPBF16PS ones, FG_GEMM_AMX_NC columns wide, with 32-row and
 * 32-column panels padded to 16 pairs: the same workspace holds them (B_BYTES counts the widest) */
_Static_assert(FG_GEMM_MC % FG_GEMM_AMX_MR == 0 && FG_GEMM_AMX_NC % FG_GEMM_AMX_NR == 0 &&
                   FG_GEMM_KC % 32 == 0,
               "AMX panels must tile the VDPBF16PS blocks");

const char *fg_gemm_bf16_path(void)
{
    return fg_cpu_isa() >= FG_ISA_AMX ? "amx" : use_avx512bf16() ? "avx512bf16" : "generic";
}

/* One way to compute the product: the tile of C per kernel call, the packers of op(A) and op(B)
 * panels (given the panel widths mr and nr), the pairs per panel rounded up to a multiple of
 * kalign, and the hooks a thread calls before and after its columns (or NULL). */
struct gemm_path {
    size_t mr, nr, kalign, nc; /* nc: columns of op(B) per packed block */
    fg_gemm_pack pack_a, pack_b;
    fg_gemm_kern kern;
    void (*begin)(void), (*end)(void);
};

/* the path for this CPU: the tile unit, else VDPBF16PS or its emulation, with the AVX-512
 * packers where the CPU has them */
static struct gemm_path select_path(void)
{
    enum fg_isa isa = fg_cpu_isa();
    struct gemm_path p = { .mr = FG_GEMM_MR, .nr = FG_GEMM_NR, .kalign = 1, .nc = FG_GEMM_NC };
    if (isa >= FG_ISA_AMX) {
        p.mr = FG_GEMM_AMX_MR, p.nr = FG_GEMM_AMX_NR, p.kalign = 16, p.nc = FG_GEMM_AMX_NC;
        p.pack_a = fg_gemm_bf16_pack_a_amx, p.pack_b = fg_gemm_bf16_pack_b_amx;
        p.kern = fg_gemm_bf16_kern_amx;
        p.begin = fg_gemm_bf16_amx_begin, p.end = fg_gemm_bf16_amx_end;
    } else {
        p.pack_a = p.pack_b = isa >= FG_ISA_AVX512 ? fg_gemm_bf16_pack_avx512 : pack_generic;
        p.kern = use_avx512bf16() ? fg_gemm_bf16_kern_avx512bf16 : kern_generic;
    }
    return p;
}

/* columns [j0, j1) of C on one path, with one thread's workspace */
static void gemm_cols(size_t M, size_t K, const struct fg_gemm_op *A, const struct fg_gemm_op *B,
                      float *C, size_t ldc, int accumulate, size_t j0, size_t j1, uint8_t *ws,
                      const struct gemm_path *path)
{
    uint32_t *ap = (uint32_t *)ws, *bp = (uint32_t *)(ws + A_BYTES);
    size_t MR = path->mr, NR = path->nr;
    if (path->begin)
        path->begin();
    for (size_t jc = j0; jc < j1; jc += path->nc) {
        size_t nc = j1 - jc < path->nc ? j1 - jc : path->nc;
        for (size_t pc = 0; pc < K; pc += FG_GEMM_KC) {
            size_t kc = K - pc < FG_GEMM_KC ? K - pc : FG_GEMM_KC;
            size_t kp = ((kc + 1) / 2 + path->kalign - 1) / path->kalign * path->kalign;
            path->pack_b(bp, B, B->trans, NR, jc, nc, pc, kc);
            for (size_t ic = 0; ic < M; ic += FG_GEMM_MC) {
                size_t mc = M - ic < FG_GEMM_MC ? M - ic : FG_GEMM_MC;
                path->pack_a(ap, A, !A->trans, MR, ic, mc, pc, kc);
                for (size_t jr = 0; jr < nc; jr += NR) {
                    int cols = (int)(nc - jr < NR ? nc - jr : NR);
                    for (size_t ir = 0; ir < mc; ir += MR) {
                        int rows = (int)(mc - ir < MR ? mc - ir : MR);
                        path->kern(kp, ap + ir * kp, bp + jr * kp, C + (ic + ir) * ldc + jc + jr,
                                   ldc, rows, cols, accumulate || pc > 0);
                    }
                }
            }
        }
    }
    if (path->end)
        path->end();
}

static int op_ok(const struct fg_gemm_op *x, size_t rows, size_t cols)
{
    /* op(X) is (rows, cols); X as stored is (cols, rows) when transposed */
    size_t row_len = x->trans ? rows : cols;
    return x->data && x->ld >= row_len;
}

fg_status fg_gemm_bf16(size_t M, size_t N, size_t K, struct fg_gemm_op A, struct fg_gemm_op B,
                       float *C, size_t ldc, int accumulate, void *work, int n_threads)
{
    if (!C || ldc < N || !work || ((uintptr_t)work & 63))
        return FG_ERR_INVALID_ARG;
    if (M == 0 || N == 0)
        return FG_OK;
    if (K == 0) {
        if (!accumulate)
            for (size_t i = 0; i < M; i++)
                memset(C + i * ldc, 0, N * sizeof(float));
        return FG_OK;
    }
    if (!op_ok(&A, M, K) || !op_ok(&B, K, N))
        return FG_ERR_INVALID_ARG;
    struct gemm_path path = select_path();
    size_t n_panels = (N + FG_GEMM_NR - 1) / FG_GEMM_NR;
    int nt = n_threads > 0 ? n_threads : 1;
    if ((size_t)nt > n_panels)
        nt = (int)n_panels;
    uint8_t *ws = work;
#pragma omp parallel num_threads(nt) if (nt > 1) default(none) \
    shared(M, N, K, A, B, C, ldc, accumulate, ws, path, n_panels)
    {
        int t = 0, team = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        team = omp_get_num_threads(); /* the runtime may grant fewer than nt */
#endif
        /* whole panels of NR columns per thread, the remainder to the first threads */
        size_t per = n_panels / (size_t)team, extra = n_panels % (size_t)team;
        size_t p0 = (size_t)t * per + ((size_t)t < extra ? (size_t)t : extra);
        size_t p1 = p0 + per + ((size_t)t < extra ? 1 : 0);
        size_t j0 = p0 * FG_GEMM_NR, j1 = p1 * FG_GEMM_NR < N ? p1 * FG_GEMM_NR : N;
        if (j0 < j1)
            gemm_cols(M, K, &A, &B, C, ldc, accumulate, j0, j1, ws + (size_t)t * PER_THREAD, &path);
    }
    return FG_OK;
}

#define PEAK_ITERS_AMX 2000000L
#define PEAK_ITERS_DP  20000000L

static float amx_body(void *user)
{
    (void)user;
    fg_gemm_bf16_amx_begin();
    float s = fg_gemm_bf16_amx_loop(PEAK_ITERS_AMX);
    fg_gemm_bf16_amx_end();
    return s;
}

static float dp_body(void *user)
{
    (void)user;
    return fg_gemm_bf16_dp_loop(PEAK_ITERS_DP);
}

double fg_gemm_bf16_peak_flops(int n_threads, const char **unit)
{
    int amx = fg_cpu_isa() >= FG_ISA_AMX, dp = !amx && use_avx512bf16();
    if (unit)
        *unit = amx ? "amx bf16" : dp ? "avx512bf16 dot products" : "none";
    if (!amx && !dp)
        return 0.0;
    /* TDPBF16PS: 16 x 16 x 32 x 2 FLOPs, 6 a turn; VDPBF16PS: 16 lanes x 2 pairs x 2, 12 a turn */
    return amx ? fg_cpu_best_rate(n_threads, amx_body, NULL, (double)PEAK_ITERS_AMX * 6.0 * 16384.0)
               : fg_cpu_best_rate(n_threads, dp_body, NULL, (double)PEAK_ITERS_DP * 12.0 * 64.0);
}
