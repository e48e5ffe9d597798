"""A full Linux inside a debian-12 microVM (issue 20), run by a real hearthd.

With additionalOsCapabilities ["ALL"] in the image: user/pid/net/mount
namespaces, a cgroup v2 limit that takes effect, overlayfs, nftables and the
iptables layer Docker uses (conntrack, addrtype, MASQUERADE), a bridge and a
veth pair into a network namespace, a FUSE filesystem (fuse2fs), an eBPF
program loaded through bpf(2) (perl's syscall(): no compiler in the image) and
a seccomp-BPF filter. Without it (the service's default set, Docker's): the
same operations are refused with the kernel's errors, seccomp filters still
work (they need no privilege), and the capability masks are Docker's.

Docker itself (installed from the mirror through egress) is run by
test_guest_docker.py."""
import json
import os
import shutil

import pytest

from agentproto import Agent
from conftest import guest_image, needs_root
from hearthd_harness import Hearthd, REAL_BUSYBOX as REAL

BOOT = 420  # first run of an image: boot under TCG, then the image snapshot

# Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID
# SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
DOCKER_DEFAULT_CAPS = 0xA80425FB

# bpf(BPF_PROG_LOAD) of a two-instruction socket filter (r0 = 0; exit).
PERL_BPF = r'''
my $insns = pack("CCsl", 0xb7, 0, 0, 0) . pack("CCsl", 0x95, 0, 0, 0);
my $lic = "GPL\0";
my $attr = pack("LLQQLLQL", 1, 2, unpack("Q", pack("p", $insns)),
                unpack("Q", pack("p", $lic)), 0, 0, 0, 0);
$attr .= "\0" x (128 - length $attr);
my $fd = syscall(321, 5, $attr, length $attr);
if ($fd < 0) { print STDERR "bpf(BPF_PROG_LOAD): $!\n"; exit 1 }
print "bpf prog fd $fd\n";
'''

# no_new_privs, then a seccomp filter making uname(2) fail with EPERM, then uname.
PERL_SECCOMP = r'''
syscall(157, 38, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_NO_NEW_PRIVS): $!\n";
my $f = pack("SCCL", 0x20, 0, 0, 0) . pack("SCCL", 0x15, 0, 1, 63)
      . pack("SCCL", 0x06, 0, 0, 0x00050001) . pack("SCCL", 0x06, 0, 0, 0x7fff0000);
my $prog = pack("Sx6Q", 4, unpack("Q", pack("p", $f)));
syscall(317, 1, 0, $prog) == 0 or die "seccomp(SET_MODE_FILTER): $!\n";
exec "uname", "-s";
'''


def perl(script):
    return "perl -e '%s'" % script.replace("'", "'\\''")


def debian_images(root, all_caps, memory_mib=None):
    """root/images with the debian-12 image, optionally with ALL and more
    memory (test_guest_docker runs dockerd in it)."""
    d = os.path.join(root, "images", "debian-12")
    os.makedirs(d)
    img = json.load(open(guest_image("debian-12", os.path.dirname(os.path.dirname(REAL)))))
    if all_caps:
        img["additionalOsCapabilities"] = ["ALL"]
    if memory_mib:
        img["memoryMiB"] = memory_mib
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(img, f)
    return os.path.join(root, "images")


class VM:
    def __init__(self, root, all_caps):
        self.hd = Hearthd(os.path.join(root, "state"), debian_images(root, all_caps)).start()
        st, _, vm = self.hd.run(imageIdentifier="debian-12")
        assert st == 200, vm
        self.vid = vm["microvmId"]
        doc = self.hd.wait_state(self.vid, ("RUNNING", "TERMINATED"), BOOT)
        assert doc["state"] == "RUNNING", (doc, self.hd.read_log())

    def run(self, cmd, timeout=120):
        """(exit code, stdout, stderr) of sh -c CMD, as the shells and the app get it."""
        sock = os.path.join(self.hd.state_dir, "vms", self.vid, "agent.sock")
        with Agent.connect_unix(sock, timeout=30) as a:
            a.hello(timeout=30)
            how, value, out, err = a.run(cmd, timeout=timeout)
        assert how == 0, (cmd, how, value, out, err)
        return value, out.decode(errors="replace"), err.decode(errors="replace")

    def ok(self, cmd, timeout=120):
        code, out, err = self.run(cmd, timeout)
        assert code == 0, (cmd, code, out, err)
        return out

    def refused(self, cmd, *why):
        code, out, err = self.run(cmd)
        assert code != 0, (cmd, out, err)
        assert any(w in err for w in why), (cmd, code, out, err)
        return err

    def close(self):
        self.hd.call("DELETE", "/microvms/" + self.vid)
        self.hd.wait_state(self.vid, "TERMINATED", 120)
        self.hd.close()


