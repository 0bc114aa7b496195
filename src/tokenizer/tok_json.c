/* tokenizer.json: save and load a byte-level BPE tokenizer in Hugging Face tokenizers' layout.
 *
 * The layout is spelled out in include/frugal/tokenizer.h. Tokens are written in GPT-2's
 * byte-to-unicode alphabet (vocab_io.c), so the file reads like GPT-2's own encoder.json and
 * vocab.bpe. Writing is by hand (one vocab entry and one merge per line, as HF pretty-prints) into
 * an atomic file; reading goes through cJSON, then every check the encoder relies on is made by
 * fg_tok_build, the constructor the trainer uses too. Settings that would make HF encode
 * differently from GPT-2's scheme (a normalizer, another pre-tokenizer, dropout, ...) are refused
 * with FG_ERR_UNSUPPORTED instead of being ignored.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tokenizer_int.h"

/* ---- writing ----------------------------------------------------------------------------------- */
struct jout {
    struct fg_atomic_file f;
    char buf[1 << 16];
    size_t n;
    fg_status st;  /* the first error */
    char msg[256]; /* its message */
};

static void flush(struct jout *o)
{
    if (o->st == FG_OK && o->n)
        o->st = fg_atomic_write(&o->f, o->buf, o->n, o->msg, sizeof o->msg);
    o->n = 0;
}

static void put(struct jout *o, const char *s, size_t n)
{
    while (n) {
        if (o->n == sizeof o->buf)
            flush(o);
        size_t k = sizeof o->buf - o->n < n ? sizeof o->buf - o->n : n;
        memcpy(o->buf + o->n, s, k);
        o->n += k;
        s += k;
        n -= k;
    }
}

static void putf(struct jout *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct jout *o, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k > 0)
        put(o, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

/* The characters of token b[0..n) in GPT-2's alphabet, escaped for a JSON string. No code point
 * of the alphabet is a control character, so only '"' and '\\' need escapes. */
static void put_chars(struct jout *o, const uint16_t byte_cp[256], const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned cp = byte_cp[b[i]];
        char u[2];
        if (cp == '"' || cp == '\\') {
            u[0] = '\\';
            u[1] = (char)cp;
            put(o, u, 2);
        } else if (cp < 0x80) {
            u[0] = (char)cp;
            put(o, u, 1);
        } else { /* cp <= 0x143: two bytes of UTF-8 */
            u[0] = (char)(0xC0 | (cp >> 6));
            u[1] = (char)(0x80 | (cp & 0x3F));
            put(o, u, 2);
        }
    }
}

static void put_id(struct jout *o, const struct fg_tokenizer *tok, const uint16_t *byte_cp,
                   uint32_t id)
{
    put_chars(o, byte_cp, tok->tok_bytes + tok->tok_off[id],
              tok->tok_off[id + 1] - tok->tok_off[id]);
}

static void write_json(struct jout *o, const struct fg_tokenizer *tok)
{
    int16_t cp_byte[FG_TOK_ALPHABET_CPS];
    uint16_t byte_cp[256];
    fg_tok_byte_alphabet(cp_byte, byte_cp);
    static const char head[] =
        "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n"
        "  \"added_tokens\": [\n    {\n";
    put(o, head, sizeof head - 1);
    putf(o, "      \"id\": %u,\n      \"content\": \"", tok->eot_id);
    put_id(o, tok, byte_cp, tok->eot_id);
    static const char mid[] =
        "\",\n      \"single_word\": false,\n      \"lstrip\": false,\n      \"rstrip\": false,\n"
        "      \"normalized\": false,\n      \"special\": true\n    }\n  ],\n"
        "  \"normalizer\": null,\n"
        "  \"pre_tokenizer\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": false,\n"
        "    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n"
        "  \"post_processor\": null,\n"
        "  \"decoder\": {\n    \"type\": \"ByteLevel\",\n    \"add_prefix_space\": true,\n"
        "    \"trim_offsets\": true,\n    \"use_regex\": true\n  },\n"
        "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        "    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n"
        "    \"vocab\": {";
    put(o, mid, sizeof mid - 1);
    for (uint32_t id = 0; id < tok->n_vocab && o->st == FG_OK; id++) {
        put(o, id ? ",\n      \"" : "\n      \"", id ? 9 : 8);
        put_id(o, tok, byte_cp, id);
        putf(o, "\": %u", id);
    }
    static const char mid2[] = "\n    },\n    \"merges\": [";
    put(o, mid2, sizeof mid2 - 1);
    for (uint32_t r = 0; r < tok->n_merges && o->st == FG_OK; r++) {
        put(o, r ? ",\n      \"" : "\n      \"", r ? 9 : 8);
        put_id(o, tok, byte_cp, tok->merges[r].a);
        put(o, " ", 1);
        put_id(o, tok, byte_cp, tok->merges[r].b);
        put(o, "\"", 1);
    }
    static const char tail[] = "\n    ]\n  }\n}\n";
    put(o, tail, sizeof tail - 1);
}

