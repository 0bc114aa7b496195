/* The training loop: loader -> forward/backward over micro-batches -> clip -> AdamW ->
 * metrics -> eval -> checkpoint. All buffers are allocated before the first step. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frugal/kernels.h"
#include "frugal/train.h"

struct fg_train_params fg_train_params_default(void)
{
    struct fg_train_params p;
    memset(&p, 0, sizeof p);
    p.cfg.n_layer = 4;
    p.cfg.n_head = 4;
    p.cfg.n_embd = 128;
    p.cfg.block_size = 128;
    p.cfg.vocab_size = 256;
    p.B = 16;
    p.T = 128;
    p.accum = 1;
    p.steps = 1000;
    p.lr = 1e-3f;
    p.lr_min = 1e-4f;
    p.warmup = 50;
    p.grad_clip = 1.0f;
    p.adam = fg_adamw_params_default();
    p.optimizer = FG_FLASH_ADAM;
    p.momentum = 0.9f;
    p.storage = FG_TRAIN_STORAGE_FP32;
    p.master_bits = 24;
    p.eval_every = 100;
    p.eval_batches = 20;
    p.seed = 1337;
    p.n_threads = 1;
    p.keep = 2;
    p.mx = fg_model_mx_default();
    p.price_per_hour = FG_TRAIN_PRICE_PER_HOUR;
    return p;
}

const char *fg_train_optimizer_name(enum fg_flash_kind k)
{
    switch (k) {
    case FG_FLASH_ADAM:
        return "adamw";
    case FG_FLASH_LION:
        return "lion";
    case FG_FLASH_SGD:
        return "sgd";
    default:
        return NULL;
    }
}

fg_status fg_train_optimizer_parse(const char *name, enum fg_flash_kind *out)
{
    static const enum fg_flash_kind kinds[] = { FG_FLASH_ADAM, FG_FLASH_LION, FG_FLASH_SGD };

    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcmp(name, fg_train_optimizer_name(kinds[i]))) {
            *out = kinds[i];
            return FG_OK;
        }
    return FG_ERR_INVALID_ARG;
}

const char *fg_train_storage_name(enum fg_train_storage s)
{
    return s == FG_TRAIN_STORAGE_FP32 ? "fp32" : s == FG_TRAIN_STORAGE_FLASH ? "flash" : NULL;
}

fg_status fg_train_storage_parse(const char *name, enum fg_train_storage *out)
{
    for (int s = FG_TRAIN_STORAGE_FP32; name && s <= FG_TRAIN_STORAGE_FLASH; s++)
        if (!strcmp(name, fg_train_storage_name((enum fg_train_storage)s))) {
            *out = (enum fg_train_storage)s;
            return FG_OK;
        }
    return FG_ERR_INVALID_ARG;
}

const char *fg_train_dtype_name(int matmul)
{
    return matmul == FG_MODEL_MATMUL_FP32 ? "fp32" : matmul == FG_MODEL_MATMUL_BF16 ? "bf16" : NULL;
}

const char *fg_train_attention_name(int attention)
{
    return attention == FG_MODEL_ATTN_STANDARD ? "standard"
           : attention == FG_MODEL_ATTN_TILED  ? "tiled"
                                               : NULL;
}

fg_status fg_train_attention_parse(const char *name, int *out)
{
    for (int a = FG_MODEL_ATTN_STANDARD; name && a <= FG_MODEL_ATTN_TILED; a++)
        if (!strcmp(name, fg_train_attention_name(a))) {
            *out = a;
            return FG_OK;
        }
    return FG_ERR_INVALID_ARG;
}

const char *fg_train_recompute_name(int recompute)
{
    return recompute == FG_MODEL_RECOMPUTE_NONE    ? "none"
           : recompute == FG_MODEL_RECOMPUTE_ATTN  ? "attn"
           : recompute == FG_MODEL_RECOMPUTE_BLOCK ? "block"
                                                   : NULL;
}

fg_status fg_train_recompute_parse(const char *name, int *out)
{
    for (int r = FG_MODEL_RECOMPUTE_NONE; name && r <= FG_MODEL_RECOMPUTE_BLOCK; r++)
        if (!strcmp(name, fg_train_recompute_name(r))) {
            *out = r;
            return FG_OK;
        }
    return FG_ERR_INVALID_ARG;
}

fg_status fg_train_dtype_parse(const char *name, int *out)
{
    for (int d = FG_MODEL_MATMUL_FP32; name && d <= FG_MODEL_MATMUL_BF16; d++)
        if (!strcmp(name, fg_train_dtype_name(d))) {
            *out = d;
            return FG_OK;
        }
    return FG_ERR_INVALID_ARG;
}

fg_status fg_eval_shard(struct fg_model *m, const struct fg_shard *s, size_t B, size_t T,
                        int max_batches, int32_t *inputs, int32_t *targets, double *mean_loss,
                        uint64_t *n_tokens)
{
    double sum = 0;
    uint64_t n = 0;
    for (size_t k = 0; max_batches <= 0 || k < (size_t)max_batches; k++) {
        if (!fg_shard_window(s, k, B, T, inputs, targets))
            break;
        FG_TRY(fg_model_forward(m, inputs, targets, B, T));
        sum += m->loss * (double)(B * T);
        n += B * T;
    }
    *mean_loss = n ? sum / (double)n : (double)NAN;
    if (n_tokens)
        *n_tokens = n;
    return FG_OK;
}

struct run {
    const struct fg_train_params *p;
    struct fg_model *model;
    float *m, *v; /* fp32 storage: the states */
    /* flash storage: the master correction (int8 or int16 per element), the states' codes and
     * their group scales (one per FG_FLASH_GROUP elements of the flat buffer; every tensor
     * starts on a multiple of FG_MODEL_ALIGN, so a tensor's groups start at offset / 32) */
    void *rho;
    int8_t *mq;
    uint8_t *vq;
    uint16_t *ms, *vs;
    /* gradient release: this step's update settings, the sum of squares of the gradients
     * released so far, and the previous step's gradient norm (NaN before the first) */
    float rel_lr, rel_scale;
    int64_t rel_t;
    double rel_sumsq, prev_norm;
    double *partial;
    int32_t *inputs, *targets;
    struct fg_shard train, val;
    int have_val;
    struct fg_loader loader;
    struct fg_optim_segment seg[FG_MODEL_N_TENSORS];
    FILE *metrics;
    struct fg_allocator alloc;
    /* the two newest checkpoints (newest first) and their steps, to name the last good one */
    char ckpt_path[2][4096];
    int64_t ckpt_step[2];
    /* steps of the checkpoints this run wrote and still keeps, oldest first (--keep). Only
     * this run's own files are ever deleted: a resumed-from checkpoint or files of other runs
     * in the same directory are left alone. */
    int64_t *kept;
    int n_kept;
};

