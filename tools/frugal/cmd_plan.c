/* frugal plan: what a training run will cost before it starts. Flags are generated from the
 * planner's input table (include/frugal/plan.h), so every numeric input can be set, swept and
 * printed with its unit and provenance tag; the numbers themselves come from fg_plan_compute.
 *
 *   one plan        a table of inputs (value, unit, tag) and outputs, or one JSON object
 *   --sweep         one input over a range or list: CSV (+ a gnuplot PNG), optionally next to
 *                   the "supercomputing" bundle of the spec's Figure 7
 *   --minimize      the cheapest or fastest cluster size over multiples of the replica size,
 *                   under --max-days / --max-dollars (an exhaustive scan of that grid)
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "frugal/core.h"
#include "frugal/model.h"
#include "frugal/plan.h"

#define MAX_FIELDS     128
#define MAX_POINTS     100000
#define DEFAULT_STEPS  8
#define DEFAULT_MAXDEV 200000.0
#define MAX_GRID       1e7

/* The Figure-7 "supercomputing technology" bundle (spec §2): it replaces these three inputs. */
#define SC_FS_BANDWIDTH 2e12
#define SC_CKPT_FACTOR  0.5
#define SC_K_TOL        5.0

#if defined(__GNUC__)
#    define PRINTF_LIKE(a, b) __attribute__((format(printf, a, b)))
#else
#    define PRINTF_LIKE(a, b)
#endif

/* ---- messages ---------------------------------------------------------------------------- */

static int msg_exit(int code, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* One line on stderr, "frugal plan: ...", and the exit code to return. */
static int msg_exit(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("frugal plan: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* "tokens_per_param" -> "--tokens-per-param" */
static void flag_of(const char *name, char *buf, size_t n)
{
    snprintf(buf, n, "--%s", name);
    for (char *c = buf + 2; *c; c++)
        if (*c == '_')
            *c = '-';
}

/* A library validation message names an input ("mfu is 1.5: ..."): append the flag that sets
 * it, so that the line says what to change on the command line. */
static void print_lib_error(const char *prefix, const char *err)
{
    size_t n;
    const struct fg_plan_field *fs = fg_plan_fields(&n);
    const char *best = NULL;
    const char *best_at = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(fs[i].name);
        for (const char *at = strstr(err, fs[i].name); at; at = strstr(at + 1, fs[i].name)) {
            int left = at == err || !(at[-1] == '_' || (at[-1] >= 'a' && at[-1] <= 'z'));
            int right = !(at[len] == '_' || (at[len] >= 'a' && at[len] <= 'z'));
            if (left && right) {
                if (!best_at || at < best_at || (at == best_at && len > best_len)) {
                    best = fs[i].name;
                    best_at = at;
                    best_len = len;
                }
                break;
            }
        }
    }
    char flag[80] = "";
    if (best)
        flag_of(best, flag, sizeof flag);
    fprintf(stderr, "frugal plan: %s%s%s%s%s\n", prefix, err, best ? " (flag " : "", flag,
            best ? ")" : "");
}

/* ---- numbers ----------------------------------------------------------------------------- */

/* Plain or scientific notation, or a suffix k/K/M/B/T (1e3/1e3/1e6/1e9/1e12): "1.8T", "500B".
 * Returns 0, -1 (not a number) or -2 (not finite: nan, inf, 1e999). */
static int parse_number(const char *s, double *out)
{
    static const struct {
        char c;
        const char *exp;
    } sfx[] = { { 'k', "e3" }, { 'K', "e3" }, { 'M', "e6" }, { 'B', "e9" }, { 'T', "e12" } };

    size_t n = strlen(s);
    char buf[96];
    if (n == 0 || n > 64 || s[0] == ' ' || s[0] == '\t')
        return -1;
    memcpy(buf, s, n + 1);
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        if (buf[n - 1] != sfx[i].c)
            continue;
        buf[n - 1] = '\0';
        /* the mantissa of a suffixed number is a plain decimal: no exponent, inf, nan or hex */
        if (n == 1 || strpbrk(buf, "eExXpPiInN"))
            return -1;
        strcat(buf, sfx[i].exp); /* exact: strtod rounds "1.8e12" once */
        break;
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    if (end == buf || *end)
        return -1;
    if (!isfinite(v))
        return -2;
    *out = v;
    return 0;
}

/* %.6g for tables, with "-" for non-finite values */
static const char *fmt_g(char *b, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(b, n, "%s", isnan(v) ? "nan" : "inf");
    else
        snprintf(b, n, "%.6g", v);
    return b;
}

/* $1,234,567 below 1e15, $1.234e+15 above, $12.34 below 1000 */
static const char *fmt_money(char *b, size_t n, double v)
{
    if (!isfinite(v) || v < 0) {
        snprintf(b, n, "n/a");
        return b;
    }
    if (v >= 1e15) {
        snprintf(b, n, "$%.4e", v);
        return b;
    }
    if (v < 1000.0) {
        snprintf(b, n, "$%.2f", v);
        return b;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t len = strlen(digits), o = 0;
    char tmp[48];
    tmp[o++] = '$';
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = digits[i];
    }
    tmp[o] = '\0';
    snprintf(b, n, "%s", tmp);
    return b;
}

/* decimal bytes: 78.4 GB */
static const char *fmt_bytes(char *b, size_t n, double v)
{
    static const char *u[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
    int i = 0;
    double x = v;
    while (fabs(x) >= 1000.0 && i < 6) {
        x /= 1000.0;
        i++;
    }
    if (!isfinite(v))
        snprintf(b, n, "%s", isnan(v) ? "nan" : "inf");
    else
        snprintf(b, n, "%.4g %s", x, u[i]);
    return b;
}

/* hours, with days or minutes when that reads better */
static const char *fmt_hours(char *b, size_t n, double h)
{
    if (!isfinite(h))
        snprintf(b, n, "%s h", isnan(h) ? "nan" : "inf");
    else if (h >= 48.0)
        snprintf(b, n, "%.6g h (%.1f days)", h, h / 24.0);
    else if (h < 1.0)
        snprintf(b, n, "%.6g h (%.2f min)", h, h * 60.0);
    else
        snprintf(b, n, "%.6g h", h);
    return b;
}

static void json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.17g", v);
    else
        fputs("null", f); /* JSON has no inf or nan */
}

/* a JSON string: quotes, backslashes and control bytes escaped */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* ---- choices ----------------------------------------------------------------------------- */

struct choice {
    const char *name;
    int value;
};

static const struct choice amdahl_choices[] = {
    { "none", FG_PLAN_AMDAHL_NONE },  { "device", FG_PLAN_AMDAHL_DEVICE },
    { "host", FG_PLAN_AMDAHL_HOST },  { "replica", FG_PLAN_AMDAHL_REPLICA },
    { "gpu", FG_PLAN_AMDAHL_DEVICE }, { "node", FG_PLAN_AMDAHL_HOST },
};
static const struct choice ckpt_choices[] = {
    { "device_memory", FG_PLAN_CKPT_DEVICE_MEMORY },
    { "model_state", FG_PLAN_CKPT_MODEL_STATE },
    { "device-memory", FG_PLAN_CKPT_DEVICE_MEMORY },
    { "model-state", FG_PLAN_CKPT_MODEL_STATE },
};
static const struct choice interval_choices[] = {
    { "daly", FG_PLAN_INTERVAL_DALY },
    { "young", FG_PLAN_INTERVAL_YOUNG },
};

static const char *amdahl_name(int v)
{
    return v == FG_PLAN_AMDAHL_DEVICE    ? "device"
           : v == FG_PLAN_AMDAHL_HOST    ? "host"
           : v == FG_PLAN_AMDAHL_REPLICA ? "replica"
                                         : "none";
}

static const char *ckpt_name(int v)
{
    return v == FG_PLAN_CKPT_MODEL_STATE ? "model_state" : "device_memory";
}

static const char *interval_name(int v)
{
    return v == FG_PLAN_INTERVAL_YOUNG ? "young" : "daly";
}

static int find_choice(const struct choice *c, size_t n, const char *s, int *out)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(c[i].name, s)) {
            *out = c[i].value;
            return 1;
        }
    return 0;
}

/* ---- the command line -------------------------------------------------------------------- */

struct plan_cli {
    enum fg_plan_preset preset;
    size_t n_fields;
    const struct fg_plan_field *fields;
    double user[MAX_FIELDS];
    unsigned char set[MAX_FIELDS];
    char given_as[MAX_FIELDS][64]; /* the flag as typed, for messages */
    int amdahl, ckpt_mode, interval;
    int amdahl_set, ckpt_set, interval_set;
    int json, no_plot;
    const char *sweep, *csv, *plot, *compare, *minimize, *model, *project, *optimizer;
    double max_devices, max_days, max_dollars;
    int max_devices_set, max_days_set, max_dollars_set;
};

