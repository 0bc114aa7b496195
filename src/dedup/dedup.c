/* Exact and near-duplicate document removal: normalized 128-bit hashes, then MinHash + LSH
 * candidates verified by exact Jaccard and joined by union-find (include/frugal/dedup.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/dedup.h"

struct fg_dedup_params fg_dedup_params_default(void)
{
    struct fg_dedup_params p = { 1, 1, 0, 5, 50, 3, 0.35, 0x5eed, 1 }; /* see dedup.h */
    return p;
}

/* ---- hashing ---- */

static inline uint64_t mix64(uint64_t x) /* splitmix64 finalizer */
{
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x;
}

static inline int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static inline int is_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static inline unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

void fg_dedup_exact_hash(const char *doc, size_t len, int casefold, uint64_t out[2])
{
    /* two independent byte hashes (FNV-1a and a multiply-rotate) of the normalized stream */
    uint64_t h1 = UINT64_C(0xcbf29ce484222325), h2 = UINT64_C(0x9e3779b97f4a7c15);
    const unsigned char *s = (const unsigned char *)doc;
    size_t i = 0, n = 0;
    while (i < len && is_space(s[i]))
        i++;
    int pending_space = 0;
    for (; i < len; i++) {
        unsigned char c = s[i];
        if (is_space(c)) {
            pending_space = 1;
            continue;
        }
        if (pending_space) {
            h1 = (h1 ^ ' ') * UINT64_C(0x100000001b3);
            h2 = ((h2 ^ ' ') * UINT64_C(0xff51afd7ed558ccd));
            h2 = (h2 << 29) | (h2 >> 35);
            pending_space = 0;
            n++;
        }
        if (casefold)
            c = lower(c);
        h1 = (h1 ^ c) * UINT64_C(0x100000001b3);
        h2 = (h2 ^ c) * UINT64_C(0xff51afd7ed558ccd);
        h2 = (h2 << 29) | (h2 >> 35);
        n++;
    }
    out[0] = mix64(h1 ^ n);
    out[1] = mix64(h2 + n * UINT64_C(0x9e3779b97f4a7c15));
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The hashes of the document's shingles in text order, repeats included (MinHash needs no
 * more: the minimum over a multiset is the minimum over its set); returns how many there are
 * (only cap are written). */
static size_t shingles_raw(const char *doc, size_t len, int shingle, uint64_t *out, size_t cap)
{
    const unsigned char *s = (const unsigned char *)doc;
    uint64_t ring[64];
    size_t k = shingle < 1 ? 1 : shingle > 64 ? 64 : (size_t)shingle;
    size_t words = 0, n = 0, i = 0;
    while (i < len) {
        while (i < len && !is_word(s[i]))
            i++;
        if (i >= len)
            break;
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        while (i < len && is_word(s[i]))
            h = (h ^ lower(s[i++])) * UINT64_C(0x100000001b3);
        ring[words % k] = mix64(h);
        words++;
        if (words >= k) {
            uint64_t sh = UINT64_C(0x243f6a8885a308d3);
            for (size_t j = words - k; j < words; j++)
                sh = mix64(sh * UINT64_C(31) + ring[j % k]);
            if (n < cap)
                out[n] = sh;
            n++;
        }
    }
    if (words > 0 && words < k) { /* a short document: one shingle of all its words */
        uint64_t sh = UINT64_C(0x243f6a8885a308d3);
        for (size_t j = 0; j < words; j++)
            sh = mix64(sh * UINT64_C(31) + ring[j]);
        if (n < cap)
            out[n] = sh;
        n++;
    }
    return n;
}

size_t fg_dedup_shingles(const char *doc, size_t len, int shingle, uint64_t *out, size_t cap)
{
    size_t n = shingles_raw(doc, len, shingle, out, cap);
    if (n > cap)
        return n;
    if (n < 2)
        return n;
    qsort(out, n, sizeof *out, cmp_u64);
    size_t m = 0;
    for (size_t j = 0; j < n; j++)
        if (m == 0 || out[j] != out[m - 1])
            out[m++] = out[j];
    return m;
}

double fg_dedup_jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    if (na == 0 && nb == 0)
        return 1.0;
    size_t i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) {
            inter++;
            i++;
            j++;
        } else if (a[i] < b[j]) {
            i++;
        } else {
            j++;
        }
    }
    return (double)inter / (double)(na + nb - inter);
}

