/* frugal prepare, internal: the pipeline's state and its stages, shared by cmd_prepare.c (options,
 * the command, the report), prepare_read.c (read), prepare_dedup.c (records, exact, near,
 * substr) and prepare_write.c (tokenize, split, shards, manifest).
 *
 * Memory. Documents are never copied into the heap: inputs are memory-mapped read-only, decoded
 * JSON and CSV fields go to an unlinked temporary file in the output directory (the text spool)
 * that is mapped once read, and token ids go to a second one (the token spool). Clean pages of
 * those mappings belong to the page cache, which the kernel reclaims, so inputs larger than RAM
 * work. What stays in the heap is per-document metadata (struct doc and the stages' hashes and
 * signatures; prep_bytes_per_doc sums them) plus fixed buffers. Every stage function returns 0, or
 * an exit code with P->err set. */
#ifndef FRUGAL_PREPARE_H
#define FRUGAL_PREPARE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frugal/canon.h"
#include "frugal/core.h"
#include "frugal/substr.h"

#define MAX_SKIPS_KEPT   1000 /* skipped records listed in the manifest (all are counted) */
#define MAX_SPANS_LISTED 1000 /* substring spans listed in the manifest (all are counted) */
#define MAX_RECORD_KEYS  64
#define SPLIT_BUCKETS    1000000 /* the hash split compares hash mod 10^6 */

enum in_format { FMT_TEXT, FMT_JSONL, FMT_CSV };

enum doc_split { DS_FILE, DS_BLANK, DS_LINE, DS_STRING };

enum split_mode { SPLIT_HASH, SPLIT_TAIL };

/* What became of a document (the manifest's "reason" of a removed one). */
enum doc_fate {
    FATE_KEPT = 0,
    FATE_RECORD,     /* same canonical record as an earlier document */
    FATE_RECORD_KEY, /* same key fields and shared values as an earlier record (--record-key) */
    FATE_EXACT,
    FATE_NEAR,
    FATE_SUBSTR,    /* every token removed by the substring stage */
    FATE_NOT_RECORD /* did not parse as a record: skipped, listed with the skipped records */
};

struct prep_opts {
    const char *outdir, *tokenizer, *vocab, *docs_split, *jsonl, *csv, *dedup, *split;
    const char *records, *record_key;
    double val_fraction, near_threshold;
    int shingle, bands, rows, threads, strict, quiet;
    size_t substr_min;
};

struct skip {
    size_t input, line, col; /* col 0: not known */
    char why[160];
};

struct input {
    const char *path;
    const char *map; /* the file, mapped read-only (never NULL once read: empty files fail) */
    size_t len;
    uint8_t sha[32];
    size_t n_records, n_docs, n_empty, n_bad;
    struct skip first_bad;  /* the first skipped record, when n_bad > 0 */
    const char *csv_header; /* CSV: the header row as in the file (no line break), in map */
    size_t csv_header_len;
};

/* One document. 80 bytes. */
struct doc {
    union {
        const char *p;      /* the text: into its input's mapping or into the text spool */
        uint64_t spool_off; /* while reading, for spooled documents: the offset in the spool */
    };

    size_t len;
    const char *rec; /* the record the records stage parses: the JSON line or CSV row as in the */
    size_t rec_len;  /* file when the record kind is the input's own, else the document */
    size_t index;    /* 0-based document number in its input */
    size_t line;     /* 1-based line where it starts */
    size_t dup_of;   /* the kept document it duplicates (itself when kept) */
    uint64_t hash;   /* first 8 bytes of the SHA-256 of the text, big-endian: the split key */
    uint32_t input;
    uint8_t fate;    /* enum doc_fate */
    uint8_t spooled; /* the text is in the text spool */
    float jaccard;   /* near duplicates: the similarity the dedup library verified */
};

struct stage {
    const char *name;
    int enabled;
    size_t docs_in, docs_out;
    uint64_t bytes_in, bytes_out;
};

/* An unlinked temporary file in the output directory, written through a FILE and then mapped. */
struct spool {
    FILE *fp;
    uint64_t len; /* bytes written */
    void *map;    /* after spool_map: (len) bytes, NULL when len is 0 */
    size_t map_len;
};

/* A run of tokens [from, to) of kept document k that goes to one shard. */
struct piece {
    size_t k, from, to;
};

