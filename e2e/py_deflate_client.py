"""Debian's python3-websockets as a client with permessage-deflate windows,
against a wsraise echo server.

Usage: /usr/bin/python3 py_deflate_client.py ws://127.0.0.1:PORT/echo?set=NAME DIR BITS
Offers server_max_window_bits=BITS and client_max_window_bits=BITS, sends
every file of DIR in name order (*.bin as binary, the rest as text), each
once the one before has come back, and compares the echoes. Prints one
JSON object with what it saw: the response's Sec-WebSocket-Extensions and
the parameters websockets agreed included.
"""
import asyncio
import json
import os
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
)


def messages(directory):
    out = []
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), "rb") as f:
            data = f.read()
        out.append(data if name.endswith(".bin") else data.decode("utf-8"))
    return out


def agreed(extension):
    """The parameters websockets compresses and decompresses with."""
    return {
        "remote_max_window_bits": extension.remote_max_window_bits,
        "local_max_window_bits": extension.local_max_window_bits,
        "remote_no_context_takeover": extension.remote_no_context_takeover,
        "local_no_context_takeover": extension.local_no_context_takeover,
    }


async def echo(url, msgs, bits, r):
    factory = ClientPerMessageDeflateFactory(
        server_max_window_bits=bits, client_max_window_bits=bits
    )
    # In websockets 10, compression=None leaves the extensions given alone
    # instead of adding a default permessage-deflate.
    async with websockets.connect(
        url, extensions=[factory], compression=None, max_size=2**26
    ) as ws:
        r["response"] = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        r["extensions"] = ",".join(e.name for e in ws.extensions)
        deflate = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
        r["params"] = agreed(deflate[0]) if deflate else None
        for i, m in enumerate(msgs):
            await ws.send(m)
            got = await ws.recv()
            if type(got) is type(m) and got == m:
                r["matched"] += 1
            else:
                r["mismatches"].append(i)
        await ws.close(1000, "done")
        r["code"] = ws.close_code


async def main(url, directory, bits):
    msgs = messages(directory)
    r = {"sent": len(msgs), "matched": 0, "mismatches": [], "errors": []}
    try:
        await asyncio.wait_for(echo(url, msgs, bits, r), 60)
    except Exception as e:  # reported, for the test to show
        r["errors"].append(repr(e))
    print(json.dumps(r))


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
