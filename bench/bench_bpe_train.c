/* bench_bpe_train: byte-level BPE training speed on novels.txt (5.28 MB of English prose).
 *
 *   bench_bpe_train [--vocab N] [--threads N] [--reps N] [--input FILE] [--save PATH]
 *                   [--no-validate]
 *
 * Run from the repository root. The text is novels.txt, built in memory from data/austen/<the
 * six novels, alphabetical>.txt then data/extra/mobydick.txt (5,282,326 bytes), or FILE. It is
 * one document, as spm_train sees one file. Each rep trains a tokenizer of --vocab ids (default
 * 4096) with --threads counting threads (default 1) and times fg_tokenizer_train from the text
 * in memory to the finished tokenizer. Then it validates the last one: the encoder must turn the
 * text into exactly the number of ids the trainer predicted, decode must give the text back,
 * and the fast encoder must equal fg_tokenizer_encode_ref on persuasion.txt (default text only).
 * --save writes the tokenizer.json; --no-validate skips the checks, so that the process does what
 * spm_train does (read, train, write) for a wall-clock comparison. The anchor: SentencePiece's spm_train, BPE at vocabulary
 * 4096 on the same file, about 2.1 s (scripts/bench_bpe_train.sh runs both side by side).
 * Prints human lines and one `JSON {...}` line with the best and median seconds. */
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
#define N_FILES 7

/* Append the file at path to *text (*n bytes so far); 0 on failure. */
static int append_file(const char *path, uint8_t **text, size_t *n)
{
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK) {
        fprintf(stderr, "bench_bpe_train: %s (run from the repository root)\n", err);
        return 0;
    }
    uint8_t *t = realloc(*text, *n + len + 1);
    if (!t) {
        fg_free(NULL, buf);
        return 0;
    }
    memcpy(t + *n, buf, len);
    *text = t;
    *n += len;
    fg_free(NULL, buf);
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!end || *end || end == s || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* Encode the text with tok and check the count against the trainer's and the round trip; on
 * the default text also fast == ref on persuasion.txt. */
static int validate(struct fg_tokenizer *tok, const uint8_t *text, size_t n, uint64_t n_pred,
                    size_t pers_off, size_t pers_len)
{
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    uint8_t *back = malloc(n + 1);
    size_t n_ids = 0, back_len = 0, start[2];
    const void *doc = text;
    int ok = ids && back;
    if (ok && (fg_tokenizer_encode_docs(tok, &doc, &n, 1, 0, ids, n, start) != FG_OK ||
               start[1] != n_pred)) {
        fprintf(stderr, "bench_bpe_train: the encoder gives %zu ids, the trainer predicted %llu\n",
                start[1], (unsigned long long)n_pred);
        ok = 0;
    }
    n_ids = ok ? start[1] : 0;
    if (ok && (fg_tokenizer_decode(tok, ids, n_ids, back, n, &back_len) != FG_OK || back_len != n ||
               memcmp(back, text, n) != 0)) {
        fprintf(stderr, "bench_bpe_train: decode(encode(text)) != text\n");
        ok = 0;
    }
    if (ok && pers_len) {
        size_t nr = 0, nf = 0;
        uint32_t *r = ids, *f = ids + pers_len / 2 + 1;
        if (pers_len / 2 + 1 + pers_len > n + 1 ||
            fg_tokenizer_encode_ref(tok, text + pers_off, pers_len, 0, r, pers_len, &nr) != FG_OK ||
            fg_tokenizer_encode(tok, text + pers_off, pers_len, 0, f, pers_len, &nf) != FG_OK ||
            nr != nf || memcmp(r, f, nr * sizeof *r) != 0) {
            fprintf(stderr, "bench_bpe_train: fast and reference encoders differ\n");
            ok = 0;
        }
    }
    if (ok)
        printf("validated: %zu ids (= the trainer's count, %.3f ids/byte), round trip exact%s\n",
               n_ids, (double)n_ids / (double)n, pers_len ? ", fast == ref on persuasion.txt" : "");
    free(ids);
    free(back);
    return ok;
}

