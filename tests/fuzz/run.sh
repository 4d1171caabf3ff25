#!/bin/sh
# run.sh - build and run the libFuzzer targets of tests/fuzz.
#
#   tests/fuzz/run.sh SECONDS [TARGET...]
#
# Builds every tests/fuzz/fuzz_*.c (or only the TARGETs named, with or without
# the fuzz_ prefix) with clang -fsanitize=fuzzer,address,undefined, runs each
# for SECONDS on a scratch copy of its seed corpus (the repository is never
# written), prints executions, corpus size and crashes per target and a final
# "N passed, N failed" line. A target passes if it builds and libFuzzer finds
# no crash, leak, timeout or out-of-memory. Exit status 1 on any failure.
#
# Which sources a target links: a "fuzz-sources: a.c b.c" line in the target's
# header comment (paths relative to the source tree), "fuzz-libs: -lx" for
# libraries and "fuzz-corpus: dir" for a seed directory other than
# tests/fuzz/corpus/<name without fuzz_>. Targets without those lines are
# described in the table in target_info below.
#
# Environment:
#   FUZZ_BUILD_DIR  build and scratch directory (default /tmp/ddlproxy-fuzz)
#   FUZZ_PARALLEL   targets run at the same time (default 1)
#   FUZZ_FLAGS      extra libFuzzer flags (e.g. -max_len=4096)
#   CC              compiler (default clang)
set -u

usage() {
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
}

[ $# -ge 1 ] || usage
SECONDS_EACH=$1
shift
case $SECONDS_EACH in
    ''|*[!0-9]*) echo "$0: SECONDS must be a whole number, got '$SECONDS_EACH'" >&2; usage ;;
esac

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${FUZZ_BUILD_DIR:-/tmp/ddlproxy-fuzz}
PARALLEL=${FUZZ_PARALLEL:-1}
CC=${CC:-clang}
CFLAGS_FUZZ="-g -O1 -std=c11 -D_GNU_SOURCE -DPACKAGE_VERSION=\"fuzz\" \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
    -I$SRC/proxy -I$SRC/faults"

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "$0: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi
mkdir -p "$BUILD" || exit 1

# Sources/libs/corpus of targets written before the fuzz-sources convention.
target_info() {   # NAME FIELD -> value
    case "$1:$2" in
        fuzz_admin_parse:sources)  echo "proxy/admin_line.c" ;;
        fuzz_admin_parse:libs)     echo "-ljansson" ;;
        fuzz_ddl_classify:sources) echo "proxy/ddl_classify.c" ;;
        fuzz_fault_spec:sources)   echo "faults/fault_spec.c proxy/config.c proxy/errbuf.c" ;;
        fuzz_fault_spec:libs)      echo "-ljansson -lm" ;;
        fuzz_leader_parse:sources) echo "faults/leader_parse.c" ;;
        fuzz_leader_parse:libs)    echo "-ljansson -lcurl" ;;
        fuzz_leader_parse:corpus)  echo "tests/unit/data/leader" ;;
        *) ;;
    esac
}

# The value of a "fuzz-FIELD:" line in the target's source, else the table's.
field() {   # FILE NAME FIELD
    v=$(sed -n "s|^.*fuzz-$3:[[:space:]]*||p" "$1" | sed 's|[[:space:]]*\*/.*$||' | head -n 1)
    [ -n "$v" ] || v=$(target_info "$2" "$3")
    echo "$v"
}

# Targets to run.
TARGETS=""
if [ $# -eq 0 ]; then
    for f in "$SRC"/tests/fuzz/fuzz_*.c; do
        [ -e "$f" ] && TARGETS="$TARGETS $(basename "$f" .c)"
    done
else
    for t in "$@"; do
        t=fuzz_${t#fuzz_}
        t=${t%.c}
        if [ ! -f "$SRC/tests/fuzz/$t.c" ]; then
            echo "$0: no such target: tests/fuzz/$t.c" >&2
            exit 2
        fi
        TARGETS="$TARGETS $t"
    done
fi
[ -n "$TARGETS" ] || { echo "$0: no fuzz targets found in $SRC/tests/fuzz" >&2; exit 1; }

build_one() {   # NAME -> 0 if built
    name=$1
    file=$SRC/tests/fuzz/$name.c
    srcs=""
    for s in $(field "$file" "$name" sources); do
        srcs="$srcs $SRC/$s"
    done
    libs=$(field "$file" "$name" libs)
    # shellcheck disable=SC2086
    $CC $CFLAGS_FUZZ "$file" $srcs $libs -o "$BUILD/$name" >"$BUILD/$name.build.log" 2>&1
}

# Runs one target; writes "RESULT execs corpus crashes" to $BUILD/NAME.result.
run_one() {   # NAME
    name=$1
    file=$SRC/tests/fuzz/$name.c
    short=${name#fuzz_}
    corpus_src=$(field "$file" "$name" corpus)
    [ -n "$corpus_src" ] || corpus_src=tests/fuzz/corpus/$short
    corpus=$BUILD/corpus/$short
    artifacts=$BUILD/artifacts/$short
    log=$BUILD/$name.log
    rm -rf "$corpus" "$artifacts"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$SRC/$corpus_src" ]; then
        find "$SRC/$corpus_src" -maxdepth 1 -type f -exec cp {} "$corpus/" \;
    fi

    if ! build_one "$name"; then
        echo "BUILD-FAILED 0 0 0" >"$BUILD/$name.result"
        return
    fi
    # shellcheck disable=SC2086
    "$BUILD/$name" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -n 1)
    [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    ncorpus=$(find "$corpus" -type f | wc -l)
    crashes=$(find "$artifacts" -type f | wc -l)
    if [ "$rc" -eq 0 ] && [ "$crashes" -eq 0 ]; then
        result=PASS
    else
        result=FAIL
    fi
    echo "$result ${execs:-0} $ncorpus $crashes" >"$BUILD/$name.result"
}

report_one() {   # NAME -> 0 if passed
    name=$1
    read -r result execs ncorpus crashes <"$BUILD/$name.result"
    case $result in
        BUILD-FAILED)
            printf '%-22s FAIL  build failed, see %s\n' "$name" "$BUILD/$name.build.log"
            sed 's/^/    /' "$BUILD/$name.build.log" | head -n 20
            return 1 ;;
        PASS)
            printf '%-22s PASS  executions %s, corpus %s, crashes 0\n' "$name" "$execs" "$ncorpus"
            return 0 ;;
        *)
            printf '%-22s FAIL  executions %s, corpus %s, crashes %s (log %s)\n' "$name" "$execs" \
                "$ncorpus" "$crashes" "$BUILD/$name.log"
            for a in "$BUILD/artifacts/${name#fuzz_}"/*; do
                [ -e "$a" ] && echo "    reproduce: $BUILD/$name $a"
            done
            grep -m 3 -E 'ERROR: |SUMMARY: |property violated|invariant violated|runtime error' \
                "$BUILD/$name.log" | sed 's/^/    /'
            return 1 ;;
    esac
}

echo "fuzzing$(echo "$TARGETS" | sed 's/ fuzz_/ /g') for ${SECONDS_EACH}s each, $PARALLEL at a time, in $BUILD"
passed=0
failed=0
set -- $TARGETS
while [ $# -gt 0 ]; do
    batch=""
    i=0
    while [ $# -gt 0 ] && [ "$i" -lt "$PARALLEL" ]; do
        batch="$batch $1"
        run_one "$1" &
        shift
        i=$((i + 1))
    done
    wait
    for name in $batch; do
        if report_one "$name"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
