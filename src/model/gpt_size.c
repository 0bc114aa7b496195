/* Pure sizing and FLOP functions of the GPT-2 model: the one source of truth for how many
 * bytes a model needs, used by fg_model_init and by the planner. No allocation, no globals. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "frugal/kernels.h"
#include "frugal/model.h"
#include "model_int.h"

static const char *const tensor_names[FG_MODEL_N_TENSORS] = {
    "wte",  "wpe",  "ln1w", "ln1b", "qkvw",    "qkvb",    "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw",  "fcb",  "fcprojw", "fcprojb", "lnfw",     "lnfb"
};

const char *fg_model_tensor_name(int id)
{
    return (id >= 0 && id < FG_MODEL_N_TENSORS) ? tensor_names[id] : "?";
}

int fg_model_attention_auto(const struct fg_model_config *cfg, size_t T)
{
    if (!cfg || cfg->n_head <= 0 || cfg->n_embd <= 0 || T < FG_MODEL_ATTN_TILED_FROM ||
        !fg_attention_tiled_supported((size_t)cfg->n_embd, (size_t)cfg->n_head))
        return FG_MODEL_ATTN_STANDARD;
    return FG_MODEL_ATTN_TILED;
}

size_t fg_model_padded_vocab(int vocab_size)
{
    return fg_align_up((size_t)(vocab_size > 0 ? vocab_size : 0), FG_VOCAB_PAD);
}

fg_status fg_model_config_check(const struct fg_model_config *cfg, char *errmsg, size_t n)
{
    const struct {
        const char *name;
        int v, lo, hi;
    } f[] = {
        { "n_layer", cfg->n_layer, 1, 1024 },
        { "n_head", cfg->n_head, 1, 1024 },
        { "n_embd", cfg->n_embd, 1, 65536 },
        { "block_size", cfg->block_size, 1, 1 << 20 },
        { "vocab_size", cfg->vocab_size, 2, 1 << 24 },
    };

    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v < f[i].lo || f[i].v > f[i].hi) {
            snprintf(errmsg, n, "model %s = %d is out of range [%d, %d]", f[i].name, f[i].v,
                     f[i].lo, f[i].hi);
            return FG_ERR_INVALID_ARG;
        }
    if (cfg->n_embd % cfg->n_head != 0) {
        snprintf(errmsg, n, "n_embd %d is not a multiple of n_head %d", cfg->n_embd, cfg->n_head);
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

/* Shapes of the 16 tensors, one letter per dimension: l = L, c = C, 3 = 3C, 4 = 4C,
 * v = Vp (padded vocabulary), t = block size. */
static const char *const tensor_shapes[FG_MODEL_N_TENSORS] = {
    "vc", "tc", "lc",  "lc", "l3c", "l3", "lcc", "lc", /* wte .. attprojb */
    "lc", "lc", "l4c", "l4", "lc4", "lc", "c",   "c",  /* ln2w .. lnfb */
};

size_t fg_model_tensor_numel(const struct fg_model_config *cfg, int id, int *ndim, int64_t shape[3])
{
    if (id < 0 || id >= FG_MODEL_N_TENSORS) {
        if (ndim)
            *ndim = 0;
        return 0;
    }
    int64_t L = cfg->n_layer, C = cfg->n_embd;
    int64_t Vp = (int64_t)fg_model_padded_vocab(cfg->vocab_size), maxT = cfg->block_size;
    const char *spec = tensor_shapes[id];
    size_t numel = 1;
    int nd = 0;
    for (; spec[nd]; nd++) {
        int64_t d = spec[nd] == 'l'   ? L
                    : spec[nd] == 'c' ? C
                    : spec[nd] == '3' ? 3 * C
                    : spec[nd] == '4' ? 4 * C
                    : spec[nd] == 'v' ? Vp
                                      : maxT;
        numel *= (size_t)d;
        if (shape)
            shape[nd] = d;
    }
    if (ndim)
        *ndim = nd;
    return numel;
}

