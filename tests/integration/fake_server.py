#!/usr/bin/python3
"""fake_server.py - MySQL wire-protocol helpers for tests that need raw packets:

    RawClient(host, port)   a hand-made client: greeting(), login(), query()
                            (text protocol), prepare()/execute()/fetch()/
                            send_long_data()/stmt_close()/stmt_reset()
                            (binary protocol, cursors), command(), and
                            send_raw()/recv_some() for sending garbage.
    FakeServer(mode)        a misbehaving MySQL server (a harness fixture):
                            on each new connection it acts out self.mode.

FakeServer modes (mode is read when a connection arrives):
    ok                    behaves: greeting, any password accepted, SELECT ->
                          one column 'v' with one row '1', others -> OK.
    garbage_greeting      512 random bytes instead of a greeting.
    truncated_greeting    a greeting header claiming the full length, 20
                          bytes of it, then close.
    greeting_then_close   a valid greeting, then close.
    err_greeting          ERR 1040 "Too many connections" instead of a greeting.
After a successful login, only a SELECT containing the word `misbehave` gets
the mode's bad answer (other statements behave, so clients can log in):
    garbage_after_auth    300 random bytes.
    bad_column_count      a column count that is a NULL (0xFB).
    column_count_mismatch says 3 columns, sends 1 definition, EOF, a row, EOF.
    huge_column_count     column count 2^62.
    truncated_response    a header claiming 100 bytes, 10 bytes, then close.
    err_mid_resultset     a valid result set interrupted by ERR 1317 after
                          its first row (legal: a killed query); the
                          connection stays usable.
The "stays open" modes keep the connection until the peer closes it (at
most 30 s), so a proxy that waits for more instead of closing is caught.
FakeServer counts connections (accepted) and closed_by_peer (the other side
closed first), and records the last handshake response it got.
"""

import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Capability flags
CLIENT_LONG_PASSWORD = 0x1
CLIENT_FOUND_ROWS = 0x2
CLIENT_LONG_FLAG = 0x4
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SSL = 0x800
CLIENT_TRANSACTIONS = 0x2000
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_STATEMENTS = 0x10000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PS_MULTI_RESULTS = 0x40000
CLIENT_PLUGIN_AUTH = 0x80000
CLIENT_PLUGIN_AUTH_LENENC_DATA = 0x200000
CLIENT_DEPRECATE_EOF = 0x1000000

SERVER_STATUS_AUTOCOMMIT = 0x2
SERVER_MORE_RESULTS_EXISTS = 0x8
SERVER_STATUS_CURSOR_EXISTS = 0x40
SERVER_STATUS_LAST_ROW_SENT = 0x80

COM_QUIT, COM_INIT_DB, COM_QUERY, COM_PING = 0x01, 0x02, 0x03, 0x0e
COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA = 0x16, 0x17, 0x18
COM_STMT_CLOSE, COM_STMT_RESET, COM_SET_OPTION, COM_STMT_FETCH = 0x19, 0x1a, 0x1b, 0x1c
COM_RESET_CONNECTION = 0x1f

MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG = 1, 2, 3
MYSQL_TYPE_LONGLONG, MYSQL_TYPE_INT24, MYSQL_TYPE_YEAR = 8, 9, 13
MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_BLOB = 0xfd, 0xfc

CURSOR_TYPE_READ_ONLY = 0x01

CLIENT_CAPS = (CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
               | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS
               | CLIENT_PLUGIN_AUTH)
SERVER_CAPS = (CLIENT_CAPS | CLIENT_FOUND_ROWS | CLIENT_CONNECT_WITH_DB
               | CLIENT_PLUGIN_AUTH_LENENC_DATA)
MAX_PACKET = 0xFFFFFF


class WireError(Exception):
    """An ERR packet (code, sqlstate, message) or a protocol violation (code 0)."""

    def __init__(self, code, message, sqlstate=''):
        super().__init__('%d %s' % (code, message) if code else message)
        self.code, self.message, self.sqlstate = code, message, sqlstate


# ---------------------------------------------------------------- encoding

