/* frugal train: flags -> struct fg_train_params -> fg_train, with a progress line on stderr and
 * a final summary (or one JSON object with --json). */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "frugal/kernels.h"
#include "frugal/train.h"

struct progress_ctx {
    int tty, quiet;
    int64_t last_line_step;
    double time_budget;
};

static void fmt_eta(char *buf, size_t n, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

static void on_progress(void *user, const struct fg_train_progress *p)
{
    struct progress_ctx *c = user;
    if (c->quiet)
        return;
    double eta = (double)(p->stop - p->step) * p->ms_per_step / 1e3;
    if (c->time_budget > 0 && c->time_budget - p->elapsed_s < eta)
        eta = c->time_budget - p->elapsed_s;
    char etas[32], val[32] = "";
    fmt_eta(etas, sizeof etas, eta);
    if (!isnan(p->val_loss))
        snprintf(val, sizeof val, " | val %.4f", p->val_loss);
    char line[256];
    snprintf(line, sizeof line,
             "step %" PRId64 "/%" PRId64 " | loss %.4f%s | lr %.2e | %.0f tok/s | %.0f ms/step | "
             "eta %s",
             p->step, p->steps, p->loss, val, p->lr, p->tokens_per_s, p->ms_per_step, etas);
    if (c->tty) {
        /* one line rewritten in place; evaluation lines stay on screen */
        fprintf(stderr, "\r\033[K%s%s", line, isnan(p->val_loss) ? "" : "\n");
        fflush(stderr);
    } else if (!isnan(p->val_loss) || p->step == 1 || p->step - c->last_line_step >= 50) {
        fprintf(stderr, "%s\n", line);
        c->last_line_step = p->step;
    }
}

/* On --resume, every trajectory-shaping flag the user did not give takes the checkpoint's
 * value, so `frugal train --data D --resume C` continues exactly; flags that are given and
 * differ are allowed and reported by fg_train as one note line (through on_log). */
static int resume_defaults(struct fg_train_params *p, const struct opt *o, size_t n_o)
{
    char js[1024], err[1024];
    if (fg_ckpt_read_meta(p->resume_path, "train", js, sizeof js, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal train: %s\n", err);
        return EXIT_FAIL;
    }
    cJSON *j = cJSON_Parse(js);
    if (!j) {
        fprintf(stderr, "frugal train: %s has unreadable \"train\" metadata\n", p->resume_path);
        return EXIT_FAIL;
    }

    const struct {
        const char *key, *flag;
        enum opt_type type;
        void *dst;
    } map[] = {
        { "B", "--batch", OPT_SIZE, &p->B },
        { "T", "--seq", OPT_SIZE, &p->T },
        { "accum", "--accum", OPT_INT, &p->accum },
        { "steps", "--steps", OPT_I64, &p->steps },
        { "lr", "--lr", OPT_FLOAT, &p->lr },
        { "lr_min", "--lr-min", OPT_FLOAT, &p->lr_min },
        { "warmup", "--warmup", OPT_I64, &p->warmup },
        { "grad_clip", "--grad-clip", OPT_FLOAT, &p->grad_clip },
        { "beta1", "--beta1", OPT_FLOAT, &p->adam.beta1 },
        { "beta2", "--beta2", OPT_FLOAT, &p->adam.beta2 },
        { "eps", NULL, OPT_FLOAT, &p->adam.eps },
        { "weight_decay", "--weight-decay", OPT_FLOAT, &p->adam.weight_decay },
        { "seed", "--seed", OPT_U64, &p->seed },
        { "momentum", "--momentum", OPT_FLOAT, &p->momentum },
        { "nesterov", "--nesterov", OPT_INT, &p->nesterov },
        { "grad_release", "--grad-release", OPT_INT, &p->grad_release },
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, map[i].key);
        if (!cJSON_IsNumber(v) || (map[i].flag && cli_find(o, n_o, map[i].flag)->seen))
            continue;
        double d = v->valuedouble;
        /* stored values are checked before they are converted (a crafted file is not UB) */
        int is_int = map[i].type != OPT_FLOAT;
        if (!isfinite(d) || (is_int && (d < 0 || d > 9007199254740992.0 || d != floor(d))) ||
            (map[i].type == OPT_INT && d > 2147483647.0)) {
            fprintf(stderr, "frugal train: %s has an invalid \"%s\" in its train metadata\n",
                    p->resume_path, map[i].key);
            cJSON_Delete(j);
            return EXIT_FAIL;
        }
        switch (map[i].type) {
        case OPT_SIZE:
            *(size_t *)map[i].dst = (size_t)d;
            break;
        case OPT_INT:
            *(int *)map[i].dst = (int)d;
            break;
        case OPT_I64:
            *(int64_t *)map[i].dst = (int64_t)d;
            break;
        case OPT_U64:
            *(uint64_t *)map[i].dst = (uint64_t)d;
            break;
        case OPT_FLOAT:
            *(float *)map[i].dst = (float)d;
            break;
        default:
            break;
        }
    }

    /* the MX settings (names; absent in checkpoints older than them, which means none) */
    const struct {
        const char *key, *flag;
        int *dst;
    } mx[] = {
        { "mx_weights", "--mx-weights", &p->mx.weights },
        { "mx_activations", "--mx-activations", &p->mx.activations },
        { "mx_grads", "--mx-grads", &p->mx.grads },
        { "mx_scale", "--mx-scale", NULL },
    };

    for (size_t i = 0; i < sizeof mx / sizeof mx[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, mx[i].key);
        if (!cJSON_IsString(v) || cli_find(o, n_o, mx[i].flag)->seen)
            continue;
        enum fg_mx_scale_rule rule;
        fg_status st = mx[i].dst ? fg_model_mx_parse(v->valuestring, mx[i].dst, NULL, 0)
                                 : fg_mx_scale_rule_from_name(v->valuestring, &rule, NULL, 0);
        if (st != FG_OK) {
            fprintf(stderr, "frugal train: %s has an invalid \"%s\" in its train metadata\n",
                    p->resume_path, mx[i].key);
            cJSON_Delete(j);
            return EXIT_FAIL;
        }
        if (!mx[i].dst)
            p->mx.scale_rule = rule;
    }
    /* the optimizer's storage (absent in checkpoints older than the choice: fp32) */
    const cJSON *sv = cJSON_GetObjectItemCaseSensitive(j, "storage");
    const cJSON *bv = cJSON_GetObjectItemCaseSensitive(j, "master_bits");
    if (!cli_find(o, n_o, "--optim-storage")->seen &&
        fg_train_storage_parse(cJSON_IsString(sv) ? sv->valuestring : "fp32", &p->storage) !=
            FG_OK) {
        fprintf(stderr, "frugal train: %s has an invalid \"storage\" in its train metadata\n",
                p->resume_path);
        cJSON_Delete(j);
        return EXIT_FAIL;
    }
    if (!cli_find(o, n_o, "--master-bits")->seen && cJSON_IsNumber(bv) &&
        (bv->valuedouble == 24 || bv->valuedouble == 32))
        p->master_bits = (int)bv->valuedouble;
    /* the products' dtype (absent in checkpoints older than the choice: fp32) */
    const cJSON *dv = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (!cli_find(o, n_o, "--dtype")->seen &&
        fg_train_dtype_parse(cJSON_IsString(dv) ? dv->valuestring : "fp32", &p->matmul) != FG_OK) {
        fprintf(stderr, "frugal train: %s has an invalid \"dtype\" in its train metadata\n",
                p->resume_path);
        cJSON_Delete(j);
        return EXIT_FAIL;
    }
    /* the attention kernel (absent in checkpoints older than the choice: standard) */
    const cJSON *av = cJSON_GetObjectItemCaseSensitive(j, "attention");
    if (!cli_find(o, n_o, "--attention")->seen &&
        fg_train_attention_parse(cJSON_IsString(av) ? av->valuestring : "standard",
                                 &p->attention) != FG_OK) {
        fprintf(stderr, "frugal train: %s has an invalid \"attention\" in its train metadata\n",
                p->resume_path);
        cJSON_Delete(j);
        return EXIT_FAIL;
    }
    /* the optimizer (absent in checkpoints older than the choice: AdamW) */
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(j, "optimizer");
    if (!cli_find(o, n_o, "--optimizer")->seen &&
        fg_train_optimizer_parse(cJSON_IsString(ov) ? ov->valuestring : "adamw", &p->optimizer) !=
            FG_OK) {
        fprintf(stderr, "frugal train: %s has an invalid \"optimizer\" in its train metadata\n",
                p->resume_path);
        cJSON_Delete(j);
        return EXIT_FAIL;
    }
    cJSON_Delete(j);
    /* a lower --lr than the stored final rate: let the schedule end at the new lr */
    if (cli_find(o, n_o, "--lr")->seen && !cli_find(o, n_o, "--lr-min")->seen && p->lr_min > p->lr)
        p->lr_min = p->lr;
    return 0;
}

/* Ctrl-C / SIGTERM: ask the trainer to stop after the current step with a checkpoint; a
 * second signal kills the process as usual. */
static volatile int g_stop_request; /* the signal number that asked to stop, or 0 */

static void on_signal(int sig)
{
    g_stop_request = sig;
    signal(sig, SIG_DFL);
}

static void on_log(void *user, const char *msg)
{
    (void)user;
    fprintf(stderr, "frugal train: note: %s\n", msg);
}

/* The --mx-* flags into p->mx: one line naming the flag and exit 2 for a bad name. */
static int parse_mx(struct fg_train_params *p, const char *w, const char *a, const char *g,
                    const char *scale)
{
    const struct {
        const char *flag, *val;
        int *dst;
    } f[] = {
        { "--mx-weights", w, &p->mx.weights },
        { "--mx-activations", a, &p->mx.activations },
        { "--mx-grads", g, &p->mx.grads },
    };

    char err[256];
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].val && fg_model_mx_parse(f[i].val, f[i].dst, err, sizeof err) != FG_OK) {
            fprintf(stderr,
                    "frugal train: invalid value '%s' for %s: %s (see frugal train --help)\n",
                    f[i].val, f[i].flag, err);
            return EXIT_USAGE;
        }
    if (scale && fg_mx_scale_rule_from_name(scale, &p->mx.scale_rule, err, sizeof err) != FG_OK) {
        fprintf(stderr,
                "frugal train: invalid value '%s' for --mx-scale: %s (see frugal train "
                "--help)\n",
                scale, err);
        return EXIT_USAGE;
    }
    return 0;
}

