#!/usr/bin/env bash
# Training with OCP MX formats (emulated) against fp32: final validation loss per run, the mean
# per mode, the relative difference from fp32, and the MX ledger's bytes.
#
#   scripts/bench_mx_train.sh                       full run: 3 modes x 3 seeds x 2,000 steps
#   STEPS=100 SEEDS=1 scripts/bench_mx_train.sh     quick smoke test (a few minutes)
#
# Data: data/austen, prepared once into $OUT/data. VOCAB (default 4096, config S's vocabulary)
#   is a byte-level BPE frugal learns from the same novels first:
#     frugal tokenizer train --vocab-size 4096 -o $OUT/data/tokenizer.json data/austen/*.txt
#     frugal prepare -o $OUT/data --docs-split blank --tokenizer $OUT/data/tokenizer.json ...
#   VOCAB=256 trains on raw bytes instead (no tokenizer; use a separate OUT).
# Model: config S of the core-trainer issue: L=4, C=256, NH=4, T=256 (block size 256),
#   V=VOCAB, B=8; AdamW lr 1e-3 -> 1e-4 (cosine), warmup 100 (STEPS/10 below 1,000 steps),
#   clip 1.0; the final validation scores EVAL_BATCHES (40) batches of 8 x 256 tokens, in nats
#   per token (per byte when VOCAB=256).
# Modes (MODES, space-separated; default "fp32 mxfp8 mxfp4"):
#   fp32       no quantization
#   mxfp8      --mx-weights e4m3 --mx-activations e4m3
#   mxfp4      --mx-weights e2m1 --mx-activations e2m1
#   mxfp6      --mx-weights e3m2 --mx-activations e3m2 (microxcaling's MXFP6 example)
#   mxfp8_all  e4m3 weights, activations and gradients (microxcaling's default mapping: its
#              backward formats default to the forward ones, so gradients take the
#              activation format)
# Gradients stay fp32 in mxfp8/mxfp4/mxfp6 unless GRADS=FMT is set (e.g. GRADS=e5m2).
# Seeds 1..SEEDS; runs are sequential (the machine has 2 cores). Every run's JSON summary and
# log go to $OUT/runs/; REUSE=1 keeps the runs already there that completed STEPS steps (to
# continue an interrupted benchmark, or to redo only the summary). The products still run in fp32 (the emulation rounds the operands):
# MX runs are slower than fp32 here and the ledger's bytes are what real MX storage would take.
set -euo pipefail
FRUGAL=${FRUGAL:-build/release/frugal}
OUT=${OUT:-runs/bench_mx}
STEPS=${STEPS:-2000}
SEEDS=${SEEDS:-3}
MODES=${MODES:-fp32 mxfp8 mxfp4}
GRADS=${GRADS:-none}
THREADS=${THREADS:-$(nproc)}
EVAL_BATCHES=${EVAL_BATCHES:-40}
WARMUP=${WARMUP:-$((STEPS >= 1000 ? 100 : STEPS / 10))}
REUSE=${REUSE:-0}
VOCAB=${VOCAB:-4096}
PY=/usr/bin/python3
. "$(dirname "$0")/bench_lib.sh"
[ -x "$FRUGAL" ] || make -j2 "$FRUGAL" >/dev/null
[ -x "$PY" ] || { echo "bench_mx_train: needs /usr/bin/python3 for the summary"; exit 1; }
mkdir -p "$OUT/runs"

prepare_austen "$OUT/data" "$VOCAB"

mode_flags() {
    case $1 in
    fp32) echo "" ;;
    mxfp8) echo "--mx-weights e4m3 --mx-activations e4m3 --mx-grads $GRADS" ;;
    mxfp4) echo "--mx-weights e2m1 --mx-activations e2m1 --mx-grads $GRADS" ;;
    mxfp6) echo "--mx-weights e3m2 --mx-activations e3m2 --mx-grads $GRADS" ;;
    mxfp8_all) echo "--mx-weights e4m3 --mx-activations e4m3 --mx-grads e4m3" ;;
    *) echo "bench_mx_train: unknown mode '$1' (fp32 mxfp8 mxfp4 mxfp6 mxfp8_all)" >&2; exit 2 ;;
    esac
}

