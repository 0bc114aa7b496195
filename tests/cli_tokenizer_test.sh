#!/usr/bin/env bash
# End-to-end tests of `frugal tokenizer` (encode, decode, info, train): GPT-2's known ids, exact
# round trips of arbitrary bytes, shards that frugal train reads, a learned vocabulary, and
# one-line errors that name the offending file or flag with exit codes 1 (bad input) and 2
# (bad usage).
#
#   FRUGAL=build/release/frugal bash tests/cli_tokenizer_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME"; the last line is "N passed, N failed" and the exit
# status is 1 if anything failed. Uses data/gpt2/ and data/austen/emma.txt; takes seconds.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/cli_lib.sh"
cli_setup cli_tokenizer_test

GPT2=$ROOT/data/gpt2
V=(--vocab "$GPT2")
# The tiny model of tests/cli_test.sh, with GPT-2's vocabulary.
TINY=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1
      --vocab-size 50257)



# run_in FILE CMD...: like run, with stdin from FILE.
run_in() {
    local in=$1
    shift
    "$@" >"$W/out" 2>"$W/err" <"$in"
    RC=$?
}

# An error case: exit code $1, one line on stderr, no crash, nothing on stdout, and each
# further argument appears in stderr.
expect_error() {
    local code=$1
    shift
    expect_rc "$code"
    expect_no_crash
    expect_one_line
    [ ! -s "$W/out" ] || fail_because "stdout is not empty: $(head -c 80 "$W/out")"
    local s
    for s in "$@"; do
        expect_err "$s"
    done
}

# stdout is exactly the text $1 (plus the final newline).
expect_out() {
    local got
    got=$(cat "$W/out")
    [ "$got" = "$1" ] || fail_because "stdout is '$(head -c 200 "$W/out")', expected '$1'"
}

# Directory $1 holds no leftover temporary files.
expect_no_tmp() {
    local left
    left=$(find "$1" -name '*.tmp.*' 2>/dev/null)
    [ -z "$left" ] || fail_because "temporary files left in $1: $(echo "$left" | tr '\n' ' ')"
}

# --- fixtures ------------------------------------------------------------------------------

# Arbitrary bytes: every byte value up and down (NUL included), invalid UTF-8 (a lone
# continuation byte, truncated sequences, an overlong '/', an encoded surrogate, 0xFF 0xFE),
# runs of whitespace, and the special token's text.
{
    for i in $(seq 0 255); do printf '%b' "\\x$(printf %02x "$i")"; done
    for i in $(seq 255 -1 0); do printf '%b' "\\x$(printf %02x "$i")"; done
    printf 'x\200y \303 \342\202 \360\237\230 \300\257 \355\240\200 \377\376\000\000end\n'
    printf '   \n\n\t <|endoftext|> caf\303\251 \360\237\244\227\n'
} >"$W/bytes.bin"
printf 'Hello world' >"$W/hello.txt"
head -c 8000 "$ROOT/data/austen/emma.txt" >"$W/emma8k.txt"

# --- happy paths ---------------------------------------------------------------------------

begin "encode 'Hello world' gives GPT-2's ids 15496 995"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet "$W/hello.txt"
expect_rc 0
expect_no_crash
expect_out "15496 995"
[ ! -s "$W/err" ] || fail_because "--quiet printed to stderr"
finish

begin "encode reads stdin and prints one summary line"
run_in "$W/hello.txt" "$FRUGAL" tokenizer encode "${V[@]}"
expect_rc 0
expect_no_crash
expect_out "15496 995"
expect_one_line
expect_err "11 bytes -> 2 tokens"
expect_err "MB/s"
finish

begin "encode finds data/gpt2 by default (run from another directory)"
printf 'hello world' | "$FRUGAL" tokenizer encode --quiet >"$W/out" 2>"$W/err"
RC=$?
expect_rc 0
expect_out "31373 995"
finish

