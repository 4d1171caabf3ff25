#!/usr/bin/python3
"""test_survival.py - ddlproxy survives a crashing backend and a flapping etcd leader.

    /usr/bin/python3 tests/integration/test_survival.py [NAME ...]

backend_killed_and_restarted_under_load
    MySQLdb client threads INSERT and SELECT through the proxy (autocommit,
    reconnect on error, every call bounded by connect/read/write timeouts)
    while the MariaDB behind the proxy is killed with SIGKILL and restarted
    again and again. The proxy must stay up, clients must get errors instead
    of hanging, service must come back within a bound after each restart, and
    every INSERT a client saw acknowledged must be in the table at the end.

etcd_leader_partitioned_and_healed
    A 3-member etcd cluster talks through the proxy (as in
    test_faults_etcd.py). `fault add leader:etcd partition` and `fault del`
    alternate while a writer puts keys through the proxy's client listeners,
    moving to another member on error and recording every acknowledged key.
    At the end every acknowledged key must be on all three members, asked
    directly (not through the proxy).

Counts: 8 backend kills and 10 partition cycles by default (CI, about
3 minutes); SURVIVAL_FULL=1 runs 20 kills and 50 partition cycles. Set
SURVIVAL_KILLS / SURVIVAL_PARTITIONS to override either count.

Needs MariaDB, etcd/etcdctl and the ddlproxy binaries (see harness.py).
Only loopback addresses are used.
"""

import http.client
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Proxy, TestFailure, check, check_eq, free_port,  # noqa: E402
                     mysql_connect, run_tests, slow, wait_for)
from etcd_cluster import EtcdCluster  # noqa: E402
from test_faults_etcd import Gateway  # noqa: E402
import MySQLdb  # noqa: E402

FULL = os.environ.get('SURVIVAL_FULL') == '1'
KILLS = int(os.environ.get('SURVIVAL_KILLS') or 20)
PARTITIONS = int(os.environ.get('SURVIVAL_PARTITIONS') or (50 if FULL else 10))
ETCD_NAMES = ('etcd1', 'etcd2', 'etcd3')
# A client call that takes longer than this is a hang, not an error.
CLIENT_TIMEOUT_S = 10
# After the backend is back, a new client must be served within this.
RESUME_BOUND_S = 10


def note(text):
    print('   ' + text, flush=True)


# ---------------------------------------------------------------- etcd behind the proxy

def proxy_ip(i):
    return '127.0.0.%d' % (11 + i)


def member_ip(i):
    return '127.0.0.%d' % (21 + i)


def proxied_etcd_topology(names=ETCD_NAMES):
    """Listen/advertise URLs and proxy endpoint sections for a cluster behind ddlproxy.

    Member N listens on 127.0.0.2N and advertises the proxy's listeners on
    127.0.0.1N as its client and peer URLs, so raft and client traffic pass
    the proxy. Returns (listen, advertise, sections, ports); ports keeps the
    port locks alive and is released by the caller.
    """
    listen, advertise, ports = {}, {}, []
    sections = {'group etcd': {'leader': 'etcd'}}
    for i, name in enumerate(names):
        mc, mp, pc, pp = (free_port() for _ in range(4))
        ports += [mc, mp, pc, pp]
        listen[name] = {'client': '%s:%d' % (member_ip(i), mc),
                        'peer': '%s:%d' % (member_ip(i), mp)}
        advertise[name] = {'client': 'http://%s:%d' % (proxy_ip(i), pc),
                           'peer': 'http://%s:%d' % (proxy_ip(i), pp)}
        for role, lport in (('client', pc), ('peer', pp)):
            sections['endpoint %s-%s' % (name, role)] = {
                'group': 'etcd', 'member': name, 'role': role,
                'listen': '%s:%d' % (proxy_ip(i), lport), 'upstream': listen[name][role],
                'address': member_ip(i)}
    return listen, advertise, sections, ports


def proxy_client(cluster, name):
    return cluster.members[name].advertise_client.split('://', 1)[1]


