"""A gRPC server that no one on this project wrote the transport of: Python's grpcio (Debian python3-grpcio).

Serves wsgrpc.testing.Echo without generated code: messages are echoed as raw bytes, which parse on the Java side
because EchoRequest and EchoResponse share field 1 (payload). Prints the port it listens on, then serves until
killed.
"""
from concurrent import futures
import sys

import grpc


def unary(request, context):
    return request


def server_stream(request, context):
    for _ in range(5):
        yield request


def client_stream(requests, context):
    last = b""
    for message in requests:
        last = message
    return last


def bidi(requests, context):
    for message in requests:
        yield message


def main():
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("wsgrpc.testing.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
