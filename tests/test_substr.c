/* Exact-substring dedup tests: fg_substr_dedup against two independent references that share
 * no code with it. The brute force checks every window of every document against every
 * window of every earlier document (small random inputs with tiny alphabets, empty and short
 * documents, ids whose byte encodings overlap at misaligned offsets, both suffix sorts). The
 * sort reference sorts all windows by content (medium inputs with planted copies). Hand cases
 * pin the rule down; pathological repeats must finish; every allocation failure must return
 * FG_ERR_NOMEM and leak nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/substr.h"
#include "test.h"

/* ---- inputs ---- */

struct input {
    size_t n;
    uint32_t **doc; /* (n) owned */
    size_t *len;    /* (n) */
};

static void input_free(struct input *in)
{
    for (size_t d = 0; d < in->n; d++)
        free(in->doc[d]);
    free(in->doc);
    free(in->len);
    memset(in, 0, sizeof *in);
}

static void input_alloc(struct input *in, size_t n)
{
    in->n = n;
    in->doc = calloc(n ? n : 1, sizeof *in->doc);
    in->len = calloc(n ? n : 1, sizeof *in->len);
}

/* A document from an array literal. */
static void set_doc(struct input *in, size_t d, const uint32_t *t, size_t len)
{
    in->doc[d] = malloc((len ? len : 1) * sizeof *t);
    if (len)
        memcpy(in->doc[d], t, len * sizeof *t);
    in->len[d] = len;
}

/* ---- reference 1: brute force, straight from the rule in substr.h ---- */

static int window_in(const uint32_t *w, size_t L, const uint32_t *doc, size_t len)
{
    for (size_t q = 0; q + L <= len; q++)
        if (!memcmp(doc + q, w, L * sizeof *w))
            return 1;
    return 0;
}

/* Marks per window: src[d][p] = earliest earlier document containing window p of d, or -1.
 * Then merges windows into spans exactly as the header defines them. Returns the count;
 * out (capacity cap) gets the spans. */
static size_t ref_brute(const struct input *in, size_t L, struct fg_substr_span *out, size_t cap)
{
    size_t ns = 0;
    for (size_t d = 0; d < in->n; d++) {
        size_t len = in->len[d];
        int open = 0;
        size_t from = 0, to = 0, src = 0;
        for (size_t p = 0; p + L <= len; p++) {
            long s = -1;
            for (size_t e = 0; e < d && s < 0; e++)
                if (window_in(in->doc[d] + p, L, in->doc[e], in->len[e]))
                    s = (long)e;
            if (s < 0)
                continue;
            if (open && p <= to) {
                to = p + L;
                continue;
            }
            if (open && ns < cap)
                out[ns] = (struct fg_substr_span){ d, from, to, src };
            ns += open;
            open = 1;
            from = p;
            to = p + L;
            src = (size_t)s;
        }
        if (open && ns < cap)
            out[ns] = (struct fg_substr_span){ d, from, to, src };
        ns += open;
    }
    return ns;
}

/* ---- reference 2: sort all windows by content (medium inputs) ---- */

struct win {
    const uint32_t *t;
    size_t doc, pos;
};

static size_t g_sort_L; /* comparator context: qsort has none (test code only) */

