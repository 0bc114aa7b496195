/* The tiled attention kernels with AVX-512 intrinsics, for head sizes that are a multiple of 16
 * (the algorithm and its notes: attention_tiled.c). The block products run as register tiles
 * with fused multiply-adds: scores S = A Bt for 8 rows x 32 columns at a time (16
 * accumulators), and row updates O += P X for 4 rows x 64 channels (16 accumulators; P may be
 * read transposed through strides). The forward computes score blocks transposed (keys x
 * queries, see there); the backward makes one pass per (batch, head) instead of the portable
 * build's two (see below). Sums keep a fixed order for a given shape, so the bits do not
 * depend on the thread count (they differ from the portable build's, which has no FMA: both
 * are within the attention tolerance of the standard kernel). */
#include "attention_tiled_int.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#    include <immintrin.h>
#    include <math.h>
#    include <string.h>

#    include "frugal/kernels.h"
#    include "simd_avx512.h"

#    define TB  32 /* queries and keys per block */
#    define MHS FG_ATTENTION_TILED_MAX_HS

static inline __mmask32 first_n(size_t n)
{
    return n >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << n) - 1u);
}

/* r[k] = column k of the 16 x 16 matrix whose row i was r[i] (four shuffle stages) */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
    }
}

/* t (HS, TB) = rows [s0, s0 + n) of one head's K or V, transposed; columns from n on zero.
 * 16 x 16 tiles transposed in registers (HS is a multiple of 16) */
static void load_transposed(float *t, const float *base, size_t ld, size_t s0, size_t n, size_t HS)
{
    for (size_t j0 = 0; j0 < TB; j0 += 16)
        for (size_t d0 = 0; d0 < HS; d0 += 16) {
            __m512 r[16];
            for (size_t k = 0; k < 16; k++)
                r[k] = j0 + k < n ? _mm512_loadu_ps(base + (s0 + j0 + k) * ld + d0)
                                  : _mm512_setzero_ps();
            transpose16(r);
            for (size_t k = 0; k < 16; k++)
                _mm512_store_ps(t + (d0 + k) * TB + j0, r[k]);
        }
}

/* s (nr, TB) = scale * A (nr rows, stride lda) Bt (HS, TB): 8 rows x 32 keys at a time in 16
 * accumulators (per channel: 2 loads of Bt, 8 broadcasts, 16 FMAs) */
static void scores(float *s, const float *a, size_t lda, size_t nr, const float *bt, size_t HS,
                   float scale)
{
    __m512 sc = _mm512_set1_ps(scale);
    size_t r = 0;
    for (; r + 8 <= nr; r += 8) {
        __m512 c0[8], c1[8];
#    pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            c0[k] = c1[k] = _mm512_setzero_ps();
        for (size_t d = 0; d < HS; d++) {
            __m512 b0 = _mm512_load_ps(bt + d * TB), b1 = _mm512_load_ps(bt + d * TB + 16);
#    pragma GCC unroll 8
            for (int k = 0; k < 8; k++) {
                __m512 q = _mm512_set1_ps(a[(r + (size_t)k) * lda + d]);
                c0[k] = _mm512_fmadd_ps(q, b0, c0[k]);
                c1[k] = _mm512_fmadd_ps(q, b1, c1[k]);
            }
        }
#    pragma GCC unroll 8
        for (int k = 0; k < 8; k++) {
            _mm512_store_ps(s + (r + (size_t)k) * TB, _mm512_mul_ps(c0[k], sc));
            _mm512_store_ps(s + (r + (size_t)k) * TB + 16, _mm512_mul_ps(c1[k], sc));
        }
    }
    for (; r < nr; r++) {
        __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
        for (size_t d = 0; d < HS; d++) {
            __m512 q = _mm512_set1_ps(a[r * lda + d]);
            c0 = _mm512_fmadd_ps(q, _mm512_load_ps(bt + d * TB), c0);
            c1 = _mm512_fmadd_ps(q, _mm512_load_ps(bt + d * TB + 16), c1);
        }
        _mm512_store_ps(s + r * TB, _mm512_mul_ps(c0, sc));
        _mm512_store_ps(s + r * TB + 16, _mm512_mul_ps(c1, sc));
    }
}

/* Which (r, j) of a diagonal block can be nonzero: all (FULL), j <= r (LOWER: rows are
 * queries, j keys) or j >= r (UPPER: rows are keys, j queries). The others are masked zeros,
 * skipped. */
enum tri { FULL, LOWER, UPPER };

/* o (nr rows, stride ldo, HS) [+]= P X: P (nr, nk) with element (r, j) at p[r prs + j pcs] (P
 * itself with prs = TB, pcs = 1; P^T with prs = 1, pcs = TB), X (nk rows, stride ldx, HS);
 * HS a multiple of 16. load = 0 overwrites o instead of adding to it. */
