#!/usr/bin/env bash
# GPT-2 encoding speed: frugal against the fastest npm peers, on the same file in the same run.
#   scripts/bench_tokenizer.sh [REPEAT]
# Builds novels.txt (data/austen/*.txt in alphabetical order, then data/extra/mobydick.txt:
# 5,282,326 bytes, the conformance file of the tokenizer tests), installs the peers from the npm
# registry into a cache directory (gpt-tokenizer 2.9.0 and tiktoken 1.0.22, pinned), then runs
# frugal's bench_tokenizer and the peers alternately REPEAT times (default 3) and prints the
# medians. All single-threaded; each side reports its best of 5 encodes after one cold run.
set -euo pipefail
REPEAT=${1:-3}
BENCH=${BENCH:-build/release/bench/bench_tokenizer}
[ -x "$BENCH" ] || make -j2 "$BENCH" >/dev/null
command -v node >/dev/null || { echo "needs node and npm (Debian: apt-get install nodejs npm)"; exit 1; }
CACHE=${FRUGAL_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/frugal-bench-npm}
if [ ! -d "$CACHE/node_modules/gpt-tokenizer" ] || [ ! -d "$CACHE/node_modules/tiktoken" ]; then
    mkdir -p "$CACHE"
    (cd "$CACHE" && npm init -y >/dev/null && npm install --no-audit --no-fund \
        gpt-tokenizer@2.9.0 tiktoken@1.0.22 >/dev/null)
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat $(ls data/austen/*.txt | sort) data/extra/mobydick.txt >"$TMP/novels.txt"
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
jf() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p"; }
fr=() gt=() tk=()
for ((i = 1; i <= REPEAT; i++)); do
    f=$("$BENCH" --threads 1 --reps 5 | grep '^JSON' | jf encode_mb_s_1t)
    p=$(node scripts/tokenizer_peer.mjs "$TMP/novels.txt" 5 "$CACHE/node_modules")
    g=$(echo "$p" | grep '"gpt-tokenizer"' | jf mb_s)
    t=$(echo "$p" | grep '"tiktoken"' | jf mb_s)
    ids=$(echo "$p" | sed -n 's/.*"ids":\([0-9]*\).*/\1/p' | sort -u | tr '\n' ' ')
    printf 'run %d: frugal %.1f MB/s, gpt-tokenizer %.1f MB/s, tiktoken %.1f MB/s (peer ids: %s)\n' \
        "$i" "$f" "$g" "$t" "$ids"
    fr+=("$f") gt+=("$g") tk+=("$t")
done
F=$(printf '%s\n' "${fr[@]}" | median); G=$(printf '%s\n' "${gt[@]}" | median)
T=$(printf '%s\n' "${tk[@]}" | median)
awk -v f="$F" -v g="$G" -v t="$T" 'BEGIN {
    best = g > t ? g : t
    printf "\nmedians, one thread: frugal %.1f MB/s, gpt-tokenizer %.1f MB/s, tiktoken %.1f MB/s\n", f, g, t
    printf "frugal / fastest peer: %.2fx\n", f / best }'
