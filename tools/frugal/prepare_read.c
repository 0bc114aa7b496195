/* frugal prepare, the read stage: input files -> documents (prepare.h).
 *
 * Each input is memory-mapped read-only and never copied: a text document, a JSON line taken
 * whole (--jsonl .) or a CSV row taken whole (--csv .) is a pointer into the mapping. A decoded
 * JSON string or CSV field differs from its bytes in the file, so it is appended to the text
 * spool (an unlinked temporary file in the output directory), which is mapped once every input
 * has been read; the documents then point into that mapping. Malformed records are skipped and
 * counted with their line (fatal with --strict). Finally the document hashes (the split key)
 * are computed in parallel. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "prepare.h"

#define SPOOL_BUFFER ((size_t)1 << 20) /* stdio buffer of a spool file */

/* ---- small helpers ---------------------------------------------------------------------- */

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

static uint64_t hash64(const uint8_t d[32])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h << 8 | d[i];
    return h;
}

/* ---- spools ------------------------------------------------------------------------------ */

int spool_open(struct prep *P, struct spool *s, const char *what)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/.frugal-prepare-XXXXXX", P->o.outdir);
    int fd = mkstemp(path);
    if (fd < 0) {
        char msg[4400];
        snprintf(msg, sizeof msg, "cannot create the temporary %s file in %s", what, P->o.outdir);
        fg_errno_msg(P->err, sizeof P->err, errno, msg);
        return EXIT_FAIL;
    }
    unlink(path); /* nothing is left behind, whatever happens next */
    s->fp = fdopen(fd, "w+b");
    if (!s->fp) {
        close(fd);
        return prep_fail(P, EXIT_FAIL, "out of memory");
    }
    setvbuf(s->fp, NULL, _IOFBF, SPOOL_BUFFER);
    s->len = 0;
    return 0;
}

int spool_write(struct prep *P, struct spool *s, const void *buf, size_t len, const char *what)
{
    if (len && fwrite(buf, 1, len, s->fp) != len) {
        char msg[4400];
        snprintf(msg, sizeof msg, "writing the temporary %s file in %s failed (is there room?)",
                 what, P->o.outdir);
        fg_errno_msg(P->err, sizeof P->err, errno ? errno : EIO, msg);
        return EXIT_FAIL;
    }
    s->len += len;
    return 0;
}

/* Flush and map the whole spool (shared, so writes through a writable mapping reach the file
 * and its pages stay reclaimable). */
int spool_map(struct prep *P, struct spool *s, int writable, const char *what)
{
    char msg[4400];
    if (fflush(s->fp) != 0) {
        snprintf(msg, sizeof msg, "writing the temporary %s file in %s failed (is there room?)",
                 what, P->o.outdir);
        fg_errno_msg(P->err, sizeof P->err, errno, msg);
        return EXIT_FAIL;
    }
    if (s->len == 0)
        return 0;
    if (s->len > SIZE_MAX)
        return prep_fail(P, EXIT_FAIL, "the temporary %s file is too large to map", what);
    void *m = mmap(NULL, (size_t)s->len, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED,
                   fileno(s->fp), 0);
    if (m == MAP_FAILED) {
        snprintf(msg, sizeof msg, "cannot map the temporary %s file in %s", what, P->o.outdir);
        fg_errno_msg(P->err, sizeof P->err, errno, msg);
        return EXIT_FAIL;
    }
    s->map = m;
    s->map_len = (size_t)s->len;
    return 0;
}

void spool_close(struct spool *s)
{
    if (s->map)
        munmap(s->map, s->map_len);
    if (s->fp)
        fclose(s->fp);
    memset(s, 0, sizeof *s);
}

void prep_unmap_inputs(struct prep *P)
{
    for (size_t i = 0; P->in && i < P->n_in; i++)
        if (P->in[i].map) {
            munmap((void *)(uintptr_t)P->in[i].map, P->in[i].len);
            P->in[i].map = NULL;
        }
}

