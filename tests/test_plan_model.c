/* The planner and the trainer agree (one truth): for a frugal model, the planner's training
 * FLOPs equal the count `frugal train` reports, and its memory per device is within 10% of the
 * peak RSS the training run measures (above the process's resident size before training).
 * Runs a short real training run of a 4-layer, width-256 model (config S of the benchmarks)
 * on random tokens, in its own process so the peak RSS belongs to this run alone. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frugal/plan.h"
#include "frugal/train.h"
#include "test.h"

/* AddressSanitizer's shadow memory inflates the resident size: the memory check is skipped */
#if defined(__SANITIZE_ADDRESS__)
#    define UNDER_ASAN 1
#elif defined(__has_feature)
#    if __has_feature(address_sanitizer)
#        define UNDER_ASAN 1
#    endif
#endif
#ifndef UNDER_ASAN
#    define UNDER_ASAN 0
#endif

/* resident set now, in bytes (statm), 0 if unknown */
static double rss_now(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (!f)
        return 0.0;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = 0;
    fclose(f);
    return (double)res * (double)sysconf(_SC_PAGESIZE);
}

TEST(plan_matches_trainer)
{
    char dir[] = "/tmp/frugal_test_plan_XXXXXX", path[512], err[512];
    if (!mkdtemp(dir)) {
        fg_test_fail(t, __FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    size_t n = 1 << 16;
    uint16_t *tok = malloc(n * sizeof *tok);
    struct fg_rng r;
    fg_rng_seed(&r, t->seed);
    for (size_t i = 0; i < n; i++)
        tok[i] = (uint16_t)fg_rng_below(&r, 4096);
    snprintf(path, sizeof path, "%s/train.bin", dir);
    CHECK_OK(t, fg_shard_write(path, tok, n, err, sizeof err));
    free(tok);

    struct fg_train_params tp = fg_train_params_default();
    struct fg_model_config cfg = { 4, 4, 256, 256, 4096 };
    tp.cfg = cfg;
    tp.train_path = path;
    tp.B = 8;
    tp.T = 256;
    tp.steps = 3;
    tp.eval_every = 0;
    tp.n_threads = 2;
    double rss0 = rss_now();
    struct fg_train_result res;
    CHECK_OK(t, fg_train(&tp, &res, err, sizeof err));
    unlink(path);
    rmdir(dir);

    struct fg_plan_params pp;
    fg_plan_defaults(&pp, FG_PLAN_PRESET_REALISTIC);
    CHECK_OK(t, fg_plan_from_model(&pp, &cfg, tp.B, tp.T, (double)tp.steps, err, sizeof err));
    pp.device_memory = 24e9;
    struct fg_plan_result pr;
    CHECK_OK(t, fg_plan_compute(&pp, &pr, err, sizeof err));

    /* FLOPs: the trainer's ledger is tokens x flops_per_token */
    double ledger = (double)res.tokens * res.flops_per_token;
    CHECK(t, res.tokens == tp.steps * tp.B * tp.T);
    CHECK(t, pr.train_flops == ledger);
    CHECK(t, pr.replica_devices == 1.0 && pr.fits);
    CHECK(t, pp.params == (double)res.n_params);

    /* memory: the plan's bytes per device vs the run's peak above the starting resident size */
    if (UNDER_ASAN) {
        fg_test_skip(t, "memory check skipped under AddressSanitizer (shadow memory)");
        return;
    }
    double measured = (double)res.peak_rss_bytes - rss0;
    double rel = fabs(pr.mem_total - measured) / pr.mem_total;
    printf("  plan %.1f MiB, measured peak %.1f MiB above %.1f MiB at start (%.1f%%)\n",
           pr.mem_total / 1048576.0, measured / 1048576.0, rss0 / 1048576.0, 100.0 * rel);
    CHECK(t, rel <= 0.10);
}

static const struct fg_test_case cases[] = {
    { "plan_matches_trainer", test_plan_matches_trainer },
};

int main(int argc, char **argv)
{
    return fg_test_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
