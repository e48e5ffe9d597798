"""The endpoint as verifying clients see it (issue 15, spec/ingress.md): every client is
given hearthd's CA and nothing else, and keeps certificate and host name checks on.
By name: https://<id>.localhost:PORT/ (hearthd mints a leaf for exactly that name, chosen by
SNI), dialled at 127.0.0.1 because a stock resolver does not know <id>.localhost. By address:
https://127.0.0.1:PORT/ (the default certificate's IP name), routed by the VM the token is
bound to. Clients: Python urllib/http.client and websockets, Node https, curl, headless
Chromium trusting the CA through an NSS database, and the official SDK for the service's
connector names. One hearthd and one VM (tests/guestapp on 8080) for the module."""
import asyncio
import json
import os
import re
import ssl
import subprocess
import http.client
import urllib.error
import urllib.request

import pytest
import websockets

from conftest import hearth_bin, npm_installed
from hearthd_harness import HEARTHD, Hearthd, busybox_images
from test_proxy import app_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER = os.path.join(ROOT, "browser")
PLAYWRIGHT = os.path.join(BROWSER, "node_modules", "playwright-core")
CONF = os.path.join(ROOT, "conformance")
SDK = os.path.join(CONF, "node_modules", "@aws-sdk", "client-lambda-microvms")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

BOOT = 300   # the first run builds the image snapshot (boot under TCG)
WAIT = 30    # one request through the proxy
HELLO = b"hello from port 8080\n"
SVC = "arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:"


class Env:
    def __init__(self, hd, vm_id):
        self.hd, self.vm_id, self.port = hd, vm_id, hd.ingress_port
        self.ca = os.path.join(hd.state_dir, "tls", "ca.pem")

    def name(self, vm_id=None):
        return "%s.localhost" % (vm_id or self.vm_id)

    def token(self, kind="auth-token", vm_id=None):
        body = {"expirationInMinutes": 10}
        if kind == "auth-token":
            body["allowedPorts"] = [{"port": 8080}]
        st, _, doc = self.hd.call("POST", "/microvms/%s/%s" % (vm_id or self.vm_id, kind), body)
        assert st == 200, doc
        return doc["authToken"]["X-aws-proxy-auth"]

    def ctx(self):
        """Only hearthd's CA; host names checked (Python's defaults)."""
        c = ssl.create_default_context(cafile=self.ca)
        assert c.verify_mode == ssl.CERT_REQUIRED and c.check_hostname
        return c


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("endpoint"))
    hd = Hearthd(os.path.join(root, "state"), app_image(root)).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        assert doc["endpoint"] == "https://%s.localhost:%d" % (doc["microvmId"], hd.ingress_port)
        yield Env(hd, doc["microvmId"])
    finally:
        hd.close()


class ByName(http.client.HTTPSConnection):
    """https://<id>.localhost:PORT/ dialled at 127.0.0.1 (no resolver needed); SNI and
    the checked name are the URL's host."""

    def connect(self):
        import socket
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def peer_names(sock):
    return [v for k, v in sock.getpeercert().get("subjectAltName", ()) if k == "DNS"]


# ---- Python ----

def test_python_by_name_gets_a_leaf_for_exactly_that_name(env):
    c = ByName(env.name(), env.port, context=env.ctx(), timeout=WAIT)
    try:
        c.request("GET", "/", headers={"X-aws-proxy-auth": env.token()})
        r = c.getresponse()
        assert (r.status, r.read()) == (200, HELLO)
        assert peer_names(c.sock) == [env.name()]
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        c.close()


