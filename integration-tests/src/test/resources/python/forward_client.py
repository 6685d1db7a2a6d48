"""A gRPC client in another language: Python's grpcio (Debian python3-grpcio), which cannot run over a WebSocket
itself. It dials the local port of `wsgrpc-cli.jar forward` in plain h2c and calls wsgrpc.testing.Echo without
generated code: requests are built and responses read as protobuf bytes by hand (field 1 is the payload of both
EchoRequest and EchoResponse).

Usage: forward_client.py HOST:PORT. Prints what it checked, ends with "python grpcio <version>: all ok" and exits 0,
or exits 1 with the reason.
"""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def request(payload):
    return b"\x0a" + varint(len(payload)) + payload


def payload_of(message):
    """Field 1 (bytes) of an EchoResponse; other fields are skipped."""
    i = 0
    while i < len(message):
        key, i = read_varint(message, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            length, i = read_varint(message, i)
            if field == 1:
                return message[i:i + length]
            i += length
        elif wire == 0:
            _, i = read_varint(message, i)
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return b""


def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def identity(x):
    return x


def main():
    target = sys.argv[1]
    with grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 8 * 1024 * 1024)]) as channel:
        unary = channel.unary_unary("/wsgrpc.testing.Echo/Unary", request_serializer=identity,
                                    response_deserializer=identity)
        hello = b"hello from python"
        got = payload_of(unary(request(hello), timeout=60))
        if got != hello:
            sys.exit("unary: expected %r but was %r" % (hello, got))
        print("unary ok")

        big = bytes(range(256)) * 4096  # 1 MiB: many WebSocket frames each way
        got = payload_of(unary(request(big), timeout=60))
        if got != big:
            sys.exit("unary 1 MiB: payload changed in transit (%d bytes back)" % len(got))
        print("unary 1 MiB ok")

        bidi = channel.stream_stream("/wsgrpc.testing.Echo/Bidi", request_serializer=identity,
                                     response_deserializer=identity)
        sent = [bytes([i % 256]) * (i * 100) for i in range(1, 201)]
        received = [payload_of(m) for m in bidi(iter(request(p) for p in sent), timeout=60)]
        if received != sent:
            sys.exit("bidi: expected %d echoes in order but got %d" % (len(sent), len(received)))
        print("bidi 200 messages ok")

    # Several channels at once, each with a connection of its own (no shared subchannels): one tunnel each.
    channels = [grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(4)]
    try:
        futures = [c.unary_unary("/wsgrpc.testing.Echo/Unary", request_serializer=identity,
                                 response_deserializer=identity).future(request(b"channel %d" % i), timeout=60)
                   for i, c in enumerate(channels)]
        for i, f in enumerate(futures):
            if payload_of(f.result()) != b"channel %d" % i:
                sys.exit("channel %d: wrong answer" % i)
        print("4 channels ok")
    finally:
        for c in channels:
            c.close()

    print("python grpcio %s: all ok" % grpc.__version__)


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as e:
        sys.exit("RPC failed: %s %s" % (e.code(), e.details()))
