"""Egress under a root hearthd (session/egress.c): real busybox VMs whose
traffic leaves through a lab the test builds, never the real network.

The lab: namespace LAB is hearthd's --egress-uplink (the VMs' veths end
there, it forwards and masquerades); namespace NET behind it holds the fake
"internet" host 198.51.100.10 (TEST-NET-2), a fake LAN host 10.99.0.10 and a
fake metadata service 169.254.169.254, each a logging server. Neither
namespace has a route anywhere else."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import BY_DESIGN, wait_for
from hearthd_harness import Hearthd, busybox_images, keeper_pids
from test_lifecycle import STEP, run_running, sh

BOOT = 600  # the first run builds the image snapshot under TCG
INET = "198.51.100.10"
LAN = "10.99.0.10"
META = "169.254.169.254"
UPLINK_IP = "203.0.113.1"  # the lab's own address: "the host" as VMs see it
INET_PORTS = (80, 8443)
NO_EGRESS = "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:NO_EGRESS"
INTERNET = "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:INTERNET_EGRESS"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason=BY_DESIGN + ": namespaces need root")

SERVER = r"""
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
def tcp(addr, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    while True:
        c, peer = s.accept()
        log.write("tcp %s:%d from %s\n" % (addr, port, peer[0]))
        try: c.sendall(b"hello-%s-%d\n" % (addr.encode(), port))
        except OSError: pass
        c.close()
def hold(addr, port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port)); s.listen(16)
    def drain(c):
        while c.recv(4096): pass
    while True:
        c, peer = s.accept()
        log.write("hold %s:%d from %s\n" % (addr, port, peer[0]))
        threading.Thread(target=drain, args=(c,), daemon=True).start()
def udp(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((addr, port))
    while True:
        d, peer = s.recvfrom(2048)
        log.write("udp %s:%d from %s\n" % (addr, port, peer[0]))
for spec in sys.argv[2:]:
    kind, addr, port = spec.split(":")
    fn = {"tcp": tcp, "udp": udp, "hold": hold}[kind]
    threading.Thread(target=fn, args=(addr, int(port)), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True, capture_output=True, timeout=30)


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30).stdout
    return [l.split()[0] for l in out.splitlines() if l.strip()]


class Lab:
    def __init__(self, tmp):
        tag = "%x" % (os.getpid() & 0xffff)
        self.lab, self.net = "hlab-" + tag, "hnet-" + tag
        self.tmp = tmp
        self.log = os.path.join(tmp, "lab-hits.log")
        open(self.log, "w").close()
        self.procs = []
        ip("netns", "add", self.lab)
        ip("netns", "add", self.net)
        ip("-n", self.lab, "link", "add", "lan0", "type", "veth", "peer", "name", "wan0",
           "netns", self.net)
        ip("-n", self.lab, "addr", "add", UPLINK_IP + "/24", "dev", "lan0")
        ip("-n", self.net, "addr", "add", "203.0.113.2/24", "dev", "wan0")
        for a in (INET + "/24", LAN + "/24", META + "/32"):
            ip("-n", self.net, "addr", "add", a, "dev", "wan0")
        for ns, dev in ((self.lab, "lan0"), (self.net, "wan0")):
            ip("-n", ns, "link", "set", dev, "up")
            ip("-n", ns, "link", "set", "lo", "up")
        for dst in ("198.51.100.0/24", "10.99.0.0/24", META + "/32"):
            ip("-n", self.lab, "route", "add", dst, "via", "203.0.113.2")
        specs = ["tcp:%s:%d" % (INET, p) for p in INET_PORTS] + [
            "tcp:%s:80" % LAN, "tcp:%s:80" % META, "udp:%s:53" % INET, "udp:%s:9999" % INET,
            "hold:%s:9000" % INET]
        self.serve(self.net, specs)
        # The uplink's own services (the host, as VMs see it).
        self.serve(self.lab, ["tcp:0.0.0.0:7001", "tcp:127.0.0.1:7002"])

    def serve(self, ns, specs):
        p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, self.log]
                             + specs, stdout=subprocess.PIPE, text=True)
        self.procs.append(p)
        assert p.stdout.readline().strip() == "ready"

    def hits(self, needle=""):
        with open(self.log) as f:
            return [l for l in f if needle in l]

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait(timeout=10)
        for ns in (self.lab, self.net):
            subprocess.run(["ip", "netns", "del", ns], timeout=30)


class HostServers:
    """A server on the host's 127.0.0.1 and one on 0.0.0.0 (the real host)."""

    def __init__(self):
        self.hits = []
        self.socks = []
        for addr in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket()
            s.bind((addr, 0))
            s.listen(8)
            self.socks.append(s)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()
        self.ports = [s.getsockname()[1] for s in self.socks]

    def _accept(self, s):
        while True:
            try:
                c, peer = s.accept()
            except OSError:
                return
            self.hits.append(peer)
            c.close()

    def close(self):
        for s in self.socks:
            s.close()


