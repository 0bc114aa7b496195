#!/usr/bin/env bash
# BPE training speed: frugal's byte-level BPE trainer against SentencePiece's spm_train, side by
# side on the same novels.txt (the six Austen novels in alphabetical order, then Moby Dick;
# 5,282,326 bytes), alternating, REPS runs each; prints every run, the medians and the ratio.
#
#   sh scripts/bench_bpe_train.sh            (from the repository root; needs `make` done)
#   REPS=5 VOCAB=8192 THREADS=2 sh scripts/bench_bpe_train.sh
#
# Both are timed as whole processes (wall clock): read novels.txt, train to VOCAB tokens, write
# the model (frugal: tokenizer.json; spm: x.model and x.vocab). Same thread count for both
# (THREADS, default 1: frugal's counting threads, spm's --num_threads). spm_train runs with
# --model_type=bpe and its defaults otherwise (NFKC normalization, character_coverage 0.9995),
# the settings of the anchor in shared/data/README.md (about 2.1 s with 2 threads, 1.93 s with
# 1). The tokenizers differ in kind: spm's is not byte-level (it normalizes, drops bytes outside
# its character coverage) and counts its <unk>, <s>, </s> in the vocabulary; frugal's
# round-trips any bytes exactly. Benchmarks are not CI: this script installs nothing; get
# spm_train with `apt-get install -y sentencepiece`.
set -eu
cd "$(dirname "$0")/.."
O=${O:-build/release}
REPS=${REPS:-3}
VOCAB=${VOCAB:-4096}
THREADS=${THREADS:-1}
BENCH=$O/bench/bench_bpe_train

if ! command -v spm_train >/dev/null 2>&1; then
    echo "bench_bpe_train.sh: spm_train not found; install it with: apt-get install -y sentencepiece" >&2
    exit 2
fi
if [ ! -x "$BENCH" ]; then
    make -j2 --no-print-directory "$BENCH" >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat data/austen/emma.txt data/austen/mansfieldpark.txt data/austen/northangerabbey.txt \
    data/austen/persuasion.txt data/austen/prideprejudice.txt data/austen/sensesensibility.txt \
    data/extra/mobydick.txt >"$tmp/novels.txt"
sum=$(sha256sum "$tmp/novels.txt" | cut -d' ' -f1)
if [ "$sum" != 423c245caa5693fa1e0ae38366ea4007355f394dbe103ddf1cf522bbc696a992 ]; then
    echo "warning: novels.txt is not the reference file (sha256 $sum)" >&2
fi

# One untimed, validated frugal run first: the encoder must agree with the trainer.
"$BENCH" --input "$tmp/novels.txt" --vocab "$VOCAB" --threads "$THREADS" --reps 1 | grep '^validated'

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

f_times=""
s_times=""
for i in $(seq 1 "$REPS"); do
    t0=$(now)
    "$BENCH" --input "$tmp/novels.txt" --vocab "$VOCAB" --threads "$THREADS" --reps 1 \
        --no-validate --save "$tmp/frugal.json" >"$tmp/frugal.log"
    t1=$(now)
    spm_train --input="$tmp/novels.txt" --model_prefix="$tmp/spm" --vocab_size="$VOCAB" \
        --model_type=bpe --num_threads="$THREADS" >"$tmp/spm.log" 2>&1 ||
        { cat "$tmp/spm.log" >&2; exit 1; }
    t2=$(now)
    f=$(elapsed "$t0" "$t1")
    s=$(elapsed "$t1" "$t2")
    f_in=$(sed -n 's/.*"best_s":\([0-9.]*\).*/\1/p' "$tmp/frugal.log")
    echo "run $i: frugal $f s (training alone $f_in s), spm_train $s s"
    f_times="$f_times $f"
    s_times="$s_times $s"
done
fm=$(echo "$f_times" | median)
sm=$(echo "$s_times" | median)
ratio=$(awk -v f="$fm" -v s="$sm" 'BEGIN { printf "%.1f", s / f }')
n_spm=$(wc -l <"$tmp/spm.vocab")
echo "BPE training on novels.txt, vocabulary $VOCAB, $THREADS thread(s), median of $REPS:"
echo "  frugal    $fm s   (byte-level, tokenizer.json)"
echo "  spm_train $sm s   (sentencepiece $(dpkg-query -W -f '${Version}' sentencepiece 2>/dev/null || echo '?'), $n_spm pieces)"
echo "  frugal is ${ratio}x faster"
echo "JSON {\"bench\":\"bpe_train_vs_spm\",\"vocab\":$VOCAB,\"threads\":$THREADS,\"reps\":$REPS,\"frugal_median_s\":$fm,\"spm_median_s\":$sm,\"ratio\":$ratio}"
