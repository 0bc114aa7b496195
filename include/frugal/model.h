/* frugal model: a GPT-2 architecture language model (Radford et al. 2019) on flat fp32 buffers.
 *
 * Learned positional embeddings, pre-LayerNorm blocks, causal multi-head attention, a 4x MLP
 * with GELU (tanh), a final LayerNorm and an LM head tied to the token embedding. Parameters
 * live in one arena (weights then gradients), activations in a second arena, and both are
 * sized up front by fg_model_mem_size(), the same pure function the planner calls.
 *
 * Parameter tensors, in flat-buffer order (names as in checkpoints; weights are (out, in)):
 *   wte (Vp,C)  wpe (maxT,C)  ln1w (L,C)  ln1b (L,C)  qkvw (L,3C,C)  qkvb (L,3C)
 *   attprojw (L,C,C)  attprojb (L,C)  ln2w (L,C)  ln2b (L,C)  fcw (L,4C,C)  fcb (L,4C)
 *   fcprojw (L,C,4C)  fcprojb (L,C)  lnfw (C)  lnfb (C)
 * Each tensor starts on a multiple of FG_MODEL_ALIGN elements; the gaps are zero.
 *
 * Weight storage (fg_model_params.weights): fp32 (the default), or bf16, in which the arena
 * holds bf16 weights and bf16 gradients (2 + 2 bytes per parameter) and no fp32 copy of the
 * model exists: forward and backward decode one block's tensors at a time into an fp32
 * scratch, and the tied wte in chunks of vocabulary rows for the LM head (docs/flashoptim.md,
 * "The model on bf16 weights").
 */
#ifndef FRUGAL_MODEL_H
#define FRUGAL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"
#include "frugal/numerics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FG_MODEL_N_TENSORS 16
#define FG_MODEL_ALIGN     64 /* elements: 256 bytes, a multiple of 32-element groups */
#define FG_VOCAB_PAD       64

enum fg_param_id {
    FG_PARAM_WTE,
    FG_PARAM_WPE,
    FG_PARAM_LN1W,
    FG_PARAM_LN1B,
    FG_PARAM_QKVW,
    FG_PARAM_QKVB,
    FG_PARAM_ATTPROJW,
    FG_PARAM_ATTPROJB,
    FG_PARAM_LN2W,
    FG_PARAM_LN2B,
    FG_PARAM_FCW,
    FG_PARAM_FCB,
    FG_PARAM_FCPROJW,
    FG_PARAM_FCPROJB,
    FG_PARAM_LNFW,
    FG_PARAM_LNFB
};

struct fg_model_config {
    int n_layer;    /* L */
    int n_head;     /* NH; must divide n_embd */
    int n_embd;     /* C */
    int block_size; /* maxT: positions the model has embeddings for */
    int vocab_size; /* V: real vocabulary; Vp = V rounded up to FG_VOCAB_PAD */
};

/* Checks a config; on failure writes why into errmsg and returns FG_ERR_INVALID_ARG. */
FG_API fg_status fg_model_config_check(const struct fg_model_config *cfg, char *errmsg,
                                       size_t errmsg_len);
FG_API size_t fg_model_padded_vocab(int vocab_size);

/* Name, element count and shape of tensor `id` (shape[0..ndim-1]). Pure. */
FG_API const char *fg_model_tensor_name(int id);
FG_API size_t fg_model_tensor_numel(const struct fg_model_config *cfg, int id, int *ndim,
                                    int64_t shape[3]);
/* Whether AdamW weight decay applies to tensor `id` (matrices and embeddings: yes;
 * biases and LayerNorm parameters: no). */
FG_API int fg_model_tensor_decays(int id);

/* How the model stores its weights and gradients. */
enum fg_model_weights {
    FG_MODEL_WEIGHTS_FP32 = 0, /* fp32 weights and gradients */
    FG_MODEL_WEIGHTS_BF16 = 1  /* bf16 weights and gradients, decoded per block for the products;
                                  gradients are rounded to bf16 once per block per micro-batch
                                  (accumulation over micro-batches adds in fp32 and rounds) */
};

