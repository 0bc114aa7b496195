#!/usr/bin/env bash
# End-to-end tests of the frugal command line: exit codes, one-line error messages that name
# the offending file or flag, no crashes, no half-written files.
#
#   FRUGAL=build/release/frugal bash tests/cli_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME" (with the exit code and stderr it got); the last
# line is "N passed, N failed" and the exit status is 1 if anything failed. Training runs are
# tiny (1 layer, width 32, 16 tokens, a few steps, one thread), so the script takes seconds.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/cli_lib.sh"
cli_setup cli_test

# The tiny model used by every training run.
TINY=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1)


# --- helpers -------------------------------------------------------------------------------










# stderr matches the extended regex $1 (case-insensitive).
expect_err_re() {
    grep -qiE -e "$1" "$W/err" || fail_because "stderr does not match /$1/"
}

# Directory $1 holds no leftover temporary files.
expect_no_tmp() {
    local left
    left=$(find "$1" -name '*.tmp.*' -o -name '.frugal_write_test*' 2>/dev/null)
    [ -z "$left" ] || fail_because "temporary files left in $1: $(echo "$left" | tr '\n' ' ')"
}

# Directory $1 is empty (no checkpoint, nothing half-written).
expect_empty_dir() {
    local left
    left=$(find "$1" -mindepth 1 2>/dev/null | tr '\n' ' ')
    [ -z "$left" ] || fail_because "$1 is not empty: $left"
}

# The usual checks for an error case: exit code $1, one line on stderr, no crash, and each
# further argument must appear in stderr.
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

# A fresh, empty checkpoint directory per case.
fresh_dir() {
    local d="$W/$1"
    rm -rf "$d"
    mkdir -p "$d"
    echo "$d"
}

# byte N: the byte N (0..255) on stdout.
byte() {
    printf '%b' "\\x$(printf %02x "$(($1 & 255))")"
}

# le32 N: N as 4 little-endian bytes on stdout.
le32() {
    local v=$(($1 & 0xFFFFFFFF))
    byte $((v)); byte $((v >> 8)); byte $((v >> 16)); byte $((v >> 24))
}

# mkshard FILE MAGIC VERSION COUNT TOKEN...: an llm.c-layout shard, written by hand: a
# 1024-byte header of 256 little-endian int32 (magic, version, count, zeros), then uint16
# tokens.
mkshard() {
    local f=$1 magic=$2 version=$3 count=$4
    shift 4
    {
        le32 "$magic"
        le32 "$version"
        le32 "$count"
        head -c 1012 /dev/zero
        local t
        for t in "$@"; do
            byte $((t)); byte $((t >> 8))
        done
    } >"$f"
}