def test_python_urllib_by_address_routes_by_token(env):
    req = urllib.request.Request("https://127.0.0.1:%d/" % env.port,
                                 headers={"X-aws-proxy-auth": env.token()})
    with urllib.request.urlopen(req, context=env.ctx(), timeout=WAIT) as r:
        assert (r.status, r.read()) == (200, HELLO)
    # Without a token, or with a bad one, the address names no VM: nothing is reached.
    bad = urllib.request.Request("https://127.0.0.1:%d/" % env.port,
                                 headers={"X-aws-proxy-auth": "hth1.AAAA.BBBB"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, context=env.ctx(), timeout=WAIT)
    assert e.value.code == 403


def test_python_urllib_localhost_routes_by_token(env):
    req = urllib.request.Request("https://localhost:%d/" % env.port,
                                 headers={"X-aws-proxy-auth": env.token()})
    with urllib.request.urlopen(req, context=env.ctx(), timeout=WAIT) as r:
        assert (r.status, r.read()) == (200, HELLO)


def shell_protos(tok):
    return ["lambda-microvms", "lambda-microvms.authentication." + tok]


def test_websockets_shell_by_name_and_by_address(env):
    async def go():
        tok = env.token("shell-auth-token")
        async with websockets.connect("wss://%s:%d/" % (env.name(), env.port),
                                      host="127.0.0.1", port=env.port, ssl=env.ctx(),
                                      subprotocols=shell_protos(tok),
                                      open_timeout=WAIT) as ws:
            assert ws.subprotocol == "lambda-microvms"
        async with websockets.connect("wss://127.0.0.1:%d/" % env.port, ssl=env.ctx(),
                                      subprotocols=shell_protos(tok),
                                      open_timeout=WAIT) as ws:
            assert ws.subprotocol == "lambda-microvms"
    asyncio.run(asyncio.wait_for(go(), 2 * WAIT))


def test_no_leaf_for_a_vm_that_does_not_exist(env):
    """An SNI name of no VM gets the default certificate (its wildcard *.localhost is what
    verifying clients refuse), so nothing is minted for names a client makes up."""
    ghost = "mvm-00000000deadbeef.localhost"
    out = subprocess.run(
        "openssl s_client -connect 127.0.0.1:%d -servername %s </dev/null 2>/dev/null "
        "| openssl x509 -noout -ext subjectAltName" % (env.port, ghost),
        shell=True, capture_output=True, text=True, timeout=WAIT).stdout
    assert "DNS:*.localhost" in out and ghost not in out, out
    c = ByName(ghost, env.port, context=env.ctx(), timeout=WAIT)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect()
    # The VM's own name, for comparison, is served its leaf.
    out = subprocess.run(
        "openssl s_client -connect 127.0.0.1:%d -servername %s </dev/null 2>/dev/null "
        "| openssl x509 -noout -ext subjectAltName -issuer -enddate" % (env.port, env.name()),
        shell=True, capture_output=True, text=True, timeout=WAIT).stdout
    assert "DNS:%s" % env.name() in out and "*.localhost" not in out, out
    assert "hearth local CA" in out, out


# ---- curl ----

def curl(env, url, *args):
    cmd = ["curl", "-sS", "--max-time", str(WAIT), "--cacert", env.ca, "-w", "\n%{http_code}",
           "-H", "X-aws-proxy-auth: " + env.token()] + list(args) + [url]
    p = subprocess.run(cmd, capture_output=True, timeout=WAIT + 10)
    assert p.returncode == 0, (cmd, p.stderr)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), body


def test_curl_by_name_and_by_address(env):
    url = "https://%s:%d/" % (env.name(), env.port)
    assert curl(env, url, "--resolve", "%s:%d:127.0.0.1" % (env.name(), env.port)) == \
        (200, HELLO)
    assert curl(env, "https://127.0.0.1:%d/" % env.port) == (200, HELLO)


# ---- Node ----

NODE_HTTPS = r"""
const https = require('https'), fs = require('fs');
const [ca, port, name, tok] = process.argv.slice(1);
function get(opts) {
  return new Promise((ok, fail) => {
    const req = https.get(Object.assign({ port, path: '/', ca: fs.readFileSync(ca),
      headers: { 'X-aws-proxy-auth': tok }, timeout: 30000 }, opts), (res) => {
      let body = '';
      const san = res.socket.getPeerCertificate().subjectaltname;
      res.on('data', (d) => body += d);
      res.on('end', () => ok({ status: res.statusCode, body, san }));
    });
    req.on('error', fail);
  });
}
(async () => {
  // By name: the connection goes to 127.0.0.1, SNI and the checked name are <id>.localhost.
  const a = await get({ host: name, lookup: (h, o, cb) => o && o.all
      ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4) });
  const b = await get({ host: '127.0.0.1' });
  console.log(JSON.stringify([a, b]));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def test_node_https_by_name_and_by_address(env):
    p = subprocess.run(["node", "-e", NODE_HTTPS, env.ca, str(env.port), env.name(),
                        env.token()], capture_output=True, text=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    a, b = json.loads(p.stdout)
    assert (a["status"], a["body"], a["san"]) == (200, HELLO.decode(), "DNS:" + env.name())
    assert (b["status"], b["body"]) == (200, HELLO.decode())
    assert "IP Address:127.0.0.1" in b["san"]


NODE_WS = r"""
const [port, tok] = process.argv.slice(1);
// Node 20's built-in (undici) WebSocket and fetch trust NODE_EXTRA_CA_CERTS.
const ws = new WebSocket(`wss://127.0.0.1:${port}/`,
                         ['lambda-microvms', 'lambda-microvms.authentication.' + tok.split(' ')[0]]);
