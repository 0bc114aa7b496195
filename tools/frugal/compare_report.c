/* The report of frugal compare: statistics over seeds against the baseline (frugal/exp.h),
 * DIR/report.md, DIR/summary.json, and PNG plots drawn by gnuplot from the data files in
 * DIR/plots. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "compare.h"
#include "frugal/core.h"
#include "frugal/exp.h"

const struct compare_mem_field compare_mem[N_MEM] = {
    { "weights", "weights" },         { "master", "master correction" },
    { "grads", "gradients" },         { "state_m", "state m" },
    { "state_v", "state v" },         { "scales", "scales" },
    { "decode", "bf16 decode" },      { "products", "bf16 panels" },
    { "activations", "activations" },
};

/* what one variant's finished runs add up to */
struct vstat {
    int done, aborted, crashed;
    struct fg_stat_summary val, tps, rss, dollars, wall;
    int have; /* at least one finished run */
    /* against the baseline (v != baseline, 2 or more seeds finished on both) */
    int paired;
    struct fg_stat_paired t;
    double d_val, d_tps, d_rss, d_dollars; /* relative to the baseline's means */
    double mem[N_MEM];                     /* of its first finished run */
};

static void collect(const struct compare *c, int v, double *out, size_t off, size_t *n)
{
    *n = 0;
    for (int s = 0; s < c->e->n_seeds; s++) {
        const struct run *r = &c->runs[s * c->e->n_variants + v];
        if (r->status == RUN_DONE)
            out[(*n)++] = *(const double *)((const char *)r + off);
    }
}

static void summarize(const struct compare *c, struct vstat *vs)
{
    const struct fg_experiment *e = c->e;
    double x[FG_EXP_MAX_SEEDS];
    size_t n;
    for (int v = 0; v < e->n_variants; v++) {
        struct vstat *a = &vs[v];
        memset(a, 0, sizeof *a);
        for (int s = 0; s < e->n_seeds; s++) {
            const struct run *r = &c->runs[s * e->n_variants + v];
            a->done += r->status == RUN_DONE;
            a->aborted += r->status == RUN_ABORTED;
            a->crashed += r->status == RUN_CRASHED;
            if (r->status == RUN_DONE && !a->have) {
                memcpy(a->mem, r->mem, sizeof a->mem);
                a->have = 1;
            }
        }
        if (!a->have)
            continue;
        collect(c, v, x, offsetof(struct run, final_val), &n);
        fg_stat_summary(x, n, &a->val);
        collect(c, v, x, offsetof(struct run, tokens_per_s), &n);
        fg_stat_summary(x, n, &a->tps);
        collect(c, v, x, offsetof(struct run, peak_rss), &n);
        fg_stat_summary(x, n, &a->rss);
        collect(c, v, x, offsetof(struct run, dollars), &n);
        fg_stat_summary(x, n, &a->dollars);
        collect(c, v, x, offsetof(struct run, wall_s), &n);
        fg_stat_summary(x, n, &a->wall);
    }
    const struct vstat *b = &vs[e->baseline];
    for (int v = 0; v < e->n_variants; v++) {
        struct vstat *a = &vs[v];
        if (v == e->baseline || !a->have || !b->have)
            continue;
        a->d_val = a->val.mean / b->val.mean - 1.0;
        a->d_tps = a->tps.mean / b->tps.mean;
        a->d_rss = a->rss.mean / b->rss.mean - 1.0;
        a->d_dollars = a->dollars.mean / b->dollars.mean - 1.0;
        double xb[FG_EXP_MAX_SEEDS], yv[FG_EXP_MAX_SEEDS];
        size_t np = 0;
        for (int s = 0; s < e->n_seeds; s++) {
            const struct run *rb = &c->runs[s * e->n_variants + e->baseline];
            const struct run *rv = &c->runs[s * e->n_variants + v];
            if (rb->status == RUN_DONE && rv->status == RUN_DONE) {
                xb[np] = rb->final_val;
                yv[np++] = rv->final_val;
            }
        }
        char err[256];
        a->paired = np >= 2 && fg_stat_paired(xb, yv, np, e->margin * b->val.mean, e->alpha, &a->t,
                                              err, sizeof err) == FG_OK;
    }
}

