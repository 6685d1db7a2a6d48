"""A JSON-over-WebSocket client with no protobuf code: Python's websockets (Debian python3-websockets, 10.x).

Usage: json_ws_client.py URL METADATA_JSON MESSAGES_JSON [ORIGIN]
Opens URL offering the subprotocol wsgrpc-json (with an Origin header when ORIGIN is given, as a browser would), sends {"metadata": ...} (when not null), each request as
{"message": ...} and {"halfClose": true}, then prints every text message the server sends, one a line, and
finally "close <code>".
"""
import asyncio
import json
import sys

import websockets


async def main(url, metadata, messages, origin):
    async with websockets.connect(url, subprotocols=["wsgrpc-json"], origin=origin, open_timeout=30,
                                  close_timeout=30) as ws:
        print("subprotocol " + str(ws.subprotocol), flush=True)
        try:
            if metadata is not None:
                await ws.send(json.dumps({"metadata": metadata}))
            for message in messages:
                await ws.send(json.dumps({"message": message}))
            await ws.send(json.dumps({"halfClose": True}))
        except websockets.exceptions.ConnectionClosed:
            pass  # the server ended the call early (a refusal): what it sent is still read below
        try:
            while True:
                print(await asyncio.wait_for(ws.recv(), 60), flush=True)
        except websockets.exceptions.ConnectionClosed as closed:
            print("close " + str(closed.code), flush=True)


asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]),
                 sys.argv[4] if len(sys.argv) > 4 else None))
