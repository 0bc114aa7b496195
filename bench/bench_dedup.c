/* bench_dedup: exact + near-duplicate removal throughput (MB/s of input).
 *
 * Without FILE arguments: novels.txt (the six Austen novels in alphabetical order, then Moby Dick)
 * cut into 2 KiB documents, the whole corpus given twice: the second time with one letter in 400
 * changed, so that its documents are near duplicates (Jaccard about 0.9 on 5-word shingles) that
 * only the MinHash stage finds. Run from the repository root.
 * With FILE arguments: the files' documents as `frugal prepare --docs-split` reads them (blank:
 * runs of non-blank lines, the default; line: non-blank lines; file: whole files), files in
 * argument order. MB/s counts the bytes of the files (or of the 2 KiB documents).
 *
 *   bench_dedup [--threads N] [--reps N] [--docs-split blank|line|file] [--dedup STAGES]
 *               [--shingle K] [--bands B] [--rows R] [--threshold J] [FILE...]
 *
 * Every repetition runs fg_dedup on the same documents; the best and the median time are
 * reported, with the counts of the last run (they are the same in every run). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/dedup.h"

static const char *const files[] = { "data/austen/emma.txt",
                                     "data/austen/mansfieldpark.txt",
                                     "data/austen/northangerabbey.txt",
                                     "data/austen/persuasion.txt",
                                     "data/austen/prideprejudice.txt",
                                     "data/austen/sensesensibility.txt",
                                     "data/extra/mobydick.txt" };

enum split { SPLIT_BLANK, SPLIT_LINE, SPLIT_FILE };

struct docs {
    const char **p;
    size_t *len;
    size_t n, cap;
};

static void usage(void)
{
    fprintf(stderr, "usage: bench_dedup [--threads N] [--reps N] [--docs-split blank|line|file] "
                    "[--dedup exact,near|exact|near] [--shingle K] [--bands B] [--rows R] "
                    "[--threshold J] [FILE...]\n");
}

static int parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "bench_dedup: %s needs an integer in %ld..%ld, got '%s'\n", flag, lo, hi,
                s);
        return -1;
    }
    *out = v;
    return 0;
}

static int add_doc(struct docs *d, const char *p, size_t len)
{
    if (d->n == d->cap) {
        size_t c = d->cap ? 2 * d->cap : 4096;
        const char **np = realloc(d->p, c * sizeof *np);
        if (!np)
            return -1;
        d->p = np;
        size_t *nl = realloc(d->len, c * sizeof *nl);
        if (!nl)
            return -1;
        d->len = nl;
        d->cap = c;
    }
    d->p[d->n] = p;
    d->len[d->n] = len;
    d->n++;
    return 0;
}

/* white space as frugal prepare's reader defines it: a blank line holds only these */
static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')
            return 0;
    }
    return 1;
}

/* The documents of one file, as frugal prepare's text reader cuts them. */
static int split_file(struct docs *d, const char *b, size_t len, enum split how)
{
    const char *end = b + len;
    if (how == SPLIT_FILE)
        return is_blank(b, len) ? 0 : add_doc(d, b, len);
    const char *para = NULL, *para_end = NULL;
    for (const char *p = b; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        int blank = is_blank(p, (size_t)(e - p));
        if (how == SPLIT_LINE) {
            if (!blank && add_doc(d, p, (size_t)(e - p)))
                return -1;
        } else if (!blank) {
            if (!para)
                para = p;
            para_end = e;
        } else if (para) {
            if (add_doc(d, para, (size_t)(para_end - para)))
                return -1;
            para = NULL;
        }
        p = nl ? nl + 1 : end;
    }
    return para ? add_doc(d, para, (size_t)(para_end - para)) : 0;
}

