/* bench_substr: exact-substring dedup (fg_substr_dedup) throughput and memory on a real corpus.
 * Each FILE is read whole: a name ending in .bin holds little-endian uint32 token ids (what
 * `frugal tokenizer encode --format bin` writes; vocabulary --vocab, 50257 by default), any
 * other file is text whose bytes are the tokens (vocabulary 256). The tokens are cut into
 * documents of --doc-tokens tokens, then a copy of every --dup-every-th document is appended
 * at the end, so that there is something to remove besides the corpus's own repeats. One run,
 * timed; memory is the peak of the bytes live through the allocator hook (libdivsufsort's own
 * 257 KiB excluded), per input token.
 *
 *   bench_substr [--min-len L] [--doc-tokens N] [--dup-every K] [--vocab V] FILE...
 * Without FILE: the six novels of data/austen and data/extra/mobydick.txt as bytes (run from
 * the repository root). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/substr.h"

static const char *const default_files[] = { "data/austen/emma.txt",
                                             "data/austen/mansfieldpark.txt",
                                             "data/austen/northangerabbey.txt",
                                             "data/austen/persuasion.txt",
                                             "data/austen/prideprejudice.txt",
                                             "data/austen/sensesensibility.txt",
                                             "data/extra/mobydick.txt" };

/* an allocator that tracks the peak of live bytes */
struct peak {
    size_t live, peak;
};

static void *peak_alloc(void *user, size_t size, size_t align)
{
    struct peak *p = user;
    size_t hdr = align < 64 ? 64 : align; /* size and header length just before the block */
    void *q = NULL;
    if (posix_memalign(&q, align, size + hdr) != 0)
        return NULL;
    char *r = (char *)q + hdr;
    memcpy(r - 2 * sizeof(size_t), &size, sizeof size);
    memcpy(r - sizeof(size_t), &hdr, sizeof hdr);
    p->live += size;
    if (p->live > p->peak)
        p->peak = p->live;
    return r;
}

static void peak_free(void *user, void *ptr)
{
    struct peak *p = user;
    if (!ptr)
        return;
    size_t size, hdr;
    char *r = ptr;
    memcpy(&size, r - 2 * sizeof(size_t), sizeof size);
    memcpy(&hdr, r - sizeof(size_t), sizeof hdr);
    p->live -= size;
    free(r - hdr);
}

static int parse_size(const char *flag, const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || s[0] == '-') {
        fprintf(stderr, "bench_substr: %s needs a positive integer, got '%s'\n", flag, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

int main(int argc, char **argv)
{
    size_t min_len = 50, doc_tokens = 2048, dup_every = 10, vocab_bin = 50257;
    size_t n_files = 0, n_default = sizeof default_files / sizeof default_files[0];
    const char **files = malloc(((size_t)argc + n_default) * sizeof *files);
    for (int i = 1; i < argc; i++) {
        size_t *dst = !strcmp(argv[i], "--min-len")      ? &min_len
                      : !strcmp(argv[i], "--doc-tokens") ? &doc_tokens
                      : !strcmp(argv[i], "--dup-every")  ? &dup_every
                      : !strcmp(argv[i], "--vocab")      ? &vocab_bin
                                                         : NULL;
        if (dst) {
            if (i + 1 >= argc || parse_size(argv[i], argv[i + 1], dst))
                return 2;
            i++;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: bench_substr [--min-len L] [--doc-tokens N] [--dup-every K] "
                            "[--vocab V] FILE...\n");
            return 2;
        } else {
            files[n_files++] = argv[i];
        }
    }
    if (!n_files) {
        n_files = n_default;
        memcpy(files, default_files, sizeof default_files);
    }
    if (vocab_bin > (1u << 31)) {
        fprintf(stderr, "bench_substr: --vocab must be at most 2^31\n");
        return 2;
    }
    /* all tokens of all files, one after the other */
    uint32_t *tok = NULL, vocab = 256;
    size_t T = 0;
    int any_bin = 0;
    for (size_t f = 0; f < n_files; f++) {
        void *buf;
        size_t len;
        char err[256];
        if (fg_read_file(NULL, files[f], &buf, &len, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_substr: %s (run from the repository root)\n", err);
            return 1;
        }
        int bin = ends_with(files[f], ".bin");
        if (bin && len % 4) {
            fprintf(stderr, "bench_substr: %s: %zu bytes is not a whole number of uint32 ids\n",
                    files[f], len);
            return 1;
        }
        size_t n = bin ? len / 4 : len;
        uint32_t *nt = realloc(tok, (T + n + 1) * sizeof *tok);
        if (!nt)
            return 1;
        tok = nt;
        const unsigned char *b = buf;
        for (size_t i = 0; i < n; i++)
            tok[T + i] = bin ? (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
                                   (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24
                             : b[i];
        T += n;
        any_bin |= bin;
        fg_free(NULL, buf);
    }
    if (any_bin)
        vocab = (uint32_t)vocab_bin;
    /* documents: the corpus cut every doc_tokens tokens, then copies of every dup_every-th */
    size_t n1 = (T + doc_tokens - 1) / doc_tokens, n_dup = n1 / dup_every, n = n1 + n_dup;
    const uint32_t **docs = malloc((n ? n : 1) * sizeof *docs);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    for (size_t i = 0; i < n1; i++) {
        docs[i] = tok + i * doc_tokens;
        lens[i] = T - i * doc_tokens < doc_tokens ? T - i * doc_tokens : doc_tokens;
    }
    uint64_t total = T;
    for (size_t i = 0; i < n_dup; i++) {
        docs[n1 + i] = docs[i * dup_every];
        lens[n1 + i] = lens[i * dup_every];
        total += lens[n1 + i];
    }
    struct peak pk = { 0, 0 };
    struct fg_allocator a = { peak_alloc, peak_free, &pk };
    struct fg_substr_params p = fg_substr_params_default();
    p.min_len = min_len;
    p.alloc = &a;
    struct fg_substr_span *spans;
    size_t n_spans;
    struct fg_substr_stats st;
    char err[256];
    double t0 = fg_time_now();
    if (fg_substr_dedup(docs, lens, n, vocab, &p, &spans, &n_spans, &st, err, sizeof err) !=
        FG_OK) {
        fprintf(stderr, "bench_substr: %s\n", err);
        return 1;
    }
    double dt = fg_time_now() - t0;
    printf("substr dedup: %zu docs (%zu copies appended), %llu tokens (vocab %u), min_len %zu\n", n,
           n_dup, (unsigned long long)total, vocab, min_len);
    printf("  removed %llu tokens (%.2f%%) in %zu spans from %zu docs\n",
           (unsigned long long)st.tokens_removed,
           total ? 100.0 * (double)st.tokens_removed / (double)total : 0.0, st.spans,
           st.docs_touched);
    printf("  %.3f s, %.2f M tokens/s", dt, (double)total / dt / 1e6);
    if (!any_bin) /* bytes are tokens: the text rate is the token rate */
        printf(", %.2f MB/s of text", (double)total / dt / 1e6);
    printf("\n  peak memory through the allocator: %.2f bytes per token (%.1f MB)\n",
           (double)pk.peak / (double)total, (double)pk.peak / 1e6);
    fg_free(&a, spans);
    free(docs);
    free(lens);
    free(tok);
    free(files);
    return 0;
}