begin "encode: one line per file; --allow-special"
printf '<|endoftext|>' >"$W/eot.txt"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet "$W/eot.txt" "$W/hello.txt" "$W/eot.txt"
expect_rc 0
expect_out "27 91 437 1659 5239 91 29
15496 995
27 91 437 1659 5239 91 29"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet --allow-special "$W/eot.txt"
expect_rc 0
expect_out "50256"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet --eot "$W/hello.txt" "$W/hello.txt"
expect_rc 0
expect_out "50256 15496 995
50256 15496 995"
finish

begin "encode | decode round-trips arbitrary bytes (ids, bin, shard)"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet -o "$W/bytes.ids" "$W/bytes.bin"
expect_rc 0
run "$FRUGAL" tokenizer decode "${V[@]}" "$W/bytes.ids"
expect_rc 0
expect_no_crash
cmp -s "$W/out" "$W/bytes.bin" || fail_because "decode of --format ids differs from the input"
"$FRUGAL" tokenizer encode "${V[@]}" --quiet --format bin "$W/bytes.bin" |
    "$FRUGAL" tokenizer decode "${V[@]}" --format bin -o "$W/back.bin"
cmp -s "$W/back.bin" "$W/bytes.bin" || fail_because "the bin pipe does not round-trip"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet --format shard --no-eot -o "$W/bytes.shard" \
    "$W/bytes.bin"
expect_rc 0
run "$FRUGAL" tokenizer decode "${V[@]}" --format shard "$W/bytes.shard"
expect_rc 0
cmp -s "$W/out" "$W/bytes.bin" || fail_because "the shard does not round-trip"
expect_no_tmp "$W"
finish

