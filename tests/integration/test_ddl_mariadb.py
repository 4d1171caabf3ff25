#!/usr/bin/python3
"""DDL tracking against a real MariaDB through ddlproxy (issue 3, MariaDB flavor).

The seven scenarios of issue 3:
  1. metadata lock held 3 s by another transaction: ALTER TABLE t ADD INDEX
     is "add index", queueing 3000 ms +- 2 poll intervals, then running,
     result ok, job_id null, transitions in order;
  2. stuck_after_ms=1000: a "stuck" record is written before the DDL ends;
  3. duplicate column: result error with the server's code and message;
  4. two concurrent DDLs on different tables from different clients;
  5. a DDL inside a multi-statement, with leading comments, and through a
     server-side prepared statement (COM_STMT_PREPARE/EXECUTE via libmariadb);
  6. CREATE USER u IDENTIFIED BY 'secret': the secret appears nowhere;
  7. the backend stopped mid-DDL (SIGSTOP, then SIGKILL): the record ends with
     the error, the tracker's poll gap is recorded, the proxy survives.
Run: /usr/bin/python3 tests/integration/test_ddl_mariadb.py [NAME ...]
"""

import ctypes
import ctypes.util
import datetime
import os
import re
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (MariaDB, Proxy, run_tests, wait_for, check, check_eq,  # noqa: E402
                     TestFailure)

import MySQLdb  # noqa: E402
from MySQLdb.constants import CLIENT  # noqa: E402

POLL_MS = 100
STUCK_MS = 1000
TRACKER_TIMEOUT_MS = 1000


def setup_module():
    db = MariaDB()
    proxy = Proxy(db, {'tracker': {'poll_interval_ms': POLL_MS, 'stuck_after_ms': STUCK_MS,
                                   'timeout_ms': TRACKER_TIMEOUT_MS}})
    return {'db': db, 'proxy': proxy}


def parse_time(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').replace(
        tzinfo=datetime.timezone.utc).timestamp()


def exec_direct(db, *sqls):
    c = db.connect()
    cur = c.cursor()
    for sql in sqls:
        cur.execute(sql)
    c.close()


def ddl_record(proxy, pred, timeout=15, what='ddl record'):
    return wait_for(lambda: next((r for r in proxy.ddl_records('ddl') if pred(r)), None),
                    timeout, what)


def active_ddl(proxy, table, timeout=10):
    """The 'ddl list active' entry for table, once it is there."""
    def find():
        rep = proxy.admin('ddl list active')
        check(rep.get('ok'), 'ddl list active failed: %r' % rep)
        return next((d for d in rep['ddls'] if d.get('table') == table), None)
    return wait_for(find, timeout, 'an active DDL on %s' % table)


class LockHolder:
    """A transaction on a direct connection that holds a metadata lock on tables."""

    def __init__(self, db, *tables):
        self.conn = db.connect()
        self.conn.autocommit(False)
        cur = self.conn.cursor()
        cur.execute('BEGIN')
        for t in tables:
            cur.execute('SELECT * FROM %s LIMIT 1' % t)
            cur.fetchall()

    def release(self):
        self.conn.commit()
        self.conn.close()


class Background:
    """Runs one statement through a connection in a thread; keeps the outcome."""

    def __init__(self, conn, sql):
        self.conn, self.sql = conn, sql
        self.error = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            self.conn.cursor().execute(self.sql)
        except MySQLdb.MySQLError as e:
            self.error = e
        finally:
            self.done.set()

    def wait(self, timeout=30):
        if not self.done.wait(timeout):
            raise TestFailure('statement did not finish in %d s: %s' % (timeout, self.sql))
        return self.error


def fill_table(db, table, rows):
    # MariaDB's SEQUENCE engine: no INSERT ... SELECT from the table itself
    # (that would go through a temporary table).
    exec_direct(db, 'CREATE TABLE %s (id INT PRIMARY KEY AUTO_INCREMENT, c INT, d VARCHAR(64))' % table,
                "INSERT INTO %s (c, d) SELECT seq * 7 %% 1000003, 'x' FROM seq_1_to_%d" % (table, rows))


# ---------------------------------------------------------------- scenarios

