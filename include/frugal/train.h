/* frugal train: the step loop.
 *
 * One step = `accum` micro-batches (forward, backward with loss scale 1/accum) -> global-norm
 * clipping -> AdamW with a warmup + cosine schedule -> metrics -> maybe eval -> maybe
 * checkpoint. Nothing is allocated inside the loop. A run is bitwise reproducible for a given
 * seed and thread count, and a run resumed from a checkpoint continues with the same bits as
 * one that never stopped.
 */
#ifndef FRUGAL_TRAIN_H
#define FRUGAL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/ckpt.h"
#include "frugal/data.h"
#include "frugal/flashoptim.h"
#include "frugal/model.h"
#include "frugal/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest micro-batch (sequences) accepted; with T <= block size <= 2^20 no size product wraps. */
#define FG_TRAIN_MAX_BATCH (1 << 24)

struct fg_train_progress {
    int64_t step, steps;  /* completed steps, planned steps (the schedule's length) */
    int64_t stop;         /* the step at which this run ends (--stop-at, else steps) */
    double loss;          /* mean training loss of this step */
    double loss_ma;       /* the moving average it is compared with (before this step) */
    int spike;            /* 1: loss > 2 x loss_ma (a loss spike; not added to the average) */
    double cpu_s;         /* CPU seconds of the process since fg_train started */
    double mfu;           /* this step's model FLOP/s over peak_flops; NaN without a peak */
    double dollars;       /* elapsed_s / 3600 x price_per_hour */
    double val_loss;      /* NaN unless this step ran an evaluation */
    double lr, grad_norm; /* before clipping */
    double tokens_per_s, ms_per_step, elapsed_s;
};

/* Where the weights, gradients and optimizer states live (--optim-storage). */
enum fg_train_storage {
    FG_TRAIN_STORAGE_FP32 = 0, /* fp32 weights, gradients and states: AdamW 16 B/param */
    FG_TRAIN_STORAGE_FLASH = 1 /* bf16 weights (what forward and backward use) plus an int8 or
                                  int16 master correction, bf16 gradients, 8-bit states in
                                  groups of 32 with a bf16 scale each (flashoptim.h): AdamW
                                  7.125 B/param with the int8 correction */
};

/* Bytes a run holds, counted where they are allocated. The first six are per-parameter
 * storage; decode (the fp32 scratch of one block of a bf16 model: it grows with n_embd^2 and
 * the vocabulary chunk, not with the number of layers) and activations (with the backward and
 * MX scratch) are working memory. */
struct fg_train_ledger {
    size_t n_params;
    size_t weights;          /* fp32 or bf16 weights */
    size_t master;           /* master-weight correction (flash), else 0 */
    size_t grads;            /* fp32 or bf16 gradients */
    size_t state_m, state_v; /* optimizer states: fp32, or 8-bit codes (flash) */
    size_t scales;           /* the group scales of the 8-bit states */
    size_t decode, activations;
    size_t products;        /* fg_gemm_bf16's packing workspace (--dtype bf16), else 0 */
    double bytes_per_param; /* (weights + master + grads + state_m + state_v + scales) / n_params */
};

