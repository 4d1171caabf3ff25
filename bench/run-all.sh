#!/bin/bash
# run-all.sh - runs every benchmark of bench/ once and writes one table of
# ddlproxy against the baselines measured in the same run, with the targets
# of the issues marked met or missed.
#
#   bench/run-all.sh [--quick] [--only "mysql_relay fault_relay idle_memory ddl_tracking"]
#                    [--output FILE] [--wait-load L]
#
# --quick        short runs (1 round, a few seconds each) to check the set-up;
#                the figures are not worth committing.
# --only LIST    run just these benchmarks (names as above).
# --output FILE  where to write the report (default bench/RESULTS.md).
# --wait-load L  first wait (up to 10 minutes) for the 1-minute load average
#                to fall to L or below; benchmarks on a busy machine measure
#                the scheduler.
#
# Each benchmark script appends `name|metric|ddlproxy|baseline_name|baseline|ratio`
# lines to $BENCH_SUMMARY; this script turns them into the table. The full
# output of each script goes to the report too (without per-round lines) and
# to bench-logs/ in the current directory. Find ddlproxy as the tests do: run
# from the build directory, or set DDLPROXY_BUILDDIR or DDLPROXY_BIN.
# Exit status: 0 when every benchmark ran (targets may still be missed), 1
# when one failed to produce figures, 2 on bad usage.
set -u
here=$(cd "$(dirname "$0")" && pwd)
all_benches="mysql_relay fault_relay idle_memory ddl_tracking"
benches=$all_benches
output=$here/RESULTS.md
quick=0
wait_load=

usage() {
    sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//' >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --only) [ $# -ge 2 ] || usage; benches=$2; shift ;;
        --output) [ $# -ge 2 ] || usage; output=$2; shift ;;
        --wait-load) [ $# -ge 2 ] || usage; wait_load=$2; shift ;;
        -h|--help) usage ;;
        *) echo "run-all.sh: unknown option '$1'" >&2; usage ;;
    esac
    shift
done
for b in $benches; do
    case " $all_benches " in
        *" $b "*) ;;
        *) echo "run-all.sh: unknown benchmark '$b' (known: $all_benches)" >&2; exit 2 ;;
    esac
