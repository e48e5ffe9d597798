"""Memory-size sweep: eager snapshots (format 1, HEARTH_SNAP_EAGER=1: QEMU's migration stream,
read whole on restore) beside mapped ones (format 2: RAM mapped copy-on-write, pages fault in
on demand, suspend writes the base's data + the pages written), in the same run.

For each guest size (VM_MEM_SWEEP, default "128:0,1024:600,2048:1500" = MiB of RAM : MB of
tmpfs filled with a pattern) and each format:
  suspend    hearth-vm suspend of the booted, filled VM (ms; MB written to the snapshot)
  resume     restore of that snapshot until the agent answers (ms)
  resuspend  the resumed VM writes VM_MEM_DIRTY MB (default 32) and suspends again (ms; MB)
  reresume   restore of that second snapshot (ms)
Then VM_MEM_CLONES (default 10) idle clones of one 128 MiB image snapshot per format: the sum
of their QEMUs' PSS (each shared page counted once overall) against the sum of their RSS,
and the drop in the host's MemAvailable while they run. Format 2 twice: "mapped" maps the
file, "sealed" a sealed memfd copy of it shared by every clone (as hearthd runs image VMs,
vmm/engine.h); its shmem (allocated bytes) is counted beside the PSS.
Then the RunMicrovm path, VM_MEM_RUNS (default 3) times per format: a clone of a 128 MiB
image snapshot (mapped: from the sealed memfd, as hearthd runs it) idles, suspends (ms, MB
written: mapped writes a delta over the image's memory) and resumes (mapped: with the
image's memfd again) until the agent answers.
Figures are printed with the mapped/eager ratio. Goal (issue 18): a 2 GiB VM with 1.5 GB in
use resumes within 1.5x the time of an idle 128 MiB VM.
"""
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from test_vm import HearthVM, image_json, pid_alive, run_ok  # noqa: E402
from test_memory import sealed_memfd  # noqa: E402

IMAGE = os.environ.get("VM_BENCH_IMAGE", "busybox")
SWEEP = [tuple(int(x) for x in s.split(":"))
         for s in os.environ.get("VM_MEM_SWEEP", "128:0,1024:600,2048:1500").split(",") if s]
DIRTY = int(os.environ.get("VM_MEM_DIRTY", "32"))
CLONES = int(os.environ.get("VM_MEM_CLONES", "10"))
RUNS = int(os.environ.get("VM_MEM_RUNS", "3"))
MODES = (("eager", "1", False), ("mapped", "0", False))


def env_for(eager):
    e = dict(os.environ)
    e["HEARTH_SNAP_EAGER"] = eager
    return e


def vm_start(args, run, eager, pass_fds=()):
    os.makedirs(os.path.dirname(run), exist_ok=True)
    return HearthVM(args + ["--op-timeout", "600000"], run, env=env_for(eager),
                    pass_fds=pass_fds)


def mem_available_mb():
    with open("/proc/meminfo") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("MemAvailable:")) / 1024


def timed_ready(vm):
    vm.ready()
    return (time.monotonic() - vm.t0) * 1000


def written_mb(snap, prev=None):
    """Bytes the suspend wrote (allocated blocks: holes cost nothing), disk excluded; a
    memory.bin that is a link to the previous snapshot's (format 2 delta) was not written."""
    n = 0
    for f in ("memory.bin", "memory.delta", "state.bin", "manifest.json"):
        p = os.path.join(snap, f)
        if not os.path.exists(p):
            continue
        if f == "memory.bin" and prev and \
                os.stat(p).st_ino == os.stat(os.path.join(prev, f)).st_ino:
            continue
        n += os.stat(p).st_blocks * 512
    return n / 1e6


def fill(agent, mb, tag):
    """mb MB of a pattern in a guest tmpfs (distinct per MiB: a header shifts each block)."""
    run_ok(agent, f"mkdir -p /mnt/m && mount -t tmpfs -o size={mb + 64}m tmpfs /mnt/m", 60)
    run_ok(agent, f"yes hearth-{tag} | head -c 1048576 > /tmp/p1 && "
                  f"i=0; while [ $i -lt {mb} ]; do echo blk$i; cat /tmp/p1; i=$((i+1)); done"
                  f" > /mnt/m/fill", 1800)


