"""The browser suite's upstream behind the gateway: wsgrpc.testing.Echo in Python's grpcio (Debian python3-grpcio),
with the Java EchoService's behaviour (fail_with, delay_ms, count, metadata echo) and no generated code: the few
protobuf fields are read and written by hand. Prints the port it listens on, then serves until killed.
"""
from concurrent import futures
import sys
import time

import grpc


def varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def parse_request(data):
    """EchoRequest: payload = 1 (bytes), count = 2, fail_with = 3, delay_ms = 4."""
    fields = {1: b"", 2: 0, 3: 0, 4: 0}
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = read_varint(data, i)
            fields[number] = value
        elif wire == 2:
            length, i = read_varint(data, i)
            fields[number] = data[i:i + length]
            i += length
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return fields


def read_varint(data, i):
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def response(payload=b"", messages_received=0, bytes_received=0):
    """EchoResponse: payload = 1, messages_received = 2, bytes_received = 3."""
    out = bytearray()
    if payload:
        out += b"\x0a" + varint(len(payload)) + payload
    if messages_received:
        out += b"\x10" + varint(messages_received)
    if bytes_received:
        out += b"\x18" + varint(bytes_received)
    return bytes(out)


def echo_metadata(context):
    metadata = dict(context.invocation_metadata())
    if "x-echo-initial" in metadata:
        context.send_initial_metadata((("x-echo-initial", metadata["x-echo-initial"]),))
    if "x-echo-trailing-bin" in metadata:
        context.set_trailing_metadata((("x-echo-trailing-bin", metadata["x-echo-trailing-bin"]),))


def fail(context, code_value, message):
    code = next(c for c in grpc.StatusCode if c.value[0] == code_value)
    context.abort(code, message)


def unary(data, context):
    request = parse_request(data)
    echo_metadata(context)
    if request[4]:
        deadline = time.monotonic() + request[4] / 1000
        while time.monotonic() < deadline and context.is_active():
            time.sleep(0.01)
    if request[3]:
        fail(context, request[3], request[1].decode("utf-8"))
    return response(request[1], 1, len(request[1]))


def server_stream(data, context):
    request = parse_request(data)
    for i in range(request[2]):
        yield response(request[1], i)
    if request[3]:
        fail(context, request[3], "after %d" % request[2])


def client_stream(requests, context):
    messages = size = 0
    for data in requests:
        messages += 1
        size += len(parse_request(data)[1])
    return response(b"", messages, size)


def bidi(requests, context):
    messages = 0
    for data in requests:
        messages += 1
        request = parse_request(data)
        if request[3]:
            fail(context, request[3], "")
        yield response(request[1], messages)


def main():
    raw = dict(request_deserializer=None, response_serializer=None)
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, **raw),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, **raw),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, **raw),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, **raw),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         options=[("grpc.max_receive_message_length", 32 * 1024 * 1024)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("wsgrpc.testing.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
