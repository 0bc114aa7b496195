/* Canonical forms of JSON objects, RFC 822 stanzas and CSV rows (include/frugal/canon.h).
 *
 * Each parser appends canonical names and values to one growable text buffer and records
 * their offsets; the offsets become fg_canon_field pointers once the text stops moving, and the
 * fields are sorted by name. JSON is parsed by a small strict recursive-descent parser that
 * writes the canonical text of every value while it reads (nested objects are collected in a
 * scratch buffer, sorted, then appended), so no tree is ever built. Writers go through one
 * sink that fills a caller buffer, a growable buffer or a SHA-256, so the canonical form, its
 * size and its hash come from the same code. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/canon.h"
#include "frugal/core.h"

struct fg_canon_params fg_canon_params_default(void)
{
    struct fg_canon_params p = { NULL, 0, NULL };
    return p;
}

__attribute__((format(printf, 3, 4))) static fg_status fail_fmt(char *err, size_t errlen,
                                                                const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return FG_ERR_FORMAT;
}

/* ---- growable byte buffer through the allocator ---- */

struct gbuf {
    char *p;
    size_t len, cap;
    const struct fg_allocator *a;
};

static fg_status gb_put(struct gbuf *b, const void *src, size_t n)
{
    if (n == 0)
        return FG_OK;
    if (n > b->cap - b->len) {
        size_t need, cap = b->cap ? b->cap : 256;
        if (fg_size_add(b->len, n, &need) != FG_OK)
            return FG_ERR_NOMEM;
        while (cap < need) {
            if (cap > SIZE_MAX / 2)
                return FG_ERR_NOMEM;
            cap *= 2;
        }
        char *np = fg_alloc(b->a, cap, 16);
        if (!np)
            return FG_ERR_NOMEM;
        if (b->len)
            memcpy(np, b->p, b->len);
        fg_free(b->a, b->p);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return FG_OK;
}

static fg_status gb_byte(struct gbuf *b, unsigned char c)
{
    return gb_put(b, &c, 1);
}

/* ---- output sink: a caller buffer (counting past its end), a gbuf, and/or a SHA-256 ---- */

struct sink {
    char *buf;
    size_t cap, len;
    struct gbuf *gb;
    struct fg_sha256 *sha;
    fg_status st;
};

static void put(struct sink *k, const void *p, size_t n)
{
    if (k->gb) {
        if (k->st == FG_OK)
            k->st = gb_put(k->gb, p, n);
    } else if (k->buf && k->len < k->cap) {
        size_t room = k->cap - k->len;
        memcpy(k->buf + k->len, p, n < room ? n : room);
    }
    if (k->sha)
        fg_sha256_update(k->sha, p, n);
    k->len += n;
}

static void put_str(struct sink *k, const char *s)
{
    put(k, s, strlen(s));
}

static const char HEX[] = "0123456789abcdef";

/* JSON string content, escaped the one canonical way (see the header). */
static void esc_json(struct sink *k, const unsigned char *s, size_t n)
{
    size_t run = 0; /* bytes that need no escape are written in runs */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(k, s + run, i - run);
        run = i + 1;
        char e[6] = { '\\', 'u', '0', '0', HEX[c >> 4], HEX[c & 15] };
        switch (c) {
        case '"':
            put(k, "\\\"", 2);
            break;
        case '\\':
            put(k, "\\\\", 2);
            break;
        case '\b':
            put(k, "\\b", 2);
            break;
        case '\f':
            put(k, "\\f", 2);
            break;
        case '\n':
            put(k, "\\n", 2);
            break;
        case '\r':
            put(k, "\\r", 2);
            break;
        case '\t':
            put(k, "\\t", 2);
            break;
        default:
            put(k, e, 6);
        }
    }
    put(k, s + run, n - run);
}

