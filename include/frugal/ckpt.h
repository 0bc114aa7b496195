/* frugal checkpoints: the safetensors container and the training checkpoint built on it.
 *
 * safetensors layout (https://github.com/huggingface/safetensors, public format):
 *   bytes 0..7   N, little-endian uint64: length of the JSON header
 *   bytes 8..8+N JSON object: {"<tensor name>": {"dtype": "F32", "shape": [d0, d1, ...],
 *                "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "string", ...}}
 *                frugal pads the header with spaces to a multiple of 8 bytes
 *   then         the data section; offsets are relative to its start; tensors are contiguous,
 *                row-major, little-endian, non-overlapping and cover the section exactly.
 *
 * A frugal training checkpoint stores every parameter tensor under its model name (wte, wpe,
 * ... see model.h; F32, or BF16 with --optim-storage flash), the optimizer state (fp32
 * storage: "optim.m" and "optim.v", flat F32; flash: "optim.rho", "optim.m.codes",
 * "optim.m.scales", "optim.v.codes", "optim.v.scales"), and in __metadata__ (all values are
 * strings; JSON where noted):
 *   "format": "frugal-checkpoint", "format_version": "1",
 *   "config": JSON {n_layer, n_head, n_embd, block_size, vocab_size},
 *   "step": completed optimizer steps, "rng": loader RNG state (4 x 16 hex digits),
 *   "loader": JSON {"batches": n}, "data_fingerprint": CRC32C of the
 *   training tokens as 8 hex digits plus their count, "train": JSON of the hyperparameters,
 *   "crc32c": JSON {tensor name: 8 hex digits}: CRC-32C of each tensor's bytes,
 *   "grad_norm": the last step's gradient norm (%.17g), "storage": "fp32" or "flash".
 * docs/formats.md describes the same layout with an example.
 */
#ifndef FRUGAL_CKPT_H
#define FRUGAL_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"
#include "frugal/model.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fg_dtype {
    FG_DTYPE_F32,
    FG_DTYPE_F64,
    FG_DTYPE_F16,
    FG_DTYPE_BF16,
    FG_DTYPE_I64,
    FG_DTYPE_I32,
    FG_DTYPE_I16,
    FG_DTYPE_I8,
    FG_DTYPE_U8,
    FG_DTYPE_U16,
    FG_DTYPE_U32,
    FG_DTYPE_COUNT
};

FG_API const char *fg_dtype_name(enum fg_dtype d); /* "F32" ... */
FG_API size_t fg_dtype_size(enum fg_dtype d);

#define FG_ST_MAX_DIMS 8

struct fg_st_tensor {
    const char *name;
    enum fg_dtype dtype;
    int ndim;
    int64_t shape[FG_ST_MAX_DIMS];
    const void *data; /* borrowed: points into the file buffer (reader) or caller memory;
                         NULL after fg_st_load_header */
    size_t nbytes;
    uint64_t offset; /* reader: start of the data relative to the data section */
};

struct fg_st_kv {
    const char *key, *value;
};

/* A parsed safetensors file. Everything it points to is owned by it. */
struct fg_st_file {
    struct fg_allocator alloc;
    void *buf; /* the whole file when loaded by fg_st_load (owned), else NULL */
    size_t n_tensors;
    struct fg_st_tensor *tensors;
    size_t n_meta;
    struct fg_st_kv *meta;
    char *strings;       /* owned storage for names, keys and values */
    uint64_t data_start; /* file offset of the data section (8 + header length) */
};

/* Parse a safetensors image from memory. `buf` is borrowed and must outlive *out (tensor data
 * points into it). Strict: bad JSON, unknown dtype, size mismatch, overlap, gaps, trailing
 * bytes or out-of-range offsets give FG_ERR_FORMAT with the reason in errmsg. Caller frees
 * *out with fg_st_free. */
FG_API fg_status fg_st_parse(const void *buf, size_t len, const struct fg_allocator *a,
                             struct fg_st_file **out, char *errmsg, size_t errmsg_len);
/* Read and parse a file; the returned object owns the file bytes. */
FG_API fg_status fg_st_load(const char *path, const struct fg_allocator *a, struct fg_st_file **out,
                            char *errmsg, size_t errmsg_len);
/* Read and validate only the header of a file (tensor data is not read: data pointers are
 * NULL; offsets and data_start locate each tensor for a later read). Offsets are checked
 * against the file's size. Lets a caller read tensors straight into their destination. */
FG_API fg_status fg_st_load_header(const char *path, const struct fg_allocator *a,
                                   struct fg_st_file **out, char *errmsg, size_t errmsg_len);
FG_API void fg_st_free(struct fg_st_file *f);
FG_API const struct fg_st_tensor *fg_st_find(const struct fg_st_file *f, const char *name);
FG_API const char *fg_st_meta(const struct fg_st_file *f, const char *key);

