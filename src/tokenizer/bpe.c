/* Byte-level BPE encoding and decoding (GPT-2; Sennrich et al. 2016, "Neural Machine
 * Translation of Rare Words with Subword Units", applied to bytes as in Radford et al. 2019).
 *
 * The fast encoder splits the text into pieces (pretok.c) and looks each piece up in a
 * per-thread, direct-mapped word cache keyed by its bytes; on a miss it runs the merge loop,
 * merging the lowest-ranked adjacent pair one occurrence at a time (leftmost first):
 *  - pieces up to FG_TOK_SHORT_MAX bytes: a rank-min scan over a small array (O(n^2), n small);
 *  - longer pieces: a doubly linked list of symbols and a queue of pending pairs bucketed by
 *    rank, O(n) (see merge_long).
 * One-at-a-time equals GPT-2's "merge every occurrence of the best pair" because the loader
 * guarantees that every merge using a token ranks after the merge that makes it: while the
 * occurrences of the best pair are merged, no new pair can rank below it, so they are merged
 * left to right exactly as GPT-2's scan does. fg_tokenizer_encode_ref is that textbook loop.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#    include <omp.h>
#endif

#include "tokenizer_int.h"

/* ---- workspaces ------------------------------------------------------------------------------ */
fg_status fg_tok_ws_init(struct fg_tokenizer *tok)
{
    size_t bytes;
    FG_TRY(fg_size_mul((size_t)tok->n_threads, sizeof *tok->ws, &bytes));
    tok->ws = fg_alloc(&tok->alloc, bytes, 64);
    if (!tok->ws)
        return FG_ERR_NOMEM;
    memset(tok->ws, 0, bytes);
    for (int t = 0; t < tok->n_threads; t++) {
        if (!tok->cache_slots)
            continue;
        FG_TRY(fg_size_mul(tok->cache_slots, sizeof(struct fg_tok_cache_slot), &bytes));
        tok->ws[t].cache = fg_alloc(&tok->alloc, bytes, 64);
        if (!tok->ws[t].cache)
            return FG_ERR_NOMEM; /* the caller frees what was allocated */
        memset(tok->ws[t].cache, 0, bytes);
    }
    return FG_OK;
}

void fg_tok_ws_free(struct fg_tokenizer *tok)
{
    if (!tok->ws)
        return;
    for (int t = 0; t < tok->n_threads; t++) {
        struct fg_tok_ws *ws = &tok->ws[t];
        fg_free(&tok->alloc, ws->cache);
        fg_free(&tok->alloc, ws->nd);
        fg_free(&tok->alloc, ws->ent);
        fg_free(&tok->alloc, ws->head);
        fg_free(&tok->alloc, ws->bits);
    }
    fg_free(&tok->alloc, tok->ws);
    tok->ws = NULL;
}

/* Make room for a piece of n bytes: n symbols, 3n queue entries, and the buckets. */
static fg_status ws_reserve(const struct fg_tokenizer *tok, struct fg_tok_ws *ws, size_t n)
{
    if (!ws->head) {
        size_t n_words = (tok->n_merges + 63) / 64 + 1;
        ws->head = fg_alloc(&tok->alloc, ((size_t)tok->n_merges + 1) * sizeof *ws->head, 64);
        ws->bits = fg_alloc(&tok->alloc, n_words * sizeof *ws->bits, 64);
        if (!ws->head || !ws->bits) {
            fg_free(&tok->alloc, ws->head);
            fg_free(&tok->alloc, ws->bits);
            ws->head = NULL;
            ws->bits = NULL;
            return FG_ERR_NOMEM;
        }
        memset(ws->head, 0xFF, ((size_t)tok->n_merges + 1) * sizeof *ws->head);
        memset(ws->bits, 0, n_words * sizeof *ws->bits);
    }
    if (n <= ws->cap_sym)
        return FG_OK;
    size_t cap = ws->cap_sym ? ws->cap_sym : 1024;
    while (cap < n)
        cap *= 2;
    size_t b12, b24;
    if (fg_size_mul(cap, sizeof *ws->nd, &b12) != FG_OK || fg_size_mul(cap, 24, &b24) != FG_OK)
        return FG_ERR_NOMEM;
    fg_free(&tok->alloc, ws->nd);
    fg_free(&tok->alloc, ws->ent);
    ws->nd = fg_alloc(&tok->alloc, b12, 64);
    ws->ent = fg_alloc(&tok->alloc, b24, 64); /* 3 cap entries of 8 bytes */
    if (!ws->nd || !ws->ent) {
        ws->cap_sym = 0;
        return FG_ERR_NOMEM; /* a later reserve or fg_tokenizer_free releases the others */
    }
    ws->cap_sym = cap;
    return FG_OK;
}

