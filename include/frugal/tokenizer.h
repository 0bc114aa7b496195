/* frugal tokenizer: GPT-2 byte-level BPE (load, encode, decode).
 *
 * Encoding is GPT-2's (Radford et al. 2019, "Language Models are Unsupervised Multitask
 * Learners", section 2.2; the algorithm is Sennrich et al. 2016's BPE applied to bytes):
 *   1. Special tokens. With FG_TOKENIZER_ALLOW_SPECIAL, each literal "<|endoftext|>" in the
 *      text becomes the single id fg_tokenizer_eot_id(); the text between them is encoded on
 *      its own. Without the flag those 13 bytes are ordinary text (7 ids with GPT-2's files).
 *   2. Pre-tokenization. The text is split into pieces exactly as GPT-2's regular expression
 *          's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *      does, read over UTF-8 with Unicode classes (letters L*, numbers N*, \s = White_Space;
 *      tables generated from Unicode 14.0.0 by scripts/gen_unicode_tables.py). Bytes that are
 *      not well-formed UTF-8 are each one character of their own that is neither a letter, a
 *      number nor a space, so any byte string is accepted and round-trips.
 *   3. Byte pair merging. Each piece starts as its bytes, each byte one token; the adjacent
 *      pair whose merge comes first in vocab.bpe is merged (all its occurrences, left to right),
 *      until no adjacent pair has a merge. The ids are the merged tokens' ids in encoder.json.
 * The ids equal tiktoken's "gpt2" encoding, OpenAI's own (checked on 5.3 MB of novels: the same
 * 1,336,163 ids, the same sha256). The two can only differ on code points whose Unicode class
 * changed after Unicode 14.0.0, and on bytes that are not UTF-8, which tiktoken cannot take.
 *
 * Speed and memory: encoding is linear in the input length. Each piece is looked up in a
 * per-thread word cache (a fixed-size table: params.cache_slots x 64 bytes); misses run the
 * merge loop, a rank-min scan for short pieces and a queue bucketed by merge rank (O(n)) for
 * long ones, so a 5 MB line or a 5 MB run of spaces costs the same work per byte as prose. The
 * long-piece scratch grows to about 36 bytes per byte of the longest piece seen (plus 4 bytes
 * per merge, 200 KB for GPT-2) and is kept for reuse until fg_tokenizer_free.
 *
 * Threads: the loaded vocabulary is read-only, so the const accessors (n_vocab, eot_id,
 * token_bytes, token_id, ...) are thread-safe. The calls that take a non-const tokenizer
 * (encode, encode_ref, encode_docs, decode, reset_stats) use its word caches, counters and error
 * buffer: run one of them at a time per tokenizer, and get_stats only between them (or use one
 * tokenizer per thread). fg_tokenizer_encode_docs spreads documents over params.n_threads
 * OpenMP threads itself; its output does not depend on the thread count.
 *
 * Files: GPT-2's own encoder.json (a JSON object mapping each token, written in GPT-2's
 * byte-to-unicode alphabet, to its id) and vocab.bpe ("#version: 0.2", then one merge
 * "A B" per line, in priority order). data/gpt2/ holds the original files. A tokenizer (trained
 * or loaded) is saved and loaded as one tokenizer.json in Hugging Face tokenizers' layout (see
 * fg_tokenizer_save_json).
 *
 * Training (fg_tokenizer_train) learns a vocabulary of this same kind from text, so the
 * encoder above encodes with it unchanged (see the comment before fg_tokenizer_train).
 */
#ifndef FRUGAL_TOKENIZER_H
#define FRUGAL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The one special token GPT-2 defines, and its id in GPT-2's encoder.json. */
#define FG_TOKENIZER_EOT_TEXT    "<|endoftext|>"
#define FG_TOKENIZER_GPT2_EOT_ID 50256u
/* Largest vocabulary the loader accepts (ids must be below it). */
#define FG_TOKENIZER_MAX_VOCAB (1u << 24)

/* Flags for the encoders (bitwise or). */
enum fg_tokenizer_flag {
    /* Recognize the literal text "<|endoftext|>" as the id fg_tokenizer_eot_id(). Leave it off
     * for untrusted text, so that a document cannot fake a document boundary. */
    FG_TOKENIZER_ALLOW_SPECIAL = 1 << 0,
    /* fg_tokenizer_encode_docs only: write the <|endoftext|> id before every document
     * (llm.c's convention: every document follows a separator, a shard starts with one). */
    FG_TOKENIZER_EOT_PREFIX = 1 << 1
};