begin "encode: big files are cut for threads, yet the ids are GPT-2's (novels conformance)"
# data/austen/*.txt then data/extra/mobydick.txt as one 5.3 MB file: the encoder cuts it into
# chunks at line breaks, and the ids must still be tiktoken's (sha256 from data/gpt2/README.md)
cat "$ROOT"/data/austen/*.txt "$ROOT/data/extra/mobydick.txt" >"$W/novels.txt"
for t in 1 2; do
    run "$FRUGAL" tokenizer encode "${V[@]}" --quiet --threads $t --format bin -o "$W/nov$t.bin" \
        "$W/novels.txt"
    expect_rc 0
    expect_no_crash
    SUM=$(sha256sum "$W/nov$t.bin" | cut -d' ' -f1)
    [ "$SUM" = 6a95bb76de46b303f022ddf44416666f9318ce4e72884bd745267af3d3d6a863 ] ||
        fail_because "--threads $t: sha256 of the ids is $SUM, not tiktoken's 6a95bb76..."
done
[ "$(wc -c <"$W/nov1.bin")" -eq $((4 * 1336163)) ] || fail_because "not 1,336,163 ids"
run "$FRUGAL" tokenizer decode "${V[@]}" --format bin "$W/nov2.bin"
cmp -s "$W/out" "$W/novels.txt" || fail_because "decode does not give novels.txt back"
finish

begin "--format shard: llm.c header (20240520, 1, count) and frugal train reads it"
run "$FRUGAL" tokenizer encode "${V[@]}" --quiet -o "$W/emma.ids" "$W/emma8k.txt"
expect_rc 0
N=$(wc -w <"$W/emma.ids")
run "$FRUGAL" tokenizer encode "${V[@]}" --format shard -o "$W/emma.shard" "$W/emma8k.txt"
expect_rc 0
expect_no_crash
expect_one_line
HDR=$(od -An -tu4 -N12 "$W/emma.shard" | tr -s ' ' | sed 's/^ //;s/ $//')
[ "$HDR" = "20240520 1 $((N + 1))" ] ||
    fail_because "shard header is '$HDR', expected '20240520 1 $((N + 1))' (<|endoftext|> + $N ids)"
SIZE=$(wc -c <"$W/emma.shard")
[ "$SIZE" -eq $((1024 + 2 * (N + 1))) ] || fail_because "shard has $SIZE bytes"
FIRST=$(od -An -tu2 -j 1024 -N 2 "$W/emma.shard" | tr -d ' ')
[ "$FIRST" = 50256 ] || fail_because "the shard starts with id $FIRST, not <|endoftext|> 50256"
mkdir -p "$W/ck"
run "$FRUGAL" train --data "$W/emma.shard" "${TINY[@]}" --steps 2 --ckpt-dir "$W/ck" --quiet
expect_rc 0
expect_no_crash
[ -s "$W/ck/ckpt_00000002.safetensors" ] || fail_because "frugal train wrote no checkpoint"
finish

begin "info: vocabulary size, <|endoftext|> id, longest token"
run "$FRUGAL" tokenizer info "${V[@]}"
expect_rc 0
expect_no_crash
grep -q '^tokens  *50257 ' "$W/out" || fail_because "no 'tokens 50257' line"
grep -q '^end of text  *50256 ' "$W/out" || fail_because "no 'end of text 50256' line"
grep -q '^longest token  *128 bytes' "$W/out" || fail_because "no 'longest token 128 bytes'"
finish

begin "help: frugal --help lists tokenizer; tokenizer --help teaches the formats"
run "$FRUGAL" --help
grep -q '^  tokenizer ' "$W/out" || fail_because "frugal --help does not list tokenizer"
run "$FRUGAL" tokenizer --help
expect_rc 0
grep -q '^usage: frugal tokenizer' "$W/out" || fail_because "no usage on stdout"
grep -q '20240520' "$W/out" || fail_because "tokenizer --help does not describe the shard header"
run "$FRUGAL" tokenizer encode --help
expect_rc 0
grep -qF -- '--format' "$W/out" || fail_because "encode --help does not list --format"
grep -q 'uint32' "$W/out" || fail_because "encode --help does not describe --format bin"
run "$FRUGAL" tokenizer decode --help
expect_rc 0
grep -q '^usage: frugal tokenizer decode' "$W/out" || fail_because "no decode usage"
[ ! -s "$W/err" ] || fail_because "help printed to stderr"
finish

# --- bad input: exit 1 or 2, one line naming the file or flag ------------------------------

begin "missing input file (and no half-written -o)"
run "$FRUGAL" tokenizer encode "${V[@]}" -o "$W/never.ids" "$W/hello.txt" "$W/missing.txt"
expect_error 1 "$W/missing.txt"
[ ! -e "$W/never.ids" ] || fail_because "-o $W/never.ids was written"
expect_no_tmp "$W"
finish

begin "unreadable vocabulary directory"
run "$FRUGAL" tokenizer encode --vocab "$W/novocab" "$W/hello.txt"
expect_error 1 "$W/novocab" "--vocab"
finish

begin "vocabulary directory without encoder.json"
mkdir -p "$W/emptyvocab"
run "$FRUGAL" tokenizer encode --vocab "$W/emptyvocab" "$W/hello.txt"
expect_error 1 "$W/emptyvocab/encoder.json"
finish

begin "truncated encoder.json"
mkdir -p "$W/trunc"
# cut after an entry's comma, as an interrupted download would end
head -c 100000 "$GPT2/encoder.json" | sed 's/, [^,]*$/, /' >"$W/trunc/encoder.json"
cp "$GPT2/vocab.bpe" "$W/trunc/vocab.bpe"
run "$FRUGAL" tokenizer encode --vocab "$W/trunc" "$W/hello.txt"
expect_error 1 "$W/trunc/encoder.json" "truncated"
finish

begin "merges file with an unknown token"
{
    head -n 3 "$GPT2/vocab.bpe"
    echo "zzqq xx"
    tail -n +4 "$GPT2/vocab.bpe"
} >"$W/bad.bpe"
run "$FRUGAL" tokenizer encode --encoder "$GPT2/encoder.json" --merges "$W/bad.bpe" \
    "$W/hello.txt"
expect_error 1 "$W/bad.bpe:4" "zzqq"
finish

begin "decode: a non-numeric id"
printf '15496 995\n15496 99x5\n' >"$W/nonnum.ids"
run "$FRUGAL" tokenizer decode "${V[@]}" "$W/nonnum.ids"
expect_error 1 "$W/nonnum.ids:2:7" "99x5"
finish

begin "decode: an id out of range"
printf '15496 50257 995\n' >"$W/range.ids"
run "$FRUGAL" tokenizer decode "${V[@]}" -o "$W/never.txt" "$W/range.ids"
expect_error 1 "$W/range.ids:1:7" "50257" "0..50256"
[ ! -e "$W/never.txt" ] || fail_because "-o $W/never.txt was written"
finish

begin "decode --format bin: not a whole number of ids"
printf 'abcdefg' >"$W/seven.bin"
run "$FRUGAL" tokenizer decode "${V[@]}" --format bin "$W/seven.bin"
expect_error 1 "$W/seven.bin" "7 bytes"
finish

begin "unknown --format"
run "$FRUGAL" tokenizer encode "${V[@]}" --format xml "$W/hello.txt"
expect_error 2 "--format" "xml"
finish

begin "unknown flag"
run "$FRUGAL" tokenizer encode "${V[@]}" --bogus "$W/hello.txt"
expect_error 2 "--bogus"
finish

begin "--format shard without -o"
run "$FRUGAL" tokenizer encode "${V[@]}" --format shard "$W/hello.txt"
expect_error 2 "--format shard" "-o"
finish

begin "-o in a missing directory"
run "$FRUGAL" tokenizer encode "${V[@]}" -o "$W/nodir/out.ids" "$W/hello.txt"
expect_error 1 "$W/nodir/out.ids"
finish

begin "unknown tokenizer command"
run "$FRUGAL" tokenizer frobnicate
expect_error 2 "frobnicate"
finish

# --- a learned vocabulary: train, then encode and decode with --tokenizer -------------------

begin "train a 300-token vocabulary; encode | decode with --tokenizer round-trips"
run "$FRUGAL" tokenizer train --vocab-size 300 --threads 2 -o "$W/tok.json" "$W/emma8k.txt" \
    "$W/bytes.bin"
expect_rc 0
expect_no_crash
expect_one_line
[ -s "$W/tok.json" ] || fail_because "no $W/tok.json"
grep -q '"type": *"BPE"' "$W/tok.json" || fail_because "tok.json is not a BPE tokenizer.json"
PREDICTED=$(sed -n 's/.*the text is \([0-9]*\) ids.*/\1/p' "$W/err")
run "$FRUGAL" tokenizer info --tokenizer "$W/tok.json"
expect_rc 0
grep -q '^tokens  *300 ' "$W/out" || fail_because "info does not report 300 tokens"
grep -q '^end of text  *299 ' "$W/out" || fail_because "<|endoftext|> is not the last id 299"
"$FRUGAL" tokenizer encode --tokenizer "$W/tok.json" --quiet "$W/bytes.bin" "$W/emma8k.txt" |
    "$FRUGAL" tokenizer decode --tokenizer "$W/tok.json" -o "$W/tokback.bin"
