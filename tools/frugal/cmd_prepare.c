/* frugal prepare: corpus files -> token shards (train.bin, val.bin) + manifest.json.
 *
 * The pipeline, each stage optional and each reported (documents and bytes in and out):
 *   read      text files (one document per file, or split at blank lines, at every line or at
 *             a literal delimiter), JSON Lines (a named string field, or the whole line) or CSV
 *             (RFC 4180, a named column, or the whole row); malformed records are skipped and
 *             counted with their line, or fatal with --strict          (prepare_read.c)
 *   records   canonical records: JSON objects, RFC 822 stanzas or CSV rows equal up to field
 *             order (or, with --record-key, equal keys and shared values) (prepare_dedup.c)
 *   exact     fg_dedup's normalized-hash stage      near   its MinHash-LSH stage (dedup.h)
 *   tokenize  bytes (vocabulary 256), or byte-level BPE (GPT-2's or a tokenizer.json): every
 *             document after an <|endoftext|> id                       (prepare_write.c)
 *   substr    exact-substring dedup over the token ids (substr.h)      (prepare_dedup.c)
 *   split     by document hash: a document is in validation when the first 8 bytes of its
 *             SHA-256, as a big-endian integer, mod 10^6 fall below val_fraction * 10^6, so the
 *             split depends neither on input order nor on threads; or the tail of each file
 * Memory holds per-document metadata, not documents (prepare.h says how). The two shards and
 * the manifest go to temporary files that are renamed into place only when all three are
 * complete. docs/formats.md section 6 specifies the manifest. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "frugal/core.h"
#include "frugal/data.h"
#include "frugal/dedup.h"
#include "frugal/tokenizer.h"
#include "prepare.h"

/* ---- small helpers ---------------------------------------------------------------------- */

int prep_fail(struct prep *P, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err, sizeof P->err, fmt, ap);
    va_end(ap);
    return code;
}

int prep_grow(void **p, size_t *cap, size_t need, size_t elem)
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

/* The process's anonymous resident memory in bytes (RssAnon of /proc/self/status: heap and
 * other private memory, not the page cache behind the mapped inputs and spools), 0 if unknown. */
static uint64_t rss_anon(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    char line[256];
    uint64_t v = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (sscanf(line, "RssAnon: %llu kB", &kb) == 1) {
            v = (uint64_t)kb * 1024;
            break;
        }
    }
    fclose(f);
    return v;
}

void prep_sample_memory(struct prep *P)
{
    uint64_t v = rss_anon();
    pthread_mutex_lock(&P->mem_lock);
    if (v > P->peak_anon)
        P->peak_anon = v;
    pthread_mutex_unlock(&P->mem_lock);
}

/* The sampler thread: RssAnon every MEM_SAMPLE_NS, so the recorded peak also sees what the
 * libraries allocate inside a stage (it can still miss a peak shorter than the period). */
#define MEM_SAMPLE_NS 5000000L

static void *mem_sampler(void *arg)
{
    struct prep *P = arg;
    const struct timespec period = { 0, MEM_SAMPLE_NS };
    for (;;) {
        prep_sample_memory(P);
        pthread_mutex_lock(&P->mem_lock);
        int stop = P->mem_stop;
        pthread_mutex_unlock(&P->mem_lock);
        if (stop)
            return NULL;
        nanosleep(&period, NULL);
    }
}

void prep_memory_stop(struct prep *P)
{
    if (!P->mem_running)
        return;
    pthread_mutex_lock(&P->mem_lock);
    P->mem_stop = 1;
    pthread_mutex_unlock(&P->mem_lock);
    pthread_join(P->mem_thread, NULL);
    P->mem_running = 0;
    prep_sample_memory(P);
}

