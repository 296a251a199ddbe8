"""Rate limits as token buckets, per client IP and per form. Pure: the clock is passed in.

`RateLimiter.step` is the rule on one bucket's state; `RateLimiter.take` keeps the states in
memory (one replica's own buckets). `adapters.rate_limits` keeps them in NATS KV instead, so
that every replica spends from the same buckets."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

# A bucket: (tokens left, when they were counted). Clocks of one kind only: monotonic for a
# replica's own buckets, the wall clock for buckets shared between processes.
Bucket = tuple[float, float]


@dataclass
class RateLimiter:
    per_minute: float
    burst: int
    max_keys: int = 100_000  # oldest buckets are forgotten, so memory stays bounded
    _buckets: OrderedDict[str, Bucket] = field(default_factory=OrderedDict)

    def step(self, bucket: Bucket | None, now: float) -> tuple[Bucket, float | None]:
        """One take on `bucket` (None: a full one): the bucket after it, and None if allowed,
        else the seconds until a token is back (a refusal spends nothing)."""
        after, _, wait = self.step_many(bucket, now, 1)
        return after, wait

    def step_many(
        self, bucket: Bucket | None, now: float, wanted: int
    ) -> tuple[Bucket, int, float | None]:
        """`wanted` takes at once, in order: the bucket after them, how many of them were
        allowed (the first ones), and, if not all, the seconds until a token is back.

        Time never runs backwards in a bucket: a `now` before its stamp counts as the stamp,
        so a process whose clock lags refills nothing rather than lending tokens."""
        rate = self.per_minute / 60.0
        tokens, last = bucket if bucket is not None else (float(self.burst), now)
        now = max(now, last)
        tokens = min(float(self.burst), tokens + (now - last) * rate)
        allowed = min(wanted, int(tokens))  # tokens ≥ 0: int() is the floor
        tokens -= allowed
        if allowed == wanted:
            return (tokens, now), allowed, None
        return (tokens, now), allowed, (1.0 - tokens) / rate if rate > 0 else math.inf

    def take(self, key: str, now: float) -> float | None:
        """Spend one token: None if allowed, else the seconds until a token is back."""
        bucket, wait = self.step(self._buckets.pop(key, None), now)
        self._buckets[key] = bucket
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait


def retry_after_header(seconds: float) -> str:
    """Retry-After takes whole seconds; round up so a retry at that time succeeds."""
    return str(max(1, math.ceil(min(seconds, 86400))))
