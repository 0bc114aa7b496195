#!/usr/bin/env bash
# End-to-end tests of `frugal plan`: the spec's Figure-7 numbers through the command line
# (docs/planner.md; spec §5.6), sweeps to CSV and PNG, the cluster-size search against a
# brute-force scan done here in the shell, and one case per kind of bad input (exit code 2 and
# a one-line message naming the flag).
#
#   FRUGAL=build/release/frugal bash tests/cli_plan_test.sh
#
# Every case prints "ok NAME" or "FAIL NAME" (with the exit code and stderr it got); the last
# line is "N passed, N failed" and the exit status is 1 if anything failed. Numbers are read
# from the JSON and CSV output with sed and awk; python3, when present, also checks that the
# JSON parses.

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)

. "$ROOT/tests/cli_lib.sh"
cli_setup cli_plan_test


# --- helpers -------------------------------------------------------------------------------










expect_out() {
    grep -qF -e "$1" "$W/out" || fail_because "stdout does not contain '$1'"
}

# expect_error CODE STRING...: exit code, one line on stderr starting "frugal plan: ", no
# crash, nothing on stdout, and each STRING in stderr.
expect_error() {
    local code=$1 s
    shift
    expect_rc "$code"
    expect_no_crash
    expect_one_line
    grep -q '^frugal plan: ' "$W/err" || fail_because "stderr does not start with 'frugal plan: '"
    [ ! -s "$W/out" ] || fail_because "something was printed on stdout"
    for s in "$@"; do
        expect_err "$s"
    done
}

# bad_input NAME STRING -- ARGS...: `frugal plan ARGS` must fail with exit 2 and a message
# containing STRING (the flag's name).
bad_input() {
    local name=$1 want=$2
    shift 3
    begin "bad input: $name"
    run "$FRUGAL" plan "$@"
    expect_error 2 "$want"
    finish
}

# jout KEY FILE: a number from the JSON's "outputs" (or "supercomputing") object: those keys are
# printed one per line, 4 spaces in.
jout() {
    sed -nE 's/^    "'"$1"'": (-?[0-9][^,]*|null),?$/\1/p' "$2" | head -n 1
}

# jin KEY FILE: an input's value; jtag KEY FILE: its provenance tag.
jin() {
    sed -nE 's/^    "'"$1"'": \{"value": ([^,]*),.*/\1/p' "$2" | head -n 1
}
jtag() {
    sed -nE 's/^    "'"$1"'": \{.*"tag": "(.)"\}.*/\1/p' "$2" | head -n 1
}

# close VALUE EXPECTED RELTOL: true when |VALUE - EXPECTED| <= RELTOL |EXPECTED|.
close() {
    awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN {
        if (v == "" || v == "null") exit 1
        d = v - e; if (d < 0) d = -d; m = e < 0 ? -e : e
        exit !(d <= t * m) }'
}

# expect_close WHAT VALUE EXPECTED RELTOL
expect_close() {
    close "$2" "$3" "$4" || fail_because "$1 is '$2', expected $3 (rel. tol. $4)"
}

# csvget FILE X COLUMN: the value of COLUMN in the row whose first column is X.
csvget() {
    awk -F, -v x="$2" -v col="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        $1 + 0 == x + 0 && c { print $c; exit }' "$1"
}

valid_json() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -m json.tool "$1" >/dev/null 2>"$W/jsonerr" ||
            fail_because "invalid JSON: $(head -n 1 "$W/jsonerr")"
    else
        head -c 1 "$1" | grep -q '{' || fail_because "output does not start with '{'"
        tail -n 1 "$1" | grep -q '^}$' || fail_because "output does not end with '}'"
    fi
}

# No leftover temporary files in the work directory.
expect_no_tmp() {
    local left
    left=$(find "$W" -name '*.tmp.*' 2>/dev/null)
    [ -z "$left" ] || fail_because "temporary files left: $(echo "$left" | tr '\n' ' ')"
}

# --- help ----------------------------------------------------------------------------------