static const char *quality_verdict(const struct fg_experiment *e, const struct vstat *a, char *buf,
                                   size_t n)
{
    if (!a->paired) {
        snprintf(buf, n, "too few paired seeds for a test");
        return buf;
    }
    if (a->t.equivalent)
        snprintf(buf, n, "equivalent within %.2g%% (TOST p=%.3g; paired t p=%.3g)",
                 100.0 * e->margin, a->t.tost_p, a->t.p);
    else if (a->t.p < e->alpha)
        snprintf(buf, n, "%s (paired t p=%.3g; not equivalent within %.2g%%)",
                 a->t.mean_diff > 0 ? "worse" : "better", a->t.p, 100.0 * e->margin);
    else
        snprintf(buf, n, "inconclusive (paired t p=%.3g, TOST p=%.3g for %.2g%%)", a->t.p,
                 a->t.tost_p, 100.0 * e->margin);
    return buf;
}

/* ---- plots ---- */

/* mean, min and max of the training loss and mean elapsed seconds per step over a variant's
 * finished runs, into DIR/plots/<variant>.dat: step tokens mean min max elapsed */
static int curve_file(const struct compare *c, int v, const char *pdir)
{
    const struct fg_experiment *e = c->e;
    int64_t steps = 0;
    for (int s = 0; s < e->n_seeds; s++) {
        const struct run *r = &c->runs[s * e->n_variants + v];
        if (r->steps > steps)
            steps = r->steps;
    }
    size_t n = (size_t)steps + 1;
    double *sum = calloc(n, sizeof *sum), *mn = calloc(n, sizeof *mn), *mx = calloc(n, sizeof *mx);
    double *el = calloc(n, sizeof *el), *tok = calloc(n, sizeof *tok);
    int *cnt = calloc(n, sizeof *cnt);
    int rows = 0;
    if (!sum || !mn || !mx || !el || !tok || !cnt)
        goto out;
    for (int s = 0; s < e->n_seeds; s++) {
        const struct run *r = &c->runs[s * e->n_variants + v];
        if (r->status != RUN_DONE)
            continue;
        char path[4200], line[2048];
        snprintf(path, sizeof path, "%s/runs/%s.jsonl", c->dir, r->tag);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f)) {
            cJSON *j = cJSON_Parse(line);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
            const cJSON *lo = cJSON_GetObjectItemCaseSensitive(j, "loss");
            const cJSON *tk = cJSON_GetObjectItemCaseSensitive(j, "tokens");
            const cJSON *es = cJSON_GetObjectItemCaseSensitive(j, "elapsed_s");
            if (cJSON_IsNumber(st) && cJSON_IsNumber(lo) && st->valuedouble >= 1 &&
                st->valuedouble <= (double)steps) {
                size_t k = (size_t)st->valuedouble;
                double l = lo->valuedouble;
                mn[k] = cnt[k] ? fmin(mn[k], l) : l;
                mx[k] = cnt[k] ? fmax(mx[k], l) : l;
                sum[k] += l;
                el[k] += cJSON_IsNumber(es) ? es->valuedouble : 0.0;
                tok[k] = cJSON_IsNumber(tk) ? tk->valuedouble : (double)k;
                cnt[k]++;
            }
            cJSON_Delete(j);
        }
        if (f)
            fclose(f);
    }
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.dat", pdir, e->v[v].name);
    FILE *f = fopen(path, "w");
    if (!f)
        goto out;
    fprintf(f, "# step tokens mean_loss min_loss max_loss mean_elapsed_s (%s)\n", e->v[v].name);
    for (size_t k = 1; k < n; k++)
        if (cnt[k]) {
            fprintf(f, "%zu %.0f %.6f %.6f %.6f %.4f\n", k, tok[k], sum[k] / cnt[k], mn[k], mx[k],
                    el[k] / cnt[k]);
            rows++;
        }
    fclose(f);