struct fg_tokenizer; /* opaque */

struct fg_tokenizer_params {
    /* Threads (and word caches) used by fg_tokenizer_encode_docs; >= 1. Default 1. */
    int n_threads;
    /* Word-cache slots per thread: a power of two (64 bytes each), or 0 for no cache.
     * Default 1 << 15 (2 MiB per thread). The cache changes speed, never the output. */
    size_t cache_slots;
    /* Where every allocation of the tokenizer goes. Default fg_allocator_default(). */
    struct fg_allocator alloc;
};

/* Defaults as documented above. */
FG_API struct fg_tokenizer_params fg_tokenizer_params_default(void);

/* Load GPT-2's encoder.json and vocab.bpe from files and build a tokenizer.
 * p may be NULL (defaults). On success *out is a new tokenizer that the caller frees with
 * fg_tokenizer_free; on failure *out is NULL and errmsg (when not NULL) says why.
 * Validation (all FG_ERR_FORMAT, message "<file>:<line>:<column>: what, and a hint"):
 *   encoder.json: not a JSON object of string keys and integer ids (truncated, bad syntax or
 *   escapes), a key with a character outside GPT-2's byte alphabet, a duplicate key or id, ids
 *   not exactly 0..N-1, a missing single-byte token, no "<|endoftext|>" token;
 *   vocab.bpe: no "#version" header line, a line that is not "A B", a merge whose parts or
 *   result are not in encoder.json, a part that neither is a single byte nor was made by an
 *   earlier merge, a repeated merge, and tokens of encoder.json that no merge makes (a truncated
 *   vocab.bpe, or files from two different vocabularies).
 * Other errors: FG_ERR_IO (a file cannot be read; the message has the path and errno),
 * FG_ERR_NOMEM, FG_ERR_INVALID_ARG (bad params). Loading GPT-2's files takes about 15 ms;
 * the tokenizer then holds about 4 MB plus params.cache_slots x 64 bytes per thread. */
FG_API fg_status fg_tokenizer_load_gpt2(struct fg_tokenizer **out, const char *encoder_json_path,
                                        const char *vocab_bpe_path,
                                        const struct fg_tokenizer_params *p, char *errmsg,
                                        size_t errmsg_len);

/* The same from memory (the entry point for fuzzing). encoder_name and vocab_name are used in
 * messages only (NULL: "encoder.json", "vocab.bpe"). The buffers are borrowed for the call. */
FG_API fg_status fg_tokenizer_load_gpt2_buffers(struct fg_tokenizer **out, const void *encoder_json,
                                                size_t encoder_len, const char *encoder_name,
                                                const void *vocab_bpe, size_t vocab_len,
                                                const char *vocab_name,
                                                const struct fg_tokenizer_params *p, char *errmsg,
                                                size_t errmsg_len);

/* Free everything the tokenizer owns. Accepts NULL. */
FG_API void fg_tokenizer_free(struct fg_tokenizer *tok);

/* The message of the last failed call on tok ("" if none). Owned by tok. */
FG_API const char *fg_tokenizer_errmsg(const struct fg_tokenizer *tok);

/* Number of ids (50257 for GPT-2). */
FG_API size_t fg_tokenizer_n_vocab(const struct fg_tokenizer *tok);
/* Id of <|endoftext|> (50256 for GPT-2). */
FG_API uint32_t fg_tokenizer_eot_id(const struct fg_tokenizer *tok);
/* Length in bytes of the longest token (the decode buffer bound per id). */
FG_API size_t fg_tokenizer_max_token_len(const struct fg_tokenizer *tok);
/* The bytes of token `id` (not NUL-terminated; *len set) or NULL if id >= n_vocab. The pointer
 * is owned by tok and valid until fg_tokenizer_free. */
FG_API const uint8_t *fg_tokenizer_token_bytes(const struct fg_tokenizer *tok, uint32_t id,
                                               size_t *len);
/* The id of the token whose bytes are exactly bytes[0..len), or -1 if there is none. */
FG_API int64_t fg_tokenizer_token_id(const struct fg_tokenizer *tok, const void *bytes, size_t len);

/* Encode text[0..len) (any bytes) into ids[0..*n_ids). Every id covers at least one byte, so
 * *n_ids <= len and cap = len is always enough. flags: FG_TOKENIZER_ALLOW_SPECIAL or 0.
 * Errors: FG_ERR_INVALID_ARG if ids is too small (cap) or a single piece is 4 GiB or longer;
 * FG_ERR_NOMEM if the merge scratch for a long piece cannot grow. On error the contents of
 * ids and *n_ids are unspecified. Allocates only when a piece is longer than any seen before.
 * Not thread-safe on one tokenizer (see the top of this file). */