int fg_model_tensor_decays(int id)
{
    return id == FG_PARAM_WTE || id == FG_PARAM_WPE || id == FG_PARAM_QKVW ||
           id == FG_PARAM_ATTPROJW || id == FG_PARAM_FCW || id == FG_PARAM_FCPROJW;
}

size_t fg_model_param_layout(const struct fg_model_config *cfg, size_t offset[], size_t numel[],
                             size_t *n_params)
{
    size_t off = 0, total = 0;
    for (int i = 0; i < FG_MODEL_N_TENSORS; i++) {
        size_t n = fg_model_tensor_numel(cfg, i, NULL, NULL);
        if (offset)
            offset[i] = off;
        if (numel)
            numel[i] = n;
        total += n;
        off = fg_align_up(off + n, FG_MODEL_ALIGN);
    }
    if (n_params)
        *n_params = total;
    return off;
}

/* The activation arena: a list of (count) slots in a fixed order, each 64-byte aligned.
 * fg_model_act_layout fills `a` with pointers relative to `base` (NULL base = sizing only) and
 * returns the arena size in bytes (0 on overflow). */
size_t fg_model_act_layout(const struct fg_model_config *cfg, size_t B, size_t T,
                           const struct fg_model_act_opts *o, void *base, struct fg_model_acts *a,
                           size_t *scratch_bytes, size_t *mx_bytes)
{
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, NH = (size_t)cfg->n_head;
    size_t Vp = fg_model_padded_vocab(cfg->vocab_size);
    size_t BT = B * T;
    int training = o->training;
    if (B == 0 || T == 0 || BT / B != T || BT > ((size_t)1 << 40))
        return 0;
    if (T > ((size_t)1 << 20) || C > ((size_t)1 << 20) || L > 1024 || NH > 1024)
        return 0;
    double att_d = (double)B * (double)NH * (double)T * (double)T, big = (double)((size_t)1 << 50);
    if (att_d * (double)L > big || (double)BT * (double)Vp > big ||
        (double)L * (double)BT * 4.0 * (double)C > big)
        return 0;
    /* standard attention keeps the probabilities (and a T x T backward scratch); tiled keeps
     * one log-sum-exp per row (and a per-row backward scratch) */
    int tiled = o->attention == FG_MODEL_ATTN_TILED;
    size_t att = tiled ? 0 : B * NH * T * T, lse_n = tiled ? B * NH * T : 0;
    size_t datt_n = tiled ? B * NH * T : att, attn_scr = tiled ? 0 : B * C * ((T + 31) / 32 * 32);
    /* layers of each per-layer tensor: L, or one for what backward recomputes */
    int rc = training ? o->recompute : FG_MODEL_RECOMPUTE_NONE;
    size_t Lb = rc == FG_MODEL_RECOMPUTE_BLOCK ? 1 : L; /* a block's internals */
    size_t La = rc != FG_MODEL_RECOMPUTE_NONE ? 1 : L;  /* attention's output and internals */
    /* MX emulation scratch (kind 2; training-only kind 3): the quantized copies of the largest
     * operand, (4C, B, Tp) with each sequence padded to whole blocks of 32 tokens, plus one
     * byte of codes and 1/32 byte of scale per element of it (8 bits is the widest format). */
    int mx_on = fg_model_mx_on(o->mx);
    size_t mx_big = 4 * C * B * fg_align_up(T, FG_MX_BLOCK);
    size_t mx_bytes_big = mx_big > 4 * C * C ? mx_big : 4 * C * C;
    int alias = training && o->alias_scratch;

    struct slot {
        void **p;
        size_t n;       /* floats (4 bytes each) */
        int train_only; /* 1: training only; 2: MX only; 3: MX and training only; 5: training
                           only, in the logits' memory when the scratch is aliased */
    } s[] = {
        { (void **)&a->encoded, BT * C, 0 },
        { (void **)&a->ln1, Lb * BT * C, 0 },
        { (void **)&a->ln1_mean, Lb * BT, 0 },
        { (void **)&a->ln1_rstd, Lb * BT, 0 },
        { (void **)&a->qkv, Lb * BT * 3 * C, 0 },
        { (void **)&a->atty, La * BT * C, 0 },
        { (void **)&a->att, La * att, 0 },
        { (void **)&a->att_lse, La * lse_n, 0 },
        { (void **)&a->res2, Lb * BT * C, 0 },
        { (void **)&a->ln2, Lb * BT * C, 0 },
        { (void **)&a->ln2_mean, Lb * BT, 0 },
        { (void **)&a->ln2_rstd, Lb * BT, 0 },
        { (void **)&a->fch, Lb * BT * 4 * C, 0 },
        { (void **)&a->fch_gelu, Lb * BT * 4 * C, 0 },
        { (void **)&a->res3, L * BT * C, 0 },
        { (void **)&a->lnf, BT * C, 0 },
        { (void **)&a->lnf_mean, BT, 0 },
        { (void **)&a->lnf_rstd, BT, 0 },
        { (void **)&a->logits, BT * Vp, 0 },
        { (void **)&a->losses, BT, 0 },
        { (void **)&a->lse, BT, 0 },
        { (void **)&a->inputs, BT, 0 },
        { (void **)&a->targets, BT, 0 },
        { (void **)&a->dres, BT * C, 5 },
        { (void **)&a->dln, BT * C, 1 },
        { (void **)&a->dqkv, BT * 3 * C, 5 },
        { (void **)&a->datty, BT * C, 5 },
        { (void **)&a->dfch, BT * 4 * C, 5 },
        { (void **)&a->datt, datt_n, 5 },
        { (void **)&a->attn_scratch, attn_scr, 0 },
        { (void **)&a->mx_a, mx_big, 2 },
        { (void **)&a->mx_b, mx_big, 3 },
        { (void **)&a->mx_w, 4 * C * C, 2 },
        { (void **)&a->mx_codes, (mx_bytes_big + 3) / 4, 2 },
        { (void **)&a->mx_scales, (mx_bytes_big / FG_MX_BLOCK + 4) / 4, 2 },
    };

    size_t n_slots = sizeof s / sizeof s[0];

    /* the aliased scratch, laid out from the start of the logits' slot, which grows to hold it */
    size_t alias_bytes = 0, logits_bytes = fg_align_up(BT * Vp * 4, 64);
    for (size_t i = 0; alias && i < n_slots; i++)
        if (s[i].train_only == 5)
            alias_bytes += fg_align_up(s[i].n * 4, 64);
    size_t logits_slot = alias && alias_bytes > logits_bytes ? alias_bytes : logits_bytes;

    size_t off = 0, scratch = alias ? logits_slot - logits_bytes : 0, mx_total = 0;
    char *logits_base = NULL;
    for (size_t i = 0; i < n_slots; i++) {
        int kind = s[i].train_only;
        if (((kind & 1) && !training) || ((kind & 2) && !mx_on) || s[i].n == 0 ||
            (kind == 5 && alias)) {
            *s[i].p = NULL;
            continue;
        }
        size_t bytes = s[i].p == (void **)&a->logits ? logits_slot : fg_align_up(s[i].n * 4, 64);
        *s[i].p = base ? (char *)base + off : NULL;
        if (s[i].p == (void **)&a->logits)
            logits_base = base ? (char *)base + off : NULL;
        off += bytes;
        if (kind & 2)
            mx_total += bytes;
        else if (kind)
            scratch += bytes;
    }
    for (size_t i = 0, aoff = 0; alias && i < n_slots; i++) {
        if (s[i].train_only != 5 || s[i].n == 0)
            continue;
        *s[i].p = logits_base ? logits_base + aoff : NULL;
        aoff += fg_align_up(s[i].n * 4, 64);
    }
    if (scratch_bytes)
        *scratch_bytes = scratch;
    if (mx_bytes)
        *mx_bytes = mx_total;
    return off;
}

