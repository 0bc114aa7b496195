/* bench_plan: planner evaluations per second on one core (the sweep and search inner loop).
 *
 *   bench_plan [--evals N]
 *
 * Evaluates fg_plan_compute over a sweep of cluster sizes (paper preset, 1.8T parameters,
 * K-of-N on, so the lgamma path runs) and prints evaluations per second and one JSON line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frugal/core.h"
#include "frugal/plan.h"

int main(int argc, char **argv)
{
    long evals = 2000000;
    if (argc == 3 && !strcmp(argv[1], "--evals"))
        evals = strtol(argv[2], NULL, 10);
    else if (argc != 1) {
        fprintf(stderr, "usage: bench_plan [--evals N]\n");
        return 2;
    }
    if (evals < 1) {
        fprintf(stderr, "bench_plan: --evals must be >= 1\n");
        return 2;
    }
    struct fg_plan_params p;
    fg_plan_defaults(&p, FG_PLAN_PRESET_PAPER);
    p.params = 1.8e12;
    p.k_tol = 5;
    double sink = 0.0, best = 1e300;
    for (int rep = 0; rep < 3; rep++) {
        double t0 = fg_time_now();
        for (long i = 0; i < evals; i++) {
            struct fg_plan_result r;
            p.devices = 16384.0 + (double)(i % 83616);
            if (fg_plan_compute(&p, &r, NULL, 0) == FG_OK)
                sink += r.cost;
        }
        double dt = fg_time_now() - t0;
        if (dt < best)
            best = dt;
    }
    double rate = (double)evals / best;
    printf("plan evaluations: %.2f million per second on one core (%ld evals in %.3f s; "
           "checksum %.6g)\n",
           rate / 1e6, evals, best, sink);
    printf("JSON {\"evals_per_s\":%.0f,\"evals\":%ld,\"seconds\":%.6f}\n", rate, evals, best);
    return 0;
}
