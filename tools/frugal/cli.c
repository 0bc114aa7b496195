/* Option parsing for every subcommand: strict numbers (strtol/strtod with end-pointer and range
 * checks), unknown flags rejected with the command's name, and --help generated from the same
 * table so it never drifts from what is accepted. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include <cjson/cJSON.h>

#include "frugal/core.h"
#include "frugal/kernels.h"
#include "frugal/tokenizer.h"

const struct opt *cli_find(const struct opt *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name))
            return &opts[i];
    return NULL;
}

void cli_help(const char *cmd, const char *usage, const char *about, const struct opt *opts,
              size_t n_opts)
{
    printf("usage: frugal %s %s\n\n%s\n\noptions:\n", cmd, usage, about);
    for (size_t i = 0; i < n_opts; i++) {
        char left[64];
        if (!opts[i].help)
            continue; /* hidden: fault injection for tests */
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        printf("  %-22s %s\n", left, opts[i].help);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

static int bad(const char *cmd, const char *flag, const char *val, const char *why)
{
    fprintf(stderr, "frugal %s: invalid value '%s' for %s: %s (see frugal %s --help)\n", cmd, val,
            flag, why, cmd);
    return EXIT_USAGE;
}

static int set_value(struct opt *o, const char *val, const char *cmd)
{
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_INT:
    case OPT_I64:
    case OPT_U64:
    case OPT_SIZE: {
        long long v = strtoll(val, &end, 10);
        if (end == val || *end || errno == ERANGE)
            return bad(cmd, o->name, val, "expected an integer");
        if ((double)v < o->min) {
            char why[64];
            if (o->min == 1)
                snprintf(why, sizeof why, "must be positive");
            else if (o->min == 0)
                snprintf(why, sizeof why, "must not be negative");
            else
                snprintf(why, sizeof why, "must be at least %.0f", o->min);
            return bad(cmd, o->name, val, why);
        }
        if (o->type == OPT_INT) {
            if (v > 2147483647LL)
                return bad(cmd, o->name, val, "too large");
            *(int *)o->dst = (int)v;
        } else if (o->type == OPT_I64) {
            *(int64_t *)o->dst = v;
        } else if (o->type == OPT_U64) {
            *(uint64_t *)o->dst = (uint64_t)v;
        } else {
            *(size_t *)o->dst = (size_t)v;
        }
        return 0;
    }
    case OPT_FLOAT:
    case OPT_DOUBLE: {
        double v = strtod(val, &end);
        if (end == val || *end || errno == ERANGE || !isfinite(v))
            return bad(cmd, o->name, val, "expected a finite number");
        if (o->positive_only && !(v > 0))
            return bad(cmd, o->name, val, "must be positive");
        if (v < o->min)
            return bad(cmd, o->name, val, "must not be negative");
        if (o->below != 0 && !(v < o->below)) {
            char why[64];
            snprintf(why, sizeof why, "must be below %g", o->below);
            return bad(cmd, o->name, val, why);
        }
        if (o->type == OPT_FLOAT)
            *(float *)o->dst = (float)v;
        else
            *(double *)o->dst = v;
        return 0;
    }
    case OPT_STR:
        if (!*val)
            return bad(cmd, o->name, val, "must not be empty");
        *(const char **)o->dst = val;
        return 0;
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    }
    return EXIT_USAGE;
}

int cli_parse(int argc, char **argv, int first, struct opt *opts, size_t n_opts, const char *cmd,
              const char *usage, const char *about, const char **pos, int max_pos, int *n_pos)
{
    *n_pos = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_help(cmd, usage, about, opts, n_opts);
            return -1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "frugal %s: unexpected argument '%s' (see frugal %s --help)\n", cmd,
                        a, cmd);
                return EXIT_USAGE;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, a, len);
        name[len] = '\0';
        struct opt *o = (struct opt *)cli_find(opts, n_opts, name);
        if (!o) {
            fprintf(stderr, "frugal %s: unknown option '%s' (see frugal %s --help)\n", cmd, name,
                    cmd);
            return EXIT_USAGE;
        }
        const char *val = "1";
        if (o->type != OPT_FLAG) {
            if (eq) {
                val = eq + 1;
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                fprintf(stderr, "frugal %s: option %s needs a value (see frugal %s --help)\n", cmd,
                        name, cmd);
                return EXIT_USAGE;
            }
        }
        int rc = set_value(o, val, cmd);
        if (rc)
            return rc;
        o->seen = 1;
    }
    return 0;
}

