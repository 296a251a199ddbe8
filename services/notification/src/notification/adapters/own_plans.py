"""A send this service instance planned reads its rule and cards from what the instance keeps
of them (`JsonBucket.recent`) instead of the bus.

Why that is enough: to plan it, the instance read or wrote that rule and those cards, and
what it reads or writes it keeps (the newest revision wins), so what it keeps is at least as
new as what the plan saw, the trigger event's own card update included; the buckets' watches
bring every later write of another replica as soon as they are told of it. A send planned by
another instance (or by this one before a restart, or a scheduled one, which carries no mark)
reads the bus: its planner's writes may not have reached this instance yet."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

PLANNED_BY = "Crm-Planned-By"  # header of a due message: the instance that planned it

_own: ContextVar[bool] = ContextVar("own_plan", default=False)


def new_origin() -> str:
    """An id for one service instance (its buckets keep what it read and wrote)."""
    return uuid.uuid4().hex


def planned_by(origin: str) -> dict[str, str]:
    """The header marking a due message as the plan of the instance `origin`."""
    return {PLANNED_BY: origin}


@contextmanager
def sending(headers: Mapping[str, str] | None, origin: str | None) -> Iterator[None]:
    """Inside the block, the send of a due message with these headers, by instance `origin`."""
    mine = origin is not None and headers is not None and headers.get(PLANNED_BY) == origin
    token = _own.set(mine)
    try:
        yield
    finally:
        _own.reset(token)


def own_plan() -> bool:
    """True while sending what this instance planned."""
    return _own.get()
