/* libFuzzer target for the GPT-2 vocabulary loader (fg_tokenizer_load_gpt2_buffers).
 * Input: the bytes of an encoder.json, the two bytes 0xFF 0xFE (never part of UTF-8, so never
 * part of a valid encoder.json), then the bytes of a vocab.bpe; without the separator the whole
 * input is the encoder.json and the vocab.bpe is empty. Properties:
 *   - no crash; a failed load leaves *out NULL and a non-empty message;
 *   - loading the same bytes twice gives the same status and message (determinism);
 *   - a loaded vocabulary is consistent: at least the 256 bytes and <|endoftext|>, every id
 *     has non-empty bytes that map back to it (token_id(token_bytes(id)) == id), every single
 *     byte is a token, and max_token_len is the longest token;
 *   - with it, on a fixed text and on the input itself, the fast encoder equals the reference
 *     encoder and decode(encode(x)) == x, with and without FG_TOKENIZER_ALLOW_SPECIAL.
 * A violated property aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vocab(const struct fg_tokenizer *tok)
{
    size_t n = fg_tokenizer_n_vocab(tok), max_len = 0;
    if (n < 257 || n > FG_TOKENIZER_MAX_VOCAB || fg_tokenizer_eot_id(tok) >= n)
        abort();
    for (uint32_t id = 0; id < n; id++) {
        size_t len = 0;
        const uint8_t *b = fg_tokenizer_token_bytes(tok, id, &len);
        if (!b || len == 0 || fg_tokenizer_token_id(tok, b, len) != (int64_t)id)
            abort();
        max_len = len > max_len ? len : max_len;
    }
    size_t len = 0;
    if (max_len != fg_tokenizer_max_token_len(tok) ||
        fg_tokenizer_token_bytes(tok, (uint32_t)n, &len) != NULL)
        abort();
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        if (fg_tokenizer_token_id(tok, &byte, 1) < 0)
            abort();
    }
}

/* fast == reference and decode(encode(text)) == text. */
static void check_roundtrip(struct fg_tokenizer *tok, const uint8_t *text, size_t len)
{
    size_t cap = len + 1;
    uint32_t *a = malloc(cap * sizeof *a), *b = malloc(cap * sizeof *b);
    uint8_t *out = malloc(cap);
    if (!a || !b || !out)
        abort();
    for (unsigned flags = 0; flags <= FG_TOKENIZER_ALLOW_SPECIAL; flags++) {
        size_t na = 0, nb = 0, no = 0;
        if (fg_tokenizer_encode(tok, text, len, flags, a, len, &na) != FG_OK ||
            fg_tokenizer_encode_ref(tok, text, len, flags, b, len, &nb) != FG_OK)
            abort();
        if (na != nb || memcmp(a, b, na * sizeof *a) != 0)
            abort();
        if (fg_tokenizer_decode(tok, a, na, out, len, &no) != FG_OK || no != len ||
            memcmp(out, text, len) != 0)
            abort();
    }
    free(a);
    free(b);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t cut = size;
    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == 0xFF && data[i + 1] == 0xFE) {
            cut = i;
            break;
        }
    const uint8_t *bpe = cut < size ? data + cut + 2 : data + size;
    size_t bpe_len = cut < size ? size - cut - 2 : 0;
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.cache_slots = 16; /* tiny: the word cache evicts all the time */
    struct fg_tokenizer *tok = NULL, *tok2 = NULL;
    char err[256] = "", err2[256] = "";
    fg_status st = fg_tokenizer_load_gpt2_buffers(&tok, data, cut, NULL, bpe, bpe_len, NULL, &p,
                                                  err, sizeof err);
    fg_status st2 = fg_tokenizer_load_gpt2_buffers(&tok2, data, cut, NULL, bpe, bpe_len, NULL, &p,
                                                   err2, sizeof err2);
    if (st != st2 || strcmp(err, err2) != 0)
        abort();
    if (st != FG_OK) {
        if (tok || tok2 || err[0] == '\0')
            abort();
        return 0;
    }
    if (!tok || !tok2 || fg_tokenizer_n_vocab(tok) != fg_tokenizer_n_vocab(tok2))
        abort();
    fg_tokenizer_free(tok2);
    check_vocab(tok);
    static const char text[] = "Hello world, it's 2024!\n\n  <|endoftext|> \xff\xc3 caf\xc3\xa9"
                               "\t\x00z";
    check_roundtrip(tok, (const uint8_t *)text, sizeof text - 1);
    check_roundtrip(tok, data, size);
    fg_tokenizer_free(tok);
    return 0;
}
