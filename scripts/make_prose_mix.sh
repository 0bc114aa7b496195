#!/usr/bin/env bash
# Builds the 30 MB public-domain English prose mix used by the dedup speed benchmark:
#   scripts/make_prose_mix.sh DIR
# Writes DIR/{austen,kjv,web,tdavid,mhcc,scofield,mobydick}.txt and prints their sizes. Every file
# holds one document per paragraph (runs of non-blank lines, separated by blank lines), so
# `--docs-split blank` reads the same documents in bench_dedup and `frugal prepare`:
#   austen     the six novels (data/austen), their own paragraphs
#   kjv        King James Bible, one verse per paragraph (`bible`)
#   web        World English Bible incl. deuterocanon, one verse per paragraph (`diatheke`); as in
#              the data notes, each verse is the line that carries its "Book c:v:" prefix, so the
#              continuation lines of poetry are not included
#   tdavid     Spurgeon, Treasury of David: one commentary entry per paragraph (`mod2imp`)
#   mhcc       Matthew Henry Concise Commentary: the distinct segments of the module dump (split at
#              the "* Verse(s) n[-m] *" and "Chapter Outline" markers, first occurrence kept)
#   scofield   Scofield Reference Notes: the distinct entries
#   mobydick   Moby Dick (data/extra), its own paragraphs
# Installs (as root; otherwise prints the apt-get line and stops): bible-kjv, sword-text-web,
# sword-comm-tdavid, sword-comm-mhcc, sword-comm-scofield, libsword-utils, diatheke (about 30 MB).
# Takes about 25 s (the MHCC dump is 276 MB and takes 10 s), plus the install.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/make_prose_mix.sh DIR (run from the repository root)" >&2; exit 2; }
OUT=$1
[ -f data/austen/emma.txt ] && [ -f data/extra/mobydick.txt ] ||
    { echo "make_prose_mix.sh: run from the repository root (needs data/austen, data/extra)" >&2; exit 2; }
PY=/usr/bin/python3
PKGS="bible-kjv sword-text-web sword-comm-tdavid sword-comm-mhcc sword-comm-scofield libsword-utils diatheke"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y --no-install-recommends $missing >/dev/null ||
            { echo "make_prose_mix.sh: apt-get install failed; try apt-get update first" >&2; exit 1; }
    else
        echo "make_prose_mix.sh: missing packages; as root run: apt-get install -y$missing" >&2
        exit 1
    fi
fi
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# one document per line -> one document per paragraph (drops empty lines)
para() { awk 'NF { print; print "" }'; }

# Austen: the novels as they are (blank lines already separate paragraphs)
cat data/austen/emma.txt data/austen/mansfieldpark.txt data/austen/northangerabbey.txt \
    data/austen/persuasion.txt data/austen/prideprejudice.txt data/austen/sensesensibility.txt \
    >"$TMP/austen.txt"

# KJV: verse lines start with spaces and the verse number; book headings have no leading spaces
bible -l1000000 gen1:1-rev22:21 2>/dev/null | grep -E '^ +[0-9]+ ' | sed -E 's/^ +[0-9]+ //' |
    para >"$TMP/kjv.txt"

# WEB: strip the "Book c:v: " prefix (book names may hold spaces and Roman numerals)
diatheke -b engWEB2015eb -f plain -k 'Gen 1:1 - Rev 22:21' 2>/dev/null |
    grep -E '^ *[1-4A-Za-z][^:]* [0-9]+:[0-9]+: ' | sed -E 's/^ *[^:]* [0-9]+:[0-9]+: //; s/[[:space:]]+$//' |
    para >"$TMP/web.txt"

# Treasury of David: the "*" left over from stripped emphasis markup go
mod2imp TDavid -s 2>/dev/null | grep -v '^\$\$\$' | sed -E 's/ ?\* ?/ /g; s/^ +//; s/  +/ /g' |
    para >"$TMP/tdavid.txt"

# MHCC and Scofield: keep the first occurrence of each segment or entry (white space normalized)
mod2imp MHCC -s 2>/dev/null >"$TMP/mhcc.imp"
mod2imp Scofield -s 2>/dev/null >"$TMP/scofield.imp"
"$PY" - "$TMP" <<'EOF'
import re, sys
tmp = sys.argv[1]
marker = re.compile(r'(\* Verses? \d+(?:-\d+)? \*|Chapter Outline)')
def distinct(path, split):
    seen, out = set(), []
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for line in f:
            if line.startswith('$$$'):
                continue
            for seg in split(line):
                seg = ' '.join(seg.split())
                if seg and seg not in seen:
                    seen.add(seg)
                    out.append(seg)
    return out
def mhcc_segments(line):
    parts = marker.split(line)
    yield parts[0]
    for i in range(1, len(parts), 2):
        yield parts[i] + parts[i + 1]
for name, split in (('mhcc', mhcc_segments), ('scofield', lambda line: [line])):
    docs = distinct(f'{tmp}/{name}.imp', split)
    with open(f'{tmp}/{name}.txt', 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write(''.join(d + '\n\n' for d in docs))
EOF
rm -f "$TMP/mhcc.imp" "$TMP/scofield.imp"
cp data/extra/mobydick.txt "$TMP/mobydick.txt"

total=0
for f in austen kjv web tdavid mhcc scofield mobydick; do
    [ -s "$TMP/$f.txt" ] || { echo "make_prose_mix.sh: $f came out empty" >&2; exit 1; }
    mv "$TMP/$f.txt" "$OUT/$f.txt"
    b=$(stat -c %s "$OUT/$f.txt")
    docs=$(awk '!/^[ \t\r\v\f]*$/ { if (!inp) n++; inp = 1; next } { inp = 0 } END { print n }' "$OUT/$f.txt")
    total=$((total + b))
    printf '%-10s %10d bytes %8d documents\n' "$f.txt" "$b" "$docs"
done
awk -v t="$total" 'BEGIN { printf "%-10s %10d bytes (%.1f MB)\n", "total", t, t / 1e6 }'