begin "help: teaches presets, every input, sweeps, search and the two examples"
run "$FRUGAL" plan --help
expect_rc 0
for s in "--preset paper|realistic" "realistic" "--sweep NAME=A..B" "xFACTOR" "--minimize cost|time" \
    "--max-days" "--max-dollars" "--compare supercomputing" "gnuplot-nox" \
    "frugal plan --preset paper --params 1.8e12 --devices 50000" \
    "frugal plan --preset paper --params 1.8e12 --sweep devices=16384..100000:8 \\" \
    "--compare supercomputing --csv fig7.csv --plot fig7.png"; do
    expect_out "$s"
done
cp "$W/out" "$W/help.txt"
# every numeric input of the JSON is documented as a flag, with its unit
run "$FRUGAL" plan --params 1e9 --json
names=$(sed -nE 's/^    "([a-z_0-9]+)": \{"value": -?[0-9].*/\1/p' "$W/out")
[ "$(echo "$names" | wc -w)" -ge 30 ] || fail_because "the JSON lists fewer than 30 inputs"
for n in $names; do
    grep -qE -e "^  --$(echo "$n" | tr _ -) X" "$W/help.txt" || fail_because "--help lacks --${n//_/-}"
done
grep -qF -e "[FLOP/s]" "$W/help.txt" || fail_because "--help shows no units"
finish

begin "frugal --help lists plan"
run "$FRUGAL" --help
expect_rc 0
grep -qE '^  plan ' "$W/out" || fail_because "the command list lacks plan"
finish

# --- one plan ------------------------------------------------------------------------------

begin "Figure 7 F1 through the CLI: N=50000, dilation 1.9973"
run "$FRUGAL" plan --preset paper --params 1.8e12 --devices 50000 --json
expect_rc 0
expect_no_crash
cp "$W/out" "$W/f1.json"
valid_json "$W/f1.json"
expect_close dilation "$(jout dilation "$W/f1.json")" 1.9973 1e-3
expect_close mtti "$(jout mtti "$W/f1.json")" 16.40 1e-3
expect_close ckpt_write_s "$(jout ckpt_write_s "$W/f1.json")" 8000 1e-3
expect_close ckpt_interval "$(jout ckpt_interval "$W/f1.json")" 7.121 1e-3
expect_close replicas "$(jout replicas "$W/f1.json")" 138 1e-12
expect_close replica_devices "$(jout replica_devices "$W/f1.json")" 360 1e-12
expect_close amdahl "$(jout amdahl "$W/f1.json")" 2.37 1e-9
expect_close wall_days "$(jout wall_days "$W/f1.json")" 2858.5 1e-3
grep -q '"fits": true' "$W/f1.json" || fail_because "fits is not true"
finish

begin "JSON inputs carry value, unit and provenance tag (U for flags given)"
[ "$(jtag params "$W/f1.json")" = U ] || fail_because "params tag is '$(jtag params "$W/f1.json")', not U"
[ "$(jtag devices "$W/f1.json")" = U ] || fail_because "devices tag is not U"
[ "$(jtag sustained_flops "$W/f1.json")" = P ] || fail_because "sustained_flops tag is not P"
[ "$(jtag state_bytes "$W/f1.json")" = R ] || fail_because "state_bytes tag is not R"
expect_close "inputs.sustained_flops" "$(jin sustained_flops "$W/f1.json")" 150e12 1e-12
grep -qF '"fs_bandwidth": {"value": 500000000000, "unit": "B/s", "tag": "P"}' "$W/f1.json" ||
    fail_because "fs_bandwidth input line is not value/unit/tag"
grep -qF '"amdahl": {"value": "replica"' "$W/f1.json" || fail_because "amdahl choice missing"
finish

begin "Figure 7 F1 with --compare supercomputing: ratio 1.995, dilation_sc 1.00096"
run "$FRUGAL" plan --params 1.8e12 --devices 50000 --compare supercomputing --json
expect_rc 0
valid_json "$W/out"
expect_close ratio "$(jout ratio "$W/out")" 1.995 1e-3
expect_close dilation_sc "$(jout dilation_sc "$W/out")" 1.00096 1e-5
finish