def lenenc_int(n):
    if n < 0xfb:
        return bytes([n])
    if n < 1 << 16:
        return b'\xfc' + struct.pack('<H', n)
    if n < 1 << 24:
        return b'\xfd' + struct.pack('<I', n)[:3]
    return b'\xfe' + struct.pack('<Q', n)


def lenenc_str(b):
    if isinstance(b, str):
        b = b.encode()
    return lenenc_int(len(b)) + b


def read_lenenc_int(buf, pos):
    first = buf[pos]
    if first < 0xfb:
        return first, pos + 1
    if first == 0xfb:
        return None, pos + 1
    if first == 0xfc:
        return struct.unpack_from('<H', buf, pos + 1)[0], pos + 3
    if first == 0xfd:
        return int.from_bytes(buf[pos + 1:pos + 4], 'little'), pos + 4
    return struct.unpack_from('<Q', buf, pos + 1)[0], pos + 9


def read_lenenc_str(buf, pos):
    n, pos = read_lenenc_int(buf, pos)
    if n is None:
        return None, pos
    return bytes(buf[pos:pos + n]), pos + n


def ok_packet(affected=0, insert_id=0, status=SERVER_STATUS_AUTOCOMMIT, warnings=0):
    return b'\x00' + lenenc_int(affected) + lenenc_int(insert_id) + struct.pack('<HH', status, warnings)


def eof_packet(status=SERVER_STATUS_AUTOCOMMIT, warnings=0):
    return b'\xfe' + struct.pack('<HH', warnings, status)


def err_packet(code, message, sqlstate='HY000'):
    return b'\xff' + struct.pack('<H', code) + b'#' + sqlstate.encode() + message.encode()


def column_def(name, col_type=MYSQL_TYPE_VAR_STRING, length=255, charset=33):
    return (lenenc_str('def') + lenenc_str('') + lenenc_str('') + lenenc_str('') + lenenc_str(name)
            + lenenc_str(name) + b'\x0c' + struct.pack('<HIBHB', charset, length, col_type, 0, 0) + b'\0\0')


def parse_column_def(payload):
    pos = 0
    fields = []
    for _ in range(6):
        value, pos = read_lenenc_str(payload, pos)
        fields.append(value)
    _, pos = read_lenenc_int(payload, pos)
    charset, length, col_type, flags, decimals = struct.unpack_from('<HIBHB', payload, pos)
    return {'name': fields[4].decode(), 'type': col_type, 'flags': flags, 'charset': charset}


def parse_err(payload):
    code = struct.unpack_from('<H', payload, 1)[0]
    if payload[3:4] == b'#':
        return WireError(code, payload[9:].decode('utf-8', 'replace'), payload[4:9].decode())
    return WireError(code, payload[3:].decode('utf-8', 'replace'))


def parse_ok(payload):
    affected, pos = read_lenenc_int(payload, 1)
    insert_id, pos = read_lenenc_int(payload, pos)
    status, warnings = struct.unpack_from('<HH', payload, pos)
    return {'affected_rows': affected, 'insert_id': insert_id, 'status': status, 'warnings': warnings}


def is_eof(payload):
    return payload[:1] == b'\xfe' and len(payload) < 9


def native_password(password, scramble):
    """mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))."""
    if not password:
        return b''
    p1 = hashlib.sha1(password.encode()).digest()
    p2 = hashlib.sha1(p1).digest()
    p3 = hashlib.sha1(scramble + p2).digest()
    return bytes(a ^ b for a, b in zip(p1, p3))


def greeting_packet(conn_id, scramble, version='8.0.99-fake', caps=SERVER_CAPS,
                    plugin='mysql_native_password'):
    return (b'\x0a' + version.encode() + b'\0' + struct.pack('<I', conn_id) + scramble[:8] + b'\0'
            + struct.pack('<H', caps & 0xffff) + bytes([33]) + struct.pack('<H', SERVER_STATUS_AUTOCOMMIT)
            + struct.pack('<H', caps >> 16) + bytes([len(scramble) + 1]) + b'\0' * 10
            + scramble[8:] + b'\0' + plugin.encode() + b'\0')