static void set_msg(char *errmsg, size_t errmsg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_msg(char *errmsg, size_t errmsg_len, const char *fmt, ...)
{
    if (!errmsg || !errmsg_len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, errmsg_len, fmt, ap);
    va_end(ap);
}

fg_status fg_tokenizer_save_json(const struct fg_tokenizer *tok, const char *path, char *errmsg,
                                 size_t errmsg_len)
{
    if (!tok || !path) {
        set_msg(errmsg, errmsg_len, "fg_tokenizer_save_json: NULL argument");
        return FG_ERR_INVALID_ARG;
    }
    struct jout *o = fg_alloc(&tok->alloc, sizeof *o, 64);
    if (!o) {
        set_msg(errmsg, errmsg_len, "saving %s: out of memory for the write buffer", path);
        return FG_ERR_NOMEM;
    }
    o->n = 0;
    o->st = FG_OK;
    o->msg[0] = '\0';
    fg_status st = fg_atomic_open(&o->f, path, o->msg, sizeof o->msg);
    if (st == FG_OK) {
        write_json(o, tok);
        flush(o);
        st = o->st;
        if (st == FG_OK)
            st = fg_atomic_commit(&o->f, o->msg, sizeof o->msg);
        else
            fg_atomic_abort(&o->f);
    }
    if (st == FG_OK)
        set_msg(errmsg, errmsg_len, "%s", "");
    else
        set_msg(errmsg, errmsg_len, "saving %s: %s", path, o->msg);
    fg_free(&tok->alloc, o);
    return st;
}

/* ---- reading ----------------------------------------------------------------------------------- */
struct jin {
    const char *name;
    char *errmsg;
    size_t errmsg_len;
    struct fg_allocator alloc;
    int16_t cp_byte[FG_TOK_ALPHABET_CPS];
    /* the vocabulary: token `id` is bytes[off[id] .. off[id + 1]) once sorted into id order */
    uint8_t *bytes;
    size_t n_bytes, cap_bytes;
    uint32_t *off;     /* (n_vocab + 2) */
    uint32_t *tok_at;  /* (n_entries) entry -> offset in bytes while reading */
    uint32_t *tok_len; /* (n_entries) */
    uint32_t *ent_id;  /* (n_entries) entry -> id */
    uint32_t *by_id;   /* (n_vocab) id -> entry + 1 */
    uint32_t *map;     /* bytes -> id + 1 (open addressing) */
    size_t map_mask;
    uint32_t n_vocab;
    uint32_t *merge_ab;
    uint8_t *scratch; /* one token's bytes */
};

static fg_status jfail(struct jin *j, fg_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static fg_status jfail(struct jin *j, fg_status st, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    set_msg(j->errmsg, j->errmsg_len, "%s: %s", j->name, what);
    return st;
}

static void *jalloc(struct jin *j, size_t n, size_t elem)
{
    size_t bytes;
    if (fg_size_mul(n ? n : 1, elem, &bytes) != FG_OK)
        return NULL;
    return fg_alloc(&j->alloc, bytes, 64);
}

/* A string of GPT-2's alphabet into bytes (out has room for strlen(s) bytes); the length, or -1
 * with *bad_cp set for a character outside the alphabet (or not UTF-8: *bad_cp = 0xFFFFFFFF). */
static long text_bytes(const struct jin *j, const char *s, size_t n, uint8_t *out, uint32_t *bad_cp)
{
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t l = fg_tok_utf8((const uint8_t *)s + i, n - i, &cp);
        if (l == 0) {
            *bad_cp = 0xFFFFFFFFu;
            return -1;
        }
        if (cp >= FG_TOK_ALPHABET_CPS || j->cp_byte[cp] < 0) {
            *bad_cp = cp;
            return -1;
        }
        out[k++] = (uint8_t)j->cp_byte[cp];
        i += l;
    }
    return (long)k;
}

/* The id of the token with bytes b[0..n), or -1. */
static int64_t map_find(const struct jin *j, const uint8_t *b, size_t n)
{
    size_t i = (size_t)fg_tok_bytes_hash(b, n) & j->map_mask;
    for (;;) {
        uint32_t v = j->map[i];
        if (!v)
            return -1;
        uint32_t e = j->by_id[v - 1] - 1;
        if (j->tok_len[e] == n && memcmp(j->bytes + j->tok_at[e], b, n) == 0)
            return (int64_t)v - 1;
        i = (i + 1) & j->map_mask;
    }
}

/* A token for a message: its text as in the file, cut at about 40 bytes. */
static void show_text(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%.40s%s", s, strlen(s) > 40 ? "..." : "");
}

/* Whether a JSON number is an integer id below the limit. */
static int get_id(const cJSON *v, uint32_t *id)
{
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (double)FG_TOKENIZER_MAX_VOCAB) || floor(d) != d)
        return 0;
    *id = (uint32_t)d;
    return 1;
}

