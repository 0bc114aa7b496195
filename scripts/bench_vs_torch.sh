#!/usr/bin/env bash
# Training throughput and peak memory of frugal vs PyTorch on the same model, side by side in
# one script (the machine is shared: each side runs alone, alternately, REPEAT times; the
# median of the runs' median step times is reported). PyTorch is tuned as its documentation
# advises for this machine: torch.set_num_threads(THREADS) and OMP_WAIT_POLICY=PASSIVE.
#   scripts/bench_vs_torch.sh [S|M|both] [REPEAT]     (needs python3-torch; /usr/bin/python3)
# Config S: L=4 C=256 NH=4 T=256 V=4096 B=8.  Config M (GPT-2 124M shape): L=12 C=768 NH=12
# V=50304 B=4 T=64.  Output: one line per run and a summary table.
set -euo pipefail
WHICH=${1:-both}
REPEAT=${2:-3}
THREADS=${THREADS:-$(nproc)}
BENCH=${BENCH:-build/release/bench/bench_train}
[ -x "$BENCH" ] || make -j"$THREADS" "$BENCH" >/dev/null
PY=/usr/bin/python3
$PY -c 'import torch' 2>/dev/null || { echo "needs Debian's python3-torch (apt-get install python3-torch)"; exit 1; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
json_field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p"; }
run_cfg() {
    local cfg=$1 tf=() steps
    if [ "$cfg" = S ]; then
        tf=(--L 4 --C 256 --NH 4 --maxT 256 --V 4096 --B 8 --T 256); steps=10
    else
        tf=(--L 12 --C 768 --NH 12 --maxT 1024 --V 50304 --B 4 --T 64); steps=6
    fi
    local fr=() tr=() frss=() trss=() mfu=() pred=()
    for ((i = 0; i < REPEAT; i++)); do
        local f t
        f=$("$BENCH" --config "$cfg" --steps "$steps" --warmup 2 --threads "$THREADS" | grep '^JSON' | sed 's/^JSON //')
        t=$(OMP_WAIT_POLICY=PASSIVE $PY scripts/torch_gpt_bench.py "${tf[@]}" --threads "$THREADS" \
            --steps "$steps" --warmup 2 | grep '^JSON' | sed 's/^JSON //')
        fr+=("$(echo "$f" | json_field tokens_per_s)"); tr+=("$(echo "$t" | json_field tokens_per_s)")
        frss+=("$(echo "$f" | json_field peak_rss_bytes)"); trss+=("$(echo "$t" | json_field peak_rss_bytes)")
        mfu+=("$(echo "$f" | json_field mfu)"); pred+=("$(echo "$f" | json_field predicted_bytes)")
        echo "run $((i + 1)) config $cfg: frugal ${fr[-1]} tok/s (MFU ${mfu[-1]}), pytorch ${tr[-1]} tok/s; peak RSS frugal ${frss[-1]} B, pytorch ${trss[-1]} B"
    done
    local fm tm fmfu frs trs
    fm=$(printf '%s\n' "${fr[@]}" | median); tm=$(printf '%s\n' "${tr[@]}" | median)
    fmfu=$(printf '%s\n' "${mfu[@]}" | median)
    frs=$(printf '%s\n' "${frss[@]}" | median); trs=$(printf '%s\n' "${trss[@]}" | median)
    awk -v c="$cfg" -v f="$fm" -v t="$tm" -v m="$fmfu" -v fr="$frs" -v tr="$trs" -v p="${pred[0]}" -v n="$THREADS" 'BEGIN {
        printf "| %s | %d | %.0f | %.0f | %.2fx | %.1f%% | %.0f MiB | %.0f MiB | %.0f MiB |\n",
               c, n, f, t, f / t, 100 * m, fr / 1048576, tr / 1048576, p / 1048576 }' >> "$SUMMARY"
}
SUMMARY=$(mktemp)
trap 'rm -f "$SUMMARY"' EXIT
[ "$WHICH" = M ] || run_cfg S
[ "$WHICH" = S ] || run_cfg M
echo
echo "| config | threads | frugal tok/s | PyTorch tok/s | ratio | frugal MFU | frugal peak RSS | PyTorch peak RSS | frugal predicted (model + AdamW) |"
echo "|---|---|---|---|---|---|---|---|---|"
cat "$SUMMARY"
