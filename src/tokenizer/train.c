/* Byte-level BPE training (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with
 * Subword Units", over bytes as in GPT-2), exact for this library's encoder.
 *
 * 1. Counting: documents are cut into chunks at line starts (a safe piece boundary, see
 *    next_cut), threads split chunks into pieces with the encoder's own pre-tokenizer and count
 *    them in per-thread hash maps keyed by pointers into the text; the maps are then summed.
 * 2. Merging, the standard incremental algorithm (as in Hugging Face tokenizers' BpeTrainer):
 *    each pair of adjacent tokens has a count (sum of word count x occurrences) and a list of the
 *    words it was seen in; a max-heap of (count, pair) with lazy deletion gives the best pair.
 *    Merging it rewrites only the words on its list, updating the counts of the neighbouring
 *    pairs. A pair's count only rises in the merge step that creates it (every new pair contains
 *    the newest token), so each pair gets one heap entry, pushed after that step; when an entry
 *    whose count fell since reaches the top, it is put back with the true count.
 * Determinism: the heap orders entries by (count, left token's bytes, right token's bytes), a
 * strict total order with one entry per pair, so the merges depend only on the counts, never on
 * the order of the words (which differs with the thread count), of the pairs or of the pushes.
 */
#define _POSIX_C_SOURCE 200809L
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#    include <omp.h>
#endif

#include "tokenizer_int.h"

#define NONE         UINT32_MAX
#define CHUNK_TARGET ((size_t)1 << 20) /* bytes per counting chunk */
#define OCC_N        7                 /* word indices per occurrence-list node */

/* ---- memory: the caller's allocator, with a running total for the stats ---------------------- */
struct mem {
    struct fg_allocator alloc;
    size_t live, peak; /* bytes held by the main thread's allocations */
};

static void *mem_alloc(struct mem *m, size_t n, size_t elem)
{
    size_t bytes;
    if (fg_size_mul(n ? n : 1, elem, &bytes) != FG_OK || bytes > SIZE_MAX - 64)
        return NULL;
    size_t *p = fg_alloc(&m->alloc, bytes + 64, 64); /* 64 bytes in front hold the size */
    if (!p)
        return NULL;
    p[0] = bytes;
    m->live += bytes;
    if (m->live > m->peak)
        m->peak = m->live;
    return (uint8_t *)p + 64;
}

static void mem_free(struct mem *m, void *q)
{
    if (!q)
        return;
    size_t *p = (size_t *)(void *)((uint8_t *)q - 64);
    m->live -= p[0];
    fg_free(&m->alloc, p);
}

/* Grow the array *p of *cap elements to hold need (doubling); FG_ERR_NOMEM on failure. */
static fg_status mem_grow(struct mem *m, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return FG_OK;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 4)
            return FG_ERR_NOMEM;
        ncap *= 2;
    }
    void *np = mem_alloc(m, ncap, elem);
    if (!np)
        return FG_ERR_NOMEM;
    if (*cap)
        memcpy(np, *p, *cap * elem);
    mem_free(m, *p);
    *p = np;
    *cap = ncap;
    return FG_OK;
}

/* ---- counting pieces ---------------------------------------------------------------------- */
struct wslot {
    const uint8_t *p; /* the piece's bytes, in the caller's documents; NULL = empty slot */
    uint64_t count;
    uint32_t len;
    uint32_t hash;
};

/* A hash map piece -> count. Threads allocate through the raw allocator (no running total). */
struct wmap {
    struct wslot *slot;
    size_t mask, used;
};

static fg_status wmap_init(const struct fg_allocator *a, struct wmap *m, size_t n_slots)
{
    size_t bytes;
    if (fg_size_mul(n_slots, sizeof *m->slot, &bytes) != FG_OK)
        return FG_ERR_NOMEM;
    m->slot = fg_alloc(a, bytes, 64);
    if (!m->slot)
        return FG_ERR_NOMEM;
    memset(m->slot, 0, bytes);
    m->mask = n_slots - 1;
    m->used = 0;
    return FG_OK;
}

static struct wslot *wmap_find(struct wmap *m, const uint8_t *p, uint32_t len, uint32_t h)
{
    size_t i = h & m->mask;
    for (;;) {
        struct wslot *s = &m->slot[i];
        if (!s->p || (s->hash == h && s->len == len && memcmp(s->p, p, len) == 0))
            return s;
        i = (i + 1) & m->mask;
    }
}

