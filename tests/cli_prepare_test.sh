#!/usr/bin/env bash
# End-to-end tests of `frugal prepare` beyond tests/cli_test.sh (section 15): the canonical
# records stage (JSON objects, RFC 822 stanzas, CSV rows; --record-key) checked against an
# independent Python reference, the substring stage, uint32 shards, determinism across thread
# counts, and bounded memory on an input of 300 MB.
#
#   FRUGAL=build/release/frugal bash tests/cli_prepare_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME"; the last line is "N passed, N failed" and the exit
# status is 1 if anything failed. Needs /usr/bin/python3 for the references (cases that need it
# are skipped without it). Takes about ten seconds.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/cli_lib.sh"
cli_setup cli_prepare_test
SKIPN=0

PY=/usr/bin/python3
HAVE_PY=0
"$PY" -c 'import json, csv' >/dev/null 2>&1 && HAVE_PY=1
# AddressSanitizer's shadow memory is anonymous memory too: the memory bounds do not apply
ASAN=0
ldd "$FRUGAL" 2>/dev/null | grep -q libasan && ASAN=1

# py SCRIPT ARGS...: a Python check (output in $W/chk); a failing script fails the case.
py() {
    local script=$1
    shift
    "$PY" -c "$script" "$@" >"$W/chk" 2>&1 || fail_because "$(tail -n 5 "$W/chk")"
}

# skip_case NAME WHY: count a case as skipped.
skip_case() {
    echo "skip $1: $2"
    SKIPN=$((SKIPN + 1))
}

# An error case: exit code $1, one line on stderr, no crash, and each further argument appears
# in stderr.
expect_error() {
    local code=$1
    shift
    expect_rc "$code"
    expect_no_crash
    expect_one_line
    local s
    for s in "$@"; do
        expect_err "$s"
    done
}