def suspend(vm, snap):
    os.sync()  # no earlier writeback left to throttle this suspend's writes
    t = time.monotonic()
    r = vm.cmd(f"suspend {snap}", timeout=600)
    if not r.startswith("ok"):
        raise RuntimeError(f"suspend: {r}")
    ms = (time.monotonic() - t) * 1000
    vm.wait_exit(60)
    return ms


def sweep_one(tmp, mode, eager, mem, used):
    out = {}
    d = f"{tmp}/{mode}-{mem}"
    vm = vm_start(["boot", "--image", image_json(IMAGE), "--mem", str(mem)], f"{d}/boot", eager)
    try:
        vm.ready()
        a = vm.agent()
        if used:
            fill(a, used, "a")
        a.close()
        time.sleep(0.5)
        out["suspend"] = suspend(vm, f"{d}/s1")
    finally:
        vm.close()
    out["suspend_mb"] = written_mb(f"{d}/s1")
    vm = vm_start(["restore", "--snapshot", f"{d}/s1", "--timeout", "600000"], f"{d}/r1", eager)
    try:
        out["resume"] = timed_ready(vm)
        a = vm.agent()
        run_ok(a, f"head -c {DIRTY << 20} /dev/zero | tr '\\0' d > /tmp/dirty", 600)
        a.close()
        out["resuspend"] = suspend(vm, f"{d}/s2")
    finally:
        vm.close()
    out["resuspend_mb"] = written_mb(f"{d}/s2", f"{d}/s1")
    vm = vm_start(["restore", "--snapshot", f"{d}/s2", "--timeout", "600000"], f"{d}/r2", eager)
    try:
        out["reresume"] = timed_ready(vm)
        a = vm.agent()
        if used:
            run_ok(a, "test -s /mnt/m/fill", 60)
        a.close()
    finally:
        vm.close()
    shutil.rmtree(d, ignore_errors=True)
    return out


def smaps(pid):
    r = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for ln in f:
            p = ln.split()
            if len(p) >= 2 and p[0].endswith(":") and p[1].isdigit():
                r[p[0][:-1]] = int(p[1])
    return r


def image_snapshot(d, eager):
    """A 128 MiB image snapshot (boot, `snapshot`) at d/img."""
    vm = vm_start(["boot", "--image", image_json(IMAGE), "--mem", "128"], f"{d}/boot", eager)
    try:
        vm.ready()
        r = vm.cmd(f"snapshot {d}/img")
        if not r.startswith("ok"):
            raise RuntimeError(r)
    finally:
        vm.close()


def clones(tmp, mode, eager, sealed=False):
    d = f"{tmp}/{mode}-clones"
    image_snapshot(d, eager)
    cs = []
    os.sync()
    time.sleep(1)
    avail0 = mem_available_mb()
    mfd = sealed_memfd(f"{d}/img/memory.bin") if sealed else None
    extra = ["--mem-fd", str(mfd)] if sealed else []
    try:
        for i in range(CLONES):
            cs.append(vm_start(["restore", "--snapshot", f"{d}/img", "--id", f"c{i}", *extra],
                               f"{d}/c{i}", eager, pass_fds=(mfd,) if sealed else ()))
            cs[-1].ready()  # one at a time: dozens of restores at once outrun their deadlines
        time.sleep(3)  # idle
        m = [smaps(c.pid) for c in cs if pid_alive(c.pid)]
        shm = os.fstat(mfd).st_blocks * 512 / 1e6 if sealed else 0
        return {"alive": len(m), "pss": sum(x["Pss"] for x in m) / 1024,
                "rss": sum(x["Rss"] for x in m) / 1024,
                "one_rss": statistics.median(x["Rss"] for x in m) / 1024,
                "shm": shm, "avail_drop": avail0 - mem_available_mb()}
    finally:
        for c in cs:
            c.close()
        if mfd is not None:
            os.close(mfd)
        shutil.rmtree(d, ignore_errors=True)


