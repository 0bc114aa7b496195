/* frugal canon: canonical forms of structured records, for dedup of records whose fields are
 * the same up to order (specs/data.md, "canonical records"; specs/slime.md L1, canonical-key
 * dedup).
 *
 * A record is parsed into a list of (name, value) fields sorted by name, with each name and
 * value in a canonical spelling; the canonical form is that list written out. Two records with
 * the same fields and values in any order give byte-identical canonical forms; records that
 * differ in any name or value give different forms (separators are escaped, so the writing is
 * injective). Three kinds:
 *
 *   FG_CANON_JSON    one JSON object (RFC 8259, strict: no comments, no trailing commas, no
 *                    duplicate keys at any level, nesting depth <= FG_CANON_MAX_DEPTH). The
 *                    canonical form is compact JSON (no white space) with the keys of every
 *                    object, nested ones included, sorted by the bytes of their UTF-8 form
 *                    (= code point order; note that RFC 8785 sorts by UTF-16 units instead,
 *                    which differs only above U+FFFF). Arrays keep their order. Numbers are
 *                    kept exactly as written (1.0, 1 and 1e0 stay different). Strings are
 *                    unescaped and re-escaped one way: `"` `\` as \" \\, control characters as
 *                    \b \f \n \r \t or \u00XX (lower-case hex), everything else, non-ASCII
 *                    included, as raw UTF-8 bytes; so "\u00e9" and "é" and "\/" and "/" give the
 *                    same form. Surrogate pairs are joined; a lone surrogate escape is
 *                    FG_ERR_FORMAT. Raw bytes >= 0x80 are passed through, not UTF-8-validated.
 *                    White space inside strings is kept (it is data). The canonical form is
 *                    itself a JSON object whose canonical form is itself. A field's value is
 *                    the canonical JSON text of the member's value ("x" keeps its quotes).
 *   FG_CANON_STANZA  one RFC 822-style stanza (a Debian control paragraph): `Name: value`
 *                    lines, continuation lines starting with a space or tab. Field names are
 *                    printable ASCII without ':' and not starting with '#' or '-' (Debian
 *                    policy 5.1), compared case-insensitively and written lower-cased. Lines
 *                    starting with '#' are comments and skipped; blank (or white-space-only)
 *                    lines before and after the stanza are allowed, a second stanza is not.
 *                    Values are white-space-normalized: runs of space, tab, CR and LF collapse
 *                    to one space and both ends are trimmed. This deliberately loses Debian's
 *                    paragraph structure inside multi-line fields (Description's " ." lines
 *                    become a "." word): for dedup, layout is not content. The canonical form
 *                    is the stanza `name: value\n` per field in name order (itself a stanza
 *                    whose canonical form is itself).
 *   FG_CANON_CSV     one CSV row (RFC 4180: ',' separated, '"' quoting with "" for a quote,
 *                    quoted fields may hold ',' and newlines; one trailing CRLF or LF allowed)
 *                    plus the header row given in the params, parsed the same way. Names are
 *                    the header cells, values the row cells, both white-space-normalized as
 *                    for stanzas; names are case-sensitive and must be distinct and non-empty;
 *                    the row must have exactly as many cells as the header. An empty cell is a
 *                    field with an empty value, not an absent one. The canonical form is one
 *                    `name=value\n` line per field in name order, with '\' '=' and bytes
 *                    below 0x20 in names and values escaped as \\ \= and \xHH. It is not CSV.
 *
 * Names sort by bytes (memcmp, then the shorter first). Malformed input is FG_ERR_FORMAT with a
 * message naming the byte offset and what was expected. Records of different kinds are not
 * meant to be compared with each other (a JSON value keeps its quotes, a stanza value has none).
 *
 * Keyed matching (`--record-key FIELD,...`): with key names k1..kn, two records are duplicates
 * when every key field is present in both with equal values and every field present in both
 * (key or not) has equal values; a field present in only one of them is allowed (superset
 * records: the Debian status file adds Status and Conffiles to the index's view of a package).
 * Bucket records by fg_canon_key_hash (equal key values give equal hashes), then confirm each
 * candidate pair with fg_canon_keyed_equal. The rule is not transitive (A~B and B~C need not
 * give A~C when A and C disagree on a field B lacks), so a dedup stage should compare each
 * record with the kept representatives of its bucket.
 *
 * Memory: a parsed record is one allocation of fields plus one of text, both through the
 * allocator in the params (NULL: the default), about the size of the input; JSON parsing
 * takes a temporary buffer per nested object. Everything is reentrant; a record is read-only
 * after parsing, so several threads may read one record. */