fg_status fg_model_mem_size_mx(const struct fg_model_config *cfg, size_t B, size_t T, int training,
                               const struct fg_model_mx *mx, struct fg_model_mem *out)
{
    struct fg_model_act_opts o = { training, mx, FG_MODEL_ATTN_STANDARD, FG_MODEL_RECOMPUTE_NONE,
                                   0 };
    return fg_model_mem_size_opts(cfg, B, T, &o, out);
}

fg_status fg_model_mem_size_opts(const struct fg_model_config *cfg, size_t B, size_t T,
                                 const struct fg_model_act_opts *o, struct fg_model_mem *out)
{
    char buf[256];
    FG_TRY(fg_model_config_check(cfg, buf, sizeof buf));
    FG_TRY(fg_model_mx_check(cfg, o->mx, buf, sizeof buf));
    if (o->attention != FG_MODEL_ATTN_STANDARD &&
        (o->attention != FG_MODEL_ATTN_TILED ||
         !fg_attention_tiled_supported((size_t)cfg->n_embd, (size_t)cfg->n_head)))
        return FG_ERR_INVALID_ARG;
    if (o->recompute < FG_MODEL_RECOMPUTE_NONE || o->recompute > FG_MODEL_RECOMPUTE_BLOCK)
        return FG_ERR_INVALID_ARG;
    struct fg_model_mem m = { 0 };
    m.n_flat = fg_model_param_layout(cfg, NULL, NULL, &m.n_params);
    FG_TRY(fg_size_mul(m.n_flat, 4, &m.param_bytes));
    m.grad_bytes = o->training ? m.param_bytes : 0;
    struct fg_model_acts a;
    size_t scratch = 0, mxb = 0;
    size_t act = fg_model_act_layout(cfg, B, T, o, NULL, &a, &scratch, &mxb);
    if (act == 0)
        return FG_ERR_INVALID_ARG;
    m.act_bytes = act - scratch - mxb;
    m.scratch_bytes = scratch;
    m.mx_bytes = mxb;
    m.total_bytes = m.param_bytes + m.grad_bytes + act;
    *out = m;
    return FG_OK;
}

