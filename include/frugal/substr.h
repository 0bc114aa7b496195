/* frugal substr: exact-substring deduplication over token streams (Lee et al. 2021,
 * "Deduplicating Training Data Makes Language Models Better", ExactSubstr).
 *
 * The rule. Let L = min_len. A token string s of length >= L "occurs in" document d when it
 * lies entirely inside d: never across a document boundary. An occurrence of s in document d
 * is removed when s also occurs in some document d' < d. All occurrences inside the earliest
 * document that contains s are kept, so a document's own internal repeats are kept. The
 * removed region of a document is the union of its removed occurrences, merged into maximal
 * spans (overlapping or touching removals become one span).
 * Every removed occurrence of length >= L is a union of removed windows of exactly L tokens,
 * so the rule is equivalent to: window [p, p + L) of document d is removed when the same L
 * tokens occur inside an earlier document; a document's removed tokens are the union of its
 * removed windows. The earliest such document is the window's source.
 * A span's src_doc is the source of its first window, [from, from + L): the earliest document
 * that contains the first L tokens of the span (always < doc).
 * Unlike the paper, which strikes every copy, the earliest copy is kept, so no text disappears
 * from the corpus altogether.
 *
 * How. The tokens of all documents are concatenated (no separators) and encoded as w-byte
 * big-endian integers (w = 1, 2, 3 or 4 for vocab_size <= 2^8, 2^16, 2^24, 2^31), so byte
 * order is token order. libdivsufsort builds the byte suffix array (divsufsort64 when the byte
 * string exceeds INT32_MAX bytes); keeping its token-aligned entries gives the suffix array
 * of the token string. LCPs capped at L come from the Phi algorithm (Kaerkkaeinen, Manzini,
 * Puglisi 2009, a Kasai variant) in O(T + L). A maximal run of suffixes whose adjacent LCPs
 * are >= L is the set of all positions that start one L-token string; a position is a valid
 * occurrence only if its window ends inside its document. In each run the earliest document
 * among valid positions is the source, and every valid position of a later document marks its
 * window. One pass in text order merges the marked windows into spans. Time is that of
 * divsufsort (O(wT log wT) worst case) plus O(T log n), whatever the repeats look like (one
 * token repeated 10^6 times, a document repeated 100 times).
 *
 * Memory, in bytes per input token T (the documents themselves are the caller's):
 *   w + 4 * max(w, 2) with the 32-bit suffix sort: 9 (w = 1), 10 (w = 2, GPT-2), 15, 20;
 *   9 * w with the 64-bit one (byte string > INT32_MAX bytes, or params.sa64);
 * plus 4 bytes per document, the returned spans (sizeof(struct fg_substr_span) = 32 bytes
 * each) and 257 KiB that libdivsufsort mallocs itself (outside the allocator hook; its
 * failure is reported as FG_ERR_NOMEM like any other). Limits: at most 2^32 - 2 tokens and
 * 2^32 - 2 documents per call (FG_ERR_INVALID_ARG beyond); shard bigger inputs.
 *
 * Deterministic; the result does not depend on n_threads. Reentrant: no global state. */
#ifndef FRUGAL_SUBSTR_H
#define FRUGAL_SUBSTR_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"
#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct fg_substr_params {
    size_t min_len; /* a repeated span must be at least this many tokens (50) */
    int n_threads;  /* threads where the work allows it; at present ignored (the suffix sort of
                       Debian's libdivsufsort is single-threaded) */
    const struct fg_allocator *alloc; /* scratch and the returned spans; NULL: the default
                                         allocator; borrowed */
    int sa64; /* 1: always use the 64-bit suffix sort, which otherwise runs only when the byte
                 string exceeds INT32_MAX bytes (for tests: same result, twice the memory) */
};

/* min_len 50, n_threads 1, alloc NULL, sa64 0. */
FG_API struct fg_substr_params fg_substr_params_default(void);

struct fg_substr_span {
    size_t doc;      /* document whose tokens [from, to) are removed */
    size_t from, to; /* token offsets inside that document; spans of one document are disjoint,
                        sorted, and maximal (touching or overlapping removals are merged), so
                        two spans of one document are separated by at least one kept token;
                        to - from >= min_len */
    size_t src_doc;  /* the earliest document that contains the first min_len tokens of this
                        span (the source of the window [from, from + min_len)): kept there;
                        src_doc < doc */
};

struct fg_substr_stats {
    size_t docs;             /* n */
    size_t docs_touched;     /* documents with at least one span */
    size_t spans;            /* *n_spans */
    uint64_t tokens_in;      /* sum of lens */
    uint64_t tokens_removed; /* sum of to - from over all spans */
};

/* Finds the spans to remove from docs[0..n) by the rule above. docs[i] points to lens[i]
 * token ids (uint32_t, each < vocab_size; 1 <= vocab_size <= 2^31); docs[i] may be NULL when
 * lens[i] is 0. All inputs are borrowed and only read. p NULL means the defaults.
 * On success *spans is an array of *n_spans spans sorted by (doc, from), allocated with
 * p->alloc (caller frees with fg_free(p->alloc, *spans)); it is NULL when there are none.
 * stats may be NULL. On failure *spans is NULL, *n_spans 0, and nothing is left allocated.
 * Errors (with a one-line message in err, which may be NULL):
 *   FG_ERR_INVALID_ARG  min_len 0, vocab_size 0 or > 2^31, an id >= vocab_size (the message
 *                       names the document and offset), NULL arrays, more than 2^32 - 2
 *                       tokens or documents;
 *   FG_ERR_NOMEM        an allocation failed (ours or libdivsufsort's);
 *   FG_ERR_INTERNAL     libdivsufsort reported an error it should not.
 * Allocates about the memory given above, frees it all before returning. Thread-safe: calls
 * share nothing. */
FG_API fg_status fg_substr_dedup(const uint32_t *const *docs, const size_t *lens, size_t n,
                                 uint32_t vocab_size, const struct fg_substr_params *p,
                                 struct fg_substr_span **spans, size_t *n_spans,
                                 struct fg_substr_stats *stats, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