/* CSV canonical lines: '\' '=' and control bytes escaped, so "name=value\n" splits one way. */
static void esc_kv(struct sink *k, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c == '\\' || c == '=') {
            char e[2] = { '\\', (char)c };
            put(k, e, 2);
        } else if (c < 0x20) {
            char e[4] = { '\\', 'x', HEX[c >> 4], HEX[c & 15] };
            put(k, e, 4);
        } else {
            put(k, &c, 1);
        }
    }
}

/* ---- fields: offsets while the text grows, then sorted pointers ---- */

struct foff {
    size_t name_off, name_len, val_off, val_len;
};

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return na < nb ? -1 : na > nb;
}

static int cmp_field(const void *x, const void *y)
{
    const struct fg_canon_field *a = x, *b = y;
    return cmp_bytes(a->name, a->name_len, b->name, b->name_len);
}

/* Turns offsets into text into sorted fields (*out NULL when n is 0) and rejects duplicate
 * names. what names the kind in the message. */
static fg_status make_fields(const struct fg_allocator *a, const char *text,
                             const struct gbuf *offs, struct fg_canon_field **out, size_t *n_out,
                             const char *what, char *err, size_t errlen)
{
    size_t n = offs->len / sizeof(struct foff);
    *out = NULL;
    *n_out = 0;
    if (n == 0)
        return FG_OK;
    struct fg_canon_field *f = fg_alloc(a, n * sizeof *f, 16); /* n * size <= offs->len */
    if (!f)
        return FG_ERR_NOMEM;
    const struct foff *o = (const struct foff *)(const void *)offs->p;
    for (size_t i = 0; i < n; i++) {
        f[i].name = text + o[i].name_off;
        f[i].name_len = o[i].name_len;
        f[i].value = text + o[i].val_off;
        f[i].value_len = o[i].val_len;
    }
    qsort(f, n, sizeof *f, cmp_field);
    for (size_t i = 1; i < n; i++) {
        if (cmp_field(&f[i - 1], &f[i]) == 0) {
            int shown = f[i].name_len > 60 ? 60 : (int)f[i].name_len;
            fg_status st = fail_fmt(err, errlen,
                                    "%s: duplicate field name '%.*s'; a record must name "
                                    "each field once",
                                    what, shown, f[i].name);
            fg_free(a, f); /* after the message, which reads the name through f */
            return st;
        }
    }
    *out = f;
    *n_out = n;
    return FG_OK;
}

static void write_json_object(struct sink *k, const struct fg_canon_field *f, size_t n)
{
    put(k, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(k, ",", 1);
        put(k, "\"", 1);
        esc_json(k, (const unsigned char *)f[i].name, f[i].name_len);
        put(k, "\":", 2);
        put(k, f[i].value, f[i].value_len);
    }
    put(k, "}", 1);
}

/* ---- JSON (RFC 8259), strict ---- */

struct jp {
    const unsigned char *s;
    size_t len, pos;
    const struct fg_allocator *a;
    char *err;
    size_t errlen;
};

static void j_ws(struct jp *j)
{
    while (j->pos < j->len && (j->s[j->pos] == ' ' || j->s[j->pos] == '\t' ||
                               j->s[j->pos] == '\n' || j->s[j->pos] == '\r'))
        j->pos++;
}

static fg_status j_bad(struct jp *j, const char *what)
{
    if (j->pos >= j->len)
        return fail_fmt(j->err, j->errlen, "JSON: %s, but the input ends at byte %zu (truncated?)",
                        what, j->len);
    return fail_fmt(j->err, j->errlen, "JSON: %s at byte %zu (found '%c')", what, j->pos,
                    j->s[j->pos] >= 0x20 && j->s[j->pos] < 0x7f ? j->s[j->pos] : '?');
}