/* ---- union-find: the root of a set is its smallest index (the document kept) ---- */

static size_t uf_find(size_t *parent, size_t x)
{
    size_t r = x;
    while (parent[r] != r)
        r = parent[r];
    while (parent[x] != r) {
        size_t next = parent[x];
        parent[x] = r;
        x = next;
    }
    return r;
}

/* ---- the pipeline ---- */

struct keyed {
    uint64_t k0, k1;
    size_t doc;
};

/* Stable LSD radix sort of a[0..m) by k0 (16-bit digits, tmp holds m entries): equal keys
 * keep their order, so entries filled in document order stay in document order; count holds
 * 2^16 entries. Replaces a
 * comparison sort that took half of the near stage on a 30 MB corpus. */
static void radix_sort_k0(struct keyed *a, struct keyed *tmp, size_t m, size_t *count)
{
    struct keyed *src = a, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 16) {
        memset(count, 0, ((size_t)1 << 16) * sizeof *count);
        for (size_t i = 0; i < m; i++)
            count[(src[i].k0 >> shift) & 0xffff]++;
        size_t sum = 0;
        for (size_t d = 0; d < (1u << 16); d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < m; i++)
            dst[count[(src[i].k0 >> shift) & 0xffff]++] = src[i];
        struct keyed *t = src;
        src = dst;
        dst = t;
    }
    /* four passes: the result is back in a */
}