def image_runs(tmp, mode, eager):
    """RUNS clones of one image snapshot: idle, suspend, resume; medians."""
    d = f"{tmp}/{mode}-runs"
    image_snapshot(d, eager)
    mfd = sealed_memfd(f"{d}/img/memory.bin") if eager == "0" else None
    extra = ["--mem-fd", str(mfd)] if mfd is not None else []
    pf = (mfd,) if mfd is not None else ()
    out = {"run": [], "suspend": [], "suspend_mb": [], "resume": []}
    try:
        for i in range(RUNS):
            vm = vm_start(["restore", "--snapshot", f"{d}/img", "--id", f"c{i}", *extra],
                          f"{d}/c{i}", eager, pass_fds=pf)
            try:
                out["run"].append(timed_ready(vm))
                time.sleep(0.5)
                out["suspend"].append(suspend(vm, f"{d}/s{i}"))
            finally:
                vm.close()
            out["suspend_mb"].append(written_mb(f"{d}/s{i}"))
            vm = vm_start(["restore", "--snapshot", f"{d}/s{i}", "--id", f"c{i}", *extra],
                          f"{d}/r{i}", eager, pass_fds=pf)
            try:
                out["resume"].append(timed_ready(vm))
            finally:
                vm.close()
    finally:
        if mfd is not None:
            os.close(mfd)
        shutil.rmtree(d, ignore_errors=True)
    return {k: statistics.median(v) for k, v in out.items()}


def main():
    if not os.path.exists(image_json(IMAGE)):
        print(f"vm_memory_bench: image {IMAGE} not built ({image_json(IMAGE)})")
        return 1
    tmp = tempfile.mkdtemp(prefix="hearth-vm-mem-", dir=os.environ.get("VM_MEM_DIR"))
    accel = os.environ.get("HEARTH_ACCEL", "auto")
    try:
        res = {}
        for mem, used in SWEEP:
            for mode, eager, _ in MODES:
                res[(mode, mem)] = sweep_one(tmp, mode, eager, mem, used)
        print(f"vm_memory_bench: image={IMAGE} accel={accel} (ms, MB written; ratio mapped/eager)")
        if not SWEEP:
            print("  (no memory sweep: VM_MEM_SWEEP is empty)")
        keys = ("suspend", "suspend_mb", "resume", "resuspend", "resuspend_mb", "reresume")
        for mem, used in SWEEP:
            e, m = res[("eager", mem)], res[("mapped", mem)]
            print(f"  {mem} MiB, {used} MB used:")
            for k in keys:
                unit = "MB" if k.endswith("_mb") else "ms"
                ratio = m[k] / e[k] if e[k] else 0
                print(f"    {k:<13} eager {e[k]:9.1f} {unit}  mapped {m[k]:9.1f} {unit}"
                      f"  ratio {ratio:6.3f}")
        small, big = (SWEEP[0][0], SWEEP[-1][0]) if SWEEP else (0, 0)
        for mode, _, _ in MODES if SWEEP else ():
            r = res[(mode, big)]["resume"] / res[(mode, small)]["resume"]
            print(f"  {mode}: resume {big} MiB / {small} MiB = {r:.2f}"
                  f"{'  (goal <= 1.5: ' + ('met' if r <= 1.5 else 'MISSED') + ')' if mode == 'mapped' else ''}")
        if RUNS:
            runs = {mode: image_runs(tmp, mode, eager) for mode, eager, _ in MODES}
            print(f"  a 128 MiB image's clone, idle (RunMicrovm path; median of {RUNS}):")
            for k in ("run", "suspend", "suspend_mb", "resume"):
                e, m = runs["eager"][k], runs["mapped"][k]
                unit = "MB" if k.endswith("_mb") else "ms"
                print(f"    {k:<13} eager {e:9.1f} {unit}  mapped {m:9.1f} {unit}"
                      f"  ratio {m / e if e else 0:6.3f}")
        for mode, eager, sealed in MODES + (("sealed", "0", True),):
            c = clones(tmp, mode, eager, sealed)
            print(f"  {mode}: {c['alive']}/{CLONES} idle clones: PSS total {c['pss']:.0f} MB"
                  f"{' + memfd ' + format(c['shm'], '.0f') + ' MB' if sealed else ''},"
                  f" RSS total {c['rss']:.0f} MB, {CLONES} x one RSS {CLONES * c['one_rss']:.0f} MB,"
                  f" (PSS+memfd)/(N x RSS) {(c['pss'] + c['shm']) / (CLONES * c['one_rss']):.3f},"
                  f" MemAvailable drop {c['avail_drop']:.0f} MB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