/* ---- the merge loop for short pieces: rank-min scan ------------------------------------------ */
static void merge_short(const struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *w,
                        size_t n, size_t *m_out)
{
    uint32_t *sym = ws->short_sym, *rank = ws->short_rank, *mid = ws->short_mid;
    uint64_t work = 0;
    for (size_t i = 0; i < n; i++)
        sym[i] = tok->byte_id[w[i]];
    for (size_t i = 0; i + 1 < n; i++) {
        const struct fg_tok_pair *p = fg_tok_pair_find(tok, sym[i], sym[i + 1]);
        rank[i] = p ? p->rank : FG_TOK_NONE;
        mid[i] = p ? p->id : 0;
    }
    work += n;
    size_t m = n;
    while (m > 1) {
        uint32_t best = FG_TOK_NONE;
        size_t b = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            if (rank[i] < best) {
                best = rank[i];
                b = i;
            }
        }
        work += m;
        if (best == FG_TOK_NONE)
            break;
        /* merge symbols b and b+1; pair b-1 and pair b change, later pairs shift left */
        sym[b] = mid[b];
        if (b + 2 < m) {
            memmove(sym + b + 1, sym + b + 2, (m - b - 2) * sizeof *sym);
            memmove(rank + b + 1, rank + b + 2, (m - b - 3) * sizeof *rank);
            memmove(mid + b + 1, mid + b + 2, (m - b - 3) * sizeof *mid);
        }
        m--;
        work += m - b;
        if (b > 0) {
            const struct fg_tok_pair *p = fg_tok_pair_find(tok, sym[b - 1], sym[b]);
            rank[b - 1] = p ? p->rank : FG_TOK_NONE;
            mid[b - 1] = p ? p->id : 0;
        }
        if (b + 1 < m) {
            const struct fg_tok_pair *p = fg_tok_pair_find(tok, sym[b], sym[b + 1]);
            rank[b] = p ? p->rank : FG_TOK_NONE;
            mid[b] = p ? p->id : 0;
        }
        work += 2;
    }
    ws->stats.n_merge_work += work;
    *m_out = m;
}

/* ---- the merge loop for long pieces: linked list + rank-bucket queue ------------------------- */
/* The loader guarantees that a merge ranks after the merges that make its two parts, so the
 * pairs a merge of rank r creates all rank above r: the smallest pending rank never goes down.
 * A monotone bucket queue therefore replaces the heap: bucket r lists the positions where a
 * pair of rank r was seen (lazily: an entry is checked when its bucket is emptied), and a
 * bitmap of non-empty buckets finds the next rank. Every operation is O(1), so a piece of n
 * bytes costs O(n) plus a scan of n_merges / 64 bitmap words.
 * Inside one bucket the order does not matter, except in a run of equal symbols whose pair is
 * (a, a): GPT-2 merges it from the left, so we walk back to the run's start first. */
struct long_state {
    const struct fg_tokenizer *tok;
    struct fg_tok_ws *ws;
    struct fg_tok_node *nd;
    uint32_t n, free_ent; /* free list of queue entries */
    uint64_t work;
};

