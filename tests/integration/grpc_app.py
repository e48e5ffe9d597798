"""The gRPC service of the h2 upstream tests (test_h2up.py in this process,
test_h2up_vm.py inside a real VM, where this file is the app): generic handlers
on raw bytes, so no protoc is needed. Run as a program it serves port argv[1]."""
import sys
import threading
import time
from concurrent import futures

import grpc

SVC = "/t.T/"


class Seen:
    def __init__(self):
        self.lock = threading.Lock()
        self.cancelled = []
        self.metadata = []
        self.peers = set()


def handlers(seen):
    def note(ctx):
        with seen.lock:
            seen.metadata.append(list(ctx.invocation_metadata()))
            seen.peers.add(ctx.peer())

    def unary(req, ctx):
        note(ctx)
        return b"echo:" + req

    def fail(req, ctx):
        note(ctx)
        ctx.abort(grpc.StatusCode.FAILED_PRECONDITION, "the widget is not ready")

    def count(req, ctx):
        note(ctx)
        for i in range(int(req)):
            yield b"%d" % i

    def total(it, ctx):
        note(ctx)
        n = k = 0
        for m in it:
            n += 1
            k += len(m)
        return b"%d/%d" % (n, k)

    def bidi(it, ctx):
        note(ctx)
        for m in it:
            yield m[::-1]

    def slow(req, ctx):
        note(ctx)
        tag = req.decode()
        done = threading.Event()
        ctx.add_callback(done.set)
        done.wait(30)
        if not ctx.is_active():
            with seen.lock:
                seen.cancelled.append(tag)
        return b"late"

    def cancelled(req, ctx):
        with seen.lock:
            return ",".join(seen.cancelled).encode()

    table = {
        "Cancelled": grpc.unary_unary_rpc_method_handler(cancelled),
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Count": grpc.unary_stream_rpc_method_handler(count),
        "Total": grpc.stream_unary_rpc_method_handler(total),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
        "Slow": grpc.unary_unary_rpc_method_handler(slow),
    }

    class Generic(grpc.GenericRpcHandler):
        def service(self, details):
            if not details.method.startswith(SVC):
                return None
            return table.get(details.method[len(SVC):])

    return Generic()


def main(port):
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[
        ("grpc.max_receive_message_length", 16 << 20),
        ("grpc.max_send_message_length", 16 << 20)])
    srv.add_generic_rpc_handlers((handlers(Seen()),))
    srv.add_insecure_port("0.0.0.0:%d" % port)
    srv.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(int(sys.argv[1]))
