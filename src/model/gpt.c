/* GPT-2 forward and backward over the flat parameter buffer (the llm.c layout).
 * One layer: x -> ln1 -> qkv -> causal attention -> proj (+x) -> ln2 -> fc -> gelu -> fcproj
 * (+residual). The LM head reuses wte. Backward walks the same path in reverse with one
 * residual-gradient buffer and per-layer scratch reused by every layer. Kernels are the fast
 * ones, or the scalar _ref ones when the model was created with use_ref. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/model.h"
#include "model_int.h"

struct fg_model_params fg_model_params_default(void)
{
    struct fg_model_params p;
    memset(&p, 0, sizeof p);
    p.cfg.n_layer = 4;
    p.cfg.n_head = 4;
    p.cfg.n_embd = 128;
    p.cfg.block_size = 256;
    p.cfg.vocab_size = 256;
    p.B = 8;
    p.T = 256;
    p.training = 1;
    p.n_threads = 1;
    p.mx = fg_model_mx_default();
    return p;
}

const char *fg_model_errmsg(const struct fg_model *m)
{
    return m ? m->errmsg : "no model";
}

fg_status fg_model_init(struct fg_model **out, const struct fg_model_params *p)
{
    *out = NULL;
    struct fg_allocator alloc = p->allocator ? *p->allocator : fg_allocator_default();
    struct fg_model_mem mem;
    if (p->B == 0 || p->T == 0 || p->T > (size_t)p->cfg.block_size || p->n_threads < 1)
        return FG_ERR_INVALID_ARG;
    FG_TRY(fg_model_mem_size_params(p, &mem));
    struct fg_model *m = fg_alloc(&alloc, sizeof *m, 64);
    if (!m)
        return FG_ERR_NOMEM;
    memset(m, 0, sizeof *m);
    m->cfg = p->cfg;
    m->Vp = fg_model_padded_vocab(p->cfg.vocab_size);
    m->B = p->B;
    m->T = p->T;
    m->training = p->training;
    m->n_threads = p->n_threads;
    m->use_ref = p->use_ref;
    m->mx = p->mx;
    m->attn_avx512 = !p->use_ref && p->attention == FG_MODEL_ATTN_STANDARD &&
                     fg_cpu_isa() >= FG_ISA_AVX512 &&
                     fg_attention_avx512_supported((size_t)p->cfg.n_embd, (size_t)p->cfg.n_head);
    m->alloc = alloc;
    m->mem = mem;
    m->weights = p->weights;
    m->matmul = p->matmul;
    m->attention = p->attention;
    m->recompute = p->training ? p->recompute : FG_MODEL_RECOMPUTE_NONE;
    m->n_flat = fg_model_param_layout(&m->cfg, m->offset, m->numel, NULL);
    void *arena = fg_alloc(&alloc, mem.param_bytes + mem.grad_bytes, 64);
    if (m->weights == FG_MODEL_WEIGHTS_BF16) {
        m->w16 = arena;
        m->dec = fg_alloc(&alloc, mem.decode_bytes, 64);
    } else {
        m->params = arena;
    }
    size_t act_bytes = mem.act_bytes + mem.scratch_bytes + mem.mx_bytes;
    m->act_arena = fg_alloc(&alloc, act_bytes, 64);
    if (mem.gemm_bytes)
        m->gemm_work = fg_alloc(&alloc, mem.gemm_bytes, 64);
    if (!arena || !m->act_arena || (m->w16 && !m->dec) || (mem.gemm_bytes && !m->gemm_work)) {
        fg_free(&alloc, arena);
        m->params = NULL;
        m->w16 = NULL;
        fg_model_free(m);
        return FG_ERR_NOMEM;
    }
    memset(arena, 0, mem.param_bytes + mem.grad_bytes);
    memset(m->act_arena, 0, act_bytes);
    if (m->w16) {
        memset(m->dec, 0, mem.decode_bytes);
        m->g16 = p->training && !p->grad_release ? m->w16 + m->n_flat : NULL;
        m->g16_clear = 1;
        m->grad_release = p->grad_release;
        fg_model_decode_layout(&m->cfg, m->training, m->dec, m->dw, m->dg, &m->wchunk, &m->gchunk,
                               &m->chunk_rows);
    } else {
        m->grads = p->training ? m->params + m->n_flat : NULL;
    }
    struct fg_model_act_opts o = { m->training, &m->mx, m->attention, m->recompute,
                                   m->weights == FG_MODEL_WEIGHTS_FP32 };
    fg_model_act_layout(&m->cfg, m->B, m->T, &o, m->act_arena, &m->a, NULL, NULL);
    *out = m;
    return FG_OK;
}

void fg_model_free(struct fg_model *m)
{
    if (!m)
        return;
    struct fg_allocator alloc = m->alloc;
    fg_free(&alloc, m->params);
    fg_free(&alloc, m->w16);
    fg_free(&alloc, m->dec);
    fg_free(&alloc, m->act_arena);
    fg_free(&alloc, m->gemm_work);
    fg_free(&alloc, m);
}

float *fg_model_param(struct fg_model *m, int id)
{
    return m->params ? m->params + m->offset[id] : NULL;
}

float *fg_model_grad(struct fg_model *m, int id)
{
    return m->grads ? m->grads + m->offset[id] : NULL;
}

uint16_t *fg_model_param16(struct fg_model *m, int id)
{
    return m->w16 ? m->w16 + m->offset[id] : NULL;
}

uint16_t *fg_model_grad16(struct fg_model *m, int id)
{
    return m->g16 ? m->g16 + m->offset[id] : NULL;
}

void fg_model_init_weights(struct fg_model *m, uint64_t seed)
{
    struct fg_rng rng;
    fg_rng_seed(&rng, seed);
    if (m->w16)
        memset(m->w16, 0, m->n_flat * sizeof(uint16_t));
    else
        memset(m->params, 0, m->n_flat * sizeof(float));
    double proj_std = 0.02 / sqrt(2.0 * m->cfg.n_layer);
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        size_t n = m->numel[id];
        double std = 0.0; /* 0: a constant */
        float c = 0.0f;
        switch (id) {
        case FG_PARAM_LN1W:
        case FG_PARAM_LN2W:
        case FG_PARAM_LNFW:
            c = 1.0f;
            break;
        case FG_PARAM_WTE:
            /* rows of the padded vocabulary stay zero: never looked up, never predicted */
            n = (size_t)m->cfg.vocab_size * (size_t)m->cfg.n_embd;
            std = 0.02;
            break;
        case FG_PARAM_WPE:
        case FG_PARAM_QKVW:
        case FG_PARAM_FCW:
            std = 0.02;
            break;
        case FG_PARAM_ATTPROJW:
        case FG_PARAM_FCPROJW:
            std = proj_std;
            break;
        default:
            continue; /* biases stay zero */
        }
        float *p = fg_model_param(m, id);
        uint16_t *h = fg_model_param16(m, id);
        for (size_t i = 0; i < n; i++) {
            float v = std > 0.0 ? (float)(std * fg_rng_normal(&rng)) : c;
            if (h)
                h[i] = fg_bf16_encode(v);
            else
                p[i] = v;
        }
    }
}

