#!/usr/bin/env bash
# Quality of the flash optimizer storage: each optimizer trained twice on the same data order
# and seed, with --optim-storage fp32 and flash; final validation loss per run, the mean over
# seeds, flash's difference from its fp32 twin, and the ledger's bytes per parameter.
#
#   scripts/bench_flash_train.sh                     full run: 3 optimizers x 2 storages x 3
#                                                    seeds x 2,000 steps (18 runs)
#   STEPS=100 SEEDS=1 scripts/bench_flash_train.sh   smoke test
#
# Data: data/austen with a 4,096-token BPE frugal learns from it (as bench_mx_train.sh), in
# $OUT/data. Model: config S of the core-trainer issue (L=4, C=256, NH=4, T=256, V=4096, B=8).
# Schedule: warmup 100 (STEPS/10 below 1,000), cosine to lr/10, clip 1.0, weight decay 0.1.
# Optimizers (OPTIMS, default "adamw lion sgd"): AdamW lr 1e-3 (0.9, 0.95); Lion lr 2e-4
# (0.9, 0.99); SGD lr 0.1, Nesterov momentum 0.9. EXTRA adds flags to the flash runs (e.g.
# EXTRA=--grad-release, or EXTRA="--master-bits 32"). The final validation scores 40 batches
# of 8 x 256 tokens (nats per token). REUSE=1 keeps completed runs in $OUT/runs.
# scripts/flash_quality_report.py $OUT/runs DIR summarizes the finished runs, all or some, with
# the loss curves (DIR/curves.tsv, curves.png) and a copy of each run's summary.
set -euo pipefail
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${OUT:-runs/bench_flash}
STEPS=${STEPS:-2000}
SEEDS=${SEEDS:-3}
OPTIMS=${OPTIMS:-adamw lion sgd}
EXTRA=${EXTRA:-}
THREADS=${THREADS:-$(nproc)}
WARMUP=${WARMUP:-$((STEPS >= 1000 ? 100 : STEPS / 10))}
REUSE=${REUSE:-0}
PY=/usr/bin/python3
. "$(dirname "$0")/bench_lib.sh"
[ -x "$FRUGAL" ] || make -j2 "$FRUGAL" >/dev/null
[ -x "$PY" ] || { echo "bench_flash_train: needs /usr/bin/python3 for the summary"; exit 1; }
mkdir -p "$OUT/runs"
prepare_austen "$OUT/data" 4096

optim_flags() {
    case $1 in
    adamw) echo "--optimizer adamw --lr 1e-3 --lr-min 1e-4" ;;
    lion) echo "--optimizer lion --lr 2e-4 --lr-min 2e-5" ;;
    sgd) echo "--optimizer sgd --lr 0.1 --lr-min 0.01 --momentum 0.9 --nesterov" ;;
    *) echo "bench_flash_train: unknown optimizer '$1' (adamw lion sgd)" >&2; exit 2 ;;
    esac
}

MODEL=(--n-layer 4 --n-head 4 --n-embd 256 --block-size 256 --vocab-size 4096 --batch 8 --seq 256)
HP=(--steps "$STEPS" --warmup "$WARMUP" --grad-clip 1.0 --eval-every 0 --eval-batches 40
    --threads "$THREADS" --json)
echo "== config S: ${MODEL[*]}; $STEPS steps, seeds 1..$SEEDS, optimizers: $OPTIMS${EXTRA:+; flash runs add $EXTRA}"
for opt in $OPTIMS; do
    oflags=$(optim_flags "$opt")
    for storage in fp32 flash; do
        for ((seed = 1; seed <= SEEDS; seed++)); do
            tag=${opt}_${storage}_s${seed}
            extra=""
            [ "$storage" = flash ] && extra=$EXTRA
            if [ "$REUSE" = 1 ] && run_done "$OUT/runs/$tag.json" "$STEPS"; then
                echo "(reusing $OUT/runs/$tag.json)"
            else
                # shellcheck disable=SC2086 # oflags and extra are lists of words
                "$FRUGAL" train --data "$OUT/data/train.bin" --val "$OUT/data/val.bin" \
                    "${MODEL[@]}" "${HP[@]}" $oflags --optim-storage "$storage" $extra \
                    --seed "$seed" --metrics "$OUT/runs/$tag.jsonl" >"$OUT/runs/$tag.json" \
                    2>"$OUT/runs/$tag.log"
            fi
            "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
print("run %-18s final val loss %.4f, %.3f bytes/param, peak %.0f MiB, %.0f s, %.0f tokens/s"
      % (sys.argv[2], o["final_val_loss"], o["memory"]["bytes_per_param"],
         o["peak_rss_bytes"] / 1048576, o["seconds"], o["tokens_per_s"]))' "$OUT/runs/$tag.json" "$tag"
        done
    done
done

# shellcheck disable=SC2086 # OPTIMS is a list of words
"$PY" - "$OUT/runs" "$SEEDS" $OPTIMS <<'PYEOF'
import json, statistics, sys
runs, seeds, optims = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
print()
print("| optimizer | storage | bytes/param | val loss per seed | mean | flash vs fp32 | s per run |")
print("|---|---|---|---|---|---|---|")
for o in optims:
    mean = {}
    for st in ("fp32", "flash"):
        r = [json.load(open("%s/%s_%s_s%d.json" % (runs, o, st, s))) for s in range(1, seeds + 1)]
        v = [x["final_val_loss"] for x in r]
        mean[st] = statistics.mean(v)
        rel = "%+.2f%%" % (100 * (mean[st] - mean["fp32"]) / mean["fp32"]) if st == "flash" else "-"
        print("| %s | %s | %.3f | %s | %.4f | %s | %.0f |" % (
            o, st, r[0]["memory"]["bytes_per_param"], ", ".join("%.4f" % a for a in v), mean[st],
            rel, statistics.mean(x["seconds"] for x in r)))
PYEOF
