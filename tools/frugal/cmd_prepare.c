/* frugal prepare: corpus files -> token shards (train.bin, val.bin) + manifest.json.
 *
 * The pipeline, each stage optional and each reported (documents and bytes in and out):
 *   read      text files (one document per file, or split at blank lines, at every line or at
 *             a literal delimiter), JSON Lines (a named string field) or CSV (RFC 4180, a named
 *             column); malformed records are skipped and counted with their line, or fatal
 *             with --strict
 *   exact     fg_dedup's normalized-hash stage      near   its MinHash-LSH stage (dedup.h)
 *   tokenize  bytes (vocabulary 256), or byte-level BPE (GPT-2's or a tokenizer.json): every
 *             document after an <|endoftext|> id
 *   split     by document hash: a document is in validation when the first 8 bytes of its
 *             SHA-256, as a big-endian integer, mod 10^6 fall below val_fraction * 10^6, so the
 *             split depends neither on input order nor on threads; or the tail of each file
 * Nothing is written until every input has been read and checked; the two shards and the
 * manifest go to temporary files that are renamed into place only when all three are complete.
 * docs/formats.md section 6 specifies the manifest. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "frugal/core.h"
#include "frugal/data.h"
#include "frugal/dedup.h"
#include "frugal/tokenizer.h"

#define MAX_SKIPS_KEPT 1000        /* skipped records listed in the manifest (all are counted) */
#define SPLIT_BUCKETS  1000000     /* the hash split compares hash mod 10^6 */
#define ENCODE_BATCH   (32u << 20) /* bytes of text per fg_tokenizer_encode_docs call */
#define MAX_VOCAB_U16  65535u
#define EMIT_BLOCK     4096 /* tokens converted per write */

enum in_format { FMT_TEXT, FMT_JSONL, FMT_CSV };

enum doc_split { DS_FILE, DS_BLANK, DS_LINE, DS_STRING };

enum split_mode { SPLIT_HASH, SPLIT_TAIL };

struct prep_opts {
    const char *outdir, *tokenizer, *vocab, *docs_split, *jsonl, *csv, *dedup, *split;
    double val_fraction, near_threshold;
    int shingle, bands, rows, threads, strict, quiet;
};

struct skip {
    size_t input, line, col; /* col 0: not known */
    char why[96];
};

/* One input file. Documents point into raw (text) or into text (decoded JSON or CSV fields). */
struct input {
    const char *path;
    char *raw; /* the file, fg_read_file (zero-terminated) */
    size_t len;
    char *text; /* decoded fields: never longer than raw, so allocated once */
    size_t text_len;
    uint8_t sha[32];
    size_t n_records, n_docs, n_empty, n_bad;
    struct skip first_bad; /* the first skipped record, when n_bad > 0 */
};

struct doc {
    const char *p;
    size_t len;
    size_t input, index, line; /* file, 0-based document number in it, 1-based line */
    uint64_t hash;             /* first 8 bytes of the SHA-256 of the document, big-endian */
};

/* A run of tokens of one kept document that goes to one shard. */
struct piece {
    size_t k, from, to;
};

struct stage {
    const char *name;
    int enabled;
    size_t docs_in, docs_out;
    uint64_t bytes_in, bytes_out;
};

struct shard_out {
    const char *name; /* "train.bin" */
    char path[4200];
    struct fg_atomic_file f;
    struct fg_sha256 sha;
    int open;
    struct piece *pieces;
    size_t n_pieces, cap_pieces, n_docs, n_tokens;
    uint64_t bytes;
    char sha_hex[65];
};

struct prep {
    struct prep_opts o;
    enum in_format fmt;
    enum doc_split ds;
    enum split_mode split;
    char *delim; /* DS_STRING, escapes resolved */
    size_t delim_len;
    const char *field;
    int dedup_exact, dedup_near;

    struct input *in;
    size_t n_in;
    struct doc *docs;
    size_t n_docs, cap_docs;
    struct skip *skips;
    size_t n_skips, n_skips_total;

    struct fg_dedup_doc *dd;
    size_t *kept; /* (n_kept) indices into docs */
    size_t n_kept;
    struct stage st_read, st_exact, st_near;

    struct fg_tokenizer *tok; /* NULL for bytes */
    int tok_json;             /* --tokenizer FILE.json */
    const char *tok_name;
    size_t n_vocab;
    char tok_file[2][4200], tok_sha[2][65];
    int n_tok_files;
    const char *sep; /* byte tokenizer: what follows every document */
    size_t sep_len;
    uint16_t *ids;     /* BPE ids of the kept documents, or NULL for bytes */
    size_t *tok_start; /* (n_kept + 1) */

    int tail_used;
    char note[320];
    struct shard_out out[2]; /* train, val */
    int json_oom;
    char err[1400];
};

/* ---- small helpers ---------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(struct prep *P, int code, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err, sizeof P->err, fmt, ap);
    va_end(ap);
    return code;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws((unsigned char)p[i]))
            return 0;
    return 1;
}

static size_t count_newlines(const char *p, size_t n)
{
    size_t c = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        c++;
        p++;
    }
    return c;
}

/* first occurrence of needle in hay, or NULL (memmem is not POSIX) */
static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
    const char *end = hay + n;
    while (m && (size_t)(end - hay) >= m) {
        const char *c = memchr(hay, needle[0], (size_t)(end - hay) - m + 1);
        if (!c)
            return NULL;
        if (!memcmp(c, needle, m))
            return c;
        hay = c + 1;
    }
    return NULL;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

static uint64_t hash64(const uint8_t d[32])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | d[i];
    return h;
}

/* ---- options ----------------------------------------------------------------------------- */

/* The literal of --docs-split STRING with \n, \t, \r and \\ resolved. */
static int parse_delim(struct prep *P, const char *s)
{
    size_t n = strlen(s);
    P->delim = malloc(n + 1);
    if (!P->delim)
        return fail(P, EXIT_FAIL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            char e = s[i + 1];
            if (e == 'n' || e == 't' || e == 'r' || e == '\\') {
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : '\\';
                i++;
            }
        }
        P->delim[k++] = c;
    }
    P->delim[k] = '\0';
    P->delim_len = k;
    return 0;
}

