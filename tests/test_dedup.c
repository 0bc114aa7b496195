/* Dedup tests: the normalized exact hash, shingles and Jaccard by hand, and fg_dedup on Austen
 * paragraphs with planted exact copies (white space changed), near copies (about 1% of words
 * replaced) and the originals, against an all-pairs brute force: nothing that is not a
 * verified duplicate is ever removed, every planted copy is, and the result does not depend on
 * the thread count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/dedup.h"
#include "test.h"

#define CORPUS "data/austen/emma.txt"

TEST(exact_hash_normalizes)
{
    uint64_t a[2], b[2], c[2], d[2];
    fg_dedup_exact_hash("  Hello   world\n", 16, 0, a);
    fg_dedup_exact_hash("Hello world", 11, 0, b);
    fg_dedup_exact_hash("Hello  World", 12, 0, c);
    CHECK(t, a[0] == b[0] && a[1] == b[1]);
    CHECK(t, !(c[0] == b[0] && c[1] == b[1])); /* case matters without casefold */
    fg_dedup_exact_hash("Hello  World", 12, 1, c);
    fg_dedup_exact_hash("hello world", 11, 1, d);
    CHECK(t, c[0] == d[0] && c[1] == d[1]);
    fg_dedup_exact_hash("Hello worlds", 12, 0, d);
    CHECK(t, d[0] != b[0] && d[1] != b[1]);
    fg_dedup_exact_hash("ab", 2, 0, c);
    fg_dedup_exact_hash("a b", 3, 0, d);
    CHECK(t, c[0] != d[0]); /* a space is not nothing */
}

TEST(shingles_and_jaccard)
{
    uint64_t x[16], y[16];
    CHECK_EQ_I64(t, fg_dedup_shingles("one two three four five six", 27, 5, x, 16), 2);
    CHECK_EQ_I64(t, fg_dedup_shingles("one two", 7, 5, x, 16), 1);
    CHECK_EQ_I64(t, fg_dedup_shingles("  ,;  ", 6, 5, x, 16), 0);
    CHECK_EQ_I64(t, fg_dedup_shingles("* * *", 5, 5, NULL, 0), 0); /* no words, no buffer */
    /* case and punctuation do not matter; a repeated shingle counts once */
    size_t na = fg_dedup_shingles("a b c a b c a b c", 17, 2, x, 16);
    size_t nb = fg_dedup_shingles("A, B; C. A B C!", 15, 2, y, 16);
    CHECK_EQ_I64(t, na, 3); /* ab bc ca */
    CHECK_EQ_I64(t, nb, 3);
    CHECK(t, fg_dedup_jaccard(x, na, y, nb) == 1.0);
    for (size_t i = 1; i < na; i++)
        CHECK(t, x[i - 1] < x[i]);
    /* capacity: the count is returned even when it does not fit */
    CHECK_EQ_I64(t, fg_dedup_shingles("a b c d e f g h", 15, 1, x, 3), 8);
    const uint64_t s1[] = { 1, 2, 3, 4 }, s2[] = { 3, 4, 5, 6, 7, 8 };
    CHECK(t, fg_dedup_jaccard(s1, 4, s2, 6) == 2.0 / 8.0);
    CHECK(t, fg_dedup_jaccard(s1, 0, s2, 0) == 1.0);
    CHECK(t, fg_dedup_jaccard(s1, 4, s2, 0) == 0.0);
}

/* ---- a planted corpus ---- */

struct corpus {
    char **doc;
    size_t *len;
    size_t n;
    size_t *copy_of; /* planted: the original; SIZE_MAX for originals */
    int *kind;       /* 0 original, 1 exact copy, 2 near copy */
};

static void corpus_free(struct corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->doc[i]);
    free(c->doc), free(c->len), free(c->copy_of), free(c->kind);
}

static void add(struct corpus *c, char *d, size_t len, size_t of, int kind)
{
    c->doc[c->n] = d;
    c->len[c->n] = len;
    c->copy_of[c->n] = of;
    c->kind[c->n] = kind;
    c->n++;
}

/* originals: paragraphs of at least 600 bytes; then per original, sometimes an exact copy with
 * doubled spaces, sometimes a near copy with about 1 word in 50 replaced */