static fg_status wmap_add(const struct fg_allocator *a, struct wmap *m, const uint8_t *p,
                          uint32_t len, uint32_t h, uint64_t count)
{
    struct wslot *s = wmap_find(m, p, len, h);
    if (s->p) {
        s->count += count;
        return FG_OK;
    }
    *s = (struct wslot){ p, count, len, h };
    if (++m->used * 2 <= m->mask)
        return FG_OK;
    struct wmap big;
    FG_TRY(wmap_init(a, &big, 2 * (m->mask + 1)));
    for (size_t i = 0; i <= m->mask; i++) {
        const struct wslot *o = &m->slot[i];
        if (o->p)
            *wmap_find(&big, o->p, o->len, o->hash) = *o;
    }
    big.used = m->used;
    fg_free(a, m->slot);
    *m = big;
    return FG_OK;
}

/* A hash of a piece, eight bytes at a time (pieces are short; FNV-1a's byte loop costs more). */
static uint32_t piece_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, v;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    if (n) {
        v = 0;
        memcpy(&v, p, n);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    }
    h ^= h >> 29;
    h *= 0x94D049BB133111EBull;
    return (uint32_t)(h ^ (h >> 32));
}

/* A part of a document that one thread counts: the pieces that start in s[begin..end). The
 * pre-tokenizer sees the whole document s[0..n), because "\s+(?!\S)" looks one character past
 * a piece: "\n\n" is two pieces before a letter but one at the end of the text. */
struct chunk {
    const uint8_t *s;
    size_t n, begin, end;
};

/* Where to cut s[0..n) at or after `from`: a position k whose byte before is a line feed and
 * whose character is not whitespace. A piece starts there whatever came before: the '\n' ends a
 * whitespace run followed by a non-space, so it is a piece of its own or the end of one (the
 * " ?X+" rules only take a plain space before a run). Returns n if there is no such k. */
static size_t next_cut(const uint8_t *s, size_t n, size_t from)
{
    for (size_t i = from; i < n;) {
        const uint8_t *nl = memchr(s + i, '\n', n - i);
        if (!nl)
            return n;
        size_t k = (size_t)(nl - s) + 1, len;
        if (k < n && fg_tok_char(s + k, n - k, &len) != FG_TOK_SPACE)
            return k;
        i = k;
    }
    return n;
}

/* A thread's counting state, one cache line of its own. */
struct counter {
    struct wmap map;
    uint64_t n_pieces;
    fg_status err;
    char pad[64 - sizeof(struct wmap) - sizeof(uint64_t) - sizeof(fg_status)];
};

/* Count the pieces of one chunk into c's map. */
static fg_status count_chunk(const struct fg_allocator *a, struct counter *c, const struct chunk *k)
{
    struct wmap m = c->map; /* a local copy: no shared cache line is written per piece */
    uint64_t n_pieces = 0;
    fg_status st = FG_OK;
    for (size_t i = k->begin; i < k->end && st == FG_OK;) {
        size_t e = fg_tok_piece_end(k->s, k->n, i);
        if (e - i >= UINT32_MAX)
            st = FG_ERR_INVALID_ARG;
        else
            st = wmap_add(a, &m, k->s + i, (uint32_t)(e - i), piece_hash(k->s + i, e - i), 1);
        n_pieces++;
        i = e;
    }
    c->map = m;
    c->n_pieces += n_pieces;
    return st;
}

/* ---- the trainer's state ---------------------------------------------------------------------- */
struct pair {
    uint32_t a, b;
    int64_t count;
    uint32_t head, tail; /* occurrence list: nodes, NONE if empty */
    uint32_t tail_n;     /* entries in the tail node */
    uint32_t last_word;  /* last word appended (a word is appended once per pair) */
    uint32_t stamp;      /* merge step that last raised the count */
};

struct occ {
    uint32_t w[OCC_N];
    uint32_t next;
};

struct hent {
    int64_t count;
    uint32_t pair;
};

struct trainer {
    struct mem mem;
    /* words: symbols sym[w_off[w] .. w_off[w] + w_len[w]) */
    size_t n_words;
    uint32_t *sym;
    size_t *w_off;
    uint32_t *w_len;
    uint64_t *w_cnt;
    /* tokens: bytes tb[t_off[t] .. t_off[t+1]); tmap: bytes -> id + 1 */
    uint32_t n_tok, max_tok;
    uint8_t *tb;
    size_t tb_cap;
    uint32_t *t_off;
    uint64_t *t_key; /* the first 8 bytes, big-endian, zero-padded: memcmp order as an integer */
    uint32_t *tmap;
    size_t tmap_mask;
    /* pairs and the (a, b) -> index + 1 map */
    struct pair *pairs;
    size_t n_pairs, pairs_cap;
    uint32_t *pmap;
    size_t pmap_mask;
    /* occurrence nodes and their free list */
    struct occ *occ;
    size_t n_occ, occ_cap;
    uint32_t occ_free;
    /* the heap, and the pairs whose count rose in this step */
    struct hent *heap;
    size_t n_heap, heap_cap;
    uint32_t *touched;
    size_t n_touched, touched_cap;
    uint32_t step;
    uint64_t min_count; /* pairs below it never enter the heap (counts only fall) */
    /* merges learned: (a, b) and the count of each */
    uint32_t *merge_ab;
    uint64_t *merge_count;
    uint32_t n_merges;
    uint32_t base_byte[256]; /* the byte of base token i */
};

