#!/usr/bin/env python3
"""TiDB DDL job-table emulator: a small MySQL-protocol server (stdlib only).

It is NOT TiDB. It speaks just enough of the protocol for the MySQL client
libraries (handshake v10 with mysql_native_password, COM_QUERY, COM_PING,
COM_INIT_DB, COM_QUIT, text result sets, OK/ERR) and plays TiDB's DDL job
table so ddlproxy's TiDB tracker can be tested without a cluster:

* a DDL statement creates a job; the client's reply is held until the job's
  scripted state sequence has played out (e.g. queueing for 3 s, running
  through delete only / write only / write reorganization / public, done,
  synced), then OK, or ERR after rollingback / rollback done;
* ADMIN SHOW DDL JOBS n and ADMIN SHOW DDL JOB QUERIES ids answer with the
  column layouts of TiDB 7.5 (second-precision times, "add index /* ingest */")
  or 8.5 (microsecond times, COMMENTS column); times are rendered in the
  session time zone (default +08:00, like many clusters) so a tracker that
  does not pin its time zone gets them wrong;
* ADMIN CANCEL DDL JOBS ids;
* control statements, from any connection:
    EMULATOR SCRIPT '<json>'      queue a script for the next DDL
    EMULATOR DEFAULT '<json>'     script for DDLs with no queued script
    EMULATOR ADMIN_TIMEOUT <window_s> <sleep_s>
        for window_s seconds, ADMIN queries sleep sleep_s before answering
        ERR 9001 (what a PD partition does to their TSO request)
    EMULATOR RESET                forget scripts and timeouts
  A script: {"steps": [["queueing", "none", 3.0], ["running", "delete only", 0.3], ...],
             "error": [1062, "23000", "Duplicate entry"]}   (error optional)

Usage: emulator.py --port 0 --version 7.5|8.5 [--script FILE.json] [--port-file F]
The bound port is printed as "PORT <n>" on stdout (and written to --port-file).
"""

import argparse
import datetime
import json
import os
import re
import socket
import socketserver
import struct
import sys
import threading
import time

CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 0x10000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PS_MULTI_RESULTS = 0x40000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC = 0x200000
SERVER_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_FOUND_ROWS | CLIENT_LONG_FLAG |
               CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS |
               CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS |
               CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH | CLIENT_PLUGIN_AUTH_LENENC)
STATUS_AUTOCOMMIT = 0x2
STATUS_MORE_RESULTS = 0x8

T_LONGLONG, T_DATETIME, T_VAR_STRING = 0x08, 0x0c, 0xfd

COLS_75 = [("JOB_ID", T_LONGLONG), ("DB_NAME", T_VAR_STRING), ("TABLE_NAME", T_VAR_STRING),
           ("JOB_TYPE", T_VAR_STRING), ("SCHEMA_STATE", T_VAR_STRING), ("SCHEMA_ID", T_LONGLONG),
           ("TABLE_ID", T_LONGLONG), ("ROW_COUNT", T_LONGLONG), ("CREATE_TIME", T_DATETIME),
           ("START_TIME", T_DATETIME), ("END_TIME", T_DATETIME), ("STATE", T_VAR_STRING)]
COLS_85 = COLS_75 + [("COMMENTS", T_VAR_STRING)]

FINAL_STATES = ("synced", "cancelled", "rollback done")
DEFAULT_SCRIPT = {"steps": [["queueing", "none", 0.05], ["running", "delete only", 0.05],
                            ["running", "write only", 0.05], ["running", "public", 0.05]]}


def lenenc_int(n):
    if n < 251:
        return bytes([n])
    if n < 1 << 16:
        return b"\xfc" + struct.pack("<H", n)
    if n < 1 << 24:
        return b"\xfd" + struct.pack("<I", n)[:3]
    return b"\xfe" + struct.pack("<Q", n)


def lenenc_str(b):
    if isinstance(b, str):
        b = b.encode()
    return lenenc_int(len(b)) + b