static int hex4(const unsigned char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char c = s[i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d > 15)
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t utf8_encode(unsigned cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads the string at pos (which holds '"') and writes its decoded bytes to k: raw when
 * escape is 0 (object keys), canonically re-escaped when 1 (string values, quotes included). */
static fg_status j_string(struct jp *j, struct sink *k, int escape)
{
    j->pos++; /* the opening quote */
    if (escape)
        put(k, "\"", 1);
    size_t run = j->pos;
    for (;;) {
        if (j->pos >= j->len)
            return j_bad(j, "expected '\"' to close the string");
        unsigned char c = j->s[j->pos];
        if (c == '"' || c == '\\' || c < 0x20) {
            /* flush the plain run; it needs escaping only for the characters stopped at */
            if (escape)
                esc_json(k, j->s + run, j->pos - run);
            else
                put(k, j->s + run, j->pos - run);
        }
        if (c == '"') {
            j->pos++;
            break;
        }
        if (c < 0x20)
            return j_bad(j, "control character inside a string (must be escaped)");
        if (c != '\\') {
            j->pos++;
            continue;
        }
        if (j->pos + 1 >= j->len) {
            j->pos = j->len;
            return j_bad(j, "expected an escape after '\\'");
        }
        unsigned char e = j->s[j->pos + 1], d[4];
        size_t nd = 1;
        switch (e) {
        case '"':
            d[0] = '"';
            break;
        case '\\':
            d[0] = '\\';
            break;
        case '/':
            d[0] = '/';
            break;
        case 'b':
            d[0] = '\b';
            break;
        case 'f':
            d[0] = '\f';
            break;
        case 'n':
            d[0] = '\n';
            break;
        case 'r':
            d[0] = '\r';
            break;
        case 't':
            d[0] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (j->len - j->pos < 6 || !hex4(j->s + j->pos + 2, &cp))
                return j_bad(j, "expected 4 hex digits after \\u");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return j_bad(j, "lone low surrogate escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->len - j->pos < 12 || j->s[j->pos + 6] != '\\' || j->s[j->pos + 7] != 'u' ||
                    !hex4(j->s + j->pos + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return j_bad(j, "high surrogate escape without a low surrogate after it");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                j->pos += 6;
            }
            nd = utf8_encode(cp, d);
            j->pos += 4;
            break;
        }
        default:
            j->pos++;
            return j_bad(j, "unknown escape");
        }
        j->pos += 2;
        run = j->pos;
        if (escape)
            esc_json(k, d, nd);
        else
            put(k, d, nd);
    }
    if (escape)
        put(k, "\"", 1);
    return k->st;
}

static fg_status j_number(struct jp *j, struct sink *k)
{
    size_t start = j->pos;
    const unsigned char *s = j->s;
#define DIGIT(i) ((i) < j->len && s[i] >= '0' && s[i] <= '9')
    if (j->pos < j->len && s[j->pos] == '-')
        j->pos++;
    if (!DIGIT(j->pos))
        return j_bad(j, "expected a digit in a number");
    if (s[j->pos] == '0')
        j->pos++;
    else
        while (DIGIT(j->pos))
            j->pos++;
    if (j->pos < j->len && s[j->pos] == '.') {
        j->pos++;
        if (!DIGIT(j->pos))
            return j_bad(j, "expected a digit after the decimal point");
        while (DIGIT(j->pos))
            j->pos++;
    }
    if (j->pos < j->len && (s[j->pos] == 'e' || s[j->pos] == 'E')) {
        j->pos++;
        if (j->pos < j->len && (s[j->pos] == '+' || s[j->pos] == '-'))
            j->pos++;
        if (!DIGIT(j->pos))
            return j_bad(j, "expected a digit in the exponent");
        while (DIGIT(j->pos))
            j->pos++;
    }
#undef DIGIT
    put(k, s + start, j->pos - start);
    return k->st;
}

static fg_status j_value(struct jp *j, struct sink *k, int depth);

/* Reads the object at pos (which holds '{'): keys raw and values canonical into text, with
 * their offsets appended to offs. */
static fg_status j_members(struct jp *j, struct gbuf *text, struct gbuf *offs, int depth)
{
    if (depth > FG_CANON_MAX_DEPTH)
        return fail_fmt(j->err, j->errlen, "JSON: nesting deeper than %d at byte %zu",
                        FG_CANON_MAX_DEPTH, j->pos);
    struct sink k = { NULL, 0, 0, text, NULL, FG_OK };
    j->pos++;
    j_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
        return FG_OK;
    }
    for (;;) {
        struct foff o;
        j_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != '"')
            return j_bad(j, "expected '\"' to start an object key");
        o.name_off = text->len;
        FG_TRY(j_string(j, &k, 0));
        o.name_len = text->len - o.name_off;
        j_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':')
            return j_bad(j, "expected ':' after an object key");
        j->pos++;
        j_ws(j);
        o.val_off = text->len;
        FG_TRY(j_value(j, &k, depth + 1));
        o.val_len = text->len - o.val_off;
        FG_TRY(gb_put(offs, &o, sizeof o));
        j_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->pos < j->len && j->s[j->pos] == '}') {
            j->pos++;
            return FG_OK;
        }
        return j_bad(j, "expected ',' or '}' in an object");
    }
}

