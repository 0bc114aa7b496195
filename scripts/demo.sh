#!/bin/sh
# make demo: byte-level GPT on Jane Austen, about 3 minutes on 2 cores.
# DEMO_STEPS=N shortens it (CI uses 30); DEMO_SECONDS caps the time (default 180).
set -e
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${DEMO_OUT:-runs/austen}
STEPS=${DEMO_STEPS:-2100}
SECONDS_BUDGET=${DEMO_SECONDS:-180}
mkdir -p "$OUT"
rm -f "$OUT"/ckpt_*.safetensors # the demo's own directory: start clean
echo "== preparing data/austen (6 novels, one document per paragraph, deduplicated, byte-level tokens) into $OUT"
"$FRUGAL" prepare -o "$OUT" --docs-split blank data/austen/*.txt
echo "== training: 4 layers, 4 heads, width 128, context 128 (0.84M parameters), $STEPS steps, at most ${SECONDS_BUDGET}s"
"$FRUGAL" train --data "$OUT/train.bin" --val "$OUT/val.bin" \
    --n-layer 4 --n-head 4 --n-embd 128 --block-size 128 --batch 16 --seq 128 \
    --steps "$STEPS" --warmup 50 --lr 3e-3 --lr-min 3e-4 --eval-every 100 --eval-batches 20 \
    --time-budget "$SECONDS_BUDGET" --ckpt-dir "$OUT" --ckpt-every 200 --keep 1 \
    --metrics "$OUT/metrics.jsonl"
CKPT=$(ls "$OUT"/ckpt_*.safetensors | tail -n 1)
echo "== validation, whole split"
"$FRUGAL" eval --ckpt "$CKPT" --data "$OUT/val.bin" --seq 128
echo "== sample (temperature 0.8, top-k 40)"
"$FRUGAL" sample --ckpt "$CKPT" --prompt "It is a truth universally acknowledged" --n 300 --seed 7