begin "human table: inputs with tags, grouped outputs, fits yes, \$ with separators, days"
run "$FRUGAL" plan --preset paper --params 1.8e12 --devices 50000
expect_rc 0
for s in "inputs" "compute" "memory per device" "time and failures" "cost" \
    "fits                     yes" "\$8,575,565,581" "2858.5 days" "80 GB"; do
    expect_out "$s"
done
grep -qE '^  params +1\.8e\+12 +U$' "$W/out" || fail_because "params row is not 'value U'"
grep -qE '^  mtbf_device +950000 +h +P$' "$W/out" || fail_because "mtbf_device row lacks unit/tag"
grep -qE '^  interval +daly +R$' "$W/out" || fail_because "interval choice row missing"
finish

begin "realistic preset: Llama-3.1-405B compute, R tags"
run "$FRUGAL" plan --preset realistic --params 405e9 --tokens 15.6e12 --devices 16384 --json
expect_rc 0
expect_close train_flops "$(jout train_flops "$W/out")" 3.7908e25 1e-9
[ "$(jtag mtbf_device "$W/out")" = R ] || fail_because "mtbf_device tag is not R"
grep -qF '"ckpt_mode": {"value": "model_state"' "$W/out" || fail_because "ckpt_mode is not model_state"
finish

begin "spellings: dashes = underscores, --gpus = --devices, 1.8T = 1.8e12, 50k = 50000"
run "$FRUGAL" plan --params 1.8e12 --devices 50000 --tokens-per-param 20 --json
cp "$W/out" "$W/a.json"
run "$FRUGAL" plan --params=1.8T --gpus 50k --tokens_per_param=20 --json
expect_rc 0
cmp -s "$W/a.json" "$W/out" || fail_because "the two spellings give different JSON"
finish

begin "choices: --interval young, --amdahl none, --ckpt-mode model_state change the plan"
run "$FRUGAL" plan --params 1.8e12 --devices 50000 --interval young --amdahl none \
    --ckpt-mode model_state --json
expect_rc 0
expect_close amdahl "$(jout amdahl "$W/out")" 1 1e-12
# model_state: 1.8e12 x 14 B / 500 GB/s = 50.4 s; base dilation 1.178 (spec §5.6)
expect_close ckpt_write_s "$(jout ckpt_write_s "$W/out")" 50.4 1e-9
[ "$(jtag interval "$W/out")" = U ] || fail_because "interval tag is not U"
finish

# --- sweeps --------------------------------------------------------------------------------

begin "sweep list = Figure 7 F2-F5 (dilation, supercomputing, ratio), CSV and PNG"
run "$FRUGAL" plan --preset paper --params 1.8e12 --sweep devices=16384,32768,65536,100000 \
    --compare supercomputing --csv fig7.csv --plot fig7.png
expect_rc 0
expect_no_crash
hdr="devices,train_flops,replicas,solve_hours,mtti,ckpt_write_s,ckpt_interval,wall_hours,dilation,ettr,cost,wall_days,fits,wall_days_sc,dilation_sc,ratio"
[ "$(head -n 1 fig7.csv)" = "$hdr" ] || fail_because "CSV header is '$(head -n 1 fig7.csv)'"
[ "$(awk 'END { print NR }' fig7.csv)" -eq 5 ] || fail_because "CSV does not have 4 rows"
# id N dilation dilation_sc ratio mtti
while read -r id n dil dsc ratio mtti; do
    expect_close "$id dilation" "$(csvget fig7.csv "$n" dilation)" "$dil" 1e-3
    expect_close "$id dilation_sc" "$(csvget fig7.csv "$n" dilation_sc)" "$dsc" 1e-4
    expect_close "$id ratio" "$(csvget fig7.csv "$n" ratio)" "$ratio" 1e-3
    expect_close "$id mtti" "$(csvget fig7.csv "$n" mtti)" "$mtti" 1e-3
    [ "$(csvget fig7.csv "$n" fits)" = 1 ] || fail_because "$id fits is not 1"
done <<'EOF'
F2 16384 1.2405 1.00089 1.239 50.06
F3 32768 1.5552 1.00090 1.554 25.03
F4 65536 2.5328 1.00108 2.530 12.51
F5 100000 4.4881 1.00173 4.480 8.201
EOF
if [ ! -s fig7.png ]; then
    fail_because "fig7.png is missing or empty"