static void accum(float *o, size_t ldo, size_t nr, const float *p, size_t prs, size_t pcs,
                  size_t nk, const float *x, size_t ldx, size_t HS, int load, enum tri tri)
{
    for (size_t c0 = 0; c0 < HS; c0 += 64) {
        size_t nv = (HS - c0 < 64 ? HS - c0 : 64) / 16;
        size_t r = 0;
        for (; r + 4 <= nr; r += 4) {
            __m512 acc[4][4];
#    pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
#    pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    acc[k][v] =
                        load && (size_t)v < nv
                            ? _mm512_loadu_ps(o + (r + (size_t)k) * ldo + c0 + (size_t)v * 16)
                            : _mm512_setzero_ps();
            size_t j0 = tri == UPPER ? r : 0, j1 = tri == LOWER && r + 4 < nk ? r + 4 : nk;
            for (size_t j = j0; j < j1; j++) {
                __m512 xv[4];
#    pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    xv[v] = (size_t)v < nv ? _mm512_loadu_ps(x + j * ldx + c0 + (size_t)v * 16)
                                           : _mm512_setzero_ps();
#    pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    __m512 pb = _mm512_set1_ps(p[(r + (size_t)k) * prs + j * pcs]);
#    pragma GCC unroll 4
                    for (int v = 0; v < 4; v++)
                        acc[k][v] = _mm512_fmadd_ps(pb, xv[v], acc[k][v]);
                }
            }
#    pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
#    pragma GCC unroll 4
                for (int v = 0; v < 4; v++)
                    if ((size_t)v < nv)
                        _mm512_storeu_ps(o + (r + (size_t)k) * ldo + c0 + (size_t)v * 16,
                                         acc[k][v]);
        }
        for (; r < nr; r++)
            for (size_t v = 0; v < nv; v++) {
                __m512 acc =
                    load ? _mm512_loadu_ps(o + r * ldo + c0 + v * 16) : _mm512_setzero_ps();
                size_t j0 = tri == UPPER ? r : 0, j1 = tri == LOWER && r + 1 < nk ? r + 1 : nk;
                for (size_t j = j0; j < j1; j++)
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(p[r * prs + j * pcs]),
                                          _mm512_loadu_ps(x + j * ldx + c0 + v * 16), acc);
                _mm512_storeu_ps(o + r * ldo + c0 + v * 16, acc);
            }
    }
}

/* the queries (lanes of a transposed score row) that key j of a block may serve: on the
 * diagonal block queries j and above, elsewhere all */
static inline __mmask32 causal_lanes(int diag, size_t j)
{
    return diag ? (__mmask32)(0xFFFFFFFFu << j) : (__mmask32)0xFFFFFFFFu;
}

/* keys allowed for query t in the block starting at k0 with nk keys */
static inline size_t n_allowed(size_t t, size_t k0, size_t nk)
{
    size_t lim = t - k0 + 1;
    return lim < nk ? lim : nk;
}

/* The forward works on transposed score blocks, S^T = K Q^T (keys x queries), so that the
 * 16 lanes of a vector are 16 queries: the running maximum, the rescaling factors and the
 * sums of the online softmax are plain vertical operations (no horizontal reductions), the
 * query block is transposed once per task instead of one key block per block pair, and P^T
 * feeds the O += P V update through its strides. */