static int cmp_win(const void *a, const void *b)
{
    const struct win *x = a, *y = b;
    for (size_t i = 0; i < g_sort_L; i++)
        if (x->t[i] != y->t[i])
            return x->t[i] < y->t[i] ? -1 : 1;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Same output as ref_brute; *out is malloc'ed. */
static size_t ref_sort(const struct input *in, size_t L, struct fg_substr_span **out)
{
    size_t nw = 0, T = 0;
    for (size_t d = 0; d < in->n; d++) {
        nw += in->len[d] >= L ? in->len[d] - L + 1 : 0;
        T += in->len[d];
    }
    struct win *w = malloc((nw ? nw : 1) * sizeof *w);
    long **src = malloc((in->n ? in->n : 1) * sizeof *src);
    size_t k = 0;
    for (size_t d = 0; d < in->n; d++) {
        src[d] = malloc((in->len[d] + 1) * sizeof **src);
        for (size_t p = 0; p <= in->len[d]; p++)
            src[d][p] = -1;
        for (size_t p = 0; p + L <= in->len[d]; p++)
            w[k++] = (struct win){ in->doc[d] + p, d, p };
    }
    g_sort_L = L;
    qsort(w, nw, sizeof *w, cmp_win);
    for (size_t i = 0, g = 0; i < nw; i++) {
        if (i > 0 && memcmp(w[i].t, w[i - 1].t, L * sizeof *w[i].t))
            g = i; /* w[g] is the earliest document of this content */
        if (w[i].doc > w[g].doc)
            src[w[i].doc][w[i].pos] = (long)w[g].doc;
    }
    *out = malloc((T / (L ? L : 1) + 1) * sizeof **out);
    size_t ns = 0;
    for (size_t d = 0; d < in->n; d++) {
        int open = 0;
        size_t from = 0, to = 0, s = 0;
        for (size_t p = 0; p + L <= in->len[d]; p++) {
            if (src[d][p] < 0)
                continue;
            if (open && p <= to) {
                to = p + L;
                continue;
            }
            if (open)
                (*out)[ns++] = (struct fg_substr_span){ d, from, to, s };
            open = 1;
            from = p;
            to = p + L;
            s = (size_t)src[d][p];
        }
        if (open)
            (*out)[ns++] = (struct fg_substr_span){ d, from, to, s };
        free(src[d]);
    }
    free(src);
    free(w);
    return ns;
}

/* ---- running and comparing ---- */

struct result {
    fg_status st;
    struct fg_substr_span *spans;
    size_t n_spans;
    struct fg_substr_stats stats;
    char err[256];
};

static struct result run(const struct input *in, uint32_t vocab, size_t L, int sa64)
{
    struct result r;
    memset(&r, 0, sizeof r);
    struct fg_substr_params p = fg_substr_params_default();
    p.min_len = L;
    p.sa64 = sa64;
    r.st = fg_substr_dedup((const uint32_t *const *)in->doc, in->len, in->n, vocab, &p, &r.spans,
                           &r.n_spans, &r.stats, r.err, sizeof r.err);
    return r;
}

/* Compares spans with the expected ones and checks the stats against them; prints the first
 * difference. Returns 1 when equal. */
static int same_spans(struct fg_test *t, const struct input *in, const struct result *r,
                      const struct fg_substr_span *want, size_t n_want, const char *what)
{
    int ok = r->st == FG_OK && r->n_spans == n_want;
    for (size_t i = 0; ok && i < n_want; i++) {
        const struct fg_substr_span *a = &r->spans[i], *b = &want[i];
        if (a->doc != b->doc || a->from != b->from || a->to != b->to || a->src_doc != b->src_doc) {
            fg_test_fail(t, __FILE__, __LINE__,
                         "%s: span %zu is (doc %zu, %zu..%zu, src %zu), want (doc %zu, %zu..%zu, "
                         "src %zu)",
                         what, i, a->doc, a->from, a->to, a->src_doc, b->doc, b->from, b->to,
                         b->src_doc);
            return 0;
        }
    }
    if (!ok) {
        fg_test_fail(t, __FILE__, __LINE__, "%s: status %d (%s), %zu spans, want %zu", what,
                     (int)r->st, r->err, r->n_spans, n_want);
        return 0;
    }
    uint64_t tin = 0, trem = 0;
    size_t touched = 0;
    for (size_t d = 0; d < in->n; d++)
        tin += in->len[d];
    for (size_t i = 0; i < n_want; i++) {
        trem += want[i].to - want[i].from;
        touched += i == 0 || want[i].doc != want[i - 1].doc;
    }
    if (r->stats.docs != in->n || r->stats.spans != n_want || r->stats.tokens_in != tin ||
        r->stats.tokens_removed != trem || r->stats.docs_touched != touched) {
        fg_test_fail(t, __FILE__, __LINE__, "%s: wrong stats", what);
        return 0;
    }
    return 1;
}

static int check_brute(struct fg_test *t, const struct input *in, uint32_t vocab, size_t L,
                       int sa64, const char *what)
{
    struct fg_substr_span want[512];
    size_t n_want = ref_brute(in, L, want, 512);
    CHECK(t, n_want <= 512);
    struct result r = run(in, vocab, L, sa64);
    int ok = same_spans(t, in, &r, want, n_want, what);
    fg_free(NULL, r.spans);
    return ok;
}

/* Token ids whose w-byte encodings are made of the bytes 0, 1, 2, so that byte strings match
 * at misaligned offsets all the time: the suffix array must not be fooled by them. */
static void make_alphabet(struct fg_rng *g, uint32_t vocab, uint32_t *sym, size_t n_sym)
{
    unsigned w = vocab <= 256 ? 1 : vocab <= 65536 ? 2 : vocab <= (1u << 24) ? 3 : 4;
    for (size_t s = 0; s < n_sym; s++) {
        for (int tries = 0;; tries++) {
            uint32_t v = 0;
            for (unsigned k = 0; k < w; k++)
                v = (v << 8) | (uint32_t)fg_rng_below(g, 3);
            if (v >= vocab || tries > 20) /* the byte-0..2 ids may run out: any id then */
                v = (uint32_t)fg_rng_below(g, vocab);
            int dup = 0;
            for (size_t q = 0; q < s; q++)
                dup |= sym[q] == v;
            if (!dup) {
                sym[s] = v;
                break;
            }
        }
    }
}

/* Random documents over n_sym symbols, in pieces of 1..max_piece tokens; with probability 1/2
 * a piece is copied from anywhere earlier (same or earlier document), which plants repeats of
 * every length. */
static void random_input(struct fg_rng *g, struct input *in, size_t n, size_t max_len,
                         const uint32_t *sym, size_t n_sym, size_t max_piece)
{
    input_alloc(in, n);
    for (size_t d = 0; d < n; d++) {
        size_t len = (size_t)fg_rng_below(g, max_len + 1);
        if (fg_rng_below(g, 5) == 0)
            len = (size_t)fg_rng_below(g, 4); /* empty or short */
        uint32_t *t = malloc((len ? len : 1) * sizeof *t);
        size_t i = 0;
        while (i < len) {
            size_t piece = 1 + (size_t)fg_rng_below(g, max_piece);
            if (piece > len - i)
                piece = len - i;
            size_t e = (size_t)fg_rng_below(g, d + 1);
            const uint32_t *from = e < d ? in->doc[e] : t;
            size_t flen = e < d ? in->len[e] : i;
            if (fg_rng_below(g, 2) && flen >= piece) {
                size_t off = (size_t)fg_rng_below(g, flen - piece + 1);
                memmove(t + i, from + off, piece * sizeof *t);
            } else {
                for (size_t k = 0; k < piece; k++)
                    t[i + k] = sym[fg_rng_below(g, n_sym)];
            }
            i += piece;
        }
        in->doc[d] = t;
        in->len[d] = len;
    }
}

/* ---- tests ---- */

TEST(random_vs_brute_force)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed);
    static const uint32_t vocabs[] = {
        3, 256, 300, 65536, 70000, 1u << 24, (1u << 24) + 7, 1u << 31
    };
    size_t n_spans_total = 0;
    for (int c = 0; c < 4000; c++) {
        uint32_t vocab = vocabs[fg_rng_below(&g, sizeof vocabs / sizeof vocabs[0])];
        size_t n_sym = 1 + (size_t)fg_rng_below(&g, vocab < 4 ? vocab : 4);
        uint32_t sym[4];
        make_alphabet(&g, vocab, sym, n_sym);
        struct input in;
        size_t n = (size_t)fg_rng_below(&g, 8);
        random_input(&g, &in, n, 40, sym, n_sym, 12);
        size_t L = 1 + (size_t)fg_rng_below(&g, 6);
        int sa64 = (int)fg_rng_below(&g, 4) == 0;
        char what[128];
        snprintf(what, sizeof what, "case %d (vocab %u, %zu symbols, %zu docs, L %zu, sa64 %d)", c,
                 vocab, n_sym, n, L, sa64);
        struct fg_substr_span want[512];
        n_spans_total += ref_brute(&in, L, want, 512);
        int ok = check_brute(t, &in, vocab, L, sa64, what);
        input_free(&in);
        if (!ok)
            break;
    }
    CHECK(t, n_spans_total > 2000); /* the cases do exercise removals */
}

