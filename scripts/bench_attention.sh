#!/usr/bin/env bash
# Attention kernels and activation recomputation in a training step of config S (L=4, C=256,
# NH=4, B=8, V=4096) at T = 256 and T = 2048 (block size = T): bench/bench_train runs,
# alternating between the variants REPEATS times (default 3) per length; prints each run's
# median step time, the attention forward and backward and the recomputation milliseconds per
# step (--profile) and peak RSS, then per length and variant the medians over repeats and the
# ratios to the first variant of that length (standard attention, nothing recomputed), and at
# T = 2048 the recomputation's ratios to tiled attention alone.
#
#   scripts/bench_attention.sh [REPEATS]
#
# Variants: T = 256: standard, tiled; T = 2048: standard, tiled, tiled + --recompute attn,
# tiled + --recompute block, standard + --recompute block.
# Step times need an otherwise idle machine; peak memory does not.
set -euo pipefail
BENCH=${BENCH:-build/release/bench/bench_train}
REPEATS=${1:-3}
PY=/usr/bin/python3
[ -x "$BENCH" ] || make -j2 "$BENCH" >/dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
num() { echo "$1" | grep '^JSON' | sed "s/.*\"$2\":\([0-9.]*\).*/\1/"; }
prof() { echo "$1" | grep '^profile' | sed "s/.* $2 \([0-9.]*\).*/\1/"; }
for T in 256 2048; do
    steps=$((T >= 2048 ? 2 : 6))
    if [ "$T" = 256 ]; then
        variants="standard:none tiled:none"
    else
        variants="standard:none tiled:none tiled:attn tiled:block standard:block"
    fi
    for ((rep = 1; rep <= REPEATS; rep++)); do
        for v in $variants; do
            kernel=${v%%:*} rc=${v##*:}
            res=$("$BENCH" --config S --seq "$T" --steps "$steps" --warmup 1 --attention "$kernel" \
                --recompute "$rc" --profile)
            ms=$(num "$res" median_ms)
            rss=$(num "$res" peak_rss_bytes)
            fwd=$(prof "$res" attention)
            bwd=$(prof "$res" attention_bwd)
            rec=$(prof "$res" recompute)
            echo "T=$T $kernel, recompute $rc: median $ms ms/step, attention $fwd ms forward +" \
                "$bwd ms backward, recompute $rec ms, peak RSS $((rss / 1048576)) MiB" >&2
            echo "$T $kernel+$rc $ms $fwd $bwd $rec $rss" >>"$OUT"
        done
    done
done
"$PY" - "$OUT" <<'PYEOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print()
print("| T | attention + recompute | ms/step | attention fwd ms | bwd ms | recompute ms | peak RSS MiB | step time vs standard | peak RSS vs standard | step time vs tiled | peak RSS vs tiled |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for T in ("256", "2048"):
    names = []
    for x in rows:
        if x[0] == T and x[1] not in names:
            names.append(x[1])
    med = {k: [statistics.median(float(x[i]) for x in rows if x[0] == T and x[1] == k)
               for i in (2, 3, 4, 5, 6)] for k in names}
    base, tiled = med[names[0]], med.get("tiled+none")
    def ratios(k, ref):
        if ref is None or med[k] is ref:
            return "", ""
        return "%.2fx" % (med[k][0] / ref[0]), "%+.1f%%" % (100 * (med[k][4] / ref[4] - 1))
    for k in names:
        ms, f, b, rc, rss = med[k]
        r1 = ratios(k, base)
        r2 = ratios(k, tiled) if k.startswith("tiled+") else ("", "")
        print("| %s | %s | %.0f | %.1f | %.1f | %.1f | %.0f | %s | %s | %s | %s |" % (
            T, k.replace("+", " + "), ms, f, b, rc, rss / 1048576, r1[0], r1[1], r2[0], r2[1]))
PYEOF
