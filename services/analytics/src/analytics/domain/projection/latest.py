"""The projection's memory of latest-state rows, so that an in-order event is applied to the
row it changes instead of re-folding the key's whole history (see application/ingest.py).

`LatestRows` is bounded and evicts the least recently used key; an evicted key is simply folded
again from its stored history the next time it shows up. `KnownKeys` answers "has this key ever
been stored?" without a query: a "no" is certain (a brand-new deal needs no history read), a
"maybe" costs one history read."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from analytics.domain.projection.rows import ClientRow, DealRow, TaskRow

R = TypeVar("R", DealRow, TaskRow, ClientRow)


@dataclass(slots=True)
class Latest(Generic[R]):
    """A key's row as folded from every version in `versions` (None until one makes a row)."""

    row: R | None = None
    versions: set[int] = field(default_factory=set)


class LatestRows(Generic[R]):
    def __init__(self, capacity: int) -> None:
        self.capacity = max(capacity, 1)
        self._entries: OrderedDict[str, Latest[R]] = OrderedDict()

    def get(self, key: str) -> Latest[R] | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Latest[R]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class KnownKeys:
    """A Bloom filter over every key ever stored: fixed memory (4 MiB by default), no false
    "no". A false "maybe" (0.3 % at 2 million keys) only costs a history read."""

    HASHES = 4  # positions per key, unrolled in `update`

    def __init__(self, bits: int = 1 << 25) -> None:
        if bits & (bits - 1):
            raise ValueError("bits must be a power of two")
        self.bits = bits
        self._array = bytearray(bits // 8)

    def add(self, key: str) -> None:
        self.update((key,))

    def update(self, keys: Iterable[str]) -> None:
        """`add` for many keys (a store's worth is learnt when a writer starts, millions at
        10 M events). The `HASHES` positions of a key are `a + i*b` of its hash's halves,
        computed inline: this runs for every key of every event."""
        array, mask = self._array, self.bits - 1
        for key in keys:
            h = hash(key)  # salted per process; the filter lives no longer than the process
            a, b = h & 0xFFFFFFFF, (h >> 32) | 1
            p = a & mask
            array[p >> 3] |= 1 << (p & 7)
            p = (a + b) & mask
            array[p >> 3] |= 1 << (p & 7)
            p = (a + 2 * b) & mask
            array[p >> 3] |= 1 << (p & 7)
            p = (a + 3 * b) & mask
            array[p >> 3] |= 1 << (p & 7)

    def __contains__(self, key: str) -> bool:
        array, mask = self._array, self.bits - 1
        h = hash(key)
        a, b = h & 0xFFFFFFFF, (h >> 32) | 1
        for i in range(self.HASHES):  # a new key is usually told apart at the first
            p = (a + i * b) & mask
            if not array[p >> 3] & (1 << (p & 7)):
                return False
        return True

    def clear(self) -> None:
        self._array = bytearray(self.bits // 8)
