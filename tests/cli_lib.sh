# Helpers shared by the command-line test scripts (tests/cli_*test.sh). bash; sourced, not run.
# A script starts with
#     ROOT=$(cd "$(dirname "$0")/.." && pwd)
#     . "$ROOT/tests/cli_lib.sh"
#     cli_setup NAME          # FRUGAL made absolute and checked, scratch dir $W, cd there
# and ends with cli_summary.

# cli_setup NAME: resolve $FRUGAL (default build/release/frugal) to an absolute path, stop with
# "0 passed, 1 failed" if it is not an executable, make the scratch directory $W (removed on
# exit), cd into it, and zero the counters.
cli_setup() {
    FRUGAL=${FRUGAL:-build/release/frugal}
    case $FRUGAL in
    /*) ;;
    *) FRUGAL=$PWD/$FRUGAL ;;
    esac
    if [ ! -x "$FRUGAL" ]; then
        echo "$1: $FRUGAL is not an executable (build with make, or set FRUGAL)" >&2
        echo "0 passed, 1 failed"
        exit 1
    fi
    W=$(mktemp -d "${TMPDIR:-/tmp}/frugal_$1.XXXXXX") || exit 1
    trap 'rm -rf "$W"' EXIT
    cd "$W" || exit 1
    # the peak FLOP/s cache of frugal train goes here, not into the user's ~/.cache
    export XDG_CACHE_HOME="$W/cache"
    PASS=0
    FAILN=0
}

# run CMD...: run it with stdout in $W/out, stderr in $W/err; the exit code in $RC.
run() {
    "$@" >"$W/out" 2>"$W/err" </dev/null
    RC=$?
}

# Start a case: clear the list of reasons it failed.
begin() {
    NAME=$1
    WHY=""
}

fail_because() {
    WHY="$WHY
    - $1"
}

# finish: print ok/FAIL for the current case.
finish() {
    if [ -z "$WHY" ]; then
        echo "ok $NAME"
        PASS=$((PASS + 1))
    else
        echo "FAIL $NAME (exit code $RC)$WHY"
        echo "    stderr:"
        sed 's/^/    | /' "$W/err"
        FAILN=$((FAILN + 1))
    fi
}

expect_rc() {
    [ "$RC" -eq "$1" ] || fail_because "expected exit code $1, got $RC"
}

# No crash: no signal death, no sanitizer report.
expect_no_crash() {
    [ "$RC" -lt 128 ] || fail_because "killed by a signal (exit code $RC)"
    if grep -q -e 'AddressSanitizer' -e 'runtime error' -e 'LeakSanitizer' "$W/err"; then
        fail_because "sanitizer report on stderr"
    fi
}

# stderr is exactly one line (and ends with a newline).
expect_one_line() {
    local n
    n=$(awk 'END { print NR }' "$W/err")
    [ "$n" -eq 1 ] || fail_because "expected exactly one line on stderr, got $n"
    if [ -s "$W/err" ] && [ -n "$(tail -c 1 "$W/err")" ]; then
        fail_because "stderr does not end with a newline"
    fi
}

# stderr contains the fixed string $1.
expect_err() {
    grep -qF -e "$1" "$W/err" || fail_because "stderr does not mention '$1'"
}