/* Heap bytes per document: what lives through the whole run, struct doc (80), the kept list
 * (8), the token offsets (8) and the split's pieces (24), plus the largest of the stages'
 * transient arrays: the dedup library's output, pointers and lengths (40) and, inside it, 24
 * for exact alone or bands x 8 + 56 for near (band keys, union-find parents, a sort entry and
 * its radix-sort copy);
 * records' hashes, status and sort entry (57); substr's pointers and lengths (16; its suffix
 * array counts per token). Measured with 200,000 one-line documents at the defaults: 280
 * bytes per document above the process's baseline with 14 bands, against 328 here (616 with
 * the 50-band default). */
size_t prep_bytes_per_doc(const struct prep *P)
{
    size_t dedup = P->dedup_near ? 40 + 8 * (size_t)P->o.bands + 56 : P->dedup_exact ? 40 + 24 : 0;
    size_t stage = dedup;
    if (P->dedup_records && 57 > stage)
        stage = 57;
    if (P->dedup_substr && 16 > stage)
        stage = 16;
    return 80 + 8 + 8 + 24 + stage;
}

/* ---- options ----------------------------------------------------------------------------- */

/* The literal of --docs-split STRING with \n, \t, \r and \\ resolved. */
static int parse_delim(struct prep *P, const char *s)
{
    size_t n = strlen(s);
    P->delim = malloc(n + 1);
    if (!P->delim)
        return prep_fail(P, EXIT_FAIL, "out of memory");
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

static int parse_dedup(struct prep *P)
{
    const char *v = P->o.dedup;
    if (!strcmp(v, "none"))
        return 0;
    char list[256];
    if (snprintf(list, sizeof list, "%s", v) >= (int)sizeof list)
        return prep_fail(P, EXIT_USAGE, "--dedup '%.40s...' is too long", v);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int *flag = !strcmp(t, "exact")     ? &P->dedup_exact
                    : !strcmp(t, "near")    ? &P->dedup_near
                    : !strcmp(t, "records") ? &P->dedup_records
                    : !strcmp(t, "substr")  ? &P->dedup_substr
                                            : NULL;
        if (!flag)
            return prep_fail(P, EXIT_USAGE,
                             "unknown --dedup stage '%s' (use a comma list of records, exact, "
                             "near and substr, or none)",
                             t);
        *flag = 1;
    }
    if (!P->dedup_exact && !P->dedup_near && !P->dedup_records && !P->dedup_substr)
        return prep_fail(P, EXIT_USAGE,
                         "invalid value '%s' for --dedup (use a comma list of records, exact, "
                         "near and substr, or none)",
                         v);
    return 0;
}

/* --records and --record-key (both imply the records stage). */
static int parse_records(struct prep *P)
{
    const struct prep_opts *o = &P->o;
    if ((o->records || o->record_key) && !strcmp(o->dedup, "none"))
        return prep_fail(P, EXIT_USAGE,
                         "--%s needs the records stage, but --dedup none turns every stage off "
                         "(use --dedup records)",
                         o->record_key ? "record-key" : "records");
    if (o->records || o->record_key)
        P->dedup_records = 1;
    const char *r = o->records ? o->records : "auto";
    if (!strcmp(r, "auto"))
        P->rec_kind = P->fmt == FMT_JSONL ? FG_CANON_JSON
                      : P->fmt == FMT_CSV ? FG_CANON_CSV
                                          : FG_CANON_STANZA;
    else if (!strcmp(r, "json"))
        P->rec_kind = FG_CANON_JSON;
    else if (!strcmp(r, "stanza"))
        P->rec_kind = FG_CANON_STANZA;
    else if (!strcmp(r, "csv"))
        P->rec_kind = FG_CANON_CSV;
    else
        return prep_fail(P, EXIT_USAGE, "unknown --records '%s' (use json, stanza, csv or auto)",
                         r);
    if (P->rec_kind == FG_CANON_CSV && P->fmt != FMT_CSV)
        return prep_fail(P, EXIT_USAGE,
                         "--records csv needs --csv inputs (their header row names the fields)");
    P->rec_raw = (P->rec_kind == FG_CANON_JSON && P->fmt == FMT_JSONL) ||
                 (P->rec_kind == FG_CANON_CSV && P->fmt == FMT_CSV);
    if (!o->record_key)
        return 0;
    P->key_buf = malloc(strlen(o->record_key) + 1);
    if (!P->key_buf)
        return prep_fail(P, EXIT_FAIL, "out of memory");
    strcpy(P->key_buf, o->record_key);
    for (char *k = P->key_buf;;) {
        char *comma = strchr(k, ',');
        if (comma)
            *comma = '\0';
        if (!*k)
            return prep_fail(P, EXIT_USAGE,
                             "--record-key '%s' has an empty field name (give FIELD,FIELD,...)",
                             o->record_key);
        if (P->n_keys == MAX_RECORD_KEYS)
            return prep_fail(P, EXIT_USAGE, "--record-key names more than %d fields",
                             MAX_RECORD_KEYS);
        P->keys[P->n_keys++] = k;
        if (!comma)
            break;
        k = comma + 1;
    }
    return 0;
}

