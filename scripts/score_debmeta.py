#!/usr/bin/python3
"""Independent ground truth for the Debian package-metadata benchmark, and the score of a
`frugal prepare --dedup records` manifest against it.

    /usr/bin/python3 scripts/score_debmeta.py --kind stanza|json [--key F1,F2,...]
                                              MANIFEST FILE...

FILE... are the inputs in the order given to frugal prepare (stanza files read as
`--docs-split blank`, JSON Lines as `--jsonl .`). The records are parsed here, without frugal:
- stanza: a document is a run of non-blank lines (a blank line holds only space, tab, CR, VT,
  FF); lines starting with '#' are comments; "Name: value" lines start fields and lines starting
  with a space or tab continue them. Names compare case-insensitively; a value is its text with
  runs of space, tab, CR and LF collapsed to one space and both ends trimmed. A line without ':'
  or a repeated name makes the document no record (it is skipped).
- json: each line is one JSON object; names compare exactly, values compare as parsed JSON
  (strings exactly, white space included).
The rule (canonical records; --key is --record-key): documents are taken in input order. With
keys, a record that has every key field is a duplicate when it agrees with a kept record of the
same key values on every field both have (extra fields allowed); it duplicates the first such
kept record. Otherwise, and without keys, a record is a duplicate when a kept record has exactly
the same fields and values. Every other record is kept.
Scores: removed = the manifest's removed documents; expected = the removals of the rule above.
recall = |removed and expected| / |expected|; precision = removed documents whose duplicate_of
is a kept record they really duplicate (checked with the rule, pairwise) / |removed|. Also
reports the records of each input, same-key groups across inputs, collapses per pair of inputs,
and which shared fields differ when records with equal keys do not collapse.
Prints one JSON object; exits 1 unless frugal's removals are exactly the expected ones.
Installs nothing (standard library only); takes about 5 seconds on the 107 MB input."""
import argparse
import json
import os
import re
import sys
from collections import Counter, defaultdict

BLANK = re.compile(r'[ \t\r\v\f]*$')
NORM = re.compile(r'[ \t\r\n]+')


def stanza_docs(path):
    """(line, text lines) of every run of non-blank lines."""
    docs, cur, start = [], [], 0
    with open(path, encoding='utf-8', errors='surrogateescape', newline='\n') as f:
        for n, line in enumerate(f, 1):
            line = line[:-1] if line.endswith('\n') else line
            if BLANK.match(line):
                if cur:
                    docs.append((start, cur))
                cur = []
            else:
                if not cur:
                    start = n
                cur.append(line)
    if cur:
        docs.append((start, cur))
    return docs


def parse_stanza(lines):
    fields, order = {}, []
    cur = None
    for line in lines:
        if line.startswith('#'):
            continue
        if line[0] in ' \t':
            if cur is None:
                return None
            fields[cur].append(line)
            continue
        name, colon, value = line.partition(':')
        if not colon or not name or name.lower() in fields:
            return None
        cur = name.lower()
        fields[cur] = [value]
        order.append(cur)
    if not fields:
        return None
    return {k: NORM.sub(' ', '\n'.join(v)).strip(' \t\r\n') for k, v in fields.items()}


def json_docs(path):
    docs = []
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        for n, line in enumerate(f, 1):
            if line.strip(' \t\r\n\v\f'):
                docs.append((n, line))
    return docs


def parse_json(line):
    try:
        o = json.loads(line)
    except ValueError:
        return None
    if not isinstance(o, dict):
        return None
    return {k: json.dumps(v, sort_keys=True, ensure_ascii=False, separators=(',', ':'))
            for k, v in o.items()}


