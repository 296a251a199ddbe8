"""uvicorn's httptools protocol, but an answer of known length goes out in one write.

uvicorn writes the status line and headers to the socket when the app sends
`http.response.start`, and the body when it sends `http.response.body`: two writes, two TCP
segments (the socket has Nagle off) and twice the kernel's work on both ends, for answers of a
few dozen bytes (a lead's 202). Here each request's cycle writes through a stand-in for the
connection's transport that holds the header block of an answer with a `content-length` back
until the body's first write, and sends the two as one (a body of over 64 KB right after it,
not copied into one). Anything else goes out as uvicorn
writes it: a streamed answer's headers at once (the live feed's client must not wait for the
first event), a `100 Continue`, an answer with an empty body, and the answer to a HEAD.

What it reads of uvicorn (the cycle's `transport`, `response_started`, `chunked_encoding` and
`expected_content_length`, set before the header block is written) is pinned by the lock file;
the services' HTTP tests run through it."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

# A body's first write up to this size is joined to the header block; a longer one is written
# after it, as uvicorn writes it (the saving is a syscall, the join a copy of the body).
JOIN_MAX = 64 * 1024


class _HeadWithBody:
    """The connection's transport as one request's cycle writes to it. It knows the cycle by a
    weak reference: the cycle holds it, and a reference cycle per request would leave every
    request to the garbage collector instead of to reference counting."""

    __slots__ = ("_transport", "_cycle", "_head")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        self._transport = transport
        self._cycle = weakref.ref(cycle)
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:  # the body's first write: the header block goes with it
            head, self._head = self._head, None
            if len(data) <= JOIN_MAX:
                self._transport.write(head + data)
            else:  # joining would copy the whole body (a client list: tens of MB) for nothing
                self._transport.write(head)
                self._transport.write(data)
            return
        cycle = self._cycle()
        # The header block of an answer of known length whose body is still to be written
        # (uvicorn writes none for a HEAD).
        if (
            cycle is not None
            and cycle.response_started
            and cycle.chunked_encoding is False
            and cycle.expected_content_length > 0
            and not cycle.response_complete
            and cycle.scope["method"] != "HEAD"
        ):
            self._head = data
            return
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # close, is_closing, get_extra_info, …


class OneWriteHttpTools(HttpToolsProtocol):
    """Pass as uvicorn's `http`: each request's cycle writes through `_HeadWithBody`."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        # A new cycle (its task has not run yet); an upgrade makes none.
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = _HeadWithBody(self.transport, cycle)  # type: ignore[assignment]