static const char *const scale_names[] = { "floor", "ceil", "rceil" };

/* "12.3 MiB", "512 KiB", "96 B": three significant digits at most, binary units */
static void fmt_bytes(char *buf, size_t n, size_t bytes)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    double x = (double)bytes;
    int u = 0;
    while (x >= 1024.0 && u < 4) {
        x /= 1024.0;
        u++;
    }
    snprintf(buf, n,
             u == 0    ? "%.0f %s"
             : x < 10  ? "%.2f %s"
             : x < 100 ? "%.1f %s"
                       : "%.0f %s",
             x, unit[u]);
}

/* Memory by component, once everything is allocated (the trainer's counts). */
static void on_start(void *user, const struct fg_train_ledger *g)
{
    const struct progress_ctx *c = user;
    if (c->quiet)
        return;
    char w[32], ma[32], gr[32], sm[32], sv[32], sc[32], de[32], ac[32], pr[64] = "";
    fmt_bytes(w, sizeof w, g->weights);
    fmt_bytes(ma, sizeof ma, g->master);
    fmt_bytes(gr, sizeof gr, g->grads);
    fmt_bytes(sm, sizeof sm, g->state_m);
    fmt_bytes(sv, sizeof sv, g->state_v);
    fmt_bytes(sc, sizeof sc, g->scales);
    fmt_bytes(de, sizeof de, g->decode);
    fmt_bytes(ac, sizeof ac, g->activations);
    if (g->products) {
        char b[32];
        fmt_bytes(b, sizeof b, g->products);
        snprintf(pr, sizeof pr, ", bf16 product panels %s", b);
    }
    fprintf(stderr,
            "frugal train: memory: weights %s, master correction %s, gradients %s, optimizer "
            "states %s + %s, scales %s: %.3f bytes/param over %.2fM parameters; working memory: "
            "bf16 decode %s, activations %s%s\n",
            w, ma, gr, sm, sv, sc, g->bytes_per_param, (double)g->n_params / 1e6, de, ac, pr);
}