/* model.vocab: the tokens, ids 0..N-1 each once, and the bytes -> id map. */
static fg_status read_vocab(struct jin *j, const cJSON *vocab, uint32_t eot_added)
{
    if (!cJSON_IsObject(vocab))
        return jfail(j, FG_ERR_FORMAT, "model.vocab is missing or not an object of token -> id");
    size_t n = 0, text_len = 0;
    for (const cJSON *e = vocab->child; e; e = e->next) {
        if (++n > FG_TOKENIZER_MAX_VOCAB)
            return jfail(j, FG_ERR_FORMAT, "model.vocab has more than %u tokens",
                         FG_TOKENIZER_MAX_VOCAB);
        text_len += strlen(e->string);
    }
    /* room for one more token: "<|endoftext|>" when only added_tokens has it */
    const size_t el = strlen(FG_TOKENIZER_EOT_TEXT);
    j->bytes = jalloc(j, text_len + el, 1);
    j->tok_at = jalloc(j, n + 1, sizeof *j->tok_at);
    j->tok_len = jalloc(j, n + 1, sizeof *j->tok_len);
    j->ent_id = jalloc(j, n + 1, sizeof *j->ent_id);
    j->by_id = jalloc(j, n + 1, sizeof *j->by_id);
    j->off = jalloc(j, n + 2, sizeof *j->off);
    j->map_mask = 15;
    while (j->map_mask + 1 < 2 * (n + 1))
        j->map_mask = 2 * j->map_mask + 1;
    j->map = jalloc(j, j->map_mask + 1, sizeof *j->map);
    if (!j->bytes || !j->tok_at || !j->tok_len || !j->ent_id || !j->by_id || !j->off || !j->map)
        return jfail(j, FG_ERR_NOMEM, "out of memory for %zu tokens", n);
    memset(j->by_id, 0, (n + 1) * sizeof *j->by_id);
    memset(j->map, 0, (j->map_mask + 1) * sizeof *j->map);
    char sa[64], sb[64];
    size_t k = 0;
    for (const cJSON *e = vocab->child; e; e = e->next, k++) {
        uint32_t id = 0, bad = 0;
        show_text(sa, sizeof sa, e->string);
        if (!get_id(e, &id))
            return jfail(j, FG_ERR_FORMAT, "model.vocab[\"%s\"]: the id is not an integer 0..%u",
                         sa, FG_TOKENIZER_MAX_VOCAB - 1);
        if (id >= n)
            return jfail(j, FG_ERR_FORMAT,
                         "model.vocab[\"%s\"]: id %u is out of range: %zu tokens need ids "
                         "0..%zu without gaps",
                         sa, id, n, n - 1);
        if (j->by_id[id]) {
            uint32_t other = j->by_id[id] - 1;
            const cJSON *o = vocab->child;
            for (uint32_t q = 0; q < other; q++)
                o = o->next;
            show_text(sb, sizeof sb, o->string);
            return jfail(j, FG_ERR_FORMAT, "model.vocab: duplicate id %u (\"%s\" and \"%s\")", id,
                         sb, sa);
        }
        long len = text_bytes(j, e->string, strlen(e->string), j->bytes + j->n_bytes, &bad);
        if (len < 0)
            return jfail(j, FG_ERR_FORMAT,
                         bad == 0xFFFFFFFFu
                             ? "model.vocab[\"%s\"]: not valid UTF-8"
                             : "model.vocab[\"%s\"]: a character outside GPT-2's byte alphabet "
                               "(not a byte-level BPE vocabulary)",
                         sa);
        if (len == 0)
            return jfail(j, FG_ERR_FORMAT, "model.vocab: an empty token (id %u)", id);
        j->tok_at[k] = (uint32_t)j->n_bytes;
        j->tok_len[k] = (uint32_t)len;
        j->ent_id[k] = id;
        j->by_id[id] = (uint32_t)k + 1;
        if (map_find(j, j->bytes + j->n_bytes, (size_t)len) >= 0)
            return jfail(j, FG_ERR_FORMAT, "model.vocab: the token \"%s\" appears twice", sa);
        size_t i = (size_t)fg_tok_bytes_hash(j->bytes + j->n_bytes, (size_t)len) & j->map_mask;
        while (j->map[i])
            i = (i + 1) & j->map_mask;
        j->map[i] = id + 1;
        j->n_bytes += (size_t)len;
    }
    j->n_vocab = (uint32_t)n; /* n distinct ids, all < n: exactly 0..n-1 */
    if (eot_added == (uint32_t)n && map_find(j, (const uint8_t *)FG_TOKENIZER_EOT_TEXT, el) < 0) {
        /* HF appends added tokens that the model lacks after its vocabulary */
        memcpy(j->bytes + j->n_bytes, FG_TOKENIZER_EOT_TEXT, el);
        j->tok_at[n] = (uint32_t)j->n_bytes;
        j->tok_len[n] = (uint32_t)el;
        j->ent_id[n] = (uint32_t)n;
        j->by_id[n] = (uint32_t)n + 1;
        size_t i = (size_t)fg_tok_bytes_hash(j->bytes + j->n_bytes, el) & j->map_mask;
        while (j->map[i])
            i = (i + 1) & j->map_mask;
        j->map[i] = (uint32_t)n + 1;
        j->n_bytes += el;
        j->n_vocab++;
    }
    /* the tokens in id order for fg_tok_build: move bytes into a second buffer */
    uint8_t *sorted = jalloc(j, j->n_bytes, 1);
    if (!sorted)
        return jfail(j, FG_ERR_NOMEM, "out of memory for %zu tokens", n);
    uint32_t at = 0;
    for (uint32_t id = 0; id < j->n_vocab; id++) {
        uint32_t e = j->by_id[id] - 1;
        j->off[id] = at;
        memcpy(sorted + at, j->bytes + j->tok_at[e], j->tok_len[e]);
        j->tok_at[e] = at;
        at += j->tok_len[e];
    }
    j->off[j->n_vocab] = at;
    fg_free(&j->alloc, j->bytes);
    j->bytes = sorted;
    return FG_OK;
}