/* "tokens-per-param" / "tokens_per_param" / "gpus" -> the table's field, or NULL */
static const struct fg_plan_field *lookup_field(const char *name)
{
    char norm[64];
    size_t len = strlen(name);
    if (len >= sizeof norm)
        return NULL;
    for (size_t i = 0; i <= len; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    if (!strcmp(norm, "gpus"))
        return fg_plan_field_find("devices");
    return fg_plan_field_find(norm);
}

static size_t field_index(const struct plan_cli *c, const struct fg_plan_field *f)
{
    return (size_t)(f - c->fields);
}

static const char *const other_options[] = {
    "preset",      "amdahl", "ckpt-mode", "interval", "json",        "sweep",
    "csv",         "plot",   "compare",   "minimize", "max-devices", "max-days",
    "max-dollars", "gpus",   "model",     "project",  "no-plot",     "optimizer",
};

/* Levenshtein distance of two short strings, dashes and underscores equal */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            char x = a[i - 1] == '_' ? '-' : a[i - 1], y = b[j - 1] == '_' ? '-' : b[j - 1];
            size_t best = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

static int unknown_option(const struct plan_cli *c, const char *typed, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    char flag[80];
    for (size_t i = 0; i < c->n_fields; i++) {
        size_t d = edit_distance(name, c->fields[i].name);
        if (d < best_d) {
            best_d = d;
            best = c->fields[i].name;
        }
    }
    for (size_t i = 0; i < sizeof other_options / sizeof other_options[0]; i++) {
        size_t d = edit_distance(name, other_options[i]);
        if (d < best_d) {
            best_d = d;
            best = other_options[i];
        }
    }
    if (best) {
        flag_of(best, flag, sizeof flag);
        return msg_exit(EXIT_USAGE,
                        "unknown option '%s': did you mean %s? (see frugal plan --help)", typed,
                        flag);
    }
    return msg_exit(EXIT_USAGE, "unknown option '%s' (see frugal plan --help)", typed);
}

static int bad_number(const char *flag, const char *val, int why)
{
    if (why == -2)
        return msg_exit(EXIT_USAGE, "invalid value '%s' for %s: give a finite number", val, flag);
    return msg_exit(EXIT_USAGE,
                    "invalid value '%s' for %s: expected a number such as 1.8e12, 1.8T, 500B or "
                    "50k (see frugal plan --help)",
                    val, flag);
}

static void plan_help(void);

static int parse_args(struct plan_cli *c, int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-' || a[2] == '\0')
            return msg_exit(EXIT_USAGE,
                            "unexpected argument '%s': every input is a flag, e.g. --params 1.8e12 "
                            "(see frugal plan --help)",
                            a);
        char typed[64], name[64];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof typed)
            len = sizeof typed - 1;
        memcpy(typed, a, len);
        typed[len] = '\0';
        snprintf(name, sizeof name, "%s", typed + 2);
        for (char *p = name; *p; p++)
            if (*p == '_')
                *p = '-';

        if (!strcmp(name, "json")) {
            if (eq)
                return msg_exit(EXIT_USAGE, "--json takes no value");
            c->json = 1;
            continue;
        }
        if (!strcmp(name, "no-plot")) {
            if (eq)
                return msg_exit(EXIT_USAGE, "--no-plot takes no value");
            c->no_plot = 1;
            continue;
        }
        const struct fg_plan_field *f = lookup_field(name);
        int known = f != NULL;
        for (size_t k = 0; !known && k < sizeof other_options / sizeof other_options[0]; k++)
            known = !strcmp(name, other_options[k]);
        if (!known)
            return unknown_option(c, typed, name);

        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc && !(argv[i + 1][0] == '-' && argv[i + 1][1] == '-')) {
            val = argv[++i];
        } else {
            return msg_exit(EXIT_USAGE, "option %s needs a value (see frugal plan --help)", typed);
        }
        if (!*val)
            return msg_exit(EXIT_USAGE, "option %s needs a value (see frugal plan --help)", typed);

        if (f) {
            double v;
            int rc = parse_number(val, &v);
            if (rc)
                return bad_number(typed, val, rc);
            if (v < 0)
                return msg_exit(EXIT_USAGE, "invalid value '%s' for %s: it cannot be negative", val,
                                typed);
            size_t k = field_index(c, f);
            c->user[k] = v;
            c->set[k] = 1;
            snprintf(c->given_as[k], sizeof c->given_as[k], "%s", typed);
        } else if (!strcmp(name, "preset")) {
            if (!strcmp(val, "paper"))
                c->preset = FG_PLAN_PRESET_PAPER;
            else if (!strcmp(val, "realistic"))
                c->preset = FG_PLAN_PRESET_REALISTIC;
            else
                return msg_exit(EXIT_USAGE,
                                "invalid value '%s' for --preset: give paper or realistic", val);
        } else if (!strcmp(name, "amdahl")) {
            if (!find_choice(amdahl_choices, sizeof amdahl_choices / sizeof amdahl_choices[0], val,
                             &c->amdahl))
                return msg_exit(EXIT_USAGE,
                                "invalid value '%s' for --amdahl: give none, device, host or "
                                "replica",
                                val);
            c->amdahl_set = 1;
        } else if (!strcmp(name, "ckpt-mode")) {
            if (!find_choice(ckpt_choices, sizeof ckpt_choices / sizeof ckpt_choices[0], val,
                             &c->ckpt_mode))
                return msg_exit(EXIT_USAGE,
                                "invalid value '%s' for --ckpt-mode: give device_memory or "
                                "model_state",
                                val);
            c->ckpt_set = 1;
        } else if (!strcmp(name, "interval")) {
            if (!find_choice(interval_choices, sizeof interval_choices / sizeof interval_choices[0],
                             val, &c->interval))
                return msg_exit(EXIT_USAGE, "invalid value '%s' for --interval: give daly or young",
                                val);
            c->interval_set = 1;
        } else if (!strcmp(name, "sweep")) {
            c->sweep = val;
        } else if (!strcmp(name, "model")) {
            c->model = val;
        } else if (!strcmp(name, "optimizer")) {
            c->optimizer = val;
        } else if (!strcmp(name, "project")) {
            c->project = val;
        } else if (!strcmp(name, "csv")) {
            c->csv = val;
        } else if (!strcmp(name, "plot")) {
            c->plot = val;
        } else if (!strcmp(name, "compare")) {
            if (strcmp(val, "supercomputing"))
                return msg_exit(EXIT_USAGE,
                                "invalid value '%s' for --compare: the one bundle is "
                                "supercomputing (fs_bandwidth 2e12, ckpt_factor 0.5, k_tol 5)",
                                val);
            c->compare = val;
        } else if (!strcmp(name, "minimize")) {
            if (strcmp(val, "cost") && strcmp(val, "time"))
                return msg_exit(EXIT_USAGE, "invalid value '%s' for --minimize: give cost or time",
                                val);
            c->minimize = val;
        } else {
            /* --max-devices, --max-days, --max-dollars */
            double v;
            int rc = parse_number(val, &v);
            if (rc)
                return bad_number(typed, val, rc);
            if (!(v > 0))
                return msg_exit(EXIT_USAGE, "invalid value '%s' for %s: it must be > 0", val,
                                typed);
            if (!strcmp(name, "max-devices")) {
                if (v != floor(v))
                    return msg_exit(EXIT_USAGE,
                                    "invalid value '%s' for --max-devices: give a whole number",
                                    val);
                c->max_devices = v;
                c->max_devices_set = 1;
            } else if (!strcmp(name, "max-days")) {
                c->max_days = v;
                c->max_days_set = 1;
            } else {
                c->max_dollars = v;
                c->max_dollars_set = 1;
            }
        }
    }
    return 0;
}

/* Preset, then every flag the user gave. */
static void build_params(const struct plan_cli *c, struct fg_plan_params *p)
{
    fg_plan_defaults(p, c->preset);
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->set[i])
            *fg_plan_field_ptr(p, &c->fields[i]) = c->user[i];
    if (c->amdahl_set)
        p->amdahl = (enum fg_plan_amdahl)c->amdahl;
    if (c->ckpt_set)
        p->ckpt_mode = (enum fg_plan_ckpt)c->ckpt_mode;
    if (c->interval_set)
        p->interval = (enum fg_plan_interval)c->interval;
}

static void apply_supercomputing(struct fg_plan_params *p)
{
    p->fs_bandwidth = SC_FS_BANDWIDTH;
    p->ckpt_factor = SC_CKPT_FACTOR;
    p->k_tol = SC_K_TOL;
}

/* ---- one plan point ---------------------------------------------------------------------- */

enum point { PT_OK, PT_NOFIT, PT_KTOL, PT_ERR, PT_NONFINITE };

/* fg_plan_compute, with its "no plan here" cases told apart from bad input: the model does not
 * fit (r->fits 0), k_tol is not below the number of replicas at this size, or the wall time is
 * not a finite number (PT_NONFINITE, err says why): either failures come so fast that Daly's
 * expected time overflows (the run would never finish), or the K-of-N mean time to interrupt
 * is infinite (its rate underflows to 0 for a large k_tol or recovery 0) and the library's
 * formula then gives inf x 0 = nan. */
static enum point plan_point(const struct fg_plan_params *p, struct fg_plan_result *r, char *err,
                             size_t errlen)
{
    if (fg_plan_compute(p, r, err, errlen) == FG_OK) {
        if (r->fits && (!isfinite(r->wall_hours) || !isfinite(r->cost))) {
            if (!isfinite(r->mtti_effective))
                snprintf(err, errlen,
                         "no finite wall time at %.0f devices: the K-of-N mean time to "
                         "interrupt is infinite with k_tol %g and recovery %g h (the planner "
                         "then gives nan); lower --k-tol or give --lambda-shared",
                         p->devices, p->k_tol, p->recovery);
            else
                snprintf(err, errlen,
                         "no finite wall time at %.0f devices: with an interrupt every %.3g h, "
                         "a %.3g s checkpoint and %.3g h recovery the run never finishes",
                         p->devices, r->mtti_effective, r->ckpt_write_s, p->recovery);
            return PT_NONFINITE;
        }
        return r->fits ? PT_OK : PT_NOFIT;
    }
    if (p->k_tol > 0) {
        struct fg_plan_params q = *p;
        char e2[16];
        q.k_tol = 0;
        if (fg_plan_compute(&q, r, e2, sizeof e2) == FG_OK && (!r->fits || r->replicas <= p->k_tol))
            return r->fits ? PT_KTOL : PT_NOFIT;
    }
    return PT_ERR;
}

static int report_nofit(const struct fg_plan_params *p, const struct fg_plan_result *r,
                        const char *where)
{
    char a[32], b[32];
    double avail = p->device_memory * (1.0 - p->memory_headroom);
    if (r->replica_devices > p->devices)
        return msg_exit(EXIT_USAGE,
                        "the model does not fit on %s %.0f: one replica needs %.0f devices (%s "
                        "usable each); %s must be at least %.0f",
                        where, p->devices, r->replica_devices, fmt_bytes(a, sizeof a, avail), where,
                        r->replica_devices);
    return msg_exit(EXIT_USAGE,
                    "the model does not fit on %s %.0f: %s per device needed, %s usable; give "
                    "more --devices, a higher --zero-stage or --recompute 1",
                    where, p->devices, fmt_bytes(a, sizeof a, r->mem_total),
                    fmt_bytes(b, sizeof b, avail));
}

/* ---- printing one plan ------------------------------------------------------------------- */

