#!/usr/bin/python3
"""test_faults_misc.py - every connection-level fault action, observed from a client.

ddlproxy relays plain TCP endpoints to small servers this test runs itself
(echo, sink, source, closer), so each action's effect is measured exactly:
refuse, reset, hang_connect, blackhole, close_after (bytes= and ms=),
bandwidth (up and down, +-10 %), slice, slow_close, stall; each one is then
removed and the endpoint must carry traffic normally again. Also: the same
connections (by ordinal) are picked by probability=0.5 in two runs with
--seed 42, bad 'fault add' input is refused with a clear error and changes
nothing, and [fault NAME] sections of the config file act on the very first
connection.

    /usr/bin/python3 tests/integration/test_faults_misc.py [NAME ...]

Needs the ddlproxy/ddlproxyctl binaries (see harness.py: run from the build
directory or set DDLPROXY_BUILDDIR). Uses only 127.0.0.1.
"""

import errno
import hashlib
import inspect
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Proxy, fault_add, fault_del, check, check_eq, check_match, find_ddlproxy,  # noqa: E402
                     free_port, run_tests, wait_for)

MIB = 1 << 20
# No MySQL backend is needed: the MySQL leg is never used by these tests.
UNUSED_BACKEND = '127.0.0.1:1'
IO_TIMEOUT = 10.0


# ---------------------------------------------------------------- upstream servers

class Upstream:
    """A threaded TCP server on 127.0.0.1 that plays one role behind the proxy.

    mode: 'echo' (writes back what it reads), 'sink' (reads and counts),
    'source' (sends `payload` then closes), 'closer' (answers the first
    read with b'bye\\n' and closes at once).
    Per accepted connection it records a dict: bytes, chunks [(t, n)], eof_at.
    """

    def __init__(self, mode, payload=b''):
        self.mode = mode
        self.payload = payload
        self.name = 'upstream-' + mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = '127.0.0.1:%d' % self.port
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rec = {'bytes': 0, 'chunks': [], 'eof_at': None, 'accepted_at': time.monotonic()}
            with self.lock:
                self.conns.append(rec)
            threading.Thread(target=self._serve, args=(c, rec), daemon=True).start()

    def _serve(self, c, rec):
        try:
            if self.mode == 'source':
                c.sendall(self.payload)
                return
            while True:
                data = c.recv(256 * 1024)
                if not data:
                    break
                rec['bytes'] += len(data)
                rec['chunks'].append((time.monotonic(), len(data)))
                if self.mode == 'echo':
                    c.sendall(data)
                elif self.mode == 'closer':
                    c.sendall(b'bye\n')
                    break
        except OSError:
            pass
        finally:
            rec['eof_at'] = time.monotonic()
            c.close()

    def accepted(self):
        with self.lock:
            return len(self.conns)

    def last(self):
        with self.lock:
            return self.conns[-1]

    def close(self):
        self.sock.close()


def connect(port, host='127.0.0.1', source=None, timeout=IO_TIMEOUT):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if source:
        s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def recv_exact(s, n):
    buf = b''
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('EOF after %d of %d bytes' % (len(buf), n))
        buf += chunk
    return buf


def echo_rtt(s, msg=b'ping'):
    t = time.monotonic()
    s.sendall(msg)
    check_eq(recv_exact(s, len(msg)), msg, 'echo reply')
    return time.monotonic() - t


def outcome(s, wait=2.0):
    """What a client sees next on s: 'data', 'eof', 'reset' or 'silent' (nothing within wait)."""
    s.settimeout(wait)
    try:
        data = s.recv(65536)
    except socket.timeout:
        return 'silent'
    except ConnectionResetError:
        return 'reset'
    except OSError as e:
        if e.errno in (errno.ECONNRESET, errno.EPIPE):
            return 'reset'
        raise
    finally:
        s.settimeout(IO_TIMEOUT)
    return 'data' if data else 'eof'


def note(text):
    """Measured figures, for the reader of the test output."""
    print('   ' + text)


def probe(port, payload=b'?', wait=2.0):
    """A new connection's fate: 'refused'/'reset' (at connect or at once after),
    'eof', 'silent', or 'data' (it was served)."""
    try:
        s = connect(port, timeout=wait)
    except ConnectionRefusedError:
        return 'refused'
    except ConnectionResetError:
        return 'reset'
    with s:
        try:
            s.sendall(payload)
        except (ConnectionResetError, BrokenPipeError):
            return 'reset'
        return outcome(s, wait)


def endpoint_stats(px, name):
    for ep in px.ctl('endpoint', 'list')['endpoints']:
        if ep['name'] == name:
            return ep
    raise AssertionError('no endpoint %s in endpoint list' % name)