/* One part of a merge: its id, or an error naming merge r. */
static fg_status merge_part(struct jin *j, size_t r, const char *text, size_t n, const char *whole,
                            uint32_t *id)
{
    uint32_t bad = 0;
    char sa[64], sb[64];
    long len = text_bytes(j, text, n, j->scratch, &bad);
    int64_t v = len > 0 ? map_find(j, j->scratch, (size_t)len) : -1;
    if (v < 0) {
        show_text(sa, sizeof sa, whole);
        snprintf(sb, sizeof sb, "%.*s", (int)(n < 40 ? n : 40), text);
        return jfail(j, FG_ERR_FORMAT,
                     "model.merges[%zu] \"%s\": the token \"%s\" is not in model.vocab", r, sa, sb);
    }
    *id = (uint32_t)v;
    return FG_OK;
}

/* model.merges: "A B" strings or ["A", "B"] pairs, into merge_ab. */
static fg_status read_merges(struct jin *j, const cJSON *merges, uint32_t *n_merges)
{
    if (!cJSON_IsArray(merges))
        return jfail(j, FG_ERR_FORMAT, "model.merges is missing or not an array");
    size_t n = 0, longest = 0;
    for (const cJSON *m = merges->child; m; m = m->next) {
        if (++n >= j->n_vocab)
            return jfail(j, FG_ERR_FORMAT, "model.merges has %zu or more merges for %u tokens", n,
                         j->n_vocab);
        for (const cJSON *s = cJSON_IsArray(m) ? m->child : m; s;
             s = cJSON_IsArray(m) ? s->next : NULL)
            if (cJSON_IsString(s) && strlen(s->valuestring) > longest)
                longest = strlen(s->valuestring);
    }
    j->merge_ab = jalloc(j, 2 * n, sizeof *j->merge_ab);
    j->scratch = jalloc(j, longest + 1, 1);
    if (!j->merge_ab || !j->scratch)
        return jfail(j, FG_ERR_NOMEM, "out of memory for %zu merges", n);
    size_t r = 0;
    for (const cJSON *m = merges->child; m; m = m->next, r++) {
        uint32_t *ab = j->merge_ab + 2 * r;
        if (cJSON_IsString(m)) {
            const char *s = m->valuestring, *sp = strchr(s, ' ');
            char sa[64];
            show_text(sa, sizeof sa, s);
            if (!sp || sp == s || !sp[1] || strchr(sp + 1, ' '))
                return jfail(j, FG_ERR_FORMAT,
                             "model.merges[%zu] \"%s\": expected \"A B\", two tokens and one space",
                             r, sa);
            FG_TRY(merge_part(j, r, s, (size_t)(sp - s), s, &ab[0]));
            FG_TRY(merge_part(j, r, sp + 1, strlen(sp + 1), s, &ab[1]));
        } else if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) &&
                   cJSON_IsString(m->child->next)) {
            const char *a = m->child->valuestring, *b = m->child->next->valuestring;
            FG_TRY(merge_part(j, r, a, strlen(a), a, &ab[0]));
            FG_TRY(merge_part(j, r, b, strlen(b), b, &ab[1]));
        } else {
            return jfail(j, FG_ERR_FORMAT,
                         "model.merges[%zu]: expected a string \"A B\" or a pair [\"A\", \"B\"]",
                         r);
        }
    }
    *n_merges = (uint32_t)n;
    return FG_OK;
}