void fg_model_zero_grad(struct fg_model *m)
{
    if (m->grads)
        memset(m->grads, 0, m->n_flat * sizeof(float));
    m->g16_clear = 1; /* the next backward writes every gradient instead of adding */
}

const float *fg_model_logits(const struct fg_model *m)
{
    return m->a.logits;
}

/* ---- profiling ---- */

static const char *const op_names[FG_MODEL_N_OPS] = {
    "encoder",     "layernorm",    "matmul",        "attention",   "gelu",          "residual",
    "lm_head",     "crossentropy", "layernorm_bwd", "matmul_bwd",  "attention_bwd", "gelu_bwd",
    "lm_head_bwd", "encoder_bwd",  "mx_quantize",   "bf16_decode", "recompute",
};

void fg_model_set_profile(struct fg_model *m, double *acc_ms)
{
    m->profile_ms = acc_ms;
}

const char *fg_model_op_name(int op)
{
    return op >= 0 && op < FG_MODEL_N_OPS ? op_names[op] : "?";
}

static double prof_begin(const struct fg_model *m)
{
    return m->profile_ms ? fg_time_now() : 0.0;
}

static void prof_end(const struct fg_model *m, int op, double t0)
{
    if (m->profile_ms)
        m->profile_ms[op] += 1e3 * (fg_time_now() - t0);
}

/* ---- kernel dispatch: the fast kernels, or the _ref ones for tests ---- */

/* C (M,N) [+]= op(A) op(B) as bf16 products (matmul BF16) */
static void gemm_op(const struct fg_model *m, size_t M, size_t N, size_t K, struct fg_gemm_op a,
                    struct fg_gemm_op b, int accumulate, float *C, size_t ldc)
{
    if (m->use_ref)
        fg_gemm_bf16_ref(M, N, K, a, b, C, ldc, accumulate);
    else /* the arguments are the model's own, checked at init: cannot be refused */
        (void)fg_gemm_bf16(M, N, K, a, b, C, ldc, accumulate, m->gemm_work, m->n_threads);
}

/* the same on fp32 operands; ta / tb as fg_sgemm */
static void gemm16(const struct fg_model *m, int ta, int tb, size_t M, size_t N, size_t K,
                   const float *A, size_t lda, const float *B, size_t ldb, int accumulate, float *C,
                   size_t ldc)
{
    struct fg_gemm_op a = { A, 0, ta, lda }, b = { B, 0, tb, ldb };
    gemm_op(m, M, N, K, a, b, accumulate, C, ldc);
}

/* The weight operand W (OC, IC) of a bf16 product, op(W) = W^T when trans: the model's bf16
 * weights in place when w16 is given, else the fp32 ones */
static struct fg_gemm_op weight_op(const float *w, const uint16_t *w16, int trans, size_t IC)
{
    struct fg_gemm_op op = { w16 ? (const void *)w16 : (const void *)w, w16 != NULL, trans, IC };
    return op;
}

static void bias_grad_threads(float *dbias, const float *dout, size_t N, size_t OC, int n_threads);

/* out (N,OC) = x (N,IC) W^T + b; w16: W as bf16, read in place by bf16 products, or NULL */
static void mm_fwd(const struct fg_model *m, int op, float *o, const float *x, const float *w,
                   const uint16_t *w16, const float *b, size_t N, size_t IC, size_t OC)
{
    double t0 = prof_begin(m);
    if (m->matmul == FG_MODEL_MATMUL_BF16) {
        if (b) {
            long rows = (long)N;
#pragma omp parallel for schedule(static) \
    num_threads(m->n_threads) if (m->n_threads > 1) default(none) shared(o, b, rows, OC)
            for (long n = 0; n < rows; n++)
                memcpy(o + (size_t)n * OC, b, OC * sizeof(float));
        }
        struct fg_gemm_op xa = { x, 0, 0, IC };
        gemm_op(m, N, OC, IC, xa, weight_op(w, w16, 1, IC), b != NULL, o, OC);
    } else if (m->use_ref) {
        fg_matmul_forward_ref(o, x, w, b, N, IC, OC);
    } else {
        fg_matmul_forward(o, x, w, b, N, IC, OC, m->n_threads);
    }
    prof_end(m, op, t0);
}

static void mm_bwd(const struct fg_model *m, int op, float *dx, float *dw, float *db,
                   const float *dout, const float *x, const float *w, const uint16_t *w16, size_t N,
                   size_t IC, size_t OC)
{
    double t0 = prof_begin(m);
    if (m->matmul == FG_MODEL_MATMUL_BF16) {
        struct fg_gemm_op da = { dout, 0, 0, OC };
        if (dx)
            gemm_op(m, N, IC, OC, da, weight_op(w, w16, 0, IC), 0, dx, IC);
        gemm16(m, 1, 0, OC, IC, N, dout, OC, x, IC, 1, dw, IC);
        if (db)
            bias_grad_threads(db, dout, N, OC, m->use_ref ? 1 : m->n_threads);
    } else if (m->use_ref) {
        fg_matmul_backward_ref(dx, dw, db, dout, x, w, N, IC, OC);
    } else {
        fg_matmul_backward(dx, dw, db, dout, x, w, N, IC, OC, m->n_threads);
    }
    prof_end(m, op, t0);
}

static void ln_fwd(const struct fg_model *m, float *o, float *mean, float *rstd, const float *x,
                   const float *w, const float *b, size_t N, size_t C)
{
    double t0 = prof_begin(m);
    if (m->use_ref)
        fg_layernorm_forward_ref(o, mean, rstd, x, w, b, N, C);
    else
        fg_layernorm_forward(o, mean, rstd, x, w, b, N, C, m->n_threads);
    prof_end(m, FG_OP_LAYERNORM, t0);
}

static void ln_bwd(const struct fg_model *m, float *dx, float *dw, float *db, const float *dout,
                   const float *x, const float *w, const float *mean, const float *rstd, size_t N,
                   size_t C)
{
    double t0 = prof_begin(m);
    if (m->use_ref)
        fg_layernorm_backward_ref(dx, dw, db, dout, x, w, mean, rstd, N, C);
    else
        fg_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C, m->n_threads);
    prof_end(m, FG_OP_LAYERNORM_BWD, t0);
}

