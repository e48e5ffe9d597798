"""agentproto - an independent Python implementation of the hearth agent
protocol (protocol/PROTOCOL.md), used by the integration tests to drive
hearth-agent over a unix socket or a VM's agent channel.

    a = Agent.connect_unix(path); a.hello()
    sh = a.open_shell(rows=24, cols=80)
    sh.send(b"echo hi\\n"); sh.read_until(b"hi\\r\\n", timeout=10)
    how, value, out, err = a.run("ls /", timeout=30)

A reader thread routes frames to channels; callers block with deadlines
(every blocking call takes a timeout and raises AgentTimeout on expiry).
Flow control: each channel grants the agent `window` bytes and sends WINDOW
as the caller consumes data; send() never exceeds the agent's window.

Exit status: wait_exit() and run() give `how` as 'code' or 'signal' (an
ExitHow, which also compares equal to the wire value 0 / 1) and the value.
Output must be consumed (read, read_any, collect): the agent reports EXIT
only after every byte was delivered, and unread bytes hold the window.
Sessions: after a reconnect, hello() starts a new session; list_channels()
shows live channels and attach(id, kind) gives a Channel for one of them.
Bad-frame tests: send_raw(frame(...)) forges frames; wait_error(ch) returns
the next ERROR (code, msg) on a channel; `violations` lists protocol rules
the agent broke (a test should expect it empty).
"""
import socket
import struct
import threading
import time

VERSION = 1
HDR = struct.Struct(">BBHII")
HDR_LEN = HDR.size
MAX_PAYLOAD = 65536
MAX_DATA = MAX_PAYLOAD - 1
MAX_WINDOW = 16 * 1024 * 1024
DEFAULT_WINDOW = 1024 * 1024   # what this client grants per channel
AGENT_WINDOW = 256 * 1024       # what hearth-agent grants (MUX_DEFAULT_WINDOW)

HELLO, PING, PONG, CTL_REQ, CTL_RESP = 0x01, 0x02, 0x03, 0x04, 0x05
OPEN, OPEN_OK, OPEN_FAIL, DATA, WINDOW = 0x10, 0x11, 0x12, 0x13, 0x14
RESIZE, SIGNAL, EOF, EXIT, CLOSE, ERROR = 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a

KIND_SHELL, KIND_EXEC, KIND_TCP = 1, 2, 3
KIND_NAMES = {KIND_SHELL: "shell", KIND_EXEC: "exec", KIND_TCP: "tcp"}
STREAM_MAIN, STREAM_STDOUT, STREAM_STDERR = 0, 1, 2
HELLO_F_HOST = 0x0001

TAG_TERM, TAG_SIZE, TAG_ENV, TAG_CWD, TAG_USER, TAG_LOGIN = 1, 2, 3, 4, 5, 6
TAG_ARGV, TAG_CMDLINE, TAG_STDIN, TAG_PORT, TAG_HOST, TAG_SHELL = 7, 8, 9, 10, 11, 12
TAG_FILES = 13  # u8 op, u8 flags, path: the agent's tar builtin (PROTOCOL.md 1.3.1)
TAG_DETACH = 14  # empty: exec starts the program detached (PROTOCOL.md 1.3.2)
FILES_PUT, FILES_GET, FILES_RECURSIVE = 1, 2, 0x01
FEATURE_FILES = 0x00000001  # HELLO features: the agent serves FILES

CTL_INFO, CTL_HOSTNAME, CTL_ENTROPY, CTL_TIME, CTL_LIST, CTL_POWEROFF = 1, 2, 3, 4, 5, 6

INFO_NAMES = {1: "hostname", 2: "kernel", 3: "uptime_ms", 4: "mem_total", 5: "mem_free",
              6: "channels", 7: "agent", 8: "pid1"}

E_PROTO, E_VERSION, E_TOOBIG, E_TYPE, E_NOCHAN = -1, -2, -3, -4, -5
E_EXISTS, E_WINDOW, E_SPAWN, E_CONNECT, E_LIMIT = -6, -7, -8, -9, -10
E_UNSUPPORTED, E_PERM, E_KIND, E_STATE = -11, -12, -13, -14

EXIT_CODE, EXIT_SIGNAL = 0, 1


