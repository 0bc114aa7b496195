/* Private declarations shared by the model translation units. */
#ifndef FRUGAL_MODEL_INT_H
#define FRUGAL_MODEL_INT_H

#include "frugal/model.h"

/* Fills offset/numel per tensor and *n_params; returns the flat buffer length in elements. */
size_t fg_model_param_layout(const struct fg_model_config *cfg, size_t offset[], size_t numel[],
                             size_t *n_params);
size_t fg_model_act_layout(const struct fg_model_config *cfg, size_t B, size_t T, int training,
                           const struct fg_model_mx *mx, int attention, void *base,
                           struct fg_model_acts *a, size_t *scratch_bytes, size_t *mx_bytes);
/* fg_model_mem_size_mx with the attention kernel's activations (enum fg_model_attention) */
fg_status fg_model_mem_size_attn(const struct fg_model_config *cfg, size_t B, size_t T,
                                 int training, const struct fg_model_mx *mx, int attention,
                                 struct fg_model_mem *out);

/* bf16 weight storage: the fp32 decode scratch (model.h, struct fg_model). Fills dw, dg, wchunk,
 * gchunk relative to base (NULL = sizing only) and *chunk_rows; returns its size in bytes. */
size_t fg_model_decode_layout(const struct fg_model_config *cfg, int training, void *base,
                              float *dw[], float *dg[], float **wchunk, float **gchunk,
                              size_t *chunk_rows);

#endif