/* ---- tokens ------------------------------------------------------------------------------------ */
static size_t tmap_slot(const struct trainer *T, const uint8_t *s, size_t n)
{
    size_t i = (size_t)fg_tok_bytes_hash(s, n) & T->tmap_mask;
    for (;;) {
        uint32_t v = T->tmap[i];
        if (!v)
            return i;
        size_t len = T->t_off[v] - T->t_off[v - 1];
        if (len == n && memcmp(T->tb + T->t_off[v - 1], s, n) == 0)
            return i;
        i = (i + 1) & T->tmap_mask;
    }
}

/* Make room for n more token bytes after the last token. */
static fg_status tb_reserve(struct trainer *T, size_t n)
{
    size_t end = T->t_off[T->n_tok];
    if (n > UINT32_MAX - end)
        return FG_ERR_NOMEM; /* over 4 GiB of token bytes */
    return mem_grow(&T->mem, (void **)&T->tb, &T->tb_cap, end + n, 1);
}

/* The n bytes after the last token (placed there by the caller, room reserved) become token
 * T->n_tok. */
static void commit_token(struct trainer *T, size_t n)
{
    size_t end = T->t_off[T->n_tok];
    uint64_t key = 0;
    for (size_t i = 0; i < 8; i++)
        key = (key << 8) | (i < n ? T->tb[end + i] : 0);
    T->t_key[T->n_tok] = key;
    T->t_off[T->n_tok + 1] = (uint32_t)(end + n);
    T->tmap[tmap_slot(T, T->tb + end, n)] = ++T->n_tok;
}

/* Append the token s[0..n) (not in T->tb). */
static fg_status add_token(struct trainer *T, const uint8_t *s, size_t n)
{
    FG_TRY(tb_reserve(T, n));
    memcpy(T->tb + T->t_off[T->n_tok], s, n);
    commit_token(T, n);
    return FG_OK;
}

/* Token x against token y in memcmp order of their bytes, a prefix first (x != y). */
static int tok_cmp(const struct trainer *T, uint32_t x, uint32_t y)
{
    if (x == y)
        return 0;
    if (T->t_key[x] != T->t_key[y]) /* the first 8 bytes differ (zero padding sorts first) */
        return T->t_key[x] < T->t_key[y] ? -1 : 1;
    size_t lx = T->t_off[x + 1] - T->t_off[x], ly = T->t_off[y + 1] - T->t_off[y];
    if (lx > 8 && ly > 8) {
        size_t m = (lx < ly ? lx : ly) - 8;
        int c = memcmp(T->tb + T->t_off[x] + 8, T->tb + T->t_off[y] + 8, m);
        if (c)
            return c;
    }
    return lx < ly ? -1 : 1; /* one is a prefix of the other: distinct tokens differ in length */
}

/* Heap order: x above y if its count is larger, or equal with x's pair first. */
static inline int above(const struct trainer *T, const struct hent *x, const struct hent *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    const struct pair *p = &T->pairs[x->pair], *q = &T->pairs[y->pair];
    int c = tok_cmp(T, p->a, q->a);
    if (c)
        return c < 0;
    return tok_cmp(T, p->b, q->b) < 0;
}

