/* frugal dedup: removal of exact and near-duplicate documents before training.
 *
 * Two stages, each optional:
 *   exact  a 128-bit hash of the normalized document (runs of white space collapsed to one
 *          space, leading and trailing space dropped, ASCII letters lowercased when casefold
 *          is set); equal hashes are duplicates.
 *   near   MinHash over word n-gram shingles (words: maximal runs of letters and digits, bytes
 *          >= 0x80 counting as letters, lowercased ASCII), bands x rows LSH buckets for
 *          candidate pairs, and every candidate verified by the exact Jaccard similarity of the
 *          two documents' shingle sets (64-bit shingle hashes), so an LSH false positive never
 *          removes anything. Verified pairs are joined by union-find; each cluster keeps its
 *          first document.
 * A pair of documents with Jaccard similarity s becomes a candidate with probability
 * 1 - (1 - s^rows)^bands (the LSH S-curve). The defaults are 5-word shingles, 50 bands of 3
 * rows (150 MinHash values) and a verified threshold of 0.35: the S-curve's midpoint
 * (1/50)^(1/3) is 0.27, and P = 0.33 at s = 0.2, 0.75 at 0.3, 0.89 at 0.35, 0.96 at 0.4, 0.9987
 * at 0.5. They were chosen on the planted benchmark (scripts/bench_dedup_quality.sh): copies
 * with 10% of their words substituted have 5-word Jaccard 0.38-0.48, which datatrove's 14 x 8
 * (midpoint 0.72; P = 0.56 at 0.7, 0.92 at 0.8) and threshold 0.7 never reach; with these
 * defaults every planted copy type is found (recall 1.0, precision 1.0), at about half the
 * speed of 14 x 8 (BENCHMARKS.md). For FineWeb's behaviour give bands 14, rows 8, threshold
 * 0.7. MinHash value h of a shingle is the high 32 bits of a_h x + b_h mod 2^64 for the
 * shingle hash's 32-bit fold x (Dietzfelbinger's multiply-add-shift, 2-independent).
 *
 * Memory: 16 bytes per document for the exact stage; for the near stage bands x 8 bytes of
 * band keys per document plus the shingle sets of one candidate pair at a time, never all the
 * documents' shingles. The documents themselves are the caller's. Deterministic for any thread
 * count. */
#ifndef FRUGAL_DEDUP_H
#define FRUGAL_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fg_dedup_params {
    int exact;        /* 1: run the exact stage */
    int near;         /* 1: run the near-duplicate stage */
    int casefold;     /* 1: ASCII case folding in the exact stage (the near stage always folds) */
    int shingle;      /* words per shingle (5) */
    int bands, rows;  /* LSH: bands x rows MinHash values (50 x 3) */
    double threshold; /* a verified near duplicate has Jaccard >= threshold (0.35) */
    uint64_t seed;    /* MinHash permutations */
    int n_threads;
};

FG_API struct fg_dedup_params fg_dedup_params_default(void);

enum fg_dedup_reason { FG_DEDUP_KEPT = 0, FG_DEDUP_EXACT = 1, FG_DEDUP_NEAR = 2 };

struct fg_dedup_doc {
    uint8_t reason; /* enum fg_dedup_reason */
    size_t dup_of;  /* the kept document this one duplicates (itself when kept) */
    double jaccard; /* near duplicates: verified similarity to the pair that linked it */
};

struct fg_dedup_stats {
    size_t docs, kept, exact_removed, near_removed;
    size_t candidates, verified; /* candidate pairs from LSH; pairs at or above threshold */
    uint64_t bytes_in, bytes_kept;
};

/* Deduplicates docs[0..n) (lens[i] bytes each; any bytes). out[i] says what became of
 * document i; stats may be NULL. Documents are compared in index order: the first of a group
 * is kept. FG_ERR_INVALID_ARG (with err) for bad parameters, FG_ERR_NOMEM. */
FG_API fg_status fg_dedup(const char *const *docs, const size_t *lens, size_t n,
                          const struct fg_dedup_params *p, struct fg_dedup_doc *out,
                          struct fg_dedup_stats *stats, char *err, size_t errlen);

/* Building blocks, exposed for tests. */

/* 128-bit hash of the normalized document, as the exact stage computes it. */
FG_API void fg_dedup_exact_hash(const char *doc, size_t len, int casefold, uint64_t out[2]);

/* Sorted, distinct 64-bit hashes of the document's word shingles into out (capacity cap);
 * returns how many there are (which may exceed cap: then only cap were written). A document
 * with fewer than `shingle` words has one shingle of all its words (none if it has no word). */
FG_API size_t fg_dedup_shingles(const char *doc, size_t len, int shingle, uint64_t *out,
                                size_t cap);

/* Jaccard similarity of two sorted distinct hash sets (1 when both are empty). */
FG_API double fg_dedup_jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);

#ifdef __cplusplus
}
#endif
#endif
