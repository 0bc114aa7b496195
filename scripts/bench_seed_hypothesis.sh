#!/usr/bin/env bash
# The seed hypothesis of the step-cost issue: "memory-efficient attention, gradient checkpointing
# and fused optimizer kernels together cut the cost of training by at least 20% and the peak
# memory by at least 25% at sequence length 2048, with no loss in quality and no loss in
# throughput". A baseline (standard attention, nothing recomputed, fp32 AdamW, fp32 products)
# against each component alone and the full stack, at T = 2,048, on the same data and seeds:
#
#   baseline  --attention standard --recompute none  --optim-storage fp32  --dtype fp32
#   tiled     --attention tiled                                           (everything else as
#   recompute --recompute block                                            the baseline)
#   flash     --optim-storage flash
#   bf16      --dtype bf16
#   full      --attention tiled --recompute block --optim-storage flash --dtype bf16
#
#   scripts/bench_seed_hypothesis.sh                    3 seeds x 200 steps, then the speed pass
#   PART=quality|speed scripts/bench_seed_hypothesis.sh one part only
#
# Model: config S (L=4, C=256, NH=4) with block size 2,048, the 4,096-token BPE of data/austen
# (as bench_flash_train.sh), B = 2 sequences of 2,048 tokens per step, AdamW lr 1e-3 -> 1e-4,
# warmup 30, clip 1.0. Quality: each (variant, seed) trains STEPS steps with `frugal train`;
# the final validation loss scores 10 batches of 2 x 2,048 tokens (deterministic: other load on
# the machine changes nothing but the wall time; REUSE=1 keeps completed runs). Speed and memory:
# the variants alternate REPEATS times (default 3) in short runs of 6 steps (`frugal train
# --json`: tokens/s over the steps, peak RSS of the process); this part needs an otherwise idle
# machine. Cost per token is the inverse of tokens/s; the table gives each variant's medians and
# ratios to the baseline.
set -euo pipefail
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${OUT:-runs/seed_hypothesis}
STEPS=${STEPS:-200}
SEEDS=${SEEDS:-3}
REPEATS=${REPEATS:-3}
PART=${PART:-all}
THREADS=${THREADS:-$(nproc)}
REUSE=${REUSE:-0}
PY=/usr/bin/python3
. "$(dirname "$0")/bench_lib.sh"
[ -x "$FRUGAL" ] || make -j2 "$FRUGAL" >/dev/null
[ -x "$PY" ] || { echo "bench_seed_hypothesis: needs /usr/bin/python3 for the summary"; exit 1; }
mkdir -p "$OUT/runs" "$OUT/speed"
prepare_austen "$OUT/data" 4096

VARIANTS="baseline tiled recompute flash bf16 full"
variant_flags() {
    case $1 in
    baseline) echo "" ;;
    tiled) echo "--attention tiled" ;;
    recompute) echo "--recompute block" ;;
    flash) echo "--optim-storage flash" ;;
    bf16) echo "--dtype bf16" ;;
    full) echo "--attention tiled --recompute block --optim-storage flash --dtype bf16" ;;
    esac
}
MODEL=(--n-layer 4 --n-head 4 --n-embd 256 --block-size 2048 --vocab-size 4096 --batch 2
    --seq 2048)
HP=(--optimizer adamw --lr 1e-3 --lr-min 1e-4 --warmup 30 --grad-clip 1.0 --eval-every 0
    --eval-batches 10 --threads "$THREADS" --json)

if [ "$PART" = all ] || [ "$PART" = quality ]; then
    echo "== quality: $VARIANTS; $STEPS steps, seeds 1..$SEEDS"
    for ((seed = 1; seed <= SEEDS; seed++)); do
        for v in $VARIANTS; do
            tag=${v}_s${seed}
            if [ "$REUSE" = 1 ] && run_done "$OUT/runs/$tag.json" "$STEPS"; then
                echo "(reusing $OUT/runs/$tag.json)"
                continue
            fi
            # shellcheck disable=SC2046 # the variant's flags are a list of words
            "$FRUGAL" train --data "$OUT/data/train.bin" --val "$OUT/data/val.bin" "${MODEL[@]}" \
                "${HP[@]}" --steps "$STEPS" --seed "$seed" $(variant_flags "$v") \
                --metrics "$OUT/runs/$tag.jsonl" >"$OUT/runs/$tag.json" 2>"$OUT/runs/$tag.log"
            "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
print("run %-14s final val loss %.4f, peak %.0f MiB, %.0f tokens/s" % (sys.argv[2],
      o["final_val_loss"], o["peak_rss_bytes"] / 1048576, o["tokens_per_s"]))' \
                "$OUT/runs/$tag.json" "$tag"
        done
    done
fi

if [ "$PART" = all ] || [ "$PART" = speed ]; then
    echo "== speed and memory: $VARIANTS alternating, $REPEATS repeats of 6 steps"
    rm -f "$OUT/speed/"*.json
    for ((rep = 1; rep <= REPEATS; rep++)); do
        for v in $VARIANTS; do
            # shellcheck disable=SC2046
            "$FRUGAL" train --data "$OUT/data/train.bin" "${MODEL[@]}" "${HP[@]}" --steps 6 \
                --seed 1 $(variant_flags "$v") \
                >"$OUT/speed/${v}_r$rep.json" 2>/dev/null
            "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
print("speed %-10s rep %s: %.0f tokens/s, peak %.0f MiB" % (sys.argv[2], sys.argv[3],
      o["tokens_per_s"], o["peak_rss_bytes"] / 1048576))' "$OUT/speed/${v}_r$rep.json" "$v" "$rep"
        done
    done
fi

# shellcheck disable=SC2086
"$PY" - "$OUT" "$SEEDS" "$REPEATS" "$PART" $VARIANTS <<'PYEOF'
import json, os, statistics, sys
out, seeds, reps, part, variants = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
def load(p):
    return json.load(open(p)) if os.path.exists(p) else None
q, s = {}, {}
for v in variants:
    r = [load("%s/runs/%s_s%d.json" % (out, v, k)) for k in range(1, seeds + 1)]
    q[v] = [x["final_val_loss"] for x in r if x]
    r = [load("%s/speed/%s_r%d.json" % (out, v, k)) for k in range(1, reps + 1)]
    r = [x for x in r if x]
    s[v] = (statistics.median(x["tokens_per_s"] for x in r),
            statistics.median(x["peak_rss_bytes"] for x in r)) if r else None
print()
print("| variant | val loss per seed | mean | vs baseline | tokens/s | cost per token vs baseline | peak RSS MiB | vs baseline |")
print("|---|---|---|---|---|---|---|---|")
b = variants[0]
for v in variants:
    qm = statistics.mean(q[v]) if q[v] else float("nan")
    qb = statistics.mean(q[b]) if q[b] else float("nan")
    cols = [v, ", ".join("%.4f" % x for x in q[v]) or "-", "%.4f" % qm if q[v] else "-",
            "%+.2f%%" % (100 * (qm / qb - 1)) if q[v] and q[b] and v != b else ""]
    if s[v] and s[b]:
        cols += ["%.0f" % s[v][0], "%+.1f%%" % (100 * (s[b][0] / s[v][0] - 1)) if v != b else "",
                 "%.0f" % (s[v][1] / 1048576),
                 "%+.1f%%" % (100 * (s[v][1] / s[b][1] - 1)) if v != b else ""]
    else:
        cols += ["-", "", "-", ""]
    print("| " + " | ".join(cols) + " |")
PYEOF
