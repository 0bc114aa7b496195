/* Loading GPT-2's vocabulary: encoder.json (token -> id) and vocab.bpe (the ranked merges).
 *
 * Both files write tokens in GPT-2's byte-to-unicode alphabet (encoder.py, bytes_to_unicode):
 * the 188 printable bytes 0x21-0x7E, 0xA1-0xAC, 0xAE-0xFF stand for themselves and the other 68
 * bytes, in increasing order, become U+0100..U+0143, so every token is a string of printable
 * characters. We map each character back to its byte and keep tokens as raw bytes.
 *
 * encoder.json is read by a small strict parser for its one shape, a flat object of string keys
 * and integer values: it reports every error with line and column (cJSON cannot say where an
 * entry was), and it does not build 50k tree nodes. Validation is strict, so that a truncated or
 * mismatched file fails at load instead of encoding wrongly later. In particular each merge may
 * only use tokens made before it, and no token is made twice: then every merge that uses a
 * token ranks after the one merge that makes it, which is what lets the encoder merge one pair
 * at a time in rank order and still equal GPT-2's merge-all-occurrences loop (see bpe.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tokenizer_int.h"

/* ---- errors ---------------------------------------------------------------------------------- */
static void vfmt(char *buf, size_t len, const char *fmt, va_list ap)
{
    if (buf && len)
        vsnprintf(buf, len, fmt, ap);
}

fg_status fg_tok_fail(struct fg_tokenizer *tok, fg_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfmt(tok->errmsg, sizeof tok->errmsg, fmt, ap);
    va_end(ap);
    return st;
}

/* Line and column (1-based) of byte offset pos in s. */
static void line_col(const uint8_t *s, size_t pos, size_t *line, size_t *col)
{
    size_t l = 1, c = 1;
    for (size_t i = 0; i < pos; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
    }
    *line = l;
    *col = c;
}

/* "<name>:<line>:<col>: <message>" into tok->errmsg; returns FG_ERR_FORMAT. */
static fg_status fail_at(struct fg_tokenizer *tok, const char *name, const uint8_t *s, size_t pos,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static fg_status fail_at(struct fg_tokenizer *tok, const char *name, const uint8_t *s, size_t pos,
                         const char *fmt, ...)
{
    size_t line, col;
    line_col(s, pos, &line, &col);
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vfmt(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(tok->errmsg, sizeof tok->errmsg, "%s:%zu:%zu: %s", name, line, col, what);
    return FG_ERR_FORMAT;
}

/* ---- memory helpers -------------------------------------------------------------------------- */
static void *alloc_n(struct fg_tokenizer *tok, size_t n, size_t elem)
{
    size_t bytes;
    if (fg_size_mul(n ? n : 1, elem, &bytes) != FG_OK)
        return NULL;
    return fg_alloc(&tok->alloc, bytes, 64);
}

/* Grow *p (elements of size elem, *cap of them) to hold at least need elements. */
static fg_status grow(struct fg_tokenizer *tok, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return FG_OK;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return FG_ERR_NOMEM;
        ncap *= 2;
    }
    void *np = alloc_n(tok, ncap, elem);
    if (!np)
        return FG_ERR_NOMEM;
    if (*p && *cap)
        memcpy(np, *p, *cap * elem);
    fg_free(&tok->alloc, *p);
    *p = np;
    *cap = ncap;
    return FG_OK;
}

/* ---- GPT-2's byte alphabet ------------------------------------------------------------------- */
#define ALPHABET_CPS 0x144 /* code points U+0000..U+0143 can stand for bytes */

/* cp_byte[cp] = the byte that code point cp stands for, or -1. */
static void byte_alphabet(int16_t cp_byte[ALPHABET_CPS])
{
    for (int i = 0; i < ALPHABET_CPS; i++)
        cp_byte[i] = -1;
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        if (printable)
            cp_byte[b] = (int16_t)b;
        else
            cp_byte[0x100 + n++] = (int16_t)b;
    }
}

void fg_tok_byte_alphabet(int16_t cp_byte[FG_TOK_ALPHABET_CPS], uint16_t byte_cp[256])
{
    byte_alphabet(cp_byte);
    for (int cp = 0; cp < ALPHABET_CPS; cp++)
        if (cp_byte[cp] >= 0)
            byte_cp[cp_byte[cp]] = (uint16_t)cp;
}