class ExitHow(str):
    """'code' or 'signal'; also equal to its wire value (EXIT_CODE 0 / EXIT_SIGNAL 1)."""

    def __new__(cls, wire):
        s = super().__new__(cls, "signal" if wire == EXIT_SIGNAL else "code")
        s.wire = wire
        return s

    def __eq__(self, other):
        if isinstance(other, int) and not isinstance(other, bool):
            return other == self.wire
        return str.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)

    __hash__ = str.__hash__


EXIT_HOW = {EXIT_CODE: ExitHow(EXIT_CODE), EXIT_SIGNAL: ExitHow(EXIT_SIGNAL)}


class AgentError(Exception):
    pass


class AgentTimeout(AgentError):
    pass


class AgentClosed(AgentError):
    pass


class OpenFailed(AgentError):
    def __init__(self, code, msg):
        super().__init__("open failed: %d %s" % (code, msg))
        self.code, self.msg = code, msg


class CtlFailed(AgentError):
    def __init__(self, op, status):
        super().__init__("control op %d failed: %d" % (op, status))
        self.op, self.status = op, status


# ---- encoding ----

def frame(ftype, channel, payload=b"", version=VERSION, reserved=0, length=None):
    """One frame; length/version/reserved can be forged for bad-frame tests."""
    n = len(payload) if length is None else length
    return HDR.pack(version, ftype, reserved, channel, n) + payload


def str16(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">H", len(s)) + s


def tlv(tag, value=b""):
    if isinstance(value, str):
        value = value.encode()
    return struct.pack(">BH", tag, len(value)) + value


def open_payload(kind, window, fields=b""):
    return struct.pack(">BBHI", kind, 0, 0, window) + fields


def hello_payload(flags=HELLO_F_HOST, version=VERSION, software="agentproto/1"):
    return struct.pack(">HHI", version, flags, 0) + str16(software)


def _tlvs(body):
    out, pos = [], 0
    while pos < len(body):
        if pos + 3 > len(body):
            raise AgentError("truncated TLV")
        tag, n = struct.unpack_from(">BH", body, pos)
        pos += 3
        if pos + n > len(body):
            raise AgentError("truncated TLV value")
        out.append((tag, bytes(body[pos:pos + n])))
        pos += n
    return out


class _Deadline:
    def __init__(self, timeout):
        self.end = time.monotonic() + timeout
        self.timeout = timeout

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise AgentTimeout("timed out after %.1fs waiting for %s" % (self.timeout, what))