static void sift_down(struct trainer *T, size_t i)
{
    struct hent *h = T->heap, e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= T->n_heap)
            break;
        if (c + 1 < T->n_heap && above(T, &h[c + 1], &h[c]))
            c++;
        if (!above(T, &h[c], &e))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static fg_status heap_push(struct trainer *T, int64_t count, uint32_t pair)
{
    FG_TRY(mem_grow(&T->mem, (void **)&T->heap, &T->heap_cap, T->n_heap + 1, sizeof *T->heap));
    struct hent e = { count, pair };
    size_t i = T->n_heap++;
    while (i > 0 && above(T, &e, &T->heap[(i - 1) / 2])) {
        T->heap[i] = T->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    T->heap[i] = e;
    return FG_OK;
}

/* ---- pairs ----------------------------------------------------------------------------------- */
static size_t pmap_slot(const struct trainer *T, uint32_t a, uint32_t b)
{
    size_t i = fg_tok_pair_hash(a, b) & T->pmap_mask;
    for (;;) {
        uint32_t v = T->pmap[i];
        if (!v || (T->pairs[v - 1].a == a && T->pairs[v - 1].b == b))
            return i;
        i = (i + 1) & T->pmap_mask;
    }
}

/* The index of pair (a, b), created with count 0 if new. */
static fg_status pair_get(struct trainer *T, uint32_t a, uint32_t b, uint32_t *idx)
{
    size_t s = pmap_slot(T, a, b);
    if (T->pmap[s]) {
        *idx = T->pmap[s] - 1;
        return FG_OK;
    }
    if (T->n_pairs >= UINT32_MAX - 1)
        return FG_ERR_NOMEM;
    FG_TRY(mem_grow(&T->mem, (void **)&T->pairs, &T->pairs_cap, T->n_pairs + 1, sizeof *T->pairs));
    *idx = (uint32_t)T->n_pairs;
    T->pairs[T->n_pairs++] = (struct pair){ a, b, 0, NONE, NONE, 0, NONE, NONE };
    T->pmap[s] = *idx + 1;
    if ((T->n_pairs + 1) * 2 <= T->pmap_mask)
        return FG_OK;
    /* rehash into a table twice the size */
    size_t n_slots = 2 * (T->pmap_mask + 1);
    uint32_t *big = mem_alloc(&T->mem, n_slots, sizeof *big);
    if (!big)
        return FG_ERR_NOMEM;
    memset(big, 0, n_slots * sizeof *big);
    mem_free(&T->mem, T->pmap);
    T->pmap = big;
    T->pmap_mask = n_slots - 1;
    for (size_t k = 0; k < T->n_pairs; k++)
        T->pmap[pmap_slot(T, T->pairs[k].a, T->pairs[k].b)] = (uint32_t)k + 1;
    return FG_OK;
}

/* Record that word w contains pair p (once per word). */
static fg_status occ_add(struct trainer *T, uint32_t p, uint32_t w)
{
    struct pair *P = &T->pairs[p];
    if (P->last_word == w)
        return FG_OK;
    P->last_word = w;
    if (P->tail == NONE || P->tail_n == OCC_N) {
        uint32_t node = T->occ_free;
        if (node != NONE) {
            T->occ_free = T->occ[node].next;
        } else {
            if (T->n_occ >= NONE)
                return FG_ERR_NOMEM;
            FG_TRY(mem_grow(&T->mem, (void **)&T->occ, &T->occ_cap, T->n_occ + 1, sizeof *T->occ));
            P = &T->pairs[p];
            node = (uint32_t)T->n_occ++;
        }
        T->occ[node].next = NONE;
        if (P->tail == NONE)
            P->head = node;
        else
            T->occ[P->tail].next = node;
        P->tail = node;
        P->tail_n = 0;
    }
    T->occ[P->tail].w[P->tail_n++] = w;
    return FG_OK;
}

/* Add delta (word count, signed) to pair (a, b) seen in word w; a rise joins the touched list. */
static fg_status pair_add(struct trainer *T, uint32_t a, uint32_t b, int64_t delta, uint32_t w)
{
    uint32_t p;
    FG_TRY(pair_get(T, a, b, &p));
    T->pairs[p].count += delta;
    if (delta < 0)
        return FG_OK;
    FG_TRY(occ_add(T, p, w));
    if (T->pairs[p].stamp != T->step) {
        T->pairs[p].stamp = T->step;
        FG_TRY(mem_grow(&T->mem, (void **)&T->touched, &T->touched_cap, T->n_touched + 1,
                        sizeof *T->touched));
        T->touched[T->n_touched++] = p;
    }
    return FG_OK;
}

/* Push the touched pairs with a positive count and clear the list. */
static fg_status push_touched(struct trainer *T)
{
    for (size_t k = 0; k < T->n_touched; k++) {
        uint32_t p = T->touched[k];
        if (T->pairs[p].count > 0 && (uint64_t)T->pairs[p].count >= T->min_count)
            FG_TRY(heap_push(T, T->pairs[p].count, p));
    }
    T->n_touched = 0;
    return FG_OK;
}

/* ---- one merge ------------------------------------------------------------------------------- */
/* Merge every occurrence of (a, b) in word w into z, left to right without overlap (as the
 * encoder does), and move the counts of the neighbouring pairs: x a b y -> x z y takes one
 * (x, a) and one (b, y) away and adds (x, z) and (z, y). When occurrences touch ("a b a b")
 * the left neighbour of the second is the z just made, which the updates handle as is. */
static fg_status merge_word(struct trainer *T, uint32_t w, uint32_t a, uint32_t b, uint32_t z)
{
    uint32_t *s = T->sym + T->w_off[w];
    const uint32_t n = T->w_len[w];
    const int64_t c = (int64_t)T->w_cnt[w];
    uint32_t i = 0, j = 0;
    while (i < n) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            if (j > 0) {
                FG_TRY(pair_add(T, s[j - 1], a, -c, w));
                FG_TRY(pair_add(T, s[j - 1], z, c, w));
            }
            if (i + 2 < n) {
                FG_TRY(pair_add(T, b, s[i + 2], -c, w));
                FG_TRY(pair_add(T, z, s[i + 2], c, w));
            }
            s[j++] = z;
            i += 2;
        } else {
            s[j++] = s[i++];
        }
    }
    T->w_len[w] = j;
    return FG_OK;
}