static char tag_of(const struct plan_cli *c, size_t i)
{
    if (c->set[i])
        return 'U';
    return c->preset == FG_PLAN_PRESET_PAPER ? c->fields[i].tag_paper : c->fields[i].tag_realistic;
}

/* Provenance of the three choices (spec §2): amdahl_unit A, ckpt_mode A, interval R. */
static char choice_tag(int user_set, char preset_tag)
{
    return user_set ? 'U' : preset_tag;
}

static void print_text(const struct plan_cli *c, struct fg_plan_params *p,
                       const struct fg_plan_result *r, const struct fg_plan_result *sc,
                       enum point sc_pt)
{
    char v[64], w[160];
    printf("frugal plan (preset %s; tags: P paper, R reconstructed, A assumption, U you)\n\n",
           c->preset == FG_PLAN_PRESET_PAPER ? "paper" : "realistic");
    printf("inputs\n");
    for (size_t i = 0; i < c->n_fields; i++) {
        const struct fg_plan_field *f = &c->fields[i];
        printf("  %-24s %-14s %-7s %c\n", f->name, fmt_g(v, sizeof v, *fg_plan_field_ptr(p, f)),
               f->unit, tag_of(c, i));
    }
    printf("  %-24s %-14s %-7s %c\n", "amdahl", amdahl_name(p->amdahl), "",
           choice_tag(c->amdahl_set, 'A'));
    printf("  %-24s %-14s %-7s %c\n", "ckpt_mode", ckpt_name(p->ckpt_mode), "",
           choice_tag(c->ckpt_set, 'A'));
    printf("  %-24s %-14s %-7s %c\n", "interval", interval_name(p->interval), "",
           choice_tag(c->interval_set, 'R'));

#define ROW(name, text) printf("  %-24s %s\n", name, text)
    printf("\ncompute\n");
    snprintf(w, sizeof w, "%.6g FLOP", r->train_flops);
    ROW("train_flops", w);
    ROW("tokens", fmt_g(v, sizeof v, r->tokens));
    ROW("active_params", fmt_g(v, sizeof v, r->active_params));
    snprintf(w, sizeof w, "%.6g FLOP/s per device", r->sustained_flops);
    ROW("sustained_flops", w);
    snprintf(w, sizeof w, "%.6g device-h", r->device_hours_ideal);
    ROW("device_hours_ideal", w);
    ROW("cost_ideal", fmt_money(v, sizeof v, r->cost_ideal));
    if (r->cost_kappa > 0)
        ROW("cost_kappa", fmt_money(v, sizeof v, r->cost_kappa));

    printf("\nmemory per device\n");
    snprintf(w, sizeof w, "%.0f devices per model copy", r->replica_devices);
    ROW("replica_devices", w);
    snprintf(w, sizeof w, "%.0f data-parallel groups", r->replicas);
    ROW("replicas", w);
    snprintf(w, sizeof w, "%.0f of %.0f", r->devices_used, p->devices);
    ROW("devices_used", w);
    ROW("mem_weights", fmt_bytes(v, sizeof v, r->mem_weights));
    ROW("mem_grads", fmt_bytes(v, sizeof v, r->mem_grads));
    ROW("mem_optimizer", fmt_bytes(v, sizeof v, r->mem_optimizer));
    ROW("mem_activations", fmt_bytes(v, sizeof v, r->mem_activations));
    char u[32];
    snprintf(w, sizeof w, "%s of %s usable", fmt_bytes(v, sizeof v, r->mem_total),
             fmt_bytes(u, sizeof u, p->device_memory * (1.0 - p->memory_headroom)));
    ROW("mem_total", w);
    ROW("fits", r->fits ? "yes" : "no");

    printf("\ntime and failures\n");
    ROW("amdahl", fmt_g(v, sizeof v, r->amdahl));
    ROW("efficiency", fmt_g(v, sizeof v, r->efficiency));
    ROW("solve_hours", fmt_hours(v, sizeof v, r->solve_hours));
    ROW("mtti", fmt_hours(v, sizeof v, r->mtti));
    ROW("mtti_effective", fmt_hours(v, sizeof v, r->mtti_effective));
    ROW("rho", fmt_g(v, sizeof v, r->rho));
    ROW("ckpt_bytes", fmt_bytes(v, sizeof v, r->ckpt_bytes));
    if (r->ckpt_write_s >= 120)
        snprintf(w, sizeof w, "%.6g s (%.1f min)", r->ckpt_write_s, r->ckpt_write_s / 60);
    else
        snprintf(w, sizeof w, "%.6g s", r->ckpt_write_s);
    ROW("ckpt_write_s", w);
    ROW("ckpt_interval", fmt_hours(v, sizeof v, r->ckpt_interval));
    ROW("wall_hours", fmt_hours(v, sizeof v, r->wall_hours));
    ROW("dilation", fmt_g(v, sizeof v, r->dilation));
    ROW("ettr", fmt_g(v, sizeof v, r->ettr));
    ROW("interruptions", fmt_g(v, sizeof v, r->interruptions));

    printf("\ncost\n");
    snprintf(w, sizeof w, "%.6g device-h billed", r->device_hours);
    ROW("device_hours", w);
    ROW("cost", fmt_money(v, sizeof v, r->cost));
    snprintf(w, sizeof w, "%.2f days", r->wall_days);
    ROW("wall_days", w);

    if (c->compare) {
        printf("\nsupercomputing bundle (fs_bandwidth 2e12, ckpt_factor 0.5, k_tol 5)\n");
        if (sc_pt == PT_OK) {
            snprintf(w, sizeof w, "%.2f days", sc->wall_days);
            ROW("wall_days_sc", w);
            ROW("dilation_sc", fmt_g(v, sizeof v, sc->dilation));
            ROW("cost_sc", fmt_money(v, sizeof v, sc->cost));
            snprintf(w, sizeof w, "%.6g (wall_hours / wall_hours_sc)",
                     r->wall_hours / sc->wall_hours);
            ROW("ratio", w);
        } else {
            snprintf(w, sizeof w, "no plan: k_tol 5 needs more than 5 replicas (there are %.0f)",
                     r->replicas);
            ROW("wall_days_sc", w);
        }
    }
#undef ROW
}

/* Every double of struct fg_plan_result, by name, for JSON (fits, an int, is printed apart). */
#define R(name)                                      \
    {                                                \
#        name, offsetof(struct fg_plan_result, name) \
    }

static const struct {
    const char *name;
    size_t offset;
} result_fields[] = {
    R(train_flops),
    R(tokens),
    R(active_params),
    R(sustained_flops),
    R(device_hours_ideal),
    R(cost_ideal),
    R(cost_kappa),
    R(replica_devices),
    R(replicas),
    R(devices_used),
    R(mem_weights),
    R(mem_grads),
    R(mem_optimizer),
    R(mem_activations),
    R(mem_activations_full),
    R(mem_activations_recompute),
    R(mem_total),
    R(amdahl),
    R(efficiency),
    R(solve_hours),
    R(mtti),
    R(mtti_effective),
    R(rho),
    R(ckpt_bytes),
    R(ckpt_write_s),
    R(ckpt_interval),
    R(wall_hours),
    R(dilation),
    R(ettr),
    R(interruptions),
    R(device_hours),
    R(cost),
    R(wall_days),
};

#undef R

static double result_value(const struct fg_plan_result *r, size_t i)
{
    double v;
    memcpy(&v, (const char *)r + result_fields[i].offset, sizeof v);
    return v;
}

static void json_outputs(const struct fg_plan_result *r, const char *indent)
{
    for (size_t i = 0; i < sizeof result_fields / sizeof result_fields[0]; i++) {
        printf("%s\"%s\": ", indent, result_fields[i].name);
        json_num(stdout, result_value(r, i));
        printf(",\n");
    }
    printf("%s\"fits\": %s\n", indent, r->fits ? "true" : "false");
}

static void print_json_open(const struct plan_cli *c, struct fg_plan_params *p)
{
    printf("{\n  \"preset\": \"%s\",\n  \"inputs\": {\n",
           c->preset == FG_PLAN_PRESET_PAPER ? "paper" : "realistic");
    for (size_t i = 0; i < c->n_fields; i++) {
        const struct fg_plan_field *f = &c->fields[i];
        printf("    \"%s\": {\"value\": ", f->name);
        json_num(stdout, *fg_plan_field_ptr(p, f));
        printf(", \"unit\": \"%s\", \"tag\": \"%c\"},\n", f->unit, tag_of(c, i));
    }
    printf("    \"amdahl\": {\"value\": \"%s\", \"unit\": \"\", \"tag\": \"%c\"},\n",
           amdahl_name(p->amdahl), choice_tag(c->amdahl_set, 'A'));
    printf("    \"ckpt_mode\": {\"value\": \"%s\", \"unit\": \"\", \"tag\": \"%c\"},\n",
           ckpt_name(p->ckpt_mode), choice_tag(c->ckpt_set, 'A'));
    printf("    \"interval\": {\"value\": \"%s\", \"unit\": \"\", \"tag\": \"%c\"}\n  },\n",
           interval_name(p->interval), choice_tag(c->interval_set, 'R'));
}

static void print_json(const struct plan_cli *c, struct fg_plan_params *p,
                       const struct fg_plan_result *r, const struct fg_plan_result *sc,
                       enum point sc_pt, const char *extra)
{
    print_json_open(c, p);
    printf("  \"outputs\": {\n");
    json_outputs(r, "    ");
    printf("  }");
    if (c->compare) {
        printf(",\n  \"supercomputing\": ");
        if (sc_pt == PT_OK) {
            printf("{\n    \"wall_days_sc\": ");
            json_num(stdout, sc->wall_days);
            printf(",\n    \"dilation_sc\": ");
            json_num(stdout, sc->dilation);
            printf(",\n    \"cost_sc\": ");
            json_num(stdout, sc->cost);
            printf(",\n    \"ratio\": ");
            json_num(stdout, r->wall_hours / sc->wall_hours);
            printf("\n  }");
        } else {
            printf("null");
        }
    }
    if (extra)
        printf(",\n%s", extra);
    printf("\n}\n");
}

/* ---- sweeps ------------------------------------------------------------------------------ */

