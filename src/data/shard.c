/* Token shards (the llm.c layout, uint16 or uint32 ids) and the random-window loader. Files are
 * memory-mapped and checked once on open: header, size, and every token below the vocabulary;
 * after that, ids are read through fg_shard_token, which handles both widths. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/data.h"

static int32_t rd_i32(const unsigned char *p)
{
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}

int fg_shard_token_bytes(const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (!b || len < 12)
        return 0;
    int32_t magic = rd_i32(b), version = rd_i32(b + 4);
    if (magic == FG_SHARD_MAGIC && version == FG_SHARD_VERSION_U16)
        return 2;
    if (magic == FG_SHARD_MAGIC_U32 && version == FG_SHARD_VERSION_U32)
        return 4;
    return 0;
}

int fg_shard_token_bytes_for_vocab(size_t n_vocab)
{
    return n_vocab <= FG_SHARD_U16_MAX_VOCAB ? 2 : 4;
}

fg_status fg_shard_header(void *hdr, size_t n_tokens, int token_bytes)
{
    if (n_tokens > INT32_MAX || (token_bytes != 2 && token_bytes != 4))
        return FG_ERR_INVALID_ARG;
    unsigned char *b = hdr;
    memset(b, 0, FG_SHARD_HEADER_BYTES);
    uint32_t h[3] = { token_bytes == 2 ? FG_SHARD_MAGIC : FG_SHARD_MAGIC_U32,
                      token_bytes == 2 ? FG_SHARD_VERSION_U16 : FG_SHARD_VERSION_U32,
                      (uint32_t)n_tokens };
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 4; k++)
            b[4 * i + k] = (unsigned char)(h[i] >> (8 * k));
    return FG_OK;
}

fg_status fg_shard_check(const void *buf, size_t len, int vocab_size, size_t *n_tokens,
                         int *max_token, char *errmsg, size_t errmsg_len)
{
    const unsigned char *b = buf;
    if (len < FG_SHARD_HEADER_BYTES) {
        snprintf(errmsg, errmsg_len,
                 "is %zu bytes, shorter than the %d-byte shard header (empty or not a token "
                 "shard; make one with `frugal prepare`)",
                 len, FG_SHARD_HEADER_BYTES);
        return FG_ERR_FORMAT;
    }
    int32_t magic = rd_i32(b), version = rd_i32(b + 4), count = rd_i32(b + 8);
    if (magic != FG_SHARD_MAGIC && magic != FG_SHARD_MAGIC_U32) {
        snprintf(errmsg, errmsg_len,
                 "has magic %d, not %d (uint16 tokens) or %d (uint32 tokens): not an llm.c "
                 "token shard (make one with `frugal prepare`)",
                 (int)magic, FG_SHARD_MAGIC, FG_SHARD_MAGIC_U32);
        return FG_ERR_FORMAT;
    }
    int width = fg_shard_token_bytes(b, len);
    if (width == 0) {
        int want = magic == FG_SHARD_MAGIC ? FG_SHARD_VERSION_U16 : FG_SHARD_VERSION_U32;
        snprintf(errmsg, errmsg_len,
                 "has magic %d with version %d; this build reads version %d with that magic "
                 "(%s tokens)",
                 (int)magic, (int)version, want,
                 want == FG_SHARD_VERSION_U16 ? "uint16" : "uint32");
        return FG_ERR_FORMAT;
    }
    size_t body = len - FG_SHARD_HEADER_BYTES;
    if (count < 0 || body % (size_t)width != 0 || (size_t)count != body / (size_t)width) {
        snprintf(errmsg, errmsg_len,
                 "header says %d tokens (%lld bytes of uint%d) but the file holds %zu token "
                 "bytes: truncated or corrupt",
                 (int)count, (long long)count * width, 8 * width, body);
        return FG_ERR_FORMAT;
    }
    const unsigned char *t = b + FG_SHARD_HEADER_BYTES;
    int64_t maxv = -1;
    for (size_t i = 0; i < (size_t)count; i++) {
        const unsigned char *p = t + i * (size_t)width;
        int64_t v = (int64_t)((uint32_t)p[0] | (uint32_t)p[1] << 8);
        if (width == 4)
            v |= (int64_t)((uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        if (v > maxv)
            maxv = v;
        if (v > INT32_MAX || (vocab_size > 0 && v >= vocab_size)) {
            if (vocab_size > 0)
                snprintf(errmsg, errmsg_len,
                         "token %zu has id %lld, outside the vocabulary of %d (shard made with a "
                         "different tokenizer? set --vocab-size or re-prepare the data)",
                         i, (long long)v, vocab_size);
            else
                snprintf(errmsg, errmsg_len,
                         "token %zu has id %lld, above the largest id frugal reads (2^31 - 1): "
                         "corrupt",
                         i, (long long)v);
            return FG_ERR_FORMAT;
        }
    }
    *n_tokens = (size_t)count;
    if (max_token)
        *max_token = (int)maxv;
    return FG_OK;
}

fg_status fg_shard_open(struct fg_shard *s, const char *path, int vocab_size, char *errmsg,
                        size_t errmsg_len)
{
    memset(s, 0, sizeof *s);
    char what[300], inner[240];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(what, sizeof what, "cannot open data file %s", path);
        fg_errno_msg(errmsg, errmsg_len, errno, what);
        return FG_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(errmsg, errmsg_len, "data file %s is not a regular file", path);
        close(fd);
        return FG_ERR_IO;
    }
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            snprintf(what, sizeof what, "cannot map data file %s", path);
            fg_errno_msg(errmsg, errmsg_len, errno, what);
            close(fd);
            return FG_ERR_IO;
        }
    }
    close(fd);
    size_t n = 0;
    int maxv = -1;
    fg_status rc = fg_shard_check(map ? map : "", len, vocab_size, &n, &maxv, inner, sizeof inner);
    if (rc != FG_OK) {
        snprintf(errmsg, errmsg_len, "data file %s %s", path, inner);
        if (map)
            munmap(map, len);
        return rc;
    }
    s->map = map;
    s->map_len = len;
    s->mapped = 1;
    s->tokens = (const char *)map + FG_SHARD_HEADER_BYTES;
    s->n_tokens = n;
    s->token_bytes = fg_shard_token_bytes(map, len);
    s->max_token = maxv;
    s->crc32c = fg_crc32c(0, s->tokens, n * (size_t)s->token_bytes);
    return FG_OK;
}

void fg_shard_close(struct fg_shard *s)
{
    if (s && s->map && s->mapped)
        munmap(s->map, s->map_len);
    if (s)
        memset(s, 0, sizeof *s);
}

fg_status fg_shard_write(const char *path, const uint16_t *tokens, size_t n, char *errmsg,
                         size_t errmsg_len)
{
    if (n > INT32_MAX) {
        snprintf(errmsg, errmsg_len, "%zu tokens exceed one shard's limit of %d", n, INT32_MAX);
        return FG_ERR_INVALID_ARG;
    }
    unsigned char hdr[FG_SHARD_HEADER_BYTES];
    fg_shard_header(hdr, n, 2);
    struct fg_atomic_file f;
    FG_TRY(fg_atomic_open(&f, path, errmsg, errmsg_len));
    fg_status st = fg_atomic_write(&f, hdr, sizeof hdr, errmsg, errmsg_len);
    /* tokens are written little-endian in blocks */
    unsigned char buf[8192];
    for (size_t i = 0; i < n && !st;) {
        size_t k = 0;
        for (; k < sizeof buf / 2 && i < n; k++, i++) {
            buf[2 * k] = (unsigned char)(tokens[i] & 0xFF);
            buf[2 * k + 1] = (unsigned char)(tokens[i] >> 8);
        }
        st = fg_atomic_write(&f, buf, 2 * k, errmsg, errmsg_len);
    }
    if (st) {
        fg_atomic_abort(&f);
        return st;
    }
    return fg_atomic_commit(&f, errmsg, errmsg_len);
}