fg_status fg_model_mem_size(const struct fg_model_config *cfg, size_t B, size_t T, int training,
                            struct fg_model_mem *out)
{
    return fg_model_mem_size_mx(cfg, B, T, training, NULL, out);
}

/* Rows of wte decoded at a time for the LM head of a bf16 model: wide enough for an efficient
 * sgemm, small next to the vocabulary of a real model. */
#define DECODE_CHUNK_ROWS 1024

size_t fg_model_decode_layout(const struct fg_model_config *cfg, int training, void *base,
                              float *dw[], float *dg[], float **wchunk, float **gchunk,
                              size_t *chunk_rows)
{
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd;
    size_t Vp = fg_model_padded_vocab(cfg->vocab_size);
    size_t rows = Vp < DECODE_CHUNK_ROWS ? Vp : DECODE_CHUNK_ROWS, off = 0;
    for (int pass = 0; pass < 2; pass++) { /* weights, then gradients */
        float **v = pass ? dg : dw;
        for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
            size_t n = fg_model_tensor_numel(cfg, id, NULL, NULL);
            if (id >= FG_PARAM_LN1W && id <= FG_PARAM_FCPROJB)
                n /= L; /* one block's slice */
            if (id == FG_PARAM_WTE || (pass && !training)) {
                v[id] = NULL;
                continue;
            }
            v[id] = base ? (float *)((char *)base + off) : NULL;
            off += fg_align_up(n * sizeof(float), 64);
        }
        float **chunk = pass ? gchunk : wchunk;
        *chunk = NULL;
        if (pass && !training)
            continue;
        *chunk = base ? (float *)((char *)base + off) : NULL;
        off += fg_align_up(rows * C * sizeof(float), 64);
    }
    *chunk_rows = rows;
    return off;
}