static fg_status release_step(void *user, int id, size_t off, float *g, size_t n);

static void ckpt_path_of(char *out, size_t n, const char *dir, int64_t step)
{
    snprintf(out, n, "%s/ckpt_%08" PRId64 ".safetensors", dir, step);
}

/* Record the checkpoint just written and delete this run's oldest one beyond --keep. */
static void keep_newest(struct run *r, int64_t step)
{
    int keep = r->p->keep < 1 ? 1 : r->p->keep;
    if (r->n_kept == keep) {
        char old[4200];
        ckpt_path_of(old, sizeof old, r->p->ckpt_dir, r->kept[0]);
        unlink(old);
        memmove(r->kept, r->kept + 1, (size_t)(keep - 1) * sizeof *r->kept);
        r->n_kept--;
    }
    r->kept[r->n_kept++] = step;
}

static void note_ckpt(struct run *r, const char *path, int64_t step)
{
    memcpy(r->ckpt_path[1], r->ckpt_path[0], sizeof r->ckpt_path[0]);
    r->ckpt_step[1] = r->ckpt_step[0];
    snprintf(r->ckpt_path[0], sizeof r->ckpt_path[0], "%s", path);
    r->ckpt_step[0] = step;
}

/* A checkpoint of step s holds the weights after s updates. When the forward pass of step
 * k+1 is not finite, the weights after k updates diverged: only a checkpoint with s < k is
 * known good (its weights gave a finite loss at step s+1 <= k). */
static const char *last_good_ckpt(const struct run *r, int64_t k)
{
    for (int i = 0; i < 2; i++)
        if (r->ckpt_path[i][0] && r->ckpt_step[i] < k && access(r->ckpt_path[i], R_OK) == 0)
            return r->ckpt_path[i];
    return NULL;
}

static const char *const scale_rule_names[] = { "floor", "ceil", "rceil" };

static const char *scale_rule_name(enum fg_mx_scale_rule r)
{
    return (int)r >= 0 && r <= FG_MX_SCALE_RULE_RCEIL ? scale_rule_names[r] : "unknown";
}

/* The hyperparameters that shape the trajectory, as stored in a checkpoint's "train"
 * metadata. Floats use %.9g, which round-trips every float exactly. The MX settings are names
 * ("none", "e4m3", ...; "floor", ...); checkpoints written before they existed lack them, which
 * means none and floor. */
static void train_json(const struct fg_train_params *p, char *buf, size_t n)
{
    snprintf(buf, n,
             "{\"B\":%zu,\"T\":%zu,\"accum\":%d,\"steps\":%" PRId64 ",\"lr\":%.9g,"
             "\"lr_min\":%.9g,\"warmup\":%" PRId64 ",\"grad_clip\":%.9g,\"beta1\":%.9g,"
             "\"beta2\":%.9g,\"eps\":%.9g,\"weight_decay\":%.9g,\"seed\":%" PRIu64 ","
             "\"threads\":%d,\"mx_weights\":\"%s\",\"mx_activations\":\"%s\","
             "\"mx_grads\":\"%s\",\"mx_scale\":\"%s\",\"optimizer\":\"%s\","
             "\"momentum\":%.9g,\"nesterov\":%d,\"storage\":\"%s\",\"master_bits\":%d,"
             "\"grad_release\":%d,\"dtype\":\"%s\",\"attention\":\"%s\",\"recompute\":\"%s\"}",
             p->B, p->T, p->accum, p->steps, (double)p->lr, (double)p->lr_min, p->warmup,
             (double)p->grad_clip, (double)p->adam.beta1, (double)p->adam.beta2,
             (double)p->adam.eps, (double)p->adam.weight_decay, p->seed, p->n_threads,
             fg_model_mx_name(p->mx.weights), fg_model_mx_name(p->mx.activations),
             fg_model_mx_name(p->mx.grads), scale_rule_name(p->mx.scale_rule),
             fg_train_optimizer_name(p->optimizer), (double)p->momentum, p->nesterov ? 1 : 0,
             fg_train_storage_name(p->storage),
             p->storage == FG_TRAIN_STORAGE_FLASH ? p->master_bits : 32, p->grad_release ? 1 : 0,
             fg_train_dtype_name(p->matmul), fg_train_attention_name(p->attention),
             fg_train_recompute_name(p->recompute));
}

/* A resumed run continues exactly only with the same trajectory-shaping hyperparameters, and
 * with the same thread count unless the BLAS is thread-count invariant (frugal's own kernels
 * are; see fg_kernels_blas_thread_invariant). Changing them is allowed (lowering the learning
 * rate after a divergence is the usual reason) and reported through on_log. */