/* ---- documents and skipped records ------------------------------------------------------ */

static struct doc *new_doc(struct prep *P, size_t input, size_t len, size_t line, const char *rec,
                           size_t rec_len)
{
    if (prep_grow((void **)&P->docs, &P->cap_docs, P->n_docs + 1, sizeof *P->docs)) {
        prep_fail(P, EXIT_FAIL, "out of memory after %zu documents", P->n_docs);
        return NULL;
    }
    struct input *in = &P->in[input];
    struct doc *d = &P->docs[P->n_docs];
    memset(d, 0, sizeof *d);
    d->len = len;
    d->rec = rec;
    d->rec_len = rec_len;
    d->input = (uint32_t)input;
    d->index = in->n_docs++;
    d->line = line;
    d->dup_of = P->n_docs++;
    return d;
}

/* A document that is a piece of the input's mapping. */
static int add_doc(struct prep *P, size_t input, const char *p, size_t len, size_t line,
                   const char *rec, size_t rec_len)
{
    struct doc *d = new_doc(P, input, len, line, rec, rec_len);
    if (!d)
        return EXIT_FAIL;
    d->p = p;
    return 0;
}

/* A decoded field: appended to the text spool, made a document (blank ones are counted). */
static int add_field(struct prep *P, size_t input, const char *s, size_t n, size_t line,
                     const char *rec, size_t rec_len)
{
    if (blank(s, n)) {
        P->in[input].n_empty++;
        return 0;
    }
    if (!P->text_spool.fp && spool_open(P, &P->text_spool, "text"))
        return EXIT_FAIL;
    uint64_t off = P->text_spool.len;
    if (spool_write(P, &P->text_spool, s, n, "text"))
        return EXIT_FAIL;
    struct doc *d = new_doc(P, input, n, line, rec, rec_len);
    if (!d)
        return EXIT_FAIL;
    d->spool_off = off;
    d->spooled = 1;
    return 0;
}