def direct_client(cluster, name):
    return cluster.members[name].listen_client.split('://', 1)[1]


def missing_on_members(cluster, acked, prefix):
    """{member: number of acknowledged keys it lacks or holds with another value}."""
    missing = {}
    for name in cluster.names:
        gw = Gateway(direct_client(cluster, name), timeout=5)
        try:
            have = gw.range_prefix(prefix)
        finally:
            gw.close()
        missing[name] = sum(1 for k, v in acked.items() if have.get(k) != v)
    return missing


class EtcdWriter:
    """Puts keys through the proxy's client listeners; records the acknowledged ones.

    On an error or a timeout it moves to the next member's listener: a client
    of a partitioned member hangs (stall), so the timeout is the signal.
    """

    def __init__(self, cluster, prefix, timeout=2.0, pause=0.01):
        self.cluster = cluster
        self.prefix = prefix
        self.timeout = timeout
        self.pause = pause
        self.acked = {}
        self.failed = 0
        self.switches = 0
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def _run(self):
        member = 0
        gw = None
        seq = 0
        while not self.stop_flag.is_set():
            name = self.cluster.names[member % len(self.cluster.names)]
            key, value = '%s%07d' % (self.prefix, seq), 'v%d' % seq
            try:
                if gw is None:
                    gw = Gateway(proxy_client(self.cluster, name), timeout=self.timeout)
                gw.put(key, value)
                with self.lock:
                    self.acked[key] = value
                seq += 1
            except (OSError, http.client.HTTPException, TestFailure, ValueError, KeyError):
                # Not acknowledged: the key may or may not exist; use a fresh key.
                self.failed += 1
                seq += 1
                if gw is not None:
                    gw.close()
                gw = None
                member += 1
                self.switches += 1
            time.sleep(self.pause)
        if gw is not None:
            gw.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(self.timeout * 3 + 5)
        check(not self.thread.is_alive(), 'the etcd writer did not stop (a put hangs)')


def start_proxied_etcd(proxy_name, extra_config=None, backend='127.0.0.1:1'):
    """(proxy, cluster, ports): a Proxy with the etcd endpoints and a cluster through it."""
    listen, advertise, sections, ports = proxied_etcd_topology()
    for section, keys in (extra_config or {}).items():
        sections.setdefault(section, {}).update(keys)
    px = Proxy(backend, name=proxy_name, config=sections)
    cluster = EtcdCluster(listen=listen, advertise=advertise, start_timeout=60)
    cluster.start()
    return px, cluster, ports


# ---------------------------------------------------------------- MySQL clients under kills

class InsertClient:
    """INSERT + SELECT through the proxy in a loop; reconnects on any error.

    Every call is bounded by the client's connect/read/write timeouts, and the
    longest call is recorded: a hang shows as a call near CLIENT_TIMEOUT_S.
    """

    def __init__(self, px, number):
        self.px = px
        self.number = number
        self.acked = []                 # ids whose autocommit INSERT returned OK
        self.last_ack_at = 0.0
        self.errors = []                # (monotonic time, errno, message)
        self.longest_call = 0.0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, fn, *args):
        t = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.longest_call = max(self.longest_call, time.monotonic() - t)

    def _connect(self):
        return mysql_connect(self.px.host, self.px.port, self.px.user, self.px.password,
                             self.px.db, connect_timeout=CLIENT_TIMEOUT_S,
                             read_timeout=CLIENT_TIMEOUT_S, write_timeout=CLIENT_TIMEOUT_S)

    def _run(self):
        conn = None
        seq = 0
        while not self.stop_flag.is_set():
            row_id = self.number * 10_000_000 + seq
            seq += 1
            try:
                if conn is None:
                    conn = self._call(self._connect)
                cur = conn.cursor()
                self._call(cur.execute, 'INSERT INTO survival (id, client) VALUES (%s, %s)',
                           (row_id, self.number))
                self.acked.append(row_id)
                self.last_ack_at = time.monotonic()
                self._call(cur.execute, 'SELECT COUNT(*) FROM survival WHERE client = %s',
                           (self.number,))
                cur.fetchall()
            except MySQLdb.Error as e:
                code = e.args[0] if e.args else None
                message = e.args[1] if len(e.args) > 1 else str(e)
                self.errors.append((time.monotonic(), code, message))
                if conn is not None:
                    try:
                        conn.close()
                    except MySQLdb.Error:
                        pass
                conn = None
                time.sleep(0.05)
            time.sleep(0.01)
        if conn is not None:
            conn.close()


