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
import socket
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
KILLS = int(os.environ.get('SURVIVAL_KILLS') or (20 if FULL else 8))
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