out:
    free(sum);
    free(mn);
    free(mx);
    free(el);
    free(tok);
    free(cnt);
    return rows;
}

/* gnuplot from PATH, or NULL */
static const char *find_gnuplot(void)
{
    static char path[4096];
    const char *p = getenv("PATH");
    if (!p)
        p = "/usr/bin:/bin";
    while (*p) {
        size_t len = strcspn(p, ":");
        snprintf(path, sizeof path, "%.*s/gnuplot", (int)len, p);
        if (len && access(path, X_OK) == 0)
            return path;
        p += len + (p[len] == ':');
    }
    return NULL;
}

/* writes the data and script, runs gnuplot; 0 when every PNG was written */
static int plots(const struct compare *c, const struct vstat *vs, char *why, size_t why_n)
{
    const struct fg_experiment *e = c->e;
    char pdir[4200], path[4300];
    snprintf(pdir, sizeof pdir, "%s/plots", c->dir);
    mkdir(pdir, 0755);
    for (int v = 0; v < e->n_variants; v++)
        curve_file(c, v, pdir);
    /* memory by component and cost, one row per variant with a finished run */
    snprintf(path, sizeof path, "%s/bars.dat", pdir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(why, why_n, "cannot write %.400s", path);
        return -1;
    }
    fprintf(f, "variant"); /* the header row: gnuplot's columnheader() names the bars */
    for (int k = 0; k < N_MEM; k++)
        fprintf(f, " \"%s\"", compare_mem[k].label);
    fprintf(f, " \"peak RSS MiB\" \"dollars per run\" \"dollars sd\"\n");
    for (int v = 0; v < e->n_variants; v++) {
        if (!vs[v].have)
            continue;
        fprintf(f, "\"%s\"", e->v[v].name);
        for (int k = 0; k < N_MEM; k++)
            fprintf(f, " %.4f", isnan(vs[v].mem[k]) ? 0.0 : vs[v].mem[k] / 1048576.0);
        fprintf(f, " %.4f %.8f %.8f\n", vs[v].rss.mean / 1048576.0, vs[v].dollars.mean,
                vs[v].dollars.sd);
    }
    fclose(f);
    const char *gp = find_gnuplot();
    if (!gp) {
        snprintf(why, why_n, "gnuplot not found (apt-get install gnuplot-nox)");
        return -1;
    }
    snprintf(path, sizeof path, "%s/plots.gp", pdir);
    f = fopen(path, "w");
    if (!f) {
        snprintf(why, why_n, "cannot write %.400s", path);
        return -1;
    }
    fprintf(f, "# drawn by frugal compare; run from %s: gnuplot plots.gp\n", pdir);
    fprintf(f, "set terminal pngcairo size 900,560 noenhanced font 'sans,10'\n");
    fprintf(f, "set key outside right\nset grid\nset style fill transparent solid 0.2 noborder\n");
    static const char *const xs[2][3] = { { "loss_vs_tokens", "tokens", "2" },
                                          { "loss_vs_seconds", "seconds (mean over seeds)", "6" } };
    for (int p = 0; p < 2; p++) {
        fprintf(f,
                "set output '%s.png'\nset title '%s: training loss, mean over seeds (band: "
                "min to max)'\nset xlabel '%s'\nset ylabel 'loss (nats per token)'\n",
                xs[p][0], e->name, xs[p][1]);
        fprintf(f, "plot ");
        int first = 1;
        for (int v = 0; v < e->n_variants; v++) {
            if (!vs[v].have)
                continue;
            fprintf(f,
                    "%s'%s.dat' using %s:4:5 with filledcurves lc %d notitle, "
                    "'%s.dat' using %s:3 with lines lw 2 lc %d title '%s'",
                    first ? "" : ", ", e->v[v].name, xs[p][2], v + 1, e->v[v].name, xs[p][2], v + 1,
                    e->v[v].name);
            first = 0;
        }
        if (first)
            fprintf(f, "NaN notitle");
        fprintf(f, "\n");
    }
    fprintf(f,
            "set output 'memory.png'\nset title '%s: memory by component (first run of each "
            "variant); points: peak RSS (mean)'\nset xlabel ''\nset ylabel 'MiB'\n"
            "set key autotitle columnhead\nset yrange [0:*]\n"
            "set style data histograms\nset style histogram rowstacked\n"
            "set style fill solid 0.8 border -1\nset boxwidth 0.6\nset xtics rotate by -20\n",
            e->name);
    fprintf(f, "plot 'bars.dat' using 2:xtic(1)");
    for (int k = 1; k < N_MEM; k++)
        fprintf(f, ", '' using %d", k + 2);
    fprintf(f, ", '' using 0:%d with points pt 7 ps 1.5 lc rgb 'black' title 'peak RSS'\n",
            N_MEM + 2);
    fprintf(f,
            "set output 'cost.png'\nset title '%s: dollars per run (mean over seeds; bars: "
            "sd)'\nset ylabel 'dollars'\nset format y '%%.3g'\nset style fill solid 0.6 "
            "border -1\nset boxwidth 0.5\nunset key\nset xrange [-0.5:*]\n"
            "plot 'bars.dat' using 0:%d:xtic(1) with boxes, '' using 0:%d:%d with yerrorbars "
            "lc rgb 'black' pt 0\n",
            e->name, N_MEM + 3, N_MEM + 3, N_MEM + 4);
    fclose(f);
    char *argv[] = { (char *)gp, "plots.gp", NULL };
    char log[4300];
    snprintf(log, sizeof log, "%s/gnuplot.log", pdir);
    pid_t pid = fork();
    if (pid == 0) {
        /* the log first: its path may be relative to the directory compare runs in */
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout) || chdir(pdir) != 0)
            _exit(127);
        execv(gp, argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        snprintf(why, why_n, "gnuplot failed (see %.400s)", log);
        return -1;
    }
    return 0;
}

