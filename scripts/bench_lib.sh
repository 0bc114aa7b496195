# Shared by the training benchmarks (scripts/bench_*_train.sh). bash; sourced, not run.

# prepare_austen DIR VOCAB: data/austen into DIR/train.bin and DIR/val.bin, once. VOCAB 256
# trains on raw bytes; any other size first learns a byte-level BPE of that many tokens from
# the same novels (DIR/tokenizer.json). Uses $FRUGAL; logs go to DIR/*.log.
prepare_austen() {
    local dir=$1 vocab=$2
    mkdir -p "$dir"
    [ -s "$dir/train.bin" ] && [ -s "$dir/val.bin" ] && return 0
    if [ "$vocab" = 256 ]; then
        echo "== preparing data/austen byte-level into $dir"
        "$FRUGAL" prepare -o "$dir" --docs-split blank data/austen/*.txt >"$dir/prepare.log" 2>&1
    else
        echo "== learning a $vocab-token BPE from data/austen, preparing it into $dir"
        "$FRUGAL" tokenizer train --vocab-size "$vocab" -o "$dir/tokenizer.json" \
            data/austen/*.txt >"$dir/tokenizer.log" 2>&1
        "$FRUGAL" prepare -o "$dir" --docs-split blank --tokenizer "$dir/tokenizer.json" \
            data/austen/*.txt >"$dir/prepare.log" 2>&1
    fi
}

# run_done JSON STEPS: whether JSON is a completed run's --json summary of STEPS steps
run_done() {
    /usr/bin/python3 -c '
import json, sys
sys.exit(json.load(open(sys.argv[1]))["steps"] != int(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