/* Memory of a model for batch B and sequence T, in bytes, from the config alone. */
/* The matrix products of the linear layers and the LM head (kernels.h). */
enum fg_model_matmul {
    FG_MODEL_MATMUL_FP32 = 0, /* OpenBLAS sgemm on fp32 operands */
    FG_MODEL_MATMUL_BF16 = 1  /* fg_gemm_bf16: both operands rounded to bf16 (nearest even),
                                 products summed in fp32 (AVX512_BF16 where the CPU has it);
                                 weights, activations and gradients stay stored as before */
};

/* The attention kernel (kernels.h). */
enum fg_model_attention {
    FG_MODEL_ATTN_STANDARD = 0, /* keeps the (L,B,NH,T,T) probabilities for backward */
    FG_MODEL_ATTN_TILED = 1     /* fg_attention_tiled_*: keeps (L,B,NH,T) row log-sum-exps;
                                   needs a head size of at most FG_ATTENTION_TILED_MAX_HS */
};

/* The kernel frugal's tools pick when none is asked for (--attention auto): tiled from a
 * sequence length of FG_MODEL_ATTN_TILED_FROM tokens when the head size allows it, where it
 * is both faster and far smaller on the machines measured (BENCHMARKS.md, "Tiled attention");
 * standard below, where its backward, which keeps the probabilities, is faster. */
#define FG_MODEL_ATTN_TILED_FROM 2048
FG_API int fg_model_attention_auto(const struct fg_model_config *cfg, size_t T);

/* Activation recomputation: what a training model keeps for backward and what backward
 * recomputes (the same kernels on the same inputs with the same threads: the same bits, so the
 * gradients equal those of FG_MODEL_RECOMPUTE_NONE bit for bit). The last block's activations
 * are still in place when backward starts and are never recomputed. */
enum fg_model_recompute {
    FG_MODEL_RECOMPUTE_NONE = 0, /* keep every layer's activations */
    FG_MODEL_RECOMPUTE_ATTN = 1, /* keep one layer's attention output and internals (the
                                     probabilities, or the tiled kernel's log-sum-exps): backward
                                     re-runs each layer's attention forward from its saved qkv */
    FG_MODEL_RECOMPUTE_BLOCK = 2 /* keep each block's input (the residual stream) and one
                                     layer's internals: backward re-runs each block's forward up
                                     to its last product (the fc projection is not needed) */
};

struct fg_model_mem {
    size_t n_params;     /* parameters, counting the padded vocabulary rows of wte */
    size_t n_flat;       /* elements of the flat parameter buffer (with alignment gaps) */
    size_t param_bytes;  /* weights: n_flat * 4 (bf16: n_flat * 2) */
    size_t grad_bytes;   /* gradients: as the weights when training (0 with grad_release), else 0 */
    size_t decode_bytes; /* bf16 weights: the fp32 scratch of one block's weights (and their
                             gradients when training), wpe, lnf and a chunk of wte rows; else 0 */
    size_t act_bytes;    /* forward activations kept for backward (or for eval only) */
    size_t scratch_bytes; /* backward scratch (activation gradients) beyond the forward's memory,
                             0 when not training. With fp32 weights the scratch used after the
                             LM head's backward shares the logits' memory (dead by then) */
    size_t mx_bytes;      /* MX emulation scratch (fg_model_mem_size_mx), 0 when MX is off */
    size_t gemm_bytes;    /* bf16 products: fg_gemm_bf16's packing workspace, else 0 */
    size_t total_bytes;   /* sum of the above */
};

/* Pure: no allocation, no globals. training=0 sizes an inference-only model. Returns
 * FG_ERR_INVALID_ARG for a bad config or on size overflow. Sizes a model without MX emulation
 * (fg_model_mem_size_mx with mx NULL). */
FG_API fg_status fg_model_mem_size(const struct fg_model_config *cfg, size_t B, size_t T,
                                   int training, struct fg_model_mem *out);