def _fresh_select(px):
    """True once a new client is served through the proxy."""
    try:
        conn = px.connect(connect_timeout=3, read_timeout=5, write_timeout=5)
    except MySQLdb.Error:
        return False
    try:
        cur = conn.cursor()
        cur.execute('SELECT 1')
        return cur.fetchall() == ((1,),)
    except MySQLdb.Error:
        return False
    finally:
        conn.close()


def test_backend_killed_and_restarted_under_load():
    with MariaDB(name='survival-db') as db, \
            Proxy(db, name='survival-px', config={'proxy': {'backend_tls': 'disable'}}) as px:
        db.query('CREATE TABLE test.survival (id BIGINT PRIMARY KEY, client INT NOT NULL, '
                 'at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6))')
        clients = [InsertClient(px, n) for n in range(1, 4)]
        for c in clients:
            c.thread.start()
        starts, resumes, loads = [], [], []
        try:
            for cycle in range(KILLS):
                # Load runs against a healthy backend for a moment, then it dies.
                before = [len(c.acked) for c in clients]
                wait_for(lambda: all(len(c.acked) > n + 5 for c, n in zip(clients, before)),
                         slow(RESUME_BOUND_S), 'every client to get INSERTs acknowledged')
                db.kill()
                time.sleep(0.5)
                check(px.alive(), 'the proxy exited after backend kill %d' % (cycle + 1))
                t = time.monotonic()
                db.start()
                up = time.monotonic()
                starts.append(up - t)
                wait_for(lambda: _fresh_select(px), slow(RESUME_BOUND_S),
                         'a new client served after restart %d' % (cycle + 1), interval=0.1)
                resumes.append(time.monotonic() - up)
                wait_for(lambda: all(c.last_ack_at > up for c in clients), slow(RESUME_BOUND_S),
                         'every load client acknowledged again after restart %d' % (cycle + 1),
                         interval=0.05)
                loads.append(time.monotonic() - up)
        finally:
            for c in clients:
                c.stop_flag.set()
            for c in clients:
                c.thread.join(CLIENT_TIMEOUT_S * 3)
        check(not any(c.thread.is_alive() for c in clients), 'a client call hangs')
        check(px.alive(), 'the proxy exited')

        acked = [i for c in clients for i in c.acked]
        present = {row[0] for row in db.query('SELECT id FROM test.survival')}
        lost = sorted(set(acked) - present)
        errors = [e for c in clients for e in c.errors]
        by_code = {}
        for _, code, _ in errors:
            by_code[code] = by_code.get(code, 0) + 1
        naming_backend = [m for _, _, m in errors if db.addr in m or 'backend' in m.lower()]
        longest = max(c.longest_call for c in clients)
        note('%d kills: mariadbd restart %.2f s median (max %.2f); a new client served '
             '%.2f s median (max %.2f) after it; all load clients again within %.2f s max'
             % (KILLS, statistics.median(starts), max(starts), statistics.median(resumes),
                max(resumes), max(loads)))
        note('%d INSERTs acknowledged, %d rows in the table, %d lost; client errors by code %s '
             '(%d name the backend); longest client call %.2f s'
             % (len(acked), len(present), len(lost), by_code, len(naming_backend), longest))
        if naming_backend:
            note('e.g. "%s"' % naming_backend[0])
        check_eq(lost[:10], [], 'acknowledged INSERTs missing after the restarts')
        check(errors, 'no client saw an error across %d backend kills' % KILLS)
        check(naming_backend, 'no client error named the backend: %s' % errors[:3])
        check(longest < slow(CLIENT_TIMEOUT_S) - 1,
              'a client call took %.1f s: a hang ended by the client timeout' % longest)


