#!/bin/bash
# idle_memory.sh - what an idle connection costs in memory: N connections held
# open and silent through one ddlproxy endpoint relay and through haproxy
# (TCP mode, one thread), then M authenticated idle MySQL sessions through
# ddlproxy's MySQL leg and through haproxy in front of the same MariaDB.
#
#   bench/idle_memory.sh [--conns N] [--mysql-conns M] [--settle S]
#
# The relay leg's upstream is a small asyncio server that accepts and never
# says a word. Connections are opened in batches; a batch counts as done when
# the upstream has accepted every one of them (so the relay has both legs of
# each). The resident set (VmRSS) of each relay process is read before the
# first connection, once all N are open and have sat idle --settle seconds,
# and after they are closed. Printed: RSS before/with/after, bytes per
# connection ((with - before) / N) and the ratio ddlproxy/haproxy. Target:
# no more memory per idle connection than haproxy. Kernel socket buffers are
# not in either process's RSS and are the same for both.
#
# N defaults to 10000 but is capped by the open-files limit: a relay needs two
# descriptors per connection (the script raises the soft limit to the hard
# one). --mysql-conns 0 skips the MySQL leg (default 1000: MariaDB runs a
# thread per connection). Find ddlproxy as the tests do: run from the build
# directory, or set DDLPROXY_BUILDDIR or DDLPROXY_BIN. With BENCH_SUMMARY=FILE
# it appends `name|metric|ddlproxy|baseline_name|baseline|ratio` lines.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${DDLPROXY_BUILDDIR:-}" ] && [ -z "${DDLPROXY_BIN:-}" ] && [ -x ./ddlproxy ]; then
    export DDLPROXY_BUILDDIR=$PWD
fi
for tool in haproxy mariadbd; do
    command -v "$tool" >/dev/null || { echo "idle_memory.sh: $tool is not installed" >&2; exit 1; }
done
# Relays and the holder inherit this; a non-root user may be capped lower.
ulimit -n "$(ulimit -Hn)"
export BENCH_HARNESS_DIR="$here/../tests/integration"
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.environ['BENCH_HARNESS_DIR'])
import harness  # noqa: E402

ap = argparse.ArgumentParser(prog='idle_memory.sh')
ap.add_argument('--conns', type=int, default=10000, help='idle relay connections')
ap.add_argument('--mysql-conns', type=int, default=1000, help='idle MySQL sessions (0: skip)')
ap.add_argument('--settle', type=float, default=2.0, help='seconds idle before measuring')
ap.add_argument('--batch', type=int, default=250, help='connections opened per batch')
opts = ap.parse_args()
if opts.conns < 1 or opts.mysql_conns < 0 or opts.batch < 1:
    ap.error('--conns and --batch must be positive, --mysql-conns zero or more')

# Spare descriptors a relay needs beyond two per connection: listeners, logs,
# admin socket, epoll, pipes.
FD_SPARE = 200
fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
max_conns = (fd_limit - FD_SPARE) // 2
if opts.conns > max_conns:
    print('note: open-files limit %d allows %d connections per relay (two descriptors each); '
          'using --conns %d' % (fd_limit, max_conns, max_conns), flush=True)
    opts.conns = max_conns
if opts.mysql_conns > max_conns:
    opts.mysql_conns = max_conns

# The upstream of the relay leg: accepts, reads and drops whatever comes, never
# writes. It reports the number of open connections in a file so the
# benchmark knows when the relay has connected every upstream leg.
HOLDER = r'''
import asyncio, os, sys
status_path = sys.argv[1]
open_conns = 0
class Silent(asyncio.Protocol):
    def connection_made(self, transport):
        global open_conns
        open_conns += 1
    def data_received(self, data):
        pass
    def connection_lost(self, exc):
        global open_conns
        open_conns -= 1
async def report():
    last = None
    while True:
        if open_conns != last:
            tmp = status_path + '.tmp'
            with open(tmp, 'w') as f:
                f.write('%d\n' % open_conns)
            os.replace(tmp, status_path)
            last = open_conns
        await asyncio.sleep(0.02)
async def main():
    server = await asyncio.get_running_loop().create_server(
        Silent, '127.0.0.1', 0, backlog=4096)
    print('127.0.0.1:%d' % server.sockets[0].getsockname()[1], flush=True)
    await report()
asyncio.run(main())
'''


