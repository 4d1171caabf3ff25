#!/usr/bin/python3
"""test_limits.py - ddlproxy's memory and fairness under many, slow or greedy clients.

    /usr/bin/python3 tests/integration/test_limits.py [NAME ...]

idle_connections
    10 000 idle TCP connections through one endpoint relay to an echo
    upstream (asyncio, in this process), twice. The proxy's RSS (VmRSS) is
    taken before and with them open: an idle relay holds no buffers, so each
    costs well under IDLE_BYTES_BOUND. A new client is served normally
    meanwhile, every relay and fd is gone once the clients close, and the
    second wave takes no more memory than the first. Where the fd hard limit
    cannot be raised (no CAP_SYS_RESOURCE) the count is what it allows:
    (hard limit - 300) / 2, e.g. 9850 under a 20 000 limit.

fd_exhaustion
    The proxy's fd limit lowered to 64 (prlimit) and 64 clients: it does not
    crash or spin; clients beyond the limit are closed at once, not left
    hanging; the others are relayed; a new client is served afterwards.

slowloris_does_not_starve_others
    200 clients trickle one byte per second: half a HandshakeResponse, half
    (after a real login) a COM_QUERY. Meanwhile a healthy client's SELECT 1
    stays fast, and the proxy's RSS grows by no more than a small factor of
    the bytes they sent plus a fixed cost per session.

huge_packet_claim
    A client announces a 1 GiB query (a run of 0xFFFFFF continuation
    packets) and sends as much as it is let; another does the same in place
    of its HandshakeResponse. Each gets an ERR or a close, the proxy's RSS
    stays flat (it never allocates for the claimed size) and it keeps
    serving new clients.

The test process raises its own RLIMIT_NOFILE (the proxy, its child,
inherits it): 10 000 relays take 20 000 fds in the proxy and as many here.
"""

import asyncio
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Proxy, Skip, TestFailure, check, check_eq, free_port,  # noqa: E402
                     run_tests, slow, wait_for)
import fake_server as wire  # noqa: E402

IDLE_CONNECTIONS = int(os.environ.get('LIMITS_IDLE_CONNECTIONS') or 10000)
IDLE_BYTES_BOUND = 16 * 1024        # per idle relay (client + upstream socket)


def sanitized(pid):
    """The proxy runs under AddressSanitizer (its runtime is mapped)."""
    try:
        with open('/proc/%d/maps' % pid) as f:
            return 'libasan' in f.read()
    except OSError:
        return False
SLOWLORIS = 200
SLOWLORIS_SECONDS = 8
HEALTHY_LATENCY_BOUND_S = 0.2
NOFILE_WANTED = 65536
EXHAUSTION_FDS = 64                 # the proxy's fd limit in fd_exhaustion
FD_RESERVE = 300                    # fds of the proxy and of this process besides the relays
COM_QUERY = 0x03
MAX_PAYLOAD = 0xFFFFFF


def note(text):
    print('   ' + text, flush=True)


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    raise AssertionError('no VmRSS in /proc/%d/status' % pid)


def fd_count(pid):
    return len(os.listdir('/proc/%d/fd' % pid))


