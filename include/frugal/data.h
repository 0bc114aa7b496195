/* frugal data: token shards in the llm.c layout and the batch loader.
 *
 * Shard layout (llm.c, dev/data/data_common.py, little-endian):
 *   header: 256 x int32; [0] = magic, [1] = version, [2] = number of tokens; the rest zero
 *   body:   that many token ids
 * Two variants, as llm.c's HEADERS_INFO names them:
 *   "gpt-2"   magic 20240520, version 1: uint16 ids (vocabularies of at most 65,535 ids)
 *   "llama-3" magic 20240801, version 7: uint32 ids (larger vocabularies); frugal reads ids
 *             up to 2^31 - 1 (the model's ids are int32)
 * Writers choose the variant by vocabulary size (fg_shard_token_bytes_for_vocab); readers
 * accept both. fg_shard_open memory-maps the file, validates the header against the file size
 * and checks that every token is below the vocabulary size, so training never sees a bad id.
 */
#ifndef FRUGAL_DATA_H
#define FRUGAL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FG_SHARD_MAGIC         20240520 /* uint16 tokens */
#define FG_SHARD_VERSION_U16   1
#define FG_SHARD_MAGIC_U32     20240801 /* uint32 tokens */
#define FG_SHARD_VERSION_U32   7
#define FG_SHARD_HEADER_BYTES  1024
#define FG_SHARD_U16_MAX_VOCAB 65535 /* larger vocabularies are written as uint32 shards */

struct fg_shard {
    const void *tokens; /* (n_tokens) ids of token_bytes each, little-endian, in the mapping;
                           read them with fg_shard_token */
    size_t n_tokens;
    int token_bytes; /* 2 (uint16 shard) or 4 (uint32 shard) */
    uint32_t crc32c; /* CRC-32C of the token bytes: the data fingerprint */
    int max_token;   /* largest id present, -1 if empty */
    void *map;       /* owned mapping (or buffer when opened from memory) */
    size_t map_len;
    int mapped;
};

/* Token i of an open shard (i < n_tokens). */
static inline uint32_t fg_shard_token(const struct fg_shard *s, size_t i)
{
    const unsigned char *p = (const unsigned char *)s->tokens + i * (size_t)s->token_bytes;
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8;
    if (s->token_bytes == 4)
        v |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return v;
}

/* Validate a shard image in memory (buffer entry point for fuzzing), either variant: header,
 * size, and every token < vocab_size (vocab_size <= 0 skips the range check; ids of a uint32
 * shard must be below 2^31 in any case). On success *n_tokens and *max_token (if not NULL) are
 * set; fg_shard_token_bytes tells the width of the ids. FG_ERR_FORMAT with a message (which
 * starts with a verb, for "data file X <message>") otherwise. No allocation. */
FG_API fg_status fg_shard_check(const void *buf, size_t len, int vocab_size, size_t *n_tokens,
                                int *max_token, char *errmsg, size_t errmsg_len);
/* Bytes per token id of the shard whose header starts buf[0..len): 2 (magic 20240520,
 * version 1), 4 (magic 20240801, version 7), or 0 when len < 12 or the magic and version are
 * neither. The tokens start at byte FG_SHARD_HEADER_BYTES. */
FG_API int fg_shard_token_bytes(const void *buf, size_t len);
/* The width writers use for a vocabulary of n_vocab ids: 2 up to FG_SHARD_U16_MAX_VOCAB, else
 * 4. */
FG_API int fg_shard_token_bytes_for_vocab(size_t n_vocab);
/* The 1024-byte header of a shard of n_tokens ids of token_bytes (2 or 4) each, into
 * hdr[0..FG_SHARD_HEADER_BYTES). FG_ERR_INVALID_ARG when n_tokens > INT32_MAX or the width is
 * neither. For writers that stream the tokens themselves. */
FG_API fg_status fg_shard_header(void *hdr, size_t n_tokens, int token_bytes);
/* Map and validate a shard file. Messages name the file and what to do. */
FG_API fg_status fg_shard_open(struct fg_shard *s, const char *path, int vocab_size, char *errmsg,
                               size_t errmsg_len);
FG_API void fg_shard_close(struct fg_shard *s);
/* Write tokens (all < 65536) as a uint16 shard, atomically (temporary file, fsync, rename). */
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
