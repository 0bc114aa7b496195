#!/usr/bin/python3
"""Planted near-duplicate benchmark: a deterministic (seeded) set of documents with known
duplicate clusters, built from the prose mix of scripts/make_prose_mix.sh.

    /usr/bin/python3 scripts/make_planted.py MIXDIR OUTDIR [--seed N] [--per-cell N]
                                             [--bases N] [--unrelated N]

Writes OUTDIR/planted.jsonl (one JSON object per line: "text", "id"), OUTDIR/planted.txt (the same
documents one per line, line breaks turned into spaces, for bench_dedup --docs-split line: the
exact hash collapses white space and shingles ignore it, so both give the same decisions),
OUTDIR/truth.tsv (per line of planted.jsonl: id, cluster, type, rate, source, words, paragraphs,
and the exact Jaccard similarity to the cluster's original at 3-, 4- and 5-word shingles) and
OUTDIR/meta.json (seed, counts, what the unrelatedness check dropped).

How it is built:
1. Paragraphs. Each source's natural units (blank-line paragraphs of MIXDIR/*.txt: novel
   paragraphs, Bible verses, commentary entries and segments) are merged in order into
   paragraphs of at least 50 words; units over 300 words are first cut at sentence ends.
2. Documents. Consecutive paragraphs of one source are grouped into documents whose target
   length is log-uniform between 200 and 2000 words (the pool: every paragraph used once).
3. Unrelatedness. Words as frugal's dedup defines them (runs of ASCII letters and digits and bytes
   >= 0x80, ASCII lowercased) form 3-word shingles (the loosest shingle of the grid). All pairs of
   pool documents are compared by a 128-permutation MinHash estimate; every pair estimated at
   Jaccard >= 0.02 or containment >= 0.1 is measured exactly, and documents are taken in a random
   order, each one only if its exact Jaccard with every document already taken is < 0.05 and its
   containment (shared shingles / the smaller set) < 0.2. This drops natural near duplicates
   such as parallel Bible passages (Psalm 18 / 2 Samuel 22, Kings / Chronicles, the synoptic
   gospels), repeated formulas and commentaries quoting the verses of another document. A pair
   with true Jaccard 0.1 escapes the estimate with probability below 1e-4.
4. Clusters. BASES accepted documents are originals, UNRELATED others stay single. Every cell
   (copy type and rate) gets PER_CELL planted copies, each made from one original:
     exact     byte-identical copy
     ws        white space changed (gaps become runs of spaces, tabs and line breaks; leading
               and trailing white space added): identical after the exact stage's normalization
     case      ASCII case changed (whole document lower or upper case, or 30% of the words
               capitalized): the exact stage is case-sensitive, the near stage folds case
     sub/ins/del at 1, 2, 3, 5, 7, 10% of the words: that many random words substituted,
               inserted or deleted (random words are drawn from the running text of the pool)
     reorder   paragraphs shuffled (originals of at least 3 paragraphs)
     trunc     the last 10, 20 or 30% of the words cut
     mix-a     paragraphs shuffled, then 3% word edits (1% each of sub, ins, del)
     mix-b     the last 10% cut, 3% word edits, white space changed
   Copies are spread round-robin over the originals (reorder and mix-a over those with >= 3
   paragraphs), so each original has several copies of different types.
5. Order. All documents are shuffled; then in each cluster the original is swapped into the
   cluster's earliest position, so the document a deduplicator keeps (the first) is the original
   and every copy's type says how it differs from the kept document.
Takes about a minute; needs numpy (Debian python3-numpy). Deterministic for a given seed.
"""
import argparse
import json
import math
import os
import random
import re
import sys

import numpy as np

SOURCES = ['austen', 'kjv', 'web', 'tdavid', 'mhcc', 'scofield', 'mobydick']
RATES = [1, 2, 3, 5, 7, 10]
CELLS = ([('exact', 0), ('ws', 0), ('case', 0)] +
         [(t, r) for t in ('sub', 'ins', 'del') for r in RATES] +
         [('reorder', 0), ('trunc', 10), ('trunc', 20), ('trunc', 30), ('mix-a', 3), ('mix-b', 3)])
NEEDS_PARAS = {'reorder', 'mix-a'}
MIN_PARA_WORDS, LONG_UNIT_WORDS = 50, 300
DOC_MIN_WORDS, DOC_MAX_WORDS = 200, 2000
WS = re.compile(r'[ \t\n\r\v\f]+')  # the white space of frugal's dedup (not Unicode's)
WORD = re.compile(rb'[0-9A-Za-z\x80-\xff]+')  # a word of frugal's dedup
SENT_END = re.compile(r'(?<=[.?!;:])[ \t]+')
CHECK_J, CHECK_C = 0.05, 0.2  # unrelatedness: exact Jaccard and containment limits
EST_J, EST_C, PERMS = 0.02, 0.1, 128