class Channel:
    """One open channel. Data arriving on it is buffered per stream, at most
    `window` bytes (the window we granted)."""

    def __init__(self, agent, cid, kind, window):
        self.agent, self.id, self.kind, self.window = agent, cid, kind, window
        self.pid = None
        self.rx_avail = window        # bytes the agent may still send us
        self.unacked = 0              # consumed, not yet returned by WINDOW
        self.tx_window = 0            # bytes we may still send
        self.tx_initial = 0
        self.bufs = {0: bytearray(), 1: bytearray(), 2: bytearray()}
        self.eof_seen = {0: False, 1: False, 2: False}
        self.exit = None              # (how, value, core)
        self.agent_closed = False     # CLOSE received
        self.close_sent = False
        self.errors = []              # (code, msg) from ERROR frames on this channel
        self.received = 0

    def __repr__(self):
        return "<Channel %d %s>" % (self.id, KIND_NAMES.get(self.kind, "?"))

    def _main(self, stream):
        if stream is not None:
            return stream
        return STREAM_STDOUT if self.kind == KIND_EXEC else STREAM_MAIN

    def _streams(self):
        return (STREAM_STDOUT, STREAM_STDERR) if self.kind == KIND_EXEC else (STREAM_MAIN,)

    def _done(self, stream):
        return self.eof_seen[stream] or self.agent_closed or self.agent.lost

    # called with agent.cv held; returns frames to send after releasing it
    def _take(self, stream, n=None):
        b = self.bufs[stream]
        n = len(b) if n is None else n
        data = bytes(b[:n])
        del b[:n]
        self.unacked += n
        out = b""
        # Return window once half of it is consumed (or the agent is blocked on it).
        if self.unacked and (self.unacked >= self.window // 2 or self.rx_avail < self.window // 2) \
                and not self.close_sent and not self.agent_closed:
            out = frame(WINDOW, self.id, struct.pack(">I", self.unacked))
            self.rx_avail += self.unacked
            self.unacked = 0
        return data, out

    def send(self, data, timeout=30):
        """Send bytes on stream 0, waiting for window as needed."""
        if isinstance(data, str):
            data = data.encode()
        dl, pos = _Deadline(timeout), 0
        a = self.agent
        while pos < len(data):
            with a.cv:
                while self.tx_window == 0:
                    if a.lost or self.agent_closed:
                        raise AgentClosed("channel %d closed" % self.id)
                    dl.check("window on channel %d" % self.id)
                    a.cv.wait(min(dl.left(), 1.0))
                n = min(len(data) - pos, self.tx_window, MAX_DATA)
                self.tx_window -= n
            a._send(frame(DATA, self.id, bytes([STREAM_MAIN]) + data[pos:pos + n]))
            pos += n

    def read(self, timeout=10, stream=None):
        """Whatever is buffered (waiting for at least one byte); b'' at EOF."""
        s = self._main(stream)
        dl, a = _Deadline(timeout), self.agent
        with a.cv:
            while not self.bufs[s]:
                if self._done(s):
                    return b""
                dl.check("data on channel %d" % self.id)
                a.cv.wait(min(dl.left(), 1.0))
            data, out = self._take(s)
        a._send(out)
        return data

    def read_any(self, timeout=10):
        """(stream, bytes) from any output stream; (None, b'') once all ended."""
        dl, a = _Deadline(timeout), self.agent
        with a.cv:
            while True:
                for s in self._streams():
                    if self.bufs[s]:
                        data, out = self._take(s)
                        break
                else:
                    if all(self._done(s) for s in self._streams()):
                        return None, b""
                    dl.check("data on channel %d" % self.id)
                    a.cv.wait(min(dl.left(), 1.0))
                    continue
                break
        a._send(out)
        return s, data

    def read_until(self, pattern, timeout=10, stream=None):
        """Bytes up to and including the first match of pattern (bytes, str or
        compiled bytes regex); the rest stays buffered."""
        s = self._main(stream)
        if isinstance(pattern, str):
            pattern = pattern.encode()
        dl, a, held = _Deadline(timeout), self.agent, []
        keep = len(pattern) if isinstance(pattern, bytes) else 4096
        while True:
            with a.cv:
                b = self.bufs[s]
                if isinstance(pattern, bytes):
                    i = b.find(pattern)
                    end = i + len(pattern) if i >= 0 else -1
                else:
                    m = pattern.search(b)
                    end = m.end() if m else -1
                out = b""
                if end >= 0:
                    data, out = self._take(s, end)
                    held.append(data)
                elif self._done(s):
                    raise AgentError("stream %d of channel %d ended before %r; got %r"
                                     % (s, self.id, pattern, (b"".join(held) + bytes(b))[-300:]))
                elif len(b) >= self.window // 2:
                    # Long output without a match: hand the scanned part back
                    # to the window (keeping a tail a match could start in).
                    data, out = self._take(s, len(b) - keep)
                    held.append(data)
                else:
                    dl.check("%r on channel %d (have %r)"
                             % (pattern, self.id, (b"".join(held) + bytes(b))[-300:]))
                    a.cv.wait(min(dl.left(), 1.0))
            a._send(out)
            if end >= 0:
                return b"".join(held)

    def read_all(self, timeout=30, stream=None):
        """Everything until the stream's EOF."""
        s = self._main(stream)
        dl, parts = _Deadline(timeout), []
        while True:
            left = dl.left()
            if left <= 0:
                dl.check("EOF on channel %d" % self.id)
            d = self.read(timeout=left, stream=s)
            if not d:
                return b"".join(parts)
            parts.append(d)

    def collect(self, timeout=30):
        """(stdout, stderr) of an exec channel, read until both end."""
        dl, parts = _Deadline(timeout), {1: [], 2: [], 0: []}
        while True:
            left = dl.left()
            if left <= 0:
                dl.check("EOF on channel %d" % self.id)
            s, d = self.read_any(timeout=left)
            if s is None:
                break
            parts[s].append(d)
        if self.kind == KIND_EXEC:
            return b"".join(parts[1]), b"".join(parts[2])
        return b"".join(parts[0]), b""

    def resize(self, rows, cols):
        self.agent._send(frame(RESIZE, self.id, struct.pack(">HHHH", rows, cols, 0, 0)))

    def signal(self, n):
        self.agent._send(frame(SIGNAL, self.id, bytes([n])))

    def eof(self):
        self.agent._send(frame(EOF, self.id, bytes([STREAM_MAIN])))

    def wait_exit(self, timeout=30):
        """(how, value): how is 'code' or 'signal'. Output must be read by
        someone: the agent reports the exit only after all of it is sent."""
        dl, a = _Deadline(timeout), self.agent
        with a.cv:
            while self.exit is None:
                if a.lost or self.agent_closed:
                    raise AgentClosed("channel %d closed without EXIT" % self.id)
                dl.check("EXIT on channel %d" % self.id)
                a.cv.wait(min(dl.left(), 1.0))
            return EXIT_HOW[self.exit[0]], self.exit[1]

    def wait_closed(self, timeout=10):
        dl, a = _Deadline(timeout), self.agent
        with a.cv:
            while not self.agent_closed:
                if a.lost:
                    raise AgentClosed("connection lost")
                dl.check("CLOSE on channel %d" % self.id)
                a.cv.wait(min(dl.left(), 1.0))

    def close(self, timeout=10):
        """CLOSE and wait for the agent's CLOSE."""
        a = self.agent
        with a.cv:
            send = not self.close_sent
            self.close_sent = True
        if send:
            a._send(frame(CLOSE, self.id))
        self.wait_closed(timeout)
        with a.cv:
            if a.chans.get(self.id) is self:
                del a.chans[self.id]

    def wait_error(self, timeout=10):
        """The next ERROR (code, msg) reported on this channel."""
        dl, a = _Deadline(timeout), self.agent
        with a.cv:
            while not self.errors:
                dl.check("ERROR on channel %d" % self.id)
                a.cv.wait(min(dl.left(), 1.0))
            return self.errors.pop(0)


class Agent:
    def __init__(self, sock, window=DEFAULT_WINDOW):
        self.sock = sock
        sock.settimeout(None)
        self.window = window
        self.cv = threading.Condition()
        self.send_lock = threading.Lock()
        self.chans = {}
        self.next_id = 1
        self.ctl_id = 1
        self.ctl_results = {}
        self.open_results = {}
        self.pending_opens = set()
        self.pongs = {}
        self.errors = []           # (channel, code, msg) for every ERROR frame
        self.violations = []       # protocol rules the agent broke
        self.hello_info = None
        self.hellos = 0
        self.awaiting_hello = False
        self.skipped = 0           # noise bytes skipped before the first HELLO
        self.lost = False
        self.reader = threading.Thread(target=self._read_loop, daemon=True)
        self.reader.start()

    @classmethod
    def connect_unix(cls, path, timeout=10, window=DEFAULT_WINDOW):
        dl = _Deadline(timeout)
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                return cls(s, window=window)
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                dl.check("agent socket %s" % path)
                time.sleep(0.05)

    # ---- plumbing ----

    def _send(self, data):
        if not data:
            return
        with self.send_lock:
            try:
                self.sock.sendall(data)
            except OSError as e:
                raise AgentClosed("send failed: %s" % e)

    def send_raw(self, data):
        self._send(data)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.reader.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read_loop(self):
        buf = bytearray()
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
                pos = 0
                with self.cv:
                    while len(buf) - pos >= HDR_LEN:
                        ver, ftype, res, ch, n = HDR.unpack_from(buf, pos)
                        if self.hellos == 0 and self.awaiting_hello and not (
                                ver == VERSION and ftype == HELLO and res == 0 and ch == 0
                                and n <= 8 + 2 + 256):
                            # Before the first HELLO a console may carry noise
                            # (echo of what we sent before the agent opened
                            # it): skip to what looks like the agent's HELLO.
                            pos += 1
                            self.skipped += 1
                            continue
                        if ver != VERSION or res != 0 or n > MAX_PAYLOAD:
                            self.violations.append("bad header %r" % bytes(buf[pos:pos + HDR_LEN]))
                            raise AgentError("bad frame header from agent")
                        if len(buf) - pos < HDR_LEN + n:
                            break
                        payload = bytes(buf[pos + HDR_LEN:pos + HDR_LEN + n])
                        pos += HDR_LEN + n
                        self._dispatch(ftype, ch, payload)
                    del buf[:pos]
                    self.cv.notify_all()
        except (OSError, AgentError, struct.error) as e:
            self.violations.append("reader: %r" % e)
        finally:
            with self.cv:
                self.lost = True
                self.cv.notify_all()

    def _chan(self, ch):
        c = self.chans.get(ch)
        if c is None:
            # A live channel from an earlier session (after reconnect + HELLO).
            # Its windows were reset by HELLO: ours is self.window (the same
            # client opened it), the agent's is what hearth-agent grants.
            c = Channel(self, ch, None, self.window)
            c.tx_window = c.tx_initial = AGENT_WINDOW
            self.chans[ch] = c
        return c

    def _dispatch(self, ftype, ch, p):
        if ftype == HELLO:
            ver, flags, feat = struct.unpack_from(">HHI", p)
            (n,) = struct.unpack_from(">H", p, 8)
            if flags & HELLO_F_HOST and self.hellos == 0:
                return  # our own HELLO echoed by a console: noise

            self.hello_info = {"version": ver, "flags": flags, "features": feat,
                               "software": p[10:10 + n].decode()}
            self.hellos += 1
            self.awaiting_hello = False
            # New session: windows back to their initial values both ways.
            for c in self.chans.values():
                c.rx_avail, c.unacked, c.tx_window = c.window, 0, c.tx_initial
            return
        if ftype == PONG:
            self.pongs[struct.unpack(">Q", p)[0]] = time.monotonic()
            return
        if ftype == CTL_RESP:
            rid, status = struct.unpack_from(">Ii", p)
            self.ctl_results[rid] = (status, p[8:])
            return
        if ftype == ERROR:
            code = struct.unpack_from(">i", p)[0]
            (n,) = struct.unpack_from(">H", p, 4)
            msg = p[6:6 + n].decode(errors="replace")
            if ch in self.pending_opens and ch not in self.open_results:
                # The OPEN itself was refused (undecodable fields).
                self.open_results[ch] = ("fail", code, msg)
                return
            self.errors.append((ch, code, msg))
            if ch and ch in self.chans:
                self.chans[ch].errors.append((code, msg))
            return
        if self.awaiting_hello:
            return  # frames of the previous session
        if ch == 0:
            self.violations.append("type 0x%02x on channel 0" % ftype)
            return
        if ftype == OPEN_FAIL:
            code = struct.unpack_from(">i", p)[0]
            (n,) = struct.unpack_from(">H", p, 4)
            self.open_results[ch] = ("fail", code, p[6:6 + n].decode(errors="replace"))
            return
        c = self._chan(ch)
        if ftype == OPEN_OK:
            win, pid = struct.unpack(">II", p)
            c.tx_window = c.tx_initial = win
            c.pid = pid
            self.open_results[ch] = ("ok", win, pid)
        elif ftype == DATA:
            s, n = p[0], len(p) - 1
            if n > c.rx_avail:
                self.violations.append("channel %d: %d bytes beyond window %d"
                                       % (ch, n, c.rx_avail))
            c.rx_avail -= n
            c.received += n
            if c.eof_seen.get(s, True):
                self.violations.append("channel %d: data on ended stream %d" % (ch, s))
            c.bufs[s] += p[1:]
        elif ftype == WINDOW:
            c.tx_window += struct.unpack(">I", p)[0]
        elif ftype == EOF:
            c.eof_seen[p[0]] = True
        elif ftype == EXIT:
            how, core, _, value = struct.unpack(">BBHi", p)
            c.exit = (how, value, core)
        elif ftype == CLOSE:
            c.agent_closed = True
            if not c.close_sent:
                # Answer at once, so anything we send later follows it.
                c.close_sent = True
                self._send_quietly(frame(CLOSE, ch))
        else:
            self.violations.append("unexpected type 0x%02x" % ftype)

    def _send_quietly(self, data):
        try:
            self._send(data)
        except AgentError:
            pass

    def _wait(self, pred, timeout, what):
        dl = _Deadline(timeout)
        with self.cv:
            while True:
                v = pred()
                if v is not None:
                    return v
                if self.lost:
                    raise AgentClosed("connection lost waiting for " + what)
                dl.check(what)
                self.cv.wait(min(dl.left(), 1.0))

    # ---- control channel ----

    def hello(self, timeout=10, retry=None):
        """Start a session. retry: resend HELLO every `retry` seconds until
        answered (a device-mode agent drops what arrived before it opened the
        device, e.g. while a VM boots)."""
        dl = _Deadline(timeout)
        with self.cv:
            n = self.hellos
            self.awaiting_hello = True
        while True:
            self._send(frame(HELLO, 0, hello_payload()))
            step = dl.left() if retry is None else min(retry, dl.left())
            try:
                return self._wait(lambda: self.hello_info if self.hellos > n else None,
                                  max(step, 0.01), "HELLO")
            except AgentTimeout:
                if retry is None or dl.left() <= 0:
                    raise

    def ping(self, timeout=10):
        with self.cv:
            cookie = self.ctl_id * 7919 + 1
            self.ctl_id += 1
        t0 = time.monotonic()
        self._send(frame(PING, 0, struct.pack(">Q", cookie)))
        t1 = self._wait(lambda: self.pongs.pop(cookie, None), timeout, "PONG")
        return t1 - t0

    def ctl(self, op, arg=b"", timeout=10):
        with self.cv:
            rid = self.ctl_id
            self.ctl_id += 1
        self._send(frame(CTL_REQ, 0, struct.pack(">IB", rid, op) + arg))
        return self._wait(lambda: self.ctl_results.pop(rid, None), timeout,
                          "CTL_RESP %d" % rid)

    def _ctl_ok(self, op, arg=b"", timeout=10):
        status, body = self.ctl(op, arg, timeout)
        if status != 0:
            raise CtlFailed(op, status)
        return body

    def info(self, timeout=10):
        out = {}
        for tag, v in _tlvs(self._ctl_ok(CTL_INFO, timeout=timeout)):
            name = INFO_NAMES.get(tag, "tag%d" % tag)
            if name in ("hostname", "kernel", "agent"):
                out[name] = v.decode(errors="replace")
            elif name == "pid1":
                out[name] = bool(v[0])
            else:
                out[name] = int.from_bytes(v, "big")
        return out

    def list_channels(self, timeout=10):
        body = self._ctl_ok(CTL_LIST, timeout=timeout)
        (count,) = struct.unpack_from(">I", body)
        if len(body) != 4 + 10 * count:
            raise AgentError("LIST body length %d for %d entries" % (len(body), count))
        out = []
        for i in range(count):
            cid, kind, state, pid = struct.unpack_from(">IBBI", body, 4 + 10 * i)
            out.append({"id": cid, "kind": kind, "state": state, "pid": pid})
        return out

    def set_hostname(self, name, timeout=10):
        self._ctl_ok(CTL_HOSTNAME, str16(name), timeout)

    def add_entropy(self, data, timeout=10):
        self._ctl_ok(CTL_ENTROPY, bytes(data), timeout)

    def set_time(self, sec, nsec=0, timeout=10):
        self._ctl_ok(CTL_TIME, struct.pack(">QI", int(sec), int(nsec)), timeout)

    def poweroff(self, timeout=10):
        self._ctl_ok(CTL_POWEROFF, b"", timeout)

    def wait_error(self, channel=0, timeout=10):
        """The next ERROR (code, msg) on channel (0 = stream level)."""
        def pick():
            for i, (ch, code, msg) in enumerate(self.errors):
                if ch == channel:
                    del self.errors[i]
                    if ch in self.chans and (code, msg) in self.chans[ch].errors:
                        self.chans[ch].errors.remove((code, msg))
                    return code, msg
            return None
        return self._wait(pick, timeout, "ERROR on channel %d" % channel)

    # ---- channels ----

    def _alloc_id(self):
        with self.cv:
            while self.next_id in self.chans:
                self.next_id += 1
            cid = self.next_id
            self.next_id += 1
            return cid

    def open(self, kind, fields=b"", timeout=10, cid=None, window=None):
        cid = self._alloc_id() if cid is None else cid
        window = window or self.window
        c = Channel(self, cid, kind, window)
        with self.cv:
            self.open_results.pop(cid, None)
            self.pending_opens.add(cid)
            # An id we already use stays routed to its channel (the agent
            # must refuse the OPEN).
            mine = self.chans.setdefault(cid, c) is c
        try:
            self._send(frame(OPEN, cid, open_payload(kind, window, fields)))
            r = self._wait(lambda: self.open_results.pop(cid, None), timeout,
                           "OPEN reply on channel %d" % cid)
        finally:
            with self.cv:
                self.pending_opens.discard(cid)
        if r[0] == "fail":
            with self.cv:
                if mine and self.chans.get(cid) is c:
                    del self.chans[cid]
            raise OpenFailed(r[1], r[2])
        return c

    def attach(self, cid, kind=None):
        """A live channel after reconnecting (see list_channels)."""
        with self.cv:
            c = self._chan(cid)
            if kind is not None:
                c.kind = kind
            return c

    @staticmethod
    def _common(env, cwd, user):
        f = b""
        for k, v in (env or {}).items():
            f += tlv(TAG_ENV, "%s=%s" % (k, v))
        if cwd is not None:
            f += tlv(TAG_CWD, cwd)
        if user is not None:
            f += tlv(TAG_USER, user)
        return f

    def open_shell(self, rows=24, cols=80, term="xterm", env=None, cwd=None, login=False,
                   user=None, shell=None, timeout=10, window=None):
        f = tlv(TAG_TERM, term) + tlv(TAG_SIZE, struct.pack(">HH", rows, cols))
        f += self._common(env, cwd, user)
        if login:
            f += tlv(TAG_LOGIN)
        if shell is not None:
            f += tlv(TAG_SHELL, shell)
        return self.open(KIND_SHELL, f, timeout, window=window)

    def open_exec(self, argv=None, cmdline=None, stdin=False, env=None, cwd=None, user=None,
                  timeout=10, window=None, detach=False):
        if (argv is None) == (cmdline is None):
            raise ValueError("exactly one of argv and cmdline")
        f = b"".join(tlv(TAG_ARGV, a) for a in argv) if argv is not None \
            else tlv(TAG_CMDLINE, cmdline)
        f += self._common(env, cwd, user)
        if stdin:
            f += tlv(TAG_STDIN)
        if detach:
            f += tlv(TAG_DETACH)
        return self.open(KIND_EXEC, f, timeout, window=window)

    def open_files(self, op, path, recursive=False, user=None, cwd=None, timeout=10,
                   window=None):
        """An exec channel running the tar builtin: PUT reads a tar from its
        stdin, GET writes one to stdout (PROTOCOL.md 1.3.1)."""
        p = path.encode() if isinstance(path, str) else path
        f = tlv(TAG_FILES, bytes([op, FILES_RECURSIVE if recursive else 0]) + p)
        f += self._common(None, cwd, user)
        if op == FILES_PUT:
            f += tlv(TAG_STDIN)
        return self.open(KIND_EXEC, f, timeout, window=window)

    def open_tcp(self, port, host=None, timeout=10, window=None):
        f = tlv(TAG_PORT, struct.pack(">H", port))
        if host is not None:
            f += tlv(TAG_HOST, host)
        return self.open(KIND_TCP, f, timeout, window=window)

    def run(self, cmdline, timeout=30, stdin=None, env=None, cwd=None, user=None):
        """Run a command line: (exit_how, exit_value, stdout, stderr)."""
        dl = _Deadline(timeout)
        c = self.open_exec(cmdline=cmdline, stdin=stdin is not None, env=env, cwd=cwd,
                           user=user, timeout=max(dl.left(), 0.1))
        if stdin is not None:
            # Feed stdin from a thread so a chatty command cannot deadlock us.
            def feed():
                try:
                    c.send(stdin, timeout=max(dl.left(), 0.1))
                    c.eof()
                except AgentError:
                    pass
            t = threading.Thread(target=feed, daemon=True)
            t.start()
        out, err = c.collect(timeout=max(dl.left(), 0.1))
        how, value = c.wait_exit(timeout=max(dl.left(), 0.1))
        c.wait_closed(timeout=max(dl.left(), 0.1))
        with self.cv:
            self.chans.pop(c.id, None)
        return how, value, out, err
