"""An allowlist connector end to end (session/dns_egress.c): the guest's DNS
stub, hearthd's resolver and the VM's nftables rules together.

The egress lab of test_egress.py (its namespaces, logging servers and
hearthd with --egress-uplink) plus the lab DNS server of test_dns.py on
127.0.0.1 as --dns-upstream, answering lab names with addresses that exist
only inside the lab's namespaces. Nothing here reaches the real network or
a real resolver.

- allowed.lab.test and x.wild.lab.test (under "*.wild.lab.test") resolve
  and connect; their addresses were admitted by the resolution. The busybox
  guest resolves with nslookup (its static nc and wget have no working
  getaddrinfo: no NSS libraries in the initrd) and connects to the answer;
  a debian-12 guest (glibc, /etc/hosts and resolv.conf) connects by name;
- a name not on the list gets NXDOMAIN from hearthd, which never asks the
  upstream; bare wild.lab.test is not under "*.wild.lab.test";
- a lab address no allowed name resolved to is refused by IP;
- /etc/hosts in the guest cannot point an allowed name elsewhere;
- a CIDR rule with a port admits that port only.
"""
import os
import shutil
import time

import pytest

from conftest import guest_image
from test_dns import LabDNS
from test_egress import BOOT, INET, LAN, Lab, close_hearthd, ip, lab_hearthd, tcp
from test_egress import pytestmark  # noqa: F401 (root only, as test_egress)
from test_lifecycle import run_running, sh

OTHER = "198.51.100.20"  # what denied.lab.test is (never resolved through the stub)
CIDR = "198.51.100.30"   # named by the CIDR rule, port 8080 only
WILD = "198.51.100.40"   # x.wild.lab.test
ZONE = {
    "allowed.lab.test": [INET],
    "x.wild.lab.test": [WILD],
    "wild.lab.test": [OTHER],
    "denied.lab.test": [OTHER],
}
EXTRA = ["tcp:%s:80" % OTHER, "tcp:%s:80" % CIDR, "tcp:%s:8080" % CIDR, "tcp:%s:80" % WILD]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lb = Lab(str(tmp_path_factory.mktemp("lab")))
    try:
        for a in (OTHER, CIDR, WILD):
            ip("-n", lb.net, "addr", "add", a + "/32", "dev", "wan0")
        lb.serve(lb.net, EXTRA)
    except Exception:
        lb.close()
        raise
    yield lb
    lb.close()


@pytest.fixture(scope="module")
def dns():
    d = LabDNS(ZONE)
    yield d
    d.close()


@pytest.fixture(scope="module")
def hd(tmp_path_factory, lab, dns):
    root = str(tmp_path_factory.mktemp("hd"))
    deb = os.path.join(root, "images", "debian-12")
    os.makedirs(deb)
    shutil.copy(guest_image("debian-12"), os.path.join(deb, "image.json"))
    d = lab_hearthd(root, lab, ["--dns-upstream", "127.0.0.1:%d" % dns.port])
    body = {"name": "lab-list", "hosts": ["allowed.lab.test", "*.wild.lab.test"],
            "cidrs": ["%s/32:8080" % CIDR]}
    st, _, conn = d.call("POST", "/network-connectors", body)
    assert st == 200, conn
    d.arn = conn["networkConnectorArn"]
    yield d
    close_hearthd(d)


@pytest.fixture(scope="module")
def vm(hd):
    return run_running(hd, timeout=BOOT, egressNetworkConnectors=[hd.arn])["microvmId"]


@pytest.fixture(scope="module")
def deb(hd):
    return run_running(hd, timeout=BOOT, imageIdentifier="debian-12",
                       egressNetworkConnectors=[hd.arn])["microvmId"]


def lookup(hd, vid, name, server="127.0.0.53"):
    return sh(hd, vid, "nslookup -type=a %s %s 2>&1; echo rc=$?" % (name, server))


def wait_stub(hd, vid, timeout=60):
    """Until the guest's stub has its channel (opened on the tick after RUNNING)."""
    deadline = time.monotonic() + timeout
    while True:
        out = lookup(hd, vid, "allowed.lab.test")
        if INET in out:
            return out
        assert time.monotonic() < deadline, out + hd.read_log()
        time.sleep(1)


def refused(hd, vid, host, port):
    out, secs = tcp(hd, vid, host, port)
    assert "hello" not in out and "rc=0" not in out, (host, port, out)
    assert secs < 5, (host, port, secs, out)  # a reset, not a hang


