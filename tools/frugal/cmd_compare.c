/* frugal compare EXPERIMENT.json -o DIR: every (variant, seed) of an experiment as its own
 * `frugal train` process, the guards watching each run's metrics as they are written, then
 * the statistics and the report (compare_report.c).
 *
 * DIR holds experiment.json (the file the runs belong to), data/ (shards prepared from a
 * corpus), runs/<variant>_s<seed>.{json,jsonl,log,status} and the report. A run whose status
 * file says done or aborted is not run again, so a second `frugal compare` on the same DIR
 * continues where the first stopped (a crashed run is run again). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
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

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = sig;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* this program, for the child processes */
static const char *self_exe(void)
{
    static char path[4096];
    ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    return path;
}

/* Runs argv with stdout to out_path (NULL: /dev/null) and stderr to err_path (NULL: a pipe
 * whose text goes into errbuf). Returns the pid (-1 on failure). */
static pid_t spawn(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fo = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fi = open("/dev/null", O_RDONLY);
    if (fo < 0 || fe < 0 || fi < 0)
        _exit(127);
    dup2(fi, 0);
    dup2(fo, 1);
    dup2(fe, 2);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    execv(argv[0], argv);
    _exit(127);
}

/* runs argv to completion; its exit code (128 + signal when killed, -1 when it did not start) */
static int run_wait(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = spawn(argv, out_path, err_path);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n') {
            size_t len = strcspn(line, "\n");
            if (len >= n)
                len = n - 1;
            memcpy(out, line, len);
            out[len] = '\0';
        }
    if (f)
        fclose(f);
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[2048];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* the value of flag name among args (last one wins, as in frugal train), or def */
static double flag_value(const struct fg_experiment *e, int v, const char *name, double def)
{
    double x = def;
    for (int pass = 0; pass < 2; pass++) {
        int n = pass ? e->v[v].n_args : e->n_common;
        char *const *a = pass ? e->v[v].args : e->common;
        for (int i = 0; i + 1 < n; i++)
            if (!strcmp(a[i], name))
                x = strtod(a[i + 1], NULL);
    }
    return x;
}

/* ---- the argument vector of one training run ---- */

struct argv_buf {
    char *a[2 * FG_EXP_MAX_ARGS + 32];
    int n;
    char num[8][32];
    int n_num;
};

static void push(struct argv_buf *b, const char *s)
{
    b->a[b->n++] = (char *)s;
    b->a[b->n] = NULL;
}

/* x as text: a whole number, or with all its digits */
static const char *numstr(struct argv_buf *b, double x)
{
    char *s = b->num[b->n_num++];
    if (x == floor(x) && fabs(x) < 1e18)
        snprintf(s, 32, "%.0f", x);
    else
        snprintf(s, 32, "%.17g", x);
    return s;
}

static void build_argv(const struct compare *c, const struct run *r, const char *metrics,
                       struct argv_buf *b, int check)
{
    const struct fg_experiment *e = c->e;
    b->n = b->n_num = 0;
    push(b, self_exe());
    push(b, "train");
    for (int i = 0; i < e->n_common; i++)
        push(b, e->common[i]);
    for (int i = 0; i < e->v[r->v].n_args; i++)
        push(b, e->v[r->v].args[i]);
    push(b, "--data");
    push(b, c->train);
    push(b, "--val");
    push(b, c->val);
    push(b, "--seed");
    push(b, numstr(b, (double)e->seeds[r->s]));
    push(b, "--steps");
    push(b, numstr(b, (double)r->steps));
    push(b, "--eval-every");
    push(b, numstr(b, (double)r->check_step));
    if (e->seconds > 0) {
        push(b, "--time-budget");
        push(b, numstr(b, e->seconds));
    }
    if (check) {
        push(b, "--check");
        return;
    }
    push(b, "--metrics");
    push(b, metrics);
    push(b, "--json");
    push(b, "--quiet");
}

static void run_path(const struct compare *c, const struct run *r, const char *ext, char *out,
                     size_t n)
{
    snprintf(out, n, "%s/runs/%s.%s", c->dir, r->tag, ext);
}

