#!/usr/bin/python3
"""test_faults_etcd.py - fault injection on a real 3-member etcd cluster.

Every etcd member advertises ddlproxy's listeners as its client AND peer URLs,
so the cluster forms, elects and replicates THROUGH the proxy:

    member   listens on (its own address)   advertises (proxy listeners)
    etcd1    127.0.0.21:C1 / 127.0.0.21:P1   127.0.0.11:c1 / 127.0.0.11:p1
    etcd2    127.0.0.22:...                  127.0.0.12:...
    etcd3    127.0.0.23:...                  127.0.0.13:...

Each endpoint's `address` is its member's own address (127.0.0.2N). On one
host a member's OUTGOING connections still come from 127.0.0.1 (etcd has no
source-address option and the kernel picks 127.0.0.1 for any 127/8
destination), so partition's second step (stall connections whose source is
the member's address) matches none of etcd's own traffic here: a partition
cuts the member's inbound traffic (its client and peer listeners) and not the
connections it dials itself. That is still enough for a real leader change,
which the test checks; the source-address step is checked with a client that
binds 127.0.0.2N itself.

    /usr/bin/python3 tests/integration/test_faults_etcd.py [NAME ...]

Needs etcd/etcdctl (Debian etcd-server, etcd-client) and the ddlproxy
binaries (see harness.py). Uses only loopback addresses.
"""

import base64
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Proxy, fault_add, fault_del, TestFailure, check, check_eq, free_port,  # noqa: E402
                     run_tests, wait_for)
from etcd_cluster import ETCDCTL_BIN, EtcdCluster  # noqa: E402

NAMES = ('etcd1', 'etcd2', 'etcd3')
UNUSED_BACKEND = '127.0.0.1:1'      # the MySQL leg is not used here


def proxy_ip(i):
    return '127.0.0.%d' % (11 + i)


def member_ip(i):
    return '127.0.0.%d' % (21 + i)


def note(text):
    print('   ' + text)


def b64(text):
    return base64.b64encode(text.encode()).decode()


# ---------------------------------------------------------------- v3 gateway client

class Gateway:
    """etcd's v3 JSON gateway over ONE keep-alive HTTP/1.1 connection."""

    def __init__(self, hostport, timeout=10.0):
        host, port = hostport.rsplit(':', 1)
        self.hostport = hostport
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def call(self, path, body):
        self.conn.request('POST', path, json.dumps(body), {'Content-Type': 'application/json'})
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise TestFailure('%s %s: HTTP %d %s' % (self.hostport, path, resp.status, data[:300]))
        return json.loads(data)

    def put(self, key, value):
        return int(self.call('/v3/kv/put', {'key': b64(key), 'value': b64(value)})
                   ['header']['revision'])

    def get(self, key, serializable=False):
        reply = self.call('/v3/kv/range', {'key': b64(key), 'serializable': serializable})
        kvs = reply.get('kvs') or []
        return base64.b64decode(kvs[0]['value']).decode() if kvs else None

    def range_prefix(self, prefix, serializable=True):
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        reply = self.call('/v3/kv/range', {'key': b64(prefix), 'range_end': b64(end),
                                           'serializable': serializable})
        return {base64.b64decode(kv['key']).decode(): base64.b64decode(kv['value']).decode()
                for kv in reply.get('kvs') or []}

    def close(self):
        self.conn.close()