def words_of(text):
    return [w for w in WS.split(text) if w]


def read_units(path):
    """Blank-line paragraphs, as frugal prepare --docs-split blank reads them."""
    with open(path, encoding='utf-8', errors='surrogateescape') as f:
        text = f.read()
    units, cur = [], []
    for line in text.split('\n'):
        if WS.sub('', line) == '':
            if cur:
                units.append('\n'.join(cur))
                cur = []
        else:
            cur.append(line.rstrip('\r'))
    if cur:
        units.append('\n'.join(cur))
    return units


def paragraphs(units):
    out, cur, n = [], [], 0
    for u in units:
        pieces = [u]
        if len(words_of(u)) > LONG_UNIT_WORDS:  # cut long entries at sentence ends
            pieces, acc, k = [], [], 0
            for s in SENT_END.split(u):
                acc.append(s)
                k += len(words_of(s))
                if k >= 2 * MIN_PARA_WORDS:
                    pieces.append(' '.join(acc))
                    acc, k = [], 0
            if acc:
                pieces.append(' '.join(acc))
        for p in pieces:
            cur.append(p)
            n += len(words_of(p))
            if n >= MIN_PARA_WORDS:
                out.append('\n'.join(cur))
                cur, n = [], 0
    if cur:
        out.append('\n'.join(cur))
    return out


def documents(paras, rng, source):
    docs, cur, n = [], [], 0
    target = math.exp(rng.uniform(math.log(DOC_MIN_WORDS), math.log(DOC_MAX_WORDS)))
    for p in paras:
        cur.append(p)
        n += len(words_of(p))
        if n >= target:
            if n >= DOC_MIN_WORDS:
                docs.append({'source': source, 'paras': cur, 'words': n})
            cur, n = [], 0
            target = math.exp(rng.uniform(math.log(DOC_MIN_WORDS), math.log(DOC_MAX_WORDS)))
    return docs


def text_of(doc):
    return '\n\n'.join(doc['paras'])


class Shingler:
    """3-word shingles as exact 63-bit integers: (id1 << 42) | (id2 << 21) | id3."""

    def __init__(self):
        self.ids = {}

    def __call__(self, text, k=3):
        ids = [self.ids.setdefault(w.lower(), len(self.ids))
               for w in WORD.findall(text.encode('utf-8', 'surrogateescape'))]
        assert len(self.ids) < (1 << 21)
        a = np.array(ids, dtype=np.uint64)
        if len(a) < k:
            return np.unique(a)
        sh = np.zeros(len(a) - k + 1, dtype=np.uint64)
        for j in range(k):
            sh = (sh << np.uint64(21)) | a[j:len(a) - k + 1 + j]
        return np.unique(sh)


def shingle_sets(text, ks):
    """Python sets of word k-grams (tuples), for the Jaccard similarities of the truth file."""
    w = [x.lower() for x in WORD.findall(text.encode('utf-8', 'surrogateescape'))]
    out = {}
    for k in ks:
        if len(w) < k:
            out[k] = {tuple(w)} if w else set()
        else:
            out[k] = {tuple(w[i:i + k]) for i in range(len(w) - k + 1)}
    return out


def jaccard(a, b):
    if not a and not b:
        return 1.0
    i = len(a & b)
    return i / (len(a) + len(b) - i)


def minhash(sets, rng_np):
    a = rng_np.integers(1, 1 << 63, size=PERMS, dtype=np.uint64) | np.uint64(1)
    b = rng_np.integers(0, 1 << 63, size=PERMS, dtype=np.uint64)
    sig = np.empty((len(sets), PERMS), dtype=np.uint32)
    with np.errstate(over='ignore'):
        for i, s in enumerate(sets):
            h = (s[None, :] * a[:, None] + b[:, None]) >> np.uint64(32)  # multiply-shift
            sig[i] = h.min(axis=1) if s.size else np.uint32(0xffffffff)
    return sig


