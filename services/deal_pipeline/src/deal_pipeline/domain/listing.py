"""What a list of deals or clients asks for, and the opaque cursor of keyset paging (pure)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from deal_pipeline.domain.errors import InvalidValue

SORTS = ("opened_at", "updated_at", "amount")
MAX_LIMIT = 500


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool

    @classmethod
    def parse(cls, value: str) -> Sort:
        key = value.removeprefix("-")
        if key not in SORTS:
            known = ", ".join(SORTS)
            raise InvalidValue(f"sort must be one of {known}, '-' for descending", "sort")
        return cls(key, value.startswith("-"))

    def __str__(self) -> str:
        return ("-" if self.descending else "") + self.key


@dataclass(frozen=True)
class After:
    """The last row of the previous page: its sort value and id (ids break ties)."""

    value: int | None
    id: str


@dataclass(frozen=True)
class DealQuery:
    pipeline_id: str | None = None
    stage: str | None = None
    status: str | None = None
    manager_id: str | None = None
    client_id: str | None = None
    opened_from: datetime | None = None  # inclusive
    opened_to: datetime | None = None  # exclusive, as the reports' periods
    text: str | None = None  # folded, see fold()
    sort: Sort = Sort("opened_at", descending=True)
    limit: int = 50
    after: After | None = None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidValue(f"limit must be between 1 and {MAX_LIMIT}", "limit")
    return limit


def fold(text: str) -> str:
    """Case-insensitive matching also for Cyrillic (SQLite's LOWER folds ASCII only)."""
    return text.strip().casefold()


def encode_cursor(order: str, after: After) -> str:
    raw = json.dumps([order, after.value, after.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(order: str, cursor: str) -> After:
    """The cursor of a page of the same order; anything else is refused, never guessed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, last_id = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidValue("not a cursor returned by this list", "cursor") from None
    if name != order:
        raise InvalidValue(f"cursor belongs to sort {name!r}, not {order!r}", "cursor")
    if not isinstance(last_id, str) or not (value is None or type(value) is int):
        raise InvalidValue("not a cursor returned by this list", "cursor")
    return After(value, last_id)