# flip_byte FILE OFFSET: invert every bit of one byte in place.
flip_byte() {
    local f=$1 off=$2 b
    b=$(od -An -tu1 -j "$off" -N 1 "$f" | tr -d ' ')
    byte $((b ^ 255)) | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# --- fixtures ------------------------------------------------------------------------------

mkdir -p "$W/data"
if [ -f "$ROOT/data/austen/emma.txt" ]; then
    head -c 8000 "$ROOT/data/austen/emma.txt" >"$W/in.txt"
else
    for i in $(seq 1 200); do
        echo "It is a truth universally acknowledged, line $i, that a single test needs data."
    done >"$W/in.txt"
fi

begin "fixture: prepare shards"
run "$FRUGAL" prepare -o "$W/data" "$W/in.txt"
expect_rc 0
expect_no_crash
if [ ! -s "$W/data/train.bin" ] || [ ! -s "$W/data/val.bin" ]; then
    fail_because "train.bin/val.bin missing"
fi
expect_no_tmp "$W/data"
finish
TRAIN=$W/data/train.bin
VAL=$W/data/val.bin

begin "fixture: train a 3-step checkpoint"
CK=$(fresh_dir ck)
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --ckpt-dir "$CK" --quiet
expect_rc 0
expect_no_crash
CKPT=$CK/ckpt_00000003.safetensors
[ -s "$CKPT" ] || fail_because "checkpoint $CKPT was not written"
expect_no_tmp "$CK"
finish

# --- 1. missing data file ------------------------------------------------------------------

begin "1 missing data file"
OUT=$(fresh_dir out1)
run "$FRUGAL" train --data /nonexistent/x.bin "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 1 /nonexistent/x.bin
expect_empty_dir "$OUT"
finish

# --- 2. empty data file; too few tokens -----------------------------------------------------

begin "2a empty data file"
: >"$W/empty.bin"
OUT=$(fresh_dir out2a)
run "$FRUGAL" train --data "$W/empty.bin" "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 1 "$W/empty.bin"
expect_empty_dir "$OUT"
finish

begin "2b shard with fewer than B*T+1 tokens"
# B*T+1 = 2*16+1 = 33; ten tokens is a valid shard but too short for one batch.
mkshard "$W/short.bin" 20240520 1 10 72 101 108 108 111 32 119 111 114 108
OUT=$(fresh_dir out2b)
run "$FRUGAL" train --data "$W/short.bin" "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 2 "$W/short.bin"
expect_empty_dir "$OUT"
finish

# --- 3. wrong magic, wrong version ---------------------------------------------------------

TOK40=$(seq 65 104)   # 40 byte-range tokens, enough for a 2x16 batch

begin "3a wrong shard magic"
# shellcheck disable=SC2086
mkshard "$W/badmagic.bin" 12345678 1 40 $TOK40
OUT=$(fresh_dir out3a)
run "$FRUGAL" train --data "$W/badmagic.bin" "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 1 "$W/badmagic.bin"
expect_err_re "magic"
expect_empty_dir "$OUT"
finish

begin "3b wrong shard version"
# shellcheck disable=SC2086
mkshard "$W/badversion.bin" 20240520 7 40 $TOK40
OUT=$(fresh_dir out3b)
run "$FRUGAL" train --data "$W/badversion.bin" "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 1 "$W/badversion.bin"
expect_err_re "version"
expect_empty_dir "$OUT"
finish

# --- 4. token id >= vocab size -------------------------------------------------------------

begin "4 token id >= vocab size"
# shellcheck disable=SC2086
mkshard "$W/bigtok.bin" 20240520 1 41 $TOK40 300
OUT=$(fresh_dir out4)
run "$FRUGAL" train --data "$W/bigtok.bin" "${TINY[@]}" --steps 3 --ckpt-dir "$OUT"
expect_error 1 "$W/bigtok.bin"
expect_err "300"
expect_empty_dir "$OUT"
finish

# --- 5. truncated and bit-flipped checkpoints ----------------------------------------------

SIZE=$(wc -c <"$CKPT")

begin "5a truncated checkpoint"
head -c $((SIZE / 2)) "$CKPT" >"$W/trunc.safetensors"
OUT=$(fresh_dir out5a)
run "$FRUGAL" train --data "$TRAIN" --resume "$W/trunc.safetensors" --steps 6 --threads 1 \
    --batch 2 --seq 16 --ckpt-dir "$OUT"
expect_error 1 "$W/trunc.safetensors"
expect_empty_dir "$OUT"
finish

begin "5b bit-flipped checkpoint (CRC)"
cp "$CKPT" "$W/flip.safetensors"
flip_byte "$W/flip.safetensors" $((SIZE - 100))
OUT=$(fresh_dir out5b)
run "$FRUGAL" train --data "$TRAIN" --resume "$W/flip.safetensors" --steps 6 --threads 1 \
    --batch 2 --seq 16 --ckpt-dir "$OUT"
expect_error 1 "$W/flip.safetensors"
expect_err_re "crc|corrupt"
expect_empty_dir "$OUT"
finish

# --- 6. checkpoint config contradicts the flags --------------------------------------------

begin "6 checkpoint config contradicts --n-layer"
OUT=$(fresh_dir out6)
run "$FRUGAL" train --data "$TRAIN" --resume "$CKPT" --n-layer 2 --steps 6 --threads 1 \
    --batch 2 --seq 16 --ckpt-dir "$OUT"
expect_error 2 "$CKPT"
expect_err_re "n_layer|n-layer"
expect_empty_dir "$OUT"
finish

# --- 7. --seq larger than --block-size -----------------------------------------------------

begin "7 --seq larger than --block-size"
OUT=$(fresh_dir out7)
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 32 --block-size 16 \
    --batch 2 --seq 32 --threads 1 --steps 3 --ckpt-dir "$OUT"
expect_error 2 "--seq"
expect_empty_dir "$OUT"
finish

# --- 8. bad numeric values -----------------------------------------------------------------

bad_value() {
    local flag=$1 val=$2
    begin "8 $flag $val"
    local out
    out=$(fresh_dir out8)
    # The bad flag comes last so that it overrides the tiny defaults.
    run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --ckpt-dir "$out" "$flag" "$val"
    expect_error 2 "$flag"
    expect_empty_dir "$out"
    finish
}
for v in abc -1 0 1e-x; do bad_value --lr "$v"; done
for v in 0 -3 x 2.5; do bad_value --batch "$v"; done
for v in x 0 -5; do bad_value --steps "$v"; done
for v in 0 -1 two; do bad_value --threads "$v"; done

# --- 9. unknown flag ----------------------------------------------------------------------

begin "9 unknown flag --bogus"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --bogus
expect_error 2 "--bogus"
finish

# --- 10. unwritable checkpoint directory ---------------------------------------------------
# We may run as root, so permissions do not stop us: use a path under /proc and a path whose
# parent is a regular file. Without --quiet, a single stderr line also proves that no step
# ran (each step would print progress).

begin "10a --ckpt-dir under /proc"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --ckpt-dir /proc/nonexistent
expect_error 1 /proc/nonexistent
finish

begin "10b --ckpt-dir whose parent is a regular file"
: >"$W/afile"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --ckpt-dir "$W/afile/sub"
expect_error 1 "$W/afile/sub"
if [ ! -f "$W/afile" ] || [ -s "$W/afile" ]; then
    fail_because "$W/afile was modified"
fi
finish

# --- 11. NaN loss ----------------------------------------------------------------------------

begin "11 NaN loss stops and names the checkpoint that holds the diverged weights"
OUT=$(fresh_dir out11)
# --quiet: the step-1 progress line would otherwise (legitimately) precede the error.
# With --lr 1e30 the first update already diverges: the step-1 checkpoint is finite but gives a
# NaN loss, so no checkpoint is good and the message must say so instead of naming one.
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 20 --lr 1e30 --grad-clip 0 \
    --warmup 0 --ckpt-dir "$OUT" --ckpt-every 1 --keep 100 --quiet
expect_error 1
expect_err_re "nan|not finite"
expect_no_tmp "$OUT"
NEWEST=$(find "$OUT" -name 'ckpt_*.safetensors' | sort | tail -n 1)
BAD=$(sed -n 's/.*remains (\([^ ]*\) holds the diverged weights).*/\1/p' "$W/err")
if [ -z "$NEWEST" ]; then
    fail_because "no checkpoint was left in $OUT"
else
    [ "$BAD" = "$NEWEST" ] || fail_because "stderr should name $NEWEST as holding the diverged weights"
    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 "$ROOT/scripts/check_safetensors.py" "$NEWEST" >"$W/chk" 2>&1 ||
            fail_because "check_safetensors.py rejects $NEWEST: $(cat "$W/chk")"
    else
        echo "    (skipping check_safetensors.py: no /usr/bin/python3)"
    fi
fi
finish

# A "last good checkpoint" must be usable: resuming from it with a sane --lr (what the message
# advises) must not hit the same non-finite loss at once. With --lr 1e3 the loss goes NaN after
# a few steps, so there are finite checkpoints to fall back on.
begin "11b resuming from the named last good checkpoint with a low --lr works"
OUT=$(fresh_dir out11b)
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 40 --lr 1e3 --grad-clip 0 \
    --warmup 0 --ckpt-dir "$OUT" --ckpt-every 1 --keep 100 --quiet
expect_error 1
expect_err_re "nan|not finite"
LAST=$(sed -n 's/.*last good checkpoint \([^ ]*\) with.*/\1/p' "$W/err")
if [ "$RC" -ne 1 ] || [ -z "$LAST" ] || [ ! -f "$LAST" ]; then
    fail_because "the run did not stop on a NaN naming an existing last good checkpoint"
else
    STEP=$(basename "$LAST" .safetensors | sed 's/^ckpt_0*//')
    run "$FRUGAL" train --data "$TRAIN" --resume "$LAST" --batch 2 --seq 16 --threads 1 \
        --steps 40 --stop-at $((STEP + 2)) --lr 1e-4 --grad-clip 1 --warmup 0 --quiet
    expect_rc 0
    expect_no_crash
    # the only stderr line is the note that the settings changed on resume
    [ "$(wc -l < "$W/err")" -eq 1 ] && grep -q "note: resuming with changed settings: --lr" "$W/err" ||
        fail_because "resuming from $LAST with a new --lr should print exactly one note line"
fi
finish

# --- 11c. resume takes its settings from the checkpoint ------------------------------------

# straight_vs_resumed TAG TRAIN-FLAGS...: 6 steps straight into out_TAG_a, and 3 + a plain
# --resume + 3 into out_TAG_b ($OB); the two step-6 checkpoints must be the same bytes
straight_vs_resumed() {
    local tag=$1 oa
    shift
    oa=$(fresh_dir "out${tag}_a")
    OB=$(fresh_dir "out${tag}_b")
    local set=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch 3 --seq 16 --threads 1
               --steps 6 --warmup 2 --seed 5 --quiet "$@")
    run "$FRUGAL" train --data "$TRAIN" "${set[@]}" --ckpt-dir "$oa"
    expect_rc 0
    run "$FRUGAL" train --data "$TRAIN" "${set[@]}" --ckpt-dir "$OB" --stop-at 3
    expect_rc 0
    run "$FRUGAL" train --data "$TRAIN" --resume "$OB/ckpt_00000003.safetensors" --ckpt-dir "$OB" \
        --threads 1 --quiet
    expect_rc 0
    cmp -s "$oa/ckpt_00000006.safetensors" "$OB/ckpt_00000006.safetensors" ||
        fail_because "the resumed run's step-6 checkpoint differs from the straight run's"
}