def unrelated_order(pool, rng, rng_np, log):
    sh = Shingler()
    sets = [sh(text_of(d)) for d in pool]
    sizes = np.array([s.size for s in sets], dtype=np.float64)
    sig = minhash(sets, rng_np)
    flagged = {}
    for i in range(len(pool) - 1):
        est = (sig[i + 1:] == sig[i]).sum(axis=1) / PERMS
        inter = est * (sizes[i] + sizes[i + 1:]) / (1 + est)
        cont = inter / np.maximum(1, np.minimum(sizes[i], sizes[i + 1:]))
        for j in np.nonzero((est >= EST_J) | (cont >= EST_C))[0]:
            j = int(j) + i + 1
            inter = np.intersect1d(sets[i], sets[j], assume_unique=True).size
            jac = inter / (sizes[i] + sizes[j] - inter)
            con = inter / max(1, min(sizes[i], sizes[j]))
            if jac >= CHECK_J or con >= CHECK_C:
                flagged.setdefault(i, []).append(j)
                flagged.setdefault(j, []).append(i)
    order = list(range(len(pool)))
    rng.shuffle(order)
    taken, dropped = set(), []
    for i in order:
        if any(j in taken for j in flagged.get(i, ())):
            dropped.append(i)
        else:
            taken.add(i)
    log['pool_documents'] = len(pool)
    log['pairs_related'] = sum(len(v) for v in flagged.values()) // 2
    log['dropped'] = len(dropped)
    by_src = {}
    for i in dropped:
        by_src[pool[i]['source']] = by_src.get(pool[i]['source'], 0) + 1
    log['dropped_by_source'] = by_src
    return [i for i in order if i in taken]


def ascii_case(s, mode):
    if mode == 'lower':
        return s.translate(LOWER)
    return s.translate(UPPER)


LOWER = {c: c + 32 for c in range(65, 91)}
UPPER = {c: c - 32 for c in range(97, 123)}


def ws_noise(words_paras, rng):
    gaps = [' ', ' ', ' ', '  ', '\n', ' \t', '\t', '   ', ' \n ']
    out = []
    for ws in words_paras:
        out.append(''.join(w + rng.choice(gaps) for w in ws[:-1]) + ws[-1] if ws else '')
    lead = rng.choice(['', ' ', '\n', '\t '])
    trail = rng.choice(['', ' ', '\n', ' \n\n'])
    return lead + rng.choice(['\n\n', '\n \n', '\n\n\n', ' \n\t\n']).join(out) + trail


def edit_words(paras_words, rate_sub, rate_ins, rate_del, rng, vocab):
    """Word edits over the whole document: counts are rounded rates of its word count."""
    flat = [(pi, w) for pi, ws in enumerate(paras_words) for w in ws]
    n = len(flat)
    n_sub, n_ins, n_del = (int(round(r / 100.0 * n)) for r in (rate_sub, rate_ins, rate_del))
    pos = list(range(n))
    rng.shuffle(pos)
    sub = set(pos[:n_sub])
    dele = set(pos[n_sub:n_sub + n_del])
    ins = {}
    for _ in range(n_ins):
        ins.setdefault(rng.randrange(n + 1), []).append(rng.choice(vocab))
    out = [[] for _ in paras_words]
    last_p = 0
    for i, (pi, w) in enumerate(flat):
        for x in ins.get(i, ()):
            out[pi].append(x)
        last_p = pi
        if i in dele:
            continue
        out[pi].append(rng.choice(vocab) if i in sub else w)
    for x in ins.get(n, ()):
        out[last_p].append(x)
    return [ws for ws in out if ws]


def truncate(doc_text, frac):
    """Keep the first (1 - frac) of the words, cutting the original text after the last kept word."""
    spans = [m.span() for m in re.finditer(r'[^ \t\n\r\v\f]+', doc_text)]
    keep = len(spans) - int(round(frac * len(spans)))
    return doc_text[:spans[keep - 1][1]] if keep > 0 else ''