cat "$W/bytes.bin" "$W/emma8k.txt" | cmp -s - "$W/tokback.bin" ||
    fail_because "encode | decode with tok.json does not round-trip"
# the trainer's count of ids for its text is what the encoder gives for the same files
ENCODED=$("$FRUGAL" tokenizer encode --tokenizer "$W/tok.json" --quiet "$W/emma8k.txt" \
    "$W/bytes.bin" | wc -w)
[ "${PREDICTED:-x}" = "$ENCODED" ] ||
    fail_because "train says the text is '${PREDICTED:-?}' ids; encode gives $ENCODED"
run "$FRUGAL" tokenizer encode --tokenizer "$W/tok.json" --quiet "$W/hello.txt"
expect_rc 0
[ "$(wc -w <"$W/out")" -gt 2 ] || fail_because "a 300-token vocabulary encodes 'Hello world' in 2 ids"
expect_no_tmp "$W"
finish

begin "a model on a learned vocabulary: eval --tokenizer gives bits per byte, sample prints text"
run "$FRUGAL" prepare -o "$W/bpe" --quiet --val-fraction 0.3 --tokenizer "$W/tok.json" "$W/emma8k.txt"
expect_rc 0
run "$FRUGAL" train --data "$W/bpe/train.bin" --val "$W/bpe/val.bin" --vocab-size 300 \
    --n-layer 1 --n-head 1 --n-embd 16 --block-size 16 --batch 2 --seq 16 --steps 2 \
    --ckpt-dir "$W/bpe" --threads 2 --quiet
