/* frugal prepare, the dedup stages (prepare.h), in the order they run:
 *   records  canonical records (include/frugal/canon.h): every document's record is parsed and
 *            hashed (128 bits of the SHA-256 of its canonical form); equal hashes are
 *            duplicates and the first is kept. With --record-key, records that have every key
 *            field are bucketed by the hash of their key values instead, and each is compared
 *            with the kept representatives of its bucket (re-parsed from the mapping, one bucket
 *            at a time) by canon.h's keyed rule; the first match is the one it duplicates.
 *   exact, near   fg_dedup (include/frugal/dedup.h) over the documents the records stage kept.
 *   substr   fg_substr_dedup (include/frugal/substr.h) over the token ids of the kept
 *            documents, after tokenization; removed spans are cut out of the token spool.
 * Each stage reads only documents that earlier stages kept and keeps per-document hashes, never
 * documents. Parsing and hashing run on --threads threads; results do not depend on them. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "frugal/dedup.h"
#include "frugal/substr.h"
#include "prepare.h"

static const char *const KIND_NAME[] = { "JSON", "stanza", "CSV" };

/* ---- records ----------------------------------------------------------------------------- */

struct keyed {
    uint64_t k0, k1;
    size_t doc;
};

static int cmp_keyed(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    if (a->k0 != b->k0)
        return a->k0 < b->k0 ? -1 : 1;
    if (a->k1 != b->k1)
        return a->k1 < b->k1 ? -1 : 1;
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

/* Parse status of a document's record. */
enum { REC_PLAIN = 0, REC_KEYED = 1, REC_BAD = 2, REC_NOMEM = 3 };

static fg_status parse_record(const struct prep *P, const struct doc *d, struct fg_canon_rec **out,
                              char *err, size_t errlen)
{
    struct fg_canon_params cp = fg_canon_params_default();
    const struct input *in = &P->in[d->input];
    cp.csv_header = in->csv_header;
    cp.csv_header_len = in->csv_header_len;
    return fg_canon_parse(P->rec_kind, d->rec, d->rec_len, &cp, out, err, errlen);
}

/* Parse every live document's record in parallel: its canonical hash into ch, and (with keys)
 * whether it has every key field, with the hash of their values into kh. */
static void hash_records(const struct prep *P, uint8_t *status, uint64_t (*ch)[2],
                         uint64_t (*kh)[2])
{
    long n = (long)P->n_docs;
    const struct doc *docs = P->docs;
#pragma omp parallel for schedule(dynamic, 64) num_threads(P->o.threads) default(none) \
    shared(n, docs, P, status, ch, kh)
    for (long i = 0; i < n; i++) {
        status[i] = REC_BAD;
        if (docs[i].fate != FATE_KEPT)
            continue;
        struct fg_canon_rec *r = NULL;
        fg_status st = parse_record(P, &docs[i], &r, NULL, 0);
        if (st != FG_OK) {
            status[i] = st == FG_ERR_NOMEM ? REC_NOMEM : REC_BAD;
            continue;
        }
        fg_canon_hash(r, ch[i]);
        status[i] = REC_PLAIN;
        if (P->n_keys && fg_canon_key_hash(r, P->keys, P->n_keys, kh[i]))
            status[i] = REC_KEYED;
        fg_canon_rec_free(r);
    }
}

/* Records that do not parse: skipped (with the parser's message) or, with --strict, fatal. */
static int skip_bad_records(struct prep *P, const uint8_t *status)
{
    for (size_t i = 0; i < P->n_docs; i++) {
        if (status[i] == REC_NOMEM)
            return prep_fail(P, EXIT_FAIL, "out of memory parsing records");
        if (status[i] != REC_BAD || P->docs[i].fate != FATE_KEPT)
            continue;
        struct doc *d = &P->docs[i];
        char why[160] = "malformed";
        if (P->o.strict || P->n_skips < MAX_SKIPS_KEPT) {
            struct fg_canon_rec *r = NULL;
            if (parse_record(P, d, &r, why, sizeof why) == FG_ERR_NOMEM)
                return prep_fail(P, EXIT_FAIL, "out of memory parsing records");
            fg_canon_rec_free(r);
        }
        int rc =
            prep_skip(P, d->input, d->line, 0, "not a %s record: %s", KIND_NAME[P->rec_kind], why);
        if (rc)
            return rc;
        d->fate = FATE_NOT_RECORD;
        P->n_not_record++;
    }
    return 0;
}

/* Plain rule: equal canonical hashes; the first of each group is kept. */
static void group_plain(struct prep *P, const uint8_t *status, uint64_t (*ch)[2], struct keyed *kv,
                        int want)
{
    size_t m = 0;
    for (size_t i = 0; i < P->n_docs; i++)
        if (P->docs[i].fate == FATE_KEPT && status[i] == want)
            kv[m++] = (struct keyed){ ch[i][0], ch[i][1], i };
    qsort(kv, m, sizeof *kv, cmp_keyed);
    for (size_t i = 1, first = 0; i < m; i++) {
        if (kv[i].k0 != kv[i - 1].k0 || kv[i].k1 != kv[i - 1].k1)
            first = i;
        if (first != i) {
            P->docs[kv[i].doc].fate = FATE_RECORD;
            P->docs[kv[i].doc].dup_of = kv[first].doc;
        }
    }
}

/* Keyed rule within one bucket kv[0..m) (equal key hashes, documents in order): each record is
 * compared with the bucket's kept records, which stay parsed until the bucket is done. Returns
 * 0, or -1 when out of memory. */
static int keyed_bucket(struct prep *P, const struct keyed *kv, size_t m, uint64_t (*ch)[2])
{
    struct fg_canon_rec **rep = malloc(m * sizeof *rep);
    size_t *rep_doc = malloc(m * sizeof *rep_doc), n_rep = 0;
    int rc = rep && rep_doc ? 0 : -1;
    for (size_t j = 0; j < m && !rc; j++) {
        size_t i = kv[j].doc;
        struct fg_canon_rec *r = NULL;
        if (parse_record(P, &P->docs[i], &r, NULL, 0) != FG_OK) {
            rc = -1; /* it parsed before: only memory can fail now */
            break;
        }
        size_t q = 0;
        while (q < n_rep && !fg_canon_keyed_equal(rep[q], r, P->keys, P->n_keys))
            q++;
        if (q < n_rep) {
            size_t k = rep_doc[q];
            int same = ch[i][0] == ch[k][0] && ch[i][1] == ch[k][1];
            P->docs[i].fate = same ? FATE_RECORD : FATE_RECORD_KEY;
            P->docs[i].dup_of = k;
            fg_canon_rec_free(r);
        } else {
            rep[n_rep] = r;
            rep_doc[n_rep++] = i;
        }
    }
    for (size_t q = 0; q < n_rep; q++)
        fg_canon_rec_free(rep[q]);
    free(rep);
    free(rep_doc);
    return rc;
}

static int group_keyed(struct prep *P, const uint8_t *status, uint64_t (*kh)[2], uint64_t (*ch)[2],
                       struct keyed *kv)
{
    size_t m = 0;
    for (size_t i = 0; i < P->n_docs; i++)
        if (P->docs[i].fate == FATE_KEPT && status[i] == REC_KEYED)
            kv[m++] = (struct keyed){ kh[i][0], kh[i][1], i };
    qsort(kv, m, sizeof *kv, cmp_keyed);
    /* buckets of two or more records; they are independent, so they run in parallel and each
     * writes only its own documents' fates */
    size_t *bstart = malloc((m / 2 + 1) * sizeof *bstart), nb = 0;
    if (!bstart)
        return prep_fail(P, EXIT_FAIL, "out of memory for %zu records", m);
    for (size_t i = 0; i < m;) {
        size_t j = i + 1;
        while (j < m && kv[j].k0 == kv[i].k0 && kv[j].k1 == kv[i].k1)
            j++;
        if (j - i > 1)
            bstart[nb++] = i;
        i = j;
    }
    long nbl = (long)nb;
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 16) num_threads(P->o.threads) default(none) \
    shared(nbl, bstart, kv, m, P, ch, failed)
    for (long b = 0; b < nbl; b++) {
        size_t s = bstart[b], e = s + 1;
        while (e < m && kv[e].k0 == kv[s].k0 && kv[e].k1 == kv[s].k1)
            e++;
        if (keyed_bucket(P, kv + s, e - s, ch)) {
#pragma omp atomic write
            failed = 1;
        }
    }
    free(bstart);
    if (failed)
        return prep_fail(P, EXIT_FAIL, "out of memory comparing records");
    return 0;
}