/* res = a + b, then out = layernorm(res), in one pass (the bits of add, then ln_fwd) */
static void res_ln_fwd(const struct fg_model *m, float *res, float *o, float *mean, float *rstd,
                       const float *a, const float *b, const float *w, const float *bias, size_t N,
                       size_t C)
{
    double t0 = prof_begin(m);
    if (m->use_ref)
        fg_residual_layernorm_forward_ref(res, o, mean, rstd, a, b, w, bias, N, C);
    else
        fg_residual_layernorm_forward(res, o, mean, rstd, a, b, w, bias, N, C, m->n_threads);
    prof_end(m, FG_OP_LAYERNORM, t0);
}

static void add(const struct fg_model *m, float *o, const float *a, const float *b, size_t n)
{
    double t0 = prof_begin(m);
    if (m->use_ref) {
        for (size_t i = 0; i < n; i++)
            o[i] = a[i] + b[i];
    } else {
        fg_add(o, a, b, n, m->n_threads);
    }
    prof_end(m, FG_OP_RESIDUAL, t0);
}

/* ---- MX emulation of the block linear layers (model.h; docs/numerics.md, section 11) ----
 * Quantized copies live in the activation arena (mx_a, mx_b, mx_w, codes and scales), sized by
 * fg_model_mem_size_mx. Blocks must run along the reduction axis of each product; the numerics
 * quantizer takes blocks of 32 consecutive elements, so an operand whose reduction axis is
 * strided (W's columns, the token axis of dY and X) is first copied transposed: transposing
 * costs one pass over the operand, as the quantizer does anyway, and leaves every block
 * contiguous for the AVX-512 quantizer and every product a plain sgemm. */

/* dst = dequantize(quantize(src)) for n elements in blocks of 32 consecutive elements (the
 * callers' rows hold whole blocks); dst may be src. The fast path quantizes with the model's
 * threads on the best code path of the CPU; a use_ref model runs the _ref functions. */
static fg_status mx_qdq(struct fg_model *m, int fmt, const float *src, float *dst, size_t n)
{
    enum fg_mx_format f = (enum fg_mx_format)fmt;
    struct fg_mx_params p = fg_mx_params_default();
    p.scale_rule = m->mx.scale_rule;
    p.n_threads = m->n_threads;
    uint8_t *sc = m->a.mx_scales, *co = m->a.mx_codes;
    char *e = m->errmsg;
    size_t en = sizeof m->errmsg;
    if (m->use_ref) {
        FG_TRY(fg_mx_quantize_ref(f, &p, src, n, sc, co, e, en));
        return fg_mx_dequantize_ref(f, sc, co, n, dst, e, en);
    }
    FG_TRY(fg_mx_quantize(f, &p, src, n, sc, co, e, en));
    return fg_mx_dequantize(f, &p, sc, co, n, dst, e, en);
}

/* dst (C, B*Tp) = src (B*T, C) transposed: row c holds feature c of every token, each sequence
 * in its own Tp >= T slots, the T..Tp-1 ones zero. 32 x 32 tiles keep both sides in cache. */
static void transpose_tokens(float *dst, const float *src, size_t B, size_t T, size_t Tp, size_t C)
{
    size_t ld = B * Tp;
    for (size_t b = 0; b < B; b++) {
        const float *s = src + b * T * C;
        float *d = dst + b * Tp;
        for (size_t t0 = 0; t0 < T; t0 += 32) {
            size_t t1 = t0 + 32 < T ? t0 + 32 : T;
            for (size_t c0 = 0; c0 < C; c0 += 32) {
                size_t c1 = c0 + 32 < C ? c0 + 32 : C;
                for (size_t c = c0; c < c1; c++)
                    for (size_t t = t0; t < t1; t++)
                        d[c * ld + t] = s[t * C + c];
            }
        }
        if (Tp > T)
            for (size_t c = 0; c < C; c++)
                memset(d + c * ld + T, 0, (Tp - T) * sizeof(float));
    }
}

/* dbias[o] += sum over the N rows of dout[., o], from the unquantized gradient: the order of
 * fg_matmul_backward's bias gradient (blocks of 64 columns, rows ascending, then added), so
 * the bias gradients are the same bits as without MX. Blocks of 64 columns are shared among
 * n_threads threads (each block's sum is the same whichever thread computes it). */
static void bias_grad_threads(float *dbias, const float *dout, size_t N, size_t OC, int n_threads)
{
    (void)n_threads; /* unused when OpenMP is off */
    long n_blocks = (long)((OC + 63) / 64);
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1) default(none) \
    shared(dbias, dout, N, OC, n_blocks)
    for (long b = 0; b < n_blocks; b++) {
        size_t o0 = (size_t)b * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
        float acc[64] = { 0 };
        for (size_t n = 0; n < N; n++)
            for (size_t o = o0; o < o1; o++)
                acc[o - o0] += dout[n * OC + o];
        for (size_t o = o0; o < o1; o++)
            dbias[o] += acc[o - o0];
    }
}

static const float *W(const struct fg_model *m, int id, size_t l);
static const uint16_t *W16(const struct fg_model *m, int id, size_t l);

/* out (N,OC) = x (N,IC) W^T + b, W = block l's slice of weight matrix id, with X and W
 * quantized along IC when their formats are set. */
static fg_status lin_fwd(struct fg_model *m, float *out, const float *x, int id, size_t l,
                         const float *b, size_t N, size_t IC, size_t OC)
{
    int fa = m->mx.activations, fw = m->mx.weights;
    const float *w = W(m, id, l);
    if (fa == FG_MODEL_MX_NONE && fw == FG_MODEL_MX_NONE) {
        mm_fwd(m, FG_OP_MATMUL, out, x, w, W16(m, id, l), b, N, IC, OC);
        return FG_OK;
    }
    double t0 = prof_begin(m);
    if (fa != FG_MODEL_MX_NONE) {
        FG_TRY(mx_qdq(m, fa, x, m->a.mx_a, N * IC));
        x = m->a.mx_a;
    }
    if (fw != FG_MODEL_MX_NONE) {
        FG_TRY(mx_qdq(m, fw, w, m->a.mx_w, OC * IC));
        w = m->a.mx_w;
    }
    prof_end(m, FG_OP_MX_QUANT, t0);
    mm_fwd(m, FG_OP_MATMUL, out, x, w, NULL, b, N, IC, OC);
    return FG_OK;
}

/* Backward of lin_fwd over B sequences of T tokens: dx = dout W (overwritten), dw += dout^T x,
 * dbias += the column sums of dout. With MX, dx = Q_OC(dout) Q_OC(W) and dw += Q_tok(dout)^T
 * Q_tok(x), each Q applied only when that operand's format is set; the products run as
 * forward-shaped sgemms on transposed copies: dx = dout (W^T)^T, dw = dout^T (x^T)^T. */
