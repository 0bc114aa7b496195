#!/usr/bin/env bash
# Debian package-metadata benchmark: canonical-record dedup of apt's Packages index, dpkg's status
# file and the control paragraphs of a pinned list of .debs (specs: the "deb822 triple view").
#   scripts/bench_debmeta.sh WORKDIR [REPEAT]
# Builds WORKDIR/debmeta with scripts/make_debmeta.sh unless present, then runs
# `frugal prepare --dedup records` REPEAT times (default 3; 2 threads; best and median wall time
# of the whole command) on:
#   stanza-key   control.txt status.txt index.txt, --docs-split blank,
#                --record-key Package,Version,Architecture
#   json-key     the same as JSON Lines (--jsonl .), same key
#   stanza-plain the three views plus index_shuffled.txt, no key (pure field permutations)
#   stanza-key+  the three views plus index_shuffled.txt, with the key
# and scores every manifest with scripts/score_debmeta.py, an independent Python implementation
# of the rule (records per input, expected collapses, frugal's collapses, recall, precision,
# and the fields that keep records with equal keys apart). Exits non-zero if any run differs
# from the ground truth.
# Takes about a minute with REPEAT=5 (after make_debmeta.sh, about 30 s).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/bench_debmeta.sh WORKDIR [REPEAT] (from the repository root)" >&2; exit 2; }
W=$1/debmeta
REPEAT=${2:-3}
PY=/usr/bin/python3
[ -n "${FRUGAL:-}" ] || make -j2 --no-print-directory build/release/frugal >/dev/null
FRUGAL=${FRUGAL:-build/release/frugal}
FRUGAL=$(realpath "$FRUGAL")
ROOT=$(pwd)
HELP=$("$FRUGAL" prepare --help 2>&1 || true)
grep -q -- '--record-key' <<<"$HELP" ||
    { echo "bench_debmeta.sh: $FRUGAL prepare has no --record-key; rebuild with make -j2" >&2; exit 1; }
[ -s "$W/index_shuffled.jsonl" ] || scripts/make_debmeta.sh "$1"
KEY=Package,Version,Architecture
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
bench() { # name kind keyed(0/1) read-flags... -- files...
    local name=$1 kind=$2 keyed=$3
    shift 3
    local flags=()
    while [ "$1" != -- ]; do flags+=("$1"); shift; done
    shift
    local files=("$@") kf=() times=() bytes=0
    [ "$keyed" = 1 ] && kf=(--record-key "$KEY")
    for f in "${files[@]}"; do bytes=$((bytes + $(stat -c %s "$W/$f"))); done
    for ((i = 1; i <= REPEAT; i++)); do
        rm -rf "$W/out-$name"
        local t0 t1
        t0=$(date +%s.%N)
        (cd "$W" && "$FRUGAL" prepare -o "out-$name" --quiet --threads 2 --dedup records \
            "${kf[@]}" "${flags[@]}" "${files[@]}" >/dev/null)
        t1=$(date +%s.%N)
        times+=("$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')")
    done
    local best med
    best=$(printf '%s\n' "${times[@]}" | sort -g | head -1)
    med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
    local score
    if score=$(cd "$W" && "$PY" "$ROOT/scripts/score_debmeta.py" --kind "$kind" \
        ${kf[1]:+--key "${kf[1]}"} "out-$name/manifest.json" "${files[@]}"); then :; else status=1; fi
    echo "{\"run\":\"$name\",\"files\":\"${files[*]}\",\"bytes\":$bytes,\"seconds_best\":$best,\"seconds_median\":$med,\"times\":\"${times[*]}\",\"score\":$score}" |
        "$PY" -c 'import json,sys; r=json.loads(sys.stdin.read()); r["mb_s"]=r["bytes"]/1e6/r["seconds_best"]; print(json.dumps(r))' \
        >>"$W/results.jsonl"
    rm -rf "$W/out-$name"
}
: >"$W/results.jsonl"
bench stanza-key stanza 1 --docs-split blank -- control.txt status.txt index.txt
bench json-key json 1 --jsonl . -- control.jsonl status.jsonl index.jsonl
bench stanza-plain stanza 0 --docs-split blank -- control.txt status.txt index.txt index_shuffled.txt
bench stanza-key+ stanza 1 --docs-split blank -- control.txt status.txt index.txt index_shuffled.txt
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$W/results.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print('| run | inputs | MB | records | expected collapses | frugal collapses | recall | precision | '
      's (best / median) | MB/s |')
print('|---|---|---|---|---|---|---|---|---|---|')
for r in rows:
    s = r['score']
    recs = ' + '.join(f'{v:,}' for v in s['records'].values())
    print(f"| {r['run']} | {r['files']} | {r['bytes'] / 1e6:.1f} | {recs} | {s['expected_removed']:,} | "
          f"{s['removed']:,} | {s['recall']:.4f} | {s['precision']:.4f} | "
          f"{r['seconds_best']:.2f} / {r['seconds_median']:.2f} | {r['mb_s']:.1f} |")
for r in rows:
    s = r['score']
    print(f"{r['run']}: collapses by pair {s['expected_by_pair']}; same key kept apart by "
          f"{s['kept_same_key_conflicting_fields']}")
EOF
exit $status