int prep_records(struct prep *P)
{
    struct stage *s = &P->st_records;
    *s = (struct stage){ "records", P->dedup_records, P->n_docs, P->n_docs, 0, 0 };
    s->bytes_in = s->bytes_out = P->st_read.bytes_out;
    if (!P->dedup_records)
        return 0;
    size_t n = P->n_docs;
    uint8_t *status = malloc(n ? n : 1);
    uint64_t(*ch)[2] = malloc((n ? n : 1) * sizeof *ch);
    uint64_t(*kh)[2] = P->n_keys ? malloc((n ? n : 1) * sizeof *kh) : NULL;
    struct keyed *kv = malloc((n ? n : 1) * sizeof *kv);
    int rc = 0;
    if (!status || !ch || !kv || (P->n_keys && !kh))
        rc = prep_fail(P, EXIT_FAIL, "out of memory for the records of %zu documents", n);
    if (!rc) {
        hash_records(P, status, ch, kh);
        prep_sample_memory(P);
        rc = skip_bad_records(P, status);
    }
    if (!rc && P->n_keys)
        rc = group_keyed(P, status, kh, ch, kv);
    if (!rc) {
        /* without keys every record follows the plain rule; with keys, those lacking one */
        group_plain(P, status, ch, kv, REC_PLAIN);
    }
    prep_sample_memory(P);
    free(status);
    free(ch);
    free(kh);
    free(kv);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (P->docs[i].fate != FATE_KEPT) {
            s->docs_out--;
            s->bytes_out -= P->docs[i].len;
        }
    /* the records stage's skips follow the read stage's in P->skips */
    size_t first = P->n_skips_total - P->n_not_record;
    const struct skip *sk = first < P->n_skips ? &P->skips[first] : NULL;
    if (s->docs_out == 0)
        return prep_fail(P, EXIT_FAIL,
                         "no documents left: none of the %zu documents parses as a %s record "
                         "(the first: %s:%zu: %s); check --records",
                         n, KIND_NAME[P->rec_kind], sk ? P->in[sk->input].path : "?",
                         sk ? sk->line : 0, sk ? sk->why : "?");
    return 0;
}