/* Learn pair p (count `count`) as the merge that makes token z: record the merge, rewrite the
 * words on the pair's list, free the list and push the pairs that appeared. */
static fg_status do_merge(struct trainer *T, uint32_t p, int64_t count, uint32_t z)
{
    const uint32_t a = T->pairs[p].a, b = T->pairs[p].b;
    T->merge_ab[2 * (size_t)T->n_merges] = a;
    T->merge_ab[2 * (size_t)T->n_merges + 1] = b;
    T->merge_count[T->n_merges++] = (uint64_t)count;
    T->step++;
    uint32_t node = T->pairs[p].head;
    while (node != NONE) {
        uint32_t fill = node == T->pairs[p].tail ? T->pairs[p].tail_n : OCC_N;
        for (uint32_t k = 0; k < fill; k++)
            FG_TRY(merge_word(T, T->occ[node].w[k], a, b, z));
        uint32_t next = T->occ[node].next;
        T->occ[node].next = T->occ_free;
        T->occ_free = node;
        node = next;
    }
    struct pair *P = &T->pairs[p];
    P->head = P->tail = NONE;
    P->count = 0;
    return push_touched(T);
}

/* The bytes of pair p, in T->tb past the last token (room is made); returns their length. */
static fg_status pair_bytes(struct trainer *T, uint32_t p, size_t *len)
{
    const uint32_t a = T->pairs[p].a, b = T->pairs[p].b, end = T->t_off[T->n_tok];
    size_t la = T->t_off[a + 1] - T->t_off[a], lb = T->t_off[b + 1] - T->t_off[b];
    FG_TRY(tb_reserve(T, la + lb));
    memcpy(T->tb + end, T->tb + T->t_off[a], la);
    memcpy(T->tb + end + la, T->tb + T->t_off[b], lb);
    *len = la + lb;
    return FG_OK;
}

/* The merge loop: until max_tok tokens or no pair occurs min_count times.
 * A new token's bytes are never already a token. Proof sketch: if tokens X' Y' stand side by
 * side in a word at some step and cover the span [p, q), no token ever crossed p or q, and
 * left-to-right merging inside [p, q) then chose exactly the occurrences it chooses in the
 * string w[p..q) alone (a skipped overlap at p leaves the span's scan starting fresh at p; one
 * at q was never taken). So w[p..q) alone is X' Y' now; if its bytes T had been made earlier by
 * (X, Y), the same argument on that word makes T alone [T] since then, and tokens never split.
 * "<|endoftext|>" is no piece's bytes (it mixes character classes). Both are checked anyway,
 * and fg_tok_build checks again, since the encoder relies on one merge per token. */
static fg_status learn(struct trainer *T, char *why, size_t why_len)
{
    const uint32_t eot_slot = 1; /* the last id stays for <|endoftext|> */
    static const char eot[] = FG_TOKENIZER_EOT_TEXT;
    const size_t el = sizeof eot - 1;
    while (T->n_tok + eot_slot < T->max_tok && T->n_heap > 0) {
        struct hent top = T->heap[0];
        int64_t now = T->pairs[top.pair].count;
        if (now != top.count) {
            /* stale: the count fell since the push. Drop it, or put it back with the count */
            if (now <= 0 || (uint64_t)now < T->min_count)
                T->heap[0] = T->heap[--T->n_heap];
            else
                T->heap[0].count = now;
            if (T->n_heap)
                sift_down(T, 0);
            continue;
        }
        assert((uint64_t)top.count >= T->min_count); /* no other pair is pushed */
        T->heap[0] = T->heap[--T->n_heap];
        if (T->n_heap)
            sift_down(T, 0);
        size_t len;
        FG_TRY(pair_bytes(T, top.pair, &len));
        const uint8_t *nb = T->tb + T->t_off[T->n_tok];
        if (T->tmap[tmap_slot(T, nb, len)] || (len == el && memcmp(nb, eot, el) == 0)) {
            snprintf(why, why_len, "train: internal error: merge %u would make an existing token",
                     T->n_merges);
            return FG_ERR_INTERNAL;
        }
        commit_token(T, len);
        FG_TRY(do_merge(T, top.pair, top.count, T->n_tok - 1));
    }
    return FG_OK;
}

