"""Docker inside a debian-12 microVM (issue 20), run by a real hearthd with
real egress (--egress-uplink host, as test_egress_apt).

- additionalOsCapabilities ["ALL"], 1 GiB: docker.io and busybox-static come
  from the machine's own Debian mirror (the one outside destination these
  tests reach; no registry, no `docker pull`); dockerd runs (no systemd in
  the guest: in the background, iptables on); a one-binary root filesystem
  made in the guest from the static busybox is `docker import`ed and `docker
  run` on the default bridge network: it prints, has an address on
  docker0's network and reaches the bridge's gateway.
- The service's default (restricted) capability set: the same install works,
  but dockerd refuses to start and says which permission it lacks.
"""
import re
import time

import pytest

from conftest import needs_root
from hearthd_harness import Hearthd
from test_egress import BOOT, close_hearthd, netns_list
from test_egress_apt import APT_STEP, await_mirror, host_uplink, run  # noqa: F401 (fixture)
from test_guest_linux import debian_images
from test_lifecycle import run_running

pytestmark = needs_root

MEM_MIB = 1024         # dockerd + containerd + a container; 256 MiB is tight
PKGS = "docker.io busybox-static"
DOCKERD_UP = 300       # dockerd's first start under TCG (containerd, iptables)
# No systemd: keep dpkg's maintainer scripts from starting docker themselves.
NO_START = "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && " \
           "chmod +x /usr/sbin/policy-rc.d"
DOCKERD = ("setsid dockerd --iptables=true </dev/null >/var/log/dockerd.log 2>&1 & "
           "for i in $(seq %d); do docker info >/dev/null 2>&1 && exit 0; "
           "kill -0 $! 2>/dev/null || break; sleep 1; done; "
           "echo dockerd-not-up; cat /var/log/dockerd.log; exit 1" % DOCKERD_UP)


def hearthd(root, all_caps):
    images = debian_images(root, all_caps, memory_mib=MEM_MIB)
    d = Hearthd(root + "/state", images, extra=["--egress-uplink", "host"])
    d.netns_before = set(netns_list())
    return d.start()


# One hearthd at a time (each owns the host's uplink rules while it runs).
@pytest.fixture
def hd_all(tmp_path, host_uplink):  # noqa: F811
    d = hearthd(str(tmp_path), True)
    yield d
    close_hearthd(d)


@pytest.fixture
def hd_default(tmp_path, host_uplink):  # noqa: F811
    d = hearthd(str(tmp_path), False)
    yield d
    close_hearthd(d)


def install(hd):
    vid = run_running(hd, timeout=BOOT, imageIdentifier="debian-12")["microvmId"]
    await_mirror(hd, vid)
    rc, out, t_update = run(hd, vid, "apt-get update", APT_STEP)
    assert rc == 0, out
    rc, out, t_install = run(hd, vid, NO_START + " && DEBIAN_FRONTEND=noninteractive "
                             "apt-get install -y --no-install-recommends " + PKGS, APT_STEP)
    assert rc == 0, out
    print("apt-get update %.1fs, install %.1fs" % (t_update, t_install))
    return vid


def test_docker_import_and_run_with_all(hd_all):
    hd = hd_all
    vid = install(hd)
    rc, out, t_up = run(hd, vid, DOCKERD, DOCKERD_UP + 60)
    assert rc == 0, out
    # dockerd made its default bridge and the NAT rule for it.
    rc, out, _ = run(hd, vid, "ip -4 addr show docker0; iptables -t nat -S POSTROUTING", 60)
    assert rc == 0 and "inet 172.17.0.1/16" in out and "-j MASQUERADE" in out, out
    # A root filesystem of one static binary, made here: no registry.
    rc, out, _ = run(hd, vid, "rm -rf /tmp/r && mkdir -p /tmp/r/bin && "
                     "cp /bin/busybox /tmp/r/bin/ && ln -s busybox /tmp/r/bin/sh && "
                     "tar -C /tmp/r -c . | docker import - hearth/tiny:1 && "
                     "docker image ls hearth/tiny", 300)
    assert rc == 0 and "hearth/tiny" in out, out
    rc, out, t_run = run(hd, vid, "docker run --rm hearth/tiny:1 /bin/sh -c "
                         "'echo hello-from-container; busybox ip -4 addr show eth0; "
                         "cat /proc/net/route; busybox ping -c 1 -W 10 172.17.0.1'", 300)
    assert rc == 0, out
    assert "hello-from-container" in out, out
    assert re.search(r"inet 172\.17\.\d+\.\d+/16", out), out
    # Default route through the bridge's gateway 172.17.0.1 (little-endian hex).
    assert re.search(r"^eth0\s+00000000\s+010011AC\s", out, re.M), out
    assert "1 packets received" in out, out
    print("dockerd up in %.1fs, docker run %.1fs:\n%s" % (t_up, t_run, out))
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200


def test_dockerd_refused_without_all(hd_default):
    hd = hd_default
    vid = install(hd)
    t0 = time.monotonic()
    rc, out, _ = run(hd, vid, DOCKERD, DOCKERD_UP + 60)
    assert rc != 0, out
    assert "dockerd-not-up" in out, out
    # dockerd exits (not a timeout) and names the permission it lacks.
    assert time.monotonic() - t0 < DOCKERD_UP, out
    # What it lacks: CAP_SYS_ADMIN (mount) for its overlay storage driver,
    # CAP_NET_ADMIN (netlink to nf_tables) for its NAT chain.
    assert "failed to start daemon" in out, out
    assert re.search(r"failed to mount overlay: operation not permitted", out), out
    assert re.search(r"iptables -t nat -N DOCKER: .*Permission denied \(you must be root\)",
                     out), out
    rc, caps, _ = run(hd, vid, "grep CapEff /proc/self/status", 60)
    eff = int(caps.split()[1], 16)
    assert not eff & (1 << 21) and not eff & (1 << 12), caps
    print("dockerd refused without ALL:\n" + "".join(
        ln for ln in out.splitlines(True) if re.search(r"level=(error|fatal)|failed", ln)))
    assert hd.call("DELETE", "/microvms/" + vid)[0] == 200
