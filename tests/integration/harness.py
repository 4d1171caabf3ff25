#!/usr/bin/python3
"""harness.py - shared fixtures for ddlproxy's integration tests.

Every tests/integration/test_*.py imports this module (stdlib + MySQLdb only).
Run a suite with /usr/bin/python3 tests/integration/test_X.py [NAME ...]
(NAME selects tests by substring); tests/run-integration.sh runs them all.
`python3 harness.py --selftest` checks the harness itself.

Locating the binaries
    ddlproxy: $DDLPROXY_BIN, else $DDLPROXY_BUILDDIR/ddlproxy, else ./ddlproxy
    (the current directory, i.e. run from the build directory), else the
    in-tree build (tests/integration/../../ddlproxy).
    ddlproxyctl: $DDLPROXYCTL_BIN, else next to the ddlproxy binary.

Ports
    free_port() -> Port: an int that holds a lock file under
    /tmp/ddlproxy-test-ports/ (fcntl.flock), so parallel runs never pick the
    same port. Port.release() gives it back; fixtures release theirs in close().
    Pass int(port) to socket.create_connection/getaddrinfo (they refuse int
    subclasses); fixtures' .port attributes are plain ints.

Slow runs
    DDLPROXY_SLOW=1 (e.g. ddlproxy under valgrind) multiplies the time limits
    of start-up waits and of slow(seconds) by SLOW_FACTOR (5): use
    slow(3) rather than 3 in a "this must happen within" check.

Fixtures (create them from the main thread; each is a context manager, is
closed at exit even when the test fails, and closes what it started)
    MariaDB(tls=False, certs=None, name='mariadb', args=())
        A private mariadbd on 127.0.0.1:<free port> with its own datadir
        (copied from a template made once per server version), user
        TEST_USER/TEST_PASSWORD with all privileges, database TEST_DB,
        max_allowed_packet=64M, local_infile=1. tls=True (or certs=) enables
        TLS with make_certs() certificates.
        Attributes: host, port, addr ("127.0.0.1:P"), user, password, db,
        socket, datadir, dir, err_log, certs, pid.
        Methods: connect(**kw) (MySQLdb over TCP as TEST_USER), root(**kw)
        (MySQLdb over the unix socket as root), query(sql) (rows, as root),
        start(), stop(), kill() (SIGKILL: a crashed backend), close().
    Proxy(backend, config=None, name='ddlproxy', args=(), start=True)
        ddlproxy in the foreground (-c FILE -f) in front of backend (a
        MariaDB, anything with .addr, or "host:port"). config is a dict of INI
        sections ({'proxy': {'backend_tls': 'disable'}, 'endpoint pd1': {...}})
        merged over the defaults (listen on a free port, log to stderr which
        goes to <dir>/proxy.log, ddl_log <dir>/ddl.jsonl, admin socket
        <dir>/admin.sock, tracker user = the backend's test user); a value
        None removes a key.
        Attributes: host, port, addr, admin_socket, ddl_log, log_path,
        config_path, dir, pid, user/password/db (the backend's test user).
        Methods: connect(**kw), ctl(*args) (ddlproxyctl --json, parsed),
        ctl_text(*args) (CompletedProcess), admin(line) (raw admin socket,
        parsed JSON), ddl_records(type=None), log_text(), log_mark(),
        wait_log(regex, since=mark, timeout), alive(), start(), stop()
        (SIGTERM, bounded wait; a crash, a hang or a sanitizer report
        raises), kill(), close().
        A proxy that dies on its own (by a signal or an exit status) makes the
        running test fail, with its log tail.
    make_certs(dir) -> Certs: openssl-made CA (ca, ca_key), server_cert/key
        (CN ddlproxy-test-server), proxy_cert/key (CN ddlproxy-test-proxy),
        client_cert/key; server and proxy certificates are valid for
        127.0.0.1 and localhost.

Helpers
    mysql_connect(host, port, user, password, db=None, **kw): MySQLdb with
        timeouts (connect 10 s, read/write 120 s) and autocommit on.
    cli(target, sql=None, args=(), stdin=None, check=True, timeout=120):
        runs the `mariadb` client against target (anything with host, port,
        user, password, db) in --batch mode; returns CompletedProcess.
    sysbench(target, test, command='run', threads=1, time_s=10, events=0,
        args=(), check=True, timeout=None) -> dict with returncode, output,
        transactions, tps, queries, qps, ignored_errors, reconnects,
        latency_avg_ms, latency_p95_ms.
    slow(seconds): a time limit, times SLOW_FACTOR under DDLPROXY_SLOW=1.
    wait_for(predicate, timeout, what, interval=0.05): the predicate's first
        truthy value, or TestFailure naming `what`.
    fault_add(proxy, *words) -> id, fault_del(proxy, id): through ddlproxyctl,
        failing the test if the proxy refuses.
    check(cond, msg), check_eq(actual, expected, what),
    check_match(regex, text, what) -> match, check_raises(exc, fn, *a, **kw)
        -> the exception. They raise TestFailure.

Runner
    run_tests(globals()) runs every function named test_* in definition
    order and exits. If the module defines setup_module(), it runs first and
    may return a dict of fixtures: a test's parameters are filled from it by
    name (def test_x(db, proxy): ...). teardown_module() runs at the end,
    then every fixture still open is closed. Output: "ok NAME",
    "FAIL NAME: reason" (traceback on stderr), "skip NAME: reason" (raise
    Skip), then exactly "N passed, N failed" on the last line; exit status 1
    if any failed (a failing teardown counts as a failure), 2 if no test was
    selected. Each test is bounded by an alarm (default 600 s; a test may set
    fn.timeout = seconds). Arguments starting with '-' are left to the module
    (read sys.argv yourself, e.g. --quick).
"""

