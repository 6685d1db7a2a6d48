"""One upstream replica for the proxy-mode tests, in Python's grpcio (Debian python3-grpcio), without generated code.

Serves wsgrpc.testing.Echo/Unary and grpc.health.v1.Health (Check and Watch, always SERVING). Unary echoes the
request as raw bytes (EchoRequest and EchoResponse share field 1, payload), waits `delay_ms` (field 4) first, and
answers in trailers which replica it is (`replica`), what caller metadata it received (`seen-wsgrpc-*`, `seen-authorization`) and the time
the call had left when it arrived (`seen-timeout-ms`). Prints its port, then one line per call it starts
(`call <n>`), and serves until killed.

Usage: replica_server.py NAME
"""
from concurrent import futures
import sys
import threading

import grpc

NAME = sys.argv[1] if len(sys.argv) > 1 else "python"
_lock = threading.Lock()
_calls = [0]


def _varint(data, i):
    value, shift = 0, 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _delay_ms(data):
    """Field 4 (delay_ms) of an EchoRequest, or 0."""
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            if field == 4:
                return value
        elif wire == 2:
            length, i = _varint(data, i)
            i += length
        else:
            return 0
    return 0


def unary(request, context):
    with _lock:
        _calls[0] += 1
        n = _calls[0]
    print("call %d" % n, flush=True)
    remaining = context.time_remaining()
    trailers = [("replica", NAME)]
    if remaining is not None:
        trailers.append(("seen-timeout-ms", str(int(remaining * 1000))))
    for key, value in context.invocation_metadata():
        if key.startswith("wsgrpc-") or key == "authorization":
            trailers.append(("seen-" + key, value))
    delay = _delay_ms(request)
    if delay:
        done = threading.Event()
        context.add_callback(done.set)
        done.wait(delay / 1000.0)
    context.set_trailing_metadata(tuple(trailers))
    return request


SERVING = b"\x08\x01"  # HealthCheckResponse{status: SERVING}


def health_check(request, context):
    return SERVING


def health_watch(request, context):
    yield SERVING
    done = threading.Event()
    context.add_callback(done.set)
    done.wait()


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64))
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("wsgrpc.testing.Echo", {
            "Unary": grpc.unary_unary_rpc_method_handler(unary)}),
        grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
            "Check": grpc.unary_unary_rpc_method_handler(health_check),
            "Watch": grpc.unary_stream_rpc_method_handler(health_watch)}),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