/* ---- the byte-string -> id map --------------------------------------------------------------- */
uint64_t fg_tok_bytes_hash(const uint8_t *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Slot of the token with bytes s[0..n): the slot holding it, or the empty slot where it would
 * go. */
static size_t vmap_slot(const struct fg_tokenizer *tok, const uint8_t *s, size_t n)
{
    size_t i = (size_t)fg_tok_bytes_hash(s, n) & tok->vmap_mask;
    for (;;) {
        uint32_t v = tok->vmap[i];
        if (v == 0)
            return i;
        uint32_t id = v - 1;
        size_t len = tok->tok_off[id + 1] - tok->tok_off[id];
        if (len == n && memcmp(tok->tok_bytes + tok->tok_off[id], s, n) == 0)
            return i;
        i = (i + 1) & tok->vmap_mask;
    }
}

static int64_t vmap_find(const struct fg_tokenizer *tok, const uint8_t *s, size_t n)
{
    uint32_t v = tok->vmap[vmap_slot(tok, s, n)];
    return v ? (int64_t)v - 1 : -1;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p *= 2;
    return p;
}

/* ---- encoder.json ---------------------------------------------------------------------------- */
struct entry {
    uint32_t id;
    uint32_t key_pos;  /* offset of the key's opening quote in the file */
    uint32_t off, len; /* the key's bytes in the blob */
};

struct json_in {
    struct fg_tokenizer *tok;
    const uint8_t *s;
    size_t n, i;
    const char *name;
    int16_t cp_byte[ALPHABET_CPS];
    uint8_t *blob; /* decoded keys */
    size_t blob_n, blob_cap;
    struct entry *ent;
    size_t n_ent, ent_cap;
};

static void json_ws(struct json_in *j)
{
    while (j->i < j->n &&
           (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
        j->i++;
}

static int hex4(const uint8_t *s, uint32_t *v)
{
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = s[k];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= c - '0';
        else if (c >= 'a' && c <= 'f')
            x |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            x |= c - 'A' + 10;
        else
            return 0;
    }
    *v = x;
    return 1;
}

static fg_status json_fail(struct json_in *j, size_t pos, const char *what)
{
    if (pos >= j->n)
        return fail_at(j->tok, j->name, j->s, j->n, "%s (the file ends here: truncated?)", what);
    return fail_at(j->tok, j->name, j->s, pos, "%s", what);
}

/* One escape at s[i] == '\\': the code point (a \u surrogate pair is combined). */
static fg_status json_escape(struct json_in *j, uint32_t *cp)
{
    size_t at = j->i;
    if (j->i + 1 >= j->n)
        return json_fail(j, j->n, "unterminated string");
    uint8_t e = j->s[j->i + 1];
    j->i += 2;
    switch (e) {
    case '"':
    case '\\':
    case '/':
        *cp = e;
        return FG_OK;
    case 'b':
        *cp = '\b';
        return FG_OK;
    case 'f':
        *cp = '\f';
        return FG_OK;
    case 'n':
        *cp = '\n';
        return FG_OK;
    case 'r':
        *cp = '\r';
        return FG_OK;
    case 't':
        *cp = '\t';
        return FG_OK;
    case 'u':
        break;
    default:
        return json_fail(j, at, "invalid escape in string");
    }
    uint32_t v = 0, lo = 0;
    if (j->n - j->i < 4 || !hex4(j->s + j->i, &v))
        return json_fail(j, at, "\\u needs four hex digits");
    j->i += 4;
    if (v >= 0xDC00 && v <= 0xDFFF)
        return json_fail(j, at, "lone low surrogate in \\u escape");
    if (v >= 0xD800 && v <= 0xDBFF) {
        if (j->n - j->i < 6 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u' ||
            !hex4(j->s + j->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
            return json_fail(j, at, "high surrogate in \\u escape without its low half");
        j->i += 6;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
    }
    *cp = v;
    return FG_OK;
}

/* A key string at s[i] == '"': its characters, mapped to bytes, appended to the blob. */
static fg_status json_key(struct json_in *j, uint32_t *off, uint32_t *len)
{
    size_t start = j->i;
    j->i++;
    *off = (uint32_t)j->blob_n;
    for (;;) {
        if (j->i >= j->n)
            return json_fail(j, j->n, "unterminated string");
        uint8_t c = j->s[j->i];
        if (c == '"') {
            j->i++;
            break;
        }
        size_t at = j->i;
        uint32_t cp = 0;
        if (c == '\\') {
            FG_TRY(json_escape(j, &cp));
        } else if (c < 0x20) {
            return json_fail(j, at, "control character inside a string (JSON needs an escape)");
        } else {
            size_t l = fg_tok_utf8(j->s + j->i, j->n - j->i, &cp);
            if (l == 0)
                return json_fail(j, at, "string is not valid UTF-8");
            j->i += l;
        }
        if (cp >= ALPHABET_CPS || j->cp_byte[cp] < 0) {
            char what[160];
            snprintf(what, sizeof what,
                     "the key has U+%04X, which is not in GPT-2's byte alphabet (is this a "
                     "GPT-2 encoder.json?)",
                     (unsigned)cp);
            return json_fail(j, at, what);
        }
        if (grow(j->tok, (void **)&j->blob, &j->blob_cap, j->blob_n + 1, 1) != FG_OK)
            return FG_ERR_NOMEM;
        j->blob[j->blob_n++] = (uint8_t)j->cp_byte[cp];
    }
    *len = (uint32_t)(j->blob_n - *off);
    if (*len == 0)
        return json_fail(j, start, "empty token");
    return FG_OK;
}

/* A non-negative integer id below FG_TOKENIZER_MAX_VOCAB. */
static fg_status json_id(struct json_in *j, uint32_t *id)
{
    size_t at = j->i;
    uint64_t v = 0;
    size_t digits = 0;
    if (j->i < j->n && j->s[j->i] == '-')
        return json_fail(j, at, "token ids must not be negative");
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
        v = v * 10 + (uint64_t)(j->s[j->i] - '0');
        if (v >= FG_TOKENIZER_MAX_VOCAB)
            return json_fail(j, at, "token id too large (the limit is 16777215)");
        j->i++;
        digits++;
    }
    if (digits == 0)
        return json_fail(j, at, "expected an integer token id");
    if (digits > 1 && j->s[at] == '0')
        return json_fail(j, at, "leading zero in a number");
    if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
        return json_fail(j, at, "token ids must be integers");
    *id = (uint32_t)v;
    return FG_OK;
}

/* The whole object into j->ent / j->blob. */
static fg_status json_parse(struct json_in *j)
{
    json_ws(j);
    if (j->i >= j->n || j->s[j->i] != '{')
        return json_fail(j, j->i, "expected '{': encoder.json is a JSON object of token -> id");
    j->i++;
    json_ws(j);
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
    } else {
        for (;;) {
            json_ws(j);
            if (j->i >= j->n || j->s[j->i] != '"')
                return json_fail(j, j->i, "expected a string key");
            struct entry e;
            e.key_pos = (uint32_t)j->i;
            FG_TRY(json_key(j, &e.off, &e.len));
            json_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':')
                return json_fail(j, j->i, "expected ':' after the key");
            j->i++;
            json_ws(j);
            FG_TRY(json_id(j, &e.id));
            if (grow(j->tok, (void **)&j->ent, &j->ent_cap, j->n_ent + 1, sizeof *j->ent))
                return FG_ERR_NOMEM;
            j->ent[j->n_ent++] = e;
            json_ws(j);
            if (j->i < j->n && j->s[j->i] == ',') {
                j->i++;
                continue;
            }
            if (j->i < j->n && j->s[j->i] == '}') {
                j->i++;
                break;
            }
            return json_fail(j, j->i, "expected ',' or '}' after the id");
        }
    }
    json_ws(j);
    if (j->i != j->n)
        return json_fail(j, j->i, "unexpected data after the object");
    return FG_OK;
}

/* Build tok_off/tok_bytes/vmap/byte_id/eot_id from the parsed entries. */
static fg_status build_vocab(struct json_in *j)
{
    struct fg_tokenizer *tok = j->tok;
    size_t n = j->n_ent;
    if (n == 0)
        return fail_at(tok, j->name, j->s, 0, "no tokens");
    tok->n_vocab = (uint32_t)n;
    uint32_t *first = alloc_n(tok, n, sizeof *first); /* entry index + 1 per id */
    tok->tok_off = alloc_n(tok, n + 1, sizeof *tok->tok_off);
    tok->tok_bytes = alloc_n(tok, j->blob_n, 1);
    if (!first || !tok->tok_off || !tok->tok_bytes) {
        fg_free(&tok->alloc, first);
        return FG_ERR_NOMEM;
    }
    memset(first, 0, n * sizeof *first);
    fg_status st = FG_OK;
    for (size_t k = 0; k < n && st == FG_OK; k++) {
        const struct entry *e = &j->ent[k];
        if (e->id >= n) {
            char what[160];
            snprintf(what, sizeof what,
                     "id %u is out of range: %zu tokens need ids 0..%zu without gaps", e->id, n,
                     n - 1);
            st = fail_at(tok, j->name, j->s, e->key_pos, "%s", what);
        } else if (first[e->id]) {
            size_t line, col;
            line_col(j->s, j->ent[first[e->id] - 1].key_pos, &line, &col);
            st = fail_at(tok, j->name, j->s, e->key_pos, "duplicate id %u (first at %zu:%zu)",
                         e->id, line, col);
        } else {
            first[e->id] = (uint32_t)k + 1;
        }
    }
    if (st == FG_OK) {
        /* every id 0..n-1 is now taken exactly once (n entries, no duplicate, all < n) */
        uint32_t off = 0;
        for (size_t id = 0; id < n; id++) {
            const struct entry *e = &j->ent[first[id] - 1];
            tok->tok_off[id] = off;
            memcpy(tok->tok_bytes + off, j->blob + e->off, e->len);
            off += e->len;
            if (e->len > tok->max_token_len)
                tok->max_token_len = e->len;
        }
        tok->tok_off[n] = off;
        tok->vmap_mask = pow2_at_least(2 * n) - 1;
        tok->vmap = alloc_n(tok, tok->vmap_mask + 1, sizeof *tok->vmap);
        if (!tok->vmap)
            st = FG_ERR_NOMEM;
    }
    if (st == FG_OK) {
        memset(tok->vmap, 0, (tok->vmap_mask + 1) * sizeof *tok->vmap);
        for (uint32_t id = 0; id < n && st == FG_OK; id++) {
            const uint8_t *b = tok->tok_bytes + tok->tok_off[id];
            size_t len = tok->tok_off[id + 1] - tok->tok_off[id];
            size_t slot = vmap_slot(tok, b, len);
            if (tok->vmap[slot]) {
                /* report the later of the two entries, pointing back at the earlier */
                uint32_t a = first[tok->vmap[slot] - 1] - 1, c = first[id] - 1;
                uint32_t later = a > c ? a : c, earlier = a > c ? c : a;
                size_t line, col;
                line_col(j->s, j->ent[earlier].key_pos, &line, &col);
                st = fail_at(tok, j->name, j->s, j->ent[later].key_pos,
                             "duplicate key (ids %u and %u; first at %zu:%zu)", j->ent[earlier].id,
                             j->ent[later].id, line, col);
            } else {
                tok->vmap[slot] = id + 1;
            }
        }
    }
    fg_free(&tok->alloc, first);
    FG_TRY(st);
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        int64_t id = vmap_find(tok, &c, 1);
        if (id < 0)
            return fail_at(tok, j->name, j->s, 0,
                           "no token for the byte 0x%02X: a byte-level vocabulary needs all 256",
                           b);
        tok->byte_id[b] = (uint32_t)id;
    }
    int64_t eot =
        vmap_find(tok, (const uint8_t *)FG_TOKENIZER_EOT_TEXT, strlen(FG_TOKENIZER_EOT_TEXT));
    if (eot < 0)
        return fail_at(tok, j->name, j->s, 0, "no \"%s\" token", FG_TOKENIZER_EOT_TEXT);
    tok->eot_id = (uint32_t)eot;
    return FG_OK;
}