import atexit
import ctypes
import fcntl
import hashlib
import inspect
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types

import MySQLdb

TEST_USER = 'ddlp'
TEST_PASSWORD = 'ddlp-secret'
TEST_DB = 'test'
PORT_LOCK_DIR = '/tmp/ddlproxy-test-ports'
TEMPLATE_ROOT = '/tmp/ddlproxy-test-template'
# Bump when the template's contents (users, databases) change.
TEMPLATE_REVISION = '1'

HERE = os.path.dirname(os.path.abspath(__file__))
SLOW_FACTOR = 5 if os.environ.get('DDLPROXY_SLOW') else 1


def slow(seconds):
    """A time limit, stretched when the proxy runs under valgrind or similar."""
    return seconds * SLOW_FACTOR


class HarnessError(Exception):
    """A fixture could not do its job (start, stop, find a binary)."""


class TestFailure(AssertionError):
    """An assertion helper failed."""


class Skip(Exception):
    """Raised by a test that does not apply here (the reason is printed)."""


class TestTimeout(Exception):
    pass


# ---------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    # A harness killed by SIGKILL must not leave servers behind.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _spawn(argv, log_path, env=None):
    log = open(log_path, 'ab')
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, preexec_fn=_die_with_parent, close_fds=True)
    finally:
        log.close()


def _tail(path, lines=40):
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            text = f.read().decode('utf-8', 'replace')
    except OSError as e:
        return '(cannot read %s: %s)' % (path, e)
    return '\n'.join(text.splitlines()[-lines:])


def _describe_exit(code):
    if code is None:
        return 'still running'
    if code < 0:
        try:
            return 'killed by %s' % signal.Signals(-code).name
        except ValueError:
            return 'killed by signal %d' % -code
    return 'exit status %d' % code


def _listening(port):
    """True if some socket listens on TCP port (any address), per /proc."""
    want = ':%04X' % port
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[1].endswith(want) and fields[3] == '0A':
                        return True
        except OSError:
            continue
    return False


# ---------------------------------------------------------------- ports

class Port(int):
    """A TCP port number that holds its lock file until release()."""

    def __new__(cls, number, lock_file):
        obj = int.__new__(cls, number)
        obj._lock_file = lock_file
        return obj

    def release(self):
        if self._lock_file is not None:
            # The file stays: unlinking it would race with another run opening it.
            self._lock_file.close()
            self._lock_file = None


def free_port():
    os.makedirs(PORT_LOCK_DIR, exist_ok=True)
    try:
        os.chmod(PORT_LOCK_DIR, 0o1777)
    except OSError:
        pass
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(('127.0.0.1', 0))
            number = s.getsockname()[1]
        lock = open(os.path.join(PORT_LOCK_DIR, '%d.lock' % number), 'a')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        return Port(number, lock)
    raise HarnessError('no free loopback port after 200 tries')


# ---------------------------------------------------------------- fixture registry

_open_fixtures = []


def _register(fixture):
    _open_fixtures.append(fixture)


def _unregister(fixture):
    if fixture in _open_fixtures:
        _open_fixtures.remove(fixture)


def close_all():
    """Closes every open fixture, newest first. Returns the errors seen."""
    errors = []
    while _open_fixtures:
        fixture = _open_fixtures[-1]
        try:
            fixture.close()
        except Exception as e:      # keep closing the others
            errors.append('%s: %s' % (fixture.name, e))
        _unregister(fixture)
    return errors


def _atexit_close():
    for err in close_all():
        print('harness: at exit: %s' % err, file=sys.stderr)


atexit.register(_atexit_close)


def _sigterm(signum, frame):
    # Turn SIGTERM (e.g. from timeout(1)) into a normal exit so atexit cleans up.
    raise SystemExit(128 + signum)


