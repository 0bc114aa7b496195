#!/usr/bin/python3
"""Reference values for frugal's experiment statistics (include/frugal/exp.h), from SciPy.

Writes tests/data/stats_ref.json: for each case, the baseline x and variant y (paired by seed),
the equivalence margin and alpha, and SciPy's answers: scipy.stats.ttest_rel (t, p), the
pooled Cohen's d computed with NumPy, and the two one-sided tests (TOST) from
scipy.stats.t.sf / t.cdf. Run by hand (Debian's python3-scipy), not in CI:

    /usr/bin/python3 scripts/stats_reference.py > tests/data/stats_ref.json
"""
import json
import sys

import numpy as np
from scipy import stats


def case(name, x, y, margin, alpha=0.05):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    d = y - x
    t, p = stats.ttest_rel(y, x)
    se = d.std(ddof=1) / np.sqrt(n)
    p_low = stats.t.sf((d.mean() + margin) / se, n - 1)
    p_high = stats.t.cdf((d.mean() - margin) / se, n - 1)
    pooled = np.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    return {
        "name": name, "x": x.tolist(), "y": y.tolist(), "margin": margin, "alpha": alpha,
        "mean_x": x.mean(), "mean_y": y.mean(), "sd_x": x.std(ddof=1), "sd_y": y.std(ddof=1),
        "mean_diff": d.mean(), "sd_diff": d.std(ddof=1), "t": float(t), "p": float(p),
        "cohens_d": (y.mean() - x.mean()) / pooled, "tost_p": max(p_low, p_high),
        "equivalent": bool(max(p_low, p_high) < alpha),
    }


rng = np.random.default_rng(20240520)
cases = [
    # validation losses of 3 seeds: flash within a hair of fp32 (the usual question)
    case("flash_vs_fp32_3_seeds", [4.0886, 4.0882, 4.0824], [4.0977, 4.0922, 4.0940], 0.02),
    case("two_seeds", [4.4384, 4.4323], [4.4391, 4.4332], 0.01),
    case("clearly_worse", [3.10, 3.12, 3.11, 3.09], [3.30, 3.35, 3.31, 3.33], 0.05),
    case("equivalent_tight", [2.500, 2.510, 2.505, 2.495, 2.502],
         [2.501, 2.509, 2.506, 2.496, 2.503], 0.01),
    case("faster_is_negative", [100.0, 104.0, 98.0], [80.0, 85.0, 79.0], 5.0, 0.1),
]
for n in (2, 3, 5, 10, 30):
    x = 4.0 + 0.02 * rng.standard_normal(n)
    y = x + 0.005 + 0.01 * rng.standard_normal(n)
    cases.append(case("random_n%d" % n, x, y, 0.01))
json.dump({"source": "scripts/stats_reference.py, SciPy %s, NumPy %s"
           % (__import__("scipy").__version__, np.__version__), "cases": cases},
          sys.stdout, indent=1)
sys.stdout.write("\n")