void fg_attention_tiled_forward_avx512(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                       size_t C, size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, nb = (T + TB - 1) / TB;
    float scale = 1.0f / sqrtf((float)HS);
    long n_tasks = (long)(B * NH * nb);
#    pragma omp parallel for schedule(dynamic, 1)               \
        num_threads(n_threads) if (n_threads > 1) default(none) \
            shared(out, lse, qkv, B, T, C, NH, HS, C3, nb, scale, n_tasks)
    for (long task = 0; task < n_tasks; task++) {
        size_t qb = (size_t)task % nb, bh = (size_t)task / nb, b = bh / NH, h = bh % NH;
        size_t q0 = qb * TB, nq = T - q0 < TB ? T - q0 : TB;
        _Alignas(64) float qt[MHS * TB], st[TB * TB], acc[TB * MHS], al[TB], ms[TB], ls[TB];
        const float *base = qkv + b * T * C3 + h * HS;
        const __m512 ninf = _mm512_set1_ps(-INFINITY);
        memset(acc, 0, nq * HS * sizeof(float));
        load_transposed(qt, base, C3, q0, nq, HS); /* padding queries are zero: finite scores */
        __m512 m[2] = { ninf, ninf }, l[2] = { _mm512_setzero_ps(), _mm512_setzero_ps() };
        for (size_t kb = 0; kb <= qb; kb++) {
            size_t k0 = kb * TB, nk = T - k0 < TB ? T - k0 : TB;
            int diag = kb == qb;
            scores(st, base + C + k0 * C3, C3, nk, qt, HS, scale);
            __m512 bm[2] = { ninf, ninf };
            for (size_t j = 0; j < nk; j++) {
                __mmask32 ok = causal_lanes(diag, j);
                for (int v = 0; v < 2; v++)
                    bm[v] = _mm512_mask_max_ps(bm[v], (__mmask16)(ok >> (16 * v)), bm[v],
                                               _mm512_load_ps(st + j * TB + 16 * v));
            }
            __m512 mn[2], alpha[2], sum[2];
            __mmask16 grew = 0;
            for (int v = 0; v < 2; v++) {
                mn[v] = _mm512_max_ps(m[v], bm[v]);
                grew |= _mm512_cmp_ps_mask(mn[v], m[v], _CMP_GT_OQ);
                /* exp(0) is 1 exactly: lanes whose maximum stays are not rescaled */
                alpha[v] = exp512(_mm512_sub_ps(m[v], mn[v]));
                sum[v] = _mm512_setzero_ps();
            }
            for (size_t j = 0; j < nk; j++) {
                __mmask32 ok = causal_lanes(diag, j);
                for (int v = 0; v < 2; v++) {
                    float *sp = st + j * TB + 16 * v;
                    __m512 pv =
                        _mm512_maskz_mov_ps((__mmask16)(ok >> (16 * v)),
                                            exp512(_mm512_sub_ps(_mm512_load_ps(sp), mn[v])));
                    _mm512_store_ps(sp, pv);
                    sum[v] = _mm512_add_ps(sum[v], pv);
                }
            }
            for (int v = 0; v < 2; v++) {
                l[v] = _mm512_fmadd_ps(l[v], alpha[v], sum[v]);
                m[v] = mn[v];
            }
            if (grew && kb > 0) {
                _mm512_store_ps(al, alpha[0]);
                _mm512_store_ps(al + 16, alpha[1]);
                for (size_t i = 0; i < nq; i++) {
                    __m512 av = _mm512_set1_ps(al[i]);
                    for (size_t d = 0; d < HS; d += 16)
                        _mm512_store_ps(acc + i * HS + d,
                                        _mm512_mul_ps(_mm512_load_ps(acc + i * HS + d), av));
                }
            }
            accum(acc, HS, nq, st, 1, TB, nk, base + 2 * C + k0 * C3, C3, HS, 1, FULL);
        }
        for (int v = 0; v < 2; v++) {
            _mm512_store_ps(ms + 16 * v, m[v]);
            _mm512_store_ps(ls + 16 * v, l[v]);
        }
        for (size_t i = 0; i < nq; i++) {
            size_t t = q0 + i;
            __m512 inv = _mm512_set1_ps(1.0f / ls[i]);
            float *o = out + (b * T + t) * C + h * HS;
            for (size_t d = 0; d < HS; d += 16)
                _mm512_storeu_ps(o + d, _mm512_mul_ps(_mm512_load_ps(acc + i * HS + d), inv));
            lse[bh * T + t] = ms[i] + logf(ls[i]);
        }
    }
}

/* For the query rows [q0, q0 + nq) against the key block at k0 (nk keys): P = exp(S - lse)
 * and dS = P * (dP - D) * scale (the score scale, which dQ and dK carry), masked entries 0, in
 * p and ds (nq, TB) */
static void block_grads(float *p, float *ds, const float *base, const float *dyb, size_t C,
                        size_t C3, size_t q0, size_t nq, size_t k0, size_t nk, const float *kt,
                        const float *vt, size_t HS, float scale, const float *lse_row,
                        const float *d_row)
{
    scores(p, base + q0 * C3, C3, nq, kt, HS, scale);
    scores(ds, dyb + q0 * C, C, nq, vt, HS, 1.0f);
    __m512 sc = _mm512_set1_ps(scale);
    for (size_t i = 0; i < nq; i++) {
        __mmask32 ok = first_n(n_allowed(q0 + i, k0, nk));
        __m512 ls = _mm512_set1_ps(lse_row[q0 + i]), dd = _mm512_set1_ps(d_row[q0 + i]);
        for (int half = 0; half < 2; half++) {
            __mmask16 k = (__mmask16)(ok >> (16 * half));
            float *pp = p + i * TB + 16 * half, *dp = ds + i * TB + 16 * half;
            __m512 pv = _mm512_maskz_mov_ps(k, exp512(_mm512_sub_ps(_mm512_load_ps(pp), ls)));
            _mm512_store_ps(pp, pv);
            _mm512_store_ps(
                dp, _mm512_mul_ps(_mm512_mul_ps(pv, _mm512_sub_ps(_mm512_load_ps(dp), dd)), sc));
        }
    }
}

