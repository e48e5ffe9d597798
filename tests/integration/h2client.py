"""A small HTTP/2 client over TLS on Debian's python3-h2, for the ingress's h2
tests: the preface right after the handshake (prior knowledge, or h2 by ALPN), streams sent
and read explicitly so a test can mix them on one connection, and raw frames
for the abuse tests."""
import socket
import ssl
import time

import h2.config
import h2.connection
import h2.events


class H2:
    def __init__(self, port, ca, timeout=30, alpn=None, name="127.0.0.1"):
        ctx = ssl.create_default_context(cafile=ca)
        if alpn:
            ctx.set_alpn_protocols(alpn)
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # The certificate names 127.0.0.1 too: verified, by address (or by
        # name: SNI picks the VM's own leaf).
        self.sock = ctx.wrap_socket(raw, server_hostname=name)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()
        self.streams = {}
        self.closed = False
        self.events = []

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def request(self, authority, path="/", method="GET", headers=(), body=None):
        sid = self.conn.get_next_available_stream_id()
        h = [(":method", method), (":path", path), (":scheme", "https"),
             (":authority", authority)] + list(headers)
        self.conn.send_headers(sid, h, end_stream=body is None)
        self.streams[sid] = {"status": None, "headers": [], "body": b"", "trailers": [],
                             "ended": False, "reset": None}
        self.flush()
        if body is not None:
            self.send_body(sid, body)
        return sid

    def send_body(self, sid, body, end=True):
        off = 0
        while off < len(body):
            room = min(self.conn.local_flow_control_window(sid),
                       self.conn.max_outbound_frame_size)
            if room <= 0:
                self.pump()  # wait for WINDOW_UPDATE
                continue
            self.conn.send_data(sid, body[off:off + room])
            off += room
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

    def pump(self):
        data = self.sock.recv(1 << 16)
        if not data:
            self.closed = True
            raise EOFError("the server closed the connection")
        for ev in self.conn.receive_data(data):
            self.events.append(ev)
            st = self.streams.get(getattr(ev, "stream_id", None))
            if isinstance(ev, h2.events.ResponseReceived):
                st["headers"] = [(k.decode(), v.decode()) for k, v in ev.headers]
                st["status"] = int(dict(st["headers"])[":status"])
            elif isinstance(ev, h2.events.TrailersReceived):
                st["trailers"] = [(k.decode(), v.decode()) for k, v in ev.headers]
            elif isinstance(ev, h2.events.DataReceived):
                st["body"] += ev.data
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset) and st is not None:
                st["reset"] = ev.error_code
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()

    def wait(self, *sids, timeout=30):
        deadline = time.monotonic() + timeout
        while not all(self.streams[s]["ended"] or self.streams[s]["reset"] is not None
                      for s in sids):
            assert time.monotonic() < deadline, "streams %s unanswered" % (sids,)
            self.pump()
        return [self.streams[s] for s in sids]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
