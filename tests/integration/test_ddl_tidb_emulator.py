#!/usr/bin/python3
"""DDL tracking, TiDB flavor, against the TiDB job-table EMULATOR
(tests/tidb_emulator/emulator.py), not a real TiDB cluster.

What the emulator lets us check without PD/TiKV: job matching (id floor,
query text, db/table), 7.5 and 8.5 column layouts and time precisions, phase
durations from the server's own CREATE/START/END times, schema-state
sub-phases, a scripted failure (rollingback / rollback done), poll gaps while
ADMIN queries time out (what a PD partition does), stuck records, track=all
and multi-schema-change sub-jobs. The emulator renders times in +08:00 unless
the session pins its time zone, so to_job also proves the tracker pins it.
Run: /usr/bin/python3 tests/integration/test_ddl_tidb_emulator.py [NAME ...]
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import shutil
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (Proxy, run_tests, wait_for, check, check_eq, mysql_connect,  # noqa: E402
                     HarnessError, TEST_USER, TEST_PASSWORD)

import MySQLdb  # noqa: E402

EMULATOR = os.path.join(HERE, '..', 'tidb_emulator', 'emulator.py')
POLL_MS = 100

ADD_INDEX_SCRIPT = {"steps": [["queueing", "none", 1.5], ["running", "delete only", 0.3],
                              ["running", "write only", 0.3], ["running", "write reorganization", 0.6],
                              ["running", "public", 0.1]]}


class Emulator:
    """emulator.py on a free loopback port."""

    def __init__(self, version):
        self.dir = tempfile.mkdtemp(prefix='ddlp-emu-')
        port_file = os.path.join(self.dir, 'port')
        self.log = open(os.path.join(self.dir, 'emulator.log'), 'w')
        self.proc = subprocess.Popen([sys.executable, EMULATOR, '--port', '0', '--version', version,
                                      '--port-file', port_file], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise HarnessError('emulator did not start: %s' % open(self.log.name).read())
            time.sleep(0.02)
        self.port = int(open(port_file).read())
        self.host = '127.0.0.1'
        self.addr = '127.0.0.1:%d' % self.port
        self.user, self.password, self.db = TEST_USER, TEST_PASSWORD, 'test'

    def connect(self, **kw):
        return mysql_connect(self.host, self.port, self.user, self.password, kw.pop('db', self.db), **kw)

    def control(self, sql):
        c = self.connect()
        c.cursor().execute(sql)
        c.close()

    def script(self, script):
        self.control("EMULATOR SCRIPT '%s'" % json.dumps(script))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


FIXTURES = []


def setup_module():
    fx = {}
    try:
        for name, version, config in (
                ('85', '8.5', {}),
                ('75', '7.5', {}),
                ('gap', '8.5', {'tracker': {'timeout_ms': 1000, 'stuck_after_ms': 1500}}),
                ('all', '8.5', {'tracker': {'track': 'all'}}),
                ('hist', '8.5', {'tracker': {'history_jobs': 2}})):
            emu = Emulator(version)
            FIXTURES.append(emu)
            cfg = {'proxy': {'flavor': 'auto', 'backend_tls': 'disable'},
                   'tracker': {'poll_interval_ms': POLL_MS}}
            for section, keys in config.items():
                cfg.setdefault(section, {}).update(keys)
            fx['emu' + name] = emu
            fx['p' + name] = Proxy(emu, cfg, name='ddlproxy-' + name)
    except BaseException:
        teardown_module()
        raise
    return fx


def teardown_module():
    while FIXTURES:
        FIXTURES.pop().close()


def parse_time(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def record(proxy, pred, timeout=15, what='ddl record'):
    return wait_for(lambda: next((r for r in proxy.ddl_records('ddl') if pred(r)), None), timeout, what)


def run_ddl(proxy, sql, db=None):
    c = proxy.connect(db=db) if db else proxy.connect()
    try:
        c.cursor().execute(sql)
        return None
    except MySQLdb.MySQLError as e:
        return e
    finally:
        c.close()


def check_close(actual, expected, tolerance, what):
    check(actual is not None and abs(actual - expected) <= tolerance,
          '%s: %r is not %r +- %r' % (what, actual, expected, tolerance))


def check_add_index_record(rec, precise):
    check_eq(rec['flavor'], 'tidb', 'flavor')
    check_eq(rec['kind'], 'add index', 'kind')
    check_eq(rec['result'], 'ok', 'result')
    check(isinstance(rec['job_id'], int), 'no job id: %r' % rec)
    schema_states = [t['schema_state'] for t in rec['transitions']]
    order = ['delete only', 'write only', 'write reorganization']
    seen = [s for s in schema_states if s in order]
    check_eq(sorted(set(seen), key=seen.index), order, 'schema states in order')
    check_eq(rec['transitions'][0]['state'], 'queueing', 'first state')
    check_eq(rec['transitions'][-1]['state'], 'synced', 'last state (final poll after the reply)')
    lat = rec['latency_ms']
    # Server times: exact with 8.5, within a second with 7.5's precision.
    check_close(lat['queueing'], 1500, 60 if precise else 1000, 'queueing')
    check_close(lat['running'], 1300, 100 if precise else 1000, 'running')
    check(0 <= lat['to_job'] <= 500, 'to_job %r: the tracker did not pin its time zone?' % lat['to_job'])
    by = lat['by_schema_state']
    check_close(by.get('delete only'), 300, 2 * POLL_MS + 50, 'delete only')
    check_close(by.get('write only'), 300, 2 * POLL_MS + 50, 'write only')
    check_close(by.get('write reorganization'), 600, 2 * POLL_MS + 50, 'write reorganization')
    check(rec['job'] and rec['job']['create_time'], 'no server times: %r' % rec['job'])


def test_85_add_index_phases(emu85, p85):
    emu85.script(ADD_INDEX_SCRIPT)
    err = run_ddl(p85, 'ALTER TABLE t1 ADD INDEX i1 (c)')
    check(err is None, 'DDL failed: %r' % err)
    rec = record(p85, lambda r: r['table'] == 't1')
    check_add_index_record(rec, precise=True)
    check_eq(rec['job']['comments'], 'ingest, DXF', 'COMMENTS (8.5)')
    check(rec['job']['create_time'].endswith('Z'), 'create_time %r' % rec['job']['create_time'])


def test_75_second_precision(emu75, p75):
    emu75.script(ADD_INDEX_SCRIPT)
    err = run_ddl(p75, 'ALTER TABLE t1 ADD INDEX i1 (c)')
    check(err is None, 'DDL failed: %r' % err)
    rec = record(p75, lambda r: r['table'] == 't1')
    check_add_index_record(rec, precise=False)
    check_eq(rec['job']['job_type'], 'add index /* ingest */', 'JOB_TYPE (7.5)')
    check_eq(rec['job']['comments'], None, 'no COMMENTS column in 7.5')


def test_scripted_failure_rollback(emu85, p85):
    emu85.script({"steps": [["queueing", "none", 0.2], ["running", "delete only", 0.3],
                            ["running", "write reorganization", 0.3]],
                  "error": [1062, "23000", "Duplicate entry '1' for key 'u1'"]})
    err = run_ddl(p85, 'ALTER TABLE t2 ADD UNIQUE INDEX u1 (c)')
    check(err is not None and err.args[0] == 1062, 'expected ERR 1062, got %r' % err)
    rec = record(p85, lambda r: r['table'] == 't2')
    check_eq(rec['result'], 'error', 'result')
    check_eq(rec['error']['code'], 1062, 'error code')
    check_eq(rec['error']['sqlstate'], '23000', 'sqlstate')
    states = [t['state'] for t in rec['transitions']]
    check_eq(states[-1], 'rollback done', 'final state %r' % states)
    check(isinstance(rec['job_id'], int), 'no job id')


def test_same_text_two_databases(emu85, p85):
    """Identical statement text in two schemas: each gets its own job (db match)."""
    results = {}

    def run(db):
        results[db] = run_ddl(p85, 'ALTER TABLE same ADD COLUMN x INT', db=db)
    threads = [threading.Thread(target=run, args=(db,)) for db in ('dba', 'dbb')]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    check(all(v is None for v in results.values()), 'DDL failed: %r' % results)
    ra = record(p85, lambda r: r['table'] == 'same' and r['db'] == 'dba')
    rb = record(p85, lambda r: r['table'] == 'same' and r['db'] == 'dbb')
    check(ra['job_id'] and rb['job_id'] and ra['job_id'] != rb['job_id'],
          'job ids %r %r' % (ra['job_id'], rb['job_id']))
    jobs = {row[0]: row[1] for row in query(emu85, 'ADMIN SHOW DDL JOBS 20')}
    check_eq(jobs.get(ra['job_id']), 'dba', 'db of job %r' % ra['job_id'])
    check_eq(jobs.get(rb['job_id']), 'dbb', 'db of job %r' % rb['job_id'])


def query(emu, sql):
    c = emu.connect()
    cur = c.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    c.close()
    return rows


def test_multi_schema_change_children(emu85, p85):
    err = run_ddl(p85, 'ALTER TABLE t3 ADD COLUMN x INT, ADD INDEX ix (x)')
    check(err is None, 'DDL failed: %r' % err)
    rec = record(p85, lambda r: r['table'] == 't3')
    check_eq(rec['job']['job_type'], 'alter table multi-schema change', 'job type')
    children = rec.get('children') or []
    check_eq([c['job_type'] for c in children], ['add column /* subjob */', 'add index /* subjob */'],
             'sub-jobs')


def test_admin_timeout_poll_gap_and_stuck(emugap, pgap):
    """ADMIN queries time out for 2.5 s (a PD partition): gaps, stuck, right phases."""
    emugap.script({"steps": [["queueing", "none", 4.0], ["running", "write reorganization", 0.5],
                             ["running", "public", 0.1]]})
    done = {}
    t = threading.Thread(target=lambda: done.setdefault('err', run_ddl(pgap, 'ALTER TABLE t4 ADD INDEX i4 (c)')))
    t.start()
    # Let the tracker match the job first, then cut the ADMIN queries off.
    entry = wait_for(lambda: next((d for d in pgap.admin('ddl list active')['ddls']
                                   if d.get('table') == 't4' and d.get('job_id')), None),
                     5, 'the DDL matched to its job')
    emugap.control('EMULATOR ADMIN_TIMEOUT 2.5 3')
    stuck = wait_for(lambda: next((r for r in pgap.ddl_records('stuck') if r['id'] == entry['id']), None),
                     6, 'a stuck record')
    check_eq(stuck['state'], 'queueing', 'stuck state')
    check_eq(stuck['job_id'], entry['job_id'], 'stuck job id')
    t.join(30)
    check(done.get('err') is None, 'DDL failed: %r' % done.get('err'))
    rec = record(pgap, lambda r: r['id'] == entry['id'])
    check(rec['poll_gaps'], 'no poll gap: %r' % rec)
    check(any('timeout after' in g['error'] for g in rec['poll_gaps']),
          'no timeout in the gaps: %r' % rec['poll_gaps'])
    for g in rec['poll_gaps']:
        check(parse_time(g['from']) <= parse_time(g['to']), 'gap %r' % g)
    check(rec['stuck'] is True, 'final record not stuck')
    check_close(rec['latency_ms']['queueing'], 4000, 60, 'queueing from server times despite the gap')
    check_eq(rec['result'], 'ok', 'result')


test_admin_timeout_poll_gap_and_stuck.timeout = 120


def test_track_all_server_job(emuall, pall):
    c = emuall.connect()                 # directly to the server, not through the proxy
    c.cursor().execute('CREATE TABLE other_client (a INT)')
    c.close()
    rec = record(pall, lambda r: r['table'] == 'other_client')
    check_eq(rec['source'], 'server', 'source')
    check_eq(rec['client'], None, 'client')
    check_eq(rec['session'], None, 'session')
    check_eq(rec['kind'], 'create table', 'kind')
    check_eq(rec['result'], 'ok', 'result')
    check(isinstance(rec['job_id'], int), 'job id %r' % rec['job_id'])
    # A proxied DDL on the same proxy is not recorded twice.
    err = run_ddl(pall, 'CREATE TABLE via_proxy (a INT)')
    check(err is None, 'DDL failed: %r' % err)
    time.sleep(1.0)
    recs = [r for r in pall.ddl_records('ddl') if r['table'] == 'via_proxy']
    check_eq(len(recs), 1, 'records of the proxied DDL')
    check_eq(recs[0]['source'], 'client', 'source of the proxied DDL')


def test_history_window_grows(emuhist, phist):
    """A fast DDL finishes while ADMIN fails, then other clients' jobs push its
    job out of ADMIN SHOW DDL JOBS 2: the tracker widens the window and still
    finds it before writing the record."""
    emuhist.control('EMULATOR DEFAULT \'%s\'' % json.dumps(
        {"steps": [["queueing", "none", 0.02], ["running", "public", 0.02]]}))
    emuhist.control('EMULATOR ADMIN_TIMEOUT 1.0 0.3')
    err = run_ddl(phist, 'CREATE TABLE hx (a INT)')
    check(err is None, 'DDL failed: %r' % err)
    c = emuhist.connect()
    for i in range(6):
        c.cursor().execute('CREATE TABLE other%d (a INT)' % i)
    c.close()
    rec = record(phist, lambda r: r['table'] == 'hx', timeout=10)
    time.sleep(1.0)                     # past the ADMIN timeout window
    jobs = {row[2]: row[0] for row in query(emuhist, 'ADMIN SHOW DDL JOBS 20')}
    check_eq(rec['job_id'], jobs.get('hx'), 'job id of the fast DDL')
    check(rec['poll_gaps'], 'the failing ADMIN window left no gap: %r' % rec)
    check_eq(rec['transitions'][-1]['state'], 'synced', 'state seen in the wider window')


if __name__ == '__main__':
    run_tests(globals())