static fg_status check_resume_params(const struct fg_train_params *p, const char *stored,
                                     char *errmsg, size_t n)
{
    char note[1024];
    size_t used = 0;
    note[0] = '\0';
    static const char *const keys[][2] = {
        { "B", "--batch" },
        { "T", "--seq" },
        { "accum", "--accum" },
        { "steps", "--steps" },
        { "lr", "--lr" },
        { "lr_min", "--lr-min" },
        { "warmup", "--warmup" },
        { "grad_clip", "--grad-clip" },
        { "beta1", "--beta1" },
        { "beta2", "--beta2" },
        { "eps", "eps" },
        { "weight_decay", "--weight-decay" },
        { "seed", "--seed" },
        { "momentum", "--momentum" },
        { "nesterov", "--nesterov" },
        { "grad_release", "--grad-release" },
    };
    char now[1024];
    train_json(p, now, sizeof now);
    cJSON *a = cJSON_Parse(stored), *b = cJSON_Parse(now);
    fg_status st = FG_OK;
    if (!a || !b) {
        snprintf(errmsg, n, "checkpoint %s has unreadable \"train\" metadata", p->resume_path);
        st = FG_ERR_FORMAT;
    }
    for (size_t i = 0; !st && i < sizeof keys / sizeof keys[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, keys[i][0]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, keys[i][0]);
        if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y))
            continue;
        if (x->valuedouble != y->valuedouble && used < sizeof note)
            used +=
                (size_t)snprintf(note + used, sizeof note - used, "%s%s %.9g (checkpoint: %.9g)",
                                 used ? ", " : "", keys[i][1], y->valuedouble, x->valuedouble);
    }
    /* MX settings and the products' dtype: a change is honoured (the run trains with the new
     * formats from here on) and named, like any other changed setting; absent keys (older
     * checkpoints) mean none, floor and fp32 */
    static const char *const mx_keys[][3] = {
        { "mx_weights", "--mx-weights", "none" }, { "mx_activations", "--mx-activations", "none" },
        { "mx_grads", "--mx-grads", "none" },     { "mx_scale", "--mx-scale", "floor" },
        { "dtype", "--dtype", "fp32" },           { "attention", "--attention", "standard" },
    };
    for (size_t i = 0; !st && i < sizeof mx_keys / sizeof mx_keys[0]; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, mx_keys[i][0]);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, mx_keys[i][0]);
        const char *was = cJSON_IsString(x) ? x->valuestring : mx_keys[i][2];
        if (cJSON_IsString(y) && strcmp(was, y->valuestring) != 0 && used < sizeof note)
            used += (size_t)snprintf(note + used, sizeof note - used, "%s%s %s (checkpoint: %.16s)",
                                     used ? ", " : "", mx_keys[i][1], y->valuestring, was);
    }
    const cJSON *tx = cJSON_GetObjectItemCaseSensitive(a, "threads");
    if (!st && cJSON_IsNumber(tx) && (int)tx->valuedouble != p->n_threads &&
        fg_kernels_blas_thread_invariant(p->n_threads) != 1 && used < sizeof note)
        used += (size_t)snprintf(note + used, sizeof note - used,
                                 "%s--threads %d (checkpoint: %d; this BLAS's results depend on "
                                 "the thread count)",
                                 used ? ", " : "", p->n_threads, (int)tx->valuedouble);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (!st && note[0] && p->on_log) {
        char msg[1400];
        snprintf(msg, sizeof msg,
                 "resuming with changed settings: %s; the run will not match "
                 "an uninterrupted one",
                 note);
        p->on_log(p->user, msg);
    }
    return st;
}

/* The flash library's hyperparameters for this run's optimizer, for a tensor with (decay) or
 * without weight decay. */
static struct fg_flash_hparams train_flash_hparams(const struct fg_train_params *p, int decay)
{
    struct fg_flash_hparams h = fg_flash_hparams_default(p->optimizer);
    h.beta1 = p->adam.beta1;
    h.beta2 = p->adam.beta2;
    h.eps = p->adam.eps;
    h.weight_decay = decay ? p->adam.weight_decay : 0.0f;
    h.decoupled = 1;
    h.momentum = p->momentum;
    h.dampening = 0.0f;
    h.nesterov = p->nesterov;
    return h;
}

/* An optimizer's state cannot become another's: refuse a resume with a different optimizer
 * before anything is loaded (checkpoints older than the choice were AdamW). */
