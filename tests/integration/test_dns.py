"""The guest's DNS stub (PROTOCOL.md 1.10, hearthd.8 DNS): a real busybox VM
under hearthd, whose --dns-upstream is a lab DNS server on loopback that
this test runs itself. No test query ever reaches a real resolver.

- a name resolves through the stub at 127.0.0.53 and 169.254.169.253, over
  UDP (busybox nslookup in the guest) and TCP (a tcp channel into the guest);
- a UDP answer over 512 bytes comes back truncated (TC), the TCP one whole;
- NO_EGRESS: REFUSED for every name, and nothing reaches the lab server;
- a malformed query gets FORMERR (or is dropped when it has no header), and
  the stub keeps answering;
- a flood is bounded (the lab server sees at most the rate limit) while a
  shell command on the same agent still runs at once;
- DNS traffic does not keep a VM from its idle suspend.
"""
import os
import socket
import struct
import threading
import time

import pytest

from agentproto import E_KIND, E_UNSUPPORTED, Agent, OpenFailed
from hearthd_harness import Hearthd, busybox_images

BOOT = 300
ADDR = "10.11.12.13"  # only ever data in an answer: nothing connects to it
ADDR6 = "fd00:11::13"
BIG_N = 60            # A records in big.lab.test: ~1 KB, over 512 bytes
NO_EGRESS = "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:NO_EGRESS"


def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def build_query(name, qid=0x4242, qtype=1):
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(name) + \
        struct.pack(">HH", qtype, 1)


def parse_name(m, off):
    labels = []
    while True:
        l = m[off]
        if l & 0xc0 == 0xc0:
            labels.append(parse_name(m, ((l & 0x3f) << 8) | m[off + 1])[0])
            return ".".join(x for x in labels if x), off + 2
        off += 1
        if l == 0:
            return ".".join(labels), off
        labels.append(m[off:off + l].decode().lower())
        off += l


def parse_answer(m):
    """(id, flags, [A addresses]) of a DNS answer."""
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", m[:12])
    off = 12
    for _ in range(qd):
        _, off = parse_name(m, off)
        off += 4
    addrs = []
    for _ in range(an):
        _, off = parse_name(m, off)
        t, _, _, rdlen = struct.unpack(">HHIH", m[off:off + 10])
        off += 10
        if t == 1:
            addrs.append(socket.inet_ntoa(m[off:off + 4]))
        off += rdlen
    return qid, flags, addrs


