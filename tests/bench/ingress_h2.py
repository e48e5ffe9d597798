"""The HTTP/2 and gRPC part of ingress_bench.py: the same apps reached through
hearthd's endpoint (TLS, ALPN h2, per-stream auth, h2c to the app over an agent
tcp channel) and through Debian's nghttpx on loopback (TLS, ALPN h2, h2c to
the app), in the same run.

  apps        nghttpd --no-tls serving one H2_BYTES file (h2c only, so hearth
              is asked for h2 upstream with x-aws-proxy-force-h2 and nghttpx
              with backend proto=h2); a Node http server answering H2_BYTES
              (HTTP/1.1, the default upstream of both: hearth opens one agent
              tcp channel per stream, nghttpx keeps a pool of keep-alive
              connections); tests/integration/grpc_app.py's service
              (python3-grpcio) in its own process on 127.0.0.1
  rate        h2load (-n H2_N -c H2_C -m H2_M, one thread): requests/s, and
              mean/p99 of each request's time to the end of its response
              from h2load's per-request log; every request must be a 2xx over
              ALPN h2, else the run fails
  gRPC unary  a python3-grpcio client in its own process, one TLS channel
              verified with only the front's CA: GRPC_N sequential calls
              after GRPC_W warm-up calls, p50/p99/mean
Both fronts get the same request bytes (the x-aws-proxy-* headers too: nghttpx
passes them to the app, hearthd strips them). nghttpx runs one worker (-n1),
as hearthd serves its front end on one event loop.

Run as a program it is one of the helper processes:
  ingress_h2.py grpc-app PORT           the gRPC app on 127.0.0.1:PORT
  ingress_h2.py grpc-client JSON        the latency client; prints a key=value line
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
INTEG = os.path.join(HERE, "..", "integration")

H2_N = int(os.environ.get("INGRESS_BENCH_H2_N", "20000"))
H2_C = int(os.environ.get("INGRESS_BENCH_H2_C", "8"))
H2_M = int(os.environ.get("INGRESS_BENCH_H2_M", "16"))
H2_BYTES = int(os.environ.get("INGRESS_BENCH_H2_BYTES", "100"))
GRPC_N = int(os.environ.get("INGRESS_BENCH_GRPC_N", "2000"))
GRPC_W = int(os.environ.get("INGRESS_BENCH_GRPC_WARMUP", "200"))
TOOLS = ("h2load", "nghttpd", "nghttpx", "node", "openssl")
H1_APP = ("const b = Buffer.alloc(%d, 120); require('http').createServer((q, r) => {"
          "r.writeHead(200, {'content-type': 'text/plain', 'content-length': b.length});"
          "r.end(b); }).listen(+process.argv[1], '127.0.0.1');")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15):
    """Until 127.0.0.1:port accepts; proc (its server) must not have exited."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("%s exited (%d)" % (proc.args[0], proc.returncode))
            if time.monotonic() > deadline:
                raise RuntimeError("%s: nothing on port %d after %ds" %
                                   (proc.args[0], port, timeout))
            time.sleep(0.05)


def missing_tools():
    return [t for t in TOOLS if not shutil.which(t)]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else -1


