/* Tokenizer training and tokenizer.json tests:
 *  - a hand-checked corpus ("aaabdaaabac": aa, ab, then aa+ab, with their counts), the tie rule,
 *    GPT-2's byte order for ids 0..255, <|endoftext|> last, min_pair_count;
 *  - determinism: the same merges twice, with 1 and 2 counting threads, and for the documents in
 *    another order;
 *  - the trainer agrees with the encoder: on novels.txt and on 300 random small corpora the ids
 *    the encoder produces number exactly what the trainer predicted (its words' final state),
 *    and the fast encoder equals fg_tokenizer_encode_ref;
 *  - every corpus file and random bytes round-trip through the trained tokenizer;
 *  - compression: vocabulary 4096 trained on emma.txt encodes it at under 0.30 ids per byte
 *    (measured 0.263; a trainer whose merges did not apply would give 1.0);
 *  - tokenizer.json: save -> load gives the same vocabulary, merges and ids; the file has Hugging
 *    Face's layout (checked field by field with cJSON); GPT-2's files convert and still give
 *    tiktoken's ids; bad files (truncated, unknown merge token, duplicate ids, not BPE, ...) give
 *    FG_ERR_FORMAT or FG_ERR_UNSUPPORTED with the file named; a failed save leaves no file;
 *  - failing the k-th allocation of training and of loading returns FG_ERR_NOMEM, leaks nothing.
 * Run from the repository root (make test does): the data files are found by relative path.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frugal/core.h"
#include "frugal/tokenizer.h"
#include "test.h"

/* ---- helpers --------------------------------------------------------------------------------- */
static const char *const novel_files[] = {
    "data/austen/emma.txt",
    "data/austen/mansfieldpark.txt",
    "data/austen/northangerabbey.txt",
    "data/austen/persuasion.txt",
    "data/austen/prideprejudice.txt",
    "data/austen/sensesensibility.txt",
    "data/extra/mobydick.txt",
};
#define N_NOVELS 7

struct corpus {
    uint8_t *file[N_NOVELS];
    size_t len[N_NOVELS];
    uint8_t *all; /* novels.txt: the files concatenated */
    size_t all_len;
};

static int read_corpus(struct fg_test *t, struct corpus *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_NOVELS; i++) {
        void *buf = NULL;
        char err[256];
        if (fg_read_file(NULL, novel_files[i], &buf, &c->len[i], err, sizeof err) != FG_OK) {
            fg_test_fail(t, __FILE__, __LINE__, "%s (run from the repo root)", err);
            return 0;
        }
        c->file[i] = buf;
        c->all_len += c->len[i];
    }
    c->all = malloc(c->all_len);
    size_t at = 0;
    for (size_t i = 0; i < N_NOVELS; i++) {
        memcpy(c->all + at, c->file[i], c->len[i]);
        at += c->len[i];
    }
    return 1;
}

static void free_corpus(struct corpus *c)
{
    for (size_t i = 0; i < N_NOVELS; i++)
        fg_free(NULL, c->file[i]);
    free(c->all);
}

/* Train on docs; NULL (and a failed check) on error. */
static struct fg_tokenizer *train(struct fg_test *t, const void *const *docs, const size_t *lens,
                                  size_t n_docs, size_t vocab, int n_threads, uint64_t min_count,
                                  struct fg_tokenizer_train_stats *st)
{
    struct fg_tokenizer_train_params p = fg_tokenizer_train_params_default();
    p.n_threads = n_threads;
    p.min_pair_count = min_count;
    struct fg_tokenizer *tok = NULL;
    char err[256];
    fg_status s = fg_tokenizer_train(&tok, docs, lens, n_docs, vocab, &p, st, err, sizeof err);
    if (s != FG_OK)
        fg_test_fail(t, __FILE__, __LINE__, "train: status %d: %s", s, err);
    return tok;
}

static struct fg_tokenizer *train_text(struct fg_test *t, const char *text, size_t vocab,
                                       uint64_t min_count, struct fg_tokenizer_train_stats *st)
{
    const void *doc = text;
    size_t len = strlen(text);
    return train(t, &doc, &len, 1, vocab, 1, min_count, st);
}

/* Whether the merge of `rank` joins the byte strings a and b (NUL-terminated) with `count`. */
static int merge_is(const struct fg_tokenizer *tok, size_t rank, const char *a, const char *b,
                    uint64_t count)
{
    struct fg_tokenizer_merge_info m;
    if (fg_tokenizer_get_merge(tok, rank, &m) != FG_OK)
        return 0;
    size_t la = 0, lb = 0, lz = 0;
    const uint8_t *pa = fg_tokenizer_token_bytes(tok, m.a, &la);
    const uint8_t *pb = fg_tokenizer_token_bytes(tok, m.b, &lb);
    const uint8_t *pz = fg_tokenizer_token_bytes(tok, m.id, &lz);
    return la == strlen(a) && !memcmp(pa, a, la) && lb == strlen(b) && !memcmp(pb, b, lb) &&
           lz == la + lb && !memcmp(pz, a, la) && !memcmp(pz + la, b, lb) && m.count == count;
}

/* Whether two tokenizers have the same tokens, merges and eot id (counts aside). */
static int same_vocab(const struct fg_tokenizer *x, const struct fg_tokenizer *y, int counts)
{
    if (fg_tokenizer_n_vocab(x) != fg_tokenizer_n_vocab(y) ||
        fg_tokenizer_n_merges(x) != fg_tokenizer_n_merges(y) ||
        fg_tokenizer_eot_id(x) != fg_tokenizer_eot_id(y))
        return 0;
    for (uint32_t id = 0; id < fg_tokenizer_n_vocab(x); id++) {
        size_t lx = 0, ly = 0;
        const uint8_t *bx = fg_tokenizer_token_bytes(x, id, &lx);
        const uint8_t *by = fg_tokenizer_token_bytes(y, id, &ly);
        if (lx != ly || memcmp(bx, by, lx) != 0)
            return 0;
    }
    for (size_t r = 0; r < fg_tokenizer_n_merges(x); r++) {
        struct fg_tokenizer_merge_info a, b;
        fg_tokenizer_get_merge(x, r, &a);
        fg_tokenizer_get_merge(y, r, &b);
        if (a.a != b.a || a.b != b.b || a.id != b.id || (counts && a.count != b.count))
            return 0;
    }
    return 1;
}