/* A nested object: members into scratch buffers, sorted, then written to k. */
static fg_status j_object(struct jp *j, struct sink *k, int depth)
{
    struct gbuf text = { NULL, 0, 0, j->a }, offs = { NULL, 0, 0, j->a };
    struct fg_canon_field *f = NULL;
    size_t n = 0;
    fg_status st = j_members(j, &text, &offs, depth);
    if (st == FG_OK)
        st = make_fields(j->a, text.p, &offs, &f, &n, "JSON", j->err, j->errlen);
    if (st == FG_OK) {
        write_json_object(k, f, n);
        st = k->st;
    }
    fg_free(j->a, f);
    fg_free(j->a, text.p);
    fg_free(j->a, offs.p);
    return st;
}

static fg_status j_value(struct jp *j, struct sink *k, int depth)
{
    if (j->pos >= j->len)
        return j_bad(j, "expected a value");
    unsigned char c = j->s[j->pos];
    if (c == '{')
        return j_object(j, k, depth);
    if (c == '"')
        return j_string(j, k, 1);
    if (c == '-' || (c >= '0' && c <= '9'))
        return j_number(j, k);
    if (c == '[') {
        if (depth > FG_CANON_MAX_DEPTH)
            return fail_fmt(j->err, j->errlen, "JSON: nesting deeper than %d at byte %zu",
                            FG_CANON_MAX_DEPTH, j->pos);
        put(k, "[", 1);
        j->pos++;
        j_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ']') {
            j->pos++;
            put(k, "]", 1);
            return k->st;
        }
        for (;;) {
            j_ws(j);
            FG_TRY(j_value(j, k, depth + 1));
            j_ws(j);
            if (j->pos < j->len && j->s[j->pos] == ',') {
                j->pos++;
                put(k, ",", 1);
                continue;
            }
            if (j->pos < j->len && j->s[j->pos] == ']') {
                j->pos++;
                put(k, "]", 1);
                return k->st;
            }
            return j_bad(j, "expected ',' or ']' in an array");
        }
    }
    static const char *const lit[] = { "true", "false", "null" };
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lit[i]);
        if (j->len - j->pos >= n && memcmp(j->s + j->pos, lit[i], n) == 0) {
            j->pos += n;
            put_str(k, lit[i]);
            return k->st;
        }
    }
    return j_bad(j, "expected a value (object, array, string, number, true, false or null)");
}

static fg_status parse_json(const char *in, size_t len, struct gbuf *text, struct gbuf *offs,
                            char *err, size_t errlen)
{
    struct jp j = { (const unsigned char *)in, len, 0, text->a, err, errlen };
    j_ws(&j);
    if (j.pos >= j.len || j.s[j.pos] != '{')
        return j_bad(&j, "a record must be one object: expected '{'");
    FG_TRY(j_members(&j, text, offs, 1));
    j_ws(&j);
    if (j.pos != j.len)
        return j_bad(&j, "expected the end of input after the object");
    return FG_OK;
}

