/* Statistics over seeds: summaries, the paired t-test, Cohen's d and the TOST equivalence test
 * (definitions in include/frugal/exp.h). Sums run in double, in index order. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>

#include "frugal/exp.h"

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* mean and sample sd of x (two passes: the centered sum of squares) */
static void mean_sd(const double *x, size_t n, double *mean, double *sd)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    double m = s / (double)n, ss = 0.0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

fg_status fg_stat_summary(const double *x, size_t n, struct fg_stat_summary *out)
{
    if (n == 0 || !all_finite(x, n))
        return FG_ERR_INVALID_ARG;
    out->n = n;
    mean_sd(x, n, &out->mean, &out->sd);
    return FG_OK;
}

#define MAX_PAIRS 1024

fg_status fg_stat_paired(const double *x, const double *y, size_t n, double margin, double alpha,
                         struct fg_stat_paired *out, char *errmsg, size_t errmsg_len)
{
    if (n < 2 || n > MAX_PAIRS) {
        snprintf(errmsg, errmsg_len, "a paired test needs 2 to %d pairs (seeds); got %zu",
                 MAX_PAIRS, n);
        return FG_ERR_INVALID_ARG;
    }
    if (!all_finite(x, n) || !all_finite(y, n)) {
        snprintf(errmsg, errmsg_len, "a paired test needs finite values (a run diverged?)");
        return FG_ERR_INVALID_ARG;
    }
    if (!(margin > 0.0) || !isfinite(margin) || !(alpha > 0.0 && alpha < 1.0)) {
        snprintf(errmsg, errmsg_len,
                 "equivalence margin %g must be positive and alpha %g in (0, 1)", margin, alpha);
        return FG_ERR_INVALID_ARG;
    }
    double d[MAX_PAIRS];
    for (size_t i = 0; i < n; i++)
        d[i] = y[i] - x[i];
    struct fg_stat_paired r = { 0 };
    r.n = n;
    r.margin = margin;
    r.alpha = alpha;
    r.df = (double)(n - 1);
    mean_sd(x, n, &r.mean_x, &r.sd_x);
    mean_sd(y, n, &r.mean_y, &r.sd_y);
    mean_sd(d, n, &r.mean_diff, &r.sd_diff);
    double se = r.sd_diff / sqrt((double)n);
    if (se > 0.0) {
        r.t = r.mean_diff / se;
        r.p = 2.0 * gsl_cdf_tdist_Q(fabs(r.t), r.df);
        if (r.p > 1.0)
            r.p = 1.0;
        double p_low = gsl_cdf_tdist_Q((r.mean_diff + margin) / se, r.df);
        double p_high = gsl_cdf_tdist_P((r.mean_diff - margin) / se, r.df);
        r.tost_p = p_low > p_high ? p_low : p_high;
    } else {
        r.t = r.mean_diff == 0.0 ? 0.0 : copysign(INFINITY, r.mean_diff);
        r.p = r.mean_diff == 0.0 ? 1.0 : 0.0;
        r.tost_p = fabs(r.mean_diff) < margin ? 0.0 : 1.0;
    }
    r.equivalent = r.tost_p < alpha;
    double pooled = sqrt((r.sd_x * r.sd_x + r.sd_y * r.sd_y) / 2.0);
    double dm = r.mean_y - r.mean_x;
    r.cohens_d = pooled > 0.0 ? dm / pooled : dm == 0.0 ? 0.0 : copysign(INFINITY, dm);
    *out = r;
    return FG_OK;
}