static inline void q_push(struct long_state *L, uint32_t a, uint32_t b, uint32_t pos)
{
    const struct fg_tok_pair *p = fg_tok_pair_find(L->tok, a, b);
    L->work++;
    if (!p)
        return;
    struct fg_tok_ws *ws = L->ws;
    uint32_t e = L->free_ent;
    assert(e != FG_TOK_NONE);
    L->free_ent = ws->ent[e].next;
    ws->ent[e].pos = pos;
    ws->ent[e].next = ws->head[p->rank];
    ws->head[p->rank] = e;
    ws->bits[p->rank >> 6] |= 1ull << (p->rank & 63);
}

/* Merge the pair at symbol i with its successor into token id, and queue the two new pairs. */
static inline void merge_at(struct long_state *L, uint32_t i, uint32_t id)
{
    struct fg_tok_node *nd = L->nd;
    uint32_t j = nd[i].next, k = nd[j].next, p = nd[i].prev;
    nd[i].sym = id;
    nd[j].sym = FG_TOK_NONE;
    nd[i].next = k;
    if (k < L->n)
        nd[k].prev = i;
    if (p != FG_TOK_NONE)
        q_push(L, nd[p].sym, id, p);
    if (k < L->n)
        q_push(L, id, nd[k].sym, i);
}

/* Merge w[0..n) (n < FG_TOK_NONE) into ws->nd; the result is the list from 0 along next. */
static fg_status merge_long(const struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *w,
                            size_t n)
{
    FG_TRY(ws_reserve(tok, ws, n));
    struct long_state L = { tok, ws, ws->nd, (uint32_t)n, 0, 0 };
    struct fg_tok_node *nd = L.nd;
    for (uint32_t i = 0; i < n; i++) {
        nd[i].sym = tok->byte_id[w[i]];
        nd[i].next = i + 1;
        nd[i].prev = i ? i - 1 : FG_TOK_NONE;
    }
    /* entries 0 .. 3n-1 on the free list: there are n - 1 first pairs and each merge queues at
     * most two more, so even without recycling fewer than 3n are ever taken */
    for (size_t e = 0; e + 1 < 3 * n; e++)
        ws->ent[e].next = (uint32_t)(e + 1);
    ws->ent[3 * n - 1].next = FG_TOK_NONE;
    for (uint32_t i = 0; i + 1 < n; i++)
        q_push(&L, nd[i].sym, nd[i + 1].sym, i);
    const size_t n_words = (tok->n_merges + 63) / 64;
    for (size_t wi = 0; wi < n_words; wi++) {
        while (ws->bits[wi]) {
            uint32_t r = (uint32_t)(wi * 64) + (uint32_t)__builtin_ctzll(ws->bits[wi]);
            ws->bits[wi] &= ws->bits[wi] - 1;
            const struct fg_tok_merge m = tok->merges[r];
            uint32_t e = ws->head[r];
            ws->head[r] = FG_TOK_NONE;
            while (e != FG_TOK_NONE) {
                uint32_t i = ws->ent[e].pos, en = ws->ent[e].next;
                ws->ent[e].next = L.free_ent; /* recycle before merging pushes new entries */
                L.free_ent = e;
                e = en;
                L.work++;
                if (nd[i].sym != m.a || nd[i].next >= n || nd[nd[i].next].sym != m.b)
                    continue; /* stale: a neighbour was merged since */
                if (m.a != m.b) {
                    merge_at(&L, i, m.id);
                    continue;
                }
                /* a run of a's: merge it pairwise from its left end */
                while (nd[i].prev != FG_TOK_NONE && nd[nd[i].prev].sym == m.a) {
                    i = nd[i].prev;
                    L.work++;
                }
                while (i < n && nd[i].sym == m.a && nd[i].next < n && nd[nd[i].next].sym == m.a) {
                    merge_at(&L, i, m.id);
                    i = nd[i].next;
                }
            }
            /* merging rank r only queues ranks above r, in this word or later ones */
            assert((ws->bits[wi] & ((2ull << (r & 63)) - 1)) == 0);
        }
        L.work++;
    }
    ws->stats.n_merge_work += L.work;
    return FG_OK;
}