class Apps:
    """nghttpd, the gRPC app, the HTTP/1.1 app and nghttpx in front of them
    (TLS with a fresh self-signed P-256 certificate for `localhost`, the key
    type of hearthd's leaves). They stay in the bench's process group, so run.sh's deadline
    reaches them too; close() ends them by pid."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        os.makedirs(root, exist_ok=True)
        self.key, self.cert = os.path.join(root, "nx.key"), os.path.join(root, "nx.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out",
                        self.cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost"], check=True, capture_output=True,
                       timeout=60)
        docroot = os.path.join(root, "www")
        os.makedirs(docroot, exist_ok=True)
        with open(os.path.join(docroot, "f.txt"), "wb") as f:
            f.write(b"x" * (H2_BYTES - 1) + b"\n")
        self.path, self.h1_path = "/f.txt", "/h1/f.txt"
        self.web_port, self.grpc_port, self.nx_port = free_port(), free_port(), free_port()
        self.h1_port = free_port()
        self.web = self._spawn(["nghttpd", "--no-tls", "-a", "127.0.0.1", "-d", docroot,
                                str(self.web_port)], "nghttpd")
        self.grpc = self._spawn([sys.executable, os.path.abspath(__file__), "grpc-app",
                                 str(self.grpc_port)], "grpc-app")
        self.h1 = self._spawn(["node", "-e", H1_APP % H2_BYTES, str(self.h1_port)], "h1-app")
        # gRPC by path to its app, /h1/ to the HTTP/1.1 app, everything else
        # to nghttpd.
        self.nx = self._spawn([
            "nghttpx", "--conf=/dev/null", "--workers=1", "--no-ocsp",
            "--frontend=127.0.0.1,%d" % self.nx_port,
            "--backend=127.0.0.1,%d;/t.T/;proto=h2" % self.grpc_port,
            "--backend=127.0.0.1,%d;/h1/" % self.h1_port,
            "--backend=127.0.0.1,%d;;proto=h2" % self.web_port,
            "--errorlog-file=" + os.path.join(root, "nghttpx.err"),
            "--pid-file=" + os.path.join(root, "nghttpx.pid"),
            self.key, self.cert], "nghttpx")
        for p, port in ((self.web, self.web_port), (self.grpc, self.grpc_port),
                        (self.h1, self.h1_port), (self.nx, self.nx_port)):
            wait_port(port, p, 30)

    def _spawn(self, argv, name):
        log = open(os.path.join(self.root, name + ".log"), "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(p)
        return p

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self.procs = []


class Front:
    """One TLS front (hearthd's endpoint or nghttpx): where to connect, the
    :authority / SNI name, the CA that verifies it, the request headers."""

    def __init__(self, name, port, host, ca, headers):
        self.name, self.port, self.host, self.ca, self.headers = name, port, host, ca, headers


def fronts(apps, hd, vm_id, tok, ca):
    """(hearth, nghttpx) for the h2c web app, the HTTP/1.1 app and the gRPC app."""
    def hdrs(port, force):
        h = [("x-aws-proxy-auth", tok), ("x-aws-proxy-port", str(port))]
        return h + ([("x-aws-proxy-force-h2", "true")] if force else [])
    name = "%s.localhost" % vm_id
    web = (Front("hearth", hd.ingress_port, name, ca, hdrs(apps.web_port, True)),
           Front("nghttpx", apps.nx_port, "localhost", apps.cert, hdrs(apps.web_port, True)))
    h1 = (Front("hearth", hd.ingress_port, name, ca, hdrs(apps.h1_port, False)),
          Front("nghttpx", apps.nx_port, "localhost", apps.cert, hdrs(apps.h1_port, False)))
    grpc_ = (Front("hearth", hd.ingress_port, name, ca, hdrs(apps.grpc_port, False)),
             Front("nghttpx", apps.nx_port, "localhost", apps.cert,
                   hdrs(apps.grpc_port, False)))
    return web, h1, grpc_


def h2load(front, path, n, log, timeout=180):
    """One h2load run against front: {rps, mean_us, p99_us, n}. Fails unless
    ALPN gave h2 and all n requests answered 2xx."""
    argv = ["h2load", "-n", str(n), "-c", str(H2_C), "-m", str(H2_M), "-t", "1",
            "--connect-to", "127.0.0.1:%d" % front.port, "--log-file", log]
    for k, v in front.headers:
        argv += ["-H", "%s: %s" % (k, v)]
    argv.append("https://%s:%d%s" % (front.host, front.port, path))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    out = r.stdout
    if r.returncode != 0 or "Application protocol: h2" not in out:
        raise RuntimeError("h2load (%d): %s" % (r.returncode, (out + r.stderr)[-400:]))
    stats = {}
    for line in out.splitlines():
        if line.startswith("finished in"):
            stats["rps"] = float(line.split(",")[1].split()[0])
        elif line.startswith("status codes:"):
            stats["2xx"] = int(line.split(":")[1].split()[0])
    if stats.get("2xx") != n or "rps" not in stats:
        raise RuntimeError("h2load: not every request answered 2xx: %s" %
                           [ln for ln in out.splitlines() if "status codes" in ln or
                            ln.startswith("requests:")])
    lat = []
    with open(log) as f:
        for line in f:
            cols = line.split()
            if len(cols) >= 3:
                lat.append(int(cols[2]))
    os.unlink(log)
    if len(lat) != n:
        raise RuntimeError("h2load log: %d of %d requests" % (len(lat), n))
    return {"rps": stats["rps"], "mean_us": statistics.mean(lat), "p99_us": pct(lat, 0.99),
            "n": n}


def grpc_client_argv(front, n, warmup):
    cfg = {"port": front.port, "host": front.host, "ca": front.ca,
           "md": front.headers, "n": n, "warmup": warmup}
    return [sys.executable, os.path.abspath(__file__), "grpc-client", json.dumps(cfg)]


def grpc_client(cfg):
    """GRPC_N sequential unary calls on one verified TLS channel."""
    import grpc
    sys.path.insert(0, INTEG)
    from grpc_app import SVC
    with open(cfg["ca"], "rb") as f:
        creds = grpc.ssl_channel_credentials(root_certificates=f.read())
    ch = grpc.secure_channel("127.0.0.1:%d" % cfg["port"], creds, options=[
        ("grpc.ssl_target_name_override", cfg["host"]),
        ("grpc.default_authority", "%s:%d" % (cfg["host"], cfg["port"]))])
    md = tuple((k, v) for k, v in cfg["md"])
    unary = ch.unary_unary(SVC + "Unary")
    lat = []
    try:
        for i in range(cfg["warmup"] + cfg["n"]):
            msg = b"m%d" % i
            t0 = time.perf_counter()
            got = unary(msg, metadata=md, timeout=30)
            dt = time.perf_counter() - t0
            if got != b"echo:" + msg:
                raise SystemExit("grpc-client: call %d answered %r" % (i, got[:40]))
            if i >= cfg["warmup"]:
                lat.append(dt * 1e6)
    finally:
        ch.close()
    print("grpc n=%d p50_us=%.1f p99_us=%.1f mean_us=%.1f" %
          (len(lat), statistics.median(lat), pct(lat, 0.99), statistics.mean(lat)))


def grpc_app(port):
    """grpc_app.py's service on loopback only (its own main binds every address,
    as it must inside a VM)."""
    from concurrent import futures

    import grpc
    sys.path.insert(0, INTEG)
    from grpc_app import Seen, handlers
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    srv.add_generic_rpc_handlers((handlers(Seen()),))
    srv.add_insecure_port("127.0.0.1:%d" % port)
    srv.start()
    srv.wait_for_termination(3600)  # a deadline even if nobody stops it


def print_table(m, reps):
    """The hearth-vs-nghttpx table from Figures.m."""
    from benchfig import row
    print("\nHTTP/2 and gRPC through the endpoint vs nghttpx %s on loopback, same run, "
          "median of %d repetitions" % (nghttpx_version(), reps))
    print("h2load -n %d -c %d -m %d -t 1, ALPN h2, %d-byte responses; h2c app: nghttpd "
          "(force-h2 / proto=h2), HTTP/1.1 app: Node http (the default upstream); gRPC: %d "
          "sequential unary calls, python3-grpcio, verified TLS\n"
          % (H2_N, H2_C, H2_M, H2_BYTES, GRPC_N))
    print("  %-34s %10s %10s %8s" % ("", "hearth", "nghttpx", "ratio"))
    for app, lab in (("h2c app", "h2"), ("HTTP/1.1 app", "h1")):
        row("%s: h2 rate (requests/s)" % app, m(lab + "-hearth", "rps"),
            m(lab + "-nghttpx", "rps"), "higher is better")
        row("%s: latency mean (us)" % app, m(lab + "-hearth", "mean_us"),
            m(lab + "-nghttpx", "mean_us"),
            "lower is better (%d in flight)" % (H2_C * H2_M))
        row("%s: latency p99 (us)" % app, m(lab + "-hearth", "p99_us"),
            m(lab + "-nghttpx", "p99_us"), "lower is better")
    row("gRPC unary p50 (us)", m("grpc-hearth", "p50_us"), m("grpc-nghttpx", "p50_us"),
        "lower is better")
    row("gRPC unary p99 (us)", m("grpc-hearth", "p99_us"), m("grpc-nghttpx", "p99_us"),
        "lower is better")


def nghttpx_version():
    try:
        r = subprocess.run(["nghttpx", "--version"], capture_output=True, text=True, timeout=10)
        return r.stdout.split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "grpc-app":
        grpc_app(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "grpc-client":
        grpc_client(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: ingress_h2.py grpc-app PORT | grpc-client JSON")