int prep_skip(struct prep *P, size_t input, size_t line, size_t col, const char *fmt, ...)
{
    char why[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *path = P->in[input].path;
    if (P->o.strict) {
        if (col)
            return prep_fail(P, EXIT_FAIL,
                             "%s:%zu:%zu: %s (--strict: fix the line, or drop --strict to skip "
                             "and count such lines)",
                             path, line, col, why);
        return prep_fail(P, EXIT_FAIL,
                         "%s:%zu: %s (--strict: fix the line, or drop --strict to skip and count "
                         "such lines)",
                         path, line, why);
    }
    struct skip s = { input, line, col, "" };
    snprintf(s.why, sizeof s.why, "%s", why);
    if (P->in[input].n_bad++ == 0)
        P->in[input].first_bad = s;
    P->n_skips_total++;
    if (P->n_skips < MAX_SKIPS_KEPT) {
        if (!P->skips && !(P->skips = malloc(MAX_SKIPS_KEPT * sizeof *P->skips)))
            return prep_fail(P, EXIT_FAIL, "out of memory");
        P->skips[P->n_skips++] = s;
    }
    return 0;
}

/* ---- text -------------------------------------------------------------------------------- */

static int read_text(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    const char *b = in->map, *end = b + in->len;
    if (P->ds == DS_FILE) {
        in->n_records = 1;
        if (blank(b, in->len)) {
            in->n_empty++;
            return 0;
        }
        return add_doc(P, ii, b, in->len, 1, b, in->len);
    }
    if (P->ds == DS_STRING) {
        size_t line = 1;
        for (const char *p = b; p <= end;) {
            const char *hit = find(p, (size_t)(end - p), P->delim, P->delim_len);
            const char *e = hit ? hit : end;
            size_t n = (size_t)(e - p);
            in->n_records++;
            if (blank(p, n))
                in->n_empty++;
            else if (add_doc(P, ii, p, n, line, p, n))
                return EXIT_FAIL;
            if (!hit)
                break;
            line += count_newlines(p, n + P->delim_len);
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
            else if (add_doc(P, ii, p, (size_t)(e - p), line, p, (size_t)(e - p)))
                return EXIT_FAIL;
        } else if (!is_blank) {
            if (!para) {
                para = p;
                para_line = line;
            }
            para_end = e;
        } else if (para) {
            in->n_records++;
            size_t n = (size_t)(para_end - para);
            if (add_doc(P, ii, para, n, para_line, para, n))
                return EXIT_FAIL;
            para = NULL;
        }
        p = nl ? nl + 1 : end;
    }
    if (para) {
        in->n_records++;
        size_t n = (size_t)(para_end - para);
        return add_doc(P, ii, para, n, para_line, para, n);
    }
    return 0;
}

/* ---- JSON Lines -------------------------------------------------------------------------- */

static int read_jsonl(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    const char *b = in->map, *end = b + in->len;
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
        if (n && p[n - 1] == '\r') /* a CRLF line: the CR is not part of the record */
            n--;
        in->n_records++;
        const char *stop = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(p, n, &stop, 0);
        int rc = 0;
        if (!j) {
            const char *at = cJSON_GetErrorPtr();
            size_t col = at && at >= p && at <= e ? (size_t)(at - p) + 1 : 0;
            rc = prep_skip(P, ii, line, col, "malformed JSON");
        } else if (stop && !blank(stop, (size_t)(p + n - stop))) {
            rc = prep_skip(P, ii, line, (size_t)(stop - p) + 1,
                           "malformed JSON: text after the value");
        } else if (!cJSON_IsObject(j)) {
            rc = prep_skip(P, ii, line, 0, "not a JSON object");
        } else if (P->whole) {
            rc = add_doc(P, ii, p, n, line, p, n);
        } else {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, P->field);
            if (!f)
                rc = prep_skip(P, ii, line, 0, "no field \"%.40s\"", P->field);
            else if (!cJSON_IsString(f) || !f->valuestring)
                rc = prep_skip(P, ii, line, 0, "field \"%.40s\" is not a string", P->field);
            else
                rc = add_field(P, ii, f->valuestring, strlen(f->valuestring), line, p, n);
        }
        cJSON_Delete(j);
        if (rc)
            return rc;
        p = next;
    }
    return 0;
}

/* ---- CSV --------------------------------------------------------------------------------- */

/* A growable byte buffer for decoded CSV fields (as long as the longest field). */
struct buf {
    char *p;
    size_t len, cap;
};

static int buf_byte(struct buf *b, char c)
{
    if (b->len == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    b->p[b->len++] = c;
    return 0;
}

/* One CSV field (RFC 4180) at c->pos: quoted fields may hold commas, newlines and "" (a quote).
 * The unquoted value is appended to out (if not NULL). Returns 0 and sets *last when the record
 * ends after this field, -1 for a malformed field (an unterminated quote, or text after a
 * closing quote; then c->bad_* say where and why), -2 when out cannot grow. */
struct csv {
    const char *b;
    size_t n, pos, line, line_start;
    size_t bad_line, bad_col; /* where a malformed field is, and why */
    const char *bad_why;
};

static int csv_field(struct csv *c, struct buf *out, int *last)
{
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
            if (out && buf_byte(out, ch))
                return -2;
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
            if (out && buf_byte(out, b[c->pos]))
                return -2;
            c->pos++;
        }
    }
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

/* The length of the row text [start, end) without its line break. */
static size_t row_len(const char *b, size_t start, size_t end)
{
    if (end > start && b[end - 1] == '\n')
        end--;
    if (end > start && b[end - 1] == '\r')
        end--;
    return end - start;
}