/* Encode with the fast (ref = 0) or reference encoder into a new malloc'd array. */
static uint32_t *encode(struct fg_test *t, struct fg_tokenizer *tok, const void *s, size_t n,
                        int ref, size_t *n_ids)
{
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    fg_status st = ref ? fg_tokenizer_encode_ref(tok, s, n, 0, ids, n, n_ids)
                       : fg_tokenizer_encode(tok, s, n, 0, ids, n, n_ids);
    if (st != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "encode: %s", fg_tokenizer_errmsg(tok));
        *n_ids = 0;
    }
    return ids;
}

/* decode(encode(s)) == s, and fast == ref when check_ref. */
static void check_roundtrip(struct fg_test *t, struct fg_tokenizer *tok, const uint8_t *s, size_t n,
                            int check_ref, const char *what)
{
    size_t nf = 0, nr = 0, back_len = 0;
    uint32_t *f = encode(t, tok, s, n, 0, &nf);
    if (check_ref) {
        uint32_t *r = encode(t, tok, s, n, 1, &nr);
        if (nf != nr || memcmp(f, r, nf * sizeof *f) != 0)
            fg_test_fail(t, __FILE__, __LINE__, "%s: fast and ref encoders differ", what);
        free(r);
    }
    uint8_t *back = malloc(n ? n : 1);
    if (fg_tokenizer_decode(tok, f, nf, back, n, &back_len) != FG_OK || back_len != n ||
        (n && memcmp(back, s, n) != 0))
        fg_test_fail(t, __FILE__, __LINE__, "%s: decode(encode(x)) != x", what);
    free(back);
    free(f);
}

static int make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/frugal_test_toktrain_XXXXXX");
    return mkdtemp(dir) != NULL;
}

static int write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* ---- small corpora checked by hand ----------------------------------------------------------- */
/* Wikipedia's BPE example. One piece (all letters): pairs aa 4 (two runs "aaa", two each),
 * ab 2, bd 1, da 1, ba 1, ac 1. Merge aa (count 4): "aaab" -> [aa, a, b] (left to right),
 * so the word is aa a b d aa a b a c. Now aa+a 2 and a+b 2 tie; "a" sorts before "aa", so ab
 * comes first, then aa+ab (2). Every other pair occurs once: with min_pair_count 2 that is all. */
TEST(hand_example)
{
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train_text(t, "aaabdaaabac", 1000, 2, &st);
    if (!tok)
        return;
    CHECK_EQ_I64(t, fg_tokenizer_n_merges(tok), 3);
    CHECK(t, merge_is(tok, 0, "a", "a", 4));
    CHECK(t, merge_is(tok, 1, "a", "b", 2));
    CHECK(t, merge_is(tok, 2, "aa", "ab", 2));
    CHECK_EQ_I64(t, fg_tokenizer_n_vocab(tok), 256 + 3 + 1);
    CHECK_EQ_I64(t, fg_tokenizer_eot_id(tok), 259);
    size_t len = 0;
    const uint8_t *b = fg_tokenizer_token_bytes(tok, 259, &len);
    CHECK(t, b && len == 13 && !memcmp(b, FG_TOKENIZER_EOT_TEXT, 13));
    struct fg_tokenizer_merge_info m;
    CHECK_OK(t, fg_tokenizer_get_merge(tok, 2, &m));
    CHECK_EQ_I64(t, m.id, 258);
    CHECK_EQ_I64(t, fg_tokenizer_get_merge(tok, 3, &m), FG_ERR_INVALID_ARG);
    /* the ids: aaab d aaab a c */
    CHECK_EQ_I64(t, st.n_pieces, 1);
    CHECK_EQ_I64(t, st.n_words, 1);
    CHECK_EQ_I64(t, st.n_tokens, 5);
    CHECK_EQ_I64(t, st.n_merges, 3);
    uint32_t ids[16];
    size_t n = 0;
    CHECK_OK(t, fg_tokenizer_encode(tok, "aaabdaaabac", 11, 0, ids, 16, &n));
    CHECK_EQ_I64(t, n, 5);
    CHECK(t, n == 5 && ids[0] == 258 && ids[2] == 258 && ids[1] == (uint32_t)('d' - 0x21));
    /* min_pair_count 1 goes on merging pairs seen once, up to vocab_size */
    fg_tokenizer_free(tok);
    tok = train_text(t, "aaabdaaabac", 1000, 1, &st);
    if (tok)
        CHECK(t, fg_tokenizer_n_merges(tok) > 3 && st.n_tokens == 1);
    fg_tokenizer_free(tok);
    /* vocab_size caps the merges: 257 leaves none, 258 one */
    tok = train_text(t, "aaabdaaabac", 257, 1, &st);
    if (tok)
        CHECK(t, fg_tokenizer_n_merges(tok) == 0 && fg_tokenizer_n_vocab(tok) == 257);
    fg_tokenizer_free(tok);
    tok = train_text(t, "aaabdaaabac", 258, 1, &st);
    if (tok)
        CHECK(t, fg_tokenizer_n_merges(tok) == 1 && merge_is(tok, 0, "a", "a", 4));
    fg_tokenizer_free(tok);
}

/* The byte tokens are ids 0..255 in GPT-2's order (encoder.json's): '!' is 0, 'A' 32, 0xFF 187,
 * 0x00 188, ' ' 220, 0xAD 255. */