/* ---- status files ---- */

static const char *const status_names[] = { "todo", "done", "aborted", "crashed" };

static void write_status(const struct compare *c, const struct run *r)
{
    char path[4200], err[256];
    run_path(c, r, "status", path, sizeof path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", status_names[r->status]);
    cJSON_AddStringToObject(j, "reason", r->reason);
    cJSON_AddNumberToObject(j, "steps_seen", (double)r->step);
    char *text = cJSON_PrintUnformatted(j);
    if (text)
        (void)cli_write_atomic(path, text, strlen(text), err, sizeof err);
    cJSON_free(text);
    cJSON_Delete(j);
}

static void read_status(const struct compare *c, struct run *r)
{
    char path[4200], err[256];
    void *buf = NULL;
    size_t len = 0;
    run_path(c, r, "status", path, sizeof path);
    r->status = RUN_TODO;
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK)
        return;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    fg_free(NULL, buf);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "status");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(j, "reason");
    for (int k = RUN_DONE; cJSON_IsString(s) && k <= RUN_CRASHED; k++)
        if (!strcmp(s->valuestring, status_names[k]))
            r->status = (enum run_status)k;
    if (cJSON_IsString(why))
        snprintf(r->reason, sizeof r->reason, "%s", why->valuestring);
    cJSON_Delete(j);
}

/* ---- the guards, over the lines a run has written to its metrics file so far ---- */

static void guard_abort(struct run *r, const char *why)
{
    if (r->abort_sent)
        return;
    snprintf(r->reason, sizeof r->reason, "%s", why);
    r->abort_sent = 1;
    kill(r->pid, SIGTERM);
}

/* the metrics line of `step` in the run's metrics file: elapsed_s and val_loss (NaN if none) */
static int metrics_at(const struct compare *c, const struct run *r, int64_t step, double *elapsed,
                      double *val)
{
    char path[4200], line[2048];
    run_path(c, r, "jsonl", path, sizeof path);
    FILE *f = fopen(path, "r");
    int found = 0;
    while (f && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "step");
        if (cJSON_IsNumber(s) && (int64_t)s->valuedouble == step) {
            const cJSON *el = cJSON_GetObjectItemCaseSensitive(j, "elapsed_s");
            const cJSON *vl = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
            *elapsed = cJSON_IsNumber(el) ? el->valuedouble : (double)NAN;
            *val = cJSON_IsNumber(vl) ? vl->valuedouble : (double)NAN;
            found = 1;
        }
        cJSON_Delete(j);
    }
    if (f)
        fclose(f);
    return found;
}