fg_status fg_model_mem_size_params(const struct fg_model_params *p, struct fg_model_mem *out)
{
    if (p->weights != FG_MODEL_WEIGHTS_FP32 && p->weights != FG_MODEL_WEIGHTS_BF16)
        return FG_ERR_INVALID_ARG;
    if (p->grad_release && (p->weights != FG_MODEL_WEIGHTS_BF16 || !p->training))
        return FG_ERR_INVALID_ARG;
    if (p->matmul != FG_MODEL_MATMUL_FP32 &&
        (p->matmul != FG_MODEL_MATMUL_BF16 || fg_model_mx_on(&p->mx)))
        return FG_ERR_INVALID_ARG;
    struct fg_model_act_opts o = { p->training, &p->mx, p->attention, p->recompute,
                                   p->weights == FG_MODEL_WEIGHTS_FP32 };
    FG_TRY(fg_model_mem_size_opts(&p->cfg, p->B, p->T, &o, out));
    if (p->weights == FG_MODEL_WEIGHTS_BF16) {
        float *dw[FG_MODEL_N_TENSORS], *dg[FG_MODEL_N_TENSORS], *wc, *gc;
        size_t rows;
        out->param_bytes = out->n_flat * 2;
        out->grad_bytes = p->training && !p->grad_release ? out->param_bytes : 0;
        out->decode_bytes =
            fg_model_decode_layout(&p->cfg, p->training, NULL, dw, dg, &wc, &gc, &rows);
        out->total_bytes = out->param_bytes + out->grad_bytes + out->decode_bytes + out->act_bytes +
                           out->scratch_bytes + out->mx_bytes;
    }
    if (p->matmul == FG_MODEL_MATMUL_BF16) {
        out->gemm_bytes = fg_gemm_bf16_work_size(p->n_threads);
        out->total_bytes += out->gemm_bytes;
    }
    return FG_OK;
}

/* ---- MX emulation settings and ledger ---- */

struct fg_model_mx fg_model_mx_default(void)
{
    struct fg_model_mx mx;
    mx.weights = mx.activations = mx.grads = FG_MODEL_MX_NONE;
    mx.scale_rule = FG_MX_SCALE_RULE_FLOOR;
    return mx;
}

int fg_model_mx_on(const struct fg_model_mx *mx)
{
    return mx && (mx->weights != FG_MODEL_MX_NONE || mx->activations != FG_MODEL_MX_NONE ||
                  mx->grads != FG_MODEL_MX_NONE);
}

fg_status fg_model_mx_parse(const char *name, int *out, char *errmsg, size_t n)
{
    enum fg_mx_format f;
    if (name && !strcasecmp(name, "none")) {
        *out = FG_MODEL_MX_NONE;
        return FG_OK;
    }
    if (fg_mx_format_from_name(name, &f, NULL, 0) != FG_OK) {
        if (errmsg && n)
            snprintf(errmsg, n,
                     "unknown MX format '%.64s': use none, e4m3 or e5m2 (MXFP8), e3m2 or e2m3 "
                     "(MXFP6), e2m1 (MXFP4), int8 (MXINT8)",
                     name ? name : "(null)");
        return FG_ERR_INVALID_ARG;
    }
    *out = (int)f;
    return FG_OK;
}

const char *fg_model_mx_name(int fmt)
{
    if (fmt == FG_MODEL_MX_NONE)
        return "none";
    return fmt >= 0 && fmt < FG_MX_FORMAT_COUNT ? fg_mx_format_name((enum fg_mx_format)fmt)
                                                : "unknown";
}