/* ---- the fast encoder ------------------------------------------------------------------------ */
static inline uint64_t cache_hash(const uint64_t k[3])
{
    uint64_t h = k[0] * 0x9E3779B97F4A7C15ull;
    h ^= k[1] * 0xC2B2AE3D27D4EB4Full + (k[2] * 0x165667B19E3779F9ull);
    h ^= h >> 31;
    h *= 0xD6E8FEB86659FD93ull;
    return h ^ (h >> 32);
}

struct out_buf {
    uint32_t *ids;
    size_t n, cap;
};

/* Errors while encoding go to the workspace's own buffer (threads may fail at once); the
 * public entry points copy the message into tok->errmsg. */
static fg_status ws_fail(struct fg_tok_ws *ws, fg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fg_status ws_fail(struct fg_tok_ws *ws, fg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->errmsg, sizeof ws->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

static fg_status out_room(struct fg_tok_ws *ws, const struct out_buf *o, size_t m)
{
    if (o->cap - o->n >= m)
        return FG_OK;
    return ws_fail(ws, FG_ERR_INVALID_ARG,
                   "encode: the ids buffer (cap %zu) is too small; cap = input length in "
                   "bytes is always enough",
                   o->cap);
}

/* Append the ids of the piece w[0..n). */
static fg_status encode_piece(struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *w,
                              size_t n, struct out_buf *o)
{
    ws->stats.n_pieces++;
    if (n == 1) {
        FG_TRY(out_room(ws, o, 1));
        o->ids[o->n++] = tok->byte_id[w[0]];
        return FG_OK;
    }
    if (n <= FG_TOK_SHORT_MAX) {
        uint64_t key[3] = { 0, 0, 0 };
        struct fg_tok_cache_slot *slot = NULL;
        if (ws->cache && n <= FG_TOK_CACHE_KEY_MAX) {
            uint8_t *kb = (uint8_t *)key;
            kb[0] = (uint8_t)n;
            memcpy(kb + 1, w, n);
            slot = &ws->cache[cache_hash(key) & (tok->cache_slots - 1)];
            if (slot->key[0] == key[0] && slot->key[1] == key[1] && slot->key[2] == key[2]) {
                ws->stats.n_cache_hits++;
                FG_TRY(out_room(ws, o, slot->n_ids));
                memcpy(o->ids + o->n, slot->ids, slot->n_ids * sizeof *o->ids);
                o->n += slot->n_ids;
                return FG_OK;
            }
        }
        size_t m;
        ws->stats.n_merged++;
        merge_short(tok, ws, w, n, &m);
        FG_TRY(out_room(ws, o, m));
        memcpy(o->ids + o->n, ws->short_sym, m * sizeof *o->ids);
        o->n += m;
        if (slot && m <= FG_TOK_CACHE_IDS_MAX) {
            memcpy(slot->key, key, sizeof key);
            slot->n_ids = (uint32_t)m;
            memcpy(slot->ids, ws->short_sym, m * sizeof *slot->ids);
        }
        return FG_OK;
    }
    if (n >= FG_TOK_NONE)
        return ws_fail(ws, FG_ERR_INVALID_ARG,
                       "encode: a single piece of %zu bytes is over the 4 GiB limit", n);
    ws->stats.n_merged++;
    fg_status st = merge_long(tok, ws, w, n);
    if (st != FG_OK)
        return ws_fail(ws, st,
                       "encode: out of memory for the merge scratch of a %zu-byte "
                       "piece (about 36 bytes per byte)",
                       n);
    size_t m = 0;
    for (size_t i = 0; i < n; i = ws->nd[i].next)
        m++;
    FG_TRY(out_room(ws, o, m));
    for (size_t i = 0; i < n; i = ws->nd[i].next)
        o->ids[o->n++] = ws->nd[i].sym;
    return FG_OK;
}

/* Encode text with no special tokens in it. */
static fg_status encode_ordinary(struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *s,
                                 size_t n, struct out_buf *o)
{
    ws->stats.n_bytes += n;
    for (size_t i = 0; i < n;) {
        size_t e = fg_tok_piece_end(s, n, i);
        assert(e > i && e <= n);
        FG_TRY(encode_piece(tok, ws, s + i, e - i, o));
        i = e;
    }
    return FG_OK;
}

/* Position of the next "<|endoftext|>" in s[0..n), or n. */
static size_t find_special(const uint8_t *s, size_t n)
{
    static const char eot[] = FG_TOKENIZER_EOT_TEXT;
    const size_t l = sizeof eot - 1;
    for (size_t i = 0; n - i >= l;) {
        const uint8_t *p = memchr(s + i, '<', n - i - l + 1);
        if (!p)
            break;
        i = (size_t)(p - s);
        if (memcmp(p, eot, l) == 0)
            return i;
        i++;
    }
    return n;
}

typedef fg_status (*segment_fn)(struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *s,
                                size_t n, struct out_buf *o);

/* Split at special tokens (if allowed) and encode the segments with fn. */
static fg_status encode_with(struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *s,
                             size_t n, unsigned flags, struct out_buf *o, segment_fn fn)
{
    if (!(flags & FG_TOKENIZER_ALLOW_SPECIAL))
        return fn(tok, ws, s, n, o);
    const size_t l = strlen(FG_TOKENIZER_EOT_TEXT);
    for (size_t i = 0; i < n;) {
        size_t e = i + find_special(s + i, n - i);
        FG_TRY(fn(tok, ws, s + i, e - i, o));
        if (e == n)
            break;
        FG_TRY(out_room(ws, o, 1));
        o->ids[o->n++] = tok->eot_id;
        i = e + l;
    }
    return FG_OK;
}

static fg_status check_args(struct fg_tokenizer *tok, const void *text, size_t len,
                            const uint32_t *ids, size_t cap, const size_t *n_ids)
{
    if (!tok)
        return FG_ERR_INVALID_ARG;
    if ((!text && len) || (!ids && cap) || !n_ids)
        return fg_tok_fail(tok, FG_ERR_INVALID_ARG, "encode: NULL argument");
    return FG_OK;
}

fg_status fg_tokenizer_encode(struct fg_tokenizer *tok, const void *text, size_t len,
                              unsigned flags, uint32_t *ids, size_t cap, size_t *n_ids)
{
    FG_TRY(check_args(tok, text, len, ids, cap, n_ids));
    struct out_buf o = { ids, 0, cap };
    fg_status st = encode_with(tok, &tok->ws[0], text, len, flags, &o, encode_ordinary);
    *n_ids = o.n;
    if (st != FG_OK)
        memcpy(tok->errmsg, tok->ws[0].errmsg, sizeof tok->errmsg);
    return st;
}

/* ---- the reference encoder ------------------------------------------------------------------- */
/* GPT-2's bpe(): symbols start as single bytes; repeatedly find the adjacent pair with the
 * lowest rank, and rewrite the word merging every occurrence of that pair from left to right
 * (encoder.py: while True: bigram = min(pairs, key=rank); ... new_word ...). */
static fg_status ref_merge(const struct fg_tokenizer *tok, const uint8_t *w, size_t n,
                           uint32_t *word, uint32_t *tmp, size_t *m_out)
{
    size_t m = n;
    for (size_t i = 0; i < n; i++)
        word[i] = tok->byte_id[w[i]];
    for (;;) {
        const struct fg_tok_pair *best = NULL;
        for (size_t i = 0; i + 1 < m; i++) {
            const struct fg_tok_pair *p = fg_tok_pair_find(tok, word[i], word[i + 1]);
            if (p && (!best || p->rank < best->rank))
                best = p;
        }
        if (!best)
            break;
        size_t k = 0;
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && word[i] == best->a && word[i + 1] == best->b) {
                tmp[k++] = best->id;
                i += 2;
            } else {
                tmp[k++] = word[i++];
            }
        }
        memcpy(word, tmp, k * sizeof *word);
        m = k;
    }
    *m_out = m;
    return FG_OK;
}

