/* Tokenizer tests: GPT-2 byte-level BPE against tiktoken's figures and against our own
 * textbook encoder.
 *  - SHA-256 (fg_sha256) to compare the ids of novels.txt with the published digest;
 *  - GPT-2 conformance: novels.txt (the six data/austen/ novels in alphabetical order, then
 *    data/extra/mobydick.txt) gives exactly tiktoken's 1,336,163 ids; strings in many scripts
 *    with the ids tiktoken gives them; the <|endoftext|> special token;
 *  - the fast encoder equals fg_tokenizer_encode_ref (GPT-2's merge loop written plainly) on a
 *    corpus file, on random strings built from adversarial fragments (contractions, digits,
 *    whitespace of every kind, mixed scripts, combining marks, emoji, NUL, invalid UTF-8) and
 *    on long single pieces that take the bucket-queue path; with and without the word cache;
 *  - decode(encode(x)) == x for every corpus file and for random byte strings;
 *  - linear cost on 5 MB single pieces and a 5 MB single line, measured by counted work;
 *  - document-parallel encoding equals per-document encoding, for 1 and 2 threads;
 *  - bad vocabulary files: each gives FG_ERR_FORMAT (or IO) with the file and line named;
 *  - failing the k-th allocation during load and encode returns FG_ERR_NOMEM and leaks nothing.
 * Run from the repository root (make test does): the data files are found by relative path.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frugal/core.h"
#include "frugal/tokenizer.h"
#include "test.h"

#define ENC_PATH "data/gpt2/encoder.json"
#define BPE_PATH "data/gpt2/vocab.bpe"

/* ---- SHA-256 (fg_sha256 from core; its FIPS 180-4 vectors are in tests/test_sha256.c) -------- */

static void sha256_of(const void *p, size_t n, char out[65])
{
    uint8_t d[32];
    fg_sha256(p, n, d);
    fg_sha256_hex(d, out);
}

/* SHA-256 of ids as little-endian uint32, independent of the host's byte order. */
static void sha256_ids(const uint32_t *ids, size_t n, char out[65])
{
    struct fg_sha256 c;
    uint8_t d[32];
    fg_sha256_init(&c);
    for (size_t i = 0; i < n; i++) {
        uint8_t b[4] = { (uint8_t)ids[i], (uint8_t)(ids[i] >> 8), (uint8_t)(ids[i] >> 16),
                         (uint8_t)(ids[i] >> 24) };
        fg_sha256_update(&c, b, 4);
    }
    fg_sha256_final(&c, d);
    fg_sha256_hex(d, out);
}

/* ---- helpers --------------------------------------------------------------------------------- */
static struct fg_tokenizer *gpt2(struct fg_test *t, int n_threads, size_t cache_slots)
{
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.n_threads = n_threads;
    p.cache_slots = cache_slots;
    struct fg_tokenizer *tok = NULL;
    char err[256];
    fg_status st = fg_tokenizer_load_gpt2(&tok, ENC_PATH, BPE_PATH, &p, err, sizeof err);
    if (st != FG_OK)
        fg_test_fail(t, __FILE__, __LINE__, "loading GPT-2 (run from the repo root): %s", err);
    return tok;
}

/* Encode with the fast (ref = 0) or reference encoder into a new malloc'd array. */
static uint32_t *encode(struct fg_test *t, struct fg_tokenizer *tok, const void *s, size_t n,
                        unsigned flags, int ref, size_t *n_ids)
{
    uint32_t *ids = malloc((n ? n : 1) * sizeof *ids);
    fg_status st = ref ? fg_tokenizer_encode_ref(tok, s, n, flags, ids, n, n_ids)
                       : fg_tokenizer_encode(tok, s, n, flags, ids, n, n_ids);
    if (st != FG_OK) {
        fg_test_fail(t, __FILE__, __LINE__, "encode%s: %s", ref ? "_ref" : "",
                     fg_tokenizer_errmsg(tok));
        *n_ids = 0;
    }
    return ids;
}

/* Whether decode(ids) is exactly s[0..n). */
static int decodes_to(struct fg_tokenizer *tok, const uint32_t *ids, size_t n_ids, const void *s,
                      size_t n)
{
    size_t need = 0;
    if (fg_tokenizer_decode(tok, ids, n_ids, NULL, 0, &need) != FG_OK && need == 0 && n != 0)
        return 0;
    if (need != n)
        return 0;
    uint8_t *out = malloc(n ? n : 1);
    size_t got = 0;
    int ok = fg_tokenizer_decode(tok, ids, n_ids, out, n, &got) == FG_OK && got == n &&
             (n == 0 || memcmp(out, s, n) == 0);
    free(out);
    return ok;
}

/* Index of the first difference of two id arrays, or -1 if equal. */
static long first_diff(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (long)i;
    return na == nb ? -1 : (long)n;
}

/* Print a byte string for a failure message: printable ASCII as is, the rest as \xHH. */
static void show_bytes(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7F)
            out[k++] = (char)s[i];
        else
            k += (size_t)snprintf(out + k, cap - k, "\\x%02X", s[i]);
    }
    out[k] = '\0';
}

/* Check fast == ref and the round trip on s[0..n), for both flag settings. */
static void check_equiv(struct fg_test *t, struct fg_tokenizer *tok, const uint8_t *s, size_t n,
                        const char *what)
{
    for (unsigned flags = 0; flags <= FG_TOKENIZER_ALLOW_SPECIAL;
         flags += FG_TOKENIZER_ALLOW_SPECIAL) {
        size_t nf = 0, nr = 0;
        uint32_t *f = encode(t, tok, s, n, flags, 0, &nf);
        uint32_t *r = encode(t, tok, s, n, flags, 1, &nr);
        long d = first_diff(f, nf, r, nr);
        if (d >= 0) {
            char buf[400];
            show_bytes(s, n < 80 ? n : 80, buf, sizeof buf);
            fg_test_fail(t, __FILE__, __LINE__,
                         "%s (flags %u): fast and ref differ at id %ld (%zu vs %zu ids) on "
                         "\"%s\"",
                         what, flags, d, nf, nr, buf);
        }
        if (!decodes_to(tok, f, nf, s, n)) {
            char buf[400];
            show_bytes(s, n < 80 ? n : 80, buf, sizeof buf);
            fg_test_fail(t, __FILE__, __LINE__, "%s: decode(encode(x)) != x for \"%s\"", what, buf);
        }
        free(f);
        free(r);
    }
}

/* The novels in novels.txt order. */
static const char *const novel_files[] = {
    "data/austen/emma.txt",
    "data/austen/mansfieldpark.txt",
    "data/austen/northangerabbey.txt",
    "data/austen/persuasion.txt",
    "data/austen/prideprejudice.txt",
    "data/austen/sensesensibility.txt",
    "data/extra/mobydick.txt",
};
#define N_NOVELS (sizeof novel_files / sizeof novel_files[0])

