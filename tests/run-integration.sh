#!/bin/bash
# run-integration.sh - runs ddlproxy's integration suites and sums their results.
#
#   tests/run-integration.sh [SUITE ...] [-- ARGS...]
#
# SUITE is a file name or a name like "relay" (-> tests/integration/test_relay.py
# or .sh); default: every tests/integration/test_*.py and test_*.sh. ARGS after
# "--" go to every suite (e.g. -- --quick). Run it from the build directory or
# set DDLPROXY_BUILDDIR / DDLPROXY_BIN. Each suite's output goes to the
# terminal; its closing "N passed, N failed" line is added to the total. A
# suite that exits non-zero, or without that line, counts as failed.
# Environment: SUITE_TIMEOUT (seconds per suite, default 1800).
set -u

here=$(cd "$(dirname "$0")" && pwd)
integration="$here/integration"
suite_timeout=${SUITE_TIMEOUT:-1800}
export PYTHONDONTWRITEBYTECODE=1    # keep __pycache__ out of the source tree

if [ -z "${DDLPROXY_BUILDDIR:-}" ] && [ -z "${DDLPROXY_BIN:-}" ] && [ -x ./ddlproxy ]; then
    DDLPROXY_BUILDDIR=$(pwd)
    export DDLPROXY_BUILDDIR
fi

suites=()
suite_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; suite_args=("$@"); break ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *)  if [ -f "$1" ]; then
                suites+=("$1")
            elif [ -f "$integration/test_$1.py" ]; then
                suites+=("$integration/test_$1.py")
            elif [ -f "$integration/test_$1.sh" ]; then
                suites+=("$integration/test_$1.sh")
            elif [ -f "$integration/$1" ]; then
                suites+=("$integration/$1")
            else
                echo "run-integration: no suite named '$1' in $integration" >&2
                exit 2
            fi ;;
    esac
    shift
done
if [ ${#suites[@]} -eq 0 ]; then
    shopt -s nullglob
    suites=("$integration"/test_*.py "$integration"/test_*.sh)
    shopt -u nullglob
fi
if [ ${#suites[@]} -eq 0 ]; then
    echo "run-integration: no suites found in $integration" >&2
    exit 2
fi

total_passed=0
total_failed=0
failed_suites=()
summary=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for suite in "${suites[@]}"; do
    name=$(basename "$suite")
    case "$suite" in
        *.py) runner=(/usr/bin/python3 -u) ;;
        *.sh) runner=(bash) ;;
        *)    echo "run-integration: $name: not a .py or .sh suite" >&2; exit 2 ;;
    esac
    echo "=== $name"
    start=$(date +%s)
    # stdout is shown and kept for its closing line; stderr goes straight to the terminal.
    timeout --kill-after=30 "$suite_timeout" "${runner[@]}" "$suite" "${suite_args[@]}" | tee "$out"
    rc=${PIPESTATUS[0]}
    secs=$(( $(date +%s) - start ))
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }
        f=${f%% failed}
    else
        p=0
        f=1
        echo "run-integration: $name printed no 'N passed, N failed' line" >&2
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1     # a suite that crashed or timed out after its last test still failed
        echo "run-integration: $name exited with status $rc" >&2
    fi
    [ "$rc" -eq 124 ] && echo "run-integration: $name timed out after ${suite_timeout}s" >&2
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    summary+=("$(printf '%-28s %3d passed, %3d failed  (%ds, exit %d)' "$name" "$p" "$f" "$secs" "$rc")")
    [ "$f" -ne 0 ] && failed_suites+=("$name")
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed_suites[@]} -ne 0 ]; then
    echo "failed suites: ${failed_suites[*]}"
fi
echo "$total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
