/* bench_tokenizer: GPT-2 BPE encode and decode speed on novels.txt (5.28 MB of English prose).
 *
 *   bench_tokenizer [--reps N] [--threads N]      (run from the repository root)
 *
 * novels.txt is data/austen/<the six novels, alphabetical>.txt then data/extra/mobydick.txt,
 * built in memory. First it validates: the ids must be GPT-2's (1,336,163 of them, the first
 * ones as tiktoken gives), the fast encoder must equal fg_tokenizer_encode_ref on
 * persuasion.txt, the document-parallel output must equal per-document encoding, and decode
 * must give the text back. Then it times, best of --reps (default 3):
 *   - one thread, the whole text in one call: cold (a fresh tokenizer, empty word cache) and warm;
 *   - --threads threads (default 2) over the text split into ~64 KB documents at blank lines
 *     (fg_tokenizer_encode_docs, warm);
 *   - decode of all ids.
 * The anchor to beat is 2x gpt-tokenizer's 12.5 MB/s = 25 MB/s on one thread. Prints human
 * lines and one `JSON {...}` line. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/tokenizer.h"

static const char *const files[] = {
    "data/austen/emma.txt",
    "data/austen/mansfieldpark.txt",
    "data/austen/northangerabbey.txt",
    "data/austen/persuasion.txt",
    "data/austen/prideprejudice.txt",
    "data/austen/sensesensibility.txt",
    "data/extra/mobydick.txt",
};
#define N_FILES (sizeof files / sizeof files[0])

static struct fg_tokenizer *load(int n_threads, double *ms)
{
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.n_threads = n_threads;
    struct fg_tokenizer *tok = NULL;
    char err[256];
    double t0 = fg_time_now();
    if (fg_tokenizer_load_gpt2(&tok, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe", &p, err,
                               sizeof err) != FG_OK) {
        fprintf(stderr, "bench_tokenizer: %s (run from the repository root)\n", err);
        return NULL;
    }
    if (ms)
        *ms = (fg_time_now() - t0) * 1e3;
    return tok;
}

/* Split text into documents of about `target` bytes, each ending after a blank line. */
static size_t split_docs(const uint8_t *text, size_t n, size_t target, const void **docs,
                         size_t *lens, size_t max_docs)
{
    size_t n_docs = 0, start = 0;
    while (start < n && n_docs < max_docs) {
        size_t end = start + target < n ? start + target : n;
        while (end < n && !(text[end - 1] == '\n' && (text[end] == '\n' || text[end] == '\r')))
            end++;
        docs[n_docs] = text + start;
        lens[n_docs++] = end - start;
        start = end;
    }
    if (start < n) /* fold any rest into the last document */
        lens[n_docs - 1] += n - start;
    return n_docs;
}

static int fail(const char *what, struct fg_tokenizer *tok)
{
    fprintf(stderr, "bench_tokenizer: %s%s%s\n", what, tok ? ": " : "",
            tok ? fg_tokenizer_errmsg(tok) : "");
    return 1;
}

/* novels.txt, the output buffers and the document split. */
struct bench {
    uint8_t *text, *back; /* (n) the text; decode output */
    size_t n, file_off[N_FILES + 1];
    uint32_t *ids, *ids2; /* (n), (n + 1) */
    const void **docs;
    size_t *lens, *start, n_docs; /* (n_docs), (n_docs + 1) */
};

