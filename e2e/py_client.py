"""Drives a wsraise demo server with Debian's python3-websockets.

Usage: /usr/bin/python3 py_client.py ws://127.0.0.1:PORT
Prints one JSON object with what it saw.
"""
import asyncio
import json
import sys

import websockets


async def close_of(base, path):
    async with websockets.connect(base + path) as ws:
        try:
            await ws.recv()
        except websockets.exceptions.ConnectionClosed as e:
            rcvd = e.rcvd
            return {"path": path, "code": rcvd.code if rcvd else None,
                    "reason": rcvd.reason if rcvd else None}
    return {"path": path, "error": "no close"}


async def echo(base):
    msgs = ["", "hello", "h\u00e9llo \U0001D11E", "x" * 70000, bytes(range(256)), b"\x00" * 65536]
    async with websockets.connect(base + "/echo", max_size=2**24) as ws:
        matched = 0
        for m in msgs:
            await ws.send(m)
            got = await ws.recv()
            if got == m:
                matched += 1
        await ws.close(1000, "bye")
        return {"path": "/echo", "sent": len(msgs), "matched": matched,
                "close_code": ws.close_code}


async def refused(base, path):
    try:
        async with websockets.connect(base + path):
            return {"path": path, "error": "accepted"}
    except websockets.exceptions.InvalidHandshake as e:
        status = getattr(e, "status_code", None)  # websockets 10-13
        if status is None and getattr(e, "response", None) is not None:
            status = e.response.status_code  # websockets 14+
        return {"path": path, "status": status}


async def main(base):
    out = [await close_of(base, "/ws"), await close_of(base, "/custom"),
           await echo(base), await refused(base, "/reject")]
    print(json.dumps(out))


asyncio.run(main(sys.argv[1]))
