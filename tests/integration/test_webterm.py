"""The web terminal (contrib/webterm, served by session/webterm.c on the
ingress): the HTTP answers checked over raw TLS, then the page driven in
Debian's headless chromium by tests/browser/webterm_test.mjs (playwright-core,
installed with `npm ci` from the committed package-lock.json) against a real
hearthd and a real busybox VM. Every wait has a deadline."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import subprocess
import time

import pytest

from conftest import npm_installed
from hearthd_harness import BUILD, Hearthd, busybox_images, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER = os.path.join(ROOT, "browser")
PLAYWRIGHT = os.path.join(BROWSER, "node_modules", "playwright-core")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
WEBTERM = os.path.join(BUILD, "share", "hearth", "webterm")

BOOT = 300      # the first run builds the image snapshot (boot under TCG)
WAIT = 20       # one HTTP answer
SCENARIO = 240  # one browser scenario, all its waits included




class Env:
    def __init__(self, hd, iport, vm_id):
        self.hd, self.iport, self.vm_id = hd, iport, vm_id
        self.ca = os.path.join(hd.state_dir, "tls", "ca.pem")
        with open(os.path.join(hd.state_dir, "token.key"), "rb") as f:
            self.key = f.read()

    def token(self):
        st, _, doc = self.hd.call("POST", "/microvms/%s/shell-auth-token" % self.vm_id,
                                  {"expirationInMinutes": 5})
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]

    def short_token(self, seconds):
        """A real shell token re-signed (protocol/token.h) to expire in `seconds`."""
        tok = self.token()
        _, payload, _ = tok.split(".")
        p = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        at = 3 + p[2] + 4 + 8  # version, kind, idlen, id, generation, issued
        p[at:at + 8] = struct.pack(">Q", int(time.time()) + seconds)
        signed = "hth1." + base64.urlsafe_b64encode(bytes(p)).rstrip(b"=").decode()
        mac = hmac.new(self.key, signed.encode(), hashlib.sha256).digest()
        return signed + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def url(self, token):
        return "https://localhost:%d/#vm=%s&token=%s" % (self.iport, self.vm_id, token)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    assert os.path.exists(os.path.join(WEBTERM, "index.html")), "web terminal not built (make)"
    root = str(tmp_path_factory.mktemp("webterm"))
    # No --webterm-dir: the default (next to the binary) is under test too.
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root)).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        yield Env(hd, hd.ingress_port, doc["microvmId"])
    finally:
        hd.close()


# ---- the HTTP answers ----

def request(env, method, path, host=None):
    """One request over TLS (trusting only hearthd's CA); returns (status, headers, body)."""
    ctx = ssl.create_default_context(cafile=env.ca)
    req = "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (method, path,
                                                  host or "localhost:%d" % env.iport)
    data = b""
    with socket.create_connection(("127.0.0.1", env.iport), timeout=WAIT) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(req.encode())
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:  # the server closes after one answer
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, body


def built(name):
    with open(os.path.join(WEBTERM, name), "rb") as f:
        return f.read()


FILES = {"/": ("index.html", "text/html"), "/index.html": ("index.html", "text/html"),
         "/webterm.js": ("webterm.js", "text/javascript"),
         "/webterm.css": ("webterm.css", "text/css"),
         "/xterm.js": ("xterm.js", "text/javascript"), "/xterm.css": ("xterm.css", "text/css"),
         "/addon-fit.js": ("addon-fit.js", "text/javascript")}


