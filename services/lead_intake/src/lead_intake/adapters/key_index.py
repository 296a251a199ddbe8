"""A bounded in-memory copy of the submission keys in NATS KV, so checking a key costs no round
trip. Pure: times are passed in (seconds since the epoch)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class KeyIndex:
    """Key digest → (lead id, when it was stored). A miss is an answer ("never seen") only while
    the copy is `complete` (caught up with the bucket) and nothing younger than the TTL was
    evicted to stay within `max_keys`; otherwise the caller asks the bucket."""

    ttl: float
    max_keys: int
    complete: bool = False
    _entries: dict[bytes, tuple[str, float]] = field(default_factory=dict)
    _evicted_until: float | None = None  # the newest stamp evicted to keep within max_keys

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, digest: bytes, lead_id: str, stamp: float) -> None:
        # Re-added keys move to the end, so the dict stays (nearly) oldest first.
        self._entries.pop(digest, None)
        self._entries[digest] = (lead_id, stamp)
        while len(self._entries) > self.max_keys:
            oldest = next(iter(self._entries))
            stamp = self._entries.pop(oldest)[1]
            self._evicted_until = max(self._evicted_until or stamp, stamp)

    def discard(self, digest: bytes) -> None:
        self._entries.pop(digest, None)

    def get(self, digest: bytes, now: float) -> str | None:
        """The lead id of a key stored within the TTL, if this copy has it."""
        entry = self._entries.get(digest)
        return entry[0] if entry is not None and entry[1] > now - self.ttl else None

    def misses_are_final(self, now: float) -> bool:
        """Whether a key missing here is missing from the bucket too."""
        evicted = self._evicted_until
        return self.complete and (evicted is None or evicted <= now - self.ttl)

    def expire(self, now: float) -> None:
        """Drops keys past the TTL from the front (the bucket forgets them too)."""
        cutoff = now - self.ttl
        while self._entries:
            oldest = next(iter(self._entries))
            if self._entries[oldest][1] > cutoff:
                return
            del self._entries[oldest]