static fg_status ref_segment(struct fg_tokenizer *tok, struct fg_tok_ws *ws, const uint8_t *s,
                             size_t n, struct out_buf *o)
{
    fg_status st = FG_OK;
    uint32_t *word = NULL, *tmp = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && st == FG_OK;) {
        size_t e = fg_tok_piece_end_ref(s, n, i), len = e - i, m;
        assert(e > i && e <= n);
        if (len > cap) {
            fg_free(&tok->alloc, word);
            fg_free(&tok->alloc, tmp);
            size_t bytes;
            cap = len;
            word = tmp = NULL;
            if (fg_size_mul(cap, sizeof *word, &bytes) == FG_OK) {
                word = fg_alloc(&tok->alloc, bytes, 64);
                tmp = fg_alloc(&tok->alloc, bytes, 64);
            }
            if (!word || !tmp) {
                st = ws_fail(ws, FG_ERR_NOMEM, "encode_ref: out of memory");
                break;
            }
        }
        ref_merge(tok, s + i, len, word, tmp, &m);
        st = out_room(ws, o, m);
        if (st == FG_OK) {
            memcpy(o->ids + o->n, word, m * sizeof *word);
            o->n += m;
        }
        i = e;
    }
    fg_free(&tok->alloc, word);
    fg_free(&tok->alloc, tmp);
    return st;
}