#ifndef FRUGAL_CANON_H
#define FRUGAL_CANON_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"
#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fg_canon_kind { FG_CANON_JSON = 0, FG_CANON_STANZA = 1, FG_CANON_CSV = 2 };

/* Deeper JSON nesting is FG_ERR_FORMAT (the parser is recursive). */
#define FG_CANON_MAX_DEPTH 64

struct fg_canon_params {
    const char *csv_header;           /* FG_CANON_CSV only: the header row, borrowed */
    size_t csv_header_len;            /* its length in bytes */
    const struct fg_allocator *alloc; /* NULL: the default allocator; borrowed */
};

FG_API struct fg_canon_params fg_canon_params_default(void);

/* One field of a parsed record. Names and values are canonical byte strings (JSON names may
 * hold any bytes, NUL included, from \u escapes), not NUL-terminated. */
struct fg_canon_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

struct fg_canon_rec {
    enum fg_canon_kind kind;
    size_t n_field;
    struct fg_canon_field *field; /* (n_field), sorted by name, names distinct */
    /* private */
    char *text;
    struct fg_allocator alloc;
};

/* Parses in[0..len) as one record of `kind` into *out (caller frees with fg_canon_rec_free).
 * p may be NULL for the defaults (then CSV has no header and fails). Errors: FG_ERR_FORMAT
 * (malformed input; err says where), FG_ERR_INVALID_ARG (bad kind, NULL out, CSV without a
 * header), FG_ERR_NOMEM. On error *out is NULL. err may be NULL. */
FG_API fg_status fg_canon_parse(enum fg_canon_kind kind, const char *in, size_t len,
                                const struct fg_canon_params *p, struct fg_canon_rec **out,
                                char *err, size_t errlen);

/* Frees a record from fg_canon_parse; accepts NULL. */
FG_API void fg_canon_rec_free(struct fg_canon_rec *r);

/* Writes r's canonical form into out[0..cap) and its length to *out_len (always, also when it
 * does not fit: out may be NULL with cap 0 to ask for the size). Nothing is NUL-terminated.
 * FG_ERR_INVALID_ARG when the form is longer than cap (out then holds the first cap bytes).
 * No allocation. */
FG_API fg_status fg_canon_write(const struct fg_canon_rec *r, char *out, size_t cap,
                                size_t *out_len);

/* Parse then write: the canonical form of one record, as fg_canon_parse and fg_canon_write
 * describe (allocates and frees a record; err gets the parse error or the size shortfall). */
FG_API fg_status fg_canon_record(enum fg_canon_kind kind, const char *in, size_t len,
                                 const struct fg_canon_params *p, char *out, size_t cap,
                                 size_t *out_len, char *err, size_t errlen);

/* 128-bit hash (the first 16 bytes of a SHA-256, little-endian words) of r's canonical form:
 * the exact-duplicate key for records. No allocation. */
FG_API void fg_canon_hash(const struct fg_canon_rec *r, uint64_t out[2]);

/* Index of the field named name[0..name_len) in r (case-insensitive for stanzas), or -1. */
FG_API ptrdiff_t fg_canon_find(const struct fg_canon_rec *r, const char *name, size_t name_len);

/* 128-bit hash of the values of the key fields keys[0..n_keys) (NUL-terminated names, in the
 * given order; stanza keys match case-insensitively) for bucketing under the keyed rule.
 * Returns 1 with the hash in out when r has every key field, 0 (out zeroed) when one is
 * missing: such a record is never a keyed duplicate. No allocation. */
FG_API int fg_canon_key_hash(const struct fg_canon_rec *r, const char *const *keys, size_t n_keys,
                             uint64_t out[2]);

/* 1 when a and b are duplicates under the keyed rule above (both have every key field, with
 * equal values, and every field they share has equal values), else 0. With n_keys == 0 only
 * the shared fields count. a and b should be of the same kind. No allocation. */
FG_API int fg_canon_keyed_equal(const struct fg_canon_rec *a, const struct fg_canon_rec *b,
                                const char *const *keys, size_t n_keys);

#ifdef __cplusplus
}
#endif
#endif
