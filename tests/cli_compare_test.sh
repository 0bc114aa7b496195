#!/usr/bin/env bash
# End-to-end tests of `frugal compare`: the committed smoke experiment (report and PNG plots),
# the guards on injected faults (a NaN gradient, a loss spike), a run killed with SIGKILL
# (reported as crashed, the rest completes, a second compare resumes), and bad input (exit code
# 2 with a message, nothing run).
#
#   FRUGAL=build/release/frugal bash tests/cli_compare_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME"; the last line is "N passed, N failed".

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/tests/cli_lib.sh"
cli_setup cli_compare_test

CORPUS="$ROOT/data/austen/persuasion.txt"
TINY="--n-layer 1 --n-head 2 --n-embd 32 --block-size 16 --batch 2 --seq 16 --threads 1 --eval-batches 2"

# a PNG file: the 8-byte signature and more than a header
is_png() {
    [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] &&
        [ "$(wc -c <"$1")" -gt 2000 ]
}

# the pid of a process whose command line matches the regex $1 (no pgrep: procps may be
# absent). One grep over every /proc/PID/cmdline, fast enough to catch a run of a second or two;
# write the regex so that it does not match itself (victim_s1[.]jsonl), or it finds the grep.
find_pid() {
    local f
    f=$(grep -l -a -e "$1" /proc/[0-9]*/cmdline 2>/dev/null | head -n 1)
    [ -n "$f" ] || return 0
    f=${f#/proc/}
    echo "${f%/cmdline}"
}

# write_exp FILE NAME VARIANTS_JSON SEEDS STEPS [GUARDS_JSON]
write_exp() {
    local guards=""
    [ -n "${6:-}" ] && guards=$(printf ',\n  "guards": %s' "$6")
    cat >"$1" <<EOF
{
  "name": "$2",
  "data": { "corpus": ["$CORPUS"] },
  "common": "$TINY",
  "variants": $3,
  "seeds": $4,
  "budget": { "steps": $5 }$guards
}
EOF
}

begin "1 the smoke experiment: report.md, summary.json and four PNG plots, in seconds"
S0=$(date +%s)
run "$FRUGAL" compare "$ROOT/experiments/smoke.json" -o "$W/smoke"
expect_rc 0
expect_no_crash
[ $(($(date +%s) - S0)) -lt 120 ] || fail_because "took more than 2 minutes"
[ -s "$W/smoke/report.md" ] || fail_because "no report.md"
for p in loss_vs_tokens loss_vs_seconds memory cost; do
    is_png "$W/smoke/plots/$p.png" || fail_because "$p.png is not a non-empty PNG"
done
grep -q '^- \*\*flash\*\*: memory' "$W/smoke/report.md" || fail_because "no verdict for flash"
grep -q '| fp32 (baseline) | 2 / 0 / 0' "$W/smoke/report.md" ||
    fail_because "the baseline's two runs are not both done"
grep -q '"p":' "$W/smoke/summary.json" || fail_because "summary.json has no p-value"
finish

begin "1b --jobs 2: two runs at a time, the same results as one at a time"
run "$FRUGAL" compare "$ROOT/experiments/smoke.json" -o "$W/smoke2" --jobs 2
expect_rc 0
for r in fp32_s1 fp32_s2 flash_s1 flash_s2; do
    a=$(sed -n 's/.*"final_val_loss":\([0-9.]*\).*/\1/p' "$W/smoke/runs/$r.json")
    b=$(sed -n 's/.*"final_val_loss":\([0-9.]*\).*/\1/p' "$W/smoke2/runs/$r.json")
    [ -n "$a" ] && [ "$a" = "$b" ] || fail_because "$r: validation loss $b with --jobs 2, $a without"
done
finish

begin "2 a second compare on the same directory (relative this time) resumes: nothing runs again"
rm -f "$W/smoke/plots/"*.png
run "$FRUGAL" compare "$ROOT/experiments/smoke.json" -o smoke
expect_rc 0
expect_err "4 of 4 runs already finished"
grep -q "run 1/4" "$W/err" && fail_because "a finished run was started again"
is_png "$W/smoke/plots/memory.png" || fail_because "plots not redrawn into a relative -o DIR"
finish

begin "3 guards: a NaN gradient and a loss spike abort their runs with the reason; the rest completes"
write_exp "$W/faults.json" faults '[
    { "name": "base", "flags": "" },
    { "name": "nan", "flags": "--inject nan@7" },
    { "name": "spike", "flags": "--inject spike@9" },
    { "name": "plain", "flags": "--lr 2e-3" } ]' '[1, 2]' 30 \
    '{ "spike": { "factor": 3, "steps": 4 } }'