/* ---- setup: counting, words, initial pairs ---------------------------------------------------- */
struct count_out {
    struct wslot *words; /* (n_words) from T->mem, in no particular order */
    size_t n_words;
    uint64_t n_pieces, n_bytes;
};

/* Cut the documents into chunks (from m). */
static fg_status make_chunks(struct mem *m, const void *const *docs, const size_t *lens,
                             size_t n_docs, struct chunk **out, size_t *n_out)
{
    size_t cap = 0, n = 0;
    struct chunk *c = NULL;
    for (size_t d = 0; d < n_docs; d++) {
        const uint8_t *s = docs[d];
        for (size_t at = 0; at < lens[d];) {
            size_t end =
                lens[d] - at > CHUNK_TARGET ? next_cut(s, lens[d], at + CHUNK_TARGET) : lens[d];
            if (mem_grow(m, (void **)&c, &cap, n + 1, sizeof *c) != FG_OK) {
                mem_free(m, c);
                return FG_ERR_NOMEM;
            }
            c[n++] = (struct chunk){ s, lens[d], at, end };
            at = end;
        }
    }
    *out = c;
    *n_out = n;
    return FG_OK;
}

/* Count the pieces of the chunks with n_threads threads; list the distinct ones. */
static fg_status count_words(struct trainer *T, const struct chunk *chunks, size_t n_chunks,
                             int n_threads, struct count_out *co, char *why, size_t why_len)
{
    const struct fg_allocator *a = &T->mem.alloc;
    struct counter *cs = mem_alloc(&T->mem, (size_t)n_threads, sizeof *cs);
    fg_status st = FG_OK;
    if (!cs)
        return FG_ERR_NOMEM;
    memset(cs, 0, (size_t)n_threads * sizeof *cs);
    for (int t = 0; t < n_threads && st == FG_OK; t++)
        st = wmap_init(a, &cs[t].map, 1024);
    if (st != FG_OK)
        goto done;
        /* Threads take chunks one by one; each counts into its own map, so the sums below are the
     * same for any thread count and schedule. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) default(none) \
    shared(a, cs, chunks, n_chunks)
    for (size_t k = 0; k < n_chunks; k++) {
#ifdef _OPENMP
        struct counter *c = &cs[omp_get_thread_num()];
#else
        struct counter *c = &cs[0];
#endif
        if (c->err == FG_OK)
            c->err = count_chunk(a, c, &chunks[k]);
    }
    for (int t = 0; t < n_threads && st == FG_OK; t++) {
        st = cs[t].err;
        co->n_pieces += cs[t].n_pieces;
    }
    if (st == FG_ERR_INVALID_ARG)
        snprintf(why, why_len, "train: a single pre-tokenizer piece is 4 GiB or longer");
    /* sum the other maps into the first */
    for (int t = 1; t < n_threads && st == FG_OK; t++) {
        for (size_t i = 0; i <= cs[t].map.mask && st == FG_OK; i++) {
            const struct wslot *s = &cs[t].map.slot[i];
            if (s->p)
                st = wmap_add(a, &cs[0].map, s->p, s->len, s->hash, s->count);
        }
    }
    if (st != FG_OK)
        goto done;
    co->n_words = cs[0].map.used;
    co->words = mem_alloc(&T->mem, co->n_words, sizeof *co->words);
    if (!co->words) {
        st = FG_ERR_NOMEM;
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i <= cs[0].map.mask; i++)
        if (cs[0].map.slot[i].p)
            co->words[k++] = cs[0].map.slot[i];
done:
    for (int t = 0; t < n_threads; t++) { /* the maps count towards the peak too */
        T->mem.live += (cs[t].map.mask + 1) * sizeof(struct wslot);
        if (T->mem.live > T->mem.peak)
            T->mem.peak = T->mem.live;
    }
    for (int t = 0; t < n_threads; t++) {
        T->mem.live -= (cs[t].map.mask + 1) * sizeof(struct wslot);
        fg_free(a, cs[t].map.slot);
    }
    mem_free(&T->mem, cs);
    return st;
}

/* The words of two or more bytes as base-token symbols, and their initial pairs on the heap.
 * *n_single gets the pieces of one byte (one token each, never merged). */