static fg_status lin_bwd(struct fg_model *m, float *dx, float *dw, float *dbias, const float *dout,
                         const float *x, int id, size_t l, size_t B, size_t T, size_t IC, size_t OC)
{
    const struct fg_model_mx *mx = &m->mx;
    size_t N = B * T;
    const float *w = W(m, id, l);
    if (!fg_model_mx_on(mx)) {
        mm_bwd(m, FG_OP_MATMUL_BWD, dx, dw, dbias, dout, x, w, W16(m, id, l), N, IC, OC);
        return FG_OK;
    }
    float *qa = m->a.mx_a, *qb = m->a.mx_b, *qw = m->a.mx_w;
    /* dx (N,IC) = dout (N,OC) . W (OC,IC): W^T (IC,OC) holds W's columns as rows of OC */
    double t0 = prof_begin(m);
    const float *g = dout;
    if (mx->grads != FG_MODEL_MX_NONE) {
        FG_TRY(mx_qdq(m, mx->grads, dout, qa, N * OC));
        g = qa;
    }
    transpose_tokens(qw, w, 1, OC, OC, IC);
    if (mx->weights != FG_MODEL_MX_NONE)
        FG_TRY(mx_qdq(m, mx->weights, qw, qw, IC * OC));
    prof_end(m, FG_OP_MX_QUANT, t0);
    mm_fwd(m, FG_OP_MATMUL_BWD, dx, g, qw, NULL, NULL, N, OC, IC);
    if (mx->grads == FG_MODEL_MX_NONE && mx->activations == FG_MODEL_MX_NONE) {
        mm_bwd(m, FG_OP_MATMUL_BWD, NULL, dw, dbias, dout, x, w, NULL, N, IC, OC);
        return FG_OK;
    }
    /* dw (OC,IC) += dout^T x: both transposed to (., B*Tp), blocks along each sequence's
     * tokens; the zero padding adds exact zeros to the sums */
    size_t Tp = fg_align_up(T, FG_MX_BLOCK), K = B * Tp;
    t0 = prof_begin(m);
    if (dbias)
        bias_grad_threads(dbias, dout, N, OC, 1);
    transpose_tokens(qa, dout, B, T, Tp, OC);
    if (mx->grads != FG_MODEL_MX_NONE)
        FG_TRY(mx_qdq(m, mx->grads, qa, qa, OC * K));
    transpose_tokens(qb, x, B, T, Tp, IC);
    if (mx->activations != FG_MODEL_MX_NONE)
        FG_TRY(mx_qdq(m, mx->activations, qb, qb, IC * K));
    prof_end(m, FG_OP_MX_QUANT, t0);
    mm_fwd(m, FG_OP_MATMUL_BWD, qw, qa, qb, NULL, NULL, OC, K, IC);
    t0 = prof_begin(m);
    if (m->use_ref) {
        for (size_t i = 0; i < OC * IC; i++)
            dw[i] += qw[i];
    } else {
        fg_accumulate(dw, qw, OC * IC, m->n_threads);
    }
    prof_end(m, FG_OP_MATMUL_BWD, t0);
    return FG_OK;
}

/* ---- weight storage: fp32 views of the tensors a product needs ----
 * An fp32 model hands out pointers into its arena. A bf16 model decodes: block l's slices of the
 * block tensors into dw[] before the block runs (forward, and again in backward), wpe and lnf
 * once per pass, wte a chunk of rows at a time (lm_head_*). Gradients of a bf16 model go to the
 * fp32 dg[] slices first and are added into the bf16 arena when the block's backward is done:
 * g16 = bf16(g16 + dg), one rounding per block per micro-batch. */

static int is_block_tensor(int id)
{
    return id >= FG_PARAM_LN1W && id <= FG_PARAM_FCPROJB;
}

/* element offset of tensor id's slice for block l (l ignored for the other tensors) */
static size_t slice_offset(const struct fg_model *m, int id, size_t l)
{
    return m->offset[id] + (is_block_tensor(id) ? l * (m->numel[id] / (size_t)m->cfg.n_layer) : 0);
}

static size_t slice_numel(const struct fg_model *m, int id)
{
    return is_block_tensor(id) ? m->numel[id] / (size_t)m->cfg.n_layer : m->numel[id];
}

static const float *W(const struct fg_model *m, int id, size_t l)
{
    return m->w16 ? m->dw[id] : m->params + slice_offset(m, id, l);
}

static float *G(const struct fg_model *m, int id, size_t l)
{
    return m->w16 ? m->dg[id] : m->grads + slice_offset(m, id, l);
}

/* the four matrices of a block */
static int is_block_matrix(int id)
{
    return id == FG_PARAM_QKVW || id == FG_PARAM_ATTPROJW || id == FG_PARAM_FCW ||
           id == FG_PARAM_FCPROJW;
}

/* whether the products read a bf16 model's matrices (and wte) in place, without decoding */
static int reads_bf16(const struct fg_model *m)
{
    return m->w16 && m->matmul == FG_MODEL_MATMUL_BF16;
}

/* block l's slice of matrix id as bf16 when the products read it in place, else NULL */
static const uint16_t *W16(const struct fg_model *m, int id, size_t l)
{
    return reads_bf16(m) && is_block_matrix(id) ? m->w16 + slice_offset(m, id, l) : NULL;
}

#define CONVERT_CHUNK 4096 /* elements per conversion call: one thread's share at a time */

/* dst (fp32) = src (bf16), n elements, over the model's threads */
static void decode16(const struct fg_model *m, float *dst, const uint16_t *src, size_t n)
{
    long n_chunks = (long)((n + CONVERT_CHUNK - 1) / CONVERT_CHUNK);
    enum fg_num_path path = m->use_ref ? FG_NUM_PATH_REF : FG_NUM_PATH_AUTO;
#pragma omp parallel for schedule(static) \
    num_threads(m->n_threads) if (n_chunks > 1) default(none) shared(dst, src, n, n_chunks, path)
    for (long c = 0; c < n_chunks; c++) {
        size_t i0 = (size_t)c * CONVERT_CHUNK,
               len = n - i0 < CONVERT_CHUNK ? n - i0 : CONVERT_CHUNK;
        fg_bf16_to_fp32(dst + i0, src + i0, len, path);
    }
}

/* g (bf16) = bf16(g + x), n elements: the one rounding of a gradient contribution. When the
 * arena is marked empty (g16_clear: the first micro-batch after fg_model_zero_grad), g =
 * bf16(x) without reading g: the same values but for the sign of a zero (0 + -0 is +0). */