def make_copy(doc, kind, rate, rng, vocab):
    text = text_of(doc)
    pw = [words_of(p) for p in doc['paras']]
    if kind == 'exact':
        return text
    if kind == 'ws':
        return ws_noise(pw, rng)
    if kind == 'case':
        mode = rng.choice(['lower', 'upper', 'title'])
        if mode != 'title':
            return ascii_case(text, mode)
        return '\n\n'.join(' '.join(ascii_case(w[:1], 'upper') + w[1:] if rng.random() < 0.3 else w
                                    for w in ws) for ws in pw)
    if kind in ('sub', 'ins', 'del'):
        r = {'sub': (rate, 0, 0), 'ins': (0, rate, 0), 'del': (0, 0, rate)}[kind]
        return '\n\n'.join(' '.join(ws) for ws in edit_words(pw, *r, rng, vocab))
    if kind == 'reorder':
        paras = doc['paras'][:]
        while paras == doc['paras']:
            rng.shuffle(paras)
        return '\n\n'.join(paras)
    if kind == 'trunc':
        return truncate(text, rate / 100.0)
    if kind == 'mix-a':
        order = list(range(len(pw)))
        while order == sorted(order):
            rng.shuffle(order)
        pw2 = edit_words([pw[i] for i in order], 1, 1, 1, rng, vocab)
        return '\n\n'.join(' '.join(ws) for ws in pw2)
    if kind == 'mix-b':
        cut = truncate(text, 0.10)
        pw2 = edit_words([words_of(p) for p in re.split(r'\n[ \t\r\v\f]*\n', cut)], 1, 1, 1, rng,
                         vocab)
        return ws_noise(pw2, rng)
    raise ValueError(kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('mixdir')
    ap.add_argument('outdir')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--per-cell', type=int, default=200, help='planted copies per type and rate')
    ap.add_argument('--bases', type=int, default=1200, help='originals with planted copies')
    ap.add_argument('--unrelated', type=int, default=2000, help='documents without copies')
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rng_np = np.random.default_rng(a.seed)
    pool = []
    for s in SOURCES:
        path = os.path.join(a.mixdir, s + '.txt')
        if not os.path.exists(path):
            sys.exit(f'make_planted.py: {path} is missing; build the mix with '
                     f'scripts/make_prose_mix.sh {a.mixdir}')
        pool += documents(paragraphs(read_units(path)), rng, s)
    log = {}
    order = unrelated_order(pool, rng, rng_np, log)
    if len(order) < a.bases + a.unrelated:
        sys.exit(f'make_planted.py: only {len(order)} mutually unrelated documents; '
                 f'ask for fewer --bases/--unrelated')
    bases = [pool[i] for i in order[:a.bases]]
    singles = [pool[i] for i in order[a.bases:a.bases + a.unrelated]]
    vocab = [w for d in pool[::7] for p in d['paras'] for w in words_of(p)]  # running text

    # documents: (cluster, type, rate, source, text, paragraphs); cluster c < bases: planted
    docs = [(c, 'original', 0, d['source'], text_of(d), len(d['paras'])) for c, d in enumerate(bases)]
    docs += [(a.bases + u, 'unrelated', 0, d['source'], text_of(d), len(d['paras']))
             for u, d in enumerate(singles)]
    multi = [c for c, d in enumerate(bases) if len(d['paras']) >= 3]
    labels = [cell for cell in CELLS for _ in range(a.per_cell)]
    rng.shuffle(labels)
    nxt = {False: 0, True: 0}
    for kind, rate in labels:
        need = kind in NEEDS_PARAS
        lst = multi if need else list(range(len(bases)))
        c = lst[nxt[need] % len(lst)]
        nxt[need] += 1
        t = make_copy(bases[c], kind, rate, rng, vocab)
        docs.append((c, kind, rate, bases[c]['source'], t, len(bases[c]['paras'])))

    # shuffle, then put each cluster's original into the cluster's earliest position
    rng.shuffle(docs)
    first = {}
    for i, d in enumerate(docs):
        if d[0] < a.bases:
            first.setdefault(d[0], i)
    for i, d in enumerate(docs):
        if d[1] == 'original' and first[d[0]] != i:
            j = first[d[0]]
            docs[i], docs[j] = docs[j], docs[i]

    os.makedirs(a.outdir, exist_ok=True)
    orig_sets = {}
    for d in docs:
        if d[1] == 'original':
            orig_sets[d[0]] = shingle_sets(d[4], (3, 4, 5))
    with open(os.path.join(a.outdir, 'planted.jsonl'), 'w', encoding='utf-8',
              errors='surrogateescape') as fj, \
            open(os.path.join(a.outdir, 'planted.txt'), 'w', encoding='utf-8',
                 errors='surrogateescape') as ft, \
            open(os.path.join(a.outdir, 'truth.tsv'), 'w', encoding='utf-8') as fg:
        fg.write('line\tid\tcluster\ttype\trate\tsource\twords\tparagraphs\tj3\tj4\tj5\n')
        for i, (c, kind, rate, src, t, np_) in enumerate(docs):
            did = f'd{i:06d}'
            fj.write(json.dumps({'text': t, 'id': did}, ensure_ascii=False) + '\n')
            ft.write(re.sub(r'[\n\r\v\f]', ' ', t) + '\n')
            if c in orig_sets and kind != 'original':
                s = shingle_sets(t, (3, 4, 5))
                js = [f'{jaccard(s[k], orig_sets[c][k]):.4f}' for k in (3, 4, 5)]
            else:
                js = ['1.0000'] * 3 if kind == 'original' else ['', '', '']
            fg.write(f'{i + 1}\t{did}\t{c}\t{kind}\t{rate}\t{src}\t{len(words_of(t))}\t{np_}\t'
                     + '\t'.join(js) + '\n')
    nbytes = os.path.getsize(os.path.join(a.outdir, 'planted.txt'))
    comp = {}
    for d in bases + singles:
        comp[d['source']] = comp.get(d['source'], 0) + 1
    meta = {'seed': a.seed, 'per_cell': a.per_cell, 'bases': a.bases, 'unrelated': a.unrelated,
            'documents': len(docs), 'copies': len(labels), 'bytes': nbytes,
            'cells': [f'{k}:{r}' for k, r in CELLS], 'sources': comp,
            'bases_with_3_paragraphs': len(multi), 'unrelatedness': log}
    with open(os.path.join(a.outdir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == '__main__':
    main()
