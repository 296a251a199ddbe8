"""A gate the live projection passes between batches, so that a rebuild can hold it still
while it catches up the stream's tail and swaps the tables in (see rebuild.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class ProjectionGate:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()  # FIFO: a pause waits for the batch in flight, no longer

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    async def pause(self) -> None:
        """Returns once no batch is being written; batches then wait until `resume()`."""
        await self._lock.acquire()

    def resume(self) -> None:
        self._lock.release()

    @property
    def paused(self) -> bool:
        return self._lock.locked()