begin "11c plain --resume continues exactly (byte-identical final checkpoint)"
straight_vs_resumed 11c --lr 0.002
[ ! -s "$W/err" ] || fail_because "a plain resume printed to stderr: $(head -c 200 "$W/err")"
finish

begin "11d --optimizer lion: a plain resume continues exactly and keeps Lion"
straight_vs_resumed 11d --lr 0.0005 --optimizer lion
finish

begin "11e resuming a Lion checkpoint with --optimizer adamw is refused"
run "$FRUGAL" train --data "$TRAIN" --resume "$OB/ckpt_00000003.safetensors" --ckpt-dir "$OB" \
    --threads 1 --quiet --optimizer adamw
expect_error 2 "--optimizer lion"
finish

begin "11f unknown --optimizer"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --optimizer adam2
expect_error 2 "adam2"
finish

begin "11g --optim-storage flash: a plain resume continues exactly and keeps the storage"
straight_vs_resumed 11g --lr 0.002 --optim-storage flash
finish

begin "11h a flash checkpoint: resuming with fp32 storage or another --master-bits is refused"
run "$FRUGAL" train --data "$TRAIN" --resume "$OB/ckpt_00000003.safetensors" --ckpt-dir "$OB" \
    --threads 1 --quiet --optim-storage fp32
expect_error 2 "--optim-storage flash --master-bits 24"
run "$FRUGAL" train --data "$TRAIN" --resume "$OB/ckpt_00000003.safetensors" --ckpt-dir "$OB" \
    --threads 1 --quiet --master-bits 32
expect_error 2 "--optim-storage flash --master-bits 24"
finish

begin "11i a flash checkpoint evaluates and samples (bf16 weights read into fp32)"
run "$FRUGAL" eval --ckpt "$OB/ckpt_00000006.safetensors" --data "$VAL" --batch 2 --seq 16 \
    --threads 1
expect_rc 0
grep -q "loss" "$W/out" || fail_because "eval printed no loss: $(head -c 200 "$W/out")"
run "$FRUGAL" sample --ckpt "$OB/ckpt_00000006.safetensors" --n 5 --threads 1 --seed 3
expect_rc 0
[ -s "$W/out" ] || fail_because "sample printed nothing"
finish

begin "11j the memory ledger: bytes per parameter in --json for fp32 and flash"
for st in fp32:16 flash:7.125 "flash --grad-release:5.125"; do
    # shellcheck disable=SC2086 # the storage and its flags are words
    run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 64 --block-size 16 \
        --batch 2 --seq 16 --threads 1 --steps 2 --quiet --json --optim-storage ${st%%:*}
    expect_rc 0
    got=$(sed -n 's/.*"bytes_per_param":\([0-9.]*\).*/\1/p' "$W/out")
    [ "$got" = "${st##*:}" ] || fail_because "${st%%:*}: bytes_per_param '$got', want ${st##*:}"
done
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 64 --block-size 16 \
    --batch 2 --seq 16 --threads 1 --steps 2 --optim-storage flash
expect_rc 0
expect_err "7.125 bytes/param"
finish

begin "11k bad --optim-storage and --master-bits values"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --optim-storage bf16
expect_error 2 "bf16"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --optim-storage flash --master-bits 16
expect_error 2 "--master-bits 16"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --master-bits 32
expect_error 2 "flash only"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --optim-storage flash --grad-release \
    --accum 2
expect_error 2 "gradient release needs" "--accum 2"
finish

begin "11l export: f32 master weights and bf16 weights of a flash checkpoint; bad input"
FL=$OB/ckpt_00000006.safetensors
run "$FRUGAL" export --ckpt "$FL" -o "$W/w32.safetensors"
expect_rc 0
run "$FRUGAL" export --ckpt "$FL" -o "$W/w16.safetensors" --dtype bf16
expect_rc 0
s32=$(stat -c %s "$W/w32.safetensors" 2>/dev/null || echo 0)
s16=$(stat -c %s "$W/w16.safetensors" 2>/dev/null || echo 0)
# the same header but for the dtype names; the data halves
[ "$s32" -gt 0 ] && [ $((s32 - s16)) -gt $((s16 / 2)) ] ||
    fail_because "f32 export $s32 bytes, bf16 export $s16 bytes"
grep -q '"F32"' "$W/w32.safetensors" && grep -q '"BF16"' "$W/w16.safetensors" &&
    ! grep -q 'optim' "$W/w32.safetensors" ||
    fail_because "the exports do not hold F32 / BF16 weights only"
run "$FRUGAL" export --ckpt "$FL" -o "$W/x.safetensors" --dtype f16
expect_error 2 "f16"
run "$FRUGAL" export --ckpt "$W/missing.safetensors" -o "$W/x.safetensors"
expect_error 1 "$W/missing.safetensors"
mkdir -p "$W/exp_fail"
run "$FRUGAL" export --ckpt "$FL" -o "$W/exp_fail/missing_dir/x.safetensors"
expect_rc 1
[ -z "$(ls -A "$W/exp_fail")" ] || fail_because "a failed export left files: $(ls -A "$W/exp_fail")"
finish