def test_1_metadata_lock_queueing_then_running(db, proxy):
    fill_table(db, 't1', 262144)              # the index build takes long enough to be seen
    holder = LockHolder(db, 't1')
    client = proxy.connect()
    bg = Background(client, 'ALTER TABLE t1 ADD INDEX ic (c)')
    entry = active_ddl(proxy, 't1')
    sent_at = parse_time(entry['sent_at'])
    # Hold the lock for 3 s counted from the moment the proxy forwarded the DDL.
    time.sleep(max(0.0, sent_at + 3.0 - time.time()))
    holder.release()
    check(bg.wait() is None, 'ALTER failed: %r' % bg.error)
    rec = ddl_record(proxy, lambda r: r['id'] == entry['id'])
    check_eq(rec['kind'], 'add index', 'kind')
    check_eq(rec['db'], 'test', 'db')
    check_eq(rec['table'], 't1', 'table')
    check_eq(rec['result'], 'ok', 'result')
    check_eq(rec['job_id'], None, 'job_id')
    check_eq(rec['flavor'], 'mysql', 'flavor')
    check_eq(rec['error'], None, 'error')
    # MariaDB may be seen preparing the ALTER ("running") just before it
    # waits for the exclusive lock: what matters is queueing, then running.
    states = [t['state'] for t in rec['transitions']]
    check('queueing' in states, 'no queueing transition: %r' % rec['transitions'])
    check('running' in states[states.index('queueing'):],
          'no running after queueing: %r' % rec['transitions'])
    # (MariaDB takes the exclusive lock again to commit the ALTER, so a last
    # short 'queueing' may be what the final poll saw; the queueing total below
    # is what must match the 3 s hold.)
    times = [parse_time(t['at']) for t in rec['transitions']]
    check(times == sorted(times), 'transitions out of order: %r' % rec['transitions'])
    queueing = rec['latency_ms']['queueing']
    check(abs(queueing - 3000) <= 2 * POLL_MS,
          'queueing %.3f ms is not 3000 +- %d ms' % (queueing, 2 * POLL_MS))
    lat = rec['latency_ms']
    check(abs(lat['queueing'] + lat['running'] - lat['total']) < 0.01,
          'queueing + running != total: %r' % lat)
    check(rec['latency_ms']['by_schema_state'], 'no per-state durations: %r' % lat)
    check_eq(rec['client'].split(':')[0], '127.0.0.1', 'client address')
    check_eq(rec['user'], proxy.user, 'user')
    client.close()


def test_2_stuck_record_before_finish(db, proxy):
    exec_direct(db, 'CREATE TABLE t2 (a INT)')
    holder = LockHolder(db, 't2')
    client = proxy.connect()
    bg = Background(client, 'ALTER TABLE t2 ADD COLUMN b INT')
    entry = active_ddl(proxy, 't2')
    stuck = wait_for(lambda: next((r for r in proxy.ddl_records('stuck') if r['id'] == entry['id']), None),
                     STUCK_MS / 1000.0 + 2, 'a stuck record for DDL %s' % entry['id'])
    check(not bg.done.is_set(), 'the DDL finished before its stuck record was checked')
    check_eq(stuck['state'], 'queueing', 'stuck state')
    check(stuck['stuck_for_ms'] >= STUCK_MS * 0.95, 'stuck_for_ms too small: %r' % stuck)
    listed = active_ddl(proxy, 't2')
    check(listed.get('stuck') is True, 'ddl list does not show it stuck: %r' % listed)
    holder.release()
    check(bg.wait() is None, 'ALTER failed: %r' % bg.error)
    rec = ddl_record(proxy, lambda r: r['id'] == entry['id'])
    check_eq(rec['stuck'], True, 'stuck flag of the final record')
    client.close()


def test_3_duplicate_column_error(db, proxy):
    exec_direct(db, 'CREATE TABLE t3 (c INT)')
    client = proxy.connect()
    try:
        client.cursor().execute('ALTER TABLE t3 ADD COLUMN c INT')
        raise TestFailure('duplicate column was accepted')
    except MySQLdb.OperationalError as e:
        code, message = e.args
    rec = ddl_record(proxy, lambda r: r['table'] == 't3')
    check_eq(rec['result'], 'error', 'result')
    check_eq(rec['kind'], 'add column', 'kind')
    check_eq(rec['error']['code'], code, 'error code')
    check_eq(rec['error']['code'], 1060, 'error code')
    check_eq(rec['error']['message'], message, 'error message')
    check_eq(rec['error']['sqlstate'], '42S21', 'sqlstate')
    client.close()