static void watch(const struct compare *c, struct run *r)
{
    const struct fg_experiment *e = c->e;
    char path[4200], line[2048], why[320];
    run_path(c, r, "jsonl", path, sizeof path);
    FILE *f = fopen(path, "r");
    if (f && fseek(f, r->metrics_off, SEEK_SET) == 0) {
        while (fgets(line, sizeof line, f)) {
            size_t len = strlen(line);
            if (!len || line[len - 1] != '\n')
                break; /* a line still being written: read it next time */
            r->metrics_off += (long)len;
            cJSON *j = cJSON_Parse(line);
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
            const cJSON *lo = cJSON_GetObjectItemCaseSensitive(j, "loss");
            const cJSON *ma = cJSON_GetObjectItemCaseSensitive(j, "loss_ma");
            const cJSON *el = cJSON_GetObjectItemCaseSensitive(j, "elapsed_s");
            const cJSON *vl = cJSON_GetObjectItemCaseSensitive(j, "val_loss");
            if (cJSON_IsNumber(st))
                r->step = (int64_t)st->valuedouble;
            if (e->spike_steps > 0 && cJSON_IsNumber(lo) && cJSON_IsNumber(ma)) {
                r->spike_run =
                    lo->valuedouble > e->spike_factor * ma->valuedouble ? r->spike_run + 1 : 0;
                if (r->spike_run >= e->spike_steps) {
                    snprintf(why, sizeof why,
                             "loss spike: above %.3g x its moving average for %d steps (to step "
                             "%" PRId64 ")",
                             e->spike_factor, e->spike_steps, r->step);
                    guard_abort(r, why);
                }
            }
            const struct run *base = c->runs + (r - c->runs) - r->v + e->baseline;
            double be, bv;
            if (r->check_step && r->step == r->check_step && r->v != e->baseline &&
                cJSON_IsNumber(el) && base->status == RUN_DONE &&
                metrics_at(c, base, r->check_step, &be, &bv)) {
                double cut = 1.0 - el->valuedouble / be;
                if (e->check_cost && cut < e->check_min_cost_reduction) {
                    snprintf(why, sizeof why,
                             "checkpoint: wall time at step %" PRId64 " %.1f%% below the "
                             "baseline's; the guard asks at least %.1f%%",
                             r->step, 100.0 * cut, 100.0 * e->check_min_cost_reduction);
                    guard_abort(r, why);
                }
                double up = cJSON_IsNumber(vl) && bv > 0 ? vl->valuedouble / bv - 1.0 : 0.0;
                if (e->check_loss && up > e->check_max_loss_increase) {
                    snprintf(why, sizeof why,
                             "checkpoint: validation loss at step %" PRId64 " %.2f%% above the "
                             "baseline's; the guard allows %.2f%%",
                             r->step, 100.0 * up, 100.0 * e->check_max_loss_increase);
                    guard_abort(r, why);
                }
            }
            cJSON_Delete(j);
        }
    }
    if (f)
        fclose(f);
    if (e->max_rss_mib > 0 && !r->abort_sent) {
        char sp[64], l[256];
        snprintf(sp, sizeof sp, "/proc/%d/status", (int)r->pid);
        FILE *s = fopen(sp, "r");
        while (s && fgets(l, sizeof l, s)) {
            long kb;
            if (sscanf(l, "VmHWM: %ld kB", &kb) == 1 && (double)kb / 1024.0 > e->max_rss_mib) {
                char msg[160];
                snprintf(msg, sizeof msg, "memory: peak %.0f MiB passed the limit of %.0f MiB",
                         (double)kb / 1024.0, e->max_rss_mib);
                guard_abort(r, msg);
            }
        }
        if (s)
            fclose(s);
    }
}

/* the results of a finished run, from its --json summary */
static int read_result(const struct compare *c, struct run *r)
{
    char path[4200], err[256];
    void *buf = NULL;
    size_t len = 0;
    run_path(c, r, "json", path, sizeof path);
    if (fg_read_file(NULL, path, &buf, &len, err, sizeof err) != FG_OK)
        return -1;
    cJSON *j = cJSON_ParseWithLength(buf, len);
    fg_free(NULL, buf);
    const cJSON *led = cJSON_GetObjectItemCaseSensitive(j, "ledger");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(j, "memory");
#define NUM(o, k)                                              \
    (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, k))    \
         ? cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble \
         : (double)NAN)
    r->final_val = NUM(j, "final_val_loss");
    r->tokens_per_s = NUM(j, "tokens_per_s");
    r->peak_rss = NUM(j, "peak_rss_bytes");
    r->dollars = NUM(led, "dollars");
    r->wall_s = NUM(led, "wall_seconds");
    r->train_s = NUM(led, "train_seconds");
    for (int k = 0; k < N_MEM; k++)
        r->mem[k] = NUM(mem, compare_mem[k].key);
#undef NUM
    int ok = j != NULL && !isnan(r->final_val);
    cJSON_Delete(j);
    return ok ? 0 : -1;
}