def raise_nofile(wanted):
    """Raises this process's fd limit (children inherit it); returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------- echo upstream

class EchoUpstream:
    """An asyncio echo server on its own thread; counts open connections."""

    def __init__(self):
        self.open = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        check(self.ready.wait(10), 'echo upstream did not start')

    async def _serve(self, reader, writer):
        self.open += 1
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self.open -= 1
            writer.close()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, '127.0.0.1', 0, backlog=4096))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def close(self):
        def shut():
            self.server.close()
            self.loop.stop()
        self.loop.call_soon_threadsafe(shut)
        self.thread.join(10)


def echo_round_trip(addr, payload=b'ping\n', timeout=5):
    """Seconds for one echo through the relay (fails on a wrong answer)."""
    t = time.monotonic()
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(payload)
        got = b''
        while len(got) < len(payload):
            chunk = s.recv(len(payload) - len(got))
            check(chunk, 'echo through the relay: connection closed after %r' % got)
            got += chunk
    check_eq(got, payload, 'echo through the relay')
    return time.monotonic() - t


def endpoint_open(px, name):
    for ep in px.ctl('endpoint', 'list')['endpoints']:
        if ep['name'] == name:
            return ep['conns_open']
    raise AssertionError('no endpoint %s' % name)


# ---------------------------------------------------------------- tests

def test_idle_connections():
    limit = raise_nofile(NOFILE_WANTED)
    # Here: n client sockets + n upstream sockets; in the proxy: 2n, plus a
    # few hundred for everything else. A hard limit we may not raise (no
    # CAP_SYS_RESOURCE, e.g. in a container) caps n.
    n = min(IDLE_CONNECTIONS, (limit - FD_RESERVE) // 2)
    if n < 1000:
        raise Skip('RLIMIT_NOFILE is %d: too low for a meaningful count' % limit)
    if n < IDLE_CONNECTIONS:
        note('RLIMIT_NOFILE hard limit %d (cannot be raised here): %d connections instead of %d'
             % (limit, n, IDLE_CONNECTIONS))
    with open('/proc/sys/fs/file-max') as f:
        file_max = int(f.read())
    if file_max < 4 * n + 10000:     # this process's 2n and the proxy's 2n, system-wide
        raise Skip('fs.file-max %d is too low for %d connections' % (file_max, n))
    upstream = EchoUpstream()
    clients = []
    try:
        port = free_port()
        addr = ('127.0.0.1', int(port))
        with Proxy('127.0.0.1:1', name='limits-idle', config={
                'endpoint idle': {'group': 'sink', 'member': 'sink1', 'role': 'client',
                                  'listen': '127.0.0.1:%d' % port,
                                  'upstream': '127.0.0.1:%d' % upstream.port}}) as px:
            port.release()
            echo_round_trip(addr)                       # warm: one relay has run
            wait_for(lambda: endpoint_open(px, 'idle') == 0, 10, 'the warm-up relay to close')
            rss_before, fds_before = rss_kib(px.pid), fd_count(px.pid)
            peaks = []
            # Two waves: the second must reuse what the first freed (no leak per relay).
            for wave in (1, 2):
                t = time.monotonic()
                for _ in range(n):
                    s = socket.socket()
                    s.settimeout(10)
                    s.connect(addr)
                    clients.append(s)
                connect_s = time.monotonic() - t
                wait_for(lambda: upstream.open >= n, slow(60), '%d upstream connections' % n,
                         interval=0.2)
                wait_for(lambda: endpoint_open(px, 'idle') >= n, slow(30),
                         'the proxy to count %d open relays' % n, interval=0.2)
                time.sleep(0.5)
                rss_with, fds_with = rss_kib(px.pid), fd_count(px.pid)
                peaks.append(rss_with)
                per_conn = (rss_with - rss_before) * 1024 / n
                served = echo_round_trip(addr)
                note('wave %d: %d idle relays opened in %.1f s; proxy RSS %d KiB before, %d KiB '
                     'with them (%.0f bytes per idle relay); fds %d -> %d; a new client echoed '
                     'in %.1f ms' % (wave, n, connect_s, rss_before, rss_with, per_conn,
                                     fds_before, fds_with, served * 1000))
                # two per relay; the baseline may have included a passing admin connection
                check(fds_with >= 2 * n, 'the proxy holds %d fds for %d relays (want >= %d)'
                      % (fds_with, n, 2 * n))
                check(per_conn < IDLE_BYTES_BOUND, '%.0f bytes of RSS per idle relay (bound %d)'
                      % (per_conn, IDLE_BYTES_BOUND))
                check(served < slow(1.0), 'a new client waited %.2f s beside %d idle ones'
                      % (served, n))
                # A few long-idle relays still carry bytes both ways.
                for s in clients[::n // 10]:
                    s.sendall(b'x')
                    check_eq(s.recv(1), b'x', 'echo on a long-idle relay')
                for s in clients:
                    s.close()
                clients = []
                wait_for(lambda: endpoint_open(px, 'idle') == 0, slow(30),
                         'every relay closed after the clients left', interval=0.2)
                wait_for(lambda: upstream.open == 0, slow(30), 'every upstream connection closed',
                         interval=0.2)
                note('wave %d closed: proxy RSS %d KiB, fds %d'
                     % (wave, rss_kib(px.pid), fd_count(px.pid)))
                check(fd_count(px.pid) <= fds_before + 2, 'fds after closing: %d (before %d)'
                      % (fd_count(px.pid), fds_before))
            # AddressSanitizer quarantines freed memory instead of reusing it
            if not sanitized(px.pid):
                check(peaks[1] <= peaks[0] + 1024, 'RSS with the second wave %d KiB, first %d KiB: '
                      'memory of closed relays is not reused' % (peaks[1], peaks[0]))
    finally:
        for s in clients:
            s.close()
        upstream.close()


test_idle_connections.timeout = 300


def cpu_seconds(pid):
    fields = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def test_fd_exhaustion():
    """The proxy at its fd limit: no crash, no spin, no hung client, recovery after."""
    upstream = EchoUpstream()
    clients = []
    try:
        port = free_port()
        addr = ('127.0.0.1', int(port))
        with Proxy('127.0.0.1:1', name='limits-fds', config={
                'endpoint idle': {'group': 'sink', 'member': 'sink1', 'role': 'client',
                                  'listen': '127.0.0.1:%d' % port,
                                  'upstream': '127.0.0.1:%d' % upstream.port}}) as px:
            port.release()
            res = subprocess.run(['prlimit', '--pid', str(px.pid), '--nofile=%d:%d'
                                  % (EXHAUSTION_FDS, EXHAUSTION_FDS)], capture_output=True, text=True)
            if res.returncode != 0:
                raise Skip('prlimit on the proxy failed: %s' % res.stderr.strip())
            for _ in range(EXHAUSTION_FDS):
                clients.append(socket.create_connection(addr, timeout=5))
            time.sleep(1)
            cpu0 = cpu_seconds(px.pid)
            time.sleep(2)
            spin = cpu_seconds(px.pid) - cpu0
            echoed = closed = 0
            for s in clients:
                s.settimeout(slow(2))
                try:
                    s.sendall(b'x')
                    got = s.recv(1)
                except (ConnectionResetError, BrokenPipeError):
                    got = b''
                except socket.timeout:
                    raise TestFailure('a client at the fd limit hangs (neither served nor closed)')
                if got == b'x':
                    echoed += 1
                else:
                    closed += 1
            ep = [e for e in px.ctl('endpoint', 'list')['endpoints'] if e['name'] == 'idle'][0]
            note('fd limit %d, %d clients: %d relayed, %d closed at once (connect_errors %d); '
                 'proxy CPU %.2f s over 2 s at the limit'
                 % (EXHAUSTION_FDS, len(clients), echoed, closed, ep['connect_errors'], spin))
            check(echoed > 0 and closed > 0, 'expected some relays served and some refused')
            check(spin < 0.5, 'the proxy spins at its fd limit (%.2f s CPU in 2 s)' % spin)
            for s in clients:
                s.close()
            clients = []
            wait_for(lambda: endpoint_open(px, 'idle') == 0, slow(10), 'relays closed')
            check(echo_round_trip(addr) < slow(1), 'a new client served after the limit')
            check(px.alive(), 'the proxy exited')
    finally:
        for s in clients:
            s.close()
        upstream.close()


test_fd_exhaustion.timeout = 60


# ---------------------------------------------------------------- MySQL leg

def setup_module():
    db = MariaDB(name='limits-db')
    px = Proxy(db, name='limits-px', config={'proxy': {'backend_tls': 'disable'}})
    return {'db': db, 'px': px}


def select_one_latency(conn):
    t = time.monotonic()
    cur = conn.cursor()
    cur.execute('SELECT 1')
    check_eq(cur.fetchall(), ((1,),), 'SELECT 1')
    return time.monotonic() - t


def query_packet(sql_len):
    """A COM_QUERY packet (header + payload) of a SELECT padded to sql_len bytes."""
    sql = b'SELECT 1 /*' + b'x' * (sql_len - 13) + b'*/'
    payload = bytes([COM_QUERY]) + sql
    return len(payload).to_bytes(3, 'little') + b'\x00' + payload


class Trickler:
    """A socket that gets `data` one byte per tick; it stops when the peer closes."""

    def __init__(self, sock, data):
        self.sock = sock
        self.data = data
        self.sent = 0
        self.closed_by_peer = False
        sock.setblocking(False)

    def tick(self):
        if self.closed_by_peer or self.sent >= len(self.data):
            return 0
        try:
            self.sock.send(self.data[self.sent:self.sent + 1])
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self.closed_by_peer = True
            return 0
        self.sent += 1
        return 1


def test_slowloris_does_not_starve_others(px, db):
    healthy = px.connect(read_timeout=10)
    base = [select_one_latency(healthy) for _ in range(50)]
    rss_before = rss_kib(px.pid)
    tricklers = []
    try:
        # Half trickle their HandshakeResponse after the greeting.
        for _ in range(SLOWLORIS // 2):
            c = wire.RawClient(px.host, px.port)
            c.read_greeting()
            scramble = c.greeting['scramble'][:20]
            response = wire.handshake_response(px.user, wire.native_password(px.password, scramble),
                                               px.db)
            packet = len(response).to_bytes(3, 'little') + bytes([1]) + response
            tricklers.append(Trickler(c.sock, packet))
        # Half log in for real and trickle a 4 KiB COM_QUERY.
        for _ in range(SLOWLORIS - SLOWLORIS // 2):
            c = wire.RawClient(px.host, px.port)
            c.login(px.user, px.password, px.db)
            tricklers.append(Trickler(c.sock, query_packet(4096)))
        rss_open = rss_kib(px.pid)
        latencies = []
        sent = 0
        end = time.monotonic() + SLOWLORIS_SECONDS
        next_tick = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_tick:
                sent += sum(t.tick() for t in tricklers)
                next_tick += 1.0
            latencies.append(select_one_latency(healthy))
            time.sleep(0.02)
        rss_during = rss_kib(px.pid)
        closed = sum(1 for t in tricklers if t.closed_by_peer)
        worst = max(latencies)
        growth = (rss_during - rss_before) * 1024
        per_session = (rss_open - rss_before) * 1024 / len(tricklers)
        note('SELECT 1 alone: median %.2f ms, max %.2f ms; beside %d slowloris clients: '
             '%d queries, median %.2f ms, max %.2f ms'
             % (statistics.median(base) * 1000, max(base) * 1000, len(tricklers), len(latencies),
                statistics.median(latencies) * 1000, worst * 1000))
        note('proxy RSS %d KiB before, %d KiB with the %d sessions open (%.0f bytes each), '
             '%d KiB after they trickled %d bytes; %d closed by the proxy or server'
             % (rss_before, rss_open, len(tricklers), per_session, rss_during, sent, closed))
        check(worst < slow(HEALTHY_LATENCY_BOUND_S),
              'a healthy SELECT 1 took %.0f ms beside slowloris clients' % (worst * 1000))
        # Fixed cost per session (its state and the server leg) + what they sent, x4.
        bound = len(tricklers) * 16 * 1024 + 4 * sent + 2 * 1024 * 1024
        check(growth < bound, 'proxy RSS grew %d bytes for %d slowloris sessions that sent %d '
              'bytes (bound %d)' % (growth, len(tricklers), sent, bound))
        check(px.alive(), 'the proxy exited')
    finally:
        for t in tricklers:
            t.sock.close()
        healthy.close()


test_slowloris_does_not_starve_others.timeout = 120


def _stream_until_refused(sock, total, chunk):
    """Sends up to `total` bytes of `chunk` repeated; returns (bytes sent, error or None)."""
    sock.settimeout(slow(10))
    sent = 0
    try:
        while sent < total:
            n = sock.send(chunk[:min(len(chunk), total - sent)])
            sent += n
    except (OSError, socket.timeout) as e:
        return sent, e
    return sent, None


def _outcome(sock):
    """What the client got after its stream: an ERR (code, message), b'' (closed) or None."""
    sock.settimeout(slow(10))
    data = b''
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        return None if not data else data
    except ConnectionResetError:
        pass
    if len(data) >= 5 and data[4] == 0xff:
        err = wire.parse_err(data[4:4 + int.from_bytes(data[:3], 'little')])
        return (err.code, err.message)
    return data


class RssWatcher:
    """Samples a process's RSS every 20 ms on a thread; .peak is the largest seen."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = rss_kib(pid)
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_flag.wait(0.02):
            try:
                self.peak = max(self.peak, rss_kib(self.pid))
            except (OSError, AssertionError):
                return

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)
        return self.peak