static fg_status load_encoder(struct fg_tokenizer *tok, const uint8_t *s, size_t n,
                              const char *name)
{
    if (n >= UINT32_MAX)
        return fg_tok_fail(tok, FG_ERR_FORMAT, "%s: %zu bytes is too large for a vocabulary", name,
                           n);
    struct json_in j;
    memset(&j, 0, sizeof j);
    j.tok = tok;
    j.s = s;
    j.n = n;
    j.name = name;
    byte_alphabet(j.cp_byte);
    fg_status st = json_parse(&j);
    if (st == FG_OK && j.n_ent > FG_TOKENIZER_MAX_VOCAB)
        st = fg_tok_fail(tok, FG_ERR_FORMAT, "%s: %zu tokens is over the limit of %u", name,
                         j.n_ent, FG_TOKENIZER_MAX_VOCAB);
    if (st == FG_OK)
        st = build_vocab(&j);
    if (st == FG_ERR_NOMEM)
        fg_tok_fail(tok, st, "%s: out of memory while loading the vocabulary", name);
    fg_free(&tok->alloc, j.blob);
    fg_free(&tok->alloc, j.ent);
    return st;
}

/* ---- vocab.bpe ------------------------------------------------------------------------------- */

/* Map the characters of s[0..n) to bytes in out (n bytes at most); returns the byte count or
 * -1 (and *bad = offset of the bad character) for a character outside the alphabet. */
