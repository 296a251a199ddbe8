"""The cards one events batch has written or read, so its plans read each card once: a deal's
plan finds the card the batch just wrote, and a hundred deals of one manager read the manager
once. Only for the batch that opened it (a context variable: the due sends, which may come
much later, always read the bus), so a plan sees a card as of a moment within its batch,
as reading it there would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

Card = dict[str, Any]
Key = tuple[str, str]  # bucket, key

_memo: ContextVar[dict[Key, asyncio.Future[Card]] | None] = ContextVar("card_memo", default=None)


@contextmanager
def batch_memo() -> Iterator[None]:
    """Cards are remembered inside the block (and the tasks it starts), forgotten after."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def remember(key: Key, card: Card) -> None:
    """What a write of the batch left (or found) on file: its plans read this."""
    memo = _memo.get()
    if memo is not None:
        done = asyncio.get_running_loop().create_future()
        done.set_result(card)
        memo[key] = done


async def recall(key: Key, read: Callable[[], Awaitable[Card]]) -> Card:
    """The card as the batch knows it, else `read` (once, however many ask at the same time)."""
    memo = _memo.get()
    if memo is None:
        return await read()
    if key in memo:
        return await memo[key]
    pending = memo[key] = asyncio.get_running_loop().create_future()
    try:
        card = await read()
    except BaseException as exc:
        del memo[key]  # the next one to ask reads again
        if isinstance(exc, Exception):
            pending.set_exception(exc)
            pending.exception()  # those waiting get it; no "never retrieved" warning otherwise
        else:
            pending.cancel()
        raise
    pending.set_result(card)
    return card