if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGTERM, _sigterm)


class _Fixture:
    name = 'fixture'

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------- client helpers

def mysql_connect(host, port, user, password, db=None, **kw):
    args = dict(host=host, port=int(port), user=user, passwd=password,
                connect_timeout=10, read_timeout=120, write_timeout=120,
                autocommit=True)
    if db:
        args['db'] = db
    args.update(kw)
    return MySQLdb.connect(**args)


def cli(target, sql=None, args=(), stdin=None, check=True, timeout=120, db=True):
    """Runs the `mariadb` command-line client against target."""
    argv = ['mariadb', '--no-defaults', '--batch', '--protocol=TCP',
            '-h', target.host, '-P', str(target.port), '-u', target.user,
            '--password=' + target.password, '--connect-timeout=10']
    argv += list(args)
    if db and target.db:
        argv.append(target.db)
    if sql is not None:
        argv += ['-e', sql]
    res = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise TestFailure('mariadb %s failed (%s): %s' % (
            ' '.join(args), _describe_exit(res.returncode), res.stderr.strip()))
    return res


_SYSBENCH_FIELDS = [
    ('transactions', r'transactions:\s+(\d+)\s+\(([\d.]+) per sec'),
    ('queries', r'queries:\s+(\d+)\s+\(([\d.]+) per sec'),
    ('ignored_errors', r'ignored errors:\s+(\d+)'),
    ('reconnects', r'reconnects:\s+(\d+)'),
    ('latency_avg_ms', r'avg:\s+([\d.]+)'),
    ('latency_p95_ms', r'95th percentile:\s+([\d.]+)'),
]


def sysbench(target, test, command='run', threads=1, time_s=10, events=0, args=(),
             check=True, timeout=None, db=None):
    """Runs Debian's sysbench 1.0 against target; returns the parsed result."""
    argv = ['sysbench', test, '--db-driver=mysql',
            '--mysql-host=%s' % target.host, '--mysql-port=%d' % int(target.port),
            '--mysql-user=%s' % target.user, '--mysql-password=%s' % target.password,
            '--mysql-db=%s' % (db or target.db), '--threads=%d' % threads,
            '--time=%d' % time_s, '--events=%d' % events]
    argv += list(args)
    argv.append(command)
    if timeout is None:
        timeout = max(120, time_s * 3 + 60)
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        out, rc = res.stdout + res.stderr, res.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode('utf-8', 'replace') if isinstance(e.stdout, bytes) else (e.stdout or '')
        raise TestFailure('sysbench %s %s did not finish within %d s:\n%s' % (
            test, command, timeout, '\n'.join(out.splitlines()[-20:])))
    result = {'returncode': rc, 'output': out}
    for key, pattern in _SYSBENCH_FIELDS:
        m = re.search(pattern, out)
        if m:
            result[key] = float(m.group(1)) if '.' in m.group(1) else int(m.group(1))
            if m.lastindex and m.lastindex > 1:
                rate = 'tps' if key == 'transactions' else 'qps'
                result[rate] = float(m.group(2))
    if check and rc != 0:
        raise TestFailure('sysbench %s %s failed (%s):\n%s' % (
            test, command, _describe_exit(rc), '\n'.join(out.splitlines()[-25:])))
    return result


# ---------------------------------------------------------------- certificates

def make_certs(directory):
    """Creates a test CA and server, proxy and client certificates in directory."""
    os.makedirs(directory, exist_ok=True)
    c = types.SimpleNamespace(dir=directory)
    for role in ('ca', 'server', 'proxy', 'client'):
        setattr(c, role + '_key' if role != 'ca' else 'ca_key', os.path.join(directory, role + '.key'))
        setattr(c, role + '_cert' if role != 'ca' else 'ca', os.path.join(directory, role + '.crt'))

    def openssl(*argv):
        res = subprocess.run(['openssl'] + list(argv), capture_output=True, text=True)
        if res.returncode != 0:
            raise HarnessError('openssl %s: %s' % (argv[0], res.stderr.strip()))

    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650',
            '-subj', '/CN=ddlproxy-test-ca', '-keyout', c.ca_key, '-out', c.ca,
            '-addext', 'basicConstraints=critical,CA:TRUE',
            '-addext', 'keyUsage=critical,keyCertSign,cRLSign')
    ext = os.path.join(directory, 'leaf.ext')
    for role, cn, usage in (('server', 'ddlproxy-test-server', 'serverAuth'),
                            ('proxy', 'ddlproxy-test-proxy', 'serverAuth,clientAuth'),
                            ('client', 'ddlproxy-test-client', 'clientAuth')):
        key, cert = getattr(c, role + '_key'), getattr(c, role + '_cert')
        csr = os.path.join(directory, role + '.csr')
        with open(ext, 'w') as f:
            f.write('basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' % usage)
            if role != 'client':
                f.write('subjectAltName=IP:127.0.0.1,DNS:localhost\n')
        openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=' + cn,
                '-keyout', key, '-out', csr)
        openssl('x509', '-req', '-in', csr, '-CA', c.ca, '-CAkey', c.ca_key,
                '-CAcreateserial', '-days', '3650', '-extfile', ext, '-out', cert)
        os.unlink(csr)
    os.unlink(ext)
    return c


