"""VM engine benchmark through hearth-vm (QEMU microvm; TCG unless the CPU has vmx/svm).

Measures, on the busybox image with 128 MiB guests:
  cold boot      hearth-vm start -> agent answered HELLO (+ entropy/hostname/time)
  snapshot       the snapshot command (pause, freeze disk, memory to file, manifest)
  restore        hearth-vm restore start -> agent ready (integrity check included)
  suspend        snapshot + end QEMU of a running guest
  resume         restore of the suspended VM -> agent ready
  rss/idle VM    host RSS of QEMU per idle clone with VM_BENCH_CLONES (20) running
  snapshot size  bytes the memory snapshot takes on disk (allocated, not apparent)
Each as an absolute figure and as a ratio to the cold boot of the same run.
Goals on TCG: restore <= cold/10 and < 300 ms; suspend < 200 ms; 20 idle VMs.

VM_BENCH_KERNELS="label=/path/vmlinux ..." measures the same image with each kernel
in turn in one run (e.g. the cached tinyconfig kernel beside the current one) and
prints the figures side by side; default: the image's own kernel only.
"""
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from test_vm import HearthVM, image_json, pid_alive  # noqa: E402

RUNS = int(os.environ.get("VM_BENCH_RUNS", "3"))
CLONES = int(os.environ.get("VM_BENCH_CLONES", "20"))
IMAGE = os.environ.get("VM_BENCH_IMAGE", "busybox")


def timed_ready(vm):
    vm.ready()
    return (time.monotonic() - vm.t0) * 1000


def timed_cmd(vm, cmd):
    t = time.monotonic()
    r = vm.cmd(cmd)
    if not r.startswith("ok"):
        raise RuntimeError(f"{cmd}: {r}")
    return (time.monotonic() - t) * 1000


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def du_bytes(path):
    """Allocated bytes under path (sparse files count what they use)."""
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(d, f)).st_blocks * 512
    return total


def image_with_kernel(src, kernel, tmp, label):
    """A copy of image.json src booting kernel instead of its own."""
    img = json.load(open(src))
    img["kernel"] = kernel
    path = os.path.join(tmp, f"image-{label}.json")
    with open(path, "w") as f:
        json.dump(img, f)
    return path


def kernels():
    spec = os.environ.get("VM_BENCH_KERNELS", "").split()
    return [tuple(k.split("=", 1)) for k in spec] or [("image", None)]


def main():
    if not os.path.exists(image_json(IMAGE)):
        print(f"vm_bench: image {IMAGE} not built ({image_json(IMAGE)})")
        return 1
    tmp = tempfile.mkdtemp(prefix="hearth-vm-bench-")
    try:
        for label, kernel in kernels():
            img = image_with_kernel(image_json(IMAGE), kernel, tmp, label) if kernel \
                else image_json(IMAGE)
            if kernel:
                print(f"vm_bench: kernel {label}: {kernel} "
                      f"({os.path.getsize(kernel) / 1e6:.1f} MB vmlinux)")
            measure(img, os.path.join(tmp, label))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(img, tmp):
    accel = os.environ.get("HEARTH_ACCEL", "auto")
    os.makedirs(tmp)
    res = {k: [] for k in ("cold", "snapshot", "restore", "suspend", "resume")}
    sizes = []
    snap0 = None
    for i in range(RUNS):
        vm = HearthVM(["boot", "--image", img, "--mem", "128"], f"{tmp}/boot{i}")
        try:
            res["cold"].append(timed_ready(vm))
            snap = f"{tmp}/snap{i}"
            res["snapshot"].append(timed_cmd(vm, f"snapshot {snap}"))
            sizes.append(du_bytes(snap))
            snap0 = snap0 or snap
        finally:
            vm.close()
        vm = HearthVM.restore(snap, f"{tmp}/restore{i}")
        try:
            res["restore"].append(timed_ready(vm))
        finally:
            vm.close()
        vm = HearthVM(["boot", "--image", img, "--mem", "128"], f"{tmp}/susp{i}")
        try:
            vm.ready()
            time.sleep(0.5)
            res["suspend"].append(timed_cmd(vm, f"suspend {tmp}/suspended{i}"))
            vm.wait_exit()
        finally:
            vm.close()
        vm = HearthVM.restore(f"{tmp}/suspended{i}", f"{tmp}/resume{i}")
        try:
            res["resume"].append(timed_ready(vm))
        finally:
            vm.close()

    clones = []
    t = time.monotonic()
    try:
        for i in range(CLONES):
            clones.append(HearthVM.restore(snap0, f"{tmp}/clone{i}", "--id", f"c{i}"))
        for c in clones:
            c.ready()
        all_ready = (time.monotonic() - t) * 1000
        time.sleep(3)  # idle
        alive = sum(1 for c in clones if pid_alive(c.pid))
        rss = [rss_kb(c.pid) for c in clones if pid_alive(c.pid)]
        helper = [rss_kb(c.p.pid) for c in clones if c.p.poll() is None]
    finally:
        for c in clones:
            c.close()

    cold = statistics.median(res["cold"])
    print(f"vm_bench: image={IMAGE} accel={accel} runs={RUNS} (median ms; ratio to cold boot)")
    for k in ("cold", "snapshot", "restore", "suspend", "resume"):
        m = statistics.median(res[k])
        runs = " ".join(f"{x:.0f}" for x in res[k])
        print(f"  {k:<10} {m:8.1f} ms  ratio {m / cold:6.3f}   runs: {runs}")
    per = statistics.mean(rss) / 1024 if rss else 0
    print(f"  snap size  {statistics.median(sizes) / 1e6:8.1f} MB on disk (memory + manifest)")
    print(f"  idle VMs   {alive}/{CLONES} running at once (all ready in {all_ready:.0f} ms)")
    print(f"  rss/VM     {per:8.1f} MB QEMU (+ {statistics.mean(helper) / 1024:.1f} MB hearth-vm)"
          f"  total {sum(rss) / 1024:.0f} MB")
    r = statistics.median(res["restore"])
    s = statistics.median(res["suspend"])
    print(f"  goals: restore<=cold/10 {'met' if r <= cold / 10 else 'MISSED'}"
          f" ({r / cold:.3f}), restore<300ms {'met' if r < 300 else 'MISSED'},"
          f" suspend<200ms {'met' if s < 200 else 'MISSED'},"
          f" {CLONES} idle VMs {'met' if alive == CLONES else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