class Watch:
    """A /v3/watch stream on a key prefix, read by a thread; events land in .events."""

    def __init__(self, hostport, prefix):
        host, port = hostport.rsplit(':', 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        self.conn.request('POST', '/v3/watch', json.dumps(
            {'create_request': {'key': b64(prefix), 'range_end': b64(end)}}))
        self.resp = self.conn.getresponse()
        check_eq(self.resp.status, 200, 'watch HTTP status')
        self.events = []        # (arrival time, key, value, mod_revision)
        self.created = threading.Event()
        self.error = None
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        check(self.created.wait(10), 'the watch was not created within 10 s')

    def _read(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                if not line.strip():
                    continue
                result = json.loads(line)['result']
                if result.get('created'):
                    self.created.set()
                for ev in result.get('events') or []:
                    kv = ev['kv']
                    with self.lock:
                        self.events.append((time.monotonic(), base64.b64decode(kv['key']).decode(),
                                            base64.b64decode(kv.get('value', '')).decode(),
                                            int(kv['mod_revision'])))
        except Exception as e:      # reported by the test through .error
            self.error = e

    def count(self):
        with self.lock:
            return len(self.events)

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------- fixtures

def setup_module():
    ports = {}
    listen, advertise, sections = {}, {}, {'group etcd': {'leader': 'etcd'}}
    for i, name in enumerate(NAMES):
        mc, mp, pc, pp = (free_port() for _ in range(4))
        ports[name] = (mc, mp, pc, pp)
        listen[name] = {'client': '%s:%d' % (member_ip(i), mc), 'peer': '%s:%d' % (member_ip(i), mp)}
        advertise[name] = {'client': 'http://%s:%d' % (proxy_ip(i), pc),
                           'peer': 'http://%s:%d' % (proxy_ip(i), pp)}
        for role, lport, upstream in (('client', pc, listen[name]['client']),
                                      ('peer', pp, listen[name]['peer'])):
            sections['endpoint %s-%s' % (name, role)] = {
                'group': 'etcd', 'member': name, 'role': role,
                'listen': '%s:%d' % (proxy_ip(i), lport), 'upstream': upstream,
                'address': member_ip(i)}
    px = Proxy(UNUSED_BACKEND, name='faults-etcd', config=sections)
    cluster = EtcdCluster(listen=listen, advertise=advertise, start_timeout=60)
    cluster.start()
    return {'px': px, 'cluster': cluster, 'ports': ports}


def teardown_module():
    for cluster in list(EtcdCluster._live):
        cluster.stop_all()


def proxy_client(cluster, name):
    """host:port of the member's advertised client URL: the proxy's listener."""
    return cluster.members[name].advertise_client.split('://', 1)[1]


def direct_client(cluster, name):
    return cluster.members[name].listen_client.split('://', 1)[1]


def endpoints(px):
    return {ep['name']: ep for ep in px.ctl('endpoint', 'list')['endpoints']}


def wait_proxy_leader(px, name, timeout=10):
    """Waits until ddlproxy's discovery names `name`; the failure shows its last answer."""
    last = {}

    def agrees():
        last['reply'] = px.ctl('leader', 'etcd')
        return (last['reply'].get('leader') or {}).get('leader') == name

    try:
        wait_for(agrees, timeout, 'ddlproxy discovery to name %s' % name, interval=0.2)
    except TestFailure as e:
        raise TestFailure('%s; last answer of "leader etcd": %s' % (e, json.dumps(last.get('reply'))))


def etcdctl_get_seconds(hostport, key):
    env = dict(os.environ, ETCDCTL_API='3')
    t = time.monotonic()
    res = subprocess.run([ETCDCTL_BIN, '--endpoints', 'http://' + hostport, '--dial-timeout', '3s',
                          '--command-timeout', '5s', 'get', key], capture_output=True, text=True,
                         timeout=20, env=env)
    elapsed = time.monotonic() - t
    check_eq(res.returncode, 0, 'etcdctl get via %s (%s)' % (hostport, res.stderr.strip()))
    return elapsed


def clear_faults(px):
    if px.alive():
        px.ctl('fault', 'clear')


# ---------------------------------------------------------------- tests

def test_cluster_formed_through_proxy(px, cluster):
    members = cluster.member_list()
    check_eq(sorted(m['name'] for m in members), list(NAMES), 'member names')
    for m in members:
        i = NAMES.index(m['name'])
        check_eq(m['peerURLs'], [cluster.members[m['name']].advertise_peer], 'peer URLs of ' + m['name'])
        check_eq(m['clientURLs'], [cluster.members[m['name']].advertise_client],
                 'client URLs of ' + m['name'])
        check(cluster.members[m['name']].advertise_peer.startswith('http://' + proxy_ip(i)),
              'peer URL is not the proxy listener')
    eps = endpoints(px)
    for name in NAMES:
        peer = eps[name + '-peer']
        check(peer['conns_total'] >= 2 and peer['bytes_up'] > 0 and peer['bytes_down'] > 0,
              'raft traffic of %s did not pass the proxy: %r' % (name, peer))
    leader = cluster.leader()
    check(leader in NAMES, 'no leader')
    wait_proxy_leader(px, leader)
    gw = Gateway(proxy_client(cluster, NAMES[0]))
    gw.put('/formed', 'yes')
    gw.close()
    for name in NAMES:
        check_eq(Gateway(direct_client(cluster, name)).get('/formed'), 'yes', 'read at ' + name)


def test_delay_adds_100ms_round_trip(px, cluster):
    name = NAMES[1]
    gw = Gateway(proxy_client(cluster, name))
    gw.put('/delay/key', 'v')
    runs = 30

    def timed():
        out = []
        for _ in range(runs):
            t = time.monotonic()
            check_eq(gw.get('/delay/key'), 'v', 'value read through the proxy')
            out.append((time.monotonic() - t) * 1e3)
        return out

    timed()                     # warm up the connection and the member
    base = timed()
    ctl_base = [etcdctl_get_seconds(proxy_client(cluster, name), '/delay/key') for _ in range(5)]
    fid = fault_add(px, name + '-client', 'delay', 'ms=50', 'direction=both')
    try:
        delayed = timed()
        ctl_delayed = [etcdctl_get_seconds(proxy_client(cluster, name), '/delay/key')
                       for _ in range(5)]
    finally:
        fault_del(px, fid)
    added = statistics.median(delayed) - statistics.median(base)
    ctl_added = (statistics.median(ctl_delayed) - statistics.median(ctl_base)) * 1e3
    note('gateway range over one connection: median %.2f ms -> %.2f ms (+%.2f ms), '
         'min delayed %.2f ms' % (statistics.median(base), statistics.median(delayed), added,
                                  min(delayed)))
    note('etcdctl get (new process, gRPC dial): median +%.1f ms' % ctl_added)
    check(100.0 <= added <= 105.0, 'delay ms=50 direction=both added %.2f ms at the median, '
          'want 100..105' % added)
    check(min(delayed) >= 100.0, 'a delayed round trip took only %.2f ms' % min(delayed))
    check(ctl_added >= 100.0, 'etcdctl get took only %.1f ms more under the delay' % ctl_added)
    after = timed()
    check(statistics.median(after) < statistics.median(base) + 5,
          'round trip after healing: %.2f ms' % statistics.median(after))
    gw.close()


def test_stall_watch_loses_nothing(px, cluster):
    name = NAMES[2]
    watch = Watch(proxy_client(cluster, name), '/stall/')
    writer = Gateway(direct_client(cluster, NAMES[0]))
    try:
        writer.put('/stall/before', 'b')
        wait_for(lambda: watch.count() == 1, 5, 'the first event before the stall')
        fid = fault_add(px, name + '-client', 'stall', 'duration=3s')
        t0 = time.monotonic()
        expected = []
        i = 0
        while time.monotonic() - t0 < 2.5:
            value = '%05d:' % i + os.urandom(300).hex()
            rev = writer.put('/stall/k%05d' % i, value)
            expected.append(('/stall/k%05d' % i, value, rev))
            i += 1
        check_eq(watch.count(), 1, 'events that passed the stalled endpoint')
        check(len(expected) >= 20, 'only %d writes during the stall' % len(expected))
        wait_for(lambda: watch.count() == 1 + len(expected) or watch.error, 10,
                 'the watch to catch up after the stall')
        healed = time.monotonic() - t0
        check(watch.error is None, 'watch stream broke: %r' % watch.error)
        check(px.ctl('fault', 'list')['faults'] == [], 'the stall did not end by itself')
        got = [(k, v, rev) for _, k, v, rev in watch.events[1:]]
        check_eq(len(got), len(expected), 'events after healing')
        check(got == expected, 'events differ (lost, reordered or corrupted): first difference at %r'
              % next(((g, e) for g, e in zip(got, expected) if g != e), None))
        first_after = watch.events[1][0] - t0
        note('%d writes during the 3 s stall; first event delivered %.2f s after the stall began, '
             'all %.2f s after' % (len(expected), first_after, healed))
        check(first_after >= 2.9, 'an event passed the stall after %.2f s' % first_after)
        check_eq(fid in [f['id'] for f in px.ctl('fault', 'list')['faults']], False, 'fault ended')
    finally:
        watch.close()
        writer.close()
        clear_faults(px)


def test_connection_faults_on_client_endpoint(px, cluster):
    name = NAMES[0]
    hostport = proxy_client(cluster, name)

    def fresh_request(timeout=1.5):
        gw = Gateway(hostport, timeout=timeout)
        try:
            return 'ok' if gw.get('/formed') == 'yes' else 'wrong value'
        except socket.timeout:
            return 'timeout'
        except (ConnectionError, http.client.HTTPException, OSError) as e:
            return 'error: %s' % e.__class__.__name__
        finally:
            gw.close()

    Gateway(hostport).put('/formed', 'yes')
    check_eq(fresh_request(), 'ok', 'request before any fault')
    try:
        for action, expect in (('refuse', 'error'), ('reset', 'error'), ('hang_connect', 'timeout')):
            kept = Gateway(hostport)
            check_eq(kept.get('/formed'), 'yes', 'kept connection before ' + action)
            fid = fault_add(px, name + '-client', action)
            result = fresh_request()
            check(result.startswith(expect), '%s: a new request gave %r, want %s' % (action, result, expect))
            if action == 'reset':
                broken = False
                try:
                    kept.get('/formed')
                except (ConnectionError, http.client.HTTPException, OSError):
                    broken = True
                check(broken, 'reset: an open connection still answered')
            else:
                check_eq(kept.get('/formed'), 'yes', action + ': an open connection')
            fault_del(px, fid)
            check_eq(fresh_request(), 'ok', 'request after ' + action + ' was removed')
            kept.close()
            note('%s: new request -> %s' % (action, result))
    finally:
        clear_faults(px)


def test_partition_leader(px, cluster):
    old = cluster.wait_leader(timeout=10)
    wait_proxy_leader(px, old)
    old_i = NAMES.index(old)
    others = [n for n in NAMES if n != old]
    acked = {}
    gw = Gateway(proxy_client(cluster, old))
    for i in range(10):
        acked['/part/before%02d' % i] = 'b%d' % i
        gw.put('/part/before%02d' % i, 'b%d' % i)
    gw.close()

    fid = fault_add(px, 'leader:etcd', 'partition', 'name=cut')
    t0 = time.monotonic()
    try:
        new = cluster.wait_leader(timeout=10, exclude=(old,), not_member=old)
        elected = time.monotonic() - t0
        note('partition of %s: %s elected after %.2f s' % (old, new, elected))
        check(elected <= 10, 'new leader after %.1f s' % elected)
        listed = px.ctl('fault', 'list')['faults']
        check_eq([(f['id'], f['resolved_members']) for f in listed], [('cut', [old])],
                 'the partition acts on the old leader')
        # Writes through the new leader's proxy listener.
        gw = Gateway(proxy_client(cluster, new))
        for i in range(20):
            key, value = '/part/during%02d' % i, 'd%d' % i
            gw.put(key, value)
            acked[key] = value
        gw.close()
        # Clients of the old leader through the proxy hang.
        cut = Gateway(proxy_client(cluster, old), timeout=1.0)
        try:
            cut.get('/part/before00')
            raise TestFailure('a request to the partitioned %s was answered' % old)
        except socket.timeout:
            pass
        finally:
            cut.close()
        # Step 2 (source address): a connection FROM the old leader's address to
        # another member's listener is held; the same from 127.0.0.1 is served.
        peer_hostport = proxy_client(cluster, others[0])
        h, p = peer_hostport.rsplit(':', 1)
        for source, want_answer in ((member_ip(old_i), False), ('127.0.0.1', True)):
            s = socket.socket()
            s.bind((source, 0))
            s.settimeout(1.5)
            s.connect((h, int(p)))
            s.sendall(b'GET /version HTTP/1.0\r\n\r\n')
            try:
                answered = bool(s.recv(100))
            except socket.timeout:
                answered = False
            s.close()
            check_eq(answered, want_answer, 'request from %s to %s answered' % (source, others[0]))
        wait_proxy_leader(px, new)
    finally:
        clear_faults(px)

    # After healing the old member rejoins and has every acknowledged write.
    def converged():
        for name in NAMES:
            try:
                have = Gateway(direct_client(cluster, name), timeout=2).range_prefix('/part/')
            except (OSError, TestFailure, http.client.HTTPException):
                return False
            if have != acked:
                return False
        return True

    t1 = time.monotonic()
    wait_for(converged, 20, 'all three members to hold every acknowledged write')
    note('old leader %s caught up %.2f s after healing' % (old, time.monotonic() - t1))
    status = cluster.status(old)
    check(status.get('leader'), '%s knows no leader after healing' % old)
    gw = Gateway(proxy_client(cluster, old))
    gw.put('/part/after', 'a')
    check_eq(gw.get('/part/after'), 'a', 'write and read through the rejoined member')
    gw.close()


test_partition_leader.timeout = 120


if __name__ == '__main__':
    if not os.path.exists('/usr/bin/etcd') and not os.environ.get('ETCD_BIN'):
        print('skip: etcd is not installed (Debian etcd-server)')
        print('0 passed, 0 failed')
        sys.exit(0)
    run_tests(globals())