begin "11m --no-grad-release resumes a --grad-release checkpoint without release"
OR=$(fresh_dir out11m)
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch 3 \
    --seq 16 --threads 1 --steps 6 --stop-at 3 --quiet --optim-storage flash --grad-release \
    --ckpt-dir "$OR"
expect_rc 0
run "$FRUGAL" train --data "$TRAIN" --resume "$OR/ckpt_00000003.safetensors" --ckpt-dir "$OR" \
    --threads 1 --quiet --no-grad-release --accum 2
expect_rc 0
expect_err "--grad-release 0 (checkpoint: 1)"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --grad-release --no-grad-release
expect_error 2 "contradict"
finish

begin "11n --dtype bf16: recorded in the checkpoint, kept on resume; bad values refused"
OD=$(fresh_dir out11n)
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 6 --stop-at 3 --quiet --dtype bf16 \
    --ckpt-dir "$OD"
expect_rc 0
run "$FRUGAL" train --data "$TRAIN" --resume "$OD/ckpt_00000003.safetensors" --ckpt-dir "$OD" \
    --threads 1 --quiet --json
expect_rc 0
grep -q '"dtype":"bf16"' "$W/out" || fail_because "the resumed run's --json does not say bf16"
run "$FRUGAL" train --data "$TRAIN" --resume "$OD/ckpt_00000003.safetensors" \
    --ckpt-dir "$(fresh_dir out11n2)" --threads 1 --quiet --dtype fp32
expect_rc 0
expect_err "--dtype fp32 (checkpoint: bf16)"
run "$FRUGAL" eval --ckpt "$OD/ckpt_00000003.safetensors" --data "$TRAIN" --threads 1 \
    --max-batches 2 --json --dtype bf16
expect_rc 0
grep -q '"dtype":"bf16"' "$W/out" || fail_because "eval --dtype bf16 --json does not say bf16"
run "$FRUGAL" eval --ckpt "$OD/ckpt_00000003.safetensors" --data "$TRAIN" --dtype int4
expect_error 2 "--dtype" "int4"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --dtype fp16
expect_error 2 "--dtype" "fp16"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --dtype bf16 --mx-weights e4m3
expect_error 2 "--dtype bf16" "--mx-"
finish

begin "11o --attention tiled: recorded, kept on resume; bad values and head sizes refused"
OA=$(fresh_dir out11o)
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 6 --stop-at 3 --quiet --attention tiled \
    --ckpt-dir "$OA"
expect_rc 0
run "$FRUGAL" train --data "$TRAIN" --resume "$OA/ckpt_00000003.safetensors" --ckpt-dir "$OA" \
    --threads 1 --quiet --json
expect_rc 0
grep -q '"attention":"tiled"' "$W/out" || fail_because "the resumed run's --json does not say tiled"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --attention flash
expect_error 2 "--attention" "flash"
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 1 --n-embd 256 --block-size 16 --batch 2 \
    --seq 16 --threads 1 --steps 3 --attention tiled
expect_error 2 "--attention tiled" "256" "--n-head"
finish

begin "11o2 --attention auto (the default): tiled from --seq 2048 where the heads allow it"
LONG=(--n-layer 1 --n-head 2 --n-embd 32 --block-size 2048 --batch 1 --threads 1 --steps 1)
OL=$(fresh_dir out11o2)
run "$FRUGAL" train --data "$TRAIN" "${LONG[@]}" --seq 2048 --quiet --json --eval-every 0 \
    --ckpt-dir "$OL"
expect_rc 0
grep -q '"attention":"tiled"' "$W/out" || fail_because "auto at --seq 2048 did not pick tiled"
run "$FRUGAL" train --data "$TRAIN" "${LONG[@]}" --seq 1024 --quiet --json --eval-every 0
expect_rc 0
grep -q '"attention":"standard"' "$W/out" || fail_because "auto at --seq 1024 did not pick standard"
run "$FRUGAL" train --data "$TRAIN" "${LONG[@]}" --seq 2048 --quiet --json --eval-every 0 \
    --attention standard
expect_rc 0
grep -q '"attention":"standard"' "$W/out" || fail_because "--attention standard was not kept"
run "$FRUGAL" train --data "$TRAIN" --n-layer 1 --n-head 1 --n-embd 256 --block-size 2048 \
    --batch 1 --threads 1 --steps 1 --quiet --json --eval-every 0
expect_rc 0
grep -q '"attention":"standard"' "$W/out" || fail_because "auto picked tiled for 256-channel heads"
CKL=$(ls "$OL"/ckpt_*.safetensors | tail -1)
run "$FRUGAL" eval --ckpt "$CKL" --data "$TRAIN" --threads 1 --batch 1 --max-batches 1 --json
expect_rc 0
grep -q '"attention":"tiled"' "$W/out" || fail_because "eval's auto at block size 2048 is not tiled"
run "$FRUGAL" eval --ckpt "$CKL" --data "$TRAIN" --threads 1 --batch 1 --seq 512 \
    --max-batches 1 --json
expect_rc 0
grep -q '"attention":"standard"' "$W/out" || fail_because "eval's auto at --seq 512 is not standard"
finish

begin "11p --recompute block: in --json with its hardware FLOPs; bad values refused"
run "$FRUGAL" train --data "$TRAIN" --n-layer 2 --n-head 2 --n-embd 32 --block-size 16 \
    --batch 2 --seq 16 --threads 1 --steps 2 --quiet --json --recompute block
expect_rc 0
grep -q '"recompute":"block"' "$W/out" || fail_because "--json does not say block"
FL=$(sed -n 's/.*"flops_per_token":\([0-9.e+]*\).*/\1/p' "$W/out")
HW=$(sed -n 's/.*"hw_flops_per_token":\([0-9.e+]*\).*/\1/p' "$W/out")
awk -v f="$FL" -v h="$HW" 'BEGIN { exit !(f > 0 && h > f) }' ||
    fail_because "hw_flops_per_token ($HW) is not above flops_per_token ($FL)"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --recompute all
expect_error 2 "--recompute" "all" "none, attn or block"
finish

begin "11q the ledger in --json; the peak FLOP/s cached; injected faults; hidden --inject"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --quiet --json --price-per-hour 7.2
expect_rc 0
[ -s "$XDG_CACHE_HOME/frugal/peak_flops.json" ] || fail_because "no peak FLOP/s cache written"
grep -q '"threads":[[:space:]]*1' "$XDG_CACHE_HOME/frugal/peak_flops.json" ||
    fail_because "the cache has no entry for 1 thread"