test_backend_killed_and_restarted_under_load.timeout = 60 + KILLS * 30


# ---------------------------------------------------------------- etcd leader flapping

def _proxy_leader(px):
    return ((px.ctl('leader', 'etcd').get('leader') or {}).get('leader'))


def _member_follows(cluster, name, leader_name):
    """True when member `name`, asked directly, names `leader_name` as its leader."""
    try:
        ids = {v: k for k, v in cluster.member_ids().items()}
        return cluster.status(name).get('leader') == ids.get(leader_name)
    except Exception:       # a member that cannot answer yet is not following
        return False


def test_etcd_leader_partitioned_and_healed():
    px, cluster, ports = start_proxied_etcd('survival-etcd-px')
    writer = None
    elections, rejoins = [], []
    started = time.monotonic()
    try:
        writer = EtcdWriter(cluster, '/survival/').start()
        for cycle in range(PARTITIONS):
            old = cluster.wait_leader(timeout=slow(15))
            wait_for(lambda: _proxy_leader(px) == old, slow(10),
                     'ddlproxy discovery to name %s (cycle %d)' % (old, cycle + 1), interval=0.1)
            acked_before = writer.count()
            fid = 'flap%d' % cycle
            reply = px.ctl('fault', 'add', 'leader:etcd', 'partition', 'name=' + fid)
            check(reply.get('ok'), 'fault add refused: %s' % reply.get('error'))
            t = time.monotonic()
            listed = [(f['id'], f.get('resolved_members')) for f in px.ctl('fault', 'list')['faults']]
            check_eq(listed, [(fid, [old])], 'the partition of cycle %d acts on the leader' % (cycle + 1))
            new = cluster.wait_leader(timeout=slow(15), exclude=(old,), not_member=old)
            elections.append(time.monotonic() - t)
            reply = px.ctl('fault', 'del', fid)
            check(reply.get('ok') and reply.get('removed') == 1, 'fault del %s: %r' % (fid, reply))
            t = time.monotonic()
            wait_for(lambda: _member_follows(cluster, old, new), slow(15),
                     '%s to follow %s after healing (cycle %d)' % (old, new, cycle + 1),
                     interval=0.1)
            rejoins.append(time.monotonic() - t)
            wait_for(lambda: writer.count() > acked_before, slow(15),
                     'the writer to get a put acknowledged in cycle %d' % (cycle + 1))
            check(px.alive(), 'the proxy exited in cycle %d' % (cycle + 1))
        writer.stop()
        total = time.monotonic() - started
        missing = {}

        def all_present():
            missing.update(missing_on_members(cluster, writer.acked, '/survival/'))
            return all(v == 0 for v in missing.values())

        wait_for(all_present, slow(30), 'every acknowledged key on all three members', interval=0.5)
        note('%d partition cycles in %.1f s: new leader after %.2f s median (max %.2f), old '
             'leader following again %.2f s median (max %.2f) after healing'
             % (PARTITIONS, total, statistics.median(elections), max(elections),
                statistics.median(rejoins), max(rejoins)))
        note('%d keys acknowledged (%d puts failed or timed out, writer moved %d times); '
             'missing per member: %s' % (len(writer.acked), writer.failed, writer.switches, missing))
        check_eq(px.ctl('fault', 'list')['faults'], [], 'faults left after the cycles')
    finally:
        if writer is not None:
            writer.stop_flag.set()
        cluster.stop_all()
        for p in ports:
            p.release()


test_etcd_leader_partitioned_and_healed.timeout = 120 + PARTITIONS * 20


if __name__ == '__main__':
    if not os.path.exists('/usr/bin/etcd') and not os.environ.get('ETCD_BIN'):
        print('skip: etcd is not installed (Debian etcd-server)')
        print('0 passed, 0 failed')
        sys.exit(0)
    run_tests(globals())