# ---------------------------------------------------------------- MariaDB

MARIADBD = shutil.which('mariadbd') or '/usr/sbin/mariadbd'

_MARIADB_COMMON = [
    '--user=root', '--skip-name-resolve', '--innodb-buffer-pool-size=64M',
    '--innodb-flush-log-at-trx-commit=2', '--max-allowed-packet=64M',
    '--local-infile=1', '--performance-schema=OFF', '--max-connections=1000',
    '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
]

_TEMPLATE_SQL = """
CREATE USER '{u}'@'%' IDENTIFIED BY '{p}';
GRANT ALL PRIVILEGES ON *.* TO '{u}'@'%' WITH GRANT OPTION;
CREATE DATABASE {db};
FLUSH PRIVILEGES;
""".format(u=TEST_USER, p=TEST_PASSWORD, db=TEST_DB)


def _wait_socket_ready(proc, sock_path, err_log, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError('mariadbd exited during start-up (%s); error log:\n%s' % (
                _describe_exit(proc.returncode), _tail(err_log)))
        try:
            conn = MySQLdb.connect(unix_socket=sock_path, user='root', connect_timeout=2)
            return conn
        except MySQLdb.Error as e:
            last = e
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise HarnessError('mariadbd did not accept connections within %d s (%s); error log:\n%s' % (
        timeout, last, _tail(err_log)))


def _template_datadir():
    """A datadir with the test user and database, made once per server version."""
    version = subprocess.run([MARIADBD, '--version'], capture_output=True, text=True).stdout
    key = hashlib.sha1((version + TEMPLATE_REVISION).encode()).hexdigest()[:12]
    os.makedirs(TEMPLATE_ROOT, exist_ok=True)
    base = os.path.join(TEMPLATE_ROOT, key)
    with open(base + '.lock', 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(base, 'ready')):
            return os.path.join(base, 'data')
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(base)
        data = os.path.join(base, 'data')
        log = os.path.join(base, 'install.log')
        with open(log, 'w') as f:
            res = subprocess.run(['mariadb-install-db', '--no-defaults', '--datadir=' + data,
                                  '--user=root', '--auth-root-authentication-method=normal',
                                  '--skip-test-db', '--skip-name-resolve'],
                                 stdout=f, stderr=subprocess.STDOUT)
        if res.returncode != 0:
            raise HarnessError('mariadb-install-db failed:\n' + _tail(log))
        sock = os.path.join(base, 'sock')
        err = os.path.join(base, 'err.log')
        proc = _spawn([MARIADBD, '--no-defaults', '--datadir=' + data, '--skip-networking',
                       '--socket=' + sock, '--pid-file=' + os.path.join(base, 'pid'),
                       '--log-error=' + err] + _MARIADB_COMMON, os.path.join(base, 'out.log'))
        conn = _wait_socket_ready(proc, sock, err, 60)
        cur = conn.cursor()
        for stmt in _TEMPLATE_SQL.split(';'):
            if stmt.strip():
                cur.execute(stmt)
        conn.close()
        proc.terminate()
        if proc.wait(60) != 0:
            raise HarnessError('template mariadbd did not shut down cleanly:\n' + _tail(err))
        for name in ('sock', 'pid'):
            if os.path.exists(os.path.join(base, name)):
                os.unlink(os.path.join(base, name))
        open(os.path.join(base, 'ready'), 'w').close()
        return data


class MariaDB(_Fixture):
    def __init__(self, tls=False, certs=None, name='mariadb', args=(), start=True):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix='ddlp-%s-' % name, dir='/tmp')
        self.host = '127.0.0.1'
        self._port = free_port()
        self.port = int(self._port)
        self.addr = '%s:%d' % (self.host, self.port)
        self.user, self.password, self.db = TEST_USER, TEST_PASSWORD, TEST_DB
        self.socket = os.path.join(self.dir, 'sock')
        self.datadir = os.path.join(self.dir, 'data')
        self.err_log = os.path.join(self.dir, 'err.log')
        self.certs = certs if certs is not None else (make_certs(os.path.join(self.dir, 'certs')) if tls else None)
        self.extra_args = list(args)
        self.proc = None
        _register(self)
        try:
            shutil.copytree(_template_datadir(), self.datadir, symlinks=True)
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=60):
        if self.proc and self.proc.poll() is None:
            raise HarnessError('%s is already running' % self.name)
        argv = [MARIADBD, '--no-defaults', '--datadir=' + self.datadir,
                '--port=%d' % self.port, '--bind-address=127.0.0.1', '--socket=' + self.socket,
                '--pid-file=' + os.path.join(self.dir, 'pid'), '--log-error=' + self.err_log]
        argv += _MARIADB_COMMON
        if self.certs:
            argv += ['--ssl-ca=' + self.certs.ca, '--ssl-cert=' + self.certs.server_cert,
                     '--ssl-key=' + self.certs.server_key]
        argv += self.extra_args
        self.proc = _spawn(argv, os.path.join(self.dir, 'out.log'))
        _wait_socket_ready(self.proc, self.socket, self.err_log, timeout).close()
        # The unix socket can be up a moment before the TCP listener.
        wait_for(lambda: _listening(self.port), 10, '%s to listen on %d' % (self.name, self.port))

    def stop(self, timeout=60):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise HarnessError('%s did not stop within %d s of SIGTERM' % (self.name, timeout))

    def kill(self):
        """SIGKILL: the server vanishes mid-flight (a crashed backend)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self):
        try:
            self.stop()
        finally:
            self._port.release()
            shutil.rmtree(self.dir, ignore_errors=True)
            _unregister(self)

    def connect(self, **kw):
        return mysql_connect(self.host, self.port, kw.pop('user', self.user),
                             kw.pop('password', self.password), kw.pop('db', self.db), **kw)

    def root(self, **kw):
        args = dict(unix_socket=self.socket, user='root', connect_timeout=10, autocommit=True)
        args.update(kw)
        return MySQLdb.connect(**args)

    def query(self, sql, args=None):
        conn = self.root()
        try:
            cur = conn.cursor()
            cur.execute(sql, args)
            return cur.fetchall()
        finally:
            conn.close()


# ---------------------------------------------------------------- ddlproxy

def _find_binary(name, env_var):
    path = os.environ.get(env_var)
    if path:
        if not os.access(path, os.X_OK):
            raise HarnessError('%s=%s is not an executable file' % (env_var, path))
        return path
    candidates = []
    if name == 'ddlproxyctl':
        candidates.append(os.path.join(os.path.dirname(find_ddlproxy()), name))
    else:
        if os.environ.get('DDLPROXY_BUILDDIR'):
            candidates.append(os.path.join(os.environ['DDLPROXY_BUILDDIR'], name))
        candidates.append(os.path.join(os.getcwd(), name))
        candidates.append(os.path.normpath(os.path.join(HERE, '..', '..', name)))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise HarnessError('%s binary not found (tried %s): set %s or DDLPROXY_BUILDDIR, '
                       'or run from the build directory' % (name, ', '.join(candidates), env_var))


def find_ddlproxy():
    return _find_binary('ddlproxy', 'DDLPROXY_BIN')


def find_ddlproxyctl():
    return _find_binary('ddlproxyctl', 'DDLPROXYCTL_BIN')


_SANITIZER_REPORT = re.compile(r'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error: ')


class Proxy(_Fixture):
    def __init__(self, backend, config=None, name='ddlproxy', args=(), start=True):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix='ddlp-%s-' % name, dir='/tmp')
        self.host = '127.0.0.1'
        self._port = free_port()
        self.port = int(self._port)
        self.addr = '%s:%d' % (self.host, self.port)
        self.backend = backend
        if isinstance(backend, str):
            self.backend_addr = backend
        else:
            self.backend_addr = backend.addr
        self.user = getattr(backend, 'user', TEST_USER)
        self.password = getattr(backend, 'password', TEST_PASSWORD)
        self.db = getattr(backend, 'db', TEST_DB)
        self.admin_socket = os.path.join(self.dir, 'admin.sock')
        self.ddl_log = os.path.join(self.dir, 'ddl.jsonl')
        self.log_path = os.path.join(self.dir, 'proxy.log')
        self.config_path = os.path.join(self.dir, 'ddlproxy.conf')
        self.extra_args = list(args)
        self.proc = None
        self.expect_exit = False        # set by stop()/kill(): an exit is not a crash
        self.reported = False           # the runner reported this proxy's death already
        self.sections = {
            'proxy': {'listen': self.addr, 'backend': self.backend_addr, 'log': 'stderr',
                      'log_level': 'info', 'ddl_log': self.ddl_log},
            'admin': {'socket': self.admin_socket},
            'tracker': {'user': self.user, 'password': self.password},
        }
        for section, keys in (config or {}).items():
            merged = self.sections.setdefault(section, {})
            for key, value in keys.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        _register(self)
        try:
            self.write_config()
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def write_config(self):
        with open(self.config_path, 'w') as f:
            f.write('; written by tests/integration/harness.py\n')
            for section, keys in self.sections.items():
                f.write('\n[%s]\n' % section)
                for key, value in keys.items():
                    f.write('%s = %s\n' % (key, value))

    def start(self, timeout=15):
        if self.proc and self.proc.poll() is None:
            raise HarnessError('%s is already running' % self.name)
        timeout = slow(timeout)
        argv = [find_ddlproxy(), '-c', self.config_path, '-f'] + self.extra_args
        with open(self.log_path, 'a') as f:
            f.write('### harness: starting %s\n' % ' '.join(argv))
        self.proc = _spawn(argv, self.log_path)
        self.expect_exit = False
        self.reported = False
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.proc.poll() is not None:
                raise HarnessError('%s exited during start-up (%s); log:\n%s' % (
                    self.name, _describe_exit(self.proc.returncode), _tail(self.log_path)))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise HarnessError('%s did not listen on %s within %d s; log:\n%s' % (
                    self.name, self.addr, timeout, _tail(self.log_path)))
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def crash_report(self):
        """None while healthy; else why this proxy is a failure (died, sanitizer report)."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is not None and not self.expect_exit:
            return '%s died unexpectedly (%s); log tail:\n%s' % (
                self.name, _describe_exit(code), _tail(self.log_path))
        m = _SANITIZER_REPORT.search(self.log_text())
        if m:
            return '%s: sanitizer report in its log:\n%s' % (self.name, _tail(self.log_path, 60))
        return None

    def stop(self, timeout=20):
        """SIGTERM and a bounded wait; raises if it hangs, crashes or exits non-zero."""
        timeout = slow(timeout)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.expect_exit = True
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise HarnessError('%s did not exit within %d s of SIGTERM (killed); log tail:\n%s'
                                   % (self.name, timeout, _tail(self.log_path)))
            if self.proc.returncode != 0:
                raise HarnessError('%s exited with %s after SIGTERM; log tail:\n%s' % (
                    self.name, _describe_exit(self.proc.returncode), _tail(self.log_path)))
        else:
            report = self.crash_report()
            self.expect_exit = True
            if report:
                raise HarnessError(report)
        m = _SANITIZER_REPORT.search(self.log_text())
        if m:
            raise HarnessError('%s: sanitizer report in its log:\n%s' % (self.name, _tail(self.log_path, 60)))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.expect_exit = True
            self.proc.kill()
            self.proc.wait()

    def close(self):
        try:
            self.stop()
        finally:
            self._port.release()
            if os.environ.get('DDLPROXY_KEEP_TMP'):
                print('harness: kept %s' % self.dir, file=sys.stderr)
            else:
                shutil.rmtree(self.dir, ignore_errors=True)
            _unregister(self)

    # -- clients

    def connect(self, **kw):
        return mysql_connect(self.host, self.port, kw.pop('user', self.user),
                             kw.pop('password', self.password), kw.pop('db', self.db), **kw)

    def admin(self, line, timeout=10):
        """Sends one admin command over the unix socket; returns the parsed reply."""
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.connect(self.admin_socket)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if time.monotonic() > deadline:
                    raise HarnessError('admin socket %s not available' % self.admin_socket)
                time.sleep(0.05)
        with s:
            s.sendall(line.encode() + b'\n')
            buf = b''
            while not buf.endswith(b'\n'):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        if not buf:
            raise HarnessError('admin %r: connection closed without a reply' % line)
        try:
            return json.loads(buf.split(b'\n', 1)[0])
        except ValueError:
            raise HarnessError('admin %r: reply is not JSON: %r' % (line, buf[:500]))

    def ctl_text(self, *args, timeout=30):
        return subprocess.run([find_ddlproxyctl(), '-s', self.admin_socket] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def ctl(self, *args, timeout=30):
        """ddlproxyctl --json ARGS; returns the parsed reply (check reply['ok'])."""
        res = self.ctl_text('--json', *args, timeout=timeout)
        try:
            return json.loads(res.stdout)
        except ValueError:
            raise HarnessError('ddlproxyctl %s (%s): output is not JSON: stdout=%r stderr=%r' % (
                ' '.join(args), _describe_exit(res.returncode), res.stdout[:500], res.stderr[:500]))

    # -- logs

    def ddl_records(self, type=None):
        """The latency log's records (a trailing partial line is left out)."""
        try:
            with open(self.ddl_log, 'rb') as f:
                data = f.read()
        except FileNotFoundError:
            return []
        records = []
        for number, line in enumerate(data.split(b'\n')[:-1], 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                raise TestFailure('%s line %d is not JSON (%s): %r' % (self.ddl_log, number, e, line[:300]))
            if type is None or rec.get('type') == type:
                records.append(rec)
        return records

    def log_text(self, since=0):
        try:
            with open(self.log_path, 'rb') as f:
                f.seek(since)
                return f.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def log_mark(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def wait_log(self, regex, since=0, timeout=10):
        """The first match of regex in the log after `since`, waiting up to timeout."""
        pattern = re.compile(regex)
        try:
            return wait_for(lambda: pattern.search(self.log_text(since)), timeout,
                            '%s log to match %r' % (self.name, regex))
        except TestFailure as e:
            lines = self.log_text(since).splitlines()[-30:]
            raise TestFailure('%s; log since the mark:\n%s' % (e, '\n'.join(lines)))


# ---------------------------------------------------------------- assertions

def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TestFailure('timed out after %g s waiting for %s' % (timeout, what))
        time.sleep(interval)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        a, e = repr(actual), repr(expected)
        raise TestFailure('%s: expected %s, got %s' % (what, e[:300], a[:300]))


def check_match(regex, text, what):
    m = re.search(regex, text or '')
    if not m:
        raise TestFailure('%s: %r does not match %r' % (what, (text or '')[:500], regex))
    return m


def fault_add(px, *words):
    """ddlproxyctl fault add WORDS through px; the new fault's id (fails the test if refused)."""
    reply = px.ctl('fault', 'add', *words)
    check(reply.get('ok'), 'fault add %s refused: %s' % (' '.join(words), reply.get('error')))
    return reply['id']


def fault_del(px, fid):
    reply = px.ctl('fault', 'del', fid)
    check(reply.get('ok') and reply.get('removed') == 1, 'fault del %s: %r' % (fid, reply))


def check_raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise TestFailure('%s did not raise %s' % (getattr(fn, '__name__', fn), exc))


# ---------------------------------------------------------------- runner

def _alarm(signum, frame):
    raise TestTimeout('test timed out')


def _crashed_proxies():
    reports = []
    for fixture in list(_open_fixtures):
        if isinstance(fixture, Proxy) and not fixture.reported:
            report = fixture.crash_report()
            if report:
                fixture.reported = True
                reports.append(report)
    return reports


def _reason(exc):
    text = str(exc) or exc.__class__.__name__
    if not isinstance(exc, (TestFailure, HarnessError, TestTimeout)):
        text = '%s: %s' % (exc.__class__.__name__, text)
    return text


def run_tests(namespace, argv=None, default_timeout=600):
    """Runs the test_* functions of namespace (a module's globals()) and exits."""
    argv = sys.argv[1:] if argv is None else argv
    wanted = [a for a in argv if not a.startswith('-')]
    tests = [(name, fn) for name, fn in namespace.items()
             if name.startswith('test_') and inspect.isfunction(fn)
             and (not wanted or any(w in name for w in wanted))]
    if not tests:
        print('no test selected (have: %s)' % ', '.join(
            n for n in namespace if n.startswith('test_')))
        print('0 passed, 0 failed')
        sys.stdout.flush()
        sys.exit(2)
    signal.signal(signal.SIGALRM, _alarm)
    passed = failed = 0
    fixtures = {}
    setup_error = None
    if 'setup_module' in namespace:
        try:
            fixtures = namespace['setup_module']() or {}
        except Exception as e:
            setup_error = _reason(e)
            traceback.print_exc()
    for name, fn in tests:
        if setup_error:
            print('FAIL %s: setup_module failed: %s' % (name, setup_error.splitlines()[0]))
            failed += 1
            continue
        sys.stdout.flush()
        started = time.monotonic()
        try:
            params = inspect.signature(fn).parameters
            missing = [p for p in params if p not in fixtures]
            if missing:
                raise HarnessError('no fixture named %s' % ', '.join(missing))
            signal.alarm(int(slow(getattr(fn, 'timeout', default_timeout))))
            try:
                fn(**{p: fixtures[p] for p in params})
            finally:
                signal.alarm(0)
            crashes = _crashed_proxies()
            if crashes:
                raise HarnessError('\n'.join(crashes))
            print('ok %s' % name)
            passed += 1
        except Skip as e:
            print('skip %s: %s' % (name, e))
        except Exception as e:
            crashes = _crashed_proxies()
            reason = _reason(e)
            if crashes:
                reason = '\n'.join(crashes) + '\n(and the test said: %s)' % reason
            print('FAIL %s: %s' % (name, reason))
            print('--- %s traceback (%.1f s into the test):' % (name, time.monotonic() - started),
                  file=sys.stderr)
            traceback.print_exc()
            failed += 1
        sys.stdout.flush()
        sys.stderr.flush()
    teardown_errors = []
    if 'teardown_module' in namespace and not setup_error:
        try:
            namespace['teardown_module']()
        except Exception as e:
            teardown_errors.append(_reason(e))
    teardown_errors += close_all()
    for err in teardown_errors:
        print('FAIL teardown: %s' % err)
        failed += 1
    print('%d passed, %d failed' % (passed, failed))
    sys.stdout.flush()
    sys.exit(1 if failed else 0)


# ---------------------------------------------------------------- self-test

def _selftest_ports():
    a, b = free_port(), free_port()
    check(int(a) != int(b), 'two free_port() calls gave the same port')
    other = open(os.path.join(PORT_LOCK_DIR, '%d.lock' % a), 'a')
    try:
        check_raises(OSError, fcntl.flock, other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        other.close()
    a.release()
    b.release()


def _selftest_mariadb():
    with MariaDB(name='selftest') as db:
        conn = db.connect()
        cur = conn.cursor()
        cur.execute('SELECT CURRENT_USER(), DATABASE(), @@max_allowed_packet')
        check_eq(cur.fetchone(), ('%s@%%' % TEST_USER, TEST_DB, 64 << 20), 'user, db, packet size')
        conn.close()
        first_pid = db.pid
        db.kill()
        check_raises(MySQLdb.OperationalError, db.connect, connect_timeout=2)
        db.start()
        check(db.pid != first_pid, 'restart kept the old process')
        check_eq(db.query('SELECT 1+1'), ((2,),), 'query after restart')
        res = cli(db, 'SELECT 40+2 AS answer')
        check_eq(res.stdout.split(), ['answer', '42'], 'mariadb CLI output')
        sysbench(db, 'oltp_point_select', 'prepare', args=['--tables=1', '--table-size=100'])
        r = sysbench(db, 'oltp_point_select', threads=2, time_s=0, events=200,
                     args=['--tables=1', '--table-size=100'])
        check_eq(r['transactions'], 200, 'sysbench transactions')
        check(r['latency_p95_ms'] > 0, 'sysbench p95 parsed')
        port, datadir = int(db.port), db.dir
    check(not os.path.exists(datadir), 'close() removed the fixture directory')
    with open(os.path.join(PORT_LOCK_DIR, '%d.lock' % port), 'a') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)    # raises if close() kept the port


def _selftest_tls():
    with MariaDB(name='selftest-tls', tls=True) as db:
        conn = db.connect(ssl={'ca': db.certs.ca})
        cur = conn.cursor()
        cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
        check(cur.fetchone()[1], 'TLS connection has no cipher')
        res = subprocess.run(['openssl', 'verify', '-CAfile', db.certs.ca, db.certs.proxy_cert,
                              db.certs.client_cert], capture_output=True, text=True)
        check_eq(res.returncode, 0, 'openssl verify of the proxy and client certs: ' + res.stdout + res.stderr)


def _selftest_runner():
    # A module with one passing and one failing test: the runner's output and status.
    src = ('import sys; sys.path.insert(0, %r)\nimport harness\n'
           'def test_good(): pass\n'
           'def test_bad(): harness.check_eq(1, 2, "one")\n'
           'harness.run_tests(globals())\n' % HERE)
    res = subprocess.run([sys.executable, '-c', src], capture_output=True, text=True, timeout=60)
    lines = res.stdout.splitlines()
    check_eq(res.returncode, 1, 'exit status with a failing test')
    check_eq(lines[0], 'ok test_good', 'first line')
    check_match(r'^FAIL test_bad: one: expected 2, got 1$', lines[1], 'second line')
    check_eq(lines[-1], '1 passed, 1 failed', 'summary line')


def _selftest_proxy():
    try:
        find_ddlproxy()
    except HarnessError as e:
        raise Skip(str(e))
    with MariaDB(name='selftest-px') as db, Proxy(db, name='selftest-proxy',
                                                   config={'proxy': {'backend_tls': 'disable'}}) as px:
        conn = px.connect()
        cur = conn.cursor()
        cur.execute('SELECT 6*7')
        check_eq(cur.fetchone(), (42,), 'query through the proxy')
        conn.close()
        check(px.alive(), 'proxy alive')


def _selftest():
    namespace = {
        'test_ports': _selftest_ports,
        'test_mariadb': _selftest_mariadb,
        'test_tls': _selftest_tls,
        'test_runner': _selftest_runner,
        'test_proxy': _selftest_proxy,
    }
    run_tests(namespace, argv=[a for a in sys.argv[1:] if a != '--selftest'])


if __name__ == '__main__':
    if '--selftest' in sys.argv:
        _selftest()
    print(__doc__)