class Process(harness._Fixture):
    """A background process started for the benchmark, stopped at the end."""

    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + '.log')
        self.proc = harness._spawn(argv, self.log_path)
        harness._register(self)

    @property
    def pid(self):
        return self.proc.pid

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


def rss_bytes(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise harness.HarnessError('no VmRSS for pid %d' % pid)


def haproxy(workdir, name, upstream, maxconn):
    port = harness.free_port()
    cfg = os.path.join(workdir, name + '.cfg')
    with open(cfg, 'w') as f:
        f.write('global\n    maxconn %d\n    nbthread 1\n\ndefaults\n    mode tcp\n'
                '    timeout connect 5s\n    timeout client 1h\n    timeout server 1h\n\n'
                'listen idle\n    bind 127.0.0.1:%d\n    server up %s\n'
                % (maxconn, port, upstream))
    p = Process(name, ['haproxy', '-f', cfg, '-db'], workdir)
    harness.wait_for(lambda: harness._listening(int(port)) or not p.alive(), 10, 'haproxy to listen')
    if not p.alive():
        raise harness.HarnessError('haproxy exited: %s' % harness._tail(p.log_path))
    return p, '127.0.0.1:%d' % port


def holder_count(status_path):
    try:
        with open(status_path) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 0


def hold_relay_conns(relay_pid, addr, n, status_path):
    """Opens n silent connections to addr; returns them once the holder has all n."""
    host, port = addr.rsplit(':', 1)
    conns = []
    while len(conns) < n:
        for _ in range(min(opts.batch, n - len(conns))):
            conns.append(socket.create_connection((host, int(port)), timeout=10))
        want = len(conns)
        harness.wait_for(lambda: holder_count(status_path) >= want, 30,
                         '%d upstream connections (holder has %d)' % (want, holder_count(status_path)))
    return conns


def close_all_socks(conns):
    for c in conns:
        c.close()
    conns.clear()


def measure(name, pid, open_fn, close_wait):
    """RSS of pid before, with the idle connections open_fn() holds, and after."""
    before = rss_bytes(pid)
    t0 = time.monotonic()
    conns = open_fn()
    opened_s = time.monotonic() - t0
    time.sleep(opts.settle)
    with_conns = rss_bytes(pid)
    n = len(conns)
    close_all_socks(conns)
    close_wait()
    time.sleep(opts.settle)
    after = rss_bytes(pid)
    r = {'name': name, 'n': n, 'before': before, 'with': with_conns, 'after': after,
         'per_conn': (with_conns - before) / n, 'open_s': opened_s}
    print('%-22s %6d conns  RSS before %8.1f MiB  with %8.1f MiB  after close %8.1f MiB  '
          '%7.0f bytes/conn  (opened in %.1f s)' % (
              name, n, before / 2**20, with_conns / 2**20, after / 2**20, r['per_conn'], opened_s),
          flush=True)
    return r


def relay_leg(workdir):
    status = os.path.join(workdir, 'holder.count')
    holder = Process('holder', [sys.executable, '-c', HOLDER, status], workdir)
    upstream = harness.wait_for(lambda: open(holder.log_path).readline().strip(), 10,
                                'the silent upstream to start')
    port = harness.free_port()
    px = harness.Proxy('127.0.0.1:1', name='idle-ddlproxy', config={
        'proxy': {'log_level': 'warn'},
        'endpoint idle': {'group': 'bench', 'member': 'idle', 'role': 'client',
                          'listen': '127.0.0.1:%d' % port, 'upstream': upstream}})
    hap, hap_addr = haproxy(workdir, 'haproxy-relay', upstream, opts.conns + 10)

    def drained():
        harness.wait_for(lambda: holder_count(status) == 0, 30, 'upstream connections to close')
    results = {}
    for name, pid, addr in (('ddlproxy', px.pid, '127.0.0.1:%d' % port),
                            ('haproxy', hap.pid, hap_addr)):
        results[name] = measure('relay ' + name, pid,
                                lambda: hold_relay_conns(pid, addr, opts.conns, status), drained)
    if not px.alive():
        raise harness.HarnessError('ddlproxy died during the benchmark')
    px.close()
    hap.close()
    holder.close()
    return results


def mysql_leg(workdir):
    m = opts.mysql_conns
    db = harness.MariaDB(name='idle-db', args=('--max-connections=%d' % (m + 50),))
    px = harness.Proxy(db, name='idle-mysql-ddlproxy', config={
        'proxy': {'backend_tls': 'disable', 'log_level': 'warn', 'max_connections': m + 50}})
    hap, hap_addr = haproxy(workdir, 'haproxy-mysql', db.addr, m + 10)

    def connected():
        rows = db.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '%s'"
                        % db.user)
        return int(rows[0][0])

    def sessions(host, port):
        out = []
        for _ in range(m):
            out.append(harness.mysql_connect(host, port, db.user, db.password, db.db))
        harness.wait_for(lambda: connected() >= m, 30, '%d server sessions' % m)
        return out

    def drained():
        harness.wait_for(lambda: connected() == 0, 30, 'server sessions to end')
    results = {}
    hap_host, hap_port = hap_addr.rsplit(':', 1)
    for name, pid, host, port in (('ddlproxy', px.pid, px.host, px.port),
                                  ('haproxy', hap.pid, hap_host, int(hap_port))):
        results[name] = measure('mysql ' + name, pid, lambda: sessions(host, port), drained)
    if not px.alive():
        raise harness.HarnessError('ddlproxy died during the benchmark')
    px.close()
    hap.close()
    db.close()
    return results


