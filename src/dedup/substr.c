/* Exact-substring deduplication over token streams (Lee et al. 2021), include/frugal/substr.h.
 * Key idea: one suffix array over all documents (libdivsufsort on the tokens as fixed-width
 * big-endian bytes, then only the token-aligned suffixes), LCPs capped at min_len by the Phi
 * algorithm (Kaerkkaeinen, Manzini, Puglisi, CPM 2009), then each run of suffixes sharing
 * their first min_len tokens is one repeated window: its earliest document keeps it, later
 * documents mark it. Marks are stored per text position and merged in one pass in text
 * order, so long repeats cost O(T), never O(T * repeat length). Document boundaries need no
 * separators: a window that runs past the end of its document is simply not an occurrence. */
#include <divsufsort.h>
#include <divsufsort64.h>
#include <stdio.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/substr.h"

#define NONE      UINT32_MAX /* "no mark" and "no predecessor" */
#define MAX_COUNT (UINT32_MAX - 1)

struct fg_substr_params fg_substr_params_default(void)
{
    struct fg_substr_params p = { 50, 1, NULL, 0 };
    return p;
}

static fg_status bad(char *err, size_t errlen, fg_status st, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return st;
}

/* Bytes per token: the smallest w with vocab_size <= 2^(8w). */
static unsigned token_width(uint32_t vocab_size)
{
    return vocab_size <= (1u << 8)    ? 1
           : vocab_size <= (1u << 16) ? 2
           : vocab_size <= (1u << 24) ? 3
                                      : 4;
}

/* Writes the w-byte big-endian encoding of every token into text and checks the ids. */
static fg_status encode(const uint32_t *const *docs, const size_t *lens, size_t n,
                        uint32_t vocab_size, unsigned w, uint8_t *text, char *err, size_t errlen)
{
    size_t b = 0;
    for (size_t d = 0; d < n; d++) {
        const uint32_t *t = docs[d];
        for (size_t i = 0; i < lens[d]; i++) {
            uint32_t v = t[i];
            if (v >= vocab_size) {
                if (err && errlen)
                    snprintf(err, errlen,
                             "substr: document %zu, token %zu has id %u >= vocab_size %u; pass "
                             "the tokenizer's vocabulary size",
                             d, i, v, vocab_size);
                return FG_ERR_INVALID_ARG;
            }
            for (unsigned k = w; k-- > 0;)
                text[b++] = (uint8_t)(v >> (8 * k));
        }
    }
    return FG_OK;
}

/* Keeps the token-aligned entries of the byte suffix array, as token positions, in
 * out[0..T). out may alias sa (it trails it: entry j is written after entry k >= j is read).
 * w is a constant in each inlined copy, so the division is a multiply or shift. */
static inline size_t compact32(const int32_t *sa, size_t nb, unsigned w, uint32_t *out)
{
    size_t j = 0;
    for (size_t k = 0; k < nb; k++) {
        uint32_t pos = (uint32_t)sa[k];
        if (pos % w == 0)
            out[j++] = pos / w;
    }
    return j;
}

static inline size_t compact64(const int64_t *sa, size_t nb, unsigned w, uint32_t *out)
{
    /* out's entry j occupies bytes [4j, 4j + 4), which never lie past sa's entry k >= j
     * except for j = k = 0, read before it is written */
    size_t j = 0;
    for (size_t k = 0; k < nb; k++) {
        uint64_t pos = (uint64_t)sa[k];
        if (pos % w == 0)
            out[j++] = (uint32_t)(pos / w);
    }
    return j;
}

static size_t compact(const void *sa, int sa64, size_t nb, unsigned w, uint32_t *out)
{
    if (sa64) {
        switch (w) {
        case 1:
            return compact64(sa, nb, 1, out);
        case 2:
            return compact64(sa, nb, 2, out);
        case 3:
            return compact64(sa, nb, 3, out);
        default:
            return compact64(sa, nb, 4, out);
        }
    }
    switch (w) {
    case 1:
        return compact32(sa, nb, 1, out);
    case 2:
        return compact32(sa, nb, 2, out);
    case 3:
        return compact32(sa, nb, 3, out);
    default:
        return compact32(sa, nb, 4, out);
    }
}

/* Phi algorithm: plcp[i] = min(L, LCP in tokens of suffix i and its predecessor in the suffix
 * array sa[0..T)), 0 for the first suffix. plcp first holds Phi (the predecessor's position)
 * and is overwritten in place in text order. Since plcp[i + 1] >= plcp[i] - 1 (Kasai et al.
 * 2001; also true of the values capped at L), each comparison resumes one token short of the
 * last result, and the loop does at most T + L token steps in total. Tokens are compared
 * through their byte encodings, which are equal exactly when the tokens are. */
