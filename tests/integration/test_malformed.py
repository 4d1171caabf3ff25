#!/usr/bin/python3
"""test_malformed.py - garbage on either leg must only ever end that one session.

Client side: raw sockets send garbage, lying or truncated headers and fuzzed
handshakes to a proxy in front of MariaDB, before and after authentication.
Server side: fake_server.FakeServer misbehaves behind a second proxy. In
both cases healthy MySQLdb clients keep querying through the same proxy in
parallel and must never see an error; the proxy must keep serving, close the
bad session (backend leg included) and log why.

    /usr/bin/python3 tests/integration/test_malformed.py [--seed N] [NAME ...]
"""

import os
import random
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Proxy, TestFailure, slow, check, check_eq, check_raises, run_tests,  # noqa: E402
                     wait_for)
import fake_server as wire  # noqa: E402
from fake_server import FakeServer, RawClient, WireError  # noqa: E402
import MySQLdb  # noqa: E402

FUZZ_USER, FUZZ_PASSWORD = 'fuzz', 'fuzz-pw'


def _seed_and_selection(argv):
    """--seed N or --seed=N; the other words are left for run_tests."""
    seed, rest, i = None, [], 0
    while i < len(argv):
        if argv[i] == '--seed' and i + 1 < len(argv):
            seed, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith('--seed='):
            seed = argv[i].split('=', 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    if seed is not None and not seed.isdigit():
        sys.exit('--seed needs a number, got %r' % seed)
    return (int(seed) if seed is not None else int(time.time()) % 100000), rest


SEED, SELECTION = _seed_and_selection(sys.argv[1:])
# A session-ending word in the log lines written after the bad session started.
CLOSE_REASON = (r'(?i)(protocol|malformed|invalid|unexpected|bad|garbage|truncat|too (big|large|long)'
                r'|gone|closed|lost|reset|eof|error)')


def setup_module():
    print('    seed %d (rerun with --seed %d)' % (SEED, SEED))
    db = MariaDB(name='malformed-db')
    # The fuzzing user cannot SHUTDOWN or KILL: random command bytes must not hit the healthy clients.
    db.query("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'" % (FUZZ_USER, FUZZ_PASSWORD))
    db.query("GRANT SELECT ON test.* TO '%s'@'%%'" % FUZZ_USER)
    px = Proxy(db, name='malformed-px', config={'proxy': {'backend_tls': 'disable'}})
    fake = FakeServer('ok', seed=SEED)
    # debug: session closes and their reasons are logged at debug level.
    pxf = Proxy(fake, name='malformed-fake-px',
                config={'proxy': {'backend_tls': 'disable', 'log_level': 'debug'}})
    return {'db': db, 'px': px, 'fake': fake, 'pxf': pxf}


class Healthy:
    """A client that keeps querying through a proxy and counts what went wrong."""

    def __init__(self, proxy, query, expect):
        self.proxy, self.query, self.expect = proxy, query, expect
        self.queries = 0
        self.errors = []
        self.stopping = threading.Event()
        self.conn = proxy.connect(read_timeout=slow(15))
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def _run(self):
        cur = self.conn.cursor()
        while not self.stopping.is_set():
            try:
                cur.execute(self.query)
                got = cur.fetchall()
                if got != self.expect:
                    self.errors.append('got %r, expected %r' % (got, self.expect))
                self.queries += 1
            except MySQLdb.Error as e:
                self.errors.append(str(e))
                return
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(20)
        self.conn.close()
        if exc[0] is None:
            check(not self.thread.is_alive(), 'healthy client on %s is stuck' % self.proxy.name)
            check_eq(self.errors, [], 'errors seen by the healthy client on %s' % self.proxy.name)
            check(self.queries > 0, 'healthy client on %s made no query' % self.proxy.name)
        return False


def healthy_mariadb(px):
    return Healthy(px, 'SELECT 6*7', ((42,),))


def still_serving(proxy, expect):
    check(proxy.alive(), '%s is not running' % proxy.name)
    conn = proxy.connect(connect_timeout=slow(5), read_timeout=slow(10))
    cur = conn.cursor()
    cur.execute('SELECT 1')
    check_eq(cur.fetchall(), expect, 'fresh session through %s' % proxy.name)
    conn.close()


def rss_kib(pid):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def raw(proxy):
    return RawClient(proxy.host, proxy.port, timeout=10)


def fuzz_login(proxy):
    c = raw(proxy)
    c.login(FUZZ_USER, FUZZ_PASSWORD, 'test')
    return c


def drain(c, timeout=1.0):
    """Reads whatever the proxy answers until EOF or a quiet period."""
    while True:
        data = c.recv_some(timeout)
        if not data:
            return data


# ---------------------------------------------------------------- client side

def test_garbage_before_auth(px):
    rng = random.Random(SEED)
    with healthy_mariadb(px):
        for i in range(60):
            c = raw(px)
            try:
                c.read_greeting()
                c.send_raw(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
                if i % 3 == 0:
                    drain(c, 0.3)
            except OSError:
                pass    # the proxy may close first: that is allowed
            finally:
                c.close()
    still_serving(px, ((1,),))


def test_truncated_headers_then_close(px):
    with healthy_mariadb(px):
        for i in range(30):
            c = raw(px)
            try:
                if i % 3 == 0:
                    c.send_raw(b'\x05\x00')           # before the greeting is even read
                else:
                    c.read_greeting()
                    c.send_raw(b'\x05\x00' if i % 3 == 1 else (100).to_bytes(3, 'little') + b'\x01' + b'x' * 10)
            except OSError:
                pass
            finally:
                c.close()
        for _ in range(20):                           # connect and close at once
            socket.create_connection((px.host, px.port), timeout=5).close()
    still_serving(px, ((1,),))


def _stream_huge_packet(c, total):
    """Sends continuation packets adding up to `total` bytes; returns bytes sent."""
    chunk = b'\0' * (1 << 20)
    sent = 0
    seq = c.seq
    try:
        while sent < total:
            c.send_raw(b'\xff\xff\xff' + bytes([seq & 0xff]))
            seq += 1
            for _ in range(16):
                c.send_raw(chunk)
            c.send_raw(chunk[:(1 << 20) - 1])
            sent += 0xFFFFFF
    except OSError:
        pass
    return sent


def test_header_claiming_1gib(px):
    gib = 1 << 30
    with healthy_mariadb(px):
        rss_before = rss_kib(px.pid)
        # Before auth: a "handshake response" of 1 GiB.
        c = raw(px)
        c.read_greeting()
        c.seq = 1
        t0 = time.monotonic()
        sent = _stream_huge_packet(c, gib)
        check(sent < gib or drain(c, 5) in (b'', None),
              'proxy took a whole 1 GiB handshake response and kept the session open')
        c.close()
        before_auth = (sent, time.monotonic() - t0)
        # After auth: a COM_QUERY of 1 GiB (bigger than max_allowed_packet).
        c = fuzz_login(px)
        c.seq = 0
        sent2 = _stream_huge_packet(c, gib)
        c.close()
        rss_after = rss_kib(px.pid)
        print('    before auth: %d MiB sent in %.1f s; after auth: %d MiB sent; RSS %d -> %d KiB'
              % (before_auth[0] >> 20, before_auth[1], sent2 >> 20, rss_before, rss_after))
        check(rss_after - rss_before < 64 * 1024,
              'proxy RSS grew from %d to %d KiB: it buffers huge packets' % (rss_before, rss_after))
    still_serving(px, ((1,),))


test_header_claiming_1gib.timeout = 300


def test_handshake_then_random_bytes(px):
    rng = random.Random(SEED + 1)
    # Commands that would change more than this session even for an unprivileged user, or hand
    # the session over to another protocol, are left out: they are not malformed input.
    commands = [b for b in range(0x00, 0x40) if b not in (0x01, 0x08, 0x0c, 0x11, 0x12, 0x1e)]
    with healthy_mariadb(px):
        for round_no in range(20):
            c = fuzz_login(px)
            try:
                for _ in range(rng.randint(1, 15)):
                    body = bytes([rng.choice(commands)]) + bytes(
                        rng.getrandbits(8) for _ in range(rng.randint(0, 2000)))
                    c.write_packet(body, seq=0)
                    if drain(c, 0.2) == b'':
                        break
                if round_no % 2:                          # then break the framing itself
                    c.send_raw(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000))))
                    drain(c, 0.2)
            except OSError:
                pass
            finally:
                c.close()
    still_serving(px, ((1,),))


