"""Stopping a background task for good."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancels `task` and waits until it has ended, whatever it raised. On Python 3.11 a
    cancellation can be swallowed by an `asyncio.wait_for` inside nats-py that completes at
    the same moment (a shutdown then hung for good), so the cancel is repeated until the task
    is done."""
    while task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)
    if task is not None and not task.cancelled():
        with suppress(Exception):
            task.result()
