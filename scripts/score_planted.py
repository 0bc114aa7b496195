#!/usr/bin/python3
"""Scores a `frugal prepare --jsonl text` manifest against the planted benchmark's ground truth
(scripts/make_planted.py).

    /usr/bin/python3 scripts/score_planted.py PLANTED_DIR MANIFEST [--json] [--label TEXT]

Definitions (every document is one line of PLANTED_DIR/planted.jsonl; truth.tsv gives its
cluster; the original of each cluster comes first in the file, unrelated documents are clusters
of one):
- A removed document is correct (a true positive) when the kept document it is attributed to
  (`duplicate_of` in the manifest) is in the same planted cluster.
- Should be removed: every member of a planted cluster except its first document (the original).
- recall = correctly removed / should be removed; precision = correctly removed / removed.
- Exact stage: the ground truth is recomputed here from the texts: a document should be removed
  by the exact stage when its text, with runs of white space (space, tab, CR, LF, VT, FF)
  collapsed to one space and leading and trailing white space dropped, equals an earlier
  document's (case-sensitive, as the exact stage is in frugal prepare). An exact removal is
  correct when the kept document's normalized text is equal and is the first with it.
- Near stage: should remove the other planted copies (those not exact duplicates of an earlier
  document); a near removal is correct when the kept document is in the same cluster.
- Per copy type and rate: recall over that cell's copies (removed by either stage, correctly
  attributed); precision over that cell's removed copies. Originals and unrelated documents
  should never be removed; any removal of them counts against the overall precision.
Prints a table (or one JSON object with --json). Installs nothing (standard library only);
takes about 3 seconds."""
import argparse
import json
import os
import re
import sys
from collections import defaultdict