/* Read the novels: files[i] / lens[i] (malloc'd) and their concatenation *all / *all_len. */
static int read_novels(struct fg_test *t, uint8_t *files[N_NOVELS], size_t lens[N_NOVELS],
                       uint8_t **all, size_t *all_len)
{
    size_t total = 0;
    for (size_t i = 0; i < N_NOVELS; i++) {
        void *buf = NULL;
        char err[256];
        if (fg_read_file(NULL, novel_files[i], &buf, &lens[i], err, sizeof err) != FG_OK) {
            fg_test_fail(t, __FILE__, __LINE__, "%s (run from the repo root)", err);
            for (size_t k = 0; k < i; k++)
                fg_free(NULL, files[k]);
            return 0;
        }
        files[i] = buf;
        total += lens[i];
    }
    if (all) {
        *all = malloc(total);
        *all_len = 0;
        for (size_t i = 0; i < N_NOVELS; i++) {
            memcpy(*all + *all_len, files[i], lens[i]);
            *all_len += lens[i];
        }
    }
    return 1;
}

static void free_novels(uint8_t *files[N_NOVELS])
{
    for (size_t i = 0; i < N_NOVELS; i++)
        fg_free(NULL, files[i]);
}

/* ---- loading and known encodings ------------------------------------------------------------- */
TEST(gpt2_vocabulary)
{
    struct fg_tokenizer *tok = gpt2(t, 1, 1024);
    if (!tok)
        return;
    CHECK_EQ_I64(t, fg_tokenizer_n_vocab(tok), 50257);
    CHECK_EQ_I64(t, fg_tokenizer_eot_id(tok), FG_TOKENIZER_GPT2_EOT_ID);
    size_t len = 0;
    const uint8_t *b = fg_tokenizer_token_bytes(tok, 15496, &len);
    CHECK(t, b && len == 5 && !memcmp(b, "Hello", 5));
    b = fg_tokenizer_token_bytes(tok, 50256, &len);
    CHECK(t, b && len == 13 && !memcmp(b, "<|endoftext|>", 13));
    CHECK(t, fg_tokenizer_token_bytes(tok, 50257, &len) == NULL && len == 0);
    /* GPT-2's first 256 ids are the bytes, in its byte-to-unicode order: '!' is 0, byte 0x00
     * (U+0100) is 188, newline 198, space 220 */
    int seen[256] = { 0 };
    for (uint32_t id = 0; id < 256; id++) {
        b = fg_tokenizer_token_bytes(tok, id, &len);
        CHECK(t, len == 1);
        if (len == 1)
            seen[b[0]]++;
    }
    for (int i = 0; i < 256; i++)
        CHECK_EQ_I64(t, seen[i], 1);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, "!", 1), 0);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, "\0", 1), 188);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, "\n", 1), 198);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, " ", 1), 220);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, " world", 6), 995);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, "no such token here", 18), -1);
    CHECK_EQ_I64(t, fg_tokenizer_token_id(tok, "", 0), -1);
    size_t max = 0;
    for (uint32_t id = 0; id < 50257; id++) {
        fg_tokenizer_token_bytes(tok, id, &len);
        max = len > max ? len : max;
    }
    CHECK_EQ_I64(t, fg_tokenizer_max_token_len(tok), max);
    fg_tokenizer_free(tok);
}

/* Mixed scripts, numbers of several kinds, every kind of whitespace, contractions after
 * non-ASCII letters, emoji, combining marks, a BOM. The ids are tiktoken 1.0.22's (npm,
 * get_encoding("gpt2").encode_ordinary), the reference OpenAI ships. */
struct golden {
    const char *text;
    uint32_t ids[128];
    size_t n;
};

// clang-format off
static const struct golden golden[] = {
    {
        "\xc3\x9cn\xc3\xaf"
        "c\xc3\xb6"
        "d\xc3\xa9 na\xc3\xafve \xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82 \xd0\xbc\xd0"
        "\xb8\xd1\x80! \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82"
        "\xad\xe3\x82\xb9\xe3\x83\x88\xe3\x80\x82\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4 \xed"
        "\x85\x8d\xec\x8a\xa4\xed\x8a\xb8 \xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a"
        "\xd8\xa9 \xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80 "
        "\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2",
        {
            127, 250, 77, 26884, 66, 9101, 67, 2634, 41492, 12466, 253, 21169, 18849, 38857, 16843,
            20375, 12466, 120, 18849, 21169, 0, 10545, 245, 98, 17312, 105, 45739, 252, 5641,
            24336, 25084, 43302, 16764, 47991, 250, 166, 113, 255, 168, 244, 112, 220, 169, 227,
            235, 168, 232, 97, 169, 232, 116, 28981, 44690, 26897, 39848, 22654, 45632, 28225, 117,
            11976, 123, 11976, 101, 24231, 235, 11976, 99, 24231, 222, 220, 31479, 226, 19567, 245,
            19567, 95
        },
        76,
    },
    {
        "3.14 \xc2\xbd \xe2\x85\xab \xd9\xa3\xd9\xa4\xd9\xa5 \xc2\xb2\xc2\xb3 1,000,000 and 2"
        "024-11-23",
        {
            18, 13, 1415, 25208, 2343, 227, 104, 18923, 96, 149, 97, 149, 98, 1587, 110, 126, 111,
            352, 11, 830, 11, 830, 290, 48609, 12, 1157, 12, 1954
        },
        28,
    },
    {
        "tabs\x09"
        "and\xc2\xa0nbsp\xe3\x80\x80ideographic\xe2\x80\xa8line\xc2\x85nel  \x0a\x0a   end   ",
        {
            8658, 82, 197, 392, 1849, 77, 24145, 5099, 222, 485, 6826, 447, 101, 1370, 126, 227,
            4954, 220, 220, 628, 220, 220, 886, 220, 220, 220
        },
        26,
    },
    {
        "\xf0\x9f\xa4\x97's \xe6\x97\xa5\xe6\x9c\xac's \xce\xa9'll x'S don't I'M we'Re 'twas "
        "''quoted''",
        {
            8582, 97, 245, 6, 82, 10545, 245, 98, 17312, 105, 338, 7377, 102, 1183, 2124, 6, 50,
            836, 470, 314, 6, 44, 356, 6, 3041, 705, 4246, 292, 10148, 421, 5191, 7061
        },
        32,
    },
    {
        "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7 \xf0\x9f"
        "\x87\xba\xf0\x9f\x87\xb8 \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd e\xcc\x81 \xe2\x80\x8bzero"
        "\xe2\x80\x8bwidth \xef\xbb\xbf"
        "bom",
        {
            41840, 101, 447, 235, 41840, 102, 447, 235, 41840, 100, 12520, 229, 118, 8582, 229,
            116, 50169, 235, 8582, 237, 121, 304, 136, 223, 20126, 22570, 9525, 10394, 27332, 119,
            123, 65, 296
        },
        33,
    },
    {
        "<|endoftext|> <|im_start|> http://example.com/a\x3f"
        "b=1&c=2 ~~~~ ----- !!!\x3f\x3f\x3f",
        {
            27, 91, 437, 1659, 5239, 91, 29, 1279, 91, 320, 62, 9688, 91, 29, 2638, 1378, 20688,
            13, 785, 14, 64, 30, 65, 28, 16, 5, 66, 28, 17, 220, 8728, 37404, 220, 10185, 28358
        },
        35,
    },
};