def strip_comments(sql):
    """Leading whitespace and comments off (executable comments are kept)."""
    s = sql
    while True:
        s = s.lstrip()
        if s.startswith("/*") and not s.startswith("/*!") and not s.startswith("/*T!"):
            end = s.find("*/")
            s = s[end + 2:] if end >= 0 else ""
        elif s.startswith("#") or s.startswith("-- "):
            nl = s.find("\n")
            s = s[nl + 1:] if nl >= 0 else ""
        else:
            return s


def split_statements(sql):
    out, cur, quote, i = [], [], None, 0
    while i < len(sql):
        c = sql[i]
        if quote:
            cur.append(c)
            if c == "\\" and quote != "`" and i + 1 < len(sql):
                cur.append(sql[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
            cur.append(c)
        elif c == ";":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return [s for s in out if strip_comments(s).strip()]


def top_level_commas(s):
    depth, quote, n = 0, None, 0
    for i, c in enumerate(s):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            n += 1
    return n


def ident(s):
    return s.strip().strip("`")


def split_name(name, default_db):
    parts = [ident(p) for p in re.split(r"\.(?=(?:[^`]*`[^`]*`)*[^`]*$)", name)]
    if len(parts) == 2:
        return parts[0], parts[1]
    return default_db or "", parts[0]


NAME = r"((?:`[^`]+`|[\w$]+)(?:\.(?:`[^`]+`|[\w$]+))?)"


def alter_spec_type(spec):
    s = spec.strip().lower()
    if re.match(r"add\s+(unique\s+|fulltext\s+)?(index|key)\b", s) or re.match(r"add\s+unique\b", s):
        return "add index"
    if re.match(r"add\s+primary\s+key", s):
        return "add primary key"
    if re.match(r"add\s+(column\b|[\w`])", s):
        return "add column"
    if re.match(r"drop\s+(index|key)\b", s):
        return "drop index"
    if re.match(r"drop\s+(column\s+)?[\w`]", s):
        return "drop column"
    if re.match(r"modify\b|change\b", s):
        return "modify column"
    return "modify table options"


def classify_ddl(stmt, default_db):
    """(job_type, db, table, specs) for a DDL statement, or None."""
    s = strip_comments(stmt).strip().rstrip(";")
    low = s.lower()
    m = re.match(r"alter\s+table\s+" + NAME + r"\s+(.*)$", s, re.I | re.S)
    if m:
        db, table = split_name(m.group(1), default_db)
        specs_text = m.group(2)
        specs, depth, quote, cur = [], 0, None, []
        for c in specs_text:
            if quote:
                if c == quote:
                    quote = None
            elif c in "'\"`":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            elif c == "," and depth == 0:
                specs.append("".join(cur))
                cur = []
                continue
            cur.append(c)
        specs.append("".join(cur))
        types = [alter_spec_type(x) for x in specs]
        if len(types) > 1:
            return "alter table multi-schema change", db, table, types
        return types[0], db, table, []
    for pat, jt in ((r"create\s+(?:unique\s+)?index\s+[\w`]+\s+on\s+" + NAME, "add index"),
                    (r"create\s+table\s+(?:if\s+not\s+exists\s+)?" + NAME, "create table"),
                    (r"drop\s+table\s+(?:if\s+exists\s+)?" + NAME, "drop table"),
                    (r"truncate\s+(?:table\s+)?" + NAME, "truncate table"),
                    (r"rename\s+table\s+" + NAME, "rename table"),
                    (r"create\s+view\s+" + NAME, "create view"),
                    (r"drop\s+index\s+[\w`]+\s+on\s+" + NAME, "drop index")):
        m = re.match(pat, s, re.I | re.S)
        if m:
            db, table = split_name(m.group(1), default_db)
            return jt, db, table, []
    m = re.match(r"(create|drop)\s+(?:database|schema)\s+(?:if\s+(?:not\s+)?exists\s+)?([\w`]+)", s, re.I)
    if m:
        return m.group(1).lower() + " schema", ident(m.group(2)), "", []
    if low.startswith(("create ", "alter ", "drop ", "truncate ", "rename ")) and \
            not re.match(r"(create|alter|drop|rename)\s+(user|role)\b", low):
        return "unknown", default_db or "", "", []
    return None


class Job:
    def __init__(self, emu, job_id, job_type, db, table, query, specs, script):
        self.emu = emu
        self.id = job_id
        self.job_type = job_type
        self.db, self.table, self.query = db, table, query
        self.specs = specs
        self.script = script
        self.schema_id = 2
        self.table_id = job_id - 1
        self.row_count = 0
        self.state, self.schema_state = "queueing", "none"
        self.create = time.time()
        self.start = None
        self.end = None
        self.error = None
        self.cancel = False
        self.finished = threading.Event()

    def run(self):
        steps = self.script.get("steps") or DEFAULT_SCRIPT["steps"]
        for state, schema_state, secs in steps:
            with self.emu.lock:
                if self.cancel:
                    break
                if state != "queueing" and self.start is None:
                    self.start = time.time()
                self.state, self.schema_state = state, schema_state
                if schema_state in ("write reorganization", "public"):
                    self.row_count = self.script.get("rows", 1000)
            deadline = time.time() + float(secs)
            while time.time() < deadline and not self.cancel:
                time.sleep(min(0.01, max(0.0, deadline - time.time())))
        err = self.script.get("error")
        with self.emu.lock:
            if self.cancel:
                self.state = "cancelled"
                self.error = (8214, "HY000", "Cancelled DDL job")
            elif err:
                self.state = "rollingback"
        if err and not self.cancel:
            time.sleep(0.05)
            with self.emu.lock:
                self.state, self.schema_state = "rollback done", "none"
                self.error = tuple(err)
        with self.emu.lock:
            self.end = time.time()
            if self.state not in ("cancelled", "rollback done"):
                self.state, self.schema_state = "done", "public"
        if self.error is None:
            time.sleep(0.02)
            with self.emu.lock:
                self.state = "synced"
        self.finished.set()


class Emulator:
    def __init__(self, version, default_script=None, scripts=None):
        self.version = version
        self.lock = threading.Lock()
        self.jobs = {}
        self.next_job_id = 100
        self.scripts = list(scripts or [])
        self.default_script = default_script or DEFAULT_SCRIPT
        self.admin_timeout_until = 0.0
        self.admin_sleep = 0.0
        self.next_conn_id = 1000

    @property
    def server_version(self):
        return "8.0.11-TiDB-v7.5.0" if self.version == "7.5" else "8.0.11-TiDB-v8.5.0"

    def new_job(self, stmt, default_db):
        c = classify_ddl(stmt, default_db)
        if not c:
            return None
        job_type, db, table, specs = c
        if job_type == "add index" and self.version == "7.5":
            job_type += " /* ingest */"
        with self.lock:
            script = self.scripts.pop(0) if self.scripts else self.default_script
            # TiDB allocates job ids and table ids from one counter: ids jump.
            self.next_job_id += 2
            job = Job(self, self.next_job_id, job_type, db, table,
                      strip_comments(stmt).strip(), specs, script)
            self.jobs[job.id] = job
        threading.Thread(target=job.run, daemon=True).start()
        return job

    def fmt_time(self, t, tz_minutes):
        if t is None:
            return None
        dt = datetime.datetime.fromtimestamp(t, datetime.timezone(datetime.timedelta(minutes=tz_minutes)))
        if self.version == "7.5":
            return dt.strftime("%Y-%m-%d %H:%M:%S")
        return dt.strftime("%Y-%m-%d %H:%M:%S.%f")

    def job_rows(self, job, tz):
        comments = "ingest, DXF" if job.job_type.startswith("add index") else ""
        def row(jtype, schema_state, state, start):
            r = [str(job.id), job.db, job.table, jtype, schema_state, str(job.schema_id),
                 str(job.table_id), str(job.row_count), self.fmt_time(job.create, tz),
                 self.fmt_time(start, tz), self.fmt_time(job.end, tz), state]
            if self.version != "7.5":
                r.append(comments)
            return r
        rows = [row(job.job_type, job.schema_state, job.state, job.start)]
        for sub in job.specs:
            rows.append(row(sub + " /* subjob */", job.schema_state,
                            "done" if job.state in ("done", "synced") else job.state, job.start))
        return rows

    def show_jobs(self, n, tz):
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.id)
            running = [j for j in jobs if j.state not in FINAL_STATES and j.state != "done"]
            history = [j for j in reversed(jobs) if j not in running][:n]
            rows = []
            for j in running + history:
                rows.extend(self.job_rows(j, tz))
        return rows

    def admin_stalled(self):
        with self.lock:
            return time.time() < self.admin_timeout_until, self.admin_sleep


class Conn(socketserver.BaseRequestHandler):
    def setup(self):
        self.emu = self.server.emu
        self.seq = 0
        self.db = ""
        self.tz = 8 * 60
        self.caps = 0
        with self.emu.lock:
            self.emu.next_conn_id += 1
            self.conn_id = self.emu.next_conn_id
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- framing --
    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                raise EOFError()
            buf += chunk
        return buf

    def read_packet(self):
        payload = b""
        while True:
            hdr = self.read_exact(4)
            length = hdr[0] | hdr[1] << 8 | hdr[2] << 16
            self.seq = (hdr[3] + 1) & 0xff
            payload += self.read_exact(length)
            if length < 0xffffff:
                return payload

    def send(self, payload):
        data = b""
        while True:
            chunk, payload = payload[:0xffffff], payload[0xffffff:]
            data += struct.pack("<I", len(chunk))[:3] + bytes([self.seq]) + chunk
            self.seq = (self.seq + 1) & 0xff
            if len(chunk) < 0xffffff:
                break
        self.request.sendall(data)

    def ok(self, more=False, affected=0):
        status = STATUS_AUTOCOMMIT | (STATUS_MORE_RESULTS if more else 0)
        self.send(b"\x00" + lenenc_int(affected) + lenenc_int(0) + struct.pack("<HH", status, 0))

    def err(self, code, state, msg):
        self.send(b"\xff" + struct.pack("<H", code) + b"#" + state.encode()[:5] + msg.encode())

    def eof(self, more=False):
        status = STATUS_AUTOCOMMIT | (STATUS_MORE_RESULTS if more else 0)
        self.send(b"\xfe" + struct.pack("<HH", 0, status))

    def resultset(self, cols, rows, more=False):
        self.send(lenenc_int(len(cols)))
        for name, typ in cols:
            length = 21 if typ == T_LONGLONG else 26 if typ == T_DATETIME else 1024
            charset = 63 if typ != T_VAR_STRING else 46
            self.send(lenenc_str("def") + lenenc_str("") + lenenc_str("") + lenenc_str("") +
                      lenenc_str(name) + lenenc_str(name) + b"\x0c" +
                      struct.pack("<HIBHB", charset, length, typ, 0, 0) + b"\x00\x00")
        self.eof()
        for r in rows:
            self.send(b"".join(b"\xfb" if v is None else lenenc_str(str(v)) for v in r))
        self.eof(more)

    # -- session --
    def handle(self):
        try:
            self.greet()
            while True:
                pkt = self.read_packet()
                if not pkt:
                    continue
                cmd = pkt[0]
                if cmd == 0x01:
                    return
                if cmd == 0x0e:
                    self.ok()
                elif cmd == 0x02:
                    self.db = pkt[1:].decode(errors="replace")
                    self.ok()
                elif cmd == 0x03:
                    self.query(pkt[1:].decode(errors="replace"))
                else:
                    self.err(1047, "08S01", "Unknown command")
        except (EOFError, ConnectionError, OSError):
            return

    def greet(self):
        scramble = bytes((b % 127) + 1 for b in os.urandom(20))
        p = bytes([10]) + self.emu.server_version.encode() + b"\x00"
        p += struct.pack("<I", self.conn_id) + scramble[:8] + b"\x00"
        p += struct.pack("<H", SERVER_CAPS & 0xffff) + bytes([46])
        p += struct.pack("<H", STATUS_AUTOCOMMIT) + struct.pack("<H", SERVER_CAPS >> 16)
        p += bytes([21]) + b"\x00" * 10 + scramble[8:] + b"\x00"
        p += b"mysql_native_password\x00"
        self.seq = 0
        self.send(p)
        resp = self.read_packet()
        self.caps = struct.unpack("<I", resp[:4])[0]
        pos = 32
        end = resp.index(b"\x00", pos)
        pos = end + 1
        if self.caps & CLIENT_PLUGIN_AUTH_LENENC:
            n = resp[pos]
            pos += 1 + n
        else:
            n = resp[pos]
            pos += 1 + n
        if self.caps & CLIENT_CONNECT_WITH_DB and pos < len(resp):
            end = resp.index(b"\x00", pos)
            self.db = resp[pos:end].decode(errors="replace")
            pos = end + 1
        plugin = b""
        if self.caps & CLIENT_PLUGIN_AUTH and pos < len(resp):
            end = resp.find(b"\x00", pos)
            plugin = resp[pos:end if end >= 0 else len(resp)]
        if plugin and plugin != b"mysql_native_password":
            # Auth switch to the one plugin we speak; any answer is accepted.
            self.send(b"\xfe" + b"mysql_native_password\x00" + scramble + b"\x00")
            self.read_packet()
        self.ok()

    def query(self, sql):
        stmts = split_statements(sql) if self.caps & CLIENT_MULTI_STATEMENTS else [sql]
        if not stmts:
            self.err(1065, "42000", "Query was empty")
            return
        for i, stmt in enumerate(stmts):
            more = i + 1 < len(stmts)
            if not self.statement(stmt, more):
                return

    def statement(self, stmt, more):
        s = strip_comments(stmt).strip().rstrip(";").strip()
        low = s.lower()
        if low.startswith("emulator "):
            return self.control(s[9:].strip(), more)
        if low.startswith("admin "):
            stalled, sleep_s = self.emu.admin_stalled()
            if stalled:
                time.sleep(sleep_s)
                self.err(9001, "HY000", "PD server timeout: get timestamp")
                return False
        m = re.match(r"admin\s+show\s+ddl\s+jobs(?:\s+(\d+))?\s*(?:where\b.*)?$", low, re.S)
        if m:
            n = int(m.group(1)) if m.group(1) else 10
            cols = COLS_75 if self.emu.version == "7.5" else COLS_85
            self.resultset(cols, self.emu.show_jobs(n, self.tz), more)
            return True
        m = re.match(r"admin\s+show\s+ddl\s+job\s+queries\s+([\d\s,]+)$", low)
        if m:
            ids = [int(x) for x in re.split(r"[\s,]+", m.group(1).strip()) if x]
            with self.emu.lock:
                rows = [[j.query] for j in sorted(self.emu.jobs.values(), key=lambda j: -j.id)
                        if j.id in ids]
            self.resultset([("QUERY", T_VAR_STRING)], rows, more)
            return True
        m = re.match(r"admin\s+cancel\s+ddl\s+jobs\s+([\d\s,]+)$", low)
        if m:
            rows = []
            with self.emu.lock:
                for x in re.split(r"[\s,]+", m.group(1).strip()):
                    j = self.emu.jobs.get(int(x))
                    if j and j.state not in FINAL_STATES and j.state != "done":
                        j.cancel = True
                        rows.append([x, "successful"])
                    else:
                        rows.append([x, "error: [ddl:8226]DDL job %s is finished" % x])
            self.resultset([("JOB_ID", T_VAR_STRING), ("RESULT", T_VAR_STRING)], rows, more)
            return True
        m = re.match(r"set\s+(?:@@session\.|session\s+)?time_zone\s*=\s*'([+-])(\d\d):(\d\d)'$", low)
        if m:
            sign = 1 if m.group(1) == "+" else -1
            self.tz = sign * (int(m.group(2)) * 60 + int(m.group(3)))
            self.ok(more)
            return True
        m = re.match(r"use\s+`?([\w$]+)`?$", s, re.I)
        if m:
            self.db = m.group(1)
            self.ok(more)
            return True
        if low.startswith("select"):
            return self.select(s, more)
        if re.match(r"(set|begin|commit|rollback|start\s+transaction|insert|update|delete|replace)\b", low) or \
                re.match(r"(create|alter|drop|rename)\s+(user|role)\b|grant\b|revoke\b", low):
            self.ok(more)
            return True
        job = self.emu.new_job(stmt, self.db)
        if job is None:
            self.err(1105, "HY000", "emulator: unsupported statement: %s" % s[:80])
            return False
        job.finished.wait()
        if job.error:
            code, state, msg = job.error
            self.err(int(code), state, msg)
            return False
        self.ok(more)
        return True

    def select(self, s, more):
        exprs = re.match(r"select\s+(.*?)(?:\s+limit\s+\d+)?$", s, re.I | re.S).group(1)
        names, values = [], []
        for e in [x.strip() for x in exprs.split(",")]:
            low = e.lower()
            tz = "%+03d:%02d" % (self.tz // 60, abs(self.tz) % 60) if self.tz >= 0 else \
                "-%02d:%02d" % (-self.tz // 60, -self.tz % 60)
            known = {"@@version_comment": "TiDB Server (Apache License 2.0) emulator",
                     "@@version": self.emu.server_version,
                     "@@time_zone": tz, "@@session.time_zone": tz,
                     "connection_id()": str(self.conn_id), "database()": self.db or None,
                     "@@max_allowed_packet": "67108864", "@@autocommit": "1"}
            if low in known:
                values.append(known[low])
            elif re.match(r"^-?\d+$", e):
                values.append(e)
            elif re.match(r"^'.*'$", e):
                values.append(e[1:-1])
            else:
                self.err(1105, "HY000", "emulator: unsupported expression %s" % e[:60])
                return False
            names.append(e)
        self.resultset([(n, T_VAR_STRING) for n in names], [values], more)
        return True

    def control(self, cmd, more):
        word = cmd.split(None, 1)
        verb = word[0].upper() if word else ""
        arg = word[1].strip() if len(word) > 1 else ""
        try:
            if verb in ("SCRIPT", "DEFAULT"):
                script = json.loads(arg.strip("'"))
                with self.emu.lock:
                    if verb == "SCRIPT":
                        self.emu.scripts.append(script)
                    else:
                        self.emu.default_script = script
            elif verb == "ADMIN_TIMEOUT":
                window, sleep_s = (float(x) for x in arg.split())
                with self.emu.lock:
                    self.emu.admin_timeout_until = time.time() + window
                    self.emu.admin_sleep = sleep_s
            elif verb == "RESET":
                with self.emu.lock:
                    self.emu.scripts = []
                    self.emu.default_script = DEFAULT_SCRIPT
                    self.emu.admin_timeout_until = 0
            else:
                raise ValueError("unknown control %r" % verb)
        except (ValueError, TypeError) as e:
            self.err(1105, "HY000", "emulator: %s" % e)
            return False
        self.ok(more)
        return True


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--version", choices=("7.5", "8.5"), default="8.5")
    ap.add_argument("--script", help="JSON file: {\"default\": script, \"scripts\": [script, ...]}")
    ap.add_argument("--port-file")
    a = ap.parse_args()
    default, scripts = None, []
    if a.script:
        with open(a.script) as f:
            spec = json.load(f)
        default, scripts = spec.get("default"), spec.get("scripts", [])
    srv = Server((a.host, a.port), Conn)
    srv.emu = Emulator(a.version, default, scripts)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(a.port_file + ".tmp", a.port_file)
    print("PORT %d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