struct fg_train_params {
    struct fg_model_config cfg;
    const char *train_path, *val_path; /* token shards; val_path may be NULL */
    size_t B, T;                       /* micro-batch */
    int accum;                         /* micro-batches per step */
    int64_t steps;                     /* planned steps: the schedule's length */
    int64_t stop_at;                   /* stop after this step (0 = steps); schedule unchanged */
    double time_budget_s;              /* stop after this many seconds (0 = none) */
    float lr, lr_min;
    int64_t warmup;
    float grad_clip;             /* max global norm; 0 = off */
    struct fg_adamw_params adam; /* beta1, beta2, eps, weight_decay (see optimizer) */
    /* The optimizer, fp32 weights and states: FG_FLASH_ADAM (AdamW, the default),
     * FG_FLASH_LION (adam.beta1 interpolates the update's sign, adam.beta2 is the momentum's
     * decay) or FG_FLASH_SGD (momentum, optional Nesterov; 0 keeps no state). Weight decay is
     * decoupled (theta *= 1 - lr wd) on the tensors fg_model_tensor_decays names, for all three.
     * The optimizer's state is not convertible: a resume must use the same optimizer. */
    enum fg_flash_kind optimizer;
    float momentum;
    int nesterov;
    /* Storage of weights, gradients and states (default fp32), and with flash the master
     * weight's precision: 24 (bf16 + int8 correction, the default) or 32 (bf16 + int16).
     * Recorded in checkpoints; a resume must keep both (the states are not converted). */
    enum fg_train_storage storage;
    int master_bits;
    /* Gradient release (flash storage only): each block's parameters are updated inside the
     * backward pass as soon as their gradients are complete, and no gradient buffer exists.
     * Rules out --accum > 1 (the gradient must be whole before its update) and needs n_embd
     * a multiple of 32 (a layer's slice must hold whole quantization groups). Clipping uses
     * the previous step's gradient norm (the current one is known only after the updates); the
     * first step of a fresh run is not clipped. Without clipping, the result is bit for bit
     * that of the same run without release. */
    int grad_release;
    /* The products of the linear layers and the LM head (enum fg_model_matmul, model.h):
     * FG_MODEL_MATMUL_FP32 (default) or FG_MODEL_MATMUL_BF16, operands rounded to bf16 with
     * fp32 sums (--dtype bf16). Not with MX. Recorded in checkpoints ("dtype"); a resume with
     * another setting is allowed and named, like a changed learning rate. */
    int matmul;
    /* The attention kernel (enum fg_model_attention, model.h): standard (default) or tiled
     * (--attention tiled: no T x T probabilities kept). Recorded in checkpoints ("attention");
     * a resume with the other kernel is allowed and named. */
    int attention;
    /* Activation recomputation (enum fg_model_recompute, model.h): none (default), attn or
     * block (--recompute). Trades time for activation memory; the gradients are the same bits
     * either way, so it is not recorded in checkpoints and a resume may change it freely. */
    int recompute;
    int64_t eval_every; /* steps; 0 = only at the end */
    int eval_batches;   /* validation batches of B x T per evaluation */
    uint64_t seed;
    int n_threads;
    const char *ckpt_dir; /* NULL = no checkpoints */
    int64_t ckpt_every;   /* steps; 0 = only at the end */
    int keep;             /* newest checkpoints written by this run that are kept (>= 1);
                             files of other runs in ckpt_dir are never deleted */
    const char *resume_path;
    const char *metrics_path; /* JSON Lines; NULL = none */
    int use_ref;              /* scalar kernels (tests) */
    /* MX emulation of the block linear layers (model.h; default all none). Stored in the
     * checkpoint's "train" metadata; a resumed run may change it, with a note through on_log. */
    struct fg_model_mx mx;
    uint64_t ckpt_fail_after; /* fault injection for tests: 0 = off */
    /* The ledger: MFU is model FLOP/s over peak_flops (FLOP/s; 0 = not computed, NaN); dollars
     * are wall hours times price_per_hour (default FG_TRAIN_PRICE_PER_HOUR). */
    double peak_flops;
    double price_per_hour;
    /* Fault injection (tests, and the guards of frugal compare; 0 = off): at step
     * inject_nan_step (1-based) one gradient element is set to NaN before the norm, so the run
     * stops as on a real divergence; from step inject_spike_step on, the loss the run reports
     * is 10 times the real one (a loss spike; the weights train as usual). */
    int64_t inject_nan_step, inject_spike_step;
    const struct fg_allocator *allocator;
    /* Borrowed; may be NULL. When *stop_request becomes nonzero (e.g. from a SIGINT handler),
     * the run finishes the current step, evaluates and checkpoints as at its last step, and
     * returns FG_OK with result->interrupted = 1. */
    volatile int *stop_request;
    void (*on_progress)(void *user, const struct fg_train_progress *p);
    /* notes the caller may want to show (e.g. settings changed on resume); may be NULL */
    void (*on_log)(void *user, const char *msg);
    /* once, after everything is allocated and before the first step: the bytes by component;
     * may be NULL */
    void (*on_start)(void *user, const struct fg_train_ledger *ledger);
    void *user; /* passed to the callbacks */
};

/* A documented default price of a 2-vCPU cloud machine, $ per hour: AWS EC2 c7a.large (2 vCPUs
 * of a 4th-generation AMD EPYC, Zen 4 as the machine these benchmarks ran on; 4 GiB),
 * on-demand Linux in us-east-1, from AWS's public price list. Set your own with
 * --price-per-hour. */
#define FG_TRAIN_PRICE_PER_HOUR 0.10264

