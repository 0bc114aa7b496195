/* frugal compare: shared between the runner (cmd_compare.c) and the report (compare_report.c). */
#ifndef FRUGAL_COMPARE_H
#define FRUGAL_COMPARE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frugal/exp.h"

enum run_status { RUN_TODO = 0, RUN_DONE, RUN_ABORTED, RUN_CRASHED };

#define N_MEM 9 /* the ledger's memory components */

/* their keys in frugal train --json's "memory" object, and their names in the report */
struct compare_mem_field {
    const char *key, *label;
};
extern const struct compare_mem_field compare_mem[N_MEM];

struct run {
    int v, s;           /* variant and seed indices */
    char tag[96];       /* <variant>_s<seed>: the stem of its files in DIR/runs */
    int64_t steps;      /* its budget in steps */
    int64_t check_step; /* the checkpoint guard's step (0 = none) */
    enum run_status status;
    char reason[320]; /* aborted or crashed: why */
    /* results of a finished run (its --json) */
    double final_val, tokens_per_s, peak_rss, dollars, wall_s, train_s;
    double mem[N_MEM];
    /* while it runs */
    pid_t pid;
    double t0;
    int abort_sent;
    int64_t step;     /* last step seen in its metrics */
    int spike_run;    /* consecutive steps above the spike factor */
    long metrics_off; /* bytes of its metrics file read so far */
};

struct compare {
    const struct fg_experiment *e;
    const char *dir;
    char train[4096], val[4096]; /* the shards every run reads */
    int n_runs;
    struct run *runs;
};

/* DIR/report.md, DIR/summary.json and the PNG plots (gnuplot) from the runs' files. Returns 0,
 * or -1 when the report could not be written (the message printed). */
int compare_report(const struct compare *c);

#endif