static int check_options(struct prep *P, int n_files)
{
    const struct prep_opts *o = &P->o;
    if (!o->outdir || n_files == 0)
        return prep_fail(P, EXIT_USAGE,
                         "need -o DIR and at least one input FILE (see frugal prepare --help)");
    if (o->jsonl && o->csv)
        return prep_fail(P, EXIT_USAGE,
                         "--jsonl and --csv exclude each other: give one input format");
    P->fmt = o->jsonl ? FMT_JSONL : o->csv ? FMT_CSV : FMT_TEXT;
    P->field = o->jsonl ? o->jsonl : o->csv;
    P->whole = P->field && !strcmp(P->field, ".");
    if (o->docs_split && P->fmt != FMT_TEXT)
        return prep_fail(P, EXIT_USAGE,
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
    int rc = parse_dedup(P);
    if (rc || (rc = parse_records(P)) != 0)
        return rc;
    if (!strcmp(o->split, "hash"))
        P->split = SPLIT_HASH;
    else if (!strcmp(o->split, "tail"))
        P->split = SPLIT_TAIL;
    else
        return prep_fail(P, EXIT_USAGE, "unknown --split '%s' (use hash or tail)", o->split);
    if (o->near_threshold > 1.0)
        return prep_fail(P, EXIT_USAGE,
                         "invalid value '%g' for --near-threshold: must be in (0, 1]",
                         o->near_threshold);
    if (o->shingle > 64)
        return prep_fail(P, EXIT_USAGE, "invalid value '%d' for --shingle: must be 1..64 words",
                         o->shingle);
    if ((long)o->bands * o->rows > 4096)
        return prep_fail(P, EXIT_USAGE, "--bands x --rows is %ld: at most 4096 MinHash values",
                         (long)o->bands * o->rows);
    /* a tokenizer is bytes, gpt2, or a tokenizer.json (a name ending in .json, or a file) */
    const char *t = o->tokenizer;
    size_t tl = strlen(t);
    struct stat st;
    P->tok_json = strcmp(t, "bytes") != 0 && strcmp(t, "gpt2") != 0 &&
                  ((tl > 5 && !strcmp(t + tl - 5, ".json")) || stat(t, &st) == 0);
    if (strcmp(t, "bytes") != 0 && strcmp(t, "gpt2") != 0 && !P->tok_json)
        return prep_fail(P, EXIT_USAGE,
                         "unknown tokenizer '%s' (use bytes, gpt2 or a tokenizer.json)", t);
    if (o->vocab && strcmp(t, "gpt2") != 0)
        return prep_fail(P, EXIT_USAGE, "--vocab DIR applies to --tokenizer gpt2 only");
    return 0;
}

/* ---- tokenizer --------------------------------------------------------------------------- */

static int hash_file(struct prep *P, const char *path, char hex[65])
{
    void *buf;
    size_t len;
    char err[1024];
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK)
        return prep_fail(P, EXIT_FAIL, "%s", err);
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
        P->width = 2;
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
            return prep_fail(P, EXIT_FAIL,
                             "GPT-2's vocabulary is neither in ./data/gpt2 nor next to this "
                             "binary: give --vocab DIR (a directory holding encoder.json and "
                             "vocab.bpe)");
        snprintf(P->tok_file[0], sizeof P->tok_file[0], "%s/encoder.json", dir);
        snprintf(P->tok_file[1], sizeof P->tok_file[1], "%s/vocab.bpe", dir);
        P->n_tok_files = 2;
        P->tok_name = "gpt2";
        st = fg_tokenizer_load_gpt2(&P->tok, P->tok_file[0], P->tok_file[1], &tp, err, sizeof err);
    }
    if (st != FG_OK)
        return prep_fail(P, cli_exit_code(st), "%s", err);
    for (int i = 0; i < P->n_tok_files; i++)
        if (hash_file(P, P->tok_file[i], P->tok_sha[i]))
            return EXIT_FAIL;
    P->n_vocab = fg_tokenizer_n_vocab(P->tok);
    if (P->n_vocab > INT32_MAX)
        return prep_fail(P, EXIT_FAIL, "tokenizer %s has %zu ids; shards hold ids below 2^31",
                         P->o.tokenizer, P->n_vocab);
    P->width = fg_shard_token_bytes_for_vocab(P->n_vocab);
    return 0;
}