class LabDNS:
    """A tiny authoritative server for lab.test on 127.0.0.1 (UDP and TCP):
    a.lab.test and big.lab.test have A records, everything else NXDOMAIN;
    or, given a zone ({name: [IPv4 addresses]}), the A records it names.
    It counts the queries it gets."""

    def __init__(self, zone=None):
        self.zone = zone
        # One port for UDP and TCP: retry while another process holds the TCP side.
        for _ in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        self.tcp.listen(16)
        self.count = 0
        self.names = []
        self.lock = threading.Lock()
        self.stop = False
        for fn in (self._udp_loop, self._tcp_loop):
            threading.Thread(target=fn, daemon=True).start()

    def answer(self, q):
        qid, flags = struct.unpack(">HH", q[:4])
        name, off = parse_name(q, 12)
        qtype, = struct.unpack(">H", q[off:off + 2])
        question = q[12:off + 4]
        with self.lock:
            self.count += 1
            self.names.append(name)
        rrs = []
        if self.zone is not None:
            rrs = [socket.inet_aton(a) for a in self.zone.get(name, [])] if qtype == 1 else []
            rcode = 0 if name in self.zone else 3
        elif name == "a.lab.test" and qtype == 1:
            rrs = [socket.inet_aton(ADDR)]
        elif name == "a.lab.test" and qtype == 28:
            rrs = [socket.inet_pton(socket.AF_INET6, ADDR6)]
        elif name == "big.lab.test" and qtype == 1:
            rrs = [socket.inet_aton("10.20.%d.%d" % (i // 250, i % 250 + 1)) for i in range(BIG_N)]
        if self.zone is None:
            rcode = 0 if name in ("a.lab.test", "big.lab.test") else 3
        body = b"".join(b"\xc0\x0c" + struct.pack(">HHIH", 1 if len(a) == 4 else 28, 1, 60, len(a)) + a
                        for a in rrs)
        hdr = struct.pack(">HHHHHH", qid, 0x8400 | (flags & 0x0100) | rcode, 1, len(rrs), 0, 0)
        return hdr + question + body

    def _udp_loop(self):
        while not self.stop:
            try:
                q, peer = self.udp.recvfrom(4096)
                self.udp.sendto(self.answer(q), peer)
            except (OSError, IndexError, struct.error):
                pass

    def _tcp_loop(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            with c:
                c.settimeout(5)
                try:
                    n, = struct.unpack(">H", recv_n(c, 2))
                    a = self.answer(recv_n(c, n))
                    c.sendall(struct.pack(">H", len(a)) + a)
                except (OSError, IndexError, struct.error):
                    pass

    def close(self):
        self.stop = True
        self.udp.close()
        self.tcp.close()


def recv_n(s, n):
    b = b""
    while len(b) < n:
        k = s.recv(n - len(b))
        if not k:
            raise OSError("closed")
        b += k
    return b


@pytest.fixture(scope="module")
def lab():
    d = LabDNS()
    yield d
    d.close()


@pytest.fixture(scope="module")
def hd(tmp_path_factory, lab):
    root = str(tmp_path_factory.mktemp("dns"))
    d = Hearthd(os.path.join(root, "state"), busybox_images(root),
                extra=["--dns-upstream", "127.0.0.1:%d" % lab.port,
                       "--test-min-idle", "1", "--test-tick-ms", "200"]).start()
    yield d
    d.close()


def agent_sock(hd, vm_id):
    return os.path.join(hd.state_dir, "vms", vm_id, "agent.sock")


@pytest.fixture(scope="module")
def vm(hd):
    return hd.run_running(BOOT)["microvmId"]


def sh(hd, vm_id, cmd, timeout=60):
    with Agent.connect_unix(agent_sock(hd, vm_id), timeout=30) as a:
        a.hello(timeout=30)
        how, value, out, err = a.run(cmd, timeout=timeout)
    return value, out.decode(errors="replace") + err.decode(errors="replace")


def wait_resolves(hd, vm_id, server, timeout=60):
    """nslookup in the guest until the stub has its channel (it opens on the
    tick after RUNNING); the output of the first success. Always -type=a:
    busybox 1.35's nslookup sends A and AAAA with one DNS id and drops the
    second answer as a duplicate of the first, whoever the server is."""
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        rc, out = sh(hd, vm_id, "nslookup -type=a a.lab.test %s" % server)
        if rc == 0 and ADDR in out:
            return out
        time.sleep(1)
    raise AssertionError("no answer through %s: %s\n%s" % (server, out, hd.read_log()))


class TcpDNS:
    """DNS over TCP to the stub inside the guest, through a tcp channel."""

    def __init__(self, agent, host):
        self.ch = agent.open_tcp(53, host=host, timeout=30)
        self.buf = b""

    def send(self, msg):
        self.ch.send(struct.pack(">H", len(msg)) + msg)

    def recv(self, timeout=15):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                n, = struct.unpack(">H", self.buf[:2])
                if len(self.buf) >= 2 + n:
                    m, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                self.buf += self.ch.read(timeout=left)
            except Exception:
                return None

    def ask(self, msg, timeout=15):
        self.send(msg)
        return self.recv(timeout)


def test_resolves_over_udp_at_both_addresses(hd, vm, lab):
    for server in ("127.0.0.53", "169.254.169.253"):
        out = wait_resolves(hd, vm, server)
        assert ADDR in out
    rc, out = sh(hd, vm, "nslookup -type=a nope.lab.test 127.0.0.53")
    assert rc != 0 and ADDR not in out, out
    # resolv.conf names the stub, so a plain lookup uses it.
    rc, out = sh(hd, vm, "cat /etc/resolv.conf; nslookup -type=a a.lab.test")
    assert "nameserver 127.0.0.53" in out and ADDR in out, out


def test_resolves_over_tcp_and_truncates_udp(hd, vm, lab):
    wait_resolves(hd, vm, "127.0.0.53")
    with Agent.connect_unix(agent_sock(hd, vm), timeout=30) as a:
        a.hello(timeout=30)
        for host in ("127.0.0.53", "169.254.169.253"):
            t = TcpDNS(a, host)
            m = t.ask(build_query("a.lab.test", 0x1111))
            assert m is not None
            qid, flags, addrs = parse_answer(m)
            assert (qid, flags & 0xf, addrs) == (0x1111, 0, [ADDR])
            # Over TCP the big answer comes whole (no TC), > 512 bytes.
            m = t.ask(build_query("big.lab.test", 0x2222))
            qid, flags, addrs = parse_answer(m)
            assert qid == 0x2222 and not flags & 0x0200 and len(addrs) == BIG_N
            assert len(m) > 512
            # Two queries with the same DNS id in flight at once: each gets its own answer.
            t.send(build_query("a.lab.test", 0x3333))
            t.send(build_query("nope.lab.test", 0x3333))
            got = sorted(parse_answer(t.recv())[1] & 0xf for _ in range(2))
            assert got == [0, 3]
    # Over UDP (busybox nslookup, which does not retry over TCP) the same
    # answer is cut to the header and question with TC set: the upstream was
    # asked and answered 60 records, the guest sees none of them. (Uncut,
    # busybox would read 512 of its bytes and report a parse error.)
    before = lab.count
    rc, out = sh(hd, vm, "nslookup -type=a big.lab.test 127.0.0.53")
    assert "Server:" in out and "10.20." not in out and "error" not in out, out
    assert lab.count > before and lab.names[-1] == "big.lab.test"


def test_malformed_queries(hd, vm, lab):
    wait_resolves(hd, vm, "127.0.0.53")
    with Agent.connect_unix(agent_sock(hd, vm), timeout=30) as a:
        a.hello(timeout=30)
        t = TcpDNS(a, "127.0.0.53")
        # Shorter than a header: dropped, no answer.
        assert t.ask(b"\x01\x02\x03\x04\x05", timeout=3) is None
        # Two questions, a pointer loop, a response as query: FORMERR.
        bad = [struct.pack(">HHHHHH", 0x5151, 0x0100, 2, 0, 0, 0) + qname("a.lab.test") + b"\0\1\0\1",
               struct.pack(">HHHHHH", 0x5252, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c\0\1\0\1",
               struct.pack(">HHHHHH", 0x5353, 0x8100, 1, 0, 0, 0) + qname("a.lab.test") + b"\0\1\0\1"]
        for m in bad:
            r = t.ask(m)
            assert r is not None
            qid, flags, _ = parse_answer(r)
            assert qid == struct.unpack(">H", m[:2])[0] and flags & 0xf == 1 and flags & 0x8000
        # The stub still answers good queries on the same connection and over UDP.
        qid, flags, addrs = parse_answer(t.ask(build_query("a.lab.test", 0x6060)))
        assert addrs == [ADDR]
    wait_resolves(hd, vm, "169.254.169.253", timeout=20)


def test_flood_is_bounded_and_shell_keeps_working(hd, vm, lab):
    wait_resolves(hd, vm, "127.0.0.53")
    time.sleep(3)  # the rate limiter's bucket refills
    n = 1000
    with Agent.connect_unix(agent_sock(hd, vm), timeout=30) as a:
        a.hello(timeout=30)
        t = TcpDNS(a, "127.0.0.53")
        before = lab.count
        start = time.monotonic()
        t.ch.send(b"".join(struct.pack(">H", len(q)) + q
                           for q in (build_query("a.lab.test", i) for i in range(n))))
        # While the flood is in flight, a command on the same agent runs at once.
        t0 = time.monotonic()
        how, value, out, _ = a.run("echo alive", timeout=30)
        assert (value, out) == (0, b"alive\n")
        assert time.monotonic() - t0 < 10
        codes = {}
        for _ in range(n):
            m = t.recv(timeout=30)
            assert m is not None, "the flood's answers stopped after %s" % codes
            rc = parse_answer(m)[1] & 0xf
            codes[rc] = codes.get(rc, 0) + 1
        elapsed = time.monotonic() - start
    reached = lab.count - before
    # Every query was answered; most were refused; the upstream saw at most
    # the burst plus the sustained rate (100 + 50/s).
    assert sum(codes.values()) == n
    assert codes.get(5, 0) > 0, codes
    assert reached <= 100 + 50 * elapsed + 5, (reached, elapsed, codes)
    assert codes.get(0, 0) <= reached
    # And DNS works again once the bucket refills.
    time.sleep(2)
    wait_resolves(hd, vm, "127.0.0.53", timeout=30)


def test_no_egress_refuses_everything(hd, lab):
    vid = hd.run_running(BOOT, egressNetworkConnectors=[NO_EGRESS])["microvmId"]
    before = lab.count
    deadline = time.monotonic() + 60
    out = ""
    # Until its DNS channel is up the stub answers SERVFAIL; then REFUSED.
    while time.monotonic() < deadline:
        with Agent.connect_unix(agent_sock(hd, vid), timeout=30) as a:
            a.hello(timeout=30)
            t = TcpDNS(a, "169.254.169.253")
            m = t.ask(build_query("a.lab.test", 0x7777))
        if m is not None and parse_answer(m)[1] & 0xf == 5:
            break
        time.sleep(1)
    else:
        raise AssertionError("no REFUSED: %r %s" % (m, hd.read_log()))
    rc, out = sh(hd, vid, "nslookup -type=a a.lab.test 127.0.0.53")
    assert rc != 0 and ADDR not in out, out
    assert lab.count == before, lab.names[-5:]


def test_dns_is_not_activity(hd, lab):
    vid = hd.run_running(BOOT, idlePolicy={"maxIdleDurationSeconds": 6,
                                           "suspendedDurationSeconds": 600,
                                           "autoResumeEnabled": False})["microvmId"]
    wait_resolves(hd, vid, "127.0.0.53")
    rc, out = sh(hd, vid, "setsid sh -c 'while :; do nslookup -type=a a.lab.test 127.0.0.53; "
                 "sleep 0.2; done' </dev/null >/dev/null 2>&1 &")
    assert rc == 0, out
    before = lab.count
    start = time.monotonic()
    doc = hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), 60)
    took = time.monotonic() - start
    assert doc["state"] == "SUSPENDED", doc
    assert "without endpoint traffic" in doc["stateReason"], doc
    # The guest kept resolving until the suspend, and the suspend came on time.
    assert lab.count - before >= 5, (lab.count, before)
    assert took < 30, took
    hd.call("DELETE", "/microvms/" + vid)
    hd.wait_state(vid, "TERMINATED", 120)


def test_dns_after_resume_and_hearthd_restart(hd, lab):
    """The DNS channel comes back by itself after a resume (a new agent
    session) and after hearthd restarts (a new hearthd, same running VM);
    NO_EGRESS is kept across the suspend."""
    vid = hd.run_running(BOOT, egressNetworkConnectors=[NO_EGRESS])["microvmId"]
    other = hd.run_running(BOOT)["microvmId"]
    wait_resolves(hd, other, "127.0.0.53")
    assert hd.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
    assert hd.wait_state(vid, ("SUSPENDED", "TERMINATED"), 120)["state"] == "SUSPENDED"
    assert hd.call("POST", "/microvms/%s/resume" % vid)[0] == 200
    assert hd.wait_state(vid, ("RUNNING", "TERMINATED"), 120)["state"] == "RUNNING"
    before = lab.count
    deadline = time.monotonic() + 60
    while True:
        rc, out = sh(hd, vid, "nslookup -type=a a.lab.test 127.0.0.53")
        if "REFUSED" in out:
            break
        assert time.monotonic() < deadline, out
        time.sleep(1)
    assert lab.count == before
    hd.stop()
    hd.start()
    wait_resolves(hd, other, "169.254.169.253")
    for v in (vid, other):
        hd.call("DELETE", "/microvms/" + v)
        hd.wait_state(v, "TERMINATED", 120)


def test_agent_without_stub_refuses_dns_channel(agent):
    """An agent that is not PID 1 runs no stub: OPEN of kind 5 gets
    UNSUPPORTED (hearthd then asks again later); kind 4 is not defined."""
    with pytest.raises(OpenFailed) as e:
        agent.open(5)
    assert e.value.code == E_UNSUPPORTED
    with pytest.raises(OpenFailed) as e:
        agent.open(4)
    assert e.value.code == E_KIND
    assert agent.run("echo ok", timeout=30)[2] == b"ok\n"