def keyed_equal(a, b, keys):
    if any(k not in a or k not in b or a[k] != b[k] for k in keys):
        return False
    return all(a[f] == b[f] for f in a.keys() & b.keys())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kind', choices=('stanza', 'json'), required=True)
    ap.add_argument('--key', default='')
    ap.add_argument('manifest')
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    keys = [k for k in a.key.split(',') if k]
    if a.kind == 'stanza':
        keys = [k.lower() for k in keys]
    recs = []  # (input index, line, fields or None)
    for fi, path in enumerate(a.files):
        if a.kind == 'stanza':
            recs += [(fi, ln, parse_stanza(lines)) for ln, lines in stanza_docs(path)]
        else:
            recs += [(fi, ln, parse_json(line)) for ln, line in json_docs(path)]

    expected = {}  # record number -> record number it duplicates
    reps = defaultdict(list)
    canon = {}
    for i, (_, _, r) in enumerate(recs):
        if r is None:
            continue
        if keys and all(k in r for k in keys):
            kv = tuple(r[k] for k in keys)
            for j in reps[kv]:
                if keyed_equal(recs[j][2], r, keys):
                    expected[i] = j
                    break
            else:
                reps[kv].append(i)
        else:
            c = tuple(sorted(r.items()))
            if c in canon:
                expected[i] = canon[c]
            else:
                canon[c] = i

    with open(a.manifest, encoding='utf-8') as f:
        m = json.load(f)
    where = {(fi, ln): i for i, (fi, ln, _) in enumerate(recs)}
    paths = {p: fi for fi, p in enumerate(a.files)}
    removed = {}
    for r in m['removed']:
        i = where.get((paths[r['input']], r['line']))
        j = where.get((paths[r['duplicate_of']['input']], r['duplicate_of']['line']))
        if i is None or j is None:
            sys.exit(f"score_debmeta.py: manifest names a document at {r['input']}:{r['line']} "
                     f"that is not a record start here")
        removed[i] = (j, r['reason'])
    ok = 0
    for i, (j, _) in removed.items():
        ri, rj = recs[i][2], recs[j][2]
        if ri is None or rj is None or j in removed:
            continue
        if (keys and all(k in ri for k in keys) and keyed_equal(rj, ri, keys)) or ri == rj:
            ok += 1
    hit = sum(1 for i in removed if i in expected)
    same_dup = sum(1 for i in removed if expected.get(i) == removed[i][0])

    # descriptive statistics of the inputs
    names = [os.path.basename(p) for p in a.files]
    per_input = Counter(fi for fi, _, r in recs if r is not None)
    bad = Counter(fi for fi, _, r in recs if r is None)
    pair_collapse = Counter()
    for i, j in expected.items():
        pair_collapse[f'{names[recs[i][0]]} -> {names[recs[j][0]]}'] += 1
    conflicts, groups_multi = Counter(), 0
    if keys:
        groups = defaultdict(list)
        for i, (fi, _, r) in enumerate(recs):
            if r is not None and all(k in r for k in keys):
                groups[tuple(r[k] for k in keys)].append(i)
        for g in groups.values():
            if len({recs[i][0] for i in g}) > 1:
                groups_multi += 1
        for i, (fi, _, r) in enumerate(recs):
            if r is None or i in expected or not keys or not all(k in r for k in keys):
                continue
            kv = tuple(r[k] for k in keys)
            for j in groups[kv]:
                if j < i and j not in expected:  # an earlier kept record with the same key
                    for f in r.keys() & recs[j][2].keys():
                        if r[f] != recs[j][2][f]:
                            conflicts[f] += 1
                    break
    res = {
        'kind': a.kind, 'key': keys,
        'records': {names[fi]: per_input[fi] for fi in range(len(a.files))},
        'not_records': {names[fi]: bad[fi] for fi in range(len(a.files)) if bad[fi]},
        'key_groups_in_several_inputs': groups_multi,
        'expected_removed': len(expected), 'removed': len(removed),
        'removed_and_expected': hit, 'same_duplicate_of': same_dup, 'correct_pairs': ok,
        'recall': hit / len(expected) if expected else 1.0,
        'precision': ok / len(removed) if removed else 1.0,
        'expected_by_pair': dict(pair_collapse),
        'kept_same_key_conflicting_fields': dict(conflicts.most_common(12)),
        'frugal_skipped': m.get('skipped_total'),
        'frugal_reasons': dict(Counter(v[1] for v in removed.values())),
    }
    print(json.dumps(res, indent=1))
    sys.exit(0 if res['recall'] == 1.0 and res['precision'] == 1.0 and
             len(removed) == len(expected) else 1)


if __name__ == '__main__':
    main()