/* ---- exact and near ---------------------------------------------------------------------- */

int prep_dedup(struct prep *P)
{
    size_t n = 0;
    uint64_t bytes = 0;
    for (size_t i = 0; i < P->n_docs; i++)
        if (P->docs[i].fate == FATE_KEPT) {
            n++;
            bytes += P->docs[i].len;
        }
    P->kept = malloc((n ? n : 1) * sizeof *P->kept);
    if (!P->kept)
        return prep_fail(P, EXIT_FAIL, "out of memory for %zu documents", n);
    for (size_t i = 0; i < P->n_docs; i++)
        if (P->docs[i].fate == FATE_KEPT)
            P->kept[P->n_kept++] = i;
    struct stage *e = &P->st_exact, *nr = &P->st_near;
    *e = (struct stage){ "exact dedup", P->dedup_exact, n, n, bytes, bytes };
    *nr = (struct stage){ "near dedup", P->dedup_near, n, n, bytes, bytes };
    if (!P->dedup_exact && !P->dedup_near)
        return 0;
    struct fg_dedup_doc *dd = malloc((n ? n : 1) * sizeof *dd);
    const char **ptr = malloc((n ? n : 1) * sizeof *ptr);
    size_t *len = malloc((n ? n : 1) * sizeof *len);
    int rc = 0;
    if (!dd || !ptr || !len)
        rc = prep_fail(P, EXIT_FAIL, "out of memory for %zu documents", n);
    for (size_t k = 0; k < n && !rc; k++) {
        ptr[k] = P->docs[P->kept[k]].p;
        len[k] = P->docs[P->kept[k]].len;
    }
    if (!rc) {
        struct fg_dedup_params dp = fg_dedup_params_default();
        dp.exact = P->dedup_exact;
        dp.near = P->dedup_near;
        dp.shingle = P->o.shingle;
        dp.bands = P->o.bands;
        dp.rows = P->o.rows;
        dp.threshold = P->o.near_threshold;
        dp.n_threads = P->o.threads;
        char err[256];
        fg_status st = fg_dedup(ptr, len, n, &dp, dd, NULL, err, sizeof err);
        if (st != FG_OK)
            rc = prep_fail(P, cli_exit_code(st), "%s", err);
    }
    free(ptr);
    free(len);
    if (rc) {
        free(dd);
        return rc;
    }
    prep_sample_memory(P);
    /* dd[k].dup_of is a position in the list as it was; compact it only afterwards */
    size_t m = 0, n_exact = 0, n_near = 0;
    uint64_t b_exact = 0, b_near = 0;
    for (size_t k = 0; k < n; k++) {
        struct doc *d = &P->docs[P->kept[k]];
        if (dd[k].reason == FG_DEDUP_KEPT)
            continue;
        d->dup_of = P->kept[dd[k].dup_of];
        if (dd[k].reason == FG_DEDUP_EXACT) {
            d->fate = FATE_EXACT;
            n_exact++;
            b_exact += d->len;
        } else {
            d->fate = FATE_NEAR;
            d->jaccard = (float)dd[k].jaccard;
            n_near++;
            b_near += d->len;
        }
    }
    for (size_t k = 0; k < n; k++)
        if (dd[k].reason == FG_DEDUP_KEPT)
            P->kept[m++] = P->kept[k];
    free(dd);
    P->n_kept = m;
    e->docs_out -= n_exact;
    e->bytes_out -= b_exact;
    nr->docs_in = e->docs_out;
    nr->bytes_in = e->bytes_out;
    nr->docs_out = nr->docs_in - n_near;
    nr->bytes_out = nr->bytes_in - b_near;
    return 0;
}