// clang-format on

static void check_ids(struct fg_test *t, struct fg_tokenizer *tok, const char *s, unsigned flags,
                      const uint32_t *want, size_t n_want)
{
    for (int ref = 0; ref < 2; ref++) {
        size_t n = 0;
        uint32_t *ids = encode(t, tok, s, strlen(s), flags, ref, &n);
        long d = first_diff(ids, n, want, n_want);
        if (d >= 0)
            fg_test_fail(t, __FILE__, __LINE__,
                         "%s \"%s\" flags %u: id %ld differs (got %zu ids, want %zu)",
                         ref ? "encode_ref" : "encode", s, flags, d, n, n_want);
        CHECK(t, decodes_to(tok, ids, n, s, strlen(s)));
        free(ids);
    }
}

TEST(gpt2_known_encodings)
{
    struct fg_tokenizer *tok = gpt2(t, 1, 1024);
    if (!tok)
        return;
    /* tiktoken's gpt2 ids (the research notes' sample, shared/data/README.md) */
    static const uint32_t sample[] = { 15496, 995,   0,     632, 338,   48609, 851,
                                       220,   41492, 40304, 628, 220,   9029,  197,
                                       392,   197,   8658,  82,  12520, 97,    245 };
    check_ids(t, tok,
              "Hello world! It's 2024 \xe2\x80\x94  na\xc3\xafve caf\xc3\xa9\n\n  "
              "spaces\tand\ttabs \xf0\x9f\xa4\x97",
              0, sample, sizeof sample / sizeof sample[0]);
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++)
        check_ids(t, tok, golden[i].text, 0, golden[i].ids, golden[i].n);
    static const uint32_t hello[] = { 31373, 995 };
    check_ids(t, tok, "hello world", 0, hello, 2);
    /* the special token: one id when allowed, seven ordinary ids when not */
    static const uint32_t eot1[] = { 50256 };
    static const uint32_t eot7[] = { 27, 91, 437, 1659, 5239, 91, 29 };
    check_ids(t, tok, "<|endoftext|>", FG_TOKENIZER_ALLOW_SPECIAL, eot1, 1);
    check_ids(t, tok, "<|endoftext|>", 0, eot7, 7);
    static const uint32_t a_eot_b[] = { 64, 50256, 65 };
    check_ids(t, tok, "a<|endoftext|>b", FG_TOKENIZER_ALLOW_SPECIAL, a_eot_b, 3);
    static const uint32_t two_eot[] = { 50256, 50256 };
    check_ids(t, tok, "<|endoftext|><|endoftext|>", FG_TOKENIZER_ALLOW_SPECIAL, two_eot, 2);
    /* an unfinished special token is ordinary text */
    static const uint32_t part[] = { 27, 91, 437, 1659, 5239, 91 };
    check_ids(t, tok, "<|endoftext|", FG_TOKENIZER_ALLOW_SPECIAL, part, 6);
    /* the empty string */
    size_t n = 1;
    uint32_t one;
    CHECK_OK(t, fg_tokenizer_encode(tok, "", 0, 0, &one, 0, &n));
    CHECK_EQ_I64(t, n, 0);
    CHECK_OK(t, fg_tokenizer_encode(tok, NULL, 0, 0, NULL, 0, &n));
    CHECK_EQ_I64(t, n, 0);
    fg_tokenizer_free(tok);
}

/* ---- the conformance figure ------------------------------------------------------------------ */
TEST(gpt2_novels_conformance)
{
    uint8_t *files[N_NOVELS], *all = NULL;
    size_t lens[N_NOVELS], n = 0;
    if (!read_novels(t, files, lens, &all, &n))
        return;
    char hex[65];
    sha256_of(all, n, hex);
    CHECK_EQ_I64(t, n, 5282326);
    if (strcmp(hex, "423c245caa5693fa1e0ae38366ea4007355f394dbe103ddf1cf522bbc696a992") != 0)
        fg_test_fail(t, __FILE__, __LINE__, "novels.txt sha256 %s: the data files changed", hex);
    struct fg_tokenizer *tok = gpt2(t, 1, (size_t)1 << 15);
    if (tok) {
        size_t n_ids = 0;
        double t0 = fg_time_now();
        uint32_t *ids = encode(t, tok, all, n, 0, 0, &n_ids);
        double dt = fg_time_now() - t0;
        CHECK_EQ_I64(t, n_ids, 1336163);
        static const uint32_t first[] = { 3620, 5673, 198, 198, 3886, 12091,
                                          2517, 268,  628, 628, 198,  44558 };
        CHECK(t, n_ids >= 12 && first_diff(ids, 12, first, 12) == -1);
        sha256_ids(ids, n_ids, hex);
        if (strcmp(hex, "6a95bb76de46b303f022ddf44416666f9318ce4e72884bd745267af3d3d6a863") != 0)
            fg_test_fail(t, __FILE__, __LINE__, "sha256 of the ids is %s", hex);
        CHECK(t, decodes_to(tok, ids, n_ids, all, n));
        struct fg_tokenizer_stats s;
        fg_tokenizer_get_stats(tok, &s);
        CHECK_EQ_I64(t, s.n_bytes, n);
        CHECK(t, s.n_pieces >= n_ids / 2 && s.n_pieces <= n_ids);
        printf("  novels.txt: %zu ids in %.3f s (%.1f MB/s); %llu pieces, %.1f%% cache hits, "
               "%llu merged\n",
               n_ids, dt, (double)n / 1e6 / dt, (unsigned long long)s.n_pieces,
               100.0 * (double)s.n_cache_hits / (double)s.n_pieces, (unsigned long long)s.n_merged);
        fg_tokenizer_reset_stats(tok);
        fg_tokenizer_get_stats(tok, &s);
        CHECK_EQ_I64(t, s.n_bytes, 0);
        free(ids);
        fg_tokenizer_free(tok);
    }
    free(all);
    free_novels(files);
}

/* decode(encode(x)) == x for each corpus file, and the same ids without any word cache */
TEST(gpt2_corpus_roundtrip)
{
    uint8_t *files[N_NOVELS];
    size_t lens[N_NOVELS];
    if (!read_novels(t, files, lens, NULL, NULL))
        return;
    struct fg_tokenizer *tok = gpt2(t, 1, (size_t)1 << 12);
    struct fg_tokenizer *nocache = gpt2(t, 1, 0);
    for (size_t i = 0; tok && nocache && i < N_NOVELS; i++) {
        for (unsigned flags = 0; flags <= 1; flags++) {
            size_t n1 = 0, n2 = 0;
            uint32_t *a = encode(t, tok, files[i], lens[i], flags, 0, &n1);
            if (!decodes_to(tok, a, n1, files[i], lens[i]))
                fg_test_fail(t, __FILE__, __LINE__, "round trip of %s", novel_files[i]);
            if (i == 3) { /* persuasion.txt: without the cache too */
                uint32_t *b = encode(t, nocache, files[i], lens[i], flags, 0, &n2);
                CHECK(t, first_diff(a, n1, b, n2) == -1);
                free(b);
            }
            free(a);
        }
    }
    fg_tokenizer_free(tok);
    fg_tokenizer_free(nocache);
    free_novels(files);
}

