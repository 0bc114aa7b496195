#!/usr/bin/env bash
# Real extreme redundancy: the Matthew Henry Concise Commentary module dump (276 MB, about 98.5%
# duplicate: the module repeats each chapter's commentary for every verse) through
# `frugal prepare --dedup exact`, checked against an independent count.
#   scripts/bench_mhcc.sh WORKDIR [REPEAT]
# Installs sword-comm-mhcc and libsword-utils (as root; otherwise prints the apt-get line), dumps
# the module with `mod2imp MHCC -s`, drops the "$$$key" lines and cuts every entry into segments
# at the "* Verse n *", "* Verses n-m *" and "Chapter Outline" markers (a segment runs from one
# marker to the next); writes one segment per line, as it is, to WORKDIR/mhcc/segments.txt.
# Then runs `frugal prepare --docs-split line --dedup exact` REPEAT times (default 3; 2 threads;
# the best and median wall time of the whole command) and checks, in Python, that
#   - the kept documents are exactly the first occurrence of each distinct segment (white space
#     runs collapsed, as the exact stage normalizes), by line number and by count;
#   - every removed segment points at the first occurrence of its text;
#   - the documents in train.bin + val.bin are exactly the distinct segments (sha256 of the
#     sorted set).
# Also prints an awk + sort -u count of the distinct normalized segments.
# Takes about 1.5 minutes with REPEAT=3 (the dump 10 s, the split 15 s, each prepare about 4 s,
# the checks 30 s).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: scripts/bench_mhcc.sh WORKDIR [REPEAT] (from the repository root)" >&2; exit 2; }
W=$1/mhcc
REPEAT=${2:-3}
PY=/usr/bin/python3
[ -n "${FRUGAL:-}" ] || make -j2 --no-print-directory build/release/frugal >/dev/null
FRUGAL=${FRUGAL:-build/release/frugal}
missing=""
for p in sword-comm-mhcc libsword-utils; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y --no-install-recommends $missing >/dev/null
    else
        echo "bench_mhcc.sh: missing packages; as root run: apt-get install -y$missing" >&2
        exit 1
    fi
fi
mkdir -p "$W"
if [ ! -s "$W/segments.txt" ]; then
    mod2imp MHCC -s 2>/dev/null >"$W/mhcc.imp" # stderr: thousands of harmless "Error reading"
    "$PY" - "$W/mhcc.imp" "$W/segments.txt.tmp" <<'EOF'
import re, sys
marker = re.compile(r'(\* Verses? \d+(?:-\d+)? \*|Chapter Outline)')
with open(sys.argv[1], encoding='utf-8', errors='surrogateescape') as f, \
        open(sys.argv[2], 'w', encoding='utf-8', errors='surrogateescape') as out:
    for line in f:
        if line.startswith('$$$'):
            continue
        parts = marker.split(line.rstrip('\n'))
        segs = [parts[0]] + [parts[i] + parts[i + 1] for i in range(1, len(parts), 2)]
        for s in segs:
            if s.strip(' \t\r\v\f'):
                out.write(s + '\n')
EOF
    mv "$W/segments.txt.tmp" "$W/segments.txt"
fi
RAW=$(stat -c %s "$W/mhcc.imp")
SEG=$(stat -c %s "$W/segments.txt")
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
times=()
for ((i = 1; i <= REPEAT; i++)); do
    rm -rf "$W/out"
    t0=$(date +%s.%N)
    "$FRUGAL" prepare -o "$W/out" --quiet --threads 2 --docs-split line --dedup exact \
        "$W/segments.txt" >/dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t0 $t1" | awk '{printf "%.3f", $2 - $1}')")
done
echo "prepare wall times (s): ${times[*]}"
BEST=$(printf '%s\n' "${times[@]}" | sort -g | head -1)
MED=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
AWK_DISTINCT=$(awk '{ $1 = $1; print }' "$W/segments.txt" | LC_ALL=C sort -u | wc -l)
"$PY" - "$W/segments.txt" "$W/out" "$RAW" "$SEG" "$BEST" "$MED" "$AWK_DISTINCT" <<'EOF'
import hashlib, json, re, struct, sys
import numpy as np
seg_path, out, raw, seg_bytes, best, med, awk_distinct = sys.argv[1:]
ws = re.compile(rb'[ \t\n\r\v\f]+')
first, dup_of, raw_kept = {}, {}, {}
n = 0
with open(seg_path, 'rb') as f:
    for n, line in enumerate(f, 1):
        doc = line[:-1]
        key = ws.sub(b' ', doc).strip(b' ')
        if key in first:
            dup_of[n] = first[key]
        else:
            first[key] = n
            raw_kept[n] = doc
m = json.load(open(f'{out}/manifest.json'))
removed = {r['line']: r['duplicate_of']['line'] for r in m['removed']}
st = {s['stage']: s for s in m['stages']}
kept_frugal = set(range(1, n + 1)) - set(removed)
ok_lines = kept_frugal == set(first.values())
ok_dups = removed == dup_of
# the shards: llm.c header of 256 int32 (magic 20240520: uint16 tokens; 20240801: uint32), bytes
# tokenizer, every document followed by "\n"
docs = []
for name in ('train.bin', 'val.bin'):
    b = open(f'{out}/{name}', 'rb').read()
    magic, _, ntok = struct.unpack('<3i', b[:12])
    toks = np.frombuffer(b, dtype='<u2' if magic == 20240520 else '<u4', offset=1024)
    assert len(toks) == ntok and (ntok == 0 or toks.max() < 256)
    text = toks.astype(np.uint8).tobytes()
    docs += text.split(b'\n')[:-1] if text else []
h_shards = hashlib.sha256(b'\0'.join(sorted(docs))).hexdigest()
h_truth = hashlib.sha256(b'\0'.join(sorted(raw_kept.values()))).hexdigest()
res = {
    'raw_dump_bytes': int(raw), 'segments_file_bytes': int(seg_bytes), 'segments': n,
    'distinct_python': len(first), 'distinct_awk_sort_u': int(awk_distinct),
    'kept_frugal': st['exact dedup']['documents_out'],
    'kept_bytes_frugal': st['exact dedup']['bytes_out'],
    'duplicate_fraction': 1 - len(first) / n,
    'kept_lines_equal_first_occurrences': ok_lines,
    'duplicate_of_equal_first_occurrence': ok_dups,
    'shard_documents': len(docs), 'shard_set_sha256_equal': h_shards == h_truth,
    'seconds_best': float(best), 'seconds_median': float(med),
    'mb_s_raw_dump': int(raw) / 1e6 / float(best), 'mb_s_segments': int(seg_bytes) / 1e6 / float(best),
}
print(json.dumps(res, indent=1))
good = ok_lines and ok_dups and h_shards == h_truth and res['kept_frugal'] == len(first)
print('MHCC: ' + ('PASS' if good else 'FAIL') + f": {n} segments -> {res['kept_frugal']} kept "
      f"(independent: {len(first)} distinct; awk|sort -u: {awk_distinct}); "
      f"{int(raw) / 1e6:.1f} MB dump, {int(seg_bytes) / 1e6:.1f} MB of segments in {float(best):.2f} s "
      f"(best of the runs) = {res['mb_s_segments']:.0f} MB/s of segments")
sys.exit(0 if good else 1)
EOF