/* ---- MX emulation of the linear layers (docs/numerics.md, section 11) -----------------------
 * "Fake" quantization as Microsoft's microxcaling library does it (mx/linear.py): before each of
 * the three matrix products of a block linear layer (qkv, attention projection, fc, fc
 * projection), each operand is quantized to an OCP MX format and dequantized again, in blocks
 * of 32 along that product's reduction axis, and the fp32 product then runs on the copies:
 *   forward  Y  = X W^T : X (N,IC) and W (OC,IC) in blocks along IC;
 *   backward dX = dY W  : dY (N,OC) and W in blocks along OC (W's columns);
 *            dW = dY^T X: dY and X in blocks along the tokens of each sequence
 *                         (N = B*T; a sequence's last block is zero-padded when T % 32 != 0).
 * The bias gradient is summed from the unquantized dY (as mx/linear.py does). The same tensor is
 * re-quantized from its fp32 copy for each use: MX quantization does not commute with
 * transposition. Master weights, gradients and the optimizer state stay fp32; the LM head (tied
 * to wte), the attention products (Q K^T, P V) and the vector ops stay fp32. Every product
 * still runs as an fp32 sgemm, so the emulation costs time and saves nothing on a CPU; the
 * ledger (fg_model_mx_ledger) reports what real MX storage and traffic would be. */
#define FG_MODEL_MX_NONE (-1) /* an operand left in fp32 */

struct fg_model_mx {
    int weights;                      /* W: FG_MODEL_MX_NONE or an enum fg_mx_format */
    int activations;                  /* X, the layer input: the same */
    int grads;                        /* dY, the gradient of the layer output: the same */
    enum fg_mx_scale_rule scale_rule; /* how each block's scale is chosen (numerics.h) */
};

/* Every operand FG_MODEL_MX_NONE, scale rule FLOOR (the OCP spec's). */
FG_API struct fg_model_mx fg_model_mx_default(void);
/* 1 if any operand is quantized (mx may be NULL: 0). */
FG_API int fg_model_mx_on(const struct fg_model_mx *mx);
/* Parse an operand format: "none" (FG_MODEL_MX_NONE) or any name fg_mx_format_from_name
 * accepts (e4m3, e5m2, e3m2, e2m3, e2m1, int8 and aliases such as mxfp8_e4m3, mxfp4, mxint8),
 * case-insensitively. Otherwise FG_ERR_INVALID_ARG and a one-line message listing the names. */
FG_API fg_status fg_model_mx_parse(const char *name, int *out, char *errmsg, size_t errmsg_len);
/* "none" or the canonical format name ("e4m3" ...); "unknown" for anything else. */
FG_API const char *fg_model_mx_name(int fmt);
/* Whether the emulation can run on this config: formats and scale rule valid, and n_embd a
 * multiple of 32 when any operand is quantized (every reduction axis over a layer's width,
 * C or 4C, must hold whole blocks; an n_embd of 48 is refused, not padded). mx may be NULL.
 * FG_ERR_INVALID_ARG with the reason and the fix in errmsg otherwise. Pure. */
FG_API fg_status fg_model_mx_check(const struct fg_model_config *cfg, const struct fg_model_mx *mx,
                                   char *errmsg, size_t errmsg_len);
/* Memory of a model with MX emulation: as fg_model_mem_size, plus mx_bytes for the quantized
 * copies (in the activation arena: two (4C, B, round_up(T, 32)) fp32 buffers (one without
 * training), a (4C, C) fp32 buffer, and the codes and scales of the largest of them).
 * mx NULL or all none: the same as fg_model_mem_size. Pure. */
FG_API fg_status fg_model_mem_size_mx(const struct fg_model_config *cfg, size_t B, size_t T,
                                      int training, const struct fg_model_mx *mx,
                                      struct fg_model_mem *out);
struct fg_model_params;
/* Memory of the model fg_model_init would create from p (its config, capacity, training flag,
 * MX settings and weight storage): what fg_model_init allocates, to the byte. Pure. */
FG_API fg_status fg_model_mem_size_params(const struct fg_model_params *p,
                                          struct fg_model_mem *out);

/* What MX would store and move for the block linear layers (bytes), against fp32. An operand
 * in MX format f takes n * bits(f) / 8 bytes of codes plus one E8M0 scale byte per block of 32
 * (fg_mx_sizes); in fp32 (or format none) 4 n. The *_fp32 fields do not depend on mx. */
struct fg_model_mx_ledger {
    uint64_t weight_fp32, weight_mx; /* the 12 L C^2 weights of qkv, proj, fc, fcproj */
    uint64_t act_fp32, act_mx;       /* their inputs saved for backward, one micro-batch of
                                        B x T: ln1, atty, ln2, fch_gelu (7 L B T C), stored in
                                        the activation format */
    uint64_t moved_fp32, moved_mx;   /* operand bytes the 3 products of every layer read in one
                                        micro-batch (forward and backward): X and W, dY and W,
                                        dY and X; outputs are fp32 either way and not counted */
};