static void fmt_pct(char *buf, size_t n, double x)
{
    if (isnan(x))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%+.1f%%", 100.0 * x);
}

/* ---- ablation: a variant whose flags are the union of other variants' ---- */

#define MAX_PAIRS_V 32

/* a variant's flags as "flag value" settings (a flag followed by a non-flag is one) */
static int settings(const struct fg_exp_variant *v, char out[][160])
{
    int n = 0;
    for (int i = 0; i < v->n_args && n < MAX_PAIRS_V; i++) {
        int val = i + 1 < v->n_args && strncmp(v->args[i + 1], "--", 2) != 0;
        snprintf(out[n++], 160, "%.70s%s%.70s", v->args[i], val ? " " : "",
                 val ? v->args[i + 1] : "");
        i += val;
    }
    return n;
}

static int has(char set[][160], int n, const char *x)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(set[i], x))
            return 1;
    return 0;
}

/* Components of variant w: the other non-baseline variants whose settings are all in w's and
 * that together give exactly w's, each setting from one of them. Fills comp; returns their
 * number (0: w is not such a combination). */
static int components(const struct fg_experiment *e, int w, int comp[FG_EXP_MAX_VARIANTS])
{
    static char sw[MAX_PAIRS_V][160], sv[MAX_PAIRS_V][160];
    int nw = settings(&e->v[w], sw), nc = 0, covered[MAX_PAIRS_V] = { 0 };
    for (int v = 0; v < e->n_variants; v++) {
        if (v == w || v == e->baseline)
            continue;
        int nv = settings(&e->v[v], sv), inside = nv > 0;
        for (int i = 0; i < nv && inside; i++)
            inside = has(sw, nw, sv[i]);
        if (!inside || nv == nw)
            continue;
        for (int i = 0; i < nv; i++)
            for (int k = 0; k < nw; k++)
                if (!strcmp(sw[k], sv[i]))
                    covered[k]++;
        comp[nc++] = v;
    }
    for (int k = 0; k < nw; k++)
        if (covered[k] != 1)
            return 0;
    return nc >= 2 ? nc : 0;
}