def test_serves_the_page_files(env):
    for path, (name, ctype) in FILES.items():
        st, h, body = request(env, "GET", path)
        assert st == 200, (path, st, body[:200])
        assert h["content-type"].split(";")[0] == ctype, (path, h)
        assert int(h["content-length"]) == len(body) and body == built(name), path
        assert h["x-content-type-options"] == "nosniff"
        assert h["cache-control"] == "no-cache"
        csp = h["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self';" in csp, csp
        assert "connect-src wss://*.localhost:%d;" % env.iport in csp, csp
        assert "frame-ancestors 'none'" in csp, csp
    # The query names no other file; a Host naming no VM (127.0.0.1) is the page too.
    st, _, body = request(env, "GET", "/?vm=x")
    assert st == 200 and body == built("index.html")
    st, _, body = request(env, "GET", "/", host="127.0.0.1:%d" % env.iport)
    assert st == 200 and body == built("index.html")


def test_head_and_methods(env):
    st, h, body = request(env, "HEAD", "/xterm.js")
    assert st == 200 and body == b"" and int(h["content-length"]) == len(built("xterm.js"))
    for m in ("POST", "PUT", "DELETE", "OPTIONS"):
        st, h, body = request(env, m, "/")
        assert st == 405, (m, st)
        assert h["allow"] == "GET, HEAD"
        assert json.loads(body)["message"]


def test_only_the_fixed_set(env):
    """Exact names only: nothing else under or outside --webterm-dir is reachable."""
    for path in ("/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/package.json",
                 "//index.html", "/index.html/", "/webterm.js.map", "/xterm.js.map",
                 "/./index.html", "/INDEX.HTML", "/node_modules/@xterm/xterm/lib/xterm.js",
                 "/etc/passwd", "index.html"):
        st, h, body = request(env, "GET", path)
        assert st in (400, 404), (path, st)
        if st == 404:
            assert h["content-type"] == "application/json" and json.loads(body)["message"], path
        assert b"root:" not in body


def test_paths_that_could_mean_another_file_are_400(env):
    """The page's routing decides on the raw path: one that could name another
    file once decoded or normalised is refused 400 with the reason, not looked up."""
    for path, why in (("/%2e%2e/%2e%2e/etc/passwd", "dot segment"), ("/./index.html", "dot segment"),
                      ("/x/../index.html", "dot segment"), ("//index.html", "empty path segment"),
                      ("/index.html%00", "NUL"), ("/%2Findex.html", "encoded '/'"),
                      ("/index.html;x", "parameters"), ("/%zz", "bad %-escape"),
                      ("/webterm.js%5c", "encoded '/' or '\\'")):
        st, h, body = request(env, "GET", path)
        assert st == 400, (path, st, body)
        assert h["content-type"] == "application/json" and why in json.loads(body)["message"], \
            (path, body)
    # A trailing '/' is a plain path: not a file here, so 404.
    assert request(env, "GET", "/index.html/")[0] == 404


def test_missing_files_disable_the_page(tmp_path):
    """A --webterm-dir without the page's files: hearthd says so and answers 404."""
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / "index.html").write_text("<p>only this one</p>")
    hd = Hearthd(str(tmp_path / "state"), str(tmp_path / "images"),
                 extra=["--webterm-dir", str(tmp_path / "wt")]).start()
    try:
        wait_port(hd.ingress_port)
        env = Env(hd, hd.ingress_port, "")
        st, h, body = request(env, "GET", "/")
        assert st == 404 and "--webterm-dir" in json.loads(body)["message"], (st, body)
        assert "web terminal disabled" in hd.read_log()
    finally:
        hd.close()



def test_reply_not_taken_within_60s_is_dropped(env):
    """A client that asks for xterm.js and does not read: hearthd gives a reply 60 s
    (WEBTERM_SEND_S) and then drops the connection, so a stalled client holds no
    connection and no buffer for long."""
    total = len(built("xterm.js"))
    ctx = ssl.create_default_context(cafile=env.ca)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Before connect: a small window, and a small MSS, which is what sizes hearthd's
    # send buffer (a loopback MSS of 64 KiB would let it take the whole file at once).
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    raw.settimeout(WAIT)
    raw.connect(("127.0.0.1", env.iport))
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(b"GET /xterm.js HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % env.iport)
        time.sleep(70)
        data = b""
        deadline = time.monotonic() + WAIT
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, ConnectionError):
            pass  # a reset after what was buffered: dropped all the same
        else:
            assert time.monotonic() < deadline, "still open after 60 s unread"
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:100]
    assert 0 < len(body) < total, (len(body), total)
    # Other clients were served meanwhile and still are.
    st, _, body = request(env, "GET", "/xterm.js")
    assert st == 200 and len(body) == total

# ---- the page in chromium ----



def nss_home(env):
    """A HOME whose NSS database (what Chromium on Linux trusts) holds hearthd's CA, so the
    browser verifies the page's and the shell endpoint's certificates for real."""
    home = os.path.join(os.path.dirname(env.hd.state_dir), "nss-home")
    db = os.path.join(home, ".pki", "nssdb")
    if not os.path.exists(os.path.join(db, "cert9.db")):
        os.makedirs(db, exist_ok=True)
        subprocess.run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], check=True,
                       timeout=30)
        subprocess.run(["certutil", "-A", "-d", "sql:" + db, "-n", "hearth", "-t", "C,,",
                        "-i", env.ca], check=True, timeout=30)
    return home


def browse(env, scenario, token=None, fresh=None):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is required (Debian package chromium)" % CHROMIUM)
    npm_installed(BROWSER, PLAYWRIGHT)
    url = env.url(token or env.token())
    r = subprocess.run(["node", "webterm_test.mjs", scenario, url] + ([fresh] if fresh else []),
                       cwd=BROWSER,
                       env=dict(os.environ, CHROMIUM=CHROMIUM, WEBTERM_NSS_HOME=nss_home(env)),
                       capture_output=True, text=True, timeout=SCENARIO)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:] + "\n--- hearthd log ---\n" + env.hd.read_log()
    assert "FAIL" not in out and re.search(r"^ok: ", out, re.M), out
    print(out)  # the steps, shown with pytest -s
    return out


def test_browser_types_and_resizes(env):
    """hello-42 typed and read back; a smaller window changes `stty size`."""
    browse(env, "basic")


def test_browser_reconnects_without_duplicates(env):
    """After a dropped connection the page attaches (hearth.v1) to the same shell
    and shows the output printed meanwhile, once."""
    browse(env, "reconnect")


def test_browser_copy_paste(env):
    """Ctrl+Shift+V pastes into the shell; Ctrl+Shift+C copies xterm's selection."""
    browse(env, "clipboard")


def test_browser_shows_exit_code(env):
    browse(env, "exit")


def test_browser_token_expiry(env):
    """The page shows the time left, and once the token has expired it says how to
    get a new one instead of retrying; a new token entered in the form reattaches."""
    browse(env, "expired", token=env.short_token(12), fresh=env.token())