/* Fills *out for micro-batch B x T (mx NULL: all none). FG_ERR_INVALID_ARG for a bad config,
 * a bad mx, or sizes that overflow. Pure. */
FG_API fg_status fg_model_mx_ledger(const struct fg_model_config *cfg, size_t B, size_t T,
                                    const struct fg_model_mx *mx, struct fg_model_mx_ledger *out);

/* Hardware FLOPs per token that recomputation adds to a training step (0 for NONE): each block
 * but the last re-runs its forward, as counted by fg_model_flops_per_token's forward third,
 * without the fc projection (BLOCK: 16 C^2 + 4 T C per block), or only its attention (ATTN:
 * 4 T C per block). Model FLOPs (fg_model_flops_per_token) do not include them. Pure. */
FG_API double fg_model_recompute_flops_per_token(const struct fg_model_config *cfg, size_t T,
                                                 int recompute);

/* Training FLOPs per token at sequence length T, PaLM convention (Chowdhery et al. 2022,
 * appendix B): 6 * (matmul parameters) + 12 * L * T * C, where the matmul parameters are the
 * 12 L C^2 of the blocks plus the C * Vp of the LM head (embedding lookups are not FLOPs).
 * Forward-only FLOPs are one third of this. Pure. */
FG_API double fg_model_flops_per_token(const struct fg_model_config *cfg, size_t T);

struct fg_model_params {
    struct fg_model_config cfg;
    size_t B, T;           /* activation capacity: largest batch and sequence forward() accepts */
    int training;          /* 1: allocate gradients and backward scratch */
    int n_threads;         /* OpenMP threads for kernels (>= 1) */
    int use_ref;           /* 1: run the scalar _ref kernels (slow; for tests) */
    struct fg_model_mx mx; /* MX emulation of the block linear layers; default all none */
    int weights;           /* enum fg_model_weights; default FG_MODEL_WEIGHTS_FP32 */
    int grad_release;      /* bf16 weights, training: no gradient arena; each tensor slice's
                              gradient goes to the release callback (fg_model_set_release) as
                              soon as it is complete, instead of into g16 */
    int matmul;            /* enum fg_model_matmul; default FG_MODEL_MATMUL_FP32. BF16 does not
                              combine with the MX emulation */
    int attention;         /* enum fg_model_attention; default FG_MODEL_ATTN_STANDARD */
    int recompute;         /* enum fg_model_recompute; default FG_MODEL_RECOMPUTE_NONE; only
                              changes a training model */
    const struct fg_allocator *allocator; /* borrowed; NULL = default. Must outlive the model */
};

FG_API struct fg_model_params fg_model_params_default(void);

/* Views into the activation arena. Per-layer tensors are stacked along L with a stride sized
 * for the capacity (B, T); a smaller forward uses the front of each slot. With recomputation
 * (a training model) the tensors it recomputes have one layer's slot instead of L: BLOCK all
 * but res3, ATTN atty, att and att_lse. */
struct fg_model_acts {
    float *encoded;                   /* (B,T,C)  residual stream entering layer 0 */
    float *ln1, *ln1_mean, *ln1_rstd; /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *qkv;                       /* (L,B,T,3C) */
    float *atty;                      /* (L,B,T,C)  attention output before projection */
    float *att;                       /* (L,B,NH,T,T) softmax probabilities (standard attention;
                                         NULL with tiled) */
    float *att_lse;                   /* (L,B,NH,T) tiled attention: each row's log-sum-exp
                                         (NULL with standard) */
    float *res2;                      /* (L,B,T,C)  residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd; /* (L,B,T,C), (L,B,T), (L,B,T) */
    float *fch, *fch_gelu;            /* (L,B,T,4C) */
    float *res3;                      /* (L,B,T,C)  residual after the MLP = next layer input */
    float *lnf, *lnf_mean, *lnf_rstd; /* (B,T,C), (B,T), (B,T) */
    float *logits;                    /* (B,T,Vp); holds dlogits during backward */
    float *losses;                    /* (B,T) */
    float *lse;                       /* (B,T) log-sum-exp of each row of the logits */
    int32_t *inputs, *targets;        /* (B,T) */
    /* backward scratch, reused by every layer (NULL when not training) */
    float *dres;         /* (B,T,C)  gradient of the residual stream */
    float *dln;          /* (B,T,C) */
    float *dqkv;         /* (B,T,3C) */
    float *datty;        /* (B,T,C) */
    float *dfch;         /* (B,T,4C) */
    float *datt;         /* (B,NH,T,T); tiled attention: (B,NH,T), rowsum(dO * O) */
    float *attn_scratch; /* (B,NH,HS,round_up(T,32)): packed K^T or V^T, or contiguous K/V/Q/dY
                            copies, for the AVX-512 attention */
    /* MX emulation scratch (NULL when MX is off); Tp = round_up(T,32) */
    float *mx_a;        /* (4C,B,Tp) quantized X or dY, or dY transposed to (OC, B, Tp) */
    float *mx_b;        /* (4C,B,Tp) X transposed to (IC, B, Tp); NULL when not training */
    float *mx_w;        /* (4C,C) quantized W, W^T, or the product dY^T X before it is added */
    uint8_t *mx_codes;  /* element codes of the largest of the above */
    uint8_t *mx_scales; /* and their E8M0 scales, one per 32 elements */
};