static int build(struct corpus *c, struct fg_rng *r, size_t want)
{
    void *buf;
    size_t size;
    char err[256];
    if (fg_read_file(NULL, CORPUS, &buf, &size, err, sizeof err) != FG_OK)
        return 0;
    const char *text = buf;
    size_t cap = 3 * want;
    c->doc = calloc(cap, sizeof *c->doc);
    c->len = calloc(cap, sizeof *c->len);
    c->copy_of = calloc(cap, sizeof *c->copy_of);
    c->kind = calloc(cap, sizeof *c->kind);
    c->n = 0;
    size_t originals = 0, pos = 0;
    while (originals < want && pos < size) {
        size_t end = pos;
        while (end + 1 < size && !(text[end] == '\n' && text[end + 1] == '\n'))
            end++;
        if (end - pos >= 600) {
            size_t len = end - pos;
            char *d = malloc(len);
            memcpy(d, text + pos, len);
            size_t id = c->n;
            add(c, d, len, SIZE_MAX, 0);
            originals++;
            uint64_t roll = fg_rng_below(r, 4);
            if (roll == 0) { /* exact copy: every space doubled, newlines as spaces */
                char *e = malloc(2 * len);
                size_t m = 0;
                for (size_t i = 0; i < len; i++) {
                    char ch = d[i] == '\n' ? ' ' : d[i];
                    e[m++] = ch;
                    if (ch == ' ')
                        e[m++] = ' ';
                }
                add(c, e, m, id, 1);
            } else if (roll == 1) {            /* near copy: about 1% of words become "zzz" */
                char *e = malloc(3 * len + 3); /* "zzz" may be longer than the word */
                size_t m = 0;
                for (size_t i = 0; i < len;) {
                    size_t j = i;
                    while (j < len && d[j] != ' ')
                        j++;
                    if (fg_rng_below(r, 100) == 0) {
                        memcpy(e + m, "zzz", 3);
                        m += 3;
                    } else {
                        memcpy(e + m, d + i, j - i);
                        m += j - i;
                    }
                    if (j < len)
                        e[m++] = ' ';
                    i = j + 1;
                }
                add(c, e, m, id, 2);
            }
        }
        pos = end + 2;
    }
    fg_free(NULL, buf);
    return originals == want;
}

static size_t root_of(size_t *parent, size_t x)
{
    while (parent[x] != x)
        x = parent[x];
    return x;
}