WS = re.compile(rb'[ \t\n\r\v\f]+')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('planted')
    ap.add_argument('manifest')
    ap.add_argument('--json', action='store_true')
    ap.add_argument('--label', default='')
    a = ap.parse_args()
    truth = {}
    with open(os.path.join(a.planted, 'truth.tsv'), encoding='utf-8') as f:
        head = f.readline().rstrip('\n').split('\t')
        for line in f:
            r = dict(zip(head, line.rstrip('\n').split('\t')))
            truth[int(r['line'])] = r
    norm = {}
    with open(os.path.join(a.planted, 'planted.jsonl'), encoding='utf-8',
              errors='surrogateescape') as f:
        for i, line in enumerate(f, 1):
            t = json.loads(line)['text'].encode('utf-8', 'surrogateescape')
            norm[i] = WS.sub(b' ', t).strip(b' ')
    if set(norm) != set(truth):
        sys.exit('score_planted.py: planted.jsonl and truth.tsv disagree; regenerate them')
    with open(a.manifest, encoding='utf-8') as f:
        m = json.load(f)
    if m.get('skipped_total', 0) or any(i['empty'] for i in m['inputs']):
        sys.exit('score_planted.py: the manifest skipped or dropped documents; scoring by line '
                 'needs them all')

    first_of = {}  # normalized text -> first line with it
    exact_expected = {}
    for i in sorted(norm):
        if norm[i] in first_of:
            exact_expected[i] = first_of[norm[i]]
        else:
            first_of[norm[i]] = i
    cluster = {i: r['cluster'] for i, r in truth.items()}
    first_in_cluster = {}
    for i in sorted(truth):
        first_in_cluster.setdefault(cluster[i], i)
    should = {i for i in truth if first_in_cluster[cluster[i]] != i}
    near_expected = should - set(exact_expected)
    stray = set(exact_expected) - should
    if stray:  # an exact duplicate across clusters: the corpus was not unrelated
        print(f'warning: {len(stray)} exact duplicates across planted clusters', file=sys.stderr)

    removed = {}
    for r in m['removed']:
        removed[r['line']] = (r['reason'], r['duplicate_of']['line'], r.get('jaccard'))
    ok = {i: cluster[i] == cluster[d] for i, (_, d, _) in removed.items()}

    ex_rm = [i for i, v in removed.items() if v[0] == 'exact']
    ex_tp = [i for i in ex_rm if exact_expected.get(i) == removed[i][1]]
    nr_rm = [i for i, v in removed.items() if v[0] == 'near']
    nr_tp = [i for i in nr_rm if ok[i] and i in near_expected]
    tp = [i for i in removed if ok[i]]

    def ratio(x, y):
        return x / y if y else 1.0

    res = {
        'label': a.label,
        'documents': len(truth), 'should_remove': len(should), 'removed': len(removed),
        'correct': len(tp), 'recall': ratio(len(tp), len(should)),
        'precision': ratio(len(tp), len(removed)),
        'exact': {'expected': len(exact_expected), 'removed': len(ex_rm), 'correct': len(ex_tp),
                  'recall': ratio(len(ex_tp), len(exact_expected)),
                  'precision': ratio(len(ex_tp), len(ex_rm))},
        'near': {'expected': len(near_expected), 'removed': len(nr_rm), 'correct': len(nr_tp),
                 'recall': ratio(len(nr_tp), len(near_expected)),
                 'precision': ratio(sum(ok[i] for i in nr_rm), len(nr_rm))},
        'false_positives': {'originals_removed': sum(truth[i]['type'] == 'original'
                                                     for i in removed),
                            'unrelated_removed': sum(truth[i]['type'] == 'unrelated'
                                                     for i in removed),
                            'wrong_cluster': sum(not ok[i] for i in removed)},
        'options': {k: m['options'].get(k) for k in ('dedup', 'near_threshold', 'shingle',
                                                    'bands', 'rows')},
    }
    cells = defaultdict(list)
    for i, r in truth.items():
        if r['type'] not in ('original', 'unrelated'):
            cells[(r['type'], int(r['rate']))].append(i)
    order = ['exact', 'ws', 'case', 'sub', 'ins', 'del', 'reorder', 'trunc', 'mix-a', 'mix-b']
    rows = []
    for (t, rate) in sorted(cells, key=lambda c: (order.index(c[0]), c[1])):
        lines = cells[(t, rate)]
        rm = [i for i in lines if i in removed]
        good = [i for i in rm if ok[i]]
        j5 = [float(truth[i]['j5']) for i in lines]
        rows.append({'type': t, 'rate': rate, 'copies': len(lines),
                     'removed_exact': sum(removed[i][0] == 'exact' for i in rm),
                     'removed_near': sum(removed[i][0] == 'near' for i in rm),
                     'correct': len(good), 'recall': ratio(len(good), len(lines)),
                     'precision': ratio(len(good), len(rm)),
                     'j5_mean': sum(j5) / len(j5), 'j5_min': min(j5)})
    res['cells'] = rows
    res['min_cell_recall'] = min(r['recall'] for r in rows)
    res['min_cell_precision'] = min(r['precision'] for r in rows)
    res['passes'] = (res['min_cell_recall'] >= 0.95 and res['min_cell_precision'] >= 0.99 and
                     res['precision'] >= 0.99 and res['exact']['recall'] == 1.0 and
                     res['exact']['precision'] == 1.0)
    if a.json:
        print(json.dumps(res))
        return
    o = res['options']
    print(f"options: --dedup {o['dedup']} --shingle {o['shingle']} --bands {o['bands']} "
          f"--rows {o['rows']} --near-threshold {o['near_threshold']}")
    print(f"documents {res['documents']}, should be removed {res['should_remove']}, removed "
          f"{res['removed']}, correct {res['correct']}: recall {res['recall']:.4f}, precision "
          f"{res['precision']:.4f}")
    for s in ('exact', 'near'):
        x = res[s]
        print(f"{s:5} stage: expected {x['expected']}, removed {x['removed']}, correct "
              f"{x['correct']}: recall {x['recall']:.4f}, precision {x['precision']:.4f}")
    print(f"false positives: {res['false_positives']}")
    print('| copy type | rate % | copies | Jaccard (5-word) mean / min | removed exact / near '
          '| recall | precision |')
    print('|---|---|---|---|---|---|---|')
    for r in rows:
        prec = (f"{r['precision']:.3f}" if r['removed_exact'] + r['removed_near'] else '-')
        print(f"| {r['type']} | {r['rate'] or ''} | {r['copies']} | {r['j5_mean']:.3f} / "
              f"{r['j5_min']:.3f} | {r['removed_exact']} / {r['removed_near']} | "
              f"{r['recall']:.3f} | {prec} |")
    print(f"meets recall >= 0.95 and precision >= 0.99 on every type: "
          f"{'yes' if res['passes'] else 'no'}")


if __name__ == '__main__':
    main()