# Directory $1 does not exist or is empty (nothing half-written, nothing left over).
expect_absent_or_empty() {
    local left
    left=$(find "$1" -mindepth 1 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || fail_because "$1 is not empty: $left"
}

# tokens_in SHARD: the token count in a shard's header.
tokens_in() {
    od -An -td4 -j 8 -N 4 "$1" | tr -d ' '
}

# The reference for the records stage, shared by the cases below: canonical forms computed with
# Python's own parsers, the plain rule (equal canonical forms: the first is kept) and the keyed
# rule (equal key fields and equal shared fields, compared with the kept records of the key's
# bucket in input order). compare(manifest, docs, keys) checks frugal's "removed" list against
# it exactly: the same documents removed, each with the same kept document and reason.
cat >"$W/ref.py" <<'EOF'
import csv, io, json, sys

def stanza(text):
    fields, cur = {}, None
    for line in text.split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        if line[0] in " \t":
            fields[cur] += " " + line
        else:
            k, v = line.split(":", 1)
            cur = k.lower()
            fields[cur] = v
    return {k: " ".join(v.split()) for k, v in fields.items()}

def canon_json(obj):
    return {k: json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            for k, v in obj.items()}

def csv_record(header, row):
    h = next(csv.reader(io.StringIO(header)))
    r = next(csv.reader(io.StringIO(row)))
    return {" ".join(k.split()): " ".join(v.split()) for k, v in zip(h, r)}

def expected(docs, keys):
    """docs: [(input, index, fields)] in input order -> {(input, index): (input, index, why)}"""
    out, first_canon, buckets = {}, {}, {}
    for d in docs:
        f = d[2]
        form = tuple(sorted(f.items()))
        if keys and all(k in f for k in keys):
            reps = buckets.setdefault(tuple(f[k] for k in keys), [])
            for r in reps:
                if all(r[2][k] == f[k] for k in f if k in r[2]):
                    same = tuple(sorted(r[2].items())) == form
                    out[d[:2]] = (r[0], r[1], "record" if same else "record-key")
                    break
            else:
                reps.append(d)
        else:
            if form in first_canon:
                k = first_canon[form]
                out[d[:2]] = (k[0], k[1], "record")
            else:
                first_canon[form] = d[:2]
    return out

def compare(manifest, docs, keys, min_removed):
    m = json.load(open(manifest))
    base = lambda p: p.rsplit("/", 1)[-1]
    got = {(base(r["input"]), r["index"]): (base(r["duplicate_of"]["input"]),
            r["duplicate_of"]["index"], r["reason"]) for r in m["removed"]}
    want = expected(docs, keys)
    assert len(want) >= min_removed, ("the fixture plants too few duplicates", len(want))
    missing = {k: v for k, v in want.items() if got.get(k) != v}
    extra = {k: v for k, v in got.items() if k not in want}
    assert not missing and not extra, ("missing", list(missing.items())[:5],
                                       "extra", list(extra.items())[:5])
    st = {s["stage"]: s for s in m["stages"]}
    r = st["records"]
    assert r["enabled"] and r["documents_in"] - r["documents_out"] - r["not_records"] == len(want), r
    return m
EOF

# --- fixtures: stanzas, JSON Lines and CSV with planted duplicates -------------------------

# Three stanza files (think apt's Packages index, dpkg's status file, .deb control data) drawn
# from 40 base records: each view permutes the fields, changes the case of names and the white
# space of values, and sometimes adds a Status field (a superset record) or changes the
# Description (a conflict); docs.json lists every stanza as the reference parses it.
if [ "$HAVE_PY" -eq 1 ]; then
    "$PY" - "$W" <<'EOF'
import json, random, sys
sys.path.insert(0, sys.argv[1])
from ref import stanza
W = sys.argv[1]
rng = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
base = []
for i in range(40):
    base.append([("Package", "pkg%d" % (i % 25)), ("Version", "1.%d" % (i % 3)),
                 ("Architecture", "amd64" if i % 2 else "all"),
                 ("Maintainer", "Dev %d <dev%d@example.org>" % (i % 5, i % 5)),
                 ("Description", "short %d\n %s\n .\n %s" % (
                     i, " ".join(rng.choice(words) for _ in range(8)),
                     " ".join(rng.choice(words) for _ in range(6))))])
docs = []
for name in ("index.txt", "status.txt", "control.txt"):
    paras = []
    for j in range(60):
        rec = list(rng.choice(base))
        kind = rng.random()
        if kind < 0.25:
            rec.append(("Status", "install ok installed"))
        elif kind < 0.35:
            rec = [(k, v + " changed" if k == "Description" else v) for k, v in rec]
        rng.shuffle(rec)
        lines = []
        for k, v in rec:
            k = k.lower() if rng.random() < 0.2 else k
            v = v.replace(" ", "  ") if rng.random() < 0.3 else v
            lines.append("%s: %s" % (k, v))
        paras.append("\n".join(lines))
    text = "\n\n".join(paras) + "\n\n"
    if name == "status.txt":  # a malformed paragraph: no colon (skipped, counted)
        text += "this line is not a field\n\nPackage: last\nVersion: 1\nArchitecture: all\n"
    open(W + "/" + name, "w").write(text)
    idx = 0
    for p in text.split("\n\n"):
        if not p.strip():
            continue
        try:
            docs.append((name, idx, stanza(p)))
        except ValueError:
            pass
        idx += 1
json.dump(docs, open(W + "/stanza_docs.json", "w"))
EOF
fi

begin "records: stanzas with permuted fields collapse to the first (plain canonical rule)"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    OUT=$W/st1
    run "$FRUGAL" prepare -o "$OUT" --dedup records --docs-split blank "$W/index.txt" \
        "$W/status.txt" "$W/control.txt"
    expect_rc 0
    expect_no_crash
    expect_err "1 not records: $W/status.txt:"
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from ref import compare
docs = [tuple(d[:2]) + (d[2],) for d in json.load(open(sys.argv[1] + "/stanza_docs.json"))]
m = compare(sys.argv[2], docs, None, 20)
assert {r["reason"] for r in m["removed"]} == {"record"}, m["removed"][:3]
sk = [s for s in m["skipped"] if s["reason"].startswith("not a stanza record")]
assert len(sk) == 1 and sk[0]["input"].endswith("status.txt"), m["skipped"]
assert m["options"]["records"] == "stanza" and m["options"]["record_key"] is None, m["options"]
' "$W" "$OUT/manifest.json"
    finish
fi

begin "records --record-key Package,Version,Architecture: supersets collapse, conflicts do not"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    OUT=$W/st2
    run "$FRUGAL" prepare -o "$OUT" --dedup records --record-key Package,Version,Architecture \
        --docs-split blank "$W/index.txt" "$W/status.txt" "$W/control.txt"
    expect_rc 0
    expect_no_crash
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from ref import compare
docs = [tuple(d[:2]) + (d[2],) for d in json.load(open(sys.argv[1] + "/stanza_docs.json"))]
m = compare(sys.argv[2], docs, ["package", "version", "architecture"], 60)
why = [r["reason"] for r in m["removed"]]
assert why.count("record-key") >= 10 and why.count("record") >= 10, why
# the keyed run removes strictly more than the plain one (the supersets)
p = json.load(open(sys.argv[3]))
assert len(m["removed"]) > len(p["removed"]), (len(m["removed"]), len(p["removed"]))
assert m["options"]["record_key"] == ["Package", "Version", "Architecture"], m["options"]
' "$W" "$OUT/manifest.json" "$W/st1/manifest.json"
    finish
fi

begin "records: a hand-made superset and a conflict (exact expectations)"
printf 'Package: foo\nVersion: 1.0\nArchitecture: amd64\nDescription: a tool\n that works\n\nPackage: foo\nVersion: 1.0\nArchitecture: amd64\nDescription: a tool that breaks\n' >"$W/a.stz"
printf 'Architecture: amd64\nStatus: install ok installed\nversion: 1.0\nDescription: a  tool\n   that works\nPackage: foo\n' >"$W/b.stz"
run "$FRUGAL" prepare -o "$W/hs1" --dedup records --docs-split blank "$W/a.stz" "$W/b.stz"
expect_rc 0
expect_err "(0 removed, 0 not records)"
run "$FRUGAL" prepare -o "$W/hs2" --dedup records --record-key Package,Version,Architecture \
    --docs-split blank --quiet "$W/a.stz" "$W/b.stz"
expect_rc 0
if [ "$HAVE_PY" -eq 1 ]; then
    py '
import json, sys
m = json.load(open(sys.argv[1]))
rm = [(r["input"].rsplit("/", 1)[-1], r["index"], r["reason"], r["duplicate_of"]["index"]) for r in m["removed"]]
assert rm == [("b.stz", 0, "record-key", 0)], rm
' "$W/hs2/manifest.json"
fi
finish

# JSON Lines: 30 base objects (nested objects, arrays, unicode), each line a view with the keys of
# every object shuffled, white space between tokens varied and non-ASCII written raw or as \u
# escapes; some views change a nested value (a conflict) or add a field (a superset).
if [ "$HAVE_PY" -eq 1 ]; then
    "$PY" - "$W" <<'EOF'
import json, random, sys
sys.path.insert(0, sys.argv[1])
from ref import canon_json
W = sys.argv[1]
rng = random.Random(11)
def shuffle(o):
    if isinstance(o, dict):
        items = [(k, shuffle(v)) for k, v in o.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(o, list):
        return [shuffle(v) for v in o]
    return o
base = [{"id": i % 20, "name": "caf\u00e9 %d" % (i % 7), "text": "document number %d" % i,
         "meta": {"tags": ["x", "y%d" % (i % 4)], "ok": i % 3 == 0, "n": None, "size": i * 7}}
        for i in range(30)]
docs, lines = [], []
for j in range(150):
    o = json.loads(json.dumps(rng.choice(base)))
    r = rng.random()
    if r < 0.2:
        o["extra"] = "more"
    elif r < 0.3:
        o["meta"]["size"] += 1
    o = shuffle(o)
    sep = rng.choice([(",", ":"), (", ", ": "), (" ,", " : ")])
    lines.append(json.dumps(o, ensure_ascii=rng.random() < 0.5, separators=sep))
    docs.append(("recs.jsonl", j, canon_json(o)))
lines.append('{"id": 1, "id": 2, "text": "a duplicate key: not a record"}')
open(W + "/recs.jsonl", "w").write("\n".join(lines) + "\n")
json.dump(docs, open(W + "/json_docs.json", "w"))
EOF
fi

begin "records: JSON objects with permuted keys collapse (--jsonl FIELD and --jsonl .)"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    run "$FRUGAL" prepare -o "$W/js1" --jsonl text --dedup records "$W/recs.jsonl"
    expect_rc 0
    expect_no_crash
    expect_err "1 not records: $W/recs.jsonl:151 not a JSON record"
    run "$FRUGAL" prepare -o "$W/js2" --jsonl . --dedup records --quiet "$W/recs.jsonl"
    expect_rc 0
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from ref import compare
docs = [tuple(d[:2]) + (d[2],) for d in json.load(open(sys.argv[1] + "/json_docs.json"))]
a = compare(sys.argv[2], docs, None, 40)
b = compare(sys.argv[3], docs, None, 40)
assert a["removed"] == b["removed"]
' "$W" "$W/js1/manifest.json" "$W/js2/manifest.json"
    # --jsonl .: the documents are the lines themselves (the shards hold the kept lines)
    py '
import json, sys
m = json.load(open(sys.argv[2]))
gone = {r["index"] for r in m["removed"]}
lines = open(sys.argv[1], "rb").read().split(b"\n")[:150]
want = b"".join(l + b"\n\n" for i, l in enumerate(lines) if i not in gone)
got = b""
for f in ("train.bin", "val.bin"):
    b = open(sys.argv[3] + "/" + f, "rb").read()[1024:]
    got += bytes(b[0::2])
assert sorted(got.split(b"\n\n")) == sorted(want.split(b"\n\n")), "the shards do not hold the kept lines"
' "$W/recs.jsonl" "$W/js2/manifest.json" "$W/js2"
    finish
fi

begin "records --record-key id,name on JSON: supersets collapse, conflicting values do not"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    run "$FRUGAL" prepare -o "$W/js3" --jsonl . --dedup records --record-key id,name --quiet \
        "$W/recs.jsonl"
    expect_rc 0
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from ref import compare
docs = [tuple(d[:2]) + (d[2],) for d in json.load(open(sys.argv[1] + "/json_docs.json"))]
m = compare(sys.argv[2], docs, ["id", "name"], 60)
assert any(r["reason"] == "record-key" for r in m["removed"])
' "$W" "$W/js3/manifest.json"
    finish
fi

# CSV: the same rows in two files whose columns come in different orders, with quoting and
# white space varied; one row has a quote inside an unquoted cell (the canonicalizer refuses it).
if [ "$HAVE_PY" -eq 1 ]; then
    "$PY" - "$W" <<'EOF'
import csv, io, json, random, sys
sys.path.insert(0, sys.argv[1])
from ref import csv_record
W = sys.argv[1]
rng = random.Random(5)
rows = [{"id": str(i % 15), "name": "n%d, x" % (i % 4), "note": "text  %d" % (i % 6)}
        for i in range(40)]
docs = []
for name, cols in (("a.csv", ["id", "name", "note"]), ("b.csv", ["note", "id", "name"])):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n",
                   quoting=csv.QUOTE_ALL if name == "b.csv" else csv.QUOTE_MINIMAL)
    w.writerow(cols)
    header = buf.getvalue().rstrip("\r\n")
    for j in range(60):
        r = rng.choice(rows)
        start = buf.tell()
        w.writerow([r[c].replace(" ", "   ") if rng.random() < 0.3 else r[c] for c in cols])
        row = buf.getvalue()[start:].rstrip("\r\n")
        docs.append((name, j, csv_record(header, row)))
    text = buf.getvalue()
    if name == "b.csv":
        text += 'x"y,1,n\r\n'
    open(W + "/" + name, "w", newline="").write(text)
json.dump(docs, open(W + "/csv_docs.json", "w"))
EOF
fi

begin "records: CSV rows equal up to column order collapse (--csv . and --csv FIELD)"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    run "$FRUGAL" prepare -o "$W/cs1" --csv . --dedup records "$W/a.csv" "$W/b.csv"
    expect_rc 0
    expect_no_crash
    expect_err "1 not records: $W/b.csv:62 not a CSV record"
    run "$FRUGAL" prepare -o "$W/cs2" --csv note --dedup records --quiet "$W/a.csv" "$W/b.csv"
    expect_rc 0
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from ref import compare
docs = [tuple(d[:2]) + (d[2],) for d in json.load(open(sys.argv[1] + "/csv_docs.json"))]
a = compare(sys.argv[2], docs, None, 40)
b = compare(sys.argv[3], docs, None, 40)
' "$W" "$W/cs1/manifest.json" "$W/cs2/manifest.json"
    finish
fi

begin "records --strict: a malformed record is fatal, names file:line, leaves nothing"
OUT=$W/strict/deeper
run "$FRUGAL" prepare -o "$OUT" --dedup records --docs-split blank --strict "$W/a.stz" \
    "$W/status.txt"
expect_error 1 "$W/status.txt:" "not a stanza record" "--strict"
[ ! -e "$W/strict" ] || fail_because "the output directory $W/strict was left behind"
finish

begin "records: no document parses (wrong --records) is an error"
OUT=$W/nrec
run "$FRUGAL" prepare -o "$OUT" --dedup records --records json --docs-split blank "$W/a.stz"
expect_error 1 "no documents left" "JSON record" "--records"
expect_absent_or_empty "$OUT"
finish

begin "records: usage errors name the flag"
run "$FRUGAL" prepare -o "$W/u1" --records csv "$W/a.stz"
expect_error 2 "--records csv" "--csv"
run "$FRUGAL" prepare -o "$W/u2" --dedup none --record-key Package "$W/a.stz"
expect_error 2 "--record-key" "--dedup none"
run "$FRUGAL" prepare -o "$W/u3" --record-key Package,,Version "$W/a.stz"
expect_error 2 "--record-key" "empty field name"
run "$FRUGAL" prepare -o "$W/u4" --records yaml "$W/a.stz"
expect_error 2 "--records" "yaml"
run "$FRUGAL" prepare -o "$W/u5" --dedup exact,fuzzy "$W/a.stz"
expect_error 2 "--dedup" "fuzzy"
for d in u1 u2 u3 u4 u5; do expect_absent_or_empty "$W/$d"; done
finish

begin "records + exact + near: the same bytes with --threads 1 and 2"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    for t in 1 2; do
        "$FRUGAL" prepare -o "$W/th$t" --dedup records,exact,near --record-key Package,Version \
            --docs-split blank --threads $t --quiet "$W/index.txt" "$W/status.txt" \
            "$W/control.txt" >/dev/null 2>&1 || fail_because "--threads $t failed"
    done
    cmp -s "$W/th1/train.bin" "$W/th2/train.bin" || fail_because "train.bin differs"
    cmp -s "$W/th1/val.bin" "$W/th2/val.bin" || fail_because "val.bin differs"
    py '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
del a["memory"], b["memory"]
assert a == b, "the manifests differ (beyond memory)"
' "$W/th1/manifest.json" "$W/th2/manifest.json"
    finish
fi

# --- the substring stage ------------------------------------------------------------------

# Five files of GPT-2 text: P, a paragraph of exactly 60 tokens, opens sa.txt, sits inside
# sb.txt, opens sc.txt and is the whole of se.txt; Q, exactly 40 tokens, is in sc.txt and sd.txt.
# The reference applies the rule by brute force to the ids of `frugal tokenizer encode` of each
# file: a window of L tokens is cut from a document when an earlier document contains it.
cat >"$W/substr_ref.py" <<'EOF'
import struct, sys
def ids(path):
    b = open(path, "rb").read()
    return list(struct.unpack("<%dI" % (len(b) // 4), b))
def expected(docs, L):
    seen, out = set(), []
    for d in docs:
        wins = [tuple(d[i:i + L]) for i in range(len(d) - L + 1)]
        cut = [False] * len(d)
        for i, w in enumerate(wins):
            if w in seen:
                for j in range(i, i + L):
                    cut[j] = True
        seen |= set(wins)
        out.append([t for t, c in zip(d, cut) if not c])
    return out
def shard(path):
    b = open(path, "rb").read()
    n = struct.unpack("<i", b[8:12])[0]
    return list(struct.unpack("<%dH" % n, b[1024:]))
EOF
if [ "$HAVE_PY" -eq 1 ]; then
    "$PY" - "$W" <<'EOF'
import random, sys
W = sys.argv[1]
rng = random.Random(3)
common = ("the of and to in is was for on with as at by from his her they we you he she it "
          "that this not but are have had be were an or which their there all been one would so "
          "will if more when who no out up what about into than them can only other new some "
          "could time these two may then first any my now such like our over man me even most "
          "made after also did many before must through back years where much your way well "
          "down should because each just those people how too little state good very make world "
          "still own see men work long get here between both life being under never day same "
          "another know while last might us great old year off come since against go came right "
          "used take three").split()
def words(n):
    w = [rng.choice(common) for _ in range(n)]
    w[0] = w[0].capitalize()
    return " ".join(w) + "."
P, Q = words(59), words(39)
U = lambda: "\n\n".join(words(rng.randint(30, 80)) for _ in range(3))
files = {"sa.txt": P + "\n\n" + U(), "sb.txt": U() + "\n\n" + P + "\n\n" + U(),
         "sc.txt": P + "\n\n" + Q + "\n\n" + U(), "sd.txt": U() + "\n\n" + Q, "se.txt": P,
         "P.txt": P, "Q.txt": Q}
for name, text in files.items():
    open(W + "/" + name, "w").write(text + "\n")
EOF
fi
SUBSTR_IN=("$W/sa.txt" "$W/sb.txt" "$W/sc.txt" "$W/sd.txt" "$W/se.txt")

begin "substr: a 60-token paragraph in 3 files is kept once, a 40-token one everywhere"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    for f in P Q sa sb sc sd se; do
        "$FRUGAL" tokenizer encode --format bin --quiet -o "$W/$f.ids" "$W/$f.txt" ||
            fail_because "frugal tokenizer encode $f.txt failed"
    done
    [ "$(($(wc -c <"$W/P.ids") / 4))" -eq 61 ] || fail_because "P is not 60 tokens (+ its newline)"
    [ "$(($(wc -c <"$W/Q.ids") / 4))" -eq 41 ] || fail_because "Q is not 40 tokens (+ its newline)"
    OUT=$W/sub
    run "$FRUGAL" prepare -o "$OUT" --tokenizer gpt2 --dedup substr --val-fraction 0 \
        "${SUBSTR_IN[@]}"
    expect_rc 0
    expect_no_crash
    expect_err "1 documents emptied"
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from substr_ref import ids, expected, shard
W = sys.argv[1]
docs = [ids(W + "/%s.ids" % f) for f in ("sa", "sb", "sc", "sd", "se")]
want = []
for d in expected(docs, 50):
    if d:
        want += [50256] + d
got = shard(sys.argv[2] + "/train.bin")
assert got == want, ("the shard differs from the brute-force reference", len(got), len(want))
m = json.load(open(sys.argv[2] + "/manifest.json"))
s = [x for x in m["stages"] if x["stage"] == "substr dedup"][0]
assert s["enabled"] and s["documents_in"] == 5 and s["documents_out"] == 4, s
assert s["tokens_in"] == sum(len(d) + 1 for d in docs), s
assert s["tokens_out"] == len(got) == s["tokens_in"] - s["tokens_removed"], s
spans = m["substr_spans"]
assert len(spans) == s["spans"] == m["substr_spans_total"] == 3, spans
assert sum(x["to"] - x["from"] for x in spans) == s["span_tokens"], (spans, s)
assert all(x["source"]["input"].endswith("sa.txt") for x in spans), spans
assert all(x["to"] - x["from"] >= 60 for x in spans), spans
assert [x["input"].rsplit("/", 1)[-1] for x in spans] == ["sb.txt", "sc.txt", "se.txt"], spans
rm = m["removed"]
assert len(rm) == 1 and rm[0]["input"].endswith("se.txt") and rm[0]["reason"] == "substr", rm
assert rm[0]["duplicate_of"]["input"].endswith("sa.txt"), rm
' "$W" "$OUT"
    # the text itself: P survives once, Q in both of its files
    "$FRUGAL" tokenizer decode --format shard -o "$W/sub.txt" "$OUT/train.bin" 2>/dev/null ||
        fail_because "frugal tokenizer decode of train.bin failed"
    py '
import sys
t, p, q = (open(f).read() for f in sys.argv[1:4])
assert t.count(p.strip()) == 1, t.count(p.strip())
assert t.count(q.strip()) == 2, t.count(q.strip())
' "$W/sub.txt" "$W/P.txt" "$W/Q.txt"
    finish
fi

begin "substr --substr-min 30: the 40-token repeat goes too (reference again)"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    OUT=$W/sub30
    run "$FRUGAL" prepare -o "$OUT" --tokenizer gpt2 --dedup exact,substr --substr-min 30 \
        --val-fraction 0 --threads 1 "${SUBSTR_IN[@]}"
    expect_rc 0
    py '
import json, sys
sys.path.insert(0, sys.argv[1])
from substr_ref import ids, expected, shard
W = sys.argv[1]
docs = [ids(W + "/%s.ids" % f) for f in ("sa", "sb", "sc", "sd", "se")]
want = []
for d in expected(docs, 30):
    if d:
        want += [50256] + d
assert shard(sys.argv[2] + "/train.bin") == want
m = json.load(open(sys.argv[2] + "/manifest.json"))
assert m["options"]["substr_min"] == 30 and m["substr_spans_total"] == 4, m["substr_spans"]
' "$W" "$OUT"
    finish
fi

begin "substr with the byte vocabulary: spans never cross a document's separator"
x60=$(printf 'x%.0s' $(seq 1 60))
y49=$(printf 'y%.0s' $(seq 1 49))
printf 'aaaa %s bbbb\n%s\ncccc %s\n' "$x60" "$x60" "$y49" >"$W/lines.txt"
run "$FRUGAL" prepare -o "$W/subb" --docs-split line --dedup substr --val-fraction 0 \
    "$W/lines.txt"
expect_rc 0
expect_no_crash
got=$(tail -c +1025 "$W/subb/train.bin" | tr -d '\000')
want=$(printf 'aaaa %s bbbb\ncccc %s' "$x60" "$y49")
[ "$got" = "$want" ] || fail_because "train.bin holds '$got'"
run "$FRUGAL" prepare -o "$W/subb2" --dedup substr --substr-min 0 "$W/lines.txt"
expect_error 2 "--substr-min"
finish

# --- tokenization in bounded batches -------------------------------------------------------

begin "BPE: a 1.8 MB document, encoded in 1 MB chunks, gets the ids of tokenizer encode"
if [ "$HAVE_PY" -eq 0 ] || [ ! -f "$ROOT/data/austen/emma.txt" ]; then
    skip_case "$NAME" "no /usr/bin/python3 or no data/austen"
else
    cat "$ROOT/data/austen/emma.txt" "$ROOT/data/austen/mansfieldpark.txt" >"$W/two.txt"
    run "$FRUGAL" prepare -o "$W/bpe" --tokenizer gpt2 --dedup none --val-fraction 0 \
        "$W/two.txt"
    expect_rc 0
    "$FRUGAL" tokenizer encode --format bin --eot --quiet -o "$W/two.ids" "$W/two.txt" ||
        fail_because "frugal tokenizer encode failed"
    py '
import struct, sys
b = open(sys.argv[1], "rb").read()
got = struct.unpack("<%dH" % ((len(b) - 1024) // 2), b[1024:])
c = open(sys.argv[2], "rb").read()
want = struct.unpack("<%dI" % (len(c) // 4), c)
assert len(want) > 400000 and got == want, (len(got), len(want))
' "$W/bpe/train.bin" "$W/two.ids"
    finish
fi

# --- uint32 shards -------------------------------------------------------------------------

# mkshard32 FILE COUNT TOKEN...: a hand-made llm.c uint32 shard (magic 20240801, version 7).
mkshard32() {
    local f=$1 count=$2
    shift 2
    "$PY" -c '
import struct, sys
n, toks = int(sys.argv[2]), [int(t) for t in sys.argv[3:]]
h = struct.pack("<3i", 20240801, 7, n) + bytes(1012)
open(sys.argv[1], "wb").write(h + b"".join(struct.pack("<I", t) for t in toks))
' "$f" "$count" "$@"
}

begin "uint32 shard: frugal train reads a hand-made one, rejects a truncated one"
if [ "$HAVE_PY" -eq 0 ]; then
    skip_case "$NAME" "no /usr/bin/python3"
else
    # shellcheck disable=SC2046
    mkshard32 "$W/u32.bin" 80 $(seq 69990 70069)
    run "$FRUGAL" train --data "$W/u32.bin" --vocab-size 70070 --n-layer 1 --n-head 2 \
        --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1 --steps 2 --quiet
    expect_rc 0
    expect_no_crash
    # shellcheck disable=SC2046
    mkshard32 "$W/u32bad.bin" 81 $(seq 69990 70069)
    run "$FRUGAL" train --data "$W/u32bad.bin" --vocab-size 70070 --n-layer 1 --n-head 2 \
        --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1 --steps 2 --quiet
    expect_error 1 "$W/u32bad.bin" "uint32" "truncated"
    run "$FRUGAL" train --data "$W/u32.bin" --vocab-size 70000 --n-layer 1 --n-head 2 \
        --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1 --steps 2 --quiet
    expect_error 1 "$W/u32.bin" "id 70000" "vocabulary of 70000"
    finish
fi

# --- bounded memory ------------------------------------------------------------------------

# 300 MB of JSON Lines, 30,000 distinct documents of about 1 KB in a "text" field next to a
# 9 KB "pad" field. The process's anonymous resident memory (heap and other private memory;
# the page cache behind the mapped input and the spools is not counted, as the kernel can
# reclaim it) is sampled every 2 ms from outside, independently of the manifest's own figure.
# Reading the whole input into memory, as earlier releases did, costs at least 300 MB.
begin "memory: a 300 MB input is prepared with anonymous memory far below its size"
if [ "$HAVE_PY" -eq 0 ] || [ "$ASAN" -eq 1 ]; then
    skip_case "$NAME" "no /usr/bin/python3, or an AddressSanitizer build"
else
    "$PY" - "$W/big.jsonl" <<'EOF'
import base64, os, sys
pad = base64.b64encode(os.urandom(6750))
with open(sys.argv[1], "wb") as f:
    for i in range(30000):
        t = base64.b64encode(os.urandom(750))
        f.write(b'{"id": %d, "text": "doc %d %s", "pad": "%s"}\n' % (i, i, t, pad))
EOF
    "$PY" - "$FRUGAL" "$W" >"$W/mem" 2>&1 <<'EOF'
import json, subprocess, sys, time
frugal, W = sys.argv[1:3]
p = subprocess.Popen([frugal, "prepare", "-o", W + "/big", "--jsonl", "text", "--dedup", "exact",
                      "--threads", "2", W + "/big.jsonl"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak = 0
while p.poll() is None:
    try:
        for l in open("/proc/%d/status" % p.pid):
            if l.startswith("RssAnon:"):
                peak = max(peak, int(l.split()[1]) * 1024)
    except OSError:
        pass
    time.sleep(0.002)
err = p.stderr.read().decode()
assert p.returncode == 0, err
m = json.load(open(W + "/big/manifest.json"))
size = m["inputs"][0]["bytes"]
assert size > 300e6, size
assert m["inputs"][0]["documents"] == 30000, m["inputs"]
n = sum(o["tokens"] for o in m["outputs"])
want = sum(len("doc %d " % i) + 1000 + 2 for i in range(30000))
assert n == want, (n, want)
print("input %.0f MB, peak anonymous memory %.1f MB (manifest: %.1f MB)" %
      (size / 1e6, peak / 1e6, m["memory"]["peak_anon_bytes"] / 1e6))
assert 0 < peak < 48e6, "peak anonymous memory %.1f MB" % (peak / 1e6)
assert m["memory"]["peak_anon_bytes"] < 48e6, m["memory"]
EOF
    [ $? -eq 0 ] || fail_because "$(tail -n 3 "$W/mem")"
    sed 's/^/    /' "$W/mem"
    left=$(find "$W/big" -mindepth 1 -name '.*' | tr '\n' ' ')
    [ -z "$left" ] || fail_because "temporary files left in the output directory: $left"
    rm -rf "$W/big" "$W/big.jsonl"
    finish
fi

# 200,000 one-line documents through exact and near dedup: the anonymous peak must stay within
# the bound the manifest states (heap_bytes_per_document per document) plus 16 MB.
begin "memory: 200,000 small documents stay within the stated bytes per document"
if [ "$HAVE_PY" -eq 0 ] || [ "$ASAN" -eq 1 ]; then
    skip_case "$NAME" "no /usr/bin/python3, or an AddressSanitizer build"
else
    "$PY" - "$FRUGAL" "$W" >"$W/mem" 2>&1 <<'EOF'
import json, random, subprocess, sys, time
frugal, W = sys.argv[1:3]
rng = random.Random(1)
words = ["w%d" % i for i in range(5000)]
with open(W + "/small.txt", "w") as f:
    for i in range(200000):
        f.write("doc%d %s\n" % (i, " ".join(rng.choice(words) for _ in range(4))))
p = subprocess.Popen([frugal, "prepare", "-o", W + "/small", "--docs-split", "line",
                      W + "/small.txt"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
peak = 0
while p.poll() is None:
    try:
        for l in open("/proc/%d/status" % p.pid):
            if l.startswith("RssAnon:"):
                peak = max(peak, int(l.split()[1]) * 1024)
    except OSError:
        pass
    time.sleep(0.002)
err = p.stderr.read().decode()
assert p.returncode == 0, err
m = json.load(open(W + "/small/manifest.json"))
n = m["inputs"][0]["documents"]
bound = n * m["memory"]["heap_bytes_per_document"] + 16e6
print("%d documents: peak anonymous memory %.1f MB, stated bound %.1f MB" % (n, peak / 1e6, bound / 1e6))
assert n == 200000 and 0 < peak < bound, (n, peak, bound)
EOF
    [ $? -eq 0 ] || fail_because "$(tail -n 3 "$W/mem")"
    sed 's/^/    /' "$W/mem"
    rm -rf "$W/small" "$W/small.txt"
    finish
fi

if [ "$SKIPN" -gt 0 ]; then
    echo "$PASS passed, $FAILN failed, $SKIPN skipped"
else
    echo "$PASS passed, $FAILN failed"
fi
[ "$FAILN" -eq 0 ]