else
    sig=$(head -c 4 fig7.png | od -An -tx1 | tr -d ' \n')
    [ "$sig" = "89504e47" ] || fail_because "fig7.png starts with $sig, not the PNG signature"
fi
expect_no_tmp
finish

begin "sweep devices=16384..65536x2 and =16384..100000:8: the points"
run "$FRUGAL" plan --params 1.8e12 --sweep devices=16384..65536x2 --csv geo.csv
expect_rc 0
[ "$(cut -d, -f1 geo.csv | tr '\n' ' ')" = "devices 16384 32768 65536 " ] ||
    fail_because "geometric points: $(cut -d, -f1 geo.csv | tr '\n' ' ')"
expect_close "F3 dilation (x2 sweep)" "$(csvget geo.csv 32768 dilation)" 1.5552 1e-3
run "$FRUGAL" plan --params 1.8e12 --sweep devices=16384..100000:8
expect_rc 0
[ -s plan_sweep.csv ] || fail_because "default CSV plan_sweep.csv not written"
[ "$(awk 'END { print NR }' plan_sweep.csv)" -eq 9 ] || fail_because "not 8 rows"
[ "$(sed -n 2p plan_sweep.csv | cut -d, -f1)" = 16384 ] || fail_because "first point is not 16384"
[ "$(sed -n 9p plan_sweep.csv | cut -d, -f1)" = 100000 ] || fail_because "last point is not 100000"
awk -F, 'NR > 1 && $1 != int($1) { exit 1 }' plan_sweep.csv || fail_because "devices not whole"
finish

begin "sweep: points where the model does not fit have empty outputs and fits 0"
run "$FRUGAL" plan --params 1.8e12 --sweep devices=100,50000 --csv nf.csv
expect_rc 0
[ "$(sed -n 2p nf.csv)" = "100,,,,,,,,,,,,0" ] || fail_because "row for 100 devices: $(sed -n 2p nf.csv)"
expect_close "dilation at 50000" "$(csvget nf.csv 50000 dilation)" 1.9973 1e-3
finish

begin "sweep --json: one JSON object with a row per point"
run "$FRUGAL" plan --params 1.8e12 --sweep devices=16384,50000 --csv j.csv --json
expect_rc 0
valid_json "$W/out"
[ "$(grep -c '^    {"devices": ' "$W/out")" -eq 2 ] || fail_because "not 2 rows"
finish

begin "sweep of another input: fs-bandwidth=500B,2T"
run "$FRUGAL" plan --params 1.8e12 --devices 50000 --sweep fs-bandwidth=500B,2T --csv fs.csv
expect_rc 0
[ "$(head -n 1 fs.csv | cut -d, -f1)" = fs_bandwidth ] || fail_because "first column is not fs_bandwidth"
expect_close "ckpt_write_s at 2e12" "$(csvget fs.csv 2e12 ckpt_write_s)" 2000 1e-9
finish

begin "the issue's command: --sweep gpus=16384..100000 writes plan_sweep.csv and .png"
mkdir -p "$W/issue" && cd "$W/issue" || exit 1
run "$FRUGAL" plan --preset paper --params 1.8e12 --sweep gpus=16384..100000
expect_rc 0
expect_no_crash
[ "$(awk 'END { print NR }' plan_sweep.csv 2>/dev/null)" = 9 ] || fail_because "plan_sweep.csv does not have 8 rows"
expect_close "F2 dilation at 16384" "$(csvget plan_sweep.csv 16384 dilation)" 1.2405 1e-3
expect_close "F5 dilation at 100000" "$(csvget plan_sweep.csv 100000 dilation)" 4.4881 1e-3
sig=$(head -c 4 plan_sweep.png 2>/dev/null | od -An -tx1 | tr -d ' \n')
[ "$sig" = "89504e47" ] || fail_because "plan_sweep.png is missing or not a PNG ($sig)"
[ "$(wc -c <plan_sweep.png 2>/dev/null || echo 0)" -gt 1000 ] || fail_because "plan_sweep.png is tiny"
cd "$W" || exit 1
finish