fg_status fg_model_mx_check(const struct fg_model_config *cfg, const struct fg_model_mx *mx,
                            char *errmsg, size_t n)
{
    if (!mx)
        return FG_OK;

    const struct {
        const char *what;
        int f;
    } ops[] = { { "weights", mx->weights },
                { "activations", mx->activations },
                { "grads", mx->grads } };

    for (size_t i = 0; i < 3; i++)
        if (ops[i].f != FG_MODEL_MX_NONE && (ops[i].f < 0 || ops[i].f >= FG_MX_FORMAT_COUNT)) {
            snprintf(errmsg, n,
                     "MX %s format %d is not a format (FG_MODEL_MX_NONE or an "
                     "enum fg_mx_format)",
                     ops[i].what, ops[i].f);
            return FG_ERR_INVALID_ARG;
        }
    if ((int)mx->scale_rule < 0 || mx->scale_rule > FG_MX_SCALE_RULE_RCEIL) {
        snprintf(errmsg, n, "MX scale rule %d is not floor, ceil or rceil", (int)mx->scale_rule);
        return FG_ERR_INVALID_ARG;
    }
    if (fg_model_mx_on(mx) && cfg->n_embd % FG_MX_BLOCK != 0) {
        int lo = cfg->n_embd / FG_MX_BLOCK * FG_MX_BLOCK, hi = lo + FG_MX_BLOCK;
        char widths[32];
        if (lo > 0)
            snprintf(widths, sizeof widths, "%d or %d", lo, hi);
        else
            snprintf(widths, sizeof widths, "%d", hi);
        snprintf(errmsg, n,
                 "MX emulation needs n_embd to be a multiple of %d (blocks of %d run along "
                 "every layer's width); n_embd is %d: use %s (--n-embd), or leave the --mx-* "
                 "flags at none",
                 FG_MX_BLOCK, FG_MX_BLOCK, cfg->n_embd, widths);
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

/* Bytes of n elements stored in operand format f (none: fp32). */
static uint64_t operand_bytes(int f, uint64_t n)
{
    size_t sb = 0, cb = 0;
    if (f == FG_MODEL_MX_NONE || fg_mx_sizes((enum fg_mx_format)f, (size_t)n, &sb, &cb) != FG_OK)
        return 4 * n;
    return (uint64_t)sb + (uint64_t)cb;
}

fg_status fg_model_mx_ledger(const struct fg_model_config *cfg, size_t B, size_t T,
                             const struct fg_model_mx *mx, struct fg_model_mx_ledger *out)
{
    struct fg_model_mem mem;
    FG_TRY(fg_model_mem_size_mx(cfg, B, T, 1, mx, &mem)); /* validates; bounds the products */
    struct fg_model_mx none = fg_model_mx_default();
    const struct fg_model_mx *x = mx ? mx : &none;
    uint64_t L = (uint64_t)cfg->n_layer, C = (uint64_t)cfg->n_embd, N = (uint64_t)B * T;
    /* (IC, OC) of qkv, attention projection, fc, fc projection */
    const uint64_t shape[4][2] = { { C, 3 * C }, { C, C }, { C, 4 * C }, { 4 * C, C } };
    struct fg_model_mx_ledger g;
    memset(&g, 0, sizeof g);
    for (int i = 0; i < 4; i++) {
        uint64_t IC = shape[i][0], OC = shape[i][1];
        uint64_t w = OC * IC, in = N * IC, dy = N * OC;
        g.weight_fp32 += L * 4 * w;
        g.weight_mx += L * operand_bytes(x->weights, w);
        g.act_fp32 += L * 4 * in;
        g.act_mx += L * operand_bytes(x->activations, in);
        g.moved_fp32 += L * 4 * (2 * in + 2 * w + 2 * dy);
        g.moved_mx += L * (2 * operand_bytes(x->activations, in) +
                           2 * operand_bytes(x->weights, w) + 2 * operand_bytes(x->grads, dy));
    }
    *out = g;
    return FG_OK;
}

double fg_model_recompute_flops_per_token(const struct fg_model_config *cfg, size_t T,
                                          int recompute)
{
    double L = cfg->n_layer, C = cfg->n_embd, blocks = L > 1 ? L - 1 : 0;
    if (recompute == FG_MODEL_RECOMPUTE_BLOCK)
        return blocks * (16.0 * C * C + 4.0 * (double)T * C);
    if (recompute == FG_MODEL_RECOMPUTE_ATTN)
        return blocks * 4.0 * (double)T * C;
    return 0.0;
}

double fg_model_flops_per_token(const struct fg_model_config *cfg, size_t T)
{
    double L = cfg->n_layer, C = cfg->n_embd, Vp = (double)fg_model_padded_vocab(cfg->vocab_size);
    double matmul_params = 12.0 * L * C * C + C * Vp;
    return 6.0 * matmul_params + 12.0 * L * (double)T * C;
}