/* ---- fast == ref ----------------------------------------------------------------------------- */
TEST(ref_equiv_corpus)
{
    uint8_t *files[N_NOVELS];
    size_t lens[N_NOVELS];
    if (!read_novels(t, files, lens, NULL, NULL))
        return;
    struct fg_tokenizer *tok = gpt2(t, 1, 256); /* a small cache: many evictions */
    if (tok) {
        check_equiv(t, tok, files[3], lens[3], "persuasion.txt");
        /* Moby Dick starts with a byte-order mark and uses CR LF line ends */
        check_equiv(t, tok, files[6], lens[6] < 300000 ? lens[6] : 300000, "mobydick.txt");
    }
    fg_tokenizer_free(tok);
    free_novels(files);
}

/* Fragments that exercise every alternative of the pattern and every class of character. */
// clang-format off
static const char *const fragments[] = {
    /* contractions, and apostrophes that are not */
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'", "''", "'x", "'l", "'r",
    /* whitespace: ASCII, U+001C/U+001F (not White_Space), NEL U+0085, NBSP U+00A0, U+3000,
     * LINE SEPARATOR U+2028; U+200B and U+180E are not whitespace */
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\v", "\f", "\r", " \n ", "\x1c", "\x1f",
    "\xc2\x85", "\xc2\xa0", "\xe3\x80\x80", "\xe2\x80\xa8", "\xe2\x80\x8b", "\xe1\xa0\x8e",
    /* letters and numbers: ASCII, U+0663 Arabic-Indic three (Nd), U+00BD one half (No),
     * U+216B roman twelve (Nl), superscript two (No) */
    "a", "Z", "hello", "world", " the", "The", "don", "I", "we", "xyzzy", "aaaaaaa",
    "0", "7", "123", "2024", "1,000,000", "3.14", "\xd9\xa3", "\xc2\xbd", "\xe2\x85\xab",
    "\xc2\xb2",
    /* é, e + combining acute (Mn), ß, Ω, Привет, 日本語, 한국어, العربية, हिन्दी (marks), ไทย */
    "\xc3\xa9", "e\xcc\x81", "\xc3\x9f", "\xce\xa9",
    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
    "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4",
    "\xd8\xa7\xd9\x84\xd8\xb9\xd8\xb1\xd8\xa8\xd9\x8a\xd8\xa9",
    "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\xa8\xe0\xa5\x8d\xe0\xa4\xa6\xe0\xa5\x80",
    "\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2",
    /* emoji: 🤗, 👍🏽, a ZWJ family, a flag; U+1D400 bold A (Lu) */
    "\xf0\x9f\xa4\x97", "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",
    "\xf0\x9f\x87\xba\xf0\x9f\x87\xb8", "\xf0\x9d\x90\x80",
    /* punctuation and symbols: — … € */
    "\xe2\x80\x94", "\xe2\x80\xa6", "\xe2\x82\xac", "!", "?!", "...", ",", "$", "-", "--", "()",
    "{}", "#", "@", "_", "~", "\"",
    /* the special token and its pieces, and words with contractions */
    "<|endoftext|>", "<|", "|>", "<|endoftext", "endoftext|>",
    "http://example.com/a?b=1&c=2", "don't", "I'm", "we'll", "you're", "they've", "he'd",
    /* not UTF-8: stray bytes, an overlong '/', an encoded surrogate, above U+10FFFF, a
     * truncated 3-byte and 4-byte sequence, a lone lead byte (NULs are added separately) */
    "\xff", "\xfe", "\x80", "\xbf", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82",
    "\xf0\x9f", "\xc3",
};
// clang-format on
#define N_FRAGMENTS (sizeof fragments / sizeof fragments[0])

/* A random test string into buf (cap bytes); returns its length. */
static size_t random_text(struct fg_rng *r, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    uint64_t mode = fg_rng_below(r, 8);
    if (mode == 0) { /* raw random bytes, NULs included */
        size_t len = (size_t)fg_rng_below(r, cap < 200 ? cap : 200);
        for (size_t i = 0; i < len; i++)
            buf[n++] = (uint8_t)fg_rng_u64(r);
        return n;
    }
    size_t k = (size_t)fg_rng_below(r, 40);
    for (size_t i = 0; i < k; i++) {
        uint64_t pick = fg_rng_below(r, N_FRAGMENTS + 2);
        const char *f = pick < N_FRAGMENTS ? fragments[pick] : "\0\0";
        size_t l = pick < N_FRAGMENTS ? strlen(f) : (size_t)(pick - N_FRAGMENTS + 1); /* NULs */
        if (n + l > cap)
            break;
        memcpy(buf + n, f, l);
        n += l;
        if (mode == 1 && n < cap) /* glue with spaces and digits */
            buf[n++] = fg_rng_below(r, 2) ? ' ' : (uint8_t)('0' + fg_rng_below(r, 10));
    }
    return n;
}

TEST(ref_equiv_random)
{
    struct fg_tokenizer *small = gpt2(t, 1, 64); /* tiny cache: constant eviction */
    struct fg_tokenizer *none = gpt2(t, 1, 0);
    if (small && none) {
        struct fg_rng r;
        fg_rng_seed(&r, t->seed);
        uint8_t buf[1200];
        for (int it = 0; it < 3000 && !t->failed; it++) {
            size_t n = random_text(&r, buf, sizeof buf);
            check_equiv(t, (it & 1) ? small : none, buf, n, "random");
        }
        /* every single byte and every pair of bytes around a space */
        for (int b = 0; b < 256; b++) {
            uint8_t s[3] = { (uint8_t)b, ' ', (uint8_t)(255 - b) };
            check_equiv(t, small, s, 1, "one byte");
            check_equiv(t, small, s, 3, "byte space byte");
        }
    }
    fg_tokenizer_free(small);
    fg_tokenizer_free(none);
}

