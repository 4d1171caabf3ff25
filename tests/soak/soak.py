#!/usr/bin/python3
"""soak.py - a long run of ddlproxy under load and random faults (not part of CI).

    /usr/bin/python3 tests/soak/soak.py [MINUTES] [--threads N] [--seed N] [--verbose]

For MINUTES (default 30) it runs, all at once:
  - sysbench oltp_read_write through the proxy's MySQL leg (MariaDB behind it);
  - a probe: `SELECT 1` through the proxy every second on one connection;
  - DDLs through the proxy: ALTER TABLE ADD INDEX / DROP INDEX on a side table
    every 20 s (tracked by the proxy: the latency log must get one record each);
  - an etcd writer putting keys through the proxy's etcd client listeners;
  - random faults (delay, stall, partition with short durations) on the etcd
    endpoints, members and leader through ddlproxyctl.
Every minute it prints the proxy's RSS, open fds and connection counts.

At the end it prints the series, the fault and DDL counts, sysbench's result,
and checks: the proxy never crashed, no error on the MySQL leg (sysbench exit
status 0 with no reconnects, no probe or DDL error), one latency-log record
per DDL, every acknowledged etcd key on all three members, and the RSS and fd
series flat (last RSS within 1.5x + 4 MiB of minute 1's; at rest after the
run, fds other than the two per open session or relay at most 2 above their
count before the load). Exit status 0 when all hold.

Binaries as for the integration tests (DDLPROXY_BIN or DDLPROXY_BUILDDIR, or
run from the build directory). Uses only loopback addresses; ports are picked
and locked like the integration tests', so it can run beside them.
"""

import argparse
import datetime
import os
import random
import re
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'integration'))
from harness import MariaDB, close_all, sysbench  # noqa: E402
from test_survival import (ETCD_NAMES, EtcdWriter, missing_on_members,  # noqa: E402
                           start_proxied_etcd)
import MySQLdb  # noqa: E402

SB_DB = 'sbsoak'
SB_TABLES = 4
SB_TABLE_SIZE = 10000
DDL_EVERY_S = 20
SLOW_PROBE_S = 0.2
ETCD_PREFIX = '/soak/'


def say(text):
    print('[%s] %s' % (time.strftime('%H:%M:%S'), text), flush=True)


def proc_status(pid):
    """(VmRSS in KiB, open fd count) of a live process."""
    rss = 0
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith('VmRSS:'):
                rss = int(line.split()[1])
    return rss, len(os.listdir('/proc/%d/fd' % pid))


def fault_end_lateness(log):
    """[(seconds late, when)] of each fault that ended by its duration, from the proxy log.

    The proxy ends a fault with a timer on its event loop: a late end means the
    loop (or the whole process) did not run for that long.
    """
    started, late = {}, []
    for line in log.splitlines():
        m = re.match(r'(\S+)Z info  fault (\S+) .* (started|ended): (.*)', line)
        if not m:
            continue
        at = datetime.datetime.fromisoformat(m.group(1))
        if m.group(3) == 'started':
            d = re.search(r'\bduration=(\d+)s\b', m.group(4))
            if d:
                started[m.group(2)] = (at, int(d.group(1)))
        elif m.group(2) in started and 'duration elapsed' in m.group(4):
            t0, duration = started.pop(m.group(2))
            late.append(((at - t0).total_seconds() - duration, m.group(1)))
    return late


