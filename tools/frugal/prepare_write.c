/* frugal prepare, the last stages (prepare.h): tokenize, split, write the shards and the
 * manifest.
 *
 * Tokenize. With the byte vocabulary and no substring stage the tokens are the documents' own
 * bytes (plus their separator), read straight from the mappings when the shards are written.
 * Otherwise the ids of every kept document go to the token spool (uint32, an unlinked file in
 * the output directory), ENCODE_BATCH bytes of text at a time; a document longer than
 * CHUNK_BYTES is cut at line breaks where a cut cannot change the ids (next_cut), so memory
 * stays fixed whatever the documents' sizes. The spool is then mapped: the substring stage reads
 * it in place and cuts spans out of it.
 * Split and write. Each kept document (or, for the tail split, a piece of one) goes to one of
 * the two shards; both shards and the manifest go to temporary files renamed into place only
 * when all three are complete. The manifest is built with cJSON except its list of removed
 * documents, which is printed one entry at a time in cJSON's layout, so its size costs no
 * memory. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "frugal/data.h"
#include "frugal/dedup.h"
#include "frugal/tokenizer.h"
#include "prepare.h"

#define ENCODE_BATCH ((size_t)8 << 20) /* bytes of text per fg_tokenizer_encode_docs call */
#define CHUNK_BYTES  ((size_t)1 << 20) /* longer documents are cut (at safe places) */
#define EMIT_BLOCK   4096              /* tokens converted per write */

/* ---- tokenize ---------------------------------------------------------------------------- */

static int is_graph(unsigned char c)
{
    return c >= 0x21 && c <= 0x7E;
}

/* The first safe cut at or after `from` (len if there is none), the rule of frugal tokenizer
 * encode: a cut right after a '\n' between two printable ASCII characters changes no id, since
 * GPT-2's pre-tokenizer only puts a '\n' into a piece of white space alone, the lookahead of
 * \s+(?!\S) gives the piece "\n" whether the text ends after it or a printable character
 * follows, merges never cross pieces, and "<|endoftext|>" holds no '\n'. */
static size_t next_cut(const char *p, size_t len, size_t from)
{
    if (from == 0)
        from = 1;
    for (size_t i = from; i + 1 < len; i++)
        if (p[i] == '\n' && is_graph((unsigned char)p[i - 1]) && is_graph((unsigned char)p[i + 1]))
            return i + 1;
    return len;
}

/* The byte vocabulary into the token spool (needed only by the substring stage). */
static int spool_bytes(struct prep *P)
{
    uint32_t buf[EMIT_BLOCK];
    uint64_t total = 0;
    for (size_t k = 0; k < P->n_kept; k++) {
        const struct doc *d = &P->docs[P->kept[k]];
        P->tok_start[k] = (size_t)total;
        size_t n = d->len + P->sep_len;
        for (size_t j = 0; j < n;) {
            size_t m = 0;
            for (; m < EMIT_BLOCK && j < n; m++, j++)
                buf[m] = (unsigned char)(j < d->len ? d->p[j] : P->sep[j - d->len]);
            if (spool_write(P, &P->tok_spool, buf, m * sizeof *buf, "token"))
                return EXIT_FAIL;
        }
        total += n;
    }
    P->tok_start[P->n_kept] = (size_t)total;
    return 0;
}

struct batch {
    const void **ptr; /* (cap) chunks */
    size_t *len, *doc, *start;
    int *first; /* the chunk starts its document */
    size_t n, cap;
    uint32_t *ids; /* encode_docs' worst case: one id per byte */
    size_t cap_ids;
};