/* Long single pieces go through the bucket queue; compare with the textbook loop. */
TEST(ref_equiv_long_pieces)
{
    struct fg_tokenizer *tok = gpt2(t, 1, 64);
    if (!tok)
        return;
    struct fg_rng r;
    fg_rng_seed(&r, t->seed ^ 0x51);
    size_t cap = 4000;
    uint8_t *buf = malloc(cap);
    static const char *const alphabets[] = { "ab",         "abc",      "etaoinshrdlu",
                                             "0123456789", ".,!?-",    " ",
                                             " \n",        "\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac" };
    for (size_t a = 0; a < sizeof alphabets / sizeof alphabets[0]; a++) {
        const char *al = alphabets[a];
        size_t al_n = strlen(al);
        int multibyte = (unsigned char)al[0] >= 0x80;
        for (int rep = 0; rep < 3; rep++) {
            size_t len = 65 + (size_t)fg_rng_below(&r, 1500);
            size_t n = 0;
            while (n + 3 <= len) {
                if (multibyte) { /* whole characters */
                    size_t c = al_n == 2 ? 0 : 3 * (size_t)fg_rng_below(&r, al_n / 3);
                    size_t cl = al_n == 2 ? 2 : 3;
                    memcpy(buf + n, al + c, cl);
                    n += cl;
                } else {
                    buf[n++] = (uint8_t)al[fg_rng_below(&r, al_n)];
                }
            }
            char label[64];
            snprintf(label, sizeof label, "long piece over alphabet %zu", a);
            check_equiv(t, tok, buf, n, label);
        }
    }
    /* a long run of one letter and of spaces followed by a word */
    memset(buf, 'a', 3000);
    check_equiv(t, tok, buf, 3000, "3000 x a");
    memset(buf, ' ', 3000);
    memcpy(buf + 2995, "hello", 5);
    check_equiv(t, tok, buf, 3000, "spaces then hello");
    free(buf);
    fg_tokenizer_free(tok);
}

/* ---- linear cost ----------------------------------------------------------------------------- */
/* Merge-loop work per input byte of a 5 MB input against a 0.5 MB one. */
static void check_linear(struct fg_test *t, struct fg_tokenizer *tok, const uint8_t *big,
                         size_t n_big, const char *what)
{
    size_t n_small = n_big / 10;
    uint32_t *ids = malloc(n_big * sizeof *ids);
    uint64_t work[2];
    double secs[2];
    size_t sizes[2] = { n_small, n_big }, n_ids = 0;
    for (int k = 0; k < 2; k++) {
        fg_tokenizer_reset_stats(tok);
        double t0 = fg_time_now();
        fg_status st = fg_tokenizer_encode(tok, big, sizes[k], 0, ids, sizes[k], &n_ids);
        secs[k] = fg_time_now() - t0;
        CHECK_OK(t, st);
        struct fg_tokenizer_stats s;
        fg_tokenizer_get_stats(tok, &s);
        /* pieces, cache probes and merge work all count */
        work[k] = s.n_merge_work + s.n_pieces + s.n_bytes;
        if (k == 1)
            CHECK(t, decodes_to(tok, ids, n_ids, big, n_big));
    }
    double ratio = (double)work[1] / (double)work[0];
    printf("  %s: work %llu -> %llu (x%.2f for x10 bytes), %.3f s -> %.3f s, %zu ids\n", what,
           (unsigned long long)work[0], (unsigned long long)work[1], ratio, secs[0], secs[1],
           n_ids);
    if (ratio > 20.0 || (double)work[1] / (double)n_big > 200.0)
        fg_test_fail(t, __FILE__, __LINE__, "%s: work grows faster than n log n (x%.1f)", what,
                     ratio);
    free(ids);
}

TEST(linear_time_long_inputs)
{
    struct fg_tokenizer *tok = gpt2(t, 1, (size_t)1 << 15);
    if (!tok)
        return;
    const size_t n = 5000000;
    uint8_t *buf = malloc(n);
    struct fg_rng r;
    fg_rng_seed(&r, t->seed ^ 0x7);
    /* one 5 MB piece of letters */
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t) "etaoinshrdlucmfwypvbgkqjxz"[fg_rng_below(&r, 6)];
    check_linear(t, tok, buf, n, "5 MB of letters (one piece)");
    /* one 5 MB run of spaces */
    memset(buf, ' ', n);
    check_linear(t, tok, buf, n, "5 MB of spaces");
    /* 5 MB of digits */
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)('0' + fg_rng_below(&r, 10));
    check_linear(t, tok, buf, n, "5 MB of digits");
    /* a 5 MB single line of prose: the novels with line ends made spaces */
    uint8_t *files[N_NOVELS];
    size_t lens[N_NOVELS], m = 0;
    if (read_novels(t, files, lens, NULL, NULL)) {
        for (size_t i = 0; i < N_NOVELS && m < n; i++)
            for (size_t k = 0; k < lens[i] && m < n; k++)
                buf[m++] = (files[i][k] == '\n' || files[i][k] == '\r') ? ' ' : files[i][k];
        check_linear(t, tok, buf, m, "a 5 MB line of prose");
        free_novels(files);
    }
    free(buf);
    fg_tokenizer_free(tok);
}

/* ---- documents in parallel ------------------------------------------------------------------- */
TEST(encode_docs_parallel)
{
    uint8_t *files[N_NOVELS];
    size_t lens[N_NOVELS], total = 0;
    if (!read_novels(t, files, lens, NULL, NULL))
        return;
    /* 7 novels plus a few small documents, one empty, one with a literal special token */
    const char *extra[] = { "", "x", "a<|endoftext|>b", " \xff\x00 tail " };
    const void *docs[N_NOVELS + 4];
    size_t dl[N_NOVELS + 4];
    size_t n_docs = 0;
    for (size_t i = 0; i < N_NOVELS; i++) {
        docs[n_docs] = files[i];
        dl[n_docs++] = lens[i];
        if (i == 2)
            for (size_t k = 0; k < 4; k++) {
                docs[n_docs] = extra[k];
                dl[n_docs++] = k == 3 ? 8 : strlen(extra[k]);
            }
    }
    for (size_t d = 0; d < n_docs; d++)
        total += dl[d] + 1;
    struct fg_tokenizer *one = gpt2(t, 1, 1024), *two = gpt2(t, 2, 1024);
    uint32_t *ids[2] = { malloc(total * sizeof(uint32_t)), malloc(total * sizeof(uint32_t)) };
    size_t start[2][N_NOVELS + 5];
    for (unsigned flags = 0; one && two && flags < 4; flags++) {
        size_t prefix = (flags & FG_TOKENIZER_EOT_PREFIX) ? 1 : 0;
        CHECK_OK(t,
                 fg_tokenizer_encode_docs(one, docs, dl, n_docs, flags, ids[0], total, start[0]));
        CHECK_OK(t,
                 fg_tokenizer_encode_docs(two, docs, dl, n_docs, flags, ids[1], total, start[1]));
        CHECK(t, first_diff(ids[0], start[0][n_docs], ids[1], start[1][n_docs]) == -1);
        CHECK(t, !memcmp(start[0], start[1], (n_docs + 1) * sizeof(size_t)));
        /* each document's ids are its own encoding, after the optional separator */
        for (size_t d = 0; d < n_docs; d++) {
            size_t n = 0, got = start[1][d + 1] - start[1][d];
            uint32_t *want =
                encode(t, one, docs[d], dl[d], flags & FG_TOKENIZER_ALLOW_SPECIAL, 0, &n);
            CHECK_EQ_I64(t, got, n + prefix);
            if (prefix && got > 0)
                CHECK_EQ_I64(t, ids[1][start[1][d]], FG_TOKENIZER_GPT2_EOT_ID);
            if (got == n + prefix)
                CHECK(t, first_diff(ids[1] + start[1][d] + prefix, n, want, n) == -1);
            free(want);
        }
    }
    /* too small a buffer is refused before any work */
    if (one) {
        fg_status st = fg_tokenizer_encode_docs(one, docs, dl, n_docs, FG_TOKENIZER_EOT_PREFIX,
                                                ids[0], total - 1, start[0]);
        CHECK_EQ_I64(t, st, FG_ERR_INVALID_ARG);
        CHECK(t, strstr(fg_tokenizer_errmsg(one), "too small") != NULL);
        CHECK_OK(t, fg_tokenizer_encode_docs(one, NULL, NULL, 0, 0, NULL, 0, start[0]));
        CHECK_EQ_I64(t, start[0][0], 0);
    }
    free(ids[0]);
    free(ids[1]);
    fg_tokenizer_free(one);
    fg_tokenizer_free(two);
    free_novels(files);
}