TEST(byte_order_is_gpt2s)
{
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train_text(t, "", 300, 2, &st);
    if (!tok)
        return;
    CHECK_EQ_I64(t, fg_tokenizer_n_vocab(tok), 257);
    CHECK_EQ_I64(t, st.n_tokens, 0);

    static const struct {
        uint8_t byte;
        int64_t id;
    } want[] = { { '!', 0 },    { 'A', 32 },   { '~', 93 },  { 0xA1, 94 },  { 0xFF, 187 },
                 { 0x00, 188 }, { '\n', 198 }, { ' ', 220 }, { 0x7F, 221 }, { 0xAD, 255 } };

    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, &want[i].byte, 1), want[i].id);
    fg_tokenizer_free(tok);
    /* GPT-2's own files agree */
    struct fg_tokenizer *g = NULL;
    char err[256];
    if (fg_tokenizer_load_gpt2(&g, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe", NULL, err,
                               sizeof err) == FG_OK) {
        for (int b = 0; b < 256; b++) {
            uint8_t c = (uint8_t)b;
            CHECK(t, fg_tokenizer_token_id(g, &c, 1) < 256);
        }
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            CHECK_EQ_I64(t, fg_tokenizer_token_id(g, &want[i].byte, 1), want[i].id);
        fg_tokenizer_free(g);
    } else {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
    }
}

/* Ties: equal counts go to the pair whose left token's bytes sort first, then the right's; the
 * document order does not matter. Pieces: "xy", "ac", "ab" twice each (and "\n" pieces). */
TEST(tie_rule_and_document_order)
{
    const char *docs_s[] = { "xy\nac\n", "ab\nxy\n", "ac\nab" };
    const void *docs[3] = { docs_s[0], docs_s[1], docs_s[2] };
    size_t lens[3] = { strlen(docs_s[0]), strlen(docs_s[1]), strlen(docs_s[2]) };
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train(t, docs, lens, 3, 1000, 1, 2, &st);
    if (!tok)
        return;
    CHECK_EQ_I64(t, fg_tokenizer_n_merges(tok), 3);
    CHECK(t, merge_is(tok, 0, "a", "b", 2));
    CHECK(t, merge_is(tok, 1, "a", "c", 2));
    CHECK(t, merge_is(tok, 2, "x", "y", 2));
    CHECK_EQ_I64(t, st.n_pieces, 11);
    CHECK_EQ_I64(t, st.n_words, 4);
    /* reversed documents: the same tokenizer */
    const void *rdocs[3] = { docs[2], docs[1], docs[0] };
    size_t rlens[3] = { lens[2], lens[1], lens[0] };
    struct fg_tokenizer *rev = train(t, rdocs, rlens, 3, 1000, 2, 2, &st);
    if (rev)
        CHECK(t, same_vocab(tok, rev, 1));
    fg_tokenizer_free(rev);
    fg_tokenizer_free(tok);
    /* A prefix sorts first: "a"+"ab" before "ab"+"a" at equal counts? Pieces "aab" and "aba"
     * twice each: ab 4 first; then [a, ab] 2 and [ab, a] 2 tie, and "a" < "ab". */
    tok = train_text(t, "aab\naba\naab\naba", 1000, 2, &st);
    if (tok) {
        CHECK(t, merge_is(tok, 0, "a", "b", 4));
        CHECK(t, merge_is(tok, 1, "a", "ab", 2));
        CHECK(t, merge_is(tok, 2, "ab", "a", 2));
    }
    fg_tokenizer_free(tok);
}

/* ---- novels.txt ------------------------------------------------------------------------------ */
/* Twice the same; 1 and 2 threads the same; the seven files as documents in reverse order give
 * the same as in order; pieces never cross documents (novels.txt as one document differs only
 * where a file ends in a blank line). */
TEST(determinism)
{
    struct corpus c;
    if (!read_corpus(t, &c))
        return;
    const void *one = c.all;
    struct fg_tokenizer_train_stats s1, s2, s3;
    struct fg_tokenizer *a = train(t, &one, &c.all_len, 1, 4096, 1, 2, &s1);
    struct fg_tokenizer *b = train(t, &one, &c.all_len, 1, 4096, 1, 2, &s2);
    struct fg_tokenizer *d = train(t, &one, &c.all_len, 1, 4096, 2, 2, &s3);
    if (a && b && d) {
        CHECK(t, same_vocab(a, b, 1));
        CHECK(t, same_vocab(a, d, 1));
        CHECK(t,
              s1.n_pieces == s3.n_pieces && s1.n_words == s3.n_words && s1.n_tokens == s3.n_tokens);
        CHECK_EQ_I64(t, fg_tokenizer_n_vocab(a), 4096);
        printf("  novels.txt, vocab 4096: %llu pieces, %llu distinct, %u merges, "
               "%llu ids; first merges:",
               (unsigned long long)s1.n_pieces, (unsigned long long)s1.n_words, s1.n_merges,
               (unsigned long long)s1.n_tokens);
        for (size_t r = 0; r < 5; r++) {
            struct fg_tokenizer_merge_info m;
            fg_tokenizer_get_merge(a, r, &m);
            size_t la, lb;
            const uint8_t *pa = fg_tokenizer_token_bytes(a, m.a, &la);
            const uint8_t *pb = fg_tokenizer_token_bytes(a, m.b, &lb);
            printf(" \"%.*s\"+\"%.*s\" %llu", (int)la, pa, (int)lb, pb,
                   (unsigned long long)m.count);
        }
        printf("\n");
    }
    fg_tokenizer_free(b);
    fg_tokenizer_free(d);
    /* the files as documents, forwards with 1 thread and backwards with 2 */
    const void *fw[N_NOVELS], *bw[N_NOVELS];
    size_t fl[N_NOVELS], bl[N_NOVELS];
    for (size_t i = 0; i < N_NOVELS; i++) {
        fw[i] = c.file[i];
        fl[i] = c.len[i];
        bw[i] = c.file[N_NOVELS - 1 - i];
        bl[i] = c.len[N_NOVELS - 1 - i];
    }
    b = train(t, fw, fl, N_NOVELS, 4096, 1, 2, &s2);
    d = train(t, bw, bl, N_NOVELS, 4096, 2, 2, &s3);
    if (b && d)
        CHECK(t, same_vocab(b, d, 1) && s2.n_tokens == s3.n_tokens);
    fg_tokenizer_free(a);
    fg_tokenizer_free(b);
    fg_tokenizer_free(d);
    free_corpus(&c);
}

