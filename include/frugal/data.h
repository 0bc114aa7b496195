/* frugal data: token shards in the llm.c layout and the batch loader.
 *
 * Shard layout (llm.c, little-endian):
 *   header: 256 x int32; [0] = 20240520 (magic), [1] = 1 (version: uint16 tokens),
 *           [2] = number of tokens; the rest zero
 *   body:   that many uint16 token ids
 * fg_shard_open memory-maps the file, validates the header against the file size and checks
 * that every token is below the vocabulary size, so training never sees a bad id.
 */
#ifndef FRUGAL_DATA_H
#define FRUGAL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FG_SHARD_MAGIC        20240520
#define FG_SHARD_VERSION_U16  1
#define FG_SHARD_HEADER_BYTES 1024

struct fg_shard {
    const uint16_t *tokens; /* (n_tokens) view into the mapping */
    size_t n_tokens;
    uint32_t crc32c; /* CRC-32C of the token bytes: the data fingerprint */
    int max_token;   /* largest id present, -1 if empty */
    void *map;       /* owned mapping (or buffer when opened from memory) */
    size_t map_len;
    int mapped;
};

/* Validate a shard image in memory (buffer entry point for fuzzing): header, size, and every
 * token < vocab_size (vocab_size <= 0 skips the range check). On success *n_tokens is set. */
FG_API fg_status fg_shard_check(const void *buf, size_t len, int vocab_size, size_t *n_tokens,
                                int *max_token, char *errmsg, size_t errmsg_len);
/* Map and validate a shard file. Messages name the file and what to do. */
FG_API fg_status fg_shard_open(struct fg_shard *s, const char *path, int vocab_size, char *errmsg,
                               size_t errmsg_len);
FG_API void fg_shard_close(struct fg_shard *s);
/* Write tokens (all < 65536) as a shard, atomically. */
FG_API fg_status fg_shard_write(const char *path, const uint16_t *tokens, size_t n, char *errmsg,
                                size_t errmsg_len);

/* The training loader: each micro-batch is B windows of T+1 tokens whose start positions are
 * drawn uniformly from the shard with the loader's own RNG (nanoGPT's sampling). Its whole
 * state is the RNG state plus a batch counter, which a checkpoint stores: a resumed run draws
 * exactly the batches an uninterrupted run would. */
struct fg_loader {
    const struct fg_shard *shard; /* borrowed */
    size_t B, T;
    struct fg_rng rng;
    uint64_t n_batches; /* micro-batches drawn so far */
};

/* Needs at least B*T+1 tokens... and at least T+1 for any window: FG_ERR_INVALID_ARG
 * otherwise, with a message saying how many tokens are needed. */
FG_API fg_status fg_loader_init(struct fg_loader *l, const struct fg_shard *s, size_t B, size_t T,
                                uint64_t seed, char *errmsg, size_t errmsg_len);
/* inputs and targets are (B,T); targets are inputs shifted by one. */
FG_API void fg_loader_next(struct fg_loader *l, int32_t *inputs, int32_t *targets);
/* Sequential window k (k = 0, 1, ...) for evaluation: batch rows are consecutive, disjoint
 * windows of T+1 tokens starting at k*B*T. Returns 0 when the shard has no such window. */
FG_API int fg_shard_window(const struct fg_shard *s, size_t k, size_t B, size_t T, int32_t *inputs,
                           int32_t *targets);

#ifdef __cplusplus
}
#endif
#endif