static fg_status init_words(struct trainer *T, const struct count_out *co, uint64_t *n_single)
{
    uint32_t byte_id[256];
    for (uint32_t i = 0; i < 256; i++)
        byte_id[T->base_byte[i]] = i;
    size_t n_sym = 0, n_words = 0;
    for (size_t k = 0; k < co->n_words; k++) {
        if (co->words[k].len >= 2) {
            n_sym += co->words[k].len;
            n_words++;
        } else {
            *n_single += co->words[k].count;
        }
    }
    if (n_words >= NONE)
        return FG_ERR_NOMEM;
    T->sym = mem_alloc(&T->mem, n_sym, sizeof *T->sym);
    T->w_off = mem_alloc(&T->mem, n_words, sizeof *T->w_off);
    T->w_len = mem_alloc(&T->mem, n_words, sizeof *T->w_len);
    T->w_cnt = mem_alloc(&T->mem, n_words, sizeof *T->w_cnt);
    if (!T->sym || !T->w_off || !T->w_len || !T->w_cnt)
        return FG_ERR_NOMEM;
    size_t off = 0;
    T->n_words = 0;
    for (size_t k = 0; k < co->n_words; k++) {
        const struct wslot *ws = &co->words[k];
        if (ws->len < 2)
            continue;
        uint32_t w = (uint32_t)T->n_words++;
        T->w_off[w] = off;
        T->w_len[w] = ws->len;
        T->w_cnt[w] = ws->count;
        for (uint32_t i = 0; i < ws->len; i++)
            T->sym[off + i] = byte_id[ws->p[i]];
        for (uint32_t i = 0; i + 1 < ws->len; i++)
            FG_TRY(pair_add(T, T->sym[off + i], T->sym[off + i + 1], (int64_t)ws->count, w));
        off += ws->len;
    }
    return push_touched(T);
}

static void trainer_free(struct trainer *T)
{
    struct mem *m = &T->mem;
    mem_free(m, T->sym);
    mem_free(m, T->w_off);
    mem_free(m, T->w_len);
    mem_free(m, T->w_cnt);
    mem_free(m, T->tb);
    mem_free(m, T->t_off);
    mem_free(m, T->t_key);
    mem_free(m, T->tmap);
    mem_free(m, T->pairs);
    mem_free(m, T->pmap);
    mem_free(m, T->occ);
    mem_free(m, T->heap);
    mem_free(m, T->touched);
    mem_free(m, T->merge_ab);
    mem_free(m, T->merge_count);
}

/* The fixed-size tables and the 256 byte tokens in GPT-2's order. */
static fg_status trainer_init(struct trainer *T, size_t vocab_size, uint64_t min_count)
{
    T->max_tok = (uint32_t)vocab_size;
    T->min_count = min_count;
    T->t_off = mem_alloc(&T->mem, vocab_size + 2, sizeof *T->t_off);
    T->t_key = mem_alloc(&T->mem, vocab_size + 1, sizeof *T->t_key);
    T->tmap_mask = 1023;
    while (T->tmap_mask + 1 < 2 * (vocab_size + 1))
        T->tmap_mask = 2 * T->tmap_mask + 1;
    T->tmap = mem_alloc(&T->mem, T->tmap_mask + 1, sizeof *T->tmap);
    T->pmap_mask = 4095;
    T->pmap = mem_alloc(&T->mem, T->pmap_mask + 1, sizeof *T->pmap);
    T->merge_ab = mem_alloc(&T->mem, 2 * vocab_size, sizeof *T->merge_ab);
    T->merge_count = mem_alloc(&T->mem, vocab_size, sizeof *T->merge_count);
    if (!T->t_off || !T->t_key || !T->tmap || !T->pmap || !T->merge_ab || !T->merge_count)
        return FG_ERR_NOMEM;
    memset(T->tmap, 0, (T->tmap_mask + 1) * sizeof *T->tmap);
    memset(T->pmap, 0, (T->pmap_mask + 1) * sizeof *T->pmap);
    T->occ_free = NONE;
    T->t_off[0] = 0;
    int16_t cp_byte[FG_TOK_ALPHABET_CPS];
    uint16_t byte_cp[256];
    fg_tok_byte_alphabet(cp_byte, byte_cp);
    uint32_t k = 0;
    for (int cp = 0; cp < FG_TOK_ALPHABET_CPS; cp++) {
        if (cp_byte[cp] < 0)
            continue;
        uint8_t byte = (uint8_t)cp_byte[cp];
        T->base_byte[k++] = byte;
        FG_TRY(add_token(T, &byte, 1));
    }
    assert(k == 256);
    return FG_OK;
}

/* ---- the entry point ------------------------------------------------------------------------- */
struct fg_tokenizer_train_params fg_tokenizer_train_params_default(void)
{
    struct fg_tokenizer_train_params p;
    memset(&p, 0, sizeof p);
    p.n_threads = 1;
    p.min_pair_count = 2;
    p.tok = fg_tokenizer_params_default();
    return p;
}