static int check_options(struct prep *P, int n_files)
{
    const struct prep_opts *o = &P->o;
    if (!o->outdir || n_files == 0)
        return fail(P, EXIT_USAGE,
                    "need -o DIR and at least one input FILE (see frugal prepare --help)");
    if (o->jsonl && o->csv)
        return fail(P, EXIT_USAGE, "--jsonl and --csv exclude each other: give one input format");
    P->fmt = o->jsonl ? FMT_JSONL : o->csv ? FMT_CSV : FMT_TEXT;
    P->field = o->jsonl ? o->jsonl : o->csv;
    if (o->docs_split && P->fmt != FMT_TEXT)
        return fail(P, EXIT_USAGE,
                    "--docs-split applies to text files; with --%s every %s is one document",
                    o->jsonl ? "jsonl" : "csv", o->jsonl ? "line" : "record");
    const char *ds = o->docs_split ? o->docs_split : "file";
    P->ds = !strcmp(ds, "file")    ? DS_FILE
            : !strcmp(ds, "blank") ? DS_BLANK
            : !strcmp(ds, "line")  ? DS_LINE
                                   : DS_STRING;
    if (P->ds == DS_STRING && parse_delim(P, ds))
        return EXIT_FAIL;
    /* the byte vocabulary has no end-of-text id: documents are joined by their delimiter */
    P->sep = P->fmt != FMT_TEXT   ? "\n\n"
             : P->ds == DS_BLANK  ? "\n\n"
             : P->ds == DS_LINE   ? "\n"
             : P->ds == DS_STRING ? P->delim
                                  : "";
    P->sep_len = P->ds == DS_STRING && P->fmt == FMT_TEXT ? P->delim_len : strlen(P->sep);

    char list[256];
    snprintf(list, sizeof list, "%s", o->dedup);
    if (strcmp(list, "none") != 0) {
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            if (!strcmp(t, "exact"))
                P->dedup_exact = 1;
            else if (!strcmp(t, "near"))
                P->dedup_near = 1;
            else
                return fail(P, EXIT_USAGE,
                            "unknown --dedup stage '%s' (use exact, near, exact,near or none)", t);
        }
        if (!P->dedup_exact && !P->dedup_near)
            return fail(P, EXIT_USAGE,
                        "invalid value '%s' for --dedup (use exact, near, exact,near or none)",
                        o->dedup);
    }
    if (!strcmp(o->split, "hash"))
        P->split = SPLIT_HASH;
    else if (!strcmp(o->split, "tail"))
        P->split = SPLIT_TAIL;
    else
        return fail(P, EXIT_USAGE, "unknown --split '%s' (use hash or tail)", o->split);
    if (o->near_threshold > 1.0)
        return fail(P, EXIT_USAGE, "invalid value '%g' for --near-threshold: must be in (0, 1]",
                    o->near_threshold);
    if (o->shingle > 64)
        return fail(P, EXIT_USAGE, "invalid value '%d' for --shingle: must be 1..64 words",
                    o->shingle);
    if ((long)o->bands * o->rows > 4096)
        return fail(P, EXIT_USAGE, "--bands x --rows is %ld: at most 4096 MinHash values",
                    (long)o->bands * o->rows);
    /* a tokenizer is bytes, gpt2, or a tokenizer.json (a name ending in .json, or a file) */
    const char *t = o->tokenizer;
    size_t tl = strlen(t);
    struct stat st;
    P->tok_json = strcmp(t, "bytes") != 0 && strcmp(t, "gpt2") != 0 &&
                  ((tl > 5 && !strcmp(t + tl - 5, ".json")) || stat(t, &st) == 0);
    if (strcmp(t, "bytes") != 0 && strcmp(t, "gpt2") != 0 && !P->tok_json)
        return fail(P, EXIT_USAGE, "unknown tokenizer '%s' (use bytes, gpt2 or a tokenizer.json)",
                    t);
    if (o->vocab && strcmp(t, "gpt2") != 0)
        return fail(P, EXIT_USAGE, "--vocab DIR applies to --tokenizer gpt2 only");
    return 0;
}

/* ---- tokenizer --------------------------------------------------------------------------- */


static int hash_file(struct prep *P, const char *path, char hex[65])
{
    void *buf;
    size_t len;
    char err[1024];
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK)
        return fail(P, EXIT_FAIL, "%s", err);
    uint8_t d[32];
    fg_sha256(buf, len, d);
    fg_sha256_hex(d, hex);
    fg_free(NULL, buf);
    return 0;
}

static int load_tokenizer(struct prep *P)
{
    if (!strcmp(P->o.tokenizer, "bytes")) {
        P->tok_name = "bytes";
        P->n_vocab = 256;
        return 0;
    }
    struct fg_tokenizer_params tp = fg_tokenizer_params_default();
    tp.n_threads = P->o.threads;
    char err[1200];
    fg_status st;
    if (P->tok_json) {
        snprintf(P->tok_file[0], sizeof P->tok_file[0], "%s", P->o.tokenizer);
        P->n_tok_files = 1;
        P->tok_name = "json";
        st = fg_tokenizer_load_json(&P->tok, P->tok_file[0], &tp, err, sizeof err);
    } else {
        char dir[4096];
        if (P->o.vocab)
            snprintf(dir, sizeof dir, "%s", P->o.vocab);
        else if (cli_default_vocab_dir(dir, sizeof dir) != 0)
            return fail(P, EXIT_FAIL,
                        "GPT-2's vocabulary is neither in ./data/gpt2 nor next to this binary: "
                        "give --vocab DIR (a directory holding encoder.json and vocab.bpe)");
        snprintf(P->tok_file[0], sizeof P->tok_file[0], "%s/encoder.json", dir);
        snprintf(P->tok_file[1], sizeof P->tok_file[1], "%s/vocab.bpe", dir);
        P->n_tok_files = 2;
        P->tok_name = "gpt2";
        st = fg_tokenizer_load_gpt2(&P->tok, P->tok_file[0], P->tok_file[1], &tp, err, sizeof err);
    }
    if (st != FG_OK)
        return fail(P, cli_exit_code(st), "%s", err);
    for (int i = 0; i < P->n_tok_files; i++)
        if (hash_file(P, P->tok_file[i], P->tok_sha[i]))
            return EXIT_FAIL;
    P->n_vocab = fg_tokenizer_n_vocab(P->tok);
    if (P->n_vocab > MAX_VOCAB_U16)
        return fail(P, EXIT_FAIL,
                    "tokenizer %s has %zu ids, but shards hold 16-bit ids (a vocabulary of at "
                    "most %u); the uint32 shard variant is not built yet",
                    P->o.tokenizer, P->n_vocab, MAX_VOCAB_U16);
    return 0;
}

/* ---- reading ----------------------------------------------------------------------------- */

static int add_doc(struct prep *P, size_t input, const char *p, size_t len, size_t line)
{
    if (grow((void **)&P->docs, &P->cap_docs, P->n_docs + 1, sizeof *P->docs))
        return fail(P, EXIT_FAIL, "out of memory after %zu documents", P->n_docs);
    struct input *in = &P->in[input];
    struct doc *d = &P->docs[P->n_docs++];
    d->p = p;
    d->len = len;
    d->input = input;
    d->index = in->n_docs++;
    d->line = line;
    d->hash = 0;
    return 0;
}