static int encode_batch(struct prep *P, struct batch *b, uint64_t *total)
{
    fg_status st =
        fg_tokenizer_encode_docs(P->tok, b->ptr, b->len, b->n, 0, b->ids, b->cap_ids, b->start);
    if (st != FG_OK)
        return prep_fail(P, cli_exit_code(st), "tokenizing: %s", fg_tokenizer_errmsg(P->tok));
    uint32_t eot = (uint32_t)fg_tokenizer_eot_id(P->tok);
    for (size_t c = 0; c < b->n; c++) {
        if (b->first[c]) {
            P->tok_start[b->doc[c]] = (size_t)*total;
            if (spool_write(P, &P->tok_spool, &eot, sizeof eot, "token"))
                return EXIT_FAIL;
            (*total)++;
        }
        size_t m = b->start[c + 1] - b->start[c];
        if (spool_write(P, &P->tok_spool, b->ids + b->start[c], m * sizeof *b->ids, "token"))
            return EXIT_FAIL;
        *total += m;
    }
    b->n = 0;
    prep_sample_memory(P);
    return 0;
}

/* BPE into the token spool: every document is <|endoftext|> then its ids. */
static int spool_bpe(struct prep *P)
{
    struct batch b;
    memset(&b, 0, sizeof b);
    b.cap = 1 << 16;
    b.ptr = malloc(b.cap * sizeof *b.ptr);
    b.len = malloc(b.cap * sizeof *b.len);
    b.doc = malloc(b.cap * sizeof *b.doc);
    b.first = malloc(b.cap * sizeof *b.first);
    b.start = malloc((b.cap + 1) * sizeof *b.start);
    uint64_t total = 0;
    size_t bytes = 0;
    int rc = b.ptr && b.len && b.doc && b.first && b.start
                 ? 0
                 : prep_fail(P, EXIT_FAIL, "out of memory");
    for (size_t k = 0; k < P->n_kept && !rc; k++) {
        const struct doc *d = &P->docs[P->kept[k]];
        for (size_t pos = 0; pos < d->len && !rc;) {
            size_t end =
                d->len - pos <= CHUNK_BYTES ? d->len : next_cut(d->p, d->len, pos + CHUNK_BYTES);
            size_t n = end - pos;
            if (b.n == b.cap || (b.n && bytes + n > ENCODE_BATCH)) {
                rc = encode_batch(P, &b, &total);
                bytes = 0;
                if (rc)
                    break;
            }
            if (n > b.cap_ids) { /* the first batch, or a chunk without a safe cut */
                size_t cap = n > ENCODE_BATCH ? n : ENCODE_BATCH;
                free(b.ids);
                b.ids = malloc(cap * sizeof *b.ids);
                b.cap_ids = b.ids ? cap : 0;
                if (!b.ids) {
                    rc = prep_fail(P, EXIT_FAIL, "out of memory for the ids of %zu bytes", cap);
                    break;
                }
            }
            b.ptr[b.n] = d->p + pos;
            b.len[b.n] = n;
            b.doc[b.n] = k;
            b.first[b.n] = pos == 0;
            b.n++;
            bytes += n;
            pos = end;
        }
    }
    if (!rc && b.n)
        rc = encode_batch(P, &b, &total);
    P->tok_start[P->n_kept] = (size_t)total;
    free(b.ptr);
    free(b.len);
    free(b.doc);
    free(b.first);
    free(b.start);
    free(b.ids);
    return rc;
}

int prep_tokenize(struct prep *P)
{
    size_t n = P->n_kept;
    P->tok_start = malloc((n + 1) * sizeof *P->tok_start);
    if (!P->tok_start)
        return prep_fail(P, EXIT_FAIL, "out of memory");
    P->tok_start[0] = 0;
    if (!P->tok && !P->dedup_substr) {
        for (size_t k = 0; k < n; k++)
            P->tok_start[k + 1] = P->tok_start[k] + P->docs[P->kept[k]].len + P->sep_len;
        P->tokens_tokenized = P->tok_start[n];
        return 0;
    }
    if (spool_open(P, &P->tok_spool, "token"))
        return EXIT_FAIL;
    int rc = P->tok ? spool_bpe(P) : spool_bytes(P);
    if (!rc)
        rc = spool_map(P, &P->tok_spool, 1, "token");
    if (rc)
        return rc;
    P->ids = P->tok_spool.map;
    P->tokens_tokenized = P->tok_start[n];
    prep_sample_memory(P);
    return 0;
}