for k in flops_per_step wall_seconds cpu_seconds mfu dollars nonfinite_events loss_spikes; do
    grep -q "\"$k\":[0-9]" "$W/out" || fail_because "--json ledger has no numeric $k"
done
grep -q '"price_per_hour":7.2' "$W/out" || fail_because "--price-per-hour not in the ledger"
FP32_UNIT=$(sed -n 's/.*"peak_unit":"\([^"]*\)".*/\1/p' "$W/out")
[ -n "$FP32_UNIT" ] || fail_because "--json ledger has no peak_unit"
# bf16 products are measured against the unit they run on (the portable path: fp32 FMAs)
case "$("$FRUGAL" --version)" in
*"bf16 products: amx"*) WANT_UNIT="amx bf16" ;;
*"bf16 products: avx512bf16"*) WANT_UNIT="avx512bf16 dot products" ;;
*) WANT_UNIT=$FP32_UNIT ;;
esac
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 2 --quiet --json --dtype bf16
expect_rc 0
grep -q "\"peak_unit\":\"$WANT_UNIT\"" "$W/out" ||
    fail_because "a --dtype bf16 run's MFU is not against $WANT_UNIT"
grep -q "\"unit\":[[:space:]]*\"$WANT_UNIT\"" "$XDG_CACHE_HOME/frugal/peak_flops.json" ||
    fail_because "the cache has no $WANT_UNIT entry"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 3 --quiet --json --peak-flops 0
expect_rc 0
grep -q '"mfu":null' "$W/out" || fail_because "--peak-flops 0 still reports an MFU"
grep -q '"peak_unit":null' "$W/out" || fail_because "a given peak still names a measured unit"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 5 --quiet --inject nan@2
expect_error 1 "step 2" "not finite"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 4 --quiet --json --inject spike@3
expect_rc 0
grep -q '"loss_spikes":2' "$W/out" || fail_because "two injected spikes not counted"
run "$FRUGAL" train --data "$TRAIN" "${TINY[@]}" --steps 4 --inject fire@3
expect_error 2 "--inject" "nan@STEP"
run "$FRUGAL" train --help
grep -q -- "--inject" "$W/out" && fail_because "--help shows the hidden --inject"
grep -q -- "--price-per-hour" "$W/out" || fail_because "--help does not show --price-per-hour"
finish

# --- 12. eval and sample with a missing checkpoint ------------------------------------------

begin "12a eval with a missing checkpoint"
run "$FRUGAL" eval --ckpt "$W/missing.safetensors" --data "$VAL" --threads 1
expect_error 1 "$W/missing.safetensors"
finish

begin "12b sample with a missing checkpoint"
run "$FRUGAL" sample --ckpt "$W/missing.safetensors" --n 5 --threads 1
expect_error 1 "$W/missing.safetensors"
[ ! -s "$W/out" ] || fail_because "sample printed to stdout: $(head -c 80 "$W/out")"
finish

# --- 13. help, no arguments, unknown command -----------------------------------------------

begin "13a frugal --help"
run "$FRUGAL" --help
expect_rc 0
expect_no_crash
grep -q '^usage: frugal' "$W/out" || fail_because "no usage on stdout"
[ ! -s "$W/err" ] || fail_because "stderr is not empty"
finish

begin "13b frugal train --help"
run "$FRUGAL" train --help
expect_rc 0
expect_no_crash
grep -q '^usage: frugal train' "$W/out" || fail_because "no usage on stdout"
grep -qF -- '--data' "$W/out" || fail_because "usage does not list --data"
[ ! -s "$W/err" ] || fail_because "stderr is not empty"
finish

begin "13c frugal with no arguments"
run "$FRUGAL"
expect_rc 2
expect_no_crash
grep -q 'usage: frugal' "$W/err" || fail_because "no usage on stderr"
[ ! -s "$W/out" ] || fail_because "stdout is not empty"
finish

begin "13d unknown command"
run "$FRUGAL" frobnicate
expect_error 2 frobnicate
finish

# --- 14. happy path --------------------------------------------------------------------------

begin "14a happy path: prepare"
mkdir -p "$W/happy"
run "$FRUGAL" prepare -o "$W/happy" "$W/in.txt"
expect_rc 0
expect_no_crash
if [ ! -s "$W/happy/train.bin" ] || [ ! -s "$W/happy/val.bin" ]; then
    fail_because "shards missing"
fi
expect_no_tmp "$W/happy"
finish

begin "14b happy path: train 3 steps"
run "$FRUGAL" train --data "$W/happy/train.bin" --val "$W/happy/val.bin" "${TINY[@]}" \
    --steps 3 --ckpt-dir "$W/happy" --eval-batches 2
expect_rc 0
expect_no_crash
HCKPT=$W/happy/ckpt_00000003.safetensors
[ -s "$HCKPT" ] || fail_because "no checkpoint $HCKPT"
expect_no_tmp "$W/happy"
finish

begin "14c happy path: eval"
run "$FRUGAL" eval --ckpt "$HCKPT" --data "$W/happy/val.bin" --batch 2 --threads 1
expect_rc 0
expect_no_crash
grep -q 'loss' "$W/out" || fail_because "no loss on stdout"
finish

begin "14d happy path: sample"
run "$FRUGAL" sample --ckpt "$HCKPT" --prompt 'Emma' --n 20 --threads 1
expect_rc 0
expect_no_crash
grep -q '^Emma' "$W/out" || fail_because "stdout does not start with the prompt"
finish

begin "14e happy path: train --json"
run "$FRUGAL" train --data "$W/happy/train.bin" --val "$W/happy/val.bin" "${TINY[@]}" \
    --steps 3 --eval-batches 2 --json
expect_rc 0
expect_no_crash
n=$(awk 'END { print NR }' "$W/out")
[ "$n" -eq 1 ] || fail_because "expected one line on stdout, got $n"
if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
missing = [k for k in ("final_val_loss", "tokens_per_s", "peak_rss_bytes", "params") if k not in o]
if missing:
    sys.exit("missing keys: " + ", ".join(missing))
' <"$W/out" 2>"$W/chk" || fail_because "invalid JSON summary: $(cat "$W/chk")"
else
    for k in final_val_loss tokens_per_s peak_rss_bytes params; do
        grep -q "\"$k\":" "$W/out" || fail_because "JSON summary lacks $k"
    done