static long part_bytes(const int16_t *cp_byte, const uint8_t *s, size_t n, uint8_t *out,
                       size_t *bad)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t l = fg_tok_utf8(s + i, n - i, &cp);
        if (l == 0 || cp >= ALPHABET_CPS || cp_byte[cp] < 0) {
            *bad = i;
            return -1;
        }
        out[k++] = (uint8_t)cp_byte[cp];
        i += l;
    }
    return (long)k;
}

/* A token for a message: printable ASCII kept, anything else as \xHH, at most ~40 bytes. */
void fg_tok_show(char *out, size_t cap, const uint8_t *b, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        if (i == 40) {
            k += (size_t)snprintf(out + k, cap - k, "...");
            break;
        }
        if (b[i] >= 0x20 && b[i] < 0x7F && b[i] != '"' && b[i] != '\\')
            out[k++] = (char)b[i];
        else
            k += (size_t)snprintf(out + k, cap - k, "\\x%02X", b[i]);
    }
    out[k < cap ? k : cap - 1] = '\0';
}

struct merges_in {
    struct fg_tokenizer *tok;
    const uint8_t *s;
    const char *name;
    int16_t cp_byte[ALPHABET_CPS];
    uint32_t *made; /* made[id]: 0 = not yet, 1 = a byte token, r + 2 = made by merge rank r */
    uint8_t *ab;    /* the bytes of A then B of the current line */
};

/* Check and add the merge on the line s[i..le) (no newline) as rank `rank`. */
static fg_status add_merge(struct merges_in *m, size_t i, size_t le, uint32_t rank)
{
    struct fg_tokenizer *tok = m->tok;
    const uint8_t *s = m->s, *sp = memchr(s + i, ' ', le - i);
    uint8_t *ab = m->ab;
    uint32_t *made = m->made;
    if (le == i)
        return fail_at(tok, m->name, s, i, "empty line (each line is one merge \"A B\")");
    if (!sp || sp == s + i || sp + 1 == s + le || memchr(sp + 1, ' ', (size_t)(s + le - sp - 1)))
        return fail_at(tok, m->name, s, i,
                       "expected one merge \"A B\": two tokens separated by one space");
    size_t bad = 0, b_at = (size_t)(sp + 1 - s); /* where B starts */
    long la = part_bytes(m->cp_byte, s + i, (size_t)(sp - (s + i)), ab, &bad);
    long lb = la < 0 ? -1 : part_bytes(m->cp_byte, sp + 1, le - b_at, ab + la, &bad);
    if (la < 0 || lb < 0)
        return fail_at(tok, m->name, s, (la < 0 ? i : b_at) + bad,
                       "character outside GPT-2's byte alphabet");
    int64_t ia = vmap_find(tok, ab, (size_t)la), ib = vmap_find(tok, ab + la, (size_t)lb);
    int64_t iab = vmap_find(tok, ab, (size_t)(la + lb));
    char sa[200], sb[200];
    if (ia < 0 || ib < 0) {
        fg_tok_show(sa, sizeof sa, ia < 0 ? ab : ab + la, (size_t)(ia < 0 ? la : lb));
        return fail_at(tok, m->name, s, ia < 0 ? i : b_at,
                       "the merge uses the token \"%s\", which is not in the encoder", sa);
    }
    if (iab < 0 || (uint32_t)iab == tok->eot_id) {
        fg_tok_show(sa, sizeof sa, ab, (size_t)(la + lb));
        return fail_at(tok, m->name, s, i,
                       "the merge makes \"%s\", which is not an ordinary token of the encoder", sa);
    }
    if (!made[ia] || !made[ib]) {
        int64_t u = !made[ia] ? ia : ib;
        fg_tok_show(sa, sizeof sa, tok->tok_bytes + tok->tok_off[u],
                    tok->tok_off[u + 1] - tok->tok_off[u]);
        return fail_at(tok, m->name, s, !made[ia] ? i : b_at,
                       "the merge uses \"%s\" before any earlier merge makes it", sa);
    }
    size_t slot = fg_tok_pair_hash((uint32_t)ia, (uint32_t)ib) & tok->pmap_mask;
    while (tok->pmap[slot].a != FG_TOK_NONE &&
           !(tok->pmap[slot].a == (uint32_t)ia && tok->pmap[slot].b == (uint32_t)ib))
        slot = (slot + 1) & tok->pmap_mask;
    if (tok->pmap[slot].a != FG_TOK_NONE) {
        fg_tok_show(sa, sizeof sa, ab, (size_t)la);
        fg_tok_show(sb, sizeof sb, ab + la, (size_t)lb);
        return fail_at(tok, m->name, s, i, "the merge \"%s\" + \"%s\" repeats line %u", sa, sb,
                       tok->pmap[slot].rank + 2);
    }
    if (made[iab]) { /* rank r is on line r + 2, which is what made[] holds */
        fg_tok_show(sa, sizeof sa, ab, (size_t)(la + lb));
        return fail_at(tok, m->name, s, i, "the merge makes \"%s\", which line %u already makes",
                       sa, made[iab]);
    }
    tok->pmap[slot] = (struct fg_tok_pair){ (uint32_t)ia, (uint32_t)ib, rank, (uint32_t)iab };
    tok->merges[rank] = (struct fg_tok_merge){ (uint32_t)ia, (uint32_t)ib, (uint32_t)iab };
    made[iab] = rank + 2;
    return FG_OK;
}