def tcp_endpoints(servers):
    """Proxy config sections: one endpoint per upstream server, each its own member."""
    sections = {}
    ports = {}
    for name, server in servers.items():
        port = free_port()
        ports[name] = port
        sections['endpoint ' + name] = {'group': 'tcp', 'member': 'm-' + name, 'role': 'client',
                                        'listen': '127.0.0.1:%d' % port, 'upstream': server.addr}
    return sections, ports


# ---------------------------------------------------------------- fixtures

def setup_module():
    servers = {'echo': Upstream('echo'), 'sink': Upstream('sink'),
               'source': Upstream('source', payload=os.urandom(2 * MIB)),
               'closer': Upstream('closer')}
    sections, ports = tcp_endpoints(servers)
    px = Proxy(UNUSED_BACKEND, name='faults-misc', config=sections)
    return {'px': px, 'up': servers, 'ports': {k: int(v) for k, v in ports.items()},
            'servers': servers}


def assert_healed(px, up, ports):
    """No fault left, and every endpoint carries traffic as if none had ever been."""
    check_eq(px.ctl('fault', 'list')['faults'], [], 'fault list after healing')
    with connect(ports['echo']) as s:
        rtts = [echo_rtt(s, b'x' * 100) for _ in range(5)]
        check(statistics.median(rtts) < 0.02, 'echo round trip after healing is %.1f ms' %
              (statistics.median(rtts) * 1e3))
    before = up['sink'].accepted()
    with connect(ports['sink']) as s:
        s.sendall(b'y' * 100000)
        s.shutdown(socket.SHUT_WR)
        wait_for(lambda: up['sink'].accepted() > before and up['sink'].last()['eof_at'], 5,
                 'sink to see the whole stream and EOF')
        check_eq(up['sink'].last()['bytes'], 100000, 'bytes at the sink after healing')


# ---------------------------------------------------------------- connection faults

def test_refuse_new_connections_only(px, up, ports):
    old = connect(ports['echo'])
    echo_rtt(old)
    accepted = up['echo'].accepted()
    fid = fault_add(px, 'echo', 'refuse')
    check(probe(ports['echo']) in ('refused', 'reset'), 'a new connection under refuse was served')
    check_eq(up['echo'].accepted(), accepted, 'connections that reached the upstream')
    echo_rtt(old)           # an open connection is untouched
    check(px.ctl('fault', 'list')['faults'][0]['hits'] >= 1, 'refuse counted no hit')
    fault_del(px, fid)
    echo_rtt(old)
    old.close()
    assert_healed(px, up, ports)


def test_reset_open_and_new_connections(px, up, ports):
    old = connect(ports['echo'])
    echo_rtt(old)
    fid = fault_add(px, 'echo', 'reset')
    check_eq(outcome(old), 'reset', 'an open connection when reset starts')
    old.close()
    upstream_conn = up['echo'].last()
    wait_for(lambda: upstream_conn['eof_at'], 5, 'the upstream leg to be closed too')
    check_eq(probe(ports['echo']), 'reset', 'a new connection under reset')
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_hang_connect_holds_new_connections_silent(px, up, ports):
    accepted = up['echo'].accepted()
    fid = fault_add(px, 'echo', 'hang_connect')
    held = connect(ports['echo'], timeout=2)     # the TCP handshake itself completes
    held.sendall(b'anyone there?')
    check_eq(outcome(held, wait=1.5), 'silent', 'a new connection under hang_connect')
    check_eq(up['echo'].accepted(), accepted, 'connections that reached the upstream')
    fault_del(px, fid)
    held.close()
    assert_healed(px, up, ports)


def test_blackhole_eats_bytes_then_closes(px, up, ports):
    s = connect(ports['echo'])
    echo_rtt(s)
    upstream_conn = up['echo'].last()
    seen = upstream_conn['bytes']
    fid = fault_add(px, 'echo', 'blackhole')
    s.sendall(b'lost in the hole' * 100)
    check_eq(outcome(s, wait=1.0), 'silent', 'reply under blackhole')
    check_eq(upstream_conn['bytes'], seen, 'bytes that reached the upstream under blackhole')
    check_eq(endpoint_stats(px, 'echo')['conns_open'], 1, 'the connection stays open meanwhile')
    fault_del(px, fid)
    check(outcome(s, wait=3.0) in ('eof', 'reset'),
          'the connection must be closed when blackhole ends (its stream lost bytes)')
    s.close()
    assert_healed(px, up, ports)