/* Fields the library wants whole: sweep points are rounded to the nearest integer. */
static int whole_field(const char *name)
{
    return !strcmp(name, "devices") || !strcmp(name, "devices_per_host") ||
           !strcmp(name, "zero_stage") || !strcmp(name, "k_tol") || !strcmp(name, "recompute");
}

struct sweep {
    const struct fg_plan_field *field;
    double *x;
    size_t n;
    int geometric;
};

/* NAME=A..B[:STEPS|xFACTOR] or NAME=V1,V2,... or NAME=V */
static int parse_sweep(const char *spec, struct sweep *s)
{
    const char *eq = strchr(spec, '=');
    char name[64];
    memset(s, 0, sizeof *s);
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof name)
        return msg_exit(EXIT_USAGE,
                        "invalid --sweep '%s': give NAME=A..B[:STEPS|xFACTOR] or NAME=V1,V2,... "
                        "e.g. devices=16384..100000:8",
                        spec);
    memcpy(name, spec, (size_t)(eq - spec));
    name[eq - spec] = '\0';
    s->field = lookup_field(name);
    if (!s->field)
        return msg_exit(EXIT_USAGE,
                        "invalid --sweep '%s': '%s' is not a numeric input (see frugal plan "
                        "--help for the list)",
                        spec, name);
    const char *body = eq + 1;
    char buf[8192];
    if (!*body)
        return msg_exit(EXIT_USAGE, "invalid --sweep '%s': give values after '='", spec);
    if (strlen(body) >= sizeof buf)
        return msg_exit(EXIT_USAGE,
                        "invalid --sweep %s=...: the values are longer than %zu characters; use "
                        "a range A..B:STEPS",
                        name, sizeof buf - 1);
    snprintf(buf, sizeof buf, "%s", body);

    double a, b, v;
    int rc;
    const char *dots = strstr(buf, "..");
    if (!dots) {
        /* a list (or one value) */
        size_t cap = 1;
        for (const char *q = buf; *q; q++)
            cap += *q == ',';
        s->x = malloc(cap * sizeof *s->x);
        if (!s->x)
            return msg_exit(EXIT_FAIL, "out of memory");
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            if ((rc = parse_number(tok, &v)) != 0 || v < 0) {
                free(s->x);
                s->x = NULL;
                return msg_exit(EXIT_USAGE,
                                "invalid --sweep '%s': '%s' is not a %s number (plain, 1.8e12 "
                                "or 1.8T)",
                                spec, tok, rc == 0 ? "non-negative" : "finite");
            }
            s->x[s->n++] = v;
        }
        if (s->n == 0 || s->n != cap) {
            free(s->x);
            s->x = NULL;
            return msg_exit(EXIT_USAGE, "invalid --sweep '%s': empty value in the list", spec);
        }
    } else {
        char *hi = buf + (dots - buf) + 2;
        buf[dots - buf] = '\0';
        char *sep = strpbrk(hi, ":x");
        char kind = sep ? *sep : ':';
        if (sep)
            *sep = '\0';
        if ((rc = parse_number(buf, &a)) != 0 || (rc = parse_number(hi, &b)) != 0)
            return msg_exit(EXIT_USAGE,
                            "invalid --sweep '%s': the range A..B needs two finite numbers", spec);
        if (a < 0 || b < a)
            return msg_exit(EXIT_USAGE,
                            "invalid --sweep '%s': the range needs 0 <= A <= B (got %g..%g)", spec,
                            a, b);
        double steps = DEFAULT_STEPS, factor = 0;
        if (sep && kind == ':') {
            if (parse_number(sep + 1, &steps) || steps != floor(steps) || steps < 1 ||
                steps > MAX_POINTS || (steps < 2 && b > a))
                return msg_exit(EXIT_USAGE,
                                "invalid --sweep '%s': STEPS after ':' is a whole number of "
                                "points, 2 to %d",
                                spec, MAX_POINTS);
        } else if (sep) {
            if (parse_number(sep + 1, &factor) || !(factor > 1))
                return msg_exit(EXIT_USAGE,
                                "invalid --sweep '%s': FACTOR after 'x' must be a number > 1 "
                                "(x2 doubles)",
                                spec);
            if (!(a > 0))
                return msg_exit(EXIT_USAGE,
                                "invalid --sweep '%s': a geometric range (xFACTOR) starts above 0",
                                spec);
            s->geometric = 1;
            double count = floor(log(b / a) / log(factor) + 1e-9) + 1;
            if (count > MAX_POINTS)
                return msg_exit(EXIT_USAGE, "invalid --sweep '%s': more than %d points", spec,
                                MAX_POINTS);
            steps = count;
        }
        if (a == b)
            steps = 1;
        s->x = malloc((size_t)steps * sizeof *s->x);
        if (!s->x)
            return msg_exit(EXIT_FAIL, "out of memory");
        for (size_t i = 0; i < (size_t)steps; i++) {
            if (s->geometric)
                s->x[i] = a * pow(factor, (double)i);
            else
                s->x[i] = steps > 1 ? a + (b - a) * (double)i / (steps - 1.0) : a;
        }
        if (!s->geometric && steps > 1)
            s->x[(size_t)steps - 1] = b; /* exactly B, no rounding drift */
        s->n = (size_t)steps;
    }
    if (whole_field(s->field->name))
        for (size_t i = 0; i < s->n; i++)
            s->x[i] = floor(s->x[i] + 0.5);
    return 0;
}

struct row {
    double x;
    enum point pt, sc_pt;
    struct fg_plan_result r, sc;
};

static const char *const csv_columns[] = { "train_flops", "replicas",     "solve_hours",
                                           "mtti",        "ckpt_write_s", "ckpt_interval",
                                           "wall_hours",  "dilation",     "ettr",
                                           "cost",        "wall_days",    "fits" };

static double csv_value(const struct fg_plan_result *r, size_t col)
{
    const double v[] = { r->train_flops,  r->replicas,      r->solve_hours, r->mtti,
                         r->ckpt_write_s, r->ckpt_interval, r->wall_hours,  r->dilation,
                         r->ettr,         r->cost,          r->wall_days,   (double)r->fits };
    return v[col];
}

static int write_csv(const char *path, const struct sweep *s, const struct row *rows, int compare)
{
    struct fg_atomic_file f;
    char err[8600], line[2048];
    if (fg_atomic_open(&f, path, err, sizeof err) != FG_OK)
        return msg_exit(EXIT_FAIL, "--csv %s: %s", path, err);
    size_t o = (size_t)snprintf(line, sizeof line, "%s", s->field->name);
    for (size_t k = 0; k < sizeof csv_columns / sizeof csv_columns[0]; k++)
        o += (size_t)snprintf(line + o, sizeof line - o, ",%s", csv_columns[k]);
    if (compare)
        o += (size_t)snprintf(line + o, sizeof line - o, ",wall_days_sc,dilation_sc,ratio");
    o += (size_t)snprintf(line + o, sizeof line - o, "\n");
    fg_status st = fg_atomic_write(&f, line, o, err, sizeof err);
    for (size_t i = 0; st == FG_OK && i < s->n; i++) {
        const struct row *w = &rows[i];
        o = (size_t)snprintf(line, sizeof line, "%.17g", w->x);
        size_t ncol = sizeof csv_columns / sizeof csv_columns[0];
        for (size_t k = 0; k < ncol; k++) {
            if (k == ncol - 1)
                o += (size_t)snprintf(line + o, sizeof line - o, ",%d", w->r.fits);
            else if (w->pt == PT_OK)
                o += (size_t)snprintf(line + o, sizeof line - o, ",%.9g", csv_value(&w->r, k));
            else
                o += (size_t)snprintf(line + o, sizeof line - o, ",");
        }
        if (compare) {
            if (w->pt == PT_OK && w->sc_pt == PT_OK)
                o += (size_t)snprintf(line + o, sizeof line - o, ",%.9g,%.9g,%.9g", w->sc.wall_days,
                                      w->sc.dilation, w->r.wall_hours / w->sc.wall_hours);
            else
                o += (size_t)snprintf(line + o, sizeof line - o, ",,,");
        }
        o += (size_t)snprintf(line + o, sizeof line - o, "\n");
        st = fg_atomic_write(&f, line, o, err, sizeof err);
    }
    if (st != FG_OK) {
        fg_atomic_abort(&f);
        return msg_exit(EXIT_FAIL, "--csv %s: %s", path, err);
    }
    if (fg_atomic_commit(&f, err, sizeof err) != FG_OK)
        return msg_exit(EXIT_FAIL, "--csv %s: %s", path, err);
    return 0;
}

/* gnuplot on PATH? */
static int have_gnuplot(void)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return 0;
    char dir[4096], exe[4200];
    for (const char *p = path;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        if (len < sizeof dir) {
            memcpy(dir, p, len);
            dir[len] = '\0';
            snprintf(exe, sizeof exe, "%s/gnuplot", len ? dir : ".");
            struct stat st;
            if (stat(exe, &st) == 0 && S_ISREG(st.st_mode) && access(exe, X_OK) == 0)
                return 1;
        }
        if (!colon)
            return 0;
        p = colon + 1;
    }
}

/* A gnuplot single-quoted string: only ' needs escaping, as ''. */
static void gp_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* Draws the PNG through gnuplot into tmp_png ("<png>.tmp.<pid>"); the caller renames it over
 * the PNG once the CSV is written too, so that a failure leaves neither file half-done. */
