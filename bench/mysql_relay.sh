#!/bin/bash
# mysql_relay.sh - what the MySQL relay costs: sysbench oltp_point_select
# direct to MariaDB, through ddlproxy and through haproxy (TCP mode), on the
# same data in one run, alternating targets round by round.
#
#   bench/mysql_relay.sh [--rounds N] [--secs S] [--threads "1 8"]
#                        [--tables N] [--table-size N] [--warmup S]
#
# Prints per thread count: median QPS, median p95 latency (ms), the CPU time
# the relay process spent per query (utime+stime from /proc/PID/stat, all its
# threads), and the ratios ddlproxy/direct and ddlproxy/haproxy. It starts its
# own MariaDB, ddlproxy and haproxy on free loopback ports (the fixtures of
# tests/integration/harness.py) and stops them at the end. Find the binary as
# the tests do: run it from the build directory, or set DDLPROXY_BUILDDIR or
# DDLPROXY_BIN. haproxy runs with one thread, like ddlproxy's data path.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${DDLPROXY_BUILDDIR:-}" ] && [ -z "${DDLPROXY_BIN:-}" ] && [ -x ./ddlproxy ]; then
    export DDLPROXY_BUILDDIR=$PWD
fi
for tool in sysbench haproxy mariadbd; do
    command -v "$tool" >/dev/null || { echo "mysql_relay.sh: $tool is not installed" >&2; exit 1; }
done
export BENCH_HARNESS_DIR="$here/../tests/integration"
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.environ['BENCH_HARNESS_DIR'])
import harness  # noqa: E402

ap = argparse.ArgumentParser(prog='mysql_relay.sh')
ap.add_argument('--rounds', type=int, default=3)
ap.add_argument('--secs', type=int, default=10)
ap.add_argument('--threads', default='1 8')
ap.add_argument('--tables', type=int, default=4)
ap.add_argument('--table-size', type=int, default=10000)
ap.add_argument('--warmup', type=int, default=5)
opts = ap.parse_args()
thread_counts = [int(t) for t in opts.threads.split()]
TICK = os.sysconf('SC_CLK_TCK')


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK       # utime, stime


class HAProxy(harness._Fixture):
    def __init__(self, backend):
        self.name = 'haproxy'
        self.host, self._port = '127.0.0.1', harness.free_port()
        self.port = int(self._port)
        self.user, self.password, self.db = backend.user, backend.password, backend.db
        self.dir = backend.dir
        cfg = os.path.join(self.dir, 'haproxy.cfg')
        with open(cfg, 'w') as f:
            f.write('global\n    maxconn 4096\n    nbthread 1\n\n'
                    'defaults\n    mode tcp\n    timeout connect 5s\n'
                    '    timeout client 1h\n    timeout server 1h\n\n'
                    'listen mysql\n    bind %s:%d\n    server db %s\n'
                    % (self.host, self.port, backend.addr))
        log = open(os.path.join(self.dir, 'haproxy.log'), 'ab')
        self.proc = subprocess.Popen(['haproxy', '-f', cfg, '-db'], stdout=log, stderr=log,
                                     preexec_fn=harness._die_with_parent)
        log.close()
        harness._register(self)
        harness.wait_for(lambda: harness._listening(self.port) or self.proc.poll() is not None,
                         10, 'haproxy to listen')
        if self.proc.poll() is not None:
            raise harness.HarnessError('haproxy exited: ' + harness._tail(os.path.join(self.dir, 'haproxy.log')))

    @property
    def pid(self):
        return self.proc.pid

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self._port.release()
        harness._unregister(self)


