#!/usr/bin/env python3
"""The webhook benchmark's receiver: answers 200 at once to every POST, and writes one line per
delivery to the file named: the time it arrived (Unix seconds, float), the event's `timestamp`
(its change's time) and the `webhook-id`. asyncio, so the server's connection-per-delivery is
not throttled by the receiver.

    webhook_receiver.py PORT OUTFILE
"""
import asyncio
import json
import sys
import time
from datetime import datetime


async def handle(reader, writer, out):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, wid = 0, ""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"webhook-id":
                    wid = value.strip().decode()
            body = await reader.readexactly(length) if length else b""
            arrived = time.time()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
            try:
                ts = json.loads(body)["timestamp"]
                at = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
            except Exception:
                at = 0.0
            out.write(f"{arrived:.6f} {at:.6f} {wid}\n")
            break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    port, path = int(sys.argv[1]), sys.argv[2]
    with open(path, "w", buffering=1) as out:
        server = await asyncio.start_server(
            lambda r, w: handle(r, w, out), "127.0.0.1", port, backlog=1024
        )
        async with server:
            await server.serve_forever()


asyncio.run(main())