fg_status fg_tokenizer_encode_ref(struct fg_tokenizer *tok, const void *text, size_t len,
                                  unsigned flags, uint32_t *ids, size_t cap, size_t *n_ids)
{
    FG_TRY(check_args(tok, text, len, ids, cap, n_ids));
    struct out_buf o = { ids, 0, cap };
    fg_status st = encode_with(tok, &tok->ws[0], text, len, flags, &o, ref_segment);
    *n_ids = o.n;
    if (st != FG_OK)
        memcpy(tok->errmsg, tok->ws[0].errmsg, sizeof tok->errmsg);
    return st;
}

/* ---- many documents in parallel -------------------------------------------------------------- */
fg_status fg_tokenizer_encode_docs(struct fg_tokenizer *tok, const void *const *docs,
                                   const size_t *doc_lens, size_t n_docs, unsigned flags,
                                   uint32_t *ids, size_t cap, size_t *doc_start)
{
    if (!tok)
        return FG_ERR_INVALID_ARG;
    if ((n_docs && (!docs || !doc_lens)) || !doc_start || (!ids && cap))
        return fg_tok_fail(tok, FG_ERR_INVALID_ARG, "encode_docs: NULL argument");
    /* Document d is encoded in place at its worst-case offset (the sum of the earlier bounds,
     * each id covering at least one byte), so threads write disjoint regions. */
    const size_t prefix = (flags & FG_TOKENIZER_EOT_PREFIX) ? 1 : 0;
    size_t need = 0;
    for (size_t d = 0; d < n_docs; d++) {
        if (!docs[d] && doc_lens[d])
            return fg_tok_fail(tok, FG_ERR_INVALID_ARG, "encode_docs: document %zu is NULL", d);
        doc_start[d] = need;
        if (fg_size_add(need, doc_lens[d], &need) != FG_OK ||
            fg_size_add(need, prefix, &need) != FG_OK)
            return fg_tok_fail(tok, FG_ERR_INVALID_ARG, "encode_docs: total size overflows");
    }
    if (cap < need)
        return fg_tok_fail(tok, FG_ERR_INVALID_ARG,
                           "encode_docs: cap %zu is too small; pass at least %zu (the total "
                           "length of the documents%s)",
                           cap, need, prefix ? " plus one per document" : "");
    if (need == 0) { /* no documents, or only empty ones without separators */
        for (size_t d = 0; d <= n_docs; d++)
            doc_start[d] = 0;
        return FG_OK;
    }
    for (int t = 0; t < tok->n_threads; t++)
        tok->ws[t].err = FG_OK;
    const int n_threads = tok->n_threads;
    const unsigned seg_flags = flags & FG_TOKENIZER_ALLOW_SPECIAL;
    const uint32_t eot = tok->eot_id;
    /* Documents vary in length, so threads take them one at a time (dynamic schedule). Thread
     * t uses workspace t; document d touches only its region of ids and doc_start[d], which
     * goes from the region's start to the document's id count. So the ids do not depend on the
     * schedule or the thread count. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) default(none) \
    shared(tok, docs, doc_lens, n_docs, ids, doc_start, prefix, seg_flags, eot)
    for (size_t d = 0; d < n_docs; d++) {
#ifdef _OPENMP
        struct fg_tok_ws *ws = &tok->ws[omp_get_thread_num()];
#else
        struct fg_tok_ws *ws = &tok->ws[0];
#endif
        struct out_buf o = { ids + doc_start[d], 0, doc_lens[d] + prefix };
        if (ws->err == FG_OK) {
            if (prefix)
                o.ids[o.n++] = eot;
            fg_status st =
                encode_with(tok, ws, docs[d], doc_lens[d], seg_flags, &o, encode_ordinary);
            if (st != FG_OK)
                ws->err = st;
        }
        doc_start[d] = o.n;
    }
    for (int t = 0; t < n_threads; t++) {
        if (tok->ws[t].err != FG_OK) {
            memcpy(tok->errmsg, tok->ws[t].errmsg, sizeof tok->errmsg);
            return tok->ws[t].err;
        }
    }
    /* pack: move each document's ids down to follow the previous document's */
    size_t region = 0, out = 0;
    for (size_t d = 0; d < n_docs; d++) {
        size_t count = doc_start[d];
        if (out != region && count)
            memmove(ids + out, ids + region, count * sizeof *ids);
        doc_start[d] = out;
        out += count;
        region += doc_lens[d] + prefix;
    }
    doc_start[n_docs] = out;
    return FG_OK;
}