def test_4_two_concurrent_ddls(db, proxy):
    exec_direct(db, 'CREATE TABLE t4a (a INT)', 'CREATE TABLE t4b (a INT)')
    holder = LockHolder(db, 't4a', 't4b')
    c1, c2 = proxy.connect(), proxy.connect()
    b1 = Background(c1, 'ALTER TABLE t4a ADD COLUMN x INT')
    b2 = Background(c2, 'ALTER TABLE t4b ADD INDEX ia (a)')
    e1, e2 = active_ddl(proxy, 't4a'), active_ddl(proxy, 't4b')
    time.sleep(0.5)
    holder.release()
    check(b1.wait() is None and b2.wait() is None, 'ALTERs failed: %r %r' % (b1.error, b2.error))
    r1 = ddl_record(proxy, lambda r: r['id'] == e1['id'])
    r2 = ddl_record(proxy, lambda r: r['id'] == e2['id'])
    check_eq((r1['table'], r1['kind'], r1['result']), ('t4a', 'add column', 'ok'), 'first record')
    check_eq((r2['table'], r2['kind'], r2['result']), ('t4b', 'add index', 'ok'), 'second record')
    check(r1['session'] != r2['session'], 'both records claim session %r' % r1['session'])
    for r in (r1, r2):
        check('queueing' in [t['state'] for t in r['transitions']],
              'record %d did not see its lock wait: %r' % (r['id'], r['transitions']))
        check(r['latency_ms']['queueing'] >= 400, 'record %d queueing too short: %r' % (r['id'], r['latency_ms']))
    c1.close()
    c2.close()


class PreparedClient:
    """COM_STMT_PREPARE / COM_STMT_EXECUTE through libmariadb (MySQLdb has no binary protocol)."""

    def __init__(self, host, port, user, password, db):
        name = ctypes.util.find_library('mariadb') or 'libmariadb.so.3'
        lib = self.lib = ctypes.CDLL(name)
        vp = ctypes.c_void_p
        lib.mysql_init.restype = vp
        lib.mysql_init.argtypes = [vp]
        lib.mysql_real_connect.restype = vp
        lib.mysql_real_connect.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                                           ctypes.c_char_p, ctypes.c_uint, ctypes.c_char_p, ctypes.c_ulong]
        lib.mysql_error.restype = ctypes.c_char_p
        lib.mysql_error.argtypes = [vp]
        lib.mysql_close.argtypes = [vp]
        lib.mysql_stmt_init.restype = vp
        lib.mysql_stmt_init.argtypes = [vp]
        lib.mysql_stmt_prepare.argtypes = [vp, ctypes.c_char_p, ctypes.c_ulong]
        lib.mysql_stmt_execute.argtypes = [vp]
        lib.mysql_stmt_error.restype = ctypes.c_char_p
        lib.mysql_stmt_error.argtypes = [vp]
        lib.mysql_stmt_close.argtypes = [vp]
        self.m = lib.mysql_init(None)
        if not lib.mysql_real_connect(self.m, host.encode(), user.encode(), password.encode(),
                                      db.encode(), port, None, 0):
            raise TestFailure('libmariadb connect: %s' % lib.mysql_error(self.m).decode())

    def execute(self, sql):
        lib = self.lib
        st = lib.mysql_stmt_init(self.m)
        q = sql.encode()
        if lib.mysql_stmt_prepare(st, q, len(q)) != 0:
            raise TestFailure('prepare %r: %s' % (sql, lib.mysql_stmt_error(st).decode()))
        if lib.mysql_stmt_execute(st) != 0:
            raise TestFailure('execute %r: %s' % (sql, lib.mysql_stmt_error(st).decode()))
        lib.mysql_stmt_close(st)

    def close(self):
        self.lib.mysql_close(self.m)


