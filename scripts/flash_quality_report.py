#!/usr/bin/python3
"""Summarize the runs of scripts/bench_flash_train.sh, complete or not.

    scripts/flash_quality_report.py RUNS_DIR OUT_DIR [STEPS]

RUNS_DIR holds TAG.json (frugal train --json) and TAG.jsonl (--metrics) per run, TAG being
OPTIM_STORAGE_sSEED. Writes into OUT_DIR:
  table.md     final validation loss per seed, the mean, flash against its fp32 twin (only
               seeds both storages finished), bytes per parameter, seconds per run
  curves.tsv   the training loss's moving average every 20 steps, mean over finished seeds,
               one column per optimizer and storage
  runs/        each finished run's --json summary and its metrics every 20 steps (enough for
               the curves: OUT_DIR/runs can serve as RUNS_DIR later)
  curves.png   the curves (when gnuplot is installed)
A run counts as finished when its summary reports STEPS steps (default 2000)."""
import json
import os
import shutil
import statistics
import subprocess
import sys


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    runs, out = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) == 4 else 2000
    done = {}
    for name in sorted(os.listdir(runs)):
        if not name.endswith(".json"):
            continue
        tag = name[:-5]
        parts = tag.split("_")
        o = load(os.path.join(runs, name))
        if len(parts) != 3 or o is None or o.get("steps") != steps:
            continue
        done[(parts[0], parts[1], int(parts[2][1:]))] = o
    os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    for (opt, st, seed) in done:
        tag = "%s_%s_s%d" % (opt, st, seed)
        src, dst = os.path.join(runs, tag), os.path.join(out, "runs", tag)
        if os.path.abspath(src) == os.path.abspath(dst):
            continue
        shutil.copyfile(src + ".json", dst + ".json")
        with open(src + ".jsonl") as f, open(dst + ".jsonl", "w") as g:
            g.writelines(line for line in f if json.loads(line)["step"] % 20 == 0)

    optims = [o for o in ("adamw", "lion", "sgd") if any(k[0] == o for k in done)]
    lines = ["| optimizer | storage | bytes/param | final val loss per seed | mean | flash vs fp32 "
             "(paired seeds) | s per run |", "|---|---|---|---|---|---|---|"]
    for opt in optims:
        fp = {k[2]: v for k, v in done.items() if k[0] == opt and k[1] == "fp32"}
        fl = {k[2]: v for k, v in done.items() if k[0] == opt and k[1] == "flash"}
        paired = sorted(set(fp) & set(fl))
        for st, d in (("fp32", fp), ("flash", fl)):
            if not d:
                continue
            seeds = sorted(d)
            vals = [d[s]["final_val_loss"] for s in seeds]
            rel = "-"
            if st == "flash" and paired:
                a = statistics.mean(fp[s]["final_val_loss"] for s in paired)
                b = statistics.mean(fl[s]["final_val_loss"] for s in paired)
                rel = "%+.2f%% (%d seeds)" % (100 * (b - a) / a, len(paired))
            lines.append("| %s | %s | %.3f | %s | %.4f | %s | %.0f |" % (
                opt, st, d[seeds[0]]["memory"]["bytes_per_param"],
                ", ".join("s%d %.4f" % (s, v) for s, v in zip(seeds, vals)),
                statistics.mean(vals), rel, statistics.mean(d[s]["seconds"] for s in seeds)))
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    cols, series = [], {}
    for opt in optims:
        for st in ("fp32", "flash"):
            curves = []
            for (o, s, seed) in done:
                if o != opt or s != st:
                    continue
                c = {}
                with open(os.path.join(runs, "%s_%s_s%d.jsonl" % (o, s, seed))) as f:
                    for line in f:
                        r = json.loads(line)
                        if "loss_ma" in r and r["step"] % 20 == 0:
                            c[r["step"]] = r["loss_ma"]
                curves.append(c)
            if curves:
                cols.append("%s_%s" % (opt, st))
                series[cols[-1]] = {k: statistics.mean(c[k] for c in curves)
                                    for k in curves[0] if all(k in c for c in curves)}
    if not cols:
        return
    with open(os.path.join(out, "curves.tsv"), "w") as f:
        f.write("step\t" + "\t".join(cols) + "\n")
        for k in sorted(series[cols[0]]):
            f.write("%d\t%s\n" % (k, "\t".join("%.5f" % series[c][k] if k in series[c] else "NaN"
                                                for c in cols)))
    if shutil.which("gnuplot"):
        plot = ", ".join("'%s' using 1:%d with lines title '%s'" % (
            os.path.join(out, "curves.tsv"), i + 2, c.replace("_", " ")) for i, c in enumerate(cols))
        script = ("set terminal pngcairo size 900,560; set output '%s';"
                  "set xlabel 'step'; set ylabel 'training loss (moving average), mean over seeds';"
                  "set yrange [3.8:6]; set key top right; set grid; plot %s"
                  % (os.path.join(out, "curves.png"), plot))
        subprocess.run(["gnuplot", "-e", script], check=False)


if __name__ == "__main__":
    main()