struct shard_out {
    const char *name; /* "train.bin" */
    char path[4200];
    struct fg_atomic_file f;
    struct fg_sha256 sha;
    int open;
    struct piece *pieces;
    size_t n_pieces, cap_pieces, n_docs, n_tokens;
    uint64_t bytes;
    char sha_hex[65];
};

/* The substring stage's results for the manifest and the report. */
struct substr_result {
    struct fg_substr_stats stats;
    struct fg_substr_span listed[MAX_SPANS_LISTED]; /* the first spans (doc = kept index) */
    size_t n_listed;
    size_t docs_in, docs_dropped;
    uint64_t tokens_in, tokens_out;
};

struct prep {
    struct prep_opts o;
    enum in_format fmt;
    enum doc_split ds;
    enum split_mode split;
    char *delim; /* DS_STRING, escapes resolved */
    size_t delim_len;
    const char *field; /* --jsonl / --csv FIELD; NULL for text */
    int whole;         /* FIELD is ".": the whole line or row is the document */
    int dedup_records, dedup_exact, dedup_near, dedup_substr;
    enum fg_canon_kind rec_kind;
    int rec_raw; /* the record is the input's raw line or row (json on --jsonl, csv on --csv) */
    char *key_buf;
    const char *keys[MAX_RECORD_KEYS];
    size_t n_keys;

    struct input *in;
    size_t n_in;
    struct doc *docs;
    size_t n_docs, cap_docs;
    struct skip *skips;
    size_t n_skips, n_skips_total;
    size_t n_not_record; /* documents the records stage skipped */

    size_t *kept; /* (n_kept) indices into docs of the documents that go to tokenization */
    size_t n_kept;
    struct stage st_read, st_records, st_exact, st_near;

    struct fg_tokenizer *tok; /* NULL for bytes */
    int tok_json;             /* --tokenizer FILE.json */
    const char *tok_name;
    size_t n_vocab;
    int width; /* bytes per id in the shards: 2 or 4 (fg_shard_token_bytes_for_vocab) */
    char tok_file[2][4200], tok_sha[2][65];
    int n_tok_files;
    const char *sep; /* byte tokenizer: what follows every document */
    size_t sep_len;

    struct spool text_spool, tok_spool;
    const uint32_t *ids; /* the token spool's ids, or NULL: bytes are read from the documents */
    size_t *tok_start;   /* (n_kept + 1) offsets of each kept document's tokens */
    uint64_t tokens_tokenized;
    struct substr_result *sub;

    int tail_used;
    char note[320];
    struct shard_out out[2]; /* train, val */
    char made_dirs[8][4096]; /* directories this run created, to remove again on failure */
    int n_made_dirs;
    uint64_t peak_anon; /* the largest RssAnon seen, bytes (0: unknown); under mem_lock */
    pthread_mutex_t mem_lock;
    pthread_t mem_thread; /* samples RssAnon while the stages run */
    int mem_lock_ok, mem_running, mem_stop;
    int json_oom;
    char err[1400];
};

/* The bound on heap bytes per document for P's options (prepare_bytes_per_doc in
 * cmd_prepare.c says how it adds up). */
size_t prep_bytes_per_doc(const struct prep *P);

/* cmd_prepare.c */
__attribute__((format(printf, 3, 4))) int prep_fail(struct prep *P, int code, const char *fmt, ...);
int prep_grow(void **p, size_t *cap, size_t need, size_t elem);
void prep_sample_memory(struct prep *P);
void prep_memory_stop(struct prep *P); /* stop the sampler: before the manifest reads the peak */

/* prepare_read.c: every input into P->docs (mapped inputs, the text spool, document hashes) */
int prep_read_inputs(struct prep *P, const char **files, size_t n_files);
__attribute__((format(printf, 5, 6))) int prep_skip(struct prep *P, size_t input, size_t line,
                                                    size_t col, const char *fmt, ...);
int spool_open(struct prep *P, struct spool *s, const char *what);
int spool_write(struct prep *P, struct spool *s, const void *buf, size_t len, const char *what);
int spool_map(struct prep *P, struct spool *s, int writable, const char *what);
void spool_close(struct spool *s);
void prep_unmap_inputs(struct prep *P);

/* prepare_dedup.c */
int prep_records(struct prep *P);
int prep_dedup(struct prep *P);
int prep_substr(struct prep *P);

/* prepare_write.c */
int prep_tokenize(struct prep *P);
int prep_split(struct prep *P);
int prep_write_outputs(struct prep *P);
double prep_doc_jaccard(const struct prep *P, size_t a, size_t b);

#endif
