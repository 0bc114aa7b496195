/* Private declarations shared by the model translation units. */
#ifndef FRUGAL_MODEL_INT_H
#define FRUGAL_MODEL_INT_H

#include "frugal/model.h"

/* Fills offset/numel per tensor and *n_params; returns the flat buffer length in elements. */
size_t fg_model_param_layout(const struct fg_model_config *cfg, size_t offset[], size_t numel[],
                             size_t *n_params);

/* What shapes the activation arena besides the config and capacity. */
struct fg_model_act_opts {
    int training;
    const struct fg_model_mx *mx; /* NULL: no MX emulation */
    int attention;                /* enum fg_model_attention */
    int recompute;                /* enum fg_model_recompute (training only) */
    int alias_scratch; /* training: the scratch used after the LM head's backward (dres, dqkv,
                          datty, dfch, datt) shares the logits' memory; needs fp32 weights
                          (a bf16 model reads dlogits again at the end of backward) */
};

/* Lays out the activation arena: fills `a` relative to base (NULL = sizing only), returns its
 * size in bytes (0 on overflow), *scratch_bytes the training-only bytes beyond the forward's,
 * *mx_bytes the MX emulation's. */
size_t fg_model_act_layout(const struct fg_model_config *cfg, size_t B, size_t T,
                           const struct fg_model_act_opts *o, void *base, struct fg_model_acts *a,
                           size_t *scratch_bytes, size_t *mx_bytes);
/* fg_model_mem_size_mx with the other activation options */
fg_status fg_model_mem_size_opts(const struct fg_model_config *cfg, size_t B, size_t T,
                                 const struct fg_model_act_opts *o, struct fg_model_mem *out);

/* bf16 weight storage: the fp32 decode scratch (model.h, struct fg_model). Fills dw, dg, wchunk,
 * gchunk relative to base (NULL = sizing only) and *chunk_rows; returns its size in bytes. */
size_t fg_model_decode_layout(const struct fg_model_config *cfg, int training, void *base,
                              float *dw[], float *dg[], float **wchunk, float **gchunk,
                              size_t *chunk_rows);

#endif