static void json_ledger(cJSON *j, const struct fg_train_ledger *g)
{
    cJSON *x = cJSON_AddObjectToObject(j, "memory");
    if (!x)
        return;
    cJSON_AddNumberToObject(x, "weights", (double)g->weights);
    cJSON_AddNumberToObject(x, "master", (double)g->master);
    cJSON_AddNumberToObject(x, "grads", (double)g->grads);
    cJSON_AddNumberToObject(x, "state_m", (double)g->state_m);
    cJSON_AddNumberToObject(x, "state_v", (double)g->state_v);
    cJSON_AddNumberToObject(x, "products", (double)g->products);
    cJSON_AddNumberToObject(x, "scales", (double)g->scales);
    cJSON_AddNumberToObject(x, "decode", (double)g->decode);
    cJSON_AddNumberToObject(x, "activations", (double)g->activations);
    cJSON_AddNumberToObject(x, "bytes_per_param", g->bytes_per_param);
}

/* The run's cost: FLOPs, time, MFU, dollars, and what went wrong (docs/formats.md) */
static void json_cost(cJSON *j, const struct fg_train_params *p, const struct fg_train_result *r,
                      const char *peak_unit)
{
    cJSON *x = cJSON_AddObjectToObject(j, "ledger");
    if (!x)
        return;
    double tokens_per_step = (double)(p->B * p->T * (size_t)p->accum);
    cJSON_AddNumberToObject(x, "flops_per_step", r->flops_per_token * tokens_per_step);
    cJSON_AddNumberToObject(x, "hw_flops_per_step", r->hw_flops_per_token * tokens_per_step);
    cJSON_AddNumberToObject(x, "flops", r->flops_per_token * (double)r->tokens);
    cJSON_AddNumberToObject(x, "wall_seconds", r->wall_seconds);
    cJSON_AddNumberToObject(x, "train_seconds", r->seconds);
    cJSON_AddNumberToObject(x, "cpu_seconds", r->cpu_seconds);
    cJSON_AddNumberToObject(x, "peak_flops", r->peak_flops);
    if (peak_unit)
        cJSON_AddStringToObject(x, "peak_unit", peak_unit);
    else
        cJSON_AddNullToObject(x, "peak_unit"); /* given with --peak-flops */
    cJSON_AddNumberToObject(x, "mfu", r->mfu); /* NaN: cJSON writes null */
    cJSON_AddNumberToObject(x, "price_per_hour", r->price_per_hour);
    cJSON_AddNumberToObject(x, "dollars", r->dollars);
    cJSON_AddNumberToObject(x, "nonfinite_events", (double)r->nonfinite_events);
    cJSON_AddNumberToObject(x, "loss_spikes", (double)r->loss_spikes);
    cJSON *g = cJSON_AddObjectToObject(x, "grad_norm");
    if (g) {
        cJSON_AddNumberToObject(g, "mean", r->grad_norm_mean);
        cJSON_AddNumberToObject(g, "sd", r->grad_norm_sd);
        cJSON_AddNumberToObject(g, "max", r->grad_norm_max);
    }
}

/* The MX settings and ledger, before training: what the emulated formats would store and move
 * (fg_model_mx_ledger), and a reminder that the products still run in fp32. */
static void print_mx_ledger(const struct fg_train_params *p)
{
    struct fg_model_mx_ledger g;
    if (fg_model_mx_ledger(&p->cfg, p->B, p->T, &p->mx, &g) != FG_OK)
        return; /* fg_train reports the bad setting */
    const double mib = 1048576.0, acc = (double)p->accum;
    fprintf(stderr,
            "frugal train: MX emulation: weights %s, activations %s, grads %s, scale %s; each "
            "operand is quantized and dequantized, the products still run as fp32 sgemm (no "
            "speed gain on this CPU)\n",
            fg_model_mx_name(p->mx.weights), fg_model_mx_name(p->mx.activations),
            fg_model_mx_name(p->mx.grads), scale_names[p->mx.scale_rule]);
    fprintf(stderr,
            "frugal train: MX ledger (block linear layers, fp32 -> MX): weights %.2f -> %.2f "
            "MiB; inputs saved for backward %.2f -> %.2f MiB per micro-batch; operand bytes read "
            "by the products %.1f -> %.1f MiB per step\n",
            (double)g.weight_fp32 / mib, (double)g.weight_mx / mib, (double)g.act_fp32 / mib,
            (double)g.act_mx / mib, acc * (double)g.moved_fp32 / mib,
            acc * (double)g.moved_mx / mib);
}

