"""The multi-client agent relay (vmm/relay.c, PROTOCOL.md 1.8) on a real VM:
several clients share one agent stream, each with its own channel ids; a slow
client does not stall the others; channels of a client that left are orphans
another client can adopt; junk from one client hurts nobody else.

One busybox VM (hearth-vm boot, TCG) serves the whole module. Every wait has a
deadline.
"""
import os
import socket
import struct
import time

import pytest

from agentproto import (Agent, frame, open_payload, tlv,
                        CLOSE, CTL_REQ, CTL_LIST, DATA, ERROR, E_NOCHAN, E_TYPE,
                        E_VERSION, HDR, HDR_LEN, HELLO, KIND_EXEC, KIND_SHELL, OPEN,
                        OPEN_OK, PING, PONG, TAG_CMDLINE, WINDOW)
from test_vm import HearthVM, need_image


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    need_image("busybox")
    base = str(tmp_path_factory.mktemp("relay"))
    v = HearthVM.boot("busybox", os.path.join(base, "run"))
    try:
        v.ready()
        yield v
    finally:
        v.close()


def client(vm):
    a = Agent.connect_unix(vm.agent_path)
    info = a.hello()
    assert info["software"].startswith("hearth-relay/")
    return a


def shell_cmd(sh, cmd, marker, timeout=60):
    """Run cmd in an open shell; return the output up to marker (printed after)."""
    sh.send(cmd + "; echo %s-$((6*7))\n" % marker)
    return sh.read_until("%s-42" % marker, timeout=timeout).decode(errors="replace")


