"""What the shell-ingress benchmarks (ingress_bench.py, ssh_bench.py) share:
OpenSSH's throwaway sshd, agent_bench runs and their key=value figures, the
medians and the hearth-vs-OpenSSH table."""
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from hearthd_harness import BUILD  # noqa: E402

AB = os.path.join(BUILD, "bin", "bench", "agent_bench")
RAWCAT = "stty raw -echo; printf 'RE''ADY'; exec cat"


def start_sshd(d):
    """tests/bench/sshd.sh's throwaway sshd; returns (pid, ssh argv, dest)."""
    script = ('. %s/sshd.sh; sshd_start %s >&2 || exit 1; printf "%%s\\0" "$SSHD_PID" '
              '"$SSHD_DEST" "${SSH[@]}"' % (HERE, d))
    # Files, not pipes: the sshd left running keeps inherited pipes open.
    out, err = os.path.join(d + ".out"), os.path.join(d + ".err")
    with open(out, "wb") as o, open(err, "wb") as e:
        rc = subprocess.run(["bash", "-c", script], stdin=subprocess.DEVNULL, stdout=o,
                            stderr=e, timeout=60).returncode
    if rc != 0:
        raise RuntimeError("sshd: " + open(err).read()[-500:])
    parts = open(out).read().split("\0")[:-1]
    return int(parts[0]), parts[2:], parts[1]


def kv(line):
    return {k: float(v) for k, v in (w.split("=") for w in line.split()[1:])}


def measure(argv, timeout=300):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (os.path.basename(argv[0]), r.stderr.strip()[-300:]))
    return kv(r.stdout.strip().splitlines()[-1])


def cpu_idle_note():
    """How idle CPUs wait on this machine: every hop of a round trip wakes a
    process, and waking one on a halted CPU costs an IPI (on a VM, an exit to
    the hypervisor), so the figures depend on it. Printed with them."""
    def read(p):
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            return None
    drv = read("/sys/devices/system/cpu/cpuidle/current_driver") or "none"
    note = "cpuidle driver %s" % drv
    poll = read("/sys/module/haltpoll/parameters/guest_halt_poll_ns")
    if poll is not None:
        note += ", guest_halt_poll_ns=%s%s" % (poll, " (halt polling off)" if poll == "0" else "")
    return "%s; %d CPUs" % (note, os.cpu_count() or 0)


def med(xs):
    return statistics.median(xs) if xs else -1


def shell_token(hd, vm_id):
    """A fresh shell token for vm_id, valid for an hour."""
    st, _, doc = hd.call("POST", "/microvms/%s/shell-auth-token" % vm_id,
                         {"expirationInMinutes": 60})
    if st != 200:
        raise RuntimeError(doc)
    return doc["authToken"]["X-aws-proxy-auth"]


class Figures:
    """The figures of a run by label, one dict per repetition; a failed run is
    counted in .fails and printed, not raised."""

    def __init__(self):
        self.res, self.fails = {}, 0

    def rec(self, label, argv, timeout=300):
        try:
            self.res.setdefault(label, []).append(measure(argv, timeout))
        except Exception as e:
            self.fails += 1
            print("  %s failed: %s" % (label, e))

    def add(self, label, fn):
        """Record fn()'s dict of figures (a run measured in this process)."""
        try:
            self.res.setdefault(label, []).append(fn())
        except Exception as e:
            self.fails += 1
            print("  %s failed: %s" % (label, e))

    def print_raw(self, width):
        print("raw figures:")
        for k, runs in self.res.items():
            for r in runs:
                print("  %-*s %s" % (width, k, " ".join("%s=%g" % kv_ for kv_ in r.items())))

    def m(self, label, key):
        """The median of key over label's runs, -1 when there is none."""
        return med([r[key] for r in self.res.get(label, []) if key in r])


def row(name, a, s, note=""):
    """One line of the hearth-vs-OpenSSH table (a figure < 0 failed)."""
    ratio = "%.2f" % (a / s) if a > 0 and s > 0 else "n/a"
    fa = "%.1f" % a if a >= 0 else "failed"
    fs = "%.1f" % s if s >= 0 else "failed"
    print("  %-34s %10s %10s %8s   %s" % (name, fa, fs, ratio, note))
