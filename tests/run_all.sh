#!/bin/sh
# Runs every test binary given as arguments, then the CLI tests and the independent
# safetensors reader, and prints the combined closing line "N passed, N failed".
# Usage (from the repo root, through make test): FRUGAL=build/.../frugal sh tests/run_all.sh BIN...
passed=0; failed=0; skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
count() { # add the counts of the last "N passed, N failed" line in $log
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then failed=$((failed + 1)); echo "  (no result line: counted as a failure)"; return; fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
}
for bin in "$@"; do
    echo "== $bin"
    "$bin" >"$log" 2>&1; rc=$?
    cat "$log"
    count
    [ $rc -ne 0 ] && ! grep -qE '^[0-9]+ passed, [1-9]' "$log" && failed=$((failed + 1)) && echo "  exit $rc"
done
for t in fuzz/corpus/*; do
    name=$(basename "$t"); bin="$O/fuzz/replay_$name"
    [ -x "$bin" ] || continue
    echo "== fuzz corpus replay: $name"
    "$bin" "$t"/* >"$log" 2>&1
    cat "$log"
    count
done
if [ -f tests/cli_test.sh ]; then
    echo "== tests/cli_test.sh"
    FRUGAL="$FRUGAL" bash tests/cli_test.sh >"$log" 2>&1
    cat "$log"
    count
fi
[ -f tests/cli_plan_test.sh ] && { echo "== tests/cli_plan_test.sh"; FRUGAL="$FRUGAL" bash tests/cli_plan_test.sh >"$log" 2>&1; cat "$log"; count; }
[ -f tests/cli_tokenizer_test.sh ] && { echo "== tests/cli_tokenizer_test.sh"; FRUGAL="$FRUGAL" bash tests/cli_tokenizer_test.sh >"$log" 2>&1; cat "$log"; count; }
[ -f tests/cli_mx_train_test.sh ] && { echo "== tests/cli_mx_train_test.sh"; FRUGAL="$FRUGAL" bash tests/cli_mx_train_test.sh >"$log" 2>&1; cat "$log"; count; }
[ -f tests/cli_compare_test.sh ] && { echo "== tests/cli_compare_test.sh"; FRUGAL="$FRUGAL" bash tests/cli_compare_test.sh >"$log" 2>&1; cat "$log"; count; }
[ -f tests/cli_prepare_test.sh ] && { echo "== tests/cli_prepare_test.sh"; FRUGAL="$FRUGAL" bash tests/cli_prepare_test.sh >"$log" 2>&1; cat "$log"; count; }
echo "== independent safetensors reader (scripts/check_safetensors.py)"
if /usr/bin/python3 -c 'import sys' 2>/dev/null; then
    d=$(mktemp -d)
    "$FRUGAL" prepare -o "$d" data/austen/persuasion.txt >/dev/null &&
    "$FRUGAL" train --data "$d/train.bin" --n-layer 1 --n-head 2 --n-embd 32 --block-size 32 \
        --batch 2 --seq 32 --steps 2 --threads 1 --ckpt-dir "$d" --quiet >/dev/null &&
    /usr/bin/python3 scripts/check_safetensors.py "$d/ckpt_00000002.safetensors" \
        --expect-tensors wte,wpe,qkvw,fcprojw,lnfb,optim.m,optim.v &&
    mkdir "$d/flash" &&
    "$FRUGAL" train --data "$d/train.bin" --n-layer 1 --n-head 2 --n-embd 32 --block-size 32 \
        --batch 2 --seq 32 --steps 2 --threads 1 --ckpt-dir "$d/flash" --quiet \
        --optim-storage flash >/dev/null &&
    /usr/bin/python3 scripts/check_safetensors.py "$d/flash/ckpt_00000002.safetensors" \
        --expect-tensors wte,lnfb,optim.rho,optim.m.codes,optim.m.scales,optim.v.codes,optim.v.scales &&
    /usr/bin/python3 scripts/check_safetensors.py tests/data/gpt_ref.safetensors
    if [ $? -eq 0 ]; then passed=$((passed + 1)); echo "ok safetensors_reader"; else failed=$((failed + 1)); echo "FAIL safetensors_reader"; fi
    rm -rf "$d"
else
    skipped=$((skipped + 1)); echo "skip safetensors_reader: /usr/bin/python3 not found"
fi
if [ $skipped -gt 0 ]; then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
[ $failed -eq 0 ]