def parse_greeting(payload):
    if not payload or payload[0] != 10:
        raise WireError(0, 'not a protocol-10 greeting: %r' % payload[:40])
    end = payload.index(b'\0', 1)
    g = {'version': payload[1:end].decode('utf-8', 'replace')}
    pos = end + 1
    g['conn_id'] = struct.unpack_from('<I', payload, pos)[0]
    scramble = payload[pos + 4:pos + 12]
    pos += 13
    caps_lo, g['charset'], g['status'], caps_hi, auth_len = struct.unpack_from('<HBHHB', payload, pos)
    g['caps'] = caps_lo | caps_hi << 16
    pos += 8 + 10
    rest = max(13, auth_len - 8)
    scramble += payload[pos:pos + rest - 1]
    g['scramble'] = scramble
    pos += rest
    g['plugin'] = payload[pos:].split(b'\0', 1)[0].decode() if pos < len(payload) else ''
    return g


def handshake_response(user, auth, db=None, caps=CLIENT_CAPS, plugin='mysql_native_password'):
    if db:
        caps |= CLIENT_CONNECT_WITH_DB
    body = struct.pack('<IIB', caps, MAX_PACKET, 33) + b'\0' * 23 + user.encode() + b'\0'
    body += bytes([len(auth)]) + auth
    if db:
        body += db.encode() + b'\0'
    body += plugin.encode() + b'\0'
    return body


def ssl_request(caps=CLIENT_CAPS):
    return struct.pack('<IIB', caps | CLIENT_SSL, MAX_PACKET, 33) + b'\0' * 23


# ---------------------------------------------------------------- client

