/* Pure sizing and FLOP functions of the GPT-2 model: the one source of truth for how many
 * bytes a model needs, used by fg_model_init and by the planner. No allocation, no globals. */
#include <stdio.h>

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
size_t fg_model_act_layout(const struct fg_model_config *cfg, size_t B, size_t T, int training,
                           void *base, struct fg_model_acts *a, size_t *scratch_bytes)
{
    size_t L = (size_t)cfg->n_layer, C = (size_t)cfg->n_embd, NH = (size_t)cfg->n_head;
    size_t Vp = fg_model_padded_vocab(cfg->vocab_size);
    size_t BT = B * T;
    if (B == 0 || T == 0 || BT / B != T || BT > ((size_t)1 << 40))
        return 0;
    if (T > ((size_t)1 << 20) || C > ((size_t)1 << 20) || L > 1024 || NH > 1024)
        return 0;
    double att_d = (double)B * (double)NH * (double)T * (double)T, big = (double)((size_t)1 << 50);
    if (att_d * (double)L > big || (double)BT * (double)Vp > big ||
        (double)L * (double)BT * 4.0 * (double)C > big)
        return 0;
    size_t att = B * NH * T * T;

    struct slot {
        void **p;
        size_t n;
        int train_only;
    } s[] = {
        { (void **)&a->encoded, BT * C, 0 },
        { (void **)&a->ln1, L * BT * C, 0 },
        { (void **)&a->ln1_mean, L * BT, 0 },
        { (void **)&a->ln1_rstd, L * BT, 0 },
        { (void **)&a->qkv, L * BT * 3 * C, 0 },
        { (void **)&a->atty, L * BT * C, 0 },
        { (void **)&a->att, L * att, 0 },
        { (void **)&a->res2, L * BT * C, 0 },
        { (void **)&a->ln2, L * BT * C, 0 },
        { (void **)&a->ln2_mean, L * BT, 0 },
        { (void **)&a->ln2_rstd, L * BT, 0 },
        { (void **)&a->fch, L * BT * 4 * C, 0 },
        { (void **)&a->fch_gelu, L * BT * 4 * C, 0 },
        { (void **)&a->res3, L * BT * C, 0 },
        { (void **)&a->lnf, BT * C, 0 },
        { (void **)&a->lnf_mean, BT, 0 },
        { (void **)&a->lnf_rstd, BT, 0 },
        { (void **)&a->logits, BT * Vp, 0 },
        { (void **)&a->losses, BT, 0 },
        { (void **)&a->lse, BT, 0 },
        { (void **)&a->inputs, BT, 0 },
        { (void **)&a->targets, BT, 0 },
        { (void **)&a->dres, BT * C, 1 },
        { (void **)&a->dln, BT * C, 1 },
        { (void **)&a->dqkv, BT * 3 * C, 1 },
        { (void **)&a->datty, BT * C, 1 },
        { (void **)&a->dfch, BT * 4 * C, 1 },
        { (void **)&a->datt, att, 1 },
        { (void **)&a->attn_scratch, B * C * ((T + 31) / 32 * 32), 0 },
    };

    size_t off = 0, scratch = 0;
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        if (s[i].train_only && !training) {
            *s[i].p = NULL;
            continue;
        }
        size_t bytes = fg_align_up(s[i].n * 4, 64);
        *s[i].p = base ? (char *)base + off : NULL;
        off += bytes;
        if (s[i].train_only)
            scratch += bytes;
    }
    if (scratch_bytes)
        *scratch_bytes = scratch;
    return off;
}

fg_status fg_model_mem_size(const struct fg_model_config *cfg, size_t B, size_t T, int training,
                            struct fg_model_mem *out)
{
    char buf[128];
    FG_TRY(fg_model_config_check(cfg, buf, sizeof buf));
    struct fg_model_mem m = { 0 };
    m.n_flat = fg_model_param_layout(cfg, NULL, NULL, &m.n_params);
    FG_TRY(fg_size_mul(m.n_flat, 4, &m.param_bytes));
    m.grad_bytes = training ? m.param_bytes : 0;
    struct fg_model_acts a;
    size_t scratch = 0;
    size_t act = fg_model_act_layout(cfg, B, T, training, NULL, &a, &scratch);
    if (act == 0)
        return FG_ERR_INVALID_ARG;
    m.act_bytes = act - scratch;
    m.scratch_bytes = scratch;
    m.total_bytes = m.param_bytes + m.grad_bytes + act;
    *out = m;
    return FG_OK;
}

double fg_model_flops_per_token(const struct fg_model_config *cfg, size_t T)
{
    double L = cfg->n_layer, C = cfg->n_embd, Vp = (double)fg_model_padded_vocab(cfg->vocab_size);
    double matmul_params = 12.0 * L * C * C + C * Vp;
    return 6.0 * matmul_params + 12.0 * L * (double)T * C;
}
