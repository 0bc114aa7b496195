/* Experiments (include/frugal/exp.h). Statistics against SciPy: every case of
 * tests/data/stats_ref.json (scripts/stats_reference.py: scipy.stats.ttest_rel, TOST from
 * scipy.stats.t, pooled Cohen's d) within 1e-6; the degenerate cases SciPy answers with NaN;
 * bad input refused. Experiment files: a full file parsed field by field, and each kind of
 * mistake named (JSON errors with line and column). */
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

static const char *const good_exp =
    "{\n"
    "  \"name\": \"flash-vs-fp32\",\n"
    "  \"description\": \"ignored\",\n"
    "  \"data\": { \"train\": \"d/train.bin\", \"val\": \"/abs/val.bin\" },\n"
    "  \"common\": \"  --n-layer 2\t--n-embd 64  \",\n"
    "  \"variants\": [ { \"name\": \"fp32\" },\n"
    "                { \"name\": \"flash\", \"flags\": \"--optim-storage flash\" } ],\n"
    "  \"baseline\": \"fp32\",\n"
    "  \"seeds\": [3, 1, 2],\n"
    "  \"budget\": { \"tokens\": 100000, \"seconds\": 60 },\n"
    "  \"quality\": { \"margin\": 0.005 },\n"
    "  \"guards\": { \"spike\": { \"factor\": 3, \"steps\": 5 }, \"max_rss_mib\": 900,\n"
    "              \"checkpoint\": { \"at\": 0.25, \"max_loss_increase\": 0.05 } }\n"
    "}\n";

TEST(experiment_file_fields)
{
    static struct fg_experiment e;
    char err[512] = "";
    CHECK_OK(t, fg_experiment_parse(good_exp, strlen(good_exp), "exp", &e, err, sizeof err));
    CHECK(t, !strcmp(e.name, "flash-vs-fp32"));
    CHECK(t, !strcmp(e.train, "exp/d/train.bin") && !strcmp(e.val, "/abs/val.bin"));
    CHECK(t, e.n_corpus == 0);
    CHECK(t, e.n_common == 4 && !strcmp(e.common[0], "--n-layer") && !strcmp(e.common[3], "64"));
    CHECK(t, e.n_variants == 2 && e.baseline == 0 && e.v[0].n_args == 0);
    CHECK(t, e.v[1].n_args == 2 && !strcmp(e.v[1].args[1], "flash"));
    CHECK(t, e.n_seeds == 3 && e.seeds[0] == 3 && e.seeds[2] == 2);
    CHECK(t, e.steps == 0 && e.tokens == 100000 && e.seconds == 60.0);
    CHECK(t, e.margin == 0.005 && e.alpha == 0.05);
    CHECK(t, e.spike_factor == 3.0 && e.spike_steps == 5 && e.max_rss_mib == 900.0);
    CHECK(t,
          e.check_at == 0.25 && e.check_loss && !e.check_cost && e.check_max_loss_increase == 0.05);
}

/* good_exp with the first `from` replaced by `to`: parse fails with `want` in the message */
static void bad_case(struct fg_test *t, const char *from, const char *to, fg_status code,
                     const char *want)
{
    static struct fg_experiment e;
    char text[4096], err[512] = "";
    const char *at = strstr(good_exp, from);
    if (!at) {
        fg_test_fail(t, __FILE__, __LINE__, "test bug: '%s' not in the experiment", from);
        return;
    }
    snprintf(text, sizeof text, "%.*s%s%s", (int)(at - good_exp), good_exp, to, at + strlen(from));
    fg_status st = fg_experiment_parse(text, strlen(text), NULL, &e, err, sizeof err);
    if (st != code || !strstr(err, want))
        fg_test_fail(t, __FILE__, __LINE__,
                     "'%s' -> '%s': status %d, message \"%s\" (want %d, \"%s\")", from, to, (int)st,
                     err, (int)code, want);
}

TEST(experiment_file_mistakes)
{
    bad_case(t, "[3, 1, 2]", "[3, 1 2]", FG_ERR_FORMAT, "9:18: not valid JSON");
    bad_case(t, "\n}\n", "\n", FG_ERR_FORMAT, "truncated");
    bad_case(t, "\"seeds\"", "\"seed\"", FG_ERR_INVALID_ARG, "unknown key \"seed\"");
    bad_case(t, "[3, 1, 2]", "[3, 1, 3]", FG_ERR_INVALID_ARG, "seed 3 is listed twice");
    bad_case(t, "[3, 1, 2]", "[]", FG_ERR_INVALID_ARG, "\"seeds\" must list");
    bad_case(t, "\"baseline\": \"fp32\"", "\"baseline\": \"bf16\"", FG_ERR_INVALID_ARG,
             "baseline \"bf16\" is not one of the variants (fp32, flash)");
    bad_case(t, "\"tokens\": 100000", "\"tokens\": 0", FG_ERR_INVALID_ARG, "budget.tokens");
    bad_case(t, "\"tokens\": 100000", "\"steps\": 5, \"tokens\": 5", FG_ERR_INVALID_ARG,
             "one of them");
    bad_case(t, "\"name\": \"flash\"", "\"name\": \"fp32\"", FG_ERR_INVALID_ARG, "used twice");
    bad_case(t, "\"name\": \"flash\"", "\"name\": \"a/b\"", FG_ERR_INVALID_ARG, "names files");
    bad_case(t, "--optim-storage flash", "--optim-storage flash --steps 9", FG_ERR_INVALID_ARG,
             "--steps is set by frugal compare");
    bad_case(t, ", \"val\": \"/abs/val.bin\"", "", FG_ERR_INVALID_ARG,
             "both \"train\" and \"val\"");
    bad_case(t, "\"margin\": 0.005", "\"margin\": -1", FG_ERR_INVALID_ARG, "quality.margin");
    bad_case(t, "\"at\": 0.25", "\"at\": 1.5", FG_ERR_INVALID_ARG, "guards.checkpoint.at");
    bad_case(t, "\"steps\": 5 }", "\"steps\": 2.5 }", FG_ERR_INVALID_ARG, "whole number");
    bad_case(t, "\"variants\": [ { \"name\": \"fp32\" },", "\"variants\": [", FG_ERR_INVALID_ARG,
             "2 to 16");
}

static const struct fg_test_case cases[] = {
    { "matches_scipy", test_matches_scipy },
    { "degenerate_and_bad_input", test_degenerate_and_bad_input },
    { "experiment_file_fields", test_experiment_file_fields },
    { "experiment_file_mistakes", test_experiment_file_mistakes },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
