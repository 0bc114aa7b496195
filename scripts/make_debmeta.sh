#!/usr/bin/env bash
# Builds the inputs of the Debian package-metadata benchmark (the "deb822 triple view": the same
# package records in three files, each with its own field order and extra fields):
#   scripts/make_debmeta.sh WORKDIR
# Writes to WORKDIR/debmeta/:
#   control.txt   the control paragraph (`dpkg-deb -f`) of every .deb of the pinned list
#                 scripts/debmeta_packages.txt, taken from apt's cache when it holds that version,
#                 else fetched with `apt-get download` (about 56 MB for the whole list)
#   status.txt    dpkg's /var/lib/dpkg/status (this machine's installed packages)
#   index.txt     apt's Packages indexes (/var/lib/apt/lists/*_Packages.lz4, through
#                 `/usr/lib/apt/apt-helper cat-file`), in file name order
#   index_shuffled.txt  index.txt with the fields of every stanza in a seeded random order (the
#                 data notes' "seeded key permutations", for scale: each must collapse onto its
#                 index.txt original)
#   *.jsonl       the same stanzas as JSON Lines, one object per stanza, keys in field order,
#                 values strings: the text after "Name:" without its leading white space, with
#                 the continuation lines appended after "\n" as they are
# Stanzas are separated by one blank line. Needs apt (apt-get update done once), dpkg-deb and
# /usr/bin/python3; installs nothing, but `apt-get download` needs root or a writable directory.
# Takes about 30 s when the .debs are cached (plus the download otherwise).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/make_debmeta.sh WORKDIR (from the repository root)" >&2; exit 2; }
LIST=scripts/debmeta_packages.txt
[ -f "$LIST" ] || { echo "make_debmeta.sh: $LIST not found; run from the repository root" >&2; exit 2; }
W=$1/debmeta
PY=/usr/bin/python3
mkdir -p "$W/debs"
shopt -s nullglob
lists=(/var/lib/apt/lists/*_Packages.lz4 /var/lib/apt/lists/*_Packages)
[ ${#lists[@]} -gt 0 ] || { echo "make_debmeta.sh: no apt Packages index; run apt-get update first" >&2; exit 1; }

# index and status
: >"$W/index.txt.tmp"
for f in $(printf '%s\n' "${lists[@]}" | sort); do
    /usr/lib/apt/apt-helper cat-file "$f" | sed -e '$a\' >>"$W/index.txt.tmp"
    echo >>"$W/index.txt.tmp"
done
mv "$W/index.txt.tmp" "$W/index.txt"
cp /var/lib/dpkg/status "$W/status.txt"

# the pinned .debs: apt's cache first, then apt-get download of what is missing
missing=()
while IFS='=' read -r name ver; do
    case "$name" in '#'* | '') continue ;; esac
    enc=${ver//:/%3a}
    have=""
    for d in "$W/debs/${name}_${enc}_"*.deb /var/cache/apt/archives/"${name}_${enc}_"*.deb; do
        have=$d
        break
    done
    if [ -n "$have" ]; then
        [ "$(dirname "$have")" = "$W/debs" ] || cp "$have" "$W/debs/"
    else
        missing+=("$name=$ver")
    fi
done <"$LIST"
if [ ${#missing[@]} -gt 0 ]; then
    echo "fetching ${#missing[@]} .deb files with apt-get download"
    if ! (cd "$W/debs" && apt-get download -q "${missing[@]}" >/dev/null 2>&1); then
        for p in "${missing[@]}"; do # one by one; a version gone from the archive -> candidate
            (cd "$W/debs" && apt-get download -q "$p" >/dev/null 2>&1) ||
                { echo "note: $p is not in the archive any more; taking the candidate of ${p%%=*}" &&
                    (cd "$W/debs" && apt-get download -q "${p%%=*}" >/dev/null 2>&1) ||
                    echo "note: ${p%%=*} could not be downloaded; left out"; }
        done
    fi
fi
: >"$W/control.txt.tmp"
for d in "$W"/debs/*.deb; do
    dpkg-deb -f "$d" | sed -e '$a\' >>"$W/control.txt.tmp"
    echo >>"$W/control.txt.tmp"
done
mv "$W/control.txt.tmp" "$W/control.txt"

# the shuffled copy of the index and the JSON Lines variants
"$PY" - "$W" <<'EOF'
import json, random, re, sys
w = sys.argv[1]
BLANK = re.compile(r'[ \t\r\v\f]*$')
def stanzas(path):
    """Stanzas as lists of (name, [first line, continuation lines...]), comments dropped."""
    out, cur = [], []
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for line in f:
            line = line.rstrip('\n')
            if BLANK.match(line):
                if cur:
                    out.append(cur)
                cur = []
            elif line.startswith('#'):
                continue
            elif line[0] in ' \t':
                cur[-1][1].append(line)
            else:
                name, _, value = line.partition(':')
                cur.append((name, [value]))
    if cur:
        out.append(cur)
    return out
def write_text(path, sts):
    with open(path, 'w', encoding='utf-8', errors='surrogateescape') as f:
        for st in sts:
            for name, lines in st:
                f.write(name + ':' + lines[0] + ''.join('\n' + l for l in lines[1:]) + '\n')
            f.write('\n')
def write_jsonl(path, sts):
    with open(path, 'w', encoding='utf-8', errors='surrogateescape') as f:
        for st in sts:
            obj = {}
            for name, lines in st:
                obj[name] = '\n'.join([lines[0].lstrip(' \t')] + lines[1:])
            f.write(json.dumps(obj, ensure_ascii=False) + '\n')
rng = random.Random(1)
views = {v: stanzas(f'{w}/{v}.txt') for v in ('control', 'status', 'index')}
shuffled = []
for st in views['index']:
    st = st[:]
    rng.shuffle(st)
    shuffled.append(st)
write_text(f'{w}/index_shuffled.txt', shuffled)
views['index_shuffled'] = shuffled
for v, sts in views.items():
    write_jsonl(f'{w}/{v}.jsonl', sts)
EOF
for v in control status index index_shuffled; do
    printf '%-20s %6d stanzas %10d bytes; %-22s %10d bytes\n' "$v.txt" \
        "$(grep -c '^Package:' "$W/$v.txt")" "$(stat -c %s "$W/$v.txt")" "$v.jsonl" "$(stat -c %s "$W/$v.jsonl")"
done
