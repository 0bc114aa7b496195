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

#ifdef __cplusplus
}
#endif
#endif