run "$FRUGAL" compare "$W/faults.json" -o "$W/faults"
expect_rc 0
for s in 1 2; do
    grep -q '"status":"aborted","reason":"NaN/Inf: the gradient was not finite at step 7"' \
        "$W/faults/runs/nan_s$s.status" || fail_because "nan_s$s: not aborted at step 7 as NaN"
    grep -q '"status":"aborted","reason":"loss spike: above 3 x its moving average for 4 steps (to step 12)"' \
        "$W/faults/runs/spike_s$s.status" || fail_because "spike_s$s: not aborted by the spike rule at step 12"
    for v in base plain; do
        grep -q '"status":"done"' "$W/faults/runs/${v}_s$s.status" || fail_because "${v}_s$s not done"
    done
done
grep -q '| nan_s1 | aborted | | | | | | NaN/Inf' "$W/faults/report.md" ||
    fail_because "the report does not list nan_s1 as aborted with its reason"
grep -q '^- \*\*plain\*\*: memory' "$W/faults/report.md" || fail_because "no verdict for plain"
finish

begin "3b the checkpoint guard: at 25% of the budget, too little cost reduction or too much loss"
write_exp "$W/check.json" check '[
    { "name": "base", "flags": "" },
    { "name": "slowlearner", "flags": "--lr 1e-5 --lr-min 1e-6" } ]' '[1]' 40 \
    '{ "checkpoint": { "at": 0.25, "max_loss_increase": 0.02 } }'
run "$FRUGAL" compare "$W/check.json" -o "$W/check"
expect_rc 0
grep -q '"status":"aborted","reason":"checkpoint: validation loss at step 10 ' \
    "$W/check/runs/slowlearner_s1.status" || fail_because "slowlearner not stopped by the loss rule"
grep -q '"status":"done"' "$W/check/runs/base_s1.status" || fail_because "base not done"
write_exp "$W/cost.json" cost '[ { "name": "base", "flags": "" }, { "name": "same", "flags": "" } ]' \
    '[1]' 40 '{ "checkpoint": { "at": 0.25, "min_cost_reduction": 0.9 } }'
run "$FRUGAL" compare "$W/cost.json" -o "$W/cost"
expect_rc 0
grep -q '"status":"aborted","reason":"checkpoint: wall time at step 10 ' \
    "$W/cost/runs/same_s1.status" || fail_because "same not stopped by the cost rule"
finish

begin "3d the memory guard: a run whose peak memory passes the limit is stopped"
write_exp "$W/mem.json" mem '[ { "name": "a", "flags": "" }, { "name": "b", "flags": "--lr 2e-3" } ]' \
    '[1]' 3000 '{ "max_rss_mib": 1 }'
run "$FRUGAL" compare "$W/mem.json" -o "$W/mem"
expect_rc 0
for v in a b; do
    grep -q '"status":"aborted","reason":"memory: peak [0-9]* MiB passed the limit of 1 MiB"' \
        "$W/mem/runs/${v}_s1.status" || fail_because "${v}_s1 not stopped by the memory guard"
done
grep -q '^- \*\*b\*\*: no finished run' "$W/mem/report.md" || fail_because "the report claims results"
finish

begin "3c components: a variant made of two others is set against the sum of their parts"
write_exp "$W/abl.json" abl '[
    { "name": "base", "flags": "" },
    { "name": "lr", "flags": "--lr 2e-3" },
    { "name": "wd", "flags": "--weight-decay 0" },
    { "name": "both", "flags": "--weight-decay 0 --lr 2e-3" } ]' '[1]' 10
run "$FRUGAL" compare "$W/abl.json" -o "$W/abl"
expect_rc 0
grep -q '^## Components' "$W/abl/report.md" || fail_because "no components table"
grep -q '^| lr alone |' "$W/abl/report.md" && grep -q '^| wd alone |' "$W/abl/report.md" &&
    grep -q '^| \*\*both\*\* (measured) |' "$W/abl/report.md" ||
    fail_because "the components of both are not listed"