/* A record that cannot be used: fatal with --strict, else counted and (the first ones) kept. */
__attribute__((format(printf, 5, 6))) static int
skip_record(struct prep *P, size_t input, size_t line, size_t col, const char *fmt, ...)
{
    char why[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *path = P->in[input].path;
    if (P->o.strict) {
        if (col)
            return fail(P, EXIT_FAIL,
                        "%s:%zu:%zu: %s (--strict: fix the line, or drop --strict to skip and "
                        "count such lines)",
                        path, line, col, why);
        return fail(P, EXIT_FAIL,
                    "%s:%zu: %s (--strict: fix the line, or drop --strict to skip and count such "
                    "lines)",
                    path, line, why);
    }
    struct skip s = { input, line, col, "" };
    snprintf(s.why, sizeof s.why, "%s", why);
    if (P->in[input].n_bad++ == 0)
        P->in[input].first_bad = s;
    P->n_skips_total++;
    if (P->n_skips < MAX_SKIPS_KEPT) {
        if (!P->skips && !(P->skips = malloc(MAX_SKIPS_KEPT * sizeof *P->skips)))
            return fail(P, EXIT_FAIL, "out of memory");
        P->skips[P->n_skips++] = s;
    }
    return 0;
}

static int read_text(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    const char *b = in->raw, *end = b + in->len;
    if (P->ds == DS_FILE) {
        in->n_records = 1;
        if (blank(b, in->len)) {
            in->n_empty++;
            return 0;
        }
        return add_doc(P, ii, b, in->len, 1);
    }
    if (P->ds == DS_STRING) {
        size_t line = 1;
        for (const char *p = b; p <= end;) {
            const char *hit = find(p, (size_t)(end - p), P->delim, P->delim_len);
            const char *e = hit ? hit : end;
            in->n_records++;
            if (blank(p, (size_t)(e - p)))
                in->n_empty++;
            else if (add_doc(P, ii, p, (size_t)(e - p), line))
                return EXIT_FAIL;
            if (!hit)
                break;
            line += count_newlines(p, (size_t)(e - p) + P->delim_len);
            p = e + P->delim_len;
        }
        return 0;
    }
    /* line by line: DS_LINE takes each non-blank line, DS_BLANK each run of them */
    const char *para = NULL, *para_end = NULL;
    size_t para_line = 0, line = 1;
    for (const char *p = b; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        int is_blank = blank(p, (size_t)(e - p));
        if (P->ds == DS_LINE) {
            in->n_records++;
            if (is_blank)
                in->n_empty++;
            else if (add_doc(P, ii, p, (size_t)(e - p), line))
                return EXIT_FAIL;
        } else if (!is_blank) {
            if (!para) {
                para = p;
                para_line = line;
            }
            para_end = e;
        } else if (para) {
            in->n_records++;
            if (add_doc(P, ii, para, (size_t)(para_end - para), para_line))
                return EXIT_FAIL;
            para = NULL;
        }
        p = nl ? nl + 1 : end;
    }
    if (para) {
        in->n_records++;
        return add_doc(P, ii, para, (size_t)(para_end - para), para_line);
    }
    return 0;
}

/* Append a decoded field to the input's text buffer and make it a document. */
static int add_field(struct prep *P, size_t ii, const char *s, size_t n, size_t line)
{
    struct input *in = &P->in[ii];
    if (blank(s, n)) {
        in->n_empty++;
        return 0;
    }
    if (in->text_len + n > in->len) /* decoding never lengthens text; see read_input */
        return fail(P, EXIT_FAIL, "%s:%zu: internal error: decoded field too long", in->path, line);
    memcpy(in->text + in->text_len, s, n);
    int rc = add_doc(P, ii, in->text + in->text_len, n, line);
    in->text_len += n;
    return rc;
}

static int read_jsonl(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    const char *b = in->raw, *end = b + in->len;
    if (in->len >= 3 && !memcmp(b, "\xEF\xBB\xBF", 3)) /* a UTF-8 byte order mark */
        b += 3;
    size_t line = 1;
    for (const char *p = b; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        size_t n = (size_t)(e - p);
        const char *next = nl ? nl + 1 : end;
        if (blank(p, n)) {
            p = next;
            continue;
        }
        in->n_records++;
        const char *stop = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, n, &stop, 0);
        int rc = 0;
        if (!j) {
            const char *at = cJSON_GetErrorPtr();
            size_t col = at && at >= p && at <= e ? (size_t)(at - p) + 1 : 0;
            rc = skip_record(P, ii, line, col, "malformed JSON");
        } else if (stop && !blank(stop, (size_t)(e - stop))) {
            rc = skip_record(P, ii, line, (size_t)(stop - p) + 1,
                             "malformed JSON: text after the value");
        } else if (!cJSON_IsObject(j)) {
            rc = skip_record(P, ii, line, 0, "not a JSON object");
        } else {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, P->field);
            if (!f)
                rc = skip_record(P, ii, line, 0, "no field \"%.40s\"", P->field);
            else if (!cJSON_IsString(f) || !f->valuestring)
                rc = skip_record(P, ii, line, 0, "field \"%.40s\" is not a string", P->field);
            else
                rc = add_field(P, ii, f->valuestring, strlen(f->valuestring), line);
        }
        cJSON_Delete(j);
        if (rc)
            return rc;
        p = next;
    }
    return 0;
}

/* One CSV field (RFC 4180) at c->pos: quoted fields may hold commas, newlines and "" (a quote).
 * The unquoted value goes to out (if not NULL; at most the field's raw length). Returns 0 and
 * sets *last when the record ends after this field, or -1 for a malformed field (an unterminated
 * quote, or text after a closing quote); then c->bad_* say where and why. */
struct csv {
    const char *b;
    size_t n, pos, line, line_start;
    size_t bad_line, bad_col; /* where a malformed field is, and why */
    const char *bad_why;
};

static int csv_field(struct csv *c, char *out, size_t *out_len, int *last)
{
    size_t k = 0;
    const char *b = c->b;
    if (c->pos < c->n && b[c->pos] == '"') {
        size_t open_col = c->pos - c->line_start + 1, open_line = c->line;
        c->pos++;
        for (;;) {
            if (c->pos >= c->n) {
                c->bad_line = open_line;
                c->bad_col = open_col;
                c->bad_why = "unterminated quoted field";
                return -1;
            }
            char ch = b[c->pos++];
            if (ch == '"') {
                if (c->pos < c->n && b[c->pos] == '"')
                    c->pos++;
                else
                    break;
            } else if (ch == '\n') {
                c->line++;
                c->line_start = c->pos;
            }
            if (out)
                out[k] = ch;
            k++;
        }
        if (c->pos < c->n && b[c->pos] != ',' && b[c->pos] != '\n' &&
            !(b[c->pos] == '\r' && c->pos + 1 < c->n && b[c->pos + 1] == '\n') &&
            !(b[c->pos] == '\r' && c->pos + 1 == c->n)) {
            c->bad_line = c->line;
            c->bad_col = c->pos - c->line_start + 1;
            c->bad_why = "text after the closing quote of a field";
            return -1;
        }
    } else {
        while (c->pos < c->n && b[c->pos] != ',' && b[c->pos] != '\n' &&
               !(b[c->pos] == '\r' && (c->pos + 1 == c->n || b[c->pos + 1] == '\n'))) {
            if (out)
                out[k] = b[c->pos];
            k++;
            c->pos++;
        }
    }
    *out_len = k;
    *last = 1;
    if (c->pos < c->n && b[c->pos] == ',') {
        c->pos++;
        *last = 0;
        return 0;
    }
    if (c->pos < c->n && b[c->pos] == '\r')
        c->pos++;
    if (c->pos < c->n && b[c->pos] == '\n') {
        c->pos++;
        c->line++;
        c->line_start = c->pos;
    }
    return 0;
}

/* After a malformed field: skip to the start of the next line. */
static void csv_resync(struct csv *c)
{
    const char *nl = memchr(c->b + c->pos, '\n', c->n - c->pos);
    c->pos = nl ? (size_t)(nl - c->b) + 1 : c->n;
    c->line++;
    c->line_start = c->pos;
}

