#!/usr/bin/python3
"""etcd_cluster.py - a real 3-member etcd cluster for integration tests.

Starts Debian's etcd 3.4 (`etcd`, `etcdctl` with ETCDCTL_API=3) in a temporary
directory. Every member listens on 127.0.0.1 ports of its own (free ports found
by binding port 0 and reserved with lock files, so parallel test runs do not
collide) and ADVERTISES the URLs the caller gives it. With no advertised URLs
a member advertises its own listen URLs (standalone cluster). To put ddlproxy
between the members, give each member the proxy's listeners as advertised
client and peer URLs (e.g. http://127.0.0.11:2379 / http://127.0.0.11:2380)
and start the proxy before calling start(): the members reach each other only
through the advertised peer URLs (--initial-cluster is built from them).

Helpers talk to the members DIRECTLY at their listen URLs, never through the
advertised ones, so a fault the proxy injects does not blind the test.

    with EtcdCluster() as cluster:
        cluster.start()
        print(cluster.leader())
        cluster.put("k", "v"); cluster.get("k")
        cluster.stop("etcd1"); cluster.start_member("etcd1")

Standalone check: /usr/bin/python3 tests/integration/etcd_cluster.py --selftest
"""

import atexit
import base64
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ETCD_BIN = os.environ.get("ETCD_BIN", "etcd")
ETCDCTL_BIN = os.environ.get("ETCDCTL_BIN", "etcdctl")
# Shared by every test run on the host: one lock file per reserved port.
PORT_LOCK_DIR = os.environ.get("DDLP_PORT_LOCK_DIR",
                               os.path.join(tempfile.gettempdir(), "ddlproxy-test-ports"))


class EtcdClusterError(Exception):
    pass