def summary(metric, a, b):
    path = os.environ.get('BENCH_SUMMARY')
    if path:
        with open(path, 'a') as f:
            f.write('idle_memory|%s|%.0f|haproxy|%.0f|%.3f\n' % (metric, a, b, a / b if b else float('nan')))


def main():
    workdir = harness.tempfile.mkdtemp(prefix='ddlp-bench-idle-', dir='/tmp')
    legs = [('relay', opts.conns, relay_leg(workdir))]
    if opts.mysql_conns:
        legs.append(('mysql', opts.mysql_conns, mysql_leg(workdir)))
    print('\nidle connections, %.1f s settled; RSS = VmRSS of the relay process, MiB' % opts.settle)
    print('| leg   |  conns | target   | RSS before | RSS with conns | RSS after close | bytes/conn |')
    print('|-------|-------:|----------|-----------:|---------------:|----------------:|-----------:|')
    for leg, n, res in legs:
        for name in ('ddlproxy', 'haproxy'):
            r = res[name]
            print('| %-5s | %6d | %-8s | %10.1f | %14.1f | %15.1f | %10.0f |' % (
                leg, r['n'], name, r['before'] / 2**20, r['with'] / 2**20, r['after'] / 2**20,
                r['per_conn']))
    print('\n| leg   | bytes/conn ddlproxy/haproxy |')
    print('|-------|----:|')
    ok = True
    for leg, n, res in legs:
        a, b = res['ddlproxy']['per_conn'], res['haproxy']['per_conn']
        print('| %-5s | %.2f |' % (leg, a / b if b > 0 else float('nan')))
        summary('%s_bytes_per_conn_%d' % (leg, n), a, b)
        ok = ok and a <= b
    print('\ntarget: no more memory per idle connection than haproxy: %s' % ('met' if ok else 'MISSED'))
    harness.shutil.rmtree(workdir, ignore_errors=True)


try:
    main()
finally:
    for err in harness.close_all():
        print('cleanup: %s' % err, file=sys.stderr)
PY
