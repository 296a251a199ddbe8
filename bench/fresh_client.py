"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the freshness bench's lead load.
The stack shares two cores with the load: a full client (httpx) would take a large share of a
core at 300 requests/s, this one a small one."""

from __future__ import annotations

import asyncio
import json
from typing import Any


class RawPool:
    """Up to `size` persistent connections to one host; each request borrows one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )
        for _ in range(size):
            self.idle.put_nowait(None)  # a slot, connected on first use

    async def post_json(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, bytes]:
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n{head}\r\n"
        ).encode() + payload
        connection = await self.idle.get()
        try:
            if connection is None:
                connection = await asyncio.open_connection(self.host, self.port)
            reader, writer = connection
            writer.write(request)
            status, response = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            if connection is not None:
                connection[1].close()
            connection = None  # reconnect on the next use
            raise
        finally:
            self.idle.put_nowait(connection)
        return status, response

    async def close(self) -> None:
        while not self.idle.empty():
            connection = self.idle.get_nowait()
            if connection is not None:
                connection[1].close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, await reader.readexactly(length)