static void accumulate16(const struct fg_model *m, uint16_t *g, const float *x, size_t n)
{
    long n_chunks = (long)((n + CONVERT_CHUNK - 1) / CONVERT_CHUNK);
    enum fg_num_path path = m->use_ref ? FG_NUM_PATH_REF : FG_NUM_PATH_AUTO;
    int clear = m->g16_clear;
#pragma omp parallel for schedule(static)                     \
    num_threads(m->n_threads) if (n_chunks > 1) default(none) \
        shared(g, x, n, n_chunks, path, clear)
    for (long c = 0; c < n_chunks; c++) {
        float tmp[CONVERT_CHUNK];
        size_t i0 = (size_t)c * CONVERT_CHUNK,
               len = n - i0 < CONVERT_CHUNK ? n - i0 : CONVERT_CHUNK;
        if (clear) {
            fg_fp32_to_bf16(g + i0, x + i0, len, path);
            continue;
        }
        fg_bf16_to_fp32(tmp, g + i0, len, path);
        for (size_t i = 0; i < len; i++)
            tmp[i] += x[i0 + i];
        fg_fp32_to_bf16(g + i0, tmp, len, path);
    }
}

/* Whether tensor id has a slice in a pass over block `block` (>= 0: the block tensors) or over
 * wpe and lnf (block < 0); wte goes through its chunks instead. */
static int in_pass(int id, long block)
{
    return id != FG_PARAM_WTE && is_block_tensor(id) == (block >= 0);
}

/* A complete fp32 gradient g of elements [off, off + n) of tensor id: added into the bf16
 * gradients, or handed to the release callback (errmsg names where it stopped). */
static fg_status give_grad(struct fg_model *m, int id, size_t off, float *g, size_t n)
{
    if (!m->grad_release) {
        accumulate16(m, m->g16 + off, g, n);
        return FG_OK;
    }
    fg_status st = m->release_fn(m->release_user, id, off, g, n);
    if (st != FG_OK)
        snprintf(m->errmsg, sizeof m->errmsg,
                 "gradient release stopped at tensor %s, element %zu: %s", fg_model_tensor_name(id),
                 off - m->offset[id], fg_status_str(st));
    return st;
}

/* bf16 model: decode block l's weights (block >= 0) or wpe and lnf (block < 0) into dw[] */
static void decode_weights(struct fg_model *m, long block)
{
    double t0 = prof_begin(m);
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++)
        if (in_pass(id, block) && !(reads_bf16(m) && is_block_matrix(id)))
            decode16(m, m->dw[id], m->w16 + slice_offset(m, id, block >= 0 ? (size_t)block : 0),
                     slice_numel(m, id));
    prof_end(m, FG_OP_DECODE, t0);
}

/* bf16 model: zero dg[] of a block (block >= 0) or of wpe and lnf (block < 0) */
static void zero_grad_slices(struct fg_model *m, long block)
{
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++)
        if (in_pass(id, block))
            memset(m->dg[id], 0, slice_numel(m, id) * sizeof(float));
}

void fg_model_set_release(struct fg_model *m, fg_model_release_fn fn, void *user)
{
    m->release_fn = fn;
    m->release_user = user;
}

/* bf16 model: add dg[] of a block (or of wpe and lnf) into the bf16 gradients, or hand each
 * slice to the release callback */
static fg_status flush_grad_slices(struct fg_model *m, long block)
{
    double t0 = prof_begin(m);
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++)
        if (in_pass(id, block))
            FG_TRY(give_grad(m, id, slice_offset(m, id, block >= 0 ? (size_t)block : 0), m->dg[id],
                             slice_numel(m, id)));
    prof_end(m, FG_OP_DECODE, t0);
    return FG_OK;
}