class RawClient:
    def __init__(self, host, port, timeout=10):
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.seq = 0
        self.greeting = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- framing

    def _recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise WireError(0, 'connection closed after %d of %d bytes' % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def read_packet(self):
        """One logical packet (16 MiB continuations joined); sets self.seq."""
        payload = b''
        while True:
            header = self._recv_exact(4)
            length = int.from_bytes(header[:3], 'little')
            self.seq = header[3]
            payload += self._recv_exact(length)
            if length < MAX_PACKET:
                return payload

    def write_packet(self, payload, seq=None):
        if seq is not None:
            self.seq = seq
        out = bytearray()
        while True:
            chunk, payload = payload[:MAX_PACKET], payload[MAX_PACKET:]
            out += len(chunk).to_bytes(3, 'little') + bytes([self.seq & 0xff]) + chunk
            self.seq += 1
            if len(chunk) < MAX_PACKET:
                break
        self.sock.sendall(out)

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_some(self, timeout=5):
        """Whatever arrives next: bytes, b'' on EOF (or reset), None on timeout."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b''

    # -- connection phase

    def read_greeting(self):
        payload = self.read_packet()
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        self.greeting = parse_greeting(payload)
        return self.greeting

    def login(self, user, password, db=None, caps=CLIENT_CAPS):
        if self.greeting is None:
            self.read_greeting()
        scramble = self.greeting['scramble'][:20]
        self.write_packet(handshake_response(user, native_password(password, scramble), db, caps),
                          seq=self.seq + 1)
        while True:
            payload = self.read_packet()
            if payload[:1] == b'\x00':
                return parse_ok(payload)
            if payload[:1] == b'\xff':
                raise parse_err(payload)
            if payload[:1] == b'\xfe':          # auth switch request
                plugin, _, data = payload[1:].partition(b'\0')
                if plugin != b'mysql_native_password':
                    raise WireError(0, 'auth switch to unsupported plugin %r' % plugin)
                self.write_packet(native_password(password, data.rstrip(b'\0')[:20]), seq=self.seq + 1)
                continue
            raise WireError(0, 'unexpected packet during login: %r' % payload[:40])

    # -- command phase

    def command(self, cmd, body=b''):
        self.write_packet(bytes([cmd]) + body, seq=0)

    def _read_columns(self, count):
        cols = [parse_column_def(self.read_packet()) for _ in range(count)]
        eof = self.read_packet()
        if not is_eof(eof):
            raise WireError(0, 'expected EOF after %d column definitions, got %r' % (count, eof[:20]))
        return cols

    def read_result(self, binary=False):
        """One result: {'ok':...} or {'columns','rows','status'}; ERR raises WireError."""
        payload = self.read_packet()
        if payload[:1] == b'\x00':
            return {'ok': parse_ok(payload)}
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        count, _ = read_lenenc_int(payload, 0)
        if count is None or count > 4096:
            raise WireError(0, 'bad column count packet %r' % payload[:20])
        cols = self._read_columns(count)
        rows, status = self._read_rows(cols, binary)
        return {'columns': cols, 'rows': rows, 'status': status}

    def _read_rows(self, cols, binary):
        rows = []
        while True:
            payload = self.read_packet()
            if is_eof(payload):
                return rows, struct.unpack_from('<H', payload, 3)[0]
            if payload[:1] == b'\xff':
                raise parse_err(payload)
            rows.append(self._binary_row(payload, cols) if binary else self._text_row(payload, len(cols)))

    @staticmethod
    def _text_row(payload, n):
        pos, row = 0, []
        for _ in range(n):
            value, pos = read_lenenc_str(payload, pos)
            row.append(value)
        return tuple(row)

    @staticmethod
    def _binary_row(payload, cols):
        nulls = payload[1:1 + (len(cols) + 9) // 8]
        pos = 1 + len(nulls)
        row = []
        for i, col in enumerate(cols):
            bit = i + 2
            if nulls[bit // 8] & (1 << (bit % 8)):
                row.append(None)
                continue
            t = col['type']
            if t == MYSQL_TYPE_TINY:
                row.append(payload[pos]); pos += 1
            elif t in (MYSQL_TYPE_SHORT, MYSQL_TYPE_YEAR):
                row.append(struct.unpack_from('<h', payload, pos)[0]); pos += 2
            elif t in (MYSQL_TYPE_LONG, MYSQL_TYPE_INT24):
                row.append(struct.unpack_from('<i', payload, pos)[0]); pos += 4
            elif t == MYSQL_TYPE_LONGLONG:
                row.append(struct.unpack_from('<q', payload, pos)[0]); pos += 8
            else:
                value, pos = read_lenenc_str(payload, pos)
                row.append(value)
        return tuple(row)

    def read_results(self, binary=False):
        """All results of one command (multi-statements, CALL)."""
        results = []
        while True:
            res = self.read_result(binary)
            results.append(res)
            status = res['ok']['status'] if 'ok' in res else res['status']
            if not status & SERVER_MORE_RESULTS_EXISTS:
                return results

    def query(self, sql):
        self.command(COM_QUERY, sql.encode() if isinstance(sql, str) else sql)
        return self.read_results()

    # -- prepared statements (binary protocol)

    def prepare(self, sql):
        self.command(COM_STMT_PREPARE, sql.encode())
        payload = self.read_packet()
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        stmt_id, ncols, nparams = struct.unpack_from('<IHH', payload, 1)
        params = self._read_columns(nparams) if nparams else []
        cols = self._read_columns(ncols) if ncols else []
        return {'id': stmt_id, 'columns': cols, 'params': params}

    def execute(self, stmt, params=(), cursor=False, long_data=()):
        """params: ints and str/bytes; long_data: indexes already sent with send_long_data."""
        body = struct.pack('<IBI', stmt['id'], CURSOR_TYPE_READ_ONLY if cursor else 0, 1)
        if params:
            null_bitmap = bytearray((len(params) + 7) // 8)
            types, values = b'', b''
            for i, p in enumerate(params):
                if p is None:
                    null_bitmap[i // 8] |= 1 << (i % 8)
                    types += struct.pack('<BB', MYSQL_TYPE_LONGLONG, 0)
                elif isinstance(p, int):
                    types += struct.pack('<BB', MYSQL_TYPE_LONGLONG, 0)
                    values += struct.pack('<q', p)
                else:
                    types += struct.pack('<BB', MYSQL_TYPE_BLOB if i in long_data else MYSQL_TYPE_VAR_STRING, 0)
                    if i not in long_data:
                        values += lenenc_str(p)
            body += bytes(null_bitmap) + b'\x01' + types + values
        self.command(COM_STMT_EXECUTE, body)
        payload = self.read_packet()
        if payload[:1] == b'\x00':
            return {'ok': parse_ok(payload)}
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        count, _ = read_lenenc_int(payload, 0)
        cols = [parse_column_def(self.read_packet()) for _ in range(count)]
        eof = self.read_packet()
        if not is_eof(eof):
            raise WireError(0, 'expected EOF after column definitions, got %r' % eof[:20])
        status = struct.unpack_from('<H', eof, 3)[0]
        if cursor and status & SERVER_STATUS_CURSOR_EXISTS:
            # A cursor was opened: no rows follow until COM_STMT_FETCH.
            return {'columns': cols, 'rows': [], 'status': status, 'cursor': True}
        rows, status = self._read_rows(cols, True)
        return {'columns': cols, 'rows': rows, 'status': status}

    def fetch(self, stmt, columns, count):
        self.command(COM_STMT_FETCH, struct.pack('<II', stmt['id'], count))
        rows, status = self._read_rows(columns, True)
        return rows, status

    def send_long_data(self, stmt, param, data):
        self.command(COM_STMT_SEND_LONG_DATA, struct.pack('<IH', stmt['id'], param) + data)

    def stmt_reset(self, stmt):
        self.command(COM_STMT_RESET, struct.pack('<I', stmt['id']))
        payload = self.read_packet()
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        return parse_ok(payload)

    def stmt_close(self, stmt):
        self.command(COM_STMT_CLOSE, struct.pack('<I', stmt['id']))

    def simple(self, cmd, body=b''):
        """A command answered by OK or ERR (COM_PING, COM_RESET_CONNECTION, ...)."""
        self.command(cmd, body)
        payload = self.read_packet()
        if payload[:1] == b'\xff':
            raise parse_err(payload)
        if payload[:1] not in (b'\x00', b'\xfe'):
            raise WireError(0, 'expected OK, got %r' % payload[:20])
        return parse_ok(payload) if payload[:1] == b'\x00' else {}


# ---------------------------------------------------------------- server

MODES = ('ok', 'garbage_greeting', 'truncated_greeting', 'greeting_then_close', 'err_greeting',
         'garbage_after_auth', 'bad_column_count', 'column_count_mismatch', 'huge_column_count',
         'truncated_response', 'err_mid_resultset')


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.seq = 0

    def send(self, payload, seq=None):
        if seq is not None:
            self.seq = seq
        self.sock.sendall(len(payload).to_bytes(3, 'little') + bytes([self.seq & 0xff]) + payload)
        self.seq += 1

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv_packet(self):
        header = self.recv_exact(4)
        if header is None:
            return None
        self.seq = header[3] + 1
        return self.recv_exact(int.from_bytes(header[:3], 'little'))

    def linger_until_peer_closes(self, limit=30):
        """Keeps the connection open; True if the peer closed it within limit seconds."""
        self.sock.settimeout(0.2)
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(65536):
                    return True
            except socket.timeout:
                continue
            except OSError:
                return True
        return False


class FakeServer(harness._Fixture):
    def __init__(self, mode='ok', name='fake-mysql', seed=1):
        if mode not in MODES:
            raise harness.HarnessError('unknown fake server mode %r' % mode)
        self.name = name
        self.mode = mode
        self.rng = random.Random(seed)
        self.host = '127.0.0.1'
        self._port = harness.free_port()
        self.port = int(self._port)
        self.addr = '%s:%d' % (self.host, self.port)
        self.user, self.password, self.db = harness.TEST_USER, harness.TEST_PASSWORD, harness.TEST_DB
        self.connections = 0
        self.closed_by_peer = 0
        self.last_handshake = None
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((self.host, self.port))
        self.listener.listen(64)
        self.running = True
        harness._register(self)
        self.thread = threading.Thread(target=self._accept_loop, name=name, daemon=True)
        self.thread.start()

    def close(self):
        self.running = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self.thread.join(5)
        self._port.release()
        harness._unregister(self)

    def _accept_loop(self):
        while self.running:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
                mode = self.mode
            threading.Thread(target=self._serve, args=(sock, conn_id, mode), daemon=True).start()

    def _peer_closed(self):
        with self.lock:
            self.closed_by_peer += 1

    def _random(self, n):
        with self.lock:
            return bytes(self.rng.getrandbits(8) for _ in range(n))

    def _serve(self, sock, conn_id, mode):
        conn = _Conn(sock)
        try:
            if self._connection_phase(conn, conn_id, mode):
                self._command_phase(conn, mode)
        except OSError:
            self._peer_closed()
        finally:
            sock.close()

    def _connection_phase(self, conn, conn_id, mode):
        """False when the mode ends the connection here."""
        scramble = self._random(20).replace(b'\0', b'x')
        greeting = greeting_packet(conn_id, scramble)
        if mode == 'garbage_greeting':
            conn.sock.sendall(self._random(512))
            if conn.linger_until_peer_closes():
                self._peer_closed()
            return False
        if mode == 'truncated_greeting':
            conn.sock.sendall(len(greeting).to_bytes(3, 'little') + b'\0' + greeting[:20])
            return False
        if mode == 'err_greeting':
            conn.send(err_packet(1040, 'Too many connections', '08004'), seq=0)
            return False
        conn.send(greeting, seq=0)
        if mode == 'greeting_then_close':
            return False
        response = conn.recv_packet()
        if response is None:
            self._peer_closed()
            return False
        with self.lock:
            self.last_handshake = response
        conn.send(ok_packet())
        return True

    def _command_phase(self, conn, mode):
        while True:
            payload = conn.recv_packet()
            if payload is None:
                self._peer_closed()
                return
            cmd = payload[0] if payload else -1
            if cmd == COM_QUIT:
                self._peer_closed()
                return
            if cmd != COM_QUERY:
                conn.send(ok_packet() if cmd in (COM_PING, COM_INIT_DB, COM_RESET_CONNECTION)
                          else err_packet(1047, 'Unknown command', '08S01'), seq=1)
                continue
            sql = payload[1:].decode('utf-8', 'replace').strip()
            if not sql.upper().startswith('SELECT'):
                conn.send(ok_packet(), seq=1)
            elif 'misbehave' in sql and mode != 'ok':
                if not self._misbehave(conn, mode):
                    return
            else:
                conn.send(b'\x01', seq=1)
                conn.send(column_def('v'))
                conn.send(eof_packet())
                conn.send(lenenc_str('1'))
                conn.send(eof_packet())

    def _misbehave(self, conn, mode):
        """Acts out mode's bad answer; False when the connection is over."""
        conn.seq = 1
        if mode == 'garbage_after_auth':
            conn.sock.sendall(self._random(300))
        elif mode == 'bad_column_count':
            conn.send(b'\xfb')
        elif mode == 'column_count_mismatch':
            conn.send(b'\x03')
            conn.send(column_def('a'))
            conn.send(eof_packet())
            conn.send(lenenc_str('x'))
            conn.send(eof_packet())
        elif mode == 'huge_column_count':
            conn.send(b'\xfe' + struct.pack('<Q', 1 << 62))
        elif mode == 'truncated_response':
            conn.sock.sendall((100).to_bytes(3, 'little') + b'\x01' + b'\x01' * 10)
            return False
        elif mode == 'err_mid_resultset':
            conn.send(b'\x01')
            conn.send(column_def('v'))
            conn.send(eof_packet())
            conn.send(lenenc_str('first'))
            conn.send(err_packet(1317, 'Query execution was interrupted', '70100'))
            return True
        if conn.linger_until_peer_closes():
            self._peer_closed()
        return False


if __name__ == '__main__':
    # Manual use: python3 fake_server.py MODE  -> serves until Ctrl-C.
    server = FakeServer(sys.argv[1] if len(sys.argv) > 1 else 'ok')
    print('fake MySQL server (%s) on %s' % (server.mode, server.addr), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()
