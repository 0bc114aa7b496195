#!/usr/bin/env bash
# Training with bf16 products (--dtype bf16) against fp32 products: final validation loss per
# run, the mean per dtype and the relative difference, and the step time each run saw.
#
#   scripts/bench_bf16_train.sh                      full run: 2 dtypes x 3 seeds x 1,000 steps
#   STEPS=100 SEEDS=1 scripts/bench_bf16_train.sh    quick smoke test (about a minute)
#
# Data: data/austen with a 4,096-token byte-level BPE frugal learns from the same novels
#   (VOCAB, as in scripts/bench_mx_train.sh), prepared once into $OUT/data.
# Model: config S of the core-trainer issue: L=4, C=256, NH=4, T=256, V=VOCAB, B=8; AdamW lr
#   1e-3 -> 1e-4 (cosine), warmup 100 (STEPS/10 below 1,000 steps), clip 1.0; optimizer
#   storage STORAGE (fp32, or flash). The final validation scores EVAL_BATCHES (40) batches of
#   8 x 256 tokens, in nats per token.
# Dtypes (DTYPES, default "fp32 bf16"), seeds 1..SEEDS, one run at a time; each run's --json
# summary and log go to $OUT/runs/; REUSE=1 keeps completed runs. Step times here come from
# whole runs one after another: for speed, bench/bench_train --dtype runs both side by side.
set -euo pipefail
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${OUT:-runs/bench_bf16}
STEPS=${STEPS:-1000}
SEEDS=${SEEDS:-3}
DTYPES=${DTYPES:-fp32 bf16}
STORAGE=${STORAGE:-fp32}
THREADS=${THREADS:-$(nproc)}
EVAL_BATCHES=${EVAL_BATCHES:-40}
WARMUP=${WARMUP:-$((STEPS >= 1000 ? 100 : STEPS / 10))}
REUSE=${REUSE:-0}
VOCAB=${VOCAB:-4096}
PY=/usr/bin/python3
. "$(dirname "$0")/bench_lib.sh"
[ -x "$FRUGAL" ] || make -j2 "$FRUGAL" >/dev/null
[ -x "$PY" ] || { echo "bench_bf16_train: needs /usr/bin/python3 for the summary"; exit 1; }
mkdir -p "$OUT/runs"

prepare_austen "$OUT/data" "$VOCAB"

MODEL=(--n-layer 4 --n-head 4 --n-embd 256 --block-size 256 --vocab-size "$VOCAB" --batch 8 --seq 256)
HP=(--steps "$STEPS" --lr 1e-3 --lr-min 1e-4 --warmup "$WARMUP" --grad-clip 1.0 --eval-every 0
    --eval-batches "$EVAL_BATCHES" --threads "$THREADS" --optim-storage "$STORAGE")
echo "== config S: ${MODEL[*]}; $STEPS steps, seeds 1..$SEEDS, dtypes: $DTYPES, storage $STORAGE"
for dt in $DTYPES; do
    for ((seed = 1; seed <= SEEDS; seed++)); do
        tag=${dt}_${STORAGE}_s${seed}
        if [ "$REUSE" = 1 ] && run_done "$OUT/runs/$tag.json" "$STEPS"; then
            echo "(reusing $OUT/runs/$tag.json)"
        else
            "$FRUGAL" train --data "$OUT/data/train.bin" --val "$OUT/data/val.bin" "${MODEL[@]}" \
                "${HP[@]}" --seed "$seed" --dtype "$dt" --json >"$OUT/runs/$tag.json" \
                2>"$OUT/runs/$tag.log"
        fi
        "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
print("run %-5s seed %d: final val loss %.4f nats/token, train loss %.4f, %.0f s, %.0f tokens/s"
      % (sys.argv[2], int(sys.argv[3]), o["final_val_loss"], o["final_loss"], o["seconds"],
         o["tokens_per_s"]))' "$OUT/runs/$tag.json" "$dt" "$seed"
    done
done

# shellcheck disable=SC2086 # DTYPES is a list of words
"$PY" - "$OUT/runs" "$SEEDS" "$STORAGE" $DTYPES <<'EOF'
import json, statistics, sys
runs, seeds, storage, dtypes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
res = {d: [json.load(open("%s/%s_%s_s%d.json" % (runs, d, storage, s)))
           for s in range(1, seeds + 1)] for d in dtypes}
base = statistics.mean(r["final_val_loss"] for r in res["fp32"]) if "fp32" in res else None
print()
print("| products | storage | val loss per seed | mean | vs fp32 | tokens/s (mean) |")
print("|---|---|---|---|---|---|")
for d in dtypes:
    v = [r["final_val_loss"] for r in res[d]]
    mean = statistics.mean(v)
    rel = "%+.2f%%" % (100 * (mean - base) / base) if base else "-"
    print("| %s | %s | %s | %.4f | %s | %.0f |" % (d, storage, ", ".join("%.4f" % a for a in v),
          mean, rel, statistics.mean(r["tokens_per_s"] for r in res[d])))
EOF