begin "sweep without gnuplot and without --plot: CSV written, a note, exit 0"
mkdir -p "$W/nogp2" && cd "$W/nogp2" || exit 1
run env PATH=/nonexistent "$FRUGAL" plan --params 1.8e12 --sweep devices=16384,32768
expect_rc 0
[ -s plan_sweep.csv ] || fail_because "no CSV"
[ ! -e plan_sweep.png ] || fail_because "a PNG appeared without gnuplot"
expect_err "gnuplot-nox"
cd "$W" || exit 1
finish

begin "--plot without gnuplot on PATH: exit 1 naming gnuplot-nox, no files"
run env PATH=/nonexistent "$FRUGAL" plan --params 1.8e12 --sweep devices=16384,32768 \
    --csv nogp.csv --plot nogp.png
expect_error 1 "gnuplot-nox"
[ ! -e nogp.csv ] && [ ! -e nogp.png ] || fail_because "a file was written"
expect_no_tmp
finish

begin "--plot into a missing directory: exit 1, no CSV, no temporary files"
run "$FRUGAL" plan --params 1.8e12 --sweep devices=16384,32768 --csv atom.csv \
    --plot "$W/missing/dir/x.png"
expect_error 1 "--plot"
[ ! -e atom.csv ] || fail_because "atom.csv was written although the plot failed"
expect_no_tmp
finish

begin "--csv into a missing directory: exit 1, no PNG, no temporary files"
run "$FRUGAL" plan --params 1.8e12 --sweep devices=16384,32768 --csv "$W/missing/x.csv" \
    --plot atom.png
expect_error 1 "--csv"
[ ! -e atom.png ] || fail_because "atom.png was written although the CSV failed"
expect_no_tmp
finish

# --- search --------------------------------------------------------------------------------

# Brute force over the grid the search uses: P = 70e9 at 16 B/param on 80 GB devices needs 14
# devices per replica; sizes 14, 28, ..., 280.
G=14
K=20
: >"$W/grid.txt"
for k in $(seq 1 $K); do
    n=$((G * k))
    "$FRUGAL" plan --params 70e9 --devices $n --json >"$W/g.json" 2>/dev/null || continue
    echo "$n $(jout wall_days "$W/g.json") $(jout cost "$W/g.json")" >>"$W/grid.txt"
done

begin "brute force grid: $K plans"
RC=0
[ "$(awk 'END { print NR }' "$W/grid.txt")" -eq $K ] || fail_because "only $(awk 'END { print NR }' "$W/grid.txt") of $K grid plans ran"
finish

# best_by FILE SORTKEY LIMITCOL LIMIT: feasible rows sorted by SORTKEY (2 days, 3 cost)
feasible_sorted() {
    awk -v lc="$2" -v lim="$3" '$lc <= lim' "$W/grid.txt" | sort -g -k "$1,$1"
}

begin "--minimize cost --max-days 300 = brute force (and the runner-up)"
feasible_sorted 3 2 300 >"$W/feas.txt"
want=$(sed -n 1p "$W/feas.txt" | cut -d' ' -f1)
want2=$(sed -n 2p "$W/feas.txt" | cut -d' ' -f1)
wantcost=$(sed -n 1p "$W/feas.txt" | cut -d' ' -f3)
[ -n "$want" ] && [ "$want" -gt $G ] && [ "$want" -lt $((G * K)) ] ||
    fail_because "the constraint does not bind inside the grid (brute force: '$want')"
run "$FRUGAL" plan --params 70e9 --minimize cost --max-days 300 --max-devices $((G * K)) --json
expect_rc 0
valid_json "$W/out"
[ "$(jin devices "$W/out")" = "$want" ] || fail_because "search picked $(jin devices "$W/out") devices, brute force $want"
expect_close cost "$(jout cost "$W/out")" "$wantcost" 1e-12
grep -qF "\"runner_up\": {\"devices\": $want2," "$W/out" || fail_because "runner-up is not $want2"
run "$FRUGAL" plan --params 70e9 --minimize cost --max-days 300 --max-devices $((G * K))
expect_rc 0
grep -qE "^runner-up: $want2 devices, [0-9.]+ days, \\\$[0-9,]+\$" "$W/out" ||
    fail_because "no line 'runner-up: $want2 devices, D days, \$X'"