def test_huge_packet_claim(px):
    gib = 1 << 30
    chunk = b'\0' * (1 << 20)
    # 64 packets of 0xFFFFFF bytes (+ the trailer) make a 1 GiB COM_QUERY;
    # the first one starts with the command byte.
    first = MAX_PAYLOAD.to_bytes(3, 'little') + b'\x00' + bytes([COM_QUERY]) + b'SELECT '
    for phase in ('command', 'handshake'):
        rss_before = rss_kib(px.pid)
        watcher = RssWatcher(px.pid)
        c = wire.RawClient(px.host, px.port)
        t = time.monotonic()
        try:
            if phase == 'command':
                c.login(px.user, px.password, px.db)
                c.send_raw(first)
            else:
                c.read_greeting()
                c.send_raw(MAX_PAYLOAD.to_bytes(3, 'little') + b'\x01')
            # Only the first packet's body: later headers would be inside it.
            sent, err = _stream_until_refused(c.sock, MAX_PAYLOAD - 8, chunk)
            if err is None:
                for seq in range(1, gib // MAX_PAYLOAD + 1):
                    c.send_raw(MAX_PAYLOAD.to_bytes(3, 'little') + bytes([seq & 0xff]))
                    more, err = _stream_until_refused(c.sock, MAX_PAYLOAD, chunk)
                    sent += more
                    if err is not None:
                        break
            outcome = _outcome(c.sock)
        except OSError as e:
            sent, err, outcome = 0, e, b''
        finally:
            c.close()
        took = time.monotonic() - t
        peak = watcher.stop()
        note('1 GiB claim in the %s phase: the client sent %.1f MiB in %.1f s (%s), then got %r; '
             'proxy RSS %d KiB before, peak %d KiB'
             % (phase, sent / (1 << 20), took, 'stopped: %s' % err if err else 'all of it',
                outcome if not isinstance(outcome, bytes) else (outcome[:60] or 'a close'),
                rss_before, peak))
        check(outcome is not None, 'the %s-phase client neither got an error nor a close' % phase)
        check(peak - rss_before < 16 * 1024, 'proxy RSS grew by %d KiB for a 1 GiB claim (%s)'
              % (peak - rss_before, phase))
        check(px.alive(), 'the proxy exited')
        conn = px.connect()
        check_eq(select_one_latency(conn) < slow(1), True, 'a new client served afterwards')
        conn.close()


test_huge_packet_claim.timeout = 300


if __name__ == '__main__':
    run_tests(globals())