fi
finish

# --- 15. frugal prepare: inputs, dedup, tokenizers, split, manifest, bad input --------------

# tokens_in SHARD: the token count in a shard's header.
tokens_in() {
    od -An -td4 -j 8 -N 4 "$1" | tr -d ' '
}

# py SCRIPT ARGS...: run a Python check (stdout to $W/chk); a failing script fails the case.
# Without python3 the check is skipped with a note.
HAVE_PY=0
command -v python3 >/dev/null 2>&1 && HAVE_PY=1
py() {
    if [ "$HAVE_PY" -eq 0 ]; then
        echo "    (skipping a check of $NAME: no python3)"
        return 0
    fi
    local script=$1
    shift
    python3 -c "$script" "$@" >"$W/chk" 2>&1 || fail_because "$(tail -n 3 "$W/chk")"
}

# A paragraph corpus in three files: the first paragraph of b.txt is an exact copy of a.txt's
# second one (with other line breaks and spacing: the exact stage normalizes white space), and
# c.txt's twelfth paragraph is a.txt's third with its last word changed (a near duplicate).
mkdir -p "$W/pc"
para() {
    local i=$1 w
    for w in $(seq 1 40); do printf 'word%s_%s ' "$i" "$w"; done
    printf '\n'
}
{
    echo "The first paragraph of a, about nothing in particular."
    echo
    echo "Planted paragraph: it was the best of times, it was the worst of times, it was the age"
    echo "of wisdom, it was the age of foolishness."
    echo
    para 3
    echo
    for i in $(seq 10 40); do para "$i"; echo; done
} >"$W/pc/a.txt"
{
    echo "Planted   paragraph: it was the best of times, it was the worst of times,"
    echo "it was the age of wisdom,   it was the age of foolishness."
    echo
    for i in $(seq 50 80); do para "$i"; echo; done
} >"$W/pc/b.txt"
{
    for i in $(seq 90 100); do para "$i"; echo; done
    para 3 | sed 's/word3_40 /CHANGED /'
    echo
    for i in $(seq 101 120); do para "$i"; echo; done
} >"$W/pc/c.txt"

begin "15a prepare: an unreadable input file"
OUT=$W/p15a
run "$FRUGAL" prepare -o "$OUT" "$W/in.txt" "$W/no/such/file.txt"
expect_error 1 "$W/no/such/file.txt"
expect_empty_dir "$OUT"
finish

begin "15b prepare: a directory as input"
OUT=$W/p15b
run "$FRUGAL" prepare -o "$OUT" "$W/pc"
expect_error 1 "$W/pc"
expect_empty_dir "$OUT"
finish

begin "15c prepare: an empty input file"
: >"$W/empty.txt"
OUT=$W/p15c
run "$FRUGAL" prepare -o "$OUT" "$W/in.txt" "$W/empty.txt"
expect_error 1 "$W/empty.txt" "no documents"
expect_empty_dir "$OUT"
finish

# JSON Lines: line 2 is malformed, line 4 lacks the field, line 5 is not an object.
printf '%s\n' '{"id": 1, "text": "The first document, long enough to matter."}' \
    '{"id": 2, "text": "unterminated' \
    '{"id": 3, "text": "The third document says something else entirely."}' \
    '{"id": 4, "body": "no text field here"}' \
    '[1, 2, 3]' \
    '{"id": 6, "text": "Line six: \u00e9t\u00e9, \"quoted\", and a tab\there."}' >"$W/docs.jsonl"

begin "15d prepare --jsonl: malformed lines are skipped and counted with their line numbers"
OUT=$W/p15d
run "$FRUGAL" prepare -o "$OUT" --jsonl text --val-fraction 0 "$W/docs.jsonl"
expect_rc 0
expect_no_crash
expect_err "docs.jsonl:2"
expect_err "3 skipped"
py '
import json, sys
m = json.load(open(sys.argv[1]))
sk = {(s["line"], s["reason"].split(":")[0]) for s in m["skipped"]}
want = {(2, "malformed JSON"), (4, "no field \"text\""), (5, "not a JSON object")}
assert sk == want, sk
assert m["skipped_total"] == 3 and m["inputs"][0]["documents"] == 3, m["inputs"]
' "$OUT/manifest.json"
# the escapes of line 6 are decoded: train.bin (everything, with --val-fraction 0) holds the
# UTF-8 bytes of "été" and a real tab
tail -c +1025 "$OUT/train.bin" | tr -d '\000' | grep -q "$(printf '\303\251t\303\251, "quoted", and a tab\there')" ||
    fail_because "the decoded text of line 6 is not in the shards"
finish

begin "15e prepare --jsonl --strict: a malformed line is fatal and names file:line"
OUT=$W/p15e
run "$FRUGAL" prepare -o "$OUT" --jsonl text --strict "$W/docs.jsonl"
expect_error 1 "$W/docs.jsonl:2:" "malformed JSON"
expect_empty_dir "$OUT"
finish

begin "15f prepare --jsonl: a missing text field (one line: skipped; --strict: fatal; all: fatal)"
printf '%s\n' '{"text": "one document here"}' '{"body": "no text"}' '{"text": "another one"}' \
    >"$W/missing.jsonl"
OUT=$W/p15f
run "$FRUGAL" prepare -o "$OUT" --jsonl text "$W/missing.jsonl"
expect_rc 0
expect_err "missing.jsonl:2 no field \"text\""
run "$FRUGAL" prepare -o "$W/p15f2" --jsonl text --strict "$W/missing.jsonl"
expect_error 1 "$W/missing.jsonl:2:" "no field \"text\""
expect_empty_dir "$W/p15f2"
run "$FRUGAL" prepare -o "$W/p15f3" --jsonl content "$W/missing.jsonl"
expect_error 1 "$W/missing.jsonl" "no documents" "no field \"content\""
expect_empty_dir "$W/p15f3"
finish

begin "15g prepare: a 100 MB single-line input (bytes) neither crashes nor blows up"
head -c 100000000 /dev/zero | tr '\0' 'a' >"$W/big.txt"
OUT=$W/p15g
run "$FRUGAL" prepare -o "$OUT" --threads 1 "$W/big.txt"
expect_rc 0
expect_no_crash
expect_err "note: hash split"
[ "$(tokens_in "$OUT/train.bin" 2>/dev/null)" = 90000000 ] || fail_because "train.bin does not hold 90,000,000 tokens"
[ "$(tokens_in "$OUT/val.bin" 2>/dev/null)" = 10000000 ] || fail_because "val.bin does not hold 10,000,000 tokens"
expect_no_tmp "$OUT"
rm -rf "$W/big.txt" "$OUT"
finish