TEST(dedup_planted_vs_brute_force)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    struct corpus c;
    memset(&c, 0, sizeof c);
    if (!build(&c, &r, 120)) {
        fg_test_fail(t, __FILE__, __LINE__, "could not build the corpus from %s", CORPUS);
        return;
    }
    struct fg_dedup_params p = fg_dedup_params_default();
    p.n_threads = 2;
    struct fg_dedup_doc *out = calloc(c.n, sizeof *out), *out1 = calloc(c.n, sizeof *out1);
    struct fg_dedup_stats st;
    char err[256];
    CHECK_OK(t, fg_dedup((const char *const *)c.doc, c.len, c.n, &p, out, &st, err, sizeof err));

    /* brute force: all pairs' Jaccard over the same shingles, union-find at the threshold */
    uint64_t **sh = calloc(c.n, sizeof *sh);
    size_t *ns = calloc(c.n, sizeof *ns), *parent = calloc(c.n, sizeof *parent);
    for (size_t i = 0; i < c.n; i++) {
        size_t m = fg_dedup_shingles(c.doc[i], c.len[i], p.shingle, NULL, 0);
        sh[i] = malloc((m + 1) * sizeof **sh);
        ns[i] = fg_dedup_shingles(c.doc[i], c.len[i], p.shingle, sh[i], m);
        parent[i] = i;
    }
    for (size_t i = 0; i < c.n; i++)
        for (size_t j = i + 1; j < c.n; j++)
            if (fg_dedup_jaccard(sh[i], ns[i], sh[j], ns[j]) >= p.threshold) {
                size_t a = root_of(parent, i), b = root_of(parent, j);
                if (a != b)
                    parent[a > b ? a : b] = a < b ? a : b;
            }
    size_t planted = 0, caught = 0, wrong = 0, brute_removed = 0;
    for (size_t i = 0; i < c.n; i++) {
        int removed = out[i].reason != FG_DEDUP_KEPT;
        size_t br = root_of(parent, i);
        brute_removed += br != i;
        /* precision: removed only if the brute force clusters it with an earlier document,
         * and linked to the same kept document */
        if (removed && (br == i || out[i].dup_of != br))
            wrong++;
        if (out[i].reason == FG_DEDUP_NEAR && out[i].jaccard < p.threshold)
            wrong++;
        if (c.kind[i] != 0) {
            /* recall is asserted where LSH all but guarantees a candidate: at Jaccard >= 0.9,
             * P = 1 - (1 - 0.9^8)^14 = 0.9998 */
            size_t o = c.copy_of[i];
            if (fg_dedup_jaccard(sh[i], ns[i], sh[o], ns[o]) < 0.9)
                continue;
            planted++;
            caught += removed && out[i].dup_of == o;
            if (c.kind[i] == 1 && out[i].reason != FG_DEDUP_EXACT)
                fg_test_fail(t, __FILE__, __LINE__, "exact copy %zu: reason %d", i,
                             (int)out[i].reason);
        } else if (removed) {
            fg_test_fail(t, __FILE__, __LINE__, "original %zu removed as a copy of %zu", i,
                         out[i].dup_of);
        }
    }
    printf("  %zu documents, %zu planted copies at Jaccard >= 0.9: caught %zu; removed %zu exact + "
           "%zu near; "
           "brute force removes %zu; %zu candidates, %zu verified\n",
           c.n, planted, caught, st.exact_removed, st.near_removed, brute_removed, st.candidates,
           st.verified);
    CHECK_EQ_I64(t, wrong, 0);
    CHECK(t, planted > 40);
    CHECK_EQ_I64(t, caught, planted);
    CHECK(t, st.exact_removed + st.near_removed <= brute_removed);
    CHECK(t, st.exact_removed + st.near_removed >= planted);
    CHECK_EQ_I64(t, st.kept + st.exact_removed + st.near_removed, c.n);

    /* same answer with one thread */
    p.n_threads = 1;
    CHECK_OK(t, fg_dedup((const char *const *)c.doc, c.len, c.n, &p, out1, NULL, err, sizeof err));
    for (size_t i = 0; i < c.n; i++)
        CHECK(t, out1[i].reason == out[i].reason && out1[i].dup_of == out[i].dup_of);

    /* stages can be turned off */
    p.near = 0;
    CHECK_OK(t, fg_dedup((const char *const *)c.doc, c.len, c.n, &p, out1, &st, err, sizeof err));
    CHECK(t, st.near_removed == 0 && st.exact_removed > 0);
    for (size_t i = 0; i < c.n; i++)
        free(sh[i]);
    free(sh), free(ns), free(parent), free(out), free(out1);
    corpus_free(&c);
}

TEST(dedup_bad_params)
{
    struct fg_dedup_params p = fg_dedup_params_default();
    const char *d[] = { "a", "b" };
    size_t l[] = { 1, 1 };
    struct fg_dedup_doc out[2];
    char err[128] = "";
    p.bands = 0;
    CHECK(t, fg_dedup(d, l, 2, &p, out, NULL, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, err[0] != '\0');
    p = fg_dedup_params_default();
    p.threshold = 1.5;
    CHECK(t, fg_dedup(d, l, 2, &p, out, NULL, err, sizeof err) == FG_ERR_INVALID_ARG);
    p = fg_dedup_params_default();
    CHECK_OK(t, fg_dedup(d, l, 0, &p, out, NULL, err, sizeof err)); /* nothing to do */
    CHECK_OK(t, fg_dedup(d, l, 2, &p, out, NULL, err, sizeof err));
    CHECK(t, out[0].reason == FG_DEDUP_KEPT && out[1].reason == FG_DEDUP_KEPT);
    /* documents without a word (nothing to shingle) are kept, never compared */
    const char *w[] = { "* * *", "* * *", "---" };
    size_t wl[] = { 5, 5, 3 };
    struct fg_dedup_doc o3[3];
    CHECK_OK(t, fg_dedup(w, wl, 3, &p, o3, NULL, err, sizeof err));
    CHECK(t, o3[1].reason == FG_DEDUP_EXACT && o3[2].reason == FG_DEDUP_KEPT);
}

static const struct fg_test_case cases[] = {
    { "exact_hash_normalizes", test_exact_hash_normalizes },
    { "shingles_and_jaccard", test_shingles_and_jaccard },
    { "dedup_planted_vs_brute_force", test_dedup_planted_vs_brute_force },
    { "dedup_bad_params", test_dedup_bad_params },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