grep -qE '^  fits +yes$' "$W/out" || fail_because "the best plan is not printed"
finish

begin "--minimize time --max-dollars 3e6 = brute force"
feasible_sorted 2 3 3000000 >"$W/feas.txt"
want=$(sed -n 1p "$W/feas.txt" | cut -d' ' -f1)
[ -n "$want" ] && [ "$want" -gt $G ] && [ "$want" -lt $((G * K)) ] ||
    fail_because "the constraint does not bind inside the grid (brute force: '$want')"
run "$FRUGAL" plan --params 70e9 --minimize time --max-dollars 3M --max-devices $((G * K)) --json
expect_rc 0
[ "$(jin devices "$W/out")" = "$want" ] || fail_because "search picked $(jin devices "$W/out") devices, brute force $want"
finish

begin "--minimize with limits nothing meets: exit 1, one line"
run "$FRUGAL" plan --params 70e9 --minimize time --max-days 1 --max-devices 280
expect_error 1 "--max-days"
finish

# --- bad input: exit 2 and a one-line message naming the flag ------------------------------


# --- a frugal model: the planner's FLOPs are the trainer's count ----------------------------

begin "--model: FLOPs equal frugal train's tokens x flops_per_token"
for i in $(seq 1 300); do
    echo "It is a truth universally acknowledged, line $i, that a planner needs a run."
done >"$W/in.txt"
"$FRUGAL" prepare -o "$W/data" "$W/in.txt" >/dev/null 2>&1
run "$FRUGAL" train --data "$W/data/train.bin" --n-layer 2 --n-head 2 --n-embd 32 \
    --block-size 16 --batch 2 --seq 16 --steps 5 --threads 1 --quiet --json
expect_rc 0
cp "$W/out" "$W/train.json"
ftok=$(sed -nE 's/.*"flops_per_token": *([0-9.e+-]+).*/\1/p' "$W/train.json" | head -n 1)
ntok=$(sed -nE 's/.*"tokens": *([0-9]+).*/\1/p' "$W/train.json" | head -n 1)
run "$FRUGAL" plan --preset realistic --model L=2,C=32,NH=2,V=256,T=16,B=2,steps=5 --json
expect_rc 0
pf=$(jout train_flops "$W/out")
awk -v a="$pf" -v f="$ftok" -v n="$ntok" 'BEGIN { exit !(a != "" && f != "" && a == f * n) }' ||
    fail_because "plan train_flops $pf != $ntok tokens x $ftok FLOPs/token"
[ "$(jtag params "$W/out")" = U ] || fail_because "params from --model should be tagged U"
finish

begin "--model with --params contradicts"
run "$FRUGAL" plan --model L=2,C=32,NH=2,V=256,T=16,B=2,steps=5 --params 1e9
expect_error 2 "--params" "--model"
finish

bad_input "--model missing keys" "--model" -- --model L=2,C=32
bad_input "--model bad value" "--model" -- --model L=2,C=32,NH=3,V=256,T=16,B=2,steps=5
bad_input "--model unknown key" "--model" -- --model L=2,C=32,NH=2,V=256,T=16,B=2,steps=5,X=1

# --- optimizer storage modes ----------------------------------------------------------------

