/* frugal experiments: the statistics `frugal compare` reports for a baseline and its variants,
 * over runs matched by seed.
 *
 * Every function here is pure (no allocation, no I/O); p-values come from GSL's Student t
 * distribution (gsl_cdf_tdist_P / _Q). The definitions are those of SciPy's
 * scipy.stats.ttest_rel and of the two one-sided tests (TOST, Schuirmann 1987), checked
 * against SciPy in tests/test_exp_stats.c (fixture made by scripts/stats_reference.py).
 */
#ifndef FRUGAL_EXP_H
#define FRUGAL_EXP_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean and sample standard deviation (divisor n - 1; 0 when n = 1) of n >= 1 values. */
struct fg_stat_summary {
    size_t n;
    double mean, sd;
};

/* FG_ERR_INVALID_ARG for n = 0 or a value that is not finite. */
FG_API fg_status fg_stat_summary(const double *x, size_t n, struct fg_stat_summary *out);

/* A variant y against the baseline x, paired by seed (d_i = y_i - x_i), n >= 2 pairs:
 *   t = mean(d) / (sd(d) / sqrt(n)), df = n - 1, p = 2 Q_t(|t|; df)   (scipy.stats.ttest_rel)
 *   cohens_d = (mean y - mean x) / sqrt((sd_x^2 + sd_y^2) / 2)        (pooled, equal n)
 * Equivalence within +-margin (margin > 0, in the units of the values), by two one-sided tests:
 *   p_low = Q_t((mean(d) + margin) / se; df), p_high = P_t((mean(d) - margin) / se; df),
 *   tost_p = max(p_low, p_high), equivalent = tost_p < alpha.
 * When every d_i is the same, se = 0: t is 0 (p = 1) for d = 0 and +-infinity (p = 0)
 * otherwise, and tost_p is 0 when |d| < margin, else 1 (SciPy returns NaN for 0 / 0). cohens_d
 * is 0 when both spreads are 0 and the means are equal, +-infinity when they differ. */
struct fg_stat_paired {
    size_t n;
    double mean_x, mean_y, sd_x, sd_y;
    double mean_diff, sd_diff; /* of d = y - x */
    double t, df, p;
    double cohens_d;
    double margin, alpha, tost_p;
    int equivalent;
};

/* FG_ERR_INVALID_ARG with the reason in errmsg for n < 2, a non-finite value, margin <= 0 or
 * not finite, or alpha outside (0, 1). */
FG_API fg_status fg_stat_paired(const double *x, const double *y, size_t n, double margin,
                                double alpha, struct fg_stat_paired *out, char *errmsg,
                                size_t errmsg_len);

/* ---- experiment files (docs/formats.md, "Experiment files"; examples in experiments/) -------
 * A baseline and named variants, each a set of `frugal train` flags, run over the same seeds
 * with the same budget; what counts as the same quality; the guards that abort a run. */
#define FG_EXP_MAX_VARIANTS 16
#define FG_EXP_MAX_SEEDS    32
#define FG_EXP_MAX_ARGS     64
#define FG_EXP_MAX_CORPUS   16
#define FG_EXP_NAME_MAX     64
#define FG_EXP_PATH_MAX     1024

struct fg_exp_variant {
    char name[FG_EXP_NAME_MAX]; /* letters, digits, '-', '_', '.' */
    int n_args;
    char *args[FG_EXP_MAX_ARGS]; /* its train flags, split at white space (into `strings`) */
};

struct fg_experiment {
    char name[FG_EXP_NAME_MAX];
    /* the data: token shards, or text files frugal compare prepares (byte-level) once per
     * output directory; relative paths are resolved against the experiment file's directory */
    char train[FG_EXP_PATH_MAX], val[FG_EXP_PATH_MAX];
    int n_corpus;
    char corpus[FG_EXP_MAX_CORPUS][FG_EXP_PATH_MAX];
    int corpus_vocab; /* 256: byte-level; more: a BPE of that many tokens learnt from the corpus
                         (frugal tokenizer train), then the shards in its tokens */
    int n_common;
    char *common[FG_EXP_MAX_ARGS]; /* flags every run gets, before its variant's */
    int n_variants, baseline;      /* baseline: index into v */
    struct fg_exp_variant v[FG_EXP_MAX_VARIANTS];
    int n_seeds;
    uint64_t seeds[FG_EXP_MAX_SEEDS];
    /* the budget of every run: steps (the schedule's length), or tokens (steps derived from
     * each run's batch x seq x accum), and an optional wall-clock limit in seconds */
    int64_t steps, tokens;
    double seconds;
    /* quality: a variant is equivalent to the baseline when the TOST on the final validation
     * losses (paired by seed) rejects a difference of margin x the baseline's mean, at alpha */
    double margin, alpha;
    /* guards (0 = off): stop a run at its first non-finite gradient (nan, always on: training
     * cannot continue); when its loss stays above spike_factor x its moving average for
     * spike_steps steps; when its peak memory passes max_rss_mib; at check_at x the budget's
     * steps, when its wall time there is not at least check_min_cost_reduction below the
     * baseline's of the same seed (a fraction; check_cost set), or its validation loss is more
     * than check_max_loss_increase above it (a fraction; check_loss set) */
    double spike_factor;
    int spike_steps;
    double max_rss_mib;
    double check_at;
    int check_cost, check_loss;
    double check_min_cost_reduction, check_max_loss_increase;
    char strings[16384]; /* storage of the split flags */
    size_t used;
};

/* Parses an experiment file's text. base_dir resolves relative data paths (NULL or "" = as
 * given). On a malformed file errmsg says where (line:column) and why, and the fix;
 * FG_ERR_FORMAT for JSON that does not parse, FG_ERR_INVALID_ARG for a bad field. */
FG_API fg_status fg_experiment_parse(const char *text, size_t len, const char *base_dir,
                                     struct fg_experiment *out, char *errmsg, size_t errmsg_len);

#ifdef __cplusplus
}
#endif
#endif
