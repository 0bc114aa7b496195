#!/usr/bin/env bash
# Dedup speed on the 30 MB public-domain prose mix (the data issue's speed goal: exact + MinHash
# at least 20 MB/s on 2 threads).
#   scripts/bench_prose_mix.sh WORKDIR [REPEAT]
# Builds WORKDIR/mix with scripts/make_prose_mix.sh unless present (that script installs the
# Debian packages it needs). Documents are blank-line paragraphs: novel paragraphs, one Bible
# verse, one commentary entry or segment each (90,838 documents). Then, REPEAT times (default 3):
#   bench_dedup --threads 2 --reps 3   the dedup library alone (exact + near, defaults)
#   bench_dedup --threads 1 --reps 3   the same on one thread
#   bench_dedup --threads 2 --reps 3 --bands 14 --rows 8 --threshold 0.7   datatrove's FineWeb
#                                      setting, for comparison
#   frugal prepare (exact,near)        the whole command: read, dedup, byte tokens, shards
#   frugal prepare --dedup none        the same without dedup
# and prints the medians over the REPEAT runs (bench_dedup: each run's best of 3).
# Takes about 20 s with REPEAT=3 (plus the mix, about 20 s, the first time).
# Timings need an otherwise idle machine; the load average is printed.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/bench_prose_mix.sh WORKDIR [REPEAT] (from the repository root)" >&2; exit 2; }
W=$1
REPEAT=${2:-3}
# the repository's binaries are brought up to date (make's default target builds no bench
# binaries); FRUGAL and BENCH may name others, used as they are
[ -n "${FRUGAL:-}" ] || make -j2 --no-print-directory build/release/frugal >/dev/null
[ -n "${BENCH:-}" ] || make -j2 --no-print-directory build/release/bench/bench_dedup >/dev/null
FRUGAL=${FRUGAL:-build/release/frugal}
BENCH=${BENCH:-build/release/bench/bench_dedup}
[ -s "$W/mix/mobydick.txt" ] || scripts/make_prose_mix.sh "$W/mix"
MIX=("$W"/mix/austen.txt "$W"/mix/kjv.txt "$W"/mix/web.txt "$W"/mix/tdavid.txt "$W"/mix/mhcc.txt
    "$W"/mix/scofield.txt "$W"/mix/mobydick.txt)
BYTES=$(cat "${MIX[@]}" | wc -c)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
jf() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
wall() { # command... -> seconds
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}'
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
b2=() b1=() bf=() pf=() pn=()
for ((i = 1; i <= REPEAT; i++)); do
    j2=$("$BENCH" --threads 2 --reps 3 --docs-split blank "${MIX[@]}" | grep '^JSON')
    j1=$("$BENCH" --threads 1 --reps 3 --docs-split blank "${MIX[@]}" | grep '^JSON')
    jw=$("$BENCH" --threads 2 --reps 3 --docs-split blank --bands 14 --rows 8 --threshold 0.7 \
        "${MIX[@]}" | grep '^JSON')
    rm -rf "$W/prep-mix"
    f=$(wall "$FRUGAL" prepare -o "$W/prep-mix" --quiet --threads 2 --docs-split blank "${MIX[@]}")
    rm -rf "$W/prep-mix"
    n=$(wall "$FRUGAL" prepare -o "$W/prep-mix" --quiet --threads 2 --docs-split blank --dedup none "${MIX[@]}")
    b2+=("$(echo "$j2" | jf mb_s)") b1+=("$(echo "$j1" | jf mb_s)") bf+=("$(echo "$jw" | jf mb_s)")
    pf+=("$f") pn+=("$n")
    echo "run $i: bench_dedup 2 threads $(echo "$j2" | jf mb_s) MB/s, 1 thread $(echo "$j1" | jf mb_s) MB/s, FineWeb setting $(echo "$jw" | jf mb_s) MB/s; prepare ${f} s (dedup none ${n} s)"
done
echo "counts, defaults: $(echo "$j2" | cut -c6-)"
echo "counts, FineWeb setting: $(echo "$jw" | cut -c6-)"
M2=$(printf '%s\n' "${b2[@]}" | median) M1=$(printf '%s\n' "${b1[@]}" | median)
MF=$(printf '%s\n' "${bf[@]}" | median)
PF=$(printf '%s\n' "${pf[@]}" | median) PN=$(printf '%s\n' "${pn[@]}" | median)
awk -v b="$BYTES" -v m2="$M2" -v m1="$M1" -v mf="$MF" -v pf="$PF" -v pn="$PN" 'BEGIN {
    printf "\nprose mix %.1f MB; medians of the runs:\n", b / 1e6
    printf "  bench_dedup exact+near, 2 threads: %.1f MB/s; 1 thread: %.1f MB/s; FineWeb setting, 2 threads: %.1f MB/s\n", m2, m1, mf
    printf "  frugal prepare, 2 threads: %.2f s = %.1f MB/s end to end; with --dedup none %.2f s; difference %.2f s\n", pf, b / 1e6 / pf, pn, pf - pn
}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -rf "$W/prep-mix"
