/* frugal tokenizer: text to token ids and back (encode, decode, info) with GPT-2's byte-level
 * BPE from include/frugal/tokenizer.h, either GPT-2's own vocabulary or one that train learns
 * from text (fg_tokenizer_train) and saves as a tokenizer.json.
 *
 * encode reads its files in batches of about BATCH_BYTES and cuts each file at "safe" line
 * breaks into chunks of about CHUNK_BYTES, so that fg_tokenizer_encode_docs can spread even a
 * single big file over all threads. A cut is safe when it cannot change the ids: see
 * next_cut() for why. The output is identical to encoding each file whole, for any --threads.
 * Outputs named with -o are written atomically (temporary file, fsync, rename), so an error
 * never leaves a half-written file behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "frugal/data.h"
#include "frugal/tokenizer.h"

#define BATCH_BYTES ((size_t)64 << 20)  /* input bytes encoded per fg_tokenizer_encode_docs call */
#define CHUNK_BYTES ((size_t)256 << 10) /* a file is cut into chunks of at least this size */
#define DECODE_IDS  4096                /* ids decoded per fg_tokenizer_decode call */

enum fmt { FMT_IDS, FMT_BIN, FMT_SHARD };

static const char FORMATS_HELP[] =
    "formats (--format):\n"
    "  ids    text, the default: one line per input file, decimal ids separated by spaces\n"
    "         (\"Hello world\" is the line \"15496 995\")\n"
    "  bin    4 bytes per id, little-endian uint32, no header; files follow each other\n"
    "  shard  an llm.c token shard, what frugal train --data reads: a 1024-byte header of\n"
    "         256 little-endian int32 (20240520, version 1, token count, then zeros) and\n"
    "         one little-endian uint16 per id; every file starts with <|endoftext|> (50256\n"
    "         in GPT-2's vocabulary) unless encode is given --no-eot; decode also reads\n"
    "         the uint32 variant (20240801, version 7) that frugal prepare writes for\n"
    "         vocabularies over 65,535 ids\n";

/* ---- input and output --------------------------------------------------------------------- */

