#!/usr/bin/env bash
# Step time of config M (GPT-2 124M, micro-batch 4 x 64) with fp32 and bf16 products, on fp32
# and flash optimizer storage: bench/bench_train runs, alternating between the four settings
# REPEATS times (default 3) so that a slow moment of a shared machine hits all of them; prints
# each run's median step time and phases, then the median over repeats per setting and the
# speed-ups against fp32 storage with fp32 products.
#
#   scripts/bench_dtype_speed.sh [REPEATS]
#
# Needs an otherwise idle machine: two benchmarks at once on 2 cores measure each other.
set -euo pipefail
BENCH=${BENCH:-build/release/bench/bench_train}
STEPS=${STEPS:-6}
REPEATS=${1:-3}
PY=/usr/bin/python3
[ -x "$BENCH" ] || make -j2 "$BENCH" >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for ((rep = 1; rep <= REPEATS; rep++)); do
    for setting in "fp32 fp32" "fp32 bf16" "flash fp32" "flash bf16"; do
        read -r storage dtype <<<"$setting"
        line=$("$BENCH" --config M --steps "$STEPS" --warmup 1 --optim-storage "$storage" \
            --dtype "$dtype" | tee /dev/stderr | grep '^JSON' | sed 's/^JSON //')
        echo "$storage $dtype $line" >>"$OUT"
    done
done 2> >(grep -E '^(config|phases)' >&2)
"$PY" - "$OUT" <<'EOF'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    storage, dtype, js = line.split(" ", 2)
    runs.setdefault((storage, dtype), []).append(json.loads(js)["median_ms"])
base = statistics.median(runs[("fp32", "fp32")])
print()
print("| optimizer storage | products | ms per step (median of %d runs) | each run | vs fp32/fp32 |"
      % len(runs[("fp32", "fp32")]))
print("|---|---|---|---|---|")
for (s, d), v in runs.items():
    m = statistics.median(v)
    print("| %s | %s | %.1f | %s | %.2fx |" % (s, d, m, ", ".join("%.0f" % x for x in v), base / m))
EOF