def test_ip_never_resolved_is_refused(hd, vm, lab):
    # First, before any name resolved: nothing but the CIDR rule is open.
    for h in (INET, OTHER, WILD):
        refused(hd, vm, h, 80)
    assert lab.hits("tcp ") == []


def test_allowed_names_resolve_and_connect(hd, vm, lab, dns):
    out = wait_stub(hd, vm)
    assert INET in out and "rc=0" in out, out
    out = lookup(hd, vm, "allowed.lab.test", "169.254.169.253")
    assert INET in out, out
    # What the guest was told it can now reach, on any port.
    for port in (80, 8443):
        out, _ = tcp(hd, vm, INET, port)
        assert "hello-%s-%d" % (INET, port) in out, out
    # The wildcard covers names below it.
    out = lookup(hd, vm, "x.wild.lab.test")
    assert WILD in out and "rc=0" in out, out
    out, _ = tcp(hd, vm, WILD, 80)
    assert "hello-%s-80" % WILD in out, out
    assert "allowed.lab.test" in dns.names and "x.wild.lab.test" in dns.names


def test_unlisted_names_get_nxdomain(hd, vm, lab, dns):
    wait_stub(hd, vm)
    for name in ("denied.lab.test", "wild.lab.test", "allowed.lab.test.evil.test",
                 "xallowed.lab.test"):
        out = lookup(hd, vm, name)
        assert "NXDOMAIN" in out and OTHER not in out and "rc=0" not in out, (name, out)
        # hearthd answered by itself: the upstream never saw the name.
        assert name not in dns.names, (name, dns.names)
    # Their address stays closed.
    refused(hd, vm, OTHER, 80)
    assert lab.hits(OTHER) == []


def bash_tcp(hd, vid, host, port):
    """An application connecting by name with glibc (bash's /dev/tcp)."""
    t = time.monotonic()
    out = sh(hd, vid, "timeout 15 bash -c 'exec 3<>/dev/tcp/%s/%d && head -c 64 <&3' 2>&1;"
             " echo rc=$?" % (host, port), timeout=60)
    return out, time.monotonic() - t


def test_glibc_guest_connects_by_name(hd, deb, lab, dns):
    out, secs = bash_tcp(hd, deb, WILD, 80)  # not resolved by this VM yet
    assert "hello" not in out and "rc=0" not in out and secs < 5, (out, secs)
    deadline = time.monotonic() + 60
    while True:
        out = sh(hd, deb, "getent ahostsv4 allowed.lab.test; echo rc=$?")
        if INET in out:
            break
        assert time.monotonic() < deadline, out
        time.sleep(1)
    out, _ = bash_tcp(hd, deb, "allowed.lab.test", 80)
    assert "hello-%s-80" % INET in out, out
    out, _ = bash_tcp(hd, deb, "x.wild.lab.test", 80)
    assert "hello-%s-80" % WILD in out, out
    out, secs = bash_tcp(hd, deb, "denied.lab.test", 80)
    assert "hello" not in out and "rc=0" not in out, out
    assert "denied.lab.test" not in dns.names


def test_hosts_file_cannot_redirect_an_allowed_name(hd, deb, lab):
    sh(hd, deb, "cp /etc/hosts /tmp/hosts.orig")
    before = lab.hits()
    try:
        for target in (LAN, OTHER):
            sh(hd, deb, "cat /tmp/hosts.orig > /etc/hosts; echo '%s allowed.lab.test' >> /etc/hosts"
               % target)
            # The guest does use the entry (so the block below is the host's).
            out = sh(hd, deb, "getent hosts allowed.lab.test; true")
            assert target in out, out
            out, secs = bash_tcp(hd, deb, "allowed.lab.test", 80)
            assert "hello" not in out and "rc=0" not in out, (target, out)
            assert secs < 5, (target, secs, out)
    finally:
        sh(hd, deb, "cat /tmp/hosts.orig > /etc/hosts")
    time.sleep(1)
    assert lab.hits(LAN) == [] and lab.hits(OTHER) == [], lab.hits()
    # With the entry gone the name goes through the stub again, and works.
    out, _ = bash_tcp(hd, deb, "allowed.lab.test", 80)
    assert "hello-%s-80" % INET in out, out
    assert len(lab.hits()) == len(before) + 1


def test_cidr_rule_with_a_port(hd, vm, lab):
    out, _ = tcp(hd, vm, CIDR, 8080)
    assert "hello-%s-8080" % CIDR in out, out
    refused(hd, vm, CIDR, 80)
    time.sleep(1)
    assert lab.hits("tcp %s:80 " % CIDR) == [], lab.hits()
    assert len(lab.hits("tcp %s:8080 " % CIDR)) == 1
