#!/bin/sh
# make demo: a GPT on Jane Austen with a BPE vocabulary frugal learns first, about 3 minutes on
# 2 cores. DEMO_STEPS=N shortens it (CI uses 30); DEMO_SECONDS caps the training time (default
# 180); DEMO_OUT sets the output directory (default runs/austen).
set -e
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${DEMO_OUT:-runs/austen}
STEPS=${DEMO_STEPS:-1600}
SECONDS_BUDGET=${DEMO_SECONDS:-180}
VOCAB=4096
mkdir -p "$OUT"
rm -f "$OUT"/ckpt_*.safetensors # the demo's own directory: start clean
echo "== learning a $VOCAB-token byte-level BPE vocabulary from data/austen (6 novels)"
"$FRUGAL" tokenizer train --vocab-size "$VOCAB" -o "$OUT/tokenizer.json" data/austen/*.txt
echo "== preparing data/austen (one document per paragraph, deduplicated, BPE tokens) into $OUT"
"$FRUGAL" prepare -o "$OUT" --docs-split blank --tokenizer "$OUT/tokenizer.json" data/austen/*.txt
echo "== training: 4 layers, 4 heads, width 128, context 128 tokens (1.33M parameters), $STEPS steps, at most ${SECONDS_BUDGET}s"
"$FRUGAL" train --data "$OUT/train.bin" --val "$OUT/val.bin" --vocab-size "$VOCAB" \
    --n-layer 4 --n-head 4 --n-embd 128 --block-size 128 --batch 16 --seq 128 \
    --steps "$STEPS" --warmup 50 --lr 3e-3 --lr-min 3e-4 --eval-every 100 --eval-batches 20 \
    --time-budget "$SECONDS_BUDGET" --ckpt-dir "$OUT" --ckpt-every 200 --keep 1 \
    --metrics "$OUT/metrics.jsonl"
CKPT=$(ls "$OUT"/ckpt_*.safetensors | tail -n 1)
echo "== validation, whole split (nats per byte of text, comparable across vocabularies)"
"$FRUGAL" eval --ckpt "$CKPT" --data "$OUT/val.bin" --seq 128 --tokenizer "$OUT/tokenizer.json"
echo "== sample (temperature 0.8, top-k 40)"
"$FRUGAL" sample --ckpt "$CKPT" --tokenizer "$OUT/tokenizer.json" \
    --prompt "It is a truth universally acknowledged" --n 120 --seed 7