static fg_status load_merges(struct fg_tokenizer *tok, const uint8_t *s, size_t n, const char *name)
{
    /* header: GPT-2's reader drops the first line unread; we insist that it is the header */
    static const char header[] = "#version";
    if (n < sizeof header - 1 || memcmp(s, header, sizeof header - 1) != 0)
        return fail_at(tok, name, s, 0,
                       "expected the header line \"#version: 0.2\" (is this a GPT-2 vocab.bpe?)");
    size_t i = 0;
    while (i < n && s[i] != '\n')
        i++;
    i += i < n;
    /* count the merge lines and the longest one to size the tables */
    size_t n_lines = 0, max_line = 0;
    for (size_t k = i, start = i; k <= n; k++) {
        if (k == n || s[k] == '\n') {
            if (k > start || k < n)
                n_lines++;
            if (k - start > max_line)
                max_line = k - start;
            start = k + 1;
        }
    }
    if (n_lines >= FG_TOKENIZER_MAX_VOCAB)
        return fail_at(tok, name, s, 0, "%zu merges is over the limit", n_lines);
    struct merges_in m;
    m.tok = tok;
    m.s = s;
    m.name = name;
    byte_alphabet(m.cp_byte);
    tok->pmap_mask = pow2_at_least(2 * n_lines + 2) - 1;
    tok->pmap = alloc_n(tok, tok->pmap_mask + 1, sizeof *tok->pmap);
    tok->merges = alloc_n(tok, n_lines, sizeof *tok->merges);
    m.made = alloc_n(tok, tok->n_vocab, sizeof *m.made);
    m.ab = alloc_n(tok, max_line + 1, 1);
    fg_status st = FG_OK;
    if (!tok->pmap || !tok->merges || !m.made || !m.ab) {
        st = fg_tok_fail(tok, FG_ERR_NOMEM, "%s: out of memory while loading the merges", name);
        goto done;
    }
    for (size_t k = 0; k <= tok->pmap_mask; k++)
        tok->pmap[k].a = tok->pmap[k].b = FG_TOK_NONE;
    memset(m.made, 0, tok->n_vocab * sizeof *m.made);
    for (int b = 0; b < 256; b++)
        m.made[tok->byte_id[b]] = 1;
    uint32_t rank = 0;
    while (i < n && st == FG_OK) {
        size_t e = i;
        while (e < n && s[e] != '\n')
            e++;
        size_t le = e; /* line end without a CR */
        if (le > i && s[le - 1] == '\r')
            le--;
        st = add_merge(&m, i, le, rank);
        rank++;
        i = e + 1;
    }
    if (st != FG_OK)
        goto done;
    tok->n_merges = rank;
    /* every token but the bytes and <|endoftext|> must come out of some merge */
    size_t n_unmade = 0, first_unmade = 0;
    for (size_t id = 0; id < tok->n_vocab; id++) {
        if (!m.made[id] && id != tok->eot_id && n_unmade++ == 0)
            first_unmade = id;
    }
    if (n_unmade) {
        char sa[200];
        fg_tok_show(sa, sizeof sa, tok->tok_bytes + tok->tok_off[first_unmade],
                    tok->tok_off[first_unmade + 1] - tok->tok_off[first_unmade]);
        st = fg_tok_fail(tok, FG_ERR_FORMAT,
                         "%s: %zu tokens of the encoder are made by no merge (the first: id %zu "
                         "\"%s\"); %u merges read. Is %s truncated, or from another vocabulary?",
                         name, n_unmade, first_unmade, sa, rank, name);
    }
done:
    fg_free(&tok->alloc, m.made);
    fg_free(&tok->alloc, m.ab);
    return st;
}

/* ---- construction and accessors -------------------------------------------------------------- */
struct fg_tokenizer_params fg_tokenizer_params_default(void)
{
    struct fg_tokenizer_params p;
    memset(&p, 0, sizeof p);
    p.n_threads = 1;
    p.cache_slots = (size_t)1 << 15;
    p.alloc = fg_allocator_default();
    return p;
}

void fg_tokenizer_free(struct fg_tokenizer *tok)
{
    if (!tok)
        return;
    struct fg_allocator a = tok->alloc;
    fg_tok_ws_free(tok);
    fg_free(&a, tok->tok_bytes);
    fg_free(&a, tok->tok_off);
    fg_free(&a, tok->vmap);
    fg_free(&a, tok->pmap);
    fg_free(&a, tok->merges);
    fg_free(&a, tok->merge_count);
    fg_free(&a, tok);
}

static void copy_msg(char *errmsg, size_t errmsg_len, const char *msg)
{
    if (errmsg && errmsg_len)
        snprintf(errmsg, errmsg_len, "%s", msg);
}

