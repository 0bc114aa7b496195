/* Experiment statistics (include/frugal/exp.h) against SciPy: every case of
 * tests/data/stats_ref.json (scripts/stats_reference.py: scipy.stats.ttest_rel, TOST from
 * scipy.stats.t, pooled Cohen's d) within 1e-6; the degenerate cases SciPy answers with NaN;
 * bad input refused. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/exp.h"
#include "test.h"

#define FIXTURE "tests/data/stats_ref.json"

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static size_t array(const cJSON *o, const char *k, double *out, size_t cap)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;
    size_t n = 0;
    cJSON_ArrayForEach(e, a)
    {
        if (n < cap)
            out[n] = e->valuedouble;
        n++;
    }
    return n;
}

/* |got - ref| <= 1e-6 (1 + |ref|): absolute for p-values, relative for t and d */
static void close6(struct fg_test *t, const char *name, const char *what, double got, double ref)
{
    if (!(fabs(got - ref) <= 1e-6 * (1.0 + fabs(ref))))
        fg_test_fail(t, __FILE__, __LINE__, "%s: %s = %.12g, SciPy %.12g", name, what, got, ref);
}

TEST(matches_scipy)
{
    void *buf = NULL;
    size_t len = 0;
    char err[256];
    CHECK_OK(t, fg_read_file(NULL, FIXTURE, &buf, &len, err, sizeof err));
    cJSON *root = buf ? cJSON_ParseWithLength(buf, len) : NULL;
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases"), *c;
    int n_cases = 0;
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(c, "name")->valuestring;
        double x[64], y[64];
        size_t n = array(c, "x", x, 64);
        CHECK_EQ_I64(t, array(c, "y", y, 64), n);
        struct fg_stat_paired r;
        CHECK_OK(t,
                 fg_stat_paired(x, y, n, num(c, "margin"), num(c, "alpha"), &r, err, sizeof err));
        close6(t, name, "mean_x", r.mean_x, num(c, "mean_x"));
        close6(t, name, "mean_y", r.mean_y, num(c, "mean_y"));
        close6(t, name, "sd_x", r.sd_x, num(c, "sd_x"));
        close6(t, name, "sd_y", r.sd_y, num(c, "sd_y"));
        close6(t, name, "mean_diff", r.mean_diff, num(c, "mean_diff"));
        close6(t, name, "sd_diff", r.sd_diff, num(c, "sd_diff"));
        close6(t, name, "t", r.t, num(c, "t"));
        close6(t, name, "p", r.p, num(c, "p"));
        close6(t, name, "cohens_d", r.cohens_d, num(c, "cohens_d"));
        close6(t, name, "tost_p", r.tost_p, num(c, "tost_p"));
        CHECK_EQ_I64(t, r.equivalent,
                     cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "equivalent")));
        CHECK_EQ_I64(t, r.df, (double)(n - 1));
        struct fg_stat_summary s;
        CHECK_OK(t, fg_stat_summary(y, n, &s));
        close6(t, name, "summary mean", s.mean, num(c, "mean_y"));
        close6(t, name, "summary sd", s.sd, num(c, "sd_y"));
        n_cases++;
    }
    CHECK(t, n_cases >= 10);
    cJSON_Delete(root);
    fg_free(NULL, buf);
}

TEST(degenerate_and_bad_input)
{
    char err[256] = "";
    struct fg_stat_paired r;
    /* identical runs (bit-identical variants): no difference, p = 1, equivalent */
    double x[3] = { 4.0, 4.25, 4.5 }, same[3] = { 4.0, 4.25, 4.5 };
    double shift[3] = { 4.125, 4.375, 4.625 }; /* exact differences of 1/8 */
    CHECK_OK(t, fg_stat_paired(x, same, 3, 0.01, 0.05, &r, err, sizeof err));
    CHECK(t, r.t == 0.0 && r.p == 1.0 && r.cohens_d == 0.0 && r.tost_p == 0.0 && r.equivalent);
    /* a constant shift: se = 0, the difference is certain */
    CHECK_OK(t, fg_stat_paired(x, shift, 3, 0.01, 0.05, &r, err, sizeof err));
    CHECK(t, isinf(r.t) && r.t > 0 && r.p == 0.0 && r.tost_p == 1.0 && !r.equivalent);
    CHECK(t, r.mean_diff == 0.125 && r.sd_diff == 0.0 && isfinite(r.cohens_d) && r.cohens_d > 0);
    double c1[2] = { 1.0, 1.0 }, c2[2] = { 2.0, 2.0 };
    CHECK_OK(t, fg_stat_paired(c1, c2, 2, 0.5, 0.05, &r, err, sizeof err));
    CHECK(t, isinf(r.cohens_d) && r.cohens_d > 0);
    struct fg_stat_summary s;
    CHECK_OK(t, fg_stat_summary(x, 1, &s));
    CHECK(t, s.mean == 4.0 && s.sd == 0.0);
    /* refused, with the reason */
    CHECK(t, fg_stat_paired(x, same, 1, 0.01, 0.05, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "2 to") != NULL);
    double bad[3] = { 4.1, (double)NAN, 4.3 };
    CHECK(t, fg_stat_paired(x, bad, 3, 0.01, 0.05, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "finite") != NULL);
    CHECK(t, fg_stat_paired(x, same, 3, 0.0, 0.05, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_stat_paired(x, same, 3, 0.01, 1.0, &r, err, sizeof err) == FG_ERR_INVALID_ARG);
    CHECK(t, strstr(err, "margin") != NULL);
    CHECK(t, fg_stat_summary(x, 0, &s) == FG_ERR_INVALID_ARG);
    CHECK(t, fg_stat_summary(bad, 3, &s) == FG_ERR_INVALID_ARG);
}

static const struct fg_test_case cases[] = {
    { "matches_scipy", test_matches_scipy },
    { "degenerate_and_bad_input", test_degenerate_and_bad_input },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