/* ---- the output directory ---------------------------------------------------------------- */

static void note_made(struct prep *P, const char *dir)
{
    if (P->n_made_dirs < (int)(sizeof P->made_dirs / sizeof P->made_dirs[0]))
        snprintf(P->made_dirs[P->n_made_dirs++], sizeof P->made_dirs[0], "%s", dir);
}

/* mkdir -p, remembering what it created (the spools live in DIR, so it is made first) */
static int make_dirs(struct prep *P, const char *dir)
{
    char partial[4096];
    if (snprintf(partial, sizeof partial, "%s", dir) >= (int)sizeof partial)
        return prep_fail(P, EXIT_USAGE, "-o %.64s...: path too long", dir);
    for (char *c = partial + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(partial, 0755) == 0)
                note_made(P, partial);
            *c = '/';
        }
    if (mkdir(dir, 0755) == 0) {
        note_made(P, dir);
    } else if (errno != EEXIST) {
        char what[4200], msg[4400];
        snprintf(what, sizeof what, "cannot create output directory %s", dir);
        fg_errno_msg(msg, sizeof msg, errno, what);
        return prep_fail(P, EXIT_FAIL, "%.1300s", msg);
    }
    return 0;
}

/* After a failure: remove the (empty) directories this run created, deepest first. */
static void unmake_dirs(struct prep *P)
{
    for (int i = P->n_made_dirs - 1; i >= 0; i--)
        (void)rmdir(P->made_dirs[i]);
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

/* " (N empty, N skipped: the first three)" for the read stage (from = 0, the skips before
 * the records stage) or the records stage (its own). */
static void skips_note(const struct prep *P, char *extra, size_t cap, int records)
{
    size_t empty = 0, n_read = P->n_skips_total - P->n_not_record;
    for (size_t i = 0; i < P->n_in && !records; i++)
        empty += P->in[i].n_empty;
    size_t from = records ? n_read : 0, total = records ? P->n_not_record : n_read;
    int n = records ? snprintf(extra, cap, "   (%zu removed, %zu not records",
                               P->st_records.docs_in - P->st_records.docs_out - P->n_not_record,
                               P->n_not_record)
                    : snprintf(extra, cap, "   (%zu empty, %zu skipped", empty, total);
    if (!records && !total && !empty) {
        extra[0] = '\0';
        return;
    }
    for (size_t k = from;
         k < P->n_skips && k < from + 3 && k < from + total && n > 0 && (size_t)n < cap; k++)
        n += snprintf(extra + n, cap - (size_t)n, "%s%s:%zu %s", k > from ? "; " : ": ",
                      P->in[P->skips[k].input].path, P->skips[k].line, P->skips[k].why);
    if (n > 0 && (size_t)n < cap)
        snprintf(extra + n, cap - (size_t)n, "%s)", total > 3 ? "; all in manifest.json" : "");
}

static void report(const struct prep *P)
{
    fprintf(stderr, "frugal prepare: %zu input%s -> %s\n", P->n_in, P->n_in == 1 ? "" : "s",
            P->o.outdir);
    fprintf(stderr, "  %-16s %10s %13s %11s %13s\n", "stage", "docs in", "bytes in", "docs out",
            "bytes out");
    char extra[800];
    skips_note(P, extra, sizeof extra, 0);
    report_stage(&P->st_read, extra);
    skips_note(P, extra, sizeof extra, 1);
    report_stage(&P->st_records, extra);
    snprintf(extra, sizeof extra, "   (%zu removed)", P->st_exact.docs_in - P->st_exact.docs_out);
    report_stage(&P->st_exact, extra);
    snprintf(extra, sizeof extra, "   (%zu removed)", P->st_near.docs_in - P->st_near.docs_out);
    report_stage(&P->st_near, extra);
    char name[32];
    snprintf(name, sizeof name, "tokenize (%s)", P->tok_name);
    fprintf(stderr, "  %-16s %10zu %13llu %11zu %13llu tokens\n", name, P->n_kept,
            (unsigned long long)P->st_near.bytes_out, P->n_kept,
            (unsigned long long)P->tokens_tokenized);
    const struct substr_result *x = P->sub;
    if (!x)
        fprintf(stderr, "  %-16s (off)\n", "substr dedup");
    else
        fprintf(stderr,
                "  %-16s %10zu %13llu %11zu %13llu tokens   (%zu spans, %llu tokens removed, "
                "%zu documents emptied)\n",
                "substr dedup", x->docs_in, (unsigned long long)x->tokens_in,
                x->docs_in - x->docs_dropped, (unsigned long long)x->tokens_out, x->stats.spans,
                (unsigned long long)x->stats.tokens_removed, x->docs_dropped);
    fprintf(stderr,
            "  split (%s)     train %zu documents, %zu tokens; validation %zu documents, "
            "%zu tokens\n",
            P->tail_used ? "tail" : "hash", P->out[0].n_docs, P->out[0].n_tokens, P->out[1].n_docs,
            P->out[1].n_tokens);
    fprintf(stderr, "  memory           peak %.1f MB resident, %.1f MB of it anonymous\n",
            (double)fg_peak_rss_bytes() / 1e6, (double)P->peak_anon / 1e6);
    if (P->note[0])
        fprintf(stderr, "%s\n", P->note);
}

/* ---- the command ------------------------------------------------------------------------- */

static void prep_free(struct prep *P)
{
    prep_memory_stop(P);
    if (P->mem_lock_ok)
        pthread_mutex_destroy(&P->mem_lock);
    spool_close(&P->text_spool);
    spool_close(&P->tok_spool);
    prep_unmap_inputs(P);
    free(P->in);
    free(P->docs);
    free(P->skips);
    free(P->kept);
    free(P->tok_start);
    free(P->sub);
    free(P->delim);
    free(P->key_buf);
    for (int w = 0; w < 2; w++)
        free(P->out[w].pieces);
    fg_tokenizer_free(P->tok);
}

static int run(struct prep *P, const char **files, int n_files)
{
    int rc;
    if (pthread_mutex_init(&P->mem_lock, NULL) != 0)
        return prep_fail(P, EXIT_FAIL, "cannot initialize a mutex");
    P->mem_lock_ok = 1;
    P->mem_running = pthread_create(&P->mem_thread, NULL, mem_sampler, P) == 0;
    if ((rc = check_options(P, n_files)) != 0 || (rc = load_tokenizer(P)) != 0 ||
        (rc = make_dirs(P, P->o.outdir)) != 0)
        return rc;
    if ((rc = prep_read_inputs(P, files, (size_t)n_files)) != 0 || (rc = prep_records(P)) != 0 ||
        (rc = prep_dedup(P)) != 0 || (rc = prep_tokenize(P)) != 0 || (rc = prep_substr(P)) != 0 ||
        (rc = prep_split(P)) != 0 || (rc = prep_write_outputs(P)) != 0)
        return rc;
    for (int w = 0; w < 2; w++)
        printf("%s: %zu tokens\n", P->out[w].path, P->out[w].n_tokens);
    printf("%s/manifest.json\n", P->o.outdir);
    if (!P->o.quiet)
        report(P);
    return 0;
}

static const char ABOUT[] =
    "Turn text files, JSON Lines or CSV into llm.c-layout token shards DIR/train.bin\n"
    "and DIR/val.bin plus DIR/manifest.json (inputs with sha256, documents and bytes\n"
    "of every stage, every removed duplicate and the document it duplicates).\n"
    "\n"
    "stages (in this order; --dedup picks any of records, exact, near, substr):\n"
    "  read      text: one document per file, or --docs-split blank|line|STRING;\n"
    "            --jsonl FIELD / --csv FIELD: a string field or column is a document,\n"
    "            FIELD '.' takes the whole line or row. Malformed lines are skipped\n"
    "            and counted (fatal with --strict).\n"
    "  records   canonical records: JSON objects, RFC 822 stanzas (Debian control\n"
    "            data) or CSV rows with the same fields in any order (values\n"
    "            white-space-normalized) are duplicates; the first is kept. The\n"
    "            record is the whole JSON line (--jsonl), header + row (--csv) or the\n"
    "            text document as a stanza (use --docs-split blank); --records says\n"
    "            otherwise. --record-key F,... also collapses records with equal F\n"
    "            values whose shared fields agree, when one has extra fields.\n"
    "              frugal prepare -o out --dedup records --docs-split blank Packages\n"
    "              frugal prepare -o out --record-key Package,Version,Architecture \\\n"
    "                  --docs-split blank Packages status control.txt\n"
    "              frugal prepare -o out --jsonl . --dedup records,exact rows.jsonl\n"
    "  exact     equal documents after white-space normalization (the first kept)\n"
    "  near      MinHash LSH over word shingles, verified by exact Jaccard\n"
    "  tokenize  bytes (256 ids), gpt2 or a tokenizer.json; uint32 shards (llm.c's\n"
    "            20240801 layout) when the vocabulary exceeds 65,535 ids\n"
    "  substr    exact substrings (Lee et al. 2021): token spans of at least\n"
    "            --substr-min ids that occur in an earlier document are cut out;\n"
    "            a document left empty is dropped. Holds all token ids in memory.\n"
    "              frugal prepare -o out --tokenizer gpt2 --dedup exact,substr *.txt\n"
    "  split     a document goes to validation when its SHA-256 (first 8 bytes) mod\n"
    "            10^6 is below F * 10^6 (or --split tail: the end of each file)\n"
    "\n"
    "memory: inputs are memory-mapped, and decoded text and token ids are spooled to\n"
    "files in DIR that are unlinked at once, so inputs larger than RAM work (every\n"
    "stage but substr). The heap holds per-document metadata: at most 216 + 8 x\n"
    "bands bytes per document with near dedup on (616 at the defaults), 184 with\n"
    "exact alone, plus up to about 50 MB of fixed buffers with BPE (8 MB of text and\n"
    "its ids per batch) and the largest record being parsed. substr holds every\n"
    "token id: about 10 bytes per token more with GPT-2 (include/frugal/substr.h).\n"
    "manifest.json records the peak memory.";

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
                             .near_threshold = fg_dedup_params_default().threshold,
                             .shingle = fg_dedup_params_default().shingle,
                             .bands = fg_dedup_params_default().bands,
                             .rows = fg_dedup_params_default().rows,
                             .threads = fg_cpu_count(),
                             .substr_min = 50 };
    struct opt opts[] = {
        { "-o", OPT_STR, &o->outdir, "DIR",
          "output directory (created with its parents if missing) [required]", 0, 0, 0, 0 },
        { "--docs-split", OPT_STR, &o->docs_split, "HOW",
          "text: file, blank (paragraphs), line or a delimiter (\\n \\t escapes) [file]", 0, 0, 0,
          0 },
        { "--jsonl", OPT_STR, &o->jsonl, "FIELD",
          "inputs are JSON Lines; each object's string FIELD is a document ('.': the line)", 0, 0,
          0, 0 },
        { "--csv", OPT_STR, &o->csv, "FIELD",
          "inputs are CSV (RFC 4180) with a header row; column FIELD is a document ('.': the "
          "row)",
          0, 0, 0, 0 },
        { "--strict", OPT_FLAG, &o->strict, NULL,
          "a malformed JSON line, CSV record or record is fatal (default: skipped, counted)", 0, 0,
          0, 0 },
        { "--dedup", OPT_STR, &o->dedup, "STAGES",
          "comma list of records, exact, near, substr; or none [exact,near]", 0, 0, 0, 0 },
        { "--records", OPT_STR, &o->records, "KIND",
          "records: how a document parses: json, stanza, csv or auto [auto]", 0, 0, 0, 0 },
        { "--record-key", OPT_STR, &o->record_key, "F,...",
          "records: equal key fields + equal shared fields are duplicates", 0, 0, 0, 0 },
        { "--near-threshold", OPT_DOUBLE, &o->near_threshold, "J",
          "near duplicates: verified Jaccard similarity at least J, 0 < J <= 1 [0.35]", 0, 1, 0,
          0 },
        { "--shingle", OPT_INT, &o->shingle, "N", "near: words per shingle, 1..64 [5]", 1, 0, 0,
          0 },
        { "--bands", OPT_INT, &o->bands, "B",
          "near: LSH bands [50] (FineWeb: 14 bands x 8 rows, J 0.7)", 1, 0, 0, 0 },
        { "--rows", OPT_INT, &o->rows, "R", "near: MinHash values per band [3]", 1, 0, 0, 0 },
        { "--substr-min", OPT_SIZE, &o->substr_min, "N",
          "substr: shortest repeated span removed, in tokens [50]", 1, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &o->tokenizer, "NAME",
          "bytes (256 ids), gpt2 (50257) or a tokenizer.json [bytes]", 0, 0, 0, 0 },
        { "--vocab", OPT_STR, &o->vocab, "DIR",
          "gpt2: directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--split", OPT_STR, &o->split, "HOW",
          "hash (by document, order-independent) or tail (the end of each file) [hash]", 0, 0, 0,
          0 },
        { "--val-fraction", OPT_DOUBLE, &o->val_fraction, "F",
          "fraction for validation, 0 <= F < 1 [0.1]", 0, 0, 0, 1 },
        { "--threads", OPT_INT, &o->threads, "N", "threads for reading, dedup and BPE [all cores]",
          1, 0, 0, 0 },
        { "--quiet", OPT_FLAG, &o->quiet, NULL, "no stage report on stderr", 0, 0, 0, 0 },
    };
    int n_files, rc = cli_parse(argc, argv, 2, opts, sizeof opts / sizeof opts[0], "prepare",
                                "-o DIR [options] FILE...", ABOUT, files, argc, &n_files);
    if (rc == 0)
        rc = run(P, files, n_files);
    else if (rc < 0)
        rc = EXIT_OK;
    if (rc && P->err[0])
        fprintf(stderr, "frugal prepare: %s\n", P->err);
    prep_free(P);
    if (rc)
        unmake_dirs(P);
    free(P);
    free(files);
    return rc;
}