static void json_mx(cJSON *j, const struct fg_train_params *p, const struct fg_train_result *r)
{
    cJSON *x = cJSON_AddObjectToObject(j, "mx");
    if (!x)
        return;
    const struct fg_model_mx_ledger *g = &r->mx_ledger;
    double acc = (double)p->accum;
    cJSON_AddStringToObject(x, "weights", fg_model_mx_name(p->mx.weights));
    cJSON_AddStringToObject(x, "activations", fg_model_mx_name(p->mx.activations));
    cJSON_AddStringToObject(x, "grads", fg_model_mx_name(p->mx.grads));
    cJSON_AddStringToObject(x, "scale", scale_names[p->mx.scale_rule]);
    cJSON_AddStringToObject(x, "compute", "fp32");
    cJSON_AddNumberToObject(x, "weight_bytes_fp32", (double)g->weight_fp32);
    cJSON_AddNumberToObject(x, "weight_bytes_mx", (double)g->weight_mx);
    cJSON_AddNumberToObject(x, "act_bytes_fp32", (double)g->act_fp32);
    cJSON_AddNumberToObject(x, "act_bytes_mx", (double)g->act_mx);
    cJSON_AddNumberToObject(x, "moved_bytes_per_step_fp32", acc * (double)g->moved_fp32);
    cJSON_AddNumberToObject(x, "moved_bytes_per_step_mx", acc * (double)g->moved_mx);
    cJSON_AddNumberToObject(x, "scratch_bytes", (double)r->mem.mx_bytes);
}