/* The trained tokenizer and the encoder agree exactly: encode_docs gives the trainer's count on
 * novels.txt; the fast encoder equals the reference on a novel; every file round-trips. */
TEST(encoder_agrees_with_trainer)
{
    struct corpus c;
    if (!read_corpus(t, &c))
        return;
    const void *one = c.all;
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train(t, &one, &c.all_len, 1, 4096, 2, 2, &st);
    if (!tok) {
        free_corpus(&c);
        return;
    }
    uint32_t *ids = malloc(c.all_len * sizeof *ids);
    size_t start[2];
    CHECK_OK(t, fg_tokenizer_encode_docs(tok, &one, &c.all_len, 1, 0, ids, c.all_len, start));
    CHECK_EQ_I64(t, start[1], st.n_tokens);
    free(ids);
    for (size_t i = 0; i < N_NOVELS; i++)
        check_roundtrip(t, tok, c.file[i], c.len[i], i == 3, novel_files[i]);
    fg_tokenizer_free(tok);
    free_corpus(&c);
}

/* Random corpora from a small alphabet (many repeated and overlapping pairs: "aaa", "abab"):
 * for each, the encoder's id count equals the trainer's, fast == ref, and random bytes and the
 * corpus round-trip. This is where merge order, overlaps and ties would show. */
TEST(random_corpora)
{
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    static const char *const alpha[] = { "ab", "abc", "ab \n", "a\xC3\xA9 1'" };
    uint8_t *buf = malloc(1 << 16);
    int n_bad = 0;
    for (int trial = 0; trial < 300 && n_bad < 3; trial++) {
        const char *al = alpha[trial % 4];
        size_t n_al = strlen(al), n = 0;
        size_t n_words = 2 + fg_rng_below(&r, 30);
        for (size_t w = 0; w < n_words; w++) {
            uint8_t word[24];
            size_t len = 1 + fg_rng_below(&r, 20);
            for (size_t i = 0; i < len; i++)
                word[i] = (uint8_t)al[fg_rng_below(&r, n_al)];
            for (uint64_t k = 1 + fg_rng_below(&r, 8); k > 0; k--) {
                memcpy(buf + n, word, len);
                n += len;
                buf[n++] = '\n';
            }
        }
        struct fg_tokenizer_train_stats st;
        const void *doc = buf;
        struct fg_tokenizer *tok =
            train(t, &doc, &n, 1, 256 + 1 + fg_rng_below(&r, 200), 1, 1 + fg_rng_below(&r, 2), &st);
        if (!tok)
            break;
        size_t nf = 0;
        uint32_t *f = encode(t, tok, buf, n, 0, &nf);
        if (nf != st.n_tokens) {
            n_bad++;
            fg_test_fail(t, __FILE__, __LINE__,
                         "trial %d: the encoder gives %zu ids, the trainer predicted %llu", trial,
                         nf, (unsigned long long)st.n_tokens);
        }
        free(f);
        check_roundtrip(t, tok, buf, n, 1, "random corpus");
        uint8_t bytes[300];
        for (size_t i = 0; i < sizeof bytes; i++)
            bytes[i] = (uint8_t)fg_rng_below(&r, 256);
        check_roundtrip(t, tok, bytes, sizeof bytes, 1, "random bytes");
        fg_tokenizer_free(tok);
    }
    free(buf);
}

/* Long pieces: a 200,000-byte run of one letter and a 100,000-byte line of "ab" without spaces
 * train, agree with the encoder and round-trip. */
TEST(long_pieces)
{
    size_t n = 300001;
    uint8_t *s = malloc(n);
    memset(s, 'a', 200000);
    for (size_t i = 200000; i < n - 1; i++)
        s[i] = (i & 1) ? 'b' : 'a';
    s[n - 1] = '\n';
    s[200000] = ' ';
    const void *doc = s;
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train(t, &doc, &n, 1, 400, 1, 2, &st);
    if (tok) {
        size_t nf = 0;
        uint32_t *f = encode(t, tok, s, n, 0, &nf);
        CHECK_EQ_I64(t, nf, st.n_tokens);
        free(f);
        check_roundtrip(t, tok, s, n, 1, "long pieces");
    }
    fg_tokenizer_free(tok);
    free(s);
}

/* Documents over 1 MiB are counted in chunks cut after a line feed; the cuts must be piece
 * boundaries and must not depend on the thread count. Text full of line feeds followed by
 * whitespace (blank lines, indents, tabs, U+3000, U+0085), and a document with no cut at all. */