/* ---- split ------------------------------------------------------------------------------- */

static int add_piece(struct prep *P, int which, size_t k, size_t from, size_t to)
{
    struct shard_out *s = &P->out[which];
    if (from == to)
        return 0;
    if (prep_grow((void **)&s->pieces, &s->cap_pieces, s->n_pieces + 1, sizeof *s->pieces))
        return prep_fail(P, EXIT_FAIL, "out of memory");
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

int prep_split(struct prep *P)
{
    P->out[0].name = "train.bin";
    P->out[1].name = "val.bin";
    size_t live = 0; /* documents with tokens (the substring stage may have emptied some) */
    for (size_t k = 0; k < P->n_kept; k++)
        live += P->tok_start[k + 1] > P->tok_start[k];
    if (live == 0)
        return prep_fail(P, EXIT_FAIL,
                         "no tokens left: the substring stage removed every document (lower "
                         "--substr-min or leave substr out of --dedup)");
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
    if (P->o.val_fraction > 0 && live < 2)
        why = "there is only 1 document";
    else if (P->o.val_fraction > 0 && P->out[1].n_docs == 0)
        why = "no document fell into validation";
    else if (P->o.val_fraction > 0 && P->out[0].n_docs == 0)
        why = "no document fell into training";
    if (why) {
        snprintf(P->note, sizeof P->note,
                 "note: hash split: %s (of %zu after dedup); using the tail split instead: the "
                 "last %g of each file's tokens go to validation",
                 why, live, P->o.val_fraction);
        P->tail_used = 1;
        return split_tail(P);
    }
    /* whole documents are coarse: say so when validation is far from the asked fraction */
    double got = (double)P->out[1].n_tokens / (double)(P->out[0].n_tokens + P->out[1].n_tokens);
    if (fabs(got - P->o.val_fraction) > 0.5 * P->o.val_fraction)
        snprintf(P->note, sizeof P->note,
                 "note: hash split: validation holds %.1f%% of the tokens, not %g%%: %zu "
                 "documents are too few for an even split (--docs-split or --split tail)",
                 100 * got, 100 * P->o.val_fraction, live);
    return 0;
}

/* ---- shards ------------------------------------------------------------------------------ */

static int out_bytes(struct prep *P, struct shard_out *s, const void *buf, size_t len)
{
    char err[1200];
    fg_sha256_update(&s->sha, buf, len);
    s->bytes += len;
    if (fg_atomic_write(&s->f, buf, len, err, sizeof err) != FG_OK)
        return prep_fail(P, EXIT_FAIL, "%s", err);
    return 0;
}

static int write_shard(struct prep *P, struct shard_out *s)
{
    char err[1200];
    if (s->n_tokens > INT32_MAX)
        return prep_fail(P, EXIT_FAIL,
                         "%s would hold %zu tokens, more than one shard's limit of %d (prepare "
                         "the input in several parts)",
                         s->name, s->n_tokens, INT32_MAX);
    snprintf(s->path, sizeof s->path, "%s/%s", P->o.outdir, s->name);
    if (fg_atomic_open(&s->f, s->path, err, sizeof err) != FG_OK)
        return prep_fail(P, EXIT_FAIL, "%s (is -o %s writable?)", err, P->o.outdir);
    s->open = 1;
    fg_sha256_init(&s->sha);
    uint8_t hdr[FG_SHARD_HEADER_BYTES];
    fg_shard_header(hdr, s->n_tokens, P->width);
    if (out_bytes(P, s, hdr, sizeof hdr))
        return EXIT_FAIL;
    uint8_t buf[4 * EMIT_BLOCK];
    size_t w = (size_t)P->width;
    for (size_t q = 0; q < s->n_pieces; q++) {
        const struct piece *pc = &s->pieces[q];
        const struct doc *d = &P->docs[P->kept[pc->k]];
        const uint32_t *ids = P->ids ? P->ids + P->tok_start[pc->k] : NULL;
        for (size_t j = pc->from; j < pc->to;) {
            size_t m = 0;
            for (; m < EMIT_BLOCK && j < pc->to; m++, j++) {
                uint32_t v = ids          ? ids[j]
                             : j < d->len ? (unsigned char)d->p[j]
                                          : (unsigned char)P->sep[j - d->len];
                for (size_t b = 0; b < w; b++)
                    buf[w * m + b] = (uint8_t)(v >> (8 * b));
            }
            if (out_bytes(P, s, buf, w * m))
                return EXIT_FAIL;
        }
    }
    uint8_t dig[32];
    fg_sha256_final(&s->sha, dig);
    fg_sha256_hex(dig, s->sha_hex);
    return 0;
}

/* ---- manifest ---------------------------------------------------------------------------- */

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

static void jbool(struct prep *P, cJSON *o, const char *k, int v)
{
    if (!cJSON_AddBoolToObject(o, k, v))
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
    jbool(P, o, "enabled", s->enabled);
    jnum(P, o, "documents_in", (double)s->docs_in);
    jnum(P, o, "bytes_in", (double)s->bytes_in);
    jnum(P, o, "documents_out", (double)s->docs_out);
    jnum(P, o, "bytes_out", (double)s->bytes_out);
}

/* Jaccard similarity of two documents' shingle sets, as the near stage measures it. */
double prep_doc_jaccard(const struct prep *P, size_t ia, size_t ib)
{
    const struct doc *a = &P->docs[ia], *b = &P->docs[ib];
    int shingle = P->o.shingle;
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

static void manifest_options(struct prep *P, cJSON *root)
{
    const struct prep_opts *o = &P->o;
    cJSON *opt = jobj(P, root, "options", 0);
    if (!opt)
        return;
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
    jbool(P, opt, "strict", o->strict);
    jstr(P, opt, "dedup", o->dedup);
    static const char *const kinds[] = { "json", "stanza", "csv" };
    jstr(P, opt, "records", P->dedup_records ? kinds[P->rec_kind] : NULL);
    if (P->n_keys) {
        cJSON *k = jobj(P, opt, "record_key", 1);
        for (size_t i = 0; k && i < P->n_keys; i++) {
            cJSON *s = cJSON_CreateString(P->keys[i]);
            if (!s || !cJSON_AddItemToArray(k, s)) {
                cJSON_Delete(s);
                P->json_oom = 1;
            }
        }
    } else {
        jstr(P, opt, "record_key", NULL);
    }
    jnum(P, opt, "near_threshold", o->near_threshold);
    jnum(P, opt, "shingle", o->shingle);
    jnum(P, opt, "bands", o->bands);
    jnum(P, opt, "rows", o->rows);
    jnum(P, opt, "substr_min", (double)o->substr_min);
    jstr(P, opt, "split", P->split == SPLIT_HASH ? "hash" : "tail");
    jnum(P, opt, "val_fraction", o->val_fraction);
}

static void manifest_inputs(struct prep *P, cJSON *root)
{
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
        else
            jstr(P, tk, "eot_id", NULL);
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
}

static void manifest_stages(struct prep *P, cJSON *root)
{
    cJSON *stages = jobj(P, root, "stages", 1);
    if (!stages)
        return;
    jstage(P, stages, &P->st_read);
    jstage(P, stages, &P->st_records);
    cJSON *r = cJSON_GetArrayItem(stages, 1);
    if (r)
        jnum(P, r, "not_records", (double)P->n_not_record);
    jstage(P, stages, &P->st_exact);
    jstage(P, stages, &P->st_near);
    cJSON *t = jobj(P, stages, NULL, 0);
    if (t) {
        jstr(P, t, "stage", "tokenize");
        jnum(P, t, "documents", (double)P->n_kept);
        jnum(P, t, "bytes_in", (double)P->st_near.bytes_out);
        jnum(P, t, "tokens_out", (double)P->tokens_tokenized);
    }
    cJSON *u = jobj(P, stages, NULL, 0);
    if (u) {
        const struct substr_result *x = P->sub;
        jstr(P, u, "stage", "substr dedup");
        jbool(P, u, "enabled", P->dedup_substr);
        jnum(P, u, "documents_in", (double)(x ? x->docs_in : P->n_kept));
        jnum(P, u, "tokens_in", (double)(x ? x->tokens_in : P->tokens_tokenized));
        jnum(P, u, "documents_out", (double)(x ? x->docs_in - x->docs_dropped : P->n_kept));
        jnum(P, u, "tokens_out", (double)(x ? x->tokens_out : P->tokens_tokenized));
        jnum(P, u, "tokens_removed", (double)(x ? x->tokens_in - x->tokens_out : 0));
        jnum(P, u, "span_tokens", (double)(x ? x->stats.tokens_removed : 0));
        jnum(P, u, "spans", (double)(x ? x->stats.spans : 0));
        jnum(P, u, "documents_touched", (double)(x ? x->stats.docs_touched : 0));
        jnum(P, u, "documents_dropped", (double)(x ? x->docs_dropped : 0));
    }
}

static void manifest_outputs(struct prep *P, cJSON *root)
{
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
        jnum(P, e, "token_bytes", P->width);
        jnum(P, e, "bytes", (double)s->bytes);
        jstr(P, e, "sha256", s->sha_hex);
    }
    cJSON *sl = jobj(P, root, "substr_spans", 1);
    for (size_t i = 0; sl && P->sub && i < P->sub->n_listed; i++) {
        const struct fg_substr_span *x = &P->sub->listed[i];
        cJSON *e = jobj(P, sl, NULL, 0);
        if (!e)
            break;
        jdoc(P, e, P->kept[x->doc]);
        jnum(P, e, "from", (double)x->from);
        jnum(P, e, "to", (double)x->to);
        jdoc(P, jobj(P, e, "source", 0), P->kept[x->src_doc]);
    }
    jnum(P, root, "substr_spans_total", (double)(P->sub ? P->sub->stats.spans : 0));
    prep_memory_stop(P);
    cJSON *m = jobj(P, root, "memory", 0);
    if (m) {
        jnum(P, m, "peak_rss_bytes", (double)fg_peak_rss_bytes());
        if (P->peak_anon)
            jnum(P, m, "peak_anon_bytes", (double)P->peak_anon);
        else
            jstr(P, m, "peak_anon_bytes", NULL);
        jnum(P, m, "heap_bytes_per_document", (double)prep_bytes_per_doc(P));
    }
}

/* The manifest without its "removed" list, as cJSON prints it (no closing brace). */
static char *manifest_head(struct prep *P)
{
    cJSON *root = jobj(P, NULL, NULL, 0);
    if (!root)
        return NULL;
    jstr(P, root, "format", "frugal-prepare-manifest");
    jnum(P, root, "version", 2);
    manifest_options(P, root);
    manifest_inputs(P, root);
    manifest_stages(P, root);
    manifest_outputs(P, root);
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
    char *text = P->json_oom ? NULL : cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return NULL;
    /* cJSON ends an object with "\n}": drop both, "removed" follows */
    size_t n = strlen(text);
    if (n >= 2 && text[n - 1] == '}' && text[n - 2] == '\n')
        text[n - 2] = '\0';
    return text;
}

/* One entry of "removed", printed as cJSON prints it two levels deep, into *out. */
static int removed_entry(struct prep *P, size_t i, char **out)
{
    static const char *const reason[] = { "kept", "record", "record-key",  "exact",
                                          "near", "substr", "not a record" };
    const struct doc *d = &P->docs[i];
    cJSON *e = jobj(P, NULL, NULL, 0);
    if (!e)
        return -1;
    jdoc(P, e, i);
    jstr(P, e, "reason", reason[d->fate]);
    jdoc(P, jobj(P, e, "duplicate_of", 0), d->dup_of);
    if (d->fate == FATE_EXACT) {
        jnum(P, e, "jaccard", 1.0);
    } else if (d->fate == FATE_NEAR) {
        double jac = prep_doc_jaccard(P, i, d->dup_of);
        jnum(P, e, "jaccard", jac < 0 ? (double)d->jaccard : jac);
    }
    char *t = P->json_oom ? NULL : cJSON_Print(e);
    cJSON_Delete(e);
    if (!t)
        return -1;
    size_t n = strlen(t), nl = 0;
    for (size_t k = 0; k < n; k++)
        nl += t[k] == '\n';
    char *r = malloc(n + 2 * nl + 1);
    if (!r) {
        cJSON_free(t);
        return -1;
    }
    size_t w = 0;
    for (size_t k = 0; k < n; k++) {
        r[w++] = t[k];
        if (t[k] == '\n') {
            r[w++] = '\t';
            r[w++] = '\t';
        }
    }
    r[w] = '\0';
    cJSON_free(t);
    *out = r;
    return 0;
}

static int write_manifest(struct prep *P, struct fg_atomic_file *mf)
{
    char err[1200];
    char *head = manifest_head(P);
    if (!head)
        return prep_fail(P, EXIT_FAIL, "out of memory building the manifest");
    fg_status st = fg_atomic_write(mf, head, strlen(head), err, sizeof err);
    cJSON_free(head);
    if (st == FG_OK)
        st = fg_atomic_write(mf, ",\n\t\"removed\":\t[", 15, err, sizeof err);
    int first = 1;
    for (size_t i = 0; st == FG_OK && i < P->n_docs; i++) {
        uint8_t f = P->docs[i].fate;
        if (f == FATE_KEPT || f == FATE_NOT_RECORD)
            continue;
        char *e = NULL;
        if (removed_entry(P, i, &e))
            return prep_fail(P, EXIT_FAIL, "out of memory building the manifest");
        if (!first)
            st = fg_atomic_write(mf, ", ", 2, err, sizeof err);
        if (st == FG_OK)
            st = fg_atomic_write(mf, e, strlen(e), err, sizeof err);
        free(e);
        first = 0;
    }
    if (st == FG_OK)
        st = fg_atomic_write(mf, "]\n}\n", 4, err, sizeof err);
    if (st != FG_OK)
        return prep_fail(P, EXIT_FAIL, "%s", err);
    return 0;
}

/* Both shards and the manifest go to temporary files; all three are renamed into place only
 * when all three are complete. */
int prep_write_outputs(struct prep *P)
{
    char err[1200], mpath[4200];
    struct fg_atomic_file mf;
    int m_open = 0, rc;
    if (P->ids) /* the shards read the token spool front to back */
        (void)posix_madvise(P->tok_spool.map, P->tok_spool.map_len, POSIX_MADV_SEQUENTIAL);
    if ((rc = write_shard(P, &P->out[0])) != 0 || (rc = write_shard(P, &P->out[1])) != 0)
        goto fail;
    snprintf(mpath, sizeof mpath, "%s/manifest.json", P->o.outdir);
    if (fg_atomic_open(&mf, mpath, err, sizeof err) != FG_OK) {
        rc = prep_fail(P, EXIT_FAIL, "%s", err);
        goto fail;
    }
    m_open = 1;
    if ((rc = write_manifest(P, &mf)) != 0)
        goto fail;
    for (int w = 0; w < 2; w++) {
        P->out[w].open = 0;
        if (fg_atomic_commit(&P->out[w].f, err, sizeof err) != FG_OK) {
            rc = prep_fail(P, EXIT_FAIL, "%s", err);
            goto fail;
        }
    }
    m_open = 0;
    if (fg_atomic_commit(&mf, err, sizeof err) != FG_OK) {
        rc = prep_fail(P, EXIT_FAIL, "%s", err);
        goto fail;
    }
    return 0;
fail:
    for (int w = 0; w < 2; w++)
        if (P->out[w].open) {
            fg_atomic_abort(&P->out[w].f);
            P->out[w].open = 0;
        }
    if (m_open)
        fg_atomic_abort(&mf);
    return rc;
}
