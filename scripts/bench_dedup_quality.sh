#!/usr/bin/env bash
# Dedup quality on the planted near-duplicate benchmark, and a parameter grid.
#   scripts/bench_dedup_quality.sh WORKDIR            defaults only (about 1 min, building the inputs)
#   scripts/bench_dedup_quality.sh --grid WORKDIR     plus the grid (about 30 min)
# Builds WORKDIR/mix (scripts/make_prose_mix.sh, which installs the Debian packages it needs) and
# WORKDIR/planted (scripts/make_planted.py, seed 1: 8,600 documents, 38.8 MB) unless present,
# runs `frugal prepare --jsonl text` on planted.jsonl with prepare's defaults and with
# datatrove's FineWeb setting (14 x 8, 0.7) and scores each manifest with
# scripts/score_planted.py (recall and precision per copy type and edit rate, definitions there).
# --grid repeats this for shingle 3/4/5 x bands-by-rows 14x8/20x5/30x4/40x3/50x3 x threshold
# 0.35/0.4/0.5/0.6/0.7, and measures for each setting the dedup stage alone with bench_dedup (2
# threads, best of ROUNDS=3 passes over all settings): MB/s and LSH candidate pairs on the
# planted set and MB/s on the 30 MB prose mix. It also runs `frugal prepare` on the mix to count
# its near removals (natural near duplicates: the planted set has none, so this shows how hard a
# setting cuts real text) and how many of them are chained (their Jaccard with the kept
# document, which the manifest gives, is under the threshold, or under 0.2: union-find joined
# them through other documents).
# Writes WORKDIR/grid.jsonl and prints a table. Needs /usr/bin/python3 with numpy.
# Timings need an otherwise idle machine; the load average is printed.
set -euo pipefail
GRID=0
if [ "${1:-}" = --grid ]; then GRID=1; shift; fi
[ $# -eq 1 ] || { echo "usage: scripts/bench_dedup_quality.sh [--grid] WORKDIR (from the repository root)" >&2; exit 2; }
W=$1
PY=/usr/bin/python3
# the repository's binaries are brought up to date (make's default target builds no bench
# binaries); FRUGAL and BENCH may name others, used as they are
[ -n "${FRUGAL:-}" ] || make -j2 --no-print-directory build/release/frugal >/dev/null
[ -n "${BENCH:-}" ] || make -j2 --no-print-directory build/release/bench/bench_dedup >/dev/null
FRUGAL=${FRUGAL:-build/release/frugal}
BENCH=${BENCH:-build/release/bench/bench_dedup}
mkdir -p "$W"
[ -s "$W/mix/mobydick.txt" ] || scripts/make_prose_mix.sh "$W/mix"
[ -s "$W/planted/truth.tsv" ] || "$PY" scripts/make_planted.py "$W/mix" "$W/planted" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

near_flags() { # shingle bands rows threshold ("-" for prepare's defaults)
    [ "$1" = - ] || echo "--shingle $1 --bands $2 --rows $3 --near-threshold $4"
}

run() { # shingle bands rows threshold [score_planted options] -> the score on stdout
    local out="$W/run-$1-$2x$3-$4"
    # shellcheck disable=SC2046
    "$FRUGAL" prepare -o "$out" --quiet --threads 2 --jsonl text $(near_flags "$@") \
        "$W/planted/planted.jsonl" >/dev/null
    "$PY" scripts/score_planted.py "$W/planted" "$out/manifest.json" "${@:5}"
    rm -rf "$out"
}

mixnear() { # shingle bands rows threshold -> near removals on the prose mix, as JSON
    local out="$W/mixrun-$1-$2x$3-$4"
    # shellcheck disable=SC2046
    "$FRUGAL" prepare -o "$out" --quiet --threads 2 --docs-split blank $(near_flags "$@") \
        "$W"/mix/*.txt >/dev/null
    "$PY" - "$out/manifest.json" <<'END'
import json, sys
m = json.load(open(sys.argv[1]))
t = m['options']['near_threshold']
near = [r['jaccard'] for r in m['removed'] if r['reason'] == 'near']
print(json.dumps({'near': len(near), 'below_threshold': sum(j < t for j in near),
                  'below_0.2': sum(j < 0.2 for j in near)}))
END
    rm -rf "$out"
}

echo "== frugal prepare's defaults =="
run - - - -
echo "prose mix at the defaults, near removals: $(mixnear - - - -)"
echo
echo "== datatrove's FineWeb setting (shingle 5, 14 bands x 8 rows, threshold 0.7) =="
run 5 14 8 0.7
echo "prose mix, near removals: $(mixnear 5 14 8 0.7)"

[ $GRID -eq 1 ] || exit 0
echo
echo "== grid =="
SETTINGS=()
for k in 3 4 5; do
    for br in 14x8 20x5 30x4 40x3 50x3; do
        for t in 0.35 0.4 0.5 0.6 0.7; do SETTINGS+=("$k $br $t"); done
    done
done
# REUSE_QUALITY=1 keeps WORKDIR/grid_quality.jsonl from an earlier run (the scores are
# deterministic) and repeats only the timings
reuse=0
if [ "${REUSE_QUALITY:-0}" = 1 ] && [ -f "$W/grid_quality.jsonl" ] &&
    [ "$(wc -l <"$W/grid_quality.jsonl")" -eq ${#SETTINGS[@]} ]; then
    reuse=1
else
    : >"$W/grid_quality.jsonl"
fi
for s in "${SETTINGS[@]}"; do
    [ $reuse -eq 1 ] && break
    read -r k br t <<<"$s"
    b=${br%x*} r=${br#*x}
    q=$(run "$k" "$b" "$r" "$t" --json)
    mn=$(mixnear "$k" "$b" "$r" "$t")
    echo "{\"quality\":$q,\"mix_near\":$mn}" >>"$W/grid_quality.jsonl"
done
# speed: ROUNDS passes over all settings, one timing of each per pass, so that a burst of other
# load spoils one sample of a few settings rather than all samples of one; the best is kept
: >"$W/grid_speed.jsonl"
for ((round = 1; round <= ${ROUNDS:-3}; round++)); do
    echo "speed round $round (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    for s in "${SETTINGS[@]}"; do
        read -r k br t <<<"$s"
        b=${br%x*} r=${br#*x}
        sp=$("$BENCH" --threads 2 --reps 1 --docs-split line --shingle "$k" --bands "$b" \
            --rows "$r" --threshold "$t" "$W/planted/planted.txt" | grep '^JSON' | cut -c6-)
        sm=$("$BENCH" --threads 2 --reps 1 --docs-split blank --shingle "$k" --bands "$b" \
            --rows "$r" --threshold "$t" "$W"/mix/*.txt | grep '^JSON' | cut -c6-)
        echo "{\"planted\":$sp,\"mix\":$sm}" >>"$W/grid_speed.jsonl"
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" - "$W/grid_quality.jsonl" "$W/grid_speed.jsonl" "$W/grid.jsonl" <<'EOF'
import json, sys
quality = [json.loads(l) for l in open(sys.argv[1])]
best = {}
for l in open(sys.argv[2]):
    s = json.loads(l)
    p = s['planted']
    key = (p['shingle'], p['bands'], p['rows'], round(p['threshold'], 3))
    b = best.setdefault(key, {'planted': p, 'mix': s['mix']})
    for which in ('planted', 'mix'):
        if s[which]['mb_s'] > b[which]['mb_s']:
            b[which] = s[which]
with open(sys.argv[3], 'w') as out:
    for r in quality:
        o = r['quality']['options']
        r['speed'] = best[(o['shingle'], o['bands'], o['rows'], round(o['near_threshold'], 3))]
        out.write(json.dumps(r) + '\n')
print('| shingle | bands x rows | threshold | recall | precision | worst cell recall | '
      'worst cell precision | meets goal | candidates planted / mix | MB/s planted | MB/s mix | '
      'mix: near removed (J to kept < threshold / < 0.2) |')
print('|---|---|---|---|---|---|---|---|---|---|---|---|')
for r in quality:
    q, sp, sm = r['quality'], r['speed']['planted'], r['speed']['mix']
    o = q['options']
    worst = min(q['cells'], key=lambda c: c['recall'])
    wname = f"{worst['type']}{' ' + str(worst['rate']) + '%' if worst['rate'] else ''}"
    print(f"| {o['shingle']} | {o['bands']}x{o['rows']} | {o['near_threshold']} | "
          f"{q['recall']:.3f} | {q['precision']:.4f} | {q['min_cell_recall']:.3f} ({wname}) | "
          f"{q['min_cell_precision']:.3f} | {'**yes**' if q['passes'] else 'no'} | "
          f"{sp['candidates']} / {sm['candidates']} | {sp['mb_s']:.1f} | {sm['mb_s']:.1f} | "
          f"{r['mix_near']['near']} ({r['mix_near']['below_threshold']} / "
          f"{r['mix_near']['below_0.2']}) |")
EOF
