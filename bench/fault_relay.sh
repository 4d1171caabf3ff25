#!/bin/bash
# fault_relay.sh - what ddlproxy's endpoint relay costs with no fault, next to
# haproxy (TCP mode), socat and Toxiproxy on the same path, and how exact its
# `delay` is.
#
#   bench/fault_relay.sh [--rounds N] [--secs S] [--pings N] [--delay-pings N]
#                        [--no-toxiproxy]
#
# A local sink (reads and discards, then reports the byte count) and echo
# server (bench/relayload, Go) sit behind: nothing (direct), one ddlproxy
# endpoint, haproxy (one thread), socat (fork per connection) and Toxiproxy
# (bench/toxiproxy, the version pinned in its go.mod). Per target, alternating
# the order each round: bulk throughput with 1 and 16 connections (bytes the
# sink really received per second) and the p50/p99 round trip of a 64-byte
# ping-pong; the medians of the rounds are printed with the ratios
# ddlproxy/haproxy and ddlproxy/socat. Then `delay ms=50 direction=down` on
# the echo endpoint: p50/p99 of the delay it adds to a round trip (round trip
# minus the no-fault p50), and the same for Toxiproxy's latency toxic.
#
# The Go programs are built on first use into ${DDLPROXY_CACHE:-~/.cache/ddlproxy}/bin
# (needs `go` and, for Toxiproxy, the Go module proxy; without them Toxiproxy is
# skipped). Find ddlproxy as the tests do: run from the build directory, or
# set DDLPROXY_BUILDDIR or DDLPROXY_BIN.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${DDLPROXY_BUILDDIR:-}" ] && [ -z "${DDLPROXY_BIN:-}" ] && [ -x ./ddlproxy ]; then
    export DDLPROXY_BUILDDIR=$PWD
fi
cache=${DDLPROXY_CACHE:-$HOME/.cache/ddlproxy}
mkdir -p "$cache/bin"
for tool in haproxy socat go; do
    command -v "$tool" >/dev/null || { echo "fault_relay.sh: $tool is not installed" >&2; exit 1; }
done

# go_build DIR BINARY: (re)builds when a source file is newer than the binary.
go_build() {
    local src=$here/$1 bin=$cache/bin/$2
    if [ ! -x "$bin" ] || [ -n "$(find "$src" -newer "$bin" -type f)" ]; then
        echo "building $2 (go build in $src) ..." >&2
        (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin" .) || return 1
    fi
}
go_build relayload relayload || { echo "fault_relay.sh: cannot build bench/relayload" >&2; exit 1; }
export BENCH_RELAYLOAD=$cache/bin/relayload
export BENCH_TOXIPROXY=
case " $* " in
    *" --no-toxiproxy "*) ;;
    *)  if go_build toxiproxy toxiproxy-bench; then
            export BENCH_TOXIPROXY=$cache/bin/toxiproxy-bench
        else
            echo "fault_relay.sh: Toxiproxy could not be built (Go module proxy unreachable?): skipped" >&2
        fi ;;
esac
export BENCH_HARNESS_DIR="$here/../tests/integration"
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.environ['BENCH_HARNESS_DIR'])
import harness  # noqa: E402

ap = argparse.ArgumentParser(prog='fault_relay.sh')
ap.add_argument('--rounds', type=int, default=3)
ap.add_argument('--secs', type=float, default=3.0, help='seconds per bulk run')
ap.add_argument('--pings', type=int, default=5000, help='64-byte round trips per latency run')
ap.add_argument('--delay-pings', type=int, default=200, help='round trips under the 50 ms delay')
ap.add_argument('--no-toxiproxy', action='store_true')
opts = ap.parse_args()
RELAYLOAD = os.environ['BENCH_RELAYLOAD']
TOXIPROXY = None if opts.no_toxiproxy else (os.environ.get('BENCH_TOXIPROXY') or None)
TICK = os.sysconf('SC_CLK_TCK')