static int read_csv(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    struct csv c = { in->raw, in->len, 0, 1, 0, 0, 0, NULL };
    if (c.n >= 3 && !memcmp(c.b, "\xEF\xBB\xBF", 3))
        c.pos = c.line_start = 3;
    /* the header: find the column */
    long col = -1, n_cols = 0;
    char names[200] = "";
    for (int last = 0; !last && c.pos < c.n;) {
        size_t len = 0; /* the header's names are decoded into the (still unused) text buffer */
        if (csv_field(&c, in->text, &len, &last))
            return fail(P, EXIT_FAIL, "%s:%zu:%zu: malformed CSV header: %s", in->path, c.bad_line,
                        c.bad_col, c.bad_why);
        if (len == strlen(P->field) && !memcmp(in->text, P->field, len))
            col = n_cols;
        size_t used = strlen(names);
        if (used + len + 3 < sizeof names)
            snprintf(names + used, sizeof names - used, "%s%.*s", n_cols ? ", " : "", (int)len,
                     in->text);
        n_cols++;
    }
    if (col < 0)
        return fail(P, EXIT_FAIL, "%s:1: no column \"%s\" in the CSV header (it has: %s)", in->path,
                    P->field, names[0] ? names : "nothing");
    /* the records; the wanted field is decoded into the text buffer, then made a document */
    while (c.pos < c.n) {
        if (c.b[c.pos] == '\n' ||
            (c.b[c.pos] == '\r' && c.pos + 1 < c.n && c.b[c.pos + 1] == '\n')) {
            csv_resync(&c); /* an empty line */
            continue;
        }
        size_t line = c.line, value_len = 0;
        long f = 0;
        int last = 0, bad = 0;
        char *value = in->text + in->text_len;
        for (; !last; f++) {
            size_t len = 0;
            if (csv_field(&c, f == col ? value : NULL, &len, &last)) {
                bad = 1;
                break;
            }
            if (f == col)
                value_len = len;
        }
        in->n_records++;
        int rc = 0;
        if (bad) {
            rc = skip_record(P, ii, c.bad_line, c.bad_col, "malformed CSV: %s", c.bad_why);
            csv_resync(&c);
        } else if (f != n_cols) {
            rc = skip_record(P, ii, line, 0, "record has %ld fields, the header %ld", f, n_cols);
        } else if (blank(value, value_len)) {
            in->n_empty++;
        } else {
            rc = add_doc(P, ii, value, value_len, line);
            in->text_len += value_len;
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int read_input(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    char err[1200];
    void *buf;
    if (fg_read_file(NULL, in->path, &buf, &in->len, err, sizeof err) != FG_OK)
        return fail(P, EXIT_FAIL, "%s; check the input path", err);
    in->raw = buf;
    fg_sha256(in->raw, in->len, in->sha);
    if (in->len == 0)
        return fail(P, EXIT_FAIL, "%s: no documents: the file is empty", in->path);
    size_t first_doc = P->n_docs;
    int rc;
    if (P->fmt == FMT_TEXT) {
        rc = read_text(P, ii);
    } else {
        /* decoded JSON strings and CSV fields are never longer than their source text */
        in->text = malloc(in->len + 1);
        if (!in->text)
            return fail(P, EXIT_FAIL, "out of memory reading %s (%zu bytes)", in->path, in->len);
        rc = P->fmt == FMT_JSONL ? read_jsonl(P, ii) : read_csv(P, ii);
    }
    if (rc)
        return rc;
    if (in->n_docs == 0) {
        const char *unit = P->fmt == FMT_TEXT ? "piece" : P->fmt == FMT_JSONL ? "line" : "record";
        if (in->n_bad)
            return fail(
                P, EXIT_FAIL, "%s: no documents: %zu of %zu %ss skipped, the first (line %zu: %s)",
                in->path, in->n_bad, in->n_records, unit, in->first_bad.line, in->first_bad.why);
        if ((P->fmt == FMT_TEXT && P->ds == DS_FILE) || in->n_records == 0)
            return fail(P, EXIT_FAIL, "%s: no documents: %s", in->path,
                        P->fmt == FMT_CSV ? "only a header row" : "only white space");
        return fail(P, EXIT_FAIL, "%s: no documents: all %zu %ss are empty or white space",
                    in->path, in->n_records, unit);
    }
    /* the document hashes; a whole file's is the file's */
    for (size_t k = first_doc; k < P->n_docs; k++) {
        struct doc *d = &P->docs[k];
        uint8_t dig[32];
        if (d->p == in->raw && d->len == in->len)
            memcpy(dig, in->sha, 32);
        else
            fg_sha256(d->p, d->len, dig);
        d->hash = hash64(dig);
    }
    return 0;
}

/* ---- dedup ------------------------------------------------------------------------------- */

static int run_dedup(struct prep *P)
{
    size_t n = P->n_docs;
    uint64_t bytes = P->st_read.bytes_out;
    P->dd = calloc(n, sizeof *P->dd);
    P->kept = malloc(n * sizeof *P->kept);
    const char **ptr = malloc(n * sizeof *ptr);
    size_t *len = malloc(n * sizeof *len);
    if (!P->dd || !P->kept || !ptr || !len) {
        free(ptr);
        free(len);
        return fail(P, EXIT_FAIL, "out of memory for %zu documents", n);
    }
    for (size_t i = 0; i < n; i++) {
        ptr[i] = P->docs[i].p;
        len[i] = P->docs[i].len;
        P->dd[i].dup_of = i;
    }
    int rc = 0;
    if (P->dedup_exact || P->dedup_near) {
        struct fg_dedup_params dp = fg_dedup_params_default();
        dp.exact = P->dedup_exact;
        dp.near = P->dedup_near;
        dp.shingle = P->o.shingle;
        dp.bands = P->o.bands;
        dp.rows = P->o.rows;
        dp.threshold = P->o.near_threshold;
        dp.n_threads = P->o.threads;
        char err[256];
        fg_status st = fg_dedup(ptr, len, n, &dp, P->dd, NULL, err, sizeof err);
        if (st != FG_OK)
            rc = fail(P, cli_exit_code(st), "%s", err);
    }
    free(ptr);
    free(len);
    if (rc)
        return rc;
    struct stage *e = &P->st_exact, *nr = &P->st_near;
    e->docs_in = n;
    e->bytes_in = bytes;
    e->docs_out = n;
    e->bytes_out = bytes;
    for (size_t i = 0; i < n; i++)
        if (P->dd[i].reason == FG_DEDUP_EXACT) {
            e->docs_out--;
            e->bytes_out -= P->docs[i].len;
        }
    nr->docs_in = nr->docs_out = e->docs_out;
    nr->bytes_in = nr->bytes_out = e->bytes_out;
    for (size_t i = 0; i < n; i++)
        if (P->dd[i].reason == FG_DEDUP_NEAR) {
            nr->docs_out--;
            nr->bytes_out -= P->docs[i].len;
        }
    for (size_t i = 0; i < n; i++)
        if (P->dd[i].reason == FG_DEDUP_KEPT)
            P->kept[P->n_kept++] = i;
    return 0;
}

/* ---- tokenize ---------------------------------------------------------------------------- */

static int tokenize(struct prep *P)
{
    size_t n = P->n_kept;
    P->tok_start = malloc((n + 1) * sizeof *P->tok_start);
    if (!P->tok_start)
        return fail(P, EXIT_FAIL, "out of memory");
    P->tok_start[0] = 0;
    if (!P->tok) {
        for (size_t k = 0; k < n; k++)
            P->tok_start[k + 1] = P->tok_start[k] + P->docs[P->kept[k]].len + P->sep_len;
        return 0;
    }
    /* BPE in batches of about ENCODE_BATCH bytes: encode_docs needs a worst-case buffer of one
     * uint32 per byte; the ids are then kept as uint16 (the vocabulary was checked) */
    size_t cap_ids = 0, n_ids = 0, cap_scratch = 0;
    uint32_t *scratch = NULL;
    size_t *start = malloc((n + 1) * sizeof *start);
    const void **ptr = malloc(n * sizeof *ptr);
    size_t *len = malloc(n * sizeof *len);
    int rc = 0;
    if (!start || !ptr || !len)
        rc = fail(P, EXIT_FAIL, "out of memory");
    for (size_t k = 0; k < n && !rc; k++) {
        ptr[k] = P->docs[P->kept[k]].p;
        len[k] = P->docs[P->kept[k]].len;
    }
    for (size_t k0 = 0; k0 < n && !rc;) {
        size_t k1 = k0, bytes = 0;
        while (k1 < n && (k1 == k0 || bytes + len[k1] <= ENCODE_BATCH))
            bytes += len[k1++];
        size_t cap = bytes + (k1 - k0);
        if (grow((void **)&scratch, &cap_scratch, cap, sizeof *scratch) ||
            grow((void **)&P->ids, &cap_ids, n_ids + cap, sizeof *P->ids)) {
            rc = fail(P, EXIT_FAIL, "out of memory for the token ids of %zu bytes", bytes);
            break;
        }
        fg_status st =
            fg_tokenizer_encode_docs(P->tok, ptr + k0, len + k0, k1 - k0, FG_TOKENIZER_EOT_PREFIX,
                                     scratch, cap_scratch, start + k0);
        if (st != FG_OK) {
            rc = fail(P, cli_exit_code(st), "tokenizing: %s", fg_tokenizer_errmsg(P->tok));
            break;
        }
        size_t got = start[k1];
        for (size_t i = 0; i < got; i++)
            P->ids[n_ids + i] = (uint16_t)scratch[i];
        for (size_t k = k0; k < k1; k++)
            P->tok_start[k] = n_ids + start[k];
        n_ids += got;
        k0 = k1;
    }
    P->tok_start[n] = n_ids;
    free(scratch);
    free(start);
    free(ptr);
    free(len);
    return rc;
}

/* ---- split ------------------------------------------------------------------------------- */

static int add_piece(struct prep *P, int which, size_t k, size_t from, size_t to)
{
    struct shard_out *s = &P->out[which];
    if (from == to)
        return 0;
    if (grow((void **)&s->pieces, &s->cap_pieces, s->n_pieces + 1, sizeof *s->pieces))
        return fail(P, EXIT_FAIL, "out of memory");
    s->pieces[s->n_pieces++] = (struct piece){ k, from, to };
    s->n_docs++;
    s->n_tokens += to - from;
    return 0;
}

static void reset_split(struct prep *P)
{
    for (int w = 0; w < 2; w++)
        P->out[w].n_pieces = P->out[w].n_docs = P->out[w].n_tokens = 0;
}

/* The last floor(tokens * f) tokens of each file's kept documents go to validation. */
static int split_tail(struct prep *P)
{
    reset_split(P);
    for (size_t k0 = 0; k0 < P->n_kept;) {
        size_t input = P->docs[P->kept[k0]].input, k1 = k0;
        while (k1 < P->n_kept && P->docs[P->kept[k1]].input == input)
            k1++;
        size_t total = P->tok_start[k1] - P->tok_start[k0];
        size_t cut = P->tok_start[k0] + (total - (size_t)((double)total * P->o.val_fraction));
        for (size_t k = k0; k < k1; k++) {
            size_t a = P->tok_start[k], b = P->tok_start[k + 1];
            size_t mid = cut < a ? a : cut > b ? b : cut;
            if (add_piece(P, 0, k, 0, mid - a) || add_piece(P, 1, k, mid - a, b - a))
                return EXIT_FAIL;
        }
        k0 = k1;
    }
    return 0;
}

static int split_docs(struct prep *P)
{
    if (P->split == SPLIT_TAIL) {
        P->tail_used = 1;
        return split_tail(P);
    }
    uint64_t thr = (uint64_t)llround(P->o.val_fraction * SPLIT_BUCKETS);
    for (size_t k = 0; k < P->n_kept; k++) {
        int val = P->docs[P->kept[k]].hash % SPLIT_BUCKETS < thr;
        if (add_piece(P, val, k, 0, P->tok_start[k + 1] - P->tok_start[k]))
            return EXIT_FAIL;
    }
    /* a hash split needs several documents: one document, or a split that leaves a side empty,
     * falls back to the tail of each file (and says so) */
    const char *why = NULL;
    if (P->o.val_fraction > 0 && P->n_kept < 2)
        why = "there is only 1 document";
    else if (P->o.val_fraction > 0 && P->out[1].n_docs == 0)
        why = "no document fell into validation";
    else if (P->o.val_fraction > 0 && P->out[0].n_docs == 0)
        why = "no document fell into training";
    if (why) {
        snprintf(P->note, sizeof P->note,
                 "note: hash split: %s (of %zu after dedup); using the tail split instead: the "
                 "last %g of each file's tokens go to validation",
                 why, P->n_kept, P->o.val_fraction);
        P->tail_used = 1;
        return split_tail(P);
    }
    /* whole documents are coarse: say so when validation is far from the asked fraction */
    double got = (double)P->out[1].n_tokens / (double)(P->out[0].n_tokens + P->out[1].n_tokens);
    if (fabs(got - P->o.val_fraction) > 0.5 * P->o.val_fraction)
        snprintf(P->note, sizeof P->note,
                 "note: hash split: validation holds %.1f%% of the tokens, not %g%%: %zu "
                 "documents are too few for an even split (--docs-split or --split tail)",
                 100 * got, 100 * P->o.val_fraction, P->n_kept);
    return 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static int shard_bytes(struct prep *P, struct shard_out *s, const void *buf, size_t len)
{
    char err[1200];
    fg_sha256_update(&s->sha, buf, len);
    s->bytes += len;
    if (fg_atomic_write(&s->f, buf, len, err, sizeof err) != FG_OK)
        return fail(P, EXIT_FAIL, "%s", err);
    return 0;
}

static int write_shard(struct prep *P, struct shard_out *s)
{
    char err[1200];
    if (s->n_tokens > INT32_MAX)
        return fail(P, EXIT_FAIL,
                    "%s would hold %zu tokens, more than one shard's limit of %d (prepare the "
                    "input in several parts)",
                    s->name, s->n_tokens, INT32_MAX);
    snprintf(s->path, sizeof s->path, "%s/%s", P->o.outdir, s->name);
    if (fg_atomic_open(&s->f, s->path, err, sizeof err) != FG_OK)
        return fail(P, EXIT_FAIL, "%s (is -o %s writable?)", err, P->o.outdir);
    s->open = 1;
    fg_sha256_init(&s->sha);
    uint8_t hdr[FG_SHARD_HEADER_BYTES];
    memset(hdr, 0, sizeof hdr);
    uint32_t h[3] = { FG_SHARD_MAGIC, FG_SHARD_VERSION_U16, (uint32_t)s->n_tokens };
    for (int i = 0; i < 3; i++)
        for (int b = 0; b < 4; b++)
            hdr[4 * i + b] = (uint8_t)(h[i] >> (8 * b));
    if (shard_bytes(P, s, hdr, sizeof hdr))
        return EXIT_FAIL;
    uint8_t buf[2 * EMIT_BLOCK];
    for (size_t q = 0; q < s->n_pieces; q++) {
        const struct piece *pc = &s->pieces[q];
        const struct doc *d = &P->docs[P->kept[pc->k]];
        for (size_t j = pc->from; j < pc->to;) {
            size_t m = 0;
            for (; m < EMIT_BLOCK && j < pc->to; m++, j++) {
                unsigned v = P->tok       ? P->ids[P->tok_start[pc->k] + j]
                             : j < d->len ? (unsigned char)d->p[j]
                                          : (unsigned char)P->sep[j - d->len];
                buf[2 * m] = (uint8_t)(v & 0xFF);
                buf[2 * m + 1] = (uint8_t)(v >> 8);
            }
            if (shard_bytes(P, s, buf, 2 * m))
                return EXIT_FAIL;
        }
    }
    uint8_t dig[32];
    fg_sha256_final(&s->sha, dig);
    fg_sha256_hex(dig, s->sha_hex);
    return 0;
}

/* cJSON helpers that remember an allocation failure instead of dropping a field */
static void jnum(struct prep *P, cJSON *o, const char *k, double v)
{
    if (!cJSON_AddNumberToObject(o, k, v))
        P->json_oom = 1;
}

static void jstr(struct prep *P, cJSON *o, const char *k, const char *v)
{
    if (!(v ? cJSON_AddStringToObject(o, k, v) : cJSON_AddNullToObject(o, k)))
        P->json_oom = 1;
}

static cJSON *jobj(struct prep *P, cJSON *parent, const char *k, int array)
{
    cJSON *o = array ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!o) {
        P->json_oom = 1;
        return NULL;
    }
    if (parent && (k ? !cJSON_AddItemToObject(parent, k, o) : !cJSON_AddItemToArray(parent, o))) {
        cJSON_Delete(o);
        P->json_oom = 1;
        return NULL;
    }
    return o;
}

static void jdoc(struct prep *P, cJSON *o, size_t i)
{
    if (!o)
        return;
    const struct doc *d = &P->docs[i];
    jstr(P, o, "input", P->in[d->input].path);
    jnum(P, o, "index", (double)d->index);
    jnum(P, o, "line", (double)d->line);
}

static void jstage(struct prep *P, cJSON *arr, const struct stage *s)
{
    cJSON *o = jobj(P, arr, NULL, 0);
    if (!o)
        return;
    jstr(P, o, "stage", s->name);
    if (!cJSON_AddBoolToObject(o, "enabled", s->enabled))
        P->json_oom = 1;
    jnum(P, o, "documents_in", (double)s->docs_in);
    jnum(P, o, "bytes_in", (double)s->bytes_in);
    jnum(P, o, "documents_out", (double)s->docs_out);
    jnum(P, o, "bytes_out", (double)s->bytes_out);
}

/* Jaccard similarity of two documents' shingle sets, as the near stage measures it. */
static double doc_jaccard(const struct doc *a, const struct doc *b, int shingle)
{
    uint64_t probe; /* capacity 0: the calls only count */
    size_t na = fg_dedup_shingles(a->p, a->len, shingle, &probe, 0);
    size_t nb = fg_dedup_shingles(b->p, b->len, shingle, &probe, 0);
    uint64_t *sa = malloc((na + 1) * sizeof *sa), *sb = malloc((nb + 1) * sizeof *sb);
    double j = -1;
    if (sa && sb) {
        na = fg_dedup_shingles(a->p, a->len, shingle, sa, na + 1);
        nb = fg_dedup_shingles(b->p, b->len, shingle, sb, nb + 1);
        j = fg_dedup_jaccard(sa, na, sb, nb);
    }
    free(sa);
    free(sb);
    return j;
}

/* The manifest's lists: skipped records and removed documents (with what they duplicate). */
static void manifest_lists(struct prep *P, cJSON *root)
{
    cJSON *sk = jobj(P, root, "skipped", 1);
    for (size_t k = 0; sk && k < P->n_skips; k++) {
        const struct skip *s = &P->skips[k];
        cJSON *e = jobj(P, sk, NULL, 0);
        if (!e)
            break;
        jstr(P, e, "input", P->in[s->input].path);
        jnum(P, e, "line", (double)s->line);
        if (s->col)
            jnum(P, e, "column", (double)s->col);
        jstr(P, e, "reason", s->why);
    }
    jnum(P, root, "skipped_total", (double)P->n_skips_total);
    cJSON *rm = jobj(P, root, "removed", 1);
    for (size_t i = 0; rm && i < P->n_docs; i++) {
        const struct fg_dedup_doc *dd = &P->dd[i];
        if (dd->reason == FG_DEDUP_KEPT)
            continue;
        cJSON *e = jobj(P, rm, NULL, 0);
        if (!e)
            break;
        jdoc(P, e, i);
        jstr(P, e, "reason", dd->reason == FG_DEDUP_EXACT ? "exact" : "near");
        jdoc(P, jobj(P, e, "duplicate_of", 0), dd->dup_of);
        double jac = dd->reason == FG_DEDUP_EXACT
                         ? 1.0
                         : doc_jaccard(&P->docs[i], &P->docs[dd->dup_of], P->o.shingle);
        jnum(P, e, "jaccard", jac < 0 ? dd->jaccard : jac);
    }
}

static char *build_manifest(struct prep *P)
{
    const struct prep_opts *o = &P->o;
    cJSON *root = jobj(P, NULL, NULL, 0);
    if (!root)
        return NULL;
    jstr(P, root, "format", "frugal-prepare-manifest");
    jnum(P, root, "version", 1);
    cJSON *opt = jobj(P, root, "options", 0);
    if (opt) {
        jstr(P, opt, "input_format",
             P->fmt == FMT_TEXT    ? "text"
             : P->fmt == FMT_JSONL ? "jsonl"
                                   : "csv");
        jstr(P, opt, "field", P->field);
        jstr(P, opt, "docs_split",
             P->fmt != FMT_TEXT  ? NULL
             : P->ds == DS_FILE  ? "file"
             : P->ds == DS_BLANK ? "blank"
             : P->ds == DS_LINE  ? "line"
                                 : "string");
        jstr(P, opt, "delimiter", P->ds == DS_STRING && P->fmt == FMT_TEXT ? P->delim : NULL);
        if (!cJSON_AddBoolToObject(opt, "strict", o->strict))
            P->json_oom = 1;
        jstr(P, opt, "dedup", o->dedup);
        jnum(P, opt, "near_threshold", o->near_threshold);
        jnum(P, opt, "shingle", o->shingle);
        jnum(P, opt, "bands", o->bands);
        jnum(P, opt, "rows", o->rows);
        jstr(P, opt, "split", P->split == SPLIT_HASH ? "hash" : "tail");
        jnum(P, opt, "val_fraction", o->val_fraction);
    }
    cJSON *ins = jobj(P, root, "inputs", 1);
    for (size_t i = 0; ins && i < P->n_in; i++) {
        const struct input *in = &P->in[i];
        cJSON *e = jobj(P, ins, NULL, 0);
        if (!e)
            break;
        char hex[65];
        fg_sha256_hex(in->sha, hex);
        jstr(P, e, "path", in->path);
        jnum(P, e, "bytes", (double)in->len);
        jstr(P, e, "sha256", hex);
        jnum(P, e, "records", (double)in->n_records);
        jnum(P, e, "documents", (double)in->n_docs);
        jnum(P, e, "empty", (double)in->n_empty);
        jnum(P, e, "skipped", (double)in->n_bad);
    }
    cJSON *tk = jobj(P, root, "tokenizer", 0);
    if (tk) {
        jstr(P, tk, "name", P->tok_name);
        jnum(P, tk, "vocab_size", (double)P->n_vocab);
        if (P->tok)
            jnum(P, tk, "eot_id", fg_tokenizer_eot_id(P->tok));
        else if (!cJSON_AddNullToObject(tk, "eot_id"))
            P->json_oom = 1;
        jstr(P, tk, "separator", P->tok ? NULL : P->sep);
        cJSON *files = jobj(P, tk, "files", 1);
        for (int i = 0; files && i < P->n_tok_files; i++) {
            cJSON *e = jobj(P, files, NULL, 0);
            if (e) {
                jstr(P, e, "path", P->tok_file[i]);
                jstr(P, e, "sha256", P->tok_sha[i]);
            }
        }
    }
    cJSON *stages = jobj(P, root, "stages", 1);
    if (stages) {
        jstage(P, stages, &P->st_read);
        jstage(P, stages, &P->st_exact);
        jstage(P, stages, &P->st_near);
        cJSON *t = jobj(P, stages, NULL, 0);
        if (t) {
            jstr(P, t, "stage", "tokenize");
            jnum(P, t, "documents", (double)P->n_kept);
            jnum(P, t, "bytes_in", (double)P->st_near.bytes_out);
            jnum(P, t, "tokens_out", (double)P->tok_start[P->n_kept]);
        }
    }
    cJSON *sp = jobj(P, root, "split", 0);
    if (sp) {
        jstr(P, sp, "method", P->tail_used ? "tail" : "hash");
        jstr(P, sp, "note", P->note[0] ? P->note + 6 : NULL);
    }
    cJSON *outs = jobj(P, root, "outputs", 1);
    for (int w = 0; outs && w < 2; w++) {
        const struct shard_out *s = &P->out[w];
        cJSON *e = jobj(P, outs, NULL, 0);
        if (!e)
            break;
        jstr(P, e, "path", s->name);
        jstr(P, e, "split", w ? "val" : "train");
        jnum(P, e, "documents", (double)s->n_docs);
        jnum(P, e, "tokens", (double)s->n_tokens);
        jnum(P, e, "bytes", (double)s->bytes);
        jstr(P, e, "sha256", s->sha_hex);
    }
    manifest_lists(P, root);
    char *text = P->json_oom ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

/* mkdir -p */
static int make_dirs(struct prep *P, const char *dir)
{
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s", dir) >= (int)sizeof partial)
        return fail(P, EXIT_USAGE, "-o %.64s...: path too long", dir);
    for (char *c = partial + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            (void)mkdir(partial, 0755);
            *c = '/';
        }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        char what[4200], msg[4400];
        snprintf(what, sizeof what, "cannot create output directory %s", dir);
        fg_errno_msg(msg, sizeof msg, errno, what);
        return fail(P, EXIT_FAIL, "%.1300s", msg);
    }
    return 0;
}

/* Both shards and the manifest go to temporary files; all three are renamed into place only
 * when all three are complete. */
static int write_outputs(struct prep *P)
{
    char err[1200], mpath[4200];
    struct fg_atomic_file mf;
    int m_open = 0, rc;
    char *manifest = NULL;
    if ((rc = make_dirs(P, P->o.outdir)) != 0)
        return rc;
    if ((rc = write_shard(P, &P->out[0])) != 0 || (rc = write_shard(P, &P->out[1])) != 0)
        goto fail;
    manifest = build_manifest(P);
    if (!manifest) {
        rc = fail(P, EXIT_FAIL, "out of memory building the manifest");
        goto fail;
    }
    snprintf(mpath, sizeof mpath, "%s/manifest.json", P->o.outdir);
    if (fg_atomic_open(&mf, mpath, err, sizeof err) != FG_OK) {
        rc = fail(P, EXIT_FAIL, "%s", err);
        goto fail;
    }
    m_open = 1;
    size_t mlen = strlen(manifest);
    manifest[mlen] = '\n'; /* cJSON's buffer has room: its terminating NUL */
    if (fg_atomic_write(&mf, manifest, mlen + 1, err, sizeof err) != FG_OK) {
        rc = fail(P, EXIT_FAIL, "%s", err);
        goto fail;
    }
    for (int w = 0; w < 2; w++) {
        P->out[w].open = 0;
        if (fg_atomic_commit(&P->out[w].f, err, sizeof err) != FG_OK) {
            rc = fail(P, EXIT_FAIL, "%s", err);
            goto fail;
        }
    }
    m_open = 0;
    if (fg_atomic_commit(&mf, err, sizeof err) != FG_OK) {
        rc = fail(P, EXIT_FAIL, "%s", err);
        goto fail;
    }
    cJSON_free(manifest);
    return 0;
fail:
    for (int w = 0; w < 2; w++)
        if (P->out[w].open) {
            fg_atomic_abort(&P->out[w].f);
            P->out[w].open = 0;
        }
    if (m_open)
        fg_atomic_abort(&mf);
    cJSON_free(manifest);
    return rc;
}

/* ---- report ------------------------------------------------------------------------------ */

static void report_stage(const struct stage *s, const char *extra)
{
    if (!s->enabled) {
        fprintf(stderr, "  %-16s (off)\n", s->name);
        return;
    }
    fprintf(stderr, "  %-16s %10zu %13llu %11zu %13llu%s\n", s->name, s->docs_in,
            (unsigned long long)s->bytes_in, s->docs_out, (unsigned long long)s->bytes_out, extra);
}

static void report(const struct prep *P)
{
    size_t empty = 0;
    for (size_t i = 0; i < P->n_in; i++)
        empty += P->in[i].n_empty;
    fprintf(stderr, "frugal prepare: %zu input%s -> %s\n", P->n_in, P->n_in == 1 ? "" : "s",
            P->o.outdir);
    fprintf(stderr, "  %-16s %10s %13s %11s %13s\n", "stage", "docs in", "bytes in", "docs out",
            "bytes out");
    char extra[400] = "";
    if (P->n_skips_total || empty) {
        int n =
            snprintf(extra, sizeof extra, "   (%zu empty, %zu skipped", empty, P->n_skips_total);
        for (size_t k = 0; k < P->n_skips && k < 3 && n > 0 && (size_t)n < sizeof extra; k++)
            n += snprintf(extra + n, sizeof extra - (size_t)n, "%s%s:%zu %s", k ? "; " : ": ",
                          P->in[P->skips[k].input].path, P->skips[k].line, P->skips[k].why);
        if (n > 0 && (size_t)n < sizeof extra)
            snprintf(extra + n, sizeof extra - (size_t)n, "%s)",
                     P->n_skips_total > 3 ? "; all in manifest.json" : "");
    }
    report_stage(&P->st_read, extra);
    snprintf(extra, sizeof extra, "   (%zu removed)", P->st_exact.docs_in - P->st_exact.docs_out);
    report_stage(&P->st_exact, extra);
    snprintf(extra, sizeof extra, "   (%zu removed)", P->st_near.docs_in - P->st_near.docs_out);
    report_stage(&P->st_near, extra);
    char name[32];
    snprintf(name, sizeof name, "tokenize (%s)", P->tok_name);
    fprintf(stderr, "  %-16s %10zu %13llu %11zu %13zu tokens\n", name, P->n_kept,
            (unsigned long long)P->st_near.bytes_out, P->n_kept, P->tok_start[P->n_kept]);
    fprintf(stderr,
            "  split (%s)     train %zu documents, %zu tokens; validation %zu documents, "
            "%zu tokens\n",
            P->tail_used ? "tail" : "hash", P->out[0].n_docs, P->out[0].n_tokens, P->out[1].n_docs,
            P->out[1].n_tokens);
    if (P->note[0])
        fprintf(stderr, "%s\n", P->note);
}

/* ---- the command ------------------------------------------------------------------------- */

static void prep_free(struct prep *P)
{
    for (size_t i = 0; i < P->n_in; i++) {
        fg_free(NULL, P->in[i].raw);
        free(P->in[i].text);
    }
    free(P->in);
    free(P->docs);
    free(P->skips);
    free(P->dd);
    free(P->kept);
    free(P->ids);
    free(P->tok_start);
    free(P->delim);
    for (int w = 0; w < 2; w++)
        free(P->out[w].pieces);
    fg_tokenizer_free(P->tok);
}

static int run(struct prep *P, const char **files, int n_files)
{
    int rc;
    if ((rc = check_options(P, n_files)) != 0 || (rc = load_tokenizer(P)) != 0)
        return rc;
    P->in = calloc((size_t)n_files, sizeof *P->in);
    if (!P->in)
        return fail(P, EXIT_FAIL, "out of memory");
    P->n_in = (size_t)n_files;
    P->st_read = (struct stage){ "read", 1, 0, 0, 0, 0 };
    for (size_t i = 0; i < P->n_in; i++) {
        P->in[i].path = files[i];
        if ((rc = read_input(P, i)) != 0)
            return rc;
        P->st_read.bytes_in += P->in[i].len;
        P->st_read.docs_in += P->in[i].n_records;
    }
    P->st_read.docs_out = P->n_docs;
    for (size_t i = 0; i < P->n_docs; i++)
        P->st_read.bytes_out += P->docs[i].len;
    P->st_exact = (struct stage){ "exact dedup", P->dedup_exact, 0, 0, 0, 0 };
    P->st_near = (struct stage){ "near dedup", P->dedup_near, 0, 0, 0, 0 };
    if ((rc = run_dedup(P)) != 0 || (rc = tokenize(P)) != 0 || (rc = split_docs(P)) != 0)
        return rc;
    P->out[0].name = "train.bin";
    P->out[1].name = "val.bin";
    if ((rc = write_outputs(P)) != 0)
        return rc;
    for (int w = 0; w < 2; w++)
        printf("%s: %zu tokens\n", P->out[w].path, P->out[w].n_tokens);
    printf("%s/manifest.json\n", P->o.outdir);
    if (!P->o.quiet)
        report(P);
    return 0;
}

int cmd_prepare(int argc, char **argv)
{
    struct prep *P = calloc(1, sizeof *P);
    const char **files = malloc((size_t)argc * sizeof *files);
    if (!P || !files) {
        free(P);
        free(files);
        fprintf(stderr, "frugal prepare: out of memory\n");
        return EXIT_FAIL;
    }
    struct prep_opts *o = &P->o;
    *o = (struct prep_opts){ .tokenizer = "bytes",
                             .dedup = "exact,near",
                             .split = "hash",
                             .val_fraction = 0.1,
                             .near_threshold = 0.7,
                             .shingle = 5,
                             .bands = 14,
                             .rows = 8,
                             .threads = fg_cpu_count() };
    struct opt opts[] = {
        { "-o", OPT_STR, &o->outdir, "DIR",
          "output directory (created with its parents if missing) [required]", 0, 0, 0, 0 },
        { "--docs-split", OPT_STR, &o->docs_split, "HOW",
          "text: file, blank (paragraphs), line or a delimiter (\\n \\t escapes) [file]", 0, 0, 0,
          0 },
        { "--jsonl", OPT_STR, &o->jsonl, "FIELD",
          "inputs are JSON Lines; each object's string FIELD is a document", 0, 0, 0, 0 },
        { "--csv", OPT_STR, &o->csv, "FIELD",
          "inputs are CSV (RFC 4180) with a header row; column FIELD is a document", 0, 0, 0, 0 },
        { "--strict", OPT_FLAG, &o->strict, NULL,
          "a malformed JSON line or CSV record is fatal (default: skipped and counted)", 0, 0, 0,
          0 },
        { "--dedup", OPT_STR, &o->dedup, "STAGES", "exact,near, exact, near or none [exact,near]",
          0, 0, 0, 0 },
        { "--near-threshold", OPT_DOUBLE, &o->near_threshold, "J",
          "near duplicates: verified Jaccard similarity at least J, 0 < J <= 1 [0.7]", 0, 1, 0, 0 },
        { "--shingle", OPT_INT, &o->shingle, "N", "near: words per shingle, 1..64 [5]", 1, 0, 0,
          0 },
        { "--bands", OPT_INT, &o->bands, "B", "near: LSH bands [14]", 1, 0, 0, 0 },
        { "--rows", OPT_INT, &o->rows, "R", "near: MinHash values per band [8]", 1, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &o->tokenizer, "NAME",
          "bytes (256 ids), gpt2 (50257) or a tokenizer.json [bytes]", 0, 0, 0, 0 },
        { "--vocab", OPT_STR, &o->vocab, "DIR",
          "gpt2: directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--split", OPT_STR, &o->split, "HOW",
          "hash (by document, order-independent) or tail (the end of each file) [hash]", 0, 0, 0,
          0 },
        { "--val-fraction", OPT_DOUBLE, &o->val_fraction, "F",
          "fraction for validation, 0 <= F < 1 [0.1]", 0, 0, 0, 1 },
        { "--threads", OPT_INT, &o->threads, "N", "threads for dedup and BPE [all cores]", 1, 0, 0,
          0 },
        { "--quiet", OPT_FLAG, &o->quiet, NULL, "no stage report on stderr", 0, 0, 0, 0 },
    };
    int n_files,
        rc = cli_parse(
            argc, argv, 2, opts, sizeof opts / sizeof opts[0], "prepare",
            "-o DIR [options] FILE...",
            "Turn text files, JSON Lines or CSV into llm.c-layout token shards DIR/train.bin\n"
            "and DIR/val.bin plus DIR/manifest.json (inputs with sha256, documents and bytes\n"
            "of every stage, every removed duplicate and the document it duplicates).\n"
            "Stages: read -> exact dedup -> near-duplicate dedup (MinHash) -> tokenize -> split.\n"
            "A document goes to validation when its SHA-256 (first 8 bytes) mod 10^6 is below\n"
            "F * 10^6; with a single document the split falls back to the tail of the file.\n"
            "Malformed JSON lines and CSV records are skipped and counted unless --strict.",
            files, argc, &n_files);
    if (rc == 0)
        rc = run(P, files, n_files);
    else if (rc < 0)
        rc = EXIT_OK;
    if (rc && P->err[0])
        fprintf(stderr, "frugal prepare: %s\n", P->err);
    prep_free(P);
    free(P);
    free(files);
    return rc;
}
