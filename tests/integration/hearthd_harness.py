"""Start and talk to a real hearthd for the integration tests.

Each Hearthd runs on a free loopback port with a private state directory;
every wait has a deadline and stop() always reaps the process.
"""
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time

from conftest import HOST_SHELL, built  # HOST_SHELL: what the host engine's shells run

BUILD = os.environ.get("HEARTH_BUILD", "/work/main/build")
HEARTHD = os.path.join(BUILD, "bin", "hearthd")
API = "/2025-09-09"
# The built busybox guest image (make), for tests that run real VMs.
REAL_BUSYBOX = os.path.join(os.environ.get("HEARTH_IMAGES", os.path.join(BUILD, "guest")),
                            "busybox", "image.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=15):
    """Wait until something accepts on 127.0.0.1:port (every wait has a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def keeper_pids(state_dir):
    """pids of the VM keepers (hearthd --keeper) of the hearthd with this state dir."""
    prefix = os.path.join(os.path.realpath(state_dir), "vms") + "/"
    prefix2 = os.path.join(state_dir, "vms") + "/"
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"--keeper" not in args or b"--dir" not in args:
            continue
        i = args.index(b"--dir")
        d = args[i + 1].decode(errors="replace") if i + 1 < len(args) else ""
        if d.startswith(prefix) or d.startswith(prefix2):
            found.append(int(pid))
    return found


def busybox_images(root):
    """<root>/images holding the built busybox image: one hearthd's private image dir."""
    d = os.path.join(root, "images", "busybox")
    os.makedirs(d, exist_ok=True)
    shutil.copy(built(REAL_BUSYBOX, "the busybox guest image"), os.path.join(d, "image.json"))
    return os.path.join(root, "images")


def busybox_app_images(root, files, version, **fields):
    """<root>/images holding busybox plus an app: files ({name: bytes}, written
    to /app/NAME, mode 0755) in a second cpio archive appended to the
    initramfs; version and fields (command, hooks) override the image's own."""
    base = json.load(open(built(REAL_BUSYBOX, "the busybox guest image")))
    work = os.path.join(root, "app-build")
    os.makedirs(os.path.join(work, "app"), exist_ok=True)
    for name, data in files.items():
        p = os.path.join(work, "app", name)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, 0o755)
    cpio = subprocess.run("find app | cpio -o -H newc -R 0:0 --quiet", shell=True, cwd=work,
                          capture_output=True, check=True, timeout=60).stdout
    d = os.path.join(root, "images", "busybox")
    os.makedirs(d, exist_ok=True)
    initrd = os.path.join(d, "initrd.cpio.gz")
    with open(initrd, "wb") as out:
        with open(base["initrd"], "rb") as f:
            shutil.copyfileobj(f, out)
        out.write(gzip.compress(cpio))
    img = dict(base, version="%s-%s" % (version, base["version"]), initrd=initrd, **fields)
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(img, f)
    return os.path.join(root, "images")


def fake_image_dir(root, name="busybox", version="1", hooks=None):
    """An image whose kernel does not exist: runs reach the engine and fail there."""
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    img = {"name": name, "version": version, "kernel": "/nonexistent/vmlinuz",
           "initrd": None, "disk": None, "cmdline": "console=hvc0", "memoryMiB": 64}
    if hooks:
        img["hooks"] = hooks
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(img, f)
    return root


class Hearthd:
    def __init__(self, state_dir, image_dir, extra=(), port=None, env=None):
        self.state_dir = state_dir
        self.image_dir = image_dir
        self.port = port or free_port()
        self.extra = list(extra)
        # Each hearthd gets its own ingress port unless the test picks one, so
        # parallel daemons never race for the default 7443. The port survives
        # restarts of the same daemon (endpoint URLs stay the same).
        if "--ingress-listen" not in self.extra:
            self.ingress_port = free_port()
            self.extra += ["--ingress-listen", "127.0.0.1:%d" % self.ingress_port]
        else:
            self.ingress_port = int(self.extra[self.extra.index("--ingress-listen") + 1]
                                    .rsplit(":", 1)[1])
        self.env = dict(os.environ, HEARTH_HOST_SHELL=HOST_SHELL, **(env or {}))
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(state_dir.rstrip("/")) or ".",
                                     "hearthd-%d.log" % self.port)

    def start(self, timeout=15):
        args = [HEARTHD, "--api-listen", "127.0.0.1:%d" % self.port,
                "--state-dir", self.state_dir, "--image-dir", self.image_dir] + self.extra
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("hearthd exited: %s" % self.read_log())
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("hearthd did not listen within %ss" % timeout)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        self.proc = None

    def kill9(self):
        self.stop(signal.SIGKILL)

    def keepers(self):
        """pids of the VM keepers (one per running VM) under this state dir."""
        return keeper_pids(self.state_dir)

    def close(self):
        """Stop hearthd and end every VM it left running (keepers outlive hearthd)."""
        self.stop()
        for pid in self.keepers():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ---- HTTP ----
    def raw(self, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def call(self, method, path, body=None, **kw):
        status, headers, data = self.raw(method, API + path, body, **kw)
        doc = json.loads(data) if data else None
        return status, headers.get("x-amzn-errortype"), doc

    def run(self, **fields):
        fields.setdefault("imageIdentifier", "busybox")
        return self.call("POST", "/microvms", fields)

    def get(self, vm_id):
        return self.call("GET", "/microvms/" + vm_id)

    def wait_ingress(self, timeout=15):
        """The API answers before the ingress listens: wait for the ingress too."""
        wait_port(self.ingress_port, timeout)

    def run_running(self, timeout, **fields):
        """RunMicrovm, then wait for RUNNING; the GetMicrovm doc."""
        st, _, vm = self.run(**fields)
        assert st == 200, vm
        doc = self.wait_state(vm["microvmId"], ("RUNNING", "TERMINATED"), timeout)
        assert doc["state"] == "RUNNING", (doc, self.read_log())
        return doc

    def run_suspended(self, auto_resume, mint, timeout):
        """A VM run with an idle policy, suspended through the API: (id, mint(id)),
        the token minted while RUNNING (still valid while SUSPENDED, same run)."""
        doc = self.run_running(timeout, idlePolicy={"maxIdleDurationSeconds": 600,
                                                    "suspendedDurationSeconds": 600,
                                                    "autoResumeEnabled": auto_resume})
        vid = doc["microvmId"]
        tok = mint(vid)
        assert self.call("POST", "/microvms/%s/suspend" % vid)[0] == 200
        assert self.wait_state(vid, ("SUSPENDED", "TERMINATED"), 120)["state"] == "SUSPENDED"
        return vid, tok

    def wait_state(self, vm_id, states, timeout):
        """Poll GetMicrovm until the state is one of `states`; return the doc."""
        if isinstance(states, str):
            states = (states,)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            st, _, doc = self.get(vm_id)
            assert st == 200, doc
            last = doc
            if doc["state"] in states:
                return doc
            time.sleep(0.1)
        raise AssertionError("%s not in %s after %ss: %s" % (vm_id, states, timeout, last))


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)