expect_rc 0
CK=$(ls "$W"/bpe/ckpt_*.safetensors 2>/dev/null | tail -n 1)
[ -n "$CK" ] || fail_because "no checkpoint in $W/bpe"
run "$FRUGAL" eval --ckpt "$CK" --data "$W/bpe/val.bin" --batch 2 --seq 16 \
    --tokenizer "$W/tok.json" --json
expect_rc 0
echo "$(cat "$W/out")" >"$W/eval.json"
# independent count: the scored targets are ids 1..n of the shard; decode them (without the
# <|endoftext|> id 299, which counts 0 bytes) with frugal tokenizer decode and count bytes
N=$(sed -n 's/.*"tokens":\([0-9]*\).*/\1/p' "$W/eval.json")
TB=$(sed -n 's/.*"text_bytes":\([0-9]*\).*/\1/p' "$W/eval.json")
od -An -v -t u2 -j 1024 "$W/bpe/val.bin" | tr -s ' ' '\n' | sed '/^$/d' |
    sed -n "2,$((${N:-0} + 1))p" | grep -vx 299 >"$W/targets.ids"
"$FRUGAL" tokenizer decode --tokenizer "$W/tok.json" -o "$W/targets.txt" "$W/targets.ids" 2>/dev/null
WANT=$(wc -c <"$W/targets.txt")
[ -n "$TB" ] && [ "$TB" -eq "$WANT" ] ||
    fail_because "eval says the scored tokens are '${TB:-?}' bytes of text; decoding them gives $WANT"
awk -v j="$(cat "$W/eval.json")" 'BEGIN {
    match(j, /"bits_per_token":[0-9.]+/); bpt = substr(j, RSTART + 17, RLENGTH - 17) + 0
    match(j, /"bits_per_byte":[0-9.]+/); bpb = substr(j, RSTART + 16, RLENGTH - 16) + 0
    match(j, /"tokens":[0-9]+/); n = substr(j, RSTART + 9, RLENGTH - 9) + 0
    match(j, /"text_bytes":[0-9]+/); b = substr(j, RSTART + 13, RLENGTH - 13) + 0
    d = bpb - bpt * n / b; exit !(b > 0 && d < 1e-4 && d > -1e-4) }' ||
    fail_because "bits per byte is not bits per token x tokens / bytes: $(cat "$W/eval.json")"
run "$FRUGAL" sample --ckpt "$CK" --tokenizer "$W/tok.json" --prompt "Emma Woodhouse" --n 20 \
    --threads 2
expect_rc 0
expect_no_crash
case "$(head -c 14 "$W/out")" in "Emma Woodhouse") ;; *) fail_because "sample does not echo the prompt as text" ;; esac
[ "$(wc -c <"$W/out")" -gt 16 ] || fail_because "sample printed no text after the prompt"
grep -qE '^[0-9]+( [0-9]+)+$' "$W/out" && fail_because "sample printed ids, not text"
finish

begin "eval/sample --tokenizer: a vocabulary larger than the model's; --vocab alone"
run "$FRUGAL" sample --ckpt "$CK" --tokenizer gpt2 "${V[@]}" --prompt "Hi"
expect_error 2 "50257"
run "$FRUGAL" eval --ckpt "$CK" --data "$W/bpe/val.bin" --vocab "$W"
expect_error 2 "--vocab"
finish

begin "train: --vocab-size below 257"
run "$FRUGAL" tokenizer train --vocab-size 100 -o "$W/small.json" "$W/emma8k.txt"
expect_error 2 "--vocab-size" "257"
[ ! -e "$W/small.json" ] || fail_because "$W/small.json was written"
finish

begin "truncated tokenizer.json"
head -c 2000 "$W/tok.json" >"$W/trunc.json"
run "$FRUGAL" tokenizer encode --tokenizer "$W/trunc.json" "$W/hello.txt"
expect_error 1 "$W/trunc.json"
finish

begin "--tokenizer together with --vocab"
run "$FRUGAL" tokenizer encode --tokenizer "$W/tok.json" "${V[@]}" "$W/hello.txt"
expect_error 2 "--tokenizer" "--vocab"
finish

echo "$PASS passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