TEST(medium_vs_sort_reference)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 1);
    for (int c = 0; c < 12; c++) {
        uint32_t vocab = c % 3 == 0 ? 50257 : c % 3 == 1 ? 200 : 100000;
        size_t n_sym = c % 2 ? 3 : 64;
        uint32_t sym[64];
        if (n_sym == 64) /* a wide alphabet */
            for (size_t s = 0; s < 64; s++)
                sym[s] = (uint32_t)fg_rng_below(&g, vocab);
        else
            make_alphabet(&g, vocab, sym, n_sym);
        struct input in;
        random_input(&g, &in, 50 + (size_t)fg_rng_below(&g, 100), 600, sym, n_sym, 80);
        size_t L = 4 + (size_t)fg_rng_below(&g, 20);
        struct fg_substr_span *want;
        size_t n_want = ref_sort(&in, L, &want);
        for (int sa64 = 0; sa64 < 2; sa64++) {
            char what[96];
            snprintf(what, sizeof what, "medium case %d (vocab %u, L %zu, sa64 %d)", c, vocab, L,
                     sa64);
            struct result r = run(&in, vocab, L, sa64);
            CHECK(t, same_spans(t, &in, &r, want, n_want, what));
            fg_free(NULL, r.spans);
        }
        CHECK(t, n_want > 0);
        free(want);
        input_free(&in);
    }
}

