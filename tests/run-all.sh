#!/bin/bash
# run-all.sh - installs what is missing, builds, and runs every test of
# ddlproxy: CUnit (make check), the integration suites against real MariaDB,
# etcd, sysbench and haproxy, the fuzz targets for a short time, the whole
# suite again in an ASan+UBSan build, a valgrind leak check, make distcheck,
# and the docker-compose local topology when a Docker engine is present.
#
#   tests/run-all.sh [--quick]      (as root on a fresh Debian machine)
#
# --quick skips the sanitizer rerun, valgrind, distcheck and docker.
# Environment: FUZZ_SECONDS (per target, default 15), BUILD_ROOT (default ./build).
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
build_root=${BUILD_ROOT:-$top/build}
fuzz_seconds=${FUZZ_SECONDS:-15}
jobs=$(nproc 2>/dev/null || echo 2)

results=()
total_passed=0
total_failed=0
log_dir=$build_root/logs
mkdir -p "$log_dir"

# Adds a step's own closing line ("N passed, N failed" or CUnit's run summary) to the totals.
count() {
    local log=$1 p=0 f=0 line
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        line=${line#*: }
        p=${line%% passed*}
        f=${line#*passed, }
        f=${f%% failed*}
    fi
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
}

step() {
    local name=$1
    shift
    local log="$log_dir/$(echo "$name" | tr ' /' '__').log"
    echo "=== $name"
    local start=$(date +%s)
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local secs=$(( $(date +%s) - start ))
    local before=$total_failed
    count "$log"
    if [ "$rc" -eq 0 ]; then
        results+=("ok    $name (${secs}s)")
    else
        results+=("FAIL  $name (${secs}s, exit $rc, log $log)")
        # a step that failed without counting a failure of its own still counts one
        [ "$total_failed" -gt "$before" ] || total_failed=$((total_failed + 1))
    fi
    return 0
}

build() {   # build DIR CONFIGURE-ARGS...
    local dir=$1
    shift
    mkdir -p "$dir"
    (cd "$dir" && "$top/configure" -q "$@" && make -s -j"$jobs")
}

# make check, then CUnit's per-program summaries as one closing line.
unit_tests() {
    local dir=$1
    (cd "$dir" && make -s -j"$jobs" check >"$log_dir/make-check.out" 2>&1)
    local rc=$?
    [ $rc -eq 0 ] || grep -E "error|Error" "$log_dir/make-check.out" | head -n 20
    local p=0 f=0
    for log in "$dir"/tests/unit/*.log; do
        [ -f "$log" ] || continue
        local line
        line=$(grep -E '^ +tests +[0-9]+' "$log" | tail -n 1)
        [ -n "$line" ] || { f=$((f + 1)); echo "no CUnit summary in $log"; continue; }
        set -- $line
        p=$((p + $4)); f=$((f + $5))
        echo "$(basename "$log" .log): $4 passed, $5 failed"
    done
    [ $rc -eq 0 ] || cat "$dir"/test-suite.log
    echo "unit: $p passed, $f failed"
    return $rc
}

integration() {   # integration BUILD-DIR [SUITE...]
    local dir=$1
    shift
    DDLPROXY_BUILDDIR=$dir "$top/tests/run-integration.sh" "$@"
}

valgrind_check() {
    local dir=$1 vlog=$log_dir/valgrind
    rm -rf "$vlog"; mkdir -p "$vlog"
    cat > "$dir/ddlproxy-valgrind" <<EOV
#!/bin/sh
exec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
    --log-file=$vlog/%p.log "$dir/ddlproxy" "\$@"
EOV
    chmod +x "$dir/ddlproxy-valgrind"
    DDLPROXY_BIN=$dir/ddlproxy-valgrind DDLPROXYCTL_BIN=$dir/ddlproxyctl DDLPROXY_SLOW=1 \
        "$top/tests/run-integration.sh" relay ddl_mariadb admin -- --quick
    local rc=$?
    local lost
    lost=$(grep -h "definitely lost:" "$vlog"/*.log 2>/dev/null | grep -v " 0 bytes" | head -n 5)
    local runs
    runs=$(ls "$vlog"/*.log 2>/dev/null | wc -l)
    if [ -n "$lost" ]; then
        echo "valgrind: memory definitely lost:"; echo "$lost"
        echo "valgrind: 0 passed, 1 failed"
        return 1
    fi
    echo "valgrind: $runs proxy run(s), 0 bytes definitely lost"
    return $rc
}

[ -x "$top/configure" ] || ./autogen.sh >/dev/null 2>&1 || { echo "autogen failed"; exit 1; }

step "install packages" "$top/tests/setup.sh"
step "build (-Werror)" build "$build_root/release" --enable-werror
step "unit tests" unit_tests "$build_root/release"
step "integration tests" integration "$build_root/release"
step "fuzz ${fuzz_seconds}s per target" "$top/tests/fuzz/run.sh" "$fuzz_seconds"
if [ $quick -eq 0 ]; then
    step "build (ASan+UBSan)" build "$build_root/asan" --enable-werror --enable-sanitizers
    step "unit tests (ASan+UBSan)" unit_tests "$build_root/asan"
    # docker's topology test builds its own image: once (above) is enough
    step "integration tests (ASan+UBSan)" integration "$build_root/asan" \
        $(ls "$top"/tests/integration/test_*.py)
    step "valgrind leak check" valgrind_check "$build_root/release"
    step "make distcheck" bash -c "cd '$build_root/release' && make -s distcheck >/dev/null && echo 'distcheck: 1 passed, 0 failed'"
fi

echo
echo "=== summary"
printf '%s\n' "${results[@]}"
echo "run-all: $total_passed passed, $total_failed failed"
fail=0
for r in "${results[@]}"; do
    case "$r" in FAIL*) fail=1 ;; esac
done
exit $fail
