"""HTTP/2 to the application in a real VM (slow): an image built FROM
debian:bookworm (apt-get through --egress-uplink host, as test_egress_apt)
with python3-grpcio and nghttp2-server runs grpc_app.py and an h2c nghttpd;
python3-grpcio and nghttp on the host reach them through the endpoint (h2 by
ALPN, only hearthd's CA). One VM serves every check."""
import os
import re
import shutil
import subprocess
import time

import grpc
import pytest

from conftest import guest_image
from grpc_app import SVC
from hearthd_harness import Hearthd
from test_egress_apt import host_uplink  # noqa: F401 (a fixture)
from test_image_build import BOOT, ROLE, build_log, put_artifact, wait_version

HERE = os.path.dirname(os.path.abspath(__file__))
DEBIAN = "arn:hearth:lambda:local:aws:microvm-image:debian-12"
GRPC_PORT, NGHTTPD_PORT = 50051, 8443

DOCKERFILE = """\
FROM debian:bookworm
RUN apt-get update && apt-get install -y --no-install-recommends python3-grpcio nghttp2-server
WORKDIR /app
COPY grpc_app.py /app/
COPY hello.txt /app/
EXPOSE 50051 8443
CMD ["sh", "-c", "nghttpd --no-tls -d /app '--trailer=x-checksum: in-vm' 8443 & exec python3 /app/grpc_app.py 50051"]
"""


@pytest.mark.slow
def test_grpc_and_h2c_apps_in_a_vm(tmp_path, host_uplink):
    from test_egress import close_hearthd, netns_list
    root = str(tmp_path)
    deb = os.path.join(root, "images", "debian-12")
    os.makedirs(deb)
    shutil.copy(guest_image("debian-12"), os.path.join(deb, "image.json"))
    d = Hearthd(os.path.join(root, "state"), os.path.join(root, "images"),
                extra=["--egress-uplink", "host"])
    d.netns_before = set(netns_list())
    d.start()
    try:
        d.wait_ingress()
        with open(os.path.join(HERE, "grpc_app.py")) as f:
            app = f.read()
        uri = put_artifact(d, "grpc.zip", {"Dockerfile": DOCKERFILE, "grpc_app.py": app,
                                          "hello.txt": "hello from the VM\n"})
        st, _, doc = d.call("POST", "/microvm-images", {
            "name": "grpc", "baseImageArn": DEBIAN, "buildRoleArn": ROLE,
            "codeArtifact": {"uri": uri}})
        assert st == 201, doc
        v = wait_version(d, "grpc", "1.0", timeout=2400)
        assert v["state"] == "SUCCESSFUL", (v, build_log(d, "grpc", "1.0"))
        st, _, vm = d.run(imageIdentifier="grpc")
        assert st == 200, vm
        vid = vm["microvmId"]
        doc = d.wait_state(vid, ("RUNNING", "TERMINATED"), BOOT)
        assert doc["state"] == "RUNNING", (doc, d.read_log())
        st, _, t = d.call("POST", "/microvms/%s/auth-token" % vid, {
            "expirationInMinutes": 30,
            "allowedPorts": [{"port": GRPC_PORT}, {"port": NGHTTPD_PORT}]})
        assert st == 200, t
        tok = t["authToken"]["X-aws-proxy-auth"]
        ca = os.path.join(d.state_dir, "tls", "ca.pem")
        name = "%s.localhost" % vid
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        ch = grpc.secure_channel("127.0.0.1:%d" % d.ingress_port, creds, options=[
            ("grpc.ssl_target_name_override", name),
            ("grpc.default_authority", "%s:%d" % (name, d.ingress_port)),
            ("grpc.max_receive_message_length", 16 << 20),
            ("grpc.max_send_message_length", 16 << 20)])
        md = (("x-aws-proxy-auth", tok), ("x-aws-proxy-port", str(GRPC_PORT)))
        unary = ch.unary_unary(SVC + "Unary")
        deadline = time.monotonic() + 120
        while True:  # the app starts with the VM: wait until it listens
            try:
                assert unary(b"vm", metadata=md, timeout=10) == b"echo:vm"
                break
            except grpc.RpcError as e:
                assert time.monotonic() < deadline, e
                time.sleep(1)
        msgs = list(ch.unary_stream(SVC + "Count")(b"1000", metadata=md, timeout=120))
        assert len(msgs) == 1000 and msgs[-1] == b"999"
        assert ch.stream_unary(SVC + "Total")(iter([b"ab", b"c"]), metadata=md,
                                              timeout=60) == b"2/3"
        assert list(ch.stream_stream(SVC + "Bidi")(iter([b"12", b"345"]), metadata=md,
                                                   timeout=60)) == [b"21", b"543"]
        with pytest.raises(grpc.RpcError) as ei:
            ch.unary_unary(SVC + "Fail")(b"", metadata=md, timeout=60)
        assert ei.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert ei.value.details() == "the widget is not ready"
        big = bytes(i % 251 for i in range(8 * 1024 * 1024))
        assert unary(big, metadata=md, timeout=300) == b"echo:" + big
        slow = ch.unary_unary(SVC + "Slow")
        with pytest.raises(grpc.RpcError) as ei:
            slow(b"vm-deadline", metadata=md, timeout=1)
        assert ei.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        fut = slow.future(b"vm-cancel", metadata=md, timeout=60)
        time.sleep(2)
        assert fut.cancel()
        seen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen = ch.unary_unary(SVC + "Cancelled")(b"", metadata=md, timeout=30)
            if {b"vm-deadline", b"vm-cancel"} <= set(seen.split(b",")):
                break
            time.sleep(0.5)
        assert {b"vm-deadline", b"vm-cancel"} <= set(seen.split(b",")), seen
        ch.close()
        # nghttp (ALPN h2) to the h2c nghttpd in the VM: its trailer arrives.
        cmd = ["nghttp", "-nv", "-t", "60", "-H", ":authority: %s:%d" % (name, d.ingress_port),
               "-H", "x-aws-proxy-port: %d" % NGHTTPD_PORT, "-H", "x-aws-proxy-auth: " + tok,
               "-H", "x-aws-proxy-force-h2: true",
               "https://127.0.0.1:%d/hello.txt" % d.ingress_port]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, SSL_CERT_FILE=ca))
        out = p.stdout
        assert p.returncode == 0 and ":status: 200" in out, (out[-3000:], p.stderr[-2000:])
        tail = out[out.index("recv DATA frame"):out.rindex("recv HEADERS frame")]
        assert re.search(r"recv \(stream_id=\d+\) x-checksum: in-vm", tail), out[-3000:]
    finally:
        close_hearthd(d)