def test_close_after_bytes_up(px, up, ports):
    fid = fault_add(px, 'sink', 'close_after', 'bytes=1000', 'direction=up')
    before = up['sink'].accepted()
    s = connect(ports['sink'])
    try:
        s.sendall(os.urandom(5000))
    except OSError:
        pass                # the proxy may close before the client finished writing
    check(outcome(s, wait=3.0) in ('eof', 'reset'), 'connection not closed after 1000 bytes')
    s.close()
    wait_for(lambda: up['sink'].accepted() > before and up['sink'].last()['eof_at'], 5,
             'the sink to see the close')
    check_eq(up['sink'].last()['bytes'], 1000, 'bytes that passed before close_after bytes=1000')
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_close_after_ms(px, up, ports):
    s = connect(ports['echo'])
    echo_rtt(s)
    t0 = time.monotonic()
    # 1 s leaves room for ddlproxyctl's own start-up on a loaded machine
    fid = fault_add(px, 'echo', 'close_after', 'ms=1000')
    echo_rtt(s)             # still open right after the fault started
    result = outcome(s, wait=4.0)
    elapsed = time.monotonic() - t0
    check(result in ('eof', 'reset'), 'close_after ms=1000: connection still %s' % result)
    note('close_after ms=1000: %s after %.1f ms' % (result, elapsed * 1e3))
    check(0.98 <= elapsed <= 2.0, 'closed %.0f ms after the fault was added, expected ~1000' %
          (elapsed * 1e3))
    s.close()
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_slow_close_holds_the_close(px, up, ports):
    def bye_to_eof():
        with connect(ports['closer']) as s:
            s.sendall(b'hi\n')
            check_eq(recv_exact(s, 4), b'bye\n', 'closer greeting')
            t = time.monotonic()
            check_eq(outcome(s, wait=5.0), 'eof', 'after the upstream closed')
            return time.monotonic() - t

    plain = bye_to_eof()
    check(plain < 0.1, 'without a fault the close took %.0f ms' % (plain * 1e3))
    fid = fault_add(px, 'closer', 'slow_close', 'ms=500')
    held = bye_to_eof()
    note('slow_close ms=500: close arrived after %.1f ms (%.1f ms without the fault)' % (
        held * 1e3, plain * 1e3))
    check(0.48 <= held <= 0.75, 'slow_close ms=500 delivered the close after %.0f ms' % (held * 1e3))
    fault_del(px, fid)
    check(bye_to_eof() < 0.1, 'close still slow after healing')
    assert_healed(px, up, ports)


# ---------------------------------------------------------------- shaping

def _rate(chunks, total):
    """Bytes per second from the first to the last arrival (the first chunk is the burst)."""
    first_t, first_n = chunks[0]
    last_t = chunks[-1][0]
    return (total - first_n) / (last_t - first_t)


def test_bandwidth_up_1mib(px, up, ports):
    fid = fault_add(px, 'sink', 'bandwidth', 'rate=1MiB/s', 'direction=up')
    before = up['sink'].accepted()
    payload = os.urandom(3 * MIB)
    with connect(ports['sink'], timeout=30) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        wait_for(lambda: up['sink'].accepted() > before and up['sink'].last()['eof_at'], 20,
                 'the sink to receive 3 MiB at 1 MiB/s')
    rec = up['sink'].last()
    check_eq(rec['bytes'], len(payload), 'bytes at the sink')
    rate = _rate(rec['chunks'], rec['bytes'])
    note('bandwidth up: %.3f MiB/s' % (rate / MIB))
    check(abs(rate - MIB) <= 0.1 * MIB, 'measured %.0f B/s, want 1 MiB/s +-10%%' % rate)
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_bandwidth_down_1mib(px, up, ports):
    fid = fault_add(px, 'source', 'bandwidth', 'rate=1MiB/s', 'direction=down')
    digest = hashlib.sha256()
    chunks, total = [], 0
    with connect(ports['source'], timeout=30) as s:
        while True:
            data = s.recv(256 * 1024)
            if not data:
                break
            chunks.append((time.monotonic(), len(data)))
            total += len(data)
            digest.update(data)
    check_eq(total, len(up['source'].payload), 'bytes received from the source')
    check_eq(digest.hexdigest(), hashlib.sha256(up['source'].payload).hexdigest(), 'payload digest')
    rate = _rate(chunks, total)
    note('bandwidth down: %.3f MiB/s' % (rate / MIB))
    check(abs(rate - MIB) <= 0.1 * MIB, 'measured %.0f B/s, want 1 MiB/s +-10%%' % rate)
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_slice_cuts_the_stream(px, up, ports):
    fid = fault_add(px, 'echo', 'slice', 'size=100', 'delay_us=20000', 'direction=down')
    msg = bytes(range(256)) * 4         # 1024 bytes
    with connect(ports['echo']) as s:
        t0 = time.monotonic()
        s.sendall(msg)
        got, pieces = b'', []
        while len(got) < len(msg):
            data = s.recv(65536)
            check(data, 'EOF in the middle of a sliced reply')
            pieces.append(len(data))
            got += data
        elapsed = time.monotonic() - t0
    check_eq(got, msg, 'sliced bytes')
    # A reader descheduled for more than 20 ms finds two slices in its socket
    # buffer at once; a piece is a whole number of slices, never a part.
    check(all(p <= 100 or p % 100 == 0 for p in pieces[:-1]),
          'a piece that is not whole slices of 100 bytes: %r' % pieces)
    check(sum(1 for p in pieces if p <= 100) >= len(pieces) // 2,
          'most pieces were more than one slice: %r' % pieces)
    note('slice: %d pieces, largest %d bytes, %.1f ms' % (len(pieces), max(pieces), elapsed * 1e3))
    check(elapsed >= 0.19, '11 slices 20 ms apart arrived within %.0f ms' % (elapsed * 1e3))
    fault_del(px, fid)
    assert_healed(px, up, ports)