/* The sort reference agrees with the brute force (the two references check each other). */
TEST(references_agree)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 2);
    for (int c = 0; c < 300; c++) {
        uint32_t sym[3] = { 0, 1, 2 };
        struct input in;
        random_input(&g, &in, (size_t)fg_rng_below(&g, 6), 30, sym, 1 + fg_rng_below(&g, 3), 12);
        size_t L = 1 + (size_t)fg_rng_below(&g, 5);
        struct fg_substr_span a[512], *b;
        size_t na = ref_brute(&in, L, a, 512), nb = ref_sort(&in, L, &b);
        CHECK_EQ_I64(t, na, nb);
        for (size_t i = 0; i < na && i < nb; i++)
            CHECK(t, a[i].doc == b[i].doc && a[i].from == b[i].from && a[i].to == b[i].to &&
                         a[i].src_doc == b[i].src_doc);
        free(b);
        input_free(&in);
    }
}

TEST(boundary_is_not_a_match)
{
    /* "2 3 4 5" runs across documents 0 and 1 in the concatenation: not an occurrence */
    const uint32_t d0[] = { 1, 2, 3 }, d1[] = { 4, 5, 6 }, d2[] = { 2, 3, 4, 5 };
    struct input in;
    input_alloc(&in, 3);
    set_doc(&in, 0, d0, 3);
    set_doc(&in, 1, d1, 3);
    set_doc(&in, 2, d2, 4);
    for (size_t L = 2; L <= 4; L++) {
        struct result r = run(&in, 10, L, 0);
        CHECK_OK(t, r.st);
        if (L == 2) { /* "2 3" and "4 5" lie inside documents 0 and 1: both removed */
            CHECK_EQ_I64(t, r.n_spans, 1);
            CHECK(t, r.n_spans == 1 && r.spans[0].doc == 2 && r.spans[0].from == 0 &&
                         r.spans[0].to == 4 && r.spans[0].src_doc == 0);
        } else {
            CHECK_EQ_I64(t, r.n_spans, 0);
            CHECK(t, r.spans == NULL);
        }
        fg_free(NULL, r.spans);
        CHECK(t, check_brute(t, &in, 10, L, 0, "boundary"));
    }
    input_free(&in);
}

