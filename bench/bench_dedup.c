/* bench_dedup: exact + near-duplicate removal throughput (MB/s of input) on novels.txt (the six
 * Austen novels in alphabetical order, then Moby Dick) cut into 2 KiB documents, the whole
 * corpus given twice: the second time with one letter in 400 changed, so that its documents
 * are near duplicates (Jaccard about 0.9 on 5-word shingles) that only the MinHash stage finds.
 *
 *   bench_dedup [--threads N]
 */
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

int main(int argc, char **argv)
{
    int threads = 2;
    if (argc == 3 && !strcmp(argv[1], "--threads"))
        threads = atoi(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: bench_dedup [--threads N]\n");
        return 2;
    }
    if (threads < 1) {
        fprintf(stderr, "bench_dedup: --threads must be >= 1\n");
        return 2;
    }
    size_t total = 0, cap = 0;
    char *text = NULL;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        void *buf;
        size_t len;
        char err[256];
        if (fg_read_file(NULL, files[f], &buf, &len, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_dedup: %s (run from the repository root)\n", err);
            return 1;
        }
        if (total + len > cap) {
            cap = 2 * (total + len);
            text = realloc(text, cap);
        }
        memcpy(text + total, buf, len);
        total += len;
        fg_free(NULL, buf);
    }
    char *text2 = malloc(total);
    memcpy(text2, text, total);
    for (size_t i = 200; i < total; i += 400)
        if (text2[i] >= 'a' && text2[i] <= 'z')
            text2[i] = text2[i] == 'q' ? 'x' : 'q';
    const size_t chunk = 2048;
    size_t n1 = (total + chunk - 1) / chunk, n = 2 * n1;
    const char **docs = malloc(n * sizeof *docs);
    size_t *lens = malloc(n * sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        size_t k = i % n1, off = k * chunk;
        docs[i] = (i < n1 ? text : text2) + off;
        lens[i] = total - off < chunk ? total - off : chunk;
    }
    struct fg_dedup_doc *out = malloc(n * sizeof *out);
    struct fg_dedup_params p = fg_dedup_params_default();
    p.n_threads = threads;
    struct fg_dedup_stats st;
    char err[256];
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = fg_time_now();
        if (fg_dedup(docs, lens, n, &p, out, &st, err, sizeof err) != FG_OK) {
            fprintf(stderr, "bench_dedup: %s\n", err);
            return 1;
        }
        double dt = fg_time_now() - t0;
        if (dt < best)
            best = dt;
    }
    double mb = (double)st.bytes_in / 1e6;
    printf("dedup (exact + MinHash %dx%d, %d-word shingles), %d threads: %.1f MB in %.3f s = "
           "%.1f MB/s; %zu docs, kept %zu, exact %zu, near %zu, candidates %zu\n",
           p.bands, p.rows, p.shingle, threads, mb, best, mb / best, st.docs, st.kept,
           st.exact_removed, st.near_removed, st.candidates);
    printf("JSON {\"mb_s\":%.2f,\"bytes\":%llu,\"docs\":%zu,\"kept\":%zu,\"threads\":%d}\n",
           mb / best, (unsigned long long)st.bytes_in, st.docs, st.kept, threads);
    free(out), free(docs), free(lens), free(text), free(text2);
    return 0;
}