static void phi_plcp(const uint8_t *text, const uint32_t *sa, size_t T, unsigned w, size_t L,
                     uint32_t *plcp)
{
    plcp[sa[0]] = NONE;
    for (size_t k = 1; k < T; k++)
        plcp[sa[k]] = sa[k - 1];
    size_t nb = T * w, l = 0; /* l in bytes */
    for (size_t i = 0; i < T; i++) {
        uint32_t j = plcp[i];
        if (j == NONE) {
            plcp[i] = 0;
            l = 0;
            continue;
        }
        size_t bi = i * w, bj = (size_t)j * w;
        size_t lim = L * w, room = nb - (bi > bj ? bi : bj);
        if (room < lim)
            lim = room;
        while (l < lim && text[bi + l] == text[bj + l])
            l++;
        plcp[i] = (uint32_t)(l / w); /* whole tokens */
        l = l >= w ? l - w : 0;      /* suffixes i + 1 and j + 1 share l - w bytes */
    }
}

/* The document containing text position p: the last d with start[d] <= p (start has n + 1
 * entries, start[n] = T, and p < T, so start[d + 1] > p). */
static inline uint32_t doc_of(const uint32_t *start, size_t n, uint32_t p)
{
    size_t lo = 0, hi = n; /* start[lo] <= p < start[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (start[mid] <= p)
            lo = mid;
        else
            hi = mid;
    }
    return (uint32_t)lo;
}

/* Turns plcp (indexed by text position) into marks: mark[p] = the source document of window
 * [p, p + L) when that window is removed, NONE otherwise. A run of suffix-array entries with
 * adjacent LCP >= L is exactly the set of positions starting one L-token string. Entry k's
 * LCP value is read before any member of a later run is written, and a run's members are only
 * written after the whole run has been read, so marks can overwrite plcp in place. */
static void mark_windows(const uint32_t *sa, size_t T, const uint32_t *start, size_t n, size_t L,
                         uint32_t *plcp)
{
    size_t k = 0;
    while (k < T) {
        size_t e = k + 1;
        while (e < T && plcp[sa[e]] >= L)
            e++;
        if (e - k == 1) {
            plcp[sa[k]] = NONE;
            k = e;
            continue;
        }
        /* first pass: each member's document if its window lies inside it, else NONE */
        uint32_t src = NONE;
        for (size_t m = k; m < e; m++) {
            uint32_t p = sa[m], d = doc_of(start, n, p);
            int valid = (size_t)p + L <= start[d + 1];
            plcp[p] = valid ? d : NONE;
            if (valid && d < src)
                src = d;
        }
        /* second pass: valid members of later documents mark their windows */
        for (size_t m = k; m < e; m++) {
            uint32_t p = sa[m], d = plcp[p];
            plcp[p] = d != NONE && d > src ? src : NONE;
        }
        k = e;
    }
}

/* Merges the marked windows of every document into spans. With out NULL it only counts
 * spans, documents touched and tokens removed. */
static size_t collect(const uint32_t *mark, const uint32_t *start, size_t n, size_t L,
                      struct fg_substr_span *out, size_t *touched, uint64_t *removed)
{
    size_t ns = 0, nt = 0;
    uint64_t nr = 0;
    for (size_t d = 0; d < n; d++) {
        size_t s = start[d], e = start[d + 1], from = 0, to = 0, src = 0, before = ns;
        int open = 0;
        for (size_t p = s; p < e; p++) {
            if (mark[p] == NONE)
                continue;
            if (open && p <= to) { /* overlapping or touching: extend (windows end in order) */
                to = p + L;
                continue;
            }
            if (open) {
                if (out)
                    out[ns] = (struct fg_substr_span){ d, from - s, to - s, src };
                ns++;
                nr += to - from;
            }
            open = 1;
            from = p;
            to = p + L;
            src = mark[p];
        }
        if (open) {
            if (out)
                out[ns] = (struct fg_substr_span){ d, from - s, to - s, src };
            ns++;
            nr += to - from;
        }
        nt += ns > before;
    }
    *touched = nt;
    *removed = nr;
    return ns;
}

/* Runs divsufsort or divsufsort64 on text[0..nb) into sa. */
static fg_status suffix_sort(const uint8_t *text, void *sa, size_t nb, int sa64, char *err,
                             size_t errlen)
{
    int rc =
        sa64 ? (int)divsufsort64(text, sa, (saidx64_t)nb) : (int)divsufsort(text, sa, (saidx_t)nb);
    if (rc == -2)
        return bad(err, errlen, FG_ERR_NOMEM,
                   "substr: out of memory (libdivsufsort could not allocate its buckets)");
    if (rc != 0)
        return bad(err, errlen, FG_ERR_INTERNAL, "substr: libdivsufsort reported an error");
    return FG_OK;
}

fg_status fg_substr_dedup(const uint32_t *const *docs, const size_t *lens, size_t n,
                          uint32_t vocab_size, const struct fg_substr_params *p,
                          struct fg_substr_span **spans, size_t *n_spans,
                          struct fg_substr_stats *stats, char *err, size_t errlen)
{
    struct fg_substr_params def = fg_substr_params_default();
    if (!p)
        p = &def;
    if (spans)
        *spans = NULL;
    if (n_spans)
        *n_spans = 0;
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!spans || !n_spans || (n && (!docs || !lens)))
        return bad(err, errlen, FG_ERR_INVALID_ARG,
                   "substr: documents, lengths and the span outputs are required");
    if (p->min_len == 0)
        return bad(err, errlen, FG_ERR_INVALID_ARG, "substr: min_len must be >= 1 token");
    if (vocab_size == 0 || vocab_size > (UINT32_C(1) << 31))
        return bad(err, errlen, FG_ERR_INVALID_ARG, "substr: vocab_size must be in 1..2^31");
    if (n > MAX_COUNT)
        return bad(err, errlen, FG_ERR_INVALID_ARG,
                   "substr: more than 2^32 - 2 documents; split the input into shards");
    size_t T = 0;
    for (size_t d = 0; d < n; d++) {
        if (!docs[d] && lens[d]) {
            if (err && errlen)
                snprintf(err, errlen, "substr: document %zu is NULL with length %zu", d, lens[d]);
            return FG_ERR_INVALID_ARG;
        }
        if (fg_size_add(T, lens[d], &T) != FG_OK || T > MAX_COUNT)
            return bad(err, errlen, FG_ERR_INVALID_ARG,
                       "substr: more than 2^32 - 2 tokens; split the input into shards");
    }
    const struct fg_allocator *a = p->alloc;
    const size_t L = p->min_len;
    const unsigned w = token_width(vocab_size);
    const size_t nb = T * w;
    const int sa64 = p->sa64 || nb > INT32_MAX;
    uint8_t *text = NULL;
    void *sa = NULL;
    uint32_t *start = NULL;
    struct fg_substr_span *out = NULL;
    size_t n_out = 0, touched = 0;
    uint64_t removed = 0;
    fg_status st = FG_OK;

    /* the text is encoded (and every id checked) even when no removal is possible */
    if (T > 0) {
        if (!(text = fg_alloc(a, nb, 64)))
            goto nomem;
        st = encode(docs, lens, n, vocab_size, w, text, err, errlen);
        if (st != FG_OK)
            goto fail;
    }
    if (L <= T / 2) { /* a removal needs two documents of >= L tokens */
        /* suffix array entries; the uint32 view must also hold the T-entry plcp after the
         * compacted T-entry suffix array */
        size_t entries = sa64 ? nb : (nb > 2 * T ? nb : 2 * T);
        size_t bytes = entries * (sa64 ? sizeof(int64_t) : sizeof(int32_t));
        if (!(start = fg_alloc(a, (n + 1) * sizeof *start, 64)) || !(sa = fg_alloc(a, bytes, 64)))
            goto nomem;
        start[0] = 0;
        for (size_t d = 0; d < n; d++)
            start[d + 1] = start[d] + (uint32_t)lens[d];
        st = suffix_sort(text, sa, nb, sa64, err, errlen);
        if (st != FG_OK)
            goto fail;
        uint32_t *sa32 = sa, *plcp = sa32 + T;
        if (compact(sa, sa64, nb, w, sa32) != T) {
            st = bad(err, errlen, FG_ERR_INTERNAL, "substr: suffix array has a wrong size");
            goto fail;
        }
        phi_plcp(text, sa32, T, w, L, plcp);
        fg_free(a, text);
        text = NULL;
        mark_windows(sa32, T, start, n, L, plcp);
        n_out = collect(plcp, start, n, L, NULL, &touched, &removed);
        if (n_out) {
            size_t ob;
            if (fg_size_mul(n_out, sizeof *out, &ob) != FG_OK || !(out = fg_alloc(a, ob, 64)))
                goto nomem;
            collect(plcp, start, n, L, out, &touched, &removed);
        }
    }
    fg_free(a, sa);
    fg_free(a, start);
    fg_free(a, text);
    *spans = out;
    *n_spans = n_out;
    if (stats) {
        stats->docs = n;
        stats->docs_touched = touched;
        stats->spans = n_out;
        stats->tokens_in = T;
        stats->tokens_removed = removed;
    }
    return FG_OK;

nomem:
    st = FG_ERR_NOMEM;
    if (err && errlen)
        snprintf(err, errlen,
                 "substr: out of memory for %zu tokens (needs about %zu bytes per token)", T,
                 sa64 ? 9 * (size_t)w : w + 4 * (size_t)(w > 2 ? w : 2));
fail:
    fg_free(a, out);
    fg_free(a, sa);
    fg_free(a, start);
    fg_free(a, text);
    return st;
}