const t = setTimeout(() => { console.error('timeout'); process.exit(1); }, 30000);
ws.onerror = (e) => { console.error('error', e.message || e); process.exit(1); };
ws.onopen = async () => {
  const r = await fetch(`https://127.0.0.1:${port}/`,
                        { headers: { 'X-aws-proxy-auth': tok.split(' ')[1] } });
  console.log(JSON.stringify({ protocol: ws.protocol, status: r.status, body: await r.text() }));
  clearTimeout(t);
  ws.close();
};
"""


def test_node_websocket_and_fetch_by_address(env):
    """Node 20's built-in WebSocket (--experimental-websocket) and fetch, trusting the CA
    through NODE_EXTRA_CA_CERTS; by address (Node asks the resolver for names)."""
    toks = env.token("shell-auth-token") + " " + env.token()
    p = subprocess.run(["node", "--experimental-websocket", "-e", NODE_WS, str(env.port), toks],
                       env=dict(os.environ, NODE_EXTRA_CA_CERTS=env.ca), capture_output=True,
                       text=True, timeout=WAIT + 10)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"protocol": "lambda-microvms", "status": 200, "body": HELLO.decode()}, out
    # Verification is on: without the CA the same client is refused.
    e = dict(os.environ)
    e.pop("NODE_EXTRA_CA_CERTS", None)
    p = subprocess.run(["node", "--experimental-websocket", "-e", NODE_WS, str(env.port), toks],
                       env=e, capture_output=True, text=True, timeout=WAIT + 10)
    assert p.returncode != 0 and "lambda-microvms" not in p.stdout, p.stdout


# ---- Chromium, trusting the CA through an NSS database ----

CHROMIUM_JS = r"""
import { chromium } from 'playwright-core';
const [exe, home, urls, tok] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: exe, headless: true,
  env: Object.assign({}, process.env, { HOME: home }),
  args: ['--no-sandbox', '--disable-background-networking', '--disable-dev-shm-usage'] });