@pytest.fixture
def lab(tmp_path):
    lb = Lab(str(tmp_path))
    yield lb
    lb.close()


def lab_hearthd(root, lab, extra=()):
    """A started hearthd whose uplink is the lab; end it with close_hearthd()."""
    # Root in the guest with every capability (["ALL"]) is what the policy
    # must hold against.
    d = Hearthd(os.path.join(root, "state"),
                busybox_images(root, additionalOsCapabilities=["ALL"]),
                extra=["--egress-uplink", lab.lab] + list(extra))
    d.netns_before = set(netns_list())
    return d.start()


def close_hearthd(d):
    d.close()
    # VMs outlive a stopped hearthd, and so do their links: the harness
    # ended the VMs, this ends the namespaces this test's hearthd made.
    for n in set(netns_list()) - d.netns_before:
        if n.startswith(ns_prefix(d)):
            subprocess.run(["ip", "netns", "del", n], timeout=30)


@pytest.fixture
def hd(tmp_path, lab):
    d = lab_hearthd(str(tmp_path), lab)
    yield d
    close_hearthd(d)


def ns_prefix(hd):
    """"hearth-" + FNV-1a 64 of the state directory (low 32 bits) + "-": the
    namespaces of this hearthd, not of another one running on the host."""
    h = 1469598103934665603
    for c in hd.state_dir.encode():
        h = ((h ^ c) * 1099511628211) & 0xffffffffffffffff
    return "hearth-%08x-" % (h & 0xffffffff)


def mine(hd):
    """The namespaces this hearthd made (named after the VMs)."""
    return [n for n in netns_list() if n.startswith(ns_prefix(hd))]


def tcp(hd, vid, host, port, wait=10):
    """Connect from the guest; (output, seconds). A hang shows as ~wait s."""
    t = time.monotonic()
    out = sh(hd, vid, "echo x | nc -w %d %s %d 2>&1; echo rc=$?" % (wait, host, port))
    return out, time.monotonic() - t


