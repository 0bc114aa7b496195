/* Private declarations of the tokenizer: the tokenizer struct, its hash tables, the per-thread
 * workspaces, UTF-8 decoding and the character classes of the pre-tokenizer. */
#ifndef FRUGAL_TOKENIZER_INT_H
#define FRUGAL_TOKENIZER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/tokenizer.h"

/* ---- character classes (unicode_tables.c, generated) ----------------------------------------- */
enum {
    FG_TOK_OTHER = 0,  /* [^\s\p{L}\p{N}], and every byte that is not well-formed UTF-8 */
    FG_TOK_LETTER = 1, /* \p{L} */
    FG_TOK_NUMBER = 2, /* \p{N} */
    FG_TOK_SPACE = 3   /* \s (White_Space) */
};

extern const char fg_unicode_version[];
extern const uint8_t fg_unicode_stage1[4352];
extern const uint8_t fg_unicode_stage2[][64];

/* Class of code point cp (< 0x110000). */
static inline int fg_tok_cp_class(uint32_t cp)
{
    unsigned blk = fg_unicode_stage1[cp >> 8];
    return (fg_unicode_stage2[blk][(cp & 255u) >> 2] >> (2u * (cp & 3u))) & 3;
}

/* Decode the well-formed UTF-8 sequence at s[0..n) (n >= 1), following the Unicode standard's
 * table 3-7 (no overlongs, no surrogates, nothing above U+10FFFF). Returns its length 1..4 and
 * sets *cp, or returns 0 if s[0] does not start a well-formed sequence. */