def test_5_multi_statement_comments_prepared(db, proxy):
    exec_direct(db, 'CREATE TABLE t5 (a INT)')
    client = proxy.connect(client_flag=CLIENT.MULTI_STATEMENTS | CLIENT.MULTI_RESULTS)
    cur = client.cursor()
    cur.execute("/* leading */ -- comment\nSELECT 1; ALTER TABLE t5 ADD COLUMN m1 INT; "
                "/* between */ ALTER TABLE t5 ADD COLUMN m2 INT")
    while cur.nextset():
        pass
    cur.execute('/* only a comment first */ # and another\nALTER TABLE t5 ADD COLUMN m3 INT')
    client.close()
    ps = PreparedClient(proxy.host, proxy.port, proxy.user, proxy.password, proxy.db)
    ps.execute('ALTER TABLE t5 ADD COLUMN m4 INT')
    ps.close()
    for col in ('m1', 'm2', 'm3', 'm4'):
        rec = ddl_record(proxy, lambda r, c=col: r['table'] == 't5' and re.search(r'\b%s\b' % c, r['statement'] or ''),
                         what='a record for ADD COLUMN %s' % col)
        check_eq((rec['kind'], rec['db'], rec['result']), ('add column', 'test', 'ok'),
                 'record of ADD COLUMN %s' % col)
    cols = [r[0] for r in db.query("SELECT COLUMN_NAME FROM information_schema.COLUMNS "
                                   "WHERE TABLE_SCHEMA='test' AND TABLE_NAME='t5'")]
    check_eq(sorted(cols), ['a', 'm1', 'm2', 'm3', 'm4'], 'columns really added')


def test_6_account_secret_redacted(db, proxy):
    client = proxy.connect()
    client.cursor().execute("CREATE USER u6 IDENTIFIED BY 'secret'")
    client.close()
    rec = ddl_record(proxy, lambda r: r['kind'] == 'account')
    check('***' in (rec['statement'] or ''), 'statement not redacted: %r' % rec['statement'])
    check_eq(rec['result'], 'ok', 'result')
    check_eq(rec['job_id'], None, 'job_id')
    # The harness's own password is 'ddlp-secret': look for any other "secret".
    leak = re.compile(r'(?<!ddlp-)secret')
    texts = {
        'ddl log': open(proxy.ddl_log).read(),
        'proxy log': proxy.log_text(),
        'ddl list': repr(proxy.admin('ddl list')),
        'ddl show': repr(proxy.admin('ddl show %d' % rec['id'])),
        'stats': repr(proxy.admin('stats')),
    }
    for where, text in texts.items():
        m = leak.search(text)
        check(m is None, 'the secret leaks in the %s: ...%s...' % (
            where, text[max(0, m.start() - 80):m.end() + 20] if m else ''))


def test_7_backend_stopped_mid_ddl(db, proxy):
    exec_direct(db, 'CREATE TABLE t7 (a INT)')
    holder = LockHolder(db, 't7')
    client = proxy.connect()
    bg = Background(client, 'ALTER TABLE t7 ADD COLUMN b INT')
    entry = active_ddl(proxy, 't7')
    wait_for(lambda: (active_ddl(proxy, 't7').get('state') == 'queueing'), 5, 'the DDL queueing')
    # A frozen server first (polls time out: a gap), then a dead one.
    os.kill(db.pid, signal.SIGSTOP)
    time.sleep(TRACKER_TIMEOUT_MS / 1000.0 * 2.5)
    db.kill()
    err = bg.wait()
    check(err is not None, 'the client got no error from a dead backend')
    rec = ddl_record(proxy, lambda r: r['id'] == entry['id'])
    check(rec['result'] in ('backend_gone', 'error'), 'result %r' % rec['result'])
    check(rec['error'] and rec['error'].get('message'), 'no error in the record: %r' % rec)
    check(rec['poll_gaps'], 'no poll gap recorded: %r' % rec)
    gap = rec['poll_gaps'][0]
    check(gap['error'] and parse_time(gap['to']) >= parse_time(gap['from']), 'bad gap %r' % gap)
    check(proxy.alive(), 'the proxy died')
    stats = proxy.admin('stats')
    check(stats.get('ok'), 'stats after the backend died: %r' % stats)
    try:
        holder.conn.close()
    except MySQLdb.MySQLError:
        pass
    db.start()


test_7_backend_stopped_mid_ddl.timeout = 120


if __name__ == '__main__':
    run_tests(globals())