void fg_attention_tiled_backward_avx512(float *dqkv, float *scratch, const float *dout,
                                        const float *qkv, const float *out, const float *lse,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    size_t HS = C / NH, C3 = 3 * C, nb = (T + TB - 1) / TB;
    float scale = 1.0f / sqrtf((float)HS);
    float *Dr = scratch; /* (B, NH, T): rowsum(dO * O) */
    long n_rows = (long)(B * NH * T);
#    pragma omp parallel for schedule(static)                   \
        num_threads(n_threads) if (n_threads > 1) default(none) \
            shared(Dr, dout, out, B, T, C, NH, HS, n_rows)
    for (long r = 0; r < n_rows; r++) {
        size_t t = (size_t)r % T, bh = (size_t)r / T, b = bh / NH, h = bh % NH;
        size_t o = (b * T + t) * C + h * HS;
        __m512 acc = _mm512_setzero_ps();
        for (size_t d = 0; d < HS; d += 16)
            acc = _mm512_fmadd_ps(_mm512_loadu_ps(dout + o + d), _mm512_loadu_ps(out + o + d), acc);
        Dr[r] = _mm512_reduce_add_ps(acc);
    }
    /* one pass per (batch, head): every block of that head's dQ, dK and dV rows belongs to
     * the task, so dK and dV accumulate in place in dqkv and no pair of blocks is visited
     * twice (5 block products per pair; a split by key and query blocks needs 7) */
    long n_heads = (long)(B * NH);
#    pragma omp parallel for schedule(dynamic, 1)               \
        num_threads(n_threads) if (n_threads > 1) default(none) \
            shared(dqkv, dout, qkv, lse, Dr, B, T, C, NH, HS, C3, nb, scale, n_heads)
    for (long task = 0; task < n_heads; task++) {
        size_t bh = (size_t)task, b = bh / NH, h = bh % NH;
        _Alignas(64) float kt[MHS * TB], vt[MHS * TB], p[TB * TB], ds[TB * TB];
        const float *base = qkv + b * T * C3 + h * HS, *dyb = dout + b * T * C + h * HS;
        float *dbase = dqkv + b * T * C3 + h * HS;
        /* key blocks outside, so each block of K and V is transposed once; dQ, dK and dV
         * accumulate in place (dQ_i over key blocks ascending, dK_j and dV_j over query
         * blocks ascending), each block's first contribution stored, not added (dQ_i's at
         * key block 0, dK_j's and dV_j's at the diagonal) */
        for (size_t kb = 0; kb < nb; kb++) {
            size_t k0 = kb * TB, nk = T - k0 < TB ? T - k0 : TB;
            load_transposed(kt, base + C, C3, k0, nk, HS);
            load_transposed(vt, base + 2 * C, C3, k0, nk, HS);
            for (size_t qb = kb; qb < nb; qb++) {
                size_t q0 = qb * TB, nq = T - q0 < TB ? T - q0 : TB;
                block_grads(p, ds, base, dyb, C, C3, q0, nq, k0, nk, kt, vt, HS, scale,
                            lse + bh * T, Dr + bh * T);
                int diag = qb == kb;
                accum(dbase + q0 * C3, C3, nq, ds, TB, 1, nk, base + C + k0 * C3, C3, HS, kb > 0,
                      diag ? LOWER : FULL);
                accum(dbase + k0 * C3 + 2 * C, C3, nk, p, 1, TB, nq, dyb + q0 * C, C, HS, !diag,
                      diag ? UPPER : FULL);
                accum(dbase + k0 * C3 + C, C3, nk, ds, 1, TB, nq, base + q0 * C3, C3, HS, !diag,
                      diag ? UPPER : FULL);
            }
        }
    }
}

#else /* not built for AVX-512 (another architecture): never selected */
void fg_attention_tiled_forward_avx512(float *out, float *lse, const float *qkv, size_t B, size_t T,
                                       size_t C, size_t NH, int n_threads)
{
    (void)out, (void)lse, (void)qkv, (void)B, (void)T, (void)C, (void)NH, (void)n_threads;
}

void fg_attention_tiled_backward_avx512(float *dqkv, float *scratch, const float *dout,
                                        const float *qkv, const float *out, const float *lse,
                                        size_t B, size_t T, size_t C, size_t NH, int n_threads)
{
    (void)dqkv, (void)scratch, (void)dout, (void)qkv, (void)out, (void)lse, (void)B, (void)T;
    (void)C, (void)NH, (void)n_threads;
}
#endif