const out = [];
try {
  const ctx = await browser.newContext({ extraHTTPHeaders: { 'X-aws-proxy-auth': tok } });
  const page = await ctx.newPage();
  for (const url of JSON.parse(urls)) {
    try {
      const r = await page.goto(url, { timeout: 30000 });
      out.push({ url, status: r.status(), body: await r.text() });
    } catch (e) {
      out.push({ url, error: String(e).split('\n')[0] });
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
"""


def test_chromium_with_the_ca_in_nss_db(env, tmp_path):
    npm_installed(BROWSER, PLAYWRIGHT)
    home = str(tmp_path / "home")
    db = os.path.join(home, ".pki", "nssdb")
    os.makedirs(db)
    subprocess.run(["certutil", "-N", "-d", "sql:" + db, "--empty-password"], check=True,
                   timeout=30)
    subprocess.run(["certutil", "-A", "-d", "sql:" + db, "-n", "hearth", "-t", "C,,",
                    "-i", env.ca], check=True, timeout=30)
    script = os.path.join(BROWSER, "endpoint_tls_test.mjs")
    with open(script, "w") as f:
        f.write(CHROMIUM_JS)
    try:
        urls = ["https://%s:%d/" % (env.name(), env.port), "https://127.0.0.1:%d/" % env.port,
                "https://mvm-00000000deadbeef.localhost:%d/" % env.port]
        p = subprocess.run(["node", script, CHROMIUM, home, json.dumps(urls), env.token()],
                           cwd=BROWSER, capture_output=True, text=True, timeout=180)
    finally:
        os.unlink(script)
    assert p.returncode == 0, p.stderr[-3000:]
    by_name, by_addr, ghost = json.loads(p.stdout.strip().splitlines()[-1])
    assert (by_name.get("status"), by_name.get("body")) == (200, HELLO.decode()), by_name
    assert (by_addr.get("status"), by_addr.get("body")) == (200, HELLO.decode()), by_addr
    # Real verification: the made-up name gets the wildcard certificate, which fails.
    assert "ERR_CERT" in ghost.get("error", ""), ghost


# ---- connectors ----

def run_with(env, connectors):
    fields = {"imageIdentifier": "busybox"}
    if connectors is not None:
        fields["ingressNetworkConnectors"] = connectors
    st, _, doc = env.hd.run(**fields)
    return st, doc


def mint(env, vm_id, kind):
    body = {"expirationInMinutes": 5}
    if kind == "auth-token":
        body["allowedPorts"] = [{"port": 8080}]
    return env.hd.call("POST", "/microvms/%s/%s" % (vm_id, kind), body)


def terminate(env, vm_id):
    env.hd.call("POST", "/microvms/%s/terminate" % vm_id)


@pytest.mark.parametrize("connectors,proxy,shell", [
    ([SVC + "HTTP_INGRESS"], True, False),
    ([SVC + "SHELL_INGRESS"], False, True),
    ([SVC + "HTTP_INGRESS", SVC + "SHELL_INGRESS"], True, True),
    (["HTTP_INGRESS", "SHELL_INGRESS"], True, True),
    (["arn:aws-cn:lambda:cn-north-1:aws:network-connector:aws-network-connector:HTTP_INGRESS"],
     True, False),
    (["arn:hearth:lambda:local:aws:network-connector:ALL_INGRESS"], True, True),
    (["NO_INGRESS"], False, False),
    (None, True, True),
])
def test_connector_names_decide_the_token_kinds(env, connectors, proxy, shell):
    st, doc = run_with(env, connectors)
    assert st == 200, doc
    vid = doc["microvmId"]
    try:
        applied = env.hd.get(vid)[2]["ingressNetworkConnectors"]
        if connectors is None:
            assert applied == ["arn:hearth:lambda:local:aws:network-connector:"
                               "aws-network-connector:HTTP_INGRESS",
                               "arn:hearth:lambda:local:aws:network-connector:"
                               "aws-network-connector:SHELL_INGRESS"]
        else:
            assert applied == [c if c.startswith("arn:") else
                               "arn:hearth:lambda:local:aws:network-connector:"
                               "aws-network-connector:" + c for c in connectors]
        for kind, want in (("auth-token", proxy), ("shell-auth-token", shell)):
            st, err, d = mint(env, vid, kind)
            assert (st == 200) == want, (kind, st, d)
            if not want:
                assert err == "ValidationException" and "INGRESS" in d["message"], d
    finally:
        terminate(env, vid)


@pytest.mark.parametrize("bad", [
    "HTTPS_INGRESS", "arn:aws:lambda:us-east-1:123456789012:network-connector:HTTP_INGRESS",
    "arn:aws:lambda:us-east-1:aws:network-connector:other:HTTP_INGRESS",
    "arn:aws:s3:us-east-1:aws:network-connector:aws-network-connector:HTTP_INGRESS",
    "arn::lambda:us-east-1:aws:network-connector:aws-network-connector:HTTP_INGRESS",
    "http_ingress",
])
def test_unknown_ingress_connectors_are_refused(env, bad):
    st, doc = run_with(env, [bad])
    assert st == 400 and "ingress network connector" in doc["message"], doc


SDK_JS = r"""
import { LambdaMicrovmsClient, RunMicrovmCommand, CreateMicrovmAuthTokenCommand,
  CreateMicrovmShellAuthTokenCommand, GetMicrovmCommand, TerminateMicrovmCommand }
  from '@aws-sdk/client-lambda-microvms';
const P = 'arn:aws:lambda:us-east-1:aws:network-connector:aws-network-connector:';
const c = new LambdaMicrovmsClient({ region: 'us-east-1' });
const vm = await c.send(new RunMicrovmCommand({ imageIdentifier: 'busybox',
  ingressNetworkConnectors: [P + 'HTTP_INGRESS', P + 'SHELL_INGRESS'] }));
const id = vm.microvmId;
const get = await c.send(new GetMicrovmCommand({ microvmIdentifier: id }));
const a = await c.send(new CreateMicrovmAuthTokenCommand({ microvmIdentifier: id,
  expirationInMinutes: 5, allowedPorts: [{ port: 8080 }] }));
const s = await c.send(new CreateMicrovmShellAuthTokenCommand({ microvmIdentifier: id,
  expirationInMinutes: 5 }));
console.log(JSON.stringify({ id, applied: get.ingressNetworkConnectors,
  auth: a.authToken['X-aws-proxy-auth'], shell: s.authToken['X-aws-proxy-auth'] }));
"""


def test_sdk_http_and_shell_ingress_give_both_token_kinds(env):
    npm_installed(CONF, SDK)
    script = os.path.join(CONF, "endpoint_sdk_test.mjs")
    with open(script, "w") as f:
        f.write(SDK_JS)
    try:
        e = dict(os.environ, **env.hd.client_env())
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            e.pop(k, None)
        p = subprocess.run(["node", script], cwd=CONF, env=e, capture_output=True, text=True,
                           timeout=120)
    finally:
        os.unlink(script)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    try:
        assert out["applied"] == [SVC + "HTTP_INGRESS", SVC + "SHELL_INGRESS"]
        assert out["auth"].startswith("hth1.") and out["shell"].startswith("hth1.")
        doc = env.hd.wait_state(out["id"], ("RUNNING", "TERMINATED"), BOOT)
        assert doc["state"] == "RUNNING", doc
        # Both work on the endpoint, by address: the tokens name the VM.
        assert curl(env, "https://127.0.0.1:%d/" % env.port, "-H",
                    "X-aws-proxy-auth: " + out["auth"])[0] == 200

        async def shell():
            async with websockets.connect("wss://%s:%d/" % (env.name(out["id"]), env.port),
                                          host="127.0.0.1", port=env.port, ssl=env.ctx(),
                                          subprotocols=shell_protos(out["shell"]),
                                          open_timeout=WAIT) as ws:
                assert ws.subprotocol == "lambda-microvms"
        asyncio.run(asyncio.wait_for(shell(), WAIT))
    finally:
        terminate(env, out["id"])


def test_hearth_cli_shell_verifies_the_leaf(env):
    """`hearth exec` dials 127.0.0.1 for <id>.localhost and checks the exact name."""
    p = subprocess.run([hearth_bin("hearth"), "exec", "--cacert", env.ca, env.vm_id, "--",
                        "echo", "through-the-leaf"],
                       env=dict(os.environ, **env.hd.client_env()), capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and "through-the-leaf" in p.stdout, (p.stdout, p.stderr)
    assert not re.search(r"(?i)certificate", p.stderr), p.stderr


def test_endpoint_domain(tmp_path):
    """--endpoint-domain: endpoints, leaves and Host routing use the operator's domain."""
    root = str(tmp_path)
    bad = subprocess.run([HEARTHD, "--endpoint-domain", "*.vms.test", "--state-dir",
                          os.path.join(root, "bad")], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 2 and "--endpoint-domain" in bad.stderr, bad.stderr
    hd = Hearthd(os.path.join(root, "state"), busybox_images(root),
                 extra=["--endpoint-domain", "vms.test"]).start()
    try:
        hd.wait_ingress()
        doc = hd.run_running(BOOT)
        vid, port = doc["microvmId"], hd.ingress_port
        name = "%s.vms.test" % vid
        assert doc["endpoint"] == "https://%s:%d" % (name, port)
        e = Env(hd, vid)
        c = ByName(name, port, context=e.ctx(), timeout=WAIT)
        try:
            c.request("GET", "/", headers={"X-aws-proxy-auth": e.token()})
            assert peer_names(c.sock) == [name]
            r = c.getresponse()
            r.read()
            # The proxy took it (busybox listens on no 8080): not the web terminal.
            assert r.status == 502, r.status
        finally:
            c.close()
        # <id>.localhost is not an endpoint name under this domain: no leaf for it.
        c = ByName("%s.localhost" % vid, port, context=e.ctx(), timeout=WAIT)
        with pytest.raises(ssl.SSLCertVerificationError):
            c.connect()
    finally:
        hd.close()