TEST(repeat_within_document_is_kept)
{
    const uint32_t a[] = { 1, 2, 3, 4, 5, 9, 1, 2, 3, 4, 5 };
    const uint32_t b[] = { 7, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 8 };
    struct input in;
    input_alloc(&in, 2);
    set_doc(&in, 0, a, 11);
    set_doc(&in, 1, (const uint32_t[]){ 6, 6, 6, 6, 6, 6 }, 6);
    struct result r = run(&in, 10, 5, 0);
    CHECK_OK(t, r.st);
    CHECK_EQ_I64(t, r.n_spans, 0); /* doc 0 repeats itself: kept */
    CHECK_EQ_I64(t, r.stats.tokens_removed, 0);
    fg_free(NULL, r.spans);
    /* a later document with the same internal repeat loses both copies (touching: one span) */
    free(in.doc[1]);
    set_doc(&in, 1, b, 12);
    r = run(&in, 10, 5, 0);
    CHECK_EQ_I64(t, r.n_spans, 1);
    CHECK(t, r.n_spans == 1 && r.spans[0].doc == 1 && r.spans[0].from == 1 && r.spans[0].to == 11 &&
                 r.spans[0].src_doc == 0);
    fg_free(NULL, r.spans);
    input_free(&in);
}

TEST(three_copies)
{
    const uint32_t s[] = { 11, 12, 13, 14, 15, 16 };
    struct input in;
    input_alloc(&in, 4);
    uint32_t d0[8] = { 1, 0 }, d1[6], d3[9] = { 2, 3, 4 };
    memcpy(d0 + 2, s, sizeof s);
    memcpy(d1, s, sizeof s);
    memcpy(d3 + 3, s, sizeof s);
    set_doc(&in, 0, d0, 8);
    set_doc(&in, 1, d1, 6);
    set_doc(&in, 2, NULL, 0);
    set_doc(&in, 3, d3, 9);
    struct result r = run(&in, 20, 6, 0);
    CHECK_OK(t, r.st);
    CHECK_EQ_I64(t, r.n_spans, 2);
    if (r.n_spans == 2) {
        CHECK(t, r.spans[0].doc == 1 && r.spans[0].from == 0 && r.spans[0].to == 6 &&
                     r.spans[0].src_doc == 0);
        CHECK(t, r.spans[1].doc == 3 && r.spans[1].from == 3 && r.spans[1].to == 9 &&
                     r.spans[1].src_doc == 0);
    }
    CHECK_EQ_I64(t, r.stats.docs_touched, 2);
    CHECK_EQ_I64(t, r.stats.tokens_removed, 12);
    CHECK_EQ_I64(t, r.stats.tokens_in, 23);
    fg_free(NULL, r.spans);
    CHECK(t, check_brute(t, &in, 20, 6, 0, "three copies"));
    input_free(&in);
}