FG_API fg_status fg_tokenizer_encode(struct fg_tokenizer *tok, const void *text, size_t len,
                                     unsigned flags, uint32_t *ids, size_t cap, size_t *n_ids);

/* The reference encoder: the same contract and the same output as fg_tokenizer_encode, written
 * as the textbook algorithm (a literal reading of the regular expression, and GPT-2's merge
 * loop: find the lowest-ranked adjacent pair, merge all its occurrences, repeat), without
 * caches or queues. Quadratic in the length of a piece: for tests on modest inputs only.
 * Allocates and frees its scratch on every call. */
FG_API fg_status fg_tokenizer_encode_ref(struct fg_tokenizer *tok, const void *text, size_t len,
                                         unsigned flags, uint32_t *ids, size_t cap, size_t *n_ids);

/* Encode n_docs documents in parallel (params.n_threads OpenMP threads, dynamic schedule):
 * document d is docs[d][0..doc_lens[d]) and its ids end up in ids[doc_start[d] ..
 * doc_start[d+1]), documents in order; doc_start has n_docs + 1 entries and doc_start[n_docs]
 * is the total. With FG_TOKENIZER_EOT_PREFIX each document's ids begin with the <|endoftext|>
 * id. The ids are exactly those of encoding each document alone with fg_tokenizer_encode, for
 * any thread count. Each document is encoded in place at a worst-case offset and the results
 * are then packed, so cap must be at least sum(doc_lens) (+ n_docs with EOT_PREFIX);
 * FG_ERR_INVALID_ARG otherwise, before any work. Other errors as fg_tokenizer_encode. */
FG_API fg_status fg_tokenizer_encode_docs(struct fg_tokenizer *tok, const void *const *docs,
                                          const size_t *doc_lens, size_t n_docs, unsigned flags,
                                          uint32_t *ids, size_t cap, size_t *doc_start);

/* Decode ids[0..n_ids) into out[0..*out_len): the concatenated bytes of the tokens, so
 * decode(encode(x)) == x for every byte string x. *out_len is always set to the number of
 * bytes the ids decode to (if all ids are valid), so a call with cap = 0 (out may be NULL)
 * measures; n_ids * fg_tokenizer_max_token_len() is an upper bound.
 * Errors: FG_ERR_INVALID_ARG for an id >= n_vocab (the message gives its index) or when the
 * output does not fit in cap (nothing is written then). Allocates nothing. */
FG_API fg_status fg_tokenizer_decode(struct fg_tokenizer *tok, const uint32_t *ids, size_t n_ids,
                                     uint8_t *out, size_t cap, size_t *out_len);

/* Work counters, summed over all calls and threads since load (or the last reset). They make
 * cost visible without timing: the merge-loop work of a long piece is O(n log n). */
struct fg_tokenizer_stats {
    uint64_t n_bytes;      /* input bytes encoded by the fast encoder */
    uint64_t n_pieces;     /* pre-tokenizer pieces */
    uint64_t n_cache_hits; /* pieces answered by the word cache */
    uint64_t n_merged;     /* pieces that went through the merge loop */
    uint64_t n_merge_work; /* merge-loop work: pair lookups, moved symbols, queue entries */
};

FG_API void fg_tokenizer_get_stats(const struct fg_tokenizer *tok, struct fg_tokenizer_stats *s);
FG_API void fg_tokenizer_reset_stats(struct fg_tokenizer *tok);

/* ---- merges ------------------------------------------------------------------------------------
 * Merge `rank` (0 = applied first) joins the adjacent tokens a and b into the token id. count is
 * how often the pair occurred in the training text when the trainer chose it (0 for a tokenizer
 * loaded from files, which do not store counts). */
struct fg_tokenizer_merge_info {
    uint32_t a, b, id;
    uint64_t count;
};

/* Number of merges (50000 for GPT-2). */
FG_API size_t fg_tokenizer_n_merges(const struct fg_tokenizer *tok);
/* Merge `rank` into *m. FG_ERR_INVALID_ARG if rank >= fg_tokenizer_n_merges. Thread-safe. */
FG_API fg_status fg_tokenizer_get_merge(const struct fg_tokenizer *tok, size_t rank,
                                        struct fg_tokenizer_merge_info *m);