grep -q '^| lr (measured)' "$W/abl/report.md" && fail_because "lr taken for a combination"
finish

begin "4 a run killed with SIGKILL is reported as crashed; compare again resumes and completes it"
write_exp "$W/kill.json" kill '[ { "name": "base", "flags": "" }, { "name": "victim", "flags": "" } ]' \
    '[1]' 24000
"$FRUGAL" compare "$W/kill.json" -o "$W/kill" --quiet >"$W/out" 2>"$W/err" &
CPID=$!
killed=0
# poll for as long as compare runs (the base run before the victim may be slow on a busy machine)
while kill -0 "$CPID" 2>/dev/null; do
    VPID=$(find_pid "victim_s1[.]jsonl")
    if [ -n "$VPID" ]; then
        sleep 0.2
        kill -9 "$VPID" 2>/dev/null && killed=1
        break
    fi
    sleep 0.05
done
wait $CPID
RC=$?
[ $killed = 1 ] || fail_because "never saw the victim's process"
expect_rc 1
grep -q '"status":"crashed","reason":"killed by signal 9 (SIGKILL)' "$W/kill/runs/victim_s1.status" ||
    fail_because "victim_s1 not reported as crashed by SIGKILL"
grep -q '| victim_s1 | crashed |' "$W/kill/report.md" || fail_because "the report does not list the crash"
grep -q '"status":"done"' "$W/kill/runs/base_s1.status" || fail_because "base_s1 did not complete"
run "$FRUGAL" compare "$W/kill.json" -o "$W/kill"
expect_rc 0
expect_err "1 of 2 runs already finished"
grep -q '"status":"done"' "$W/kill/runs/victim_s1.status" || fail_because "victim_s1 not completed on resume"
finish

begin "5 bad input: exit code 2, a message naming the problem, nothing run"
printf '{\n  "name": "x",\n  "seeds": [1 2]\n}\n' >"$W/bad.json"
run "$FRUGAL" compare "$W/bad.json" -o "$W/bad"
expect_rc 2
expect_err "3:"
expect_err "not valid JSON"
[ ! -e "$W/bad" ] || fail_because "created the output directory for a malformed file"
write_exp "$W/flag.json" flag '[ { "name": "a", "flags": "" }, { "name": "b", "flags": "--no-such-flag 3" } ]' '[1]' 5
run "$FRUGAL" compare "$W/flag.json" -o "$W/flag"
expect_rc 2
expect_err 'variant "b"'
expect_err "--no-such-flag"
[ ! -e "$W/flag/runs" ] || fail_because "runs started despite a bad flag"
write_exp "$W/lr.json" lr '[ { "name": "a", "flags": "" }, { "name": "b", "flags": "--lr 1e-5" } ]' '[1]' 5
run "$FRUGAL" compare "$W/lr.json" -o "$W/lr"
expect_rc 2
expect_err 'variant "b": frugal train: --lr-min'
write_exp "$W/zero.json" zero '[ { "name": "a", "flags": "" }, { "name": "b", "flags": "" } ]' '[1]' 0
run "$FRUGAL" compare "$W/zero.json" -o "$W/zero"
expect_rc 2
expect_err "budget.steps"
sed 's/"variants"/"baseline": "nobody", "variants"/' "$W/flag.json" >"$W/base.json"
run "$FRUGAL" compare "$W/base.json" -o "$W/base"
expect_rc 2
expect_err 'baseline "nobody" is not one of the variants (a, b)'
write_exp "$W/res.json" res '[ { "name": "a", "flags": "--seed 3" }, { "name": "b", "flags": "" } ]' '[1]' 5
run "$FRUGAL" compare "$W/res.json" -o "$W/res"
expect_rc 2
expect_err "--seed is set by frugal compare"
run "$FRUGAL" compare "$W/faults.json" -o "$W/smoke"
expect_rc 2
expect_err "holds another experiment (\"smoke\")"
run "$FRUGAL" compare "$W/faults.json"
expect_rc 2
expect_err "-o DIR"
finish

echo "$PASS passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