begin "--optimizer: bytes per parameter set the replica size (70B on 80 GB, 10% headroom)"
for pair in mixed-adam:16 flash-adamw:7 flash-adamw-release:5; do
    o=${pair%%:*} want=${pair##*:}
    run "$FRUGAL" plan --preset realistic --params 70e9 --devices 512 --optimizer "$o" --json
    expect_rc 0
    g=$(jout replica_devices "$W/out")
    [ "$g" = "$want" ] || fail_because "--optimizer $o: replica_devices $g, want $want"
    [ "$(jtag state_bytes "$W/out")" = U ] || fail_because "--optimizer $o: state_bytes not tagged U"
done
finish

bad_input "--optimizer unknown" "--optimizer" -- --params 1e9 --optimizer adam9000
bad_input "--optimizer with --state-bytes" "--state-bytes" -- --params 1e9 --optimizer flash-adamw --state-bytes 9

# --- projection of the paper's scenarios ----------------------------------------------------

begin "--project: base year reproduces the calibrated GPT-4 costs"
run "$FRUGAL" plan --project 2024..2025 --json
expect_rc 0
c1=$(sed -nE 's/.*"year": 2024, "scenario": "S1".*"dollars_cloud": ([0-9.e+]+), "dollars_gpu": ([0-9.e+]+).*/\1 \2/p' "$W/out")
set -- $c1
close "${1:-}" 31973684.2 1e-3 || fail_because "S1 2024 cloud dollars ${1:-none}, want 3.197e7"
close "${2:-}" 6694214.9 1e-3 || fail_because "S1 2024 GPU dollars ${2:-none}, want 6.694e6"
[ "$(grep -c '"scenario"' "$W/out")" -eq 6 ] || fail_because "expected 6 rows (2 years x 3)"
finish

bad_input "--project backwards" "--project" -- --project 2030..2024
bad_input "--project with --sweep" "--project" -- --project 2024..2025 --sweep devices=1,2

bad_input "unknown flag" "--bogus" -- --params 1.8e12 --bogus 3
bad_input "unknown flag, close to a real one" "--devices" -- --params 1.8e12 --devcies 5
bad_input "missing value at the end" "--devices" -- --params 1.8e12 --devices
bad_input "missing value before a flag" "--params" -- --params --devices 5
bad_input "non-numeric" "--devices" -- --params 1.8e12 --devices lots
bad_input "bad suffix" "--params" -- --params 1.8X
bad_input "NaN" "--params" -- --params nan
bad_input "inf" "--price" -- --params 1.8e12 --price inf
bad_input "overflow" "--price" -- --params 1.8e12 --price 1e999
bad_input "negative" "--recovery" -- --params 1.8e12 --recovery -1
bad_input "zero params (library message)" "--params" -- --params 0
bad_input "zero fs-bandwidth (library message)" "--fs-bandwidth" -- --params 1.8e12 --fs-bandwidth 0
bad_input "zero mtbf-device (library message)" "--mtbf-device" -- --params 1.8e12 --mtbf-device 0
bad_input "zero devices (library message)" "--devices" -- --params 1.8e12 --devices 0
bad_input "fractional devices" "--devices" -- --params 1.8e12 --devices 1.5
bad_input "mfu above 1" "--mfu" -- --preset realistic --params 70e9 --mfu 1.5
bad_input "no --params (realistic)" "--params" -- --preset realistic
bad_input "tokens and tokens-per-param" "--tokens-per-param" -- --params 1.8e12 --tokens 1e12 --tokens-per-param 20
bad_input "model does not fit" "--devices must be at least 360" -- --params 1.8e12 --devices 100
bad_input "k_tol not below the replicas" "--k-tol" -- --params 1.8e12 --devices 1000 --k-tol 5
bad_input "bad preset" "--preset" -- --preset fancy --params 1e9
bad_input "bad amdahl" "--amdahl" -- --params 1e9 --amdahl cores
bad_input "bad ckpt-mode" "--ckpt-mode" -- --params 1e9 --ckpt-mode disk
bad_input "bad interval" "--interval" -- --params 1e9 --interval hourly
bad_input "bad sweep range" "--sweep" -- --params 1.8e12 --sweep devices=5..1
bad_input "sweep of an unknown input" "--sweep" -- --params 1.8e12 --sweep widgets=1,2
bad_input "sweep and the flag it sweeps" "--devices" -- --params 1.8e12 --devices 5 --sweep devices=1,2
bad_input "bad --compare" "--compare" -- --params 1.8e12 --compare cloud
bad_input "bad --minimize" "--minimize" -- --params 1.8e12 --minimize carbon
bad_input "--minimize with --devices" "--devices" -- --params 1.8e12 --minimize cost --devices 5
bad_input "--csv without --sweep" "--csv" -- --params 1.8e12 --csv x.csv
bad_input "--max-days without --minimize" "--max-days" -- --params 1.8e12 --max-days 30
bad_input "positional argument" "stray" -- --params 1.8e12 stray

echo "$PASS passed, $FAILN failed"
[ "$FAILN" -eq 0 ]