/* ---- errors of encode and decode ------------------------------------------------------------- */
TEST(encode_decode_errors)
{
    struct fg_tokenizer *tok = gpt2(t, 1, 64);
    if (!tok)
        return;
    uint32_t ids[8];
    size_t n = 0;
    /* "hello world" is 2 ids: cap 1 is too small, cap 2 is enough */
    CHECK_EQ_I64(t, fg_tokenizer_encode(tok, "hello world", 11, 0, ids, 1, &n), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(fg_tokenizer_errmsg(tok), "too small") != NULL);
    CHECK_OK(t, fg_tokenizer_encode(tok, "hello world", 11, 0, ids, 2, &n));
    CHECK_EQ_I64(t, n, 2);
    CHECK_EQ_I64(t, fg_tokenizer_encode(tok, NULL, 3, 0, ids, 8, &n), FG_ERR_INVALID_ARG);
    /* decode: measure, too small, bad id */
    size_t len = 0;
    uint8_t out[16];
    CHECK_EQ_I64(t, fg_tokenizer_decode(tok, ids, 2, NULL, 0, &len), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, len, 11);
    CHECK_EQ_I64(t, fg_tokenizer_decode(tok, ids, 2, out, 10, &len), FG_ERR_INVALID_ARG);
    CHECK_EQ_I64(t, len, 11);
    CHECK_OK(t, fg_tokenizer_decode(tok, ids, 2, out, 11, &len));
    CHECK(t, len == 11 && !memcmp(out, "hello world", 11));
    uint32_t bad[3] = { 0, 50257, 1 };
    CHECK_EQ_I64(t, fg_tokenizer_decode(tok, bad, 3, out, 16, &len), FG_ERR_INVALID_ARG);
    CHECK(t, strstr(fg_tokenizer_errmsg(tok), "ids[1] = 50257") != NULL);
    CHECK_OK(t, fg_tokenizer_decode(tok, NULL, 0, NULL, 0, &len));
    CHECK_EQ_I64(t, len, 0);
    fg_tokenizer_free(tok);
    /* bad params */
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    char err[256];
    p.cache_slots = 1000;
    CHECK_EQ_I64(t, fg_tokenizer_load_gpt2(&tok, ENC_PATH, BPE_PATH, &p, err, sizeof err),
                 FG_ERR_INVALID_ARG);
    CHECK(t, tok == NULL && strstr(err, "power of two") != NULL);
    p = fg_tokenizer_params_default();
    p.n_threads = 0;
    CHECK_EQ_I64(t, fg_tokenizer_load_gpt2(&tok, ENC_PATH, BPE_PATH, &p, err, sizeof err),
                 FG_ERR_INVALID_ARG);
}