done
if [ -n "$wait_load" ] && ! [[ $wait_load =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "run-all.sh: --wait-load wants a number, not '$wait_load'" >&2
    exit 2
fi

# The binary, found as the benchmark scripts and the tests find it.
if [ -n "${DDLPROXY_BIN:-}" ]; then
    bin=$DDLPROXY_BIN
elif [ -n "${DDLPROXY_BUILDDIR:-}" ]; then
    bin=$DDLPROXY_BUILDDIR/ddlproxy
elif [ -x ./ddlproxy ]; then
    export DDLPROXY_BUILDDIR=$PWD
    bin=$PWD/ddlproxy
else
    export DDLPROXY_BUILDDIR=$here/..
    bin=$here/../ddlproxy
fi
if [ ! -x "$bin" ]; then
    echo "run-all.sh: no ddlproxy binary at $bin: run from the build directory or set DDLPROXY_BUILDDIR or DDLPROXY_BIN" >&2
    exit 2
fi

if [ -n "$wait_load" ]; then
    for _ in $(seq 60); do
        awk -v max="$wait_load" '{ exit !($1 <= max) }' /proc/loadavg && break
        echo "run-all.sh: load average $(cut -d' ' -f1-3 /proc/loadavg), waiting for <= $wait_load ..." >&2
        sleep 10
    done
fi

logdir=$PWD/bench-logs
mkdir -p "$logdir"
summary=$(mktemp /tmp/ddlp-bench-summary.XXXXXX)
meta=$(mktemp /tmp/ddlp-bench-meta.XXXXXX)
trap 'rm -f "$summary" "$meta"' EXIT

# first_line CMD...: the first line a version command prints, or "not installed".
first_line() {
    command -v "$1" >/dev/null 2>&1 || { echo "not installed"; return; }
    "$@" 2>&1 | head -n 1
}
builddir=$(dirname "$bin")
{
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host_cpus=$(nproc)"
    echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    echo "mem_total=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "ddlproxy=$("$bin" --version 2>&1 | head -n 1)"
    echo "ddlproxy_bin=$bin"
    echo "commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$here" diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    if [ -f "$builddir/Makefile" ]; then
        echo "cc=$(sed -n 's/^CC = //p' "$builddir/Makefile") $(sed -n 's/^CFLAGS = //p' "$builddir/Makefile")"
    fi
    echo "compiler=$(first_line "${CC:-gcc}" --version)"
    echo "haproxy=$(first_line haproxy -v)"
    echo "socat=$(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p' | head -n 1)"
    echo "mariadb=$(first_line mariadbd --version)"
    echo "sysbench=$(first_line sysbench --version)"
    echo "go=$(first_line go version)"
    echo "toxiproxy=$(sed -n 's/^require github.com\/Shopify\/toxiproxy\/v2 /Toxiproxy /p; s/^[[:space:]]*github.com\/Shopify\/toxiproxy\/v2 \(v[^ ]*\).*/Toxiproxy \1/p' "$here/toxiproxy/go.mod" | head -n 1)"
} > "$meta"

failed=0
for b in $benches; do
    case $b in
        mysql_relay)  args=(); [ $quick = 1 ] && args=(--rounds 1 --secs 3 --warmup 1) ;;
        fault_relay)  args=(); [ $quick = 1 ] && args=(--rounds 1 --secs 1 --pings 1000 --delay-pings 100) ;;
        idle_memory)  args=(); [ $quick = 1 ] && args=(--conns 1000 --mysql-conns 100 --settle 1) ;;
        ddl_tracking) args=(); [ $quick = 1 ] && args=(--counts "1 10" --window 1) ;;
    esac
    echo "=== $b ${args[*]}" >&2
    start=$(date +%s)
    load_start=$(cut -d' ' -f1 /proc/loadavg)
    rows_before=$(wc -l < "$summary")
    BENCH_SUMMARY=$summary timeout 3600 "$here/$b.sh" "${args[@]}" 2>&1 | tee "$logdir/$b.log"
    status=${PIPESTATUS[0]}
    rows=$(( $(wc -l < "$summary") - rows_before ))
    echo "bench_${b}=exit status $status, $(( $(date +%s) - start )) s, load average $load_start at its start, ${args[*]:-default options}" >> "$meta"
    if [ "$rows" -eq 0 ]; then
        echo "run-all.sh: $b produced no figures (exit status $status): see $logdir/$b.log" >&2
        failed=1
    fi
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$meta"

/usr/bin/python3 - "$summary" "$meta" "$logdir" "$output" "$quick" "$benches" <<'PY'
import os
import re
import sys

summary_path, meta_path, logdir, output, quick, benches = sys.argv[1:]
meta = {}
with open(meta_path) as f:
    for line in f:
        key, _, value = line.rstrip('\n').partition('=')
        meta[key] = value

# The targets of the issues: (benchmark, metric pattern, baseline, wording, test(value, base, ratio)).
TARGETS = [
    ('mysql_relay', r'qps_(1|8)threads', 'haproxy', '>= 1.0x haproxy', lambda v, b, r: r >= 1.0),
    ('mysql_relay', r'cpu_us_per_query_(1|8)threads', 'haproxy', '<= haproxy', lambda v, b, r: r <= 1.0),
    ('fault_relay', r'mib_s_.*', 'haproxy', '>= 1.0x haproxy', lambda v, b, r: r >= 1.0),
    ('fault_relay', r'mib_s_.*', 'socat', '>= 2.0x socat', lambda v, b, r: r >= 2.0),
    ('fault_relay', r'delay50_added_p99_ms', None, '50 ms +-0.5 ms', lambda v, b, r: abs(v - 50.0) <= 0.5),
    ('idle_memory', r'.*_bytes_per_conn_.*', 'haproxy', '<= haproxy', lambda v, b, r: r <= 1.0),
    ('ddl_tracking', r'queries_per_poll_.*', None, 'same as with 1 DDL (+-0.05)',
     lambda v, b, r: abs(v - b) < 0.05),
    ('ddl_tracking', r'detection_delay_max_ms_.*', None, '<= poll interval + 10 ms',
     lambda v, b, r: v <= b),
]


def target_of(name, metric, base):
    for t_name, pattern, t_base, wording, test in TARGETS:
        if t_name == name and re.fullmatch(pattern, metric) and t_base in (None, base):
            return wording, test
    return None, None