/* A new empty tokenizer with checked params (p may be NULL: defaults). */
static fg_status tok_new(struct fg_tokenizer **out, const struct fg_tokenizer_params *p,
                         char *errmsg, size_t errmsg_len)
{
    struct fg_tokenizer_params par = p ? *p : fg_tokenizer_params_default();
    if (!par.alloc.alloc || !par.alloc.free)
        par.alloc = fg_allocator_default();
    if (par.n_threads < 1 || par.n_threads > 4096 ||
        (par.cache_slots & (par.cache_slots - 1)) != 0 || par.cache_slots > ((size_t)1 << 26)) {
        copy_msg(errmsg, errmsg_len,
                 "tokenizer params: n_threads must be 1..4096 and cache_slots 0 or a power of "
                 "two up to 2^26");
        return FG_ERR_INVALID_ARG;
    }
    struct fg_tokenizer *tok = fg_alloc(&par.alloc, sizeof *tok, 64);
    if (!tok) {
        copy_msg(errmsg, errmsg_len, "out of memory allocating the tokenizer");
        return FG_ERR_NOMEM;
    }
    memset(tok, 0, sizeof *tok);
    tok->alloc = par.alloc;
    tok->n_threads = par.n_threads;
    tok->cache_slots = par.cache_slots;
    *out = tok;
    return FG_OK;
}

fg_status fg_tokenizer_load_gpt2_buffers(struct fg_tokenizer **out, const void *encoder_json,
                                         size_t encoder_len, const char *encoder_name,
                                         const void *vocab_bpe, size_t vocab_len,
                                         const char *vocab_name,
                                         const struct fg_tokenizer_params *p, char *errmsg,
                                         size_t errmsg_len)
{
    if (!out) {
        copy_msg(errmsg, errmsg_len, "fg_tokenizer_load_gpt2_buffers: out is NULL");
        return FG_ERR_INVALID_ARG;
    }
    *out = NULL;
    if ((!encoder_json && encoder_len) || (!vocab_bpe && vocab_len)) {
        copy_msg(errmsg, errmsg_len, "fg_tokenizer_load_gpt2_buffers: NULL buffer");
        return FG_ERR_INVALID_ARG;
    }
    if (!encoder_name)
        encoder_name = "encoder.json";
    if (!vocab_name)
        vocab_name = "vocab.bpe";
    struct fg_tokenizer *tok = NULL;
    FG_TRY(tok_new(&tok, p, errmsg, errmsg_len));
    static const uint8_t empty[1] = { 0 };
    fg_status st = load_encoder(tok, encoder_len ? encoder_json : empty, encoder_len, encoder_name);
    if (st == FG_OK)
        st = load_merges(tok, vocab_len ? vocab_bpe : empty, vocab_len, vocab_name);
    if (st == FG_OK) {
        st = fg_tok_ws_init(tok);
        if (st != FG_OK)
            fg_tok_fail(tok, st, "out of memory allocating %d word caches of %zu slots",
                        tok->n_threads, tok->cache_slots);
    }
    if (st != FG_OK) {
        copy_msg(errmsg, errmsg_len, tok->errmsg);
        fg_tokenizer_free(tok);
        return st;
    }
    tok->errmsg[0] = '\0';
    copy_msg(errmsg, errmsg_len, "");
    *out = tok;
    return FG_OK;
}

fg_status fg_tokenizer_load_gpt2(struct fg_tokenizer **out, const char *encoder_json_path,
                                 const char *vocab_bpe_path, const struct fg_tokenizer_params *p,
                                 char *errmsg, size_t errmsg_len)
{
    if (out)
        *out = NULL;
    if (!out || !encoder_json_path || !vocab_bpe_path) {
        copy_msg(errmsg, errmsg_len, "fg_tokenizer_load_gpt2: NULL argument");
        return FG_ERR_INVALID_ARG;
    }
    const struct fg_allocator *a = p && p->alloc.alloc && p->alloc.free ? &p->alloc : NULL;
    void *enc = NULL, *voc = NULL;
    size_t enc_len = 0, voc_len = 0;
    fg_status st = fg_read_file(a, encoder_json_path, &enc, &enc_len, errmsg, errmsg_len);
    if (st == FG_OK)
        st = fg_read_file(a, vocab_bpe_path, &voc, &voc_len, errmsg, errmsg_len);
    if (st == FG_OK)
        st = fg_tokenizer_load_gpt2_buffers(out, enc, enc_len, encoder_json_path, voc, voc_len,
                                            vocab_bpe_path, p, errmsg, errmsg_len);
    fg_free(a, enc);
    fg_free(a, voc);
    return st;
}

/* ---- construction from a vocabulary in memory (the trainer, tokenizer.json) ------------------ */
/* "<name>: <label>[r] ("A" + "B"): what" into tok->errmsg; returns FG_ERR_FORMAT. */
static fg_status fail_merge(struct fg_tokenizer *tok, const char *name, const char *label,
                            uint32_t r, uint32_t a, uint32_t b, const char *what)
{
    char sa[64], sb[64];
    fg_tok_show(sa, sizeof sa, tok->tok_bytes + tok->tok_off[a],
                tok->tok_off[a + 1] - tok->tok_off[a]);
    fg_tok_show(sb, sizeof sb, tok->tok_bytes + tok->tok_off[b],
                tok->tok_off[b + 1] - tok->tok_off[b]);
    return fg_tok_fail(tok, FG_ERR_FORMAT, "%s: %s[%u] (\"%s\" + \"%s\"): %s", name,
                       label ? label : "merge", r, sa, sb, what);
}

