#!/usr/bin/env bash
# Memory and step time of the optimizer storages on config M (GPT-2 124M): fp32 AdamW, flash
# AdamW, flash AdamW with gradient release, one run after the other in this script.
#
#   scripts/bench_flash_mem.sh [REPEATS]     (default 1; each run is STEPS steps)
#
# Data: data/austen with GPT-2's vocabulary (frugal prepare --tokenizer gpt2), prepared once
# into $OUT/data. Model: config M of the core-trainer issue: L=12, C=768, NH=12, block 1024,
# V=50257 (padded 50304), micro-batch B=4 x T=64 as in bench_train --config M; AdamW, no
# evaluation, no checkpoint. Each run is its own process, so its peak RSS (getrusage) is its
# own. ms/step is the median over the steps after the first two (warm-up), from --metrics.
set -euo pipefail
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${OUT:-runs/bench_flash_mem}
STEPS=${STEPS:-12}
THREADS=${THREADS:-$(nproc)}
REPEATS=${1:-1}
PY=/usr/bin/python3
[ -x "$FRUGAL" ] || make -j2 "$FRUGAL" >/dev/null
mkdir -p "$OUT/data" "$OUT/runs"
if [ ! -s "$OUT/data/train.bin" ]; then
    echo "== preparing data/austen with GPT-2's vocabulary into $OUT/data"
    "$FRUGAL" prepare -o "$OUT/data" --docs-split blank --tokenizer gpt2 data/austen/*.txt \
        >"$OUT/data/prepare.log" 2>&1
fi
MODEL=(--n-layer 12 --n-head 12 --n-embd 768 --block-size 1024 --vocab-size 50257 --batch 4
    --seq 64)
HP=(--steps "$STEPS" --warmup 2 --eval-every 0 --threads "$THREADS" --quiet --json)
echo "== config M: ${MODEL[*]}; $STEPS steps, $THREADS threads, $REPEATS repeat(s)"
for ((rep = 1; rep <= REPEATS; rep++)); do
    for mode in fp32 flash flash_release; do
        case $mode in
        fp32) flags=(--optim-storage fp32) ;;
        flash) flags=(--optim-storage flash) ;;
        flash_release) flags=(--optim-storage flash --grad-release) ;;
        esac
        tag=${mode}_r$rep
        "$FRUGAL" train --data "$OUT/data/train.bin" "${MODEL[@]}" "${HP[@]}" "${flags[@]}" \
            --metrics "$OUT/runs/$tag.jsonl" >"$OUT/runs/$tag.json"
        "$PY" - "$OUT/runs/$tag.json" "$OUT/runs/$tag.jsonl" "$mode" <<'EOF'
import json, statistics, sys
o = json.load(open(sys.argv[1]))
steps = [json.loads(l) for l in open(sys.argv[2])]
ms = statistics.median(s["ms_per_step"] for s in steps[2:]) if len(steps) > 2 else float("nan")
m = o["memory"]
mib = 1048576.0
print("%-14s peak RSS %7.1f MiB | %.3f bytes/param (weights %.0f, master %.0f, grads %.0f, "
      "states %.0f + %.0f, scales %.1f MiB) | decode %.1f MiB, activations %.1f MiB | "
      "median %.0f ms/step" % (sys.argv[3], o["peak_rss_bytes"] / mib, m["bytes_per_param"],
      m["weights"] / mib, m["master"] / mib, m["grads"] / mib, m["state_m"] / mib,
      m["state_v"] / mib, m["scales"] / mib, m["decode"] / mib, m["activations"] / mib, ms))
EOF
    done
done