/* how a run that exited ended */
static void finish_run(const struct compare *c, struct run *r, int wstatus)
{
    char log[4200], last[320];
    run_path(c, r, "log", log, sizeof log);
    if (r->abort_sent) {
        r->status = RUN_ABORTED; /* the reason is the guard's */
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        if (read_result(c, r) == 0) {
            r->status = RUN_DONE;
            r->reason[0] = '\0';
        } else {
            r->status = RUN_CRASHED;
            snprintf(r->reason, sizeof r->reason,
                     "exited 0 without a summary with a validation loss");
        }
    } else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 1 && file_has(log, "not finite")) {
        r->status = RUN_ABORTED; /* train stops itself at a non-finite gradient */
        snprintf(r->reason, sizeof r->reason,
                 "NaN/Inf: the gradient was not finite at step %" PRId64, r->step + 1);
    } else {
        r->status = RUN_CRASHED;
        last_line(log, last, sizeof last);
        if (WIFSIGNALED(wstatus))
            snprintf(r->reason, sizeof r->reason, "killed by signal %d (%s) after step %" PRId64,
                     WTERMSIG(wstatus), WTERMSIG(wstatus) == SIGKILL ? "SIGKILL" : "signal",
                     r->step);
        else
            snprintf(r->reason, sizeof r->reason, "exit code %d after step %" PRId64 ": %.200s",
                     WEXITSTATUS(wstatus), r->step, last);
    }
    write_status(c, r);
}

/* ---- progress ---- */

static void progress(const struct compare *c, int tty, int done_runs, int total, double eta)
{
    if (!tty)
        return;
    char line[512] = "";
    for (int i = 0; i < c->n_runs; i++) {
        const struct run *r = &c->runs[i];
        if (r->pid <= 0)
            continue;
        snprintf(line + strlen(line), sizeof line - strlen(line),
                 "%s step %" PRId64 "/%" PRId64 " ", r->tag, r->step, r->steps);
    }
    char e[32] = "?";
    if (eta >= 0)
        snprintf(e, sizeof e, "%dm%02ds", (int)(eta / 60), (int)fmod(eta, 60));
    fprintf(stderr, "\r\033[Kcompare %s: %d/%d runs | %s| eta %s", c->e->name, done_runs, total,
            line, e);
}

/* ---- setup ---- */

/* DIR is new, empty, or holds this same experiment: 0; else a message and EXIT_USAGE */
static int claim_dir(const char *dir, const char *text, size_t len, const char *exp_path)
{
    char path[4200], err[256];
    snprintf(path, sizeof path, "%s/experiment.json", dir);
    void *buf = NULL;
    size_t blen = 0;
    if (fg_read_file(NULL, path, &buf, &blen, err, sizeof err) == FG_OK) {
        cJSON *a = cJSON_ParseWithLength(buf, blen), *b = cJSON_ParseWithLength(text, len);
        int same = a && b && cJSON_Compare(a, b, 1);
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(a, "name");
        if (!same)
            fprintf(stderr,
                    "frugal compare: %s holds another experiment (\"%s\"), not %s: give a new "
                    "-o DIR, or delete that one\n",
                    dir, cJSON_IsString(nm) ? nm->valuestring : "?", exp_path);
        cJSON_Delete(a);
        cJSON_Delete(b);
        fg_free(NULL, buf);
        return same ? 0 : EXIT_USAGE;
    }
    struct stat st;
    if (stat(dir, &st) == 0) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/runs", dir);
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "frugal compare: -o %s is not a directory\n", dir);
            return EXIT_USAGE;
        }
        if (stat(probe, &st) == 0) {
            fprintf(stderr,
                    "frugal compare: %s has runs but no experiment.json: give a new -o DIR\n", dir);
            return EXIT_USAGE;
        }
    }
    if (cli_mkdir_p(dir) != 0) {
        fprintf(stderr, "frugal compare: cannot create %s: %s\n", dir, strerror(errno));
        return EXIT_FAIL;
    }
    if (cli_write_atomic(path, text, len, err, sizeof err) != 0) {
        fprintf(stderr, "frugal compare: %s\n", err);
        return EXIT_FAIL;
    }
    return 0;
}