/* Per-operation wall-clock profile of forward + backward (opt in: fg_model_set_profile). */
enum fg_model_op {
    FG_OP_ENCODER,
    FG_OP_LAYERNORM, /* with the residual adds fused into it (before ln2, and before lnf) */
    FG_OP_MATMUL,
    FG_OP_ATTENTION,
    FG_OP_GELU,
    FG_OP_RESIDUAL,
    FG_OP_HEAD,
    FG_OP_CROSSENTROPY,
    FG_OP_LAYERNORM_BWD,
    FG_OP_MATMUL_BWD,
    FG_OP_ATTENTION_BWD,
    FG_OP_GELU_BWD,
    FG_OP_HEAD_BWD,
    FG_OP_ENCODER_BWD,
    FG_OP_MX_QUANT,  /* MX emulation: transposed copies, quantize + dequantize, bias gradients */
    FG_OP_DECODE,    /* bf16 weights: decoding to fp32, adding gradients into bf16 (with
                       gradient release: the release callback, i.e. the optimizer's step) */
    FG_OP_RECOMPUTE, /* backward re-running forward (fg_model_recompute), all of its kernels */
    FG_MODEL_N_OPS
};

/* Gradient release: called by backward with the complete fp32 gradient g of the n elements
 * starting at element `offset` of the flat buffer, all in tensor `id` and starting on a
 * multiple of 32 when n_embd is: block l's slice of each block tensor right after block l's
 * backward (l = L-1 first), then wpe, lnfw, lnfb, then wte in chunks of rows. g is scratch
 * the callback may modify; it is overwritten afterwards. A non-OK return stops backward with
 * that status. */
typedef fg_status (*fg_model_release_fn)(void *user, int id, size_t offset, float *g, size_t n);

struct fg_model {
    struct fg_model_config cfg;
    size_t Vp;
    size_t B, T; /* capacity */
    int training, n_threads, use_ref;
    struct fg_model_mx mx; /* the emulation's formats (fg_model_mx_on: whether it runs) */
    int attn_avx512;       /* 1: attention runs the AVX-512 kernel (chosen at init from cpuid) */
    struct fg_allocator alloc;
    struct fg_model_mem mem;

    float *params; /* (n_flat) owned: the parameter arena, weights then gradients; NULL for bf16 */
    float *grads;  /* (n_flat) view into the same arena, NULL when not training */
    int weights;   /* enum fg_model_weights */
    int matmul;    /* enum fg_model_matmul */
    int attention; /* enum fg_model_attention */
    int recompute; /* enum fg_model_recompute (NONE when not training) */
    void *gemm_work; /* owned: fg_gemm_bf16's workspace (matmul BF16), else NULL */
    uint16_t *w16;   /* bf16 storage (else NULL): (n_flat) owned arena, weights then gradients */
    uint16_t *g16;   /* (n_flat) view into it, NULL when not training */
    /* bf16 storage: fp32 views into the owned decode scratch `dec`. dw[id] holds the current
     * block's slice of a block tensor (ln1w .. fcprojb), or all of wpe, lnfw, lnfb; dg[id] their
     * gradients (training); wte goes through wchunk / gchunk, chunk_rows rows at a time. */
    float *dec;
    float *dw[FG_MODEL_N_TENSORS], *dg[FG_MODEL_N_TENSORS];
    float *wchunk, *gchunk;
    size_t chunk_rows;
    int g16_clear; /* 1: g16 holds no gradient yet (after zero_grad); backward overwrites it */
    int grad_release;
    fg_model_release_fn release_fn; /* borrowed (fg_model_set_release) */
    void *release_user;
    size_t n_flat;
    size_t offset[FG_MODEL_N_TENSORS]; /* element offset of each tensor in the flat buffer */
    size_t numel[FG_MODEL_N_TENSORS];