static void gemm(const struct fg_model *m, int ta, int tb, size_t M, size_t N, size_t K,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta, float *C,
                 size_t ldc)
{
    if (m->matmul == FG_MODEL_MATMUL_BF16)
        gemm16(m, ta, tb, M, N, K, A, lda, B, ldb, beta != 0.0f, C, ldc);
    else if (m->use_ref)
        fg_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    else
        fg_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* the rows [v0, v0 + rows) of wte, decoded into wchunk */
static size_t wte_chunk(struct fg_model *m, size_t v0)
{
    size_t C = (size_t)m->cfg.n_embd,
           rows = m->Vp - v0 < m->chunk_rows ? m->Vp - v0 : m->chunk_rows;
    double t0 = prof_begin(m);
    decode16(m, m->wchunk, m->w16 + m->offset[FG_PARAM_WTE] + v0 * C, rows * C);
    prof_end(m, FG_OP_DECODE, t0);
    return rows;
}

/* logits (BT, Vp) = lnf (BT, C) wte^T, a chunk of vocabulary columns at a time */
static void lm_head_forward16(struct fg_model *m, float *logits, const float *lnf, size_t BT)
{
    size_t C = (size_t)m->cfg.n_embd, Vp = m->Vp;
    if (reads_bf16(m)) { /* one product on wte as stored: the bits chunks would give */
        double t0 = prof_begin(m);
        struct fg_gemm_op a = { lnf, 0, 0, C }, b = { m->w16 + m->offset[FG_PARAM_WTE], 1, 1, C };
        gemm_op(m, BT, Vp, C, a, b, 0, logits, Vp);
        prof_end(m, FG_OP_HEAD, t0);
        return;
    }
    for (size_t v0 = 0; v0 < Vp;) {
        size_t rows = wte_chunk(m, v0);
        double t0 = prof_begin(m);
        gemm(m, 0, 1, BT, rows, C, lnf, C, m->wchunk, C, 0.0f, logits + v0, Vp);
        prof_end(m, FG_OP_HEAD, t0);
        v0 += rows;
    }
}

/* dlnf (BT, C) = dlogits (BT, Vp) wte, a chunk of vocabulary rows at a time */
static void lm_head_backward_dx16(struct fg_model *m, float *dlnf, const float *dlogits, size_t BT)
{
    size_t C = (size_t)m->cfg.n_embd, Vp = m->Vp;
    if (reads_bf16(m)) {
        double t0 = prof_begin(m);
        struct fg_gemm_op a = { dlogits, 0, 0, Vp },
                          b = { m->w16 + m->offset[FG_PARAM_WTE], 1, 0, C };
        gemm_op(m, BT, C, Vp, a, b, 0, dlnf, C);
        prof_end(m, FG_OP_HEAD_BWD, t0);
        return;
    }
    for (size_t v0 = 0; v0 < Vp;) {
        size_t rows = wte_chunk(m, v0);
        double t0 = prof_begin(m);
        gemm(m, 0, 0, BT, C, rows, dlogits + v0, Vp, m->wchunk, C, v0 ? 1.0f : 0.0f, dlnf, C);
        prof_end(m, FG_OP_HEAD_BWD, t0);
        v0 += rows;
    }
}

/* wte's gradient, both contributions per chunk of rows in fp32, then one rounding into g16:
 * the LM head's dlogits^T lnf, then the embedding's rows of dres (positions in order) */
static fg_status wte_backward16(struct fg_model *m, const float *dlogits, const float *lnf,
                                const float *dres, const int32_t *tokens, size_t BT)
{
    size_t C = (size_t)m->cfg.n_embd, Vp = m->Vp;
    for (size_t v0 = 0; v0 < Vp;) {
        size_t rows = Vp - v0 < m->chunk_rows ? Vp - v0 : m->chunk_rows;
        double t0 = prof_begin(m);
        gemm(m, 1, 0, rows, C, BT, dlogits + v0, Vp, lnf, C, 0.0f, m->gchunk, C);
        prof_end(m, FG_OP_HEAD_BWD, t0);
        t0 = prof_begin(m);
        for (size_t i = 0; i < BT; i++) {
            size_t tok = (size_t)tokens[i];
            if (tok < v0 || tok >= v0 + rows)
                continue;
            float *g = m->gchunk + (tok - v0) * C;
            const float *d = dres + i * C;
            for (size_t c = 0; c < C; c++)
                g[c] += d[c];
        }
        prof_end(m, FG_OP_ENCODER_BWD, t0);
        t0 = prof_begin(m);
        FG_TRY(give_grad(m, FG_PARAM_WTE, m->offset[FG_PARAM_WTE] + v0 * C, m->gchunk, rows * C));
        prof_end(m, FG_OP_DECODE, t0);
        v0 += rows;
    }
    return FG_OK;
}

/* out (B,T,C) = wte[token] + wpe[t], wte rows decoded from bf16 */
static void encoder_forward16(struct fg_model *m, float *out, const int32_t *tokens, size_t B,
                              size_t T)
{
    size_t C = (size_t)m->cfg.n_embd;
    const uint16_t *wte = m->w16 + m->offset[FG_PARAM_WTE];
    const float *wpe = m->dw[FG_PARAM_WPE];
    long n_rows = (long)(B * T);
    enum fg_num_path path = m->use_ref ? FG_NUM_PATH_REF : FG_NUM_PATH_AUTO;
#pragma omp parallel for schedule(static) num_threads(m->n_threads) default(none) \
    shared(out, tokens, wte, wpe, n_rows, T, C, path)
    for (long r = 0; r < n_rows; r++) {
        float *o = out + (size_t)r * C;
        const float *p = wpe + ((size_t)r % T) * C;
        fg_bf16_to_fp32(o, wte + (size_t)tokens[r] * C, C, path);
        for (size_t i = 0; i < C; i++)
            o[i] += p[i];
    }
}

/* dwpe[t] += dres[b, t] over b, in the order of fg_encoder_backward */
static void wpe_backward(float *dwpe, const float *dres, size_t B, size_t T, size_t C)
{
    for (size_t r = 0; r < B * T; r++) {
        const float *d = dres + r * C;
        float *dp = dwpe + (r % T) * C;
        for (size_t i = 0; i < C; i++)
            dp[i] += d[i];
    }
}

/* ---- one block's activations ---- */

struct layer_acts {
    const float *x; /* the block's input: the residual stream */
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *lse, *res2, *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu, *res3;
};

/* block l's views: slot l of each per-layer tensor, or the one slot of those recomputation
 * keeps a single layer of (fg_model_act_layout) */
static void layer_acts(const struct fg_model *m, size_t l, struct layer_acts *v)
{
    const struct fg_model_acts *a = &m->a;
    size_t C = (size_t)m->cfg.n_embd, NH = (size_t)m->cfg.n_head, cap = m->B * m->T;
    size_t lb = m->recompute == FG_MODEL_RECOMPUTE_BLOCK ? 0 : l;
    size_t la = m->recompute != FG_MODEL_RECOMPUTE_NONE ? 0 : l;
    v->x = l ? a->res3 + (l - 1) * cap * C : a->encoded;
    v->ln1 = a->ln1 + lb * cap * C;
    v->ln1_mean = a->ln1_mean + lb * cap;
    v->ln1_rstd = a->ln1_rstd + lb * cap;
    v->qkv = a->qkv + lb * cap * 3 * C;
    v->atty = a->atty + la * cap * C;
    v->att = a->att ? a->att + la * m->B * NH * m->T * m->T : NULL;
    v->lse = a->att_lse ? a->att_lse + la * m->B * NH * m->T : NULL;
    v->res2 = a->res2 + lb * cap * C;
    v->ln2 = a->ln2 + lb * cap * C;
    v->ln2_mean = a->ln2_mean + lb * cap;
    v->ln2_rstd = a->ln2_rstd + lb * cap;
    v->fch = a->fch + lb * cap * 4 * C;
    v->fch_gelu = a->fch_gelu + lb * cap * 4 * C;
    v->res3 = a->res3 + l * cap * C;
}

/* atty (and the probabilities or row log-sum-exps) from qkv */
static void attn_fwd(struct fg_model *m, const struct layer_acts *v, size_t B, size_t T)
{
    size_t C = (size_t)m->cfg.n_embd, NH = (size_t)m->cfg.n_head;
    double t0 = prof_begin(m);
    if (m->attention == FG_MODEL_ATTN_TILED)
        fg_attention_tiled_forward(v->atty, v->lse, v->qkv, B, T, C, NH,
                                   m->use_ref ? 1 : m->n_threads);
    else if (m->use_ref)
        fg_attention_forward_ref(v->atty, v->att, v->qkv, B, T, C, NH);
    else if (m->attn_avx512)
        fg_attention_forward_avx512(v->atty, v->att, m->a.attn_scratch, v->qkv, B, T, C, NH,
                                    m->n_threads);
    else
        fg_attention_forward(v->atty, v->att, v->qkv, B, T, C, NH, m->n_threads);
    prof_end(m, FG_OP_ATTENTION, t0);
}

/* Block l's forward; all = 0 stops before the fc projection, whose output backward does not
 * read (recomputation) */
static fg_status block_forward(struct fg_model *m, size_t l, const struct layer_acts *v, size_t B,
                               size_t T, int all)
{
    size_t C = (size_t)m->cfg.n_embd, BT = B * T;
    ln_fwd(m, v->ln1, v->ln1_mean, v->ln1_rstd, v->x, W(m, FG_PARAM_LN1W, l),
           W(m, FG_PARAM_LN1B, l), BT, C);
    FG_TRY(lin_fwd(m, v->qkv, v->ln1, FG_PARAM_QKVW, l, W(m, FG_PARAM_QKVB, l), BT, C, 3 * C));
    attn_fwd(m, v, B, T);
    FG_TRY(
        lin_fwd(m, v->res2, v->atty, FG_PARAM_ATTPROJW, l, W(m, FG_PARAM_ATTPROJB, l), BT, C, C));
    res_ln_fwd(m, v->res2, v->ln2, v->ln2_mean, v->ln2_rstd, v->res2, v->x, W(m, FG_PARAM_LN2W, l),
               W(m, FG_PARAM_LN2B, l), BT, C);
    FG_TRY(lin_fwd(m, v->fch, v->ln2, FG_PARAM_FCW, l, W(m, FG_PARAM_FCB, l), BT, C, 4 * C));
    {
        double t0 = prof_begin(m);
        if (m->use_ref)
            fg_gelu_forward_ref(v->fch_gelu, v->fch, BT * 4 * C);
        else
            fg_gelu_forward(v->fch_gelu, v->fch, BT * 4 * C, m->n_threads);
        prof_end(m, FG_OP_GELU, t0);
    }
    if (!all)
        return FG_OK;
    FG_TRY(lin_fwd(m, v->res3, v->fch_gelu, FG_PARAM_FCPROJW, l, W(m, FG_PARAM_FCPROJB, l), BT,
                   4 * C, C));
    if (l + 1 < (size_t)m->cfg.n_layer) {
        add(m, v->res3, v->res3, v->res2, BT * C);
    } else { /* the last block's residual, fused with the final layernorm */
        struct fg_model_acts *a = &m->a;
        res_ln_fwd(m, v->res3, a->lnf, a->lnf_mean, a->lnf_rstd, v->res3, v->res2,
                   W(m, FG_PARAM_LNFW, 0), W(m, FG_PARAM_LNFB, 0), BT, C);
    }
    return FG_OK;
}

/* What block l's backward reads and recomputation dropped, recomputed: its forward up to the
 * fc projection (BLOCK) or its attention (ATTN); nothing for the last block, whose activations
 * the forward left in place. Timed as one FG_OP_RECOMPUTE. */
static fg_status recompute_block(struct fg_model *m, size_t l, const struct layer_acts *v, size_t B,
                                 size_t T)
{
    if (m->recompute == FG_MODEL_RECOMPUTE_NONE || l + 1 == (size_t)m->cfg.n_layer)
        return FG_OK;
    double *prof = m->profile_ms, t0 = prof_begin(m);
    m->profile_ms = NULL;
    fg_status st = FG_OK;
    if (m->recompute == FG_MODEL_RECOMPUTE_ATTN)
        attn_fwd(m, v, B, T);
    else
        st = block_forward(m, l, v, B, T, 0);
    m->profile_ms = prof;
    prof_end(m, FG_OP_RECOMPUTE, t0);
    return st;
}

fg_status fg_model_forward(struct fg_model *m, const int32_t *inputs, const int32_t *targets,
                           size_t B, size_t T)
{
    if (B == 0 || T == 0 || B > m->B || T > m->T) {
        snprintf(m->errmsg, sizeof m->errmsg,
                 "batch %zu x %zu exceeds the model's capacity %zu x %zu", B, T, m->B, m->T);
        return FG_ERR_INVALID_ARG;
    }
    size_t L = (size_t)m->cfg.n_layer, C = (size_t)m->cfg.n_embd;
    size_t V = (size_t)m->cfg.vocab_size, Vp = m->Vp, BT = B * T;
    struct fg_model_acts *a = &m->a;
    for (size_t i = 0; i < BT; i++) {
        if (inputs[i] < 0 || (size_t)inputs[i] >= V ||
            (targets && (targets[i] < 0 || (size_t)targets[i] >= V))) {
            snprintf(m->errmsg, sizeof m->errmsg, "token id %d at position %zu is outside [0, %zu)",
                     (int)((inputs[i] < 0 || (size_t)inputs[i] >= V) ? inputs[i] : targets[i]), i,
                     V);
            return FG_ERR_INVALID_ARG;
        }
    }
    memcpy(a->inputs, inputs, BT * sizeof *inputs);
    if (targets)
        memcpy(a->targets, targets, BT * sizeof *targets);
    m->cur_B = B;
    m->cur_T = T;
    m->have_targets = targets != NULL;

    if (m->w16)
        decode_weights(m, -1);
    {
        double t0 = prof_begin(m);
        if (m->w16)
            encoder_forward16(m, a->encoded, a->inputs, B, T);
        else if (m->use_ref)
            fg_encoder_forward_ref(a->encoded, a->inputs, W(m, FG_PARAM_WTE, 0),
                                   W(m, FG_PARAM_WPE, 0), B, T, C);
        else
            fg_encoder_forward(a->encoded, a->inputs, W(m, FG_PARAM_WTE, 0), W(m, FG_PARAM_WPE, 0),
                               B, T, C, m->n_threads);
        prof_end(m, FG_OP_ENCODER, t0);
    }

    for (size_t l = 0; l < L; l++) { /* the last block also computes lnf */
        struct layer_acts v;
        if (m->w16)
            decode_weights(m, (long)l);
        layer_acts(m, l, &v);
        FG_TRY(block_forward(m, l, &v, B, T, 1));
    }
    if (m->w16)
        lm_head_forward16(m, a->logits, a->lnf, BT);
    else
        mm_fwd(m, FG_OP_HEAD, a->logits, a->lnf, W(m, FG_PARAM_WTE, 0), NULL, NULL, BT, C, Vp);
    if (!targets)
        return FG_OK;
    /* Losses and per-row log-sum-exp; the logits stay intact for callers and for backward. */
    {
        double t0 = prof_begin(m);
        if (m->use_ref)
            fg_crossentropy_lse_ref(a->losses, a->lse, a->logits, a->targets, BT, V, Vp);
        else
            fg_crossentropy_lse(a->losses, a->lse, a->logits, a->targets, BT, V, Vp, m->n_threads);
        prof_end(m, FG_OP_CROSSENTROPY, t0);
    }
    double sum = 0.0;
    for (size_t i = 0; i < BT; i++)
        sum += (double)a->losses[i];
    m->loss = sum / (double)BT;
    if (!isfinite(m->loss)) {
        snprintf(m->errmsg, sizeof m->errmsg, "loss is %s", isnan(m->loss) ? "NaN" : "infinite");
        return FG_ERR_NUMERIC;
    }
    return FG_OK;
}

fg_status fg_model_backward(struct fg_model *m, float loss_scale)
{
    if (!m->training || !m->have_targets || (m->grad_release && !m->release_fn)) {
        snprintf(m->errmsg, sizeof m->errmsg,
                 "backward needs a training model, a forward pass with targets and, with "
                 "gradient release, a release callback");
        return FG_ERR_INVALID_ARG;
    }
    size_t B = m->cur_B, T = m->cur_T, BT = B * T;
    size_t L = (size_t)m->cfg.n_layer, C = (size_t)m->cfg.n_embd, NH = (size_t)m->cfg.n_head;
    size_t V = (size_t)m->cfg.vocab_size, Vp = m->Vp;
    size_t cap = m->B * m->T;
    struct fg_model_acts *a = &m->a;
    float dscale = loss_scale / (float)BT;

    /* dlogits in place, then the tied head: dlnf = dlogits @ wte, dwte += dlogits^T @ lnf */
    {
        double t0 = prof_begin(m);
        if (m->use_ref)
            fg_crossentropy_backward_ref(a->logits, a->lse, a->targets, BT, V, Vp, dscale);
        else
            fg_crossentropy_backward(a->logits, a->lse, a->targets, BT, V, Vp, dscale,
                                     m->n_threads);
        prof_end(m, FG_OP_CROSSENTROPY, t0);
    }
    m->have_targets = 0; /* the logits now hold gradients */
    if (m->w16) {
        decode_weights(m, -1);
        zero_grad_slices(m, -1);
        lm_head_backward_dx16(m, a->dln, a->logits, BT);
    } else {
        mm_bwd(m, FG_OP_HEAD_BWD, a->dln, G(m, FG_PARAM_WTE, 0), NULL, a->logits, a->lnf,
               W(m, FG_PARAM_WTE, 0), NULL, BT, C, Vp);
    }
    memset(a->dres, 0, BT * C * sizeof(float));
    const float *xL = L ? a->res3 + (L - 1) * cap * C : a->encoded;
    ln_bwd(m, a->dres, G(m, FG_PARAM_LNFW, 0), G(m, FG_PARAM_LNFB, 0), a->dln, xL,
           W(m, FG_PARAM_LNFW, 0), a->lnf_mean, a->lnf_rstd, BT, C);

    for (size_t l = L; l-- > 0;) {
        if (m->w16) {
            decode_weights(m, (long)l);
            zero_grad_slices(m, (long)l);
        }
        struct layer_acts v;
        layer_acts(m, l, &v);
        FG_TRY(recompute_block(m, l, &v, B, T));
        const float *x = v.x, *ln1 = v.ln1, *ln1_mean = v.ln1_mean, *ln1_rstd = v.ln1_rstd;
        const float *qkv = v.qkv, *atty = v.atty, *att = v.att, *lse = v.lse, *res2 = v.res2;
        const float *ln2 = v.ln2, *ln2_mean = v.ln2_mean, *ln2_rstd = v.ln2_rstd, *fch = v.fch;
        const float *fch_gelu = v.fch_gelu;

        /* MLP: res3 = res2 + fcproj(gelu(fc(ln2(res2)))); a->dres holds d res3 */
        FG_TRY(lin_bwd(m, a->dfch, G(m, FG_PARAM_FCPROJW, l), G(m, FG_PARAM_FCPROJB, l), a->dres,
                       fch_gelu, FG_PARAM_FCPROJW, l, B, T, 4 * C, C));
        {
            double t0 = prof_begin(m);
            if (m->use_ref)
                fg_gelu_backward_ref(a->dfch, fch, a->dfch, BT * 4 * C);
            else
                fg_gelu_backward(a->dfch, fch, a->dfch, BT * 4 * C, m->n_threads);
            prof_end(m, FG_OP_GELU_BWD, t0);
        }
        FG_TRY(lin_bwd(m, a->dln, G(m, FG_PARAM_FCW, l), G(m, FG_PARAM_FCB, l), a->dfch, ln2,
                       FG_PARAM_FCW, l, B, T, C, 4 * C));
        ln_bwd(m, a->dres, G(m, FG_PARAM_LN2W, l), G(m, FG_PARAM_LN2B, l), a->dln, res2,
               W(m, FG_PARAM_LN2W, l), ln2_mean, ln2_rstd, BT, C);
        /* attention: res2 = x + proj(attn(qkv(ln1(x)))); a->dres holds d res2 */
        FG_TRY(lin_bwd(m, a->datty, G(m, FG_PARAM_ATTPROJW, l), G(m, FG_PARAM_ATTPROJB, l), a->dres,
                       atty, FG_PARAM_ATTPROJW, l, B, T, C, C));
        {
            double t0 = prof_begin(m);
            if (m->attention == FG_MODEL_ATTN_TILED)
                fg_attention_tiled_backward(a->dqkv, a->datt, a->datty, qkv, atty, lse, B, T, C, NH,
                                            m->use_ref ? 1 : m->n_threads);
            else if (m->use_ref)
                fg_attention_backward_ref(a->dqkv, a->datty, qkv, att, B, T, C, NH);
            else if (m->attn_avx512)
                fg_attention_backward_avx512(a->dqkv, a->datt, a->attn_scratch, a->datty, qkv, att,
                                             B, T, C, NH, m->n_threads);
            else
                fg_attention_backward(a->dqkv, a->datt, a->datty, qkv, att, B, T, C, NH,
                                      m->n_threads);
            prof_end(m, FG_OP_ATTENTION_BWD, t0);
        }
        FG_TRY(lin_bwd(m, a->dln, G(m, FG_PARAM_QKVW, l), G(m, FG_PARAM_QKVB, l), a->dqkv, ln1,
                       FG_PARAM_QKVW, l, B, T, C, 3 * C));
        ln_bwd(m, a->dres, G(m, FG_PARAM_LN1W, l), G(m, FG_PARAM_LN1B, l), a->dln, x,
               W(m, FG_PARAM_LN1W, l), ln1_mean, ln1_rstd, BT, C);
        if (m->w16)
            FG_TRY(flush_grad_slices(m, (long)l));
    }
    if (m->w16) {
        double t0 = prof_begin(m);
        wpe_backward(G(m, FG_PARAM_WPE, 0), a->dres, B, T, C);
        prof_end(m, FG_OP_ENCODER_BWD, t0);
        FG_TRY(flush_grad_slices(m, -1));
        FG_TRY(wte_backward16(m, a->logits, a->lnf, a->dres, a->inputs, BT));
        m->g16_clear = 0; /* every slice and chunk has been written */
        return FG_OK;
    }
    {
        double t0 = prof_begin(m);
        if (m->use_ref)
            fg_encoder_backward_ref(G(m, FG_PARAM_WTE, 0), G(m, FG_PARAM_WPE, 0), a->dres,
                                    a->inputs, B, T, C);
        else
            fg_encoder_backward(G(m, FG_PARAM_WTE, 0), G(m, FG_PARAM_WPE, 0), a->dres, a->inputs, B,
                                T, C, m->n_threads);
        prof_end(m, FG_OP_ENCODER_BWD, t0);
    }
    return FG_OK;
}