int main(int argc, char **argv)
{
    long vocab = 4096, threads = 1, reps = 3;
    const char *input = NULL, *save = NULL;
    int check = 1;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = v != NULL;
        if (!strcmp(a, "--no-validate")) {
            check = 0;
            i--;
            continue;
        }
        if (ok && !strcmp(a, "--vocab"))
            ok = parse_long(v, 257, 1 << 24, &vocab);
        else if (ok && !strcmp(a, "--threads"))
            ok = parse_long(v, 1, 4096, &threads);
        else if (ok && !strcmp(a, "--reps"))
            ok = parse_long(v, 1, 1000, &reps);
        else if (ok && !strcmp(a, "--input"))
            input = v;
        else if (ok && !strcmp(a, "--save"))
            save = v;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "usage: bench_bpe_train [--vocab N] [--threads N] [--reps N] "
                            "[--input FILE] [--save PATH] [--no-validate]\n");
            return 2;
        }
    }
    uint8_t *text = NULL;
    size_t n = 0, pers_off = 0, pers_len = 0;
    if (input) {
        if (!append_file(input, &text, &n))
            return 1;
    } else {
        for (size_t f = 0; f < N_FILES; f++) {
            size_t before = n;
            if (!append_file(files[f], &text, &n))
                return 1;
            if (f == 3) {
                pers_off = before;
                pers_len = n - before;
            }
        }
        if (n != 5282326)
            fprintf(stderr, "bench_bpe_train: warning: novels.txt is %zu bytes, not 5282326\n", n);
    }
    struct fg_tokenizer_train_params p = fg_tokenizer_train_params_default();
    p.n_threads = (int)threads;
    double *secs = malloc((size_t)reps * sizeof *secs);
    struct fg_tokenizer *tok = NULL;
    struct fg_tokenizer_train_stats st;
    const void *doc = text;
    char err[256];
    for (long r = 0; r < reps; r++) {
        fg_tokenizer_free(tok);
        tok = NULL;
        double t0 = fg_time_now();
        fg_status s =
            fg_tokenizer_train(&tok, &doc, &n, 1, (size_t)vocab, &p, &st, err, sizeof err);
        secs[r] = fg_time_now() - t0;
        if (s != FG_OK) {
            fprintf(stderr, "bench_bpe_train: %s\n", err);
            return 1;
        }
        printf("rep %ld: %.3f s (count %.3f s, merges %.3f s)\n", r + 1, secs[r], st.seconds_count,
               st.seconds_merge);
    }
    if (check && !validate(tok, text, n, st.n_tokens, pers_off, pers_len))
        return 1;
    if (save && fg_tokenizer_save_json(tok, save, err, sizeof err) != FG_OK) {
        fprintf(stderr, "bench_bpe_train: %s\n", err);
        return 1;
    }
    qsort(secs, (size_t)reps, sizeof *secs, cmp_double);
    double best = secs[0], median = secs[reps / 2];
    printf("BPE training, vocabulary %zu (%u merges), %zu bytes, %llu pieces, "
           "%llu distinct, %ld thread(s): best %.3f s, median %.3f s (%.1f MB/s), peak %.1f MB\n",
           fg_tokenizer_n_vocab(tok), st.n_merges, n, (unsigned long long)st.n_pieces,
           (unsigned long long)st.n_words, threads, best, median, (double)n / median / 1e6,
           (double)st.peak_bytes / 1e6);
    printf("JSON {\"bench\":\"bpe_train\",\"bytes\":%zu,\"vocab\":%zu,\"merges\":%u,"
           "\"threads\":%ld,\"reps\":%ld,\"best_s\":%.4f,\"median_s\":%.4f,"
           "\"count_s\":%.4f,\"merge_s\":%.4f,\"pieces\":%llu,\"words\":%llu,\"tokens\":%llu,"
           "\"peak_bytes\":%llu}\n",
           n, fg_tokenizer_n_vocab(tok), st.n_merges, threads, reps, best, median, st.seconds_count,
           st.seconds_merge, (unsigned long long)st.n_pieces, (unsigned long long)st.n_words,
           (unsigned long long)st.n_tokens, (unsigned long long)st.peak_bytes);
    fg_tokenizer_free(tok);
    free(secs);
    free(text);
    return 0;
}
