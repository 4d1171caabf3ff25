#!/bin/bash
# ddl_tracking.sh - what DDL tracking costs the backend and how fast it sees
# a state change, with 1, 10 and 100 concurrent active DDLs on MariaDB.
#
#   bench/ddl_tracking.sh [--counts "1 10 100"] [--poll-ms 100] [--window S]
#
# For each count N: N tables, a transaction holding a metadata lock on all of
# them, N clients each running ALTER TABLE t_i ADD INDEX ..., ALGORITHM=INPLACE
# through ddlproxy (all queue on the lock). While all N wait, for --window seconds it
# measures the tracker's queries to the backend twice: from the proxy's own
# counters ('stats' -> ddl.queries / ddl.polls) and from the server
# (information_schema.USER_STATISTICS of the tracker's dedicated user,
# userstat=ON). Then it releases the lock and reads, from each DDL's record,
# the time of its first transition out of "queueing": detection delay =
# that time - the lock release. Targets: queries per poll independent of N;
# detection delay <= poll interval + 10 ms.
#
# It starts its own MariaDB and ddlproxy on free loopback ports (the fixtures
# of tests/integration/harness.py). Find the binary as the tests do: run it
# from the build directory, or set DDLPROXY_BUILDDIR or DDLPROXY_BIN.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${DDLPROXY_BUILDDIR:-}" ] && [ -z "${DDLPROXY_BIN:-}" ] && [ -x ./ddlproxy ]; then
    export DDLPROXY_BUILDDIR=$PWD
fi
command -v mariadbd >/dev/null || { echo "ddl_tracking.sh: mariadbd is not installed" >&2; exit 1; }
export BENCH_HARNESS_DIR="$here/../tests/integration"
exec /usr/bin/python3 - "$@" <<'PY'
import argparse
import datetime
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.environ['BENCH_HARNESS_DIR'])
from harness import MariaDB, Proxy, wait_for, mysql_connect  # noqa: E402

import MySQLdb  # noqa: E402

ap = argparse.ArgumentParser(prog='ddl_tracking.sh')
ap.add_argument('--counts', default='1 10 100')
ap.add_argument('--poll-ms', type=int, default=100)
ap.add_argument('--window', type=float, default=3.0)
args = ap.parse_args()
counts = [int(x) for x in args.counts.split()]
TRACKER_USER, TRACKER_PASSWORD = 'ddlp_tracker', 'tracker-pw'