class Soak:
    def __init__(self, minutes, threads, seed, verbose=False):
        self.minutes = minutes
        self.verbose = verbose
        self.threads = threads
        self.rng = random.Random(seed)
        self.seed = seed
        self.stop = threading.Event()
        self.errors = []            # (time, where, message) on the MySQL leg
        self.lock = threading.Lock()
        self.samples = []           # (minute, rss_kib, fds, sessions, relays)
        self.faults_added = {}      # action -> count
        self.fault_errors = []
        self.ddls_ok = 0
        self.probe_ok = 0
        self.probe_latency_max = 0.0
        self.crash = None
        self.last_stats = {}
        self.quiet_sample = None

    def error(self, where, msg):
        with self.lock:
            self.errors.append((time.strftime('%H:%M:%S'), where, str(msg)))
        say('ERROR %s: %s' % (where, msg))

    # ------------------------------------------------------------ setup

    def setup(self):
        self.db = MariaDB(name='soak-db')
        self.db.query('CREATE DATABASE %s' % SB_DB)
        self.db.query('CREATE TABLE test.soak_side (id INT PRIMARY KEY AUTO_INCREMENT, '
                      'a INT NOT NULL, b VARCHAR(40) NOT NULL)')
        self.db.query('INSERT INTO test.soak_side (a, b) SELECT seq, MD5(seq) FROM test.seq_1_to_20000')
        sysbench(self.db, 'oltp_read_write', 'prepare', db=SB_DB,
                 args=['--tables=%d' % SB_TABLES, '--table-size=%d' % SB_TABLE_SIZE])
        self.px, self.cluster, self.ports = start_proxied_etcd(
            'soak-px', backend=self.db,
            extra_config={'proxy': {'backend_tls': 'disable'}})
        say('proxy pid %d on %s, MariaDB %s, etcd %s' % (
            self.px.pid, self.px.addr, self.db.addr,
            ', '.join('%s=%s' % (n, self.cluster.members[n].advertise_client)
                      for n in ETCD_NAMES)))

    # ------------------------------------------------------------ workers

    def run_sysbench(self):
        self.sb = sysbench(self.px, 'oltp_read_write', threads=self.threads,
                           time_s=self.minutes * 60, db=SB_DB, check=False,
                           args=['--tables=%d' % SB_TABLES, '--table-size=%d' % SB_TABLE_SIZE,
                                 '--report-interval=60'])

    def probe(self):
        conn = None
        while not self.stop.wait(1.0):
            t = time.monotonic()
            try:
                if conn is None:
                    conn = self.px.connect(read_timeout=10, write_timeout=10)
                cur = conn.cursor()
                cur.execute('SELECT 1')
                cur.fetchall()
                self.probe_ok += 1
                took = time.monotonic() - t
                self.probe_latency_max = max(self.probe_latency_max, took)
                if took > SLOW_PROBE_S:     # printed to line up with faults and the proxy log
                    say('slow probe: SELECT 1 took %.1f ms' % (took * 1000))
            except MySQLdb.Error as e:
                self.error('probe', e)
                conn = None

    def ddl_loop(self):
        conn = None
        have_index = False
        while not self.stop.wait(DDL_EVERY_S):
            sql = ('ALTER TABLE soak_side DROP INDEX ib' if have_index
                   else 'ALTER TABLE soak_side ADD INDEX ib (b)')
            try:
                if conn is None:
                    conn = self.px.connect(read_timeout=120, write_timeout=120)
                conn.cursor().execute(sql)
                have_index = not have_index
                self.ddls_ok += 1
            except MySQLdb.Error as e:
                self.error('ddl', '%s: %s' % (sql, e))
                conn = None

    def random_fault(self):
        """One fault spec (list of words) with a short duration."""
        members = ['member:%s' % n for n in ETCD_NAMES]
        endpoints = ['%s-%s' % (n, r) for n in ETCD_NAMES for r in ('client', 'peer')]
        action = self.rng.choice(('delay', 'delay', 'stall', 'partition'))
        if action == 'delay':
            target = self.rng.choice(endpoints + members + ['leader:etcd', 'group:etcd'])
            words = [target, 'delay', 'ms=%d' % self.rng.randint(5, 200),
                     'jitter=%d' % self.rng.randint(0, 20),
                     'duration=%ds' % self.rng.randint(2, 10)]
        elif action == 'stall':
            target = self.rng.choice(endpoints + members + ['leader:etcd'])
            words = [target, 'stall', 'duration=%ds' % self.rng.randint(1, 5)]
        else:
            target = self.rng.choice(members + ['leader:etcd', 'leader:etcd'])
            words = [target, 'partition', 'duration=%ds' % self.rng.randint(2, 8)]
        return action, words

    def fault_loop(self):
        while not self.stop.wait(self.rng.uniform(3, 12)):
            action, words = self.random_fault()
            try:
                reply = self.px.ctl('fault', 'add', *words, timeout=10)
            except Exception as e:      # a hung or broken ddlproxyctl is a finding
                self.fault_errors.append('%s: %s' % (' '.join(words), e))
                say('fault add %s: %s' % (' '.join(words), e))
                continue
            if reply.get('ok'):
                self.faults_added[action] = self.faults_added.get(action, 0) + 1
                if self.verbose:
                    say('fault %s: %s' % (reply.get('id'), ' '.join(words)))
            else:
                self.fault_errors.append('%s: %s' % (' '.join(words), reply.get('error')))
                say('fault add %s refused: %s' % (' '.join(words), reply.get('error')))

    def monitor(self):
        start = time.monotonic()
        minute = 0
        while True:
            if not self.px.alive():
                self.crash = self.px.crash_report() or 'proxy exited'
                say('CRASH: %s' % self.crash)
                self.stop.set()
                return
            rss, fds = proc_status(self.px.pid)
            try:
                stats = self.px.ctl('stats', timeout=10)
            except Exception as e:
                stats = {'error': str(e)}
            st = stats.get('stats') or {}
            sessions = (st.get('sessions') or {}).get('open')
            relays = (st.get('relays') or {}).get('conns_open')
            self.samples.append((minute, rss, fds, sessions, relays))
            self.last_stats = st
            say('minute %d: proxy RSS %d KiB, fds %d, MySQL sessions %s, relay conns %s, '
                'etcd acked %d, faults %s, DDLs %d, probe ok %d' % (
                    minute, rss, fds, sessions, relays, self.writer.count(),
                    sum(self.faults_added.values()), self.ddls_ok, self.probe_ok))
            minute += 1
            if self.stop.wait(max(0, start + minute * 60 - time.monotonic())):
                return

    # ------------------------------------------------------------ run

    def run(self):
        self.setup()
        self.writer = EtcdWriter(self.cluster, ETCD_PREFIX, timeout=3.0, pause=0.05).start()
        workers = [threading.Thread(target=fn, daemon=True, name=fn.__name__)
                   for fn in (self.probe, self.ddl_loop, self.fault_loop)]
        mon = threading.Thread(target=self.monitor, daemon=True)
        mon.start()
        for w in workers:
            w.start()
        self.run_sysbench()
        self.stop.set()
        for w in workers:
            w.join(150)
        mon.join(30)
        self.px.ctl('fault', 'clear', timeout=10)
        self.writer.stop()
        self.quiet_sample = self.sample_at_rest()
        return self.report()

    def sample_at_rest(self):
        """(RSS KiB, fds, sessions open, relays open) once load and faults are gone."""
        time.sleep(3)       # let closing connections and shaping timers finish
        if not self.px.alive():
            return None
        rss, fds = proc_status(self.px.pid)
        st = self.px.ctl('stats', timeout=10).get('stats') or {}
        return (rss, fds, (st.get('sessions') or {}).get('open'),
                (st.get('relays') or {}).get('conns_open'))

    def etcd_converged(self):
        deadline = time.monotonic() + 60
        while True:
            try:
                missing = missing_on_members(self.cluster, self.writer.acked, ETCD_PREFIX)
            except Exception as e:
                missing = {'error': str(e)}
            if all(v == 0 for v in missing.values()) or time.monotonic() > deadline:
                return missing
            time.sleep(1)

    def report(self):
        failures = []
        if self.crash:
            failures.append('proxy crashed: %s' % self.crash)
        sb = self.sb
        say('sysbench: exit %s, transactions %s (%s/s), queries %s, ignored errors %s, '
            'reconnects %s, p95 %s ms' % (
                sb.get('returncode'), sb.get('transactions'), sb.get('tps'), sb.get('queries'),
                sb.get('ignored_errors'), sb.get('reconnects'), sb.get('latency_p95_ms')))
        for line in sb['output'].splitlines():
            if re.match(r'\[ \d+s \]', line) or 'FATAL' in line or 'error' in line.lower():
                print('    ' + line)
        if sb.get('returncode') != 0:
            failures.append('sysbench exited with %s' % sb.get('returncode'))
        if sb.get('reconnects'):
            failures.append('sysbench reconnected %s times' % sb.get('reconnects'))
        if self.errors:
            failures.append('%d MySQL-leg errors' % len(self.errors))
        ddl_records = self.px.ddl_records('ddl')
        ok_records = [r for r in ddl_records if r.get('result') == 'ok'
                      and 'soak_side' in (r.get('statement') or '')]
        say('DDLs: %d ok through the proxy, %d ok records in the latency log' % (
            self.ddls_ok, len(ok_records)))
        if len(ok_records) != self.ddls_ok:
            failures.append('latency log has %d ok soak_side records for %d DDLs' % (
                len(ok_records), self.ddls_ok))
        say('faults added: %s; refused or failed: %d' % (self.faults_added, len(self.fault_errors)))
        if self.fault_errors:
            failures.append('%d fault commands failed: %s' % (
                len(self.fault_errors), self.fault_errors[:3]))
        missing = self.etcd_converged()
        say('etcd: %d keys acknowledged, %d puts failed (during faults), missing per member %s' % (
            len(self.writer.acked), self.writer.failed, missing))
        if any(v != 0 for v in missing.values()):
            failures.append('acknowledged etcd keys missing: %s' % missing)
        say('probe: %d ok, max latency %.1f ms' % (self.probe_ok, self.probe_latency_max * 1000))
        say('series (minute, RSS KiB, fds, MySQL sessions open, relay conns open):')
        for s in self.samples:
            print('    %3d %8d %6d %5s %5s' % s)
        sessions = self.last_stats.get('sessions') or {}
        say('proxy session counters: %s' % sessions)
        if sessions.get('backend_errors') or sessions.get('protocol_errors'):
            failures.append('proxy counted backend_errors=%s protocol_errors=%s' % (
                sessions.get('backend_errors'), sessions.get('protocol_errors')))
        if len(self.samples) >= 3:
            warm_rss, last_rss = self.samples[1][1], self.samples[-1][1]
            if last_rss > warm_rss * 1.5 + 4096:
                failures.append('RSS grew from %d KiB (minute 1) to %d KiB' % (warm_rss, last_rss))
        # Each MySQL session and each relay holds two fds (and a timerfd per
        # shaped direction while a fault shapes it): the rest must be back
        # where it was before the load once faults and load are gone.
        def other_fds(fds, sessions, relays):
            return fds - 2 * ((sessions or 0) + (relays or 0))
        if self.samples and self.quiet_sample:
            before = other_fds(*self.samples[0][2:5])
            after = other_fds(*self.quiet_sample[1:4])
            say('at rest after the run: RSS %d KiB, fds %d, sessions %s, relays %s; fds besides '
                'sessions and relays: %d before the load, %d after' % (
                    self.quiet_sample + (before, after)))
            if after > before + 2:
                failures.append('fds besides sessions and relays grew from %d to %d'
                                % (before, after))
        log = self.px.log_text()
        late = fault_end_lateness(log)
        if late:
            worst = max(late)
            say('fault ends vs. their duration (a measure of event-loop stalls): %d faults, '
                'median %.1f ms late, worst %.1f ms late at %s' % (
                    len(late), sorted(late)[len(late) // 2][0] * 1000, worst[0] * 1000, worst[1]))
        noisy = [line for line in log.splitlines() if re.search(r'Z (warn|error) ', line)]
        say('proxy log: %d bytes, %d warn/error lines%s' % (len(log), len(noisy),
                                                            ', the first ones:' if noisy else ''))
        for line in noisy[:10]:
            print('    ' + line)
        for e in self.errors[:20]:
            print('    error %s %s: %s' % e)
        if failures:
            say('SOAK FAILED: ' + '; '.join(failures))
            return 1
        say('SOAK PASSED: %d minutes, 0 crashes, 0 MySQL-leg errors' % self.minutes)
        return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('minutes', nargs='?', type=int, default=30)
    ap.add_argument('--threads', type=int, default=4)
    ap.add_argument('--seed', type=int, default=int(time.time()))
    ap.add_argument('--verbose', action='store_true', help='print every fault added')
    args = ap.parse_args()
    if args.minutes < 1:
        ap.error('MINUTES must be at least 1')
    say('soak: %d minutes, %d sysbench threads, seed %d' % (args.minutes, args.threads, args.seed))
    try:
        status = Soak(args.minutes, args.threads, args.seed, args.verbose).run()
    finally:
        for err in close_all():
            say('cleanup: %s' % err)
    sys.exit(status)


if __name__ == '__main__':
    main()