MODEL=(--n-layer 4 --n-head 4 --n-embd 256 --block-size 256 --vocab-size "$VOCAB" --batch 8 --seq 256)
HP=(--steps "$STEPS" --lr 1e-3 --lr-min 1e-4 --warmup "$WARMUP" --grad-clip 1.0 --eval-every 0
    --eval-batches "$EVAL_BATCHES" --threads "$THREADS")
echo "== config S: ${MODEL[*]}; $STEPS steps, seeds 1..$SEEDS, modes: $MODES"
for mode in $MODES; do
    flags=$(mode_flags "$mode")
    for ((seed = 1; seed <= SEEDS; seed++)); do
        tag=${mode}_s${seed}
        if [ "$REUSE" = 1 ] && run_done "$OUT/runs/$tag.json" "$STEPS"; then
            echo "(reusing $OUT/runs/$tag.json)"
        else
            # shellcheck disable=SC2086 # flags is a list of words
            "$FRUGAL" train --data "$OUT/data/train.bin" --val "$OUT/data/val.bin" "${MODEL[@]}" \
                "${HP[@]}" --seed "$seed" $flags --json >"$OUT/runs/$tag.json" \
                2>"$OUT/runs/$tag.log"
        fi
        "$PY" -c '
import json, sys
o = json.load(open(sys.argv[1]))
print("run %-10s seed %d: final val loss %.4f nats/token, train loss %.4f, %.0f s, %.0f tokens/s"
      % (sys.argv[2], int(sys.argv[3]), o["final_val_loss"], o["final_loss"], o["seconds"],
         o["tokens_per_s"]))' "$OUT/runs/$tag.json" "$mode" "$seed"
    done
done

# shellcheck disable=SC2086 # MODES is a list of words
"$PY" - "$OUT/runs" "$SEEDS" $MODES <<'EOF'
import json, statistics, sys
runs, seeds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
res = {}
for m in modes:
    res[m] = [json.load(open("%s/%s_s%d.json" % (runs, m, s))) for s in range(1, seeds + 1)]
mib = 1048576.0
base = statistics.mean(r["final_val_loss"] for r in res["fp32"]) if "fp32" in res else None
print()
print("| mode | formats (w / a / g) | val loss per seed | mean | vs fp32 | s per run (mean) |")
print("|---|---|---|---|---|---|")
for m in modes:
    v = [r["final_val_loss"] for r in res[m]]
    x = res[m][0]["mx"]
    mean = statistics.mean(v)
    rel = "%+.2f%%" % (100 * (mean - base) / base) if base else "-"
    print("| %s | %s / %s / %s | %s | %.4f | %s | %.0f |" % (
        m, x["weights"], x["activations"], x["grads"], ", ".join("%.4f" % a for a in v), mean,
        rel, statistics.mean(r["seconds"] for r in res[m])))
print()
print("MX ledger (block linear layers; bytes as the formats would store and move them, the")
print("emulation itself computes in fp32):")
print("| mode | weights MiB (fp32 -> MX) | saved inputs MiB per micro-batch | operand reads MiB per step |")
print("|---|---|---|---|")
for m in modes:
    x = res[m][0]["mx"]
    print("| %s | %.2f -> %.2f | %.2f -> %.2f | %.1f -> %.1f |" % (
        m, x["weight_bytes_fp32"] / mib, x["weight_bytes_mx"] / mib, x["act_bytes_fp32"] / mib,
        x["act_bytes_mx"] / mib, x["moved_bytes_per_step_fp32"] / mib,
        x["moved_bytes_per_step_mx"] / mib))
EOF