TEST(chunk_boundaries)
{
    static const char *const parts[] = {
        "word\n", "\n",   "  indented\n", "\t tab\n", "\xE3\x80\x80x\n", "\xC2\x85y\n", "z \n",
        "\r\n",   "'s\n", "12\n",         "!?\n"
    };
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    size_t cap = 3u << 20, n = 0;
    uint8_t *a = malloc(cap + 64), *b = malloc((2u << 20) + 2);
    while (n < cap) {
        const char *p = parts[fg_rng_below(&r, sizeof parts / sizeof parts[0])];
        memcpy(a + n, p, strlen(p));
        n += strlen(p);
    }
    size_t nb = (2u << 20) + 2; /* one line feed, then only spaces: no cut anywhere */
    memset(b, ' ', nb);
    b[0] = 'x';
    b[1] = '\n';
    const void *docs[2] = { a, b };
    size_t lens[2] = { n, nb };
    struct fg_tokenizer_train_stats s1, s2;
    struct fg_tokenizer *t1 = train(t, docs, lens, 2, 600, 1, 2, &s1);
    struct fg_tokenizer *t2 = train(t, docs, lens, 2, 600, 2, 2, &s2);
    if (t1 && t2) {
        CHECK(t, same_vocab(t1, t2, 1));
        CHECK(t, s1.n_pieces == s2.n_pieces && s1.n_tokens == s2.n_tokens);
        uint32_t *ids = malloc((n + nb) * sizeof *ids);
        size_t start[3];
        CHECK_OK(t, fg_tokenizer_encode_docs(t1, docs, lens, 2, 0, ids, n + nb, start));
        CHECK_EQ_I64(t, start[2], s1.n_tokens);
        free(ids);
    }
    fg_tokenizer_free(t1);
    fg_tokenizer_free(t2);
    free(a);
    free(b);
}

/* Vocabulary 4096 trained on emma.txt encodes it at under 0.30 ids per byte (0.263 measured;
 * GPT-2's 50k vocabulary gives 0.25 on novels.txt); without merges it would be 1.0. */
#define COMPRESSION_MAX 0.30

TEST(compression)
{
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    if (fg_read_file(NULL, "data/austen/emma.txt", &buf, &len, err, sizeof err) != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        return;
    }
    const void *doc = buf;
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = train(t, &doc, &len, 1, 4096, 1, 2, &st);
    if (tok) {
        size_t n = 0;
        uint32_t *ids = encode(t, tok, buf, len, 0, &n);
        double ratio = (double)n / (double)len;
        printf("  emma.txt: %zu bytes -> %zu ids (%.3f ids per byte, %.2f bytes per id)\n", len, n,
               ratio, 1.0 / ratio);
        CHECK(t, ratio < COMPRESSION_MAX);
        CHECK_EQ_I64(t, n, st.n_tokens);
        free(ids);
    }
    fg_tokenizer_free(tok);
    fg_free(NULL, buf);
}