static void ablation(FILE *f, const struct fg_experiment *e, const struct vstat *vs)
{
    int printed = 0;
    for (int w = 0; w < e->n_variants; w++) {
        int comp[FG_EXP_MAX_VARIANTS], nc = w == e->baseline ? 0 : components(e, w, comp);
        if (!nc || !vs[w].have)
            continue;
        if (!printed)
            fprintf(f, "\n## Components\n\nA variant whose flags are the union of other "
                       "variants' flags, against the sum of their changes alone (relative to the "
                       "baseline; the remainder is how they interact).\n\n"
                       "| | memory | cost | throughput | val loss |\n|---|---|---|---|---|\n");
        printed = 1;
        double sm = 0, sc = 0, st = 1, sv = 0;
        int ok = 1;
        for (int k = 0; k < nc; k++) {
            const struct vstat *a = &vs[comp[k]];
            if (!a->have) {
                ok = 0;
                continue;
            }
            char m[32], c[32], v[32];
            fmt_pct(m, sizeof m, a->d_rss);
            fmt_pct(c, sizeof c, a->d_dollars);
            fmt_pct(v, sizeof v, a->d_val);
            fprintf(f, "| %s alone | %s | %s | %.2fx | %s |\n", e->v[comp[k]].name, m, c, a->d_tps,
                    v);
            sm += a->d_rss;
            sc += a->d_dollars;
            st *= a->d_tps;
            sv += a->d_val;
        }
        char m[32], c[32], v[32];
        if (ok) {
            fmt_pct(m, sizeof m, sm);
            fmt_pct(c, sizeof c, sc);
            fmt_pct(v, sizeof v, sv);
            fprintf(f, "| sum of the parts (throughput: product) | %s | %s | %.2fx | %s |\n", m, c,
                    st, v);
        }
        fmt_pct(m, sizeof m, vs[w].d_rss);
        fmt_pct(c, sizeof c, vs[w].d_dollars);
        fmt_pct(v, sizeof v, vs[w].d_val);
        fprintf(f, "| **%s** (measured) | %s | %s | %.2fx | %s |\n", e->v[w].name, m, c,
                vs[w].d_tps, v);
    }
}

/* ---- report.md and summary.json ---- */