@pytest.fixture(scope="module")
def vm_all(tmp_path_factory):
    v = VM(str(tmp_path_factory.mktemp("all")), True)
    yield v
    v.close()


@pytest.fixture(scope="module")
def vm_default(tmp_path_factory):
    v = VM(str(tmp_path_factory.mktemp("default")), False)
    yield v
    v.close()


def cap_eff(vm):
    line = [ln for ln in vm.ok("grep CapEff /proc/self/status").splitlines()][0]
    return int(line.split()[1], 16)


# ---- additionalOsCapabilities ["ALL"] ----

@needs_root
def test_all_capabilities_and_kernel_config(vm_all):
    assert cap_eff(vm_all) & (1 << 21)  # CAP_SYS_ADMIN
    cfg = vm_all.ok("zcat /proc/config.gz")
    for opt in ("USER_NS", "NET_NS", "PID_NS", "CGROUPS", "MEMCG", "CGROUP_BPF", "OVERLAY_FS",
                "NF_TABLES", "NFT_COMPAT", "IP_NF_TARGET_MASQUERADE", "BRIDGE_NETFILTER", "VETH",
                "FUSE_FS", "BPF_SYSCALL", "BPF_JIT", "SECCOMP_FILTER"):
        assert "CONFIG_%s=y\n" % opt in cfg, opt
    assert vm_all.ok("cat /proc/sys/net/core/bpf_jit_enable").strip() == "1"


@needs_root
def test_all_namespaces(vm_all):
    out = vm_all.ok("unshare --user --map-root-user --net --pid --fork --mount-proc "
                    "sh -c 'id -u; echo pid=$$; ls /sys/class/net' && "
                    "unshare --uts --ipc --cgroup --mount --net true && echo all-ns")
    assert out.split("\n")[:3] == ["0", "pid=1", "lo"], out
    assert "all-ns" in out


@needs_root
def test_all_cgroup_v2_limit(vm_all):
    ctl = vm_all.ok("cat /sys/fs/cgroup/cgroup.controllers").split()
    for c in ("cpuset", "cpu", "io", "memory", "pids"):
        assert c in ctl, ctl
    out = vm_all.ok(
        "echo '+pids +memory +cpu' > /sys/fs/cgroup/cgroup.subtree_control && "
        "mkdir /sys/fs/cgroup/t && echo 3 > /sys/fs/cgroup/t/pids.max && "
        "test -f /sys/fs/cgroup/t/cgroup.freeze && "
        "sh -c 'echo $$ > /sys/fs/cgroup/t/cgroup.procs; "
        "for i in 1 2 3 4 5 6; do sleep 1 & done; wait' 2>&1; "
        "cat /sys/fs/cgroup/t/pids.events; sleep 1.5; rmdir /sys/fs/cgroup/t")
    assert "Cannot fork" in out, out
    events = dict(ln.split() for ln in out.splitlines() if ln.startswith("max "))
    assert int(events["max"]) > 0, out


@needs_root
def test_all_overlayfs(vm_all):
    out = vm_all.ok("cd /tmp && mkdir lo up wk mg && echo low > lo/a && "
                    "mount -t overlay overlay -o lowerdir=/tmp/lo,upperdir=/tmp/up,"
                    "workdir=/tmp/wk /tmp/mg && echo new > mg/b && cat mg/a && ls up && "
                    "umount mg")
    assert out.split() == ["low", "b"], out