/* ---- decoding and counters ------------------------------------------------------------------- */
fg_status fg_tokenizer_decode(struct fg_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                              uint8_t *out, size_t cap, size_t *out_len)
{
    if (!tok)
        return FG_ERR_INVALID_ARG;
    if ((!ids && n_ids) || (!out && cap) || !out_len)
        return fg_tok_fail(tok, FG_ERR_INVALID_ARG, "decode: NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++) {
        if (ids[i] >= tok->n_vocab) {
            *out_len = 0;
            return fg_tok_fail(tok, FG_ERR_INVALID_ARG,
                               "decode: ids[%zu] = %u is not below the vocabulary size %u", i,
                               ids[i], tok->n_vocab);
        }
        total += tok->tok_off[ids[i] + 1] - tok->tok_off[ids[i]];
    }
    *out_len = total;
    if (total > cap)
        return fg_tok_fail(tok, FG_ERR_INVALID_ARG,
                           "decode: the ids decode to %zu bytes but cap is %zu", total, cap);
    if (total == 0)
        return FG_OK;
    size_t k = 0;
    for (size_t i = 0; i < n_ids; i++) {
        uint32_t a = tok->tok_off[ids[i]], b = tok->tok_off[ids[i] + 1];
        memcpy(out + k, tok->tok_bytes + a, b - a);
        k += b - a;
    }
    return FG_OK;
}

void fg_tokenizer_get_stats(const struct fg_tokenizer *tok, struct fg_tokenizer_stats *s)
{
    memset(s, 0, sizeof *s);
    for (int t = 0; t < tok->n_threads; t++) {
        const struct fg_tokenizer_stats *w = &tok->ws[t].stats;
        s->n_bytes += w->n_bytes;
        s->n_pieces += w->n_pieces;
        s->n_cache_hits += w->n_cache_hits;
        s->n_merged += w->n_merged;
        s->n_merge_work += w->n_merge_work;
    }
}

void fg_tokenizer_reset_stats(struct fg_tokenizer *tok)
{
    for (int t = 0; t < tok->n_threads; t++)
        memset(&tok->ws[t].stats, 0, sizeof tok->ws[t].stats);
}
