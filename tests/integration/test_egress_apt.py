"""apt in a debian-12 guest through real egress (issue 13): the one outside
destination these tests may reach is this machine's own Debian mirror.

hearthd runs with --egress-uplink host (forwarding and NAT on the host, as
it does by default outside the test harness); the guest's apt sources come
from the image build (debootstrap from the host's configured mirror, see
vmm/guest/image.sh), and the mirror's name is resolved by the host's own
resolver through hearthd's DNS forwarding. No host name appears here: the
test reads the guest's sources to know what the guest will fetch from.

- INTERNET_EGRESS (the default): apt-get update and apt-get install of a
  small package missing from the image work, and the installed binary runs;
- NO_EGRESS: apt-get update fails within a minute (no hang) and nothing is
  installed.

The default (Docker's) capability set is used: apt drops to its _apt user
for downloads, which needs SETUID/SETGID, both in that set.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import guest_image, needs_root
from hearthd_harness import Hearthd
from test_egress import BOOT, INTERNET, NO_EGRESS, close_hearthd, netns_list
from test_lifecycle import run_running, sh

pytestmark = needs_root

PKG = "less"          # ~130 kB, depends only on libc6 and libtinfo6 (both in the image)
PKG_RUN = "less --version"
APT_STEP = 1200       # apt-get update or install under TCG: minutes, bounded
FAST = 60             # NO_EGRESS: apt-get update must give up within this
APT_NOWAIT = ("-o Acquire::Retries=0 -o Acquire::http::Timeout=10 "
              "-o APT::Update::Error-Mode=any")


def _forwarding():
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        return f.read().strip()


def _has_uplink_table():
    r = subprocess.run(["nft", "list", "table", "ip", "hearth-up"], capture_output=True,
                       timeout=30)
    return r.returncode == 0


@pytest.fixture(scope="module")
def host_uplink():
    """What --egress-uplink host changes on the host (man/hearthd.8 NETWORK),
    put back afterwards: ip_forward's value, and table ip hearth-up unless
    it was there before."""
    fwd, table = _forwarding(), _has_uplink_table()
    yield
    if not table and _has_uplink_table():
        subprocess.run(["nft", "delete", "table", "ip", "hearth-up"], timeout=30)
    if _forwarding() != fwd:
        subprocess.run(["sysctl", "-qw", "net.ipv4.ip_forward=" + fwd], timeout=30, check=True)


@pytest.fixture(scope="module")
def hd(tmp_path_factory, host_uplink):
    root = str(tmp_path_factory.mktemp("hd"))
    deb = os.path.join(root, "images", "debian-12")
    os.makedirs(deb)
    # The image as built: its default (restricted) capability set.
    shutil.copy(guest_image("debian-12"), os.path.join(deb, "image.json"))
    d = Hearthd(os.path.join(root, "state"), os.path.join(root, "images"),
                extra=["--egress-uplink", "host"])
    d.netns_before = set(netns_list())
    d.start()
    yield d
    close_hearthd(d)


def run(hd, vid, cmd, timeout):
    """cmd's exit status, output and seconds (sh asserts only that the shell ran)."""
    t0 = time.monotonic()
    out = sh(hd, vid, "( %s ) 2>&1; echo rc=$?" % cmd, timeout=timeout)
    secs = time.monotonic() - t0
    m = re.search(r"rc=(\d+)\s*$", out)
    assert m, out
    return int(m.group(1)), out, secs


def installed(hd, vid):
    rc, out, _ = run(hd, vid, "dpkg-query -W -f='${Status}' %s" % PKG, 60)
    return rc == 0 and "install ok installed" in out


def mirror_host(hd, vid):
    """The host part of the guest's first apt source (from the image build)."""
    out = sh(hd, vid, "cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list "
                      "/etc/apt/sources.list.d/*.sources 2>/dev/null; true")
    m = re.search(r"^(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)https?://([^/\s:]+)", out, re.M)
    assert m, "the debian-12 image has no apt source (vmm/guest/debian-base.sh):\n" + out
    return m.group(1)


def await_mirror(hd, vid, secs=60):
    """The DNS stub's channel opens on the tick after RUNNING: resolve the
    mirror (through hearthd and the host's resolver) before apt does."""
    host = mirror_host(hd, vid)
    deadline = time.monotonic() + secs
    while True:
        rc, out, _ = run(hd, vid, "getent ahostsv4 " + host, 30)
        if rc == 0:
            return
        assert time.monotonic() < deadline, out + hd.read_log()
        time.sleep(1)


def fresh(hd, vid):
    """The image carries no package lists, and PKG is not in it."""
    rc, out, _ = run(hd, vid, "ls /var/lib/apt/lists/ | grep -c _Packages", 60)
    assert out.startswith("0"), out
    assert not installed(hd, vid), "%s is already in the debian-12 image" % PKG


def test_apt_install_with_default_egress(hd):
    vid = run_running(hd, timeout=BOOT, imageIdentifier="debian-12")["microvmId"]
    got = hd.get(vid)[2]
    # The default, named in hearth's partition (the connector's name is what counts).
    conns = got["egressNetworkConnectors"]
    assert len(conns) == 1 and conns[0].endswith(":" + INTERNET.rsplit(":", 1)[1]), got
    fresh(hd, vid)
    await_mirror(hd, vid)
    rc, out, t_update = run(hd, vid, "apt-get update", APT_STEP)
    assert rc == 0, out
    assert not re.search(r"^(W|E): ", out, re.M), out
    rc, out, t_install = run(hd, vid, "DEBIAN_FRONTEND=noninteractive apt-get install -y "
                             "--no-install-recommends " + PKG, APT_STEP)
    assert rc == 0, out
    assert installed(hd, vid), out
    rc, out, _ = run(hd, vid, PKG_RUN, 60)
    assert rc == 0 and "less " in out, out
    print("apt-get update %.1fs, install %.1fs" % (t_update, t_install))
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200


def test_apt_fails_fast_with_no_egress(hd):
    vid = run_running(hd, timeout=BOOT, imageIdentifier="debian-12",
                      egressNetworkConnectors=[NO_EGRESS])["microvmId"]
    assert hd.get(vid)[2]["egressNetworkConnectors"] == [NO_EGRESS]
    fresh(hd, vid)
    rc, out, secs = run(hd, vid, "apt-get %s update" % APT_NOWAIT, FAST + 60)
    assert rc != 0, out
    assert secs < FAST, (secs, out)
    assert re.search(r"^(W|E): ", out, re.M), out
    rc, out, _ = run(hd, vid, "DEBIAN_FRONTEND=noninteractive apt-get %s install -y "
                     "--no-install-recommends %s" % (APT_NOWAIT, PKG), FAST + 60)
    assert rc != 0, out
    assert not installed(hd, vid)
    # The shell still works.
    assert sh(hd, vid, "echo alive").strip() == "alive"
    print("NO_EGRESS apt-get update gave up in %.1fs" % secs)
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200