TEST(long_repeat_is_one_span)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 3);
    uint32_t x[300], y[340];
    for (size_t i = 0; i < 300; i++)
        x[i] = 1000 + (uint32_t)fg_rng_below(&g, 40000);
    for (size_t i = 0; i < 340; i++)
        y[i] = 50000 + (uint32_t)i; /* not in x */
    memcpy(y + 20, x, sizeof x);
    struct input in;
    input_alloc(&in, 2);
    set_doc(&in, 0, x, 300);
    set_doc(&in, 1, y, 340);
    struct result r = run(&in, 70257, 50, 0);
    CHECK_OK(t, r.st);
    CHECK_EQ_I64(t, r.n_spans, 1);
    CHECK(t, r.n_spans == 1 && r.spans[0].doc == 1 && r.spans[0].from == 20 &&
                 r.spans[0].to == 320 && r.spans[0].src_doc == 0);
    fg_free(NULL, r.spans);
    /* two unrelated 50-token pieces of x, back to back in y: touching windows merge */
    memcpy(y + 100, x + 200, 50 * sizeof *x);
    memcpy(y + 150, x + 10, 50 * sizeof *x);
    for (size_t i = 0; i < 100; i++)
        y[i] = y[200 + i] = 60000 + (uint32_t)i;
    free(in.doc[1]);
    set_doc(&in, 1, y, 340);
    r = run(&in, 70257, 50, 0);
    CHECK_EQ_I64(t, r.n_spans, 1);
    CHECK(t, r.n_spans == 1 && r.spans[0].from == 100 && r.spans[0].to == 200);
    fg_free(NULL, r.spans);
    input_free(&in);
}

TEST(wide_ids)
{
    /* ids above 2^16 and 2^24 (3- and 4-byte encodings) against the brute force */
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 4);
    static const uint32_t vocabs[] = { 65537, 100000, 1u << 24, (1u << 24) + 1, 1u << 31 };
    for (size_t v = 0; v < sizeof vocabs / sizeof vocabs[0]; v++) {
        uint32_t sym[3] = { vocabs[v] - 1, vocabs[v] - 2, 65536 };
        for (int c = 0; c < 100; c++) {
            struct input in;
            random_input(&g, &in, 6, 30, sym, 3, 12);
            CHECK(t, check_brute(t, &in, vocabs[v], 4, c % 2, "wide ids"));
            input_free(&in);
        }
    }
}