static int read_csv_header(struct prep *P, size_t ii, struct csv *c, struct buf *val, long *col,
                           long *n_cols)
{
    struct input *in = &P->in[ii];
    char names[200] = "";
    size_t start = c->pos;
    *col = -1;
    *n_cols = 0;
    for (int last = 0; !last && c->pos < c->n;) {
        val->len = 0;
        int r = csv_field(c, val, &last);
        if (r == -2)
            return prep_fail(P, EXIT_FAIL, "out of memory reading %s", in->path);
        if (r)
            return prep_fail(P, EXIT_FAIL, "%s:%zu:%zu: malformed CSV header: %s", in->path,
                             c->bad_line, c->bad_col, c->bad_why);
        size_t len = val->len;
        if (!P->whole && len == strlen(P->field) && !memcmp(val->p, P->field, len))
            *col = *n_cols;
        size_t used = strlen(names);
        if (used + len + 3 < sizeof names)
            snprintf(names + used, sizeof names - used, "%s%.*s", *n_cols ? ", " : "", (int)len,
                     val->p);
        (*n_cols)++;
    }
    in->csv_header = c->b + start;
    in->csv_header_len = row_len(c->b, start, c->pos);
    if (*col < 0 && !P->whole)
        return prep_fail(P, EXIT_FAIL, "%s:1: no column \"%s\" in the CSV header (it has: %s)",
                         in->path, P->field, names[0] ? names : "nothing");
    return 0;
}

static int read_csv(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    struct csv c = { in->map, in->len, 0, 1, 0, 0, 0, NULL };
    if (c.n >= 3 && !memcmp(c.b, "\xEF\xBB\xBF", 3))
        c.pos = c.line_start = 3;
    struct buf val = { NULL, 0, 0 };
    long col, n_cols;
    int rc = read_csv_header(P, ii, &c, &val, &col, &n_cols);
    /* the records; the wanted field is decoded into val, then spooled as a document */
    while (!rc && c.pos < c.n) {
        if (c.b[c.pos] == '\n' ||
            (c.b[c.pos] == '\r' && c.pos + 1 < c.n && c.b[c.pos + 1] == '\n')) {
            csv_resync(&c); /* an empty line */
            continue;
        }
        size_t line = c.line, start = c.pos;
        long f = 0;
        int last = 0, bad = 0;
        val.len = 0;
        for (; !last; f++) {
            int r = csv_field(&c, f == col ? &val : NULL, &last);
            if (r == -2) {
                rc = prep_fail(P, EXIT_FAIL, "out of memory reading %s", in->path);
                break;
            }
            if (r) {
                bad = 1;
                break;
            }
        }
        if (rc)
            break;
        in->n_records++;
        size_t rl = row_len(c.b, start, c.pos);
        if (bad) {
            rc = prep_skip(P, ii, c.bad_line, c.bad_col, "malformed CSV: %s", c.bad_why);
            csv_resync(&c);
        } else if (f != n_cols) {
            rc = prep_skip(P, ii, line, 0, "record has %ld fields, the header %ld", f, n_cols);
        } else if (P->whole) {
            rc = add_doc(P, ii, c.b + start, rl, line, c.b + start, rl);
        } else {
            rc = add_field(P, ii, val.p, val.len, line, c.b + start, rl);
        }
    }
    free(val.p);
    return rc;
}

/* ---- inputs ------------------------------------------------------------------------------ */