/* Read a whole file ("-" is stdin; pipes and FIFOs work) into a malloc'd buffer. */
static int read_input(const char *cmd, const char *path, uint8_t **out, size_t *out_len)
{
    int is_stdin = !strcmp(path, "-");
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    const char *name = is_stdin ? "standard input" : path;
    char err[4400], what[4200];
    *out = NULL;
    *out_len = 0;
    if (!fp) {
        snprintf(what, sizeof what, "cannot open input file %s", path);
        fg_errno_msg(err, sizeof err, errno, what);
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    struct stat st;
    size_t cap = 1 << 16, len = 0;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        cap = (size_t)st.st_size + 1;
    uint8_t *buf = malloc(cap);
    int rc = EXIT_OK;
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0)
            break;
        if (len == cap) {
            uint8_t *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    if (!buf) {
        fprintf(stderr, "frugal %s: out of memory reading %s\n", cmd, name);
        rc = EXIT_FAIL;
    } else if (ferror(fp)) {
        snprintf(what, sizeof what, "cannot read %s", name);
        fg_errno_msg(err, sizeof err, errno ? errno : EIO, what);
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        free(buf);
        buf = NULL;
        rc = EXIT_FAIL;
    }
    if (!is_stdin)
        fclose(fp);
    *out = buf;
    *out_len = len;
    return rc;
}

/* Where the output goes: -o FILE through the atomic writer, or stdout. */
struct output {
    const char *path; /* NULL: stdout */
    struct fg_atomic_file af;
    int open;
};

static int out_open(const char *cmd, struct output *o, const char *path)
{
    char err[4400];
    memset(o, 0, sizeof *o);
    o->path = path;
    if (!path)
        return EXIT_OK;
    if (fg_atomic_open(&o->af, path, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal %s: %s (does the directory of -o exist, and is it writable?)\n",
                cmd, err);
        return EXIT_FAIL;
    }
    o->open = 1;
    return EXIT_OK;
}

static int out_write(const char *cmd, struct output *o, const void *buf, size_t len)
{
    char err[4400];
    if (len == 0)
        return EXIT_OK;
    if (!o->path) {
        if (fwrite(buf, 1, len, stdout) == len)
            return EXIT_OK;
        fg_errno_msg(err, sizeof err, errno ? errno : EIO, "cannot write to standard output");
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    if (fg_atomic_write(&o->af, buf, len, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Commit the output (rename into place) or, if rc reports a failure, drop it. */
static int out_close(const char *cmd, struct output *o, int rc)
{
    char err[4400];
    if (!o->path) {
        if (rc == EXIT_OK && fflush(stdout) != 0) {
            fg_errno_msg(err, sizeof err, errno ? errno : EIO, "cannot write to standard output");
            fprintf(stderr, "frugal %s: %s\n", cmd, err);
            return EXIT_FAIL;
        }
        return rc;
    }
    if (!o->open)
        return rc;
    o->open = 0;
    if (rc != EXIT_OK) {
        fg_atomic_abort(&o->af);
        return rc;
    }
    if (fg_atomic_commit(&o->af, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int parse_format(const char *cmd, const char *s, enum fmt *f)
{
    if (!strcmp(s, "ids"))
        *f = FMT_IDS;
    else if (!strcmp(s, "bin"))
        *f = FMT_BIN;
    else if (!strcmp(s, "shard"))
        *f = FMT_SHARD;
    else {
        fprintf(stderr,
                "frugal %s: unknown --format '%s' (use ids, bin or shard; see frugal %s "
                "--help)\n",
                cmd, s, cmd);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- encode ------------------------------------------------------------------------------- */

static int is_graph(uint8_t c)
{
    return c >= 0x21 && c <= 0x7E;
}

/* The first safe cut at or after `from` (len if there is none). A cut right after a '\n' that
 * sits between two printable ASCII characters, as in "end.\nNext", changes no id: GPT-2's
 * pre-tokenizer regex (tokenizer.h) can only put a '\n' into a piece made of whitespace
 * alone (\s+(?!\S) or \s+; the optional prefix of the letter, number and symbol pieces is a
 * plain space), so no piece spans the cut; and as the '\n' is a run of one whitespace
 * character, the lookahead (?!\S) gives the same piece "\n" whether the text ends after it or
 * a printable character follows. Byte pair merges never cross pieces, and "<|endoftext|>"
 * holds no '\n'. Printable ASCII bytes are never part of a multi-byte UTF-8 character, so the
 * cut is also a character boundary. */
static size_t next_cut(const uint8_t *p, size_t len, size_t from)
{
    if (from == 0)
        from = 1;
    for (size_t i = from; i + 1 < len; i++)
        if (p[i] == '\n' && is_graph(p[i - 1]) && is_graph(p[i + 1]))
            return i + 1;
    return len;
}

/* A growing array of elements of `elem` bytes. */
struct vec {
    void *p;
    size_t n, cap, elem;
};

static int vec_reserve(struct vec *v, size_t n)
{
    if (n <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 64, bytes;
    while (cap < n)
        cap *= 2;
    if (fg_size_mul(cap, v->elem, &bytes) != FG_OK)
        return -1;
    void *np = realloc(v->p, bytes);
    if (!np)
        return -1;
    v->p = np;
    v->cap = cap;
    return 0;
}

struct enc_job {
    const char *cmd;
    struct fg_tokenizer *tok;
    unsigned flags;
    int eot;
    enum fmt fmt;
    struct output *out;
    struct vec shard; /* uint16 ids for --format shard */
    uint64_t n_bytes, n_tokens;
};

/* Write one file's ids (with the <|endoftext|> id first when asked) in the job's format. */
static int emit_ids(struct enc_job *j, const char *name, const uint32_t *ids, size_t n)
{
    uint32_t eot = fg_tokenizer_eot_id(j->tok);
    size_t n_all = n + (j->eot ? 1 : 0);
    j->n_tokens += n_all;
    if (j->fmt == FMT_SHARD) {
        if (vec_reserve(&j->shard, j->shard.n + n_all) != 0) {
            fprintf(stderr, "frugal %s: out of memory for %zu token ids\n", j->cmd,
                    j->shard.n + n_all);
            return EXIT_FAIL;
        }
        uint16_t *dst = (uint16_t *)j->shard.p + j->shard.n;
        for (size_t i = 0; i < n_all; i++) {
            uint32_t id = j->eot ? (i ? ids[i - 1] : eot) : ids[i];
            if (id > 65535) {
                fprintf(stderr,
                        "frugal %s: %s: token id %u does not fit a uint16 shard (for vocabularies "
                        "over 65,536 tokens use frugal prepare, which writes uint32 shards, or "
                        "--format bin)\n",
                        j->cmd, name, id);
                return EXIT_FAIL;
            }
            dst[i] = (uint16_t)id;
        }
        j->shard.n += n_all;
        return EXIT_OK;
    }
    char buf[1 << 16];
    size_t k = 0;
    for (size_t i = 0; i < n_all; i++) {
        uint32_t id = j->eot ? (i ? ids[i - 1] : eot) : ids[i];
        if (k + 16 > sizeof buf) {
            if (out_write(j->cmd, j->out, buf, k))
                return EXIT_FAIL;
            k = 0;
        }
        if (j->fmt == FMT_BIN) {
            for (int b = 0; b < 4; b++)
                buf[k++] = (char)(id >> (8 * b) & 0xFF);
            continue;
        }
        char digits[10];
        int nd = 0;
        do {
            digits[nd++] = (char)('0' + id % 10);
            id /= 10;
        } while (id);
        if (i)
            buf[k++] = ' ';
        while (nd)
            buf[k++] = digits[--nd];
    }
    if (j->fmt == FMT_IDS)
        buf[k++] = '\n';
    return out_write(j->cmd, j->out, buf, k);
}

/* Encode files[0..n) (already read into bufs/lens) with one fg_tokenizer_encode_docs call over
 * their chunks, then write each file's ids in order. */
static int encode_batch(struct enc_job *j, const char *const *files, uint8_t *const *bufs,
                        const size_t *lens, size_t n)
{
    struct vec docs = { NULL, 0, 0, sizeof(const void *) };
    struct vec dlen = { NULL, 0, 0, sizeof(size_t) };
    size_t *first = malloc((n + 1) * sizeof *first), total = 0, *start = NULL;
    uint32_t *ids = NULL;
    int rc = EXIT_FAIL;
    if (!first)
        goto oom;
    for (size_t f = 0; f < n; f++) {
        first[f] = docs.n;
        size_t at = 0;
        do { /* at least one chunk per file, even an empty one */
            size_t end = at + CHUNK_BYTES >= lens[f] ? lens[f]
                                                     : next_cut(bufs[f], lens[f], at + CHUNK_BYTES);
            if (vec_reserve(&docs, docs.n + 1) || vec_reserve(&dlen, dlen.n + 1))
                goto oom;
            ((const void **)docs.p)[docs.n++] = bufs[f] + at;
            ((size_t *)dlen.p)[dlen.n++] = end - at;
            at = end;
        } while (at < lens[f]);
        total += lens[f];
    }
    first[n] = docs.n;
    ids = malloc((total ? total : 1) * sizeof *ids);
    start = malloc((docs.n + 1) * sizeof *start);
    if (!ids || !start)
        goto oom;
    fg_status st = fg_tokenizer_encode_docs(j->tok, (const void *const *)docs.p, dlen.p, docs.n,
                                            j->flags, ids, total ? total : 1, start);
    if (st != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", j->cmd, fg_tokenizer_errmsg(j->tok));
        goto done;
    }
    j->n_bytes += total;
    for (size_t f = 0; f < n; f++) {
        size_t a = start[first[f]], b = start[first[f + 1]];
        if (emit_ids(j, files[f], ids + a, b - a))
            goto done;
    }
    rc = EXIT_OK;
    goto done;
oom:
    fprintf(stderr, "frugal %s: out of memory encoding %zu bytes (encode fewer files at once)\n",
            j->cmd, total);
done:
    free(docs.p);
    free(dlen.p);
    free(first);
    free(ids);
    free(start);
    return rc;
}

/* Read the files in batches of about BATCH_BYTES and encode each batch. */
static int encode_files(struct enc_job *j, const char *const *files, size_t n_files)
{
    uint8_t **bufs = calloc(n_files ? n_files : 1, sizeof *bufs);
    size_t *lens = calloc(n_files ? n_files : 1, sizeof *lens);
    int rc = EXIT_OK;
    if (!bufs || !lens) {
        fprintf(stderr, "frugal %s: out of memory\n", j->cmd);
        rc = EXIT_FAIL;
    }
    for (size_t b0 = 0; rc == EXIT_OK && b0 < n_files;) {
        size_t b1 = b0, bytes = 0;
        while (rc == EXIT_OK && b1 < n_files && (b1 == b0 || bytes < BATCH_BYTES)) {
            rc = read_input(j->cmd, files[b1], &bufs[b1], &lens[b1]);
            bytes += lens[b1++];
        }
        if (rc == EXIT_OK)
            rc = encode_batch(j, files + b0, bufs + b0, lens + b0, b1 - b0);
        for (size_t f = b0; f < b1; f++) {
            free(bufs[f]);
            bufs[f] = NULL;
        }
        b0 = b1;
    }
    free(bufs);
    free(lens);
    return rc;
}

#define MAX_THREADS 1024 /* each encoding thread has its own 2 MiB word cache */

static int check_threads(const char *cmd, int threads)
{
    if (threads <= MAX_THREADS)
        return EXIT_OK;
    fprintf(stderr,
            "frugal %s: invalid value '%d' for --threads: at most %d (see frugal %s --help)\n", cmd,
            threads, MAX_THREADS, cmd);
    return EXIT_USAGE;
}

/* At most one '-'; and no silent wait for typing when no FILE is given and stdin is a
 * terminal. */
static int check_inputs(const char *cmd, const char *const *files, int n)
{
    if (n == 0 && isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "frugal %s: no input FILE, and standard input is a terminal: give FILE... or "
                "pipe the input in (see frugal %s --help)\n",
                cmd, cmd);
        return EXIT_USAGE;
    }
    int n_stdin = 0;
    for (int i = 0; i < n; i++)
        n_stdin += !strcmp(files[i], "-");
    if (n_stdin > 1) {
        fprintf(stderr, "frugal %s: standard input ('-') can be read only once\n", cmd);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int cmd_encode(int argc, char **argv)
{
    const char *cmd = "tokenizer encode", *format = "ids", *out_path = NULL;
    struct cli_vocab v = { NULL, NULL, NULL, NULL };
    int allow_special = 0, eot = 0, no_eot = 0, quiet = 0, threads = fg_cpu_count();
    struct opt o[] = {
        { "--vocab", OPT_STR, &v.dir, "DIR",
          "directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--encoder", OPT_STR, &v.encoder, "FILE", "encoder.json to use [DIR/encoder.json]", 0, 0,
          0, 0 },
        { "--merges", OPT_STR, &v.merges, "FILE", "vocab.bpe to use [DIR/vocab.bpe]", 0, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &v.json, "FILE",
          "a tokenizer.json (frugal tokenizer train) instead of GPT-2's", 0, 0, 0, 0 },
        { "--format", OPT_STR, &format, "F", "ids, bin or shard (see above) [ids]", 0, 0, 0, 0 },
        { "-o", OPT_STR, &out_path, "FILE", "write here, atomically [stdout]", 0, 0, 0, 0 },
        { "--allow-special", OPT_FLAG, &allow_special, NULL,
          "the text \"<|endoftext|>\" becomes its id (trusted text only)", 0, 0, 0, 0 },
        { "--eot", OPT_FLAG, &eot, NULL, "put the <|endoftext|> id before every file", 0, 0, 0, 0 },
        { "--no-eot", OPT_FLAG, &no_eot, NULL, "shard: no <|endoftext|> before every file", 0, 0, 0,
          0 },
        { "--threads", OPT_INT, &threads, "N", "threads, at most 1024 [all cores]", 1, 0, 0, 0 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no summary line on stderr", 0, 0, 0, 0 },
    };
    const char **files = malloc((size_t)argc * sizeof *files);
    int n_files, rc = EXIT_FAIL;
    if (!files) {
        fprintf(stderr, "frugal %s: out of memory\n", cmd);
        return EXIT_FAIL;
    }
    char about[2048];
    snprintf(about, sizeof about,
             "Encode each FILE (standard input when there is none, or for '-') with GPT-2's\n"
             "byte-level BPE. Any bytes are accepted (also NUL and invalid UTF-8), and frugal\n"
             "tokenizer decode gives them back exactly. Files, and big files cut at line breaks,\n"
             "are encoded in parallel; the ids do not depend on --threads. Memory: about 5 bytes\n"
             "per input byte of a batch of files (64 MB). A summary goes to stderr.\n\n%s\n"
             "examples:\n"
             "  printf 'Hello world' | frugal tokenizer encode          # 15496 995\n"
             "  frugal tokenizer encode --format shard -o train.bin data/austen/*.txt\n"
             "  frugal train --data train.bin --vocab-size 50257 ...",
             FORMATS_HELP);
    rc = cli_parse(argc, argv, 3, o, sizeof o / sizeof o[0], cmd, "[options] [FILE...]", about,
                   files, argc, &n_files);
    if (rc) {
        free(files);
        return rc < 0 ? EXIT_OK : rc;
    }
    struct enc_job j;
    memset(&j, 0, sizeof j);
    j.cmd = cmd;
    j.shard.elem = sizeof(uint16_t);
    rc = parse_format(cmd, format, &j.fmt);
    if (rc == EXIT_OK && eot && no_eot) {
        fprintf(stderr, "frugal %s: --eot and --no-eot contradict each other\n", cmd);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && j.fmt == FMT_SHARD && !out_path) {
        fprintf(stderr, "frugal %s: --format shard needs -o FILE (a shard is not streamed)\n", cmd);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && j.fmt == FMT_BIN && !out_path && isatty(STDOUT_FILENO)) {
        fprintf(stderr, "frugal %s: --format bin is binary: give -o FILE or pipe stdout\n", cmd);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK)
        rc = check_threads(cmd, threads);
    if (rc == EXIT_OK)
        rc = check_inputs(cmd, files, n_files);
    static const char *const stdin_only[] = { "-" };
    const char *const *in = n_files ? files : stdin_only;
    size_t n_in = n_files > 0 ? (size_t)n_files : 1;
    struct output out;
    memset(&out, 0, sizeof out);
    if (rc == EXIT_OK)
        rc = cli_load_tokenizer(cmd, &v, threads, &j.tok);
    double t0 = fg_time_now();
    if (rc == EXIT_OK && j.fmt != FMT_SHARD)
        rc = out_open(cmd, &out, out_path);
    j.flags = allow_special ? FG_TOKENIZER_ALLOW_SPECIAL : 0;
    j.eot = j.fmt == FMT_SHARD ? !no_eot : eot;
    j.out = &out;
    if (rc == EXIT_OK)
        rc = encode_files(&j, in, n_in);
    if (j.fmt != FMT_SHARD) {
        rc = out_close(cmd, &out, rc);
    } else if (rc == EXIT_OK) {
        char err[4400];
        fg_status st = fg_shard_write(out_path, j.shard.p, j.shard.n, err, sizeof err);
        if (st != FG_OK) {
            fprintf(stderr, "frugal %s: %s%s\n", cmd, err,
                    st == FG_ERR_IO ? " (does the directory of -o exist, and is it writable?)"
                                    : "");
            rc = EXIT_FAIL;
        }
    }
    double dt = fg_time_now() - t0;
    if (rc == EXIT_OK && !quiet)
        fprintf(stderr,
                "frugal %s: %zu file%s, %llu bytes -> %llu tokens (%.2f bytes/token), %.1f "
                "MB/s on %d thread%s%s%s\n",
                cmd, n_in, n_in == 1 ? "" : "s", (unsigned long long)j.n_bytes,
                (unsigned long long)j.n_tokens,
                j.n_tokens ? (double)j.n_bytes / (double)j.n_tokens : 0.0,
                dt > 0 ? (double)j.n_bytes / dt / 1e6 : 0.0, threads, threads == 1 ? "" : "s",
                out_path ? " -> " : "", out_path ? out_path : "");
    fg_tokenizer_free(j.tok);
    free(j.shard.p);
    free(files);
    return rc;
}

/* ---- decode ------------------------------------------------------------------------------- */

/* Up to 24 bytes of s[0..n) for a message, non-printable bytes as \xNN, ending in "..." when
 * cut. */
static void quote_bytes(char *dst, size_t cap, const uint8_t *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && i < 24 && k + 8 < cap; i++)
        k += (size_t)snprintf(dst + k, cap - k, is_graph(s[i]) ? "%c" : "\\x%02X", s[i]);
    if (n > 24 && k + 4 < cap)
        k += (size_t)snprintf(dst + k, cap - k, "...");
    dst[k] = '\0';
}

/* Parse the ids format ("15496 995\n..."): decimal ids separated by whitespace. Each id is
 * checked against the vocabulary, and errors give the line and column. */
static int parse_ids_text(const char *cmd, const char *name, const uint8_t *s, size_t len,
                          size_t n_vocab, struct vec *ids)
{
    size_t line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            line += c == '\n';
            col = c == '\n' ? 1 : col + 1;
            i++;
            continue;
        }
        size_t e = i;
        while (e < len && !(s[e] == ' ' || s[e] == '\t' || s[e] == '\r' || s[e] == '\n'))
            e++;
        uint64_t v = 0;
        int ok = 1;
        for (size_t k = i; k < e && ok; k++) {
            if (s[k] < '0' || s[k] > '9')
                ok = 0;
            else if (v <= UINT32_MAX)
                v = v * 10 + (uint64_t)(s[k] - '0');
        }
        char tok[128];
        quote_bytes(tok, sizeof tok, s + i, e - i);
        if (!ok) {
            fprintf(stderr,
                    "frugal %s: %s:%zu:%zu: '%s' is not a token id (the ids format is decimal "
                    "ids separated by spaces, as frugal tokenizer encode writes)\n",
                    cmd, name, line, col, tok);
            return EXIT_FAIL;
        }
        if (v >= n_vocab) {
            fprintf(stderr,
                    "frugal %s: %s:%zu:%zu: token id %s is out of range: this vocabulary has ids "
                    "0..%zu (was it encoded with another vocabulary?)\n",
                    cmd, name, line, col, tok, n_vocab - 1);
            return EXIT_FAIL;
        }
        if (vec_reserve(ids, ids->n + 1) != 0) {
            fprintf(stderr, "frugal %s: out of memory reading %s\n", cmd, name);
            return EXIT_FAIL;
        }
        ((uint32_t *)ids->p)[ids->n++] = (uint32_t)v;
        col += e - i;
        i = e;
    }
    return EXIT_OK;
}

/* Parse --format bin (little-endian uint32) or shard (header + little-endian uint16). */
static int parse_ids_binary(const char *cmd, const char *name, const uint8_t *s, size_t len,
                            enum fmt f, size_t n_vocab, struct vec *ids)
{
    size_t n, width = f == FMT_BIN ? 4 : (size_t)fg_shard_token_bytes(s, len),
              off = f == FMT_BIN ? 0 : FG_SHARD_HEADER_BYTES;
    if (f == FMT_SHARD) {
        char err[512];
        int max_tok;
        /* the range check comes below, with the id's position in the message */
        if (fg_shard_check(s, len, 0, &n, &max_tok, err, sizeof err) != FG_OK) {
            fprintf(stderr, "frugal %s: %s: %s\n", cmd, name, err);
            return EXIT_FAIL;
        }
    } else {
        if (len % 4) {
            fprintf(stderr,
                    "frugal %s: %s has %zu bytes, not a whole number of 4-byte ids (is it "
                    "--format bin output?)\n",
                    cmd, name, len);
            return EXIT_FAIL;
        }
        n = len / 4;
    }
    if (vec_reserve(ids, ids->n + n) != 0) {
        fprintf(stderr, "frugal %s: out of memory reading %s\n", cmd, name);
        return EXIT_FAIL;
    }
    uint32_t *dst = (uint32_t *)ids->p + ids->n;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = s + off + i * width;
        uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8;
        if (width == 4)
            v |= (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (v >= n_vocab) {
            fprintf(stderr,
                    "frugal %s: %s: token id %u (id number %zu, byte offset %zu) is out of "
                    "range: this vocabulary has ids 0..%zu\n",
                    cmd, name, v, i, off + i * width, n_vocab - 1);
            return EXIT_FAIL;
        }
        dst[i] = v;
    }
    ids->n += n;
    return EXIT_OK;
}

static int decode_ids(const char *cmd, struct fg_tokenizer *tok, struct output *out,
                      const uint32_t *ids, size_t n)
{
    size_t cap = DECODE_IDS * fg_tokenizer_max_token_len(tok);
    uint8_t *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "frugal %s: out of memory\n", cmd);
        return EXIT_FAIL;
    }
    int rc = EXIT_OK;
    for (size_t i = 0; i < n && rc == EXIT_OK; i += DECODE_IDS) {
        size_t k = n - i < DECODE_IDS ? n - i : DECODE_IDS, len = 0;
        if (fg_tokenizer_decode(tok, ids + i, k, buf, cap, &len) != FG_OK) {
            fprintf(stderr, "frugal %s: %s\n", cmd, fg_tokenizer_errmsg(tok));
            rc = EXIT_FAIL;
        } else {
            rc = out_write(cmd, out, buf, len);
        }
    }
    free(buf);
    return rc;
}

static int cmd_decode(int argc, char **argv)
{
    const char *cmd = "tokenizer decode", *format = "ids", *out_path = NULL;
    struct cli_vocab v = { NULL, NULL, NULL, NULL };
    struct opt o[] = {
        { "--vocab", OPT_STR, &v.dir, "DIR",
          "directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--encoder", OPT_STR, &v.encoder, "FILE", "encoder.json to use [DIR/encoder.json]", 0, 0,
          0, 0 },
        { "--merges", OPT_STR, &v.merges, "FILE", "vocab.bpe to use [DIR/vocab.bpe]", 0, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &v.json, "FILE",
          "a tokenizer.json (frugal tokenizer train) instead of GPT-2's", 0, 0, 0, 0 },
        { "--format", OPT_STR, &format, "F", "ids, bin or shard: how FILE holds the ids [ids]", 0,
          0, 0, 0 },
        { "-o", OPT_STR, &out_path, "FILE", "write the bytes here, atomically [stdout]", 0, 0, 0,
          0 },
    };
    const char **files = malloc((size_t)argc * sizeof *files);
    int n_files, rc;
    if (!files) {
        fprintf(stderr, "frugal %s: out of memory\n", cmd);
        return EXIT_FAIL;
    }
    char about[2048];
    snprintf(about, sizeof about,
             "Turn token ids back into the bytes they stand for: the exact inverse of frugal\n"
             "tokenizer encode. FILEs (standard input when there is none, or for '-') are\n"
             "decoded in order into one output; every id must be in the vocabulary.\n\n%s\n"
             "example:\n"
             "  frugal tokenizer encode book.txt | frugal tokenizer decode > copy.txt",
             FORMATS_HELP);
    rc = cli_parse(argc, argv, 3, o, sizeof o / sizeof o[0], cmd, "[options] [FILE...]", about,
                   files, argc, &n_files);
    if (rc) {
        free(files);
        return rc < 0 ? EXIT_OK : rc;
    }
    enum fmt f;
    rc = parse_format(cmd, format, &f);
    if (rc == EXIT_OK)
        rc = check_inputs(cmd, files, n_files);
    struct fg_tokenizer *tok = NULL;
    if (rc == EXIT_OK)
        rc = cli_load_tokenizer(cmd, &v, 1, &tok);
    struct output out;
    memset(&out, 0, sizeof out);
    if (rc == EXIT_OK)
        rc = out_open(cmd, &out, out_path);
    size_t n_in = n_files > 0 ? (size_t)n_files : 1;
    struct vec ids = { NULL, 0, 0, sizeof(uint32_t) };
    for (size_t i = 0; i < n_in && rc == EXIT_OK; i++) {
        const char *path = n_files ? files[i] : "-";
        const char *name = strcmp(path, "-") ? path : "standard input";
        uint8_t *buf;
        size_t len;
        rc = read_input(cmd, path, &buf, &len);
        if (rc != EXIT_OK)
            break;
        ids.n = 0;
        size_t nv = fg_tokenizer_n_vocab(tok);
        rc = f == FMT_IDS ? parse_ids_text(cmd, name, buf, len, nv, &ids)
                          : parse_ids_binary(cmd, name, buf, len, f, nv, &ids);
        free(buf);
        if (rc == EXIT_OK)
            rc = decode_ids(cmd, tok, &out, ids.p, ids.n);
    }
    if (tok)
        rc = out_close(cmd, &out, rc);
    free(ids.p);
    fg_tokenizer_free(tok);
    free(files);
    return rc;
}

/* ---- info --------------------------------------------------------------------------------- */

static int cmd_info(int argc, char **argv)
{
    const char *cmd = "tokenizer info";
    struct cli_vocab v = { NULL, NULL, NULL, NULL };
    struct opt o[] = {
        { "--vocab", OPT_STR, &v.dir, "DIR",
          "directory with encoder.json and vocab.bpe [data/gpt2]", 0, 0, 0, 0 },
        { "--encoder", OPT_STR, &v.encoder, "FILE", "encoder.json to use [DIR/encoder.json]", 0, 0,
          0, 0 },
        { "--merges", OPT_STR, &v.merges, "FILE", "vocab.bpe to use [DIR/vocab.bpe]", 0, 0, 0, 0 },
        { "--tokenizer", OPT_STR, &v.json, "FILE",
          "a tokenizer.json (frugal tokenizer train) instead of GPT-2's", 0, 0, 0, 0 },
    };
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(argc, argv, 3, o, sizeof o / sizeof o[0], cmd, "[options]",
                       "Load a vocabulary (checking it thoroughly) and print its size, the id of\n"
                       "<|endoftext|> and its longest token. frugal train needs --vocab-size\n"
                       "equal to the number of tokens for shards made with it.",
                       pos, 0, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    struct fg_tokenizer *tok;
    if ((rc = cli_load_tokenizer(cmd, &v, 1, &tok)) != EXIT_OK)
        return rc;
    size_t n = fg_tokenizer_n_vocab(tok), longest = 0, max_len = 0;
    for (size_t id = 0; id < n; id++) {
        size_t len = 0;
        if (fg_tokenizer_token_bytes(tok, (uint32_t)id, &len) && len > max_len) {
            max_len = len;
            longest = id;
        }
    }
    size_t len = 0;
    const uint8_t *b = fg_tokenizer_token_bytes(tok, (uint32_t)longest, &len);
    char shown[256];
    quote_bytes(shown, sizeof shown, b, len);
    printf("tokens          %zu (ids 0..%zu; frugal train --vocab-size %zu)\n"
           "merges          %zu\n"
           "end of text     %u (%s)\n"
           "longest token   %zu bytes (id %zu: %s)\n",
           n, n - 1, n, fg_tokenizer_n_merges(tok), fg_tokenizer_eot_id(tok), FG_TOKENIZER_EOT_TEXT,
           fg_tokenizer_max_token_len(tok), longest, shown);
    fg_tokenizer_free(tok);
    return EXIT_OK;
}

/* ---- train ------------------------------------------------------------------------------ */

/* Read every input (all of them stay in memory: training needs the whole text). */
static int read_all(const char *cmd, const char *const *files, size_t n, uint8_t **bufs,
                    size_t *lens, uint64_t *n_bytes)
{
    *n_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = read_input(cmd, files[i], &bufs[i], &lens[i]);
        if (rc != EXIT_OK)
            return rc;
        *n_bytes += lens[i];
    }
    return EXIT_OK;
}

static int cmd_train_bpe(int argc, char **argv)
{
    const char *cmd = "tokenizer train", *out_path = NULL;
    size_t vocab_size = 0;
    uint64_t min_count = 2;
    int threads = fg_cpu_count(), quiet = 0;
    struct opt o[] = {
        { "--vocab-size", OPT_SIZE, &vocab_size, "N",
          "tokens to learn, 257 (bytes + <|endoftext|>) or more [required]", 0, 0, 0, 0 },
        { "-o", OPT_STR, &out_path, "FILE", "the tokenizer.json to write, atomically [required]", 0,
          0, 0, 0 },
        { "--min-count", OPT_U64, &min_count, "K",
          "stop when the best pair occurs fewer than K times [2]", 1, 0, 0, 0 },
        { "--threads", OPT_INT, &threads, "N", "threads that count the pieces [all cores]", 1, 0, 0,
          0 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no summary line on stderr", 0, 0, 0, 0 },
    };
    const char **files = malloc((size_t)argc * sizeof *files);
    int n_files, rc;
    if (!files) {
        fprintf(stderr, "frugal %s: out of memory\n", cmd);
        return EXIT_FAIL;
    }
    rc = cli_parse(
        argc, argv, 3, o, sizeof o / sizeof o[0], cmd, "--vocab-size N -o FILE [options] [FILE...]",
        "Learn a byte-level BPE vocabulary from text, GPT-2's way (the same pre-tokenizer\n"
        "and byte alphabet; merges of the most frequent adjacent pair, Sennrich et al. 2016),\n"
        "and save it as a Hugging Face tokenizer.json. Each FILE is one document (standard\n"
        "input when there is none, or for '-'); all of them are held in memory. The result\n"
        "depends only on the text, not on --threads.\n\n"
        "example:\n"
        "  frugal tokenizer train --vocab-size 4096 -o runs/tok.json data/austen/*.txt\n"
        "  frugal tokenizer encode --tokenizer runs/tok.json --format shard -o train.bin \\\n"
        "      data/austen/*.txt\n"
        "  frugal train --data train.bin --vocab-size 4096 ...",
        files, argc, &n_files);
    if (rc) {
        free(files);
        return rc < 0 ? EXIT_OK : rc;
    }
    if (!o[0].seen || !out_path) {
        fprintf(stderr, "frugal %s: need --vocab-size N and -o FILE (see frugal %s --help)\n", cmd,
                cmd);
        free(files);
        return EXIT_USAGE;
    }
    if (vocab_size < 257 || vocab_size > FG_TOKENIZER_MAX_VOCAB) {
        fprintf(stderr,
                "frugal %s: --vocab-size %zu is out of range: 257 (the 256 bytes and "
                "<|endoftext|>) to %u\n",
                cmd, vocab_size, FG_TOKENIZER_MAX_VOCAB);
        free(files);
        return EXIT_USAGE;
    }
    rc = check_threads(cmd, threads);
    if (rc == EXIT_OK)
        rc = check_inputs(cmd, files, n_files);
    static const char *const stdin_only[] = { "-" };
    const char *const *in = n_files ? files : stdin_only;
    size_t n_in = n_files > 0 ? (size_t)n_files : 1;
    uint8_t **bufs = calloc(n_in, sizeof *bufs);
    size_t *lens = calloc(n_in, sizeof *lens);
    uint64_t n_bytes = 0;
    struct fg_tokenizer *tok = NULL;
    if (rc == EXIT_OK && (!bufs || !lens)) {
        fprintf(stderr, "frugal %s: out of memory\n", cmd);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK)
        rc = read_all(cmd, in, n_in, bufs, lens, &n_bytes);
    char err[4400];
    struct fg_tokenizer_train_stats stats;
    memset(&stats, 0, sizeof stats);
    if (rc == EXIT_OK) {
        struct fg_tokenizer_train_params p = fg_tokenizer_train_params_default();
        p.n_threads = threads;
        p.min_pair_count = min_count;
        fg_status st = fg_tokenizer_train(&tok, (const void *const *)bufs, lens, n_in, vocab_size,
                                          &p, &stats, err, sizeof err);
        if (st != FG_OK) {
            fprintf(stderr, "frugal %s: %s\n", cmd, err);
            rc = cli_exit_code(st);
        }
    }
    if (rc == EXIT_OK && fg_tokenizer_save_json(tok, out_path, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK && !quiet) {
        size_t nv = fg_tokenizer_n_vocab(tok);
        fprintf(stderr,
                "frugal %s: %llu bytes -> %zu tokens (%u merges%s); the text is %llu ids "
                "(%.2f bytes/token); %.2f s -> %s\n",
                cmd, (unsigned long long)n_bytes, nv, stats.n_merges,
                nv < vocab_size ? ", stopped early: no pair occurs --min-count times" : "",
                (unsigned long long)stats.n_tokens,
                stats.n_tokens ? (double)n_bytes / (double)stats.n_tokens : 0.0,
                stats.seconds_count + stats.seconds_merge, out_path);
    }
    for (size_t i = 0; bufs && i < n_in; i++)
        free(bufs[i]);
    free(bufs);
    free(lens);
    fg_tokenizer_free(tok);
    free(files);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: frugal tokenizer COMMAND [options]   (frugal tokenizer COMMAND --help for each)\n"
        "\n"
        "GPT-2's byte-level BPE: text to token ids and back. By default with GPT-2's own\n"
        "vocabulary (50,257 tokens; data/gpt2/encoder.json and vocab.bpe, or --vocab DIR),\n"
        "whose ids equal OpenAI's (tiktoken's \"gpt2\" encoding); or with a vocabulary\n"
        "learned by frugal tokenizer train (--tokenizer FILE). Any bytes round-trip.\n"
        "\n"
        "commands:\n"
        "  encode   files (or stdin) -> token ids as text, binary, or a shard for training\n"
        "  decode   token ids -> the exact original bytes\n"
        "  info     vocabulary size, <|endoftext|> id, longest token\n"
        "  train    learn a BPE vocabulary from text, saved as a tokenizer.json\n"
        "\n"
        "%s"
        "\n"
        "examples:\n"
        "  printf 'Hello world' | frugal tokenizer encode         # prints 15496 995\n"
        "  frugal tokenizer encode book.txt | frugal tokenizer decode   # prints book.txt\n"
        "  frugal tokenizer encode --format shard -o runs/gpt2/train.bin data/austen/*.txt\n"
        "  frugal train --data runs/gpt2/train.bin --vocab-size 50257 ...\n"
        "  frugal tokenizer train --vocab-size 4096 -o runs/tok.json data/austen/*.txt\n"
        "  frugal tokenizer encode --tokenizer runs/tok.json book.txt\n",
        FORMATS_HELP);
}

int cmd_tokenizer(int argc, char **argv)
{
    if (argc < 3) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[2];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "encode"))
        return cmd_encode(argc, argv);
    if (!strcmp(sub, "decode"))
        return cmd_decode(argc, argv);
    if (!strcmp(sub, "info"))
        return cmd_info(argc, argv);
    if (!strcmp(sub, "train"))
        return cmd_train_bpe(argc, argv);
    fprintf(stderr,
            "frugal tokenizer: unknown command '%s' (use encode, decode, info or train; see "
            "frugal tokenizer --help)\n",
            sub);
    return EXIT_USAGE;
}