def ts(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def tracker_queries(db):
    """The tracker user's statements as the server counted them."""
    rows = db.query("SELECT SELECT_COMMANDS + UPDATE_COMMANDS + OTHER_COMMANDS "
                    "FROM information_schema.USER_STATISTICS WHERE USER = '%s'" % TRACKER_USER)
    return int(rows[0][0]) if rows else 0


def proxy_stats(proxy):
    st = proxy.admin('stats')['stats']['ddl']
    return st['queries'], st['polls']


def run(n, db, proxy):
    tables = ['bt%d_%d' % (n, i) for i in range(n)]
    # The copy must outlast a poll interval; 100 concurrent copies on a small
    # machine progress slowly anyway, and more rows only saturate the CPU.
    rows_per_table = max(4000, 400000 // n)
    root = db.root()
    cur = root.cursor()
    for t in tables:
        cur.execute('CREATE TABLE test.%s (id INT PRIMARY KEY AUTO_INCREMENT, c INT, d VARCHAR(32))' % t)
        cur.execute("INSERT INTO test.%s (c, d) SELECT seq, 'x' FROM test.seq_1_to_%d" % (t, rows_per_table))
    root.commit()
    holder = db.connect()
    holder.autocommit(False)
    hc = holder.cursor()
    hc.execute('BEGIN')
    for t in tables:
        hc.execute('SELECT id FROM %s LIMIT 1' % t)
        hc.fetchall()
    clients = [proxy.connect() for _ in tables]
    errors = []

    def alter(conn, table):
        try:
            # INPLACE waits for the exclusive lock before it starts and then
            # builds the index ("altering table"): the change to detect.
            conn.cursor().execute('ALTER TABLE %s ADD INDEX ic (c), ALGORITHM=INPLACE' % table)
        except MySQLdb.MySQLError as e:
            errors.append(e)
    threads = [threading.Thread(target=alter, args=(c, t)) for c, t in zip(clients, tables)]
    for th in threads:
        th.start()

    def all_queued():
        active = proxy.admin('ddl list active')['ddls']
        mine = [d for d in active if d['table'] in tables]
        return len(mine) == n and all(d['state'] == 'queueing' for d in mine) and mine
    active = wait_for(all_queued, 60, 'all %d DDLs queueing' % n)
    ids = {d['id'] for d in active}

    q0, p0, s0, t0 = *proxy_stats(proxy), tracker_queries(db), time.monotonic()
    time.sleep(args.window)
    q1, p1, s1, t1 = *proxy_stats(proxy), tracker_queries(db), time.monotonic()

    released = time.time()
    holder.commit()
    for th in threads:
        th.join(600)
    for c in clients:
        c.close()
    holder.close()

    def records():
        recs = [r for r in proxy.ddl_records('ddl') if r['id'] in ids]
        return recs if len(recs) == n else None
    recs = wait_for(records, 60, 'all %d records' % n)
    delays, unseen = [], 0
    for r in recs:
        after = [t for t in r['transitions'] if t['state'] != 'queueing' and ts(t['at']) >= released]
        if after:
            delays.append((ts(after[0]['at']) - released) * 1000.0)
        else:
            unseen += 1
    secs = t1 - t0
    polls = p1 - p0
    return {
        'n': n, 'polls_per_s': polls / secs,
        'proxy_qps': (q1 - q0) / secs, 'server_qps': (s1 - s0) / secs,
        'queries_per_poll': (q1 - q0) / polls if polls else float('nan'),
        'delay_med': statistics.median(delays) if delays else float('nan'),
        'delay_max': max(delays) if delays else float('nan'),
        'unseen': unseen, 'errors': len(errors),
    }


with MariaDB(args=('--max-connections=500',)) as db:
    root = db.root()
    cur = root.cursor()
    cur.execute("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'" % (TRACKER_USER, TRACKER_PASSWORD))
    cur.execute("GRANT PROCESS ON *.* TO '%s'@'%%'" % TRACKER_USER)
    cur.execute('SET GLOBAL userstat = ON')
    root.close()
    config = {'tracker': {'user': TRACKER_USER, 'password': TRACKER_PASSWORD,
                          'poll_interval_ms': args.poll_ms, 'stuck_after_ms': 600000}}
    with Proxy(db, config) as proxy:
        results = [run(n, db, proxy) for n in counts]

target = args.poll_ms + 10
print()
print('poll_interval_ms=%d, window %.1f s; detection delay = first non-queueing '
      'transition - lock release' % (args.poll_ms, args.window))
print('%6s %8s %10s %11s %9s %11s %11s %7s %7s' % (
    'ddls', 'polls/s', 'proxy q/s', 'server q/s', 'q/poll', 'delay med', 'delay max', 'unseen', 'errors'))
for r in results:
    print('%6d %8.1f %10.1f %11.1f %9.2f %9.1fms %9.1fms %7d %7d' % (
        r['n'], r['polls_per_s'], r['proxy_qps'], r['server_qps'], r['queries_per_poll'],
        r['delay_med'], r['delay_max'], r['unseen'], r['errors']))
qpp = [r['queries_per_poll'] for r in results]
flat = max(qpp) - min(qpp) < 0.05
fast = all(r['delay_max'] <= target for r in results)
print('queries per poll independent of the number of DDLs: %s' % ('yes' if flat else 'NO'))
print('detection delay <= %d ms (poll interval + 10 ms): %s' % (target, 'yes' if fast else 'NO'))
# BENCH_SUMMARY=FILE (bench/run-all.sh): name|metric|ddlproxy|baseline_name|baseline|ratio
if os.environ.get('BENCH_SUMMARY'):
    with open(os.environ['BENCH_SUMMARY'], 'a') as f:
        first = results[0]
        for r in results:
            f.write('ddl_tracking|queries_per_poll_%dddls|%.3f|%d ddls|%.3f|%.3f\n' % (
                r['n'], r['queries_per_poll'], first['n'], first['queries_per_poll'],
                r['queries_per_poll'] / first['queries_per_poll']))
            f.write('ddl_tracking|detection_delay_max_ms_%dddls|%.1f|poll+10ms|%d|%.3f\n' % (
                r['n'], r['delay_max'], target, r['delay_max'] / target))
sys.exit(0 if flat and fast and not any(r['errors'] for r in results) else 1)
PY