/* Copy the tokens into tok and build vmap, byte_id and eot_id. */
static fg_status build_tokens(struct fg_tokenizer *tok, const struct fg_tok_parts *pt,
                              const char *name)
{
    const uint32_t n = pt->n_vocab;
    for (uint32_t id = 0; id < n; id++) {
        if (pt->off[id + 1] <= pt->off[id])
            return fg_tok_fail(tok, FG_ERR_FORMAT, "%s: token %u is empty", name, id);
    }
    const size_t n_bytes = pt->off[n] - pt->off[0];
    tok->n_vocab = n;
    tok->tok_off = alloc_n(tok, (size_t)n + 1, sizeof *tok->tok_off);
    tok->tok_bytes = alloc_n(tok, n_bytes, 1);
    tok->vmap_mask = pow2_at_least(2 * (size_t)n) - 1;
    tok->vmap = alloc_n(tok, tok->vmap_mask + 1, sizeof *tok->vmap);
    if (!tok->tok_off || !tok->tok_bytes || !tok->vmap)
        return fg_tok_fail(tok, FG_ERR_NOMEM, "%s: out of memory for %u tokens", name, n);
    memcpy(tok->tok_bytes, pt->bytes + pt->off[0], n_bytes);
    for (uint32_t id = 0; id <= n; id++)
        tok->tok_off[id] = pt->off[id] - pt->off[0];
    memset(tok->vmap, 0, (tok->vmap_mask + 1) * sizeof *tok->vmap);
    for (uint32_t id = 0; id < n; id++) {
        const uint8_t *b = tok->tok_bytes + tok->tok_off[id];
        size_t len = tok->tok_off[id + 1] - tok->tok_off[id];
        if (len > tok->max_token_len)
            tok->max_token_len = (uint32_t)len;
        size_t slot = vmap_slot(tok, b, len);
        if (tok->vmap[slot]) {
            char sa[200];
            fg_tok_show(sa, sizeof sa, b, len);
            return fg_tok_fail(tok, FG_ERR_FORMAT, "%s: tokens %u and %u are both \"%s\"", name,
                               tok->vmap[slot] - 1, id, sa);
        }
        tok->vmap[slot] = id + 1;
    }
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        int64_t id = vmap_find(tok, &c, 1);
        if (id < 0)
            return fg_tok_fail(tok, FG_ERR_FORMAT,
                               "%s: no token for the byte 0x%02X: a byte-level vocabulary needs "
                               "all 256",
                               name, b);
        tok->byte_id[b] = (uint32_t)id;
    }
    const size_t eot_len = strlen(FG_TOKENIZER_EOT_TEXT);
    if (pt->eot_id >= n || tok->tok_off[pt->eot_id + 1] - tok->tok_off[pt->eot_id] != eot_len ||
        memcmp(tok->tok_bytes + tok->tok_off[pt->eot_id], FG_TOKENIZER_EOT_TEXT, eot_len) != 0)
        return fg_tok_fail(tok, FG_ERR_FORMAT, "%s: no \"%s\" token (id %u)", name,
                           FG_TOKENIZER_EOT_TEXT, pt->eot_id);
    tok->eot_id = pt->eot_id;
    return FG_OK;
}

/* Check and add the merges (the same rules as vocab.bpe's, see load_merges). */
static fg_status build_merges(struct fg_tokenizer *tok, const struct fg_tok_parts *pt,
                              const char *name, uint32_t *made, uint8_t *ab)
{
    const uint32_t n = tok->n_vocab;
    memset(made, 0, n * sizeof *made);
    for (int b = 0; b < 256; b++)
        made[tok->byte_id[b]] = 1;
    for (size_t k = 0; k <= tok->pmap_mask; k++)
        tok->pmap[k].a = tok->pmap[k].b = FG_TOK_NONE;
    char what[300], sx[200];
    for (uint32_t r = 0; r < pt->n_merges; r++) {
        uint32_t a = pt->merge_ab[2 * (size_t)r], b = pt->merge_ab[2 * (size_t)r + 1];
        if (a >= n || b >= n)
            return fg_tok_fail(tok, FG_ERR_FORMAT,
                               "%s: %s[%u] uses the id %u, which is not below the vocabulary "
                               "size %u",
                               name, pt->merge_label ? pt->merge_label : "merge", r, a >= n ? a : b,
                               n);
        if (!made[a] || !made[b]) {
            uint32_t u = !made[a] ? a : b;
            fg_tok_show(sx, sizeof sx, tok->tok_bytes + tok->tok_off[u],
                        tok->tok_off[u + 1] - tok->tok_off[u]);
            snprintf(what, sizeof what, "uses \"%s\" before any earlier merge makes it", sx);
            return fail_merge(tok, name, pt->merge_label, r, a, b, what);
        }
        size_t la = tok->tok_off[a + 1] - tok->tok_off[a];
        size_t lb = tok->tok_off[b + 1] - tok->tok_off[b];
        memcpy(ab, tok->tok_bytes + tok->tok_off[a], la);
        memcpy(ab + la, tok->tok_bytes + tok->tok_off[b], lb);
        int64_t c = la + lb <= tok->max_token_len ? vmap_find(tok, ab, la + lb) : -1;
        if (c < 0 || (uint32_t)c == tok->eot_id)
            return fail_merge(tok, name, pt->merge_label, r, a, b,
                              c < 0 ? "makes a token that is not in the vocabulary"
                                    : "makes the special token");
        if (made[c]) { /* not a byte: c has two or more bytes */
            snprintf(what, sizeof what, "makes token %u, which %s[%u] already makes", (unsigned)c,
                     pt->merge_label ? pt->merge_label : "merge", made[c] - 2);
            return fail_merge(tok, name, pt->merge_label, r, a, b, what);
        }
        size_t slot = fg_tok_pair_hash(a, b) & tok->pmap_mask;
        while (tok->pmap[slot].a != FG_TOK_NONE) /* (a, b) is new: it would make c again */
            slot = (slot + 1) & tok->pmap_mask;
        tok->pmap[slot] = (struct fg_tok_pair){ a, b, r, (uint32_t)c };
        tok->merges[r] = (struct fg_tok_merge){ a, b, (uint32_t)c };
        made[c] = r + 2;
    }
    tok->n_merges = pt->n_merges;
    for (uint32_t id = 0; id < n; id++) {
        if (!made[id] && id != tok->eot_id) {
            fg_tok_show(sx, sizeof sx, tok->tok_bytes + tok->tok_off[id],
                        tok->tok_off[id + 1] - tok->tok_off[id]);
            return fg_tok_fail(tok, FG_ERR_FORMAT,
                               "%s: token %u \"%s\" is made by no merge (of %u merges): is the "
                               "merge list truncated?",
                               name, id, sx, pt->n_merges);
        }
    }
    return FG_OK;
}