fg_status fg_loader_init(struct fg_loader *l, const struct fg_shard *s, size_t B, size_t T,
                         uint64_t seed, char *errmsg, size_t errmsg_len)
{
    memset(l, 0, sizeof *l);
    size_t bt = 0;
    if (B == 0 || T == 0 || fg_size_mul(B, T, &bt) != FG_OK || s->n_tokens <= bt) {
        snprintf(errmsg, errmsg_len,
                 "has %zu tokens; a batch of %zu x %zu needs at least %zu (use more data or a "
                 "smaller --batch/--seq)",
                 s->n_tokens, B, T, bt ? bt + 1 : B * T + 1);
        return FG_ERR_INVALID_ARG;
    }
    l->shard = s;
    l->B = B;
    l->T = T;
    fg_rng_seed(&l->rng, seed);
    return FG_OK;
}

void fg_loader_next(struct fg_loader *l, int32_t *inputs, int32_t *targets)
{
    size_t T = l->T, n_start = l->shard->n_tokens - T; /* starts in [0, n - T - 1] */
    for (size_t b = 0; b < l->B; b++) {
        size_t s = (size_t)fg_rng_below(&l->rng, n_start);
        for (size_t t = 0; t < T; t++) {
            inputs[b * T + t] = (int32_t)fg_shard_token(l->shard, s + t);
            targets[b * T + t] = (int32_t)fg_shard_token(l->shard, s + t + 1);
        }
    }
    l->n_batches++;
}

int fg_shard_window(const struct fg_shard *s, size_t k, size_t B, size_t T, int32_t *inputs,
                    int32_t *targets)
{
    if (B == 0 || T == 0 || B > s->n_tokens || T > s->n_tokens / B || k >= s->n_tokens / (B * T))
        return 0;
    size_t start = k * B * T;
    if (start + B * T + 1 > s->n_tokens)
        return 0;
    for (size_t i = 0; i < B * T; i++) {
        inputs[i] = (int32_t)fg_shard_token(s, start + i);
        targets[i] = (int32_t)fg_shard_token(s, start + i + 1);
    }
    return 1;
}