test_handshake_then_random_bytes.timeout = 300


def _mutate(rng, packet):
    data = bytearray(packet)
    how = rng.randrange(5)
    if how == 0:                                      # flip bits
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif how == 1:                                    # cut it short
        data = data[:rng.randrange(len(data))]
    elif how == 2:                                    # huge user name without its NUL
        data = data[:36] + b'u' * rng.randint(100, 70000)
    elif how == 3:                                    # auth length running past the end
        data[36 + len(FUZZ_USER) + 1] = 0xff
    else:                                             # random tail
        data = data[:rng.randrange(4, len(data))] + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
    return bytes(data)


def test_fuzzed_handshake_responses(px):
    rng = random.Random(SEED + 2)
    with healthy_mariadb(px):
        for _ in range(150):
            c = raw(px)
            try:
                g = c.read_greeting()
                good = wire.handshake_response(FUZZ_USER, wire.native_password(FUZZ_PASSWORD, g['scramble'][:20]),
                                               'test')
                packet = _mutate(rng, good)
                declared = len(packet) if rng.random() < 0.8 else rng.randrange(0, 1 << 24)
                c.send_raw(declared.to_bytes(3, 'little') + b'\x01' + packet)
                drain(c, 0.1)
            except (OSError, WireError):
                pass
            finally:
                c.close()
    still_serving(px, ((1,),))