static fg_status build_parts(struct fg_tokenizer *tok, const struct fg_tok_parts *pt,
                             const char *name)
{
    FG_TRY(build_tokens(tok, pt, name));
    tok->pmap_mask = pow2_at_least(2 * (size_t)pt->n_merges + 2) - 1;
    tok->pmap = alloc_n(tok, tok->pmap_mask + 1, sizeof *tok->pmap);
    tok->merges = alloc_n(tok, pt->n_merges, sizeof *tok->merges);
    uint32_t *made = alloc_n(tok, tok->n_vocab, sizeof *made);
    uint8_t *ab = alloc_n(tok, 2 * (size_t)tok->max_token_len, 1);
    fg_status st = FG_OK;
    if (pt->merge_count) {
        tok->merge_count = alloc_n(tok, pt->n_merges, sizeof *tok->merge_count);
        if (tok->merge_count)
            memcpy(tok->merge_count, pt->merge_count, pt->n_merges * sizeof *tok->merge_count);
        else
            st = FG_ERR_NOMEM;
    }
    if (!tok->pmap || !tok->merges || !made || !ab || st != FG_OK)
        st = fg_tok_fail(tok, FG_ERR_NOMEM, "%s: out of memory for %u merges", name, pt->n_merges);
    else
        st = build_merges(tok, pt, name, made, ab);
    fg_free(&tok->alloc, made);
    fg_free(&tok->alloc, ab);
    return st;
}

fg_status fg_tok_build(struct fg_tokenizer **out, const struct fg_tok_parts *parts,
                       const char *name, const struct fg_tokenizer_params *p, char *errmsg,
                       size_t errmsg_len)
{
    *out = NULL;
    if (!name)
        name = "tokenizer";
    if (parts->n_vocab == 0 || parts->n_vocab > FG_TOKENIZER_MAX_VOCAB ||
        parts->n_merges >= parts->n_vocab) {
        if (errmsg && errmsg_len)
            snprintf(errmsg, errmsg_len,
                     "%s: %u tokens and %u merges: need 1..%u tokens and fewer merges than "
                     "tokens",
                     name, parts->n_vocab, parts->n_merges, FG_TOKENIZER_MAX_VOCAB);
        return FG_ERR_FORMAT;
    }
    struct fg_tokenizer *tok = NULL;
    FG_TRY(tok_new(&tok, p, errmsg, errmsg_len));
    fg_status st = build_parts(tok, parts, name);
    if (st == FG_OK) {
        st = fg_tok_ws_init(tok);
        if (st != FG_OK)
            fg_tok_fail(tok, st, "out of memory allocating %d word caches of %zu slots",
                        tok->n_threads, tok->cache_slots);
    }
    if (st != FG_OK) {
        copy_msg(errmsg, errmsg_len, tok->errmsg);
        fg_tokenizer_free(tok);
        return st;
    }
    tok->errmsg[0] = '\0';
    copy_msg(errmsg, errmsg_len, "");
    *out = tok;
    return FG_OK;
}

const char *fg_tokenizer_errmsg(const struct fg_tokenizer *tok)
{
    return tok ? tok->errmsg : "no tokenizer";
}

size_t fg_tokenizer_n_vocab(const struct fg_tokenizer *tok)
{
    return tok->n_vocab;
}

uint32_t fg_tokenizer_eot_id(const struct fg_tokenizer *tok)
{
    return tok->eot_id;
}

size_t fg_tokenizer_max_token_len(const struct fg_tokenizer *tok)
{
    return tok->max_token_len;
}

const uint8_t *fg_tokenizer_token_bytes(const struct fg_tokenizer *tok, uint32_t id, size_t *len)
{
    if (id >= tok->n_vocab) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = tok->tok_off[id + 1] - tok->tok_off[id];
    return tok->tok_bytes + tok->tok_off[id];
}

int64_t fg_tokenizer_token_id(const struct fg_tokenizer *tok, const void *bytes, size_t len)
{
    if (!bytes && len)
        return -1;
    return vmap_find(tok, len ? bytes : (const void *)"", len);
}

size_t fg_tokenizer_n_merges(const struct fg_tokenizer *tok)
{
    return tok->n_merges;
}

fg_status fg_tokenizer_get_merge(const struct fg_tokenizer *tok, size_t rank,
                                 struct fg_tokenizer_merge_info *m)
{
    if (!tok || !m || rank >= tok->n_merges)
        return FG_ERR_INVALID_ARG;
    m->a = tok->merges[rank].a;
    m->b = tok->merges[rank].b;
    m->id = tok->merges[rank].id;
    m->count = tok->merge_count ? tok->merge_count[rank] : 0;
    return FG_OK;
}