def test_stall_holds_and_releases_everything(px, up, ports):
    with connect(ports['echo']) as s:
        echo_rtt(s)
        fid = fault_add(px, 'echo', 'stall', 'duration=1s')
        t0 = time.monotonic()
        msg = os.urandom(300000)
        sender = threading.Thread(target=s.sendall, args=(msg,), daemon=True)
        sender.start()
        check_eq(outcome_peek(s, 0.5), 'silent', 'echo reply while stalled')
        got = recv_exact(s, len(msg))
        sender.join(5)
        check(time.monotonic() - t0 >= 0.95, 'stall duration=1s released bytes early')
        check_eq(hashlib.sha256(got).digest(), hashlib.sha256(msg).digest(), 'bytes after the stall')
    wait_for(lambda: not px.ctl('fault', 'list')['faults'], 3, 'the stall to end by itself')
    assert_healed(px, up, ports)
    del fid


def outcome_peek(s, wait):
    s.settimeout(wait)
    try:
        return 'data' if s.recv(1, socket.MSG_PEEK) else 'eof'
    except socket.timeout:
        return 'silent'
    finally:
        s.settimeout(IO_TIMEOUT)


# ---------------------------------------------------------------- seeded probability

def _refused_ordinals(servers, seed, conns=32):
    sections, ports = tcp_endpoints({'echo': servers['echo']})
    with Proxy(UNUSED_BACKEND, name='faults-seed-%d' % seed, config=sections,
               args=('--seed', str(seed))) as px:
        fault_add(px, 'echo', 'refuse', 'probability=0.5', 'name=coin')
        refused = []
        for ordinal in range(1, conns + 1):
            result = probe(ports['echo'])
            check(result in ('data', 'reset', 'refused'), 'connection %d: %s' % (ordinal, result))
            if result != 'data':
                refused.append(ordinal)
        hits = px.ctl('fault', 'list')['faults'][0]['hits']
        check_eq(hits, len(refused), 'hits of the probability fault')
    for p in ports.values():
        p.release()
    return refused


def test_probability_reproducible_with_seed(servers):
    first = _refused_ordinals(servers, 42)
    second = _refused_ordinals(servers, 42)
    other = _refused_ordinals(servers, 43)
    note('seed 42 refused %r; seed 43 refused %r' % (first, other))
    check(0 < len(first) < 32, 'probability=0.5 refused %d of 32 connections' % len(first))
    check_eq(second, first, 'connections refused in the second run with --seed 42')
    check(other != first, 'seed 43 picked the very same connections as seed 42: %r' % first)


# ---------------------------------------------------------------- bad input

BAD_INPUT = [
    (['echo', 'explode'], r"unknown action 'explode' \(valid: delay, .*\)"),
    (['nosuch', 'stall'], r"no endpoint named 'nosuch'"),
    (['member:nosuch', 'stall'], r"no member named 'nosuch'"),
    (['group:nosuch', 'stall'], r"no group named 'nosuch'"),
    (['leader:tcp', 'stall'], r"leader:tcp needs leader discovery"),
    (['echo', 'delay', 'ms=5', 'jiter=1'], r"unknown parameter 'jiter' \(valid: .*jitter"),
    (['echo', 'delay'], r"\bms\b"),
    (['echo', 'delay', 'ms=-1'], r"ms=-1: must not be negative"),
    (['echo', 'delay', 'ms=abc'], r"ms=abc"),
    (['echo', 'bandwidth', 'rate=0'], r"rate=0: must be at least 1"),
    (['echo', 'stall', 'probability=2'], r"probability=2: must be between 0 and 1"),
    (['echo', 'refuse', 'direction=up'], r"direction"),
    (['echo', 'close_after', 'bytes=1', 'ms=1'], r"close_after"),
    (['echo', 'stall', 'name=keep'], r"'keep'"),             # the id is taken
]