/* The default input: novels.txt and a copy with one letter in 400 changed, in 2 KiB documents. */
static int novels_docs(struct docs *d, char **keep, uint64_t *bytes)
{
    size_t total = 0, cap = 0;
    char *text = NULL;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        void *buf;
        size_t len;
        char err[256];
        if (fg_read_file(NULL, files[f], &buf, &len, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_dedup: %s (run from the repository root)\n", err);
            free(text);
            return -1;
        }
        if (total + len > cap) {
            cap = 2 * (total + len);
            char *nt = realloc(text, cap);
            if (!nt) {
                fg_free(NULL, buf);
                free(text);
                return -1;
            }
            text = nt;
        }
        memcpy(text + total, buf, len);
        total += len;
        fg_free(NULL, buf);
    }
    char *text2 = malloc(total ? total : 1);
    if (!text2) {
        free(text);
        return -1;
    }
    memcpy(text2, text, total);
    for (size_t i = 200; i < total; i += 400)
        if (text2[i] >= 'a' && text2[i] <= 'z')
            text2[i] = text2[i] == 'q' ? 'x' : 'q';
    const size_t chunk = 2048;
    size_t n1 = (total + chunk - 1) / chunk, n = 2 * n1;
    for (size_t i = 0; i < n; i++) {
        size_t k = i % n1, off = k * chunk;
        if (add_doc(d, (i < n1 ? text : text2) + off, total - off < chunk ? total - off : chunk))
            return -1;
    }
    keep[0] = text;
    keep[1] = text2;
    *bytes = 2 * (uint64_t)total;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    struct fg_dedup_params p = fg_dedup_params_default();
    long threads = 2, reps = 3, v;
    enum split how = SPLIT_BLANK;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i += 2) {
        const char *f = argv[i], *a = i + 1 < argc ? argv[i + 1] : NULL;
        if (!a) {
            fprintf(stderr, "bench_dedup: %s needs a value\n", f);
            usage();
            return 2;
        }
        if (!strcmp(f, "--threads")) {
            if (parse_long(f, a, 1, 1024, &threads))
                return 2;
        } else if (!strcmp(f, "--reps")) {
            if (parse_long(f, a, 1, 1000, &reps))
                return 2;
        } else if (!strcmp(f, "--shingle")) {
            if (parse_long(f, a, 1, 64, &v))
                return 2;
            p.shingle = (int)v;
        } else if (!strcmp(f, "--bands")) {
            if (parse_long(f, a, 1, 4096, &v))
                return 2;
            p.bands = (int)v;
        } else if (!strcmp(f, "--rows")) {
            if (parse_long(f, a, 1, 4096, &v))
                return 2;
            p.rows = (int)v;
        } else if (!strcmp(f, "--threshold")) {
            char *end;
            p.threshold = strtod(a, &end);
            if (end == a || *end || !(p.threshold > 0.0 && p.threshold <= 1.0)) {
                fprintf(stderr, "bench_dedup: --threshold needs a number in (0, 1], got '%s'\n", a);
                return 2;
            }
        } else if (!strcmp(f, "--docs-split")) {
            if (!strcmp(a, "blank"))
                how = SPLIT_BLANK;
            else if (!strcmp(a, "line"))
                how = SPLIT_LINE;
            else if (!strcmp(a, "file"))
                how = SPLIT_FILE;
            else {
                fprintf(stderr, "bench_dedup: --docs-split is blank, line or file, got '%s'\n", a);
                return 2;
            }
        } else if (!strcmp(f, "--dedup")) {
            p.exact = !strcmp(a, "exact,near") || !strcmp(a, "exact");
            p.near = !strcmp(a, "exact,near") || !strcmp(a, "near");
            if (!p.exact && !p.near) {
                fprintf(stderr, "bench_dedup: --dedup is exact,near, exact or near, got '%s'\n", a);
                return 2;
            }
        } else {
            fprintf(stderr, "bench_dedup: unknown option %s\n", f);
            usage();
            return 2;
        }
    }
    if (p.near && p.bands * p.rows > 4096) {
        fprintf(stderr, "bench_dedup: --bands x --rows must be <= 4096\n");
        return 2;
    }
    p.n_threads = (int)threads;

    struct docs d = { 0 };
    char *keep[2] = { NULL, NULL };
    void **bufs = NULL;
    int n_files = argc - i, rc = 1;
    uint64_t bytes = 0;
    if (n_files == 0) {
        if (novels_docs(&d, keep, &bytes))
            goto done;
    } else {
        bufs = calloc((size_t)n_files, sizeof *bufs);
        if (!bufs)
            goto done;
        for (int f = 0; f < n_files; f++) {
            size_t len;
            char err[256];
            if (fg_read_file(NULL, argv[i + f], &bufs[f], &len, err, sizeof err) != FG_OK) {
                fprintf(stderr, "bench_dedup: %s\n", err);
                goto done;
            }
            bytes += len;
            if (split_file(&d, bufs[f], len, how)) {
                fprintf(stderr, "bench_dedup: out of memory\n");
                goto done;
            }
        }
    }
    struct fg_dedup_doc *out = malloc((d.n ? d.n : 1) * sizeof *out);
    double *times = malloc((size_t)reps * sizeof *times);
    if (!out || !times) {
        free(out);
        free(times);
        fprintf(stderr, "bench_dedup: out of memory\n");
        goto done;
    }
    struct fg_dedup_stats st;
    char err[256];
    for (long r = 0; r < reps; r++) {
        double t0 = fg_time_now();
        if (fg_dedup(d.p, d.len, d.n, &p, out, &st, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_dedup: %s\n", err);
            free(out);
            free(times);
            goto done;
        }
        times[r] = fg_time_now() - t0;
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    double best = times[0],
           med = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    double mb = (double)bytes / 1e6;
    const char *stages = p.exact && p.near ? "exact + MinHash" : p.exact ? "exact" : "MinHash";
    printf("dedup (%s %dx%d, %d-word shingles, threshold %.2f), %d threads: %.1f MB in %.3f s "
           "(best of %ld; median %.3f s) = %.1f MB/s; %zu docs, kept %zu, exact %zu, near %zu, "
           "candidates %zu, verified %zu\n",
           stages, p.bands, p.rows, p.shingle, p.threshold, p.n_threads, mb, best, reps, med,
           mb / best, st.docs, st.kept, st.exact_removed, st.near_removed, st.candidates,
           st.verified);
    printf("JSON {\"mb_s\":%.2f,\"mb_s_median\":%.2f,\"seconds\":%.4f,\"seconds_median\":%.4f,"
           "\"bytes\":%llu,\"doc_bytes\":%llu,\"docs\":%zu,\"kept\":%zu,\"exact\":%zu,"
           "\"near\":%zu,\"candidates\":%zu,\"verified\":%zu,\"threads\":%d,\"shingle\":%d,"
           "\"bands\":%d,\"rows\":%d,\"threshold\":%.3f}\n",
           mb / best, mb / med, best, med, (unsigned long long)bytes,
           (unsigned long long)st.bytes_in, st.docs, st.kept, st.exact_removed, st.near_removed,
           st.candidates, st.verified, p.n_threads, p.shingle, p.bands, p.rows, p.threshold);
    free(out);
    free(times);
    rc = 0;
done:
    if (bufs)
        for (int f = 0; f < n_files; f++)
            fg_free(NULL, bufs[f]);
    free(bufs);
    free(d.p);
    free(d.len);
    free(keep[0]);
    free(keep[1]);
    return rc;
}