static fg_status check_resume_optimizer(const struct fg_train_params *p, char *errmsg, size_t n)
{
    char js[1024], inner[512];
    fg_status rc = fg_ckpt_read_meta(p->resume_path, "train", js, sizeof js, inner, sizeof inner);
    if (rc) {
        snprintf(errmsg, n, "%s", inner);
        return rc;
    }
    cJSON *j = cJSON_Parse(js);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(j, "storage");
    const cJSON *mb = cJSON_GetObjectItemCaseSensitive(j, "master_bits");
    char was[16], storage[16];
    snprintf(was, sizeof was, "%s", cJSON_IsString(o) ? o->valuestring : "adamw");
    snprintf(storage, sizeof storage, "%s", cJSON_IsString(so) ? so->valuestring : "fp32");
    int bits = cJSON_IsNumber(mb) ? (int)mb->valuedouble : 32;
    cJSON_Delete(j);
    if (strcmp(was, fg_train_optimizer_name(p->optimizer)) != 0) {
        snprintf(errmsg, n,
                 "checkpoint %s was trained with --optimizer %s; resume it with the same "
                 "optimizer (its state cannot become %s's), or start a new run",
                 p->resume_path, was, fg_train_optimizer_name(p->optimizer));
        return FG_ERR_INVALID_ARG;
    }
    int now_bits = p->storage == FG_TRAIN_STORAGE_FLASH ? p->master_bits : 32;
    if (strcmp(storage, fg_train_storage_name(p->storage)) != 0 || bits != now_bits) {
        snprintf(errmsg, n,
                 "checkpoint %s keeps its optimizer in --optim-storage %s%s; resume it with the "
                 "same storage%s (the states are not converted), or start a new run",
                 p->resume_path, storage,
                 !strcmp(storage, "flash")
                     ? (bits == 24 ? " --master-bits 24" : " --master-bits 32")
                     : "",
                 !strcmp(storage, "flash") ? " and master bits" : "");
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

/* The optimizer tensors of a checkpoint, as this run keeps them: fp32 m and v, or the flash
 * storage's master correction, codes and scales. Returns their count. */
static size_t optim_tensors(const struct run *r, struct fg_ckpt_extra x[6])
{
    size_t nf = r->model->n_flat, groups = nf / FG_FLASH_GROUP, k = 0;
    if (r->p->storage != FG_TRAIN_STORAGE_FLASH) {
        if (r->m)
            x[k++] = (struct fg_ckpt_extra){ "optim.m", FG_DTYPE_F32, nf, r->m };
        if (r->v)
            x[k++] = (struct fg_ckpt_extra){ "optim.v", FG_DTYPE_F32, nf, r->v };
        return k;
    }
    x[k++] =
        (struct fg_ckpt_extra){ "optim.rho", r->p->master_bits == 32 ? FG_DTYPE_I16 : FG_DTYPE_I8,
                                nf, r->rho };
    if (r->mq) {
        x[k++] = (struct fg_ckpt_extra){ "optim.m.codes", FG_DTYPE_I8, nf, r->mq };
        x[k++] = (struct fg_ckpt_extra){ "optim.m.scales", FG_DTYPE_BF16, groups, r->ms };
    }
    if (r->vq) {
        x[k++] = (struct fg_ckpt_extra){ "optim.v.codes", FG_DTYPE_U8, nf, r->vq };
        x[k++] = (struct fg_ckpt_extra){ "optim.v.scales", FG_DTYPE_BF16, groups, r->vs };
    }
    return k;
}

static fg_status save_ckpt(struct run *r, int64_t step, struct fg_train_result *res, char *errmsg,
                           size_t n)
{
    const struct fg_train_params *p = r->p;
    struct fg_ckpt_state st;
    memset(&st, 0, sizeof st);
    st.step = step;
    st.grad_norm = r->prev_norm;
    memcpy(st.rng, r->loader.rng.s, sizeof st.rng);
    st.n_batches = r->loader.n_batches;
    st.data_crc = r->train.crc32c;
    st.data_tokens = r->train.n_tokens;
    train_json(p, st.train_json, sizeof st.train_json);
    char path[4096];
    ckpt_path_of(path, sizeof path, p->ckpt_dir, step);
    char inner[512];
    struct fg_ckpt_extra x[6];
    size_t nx = optim_tensors(r, x);
    fg_status rc = fg_ckpt_save_ex(path, r->model, x, nx, fg_train_storage_name(p->storage), &st,
                                   p->ckpt_fail_after, inner, sizeof inner);
    if (rc) {
        snprintf(errmsg, n, "writing checkpoint %s failed: %s", path, inner);
        return rc;
    }
    snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", path);
    note_ckpt(r, path, step);
    keep_newest(r, step);
    return FG_OK;
}

fg_status fg_train_check_params(const struct fg_train_params *p, char *errmsg, size_t n)
{
    char inner[512];
    fg_status rc;
    if (p->B > FG_TRAIN_MAX_BATCH) {
        snprintf(errmsg, n, "--batch %zu is larger than the limit %d", p->B, FG_TRAIN_MAX_BATCH);
        return FG_ERR_INVALID_ARG;
    }
    if (p->B < 1 || p->T < 1 || p->accum < 1 || p->steps < 1 || p->n_threads < 1 || !(p->lr > 0) ||
        p->lr_min < 0 || p->warmup < 0 || p->grad_clip < 0 || !p->train_path) {
        snprintf(errmsg, n,
                 "invalid training parameters (batch, seq, accum, steps, threads and "
                 "lr must be positive)");
        return FG_ERR_INVALID_ARG;
    }
    if (!(p->adam.beta1 >= 0 && p->adam.beta1 < 1) || !(p->adam.beta2 >= 0 && p->adam.beta2 < 1) ||
        !(p->adam.eps > 0) || !(p->adam.weight_decay >= 0)) {
        snprintf(errmsg, n, "AdamW needs 0 <= beta1, beta2 < 1, eps > 0 and weight decay >= 0");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_train_optimizer_name(p->optimizer) || !(p->momentum >= 0 && p->momentum < 1)) {
        snprintf(errmsg, n, "unknown optimizer, or --momentum outside [0, 1)");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_train_storage_name(p->storage) ||
        (p->storage == FG_TRAIN_STORAGE_FLASH && p->master_bits != 24 && p->master_bits != 32)) {
        snprintf(errmsg, n, "unknown optimizer storage, or master bits other than 24 and 32");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_train_dtype_name(p->matmul) ||
        (p->matmul == FG_MODEL_MATMUL_BF16 && fg_model_mx_on(&p->mx))) {
        snprintf(errmsg, n,
                 "unknown product dtype, or --dtype bf16 with MX emulation (the MX emulation "
                 "runs fp32 products on its rounded copies: choose one)");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_train_attention_name(p->attention) ||
        (p->attention == FG_MODEL_ATTN_TILED &&
         !fg_attention_tiled_supported((size_t)p->cfg.n_embd, (size_t)p->cfg.n_head))) {
        snprintf(errmsg, n,
                 "unknown attention kernel, or --attention tiled with a head size (n_embd / n_head "
                 "= %d) above %d",
                 p->cfg.n_head > 0 ? p->cfg.n_embd / p->cfg.n_head : 0, FG_ATTENTION_TILED_MAX_HS);
        return FG_ERR_INVALID_ARG;
    }
    if (!(p->peak_flops >= 0.0 && p->peak_flops < 1e30) ||
        !(p->price_per_hour >= 0.0 && p->price_per_hour < 1e12) || p->inject_nan_step < 0 ||
        p->inject_spike_step < 0) {
        snprintf(errmsg, n,
                 "--peak-flops and --price-per-hour must be finite and not negative, and "
                 "injection steps not negative");
        return FG_ERR_INVALID_ARG;
    }
    if (!fg_train_recompute_name(p->recompute)) {
        snprintf(errmsg, n, "unknown recomputation %d (none, attn or block)", p->recompute);
        return FG_ERR_INVALID_ARG;
    }
    if (p->grad_release &&
        (p->storage != FG_TRAIN_STORAGE_FLASH || p->accum != 1 || p->cfg.n_embd % 32 != 0)) {
        snprintf(errmsg, n,
                 "gradient release needs --optim-storage flash, --accum 1 (the gradient must be "
                 "whole before its update) and --n-embd a multiple of 32; this run has %s "
                 "storage, --accum %d, --n-embd %d",
                 fg_train_storage_name(p->storage) ? fg_train_storage_name(p->storage) : "?",
                 p->accum, p->cfg.n_embd);
        return FG_ERR_INVALID_ARG;
    }
    if (p->lr_min > p->lr) {
        snprintf(errmsg, n, "--lr-min %g is above --lr %g: the schedule decays from lr to lr-min",
                 (double)p->lr_min, (double)p->lr);
        return FG_ERR_INVALID_ARG;
    }
    if ((rc = fg_model_config_check(&p->cfg, inner, sizeof inner)) != FG_OK ||
        (rc = fg_model_mx_check(&p->cfg, &p->mx, inner, sizeof inner)) != FG_OK) {
        snprintf(errmsg, n, "%s", inner);
        return rc;
    }
    if (p->T > (size_t)p->cfg.block_size) {
        snprintf(errmsg, n,
                 "sequence length %zu exceeds the model's block size %d: lower --seq "
                 "or raise --block-size",
                 p->T, p->cfg.block_size);
        return FG_ERR_INVALID_ARG;
    }
    return FG_OK;
}

static fg_status setup(struct run *r, struct fg_train_result *res, int64_t *start_step,
                       char *errmsg, size_t n)
{
    const struct fg_train_params *p = r->p;
    char inner[512];
    fg_status rc;
    if ((rc = fg_train_check_params(p, errmsg, n)) != FG_OK)
        return rc;
    if ((rc = fg_shard_open(&r->train, p->train_path, p->cfg.vocab_size, errmsg, n)) != FG_OK)
        return rc;
    if ((rc = fg_loader_init(&r->loader, &r->train, p->B, p->T, p->seed ^ 0x5EEDDA7AULL, inner,
                             sizeof inner)) != FG_OK) {
        snprintf(errmsg, n, "training data %s %s", p->train_path, inner);
        return rc;
    }
    if (p->val_path) {
        if ((rc = fg_shard_open(&r->val, p->val_path, p->cfg.vocab_size, errmsg, n)) != FG_OK)
            return rc;
        r->have_val = 1;
        if (r->val.n_tokens < p->B * p->T + 1) {
            snprintf(errmsg, n,
                     "validation data %s has %zu tokens; one batch of %zu x %zu needs "
                     "%zu",
                     p->val_path, r->val.n_tokens, p->B, p->T, p->B * p->T + 1);
            return FG_ERR_INVALID_ARG;
        }
    }
    struct fg_model_params mp = fg_model_params_default();
    mp.cfg = p->cfg;
    mp.B = p->B;
    mp.T = p->T;
    mp.training = 1;
    mp.n_threads = p->n_threads;
    mp.use_ref = p->use_ref;
    mp.mx = p->mx;
    mp.weights =
        p->storage == FG_TRAIN_STORAGE_FLASH ? FG_MODEL_WEIGHTS_BF16 : FG_MODEL_WEIGHTS_FP32;
    mp.grad_release = p->grad_release;
    mp.matmul = p->matmul;
    mp.attention = p->attention;
    mp.recompute = p->recompute;
    mp.allocator = p->allocator;
    if ((rc = fg_model_init(&r->model, &mp)) != FG_OK) {
        snprintf(errmsg, n, "cannot create the model (%s): out of memory or invalid shape",
                 fg_status_str(rc));
        return rc;
    }
    struct fg_model *m = r->model;
    r->prev_norm = NAN;
    if (p->grad_release)
        fg_model_set_release(m, release_step, r);
    /* the states the optimizer keeps: AdamW m and v, Lion m, SGD m unless momentum is 0 */
    struct fg_flash_hparams hp = train_flash_hparams(p, 1);
    int n_states = fg_flash_n_states(&hp), flash = p->storage == FG_TRAIN_STORAGE_FLASH;
    size_t nf = m->n_flat, groups = nf / FG_FLASH_GROUP;
    struct fg_train_ledger *lg = &res->ledger;
    memset(lg, 0, sizeof *lg);
    if (flash) {
        lg->master = nf * (p->master_bits == 32 ? 2 : 1);
        lg->state_m = n_states >= 1 ? nf : 0;
        lg->state_v = n_states >= 2 ? nf : 0;
        lg->scales = (size_t)(n_states >= 1) * groups * 2 + (size_t)(n_states >= 2) * groups * 2;
        r->rho = fg_alloc(&r->alloc, lg->master, 64);
        if (n_states >= 1) {
            r->mq = fg_alloc(&r->alloc, nf, 64);
            r->ms = fg_alloc(&r->alloc, groups * 2, 64);
        }
        if (n_states >= 2) {
            r->vq = fg_alloc(&r->alloc, nf, 64);
            r->vs = fg_alloc(&r->alloc, groups * 2, 64);
        }
    } else {
        lg->state_m = n_states >= 1 ? nf * sizeof(float) : 0;
        lg->state_v = n_states >= 2 ? nf * sizeof(float) : 0;
        r->m = n_states >= 1 ? fg_alloc(&r->alloc, lg->state_m, 64) : NULL;
        r->v = n_states >= 2 ? fg_alloc(&r->alloc, lg->state_v, 64) : NULL;
    }
    size_t optim_bytes = lg->master + lg->state_m + lg->state_v + lg->scales;
    r->partial = fg_alloc(&r->alloc, fg_optim_n_chunks(m->n_flat) * sizeof(double), 64);
    r->kept = fg_alloc(&r->alloc, (size_t)(p->keep < 1 ? 1 : p->keep) * sizeof(int64_t), 64);
    r->inputs = fg_alloc(&r->alloc, p->B * p->T * sizeof(int32_t), 64);
    r->targets = fg_alloc(&r->alloc, p->B * p->T * sizeof(int32_t), 64);
    int states_ok =
        flash ? r->rho && (n_states < 1 || (r->mq && r->ms)) && (n_states < 2 || (r->vq && r->vs))
              : (n_states < 1 || r->m) && (n_states < 2 || r->v);
    if (!states_ok || !r->partial || !r->inputs || !r->targets || !r->kept) {
        snprintf(errmsg, n, "out of memory allocating optimizer state (%zu bytes)", optim_bytes);
        return FG_ERR_NOMEM;
    }
    /* zero states: codes 0 with scale 0 decode as 0; rho 0 puts the master weight on the bf16
     * weight (so a flash run starts from the bf16-rounded initialization) */
    if (r->m)
        memset(r->m, 0, lg->state_m);
    if (r->v)
        memset(r->v, 0, lg->state_v);
    if (r->rho)
        memset(r->rho, 0, lg->master);
    if (r->mq) {
        memset(r->mq, 0, nf);
        memset(r->ms, 0, groups * 2);
    }
    if (r->vq) {
        memset(r->vq, 0, nf);
        memset(r->vs, 0, groups * 2);
    }
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        r->seg[id].offset = m->offset[id];
        r->seg[id].n = m->numel[id];
        r->seg[id].decay = fg_model_tensor_decays(id);
    }
    res->n_params = m->mem.n_params;
    res->optim_bytes = optim_bytes;
    res->mem = m->mem;
    lg->n_params = m->mem.n_params;
    lg->weights = m->mem.param_bytes;
    lg->grads = m->mem.grad_bytes;
    lg->decode = m->mem.decode_bytes;
    lg->activations = m->mem.act_bytes + m->mem.scratch_bytes + m->mem.mx_bytes;
    lg->products = m->mem.gemm_bytes;
    lg->bytes_per_param = (double)(lg->weights + lg->grads + optim_bytes) / (double)lg->n_params;
    res->flops_per_token = fg_model_flops_per_token(&p->cfg, p->T);
    res->hw_flops_per_token =
        res->flops_per_token + fg_model_recompute_flops_per_token(&p->cfg, p->T, p->recompute);
    if ((rc = fg_model_mx_ledger(&p->cfg, p->B, p->T, &p->mx, &res->mx_ledger)) != FG_OK) {
        snprintf(errmsg, n, "MX ledger: sizes overflow for batch %zu x %zu", p->B, p->T);
        return rc;
    }
    *start_step = 0;
    if (p->resume_path) {
        struct fg_ckpt_state st;
        struct fg_ckpt_extra x[6];
        size_t nx = optim_tensors(r, x);
        if ((rc = check_resume_optimizer(p, errmsg, n)) != FG_OK ||
            (rc = fg_ckpt_load_ex(p->resume_path, m, x, nx, &st, errmsg, n)) != FG_OK)
            return rc;
        if (st.data_crc != r->train.crc32c || st.data_tokens != r->train.n_tokens) {
            snprintf(errmsg, n,
                     "checkpoint %s was trained on different data (fingerprint "
                     "%08" PRIx32 ":%" PRIu64 ", %s has %08" PRIx32 ":%zu): pass the same --data "
                     "to resume",
                     p->resume_path, st.data_crc, st.data_tokens, p->train_path, r->train.crc32c,
                     r->train.n_tokens);
            return FG_ERR_INVALID_ARG;
        }
        if ((rc = check_resume_params(p, st.train_json, errmsg, n)) != FG_OK)
            return rc;
        memcpy(r->loader.rng.s, st.rng, sizeof st.rng);
        r->prev_norm = st.grad_norm;
        r->loader.n_batches = st.n_batches;
        *start_step = st.step;
        snprintf(res->last_ckpt, sizeof res->last_ckpt, "%s", p->resume_path);
        note_ckpt(r, p->resume_path, st.step);
    } else {
        fg_model_init_weights(m, p->seed);
    }
    if (p->ckpt_dir) {
        /* A checkpoint of a later step in the directory belongs to another run (or to this
         * run's abandoned future after a resume from an older one): writing would replace it
         * and --keep would then delete it. Refuse rather than lose it. */
        DIR *d = opendir(p->ckpt_dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            long long s;
            char tail[16];
            if (strlen(e->d_name) == 25 && sscanf(e->d_name, "ckpt_%8lld%12s", &s, tail) == 2 &&
                !strcmp(tail, ".safetensors") && s > *start_step) {
                snprintf(errmsg, n,
                         "checkpoint directory %s already holds %s, beyond this run's "
                         "start at step %" PRId64 ": it would be overwritten; choose another "
                         "--ckpt-dir or move that file",
                         p->ckpt_dir, e->d_name, *start_step);
                closedir(d);
                return FG_ERR_INVALID_ARG;
            }
        }
        if (d)
            closedir(d);
        /* Fail now, not after an hour of training, if checkpoints cannot be written. */
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/.frugal_write_test.%ld", p->ckpt_dir, (long)getpid());
        FILE *fp = fopen(probe, "wb");
        if (!fp) {
            char what[4300];
            snprintf(what, sizeof what,
                     "checkpoint directory %s is not writable (create it or "
                     "choose another --ckpt-dir)",
                     p->ckpt_dir);
            fg_errno_msg(errmsg, n, errno, what);
            return FG_ERR_IO;
        }
        fclose(fp);
        unlink(probe);
    }
    if (p->metrics_path && p->resume_path) {
        /* Keep the lines of steps up to the checkpoint's, drop those of the abandoned run
         * after it, so the file describes one trajectory (atomic rewrite). */
        void *buf = NULL;
        size_t len = 0;
        char ignore[256];
        if (fg_read_file(&r->alloc, p->metrics_path, &buf, &len, ignore, sizeof ignore) == FG_OK) {
            struct fg_atomic_file af;
            rc = fg_atomic_open(&af, p->metrics_path, errmsg, n);
            for (char *line = buf, *end; !rc && line < (char *)buf + len; line = end + 1) {
                end = memchr(line, '\n', (size_t)((char *)buf + len - line));
                if (!end)
                    end = (char *)buf + len;
                long long s = -1;
                if (sscanf(line, "{\"step\":%lld", &s) == 1 && s > *start_step)
                    continue;
                rc = fg_atomic_write(&af, line, (size_t)(end - line), errmsg, n);
                if (!rc && end < (char *)buf + len)
                    rc = fg_atomic_write(&af, "\n", 1, errmsg, n);
            }
            if (rc)
                fg_atomic_abort(&af);
            else
                rc = fg_atomic_commit(&af, errmsg, n);
            fg_free(&r->alloc, buf);
            if (rc)
                return rc;
        }
    }
    if (p->metrics_path) {
        r->metrics = fopen(p->metrics_path, p->resume_path ? "ab" : "wb");
        if (!r->metrics) {
            char what[4300];
            snprintf(what, sizeof what, "cannot open metrics file %s", p->metrics_path);
            fg_errno_msg(errmsg, n, errno, what);
            return FG_ERR_IO;
        }
    }
    fg_kernels_set_blas_threads(p->n_threads);
    return FG_OK;
}

static void teardown(struct run *r)
{
    fg_model_free(r->model);
    fg_free(&r->alloc, r->m);
    fg_free(&r->alloc, r->v);
    fg_free(&r->alloc, r->rho);
    fg_free(&r->alloc, r->mq);
    fg_free(&r->alloc, r->ms);
    fg_free(&r->alloc, r->vq);
    fg_free(&r->alloc, r->vs);
    fg_free(&r->alloc, r->partial);
    fg_free(&r->alloc, r->kept);
    fg_free(&r->alloc, r->inputs);
    fg_free(&r->alloc, r->targets);
    fg_shard_close(&r->train);
    if (r->have_val)
        fg_shard_close(&r->val);
    if (r->metrics)
        fclose(r->metrics);
}

/* The storage of elements [off, off + n) of the flat buffer, inside one tensor, for the flash
 * library's step: fp32 weights and states, or the flash storage's parts (off and n on whole
 * groups of 32 unless the range ends the tensor). */
static struct fg_flash_tensor flash_range(const struct run *r, size_t off, size_t n)
{
    struct fg_flash_tensor x;
    memset(&x, 0, sizeof x);
    struct fg_model *m = r->model;
    size_t go = off / FG_FLASH_GROUP;
    x.n = n;
    if (r->p->storage == FG_TRAIN_STORAGE_FLASH) {
        x.w16 = m->w16 + off;
        if (r->p->master_bits == 32)
            x.rho16 = (int16_t *)r->rho + off;
        else
            x.rho8 = (int8_t *)r->rho + off;
        x.mq = r->mq ? r->mq + off : NULL;
        x.ms = r->ms ? r->ms + go : NULL;
        x.vq = r->vq ? r->vq + off : NULL;
        x.vs = r->vs ? r->vs + go : NULL;
        x.scale_fmt = FG_FLASH_SCALE_BF16;
    } else {
        x.w32 = m->params + off;
        x.m32 = r->m ? r->m + off : NULL;
    }
    return x;
}

/* Gradient release: a slice's gradient is complete. Round it to bf16 as the gradient arena
 * would (so the update equals the one after backward bit for bit), add it to the norm, and
 * update that slice now. */
static fg_status release_step(void *user, int id, size_t off, float *g, size_t n)
{
    struct run *r = user;
    const struct fg_train_params *p = r->p;
    long n_chunks = (long)((n + 4095) / 4096);
    enum fg_num_path path = p->use_ref ? FG_NUM_PATH_REF : FG_NUM_PATH_AUTO;
#pragma omp parallel for schedule(static) \
    num_threads(p->n_threads) if (n_chunks > 1) default(none) shared(g, n, n_chunks, path)
    for (long c = 0; c < n_chunks; c++) {
        uint16_t h[4096];
        size_t i0 = (size_t)c * 4096, k = n - i0 < 4096 ? n - i0 : 4096;
        fg_fp32_to_bf16(h, g + i0, k, path);
        fg_bf16_to_fp32(g + i0, h, k, path);
    }
    double ss = fg_sumsq(g, n, r->partial, p->n_threads);
    r->rel_sumsq += ss;
    if (!isfinite(ss))
        return FG_ERR_NUMERIC; /* stop before a non-finite gradient reaches the weights */
    struct fg_flash_tensor x = flash_range(r, off, n);
    struct fg_flash_hparams hp = train_flash_hparams(p, r->seg[id].decay);
    return fg_flash_step(&x, g, NULL, r->rel_scale, r->rel_t, r->rel_lr, &hp, p->n_threads);
}

/* One optimizer step; returns the mean loss in *loss and the pre-clip norm in *norm. */
static fg_status train_step(struct run *r, int64_t step, float lr, double *loss, double *norm,
                            char *errmsg, size_t n)
{
    const struct fg_train_params *p = r->p;
    struct fg_model *m = r->model;
    if (p->grad_release) {
        /* the update happens inside backward; clip with the previous step's norm */
        r->rel_lr = lr;
        r->rel_t = step + 1;
        r->rel_sumsq = 0;
        r->rel_scale = 1.0f;
        if (p->grad_clip > 0 && r->prev_norm > (double)p->grad_clip)
            r->rel_scale = (float)((double)p->grad_clip / (r->prev_norm + 1e-6));
        fg_loader_next(&r->loader, r->inputs, r->targets);
        fg_status rc = fg_model_forward(m, r->inputs, r->targets, p->B, p->T);
        if (rc == FG_OK)
            rc = fg_model_backward(m, 1.0f);
        if (rc != FG_OK) {
            snprintf(errmsg, n, "step %" PRId64 ": %s", step + 1, fg_model_errmsg(m));
            return rc;
        }
        *loss = m->loss;
        if (p->inject_nan_step == step + 1)
            r->rel_sumsq = NAN; /* fault injection: a non-finite gradient */
        *norm = r->prev_norm = sqrt(r->rel_sumsq);
        if (!isfinite(*norm)) {
            snprintf(errmsg, n, "step %" PRId64 ": gradient norm is not finite", step + 1);
            return FG_ERR_NUMERIC;
        }
        return FG_OK;
    }
    /* gradients are zero here: from fg_model_init, then cleared by the fused AdamW sweep (fp32
     * AdamW) or fg_model_zero_grad (the others) */
    double sum = 0;
    for (int k = 0; k < p->accum; k++) {
        fg_loader_next(&r->loader, r->inputs, r->targets);
        fg_status rc = fg_model_forward(m, r->inputs, r->targets, p->B, p->T);
        if (rc == FG_OK)
            rc = fg_model_backward(m, 1.0f / (float)p->accum);
        if (rc != FG_OK) {
            snprintf(errmsg, n, "step %" PRId64 ": %s", step + 1, fg_model_errmsg(m));
            return rc;
        }
        sum += m->loss;
    }
    *loss = sum / p->accum;
    int flash = p->storage == FG_TRAIN_STORAGE_FLASH;
    if (p->inject_nan_step == step + 1) { /* fault injection: a non-finite gradient */
        if (flash)
            m->g16[0] = 0x7FC0; /* bf16 quiet NaN */
        else
            m->grads[0] = NAN;
    }
    *norm = r->prev_norm = sqrt(flash ? fg_sumsq_bf16(m->g16, m->n_flat, r->partial, p->n_threads)
                                      : fg_sumsq(m->grads, m->n_flat, r->partial, p->n_threads));
    if (!isfinite(*norm)) {
        snprintf(errmsg, n, "step %" PRId64 ": gradient norm is not finite", step + 1);
        return FG_ERR_NUMERIC;
    }
    float scale = 1.0f;
    if (p->grad_clip > 0 && *norm > (double)p->grad_clip)
        scale = (float)((double)p->grad_clip / (*norm + 1e-6));
    if (!flash && p->optimizer == FG_FLASH_ADAM) {
        fg_adamw_step_zero_grad(m->params, m->grads, r->m, r->v, r->seg, FG_MODEL_N_TENSORS,
                                step + 1, lr, scale, &p->adam, p->n_threads);
        return FG_OK;
    }
    /* the flash library's step, tensor by tensor: Lion and SGD on fp32 storage, every
     * optimizer on flash storage */
    for (int id = 0; id < FG_MODEL_N_TENSORS; id++) {
        size_t off = r->seg[id].offset;
        struct fg_flash_tensor x = flash_range(r, off, r->seg[id].n);
        struct fg_flash_hparams hp = train_flash_hparams(p, r->seg[id].decay);
        fg_status rc = fg_flash_step(&x, flash ? NULL : m->grads + off, flash ? m->g16 + off : NULL,
                                     scale, step + 1, lr, &hp, p->n_threads);
        if (rc) {
            snprintf(errmsg, n, "step %" PRId64 ": optimizer arguments rejected", step + 1);
            return FG_ERR_INTERNAL;
        }
    }
    fg_model_zero_grad(m);
    return FG_OK;
}

fg_status fg_train(const struct fg_train_params *p, struct fg_train_result *res, char *errmsg,
                   size_t n)
{
    struct run r;
    double wall0 = fg_time_now(), cpu0 = fg_cpu_seconds();
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    res->final_loss = res->final_val_loss = res->best_val_loss = NAN;
    res->mfu = res->grad_norm_mean = res->grad_norm_sd = res->grad_norm_max = NAN;
    res->peak_flops = p->peak_flops;
    res->price_per_hour = p->price_per_hour;
    r.p = p;
    r.alloc = p->allocator ? *p->allocator : fg_allocator_default();
    int64_t step = 0;
    fg_status rc = setup(&r, res, &step, errmsg, n);
    if (rc) {
        teardown(&r);
        return rc;
    }
    if (p->on_start)
        p->on_start(p->user, &res->ledger);
    int64_t stop = p->stop_at > 0 && p->stop_at < p->steps ? p->stop_at : p->steps;
    size_t tokens_per_step = p->B * p->T * (size_t)p->accum;
    double t_start = fg_time_now(), train_s = 0;
    /* the ledger: the loss's moving average (exponential, weight 0.1, over the steps that were
     * not spikes), and the gradient norm's running mean and spread (Welford) */
    double loss_ma = NAN, gn_mean = 0, gn_m2 = 0, gn_max = 0;
    int64_t gn_n = 0;
    while (step < stop) {
        float lr = fg_lr_cosine(step, p->warmup, p->steps, p->lr, p->lr_min);
        double loss = NAN, norm = NAN, t0 = fg_time_now();
        rc = train_step(&r, step, lr, &loss, &norm, errmsg, n);
        double dt = fg_time_now() - t0;
        if (rc == FG_ERR_NUMERIC) {
            res->nonfinite_events++;
            char tail[8400];
            const char *good = last_good_ckpt(&r, step);
            if (good)
                snprintf(tail, sizeof tail,
                         "; training stopped: resume from the last good checkpoint %s with a "
                         "lower --lr or --grad-clip, into a new --ckpt-dir",
                         good);
            else if (r.ckpt_path[0][0])
                snprintf(tail, sizeof tail,
                         "; training stopped: no checkpoint from before the divergence remains "
                         "(%s holds the diverged weights); restart with a lower --lr or "
                         "--grad-clip%s",
                         r.ckpt_path[0], p->keep < 2 ? " and --keep 2 or more" : "");
            else
                snprintf(tail, sizeof tail,
                         "; training stopped: restart with a lower --lr or "
                         "--grad-clip");
            /* good points into r.ckpt_path, an array of the same size as last_ckpt */
            if (good)
                memcpy(res->last_ckpt, good, sizeof res->last_ckpt);
            else
                res->last_ckpt[0] = '\0';
            size_t len = strlen(errmsg);
            snprintf(errmsg + len, n - len, "%s", tail);
        }
        if (rc)
            break;
        if (p->inject_spike_step > 0 && step + 1 >= p->inject_spike_step)
            loss *= 10.0; /* fault injection: the loss reported spikes */
        step++;
        train_s += dt;
        res->steps_done++;
        res->tokens += tokens_per_step;
        res->final_loss = loss;
        struct fg_train_progress pr;
        memset(&pr, 0, sizeof pr);
        pr.step = step;
        pr.steps = p->steps;
        pr.stop = stop;
        pr.loss = loss;
        pr.val_loss = NAN;
        pr.lr = lr;
        pr.grad_norm = norm;
        pr.tokens_per_s = (double)tokens_per_step / dt;
        pr.ms_per_step = dt * 1e3;
        pr.elapsed_s = fg_time_now() - t_start;
        pr.cpu_s = fg_cpu_seconds() - cpu0;
        pr.mfu = p->peak_flops > 0 ? res->flops_per_token * pr.tokens_per_s / p->peak_flops
                                   : (double)NAN;
        pr.dollars = (fg_time_now() - wall0) / 3600.0 * p->price_per_hour;
        pr.loss_ma = loss_ma;
        pr.spike = !isnan(loss_ma) && loss > 2.0 * loss_ma;
        if (pr.spike)
            res->loss_spikes++;
        else
            loss_ma = isnan(loss_ma) ? loss : 0.9 * loss_ma + 0.1 * loss;
        gn_n++;
        double gd = norm - gn_mean;
        gn_mean += gd / (double)gn_n;
        gn_m2 += gd * (norm - gn_mean);
        if (norm > gn_max)
            gn_max = norm;
        int stop_now = p->stop_request && *p->stop_request;
        res->interrupted = stop_now && step != stop;
        int last =
            step == stop || stop_now || (p->time_budget_s > 0 && pr.elapsed_s >= p->time_budget_s);
        if (r.have_val && ((p->eval_every > 0 && step % p->eval_every == 0) || last)) {
            double vl;
            rc = fg_eval_shard(r.model, &r.val, p->B, p->T, p->eval_batches, r.inputs, r.targets,
                               &vl, NULL);
            if (rc) {
                snprintf(errmsg, n, "evaluation at step %" PRId64 ": %s", step,
                         fg_model_errmsg(r.model));
                break;
            }
            pr.val_loss = vl;
            res->final_val_loss = vl;
            if (!(vl >= res->best_val_loss))
                res->best_val_loss = vl;
        }
        if (r.metrics) {
            fprintf(r.metrics,
                    "{\"step\":%" PRId64 ",\"loss\":%.6f,\"lr\":%.6g,\"grad_norm\":%.6g,"
                    "\"tokens_per_s\":%.1f,\"ms_per_step\":%.3f,\"tokens\":%" PRIu64
                    ",\"elapsed_s\":%.3f,\"cpu_s\":%.3f,\"dollars\":%.6g,\"spike\":%d",
                    step, loss, (double)lr, norm, pr.tokens_per_s, pr.ms_per_step,
                    (uint64_t)step * (uint64_t)tokens_per_step, pr.elapsed_s, pr.cpu_s, pr.dollars,
                    pr.spike);
            if (!isnan(pr.loss_ma))
                fprintf(r.metrics, ",\"loss_ma\":%.6f", pr.loss_ma);
            if (!isnan(pr.mfu))
                fprintf(r.metrics, ",\"mfu\":%.4f", pr.mfu);
            if (!isnan(pr.val_loss))
                fprintf(r.metrics, ",\"val_loss\":%.6f", pr.val_loss);
            fprintf(r.metrics, "}\n");
            fflush(r.metrics);
        }
        if (p->on_progress)
            p->on_progress(p->user, &pr);
        if (p->ckpt_dir && ((p->ckpt_every > 0 && step % p->ckpt_every == 0) || last)) {
            if ((rc = save_ckpt(&r, step, res, errmsg, n)) != FG_OK)
                break;
        }
        if (last)
            break;
    }
    res->seconds = train_s;
    res->tokens_per_s = train_s > 0 ? (double)res->tokens / train_s : 0;
    res->peak_rss_bytes = fg_peak_rss_bytes();
    if (p->peak_flops > 0 && train_s > 0)
        res->mfu = res->flops_per_token * res->tokens_per_s / p->peak_flops;
    if (gn_n > 0) {
        res->grad_norm_mean = gn_mean;
        res->grad_norm_sd = gn_n > 1 ? sqrt(gn_m2 / (double)(gn_n - 1)) : 0.0;
        res->grad_norm_max = gn_max;
    }
    teardown(&r);
    res->wall_seconds = fg_time_now() - wall0;
    res->cpu_seconds = fg_cpu_seconds() - cpu0;
    res->dollars = res->wall_seconds / 3600.0 * p->price_per_hour;
    return rc;
}
