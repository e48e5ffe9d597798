"""Start and talk to a real hearthd for the integration tests.

Each Hearthd runs on a free loopback port with a private state directory;
every wait has a deadline and stop() always reaps the process. Every API
request is signed (AWS SigV4, botocore's SigV4Auth) with the key hearthd
made at its first start and wrote as profile [hearth] into the instance's
own AWS files (AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE point into a
private directory: tests never touch the user's ~/.aws). client_env() gives
a `hearth` or SDK process the same.
"""
import configparser
import gzip
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import HOST_SHELL, built  # HOST_SHELL: what the host engine's shells run

# The tree these tests belong to (tests/run.sh sets HEARTH_BUILD).
BUILD = os.environ.get("HEARTH_BUILD",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
HEARTHD = os.path.join(BUILD, "bin", "hearthd")
API = "/2025-09-09"
# The built busybox guest image (make), for tests that run real VMs.
REAL_BUSYBOX = os.path.join(os.environ.get("HEARTH_IMAGES", os.path.join(BUILD, "guest")),
                            "busybox", "image.json")


REGION = "us-east-1"
SERVICE = "lambda"  # the signing name; hearthd accepts any


def read_creds(path, profile="hearth"):
    """botocore Credentials of one profile of an AWS shared-credentials file."""
    cp = configparser.ConfigParser()
    if not cp.read(path):
        raise FileNotFoundError(path)
    sec = cp[profile]
    return Credentials(sec["aws_access_key_id"], sec["aws_secret_access_key"])


def sign(method, host, path, body=b"", headers=None, creds=None, when=None):
    """The headers of a request signed with SigV4 (botocore), at `when`
    (a UTC datetime, default now)."""
    req = AWSRequest(method=method, url="http://%s%s" % (host, path), data=body or b"",
                     headers=dict(headers or {}))
    auth = SigV4Auth(creds, SERVICE, REGION)
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch("botocore.auth.datetime") as dt:
            dt.datetime.utcnow.return_value = when
            dt.datetime.now.return_value = when
            auth.add_auth(req)
    return dict(req.headers)


def http_request(port, method, path, body=None, headers=None, timeout=30, creds=None,
                 when=None):
    """One HTTP request to 127.0.0.1:port, signed when creds are given:
    (status, lowercase headers, body bytes)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    headers = dict(headers or {})
    if creds is not None:
        headers = sign(method, "127.0.0.1:%d" % port, path, body, headers, creds, when)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


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


def busybox_images(root, **fields):
    """<root>/images holding the built busybox image: one hearthd's private image dir
    (fields, e.g. additionalOsCapabilities=["ALL"], are set in its image.json)."""
    d = os.path.join(root, "images", "busybox")
    os.makedirs(d, exist_ok=True)
    img = json.load(open(built(REAL_BUSYBOX, "the busybox guest image")))
    img.update(fields)
    with open(os.path.join(d, "image.json"), "w") as f:
        json.dump(img, f)
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
        # The same for the SSH ingress (default 7422).
        if "--ssh-listen" not in self.extra:
            self.ssh_port = free_port()
            self.extra += ["--ssh-listen", "127.0.0.1:%d" % self.ssh_port]
        else:
            v = self.extra[self.extra.index("--ssh-listen") + 1]
            self.ssh_port = None if v == "off" else int(v.rsplit(":", 1)[1])
        # A root hearthd's VMs route egress through the host (forwarding and
        # NAT on the machine): only tests that build their own lab uplink
        # (test_egress.py) give VMs a network.
        if "--egress-uplink" not in self.extra:
            self.extra += ["--egress-uplink", "none"]
        parent = os.path.dirname(state_dir.rstrip("/")) or "."
        # This daemon's own AWS files: hearthd writes profile [hearth] there.
        self.aws_dir = os.path.join(parent, "aws-%d" % self.port)
        self.aws_env = {"AWS_SHARED_CREDENTIALS_FILE": os.path.join(self.aws_dir, "credentials"),
                        "AWS_CONFIG_FILE": os.path.join(self.aws_dir, "config")}
        self.env = dict(os.environ, HEARTH_HOST_SHELL=HOST_SHELL,
                        **dict(self.aws_env, **(env or {})))
        self.creds = None  # botocore Credentials raw() signs with (read at first use)
        self.proc = None
        self.log_path = os.path.join(parent, "hearthd-%d.log" % self.port)

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

    # ---- credentials ----
    def credentials_file(self):
        """Where this daemon's clients find its key: the --credentials file,
        STATE/credentials with --no-aws-profile, else the profile hearthd wrote."""
        if "--credentials" in self.extra:
            return self.extra[self.extra.index("--credentials") + 1]
        if "--no-aws-profile" in self.extra:
            return os.path.join(self.state_dir, "credentials")
        return self.env["AWS_SHARED_CREDENTIALS_FILE"]

    def signing_creds(self):
        if self.creds is None:
            path = self.credentials_file()
            cp = configparser.ConfigParser()
            cp.read(path)
            profile = "hearth" if cp.has_section("hearth") else cp.sections()[0]
            self.creds = read_creds(path, profile)
        return self.creds

    def client_env(self, **extra):
        """Environment for a `hearth` CLI or an AWS SDK process using this daemon."""
        env = {"HEARTH_API": "http://127.0.0.1:%d" % self.port,
               "AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % self.port,
               "AWS_SHARED_CREDENTIALS_FILE": self.credentials_file(),
               "AWS_CONFIG_FILE": self.env["AWS_CONFIG_FILE"], "AWS_PROFILE": "hearth"}
        env.update(extra)
        return env

    def signed_headers(self, method, path, body=b"", headers=None):
        """Headers that sign one request to this daemon (for http.client or wrk)."""
        return sign(method, "127.0.0.1:%d" % self.port, path, body, headers,
                    self.signing_creds())

    # ---- HTTP ----
    def raw(self, method, path, body=None, headers=None, timeout=30, sign=True, creds=None,
            when=None):
        """One request, signed with this daemon's key (or creds; sign=False: unsigned)."""
        if sign and creds is None:
            creds = self.signing_creds()
        return http_request(self.port, method, path, body, headers, timeout,
                            creds if sign else None, when)

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