static int render_plot(const char *png, const char *tmp_png, const struct plan_cli *c,
                       const struct sweep *s, const struct row *rows,
                       const struct fg_plan_params *base)
{
    char script[4200], first[512] = "";
    const char *tmpdir = getenv("TMPDIR");
    snprintf(script, sizeof script, "%s/frugal_plan_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemp(script);
    if (fd < 0)
        return msg_exit(EXIT_FAIL, "--plot: cannot create a gnuplot script in %s: %s",
                        tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        unlink(script);
        return msg_exit(EXIT_FAIL, "--plot: fdopen failed: %s", strerror(errno));
    }
    double lo = HUGE_VAL, hi = 0;
    size_t valid = 0;
    /* in increasing x (a list may come in any order), so that the lines do not zigzag */
    size_t *order = malloc(s->n * sizeof *order);
    if (!order) {
        fclose(f);
        unlink(script);
        return msg_exit(EXIT_FAIL, "out of memory");
    }
    for (size_t i = 0; i < s->n; i++) {
        size_t j = i;
        for (; j > 0 && rows[order[j - 1]].x > rows[i].x; j--)
            order[j] = order[j - 1];
        order[j] = i;
    }
    fprintf(f, "$d << EOD\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct row *w = &rows[order[i]];
        if (w->pt != PT_OK)
            continue;
        int sc_ok = c->compare && w->sc_pt == PT_OK;
        fprintf(f, "%.9g %.9g %.9g %.9g\n", w->x, w->r.wall_days, w->r.solve_hours / 24.0,
                sc_ok ? w->sc.wall_days : (double)NAN);
        double ys[3] = { w->r.wall_days, w->r.solve_hours / 24.0, sc_ok ? w->sc.wall_days : 0 };
        for (int k = 0; k < 3; k++)
            if (ys[k] > 0) {
                lo = ys[k] < lo ? ys[k] : lo;
                hi = ys[k] > hi ? ys[k] : hi;
            }
        valid++;
    }
    free(order);
    fprintf(f, "EOD\n");
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo size 1000,650 enhanced font 'sans,11'\n"
               "} else {\n"
               "  set terminal png size 1000,650\n"
               "}\n");
    fprintf(f, "set output ");
    gp_quoted(f, tmp_png);
    char unit[40] = "";
    if (s->field->unit[0])
        snprintf(unit, sizeof unit, " [%s]", s->field->unit);
    fprintf(
        f, "\nset title 'frugal plan: days to train vs %s (preset %s, params %.3g)' noenhanced\n",
        s->field->name, c->preset == FG_PLAN_PRESET_PAPER ? "paper" : "realistic", base->params);
    fprintf(f, "set xlabel '%s%s' noenhanced\nset ylabel 'days'\nset grid\nset key top right\n",
            s->field->name, unit);
    if (s->geometric)
        fprintf(f, "set logscale x 2\n");
    if (hi > 0 && lo > 0 && hi / lo > 10)
        fprintf(f, "set logscale y\n");
    fprintf(f, "set datafile missing 'nan'\n");
    fprintf(f, "plot $d using 1:2 with linespoints lw 2 title 'wall time with failures', \\\n"
               "     $d using 1:3 with lines dt 2 lw 2 title 'failure-free solve time'");
    if (c->compare)
        fprintf(f, ", \\\n     $d using 1:4 with linespoints lw 2 title "
                   "'supercomputing bundle (2 TB/s, 50%% checkpoint, K-of-N 5)'");
    fprintf(f, "\n");
    if (fclose(f) != 0) {
        unlink(script);
        return msg_exit(EXIT_FAIL, "--plot: writing the gnuplot script failed");
    }
    if (valid == 0) {
        unlink(script);
        return msg_exit(EXIT_FAIL, "--plot %s: no sweep point has a plan to plot", png);
    }

    int pipefd[2];
    if (pipe(pipefd) != 0) {
        unlink(script);
        return msg_exit(EXIT_FAIL, "--plot: pipe failed: %s", strerror(errno));
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        unlink(script);
        return msg_exit(EXIT_FAIL, "--plot: fork failed: %s", strerror(errno));
    }
    if (pid == 0) {
        close(pipefd[0]);
        dup2(pipefd[1], 1);
        dup2(pipefd[1], 2);
        close(pipefd[1]);
        char *args[] = { (char *)"gnuplot", script, NULL };
        execvp("gnuplot", args);
        _exit(127);
    }
    close(pipefd[1]);
    /* keep the first line gnuplot says, for the error message */
    char chunk[512];
    size_t have = 0;
    ssize_t got;
    while ((got = read(pipefd[0], chunk, sizeof chunk)) > 0 || (got < 0 && errno == EINTR)) {
        for (ssize_t k = 0; k < got && have + 1 < sizeof first; k++)
            first[have++] = chunk[k];
    }
    first[have] = '\0';
    close(pipefd[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    unlink(script);
    struct stat st;
    int ok =
        WIFEXITED(status) && WEXITSTATUS(status) == 0 && stat(tmp_png, &st) == 0 && st.st_size > 0;
    if (!ok) {
        unlink(tmp_png);
        /* gnuplot's message, on one line, runs of blanks squeezed */
        size_t o = 0;
        for (size_t q = 0; first[q]; q++) {
            char ch = first[q] == '\n' || first[q] == '\r' || first[q] == '\t' ? ' ' : first[q];
            if (ch == ' ' && (o == 0 || first[o - 1] == ' '))
                continue;
            first[o++] = ch;
        }
        while (o > 0 && first[o - 1] == ' ')
            o--;
        first[o] = '\0';
        char *msg = first;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            return msg_exit(EXIT_FAIL,
                            "--plot needs gnuplot, which could not be run: install the Debian "
                            "package gnuplot-nox (apt-get install gnuplot-nox)");
        return msg_exit(EXIT_FAIL, "--plot %s: gnuplot failed: %.200s", png,
                        *msg ? msg : "(no message)");
    }
    return 0;
}

static int run_sweep(const struct plan_cli *c, const struct fg_plan_params *base)
{
    struct sweep s;
    int rc = parse_sweep(c->sweep, &s);
    if (rc)
        return rc;
    size_t k = field_index(c, s.field);
    if (c->set[k]) {
        free(s.x);
        return msg_exit(EXIT_USAGE, "%s is given twice: by %s and by --sweep %s; drop one",
                        s.field->name, c->given_as[k], c->sweep);
    }
    if (!strcmp(s.field->name, "tokens") || !strcmp(s.field->name, "tokens_per_param")) {
        const char *other = !strcmp(s.field->name, "tokens") ? "tokens_per_param" : "tokens";
        size_t j = field_index(c, fg_plan_field_find(other));
        if (c->set[j]) {
            free(s.x);
            return msg_exit(EXIT_USAGE,
                            "--sweep %s and %s contradict each other: tokens fixes T, "
                            "tokens_per_param derives it; give one",
                            c->sweep, c->given_as[j]);
        }
    }
    struct row *rows = calloc(s.n, sizeof *rows);
    if (!rows) {
        free(s.x);
        return msg_exit(EXIT_FAIL, "out of memory");
    }
    char err[512];
    size_t no_plan = 0;
    for (size_t i = 0; i < s.n; i++) {
        struct fg_plan_params p = *base;
        *fg_plan_field_ptr(&p, s.field) = s.x[i];
        rows[i].x = s.x[i];
        rows[i].pt = plan_point(&p, &rows[i].r, err, sizeof err);
        if (rows[i].pt == PT_ERR) {
            char prefix[128];
            snprintf(prefix, sizeof prefix, "--sweep at %s = %g: ", s.field->name, s.x[i]);
            print_lib_error(prefix, err);
            free(rows);
            free(s.x);
            return EXIT_USAGE;
        }
        rows[i].sc_pt = PT_ERR;
        if (c->compare) {
            struct fg_plan_params q = p;
            apply_supercomputing(&q);
            rows[i].sc_pt = plan_point(&q, &rows[i].sc, err, sizeof err);
            if (rows[i].sc_pt == PT_ERR) {
                print_lib_error("--compare supercomputing: ", err);
                free(rows);
                free(s.x);
                return EXIT_USAGE;
            }
        }
        no_plan += rows[i].pt != PT_OK || (c->compare && rows[i].sc_pt != PT_OK);
    }
    const char *csv = c->csv ? c->csv : "plan_sweep.csv";
    char tmp_png[4200] = "";
    rc = 0;
    if (c->plot) {
        snprintf(tmp_png, sizeof tmp_png, "%s.tmp.%ld", c->plot, (long)getpid());
        rc = render_plot(c->plot, tmp_png, c, &s, rows, base);
    }
    if (!rc) {
        rc = write_csv(csv, &s, rows, c->compare != NULL);
        if (rc && c->plot)
            unlink(tmp_png);
    }
    if (!rc && c->plot && rename(tmp_png, c->plot) != 0) {
        int e = errno;
        unlink(tmp_png);
        rc = msg_exit(EXIT_FAIL, "--plot: renaming %s to %s failed: %s (%s was written)", tmp_png,
                      c->plot, strerror(e), csv);
    }
    if (rc) {
        free(rows);
        free(s.x);
        return rc;
    }

    char a[48];
    if (c->json) {
        printf("{\n  \"sweep\": \"%s\",\n  \"csv\": ", s.field->name);
        json_str(stdout, csv);
        printf(",\n  \"plot\": ");
        if (c->plot)
            json_str(stdout, c->plot);
        else
            printf("null");
        printf(",\n  \"rows\": [\n");
        for (size_t i = 0; i < s.n; i++) {
            const struct row *w = &rows[i];
            printf("    {\"%s\": ", s.field->name);
            json_num(stdout, w->x);
            if (w->pt == PT_OK) {
                printf(", \"fits\": true");
                for (size_t q = 0; q < sizeof result_fields / sizeof result_fields[0]; q++) {
                    printf(", \"%s\": ", result_fields[q].name);
                    json_num(stdout, result_value(&w->r, q));
                }
                if (c->compare && w->sc_pt == PT_OK) {
                    printf(", \"wall_days_sc\": ");
                    json_num(stdout, w->sc.wall_days);
                    printf(", \"dilation_sc\": ");
                    json_num(stdout, w->sc.dilation);
                    printf(", \"ratio\": ");
                    json_num(stdout, w->r.wall_hours / w->sc.wall_hours);
                }
            } else {
                printf(", \"fits\": %s, \"plan\": null", w->r.fits ? "true" : "false");
            }
            printf("}%s\n", i + 1 < s.n ? "," : "");
        }
        printf("  ]\n}\n");
    } else {
        printf("sweep of %s over %zu point%s (preset %s); wrote %s%s%s\n\n", s.field->name, s.n,
               s.n == 1 ? "" : "s", c->preset == FG_PLAN_PRESET_PAPER ? "paper" : "realistic", csv,
               c->plot ? " and " : "", c->plot ? c->plot : "");
        printf("%14s %10s %10s %10s %18s", s.field->name, "solve_d", "wall_d", "dilation", "cost");
        if (c->compare)
            printf(" %10s %11s %8s", "wall_d_sc", "dilation_sc", "ratio");
        printf("\n");
        for (size_t i = 0; i < s.n; i++) {
            const struct row *w = &rows[i];
            printf("%14.6g ", w->x);
            if (w->pt != PT_OK) {
                printf("no plan: %s\n", w->pt == PT_NOFIT  ? "the model does not fit"
                                        : w->pt == PT_KTOL ? "k_tol >= replicas"
                                                           : "no finite wall time");
                continue;
            }
            printf("%10.2f %10.2f %10.4f %18s", w->r.solve_hours / 24.0, w->r.wall_days,
                   w->r.dilation, fmt_money(a, sizeof a, w->r.cost));
            if (c->compare && w->sc_pt == PT_OK)
                printf(" %10.2f %11.5f %8.4f", w->sc.wall_days, w->sc.dilation,
                       w->r.wall_hours / w->sc.wall_hours);
            else if (c->compare)
                printf(" %10s", w->sc_pt == PT_KTOL ? "no plan (k_tol 5 >= replicas)"
                                                    : "no plan (no finite wall time)");
            printf("\n");
        }
        if (no_plan)
            printf("\n%zu point%s without a plan: %s empty in the CSV\n", no_plan,
                   no_plan == 1 ? "" : "s", no_plan == 1 ? "its row is" : "their rows are");
    }
    free(rows);
    free(s.x);
    return EXIT_OK;
}

/* ---- search ------------------------------------------------------------------------------ */

struct cand {
    double devices, wall_hours, wall_days, cost;
};

/* a before b? minimize cost: cost, then time, then fewer devices; time: time, cost, devices */
static int better(const struct cand *a, const struct cand *b, int by_cost)
{
    double a1 = by_cost ? a->cost : a->wall_hours, b1 = by_cost ? b->cost : b->wall_hours;
    double a2 = by_cost ? a->wall_hours : a->cost, b2 = by_cost ? b->wall_hours : b->cost;
    if (a1 != b1)
        return a1 < b1;
    if (a2 != b2)
        return a2 < b2;
    return a->devices < b->devices;
}

static int run_minimize(const struct plan_cli *c, const struct fg_plan_params *base)
{
    int by_cost = !strcmp(c->minimize, "cost");
    double max_dev = c->max_devices_set ? c->max_devices : DEFAULT_MAXDEV;
    struct fg_plan_params p = *base;
    struct fg_plan_result r;
    char err[512], a[48], b[48];
    p.devices = max_dev;
    enum point pt = plan_point(&p, &r, err, sizeof err);
    if (pt == PT_ERR) {
        print_lib_error("", err);
        return EXIT_USAGE;
    }
    if (pt == PT_NOFIT)
        return report_nofit(&p, &r, "--max-devices");
    /* the grid: multiples of one replica, from one replica up to --max-devices */
    double G = r.replica_devices;
    double n_grid = floor(max_dev / G);
    if (n_grid > MAX_GRID)
        return msg_exit(EXIT_USAGE,
                        "--max-devices %.0f over replicas of %.0f devices makes %.0f sizes to "
                        "scan; at most %.0f: lower --max-devices",
                        max_dev, G, n_grid, MAX_GRID);
    struct cand best = { 0, 0, 0, 0 }, second = best, fastest = best, cheapest = best;
    size_t feasible = 0, planned = 0;
    for (double k = 1; k <= n_grid; k++) {
        p.devices = k * G;
        pt = plan_point(&p, &r, err, sizeof err);
        if (pt == PT_ERR) {
            char prefix[96];
            snprintf(prefix, sizeof prefix, "at --devices %.0f: ", p.devices);
            print_lib_error(prefix, err);
            return EXIT_USAGE;
        }
        if (pt != PT_OK) /* no replica fits, k_tol >= replicas, or no finite time */
            continue;
        struct cand x = { p.devices, r.wall_hours, r.wall_days, r.cost };
        if (planned == 0 || better(&x, &fastest, 0))
            fastest = x;
        if (planned == 0 || better(&x, &cheapest, 1))
            cheapest = x;
        planned++;
        if (c->max_days_set && !(x.wall_days <= c->max_days))
            continue;
        if (c->max_dollars_set && !(x.cost <= c->max_dollars))
            continue;
        if (feasible == 0 || better(&x, &best, by_cost)) {
            second = best;
            best = x;
        } else if (feasible == 1 || better(&x, &second, by_cost)) {
            second = x;
        }
        feasible++;
    }
    if (planned == 0)
        return msg_exit(EXIT_FAIL,
                        "no cluster size from %.0f to --max-devices %.0f (step %.0f) has a plan "
                        "with a finite wall time (k_tol %g): raise --max-devices or lower "
                        "--k-tol",
                        G, max_dev, G, base->k_tol);
    if (feasible == 0) {
        char lim[160] = "";
        if (c->max_days_set && c->max_dollars_set)
            snprintf(lim, sizeof lim, "--max-days %g and --max-dollars %s", c->max_days,
                     fmt_money(a, sizeof a, c->max_dollars));
        else if (c->max_days_set)
            snprintf(lim, sizeof lim, "--max-days %g", c->max_days);
        else
            snprintf(lim, sizeof lim, "--max-dollars %s", fmt_money(a, sizeof a, c->max_dollars));
        return msg_exit(EXIT_FAIL,
                        "no cluster size from %.0f to %.0f devices (step %.0f) meets %s: the "
                        "fastest takes %.1f days (%.0f devices), the cheapest costs %s (%.0f "
                        "devices); relax a limit or raise --max-devices",
                        G, n_grid * G, G, lim, fastest.wall_days, fastest.devices,
                        fmt_money(b, sizeof b, cheapest.cost), cheapest.devices);
    }
    p.devices = best.devices;
    pt = plan_point(&p, &r, err, sizeof err);
    struct fg_plan_result sc;
    memset(&sc, 0, sizeof sc);
    if (c->json) {
        char extra[1024];
        int o = snprintf(extra, sizeof extra,
                         "  \"search\": {\n    \"minimize\": \"%s\",\n    \"step\": %.17g,\n"
                         "    \"max_devices\": %.17g,\n    \"grid_points\": %.17g,\n"
                         "    \"feasible\": %zu,\n    \"runner_up\": ",
                         c->minimize, G, max_dev, n_grid, feasible);
        if (feasible > 1)
            snprintf(extra + o, sizeof extra - (size_t)o,
                     "{\"devices\": %.17g, \"wall_days\": %.17g, \"cost\": %.17g}\n  }",
                     second.devices, second.wall_days, second.cost);
        else
            snprintf(extra + o, sizeof extra - (size_t)o, "null\n  }");
        print_json(c, &p, &r, &sc, PT_ERR, extra);
        return EXIT_OK;
    }
    printf("search: minimum %s over devices = %.0f, %.0f, ..., %.0f (%.0f sizes, %zu within the "
           "limits)\n",
           c->minimize, G, 2 * G, n_grid * G, n_grid, feasible);
    printf("best: %.0f devices, %.2f days, %s\n\n", best.devices, best.wall_days,
           fmt_money(a, sizeof a, best.cost));
    print_text(c, &p, &r, &sc, PT_ERR);
    if (feasible > 1)
        printf("\nrunner-up: %.0f devices, %.2f days, %s\n", second.devices, second.wall_days,
               fmt_money(a, sizeof a, second.cost));
    else
        printf("\nrunner-up: none (one cluster size meets the limits)\n");
    return EXIT_OK;
}

/* ---- help -------------------------------------------------------------------------------- */

static void plan_help(void)
{
    struct fg_plan_params dp, dr;
    fg_plan_defaults(&dp, FG_PLAN_PRESET_PAPER);
    fg_plan_defaults(&dr, FG_PLAN_PRESET_REALISTIC);
    printf(
        "usage: frugal plan [--preset paper|realistic] --params N [--NAME VALUE ...] [--json]\n"
        "       frugal plan ... --sweep NAME=A..B[:STEPS|xFACTOR] [--csv FILE] [--plot FILE.png]\n"
        "                       [--compare supercomputing]\n"
        "       frugal plan ... --minimize cost|time [--max-days D] [--max-dollars X]\n"
        "                       [--max-devices N]\n"
        "\n"
        "What a training run costs before it starts. In order: training FLOPs C = c_f x active\n"
        "parameters x tokens, ideal device-hours and dollars; the replica size (devices per\n"
        "model copy) and memory per device under ZeRO 0-3 with activations; the failure-free\n"
        "time with Amdahl's sequential fraction; the mean time to interrupt of the cluster, the\n"
        "checkpoint size, its write time and the Young/Daly interval; Daly's expected wall time\n"
        "with failures, with K-of-N tolerance of data-parallel group failures; and the bill\n"
        "(devices x wall time x price). Formulas and sources: docs/planner.md; the paper preset\n"
        "reconstructs Faraboschi et al., arXiv:2404.08811.\n"
        "\n"
        "presets (--preset, default paper; neither sets the model size: give --params):\n"
        "  paper      150 TFLOP/s sustained per device, MTBF 950,000 h per device and\n"
        "             1,500,000 h per host CPU, Amdahl s = 0.01 over replicas, recovery 2 h,\n"
        "             500 GB/s checkpoint filesystem, checkpoints sized from device memory\n"
        "  realistic  H100 989 TFLOP/s x MFU 0.40, MTBF 50,000 h all-cause, no Amdahl loss,\n"
        "             recovery 0.25 h, 2 TB/s, 14 B/param checkpoints, 10%% memory headroom\n"
        "Every plan prints each input with a provenance tag: P stated by the paper, R a standard\n"
        "formula or public figure, A an assumption of ours, U set by you.\n"
        "\n"
        "inputs: --NAME VALUE (dashes or underscores; 1.8e12, 1.8T, 500B, 50k, 2M all work):\n");
    size_t n;
    const struct fg_plan_field *fs = fg_plan_fields(&n);
    for (size_t i = 0; i < n; i++) {
        char flag[80], left[100], u[32] = "";
        flag_of(fs[i].name, flag, sizeof flag);
        snprintf(left, sizeof left, "%s X", flag);
        if (fs[i].unit[0])
            snprintf(u, sizeof u, " [%s]", fs[i].unit);
        printf("  %-26s %s%s\n", left, fs[i].help, u);
        printf("  %-26s   paper %g (%c), realistic %g (%c)\n", "", *fg_plan_field_ptr(&dp, &fs[i]),
               fs[i].tag_paper, *fg_plan_field_ptr(&dr, &fs[i]), fs[i].tag_realistic);
    }
    printf(
        "  --gpus X                   same as --devices\n"
        "  --amdahl none|device|host|replica\n"
        "                             what Amdahl's processors are: paper replica, realistic none\n"
        "  --ckpt-mode device_memory|model_state\n"
        "                             checkpoint size: ckpt-factor x all device memory (paper),\n"
        "                             or params x ckpt-bytes-per-param (realistic)\n"
        "  --interval daly|young      checkpoint interval rule [daly]\n"
        "Give --tokens or --tokens-per-param, not both. A model that does not fit on --devices\n"
        "is an error that says how many devices one replica needs.\n"
        "\n"
        "a frugal model (FLOPs and memory from the trainer's own sizing functions):\n"
        "  --model L=4,C=128,NH=4,V=256,T=128,B=16,steps=2100[,maxT=N]\n"
        "                             layers, width, heads, vocabulary, sequence, batch, steps\n"
        "                             (as frugal train's flags); sets params, tokens,\n"
        "                             train-flops, fp32 AdamW state (16 B/param), extra-bytes,\n"
        "                             12 B/param checkpoints and devices 1\n"
        "\n");
    printf(
        "optimizer storage (sets state-bytes, weight-bytes, grad-bytes, ckpt-bytes-per-param):\n"
        "  --optimizer NAME           mixed-adam (16 B/param: bf16 w+g, fp32 master+m+v),\n"
        "                             adamw-fp32 (16: frugal train today), sgdm-fp32 (12),\n"
        "                             flash-adamw (7.125: 24-bit master, 8-bit moments),\n"
        "                             flash-adamw-release (5.125: no stored gradients),\n"
        "                             flash-lion (6.0625), flash-lion-release (4.0625)\n"
        "\n"
        "projection (the paper's Table 1 scenarios S1-S3 over years, alone):\n"
        "  --project Y0..Y1           parameters, experts, FLOPs and dollars (both calibrated\n"
        "                             FLOP-per-dollar constants) per year; docs/planner.md\n"
        "\n"
        "output:\n"
        "  (default)                  inputs, then outputs: compute, memory per device (fits),\n"
        "                             time and failures, cost\n"
        "  --json                     one JSON object: inputs (value, unit, tag), outputs by name\n"
        "\n"
        "sweep (one input, the others fixed; writes a CSV, optionally a PNG):\n"
        "  --sweep NAME=A..B:STEPS    STEPS points evenly spaced from A to B (default 8)\n"
        "  --sweep NAME=A..BxFACTOR   A, A x FACTOR, A x FACTOR^2 ... up to B\n"
        "  --sweep NAME=V1,V2,...     exactly these values\n"
        "  --csv FILE                 where the CSV goes [plan_sweep.csv]: the swept input, then\n"
        "                             train_flops, replicas, solve_hours, mtti, ckpt_write_s,\n"
        "                             ckpt_interval, wall_hours, dilation, ettr, cost, wall_days,\n"
        "                             fits (empty outputs where there is no plan)\n"
        "  --plot FILE.png            days to train (with and without failures) vs the input,\n"
        "                             drawn by gnuplot (Debian package gnuplot-nox); by default\n"
        "                             next to the CSV (plan_sweep.png) when gnuplot is installed\n"
        "  --no-plot                  the CSV only\n"
        "  --compare supercomputing   also the spec's Figure-7 bundle (fs-bandwidth 2e12,\n"
        "                             ckpt-factor 0.5, k-tol 5): columns wall_days_sc,\n"
        "                             dilation_sc and ratio = wall_hours / wall_hours_sc\n"
        "Integer inputs (devices, devices-per-host, zero-stage, k-tol, recompute) are rounded.\n"
        "\n"
        "search (the cluster size):\n"
        "  --minimize cost|time       scan devices = G, 2G, 3G ... (G = one replica at\n"
        "                             --max-devices) and print the best plan and the runner-up\n"
        "  --max-devices N            the largest cluster to consider [200000]\n"
        "  --max-days D               only plans whose wall time is at most D days\n"
        "  --max-dollars X            only plans whose billed cost is at most X dollars\n"
        "\n"
        "examples:\n"
        "  frugal plan --preset paper --params 1.8e12 --devices 50000\n"
        "  frugal plan --preset paper --params 1.8e12 --sweep devices=16384..100000:8 \\\n"
        "              --compare supercomputing --csv fig7.csv --plot fig7.png\n"
        "  frugal plan --preset realistic --params 405B --tokens 15.6T --minimize cost "
        "--max-days 90\n"
        "  frugal plan --preset realistic --model L=4,C=128,NH=4,V=256,T=128,B=16,steps=2100 \\\n"
        "              --peak-flops 428e9 --mfu 0.36 --device-memory 24e9 --price 0.10\n"
        "  frugal plan --project 2024..2030\n"
        "\n"
        "exit codes: 0 ok, 1 failure (no plan meets the limits, a file or gnuplot failed),\n"
        "2 usage error (bad flag or value, inconsistent inputs, a model that does not fit)\n");
}

/* ---- the command ------------------------------------------------------------------------- */

/* ---- a frugal model: --model L=4,C=128,NH=4,V=256,T=128,B=16,steps=2100 ---------------- */

static int apply_model(struct plan_cli *c)
{
    long L = 0, C = 0, NH = 0, V = 0, T = 0, B = 0, maxT = 0;
    double steps = 0;
    char buf[256];
    if (strlen(c->model) >= sizeof buf)
        return msg_exit(EXIT_USAGE, "--model: the description is too long");
    snprintf(buf, sizeof buf, "%s", c->model);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        double v;
        if (!eq || parse_number(eq + 1, &v) || !(v > 0) || v != floor(v) || v > 1e15)
            return msg_exit(EXIT_USAGE,
                            "--model: '%s' is not KEY=POSITIVE_WHOLE_NUMBER (keys L, C, NH, V, T, "
                            "B, steps, maxT)",
                            tok);
        *eq = '\0';
        if (!strcmp(tok, "L"))
            L = (long)v;
        else if (!strcmp(tok, "C"))
            C = (long)v;
        else if (!strcmp(tok, "NH"))
            NH = (long)v;
        else if (!strcmp(tok, "V"))
            V = (long)v;
        else if (!strcmp(tok, "T"))
            T = (long)v;
        else if (!strcmp(tok, "B"))
            B = (long)v;
        else if (!strcmp(tok, "maxT"))
            maxT = (long)v;
        else if (!strcmp(tok, "steps"))
            steps = v;
        else
            return msg_exit(EXIT_USAGE,
                            "--model: unknown key '%s' (keys L, C, NH, V, T, B, steps, maxT)", tok);
    }
    if (!L || !C || !NH || !V || !T || !B || !steps || L > 100000 || C > 1000000 || NH > 100000 ||
        V > 100000000 || T > 10000000 || B > 100000000 || maxT > 10000000)
        return msg_exit(EXIT_USAGE, "--model needs L, C, NH, V, T, B and steps, e.g. "
                                    "--model L=4,C=128,NH=4,V=256,T=128,B=16,steps=2100");
    struct fg_model_config cfg = { (int)L, (int)NH, (int)C, (int)(maxT ? maxT : T), (int)V };
    char err[256];
    if (fg_model_config_check(&cfg, err, sizeof err) != FG_OK)
        return msg_exit(EXIT_USAGE, "--model: %s", err);
    if (T > cfg.block_size)
        return msg_exit(EXIT_USAGE, "--model: T=%ld exceeds maxT=%d", T, cfg.block_size);
    struct fg_plan_params base, m;
    fg_plan_defaults(&base, c->preset);
    m = base;
    if (fg_plan_from_model(&m, &cfg, (size_t)B, (size_t)T, steps, err, sizeof err) != FG_OK)
        return msg_exit(EXIT_USAGE, "--model: %s", err);
    static const char *const conflicts[] = { "params",           "active_params", "tokens",
                                             "tokens_per_param", "train_flops",   "experts" };
    for (size_t k = 0; k < sizeof conflicts / sizeof conflicts[0]; k++) {
        size_t i = field_index(c, fg_plan_field_find(conflicts[k]));
        if (c->set[i])
            return msg_exit(EXIT_USAGE,
                            "%s contradicts --model, which sets the model and its tokens: give one",
                            c->given_as[i]);
    }
    /* every input the model changed counts as set by the user, unless a flag set it */
    for (size_t i = 0; i < c->n_fields; i++) {
        double before = *fg_plan_field_ptr(&base, &c->fields[i]);
        double after = *fg_plan_field_ptr(&m, &c->fields[i]);
        if (!c->set[i] && before != after) {
            c->user[i] = after;
            c->set[i] = 1;
            snprintf(c->given_as[i], sizeof c->given_as[i], "--model");
        }
    }
    if (!c->ckpt_set) {
        c->ckpt_mode = (int)m.ckpt_mode;
        c->ckpt_set = 1;
    }
    return 0;
}

/* ---- --optimizer NAME: bytes per parameter of an optimizer storage mode ------------------ */

/* weights (with any master correction), gradients, optimizer state; checkpoint bytes.
 * FlashOptim figures: docs/planner.md and the optimizer issue's spec (24-bit master = bf16
 * weight + int8 correction; 8-bit companded moments with fp16 group scales). */
static const struct {
    const char *name;
    double weight, grad, state, ckpt;
    const char *what;
} optimizers[] = {
    { "mixed-adam", 2, 2, 12, 14, "bf16 weights and gradients, fp32 master + Adam moments (16)" },
    { "adamw-fp32", 4, 4, 8, 12, "fp32 weights, gradients and moments: frugal train today (16)" },
    { "sgdm-fp32", 4, 4, 4, 8, "fp32 SGD with momentum or Lion (12)" },
    { "flash-adamw", 3, 2, 2.125, 5.125, "FlashOptim AdamW, 24-bit master (7.125)" },
    { "flash-adamw-release", 3, 0, 2.125, 5.125, "the same with gradient release (5.125)" },
    { "flash-lion", 3, 2, 1.0625, 4.0625, "FlashOptim Lion or SGD-M (6.0625)" },
    { "flash-lion-release", 3, 0, 1.0625, 4.0625, "the same with gradient release (4.0625)" },
};

static int apply_optimizer(struct plan_cli *c)
{
    size_t n = sizeof optimizers / sizeof optimizers[0], k = 0;
    while (k < n && strcmp(optimizers[k].name, c->optimizer))
        k++;
    if (k == n)
        return msg_exit(EXIT_USAGE,
                        "unknown --optimizer '%s': give mixed-adam, adamw-fp32, sgdm-fp32, "
                        "flash-adamw, flash-adamw-release, flash-lion or flash-lion-release",
                        c->optimizer);
    static const char *const names[] = { "state_bytes", "weight_bytes", "grad_bytes",
                                         "ckpt_bytes_per_param" };
    double v[4] = { optimizers[k].weight + optimizers[k].grad + optimizers[k].state,
                    optimizers[k].weight, optimizers[k].grad, optimizers[k].ckpt };
    for (size_t j = 0; j < 4; j++) {
        size_t i = field_index(c, fg_plan_field_find(names[j]));
        if (c->set[i] && strcmp(c->given_as[i], "--model"))
            return msg_exit(EXIT_USAGE, "%s contradicts --optimizer %s, which sets it: give one",
                            c->given_as[i], c->optimizer);
        c->user[i] = v[j];
        c->set[i] = 1;
        snprintf(c->given_as[i], sizeof c->given_as[i], "--optimizer");
    }
    return 0;
}

/* ---- --project Y0..Y1: the paper's Table 1 scenarios over years -------------------------- */

static int run_project(const struct plan_cli *c)
{
    double y0, y1;
    char buf[64];
    const char *dots = strstr(c->project, "..");
    if (!dots || (size_t)(dots - c->project) >= sizeof buf)
        return msg_exit(EXIT_USAGE, "--project takes YEAR..YEAR, e.g. --project 2024..2030");
    memcpy(buf, c->project, (size_t)(dots - c->project));
    buf[dots - c->project] = '\0';
    if (parse_number(buf, &y0) || parse_number(dots + 2, &y1) || y0 != floor(y0) ||
        y1 != floor(y1) || y1 < y0 || y0 < 1900 || y1 > 2200 || y1 - y0 > 100)
        return msg_exit(EXIT_USAGE,
                        "--project %s: give two whole years, the first not after the second "
                        "(e.g. 2024..2030)",
                        c->project);
    struct fg_plan_projection pj[3];
    for (int k = 0; k < 3; k++)
        fg_plan_projection_scenario(&pj[k], k);
    if (c->json)
        printf("{\n  \"rows\": [\n");
    else
        printf("Projection of the paper's Table 1 scenarios (docs/planner.md, section 7)\n"
               "assumed: %.0f, %.3g parameters and %.0f experts in the base year, parameters "
               "x%.2g per year, FLOP per dollar x%.3g per year\n"
               "S1: +8 experts/year, 20 tokens/param   S2: +4, 40   S3: +0, 120\n\n"
               "%-6s %-4s %12s %8s %12s %16s %16s\n",
               pj[0].year0, pj[0].params0, pj[0].experts0, pj[0].params_growth, pj[0].hw_growth,
               "year", "scen", "params", "experts", "FLOP", "$ (cloud kappa)", "$ (GPU kappa)");
    int first = 1;
    for (double y = y0; y <= y1; y += 1.0)
        for (int k = 0; k < 3; k++) {
            double P, K, C, cloud, gpu;
            fg_plan_project(&pj[k], y, &P, &K, &C, &cloud);
            struct fg_plan_projection g = pj[k];
            g.kappa0 = FG_PLAN_KAPPA_GPU;
            fg_plan_project(&g, y, &P, &K, &C, &gpu);
            if (c->json) {
                printf("%s    {\"year\": %.0f, \"scenario\": \"S%d\", \"params\": %.17g, "
                       "\"experts\": %.17g, \"train_flops\": %.17g, \"dollars_cloud\": %.17g, "
                       "\"dollars_gpu\": %.17g}",
                       first ? "" : ",\n", y, k + 1, P, K, C, cloud, gpu);
                first = 0;
            } else {
                char b1[32], b2[32];
                printf("%-6.0f S%-3d %12.4g %8.0f %12.4g %16s %16s\n", y, k + 1, P, K, C,
                       fmt_money(b1, sizeof b1, cloud), fmt_money(b2, sizeof b2, gpu));
            }
        }
    if (c->json)
        printf("\n  ]\n}\n");
    return EXIT_OK;
}

int cmd_plan(int argc, char **argv)
{
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            plan_help();
            return EXIT_OK;
        }
    static struct plan_cli c; /* large (flags as typed): not on the stack */
    memset(&c, 0, sizeof c);
    c.fields = fg_plan_fields(&c.n_fields);
    if (c.n_fields > MAX_FIELDS)
        return msg_exit(EXIT_FAIL, "internal error: %zu planner inputs, at most %d supported",
                        c.n_fields, MAX_FIELDS);
    c.preset = FG_PLAN_PRESET_PAPER;
    int rc = parse_args(&c, argc, argv);
    if (rc)
        return rc;

    size_t it = field_index(&c, fg_plan_field_find("tokens"));
    size_t ir = field_index(&c, fg_plan_field_find("tokens_per_param"));
    size_t id = field_index(&c, fg_plan_field_find("devices"));
    if (c.set[it] && c.set[ir])
        return msg_exit(EXIT_USAGE,
                        "%s and %s contradict each other: --tokens fixes the token count, "
                        "--tokens-per-param derives it from --params; give one",
                        c.given_as[it], c.given_as[ir]);
    if (c.sweep && c.minimize)
        return msg_exit(EXIT_USAGE, "--sweep and --minimize are separate modes: give one");
    if (!c.sweep && (c.csv || c.plot))
        return msg_exit(EXIT_USAGE, "%s writes a sweep: add --sweep NAME=A..B (see --help)",
                        c.csv ? "--csv" : "--plot");
    if (!c.minimize && (c.max_days_set || c.max_dollars_set || c.max_devices_set))
        return msg_exit(EXIT_USAGE, "%s limits a search: add --minimize cost|time",
                        c.max_days_set      ? "--max-days"
                        : c.max_dollars_set ? "--max-dollars"
                                            : "--max-devices");
    if (c.minimize && c.set[id])
        return msg_exit(EXIT_USAGE,
                        "--minimize chooses the number of devices: drop %s (cap it with "
                        "--max-devices)",
                        c.given_as[id]);
    if (c.minimize && c.compare)
        return msg_exit(EXIT_USAGE, "--compare works with one plan or --sweep, not --minimize");
    if (c.plot && !have_gnuplot())
        return msg_exit(EXIT_FAIL,
                        "--plot needs gnuplot, which is not on PATH: install the Debian package "
                        "gnuplot-nox (apt-get install gnuplot-nox)");
    if (c.plot && c.csv && !strcmp(c.plot, c.csv))
        return msg_exit(EXIT_USAGE, "--plot and --csv name the same file %s", c.plot);
    if (c.plot && c.no_plot)
        return msg_exit(EXIT_USAGE, "--plot and --no-plot contradict each other: give one");
    static char default_png[4096];
    if (c.sweep && !c.plot && !c.no_plot) {
        /* a sweep draws its plot next to the CSV (FILE.csv -> FILE.png) when gnuplot is here */
        const char *csv = c.csv ? c.csv : "plan_sweep.csv";
        size_t n = strlen(csv);
        if (n > 4 && !strcmp(csv + n - 4, ".csv"))
            n -= 4;
        if (n + 5 > sizeof default_png)
            return msg_exit(EXIT_USAGE, "--csv: the file name is too long");
        memcpy(default_png, csv, n);
        memcpy(default_png + n, ".png", 5);
        if (have_gnuplot())
            c.plot = default_png;
        else
            fprintf(stderr, "frugal plan: note: gnuplot is not on PATH, so no PNG is drawn "
                            "(apt-get install gnuplot-nox; --no-plot silences this)\n");
    }

    if (c.project) {
        if (c.sweep || c.minimize || c.model || c.compare)
            return msg_exit(EXIT_USAGE,
                            "--project prints the scenario table alone: drop --sweep, --minimize, "
                            "--model and --compare");
        return run_project(&c);
    }
    if (c.model && (rc = apply_model(&c)) != 0)
        return rc;
    if (c.optimizer && (rc = apply_optimizer(&c)) != 0)
        return rc;

    struct fg_plan_params p;
    build_params(&c, &p);
    if (c.sweep)
        return run_sweep(&c, &p);
    if (c.minimize)
        return run_minimize(&c, &p);

    struct fg_plan_result r, sc;
    char err[512];
    memset(&sc, 0, sizeof sc);
    enum point pt = plan_point(&p, &r, err, sizeof err);
    if (pt == PT_NONFINITE)
        return msg_exit(EXIT_FAIL, "%s", err);
    if (pt == PT_ERR || pt == PT_KTOL) {
        print_lib_error("", err);
        return EXIT_USAGE;
    }
    if (pt == PT_NOFIT)
        return report_nofit(&p, &r, "--devices");
    enum point sc_pt = PT_ERR;
    if (c.compare) {
        struct fg_plan_params q = p;
        apply_supercomputing(&q);
        sc_pt = plan_point(&q, &sc, err, sizeof err);
        if (sc_pt == PT_NONFINITE)
            return msg_exit(EXIT_FAIL, "--compare supercomputing: %s", err);
        if (sc_pt == PT_ERR) {
            print_lib_error("--compare supercomputing: ", err);
            return EXIT_USAGE;
        }
    }
    if (c.json)
        print_json(&c, &p, &r, &sc, sc_pt, NULL);
    else
        print_text(&c, &p, &r, &sc, sc_pt);
    return EXIT_OK;
}