/* ---- training ------------------------------------------------------------------------------------
 * Byte-level BPE training (Sennrich et al. 2016 over bytes, as GPT-2 does), made for this
 * encoder:
 *   1. Every document is split into pieces by the pre-tokenizer above (documents are separate:
 *      no piece spans two; "<|endoftext|>" in the text is ordinary text). Equal pieces are
 *      counted once, with their multiplicity (a hash map), so the work below is over distinct
 *      pieces ("words") and a merge never crosses a piece boundary.
 *   2. The vocabulary starts with the 256 single bytes, in GPT-2's order: ids 0..255 go to the
 *      bytes sorted by the code point that GPT-2's byte-to-unicode table gives them, so
 *      '!'..'~' are ids 0..93, 0xA1..0xAC 94..105, 0xAE..0xFF 106..187, and the rest (0x00..0x20,
 *      0x7F..0xA0, 0xAD) 188..255, exactly as in GPT-2's encoder.json.
 *   3. Greedy merges: the adjacent pair of tokens with the highest count over all words (word
 *      count x occurrences; occurrences in a word are taken left to right without overlap, as
 *      the encoder merges) becomes the next token, with the next id, and is merged in every word.
 *      Ties: the pair whose left token's bytes sort first (memcmp order, a prefix first), then
 *      whose right token's bytes sort first. Training stops at vocab_size tokens or when the
 *      best count is below params.min_pair_count. Every token is made by exactly one merge (two
 *      pairs such as "ab"+"c" and "a"+"bc" cannot both occur with left-to-right merging; see
 *      train.c), which the encoder relies on.
 *   4. "<|endoftext|>" is the last id. So n_vocab = 256 + n_merges + 1 <= vocab_size.
 * The words' state after each merge is exactly what the encoder gives for them, so
 * stats.n_tokens is the number of ids fg_tokenizer_encode_docs produces for the same documents.
 *
 * The algorithm is the standard incremental one (Hugging Face tokenizers' BpeTrainer): pair
 * counts are kept up to date merge by merge, each pair keeps the list of words it occurs in so a
 * merge visits only those, and a max-heap with lazy deletion finds the best pair (an entry whose
 * count went down since it was pushed is put back with the new count when it surfaces). A merge
 * costs time in proportion to the total length of the words that contain its pair. Vocabulary
 * 4096 on novels.txt (5.3 MB of English) takes about 0.07 s on one core, 20x less than
 * SentencePiece's spm_train (bench/bench_bpe_train.c, scripts/bench_bpe_train.sh). Pieces that
 * are very long (megabytes without a space) are scanned whole by every merge that touches them.
 *
 * The result is deterministic: it depends only on the documents' bytes, not on their order,
 * on n_threads or on timing. */
struct fg_tokenizer_train_params {
    /* OpenMP threads that split and count the pieces (1..4096; default 1). Documents are cut at
     * line starts into chunks of about 1 MiB that threads take one by one. */
    int n_threads;
    /* Stop when the best pair occurs fewer than this many times (>= 1; default 2: a pair seen
     * once only memorizes its word). */
    uint64_t min_pair_count;
    /* Params of the resulting tokenizer; its allocator also serves the training itself (it must
     * be thread-safe when n_threads > 1). Default fg_tokenizer_params_default(). */
    struct fg_tokenizer_params tok;
};

FG_API struct fg_tokenizer_train_params fg_tokenizer_train_params_default(void);

/* What a training run did. */
struct fg_tokenizer_train_stats {
    uint64_t n_bytes;     /* bytes of text */
    uint64_t n_pieces;    /* pre-tokenizer pieces (with repetition) */
    uint64_t n_words;     /* distinct pieces */
    uint64_t n_tokens;    /* ids the text encodes to with the trained tokenizer */
    uint32_t n_merges;    /* merges learned */
    double seconds_count; /* splitting and counting the pieces */
    double seconds_merge; /* learning the merges and building the tokenizer */
    uint64_t peak_bytes;  /* largest memory the trainer held at once (approximate) */
};

/* Train a byte-level BPE tokenizer of at most vocab_size ids (257..FG_TOKENIZER_MAX_VOCAB) on
 * documents docs[d][0..doc_lens[d]) (any bytes; borrowed for the call). p and stats may be NULL.
 * On success *out is a new tokenizer (free with fg_tokenizer_free) that fg_tokenizer_encode and
 * the other calls use like a loaded one, and fg_tokenizer_save_json can save.
 * Errors: FG_ERR_INVALID_ARG (NULL arguments, vocab_size or params out of range, a piece of 4 GiB
 * or more), FG_ERR_NOMEM. On failure *out is NULL and errmsg (when not NULL) says why.
 * Memory: a hash map of the distinct pieces per thread (48 to 96 bytes per distinct piece; the
 * pieces point into the documents, which are not copied), then about 4 bytes per byte of the
 * distinct pieces plus 100 bytes per distinct pair: 9 MB for novels.txt's 36k distinct pieces.
 * Reentrant (no global state); uses params.n_threads OpenMP threads. */