class Raw:
    """A bare socket client with a frame parser (for clients that misbehave)."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def frame(self, timeout=30):
        dl = time.monotonic() + timeout
        while True:
            if len(self.buf) >= HDR_LEN:
                _, t, _, ch, n = HDR.unpack_from(self.buf)
                if len(self.buf) >= HDR_LEN + n:
                    p = self.buf[HDR_LEN:HDR_LEN + n]
                    self.buf = self.buf[HDR_LEN + n:]
                    return t, ch, p
            left = dl - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame within %ss" % timeout)
            self.s.settimeout(left)
            d = self.s.recv(1 << 20)
            if not d:
                return None
            self.buf += d

    def close(self):
        self.s.close()


def test_two_clients_overlapping_ids(vm):
    a, b = client(vm), client(vm)
    try:
        sa, sb = a.open_shell(), b.open_shell()
        assert sa.id == sb.id == 1
        ea = a.open_exec(cmdline="for i in 1 2 3 4 5; do echo exec-A-$i; done")
        eb = b.open_exec(cmdline="for i in 1 2 3 4 5; do echo exec-B-$i; done")
        assert ea.id == eb.id == 2
        sa.send("echo shell-$((1+1))-A\n")
        sb.send("echo shell-$((1+1))-B\n")
        out_a = sa.read_until("shell-2-A", timeout=60)
        out_b = sb.read_until("shell-2-B", timeout=60)
        assert b"-B" not in out_a and b"-A" not in out_b
        oa, _ = ea.collect(timeout=60)
        ob, _ = eb.collect(timeout=60)
        assert oa.decode().split() == ["exec-A-%d" % i for i in range(1, 6)]
        assert ob.decode().split() == ["exec-B-%d" % i for i in range(1, 6)]
        assert ea.wait_exit(timeout=30) == ("code", 0)
        assert eb.wait_exit(timeout=30) == ("code", 0)
        # LIST shows each client its own channels under its own ids, never
        # the other's (told apart by pid).
        la = {c["pid"]: c["id"] for c in a.list_channels()}
        lb = {c["pid"]: c["id"] for c in b.list_channels()}
        assert la.get(sa.pid) == 1 and sb.pid not in la
        assert lb.get(sb.pid) == 1 and sa.pid not in lb
        for c in (sa, sb, ea, eb):
            c.close(timeout=30)
        assert not a.violations and not b.violations
        # Whole-VM control ops pass through.
        assert a.info()["agent"]
        assert 0 < b.ping(timeout=10) < 10
    finally:
        a.close()
        b.close()


def test_slow_client_does_not_stall_others(vm):
    slow = Raw(vm.agent_path)
    b = client(vm)
    try:
        # The slow client grants a big window, starts 8 MB of output and
        # then reads nothing.
        slow.send(frame(OPEN, 1, open_payload(KIND_EXEC, 16 * 1024 * 1024,
                                               tlv(TAG_CMDLINE, "head -c 8388608 /dev/zero"))))
        sh = b.open_shell()
        for i in range(20):
            assert "ok-%d" % i in shell_cmd(sh, "echo ok-%d" % i, "m%d" % i, timeout=60)
        sh.close(timeout=30)
        # Everything the slow client was owed is still there, in whole frames.
        got, opened, ended = 0, False, False
        while not ended:
            f = slow.frame(timeout=120)
            assert f is not None, "relay dropped the slow client"
            t, ch, p = f
            assert ch == 1, (t, ch, p)
            if t == OPEN_OK:
                opened = True
            elif t == DATA:
                got += len(p) - 1
            elif t == CLOSE:
                ended = True
        assert opened and got == 8388608
        slow.send(frame(CLOSE, 1))
    finally:
        slow.close()
        b.close()


def test_orphan_is_adopted_by_next_client(vm):
    a = client(vm)
    sh = a.open_shell()
    shell_cmd(sh, "export RELAYVAR=orphan-$((40+2))", "set")
    pid = sh.pid
    a.close()
    b = client(vm)
    try:
        dl = time.monotonic() + 30
        while True:
            mine = [c for c in b.list_channels() if c["pid"] == pid]
            if mine:
                break
            assert time.monotonic() < dl, "orphan shell not listed"
            time.sleep(0.2)
        assert mine[0]["kind"] == KIND_SHELL
        adopted = b.attach(mine[0]["id"], KIND_SHELL)
        # Restart output the first client's window may have used up.
        b._send(frame(WINDOW, adopted.id, struct.pack(">I", 256 * 1024)))
        out = shell_cmd(adopted, "echo val=$RELAYVAR", "got")
        assert "val=orphan-42" in out
        # Adopted: a third client does not see it as an orphan any more.
        c = client(vm)
        try:
            assert pid not in {x["pid"] for x in c.list_channels()}
        finally:
            c.close()
        adopted.close(timeout=30)
    finally:
        b.close()


def test_junk_gets_error_and_others_keep_working(vm):
    junk = Raw(vm.agent_path)
    b = client(vm)
    try:
        sh = b.open_shell()
        assert "before" in shell_cmd(sh, "echo before", "j0")
        junk.send(HDR.pack(9, HELLO, 0, 0, 3) + b"abc")           # bad version
        junk.send(HDR.pack(1, 0x7f, 0, 0, 0))                      # unknown type
        junk.send(frame(DATA, sh.id, b"\x00echo stolen\n"))        # not its channel
        junk.send(frame(PING, 0, struct.pack(">Q", 77)))
        seen = []
        while len(seen) < 4:
            f = junk.frame(timeout=30)
            assert f is not None
            seen.append(f)
        errs = [(ch, struct.unpack_from(">i", p)[0]) for t, ch, p in seen if t == ERROR]
        assert (0, E_VERSION) in errs and (0, E_TYPE) in errs and (sh.id, E_NOCHAN) in errs
        assert (PONG, 0, struct.pack(">Q", 77)) in seen
        # The junk client's channel-1 DATA never reached b's shell.
        out = shell_cmd(sh, "echo after", "j1")
        assert "after" in out and "stolen" not in out
        # Bytes that are not frames at all: the junk client is refused, the
        # other one carries on.
        junk.send(b"\xff" * 64)
        assert "still" in shell_cmd(sh, "echo still", "j2")
        sh.close(timeout=30)
        assert not b.violations
    finally:
        junk.close()
        b.close()


def test_ctl_ids_are_per_client(vm):
    a, b = client(vm), client(vm)
    try:
        # Both use CTL id 1 at the same time; each gets its own answer.
        a.send_raw(frame(CTL_REQ, 0, struct.pack(">IB", 1000, CTL_LIST)))
        b.send_raw(frame(CTL_REQ, 0, struct.pack(">IB", 1000, CTL_LIST)))
        for x in (a, b):
            status, body = x._wait(lambda x=x: x.ctl_results.pop(1000, None), 30, "CTL_RESP")
            assert status == 0 and len(body) >= 4
    finally:
        a.close()
        b.close()


def test_client_over_its_buffer_cap_is_cut_off(vm):
    """A client that grants more window than it reads is disconnected once the
    relay holds more than its cap for it; the other client is unaffected."""
    hog = Raw(vm.agent_path)
    b = client(vm)
    try:
        # Ids b does not use: an orphan is listed under its agent id (here the
        # hog's own), hidden from a client that uses the same id itself.
        for ch in (101, 102):
            hog.send(frame(OPEN, ch, open_payload(KIND_EXEC, 16 * 1024 * 1024,
                                                   tlv(TAG_CMDLINE, "head -c 12582912 /dev/zero"))))
        sh = b.open_shell()
        for i in range(10):
            assert "hog-%d" % i in shell_cmd(sh, "echo hog-%d" % i, "h%d" % i, timeout=60)
        # Once cut off, its two channels are orphans that b's LIST shows.
        dl = time.monotonic() + 180
        while len([c for c in b.list_channels() if c["kind"] == KIND_EXEC]) < 2:
            assert time.monotonic() < dl, "the hog was never cut off"
            time.sleep(0.5)
        got = 0
        while True:
            f = hog.frame(timeout=120)
            if f is None:
                break   # cut off
            if f[0] == DATA:
                got += len(f[2]) - 1
        assert got < 2 * 12582912
        assert "alive" in shell_cmd(sh, "echo alive", "h-end", timeout=60)
        # b adopts the hog's finished channels and frees them.
        for c in b.list_channels():
            if c["kind"] == KIND_EXEC:
                b.attach(c["id"], KIND_EXEC).close(timeout=30)
        assert not [c for c in b.list_channels() if c["kind"] == KIND_EXEC]
        sh.close(timeout=30)
    finally:
        hog.close()
        b.close()


def test_adopting_a_finished_orphan_frees_it(vm):
    """An orphan that ended while no client owned it: the adopter's CLOSE is
    answered (the agent's own CLOSE went to nobody) and the channel is gone."""
    a = client(vm)
    e = a.open_exec(cmdline="sleep 1; echo finished")
    pid = e.pid
    a.close()
    b = client(vm)
    try:
        dl = time.monotonic() + 60
        while True:
            mine = [c for c in b.list_channels() if c["pid"] == pid]
            assert mine, "orphan exec not listed"
            if mine[0]["state"] == 2:
                break
            assert time.monotonic() < dl, "orphan exec never finished: %r" % mine
            time.sleep(0.2)
        b.attach(mine[0]["id"], KIND_EXEC).close(timeout=30)
        assert pid not in {c["pid"] for c in b.list_channels()}
    finally:
        b.close()