/* ---- bad vocabulary files -------------------------------------------------------------------- */
/* GPT-2's byte alphabet: the UTF-8 of the character that stands for byte b. */
static size_t alpha(int b, char *out)
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    unsigned cp = (unsigned)b;
    if (!printable) {
        int n = 0;
        for (int c = 0; c < b; c++)
            n += !((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE);
        cp = 0x100u + (unsigned)n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* A tiny vocabulary: the 256 bytes (ids 0..255, in byte order), the merges below, then
 * <|endoftext|>. encoder.json has one entry per line, so line numbers mean something. */
static const char *const mini_merges[][2] = {
    { "h", "e" }, { "l", "l" }, { "he", "ll" }, { "hell", "o" }, { "\xc4\xa0", "w" }, /* Ġ w */
};
#define N_MINI (sizeof mini_merges / sizeof mini_merges[0])

struct text {
    char *p;
    size_t n, cap;
};

static void put(struct text *s, const char *p, size_t n)
{
    if (n > ((size_t)1 << 30)) /* never: test texts are small */
        return;
    if (s->n + n + 1 > s->cap) {
        char *np = realloc(s->p, (s->n + n + 1) * 2);
        if (!np)
            return;
        s->p = np;
        s->cap = (s->n + n + 1) * 2;
    }
    memcpy(s->p + s->n, p, n);
    s->n += n;
    s->p[s->n] = '\0';
}

static void puts_(struct text *s, const char *p)
{
    put(s, p, strlen(p));
}

/* JSON string of a token given in the alphabet already (escaping " and \). */
static void put_key(struct text *s, const char *tok_alpha)
{
    puts_(s, "\"");
    for (const char *c = tok_alpha; *c; c++) {
        if (*c == '"' || *c == '\\')
            puts_(s, "\\");
        put(s, c, 1);
    }
    puts_(s, "\"");
}

static void mini_encoder(struct text *s)
{
    char a[4], line[64];
    puts_(s, "{\n");
    for (int b = 0; b < 256; b++) {
        size_t l = alpha(b, a);
        a[l] = '\0';
        put_key(s, a);
        snprintf(line, sizeof line, ": %d,\n", b);
        puts_(s, line);
    }
    for (size_t m = 0; m < N_MINI; m++) {
        char key[32];
        snprintf(key, sizeof key, "%s%s", mini_merges[m][0], mini_merges[m][1]);
        put_key(s, key);
        snprintf(line, sizeof line, ": %zu,\n", 256 + m);
        puts_(s, line);
    }
    snprintf(line, sizeof line, "\"<|endoftext|>\": %zu\n}\n", 256 + N_MINI);
    puts_(s, line);
}

static void mini_vocab(struct text *s)
{
    puts_(s, "#version: 0.2\n");
    for (size_t m = 0; m < N_MINI; m++) {
        puts_(s, mini_merges[m][0]);
        puts_(s, " ");
        puts_(s, mini_merges[m][1]);
        puts_(s, "\n");
    }
}

static void copy_text(struct text *dst, const struct text *src)
{
    free(dst->p);
    *dst = (struct text){ 0 };
    put(dst, src->p, src->n);
}

/* Replace the first occurrence of `from` in s by `to`. */
static void replace(struct text *s, const char *from, const char *to)
{
    char *p = s->p ? strstr(s->p, from) : NULL;
    if (!p)
        return;
    struct text r = { 0 };
    put(&r, s->p, (size_t)(p - s->p));
    puts_(&r, to);
    puts_(&r, p + strlen(from));
    free(s->p);
    *s = r;
}

/* Load (enc, voc) from buffers named enc.json / voc.bpe; expect status want and, when given,
 * each of the strings in the message (always the name of the file at fault). */
static void expect_load(struct fg_test *t, int line, const struct text *enc, const struct text *voc,
                        fg_status want, const char *file, const char *m1, const char *m2)
{
    struct fg_tokenizer *tok = NULL;
    char err[256];
    fg_status st = fg_tokenizer_load_gpt2_buffers(&tok, enc->p, enc->n, "enc.json", voc->p, voc->n,
                                                  "voc.bpe", NULL, err, sizeof err);
    if (st != want)
        fg_test_fail(t, __FILE__, line, "status %s, want %s (%s)", fg_status_str(st),
                     fg_status_str(want), err);
    else if (want != FG_OK &&
             ((file && !strstr(err, file)) || (m1 && !strstr(err, m1)) || (m2 && !strstr(err, m2))))
        fg_test_fail(t, __FILE__, line, "message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"", err,
                     file ? file : "", m1 ? m1 : "", m2 ? m2 : "");
    if (want != FG_OK)
        CHECK(t, tok == NULL);
    fg_tokenizer_free(tok);
}

TEST(bad_encoder_json)
{
    struct text enc = { 0 }, voc = { 0 }, e2 = { 0 };
    mini_encoder(&enc);
    mini_vocab(&voc);
    /* the valid pair loads and encodes "hello world" as hello, " w", o, r, l, d */
    struct fg_tokenizer *tok = NULL;
    char err[256];
    CHECK_OK(t, fg_tokenizer_load_gpt2_buffers(&tok, enc.p, enc.n, NULL, voc.p, voc.n, NULL, NULL,
                                               err, sizeof err));
    if (tok) {
        uint32_t ids[16];
        size_t n = 0;
        CHECK_OK(t, fg_tokenizer_encode(tok, "hello world", 11, 0, ids, 16, &n));
        static const uint32_t want[] = { 259, 260, 'o', 'r', 'l', 'd' };
        CHECK(t, first_diff(ids, n, want, 6) == -1);
        CHECK_EQ_I64(t, fg_tokenizer_eot_id(tok), 261);
        fg_tokenizer_free(tok);
    }
    /* encoder.json: truncated in the middle of an entry (line 101 is the entry of byte 99) */
    copy_text(&e2, &enc);
    const char *cut = e2.p ? strstr(e2.p, ": 99,") : NULL;
    e2.n = cut ? (size_t)(cut - e2.p) + 3 : 0;
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:101:", "truncated", NULL);
    e2.n = 0;
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:1:1", "expected '{'", NULL);
    /* a duplicate id (byte 'b' = 98 takes 97's id: line 100) */
    copy_text(&e2, &enc);
    replace(&e2, "\"b\": 98,", "\"b\": 97,");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:100:", "duplicate id 97", NULL);
    /* a duplicate key (the token "he" written twice, as "he" and with an escape) */
    copy_text(&e2, &enc);
    replace(&e2, "\"hell\": 258", "\"h\\u0065\": 258");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:", "duplicate key", NULL);
    /* values that are not integer ids */
    copy_text(&e2, &enc);
    replace(&e2, ": 5,", ": 5.5,");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:7:", "integer", NULL);
    copy_text(&e2, &enc);
    replace(&e2, ": 5,", ": -5,");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:7:", "negative", NULL);
    copy_text(&e2, &enc);
    replace(&e2, ": 5,", ": \"5\",");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:7:", "integer", NULL);
    /* a character outside the byte alphabet, a bad escape, junk after the object */
    copy_text(&e2, &enc);
    replace(&e2, "\"hello\"", "\"hell\\u0500\"");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:", "U+0500", NULL);
    copy_text(&e2, &enc);
    replace(&e2, "\"hello\"", "\"hell\\q\"");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:", "escape", NULL);
    copy_text(&e2, &enc);
    puts_(&e2, "{}");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:", "after the object", NULL);
    /* an id gap: <|endoftext|> moved to 300 */
    copy_text(&e2, &enc);
    replace(&e2, "\"<|endoftext|>\": 261", "\"<|endoftext|>\": 300");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json:", "out of range", NULL);
    /* no <|endoftext|> */
    copy_text(&e2, &enc);
    replace(&e2, ",\n\"<|endoftext|>\": 261", "");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json", "endoftext", NULL);
    /* a missing byte token: byte 'z' renamed to a two-byte token */
    copy_text(&e2, &enc);
    replace(&e2, "\"z\": 122", "\"zz\": 122");
    expect_load(t, __LINE__, &e2, &voc, FG_ERR_FORMAT, "enc.json", "byte 0x7A", NULL);

    free(enc.p);
    free(voc.p);
    free(e2.p);
}

TEST(bad_vocab_bpe)
{
    struct text enc = { 0 }, voc = { 0 }, v2 = { 0 };
    mini_encoder(&enc);
    mini_vocab(&voc);
    /* vocab.bpe: no header */
    copy_text(&v2, &voc);
    replace(&v2, "#version: 0.2\n", "");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:1:1", "#version", NULL);
    /* a merge that uses an unknown token (line 3) */
    copy_text(&v2, &voc);
    replace(&v2, "l l\n", "l q\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:3:", "makes \"lq\"", NULL);
    copy_text(&v2, &voc);
    replace(&v2, "he ll\n", "he xyz\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:4:", "\"xyz\"", "not in");
    /* malformed lines */
    copy_text(&v2, &voc);
    replace(&v2, "l l\n", "ll\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:3:1", "one space", NULL);
    copy_text(&v2, &voc);
    replace(&v2, "l l\n", "l  l\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:3:1", "one space", NULL);
    copy_text(&v2, &voc);
    replace(&v2, "l l\n", "l l\n\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:4:1", "empty line", NULL);
    /* order: "hell o" before "he ll" uses "hell" before any merge makes it */
    copy_text(&v2, &voc);
    replace(&v2, "he ll\nhell o\n", "hell o\nhe ll\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:4:1", "\"hell\"", "earlier");
    /* a repeated merge */
    copy_text(&v2, &voc);
    puts_(&v2, "l l\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:7:", "repeats line 3", NULL);
    /* the same token made twice ("hell" from "he ll" and from "hel l") */
    {
        struct text e3 = { 0 }, v3 = { 0 };
        copy_text(&e3, &enc);
        replace(&e3, "\"<|endoftext|>\": 261", "\"hel\": 261,\n\"<|endoftext|>\": 262");
        copy_text(&v3, &voc);
        puts_(&v3, "he l\nhel l\n");
        expect_load(t, __LINE__, &e3, &v3, FG_ERR_FORMAT, "voc.bpe:8:", "line 4 already", NULL);
        free(e3.p);
        free(v3.p);
    }
    /* truncated: the last merge missing, or cut in the middle of its line */
    copy_text(&v2, &voc);
    v2.n -= strlen("\xc4\xa0 w\n");
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe", "made by no merge", "truncated");
    copy_text(&v2, &voc);
    v2.n -= 2; /* "Ġ w\n" -> "Ġ" */
    expect_load(t, __LINE__, &enc, &v2, FG_ERR_FORMAT, "voc.bpe:6:", "one space", NULL);
    /* a file without the final newline is fine */
    copy_text(&v2, &voc);
    v2.n -= 1;
    expect_load(t, __LINE__, &enc, &v2, FG_OK, NULL, NULL, NULL);
    free(enc.p);
    free(voc.p);
    free(v2.p);
}

static int make_tmpdir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/frugal_test_tok_XXXXXX");
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

/* The real files, truncated on disk: the messages name the path. */
TEST(bad_gpt2_files_on_disk)
{
    char dir[64], enc_path[128], voc_path[128], err[256];
    if (!make_tmpdir(dir, sizeof dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    snprintf(enc_path, sizeof enc_path, "%s/encoder.json", dir);
    snprintf(voc_path, sizeof voc_path, "%s/vocab.bpe", dir);
    void *enc = NULL, *voc = NULL;
    size_t enc_n = 0, voc_n = 0;
    CHECK_OK(t, fg_read_file(NULL, ENC_PATH, &enc, &enc_n, err, sizeof err));
    CHECK_OK(t, fg_read_file(NULL, BPE_PATH, &voc, &voc_n, err, sizeof err));
    struct fg_tokenizer *tok = NULL;
    if (enc && voc) {
        /* vocab.bpe cut at 60%: the tokens of the lost merges are made by no merge */
        CHECK(t, write_bytes(enc_path, enc, enc_n) && write_bytes(voc_path, voc, voc_n * 6 / 10));
        fg_status st = fg_tokenizer_load_gpt2(&tok, enc_path, voc_path, NULL, err, sizeof err);
        CHECK_EQ_I64(t, st, FG_ERR_FORMAT);
        CHECK(t, strstr(err, voc_path) != NULL);
        printf("  truncated vocab.bpe: %s\n", err);
        /* encoder.json cut in half */
        CHECK(t, write_bytes(enc_path, enc, enc_n / 2) && write_bytes(voc_path, voc, voc_n));
        st = fg_tokenizer_load_gpt2(&tok, enc_path, voc_path, NULL, err, sizeof err);
        CHECK_EQ_I64(t, st, FG_ERR_FORMAT);
        CHECK(t, strstr(err, enc_path) != NULL && strstr(err, ":1:") != NULL);
        printf("  truncated encoder.json: %s\n", err);
        /* the files swapped */
        st = fg_tokenizer_load_gpt2(&tok, voc_path, enc_path, NULL, err, sizeof err);
        CHECK_EQ_I64(t, st, FG_ERR_FORMAT);
        CHECK(t, strstr(err, voc_path) != NULL);
    }
    /* a missing file */
    snprintf(enc_path, sizeof enc_path, "%s/missing.json", dir);
    fg_status st = fg_tokenizer_load_gpt2(&tok, enc_path, BPE_PATH, NULL, err, sizeof err);
    CHECK_EQ_I64(t, st, FG_ERR_IO);
    CHECK(t, tok == NULL && strstr(err, "missing.json") != NULL);
    fg_free(NULL, enc);
    fg_free(NULL, voc);
    unlink(voc_path);
    snprintf(enc_path, sizeof enc_path, "%s/encoder.json", dir);
    unlink(enc_path);
    rmdir(dir);
}

/* ---- allocation failures --------------------------------------------------------------------- */
TEST(alloc_failures)
{
    struct text enc = { 0 }, voc = { 0 };
    mini_encoder(&enc);
    mini_vocab(&voc);
    struct fg_test_alloc c = { 0 };
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.alloc = fg_test_allocator(&c);
    p.n_threads = 2;
    p.cache_slots = 16;
    int n_fail = 0, loaded = 0;
    for (size_t k = 1; k < 200 && !loaded; k++) {
        c = (struct fg_test_alloc){ .fail_at = k };
        struct fg_tokenizer *tok = NULL;
        char err[256];
        fg_status st = fg_tokenizer_load_gpt2_buffers(&tok, enc.p, enc.n, NULL, voc.p, voc.n, NULL,
                                                      &p, err, sizeof err);
        if (st == FG_OK) {
            loaded = 1;
            CHECK(t, c.n_alloc < k); /* succeeded without reaching the failing call */
            /* now fail the growth of the merge scratch for a long piece */
            c.fail_at = c.n_alloc + 1;
            uint8_t text[200];
            memset(text, 'h', sizeof text);
            uint32_t ids[200];
            size_t n = 0;
            CHECK_EQ_I64(t, fg_tokenizer_encode(tok, text, sizeof text, 0, ids, 200, &n),
                         FG_ERR_NOMEM);
            CHECK(t, strstr(fg_tokenizer_errmsg(tok), "out of memory") != NULL);
            c.fail_at = 0;
            CHECK_OK(t, fg_tokenizer_encode(tok, text, sizeof text, 0, ids, 200, &n));
            CHECK_EQ_I64(t, n, 200);
            fg_tokenizer_free(tok);
        } else {
            n_fail++;
            CHECK_EQ_I64(t, st, FG_ERR_NOMEM);
            CHECK(t, tok == NULL);
        }
        CHECK_EQ_I64(t, c.live, 0);
    }
    CHECK(t, loaded && n_fail >= 8);
    free(enc.p);
    free(voc.p);
}

static const struct fg_test_case cases[] = {
    { "gpt2_vocabulary", test_gpt2_vocabulary },
    { "gpt2_known_encodings", test_gpt2_known_encodings },
    { "gpt2_novels_conformance", test_gpt2_novels_conformance },
    { "gpt2_corpus_roundtrip", test_gpt2_corpus_roundtrip },
    { "ref_equiv_corpus", test_ref_equiv_corpus },
    { "ref_equiv_random", test_ref_equiv_random },
    { "ref_equiv_long_pieces", test_ref_equiv_long_pieces },
    { "linear_time_long_inputs", test_linear_time_long_inputs },
    { "encode_docs_parallel", test_encode_docs_parallel },
    { "encode_decode_errors", test_encode_decode_errors },
    { "bad_encoder_json", test_bad_encoder_json },
    { "bad_vocab_bpe", test_bad_vocab_bpe },
    { "bad_gpt2_files_on_disk", test_bad_gpt2_files_on_disk },
    { "alloc_failures", test_alloc_failures },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
