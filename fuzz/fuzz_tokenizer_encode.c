/* libFuzzer target for the GPT-2 encoder (fg_tokenizer_encode, _encode_ref, _encode_docs,
 * _decode) on any bytes, with GPT-2's own vocabulary (data/gpt2/, read once; run from the
 * repository root, as make test and make fuzz do). Properties, with and without
 * FG_TOKENIZER_ALLOW_SPECIAL:
 *   - the fast encoder gives exactly the reference encoder's ids, at most one id per byte;
 *   - decode(encode(x)) == x for every byte string (NUL, invalid UTF-8, "<|endoftext|>");
 *   - a second encode (now through the warm word cache) gives the same ids;
 *   - encode_docs over x cut at every "safe" line break (a '\n' between two printable ASCII
 *     characters: the rule frugal tokenizer encode uses to parallelize one file) gives the
 *     same ids as encoding x whole, and with FG_TOKENIZER_EOT_PREFIX each document's ids are
 *     the <|endoftext|> id followed by that document's ids.
 * A violated property aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Loading GPT-2's files takes milliseconds: do it once per process (libFuzzer calls the target
 * millions of times). Freed at exit so that LeakSanitizer stays quiet. */
static struct fg_tokenizer *g_tok;

static void free_tok(void)
{
    fg_tokenizer_free(g_tok);
}

static struct fg_tokenizer *gpt2(void)
{
    if (g_tok)
        return g_tok;
    char err[256];
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.n_threads = 2;     /* encode_docs takes its parallel path */
    p.cache_slots = 256; /* small: evictions happen */
    if (fg_tokenizer_load_gpt2(&g_tok, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe", &p, err,
                               sizeof err) != FG_OK) {
        fprintf(stderr, "fuzz_tokenizer_encode: %s (run from the repository root)\n", err);
        abort();
    }
    atexit(free_tok);
    return g_tok;
}

static int is_graph(uint8_t c)
{
    return c >= 0x21 && c <= 0x7E;
}

/* encode_docs over data cut at every safe line break must equal the whole encoding ids[0..n). */
static void check_docs(struct fg_tokenizer *tok, const uint8_t *data, size_t size, unsigned flags,
                       const uint32_t *ids, size_t n)
{
    const void **docs = malloc((size + 1) * sizeof *docs);
    size_t *lens = malloc((size + 1) * sizeof *lens), *start = malloc((size + 2) * sizeof *start);
    uint32_t *got = malloc((2 * size + 2) * sizeof *got);
    if (!docs || !lens || !start || !got)
        abort();
    size_t n_docs = 0, at = 0;
    for (size_t i = 1; i + 1 < size; i++)
        if (data[i] == '\n' && is_graph(data[i - 1]) && is_graph(data[i + 1])) {
            docs[n_docs] = data + at;
            lens[n_docs++] = i + 1 - at;
            at = i + 1;
        }
    docs[n_docs] = data + at;
    lens[n_docs++] = size - at;
    if (fg_tokenizer_encode_docs(tok, docs, lens, n_docs, flags, got, size + 1, start) != FG_OK)
        abort();
    if (start[0] != 0 || start[n_docs] != n || memcmp(got, ids, n * sizeof *ids) != 0)
        abort();
    /* the same with a separator before every document */
    uint32_t eot = fg_tokenizer_eot_id(tok);
    if (fg_tokenizer_encode_docs(tok, docs, lens, n_docs, flags | FG_TOKENIZER_EOT_PREFIX, got,
                                 size + n_docs + 1, start) != FG_OK)
        abort();
    if (start[n_docs] != n + n_docs)
        abort();
    for (size_t d = 0, k = 0; d < n_docs; d++) {
        if (got[start[d]] != eot)
            abort();
        for (size_t i = start[d] + 1; i < start[d + 1]; i++, k++)
            if (k >= n || got[i] != ids[k])
                abort();
    }
    free(docs);
    free(lens);
    free(start);
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fg_tokenizer *tok = gpt2();
    size_t cap = size + 1; /* one id per byte at most; +1 so that size 0 allocates */
    uint32_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    uint8_t *text = malloc(cap);
    if (!a || !b || !text)
        abort();
    for (unsigned flags = 0; flags <= FG_TOKENIZER_ALLOW_SPECIAL; flags++) {
        size_t na = 0, nb = 0, nt = 0;
        if (fg_tokenizer_encode(tok, data, size, flags, a, size, &na) != FG_OK || na > size)
            abort();
        if (fg_tokenizer_encode_ref(tok, data, size, flags, b, size, &nb) != FG_OK)
            abort();
        if (na != nb || memcmp(a, b, na * sizeof *a) != 0)
            abort();
        if (fg_tokenizer_decode(tok, a, na, text, size, &nt) != FG_OK || nt != size ||
            memcmp(text, data, size) != 0)
            abort();
        if (fg_tokenizer_encode(tok, data, size, flags, b, size, &nb) != FG_OK || nb != na ||
            memcmp(a, b, na * sizeof *a) != 0)
            abort();
        check_docs(tok, data, size, flags, a, na);
    }
    free(a);
    free(b);
    free(text);
    return 0;
}