test_fuzzed_handshake_responses.timeout = 300


# ---------------------------------------------------------------- server side

# mode -> (the fake server closes the connection itself, the client must get its error
# promptly (not by its own 5 s read timeout), what the proxy's log must say).
# A proxy that checks headers and first bytes can tell a NULL or absurd column
# count and a backend that hangs up mid-packet; random bytes with a plausible
# header, or a wrong number of column definitions, may only end when the client
# gives up, so for those any logged close reason will do. When the backend hangs
# up (the first field is True) the client must get the proxy's own ERR naming
# the backend, as for any backend failure.
ANY_REASON = r'closed: \w+|(?i:protocol|malformed|lost connection)'
SERVER_MODES = {
    'garbage_greeting': (False, True, r'(?i)protocol|malformed'),
    'truncated_greeting': (True, True, r'(?i)lost connection|backend_gone|protocol|malformed'),
    'greeting_then_close': (True, True, r'(?i)lost connection|backend_gone'),
    'garbage_after_auth': (False, False, ANY_REASON),
    'bad_column_count': (False, True, r'(?i)protocol|malformed|invalid'),
    'column_count_mismatch': (False, False, ANY_REASON),
    'huge_column_count': (False, True, r'(?i)protocol|malformed|invalid'),
    'truncated_response': (True, True, r'(?i)lost connection|backend_gone|protocol|malformed'),
}


def _bad_session(pxf):
    conn = pxf.connect(connect_timeout=5, read_timeout=5)
    try:
        cur = conn.cursor()
        cur.execute('SELECT misbehave')
        return cur.fetchall()
    finally:
        conn.close()


def test_misbehaving_server(pxf, fake, px):
    fake.mode = 'ok'
    healthy_fake = Healthy(pxf, 'SELECT 1', (('1',),))      # opened while the fake behaves
    failures = []
    with healthy_mariadb(px), healthy_fake:
        for mode, (server_closes, prompt, log_regex) in SERVER_MODES.items():
            mark = pxf.log_mark()
            closed_before = fake.closed_by_peer
            fake.mode = mode
            t0 = time.monotonic()
            try:
                try:
                    e = check_raises(MySQLdb.Error, _bad_session, pxf)
                finally:
                    fake.mode = 'ok'
                took = time.monotonic() - t0
                print('    %-22s -> %s (%.2f s)' % (mode, e, took))
                check(took < slow(3 if prompt else 12), 'the client waited %.1f s for its error' % took)
                if server_closes:
                    check(fake.addr in str(e) or 'backend' in str(e).lower(),
                          'the error does not name the backend: %s' % (e,))
                if not server_closes:
                    wait_for(lambda: fake.closed_by_peer > closed_before, slow(10),
                             'the proxy to close the backend connection')
                pxf.wait_log(log_regex, since=mark, timeout=slow(5))
                still_serving(pxf, (('1',),))
            except TestFailure as err:
                failures.append('%s: %s' % (mode, err))
    check(not failures, '%d of %d modes failed:\n%s' % (len(failures), len(SERVER_MODES), '\n'.join(failures)))


test_misbehaving_server.timeout = 300


def test_server_errors_are_relayed(pxf, fake):
    # Legal but unusual server behaviour goes through untouched.
    fake.mode = 'err_greeting'
    e = check_raises(MySQLdb.OperationalError, pxf.connect, connect_timeout=5, read_timeout=5)
    check_eq(e.args, (1040, 'Too many connections'), 'ERR instead of a greeting')
    fake.mode = 'err_mid_resultset'
    conn = pxf.connect(connect_timeout=5, read_timeout=5)
    fake.mode = 'ok'
    cur = conn.cursor()
    e = check_raises(MySQLdb.OperationalError, lambda: (cur.execute('SELECT misbehave'), cur.fetchall()))
    check_eq(e.args[0], 1317, 'ERR after the first row (%s)' % (e,))
    cur.execute('SELECT 1')
    check_eq(cur.fetchall(), (('1',),), 'session usable after an ERR mid result set')
    conn.close()
    still_serving(pxf, (('1',),))


if __name__ == '__main__':
    run_tests(globals(), argv=SELECTION)