/* Whether item is absent or JSON null. */
static int is_null(const cJSON *item)
{
    return !item || cJSON_IsNull(item);
}

/* The settings: FG_ERR_UNSUPPORTED for anything that would encode unlike GPT-2. */
static fg_status check_settings(struct jin *j, const cJSON *root, const cJSON *model)
{
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!is_null(norm))
        return jfail(j, FG_ERR_UNSUPPORTED,
                     "a normalizer is not supported (GPT-2 style BPE encodes the raw bytes)");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "ByteLevel") != 0)
        return jfail(j, FG_ERR_UNSUPPORTED,
                     "pre_tokenizer must be {\"type\": \"ByteLevel\", ...} (GPT-2's); found %s%s%s",
                     cJSON_IsString(type) ? "\"" : "",
                     cJSON_IsString(type) ? type->valuestring : "none",
                     cJSON_IsString(type) ? "\"" : "");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space")))
        return jfail(j, FG_ERR_UNSUPPORTED, "pre_tokenizer.add_prefix_space true is not supported");
    if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(pre, "use_regex")))
        return jfail(j, FG_ERR_UNSUPPORTED, "pre_tokenizer.use_regex false is not supported");
    const cJSON *drop = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (!is_null(drop) && !(cJSON_IsNumber(drop) && drop->valuedouble == 0))
        return jfail(j, FG_ERR_UNSUPPORTED, "model.dropout is not supported");
    static const char *const affixes[] = { "continuing_subword_prefix", "end_of_word_suffix" };
    for (int k = 0; k < 2; k++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affixes[k]);
        if (!is_null(a) && !(cJSON_IsString(a) && a->valuestring[0] == '\0'))
            return jfail(j, FG_ERR_UNSUPPORTED, "model.%s is not supported", affixes[k]);
    }
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges")))
        return jfail(j, FG_ERR_UNSUPPORTED, "model.ignore_merges true is not supported");
    return FG_OK;
}