TEST(train_arguments)
{
    struct fg_tokenizer *tok = (struct fg_tokenizer *)1;
    char err[256];
    const void *doc = "abc";
    size_t len = 3;
    CHECK_EQ_I64(t, fg_tokenizer_train(&tok, &doc, &len, 1, 256, NULL, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, tok == NULL && strstr(err, "vocab_size") != NULL);
    CHECK_EQ_I64(t, fg_tokenizer_train(NULL, &doc, &len, 1, 300, NULL, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, fg_tokenizer_train(&tok, NULL, &len, 1, 300, NULL, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    struct fg_tokenizer_train_params p = fg_tokenizer_train_params_default();
    p.n_threads = 0;
    CHECK_EQ_I64(t, fg_tokenizer_train(&tok, &doc, &len, 1, 300, &p, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    p = fg_tokenizer_train_params_default();
    p.min_pair_count = 0;
    CHECK_EQ_I64(t, fg_tokenizer_train(&tok, &doc, &len, 1, 300, &p, NULL, NULL, 0),
                 FG_ERR_INVALID_ARG);
    p = fg_tokenizer_train_params_default();
    p.tok.cache_slots = 3;
    CHECK_EQ_I64(t, fg_tokenizer_train(&tok, &doc, &len, 1, 300, &p, NULL, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    /* no documents: the bytes and <|endoftext|> */
    CHECK_OK(t, fg_tokenizer_train(&tok, NULL, NULL, 0, 300, NULL, NULL, err, sizeof err));
    if (tok)
        CHECK(t, fg_tokenizer_n_vocab(tok) == 257 && fg_tokenizer_eot_id(tok) == 256);
    fg_tokenizer_free(tok);
}

/* ---- tokenizer.json -------------------------------------------------------------------------- */
static const cJSON *get(const cJSON *o, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* The saved file has Hugging Face's layout, field by field. */
static void check_layout(struct fg_test *t, const char *path, const struct fg_tokenizer *tok)
{
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
        return;
    }
    cJSON *root = cJSON_ParseWithLength(buf, len);
    CHECK(t, root != NULL);
    const cJSON *model = get(root, "model"), *pre = get(root, "pre_tokenizer");
    const cJSON *dec = get(root, "decoder"), *added = get(root, "added_tokens");
    const cJSON *vocab = get(model, "vocab"), *merges = get(model, "merges");
    CHECK(t, cJSON_IsString(get(root, "version")) &&
                 !strcmp(get(root, "version")->valuestring, "1.0"));
    CHECK(t, cJSON_IsNull(get(root, "normalizer")) && cJSON_IsNull(get(root, "truncation")));
    CHECK(t, cJSON_IsString(get(model, "type")) && !strcmp(get(model, "type")->valuestring, "BPE"));
    CHECK(t,
          cJSON_IsString(get(pre, "type")) && !strcmp(get(pre, "type")->valuestring, "ByteLevel") &&
              cJSON_IsFalse(get(pre, "add_prefix_space")) && cJSON_IsTrue(get(pre, "use_regex")));
    CHECK(t,
          cJSON_IsString(get(dec, "type")) && !strcmp(get(dec, "type")->valuestring, "ByteLevel"));
    CHECK(t, cJSON_IsArray(added) && cJSON_GetArraySize(added) == 1);
    const cJSON *eot = cJSON_GetArrayItem(added, 0);
    CHECK(t, cJSON_IsString(get(eot, "content")) &&
                 !strcmp(get(eot, "content")->valuestring, FG_TOKENIZER_EOT_TEXT) &&
                 cJSON_IsNumber(get(eot, "id")) &&
                 get(eot, "id")->valuedouble == (double)fg_tokenizer_eot_id(tok) &&
                 cJSON_IsTrue(get(eot, "special")));
    CHECK(t,
          cJSON_IsObject(vocab) && (size_t)cJSON_GetArraySize(vocab) == fg_tokenizer_n_vocab(tok));
    CHECK(t, cJSON_IsArray(merges) &&
                 (size_t)cJSON_GetArraySize(merges) == fg_tokenizer_n_merges(tok));
    /* GPT-2's alphabet: space is "Ġ" (U+0120) = id 220, newline "Ċ" = 198, '"' itself = 1 */
    const cJSON *sp = get(vocab, "\xC4\xA0"), *nl = get(vocab, "\xC4\x8A"), *q = get(vocab, "\"");
    CHECK(t, cJSON_IsNumber(sp) && sp->valuedouble == 220);
    CHECK(t, cJSON_IsNumber(nl) && nl->valuedouble == 198);
    CHECK(t, cJSON_IsNumber(q) && q->valuedouble == 1);
    /* the first merge is "A B" with both parts in the vocabulary */
    const cJSON *m0 = cJSON_GetArrayItem(merges, 0);
    if (cJSON_IsString(m0)) {
        char part[64];
        const char *s = m0->valuestring, *space = strchr(s, ' ');
        CHECK(t, space && !strchr(space + 1, ' ') && (size_t)(space - s) < sizeof part);
        if (space && (size_t)(space - s) < sizeof part) {
            memcpy(part, s, (size_t)(space - s));
            part[space - s] = '\0';
            CHECK(t, cJSON_IsNumber(get(vocab, part)) && cJSON_IsNumber(get(vocab, space + 1)));
        }
    } else {
        CHECK(t, cJSON_IsString(m0));
    }
    cJSON_Delete(root);
    fg_free(NULL, buf);
}

/* Save -> load: the same vocabulary and merges, the same ids; the layout; a second save gives
 * the same bytes; GPT-2's files convert to tokenizer.json and still give tiktoken's ids. */
TEST(json_roundtrip)
{
    char dir[64], path[128], path2[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    snprintf(path2, sizeof path2, "%s/again.json", dir);
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(t, fg_read_file(NULL, "data/austen/persuasion.txt", &buf, &len, err, sizeof err));
    const void *doc = buf;
    struct fg_tokenizer_train_stats st;
    struct fg_tokenizer *tok = buf ? train(t, &doc, &len, 1, 2000, 1, 2, &st) : NULL;
    struct fg_tokenizer *back = NULL;
    if (tok) {
        CHECK_OK(t, fg_tokenizer_save_json(tok, path, err, sizeof err));
        check_layout(t, path, tok);
        CHECK_OK(t, fg_tokenizer_load_json(&back, path, NULL, err, sizeof err));
        if (!back)
            fg_test_fail(t, __FILE__, __LINE__, "load: %s", err);
    }
    if (tok && back) {
        CHECK(t, same_vocab(tok, back, 0));
        size_t n1 = 0, n2 = 0;
        uint32_t *a = encode(t, tok, buf, len, 0, &n1), *b = encode(t, back, buf, len, 0, &n2);
        CHECK(t, n1 == n2 && memcmp(a, b, n1 * sizeof *a) == 0);
        free(a);
        free(b);
        struct fg_tokenizer_merge_info m;
        CHECK_OK(t, fg_tokenizer_get_merge(back, 0, &m));
        CHECK_EQ_I64(t, m.count, 0); /* counts are not stored */
        /* saving the loaded one gives the same file */
        CHECK_OK(t, fg_tokenizer_save_json(back, path2, err, sizeof err));
        void *f1 = NULL, *f2 = NULL;
        size_t l1 = 0, l2 = 0;
        CHECK_OK(t, fg_read_file(NULL, path, &f1, &l1, err, sizeof err));
        CHECK_OK(t, fg_read_file(NULL, path2, &f2, &l2, err, sizeof err));
        CHECK(t, f1 && f2 && l1 == l2 && memcmp(f1, f2, l1) == 0);
        fg_free(NULL, f1);
        fg_free(NULL, f2);
    }
    fg_tokenizer_free(back);
    fg_tokenizer_free(tok);
    /* GPT-2: encoder.json + vocab.bpe -> tokenizer.json -> the same ids for a known string */
    struct fg_tokenizer *g = NULL, *gj = NULL;
    if (fg_tokenizer_load_gpt2(&g, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe", NULL, err,
                               sizeof err) != FG_OK)
        fg_test_fail(t, __FILE__, __LINE__, "%s", err);
    if (g) {
        CHECK_OK(t, fg_tokenizer_save_json(g, path, err, sizeof err));
        check_layout(t, path, g);
        CHECK_OK(t, fg_tokenizer_load_json(&gj, path, NULL, err, sizeof err));
    }
    if (g && gj) {
        CHECK(t, same_vocab(g, gj, 0));
        static const char s[] = "Hello world! It's 2024 \xE2\x80\x94  na\xC3\xAFve caf\xC3\xA9\n\n"
                                "  spaces\tand\ttabs \xF0\x9F\xA4\x97";
        static const uint32_t want[] = { 15496, 995,   0,     632, 338,   48609, 851,
                                         220,   41492, 40304, 628, 220,   9029,  197,
                                         392,   197,   8658,  82,  12520, 97,    245 };
        size_t n = 0;
        uint32_t *ids = encode(t, gj, s, sizeof s - 1, 0, &n);
        CHECK(t, n == sizeof want / sizeof want[0] && !memcmp(ids, want, sizeof want));
        free(ids);
    }
    fg_tokenizer_free(gj);
    fg_tokenizer_free(g);
    fg_free(NULL, buf);
    unlink(path);
    unlink(path2);
    rmdir(dir);
}

/* A small valid tokenizer.json to break: the bytes, "ab", "abc", <|endoftext|>. */
static char *mini_json(void)
{
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap);
    n += (size_t)snprintf(s + n, cap - n,
                          "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 258, \"content\": "
                          "\"<|endoftext|>\", \"special\": true}], \"normalizer\": null,\n"
                          "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": "
                          "false, \"trim_offsets\": true, \"use_regex\": true},\n"
                          "\"model\": {\"type\": \"BPE\", \"dropout\": null, \"vocab\": {");
    /* GPT-2's alphabet in id order: the printable bytes as themselves, then U+0100..U+0143 */
    int id = 0;
    for (int cp = 0; cp < 0x144; cp++) {
        int printable =
            (cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF);
        if (cp < 0x100 && !printable)
            continue;
        char u[8];
        if (cp == '"' || cp == '\\')
            snprintf(u, sizeof u, "\\%c", cp);
        else if (cp < 0x80)
            snprintf(u, sizeof u, "%c", cp);
        else
            snprintf(u, sizeof u, "%c%c", 0xC0 | (cp >> 6), 0x80 | (cp & 0x3F));
        n += (size_t)snprintf(s + n, cap - n, "%s\"%s\": %d", id ? ", " : "", u, id);
        id++;
    }
    n += (size_t)snprintf(s + n, cap - n,
                          ", \"ab\": 256, \"abc\": 257, \"<|endoftext|>\": 258},\n"
                          "\"merges\": [\"a b\", \"ab c\"]}}\n");
    return s;
}

/* Replace the first `from` in s (malloc'd) by `to`. */
static char *replace(char *s, const char *from, const char *to)
{
    char *p = strstr(s, from);
    if (!p)
        return s;
    size_t lf = strlen(from), lt = strlen(to), n = strlen(s);
    char *r = malloc(n - lf + lt + 1);
    memcpy(r, s, (size_t)(p - s));
    memcpy(r + (p - s), to, lt);
    memcpy(r + (p - s) + lt, p + lf, n - (size_t)(p - s) - lf + 1);
    free(s);
    return r;
}

/* Load text from a file named path; check the status and that the message names the file and
 * contains `want`. */
static void expect_json(struct fg_test *t, int line, const char *path, const char *text, size_t len,
                        fg_status want_st, const char *want)
{
    char err[256] = "";
    struct fg_tokenizer *tok = NULL;
    if (!write_bytes(path, text, len)) {
        fg_test_fail(t, __FILE__, line, "cannot write %s", path);
        return;
    }
    fg_status st = fg_tokenizer_load_json(&tok, path, NULL, err, sizeof err);
    if (st != want_st || tok != NULL || !strstr(err, path) || (want && !strstr(err, want)))
        fg_test_fail(t, __FILE__, line, "status %d (want %d), message \"%s\" (want \"%s\")", st,
                     want_st, err, want ? want : "");
    else
        printf("  %s\n", err);
    fg_tokenizer_free(tok);
}

TEST(bad_json_files)
{
    char dir[64], path[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(path, sizeof path, "%s/tok.json", dir);
    char *good = mini_json();
    size_t n = strlen(good);
    struct fg_tokenizer *tok = NULL;
    CHECK_EQ_I64(t, write_bytes(path, good, n), 1);
    fg_status st = fg_tokenizer_load_json(&tok, path, NULL, err, sizeof err);
    CHECK_OK(t, st);
    if (tok) {
        CHECK(t, fg_tokenizer_n_vocab(tok) == 259 && fg_tokenizer_n_merges(tok) == 2);
        uint32_t ids[8];
        size_t m = 0;
        CHECK_OK(t, fg_tokenizer_encode(tok, "abcab", 5, 0, ids, 8, &m));
        CHECK(t, m == 2 && ids[0] == 257 && ids[1] == 256);
    }
    fg_tokenizer_free(tok);
    if (st != FG_OK)
        printf("  %s\n", err);
    /* truncated: cut at 60%, and just before the end */
    expect_json(t, __LINE__, path, good, n * 6 / 10, FG_ERR_FORMAT, "truncated");
    expect_json(t, __LINE__, path, good, n - 3, FG_ERR_FORMAT, "not valid JSON");
    expect_json(t, __LINE__, path, "", 0, FG_ERR_FORMAT, "not valid JSON");
    /* a merge with a token not in the vocabulary */
    char *s = replace(strdup(good), "\"ab c\"", "\"ab cx\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "\"cx\" is not in model.vocab");
    free(s);
    /* duplicate ids */
    s = replace(strdup(good), "\"abc\": 257", "\"abc\": 256");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "duplicate id 256");
    free(s);
    /* an id out of range (a gap) */
    s = replace(strdup(good), "\"abc\": 257", "\"abc\": 300");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "out of range");
    free(s);
    /* not BPE */
    s = replace(strdup(good), "\"type\": \"BPE\"", "\"type\": \"WordPiece\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "not \"BPE\"");
    free(s);
    expect_json(t, __LINE__, path, "[1, 2]", 6, FG_ERR_FORMAT, "no \"model\"");
    /* a merge that uses a token before it is made, and a token no merge makes */
    s = replace(strdup(good), "[\"a b\", \"ab c\"]", "[\"ab c\", \"a b\"]");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT,
                "model.merges[0] (\"ab\" + \"c\"): uses \"ab\" before any earlier merge");
    free(s);
    s = replace(strdup(good), ", \"ab c\"]", "]");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "made by no merge");
    free(s);
    /* a merge whose result is not a token; a merge that is not "A B" */
    s = replace(strdup(good), "\"ab c\"", "\"ab a\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "not in the vocabulary");
    free(s);
    s = replace(strdup(good), "\"ab c\"", "\"abc\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "expected \"A B\"");
    free(s);
    /* a token outside the byte alphabet (SentencePiece's U+2581) */
    s = replace(strdup(good), "\"abc\": 257",
                "\"\xE2\x96\x81"
                "abc\": 257");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "byte alphabet");
    free(s);
    /* no <|endoftext|> */
    s = replace(strdup(good), ", \"<|endoftext|>\": 258", "");
    s = replace(s, "{\"id\": 258, \"content\": \"<|endoftext|>\", \"special\": true}", "");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "no \"<|endoftext|>\"");
    free(s);
    /* settings that would encode differently */
    s = replace(strdup(good), "\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_UNSUPPORTED, "normalizer");
    free(s);
    s = replace(strdup(good), "\"add_prefix_space\": false", "\"add_prefix_space\": true");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_UNSUPPORTED, "add_prefix_space");
    free(s);
    s = replace(strdup(good), "\"content\": \"<|endoftext|>\"", "\"content\": \"<pad>\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_UNSUPPORTED, "<pad>");
    free(s);
    /* <|endoftext|> only in added_tokens, with the next id: HF appends it (so do we) */
    s = replace(strdup(good), ", \"<|endoftext|>\": 258", "");
    CHECK(t, write_bytes(path, s, strlen(s)));
    CHECK_OK(t, fg_tokenizer_load_json(&tok, path, NULL, err, sizeof err));
    CHECK(t, tok && fg_tokenizer_n_vocab(tok) == 259 && fg_tokenizer_eot_id(tok) == 258);
    fg_tokenizer_free(tok);
    free(s);
    /* ... but not with another id */
    s = replace(strdup(good), "{\"id\": 258, \"content\"", "{\"id\": 7, \"content\"");
    expect_json(t, __LINE__, path, s, strlen(s), FG_ERR_FORMAT, "id 7 in added_tokens");
    free(s);
    /* the newer merge form ["A", "B"] loads too */
    s = replace(strdup(good), "[\"a b\", \"ab c\"]", "[[\"a\", \"b\"], [\"ab\", \"c\"]]");
    CHECK(t, write_bytes(path, s, strlen(s)));
    CHECK_OK(t, fg_tokenizer_load_json(&tok, path, NULL, err, sizeof err));
    CHECK(t, tok && fg_tokenizer_n_merges(tok) == 2);
    fg_tokenizer_free(tok);
    free(s);
    /* a missing file */
    snprintf(path, sizeof path, "%s/missing.json", dir);
    CHECK_EQ_I64(t, fg_tokenizer_load_json(&tok, path, NULL, err, sizeof err), FG_ERR_IO);
    CHECK(t, tok == NULL && strstr(err, "missing.json") != NULL);
    /* saving into a directory that does not exist: FG_ERR_IO, nothing left behind */
    struct fg_tokenizer *g = NULL;
    CHECK_OK(t, fg_tokenizer_load_json_buffer(&g, good, n, NULL, NULL, err, sizeof err));
    snprintf(path, sizeof path, "%s/no/such/dir/tok.json", dir);
    if (g)
        CHECK_EQ_I64(t, fg_tokenizer_save_json(g, path, err, sizeof err), FG_ERR_IO);
    CHECK(t, strstr(err, "no/such/dir") != NULL);
    fg_tokenizer_free(g);
    free(good);
    snprintf(path, sizeof path, "%s/tok.json", dir);
    unlink(path);
    CHECK_EQ_I64(t, rmdir(dir), 0); /* empty: no temporary files left */
}

/* ---- allocation failures --------------------------------------------------------------------- */
/* Fail each allocation of a small training run (and of loading its JSON) in turn. */
TEST(alloc_failures)
{
    static const char text[] = "the cat sat on the mat; the cat ate the rat.\n"
                               "aaaa abab the end, the end\n";
    const void *doc = text;
    size_t len = sizeof text - 1;
    struct fg_test_alloc c = { 0 };
    struct fg_tokenizer_train_params p = fg_tokenizer_train_params_default();
    p.tok.alloc = fg_test_allocator(&c);
    p.tok.cache_slots = 16;
    p.min_pair_count = 1;
    char err[256];
    int n_fail = 0, done = 0;
    for (size_t k = 1; k < 400 && !done; k++) {
        c = (struct fg_test_alloc){ .fail_at = k };
        struct fg_tokenizer *tok = NULL;
        fg_status st = fg_tokenizer_train(&tok, &doc, &len, 1, 400, &p, NULL, err, sizeof err);
        if (st == FG_OK) {
            done = 1;
            CHECK(t, c.n_alloc < k);
            fg_tokenizer_free(tok);
        } else {
            n_fail++;
            CHECK_EQ_I64(t, st, FG_ERR_NOMEM);
            CHECK(t, tok == NULL && strstr(err, "out of memory") != NULL);
        }
        CHECK_EQ_I64(t, c.live, 0);
    }
    CHECK(t, done && n_fail >= 20);
    /* loading tokenizer.json */
    char *good = mini_json();
    done = 0;
    n_fail = 0;
    for (size_t k = 1; k < 200 && !done; k++) {
        c = (struct fg_test_alloc){ .fail_at = k };
        struct fg_tokenizer *tok = NULL;
        fg_status st = fg_tokenizer_load_json_buffer(&tok, good, strlen(good), "mini", &p.tok, err,
                                                     sizeof err);
        if (st == FG_OK) {
            done = 1;
            fg_tokenizer_free(tok);
        } else {
            n_fail++;
            CHECK_EQ_I64(t, st, FG_ERR_NOMEM);
            CHECK(t, tok == NULL);
        }
        CHECK_EQ_I64(t, c.live, 0);
    }
    CHECK(t, done && n_fail >= 10);
    free(good);
}

static const struct fg_test_case cases[] = {
    { "hand_example", test_hand_example },
    { "byte_order_is_gpt2s", test_byte_order_is_gpt2s },
    { "tie_rule_and_document_order", test_tie_rule_and_document_order },
    { "determinism", test_determinism },
    { "encoder_agrees_with_trainer", test_encoder_agrees_with_trainer },
    { "random_corpora", test_random_corpora },
    { "long_pieces", test_long_pieces },
    { "chunk_boundaries", test_chunk_boundaries },
    { "compression", test_compression },
    { "train_arguments", test_train_arguments },
    { "json_roundtrip", test_json_roundtrip },
    { "bad_json_files", test_bad_json_files },
    { "alloc_failures", test_alloc_failures },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
