"""Report answers kept while the data under them is unchanged.

A dashboard refetches what it shows whenever a batch is projected, so every open dashboard
asks for the same reports at the same moment, and a report over millions of deals costs
hundreds of milliseconds. An answer is kept under its request (the report and every
parameter) with the data version read just before it was computed: a later request is given
the kept answer only while the version is still the same, so it is never older than the data.
Requests that arrive while the same answer is being computed wait for that computation
instead of starting their own. A kept answer also expires after `seconds`, as a few figures
depend on the clock (an open deal is priced at today's rate); no version (the store could not
say) means nothing is kept."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["hit", "shared", "miss", "off"]


@dataclass(frozen=True)
class Kept:
    version: str
    at: float  # monotonic time the version was read
    body: bytes


class ReportCache:
    def __init__(
        self,
        version: Callable[[], Awaitable[str | None]],
        seconds: float,
        max_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.version = version
        self.seconds = seconds
        self.max_bytes = max_bytes
        self.clock = clock
        self._kept: OrderedDict[str, Kept] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._computing: dict[tuple[str, str], asyncio.Future[bytes]] = {}

    @property
    def enabled(self) -> bool:
        return self.seconds > 0 and self.max_bytes > 0

    async def answer(
        self, key: str, compute: Callable[[], Awaitable[bytes]]
    ) -> tuple[bytes, Outcome]:
        """The answer to `key` and where it came from: kept (`hit`), another request's
        computation of it (`shared`), or computed now (`miss`; `off` when nothing is kept)."""
        if not self.enabled:
            return await compute(), "off"
        version = await self.version()
        if version is None:
            return await compute(), "off"
        at = self.clock()
        kept = self._kept.get(key)
        if kept is not None and kept.version == version and at - kept.at < self.seconds:
            self._kept.move_to_end(key)
            return kept.body, "hit"
        running = self._computing.get((key, version))
        if running is not None:
            return await asyncio.shield(running), "shared"
        future: asyncio.Future[bytes] = asyncio.ensure_future(compute())
        self._computing[(key, version)] = future
        try:
            body = await asyncio.shield(future)
        finally:
            # A request cancelled while waiting leaves the computation to the others.
            if future.done():
                self._computing.pop((key, version), None)
            else:
                future.add_done_callback(lambda _: self._computing.pop((key, version), None))
        self._keep(key, Kept(version, at, body))
        return body, "miss"

    def _keep(self, key: str, kept: Kept) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self._bytes -= len(old.body)
        # One answer may take at most a quarter of the room, so a few long client lists
        # (57 MB each at 10 M events) do not push out everything else.
        if len(kept.body) > self.max_bytes // 4:
            return
        self._kept[key] = kept
        self._bytes += len(kept.body)
        while self._bytes > self.max_bytes:
            _, evicted = self._kept.popitem(last=False)
            self._bytes -= len(evicted.body)