/* added_tokens: only "<|endoftext|>"; its id into *eot (UINT32_MAX if absent). */
static fg_status read_added(struct jin *j, const cJSON *added, uint32_t *eot)
{
    *eot = UINT32_MAX;
    if (is_null(added))
        return FG_OK;
    if (!cJSON_IsArray(added))
        return jfail(j, FG_ERR_FORMAT, "added_tokens is not an array");
    size_t k = 0;
    for (const cJSON *e = added->child; e; e = e->next, k++) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        uint32_t id = 0;
        if (!cJSON_IsString(content) || !get_id(cJSON_GetObjectItemCaseSensitive(e, "id"), &id))
            return jfail(j, FG_ERR_FORMAT,
                         "added_tokens[%zu]: expected an object with \"id\" and \"content\"", k);
        if (strcmp(content->valuestring, FG_TOKENIZER_EOT_TEXT) != 0) {
            char sa[64];
            show_text(sa, sizeof sa, content->valuestring);
            return jfail(j, FG_ERR_UNSUPPORTED,
                         "added_tokens[%zu] \"%s\": the only special token supported is \"%s\"", k,
                         sa, FG_TOKENIZER_EOT_TEXT);
        }
        *eot = id;
    }
    return FG_OK;
}

static fg_status read_json(struct jin *j, const char *buf, size_t len,
                           const struct fg_tokenizer_params *p, struct fg_tokenizer **out)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (root && end) { /* only whitespace may follow the value */
        while (end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end != buf + len) {
            cJSON_Delete(root);
            root = NULL;
        }
    }
    if (!root) {
        size_t pos = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0, line = 1,
               col = 1;
        for (size_t i = 0; i < pos; i++) {
            col = buf[i] == '\n' ? 1 : col + 1;
            line += buf[i] == '\n';
        }
        return jfail(j, FG_ERR_FORMAT, "%zu:%zu: not valid JSON%s", line, col,
                     pos + 1 >= len ? " (the file ends here: truncated?)" : "");
    }
    fg_status st = FG_OK;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    uint32_t eot = UINT32_MAX, n_merges = 0;
    if (!cJSON_IsObject(root) || !cJSON_IsObject(model))
        st = jfail(j, FG_ERR_FORMAT, "no \"model\" object: not a tokenizer.json");
    else if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0))
        st = jfail(j, FG_ERR_FORMAT, "model.type is %s%s%s, not \"BPE\"",
                   cJSON_IsString(type) ? "\"" : "",
                   cJSON_IsString(type) ? type->valuestring : "not a string",
                   cJSON_IsString(type) ? "\"" : "");
    if (st == FG_OK)
        st = check_settings(j, root, model);
    if (st == FG_OK)
        st = read_added(j, cJSON_GetObjectItemCaseSensitive(root, "added_tokens"), &eot);
    if (st == FG_OK)
        st = read_vocab(j, cJSON_GetObjectItemCaseSensitive(model, "vocab"), eot);
    if (st == FG_OK)
        st = read_merges(j, cJSON_GetObjectItemCaseSensitive(model, "merges"), &n_merges);
    cJSON_Delete(root);
    FG_TRY(st);
    int64_t vocab_eot =
        map_find(j, (const uint8_t *)FG_TOKENIZER_EOT_TEXT, strlen(FG_TOKENIZER_EOT_TEXT));
    if (vocab_eot < 0)
        return jfail(j, FG_ERR_FORMAT, "no \"%s\" token in model.vocab or added_tokens",
                     FG_TOKENIZER_EOT_TEXT);
    if (eot != UINT32_MAX && eot != (uint32_t)vocab_eot)
        return jfail(j, FG_ERR_FORMAT, "\"%s\" has id %u in added_tokens but %u in model.vocab",
                     FG_TOKENIZER_EOT_TEXT, eot, (uint32_t)vocab_eot);
    struct fg_tok_parts parts = {
        j->n_vocab,          j->bytes,      j->off, n_merges, j->merge_ab, NULL,
        (uint32_t)vocab_eot, "model.merges"
    };
    return fg_tok_build(out, &parts, j->name, p, j->errmsg, j->errmsg_len);
}