def test_internet_egress_policy(hd, lab):
    host = HostServers()
    try:
        vm = run_running(hd, timeout=BOOT)
        vid = vm["microvmId"]
        assert any(vid in n for n in mine(hd)), mine(hd)
        # Public TCP on several ports works.
        for port in INET_PORTS:
            out, _ = tcp(hd, vid, INET, port)
            assert "hello-%s-%d" % (INET, port) in out, out
        before = len(lab.hits())
        # Refused at once (a reset), not a hang: LAN, metadata, the uplink
        # itself (0.0.0.0 and 127.0.0.1 services), the gateway, loopback
        # ranges, and the real host's servers.
        refused = [(LAN, 80), (META, 80), (UPLINK_IP, 7001), (UPLINK_IP, 7002),
                   ("10.0.2.2", 22), ("127.0.0.2", 80)]
        refused += [(a, p) for a in host_addrs() for p in host.ports]
        # Another VM: both ends of its transit link (its namespace and the
        # uplink's side), with a listener in its guest.
        other = run_running(hd, timeout=BOOT)["microvmId"]
        sh(hd, other, "(nc -l -p 7777 -e echo other-vm >/dev/null 2>&1 &) ; true")
        ns = [n for n in mine(hd) if other in n][0]
        link = subprocess.run(["ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "up0"],
                              capture_output=True, text=True, timeout=30).stdout.split()[3]
        ours = link.split("/")[0]
        peer = ours[:ours.rindex(".") + 1] + str(int(ours.rsplit(".", 1)[1]) - 1)
        refused += [(ours, 7777), (peer, 7777), (ours, 22)]
        for h, p in refused:
            out, secs = tcp(hd, vid, h, p)
            assert "hello" not in out and "rc=0" not in out, (h, p, out)
            assert secs < 1.5, (h, p, secs, out)  # a reset, not a timeout
        # UDP and ICMP go nowhere.
        sh(hd, vid, "echo q | nc -u -w 1 %s 53; echo q | nc -u -w 1 %s 9999; true" % (INET, INET))
        out = sh(hd, vid, "ping -c 1 -W 2 %s >/dev/null 2>&1; echo rc=$?" % INET)
        assert "rc=1" in out, out
        time.sleep(1)
        hits = lab.hits()[before:]
        assert hits == [], hits
        assert host.hits == [], host.hits
    finally:
        host.close()


def host_addrs():
    """The real host's own IPv4 addresses (never a test target: only proven unreachable)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True,
                         timeout=30).stdout
    return sorted({l.split()[3].split("/")[0] for l in out.splitlines()} - {"127.0.0.1"})[:3]


def test_root_in_guest_gets_nothing_more(hd, lab):
    vm = run_running(hd, timeout=BOOT)
    vid = vm["microvmId"]
    before = len(lab.hits())
    # Another source address, another MAC, a route straight to the LAN host:
    # each attempt reaches nothing.
    tries = [
        "ip addr add 10.0.2.99/24 dev eth0 && echo x | nc -w 3 -s 10.0.2.99 %s 80" % INET,
        "ip route add 10.99.0.0/24 via 10.0.2.2 && echo x | nc -w 3 %s 80" % LAN,
        "ip link set eth0 down; ip link set eth0 address 52:54:00:00:00:99; ip link set eth0 up;"
        " ip route add default via 10.0.2.2 2>/dev/null; echo x | nc -w 3 %s 80" % INET,
    ]
    for cmd in tries:
        out = sh(hd, vid, "(%s) 2>&1; echo rc=$?" % cmd, timeout=120)
        assert "hello" not in out, (cmd, out)
    time.sleep(1)
    assert lab.hits()[before:] == []


def test_no_egress_reaches_nothing(hd, lab):
    vm = run_running(hd, timeout=BOOT, egressNetworkConnectors=[NO_EGRESS])
    vid = vm["microvmId"]
    got = hd.get(vid)
    assert got[2]["egressNetworkConnectors"] == [NO_EGRESS], got
    for h, p in ((INET, 80), (INET, 8443), (LAN, 80)):
        out, secs = tcp(hd, vid, h, p)
        assert "hello" not in out, out
        assert secs < 5, secs
    # The shell (agent) still works.
    assert sh(hd, vid, "echo alive").strip() == "alive"
    assert lab.hits() == []


def test_unknown_egress_connector_refused(hd, lab):
    st, _, body = hd.run(egressNetworkConnectors=[
        "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:NOPE"])
    assert st == 400, body


def test_clones_suspend_resume_and_recovery(hd, lab):
    a = run_running(hd, timeout=BOOT)["microvmId"]
    b = run_running(hd, timeout=BOOT, egressNetworkConnectors=[NO_EGRESS])["microvmId"]
    # Two clones of one snapshot online at once, each with its own link.
    assert "hello" in tcp(hd, a, INET, 80)[0]
    assert "hello" not in tcp(hd, b, INET, 80)[0]
    # Another VM is not reachable: same guest address, separate L2; the
    # transit links are private addresses (refused).
    st, _, _ = hd.call("POST", "/microvms/%s/suspend" % a)
    assert st in (200, 202)
    hd.wait_state(a, ("SUSPENDED",), STEP)
    assert not any(a in n for n in mine(hd))
    st, _, _ = hd.call("POST", "/microvms/%s/resume" % a)
    assert st in (200, 202)
    hd.wait_state(a, ("RUNNING",), STEP)
    assert "hello" in tcp(hd, a, INET, 8443)[0]
    # Connections from before a suspend are cut at resume (the app sees an
    # error and can reconnect, it does not hang): one that only listens (the
    # agent's NET_RESET aborts it) and one that talks (the host would also
    # reset it on its next packet).
    sh(hd, a, "mkfifo /tmp/in; (sleep 1000 > /tmp/in 2>/dev/null </dev/null &) ; (nc %s 9000 < /tmp/in >/dev/null 2>&1;"
              " echo rc=$? > /tmp/held) >/dev/null 2>&1 &" % INET)
    sh(hd, a, "(while sleep 1; do echo x; done | nc %s 9000 >/dev/null 2>&1; echo rc=$? > /tmp/talk)"
              " >/dev/null 2>&1 &" % INET)
    wait_for(lambda: len(lab.hits("hold")) == 2, 30, "the held connections")
    st, _, _ = hd.call("POST", "/microvms/%s/suspend" % a)
    assert st in (200, 202)
    hd.wait_state(a, ("SUSPENDED",), STEP)
    st, _, _ = hd.call("POST", "/microvms/%s/resume" % a)
    assert st in (200, 202)
    hd.wait_state(a, ("RUNNING",), STEP)
    for f in ("/tmp/held", "/tmp/talk"):
        wait_for(lambda: "rc=" in sh(hd, a, "cat %s 2>/dev/null; true" % f), 20,
                 "the connection of %s cut" % f)
    # kill -9 of hearthd: the VMs stay with their keepers; the restarted
    # hearthd keeps their links, and removes them at terminate.
    hd.kill9()
    # b's VM dies while hearthd is down: the restarted one sweeps its link.
    kb = [k for k in keeper_pids(hd.state_dir)
          if b.encode() in open("/proc/%d/cmdline" % k, "rb").read().split(b"\0")]
    assert len(kb) == 1, kb
    os.kill(kb[0], signal.SIGKILL)
    wait_for(lambda: not os.path.exists("/proc/%d" % kb[0]) or
             "Z" in open("/proc/%d/stat" % kb[0]).read().split()[2], 30, "b's keeper gone")
    assert any(b in n for n in mine(hd))
    hd.start()
    assert "hello" in tcp(hd, a, INET, 80)[0]
    # Recovery runs while the API already answers: wait for it.
    hd.wait_state(b, ("TERMINATED",), STEP)
    assert not any(b in n for n in mine(hd)), mine(hd)
    for v in (a,):
        st, _, _ = hd.call("DELETE", "/microvms/%s" % v)
        assert st in (200, 202)
        hd.wait_state(v, ("TERMINATED",), STEP)
    assert mine(hd) == []
    out = subprocess.run(["ip", "-n", lab.lab, "-o", "link"], capture_output=True, text=True,
                         timeout=30).stdout
    assert "hth" not in out, out


def test_allowlist_connector(hd, lab):
    body = {"name": "lab-web", "hosts": ["*.example.com"], "cidrs": ["%s/32:80" % INET]}
    st, _, conn = hd.call("POST", "/network-connectors", body)
    assert st == 200, conn
    arn = conn["networkConnectorArn"]
    assert arn.endswith(":allowlist/lab-web") and conn["cidrs"] == ["%s/32:80" % INET], conn
    st, _, again = hd.call("POST", "/network-connectors", body)
    assert st == 409, again
    st, _, bad = hd.call("POST", "/network-connectors", {"name": "x", "cidrs": ["10.0.0.0/33"]})
    assert st == 400, bad
    st, _, lst = hd.call("GET", "/network-connectors")
    assert [c["name"] for c in lst["networkConnectors"]] == ["lab-web"], lst
    vm = run_running(hd, timeout=BOOT, egressNetworkConnectors=[arn])
    vid = vm["microvmId"]
    assert hd.get(vid)[2]["egressNetworkConnectors"] == [arn]
    assert "hello-%s-80" % INET in tcp(hd, vid, INET, 80)[0]
    for h, p in ((INET, 8443), (LAN, 80), (META, 80)):
        out, secs = tcp(hd, vid, h, p)
        assert "hello" not in out and secs < 5, (h, p, out, secs)
    assert lab.hits("8443") == [] and lab.hits(LAN) == [] and lab.hits(META) == []
    # In use: kept; after terminate it can go.
    st, _, busy = hd.call("DELETE", "/network-connectors/lab-web")
    assert st == 409, busy
    st, _, _ = hd.call("DELETE", "/microvms/%s" % vid)
    assert st in (200, 202)
    hd.wait_state(vid, ("TERMINATED",), STEP)
    st, _, _ = hd.call("DELETE", "/network-connectors/lab-web")
    assert st == 204
    st, _, _ = hd.call("GET", "/network-connectors/lab-web")
    assert st == 404
    # A run naming an allowlist that does not exist is refused.
    st, _, body = hd.run(egressNetworkConnectors=[arn])
    assert st == 400, body


def test_connector_cli(hd, lab):
    from test_client_cli import hearth
    p = hearth(hd, "connector", "create", "mirrors", "--host", "*.debian.org",
               "--cidr", "198.51.100.0/24:443")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith(":allowlist/mirrors"), p.stdout
    p = hearth(hd, "connector", "list")
    assert p.returncode == 0 and "mirrors" in p.stdout and "*.debian.org" in p.stdout, p.stdout
    assert "198.51.100.0/24:443" in p.stdout, p.stdout
    p = hearth(hd, "connector", "create", "bad name", "--host", "x.org")
    assert p.returncode == 1 and "ValidationException" in p.stderr, p.stderr
    p = hearth(hd, "connector", "delete", "mirrors")
    assert p.returncode == 0, p.stderr
    p = hearth(hd, "connector", "delete", "mirrors")
    assert p.returncode == 1 and "ResourceNotFoundException" in p.stderr, p.stderr
    p = hearth(hd, "connector", "list", "--json")
    assert p.returncode == 0 and json.loads(p.stdout) == {"networkConnectors": []}, p.stdout


def test_no_network_without_an_uplink(tmp_path):
    """--egress-uplink none (as an unprivileged hearthd): no NIC, and a run
    that asks for INTERNET_EGRESS by name is refused, not silently cut off."""
    d = Hearthd(str(tmp_path / "state"), busybox_images(str(tmp_path)),
                extra=["--egress-uplink", "none"]).start()
    try:
        st, _, body = d.run(egressNetworkConnectors=[INTERNET])
        assert st == 400 and "INTERNET_EGRESS" in body["message"], body
        vid = run_running(d, timeout=BOOT, egressNetworkConnectors=[NO_EGRESS])["microvmId"]
        out = sh(d, vid, "ls /sys/class/net")
        assert "eth0" not in out and "lo" in out, out
    finally:
        d.close()
