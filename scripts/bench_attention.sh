#!/usr/bin/env bash
# Standard against tiled attention in a training step of config S (L=4, C=256, NH=4, B=8,
# V=4096) at T = 256 and T = 2048 (block size = T): bench/bench_train runs, alternating between
# the two kernels REPEATS times (default 3) per length; prints each run's median step time, the
# attention forward and backward milliseconds per step (--profile) and peak RSS, then per length
# and kernel the medians over repeats and tiled's ratios to standard.
#
#   scripts/bench_attention.sh [REPEATS]
#
# Step times need an otherwise idle machine; peak memory does not.
set -euo pipefail
BENCH=${BENCH:-build/release/bench/bench_train}
REPEATS=${1:-3}
PY=/usr/bin/python3
[ -x "$BENCH" ] || make -j2 "$BENCH" >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for T in 256 2048; do
    steps=$((T >= 2048 ? 2 : 6))
    for ((rep = 1; rep <= REPEATS; rep++)); do
        for kernel in standard tiled; do
            res=$("$BENCH" --config S --seq "$T" --steps "$steps" --warmup 1 --attention "$kernel" \
                --profile)
            ms=$(echo "$res" | grep '^JSON' | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')
            rss=$(echo "$res" | grep '^JSON' | sed 's/.*"peak_rss_bytes":\([0-9]*\).*/\1/')
            fwd=$(echo "$res" | grep '^profile' | sed 's/.* attention \([0-9.]*\).*/\1/')
            bwd=$(echo "$res" | grep '^profile' | sed 's/.* attention_bwd \([0-9.]*\).*/\1/')
            echo "T=$T $kernel: median $ms ms/step, attention $fwd ms forward + $bwd ms backward," \
                "peak RSS $((rss / 1048576)) MiB" >&2
            echo "$T $kernel $ms $fwd $bwd $rss" >>"$OUT"
        done
    done
done
"$PY" - "$OUT" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| T | kernel | ms/step | attention forward ms | backward ms | peak RSS MiB | step time vs standard | peak RSS vs standard |")
print("|---|---|---|---|---|---|---|---|")
for T in ("256", "2048"):
    med = {}
    for k in ("standard", "tiled"):
        r = [x for x in rows if x[0] == T and x[1] == k]
        med[k] = [statistics.median(float(x[i]) for x in r) for i in (2, 3, 4, 5)]
    for k in ("standard", "tiled"):
        ms, f, b, rss = med[k]
        s = med["standard"]
        print("| %s | %s | %.0f | %.1f | %.1f | %.0f | %s | %s |" % (
            T, k, ms, f, b, rss / 1048576, "%.2fx" % (ms / s[0]) if k == "tiled" else "",
            "%+.1f%%" % (100 * (rss / s[3] - 1)) if k == "tiled" else ""))
EOF