class PortReservation:
    """A free TCP port, held for this process by an flock()ed file.

    The kernel picks a free port (bind to port 0); the lock file keeps other
    test runs that use the same scheme from picking it while we hold it. A
    crashed holder releases its flock automatically, so stale files are harmless.
    """

    def __init__(self, host="127.0.0.1"):
        os.makedirs(PORT_LOCK_DIR, exist_ok=True)
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind((host, 0))
                port = s.getsockname()[1]
            path = os.path.join(PORT_LOCK_DIR, "%d.lock" % port)
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    continue
                raise
            self.host, self.port, self._fd = host, port, fd
            return
        raise EtcdClusterError("no free port found on %s after 200 tries" % host)

    def release(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _die_with_parent():
    """preexec_fn: the member gets SIGTERM if the test process dies (even by SIGKILL)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


def _hostport(url):
    """'http://127.0.0.1:2379' -> '127.0.0.1:2379'."""
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0]


class Member:
    def __init__(self, name, listen_client, listen_peer, advertise_client, advertise_peer):
        self.name = name
        self.listen_client = listen_client      # URLs the member binds
        self.listen_peer = listen_peer
        self.advertise_client = advertise_client  # URLs the member tells others
        self.advertise_peer = advertise_peer
        self.data_dir = None
        self.log_path = None
        self.proc = None
        self.log_file = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None


class EtcdCluster:
    """A 3-member (or N-member) etcd cluster in a temporary directory.

    names:     member names, default etcd1..etcd3.
    listen:    optional {name: {"client": "host:port", "peer": "host:port"}};
               missing entries get free 127.0.0.1 ports.
    advertise: optional {name: {"client": URL, "peer": URL}}; missing entries
               advertise the member's listen URLs.
    """

    _live = []          # for the atexit cleanup

    def __init__(self, names=("etcd1", "etcd2", "etcd3"), listen=None, advertise=None,
                 workdir=None, start_timeout=30.0, keep_dir=False):
        self.names = list(names)
        if len(set(self.names)) != len(self.names) or not self.names:
            raise EtcdClusterError("member names must be unique and non-empty: %r" % (names,))
        listen = listen or {}
        advertise = advertise or {}
        for key in list(listen) + list(advertise):
            if key not in self.names:
                raise EtcdClusterError("listen/advertise names unknown member %r" % key)
        self.start_timeout = start_timeout
        self.keep_dir = keep_dir
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="etcd-cluster-")
        self._ports = []
        self.token = "ddlp-" + uuid.uuid4().hex[:12]
        self.members = {}
        for name in self.names:
            lc = listen.get(name, {}).get("client") or self._reserve()
            lp = listen.get(name, {}).get("peer") or self._reserve()
            m = Member(name, "http://" + lc, "http://" + lp,
                       advertise.get(name, {}).get("client") or "http://" + lc,
                       advertise.get(name, {}).get("peer") or "http://" + lp)
            m.data_dir = os.path.join(self.dir, name + ".etcd")
            m.log_path = os.path.join(self.dir, name + ".log")
            self.members[name] = m
        self.initial_cluster = ",".join(
            "%s=%s" % (n, self.members[n].advertise_peer) for n in self.names)
        EtcdCluster._live.append(self)

    def _reserve(self):
        r = PortReservation()
        self._ports.append(r)
        return "%s:%d" % (r.host, r.port)

    # -- context manager -------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()
        return False

    # -- lifecycle -------------------------------------------------------
    def start(self, wait=True):
        """Starts every member; with wait, returns once all answer healthy (bounded)."""
        try:
            for name in self.names:
                self._spawn(self.members[name])
            if wait:
                self.wait_healthy()
        except BaseException:
            self.stop_all()
            raise
        return self

    def start_member(self, name, wait=True):
        """Restarts a stopped member on its data dir (it rejoins the cluster)."""
        m = self._member(name)
        if m.running():
            return
        self._spawn(m)
        if wait:
            self.wait_healthy([name])

    def _spawn(self, m):
        cmd = [ETCD_BIN,
               "--name", m.name,
               "--data-dir", m.data_dir,
               "--listen-client-urls", m.listen_client,
               "--advertise-client-urls", m.advertise_client,
               "--listen-peer-urls", m.listen_peer,
               "--initial-advertise-peer-urls", m.advertise_peer,
               "--initial-cluster", self.initial_cluster,
               "--initial-cluster-token", self.token,
               "--initial-cluster-state", "new",
               # Fast elections keep leader-change tests short.
               "--heartbeat-interval", "100",
               "--election-timeout", "1000",
               "--logger", "zap", "--log-outputs", "stderr"]
        m.log_file = open(m.log_path, "ab")
        env = dict(os.environ)
        for var in ("ETCD_NAME", "ETCD_DATA_DIR", "http_proxy", "HTTP_PROXY",
                    "https_proxy", "HTTPS_PROXY"):
            env.pop(var, None)
        try:
            m.proc = subprocess.Popen(cmd, stdout=m.log_file, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=env,
                                      preexec_fn=_die_with_parent)
        except OSError as e:
            m.log_file.close()
            raise EtcdClusterError("cannot run %s: %s" % (ETCD_BIN, e))

    def stop(self, name, sig=signal.SIGTERM, timeout=10.0):
        """Stops one member (SIGTERM, then SIGKILL after timeout)."""
        m = self._member(name)
        if m.proc is not None:
            if m.proc.poll() is None:
                try:
                    m.proc.send_signal(sig)
                    m.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    m.proc.kill()
                    m.proc.wait()
                except ProcessLookupError:
                    pass
            m.proc = None
        if m.log_file:
            m.log_file.close()
            m.log_file = None

    def pause(self, name):
        """SIGSTOP: the member stays bound but silent (a hung member, not a dead one)."""
        m = self._member(name)
        if m.running():
            m.proc.send_signal(signal.SIGSTOP)

    def resume(self, name):
        m = self._member(name)
        if m.running():
            m.proc.send_signal(signal.SIGCONT)

    def stop_all(self):
        """Stops every member, releases the ports, removes the directory. Idempotent."""
        for name in self.names:
            m = self.members.get(name)
            if m is None:
                continue
            try:
                if m.running():
                    m.proc.send_signal(signal.SIGCONT)   # a paused member cannot exit
                self.stop(name, timeout=5.0)
            except Exception:
                pass
        for r in self._ports:
            r.release()
        self._ports = []
        if self._own_dir and not self.keep_dir and self.dir and os.path.isdir(self.dir):
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in EtcdCluster._live:
            EtcdCluster._live.remove(self)

    # -- queries (always DIRECT at listen URLs) ---------------------------
    def _member(self, name):
        if name not in self.members:
            raise EtcdClusterError("no member %r (members: %s)" % (name, ", ".join(self.names)))
        return self.members[name]

    def _running_names(self):
        return [n for n in self.names if self.members[n].running()]

    def etcdctl(self, args, endpoints=None, timeout=5.0, check=True):
        """Runs etcdctl against the given (default: all running members') listen URLs."""
        if endpoints is None:
            endpoints = [self.members[n].listen_client for n in self._running_names()]
        if not endpoints:
            raise EtcdClusterError("no running member to ask")
        env = dict(os.environ, ETCDCTL_API="3")
        for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
            env.pop(var, None)
        cmd = [ETCDCTL_BIN, "--endpoints", ",".join(endpoints),
               "--dial-timeout", "1s", "--command-timeout", "%ds" % max(1, int(timeout))]
        cmd += list(args)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 5, env=env)
        except subprocess.TimeoutExpired:
            raise EtcdClusterError("etcdctl %s timed out" % " ".join(args))
        if check and p.returncode != 0:
            raise EtcdClusterError("etcdctl %s failed (%d): %s" % (
                " ".join(args), p.returncode, (p.stderr or p.stdout).strip()))
        return p

    def status(self, name):
        """`etcdctl endpoint status` of one member, asked at its own listen URL."""
        m = self._member(name)
        p = self.etcdctl(["endpoint", "status", "-w", "json"], endpoints=[m.listen_client],
                         timeout=2.0)
        try:
            return json.loads(p.stdout)[0]["Status"]
        except (ValueError, LookupError) as e:
            raise EtcdClusterError("unexpected endpoint status from %s: %s (%r)" % (
                name, e, p.stdout[:200]))

    def member_ids(self):
        """{member id (int): name}, from each running member's own status."""
        ids = {}
        for name in self._running_names():
            try:
                ids[self.status(name)["header"]["member_id"]] = name
            except EtcdClusterError:
                pass
        return ids

    def leader(self, exclude=()):
        """Name of the member the answering members agree is leader, or None.

        Asks each running member directly; an answer from a member with a
        higher raft term wins over a stale one (a deposed, partitioned leader).
        """
        answers = []
        ids = {}
        for name in self._running_names():
            if name in exclude:
                continue
            try:
                st = self.status(name)
            except EtcdClusterError:
                continue
            ids[st["header"]["member_id"]] = name
            if st.get("leader"):
                answers.append((st.get("raftTerm", st["header"].get("raft_term", 0)), st["leader"]))
        if not answers:
            return None
        _, leader_id = max(answers)
        if leader_id not in ids:
            # The leader is a member we did not ask (excluded or down): map via member list.
            for m in self.member_list():
                ids.setdefault(m["ID"], m["name"])
        return ids.get(leader_id)

    def wait_leader(self, timeout=None, exclude=(), not_member=None):
        """Waits (bounded) until a leader is known (and, with not_member, is not that one)."""
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while time.monotonic() < deadline:
            name = self.leader(exclude=exclude)
            if name and name != not_member:
                return name
            time.sleep(0.2)
        raise EtcdClusterError("no leader%s within %.0f s" % (
            " other than " + not_member if not_member else "", timeout or self.start_timeout))

    def member_list(self):
        p = self.etcdctl(["member", "list", "-w", "json"])
        return json.loads(p.stdout).get("members", [])

    def wait_healthy(self, names=None, timeout=None):
        """Waits until every named member answers `endpoint health` and a leader exists."""
        names = names or self.names
        deadline = time.monotonic() + (timeout or self.start_timeout)
        pending = list(names)
        last_error = ""
        while pending:
            for name in list(pending):
                m = self.members[name]
                if not m.running():
                    raise EtcdClusterError("member %s exited (code %s); log %s:\n%s" % (
                        name, m.proc.returncode if m.proc else None, m.log_path,
                        self.log_tail(name)))
                p = self.etcdctl(["endpoint", "health"], endpoints=[m.listen_client],
                                 timeout=2.0, check=False)
                if p.returncode == 0:
                    pending.remove(name)
                else:
                    last_error = (p.stderr or p.stdout).strip()
            if not pending:
                break
            if time.monotonic() > deadline:
                raise EtcdClusterError("members %s not healthy within %.0f s: %s" % (
                    ", ".join(pending), timeout or self.start_timeout, last_error))
            time.sleep(0.2)
        self.wait_leader(timeout=max(1.0, deadline - time.monotonic()))

    def put(self, key, value, endpoints=None):
        self.etcdctl(["put", key, value], endpoints=endpoints)

    def get(self, key, endpoints=None):
        """The value of key, or None if absent."""
        p = self.etcdctl(["get", key, "-w", "json"], endpoints=endpoints)
        kvs = json.loads(p.stdout).get("kvs") or []
        if not kvs:
            return None
        return base64.b64decode(kvs[0]["value"]).decode()

    def log_tail(self, name, lines=20):
        try:
            with open(self.members[name].log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


@atexit.register
def _cleanup_live_clusters():
    for c in list(EtcdCluster._live):
        c.stop_all()


def _selftest():
    passed = failed = 0

    def check(what, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok   %s" % what)
        else:
            failed += 1
            print("FAIL %s %s" % (what, detail))

    # SIGTERM/SIGINT of the self-test still runs the cleanup (atexit).
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        with EtcdCluster() as c:
            t0 = time.monotonic()
            c.start()
            check("cluster of 3 formed in %.1f s" % (time.monotonic() - t0), True)
            ports = {_hostport(u) for m in c.members.values()
                     for u in (m.listen_client, m.listen_peer)}
            check("6 distinct ports", len(ports) == 6, repr(ports))
            locks_held = all(os.path.exists(os.path.join(PORT_LOCK_DIR, "%s.lock" % p.split(":")[1]))
                             for p in ports)
            check("ports reserved by lock files", locks_held)
            names = {m["name"] for m in c.member_list()}
            check("member list has etcd1..3", names == set(c.names), repr(names))
            leader = c.leader()
            check("leader found: %s" % leader, leader in c.names)
            c.put("/ddlproxy/selftest", "hello")
            check("put/get", c.get("/ddlproxy/selftest") == "hello")
            check("get of a missing key is None", c.get("/ddlproxy/missing") is None)
            c.stop(leader)
            new_leader = c.wait_leader(timeout=15, not_member=leader)
            check("new leader %s after stopping %s" % (new_leader, leader),
                  new_leader in c.names and new_leader != leader)
            c.put("/ddlproxy/selftest", "again")
            c.start_member(leader)
            check("restarted member serves the new value",
                  c.get("/ddlproxy/selftest", endpoints=[c.members[leader].listen_client])
                  == "again")
            workdir = c.dir
            procs = [m.proc for m in c.members.values()]
        check("stop_all stopped every member", all(p.poll() is not None for p in procs))
        check("stop_all removed the directory", not os.path.exists(workdir))
        try:
            EtcdCluster(names=("a", "a"))
            check("duplicate names rejected", False)
        except EtcdClusterError:
            check("duplicate names rejected", True)
    except EtcdClusterError as e:
        check("cluster", False, str(e))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        sys.exit(_selftest())
    print("usage: %s --selftest" % sys.argv[0], file=sys.stderr)
    sys.exit(2)