FG_API fg_status fg_tokenizer_train(struct fg_tokenizer **out, const void *const *docs,
                                    const size_t *doc_lens, size_t n_docs, size_t vocab_size,
                                    const struct fg_tokenizer_train_params *p,
                                    struct fg_tokenizer_train_stats *stats, char *errmsg,
                                    size_t errmsg_len);

/* ---- tokenizer.json ------------------------------------------------------------------------------
 * The Hugging Face tokenizers file (Tokenizer.from_file reads it), UTF-8, two-space indents:
 *   {
 *     "version": "1.0", "truncation": null, "padding": null,
 *     "added_tokens": [ { "id": <eot id>, "content": "<|endoftext|>", "single_word": false,
 *                         "lstrip": false, "rstrip": false, "normalized": false,
 *                         "special": true } ],
 *     "normalizer": null,
 *     "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
 *                        "use_regex": true },
 *     "post_processor": null,
 *     "decoder": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
 *                  "use_regex": true },
 *     "model": { "type": "BPE", "dropout": null, "unk_token": null,
 *                "continuing_subword_prefix": null, "end_of_word_suffix": null,
 *                "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
 *                "vocab": { "<token>": <id>, ... one per line, in id order },
 *                "merges": [ "<A> <B>", ... one per line, in rank order ] }
 *   }
 * Tokens are written in GPT-2's byte-to-unicode alphabet (a space is "Ġ", a newline "Ċ"), as in
 * GPT-2's encoder.json and vocab.bpe; "<|endoftext|>" is both in vocab and in added_tokens.
 * ByteLevel with use_regex is HF's name for GPT-2's pre-tokenizer, the one this library uses.
 * Merge counts are not stored. */

/* Write tok to path atomically (a temporary file in the same directory, fsync, rename). Works for
 * any tokenizer, so it also converts GPT-2's two files into one tokenizer.json.
 * Errors: FG_ERR_IO (message with the path and errno), FG_ERR_NOMEM. Thread-safe (tok is only
 * read). Allocates a line buffer only. */
FG_API fg_status fg_tokenizer_save_json(const struct fg_tokenizer *tok, const char *path,
                                        char *errmsg, size_t errmsg_len);

/* Load a tokenizer.json (as written above, or by Hugging Face tokenizers for a GPT-2 style
 * byte-level BPE; merges may also be ["A", "B"] pairs, the newer HF form). p may be NULL.
 * Validation (FG_ERR_FORMAT, "<path>: what", or "<path>:<line>:<col>: ..." for JSON syntax):
 * not JSON or truncated; no "model" object, or model.type not "BPE"; vocab not an object of
 * token -> integer id; a token outside GPT-2's byte alphabet (not byte-level); duplicate tokens
 * or ids, ids not exactly 0..N-1; a merge that is not "A B", names a token not in vocab, uses a
 * token before a merge makes it, makes a token not in vocab or one another merge makes; tokens
 * that no merge makes; no "<|endoftext|>" token. FG_ERR_UNSUPPORTED: settings that would encode
 * differently from GPT-2 (a normalizer, a pre_tokenizer other than ByteLevel with use_regex and
 * without add_prefix_space, ignore_merges, dropout, subword prefixes or suffixes, added tokens
 * other than "<|endoftext|>"). Also FG_ERR_IO, FG_ERR_NOMEM, FG_ERR_INVALID_ARG (bad params).
 * JSON parsing goes through cJSON, whose memory does not use p->alloc. */
FG_API fg_status fg_tokenizer_load_json(struct fg_tokenizer **out, const char *path,
                                        const struct fg_tokenizer_params *p, char *errmsg,
                                        size_t errmsg_len);

/* The same from memory (the entry point for fuzzing); name is used in messages only (NULL:
 * "tokenizer.json"). The buffer is borrowed for the call. */
FG_API fg_status fg_tokenizer_load_json_buffer(struct fg_tokenizer **out, const void *buf,
                                               size_t len, const char *name,
                                               const struct fg_tokenizer_params *p, char *errmsg,
                                               size_t errmsg_len);

#ifdef __cplusplus
}
#endif
#endif