/* ---- white-space normalization (stanza and CSV values) ---- */

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

struct norm {
    size_t start; /* text offset where the value begins */
    int pending;  /* a space is owed before the next non-space byte */
};

static fg_status norm_put(struct gbuf *text, struct norm *nm, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (is_ws(s[i])) {
            nm->pending = text->len > nm->start;
            continue;
        }
        if (nm->pending)
            FG_TRY(gb_byte(text, ' '));
        nm->pending = 0;
        FG_TRY(gb_byte(text, s[i]));
    }
    return FG_OK;
}

/* ---- RFC 822 / Debian control stanza ---- */

static fg_status parse_stanza(const char *in, size_t len, struct gbuf *text, struct gbuf *offs,
                              char *err, size_t errlen)
{
    const unsigned char *s = (const unsigned char *)in;
    int state = 0; /* 0 before the stanza, 1 inside, 2 after */
    int have = 0;  /* a field is open */
    struct foff o = { 0, 0, 0, 0 };
    struct norm nm = { 0, 0 };
    for (size_t ls = 0; ls < len;) {
        const unsigned char *nl = memchr(s + ls, '\n', len - ls);
        size_t le = nl ? (size_t)(nl - s) : len, next = nl ? le + 1 : len;
        size_t i = ls;
        while (i < le && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
            i++;
        if (i == le) { /* blank line */
            if (state == 1)
                state = 2;
        } else if (s[ls] == '#') {
            /* comment line */
        } else if (state == 2) {
            return fail_fmt(err, errlen,
                            "stanza: a second stanza starts at byte %zu; give one "
                            "record at a time",
                            ls);
        } else if (s[ls] == ' ' || s[ls] == '\t') {
            if (!have)
                return fail_fmt(err, errlen,
                                "stanza: continuation line at byte %zu comes "
                                "before any field",
                                ls);
            nm.pending = text->len > nm.start; /* the line break is white space */
            FG_TRY(norm_put(text, &nm, s + ls, le - ls));
        } else {
            const unsigned char *colon = memchr(s + ls, ':', le - ls);
            if (!colon)
                return fail_fmt(err, errlen,
                                "stanza: line at byte %zu has no ':' (expected "
                                "'Field: value' or a continuation line starting with a space)",
                                ls);
            size_t ce = (size_t)(colon - s);
            if (ce == ls || s[ls] == '-')
                return fail_fmt(err, errlen,
                                "stanza: bad field name at byte %zu (empty or "
                                "starting with '-')",
                                ls);
            for (size_t q = ls; q < ce; q++)
                if (s[q] < 0x21 || s[q] > 0x7e)
                    return fail_fmt(err, errlen,
                                    "stanza: byte 0x%02x at %zu is not allowed in a "
                                    "field name (printable ASCII only, no spaces)",
                                    s[q], q);
            if (have) {
                o.val_len = text->len - o.val_off;
                FG_TRY(gb_put(offs, &o, sizeof o));
            }
            o.name_off = text->len;
            o.name_len = ce - ls;
            for (size_t q = ls; q < ce; q++) /* names are case-insensitive: store lower case */
                FG_TRY(
                    gb_byte(text, s[q] >= 'A' && s[q] <= 'Z' ? (unsigned char)(s[q] + 32) : s[q]));
            o.val_off = text->len;
            nm.start = text->len;
            nm.pending = 0;
            FG_TRY(norm_put(text, &nm, colon + 1, le - ce - 1));
            have = 1;
            state = 1;
        }
        ls = next;
    }
    if (!have)
        return fail_fmt(err, errlen, "stanza: no field found (empty input)");
    o.val_len = text->len - o.val_off;
    return gb_put(offs, &o, sizeof o);
}

/* ---- CSV (RFC 4180), one row ---- */

static size_t eol(const unsigned char *s, size_t pos, size_t len)
{
    if (pos < len && s[pos] == '\n')
        return 1;
    if (pos < len && s[pos] == '\r' && (pos + 1 == len || s[pos + 1] == '\n'))
        return pos + 1 == len ? 1 : 2;
    return 0;
}

/* Cells of one row, normalized into text; (offset, length) pairs appended to cells. */
static fg_status csv_row(const unsigned char *s, size_t len, struct gbuf *text, struct gbuf *cells,
                         const char *what, char *err, size_t errlen)
{
    size_t pos = 0;
    for (;;) {
        struct norm nm = { text->len, 0 };
        if (pos < len && s[pos] == '"') {
            pos++;
            for (;;) {
                if (pos >= len)
                    return fail_fmt(err, errlen,
                                    "CSV %s: quoted cell not closed (input ends at "
                                    "byte %zu)",
                                    what, len);
                if (s[pos] == '"') {
                    if (pos + 1 < len && s[pos + 1] == '"') {
                        FG_TRY(norm_put(text, &nm, s + pos, 1));
                        pos += 2;
                        continue;
                    }
                    pos++;
                    break;
                }
                FG_TRY(norm_put(text, &nm, s + pos, 1));
                pos++;
            }
            if (pos < len && s[pos] != ',' && !eol(s, pos, len))
                return fail_fmt(err, errlen,
                                "CSV %s: expected ',' or the end of the row after "
                                "a closing quote at byte %zu",
                                what, pos);
        } else {
            size_t st = pos;
            while (pos < len && s[pos] != ',' && !eol(s, pos, len)) {
                if (s[pos] == '"')
                    return fail_fmt(err, errlen,
                                    "CSV %s: '\"' inside an unquoted cell at byte "
                                    "%zu (quote the whole cell and double the quote)",
                                    what, pos);
                pos++;
            }
            FG_TRY(norm_put(text, &nm, s + st, pos - st));
        }
        size_t cell[2] = { nm.start, text->len - nm.start };
        FG_TRY(gb_put(cells, cell, sizeof cell));
        if (pos < len && s[pos] == ',') {
            pos++;
            continue;
        }
        pos += eol(s, pos, len);
        if (pos != len)
            return fail_fmt(err, errlen, "CSV %s: more than one row (next row at byte %zu)", what,
                            pos);
        return FG_OK;
    }
}

static fg_status parse_csv(const char *in, size_t len, const struct fg_canon_params *p,
                           struct gbuf *text, struct gbuf *offs, char *err, size_t errlen)
{
    struct gbuf hc = { NULL, 0, 0, text->a }, rc = { NULL, 0, 0, text->a };
    fg_status st = csv_row((const unsigned char *)p->csv_header, p->csv_header_len, text, &hc,
                           "header", err, errlen);
    if (st == FG_OK)
        st = csv_row((const unsigned char *)in, len, text, &rc, "row", err, errlen);
    size_t nh = hc.len / (2 * sizeof(size_t)), nr = rc.len / (2 * sizeof(size_t));
    if (st == FG_OK && nh != nr)
        st = fail_fmt(err, errlen, "CSV: the row has %zu cells but the header names %zu", nr, nh);
    const size_t *h = (const size_t *)(const void *)hc.p, *r = (const size_t *)(const void *)rc.p;
    for (size_t i = 0; st == FG_OK && i < nh; i++) {
        struct foff o = { h[2 * i], h[2 * i + 1], r[2 * i], r[2 * i + 1] };
        if (o.name_len == 0)
            st = fail_fmt(err, errlen, "CSV header: column %zu has an empty name", i + 1);
        else
            st = gb_put(offs, &o, sizeof o);
    }
    fg_free(text->a, hc.p);
    fg_free(text->a, rc.p);
    return st;
}

/* ---- public API ---- */

fg_status fg_canon_parse(enum fg_canon_kind kind, const char *in, size_t len,
                         const struct fg_canon_params *p, struct fg_canon_rec **out, char *err,
                         size_t errlen)
{
    struct fg_canon_params dp = fg_canon_params_default();
    if (!p)
        p = &dp;
    if (!out || (!in && len))
        return FG_ERR_INVALID_ARG;
    *out = NULL;
    if (kind != FG_CANON_JSON && kind != FG_CANON_STANZA && kind != FG_CANON_CSV) {
        if (err && errlen)
            snprintf(err, errlen, "canon: unknown record kind %d", (int)kind);
        return FG_ERR_INVALID_ARG;
    }
    if (kind == FG_CANON_CSV && !p->csv_header) {
        if (err && errlen)
            snprintf(err, errlen, "canon: CSV records need the header row (params.csv_header)");
        return FG_ERR_INVALID_ARG;
    }
    struct fg_allocator a = p->alloc ? *p->alloc : fg_allocator_default();
    struct gbuf text = { NULL, 0, 0, &a }, offs = { NULL, 0, 0, &a };
    struct fg_canon_rec *r = NULL;
    static const char *const names[] = { "JSON", "stanza", "CSV" };
    fg_status st = kind == FG_CANON_JSON     ? parse_json(in, len, &text, &offs, err, errlen)
                   : kind == FG_CANON_STANZA ? parse_stanza(in, len, &text, &offs, err, errlen)
                                             : parse_csv(in, len, p, &text, &offs, err, errlen);
    if (st != FG_OK)
        goto fail;
    r = fg_alloc(&a, sizeof *r, 16);
    if (!r) {
        st = FG_ERR_NOMEM;
        goto fail;
    }
    r->kind = kind;
    r->alloc = a;
    r->text = text.p;
    text.p = NULL;
    st = make_fields(&a, r->text, &offs, &r->field, &r->n_field, names[kind], err, errlen);
    if (st != FG_OK)
        goto fail;
    fg_free(&a, offs.p);
    *out = r;
    return FG_OK;
fail:
    if (st == FG_ERR_NOMEM && err && errlen)
        snprintf(err, errlen, "canon: out of memory");
    if (r) {
        fg_free(&a, r->text);
        fg_free(&a, r);
    }
    fg_free(&a, text.p);
    fg_free(&a, offs.p);
    return st;
}

void fg_canon_rec_free(struct fg_canon_rec *r)
{
    if (!r)
        return;
    struct fg_allocator a = r->alloc;
    fg_free(&a, r->field);
    fg_free(&a, r->text);
    fg_free(&a, r);
}

static void write_rec(const struct fg_canon_rec *r, struct sink *k)
{
    if (r->kind == FG_CANON_JSON) {
        write_json_object(k, r->field, r->n_field);
        return;
    }
    for (size_t i = 0; i < r->n_field; i++) {
        const struct fg_canon_field *f = &r->field[i];
        if (r->kind == FG_CANON_STANZA) {
            /* names are printable without ':' and values hold no line break: nothing to escape */
            put(k, f->name, f->name_len);
            put(k, f->value_len ? ": " : ":", f->value_len ? 2 : 1);
            put(k, f->value, f->value_len);
        } else {
            esc_kv(k, (const unsigned char *)f->name, f->name_len);
            put(k, "=", 1);
            esc_kv(k, (const unsigned char *)f->value, f->value_len);
        }
        put(k, "\n", 1);
    }
}

fg_status fg_canon_write(const struct fg_canon_rec *r, char *out, size_t cap, size_t *out_len)
{
    if (!r || !out_len || (!out && cap))
        return FG_ERR_INVALID_ARG;
    struct sink k = { out, cap, 0, NULL, NULL, FG_OK };
    write_rec(r, &k);
    *out_len = k.len;
    return k.len <= cap ? FG_OK : FG_ERR_INVALID_ARG;
}

fg_status fg_canon_record(enum fg_canon_kind kind, const char *in, size_t len,
                          const struct fg_canon_params *p, char *out, size_t cap, size_t *out_len,
                          char *err, size_t errlen)
{
    struct fg_canon_rec *r = NULL;
    FG_TRY(fg_canon_parse(kind, in, len, p, &r, err, errlen));
    fg_status st = fg_canon_write(r, out, cap, out_len);
    if (st != FG_OK && err && errlen)
        snprintf(err, errlen, "canon: the canonical form needs %zu bytes; the buffer has %zu",
                 *out_len, cap);
    fg_canon_rec_free(r);
    return st;
}

static void digest128(struct fg_sha256 *sha, uint64_t out[2])
{
    uint8_t d[32];
    fg_sha256_final(sha, d);
    for (int w = 0; w < 2; w++) {
        out[w] = 0;
        for (int b = 7; b >= 0; b--)
            out[w] = (out[w] << 8) | d[8 * w + b];
    }
}

void fg_canon_hash(const struct fg_canon_rec *r, uint64_t out[2])
{
    struct fg_sha256 sha;
    fg_sha256_init(&sha);
    struct sink k = { NULL, 0, 0, NULL, &sha, FG_OK };
    write_rec(r, &k);
    digest128(&sha, out);
}

/* Like cmp_bytes, with the key lower-cased for stanzas (whose names are stored lower case). */
static int cmp_key(const char *name, size_t nn, const char *key, size_t nk, int fold)
{
    size_t n = nn < nk ? nn : nk;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)name[i], b = (unsigned char)key[i];
        if (fold && b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return a < b ? -1 : 1;
    }
    return nn < nk ? -1 : nn > nk;
}