int cmd_train(int argc, char **argv)
{
    struct fg_train_params p = fg_train_params_default();
    p.n_threads = fg_cpu_count();
    int json = 0, quiet = 0, check = 0;
    const char *mx_w = NULL, *mx_a = NULL, *mx_g = NULL, *mx_scale = NULL, *optim = NULL;
    const char *storage = NULL, *dtype = NULL, *attention = NULL, *recompute = NULL;
    const char *inject = NULL;
    int no_release = 0;
    struct opt o[] = {
        { "--data", OPT_STR, &p.train_path, "FILE",
          "training token shard (llm.c layout; make one "
          "with frugal prepare) [required]",
          0, 0, 0, 0 },
        { "--val", OPT_STR, &p.val_path, "FILE", "validation token shard", 0, 0, 0, 0 },
        { "--n-layer", OPT_INT, &p.cfg.n_layer, "N", "transformer blocks [4]", 1, 0, 0, 0 },
        { "--n-head", OPT_INT, &p.cfg.n_head, "N", "attention heads; divides --n-embd [4]", 1, 0, 0,
          0 },
        { "--n-embd", OPT_INT, &p.cfg.n_embd, "N", "model width [128]", 1, 0, 0, 0 },
        { "--block-size", OPT_INT, &p.cfg.block_size, "N", "positions the model knows [128]", 1, 0,
          0, 0 },
        { "--vocab-size", OPT_INT, &p.cfg.vocab_size, "N", "vocabulary; 256 = bytes [256]", 2, 0, 0,
          0 },
        { "--batch", OPT_SIZE, &p.B, "B", "sequences per micro-batch [16]", 1, 0, 0, 0 },
        { "--seq", OPT_SIZE, &p.T, "T", "tokens per sequence, <= block size [128]", 1, 0, 0, 0 },
        { "--accum", OPT_INT, &p.accum, "K", "micro-batches per optimizer step [1]", 1, 0, 0, 0 },
        { "--steps", OPT_I64, &p.steps, "N", "optimizer steps; sets the schedule length [1000]", 1,
          0, 0, 0 },
        { "--stop-at", OPT_I64, &p.stop_at, "N",
          "stop after step N, schedule unchanged (resume "
          "later) [off]",
          1, 0, 0, 0 },
        { "--time-budget", OPT_DOUBLE, &p.time_budget_s, "SEC",
          "stop after SEC seconds of wall "
          "time (training and evaluation) [off]",
          0, 1, 0, 0 },
        { "--lr", OPT_FLOAT, &p.lr, "X", "peak learning rate [1e-3]", 0, 1, 0, 0 },
        { "--lr-min", OPT_FLOAT, &p.lr_min, "X", "final learning rate of the cosine [1e-4]", 0, 0,
          0, 0 },
        { "--warmup", OPT_I64, &p.warmup, "N", "linear warmup steps [50]", 0, 0, 0, 0 },
        { "--grad-clip", OPT_FLOAT, &p.grad_clip, "X", "max global gradient norm, 0 = off [1.0]", 0,
          0, 0, 0 },
        { "--weight-decay", OPT_FLOAT, &p.adam.weight_decay, "X",
          "AdamW decay on matrices and "
          "embeddings [0.1]",
          0, 0, 0, 0 },
        { "--optimizer", OPT_STR, &optim, "NAME", "adamw, lion or sgd [adamw]", 0, 0, 0, 0 },
        { "--beta1", OPT_FLOAT, &p.adam.beta1, "X",
          "AdamW beta1; Lion: the update's interpolation, in [0, 1) [0.9]", 0, 0, 0, 1 },
        { "--beta2", OPT_FLOAT, &p.adam.beta2, "X",
          "AdamW beta2 [0.95]; Lion: the momentum's decay [0.99]; in [0, 1)", 0, 0, 0, 1 },
        { "--momentum", OPT_FLOAT, &p.momentum, "X", "SGD momentum, in [0, 1) [0.9]", 0, 0, 0, 1 },
        { "--nesterov", OPT_FLAG, &p.nesterov, NULL, "SGD: Nesterov momentum", 0, 0, 0, 0 },
        { "--optim-storage", OPT_STR, &storage, "S",
          "fp32 or flash: bf16 weights + correction, bf16 grads, 8-bit states [fp32]", 0, 0, 0, 0 },
        { "--master-bits", OPT_INT, &p.master_bits, "N",
          "flash master weight: 24 (int8 correction) or 32 (int16) [24]", 0, 0, 0, 0 },
        { "--grad-release", OPT_FLAG, &p.grad_release, NULL,
          "flash: update each block inside backward, no gradient buffer (see above)", 0, 0, 0, 0 },
        { "--no-grad-release", OPT_FLAG, &no_release, NULL,
          "resume a --grad-release checkpoint without release", 0, 0, 0, 0 },
        { "--dtype", OPT_STR, &dtype, "D",
          "products of the linear layers and LM head: fp32, or bf16 operands with fp32 sums "
          "[fp32]",
          0, 0, 0, 0 },
        { "--attention", OPT_STR, &attention, "K",
          "standard; tiled: no T x T probabilities kept (memory grows with T, not T^2); auto: "
          "tiled from --seq 2048, standard below; a resumed run keeps its checkpoint's [auto]",
          0, 0, 0, 0 },
        { "--recompute", OPT_STR, &recompute, "R",
          "activations backward recomputes instead of keeping: none, attn or block [none]", 0, 0, 0,
          0 },
        { "--eval-every", OPT_I64, &p.eval_every, "N",
          "validate every N steps, 0 = at the end "
          "[100]",
          0, 0, 0, 0 },
        { "--eval-batches", OPT_INT, &p.eval_batches, "N",
          "validation batches per evaluation "
          "[20]",
          1, 0, 0, 0 },
        { "--seed", OPT_U64, &p.seed, "N", "seed for weights and batches [1337]", 0, 0, 0, 0 },
        { "--threads", OPT_INT, &p.n_threads, "N", "threads [all cores]", 1, 0, 0, 0 },
        { "--ckpt-dir", OPT_STR, &p.ckpt_dir, "DIR", "write checkpoints here (must exist) [off]", 0,
          0, 0, 0 },
        { "--ckpt-every", OPT_I64, &p.ckpt_every, "N",
          "checkpoint every N steps, 0 = at the end "
          "[0]",
          0, 0, 0, 0 },
        { "--keep", OPT_INT, &p.keep, "N", "newest checkpoints to keep [2]", 1, 0, 0, 0 },
        { "--resume", OPT_STR, &p.resume_path, "FILE",
          "continue from this checkpoint (model "
          "config comes from it)",
          0, 0, 0, 0 },
        { "--metrics", OPT_STR, &p.metrics_path, "FILE", "write JSON Lines metrics, one per step",
          0, 0, 0, 0 },
        { "--mx-weights", OPT_STR, &mx_w, "FMT",
          "MX format of the linear layers' weights (forward, dX) [none]", 0, 0, 0, 0 },
        { "--mx-activations", OPT_STR, &mx_a, "FMT",
          "MX format of their inputs (forward, dW) [none]", 0, 0, 0, 0 },
        { "--mx-grads", OPT_STR, &mx_g, "FMT",
          "MX format of their output gradients (dX, dW) [none]", 0, 0, 0, 0 },
        { "--mx-scale", OPT_STR, &mx_scale, "RULE",
          "MX block scale: floor (OCP spec), ceil, rceil (NVIDIA) [floor]", 0, 0, 0, 0 },
        { "--peak-flops", OPT_DOUBLE, &p.peak_flops, "F",
          "peak FLOP/s the MFU is measured against (--dtype bf16: the bf16 unit's, AMX or "
          "VDPBF16PS); 0 = no MFU [measured once per machine, cached]",
          0, 0, 0, 0 },
        { "--price-per-hour", OPT_DOUBLE, &p.price_per_hour, "X",
          "dollars per hour of this machine, for the ledger's cost [0.10264: AWS c7a.large]", 0, 0,
          0, 0 },
        { "--inject", OPT_STR, &inject, "F@N", NULL, 0, 0, 0, 0 },
        { "--check", OPT_FLAG, &check, NULL,
          "check the flags and exit (0 when a run with them would start)", 0, 0, 0, 0 },
        { "--json", OPT_FLAG, &json, NULL, "print one JSON summary object on stdout", 0, 0, 0, 0 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress output", 0, 0, 0, 0 },
    };
    size_t n_o = sizeof o / sizeof o[0];
    const char *pos[1];
    int n_pos;
    int rc =
        cli_parse(argc, argv, 2, o, n_o, "train", "--data FILE [options]",
                  "Train a GPT-2-architecture model with AdamW (warmup + cosine schedule,\n"
                  "global-norm clipping, gradient accumulation) and write checkpoints.\n"
                  "Same --seed and --threads give the same bits; --resume continues exactly.\n"
                  "\n"
                  "--optimizer lion or sgd trains with Lion (sign of an interpolated momentum;\n"
                  "use a 3-10x lower --lr than AdamW's) or SGD with momentum (--nesterov\n"
                  "optional); weight decay is decoupled, on matrices and embeddings, for all.\n"
                  "\n"
                  "--optim-storage flash keeps what the optimizer needs in fewer bytes\n"
                  "(FlashOptim): bf16 weights, the values forward and backward compute with,\n"
                  "plus an int8 correction that makes a 24-bit master weight (--master-bits 32:\n"
                  "int16); bf16 gradients; momentum and second moment as 8-bit codes in groups\n"
                  "of 32 with one bf16 scale each. AdamW: 16 -> 7.125 bytes/param; Lion and\n"
                  "SGD: 12 -> 6.06. The breakdown is printed at start and is in --json (memory).\n"
                  "Pair it with --dtype bf16, whose products read the bf16 weights in place:\n"
                  "fp32 products need each block's weights decoded to fp32 in forward and\n"
                  "again in backward (config M on an AMX Xeon: flash + bf16 within 2% of fp32\n"
                  "storage + bf16 a step; flash + fp32 products about 16% slower).\n"
                  "A checkpoint keeps its storage: resume with the same one.\n"
                  "--grad-release (with flash) updates each block's weights inside the backward\n"
                  "pass as soon as its gradients are complete, so no gradient buffer exists\n"
                  "(AdamW 5.125 bytes/param). It rules out --accum above 1 and needs --n-embd\n"
                  "a multiple of 32; --grad-clip then clips with the previous step's norm (the\n"
                  "current one is known only after the updates; the first step is not\n"
                  "clipped). With --grad-clip 0 a run is bit for bit the same as without it.\n"
                  "\n"
                  "--attention tiled computes attention block by block with an online softmax\n"
                  "and keeps one log-sum-exp per row instead of the T x T probabilities of\n"
                  "every layer: activation memory grows with T, not T^2 (long sequences).\n"
                  "Heads of at most 128 channels. auto, the default, picks tiled from --seq\n"
                  "2048, where it measured both faster and smaller, and standard below, where\n"
                  "the standard backward, reading the kept probabilities, is the faster.\n"
                  "\n"
                  "--recompute trades time for activation memory: block keeps only each\n"
                  "block's input and re-runs the block's forward in the backward pass (up to\n"
                  "its last product); attn keeps everything but attention's output and\n"
                  "internals (the T x T probabilities, or tiled's log-sum-exps) and re-runs\n"
                  "attention. The last block is never recomputed. The gradients are the same\n"
                  "bits as with none, so a run may be resumed with another setting. The\n"
                  "ledger's hw_flops_per_token counts the extra work; flops_per_token does not.\n"
                  "\n"
                  "--dtype bf16 runs the matrix products of the linear layers and the LM head\n"
                  "on bf16 operands (rounded to nearest even) with fp32 sums: the AMX tile\n"
                  "unit where the CPU has one (Intel Xeon since Sapphire Rapids: about 2.4x\n"
                  "sgemm's speed, a config-M step 1.9x faster), else AVX512_BF16 dot products\n"
                  "(about 1.7x sgemm on AMD Zen 4, but slower than sgemm on Intel CPUs, whose\n"
                  "instruction is no faster than fp32 FMAs), else a portable kernel with the\n"
                  "instruction's bits (slower than sgemm). `frugal --version` names the path.\n"
                  "Weights, optimizer and activations stay as they are; attention stays fp32.\n"
                  "Not with the --mx-* flags.\n"
                  "\n"
                  "MX training (OCP Microscaling, emulated as Microsoft's microxcaling does):\n"
                  "--mx-weights, --mx-activations and --mx-grads round the operands of the\n"
                  "block linear layers' products (qkv, attention projection, fc, fc\n"
                  "projection) to an MX format: blocks of 32 values along the product's\n"
                  "reduction axis share one power-of-two scale. Y = X W^T rounds X and W;\n"
                  "dX = dY W rounds dY and W; dW = dY^T X rounds dY and X. Master weights and\n"
                  "the optimizer are kept as --optim-storage says; the LM head and attention\n"
                  "are not quantized. The products still run in fp32 on the rounded copies:\n"
                  "this measures accuracy, not speed.\n"
                  "FMT: none, e4m3 or e5m2 (MXFP8), e3m2 or e2m3 (MXFP6), e2m1 (MXFP4), int8\n"
                  "(MXINT8); aliases such as mxfp8_e4m3 and mxfp4 work too. --n-embd must be\n"
                  "a multiple of 32. MXFP8: --mx-weights e4m3 --mx-activations e4m3.",
                  pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = parse_mx(&p, mx_w, mx_a, mx_g, mx_scale)) != 0)
        return rc;
    if (optim && fg_train_optimizer_parse(optim, &p.optimizer) != FG_OK) {
        fprintf(stderr, "frugal train: unknown --optimizer '%s' (adamw, lion or sgd)\n", optim);
        return EXIT_USAGE;
    }
    if (storage && fg_train_storage_parse(storage, &p.storage) != FG_OK) {
        fprintf(stderr, "frugal train: unknown --optim-storage '%s' (fp32 or flash)\n", storage);
        return EXIT_USAGE;
    }
    /* auto (the default for a new run) is settled once the shape and --seq are known */
    int attn_auto = attention ? !strcmp(attention, "auto") : !p.resume_path;
    if (attention && !attn_auto && fg_train_attention_parse(attention, &p.attention) != FG_OK) {
        fprintf(stderr, "frugal train: unknown --attention '%s' (standard, tiled or auto)\n",
                attention);
        return EXIT_USAGE;
    }
    if (recompute && fg_train_recompute_parse(recompute, &p.recompute) != FG_OK) {
        fprintf(stderr, "frugal train: unknown --recompute '%s' (none, attn or block)\n",
                recompute);
        return EXIT_USAGE;
    }
    if (dtype && fg_train_dtype_parse(dtype, &p.matmul) != FG_OK) {
        fprintf(stderr, "frugal train: unknown --dtype '%s' (fp32 or bf16)\n", dtype);
        return EXIT_USAGE;
    }
    if (p.master_bits != 24 && p.master_bits != 32) {
        fprintf(stderr,
                "frugal train: --master-bits %d is not supported: 24 (bf16 + int8 correction) or "
                "32 (bf16 + int16)\n",
                p.master_bits);
        return EXIT_USAGE;
    }
    if (!cli_find(o, n_o, "--beta2")->seen && p.optimizer == FG_FLASH_LION)
        p.adam.beta2 = 0.99f; /* Lion's default (Chen et al. 2023); a resume restores its own */
    if (!p.train_path) {
        fprintf(stderr, "frugal train: --data FILE is required (make a shard with frugal prepare)"
                        "\n");
        return EXIT_USAGE;
    }
    if (p.resume_path) {
        /* The model's shape comes from the checkpoint; explicit flags must agree with it
         * (fg_ckpt_load reports a contradiction). */
        struct fg_model_config c;
        char err[512];
        fg_status st = fg_ckpt_read_config(p.resume_path, &c, err, sizeof err);
        if (st) {
            fprintf(stderr, "frugal train: %s\n", err);
            return EXIT_FAIL;
        }

        /* the model's shape comes from the checkpoint; a flag that contradicts it is a usage
         * error, reported before any data is opened */
        const struct {
            const char *flag;
            int *dst, have;
        } shape[] = {
            { "--n-layer", &p.cfg.n_layer, c.n_layer },
            { "--n-head", &p.cfg.n_head, c.n_head },
            { "--n-embd", &p.cfg.n_embd, c.n_embd },
            { "--block-size", &p.cfg.block_size, c.block_size },
            { "--vocab-size", &p.cfg.vocab_size, c.vocab_size },
        };

        for (size_t i = 0; i < sizeof shape / sizeof shape[0]; i++) {
            if (!cli_find(o, n_o, shape[i].flag)->seen) {
                *shape[i].dst = shape[i].have;
            } else if (*shape[i].dst != shape[i].have) {
                fprintf(stderr,
                        "frugal train: checkpoint %s has %s %d but the run asks for %d: drop "
                        "the flag or start a new run\n",
                        p.resume_path, shape[i].flag, shape[i].have, *shape[i].dst);
                return EXIT_USAGE;
            }
        }
        int rc2 = resume_defaults(&p, o, n_o);
        if (rc2)
            return rc2;
    }
    if (no_release && cli_find(o, n_o, "--grad-release")->seen) {
        fprintf(stderr, "frugal train: --grad-release and --no-grad-release contradict each "
                        "other: give one\n");
        return EXIT_USAGE;
    }
    if (no_release)
        p.grad_release = 0;
    if (cli_find(o, n_o, "--master-bits")->seen && p.storage != FG_TRAIN_STORAGE_FLASH) {
        fprintf(stderr, "frugal train: --master-bits applies to --optim-storage flash only (fp32 "
                        "storage keeps fp32 weights)\n");
        return EXIT_USAGE;
    }
    if (!cli_find(o, n_o, "--seq")->seen && p.T > (size_t)p.cfg.block_size)
        p.T = (size_t)p.cfg.block_size;
    if (!p.resume_path && !cli_find(o, n_o, "--warmup")->seen && p.warmup >= p.steps)
        p.warmup = p.steps / 10;
    if (attn_auto)
        p.attention = fg_model_attention_auto(&p.cfg, p.T);
    if (p.matmul == FG_MODEL_MATMUL_BF16 && fg_model_mx_on(&p.mx)) {
        fprintf(stderr, "frugal train: --dtype bf16 does not combine with the --mx-* flags (the MX "
                        "emulation runs fp32 products on its rounded copies): choose one\n");
        return EXIT_USAGE;
    }
    if (p.attention == FG_MODEL_ATTN_TILED &&
        !fg_attention_tiled_supported((size_t)p.cfg.n_embd, (size_t)p.cfg.n_head)) {
        fprintf(stderr,
                "frugal train: --attention tiled takes heads of at most %d channels; this model's "
                "are %d (--n-embd / --n-head): raise --n-head or use --attention standard\n",
                FG_ATTENTION_TILED_MAX_HS, p.cfg.n_head > 0 ? p.cfg.n_embd / p.cfg.n_head : 0);
        return EXIT_USAGE;
    }
    if (inject) { /* fault injection (hidden): nan@STEP or spike@STEP */
        char kind[8];
        long long at = 0;
        char tail;
        if (sscanf(inject, "%7[a-z]@%lld%c", kind, &at, &tail) != 2 || at < 1 ||
            (strcmp(kind, "nan") != 0 && strcmp(kind, "spike") != 0)) {
            fprintf(stderr, "frugal train: --inject takes nan@STEP or spike@STEP, not '%s'\n",
                    inject);
            return EXIT_USAGE;
        }
        if (!strcmp(kind, "nan"))
            p.inject_nan_step = at;
        else
            p.inject_spike_step = at;
    }
    if (check) { /* the flags and the settings; the data files are fg_train's to check */
        char why[1024];
        if (fg_train_check_params(&p, why, sizeof why) != FG_OK) {
            fprintf(stderr, "frugal train: %s\n", why);
            return EXIT_USAGE;
        }
        return EXIT_OK;
    }
    const char *peak_unit = NULL; /* the unit the peak was measured on; NULL if given */
    if (!cli_find(o, sizeof o / sizeof o[0], "--peak-flops")->seen)
        p.peak_flops =
            cli_peak_flops(p.n_threads, p.matmul == FG_MODEL_MATMUL_BF16, &peak_unit, NULL, 0);
    if (!quiet && fg_model_mx_on(&p.mx))
        print_mx_ledger(&p);
    struct progress_ctx pc = { isatty(2), quiet, 0, p.time_budget_s };
    p.on_progress = on_progress;
    p.on_log = on_log;
    p.on_start = on_start;
    p.stop_request = &g_stop_request;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    p.user = &pc;
    struct fg_train_result r;
    char err[1024] = "";
    fg_status st = fg_train(&p, &r, err, sizeof err);
    if (pc.tty && !quiet)
        fputc('\n', stderr);
    if (!st && r.interrupted)
        fprintf(stderr, "frugal train: interrupted after step %" PRId64 "%s%s\n", r.steps_done,
                r.last_ckpt[0] ? "; continue with --resume " : "", r.last_ckpt);
    if (st) {
        fprintf(stderr, "frugal train: %s\n", err);
        return cli_exit_code(st);
    }
    double mib = (double)r.peak_rss_bytes / 1048576.0;
    if (json) {
        /* cJSON escapes the path and writes null for values that were not measured */
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "steps", (double)r.steps_done);
        cJSON_AddNumberToObject(j, "final_loss", r.final_loss);
        if (isnan(r.final_val_loss))
            cJSON_AddNullToObject(j, "final_val_loss");
        else
            cJSON_AddNumberToObject(j, "final_val_loss", r.final_val_loss);
        if (isnan(r.best_val_loss))
            cJSON_AddNullToObject(j, "best_val_loss");
        else
            cJSON_AddNumberToObject(j, "best_val_loss", r.best_val_loss);
        cJSON_AddNumberToObject(j, "tokens", (double)r.tokens);
        cJSON_AddNumberToObject(j, "seconds", r.seconds);
        cJSON_AddNumberToObject(j, "tokens_per_s", r.tokens_per_s);
        cJSON_AddNumberToObject(j, "peak_rss_bytes", (double)r.peak_rss_bytes);
        cJSON_AddNumberToObject(j, "params", (double)r.n_params);
        cJSON_AddNumberToObject(j, "predicted_bytes", (double)(r.mem.total_bytes + r.optim_bytes));
        cJSON_AddStringToObject(j, "optimizer", fg_train_optimizer_name(p.optimizer));
        cJSON_AddStringToObject(j, "storage", fg_train_storage_name(p.storage));
        cJSON_AddNumberToObject(j, "master_bits",
                                p.storage == FG_TRAIN_STORAGE_FLASH ? p.master_bits : 32);
        cJSON_AddBoolToObject(j, "grad_release", p.grad_release != 0);
        cJSON_AddStringToObject(j, "dtype", fg_train_dtype_name(p.matmul));
        cJSON_AddStringToObject(j, "attention", fg_train_attention_name(p.attention));
        cJSON_AddStringToObject(j, "recompute", fg_train_recompute_name(p.recompute));
        json_ledger(j, &r.ledger);
        cJSON_AddNumberToObject(j, "flops_per_token", r.flops_per_token);
        cJSON_AddNumberToObject(j, "hw_flops_per_token", r.hw_flops_per_token);
        json_cost(j, &p, &r, peak_unit);
        json_mx(j, &p, &r);
        if (r.last_ckpt[0])
            cJSON_AddStringToObject(j, "checkpoint", r.last_ckpt);
        else
            cJSON_AddNullToObject(j, "checkpoint");
        char *text = cJSON_PrintUnformatted(j);
        if (text)
            printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(j);
    } else if (!quiet) {
        printf("trained %" PRId64 " steps (%" PRIu64 " tokens) in %.1f s: %.0f tokens/s\n",
               r.steps_done, r.tokens, r.seconds, r.tokens_per_s);
        if (r.steps_done)
            printf("final train loss %.4f", r.final_loss);
        else
            printf("no step trained (the checkpoint had already reached --steps)");
        if (!isnan(r.final_val_loss))
            printf(", validation loss %.4f (best %.4f)", r.final_val_loss, r.best_val_loss);
        printf("\nparameters %.2fM, peak memory %.1f MiB (model + optimizer predicted %.1f MiB)\n",
               (double)r.n_params / 1e6, mib,
               (double)(r.mem.total_bytes + r.optim_bytes) / 1048576.0);
        printf("cost: %.1f s wall, %.1f CPU-s, $%.4f at $%.4g/h", r.wall_seconds, r.cpu_seconds,
               r.dollars, r.price_per_hour);
        if (!isnan(r.mfu))
            printf(", MFU %.1f%% of %.1f GFLOP/s%s%s%s", 100.0 * r.mfu, r.peak_flops / 1e9,
                   peak_unit ? " (" : "", peak_unit ? peak_unit : "", peak_unit ? ")" : "");
        if (r.loss_spikes)
            printf(", %" PRId64 " loss spikes", r.loss_spikes);
        printf("\n");
        if (r.last_ckpt[0])
            printf("checkpoint %s\n", r.last_ckpt);
    }
    /* a run ended by a signal exits 128 + the signal, as the shell reports such processes */
    return r.interrupted ? 128 + g_stop_request : EXIT_OK;
}