@needs_root
def test_all_netfilter_as_docker_uses_it(vm_all):
    out = vm_all.ok(
        "nft add table inet hearth && "
        "nft add chain inet hearth input '{ type filter hook input priority 0; policy accept; }' && "
        "nft add rule inet hearth input ct state established,related accept && "
        "nft list ruleset && "
        "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE && "
        "iptables -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT && "
        "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j RETURN && "
        "iptables -L -n && iptables -t nat -S && iptables-legacy -L -n")
    for want in ("table inet hearth", "ct state established,related accept",
                 "-j MASQUERADE", "ctstate RELATED,ESTABLISHED", "--dst-type LOCAL"):
        assert want in out, (want, out)


@needs_root
def test_all_bridge_veth_netns(vm_all):
    out = vm_all.ok(
        "ip link add hbr0 type bridge && ip link add hv0 type veth peer name hv1 && "
        "ip link set hv0 master hbr0 && ip netns add hn1 && ip link set hv1 netns hn1 && "
        "ip addr add 10.77.0.1/24 dev hbr0 && ip link set hbr0 up && ip link set hv0 up && "
        "ip -n hn1 addr add 10.77.0.2/24 dev hv1 && ip -n hn1 link set hv1 up && "
        "ip -n hn1 link set lo up && sleep 1 && "
        # a refused connection proves the round trip over veth and bridge
        "ip netns exec hn1 bash -c 'echo > /dev/tcp/10.77.0.1/9' 2>&1; "
        "ip netns del hn1; ip link del hbr0")
    assert "Connection refused" in out, out


@needs_root
def test_all_fuse(vm_all):
    out = vm_all.ok("truncate -s 8M /tmp/f.img && mkfs.ext4 -q -F /tmp/f.img && "
                    "mkdir -p /tmp/fm && fuse2fs /tmp/f.img /tmp/fm >/dev/null && "
                    "grep ' /tmp/fm ' /proc/mounts && echo via-fuse > /tmp/fm/x && "
                    "cat /tmp/fm/x && umount /tmp/fm")
    assert " fuse" in out and "via-fuse" in out, out


@needs_root
def test_all_ebpf_and_seccomp(vm_all):
    assert "bpf prog fd" in vm_all.ok(perl(PERL_BPF))
    assert vm_all.ok("uname -s").strip() == "Linux"
    vm_all.refused(perl(PERL_SECCOMP), "Operation not permitted")


# ---- the default set ----

@needs_root
def test_default_capability_set(vm_default):
    assert cap_eff(vm_default) == DOCKER_DEFAULT_CAPS
    bnd = [ln for ln in vm_default.ok("grep CapBnd /proc/self/status").splitlines()][0]
    assert int(bnd.split()[1], 16) == DOCKER_DEFAULT_CAPS
    # what the default keeps works: chown, files of other users (DAC_OVERRIDE)
    assert vm_default.ok("touch /tmp/o && chown nobody /tmp/o && chmod 600 /tmp/o && "
                         "echo kept > /tmp/o && cat /tmp/o").strip() == "kept"


@needs_root
def test_default_refuses(vm_default):
    vm_default.refused("mkdir -p /tmp/m && mount -t tmpfs tmpfs /tmp/m", "permission denied")
    vm_default.refused("unshare -n true", "Operation not permitted")
    vm_default.refused("unshare --user --map-root-user --net --pid --fork --mount-proc true",
                       "No space left on device")
    vm_default.refused("mkdir /sys/fs/cgroup/t", "Read-only file system")
    vm_default.refused("echo 1 > /proc/sys/net/ipv4/ip_forward", "Read-only file system")
    vm_default.refused("nft list ruleset", "Operation not permitted")
    vm_default.refused("iptables -L -n", "Permission denied", "must be root")
    vm_default.refused("ip link add hbr0 type bridge", "Operation not permitted")
    vm_default.refused(perl(PERL_BPF), "Operation not permitted")
    vm_default.refused("truncate -s 8M /tmp/f.img && mkfs.ext4 -q -F /tmp/f.img && "
                       # fuse2fs exits 0 when its mount fails: look at the mounts
                       "mkdir -p /tmp/fm && fuse2fs /tmp/f.img /tmp/fm; grep ' /tmp/fm ' /proc/mounts",
                       "Operation not permitted", "ermission denied", "fusermount")
    # seccomp filters need no privilege (no_new_privs): they work in both sets
    vm_default.refused(perl(PERL_SECCOMP), "Operation not permitted")
    assert vm_default.ok("uname -s").strip() == "Linux"