static int cmp_keyed(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    if (a->k0 != b->k0)
        return a->k0 < b->k0 ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

static fg_status bad(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    return FG_ERR_INVALID_ARG;
}

/* shingle set of one document into a growing buffer */
static fg_status shingle_set(const char *doc, size_t len, int k, int raw, uint64_t **buf,
                             size_t *cap, size_t *n)
{
    size_t (*get)(const char *, size_t, int, uint64_t *, size_t) =
        raw ? shingles_raw : fg_dedup_shingles;
    size_t m = get(doc, len, k, *buf, *cap);
    if (m > *cap) {
        size_t c = m + m / 2 + 16;
        uint64_t *nb = realloc(*buf, c * sizeof **buf);
        if (!nb)
            return FG_ERR_NOMEM;
        *buf = nb;
        *cap = c;
        m = get(doc, len, k, *buf, *cap);
    }
    *n = m;
    return FG_OK;
}

/* mins[h] = min over the shingles x of hash h: the high 32 bits of pa[h] * x32 + pb[h]
 * (mod 2^64), x32 the 32-bit fold of x: Dietzfelbinger's multiply-add-shift, a 2-independent
 * family on 32-bit keys. One multiply per hash; the loop over h vectorizes (the AVX-512 copy
 * has 64-bit vector multiplies, AVX512DQ, and computes the same values). */
#define MINHASH_BODY                                            \
    for (size_t j = 0; j < n; j++) {                            \
        uint64_t x = (uint32_t)(sh[j] ^ (sh[j] >> 32));         \
        for (size_t h = 0; h < H; h++) {                        \
            uint32_t r = (uint32_t)((pa[h] * x + pb[h]) >> 32); \
            mins[h] = r < mins[h] ? r : mins[h];                \
        }                                                       \
    }

static void minhash(uint32_t *restrict mins, const uint64_t *restrict pa,
                    const uint64_t *restrict pb, size_t H, const uint64_t *sh, size_t n)
{
    MINHASH_BODY
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512dq,avx512vl"))) static void
minhash_avx512(uint32_t *restrict mins, const uint64_t *restrict pa, const uint64_t *restrict pb,
               size_t H, const uint64_t *sh, size_t n)
{
    MINHASH_BODY
}
#else
#    define minhash_avx512 minhash
#endif

/* MinHash band keys of document i: keys[b] for b < bands (0 when the document has no word) */
static fg_status band_keys(const char *doc, size_t len, const struct fg_dedup_params *p,
                           const uint64_t *pa, const uint64_t *pb, uint64_t *keys, uint64_t **buf,
                           size_t *cap, uint32_t *mins, int avx512)
{
    size_t n;
    fg_status st = shingle_set(doc, len, p->shingle, 1, buf, cap, &n);
    if (st != FG_OK)
        return st;
    size_t H = (size_t)p->bands * (size_t)p->rows;
    if (n == 0) {
        memset(keys, 0, (size_t)p->bands * sizeof *keys);
        return FG_OK;
    }
    for (size_t h = 0; h < H; h++)
        mins[h] = UINT32_MAX;
    if (avx512)
        minhash_avx512(mins, pa, pb, H, *buf, n);
    else
        minhash(mins, pa, pb, H, *buf, n);
    for (int b = 0; b < p->bands; b++) {
        uint64_t k = mix64((uint64_t)b + 1);
        for (int r = 0; r < p->rows; r++)
            k = mix64(k ^ mins[(size_t)b * (size_t)p->rows + (size_t)r]);
        keys[b] = k | 1; /* never 0: 0 marks "no words" */
    }
    return FG_OK;
}

fg_status fg_dedup(const char *const *docs, const size_t *lens, size_t n,
                   const struct fg_dedup_params *p, struct fg_dedup_doc *out,
                   struct fg_dedup_stats *stats, char *err, size_t errlen)
{
    if (!p || (n && (!docs || !lens || !out)))
        return bad(err, errlen, "dedup: documents, lengths and output are required");
    if (p->shingle < 1 || p->shingle > 64)
        return bad(err, errlen, "dedup: shingle must be 1..64 words");
    if (p->near && (p->bands < 1 || p->rows < 1 || p->bands * p->rows > 4096))
        return bad(err, errlen, "dedup: bands and rows must be >= 1 with bands x rows <= 4096");
    if (p->near && !(p->threshold > 0.0 && p->threshold <= 1.0))
        return bad(err, errlen, "dedup: threshold must be in (0, 1]");
    struct fg_dedup_stats s;
    memset(&s, 0, sizeof s);
    s.docs = n;
    for (size_t i = 0; i < n; i++) {
        out[i].reason = FG_DEDUP_KEPT;
        out[i].dup_of = i;
        out[i].jaccard = 0.0;
        s.bytes_in += lens[i];
    }
    fg_status st = FG_OK;
    struct keyed *kv = NULL, *kv_tmp = NULL;
    size_t *count = NULL;
    size_t *parent = NULL;
    uint64_t *keys = NULL, *pa = NULL, *pb = NULL;

    /* exact stage */
    if (p->exact && n > 1) {
        kv = malloc(n * sizeof *kv);
        if (!kv)
            return FG_ERR_NOMEM;
        long nl = (long)n;
        int casefold = p->casefold;
#pragma omp parallel for schedule(dynamic, 64)                     \
    num_threads(p->n_threads > 0 ? p->n_threads : 1) default(none) \
        shared(kv, docs, lens, nl, casefold)
        for (long i = 0; i < nl; i++) {
            uint64_t h[2];
            fg_dedup_exact_hash(docs[i], lens[i], casefold, h);
            kv[i].k0 = h[0];
            kv[i].k1 = h[1];
            kv[i].doc = (size_t)i;
        }
        qsort(kv, n, sizeof *kv, cmp_keyed);
        for (size_t i = 1, first = 0; i < n; i++) {
            if (kv[i].k0 != kv[i - 1].k0 || kv[i].k1 != kv[i - 1].k1)
                first = i;
            if (first != i) {
                /* kv is sorted by doc within equal keys: kv[first] is the earliest */
                out[kv[i].doc].reason = FG_DEDUP_EXACT;
                out[kv[i].doc].dup_of = kv[first].doc;
                out[kv[i].doc].jaccard = 1.0;
                s.exact_removed++;
            }
        }
        free(kv);
        kv = NULL;
    }

    /* near stage */
    if (p->near && n > 1) {
        size_t B = (size_t)p->bands, H = B * (size_t)p->rows;
        keys = malloc(n * B * sizeof *keys);
        pa = malloc(H * sizeof *pa);
        pb = malloc(H * sizeof *pb);
        parent = malloc(n * sizeof *parent);
        kv = malloc(n * sizeof *kv);
        kv_tmp = malloc(n * sizeof *kv_tmp);
        count = malloc(((size_t)1 << 16) * sizeof *count);
        if (!keys || !pa || !pb || !parent || !kv || !kv_tmp || !count) {
            st = FG_ERR_NOMEM;
            goto done;
        }
        struct fg_rng rng;
        fg_rng_seed(&rng, p->seed);
        for (size_t h = 0; h < H; h++) {
            pa[h] = fg_rng_u64(&rng);
            pb[h] = fg_rng_u64(&rng);
        }
        long nl = (long)n;
        int failed = 0, avx512 = fg_cpu_isa() >= FG_ISA_AVX512; /* cpuid: once, not per document */
#pragma omp parallel num_threads(p->n_threads > 0 ? p->n_threads : 1) default(none) \
    shared(docs, lens, nl, p, pa, pb, keys, out, B, H, failed, avx512)
        {
            uint64_t *buf = NULL;
            uint32_t *mins = malloc(H * sizeof *mins);
            size_t cap = 0;
            if (!mins) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp for schedule(dynamic, 16)
            for (long i = 0; i < nl; i++) {
                if (!mins || out[i].reason != FG_DEDUP_KEPT) {
                    memset(keys + (size_t)i * B, 0, B * sizeof *keys);
                    continue;
                }
                if (band_keys(docs[i], lens[i], p, pa, pb, keys + (size_t)i * B, &buf, &cap, mins,
                              avx512) != FG_OK) {
#pragma omp atomic write
                    failed = 1;
                }
            }
            free(buf);
            free(mins);
        }
        if (failed) {
            st = FG_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            parent[i] = i;
        uint64_t *sa = NULL, *sb = NULL;
        size_t ca = 0, cb = 0, na = 0, nb = 0, cached_a = SIZE_MAX;
        for (size_t b = 0; b < B && st == FG_OK; b++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (keys[i * B + b]) {
                    kv[m].k0 = keys[i * B + b];
                    kv[m].k1 = 0;
                    kv[m].doc = i;
                    m++;
                }
            radix_sort_k0(kv, kv_tmp, m, count);
            for (size_t i = 1, first = 0; i < m && st == FG_OK; i++) {
                if (kv[i].k0 != kv[i - 1].k0)
                    first = i;
                if (first == i)
                    continue;
                /* candidates: the bucket's first document, then the previous one */
                size_t tries[2] = { kv[first].doc, kv[i - 1].doc };
                for (int t = 0; t < (first == i - 1 ? 1 : 2); t++) {
                    size_t x = tries[t], y = kv[i].doc;
                    size_t rx = uf_find(parent, x), ry = uf_find(parent, y);
                    if (rx == ry)
                        break; /* already one cluster */
                    s.candidates++;
                    if (cached_a != x) {
                        st = shingle_set(docs[x], lens[x], p->shingle, 0, &sa, &ca, &na);
                        cached_a = x;
                    }
                    if (st == FG_OK)
                        st = shingle_set(docs[y], lens[y], p->shingle, 0, &sb, &cb, &nb);
                    if (st != FG_OK) {
                        cached_a = SIZE_MAX;
                        break;
                    }
                    double jac = fg_dedup_jaccard(sa, na, sb, nb);
                    if (jac >= p->threshold) {
                        s.verified++;
                        if (rx < ry) {
                            parent[ry] = rx;
                            if (out[y].jaccard == 0.0)
                                out[y].jaccard = jac;
                        } else {
                            parent[rx] = ry;
                            if (out[x].jaccard == 0.0)
                                out[x].jaccard = jac;
                        }
                        break;
                    }
                }
            }
        }
        free(sa);
        free(sb);
        if (st != FG_OK)
            goto done;
        for (size_t i = 0; i < n; i++) {
            if (out[i].reason != FG_DEDUP_KEPT)
                continue;
            size_t r = uf_find(parent, i);
            if (r != i) {
                out[i].reason = FG_DEDUP_NEAR;
                out[i].dup_of = r;
                s.near_removed++;
            } else {
                out[i].jaccard = 0.0;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (out[i].reason == FG_DEDUP_KEPT) {
            s.kept++;
            s.bytes_kept += lens[i];
        }
done:
    free(kv);
    free(kv_tmp);
    free(count);
    free(keys);
    free(pa);
    free(pb);
    free(parent);
    if (st == FG_ERR_NOMEM && err && errlen)
        snprintf(err, errlen, "dedup: out of memory");
    if (st == FG_OK && stats)
        *stats = s;
    return st;
}