static int map_input(struct prep *P, struct input *in)
{
    char what[4300];
    int fd = open(in->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        char msg[4400];
        snprintf(what, sizeof what, "cannot open %s", in->path);
        fg_errno_msg(msg, sizeof msg, errno, what);
        return prep_fail(P, EXIT_FAIL, "%.1300s; check the input path", msg);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return prep_fail(P, EXIT_FAIL, "%s is not a regular file; check the input path", in->path);
    }
    if (st.st_size == 0) {
        close(fd);
        return prep_fail(P, EXIT_FAIL, "%s: no documents: the file is empty", in->path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return prep_fail(P, EXIT_FAIL, "%s is too large to map", in->path);
    }
    in->len = (size_t)st.st_size;
    void *m = mmap(NULL, in->len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED) {
        char msg[4400];
        snprintf(what, sizeof what, "cannot map %s", in->path);
        fg_errno_msg(msg, sizeof msg, e, what);
        return prep_fail(P, EXIT_FAIL, "%.1300s", msg);
    }
    in->map = m;
    return 0;
}

static int read_input(struct prep *P, size_t ii)
{
    struct input *in = &P->in[ii];
    int rc = map_input(P, in);
    if (rc)
        return rc;
    /* one pass front to back: read ahead, and let the kernel drop pages behind */
    (void)posix_madvise((void *)(uintptr_t)in->map, in->len, POSIX_MADV_SEQUENTIAL);
    fg_sha256(in->map, in->len, in->sha);
    rc = P->fmt == FMT_TEXT    ? read_text(P, ii)
         : P->fmt == FMT_JSONL ? read_jsonl(P, ii)
                               : read_csv(P, ii);
    (void)posix_madvise((void *)(uintptr_t)in->map, in->len, POSIX_MADV_NORMAL);
    if (rc)
        return rc;
    if (in->n_docs == 0) {
        const char *unit = P->fmt == FMT_TEXT ? "piece" : P->fmt == FMT_JSONL ? "line" : "record";
        if (in->n_bad)
            return prep_fail(
                P, EXIT_FAIL, "%s: no documents: %zu of %zu %ss skipped, the first (line %zu: %s)",
                in->path, in->n_bad, in->n_records, unit, in->first_bad.line, in->first_bad.why);
        if ((P->fmt == FMT_TEXT && P->ds == DS_FILE) || in->n_records == 0)
            return prep_fail(P, EXIT_FAIL, "%s: no documents: %s", in->path,
                             P->fmt == FMT_CSV ? "only a header row" : "only white space");
        return prep_fail(P, EXIT_FAIL, "%s: no documents: all %zu %ss are empty or white space",
                         in->path, in->n_records, unit);
    }
    return 0;
}

/* The document hashes, in parallel: a whole file's is the file's. */
static void hash_docs(struct prep *P)
{
    long n = (long)P->n_docs;
    struct doc *docs = P->docs;
    const struct input *in = P->in;
#pragma omp parallel for schedule(dynamic, 256) num_threads(P->o.threads) default(none) \
    shared(n, docs, in)
    for (long i = 0; i < n; i++) {
        struct doc *d = &docs[i];
        const struct input *f = &in[d->input];
        uint8_t dig[32];
        if (d->p == f->map && d->len == f->len)
            memcpy(dig, f->sha, 32);
        else
            fg_sha256(d->p, d->len, dig);
        d->hash = hash64(dig);
    }
}

int prep_read_inputs(struct prep *P, const char **files, size_t n_files)
{
    P->in = calloc(n_files, sizeof *P->in);
    if (!P->in)
        return prep_fail(P, EXIT_FAIL, "out of memory");
    P->n_in = n_files;
    P->st_read = (struct stage){ "read", 1, 0, 0, 0, 0 };
    for (size_t i = 0; i < n_files; i++) {
        P->in[i].path = files[i];
        int rc = read_input(P, i);
        if (rc)
            return rc;
        P->st_read.bytes_in += P->in[i].len;
        P->st_read.docs_in += P->in[i].n_records;
    }
    /* decoded fields: map the text spool and point the documents into it */
    if (P->text_spool.fp && spool_map(P, &P->text_spool, 0, "text"))
        return EXIT_FAIL;
    const char *base = P->text_spool.map;
    for (size_t i = 0; i < P->n_docs; i++) {
        struct doc *d = &P->docs[i];
        if (d->spooled)
            d->p = base + d->spool_off;
        if (!P->rec_raw) {
            d->rec = d->p;
            d->rec_len = d->len;
        }
        P->st_read.bytes_out += d->len;
    }
    P->st_read.docs_out = P->n_docs;
    hash_docs(P);
    prep_sample_memory(P);
    return 0;
}