/* Write tensors (in the given order) and metadata atomically (temp file, fsync, rename).
 * fail_after_bytes > 0 injects a write failure after that many bytes (tests). On any failure
 * the previous file at `path`, if any, is untouched and no temporary file remains. */
FG_API fg_status fg_st_write(const char *path, const struct fg_st_tensor *t, size_t n,
                             const struct fg_st_kv *meta, size_t n_meta, uint64_t fail_after_bytes,
                             char *errmsg, size_t errmsg_len);

/* ---- training checkpoints ----------------------------------------------------------------- */
struct fg_model;

/* Everything besides weights and moments that a resumed run needs to continue bit for bit. */
struct fg_ckpt_state {
    int64_t step;          /* completed optimizer steps */
    uint64_t rng[4];       /* loader RNG state */
    uint64_t n_batches;    /* micro-batches drawn */
    uint32_t data_crc;     /* fingerprint of the training tokens */
    uint64_t data_tokens;  /* and their count */
    char train_json[1024]; /* trajectory hyperparameters (JSON): resume defaults and checks */
    double grad_norm;      /* the last step's gradient norm (gradient release clips the next
                              step with it); NaN when absent */
};

/* Save weights, AdamW moments m and v (model->n_flat floats each) and state atomically.
 * fail_after_bytes > 0 injects a write failure (tests). */
FG_API fg_status fg_ckpt_save(const char *path, const struct fg_model *model, const float *m,
                              const float *v, const struct fg_ckpt_state *st,
                              uint64_t fail_after_bytes, char *errmsg, size_t errmsg_len);

/* A tensor of optimizer state saved beside the weights, as it is in memory: n elements of
 * dtype at data (1-D in the file). */
struct fg_ckpt_extra {
    const char *name;
    enum fg_dtype dtype;
    size_t n;
    void *data;
};

/* Save the weights in the model's own storage (F32, or BF16 for a bf16 model), the extra
 * tensors as they are, and the state, atomically with a CRC-32C per tensor. "storage"
 * metadata (storage, may be NULL) records how the optimizer state was kept, e.g. "flash".
 * Extra tensors need data and distinct names of 1-64 printable characters without quotes or
 * backslashes (FG_ERR_INVALID_ARG otherwise); at most 8. */
FG_API fg_status fg_ckpt_save_ex(const char *path, const struct fg_model *model,
                                 const struct fg_ckpt_extra *x, size_t n_extra, const char *storage,
                                 const struct fg_ckpt_state *st, uint64_t fail_after_bytes,
                                 char *errmsg, size_t errmsg_len);
/* Read only the model config of a checkpoint (to build a model of the right shape). */
FG_API fg_status fg_ckpt_read_config(const char *path, struct fg_model_config *cfg, char *errmsg,
                                     size_t errmsg_len);
/* Copy the __metadata__ value of `key` (e.g. "train", "step") into out (NUL-terminated).
 * FG_ERR_FORMAT if the key is absent or longer than out_len - 1. */
FG_API fg_status fg_ckpt_read_meta(const char *path, const char *key, char *out, size_t out_len,
                                   char *errmsg, size_t errmsg_len);
/* Load into an existing model whose config must equal the checkpoint's (FG_ERR_INVALID_ARG
 * with both values named otherwise). Every tensor's CRC-32C is verified first (FG_ERR_FORMAT on
 * mismatch). m, v and st may be NULL (weights only: eval, sample). */
FG_API fg_status fg_ckpt_load(const char *path, struct fg_model *model, float *m, float *v,
                              struct fg_ckpt_state *st, char *errmsg, size_t errmsg_len);
/* As fg_ckpt_load, with extra tensors of the given dtypes and sizes read into their data
 * (FG_ERR_FORMAT naming the tensor if one is absent or of another dtype or size: extra tensors
 * are never converted). Weights are converted to the model's storage: BF16 into an fp32 model
 * exactly, F32 into a bf16 model rounded to nearest even. */
FG_API fg_status fg_ckpt_load_ex(const char *path, struct fg_model *model,
                                 const struct fg_ckpt_extra *x, size_t n_extra,
                                 struct fg_ckpt_state *st, char *errmsg, size_t errmsg_len);

/* Export a checkpoint's weights as a plain safetensors file for other tools: the 16 model
 * tensors under their names and shapes (model.h; wte keeps its padded rows, which are zero),
 * as F32 or BF16 (dtype), with "format": "frugal-weights", "config" and "step" metadata; no
 * optimizer state. The weights exported are the master weights: an fp32 checkpoint's as they
 * are (BF16: rounded to nearest even); a flash checkpoint's bf16 weights joined with their
 * correction (optim.rho) for F32, or its bf16 weights as they are for BF16. Written
 * atomically. */
FG_API fg_status fg_ckpt_export(const char *ckpt_path, const char *out_path, enum fg_dtype dtype,
                                char *errmsg, size_t errmsg_len);

#ifdef __cplusplus
}
#endif
#endif