begin "15h prepare: unknown --tokenizer"
OUT=$W/p15h
run "$FRUGAL" prepare -o "$OUT" --tokenizer sentencepiece "$W/in.txt"
expect_error 2 "sentencepiece"
expect_empty_dir "$OUT"
finish

begin "15i prepare: unknown --dedup stage"
OUT=$W/p15i
run "$FRUGAL" prepare -o "$OUT" --dedup exact,fuzzy "$W/in.txt"
expect_error 2 "--dedup" "fuzzy"
expect_empty_dir "$OUT"
finish

begin "15j prepare: planted duplicates across files are removed and listed with the kept one"
OUT=$W/p15j
run "$FRUGAL" prepare -o "$OUT" --docs-split blank "$W/pc/a.txt" "$W/pc/b.txt" "$W/pc/c.txt"
expect_rc 0
expect_no_crash
expect_err "(1 removed)"
py '
import json, sys
m = json.load(open(sys.argv[1]))
rm = m["removed"]
assert len(rm) == 2, rm
ex = [r for r in rm if r["reason"] == "exact"][0]
assert ex["input"].endswith("b.txt") and ex["index"] == 0 and ex["line"] == 1, ex
assert ex["duplicate_of"]["input"].endswith("a.txt") and ex["duplicate_of"]["index"] == 1, ex
assert ex["duplicate_of"]["line"] == 3 and ex["jaccard"] == 1, ex
nr = [r for r in rm if r["reason"] == "near"][0]
assert nr["input"].endswith("c.txt") and nr["index"] == 11, nr
assert nr["duplicate_of"]["input"].endswith("a.txt") and nr["duplicate_of"]["index"] == 2, nr
assert 0.7 <= nr["jaccard"] < 1, nr
st = {s["stage"]: s for s in m["stages"]}
assert st["exact dedup"]["documents_in"] - st["exact dedup"]["documents_out"] == 1
assert st["near dedup"]["documents_in"] - st["near dedup"]["documents_out"] == 1
' "$OUT/manifest.json"
run "$FRUGAL" prepare -o "$W/p15j2" --docs-split blank --dedup none "$W/pc/a.txt" "$W/pc/b.txt" \
    "$W/pc/c.txt"
expect_rc 0
expect_err "exact dedup      (off)"
py '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert b["removed"] == [], b["removed"]
n = lambda m: sum(o["documents"] for o in m["outputs"])
assert n(b) == n(a) + 2, (n(a), n(b))
' "$OUT/manifest.json" "$W/p15j2/manifest.json"
finish

begin "15k prepare: the manifest parses and its sha256 values match sha256sum"
OUT=$W/p15j
if [ "$HAVE_PY" -eq 1 ]; then
    python3 -m json.tool "$OUT/manifest.json" >/dev/null 2>"$W/chk" ||
        fail_because "manifest.json does not parse: $(cat "$W/chk")"
fi
want_in=$(sha256sum "$W/pc/b.txt" | cut -d' ' -f1)
want_out=$(sha256sum "$OUT/val.bin" | cut -d' ' -f1)
py '
import json, sys
m = json.load(open(sys.argv[1]))
ins = {i["path"]: i for i in m["inputs"]}
assert ins[sys.argv[2]]["sha256"] == sys.argv[3], ins[sys.argv[2]]
outs = {o["path"]: o for o in m["outputs"]}
assert outs["val.bin"]["sha256"] == sys.argv[4], outs
assert m["tokenizer"] == {"name": "bytes", "vocab_size": 256, "eot_id": None,
                          "separator": "\n\n", "files": []}, m["tokenizer"]
' "$OUT/manifest.json" "$W/pc/b.txt" "$want_in" "$want_out"
finish

# Order independence: one document per line; the validation documents must be the same set
# whatever the order of the files, and exactly those the documented rule picks: the first 8
# bytes of the document's sha256, big-endian, mod 10^6, below val_fraction * 10^6. (Near
# dedup is off here: which copy of a near-duplicate pair survives depends on the order.)
begin "15l prepare: the hash split does not depend on the order of the inputs"
for f in a b c; do tr -s '\n' <"$W/pc/$f.txt" >"$W/pc/$f.lines"; done
run "$FRUGAL" prepare -o "$W/p15l1" --docs-split line --dedup exact --val-fraction 0.3 \
    "$W/pc/a.lines" "$W/pc/b.lines" "$W/pc/c.lines"
expect_rc 0
run "$FRUGAL" prepare -o "$W/p15l2" --docs-split line --dedup exact --val-fraction 0.3 \
    --threads 1 \
    "$W/pc/c.lines" "$W/pc/a.lines" "$W/pc/b.lines"
expect_rc 0
grep -q "note:" "$W/err" && fail_because "an unexpected fallback: $(grep note: "$W/err")"
for d in p15l1 p15l2; do
    tail -c +1025 "$W/$d/val.bin" | tr -d '\000' | sort >"$W/$d.val"
done
[ -s "$W/p15l1.val" ] || fail_because "no validation documents"
cmp -s "$W/p15l1.val" "$W/p15l2.val" || fail_because "the validation documents differ by input order"
[ "$(tokens_in "$W/p15l1/train.bin")" = "$(tokens_in "$W/p15l2/train.bin")" ] ||
    fail_because "the train token counts differ by input order"
py '
import hashlib, sys
docs = set()
for f in sys.argv[2:]:
    docs |= {l for l in open(f, "rb").read().split(b"\n") if l.strip()}
val = sorted(d for d in docs if int.from_bytes(hashlib.sha256(d).digest()[:8], "big") % 10**6 < 300000)
got = open(sys.argv[1], "rb").read().split(b"\n")
got = sorted(l for l in got if l)
assert got == val, (len(got), len(val))
' "$W/p15l1.val" "$W/pc/a.lines" "$W/pc/b.lines" "$W/pc/c.lines"
finish

begin "15m prepare --split tail: the old layout (last --val-fraction bytes of each file)"
OUT=$W/p15m
run "$FRUGAL" prepare -o "$OUT" --split tail "$W/in.txt"
expect_rc 0
n=$(wc -c <"$W/in.txt")
[ "$(tokens_in "$OUT/val.bin")" = $((n / 10)) ] || fail_because "val.bin should hold $((n / 10)) tokens"
[ "$(tail -c +1025 "$OUT/train.bin" | tr -d '\000')" = "$(head -c $((n - n / 10)) "$W/in.txt" | tr -d '\000')" ] ||
    fail_because "train.bin is not the head of the file"
