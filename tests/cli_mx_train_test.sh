#!/usr/bin/env bash
# End-to-end tests of `frugal train --mx-weights/--mx-activations/--mx-grads/--mx-scale`: help
# text, one-line errors with exit code 2 for bad names and widths, the ledger on stderr and in
# --json, the settings stored in checkpoints, resume taking them from the checkpoint or noting
# a change.
#
#   FRUGAL=build/release/frugal bash tests/cli_mx_train_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME"; the last line is "N passed, N failed" and the exit
# status is 1 if anything failed. Tiny runs (1 layer, width 32), seconds in all.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/cli_lib.sh"
cli_setup cli_mx_train_test

TINY=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 32 --batch 2 --seq 32 --threads 1)

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

# json_get KEY.PATH: a value from the JSON object in $W/out (python3), or "" without python3.
json_get() {
    /usr/bin/python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    o = o[k]
print(o)' "$W/out" "$1" 2>/dev/null
}

head -c 20000 "$ROOT/data/austen/emma.txt" >"$W/in.txt"
mkdir -p "$W/data"

begin "fixture: prepare shards"
run "$FRUGAL" prepare -o "$W/data" "$W/in.txt"
expect_rc 0
expect_no_crash
[ -s "$W/data/train.bin" ] || fail_because "train.bin missing"
finish
TRAIN=$W/data/train.bin
VAL=$W/data/val.bin

begin "help teaches the MX flags"
run "$FRUGAL" train --help
expect_rc 0
for s in --mx-weights --mx-activations --mx-grads --mx-scale e4m3 e2m1 "reduction axis" "fp32"; do
    grep -qF -- "$s" "$W/out" || fail_because "help does not mention '$s'"
done
finish

begin "unknown format name"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 2 --mx-weights fp9
expect_error 2 "--mx-weights" "'fp9'" "e4m3" "none"
finish

begin "unknown gradient format"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 2 --mx-grads e4m4
expect_error 2 "--mx-grads" "'e4m4'"
finish

begin "unknown scale rule"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 2 --mx-scale round
expect_error 2 "--mx-scale" "floor"
finish

begin "empty format"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 2 --mx-activations ""
expect_error 2 "--mx-activations"
finish

begin "width not a multiple of 32"
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 48 --block-size 32 \
    --batch 2 --seq 32 --threads 1 --steps 2 --mx-weights e4m3
expect_error 2 "multiple of 32" "n_embd is 48"
finish

begin "width 48 without MX still trains"
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 48 --block-size 32 \
    --batch 2 --seq 32 --threads 1 --steps 2 --mx-weights none --quiet
expect_rc 0
expect_no_crash
finish

mkdir -p "$W/ck"
begin "MXFP8 run: ledger on stderr and in --json, settings in the checkpoint"
run "$FRUGAL" train --data "$TRAIN" --val "$VAL" "${TINY[@]}" --steps 4 --eval-batches 2 \
    --mx-weights e4m3 --mx-activations MXFP8_E4M3 --mx-grads e5m2 --ckpt-dir "$W/ck" \
    --stop-at 2 --json
expect_rc 0
expect_no_crash
expect_err "MX emulation: weights e4m3, activations e4m3, grads e5m2, scale floor"
expect_err "MX ledger"
if [ -x /usr/bin/python3 ]; then
    [ "$(json_get mx.weights)" = e4m3 ] || fail_because "json mx.weights is not e4m3"
    [ "$(json_get mx.compute)" = fp32 ] || fail_because "json mx.compute is not fp32"
    /usr/bin/python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))["mx"]
# 1 layer, C=32: 12 C^2 weights; e4m3 is 8.25 bits of 32
assert m["weight_bytes_fp32"] == 4 * 12 * 32 * 32, m
assert m["weight_bytes_mx"] * 32 == m["weight_bytes_fp32"] * 8.25, m
assert m["moved_bytes_per_step_mx"] < m["moved_bytes_per_step_fp32"], m
assert m["scratch_bytes"] > 0, m' "$W/out" || fail_because "json mx ledger is wrong: $(cat "$W/out")"
fi
CK=$W/ck/ckpt_00000002.safetensors
[ -s "$CK" ] || fail_because "no checkpoint"
grep -aqF '\"mx_weights\":\"e4m3\"' "$CK" || fail_because "checkpoint metadata lacks mx_weights"
finish

begin "resume takes the MX settings from the checkpoint"
run "$FRUGAL" train --data "$TRAIN" --val "$VAL" --resume "$CK" --threads 1 --eval-batches 2 \
    --ckpt-dir "$W/ck" --json
expect_rc 0
expect_no_crash
expect_err "MX emulation: weights e4m3, activations e4m3, grads e5m2"
grep -qF "note:" "$W/err" && fail_because "unexpected note: $(grep note: "$W/err")"
[ -s "$W/ck/ckpt_00000004.safetensors" ] || fail_because "no step-4 checkpoint"
finish

mkdir -p "$W/ck2"
begin "resume with other MX settings: honoured, one note"
run "$FRUGAL" train --data "$TRAIN" --resume "$CK" --threads 1 --ckpt-dir "$W/ck2" \
    --mx-weights none --mx-scale rceil --quiet
expect_rc 0
expect_no_crash
expect_err "--mx-weights none (checkpoint: e4m3)"
expect_err "--mx-scale rceil (checkpoint: floor)"
[ "$(grep -c 'note:' "$W/err")" -eq 1 ] || fail_because "expected exactly one note line"
finish

echo "$PASS passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