/* ---- substrings ------------------------------------------------------------------------ */

/* Moves ids[from, to) to ids[*w...) (never rightwards, so in place is safe). */
static void move_ids(uint32_t *ids, size_t from, size_t to, size_t *w)
{
    if (to > from && *w != from)
        memmove(ids + *w, ids + from, (to - from) * sizeof *ids);
    *w += to - from;
}

/* Cuts the spans out of the token spool, document by document, and drops the documents left
 * without a token of their own (their <|endoftext|> or separator goes with them). */
static void cut_spans(struct prep *P, const struct fg_substr_span *sp, size_t n_spans,
                      size_t prefix, size_t suffix)
{
    uint32_t *ids = P->tok_spool.map;
    size_t w = 0, q = 0;
    for (size_t k = 0; k < P->n_kept; k++) {
        size_t a = P->tok_start[k], b = P->tok_start[k + 1], start = w;
        size_t from = a + prefix, to = b - suffix, kept = 0, first = q;
        move_ids(ids, a, from, &w);
        size_t pos = from;
        for (; q < n_spans && sp[q].doc == k; q++) {
            kept += from + sp[q].from - pos;
            move_ids(ids, pos, from + sp[q].from, &w);
            pos = from + sp[q].to;
        }
        kept += to - pos;
        move_ids(ids, pos, to, &w);
        move_ids(ids, to, b, &w);
        P->tok_start[k] = start;
        if (kept == 0) {
            struct doc *d = &P->docs[P->kept[k]];
            w = start;
            d->fate = FATE_SUBSTR;
            d->dup_of = P->kept[sp[first].src_doc];
            P->sub->docs_dropped++;
        }
    }
    P->tok_start[P->n_kept] = w;
}

int prep_substr(struct prep *P)
{
    if (!P->dedup_substr)
        return 0;
    size_t n = P->n_kept;
    /* what fg_substr_dedup sees of a document: its ids without the <|endoftext|> before them
     * (BPE) or the separator after them (bytes), so no span runs over a boundary marker */
    size_t prefix = P->tok ? 1 : 0, suffix = P->tok ? 0 : P->sep_len;
    P->sub = calloc(1, sizeof *P->sub);
    const uint32_t **docs = malloc((n ? n : 1) * sizeof *docs);
    size_t *lens = malloc((n ? n : 1) * sizeof *lens);
    if (!P->sub || !docs || !lens) {
        free(docs);
        free(lens);
        return prep_fail(P, EXIT_FAIL, "out of memory for the substring stage");
    }
    for (size_t k = 0; k < n; k++) {
        docs[k] = P->ids + P->tok_start[k] + prefix;
        lens[k] = P->tok_start[k + 1] - P->tok_start[k] - prefix - suffix;
    }
    struct fg_substr_params sp = fg_substr_params_default();
    sp.min_len = P->o.substr_min;
    sp.n_threads = P->o.threads;
    struct fg_substr_span *spans = NULL;
    size_t n_spans = 0;
    char err[400];
    fg_status st = fg_substr_dedup(docs, lens, n, (uint32_t)P->n_vocab, &sp, &spans, &n_spans,
                                   &P->sub->stats, err, sizeof err);
    prep_sample_memory(P);
    free(docs);
    free(lens);
    if (st != FG_OK)
        return prep_fail(P, cli_exit_code(st), "substring dedup: %s", err);
    struct substr_result *x = P->sub;
    x->docs_in = n;
    x->tokens_in = P->tokens_tokenized;
    x->n_listed = n_spans < MAX_SPANS_LISTED ? n_spans : MAX_SPANS_LISTED;
    if (x->n_listed)
        memcpy(x->listed, spans, x->n_listed * sizeof *spans);
    cut_spans(P, spans, n_spans, prefix, suffix);
    fg_free(NULL, spans);
    x->tokens_out = P->tok_start[n];
    return 0;
}