ptrdiff_t fg_canon_find(const struct fg_canon_rec *r, const char *name, size_t name_len)
{
    size_t lo = 0, hi = r->n_field;
    int fold = r->kind == FG_CANON_STANZA;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(r->field[mid].name, r->field[mid].name_len, name, name_len, fold);
        if (c == 0)
            return (ptrdiff_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int fg_canon_key_hash(const struct fg_canon_rec *r, const char *const *keys, size_t n_keys,
                      uint64_t out[2])
{
    struct fg_sha256 sha;
    fg_sha256_init(&sha);
    out[0] = out[1] = 0;
    for (size_t i = 0; i < n_keys; i++) {
        ptrdiff_t f = fg_canon_find(r, keys[i], strlen(keys[i]));
        if (f < 0)
            return 0;
        /* length-prefixed, so ("ab","c") and ("a","bc") hash apart */
        uint8_t n8[8];
        uint64_t n = r->field[f].value_len;
        for (int b = 0; b < 8; b++)
            n8[b] = (uint8_t)(n >> (8 * b));
        fg_sha256_update(&sha, n8, 8);
        fg_sha256_update(&sha, r->field[f].value, r->field[f].value_len);
    }
    digest128(&sha, out);
    return 1;
}

int fg_canon_keyed_equal(const struct fg_canon_rec *a, const struct fg_canon_rec *b,
                         const char *const *keys, size_t n_keys)
{
    for (size_t i = 0; i < n_keys; i++) {
        size_t kl = strlen(keys[i]);
        if (fg_canon_find(a, keys[i], kl) < 0 || fg_canon_find(b, keys[i], kl) < 0)
            return 0; /* shared values are compared below */
    }
    /* merge walk over the two sorted field lists: every shared name must agree */
    size_t i = 0, j = 0;
    while (i < a->n_field && j < b->n_field) {
        const struct fg_canon_field *x = &a->field[i], *y = &b->field[j];
        int c = cmp_bytes(x->name, x->name_len, y->name, y->name_len);
        if (c < 0) {
            i++;
        } else if (c > 0) {
            j++;
        } else {
            if (cmp_bytes(x->value, x->value_len, y->value, y->value_len) != 0)
                return 0;
            i++;
            j++;
        }
    }
    return 1;
}