static int bench_init(struct bench *b)
{
    memset(b, 0, sizeof *b);
    for (size_t f = 0; f < N_FILES; f++) {
        void *buf = NULL;
        size_t len = 0;
        char err[256];
        if (fg_read_file(NULL, files[f], &buf, &len, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_tokenizer: %s (run from the repository root)\n", err);
            return 0;
        }
        uint8_t *t = realloc(b->text, b->n + len);
        if (!t) {
            fg_free(NULL, buf);
            return 0;
        }
        b->text = t;
        memcpy(b->text + b->n, buf, len);
        b->file_off[f] = b->n;
        b->n += len;
        fg_free(NULL, buf);
    }
    b->file_off[N_FILES] = b->n;
    size_t max_docs = b->n / 1024 + 2;
    b->ids = malloc(b->n * sizeof *b->ids);
    b->ids2 = malloc((b->n + 1) * sizeof *b->ids2);
    b->back = malloc(b->n);
    b->docs = malloc(max_docs * sizeof *b->docs);
    b->lens = malloc(max_docs * sizeof *b->lens);
    b->start = malloc((max_docs + 1) * sizeof *b->start);
    if (!b->ids || !b->ids2 || !b->back || !b->docs || !b->lens || !b->start)
        return 0;
    b->n_docs = split_docs(b->text, b->n, 65536, b->docs, b->lens, max_docs);
    return 1;
}

static void bench_free(struct bench *b)
{
    free(b->text);
    free(b->back);
    free(b->ids);
    free(b->ids2);
    free(b->docs);
    free(b->lens);
    free(b->start);
}

/* Check the n_ids ids in b->ids (the whole text) and every other path against them. */
static int validate(struct bench *b, struct fg_tokenizer *tok, size_t n_ids)
{
    static const uint32_t first[] = { 3620, 5673, 198, 198, 3886, 12091,
                                      2517, 268,  628, 628, 198,  44558 };
    if (b->n != 5282326 || n_ids != 1336163 || memcmp(b->ids, first, sizeof first) != 0)
        return fail("the ids are not GPT-2's (is data/ changed?)", NULL);
    size_t n_ref = 0, n_fast = 0, off = b->file_off[3], len = b->file_off[4] - off;
    uint32_t *ref = b->ids2, *fast = b->ids2 + len;
    if (fg_tokenizer_encode_ref(tok, b->text + off, len, 0, ref, len, &n_ref) != FG_OK ||
        fg_tokenizer_encode(tok, b->text + off, len, 0, fast, len, &n_fast) != FG_OK ||
        n_ref != n_fast || memcmp(ref, fast, n_ref * sizeof *ref) != 0)
        return fail("fast and reference encoders differ on persuasion.txt", tok);
    size_t back_len = 0;
    if (fg_tokenizer_decode(tok, b->ids, n_ids, b->back, b->n, &back_len) != FG_OK ||
        back_len != b->n || memcmp(b->back, b->text, b->n) != 0)
        return fail("decode(encode(text)) != text", tok);
    if (fg_tokenizer_encode_docs(tok, b->docs, b->lens, b->n_docs, 0, b->ids2, b->n + 1,
                                 b->start) != FG_OK)
        return fail("encode_docs", tok);
    for (size_t d = 0; d < b->n_docs; d++) {
        size_t m = 0;
        if (fg_tokenizer_encode(tok, b->docs[d], b->lens[d], 0, b->ids, b->n, &m) != FG_OK ||
            m != b->start[d + 1] - b->start[d] ||
            memcmp(b->ids, b->ids2 + b->start[d], m * sizeof *b->ids) != 0)
            return fail("encode_docs differs from encoding each document", tok);
    }
    printf("validated: %zu ids (GPT-2's), fast == ref on persuasion.txt, round trip exact, "
           "%zu documents in parallel == one by one\n",
           n_ids, b->n_docs);
    return 0;
}

int main(int argc, char **argv)
{
    int reps = 3, threads = 2;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc || (strcmp(argv[i], "--reps") && strcmp(argv[i], "--threads"))) {
            fprintf(stderr, "usage: bench_tokenizer [--reps N] [--threads N]\n");
            return 2;
        }
        char *end = NULL;
        long v = strtol(argv[i + 1], &end, 10);
        if (!end || *end || v < 1 || v > 256) {
            fprintf(stderr, "bench_tokenizer: %s must be 1..256\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--reps"))
            reps = (int)v;
        else
            threads = (int)v;
    }
    struct bench b;
    if (!bench_init(&b)) {
        bench_free(&b);
        return fail("cannot read novels.txt or allocate the buffers", NULL);
    }
    /* cold: a fresh tokenizer, the word cache empty */
    double load_ms = 0;
    struct fg_tokenizer *tok = load(threads, &load_ms);
    size_t n_ids = 0;
    double t0 = fg_time_now();
    int ok = tok && fg_tokenizer_encode(tok, b.text, b.n, 0, b.ids, b.n, &n_ids) == FG_OK;
    double cold = fg_time_now() - t0, best1 = 1e30, bestp = 1e30, bestd = 1e30;
    if (!ok || validate(&b, tok, n_ids) != 0) {
        if (tok && !ok)
            fail("encode", tok);
        fg_tokenizer_free(tok);
        bench_free(&b);
        return 1;
    }
    /* warm, one thread, one call; then threads over documents; then decode */
    fg_tokenizer_reset_stats(tok);
    for (int r = 0; r < reps && ok; r++) {
        t0 = fg_time_now();
        ok = fg_tokenizer_encode(tok, b.text, b.n, 0, b.ids, b.n, &n_ids) == FG_OK;
        double dt = fg_time_now() - t0;
        best1 = dt < best1 ? dt : best1;
    }
    struct fg_tokenizer_stats st;
    fg_tokenizer_get_stats(tok, &st);
    for (int r = 0; r < reps && ok; r++) {
        t0 = fg_time_now();
        ok = fg_tokenizer_encode_docs(tok, b.docs, b.lens, b.n_docs, 0, b.ids2, b.n + 1, b.start) ==
             FG_OK;
        double dt = fg_time_now() - t0;
        bestp = dt < bestp ? dt : bestp;
    }
    size_t back_len = 0;
    for (int r = 0; r < reps && ok; r++) {
        t0 = fg_time_now();
        ok = fg_tokenizer_decode(tok, b.ids, n_ids, b.back, b.n, &back_len) == FG_OK;
        double dt = fg_time_now() - t0;
        bestd = dt < bestd ? dt : bestd;
    }
    if (!ok) {
        fail("a timed call failed", tok);
        fg_tokenizer_free(tok);
        bench_free(&b);
        return 1;
    }
    double mb = (double)b.n / 1e6;
    printf("load GPT-2 vocabulary: %.1f ms\n", load_ms);
    printf("encode, 1 thread:  %.1f MB/s warm (%.3f s), %.1f MB/s cold (%.3f s); %zu ids; "
           "%.1f%% of pieces from the word cache, %.1f%% single bytes (warm)\n",
           mb / best1, best1, mb / cold, cold, n_ids,
           100.0 * (double)st.n_cache_hits / (double)st.n_pieces,
           100.0 * (double)(st.n_pieces - st.n_cache_hits - st.n_merged) / (double)st.n_pieces);
    printf("encode, %d threads: %.1f MB/s over %zu documents of ~64 KB (%.3f s, %zu ids)\n",
           threads, mb / bestp, b.n_docs, bestp, b.start[b.n_docs]);
    printf("decode:            %.1f MB/s (%.3f s)\n", mb / bestd, bestd);
    printf("JSON {\"bytes\":%zu,\"ids\":%zu,\"load_ms\":%.1f,\"encode_mb_s_1t\":%.2f,"
           "\"encode_mb_s_1t_cold\":%.2f,\"encode_mb_s_docs\":%.2f,\"threads\":%d,"
           "\"docs\":%zu,\"decode_mb_s\":%.2f}\n",
           b.n, n_ids, load_ms, mb / best1, mb / cold, mb / bestp, threads, b.n_docs, mb / bestd);
    fg_tokenizer_free(tok);
    bench_free(&b);
    return 0;
}