    void *act_arena; /* owned: the activation arena */
    struct fg_model_acts a;
    size_t cur_B, cur_T; /* shape of the last forward */
    int have_targets;
    double loss;        /* mean loss of the last forward with targets */
    double *profile_ms; /* borrowed, FG_MODEL_N_OPS sums; NULL = not profiling */
    char errmsg[256];
};

/* Allocates both arenas (nothing else is allocated later). Weights are zero until
 * fg_model_init_weights or a checkpoint load. Caller frees with fg_model_free.
 * FG_ERR_INVALID_ARG for a bad shape or MX setting (fg_model_mx_check gives the reason). */
FG_API fg_status fg_model_init(struct fg_model **out, const struct fg_model_params *p);
FG_API void fg_model_free(struct fg_model *m);
FG_API const char *fg_model_errmsg(const struct fg_model *m);

/* GPT-2 initialization from `seed`: N(0, 0.02) for matrices and embeddings, the residual
 * projections (attprojw, fcprojw) scaled by 1/sqrt(2L), biases 0, LayerNorm gains 1. A bf16
 * model gets the same values rounded to bf16 (nearest even). */
FG_API void fg_model_init_weights(struct fg_model *m, uint64_t seed);

/* Pointer to tensor `id` in the fp32 weights (or gradients); NULL for a bf16 model. */
FG_API float *fg_model_param(struct fg_model *m, int id);
FG_API float *fg_model_grad(struct fg_model *m, int id);
/* Pointer to tensor `id` in the bf16 weights (or gradients); NULL for an fp32 model. */
FG_API uint16_t *fg_model_param16(struct fg_model *m, int id);
FG_API uint16_t *fg_model_grad16(struct fg_model *m, int id);

/* Forward pass over tokens (B,T), B <= capacity B, T <= min(capacity T, block_size).
 * targets may be NULL (then only logits are computed). Token ids must be < vocab_size:
 * checked, FG_ERR_INVALID_ARG otherwise. With targets, m->loss is the mean loss (double sum
 * over positions in order) and FG_ERR_NUMERIC is returned if it is not finite. */
FG_API fg_status fg_model_forward(struct fg_model *m, const int32_t *inputs, const int32_t *targets,
                                  size_t B, size_t T);
/* Logits (cur_B, cur_T, Vp) of the last forward without targets (or before backward). */
FG_API const float *fg_model_logits(const struct fg_model *m);
/* Backward of loss_scale * mean loss of the last forward; ACCUMULATES into the gradients
 * (a bf16 model right after fg_model_zero_grad writes them instead; with grad_release it hands
 * each slice to the release callback and keeps none). Needs a training model and a forward
 * with targets. */
FG_API fg_status fg_model_backward(struct fg_model *m, float loss_scale);
/* Set the release callback of a model created with grad_release (before its first backward;
 * backward fails with FG_ERR_INVALID_ARG without one). */
FG_API void fg_model_set_release(struct fg_model *m, fg_model_release_fn fn, void *user);
/* Zero the gradients. A bf16 model only marks its gradient arena empty (no pass over it):
 * the next backward writes each gradient instead of adding to it, and fg_model_grad16's
 * contents are meaningless until then. */
FG_API void fg_model_zero_grad(struct fg_model *m);

/* Profiling: forward and backward add each operation's wall time (ms, timed around the whole
 * multi-threaded kernel call) to acc_ms[op]; acc_ms has FG_MODEL_N_OPS entries and is borrowed
 * until the next call; NULL stops. Costs two clock reads per kernel call. */
FG_API void fg_model_set_profile(struct fg_model *m, double *acc_ms);
FG_API const char *fg_model_op_name(int op);

#ifdef __cplusplus
}
#endif
#endif