def num(text):
    v = float(text)
    if v != v:
        return '-'
    return '%.0f' % v if abs(v) >= 100 else '%.2f' % v


rows, met, missed = [], 0, 0
with open(summary_path) as f:
    for line in f:
        parts = line.rstrip('\n').split('|')
        if len(parts) != 6:
            continue
        name, metric, value, base, base_value, ratio = parts
        wording, test = target_of(name, metric, base)
        verdict = '-'
        if test:
            try:
                ok = test(float(value), float(base_value), float(ratio))
            except ValueError:
                ok = False
            verdict = 'met' if ok else '**missed**'
            met, missed = met + ok, missed + (not ok)
        rows.append('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            name, metric, num(value), base, num(base_value), num(ratio), wording or '-', verdict))

out = ['# Benchmark results', '',
       'Written by `bench/run-all.sh`%s on %s. Every baseline was measured in the same run, on '
       'the same machine, right before or after ddlproxy (see `bench/README.md` for what each '
       'benchmark does).' % (' --quick (short runs: not representative)' if quick == '1' else '',
                             meta.get('date', '?')),
       '', '## Machine', '',
       '- %s CPUs (%s), %s RAM, %s, %s' % (meta.get('host_cpus'), meta.get('cpu_model'),
                                           meta.get('mem_total'), meta.get('os'), meta.get('kernel')),
       '- load average (1/5/15 min) before the run: %s; after: %s. Other work shares this machine: '
       'a load above the CPU count means the figures include scheduling delays.'
       % (meta.get('load_before'), meta.get('load_after')),
       '', '## Versions', '',
       '- %s (%s), commit %s' % (meta.get('ddlproxy'), meta.get('ddlproxy_bin'), meta.get('commit')),
       '- built with: %s' % meta.get('cc', meta.get('compiler')),
       '- %s; %s; %s' % (meta.get('haproxy'), meta.get('socat'), meta.get('toxiproxy')),
       '- %s; %s; %s' % (meta.get('mariadb'), meta.get('sysbench'), meta.get('go')),
       '', '## Runs', '']
for b in benches.split():
    out.append('- %s: %s' % (b, meta.get('bench_' + b, 'not run')))
out += ['', '## ddlproxy against the baselines', '',
        '%d targets met, %d missed. ratio = ddlproxy / baseline (for latency, CPU and memory '
        'lower is better). Rows without a target are for information.' % (met, missed), '',
        '| benchmark | metric | ddlproxy | baseline | baseline value | ratio | target | result |',
        '|-----------|--------|---------:|----------|---------------:|------:|--------|--------|']
out += rows
out += ['', 'Metrics: `qps_N threads`, `p95_ms_N threads`: sysbench oltp_point_select; '
        '`cpu_us_per_query`: relay CPU time per query; `mib_s_*`: bulk throughput the sink '
        'received; `ping_p*_us`: 64-byte round trip; `cpu_s_per_gib`: relay CPU per GiB moved; '
        '`delay50_added_*`: what `delay ms=50 direction=down` adds to a round trip (baseline: '
        "Toxiproxy's 50 ms latency toxic); `*_bytes_per_conn_N`: RSS growth per idle connection "
        'with N open; `queries_per_poll_N ddls`: tracker queries per poll with N active DDLs '
        '(baseline: 1 DDL); `detection_delay_max_ms`: lock release to the first non-queueing '
        'transition, worst DDL (baseline: the target).', '',
        '## Full output', '']
for b in benches.split():
    path = os.path.join(logdir, b + '.log')
    try:
        with open(path) as f:
            lines = [ln.rstrip('\n') for ln in f
                     if not ln.startswith(('round ', 'building ', '=== '))]
    except OSError as e:
        lines = ['(no log: %s)' % e]
    out += ['### %s' % b, '', '```', *lines, '```', '']
tmp = output + '.tmp'
with open(tmp, 'w') as f:
    f.write('\n'.join(out).rstrip('\n') + '\n')
os.replace(tmp, output)
print('%s: %d targets met, %d missed' % (output, met, missed))
PY
status=$?
[ $status -eq 0 ] || { echo "run-all.sh: could not write $output" >&2; exit 1; }
exit $failed