static inline size_t fg_tok_utf8(const uint8_t *s, size_t n, uint32_t *cp)
{
    unsigned c0 = s[0];
    if (c0 < 0x80) {
        *cp = c0;
        return 1;
    }
    if (c0 < 0xC2 || c0 > 0xF4)
        return 0;
    if (c0 < 0xE0) {
        if (n < 2 || (s[1] & 0xC0) != 0x80)
            return 0;
        *cp = ((c0 & 0x1Fu) << 6) | (s[1] & 0x3Fu);
        return 2;
    }
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c0 == 0xE0)
        lo = 0xA0;
    else if (c0 == 0xED)
        hi = 0x9F;
    else if (c0 == 0xF0)
        lo = 0x90;
    else if (c0 == 0xF4)
        hi = 0x8F;
    if (c0 < 0xF0) {
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
            return 0;
        *cp = ((c0 & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
        return 3;
    }
    if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
        return 0;
    *cp = ((c0 & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
    return 4;
}

/* Class and length of the character at s[0..n) (n >= 1); a byte that does not start
 * well-formed UTF-8 is a character of length 1 and class FG_TOK_OTHER. */
static inline int fg_tok_char(const uint8_t *s, size_t n, size_t *len)
{
    uint32_t cp = 0;
    size_t l = fg_tok_utf8(s, n, &cp);
    if (l == 0) {
        *len = 1;
        return FG_TOK_OTHER;
    }
    *len = l;
    return fg_tok_cp_class(cp);
}

/* ---- pre-tokenizer (pretok.c) ----------------------------------------------------------------
 * End (exclusive) of the piece of s[0..n) that starts at i < n. Both follow the regular
 * expression of tokenizer.h; the _ref version is its literal reading, alternative by
 * alternative with backtracking, and the fast one is a single forward scan. */
size_t fg_tok_piece_end(const uint8_t *s, size_t n, size_t i);
size_t fg_tok_piece_end_ref(const uint8_t *s, size_t n, size_t i);

/* ---- the tokenizer --------------------------------------------------------------------------- */
#define FG_TOK_NONE UINT32_MAX /* "no merge" rank, "no symbol" index */

/* One merge: the pair (a, b) becomes token id; rank is its line order in vocab.bpe. */
struct fg_tok_pair {
    uint32_t a, b, rank, id;
};

/* A word-cache slot (64 bytes). key[] packs the piece: byte 0 is its length (1..23, 0 = empty
 * slot), bytes 1.. the piece, zero-padded, so a probe compares three words. */
#define FG_TOK_CACHE_KEY_MAX 23
#define FG_TOK_CACHE_IDS_MAX 9

struct fg_tok_cache_slot {
    uint64_t key[3];
    uint32_t n_ids;
    uint32_t ids[FG_TOK_CACHE_IDS_MAX];
};

/* Pieces up to this many bytes use the rank-min scan; longer ones the rank-bucket queue. */
#define FG_TOK_SHORT_MAX 64

/* A symbol of a long piece in its doubly linked list (sym FG_TOK_NONE once merged away). */
struct fg_tok_node {
    uint32_t sym, next, prev;
};

/* An entry of the bucket queue: a pair that starts at symbol pos; next entry in its bucket. */
struct fg_tok_qent {
    uint32_t pos, next;
};

/* Per-thread encoding state: the word cache, the merge scratch, the counters and the first
 * error of a parallel run. */
struct fg_tok_ws {
    struct fg_tok_cache_slot *cache; /* (cache_slots) or NULL */
    uint32_t short_sym[FG_TOK_SHORT_MAX];
    uint32_t short_rank[FG_TOK_SHORT_MAX];
    uint32_t short_mid[FG_TOK_SHORT_MAX];
    /* long-piece scratch, grown on demand: cap_sym symbols, 2 cap_sym queue entries */
    struct fg_tok_node *nd;
    struct fg_tok_qent *ent;
    size_t cap_sym;
    /* the bucket queue: head[rank] (n_merges, FG_TOK_NONE when empty) and a bitmap of the
     * non-empty buckets; allocated at the first long piece, left empty after each */
    uint32_t *head;
    uint64_t *bits;
    struct fg_tokenizer_stats stats;
    fg_status err;    /* first error of this thread in fg_tokenizer_encode_docs */
    char errmsg[256]; /* its message (also keeps two threads' counters off one cache line) */
};

/* Merge by rank: (a, b) becomes id. */
struct fg_tok_merge {
    uint32_t a, b, id;
};

struct fg_tokenizer {
    struct fg_allocator alloc;
    uint32_t n_vocab;
    uint32_t eot_id;
    uint32_t n_merges;
    uint32_t max_token_len;
    uint8_t *tok_bytes; /* all token bytes, concatenated */
    uint32_t *tok_off;  /* (n_vocab + 1): token i is tok_bytes[tok_off[i] .. tok_off[i+1]) */
    uint32_t byte_id[256];
    /* bytes -> id: open addressing, id + 1 per slot (0 = empty) */
    uint32_t *vmap;
    size_t vmap_mask;
    /* (a, b) -> merge: open addressing, a == FG_TOK_NONE marks an empty slot */
    struct fg_tok_pair *pmap;
    size_t pmap_mask;
    struct fg_tok_merge *merges; /* (n_merges) in rank order */
    uint64_t *merge_count;       /* (n_merges): pair counts from training, or NULL if loaded */
    int n_threads;
    size_t cache_slots;
    struct fg_tok_ws *ws; /* (n_threads) */
    char errmsg[256];
};

/* Hash of a pair of ids for pmap. */
static inline size_t fg_tok_pair_hash(uint32_t a, uint32_t b)
{
    uint64_t k = ((uint64_t)a << 32) | b;
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k >> 29);
}

/* The merge of (a, b), or NULL. */
static inline const struct fg_tok_pair *fg_tok_pair_find(const struct fg_tokenizer *tok, uint32_t a,
                                                         uint32_t b)
{
    size_t i = fg_tok_pair_hash(a, b) & tok->pmap_mask;
    for (;;) {
        const struct fg_tok_pair *p = &tok->pmap[i];
        if (p->a == a && p->b == b)
            return p;
        if (p->a == FG_TOK_NONE)
            return NULL;
        i = (i + 1) & tok->pmap_mask;
    }
}

/* Hash of a byte string (FNV-1a, 64-bit) for vmap. */
uint64_t fg_tok_bytes_hash(const uint8_t *s, size_t n);

/* Workspaces (bpe.c): allocate and free the caches of tok->ws. */
fg_status fg_tok_ws_init(struct fg_tokenizer *tok);
void fg_tok_ws_free(struct fg_tokenizer *tok);

/* ---- GPT-2's byte alphabet and construction from parts (vocab_io.c) --------------------------
 * GPT-2 writes byte b as the code point byte_cp[b]: the 188 printable bytes 0x21-0x7E,
 * 0xA1-0xAC, 0xAE-0xFF as themselves, the other 68 in increasing order as U+0100..U+0143.
 * cp_byte[cp] is the inverse (-1 for code points that stand for no byte). */
#define FG_TOK_ALPHABET_CPS 0x144
void fg_tok_byte_alphabet(int16_t cp_byte[FG_TOK_ALPHABET_CPS], uint16_t byte_cp[256]);

/* A vocabulary in memory: token i is bytes[off[i] .. off[i+1]), merge r turns the adjacent pair
 * (merge_ab[2r], merge_ab[2r+1]) into the token whose bytes are their concatenation. */
struct fg_tok_parts {
    uint32_t n_vocab;
    const uint8_t *bytes;
    const uint32_t *off;         /* (n_vocab + 1) */
    uint32_t n_merges;           /* merges in rank order */
    const uint32_t *merge_ab;    /* (n_merges, 2) */
    const uint64_t *merge_count; /* (n_merges) copied into the tokenizer, or NULL */
    uint32_t eot_id;             /* the token "<|endoftext|>" */
    const char *merge_label;     /* messages name merge r "<merge_label>[r]"; NULL: "merge" */
};

/* Build a tokenizer from parts (borrowed for the call), checking everything the encoder relies
 * on: ids 0..n_vocab-1 with distinct non-empty byte strings, all 256 single bytes, the eot token
 * made by no merge, each merge's parts made before it (a byte or an earlier merge), its result
 * in the vocabulary and made by no other merge, and every other token made by some merge.
 * Failures are FG_ERR_FORMAT with "<name>: what" in errmsg (NOMEM, INVALID_ARG for bad p). */
fg_status fg_tok_build(struct fg_tokenizer **out, const struct fg_tok_parts *parts,
                       const char *name, const struct fg_tokenizer_params *p, char *errmsg,
                       size_t errmsg_len);

/* A token for a message: printable ASCII kept, the rest as \xHH, at most about 40 bytes. */
void fg_tok_show(char *out, size_t cap, const uint8_t *b, size_t n);

/* Write "<fmt>" into tok->errmsg and return st. */
fg_status fg_tok_fail(struct fg_tokenizer *tok, fg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