static fg_status fail(char *errmsg, size_t errmsg_len, fg_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static fg_status fail(char *errmsg, size_t errmsg_len, fg_status st, const char *fmt, ...)
{
    if (errmsg && errmsg_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, errmsg_len, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* Count, learn, and build the tokenizer. */
static fg_status train(struct trainer *T, const void *const *docs, const size_t *doc_lens,
                       size_t n_docs, size_t vocab_size, const struct fg_tokenizer_train_params *p,
                       struct fg_tokenizer **out, struct fg_tokenizer_train_stats *S, char *why,
                       size_t why_len)
{
    double t0 = fg_time_now();
    struct chunk *chunks = NULL;
    size_t n_chunks = 0;
    struct count_out co;
    memset(&co, 0, sizeof co);
    for (size_t d = 0; d < n_docs; d++)
        S->n_bytes += doc_lens[d];
    fg_status st = make_chunks(&T->mem, docs, doc_lens, n_docs, &chunks, &n_chunks);
    if (st == FG_OK)
        st = count_words(T, chunks, n_chunks, p->n_threads, &co, why, why_len);
    mem_free(&T->mem, chunks);
    double t1 = fg_time_now();
    S->seconds_count = t1 - t0;
    uint64_t n_single = 0;
    if (st == FG_OK)
        st = trainer_init(T, vocab_size, p->min_pair_count);
    if (st == FG_OK)
        st = init_words(T, &co, &n_single);
    S->n_pieces = co.n_pieces;
    S->n_words = co.n_words;
    mem_free(&T->mem, co.words); /* the words now live in T->sym */
    FG_TRY(st);
    FG_TRY(learn(T, why, why_len));
    S->n_merges = T->n_merges;
    S->n_tokens = n_single;
    for (size_t w = 0; w < T->n_words; w++)
        S->n_tokens += T->w_cnt[w] * T->w_len[w];
    /* "<|endoftext|>" as the last id, then the tokenizer (which checks the invariants again) */
    FG_TRY(add_token(T, (const uint8_t *)FG_TOKENIZER_EOT_TEXT, strlen(FG_TOKENIZER_EOT_TEXT)));
    struct fg_tok_parts parts = { T->n_tok,    T->tb,          T->t_off,     T->n_merges,
                                  T->merge_ab, T->merge_count, T->n_tok - 1, NULL };
    st = fg_tok_build(out, &parts, "trained tokenizer", &p->tok, why, why_len);
    S->seconds_merge = fg_time_now() - t1;
    return st;
}

fg_status fg_tokenizer_train(struct fg_tokenizer **out, const void *const *docs,
                             const size_t *doc_lens, size_t n_docs, size_t vocab_size,
                             const struct fg_tokenizer_train_params *p,
                             struct fg_tokenizer_train_stats *stats, char *errmsg,
                             size_t errmsg_len)
{
    if (!out)
        return fail(errmsg, errmsg_len, FG_ERR_INVALID_ARG, "fg_tokenizer_train: out is NULL");
    *out = NULL;
    struct fg_tokenizer_train_params par = p ? *p : fg_tokenizer_train_params_default();
    if (!par.tok.alloc.alloc || !par.tok.alloc.free)
        par.tok.alloc = fg_allocator_default();
    if (n_docs && (!docs || !doc_lens))
        return fail(errmsg, errmsg_len, FG_ERR_INVALID_ARG, "fg_tokenizer_train: NULL documents");
    for (size_t d = 0; d < n_docs; d++)
        if (!docs[d] && doc_lens[d])
            return fail(errmsg, errmsg_len, FG_ERR_INVALID_ARG,
                        "fg_tokenizer_train: document %zu is NULL", d);
    if (vocab_size < 257 || vocab_size > FG_TOKENIZER_MAX_VOCAB)
        return fail(errmsg, errmsg_len, FG_ERR_INVALID_ARG,
                    "train: vocab_size %zu is out of range: 257 (the 256 bytes and "
                    "<|endoftext|>) to %u",
                    vocab_size, FG_TOKENIZER_MAX_VOCAB);
    if (par.n_threads < 1 || par.n_threads > 4096 || par.min_pair_count < 1)
        return fail(errmsg, errmsg_len, FG_ERR_INVALID_ARG,
                    "train params: n_threads must be 1..4096 and min_pair_count >= 1");
    struct fg_tokenizer_train_stats S;
    memset(&S, 0, sizeof S);
    struct trainer T;
    memset(&T, 0, sizeof T);
    T.mem.alloc = par.tok.alloc;
    char why[256] = "";
    fg_status st = train(&T, docs, doc_lens, n_docs, vocab_size, &par, out, &S, why, sizeof why);
    S.peak_bytes = T.mem.peak;
    trainer_free(&T);
    if (stats)
        *stats = S;
    if (st == FG_OK)
        return fail(errmsg, errmsg_len, FG_OK, "%s", "");
    if (!why[0] && st == FG_ERR_NOMEM)
        snprintf(why, sizeof why, "train: out of memory (the trainer held %zu bytes at most)",
                 T.mem.peak);
    return fail(errmsg, errmsg_len, st, "%s", why[0] ? why : "train: failed");
}