struct fg_train_result {
    int64_t steps_done;
    double final_loss, final_val_loss, best_val_loss; /* NaN when not measured */
    uint64_t tokens;                                  /* trained this run */
    double seconds; /* of training steps this run (excludes setup and eval) */
    double tokens_per_s;
    double flops_per_token;    /* model FLOPs (fg_model_flops_per_token) */
    double hw_flops_per_token; /* what the step executes: model FLOPs plus recomputation's
                                  (fg_model_recompute_flops_per_token) */
    /* the ledger of this run (this process) */
    double wall_seconds;      /* all of fg_train: setup, steps, evaluations, checkpoints */
    double cpu_seconds;       /* CPU seconds of the process over the same span, all threads */
    double peak_flops;        /* as given */
    double mfu;               /* flops_per_token x tokens_per_s / peak_flops; NaN without one */
    double price_per_hour;    /* as given */
    double dollars;           /* wall_seconds / 3600 x price_per_hour */
    int64_t nonfinite_events; /* steps with a NaN or infinite loss or gradient norm (the run stops
                                 at the first) */
    int64_t loss_spikes;      /* steps whose loss was above 2x its moving average */
    double grad_norm_mean, grad_norm_sd, grad_norm_max; /* over the steps of this run (NaN if
                                                           none; sd 0 for one) */
    uint64_t peak_rss_bytes;
    size_t n_params;
    struct fg_model_mem mem;             /* mem.mx_bytes: the MX emulation's scratch */
    size_t optim_bytes;                  /* the optimizer's state: master correction, states and
                                            scales, as the storage keeps them */
    struct fg_train_ledger ledger;       /* bytes by component */
    struct fg_model_mx_ledger mx_ledger; /* per micro-batch (fg_model_mx_ledger), whatever mx is */
    char last_ckpt[4096]; /* path of the newest checkpoint written or resumed, or "" */
    int interrupted;      /* 1 if the run stopped early on stop_request */
};

FG_API struct fg_train_params fg_train_params_default(void);
/* "adamw", "lion", "sgd" <-> the optimizer kinds (NULL / FG_ERR_INVALID_ARG otherwise). */
FG_API const char *fg_train_optimizer_name(enum fg_flash_kind k);
FG_API fg_status fg_train_optimizer_parse(const char *name, enum fg_flash_kind *out);
/* "fp32", "flash" <-> the storage modes (NULL / FG_ERR_INVALID_ARG otherwise). */
/* "fp32", "bf16" <-> enum fg_model_matmul, the products' dtype (NULL / FG_ERR_INVALID_ARG
 * otherwise). */
FG_API const char *fg_train_dtype_name(int matmul);
/* "standard", "tiled" <-> enum fg_model_attention (NULL / FG_ERR_INVALID_ARG otherwise). */
FG_API const char *fg_train_attention_name(int attention);
FG_API fg_status fg_train_attention_parse(const char *name, int *out);
/* "none", "attn", "block" <-> enum fg_model_recompute (NULL / FG_ERR_INVALID_ARG otherwise). */
FG_API const char *fg_train_recompute_name(int recompute);
FG_API fg_status fg_train_recompute_parse(const char *name, int *out);
FG_API fg_status fg_train_dtype_parse(const char *name, int *out);
FG_API const char *fg_train_storage_name(enum fg_train_storage s);
FG_API fg_status fg_train_storage_parse(const char *name, enum fg_train_storage *out);
/* The checks fg_train makes on p before it reads any file: FG_OK, or FG_ERR_INVALID_ARG with
 * what is wrong and the fix in errmsg. */
FG_API fg_status fg_train_check_params(const struct fg_train_params *p, char *errmsg,
                                       size_t errmsg_len);
/* Runs training. On failure errmsg says what failed and what to do; a NaN/Inf loss returns
 * FG_ERR_NUMERIC after keeping the last good checkpoint (result->last_ckpt). */
FG_API fg_status fg_train(const struct fg_train_params *p, struct fg_train_result *result,
                          char *errmsg, size_t errmsg_len);

/* Mean loss of a model over up to max_batches sequential (B, T) windows of a shard (all of
 * it when max_batches <= 0). *n_tokens receives the tokens scored. */
FG_API fg_status fg_eval_shard(struct fg_model *m, const struct fg_shard *s, size_t B, size_t T,
                               int max_batches, int32_t *inputs, int32_t *targets,
                               double *mean_loss, uint64_t *n_tokens);

#ifdef __cplusplus
}
#endif
#endif