int cli_exit_code(fg_status st)
{
    return st == FG_OK ? EXIT_OK : st == FG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAIL;
}

int cli_default_vocab_dir(char *dir, size_t n)
{
    snprintf(dir, n, "data/gpt2");
    if (access("data/gpt2/encoder.json", R_OK) == 0)
        return 0;
    char exe[2048];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0)
        return -1;
    exe[len] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    char probe[4200];
    snprintf(dir, n, "%s/../../data/gpt2", exe);
    snprintf(probe, sizeof probe, "%s/encoder.json", dir);
    return access(probe, R_OK) == 0 ? 0 : -1;
}

/* ---- vocabulary --------------------------------------------------------------------------- */

/* Load the tokenizer that the flags name. Prints a one-line error and returns its exit code. */
int cli_load_tokenizer(const char *cmd, const struct cli_vocab *v, int n_threads,
                       struct fg_tokenizer **out)
{
    char dir[4096] = ".", enc[4200], bpe[4200], err[4400];
    struct fg_tokenizer_params p = fg_tokenizer_params_default();
    p.n_threads = n_threads;
    *out = NULL;
    if (v->json && (v->dir || v->encoder || v->merges)) {
        fprintf(stderr,
                "frugal %s: --tokenizer names a whole vocabulary: leave out --vocab, --encoder "
                "and --merges\n",
                cmd);
        return EXIT_USAGE;
    }
    if (v->json) {
        fg_status st = fg_tokenizer_load_json(out, v->json, &p, err, sizeof err);
        if (st != FG_OK) {
            fprintf(stderr, "frugal %s: %s\n", cmd, err);
            return st == FG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAIL;
        }
        return EXIT_OK;
    }
    if (v->dir) {
        struct stat st;
        int bad = stat(v->dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
        if (bad) {
            char what[4200];
            snprintf(what, sizeof what, "cannot read the vocabulary directory %s", v->dir);
            fg_errno_msg(err, sizeof err, bad, what);
            fprintf(stderr,
                    "frugal %s: %s (--vocab DIR must be a directory holding encoder.json and "
                    "vocab.bpe)\n",
                    cmd, err);
            return EXIT_FAIL;
        }
        snprintf(dir, sizeof dir, "%s", v->dir);
    } else if ((!v->encoder || !v->merges) && cli_default_vocab_dir(dir, sizeof dir) != 0) {
        fprintf(stderr,
                "frugal %s: GPT-2's vocabulary is neither in ./data/gpt2 nor next to this "
                "binary: give --vocab DIR (a directory holding encoder.json and vocab.bpe)\n",
                cmd);
        return EXIT_FAIL;
    }
    snprintf(enc, sizeof enc, "%s/encoder.json", dir);
    snprintf(bpe, sizeof bpe, "%s/vocab.bpe", dir);
    fg_status st = fg_tokenizer_load_gpt2(out, v->encoder ? v->encoder : enc,
                                          v->merges ? v->merges : bpe, &p, err, sizeof err);
    if (st != FG_OK) {
        fprintf(stderr, "frugal %s: %s\n", cmd, err);
        return st == FG_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAIL;
    }
    return EXIT_OK;
}

int cli_mkdir_p(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int cli_write_atomic(const char *path, const void *buf, size_t len, char *err, size_t n)
{
    struct fg_atomic_file af;
    if (fg_atomic_open(&af, path, err, n) != FG_OK)
        return -1;
    if (fg_atomic_write(&af, buf, len, err, n) != FG_OK) {
        fg_atomic_abort(&af);
        return -1;
    }
    return fg_atomic_commit(&af, err, n) == FG_OK ? 0 : -1; /* a failed commit cleans up */
}

void cli_cpu_model(char *out, size_t n)
{
    snprintf(out, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon)
            continue;
        colon += 1 + (colon[1] == ' ');
        colon[strcspn(colon, "\n")] = '\0';
        snprintf(out, n, "%s", colon);
        break;
    }
    if (f)
        fclose(f);
}

/* The peak of the unit the products run on, *unit naming it: the bf16 unit if asked and there
 * is one, else the FMAs. n_threads 0 only names the unit. */
static double products_peak(int n_threads, int bf16, const char **unit)
{
    double flops = bf16 ? fg_gemm_bf16_peak_flops(n_threads, unit) : 0.0;
    if (!bf16 || !strcmp(*unit, "none"))
        flops = fg_cpu_peak_flops(n_threads, unit);
    return flops;
}

double cli_peak_flops(int n_threads, int bf16, const char **unit_out, char *path_out, size_t path_n)
{
    /* the unit this run's products use; entries without "unit" predate bf16 peaks: FMAs */
    const char *want = "none";
    (void)products_peak(0, bf16, &want);
    if (unit_out)
        *unit_out = want;
    char dir[1024], path[1100], cpu[256], err[256];
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0])
        snprintf(dir, sizeof dir, "%s/frugal", xdg);
    else if (home && home[0])
        snprintf(dir, sizeof dir, "%s/.cache/frugal", home);
    else
        dir[0] = '\0';
    snprintf(path, sizeof path, "%s/peak_flops.json", dir);
    if (path_out)
        snprintf(path_out, path_n, "%s", dir[0] ? path : "");
    cli_cpu_model(cpu, sizeof cpu);
    void *buf = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    if (dir[0] && fg_read_file(NULL, path, &buf, &len, err, sizeof err) == FG_OK) {
        root = cJSON_ParseWithLength(buf, len);
        fg_free(NULL, buf);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "cpu");
        if (!cJSON_IsString(c) || strcmp(c->valuestring, cpu) != 0) {
            cJSON_Delete(root); /* another machine's: measure again */
            root = NULL;
        }
    }
    cJSON *peaks = cJSON_GetObjectItemCaseSensitive(root, "peaks"), *e;
    cJSON_ArrayForEach(e, peaks)
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "threads");
        const cJSON *fl = cJSON_GetObjectItemCaseSensitive(e, "flops");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "unit");
        const char *eu = cJSON_IsString(u) ? u->valuestring : "avx512 fma";
        if (cJSON_IsNumber(t) && t->valueint == n_threads && cJSON_IsNumber(fl) &&
            fl->valuedouble > 0 && !strcmp(eu, want)) {
            double v = fl->valuedouble;
            cJSON_Delete(root);
            return v;
        }
    }
    const char *unit = "none";
    double flops = products_peak(n_threads, bf16, &unit);
    if (!dir[0] || flops <= 0) {
        cJSON_Delete(root);
        return flops;
    }
    /* add the entry and write the file back atomically; a cache that cannot be written only
     * costs the measurement next time */
    if (!root) {
        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "cpu", cpu);
    }
    if (!cJSON_IsArray(peaks))
        peaks = cJSON_AddArrayToObject(root, "peaks");
    e = cJSON_CreateObject();
    if (e && peaks) {
        cJSON_AddNumberToObject(e, "threads", n_threads);
        cJSON_AddNumberToObject(e, "flops", flops);
        cJSON_AddStringToObject(e, "unit", unit);
        cJSON_AddItemToArray(peaks, e);
    } else {
        cJSON_Delete(e);
    }
    (void)cli_mkdir_p(dir);
    char *text = cJSON_Print(root);
    if (text)
        (void)cli_write_atomic(path, text, strlen(text), err, sizeof err);
    cJSON_free(text);
    cJSON_Delete(root);
    return flops;
}