class Process(harness._Fixture):
    """A background process started for the benchmark, stopped at the end."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + '.log')
        self.proc = harness._spawn(argv, self.log_path)
        harness._register(self)

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        harness._unregister(self)


def server(mode, workdir):
    """relayload sink/echo on a kernel-chosen port; returns (process, 'host:port')."""
    p = Process('relayload-' + mode, [RELAYLOAD, mode, '-listen', '127.0.0.1:0'], workdir)
    addr = harness.wait_for(lambda: open(p.log_path).readline().strip(), 10, mode + ' to start')
    return p, addr


def wait_listening(port, proc, what):
    harness.wait_for(lambda: harness._listening(port) or not proc.alive(), 10, what + ' to listen')
    if not proc.alive():
        raise harness.HarnessError('%s exited: %s' % (what, harness._tail(proc.log_path)))


def cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def run_load(*args):
    res = subprocess.run([RELAYLOAD] + [str(a) for a in args], capture_output=True, text=True,
                         timeout=600)
    if res.returncode != 0:
        raise harness.HarnessError('relayload %s: %s' % (' '.join(map(str, args)), res.stderr.strip()))
    return json.loads(res.stdout)


def toxiproxy_api(api, method, path, body):
    req = urllib.request.Request('http://%s%s' % (api, path), data=json.dumps(body).encode(),
                                 method=method, headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b'{}')


def pct(values, p):
    s = sorted(values)
    return s[int(p * (len(s) - 1) + 0.5)]


def main():
    px_dir_ports = [harness.free_port() for _ in range(2)]
    workdir = harness.tempfile.mkdtemp(prefix='ddlp-bench-relay-', dir='/tmp')
    sink_proc, sink = server('sink', workdir)
    echo_proc, echo = server('echo', workdir)

    # ddlproxy: one endpoint per server; log at warn so logging costs nothing.
    sections = {'proxy': {'log_level': 'warn'}}
    for (name, upstream), port in zip((('sink', sink), ('echo', echo)), px_dir_ports):
        sections['endpoint ' + name] = {'group': 'bench', 'member': name, 'role': 'client',
                                        'listen': '127.0.0.1:%d' % port, 'upstream': upstream}
    px = harness.Proxy('127.0.0.1:1', name='bench-ddlproxy', config=sections)
    targets = {'direct': (sink, echo, None),
               'ddlproxy': ('127.0.0.1:%d' % px_dir_ports[0], '127.0.0.1:%d' % px_dir_ports[1], px)}

    hp = [harness.free_port() for _ in range(2)]
    cfg = os.path.join(workdir, 'haproxy.cfg')
    with open(cfg, 'w') as f:
        f.write('global\n    maxconn 4096\n    nbthread 1\n\ndefaults\n    mode tcp\n'
                '    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\n\n'
                'listen sink\n    bind 127.0.0.1:%d\n    server s %s\n\n'
                'listen echo\n    bind 127.0.0.1:%d\n    server e %s\n' % (hp[0], sink, hp[1], echo))
    hap = Process('haproxy', ['haproxy', '-f', cfg, '-db'], workdir)
    for p in hp:
        wait_listening(int(p), hap, 'haproxy')
    targets['haproxy'] = ('127.0.0.1:%d' % hp[0], '127.0.0.1:%d' % hp[1], hap.proc)

    sp = [harness.free_port() for _ in range(2)]
    socats = []
    for port, upstream in zip(sp, (sink, echo)):
        s = Process('socat-%d' % port, ['socat', 'TCP-LISTEN:%d,bind=127.0.0.1,fork,reuseaddr,backlog=256' % port,
                                        'TCP:%s,nodelay' % upstream], workdir)
        wait_listening(int(port), s, 'socat')
        socats.append(s)
    targets['socat'] = ('127.0.0.1:%d' % sp[0], '127.0.0.1:%d' % sp[1], None)

    tox_api = None
    if TOXIPROXY:
        api_port, tp = harness.free_port(), [harness.free_port() for _ in range(2)]
        tox = Process('toxiproxy', [TOXIPROXY, '-host', '127.0.0.1', '-port', str(int(api_port))],
                      workdir)
        wait_listening(int(api_port), tox, 'toxiproxy')
        tox_api = '127.0.0.1:%d' % api_port
        for name, port, upstream in (('sink', tp[0], sink), ('echo', tp[1], echo)):
            toxiproxy_api(tox_api, 'POST', '/proxies', {
                'name': name, 'listen': '127.0.0.1:%d' % port, 'upstream': upstream, 'enabled': True})
        targets['toxiproxy'] = ('127.0.0.1:%d' % tp[0], '127.0.0.1:%d' % tp[1], tox.proc)

    names = list(targets)
    results = {n: {'bulk1': [], 'bulk16': [], 'p50': [], 'p99': [], 'cpu_per_gib': []} for n in names}
    for name in names:                  # warm-up: connections, page cache, Go runtime
        run_load('bulk', '-addr', targets[name][0], '-conns', 4, '-secs', 0.5)
        run_load('ping', '-addr', targets[name][1], '-count', 200)
    for rnd in range(opts.rounds):
        order = names if rnd % 2 == 0 else list(reversed(names))
        for name in order:
            sink_addr, echo_addr, relay = targets[name]
            row = results[name]
            pid = relay.pid if relay is not None else None
            cpu0 = cpu_seconds(pid) if pid else 0
            b1 = run_load('bulk', '-addr', sink_addr, '-conns', 1, '-secs', opts.secs)
            b16 = run_load('bulk', '-addr', sink_addr, '-conns', 16, '-secs', opts.secs)
            if pid:
                row['cpu_per_gib'].append((cpu_seconds(pid) - cpu0) /
                                          ((b1['bytes'] + b16['bytes']) / (1 << 30)))
            pp = run_load('ping', '-addr', echo_addr, '-count', opts.pings, '-size', 64)
            row['bulk1'].append(b1['mib_per_s'])
            row['bulk16'].append(b16['mib_per_s'])
            row['p50'].append(pp['p50_us'])
            row['p99'].append(pp['p99_us'])
            print('round %d  %-9s  1 conn %8.0f MiB/s  16 conns %8.0f MiB/s  ping p50 %6.1f us  '
                  'p99 %6.1f us' % (rnd + 1, name, b1['mib_per_s'], b16['mib_per_s'],
                                    pp['p50_us'], pp['p99_us']), flush=True)
    if not px.alive():
        raise harness.HarnessError('ddlproxy died during the benchmark')

    med = {n: {k: (statistics.median(v) if v else None) for k, v in results[n].items()}
           for n in names}
    print('\nmedians of %d rounds: bulk %.0f s per run (MiB/s the sink received), '
          '%d x 64-byte ping-pong' % (opts.rounds, opts.secs, opts.pings))
    print('| target    | 1 conn MiB/s | 16 conns MiB/s | ping p50 us | ping p99 us | relay CPU s/GiB |')
    print('|-----------|-------------:|---------------:|------------:|------------:|----------------:|')
    for n in names:
        m = med[n]
        print('| %-9s | %12.0f | %14.0f | %11.1f | %11.1f | %15s |' % (
            n, m['bulk1'], m['bulk16'], m['p50'], m['p99'],
            '%.2f' % m['cpu_per_gib'] if m['cpu_per_gib'] is not None else '-'))
    print('\n| ddlproxy vs | 1 conn | 16 conns | ping p50 (lower is better) | ping p99 |')
    print('|-------------|-------:|---------:|-----:|-----:|')
    for other in [n for n in ('haproxy', 'socat', 'toxiproxy') if n in med]:
        a, b = med['ddlproxy'], med[other]
        print('| /%-10s | %5.2fx | %7.2fx | %4.2fx | %4.2fx |' % (
            other, a['bulk1'] / b['bulk1'], a['bulk16'] / b['bulk16'], a['p50'] / b['p50'],
            a['p99'] / b['p99']))

    # Accuracy of the delay: 50 ms on the replies only, one round trip at a time.
    def added_delay(echo_addr, base_p50):
        r = run_load('ping', '-addr', echo_addr, '-count', opts.delay_pings, '-size', 64)
        added = [(x - base_p50) / 1000.0 for x in r['rtt_us']]
        return pct(added, 0.5), pct(added, 0.99), min(added), max(added)

    print('\nadded delay of a 50 ms downstream delay, %d round trips of 64 bytes '
          '(round trip minus the no-fault p50), ms:' % opts.delay_pings)
    print('| relay     |    p50 |    p99 |    min |    max |')
    print('|-----------|-------:|-------:|-------:|-------:|')
    reply = px.ctl('fault', 'add', 'echo', 'delay', 'ms=50', 'direction=down')
    if not reply.get('ok'):
        raise harness.HarnessError('fault add: %s' % reply)
    d = added_delay(targets['ddlproxy'][1], med['ddlproxy']['p50'])
    print('| ddlproxy  | %6.3f | %6.3f | %6.3f | %6.3f |' % d)
    px.ctl('fault', 'clear')
    if tox_api:
        toxiproxy_api(tox_api, 'POST', '/proxies/echo/toxics', {
            'name': 'lat', 'type': 'latency', 'stream': 'downstream', 'toxicity': 1.0,
            'attributes': {'latency': 50, 'jitter': 0}})
        t = added_delay(targets['toxiproxy'][1], med['toxiproxy']['p50'])
        print('| toxiproxy | %6.3f | %6.3f | %6.3f | %6.3f |' % t)
    # BENCH_SUMMARY=FILE (bench/run-all.sh): name|metric|ddlproxy|baseline_name|baseline|ratio
    if os.environ.get('BENCH_SUMMARY'):
        with open(os.environ['BENCH_SUMMARY'], 'a') as f:
            def line(metric, a, base, b):
                f.write('fault_relay|%s|%.3f|%s|%.3f|%.3f\n' % (metric, a, base, b, a / b if b else float('nan')))
            for other in [n for n in ('direct', 'haproxy', 'socat', 'toxiproxy') if n in med]:
                for key, metric in (('bulk1', 'mib_s_1conn'), ('bulk16', 'mib_s_16conns'),
                                    ('p50', 'ping_p50_us'), ('p99', 'ping_p99_us'),
                                    ('cpu_per_gib', 'cpu_s_per_gib')):
                    if med[other][key] is not None:
                        line(metric, med['ddlproxy'][key], other, med[other][key])
            for i, metric in ((0, 'delay50_added_p50_ms'), (1, 'delay50_added_p99_ms')):
                if tox_api:
                    line(metric, d[i], 'toxiproxy', t[i])
                else:
                    line(metric, d[i], 'target', 50.0)
    print('\ntargets: ddlproxy >= 1.0x haproxy and >= 2x socat throughput; added delay '
          'within +-0.5 ms of 50 ms at p99')
    ok = (med['ddlproxy']['bulk1'] >= med['haproxy']['bulk1']
          and med['ddlproxy']['bulk16'] >= med['haproxy']['bulk16']
          and med['ddlproxy']['bulk1'] >= 2 * med['socat']['bulk1']
          and med['ddlproxy']['bulk16'] >= 2 * med['socat']['bulk16']
          and abs(d[1] - 50.0) <= 0.5 and abs(d[0] - 50.0) <= 0.5)
    print('result: %s' % ('all targets met' if ok else 'some target missed'))
    harness.shutil.rmtree(workdir, ignore_errors=True)
    del sink_proc, echo_proc, socats


try:
    main()
finally:
    for err in harness.close_all():
        print('cleanup: %s' % err, file=sys.stderr)
PY