def main():
    db = harness.MariaDB(name='bench-db')
    px = harness.Proxy(db, name='bench-ddlproxy',
                       config={'proxy': {'backend_tls': 'disable', 'log_level': 'warn'}})
    hap = HAProxy(db)
    sb_opts = ['--tables=%d' % opts.tables, '--table-size=%d' % opts.table_size]
    print('preparing %d tables x %d rows ...' % (opts.tables, opts.table_size), flush=True)
    harness.sysbench(db, 'oltp_point_select', 'prepare', threads=min(4, opts.tables), args=sb_opts)
    targets = [('direct', db, None), ('ddlproxy', px, px), ('haproxy', hap, hap)]
    for name, target, _ in targets:
        harness.sysbench(target, 'oltp_point_select', threads=max(thread_counts),
                         time_s=opts.warmup, args=sb_opts)
    results = {(t, name): [] for t in thread_counts for name, _, _ in targets}
    for rnd in range(opts.rounds):
        for threads in thread_counts:
            order = targets if rnd % 2 == 0 else list(reversed(targets))
            for name, target, relay in order:
                cpu0 = cpu_seconds(relay.pid) if relay else 0.0
                r = harness.sysbench(target, 'oltp_point_select', threads=threads,
                                     time_s=opts.secs, args=sb_opts)
                cpu = cpu_seconds(relay.pid) - cpu0 if relay else None
                if r.get('ignored_errors') or r.get('reconnects'):
                    print('warning: %s had %s errors, %s reconnects' % (
                        name, r.get('ignored_errors'), r.get('reconnects')), flush=True)
                results[(threads, name)].append(
                    (r['qps'], r['latency_p95_ms'], cpu * 1e6 / r['queries'] if cpu is not None else None))
                print('round %d  %2d threads  %-9s %10.0f qps  p95 %6.2f ms%s' % (
                    rnd + 1, threads, name, r['qps'], r['latency_p95_ms'],
                    '  %.1f us cpu/query' % results[(threads, name)][-1][2] if cpu is not None else ''),
                    flush=True)
    if not px.alive():
        raise harness.HarnessError('ddlproxy died during the benchmark')

    def med(threads, name, i):
        values = [x[i] for x in results[(threads, name)] if x[i] is not None]
        return statistics.median(values) if values else None

    print('\nmedians of %d rounds x %d s, oltp_point_select, %d tables x %d rows'
          % (opts.rounds, opts.secs, opts.tables, opts.table_size))
    print('| threads | target   |     QPS | p95 ms | relay CPU us/query |')
    print('|--------:|----------|--------:|-------:|-------------------:|')
    for threads in thread_counts:
        for name, _, relay in targets:
            cpu = med(threads, name, 2)
            print('| %7d | %-8s | %7.0f | %6.2f | %18s |' % (
                threads, name, med(threads, name, 0), med(threads, name, 1),
                '%.1f' % cpu if cpu is not None else '-'))
    print('\n| threads | QPS ddlproxy/direct | p95 ddlproxy/direct | QPS ddlproxy/haproxy | '
          'p95 ddlproxy/haproxy | CPU/query ddlproxy/haproxy |')
    print('|--------:|----:|----:|----:|----:|----:|')
    for threads in thread_counts:
        q = {n: med(threads, n, 0) for n, _, _ in targets}
        p = {n: med(threads, n, 1) for n, _, _ in targets}
        c = {n: med(threads, n, 2) for n, _, _ in targets}
        print('| %7d | %.2f | %.2f | %.2f | %.2f | %.2f |' % (
            threads, q['ddlproxy'] / q['direct'], p['ddlproxy'] / p['direct'],
            q['ddlproxy'] / q['haproxy'], p['ddlproxy'] / p['haproxy'],
            c['ddlproxy'] / c['haproxy'] if c['haproxy'] else float('nan')))
    # BENCH_SUMMARY=FILE (bench/run-all.sh): name|metric|ddlproxy|baseline_name|baseline|ratio
    if os.environ.get('BENCH_SUMMARY'):
        with open(os.environ['BENCH_SUMMARY'], 'a') as f:
            for threads in thread_counts:
                for metric, i, bases in (('qps', 0, ('direct', 'haproxy')), ('p95_ms', 1, ('direct', 'haproxy')),
                                         ('cpu_us_per_query', 2, ('haproxy',))):
                    for base in bases:
                        a, b = med(threads, 'ddlproxy', i), med(threads, base, i)
                        f.write('mysql_relay|%s_%dthreads|%.2f|%s|%.2f|%.3f\n' % (
                            metric, threads, a, base, b, a / b if b else float('nan')))


try:
    main()
finally:
    for err in harness.close_all():
        print('cleanup: %s' % err, file=sys.stderr)
PY