grep -q "note:" "$W/err" && fail_because "--split tail printed a fallback note"
finish

begin "15n prepare --csv: quoted fields decoded, malformed records skipped and counted"
printf 'id,text,extra\r\n1,"Hello, world",x\r\n2,"two\nlines with ""quotes""",y\r\n3,"bad" junk,z\r\n4,short\r\n5,plain text,w\r\n' \
    >"$W/docs.csv"
OUT=$W/p15n
run "$FRUGAL" prepare -o "$OUT" --csv text "$W/docs.csv"
expect_rc 0
expect_err "docs.csv:5"
expect_err "2 skipped"
tail -c +1025 "$OUT/train.bin" "$OUT/val.bin" 2>/dev/null | tr -d '\000' | grep -q 'lines with "quotes"' ||
    fail_because "the quoted field was not decoded"
run "$FRUGAL" prepare -o "$W/p15n2" --csv body "$W/docs.csv"
expect_error 1 "$W/docs.csv:1" "no column \"body\""
expect_empty_dir "$W/p15n2"
finish

begin "15o prepare --tokenizer gpt2, then train 2 steps on it"
OUT=$W/p15o
run "$FRUGAL" prepare -o "$OUT" --tokenizer gpt2 --vocab "$ROOT/data/gpt2" --docs-split blank \
    "$W/in.txt"
expect_rc 0
expect_no_crash
first=$(od -An -tu2 -j 1024 -N 2 "$OUT/train.bin" 2>/dev/null | tr -d ' ')
[ "$first" = 50256 ] || fail_because "train.bin does not start with <|endoftext|> (50256): $first"
py '
import json, sys
t = json.load(open(sys.argv[1]))["tokenizer"]
assert t["name"] == "gpt2" and t["vocab_size"] == 50257 and t["eot_id"] == 50256, t
assert [f["sha256"][:12] for f in t["files"]] == ["196139668be6", "1ce1664773c5"], t
' "$OUT/manifest.json"
run "$FRUGAL" train --data "$OUT/train.bin" --val "$OUT/val.bin" --vocab-size 50257 "${TINY[@]}" \
    --steps 2 --eval-batches 1 --quiet
expect_rc 0
expect_no_crash
run "$FRUGAL" prepare -o "$W/p15o2" --tokenizer gpt2 --vocab "$W/nowhere" "$W/in.txt"
expect_error 1 "$W/nowhere"
expect_empty_dir "$W/p15o2"
finish

begin "15p prepare --tokenizer FILE.json (from frugal tokenizer train), then train 2 steps"
OUT=$W/p15p
run "$FRUGAL" tokenizer train --vocab-size 300 -o "$W/tok300.json" --quiet "$W/in.txt"
expect_rc 0
run "$FRUGAL" prepare -o "$OUT" --tokenizer "$W/tok300.json" --docs-split blank "$W/in.txt"
expect_rc 0
expect_no_crash
first=$(od -An -tu2 -j 1024 -N 2 "$OUT/train.bin" 2>/dev/null | tr -d ' ')
[ "$first" = 299 ] || fail_because "train.bin does not start with <|endoftext|> (299): $first"
py '
import json, sys
t = json.load(open(sys.argv[1]))["tokenizer"]
assert t["name"] == "json" and t["vocab_size"] == 300 and t["eot_id"] == 299, t
assert t["files"][0]["path"] == sys.argv[2] and len(t["files"][0]["sha256"]) == 64, t
' "$OUT/manifest.json" "$W/tok300.json"
run "$FRUGAL" train --data "$OUT/train.bin" --vocab-size 300 "${TINY[@]}" --steps 2 --quiet
expect_rc 0
expect_no_crash
finish

begin "15q prepare: a vocabulary over 65,535 ids gives uint32 shards that train reads"
# 40,000 random 12-letter words: enough distinct pairs for 66,000 tokens
awk 'BEGIN { srand(1); for (i = 0; i < 40000; i++) { w = "";
     for (j = 0; j < 12; j++) w = w sprintf("%c", 97 + int(rand() * 26)); printf "%s ", w } }' \
    >"$W/words.txt"
run "$FRUGAL" tokenizer train --vocab-size 66000 --min-count 1 -o "$W/tok66k.json" --quiet \
    "$W/words.txt"
expect_rc 0
OUT=$W/p15q
run "$FRUGAL" prepare -o "$OUT" --tokenizer "$W/tok66k.json" "$W/words.txt"
expect_rc 0
expect_no_crash
hdr=$(od -An -td4 -N 8 "$OUT/train.bin" 2>/dev/null | tr -s ' ' | sed 's/^ //')
[ "$hdr" = "20240801 7" ] || fail_because "train.bin header is '$hdr', not llm.c's uint32 layout (20240801 7)"
n=$(tokens_in "$OUT/train.bin")
[ "$(wc -c <"$OUT/train.bin")" -eq $((1024 + 4 * n)) ] || fail_because "train.bin is not 1024 + 4 x $n bytes"
# the ids are those of frugal tokenizer encode (uint32, with <|endoftext|> first), cut in two
run "$FRUGAL" tokenizer encode --tokenizer "$W/tok66k.json" --format bin --eot -o "$W/ids66k.bin" \
    --quiet "$W/words.txt"
expect_rc 0
cat <(tail -c +1025 "$OUT/train.bin") <(tail -c +1025 "$OUT/val.bin") | cmp -s - "$W/ids66k.bin" ||
    fail_because "the shards' ids differ from frugal tokenizer encode --format bin"
max=$(od -An -tu4 -v -j 1024 "$OUT/train.bin" | tr -s ' ' '\n' | sort -n | tail -n 1)
[ "${max:-0}" -gt 65535 ] || fail_because "no id above 65,535 in train.bin (largest $max)"
run "$FRUGAL" train --data "$OUT/train.bin" --val "$OUT/val.bin" --vocab-size 66000 "${TINY[@]}" \
    --steps 2 --eval-batches 1 --quiet
expect_rc 0
expect_no_crash
run "$FRUGAL" train --data "$OUT/train.bin" --vocab-size 60000 "${TINY[@]}" --steps 2 --quiet
expect_error 1 "$OUT/train.bin" "outside the vocabulary of 60000"
finish

echo "$PASS passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