fg_status fg_tokenizer_load_json_buffer(struct fg_tokenizer **out, const void *buf, size_t len,
                                        const char *name, const struct fg_tokenizer_params *p,
                                        char *errmsg, size_t errmsg_len)
{
    if (out)
        *out = NULL;
    if (!out || (!buf && len)) {
        set_msg(errmsg, errmsg_len, "fg_tokenizer_load_json_buffer: NULL argument");
        return FG_ERR_INVALID_ARG;
    }
    struct jin j;
    memset(&j, 0, sizeof j);
    j.name = name ? name : "tokenizer.json";
    j.errmsg = errmsg;
    j.errmsg_len = errmsg_len;
    j.alloc = p && p->alloc.alloc && p->alloc.free ? p->alloc : fg_allocator_default();
    uint16_t byte_cp[256];
    fg_tok_byte_alphabet(j.cp_byte, byte_cp);
    fg_status st = read_json(&j, len ? buf : "", len, p, out);
    fg_free(&j.alloc, j.bytes);
    fg_free(&j.alloc, j.off);
    fg_free(&j.alloc, j.tok_at);
    fg_free(&j.alloc, j.tok_len);
    fg_free(&j.alloc, j.ent_id);
    fg_free(&j.alloc, j.by_id);
    fg_free(&j.alloc, j.map);
    fg_free(&j.alloc, j.merge_ab);
    fg_free(&j.alloc, j.scratch);
    return st;
}

fg_status fg_tokenizer_load_json(struct fg_tokenizer **out, const char *path,
                                 const struct fg_tokenizer_params *p, char *errmsg,
                                 size_t errmsg_len)
{
    if (out)
        *out = NULL;
    if (!out || !path) {
        set_msg(errmsg, errmsg_len, "fg_tokenizer_load_json: NULL argument");
        return FG_ERR_INVALID_ARG;
    }
    const struct fg_allocator *a = p && p->alloc.alloc && p->alloc.free ? &p->alloc : NULL;
    void *buf = NULL;
    size_t len = 0;
    fg_status st = fg_read_file(a, path, &buf, &len, errmsg, errmsg_len);
    if (st == FG_OK)
        st = fg_tokenizer_load_json_buffer(out, buf, len, path, p, errmsg, errmsg_len);
    fg_free(a, buf);
    return st;
}