def test_bad_input_is_refused_and_changes_nothing(px):
    fault_add(px, 'echo', 'delay', 'ms=1', 'name=keep')
    before = px.ctl('fault', 'list')['faults']
    try:
        for words, pattern in BAD_INPUT:
            res = px.ctl_text('fault', 'add', *words)
            line = 'fault add ' + ' '.join(words)
            check_eq(res.returncode, 1, '%s: ddlproxyctl exit status' % line)
            check_match(pattern, res.stderr + res.stdout, '%s: error message' % line)
            raw = px.ctl('fault', 'add', *words)
            check(raw.get('ok') is False and raw.get('error'), '%s: --json reply %r' % (line, raw))
        check_eq(px.ctl('fault', 'list')['faults'], before, 'fault list after the refused commands')
        res = px.ctl_text('fault', 'del', 'nosuch')
        check_eq(res.returncode, 1, 'fault del of an unknown id: exit status')
        check_match(r'nosuch', res.stderr + res.stdout, 'fault del of an unknown id: message')
        check_eq(px.ctl('fault', 'list')['faults'], before, 'fault list after a refused del')
    finally:
        px.ctl('fault', 'clear')


# ---------------------------------------------------------------- config-file faults

def test_config_faults_active_before_first_connection(servers):
    sections, ports = tcp_endpoints({'echo': servers['echo'], 'sink': servers['sink']})
    sections['fault slow-echo'] = {'target': 'echo', 'action': 'delay', 'ms': '100',
                                   'direction': 'down'}
    sections['fault no-sink'] = {'target': 'sink', 'action': 'refuse'}
    with Proxy(UNUSED_BACKEND, name='faults-config', config=sections) as px:
        with connect(ports['echo']) as s:
            first = echo_rtt(s)
        check(first >= 0.1, 'first connection round trip %.1f ms with a 100 ms config delay' %
              (first * 1e3))
        check(probe(ports['sink']) in ('refused', 'reset'),
              'first connection to an endpoint with a config refuse was served')
        faults = {f['id']: f for f in px.ctl('fault', 'list')['faults']}
        check_eq(sorted(faults), ['no-sink', 'slow-echo'], 'fault ids from the config')
        check_eq([faults[i]['state'] for i in sorted(faults)], ['active', 'active'], 'states')
        check_eq([faults[i]['hits'] for i in sorted(faults)], [1, 1], 'hits of the config faults')
        check_eq(px.ctl('fault', 'clear')['removed'], 2, 'fault clear')
        with connect(ports['echo']) as s:
            check(echo_rtt(s) < 0.1, 'delay still there after fault clear')
    for p in ports.values():
        p.release()


def test_config_fault_errors_name_file_and_line(servers):
    sections, ports = tcp_endpoints({'echo': servers['echo']})
    sections['fault typo'] = {'target': 'echo', 'action': 'delay', 'ms': '5', 'jiter': '1'}
    px = Proxy(UNUSED_BACKEND, name='faults-badconf', config=sections, start=False)
    try:
        res = subprocess.run([find_ddlproxy(), '-c', px.config_path, '--check'],
                             capture_output=True, text=True, timeout=20)
        check_eq(res.returncode, 1, '--check exit status with a bad [fault] section')
        check_match(r'ddlproxy\.conf:\d+: \[fault typo\].*jiter', res.stderr + res.stdout,
                    '--check message')
    finally:
        px.close()
        for p in ports.values():
            p.release()


def _clear_faults_after(fn):
    """A failed test must not leave its fault behind for the next one."""
    def wrapper(px, up, ports):
        try:
            fn(px, up, ports)
        finally:
            if px.alive():
                px.ctl('fault', 'clear')
    wrapper.__name__ = fn.__name__
    wrapper.timeout = getattr(fn, 'timeout', 120)
    return wrapper


for _name, _fn in list(globals().items()):
    if _name.startswith('test_') and callable(_fn) and \
            list(inspect.signature(_fn).parameters) == ['px', 'up', 'ports']:
        globals()[_name] = _clear_faults_after(_fn)

if __name__ == '__main__':
    run_tests(globals())