int compare_report(const struct compare *c)
{
    const struct fg_experiment *e = c->e;
    struct vstat vs[FG_EXP_MAX_VARIANTS];
    summarize(c, vs);
    char why[512] = "";
    int plots_ok = plots(c, vs, why, sizeof why) == 0;
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/report.md", c->dir);
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return -1;
    char cpu[256], when[64];
    cli_cpu_model(cpu, sizeof cpu);
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    const struct vstat *b = &vs[e->baseline];
    fprintf(f, "# Experiment `%s`\n\n", e->name);
    fprintf(f, "Baseline **%s** against %d variant%s, seeds", e->v[e->baseline].name,
            e->n_variants - 1, e->n_variants > 2 ? "s" : "");
    for (int s = 0; s < e->n_seeds; s++)
        fprintf(f, "%s %" PRIu64, s ? "," : "", e->seeds[s]);
    fprintf(f, "; budget ");
    if (e->steps)
        fprintf(f, "%" PRId64 " steps", e->steps);
    else
        fprintf(f, "%" PRId64 " tokens", e->tokens);
    if (e->seconds > 0)
        fprintf(f, ", at most %g s per run", e->seconds);
    fprintf(f, "; data `%s` and `%s`. %s, written by `frugal compare` on %s.\n\n", c->train, c->val,
            cpu, when);
    fprintf(f,
            "Runs take one process each, one at a time unless `--jobs`; times, tokens/s and "
            "dollars are the runs' own ledgers (`frugal train --json`), memory their peak "
            "RSS. Quality is the final validation loss, paired by seed; equivalence is a "
            "TOST against a margin of %.2g%% of the baseline's mean at alpha %.2g.\n\n",
            100.0 * e->margin, e->alpha);
    fprintf(f, "## Verdicts\n\n");
    for (int v = 0; v < e->n_variants; v++) {
        const struct vstat *a = &vs[v];
        char q[256], p1[32], p2[32], p3[32];
        if (v == e->baseline)
            continue;
        if (!a->have || !b->have) {
            fprintf(f, "- **%s**: no finished run to compare (%d aborted, %d crashed)\n",
                    e->v[v].name, a->aborted, a->crashed);
            continue;
        }
        fmt_pct(p1, sizeof p1, a->d_rss);
        fmt_pct(p2, sizeof p2, a->d_dollars);
        fmt_pct(p3, sizeof p3, a->d_val);
        fprintf(f, "- **%s**: memory %s, cost %s, throughput %.2fx, val loss %s: %s\n",
                e->v[v].name, p1, p2, a->d_tps, p3, quality_verdict(e, a, q, sizeof q));
    }
    fprintf(f, "\n## Per variant (mean ± sd over finished runs)\n\n");
    fprintf(f, "| variant | runs done / aborted / crashed | final val loss | vs baseline | "
               "paired t p | Cohen's d | TOST p | tokens/s | throughput | peak RSS MiB | memory | "
               "$ per run | cost |\n");
    fprintf(f, "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int v = 0; v < e->n_variants; v++) {
        const struct vstat *a = &vs[v];
        fprintf(f, "| %s%s | %d / %d / %d ", e->v[v].name, v == e->baseline ? " (baseline)" : "",
                a->done, a->aborted, a->crashed);
        if (!a->have) {
            fprintf(f, "| - | | | | | - | | - | | - | |\n");
            continue;
        }
        char d1[32] = "", d2[32] = "", d3[32] = "", tp[32] = "", pt[32] = "", cd[32] = "",
             tost[32] = "";
        if (v != e->baseline && b->have) {
            fmt_pct(d1, sizeof d1, a->d_val);
            fmt_pct(d2, sizeof d2, a->d_rss);
            fmt_pct(d3, sizeof d3, a->d_dollars);
            snprintf(tp, sizeof tp, "%.2fx", a->d_tps);
            if (a->paired) {
                snprintf(pt, sizeof pt, "%.3g", a->t.p);
                snprintf(cd, sizeof cd, "%.3g", a->t.cohens_d);
                snprintf(tost, sizeof tost, "%.3g", a->t.tost_p);
            }
        }
        fprintf(f,
                "| %.4f ± %.4f | %s | %s | %s | %s | %.0f ± %.0f | %s | %.1f | %s | %.3g ± %.2g | "
                "%s |\n",
                a->val.mean, a->val.sd, d1, pt, cd, tost, a->tps.mean, a->tps.sd, tp,
                a->rss.mean / 1048576.0, d2, a->dollars.mean, a->dollars.sd, d3);
    }
    ablation(f, e, vs);
    fprintf(f,
            "\n## Runs\n\n| run | status | final val loss | tokens/s | peak RSS MiB | wall s | $ "
            "| reason |\n|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < c->n_runs; i++) {
        const struct run *r = &c->runs[i];
        static const char *const names[] = { "not run", "done", "aborted", "crashed" };
        if (r->status == RUN_DONE)
            fprintf(f, "| %s | done | %.4f | %.0f | %.1f | %.1f | %.3g | |\n", r->tag, r->final_val,
                    r->tokens_per_s, r->peak_rss / 1048576.0, r->wall_s, r->dollars);
        else
            fprintf(f, "| %s | %s | | | | | | %s |\n", r->tag, names[r->status], r->reason);
    }
    fprintf(f, "\n## Plots\n\n");
    if (plots_ok)
        fprintf(f, "![loss vs tokens](plots/loss_vs_tokens.png)\n\n"
                   "![loss vs seconds](plots/loss_vs_seconds.png)\n\n"
                   "![memory](plots/memory.png)\n\n![cost](plots/cost.png)\n\n"
                   "Data and gnuplot script in `plots/`.\n");
    else
        fprintf(f, "Not drawn: %s.\n", why);
    fprintf(f, "\n## Definitions\n\n"
               "- *vs baseline*: the variant's mean over the baseline's mean, minus 1. *memory*: "
               "peak RSS; *cost*: dollars per run (wall hours x the price per hour); "
               "*throughput*: tokens/s over the baseline's.\n"
               "- *paired t p*: two-sided paired t-test of the final validation losses, seed by "
               "seed (scipy.stats.ttest_rel). *Cohen's d*: difference of means over the pooled "
               "sd. *TOST p*: two one-sided tests that the mean difference lies within ± the "
               "margin; below alpha means equivalent.\n"
               "- With 2 or 3 seeds a t-test has little power: \"inconclusive\" is common and "
               "means what it says.\n");
    fclose(f);
    /* summary.json: the same numbers for scripts */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "experiment", e->name);
    cJSON_AddStringToObject(j, "baseline", e->v[e->baseline].name);
    cJSON *arr = cJSON_AddArrayToObject(j, "variants");
    for (int v = 0; v < e->n_variants; v++) {
        const struct vstat *a = &vs[v];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", e->v[v].name);
        cJSON_AddNumberToObject(x, "done", a->done);
        cJSON_AddNumberToObject(x, "aborted", a->aborted);
        cJSON_AddNumberToObject(x, "crashed", a->crashed);
        if (a->have) {
            cJSON_AddNumberToObject(x, "val_loss_mean", a->val.mean);
            cJSON_AddNumberToObject(x, "val_loss_sd", a->val.sd);
            cJSON_AddNumberToObject(x, "tokens_per_s_mean", a->tps.mean);
            cJSON_AddNumberToObject(x, "peak_rss_mean", a->rss.mean);
            cJSON_AddNumberToObject(x, "dollars_mean", a->dollars.mean);
        }
        if (v != e->baseline && a->have && b->have) {
            cJSON_AddNumberToObject(x, "val_loss_change", a->d_val);
            cJSON_AddNumberToObject(x, "memory_change", a->d_rss);
            cJSON_AddNumberToObject(x, "cost_change", a->d_dollars);
            cJSON_AddNumberToObject(x, "throughput_ratio", a->d_tps);
            if (a->paired) {
                cJSON_AddNumberToObject(x, "t", a->t.t);
                cJSON_AddNumberToObject(x, "p", a->t.p);
                cJSON_AddNumberToObject(x, "cohens_d", a->t.cohens_d);
                cJSON_AddNumberToObject(x, "tost_p", a->t.tost_p);
                cJSON_AddBoolToObject(x, "equivalent", a->t.equivalent);
            }
        }
        cJSON_AddItemToArray(arr, x);
    }
    cJSON *runs = cJSON_AddArrayToObject(j, "runs");
    for (int i = 0; i < c->n_runs; i++) {
        static const char *const names[] = { "todo", "done", "aborted", "crashed" };
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "run", c->runs[i].tag);
        cJSON_AddStringToObject(x, "status", names[c->runs[i].status]);
        cJSON_AddStringToObject(x, "reason", c->runs[i].reason);
        cJSON_AddItemToArray(runs, x);
    }
    char *js = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = cli_write_atomic(path, buf, blen, err, sizeof err);
    snprintf(path, sizeof path, "%s/summary.json", c->dir);
    if (rc == 0 && js)
        rc = cli_write_atomic(path, js, strlen(js), err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "frugal compare: %s\n", err);
    if (!plots_ok)
        fprintf(stderr, "frugal compare: plots not drawn: %s\n", why);
    cJSON_free(js);
    free(buf);
    return rc;
}