int cmd_compare(int argc, char **argv)
{
    const char *out = NULL;
    int jobs = 1, quiet = 0;
    const char *pos[1];
    int n_pos = 0;
    struct opt o[] = {
        { "-o", OPT_STR, &out, "DIR",
          "output: runs, report.md, plots; resumed if it holds this experiment [required]", 0, 0, 0,
          0 },
        { "--jobs", OPT_INT, &jobs, "N", "runs at a time [1]; timings need 1 on a small machine", 1,
          0, 0, 0 },
        { "--quiet", OPT_FLAG, &quiet, NULL, "no progress output", 0, 0, 0, 0 },
    };
    int rc = cli_parse(
        argc, argv, 2, o, sizeof o / sizeof o[0], "compare", "EXPERIMENT.json -o DIR [options]",
        "Runs a baseline and its variants (each a set of frugal train flags) over the same\n"
        "seeds, data and budget, each run its own frugal train process, one at a time; stops\n"
        "a run when a guard fires (NaN/Inf gradient, loss spike, peak memory, a checkpoint\n"
        "against the baseline); then writes DIR/report.md with means and spreads over seeds,\n"
        "paired t-tests, Cohen's d and an equivalence verdict on the final validation loss,\n"
        "cost, memory and throughput against the baseline, and PNG plots (gnuplot).\n"
        "A crashed run (killed, failed) is reported and the rest continue; running compare\n"
        "again on the same DIR resumes: finished runs are kept, crashed ones run again.\n"
        "The experiment file's layout: docs/formats.md, \"Experiment files\"; examples in\n"
        "experiments/.\n"
        "\n"
        "example (seconds):\n"
        "  frugal compare experiments/smoke.json -o runs/smoke\n"
        "\n"
        "exit codes: 0 every run finished or was aborted by a guard, 1 a run crashed or the\n"
        "report failed, 2 a bad experiment file, flag or directory (nothing run)",
        pos, 1, &n_pos);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (n_pos != 1 || !out) {
        fprintf(stderr, "frugal compare: give one EXPERIMENT.json and -o DIR (see frugal compare "
                        "--help)\n");
        return EXIT_USAGE;
    }
    const char *exp_path = pos[0];
    void *text = NULL;
    size_t len = 0;
    char err[1024];
    if (fg_read_file(NULL, exp_path, &text, &len, err, sizeof err) != FG_OK) {
        fprintf(stderr, "frugal compare: %s\n", err);
        return EXIT_USAGE;
    }
    char base[4096];
    snprintf(base, sizeof base, "%s", exp_path);
    char *slash = strrchr(base, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(base, sizeof base, ".");
    struct fg_experiment *e = malloc(sizeof *e);
    if (!e) {
        fg_free(NULL, text);
        return EXIT_FAIL;
    }
    fg_status st = fg_experiment_parse(text, len, base, e, err, sizeof err);
    if (st) {
        fprintf(stderr, "frugal compare: %s: %s\n", exp_path, err);
        fg_free(NULL, text);
        free(e);
        return EXIT_USAGE;
    }
    struct compare c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.dir = out;
    if (e->n_corpus) {
        snprintf(c.train, sizeof c.train, "%s/data/train.bin", out);
        snprintf(c.val, sizeof c.val, "%s/data/val.bin", out);
    } else {
        snprintf(c.train, sizeof c.train, "%s", e->train);
        snprintf(c.val, sizeof c.val, "%s", e->val);
    }
    c.n_runs = e->n_variants * e->n_seeds;
    c.runs = calloc((size_t)c.n_runs, sizeof *c.runs);
    int exit_code = EXIT_OK;
    if (!c.runs || !self_exe()) {
        fprintf(stderr, "frugal compare: out of memory\n");
        exit_code = EXIT_FAIL;
        goto done;
    }
    /* the runs, seed by seed, each seed's baseline first (the checkpoint guard compares
     * against it); c.runs[s * n_variants + v] */
    for (int s = 0; s < e->n_seeds; s++)
        for (int v = 0; v < e->n_variants; v++) {
            struct run *r = &c.runs[s * e->n_variants + v];
            r->v = v;
            r->s = s;
            snprintf(r->tag, sizeof r->tag, "%s_s%" PRIu64, e->v[v].name, e->seeds[s]);
            if (e->steps) {
                r->steps = e->steps;
            } else {
                double tps = flag_value(e, v, "--batch", 16) * flag_value(e, v, "--seq", 128) *
                             flag_value(e, v, "--accum", 1);
                r->steps = tps >= 1 ? (int64_t)ceil((double)e->tokens / tps) : 1;
            }
            if (e->check_at > 0) {
                r->check_step = (int64_t)llround(e->check_at * (double)r->steps);
                if (r->check_step < 1)
                    r->check_step = 1;
            }
        }
    /* every variant's flags, checked by frugal train itself before anything runs */
    for (int v = 0; v < e->n_variants; v++) {
        struct argv_buf b;
        char tmp[] = "/tmp/frugal_compare_check_XXXXXX";
        int fd = mkstemp(tmp);
        if (fd >= 0)
            close(fd);
        build_argv(&c, &c.runs[v], NULL, &b, 1);
        int code = run_wait(b.a, NULL, fd >= 0 ? tmp : NULL);
        if (code != 0) {
            char why[320];
            last_line(tmp, why, sizeof why);
            fprintf(stderr, "frugal compare: variant \"%s\": %s\n", e->v[v].name,
                    why[0] ? why : "frugal train refused its flags");
            exit_code = EXIT_USAGE;
        }
        if (fd >= 0)
            unlink(tmp);
    }
    if (exit_code)
        goto done;
    if ((exit_code = claim_dir(out, text, len, exp_path)) != 0)
        goto done;
    char path[4200];
    snprintf(path, sizeof path, "%s/runs", out);
    if (cli_mkdir_p(path) != 0) {
        fprintf(stderr, "frugal compare: cannot create %s: %s\n", path, strerror(errno));
        exit_code = EXIT_FAIL;
        goto done;
    }
    if (e->n_corpus && access(c.train, R_OK) != 0) {
        char *pa[FG_EXP_MAX_CORPUS + 12];
        char ddir[4200], plog[4200], tok[4300], vocab[32];
        snprintf(ddir, sizeof ddir, "%s/data", out);
        snprintf(plog, sizeof plog, "%s/data.log", out);
        snprintf(tok, sizeof tok, "%s/tokenizer.json", ddir);
        snprintf(vocab, sizeof vocab, "%d", e->corpus_vocab);
        if (!quiet)
            fprintf(stderr, "compare %s: preparing the corpus into %s%s\n", e->name, ddir,
                    e->corpus_vocab > 256 ? " (learning its BPE first)" : "");
        int code = cli_mkdir_p(ddir);
        if (code == 0 && e->corpus_vocab > 256) {
            int n = 0;
            pa[n++] = (char *)self_exe();
            pa[n++] = "tokenizer";
            pa[n++] = "train";
            pa[n++] = "--vocab-size";
            pa[n++] = vocab;
            pa[n++] = "-o";
            pa[n++] = tok;
            pa[n++] = "--quiet";
            for (int i = 0; i < e->n_corpus; i++)
                pa[n++] = e->corpus[i];
            pa[n] = NULL;
            code = run_wait(pa, NULL, plog);
        }
        if (code == 0) {
            int n = 0;
            pa[n++] = (char *)self_exe();
            pa[n++] = "prepare";
            pa[n++] = "-o";
            pa[n++] = ddir;
            pa[n++] = "--docs-split";
            pa[n++] = "blank";
            if (e->corpus_vocab > 256) {
                pa[n++] = "--tokenizer";
                pa[n++] = tok;
            }
            for (int i = 0; i < e->n_corpus; i++)
                pa[n++] = e->corpus[i];
            pa[n] = NULL;
            code = run_wait(pa, NULL, plog);
        }
        if (code != 0) {
            char why[320];
            last_line(plog, why, sizeof why);
            fprintf(stderr, "frugal compare: preparing the corpus failed: %s\n", why);
            exit_code = EXIT_FAIL;
            goto done;
        }
    }

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    int tty = !quiet && isatty(2), total = c.n_runs, finished = 0, started = 0;
    double sum_s = 0;
    for (int i = 0; i < c.n_runs; i++) {
        read_status(&c, &c.runs[i]);
        if (c.runs[i].status == RUN_DONE || c.runs[i].status == RUN_ABORTED) {
            finished++;
            if (c.runs[i].status == RUN_DONE)
                read_result(&c, &c.runs[i]);
        } else {
            c.runs[i].status = RUN_TODO; /* crashed before: run again */
        }
    }
    if (!quiet && finished)
        fprintf(stderr, "compare %s: resuming in %s: %d of %d runs already finished\n", e->name,
                out, finished, total);
    int next = 0, running = 0;
    while (!g_stop) {
        /* start runs up to --jobs; a variant waits for its seed's baseline when the checkpoint
         * guard needs the baseline's metrics */
        while (running < jobs && next < c.n_runs) {
            struct run *r = &c.runs[next];
            if (r->status != RUN_TODO) {
                next++;
                continue;
            }
            const struct run *bl = &c.runs[r->s * e->n_variants + e->baseline];
            if (e->check_at > 0 && r->v != e->baseline && bl->status == RUN_TODO)
                break;
            char mpath[4200], opath[4200], lpath[4200];
            run_path(&c, r, "jsonl", mpath, sizeof mpath);
            run_path(&c, r, "json", opath, sizeof opath);
            run_path(&c, r, "log", lpath, sizeof lpath);
            struct argv_buf b;
            build_argv(&c, r, mpath, &b, 0);
            r->metrics_off = 0;
            r->step = 0;
            r->spike_run = 0;
            r->abort_sent = 0;
            r->reason[0] = '\0';
            r->t0 = fg_time_now();
            FILE *trunc = fopen(mpath, "w"); /* a rerun's guards must not read the old lines */
            if (trunc)
                fclose(trunc);
            r->pid = spawn(b.a, opath, lpath);
            if (r->pid < 0) {
                fprintf(stderr, "frugal compare: cannot start a process: %s\n", strerror(errno));
                g_stop = SIGTERM;
                break;
            }
            started++;
            running++;
            if (!quiet && !tty)
                fprintf(stderr, "compare %s: run %d/%d: %s (%" PRId64 " steps)\n", e->name,
                        finished + running, total, r->tag, r->steps);
            next++;
        }
        if (!running)
            break;
        sleep_ms(100);
        for (int i = 0; i < c.n_runs; i++) {
            struct run *r = &c.runs[i];
            if (r->pid <= 0)
                continue;
            watch(&c, r);
            int ws;
            pid_t w = waitpid(r->pid, &ws, WNOHANG);
            if (w != r->pid)
                continue;
            watch(&c, r); /* the last lines */
            r->pid = 0;
            running--;
            finished++;
            sum_s += fg_time_now() - r->t0;
            finish_run(&c, r, ws);
            if (tty)
                fputs("\r\033[K", stderr);
            if (!quiet)
                fprintf(stderr, "compare %s: %s %s%s%s\n", e->name, r->tag, status_names[r->status],
                        r->reason[0] ? ": " : "", r->reason);
        }
        int left = total - finished;
        progress(&c, tty, finished, total,
                 started && finished ? sum_s / (finished > 0 ? finished : 1) * left : -1.0);
    }
    if (g_stop) {
        for (int i = 0; i < c.n_runs; i++)
            if (c.runs[i].pid > 0) {
                kill(c.runs[i].pid, SIGTERM);
                waitpid(c.runs[i].pid, NULL, 0);
            }
        if (tty)
            fputs("\n", stderr);
        fprintf(stderr,
                "frugal compare: interrupted; run it again with the same -o %s to continue\n", out);
        exit_code = 128 + (int)g_stop;
        goto done;
    }
    if (tty)
        fputs("\r\033[K", stderr);
    int crashed = 0;
    for (int i = 0; i < c.n_runs; i++)
        crashed += c.runs[i].status == RUN_CRASHED;
    if (compare_report(&c) != 0)
        exit_code = EXIT_FAIL;
    else if (!quiet)
        fprintf(stderr, "compare %s: report in %s/report.md\n", e->name, out);
    if (crashed)
        exit_code = EXIT_FAIL;
done:
    free(c.runs);
    free(e);
    fg_free(NULL, text);
    return exit_code;
}
