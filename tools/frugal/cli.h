/* Shared CLI helpers: a table-driven option parser that also prints --help, and exit codes. */
#ifndef FRUGAL_CLI_H
#define FRUGAL_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

enum opt_type { OPT_INT, OPT_I64, OPT_U64, OPT_SIZE, OPT_FLOAT, OPT_DOUBLE, OPT_STR, OPT_FLAG };

/* One option. min applies to numbers: values below it are rejected (use 0 for "non-negative",
 * 1 for "positive" integers; for floats, positive_only rejects <= 0). */
struct opt {
    const char *name; /* "--lr" */
    enum opt_type type;
    void *dst;
    const char *metavar; /* "X" shown in help; NULL for flags */
    const char *help;
    double min;
    int positive_only; /* floats: must be > 0 */
    int seen;          /* set by the parser */
    double below;      /* numbers: if nonzero, values must be < below */
};

/* Parses argv[first..] against opts. Positional arguments go to pos (up to max_pos). Prints a
 * one-line error naming the flag and returns EXIT_USAGE on a bad flag or value; returns -1 when
 * --help was printed; 0 otherwise. */
int cli_parse(int argc, char **argv, int first, struct opt *opts, size_t n_opts, const char *cmd,
              const char *usage, const char *about, const char **pos, int max_pos, int *n_pos);
void cli_help(const char *cmd, const char *usage, const char *about, const struct opt *opts,
              size_t n_opts);
/* Map a library status to an exit code: invalid argument -> 2, anything else -> 1. */
int cli_exit_code(fg_status st);
const struct opt *cli_find(const struct opt *opts, size_t n, const char *name);
/* GPT-2's vocabulary directory: data/gpt2 under the working directory, else the one of the
 * source tree holding this binary (build/<variant>/frugal). 0 when found, -1 otherwise (dir
 * then holds the last place tried). */
int cli_default_vocab_dir(char *dir, size_t n);

/* The tokenizer the flags name: json (a tokenizer.json) or GPT-2's encoder.json + vocab.bpe
 * from dir (default: cli_default_vocab_dir), each overridable by encoder / merges. */
struct cli_vocab {
    const char *dir, *encoder, *merges, *json;
};
struct fg_tokenizer;
/* Load it with n_threads encoding threads. Prints a one-line error naming cmd and returns its
 * exit code (EXIT_OK on success, *out then owned by the caller). */
int cli_load_tokenizer(const char *cmd, const struct cli_vocab *v, int n_threads,
                       struct fg_tokenizer **out);

/* The machine's peak FLOP/s on n_threads threads for the products' dtype: fp32 FMAs
 * (fg_cpu_peak_flops), or with bf16 != 0 the unit the bf16 products run on
 * (fg_gemm_bf16_peak_flops: AMX or VDPBF16PS; the fp32 peak on the portable path, which runs on
 * FMAs). Measured once per CPU model, thread count and unit and cached in
 * $XDG_CACHE_HOME/frugal/peak_flops.json (else ~/.cache/frugal/peak_flops.json; path_out gets
 * that path, may be NULL). A cache that cannot be read or written is measured around (about
 * 0.3 s). *unit_out (may be NULL) names the unit. */
double cli_peak_flops(int n_threads, int bf16, const char **unit_out, char *path_out,
                      size_t path_n);

/* mkdir -p: dir and its missing parents (mode 0755); 0, or -1 with errno set. */
int cli_mkdir_p(const char *dir);
/* path = buf (len bytes), written atomically (temp file, fsync, rename): 0, or -1 with the
 * reason in err and nothing left behind. */
int cli_write_atomic(const char *path, const void *buf, size_t len, char *err, size_t n);
/* The "model name" of the first CPU in /proc/cpuinfo, or "unknown". */
void cli_cpu_model(char *out, size_t n);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_tokenizer(int argc, char **argv);

#endif
