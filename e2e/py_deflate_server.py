"""Debian's python3-websockets as an echo server with permessage-deflate
windows, for wsraise's client.

Usage: /usr/bin/python3 py_deflate_server.py BITS
Listens on 127.0.0.1 and answers server_max_window_bits=BITS and
client_max_window_bits=BITS (ServerPerMessageDeflateFactory). Prints
{"port": N} once listening, then one JSON line per connection once it
closes: the extension offered and agreed, the parameters websockets
agreed, the messages echoed, the errors, the close code. Exits when its
standard input closes, or after two minutes at most.
"""
import asyncio
import json
import sys
import threading

import websockets
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)


def agreed(extension):
    """The parameters websockets compresses and decompresses with."""
    return {
        "remote_max_window_bits": extension.remote_max_window_bits,
        "local_max_window_bits": extension.local_max_window_bits,
        "remote_no_context_takeover": extension.remote_no_context_takeover,
        "local_no_context_takeover": extension.local_no_context_takeover,
    }


async def echo(ws):
    deflate = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
    r = {
        "offer": ws.request_headers.get("Sec-WebSocket-Extensions", ""),
        "response": ws.response_headers.get("Sec-WebSocket-Extensions", ""),
        "extensions": ",".join(e.name for e in ws.extensions),
        "params": agreed(deflate[0]) if deflate else None,
        "messages": 0,
        "errors": [],
    }
    try:
        async for m in ws:
            r["messages"] += 1
            await ws.send(m)
    except websockets.exceptions.ConnectionClosedError as e:
        r["errors"].append(repr(e))
    r["code"] = ws.close_code
    print(json.dumps(r), flush=True)


async def main(bits):
    loop = asyncio.get_running_loop()
    input_closed = loop.create_future()

    def wait_for_eof():
        sys.stdin.read()
        loop.call_soon_threadsafe(
            lambda: input_closed.done() or input_closed.set_result(None)
        )

    threading.Thread(target=wait_for_eof, daemon=True).start()
    factory = ServerPerMessageDeflateFactory(
        server_max_window_bits=bits, client_max_window_bits=bits
    )
    # In websockets 10, compression=None leaves the extensions given alone
    # instead of adding a default permessage-deflate.
    async with websockets.serve(
        echo, "127.0.0.1", 0, extensions=[factory], compression=None, max_size=2**26
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": port}), flush=True)
        try:
            await asyncio.wait_for(input_closed, 120)
        except asyncio.TimeoutError:
            sys.exit(2)


asyncio.run(main(int(sys.argv[1])))