TEST(bad_arguments)
{
    const uint32_t d0[] = { 1, 2, 3 }, d1[] = { 4, 70000, 6 };
    const uint32_t *docs[] = { d0, d1 };
    size_t lens[] = { 3, 3 };
    struct fg_substr_params p = fg_substr_params_default();
    struct fg_substr_span *sp = (void *)1;
    size_t ns = 7;
    char err[256] = "";
    CHECK_EQ_I64(t, p.min_len, 50);
    /* an id >= vocab_size, named with its document and offset */
    CHECK_EQ_I64(t, fg_substr_dedup(docs, lens, 2, 65536, &p, &sp, &ns, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, sp == NULL && ns == 0);
    CHECK(t, strstr(err, "document 1, token 1") && strstr(err, "70000"));
    CHECK_OK(t, fg_substr_dedup(docs, lens, 2, 70001, &p, &sp, &ns, NULL, err, sizeof err));
    /* min_len 0, vocab_size 0 or > 2^31, missing arrays */
    p.min_len = 0;
    err[0] = 0;
    CHECK_EQ_I64(t, fg_substr_dedup(docs, lens, 2, 70001, &p, &sp, &ns, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "min_len") != NULL);
    p.min_len = 2;
    CHECK_EQ_I64(t, fg_substr_dedup(docs, lens, 2, 0, &p, &sp, &ns, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(
        t, fg_substr_dedup(docs, lens, 2, (1u << 31) + 1, &p, &sp, &ns, NULL, err, sizeof err),
        FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_substr_dedup(NULL, lens, 2, 100000, &p, &sp, &ns, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_substr_dedup(docs, lens, 2, 100000, &p, NULL, &ns, NULL, NULL, 0),
                 FG_ERR_INVALID_ARG);
    const uint32_t *holes[] = { d0, NULL };
    CHECK_EQ_I64(t, fg_substr_dedup(holes, lens, 2, 100000, &p, &sp, &ns, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "document 1") != NULL);
    size_t zero[] = { 3, 0 };
    CHECK_OK(t, fg_substr_dedup(holes, zero, 2, 100000, &p, &sp, &ns, NULL, err, sizeof err));
    CHECK(t, sp == NULL && ns == 0);
}

TEST(empty_inputs)
{
    struct fg_substr_span *sp = (void *)1;
    size_t ns = 7;
    struct fg_substr_stats st;
    CHECK_OK(t, fg_substr_dedup(NULL, NULL, 0, 50257, NULL, &sp, &ns, &st, NULL, 0));
    CHECK(t, sp == NULL && ns == 0 && st.docs == 0 && st.tokens_in == 0);
    /* only empty and short documents */
    struct input in;
    input_alloc(&in, 4);
    set_doc(&in, 0, NULL, 0);
    set_doc(&in, 1, (const uint32_t[]){ 1, 1, 1 }, 3);
    set_doc(&in, 2, (const uint32_t[]){ 1, 1, 1 }, 3);
    set_doc(&in, 3, NULL, 0);
    struct result r = run(&in, 2, 4, 0);
    CHECK_OK(t, r.st);
    CHECK(t, r.n_spans == 0 && r.spans == NULL && r.stats.docs == 4 && r.stats.tokens_in == 6);
    r = run(&in, 2, 3, 1);
    CHECK(t, r.n_spans == 1 && r.spans[0].doc == 2 && r.spans[0].src_doc == 1);
    fg_free(NULL, r.spans);
    for (size_t L = SIZE_MAX; L > 3; L /= 2) { /* min_len beyond any document: nothing */
        r = run(&in, 2, L, 0);
        CHECK(t, r.st == FG_OK && r.n_spans == 0 && r.stats.tokens_in == 6);
    }
    input_free(&in);
}

/* One token 10^6 times in each of two documents: one group of 2 * 10^6 windows. */
TEST(pathological_single_token)
{
    const size_t N = 1000000;
    struct input in;
    input_alloc(&in, 2);
    for (size_t d = 0; d < 2; d++) {
        in.doc[d] = malloc(N * sizeof *in.doc[d]);
        for (size_t i = 0; i < N; i++)
            in.doc[d][i] = 7;
        in.len[d] = N;
    }
    struct result r = run(&in, 50257, 50, 0);
    CHECK_OK(t, r.st);
    CHECK_EQ_I64(t, r.n_spans, 1);
    CHECK(t, r.n_spans == 1 && r.spans[0].doc == 1 && r.spans[0].from == 0 && r.spans[0].to == N &&
                 r.spans[0].src_doc == 0);
    CHECK_EQ_I64(t, r.stats.tokens_removed, N);
    fg_free(NULL, r.spans);
    input_free(&in);
}

/* A random document of 50,000 tokens, then 19 more copies of it (one with a changed token):
 * every copy is removed whole, the changed one around the change. */
TEST(pathological_repeated_document)
{
    const size_t N = 50000, C = 20, X = 20000;
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 5);
    struct input in;
    input_alloc(&in, C);
    for (size_t d = 0; d < C; d++) {
        in.doc[d] = malloc(N * sizeof *in.doc[d]);
        for (size_t i = 0; i < N; i++)
            in.doc[d][i] = d == 0 ? (uint32_t)fg_rng_below(&g, 50257) : in.doc[0][i];
        in.len[d] = N;
    }
    in.doc[C - 1][X] = 50300; /* not in document 0 */
    struct result r = run(&in, 60000, 50, 0);
    CHECK_OK(t, r.st);
    CHECK_EQ_I64(t, r.n_spans, C);
    for (size_t d = 1; d + 1 < C && r.n_spans == C; d++)
        CHECK(t, r.spans[d - 1].doc == d && r.spans[d - 1].from == 0 && r.spans[d - 1].to == N &&
                     r.spans[d - 1].src_doc == 0);
    if (r.n_spans == C) {
        CHECK(t, r.spans[C - 2].from == 0 && r.spans[C - 2].to == X);
        CHECK(t, r.spans[C - 1].from == X + 1 && r.spans[C - 1].to == N);
    }
    CHECK_EQ_I64(t, r.stats.tokens_removed, (C - 1) * N - 1);
    fg_free(NULL, r.spans);
    input_free(&in);
}

TEST(allocation_failures)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 6);
    uint32_t sym[4] = { 5, 6, 7, 8 };
    struct input in;
    random_input(&g, &in, 12, 200, sym, 4, 12);
    struct fg_substr_span want[512];
    size_t n_want = ref_brute(&in, 6, want, 512);
    CHECK(t, n_want > 0 && n_want <= 512);
    int ok = 0;
    for (size_t k = 1; k < 50 && !ok; k++) {
        struct fg_test_alloc f = { .fail_at = k };
        struct fg_allocator a = fg_test_allocator(&f);
        struct fg_substr_params p = fg_substr_params_default();
        p.min_len = 6;
        p.alloc = &a;
        struct fg_substr_span *sp = (void *)1;
        size_t ns = 9;
        char err[256] = "";
        fg_status st = fg_substr_dedup((const uint32_t *const *)in.doc, in.len, in.n, 10, &p, &sp,
                                       &ns, NULL, err, sizeof err);
        CHECK(t, st == FG_OK || st == FG_ERR_NOMEM);
        ok = st == FG_OK;
        if (!ok) {
            CHECK(t, sp == NULL && ns == 0);
            CHECK(t, strstr(err, "out of memory") != NULL);
            CHECK_EQ_I64(t, f.live, 0);
        } else {
            CHECK_EQ_I64(t, ns, n_want);
            CHECK_EQ_I64(t, f.live, 1); /* the spans */
            fg_free(&a, sp);
            CHECK_EQ_I64(t, f.live, 0);
            CHECK(t, k > 4); /* text, starts, suffix array, spans came first */
        }
        CHECK(t, !f.bad_align);
    }
    CHECK(t, ok);
    input_free(&in);
}

TEST(threads_do_not_change_the_result)
{
    struct fg_rng g;
    fg_rng_seed(&g, t->seed + 7);
    uint32_t sym[3] = { 1, 2, 3 };
    struct input in;
    random_input(&g, &in, 40, 300, sym, 3, 12);
    struct fg_substr_params p = fg_substr_params_default();
    p.min_len = 8;
    struct fg_substr_span *a, *b;
    size_t na, nb;
    CHECK_OK(t, fg_substr_dedup((const uint32_t *const *)in.doc, in.len, in.n, 4, &p, &a, &na, NULL,
                                NULL, 0));
    p.n_threads = 2;
    CHECK_OK(t, fg_substr_dedup((const uint32_t *const *)in.doc, in.len, in.n, 4, &p, &b, &nb, NULL,
                                NULL, 0));
    CHECK(t, na == nb && na > 0 && !memcmp(a, b, na * sizeof *a));
    fg_free(NULL, a);
    fg_free(NULL, b);
    input_free(&in);
}

static const struct fg_test_case cases[] = {
    { "random_vs_brute_force", test_random_vs_brute_force },
    { "medium_vs_sort_reference", test_medium_vs_sort_reference },
    { "references_agree", test_references_agree },
    { "boundary_is_not_a_match", test_boundary_is_not_a_match },
    { "repeat_within_document_is_kept", test_repeat_within_document_is_kept },
    { "three_copies", test_three_copies },
    { "long_repeat_is_one_span", test_long_repeat_is_one_span },
    { "wide_ids", test_wide_ids },
    { "bad_arguments", test_bad_arguments },
    { "empty_inputs", test_empty_inputs },
    { "pathological_single_token", test_pathological_single_token },
    { "pathological_repeated_document", test_pathological_repeated_document },
    { "allocation_failures", test_allocation_failures },
    { "threads_do_not_change_the_result", test_threads_do_not_change_the_result },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
